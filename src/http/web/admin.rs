//! Administration: the organisation tree the caller administers, the accounts in it, its
//! platforms, and the background jobs.

use super::{PageResult, Web, opt, see_other};
use crate::domain::Invalid;
use crate::domain::job::{JobKind, JobState};
use crate::domain::org::OrgLevel;
use crate::domain::time::china_time;
use crate::domain::visibility::{self, Role};
use crate::http::api::v1::jobs::JobView;
use crate::http::api::v1::platforms::PlatformView;
use crate::http::api::v1::users;
use crate::http::error::AppError;
use crate::http::extract::{Form, Writer};
use crate::services::{accounts, jobs};
use axum::response::Response;
use minijinja::context;
use serde_json::{Value, json};

/// The organisations the caller works in, in tree order, each with its depth and whether the
/// caller administers it (asked of `domain::visibility`).
async fn tree(web: &Web) -> Result<Vec<Value>, super::Flow> {
    let Writer(acting) = web.reader()?;
    let records = crate::services::orgs::list(&web.state.db, &acting).await?;
    let mut out = Vec::new();
    for o in &records {
        let mut v = json!(o);
        v["depth"] = json!(crate::domain::org::ids(&o.path).len().saturating_sub(1));
        v["administered"] = json!(visibility::may_administer(&web.caller, &o.path));
        out.push(v);
    }
    Ok(out)
}

fn levels() -> Vec<&'static str> {
    OrgLevel::ALL.iter().map(|l| l.as_str()).collect()
}

async fn orgs_page(web: &Web, form: Option<OrgForm>, error: Option<AppError>) -> PageResult {
    let orgs = tree(web).await?;
    let ctx = context! { orgs => orgs, levels => levels(), form => form.unwrap_or_default() };
    match error {
        None => web.page("orgs.html", ctx),
        Some(e) => super::session::user_error(web, "orgs.html", ctx, e),
    }
}

/// `/admin/orgs`.
pub async fn orgs(web: Web) -> Response {
    let r = orgs_page(&web, None, None).await;
    web.respond(r)
}

#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct OrgForm {
    csrf: String,
    parent_id: String,
    name: String,
    level: String,
    region_code: String,
    review_required: Option<String>,
    /// Empty for the default.
    completion_percent: String,
}

pub async fn create_org(web: Web, Form(form): Form<OrgForm>) -> Response {
    let r = async {
        let Writer(acting) = web.acting(&form.csrf)?;
        let Ok(completion_percent) = opt(&form.completion_percent)
            .map(str::parse::<i64>)
            .transpose()
        else {
            let e = Invalid::new(
                "completion_percent",
                "must be a whole number from 50 to 100",
            );
            return orgs_page(&web, Some(form), Some(e.into())).await;
        };
        let new = crate::services::orgs::NewOrg {
            parent_id: form.parent_id.clone(),
            name: form.name.clone(),
            level: form.level.clone(),
            region_code: opt(&form.region_code).map(str::to_owned),
            review_required: form.review_required.is_some(),
            self_approval: false,
            completion_percent,
        };
        match crate::services::orgs::create(&web.state.db, &acting, new).await {
            Ok(_) => see_other("/admin/orgs"),
            Err(e) => {
                let e = AppError::from(e);
                if e.code.status().is_client_error() {
                    orgs_page(&web, Some(form), Some(e)).await
                } else {
                    Err(e.into())
                }
            }
        }
    }
    .await;
    web.respond(r)
}

fn roles() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}

async fn users_page(web: &Web, form: Option<UserForm>, error: Option<AppError>) -> PageResult {
    let Writer(acting) = web.reader()?;
    let list: Vec<users::UserView> = accounts::list(&web.state.db, &acting)
        .await?
        .iter()
        .map(|(u, grants)| users::user_view(u, grants))
        .collect();
    let orgs: Vec<Value> = tree(web)
        .await?
        .into_iter()
        .filter(|o| o["administered"] == true)
        .collect();
    let ctx = context! {
        users => list,
        orgs => orgs,
        roles => roles(),
        form => form.unwrap_or_default(),
    };
    match error {
        None => web.page("users.html", ctx),
        Some(e) => super::session::user_error(web, "users.html", ctx, e),
    }
}

/// `/admin/users`.
pub async fn users(web: Web) -> Response {
    let r = users_page(&web, None, None).await;
    web.respond(r)
}

#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct UserForm {
    csrf: String,
    login: String,
    display_name: String,
    #[serde(skip_serializing)]
    password: String,
    role: String,
    org_id: String,
}

pub async fn create_user(web: Web, Form(form): Form<UserForm>) -> Response {
    let r = async {
        let Writer(acting) = web.acting(&form.csrf)?;
        let new = accounts::NewUser {
            login: form.login.clone(),
            display_name: form.display_name.clone(),
            password: form.password.clone(),
            grants: vec![accounts::GrantInput {
                role: form.role.clone(),
                org_id: form.org_id.clone(),
            }],
        };
        match accounts::create(&web.state.db, &acting, new)
            .await
            .map_err(AppError::from)
        {
            Ok(_) => see_other("/admin/users"),
            Err(e) if e.code.status().is_client_error() => {
                users_page(&web, Some(form), Some(e)).await
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    web.respond(r)
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct GrantForm {
    csrf: String,
    role: String,
    org_id: String,
}

pub async fn add_grant(
    web: Web,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<GrantForm>,
) -> Response {
    let r = async {
        let Writer(acting) = web.acting(&form.csrf)?;
        let g = accounts::GrantInput {
            role: form.role,
            org_id: form.org_id,
        };
        match accounts::add_grant(&web.state.db, &acting, &id, &g)
            .await
            .map_err(AppError::from)
        {
            Ok(_) => see_other("/admin/users"),
            Err(e) if e.code.status().is_client_error() => users_page(&web, None, Some(e)).await,
            Err(e) => Err(e.into()),
        }
    }
    .await;
    web.respond(r)
}

pub async fn remove_grant(
    web: Web,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<GrantForm>,
) -> Response {
    let r = async {
        let Writer(acting) = web.acting(&form.csrf)?;
        let g = accounts::GrantInput {
            role: form.role,
            org_id: form.org_id,
        };
        match accounts::remove_grant(&web.state.db, &acting, &id, &g)
            .await
            .map_err(AppError::from)
        {
            Ok(()) => see_other("/admin/users"),
            Err(e) if e.code.status().is_client_error() => users_page(&web, None, Some(e)).await,
            Err(e) => Err(e.into()),
        }
    }
    .await;
    web.respond(r)
}

/// `/admin/platforms`: the platforms the caller administers, with their last pull, cursor lag
/// and failed deliveries.
pub async fn platforms(web: Web) -> Response {
    let r = async {
        let Writer(acting) = web.reader()?;
        let (listed, _) = crate::services::platforms::list(&web.state.db, &acting).await?;
        let administered: Vec<PlatformView> = listed
            .iter()
            .filter_map(|l| match l {
                crate::services::platforms::Listed::Administered(d) => Some(PlatformView::from(d)),
                crate::services::platforms::Listed::Named(_) => None,
            })
            .collect();
        let org_ids: Vec<String> = administered.iter().map(|p| p.org_id.clone()).collect();
        let orgs = web.state.db.orgs_by_id(&org_ids).await?;
        let rows: Vec<Value> = administered
            .iter()
            .map(|p| {
                let mut row = json!(p);
                row["org_name"] = json!(
                    orgs.iter()
                        .find(|o| o.id == p.org_id)
                        .map(|o| o.name.clone())
                );
                row["live_keys"] = json!(p.keys.iter().filter(|k| !k.revoked).count());
                row
            })
            .collect();
        web.page("platforms.html", context! { platforms => rows })
    }
    .await;
    web.respond(r)
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct JobsFilter {
    state: String,
    kind: String,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct RetryForm {
    csrf: String,
    state: String,
    kind: String,
}

/// The page with the kind filter, to come back to after a retry (without the state filter, so
/// the retried jobs show as queued again).
fn jobs_url(kind: &str) -> String {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("kind", kind)
        .finish();
    format!("/admin/jobs?{q}")
}

/// A job as the page shows it: its view, and its times in China Standard Time.
#[derive(serde::Serialize)]
struct JobRow {
    #[serde(flatten)]
    job: JobView,
    run_at_local: String,
    updated_at_local: String,
    /// A running media step's progress: its percentage and, when known, the time left in
    /// whole minutes (or seconds under two minutes).
    percent: Option<i64>,
    left_minutes: Option<i64>,
    left_seconds: Option<i64>,
    /// A media step (its content can be reprocessed from here).
    media: bool,
}

impl From<&crate::db::jobs::JobRecord> for JobRow {
    fn from(j: &crate::db::jobs::JobRecord) -> Self {
        Self {
            job: JobView::from(j),
            run_at_local: china_time(j.run_at),
            updated_at_local: china_time(j.updated_at),
            percent: (j.state == JobState::Running)
                .then_some(j.progress_permille)
                .flatten()
                .map(|p| p / 10),
            left_minutes: (j.state == JobState::Running)
                .then_some(j.eta_ms)
                .flatten()
                .filter(|ms| *ms >= 120_000)
                .map(|ms| (ms + 59_999) / 60_000),
            left_seconds: (j.state == JobState::Running)
                .then_some(j.eta_ms)
                .flatten()
                .filter(|ms| *ms < 120_000)
                .map(|ms| (ms + 999) / 1000),
            media: j.kind.uses_media_slot(),
        }
    }
}

async fn jobs_page(web: &Web, filter: &JobsFilter, error: Option<AppError>) -> PageResult {
    let Writer(acting) = web.reader()?;
    let parsed = jobs::parse_filter(opt(&filter.state), opt(&filter.kind));
    let (items, error) = match parsed {
        Ok((state, kind)) => {
            let page = jobs::list(&web.state.db, &acting, state, kind, None, 200).await?;
            let items: Vec<JobRow> = page.items.iter().map(JobRow::from).collect();
            (items, error)
        }
        // A bad filter is shown with the empty list.
        Err(e) => (Vec::new(), Some(AppError::invalid(&e))),
    };
    let dead = items.iter().any(|j| j.job.state == JobState::Dead);
    let ctx = context! {
        jobs => items,
        dead => dead,
        state => filter.state,
        kind => filter.kind,
        states => [""].into_iter().chain(JobState::ALL.map(JobState::as_str)).collect::<Vec<_>>(),
        kinds => [""].into_iter().chain(JobKind::ALL.map(JobKind::as_str)).collect::<Vec<_>>(),
    };
    match error {
        None => web.page("jobs.html", ctx),
        Some(e) => super::session::user_error(web, "jobs.html", ctx, e),
    }
}

/// `/admin/jobs?state=&kind=`: the background jobs the caller administers, with their attempts
/// and last error, and buttons to retry dead ones one by one or all at once.
pub async fn jobs_list(
    web: Web,
    axum::extract::Query(filter): axum::extract::Query<JobsFilter>,
) -> Response {
    let r = jobs_page(&web, &filter, None).await;
    web.respond(r)
}

/// `POST /admin/jobs/{id}/retry`.
pub async fn retry_job(
    web: Web,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<RetryForm>,
) -> Response {
    let r = async {
        let Writer(acting) = web.acting(&form.csrf)?;
        let filter = JobsFilter {
            state: form.state,
            kind: form.kind,
        };
        match jobs::retry(&web.state.db, &acting, &id)
            .await
            .map_err(AppError::from)
        {
            Ok(()) => see_other(&jobs_url(&filter.kind)),
            Err(e) if e.code.status().is_client_error() => jobs_page(&web, &filter, Some(e)).await,
            Err(e) => Err(e.into()),
        }
    }
    .await;
    web.respond(r)
}

/// `POST /admin/jobs/retry`: every dead job of the chosen kind.
pub async fn retry_jobs(web: Web, Form(form): Form<RetryForm>) -> Response {
    let r = async {
        let Writer(acting) = web.acting(&form.csrf)?;
        let filter = JobsFilter {
            state: form.state,
            kind: form.kind,
        };
        let retried = match jobs::parse_kind(opt(&filter.kind)) {
            Ok(kind) => jobs::retry_many(&web.state.db, &acting, Some(JobState::Dead), kind)
                .await
                .map_err(AppError::from),
            Err(e) => Err(AppError::from(e)),
        };
        match retried {
            Ok(_) => see_other(&jobs_url(&filter.kind)),
            Err(e) if e.code.status().is_client_error() => jobs_page(&web, &filter, Some(e)).await,
            Err(e) => Err(e.into()),
        }
    }
    .await;
    web.respond(r)
}

/// `POST /admin/jobs/{id}/reprocess`: the content of a (dead) media step made again, through
/// `services::media::reprocess` as the API and the command line do.
pub async fn reprocess_job(
    web: Web,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<RetryForm>,
) -> Response {
    let r = async {
        let Writer(acting) = web.acting(&form.csrf)?;
        let filter = JobsFilter {
            state: form.state,
            kind: form.kind,
        };
        match crate::services::media::reprocess(
            &web.state.db,
            &acting,
            crate::services::media::Target::Job(&id),
            None,
        )
        .await
        .map_err(AppError::from)
        {
            Ok(_) => see_other(&jobs_url(&filter.kind)),
            Err(e) if e.code.status().is_client_error() => jobs_page(&web, &filter, Some(e)).await,
            Err(e) => Err(e.into()),
        }
    }
    .await;
    web.respond(r)
}

#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct SynonymsForm {
    csrf: String,
    /// One group per line, terms separated by commas (`services::synonyms::from_text`).
    text: String,
}

/// The most characters the synonyms form takes (a full list is about 1,000 × 20 × 41).
const MAX_SYNONYMS_TEXT: usize = 1_000_000;

async fn synonyms_page(
    web: &Web,
    form: Option<SynonymsForm>,
    error: Option<AppError>,
    saved: bool,
) -> PageResult {
    let Writer(acting) = web.reader()?;
    let groups = crate::services::synonyms::list(&web.state.db, &acting).await?;
    let saved_text = crate::services::synonyms::to_text(&groups);
    let ctx = context! {
        text => form.map(|f| f.text).unwrap_or(saved_text),
        saved,
        groups => groups.len(),
        max_groups => crate::services::synonyms::MAX_GROUPS,
        max_terms => crate::services::synonyms::MAX_TERMS,
        max_chars => crate::services::synonyms::MAX_TERM_CHARS,
    };
    match error {
        None => web.page("synonyms.html", ctx),
        Some(e) => super::session::user_error(web, "synonyms.html", ctx, e),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// `/admin/synonyms`: the installation's search synonyms as text, one group per line.
pub async fn synonyms(
    web: Web,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> Response {
    let r = synonyms_page(&web, None, None, q.saved.is_some()).await;
    web.respond(r)
}

/// `POST /admin/synonyms`: replaces them.
pub async fn save_synonyms(web: Web, Form(form): Form<SynonymsForm>) -> Response {
    let r = async {
        let Writer(acting) = web.acting(&form.csrf)?;
        if form.text.chars().count() > MAX_SYNONYMS_TEXT {
            let e = AppError::invalid(&[crate::domain::Invalid::new(
                "groups",
                format!("at most {MAX_SYNONYMS_TEXT} characters"),
            )]);
            return synonyms_page(&web, Some(form), Some(e), false).await;
        }
        let groups = crate::services::synonyms::from_text(&form.text);
        match crate::services::synonyms::replace(&web.state.db, &web.state.search, &acting, groups)
            .await
            .map_err(AppError::from)
        {
            Ok(_) => see_other("/admin/synonyms?saved=1"),
            Err(e) if e.code.status().is_client_error() => {
                synonyms_page(&web, Some(form), Some(e), false).await
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    web.respond(r)
}
