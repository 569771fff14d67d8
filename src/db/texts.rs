//! Text extracted from documents and subtitles for search (`extractions`, `text_segments`):
//! keyed by the content's SHA-256, since blobs are immutable and shared between assets.

use super::{Db, now_ms, placeholders};
use sqlx::AssertSqlSafe;

/// One extracted segment: a document page (or chunk) or a subtitle cue.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SegmentRow {
    pub sha256: String,
    pub seq: i64,
    pub page: Option<i64>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub text: String,
}

/// What to store for one content.
#[derive(Debug, Clone)]
pub struct NewSegment {
    pub page: Option<i64>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub text: String,
}

impl From<&crate::domain::subtitle::Cue> for NewSegment {
    /// A timed cue (a subtitle's or a machine transcript's) as a segment of its content's text.
    fn from(c: &crate::domain::subtitle::Cue) -> Self {
        Self {
            page: None,
            start_ms: Some(c.start_ms),
            end_ms: Some(c.end_ms),
            text: c.text.clone(),
        }
    }
}

/// The outcome of extracting one content, as editors are shown it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExtractionRow {
    pub sha256: String,
    pub status: crate::domain::asset::ExtractionStatus,
    /// Why it failed; for an `ok` one, what was left out of the text, if anything.
    pub error: Option<String>,
    pub segments: i64,
}

impl Db {
    /// The recorded extractions of `sha256s` (contents not extracted yet have none).
    pub async fn extractions_of(
        &self,
        sha256s: &[&str],
    ) -> Result<Vec<ExtractionRow>, sqlx::Error> {
        let mut found = Vec::new();
        for chunk in sha256s.chunks(500) {
            let sql = format!(
                "SELECT sha256, status, error, segments FROM extractions WHERE sha256 IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, ExtractionRow>(AssertSqlSafe(sql.as_str()));
            for s in chunk {
                q = q.bind(*s);
            }
            found.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(found)
    }

    /// Which of `sha256s` have been extracted (successfully or not).
    pub async fn extracted(&self, sha256s: &[&str]) -> Result<Vec<String>, sqlx::Error> {
        let mut found = Vec::new();
        for chunk in sha256s.chunks(500) {
            let sql = format!(
                "SELECT sha256 FROM extractions WHERE sha256 IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.as_str()));
            for s in chunk {
                q = q.bind(*s);
            }
            found.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(found)
    }

    /// Records the outcome of extracting `sha256`: its segments (with a note of what was left
    /// out, stored as the `error` of an `ok` extraction), or why it failed. A content
    /// already recorded (by another instance, say) is left as it is. Otherwise, in the same
    /// transaction, every asset holding the content gets a change-log entry (`asset` updated:
    /// its text changed), so the search follower indexes its lesson again with the text.
    /// Returns whether it was recorded now.
    pub async fn record_extraction(
        &self,
        sha256: &str,
        format: &str,
        outcome: Result<(&[NewSegment], Option<&str>), &str>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let (status, error, count) = match outcome {
            Ok((segments, left_out)) => ("ok", left_out, segments.len() as i64),
            Err(e) => ("failed", Some(e), 0),
        };
        let inserted = sqlx::query(
            "INSERT INTO extractions (sha256, format, status, error, segments, extracted_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(format)
        .bind(status)
        .bind(error)
        .bind(count)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            let segments = outcome.map(|(s, _)| s).unwrap_or_default();
            // Six columns per row, well under both backends' limit on bound parameters.
            for (n, chunk) in segments.chunks(200).enumerate() {
                let mut sql = String::from(
                    "INSERT INTO text_segments (sha256, seq, page, start_ms, end_ms, text) VALUES ",
                );
                for i in 0..chunk.len() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    let b = i * 6;
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    ));
                }
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for (i, s) in chunk.iter().enumerate() {
                    q = q
                        .bind(sha256)
                        .bind((n * 200 + i) as i64)
                        .bind(s.page)
                        .bind(s.start_ms)
                        .bind(s.end_ms)
                        .bind(&s.text);
                }
                q.execute(&mut *tx).await?;
            }
            let holders: Vec<(String, String)> =
                sqlx::query_as("SELECT id, lesson_id FROM assets WHERE sha256 = $1 ORDER BY id")
                    .bind(sha256)
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
        }
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// The segments of the given contents, in order.
    pub async fn segments_of(&self, sha256s: &[&str]) -> Result<Vec<SegmentRow>, sqlx::Error> {
        let mut rows = Vec::new();
        for chunk in sha256s.chunks(500) {
            let sql = format!(
                "SELECT sha256, seq, page, start_ms, end_ms, text FROM text_segments \
                 WHERE sha256 IN ({}) ORDER BY sha256, seq",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, SegmentRow>(AssertSqlSafe(sql.as_str()));
            for s in chunk {
                q = q.bind(*s);
            }
            rows.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(rows)
    }
}
