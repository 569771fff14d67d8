//! The publication endpoints that speak XML rather than JSON: OAI-PMH at `/oai` and podcast
//! feeds at `/feeds/series/{id}.rss`. Both are read with a platform key (OAI-PMH always; a
//! podcast feed of a series that is not public).

use super::AppState;
use super::error::{AppError, Code};
use crate::domain::visibility::Caller;
use crate::publish::oai;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
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

/// `GET|POST /oai`: OAI-PMH 2.0 for the calling platform (its key in `Authorization`).
pub async fn oai(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, AppError> {
    let Caller::Platform(p) = &caller else {
        return Err(AppError::unauthorized(
            "OAI-PMH is served to platforms: Authorization: Bearer lpk_…",
        ));
    };
    let raw: Vec<u8> = if method == Method::POST {
        if body.len() > 8192 {
            return Err(AppError::new(
                Code::PayloadTooLarge,
                "an OAI-PMH request is at most 8 KiB",
            ));
        }
        body.to_vec()
    } else {
        query.unwrap_or_default().into_bytes()
    };
    let base = format!("{}/oai", base_url(&state, &headers));
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

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodcastQuery {
    /// A platform key, for podcast apps that cannot send headers.
    key: Option<String>,
}

/// `GET /feeds/series/{id}.rss`: the podcast feed of an audio series — with a platform key (in
/// `Authorization` or `?key=`), the series' lessons the platform receives; without one, those
/// anyone may read.
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
    let base = base_url(&state, &headers);
    let self_url = format!("{base}/feeds/series/{id}.rss");
    let body = crate::publish::podcast::render(&base, &self_url, &name, &lessons, &assets);
    let mut r = xml(body, "application/rss+xml; charset=utf-8");
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    Ok(r)
}

/// `GET /feeds/artwork.png`: the podcast artwork (1400 × 1400).
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
