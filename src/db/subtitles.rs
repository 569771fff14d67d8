//! Subtitles of lessons (`subtitles`): what was read from an editor's subtitle file when it was
//! stored, and machine transcripts. See `migrations/*/0010_subtitles.sql` for the rule that
//! decides which subtitle a language serves.

use super::changes::{self, Entity, Op};
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

/// A machine transcript's normalized WebVTT, freshly written to `object_key`.
#[derive(Debug, Clone)]
pub struct NewMachineSubtitle<'a> {
    pub lesson_id: &'a str,
    pub language: &'a str,
    pub sha256: &'a str,
    pub size: i64,
    pub object_key: &'a str,
    pub cues: i64,
}

/// The outcome of recording a machine transcript.
#[derive(Debug)]
pub enum MachineRecorded {
    /// Recorded; `duplicate_object`, when set, names the freshly written object whose bytes
    /// were already stored under another key: the caller deletes it.
    Subtitle {
        subtitle: Box<SubtitleRecord>,
        duplicate_object: Option<String>,
    },
    /// The lesson is gone.
    LessonGone,
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
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.lesson_id = $1 \
             ORDER BY s.language, CASE s.origin WHEN 'editor' THEN 0 ELSE 1 END, \
             s.created_at DESC, s.id DESC"
        )))
        .bind(lesson_id)
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

    /// Records a machine transcript of lesson `lesson_id` in `language`, replacing the machine
    /// transcript of that language it had (an editor's subtitle is never touched), with a
    /// change-log entry for the lesson (what it offers changed) in the same transaction.
    pub async fn record_machine_subtitle(
        &self,
        new: &NewMachineSubtitle<'_>,
    ) -> Result<MachineRecorded, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM lessons WHERE id = $1")
            .bind(new.lesson_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(MachineRecorded::LessonGone);
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
        .execute(&mut *tx)
        .await?;
        let stored_key: String =
            sqlx::query_scalar("SELECT object_key FROM blobs WHERE sha256 = $1")
                .bind(new.sha256)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "DELETE FROM subtitles WHERE lesson_id = $1 AND language = $2 AND origin = 'machine'",
        )
        .bind(new.lesson_id)
        .bind(new.language)
        .execute(&mut *tx)
        .await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO subtitles (id, lesson_id, asset_id, language, origin, format, encoding, \
             sha256, cues, created_at) \
             VALUES ($1, $2, NULL, $3, 'machine', 'vtt', 'UTF-8', $4, $5, $6)",
        )
        .bind(&id)
        .bind(new.lesson_id)
        .bind(new.language)
        .bind(new.sha256)
        .bind(new.cues)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        changes::append(
            &mut tx,
            Entity::Lesson,
            new.lesson_id,
            new.lesson_id,
            Op::Update,
        )
        .await?;
        let subtitle = Box::new(
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")))
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?,
        );
        tx.commit().await?;
        let duplicate_object = (stored_key != new.object_key).then(|| new.object_key.to_owned());
        Ok(MachineRecorded::Subtitle {
            subtitle,
            duplicate_object,
        })
    }
}
