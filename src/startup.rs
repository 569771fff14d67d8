//! Building and running the application: database, object storage, router, background tasks.

use crate::config::Config;
use crate::db::Db;
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::storage::embedded::EmbeddedS3;
use crate::storage::{ObjectStore, S3Settings};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A built application: listening, with its background tasks running. Dropping it stops them.
pub struct Application {
    addr: SocketAddr,
    state: AppState,
    server: JoinHandle<std::io::Result<()>>,
    /// Runs the background work: webhook deliveries, text extraction, scheduled steps,
    /// housekeeping (see `crate::jobs`).
    runner: JoinHandle<()>,
    work: Arc<crate::jobs::Work>,
    /// Keeps the search index up with the change log.
    indexer: JoinHandle<()>,
    /// Follows the change-log head for long polls, and records platforms' pulls.
    follower: JoinHandle<()>,
    /// Follows the change log for webhooks and queues their deliveries.
    webhooks: JoinHandle<()>,
    /// Cancelled on SIGTERM/SIGINT (or by [`Application::stop`]): the server stops accepting,
    /// the runner claims nothing more, the indexer commits what it has and ends.
    stop: CancellationToken,
    /// Cancelled once the server has answered its last request: the indexer's last round.
    served: CancellationToken,
    grace: Duration,
    _embedded: Option<EmbeddedS3>,
}

/// Connects to the configured database and applies migrations.
pub async fn connect_db(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url(), config.database_max_connections)
        .await
        .context("connecting to the database")?;
    db.migrate().await.context("migrating the database")?;
    Ok(db)
}

/// Connects to the configured object store, starting the embedded endpoint if none is configured.
pub async fn connect_store(config: &Config) -> anyhow::Result<(ObjectStore, Option<EmbeddedS3>)> {
    let mut settings = S3Settings {
        endpoint: config.s3_endpoint.clone(),
        region: config.s3_region.clone(),
        bucket: config.s3_bucket.clone(),
        access_key: config.s3_access_key.clone(),
        secret_key: config.s3_secret_key.clone(),
        timeout: Duration::from_secs(config.s3_timeout_secs.max(1)),
    };
    let embedded = if config.embedded_s3() {
        // The embedded endpoint's credentials are generated once per data folder: they must stay
        // the same across restarts, because an unfinished multipart upload belongs to the key
        // that started it.
        if settings.access_key.is_empty() || settings.secret_key.is_empty() {
            (settings.access_key, settings.secret_key) = embedded_credentials(&config.data_dir)?;
        }
        let root = config.data_dir.join("objects");
        let server = EmbeddedS3::start(
            &root,
            &config.s3_embedded_bind,
            &settings.access_key,
            &settings.secret_key,
        )
        .await
        .with_context(|| {
            format!(
                "starting the embedded S3 endpoint on {}",
                config.s3_embedded_bind
            )
        })?;
        settings.endpoint = server.endpoint();
        Some(server)
    } else {
        None
    };
    let mut store = ObjectStore::new(&settings);
    if let Some(server) = &embedded {
        store = store.serving_folder(&server.root);
    }
    store.ensure_bucket().await.with_context(|| {
        format!(
            "opening bucket {} at {}",
            settings.bucket, settings.endpoint
        )
    })?;
    Ok((store, embedded))
}

/// Reads (or creates, readable by the owner only) the embedded endpoint's key pair.
fn embedded_credentials(data_dir: &std::path::Path) -> anyhow::Result<(String, String)> {
    let path = data_dir.join("embedded-s3.key");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some((access, secret)) = text.trim().split_once(':')
    {
        return Ok((access.to_owned(), secret.to_owned()));
    }
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    let access = format!("lectern-{}", uuid::Uuid::new_v4().simple());
    let secret = hex::encode(raw);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{access}:{secret}\n"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok((access, secret))
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, |router| router).await
    }

    /// Builds the application with its router wrapped by `wrap` (a layer the embedder adds
    /// around every route, such as the test suite's check of responses against the OpenAPI
    /// document).
    pub async fn build_with(
        config: Config,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> anyhow::Result<Self> {
        // Two TLS providers are compiled in (aws-lc-rs for S3, ring for webhooks through
        // reqwest); anything that asks rustls for the process default must find one chosen.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data folder {}", config.data_dir.display()))?;
        std::fs::create_dir_all(&config.index_dir)
            .with_context(|| format!("creating the index folder {}", config.index_dir.display()))?;
        let db = connect_db(&config).await?;
        let (store, embedded) = connect_store(&config).await?;
        let ingest = Ingest {
            db: db.clone(),
            store: store.clone(),
            max_bytes: config.max_upload_bytes,
            upload_expiry_ms: (config.upload_expiry_secs as i64).saturating_mul(1000),
            lease_ms: (config.upload_lease_secs as i64).saturating_mul(1000),
        };
        let search = Arc::new(
            crate::search::index::SearchIndex::open(
                &config.index_dir,
                config.index_batch.clamp(1, 100_000) as i64,
            )
            .with_context(|| {
                format!("opening the search index in {}", config.index_dir.display())
            })?,
        );
        let hub = Arc::new(crate::publish::Hub::new(crate::publish::feed::Feed {
            db: db.clone(),
            store: store.clone(),
            ttl: Duration::from_secs(config.presign_secs),
        }));
        let media = Arc::new(
            crate::media::Media::start(db.clone(), store.clone(), config.media_settings()).await,
        );
        let state = AppState {
            media: media.clone(),
            hub: hub.clone(),
            db,
            store,
            ingest: ingest.clone(),
            config: Arc::new(config.clone()),
            templates: Arc::new(http::web_templates()),
            search: search.clone(),
        };
        let listener = TcpListener::bind(&config.bind)
            .await
            .with_context(|| format!("listening on {}", config.bind))?;
        let addr = listener.local_addr()?;
        let app = wrap(http::router(state.clone()));
        let limits = http::server::Limits {
            header_timeout: Duration::from_secs(config.http_header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(config.http_body_timeout_secs.max(1)),
            max_connections: descriptor_budget(config.http_max_connections),
            max_connections_per_address: (!config.trust_forwarded_headers)
                .then_some(config.http_max_connections_per_address),
            max_in_flight: config.http_max_in_flight,
        };
        let grace = Duration::from_secs(config.shutdown_grace_secs);
        let stop = CancellationToken::new();
        let signalled = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown_signal() => signalled.cancel(),
                () = signalled.cancelled() => {}
            }
        });
        let server = tokio::spawn(http::server::serve(
            listener,
            app,
            limits,
            stop.clone().cancelled_owned(),
            grace,
        ));
        let work = Arc::new(config.job_work(state.db.clone(), state.store.clone(), ingest, media));
        crate::jobs::Runner::seed_periodic(&state.db)
            .await
            .context("queueing the periodic jobs")?;
        let runner = tokio::spawn(
            crate::jobs::Runner::new(state.db.clone(), work.clone(), config.job_settings())
                .run(stop.clone(), grace),
        );
        let indexer_db = state.db.clone();
        // The indexer goes on until the server has finished its last request (cancelled by
        // `run_until_stopped`), so what those requests committed is in the final commit.
        let served = CancellationToken::new();
        let indexer_stop = served.clone();
        let indexer = tokio::spawn(async move {
            // The index follows the change log: what is committed in SQL is searchable within
            // a few hundred milliseconds.
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = indexer_stop.cancelled() => break,
                }
                if let Err(e) = search.catch_up(&indexer_db).await {
                    tracing::warn!(error = %e, "the search index could not follow the change log");
                }
            }
            // Stopping: what the requests just served committed is applied and committed, so
            // the next start begins where this one ended (a few batches at most).
            for _ in 0..10 {
                match search.catch_up(&indexer_db).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the search index could not follow the change log");
                        break;
                    }
                }
            }
        });
        let follower = tokio::spawn(hub.clone().run(state.db.clone()));
        let webhooks = tokio::spawn(crate::publish::webhooks::follow(
            hub.feed.clone(),
            hub.watch_head(),
        ));
        tracing::info!(%addr, database = state.db.backend().name(), "lectern listening");
        Ok(Self {
            addr,
            state,
            server,
            runner,
            work,
            indexer,
            follower,
            webhooks,
            stop,
            served,
            grace,
            _embedded: embedded,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The job handlers of this instance's runner (their probe counts, for the tests).
    pub fn work(&self) -> &Arc<crate::jobs::Work> {
        &self.work
    }

    /// Serves until SIGINT or SIGTERM (or [`Application::stop`]), then stops accepting and lets
    /// the requests in flight and the running jobs finish within the grace period
    /// (`LECTERN_SHUTDOWN_GRACE_SECS`), and commits the search index.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let result = (&mut self.server).await;
        self.stop.cancel();
        self.served.cancel();
        // The runner and the indexer were told at the same moment as the server; each bounds
        // itself by the grace period, and this bounds them again in case one is stuck.
        let limit = self.grace + Duration::from_secs(5);
        let drained = async {
            let _ = (&mut self.runner).await;
            let _ = (&mut self.indexer).await;
        };
        if tokio::time::timeout(limit, drained).await.is_err() {
            tracing::warn!("background work did not stop within the grace period");
        }
        tracing::info!("stopped");
        result??;
        Ok(())
    }

    /// Begins stopping, as SIGTERM does.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Application {
    fn drop(&mut self) {
        self.stop.cancel();
        self.served.cancel();
        self.server.abort();
        self.runner.abort();
        self.indexer.abort();
        self.follower.abort();
        self.webhooks.abort();
    }
}

/// Descriptors kept for everything but client connections: the database, the index's files, the
/// object store's connections, child processes.
const RESERVED_DESCRIPTORS: u64 = 512;

/// At most `wanted` connections, and no more than the process's file descriptors allow. The soft
/// limit is first raised as far as the hard limit lets it; each client connection can cost three
/// descriptors (its socket, and both ends of a connection to the embedded store while it streams).
/// Rationale: connections past the descriptor limit fail with EMFILE everywhere at once — the
/// index, SQLite and the store too — where waiting in the listen backlog fails nothing.
fn descriptor_budget(wanted: usize) -> usize {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = (limit.saturating_sub(RESERVED_DESCRIPTORS) / 3).max(64);
    let budget = wanted.min(usize::try_from(room).unwrap_or(usize::MAX));
    if budget < wanted {
        tracing::warn!(
            wanted,
            budget,
            descriptors = limit,
            "serving fewer connections at once than configured: the file descriptor limit is low"
        );
    }
    budget
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
