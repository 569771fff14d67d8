//! Learning records (`learning_progress`, `learning_days`): what each account has played of each
//! lesson, per source (`library`: Lectern's own player), and the time it spent per day. The
//! rules (what a report may add, when a lesson is learned) are `domain::learning`'s; this module
//! reads the rows (`progress` writes them, in batches).

use super::Db;
use super::lessons::LessonRecord;
use crate::domain::learning::{self, Span};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The source of the records Lectern's own player sends.
pub const LIBRARY: &str = "library";

/// What one account has learned of one lesson from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRecord {
    pub user_id: String,
    pub lesson_id: String,
    pub source: String,
    /// The merged stretches played.
    pub spans: Vec<Span>,
    pub covered_ms: i64,
    /// The lesson's length as the player knew it.
    pub duration_ms: Option<i64>,
    /// Time spent playing, re-plays included.
    pub time_ms: i64,
    /// Where the account stopped.
    pub position_ms: i64,
    /// What further reports may still add (`domain::learning::budget`).
    pub credit_ms: i64,
    /// When the lesson first counted as learned.
    pub completed_at: Option<i64>,
    pub first_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    user_id: String,
    lesson_id: String,
    source: String,
    spans: String,
    covered_ms: i64,
    duration_ms: Option<i64>,
    time_ms: i64,
    position_ms: i64,
    credit_ms: i64,
    completed_at: Option<i64>,
    first_at: i64,
    updated_at: i64,
}

impl From<Row> for ProgressRecord {
    fn from(r: Row) -> Self {
        Self {
            // Written by `progress` only; a row it did not write reads as nothing played.
            spans: serde_json::from_str(&r.spans).unwrap_or_default(),
            user_id: r.user_id,
            lesson_id: r.lesson_id,
            source: r.source,
            covered_ms: r.covered_ms,
            duration_ms: r.duration_ms,
            time_ms: r.time_ms,
            position_ms: r.position_ms,
            credit_ms: r.credit_ms,
            completed_at: r.completed_at,
            first_at: r.first_at,
            updated_at: r.updated_at,
        }
    }
}

pub(super) const COLUMNS: &str = "user_id, lesson_id, source, spans, covered_ms, duration_ms, time_ms, \
                       position_ms, credit_ms, completed_at, first_at, updated_at";

/// What one source recorded of one lesson, in counts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SourceTotals {
    pub source: String,
    pub learners: i64,
    pub completed: i64,
    pub time_ms: i64,
}

/// One account's time and completions in one quarter.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DayRecord {
    pub lesson_id: String,
    pub source: String,
    /// `YYYY-MM-DD`, in China (UTC+8).
    pub day: String,
    pub time_ms: i64,
}

impl Db {
    /// How many accounts learned lesson `lesson_id`, per source: learners, of them completed,
    /// and time; and the learners on any source. Counts only: no one's identity.
    pub async fn lesson_learning(
        &self,
        lesson_id: &str,
    ) -> Result<(i64, Vec<SourceTotals>), sqlx::Error> {
        let learners: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT user_id) FROM learning_progress WHERE lesson_id = $1",
        )
        .bind(lesson_id)
        .fetch_one(self.pool())
        .await?;
        let sources = sqlx::query_as(
            "SELECT source, COUNT(*) AS learners, \
             CAST(SUM(CASE WHEN completed_at IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS completed, \
             CAST(SUM(time_ms) AS BIGINT) AS time_ms FROM learning_progress \
             WHERE lesson_id = $1 GROUP BY source ORDER BY source",
        )
        .bind(lesson_id)
        .fetch_all(self.pool())
        .await?;
        Ok((learners, sources))
    }

    /// The record of (`user_id`, `lesson_id`) from Lectern's own player, if any.
    pub async fn progress(
        &self,
        user_id: &str,
        lesson_id: &str,
    ) -> Result<Option<ProgressRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM learning_progress WHERE user_id = $1 AND lesson_id = $2 \
             AND source = $3"
        );
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(lesson_id)
            .bind(LIBRARY)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(ProgressRecord::from))
    }

    /// `user_id`'s records from Lectern's own player, most recently played first, at most
    /// `limit`.
    pub async fn recent_progress(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<ProgressRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM learning_progress WHERE user_id = $1 AND source = $2 \
             ORDER BY updated_at DESC, lesson_id LIMIT $3"
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(LIBRARY)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(ProgressRecord::from).collect())
    }

    /// Every record of `user_id`, from every source, most recently played first.
    pub async fn all_progress(&self, user_id: &str) -> Result<Vec<ProgressRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM learning_progress WHERE user_id = $1 \
             ORDER BY updated_at DESC, lesson_id, source"
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(ProgressRecord::from).collect())
    }

    /// `user_id`'s time per lesson, source and day, oldest day first.
    pub async fn learning_days(&self, user_id: &str) -> Result<Vec<DayRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT lesson_id, source, day, time_ms FROM learning_days WHERE user_id = $1 \
             ORDER BY day, lesson_id, source",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// The share of a lesson that the organisation `org_id` counts as learned, in percent.
    pub async fn completion_percent(&self, org_id: &str) -> Result<i64, sqlx::Error> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT completion_percent FROM orgs WHERE id = $1")
                .bind(org_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.unwrap_or(learning::DEFAULT_COMPLETION_PERCENT))
    }

    /// Lesson `id` and its organisation's completion share, as the player's reports read
    /// them: remembered by this process for [`RECENT`], so a province's heartbeats do not read
    /// the same few lessons thousands of times a second. The caller checks visibility on what
    /// this answers and asks again with `fresh` before refusing, so a lesson just published (or
    /// a share just changed here, see [`Db::forget_recent_lessons`]) counts at once; a lesson
    /// withdrawn still takes reports for up to [`RECENT`].
    pub async fn lesson_for_learning(
        &self,
        id: &str,
        fresh: bool,
    ) -> Result<Option<(LessonRecord, i64)>, sqlx::Error> {
        if !fresh
            && let Some((at, found)) = self.recent_lessons.get(id)
            && at.elapsed() < RECENT
        {
            return Ok(found);
        }
        let found = match self.lesson(id).await? {
            Some(l) => {
                let percent = match &l.org_id {
                    Some(org) => self.completion_percent(org).await?,
                    None => learning::DEFAULT_COMPLETION_PERCENT,
                };
                Some((l, percent))
            }
            None => None,
        };
        self.recent_lessons
            .insert(id.to_owned(), (Instant::now(), found.clone()));
        Ok(found)
    }

    /// Forgets the lessons [`Db::lesson_for_learning`] remembers (an organisation's completion
    /// share changed).
    pub fn forget_recent_lessons(&self) {
        self.recent_lessons.clear();
    }
}

/// How long [`Db::lesson_for_learning`] remembers a lesson.
pub const RECENT: Duration = Duration::from_secs(5);

/// A lesson and its share as [`Db::lesson_for_learning`] answers it (`None`: no such lesson),
/// with when it was read.
type Remembered = (Instant, Option<(LessonRecord, i64)>);

/// The lessons [`Db::lesson_for_learning`] remembers.
#[derive(Clone)]
pub(super) struct RecentLessons(Arc<quick_cache::sync::Cache<String, Remembered>>);

impl Default for RecentLessons {
    fn default() -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(10_000)))
    }
}

impl std::ops::Deref for RecentLessons {
    type Target = quick_cache::sync::Cache<String, Remembered>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::fmt::Debug for RecentLessons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecentLessons")
    }
}
