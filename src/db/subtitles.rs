//! Subtitles of lessons: what was read from an editor's subtitle file when it was stored
//! (`subtitles`), and the machine transcript of the lesson's current master (its `transcript_zh`
//! rendition, `db::transcripts`), read as a subtitle of origin `machine` in language `zh`. See
//! `services::subtitles` for the rule that decides which subtitle a language serves.
//!
//! *Rationale:* a transcript is made once per content and kept as a rendition (its cues are the
//! text search indexes); reading it here, rather than copying it into `subtitles`, means a new
//! master, a reprocess or a deleted lesson can never leave a stale machine subtitle behind.

use super::{Db, Tx, new_id, now_ms};

/// A subtitle as stored, with where its bytes are.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubtitleRecord {
    pub id: String,
    pub lesson_id: String,
    /// The editor's asset; `None` for a machine transcript.
    pub asset_id: Option<String>,
    pub language: String,
    /// `editor` or `machine` (`domain::subtitle::Origin`).
    pub origin: String,
    /// `srt`, `vtt` or `ass` (`domain::subtitle::SubtitleFormat`).
    pub format: String,
    pub encoding: String,
    pub sha256: String,
    pub cues: i64,
    pub created_at: i64,
    /// The object holding the bytes.
    pub object_key: String,
}

/// What an editor's subtitle file was found to hold, recorded with its asset.
#[derive(Debug, Clone)]
pub struct NewSubtitle<'a> {
    pub language: &'a str,
    pub format: &'a str,
    pub encoding: &'a str,
    pub cues: i64,
}

const SELECT: &str = "SELECT s.id, s.lesson_id, s.asset_id, s.language, s.origin, s.format, \
                      s.encoding, s.sha256, s.cues, s.created_at, b.object_key \
                      FROM subtitles s JOIN blobs b ON b.sha256 = s.sha256";

/// Records an editor's subtitle of asset `asset_id` inside the transaction that records the
/// asset, so the asset never exists without it.
pub(super) async fn record_editor_subtitle_in(
    tx: &mut Tx,
    lesson_id: &str,
    asset_id: &str,
    sha256: &str,
    new: &NewSubtitle<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subtitles (id, lesson_id, asset_id, language, origin, format, encoding, \
         sha256, cues, created_at) VALUES ($1, $2, $3, $4, 'editor', $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(lesson_id)
    .bind(asset_id)
    .bind(new.language)
    .bind(new.format)
    .bind(new.encoding)
    .bind(sha256)
    .bind(new.cues)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// Every subtitle of lesson `lesson_id`: by language, then editors' before machine
    /// transcripts, newest first — so the first row of a language is the one it serves.
    pub async fn lesson_subtitles(
        &self,
        lesson_id: &str,
    ) -> Result<Vec<SubtitleRecord>, sqlx::Error> {
        let current = super::media::CURRENT_ASSET;
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM ({SELECT} WHERE s.lesson_id = $1 \
             UNION ALL \
             SELECT r.id, a.lesson_id, NULL AS asset_id, 'zh' AS language, 'machine' AS origin, \
             'vtt' AS format, 'UTF-8' AS encoding, r.sha256, COALESCE(e.segments, 0) AS cues, \
             r.created_at, r.object_key \
             FROM media_renditions r JOIN assets a ON a.sha256 = r.source_sha256 \
             LEFT JOIN extractions e ON e.sha256 = r.sha256 \
             WHERE a.lesson_id = $1 AND a.role = 'master' AND {current} AND r.kind = $2 \
             AND r.state = 'ready' AND r.sha256 IS NOT NULL AND r.object_key IS NOT NULL) u \
             ORDER BY u.language, CASE u.origin WHEN 'editor' THEN 0 ELSE 1 END, \
             u.created_at DESC, u.id DESC"
        )))
        .bind(lesson_id)
        .bind(crate::domain::media::RenditionKind::TranscriptZh.as_str())
        .fetch_all(self.pool())
        .await
    }

    /// The subtitle of asset `asset_id`, if it is an imported subtitle.
    pub async fn asset_subtitle(
        &self,
        asset_id: &str,
    ) -> Result<Option<SubtitleRecord>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.asset_id = $1"
        )))
        .bind(asset_id)
        .fetch_optional(self.pool())
        .await
    }
}
