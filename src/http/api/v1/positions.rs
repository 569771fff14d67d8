//! `PUT /api/v1/me/positions/{lesson_id}`: where the signed-in account is in a lesson (the
//! library's player sends it as it plays); `PUT /api/v1/me/reading/{lesson_id}`: the pages of
//! a document it read (the lesson page sends them as they are read); `GET
//! /api/v1/me/positions`: where it stopped, most recent first. Adapters over
//! `services::learning` and `services::library`.

use crate::http::AppState;
use crate::http::error::{AppError, Problem};
use crate::http::extract::{Json, Path, Query, Writer};
use crate::services::{learning, library};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where one is in a lesson, and what one played of it since the last report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionInput {
    /// Milliseconds from the start (at most a day).
    #[schema(minimum = 0, maximum = 86_400_000)]
    pub position_ms: i64,
    /// The lesson's length as the player knows it, when it does.
    #[schema(minimum = 1, maximum = 86_400_000)]
    pub duration_ms: Option<i64>,
    /// The stretches played since the last report (at most 200), each as it was played: a seek
    /// ends one. What the lesson counts as learned is how much of it these cover; reports add
    /// at most twice the time that passes between them (and a minute at first).
    #[serde(default)]
    #[schema(max_items = 200)]
    pub played: Vec<PlayedInput>,
}

/// The pages of a document lesson read since the last report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingInput {
    /// The page the reader is at.
    #[schema(minimum = 1)]
    pub page: i64,
    /// Pages in the document, as the reader shows it (at most 4,320).
    #[schema(minimum = 1, maximum = 4320)]
    pub page_count: i64,
    /// The pages opened (each on screen for a few seconds) since the last report, at most 200.
    /// A page counts 20 s of reading; reports add at most twice the time that passes between
    /// them, so opening every page at once does not make the document read.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub pages: Vec<i64>,
}

/// A stretch of a lesson that was played.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayedInput {
    /// Where it began, milliseconds from the start.
    #[schema(minimum = 0)]
    pub start_ms: i64,
    /// Where it ended: after its start, at most at the lesson's end.
    pub end_ms: i64,
}

/// Where the account stopped in one lesson.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionView {
    pub lesson_id: String,
    pub position_ms: i64,
    #[schema(required)]
    pub duration_ms: Option<i64>,
    /// Within the last ten seconds, or 5 %, of the lesson.
    pub finished: bool,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The lessons the account played, most recent first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionsView {
    pub positions: Vec<PositionView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PositionsQuery {
    /// How many (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

#[utoipa::path(
    put,
    path = "/api/v1/me/positions/{lesson_id}",
    tag = "library",
    summary = "Records where the signed-in account is in a lesson it may read, and the stretches it played since its last report (the library's player sends it every 15 s while playing, and on pause, seek and leaving the page): the learning record from which completion (by coverage) and the archive are drawn",
    params(("lesson_id" = String, Path, description = "the lesson")),
    request_body = PositionInput,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "recorded"),
        (status = 400, description = "a position, length or stretch out of range, or too many stretches", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator token or a platform key: no account to keep a place for", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such lesson for this account", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn put_position(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(lesson_id): Path<String>,
    Json(input): Json<PositionInput>,
) -> Result<StatusCode, AppError> {
    let report = learning::Report {
        position_ms: input.position_ms,
        duration_ms: input.duration_ms,
        played: input
            .played
            .iter()
            .map(|p| (p.start_ms, p.end_ms))
            .collect(),
    };
    learning::record(&state.db, &acting.caller, &lesson_id, report).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/api/v1/me/reading/{lesson_id}",
    tag = "library",
    summary = "Records the pages of a document lesson the signed-in account read since its last report (the lesson page sends them every 15 s while pages are read, and on leaving the page): the document counts as learned when the pages read cover the organisation's share of it, and a page counts 20 s of learning time",
    params(("lesson_id" = String, Path, description = "the lesson (of kind document)")),
    request_body = ReadingInput,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "recorded"),
        (status = 400, description = "a page out of the document, too many pages, or a lesson that is not a document", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator token or a platform key: no account to keep a record for", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such lesson for this account", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn put_reading(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(lesson_id): Path<String>,
    Json(input): Json<ReadingInput>,
) -> Result<StatusCode, AppError> {
    learning::read(
        &state.db,
        &acting.caller,
        &lesson_id,
        input.page,
        input.page_count,
        &input.pages,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/me/positions",
    tag = "library",
    summary = "Where the signed-in account stopped in the lessons it played and may still read, most recent first",
    params(PositionsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the positions", body = PositionsView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator token or a platform key", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_positions(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<PositionsQuery>,
) -> Result<axum::Json<PositionsView>, AppError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::invalid(&[crate::domain::Invalid::new(
            "limit",
            "must be between 1 and 100",
        )]));
    }
    let found = library::positions(&state.db, &acting.caller, limit).await?;
    Ok(axum::Json(PositionsView {
        positions: found
            .into_iter()
            .map(|p| PositionView {
                finished: library::finished(&p),
                lesson_id: p.lesson_id,
                position_ms: p.position_ms,
                duration_ms: p.duration_ms,
                updated_at: crate::domain::time::rfc3339(p.updated_at),
            })
            .collect(),
    }))
}
