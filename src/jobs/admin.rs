//! Seeing and retrying jobs: the one home of these steps, whichever adapter (API, page, command
//! line) asks. Access is decided by `visibility::job_scope` (administrators only; each sees the
//! jobs of the organisations they administer, the instance's own only from the root up).

use crate::db::Db;
use crate::db::audit::{Actor, Event};
use crate::db::jobs::{JobFilter, JobRecord};
use crate::domain::job::{JobKind, JobState};
use crate::domain::visibility::{self, Caller, JobScope};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("only administrators may see and retry jobs")]
    Forbidden,
    #[error("no such job")]
    NotFound,
    #[error("the job is {0}; only dead or done jobs are retried")]
    NotRetryable(&'static str),
    #[error("only dead or done jobs are retried")]
    BadState,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The filter `caller` may use, narrowed to their scope.
fn scoped(caller: &Caller, mut filter: JobFilter) -> Result<JobFilter, AdminError> {
    filter.subtrees = match visibility::job_scope(caller).ok_or(AdminError::Forbidden)? {
        JobScope::All => None,
        JobScope::Subtrees(paths) => Some(paths),
    };
    Ok(filter)
}

/// Jobs of `state` and `kind` that `caller` may see, most recently changed first, after the
/// `(updated_at, id)` of the last one of the previous page.
pub async fn list(
    db: &Db,
    caller: &Caller,
    state: Option<JobState>,
    kind: Option<JobKind>,
    before: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<JobRecord>, AdminError> {
    let filter = scoped(
        caller,
        JobFilter {
            state,
            kind,
            ..JobFilter::default()
        },
    )?;
    Ok(db.list_jobs(&filter, before, limit).await?)
}

/// Puts job `id` back in the queue to run now (audited as `job.retry`).
pub async fn retry_one(
    db: &Db,
    caller: &Caller,
    actor: &Actor,
    id: &str,
) -> Result<(), AdminError> {
    let filter = scoped(
        caller,
        JobFilter {
            id: Some(id.to_owned()),
            ..JobFilter::default()
        },
    )?;
    let Some(job) = db.list_jobs(&filter, None, 1).await?.pop() else {
        return Err(AdminError::NotFound);
    };
    if !job.state.retryable() {
        return Err(AdminError::NotRetryable(job.state.as_str()));
    }
    let event = Event {
        action: "job.retry",
        target_kind: "job",
        target_id: Some(id),
        org_id: (!job.org_id.is_empty()).then_some(job.org_id.as_str()),
        before: Some(serde_json::json!({"state": job.state, "attempts": job.attempts})),
        after: Some(serde_json::json!({"state": "pending"})),
    };
    match db.retry_jobs(&filter, actor, event).await? {
        0 => Err(AdminError::NotRetryable("no longer dead or done")),
        _ => Ok(()),
    }
}

/// Puts every job of `state` (dead unless said otherwise; dead or done only) and `kind` that
/// `caller` may see back in the queue (audited as `jobs.retry`, once, with the count).
pub async fn retry_many(
    db: &Db,
    caller: &Caller,
    actor: &Actor,
    state: Option<JobState>,
    kind: Option<JobKind>,
) -> Result<u64, AdminError> {
    let state = state.unwrap_or(JobState::Dead);
    if !state.retryable() {
        return Err(AdminError::BadState);
    }
    let filter = scoped(
        caller,
        JobFilter {
            state: Some(state),
            kind,
            ..JobFilter::default()
        },
    )?;
    let event = Event {
        action: "jobs.retry",
        target_kind: "job",
        target_id: None,
        org_id: None,
        before: None,
        after: Some(serde_json::json!({
            "state": state,
            "kind": kind,
        })),
    };
    Ok(db.retry_jobs(&filter, actor, event).await?)
}
