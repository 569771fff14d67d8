//! The one error envelope of the HTTP API: every error is an RFC 9457 problem body
//! (`application/problem+json`) with a stable `code`, and its HTTP status comes from one table
//! ([`Code::status`]). Internal errors are logged with their whole cause chain and answered with
//! an opaque 500; a client's mistake never becomes a 500.

use crate::domain::Invalid;
use crate::ingest::IngestError;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Stable error codes. Clients may match on these; they never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    InvalidRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    Conflict,
    Gone,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// A subtitle file that cannot be read (422).
    InvalidSubtitle,
    RangeNotSatisfiable,
    Locked,
    TooManyRequests,
    ChecksumMismatch,
    UriTooLong,
    Unavailable,
    InsufficientStorage,
    Internal,
}

impl Code {
    /// The table of codes: HTTP status, stable code and title.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Gone => StatusCode::GONE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidSubtitle => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Locked => StatusCode::LOCKED,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            // tus 1.0 checksum extension: 460 Checksum Mismatch.
            Self::ChecksumMismatch => StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotAcceptable => "not_acceptable",
            Self::Conflict => "conflict",
            Self::Gone => "gone",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidSubtitle => "invalid_subtitle",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::Locked => "locked",
            Self::TooManyRequests => "too_many_requests",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::UriTooLong => "uri_too_long",
            Self::Unavailable => "unavailable",
            Self::InsufficientStorage => "insufficient_storage",
            Self::Internal => "internal",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::InvalidRequest => "The request is not valid",
            Self::Unauthorized => "Authentication is required",
            Self::Forbidden => "Not allowed",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::NotAcceptable => "Not acceptable",
            Self::Conflict => "Conflict with the current state",
            Self::Gone => "Gone",
            Self::PreconditionFailed => "Precondition failed",
            Self::PayloadTooLarge => "Too large",
            Self::UnsupportedMediaType => "Unsupported content",
            Self::InvalidSubtitle => "The subtitle file cannot be read",
            Self::RangeNotSatisfiable => "Range not satisfiable",
            Self::Locked => "Locked",
            Self::TooManyRequests => "Too many attempts",
            Self::ChecksumMismatch => "Checksum mismatch",
            Self::UriTooLong => "Request target too long",
            Self::Unavailable => "Temporarily unavailable",
            Self::InsufficientStorage => "Out of space",
            Self::Internal => "Internal error",
        }
    }
}

/// The RFC 9457 problem body every error answers with (`application/problem+json`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:lectern:problem:<code>`.
    pub r#type: String,
    pub title: &'static str,
    /// The HTTP status, repeated.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The stable code clients match on.
    pub code: Code,
    /// `invalid_request`: every field or parameter that was refused, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// `payload_too_large`: the limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// tus `conflict`: the offset the upload is at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// `gone` (a feed cursor older than the change log kept): where to start again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// `invalid_subtitle`: the line of the file at fault (1-based), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The request's id (also in the `X-Request-Id` header and the service's log line for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One refused field or parameter of an `invalid_request` problem.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What a problem body carries beyond the common members.
#[derive(Debug)]
pub enum Extra {
    Errors(Vec<FieldError>),
    Limit(u64),
    Offset(i64),
    Snapshot(String),
    /// `invalid_subtitle`: the line at fault.
    Line(u64),
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct AppError {
    pub code: Code,
    pub detail: String,
    extra: Option<Extra>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl AppError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            extra: None,
            headers: Vec::new(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("no such {what}"))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(Code::Conflict, detail)
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(Code::Unauthorized, detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"lectern\""),
        )
    }

    /// An error that is not the client's: logged with its cause chain, and answered by what it
    /// means for the client. An unreachable or overloaded database or object store (found
    /// anywhere in the cause chain) is a 503 with `Retry-After`; a full disk is a 507; anything
    /// else is an opaque 500. Every internal error passes here, so no handler decides this.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        match outage(err) {
            Some(Outage::Unavailable(what)) => {
                tracing::warn!(error = %chain, "{what} unavailable");
                Self::new(
                    Code::Unavailable,
                    format!("{what} is unavailable at the moment; try again shortly"),
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
            }
            Some(Outage::Full) => {
                tracing::error!(error = %chain, "out of space");
                Self::new(
                    Code::InsufficientStorage,
                    "the service has run out of space; nothing was changed, try again later",
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("60"))
            }
            None => {
                tracing::error!(error = %chain, "internal error");
                Self::new(
                    Code::Internal,
                    "an internal error occurred; it has been logged",
                )
            }
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with_extra(mut self, extra: Extra) -> Self {
        self.extra = Some(extra);
        self
    }

    /// Many validation failures at once.
    /// The fields an invalid request got wrong (empty for any other error).
    pub fn invalid_fields(&self) -> Vec<&str> {
        match &self.extra {
            Some(Extra::Errors(list)) => list.iter().map(|e| e.field.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    pub fn invalid(errors: &[Invalid]) -> Self {
        let detail = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let list = errors
            .iter()
            .map(|e| FieldError {
                field: e.field.to_owned(),
                message: e.message.clone(),
            })
            .collect();
        Self::new(Code::InvalidRequest, detail).with_extra(Extra::Errors(list))
    }
}

/// A failure of something the service depends on, rather than of the service itself.
enum Outage {
    /// The database or the object store did not answer, or answered that it is failing.
    Unavailable(&'static str),
    /// A disk (the database's or the store's) is full.
    Full,
}

/// Looks through `err` and its sources for an [`Outage`].
fn outage(err: &(dyn std::error::Error + 'static)) -> Option<Outage> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(db) = e.downcast_ref::<sqlx::Error>() {
            match db {
                // `Protocol`: the connection ended in the middle of the protocol — a server
                // going down or a proxy in front of it closing the connection (seen as "unexpected
                // response from SSLRequest" when a connection is accepted and closed at once).
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed => return Some(Outage::Unavailable("the database")),
                // PostgreSQL's connection exceptions (class 08), shutting down or starting up
                // (57P01-57P03), too many connections (53300).
                sqlx::Error::Database(d)
                    if d.code().is_some_and(|c| {
                        c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "53300")
                    }) =>
                {
                    return Some(Outage::Unavailable("the database"));
                }
                sqlx::Error::Database(d) if is_disk_full(d.as_ref()) => return Some(Outage::Full),
                // PostgreSQL cancelled the statement: its `statement_timeout` ran out (a frozen
                // server, a lock held elsewhere; see `db::POSTGRES_STATEMENT_TIMEOUT`).
                sqlx::Error::Database(d) if d.code().as_deref() == Some("57014") => {
                    return Some(Outage::Unavailable("the database"));
                }
                _ => {}
            }
        }
        if let Some(store) = e.downcast_ref::<crate::storage::StorageError>()
            && store.is_unavailable()
        {
            return Some(Outage::Unavailable("object storage"));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::StorageFull
        {
            return Some(Outage::Full);
        }
        current = e.source();
    }
    None
}

/// SQLite's `SQLITE_FULL` (13), or PostgreSQL's `disk_full` (53100).
fn is_disk_full(d: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(d.code().as_deref(), Some("13" | "53100"))
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut body = Problem {
            r#type: format!("urn:lectern:problem:{}", self.code.as_str()),
            title: self.code.title(),
            status: status.as_u16(),
            detail: self.detail,
            code: self.code,
            errors: None,
            limit: None,
            offset: None,
            snapshot: None,
            line: None,
            request_id: super::observe::request_id(),
        };
        match self.extra {
            Some(Extra::Errors(e)) => body.errors = Some(e),
            Some(Extra::Limit(n)) => body.limit = Some(n),
            Some(Extra::Offset(n)) => body.offset = Some(n),
            Some(Extra::Snapshot(s)) => body.snapshot = Some(s),
            Some(Extra::Line(n)) => body.line = Some(n),
            None => {}
        }
        let body = serde_json::to_string(&body).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

impl From<crate::services::ServiceError> for AppError {
    fn from(e: crate::services::ServiceError) -> Self {
        use crate::services::ServiceError as E;
        match e {
            E::Invalid(errors) => Self::invalid(&errors),
            E::NotFound(what) => Self::not_found(what),
            E::Unauthenticated(detail) => Self::unauthorized(&detail),
            E::Forbidden(detail) => Self::forbidden(detail),
            E::Conflict(detail) => Self::conflict(detail),
            E::PreconditionFailed(detail) => Self::new(Code::PreconditionFailed, detail),
            E::Db(e) => e.into(),
            E::Storage(e) => e.into(),
            E::Search(e) => Self::internal(&e),
        }
    }
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        Self::invalid(&[e])
    }
}

impl From<sqlx::Error> for AppError {
    /// A unique-key violation means a concurrent request got there first (the same login created
    /// twice, the same level approved twice): a conflict, not an internal error. Everything else
    /// is classified by [`AppError::internal`] (no pooled connection in time: 503).
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => Self::new(
                Code::Conflict,
                "a concurrent request made the same change first; reload and retry",
            ),
            _ => Self::internal(&e),
        }
    }
}

impl From<crate::storage::StorageError> for AppError {
    fn from(e: crate::storage::StorageError) -> Self {
        Self::internal(&e)
    }
}

impl From<IngestError> for AppError {
    fn from(e: IngestError) -> Self {
        let detail = e.to_string();
        match e {
            IngestError::Invalid(i) => i.into(),
            IngestError::Refused(_) => Self::new(Code::UnsupportedMediaType, detail),
            IngestError::Subtitle(broken) => {
                let e = Self::new(Code::InvalidSubtitle, detail);
                match broken.line {
                    Some(line) => e.with_extra(Extra::Line(line as u64)),
                    None => e,
                }
            }
            IngestError::TooLarge { limit } => {
                Self::new(Code::PayloadTooLarge, detail).with_extra(Extra::Limit(limit))
            }
            IngestError::LessonNotFound => Self::not_found("lesson"),
            IngestError::Frozen => Self::new(Code::Conflict, detail),
            IngestError::UploadNotFound => Self::not_found("upload"),
            IngestError::Expired => Self::new(Code::Gone, detail),
            IngestError::OffsetMismatch { expected } => {
                Self::new(Code::Conflict, detail).with_extra(Extra::Offset(expected))
            }
            IngestError::AlreadyComplete => Self::new(Code::Conflict, detail),
            IngestError::Locked => Self::new(Code::Locked, detail),
            IngestError::ChecksumMismatch => Self::new(Code::ChecksumMismatch, detail),
            IngestError::BodyAborted(_) => Self::new(Code::InvalidRequest, detail),
            IngestError::Storage(e) => Self::internal(&e),
            IngestError::Db(e) => Self::internal(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name_and_a_client_or_server_status() {
        let all = [
            Code::InvalidRequest,
            Code::Unauthorized,
            Code::Forbidden,
            Code::NotFound,
            Code::MethodNotAllowed,
            Code::NotAcceptable,
            Code::Conflict,
            Code::Gone,
            Code::PreconditionFailed,
            Code::PayloadTooLarge,
            Code::UnsupportedMediaType,
            Code::InvalidSubtitle,
            Code::RangeNotSatisfiable,
            Code::Locked,
            Code::TooManyRequests,
            Code::ChecksumMismatch,
            Code::UriTooLong,
            Code::Unavailable,
            Code::InsufficientStorage,
            Code::Internal,
        ];
        let mut names: Vec<_> = all.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for c in all {
            let s = c.status().as_u16();
            assert!((400..600).contains(&s));
            let server_side = matches!(
                c,
                Code::Internal | Code::Unavailable | Code::InsufficientStorage
            );
            assert_eq!(s >= 500, server_side, "{c:?}");
        }
    }

    #[test]
    fn a_connection_cut_mid_protocol_is_a_503_not_a_500() {
        // What a PostgreSQL connection accepted and closed at once (a server going down behind
        // a proxy) gives; found by the database outage test.
        let cut = sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into());
        let response = AppError::from(cut).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn a_pool_timeout_is_a_503_with_retry_after() {
        let response = AppError::from(sqlx::Error::PoolTimedOut).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
