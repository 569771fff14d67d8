//! The editor's pages: the lesson list, the create and edit forms, a lesson with its files,
//! revisions and workflow buttons, and the upload page (whose script speaks tus to
//! `/api/v1/uploads`). Each page calls `services::catalog` and `services::review` directly,
//! exactly as the JSON API does, and renders their answers.

use super::session::{CsrfForm, user_error};
use super::{Flow, PageResult, Web, opt, see_other};
use crate::db::orgs::OrgRecord;
use crate::db::workflow::Scheduled;
use crate::domain::lesson::{LessonStatus, RevisionState};
use crate::domain::org;
use crate::domain::visibility::{self, Action, ReadScope};
use crate::http::error::{AppError, Code};
use crate::http::extract::Form;
use crate::http::views::{LessonView, RevisionView};
use crate::services::catalog::{self, LessonPatch, ListLessons, NewLesson};
use crate::services::review::{self, When};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde_json::{Value, json};

/// At most this many lessons are listed per subtree.
const LIST_LIMIT: usize = 200;

/// `/lessons`: every lesson of the caller's subtrees (drafts included), newest change first,
/// with the state of its working revision.
pub async fn list(web: Web) -> Response {
    let r = async {
        web.reader()?;
        // Which subtrees to list comes from the one place that decides what a caller reads.
        let orgs: Vec<Option<String>> = match visibility::read_scope(&web.caller) {
            ReadScope::Everything => vec![None],
            ReadScope::PublishedOnly | ReadScope::Platform(_) => Vec::new(),
            ReadScope::PublishedOrWithin(paths) => paths
                .iter()
                .filter_map(|p| org::ids(p).last().map(|id| Some((*id).to_owned())))
                .collect(),
        };
        let mut items: Vec<Value> = Vec::new();
        let mut more = false;
        for org_id in orgs {
            let query = ListLessons {
                org: org_id,
                limit: Some(LIST_LIMIT as i64),
                ..ListLessons::default()
            };
            let page = catalog::list_lessons(&web.state.db, &web.caller, query)
                .await
                .map_err(AppError::from)?;
            more |= page.next_cursor.is_some();
            for l in page.lessons {
                if items.iter().any(|i| i["id"] == l.id.as_str()) {
                    continue;
                }
                items.push(json!(LessonView::new(l, &page.assets)));
            }
        }
        items.sort_by(|a, b| b["updated_at"].as_str().cmp(&a["updated_at"].as_str()));
        let names = org_names(&web, &items).await?;
        for item in &mut items {
            let id = item["id"].as_str().unwrap_or_default().to_owned();
            let revisions = revisions_of(&web, &id).await?;
            item["review_state"] = json!(revisions.last().map(|r| r.state));
            let org_name = item["org_id"]
                .as_str()
                .and_then(|o| names.iter().find(|n| n.id == o))
                .map(|o| o.name.clone());
            item["org_name"] = json!(org_name);
        }
        web.page("lessons.html", context! { lessons => items, more => more })
    }
    .await;
    web.respond(r)
}

async fn org_names(web: &Web, items: &[Value]) -> Result<Vec<OrgRecord>, Flow> {
    let mut ids: Vec<String> = items
        .iter()
        .filter_map(|i| i["org_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(web.state.db.orgs_by_id(&ids).await?)
}

/// The lesson's revisions as `GET /api/v1/lessons/{id}/revisions` answers them; none for callers
/// who may not see them.
async fn revisions_of(web: &Web, id: &str) -> Result<Vec<RevisionView>, Flow> {
    match review::revisions(&web.state.db, &web.caller, id).await {
        Ok(items) => Ok(items
            .into_iter()
            .map(|(r, approvals)| RevisionView::new(r, approvals))
            .collect()),
        Err(crate::services::ServiceError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(AppError::from(e).into()),
    }
}

/// The organisations in which the caller may create lessons.
async fn creatable_orgs(web: &Web) -> Result<Vec<OrgRecord>, Flow> {
    Ok(catalog::creatable_orgs(&web.state.db, &web.caller)
        .await
        .map_err(AppError::from)?)
}

/// The lesson form's fields.
#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct LessonForm {
    csrf: String,
    title: String,
    kind: String,
    description: String,
    tags: String,
    lecturer: String,
    series: String,
    region_code: String,
    recorded_on: String,
    language: String,
    org_id: String,
    version: String,
}

fn tags(s: &str) -> Vec<String> {
    s.split([',', '，', '、'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn new_page(web: Web) -> Response {
    let r = async {
        web.reader()?;
        let orgs = creatable_orgs(&web).await?;
        let form = LessonForm {
            kind: "video".into(),
            language: "zh-CN".into(),
            ..LessonForm::default()
        };
        web.page(
            "lesson_form.html",
            context! { form => form, orgs => orgs, action => "/lessons/new" },
        )
    }
    .await;
    web.respond(r)
}

pub async fn create(web: Web, Form(form): Form<LessonForm>) -> Response {
    let r = async {
        let writer = web.acting(&form.csrf)?;
        let input = NewLesson {
            title: form.title.clone(),
            kind: form.kind.clone(),
            description: form.description.clone(),
            tags: tags(&form.tags),
            lecturer: opt(&form.lecturer).map(str::to_owned),
            series: opt(&form.series).map(str::to_owned),
            region_code: opt(&form.region_code).map(str::to_owned),
            recorded_on: opt(&form.recorded_on).map(str::to_owned),
            language: opt(&form.language).map(str::to_owned),
            org_id: opt(&form.org_id).map(str::to_owned),
        };
        match catalog::create_lesson(&web.state.db, &writer.0, input).await {
            Ok(created) => see_other(&format!("/lessons/{}", created.lesson.id)),
            Err(e) => {
                web.reader()?;
                let orgs = creatable_orgs(&web).await?;
                user_error(
                    &web,
                    "lesson_form.html",
                    context! { form => form, orgs => orgs, action => "/lessons/new" },
                    e.into(),
                )
            }
        }
    }
    .await;
    web.respond(r)
}

/// `/lessons/{id}`: the lesson, its files and revisions, and the steps the caller may take.
pub async fn show(web: Web, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    let r = lesson_page(&web, &id, None).await;
    web.respond(r)
}

async fn lesson_page(web: &Web, id: &str, error: Option<AppError>) -> PageResult {
    web.reader()?;
    let detail = catalog::get_lesson(&web.state.db, &web.caller, id)
        .await
        .map_err(AppError::from)?;
    let record = detail.lesson.clone();
    let lesson = LessonView::detail(detail);
    let revisions = revisions_of(web, id).await?;
    let working: Option<RevisionState> = revisions.last().map(|r| r.state);
    let may = |a: Action| visibility::may(&web.caller, a, record.access());
    let published = record.status == LessonStatus::Published;
    // Which buttons to offer follows the rules; the API re-checks everything on submission.
    let can = context! {
        edit => may(Action::Edit),
        upload => may(Action::Edit) && !published,
        submit => may(Action::Submit) && working.is_some_and(RevisionState::is_open),
        publish => may(Action::Publish) && working == Some(RevisionState::Approved),
        withdraw => may(Action::Withdraw) && published,
    };
    let org = match &record.org_id {
        Some(o) => web.state.db.org(o).await?.map(|o| o.name),
        None => None,
    };
    let media = media_of(web, &lesson).await?;
    let subtitles: Vec<Value> = crate::services::subtitles::list(&web.state.db, &web.caller, id)
        .await
        .map_err(AppError::from)?
        .iter()
        .map(|s| {
            json!({
                "label": crate::services::subtitles::label(s),
                "language": s.language,
                "machine": crate::services::subtitles::origin(s) == crate::domain::subtitle::Origin::Machine,
                "cues": s.cues,
                "url": format!("/api/v1/lessons/{id}/subtitles/{}.vtt", s.language),
            })
        })
        .collect();
    let (status, message) = match &error {
        Some(e) => (e.code.status(), Some(e.detail.clone())),
        None => (StatusCode::OK, None),
    };
    web.render(
        status,
        "lesson.html",
        context! {
            lesson => lesson, revisions => revisions, can => can, org_name => org,
            error => message, media => media, subtitles => subtitles,
        },
    )
}

/// What media processing made of each file media processing handles, by asset id: `status`
/// (`pending`, `ready`, `unplayable`, `superseded`), the reason a file cannot be read, how many
/// renditions are ready and failed, and a document's page count — so an editor sees why a
/// file does not play without opening the API.
async fn media_of(
    web: &Web,
    lesson: &LessonView,
) -> Result<serde_json::Map<String, Value>, AppError> {
    let mut out = serde_json::Map::new();
    for a in &lesson.assets {
        let m = crate::services::media::asset_media(&web.state.db, &web.caller, &a.id)
            .await
            .map_err(AppError::from)?;
        if !m.processed {
            continue;
        }
        let status = match &m.probe {
            _ if m.superseded => "superseded",
            None => "pending",
            Some(p) if !p.playable => "unplayable",
            Some(_) => "ready",
        };
        let count = |state| m.renditions.iter().filter(|r| r.state == state).count();
        out.insert(
            a.id.clone(),
            json!({
                "status": status,
                "reason": m.probe.as_ref().and_then(|p| p.reason.clone()),
                "ready": count(crate::domain::media::RenditionState::Ready),
                "failed": count(crate::domain::media::RenditionState::Failed),
                "pages": m.probe.as_ref().and_then(|p| p.page_count),
            }),
        );
    }
    Ok(out)
}

/// Loads lesson `id` for editing (403 or 404 as the API would answer).
async fn edit_form(
    web: &Web,
    id: &str,
    form: Option<LessonForm>,
    error: Option<AppError>,
) -> PageResult {
    let acting = web.reader()?.0;
    let l = catalog::lesson_for(&web.state.db, &acting, id, Action::Edit)
        .await
        .map_err(AppError::from)?;
    let form = form.unwrap_or_else(|| LessonForm {
        csrf: String::new(),
        title: l.title.clone(),
        kind: l.kind.as_str().to_owned(),
        description: l.description.clone(),
        tags: l.tags.join(", "),
        lecturer: l.lecturer.clone().unwrap_or_default(),
        series: l.series.clone().unwrap_or_default(),
        region_code: l.region_code.clone().unwrap_or_default(),
        recorded_on: l.recorded_on.clone().unwrap_or_default(),
        language: l.language.clone(),
        org_id: l.org_id.clone().unwrap_or_default(),
        version: l.version.to_string(),
    });
    let ctx = context! {
        form => form,
        editing => true,
        lesson_id => id,
        action => format!("/lessons/{id}/edit"),
    };
    match error {
        None => web.page("lesson_form.html", ctx),
        Some(e) => user_error(web, "lesson_form.html", ctx, e),
    }
}

pub async fn edit_page(web: Web, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    let r = edit_form(&web, &id, None, None).await;
    web.respond(r)
}

pub async fn update(
    web: Web,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<LessonForm>,
) -> Response {
    let r = async {
        let writer = web.acting(&form.csrf)?;
        // The version the form was loaded at, as `If-Match` would name it: a value that is not
        // a version matches none, so the change is refused as stale.
        let version = form.version.trim();
        let expected =
            (!version.is_empty()).then(|| version.parse::<i64>().into_iter().collect::<Vec<_>>());
        let patch = LessonPatch {
            title: Some(form.title.clone()),
            description: Some(form.description.clone()),
            tags: Some(tags(&form.tags)),
            lecturer: Some(opt(&form.lecturer).map(str::to_owned)),
            series: Some(opt(&form.series).map(str::to_owned)),
            region_code: Some(opt(&form.region_code).map(str::to_owned)),
            recorded_on: Some(opt(&form.recorded_on).map(str::to_owned)),
            language: opt(&form.language).map(str::to_owned),
            kind: None,
        };
        let outcome =
            catalog::update_lesson(&web.state.db, &writer.0, &id, expected.as_deref(), patch)
                .await
                .map_err(AppError::from);
        match outcome {
            Ok(_) => see_other(&format!("/lessons/{id}")),
            Err(e) if e.code.status().is_client_error() => {
                edit_form(&web, &id, Some(form), Some(e)).await
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    web.respond(r)
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct UploadQuery {
    /// The size of each PATCH in KiB (256 KiB – 64 MiB; 8 MiB by default, one storage part).
    chunk_kib: Option<u64>,
}

/// `/lessons/{id}/upload`: the resumable upload page.
pub async fn upload_page(
    web: Web,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<UploadQuery>,
) -> Response {
    let r = async {
        let acting = web.reader()?.0;
        let l = catalog::editable_lesson(&web.state.db, &acting, &id)
            .await
            .map_err(AppError::from)?;
        let chunk = q.chunk_kib.unwrap_or(8 * 1024).clamp(256, 64 * 1024) * 1024;
        web.page(
            "upload.html",
            context! { lesson_id => l.id, title => l.title, kind => l.kind, chunk_bytes => chunk },
        )
    }
    .await;
    web.respond(r)
}

/// A workflow button of the lesson page: the last segment of `POST /lessons/{id}/{step}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Submit,
    Publish,
    Withdraw,
}

impl Step {
    /// The step a path segment names; `None` for anything else, which is refused as such (an
    /// unknown step must never fall through to one of these).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "submit" => Some(Self::Submit),
            "publish" => Some(Self::Publish),
            "withdraw" => Some(Self::Withdraw),
            _ => None,
        }
    }
}

/// Runs a workflow step through its service, then shows the lesson (with the refusal, if any).
async fn run_step(web: &Web, id: &str, acting: &crate::services::Acting, step: Step) -> PageResult {
    let db = &web.state.db;
    let outcome = match step {
        Step::Submit => review::submit(db, acting, id, None).await.map(|_| ()),
        Step::Publish => review::step(db, acting, id, Scheduled::Publish, When::Now, None)
            .await
            .map(|_| ()),
        Step::Withdraw => review::step(db, acting, id, Scheduled::Withdraw, When::Now, None)
            .await
            .map(|_| ()),
    };
    match outcome.map_err(AppError::from) {
        Ok(()) => see_other(&format!("/lessons/{id}")),
        Err(e) if e.code.status().is_client_error() && e.code.status() != StatusCode::NOT_FOUND => {
            lesson_page(web, id, Some(e)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /lessons/{id}/{step}`: a workflow button (submit, publish, withdraw). The CSRF check
/// comes first, as for every form; a step that is none of these is a client's mistake, answered
/// with a 400 problem body, and changes nothing.
pub async fn workflow_step(
    web: Web,
    axum::extract::Path((id, step)): axum::extract::Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let writer = match web.acting(&form.csrf) {
        Ok(w) => w,
        Err(flow) => return web.respond(Err(flow)),
    };
    let Some(step) = Step::parse(&step) else {
        return AppError::new(
            Code::InvalidRequest,
            "not a workflow step: use submit, publish or withdraw",
        )
        .into_response();
    };
    let r = run_step(&web, &id, &writer.0, step).await;
    web.respond(r)
}
