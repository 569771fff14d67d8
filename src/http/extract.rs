//! Extractors: who is calling, and JSON/query/path input whose rejections are problem bodies.

use super::AppState;
use super::error::{AppError, Code};
use crate::domain::token;
use crate::domain::visibility::{self, Caller};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    /// No `Authorization` header makes an anonymous caller; a header that is not a valid, live
    /// bearer token is refused with 401 even where anonymous access would be allowed, so a
    /// client with a broken token finds out.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| {
                AppError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        match state.db.token_by_hash(&token::hash(token)).await? {
            Some(token_id) => Ok(Caller::Operator { token_id }),
            None => Err(AppError::unauthorized("the token is not valid")),
        }
    }
}

/// A caller allowed to change the catalogue.
pub struct Writer(pub Caller);

impl FromRequestParts<AppState> for Writer {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if visibility::may_write(&caller) {
            Ok(Writer(caller))
        } else {
            Err(AppError::unauthorized("this needs an API token"))
        }
    }
}

/// `axum::Json`, answering bad input with a problem body.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, answering bad input with a problem body.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path`, answering bad input with a problem body.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        let code = match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
            _ => Code::InvalidRequest,
        };
        AppError::new(code, r.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::new(Code::InvalidRequest, r.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::new(Code::InvalidRequest, r.body_text())
    }
}
