//! Operator API tokens, stored only as their hash (see `domain::token`). Personal tokens share
//! the table (with a user) and live in `users`.

use super::{Db, Tx, new_id, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Db {
    /// A new operator token (no account), inside the caller's transaction so that its audit
    /// entry commits with it.
    pub async fn create_token_in(
        tx: &mut Tx,
        name: &str,
        token_hash: &str,
    ) -> Result<TokenRecord, sqlx::Error> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(&mut **tx)
        .await
    }

    /// A new operator token in a transaction of its own (tests and benchmarks set up with it).
    pub async fn create_token(
        &self,
        name: &str,
        token_hash: &str,
    ) -> Result<TokenRecord, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let record = Self::create_token_in(&mut tx, name, token_hash).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens \
             WHERE user_id IS NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await
    }

    /// Revokes a live operator token inside the caller's transaction; false when there is none
    /// by that id.
    pub async fn revoke_token_in(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
             AND user_id IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
