//! The home page, signing in and out, and changing one's password.

use super::i18n::translate;
use super::{Flow, PageResult, Web};
use crate::domain::lesson::LessonStatus;
use crate::domain::visibility::Role;
use crate::http::auth;
use crate::http::error::AppError;
use crate::http::extract::{Form, same_secret};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::context;

/// `/admin/status`: what this instance holds, and where the API is described (staff and
/// operators; members have the library).
pub async fn status(web: Web) -> Response {
    let r = async {
        let caller = web.signed_in()?;
        if !crate::domain::visibility::admin_links(caller).staff {
            return Err(Flow::Error(AppError::forbidden(translate(
                web.lang,
                "error.staff_only",
            ))));
        }
        let counts = web.state.db.lesson_counts().await?;
        let count = |s: LessonStatus| counts.iter().find(|(k, _)| *k == s).map_or(0, |(_, n)| *n);
        let (blobs, bytes) = web.state.db.blob_totals().await?;
        web.page(
            "status.html",
            context! {
                published => count(LessonStatus::Published),
                drafts => count(LessonStatus::Draft),
                withdrawn => count(LessonStatus::Withdrawn),
                objects => blobs,
                gib => format!("{:.2}", bytes as f64 / (1024.0 * 1024.0 * 1024.0)),
                database => web.state.db.backend().name(),
                storage => if web.state.config.embedded_s3() { "embedded" } else { "external" },
            },
        )
    }
    .await;
    web.respond(r)
}

/// The cookie carrying the login form's CSRF token (double submit: there is no session yet).
const LOGIN_CSRF_COOKIE: &str = "lectern_login_csrf";

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    /// Set after a password change, which ends every session.
    changed: Option<String>,
}

/// Where to go after logging in: only a path on this site. Browsers drop tabs and line breaks
/// inside URLs, so `/\t/evil` would become `//evil`: a path here is plain printable ASCII
/// (percent-encoded otherwise), starts with one `/`, and has no backslash.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.len() < 500
                && n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/lessons".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_plain_paths_on_this_site_are_followed_after_login() {
        assert_eq!(safe_next(Some("/lessons?x=1")), "/lessons?x=1");
        for bad in [
            "//evil.example",
            "/\\evil",
            "/\t/evil.example",
            "/\n",
            "https://evil.example",
            "/a b",
            "/课程",
        ] {
            assert_eq!(safe_next(Some(bad)), "/lessons", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/lessons");
    }
}

fn login_form(
    web: &Web,
    jar: CookieJar,
    next: &str,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    login_form_with(web, jar, next, error, None, status)
}

fn login_form_with(
    web: &Web,
    jar: CookieJar,
    next: &str,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> PageResult {
    let csrf = crate::domain::token::generate();
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, csrf.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/login")
        .build();
    let page = web.render(
        status,
        "login.html",
        context! { login_csrf => csrf, next => next, error => error, notice => notice },
    )?;
    Ok((jar.add(cookie), page).into_response())
}

pub async fn login_page(
    web: Web,
    jar: CookieJar,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    // Without `next`, none is put in the form: the login then picks the start page by role.
    let next = q
        .next
        .as_deref()
        .map(|n| safe_next(Some(n)))
        .unwrap_or_default();
    let notice = q
        .changed
        .is_some()
        .then(|| translate(web.lang, "password.done"));
    web.respond(login_form_with(
        &web,
        jar,
        &next,
        None,
        notice,
        StatusCode::OK,
    ))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    login: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    web: Web,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let r = async {
        // The page to go back to, if the form named one (kept in the form on a retry).
        let asked = form.next.as_deref().filter(|n| !n.trim().is_empty());
        let next = asked.map(|n| safe_next(Some(n))).unwrap_or_default();
        let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
        if !web.same_origin || !expected.is_some_and(|e| same_secret(&e, &form.csrf)) {
            let error = translate(web.lang, "error.csrf");
            return login_form(&web, jar, &next, Some(error), StatusCode::FORBIDDEN);
        }
        // Whatever session the browser had ends here; the new one gets a new secret.
        auth::sign_out(&web.state, &jar).await?;
        match auth::sign_in(&web.state, &form.login, &form.password, &web.address).await {
            Ok(session) => {
                // Without a page to go back to, staff start at their lessons and members at the
                // library.
                let next = if asked.is_some() {
                    next
                } else {
                    let grants = web.state.db.grants_of(&session.user_id).await?;
                    let staff = grants.iter().any(|g| g.role != Role::Member);
                    (if staff { "/lessons" } else { "/" }).to_owned()
                };
                let jar = jar
                    .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login"))
                    .add(auth::session_cookie(&web.state, &headers, session.secret));
                Ok((jar, Redirect::to(&next)).into_response())
            }
            Err(auth::LoginError::Wrong) => login_form(
                &web,
                jar.add(auth::cleared_session_cookie()),
                &next,
                Some(translate(web.lang, "error.login")),
                StatusCode::UNAUTHORIZED,
            ),
            Err(auth::LoginError::Throttled { retry_after_secs }) => {
                let mut r = login_form(
                    &web,
                    jar.add(auth::cleared_session_cookie()),
                    &next,
                    Some(translate(web.lang, "error.throttled")),
                    StatusCode::TOO_MANY_REQUESTS,
                )?;
                r.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
                Ok(r)
            }
            Err(auth::LoginError::Db(e)) => Err(Flow::from(e)),
        }
    }
    .await;
    web.respond(r)
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn logout(web: Web, jar: CookieJar, Form(form): Form<CsrfForm>) -> Response {
    let r = async {
        web.acting(&form.csrf)?;
        auth::sign_out(&web.state, &jar).await?;
        Ok((
            jar.add(auth::cleared_session_cookie()),
            Redirect::to("/login"),
        )
            .into_response())
    }
    .await;
    web.respond(r)
}

pub async fn password_page(web: Web) -> Response {
    let r = async {
        web.signed_in()?;
        web.page("password.html", context! {})
    }
    .await;
    web.respond(r)
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
}

/// Changes the password through the API's rule; every session ends, so the next stop is the
/// login form.
pub async fn change_password(web: Web, jar: CookieJar, Form(form): Form<PasswordForm>) -> Response {
    let r = async {
        let crate::http::extract::Writer(acting) = web.acting(&form.csrf)?;
        match crate::services::accounts::change_own_password(
            &web.state.db,
            &acting,
            &form.current_password,
            &form.new_password,
        )
        .await
        .map_err(AppError::from)
        {
            Ok(()) => Ok((
                jar.add(auth::cleared_session_cookie()),
                Redirect::to("/login?changed=1"),
            )
                .into_response()),
            Err(e) => user_error(&web, "password.html", context! {}, e),
        }
    }
    .await;
    web.respond(r)
}

/// Re-renders `name` with the error's message when it is the user's mistake (4xx); anything
/// else goes to the error page.
pub fn user_error(web: &Web, name: &str, ctx: minijinja::Value, e: AppError) -> PageResult {
    let status = e.code.status();
    if status.is_client_error() {
        // The message in the page's language; on a Chinese page, the service's own (English)
        // detail after it, marked as English, for the line or value it names.
        let error = web.error_message(&e);
        let error_detail = (error != e.detail).then_some(e.detail);
        web.render(status, name, context! { error, error_detail, ..ctx })
    } else {
        Err(Flow::Error(e))
    }
}
