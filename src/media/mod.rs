//! Media processing: probing every video and audio master with ffprobe (streams, duration,
//! loudness, silence) and making its first renditions with ffmpeg — a 64 kbit/s mono AAC file
//! for weak connections and village audio players, and a poster in two sizes.
//!
//! Layer: an engine beside `jobs`, `ingest` and `search` (it uses `db`, `storage` and
//! `domain`); the job runner calls it (`jobs::work`), and it knows nothing of the runner: each
//! step answers a [`Step`] the runner turns into its outcome.
//!
//! How work arrives: a periodic reconciler ([`Media::reconcile`], job `media_reconcile`) queues
//! a probe for every video or audio master whose content has no probe and no probe job (job id
//! `media-probe-<sha256>`), and recording a probe queues the renditions it calls for in the same
//! transaction (`media-audio-<sha256>`, `media-poster-<sha256>`). *Rationale:* the reconciler
//! needs no hook in the upload paths (plain, tus, imports alike), survives crashes (what a crash
//! lost is found again on the next pass) and is idempotent (fixed job ids); the cost is up to
//! one period of delay after an upload.
//!
//! Machine transcripts (`transcript`, `models`): a probe also queues `media-transcript-<sha256>`
//! (low lane) for a playable master whose lesson has no editor's subtitle; Whisper runs in a
//! sidecar process (`transcribe.py`) installed by `lectern models install`.
//!
//! How the master is read: ffprobe and ffmpeg get a presigned URL of the object (valid for the
//! step's budget) and read it over HTTP themselves, seeking with ranges. *Rationale:* no copy of
//! a multi-gigabyte master in the data folder per step, no bytes through the service, and the
//! same path for the embedded store and an external one.
//!
//! Invariants:
//! - **Idempotent.** Probes and renditions are keyed by the content's SHA-256 (the same bytes in
//!   two lessons are processed once); a rendition's object key is derived from the content, the
//!   rendition kind and the recipe's version (`media/<sha256>/<kind>-v1.<ext>`), and a step whose
//!   rendition is recorded does nothing. Objects are immutable: a changed recipe is a new version,
//!   hence a new key.
//! - **A file ffmpeg cannot read is a result, not a failure**: the probe records it as unplayable
//!   with ffprobe's reason, and the job succeeds. Retries are for storage, the database, and
//!   programs that could not run or ran out of time.
//! - **Jobs wait, never fail, without the tools** ([`Step::Wait`]); and at most `concurrency`
//!   ffmpeg processes run at once per instance, at `nice` priority, each bounded in time and
//!   killed when its progress output stops for `stall` ([`run`]).

mod audio;
mod document;
mod hls;
pub mod models;
mod poster;
pub mod probe;
pub mod progress;
pub mod run;
pub mod sprite;
pub mod tools;
pub mod transcript;

use crate::db::Db;
use crate::db::jobs::NewJob;
use crate::db::media::{MadeRendition, NewRendition, ProbeRecord};
use crate::domain::job::JobKind;
use crate::storage::ObjectStore;
use probe::{FfProbe, Loudness};
use run::{Budget, RunError, Stdout};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
pub use tools::{ToolPaths, Tools};

/// The prefixes of the media jobs' fixed ids (followed by the content's SHA-256).
pub const PROBE_JOB: &str = "media-probe-";
pub const AUDIO_JOB: &str = "media-audio-";
pub const POSTER_JOB: &str = "media-poster-";
pub const TRANSCRIPT_JOB: &str = "media-transcript-";
pub const DOCUMENT_JOB: &str = "media-document-";
pub const SPRITE_JOB: &str = "media-sprite-";
/// The id of the periodic reconciler.
pub const RECONCILE_JOB_ID: &str = "periodic-media";

use crate::domain::media::RenditionKind;
const AUDIO_64K: RenditionKind = RenditionKind::Audio64k;
const POSTER_SMALL: RenditionKind = RenditionKind::PosterSmall;
const POSTER_LARGE: RenditionKind = RenditionKind::PosterLarge;

/// The poster widths (never upscaled).
pub const POSTER_SMALL_WIDTH: i64 = 320;
pub const POSTER_LARGE_WIDTH: i64 = 1280;

/// The version of the recipes, part of every rendition's key.
const RECIPE: &str = "v1";

/// The largest rendition file kept (one request to storage): 64 kbit/s for 24 hours is 690 MB.
const MAX_RENDITION_BYTES: u64 = 1 << 30;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tools: ToolPaths,
    /// ffmpeg processes at once in this instance.
    pub concurrency: usize,
    /// The `nice` level of ffmpeg (0 to 19).
    pub nice: i32,
    /// Budget of a probe (ffprobe, then the loudness pass).
    pub probe_timeout: Duration,
    /// Budget of one encoding step.
    pub encode_timeout: Duration,
    /// How long ffmpeg may print no progress before it is stopped.
    pub stall: Duration,
    /// Where encoders write their output before it is stored (inside the data folder).
    pub work_dir: PathBuf,
    /// How often the reconciler runs.
    pub reconcile_every: Duration,
    /// The shortest time between two writes of a running step's progress.
    pub progress_every: Duration,
    /// Machine transcripts (the speech engine and its limits).
    pub transcribe: TranscribeSettings,
}

/// Where the speech engine is and how it runs (see `transcript`).
#[derive(Debug, Clone)]
pub struct TranscribeSettings {
    /// The models folder (`lectern models install` fills it).
    pub model_dir: PathBuf,
    /// The interpreter to run the sidecar with; `None`: the models folder's `venv`.
    pub python: Option<PathBuf>,
    /// A run's time limit is this, plus `timeout_percent` % of the audio's duration.
    pub timeout_base: Duration,
    pub timeout_percent: u32,
    /// Threads the engine decodes with.
    pub threads: usize,
    /// Beams of the decoder's search (1 is greedy).
    pub beam_size: u32,
}

/// How a step ended, for the job runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Done,
    /// Not run: try again at `at` (Unix ms), attempts not counted — the tools are missing, or
    /// every ffmpeg slot is taken.
    Wait {
        at: i64,
        why: Option<String>,
    },
    /// Failed for a reason that may pass (storage, database, a process that could not run).
    Retry(String),
    /// Failed for good (an unreadable job).
    Dead(String),
}

/// The engine: its tools as found at start-up, the store and the database.
pub struct Media {
    db: Db,
    store: ObjectStore,
    tools: Tools,
    settings: Settings,
    slots: Arc<Semaphore>,
    /// The speech engine as found at start-up.
    transcriber: models::Engine,
}

/// A media job's payload.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    pub sha256: String,
}

/// What a rendition step works with (see [`Media::prepare`]); the ffmpeg slot is held while
/// it lives.
struct Prepared {
    sha256: String,
    probe: ProbeRecord,
    url: String,
    scratch: Scratch,
    /// How long the step's encoding may take.
    budget: Duration,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// A folder of its own for one step, removed when the step ends (whatever way).
struct Scratch(PathBuf);

impl Scratch {
    async fn new(root: &Path) -> std::io::Result<Self> {
        let dir = root.join(uuid::Uuid::new_v4().simple().to_string());
        tokio::fs::create_dir_all(&dir).await?;
        Ok(Self(dir))
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Whether `s` is a SHA-256 in hex (what every media payload names).
fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Media {
    /// Finds the tools (once) and builds the engine.
    pub async fn start(db: Db, store: ObjectStore, settings: Settings) -> Self {
        let (tools, transcriber) = tokio::join!(
            Tools::detect(&settings.tools),
            models::Engine::detect(
                &settings.transcribe.model_dir,
                settings.transcribe.python.as_deref()
            )
        );
        // What a previous process left behind when it was killed mid-step.
        let _ = tokio::fs::remove_dir_all(&settings.work_dir).await;
        Self {
            db,
            store,
            tools,
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
            transcriber,
        }
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// The speech engine as found at start-up (`unavailable` says why transcripts are off).
    pub fn transcriber(&self) -> &models::Engine {
        &self.transcriber
    }

    pub fn reconcile_every(&self) -> Duration {
        self.settings.reconcile_every
    }

    /// The probe job of a content.
    fn job(kind: JobKind, prefix: &str, sha256: &str, org_id: &str) -> NewJob {
        let payload = serde_json::to_string(&Payload {
            sha256: sha256.to_owned(),
        })
        .unwrap_or_default();
        NewJob {
            id: Some(format!("{prefix}{sha256}")),
            ..NewJob::now(kind, sha256, org_id, payload)
        }
    }

    /// Queues a probe for every video or audio master (and uploaded poster image) with neither
    /// a probe nor a probe job, and a reading for every PDF with neither; how many were queued.
    /// Pending steps of contents no current asset holds are cancelled first (deleting a lesson
    /// or an asset, or a new master, cancels them in its own transaction; this finds what raced
    /// with a claim).
    pub async fn reconcile(&self) -> Result<usize, sqlx::Error> {
        self.db.cancel_orphan_media_jobs().await?;
        let mut queued = 0;
        loop {
            let mut jobs: Vec<NewJob> = self
                .db
                .unprobed_media(PROBE_JOB, 500)
                .await?
                .iter()
                .map(|m| Self::job(JobKind::MediaProbe, PROBE_JOB, &m.sha256, &m.org_id))
                .collect();
            jobs.extend(
                self.db
                    .unpreviewed_documents(DOCUMENT_JOB, 500)
                    .await?
                    .iter()
                    .map(|m| Self::job(JobKind::MediaDocument, DOCUMENT_JOB, &m.sha256, &m.org_id)),
            );
            if jobs.is_empty() {
                return Ok(queued);
            }
            let n = self.db.enqueue_jobs(&jobs).await?;
            queued += n;
            if n == 0 {
                // Someone else queued them meanwhile; the next pass sees the rest.
                return Ok(queued);
            }
        }
    }

    /// Waits for the tools, and takes an ffmpeg slot (`Err` with the step to answer if not).
    fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Step> {
        let now = crate::db::now_ms();
        if let Some(why) = self.tools.unavailable() {
            return Err(Step::Wait {
                at: now + 60_000,
                why: Some(format!("waiting: media processing is unavailable: {why}")),
            });
        }
        self.slot()
    }

    /// A media slot, or a wait when every slot is taken.
    fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Step> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Step::Wait {
                // Every slot is taken: look again soon, spread out.
                at: crate::db::now_ms() + 2_000 + rand::random_range(0..3_000),
                why: None,
            })
    }

    fn payload(job_payload: &str) -> Result<String, Step> {
        match serde_json::from_str::<Payload>(job_payload) {
            Ok(p) if is_sha256(&p.sha256) => Ok(p.sha256),
            _ => Err(Step::Dead("unreadable job".into())),
        }
    }

    /// A presigned URL of content `sha256` for ffmpeg, valid for `budget` and a margin.
    async fn source_url(&self, sha256: &str, budget: Duration) -> Result<Option<String>, Step> {
        let key = match self.db.blob_key(sha256).await {
            Ok(Some(k)) => k,
            Ok(None) => return Ok(None),
            Err(e) => return Err(Step::Retry(format!("database: {e}"))),
        };
        self.store
            .presign_get(
                &key,
                budget + Duration::from_secs(600),
                "application/octet-stream",
                "attachment",
            )
            .await
            .map(Some)
            .map_err(|e| Step::Retry(format!("cannot sign the content's URL: {e}")))
    }

    /// How long one read from storage may wait (ffmpeg's `-rw_timeout`, microseconds): a stalled
    /// connection ends the run with an I/O error (a retry) instead of holding it.
    fn rw_timeout_us(&self) -> String {
        let t = self.settings.stall.min(Duration::from_secs(30));
        t.as_micros().to_string()
    }

    fn nice(&self) -> Option<(&Path, i32)> {
        self.tools
            .nice
            .as_deref()
            .map(|n| (n, self.settings.nice.clamp(0, 19)))
    }

    /// Arguments every ffmpeg run over a stored content starts with: quiet, no terminal, and
    /// only network protocols for the input (a hostile file cannot make ffmpeg open a local
    /// path through a playlist or a concat list).
    fn ffmpeg_input(&self, url: &str, seek_ms: Option<i64>) -> Vec<OsString> {
        let mut a = os(&[
            "-nostdin",
            "-hide_banner",
            "-nostats",
            "-progress",
            "pipe:1",
            "-protocol_whitelist",
            "http,https,tcp,tls,crypto",
            "-rw_timeout",
            &self.rw_timeout_us(),
        ]);
        if let Some(ms) = seek_ms.filter(|ms| *ms > 0) {
            a.push("-ss".into());
            a.push(format!("{}.{:03}", ms / 1000, ms % 1000).into());
        }
        a.push("-i".into());
        a.push(url.into());
        a
    }

    /// Probes content `sha256` and records what was found, queueing the renditions it calls for.
    pub async fn probe(&self, job_payload: &str) -> Step {
        let sha256 = match Self::payload(job_payload) {
            Ok(s) => s,
            Err(step) => return step,
        };
        let _slot = match self.admit() {
            Ok(s) => s,
            Err(step) => return step,
        };
        let budget = self.settings.probe_timeout;
        let url = match self.source_url(&sha256, budget).await {
            Ok(Some(u)) => u,
            Ok(None) => return Step::Done, // deleted meanwhile: nothing to probe
            Err(step) => return step,
        };
        let mut args = os(&[
            "-v",
            "error",
            "-of",
            "json",
            "-show_format",
            "-show_streams",
            "-protocol_whitelist",
            "http,https,tcp,tls,crypto",
            "-rw_timeout",
            &self.rw_timeout_us(),
        ]);
        args.push(url.clone().into());
        let ran = match run::run(
            Path::new(&self.settings.tools.ffprobe),
            &args,
            None,
            Stdout::Collect(4 << 20),
            // ffprobe reads the headers only: bounded by the stall time, not the step's budget.
            Budget {
                total: self.settings.stall,
                stall: self.settings.stall,
            },
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return Step::Retry(e.to_string()),
        };
        let mut record = ProbeRecord::blank(
            &sha256,
            format!(
                "ffprobe {}",
                self.tools.ffprobe.version.as_deref().unwrap_or("?")
            ),
            crate::db::now_ms(),
        );
        if !ran.status.success() && storage_failed(&ran.stderr) {
            return Step::Retry(reason_of(&ran, &url, "ffprobe could not read from storage"));
        }
        let parsed = if ran.status.success() {
            FfProbe::parse(&ran.stdout).map_err(|e| format!("ffprobe's answer is unreadable: {e}"))
        } else {
            Err(reason_of(&ran, &url, "ffprobe cannot read the file"))
        };
        match parsed {
            Err(reason) => record.reason = Some(reason),
            Ok(doc) => {
                let facts = doc.facts();
                record.container = facts.container;
                record.duration_ms = facts.duration_ms;
                record.bit_rate = facts.bit_rate;
                if let Some(v) = &facts.video {
                    record.has_video = true;
                    record.video_codec = v.codec.clone();
                    record.width = v.width;
                    record.height = v.height;
                    record.fps = v.fps;
                    record.rotation = Some(v.rotation);
                    record.video_bit_rate = v.bit_rate;
                }
                if let Some(a) = &facts.audio {
                    record.has_audio = true;
                    record.audio_codec = a.codec.clone();
                    record.audio_channels = a.channels;
                    record.audio_sample_rate = a.sample_rate;
                    record.audio_bit_rate = a.bit_rate;
                }
                record.playable = record.has_video || record.has_audio;
                if !record.playable {
                    record.reason = Some("the file has no audio or video stream".into());
                }
            }
        }
        if record.playable && record.has_audio {
            match self.loudness(&url).await {
                Ok(Ok(l)) => {
                    record.loudness_lufs = l.integrated_lufs;
                    record.max_volume_db = l.max_volume_db;
                    record.silent = l.silent();
                }
                Ok(Err(reason)) => {
                    record.playable = false;
                    record.reason = Some(format!("the audio cannot be decoded: {reason}"));
                }
                Err(e) => return Step::Retry(e.to_string()),
            }
        }
        let mut then = Vec::new();
        let org = self.org_of(&sha256).await;
        if record.playable && record.has_audio && !record.silent {
            then.push(Self::job(JobKind::MediaAudio, AUDIO_JOB, &sha256, &org));
        }
        if record.playable && record.has_video {
            then.push(Self::job(JobKind::MediaPoster, POSTER_JOB, &sha256, &org));
        }
        // A machine transcript for a lesson with no editor's subtitle: with no sound it is
        // empty at once (a visible "no speech"), else Whisper runs when the engine is there.
        if record.playable {
            match self.db.wants_transcript(&sha256).await {
                Ok(true) => then.push(Self::job(
                    JobKind::MediaTranscript,
                    TRANSCRIPT_JOB,
                    &sha256,
                    &org,
                )),
                Ok(false) => {}
                Err(e) => return Step::Retry(format!("database: {e}")),
            }
        }
        if record.playable && record.has_video && sprite::wanted(&record) {
            then.push(Self::job(JobKind::MediaSprite, SPRITE_JOB, &sha256, &org));
        }
        then.extend(Self::stream_jobs(&record, &org));
        match self.db.record_probe(&record, &then).await {
            Ok(()) => Step::Done,
            Err(e) => Step::Retry(format!("database: {e}")),
        }
    }

    /// The organisation a content's follow-up jobs are for (fairness): that of the probe job.
    async fn org_of(&self, sha256: &str) -> String {
        match self.db.job(&format!("{PROBE_JOB}{sha256}")).await {
            Ok(Some(j)) => j.org_id,
            _ => String::new(),
        }
    }

    /// The step that makes rendition `kind` of a video or audio content (its job, under its
    /// fixed id) and the renditions it makes; `None` for a document's page images, which only a
    /// document's whole reading makes.
    fn step_of(
        kind: RenditionKind,
        sha256: &str,
        org_id: &str,
    ) -> Option<(Vec<RenditionKind>, NewJob)> {
        let job = |kind, prefix| Self::job(kind, prefix, sha256, org_id);
        Some(match kind {
            RenditionKind::Audio64k => (vec![kind], job(JobKind::MediaAudio, AUDIO_JOB)),
            RenditionKind::PosterSmall | RenditionKind::PosterLarge => (
                vec![RenditionKind::PosterSmall, RenditionKind::PosterLarge],
                job(JobKind::MediaPoster, POSTER_JOB),
            ),
            RenditionKind::Sprite => (vec![kind], job(JobKind::MediaSprite, SPRITE_JOB)),
            RenditionKind::TranscriptZh => {
                (vec![kind], job(JobKind::MediaTranscript, TRANSCRIPT_JOB))
            }
            RenditionKind::Mp4Small => (vec![kind], job(JobKind::MediaMp4, hls::MP4_JOB)),
            k => {
                let variant = crate::domain::hls::Variant::of_kind(k)?;
                (vec![k], Self::hls_job(sha256, variant, org_id))
            }
        })
    }

    /// What reprocessing a content does: with `only`, that rendition (both poster sizes
    /// together; a document's pages with their reading) is forgotten and the one step that
    /// makes it queued again; without, the probe and every rendition are forgotten and the
    /// probe (a document's reading) is queued, which queues every step again. `None` when the
    /// content is nothing media processing handles, or `only` names what it never has (a page
    /// image of a video). Objects are written again at the same keys: the recipe (and so the
    /// key's version) is unchanged, so a re-made object is the same rendition.
    pub fn reprocess_plan(
        content: &crate::db::media::MediaContent,
        only: Option<RenditionKind>,
    ) -> Option<crate::db::media::Reprocess> {
        use crate::db::media::Reprocess;
        use crate::domain::asset::AssetRole;
        let document = content.content_type == "application/pdf"
            && matches!(content.role, AssetRole::Master | AssetRole::Attachment);
        let media = match content.role {
            AssetRole::Master => {
                content.content_type.starts_with("video/")
                    || content.content_type.starts_with("audio/")
            }
            AssetRole::Poster => content.content_type.starts_with("image/"),
            _ => false,
        };
        let whole = |first: JobKind, prefix: &str| Reprocess {
            forget: None,
            clear: JobKind::ALL
                .into_iter()
                .filter(|k| k.uses_media_slot())
                .collect(),
            queue: vec![Self::job(first, prefix, &content.sha256, &content.org_id)],
        };
        match only {
            _ if !document && !media => None,
            None if document => Some(whole(JobKind::MediaDocument, DOCUMENT_JOB)),
            None => Some(whole(JobKind::MediaProbe, PROBE_JOB)),
            Some(k) if document => {
                k.page_number()?;
                Some(whole(JobKind::MediaDocument, DOCUMENT_JOB))
            }
            Some(k) => {
                let (forget, job) = Self::step_of(k, &content.sha256, &content.org_id)?;
                Some(Reprocess {
                    forget: Some(forget),
                    clear: Vec::new(),
                    queue: vec![job],
                })
            }
        }
    }

    /// The loudness pass over the first audio stream: `Ok(Err(reason))` when ffmpeg cannot
    /// decode it.
    async fn loudness(&self, url: &str) -> Result<Result<Loudness, String>, RunError> {
        let mut args = self.ffmpeg_input(url, None);
        args.extend(os(&[
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-af",
            "volumedetect,ebur128=framelog=verbose",
            "-f",
            "null",
            "-",
        ]));
        let ran = run::run(
            Path::new(&self.settings.tools.ffmpeg),
            &args,
            self.nice(),
            Stdout::Progress,
            Budget {
                total: self.settings.probe_timeout,
                stall: self.settings.stall,
            },
        )
        .await?;
        if !ran.status.success() {
            if storage_failed(&ran.stderr) {
                return Err(RunError::Io {
                    program: "ffmpeg".into(),
                    source: std::io::Error::other(reason_of(&ran, url, "storage failed")),
                });
            }
            return Ok(Err(reason_of(&ran, url, "ffmpeg failed")));
        }
        Ok(Ok(Loudness::parse(&ran.stderr)))
    }

    /// The probe of `sha256` for a rendition step: `Err` with the step's answer when there is
    /// none (the step then ends: the probe queues it again when it is recorded).
    async fn probed(&self, sha256: &str) -> Result<Option<ProbeRecord>, Step> {
        self.db
            .media_probe(sha256)
            .await
            .map_err(|e| Step::Retry(format!("database: {e}")))
    }

    fn key(sha256: &str, kind: RenditionKind) -> String {
        format!(
            "media/{sha256}/{}-{RECIPE}.{}",
            kind.as_str(),
            kind.extension()
        )
    }

    /// The start every rendition step shares: the payload read, nothing to do when `done` is
    /// already recorded or the probe says there is nothing to make (`wants`), then an ffmpeg
    /// slot, a signed URL of the master valid for the encoding budget, and a scratch folder.
    /// `Err` carries the step to answer at once.
    async fn prepare(
        &self,
        job_payload: &str,
        done: RenditionKind,
        wants: impl Fn(&ProbeRecord) -> bool,
    ) -> Result<Prepared, Step> {
        let sha256 = Self::payload(job_payload)?;
        match self.db.media_rendition(&sha256, done).await {
            Ok(Some(_)) => return Err(Step::Done),
            Ok(None) => {}
            Err(e) => return Err(Step::Retry(format!("database: {e}"))),
        }
        let probe = match self.probed(&sha256).await? {
            Some(p) if p.playable && wants(&p) => p,
            // Nothing to make from it (or no probe yet: recording it queues the step again).
            _ => return Err(Step::Done),
        };
        progress::set_duration(probe.duration_ms);
        let slot = self.admit()?;
        let budget = self.settings.encode_timeout;
        let Some(url) = self.source_url(&sha256, budget).await? else {
            return Err(Step::Done); // deleted meanwhile
        };
        let scratch = Scratch::new(&self.settings.work_dir)
            .await
            .map_err(|e| Step::Retry(format!("cannot make a work folder: {e}")))?;
        Ok(Prepared {
            sha256,
            probe,
            url,
            scratch,
            budget,
            _slot: slot,
        })
    }

    /// Runs one ffmpeg encoding. Inside a job (`progress::scoped`) its position is written on
    /// the job as it goes, and a failed run's last lines are kept on it (without the presigned
    /// URLs among `args`). A process killed by a signal (an operator, the OOM killer) is an
    /// error to retry, never a verdict on the file.
    async fn encode(&self, args: &[OsString], budget: Duration) -> Result<run::Ran, RunError> {
        let (tx, rx) = tokio::sync::watch::channel(None);
        let run = run::run_watched(
            Path::new(&self.settings.tools.ffmpeg),
            args,
            self.nice(),
            Stdout::Progress,
            Budget {
                total: budget,
                stall: self.settings.stall,
            },
            Some(tx),
        );
        let job = progress::current();
        let ran = match &job {
            Some(job) => job.report(rx, run, self.settings.progress_every).await,
            None => run.await,
        }?;
        if !ran.status.success() {
            if let Some(job) = &job {
                let mut text = ran.stderr.clone();
                for a in args.iter().filter_map(|a| a.to_str()) {
                    if a.starts_with("http://") || a.starts_with("https://") {
                        text = text.replace(a, "the file");
                        let plain = a.split('?').next().unwrap_or(a);
                        text = text.replace(plain, "the file");
                    }
                }
                job.output(&tail_lines(&text, 20)).await;
            }
            if let Some(signal) = killed_by(&ran.status) {
                return Err(RunError::Io {
                    program: "ffmpeg".into(),
                    source: std::io::Error::other(format!("killed by signal {signal}")),
                });
            }
        }
        Ok(ran)
    }

    /// Stores a finished file at `key` (its bytes hashed on the way).
    async fn store_file(
        &self,
        file: &Path,
        key: &str,
        content_type: &str,
    ) -> Result<MadeRendition, Step> {
        let len = file_len(file).await;
        if len == 0 {
            return Err(Step::Retry("ffmpeg wrote an empty file".into()));
        }
        if len > MAX_RENDITION_BYTES {
            return Err(Step::Dead(format!(
                "the rendition is larger than {} MiB",
                MAX_RENDITION_BYTES >> 20
            )));
        }
        let bytes = match tokio::fs::read(file).await {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => return Err(Step::Retry(format!("cannot read the rendition: {e}"))),
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as i64;
        if let Err(e) = self.store.put(key, bytes, content_type).await {
            return Err(Step::Retry(format!("cannot store the rendition: {e}")));
        }
        Ok(MadeRendition {
            object_key: key.to_owned(),
            content_type: content_type.to_owned(),
            size,
            sha256,
            width: None,
            height: None,
            bit_rate: None,
            duration_ms: None,
            peak_bit_rate: None,
            codecs: None,
        })
    }

    async fn record(&self, renditions: &[NewRendition]) -> Step {
        match self.db.record_renditions(renditions).await {
            Ok(()) => Step::Done,
            Err(e) => Step::Retry(format!("database: {e}")),
        }
    }
}

/// The signal that ended a process, if one did.
fn killed_by(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// The last `n` lines of `text`, one per line (for people reading a failed job).
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

async fn file_len(path: &Path) -> u64 {
    tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Whether ffmpeg failed to read from storage (the network, the store, an expired URL) rather
/// than on the file's bytes: such a run is retried, never taken as the file's fault.
fn storage_failed(stderr: &str) -> bool {
    const SIGNS: [&str; 7] = [
        "Connection refused",
        "Connection reset",
        "Connection timed out",
        "timed out",
        "Server returned",
        "Input/output error",
        "Network is unreachable",
    ];
    SIGNS.iter().any(|s| stderr.contains(s))
}

/// Why a run failed, for people: the last lines ffmpeg wrote, without the presigned URL it
/// may quote (a credential for as long as it is valid), or `otherwise` when it said nothing.
fn reason_of(ran: &run::Ran, url: &str, otherwise: &str) -> String {
    let plain = url.split('?').next().unwrap_or(url);
    let text = ran
        .stderr
        .replace(url, "the file")
        .replace(plain, "the file");
    let reason = run::last_lines(&text, 5, 600);
    if reason.is_empty() {
        otherwise.to_owned()
    } else {
        reason
    }
}
