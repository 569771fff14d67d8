//! The alternate request syntax (xAPI 1.0.3 Communication 1.3): a client that cannot send custom
//! headers or methods (a browser's cross-origin request) sends `POST …?method=PUT` with a form
//! carrying the headers (`Authorization`, `X-Experience-API-Version`, `Content-Type`,
//! `Content-Length`, `If-Match`, `If-None-Match`), the resource's parameters and the body as
//! `content`. It is rewritten here into the request it stands for, before the version check and
//! the handlers, so every rule of the real request applies to it.
//!
//! A header the request itself carries wins over the form's (the transport's headers are what the
//! client really sent); `Content-Type` is the form's, `application/json` when it names none, and
//! `Content-Length` is that of `content`. Any parameter in the URL besides `method` is refused
//! (Communication 1.3.s3.b4), as is `method` on anything but a `POST`.

use super::{bad, read_body};
use crate::http::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};

/// Marks a request routed by its `method` parameter.
#[derive(Debug, Clone, Copy)]
pub struct Alternate;

/// Before routing: a `POST` to the store with a `method` parameter of GET, PUT, POST or DELETE is
/// routed as that method and marked [`Alternate`]. Anything else is left as it is (a `method`
/// parameter elsewhere is then refused as an unknown parameter).
pub fn route_as<B>(request: &mut axum::http::Request<B>) {
    if request.method() != Method::POST || !request.uri().path().starts_with("/api/xapi/") {
        return;
    }
    let query = request.uri().query().unwrap_or("");
    let method = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "method")
        .and_then(|(_, v)| match v.as_ref() {
            "GET" => Some(Method::GET),
            "PUT" => Some(Method::PUT),
            "POST" => Some(Method::POST),
            "DELETE" => Some(Method::DELETE),
            _ => None,
        });
    if let Some(m) = method {
        *request.method_mut() = m;
        request.extensions_mut().insert(Alternate);
    }
}

/// The form fields that are headers.
const HEADERS: [&str; 6] = [
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
];

/// The most an alternate request's form may be: its `content` percent-encoded.
const FORM_LIMIT: usize = 4 * crate::domain::xapi::documents::MAX_DOCUMENT_BYTES;

/// The request an [`Alternate`] request stands for (any other is returned as it is).
pub async fn rewrite(request: Request) -> Result<Request, AppError> {
    if request.extensions().get::<Alternate>().is_none() {
        return Ok(request);
    }
    let query = request.uri().query().unwrap_or("");
    if form_urlencoded::parse(query.as_bytes()).count() != 1 {
        return Err(bad(
            "in the alternate request syntax the URL carries only method; the resource's \
             parameters go in the form"
                .to_owned(),
        ));
    }
    let (mut parts, body) = request.into_parts();
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(bad(
            "an alternate request (the method parameter) is a form: \
             application/x-www-form-urlencoded"
                .to_owned(),
        ));
    }
    let bytes = read_body(body, FORM_LIMIT).await?;
    crate::http::input::check_form("form", &bytes)?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut content: Option<String> = None;
    let mut content_type: Option<String> = None;
    for (k, v) in form_urlencoded::parse(&bytes) {
        let name = k.to_ascii_lowercase();
        if name == "content" {
            content = Some(v.into_owned());
        } else if name == "content-type" {
            content_type = Some(v.into_owned());
        } else if name == "content-length" {
            // Recomputed from `content`.
        } else if HEADERS.contains(&name.as_str()) {
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("the form field {name} is not a header name")))?;
            if !parts.headers.contains_key(&header_name) {
                let value = HeaderValue::from_str(&v)
                    .map_err(|_| bad(format!("the form field {name} is not a header value")))?;
                parts.headers.insert(header_name, value);
            }
        } else {
            query.append_pair(&k, &v);
        }
    }
    let content = content.unwrap_or_default();
    let content_type = content_type.unwrap_or_else(|| "application/json".to_owned());
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .map_err(|_| bad("the form's Content-Type is not a header value".to_owned()))?,
    );
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(content.len()));
    let query = query.finish();
    let target = if query.is_empty() {
        parts.uri.path().to_owned()
    } else {
        format!("{}?{query}", parts.uri.path())
    };
    parts.uri = target
        .parse::<Uri>()
        .map_err(|_| bad("the form's parameters do not make a request target".to_owned()))?;
    Ok(Request::from_parts(parts, Body::from(content)))
}
