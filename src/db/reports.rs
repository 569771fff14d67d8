//! The summary organisation reports are read from: computed per period (a quarter, or a run of
//! days) from `learning_days` and `learning_progress` (the job runner's `reports` job, or the
//! first time a period is asked for) per member (`report_quarter_members`,
//! `report_member_quarters`, `report_series_quarters`), then summed per home organisation
//! (`report_org_quarters`, `report_org_series`: what a report reads, by subtree), and named
//! current in `report_quarters`.
//!
//! A quarter is computed under a new generation, in chunks of [`CHUNK_MEMBERS`] members, each
//! its own short transaction (so neither SQLite's one writer nor a PostgreSQL statement is held
//! for long, whatever the province's size); `report_quarters` then names the new generation in
//! one small transaction, and older generations are deleted. Readers read only the generation
//! `report_quarters` names: never a half-computed quarter.
//!
//! Each member counts under one home organisation: the deepest of its member grants (the
//! greatest path), as it stood when the quarter was computed (`report_quarter_members`). In
//! `report_member_quarters`, the rows of source `''` are all channels together (time summed,
//! lessons and completions counted once per lesson).

use super::Db;

/// The home organisation of every member: `(user_id, org_path)`.
pub(super) const HOME: &str = "(SELECT g.user_id, MAX(o.path) AS org_path FROM role_grants g \
                    JOIN orgs o ON o.id = g.org_id JOIN users u ON u.id = g.user_id \
                    WHERE g.role = 'member' AND u.disabled_at IS NULL GROUP BY g.user_id)";

/// The source of the summary rows that stand for every channel.
pub const ALL_CHANNELS: &str = "";

/// Members summed per transaction when a quarter is computed (the job runner's choice).
pub const CHUNK_MEMBERS: usize = 2_000;

/// The summary tables a generation writes rows into.
const TABLES: [&str; 3] = [
    "report_quarter_members",
    "report_member_quarters",
    "report_series_quarters",
];

/// The summary tables per home organisation, summed from those per member.
const ORG_TABLES: [&str; 2] = ["report_org_quarters", "report_org_series"];

/// The rows of the generation a quarter's report reads (`r` joined to `report_quarters`).
const CURRENT: &str =
    "JOIN report_quarters q ON q.quarter = r.quarter AND q.generation = r.generation";

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
    /// Members homed in the subtree when the quarter was computed.
    pub members: i64,
    pub active: i64,
    pub time_ms: i64,
    pub completed: i64,
}

/// The members homed at one organisation when a quarter was computed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HomeCount {
    pub org_path: String,
    pub members: i64,
    /// Of them, those who learned anything in the quarter.
    pub learned: i64,
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

/// `AND {column} < ${n}` when a chunk has an upper bound.
fn below(column: &str, n: usize, hi: Option<&str>) -> String {
    hi.map_or_else(String::new, |_| format!(" AND {column} < ${n}"))
}

impl Db {
    /// Computes quarter `quarter` (`2026-Q2`; days `first..=last`, moments `from..until`) again
    /// under a new generation, named current at `now` (`final_` when the quarter is over) once
    /// every chunk is in; older generations are then deleted. A computation that finds a newer
    /// generation already current leaves it be. `chunk_members` members are summed per
    /// transaction ([`CHUNK_MEMBERS`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn compute_report_quarter(
        &self,
        quarter: &str,
        (first, last): (&str, &str),
        (from, until): (i64, i64),
        now: i64,
        final_: bool,
        chunk_members: usize,
    ) -> Result<(), sqlx::Error> {
        // Milliseconds, then a random part: later computations get greater generations, and two
        // at once (two nodes) different ones.
        let generation = now * 1000 + i64::from(rand::random::<u16>() % 1000);
        let mut tx = self.begin_write().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO report_quarter_members (quarter, generation, user_id, org_path, learned) \
             SELECT $1, $2, h.user_id, h.org_path, 0 FROM {HOME} h"
        )))
        .bind(quarter)
        .bind(generation)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if self.backend() == super::Backend::Postgres {
            // The planner's figures for the rows just written, before the chunks join them.
            sqlx::query("ANALYZE report_quarter_members")
                .execute(self.pool())
                .await?;
        }
        let members: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM report_quarter_members WHERE quarter = $1 AND generation = $2 \
             ORDER BY user_id",
        )
        .bind(quarter)
        .bind(generation)
        .fetch_all(self.pool())
        .await?;
        let chunks = chunk_bounds(&members, chunk_members);
        for &(lo, hi) in &chunks {
            self.compute_report_chunk(quarter, generation, (first, last), (from, until), (lo, hi))
                .await?;
        }
        // Per home organisation (a few hundred rows a province), what a report reads.
        let mut tx = self.begin_write().await?;
        for sql in [
            "INSERT INTO report_org_quarters (quarter, generation, org_path, source, members, \
             active, time_ms, completed) SELECT $1, $2, org_path, '', COUNT(*), 0, 0, 0 \
             FROM report_quarter_members WHERE quarter = $1 AND generation = $2 \
             GROUP BY org_path",
            "INSERT INTO report_org_quarters (quarter, generation, org_path, source, members, \
             active, time_ms, completed) SELECT $1, $2, org_path, source, 0, COUNT(*), \
             SUM(time_ms), SUM(completed) FROM report_member_quarters \
             WHERE quarter = $1 AND generation = $2 GROUP BY org_path, source \
             ON CONFLICT (quarter, generation, org_path, source) DO UPDATE SET \
             active = excluded.active, time_ms = excluded.time_ms, \
             completed = excluded.completed",
            "INSERT INTO report_org_series (quarter, generation, org_path, series, active, \
             time_ms, completed) SELECT $1, $2, org_path, series, COUNT(*), SUM(time_ms), \
             SUM(completed) FROM report_series_quarters WHERE quarter = $1 AND generation = $2 \
             GROUP BY org_path, series",
        ] {
            sqlx::query(sql)
                .bind(quarter)
                .bind(generation)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO report_quarters (quarter, generation, computed_at, final) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (quarter) DO UPDATE SET \
             generation = excluded.generation, computed_at = excluded.computed_at, \
             final = excluded.final WHERE report_quarters.generation < excluded.generation",
        )
        .bind(quarter)
        .bind(generation)
        .bind(now)
        .bind(i64::from(final_))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // Every generation before the current one (this one too, had a newer one won), chunk
        // by chunk: the first chunk starts at '' and the last is unbounded, so the chunks cover
        // every member, those of older generations too.
        for &(lo, hi) in &chunks {
            let mut tx = self.begin_write().await?;
            for table in TABLES {
                let sql = format!(
                    "DELETE FROM {table} WHERE quarter = $1 AND generation < (SELECT generation \
                     FROM report_quarters WHERE quarter = $1) AND user_id >= $2{}",
                    below("user_id", 3, hi)
                );
                let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(quarter).bind(lo);
                let q = match hi {
                    Some(hi) => q.bind(hi),
                    None => q,
                };
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        let mut tx = self.begin_write().await?;
        for table in ORG_TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE quarter = $1 AND generation < (SELECT generation \
                 FROM report_quarters WHERE quarter = $1)"
            )))
            .bind(quarter)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One chunk of a quarter's computation: the members `lo <= user_id < hi` of `generation`.
    async fn compute_report_chunk(
        &self,
        quarter: &str,
        generation: i64,
        (first, last): (&str, &str),
        (from, until): (i64, i64),
        (lo, hi): (&str, Option<&str>),
    ) -> Result<(), sqlx::Error> {
        // $1 quarter, $2 generation, $3 lo, $4..$5 the days or moments, $6 hi.
        let member = "JOIN report_quarter_members m ON m.quarter = $1 AND m.generation = $2";
        let days = |t: &str| {
            format!(
                "{member} AND m.user_id = {t}.user_id WHERE {t}.user_id >= $3{} \
                 AND {t}.day >= $4 AND {t}.day <= $5",
                below(&format!("{t}.user_id"), 6, hi)
            )
        };
        // Completions in the quarter; `first` only those of lessons not completed before on
        // any channel (counted once per lesson).
        let completions = |first_only: bool| {
            format!(
                "{member} AND m.user_id = p.user_id WHERE p.user_id >= $3{} \
                 AND p.completed_at >= $4 AND p.completed_at < $5{}",
                below("p.user_id", 6, hi),
                if first_only {
                    " AND NOT EXISTS (SELECT 1 FROM learning_progress e \
                     WHERE e.user_id = p.user_id AND e.lesson_id = p.lesson_id \
                     AND e.completed_at < p.completed_at)"
                } else {
                    ""
                }
            )
        };
        let into_members = "INSERT INTO report_member_quarters (quarter, generation, user_id, \
                            org_path, source, time_ms, lessons, completed)";
        let into_series = "INSERT INTO report_series_quarters (quarter, generation, user_id, \
                           org_path, series, time_ms, completed)";
        let series_only = "JOIN lessons l ON l.id = {t}.lesson_id";
        let statements = [
            // Per channel: time, lessons played, lessons completed there in the quarter.
            (
                format!(
                    "{into_members} SELECT $1, $2, d.user_id, m.org_path, d.source, \
                     SUM(d.time_ms), COUNT(DISTINCT d.lesson_id), 0 FROM learning_days d {} \
                     GROUP BY d.user_id, m.org_path, d.source",
                    days("d")
                ),
                true,
            ),
            (
                format!(
                    "{into_members} SELECT $1, $2, p.user_id, m.org_path, p.source, 0, 0, \
                     COUNT(*) FROM learning_progress p {} \
                     GROUP BY p.user_id, m.org_path, p.source \
                     ON CONFLICT (quarter, generation, user_id, source) \
                     DO UPDATE SET completed = excluded.completed",
                    completions(false)
                ),
                false,
            ),
            // All channels: a lesson counts once, completed when first completed anywhere.
            (
                format!(
                    "{into_members} SELECT $1, $2, d.user_id, m.org_path, '', SUM(d.time_ms), \
                     COUNT(DISTINCT d.lesson_id), 0 FROM learning_days d {} \
                     GROUP BY d.user_id, m.org_path",
                    days("d")
                ),
                true,
            ),
            (
                format!(
                    "{into_members} SELECT $1, $2, p.user_id, m.org_path, '', 0, 0, \
                     COUNT(DISTINCT p.lesson_id) FROM learning_progress p {} \
                     GROUP BY p.user_id, m.org_path \
                     ON CONFLICT (quarter, generation, user_id, source) \
                     DO UPDATE SET completed = excluded.completed",
                    completions(true)
                ),
                false,
            ),
            (
                format!(
                    "{into_series} SELECT $1, $2, d.user_id, m.org_path, l.series, \
                     SUM(d.time_ms), 0 FROM learning_days d {} {} \
                     AND l.series IS NOT NULL AND l.series <> '' \
                     GROUP BY d.user_id, m.org_path, l.series",
                    series_only.replace("{t}", "d"),
                    days("d")
                ),
                true,
            ),
            (
                format!(
                    "{into_series} SELECT $1, $2, p.user_id, m.org_path, l.series, 0, \
                     COUNT(DISTINCT p.lesson_id) FROM learning_progress p {} {} \
                     AND l.series IS NOT NULL AND l.series <> '' \
                     GROUP BY p.user_id, m.org_path, l.series \
                     ON CONFLICT (quarter, generation, user_id, series) \
                     DO UPDATE SET completed = excluded.completed",
                    series_only.replace("{t}", "p"),
                    completions(true)
                ),
                false,
            ),
        ];
        let mut tx = self.begin_write().await?;
        for (sql, by_day) in statements {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(quarter)
                .bind(generation)
                .bind(lo);
            let q = if by_day {
                q.bind(first).bind(last)
            } else {
                q.bind(from).bind(until)
            };
            let q = match hi {
                Some(hi) => q.bind(hi),
                None => q,
            };
            q.execute(&mut *tx).await?;
        }
        // Each member's own row looked up by its key (a semi-join by `IN` was planned as a scan
        // per member on PostgreSQL, past the statement timeout at 100,000 members).
        let learned = format!(
            "UPDATE report_quarter_members SET learned = 1 WHERE quarter = $1 \
             AND generation = $2 AND user_id >= $3{} AND EXISTS (SELECT 1 \
             FROM report_member_quarters r WHERE r.quarter = report_quarter_members.quarter \
             AND r.generation = report_quarter_members.generation \
             AND r.user_id = report_quarter_members.user_id AND r.source = '')",
            below("user_id", 4, hi)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(learned))
            .bind(quarter)
            .bind(generation)
            .bind(lo);
        let q = match hi {
            Some(hi) => q.bind(hi),
            None => q,
        };
        q.execute(&mut *tx).await?;
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
    /// home organisation and channel (read from the rows per organisation).
    pub async fn report_rows(
        &self,
        quarter: &str,
        path: &str,
    ) -> Result<Vec<SummaryRow>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.org_path, r.source, r.active, r.time_ms, r.completed \
             FROM report_org_quarters r {CURRENT} WHERE r.quarter = $1 AND r.org_path LIKE $2"
        )))
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
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.series, CAST(SUM(r.active) AS BIGINT) AS active, \
             CAST(SUM(r.time_ms) AS BIGINT) AS time_ms, \
             CAST(SUM(r.completed) AS BIGINT) AS completed FROM report_org_series r \
             {CURRENT} WHERE r.quarter = $1 AND r.org_path LIKE $2 \
             GROUP BY r.series ORDER BY r.series"
        )))
        .bind(quarter)
        .bind(format!("{path}%"))
        .fetch_all(self.pool())
        .await
    }

    /// The all-channel totals of `quarters` for the subtree at `path` (quarters never computed
    /// are missing).
    pub async fn report_totals(
        &self,
        quarters: &[String],
        path: &str,
    ) -> Result<Vec<QuarterTotals>, sqlx::Error> {
        if quarters.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT r.quarter, CAST(SUM(r.members) AS BIGINT) AS members, \
             CAST(SUM(r.active) AS BIGINT) AS active, CAST(SUM(r.time_ms) AS BIGINT) AS time_ms, \
             CAST(SUM(r.completed) AS BIGINT) AS completed FROM report_org_quarters r \
             {CURRENT} WHERE r.source = '' AND r.org_path LIKE $1 AND r.quarter IN ({}) \
             GROUP BY r.quarter",
            super::placeholders(2, quarters.len())
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(format!("{path}%"));
        for quarter in quarters {
            q = q.bind(quarter);
        }
        q.fetch_all(self.pool()).await
    }

    /// The members of `quarter` per home organisation in the subtree at `path`, and how many
    /// of them learned anything.
    pub async fn members_by_home(
        &self,
        quarter: &str,
        path: &str,
    ) -> Result<Vec<HomeCount>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.org_path, r.members, r.active AS learned FROM report_org_quarters r \
             {CURRENT} WHERE r.quarter = $1 AND r.org_path LIKE $2 AND r.source = ''"
        )))
        .bind(quarter)
        .bind(format!("{path}%"))
        .fetch_all(self.pool())
        .await
    }

    /// Deletes the summaries of runs of days (keys with `--`) last computed before `before`.
    pub async fn forget_report_days(&self, before: i64) -> Result<(), sqlx::Error> {
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT quarter FROM report_quarters WHERE quarter LIKE '%--%' AND computed_at < $1",
        )
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        for key in keys {
            let mut tx = self.begin_write().await?;
            for table in TABLES.iter().chain(&ORG_TABLES).chain(&["report_quarters"]) {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE quarter = $1"
                )))
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Up to `limit` members of `quarter` homed in the subtree at `path` who learned nothing
    /// (by organisation, then login).
    pub async fn idle_members(
        &self,
        quarter: &str,
        path: &str,
        limit: i64,
    ) -> Result<Vec<IdleMember>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.user_id, u.login, u.display_name, r.org_path \
             FROM report_quarter_members r {CURRENT} JOIN users u ON u.id = r.user_id \
             WHERE r.quarter = $1 AND r.org_path LIKE $2 AND r.learned = 0 \
             ORDER BY r.org_path, u.login LIMIT $3"
        )))
        .bind(quarter)
        .bind(format!("{path}%"))
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}

/// The chunks of `members` (sorted): `[lo, hi)` of `n` each, the first from '' and the last
/// unbounded, so together they cover every user id.
fn chunk_bounds(members: &[String], n: usize) -> Vec<(&str, Option<&str>)> {
    let starts: Vec<&str> = members
        .iter()
        .step_by(n.max(1))
        .skip(1)
        .map(String::as_str)
        .collect();
    let mut chunks = Vec::with_capacity(starts.len() + 1);
    let mut lo = "";
    for &s in &starts {
        chunks.push((lo, Some(s)));
        lo = s;
    }
    chunks.push((lo, None));
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_member_once() {
        let none: Vec<String> = Vec::new();
        assert_eq!(chunk_bounds(&none, 3), vec![("", None)]);
        let members: Vec<String> = (0..7).map(|i| format!("u{i:06}")).collect();
        let chunks = chunk_bounds(&members, 3);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].0, "");
        assert_eq!(chunks[2].1, None);
        for m in &members {
            let holding = chunks
                .iter()
                .filter(|(lo, hi)| m.as_str() >= *lo && hi.is_none_or(|h| m.as_str() < h))
                .count();
            assert_eq!(holding, 1, "{m}");
        }
    }
}
