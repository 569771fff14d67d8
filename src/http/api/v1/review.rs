//! The review workflow over HTTP: submit, approve, reject, revisions and their comparison, the
//! reviewer's queue, and upward recommendation.

use super::denied;
use super::lessons::{lesson_for, visible_lesson};
use crate::db::lessons::LessonRecord;
use crate::db::orgs::OrgRecord;
use crate::db::workflow::Decision;
use crate::domain::Invalid;
use crate::domain::lesson::LessonStatus;
use crate::domain::org;
use crate::domain::visibility::{self, Action, Caller, Role};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Acting, Json, Path, Query, Writer};
use crate::http::views::RevisionView;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

/// The organisation owning `lesson`; lessons outside any organisation cannot enter review.
async fn owner(state: &AppState, lesson: &LessonRecord) -> Result<OrgRecord, AppError> {
    let id = lesson.org_id.as_deref().ok_or_else(|| {
        AppError::conflict("this lesson belongs to no organisation, so no reviewer can approve it")
    })?;
    state
        .db
        .org(id)
        .await?
        .ok_or_else(|| AppError::not_found("organisation"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// The subtree to publish to: the owner (default) or one of its ancestors.
    scope_org_id: Option<String>,
}

/// `POST /api/v1/lessons/{id}/submit`: sends the working revision to review.
pub async fn submit(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let body: SubmitBody = super::optional_json(&body)?.unwrap_or_default();
    let lesson = lesson_for(&state, &acting, &id, Action::Submit).await?;
    let lesson = state
        .db
        .lesson(&lesson.id)
        .await?
        .ok_or_else(|| AppError::not_found("lesson"))?;
    let owner = owner(&state, &lesson).await?;
    let scope = match &body.scope_org_id {
        None => owner.clone(),
        Some(s) => state
            .db
            .org(s)
            .await?
            .ok_or_else(|| Invalid::new("scope_org_id", "no such organisation"))?,
    };
    let chain = org::approval_chain(&owner.path, &scope.path).ok_or_else(|| {
        Invalid::new(
            "scope_org_id",
            "must be the lesson's organisation or one above it",
        )
    })?;
    let levels = state.db.orgs_by_id(&chain).await?;
    let chain: Vec<String> = chain
        .into_iter()
        .filter(|id| levels.iter().any(|o| &o.id == id && o.review_required.0))
        .collect();
    let review = state
        .db
        .submit(&lesson, &scope.id, &chain, &acting.actor)
        .await?;
    Ok(Json(json!(review)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The revision being decided, as the reviewer saw it.
    revision: i64,
    /// Required when rejecting: what the editor should change.
    comment: Option<String>,
}

async fn decide(
    state: &AppState,
    acting: &Acting,
    id: &str,
    body: DecisionBody,
    approve: bool,
) -> Result<Json<Value>, AppError> {
    let lesson = lesson_for(state, acting, id, Action::Read).await?;
    let Some((revision, level, _)) = state.db.pending_review(&lesson.id).await? else {
        return Err(AppError::conflict(
            "this lesson has nothing awaiting review",
        ));
    };
    if revision.number != body.revision {
        return Err(AppError::conflict(format!(
            "revision {} awaits review, not {}",
            revision.number, body.revision
        )));
    }
    let level_org = state
        .db
        .org(&level)
        .await?
        .ok_or_else(|| AppError::not_found("organisation"))?;
    let verb = if approve { "approve" } else { "reject" };
    if !visibility::may_review_level(&acting.caller, &level_org.path, &revision.chain()) {
        return Err(denied(state, acting, verb, "lesson", id, Some(&level)).await);
    }
    let own = acting.caller.user_id().is_some()
        && revision.submitted_by.as_deref() == acting.caller.user_id();
    if approve && own && !level_org.self_approval.0 {
        return Err(denied(
            state,
            acting,
            "approve_own_submission",
            "lesson",
            id,
            Some(&level),
        )
        .await);
    }
    let decision = if approve {
        Decision::Approve
    } else {
        let comment = body.comment.as_deref().map(str::trim).unwrap_or("");
        if comment.is_empty() || comment.chars().count() > 2000 {
            return Err(Invalid::new(
                "comment",
                "a rejection needs a comment of 1–2000 characters",
            )
            .into());
        }
        Decision::Reject {
            comment: comment.to_owned(),
        }
    };
    let review = state
        .db
        .decide(&lesson, &revision, &level, decision, &acting.actor)
        .await?;
    Ok(Json(json!(review)))
}

pub async fn approve(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<Value>, AppError> {
    decide(&state, &acting, &id, body, true).await
}

pub async fn reject(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<Value>, AppError> {
    decide(&state, &acting, &id, body, false).await
}

/// `GET /api/v1/lessons/{id}/revisions`: every revision, oldest first. Only those who may edit or
/// review the lesson see its revisions (readers see the live lesson).
pub async fn revisions(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let lesson = staff_lesson(&state, &acting.caller, &id).await?;
    let mut items = Vec::new();
    for r in state.db.revisions(&lesson.id).await? {
        let approvals = state.db.approvals(&r.lesson_id, r.number).await?;
        items.push(RevisionView::new(r, approvals));
    }
    Ok(Json(json!({ "items": items })))
}

/// A lesson whose revisions `caller` may see: readable, and editable or reviewable by them.
async fn staff_lesson(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<LessonRecord, AppError> {
    let lesson = visible_lesson(state, caller, id).await?;
    if visibility::may(caller, Action::Edit, lesson.access())
        || visibility::may(caller, Action::Review, lesson.access())
        || matches!(caller, Caller::User(u) if u.holds_on(&[Role::Administrator], &lesson.org_path))
    {
        Ok(lesson)
    } else {
        Err(AppError::not_found("lesson"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    from: i64,
    to: i64,
}

/// `GET /api/v1/lessons/{id}/revisions/compare?from=1&to=2`: the fields that differ.
pub async fn compare(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Query(q): Query<CompareQuery>,
) -> Result<Json<Value>, AppError> {
    let lesson = staff_lesson(&state, &acting.caller, &id).await?;
    let revisions = state.db.revisions(&lesson.id).await?;
    let find = |n: i64, field: &'static str| {
        revisions
            .iter()
            .find(|r| r.number == n)
            .ok_or_else(|| AppError::from(Invalid::new(field, "no such revision")))
    };
    let (a, b) = (find(q.from, "from")?, find(q.to, "to")?);
    let changes: Vec<Value> = a
        .snapshot()?
        .diff(&b.snapshot()?)
        .into_iter()
        .map(|(field, from, to)| json!({ "field": field, "from": from, "to": to }))
        .collect();
    Ok(Json(
        json!({ "from": q.from, "to": q.to, "changes": changes }),
    ))
}

/// `GET /api/v1/review/queue`: submissions awaiting a level the caller may decide, oldest first.
/// Submissions the caller made themselves are left out where their organisation forbids
/// approving one's own work.
pub async fn queue(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<Value>, AppError> {
    let paths = match &acting.caller {
        Caller::User(u) => u.subtrees(&[Role::Reviewer]),
        Caller::Operator { .. } => vec!["/".to_owned()],
        Caller::Anonymous | Caller::Platform(_) => Vec::new(),
    };
    let mut items = Vec::new();
    for (revision, level, approvals) in state.db.submitted_within(&paths).await? {
        let Some(level_org) = state.db.org(&level).await? else {
            continue;
        };
        if !visibility::may_review_level(&acting.caller, &level_org.path, &revision.chain()) {
            continue;
        }
        let uid = acting.caller.user_id();
        if uid.is_some()
            && approvals
                .iter()
                .any(|a| Some(a.reviewer_id.as_str()) == uid)
        {
            continue;
        }
        if uid.is_some() && revision.submitted_by.as_deref() == uid && !level_org.self_approval.0 {
            continue;
        }
        let Some(lesson) = state.db.lesson(&revision.lesson_id).await? else {
            continue;
        };
        items.push(json!({
            "lesson_id": lesson.id,
            "title": lesson.title,
            "kind": lesson.kind,
            "org_id": lesson.org_id,
            "level": { "id": level_org.id, "name": level_org.name },
            "revision": RevisionView::new(revision, approvals),
        }));
    }
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendBody {
    #[serde(default)]
    note: String,
}

/// `POST /api/v1/lessons/{id}/recommend`: recommends a published lesson to the organisation above
/// its current scope.
pub async fn recommend(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<RecommendBody>,
) -> Result<Json<Value>, AppError> {
    let lesson = lesson_for(&state, &acting, &id, Action::Recommend).await?;
    if lesson.status != LessonStatus::Published {
        return Err(AppError::conflict(
            "only a published lesson can be recommended",
        ));
    }
    let note = body.note.trim();
    if note.chars().count() > 2000 {
        return Err(Invalid::new("note", "must be at most 2000 characters").into());
    }
    let owner = owner(&state, &lesson).await?;
    let from = match &lesson.scope_org_id {
        Some(s) => state.db.org(s).await?.unwrap_or(owner),
        None => owner,
    };
    let to = from
        .parent_id
        .clone()
        .ok_or_else(|| AppError::conflict("this lesson already reaches the whole tree"))?;
    let rec = state
        .db
        .recommend(&lesson, &from.id, &to, note, &acting.actor)
        .await?;
    Ok(Json(json!(rec)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendationsQuery {
    state: Option<String>,
}

/// `GET /api/v1/recommendations`: recommendations to organisations the caller reviews for.
pub async fn recommendations(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<RecommendationsQuery>,
) -> Result<Json<Value>, AppError> {
    if let Some(s) = &q.state
        && !matches!(s.as_str(), "pending" | "adopted" | "declined")
    {
        return Err(Invalid::new("state", "must be pending, adopted or declined").into());
    }
    let paths = match &acting.caller {
        Caller::User(u) => u.subtrees(&[Role::Reviewer]),
        Caller::Operator { .. } => vec!["/".to_owned()],
        Caller::Anonymous | Caller::Platform(_) => Vec::new(),
    };
    let items = state
        .db
        .recommendations_to(&paths, q.state.as_deref())
        .await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptBody {
    /// Publish to this organisation's subtree: the one recommended to (default) or one above it
    /// where the caller is also a reviewer.
    scope_org_id: Option<String>,
    #[serde(default)]
    comment: String,
}

async fn decide_recommendation(
    state: &AppState,
    acting: &Acting,
    id: &str,
    adopt: Option<Option<String>>,
    comment: &str,
) -> Result<Json<Value>, AppError> {
    let rec = state
        .db
        .recommendation(id)
        .await?
        .ok_or_else(|| AppError::not_found("recommendation"))?;
    let to = state
        .db
        .org(&rec.to_org_id)
        .await?
        .ok_or_else(|| AppError::not_found("organisation"))?;
    let verb = if adopt.is_some() { "adopt" } else { "decline" };
    if !visibility::may_review_level(&acting.caller, &to.path, &[]) {
        return Err(denied(state, acting, verb, "recommendation", id, Some(&to.id)).await);
    }
    if comment.chars().count() > 2000 {
        return Err(Invalid::new("comment", "must be at most 2000 characters").into());
    }
    let scope = match adopt {
        None => None,
        Some(None) => Some(to.id.clone()),
        Some(Some(s)) => {
            let scope = state
                .db
                .org(&s)
                .await?
                .ok_or_else(|| Invalid::new("scope_org_id", "no such organisation"))?;
            if !org::within(&to.path, &scope.path) {
                return Err(Invalid::new(
                    "scope_org_id",
                    "must be the organisation recommended to or one above it",
                )
                .into());
            }
            if !visibility::may_review_level(&acting.caller, &scope.path, &[]) {
                return Err(denied(
                    state,
                    acting,
                    "adopt_wider",
                    "recommendation",
                    id,
                    Some(&scope.id),
                )
                .await);
            }
            Some(scope.id)
        }
    };
    let rec = state
        .db
        .decide_recommendation(&rec, scope.as_deref(), comment.trim(), &acting.actor)
        .await?;
    Ok(Json(json!(rec)))
}

pub async fn adopt(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let body: AdoptBody = super::optional_json(&body)?.unwrap_or(AdoptBody {
        scope_org_id: None,
        comment: String::new(),
    });
    decide_recommendation(&state, &acting, &id, Some(body.scope_org_id), &body.comment).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineBody {
    comment: String,
}

pub async fn decline(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(body): Json<DeclineBody>,
) -> Result<Json<Value>, AppError> {
    if body.comment.trim().is_empty() {
        return Err(Invalid::new("comment", "declining needs a comment").into());
    }
    decide_recommendation(&state, &acting, &id, None, &body.comment).await
}
