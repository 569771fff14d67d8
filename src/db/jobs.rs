//! The durable job queue: slow work (webhook deliveries now; media work later) as rows that a
//! worker claims with a lease, runs, and marks done or schedules again with a backoff.
//!
//! Invariants: a job is claimed by one worker at a time (a conditional `UPDATE` sets the lease;
//! a job whose lease ran out — its worker died — is claimed again); jobs are idempotent, so
//! running one twice is harmless; a job that keeps failing ends `dead`, visible and retryable by
//! hand, never silently dropped.

use super::{Db, new_id, now_ms};
use serde::Serialize;

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, kind, subject, payload, state, attempts, run_at, lease_until, \
                       last_error, created_at, updated_at";

impl Db {
    /// Enqueues a job inside `tx`, to run now.
    pub async fn enqueue_in(
        tx: &mut super::Tx,
        kind: &str,
        subject: &str,
        payload: &str,
    ) -> Result<String, sqlx::Error> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO jobs (id, kind, subject, payload, state, attempts, run_at, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
        )
        .bind(&id)
        .bind(kind)
        .bind(subject)
        .bind(payload)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }

    /// Claims up to `n` due jobs of `kind` for `lease_ms`, oldest first.
    pub async fn claim_jobs(
        &self,
        kind: &str,
        n: i64,
        lease_ms: i64,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        let now = now_ms();
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE state = 'pending' AND kind = $1 AND run_at <= $2 \
             AND (lease_until IS NULL OR lease_until <= $2) ORDER BY run_at, id LIMIT $3",
        )
        .bind(kind)
        .bind(now)
        .bind(n)
        .fetch_all(self.pool())
        .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            // Only one worker's UPDATE matches: the lease is checked again as it is taken.
            let row: Option<JobRecord> = sqlx::query_as(&format!(
                "UPDATE jobs SET lease_until = $2, updated_at = $3 WHERE id = $1 \
                 AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $3) \
                 RETURNING {COLUMNS}"
            ))
            .bind(&id)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
            claimed.extend(row);
        }
        Ok(claimed)
    }

    /// Marks a claimed job done.
    pub async fn finish_job(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE jobs SET state = 'done', attempts = attempts + 1, lease_until = NULL, \
             last_error = NULL, updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a failed attempt: the job runs again at `retry_at`, or is dead when `None`.
    pub async fn fail_job(
        &self,
        id: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let error: String = error.chars().take(1000).collect();
        sqlx::query(
            "UPDATE jobs SET state = $2, attempts = attempts + 1, run_at = COALESCE($3, run_at), \
             lease_until = NULL, last_error = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(if retry_at.is_some() {
            "pending"
        } else {
            "dead"
        })
        .bind(retry_at)
        .bind(error)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Puts a dead (or done) job back in the queue to run now, with its attempts reset.
    pub async fn retry_job(
        &self,
        kind: &str,
        subject: &str,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $4, lease_until = NULL, \
             created_at = $4, updated_at = $4 WHERE id = $1 AND kind = $2 AND subject = $3 \
             AND state <> 'pending'",
        )
        .bind(id)
        .bind(kind)
        .bind(subject)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The jobs of `kind` about `subject` in `state`, newest first.
    pub async fn jobs_of(
        &self,
        kind: &str,
        subject: &str,
        state: &str,
        limit: i64,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE kind = $1 AND subject = $2 AND state = $3 \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(kind)
        .bind(subject)
        .bind(state)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    pub async fn dead_jobs_count(&self, kind: &str, subject: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND subject = $2 AND state = 'dead'",
        )
        .bind(kind)
        .bind(subject)
        .fetch_one(self.pool())
        .await
    }
}
