//! Server-rendered pages for editors, reviewers and administrators. Templates live in
//! `templates/` (mirroring this folder), are compiled into the binary and auto-escaped.
//!
//! Invariants:
//! - Pages decide nothing about access or workflow. The lesson and review pages call the
//!   services (`services::catalog`, `services::review`) with an [`Acting`] built here, exactly as
//!   the JSON API does; the admin pages still call the JSON API's handler functions directly
//!   (until their services land). Buttons are offered by asking
//!   `domain::visibility`. A page handler only translates forms into those calls and their
//!   answers into pages.
//! - Every POST handler first checks the form's `csrf` field against the session
//!   ([`Web::acting`]): no session, another site's origin or a wrong token is a 403 before any
//!   other work. Form fields all have defaults, so a form missing its token is refused as such.
//! - A user's mistake is re-rendered with its message and a 4xx status, never a 500; an
//!   anonymous visitor to a staff page is sent to `/login?next=…`.
//! - Pages are for people: a downstream platform's key is refused on every page with 403 and a
//!   problem body ([`Web`]'s extractor, by `visibility::may_use_staff_side`), before any work.

mod admin;
mod i18n;
mod lessons;
mod library;
mod reports;
mod review;
mod session;

use super::AppState;
use super::error::{AppError, Code};
use super::extract::{Acting, PageCaller, Writer, actor_of, client_address, refuse_platform};
use crate::domain::visibility::Caller;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
pub use i18n::Lang;
use minijinja::{Value, context};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::sync::LazyLock;

/// The cookie remembering the chosen language.
const LANG_COOKIE: &str = "lang";

/// The templates, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "status.html",
        include_str!("../../../templates/status.html"),
    ),
    (
        "library/_card.html",
        include_str!("../../../templates/library/_card.html"),
    ),
    (
        "_error.html",
        include_str!("../../../templates/_error.html"),
    ),
    (
        "library/home.html",
        include_str!("../../../templates/library/home.html"),
    ),
    (
        "library/search.html",
        include_str!("../../../templates/library/search.html"),
    ),
    (
        "library/lesson.html",
        include_str!("../../../templates/library/lesson.html"),
    ),
    (
        "library/shelf.html",
        include_str!("../../../templates/library/shelf.html"),
    ),
    (
        "library/learning.html",
        include_str!("../../../templates/library/learning.html"),
    ),
    ("login.html", include_str!("../../../templates/login.html")),
    (
        "synonyms.html",
        include_str!("../../../templates/synonyms.html"),
    ),
    (
        "platforms.html",
        include_str!("../../../templates/platforms.html"),
    ),
    ("error.html", include_str!("../../../templates/error.html")),
    ("jobs.html", include_str!("../../../templates/jobs.html")),
    (
        "reports.html",
        include_str!("../../../templates/reports.html"),
    ),
    (
        "password.html",
        include_str!("../../../templates/password.html"),
    ),
    (
        "lessons.html",
        include_str!("../../../templates/lessons.html"),
    ),
    (
        "lesson.html",
        include_str!("../../../templates/lesson.html"),
    ),
    (
        "lesson_form.html",
        include_str!("../../../templates/lesson_form.html"),
    ),
    (
        "upload.html",
        include_str!("../../../templates/upload.html"),
    ),
    (
        "review.html",
        include_str!("../../../templates/review.html"),
    ),
    ("orgs.html", include_str!("../../../templates/orgs.html")),
    ("users.html", include_str!("../../../templates/users.html")),
];

/// Builds the template environment once at start-up.
pub fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    // `.html` templates are auto-escaped by minijinja's default callback; keep it that way.
    for &(name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name} does not parse: {e}"));
    }
    env.add_function("t", |state: &minijinja::State, id: &str| {
        let lang = state
            .lookup("lang")
            .and_then(|v| v.as_str().and_then(Lang::parse))
            .unwrap_or(Lang::Zh);
        i18n::translate(lang, id)
    });
    env.add_filter("bytes", |n: i64| -> String {
        let n = n as f64;
        if n >= 1024.0 * 1024.0 * 1024.0 {
            format!("{:.2} GiB", n / (1024.0 * 1024.0 * 1024.0))
        } else if n >= 1024.0 * 1024.0 {
            format!("{:.1} MiB", n / (1024.0 * 1024.0))
        } else if n >= 1024.0 {
            format!("{:.1} KiB", n / 1024.0)
        } else {
            format!("{n} B")
        }
    });
    env.add_filter("when", |v: Option<String>| -> String {
        v.as_deref().map_or_else(|| "—".to_owned(), local_time)
    });
    env
}

/// An RFC 3339 time (as the API writes them, in UTC) as the users read it: China Standard Time
/// (UTC+8, no daylight saving), to the minute, with the zone named.
pub(crate) fn local_time(rfc3339: &str) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| t.to_offset(time::macros::offset!(+8)).format(&format).ok())
        .map_or_else(|| rfc3339.to_owned(), |t| format!("{t} (UTC+8)"))
}

/// The pages' routes.
pub fn routes() -> super::Routes {
    use axum::routing::{get, post};
    super::Routes::new()
        .route("/", get(library::home))
        .route("/search", get(library::search_page))
        .route("/learn/{id}", get(library::lesson))
        .route("/series/{name}", get(library::series))
        .route("/lecturers/{name}", get(library::lecturer))
        .route("/me/learning", get(library::learning))
        .route("/admin/status", get(session::status))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route(
            "/account/password",
            get(session::password_page).post(session::change_password),
        )
        .route("/lessons", get(lessons::list))
        .route("/lessons/new", get(lessons::new_page).post(lessons::create))
        .route("/lessons/{id}", get(lessons::show))
        .route(
            "/lessons/{id}/edit",
            get(lessons::edit_page).post(lessons::update),
        )
        .route("/lessons/{id}/upload", get(lessons::upload_page))
        .route("/lessons/{id}/{step}", post(lessons::workflow_step))
        .route("/review", get(review::queue))
        .route("/review/{id}/approve", post(review::approve))
        .route("/review/{id}/reject", post(review::reject))
        .route("/admin/orgs", get(admin::orgs).post(admin::create_org))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/platforms", get(admin::platforms))
        .route("/admin/jobs", get(admin::jobs_list))
        .route("/admin/reports", get(reports::page))
        .route(
            "/admin/synonyms",
            get(admin::synonyms).post(admin::save_synonyms),
        )
        .route("/admin/jobs/retry", post(admin::retry_jobs))
        .route("/admin/jobs/{id}/retry", post(admin::retry_job))
        .route("/admin/jobs/{id}/reprocess", post(admin::reprocess_job))
        .route("/admin/users/{id}/grants", post(admin::add_grant))
        .route("/admin/users/{id}/grants/remove", post(admin::remove_grant))
        .route("/static/{name}", get(static_file))
        // Pages and scripts are text: gzip makes them a quarter of their size on a weak line
        // (the API's file downloads are not compressed: they are media, and ranged).
        .map(|r| {
            r.layer(axum::middleware::from_fn(page_headers))
                .layer(tower_http::compression::CompressionLayer::new())
        })
}

/// The scripts served under `/static/`, compiled into the binary (`static/vendor/README.md` says
/// where the vendored ones come from).
const STATIC_FILES: &[(&str, &str)] = &[
    ("upload.js", include_str!("../../../static/upload.js")),
    ("library.js", include_str!("../../../static/library.js")),
    (
        "hls.min.js",
        include_str!("../../../static/vendor/hls.js/hls.min.js"),
    ),
];

/// A short hash of the static files, put into their URLs (`?v=`) so they can be cached forever.
static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (name, body) in STATIC_FILES {
        h.update(name.as_bytes());
        h.update(body.as_bytes());
    }
    hex::encode(&h.finalize()[..6])
});

async fn static_file(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match STATIC_FILES.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/javascript; charset=utf-8"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => AppError::not_found("file").into_response(),
    }
}

/// Remembers `?lang=` in a cookie, and gives every page a strict content security policy (no
/// inline or foreign scripts: only the files of `/static/`) unless the page set its own (the
/// library's pages also allow media from object storage, see `library`).
async fn page_headers(request: Request, next: Next) -> Response {
    let chosen = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("lang=")))
        .and_then(Lang::parse);
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let took = started.elapsed();
    let h = response.headers_mut();
    if let Some(lang) = chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        ))
    {
        h.append(header::SET_COOKIE, v);
    }
    if h.get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
    {
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                     img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
                ),
            );
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // The server's part (handler and template, before compression): for browsers'
        // developer tools and the search benchmark.
        if let Ok(v) =
            HeaderValue::from_str(&format!("total;dur={:.2}", took.as_secs_f64() * 1000.0))
        {
            h.insert("server-timing", v);
        }
    }
    response
}

/// Everything a page handler needs about the request: who asks, in which language, from where.
pub struct Web {
    pub state: AppState,
    pub caller: Caller,
    pub lang: Lang,
    pub(super) address: String,
    pub(super) same_origin: bool,
    /// The path and query, for `?next=` and the language switch.
    here: String,
    path: String,
    query: String,
}

impl FromRequestParts<AppState> for Web {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let PageCaller(caller) = PageCaller::from_request_parts(parts, state).await?;
        if matches!(caller, Caller::Platform(_)) {
            let acting = Acting {
                actor: actor_of(&caller, client_address(parts, state)),
                caller,
            };
            return Err(refuse_platform(state, &acting, parts.uri.path()).await);
        }
        let query = parts.uri.query().unwrap_or("").to_owned();
        let lang = query
            .split('&')
            .find_map(|p| p.strip_prefix("lang="))
            .and_then(Lang::parse)
            .or_else(|| {
                CookieJar::from_headers(&parts.headers)
                    .get(LANG_COOKIE)
                    .and_then(|c| Lang::parse(c.value()))
            })
            .unwrap_or(Lang::Zh);
        let super::extract::SameOrigin(same_origin) =
            super::extract::SameOrigin::from_request_parts(parts, state)
                .await
                .unwrap_or(super::extract::SameOrigin(false));
        Ok(Web {
            state: state.clone(),
            address: client_address(parts, state),
            caller,
            lang,
            same_origin,
            here: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            path: parts.uri.path().to_owned(),
            query,
        })
    }
}

/// How a page handler ends early: a redirect (to the login form) or an error to show.
pub enum Flow {
    Redirect(String),
    Error(AppError),
}

impl From<AppError> for Flow {
    fn from(e: AppError) -> Self {
        Flow::Error(e)
    }
}

impl From<crate::services::ServiceError> for Flow {
    fn from(e: crate::services::ServiceError) -> Self {
        Flow::Error(e.into())
    }
}

impl From<sqlx::Error> for Flow {
    fn from(e: sqlx::Error) -> Self {
        Flow::Error(e.into())
    }
}

pub type PageResult = Result<Response, Flow>;

impl Web {
    /// The signed-in caller, or a redirect to the login form that comes back here.
    pub fn signed_in(&self) -> Result<&Caller, Flow> {
        match self.caller {
            Caller::Anonymous => Err(Flow::Redirect(format!(
                "/login?next={}",
                utf8_percent_encode(&self.here, NON_ALPHANUMERIC)
            ))),
            _ => Ok(&self.caller),
        }
    }

    /// The caller as the API handlers take it, for reads (no CSRF check: nothing changes).
    pub fn reader(&self) -> Result<Writer, Flow> {
        let caller = self.signed_in()?.clone();
        let actor = actor_of(&caller, self.address.clone());
        Ok(Writer(Acting { caller, actor }))
    }

    /// Checks a form's CSRF token, then returns the caller as the API handlers take it. This is
    /// the first thing every POST handler does.
    pub fn acting(&self, csrf: &str) -> Result<Writer, Flow> {
        if !PageCaller(self.caller.clone()).verify_csrf(self.same_origin, csrf) {
            return Err(Flow::Error(AppError::forbidden(i18n::translate(
                self.lang,
                "error.csrf",
            ))));
        }
        let actor = actor_of(&self.caller, self.address.clone());
        Ok(Writer(Acting {
            caller: self.caller.clone(),
            actor,
        }))
    }

    /// The session's CSRF token, for forms and the `csrf-token` meta tag.
    pub fn csrf(&self) -> Option<String> {
        PageCaller(self.caller.clone())
            .csrf_token()
            .map(str::to_owned)
    }

    /// This page's URL with `lang=` set to the other language.
    fn switch_url(&self) -> String {
        let other = match self.lang {
            Lang::Zh => "en",
            Lang::En => "zh",
        };
        let mut pairs: Vec<&str> = self
            .query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("lang="))
            .collect();
        let lang = format!("lang={other}");
        pairs.push(&lang);
        format!("{}?{}", self.path, pairs.join("&"))
    }

    /// Renders `name` with `ctx` and the layout's variables, answering `status`.
    pub fn render(&self, status: StatusCode, name: &str, ctx: Value) -> PageResult {
        let user = self.caller.user().map(|u| {
            context! { login => u.login, display_name => u.display_name }
        });
        let layout = context! {
            lang => self.lang.code(),
            html_lang => self.lang.html(),
            user => user,
            operator => matches!(self.caller, Caller::Operator { .. }),
            links => crate::domain::visibility::admin_links(&self.caller),
            csrf => self.csrf(),
            switch_url => self.switch_url(),
            asset_version => ASSET_VERSION.as_str(),
            here => self.path,
        };
        let template = self
            .state
            .templates
            .get_template(name)
            .map_err(|e| AppError::internal(&e))?;
        let html = template
            .render(context! { ..ctx, ..layout })
            .map_err(|e| AppError::internal(&e))?;
        Ok((status, Html(html)).into_response())
    }

    pub fn page(&self, name: &str, ctx: Value) -> PageResult {
        self.render(StatusCode::OK, name, ctx)
    }

    /// Turns a handler's outcome into the response: errors become an error page with their
    /// status (internal errors stay opaque), redirects a 303.
    pub fn respond(&self, result: PageResult) -> Response {
        match result {
            Ok(r) => r,
            Err(Flow::Redirect(to)) => Redirect::to(&to).into_response(),
            Err(Flow::Error(e)) => self.error_page(e),
        }
    }

    /// What went wrong, for a person reading this page: Chinese pages say it in Chinese (the
    /// kind of error by its status, and for an invalid request the fields it got wrong);
    /// English pages give the error's own detail. Internal errors stay opaque.
    pub fn error_message(&self, e: &AppError) -> String {
        let status = e.code.status();
        let title_id = format!("error.title.{}", status.as_u16());
        let titled = i18n::translate(self.lang, &title_id);
        let titled = (titled != title_id).then_some(titled);
        match self.lang {
            _ if e.code == Code::Internal => i18n::translate(self.lang, "error.title.500"),
            Lang::En => e.detail.clone(),
            Lang::Zh => {
                let mut fields: Vec<String> = Vec::new();
                for f in e.invalid_fields() {
                    let id = format!("field.{f}");
                    let t = i18n::translate(Lang::Zh, &id);
                    let name = if t == id { f.to_owned() } else { t };
                    if !fields.contains(&name) {
                        fields.push(name);
                    }
                }
                // A message the page already put in Chinese is shown as it is.
                let chinese = e
                    .detail
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
                match (titled, fields.is_empty()) {
                    _ if chinese && fields.is_empty() => e.detail.clone(),
                    (_, false) => format!(
                        "{}：{}",
                        i18n::translate(Lang::Zh, "error.invalid"),
                        fields.join("、")
                    ),
                    (Some(t), true) => t,
                    (None, true) => e.detail.clone(),
                }
            }
        }
    }

    /// An error as a page, with the error's status and [`Web::error_message`].
    pub fn error_page(&self, e: AppError) -> Response {
        let status = e.code.status();
        let message = self.error_message(&e);
        self.render(
            status,
            "error.html",
            context! { status => status.as_u16(), message },
        )
        .unwrap_or_else(|_| e.into_response())
    }
}

/// A 303 to `to`, the answer to a successful form post.
pub fn see_other(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

/// An optional form field: empty means absent.
pub fn opt(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use sha2::Digest;

    /// Every message a template asks for exists in both languages: a forgotten one would show
    /// its id on the page.
    #[test]
    fn every_message_a_template_uses_exists() {
        let mut used = 0;
        for (name, source) in super::TEMPLATES {
            for quote in ['"', '\''] {
                let open = format!("t({quote}");
                let mut rest = *source;
                while let Some(at) = rest.find(&open) {
                    rest = &rest[at + open.len()..];
                    let Some(end) = rest.find(quote) else { break };
                    let id = &rest[..end];
                    // Ids built from a value (`"kind." ~ x`) are checked where the values are.
                    if !rest[end + 1..].trim_start().starts_with('~') {
                        assert_ne!(
                            super::i18n::translate(super::Lang::Zh, id),
                            id,
                            "{name} uses the missing message {id:?}"
                        );
                        used += 1;
                    }
                }
            }
        }
        assert!(used > 100, "the scan found the messages ({used})");
    }

    /// The vendored player is byte for byte the file of the npm package recorded in
    /// `static/vendor/README.md`.
    #[test]
    fn vendored_files_are_the_recorded_ones() {
        let hls = super::STATIC_FILES
            .iter()
            .find(|(n, _)| *n == "hls.min.js")
            .expect("hls.js is served");
        assert_eq!(
            hex::encode(sha2::Sha256::digest(hls.1.as_bytes())),
            "cfc70cc9e9fc63d071919e087670abc760c8fd1bc889b88588026e4d22193bbe"
        );
        let readme = include_str!("../../../static/vendor/README.md");
        assert!(
            readme.contains("cfc70cc9e9fc63d071919e087670abc760c8fd1bc889b88588026e4d22193bbe")
        );
    }
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn times_are_shown_in_china_standard_time() {
        assert_eq!(
            super::local_time("2026-11-27T23:14:27.123Z"),
            "2026-11-28 07:14 (UTC+8)"
        );
        assert_eq!(super::local_time("not a time"), "not a time");
    }
}
