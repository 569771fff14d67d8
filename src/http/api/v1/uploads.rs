//! `/api/v1/uploads`: resumable uploads by the tus 1.0 protocol (core, creation, termination,
//! checksum, expiration). The protocol lives here; the business steps (who may upload, then
//! ingest) in `services::uploads`; the storage model in `ingest::tus`.

use crate::http::AppState;
use crate::http::error::{AppError, Code, Problem};
use crate::http::extract::{Path, Writer};
use crate::http::views::{Binary, http_date};
use crate::ingest::tus::{Checksum, Patched};
use crate::services::uploads::{self, UploadError};
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

impl From<UploadError> for AppError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Service(e) => e.into(),
            UploadError::Ingest(e) => e.into(),
        }
    }
}

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

/// `OPTIONS /api/v1/uploads` (and `/api/v1/uploads/{id}`): what this server supports.
#[utoipa::path(
    options,
    path = "/api/v1/uploads",
    tag = "uploads",
    summary = "tus 1.0 capabilities: Tus-Version, Tus-Extension (creation, termination, checksum, expiration), Tus-Checksum-Algorithm (sha1, sha256), Tus-Max-Size",
    responses((status = 204, description = "the capabilities, in headers", headers(
        ("Tus-Resumable" = String, description = "1.0.0"),
        ("Tus-Version" = String, description = "1.0.0"),
        ("Tus-Extension" = String, description = "creation,termination,checksum,expiration"),
        ("Tus-Checksum-Algorithm" = String, description = "sha1,sha256"),
        ("Tus-Max-Size" = u64, description = "the largest upload in bytes")
    )))
)]
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

/// `OPTIONS /api/v1/uploads/{id}`: the same capabilities (tus clients may ask an upload's URL).
#[utoipa::path(
    options,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    summary = "tus 1.0 capabilities, as for /api/v1/uploads",
    params(("id" = String, Path, description = "the upload")),
    responses((status = 204, description = "the capabilities, in headers (see OPTIONS /api/v1/uploads)"))
)]
pub async fn options_of_upload(state: State<AppState>) -> Response {
    options(state).await
}

/// The header every tus request other than OPTIONS sends.
const TUS_PARAM: &str = "1.0.0; other versions are refused with 412";

/// `POST /api/v1/uploads`: creates an upload (creation extension).
#[utoipa::path(
    post,
    path = "/api/v1/uploads",
    tag = "uploads",
    summary = "Create a resumable upload (tus creation) that becomes an asset of a lesson the caller may change",
    params(
        ("Tus-Resumable" = String, Header, description = TUS_PARAM),
        ("Upload-Length" = u64, Header, description = "the file's size in bytes (Upload-Defer-Length is not supported)"),
        ("Upload-Metadata" = String, Header, description = "tus metadata, `key base64(value)` pairs separated by commas: lesson_id, role (master, subtitle, attachment, poster) and filename are required; a subtitle may carry language (a BCP 47 tag such as zh-CN)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "created; `Location` is the upload's URL", headers(
            ("Location" = String), ("Upload-Expires" = String, description = "an HTTP-date"), ("Tus-Resumable" = String))),
        (status = 409, description = "the lesson's files cannot change while it is in review or published", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Tus-Resumable is missing or another version (Tus-Version says which is spoken)", body = Problem, content_type = "application/problem+json")
    )
)]
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
        let upload = uploads::create(
            &state.ingest,
            &acting,
            lesson_id,
            role,
            filename,
            get("language"),
            length,
        )
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
#[utoipa::path(
    head,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    summary = "How far the upload is (tus core); a completed one names its asset",
    params(
        ("id" = String, Path, description = "the upload"),
        ("Tus-Resumable" = String, Header, description = TUS_PARAM)
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the offset reached, in headers; no body", headers(
            ("Upload-Offset" = u64), ("Upload-Length" = u64), ("Upload-Expires" = String, description = "an HTTP-date"),
            ("Lectern-Asset-Id" = String, description = "once complete: the asset it became"), ("Tus-Resumable" = String))),
        (status = 409, description = "the lesson's files cannot change while it is in review or published (no body)"),
        (status = 410, description = "the upload expired and was discarded (no body)"),
        (status = 412, description = "Tus-Resumable is missing or another version (no body)")
    )
)]
pub async fn head(
    State(state): State<AppState>,
    writer: Result<Writer, AppError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Writer(acting) = writer?;
        check_version(&headers)?;
        let upload = uploads::writable(&state.ingest, &acting, &id).await?;
        let upload = upload.record();
        let mut r = StatusCode::OK.into_response();
        let h = r.headers_mut();
        h.insert(UPLOAD_OFFSET, HeaderValue::from(upload.received));
        h.insert(UPLOAD_LENGTH, HeaderValue::from(upload.length));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&http_date(upload.expires_at)) {
            h.insert(UPLOAD_EXPIRES, v);
        }
        if let Some(asset) = upload
            .asset_id
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
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
#[utoipa::path(
    patch,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    summary = "Append bytes at Upload-Offset (tus core, checksum); the last ones turn the upload into an asset, named in Lectern-Asset-Id",
    params(
        ("id" = String, Path, description = "the upload"),
        ("Tus-Resumable" = String, Header, description = TUS_PARAM),
        ("Upload-Offset" = u64, Header, description = "where these bytes go: the offset HEAD reports"),
        ("Upload-Checksum" = Option<String>, Header, nullable = false, description = "`sha1 <base64>` or `sha256 <base64>` of this request's body")
    ),
    request_body(content = inline(Binary), content_type = "application/offset+octet-stream", description = "the next bytes"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "accepted", headers(
            ("Upload-Offset" = u64, description = "the new offset"), ("Upload-Expires" = String, description = "while incomplete: an HTTP-date"),
            ("Lectern-Asset-Id" = String, description = "once complete: the asset it became"), ("Tus-Resumable" = String))),
        (status = 409, description = "the offset is not the upload's (`offset` says where it is), the upload is complete, or the lesson's files are frozen", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "the upload expired and was discarded", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Tus-Resumable is missing or another version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "the last bytes completed a subtitle file that cannot be read (`line` names the line at fault); the upload was discarded, nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 423, description = "another request is writing this upload; retry shortly", body = Problem, content_type = "application/problem+json"),
        (status = 460, description = "the body does not match Upload-Checksum; nothing was kept", body = Problem, content_type = "application/problem+json")
    )
)]
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
        let upload = uploads::writable(&state.ingest, &acting, &id).await?;
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
        let outcome =
            uploads::append(&state.ingest, &acting, upload, offset, checksum, body).await?;
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
#[utoipa::path(
    delete,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    summary = "Terminate the upload (tus termination): its bytes are deleted",
    params(
        ("id" = String, Path, description = "the upload"),
        ("Tus-Resumable" = String, Header, description = TUS_PARAM)
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "terminated", headers(("Tus-Resumable" = String))),
        (status = 409, description = "the lesson's files cannot change while it is in review or published", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "the upload had already expired", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Tus-Resumable is missing or another version", body = Problem, content_type = "application/problem+json"),
        (status = 423, description = "another request is writing this upload; retry shortly", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn terminate(
    State(state): State<AppState>,
    writer: Result<Writer, AppError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Writer(acting) = writer?;
        check_version(&headers)?;
        let upload = uploads::writable(&state.ingest, &acting, &id).await?;
        uploads::terminate(&state.ingest, upload).await?;
        Ok::<_, AppError>(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    result.map(tus).unwrap_or_else(tus_error)
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile, number};
    use proptest::prelude::*;

    /// A header map holding `value` under `name`, when `value` can be a header value at all
    /// (any bytes but control characters); hyper refuses the others before a handler runs.
    fn headers(name: &'static str, value: &[u8]) -> Option<HeaderMap> {
        let value = HeaderValue::from_bytes(value).ok()?;
        let mut h = HeaderMap::new();
        h.insert(name, value);
        Some(h)
    }

    fn header_bytes(alphabet: &'static str, max_len: usize) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            hostile(alphabet, max_len).prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..max_len),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        /// `Upload-Metadata` of any shape: refused, or pairs whose keys are non-empty, unique
        /// and printable ASCII, and whose values pass the text rule.
        #[test]
        fn props_tus_metadata_keeps_its_rules(
            v in header_bytes("abc ,=+/ABCZmlsZW5hbWU0123\u{0}", 80),
        ) {
            let Some(h) = headers("upload-metadata", &v) else { return Ok(()) };
            if let Ok(pairs) = metadata(&h) {
                for (i, (k, value)) in pairs.iter().enumerate() {
                    prop_assert!(!k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic()));
                    prop_assert!(!k.contains(','));
                    prop_assert!(pairs[..i].iter().all(|(other, _)| other != k));
                    prop_assert!(crate::domain::text::check("v", value).is_ok());
                }
            }
        }

        /// What a tus client writes (`key base64(value)` pairs) reads back as the pairs.
        #[test]
        fn props_tus_metadata_round_trips(
            pairs in proptest::collection::btree_map("[a-z_]{1,12}", "[\\PC&&[^\u{0}]]{0,20}", 0..5),
        ) {
            let raw = pairs
                .iter()
                .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
                .collect::<Vec<_>>()
                .join(",");
            let h = headers("upload-metadata", raw.as_bytes()).unwrap();
            let got = metadata(&h);
            let want: Vec<(String, String)> = pairs.into_iter().collect();
            // A value the text rule refuses is refused whole; otherwise the pairs come back.
            if want.iter().all(|(_, v)| crate::domain::text::check("v", v).is_ok()) {
                prop_assert_eq!(got.ok(), Some(want));
            }
        }

        /// `Upload-Length` and `Upload-Offset`: only plain decimal digits that fit are read,
        /// and they are read exactly.
        #[test]
        fn props_tus_number_is_digits_only(
            v in prop_oneof![number().prop_map(String::into_bytes), header_bytes("0123456789+- ", 24)],
        ) {
            let Some(h) = headers("upload-offset", &v) else { return Ok(()) };
            if let Some(n) = tus_number(&h, "upload-offset") {
                prop_assert!(v.iter().all(u8::is_ascii_digit));
                prop_assert_eq!(std::str::from_utf8(&v).unwrap().parse::<u64>().ok(), Some(n));
            }
        }

        /// `Upload-Checksum` of any shape: refused, or a digest of the algorithm's length.
        #[test]
        fn props_tus_checksum_has_the_right_length(
            v in header_bytes("sha1256 +/=ABCabc", 80),
            digest in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            if let Some(h) = headers("upload-checksum", &v) {
                match checksum(&h) {
                    Ok(Some(Checksum::Sha1(d))) => prop_assert_eq!(d.len(), 20),
                    Ok(Some(Checksum::Sha256(d))) => prop_assert_eq!(d.len(), 32),
                    Ok(None) | Err(_) => {}
                }
            }
            let h = headers("upload-checksum", format!("sha256 {}", STANDARD.encode(&digest)).as_bytes()).unwrap();
            prop_assert_eq!(checksum(&h).is_ok(), digest.len() == 32);
        }
    }
}
