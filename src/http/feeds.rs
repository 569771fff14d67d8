//! The publication endpoints that speak XML rather than JSON: OAI-PMH at `/oai` and podcast
//! feeds at `/feeds/series/{id}.rss`. Both are read with a platform key (OAI-PMH always; a
//! podcast feed of a series that is not public).

use super::AppState;
use super::error::{AppError, Code, Problem};
use crate::domain::visibility::Caller;
use crate::publish::oai;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The address this service is reached at: the configured public URL, else the request's host.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if !state.config.public_url.is_empty() {
        return state.config.public_url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.len() <= 255 && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn xml(body: String, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// An OAI-PMH verb.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "documents the arguments; the handler reads them raw"
)]
enum OaiVerb {
    Identify,
    ListMetadataFormats,
    ListSets,
    ListIdentifiers,
    ListRecords,
    GetRecord,
}

/// The arguments of an OAI-PMH request (OAI-PMH 2.0, section 3.1.1): in the query string of a
/// GET, form-encoded in the body of a POST. Each at most once.
#[derive(utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[expect(
    non_snake_case,
    dead_code,
    reason = "documents the arguments under their protocol names; the handler reads them raw"
)]
struct OaiArgs {
    verb: OaiVerb,
    /// `oai:<host>:<lesson id>` (GetRecord, ListMetadataFormats).
    identifier: Option<String>,
    /// `oai_dc`.
    metadataPrefix: Option<String>,
    /// UTC, a day (`YYYY-MM-DD`) or a second (`YYYY-MM-DDThh:mm:ssZ`).
    from: Option<String>,
    /// UTC, with the same granularity as `from`.
    until: Option<String>,
    /// `series:<id>` or `org:<id>`.
    set: Option<String>,
    /// The token of the previous list's last page; exclusive of every other argument but
    /// `verb`.
    resumptionToken: Option<String>,
}

/// `GET /oai`: OAI-PMH 2.0 for the calling platform (its key in `Authorization`).
#[utoipa::path(
    get,
    path = "/oai",
    tag = "feed",
    summary = "OAI-PMH 2.0 for the calling platform: all six verbs, oai_dc, sets series:<id> and org:<id>, persistent deleted records. Errors of the request are OAI-PMH errors inside a 200",
    params(OaiArgs),
    security(("platformKey" = [])),
    responses(
        (status = 200, description = "an OAI-PMH response (or an OAI-PMH error of the request)", body = String, content_type = "text/xml"),
        (status = 503, description = "the repository itself failed (its database): retry after Retry-After; never an OAI-PMH error code, each of which blames the request", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "seconds to wait")))
    )
)]
pub async fn oai_get(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    oai(
        &state,
        &caller,
        &headers,
        query.unwrap_or_default().into_bytes(),
    )
    .await
}

/// `POST /oai`: OAI-PMH 2.0 with the arguments form-encoded in the body.
#[utoipa::path(
    post,
    path = "/oai",
    tag = "feed",
    summary = "OAI-PMH 2.0 for the calling platform, the arguments form-encoded in the body (at most 8 KiB)",
    request_body(content = OaiArgs, content_type = "application/x-www-form-urlencoded"),
    security(("platformKey" = [])),
    responses(
        (status = 200, description = "an OAI-PMH response (or an OAI-PMH error of the request)", body = String, content_type = "text/xml"),
        (status = 503, description = "the repository itself failed (its database): retry after Retry-After; never an OAI-PMH error code, each of which blames the request", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "seconds to wait")))
    )
)]
pub async fn oai_post(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    if body.len() > 8192 {
        // The platform key is checked first, as for GET.
        if !matches!(caller, Caller::Platform(_)) {
            return oai(&state, &caller, &headers, Vec::new()).await;
        }
        return Err(AppError::new(
            Code::PayloadTooLarge,
            "an OAI-PMH request is at most 8 KiB",
        ));
    }
    oai(&state, &caller, &headers, body.to_vec()).await
}

/// OAI-PMH 2.0 for the calling platform, from the raw form-encoded arguments.
async fn oai(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    raw: Vec<u8>,
) -> Result<Response, AppError> {
    let Caller::Platform(p) = caller else {
        return Err(AppError::unauthorized(
            "OAI-PMH is served to platforms: Authorization: Bearer lpk_…",
        ));
    };
    let base = format!("{}/oai", base_url(state, headers));
    let mut args = oai::Args::new();
    let mut repeated = Vec::new();
    for (k, v) in form_urlencoded::parse(&raw) {
        if args.insert(k.to_string(), v.to_string()).is_some() {
            repeated.push(k.to_string());
        }
    }
    let result = if repeated.is_empty() {
        match oai::respond(&state.db, p, &base, &args).await {
            Ok(x) => Ok(x),
            Err(oai::Failure::Request(errors)) => Err(errors),
            Err(oai::Failure::Internal(e)) => return Err(repository_unavailable(&e)),
        }
    } else {
        Err(repeated
            .into_iter()
            .map(|k| oai::OaiError {
                code: "badArgument",
                message: format!("{k} is given more than once"),
            })
            .collect())
    };
    Ok(xml(
        oai::envelope(&base, &args, result),
        "text/xml; charset=utf-8",
    ))
}

/// An OAI-PMH request the repository could not answer (its database failed): always 503 with
/// `Retry-After`, never an OAI-PMH error code, since every code blames the request and a
/// harvester that sees one does not retry. `AppError::internal` logs the cause and says what
/// failed; whatever it found, a harvester is told to come back.
fn repository_unavailable(e: &sqlx::Error) -> AppError {
    let answer = AppError::internal(e);
    if answer.code == Code::Unavailable {
        return answer;
    }
    AppError::new(
        Code::Unavailable,
        "the repository cannot answer at the moment; try again later",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from_static("60"))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PodcastQuery {
    /// A platform key (`lpk_…`), for podcast apps that cannot send headers.
    #[param(max_length = 200)]
    key: Option<String>,
}

/// `GET /feeds/series/{id}.rss`: the podcast feed of an audio series — with a platform key (in
/// `Authorization` or `?key=`), the series' lessons the platform receives; without one, those
/// anyone may read.
#[utoipa::path(
    get,
    path = "/feeds/series/{file}",
    tag = "feed",
    summary = "The podcast feed (RSS 2.0 + iTunes) of an audio series: with a platform key (Authorization or ?key=) what that platform receives, without one what anyone may read",
    params(
        ("file" = String, Path, description = "`<series id>.rss`, the id being 16 hex digits", pattern = "^[0-9a-f]{16}\\.rss$"),
        PodcastQuery
    ),
    security((), ("platformKey" = [])),
    responses(
        (status = 200, description = "the feed", body = String, content_type = "application/rss+xml"),
        (status = 404, description = "no such series, or none of its audio lessons for this caller", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn podcast(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    super::extract::Path(file): super::extract::Path<String>,
    super::extract::Query(q): super::extract::Query<PodcastQuery>,
) -> Result<Response, AppError> {
    let caller = match q.key.as_deref() {
        Some(k) if k.len() <= 200 => super::extract::platform_caller(&state, k).await?,
        Some(_) => return Err(AppError::unauthorized("the platform key is not valid")),
        None => caller,
    };
    let id = file
        .strip_suffix(".rss")
        .filter(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| AppError::not_found("series feed"))?;
    let name = state
        .db
        .series_names()
        .await?
        .into_iter()
        .find(|n| crate::domain::platform::series_id(n) == id)
        .ok_or_else(|| AppError::not_found("series feed"))?;
    let scope = crate::domain::visibility::read_scope(&caller);
    let filter = crate::db::lessons::LessonFilter {
        kind: Some("audio".into()),
        series: Some(name.clone()),
        ..Default::default()
    };
    let mut lessons: Vec<_> = state
        .db
        .lessons(&scope, &filter, 1000)
        .await?
        .into_iter()
        .filter(|l| {
            l.status == crate::domain::lesson::LessonStatus::Published
                && crate::domain::visibility::may(
                    &caller,
                    crate::domain::visibility::Action::Read,
                    l.access(),
                )
        })
        .collect();
    if lessons.is_empty() {
        return Err(AppError::not_found("series feed"));
    }
    lessons.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
    let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    let assets = state.db.assets_of_lessons(&ids).await?;
    let shas: Vec<&str> = assets.iter().map(|a| a.sha256.as_str()).collect();
    let audio_64k = state
        .db
        .ready_renditions(&shas, Some(crate::domain::media::RenditionKind::Audio64k))
        .await?;
    let base = base_url(&state, &headers);
    let self_url = format!("{base}/feeds/series/{id}.rss");
    let body =
        crate::publish::podcast::render(&base, &self_url, &name, &lessons, &assets, &audio_64k);
    let mut r = xml(body, "application/rss+xml; charset=utf-8");
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    Ok(r)
}

/// `GET /feeds/artwork.png`: the podcast artwork (1400 × 1400).
#[utoipa::path(
    get,
    path = "/feeds/artwork.png",
    tag = "feed",
    summary = "The podcast artwork, 1400 × 1400",
    responses((status = 200, description = "the image", body = Vec<u8>, content_type = "image/png"))
)]
pub async fn artwork() -> Response {
    static PNG: &[u8] = include_bytes!("../../static/podcast-artwork.png");
    let mut r = PNG.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
