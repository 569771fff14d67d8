//! Configuration: built-in defaults, then an optional `lectern.toml`, then `LECTERN_*` environment
//! variables. This is the only module that reads the environment.
//!
//! Every setting has a default that works on one machine: with nothing set, Lectern keeps SQLite
//! and an embedded S3 endpoint under `./data`, its search index under `./search-index`, and
//! listens on 127.0.0.1:8080.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub bind: String,
    /// How long a connection may take to send a request's head, and stay idle between
    /// requests, in seconds.
    pub http_header_timeout_secs: u64,
    /// How long a request body may send nothing before the request fails, in seconds.
    pub http_body_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub http_max_connections: usize,
    /// Connections served at once from one address (not applied behind a trusted proxy). Generous,
    /// because a whole township can reach the service through one carrier-grade NAT address.
    pub http_max_connections_per_address: usize,
    /// Requests handled at once; more are answered with 503 at once.
    pub http_max_in_flight: usize,
    /// How long requests in flight may take to finish after SIGTERM, in seconds.
    pub shutdown_grace_secs: u64,
    /// Folder for the SQLite database and the embedded object store.
    pub data_dir: PathBuf,
    /// Folder of the search index (derived from SQL; may be deleted at any time).
    pub index_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/lectern.db`.
    pub database_url: String,
    /// Largest number of pooled database connections.
    pub database_max_connections: u32,
    /// S3 endpoint URL; empty means the embedded endpoint.
    pub s3_endpoint: String,
    pub s3_region: String,
    pub s3_bucket: String,
    pub s3_access_key: String,
    pub s3_secret_key: String,
    /// Address the embedded S3 endpoint listens on when `s3_endpoint` is empty.
    pub s3_embedded_bind: String,
    /// How long one call to object storage may take (and a download may wait for bytes), in
    /// seconds, before the store counts as unavailable for it.
    pub s3_timeout_secs: u64,
    /// Largest asset accepted, in bytes.
    pub max_upload_bytes: u64,
    /// How long an unfinished resumable upload is kept after its last activity, in seconds.
    pub upload_expiry_secs: u64,
    /// How long a resumable upload stays locked by a request that stopped answering, in seconds.
    pub upload_lease_secs: u64,
    /// How long presigned URLs stay valid, in seconds.
    pub presign_secs: u64,
    /// The address users reach the service at, such as `https://lectern.example.org`. When it is
    /// https, session cookies are marked `Secure`.
    pub public_url: String,
    /// Whether to believe `X-Forwarded-For` and `X-Forwarded-Proto` (only behind a proxy that
    /// sets them).
    pub trust_forwarded_headers: bool,
    /// How long a web session lasts, in seconds.
    pub session_ttl_secs: u64,
    /// Failed logins within `login_window_secs` after which an account is refused until the
    /// window passes.
    pub login_max_failures_per_account: u32,
    /// Failed logins from one address within `login_window_secs` after which it is refused.
    pub login_max_failures_per_address: u32,
    pub login_window_secs: u64,
    /// How often due scheduled publications and withdrawals are carried out, in milliseconds.
    pub scheduler_interval_ms: u64,
    /// Change-log entries the search index applies per commit.
    pub index_batch: u64,
    /// How long a webhook delivery is retried (with exponential backoff) before it is dead.
    pub webhook_retry_secs: u64,
    /// The first retry's delay; each further one doubles it, up to an hour.
    pub webhook_backoff_ms: u64,
    /// How long one delivery attempt may take.
    pub webhook_timeout_ms: u64,
    /// Jobs this instance runs at once (bulk work such as text extraction takes at most all
    /// but one of them).
    pub job_workers: u64,
    /// How long a job stays claimed by a worker that stopped renewing it (it died) before
    /// another worker takes it over.
    pub job_lease_secs: u64,
    /// The longest an idle runner waits before looking for jobs other instances queued.
    pub job_poll_ms: u64,
    /// The media programs: a bare name is looked up in `PATH`.
    pub ffmpeg_path: PathBuf,
    pub ffprobe_path: PathBuf,
    pub pdftoppm_path: PathBuf,
    /// ffmpeg processes this instance runs at once.
    pub media_concurrency: u64,
    /// The `nice` level ffmpeg runs at (0 to 19).
    pub media_nice: i32,
    /// How often video and audio without a probe are looked for.
    pub media_reconcile_ms: u64,
    /// The longest one probe or one rendition may take.
    pub media_timeout_secs: u64,
    /// How long ffmpeg may report no progress before it is stopped.
    pub media_stall_secs: u64,
    /// The speech engine's folder; empty: `<data dir>/models` (`lectern models install`).
    pub transcribe_model_dir: PathBuf,
    /// The Python interpreter that runs the speech engine; empty: the models folder's venv.
    pub transcribe_python: PathBuf,
    /// A recognition run may take this many seconds plus `transcribe_timeout_percent` % of
    /// the audio's duration; past that it is stopped and the job retried.
    pub transcribe_timeout_secs: u64,
    pub transcribe_timeout_percent: u64,
    /// Threads one recognition run decodes with (0: as many as there are cores).
    pub transcribe_threads: u64,
    /// The shortest time between two writes of a running media job's progress.
    pub media_progress_ms: u64,
    /// When set, `GET /metrics` needs `Authorization: Bearer <this>`; empty: open to anyone who
    /// can reach the node.
    pub metrics_token: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            http_header_timeout_secs: 10,
            http_body_timeout_secs: 60,
            http_max_connections: 8192,
            http_max_connections_per_address: 1024,
            http_max_in_flight: 2048,
            shutdown_grace_secs: 30,
            data_dir: "data".into(),
            index_dir: "search-index".into(),
            database_url: String::new(),
            database_max_connections: 16,
            s3_endpoint: String::new(),
            s3_region: "us-east-1".into(),
            s3_bucket: "lectern".into(),
            s3_access_key: String::new(),
            s3_secret_key: String::new(),
            s3_embedded_bind: "127.0.0.1:8081".into(),
            s3_timeout_secs: 30,
            max_upload_bytes: 20 * 1024 * 1024 * 1024,
            upload_expiry_secs: 24 * 3600,
            upload_lease_secs: 30,
            presign_secs: 3600,
            public_url: String::new(),
            trust_forwarded_headers: false,
            session_ttl_secs: 12 * 3600,
            login_max_failures_per_account: 5,
            login_max_failures_per_address: 20,
            login_window_secs: 15 * 60,
            scheduler_interval_ms: 1000,
            index_batch: 1000,
            webhook_retry_secs: 25 * 3600,
            webhook_backoff_ms: 5000,
            webhook_timeout_ms: 10_000,
            job_workers: 4,
            job_lease_secs: 30,
            job_poll_ms: 1000,
            ffmpeg_path: "ffmpeg".into(),
            ffprobe_path: "ffprobe".into(),
            pdftoppm_path: "pdftoppm".into(),
            media_concurrency: 1,
            media_nice: 10,
            media_reconcile_ms: 10_000,
            media_timeout_secs: 6 * 3600,
            media_stall_secs: 120,
            transcribe_model_dir: PathBuf::new(),
            transcribe_python: PathBuf::new(),
            transcribe_timeout_secs: 300,
            transcribe_timeout_percent: 200,
            transcribe_threads: 0,
            media_progress_ms: 2000,
            metrics_token: String::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("http_header_timeout_secs", &self.http_header_timeout_secs)
            .field("http_body_timeout_secs", &self.http_body_timeout_secs)
            .field("http_max_connections", &self.http_max_connections)
            .field(
                "http_max_connections_per_address",
                &self.http_max_connections_per_address,
            )
            .field("http_max_in_flight", &self.http_max_in_flight)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("data_dir", &self.data_dir)
            .field("index_dir", &self.index_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_access_key", &self.s3_access_key)
            .field("s3_secret_key", &redact(&self.s3_secret_key))
            .field("metrics_token", &redact(&self.metrics_token))
            .field("s3_embedded_bind", &self.s3_embedded_bind)
            .field("s3_timeout_secs", &self.s3_timeout_secs)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("upload_expiry_secs", &self.upload_expiry_secs)
            .field("upload_lease_secs", &self.upload_lease_secs)
            .field("presign_secs", &self.presign_secs)
            .field("public_url", &self.public_url)
            .field("trust_forwarded_headers", &self.trust_forwarded_headers)
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field(
                "login_max_failures_per_account",
                &self.login_max_failures_per_account,
            )
            .field(
                "login_max_failures_per_address",
                &self.login_max_failures_per_address,
            )
            .field("login_window_secs", &self.login_window_secs)
            .field("index_batch", &self.index_batch)
            .field("webhook_retry_secs", &self.webhook_retry_secs)
            .field("webhook_backoff_ms", &self.webhook_backoff_ms)
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .field("scheduler_interval_ms", &self.scheduler_interval_ms)
            .field("job_workers", &self.job_workers)
            .field("job_lease_secs", &self.job_lease_secs)
            .field("job_poll_ms", &self.job_poll_ms)
            .field("ffmpeg_path", &self.ffmpeg_path)
            .field("ffprobe_path", &self.ffprobe_path)
            .field("pdftoppm_path", &self.pdftoppm_path)
            .field("media_concurrency", &self.media_concurrency)
            .field("media_nice", &self.media_nice)
            .field("media_reconcile_ms", &self.media_reconcile_ms)
            .field("media_timeout_secs", &self.media_timeout_secs)
            .field("media_stall_secs", &self.media_stall_secs)
            .field("transcribe_model_dir", &self.transcribe_model_dir)
            .field("transcribe_python", &self.transcribe_python)
            .field("transcribe_timeout_secs", &self.transcribe_timeout_secs)
            .field(
                "transcribe_timeout_percent",
                &self.transcribe_timeout_percent,
            )
            .field("transcribe_threads", &self.transcribe_threads)
            .field("media_progress_ms", &self.media_progress_ms)
            .finish()
    }
}

/// Hides the password of a `scheme://user:password@host/…` URL.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:<redacted>{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Reads the configuration: defaults, then `lectern.toml` in the working directory (or the
    /// file named by `LECTERN_CONFIG`), then `LECTERN_*` variables.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let file = std::env::var("LECTERN_CONFIG").unwrap_or_else(|_| "lectern.toml".into());
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("LECTERN_").ignore(&["config"]))
            .extract()
            .map_err(Box::new)
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("lectern.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    /// Whether Lectern runs its own S3 endpoint.
    pub fn embedded_s3(&self) -> bool {
        self.s3_endpoint.is_empty()
    }
}

/// What the job runner takes from the settings (the runner itself never reads them).
impl Config {
    pub fn job_settings(&self) -> crate::jobs::Settings {
        crate::jobs::Settings {
            workers: (self.job_workers as usize).clamp(1, 256),
            lease: std::time::Duration::from_secs(self.job_lease_secs.clamp(1, 3600)),
            poll: std::time::Duration::from_millis(self.job_poll_ms.clamp(10, 1000)),
            media_slots: (self.media_concurrency as usize).clamp(1, 64),
        }
    }

    /// What the media engine takes from the settings.
    pub fn media_settings(&self) -> crate::media::Settings {
        let timeout = std::time::Duration::from_secs(self.media_timeout_secs.clamp(10, 48 * 3600));
        crate::media::Settings {
            tools: crate::media::ToolPaths {
                ffmpeg: self.ffmpeg_path.clone(),
                ffprobe: self.ffprobe_path.clone(),
                pdftoppm: self.pdftoppm_path.clone(),
            },
            concurrency: (self.media_concurrency as usize).clamp(1, 64),
            nice: self.media_nice.clamp(0, 19),
            probe_timeout: timeout.min(std::time::Duration::from_secs(3600)),
            encode_timeout: timeout,
            stall: std::time::Duration::from_secs(self.media_stall_secs.clamp(5, 3600)),
            work_dir: self.data_dir.join("media-work"),
            reconcile_every: std::time::Duration::from_millis(
                self.media_reconcile_ms.clamp(50, 3_600_000),
            ),
            progress_every: std::time::Duration::from_millis(
                self.media_progress_ms.clamp(50, 60_000),
            ),
            transcribe: crate::media::TranscribeSettings {
                model_dir: self.models_dir(),
                python: (!self.transcribe_python.as_os_str().is_empty())
                    .then(|| self.transcribe_python.clone()),
                timeout_base: std::time::Duration::from_secs(
                    self.transcribe_timeout_secs.clamp(1, 48 * 3600),
                ),
                timeout_percent: self.transcribe_timeout_percent.min(10_000) as u32,
                threads: match self.transcribe_threads {
                    0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                    n => (n as usize).min(256),
                },
                beam_size: 2,
            },
        }
    }

    /// The speech engine's folder in effect.
    pub fn models_dir(&self) -> PathBuf {
        if self.transcribe_model_dir.as_os_str().is_empty() {
            self.data_dir.join("models")
        } else {
            self.transcribe_model_dir.clone()
        }
    }

    /// The job handlers' collaborators and settings.
    pub fn job_work(
        &self,
        db: crate::db::Db,
        store: crate::storage::ObjectStore,
        ingest: crate::ingest::Ingest,
        media: std::sync::Arc<crate::media::Media>,
    ) -> crate::jobs::Work {
        let timeout = std::time::Duration::from_millis(self.webhook_timeout_ms.max(100));
        let webhook_client = match crate::publish::webhooks::client(timeout) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the webhook client; deliveries will fail");
                None
            }
        };
        crate::jobs::Work {
            db,
            store,
            ingest,
            webhook_client,
            webhook: crate::publish::webhooks::Settings {
                retry_for_ms: (self.webhook_retry_secs as i64).saturating_mul(1000),
                backoff_ms: self.webhook_backoff_ms.max(1) as i64,
                timeout,
            },
            schedules_every: std::time::Duration::from_millis(self.scheduler_interval_ms.max(10)),
            maintenance_every: std::time::Duration::from_secs(
                (self.upload_expiry_secs / 2).clamp(1, 60),
            ),
            sessions_window_ms: (self.login_window_secs as i64).saturating_mul(1000),
            keep_done: std::time::Duration::from_secs(7 * 24 * 3600),
            probes: std::sync::Mutex::default(),
            media,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = Config {
            database_url: "postgres://app:hunter2@db/lectern".into(),
            s3_secret_key: "s3cr3t".into(),
            ..Config::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("postgres://app:<redacted>@db/lectern"),
            "{shown}"
        );
    }

    #[test]
    fn the_default_database_is_sqlite_in_the_data_dir() {
        assert_eq!(
            Config::default().database_url(),
            "sqlite://data/lectern.db?mode=rwc"
        );
    }
}
