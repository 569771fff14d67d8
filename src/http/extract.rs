//! Extractors: who is calling, and JSON/query/path input whose rejections are problem bodies.

use super::AppState;
use super::error::{AppError, Code};
use crate::db::audit::Actor;
use crate::db::users::TokenOwner;
use crate::domain::token;
use crate::domain::visibility::{self, Caller, User, Via};
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum_extra::extract::cookie::CookieJar;
use std::net::SocketAddr;

/// The name of the web session cookie.
pub const SESSION_COOKIE: &str = "lectern_session";
/// The header that carries the CSRF token of a session on unsafe API requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who is calling, before any CSRF check: a bearer token (operator or personal), or a session
/// cookie, or nobody.
async fn identify(parts: &Parts, state: &AppState) -> Result<Caller, AppError> {
    let caller = identify_unnoted(parts, state).await?;
    super::observe::note_caller(caller_kind(&caller));
    Ok(caller)
}

/// The caller's kind for the access log.
fn caller_kind(caller: &Caller) -> &'static str {
    match caller {
        Caller::Anonymous => "anonymous",
        Caller::Operator { .. } => "operator",
        Caller::User(_) => "user",
        Caller::Platform(_) => "platform",
    }
}

async fn identify_unnoted(parts: &Parts, state: &AppState) -> Result<Caller, AppError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
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
        if crate::domain::platform::is_key(token) {
            return platform_caller(state, token).await;
        }
        return match state.db.token_owner(&token::hash(token)).await? {
            Some(TokenOwner::Operator { token_id }) => Ok(Caller::Operator { token_id }),
            Some(TokenOwner::User { token_id, user_id }) => {
                load_user(state, &user_id, Via::Token { token_id })
                    .await?
                    .ok_or_else(|| AppError::unauthorized("the token is not valid"))
            }
            None => Err(AppError::unauthorized("the token is not valid")),
        };
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(Caller::Anonymous);
    };
    let secret = cookie.value();
    if secret.is_empty() || secret.len() > 200 {
        return Ok(Caller::Anonymous);
    }
    // An expired or unknown session is simply no session: pages then offer the login form.
    let Some(session) = state.db.session(&token::hash(secret)).await? else {
        return Ok(Caller::Anonymous);
    };
    Ok(load_user(
        state,
        &session.user_id,
        Via::Session {
            csrf_token: session.csrf_token,
        },
    )
    .await?
    .unwrap_or(Caller::Anonymous))
}

/// The platform whose live key `key` is; a revoked key, or one of a disabled platform, is
/// refused at once (keys are looked up on every request, never cached).
pub async fn platform_caller(state: &AppState, key: &str) -> Result<Caller, AppError> {
    match state.db.platform_by_key(&token::hash(key)).await? {
        Some((platform, key_id)) => {
            super::observe::note_caller("platform");
            Ok(Caller::Platform(platform.caller(&key_id)))
        }
        None => Err(AppError::unauthorized("the platform key is not valid")),
    }
}

/// Refuses a platform key on the staff side (an API endpoint that needs an account or an operator
/// token, or a page; see `visibility::may_use_staff_side`): 403 with a problem body, and the
/// attempt in the audit log under the platform's organisation, so its administrators see a key
/// used where it does not belong.
pub async fn refuse_platform(state: &AppState, acting: &Acting, path: &str) -> AppError {
    let org_id = match &acting.caller {
        Caller::Platform(p) => crate::domain::org::ids(&p.org_path)
            .last()
            .map(|id| (*id).to_owned()),
        _ => None,
    };
    let path: String = path.chars().take(200).collect();
    let event = crate::db::audit::Event {
        action: "denied.staff_side",
        target_kind: "endpoint",
        target_id: Some(&path),
        org_id: org_id.as_deref(),
        before: None,
        after: None,
    };
    if let Err(e) = state.db.audit(&acting.actor, event).await {
        return AppError::internal(&e);
    }
    AppError::forbidden(
        "a platform key may read only its feed and snapshot, OAI-PMH, podcast feeds, and the \
         lessons, assets and search results the platform receives; this is for accounts and \
         operator tokens",
    )
}

async fn load_user(state: &AppState, user_id: &str, via: Via) -> Result<Option<Caller>, AppError> {
    let Some(u) = state.db.user(user_id).await? else {
        return Ok(None);
    };
    if u.disabled_at.is_some() {
        return Ok(None);
    }
    let grants = state.db.grants_for_access(user_id).await?;
    Ok(Some(Caller::User(User {
        id: u.id,
        login: u.login,
        display_name: u.display_name,
        grants,
        via,
    })))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a request's `Origin`, when it has one, is this service itself.
fn same_origin(parts: &Parts) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    /// No credentials make an anonymous caller; an `Authorization` header that is not a valid,
    /// live bearer token is refused with 401 even where anonymous access would be allowed, so a
    /// client with a broken token finds out. A session may make unsafe requests only with its
    /// CSRF token in `X-CSRF-Token` and from its own origin (forms use [`PageCaller`] and check
    /// the token in the form).
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = identify(parts, state).await?;
        if let Caller::User(User {
            via: Via::Session { csrf_token },
            ..
        }) = &caller
            && !is_safe(&parts.method)
        {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_origin(parts) || !same_secret(sent, csrf_token) {
                return Err(AppError::forbidden(
                    "a request made with a session cookie must carry the session's CSRF token \
                     in X-CSRF-Token and come from this site",
                ));
            }
        }
        Ok(caller)
    }
}

/// The caller of a web page, whose form handlers check the CSRF token in the form themselves
/// (with [`PageCaller::verify_csrf`]).
pub struct PageCaller(pub Caller);

impl PageCaller {
    /// Whether `sent` (a form's hidden field) is this session's CSRF token and the request came
    /// from this site. Callers without a session never pass.
    pub fn verify_csrf(&self, parts_origin_ok: bool, sent: &str) -> bool {
        match &self.0 {
            Caller::User(User {
                via: Via::Session { csrf_token },
                ..
            }) => parts_origin_ok && same_secret(sent, csrf_token),
            _ => false,
        }
    }

    pub fn csrf_token(&self) -> Option<&str> {
        match &self.0 {
            Caller::User(User {
                via: Via::Session { csrf_token },
                ..
            }) => Some(csrf_token),
            _ => None,
        }
    }
}

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageCaller(identify(parts, state).await?))
    }
}

/// Whether the request's `Origin` (if any) is this site; for form handlers.
pub struct SameOrigin(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for SameOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(SameOrigin(same_origin(parts)))
    }
}

/// The client's address: the peer, or — when configured to trust the proxy in front — the last
/// `X-Forwarded-For` hop, the one that proxy added (earlier hops are whatever the client sent).
pub fn client_address(parts: &Parts, state: &AppState) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    address_from(&parts.headers, peer, state)
}

/// [`client_address`] from a request's headers and its peer.
pub fn address_from(
    headers: &axum::http::HeaderMap,
    peer: Option<SocketAddr>,
    state: &AppState,
) -> String {
    if state.config.trust_forwarded_headers
        && let Some(last) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    {
        return last.to_owned();
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The actor recorded in the audit log for `caller` at `address`.
pub fn actor_of(caller: &Caller, address: String) -> Actor {
    Actor {
        user_id: caller.user_id().map(str::to_owned),
        label: caller.label(),
        address: Some(address),
    }
}

/// A caller with the actor the audit log records for it (`services::Acting`). Applies the same
/// CSRF rule as [`Caller`].
pub use crate::services::Acting;

impl FromRequestParts<AppState> for Acting {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let actor = actor_of(&caller, client_address(parts, state));
        Ok(Acting { caller, actor })
    }
}

/// A caller of the staff side: an account (by token or session) or an operator token. Anonymous
/// callers get 401; a platform key gets 403 ([`refuse_platform`]). Every handler that needs
/// credentials takes this, so which endpoints a platform key may call is decided here, once: only
/// those taking a plain [`Caller`] (the reads that `domain::visibility` scopes to what the
/// platform receives, and the feeds).
pub struct Writer(pub Acting);

impl FromRequestParts<AppState> for Writer {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let acting = Acting::from_request_parts(parts, state).await?;
        if acting.caller == Caller::Anonymous {
            Err(AppError::unauthorized(
                "this needs an API token or a session",
            ))
        } else if !visibility::may_use_staff_side(&acting.caller) {
            Err(refuse_platform(state, &acting, parts.uri.path()).await)
        } else {
            Ok(Writer(acting))
        }
    }
}

/// `axum::Json`, answering bad input with a problem body. Every string and key of the body
/// passes the text rule ([`super::input::check_json`]) before it is deserialised into `T`.
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        super::input::check_json(&value)?;
        T::deserialize(value).map(Json).map_err(|e| {
            AppError::new(
                Code::InvalidRequest,
                format!("the JSON body does not have the expected shape: {e}"),
            )
        })
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, answering bad input with a problem body.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// `axum::Form`, answering bad input with a problem body. The body passes the text rule
/// ([`super::input::check_form`]) before it is deserialised: `axum::Form` itself decodes invalid
/// UTF-8 lossily into U+FFFD, which would store "��" where a client sent garbage.
pub struct Form<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let form_body = !is_safe(req.method())
            && req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| {
                    v.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                });
        if !form_body {
            // A query string (checked by the middleware already), or the wrong content type,
            // which `axum::Form` refuses with 415.
            let axum::Form(value) = axum::Form::<T>::from_request(req, state).await?;
            return Ok(Form(value));
        }
        let (parts, body) = req.into_parts();
        let bytes = axum::body::Bytes::from_request(
            axum::extract::Request::from_parts(parts.clone(), body),
            state,
        )
        .await
        .map_err(|r| {
            let code = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Code::PayloadTooLarge
            } else {
                Code::InvalidRequest
            };
            AppError::new(code, r.body_text())
        })?;
        super::input::check_form("form", &bytes)?;
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Form(value) = axum::Form::<T>::from_request(req, state).await?;
        Ok(Form(value))
    }
}

impl From<FormRejection> for AppError {
    fn from(r: FormRejection) -> Self {
        AppError::new(Code::InvalidRequest, r.body_text())
    }
}

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
