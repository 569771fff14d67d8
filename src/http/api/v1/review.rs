//! The review workflow over HTTP: submit, approve, reject, revisions and their comparison, the
//! reviewer's queue, and upward recommendation. Each handler parses its input, calls
//! `services::review` and renders the answer.

use crate::domain::lesson::RecommendationState;
use crate::http::AppState;
use crate::http::error::{AppError, Problem};
use crate::http::extract::{Json, Path, Query, Writer};
use crate::http::views::{
    CompareView, FieldChangeView, Items, QueueItemView, RecommendationView, ReviewStateView,
    RevisionView,
};
use crate::services::review;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// The subtree to publish to: the owner (default) or one of its ancestors.
    scope_org_id: Option<String>,
}

/// `POST /api/v1/lessons/{id}/submit`: sends the working revision to review.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/submit",
    tag = "review",
    summary = "Send the working revision to review, for publication to the owner's subtree or (scope_org_id) an ancestor's; each organisation on the way that requires review must approve",
    params(("id" = String, Path, description = "the lesson")),
    request_body(content = Option<SubmitBody>, description = "optional"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the submission and the level awaiting a decision", body = ReviewStateView),
        (status = 409, description = "nothing to submit, or the lesson belongs to no organisation", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ReviewStateView>, AppError> {
    let body: SubmitBody = super::optional_json(&body)?.unwrap_or_default();
    let review = review::submit(&state.db, &acting, &id, body.scope_org_id.as_deref()).await?;
    Ok(Json(review.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The revision being decided, as the reviewer saw it.
    revision: i64,
    /// Required when rejecting: what the editor should change.
    comment: Option<String>,
}

/// `POST /api/v1/lessons/{id}/approve`: approves the level awaiting the caller's decision.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/approve",
    tag = "review",
    summary = "Approve the level awaiting a decision (a reviewer of that level, or from above the chain; one level per reviewer); never one's own submission where the organisation forbids it",
    params(("id" = String, Path, description = "the lesson")),
    request_body = DecisionBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the review after the approval", body = ReviewStateView),
        (status = 409, description = "nothing awaits review, or another revision or level does", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<ReviewStateView>, AppError> {
    let review = review::decide(
        &state.db,
        &acting,
        &id,
        body.revision,
        true,
        body.comment.as_deref(),
    )
    .await?;
    Ok(Json(review.into()))
}

/// `POST /api/v1/lessons/{id}/reject`: sends the revision back to its editor with a comment.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/reject",
    tag = "review",
    summary = "Reject with a comment; the revision goes back to the editor",
    params(("id" = String, Path, description = "the lesson")),
    request_body = DecisionBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the review after the rejection", body = ReviewStateView),
        (status = 409, description = "nothing awaits review, or another revision or level does", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<ReviewStateView>, AppError> {
    let review = review::decide(
        &state.db,
        &acting,
        &id,
        body.revision,
        false,
        body.comment.as_deref(),
    )
    .await?;
    Ok(Json(review.into()))
}

/// `GET /api/v1/lessons/{id}/revisions`: every revision, oldest first. Only those who may edit or
/// review the lesson see its revisions (readers see the live lesson).
#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}/revisions",
    tag = "review",
    summary = "Every revision with its review state (editors, reviewers and administrators of the lesson)",
    params(("id" = String, Path, description = "the lesson")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the revisions, oldest first", body = Items<RevisionView>)
    )
)]
pub async fn revisions(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<Items<RevisionView>>, AppError> {
    let items = review::revisions(&state.db, &acting.caller, &id)
        .await?
        .into_iter()
        .map(|(r, approvals)| RevisionView::new(r, approvals))
        .collect();
    Ok(Json(Items { items }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// The earlier revision's number.
    from: i64,
    /// The later revision's number.
    to: i64,
}

/// `GET /api/v1/lessons/{id}/revisions/compare?from=1&to=2`: the fields that differ.
#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}/revisions/compare",
    tag = "review",
    summary = "The fields that differ between two revisions",
    params(("id" = String, Path, description = "the lesson"), CompareQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the fields that differ", body = CompareView)
    )
)]
pub async fn compare(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Query(q): Query<CompareQuery>,
) -> Result<Json<CompareView>, AppError> {
    let changes = review::compare(&state.db, &acting.caller, &id, q.from, q.to)
        .await?
        .into_iter()
        .map(|c| FieldChangeView {
            field: c.field,
            from: c.from,
            to: c.to,
        })
        .collect();
    Ok(Json(CompareView {
        from: q.from,
        to: q.to,
        changes,
    }))
}

/// `GET /api/v1/review/queue`: submissions awaiting a level the caller may decide, oldest first.
/// Submissions the caller made themselves are left out where their organisation forbids
/// approving one's own work.
#[utoipa::path(
    get,
    path = "/api/v1/review/queue",
    tag = "review",
    summary = "Submissions awaiting a level the caller may decide, oldest first",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the queue", body = Items<QueueItemView>)
    )
)]
pub async fn queue(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<Items<QueueItemView>>, AppError> {
    let items = review::queue(&state.db, &acting)
        .await?
        .into_iter()
        .map(QueueItemView::from)
        .collect();
    Ok(Json(Items { items }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendBody {
    #[serde(default)]
    note: String,
}

/// `POST /api/v1/lessons/{id}/recommend`: recommends a published lesson to the organisation above
/// its current scope.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/recommend",
    tag = "review",
    summary = "Recommend a published lesson to the organisation above its scope",
    params(("id" = String, Path, description = "the lesson")),
    request_body = RecommendBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the recommendation", body = RecommendationView),
        (status = 409, description = "not published, already recommended, or already reaching the whole tree", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn recommend(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<RecommendBody>,
) -> Result<Json<RecommendationView>, AppError> {
    let rec = review::recommend(&state.db, &acting, &id, &body.note).await?;
    Ok(Json(rec.into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecommendationsQuery {
    /// Only recommendations in this state.
    #[param(value_type = Option<RecommendationState>)]
    state: Option<String>,
}

/// `GET /api/v1/recommendations`: recommendations to organisations the caller reviews for.
#[utoipa::path(
    get,
    path = "/api/v1/recommendations",
    tag = "review",
    summary = "Recommendations to organisations the caller reviews for",
    params(RecommendationsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the recommendations", body = Items<RecommendationView>)
    )
)]
pub async fn recommendations(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<RecommendationsQuery>,
) -> Result<Json<Items<RecommendationView>>, AppError> {
    let wanted = q
        .state
        .as_deref()
        .map(RecommendationState::parse)
        .transpose()?;
    let items = review::recommendations(&state.db, &acting, wanted)
        .await?
        .into_iter()
        .map(RecommendationView::from)
        .collect();
    Ok(Json(Items { items }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptBody {
    /// Publish to this organisation's subtree: the one recommended to (default) or one above it
    /// where the caller is also a reviewer.
    scope_org_id: Option<String>,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/recommendations/{id}/adopt`: publishes the recommended lesson more widely.
#[utoipa::path(
    post,
    path = "/api/v1/recommendations/{id}/adopt",
    tag = "review",
    summary = "Adopt: the lesson's scope widens to the organisation recommended to (or scope_org_id above it); it keeps its owner",
    params(("id" = String, Path, description = "the recommendation")),
    request_body(content = Option<AdoptBody>, description = "optional"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the adopted recommendation", body = RecommendationView),
        (status = 409, description = "already decided, or adoption would narrow the lesson's reach", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn adopt(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RecommendationView>, AppError> {
    let body: AdoptBody = super::optional_json(&body)?.unwrap_or_default();
    let rec = review::adopt(
        &state.db,
        &acting,
        &id,
        body.scope_org_id.as_deref(),
        &body.comment,
    )
    .await?;
    Ok(Json(rec.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineBody {
    comment: String,
}

/// `POST /api/v1/recommendations/{id}/decline`: declines a recommendation, saying why.
#[utoipa::path(
    post,
    path = "/api/v1/recommendations/{id}/decline",
    tag = "review",
    summary = "Decline with a comment",
    params(("id" = String, Path, description = "the recommendation")),
    request_body = DeclineBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the declined recommendation", body = RecommendationView),
        (status = 409, description = "already decided", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn decline(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<DeclineBody>,
) -> Result<Json<RecommendationView>, AppError> {
    let rec = review::decline(&state.db, &acting, &id, &body.comment).await?;
    Ok(Json(rec.into()))
}
