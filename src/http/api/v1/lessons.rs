//! `/api/v1/lessons`: create, read, update, list, delete, publish and withdraw lessons.

use crate::db::lessons::LessonRecord;
use crate::db::workflow::{Scheduled, StepError};
use crate::domain::Invalid;
use crate::domain::lesson::LessonKind;
use crate::domain::visibility::{Action, Caller};
use crate::http::AppState;
use crate::http::error::{AppError, Code, Problem};
use crate::http::extract::{Acting, Json, Path, Query, Writer};
use crate::http::views::{LessonView, Page};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The body of `POST /api/v1/lessons`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLesson {
    #[schema(max_length = 200)]
    title: String,
    #[serde(default)]
    description: String,
    #[schema(value_type = LessonKind)]
    kind: String,
    #[serde(default)]
    tags: Vec<String>,
    /// 主讲人.
    lecturer: Option<String>,
    series: Option<String>,
    /// A GB/T 2260 region code.
    #[schema(pattern = "^[0-9]{6}$")]
    region_code: Option<String>,
    /// 1900-01-01 to 2100-12-31.
    #[schema(format = Date)]
    recorded_on: Option<String>,
    /// A BCP 47 language tag; `zh-CN` when absent.
    language: Option<String>,
    /// The owning organisation; by default the one where the caller is an editor (required when
    /// there are several).
    #[serde(default)]
    org_id: Option<String>,
}

/// The body of `PATCH /api/v1/lessons/{id}`: fields present are changed, `null` clears.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLesson {
    #[schema(nullable = false, max_length = 200)]
    title: Option<String>,
    #[schema(nullable = false)]
    description: Option<String>,
    /// Cannot change once a lesson exists: only its current kind is taken.
    #[schema(nullable = false, value_type = Option<LessonKind>)]
    kind: Option<String>,
    #[schema(nullable = false)]
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    lecturer: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    series: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    region_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date)]
    recorded_on: Option<Option<String>>,
    #[schema(nullable = false)]
    language: Option<String>,
}

use super::present;
use crate::services::catalog::{self, LessonDetail, LessonPatch, ListLessons, NewLesson};
use crate::services::review::{self as review_service, Audience, When};

impl From<CreateLesson> for NewLesson {
    fn from(c: CreateLesson) -> Self {
        Self {
            title: c.title,
            description: c.description,
            kind: c.kind,
            tags: c.tags,
            lecturer: c.lecturer,
            series: c.series,
            region_code: c.region_code,
            recorded_on: c.recorded_on,
            language: c.language,
            org_id: c.org_id,
        }
    }
}

impl From<UpdateLesson> for LessonPatch {
    fn from(u: UpdateLesson) -> Self {
        Self {
            title: u.title,
            description: u.description,
            kind: u.kind,
            tags: u.tags,
            lecturer: u.lecturer,
            series: u.series,
            region_code: u.region_code,
            recorded_on: u.recorded_on,
            language: u.language,
        }
    }
}

/// A lesson with its assets, as JSON with its version as `ETag` (and, when created, its
/// `Location`).
fn respond(status: StatusCode, detail: LessonDetail) -> Response {
    let etag = format!("\"v{}\"", detail.lesson.version);
    let location = format!("/api/v1/lessons/{}", detail.lesson.id);
    let mut response = (status, Json(LessonView::detail(detail))).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&location)
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Loads lesson `id` if `caller` may read it (see [`catalog::visible_lesson`]).
pub async fn visible_lesson(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<LessonRecord, AppError> {
    Ok(catalog::visible_lesson(&state.db, caller, id).await?)
}

/// Whether `caller` is an operator token (the instance itself, which bypasses review).
pub fn is_operator(caller: &Caller) -> bool {
    catalog::is_operator(caller)
}

/// Loads lesson `id` for a change of its files (see [`catalog::editable_lesson`]).
pub async fn editable_lesson(
    state: &AppState,
    acting: &Acting,
    id: &str,
) -> Result<LessonRecord, AppError> {
    Ok(catalog::editable_lesson(&state.db, acting, id).await?)
}

/// Loads lesson `id` for `action` (see [`catalog::lesson_for`]).
pub async fn lesson_for(
    state: &AppState,
    acting: &Acting,
    id: &str,
    action: Action,
) -> Result<LessonRecord, AppError> {
    Ok(catalog::lesson_for(&state.db, acting, id, action).await?)
}

/// `POST /api/v1/lessons`.
#[utoipa::path(
    post,
    path = "/api/v1/lessons",
    tag = "lessons",
    summary = "Create a draft lesson in an organisation where the caller is an editor (operators: in none)",
    request_body = CreateLesson,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the lesson; `Location` names it, `ETag` is its version", body = LessonView,
            headers(("Location" = String), ("ETag" = String, description = "\"v<version>\"")))
    )
)]
pub async fn create_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreateLesson>,
) -> Result<Response, AppError> {
    let detail = catalog::create_lesson(&state.db, &acting, input.into()).await?;
    Ok(respond(StatusCode::CREATED, detail))
}

/// `GET /api/v1/lessons/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}",
    tag = "lessons",
    summary = "A lesson with its assets and what was extracted from their text (anonymous callers: published lessons in their reach)",
    params(("id" = String, Path, description = "the lesson")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "the lesson", body = LessonView,
            headers(("ETag" = String, description = "\"v<version>\"")))
    )
)]
pub async fn get_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let detail = catalog::get_lesson(&state.db, &caller, &id).await?;
    Ok(respond(StatusCode::OK, detail))
}

/// The versions `If-Match` allows an update at (RFC 9110 §13.1.1): `None` without the header or
/// with `*` (the lesson exists, or the update fails with 404 anyway), else the listed `"vN"`
/// entity tags. The comparison is strong, so weak tags (`W/"v7"`) and tags of other resources
/// match nothing and the update fails with 412; a value that is not a list of entity tags at all
/// is a 400.
fn expected_versions(headers: &HeaderMap) -> Result<Option<Vec<i64>>, AppError> {
    let mut versions = Vec::new();
    for value in headers.get_all(header::IF_MATCH) {
        let list = value.to_str().map_err(|_| malformed_if_match())?;
        if list.trim() == "*" {
            return Ok(None);
        }
        for tag in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (weak, quoted) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let opaque = quoted
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| !t.contains('"'))
                .ok_or_else(malformed_if_match)?;
            if let (false, Some(n)) = (weak, opaque.strip_prefix('v').and_then(|n| n.parse().ok()))
            {
                versions.push(n);
            }
        }
    }
    if headers.contains_key(header::IF_MATCH) {
        Ok(Some(versions))
    } else {
        Ok(None)
    }
}

fn malformed_if_match() -> AppError {
    AppError::new(
        Code::InvalidRequest,
        "If-Match must be `*` or a list of quoted entity tags, such as `\"v7\"`",
    )
}

/// `PATCH /api/v1/lessons/{id}`.
#[utoipa::path(
    patch,
    path = "/api/v1/lessons/{id}",
    tag = "lessons",
    summary = "Change fields (absent: unchanged, null: cleared) on the working revision (operators: the live lesson)",
    params(
        ("id" = String, Path, description = "the lesson"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "`*` or the lesson's `\"v<version>\"` tags: the change applies only at one of these versions (strong comparison)")
    ),
    request_body = UpdateLesson,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the lesson", body = LessonView,
            headers(("ETag" = String, description = "\"v<version>\""))),
        (status = 409, description = "the revision is in review", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names no current version", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn update_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(input): Json<UpdateLesson>,
) -> Result<Response, AppError> {
    let expected = expected_versions(&headers)?;
    let detail =
        catalog::update_lesson(&state.db, &acting, &id, expected.as_deref(), input.into()).await?;
    Ok(respond(StatusCode::OK, detail))
}

/// `DELETE /api/v1/lessons/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/lessons/{id}",
    tag = "lessons",
    summary = "Delete a lesson with its assets (a published one must be withdrawn first)",
    params(("id" = String, Path, description = "the lesson")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "deleted"),
        (status = 409, description = "the lesson is published", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn delete_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    catalog::delete_lesson(&state.db, &acting, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The optional body of publish and withdraw: a time in the future schedules the step; `null`
/// cancels a schedule.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    /// An RFC 3339 time in the future schedules the step; `null` cancels a schedule; absent:
    /// now.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<Option<String>>,
    /// On publication: who receives it inside its scope, `{ org_id }` or `{ platforms: [id] }`
    /// (see `PUT …/audience`).
    #[schema(value_type = Option<Object>, nullable = false)]
    audience: Option<super::platforms::AudienceInput>,
}

/// Parses an RFC 3339 time into Unix milliseconds.
pub fn parse_time(field: &'static str, s: &str) -> Result<i64, Invalid> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            Invalid::new(
                field,
                "must be an RFC 3339 time such as 2026-12-01T08:00:00Z",
            )
        })
}

impl From<StepError> for AppError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::NotFound => AppError::not_found("lesson"),
            StepError::Conflict(m) => AppError::conflict(m),
            StepError::Forbidden(m) => AppError::forbidden(m),
            StepError::Db(e) => e.into(),
        }
    }
}

async fn step(
    state: &AppState,
    acting: &Acting,
    id: &str,
    what: Scheduled,
    body: Option<StepBody>,
) -> Result<Response, AppError> {
    let (at, audience) = match body {
        Some(b) => (Some(b.at), b.audience),
        None => (None, None),
    };
    let when = match at {
        None | Some(None) => When::Now,
        Some(Some(None)) => When::Cancel,
        Some(Some(Some(t))) => When::At(parse_time("at", &t)?),
    };
    // The audience is checked against the lesson's scope before the step (which checks the
    // permission again, in the same way).
    let audience = match audience {
        None => None,
        Some(a) => {
            let action = match what {
                Scheduled::Publish => Action::Publish,
                Scheduled::Withdraw => Action::Withdraw,
            };
            let lesson = lesson_for(state, acting, id, action).await?;
            if what != Scheduled::Publish {
                return Err(Invalid::new("audience", "is given when publishing").into());
            }
            let (org_id, platforms) = super::platforms::check_audience(state, &lesson, &a).await?;
            Some(Audience { org_id, platforms })
        }
    };
    let lesson = review_service::step(&state.db, acting, id, what, when, audience).await?;
    let detail = catalog::detail(&state.db, lesson).await?;
    Ok(respond(StatusCode::OK, detail))
}

/// `POST /api/v1/lessons/{id}/publish`: makes the approved revision live (operators: the lesson
/// as it stands), or schedules that with `{"at": "…"}`.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/publish",
    tag = "lessons",
    summary = "Publish the approved revision (operator tokens: the lesson as it stands), or schedule it with {\"at\": RFC 3339}; {\"at\": null} cancels a schedule",
    params(("id" = String, Path, description = "the lesson")),
    request_body(content = Option<StepBody>, description = "optional"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the lesson", body = LessonView,
            headers(("ETag" = String, description = "\"v<version>\""))),
        (status = 409, description = "nothing approved to publish, or already published", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn publish_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = super::optional_json(&body)?;
    step(&state, &acting, &id, Scheduled::Publish, body).await
}

/// `POST /api/v1/lessons/{id}/withdraw`: takes the lesson down, now or at `{"at": "…"}`.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/withdraw",
    tag = "lessons",
    summary = "Withdraw now, or at {\"at\": RFC 3339}; {\"at\": null} cancels a schedule",
    params(("id" = String, Path, description = "the lesson")),
    request_body(content = Option<StepBody>, description = "optional"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the lesson", body = LessonView,
            headers(("ETag" = String, description = "\"v<version>\""))),
        (status = 409, description = "not published", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn withdraw_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = super::optional_json(&body)?;
    step(&state, &acting, &id, Scheduled::Withdraw, body).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<LessonKind>)]
    kind: Option<String>,
    tag: Option<String>,
    /// A GB/T 2260 region code: it and every region below it.
    #[param(pattern = "^[0-9]{6}$")]
    region: Option<String>,
    #[param(value_type = Option<crate::domain::lesson::LessonStatus>)]
    status: Option<String>,
    /// Only lessons owned by this organisation or below it.
    org: Option<String>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
    /// Lessons per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// `GET /api/v1/lessons`.
#[utoipa::path(
    get,
    path = "/api/v1/lessons",
    tag = "lessons",
    summary = "The lessons the caller may read (anonymous callers: published ones in their reach), with their assets, one page at a time",
    params(ListQuery),
    security((), ("bearer" = [])),
    responses((status = 200, description = "a page of lessons", body = Page<LessonView>))
)]
pub async fn list_lessons(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<LessonView>>, AppError> {
    let query = ListLessons {
        kind: q.kind,
        tag: q.tag,
        region: q.region,
        status: q.status,
        org: q.org,
        cursor: q.cursor,
        limit: q.limit,
    };
    let page = catalog::list_lessons(&state.db, &caller, query).await?;
    let items = page
        .lessons
        .into_iter()
        .map(|l| LessonView::new(l, &page.assets))
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}
