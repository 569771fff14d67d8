//! Assets and the content-addressed blobs they point at.

use super::audit::{Actor, Event};
use super::changes::{self, Entity, Op};
use super::{Db, Tx, new_id, now_ms};
use sqlx::AssertSqlSafe;

/// An asset as stored, with its blob's facts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AssetRecord {
    pub id: String,
    pub lesson_id: String,
    pub role: crate::domain::asset::AssetRole,
    pub filename: String,
    pub sha256: String,
    pub content_type: String,
    pub disposition: crate::domain::asset::Disposition,
    pub created_at: i64,
    pub size: i64,
    pub object_key: String,
}

/// A freshly stored object about to become an asset.
#[derive(Debug, Clone)]
pub struct NewAsset<'a> {
    pub lesson_id: &'a str,
    pub role: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub disposition: crate::domain::asset::Disposition,
    pub sha256: &'a str,
    pub size: i64,
    /// Where the bytes were written.
    pub object_key: &'a str,
    /// Who uploaded it, for the audit log.
    pub actor: &'a Actor,
    /// Whether the files may change even while the lesson is in review or live (operator
    /// tokens); otherwise the lesson's files are frozen from submission on.
    pub bypass_review: bool,
    /// For a `subtitle` asset: what reading the file found, recorded with the asset.
    pub subtitle: Option<super::subtitles::NewSubtitle<'a>>,
}

/// The outcome of recording an asset.
#[derive(Debug)]
pub enum Recorded {
    /// The asset exists. `duplicate_object`, when set, names the freshly written object that
    /// turned out to hold bytes already stored under another key: the caller deletes it.
    Asset {
        asset: Box<AssetRecord>,
        duplicate_object: Option<String>,
    },
    /// The lesson was deleted while the bytes were uploading.
    LessonGone,
    /// The lesson went into review or live while the bytes were uploading.
    Frozen,
}

const SELECT: &str = "SELECT a.id, a.lesson_id, a.role, a.filename, a.sha256, a.content_type, \
                      a.disposition, a.created_at, b.size, b.object_key \
                      FROM assets a JOIN blobs b ON b.sha256 = a.sha256";

impl Db {
    /// Records `new` as an asset of its lesson, deduplicating its bytes by SHA-256.
    pub async fn record_asset(&self, new: &NewAsset<'_>) -> Result<Recorded, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let recorded = record_asset_in(&mut tx, new).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    pub async fn asset(&self, id: &str) -> Result<Option<AssetRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!("{SELECT} WHERE a.id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    pub async fn lesson_assets(&self, lesson_id: &str) -> Result<Vec<AssetRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "{SELECT} WHERE a.lesson_id = $1 ORDER BY a.id"
        )))
        .bind(lesson_id)
        .fetch_all(self.pool())
        .await
    }

    /// The assets of several lessons at once.
    pub async fn assets_of_lessons(
        &self,
        lesson_ids: &[&str],
    ) -> Result<Vec<AssetRecord>, sqlx::Error> {
        if lesson_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{SELECT} WHERE a.lesson_id IN ({}) ORDER BY a.id",
            super::placeholders(1, lesson_ids.len())
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
        for id in lesson_ids {
            q = q.bind(*id);
        }
        q.fetch_all(self.pool()).await
    }

    /// Documents and subtitles (by role) after asset `after` whose content has no extraction
    /// recorded, at most `limit`, in id order.
    pub async fn assets_without_extraction(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<AssetRecord>, sqlx::Error> {
        let sql = format!(
            "{SELECT} LEFT JOIN extractions e ON e.sha256 = a.sha256 \
             WHERE e.sha256 IS NULL AND a.id > $1 \
             AND a.role IN ('master', 'attachment', 'subtitle') ORDER BY a.id LIMIT $2"
        );
        sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await
    }

    /// Deletes asset `id` (the blob stays, since other assets may share it); `Ok(None)` when its lesson's files are frozen (see [`files_frozen`]) and
    /// `bypass_review` is not set.
    pub async fn delete_asset(
        &self,
        id: &str,
        actor: &Actor,
        bypass_review: bool,
    ) -> Result<Option<bool>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let row: Option<(String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT a.lesson_id, a.filename, l.org_id, a.sha256 FROM assets a \
             JOIN lessons l ON l.id = a.lesson_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((lesson_id, filename, org_id, sha256)) = row else {
            return Ok(Some(false));
        };
        if !bypass_review && files_frozen(&mut tx, &lesson_id).await? {
            return Ok(None);
        }
        sqlx::query("DELETE FROM assets WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // Its content's pending media steps go with it, unless another asset holds the bytes.
        Self::cancel_media_jobs_in(&mut tx, &[sha256]).await?;
        bump_lesson(&mut tx, &lesson_id).await?;
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "asset.delete",
                target_kind: "lesson",
                target_id: Some(&lesson_id),
                org_id: org_id.as_deref(),
                before: Some(serde_json::json!({ "asset": id, "filename": filename })),
                after: None,
            },
        )
        .await?;
        changes::append(&mut tx, Entity::Asset, id, &lesson_id, Op::Delete).await?;
        tx.commit().await?;
        Ok(Some(true))
    }

    /// How many blobs are stored and their total size, for the overview page.
    pub async fn blob_totals(&self) -> Result<(i64, i64), sqlx::Error> {
        sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs")
            .fetch_one(self.pool())
            .await
    }
}

/// Records an asset inside an open transaction (the resumable upload also marks itself done in
/// the same one).
pub(super) async fn record_asset_in(
    tx: &mut Tx,
    new: &NewAsset<'_>,
) -> Result<Recorded, sqlx::Error> {
    let owner: Option<(Option<String>,)> =
        sqlx::query_as("SELECT org_id FROM lessons WHERE id = $1")
            .bind(new.lesson_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((org_id,)) = owner else {
        return Ok(Recorded::LessonGone);
    };
    if !new.bypass_review && files_frozen(tx, new.lesson_id).await? {
        return Ok(Recorded::Frozen);
    }
    let now = now_ms();
    sqlx::query(
        "INSERT INTO blobs (sha256, object_key, size, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(new.sha256)
    .bind(new.object_key)
    .bind(new.size)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let stored_key: String = sqlx::query_scalar("SELECT object_key FROM blobs WHERE sha256 = $1")
        .bind(new.sha256)
        .fetch_one(&mut **tx)
        .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO assets (id, lesson_id, role, filename, sha256, content_type, disposition, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(new.lesson_id)
    .bind(new.role)
    .bind(new.filename)
    .bind(new.sha256)
    .bind(new.content_type)
    .bind(new.disposition.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if let Some(subtitle) = &new.subtitle {
        super::subtitles::record_editor_subtitle_in(tx, new.lesson_id, &id, new.sha256, subtitle)
            .await?;
    }
    bump_lesson(tx, new.lesson_id).await?;
    if new.role == "master" {
        // A new master supersedes the lesson's earlier ones (see `db::media::CURRENT_ASSET`):
        // their contents' pending media steps are cancelled unless still used elsewhere.
        let earlier: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT sha256 FROM assets WHERE lesson_id = $1 AND role = 'master' \
             AND id <> $2 AND sha256 <> $3",
        )
        .bind(new.lesson_id)
        .bind(&id)
        .bind(new.sha256)
        .fetch_all(&mut **tx)
        .await?;
        Db::cancel_media_jobs_in(tx, &earlier).await?;
    }
    Db::audit_in(
        tx,
        new.actor,
        Event {
            action: "asset.create",
            target_kind: "lesson",
            target_id: Some(new.lesson_id),
            org_id: org_id.as_deref(),
            before: None,
            after: Some(serde_json::json!({
                "asset": id, "role": new.role, "filename": new.filename,
                "sha256": new.sha256, "size": new.size,
            })),
        },
    )
    .await?;
    changes::append(tx, Entity::Asset, &id, new.lesson_id, Op::Create).await?;
    let asset = Box::new(
        sqlx::query_as(AssertSqlSafe(format!("{SELECT} WHERE a.id = $1")))
            .bind(&id)
            .fetch_one(&mut **tx)
            .await?,
    );
    let duplicate_object = (stored_key != new.object_key).then(|| new.object_key.to_owned());
    Ok(Recorded::Asset {
        asset,
        duplicate_object,
    })
}

/// Whether lesson `id`'s files may not change (for anyone but operators): it is live, or its
/// working revision is submitted or approved — files are reviewed with the fields, so they must
/// not change under the reviewers or after them.
pub(super) async fn files_frozen(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM lessons WHERE id = $1 AND status = 'published') + \
         (SELECT COUNT(*) FROM lesson_revisions WHERE lesson_id = $1 \
          AND state IN ('submitted', 'approved'))",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// A lesson's version and update time move with its assets, so `ETag`s of the lesson change.
async fn bump_lesson(tx: &mut Tx, lesson_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE lessons SET version = version + 1, updated_at = $2 WHERE id = $1")
        .bind(lesson_id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Db {
    /// See [`files_frozen`].
    pub async fn files_frozen(&self, lesson_id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        files_frozen(&mut tx, lesson_id).await
    }
}

impl Db {
    /// The lesson whose master file has SHA-256 `sha256`, if any (the oldest): what a bulk import
    /// already brought in.
    pub async fn lesson_with_master(&self, sha256: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT lesson_id FROM assets WHERE sha256 = $1 AND role = 'master' \
             ORDER BY created_at LIMIT 1",
        )
        .bind(sha256)
        .fetch_optional(self.pool())
        .await
    }

    /// A draft lesson titled `title`, owned by `org_id`, that has no file at all: what an import
    /// interrupted between creating a lesson and storing its file leaves behind.
    pub async fn empty_draft(
        &self,
        title: &str,
        org_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT l.id FROM lessons l WHERE l.title = $1 AND l.org_id = $2 \
             AND l.status = 'draft' \
             AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.lesson_id = l.id) \
             ORDER BY l.created_at LIMIT 1",
        )
        .bind(title)
        .bind(org_id)
        .fetch_optional(self.pool())
        .await
    }
}
