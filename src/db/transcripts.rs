//! Machine transcripts (`crate::media::transcript`): a `transcript_zh` rendition of a master, whose
//! WebVTT object is a content like any other, with its cues kept as that content's text
//! (`extractions`, `text_segments`, keyed by the WebVTT file's SHA-256) for search.
//!
//! Invariants:
//! - The rendition, its cues and a change-log entry for every asset holding the master are
//!   recorded in one transaction: the search index learns of the transcript exactly when it
//!   can read it.
//! - A lesson with an editor's subtitle (an asset of role `subtitle`) wants no machine
//!   transcript; the index leaves a machine transcript out for it (`search::source`).

use super::Db;
use super::media::NewRendition;
use super::placeholders;
use super::texts::NewSegment;
use crate::domain::media::RenditionKind;

impl Db {
    /// Whether content `sha256` is the master of a lesson that has no editor's subtitle.
    pub async fn wants_transcript(&self, sha256: &str) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM assets a WHERE a.sha256 = $1 AND a.role = 'master' \
             AND NOT EXISTS (SELECT 1 FROM assets s WHERE s.lesson_id = a.lesson_id \
             AND s.role = 'subtitle')",
        )
        .bind(sha256)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// Records a machine transcript: the rendition, its cues as the text of the WebVTT content
    /// (once per content: the same file made twice keeps the first cues), and an `asset`
    /// update in the change log for every asset holding the master, in one transaction.
    pub async fn record_transcript(
        &self,
        rendition: &NewRendition,
        cues: &[NewSegment],
    ) -> Result<(), sqlx::Error> {
        let Ok(made) = &rendition.made else {
            return self
                .record_renditions(std::slice::from_ref(rendition))
                .await;
        };
        let mut tx = self.begin_write().await?;
        Self::put_rendition(&mut tx, rendition).await?;
        let inserted = sqlx::query(
            "INSERT INTO extractions (sha256, format, status, error, segments, extracted_at) \
             VALUES ($1, 'vtt', 'ok', NULL, $2, $3) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&made.sha256)
        .bind(cues.len() as i64)
        .bind(super::now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            for (seq, c) in cues.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO text_segments (sha256, seq, page, start_ms, end_ms, text) \
                     VALUES ($1, $2, NULL, $3, $4, $5)",
                )
                .bind(&made.sha256)
                .bind(seq as i64)
                .bind(c.start_ms)
                .bind(c.end_ms)
                .bind(&c.text)
                .execute(&mut *tx)
                .await?;
            }
        }
        let holders: Vec<(String, String)> =
            sqlx::query_as("SELECT id, lesson_id FROM assets WHERE sha256 = $1 ORDER BY id")
                .bind(&rendition.source_sha256)
                .fetch_all(&mut *tx)
                .await?;
        for (asset_id, lesson_id) in holders {
            super::changes::append(
                &mut tx,
                super::changes::Entity::Asset,
                &asset_id,
                &lesson_id,
                super::changes::Op::Update,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The ready machine transcripts of the contents `sha256s`: (the content's SHA-256, the
    /// WebVTT file's SHA-256, whose segments are the cues).
    pub async fn transcripts_of(
        &self,
        sha256s: &[&str],
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        let mut found = Vec::new();
        for chunk in sha256s.chunks(500) {
            let sql = format!(
                "SELECT source_sha256, sha256 FROM media_renditions WHERE kind = $1 \
                 AND state = 'ready' AND sha256 IS NOT NULL AND source_sha256 IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
                .bind(RenditionKind::TranscriptZh.as_str());
            for s in chunk {
                q = q.bind(*s);
            }
            found.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(found)
    }

    /// Which of the assets `ids` are masters (whose cues are machine transcripts).
    pub async fn master_assets_among(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT id FROM assets WHERE role = 'master' AND id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            found.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(found)
    }
}
