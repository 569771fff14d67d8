//! The handlers: what each kind of job does. Each is idempotent (see the module above).

use super::Outcome;
use crate::db::Db;
use crate::db::jobs::JobRecord;
use crate::db::texts::NewSegment;
use crate::domain::job::JobKind;
use crate::ingest::Ingest;
use crate::publish::webhooks;
use crate::search::extract::Format;
use crate::search::isolate::{Extractor, Failure};
use crate::search::source::{self, Missing};
use crate::storage::ObjectStore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// What the handlers need.
pub struct Work {
    pub db: Db,
    pub store: ObjectStore,
    pub ingest: Ingest,
    /// `None` when the webhook client could not be built: deliveries are retried.
    pub webhook_client: Option<reqwest::Client>,
    pub webhook: webhooks::Settings,
    /// How often scheduled publications and withdrawals are looked for.
    pub schedules_every: Duration,
    /// How often housekeeping runs.
    pub maintenance_every: Duration,
    /// How long failed logins are kept (the throttling window).
    pub sessions_window_ms: i64,
    /// How long done jobs are kept.
    pub keep_done: Duration,
    /// How many times this process ran each probe job (for the test suite and benchmarks).
    pub probes: Mutex<HashMap<String, u32>>,
    /// Media processing (probes, renditions).
    pub media: std::sync::Arc<crate::media::Media>,
}

/// What a probe job's payload may ask.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    /// Sleep this long first.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Then fail (every time).
    #[serde(default)]
    pub fail: bool,
}

impl Work {
    /// How many times this process ran probe job `id`.
    pub fn probe_runs(&self) -> HashMap<String, u32> {
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub async fn run(&self, job: &JobRecord) -> Outcome {
        match job.kind {
            JobKind::Webhook => self.webhook(job).await,
            JobKind::ExtractText => self.extract_text(job).await,
            JobKind::Schedules => self.schedules().await,
            JobKind::Maintenance => self.maintenance().await,
            JobKind::Probe => self.probe(job).await,
            JobKind::MediaReconcile => {
                let error = match self.media.reconcile().await {
                    Ok(_) => None,
                    Err(e) => Some(format!("cannot look for media to probe: {e}")),
                };
                again(self.media.reconcile_every(), error)
            }
            JobKind::MediaProbe => self.media_step(job, self.media.probe(&job.payload)).await,
            JobKind::MediaAudio => self.media_step(job, self.media.audio(&job.payload)).await,
            JobKind::MediaPoster => self.media_step(job, self.media.poster(&job.payload)).await,
            JobKind::MediaDocument => {
                self.media_step(job, self.media.document(&job.payload))
                    .await
            }
            JobKind::MediaSprite => self.media_step(job, self.media.sprite(&job.payload)).await,
            JobKind::MediaTranscript => {
                self.media_step(job, self.media.transcript(&job.payload))
                    .await
            }
            JobKind::MediaHls | JobKind::MediaHlsUpper => {
                self.media_step(job, self.media.hls(&job.payload)).await
            }
            JobKind::MediaMp4 => self.media_step(job, self.media.mp4(&job.payload)).await,
            JobKind::Reports => {
                let error = crate::services::reports::refresh(&self.db, crate::db::now_ms())
                    .await
                    .err()
                    .map(|e| format!("cannot compute the reports' summary: {e}"));
                again(REPORTS_EVERY, error)
            }
        }
    }

    /// Runs a media step as job `job`'s work, so its progress and a failed tool's last lines
    /// are written on the job's row (`media::progress`).
    async fn media_step(
        &self,
        job: &JobRecord,
        step: impl std::future::Future<Output = crate::media::Step>,
    ) -> Outcome {
        let worker = job.worker.as_deref().unwrap_or_default();
        media_outcome(crate::media::progress::scoped(self.db.clone(), &job.id, worker, step).await)
    }

    async fn webhook(&self, job: &JobRecord) -> Outcome {
        let Some(client) = &self.webhook_client else {
            return retry("no webhook client", None);
        };
        match webhooks::deliver(&self.db, client, &job.payload).await {
            Ok(()) => Outcome::Done,
            Err(webhooks::Failure::Permanent(why)) => Outcome::Dead(why),
            Err(webhooks::Failure::Retry(why)) => {
                let now = crate::db::now_ms();
                match self.webhook.retry_at(job.attempts - 1, job.created_at, now) {
                    Some(at) => retry(why, Some(at)),
                    None => Outcome::Dead(why),
                }
            }
        }
    }

    /// Extracts the text of one content, streamed from storage into the extractor (a child
    /// process; see `search::isolate`) within its size and time budget, and records it — which
    /// appends a change for the lessons holding it, so the index picks the text up.
    async fn extract_text(&self, job: &JobRecord) -> Outcome {
        let Ok(m) = serde_json::from_str::<Missing>(&job.payload) else {
            return Outcome::Dead("unreadable job".into());
        };
        let Some(format) = Format::from_name(&m.format) else {
            return Outcome::Dead(format!("unknown format {:?}", m.format));
        };
        match self.db.extracted(&[m.sha256.as_str()]).await {
            Ok(done) if !done.is_empty() => return Outcome::Done,
            Ok(_) => {}
            Err(e) => return retry(format!("database: {e}"), None),
        }
        let outcome = if m.size as u64 > format.max_input_bytes() {
            Err(format!(
                "larger than {} MiB, the most text is extracted from",
                format.max_input_bytes() >> 20
            ))
        } else {
            let body = match self.store.get(&m.object_key, None).await {
                Ok(b) => b,
                Err(e) => return retry(format!("cannot read the content: {e}"), None),
            };
            match Extractor::for_this_process().extract(format, body).await {
                Ok(extracted) => Ok((
                    extracted
                        .segments
                        .into_iter()
                        .map(|s| NewSegment {
                            page: s.page.map(i64::from),
                            start_ms: s.start_ms,
                            end_ms: s.end_ms,
                            text: s.text,
                        })
                        .collect::<Vec<_>>(),
                    extracted.left_out,
                )),
                Err(Failure::File(why)) => Err(why),
                Err(Failure::Unavailable(why)) => return retry(why, None),
            }
        };
        let recorded = match &outcome {
            Ok((rows, left_out)) => {
                if let Some(why) = left_out {
                    tracing::info!(sha256 = %m.sha256, left_out = %why, "part of the text was left out");
                }
                self.db
                    .record_extraction(&m.sha256, format.as_str(), Ok((rows, left_out.as_deref())))
                    .await
            }
            Err(why) => {
                tracing::info!(sha256 = %m.sha256, error = %why, "no text could be extracted");
                self.db
                    .record_extraction(&m.sha256, format.as_str(), Err(why))
                    .await
            }
        };
        match recorded {
            Ok(_) => Outcome::Done,
            Err(e) => retry(format!("database: {e}"), None),
        }
    }

    async fn schedules(&self) -> Outcome {
        let error = match self.db.run_due_schedules().await {
            Ok(0) => None,
            Ok(n) => {
                tracing::info!(count = n, "scheduled publications and withdrawals done");
                None
            }
            Err(e) => Some(format!("cannot run scheduled steps: {e}")),
        };
        again(self.schedules_every, error)
    }

    /// Housekeeping: expired tus uploads, expired sessions, old done jobs, and contents whose
    /// text was never extracted (those of a version before the job runner) queued.
    async fn maintenance(&self) -> Outcome {
        let mut errors = Vec::new();
        match self.ingest.expire_uploads().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "expired uploads discarded"),
            Err(e) => errors.push(format!("expired uploads: {e}")),
        }
        if let Err(e) = self.db.sweep_sessions(self.sessions_window_ms).await {
            errors.push(format!("sessions: {e}"));
        }
        let before = crate::db::now_ms() - self.keep_done.as_millis() as i64;
        if let Err(e) = self.db.prune_done_jobs(before).await {
            errors.push(format!("done jobs: {e}"));
        }
        if let Err(e) = self.queue_missing_extractions().await {
            errors.push(format!("extractions: {e}"));
        }
        again(
            self.maintenance_every,
            (!errors.is_empty()).then(|| errors.join("; ")),
        )
    }

    async fn queue_missing_extractions(&self) -> Result<(), crate::search::index::SearchError> {
        let mut after = Some(String::new());
        while let Some(from) = after {
            let (lessons, next) = source::lessons_missing_text(&self.db, &from, 1000).await?;
            let ids: Vec<&str> = lessons.iter().map(String::as_str).collect();
            let loaded = source::load(&self.db, &ids).await?;
            crate::search::index::queue_extractions(&self.db, &loaded.missing).await?;
            after = next;
        }
        Ok(())
    }

    async fn probe(&self, job: &JobRecord) -> Outcome {
        let probe: Probe = serde_json::from_str(&job.payload).unwrap_or_default();
        *self
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(job.id.clone())
            .or_default() += 1;
        if probe.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(probe.sleep_ms)).await;
        }
        if probe.fail {
            retry("the probe was asked to fail", None)
        } else {
            Outcome::Done
        }
    }
}

fn retry(error: impl Into<String>, at: Option<i64>) -> Outcome {
    Outcome::Retry {
        error: error.into(),
        at,
    }
}

/// A media step's end as the runner's outcome: waiting (no tools, no free ffmpeg slot) puts the
/// job back with its attempts reset, so it waits instead of failing.
fn media_outcome(step: crate::media::Step) -> Outcome {
    match step {
        crate::media::Step::Done => Outcome::Done,
        crate::media::Step::Wait { at, why } => Outcome::Again { at, error: why },
        crate::media::Step::Retry(why) => retry(why, None),
        crate::media::Step::Dead(why) => Outcome::Dead(why),
    }
}

/// How often the reports' summary is computed again: reports are at most this old.
const REPORTS_EVERY: Duration = Duration::from_secs(600);

fn again(every: Duration, error: Option<String>) -> Outcome {
    Outcome::Again {
        at: crate::db::now_ms() + every.as_millis() as i64,
        error,
    }
}
