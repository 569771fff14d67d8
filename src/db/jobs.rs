//! The durable job queue (`jobs`): the SQL of the job runner (`crate::jobs`).
//!
//! Invariants:
//! - A claim sets `state = 'running'`, the worker's name and a lease, in one conditional `UPDATE`
//!   that checks again that the job is due; on SQLite inside a write transaction (one writer at
//!   a time), on PostgreSQL after locking the candidates with `FOR UPDATE SKIP LOCKED`, so
//!   several instances claim disjoint jobs without waiting on each other. Either way a job is
//!   held by one worker at a time.
//! - A running job whose lease ran out (its worker died, or lost the database) is due again. A
//!   claim counts as an attempt, so a job that kills its worker every time still ends `dead`.
//! - Finishing, failing and rescheduling name the worker: a worker whose lease was taken over
//!   changes nothing.
//! - A claim takes the most urgent lane first and, within it, the oldest job of each
//!   organisation before the second job of any, so one organisation's backlog cannot starve
//!   another's. It reads a bounded number of rows whatever the backlog (`claim_candidates`:
//!   index seeks per organisation with due work, never a ranking of every due job), and finding
//!   the next due time reads two index ends (`jobs_wake`, `jobs_lease`).
//! - Kinds and states are parsed as rows are read; an unknown one is an error.

use super::{Db, now_ms, placeholders};
use crate::domain::job::{JobKind, JobState, Lane};
use serde::Serialize;
use sqlx::AssertSqlSafe;

/// A job as stored.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    pub id: String,
    pub kind: JobKind,
    pub subject: String,
    pub org_id: String,
    pub payload: String,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lane: i64,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub worker: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// How far a running job is, in thousandths (media steps report it); `None` when unknown.
    pub progress_permille: Option<i64>,
    /// The estimated time left of a running job, in milliseconds.
    pub eta_ms: Option<i64>,
    /// The last lines the job's tool (ffmpeg) wrote when it failed, without presigned URLs.
    pub output_tail: Option<String>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    kind: String,
    subject: String,
    org_id: String,
    payload: String,
    state: String,
    attempts: i64,
    max_attempts: i64,
    lane: i64,
    run_at: i64,
    lease_until: Option<i64>,
    worker: Option<String>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
    progress_permille: Option<i64>,
    eta_ms: Option<i64>,
    output_tail: Option<String>,
}

impl TryFrom<JobRow> for JobRecord {
    type Error = sqlx::Error;

    fn try_from(r: JobRow) -> Result<Self, sqlx::Error> {
        let decode = |e| sqlx::Error::Decode(Box::new(e));
        Ok(JobRecord {
            kind: JobKind::parse(&r.kind).map_err(decode)?,
            state: JobState::parse(&r.state).map_err(decode)?,
            id: r.id,
            subject: r.subject,
            org_id: r.org_id,
            payload: r.payload,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            lane: r.lane,
            run_at: r.run_at,
            lease_until: r.lease_until,
            worker: r.worker,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            progress_permille: r.progress_permille,
            eta_ms: r.eta_ms,
            output_tail: r.output_tail,
        })
    }
}

fn parse_all(rows: Vec<JobRow>) -> Result<Vec<JobRecord>, sqlx::Error> {
    rows.into_iter().map(JobRecord::try_from).collect()
}

const COLUMNS: &str = "id, kind, subject, org_id, payload, state, attempts, max_attempts, lane, \
                       run_at, lease_until, worker, last_error, created_at, updated_at, \
                       progress_permille, eta_ms, output_tail";

/// Due: pending and its time has come, or running with a lease that ran out.
const DUE: &str = "state IN ('pending', 'running') AND run_at <= $1 \
                   AND (state = 'pending' OR lease_until <= $1)";

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// A fixed id makes the enqueue idempotent (`ON CONFLICT DO NOTHING`): one extraction per
    /// content, one row per periodic task. `None` for a fresh id.
    pub id: Option<String>,
    pub kind: JobKind,
    /// What the job is about (a platform's id, a content's SHA-256), for listings.
    pub subject: String,
    /// The organisation the work is for; "" for the instance's own.
    pub org_id: String,
    pub payload: String,
    pub run_at: i64,
}

impl NewJob {
    pub fn now(kind: JobKind, subject: &str, org_id: &str, payload: String) -> Self {
        Self {
            id: None,
            kind,
            subject: subject.to_owned(),
            org_id: org_id.to_owned(),
            payload,
            run_at: now_ms(),
        }
    }
}

/// What a listing or a bulk retry selects.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub id: Option<String>,
    pub state: Option<JobState>,
    pub kind: Option<JobKind>,
    /// Only jobs of organisations inside these subtrees (paths); `None` for all jobs.
    pub subtrees: Option<Vec<String>>,
}

enum Bind {
    S(String),
    I(i64),
}

impl JobFilter {
    /// ` AND …` conditions on `jobs` (aliased `j`) and their binds, numbered from `from`.
    fn sql(&self, from: usize) -> (String, Vec<Bind>) {
        let mut sql = String::new();
        let mut binds = Vec::new();
        if let Some(id) = &self.id {
            binds.push(Bind::S(id.clone()));
            sql.push_str(&format!(" AND j.id = ${}", from + binds.len() - 1));
        }
        if let Some(s) = self.state {
            binds.push(Bind::S(s.as_str().to_owned()));
            sql.push_str(&format!(" AND j.state = ${}", from + binds.len() - 1));
        }
        if let Some(k) = self.kind {
            binds.push(Bind::S(k.as_str().to_owned()));
            sql.push_str(&format!(" AND j.kind = ${}", from + binds.len() - 1));
        }
        if let Some(paths) = &self.subtrees {
            if paths.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                sql.push_str(&format!(
                    " AND j.org_id IN (SELECT o.id FROM orgs o WHERE {})",
                    super::within_subtrees("o.path", from + binds.len(), paths.len())
                ));
                binds.extend(super::subtree_patterns(paths).map(Bind::S));
            }
        }
        (sql, binds)
    }
}

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::S(s) => q.bind(s.clone()),
                Bind::I(i) => q.bind(*i),
            };
        }
        q
    }};
}

impl Db {
    /// Queues a job inside `tx`; `false` when a job with its fixed id already exists.
    pub async fn enqueue_in(tx: &mut super::Tx, job: &NewJob) -> Result<bool, sqlx::Error> {
        let id = job.id.clone().unwrap_or_else(super::new_id);
        let now = now_ms();
        let n = sqlx::query(
            "INSERT INTO jobs (id, kind, subject, org_id, payload, state, attempts, max_attempts, \
             lane, run_at, created_at, updated_at, media) \
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7, $8, $9, $9, $10) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(job.kind.as_str())
        .bind(&job.subject)
        .bind(&job.org_id)
        .bind(&job.payload)
        .bind(job.kind.retry_policy().max_attempts)
        .bind(job.kind.lane().as_i64())
        .bind(job.run_at)
        .bind(now)
        .bind(i64::from(job.kind.uses_media_slot()))
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Queues jobs in one transaction; how many were new.
    pub async fn enqueue_jobs(&self, jobs: &[NewJob]) -> Result<usize, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let mut n = 0;
        for job in jobs {
            n += usize::from(Self::enqueue_in(&mut tx, job).await?);
        }
        tx.commit().await?;
        if n > 0 {
            self.jobs_queued.notify_one();
        }
        Ok(n)
    }

    /// Claims up to `n` due jobs of lanes up to `max_lane` for `worker`, leased for `lease_ms`:
    /// the most urgent lane first, each organisation's oldest before anyone's second.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        n: i64,
        max_lane: Lane,
        lease_ms: i64,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        self.claim_jobs_capped(worker, n, max_lane, lease_ms, usize::MAX)
            .await
    }

    /// [`Db::claim_jobs`], taking at most `media_free` jobs whose kind needs a media process
    /// slot (`JobKind::uses_media_slot`): with none free, such jobs are not even candidates, so
    /// the claim goes on to other work instead of holding a worker on a job that would wait.
    pub async fn claim_jobs_capped(
        &self,
        worker: &str,
        n: i64,
        max_lane: Lane,
        lease_ms: i64,
        media_free: usize,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        if n <= 0 {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // Candidates in fair order: a few more than wanted, since on PostgreSQL other instances
        // may hold some of them.
        let candidates =
            Self::claim_candidates(&mut tx, now, max_lane, (n * 4) as usize, media_free).await?;
        if candidates.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let media: std::collections::HashSet<String> = candidates
            .iter()
            .filter(|(_, m)| *m)
            .map(|(id, _)| id.clone())
            .collect();
        let candidates: Vec<String> = candidates.into_iter().map(|(id, _)| id).collect();
        // The first `n` in claim order, of which at most `media_free` need a media slot.
        let cap = |ids: Vec<String>| -> Vec<String> {
            let mut slots = media_free;
            ids.into_iter()
                .filter(|id| {
                    if !media.contains(id) {
                        return true;
                    }
                    if slots == 0 {
                        return false;
                    }
                    slots -= 1;
                    true
                })
                .take(n as usize)
                .collect()
        };
        let chosen: Vec<String> = match self.backend() {
            // The write transaction is the only writer: nothing can take them meanwhile.
            super::Backend::Sqlite => cap(candidates),
            super::Backend::Postgres => {
                let sql = format!(
                    "SELECT id FROM jobs WHERE id IN ({}) AND {DUE} FOR UPDATE SKIP LOCKED",
                    placeholders(2, candidates.len())
                );
                let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.as_str())).bind(now);
                for c in &candidates {
                    q = q.bind(c);
                }
                let locked: std::collections::HashSet<String> =
                    q.fetch_all(&mut *tx).await?.into_iter().collect();
                cap(candidates
                    .into_iter()
                    .filter(|c| locked.contains(c))
                    .collect())
            }
        };
        if chosen.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $2, \
             lease_until = $3, updated_at = $1, progress_permille = NULL, eta_ms = NULL \
             WHERE id IN ({}) AND {DUE} RETURNING {COLUMNS}",
            placeholders(4, chosen.len())
        );
        let mut q = sqlx::query_as::<_, JobRow>(AssertSqlSafe(sql.as_str()))
            .bind(now)
            .bind(worker)
            .bind(now + lease_ms);
        for c in &chosen {
            q = q.bind(c);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        parse_all(rows)
    }

    /// Up to `m` due jobs of lanes up to `max_lane`, in claim order (the most urgent lane first,
    /// then each organisation's oldest before anyone's second), read at a cost that does not
    /// depend on the backlog: the lost leases (at most the running jobs, through `jobs_lease`),
    /// then lane by lane the organisations with due jobs (a loose scan of `jobs_claim`: one index
    /// seek per organisation, not one row per job), the `m` whose oldest due job is oldest, and
    /// of each only its first few jobs (as many as it can place among the first `m`).
    async fn claim_candidates(
        tx: &mut super::Tx,
        now: i64,
        max_lane: Lane,
        m: usize,
        media_free: usize,
    ) -> Result<Vec<(String, bool)>, sqlx::Error> {
        #[derive(sqlx::FromRow)]
        struct Candidate {
            id: String,
            org_id: String,
            lane: i64,
            run_at: i64,
            kind: String,
        }
        let is_media = |c: &Candidate| JobKind::parse(&c.kind).is_ok_and(|k| k.uses_media_slot());
        // With no media slot free, media steps are left out in SQL: `media` is in the claim
        // index (`jobs_claim_free`), so a backlog of them is sought past, not read.
        let skip = if media_free == 0 {
            " AND media = 0"
        } else {
            ""
        };
        let lost = format!(
            "SELECT id, org_id, lane, run_at, kind FROM jobs WHERE state = 'running' \
             AND lease_until <= $1 AND lane <= $2{} ORDER BY lane, run_at, id LIMIT $3",
            skip
        );
        let q = sqlx::query_as(sqlx::AssertSqlSafe(lost))
            .bind(now)
            .bind(max_lane.as_i64())
            .bind(m as i64);
        let mut found: Vec<Candidate> = q.fetch_all(&mut **tx).await?;
        for lane in 0..=max_lane.as_i64() {
            // What the earlier lanes can place: media steps only as far as slots are free.
            let before: Vec<&Candidate> = found.iter().filter(|c| c.lane < lane).collect();
            let media = before.iter().filter(|c| is_media(c)).count();
            if before.len() - media + media.min(media_free) >= m {
                break;
            }
            // Each organisation with a due pending job in this lane, with its oldest's time.
            let sql = format!(
                "WITH RECURSIVE o(org_id) AS (\
                 SELECT (SELECT j.org_id FROM jobs j WHERE j.state = 'pending' AND j.lane = $2 \
                 AND j.run_at <= $1{s} ORDER BY j.org_id LIMIT 1) \
                 UNION ALL SELECT (SELECT j.org_id FROM jobs j WHERE j.state = 'pending' \
                 AND j.lane = $2 AND j.org_id > o.org_id AND j.run_at <= $1{s} \
                 ORDER BY j.org_id LIMIT 1) FROM o WHERE o.org_id IS NOT NULL) \
                 SELECT o.org_id, (SELECT h.run_at FROM jobs h WHERE h.state = 'pending' \
                 AND h.lane = $2 AND h.org_id = o.org_id AND h.run_at <= $1{s} \
                 ORDER BY h.run_at LIMIT 1) AS head FROM o WHERE o.org_id IS NOT NULL",
                s = skip
            );
            let q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(lane);
            let mut orgs: Vec<(String, i64)> = q.fetch_all(&mut **tx).await?;
            if orgs.is_empty() {
                continue;
            }
            orgs.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            orgs.truncate(m);
            // An organisation's r-th job is among the first m only if each other one places
            // at least one before it: r <= m - (orgs - 1).
            let per_org = m - orgs.len() + 1;
            let sql = (0..orgs.len())
                .map(|i| {
                    format!(
                        "SELECT * FROM (SELECT id, org_id, lane, run_at, kind FROM jobs \
                         WHERE state = 'pending' AND lane = $2 AND org_id = ${} AND run_at <= $1{} \
                         ORDER BY run_at, id LIMIT $3) s{i}",
                        i + 4,
                        skip
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let mut q = sqlx::query_as::<_, Candidate>(AssertSqlSafe(sql.as_str()))
                .bind(now)
                .bind(lane)
                .bind(per_org as i64);
            for (org, _) in &orgs {
                q = q.bind(org);
            }
            found.extend(q.fetch_all(&mut **tx).await?);
        }
        // Rank: each organisation's jobs in order, numbered; then lane, number, age.
        found.sort_by(|a, b| {
            (&a.org_id, a.lane, a.run_at, &a.id).cmp(&(&b.org_id, b.lane, b.run_at, &b.id))
        });
        let mut ranked: Vec<(i64, usize, i64, String, bool)> = Vec::with_capacity(found.len());
        let mut rn = 0;
        for (i, c) in found.iter().enumerate() {
            rn = if i > 0 && found[i - 1].org_id == c.org_id {
                rn + 1
            } else {
                1
            };
            ranked.push((c.lane, rn, c.run_at, c.id.clone(), is_media(c)));
        }
        ranked.sort();
        Ok(ranked.into_iter().take(m).map(|r| (r.3, r.4)).collect())
    }

    /// Extends the leases `worker` holds on `ids` (its jobs still running).
    pub async fn renew_leases(
        &self,
        worker: &str,
        ids: &[String],
        lease_ms: i64,
    ) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE jobs SET lease_until = $2 WHERE worker = $1 AND state = 'running' \
             AND id IN ({})",
            placeholders(3, ids.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(worker)
            .bind(now_ms() + lease_ms);
        for id in ids {
            q = q.bind(id);
        }
        q.execute(self.write_pool()).await?;
        Ok(())
    }

    /// Marks a job `worker` holds done; `false` when it no longer holds it.
    pub async fn finish_job(&self, id: &str, worker: &str) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, \
             updated_at = $3, eta_ms = NULL, progress_permille = CASE WHEN \
             progress_permille IS NULL THEN NULL ELSE 1000 END \
             WHERE id = $1 AND worker = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(now_ms())
        .execute(self.write_pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records a failed attempt of a job `worker` holds: it runs again at `retry_at`, or is dead
    /// when `None`. `false` when the worker no longer holds it.
    pub async fn fail_job(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<bool, sqlx::Error> {
        let error: String = error.chars().take(1000).collect();
        let n = sqlx::query(
            "UPDATE jobs SET state = $3, run_at = COALESCE($4, run_at), lease_until = NULL, \
             last_error = $5, updated_at = $6 WHERE id = $1 AND worker = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(if retry_at.is_some() {
            JobState::Pending.as_str()
        } else {
            JobState::Dead.as_str()
        })
        .bind(retry_at)
        .bind(error)
        .bind(now_ms())
        .execute(self.write_pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Puts a periodic job `worker` holds back to wait for `run_at`, its attempts reset.
    pub async fn reschedule_job(
        &self,
        id: &str,
        worker: &str,
        run_at: i64,
        error: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $3, lease_until = NULL, \
             last_error = $4, updated_at = $5 WHERE id = $1 AND worker = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(run_at)
        .bind(error.map(|e| e.chars().take(1000).collect::<String>()))
        .bind(now_ms())
        .execute(self.write_pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// When the next pending job is due (`None` when none is pending), or the earliest lease of
    /// a running one runs out.
    pub async fn next_job_due(&self) -> Result<Option<i64>, sqlx::Error> {
        let (pending, running): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT MIN(run_at) FROM jobs WHERE state = 'pending'), \
             (SELECT MIN(lease_until) FROM jobs WHERE state = 'running')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(match (pending, running) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, sqlx::Error> {
        let row: Option<JobRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(JobRecord::try_from).transpose()
    }

    /// Jobs matching `filter`, most recently changed first, before `(updated_at, id)` if given.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        let (cond, mut binds) = filter.sql(1);
        let mut sql = format!(
            "SELECT {} FROM jobs j WHERE 1 = 1{cond}",
            COLUMNS
                .split(", ")
                .map(|c| format!("j.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some((at, id)) = before {
            binds.push(Bind::I(at));
            binds.push(Bind::S(id.to_owned()));
            sql.push_str(&format!(
                " AND (j.updated_at < ${a} OR (j.updated_at = ${a} AND j.id < ${b}))",
                a = binds.len() - 1,
                b = binds.len()
            ));
        }
        binds.push(Bind::I(limit));
        sql.push_str(&format!(
            " ORDER BY j.updated_at DESC, j.id DESC LIMIT ${}",
            binds.len()
        ));
        let rows: Vec<JobRow> = bind_all!(sqlx::query_as(AssertSqlSafe(sql.as_str())), &binds)
            .fetch_all(self.pool())
            .await?;
        parse_all(rows)
    }

    /// Puts the dead (or done) jobs matching `filter` back in the queue to run now, with their
    /// attempts reset and queued anew (`created_at`: a webhook's retry window starts again),
    /// and records it in the audit log in the same transaction (`event`, its `after` completed
    /// with the count). Returns how many.
    pub async fn retry_jobs(
        &self,
        filter: &JobFilter,
        actor: &super::audit::Actor,
        event: super::audit::Event<'_>,
    ) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        let (cond, binds) = filter.sql(2);
        let sql = format!(
            "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $1, lease_until = NULL, \
             worker = NULL, created_at = $1, updated_at = $1, progress_permille = NULL, \
             eta_ms = NULL, output_tail = NULL WHERE id IN (SELECT j.id FROM jobs j \
             WHERE j.state IN ('dead', 'done'){cond})"
        );
        let mut tx = self.begin_write().await?;
        let q = bind_all!(sqlx::query(AssertSqlSafe(sql.as_str())).bind(now), &binds);
        let n = q.execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            let mut after = event.after.clone().unwrap_or_else(|| serde_json::json!({}));
            after["count"] = serde_json::json!(n);
            Self::audit_in(
                &mut tx,
                actor,
                super::audit::Event {
                    after: Some(after),
                    ..event
                },
            )
            .await?;
        }
        tx.commit().await?;
        if n > 0 {
            self.jobs_queued.notify_one();
        }
        Ok(n)
    }

    /// Puts one dead (or done) job of `kind` about `subject` back in the queue (webhook
    /// redelivery); `false` when there is no such job in such a state.
    pub async fn retry_job(
        &self,
        kind: JobKind,
        subject: &str,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $4, lease_until = NULL, \
             worker = NULL, created_at = $4, updated_at = $4 WHERE id = $1 AND kind = $2 \
             AND subject = $3 AND state IN ('dead', 'done')",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(subject)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 1 {
            self.jobs_queued.notify_one();
        }
        Ok(n == 1)
    }

    /// The jobs of `kind` about `subject` in one of `states`, newest first.
    pub async fn jobs_of(
        &self,
        kind: JobKind,
        subject: &str,
        states: &[JobState],
        limit: i64,
    ) -> Result<Vec<JobRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE kind = $1 AND subject = $2 AND state IN ({}) \
             ORDER BY created_at DESC, id DESC LIMIT $3",
            placeholders(4, states.len())
        );
        let mut q = sqlx::query_as::<_, JobRow>(AssertSqlSafe(sql.as_str()))
            .bind(kind.as_str())
            .bind(subject)
            .bind(limit);
        for s in states {
            q = q.bind(s.as_str());
        }
        parse_all(q.fetch_all(self.pool()).await?)
    }

    /// How many jobs there are of each kind in each state (for the metrics).
    pub async fn job_counts(&self) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state")
            .fetch_all(self.pool())
            .await
    }

    pub async fn dead_jobs_count(&self, kind: JobKind, subject: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND subject = $2 AND state = 'dead'",
        )
        .bind(kind.as_str())
        .bind(subject)
        .fetch_one(self.pool())
        .await
    }

    /// Deletes jobs done before `before` (finished work leaves no trace worth keeping for long);
    /// dead jobs stay until retried. Returns how many.
    pub async fn prune_done_jobs(&self, before: i64) -> Result<u64, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM jobs WHERE state = 'done' AND updated_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Records how far a running job `worker` holds is (`permille` of its work, `eta_ms` left).
    pub async fn set_job_progress(
        &self,
        id: &str,
        worker: &str,
        permille: i64,
        eta_ms: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE jobs SET progress_permille = $3, eta_ms = $4 \
             WHERE id = $1 AND worker = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(permille.clamp(0, 1000))
        .bind(eta_ms.map(|e| e.max(0)))
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    /// Keeps the last lines a failed tool wrote on a running job `worker` holds.
    pub async fn set_job_output(
        &self,
        id: &str,
        worker: &str,
        tail: &str,
    ) -> Result<(), sqlx::Error> {
        let tail: String = tail.chars().take(4000).collect();
        sqlx::query(
            "UPDATE jobs SET output_tail = $3 WHERE id = $1 AND worker = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(tail)
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    /// Cancels (deletes) the pending media steps about the contents `sha256s` that no current
    /// asset holds any more, inside `tx` (the one that deleted or superseded their assets).
    /// A running step is left to end: its result is keyed by the content, harmless, and found
    /// again if the same bytes come back. Returns how many were cancelled.
    pub(super) async fn cancel_media_jobs_in(
        tx: &mut super::Tx,
        sha256s: &[String],
    ) -> Result<u64, sqlx::Error> {
        if sha256s.is_empty() {
            return Ok(0);
        }
        let kinds: Vec<&str> = JobKind::ALL
            .into_iter()
            .filter(|k| k.uses_media_slot())
            .map(JobKind::as_str)
            .collect();
        let sql = format!(
            "DELETE FROM jobs WHERE state = 'pending' AND subject IN ({}) AND kind IN ({}) \
             AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.sha256 = jobs.subject AND {})",
            placeholders(1, sha256s.len()),
            placeholders(1 + sha256s.len(), kinds.len()),
            super::media::CURRENT_ASSET
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in sha256s {
            q = q.bind(s);
        }
        for k in kinds {
            q = q.bind(k);
        }
        Ok(q.execute(&mut **tx).await?.rows_affected())
    }
}
