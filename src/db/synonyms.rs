//! The installation's synonym groups (`synonym_groups`), read by searches and replaced whole.

use super::Db;
use super::audit::{Actor, Event};

impl Db {
    /// Every synonym group, in the administrators' order, each its terms as written.
    pub async fn synonym_groups(&self) -> Result<Vec<Vec<String>>, sqlx::Error> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT terms FROM synonym_groups ORDER BY position")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(t,)| t.lines().map(str::to_owned).collect())
            .collect())
    }

    /// Replaces every synonym group by `groups` (terms without line breaks), with the audit
    /// entry `event`, in one transaction.
    pub async fn replace_synonym_groups(
        &self,
        groups: &[Vec<String>],
        actor: &Actor,
        event: Event<'_>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM synonym_groups")
            .execute(&mut *tx)
            .await?;
        for (i, g) in groups.iter().enumerate() {
            sqlx::query("INSERT INTO synonym_groups (position, terms) VALUES ($1, $2)")
                .bind(i as i64)
                .bind(g.join("\n"))
                .execute(&mut *tx)
                .await?;
        }
        Self::audit_in(&mut tx, actor, event).await?;
        tx.commit().await
    }
}
