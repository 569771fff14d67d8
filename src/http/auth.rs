//! Signing in and out of web sessions: throttling, fresh session ids, cookies, audit.
//!
//! Invariants:
//! - A successful login always creates a new session with a new random secret; whatever session
//!   cookie the browser presented is ended, never adopted (no session fixation).
//! - Only the SHA-256 of a session secret is stored; the cookie is HttpOnly, SameSite=Lax, and
//!   Secure when the service is reached over https.
//! - Every login, failed or not, is in the audit log; after too many failures per account or per
//!   address within the window, logins are refused (429) without checking the password.

use super::AppState;
use super::extract::SESSION_COOKIE;
use crate::db::audit::{Actor, Event};
use crate::domain::{password, token};
use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the login name or the password is wrong")]
    Wrong,
    #[error("too many failed logins; try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A new session: the secret for the cookie and its CSRF token.
pub struct NewSession {
    pub secret: String,
    pub csrf_token: String,
    pub user_id: String,
}

/// Checks `login`/`password` from `address` and opens a session.
pub async fn sign_in(
    state: &AppState,
    login: &str,
    pass: &str,
    address: &str,
) -> Result<NewSession, LoginError> {
    let login = login.trim().to_lowercase();
    let login: String = login.chars().take(64).collect();
    let cfg = &state.config;
    let window_ms = cfg.login_window_secs as i64 * 1000;
    let since = crate::db::now_ms() - window_ms;
    // The attempt counts as a failure from the start and is forgiven only on success, so that
    // parallel guesses cannot all pass the check before any of them is recorded.
    let attempt = state.db.record_login_failure(&login, address).await?;
    let (by_login, by_address) = state.db.login_failures(&login, address, since).await?;
    let actor = Actor {
        user_id: None,
        label: format!("login:{login}"),
        address: Some(address.to_owned()),
    };
    if by_login > i64::from(cfg.login_max_failures_per_account)
        || by_address > i64::from(cfg.login_max_failures_per_address)
    {
        // Refused attempts do not count further: the window is measured from real failures.
        state.db.forget_login_attempt(&attempt).await?;
        // Recorded where the account's administrators can read it.
        let org_id = match state.db.user_by_login(&login).await? {
            Some(u) => state
                .db
                .grants_of(&u.id)
                .await?
                .first()
                .map(|g| g.org_id.clone()),
            None => None,
        };
        state
            .db
            .audit(
                &actor,
                Event {
                    action: "login.throttled",
                    target_kind: "user",
                    target_id: None,
                    org_id: org_id.as_deref(),
                    before: None,
                    after: Some(serde_json::json!({ "login": login })),
                },
            )
            .await?;
        return Err(LoginError::Throttled {
            retry_after_secs: cfg.login_window_secs,
        });
    }
    let user = state.db.user_by_login(&login).await?;
    // Verify against a decoy when there is no such account, so timing does not tell.
    let stored = user
        .as_ref()
        .map_or(password::decoy(), |u| u.password_hash.as_str());
    let pass_ok = pass.len() <= 1024 && password::verify(pass, stored);
    let org_id = match &user {
        Some(u) => state
            .db
            .grants_of(&u.id)
            .await?
            .first()
            .map(|g| g.org_id.clone()),
        None => None,
    };
    let user = match user {
        Some(u) if pass_ok && u.disabled_at.is_none() => u,
        _ => {
            state
                .db
                .audit(
                    &actor,
                    Event {
                        action: "login.failure",
                        target_kind: "user",
                        target_id: None,
                        org_id: org_id.as_deref(),
                        before: None,
                        after: Some(serde_json::json!({ "login": login })),
                    },
                )
                .await?;
            return Err(LoginError::Wrong);
        }
    };
    state.db.clear_login_failures(&login).await?;
    let secret = token::generate();
    let csrf_token = token::generate();
    state
        .db
        .create_session(
            &token::hash(&secret),
            &user.id,
            &csrf_token,
            Some(address),
            cfg.session_ttl_secs as i64 * 1000,
        )
        .await?;
    state
        .db
        .audit(
            &Actor {
                user_id: Some(user.id.clone()),
                label: format!("user:{}", user.login),
                address: Some(address.to_owned()),
            },
            Event {
                action: "login.success",
                target_kind: "user",
                target_id: Some(&user.id),
                org_id: org_id.as_deref(),
                before: None,
                after: None,
            },
        )
        .await?;
    Ok(NewSession {
        secret,
        csrf_token,
        user_id: user.id,
    })
}

/// Ends the session named by the request's cookie, if any.
pub async fn sign_out(state: &AppState, jar: &CookieJar) -> Result<(), sqlx::Error> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        state.db.delete_session(&token::hash(c.value())).await?;
    }
    Ok(())
}

/// Whether cookies must be `Secure`: the service is reached over https.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.public_url.starts_with("https://")
        || (state.config.trust_forwarded_headers
            && headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https")))
}

/// The session cookie for `secret`.
pub fn session_cookie(state: &AppState, headers: &HeaderMap, secret: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, secret))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state, headers))
        .path("/")
        .max_age(time::Duration::seconds(
            state.config.session_ttl_secs as i64,
        ))
        .build()
}

/// A cookie that removes the session cookie.
pub fn cleared_session_cookie() -> Cookie<'static> {
    let mut c = Cookie::build((SESSION_COOKIE, "")).path("/").build();
    c.make_removal();
    c
}
