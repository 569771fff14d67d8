//! What every request leaves behind: a request id, one access log line, and the request metrics.
//!
//! - The request id is the caller's `X-Request-Id` when it is a short token (a proxy's, so one
//!   id follows the request through both logs), else a fresh one. It is returned in the
//!   `X-Request-Id` header of every response and in every problem body (`request_id`), so a
//!   member's screenshot of an error finds its log line.
//! - One log line per request at `info` on the target `lectern::access` (silence it with
//!   `RUST_LOG=info,lectern::access=warn`): request id, method, route pattern, path (never the
//!   query, which can carry search words or resumption tokens), status, caller kind, and the time
//!   to the response's head in milliseconds.
//! - `lectern_http_requests_total{method,route,status}` and
//!   `lectern_http_request_duration_seconds{method,route}`, labelled by the route's pattern
//!   (`/api/v1/lessons/{id}`), never the raw path, so the series stay few; what matched no route
//!   is `unmatched`.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The header that carries the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What the handlers of one request note for its log line.
struct RequestInfo {
    id: String,
    caller: OnceLock<&'static str>,
}

tokio::task_local! {
    static REQUEST: Arc<RequestInfo>;
}

/// The id of the request being handled (`None` outside a request, as in a background job).
pub fn request_id() -> Option<String> {
    REQUEST.try_with(|r| r.id.clone()).ok()
}

/// Notes who is calling (`operator`, `user`, `platform`, `anonymous`) for the log line; the
/// first note of a request stands.
pub fn note_caller(kind: &'static str) {
    let _ = REQUEST.try_with(|r| r.caller.set(kind));
}

/// The route pattern a request matched, carried out of the router to [`observe`].
#[derive(Clone)]
struct Route(MatchedPath);

/// Inside the router (a route layer, so routing has happened): keeps the matched pattern on the
/// response.
pub async fn remember_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

/// The caller's id when it is 1–64 characters of letters, digits, `-`, `_`, `.` and `:`.
fn given_id(req: &Request) -> Option<String> {
    let v = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| v.to_owned())
}

/// Known methods by name; anything else is `other` (the label's values stay few).
fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// The outermost layer of the router: see the module's documentation.
pub async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = given_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let method = method_label(req.method());
    let path: String = req.uri().path().chars().take(200).collect();
    let info = Arc::new(RequestInfo {
        id,
        caller: OnceLock::new(),
    });
    let mut response = REQUEST.scope(info.clone(), next.run(req)).await;
    let route = response
        .extensions()
        .get::<Route>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_owned();
    let status = response.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&info.id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let elapsed = started.elapsed();
    metrics::counter!(
        "lectern_http_requests_total",
        "method" => method,
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "lectern_http_request_duration_seconds",
        "method" => method,
        "route" => route.clone()
    )
    .record(elapsed.as_secs_f64());
    tracing::info!(
        target: "lectern::access",
        request_id = %info.id,
        method,
        route = %route,
        path = %path,
        status,
        caller = info.caller.get().copied().unwrap_or("anonymous"),
        ms = elapsed.as_secs_f64() * 1000.0,
    );
    response
}

/// The process's Prometheus recorder: installed on first use (once per process, however many
/// applications a test builds), rendered by `GET /metrics`. Histograms in seconds, with buckets
/// from 1 ms to 30 s.
pub fn recorder() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        const BUCKETS: &[f64] = &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (an embedder's) keeps its place; this handle then
        // renders nothing recorded, which `/metrics` shows as a mostly empty page.
        let _ = metrics::set_global_recorder(recorder);
        // Histogram samples gather until upkeep folds them into their buckets: without it, a
        // node nobody scrapes would keep every sample. A thread, not a task: it must outlive
        // whichever runtime first asked for the recorder.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}
