//! Subtitles of a lesson over HTTP: the list of its languages, and each language as normalized
//! WebVTT. The handlers call `services::subtitles` (which reads through the one lesson
//! visibility check) and render.

use crate::domain::subtitle::Origin;
use crate::domain::time::rfc3339;
use crate::domain::visibility::Caller;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Path};
use crate::services::subtitles;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

/// One language a lesson has subtitles in: the subtitle that language serves.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubtitleView {
    /// BCP 47, canonical case (`zh`, `zh-CN`, `zh-Hans`, `en`).
    pub language: String,
    /// The language's name for people (`简体中文`); a machine transcript says so
    /// (`中文（机器转写）`).
    pub label: String,
    /// `editor`: uploaded; `machine`: a machine transcript, served only while no editor's
    /// subtitle of the language exists.
    pub origin: Origin,
    /// How many cues it has.
    pub cues: i64,
    /// The format it was uploaded in (`srt`, `vtt`, `ass`); a machine transcript is `vtt`.
    pub format: String,
    /// The encoding it was decoded from (`UTF-8`, `UTF-16LE`, `gb18030`, …).
    pub encoding: String,
    /// The editor's asset (its original file); `null` for a machine transcript.
    pub asset_id: Option<String>,
    /// Where its normalized WebVTT is.
    pub url: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The subtitles of a lesson, one per language.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubtitleList {
    pub subtitles: Vec<SubtitleView>,
}

/// `GET /api/v1/lessons/{id}/subtitles`.
#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}/subtitles",
    tag = "subtitles",
    summary = "The languages a lesson has subtitles in (the newest editor's subtitle of each, else its machine transcript), with cue counts; anyone who may read the lesson",
    params(("id" = String, Path, description = "the lesson")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "the subtitles", body = SubtitleList))
)]
pub async fn list_subtitles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SubtitleList>, AppError> {
    let served = subtitles::list(&state.db, &caller, &id).await?;
    let subtitles = served
        .iter()
        .map(|s| SubtitleView {
            language: s.language.clone(),
            label: subtitles::label(s),
            origin: subtitles::origin(s),
            cues: s.cues,
            format: s.format.clone(),
            encoding: s.encoding.clone(),
            asset_id: s.asset_id.clone(),
            url: format!(
                "/api/v1/lessons/{}/subtitles/{}.vtt",
                s.lesson_id, s.language
            ),
            created_at: rfc3339(s.created_at),
        })
        .collect();
    Ok(Json(SubtitleList { subtitles }))
}

/// `GET /api/v1/lessons/{id}/subtitles/{lang}.vtt`.
#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}/subtitles/{file}",
    tag = "subtitles",
    summary = "A lesson's subtitle in one language as normalized WebVTT (UTF-8, `WEBVTT` header, HH:MM:SS.mmm times, cues in order, text with &, < and > escaped), whatever format and encoding it was uploaded in; anyone who may read the lesson",
    params(
        ("id" = String, Path, description = "the lesson"),
        ("file" = String, Path, description = "`<language>.vtt`, e.g. `zh-CN.vtt` (the language in any case)"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "ETags (or `*`): 304 when one names this subtitle")
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "the WebVTT file", content_type = "text/vtt", body = String, headers(
            ("ETag" = String, description = "strong; changes when the subtitle or the writer does"),
            ("X-Content-Type-Options" = String, description = "nosniff"))),
        (status = 304, description = "not modified: If-None-Match names this subtitle", headers(("ETag" = String)))
    )
)]
pub async fn subtitle_vtt(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some(language) = file.strip_suffix(".vtt") else {
        return Err(AppError::not_found("subtitle"));
    };
    let record = subtitles::served(&state.db, &caller, &id, language).await?;
    let etag = subtitles::etag(&record);
    let builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "private, no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        );
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').map(str::trim).any(|t| t == "*" || t == etag));
    if not_modified {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(|e| AppError::internal(&e));
    }
    let vtt = subtitles::webvtt(&state.store, &record).await?;
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(vtt.clone())
    };
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/vtt; charset=utf-8")
        .header(header::CONTENT_LENGTH, vtt.len())
        .body(body)
        .map_err(|e| AppError::internal(&e))
}
