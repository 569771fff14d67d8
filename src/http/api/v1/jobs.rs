//! `/api/v1/jobs`: the background jobs, for administrators — listing with the last error and
//! attempts, and retrying dead (or done) ones one by one or in bulk. The steps are
//! `crate::jobs::admin`'s; this is only their wire form.

use super::denied;
use crate::db::jobs::JobRecord;
use crate::domain::Invalid;
use crate::domain::job::{JobKind, JobState};
use crate::domain::time::rfc3339;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Acting, Path, Query, Writer};
use crate::jobs::admin::{self, AdminError};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryQuery {
    pub state: Option<String>,
    pub kind: Option<String>,
}

pub fn parse_state(s: Option<&str>) -> Result<Option<JobState>, Invalid> {
    s.filter(|s| !s.is_empty())
        .map(|s| {
            JobState::parse(s)
                .map_err(|_| Invalid::new("state", "must be pending, running, done or dead"))
        })
        .transpose()
}

pub fn parse_kind(s: Option<&str>) -> Result<Option<JobKind>, Invalid> {
    s.filter(|s| !s.is_empty())
        .map(|s| {
            JobKind::parse(s).map_err(|_| {
                Invalid::new(
                    "kind",
                    "must be webhook, extract_text, schedules, maintenance or probe",
                )
            })
        })
        .transpose()
}

/// The wire form of a job (its payload stays inside: it can hold what only the receiving
/// platform may read).
pub fn job_view(j: &JobRecord) -> Value {
    json!({
        "id": j.id,
        "kind": j.kind,
        "state": j.state,
        "subject": j.subject,
        "org_id": (!j.org_id.is_empty()).then_some(&j.org_id),
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "last_error": j.last_error,
        "run_at": rfc3339(j.run_at),
        "lease_until": j.lease_until.map(rfc3339),
        "worker": j.worker,
        "created_at": rfc3339(j.created_at),
        "updated_at": rfc3339(j.updated_at),
    })
}

async fn answer(state: &AppState, acting: &Acting, what: &str, e: AdminError) -> AppError {
    match e {
        AdminError::Forbidden => denied(state, acting, what, "job", "-", None).await,
        AdminError::NotFound => AppError::not_found("job"),
        e @ (AdminError::NotRetryable(_) | AdminError::BadState) => {
            AppError::conflict(e.to_string())
        }
        AdminError::Db(e) => e.into(),
    }
}

/// `GET /api/v1/jobs?state=&kind=&cursor=&limit=`: jobs the caller may see, most recently
/// changed first.
pub async fn list(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Value>, AppError> {
    let job_state = parse_state(q.state.as_deref())?;
    let kind = parse_kind(q.kind.as_deref())?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Invalid::new("limit", "must be between 1 and 500").into());
    }
    let before = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.split_once('_')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| Invalid::new("cursor", "is not a cursor this API returned"))?,
        ),
    };
    let rows = match admin::list(
        &state.db,
        &acting.caller,
        job_state,
        kind,
        before.as_ref().map(|(at, id)| (*at, id.as_str())),
        limit + 1,
    )
    .await
    {
        Ok(rows) => rows,
        Err(e) => return Err(answer(&state, &acting, "read", e).await),
    };
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = more
        .then(|| rows.last().map(|j| format!("{}_{}", j.updated_at, j.id)))
        .flatten();
    Ok(axum::Json(json!({
        "items": rows.iter().map(job_view).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// `POST /api/v1/jobs/{id}/retry`: a dead (or done) job runs again now, attempts reset.
pub async fn retry(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    match admin::retry_one(&state.db, &acting.caller, &acting.actor, &id).await {
        Ok(()) => Ok(StatusCode::ACCEPTED),
        Err(e) => Err(answer(&state, &acting, "retry", e).await),
    }
}

/// `POST /api/v1/jobs/retry?state=dead&kind=`: every dead (or, with `state=done`, done) job of
/// the kind that the caller may see runs again now. Answers how many.
pub async fn retry_many(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<RetryQuery>,
) -> Result<(StatusCode, axum::Json<Value>), AppError> {
    let job_state = parse_state(q.state.as_deref())?;
    let kind = parse_kind(q.kind.as_deref())?;
    match admin::retry_many(&state.db, &acting.caller, &acting.actor, job_state, kind).await {
        Ok(n) => Ok((StatusCode::ACCEPTED, axum::Json(json!({ "retried": n })))),
        Err(e) => Err(answer(&state, &acting, "retry", e).await),
    }
}
