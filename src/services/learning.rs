//! Learning records: what members play of lessons in Lectern's own player, whether that makes a
//! lesson learned (by coverage, `domain::learning`), and each member's learning archive.
//!
//! The player reports where it is and the stretches it played since its last report; a report
//! adds at most what could have been played since the one before, so neither skipping to the
//! end nor one forged report makes a lesson learned.

use super::catalog::visible_lesson;
use super::{Result, ServiceError};
use crate::db::Db;
use crate::db::learning::{DayRecord, LIBRARY, ProgressRecord};
use crate::db::progress::ProgressWrite;
use crate::domain::Invalid;
use crate::domain::learning::{self, Span};
use crate::domain::visibility::{self, Action, Caller};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One report of Lectern's player.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Where the player is, milliseconds from the start.
    pub position_ms: i64,
    /// The lesson's length as the player knows it.
    pub duration_ms: Option<i64>,
    /// The stretches played since the last report.
    pub played: Vec<Span>,
}

/// The account whose learning `caller` records, or why there is none.
pub(super) fn learner(caller: &Caller) -> Result<&str> {
    visibility::learner(caller).ok_or_else(|| match caller {
        Caller::Anonymous => {
            ServiceError::Unauthenticated("sign in to keep your place in a lesson".to_owned())
        }
        _ => ServiceError::Forbidden(
            "only an account keeps a place in a lesson (not an operator token or a platform key)"
                .to_owned(),
        ),
    })
}

fn check(report: &Report) -> Result<()> {
    let mut errors = Vec::new();
    let max = learning::MAX_MS;
    if !(0..=max).contains(&report.position_ms) {
        errors.push(Invalid::new(
            "position_ms",
            format!("must be between 0 and {max}"),
        ));
    }
    if report.duration_ms.is_some_and(|d| !(1..=max).contains(&d)) {
        errors.push(Invalid::new(
            "duration_ms",
            format!("must be between 1 and {max}"),
        ));
    }
    if report.played.len() > learning::MAX_SPANS {
        errors.push(Invalid::new(
            "played",
            format!("at most {} stretches in one report", learning::MAX_SPANS),
        ));
    }
    let end = report.duration_ms.unwrap_or(max).min(max);
    if report
        .played
        .iter()
        .any(|&(a, b)| a < 0 || b <= a || b > end)
    {
        errors.push(Invalid::new(
            "played",
            format!(
                "each stretch must start at 0 or later and end after its start, at most at \
                 {end} (the lesson's end)"
            ),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

/// Records a report of `caller`'s (an account) in lesson `lesson_id`, which it must be able
/// to read; answers the record as it now is. The lesson is read as the player's reports read
/// it (remembered for seconds, `Db::lesson_for_learning`), and the report written with the
/// others waiting (`db::progress`).
pub async fn record(
    db: &Db,
    caller: &Caller,
    lesson_id: &str,
    report: Report,
) -> Result<ProgressRecord> {
    let user = learner(caller)?;
    check(&report)?;
    let readable = |(l, _): &(crate::db::lessons::LessonRecord, i64)| {
        visibility::may(caller, Action::Read, l.access())
    };
    // Remembered; asked again before refusing.
    let found = match db
        .lesson_for_learning(lesson_id, false)
        .await?
        .filter(readable)
    {
        Some(found) => Some(found),
        None => db
            .lesson_for_learning(lesson_id, true)
            .await?
            .filter(readable),
    };
    let Some((lesson, percent)) = found else {
        return Err(ServiceError::NotFound("lesson"));
    };
    let now = crate::db::now_ms();
    Ok(db
        .record_progress_queued(ProgressWrite {
            user_id: user.to_owned(),
            lesson_id: lesson.id.clone(),
            source: LIBRARY.to_owned(),
            now,
            credit_ms: learning::SLACK_MS,
            apply: Arc::new(move |old| apply(old, report.clone(), now, percent)),
        })
        .await?)
}

/// What one page of a document counts for in a learning record: a document of `n` pages is a
/// lesson of `n` × this, page `p` its stretch from `(p - 1)` × this, so coverage is the share
/// of pages opened and a report adds at most twice the time since the one before (a page
/// needs 10 s of reading to count; opening every page at once does not complete it).
pub const PAGE_MS: i64 = 20_000;

/// Pages in a document at most, as a reader reports them (a record covers at most a day).
pub const MAX_PAGES: i64 = learning::MAX_MS / PAGE_MS;

/// Records that `caller` read `pages` (opened, each for a few seconds, since the last report)
/// of lesson `lesson_id`, a document of `page_count` pages, and is at page `page`. Only a
/// lesson of kind document is learned by reading (a video's handout does not cover the video).
pub async fn read(
    db: &Db,
    caller: &Caller,
    lesson_id: &str,
    page: i64,
    page_count: i64,
    pages: &[i64],
) -> Result<ProgressRecord> {
    learner(caller)?;
    let mut errors = Vec::new();
    if !(1..=MAX_PAGES).contains(&page_count) {
        errors.push(Invalid::new(
            "page_count",
            format!("must be between 1 and {MAX_PAGES}"),
        ));
    }
    if !(1..=page_count.max(1)).contains(&page) {
        errors.push(Invalid::new("page", "must be a page of the document"));
    }
    if pages.len() > learning::MAX_SPANS {
        errors.push(Invalid::new(
            "pages",
            format!("at most {} pages in one report", learning::MAX_SPANS),
        ));
    } else if pages.iter().any(|p| !(1..=page_count.max(1)).contains(p)) {
        errors.push(Invalid::new("pages", "each must be a page of the document"));
    }
    if let Some((lesson, _)) = db.lesson_for_learning(lesson_id, false).await?
        && lesson.kind != crate::domain::lesson::LessonKind::Document
        && visibility::may(caller, Action::Read, lesson.access())
    {
        errors.push(Invalid::new(
            "lesson",
            "is not a document: it is learned by playing it",
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let report = Report {
        position_ms: (page - 1) * PAGE_MS,
        duration_ms: Some(page_count * PAGE_MS),
        played: pages
            .iter()
            .map(|p| ((p - 1) * PAGE_MS, p * PAGE_MS))
            .collect(),
    };
    record(db, caller, lesson_id, report).await
}

/// The record after `report`, and the time it adds on the day of `now`.
fn apply(
    mut r: ProgressRecord,
    report: Report,
    now: i64,
    percent: i64,
) -> (ProgressRecord, i64, String) {
    let budget = learning::budget(r.credit_ms, now - r.updated_at);
    let played = learning::within(&learning::merge(report.played), budget);
    let time = learning::covered(&played);
    r.credit_ms = budget - time;
    r.duration_ms = report.duration_ms.or(r.duration_ms);
    r.spans = learning::merge(r.spans.iter().copied().chain(played));
    r.covered_ms = learning::covered(&r.spans);
    r.time_ms += time;
    r.position_ms = r
        .duration_ms
        .map_or(report.position_ms, |d| report.position_ms.min(d));
    if r.completed_at.is_none() && learning::complete(r.covered_ms, r.duration_ms, percent) {
        r.completed_at = Some(now);
    }
    r.updated_at = now;
    (r, time, crate::domain::time::china_day(now))
}

/// One lesson in a member's archive.
#[derive(Debug, Clone)]
pub struct Learned {
    pub lesson_id: String,
    /// The lesson's title; `None` when the lesson is gone or the member may no longer read it
    /// (its record still counts).
    pub title: Option<String>,
    pub source: String,
    /// The platform's name when the source is a platform (`None` for Lectern's own player).
    pub source_name: Option<String>,
    pub covered_percent: i64,
    pub time_ms: i64,
    pub completed_at: Option<i64>,
    pub first_at: i64,
    pub updated_at: i64,
}

/// A quarter of a member's archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quarter {
    pub year: i32,
    pub quarter: u8,
    /// Time spent in it, on every channel.
    pub time_ms: i64,
    /// Lessons learned in it (first counted as learned in the quarter).
    pub completed: i64,
    /// Lessons played in it.
    pub lessons: i64,
}

/// A completion rule that holds for the member, and where they are with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    pub series: String,
    /// The organisation that set it.
    pub org_name: String,
    /// Published lessons of the series.
    pub lessons: i64,
    /// Of them, those the member completed (on any channel).
    pub completed: i64,
}

impl Required {
    pub fn done(&self) -> bool {
        self.lessons > 0 && self.completed >= self.lessons
    }
}

/// A member's learning archive (我的学习档案): every lesson learned on every channel, and the
/// totals per quarter, newest first.
#[derive(Debug, Clone)]
pub struct Archive {
    pub lessons: Vec<Learned>,
    pub quarters: Vec<Quarter>,
    pub time_ms: i64,
    pub completed: i64,
    /// The series the member's organisations require (done or missing).
    pub required: Vec<Required>,
}

/// `caller`'s own learning archive.
pub async fn archive(db: &Db, caller: &Caller) -> Result<Archive> {
    let user = learner(caller)?;
    let records = db.all_progress(user).await?;
    let days = db.learning_days(user).await?;
    let ids: Vec<&str> = records.iter().map(|r| r.lesson_id.as_str()).collect();
    let titles: HashMap<String, String> = db
        .lessons_by_ids(&ids)
        .await?
        .into_iter()
        .filter(|l| visibility::may(caller, visibility::Action::Read, l.access()))
        .map(|l| (l.id, l.title))
        .collect();
    let mut archive = build(records, &days, &titles);
    let homes: Vec<String> = db
        .grants_for_access(user)
        .await?
        .into_iter()
        .filter(|g| g.role == visibility::Role::Member)
        .map(|g| g.org_path)
        .collect();
    for rule in db.all_rules().await? {
        if !homes
            .iter()
            .any(|h| super::reports::applies(&rule.org_path, h))
        {
            continue;
        }
        let lessons = db.published_series_lessons(&rule.series).await?;
        archive.required.push(Required {
            completed: db.completed_among(user, &lessons).await?,
            lessons: lessons.len() as i64,
            series: rule.series,
            org_name: rule.org_name,
        });
    }
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    for l in &mut archive.lessons {
        if l.source == LIBRARY {
            continue;
        }
        if !names.contains_key(&l.source) {
            let name = db.platform(&l.source).await?.map(|p| p.name);
            names.insert(l.source.clone(), name);
        }
        l.source_name = names.get(&l.source).cloned().flatten();
    }
    Ok(archive)
}

fn build(
    records: Vec<ProgressRecord>,
    days: &[DayRecord],
    titles: &HashMap<String, String>,
) -> Archive {
    let mut totals: BTreeMap<(i32, u8), Quarter> = BTreeMap::new();
    let mut played: BTreeMap<(i32, u8), std::collections::HashSet<&str>> = BTreeMap::new();
    let entry = |totals: &mut BTreeMap<(i32, u8), Quarter>, key: (i32, u8)| {
        totals.entry(key).or_insert_with(|| Quarter {
            year: key.0,
            quarter: key.1,
            ..Default::default()
        });
    };
    for d in days {
        if let Some(key) = learning::quarter_of(&d.day) {
            entry(&mut totals, key);
            if let Some(q) = totals.get_mut(&key) {
                q.time_ms += d.time_ms;
            }
            played.entry(key).or_default().insert(d.lesson_id.as_str());
        }
    }
    for r in &records {
        if let Some(key) = r
            .completed_at
            .and_then(|at| learning::quarter_of(&crate::domain::time::china_day(at)))
        {
            entry(&mut totals, key);
            if let Some(q) = totals.get_mut(&key) {
                q.completed += 1;
            }
        }
    }
    for (key, lessons) in played {
        if let Some(q) = totals.get_mut(&key) {
            q.lessons = lessons.len() as i64;
        }
    }
    let lessons: Vec<Learned> = records
        .into_iter()
        .map(|r| Learned {
            title: titles.get(&r.lesson_id).cloned(),
            covered_percent: learning::percent(r.covered_ms, r.duration_ms),
            lesson_id: r.lesson_id,
            source: r.source,
            source_name: None,
            time_ms: r.time_ms,
            completed_at: r.completed_at,
            first_at: r.first_at,
            updated_at: r.updated_at,
        })
        .collect();
    Archive {
        time_ms: lessons.iter().map(|l| l.time_ms).sum(),
        completed: lessons.iter().filter(|l| l.completed_at.is_some()).count() as i64,
        lessons,
        quarters: totals.into_values().rev().collect(),
        required: Vec::new(),
    }
}

/// How a lesson is learned, in counts only: for the staff of the lesson (its editors and
/// reviewers, who may see no member's record) and its organisation's administrators.
#[derive(Debug, Clone)]
pub struct LessonLearning {
    pub lesson_id: String,
    pub learners: i64,
    pub completed: i64,
    pub time_ms: i64,
    /// Per source: its name (the platform's; `None` for the library) and counts.
    pub sources: Vec<(crate::db::learning::SourceTotals, Option<String>)>,
}

/// Lesson `lesson_id`'s learning in counts, for whoever may edit, review or administer it.
pub async fn lesson_learning(
    db: &Db,
    acting: &super::Acting,
    lesson_id: &str,
) -> Result<LessonLearning> {
    let lesson = visible_lesson(db, &acting.caller, lesson_id).await?;
    let staff = [visibility::Action::Edit, visibility::Action::Review]
        .into_iter()
        .any(|a| visibility::may(&acting.caller, a, lesson.access()))
        || visibility::may_administer(&acting.caller, &lesson.org_path);
    if !staff {
        return Err(super::deny(
            db,
            acting,
            "learning",
            "lesson",
            lesson_id,
            lesson.org_id.as_deref(),
        )
        .await);
    }
    let (learners, totals) = db.lesson_learning(&lesson.id).await?;
    let mut sources = Vec::new();
    for t in totals {
        let name = if t.source == LIBRARY {
            None
        } else {
            db.platform(&t.source).await?.map(|p| p.name)
        };
        sources.push((t, name));
    }
    Ok(LessonLearning {
        lesson_id: lesson.id,
        learners,
        completed: sources.iter().map(|(t, _)| t.completed).sum(),
        time_ms: sources.iter().map(|(t, _)| t.time_ms).sum(),
        sources,
    })
}

/// `acting`'s own learning archive, to be taken away (a file): the export is in the audit log.
pub async fn export(db: &Db, acting: &super::Acting) -> Result<Archive> {
    let archive = archive(db, &acting.caller).await?;
    let user = learner(&acting.caller)?;
    let event = crate::db::audit::Event {
        action: "learning.export",
        target_kind: "user",
        target_id: Some(user),
        org_id: None,
        before: None,
        after: Some(serde_json::json!({ "lessons": archive.lessons.len() })),
    };
    db.audit(&acting.actor, event).await?;
    Ok(archive)
}
