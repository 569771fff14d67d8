//! `/api/v1/jobs`: the background jobs, for administrators — listing with the last error and
//! attempts, and retrying dead (or done) ones one by one or in bulk. Thin adapters over
//! `services::jobs`.

use crate::db::jobs::JobRecord;
use crate::domain::Invalid;
use crate::domain::job::{JobKind, JobState};
use crate::domain::time::rfc3339;
use crate::http::AppState;
use crate::http::error::{AppError, Problem};
use crate::http::extract::{Json, Path, Query, Writer};
use crate::services::jobs::{self, JobCursor};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only jobs in this state.
    #[param(value_type = Option<JobState>)]
    pub state: Option<String>,
    /// Only jobs of this kind.
    #[param(value_type = Option<JobKind>)]
    pub kind: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// At most this many jobs (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RetryQuery {
    /// `dead` (the default) or `done`; other states are a conflict.
    #[param(value_type = Option<JobState>)]
    pub state: Option<String>,
    /// Only jobs of this kind.
    #[param(value_type = Option<JobKind>)]
    pub kind: Option<String>,
}

/// A job as administrators see it (its payload stays inside: it can hold what only the
/// receiving platform may read).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    /// What the job is about: a platform's id, a content's SHA-256, a task's name.
    pub subject: String,
    /// The organisation the work is for; `null` for the instance's own.
    pub org_id: Option<String>,
    /// Attempts so far (a claim is an attempt).
    pub attempts: i64,
    /// After this many the job is dead.
    pub max_attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it runs (next), RFC 3339.
    pub run_at: String,
    /// While running: until when its worker holds it.
    pub lease_until: Option<String>,
    /// While running: which worker holds it.
    pub worker: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&JobRecord> for JobView {
    fn from(j: &JobRecord) -> Self {
        Self {
            id: j.id.clone(),
            kind: j.kind,
            state: j.state,
            subject: j.subject.clone(),
            org_id: (!j.org_id.is_empty()).then(|| j.org_id.clone()),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error.clone(),
            run_at: rfc3339(j.run_at),
            lease_until: j.lease_until.map(rfc3339),
            worker: j.worker.clone(),
            created_at: rfc3339(j.created_at),
            updated_at: rfc3339(j.updated_at),
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobPageView {
    pub items: Vec<JobView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// How many jobs a bulk retry queued again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetriedView {
    pub retried: u64,
}

/// `GET /api/v1/jobs?state=&kind=&cursor=&limit=`: jobs the caller may see, most recently
/// changed first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    summary = "Background jobs the caller administers (administrators only: those of their organisations; the instance's own from a root organisation up), most recently changed first, with attempts and the last error",
    params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "a page of jobs", body = JobPageView))
)]
pub async fn list(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<ListQuery>,
) -> Result<Json<JobPageView>, AppError> {
    let (mut errors, (job_state, kind)) =
        match jobs::parse_filter(q.state.as_deref(), q.kind.as_deref()) {
            Ok(f) => (Vec::new(), f),
            Err(e) => (e, (None, None)),
        };
    let after = JobCursor::decode(q.cursor.as_deref())
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        errors.push(Invalid::new("limit", "must be between 1 and 500"));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(&errors));
    }
    let page = jobs::list(&state.db, &acting, job_state, kind, after.as_ref(), limit).await?;
    Ok(Json(JobPageView {
        items: page.items.iter().map(JobView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// `POST /api/v1/jobs/{id}/retry`: a dead (or done) job runs again now, attempts reset.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/retry",
    tag = "jobs",
    summary = "Run a dead or done job again now, its attempts reset (audited)",
    params(("id" = String, Path, description = "the job")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "queued again"),
        (status = 409, description = "the job is pending or running: nothing to retry", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    jobs::retry(&state.db, &acting, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/jobs/retry?state=dead&kind=`: every dead (or, with `state=done`, done) job of
/// the kind that the caller may see runs again now. Answers how many.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/retry",
    tag = "jobs",
    summary = "Run every dead (or, with state=done, done) job of a kind that the caller may see again now (audited once, with the count)",
    params(RetryQuery),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "how many jobs were queued again", body = RetriedView),
        (status = 409, description = "a state other than dead or done", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn retry_many(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<RetryQuery>,
) -> Result<(StatusCode, Json<RetriedView>), AppError> {
    let (job_state, kind) = jobs::parse_filter(q.state.as_deref(), q.kind.as_deref())
        .map_err(|e| AppError::invalid(&e))?;
    let retried = jobs::retry_many(&state.db, &acting, job_state, kind).await?;
    Ok((StatusCode::ACCEPTED, Json(RetriedView { retried })))
}
