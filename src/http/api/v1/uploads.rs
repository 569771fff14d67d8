//! `/api/v1/uploads`: resumable uploads by the tus 1.0 protocol (core, creation, termination,
//! checksum, expiration). The protocol lives here; the storage model lives in `ingest::tus`.

use super::lessons::editable_lesson;
use crate::http::AppState;
use crate::http::error::{AppError, Code};
use crate::http::extract::{Acting, Path, Writer};
use crate::http::views::http_date;
use crate::ingest::tus::{Checksum, Patched};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const TUS_VERSION: &str = "1.0.0";
const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
/// Names the asset a completed upload became.
const ASSET_ID: HeaderName = HeaderName::from_static("lectern-asset-id");

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every tus response carries `Tus-Resumable`, errors included.
fn tus(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

fn tus_error(e: impl Into<AppError>) -> Response {
    tus(e.into().into_response())
}

/// Requests other than OPTIONS must speak our version of the protocol (412 otherwise).
fn check_version(headers: &HeaderMap) -> Result<(), AppError> {
    if header(headers, "tus-resumable") == Some(TUS_VERSION) {
        Ok(())
    } else {
        Err(
            AppError::new(Code::PreconditionFailed, "Tus-Resumable: 1.0.0 is required")
                .with_header(
                    HeaderName::from_static("tus-version"),
                    HeaderValue::from_static(TUS_VERSION),
                ),
        )
    }
}

/// `OPTIONS /api/v1/uploads`: what this server supports.
pub async fn options(State(state): State<AppState>) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert(
        "tus-extension",
        HeaderValue::from_static("creation,termination,checksum,expiration"),
    );
    h.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static("sha1,sha256"),
    );
    h.insert(
        "tus-max-size",
        HeaderValue::from(state.config.max_upload_bytes),
    );
    tus(r)
}

/// A tus number header (`Upload-Length`, `Upload-Offset`): tus 1.0 allows only decimal digits,
/// so `+100`, `-0` or ` 7` are refused rather than read the way Rust's parser would.
fn tus_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    header(headers, name)
        .filter(|v| !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
}

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs. As tus 1.0 requires, keys
/// are non-empty, unique and free of spaces and commas; values, once decoded, must pass the text
/// rule like any other input.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, AppError> {
    let Some(raw) = header(headers, "upload-metadata") else {
        return Ok(Vec::new());
    };
    let bad = |what: &str| AppError::new(Code::InvalidRequest, format!("Upload-Metadata: {what}"));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = pair.splitn(2, ' ');
        let key = it.next().unwrap_or_default().to_owned();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("keys must be printable ASCII without spaces or commas"));
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(bad(&format!("the key `{key}` is given more than once")));
        }
        let value = match it.next() {
            Some(v) => STANDARD
                .decode(v.trim())
                .map_err(|_| bad("values must be base64"))?,
            None => Vec::new(),
        };
        let value = String::from_utf8(value).map_err(|_| bad("values must be UTF-8"))?;
        crate::domain::text::check("Upload-Metadata", &value)
            .map_err(|e| bad(&format!("the value of `{key}` {}", e.message)))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Loads upload `id` if the caller may change its lesson.
async fn upload_for(
    state: &AppState,
    acting: &Acting,
    id: &str,
) -> Result<crate::db::uploads::UploadRecord, AppError> {
    let upload = state.ingest.upload_status(id).await?;
    editable_lesson(state, acting, &upload.lesson_id).await?;
    Ok(upload)
}

/// `POST /api/v1/uploads`: creates an upload (creation extension).
pub async fn create(
    State(state): State<AppState>,
    writer: Result<Writer, AppError>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Writer(acting) = writer?;
        check_version(&headers)?;
        if header(&headers, "upload-defer-length").is_some() {
            return Err(AppError::new(
                Code::InvalidRequest,
                "Upload-Defer-Length is not supported",
            ));
        }
        let length = tus_number(&headers, "upload-length").ok_or_else(|| {
            AppError::new(
                Code::InvalidRequest,
                "Upload-Length must be a whole number of bytes",
            )
        })?;
        let meta = metadata(&headers)?;
        let get = |k: &str| {
            meta.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let (Some(lesson_id), Some(role), Some(filename)) =
            (get("lesson_id"), get("role"), get("filename"))
        else {
            return Err(AppError::new(
                Code::InvalidRequest,
                "Upload-Metadata must carry lesson_id, role and filename",
            ));
        };
        editable_lesson(&state, &acting, lesson_id).await?;
        let upload = state
            .ingest
            .create_upload(lesson_id, role, filename, length)
            .await?;
        let mut r = StatusCode::CREATED.into_response();
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/uploads/{}", upload.id)) {
            h.insert(header::LOCATION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&http_date(upload.expires_at)) {
            h.insert(UPLOAD_EXPIRES, v);
        }
        Ok(r)
    }
    .await;
    tus(result.unwrap_or_else(IntoResponse::into_response))
}

/// `HEAD /api/v1/uploads/{id}`: how far the upload is.
pub async fn head(
    State(state): State<AppState>,
    writer: Result<Writer, AppError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Writer(acting) = writer?;
        check_version(&headers)?;
        let upload = upload_for(&state, &acting, &id).await?;
        let mut r = StatusCode::OK.into_response();
        let h = r.headers_mut();
        h.insert(UPLOAD_OFFSET, HeaderValue::from(upload.received));
        h.insert(UPLOAD_LENGTH, HeaderValue::from(upload.length));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&http_date(upload.expires_at)) {
            h.insert(UPLOAD_EXPIRES, v);
        }
        if let Some(asset) = upload.asset_id.and_then(|a| HeaderValue::from_str(&a).ok()) {
            h.insert(ASSET_ID, asset);
        }
        Ok::<_, AppError>(r)
    }
    .await;
    tus(result.unwrap_or_else(|e| {
        // HEAD responses have no body; the status says it all.
        let mut r = e.into_response();
        *r.body_mut() = axum::body::Body::empty();
        r
    }))
}

/// Parses `Upload-Checksum: <algorithm> <base64 digest>`.
fn checksum(headers: &HeaderMap) -> Result<Option<Checksum>, AppError> {
    let Some(raw) = header(headers, "upload-checksum") else {
        return Ok(None);
    };
    let bad = |d: &str| AppError::new(Code::InvalidRequest, format!("Upload-Checksum: {d}"));
    let (algorithm, digest) = raw
        .trim()
        .split_once(' ')
        .ok_or_else(|| bad("expected `<algorithm> <base64>`"))?;
    let digest = STANDARD
        .decode(digest.trim())
        .map_err(|_| bad("the digest must be base64"))?;
    match (algorithm, digest.len()) {
        ("sha1", 20) => Ok(Some(Checksum::Sha1(digest))),
        ("sha256", 32) => Ok(Some(Checksum::Sha256(digest))),
        ("sha1" | "sha256", _) => Err(bad("the digest has the wrong length")),
        _ => Err(bad("supported algorithms are sha1 and sha256")),
    }
}

/// `PATCH /api/v1/uploads/{id}`: appends the body at `Upload-Offset`.
pub async fn patch(
    State(state): State<AppState>,
    writer: Result<Writer, AppError>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let result = async {
        let Writer(acting) = writer?;
        let headers = request.headers().clone();
        check_version(&headers)?;
        upload_for(&state, &acting, &id).await?;
        if header(&headers, "content-type") != Some("application/offset+octet-stream") {
            return Err(AppError::new(
                Code::UnsupportedMediaType,
                "PATCH bodies must be Content-Type: application/offset+octet-stream",
            ));
        }
        let offset = tus_number(&headers, "upload-offset")
            .and_then(|o| i64::try_from(o).ok())
            .ok_or_else(|| {
                AppError::new(Code::InvalidRequest, "Upload-Offset must be a whole number")
            })?;
        let checksum = checksum(&headers)?;
        let body = request.into_body().into_data_stream();
        let outcome = state
            .ingest
            .patch_upload(
                &id,
                offset,
                checksum,
                body,
                crate::ingest::Uploader {
                    actor: &acting.actor,
                    bypass_review: super::lessons::is_operator(&acting.caller),
                },
            )
            .await?;
        let mut r = match outcome {
            Patched::Partial { offset, expires_at } => {
                let mut r = StatusCode::NO_CONTENT.into_response();
                r.headers_mut()
                    .insert(UPLOAD_OFFSET, HeaderValue::from(offset));
                if let Ok(v) = HeaderValue::from_str(&http_date(expires_at)) {
                    r.headers_mut().insert(UPLOAD_EXPIRES, v);
                }
                r
            }
            Patched::Complete { asset } => {
                // tus clients expect 204, which has no body: the asset is named in a header.
                let mut r = StatusCode::NO_CONTENT.into_response();
                r.headers_mut()
                    .insert(UPLOAD_OFFSET, HeaderValue::from(asset.size));
                if let Ok(v) = HeaderValue::from_str(&asset.id) {
                    r.headers_mut().insert(ASSET_ID, v);
                }
                r
            }
        };
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok::<_, AppError>(r)
    }
    .await;
    result.map(tus).unwrap_or_else(tus_error)
}

/// `DELETE /api/v1/uploads/{id}`: terminates the upload (termination extension).
pub async fn terminate(
    State(state): State<AppState>,
    writer: Result<Writer, AppError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Writer(acting) = writer?;
        check_version(&headers)?;
        upload_for(&state, &acting, &id).await?;
        state.ingest.terminate_upload(&id).await?;
        Ok::<_, AppError>(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    result.map(tus).unwrap_or_else(tus_error)
}
