//! Resumable uploads in progress: the whole state of a tus upload, so that any node (or the same
//! node after a restart) can continue it.
//!
//! Invariant: one request at a time writes an upload. A request takes a lease (a random token and
//! an expiry) before it touches the upload's S3 parts and commits its progress only while still
//! holding that lease and only from the offset it started at. A request that died leaves a lease
//! that simply runs out.

use super::assets::{NewAsset, Recorded, record_asset_in};
use super::{Db, now_ms};
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRecord {
    pub id: String,
    pub lesson_id: String,
    pub role: String,
    pub filename: String,
    pub length: i64,
    pub received: i64,
    pub object_key: String,
    pub multipart_id: String,
    /// JSON list of the S3 parts written so far: `[[number, etag, size], …]`.
    pub parts: String,
    pub tail_key: Option<String>,
    /// Hex of the SHA-256 state after `received` bytes (see `ingest::hash`).
    pub hash_state: String,
    pub content_type: Option<String>,
    pub disposition: Option<crate::domain::asset::Disposition>,
    pub lease_token: Option<String>,
    pub lease_until: Option<i64>,
    pub expires_at: i64,
    pub created_at: i64,
    pub asset_id: Option<String>,
    /// The language given for a subtitle (tus metadata `language`), canonical.
    pub language: Option<String>,
}

/// The progress a request made, committed as one step.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    pub received: i64,
    pub parts: &'a str,
    pub tail_key: Option<&'a str>,
    pub hash_state: &'a str,
    pub content_type: Option<&'a str>,
    pub disposition: Option<crate::domain::asset::Disposition>,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, lesson_id, role, filename, length, received, object_key, multipart_id, \
                       parts, tail_key, hash_state, content_type, disposition, lease_token, \
                       lease_until, expires_at, created_at, asset_id, language";

impl Db {
    pub async fn insert_upload(&self, u: &UploadRecord) -> Result<(), sqlx::Error> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO uploads ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        )))
        .bind(&u.id)
        .bind(&u.lesson_id)
        .bind(&u.role)
        .bind(&u.filename)
        .bind(u.length)
        .bind(u.received)
        .bind(&u.object_key)
        .bind(&u.multipart_id)
        .bind(&u.parts)
        .bind(u.tail_key.as_deref())
        .bind(&u.hash_state)
        .bind(u.content_type.as_deref())
        .bind(u.disposition.map(|d| d.as_str()))
        .bind(u.lease_token.as_deref())
        .bind(u.lease_until)
        .bind(u.expires_at)
        .bind(u.created_at)
        .bind(u.asset_id.as_deref())
        .bind(u.language.as_deref())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn upload(&self, id: &str) -> Result<Option<UploadRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM uploads WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    /// Takes (or renews, with the same token) the lease on upload `id` until `until`.
    pub async fn lease_upload(
        &self,
        id: &str,
        token: &str,
        until: i64,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE uploads SET lease_token = $2, lease_until = $3 WHERE id = $1 \
             AND (lease_token IS NULL OR lease_token = $2 OR lease_until < $4)",
        )
        .bind(id)
        .bind(token)
        .bind(until)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn release_upload(&self, id: &str, token: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE uploads SET lease_token = NULL, lease_until = NULL WHERE id = $1 AND lease_token = $2")
            .bind(id)
            .bind(token)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Commits a request's progress if it still holds the lease and started at `from`.
    pub async fn commit_upload_progress(
        &self,
        id: &str,
        token: &str,
        from: i64,
        p: &Progress<'_>,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE uploads SET received = $4, parts = $5, tail_key = $6, hash_state = $7, \
             content_type = $8, disposition = $9, expires_at = $10 \
             WHERE id = $1 AND lease_token = $2 AND received = $3",
        )
        .bind(id)
        .bind(token)
        .bind(from)
        .bind(p.received)
        .bind(p.parts)
        .bind(p.tail_key)
        .bind(p.hash_state)
        .bind(p.content_type)
        .bind(p.disposition.map(|d| d.as_str()))
        .bind(p.expires_at)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Turns a finished upload into an asset, in one transaction with marking the upload done.
    pub async fn complete_upload(
        &self,
        id: &str,
        token: &str,
        asset: &NewAsset<'_>,
    ) -> Result<Option<Recorded>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE uploads SET received = length, tail_key = NULL, lease_token = NULL, \
             lease_until = NULL WHERE id = $1 AND lease_token = $2 AND asset_id IS NULL",
        )
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Ok(None);
        }
        let recorded = record_asset_in(&mut tx, asset).await?;
        if let Recorded::Asset { asset, .. } = &recorded {
            sqlx::query("UPDATE uploads SET asset_id = $2 WHERE id = $1")
                .bind(id)
                .bind(&asset.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(Some(recorded))
    }

    pub async fn delete_upload(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Uploads whose expiry has passed and that nobody holds a live lease on.
    pub async fn expired_uploads(&self, limit: i64) -> Result<Vec<UploadRecord>, sqlx::Error> {
        let now = now_ms();
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM uploads WHERE expires_at < $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY expires_at LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}
