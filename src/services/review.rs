//! The review workflow: submitting a lesson's working revision, approving or rejecting it level
//! by level, publishing and withdrawing (now or at a set time), the revisions and their
//! comparison, the reviewer's queue, and recommending a lesson upward with its adoption or
//! refusal.
//!
//! Invariants: who may decide which level is asked of `domain::visibility` ([`may_decide`]), in
//! one place for the decision and for the queue, so a queue never offers what a decision would
//! refuse. Each step is one transaction in `db::workflow`, which writes the audit entry and the
//! change-log entry with it and re-checks, under the lesson's lock, that the state it was
//! authorised against still holds.

use super::catalog::{is_operator, lesson_for, visible_lesson};
use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::lessons::LessonRecord;
use crate::db::orgs::OrgRecord;
use crate::db::workflow::{
    ApprovalRecord, Decision, RecommendationRecord, ReviewState, RevisionRecord, Scheduled,
    StepError,
};
use crate::domain::Invalid;
use crate::domain::lesson::{LessonStatus, RecommendationState, RevisionState};
use crate::domain::org;
use crate::domain::visibility::{self, Action, Caller, ReviewDecision, Role, may_decide};

impl From<StepError> for ServiceError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::NotFound => Self::NotFound("lesson"),
            StepError::Conflict(m) => Self::Conflict(m),
            StepError::Forbidden(m) => Self::Forbidden(m),
            StepError::Db(e) => Self::Db(e),
        }
    }
}

/// The organisation owning `lesson`; lessons outside any organisation cannot enter review.
async fn owner(db: &Db, lesson: &LessonRecord) -> Result<OrgRecord> {
    let id = lesson.org_id.as_deref().ok_or_else(|| {
        ServiceError::Conflict(
            "this lesson belongs to no organisation, so no reviewer can approve it".to_owned(),
        )
    })?;
    db.org(id)
        .await?
        .ok_or(ServiceError::NotFound("organisation"))
}

/// Sends lesson `id`'s working revision to review, for publication to the subtree of
/// `scope_org_id` (the owner by default, or one of its ancestors). Its levels are the
/// organisations from the owner up to the scope that require review.
pub async fn submit(
    db: &Db,
    acting: &Acting,
    id: &str,
    scope_org_id: Option<&str>,
) -> Result<ReviewState> {
    let lesson = lesson_for(db, acting, id, Action::Submit).await?;
    let owner = owner(db, &lesson).await?;
    let scope = match scope_org_id {
        None => owner.clone(),
        Some(s) => db
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
    let levels = db.orgs_by_id(&chain).await?;
    let chain: Vec<String> = chain
        .into_iter()
        .filter(|id| levels.iter().any(|o| &o.id == id && o.review_required.0))
        .collect();
    Ok(db.submit(&lesson, &scope.id, &chain, &acting.actor).await?)
}

/// Approves (`comment` `None`) or rejects (with a comment for the editor) the level of lesson
/// `id` that awaits a decision, on revision `revision` as the reviewer saw it.
pub async fn decide(
    db: &Db,
    acting: &Acting,
    id: &str,
    revision: i64,
    approve: bool,
    comment: Option<&str>,
) -> Result<ReviewState> {
    let lesson = lesson_for(db, acting, id, Action::Read).await?;
    let Some((pending, level, approvals)) = db.pending_review(&lesson.id).await? else {
        return Err(ServiceError::Conflict(
            "this lesson has nothing awaiting review".to_owned(),
        ));
    };
    if pending.number != revision {
        return Err(ServiceError::Conflict(format!(
            "revision {} awaits review, not {}",
            pending.number, revision
        )));
    }
    let level_org = db
        .org(&level)
        .await?
        .ok_or(ServiceError::NotFound("organisation"))?;
    let approved_by: Vec<&str> = approvals.iter().map(|a| a.reviewer_id.as_str()).collect();
    let chain = pending.chain();
    let facts = ReviewDecision {
        level_path: &level_org.path,
        chain: &chain,
        submitted_by: pending.submitted_by.as_deref(),
        approved_by: &approved_by,
        self_approval: level_org.self_approval.0,
        approving: approve,
    };
    if let Err(refusal) = may_decide(&acting.caller, &facts) {
        return Err(deny(
            db,
            acting,
            refusal.action(approve),
            "lesson",
            id,
            Some(&level),
        )
        .await);
    }
    let decision = if approve {
        Decision::Approve
    } else {
        let comment = comment.map(str::trim).unwrap_or("");
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
    Ok(db
        .decide(&lesson, &pending, &level, decision, &acting.actor)
        .await?)
}

/// When a publish or withdraw step happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Now (a time not in the future means now too).
    Now,
    /// At this time (Unix milliseconds).
    At(i64),
    /// Cancel the schedule of this step.
    Cancel,
}

/// Who receives a lesson inside its scope, already checked against that scope.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    pub org_id: Option<String>,
    pub platforms: Vec<String>,
}

/// Publishes lesson `id` (its approved revision; operators: the lesson as it stands) or
/// withdraws it, now, at a set time, or cancels the schedule; on publication optionally with the
/// audience it reaches.
pub async fn step(
    db: &Db,
    acting: &Acting,
    id: &str,
    what: Scheduled,
    when: When,
    audience: Option<Audience>,
) -> Result<LessonRecord> {
    let action = match what {
        Scheduled::Publish => Action::Publish,
        Scheduled::Withdraw => Action::Withdraw,
    };
    let mut lesson = lesson_for(db, acting, id, action).await?;
    if let Some(a) = audience {
        if what != Scheduled::Publish {
            return Err(Invalid::new("audience", "is given when publishing").into());
        }
        if !db
            .set_audience(&lesson, a.org_id.as_deref(), &a.platforms, &acting.actor)
            .await?
        {
            return Err(ServiceError::NotFound("lesson"));
        }
        lesson = visible_lesson(db, &acting.caller, id).await?;
    }
    let require_approved = !is_operator(&acting.caller);
    let lesson = match (what, when) {
        (_, When::Cancel) => {
            db.schedule(&lesson, what, None, require_approved, &acting.actor)
                .await?
        }
        (_, When::At(at)) if at > crate::db::now_ms() => {
            if what == Scheduled::Publish && require_approved {
                // Fail now, not at the scheduled time, when there is nothing approved.
                match db.revisions(id).await?.last() {
                    Some(r) if r.state == RevisionState::Approved => {}
                    _ => {
                        return Err(ServiceError::Conflict(
                            "only an approved revision can be scheduled for publication".to_owned(),
                        ));
                    }
                }
            }
            db.schedule(&lesson, what, Some(at), require_approved, &acting.actor)
                .await?
        }
        (Scheduled::Publish, _) => db.publish(id, require_approved, &acting.actor).await?,
        (Scheduled::Withdraw, _) => db.withdraw(id, &acting.actor).await?,
    };
    Ok(lesson)
}

/// A lesson whose revisions `caller` may see: readable, and editable or reviewable by them (or
/// administered). Readers see the live lesson only.
async fn staff_lesson(db: &Db, caller: &Caller, id: &str) -> Result<LessonRecord> {
    let lesson = visible_lesson(db, caller, id).await?;
    if visibility::may(caller, Action::Edit, lesson.access())
        || visibility::may(caller, Action::Review, lesson.access())
        || matches!(caller, Caller::User(u) if u.holds_on(&[Role::Administrator], &lesson.org_path))
    {
        Ok(lesson)
    } else {
        Err(ServiceError::NotFound("lesson"))
    }
}

/// Every revision of lesson `id` with its approvals, oldest first.
pub async fn revisions(
    db: &Db,
    caller: &Caller,
    id: &str,
) -> Result<Vec<(RevisionRecord, Vec<ApprovalRecord>)>> {
    let lesson = staff_lesson(db, caller, id).await?;
    let mut items = Vec::new();
    for r in db.revisions(&lesson.id).await? {
        let approvals = db.approvals(&r.lesson_id, r.number).await?;
        items.push((r, approvals));
    }
    Ok(items)
}

/// One field that differs between two revisions.
#[derive(Debug, Clone)]
pub struct FieldChange {
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

/// The fields that differ between revisions `from` and `to` of lesson `id`.
pub async fn compare(
    db: &Db,
    caller: &Caller,
    id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<FieldChange>> {
    let lesson = staff_lesson(db, caller, id).await?;
    let revisions = db.revisions(&lesson.id).await?;
    let find = |n: i64, field: &'static str| {
        revisions
            .iter()
            .find(|r| r.number == n)
            .ok_or_else(|| ServiceError::from(Invalid::new(field, "no such revision")))
    };
    let (a, b) = (find(from, "from")?, find(to, "to")?);
    Ok(a.snapshot()?
        .diff(&b.snapshot()?)
        .into_iter()
        .map(|(field, from, to)| FieldChange { field, from, to })
        .collect())
}

/// A submission awaiting a level the caller may decide.
#[derive(Debug)]
pub struct QueueItem {
    pub lesson: LessonRecord,
    pub level: OrgRecord,
    pub revision: RevisionRecord,
    pub approvals: Vec<ApprovalRecord>,
}

/// The organisations whose subtrees `caller` reviews for.
fn reviewed_subtrees(caller: &Caller) -> Vec<String> {
    match caller {
        Caller::User(u) => u.subtrees(&[Role::Reviewer]),
        Caller::Operator { .. } => vec!["/".to_owned()],
        Caller::Anonymous | Caller::Platform(_) => Vec::new(),
    }
}

/// Submissions awaiting a level the caller may approve, oldest first: the same rule as
/// [`decide`], so what a reviewer may not approve (another level of a chain, a second level,
/// their own work where that is forbidden) is not offered.
pub async fn queue(db: &Db, acting: &Acting) -> Result<Vec<QueueItem>> {
    let paths = reviewed_subtrees(&acting.caller);
    let mut items = Vec::new();
    for (revision, level, approvals) in db.submitted_within(&paths).await? {
        let Some(level_org) = db.org(&level).await? else {
            continue;
        };
        let approved_by: Vec<&str> = approvals.iter().map(|a| a.reviewer_id.as_str()).collect();
        let chain = revision.chain();
        let facts = ReviewDecision {
            level_path: &level_org.path,
            chain: &chain,
            submitted_by: revision.submitted_by.as_deref(),
            approved_by: &approved_by,
            self_approval: level_org.self_approval.0,
            approving: true,
        };
        if may_decide(&acting.caller, &facts).is_err() {
            continue;
        }
        let Some(lesson) = db.lesson(&revision.lesson_id).await? else {
            continue;
        };
        items.push(QueueItem {
            lesson,
            level: level_org,
            revision,
            approvals,
        });
    }
    Ok(items)
}

/// Recommends published lesson `id` to the organisation above its current scope.
pub async fn recommend(
    db: &Db,
    acting: &Acting,
    id: &str,
    note: &str,
) -> Result<RecommendationRecord> {
    let lesson = lesson_for(db, acting, id, Action::Recommend).await?;
    if lesson.status != LessonStatus::Published {
        return Err(ServiceError::Conflict(
            "only a published lesson can be recommended".to_owned(),
        ));
    }
    let note = note.trim();
    if note.chars().count() > 2000 {
        return Err(Invalid::new("note", "must be at most 2000 characters").into());
    }
    let owner = owner(db, &lesson).await?;
    let from = match &lesson.scope_org_id {
        Some(s) => db.org(s).await?.unwrap_or(owner),
        None => owner,
    };
    let to = from.parent_id.clone().ok_or_else(|| {
        ServiceError::Conflict("this lesson already reaches the whole tree".to_owned())
    })?;
    Ok(db
        .recommend(&lesson, &from.id, &to, note, &acting.actor)
        .await?)
}

/// Recommendations to organisations the caller reviews for, optionally in one state.
pub async fn recommendations(
    db: &Db,
    acting: &Acting,
    state: Option<RecommendationState>,
) -> Result<Vec<RecommendationRecord>> {
    let paths = reviewed_subtrees(&acting.caller);
    Ok(db
        .recommendations_to(&paths, state.map(RecommendationState::as_str))
        .await?)
}

/// Adopts recommendation `id`, publishing the lesson to the subtree of `scope_org_id` (the
/// organisation recommended to by default, or one above it where the caller also reviews).
pub async fn adopt(
    db: &Db,
    acting: &Acting,
    id: &str,
    scope_org_id: Option<&str>,
    comment: &str,
) -> Result<RecommendationRecord> {
    decide_recommendation(db, acting, id, Some(scope_org_id), comment).await
}

/// Declines recommendation `id`, saying why.
pub async fn decline(
    db: &Db,
    acting: &Acting,
    id: &str,
    comment: &str,
) -> Result<RecommendationRecord> {
    if comment.trim().is_empty() {
        return Err(Invalid::new("comment", "declining needs a comment").into());
    }
    decide_recommendation(db, acting, id, None, comment).await
}

async fn decide_recommendation(
    db: &Db,
    acting: &Acting,
    id: &str,
    adopt: Option<Option<&str>>,
    comment: &str,
) -> Result<RecommendationRecord> {
    let rec = db
        .recommendation(id)
        .await?
        .ok_or(ServiceError::NotFound("recommendation"))?;
    let to = db
        .org(&rec.to_org_id)
        .await?
        .ok_or(ServiceError::NotFound("organisation"))?;
    let verb = if adopt.is_some() { "adopt" } else { "decline" };
    if !visibility::may_review_level(&acting.caller, &to.path, &[]) {
        return Err(deny(db, acting, verb, "recommendation", id, Some(&to.id)).await);
    }
    if comment.chars().count() > 2000 {
        return Err(Invalid::new("comment", "must be at most 2000 characters").into());
    }
    let scope = match adopt {
        None => None,
        Some(None) => Some(to.id.clone()),
        Some(Some(s)) => {
            let scope = db
                .org(s)
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
                return Err(deny(
                    db,
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
    Ok(db
        .decide_recommendation(&rec, scope.as_deref(), comment.trim(), &acting.actor)
        .await?)
}
