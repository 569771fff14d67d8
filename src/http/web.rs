//! Server-rendered pages. Templates live in `templates/` (mirroring this folder), are compiled
//! into the binary and auto-escaped.

use super::error::AppError;
use super::extract::{Form, PageCaller, SameOrigin, same_secret};
use super::{AppState, auth};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::context;

/// Builds the template environment once at start-up.
pub fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.add_template("base.html", include_str!("../../templates/base.html"))
        .expect("base.html parses");
    env.add_template("index.html", include_str!("../../templates/index.html"))
        .expect("index.html parses");
    env.add_template("login.html", include_str!("../../templates/login.html"))
        .expect("login.html parses");
    env
}

fn render(state: &AppState, name: &str, ctx: minijinja::Value) -> Result<Html<String>, AppError> {
    let template = state
        .templates
        .get_template(name)
        .map_err(|e| AppError::internal(&e))?;
    template
        .render(ctx)
        .map(Html)
        .map_err(|e| AppError::internal(&e))
}

/// `/`: what this instance holds, and where the API is described.
pub async fn index(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let counts = state.db.lesson_counts().await?;
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let (blobs, bytes) = state.db.blob_totals().await?;
    render(
        &state,
        "index.html",
        context! {
            published => count("published"),
            drafts => count("draft"),
            withdrawn => count("withdrawn"),
            objects => blobs,
            gib => format!("{:.2}", bytes as f64 / (1024.0 * 1024.0 * 1024.0)),
            database => state.db.backend().name(),
            storage => if state.config.embedded_s3() { "embedded" } else { "external" },
        },
    )
}

/// The pages' routes.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(index))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// The cookie carrying the login form's CSRF token (double submit: there is no session yet).
const LOGIN_CSRF_COOKIE: &str = "lectern_login_csrf";

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Where to go after logging in: only a path on this site.
fn safe_next(next: Option<&str>) -> String {
    // Browsers drop tabs and line breaks inside URLs, so `/\t/evil` would become `//evil`: a path
    // here is plain printable ASCII (percent-encoded otherwise), starts with one `/`, and has no
    // backslash.
    match next {
        Some(n)
            if n.len() < 500
                && n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
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
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}

fn login_form(
    state: &AppState,
    jar: CookieJar,
    next: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let csrf = crate::domain::token::generate();
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, csrf.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/login")
        .build();
    let page = render(
        state,
        "login.html",
        context! { csrf => csrf, next => next, error => error },
    )?;
    Ok((status, jar.add(cookie), page).into_response())
}

pub async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Result<Response, AppError> {
    let next = safe_next(q.next.as_deref());
    login_form(&state, jar, &next, None, StatusCode::OK)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    /// Missing counts as wrong (403 like any other mismatch), not as a malformed form (400).
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    SameOrigin(same_origin): SameOrigin,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let next = safe_next(form.next.as_deref());
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    if !same_origin || !expected.is_some_and(|e| same_secret(&e, &form.csrf)) {
        return login_form(
            &state,
            jar,
            &next,
            Some("表单已过期，请重试。The form expired; please try again.".into()),
            StatusCode::FORBIDDEN,
        );
    }
    let address = super::extract::address_from(&headers, Some(peer), &state);
    // Whatever session the browser had ends here; the new one gets a new secret.
    auth::sign_out(&state, &jar).await?;
    match auth::sign_in(&state, &form.login, &form.password, &address).await {
        Ok(session) => {
            let jar = jar
                .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login"))
                .add(auth::session_cookie(&state, &headers, session.secret));
            Ok((jar, Redirect::to(&next)).into_response())
        }
        Err(auth::LoginError::Wrong) => login_form(
            &state,
            jar.add(auth::cleared_session_cookie()),
            &next,
            Some("用户名或密码错误。Wrong login name or password.".into()),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e @ auth::LoginError::Throttled { retry_after_secs }) => {
            let mut r = login_form(
                &state,
                jar.add(auth::cleared_session_cookie()),
                &next,
                Some(format!("登录失败次数过多，请稍后再试。{e}")),
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            Ok(r)
        }
        Err(auth::LoginError::Db(e)) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    /// Missing counts as wrong (403), not as a malformed form (400).
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    caller: PageCaller,
    jar: CookieJar,
    SameOrigin(same_origin): SameOrigin,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    if !caller.verify_csrf(same_origin, &form.csrf) {
        return Err(AppError::forbidden(
            "the form's CSRF token is not this session's",
        ));
    }
    auth::sign_out(&state, &jar).await?;
    Ok((
        jar.add(auth::cleared_session_cookie()),
        Redirect::to("/login"),
    )
        .into_response())
}
