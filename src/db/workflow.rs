//! The review workflow: revisions of a lesson's fields, submission, approval per level,
//! rejection, publication (now or scheduled), withdrawal and upward recommendation.
//!
//! Every step is one transaction that also writes the audit log and, when it changes what the
//! outside sees, the change log (last, as everywhere).

use super::audit::{Actor, Event};
use super::changes::{self, Entity, Op};
use super::lessons::{LessonRecord, write_fields};
use super::{Db, Tx, new_id, now_ms};
use crate::domain::lesson::{LessonFields, LessonKind, LessonStatus, RevisionState};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;

/// A lesson's editable fields as a revision stores them (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub title: String,
    pub description: String,
    pub kind: LessonKind,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    pub region_code: Option<String>,
    pub recorded_on: Option<String>,
    pub language: String,
    pub tags: Vec<String>,
}

impl Snapshot {
    pub fn of(f: &LessonFields) -> Self {
        Self {
            title: f.title.as_str().to_owned(),
            description: f.description.clone(),
            kind: f.kind,
            lecturer: f.lecturer.clone(),
            series: f.series.clone(),
            region_code: f.region_code.as_ref().map(|r| r.as_str().to_owned()),
            recorded_on: f.recorded_on.clone(),
            language: f.language.clone(),
            tags: f.tags.clone(),
        }
    }

    pub fn of_record(l: &LessonRecord) -> Self {
        Self {
            title: l.title.clone(),
            description: l.description.clone(),
            kind: l.kind,
            lecturer: l.lecturer.clone(),
            series: l.series.clone(),
            region_code: l.region_code.clone(),
            recorded_on: l.recorded_on.clone(),
            language: l.language.clone(),
            tags: l.tags.clone(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn parse(text: &str) -> Result<Self, sqlx::Error> {
        serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }

    /// The fields that differ from `other`, as `(field, self's value, other's value)`.
    pub fn diff(&self, other: &Snapshot) -> Vec<(String, serde_json::Value, serde_json::Value)> {
        let (a, b) = (self.to_json(), other.to_json());
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return Vec::new();
        };
        a.iter()
            .filter(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone(), b.get(k).cloned().unwrap_or_default()))
            .collect()
    }
}

/// One revision of a lesson.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevisionRecord {
    pub lesson_id: String,
    pub number: i64,
    pub fields: String,
    pub state: RevisionState,
    pub author_id: Option<String>,
    pub scope_org_id: Option<String>,
    /// The organisations that must approve, owner first, as a JSON list of ids.
    pub chain: Option<String>,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RevisionRecord {
    pub fn snapshot(&self) -> Result<Snapshot, sqlx::Error> {
        Snapshot::parse(&self.fields)
    }

    pub fn chain(&self) -> Vec<String> {
        self.chain
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default()
    }
}

/// An approval of one level.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct ApprovalRecord {
    pub org_id: String,
    pub reviewer_id: String,
    pub at: i64,
}

const REVISION_COLUMNS: &str = "lesson_id, number, fields, state, author_id, scope_org_id, chain, \
                                submitted_by, submitted_at, decided_at, comment, created_at, \
                                updated_at";

/// Why a workflow step was refused.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("no such lesson")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Takes the row lock of lesson `id` for the rest of `tx`, so that workflow steps on one lesson
/// run one after the other and each sees what the previous one committed (on SQLite the
/// `BEGIN IMMEDIATE` of every write transaction already serialises them).
pub(super) async fn lock_lesson(tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE lessons SET version = version WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn insert_revision(
    tx: &mut Tx,
    lesson_id: &str,
    number: i64,
    s: &Snapshot,
    actor: &Actor,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO lesson_revisions (lesson_id, number, fields, state, author_id, created_at, \
         updated_at) VALUES ($1, $2, $3, 'draft', $4, $5, $5)",
    )
    .bind(lesson_id)
    .bind(number)
    .bind(s.to_json().to_string())
    .bind(actor.user_id.as_deref())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rewrites a draft or rejected revision's fields; it becomes a draft again.
pub(super) async fn rewrite_revision(
    tx: &mut Tx,
    lesson_id: &str,
    number: i64,
    s: &Snapshot,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE lesson_revisions SET fields = $3, state = 'draft', updated_at = $4 \
         WHERE lesson_id = $1 AND number = $2",
    )
    .bind(lesson_id)
    .bind(number)
    .bind(s.to_json().to_string())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records fields that went live without review (an operator's edit of a published lesson).
pub(super) async fn record_live_revision(
    tx: &mut Tx,
    lesson_id: &str,
    s: &Snapshot,
    actor: &Actor,
) -> Result<(), sqlx::Error> {
    let n = last_revision_number(tx, lesson_id).await? + 1;
    insert_revision(tx, lesson_id, n, s, actor).await?;
    mark_published(tx, lesson_id, n).await
}

/// Marks revision `number` published and every earlier published one superseded.
async fn mark_published(tx: &mut Tx, lesson_id: &str, number: i64) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "UPDATE lesson_revisions SET state = 'superseded', updated_at = $3 \
         WHERE lesson_id = $1 AND state = 'published' AND number <> $2",
    )
    .bind(lesson_id)
    .bind(number)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE lesson_revisions SET state = 'published', decided_at = COALESCE(decided_at, $3), \
         updated_at = $3 WHERE lesson_id = $1 AND number = $2",
    )
    .bind(lesson_id)
    .bind(number)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn last_revision_number(tx: &mut Tx, lesson_id: &str) -> Result<i64, sqlx::Error> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT MAX(number) FROM lesson_revisions WHERE lesson_id = $1")
            .bind(lesson_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(n.unwrap_or(0))
}

/// The revision being worked on or reviewed (draft, submitted, approved or rejected), if any.
pub(super) async fn working_revision_in(
    tx: &mut Tx,
    lesson_id: &str,
) -> Result<Option<RevisionRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REVISION_COLUMNS} FROM lesson_revisions WHERE lesson_id = $1 \
         AND state IN ('draft', 'submitted', 'approved', 'rejected') ORDER BY number DESC LIMIT 1"
    )))
    .bind(lesson_id)
    .fetch_optional(&mut **tx)
    .await
}

async fn approvals_in(
    tx: &mut Tx,
    lesson_id: &str,
    number: i64,
) -> Result<Vec<ApprovalRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT org_id, reviewer_id, at FROM approvals WHERE lesson_id = $1 AND revision = $2 \
         ORDER BY at",
    )
    .bind(lesson_id)
    .bind(number)
    .fetch_all(&mut **tx)
    .await
}

/// The first level of `chain` nobody has approved yet.
pub fn next_level<'a>(chain: &'a [String], approvals: &[ApprovalRecord]) -> Option<&'a String> {
    chain
        .iter()
        .find(|level| !approvals.iter().any(|a| &a.org_id == *level))
}

/// What a reviewer decides.
#[derive(Debug, Clone)]
pub enum Decision {
    Approve,
    Reject { comment: String },
}

/// How a submission stands after a step.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewState {
    pub revision: i64,
    pub state: RevisionState,
    pub next_level: Option<String>,
    pub approvals: Vec<ApprovalRecord>,
}

impl Db {
    /// The revision being worked on or reviewed, if any (see [`working_revision_in`]).
    pub async fn working_revision(
        &self,
        lesson_id: &str,
    ) -> Result<Option<RevisionRecord>, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        working_revision_in(&mut tx, lesson_id).await
    }

    pub async fn revisions(&self, lesson_id: &str) -> Result<Vec<RevisionRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {REVISION_COLUMNS} FROM lesson_revisions WHERE lesson_id = $1 ORDER BY number"
        )))
        .bind(lesson_id)
        .fetch_all(self.pool())
        .await
    }

    pub async fn approvals(
        &self,
        lesson_id: &str,
        number: i64,
    ) -> Result<Vec<ApprovalRecord>, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        approvals_in(&mut tx, lesson_id, number).await
    }

    /// Sends the working revision of `lesson` to review for publication to the subtree of
    /// `scope_org_id`, to be approved by each organisation of `chain` in turn (owner first; the
    /// caller has already dropped levels that do not require review). An empty chain approves at
    /// once.
    pub async fn submit(
        &self,
        lesson: &LessonRecord,
        scope_org_id: &str,
        chain: &[String],
        actor: &Actor,
    ) -> Result<ReviewState, StepError> {
        let mut tx = self.begin_write().await?;
        lock_lesson(&mut tx, &lesson.id).await?;
        let working = match working_revision_in(&mut tx, &lesson.id).await? {
            Some(w) => w,
            None if lesson.status() != LessonStatus::Published => {
                // A lesson whose last revision went live and was then withdrawn: resubmit its
                // current fields.
                let n = last_revision_number(&mut tx, &lesson.id).await? + 1;
                let s = Snapshot::of_record(lesson);
                insert_revision(&mut tx, &lesson.id, n, &s, actor).await?;
                working_revision_in(&mut tx, &lesson.id)
                    .await?
                    .ok_or(StepError::NotFound)?
            }
            None => {
                return Err(StepError::Conflict(
                    "there is no new revision to submit: edit the lesson first".into(),
                ));
            }
        };
        if !working.state.is_open() {
            return Err(StepError::Conflict(format!(
                "revision {} is already {}",
                working.number, working.state
            )));
        }
        let now = now_ms();
        let state = if chain.is_empty() {
            RevisionState::Approved
        } else {
            RevisionState::Submitted
        };
        sqlx::query(
            "UPDATE lesson_revisions SET state = $3, scope_org_id = $4, chain = $5, \
             submitted_by = $6, submitted_at = $7, decided_at = $8, comment = NULL, \
             updated_at = $7 WHERE lesson_id = $1 AND number = $2",
        )
        .bind(&lesson.id)
        .bind(working.number)
        .bind(state.as_str())
        .bind(scope_org_id)
        .bind(serde_json::to_string(chain).unwrap_or_default())
        .bind(actor.user_id.as_deref())
        .bind(now)
        .bind(chain.is_empty().then_some(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM approvals WHERE lesson_id = $1 AND revision = $2")
            .bind(&lesson.id)
            .bind(working.number)
            .execute(&mut *tx)
            .await?;
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "lesson.submit",
                target_kind: "lesson",
                target_id: Some(&lesson.id),
                org_id: lesson.org_id.as_deref(),
                before: Some(
                    serde_json::json!({ "revision": working.number, "state": working.state }),
                ),
                after: Some(serde_json::json!({
                    "revision": working.number, "state": state,
                    "scope_org_id": scope_org_id, "chain": chain,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ReviewState {
            revision: working.number,
            state,
            next_level: chain.first().cloned(),
            approvals: Vec::new(),
        })
    }

    /// The submitted revision of `lesson` and the level awaiting a decision.
    pub async fn pending_review(
        &self,
        lesson_id: &str,
    ) -> Result<Option<(RevisionRecord, String, Vec<ApprovalRecord>)>, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let Some(w) = working_revision_in(&mut tx, lesson_id).await? else {
            return Ok(None);
        };
        if w.state != RevisionState::Submitted {
            return Ok(None);
        }
        let approvals = approvals_in(&mut tx, lesson_id, w.number).await?;
        let chain = w.chain();
        let Some(level) = next_level(&chain, &approvals).cloned() else {
            return Ok(None);
        };
        Ok(Some((w, level, approvals)))
    }

    /// Records `decision` on level `level` of revision `number` by `actor`. The caller has
    /// checked that the actor may review that level; this checks that the revision is still
    /// awaiting exactly that level (two reviewers deciding at once: one wins, one gets a conflict).
    pub async fn decide(
        &self,
        lesson: &LessonRecord,
        seen: &RevisionRecord,
        level: &str,
        decision: Decision,
        actor: &Actor,
    ) -> Result<ReviewState, StepError> {
        let number = seen.number;
        let mut tx = self.begin_write().await?;
        lock_lesson(&mut tx, &lesson.id).await?;
        // The very submission the caller was authorised against: same revision, same chain, same
        // submission time (a rejected revision resubmitted meanwhile may have another chain).
        let w = working_revision_in(&mut tx, &lesson.id)
            .await?
            .filter(|w| {
                w.number == number
                    && w.state == RevisionState::Submitted
                    && w.submitted_at == seen.submitted_at
                    && w.chain == seen.chain
            })
            .ok_or_else(|| {
                StepError::Conflict("the revision is no longer awaiting review".into())
            })?;
        let mut approvals = approvals_in(&mut tx, &lesson.id, number).await?;
        let chain = w.chain();
        if next_level(&chain, &approvals).map(String::as_str) != Some(level) {
            return Err(StepError::Conflict(
                "the revision is no longer awaiting this level".into(),
            ));
        }
        let approved_by: Vec<&str> = approvals.iter().map(|a| a.reviewer_id.as_str()).collect();
        if !crate::domain::visibility::one_level_each(actor.user_id.as_deref(), &approved_by) {
            return Err(StepError::Forbidden(
                "one reviewer may approve only one level of a revision".into(),
            ));
        }
        let now = now_ms();
        let (action, state) = match &decision {
            Decision::Approve => {
                sqlx::query(
                    "INSERT INTO approvals (lesson_id, revision, org_id, reviewer_id, at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&lesson.id)
                .bind(number)
                .bind(level)
                .bind(actor.user_id.clone().unwrap_or_else(|| actor.label.clone()))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                approvals = approvals_in(&mut tx, &lesson.id, number).await?;
                let done = next_level(&chain, &approvals).is_none();
                if done {
                    sqlx::query(
                        "UPDATE lesson_revisions SET state = 'approved', decided_at = $3, \
                         updated_at = $3 WHERE lesson_id = $1 AND number = $2",
                    )
                    .bind(&lesson.id)
                    .bind(number)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                (
                    "lesson.approve",
                    if done {
                        RevisionState::Approved
                    } else {
                        RevisionState::Submitted
                    },
                )
            }
            Decision::Reject { comment } => {
                sqlx::query(
                    "UPDATE lesson_revisions SET state = 'rejected', decided_at = $3, \
                     comment = $4, updated_at = $3 WHERE lesson_id = $1 AND number = $2",
                )
                .bind(&lesson.id)
                .bind(number)
                .bind(now)
                .bind(comment)
                .execute(&mut *tx)
                .await?;
                ("lesson.reject", RevisionState::Rejected)
            }
        };
        let comment = match &decision {
            Decision::Reject { comment } => Some(comment.as_str()),
            Decision::Approve => None,
        };
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action,
                target_kind: "lesson",
                target_id: Some(&lesson.id),
                org_id: Some(level),
                before: Some(
                    serde_json::json!({ "revision": number, "state": RevisionState::Submitted }),
                ),
                after: Some(serde_json::json!({
                    "revision": number, "state": state, "level": level, "comment": comment,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ReviewState {
            revision: number,
            state,
            next_level: next_level(&chain, &approvals).cloned(),
            approvals,
        })
    }

    /// Publishes lesson `id` now. With `require_approved`, only an approved revision may go live
    /// (its fields and scope replace the live ones); without it (operators), the working
    /// revision goes live whatever its state, or the lesson as it stands. Publishing a lesson
    /// that is already live with nothing new changes nothing.
    pub async fn publish(
        &self,
        id: &str,
        require_approved: bool,
        actor: &Actor,
    ) -> Result<LessonRecord, StepError> {
        let mut tx = self.begin_write().await?;
        publish_in(&mut tx, id, require_approved, actor).await?;
        tx.commit().await?;
        self.lesson(id).await?.ok_or(StepError::NotFound)
    }

    /// Sets (or with `None` clears) the time at which lesson `id` is published or withdrawn; a
    /// publication then needs an approved revision when `require_approved` (as publishing now
    /// would for the same caller).
    pub async fn schedule(
        &self,
        lesson: &LessonRecord,
        what: Scheduled,
        at: Option<i64>,
        require_approved: bool,
        actor: &Actor,
    ) -> Result<LessonRecord, StepError> {
        let mut tx = self.begin_write().await?;
        lock_lesson(&mut tx, &lesson.id).await?;
        let column = match what {
            Scheduled::Publish => "publish_at",
            Scheduled::Withdraw => "withdraw_at",
        };
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE lessons SET {column} = $2, version = version + 1, updated_at = $3 WHERE id = $1"
        )))
        .bind(&lesson.id)
        .bind(at)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if what == Scheduled::Publish {
            sqlx::query("UPDATE lessons SET publish_at_needs_approval = $2 WHERE id = $1")
                .bind(&lesson.id)
                .bind(i64::from(require_approved))
                .execute(&mut *tx)
                .await?;
        }
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: match what {
                    Scheduled::Publish => "lesson.schedule_publish",
                    Scheduled::Withdraw => "lesson.schedule_withdraw",
                },
                target_kind: "lesson",
                target_id: Some(&lesson.id),
                org_id: lesson.org_id.as_deref(),
                before: Some(serde_json::json!({ column: match what {
                    Scheduled::Publish => lesson.publish_at,
                    Scheduled::Withdraw => lesson.withdraw_at,
                }})),
                after: Some(serde_json::json!({ column: at })),
            },
        )
        .await?;
        tx.commit().await?;
        self.lesson(&lesson.id).await?.ok_or(StepError::NotFound)
    }

    /// Withdraws lesson `id` now; withdrawing a lesson that is not live changes nothing.
    pub async fn withdraw(&self, id: &str, actor: &Actor) -> Result<LessonRecord, StepError> {
        let mut tx = self.begin_write().await?;
        withdraw_in(&mut tx, id, actor).await?;
        tx.commit().await?;
        self.lesson(id).await?.ok_or(StepError::NotFound)
    }

    /// Carries out the schedules that are due, each in its own transaction that first claims it
    /// (clears the time) so that, with several instances on one database, each fires exactly
    /// once. Returns how many fired.
    pub async fn run_due_schedules(&self) -> Result<usize, sqlx::Error> {
        let now = now_ms();
        let mut fired = 0;
        for what in [Scheduled::Publish, Scheduled::Withdraw] {
            let column = what.column();
            let due: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT id FROM lessons WHERE {column} IS NOT NULL AND {column} <= $1 \
                 ORDER BY {column} LIMIT 100"
            )))
            .bind(now)
            .fetch_all(self.pool())
            .await?;
            for id in due {
                let mut tx = self.begin_write().await?;
                let claimed = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE lessons SET {column} = NULL WHERE id = $1 AND {column} IS NOT NULL \
                     AND {column} <= $2"
                )))
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed != 1 {
                    continue; // another instance took it
                }
                let actor = Actor {
                    user_id: None,
                    label: "scheduler".into(),
                    address: None,
                };
                let result = match what {
                    Scheduled::Publish => {
                        let needs_approval: i64 = sqlx::query_scalar(
                            "SELECT publish_at_needs_approval FROM lessons WHERE id = $1",
                        )
                        .bind(&id)
                        .fetch_one(&mut *tx)
                        .await?;
                        publish_in(&mut tx, &id, needs_approval != 0, &actor).await
                    }
                    Scheduled::Withdraw => withdraw_in(&mut tx, &id, &actor).await,
                };
                match result {
                    Ok(()) => {
                        tx.commit().await?;
                        fired += 1;
                    }
                    Err(e) => {
                        tracing::warn!(lesson = %id, error = %e, "a scheduled step failed; its schedule is dropped");
                        // Nothing approved to publish any more (say, it was edited): drop the
                        // schedule and record why.
                        drop(tx);
                        let mut tx = self.begin_write().await?;
                        sqlx::query(AssertSqlSafe(format!(
                            "UPDATE lessons SET {column} = NULL WHERE id = $1"
                        )))
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                        let org_id: Option<Option<String>> =
                            sqlx::query_scalar("SELECT org_id FROM lessons WHERE id = $1")
                                .bind(&id)
                                .fetch_optional(&mut *tx)
                                .await?;
                        Self::audit_in(
                            &mut tx,
                            &actor,
                            Event {
                                action: "lesson.schedule_failed",
                                target_kind: "lesson",
                                target_id: Some(&id),
                                org_id: org_id.flatten().as_deref(),
                                before: None,
                                after: Some(serde_json::json!({ "error": e.to_string() })),
                            },
                        )
                        .await?;
                        tx.commit().await?;
                    }
                }
            }
        }
        Ok(fired)
    }

    /// Submitted revisions of lessons owned inside the subtrees at `paths`, oldest first, with the
    /// level each awaits; the caller filters by who may review that level.
    pub async fn submitted_within(
        &self,
        paths: &[String],
    ) -> Result<Vec<(RevisionRecord, String, Vec<ApprovalRecord>)>, sqlx::Error> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT r.lesson_id, r.number, r.fields, r.state, r.author_id, r.scope_org_id, \
             r.chain, r.submitted_by, r.submitted_at, r.decided_at, r.comment, r.created_at, \
             r.updated_at FROM lesson_revisions r JOIN lessons l ON l.id = r.lesson_id \
             JOIN orgs o ON o.id = l.org_id WHERE r.state = 'submitted' AND {} \
             ORDER BY r.submitted_at LIMIT 500",
            super::within_subtrees("o.path", 1, paths.len())
        );
        let mut q = sqlx::query_as::<_, RevisionRecord>(AssertSqlSafe(sql.as_str()));
        for p in super::subtree_patterns(paths) {
            q = q.bind(p);
        }
        let rows = q.fetch_all(self.pool()).await?;
        let mut out = Vec::new();
        for r in rows {
            let approvals = self.approvals(&r.lesson_id, r.number).await?;
            if let Some(level) = next_level(&r.chain(), &approvals).cloned() {
                out.push((r, level, approvals));
            }
        }
        Ok(out)
    }
}

/// Which schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    Publish,
    Withdraw,
}

impl Scheduled {
    fn column(self) -> &'static str {
        match self {
            Self::Publish => "publish_at",
            Self::Withdraw => "withdraw_at",
        }
    }
}

async fn publish_in(
    tx: &mut Tx,
    id: &str,
    require_approved: bool,
    actor: &Actor,
) -> Result<(), StepError> {
    lock_lesson(tx, id).await?;
    let lesson = Db::lesson_in(tx, id).await?.ok_or(StepError::NotFound)?;
    let working = working_revision_in(tx, id).await?;
    let revision = match working {
        Some(w) if w.state == RevisionState::Approved || !require_approved => Some(w),
        Some(w) if require_approved => {
            return Err(StepError::Conflict(format!(
                "revision {} is {}; only an approved revision can be published",
                w.number, w.state
            )));
        }
        _ if lesson.status == LessonStatus::Published => return Ok(()),
        _ if require_approved => {
            return Err(StepError::Conflict(
                "nothing approved to publish: submit the lesson for review first".into(),
            ));
        }
        _ => None,
    };
    let now = now_ms();
    if let Some(r) = &revision {
        write_fields(tx, id, &r.snapshot()?).await?;
        mark_published(tx, id, r.number).await?;
    }
    let scope = revision.as_ref().and_then(|r| r.scope_org_id.clone());
    sqlx::query(
        "UPDATE lessons SET status = 'published', published_at = $2, updated_at = $2, \
         version = version + 1, scope_org_id = COALESCE($3, scope_org_id), publish_at = NULL \
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(scope.as_deref())
    .execute(&mut **tx)
    .await?;
    Db::audit_in(
        tx,
        actor,
        Event {
            action: "lesson.publish",
            target_kind: "lesson",
            target_id: Some(id),
            org_id: lesson.org_id.as_deref(),
            before: Some(serde_json::json!({ "status": lesson.status })),
            after: Some(serde_json::json!({
                "status": LessonStatus::Published,
                "revision": revision.as_ref().map(|r| r.number),
                "scope_org_id": scope.or(lesson.scope_org_id),
            })),
        },
    )
    .await?;
    let op = if lesson.status == LessonStatus::Published {
        Op::Update
    } else {
        Op::Publish
    };
    changes::append(tx, Entity::Lesson, id, id, op).await?;
    Ok(())
}

async fn withdraw_in(tx: &mut Tx, id: &str, actor: &Actor) -> Result<(), StepError> {
    lock_lesson(tx, id).await?;
    let lesson = Db::lesson_in(tx, id).await?.ok_or(StepError::NotFound)?;
    if lesson.status != LessonStatus::Published {
        // Withdrawing what is not live still cancels a scheduled publication: "take it down"
        // must not be undone by a timer.
        if lesson.publish_at.is_some() {
            sqlx::query(
                "UPDATE lessons SET publish_at = NULL, version = version + 1 WHERE id = $1",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?;
            Db::audit_in(
                tx,
                actor,
                Event {
                    action: "lesson.schedule_publish",
                    target_kind: "lesson",
                    target_id: Some(id),
                    org_id: lesson.org_id.as_deref(),
                    before: Some(serde_json::json!({ "publish_at": lesson.publish_at })),
                    after: Some(serde_json::json!({ "publish_at": null, "reason": "withdrawn" })),
                },
            )
            .await?;
        }
        return Ok(());
    }
    sqlx::query(
        "UPDATE lessons SET status = 'withdrawn', updated_at = $2, version = version + 1, \
         withdraw_at = NULL, publish_at = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Db::audit_in(
        tx,
        actor,
        Event {
            action: "lesson.withdraw",
            target_kind: "lesson",
            target_id: Some(id),
            org_id: lesson.org_id.as_deref(),
            before: Some(serde_json::json!({ "status": LessonStatus::Published })),
            after: Some(serde_json::json!({ "status": LessonStatus::Withdrawn })),
        },
    )
    .await?;
    changes::append(tx, Entity::Lesson, id, id, Op::Withdraw).await?;
    Ok(())
}

// --- recommendations ---

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct RecommendationRecord {
    pub id: String,
    pub lesson_id: String,
    pub from_org_id: String,
    pub to_org_id: String,
    pub recommended_by: String,
    pub note: String,
    pub state: crate::domain::lesson::RecommendationState,
    pub decided_by: Option<String>,
    pub decision_comment: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

const RECOMMENDATION_COLUMNS: &str = "r.id, r.lesson_id, r.from_org_id, r.to_org_id, \
    r.recommended_by, r.note, r.state, r.decided_by, r.decision_comment, r.created_at, \
    r.decided_at";

impl Db {
    pub async fn recommend(
        &self,
        lesson: &LessonRecord,
        from_org_id: &str,
        to_org_id: &str,
        note: &str,
        actor: &Actor,
    ) -> Result<RecommendationRecord, StepError> {
        let mut tx = self.begin_write().await?;
        lock_lesson(&mut tx, &lesson.id).await?;
        let pending: Option<String> = sqlx::query_scalar(
            "SELECT id FROM recommendations WHERE lesson_id = $1 AND to_org_id = $2 \
             AND state = 'pending'",
        )
        .bind(&lesson.id)
        .bind(to_org_id)
        .fetch_optional(&mut *tx)
        .await?;
        if pending.is_some() {
            return Err(StepError::Conflict(
                "this lesson is already recommended there and awaits a decision".into(),
            ));
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO recommendations (id, lesson_id, from_org_id, to_org_id, recommended_by, \
             note, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
        )
        .bind(&id)
        .bind(&lesson.id)
        .bind(from_org_id)
        .bind(to_org_id)
        .bind(actor.user_id.clone().unwrap_or_else(|| actor.label.clone()))
        .bind(note)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "lesson.recommend",
                target_kind: "lesson",
                target_id: Some(&lesson.id),
                org_id: Some(from_org_id),
                before: None,
                after: Some(serde_json::json!({ "recommendation": id, "to_org_id": to_org_id, "note": note })),
            },
        )
        .await?;
        tx.commit().await?;
        self.recommendation(&id).await?.ok_or(StepError::NotFound)
    }

    pub async fn recommendation(
        &self,
        id: &str,
    ) -> Result<Option<RecommendationRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RECOMMENDATION_COLUMNS} FROM recommendations r WHERE r.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    /// Recommendations to organisations inside the subtrees at `paths`, newest first.
    pub async fn recommendations_to(
        &self,
        paths: &[String],
        state: Option<&str>,
    ) -> Result<Vec<RecommendationRecord>, sqlx::Error> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut binds: Vec<String> = super::subtree_patterns(paths).collect();
        let mut sql = format!(
            "SELECT {RECOMMENDATION_COLUMNS} FROM recommendations r \
             JOIN orgs o ON o.id = r.to_org_id WHERE {}",
            super::within_subtrees("o.path", 1, paths.len())
        );
        if let Some(s) = state {
            binds.push(s.to_owned());
            sql.push_str(&format!(" AND r.state = ${}", binds.len()));
        }
        sql.push_str(" ORDER BY r.id DESC LIMIT 500");
        let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
        for b in &binds {
            q = q.bind(b);
        }
        q.fetch_all(self.pool()).await
    }

    /// Adopts (widening the lesson's scope to `scope_org_id`, keeping its owner) or declines a
    /// pending recommendation.
    pub async fn decide_recommendation(
        &self,
        rec: &RecommendationRecord,
        adopt_scope: Option<&str>,
        comment: &str,
        actor: &Actor,
    ) -> Result<RecommendationRecord, StepError> {
        let mut tx = self.begin_write().await?;
        lock_lesson(&mut tx, &rec.lesson_id).await?;
        let now = now_ms();
        let state = if adopt_scope.is_some() {
            "adopted"
        } else {
            "declined"
        };
        let current = Db::lesson_in(&mut tx, &rec.lesson_id)
            .await?
            .ok_or(StepError::NotFound)?;
        if let Some(scope) = adopt_scope {
            if current.status != LessonStatus::Published {
                return Err(StepError::Conflict(
                    "only a published lesson can be adopted; this one is not live any more".into(),
                ));
            }
            // Adoption only widens: the new scope must contain the current one.
            let current_scope = current
                .scope_org_id
                .clone()
                .or_else(|| current.org_id.clone())
                .unwrap_or_default();
            let paths: Vec<(String, String)> =
                sqlx::query_as("SELECT id, path FROM orgs WHERE id = $1 OR id = $2")
                    .bind(scope)
                    .bind(&current_scope)
                    .fetch_all(&mut *tx)
                    .await?;
            let path_of = |id: &str| paths.iter().find(|(i, _)| i == id).map(|(_, p)| p.clone());
            let widens = match (path_of(scope), path_of(&current_scope)) {
                (Some(new), Some(old)) => crate::domain::org::within(&old, &new),
                _ => false,
            };
            if !widens {
                return Err(StepError::Conflict(
                    "the lesson already reaches at least that far; adoption would narrow it".into(),
                ));
            }
        }
        let n = sqlx::query(
            "UPDATE recommendations SET state = $2, decided_by = $3, decision_comment = $4, \
             decided_at = $5 WHERE id = $1 AND state = 'pending'",
        )
        .bind(&rec.id)
        .bind(state)
        .bind(actor.user_id.clone().unwrap_or_else(|| actor.label.clone()))
        .bind(comment)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StepError::Conflict(
                "the recommendation was already decided".into(),
            ));
        }
        let lesson = current;
        if let Some(scope) = adopt_scope {
            sqlx::query(
                "UPDATE lessons SET scope_org_id = $2, version = version + 1, updated_at = $3 \
                 WHERE id = $1",
            )
            .bind(&rec.lesson_id)
            .bind(scope)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: if adopt_scope.is_some() {
                    "lesson.adopt"
                } else {
                    "lesson.decline"
                },
                target_kind: "lesson",
                target_id: Some(&rec.lesson_id),
                org_id: Some(&rec.to_org_id),
                before: Some(serde_json::json!({ "scope_org_id": lesson.scope_org_id })),
                after: Some(serde_json::json!({
                    "recommendation": rec.id, "state": state, "comment": comment,
                    "scope_org_id": adopt_scope.or(lesson.scope_org_id.as_deref()),
                })),
            },
        )
        .await?;
        if adopt_scope.is_some() {
            changes::append(
                &mut tx,
                Entity::Lesson,
                &rec.lesson_id,
                &rec.lesson_id,
                Op::Update,
            )
            .await?;
        }
        tx.commit().await?;
        self.recommendation(&rec.id)
            .await?
            .ok_or(StepError::NotFound)
    }
}
