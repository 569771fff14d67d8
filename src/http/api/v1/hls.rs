//! HLS playlists over HTTP: `GET /api/v1/assets/{id}/media/hls/master.m3u8` (written from the
//! ready variants) and `GET /api/v1/assets/{id}/media/hls/{variant}.m3u8` (every init and media
//! segment a presigned URL of object storage). The handlers call `services::hls`, which reads
//! through the one asset visibility check.

use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::Path;
use crate::services::hls;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use crate::domain::visibility::Caller;

/// `GET /api/v1/assets/{id}/media/hls/{file}`.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/media/hls/{file}",
    tag = "media",
    summary = "HLS (fMP4) of a video or audio master: `master.m3u8` lists the ready variants (H.264 360p/720p/1080p — never above the source — sharing one AAC audio group, and a 64 kbit/s audio-only variant) with BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION and CODECS; `<variant>.m3u8` (`360p`, `720p`, `1080p`, `audio`, `audio_64k`) is a variant playlist whose init and media segments are presigned URLs of object storage (valid for the presign TTL plus the variant's duration), so segment bytes never pass through Lectern; anyone who may read the asset",
    params(
        ("id" = String, Path, description = "the asset"),
        ("file" = String, Path, description = "`master.m3u8`, or a variant's playlist", pattern = "^(master|360p|720p|1080p|audio|audio_64k)\\.m3u8$")
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "the playlist", body = String, content_type = "application/vnd.apple.mpegurl", headers(("Cache-Control" = String, description = "`private, max-age=…`, shorter than the presigned URLs live"))),
        (status = 404, description = "no such asset for this caller, or no ready variant (yet)", body = crate::http::error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn playlist(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let ttl = Duration::from_secs(state.config.presign_secs);
    let body = if file == "master.m3u8" {
        hls::master(&state.db, &caller, &id).await?
    } else {
        hls::variant(&state.db, &state.store, &caller, &id, &file, ttl).await?
    };
    // Cached for at most half the URLs' lifetime: a cached playlist never names expired URLs.
    let cache = format!("private, max-age={}", state.config.presign_secs / 2);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::domain::hls::PLAYLIST_TYPE),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_str(&cache)
                    .unwrap_or_else(|_| HeaderValue::from_static("private, no-cache")),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/v1/assets/{id}/media/{kind}/file`.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/media/{kind}/file",
    tag = "media",
    summary = "A ready rendition's bytes, by a redirect to a presigned, expiring URL of object storage (for clients that follow a link and cannot ask for JSON first: podcast apps, download links); anyone who may read the asset",
    params(
        ("id" = String, Path, description = "the asset"),
        ("kind" = crate::domain::media::RenditionKind, Path, description = "the rendition")
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 302, description = "to the rendition in object storage", headers(("Location" = String, description = "the presigned URL"), ("Cache-Control" = String, description = "no-store"))),
        (status = 404, description = "no such asset for this caller, or no such ready rendition", body = crate::http::error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn rendition_file(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, kind)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let ttl = Duration::from_secs(state.config.presign_secs);
    let url =
        crate::services::media::rendition_url(&state.db, &state.store, &caller, &id, &kind, ttl)
            .await?;
    let location = HeaderValue::from_str(&url)
        .map_err(|_| AppError::from(crate::services::ServiceError::NotFound("rendition")))?;
    Ok((
        axum::http::StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}
