//! The input boundary: every request's target, and every form or JSON body a handler reads, is
//! checked against the one text rule ([`crate::domain::text`]) before any handler sees it.
//!
//! Invariants:
//! - A path or query string that is too long, is not UTF-8 once percent-decoded, or holds a
//!   character the text rule refuses is answered with a problem body by [`check_target`], a
//!   middleware in front of every route (and the fallback), so a new route is covered without
//!   doing anything.
//! - Form and JSON bodies are checked by the `Form` and `Json` extractors (`http::extract`) with
//!   [`check_form`] and [`check_json`], before they are deserialised: every string and every key,
//!   whatever field it is for.
//!
//! Rationale: the probe that found NUL bytes reaching PostgreSQL (a 500) found them in 40 places:
//! ids in paths, filters in query strings, login forms, JSON fields. Checking once, here, replaces
//! remembering to check in each.

use super::error::{AppError, Code, Extra, FieldError};
use crate::domain::text;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The longest request target (path and query) accepted, in bytes.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

/// Middleware: refuses a request whose path or query string breaks the text rule.
pub async fn check_target(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let length = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if length > MAX_TARGET_BYTES {
        return AppError::new(
            Code::UriTooLong,
            format!("the request target is longer than {MAX_TARGET_BYTES} bytes"),
        )
        .into_response();
    }
    if let Err(e) = text::check_percent_encoded("path", uri.path().as_bytes()) {
        return AppError::from(e).into_response();
    }
    if let Some(query) = uri.query()
        && let Err(e) = check_form("query", query.as_bytes())
    {
        return e.into_response();
    }
    next.run(request).await
}

/// Checks an `application/x-www-form-urlencoded` string (a query string or a form body), naming
/// the parameter whose name or value breaks the rule.
pub fn check_form(field: &'static str, bytes: &[u8]) -> Result<(), AppError> {
    for pair in bytes.split(|&b| b == b'&') {
        if let Err(e) = text::check_percent_encoded(field, pair) {
            let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
            let decoded: Vec<u8> = percent_encoding::percent_decode(name).collect();
            let name = std::str::from_utf8(&decoded)
                .ok()
                .filter(|n| text::first_forbidden(n).is_none());
            let detail = match name {
                Some(name) => format!("{field} parameter `{name}` {}", e.message),
                None => format!("a {field} parameter's name {}", e.message),
            };
            // Like validation errors, the problem lists the offending parameter by name.
            let errors = vec![FieldError {
                field: name.unwrap_or(field).to_owned(),
                message: e.message.clone(),
            }];
            return Err(
                AppError::new(Code::InvalidRequest, detail).with_extra(Extra::Errors(errors))
            );
        }
    }
    Ok(())
}

/// Checks every string and every object key in a JSON document.
pub fn check_json(value: &serde_json::Value) -> Result<(), AppError> {
    use serde_json::Value;
    let bad = |path: &str, s: &str| {
        text::check("json", s).map_err(|e| {
            AppError::new(
                Code::InvalidRequest,
                format!("the JSON value at {path} {}", e.message),
            )
        })
    };
    // An explicit stack, so a deeply nested body cannot exhaust the thread's stack here (serde_json
    // itself already stops at 128 levels).
    let mut stack = vec![("$".to_owned(), value)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::String(s) => bad(&path, s)?,
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((format!("{path}[{i}]"), item));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    bad(&format!("{path} (a key)"), k)?;
                    stack.push((format!("{path}.{k}"), item));
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_strings_and_keys_are_checked_at_any_depth() {
        assert!(check_json(&json!({"a": ["新", {"b": "c\n"}], "n": 1})).is_ok());
        let e = check_json(&json!({"a": [1, {"org_id": "a\u{0}b"}]})).unwrap_err();
        assert!(e.detail.contains("$.a[1].org_id"), "{}", e.detail);
        assert!(check_json(&json!({"k\u{FFFF}": 1})).is_err());
    }

    #[test]
    fn form_errors_name_the_parameter() {
        assert!(check_form("form", b"login=%E5%85%9A&x=1").is_ok());
        let e = check_form("form", b"ok=1&login=a%00b").unwrap_err();
        assert!(e.detail.contains("`login`"), "{}", e.detail);
        assert!(check_form("query", b"q=%ff").is_err());
        assert!(check_form("query", b"%ff=1").is_err());
    }
}
