//! The one durable job runner: every piece of background work — webhook delivery, text
//! extraction, scheduled publication, housekeeping — is a row of `jobs` (see `db::jobs`) that a
//! [`Runner`] claims with a lease, runs with its kind's handler ([`work`]) and settles.
//!
//! Layer: above `db`, `storage`, `search` and `publish` (whose work it runs), below `http` and
//! the command line (which list and retry jobs). `db` knows jobs only as rows and the kinds and
//! states of `domain::job`.
//!
//! Invariants:
//! - **Durable.** A job is a committed row before anyone waits for it; a worker that dies
//!   (`kill -9`) loses nothing: its lease runs out and another worker takes the job over. A
//!   claim counts as an attempt, so even a job that kills its worker every time ends `dead`.
//! - **Each job run by one worker at a time**, on SQLite (a conditional `UPDATE` in a write
//!   transaction) and on PostgreSQL with several instances (`FOR UPDATE SKIP LOCKED`). A worker
//!   renews the leases of its running jobs every third of the lease, and settles a job only if
//!   it still holds it.
//! - **Handlers are idempotent**: running a job again (after a lost lease) has no effect that is
//!   visible twice — webhooks carry a stable message id, an extraction is recorded once per
//!   content, a scheduled step is claimed by clearing its time, housekeeping deletes what is
//!   expired.
//! - **Failure is visible**: a failed attempt is retried after an exponential backoff with up to
//!   a fifth of jitter; after its kind's attempt budget the job is `dead`, listed with its last
//!   error (`GET /api/v1/jobs`, `/admin/jobs`, `lectern jobs list`, all through
//!   `services::jobs`) and retried only by hand.
//! - **Lanes and fairness**: claims take the most urgent lane first and, within a lane, each
//!   organisation's oldest job before anyone's second; the low lane (text extraction) never
//!   holds every worker, so slow files cannot hold up webhooks or publications.
//! - **No busy polling**: a runner wakes when this process queues a job (`Db::jobs_queued`,
//!   signalled after commit), when one of its jobs ends, at the next due time it knows of, and
//!   otherwise looks for other instances' jobs at most once per `job_poll_ms` (1 s).
//! - Periodic work (scheduled steps, housekeeping) is one row per task with a fixed id, put back
//!   to wait for its next time after each run, so however many instances run, each period runs
//!   once.

pub mod work;

use crate::db::Db;
use crate::db::jobs::{JobRecord, NewJob};
use crate::domain::job::{JobKind, Lane};
use futures::FutureExt;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

pub use work::Work;

/// How a job's attempt ended, as its handler says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Failed; try again after the kind's backoff, or at the given time (`Some`), unless the
    /// attempt budget is spent.
    Retry {
        error: String,
        at: Option<i64>,
    },
    /// Failed, and trying again cannot help: dead at once.
    Dead(String),
    /// A periodic job: run again at this time (with the error of this run, if it failed).
    Again {
        at: i64,
        error: Option<String>,
    },
}

/// How a runner runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Jobs run at once.
    pub workers: usize,
    pub lease: Duration,
    /// The longest wait before looking for jobs other instances queued.
    pub poll: Duration,
    /// Media steps (`JobKind::uses_media_slot`) this runner holds at once: the media engine's
    /// `concurrency`, so a worker is never held by a step that could only wait for a slot.
    pub media_slots: usize,
}

/// The ids of the periodic jobs.
pub const SCHEDULES_JOB_ID: &str = "periodic-schedules";
pub const MAINTENANCE_JOB_ID: &str = "periodic-maintenance";
pub const REPORTS_JOB_ID: &str = "periodic-reports";

/// One runner: claims and runs jobs with up to `workers` at once, until its task is aborted
/// (aborting it aborts the jobs it is running; their leases run out and others take them).
pub struct Runner {
    db: Db,
    work: Arc<Work>,
    settings: Settings,
    /// This runner's name in `jobs.worker`: unique per process and runner.
    name: String,
}

impl Runner {
    pub fn new(db: Db, work: Arc<Work>, settings: Settings) -> Self {
        Self {
            db,
            work,
            settings,
            name: format!(
                "{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues the periodic jobs if they are not queued yet (by this or another instance).
    pub async fn seed_periodic(db: &Db) -> Result<(), sqlx::Error> {
        let job = |id: &str, kind| NewJob {
            id: Some(id.to_owned()),
            ..NewJob::now(kind, "", "", String::new())
        };
        db.enqueue_jobs(&[
            job(SCHEDULES_JOB_ID, JobKind::Schedules),
            job(MAINTENANCE_JOB_ID, JobKind::Maintenance),
            job(REPORTS_JOB_ID, JobKind::Reports),
            job(crate::media::RECONCILE_JOB_ID, JobKind::MediaReconcile),
        ])
        .await?;
        Ok(())
    }

    /// Runs until `stop` is cancelled (or the task is aborted); then claims nothing more and
    /// lets the jobs running finish for up to `grace`, still renewing their leases. A job still
    /// running after that is dropped mid-step: its lease runs out and another node (or this one,
    /// restarted) runs it again — every handler is written to be run again.
    pub async fn run(self, stop: tokio_util::sync::CancellationToken, grace: Duration) {
        let lease_ms = self.settings.lease.as_millis() as i64;
        let workers = self.settings.workers;
        // The low lane may take all workers but one (all of them when there is only one).
        let low_max = workers.saturating_sub(1).max(1);
        let running: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut low_running: usize = 0;
        let mut media_running: usize = 0;
        let mut tasks: JoinSet<(Lane, bool)> = JoinSet::new();
        let mut renew = tokio::time::interval(self.settings.lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let queued = self.db.jobs_queued().clone();
        loop {
            if stop.is_cancelled() {
                break;
            }
            // Claim while there are free workers and due jobs.
            let mut wait = self.settings.poll;
            let free = workers - tasks.len();
            if free > 0 {
                match self.next_due().await {
                    Ok(Some(due)) => {
                        let now = crate::db::now_ms();
                        if due <= now {
                            let max_lane = if low_running >= low_max {
                                Lane::Normal
                            } else {
                                Lane::Low
                            };
                            let media_free =
                                self.settings.media_slots.saturating_sub(media_running);
                            match self
                                .db
                                .claim_jobs_capped(
                                    &self.name,
                                    free as i64,
                                    max_lane,
                                    lease_ms,
                                    media_free,
                                )
                                .await
                            {
                                Ok(jobs) => {
                                    let claimed = jobs.len();
                                    for job in jobs {
                                        let lane = lane_of(&job);
                                        if lane == Lane::Low {
                                            low_running += 1;
                                        }
                                        let media = job.kind.uses_media_slot();
                                        if media {
                                            media_running += 1;
                                        }
                                        lock(&running).insert(job.id.clone());
                                        let db = self.db.clone();
                                        let work = self.work.clone();
                                        let name = self.name.clone();
                                        let running = running.clone();
                                        tasks.spawn(async move {
                                            // A panicking handler must not leave its id here:
                                            // its lease would be renewed forever. Its lease
                                            // runs out instead, and the job is tried again
                                            // (and ends dead after its budget).
                                            let ran = std::panic::AssertUnwindSafe(run_one(
                                                &db,
                                                &work,
                                                &name,
                                                job.clone(),
                                            ))
                                            .catch_unwind()
                                            .await;
                                            if ran.is_err() {
                                                tracing::error!(job = %job.id, "a job's handler panicked");
                                            }
                                            lock(&running).remove(&job.id);
                                            (lane, media)
                                        });
                                    }
                                    // A full claim: there may be more, look again at once.
                                    if claimed == free {
                                        continue;
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "cannot claim jobs");
                                }
                            }
                        } else {
                            wait = wait.min(Duration::from_millis((due - now) as u64));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot look for due jobs"),
                }
            }
            tokio::select! {
                () = queued.notified() => {}
                Some(ended) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok((lane, media)) = ended {
                        if lane == Lane::Low {
                            low_running -= 1;
                        }
                        if media {
                            media_running -= 1;
                        }
                    }
                }
                _ = renew.tick() => {
                    let ids: Vec<String> = lock(&running).iter().cloned().collect();
                    if let Err(e) = self.db.renew_leases(&self.name, &ids, lease_ms).await {
                        tracing::warn!(error = %e, "cannot renew the leases of running jobs");
                    }
                }
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => {}
            }
        }
        let deadline = tokio::time::Instant::now() + grace;
        if !tasks.is_empty() {
            tracing::info!(running = tasks.len(), "letting the running jobs finish");
        }
        while !tasks.is_empty() {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = renew.tick() => {
                    let ids: Vec<String> = lock(&running).iter().cloned().collect();
                    if let Err(e) = self.db.renew_leases(&self.name, &ids, lease_ms).await {
                        tracing::warn!(error = %e, "cannot renew the leases of running jobs");
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(
                        running = tasks.len(),
                        "jobs still running at the end of the grace period are left to their leases"
                    );
                    break;
                }
            }
        }
    }

    async fn next_due(&self) -> Result<Option<i64>, sqlx::Error> {
        self.db.next_job_due().await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn lane_of(job: &JobRecord) -> Lane {
    match job.lane {
        0 => Lane::High,
        1 => Lane::Normal,
        _ => Lane::Low,
    }
}

/// Runs one claimed job and settles it.
async fn run_one(db: &Db, work: &Work, worker: &str, job: JobRecord) {
    let outcome = if job.attempts > job.max_attempts {
        // Claimed again after its last attempt's worker died: the budget is spent.
        Outcome::Dead(format!(
            "its worker stopped during each of its {} attempts",
            job.max_attempts
        ))
    } else {
        work.run(&job).await
    };
    let now = crate::db::now_ms();
    let settled = match &outcome {
        Outcome::Done => db.finish_job(&job.id, worker).await,
        Outcome::Again { at, error } => {
            db.reschedule_job(&job.id, worker, *at, error.as_deref())
                .await
        }
        Outcome::Dead(error) => db.fail_job(&job.id, worker, error, None).await,
        Outcome::Retry { error, at } => {
            let at = retry_at(&job, *at, now);
            db.fail_job(&job.id, worker, error, at).await
        }
    };
    match settled {
        Ok(true) => {
            if !matches!(outcome, Outcome::Done | Outcome::Again { error: None, .. }) {
                tracing::info!(job = %job.id, kind = job.kind.as_str(), attempts = job.attempts, outcome = ?outcome, "a job failed");
            }
        }
        Ok(false) => tracing::warn!(job = %job.id, "a job's lease was taken over before it ended"),
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "cannot record how a job ended; it will run again")
        }
    }
}

/// When a failed job runs again: the handler's time or the kind's backoff with up to a fifth
/// more at random (so what failed together does not come back together); `None` (dead) once
/// its attempts are spent.
pub fn retry_at(job: &JobRecord, wanted: Option<i64>, now: i64) -> Option<i64> {
    if job.attempts >= job.max_attempts {
        return None;
    }
    if let Some(at) = wanted {
        return Some(at);
    }
    let delay = job.kind.retry_policy().backoff(job.attempts)?;
    let jitter = rand::random_range(0..=delay / 5 + 1);
    Some(now + delay + jitter)
}
