//! Lessons and their tags.

use super::audit::{Actor, Event};
use super::changes::{self, Entity, Op};
use super::workflow::{self, Snapshot};
use super::{Db, Tx, new_id, now_ms, placeholders};
use crate::domain::lesson::{LessonFields, LessonKind, LessonStatus, RevisionState};
use crate::domain::visibility::{LessonAccess, Publication, ReadScope};
use sqlx::AssertSqlSafe;

/// A lesson as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LessonRecord {
    pub id: String,
    pub title: String,
    pub description: String,
    pub kind: LessonKind,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    pub region_code: Option<String>,
    pub recorded_on: Option<String>,
    pub language: String,
    pub status: LessonStatus,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
    /// The owning organisation; `None` for lessons made by an operator outside any organisation.
    pub org_id: Option<String>,
    /// The owning organisation's path, "" when there is none.
    pub org_path: String,
    pub created_by: Option<String>,
    /// The subtree the lesson is published to (the owner's when unset).
    pub scope_org_id: Option<String>,
    /// When a scheduled publication or withdrawal is due.
    pub publish_at: Option<i64>,
    pub withdraw_at: Option<i64>,
    /// The path of the subtree it is published to: the scope's, else the owner's ("" for none).
    pub scope_path: String,
    /// A narrower subtree of the scope that receives it, when the publisher chose one.
    pub audience_org_id: Option<String>,
    pub audience_path: Option<String>,
    #[sqlx(skip)]
    pub tags: Vec<String>,
    /// The platforms it is published to by name; empty when it goes to its whole audience.
    #[sqlx(skip)]
    pub platforms: Vec<String>,
}

impl LessonRecord {
    pub fn status(&self) -> LessonStatus {
        self.status
    }

    /// The facts the visibility rules decide on.
    pub fn access(&self) -> LessonAccess<'_> {
        LessonAccess {
            status: self.status(),
            org_path: &self.org_path,
            publication: Publication {
                kind: self.kind.as_str(),
                tags: &self.tags,
                series: self.series.as_deref(),
                scope_path: &self.scope_path,
                audience_path: self.audience_path.as_deref(),
                platforms: &self.platforms,
            },
        }
    }
}

/// Filters of a lesson listing; each is optional.
#[derive(Debug, Clone, Default)]
pub struct LessonFilter {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub tag: Option<String>,
    pub series: Option<String>,
    pub lecturer: Option<String>,
    /// Matches this prefix of the region code (a region and everything below it).
    pub region_prefix: Option<String>,
    /// Only lessons owned inside the subtree at this path.
    pub org_prefix: Option<String>,
    /// Only lessons whose id sorts after this one (keyset paging, with [`ListOrder::Id`] only).
    pub after_id: Option<String>,
    pub order: ListOrder,
}

/// The order of a lesson listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// By id: creation order, the order keyset paging follows.
    #[default]
    Id,
    /// As the episodes of a series: by recording date (undated last), then publication.
    Episode,
    /// The most recently published first.
    Newest,
}

/// Why an update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no such lesson")]
    NotFound,
    #[error("the lesson was changed by someone else (now at version {current})")]
    VersionMismatch { current: i64 },
    #[error("revision {revision} is {state}; it cannot change until a reviewer decides")]
    UnderReview { revision: i64, state: RevisionState },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The columns of [`LessonRecord`], selected from `FROM_LESSONS`.
const COLUMNS: &str = "l.id, l.title, l.description, l.kind, l.lecturer, l.series, l.region_code, \
                       l.recorded_on, l.language, l.status, l.version, l.created_at, l.updated_at, \
                       l.published_at, l.org_id, COALESCE(o.path, '') AS org_path, l.created_by, \
                       l.scope_org_id, l.publish_at, l.withdraw_at, \
                       COALESCE(so.path, '') AS scope_path, l.audience_org_id, \
                       ao.path AS audience_path";
const FROM_LESSONS: &str = "lessons l LEFT JOIN orgs o ON o.id = l.org_id \
                            LEFT JOIN orgs so ON so.id = COALESCE(l.scope_org_id, l.org_id) \
                            LEFT JOIN orgs ao ON ao.id = l.audience_org_id";

impl Db {
    /// Gives every lesson made before there were organisations to `org_id` (the root, when an
    /// instance is bootstrapped).
    pub async fn adopt_orphan_lessons_in(tx: &mut Tx, org_id: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("UPDATE lessons SET org_id = $1 WHERE org_id IS NULL")
            .bind(org_id)
            .execute(&mut **tx)
            .await?;
        Ok(done.rows_affected())
    }

    /// Creates a draft lesson owned by `org_id`, with its first revision, and records it.
    pub async fn create_lesson(
        &self,
        f: &LessonFields,
        org_id: Option<&str>,
        actor: &Actor,
    ) -> Result<LessonRecord, sqlx::Error> {
        let id = new_id();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO lessons (id, title, description, kind, lecturer, series, region_code, \
             recorded_on, language, status, version, created_at, updated_at, published_at, \
             org_id, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', 1, $10, $10, NULL, $11, $12)",
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
        .bind(org_id)
        .bind(actor.user_id.as_deref())
        .execute(&mut *tx)
        .await?;
        write_tags(&mut tx, &id, &f.tags).await?;
        let snapshot = Snapshot::of(f);
        super::workflow::insert_revision(&mut tx, &id, 1, &snapshot, actor).await?;
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "lesson.create",
                target_kind: "lesson",
                target_id: Some(&id),
                org_id,
                before: None,
                after: Some(snapshot.to_json()),
            },
        )
        .await?;
        changes::append(&mut tx, Entity::Lesson, &id, &id, Op::Create).await?;
        tx.commit().await?;
        Ok(self
            .lesson(&id)
            .await?
            .expect("a lesson just created exists"))
    }

    /// The lesson `id` with its tags, whatever its status; callers apply visibility.
    pub async fn lesson(&self, id: &str) -> Result<Option<LessonRecord>, sqlx::Error> {
        let row: Option<LessonRecord> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM_LESSONS} WHERE l.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut rows = [row];
        self.attach_tags(&mut rows).await?;
        let [row] = rows;
        Ok(Some(row))
    }

    /// The lessons with the given ids that exist, with their tags, in no particular order.
    pub async fn lessons_by_ids(&self, ids: &[&str]) -> Result<Vec<LessonRecord>, sqlx::Error> {
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT {COLUMNS} FROM {FROM_LESSONS} WHERE l.id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, LessonRecord>(AssertSqlSafe(sql.as_str()));
            for id in chunk {
                q = q.bind(*id);
            }
            let mut found = q.fetch_all(self.pool()).await?;
            self.attach_tags(&mut found).await?;
            rows.append(&mut found);
        }
        Ok(rows)
    }

    /// `FROM … WHERE …` of the lessons `scope` may read that pass `filter`, with its binds
    /// (`$1`, `$2`, … in order).
    fn scoped_where(scope: &ReadScope, filter: &LessonFilter) -> (String, Vec<String>) {
        let mut sql = format!("FROM {FROM_LESSONS} WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        fn bind(binds: &mut Vec<String>, sql: &mut String, clause: &str, value: String) {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        }
        match scope {
            ReadScope::Everything => {}
            ReadScope::PublishedOnly => bind(
                &mut binds,
                &mut sql,
                " AND l.status = ?",
                LessonStatus::Published.as_str().into(),
            ),
            ReadScope::PublishedOrWithin(paths) => {
                bind(
                    &mut binds,
                    &mut sql,
                    " AND (l.status = ?",
                    LessonStatus::Published.as_str().into(),
                );
                for p in paths {
                    bind(&mut binds, &mut sql, " OR o.path LIKE ?", format!("{p}%"));
                }
                sql.push(')');
            }
            ReadScope::Platform(p) => {
                sql.push_str(" AND ");
                sql.push_str(&super::platforms::receives_sql(p, &mut binds));
            }
        }
        if let Some(o) = &filter.org_prefix {
            bind(&mut binds, &mut sql, " AND o.path LIKE ?", format!("{o}%"));
        }
        if let Some(s) = &filter.status {
            bind(&mut binds, &mut sql, " AND l.status = ?", s.clone());
        }
        if let Some(k) = &filter.kind {
            bind(&mut binds, &mut sql, " AND l.kind = ?", k.clone());
        }
        if let Some(t) = &filter.tag {
            bind(
                &mut binds,
                &mut sql,
                " AND EXISTS (SELECT 1 FROM lesson_tags t WHERE t.lesson_id = l.id AND t.tag = ?)",
                t.clone(),
            );
        }
        if let Some(s) = &filter.series {
            bind(&mut binds, &mut sql, " AND l.series = ?", s.clone());
        }
        if let Some(s) = &filter.lecturer {
            bind(&mut binds, &mut sql, " AND l.lecturer = ?", s.clone());
        }
        if let Some(p) = &filter.region_prefix {
            bind(
                &mut binds,
                &mut sql,
                " AND l.region_code LIKE ?",
                format!("{p}%"),
            );
        }
        if let Some(a) = &filter.after_id {
            bind(&mut binds, &mut sql, " AND l.id > ?", a.clone());
        }
        (sql, binds)
    }

    /// Up to `limit` lessons that `scope` may read and `filter` selects, in `filter.order`.
    pub async fn lessons(
        &self,
        scope: &ReadScope,
        filter: &LessonFilter,
        limit: i64,
    ) -> Result<Vec<LessonRecord>, sqlx::Error> {
        let (from, binds) = Self::scoped_where(scope, filter);
        let mut sql = format!("SELECT {COLUMNS} {from}");
        // `(x IS NULL)` sorts the missing last on both databases (false before true).
        sql.push_str(match filter.order {
            ListOrder::Id => " ORDER BY l.id",
            ListOrder::Episode => {
                " ORDER BY (l.recorded_on IS NULL), l.recorded_on, \
                 (l.published_at IS NULL), l.published_at, l.id"
            }
            ListOrder::Newest => {
                " ORDER BY (l.published_at IS NULL), l.published_at DESC, l.id DESC"
            }
        });
        sql.push_str(&format!(" LIMIT ${}", binds.len() + 1));
        let mut q = sqlx::query_as::<_, LessonRecord>(AssertSqlSafe(sql.as_str()));
        for b in &binds {
            q = q.bind(b);
        }
        let mut rows = q.bind(limit).fetch_all(self.pool()).await?;
        self.attach_tags(&mut rows).await?;
        Ok(rows)
    }

    /// Loads the tags and named platforms of `rows`.
    pub(super) async fn attach_tags(&self, rows: &mut [LessonRecord]) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        // One round trip for both: tags in their order, then platforms.
        let n = rows.len();
        let sql = format!(
            "SELECT lesson_id, CAST(0 AS BIGINT) AS k, CAST(position AS BIGINT) AS o, tag AS v \
             FROM lesson_tags WHERE lesson_id IN ({}) \
             UNION ALL SELECT lesson_id, CAST(1 AS BIGINT), CAST(0 AS BIGINT), platform_id \
             FROM lesson_platforms \
             WHERE lesson_id IN ({}) ORDER BY 1, 2, 3, 4",
            placeholders(1, n),
            placeholders(n + 1, n)
        );
        let mut q = sqlx::query_as::<_, (String, i64, i64, String)>(AssertSqlSafe(sql.as_str()));
        for r in rows.iter().chain(rows.iter()) {
            q = q.bind(&r.id);
        }
        let at: std::collections::HashMap<String, usize> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        for (lesson_id, kind, _, value) in q.fetch_all(self.pool()).await? {
            if let Some(&i) = at.get(&lesson_id) {
                match kind {
                    0 => rows[i].tags.push(value),
                    _ => rows[i].platforms.push(value),
                }
            }
        }
        Ok(())
    }

    /// Changes the fields of lesson `id` as `actor`. With `expected_versions`, the change happens
    /// only if the lesson is still at one of them (nobody changed it since the caller read it).
    ///
    /// A lesson that is not published is changed in place, and its working revision with it. A
    /// published lesson stays as it is: the change goes into a new (or the current draft)
    /// revision, which must pass review before it replaces the live fields — unless `live` is set
    /// (operators), in which case the live fields change at once.
    pub async fn update_lesson(
        &self,
        id: &str,
        f: &LessonFields,
        expected_versions: Option<&[i64]>,
        actor: &Actor,
        live: bool,
    ) -> Result<LessonRecord, UpdateError> {
        let mut tx = self.begin_write().await?;
        workflow::lock_lesson(&mut tx, id).await?;
        let current = Self::lesson_in(&mut tx, id)
            .await?
            .ok_or(UpdateError::NotFound)?;
        if expected_versions.is_some_and(|v| !v.contains(&current.version)) {
            return Err(UpdateError::VersionMismatch {
                current: current.version,
            });
        }
        let working = workflow::working_revision_in(&mut tx, id).await?;
        if let Some(w) = &working
            && matches!(w.state, RevisionState::Submitted | RevisionState::Approved)
        {
            return Err(UpdateError::UnderReview {
                revision: w.number,
                state: w.state,
            });
        }
        let before = Snapshot::of_record(&current);
        let after = Snapshot::of(f);
        let published = current.status() == LessonStatus::Published;
        if !published || live {
            write_fields(&mut tx, id, &after).await?;
        } else {
            bump_version(&mut tx, id).await?;
        }
        match (&working, published && live) {
            (_, true) => workflow::record_live_revision(&mut tx, id, &after, actor).await?,
            (Some(w), false) => workflow::rewrite_revision(&mut tx, id, w.number, &after).await?,
            (None, false) => {
                let n = workflow::last_revision_number(&mut tx, id).await? + 1;
                workflow::insert_revision(&mut tx, id, n, &after, actor).await?;
            }
        }
        let action = if published && !live {
            "lesson.revise"
        } else {
            "lesson.update"
        };
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action,
                target_kind: "lesson",
                target_id: Some(id),
                org_id: current.org_id.as_deref(),
                before: Some(before.to_json()),
                after: Some(after.to_json()),
            },
        )
        .await?;
        if !published || live {
            changes::append(&mut tx, Entity::Lesson, id, id, Op::Update).await?;
        }
        tx.commit().await?;
        self.lesson(id).await?.ok_or(UpdateError::NotFound)
    }

    /// The lesson `id` inside `tx` (without its tags).
    pub(super) async fn lesson_in(
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<LessonRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM_LESSONS} WHERE l.id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
    }

    /// Deletes lesson `id` with its tags and assets (the blobs stay: other assets may share them).
    /// Without `any_status` (operators), a published lesson is not deleted: `Ok(None)`.
    pub async fn delete_lesson(
        &self,
        id: &str,
        actor: &Actor,
        any_status: bool,
    ) -> Result<Option<bool>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        workflow::lock_lesson(&mut tx, id).await?;
        let Some(current) = Self::lesson_in(&mut tx, id).await? else {
            return Ok(Some(false));
        };
        if !any_status && current.status() == LessonStatus::Published {
            return Ok(None);
        }
        // Its contents' pending media steps are cancelled with it (unless other assets hold them).
        let contents: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT sha256 FROM assets WHERE lesson_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM lessons WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Self::cancel_media_jobs_in(&mut tx, &contents).await?;
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "lesson.delete",
                target_kind: "lesson",
                target_id: Some(id),
                org_id: current.org_id.as_deref(),
                before: Some(Snapshot::of_record(&current).to_json()),
                after: None,
            },
        )
        .await?;
        changes::append(&mut tx, Entity::Lesson, id, id, Op::Delete).await?;
        tx.commit().await?;
        Ok(Some(true))
    }

    /// Every series name lessons carry.
    pub async fn series_names(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT DISTINCT series FROM lessons WHERE series IS NOT NULL ORDER BY series LIMIT 100000",
        )
        .fetch_all(self.pool())
        .await
    }

    /// How many lessons there are, by status, for the overview page.
    pub async fn lesson_counts(&self) -> Result<Vec<(LessonStatus, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT status, COUNT(*) FROM lessons GROUP BY status ORDER BY status")
            .fetch_all(self.pool())
            .await
    }
}

/// Writes `s` over the live fields of lesson `id` (and bumps its version).
pub(super) async fn write_fields(tx: &mut Tx, id: &str, s: &Snapshot) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE lessons SET title = $2, description = $3, lecturer = $4, series = $5, \
         region_code = $6, recorded_on = $7, language = $8, version = version + 1, \
         updated_at = $9 WHERE id = $1",
    )
    .bind(id)
    .bind(&s.title)
    .bind(&s.description)
    .bind(s.lecturer.as_deref())
    .bind(s.series.as_deref())
    .bind(s.region_code.as_deref())
    .bind(s.recorded_on.as_deref())
    .bind(&s.language)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM lesson_tags WHERE lesson_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    write_tags(tx, id, &s.tags).await
}

/// Moves the version (the `ETag`) of lesson `id` on without changing its fields.
pub(super) async fn bump_version(tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE lessons SET version = version + 1, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
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
