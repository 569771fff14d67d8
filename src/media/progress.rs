//! How far the running media step is: ffmpeg's position (`-progress pipe:1`'s `out_time_us`)
//! against the probe's duration, written on the job's row (`progress_permille`, `eta_ms`) at
//! most once per `every`, and the last lines of a failed run (`output_tail`).
//!
//! The job runner runs each media step inside [`scoped`], which names the job and its worker;
//! the steps themselves take no extra argument, and every step that encodes through
//! `Media::encode` reports its progress. Outside a scope (a step called directly) nothing is
//! written.
//!
//! Invariant: reporting never delays or fails a step — a write that fails is dropped (the next
//! one carries the newer position), and the writer stops the moment the process ends.

use crate::db::Db;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The job a step runs for.
struct JobContext {
    db: Db,
    id: String,
    worker: String,
    /// The length of the media being processed, in milliseconds (0: unknown).
    duration_ms: AtomicI64,
}

tokio::task_local! {
    static JOB: JobContext;
}

/// Runs `step` as the work of job `id` held by `worker`.
pub async fn scoped<F: Future>(db: Db, id: &str, worker: &str, step: F) -> F::Output {
    JOB.scope(
        JobContext {
            db,
            id: id.to_owned(),
            worker: worker.to_owned(),
            duration_ms: AtomicI64::new(0),
        },
        step,
    )
    .await
}

/// Sets the length the step's progress is measured against (the probe's duration).
pub(super) fn set_duration(ms: Option<i64>) {
    let _ = JOB.try_with(|j| {
        j.duration_ms
            .store(ms.unwrap_or(0).max(0), Ordering::Relaxed)
    });
}

/// The current job, if the step runs inside [`scoped`].
pub(super) struct Current {
    db: Db,
    id: String,
    worker: String,
    duration_ms: i64,
}

pub(super) fn current() -> Option<Current> {
    JOB.try_with(|j| Current {
        db: j.db.clone(),
        id: j.id.clone(),
        worker: j.worker.clone(),
        duration_ms: j.duration_ms.load(Ordering::Relaxed),
    })
    .ok()
}

/// Share done (thousandths, below 1000 while running) and time left (ms) at position `at` of
/// `total`, `elapsed` after the start; `None` without a known length.
pub fn estimate(at: i64, total: i64, elapsed: i64) -> Option<(i64, Option<i64>)> {
    if total <= 0 {
        return None;
    }
    let at = at.clamp(0, total);
    let permille = (at.saturating_mul(1000) / total).min(999);
    let eta = (at > 0).then(|| ((total - at) as i128 * elapsed.max(0) as i128 / at as i128) as i64);
    Some((permille, eta))
}

impl Current {
    /// Runs `run` while writing the positions it sends on `rx` at most once per `every`.
    pub(super) async fn report<T>(
        &self,
        mut rx: watch::Receiver<Option<i64>>,
        run: impl Future<Output = T>,
        every: Duration,
    ) -> T {
        let started = Instant::now();
        let writer = async {
            loop {
                if rx.changed().await.is_err() {
                    break;
                }
                let at = *rx.borrow_and_update();
                let elapsed = started.elapsed().as_millis() as i64;
                if let Some((permille, eta)) =
                    at.and_then(|at| estimate(at, self.duration_ms, elapsed))
                {
                    let _ = self
                        .db
                        .set_job_progress(&self.id, &self.worker, permille, eta)
                        .await;
                }
                tokio::time::sleep(every).await;
            }
        };
        tokio::pin!(run);
        tokio::select! {
            biased;
            out = &mut run => out,
            () = writer => run.await,
        }
    }

    /// Keeps the last lines of a failed run on the job.
    pub(super) async fn output(&self, tail: &str) {
        let _ = self.db.set_job_output(&self.id, &self.worker, tail).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_share_and_time_left() {
        // A quarter done in 10 s: 30 s to go.
        assert_eq!(estimate(25_000, 100_000, 10_000), Some((250, Some(30_000))));
        assert_eq!(estimate(0, 100_000, 10_000), Some((0, None)));
        // Never 1000 while running, even past the probed length.
        assert_eq!(estimate(120_000, 100_000, 10_000), Some((999, Some(0))));
        assert_eq!(estimate(5, 0, 10), None);
    }
}
