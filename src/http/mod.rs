//! The HTTP layer: the only place that knows axum, wire formats and templates.
//!
//! Invariants: every error response is a problem body (`error::AppError`), including unknown
//! routes, wrong methods, malformed input and panics; every read asks
//! `domain::visibility` through the shared loaders (`api::v1::lessons::visible_lesson`).

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod feeds;
pub mod input;
pub mod multipart;
pub mod observe;
pub mod openapi;
pub mod server;
pub mod views;
mod web;
pub mod xapi;

pub use web::templates as web_templates;

use crate::config::Config;
use crate::db::Db;
use crate::ingest::Ingest;
use crate::storage::ObjectStore;
use api::v1::{assets, changes, jobs, lessons, orgs, platforms, review, uploads, users};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::{Json, Router};
use error::{AppError, Code};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub store: ObjectStore,
    pub ingest: Ingest,
    pub config: Arc<Config>,
    pub templates: Arc<minijinja::Environment<'static>>,
    pub search: Arc<crate::search::index::SearchIndex>,
    pub hub: Arc<crate::publish::Hub>,
    /// Media processing (its tools, for readiness).
    pub media: Arc<crate::media::Media>,
}

/// JSON bodies are small; files go through the streaming endpoints, which are not limited by this.
const JSON_LIMIT: usize = 1024 * 1024;

/// A router that remembers the path of every route it was given, so that rules meant for every
/// route can be tested over every route ([`route_paths`]); a new route is then covered without
/// anyone listing it again.
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Routes {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    pub fn route(mut self, path: &str, handler: MethodRouter<AppState>) -> Self {
        self.paths.push(path.to_owned());
        self.router = self.router.route(path, handler);
        self
    }

    fn nest(mut self, prefix: &str, inner: Routes) -> Self {
        self.paths
            .extend(inner.paths.into_iter().map(|p| format!("{prefix}{p}")));
        self.router = self.router.nest(prefix, inner.router);
        self
    }

    fn merge(mut self, other: Routes) -> Self {
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        self
    }

    /// Applies `f` (a layer, say) to the routes so far.
    pub fn map(mut self, f: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = f(self.router);
        self
    }
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

/// The path pattern of every route (`/api/v1/lessons/{id}`, …), in the order they were added.
pub fn route_paths() -> Vec<String> {
    routes().paths
}

pub fn router(state: AppState) -> Router {
    // Installed before the first request is counted.
    observe::recorder();
    routes()
        .router
        .route_layer(axum::middleware::from_fn(observe::remember_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(axum::middleware::from_fn(input::check_target))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            AppError::new(
                Code::Internal,
                "an internal error occurred; it has been logged",
            )
            .into_response()
        }))
        .with_state(state)
}

fn routes() -> Routes {
    let api = Routes::new()
        .route(
            "/lessons",
            get(lessons::list_lessons).post(lessons::create_lesson),
        )
        .route(
            "/lessons/{id}",
            get(lessons::get_lesson)
                .patch(lessons::update_lesson)
                .delete(lessons::delete_lesson),
        )
        .route("/lessons/{id}/publish", post(lessons::publish_lesson))
        .route("/lessons/{id}/withdraw", post(lessons::withdraw_lesson))
        .route("/lessons/{id}/assets", post(assets::upload_asset))
        .route(
            "/lessons/{id}/subtitles",
            get(api::v1::subtitles::list_subtitles),
        )
        .route(
            "/lessons/{id}/subtitles/{file}",
            get(api::v1::subtitles::subtitle_vtt),
        )
        .route(
            "/assets/{id}",
            get(assets::get_asset).delete(assets::delete_asset),
        )
        .route("/assets/{id}/content", get(assets::asset_content))
        .route("/assets/{id}/url", get(assets::asset_url))
        .route("/assets/{id}/media", get(api::v1::media::asset_media))
        .route(
            "/assets/{id}/media/{kind}/url",
            get(api::v1::media::rendition_url),
        )
        .route(
            "/assets/{id}/media/reprocess",
            post(api::v1::media::reprocess),
        )
        .route(
            "/assets/{id}/media/thumbnails.vtt",
            get(api::v1::media::thumbnails_vtt),
        )
        .route("/assets/{id}/media/hls/{file}", get(api::v1::hls::playlist))
        .route(
            "/assets/{id}/media/{kind}/file",
            get(api::v1::hls::rendition_file),
        )
        .route("/uploads", post(uploads::create).options(uploads::options))
        .route(
            "/uploads/{id}",
            axum::routing::head(uploads::head)
                .patch(uploads::patch)
                .delete(uploads::terminate)
                .options(uploads::options_of_upload),
        )
        .route("/lessons/{id}/submit", post(review::submit))
        .route("/lessons/{id}/approve", post(review::approve))
        .route("/lessons/{id}/reject", post(review::reject))
        .route("/lessons/{id}/recommend", post(review::recommend))
        .route("/lessons/{id}/revisions", get(review::revisions))
        .route(
            "/lessons/{id}/learning",
            get(api::v1::learning::get_lesson_learning),
        )
        .route("/lessons/{id}/revisions/compare", get(review::compare))
        .route("/review/queue", get(review::queue))
        .route("/recommendations", get(review::recommendations))
        .route("/recommendations/{id}/adopt", post(review::adopt))
        .route("/recommendations/{id}/decline", post(review::decline))
        .route("/orgs", get(orgs::list).post(orgs::create))
        .route("/orgs/{id}", get(orgs::get).patch(orgs::update))
        .route("/orgs/{id}/move", post(orgs::move_org))
        .route(
            "/orgs/{id}/completion-rules",
            get(api::v1::reports::list_rules).post(api::v1::reports::create_rule),
        )
        .route(
            "/orgs/{id}/completion-rules/{rule_id}",
            axum::routing::delete(api::v1::reports::delete_rule),
        )
        .route(
            "/orgs/{id}/reports/{period}",
            get(api::v1::reports::get_report),
        )
        .route(
            "/orgs/{id}/reports/{period}/{file}",
            get(api::v1::reports::get_report_file),
        )
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get).patch(users::update))
        .route("/users/{id}/grants", post(users::add_grant))
        .route("/users/{id}/anonymise", post(users::anonymise))
        .route(
            "/users/{id}/grants/{role}/{org_id}",
            axum::routing::delete(users::remove_grant),
        )
        .route("/me", get(users::me))
        .route("/me/positions", get(api::v1::positions::list_positions))
        .route("/me/learning", get(api::v1::learning::get_archive))
        .route("/me/learning.csv", get(api::v1::learning::get_archive_csv))
        .route(
            "/me/positions/{lesson_id}",
            axum::routing::put(api::v1::positions::put_position),
        )
        .route(
            "/me/reading/{lesson_id}",
            axum::routing::put(api::v1::positions::put_reading),
        )
        .route("/me/password", post(users::change_password))
        .route(
            "/me/tokens",
            get(users::list_tokens).post(users::create_token),
        )
        .route(
            "/me/tokens/{id}",
            axum::routing::delete(users::revoke_token),
        )
        .route("/audit", get(users::audit))
        .route("/changes", get(changes::list_changes))
        .route("/jobs", get(jobs::list))
        .route("/jobs/retry", post(jobs::retry_many))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/platforms", get(platforms::list).post(platforms::create))
        .route(
            "/platforms/{id}",
            get(platforms::get)
                .patch(platforms::update)
                .delete(platforms::disable),
        )
        .route("/platforms/{id}/keys", post(platforms::create_key))
        .route(
            "/platforms/{id}/keys/{key_id}",
            axum::routing::delete(platforms::revoke_key),
        )
        .route("/platforms/{id}/deliveries", get(platforms::deliveries))
        .route(
            "/platforms/{id}/deliveries/{delivery_id}/redeliver",
            post(platforms::redeliver),
        )
        .route("/lessons/{id}/audience", put(platforms::set_audience))
        .route("/feed", get(platforms::feed))
        .route("/feed/snapshot", get(platforms::snapshot))
        .route("/search", get(api::v1::search::search))
        .route("/search/suggest", get(api::v1::search::suggest))
        .route("/search/status", get(api::v1::search::status))
        .route(
            "/search/synonyms",
            get(api::v1::search::synonyms).put(api::v1::search::replace_synonyms),
        );
    let lrs = Routes::new()
        .route("/about", get(xapi::about))
        .route(
            "/statements",
            get(xapi::get_statements)
                .put(xapi::put_statement)
                .post(xapi::post_statements),
        )
        .route(
            "/activities/state",
            get(xapi::documents::get_state)
                .put(xapi::documents::put_state)
                .post(xapi::documents::post_state)
                .delete(xapi::documents::delete_state),
        )
        .route(
            "/activities/profile",
            get(xapi::documents::get_activity_profile)
                .put(xapi::documents::put_activity_profile)
                .post(xapi::documents::post_activity_profile)
                .delete(xapi::documents::delete_activity_profile),
        )
        .route(
            "/agents/profile",
            get(xapi::documents::get_agent_profile)
                .put(xapi::documents::put_agent_profile)
                .post(xapi::documents::post_agent_profile)
                .delete(xapi::documents::delete_agent_profile),
        )
        .route("/activities", get(xapi::documents::get_activity))
        .route("/agents", get(xapi::documents::get_agent))
        .map(|r| r.layer(axum::middleware::from_fn(xapi::versioned)));
    Routes::new()
        .nest("/api/v1", api)
        .nest("/api/xapi", lrs)
        .route("/api/openapi.json", get(openapi::document))
        .route("/oai", get(feeds::oai_get).post(feeds::oai_post))
        .route("/feeds/series/{file}", get(feeds::podcast))
        .route("/feeds/artwork.png", get(feeds::artwork))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .merge(web::routes())
}

async fn not_found() -> AppError {
    AppError::new(Code::NotFound, "no such resource")
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        Code::MethodNotAllowed,
        "this resource does not support that method",
    )
}

/// The answer of `/health/live`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LiveView {
    pub status: LiveStatus,
}

/// A process that answers at all is live.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveStatus {
    Ok,
}

/// `GET /health/live`: the process answers.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    summary = "Live: the process answers (for a supervisor's liveness probe)",
    responses((status = 200, description = "live", body = LiveView))
)]
pub async fn live() -> Json<LiveView> {
    Json(LiveView {
        status: LiveStatus::Ok,
    })
}

/// The answer of `/health/ready`: which dependency answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReadyView {
    /// The database answers a read and does not refuse a write.
    pub database: bool,
    /// Object storage answers.
    pub storage: bool,
    /// The search index follows the change log.
    pub search_index: bool,
    /// Media processing (reported only: it never makes the service unready).
    pub media: MediaReadyView,
}

/// Whether media processing can run, and the version of each program it uses (`null` when the
/// program is missing or broken).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MediaReadyView {
    pub available: bool,
    pub ffmpeg: Option<String>,
    pub ffprobe: Option<String>,
    pub pdftoppm: Option<String>,
    /// Machine transcripts (the speech engine): off until `lectern models install` has run.
    pub transcription: TranscriptionReadyView,
}

/// Whether machine transcripts are made, and with what.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TranscriptionReadyView {
    pub available: bool,
    /// The model (`whisper-base`) when available.
    pub model: Option<String>,
    /// faster-whisper's version when available.
    pub engine: Option<String>,
    /// Why transcription is off (no model installed, …); `null` when it is on.
    pub reason: Option<String>,
}

/// This process's name in the readiness probes' table.
static NODE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{}-{}", std::process::id(), uuid::Uuid::new_v4()));

/// How long each readiness check may take: the answer comes within this, whatever is down.
const READY_CHECK: std::time::Duration = std::time::Duration::from_millis(1500);

/// Ready when the database answers and does not refuse a write, the object store answers and
/// the search index is following the change log. The checks run at once, each bounded by
/// [`READY_CHECK`]. Media processing is reported (`media`: available, and each program's
/// version) but never makes the service unready: without ffmpeg, uploads and reads still work
/// and media jobs wait.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    summary = "Ready: the database answers and does not refuse a write, object storage answers, the search index follows the change log (each check bounded, the answer within 2 s)",
    responses(
        (status = 200, description = "ready: database, storage and search_index are true (media is reported only)", body = ReadyView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 503, description = "not ready: the false fields say what is down", body = ReadyView, headers(("Cache-Control" = String, description = "no-store")))
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    async fn within<E>(check: impl std::future::Future<Output = Result<(), E>>) -> bool {
        matches!(tokio::time::timeout(READY_CHECK, check).await, Ok(Ok(())))
    }
    // A write probe still waiting for the writer lock when time is up means a busy database,
    // not a broken one: only a write that fails (a full disk) or a read that does not answer
    // in time makes the database not ready. Else a node under heavy writes would flap.
    let write_probe = async {
        match tokio::time::timeout(READY_CHECK, state.db.probe_write(&NODE)).await {
            Ok(result) => result.is_ok(),
            Err(_) => true,
        }
    };
    let (read, write, storage) = tokio::join!(
        within(state.db.ping()),
        write_probe,
        within(state.store.ping())
    );
    let db = read && write;
    let index = state.search.following();
    let status = if db && storage && index {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let tools = state.media.tools();
    let body = ReadyView {
        database: db,
        storage,
        search_index: index,
        media: MediaReadyView {
            available: tools.unavailable().is_none(),
            ffmpeg: tools.ffmpeg.version.clone(),
            ffprobe: tools.ffprobe.version.clone(),
            pdftoppm: tools.pdftoppm.version.clone(),
            transcription: {
                let e = state.media.transcriber();
                TranscriptionReadyView {
                    available: e.unavailable.is_none(),
                    model: e
                        .unavailable
                        .is_none()
                        .then(|| crate::media::models::MODEL_NAME.to_owned()),
                    engine: e.version.as_ref().map(|v| format!("faster-whisper {v}")),
                    reason: e.unavailable.clone(),
                }
            },
        },
    };
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /metrics`: the node's metrics in Prometheus's text format (see `observe` for the request
/// metrics and ARCHITECTURE.md for the list). Gauges read at scrape time: database pool use, the
/// change log's head, the search index's position and lag, jobs by kind and state. With
/// `LECTERN_METRICS_TOKEN` set, only a request bearing it is answered.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    summary = "Prometheus metrics of this node (with LECTERN_METRICS_TOKEN set, as a Bearer token)",
    responses(
        (status = 200, description = "the metrics, Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "LECTERN_METRICS_TOKEN is set and was not presented", body = error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let wanted = &state.config.metrics_token;
    if !wanted.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !extract::same_secret(given.trim(), wanted) {
            return AppError::unauthorized("the metrics need the metrics token as a Bearer token")
                .into_response();
        }
    }
    for (pool, open, idle) in state.db.pool_use() {
        metrics::gauge!("lectern_db_pool_connections", "pool" => pool, "state" => "idle")
            .set(idle as f64);
        metrics::gauge!("lectern_db_pool_connections", "pool" => pool, "state" => "busy")
            .set(f64::from(open).max(idle as f64) - idle as f64);
    }
    let head = *state.hub.watch_head().borrow();
    metrics::gauge!("lectern_change_log_head").set(head as f64);
    if let Ok(position) = state.search.position() {
        metrics::gauge!("lectern_search_index_position").set(position as f64);
        metrics::gauge!("lectern_search_index_lag").set((head - position).max(0) as f64);
    }
    match state.db.job_counts().await {
        Ok(counts) => {
            for (kind, job_state, n) in counts {
                metrics::gauge!("lectern_jobs", "kind" => kind, "state" => job_state).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "the metrics could not count the jobs"),
    }
    let body = observe::recorder().render();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
