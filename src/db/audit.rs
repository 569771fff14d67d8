//! The audit log: append-only (the schema refuses UPDATE and DELETE on it).

use super::{Db, Tx, new_id, now_ms};
use serde::Serialize;
use sqlx::AssertSqlSafe;

/// Who acted, as the audit log records it.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub label: String,
    pub address: Option<String>,
}

impl Actor {
    /// The command line acting on the local database.
    pub fn cli() -> Self {
        Self {
            user_id: None,
            label: "cli".into(),
            address: None,
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<&'a str>,
    /// The organisation whose administrators may read this entry.
    pub org_id: Option<&'a str>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor: String,
    pub org_id: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
}

impl Db {
    /// Records `event` inside `tx`, so it commits with the change it describes.
    pub async fn audit_in(tx: &mut Tx, actor: &Actor, event: Event<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor_id, actor, org_id, address, action, target_kind, \
             target_id, before_state, after_state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(new_id())
        .bind(now_ms())
        .bind(actor.user_id.as_deref())
        .bind(&actor.label)
        .bind(event.org_id)
        .bind(actor.address.as_deref())
        .bind(event.action)
        .bind(event.target_kind)
        .bind(event.target_id)
        .bind(event.before.map(|v| v.to_string()))
        .bind(event.after.map(|v| v.to_string()))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records `event` on its own (for things that change nothing else, such as a failed login).
    pub async fn audit(&self, actor: &Actor, event: Event<'_>) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        Self::audit_in(&mut tx, actor, event).await?;
        tx.commit().await
    }

    /// Entries newest first, before `before_id` if given, limited to entries of organisations in
    /// the subtrees at `paths` (all entries for `None`; entries without an organisation are seen
    /// only then).
    pub async fn audit_entries(
        &self,
        paths: Option<&[String]>,
        action: Option<&str>,
        before_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, sqlx::Error> {
        let mut sql = String::from(
            "SELECT a.id, a.at, a.actor_id, a.actor, a.org_id, a.address, a.action, \
             a.target_kind, a.target_id, a.before_state, a.after_state FROM audit_log a \
             LEFT JOIN orgs o ON o.id = a.org_id WHERE 1 = 1",
        );
        let mut binds: Vec<String> = Vec::new();
        if let Some(paths) = paths {
            if paths.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND {}",
                super::within_subtrees("o.path", binds.len() + 1, paths.len())
            ));
            binds.extend(super::subtree_patterns(paths));
        }
        if let Some(a) = action {
            binds.push(a.to_owned());
            sql.push_str(&format!(" AND a.action = ${}", binds.len()));
        }
        if let Some(b) = before_id {
            binds.push(b.to_owned());
            sql.push_str(&format!(" AND a.id < ${}", binds.len()));
        }
        sql.push_str(&format!(" ORDER BY a.id DESC LIMIT ${}", binds.len() + 1));
        let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
        for b in &binds {
            q = q.bind(b);
        }
        q.bind(limit).fetch_all(self.pool()).await
    }
}
