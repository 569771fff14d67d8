//! Assets: plain streaming upload, metadata, deletion, ranged download and presigned URLs.

use crate::db::assets::AssetRecord;
use crate::domain::asset::AssetRole;
use crate::domain::filename::content_disposition;
use crate::domain::range::{self, RangeRequest};
use crate::domain::time::rfc3339;
use crate::domain::visibility::Caller;
use crate::http::AppState;
use crate::http::error::{AppError, Code, Problem};
use crate::http::extract::{Json, Path, Query, Writer};
use crate::http::views::{AssetView, Binary};
use crate::services::{catalog, uploads};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// What the file is for; a master must match the lesson's kind.
    #[param(value_type = AssetRole)]
    role: String,
    /// The file's name: its extension must agree with the sniffed type (directories are
    /// stripped, invisible characters removed).
    filename: String,
    /// A subtitle's language (BCP 47: `zh`, `zh-CN`, `zh-Hans`, `en`); when absent, the one
    /// the filename names (`lecture.zh.srt`, `.chs.` …), else the lesson's.
    language: Option<String>,
}

/// `POST /api/v1/lessons/{id}/assets?role=…&filename=…` with the file as the raw body.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/assets",
    tag = "assets",
    summary = "Upload a file as the raw request body (streamed, any size up to the limit); its type is sniffed from its bytes",
    params(("id" = String, Path, description = "the lesson"), UploadQuery),
    request_body(content = inline(Binary), content_type = "application/octet-stream", description = "the file's bytes"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the asset; `Location` names it", body = AssetView, headers(("Location" = String))),
        (status = 409, description = "the lesson's files cannot change while it is in review or published", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a subtitle file that cannot be read: not text, a timing that does not parse or ends before it starts, no cue; `line` names the line at fault", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn upload_asset(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(lesson_id): Path<String>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> Result<Response, AppError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = request.into_body().into_data_stream();
    let asset = uploads::upload_asset(
        &state.ingest,
        &acting,
        &lesson_id,
        &q.role,
        &q.filename,
        q.language.as_deref(),
        declared,
        body,
    )
    .await
    .map_err(AppError::from)?;
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

/// `GET /api/v1/assets/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}",
    tag = "assets",
    summary = "An asset's metadata, with whether its text was extracted for search",
    params(("id" = String, Path, description = "the asset")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "the asset", body = AssetView))
)]
pub async fn get_asset(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AssetView>, AppError> {
    let (asset, extractions) = catalog::get_asset(&state.db, &caller, &id).await?;
    Ok(Json(AssetView::from(&asset).with_text(&extractions)))
}

/// `DELETE /api/v1/assets/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/assets/{id}",
    tag = "assets",
    summary = "Delete an asset (not while its lesson is in review or published)",
    params(("id" = String, Path, description = "the asset")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "deleted"),
        (status = 409, description = "the lesson's files cannot change while it is in review or published", body = Problem, content_type = "application/problem+json")
    )
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/content",
    tag = "assets",
    summary = "The bytes, streamed from object storage, with a safe Content-Disposition; one range at a time (several ranges: the whole content)",
    params(
        ("id" = String, Path, description = "the asset"),
        ("Range" = Option<String>, Header, nullable = false, description = "`bytes=start-end`, `bytes=start-` or `bytes=-suffix`"),
        ("If-Range" = Option<String>, Header, nullable = false, description = "the ETag the range is for; another value (or a date) sends the whole content"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "ETags (or `*`): 304 when one names this content")
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "the whole content, of the asset's sniffed type", content_type = "application/octet-stream", body = inline(Binary), headers(
            ("ETag" = String, description = "the quoted SHA-256"), ("Accept-Ranges" = String), ("Content-Disposition" = String), ("Content-Length" = u64))),
        (status = 206, description = "one range", content_type = "application/octet-stream", body = inline(Binary), headers(
            ("Content-Range" = String, description = "bytes start-end/size"), ("ETag" = String), ("Content-Length" = u64))),
        (status = 304, description = "not modified: If-None-Match names this content", headers(("ETag" = String))),
        (status = 416, description = "no requested range lies within the content; Content-Range says its size", body = Problem, content_type = "application/problem+json",
            headers(("Content-Range" = String, description = "bytes */size")))
    )
)]
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
            content_disposition(asset.disposition, &asset.filename),
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

/// A presigned URL to an asset's bytes in object storage.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PresignedView {
    /// Works without credentials until `expires_at`; object storage honours ranges.
    url: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// `GET /api/v1/assets/{id}/url`: a presigned, expiring URL straight to object storage.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/url",
    tag = "assets",
    summary = "A presigned, expiring URL to the bytes in object storage, so they need not pass through Lectern",
    params(("id" = String, Path, description = "the asset")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "the URL", body = PresignedView))
)]
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
            &content_disposition(asset.disposition, &asset.filename),
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

#[cfg(test)]
mod props {
    use super::names_etag;
    use crate::props::{config, hostile};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        /// An `If-Range` or `If-None-Match` value of any shape is compared without panicking;
        /// a list that names the ETag (or `*`) anywhere matches, and the comparison is strong:
        /// a weak `W/` form of the ETag alone does not.
        #[test]
        fn props_if_range_compares_safely(
            v in hostile("\"W/,* abc", 40),
            before in hostile("\"W/ abc", 10),
        ) {
            let etag = "\"abc\"";
            let _ = names_etag(&v, etag);
            let listed = format!("{},{etag}", before.replace(',', ""));
            prop_assert!(names_etag(&listed, etag));
            prop_assert!(!names_etag("W/\"abc\"", etag));
        }
    }
}
