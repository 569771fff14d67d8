//! The summary organisation reports are read from (`report_member_quarters`,
//! `report_series_quarters`, `report_quarters`): computed per quarter from `learning_days` and
//! `learning_progress` in one transaction (the job runner's `reports` job, or the first time a
//! quarter is asked for), and read by subtree.
//!
//! Each member counts under one home organisation: the deepest of its member grants (the
//! greatest path). In `report_member_quarters`, the rows of source `''` are all channels
//! together (time summed, lessons and completions counted once per lesson).

use super::Db;

/// The home organisation of every member: `(user_id, org_path)`.
pub(super) const HOME: &str = "(SELECT g.user_id, MAX(o.path) AS org_path FROM role_grants g \
                    JOIN orgs o ON o.id = g.org_id JOIN users u ON u.id = g.user_id \
                    WHERE g.role = 'member' AND u.disabled_at IS NULL GROUP BY g.user_id)";

/// The source of the summary rows that stand for every channel.
pub const ALL_CHANNELS: &str = "";

/// One group of summary rows: an organisation (home of its members) and a channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SummaryRow {
    pub org_path: String,
    pub source: String,
    /// Members who learned anything.
    pub active: i64,
    pub time_ms: i64,
    pub completed: i64,
}

/// One series in a report.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SeriesRow {
    pub series: String,
    pub active: i64,
    pub time_ms: i64,
    pub completed: i64,
}

/// The totals of one quarter (all channels).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QuarterTotals {
    pub quarter: String,
    pub active: i64,
    pub time_ms: i64,
    pub completed: i64,
}

/// A member who learned nothing in a quarter.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdleMember {
    pub user_id: String,
    pub login: String,
    pub display_name: String,
    pub org_path: String,
}

/// When a quarter's summary was computed, and whether for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Computed {
    pub at: i64,
    pub final_: bool,
}

impl Db {
    /// Computes quarter `quarter` (`2026-Q2`; days `first..=last`, moments `from..until`) again:
    /// its rows replaced in one transaction, marked computed at `now` (`final_` when the quarter
    /// is over).
    pub async fn compute_report_quarter(
        &self,
        quarter: &str,
        (first, last): (&str, &str),
        (from, until): (i64, i64),
        now: i64,
        final_: bool,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        for table in ["report_member_quarters", "report_series_quarters"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE quarter = $1"
            )))
            .bind(quarter)
            .execute(&mut *tx)
            .await?;
        }
        // Per channel: time, lessons played, lessons first completed there in the quarter.
        let per_channel = format!(
            "INSERT INTO report_member_quarters (quarter, user_id, org_path, source, time_ms, \
             lessons, completed) \
             SELECT $1, d.user_id, h.org_path, d.source, SUM(d.time_ms), \
             COUNT(DISTINCT d.lesson_id), 0 FROM learning_days d JOIN {HOME} h \
             ON h.user_id = d.user_id WHERE d.day >= $2 AND d.day <= $3 \
             GROUP BY d.user_id, h.org_path, d.source"
        );
        let channel_completed = format!(
            "INSERT INTO report_member_quarters (quarter, user_id, org_path, source, time_ms, \
             lessons, completed) \
             SELECT $1, p.user_id, h.org_path, p.source, 0, 0, COUNT(*) \
             FROM learning_progress p JOIN {HOME} h ON h.user_id = p.user_id \
             WHERE p.completed_at >= $2 AND p.completed_at < $3 \
             GROUP BY p.user_id, h.org_path, p.source \
             ON CONFLICT (quarter, user_id, source) DO UPDATE SET completed = excluded.completed"
        );
        // All channels: a lesson counts once, completed when first completed on any channel.
        let all = format!(
            "INSERT INTO report_member_quarters (quarter, user_id, org_path, source, time_ms, \
             lessons, completed) \
             SELECT $1, d.user_id, h.org_path, '', SUM(d.time_ms), COUNT(DISTINCT d.lesson_id), 0 \
             FROM learning_days d JOIN {HOME} h ON h.user_id = d.user_id \
             WHERE d.day >= $2 AND d.day <= $3 GROUP BY d.user_id, h.org_path"
        );
        let first_completions = "(SELECT user_id, lesson_id, MIN(completed_at) AS at \
                                 FROM learning_progress WHERE completed_at IS NOT NULL \
                                 GROUP BY user_id, lesson_id)";
        let all_completed = format!(
            "INSERT INTO report_member_quarters (quarter, user_id, org_path, source, time_ms, \
             lessons, completed) \
             SELECT $1, f.user_id, h.org_path, '', 0, 0, COUNT(*) \
             FROM {first_completions} f JOIN {HOME} h ON h.user_id = f.user_id \
             WHERE f.at >= $2 AND f.at < $3 GROUP BY f.user_id, h.org_path \
             ON CONFLICT (quarter, user_id, source) DO UPDATE SET completed = excluded.completed"
        );
        let series = format!(
            "INSERT INTO report_series_quarters (quarter, user_id, org_path, series, time_ms, \
             completed) \
             SELECT $1, d.user_id, h.org_path, l.series, SUM(d.time_ms), 0 \
             FROM learning_days d JOIN lessons l ON l.id = d.lesson_id \
             JOIN {HOME} h ON h.user_id = d.user_id \
             WHERE d.day >= $2 AND d.day <= $3 AND l.series IS NOT NULL AND l.series <> '' \
             GROUP BY d.user_id, h.org_path, l.series"
        );
        let series_completed = format!(
            "INSERT INTO report_series_quarters (quarter, user_id, org_path, series, time_ms, \
             completed) \
             SELECT $1, f.user_id, h.org_path, l.series, 0, COUNT(*) \
             FROM {first_completions} f JOIN lessons l ON l.id = f.lesson_id \
             JOIN {HOME} h ON h.user_id = f.user_id \
             WHERE f.at >= $2 AND f.at < $3 AND l.series IS NOT NULL AND l.series <> '' \
             GROUP BY f.user_id, h.org_path, l.series \
             ON CONFLICT (quarter, user_id, series) DO UPDATE SET completed = excluded.completed"
        );
        for (sql, by_day) in [
            (per_channel, true),
            (channel_completed, false),
            (all, true),
            (all_completed, false),
            (series, true),
            (series_completed, false),
        ] {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(quarter);
            let q = if by_day {
                q.bind(first).bind(last)
            } else {
                q.bind(from).bind(until)
            };
            q.execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO report_quarters (quarter, computed_at, final) VALUES ($1, $2, $3) \
             ON CONFLICT (quarter) DO UPDATE SET computed_at = excluded.computed_at, \
             final = excluded.final",
        )
        .bind(quarter)
        .bind(now)
        .bind(i64::from(final_))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// When `quarter` was computed, if it was.
    pub async fn report_computed(&self, quarter: &str) -> Result<Option<Computed>, sqlx::Error> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT computed_at, final FROM report_quarters WHERE quarter = $1")
                .bind(quarter)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(at, f)| Computed { at, final_: f == 1 }))
    }

    /// The summary of `quarter` for the members whose home lies in the subtree at `path`, by
    /// home organisation and channel.
    pub async fn report_rows(
        &self,
        quarter: &str,
        path: &str,
    ) -> Result<Vec<SummaryRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT org_path, source, COUNT(*) AS active, CAST(SUM(time_ms) AS BIGINT) AS time_ms, \
             CAST(SUM(completed) AS BIGINT) AS completed FROM report_member_quarters \
             WHERE quarter = $1 AND org_path LIKE $2 GROUP BY org_path, source",
        )
        .bind(quarter)
        .bind(format!("{path}%"))
        .fetch_all(self.pool())
        .await
    }

    /// The series of `quarter` for the subtree at `path`.
    pub async fn report_series(
        &self,
        quarter: &str,
        path: &str,
    ) -> Result<Vec<SeriesRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT series, COUNT(*) AS active, CAST(SUM(time_ms) AS BIGINT) AS time_ms, \
             CAST(SUM(completed) AS BIGINT) AS completed FROM report_series_quarters \
             WHERE quarter = $1 AND org_path LIKE $2 GROUP BY series ORDER BY series",
        )
        .bind(quarter)
        .bind(format!("{path}%"))
        .fetch_all(self.pool())
        .await
    }

    /// The all-channel totals of `quarters` for the subtree at `path` (quarters with no
    /// learning are missing).
    pub async fn report_totals(
        &self,
        quarters: &[String],
        path: &str,
    ) -> Result<Vec<QuarterTotals>, sqlx::Error> {
        if quarters.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT quarter, COUNT(*) AS active, CAST(SUM(time_ms) AS BIGINT) AS time_ms, \
             CAST(SUM(completed) AS BIGINT) AS completed FROM report_member_quarters \
             WHERE source = '' AND org_path LIKE $1 AND quarter IN ({}) GROUP BY quarter",
            super::placeholders(2, quarters.len())
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(format!("{path}%"));
        for quarter in quarters {
            q = q.bind(quarter);
        }
        q.fetch_all(self.pool()).await
    }

    /// Members per home organisation in the subtree at `path`.
    pub async fn members_by_home(&self, path: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT h.org_path, COUNT(*) FROM {HOME} h WHERE h.org_path LIKE $1 \
             GROUP BY h.org_path"
        )))
        .bind(format!("{path}%"))
        .fetch_all(self.pool())
        .await
    }

    /// Up to `limit` members homed in the subtree at `path` who learned nothing in `quarter`
    /// (by organisation, then login), and how many there are in all.
    pub async fn idle_members(
        &self,
        quarter: &str,
        path: &str,
        limit: i64,
    ) -> Result<(Vec<IdleMember>, i64), sqlx::Error> {
        let from = format!(
            "FROM {HOME} h JOIN users u ON u.id = h.user_id WHERE h.org_path LIKE $1 \
             AND NOT EXISTS (SELECT 1 FROM report_member_quarters r WHERE r.quarter = $2 \
             AND r.user_id = h.user_id AND r.source = '')"
        );
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT h.user_id, u.login, u.display_name, h.org_path {from} \
             ORDER BY h.org_path, u.login LIMIT $3"
        )))
        .bind(format!("{path}%"))
        .bind(quarter)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {from}")))
            .bind(format!("{path}%"))
            .bind(quarter)
            .fetch_one(self.pool())
            .await?;
        Ok((rows, total))
    }
}
