//! Where each account stopped in each lesson (`playback_positions`): written by the library's
//! player, read for "continue watching" and to resume a lesson.

use super::{Db, now_ms};

/// Where one account stopped in one lesson.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PositionRecord {
    pub lesson_id: String,
    pub position_ms: i64,
    /// The lesson's length as the player knew it.
    pub duration_ms: Option<i64>,
    pub updated_at: i64,
}

impl Db {
    /// Records that `user_id` is at `position_ms` of `lesson_id` (replacing what was there).
    pub async fn record_position(
        &self,
        user_id: &str,
        lesson_id: &str,
        position_ms: i64,
        duration_ms: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO playback_positions (user_id, lesson_id, position_ms, duration_ms, \
             updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, lesson_id) DO UPDATE \
             SET position_ms = excluded.position_ms, \
             duration_ms = COALESCE(excluded.duration_ms, playback_positions.duration_ms), \
             updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(lesson_id)
        .bind(position_ms)
        .bind(duration_ms)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Where `user_id` stopped in `lesson_id`, if anywhere.
    pub async fn position(
        &self,
        user_id: &str,
        lesson_id: &str,
    ) -> Result<Option<PositionRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT lesson_id, position_ms, duration_ms, updated_at FROM playback_positions \
             WHERE user_id = $1 AND lesson_id = $2",
        )
        .bind(user_id)
        .bind(lesson_id)
        .fetch_optional(self.pool())
        .await
    }

    /// The lessons `user_id` played most recently, newest first, at most `limit`.
    pub async fn recent_positions(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<PositionRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT lesson_id, position_ms, duration_ms, updated_at FROM playback_positions \
             WHERE user_id = $1 ORDER BY updated_at DESC, lesson_id LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}
