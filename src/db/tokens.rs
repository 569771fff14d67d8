//! Operator API tokens, stored only as their hash (see `domain::token`). Personal tokens share
//! the table (with a user) and live in `users`.

use super::{Db, new_id, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Db {
    pub async fn create_token(
        &self,
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
        .execute(self.pool())
        .await?;
        sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(self.pool())
        .await
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens \
             WHERE user_id IS NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await
    }

    pub async fn revoke_token(&self, id: &str) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
             AND user_id IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
