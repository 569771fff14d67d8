//! `/api/v1/lessons`: create, read, update, list, delete, publish and withdraw lessons.

use crate::db::lessons::{LessonFilter, LessonRecord, UpdateError};
use crate::domain::Invalid;
use crate::domain::lesson::{self, LessonFields, LessonKind, LessonStatus, RegionCode, Title};
use crate::domain::visibility::{Caller, read_scope};
use crate::http::AppState;
use crate::http::error::{AppError, Code};
use crate::http::extract::{Json, Path, Query, Writer};
use crate::http::views::{LessonView, Page};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};

/// The body of `POST /api/v1/lessons`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLesson {
    title: String,
    #[serde(default)]
    description: String,
    kind: String,
    #[serde(default)]
    tags: Vec<String>,
    lecturer: Option<String>,
    series: Option<String>,
    region_code: Option<String>,
    recorded_on: Option<String>,
    language: Option<String>,
}

/// The body of `PATCH /api/v1/lessons/{id}`: fields present are changed, `null` clears.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateLesson {
    title: Option<String>,
    description: Option<String>,
    kind: Option<String>,
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    lecturer: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    series: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    region_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    recorded_on: Option<Option<String>>,
    language: Option<String>,
}

/// Tells a field set to `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Collects every validation failure rather than stopping at the first.
#[derive(Default)]
struct Errors(Vec<Invalid>);

impl Errors {
    fn check<T>(&mut self, r: Result<T, Invalid>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }
}

fn region(s: Option<&str>) -> Result<Option<RegionCode>, Invalid> {
    s.filter(|s| !s.is_empty())
        .map(RegionCode::parse)
        .transpose()
}

fn recorded_on(s: Option<&str>) -> Result<Option<String>, Invalid> {
    s.filter(|s| !s.is_empty())
        .map(|s| lesson::date("recorded_on", s))
        .transpose()
}

impl CreateLesson {
    fn parse(self) -> Result<LessonFields, AppError> {
        let mut e = Errors::default();
        let fields = (
            e.check(Title::parse(&self.title)),
            e.check(lesson::description(&self.description)),
            e.check(LessonKind::parse(&self.kind)),
            e.check(lesson::optional_name("lecturer", self.lecturer.as_deref())),
            e.check(lesson::optional_name("series", self.series.as_deref())),
            e.check(region(self.region_code.as_deref())),
            e.check(recorded_on(self.recorded_on.as_deref())),
            e.check(lesson::language(
                self.language.as_deref().unwrap_or("zh-CN"),
            )),
            e.check(lesson::tags(&self.tags)),
        );
        match fields {
            (
                Some(title),
                Some(description),
                Some(kind),
                Some(lecturer),
                Some(series),
                Some(region_code),
                Some(recorded_on),
                Some(language),
                Some(tags),
            ) => Ok(LessonFields {
                title,
                description,
                kind,
                lecturer,
                series,
                region_code,
                recorded_on,
                language,
                tags,
            }),
            _ => Err(AppError::invalid(&e.0)),
        }
    }
}

impl UpdateLesson {
    /// The lesson's fields after applying this change to `current`: the merged values are
    /// validated exactly as a new lesson's are.
    fn apply(self, current: &LessonRecord) -> Result<LessonFields, AppError> {
        if self.kind.as_ref().is_some_and(|k| k != &current.kind) {
            return Err(Invalid::new("kind", "cannot be changed once a lesson exists").into());
        }
        let pick =
            |new: Option<Option<String>>, old: &Option<String>| new.unwrap_or_else(|| old.clone());
        CreateLesson {
            title: self.title.unwrap_or_else(|| current.title.clone()),
            description: self
                .description
                .unwrap_or_else(|| current.description.clone()),
            kind: current.kind.clone(),
            tags: self.tags.unwrap_or_else(|| current.tags.clone()),
            lecturer: pick(self.lecturer, &current.lecturer),
            series: pick(self.series, &current.series),
            region_code: pick(self.region_code, &current.region_code),
            recorded_on: pick(self.recorded_on, &current.recorded_on),
            language: Some(self.language.unwrap_or_else(|| current.language.clone())),
        }
        .parse()
    }
}

/// A lesson with its assets, as JSON with its version as `ETag`.
async fn respond(
    state: &AppState,
    status: StatusCode,
    lesson: LessonRecord,
) -> Result<Response, AppError> {
    let assets = state.db.lesson_assets(&lesson.id).await?;
    let etag = format!("\"v{}\"", lesson.version);
    let location = format!("/api/v1/lessons/{}", lesson.id);
    let mut response = (status, Json(LessonView::new(lesson, &assets))).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&location)
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Loads lesson `id` if `caller` may read it. A lesson the caller may not see is reported as
/// missing, so its existence does not leak.
pub async fn visible_lesson(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<LessonRecord, AppError> {
    match state.db.lesson(id).await? {
        Some(l) if read_scope(caller).allows(l.status()) => Ok(l),
        _ => Err(AppError::not_found("lesson")),
    }
}

pub async fn create_lesson(
    State(state): State<AppState>,
    _writer: Writer,
    Json(input): Json<CreateLesson>,
) -> Result<Response, AppError> {
    let fields = input.parse()?;
    let lesson = state.db.create_lesson(&fields).await?;
    respond(&state, StatusCode::CREATED, lesson).await
}

pub async fn get_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let lesson = visible_lesson(&state, &caller, &id).await?;
    respond(&state, StatusCode::OK, lesson).await
}

/// `If-Match: "v7"` → `Some(7)`; any other value cannot match and fails the update.
fn expected_version(headers: &HeaderMap) -> Result<Option<i64>, AppError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| {
            s.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .strip_prefix('v')
        })
        .and_then(|n| n.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            AppError::new(
                Code::PreconditionFailed,
                "If-Match does not name a version of this lesson",
            )
        })
}

pub async fn update_lesson(
    State(state): State<AppState>,
    _writer: Writer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(input): Json<UpdateLesson>,
) -> Result<Response, AppError> {
    let expected = expected_version(&headers)?;
    let current = state
        .db
        .lesson(&id)
        .await?
        .ok_or_else(|| AppError::not_found("lesson"))?;
    let fields = input.apply(&current)?;
    match state.db.update_lesson(&id, &fields, expected).await {
        Ok(lesson) => respond(&state, StatusCode::OK, lesson).await,
        Err(UpdateError::NotFound) => Err(AppError::not_found("lesson")),
        Err(e @ UpdateError::VersionMismatch { .. }) => {
            Err(AppError::new(Code::PreconditionFailed, e.to_string()))
        }
        Err(UpdateError::Db(e)) => Err(e.into()),
    }
}

pub async fn delete_lesson(
    State(state): State<AppState>,
    _writer: Writer,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    if state.db.delete_lesson(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("lesson"))
    }
}

async fn set_status(
    state: &AppState,
    id: &str,
    status: LessonStatus,
) -> Result<Response, AppError> {
    let lesson = state
        .db
        .set_lesson_status(id, status)
        .await?
        .ok_or_else(|| AppError::not_found("lesson"))?;
    respond(state, StatusCode::OK, lesson).await
}

pub async fn publish_lesson(
    State(state): State<AppState>,
    _writer: Writer,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_status(&state, &id, LessonStatus::Published).await
}

pub async fn withdraw_lesson(
    State(state): State<AppState>,
    _writer: Writer,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_status(&state, &id, LessonStatus::Withdrawn).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    kind: Option<String>,
    tag: Option<String>,
    region: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

pub async fn list_lessons(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<LessonView>>, AppError> {
    let mut e = Errors::default();
    let kind = q.kind.as_deref().map(LessonKind::parse).transpose();
    let status = q.status.as_deref().map(LessonStatus::parse).transpose();
    let region = region(q.region.as_deref());
    let (kind, status, region) = (e.check(kind), e.check(status), e.check(region));
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        e.0.push(Invalid::new("limit", "must be between 1 and 200"));
    }
    if let Some(c) = &q.cursor
        && uuid::Uuid::parse_str(c).is_err()
    {
        e.0.push(Invalid::new("cursor", "is not a cursor this API returned"));
    }
    if !e.0.is_empty() {
        return Err(AppError::invalid(&e.0));
    }
    let filter = LessonFilter {
        kind: kind.flatten().map(|k| k.as_str().to_owned()),
        status: status.flatten().map(|s| s.as_str().to_owned()),
        tag: q.tag,
        region_prefix: region.flatten().map(|r| r.subtree_prefix().to_owned()),
        after_id: q.cursor,
    };
    let lessons = state
        .db
        .lessons(read_scope(&caller), &filter, limit + 1)
        .await?;
    let more = lessons.len() as i64 > limit;
    let lessons: Vec<_> = lessons.into_iter().take(limit as usize).collect();
    let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    let assets = state.db.assets_of_lessons(&ids).await?;
    let next_cursor = more.then(|| lessons.last().map(|l| l.id.clone())).flatten();
    let items = lessons
        .into_iter()
        .map(|l| LessonView::new(l, &assets))
        .collect();
    Ok(Json(Page { items, next_cursor }))
}
