//! The change log: an ordered, gapless record of every change to lessons and assets.
//!
//! Positions come from bumping the single row of `change_head` inside the writing transaction.
//! That row's lock is held until commit, so a second writer gets the next position only after the
//! first has committed (or rolled back, returning its position). Hence positions commit in order
//! and without gaps, and a reader that asks for `seq > cursor` can never see position n+1 while n
//! is still invisible: the classic sequence-gap problem of PostgreSQL `BIGSERIAL` cannot arise.
//! The cost is that appends are serialised; [`append`] is therefore the last statement of every
//! writing transaction, so the lock is held only for the commit itself.

use super::{Db, Tx, now_ms};
use serde::Serialize;

/// What kind of thing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Lesson,
    Asset,
    /// What a platform receives changed without a lesson changing (its filters, its place in
    /// the tree): its feed re-evaluates everything. `lesson_id` is "".
    Platform,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lesson => "lesson",
            Self::Asset => "asset",
            Self::Platform => "platform",
        }
    }

    /// The entity a stored value names; anything else is an error, never a default.
    pub fn parse(s: &str) -> Result<Self, crate::domain::Invalid> {
        match s {
            "lesson" => Ok(Self::Lesson),
            "asset" => Ok(Self::Asset),
            "platform" => Ok(Self::Platform),
            _ => Err(crate::domain::Invalid::new(
                "entity",
                "must be lesson, asset or platform",
            )),
        }
    }
}

/// What happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    Publish,
    Withdraw,
    Delete,
}

impl Op {
    /// The operation a stored value names; anything else is an error, never a default.
    pub fn parse(s: &str) -> Result<Self, crate::domain::Invalid> {
        match s {
            "create" => Ok(Self::Create),
            "update" => Ok(Self::Update),
            "publish" => Ok(Self::Publish),
            "withdraw" => Ok(Self::Withdraw),
            "delete" => Ok(Self::Delete),
            _ => Err(crate::domain::Invalid::new(
                "op",
                "must be create, update, publish, withdraw or delete",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Publish => "publish",
            Self::Withdraw => "withdraw",
            Self::Delete => "delete",
        }
    }
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Change {
    pub seq: i64,
    pub entity: Entity,
    pub entity_id: String,
    pub lesson_id: String,
    pub op: Op,
    pub at: i64,
}

/// Appends an entry; call it as the last statement before `tx.commit()`.
pub async fn append(
    tx: &mut Tx,
    entity: Entity,
    entity_id: &str,
    lesson_id: &str,
    op: Op,
) -> Result<i64, sqlx::Error> {
    let seq: i64 =
        sqlx::query_scalar("UPDATE change_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
            .fetch_one(&mut **tx)
            .await?;
    sqlx::query(
        "INSERT INTO changes (seq, entity, entity_id, lesson_id, op, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(seq)
    .bind(entity.as_str())
    .bind(entity_id)
    .bind(lesson_id)
    .bind(op.as_str())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

impl Db {
    /// The last position of each of these lessons in the change log (a lesson with none is
    /// absent).
    pub async fn last_positions(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, i64>, sqlx::Error> {
        let mut last = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT lesson_id, MAX(seq) FROM changes WHERE lesson_id IN ({}) GROUP BY lesson_id",
                super::placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql.as_str()));
            for id in chunk {
                q = q.bind(*id);
            }
            last.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(last)
    }

    /// Up to `limit` entries after position `after`, in order.
    pub async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<Change>, sqlx::Error> {
        sqlx::query_as(
            "SELECT seq, entity, entity_id, lesson_id, op, at FROM changes \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}

impl Db {
    /// Positions up to this one have been pruned; a reader behind it must start over from a
    /// snapshot.
    pub async fn pruned_through(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT pruned_through FROM change_head WHERE id = 1")
            .fetch_one(self.pool())
            .await
    }

    /// Deletes the entries up to position `through` (at most the head) and records that, so
    /// cursors behind it are refused rather than silently skipping. Returns how many went.
    pub async fn prune_changes(&self, through: i64) -> Result<u64, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        // Taking the head's row lock orders this after every append in flight.
        let (head, pruned): (i64, i64) = sqlx::query_as(
            "UPDATE change_head SET seq = seq WHERE id = 1 RETURNING seq, pruned_through",
        )
        .fetch_one(&mut *tx)
        .await?;
        let through = through.min(head);
        if through <= pruned {
            return Ok(0);
        }
        let n = sqlx::query("DELETE FROM changes WHERE seq <= $1")
            .bind(through)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE change_head SET pruned_through = $1 WHERE id = 1")
            .bind(through)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The last position whose entry was written before `at_ms` (0 when none).
    pub async fn change_position_before(&self, at_ms: i64) -> Result<i64, sqlx::Error> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes WHERE at < $1")
            .bind(at_ms)
            .fetch_one(self.pool())
            .await?;
        Ok(seq.unwrap_or(0))
    }

    /// The last position handed out in the change log.
    pub async fn change_head(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT seq FROM change_head WHERE id = 1")
            .fetch_one(self.pool())
            .await
    }
}
