//! `/api/v1/platforms`: downstream platforms, their keys, statistics and webhook deliveries;
//! `/api/v1/lessons/{id}/audience`: who receives a lesson; `/api/v1/feed`: what a platform pulls.
//! Thin adapters over `services::platforms` and the feed (`publish::feed`).

use crate::db::platforms::{KeyRecord, PlatformRecord};
use crate::domain::Invalid;
use crate::domain::job::JobState;
use crate::domain::platform::{Channel, Filters};
use crate::domain::time::rfc3339;
use crate::domain::visibility::{Caller, Platform};
use crate::http::AppState;
use crate::http::error::{AppError, Code, Extra, Problem};
use crate::http::extract::{Json, Path, Query, Writer};
use crate::publish::feed::{Cursor, FeedError, Item};
use crate::publish::webhooks::WebhookEvent;
use crate::services::platforms::{
    self, Delivery, DeliveryState, Described, Issued, Listed, NewPlatform, PlatformChange,
};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FiltersInput {
    /// Lesson kinds; empty or absent for any.
    #[serde(default)]
    #[schema(value_type = Vec<crate::domain::lesson::LessonKind>)]
    kinds: Vec<String>,
    /// Tags; a lesson passes with one of them. Empty or absent for any.
    #[serde(default)]
    tags: Vec<String>,
    /// Series names; empty or absent for any.
    #[serde(default)]
    series: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlatform {
    /// The organisation it belongs to (one the caller administers).
    org_id: String,
    /// 1–100 characters on one line.
    name: String,
    #[schema(value_type = Channel)]
    channel: String,
    filters: Option<FiltersInput>,
    /// An https URL (http to loopback only) to push the feed to as signed webhooks.
    webhook_url: Option<String>,
    /// A name for the first key (default "initial").
    key_name: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlatform {
    name: Option<String>,
    #[schema(value_type = Option<Channel>)]
    channel: Option<String>,
    /// New filters: the platform's feed re-evaluates everything it receives or was sent.
    filters: Option<FiltersInput>,
    /// `null` removes the webhook; absent keeps it.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>)]
    webhook_url: Option<Option<String>>,
    /// Issue a new webhook signing secret (shown once in the answer).
    #[serde(default)]
    rotate_webhook_secret: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// 1–100 characters on one line (default "key").
    name: Option<String>,
}

/// A platform key as administrators see it (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

impl From<&KeyRecord> for KeyView {
    fn from(k: &KeyRecord) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
            revoked: k.revoked_at.is_some(),
        }
    }
}

/// How a platform keeps up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlatformStats {
    /// When it last pulled its feed; `null` if never.
    pub last_pull_at: Option<String>,
    /// The change-log position of its last pull.
    pub cursor_position: Option<i64>,
    /// How many change-log positions it is behind the head.
    pub cursor_lag: Option<i64>,
    /// Webhook deliveries that failed for their whole retry window.
    pub deliveries_failed: i64,
}

/// A platform as administrators see it (never its keys' secrets or its webhook secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlatformView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub channel: Channel,
    pub filters: Filters,
    pub webhook_url: Option<String>,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
    pub keys: Vec<KeyView>,
    pub stats: PlatformStats,
}

impl PlatformView {
    fn new(p: &PlatformRecord, keys: &[KeyRecord], head: i64, failed: i64) -> Self {
        Self {
            id: p.id.clone(),
            org_id: p.org_id.clone(),
            name: p.name.clone(),
            channel: p.channel,
            filters: p.filters(),
            webhook_url: p.webhook_url.clone(),
            disabled: p.disabled_at.is_some(),
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
            keys: keys.iter().map(KeyView::from).collect(),
            stats: PlatformStats {
                last_pull_at: p.last_pull_at.map(rfc3339),
                cursor_position: p.last_pull_seq,
                cursor_lag: p.last_pull_seq.map(|s| (head - s).max(0)),
                deliveries_failed: failed,
            },
        }
    }
}

impl From<&Described> for PlatformView {
    fn from(d: &Described) -> Self {
        Self::new(&d.platform, &d.keys, d.head, d.failed_deliveries)
    }
}

/// A key as issued: its secret is shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub id: String,
    /// `lpk_…`, the bearer token of the platform; stored only as a hash.
    pub secret: String,
}

/// A platform just created or changed: what administrators see of it (the fields of
/// [`PlatformView`], repeated rather than flattened so the schema is one plain object), with what
/// is shown only once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedPlatformView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub channel: Channel,
    pub filters: Filters,
    pub webhook_url: Option<String>,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
    pub keys: Vec<KeyView>,
    pub stats: PlatformStats,
    /// The first key, on creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<IssuedKey>,
    /// The webhook signing secret (`whsec_…`), when one was issued: on creation with a webhook,
    /// when a webhook is first set, or on `rotate_webhook_secret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl From<Issued> for IssuedPlatformView {
    fn from(issued: Issued) -> Self {
        let p = PlatformView::from(&issued.described);
        Self {
            id: p.id,
            org_id: p.org_id,
            name: p.name,
            channel: p.channel,
            filters: p.filters,
            webhook_url: p.webhook_url,
            disabled: p.disabled,
            created_at: p.created_at,
            updated_at: p.updated_at,
            keys: p.keys,
            stats: p.stats,
            key: issued.key.map(|(k, secret)| IssuedKey { id: k.id, secret }),
            webhook_secret: issued.webhook_secret,
        }
    }
}

/// A platform as staff who only publish to it by name see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NamedPlatformView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub channel: Channel,
    pub disabled: bool,
}

impl From<&PlatformRecord> for NamedPlatformView {
    fn from(p: &PlatformRecord) -> Self {
        Self {
            id: p.id.clone(),
            org_id: p.org_id.clone(),
            name: p.name.clone(),
            channel: p.channel,
            disabled: p.disabled_at.is_some(),
        }
    }
}

/// A platform in a listing: everything for its administrators, enough to publish to it by
/// name for editors and reviewers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PlatformListItem {
    Administered(Box<PlatformView>),
    Named(NamedPlatformView),
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlatformList {
    pub items: Vec<PlatformListItem>,
}

fn filters_of(f: Option<FiltersInput>) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
    f.map(|f| (f.kinds, f.tags, f.series))
}

/// `POST /api/v1/platforms`: registers a platform under an organisation the caller administers,
/// with its first key (and webhook secret) shown once.
#[utoipa::path(
    post,
    path = "/api/v1/platforms",
    tag = "platforms",
    summary = "Register a platform under an organisation the caller administers; the answer shows its first key (and webhook secret) once",
    request_body = CreatePlatform,
    security(("bearer" = [])),
    responses((status = 201, description = "the platform, with its first key", body = IssuedPlatformView))
)]
pub async fn create(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreatePlatform>,
) -> Result<(StatusCode, Json<IssuedPlatformView>), AppError> {
    let new = NewPlatform {
        org_id: input.org_id,
        name: input.name,
        channel: input.channel,
        filters: filters_of(input.filters),
        webhook_url: input.webhook_url,
        key_name: input.key_name,
    };
    let issued = platforms::create(&state.db, &acting, new).await?;
    Ok((StatusCode::CREATED, Json(issued.into())))
}

/// `GET /api/v1/platforms`: the platforms of the subtrees where the caller works.
#[utoipa::path(
    get,
    path = "/api/v1/platforms",
    tag = "platforms",
    summary = "Platforms of the subtrees where the caller works: with keys and statistics (last pull, cursor lag, failed deliveries) for their administrators, by name for editors and reviewers",
    security(("bearer" = [])),
    responses((status = 200, description = "the platforms", body = PlatformList))
)]
pub async fn list(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<PlatformList>, AppError> {
    let (listed, _) = platforms::list(&state.db, &acting).await?;
    let items = listed
        .iter()
        .map(|l| match l {
            Listed::Administered(d) => PlatformListItem::Administered(Box::new(d.into())),
            Listed::Named(p) => PlatformListItem::Named(p.into()),
        })
        .collect();
    Ok(Json(PlatformList { items }))
}

/// `GET /api/v1/platforms/{id}`: one platform the caller administers.
#[utoipa::path(
    get,
    path = "/api/v1/platforms/{id}",
    tag = "platforms",
    summary = "One platform the caller administers, with keys and statistics",
    params(("id" = String, Path, description = "the platform")),
    security(("bearer" = [])),
    responses((status = 200, description = "the platform", body = PlatformView))
)]
pub async fn get(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<PlatformView>, AppError> {
    let d = platforms::get(&state.db, &acting, &id).await?;
    Ok(Json((&d).into()))
}

/// `PATCH /api/v1/platforms/{id}`: name, channel, filters, webhook URL, or a new webhook secret.
#[utoipa::path(
    patch,
    path = "/api/v1/platforms/{id}",
    tag = "platforms",
    summary = "Change name, channel, filters or webhook_url; rotate_webhook_secret issues a new secret. A change of filters makes the platform's feed re-evaluate everything",
    params(("id" = String, Path, description = "the platform")),
    request_body = UpdatePlatform,
    security(("bearer" = [])),
    responses((status = 200, description = "the platform, with a webhook secret if one was issued", body = IssuedPlatformView))
)]
pub async fn update(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<UpdatePlatform>,
) -> Result<Json<IssuedPlatformView>, AppError> {
    let change = PlatformChange {
        name: input.name,
        channel: input.channel,
        filters: filters_of(input.filters),
        webhook_url: input.webhook_url,
        rotate_webhook_secret: input.rotate_webhook_secret,
    };
    let issued = platforms::update(&state.db, &acting, &id, change).await?;
    Ok(Json(issued.into()))
}

/// `DELETE /api/v1/platforms/{id}`: disables the platform; its keys stop working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/platforms/{id}",
    tag = "platforms",
    summary = "Disable a platform: every key stops working at once and nothing more is delivered",
    params(("id" = String, Path, description = "the platform")),
    security(("bearer" = [])),
    responses((status = 204, description = "disabled"))
)]
pub async fn disable(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    platforms::disable(&state.db, &acting, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new key, with its secret shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewKeyView {
    pub id: String,
    pub name: String,
    /// `lpk_…`, the bearer token of the platform; stored only as a hash.
    pub secret: String,
}

/// `POST /api/v1/platforms/{id}/keys`: a new key, shown once; the others keep working.
#[utoipa::path(
    post,
    path = "/api/v1/platforms/{id}/keys",
    tag = "platforms",
    summary = "Add a key (rotation without downtime: add, switch, revoke the old); its secret is shown once",
    params(("id" = String, Path, description = "the platform")),
    request_body = CreateKey,
    security(("bearer" = [])),
    responses((status = 201, description = "the key, with its secret", body = NewKeyView))
)]
pub async fn create_key(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<CreateKey>,
) -> Result<(StatusCode, Json<NewKeyView>), AppError> {
    let (k, key) = platforms::create_key(&state.db, &acting, &id, input.name.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewKeyView {
            id: k.id,
            name: k.name,
            secret: key,
        }),
    ))
}

/// `DELETE /api/v1/platforms/{id}/keys/{key_id}`: revokes a key; it is refused from the next
/// request on.
#[utoipa::path(
    delete,
    path = "/api/v1/platforms/{id}/keys/{key_id}",
    tag = "platforms",
    summary = "Revoke a key; it is refused from the next request on",
    params(
        ("id" = String, Path, description = "the platform"),
        ("key_id" = String, Path, description = "the key")
    ),
    security(("bearer" = [])),
    responses((status = 204, description = "revoked"))
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    platforms::revoke_key(&state.db, &acting, &id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- the audience of a lesson ---

/// Who receives a lesson inside its scope: a subtree (`org_id`), named platforms
/// (`platforms`), or neither (`{}`: the whole scope). Never both.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceInput {
    /// A subtree inside the lesson's scope; absent or null: the whole scope.
    org_id: Option<String>,
    /// Enabled platforms inside the scope (at most 100); absent or empty: every platform of the
    /// audience.
    #[serde(default)]
    platforms: Vec<String>,
}

/// Checks an audience against the lesson's scope: never wider than what was approved (see
/// `services::platforms::check_audience`).
pub async fn check_audience(
    state: &AppState,
    lesson: &crate::db::lessons::LessonRecord,
    input: &AudienceInput,
) -> Result<(Option<String>, Vec<String>), AppError> {
    Ok(
        platforms::check_audience(&state.db, lesson, input.org_id.as_deref(), &input.platforms)
            .await?,
    )
}

/// Who receives a lesson, as set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LessonAudienceView {
    pub lesson_id: String,
    /// The subtree that receives it; `null` for the whole scope (or named platforms).
    pub org_id: Option<String>,
    /// The platforms it is published to by name; empty when it goes to its whole audience.
    pub platforms: Vec<String>,
}

/// `PUT /api/v1/lessons/{id}/audience`: who receives the lesson inside its scope. Needs the
/// right to publish it.
#[utoipa::path(
    put,
    path = "/api/v1/lessons/{id}/audience",
    tag = "platforms",
    summary = "Who receives a lesson inside its scope: { org_id } (a subtree), { platforms: [id] } (named platforms only), or {} (the whole scope); never wider than the scope. Needs the right to publish it",
    params(("id" = String, Path, description = "the lesson")),
    request_body = AudienceInput,
    security(("bearer" = [])),
    responses((status = 200, description = "the audience", body = LessonAudienceView))
)]
pub async fn set_audience(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<AudienceInput>,
) -> Result<Json<LessonAudienceView>, AppError> {
    let set = platforms::set_audience(
        &state.db,
        &acting,
        &id,
        input.org_id.as_deref(),
        &input.platforms,
    )
    .await?;
    Ok(Json(LessonAudienceView {
        lesson_id: set.lesson_id,
        org_id: set.org_id,
        platforms: set.platforms,
    }))
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The `cursor` of the previous page; absent or empty: from the start.
    cursor: Option<String>,
    /// At most this many items (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// Seconds to wait for something new when nothing is (long polling), at most 60.
    #[param(minimum = 0, maximum = 60)]
    wait: Option<u64>,
}

/// A page of a platform's feed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    /// Upserts and tombstones in change-log order, each lesson at most once per page.
    pub items: Vec<Item>,
    /// Where to continue: pass it as `cursor` next time.
    pub cursor: String,
    /// Whether more may follow at once (ask again without waiting).
    pub more: bool,
}

/// `GET /api/v1/feed?cursor=…&limit=…&wait=…`: the platform's upserts and tombstones after the
/// cursor, in order, with the cursor to pass next.
#[utoipa::path(
    get,
    path = "/api/v1/feed",
    tag = "feed",
    summary = "The calling platform's changes after a cursor, in order: upserts (the lesson, its assets with size, SHA-256, type and a presigned expiring URL, and a checksum) and tombstones (withdrawn, deleted, out_of_scope). No committed change is skipped; items are idempotent by change_id; wait=N (≤ 60 s) long-polls",
    params(FeedQuery),
    security(("platformKey" = [])),
    responses(
        (status = 200, description = "a page of the feed", body = FeedPage),
        (status = 410, description = "the cursor is older than the change log kept (or ahead of it): start again from `snapshot`, /api/v1/feed/snapshot", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn feed(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<FeedQuery>,
) -> Result<Json<FeedPage>, AppError> {
    let p = platform_of(&caller)?;
    metrics::counter!("lectern_feed_pulls_total", "platform" => p.id.clone()).increment(1);
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
    Ok(Json(FeedPage {
        items: page.items,
        cursor: page.cursor.encode(),
        more: page.more,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// The `next_page_token` of the previous page; absent for the first.
    #[param(max_length = 300)]
    page_token: Option<String>,
    /// At most this many lessons (default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// A page of a platform's snapshot.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotPageView {
    /// Upserts of what the platform receives, by lesson id.
    pub items: Vec<Item>,
    /// The next page's token; `null` on the last page.
    pub next_page_token: Option<String>,
    /// Where to follow the feed once every page is read (the head when the snapshot began).
    pub cursor: String,
}

/// `GET /api/v1/feed/snapshot?page_token=…`: everything the platform receives now, by lesson id,
/// with checksums; the last page names the feed cursor to follow from.
#[utoipa::path(
    get,
    path = "/api/v1/feed/snapshot",
    tag = "feed",
    summary = "Everything the calling platform receives now, by lesson id, with checksums; the cursor continues in /api/v1/feed",
    params(SnapshotQuery),
    security(("platformKey" = [])),
    responses((status = 200, description = "a page of the snapshot", body = SnapshotPageView))
)]
pub async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SnapshotQuery>,
) -> Result<Json<SnapshotPageView>, AppError> {
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
    Ok(Json(SnapshotPageView {
        items: page.items,
        next_page_token: page.next,
        cursor: page.cursor.encode(),
    }))
}

// --- webhook deliveries ---

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// `dead` (the default: the dead-letter list), `pending` (including those being attempted)
    /// or `done`.
    #[param(value_type = Option<DeliveryState>)]
    state: Option<String>,
    /// At most this many (default 100), newest first.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// A webhook delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// The delivery's id (its job's), for `redeliver`.
    pub id: String,
    pub state: JobState,
    /// The `webhook-id` receivers deduplicate by, stable across attempts.
    pub message_id: Option<String>,
    /// The event sent.
    pub event: Option<WebhookEvent>,
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<String>,
    pub queued_at: String,
    pub updated_at: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let j = d.job;
        Self {
            next_attempt_at: (j.state == JobState::Pending).then(|| rfc3339(j.run_at)),
            queued_at: rfc3339(j.created_at),
            updated_at: rfc3339(j.updated_at),
            id: j.id,
            state: j.state,
            message_id: d.message_id,
            event: d.event,
            attempts: j.attempts,
            last_error: j.last_error,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
}

/// `GET /api/v1/platforms/{id}/deliveries?state=dead`: webhook deliveries of the platform; the
/// dead ones are those that failed for the whole retry window.
#[utoipa::path(
    get,
    path = "/api/v1/platforms/{id}/deliveries",
    tag = "platforms",
    summary = "Webhook deliveries of a platform, newest first: state=dead (the dead-letter list, default), pending or done",
    params(("id" = String, Path, description = "the platform"), DeliveriesQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "the deliveries", body = DeliveryList))
)]
pub async fn deliveries(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, AppError> {
    let mut errors = Vec::new();
    let which = DeliveryState::parse(q.state.as_deref())
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.push(Invalid::new("limit", "must be between 1 and 1000"));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(&errors));
    }
    let items = platforms::deliveries(&state.db, &acting, &id, which, limit)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect();
    Ok(Json(DeliveryList { items }))
}

/// `POST /api/v1/platforms/{id}/deliveries/{delivery_id}/redeliver`: queues a dead (or done)
/// delivery again, to be sent now with a fresh retry window.
#[utoipa::path(
    post,
    path = "/api/v1/platforms/{id}/deliveries/{delivery_id}/redeliver",
    tag = "platforms",
    summary = "Queue a dead or done delivery again, now, with a fresh retry window (audited)",
    params(
        ("id" = String, Path, description = "the platform"),
        ("delivery_id" = String, Path, description = "the delivery")
    ),
    security(("bearer" = [])),
    responses((status = 202, description = "queued again"))
)]
pub async fn redeliver(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    platforms::redeliver(&state.db, &acting, &id, &delivery).await?;
    Ok(StatusCode::ACCEPTED)
}
