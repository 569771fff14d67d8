//! `/api/v1/lessons`: create, read, update, list, delete, publish and withdraw lessons.

use crate::db::lessons::{LessonFilter, LessonRecord, UpdateError};
use crate::db::workflow::{Snapshot, StepError};
use crate::domain::Invalid;
use crate::domain::lesson::{
    self, LessonFields, LessonKind, LessonStatus, RegionCode, RevisionState, Title,
};
use crate::domain::visibility::{self, Action, Caller, Role, read_scope};
use crate::http::AppState;
use crate::http::error::{AppError, Code};
use crate::http::extract::{Acting, Json, Path, Query, Writer};
use crate::http::views::{LessonView, Page};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

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
    /// The owning organisation; by default the one where the caller is an editor (required when
    /// there are several).
    #[serde(default)]
    org_id: Option<String>,
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

use super::present;

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
    /// The lesson's fields after applying this change to `current` (the working revision's
    /// fields, or the live ones when there is none): the merged values are validated exactly as a
    /// new lesson's are.
    fn apply(self, current: &Snapshot) -> Result<LessonFields, AppError> {
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
            org_id: None,
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
    let shas: Vec<&str> = assets.iter().map(|a| a.sha256.as_str()).collect();
    let extractions = state.db.extractions_of(&shas).await?;
    let etag = format!("\"v{}\"", lesson.version);
    let location = format!("/api/v1/lessons/{}", lesson.id);
    let mut view = LessonView::new(lesson, &assets);
    view.assets = view
        .assets
        .into_iter()
        .map(|a| a.with_text(&extractions))
        .collect();
    let mut response = (status, Json(view)).into_response();
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
        Some(l) if visibility::may(caller, Action::Read, l.access()) => Ok(l),
        _ => Err(AppError::not_found("lesson")),
    }
}

/// Whether `caller` is an operator token (the instance itself, which bypasses review).
pub fn is_operator(caller: &Caller) -> bool {
    matches!(caller, Caller::Operator { .. })
}

/// Loads lesson `id` for a change of its files. Besides the edit permission, the files are
/// frozen for everyone but operators from submission on (in review, approved or live): files are
/// reviewed with the fields, and would otherwise change under the reviewers or go live unseen.
/// The ingest layer checks the same again when an upload completes.
pub async fn editable_lesson(
    state: &AppState,
    acting: &Acting,
    id: &str,
) -> Result<LessonRecord, AppError> {
    let lesson = lesson_for(state, acting, id, Action::Edit).await?;
    if !is_operator(&acting.caller) && state.db.files_frozen(id).await? {
        return Err(AppError::conflict(
            "the lesson's files cannot change while it is in review or published; \
             withdraw it (or wait for the reviewer's decision) first",
        ));
    }
    Ok(lesson)
}

/// Loads lesson `id` for `action`: missing if the caller may not read it, 403 if they may read
/// but not do this (which the audit log records, so that probing is visible).
pub async fn lesson_for(
    state: &AppState,
    acting: &Acting,
    id: &str,
    action: Action,
) -> Result<LessonRecord, AppError> {
    let lesson = visible_lesson(state, &acting.caller, id).await?;
    if visibility::may(&acting.caller, action, lesson.access()) {
        Ok(lesson)
    } else {
        Err(super::denied(
            state,
            acting,
            &format!("{action:?}").to_lowercase(),
            "lesson",
            id,
            lesson.org_id.as_deref(),
        )
        .await)
    }
}

pub async fn create_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreateLesson>,
) -> Result<Response, AppError> {
    let org_id = owning_org(&state, &acting, input.org_id.clone()).await?;
    let fields = input.parse()?;
    let lesson = state
        .db
        .create_lesson(&fields, org_id.as_deref(), &acting.actor)
        .await?;
    respond(&state, StatusCode::CREATED, lesson).await
}

/// The organisation a new lesson belongs to: the one asked for, if the caller is an editor there,
/// or else the caller's only editing organisation. Operators may leave it unset.
async fn owning_org(
    state: &AppState,
    acting: &Acting,
    asked: Option<String>,
) -> Result<Option<String>, AppError> {
    match (asked, acting.caller.user()) {
        (Some(id), _) => {
            let org = state.db.org(&id).await?;
            match org {
                Some(o) if visibility::may_create_in(&acting.caller, &o.path) => Ok(Some(o.id)),
                _ => Err(super::denied(state, acting, "create", "org", &id, Some(&id)).await),
            }
        }
        // Operators may make lessons outside any organisation; nobody else may.
        (None, None) if matches!(acting.caller, Caller::Operator { .. }) => Ok(None),
        (None, None) => Err(super::denied(state, acting, "create", "lesson", "-", None).await),
        (None, Some(user)) => {
            let mut orgs: Vec<&str> = user
                .grants
                .iter()
                .filter(|g| g.role == Role::Editor)
                .map(|g| g.org_id.as_str())
                .collect();
            orgs.dedup();
            match orgs.as_slice() {
                [one] => Ok(Some(one.to_string())),
                [] => Err(super::denied(state, acting, "create", "lesson", "-", None).await),
                _ => Err(Invalid::new(
                    "org_id",
                    "you edit for several organisations: say which one owns the lesson",
                )
                .into()),
            }
        }
    }
}

pub async fn get_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let lesson = visible_lesson(&state, &caller, &id).await?;
    respond(&state, StatusCode::OK, lesson).await
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

pub async fn update_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(input): Json<UpdateLesson>,
) -> Result<Response, AppError> {
    let expected = expected_versions(&headers)?;
    let current = lesson_for(&state, &acting, &id, Action::Edit).await?;
    // Edits accumulate on the revision being worked on, not on the live fields.
    let base = match state.db.working_revision(&id).await? {
        Some(w) => w.snapshot()?,
        None => Snapshot::of_record(&current),
    };
    let fields = input.apply(&base)?;
    let live = matches!(acting.caller, Caller::Operator { .. });
    match state
        .db
        .update_lesson(&id, &fields, expected.as_deref(), &acting.actor, live)
        .await
    {
        Ok(lesson) => respond(&state, StatusCode::OK, lesson).await,
        Err(UpdateError::NotFound) => Err(AppError::not_found("lesson")),
        Err(e @ UpdateError::VersionMismatch { .. }) => {
            Err(AppError::new(Code::PreconditionFailed, e.to_string()))
        }
        Err(e @ UpdateError::UnderReview { .. }) => Err(AppError::conflict(e.to_string())),
        Err(UpdateError::Db(e)) => Err(e.into()),
    }
}

pub async fn delete_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    lesson_for(&state, &acting, &id, Action::Delete).await?;
    match state
        .db
        .delete_lesson(&id, &acting.actor, is_operator(&acting.caller))
        .await?
    {
        Some(true) => Ok(StatusCode::NO_CONTENT),
        Some(false) => Err(AppError::not_found("lesson")),
        None => Err(AppError::conflict(
            "a published lesson cannot be deleted; withdraw it first",
        )),
    }
}

/// The optional body of publish and withdraw: a time in the future schedules the step; `null`
/// cancels a schedule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    #[serde(default, deserialize_with = "present")]
    at: Option<Option<String>>,
    /// On publication: who receives it inside its scope (see `PUT …/audience`).
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
    what: crate::db::workflow::Scheduled,
    body: Option<StepBody>,
) -> Result<Response, AppError> {
    use crate::db::workflow::Scheduled;
    let action = match what {
        Scheduled::Publish => Action::Publish,
        Scheduled::Withdraw => Action::Withdraw,
    };
    let mut lesson = lesson_for(state, acting, id, action).await?;
    let (at, audience) = match body {
        Some(b) => (Some(b.at), b.audience),
        None => (None, None),
    };
    if let Some(a) = audience {
        if what != Scheduled::Publish {
            return Err(Invalid::new("audience", "is given when publishing").into());
        }
        let (org_id, platforms) = super::platforms::check_audience(state, &lesson, &a).await?;
        if !state
            .db
            .set_audience(&lesson, org_id.as_deref(), &platforms, &acting.actor)
            .await?
        {
            return Err(AppError::not_found("lesson"));
        }
        lesson = visible_lesson(state, &acting.caller, id).await?;
    }
    let at = match at {
        None | Some(None) => None,
        Some(Some(None)) => {
            let lesson = state
                .db
                .schedule(&lesson, what, None, &acting.actor)
                .await?;
            return respond(state, StatusCode::OK, lesson).await;
        }
        Some(Some(Some(t))) => Some(parse_time("at", &t)?),
    };
    let require_approved = !matches!(acting.caller, Caller::Operator { .. });
    let lesson = match (what, at) {
        (_, Some(at)) if at > crate::db::now_ms() => {
            if what == Scheduled::Publish && require_approved {
                // Fail now, not at the scheduled time, when there is nothing approved.
                match state.db.revisions(id).await?.last() {
                    Some(r) if r.state == RevisionState::Approved => {}
                    _ => {
                        return Err(AppError::conflict(
                            "only an approved revision can be scheduled for publication",
                        ));
                    }
                }
            }
            state
                .db
                .schedule(&lesson, what, Some(at), &acting.actor)
                .await?
        }
        (Scheduled::Publish, _) => {
            state
                .db
                .publish(id, require_approved, &acting.actor)
                .await?
        }
        (Scheduled::Withdraw, _) => state.db.withdraw(id, &acting.actor).await?,
    };
    respond(state, StatusCode::OK, lesson).await
}

/// `POST /api/v1/lessons/{id}/publish`: makes the approved revision live (operators: the lesson
/// as it stands), or schedules that with `{"at": "…"}`.
pub async fn publish_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = super::optional_json(&body)?;
    step(
        &state,
        &acting,
        &id,
        crate::db::workflow::Scheduled::Publish,
        body,
    )
    .await
}

/// `POST /api/v1/lessons/{id}/withdraw`: takes the lesson down, now or at `{"at": "…"}`.
pub async fn withdraw_lesson(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = super::optional_json(&body)?;
    step(
        &state,
        &acting,
        &id,
        crate::db::workflow::Scheduled::Withdraw,
        body,
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    kind: Option<String>,
    tag: Option<String>,
    region: Option<String>,
    status: Option<String>,
    /// Only lessons owned by this organisation or below it.
    org: Option<String>,
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
    let org_prefix = match &q.org {
        None => None,
        Some(id) => Some(
            state
                .db
                .org(id)
                .await?
                .ok_or_else(|| Invalid::new("org", "no such organisation"))?
                .path,
        ),
    };
    let filter = LessonFilter {
        kind: kind.flatten().map(|k| k.as_str().to_owned()),
        status: status.flatten().map(|s| s.as_str().to_owned()),
        tag: q.tag,
        series: None,
        region_prefix: region.flatten().map(|r| r.subtree_prefix().to_owned()),
        org_prefix,
        after_id: q.cursor,
    };
    let lessons = state
        .db
        .lessons(&read_scope(&caller), &filter, limit + 1)
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
