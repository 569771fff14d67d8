//! Lessons and their tags.

use super::changes::{self, Entity, Op};
use super::{Db, new_id, now_ms, placeholders};
use crate::domain::lesson::{LessonFields, LessonStatus};
use crate::domain::visibility::ReadScope;

/// A lesson as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LessonRecord {
    pub id: String,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    pub region_code: Option<String>,
    pub recorded_on: Option<String>,
    pub language: String,
    pub status: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
    #[sqlx(skip)]
    pub tags: Vec<String>,
}

impl LessonRecord {
    pub fn status(&self) -> LessonStatus {
        // The CHECK constraint admits only valid states.
        LessonStatus::parse(&self.status).unwrap_or(LessonStatus::Draft)
    }
}

/// Filters of a lesson listing; each is optional.
#[derive(Debug, Clone, Default)]
pub struct LessonFilter {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub tag: Option<String>,
    /// Matches this prefix of the region code (a region and everything below it).
    pub region_prefix: Option<String>,
    /// Only lessons whose id sorts after this one (keyset paging).
    pub after_id: Option<String>,
}

/// Why an update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no such lesson")]
    NotFound,
    #[error("the lesson was changed by someone else (now at version {current})")]
    VersionMismatch { current: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

const COLUMNS: &str = "id, title, description, kind, lecturer, series, region_code, recorded_on, \
                       language, status, version, created_at, updated_at, published_at";

impl Db {
    pub async fn create_lesson(&self, f: &LessonFields) -> Result<LessonRecord, sqlx::Error> {
        let id = new_id();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO lessons (id, title, description, kind, lecturer, series, region_code, \
             recorded_on, language, status, version, created_at, updated_at, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', 1, $10, $10, NULL)",
        )
        .bind(&id)
        .bind(f.title.as_str())
        .bind(&f.description)
        .bind(f.kind.as_str())
        .bind(f.lecturer.as_deref())
        .bind(f.series.as_deref())
        .bind(f.region_code.as_ref().map(|r| r.as_str()))
        .bind(f.recorded_on.as_deref())
        .bind(&f.language)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        write_tags(&mut tx, &id, &f.tags).await?;
        changes::append(&mut tx, Entity::Lesson, &id, &id, Op::Create).await?;
        tx.commit().await?;
        Ok(self
            .lesson(&id)
            .await?
            .expect("a lesson just created exists"))
    }

    /// The lesson `id` with its tags, whatever its status; callers apply visibility.
    pub async fn lesson(&self, id: &str) -> Result<Option<LessonRecord>, sqlx::Error> {
        let row: Option<LessonRecord> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM lessons WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let Some(mut row) = row else { return Ok(None) };
        row.tags = sqlx::query_scalar(
            "SELECT tag FROM lesson_tags WHERE lesson_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        Ok(Some(row))
    }

    /// Up to `limit` lessons that `scope` may read and `filter` selects, oldest first.
    pub async fn lessons(
        &self,
        scope: ReadScope,
        filter: &LessonFilter,
        limit: i64,
    ) -> Result<Vec<LessonRecord>, sqlx::Error> {
        let mut sql = format!("SELECT {COLUMNS} FROM lessons l WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut bind = |sql: &mut String, clause: &str, value: String| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if scope == ReadScope::PublishedOnly {
            bind(&mut sql, " AND l.status = ?", "published".into());
        }
        if let Some(s) = &filter.status {
            bind(&mut sql, " AND l.status = ?", s.clone());
        }
        if let Some(k) = &filter.kind {
            bind(&mut sql, " AND l.kind = ?", k.clone());
        }
        if let Some(t) = &filter.tag {
            bind(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM lesson_tags t WHERE t.lesson_id = l.id AND t.tag = ?)",
                t.clone(),
            );
        }
        if let Some(p) = &filter.region_prefix {
            bind(&mut sql, " AND l.region_code LIKE ?", format!("{p}%"));
        }
        if let Some(a) = &filter.after_id {
            bind(&mut sql, " AND l.id > ?", a.clone());
        }
        sql.push_str(&format!(" ORDER BY l.id LIMIT ${}", binds.len() + 1));
        let mut q = sqlx::query_as::<_, LessonRecord>(&sql);
        for b in &binds {
            q = q.bind(b);
        }
        let mut rows = q.bind(limit).fetch_all(self.pool()).await?;
        self.attach_tags(&mut rows).await?;
        Ok(rows)
    }

    async fn attach_tags(&self, rows: &mut [LessonRecord]) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT lesson_id, tag FROM lesson_tags WHERE lesson_id IN ({}) ORDER BY lesson_id, position",
            placeholders(1, rows.len())
        );
        let mut q = sqlx::query_as::<_, (String, String)>(&sql);
        for r in rows.iter() {
            q = q.bind(&r.id);
        }
        for (lesson_id, tag) in q.fetch_all(self.pool()).await? {
            if let Some(r) = rows.iter_mut().find(|r| r.id == lesson_id) {
                r.tags.push(tag);
            }
        }
        Ok(())
    }

    /// Replaces the editable fields of lesson `id`. With `expected_version`, the update happens only
    /// if nobody changed the lesson since the caller read it.
    pub async fn update_lesson(
        &self,
        id: &str,
        f: &LessonFields,
        expected_version: Option<i64>,
    ) -> Result<LessonRecord, UpdateError> {
        let mut tx = self.begin_write().await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT version FROM lessons WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let current = current.ok_or(UpdateError::NotFound)?;
        if expected_version.is_some_and(|v| v != current) {
            return Err(UpdateError::VersionMismatch { current });
        }
        sqlx::query(
            "UPDATE lessons SET title = $2, description = $3, lecturer = $4, series = $5, \
             region_code = $6, recorded_on = $7, language = $8, version = version + 1, \
             updated_at = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(f.title.as_str())
        .bind(&f.description)
        .bind(f.lecturer.as_deref())
        .bind(f.series.as_deref())
        .bind(f.region_code.as_ref().map(|r| r.as_str()))
        .bind(f.recorded_on.as_deref())
        .bind(&f.language)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM lesson_tags WHERE lesson_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_tags(&mut tx, id, &f.tags).await?;
        changes::append(&mut tx, Entity::Lesson, id, id, Op::Update).await?;
        tx.commit().await?;
        self.lesson(id).await?.ok_or(UpdateError::NotFound)
    }

    /// Moves lesson `id` to `status`; `None` when there is no such lesson. Setting the status it
    /// already has changes nothing and logs nothing, so retries are harmless.
    pub async fn set_lesson_status(
        &self,
        id: &str,
        status: LessonStatus,
    ) -> Result<Option<LessonRecord>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let published_at = (status == LessonStatus::Published).then_some(now);
        let changed = sqlx::query(
            "UPDATE lessons SET status = $2, version = version + 1, updated_at = $3, \
             published_at = COALESCE($4, published_at) WHERE id = $1 AND status <> $2",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(now)
        .bind(published_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            let op = match status {
                LessonStatus::Published => Op::Publish,
                LessonStatus::Withdrawn => Op::Withdraw,
                LessonStatus::Draft => Op::Update,
            };
            changes::append(&mut tx, Entity::Lesson, id, id, op).await?;
        }
        tx.commit().await?;
        self.lesson(id).await
    }

    /// Deletes lesson `id` with its tags and assets (the blobs stay: other assets may share them).
    pub async fn delete_lesson(&self, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM lessons WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 1 {
            changes::append(&mut tx, Entity::Lesson, id, id, Op::Delete).await?;
        }
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// How many lessons there are, by status, for the overview page.
    pub async fn lesson_counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT status, COUNT(*) FROM lessons GROUP BY status ORDER BY status")
            .fetch_all(self.pool())
            .await
    }
}

async fn write_tags(
    tx: &mut super::Tx,
    lesson_id: &str,
    tags: &[String],
) -> Result<(), sqlx::Error> {
    for (position, tag) in tags.iter().enumerate() {
        sqlx::query("INSERT INTO lesson_tags (lesson_id, tag, position) VALUES ($1, $2, $3)")
            .bind(lesson_id)
            .bind(tag)
            .bind(position as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
