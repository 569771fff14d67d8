//! Completion rules (`completion_rules`): a series every member of an organisation's subtree must
//! complete; and how many of a series' lessons members have completed.

use super::{Db, Tx};

/// A rule, with its organisation's path and name.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RuleRecord {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub org_path: String,
    pub series: String,
    pub created_at: i64,
}

const SELECT: &str = "SELECT r.id, r.org_id, o.name AS org_name, o.path AS org_path, r.series, \
                      r.created_at FROM completion_rules r JOIN orgs o ON o.id = r.org_id";

impl Db {
    /// Adds a rule; `None` when the organisation already has one for the series.
    pub async fn create_rule_in(
        tx: &mut Tx,
        org_id: &str,
        series: &str,
        by: Option<&str>,
    ) -> Result<Option<RuleRecord>, sqlx::Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let done = sqlx::query(
            "INSERT INTO completion_rules (id, org_id, series, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, series) DO NOTHING",
        )
        .bind(&id)
        .bind(org_id)
        .bind(series)
        .bind(by)
        .bind(super::now_ms())
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.id = $1")))
            .bind(&id)
            .fetch_optional(&mut **tx)
            .await
    }

    /// Removes rule `id` of organisation `org_id`; whether there was one.
    pub async fn delete_rule_in(tx: &mut Tx, org_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM completion_rules WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .execute(&mut **tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every rule, with its organisation (rules are few: one per required series and
    /// organisation).
    pub async fn all_rules(&self) -> Result<Vec<RuleRecord>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT} ORDER BY o.path, r.series"
        )))
        .fetch_all(self.pool())
        .await
    }

    /// The published lessons of `series`.
    pub async fn published_series_lessons(&self, series: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM lessons WHERE series = $1 AND published_at IS NOT NULL \
             AND status = 'published' ORDER BY id",
        )
        .bind(series)
        .fetch_all(self.pool())
        .await
    }

    /// How many of `lessons` account `user_id` has completed, on any channel.
    pub async fn completed_among(
        &self,
        user_id: &str,
        lessons: &[String],
    ) -> Result<i64, sqlx::Error> {
        if lessons.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "SELECT COUNT(DISTINCT lesson_id) FROM learning_progress WHERE user_id = $1 \
             AND completed_at IS NOT NULL AND lesson_id IN ({})",
            super::placeholders(2, lessons.len())
        );
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(user_id);
        for l in lessons {
            q = q.bind(l);
        }
        q.fetch_one(self.pool()).await
    }

    /// How many members are homed in the subtree at `path` now, and how many of them have
    /// completed every one of `lessons` (none when there are none).
    pub async fn members_completing_all(
        &self,
        path: &str,
        lessons: &[String],
    ) -> Result<(i64, i64), sqlx::Error> {
        let done = if lessons.is_empty() {
            "SELECT user_id FROM learning_progress WHERE 1 = 0".to_owned()
        } else {
            format!(
                "SELECT user_id FROM learning_progress WHERE completed_at IS NOT NULL \
                 AND lesson_id IN ({}) GROUP BY user_id HAVING COUNT(DISTINCT lesson_id) = $2",
                super::placeholders(3, lessons.len())
            )
        };
        let sql = format!(
            "SELECT COUNT(*), COUNT(d.user_id) FROM {} h LEFT JOIN ({done}) d \
             ON d.user_id = h.user_id WHERE h.org_path LIKE $1",
            super::reports::HOME,
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(format!("{path}%"));
        if !lessons.is_empty() {
            q = q.bind(lessons.len() as i64);
            for l in lessons {
                q = q.bind(l);
            }
        }
        q.fetch_one(self.pool()).await
    }
}
