//! The review workflow over HTTP: submit, approve, reject, revisions and their comparison, the
//! reviewer's queue, and upward recommendation. Each handler parses its input, calls
//! `services::review` and renders the answer.

use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Path, Query, Writer};
use crate::http::views::{
    CompareView, FieldChangeView, Items, QueueItemView, RecommendationView, ReviewStateView,
    RevisionView,
};
use crate::services::review;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// The subtree to publish to: the owner (default) or one of its ancestors.
    scope_org_id: Option<String>,
}

/// `POST /api/v1/lessons/{id}/submit`: sends the working revision to review.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The revision being decided, as the reviewer saw it.
    revision: i64,
    /// Required when rejecting: what the editor should change.
    comment: Option<String>,
}

/// `POST /api/v1/lessons/{id}/approve`: approves the level awaiting the caller's decision.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    from: i64,
    to: i64,
}

/// `GET /api/v1/lessons/{id}/revisions/compare?from=1&to=2`: the fields that differ.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendBody {
    #[serde(default)]
    note: String,
}

/// `POST /api/v1/lessons/{id}/recommend`: recommends a published lesson to the organisation above
/// its current scope.
pub async fn recommend(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<RecommendBody>,
) -> Result<Json<RecommendationView>, AppError> {
    let rec = review::recommend(&state.db, &acting, &id, &body.note).await?;
    Ok(Json(rec.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendationsQuery {
    state: Option<String>,
}

/// `GET /api/v1/recommendations`: recommendations to organisations the caller reviews for.
pub async fn recommendations(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<RecommendationsQuery>,
) -> Result<Json<Items<RecommendationView>>, AppError> {
    let items = review::recommendations(&state.db, &acting, q.state.as_deref())
        .await?
        .into_iter()
        .map(RecommendationView::from)
        .collect();
    Ok(Json(Items { items }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptBody {
    /// Publish to this organisation's subtree: the one recommended to (default) or one above it
    /// where the caller is also a reviewer.
    scope_org_id: Option<String>,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/recommendations/{id}/adopt`: publishes the recommended lesson more widely.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineBody {
    comment: String,
}

/// `POST /api/v1/recommendations/{id}/decline`: declines a recommendation, saying why.
pub async fn decline(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<DeclineBody>,
) -> Result<Json<RecommendationView>, AppError> {
    let rec = review::decline(&state.db, &acting, &id, &body.comment).await?;
    Ok(Json(rec.into()))
}
