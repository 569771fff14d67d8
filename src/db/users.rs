//! Accounts, their role grants, web sessions, failed logins and personal API tokens.

use super::{Db, Tx, new_id, now_ms};
use crate::domain::visibility::{Grant, Role};
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub login: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: i64,
    pub password_changed_at: i64,
    pub disabled_at: Option<i64>,
}

/// A grant as listed, with the organisation's name.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct GrantRecord {
    pub user_id: String,
    pub role: crate::domain::visibility::Role,
    pub org_id: String,
    pub org_name: String,
    #[serde(skip)]
    pub org_path: String,
}

/// A live web session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub user_id: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// A personal API token as listed (never its value).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct PersonalTokenRecord {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What a bearer token stands for.
#[derive(Debug, Clone)]
pub enum TokenOwner {
    Operator { token_id: String },
    User { token_id: String, user_id: String },
}

const USER_COLUMNS: &str =
    "id, login, display_name, password_hash, created_at, password_changed_at, disabled_at";

impl Db {
    /// Renames an account (the caller has checked the name and the right to change it).
    pub async fn set_display_name_in(
        tx: &mut Tx,
        id: &str,
        display_name: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET display_name = $2 WHERE id = $1")
            .bind(id)
            .bind(display_name)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn create_user_in(
        tx: &mut Tx,
        login: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<UserRecord, sqlx::Error> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO users (id, login, display_name, password_hash, created_at, \
             password_changed_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(login)
        .bind(display_name)
        .bind(password_hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(&id)
        .fetch_one(&mut **tx)
        .await
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE login = $1"
        )))
        .bind(login)
        .fetch_optional(self.pool())
        .await
    }

    /// Accounts holding a grant inside the subtrees at `paths` (every account for `None`).
    pub async fn users_within(
        &self,
        paths: Option<&[String]>,
    ) -> Result<Vec<UserRecord>, sqlx::Error> {
        let mut sql = format!("SELECT {USER_COLUMNS} FROM users u");
        if let Some(paths) = paths {
            if paths.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " WHERE EXISTS (SELECT 1 FROM role_grants g JOIN orgs o ON o.id = g.org_id \
                 WHERE g.user_id = u.id AND {})",
                super::within_subtrees("o.path", 1, paths.len())
            ));
        }
        sql.push_str(" ORDER BY login");
        let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
        for p in super::subtree_patterns(paths.unwrap_or_default()) {
            q = q.bind(p);
        }
        q.fetch_all(self.pool()).await
    }

    pub async fn grants_of(&self, user_id: &str) -> Result<Vec<GrantRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT g.user_id, g.role, g.org_id, o.name AS org_name, o.path AS org_path \
             FROM role_grants g JOIN orgs o ON o.id = g.org_id WHERE g.user_id = $1 \
             ORDER BY o.path, g.role",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// The grants of `user_id` in the form the visibility rules take.
    pub async fn grants_for_access(&self, user_id: &str) -> Result<Vec<Grant>, sqlx::Error> {
        Ok(self
            .grants_of(user_id)
            .await?
            .into_iter()
            .map(|g| Grant {
                role: g.role,
                org_id: g.org_id,
                org_path: g.org_path,
            })
            .collect())
    }

    /// Adds a grant; `false` when the user already held it.
    pub async fn grant_in(
        tx: &mut Tx,
        user_id: &str,
        role: Role,
        org_id: &str,
        granted_by: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM role_grants WHERE user_id = $1 AND role = $2 AND org_id = $3",
        )
        .bind(user_id)
        .bind(role.as_str())
        .bind(org_id)
        .fetch_optional(&mut **tx)
        .await?;
        if exists.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO role_grants (user_id, role, org_id, granted_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(role.as_str())
        .bind(org_id)
        .bind(granted_by)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(true)
    }

    /// Removes a grant; `false` when there was none.
    pub async fn revoke_grant_in(
        tx: &mut Tx,
        user_id: &str,
        role: Role,
        org_id: &str,
    ) -> Result<bool, sqlx::Error> {
        let n =
            sqlx::query("DELETE FROM role_grants WHERE user_id = $1 AND role = $2 AND org_id = $3")
                .bind(user_id)
                .bind(role.as_str())
                .bind(org_id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        Ok(n == 1)
    }

    /// Replaces the password and ends every session of the account.
    pub async fn set_password_in(
        tx: &mut Tx,
        user_id: &str,
        password_hash: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Disables (or re-enables) an account. Disabling ends its sessions and revokes its personal
    /// tokens for good: an account is disabled after a departure or a compromise, so re-enabling
    /// it must not bring back credentials that were out of its owner's hands meanwhile; its owner
    /// signs in again and makes new tokens.
    pub async fn set_disabled_in(
        tx: &mut Tx,
        user_id: &str,
        disabled: bool,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(disabled.then(now_ms))
            .execute(&mut **tx)
            .await?;
        if disabled {
            Self::end_access_in(tx, user_id).await?;
        }
        Ok(())
    }

    /// Ends every session of an account and revokes its personal tokens for good.
    async fn end_access_in(tx: &mut Tx, user_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Self::revoke_all_personal_tokens_in(tx, user_id).await
    }

    /// Removes an account's identity for good: its login and name become `login` and `name`,
    /// its password can no longer be used, its sessions, personal tokens and the login's failed
    /// sign-ins are gone. Its grants and learning records stay, under its id, for statistics.
    pub async fn anonymise_in(
        tx: &mut Tx,
        user_id: &str,
        old_login: &str,
        login: &str,
        name: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE users SET login = $2, display_name = $3, password_hash = '!', \
             password_changed_at = $4 WHERE id = $1",
        )
        .bind(user_id)
        .bind(login)
        .bind(name)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM login_failures WHERE login = $1")
            .bind(old_login)
            .execute(&mut **tx)
            .await?;
        Self::end_access_in(tx, user_id).await
    }

    // --- sessions ---

    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: &str,
        csrf_token: &str,
        address: Option<&str>,
        ttl_ms: i64,
    ) -> Result<(), sqlx::Error> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, address, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(address)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The live session with this hash, of an account that is not disabled.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT s.user_id, s.csrf_token, s.expires_at FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(id_hash)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes expired sessions and login failures older than `keep_failures_ms`.
    pub async fn sweep_sessions(&self, keep_failures_ms: i64) -> Result<(), sqlx::Error> {
        let now = now_ms();
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(now - keep_failures_ms)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // --- login throttling ---

    /// Records a failed (or not yet successful) login; returns its id.
    pub async fn record_login_failure(
        &self,
        login: &str,
        address: &str,
    ) -> Result<String, sqlx::Error> {
        let id = new_id();
        sqlx::query("INSERT INTO login_failures (id, login, address, at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(login)
            .bind(address)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(id)
    }

    /// Removes one recorded attempt.
    pub async fn forget_login_attempt(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Failed logins since `since` for this login and for this address.
    pub async fn login_failures(
        &self,
        login: &str,
        address: &str,
        since: i64,
    ) -> Result<(i64, i64), sqlx::Error> {
        let by_login: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE login = $1 AND at >= $2")
                .bind(login)
                .bind(since)
                .fetch_one(self.pool())
                .await?;
        let by_address: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM login_failures WHERE address = $1 AND at >= $2",
        )
        .bind(address)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok((by_login, by_address))
    }

    /// Forgets the failures of `login` after it signed in successfully.
    pub async fn clear_login_failures(&self, login: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE login = $1")
            .bind(login)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // --- bearer tokens (operator and personal) ---

    /// What the live, unexpired token with this hash stands for, noting that it was used.
    pub async fn token_owner(&self, token_hash: &str) -> Result<Option<TokenOwner>, sqlx::Error> {
        let now = now_ms();
        let row: Option<(String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT t.id, t.user_id, t.last_used_at FROM api_tokens t \
             LEFT JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2) \
             AND (t.user_id IS NULL OR u.disabled_at IS NULL)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some((token_id, user_id, used)) = row else {
            return Ok(None);
        };
        self.note_use(super::Credential::ApiToken, &token_id, used)
            .await?;
        Ok(Some(match user_id {
            None => TokenOwner::Operator { token_id },
            Some(user_id) => TokenOwner::User { token_id, user_id },
        }))
    }

    pub async fn create_personal_token_in(
        tx: &mut Tx,
        user_id: &str,
        name: &str,
        token_hash: &str,
        expires_at: Option<i64>,
    ) -> Result<PersonalTokenRecord, sqlx::Error> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, created_at, user_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .bind(user_id)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
        sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, expires_at, revoked_at FROM api_tokens \
             WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(&mut **tx)
        .await
    }

    pub async fn personal_tokens(
        &self,
        user_id: &str,
    ) -> Result<Vec<PersonalTokenRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, expires_at, revoked_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// Revokes every live personal token of `user_id`.
    pub async fn revoke_all_personal_tokens_in(
        tx: &mut Tx,
        user_id: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Revokes a personal token of `user_id`; `false` when there is no such live token.
    pub async fn revoke_personal_token_in(
        tx: &mut Tx,
        user_id: &str,
        token_id: &str,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 \
             AND revoked_at IS NULL",
        )
        .bind(token_id)
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
