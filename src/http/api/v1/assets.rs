//! Assets: plain streaming upload, metadata, deletion, ranged download and presigned URLs.

use super::lessons::{editable_lesson, is_operator};
use crate::db::assets::AssetRecord;
use crate::domain::filename::content_disposition;
use crate::domain::lesson::LessonKind;
use crate::domain::range::{self, RangeRequest};
use crate::domain::time::rfc3339;
use crate::domain::visibility::Caller;
use crate::http::AppState;
use crate::http::error::{AppError, Code};
use crate::http::extract::{Json, Path, Query, Writer};
use crate::http::views::AssetView;
use crate::ingest::Uploader;
use crate::ingest::admit;
use crate::services::catalog;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    role: String,
    filename: String,
}

/// `POST /api/v1/lessons/{id}/assets?role=…&filename=…` with the file as the raw body.
pub async fn upload_asset(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(lesson_id): Path<String>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> Result<Response, AppError> {
    let lesson = editable_lesson(&state, &acting, &lesson_id).await?;
    let kind = LessonKind::parse(&lesson.kind)?;
    let (role, filename) = admit(&q.role, &q.filename, kind)?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = request.into_body().into_data_stream();
    let asset = state
        .ingest
        .upload(
            &lesson,
            role,
            &filename,
            declared,
            body,
            Uploader {
                actor: &acting.actor,
                bypass_review: is_operator(&acting.caller),
            },
        )
        .await?;
    let location = format!("/api/v1/assets/{}", asset.id);
    let mut response = (StatusCode::CREATED, Json(AssetView::from(&asset))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Loads asset `id` if `caller` may read its lesson (see [`catalog::visible_asset`]).
async fn visible_asset(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<AssetRecord, AppError> {
    Ok(catalog::visible_asset(&state.db, caller, id).await?)
}

pub async fn get_asset(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AssetView>, AppError> {
    let (asset, extractions) = catalog::get_asset(&state.db, &caller, &id).await?;
    Ok(Json(AssetView::from(&asset).with_text(&extractions)))
}

pub async fn delete_asset(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    catalog::delete_asset(&state.db, &acting, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether an `If-None-Match` or `If-Range` value names `etag` (strong comparison).
fn names_etag(value: &str, etag: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .any(|v| v == "*" || v == etag)
}

/// `GET /api/v1/assets/{id}/content`: the bytes, streamed from object storage, with ranges.
pub async fn asset_content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let asset = visible_asset(&state, &caller, &id).await?;
    let etag = format!("\"{}\"", asset.sha256);
    let len = asset.size as u64;
    let header_str = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };

    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "private, no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        );

    if header_str(header::IF_NONE_MATCH).is_some_and(|v| names_etag(v, &etag)) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(|e| AppError::internal(&e));
    }
    // A range applies only if `If-Range` (when sent) still names this representation; a date
    // cannot be compared strongly, so it means "send everything".
    let range_applies = header_str(header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let request = if range_applies {
        range::parse(header_str(header::RANGE), len)
    } else {
        RangeRequest::Full
    };
    builder = builder
        .header(header::CONTENT_TYPE, &asset.content_type)
        .header(
            header::CONTENT_DISPOSITION,
            content_disposition(&asset.disposition, &asset.filename),
        );
    let (status, span) = match request {
        RangeRequest::Unsatisfiable => {
            let value = HeaderValue::from_str(&format!("bytes */{len}"))
                .map_err(|e| AppError::internal(&e))?;
            return Err(AppError::new(
                Code::RangeNotSatisfiable,
                format!("the asset has {len} bytes; no requested range lies within them"),
            )
            .with_header(header::CONTENT_RANGE, value));
        }
        RangeRequest::Single(r) => {
            builder = builder.header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{len}", r.start, r.end),
            );
            (StatusCode::PARTIAL_CONTENT, Some(r))
        }
        RangeRequest::Full | RangeRequest::Multiple => (StatusCode::OK, None),
    };
    let length = span.map_or(len, |r| r.byte_count());
    builder = builder
        .status(status)
        .header(header::CONTENT_LENGTH, length);
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let stream = state
            .store
            .get(&asset.object_key, span.map(|r| (r.start, r.end)))
            .await?;
        Body::from_stream(stream)
    };
    builder.body(body).map_err(|e| AppError::internal(&e))
}

#[derive(Debug, Serialize)]
pub struct PresignedView {
    url: String,
    expires_at: String,
}

/// `GET /api/v1/assets/{id}/url`: a presigned, expiring URL straight to object storage.
pub async fn asset_url(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PresignedView>, AppError> {
    let asset = visible_asset(&state, &caller, &id).await?;
    let ttl = Duration::from_secs(state.config.presign_secs);
    let url = state
        .store
        .presign_get(
            &asset.object_key,
            ttl,
            &asset.content_type,
            &content_disposition(&asset.disposition, &asset.filename),
        )
        .await?;
    let expires_at = crate::db::now_ms() + (state.config.presign_secs as i64) * 1000;
    Ok(Json(PresignedView {
        url,
        expires_at: rfc3339(expires_at),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_lists_are_matched_exactly() {
        assert!(names_etag("\"a\", \"b\"", "\"b\""));
        assert!(names_etag("*", "\"b\""));
        assert!(!names_etag("W/\"b\"", "\"b\""));
    }
}
