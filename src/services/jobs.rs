//! The background jobs as administrators see them: listing them with their attempts and last
//! error, and putting dead (or done) ones back in the queue, one by one or in bulk. The API
//! (`/api/v1/jobs`), the page (`/admin/jobs`) and the command line (`lectern jobs list|retry`)
//! all go through these functions.
//!
//! Access is `visibility::job_scope`'s: administrators only, each seeing the jobs of the
//! organisations they administer (the instance's own, which belong to no organisation, from a
//! root organisation up); a refusal is audited as `denied.<action>`. A retry is written with its
//! audit entry (`job.retry`, or `jobs.retry` with the count) in one transaction.

use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::audit::Event;
use crate::db::jobs::{JobFilter, JobRecord};
use crate::domain::Invalid;
use crate::domain::job::{JobKind, JobState};
use crate::domain::visibility::{self, JobScope};

/// A job state from a client; absent or empty for any.
pub fn parse_state(s: Option<&str>) -> Result<Option<JobState>, Invalid> {
    JobState::parse_opt(s)
        .map_err(|_| Invalid::new("state", one_of(JobState::ALL.map(JobState::as_str))))
}

/// A job kind from a client; absent or empty for any.
pub fn parse_kind(s: Option<&str>) -> Result<Option<JobKind>, Invalid> {
    JobKind::parse_opt(s)
        .map_err(|_| Invalid::new("kind", one_of(JobKind::ALL.map(JobKind::as_str))))
}

/// A state and a kind from a client (each absent or empty for any), every mistake reported.
pub fn parse_filter(
    state: Option<&str>,
    kind: Option<&str>,
) -> std::result::Result<(Option<JobState>, Option<JobKind>), Vec<Invalid>> {
    match (parse_state(state), parse_kind(kind)) {
        (Ok(s), Ok(k)) => Ok((s, k)),
        (s, k) => Err([s.err(), k.err()].into_iter().flatten().collect()),
    }
}

/// "must be a, b or c", from the values a type knows.
fn one_of<const N: usize>(values: [&str; N]) -> String {
    match values.split_last() {
        Some((last, [])) => format!("must be {last}"),
        Some((last, rest)) => format!("must be {} or {last}", rest.join(", ")),
        None => "must be empty".to_owned(),
    }
}

/// Where a listing continues: after the job changed at `updated_at` with `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCursor {
    pub updated_at: i64,
    pub id: String,
}

impl JobCursor {
    /// The opaque form clients hold.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.updated_at, self.id)
    }

    /// A cursor a listing returned; absent or empty for the first page.
    pub fn decode(s: Option<&str>) -> Result<Option<Self>, Invalid> {
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        s.split_once('_')
            .and_then(|(at, id)| {
                Some(Self {
                    updated_at: at.parse::<i64>().ok()?,
                    id: id.to_owned(),
                })
            })
            .filter(|c| c.id.len() <= 100)
            .map(Some)
            .ok_or_else(|| Invalid::new("cursor", "is not a cursor this API returned"))
    }
}

/// One page of jobs, and where the next one starts (`None` on the last).
#[derive(Debug, Clone)]
pub struct JobPage {
    pub items: Vec<JobRecord>,
    pub next: Option<JobCursor>,
}

/// The filter the caller may use (`action` names the refusal in the audit log).
async fn scoped(
    db: &Db,
    acting: &Acting,
    action: &str,
    mut filter: JobFilter,
) -> Result<JobFilter> {
    filter.subtrees = match visibility::job_scope(&acting.caller) {
        None => return Err(deny(db, acting, action, "job", "-", None).await),
        Some(JobScope::All) => None,
        Some(JobScope::Subtrees(paths)) => Some(paths),
    };
    Ok(filter)
}

/// Up to `limit` jobs of `state` and `kind` that the caller may see, most recently changed
/// first, after `after`.
pub async fn list(
    db: &Db,
    acting: &Acting,
    state: Option<JobState>,
    kind: Option<JobKind>,
    after: Option<&JobCursor>,
    limit: i64,
) -> Result<JobPage> {
    let filter = scoped(
        db,
        acting,
        "read",
        JobFilter {
            state,
            kind,
            ..JobFilter::default()
        },
    )
    .await?;
    let limit = limit.max(1);
    let mut items = db
        .list_jobs(
            &filter,
            after.map(|c| (c.updated_at, c.id.as_str())),
            limit + 1,
        )
        .await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next = more
        .then(|| {
            items.last().map(|j| JobCursor {
                updated_at: j.updated_at,
                id: j.id.clone(),
            })
        })
        .flatten();
    Ok(JobPage { items, next })
}

/// Job `id`, if the caller may see it (`action` names a refusal in the audit log).
pub async fn visible(db: &Db, acting: &Acting, id: &str, action: &str) -> Result<JobRecord> {
    let filter = scoped(
        db,
        acting,
        action,
        JobFilter {
            id: Some(id.to_owned()),
            ..JobFilter::default()
        },
    )
    .await?;
    db.list_jobs(&filter, None, 1)
        .await?
        .pop()
        .ok_or(ServiceError::NotFound("job"))
}

/// Puts job `id` back in the queue to run now, its attempts reset (audited as `job.retry`).
/// Not found when the caller may not see it; a conflict unless it is dead or done.
pub async fn retry(db: &Db, acting: &Acting, id: &str) -> Result<()> {
    let filter = scoped(
        db,
        acting,
        "retry",
        JobFilter {
            id: Some(id.to_owned()),
            ..JobFilter::default()
        },
    )
    .await?;
    let Some(job) = db.list_jobs(&filter, None, 1).await?.pop() else {
        return Err(ServiceError::NotFound("job"));
    };
    if !job.state.retryable() {
        return Err(ServiceError::Conflict(format!(
            "the job is {}; only dead or done jobs are retried",
            job.state.as_str()
        )));
    }
    let event = Event {
        action: "job.retry",
        target_kind: "job",
        target_id: Some(id),
        org_id: (!job.org_id.is_empty()).then_some(job.org_id.as_str()),
        before: Some(serde_json::json!({"state": job.state, "attempts": job.attempts})),
        after: Some(serde_json::json!({"state": "pending"})),
    };
    match db.retry_jobs(&filter, &acting.actor, event).await? {
        0 => Err(ServiceError::Conflict(
            "the job is no longer dead or done".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// Puts every job of `state` (dead when absent; only dead or done) and `kind` that the caller
/// may see back in the queue (audited once as `jobs.retry`, with the count). Returns how many.
pub async fn retry_many(
    db: &Db,
    acting: &Acting,
    state: Option<JobState>,
    kind: Option<JobKind>,
) -> Result<u64> {
    let state = state.unwrap_or(JobState::Dead);
    if !state.retryable() {
        return Err(ServiceError::Conflict(
            "only dead or done jobs are retried".to_owned(),
        ));
    }
    let filter = scoped(
        db,
        acting,
        "retry",
        JobFilter {
            state: Some(state),
            kind,
            ..JobFilter::default()
        },
    )
    .await?;
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
    Ok(db.retry_jobs(&filter, &acting.actor, event).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_survive_the_round_trip_and_refuse_garbage() {
        let c = JobCursor {
            updated_at: 1_700_000_000_000,
            id: "0190abc_def".into(),
        };
        assert_eq!(JobCursor::decode(Some(&c.encode())), Ok(Some(c)));
        assert_eq!(JobCursor::decode(None), Ok(None));
        assert_eq!(JobCursor::decode(Some("")), Ok(None));
        for bad in ["x", "12", "a_b", "_x"] {
            assert!(JobCursor::decode(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_states_and_kinds_are_refused_and_empty_means_any() {
        assert_eq!(parse_state(Some("dead")), Ok(Some(JobState::Dead)));
        assert_eq!(parse_state(Some("")), Ok(None));
        assert!(parse_state(Some("failed")).is_err());
        assert_eq!(parse_kind(Some("probe")), Ok(Some(JobKind::Probe)));
        assert!(parse_kind(Some("Probe")).is_err());
    }
}
