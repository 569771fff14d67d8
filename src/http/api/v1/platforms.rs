//! `/api/v1/platforms`: downstream platforms, their keys and statistics; `/api/v1/lessons/{id}/
//! audience`: who receives a lesson; `/api/v1/feed`: what a platform pulls.

use super::lessons::lesson_for;
use crate::db::platforms::{KeyRecord, PlatformRecord};
use crate::domain::job::{JobKind, JobState};
use crate::domain::time::rfc3339;
use crate::domain::visibility::{Action, Caller, Platform};
use crate::domain::{Invalid, org};
use crate::http::AppState;
use crate::http::error::{AppError, Code, Extra};
use crate::http::extract::{Json, Path, Query, Writer};
use crate::publish::feed::{Cursor, FeedError};
use crate::services::platforms::{self, Described, Issued, Listed, NewPlatform, PlatformChange};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersInput {
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    series: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePlatform {
    org_id: String,
    name: String,
    channel: String,
    filters: Option<FiltersInput>,
    webhook_url: Option<String>,
    /// A name for the first key (default "initial").
    key_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlatform {
    name: Option<String>,
    channel: Option<String>,
    filters: Option<FiltersInput>,
    #[serde(default, deserialize_with = "super::present")]
    webhook_url: Option<Option<String>>,
    /// Issue a new webhook signing secret (shown once in the answer).
    #[serde(default)]
    rotate_webhook_secret: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: Option<String>,
}

/// A platform as administrators see it (never its keys' secrets or its webhook secret).
pub fn platform_json(p: &PlatformRecord, keys: &[KeyRecord], head: i64, failed: i64) -> Value {
    json!({
        "id": p.id,
        "org_id": p.org_id,
        "name": p.name,
        "channel": p.channel,
        "filters": p.filters(),
        "webhook_url": p.webhook_url,
        "disabled": p.disabled_at.is_some(),
        "created_at": rfc3339(p.created_at),
        "updated_at": rfc3339(p.updated_at),
        "keys": keys.iter().map(|k| json!({
            "id": k.id,
            "name": k.name,
            "created_at": rfc3339(k.created_at),
            "last_used_at": k.last_used_at.map(rfc3339),
            "revoked": k.revoked_at.is_some(),
        })).collect::<Vec<_>>(),
        "stats": {
            "last_pull_at": p.last_pull_at.map(rfc3339),
            "cursor_position": p.last_pull_seq,
            "cursor_lag": p.last_pull_seq.map(|s| (head - s).max(0)),
            "deliveries_failed": failed,
        },
    })
}

/// What administrators see of a platform, as JSON.
pub fn described_json(d: &Described) -> Value {
    platform_json(&d.platform, &d.keys, d.head, d.failed_deliveries)
}

/// Everything about a platform shown once: its key, its webhook secret.
fn issued_json(issued: Issued) -> Value {
    let mut body = described_json(&issued.described);
    if let Some((k, secret)) = issued.key {
        body["key"] = json!({ "id": k.id, "secret": secret });
    }
    if let Some(s) = issued.webhook_secret {
        body["webhook_secret"] = json!(s);
    }
    body
}

fn filters_of(f: Option<FiltersInput>) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
    f.map(|f| (f.kinds, f.tags, f.series))
}

/// `POST /api/v1/platforms`: registers a platform under an organisation the caller administers,
/// with its first key (and webhook secret) shown once.
pub async fn create(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreatePlatform>,
) -> Result<Response, AppError> {
    let new = NewPlatform {
        org_id: input.org_id,
        name: input.name,
        channel: input.channel,
        filters: filters_of(input.filters),
        webhook_url: input.webhook_url,
        key_name: input.key_name,
    };
    let issued = platforms::create(&state.db, &acting, new).await?;
    Ok((StatusCode::CREATED, Json(issued_json(issued))).into_response())
}

/// A platform as staff who only publish to it by name see it.
pub fn named_json(p: &PlatformRecord) -> Value {
    json!({
        "id": p.id, "org_id": p.org_id, "name": p.name, "channel": p.channel,
        "disabled": p.disabled_at.is_some(),
    })
}

/// `GET /api/v1/platforms`: the platforms of the subtrees where the caller works.
pub async fn list(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<Value>, AppError> {
    let (listed, _) = platforms::list(&state.db, &acting).await?;
    let items: Vec<Value> = listed
        .iter()
        .map(|l| match l {
            Listed::Administered(d) => described_json(d),
            // Editors and reviewers see enough to publish to a platform by name.
            Listed::Named(p) => named_json(p),
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let d = platforms::get(&state.db, &acting, &id).await?;
    Ok(Json(described_json(&d)))
}

/// `PATCH /api/v1/platforms/{id}`: name, channel, filters, webhook URL, or a new webhook secret.
pub async fn update(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<UpdatePlatform>,
) -> Result<Json<Value>, AppError> {
    let change = PlatformChange {
        name: input.name,
        channel: input.channel,
        filters: filters_of(input.filters),
        webhook_url: input.webhook_url,
        rotate_webhook_secret: input.rotate_webhook_secret,
    };
    let issued = platforms::update(&state.db, &acting, &id, change).await?;
    Ok(Json(issued_json(issued)))
}

/// `DELETE /api/v1/platforms/{id}`: disables the platform; its keys stop working at once.
pub async fn disable(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    platforms::disable(&state.db, &acting, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/platforms/{id}/keys`: a new key, shown once; the others keep working.
pub async fn create_key(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<CreateKey>,
) -> Result<Response, AppError> {
    let (k, key) = platforms::create_key(&state.db, &acting, &id, input.name.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": k.id, "name": k.name, "secret": key })),
    )
        .into_response())
}

/// `DELETE /api/v1/platforms/{id}/keys/{key_id}`: revokes a key; it is refused from the next
/// request on.
pub async fn revoke_key(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    platforms::revoke_key(&state.db, &acting, &id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- the audience of a lesson ---

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceInput {
    /// A subtree inside the lesson's scope; absent or null: the whole scope.
    org_id: Option<String>,
    /// Named platforms inside the scope; absent or empty: every platform of the audience.
    #[serde(default)]
    platforms: Vec<String>,
}

/// Checks an audience against the lesson's scope: never wider than what was approved.
pub async fn check_audience(
    state: &AppState,
    lesson: &crate::db::lessons::LessonRecord,
    input: &AudienceInput,
) -> Result<(Option<String>, Vec<String>), AppError> {
    let inside = |path: &str| lesson.scope_path.is_empty() || org::within(path, &lesson.scope_path);
    if input.org_id.is_some() && !input.platforms.is_empty() {
        return Err(Invalid::new("platforms", "name platforms or a subtree, not both").into());
    }
    let org_id = match &input.org_id {
        None => None,
        Some(id) => {
            let o = state
                .db
                .org(id)
                .await?
                .filter(|o| inside(&o.path))
                .ok_or_else(|| {
                    Invalid::new(
                        "org_id",
                        "must be an organisation inside the lesson's scope",
                    )
                })?;
            Some(o.id)
        }
    };
    if input.platforms.len() > 100 {
        return Err(Invalid::new("platforms", "at most 100 platforms").into());
    }
    let mut platforms: Vec<String> = Vec::new();
    for id in &input.platforms {
        let p = state.db.platform(id).await?.filter(|p| inside(&p.org_path));
        match p {
            Some(p) if p.disabled_at.is_none() => {
                if !platforms.contains(&p.id) {
                    platforms.push(p.id);
                }
            }
            _ => {
                return Err(Invalid::new(
                    "platforms",
                    format!("{id} is not an enabled platform inside the lesson's scope"),
                )
                .into());
            }
        }
    }
    Ok((org_id, platforms))
}

/// `PUT /api/v1/lessons/{id}/audience`: who receives the lesson inside its scope. Needs the
/// right to publish it.
pub async fn set_audience(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<AudienceInput>,
) -> Result<Json<Value>, AppError> {
    let lesson = lesson_for(&state, &acting, &id, Action::Publish).await?;
    let (org_id, platforms) = check_audience(&state, &lesson, &input).await?;
    if !state
        .db
        .set_audience(&lesson, org_id.as_deref(), &platforms, &acting.actor)
        .await?
    {
        return Err(AppError::not_found("lesson"));
    }
    Ok(Json(
        json!({ "lesson_id": id, "org_id": org_id, "platforms": platforms }),
    ))
}

// --- the feed ---

fn platform_of(caller: &Caller) -> Result<&Platform, AppError> {
    match caller {
        Caller::Platform(p) => Ok(p),
        Caller::Anonymous => Err(AppError::unauthorized(
            "the feed needs a platform key: Authorization: Bearer lpk_…",
        )),
        _ => Err(AppError::forbidden("the feed is for platform keys")),
    }
}

impl From<FeedError> for AppError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Gone => AppError::new(Code::Gone, e.to_string())
                .with_extra(Extra::Snapshot("/api/v1/feed/snapshot".to_owned())),
            FeedError::Invalid(i) => i.into(),
            FeedError::Db(e) => e.into(),
            FeedError::Render(e) => AppError::internal(&e),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    cursor: Option<String>,
    limit: Option<usize>,
    /// Seconds to wait for something new when nothing is (long polling), at most 60.
    wait: Option<u64>,
}

/// `GET /api/v1/feed?cursor=…&limit=…&wait=…`: the platform's upserts and tombstones after the
/// cursor, in order, with the cursor to pass next.
pub async fn feed(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<FeedQuery>,
) -> Result<Json<Value>, AppError> {
    let p = platform_of(&caller)?;
    let mut errors = Vec::new();
    let cursor = Cursor::decode(q.cursor.as_deref().unwrap_or(""))
        .map_err(|e| errors.push(e))
        .ok();
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.push(Invalid::new("limit", "must be between 1 and 1000"));
    }
    let wait = q.wait.unwrap_or(0);
    if wait > 60 {
        errors.push(Invalid::new("wait", "must be at most 60 seconds"));
    }
    let Some(mut cursor) = cursor.filter(|_| errors.is_empty()) else {
        return Err(AppError::invalid(&errors));
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let mut head = state.hub.watch_head();
    let page = loop {
        head.mark_unchanged();
        let page = state.hub.feed.page(p, &cursor, limit).await?;
        if !page.items.is_empty() || page.more || tokio::time::Instant::now() >= deadline {
            break page;
        }
        cursor = page.cursor;
        // Nothing for this platform yet: wait for the head to move, then look again.
        if tokio::time::timeout_at(deadline, head.changed())
            .await
            .is_err()
        {
            break crate::publish::feed::Page {
                items: Vec::new(),
                cursor,
                more: false,
            };
        }
    };
    state.hub.note_pull(&p.id, page.cursor.seq);
    Ok(Json(json!({
        "items": page.items,
        "cursor": page.cursor.encode(),
        "more": page.more,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    page_token: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/feed/snapshot?page_token=…`: everything the platform receives now, by lesson id,
/// with checksums; the last page names the feed cursor to follow from.
pub async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SnapshotQuery>,
) -> Result<Json<Value>, AppError> {
    let p = platform_of(&caller)?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(Invalid::new("limit", "must be between 1 and 1000").into());
    }
    let token = q.page_token.unwrap_or_default();
    if token.len() > 300 {
        return Err(Invalid::new("page_token", "is not a token this endpoint returned").into());
    }
    let page = state.hub.feed.snapshot(p, &token, limit).await?;
    Ok(Json(json!({
        "items": page.items,
        "next_page_token": page.next,
        "cursor": page.cursor.encode(),
    })))
}

// --- webhook deliveries ---

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// `dead` (the default: the dead-letter list), `pending` or `done`.
    state: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/platforms/{id}/deliveries?state=dead`: webhook deliveries of the platform; the
/// dead ones are those that failed for the whole retry window.
pub async fn deliveries(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<Value>, AppError> {
    let p = platforms::administered(&state.db, &acting, &id, "read").await?;
    let which = q.state.as_deref().unwrap_or("dead");
    if !matches!(which, "dead" | "pending" | "done") {
        return Err(Invalid::new("state", "must be dead, pending or done").into());
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Invalid::new("limit", "must be between 1 and 1000").into());
    }
    // Pending includes what is being attempted right now.
    let states: &[JobState] = match which {
        "dead" => &[JobState::Dead],
        "done" => &[JobState::Done],
        _ => &[JobState::Pending, JobState::Running],
    };
    let jobs = state
        .db
        .jobs_of(JobKind::Webhook, &p.id, states, limit)
        .await?;
    let items: Vec<Value> = jobs
        .iter()
        .map(|j| {
            let d: Option<crate::publish::webhooks::Delivery> =
                serde_json::from_str(&j.payload).ok();
            json!({
                "id": j.id,
                "state": j.state,
                "message_id": d.as_ref().map(|d| d.message_id.clone()),
                "event": d.and_then(|d| serde_json::from_str::<Value>(&d.body).ok()),
                "attempts": j.attempts,
                "last_error": j.last_error,
                "next_attempt_at": (j.state == JobState::Pending).then(|| rfc3339(j.run_at)),
                "queued_at": rfc3339(j.created_at),
                "updated_at": rfc3339(j.updated_at),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/v1/platforms/{id}/deliveries/{delivery_id}/redeliver`: queues a dead (or done)
/// delivery again, to be sent now with a fresh retry window.
pub async fn redeliver(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let p = platforms::administered(&state.db, &acting, &id, "redeliver").await?;
    if state
        .db
        .retry_job(JobKind::Webhook, &p.id, &delivery)
        .await?
    {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(AppError::not_found("delivery that is dead or done"))
    }
}
