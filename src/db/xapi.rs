//! The Learning Record Store's statements (`xapi_statements` and the agents and activities each
//! names), and the learning records the statements about lessons make (`learning_progress` and
//! `learning_days` with the platform's id as source). A batch is stored in one transaction:
//! all of it or nothing.

use super::{Backend, Db};
use crate::domain::xapi::Folded;

/// A statement to store, with the columns the queries filter on.
#[derive(Debug, Clone)]
pub struct NewStatement {
    pub id: String,
    pub stored_ms: i64,
    pub timestamp_ms: i64,
    pub verb_id: String,
    pub registration: Option<String>,
    pub ref_id: Option<String>,
    pub voiding: bool,
    pub digest: String,
    /// The member the actor is, when it is one (for anonymisation), and the lesson the object
    /// is: both together make the statement a learning record.
    pub user_id: Option<String>,
    pub lesson_id: Option<String>,
    pub body: String,
    pub agents: Vec<(String, bool)>,
    pub activities: Vec<(String, bool)>,
}

/// An attachment's bytes sent with a batch: already in object storage under `object_key`; the
/// row that lets the platform reach them is written with the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub sha2: String,
    pub content_type: String,
    pub length: i64,
    pub object_key: String,
}

/// An attachment a platform sent, as read back.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredAttachment {
    pub sha2: String,
    pub content_type: String,
    pub length: i64,
    pub object_key: String,
}

/// Why a batch was not stored (nothing of it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A statement with this id is stored with other content.
    Conflict(String),
    /// This voiding statement targets a voiding statement.
    VoidsVoiding(String),
}

/// A stored statement as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredStatement {
    pub id: String,
    pub stored_ms: i64,
    pub voided: i64,
    pub body: String,
}

/// The filters of `GET /statements` (besides the id lookups).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct StatementQuery {
    pub agent: Option<String>,
    pub related_agents: bool,
    pub verb: Option<String>,
    pub activity: Option<String>,
    pub related_activities: bool,
    pub registration: Option<String>,
    /// Stored strictly after (Unix ms).
    pub since_ms: Option<i64>,
    /// Stored at or before (Unix ms).
    pub until_ms: Option<i64>,
    pub ascending: bool,
    /// The last statement of the page before: its stored time and id.
    pub after: Option<(i64, String)>,
    /// Nothing stored after this (the first page's moment), so paging sees one state.
    pub through_ms: i64,
}

impl Db {
    /// Stores `batch` for platform `platform_id`, all or nothing: a statement whose id is stored
    /// with the same digest is skipped, with another digest refuses the batch. A voiding
    /// statement voids its target among the platform's statements (now, or when the target
    /// arrives later). Every learning record a stored or voided statement touches is folded
    /// again from its statements that stand (`fold`: the bodies, oldest first, and the lesson).
    /// The attachments sent with the batch become the platform's (once per hash).
    /// Answers whether a statement was new, per statement.
    pub async fn store_statements(
        &self,
        platform_id: &str,
        batch: &[NewStatement],
        attachments: &[NewAttachment],
        fold: impl Fn(&str, Vec<String>) -> Folded,
    ) -> Result<Result<Vec<bool>, Refused>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let stored_ms = super::now_ms();
        for a in attachments {
            sqlx::query(
                "INSERT INTO xapi_attachments (platform_id, sha2, content_type, length, \
                 object_key, stored_ms) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (platform_id, sha2) DO NOTHING",
            )
            .bind(platform_id)
            .bind(&a.sha2)
            .bind(&a.content_type)
            .bind(a.length)
            .bind(&a.object_key)
            .bind(stored_ms)
            .execute(&mut *tx)
            .await?;
        }
        let mut fresh = Vec::with_capacity(batch.len());
        let mut touched: Vec<(String, String)> = Vec::new();
        for s in batch {
            let old: Option<String> =
                sqlx::query_scalar("SELECT digest FROM xapi_statements WHERE id = $1")
                    .bind(&s.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match old {
                Some(d) if d == s.digest => {
                    fresh.push(false);
                    continue;
                }
                Some(_) => return Ok(Err(Refused::Conflict(s.id.clone()))),
                None => {}
            }
            if s.voiding
                && let Some(target) = &s.ref_id
            {
                let target_voiding: Option<i64> = sqlx::query_scalar(
                    "SELECT voiding FROM xapi_statements WHERE id = $1 AND platform_id = $2",
                )
                .bind(target)
                .bind(platform_id)
                .fetch_optional(&mut *tx)
                .await?;
                if target_voiding == Some(1) {
                    return Ok(Err(Refused::VoidsVoiding(s.id.clone())));
                }
            }
            // Voided already when a voiding statement for it came first.
            let voided: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM xapi_statements WHERE ref_id = $1 AND voiding = 1 \
                 AND platform_id = $2 LIMIT 1",
            )
            .bind(&s.id)
            .bind(platform_id)
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO xapi_statements (id, platform_id, stored_ms, timestamp_ms, verb_id, \
                 registration, ref_id, voiding, voided, digest, user_id, lesson_id, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&s.id)
            .bind(platform_id)
            .bind(s.stored_ms)
            .bind(s.timestamp_ms)
            .bind(&s.verb_id)
            .bind(&s.registration)
            .bind(&s.ref_id)
            .bind(i64::from(s.voiding))
            .bind(i64::from(voided.is_some() && !s.voiding))
            .bind(&s.digest)
            .bind(&s.user_id)
            .bind(&s.lesson_id)
            .bind(&s.body)
            .execute(&mut *tx)
            .await?;
            for (agent, related) in &s.agents {
                sqlx::query(
                    "INSERT INTO xapi_statement_agents (statement_id, agent, related) \
                     VALUES ($1, $2, $3)",
                )
                .bind(&s.id)
                .bind(agent)
                .bind(i64::from(*related))
                .execute(&mut *tx)
                .await?;
            }
            for (activity, related) in &s.activities {
                sqlx::query(
                    "INSERT INTO xapi_statement_activities (statement_id, activity, related) \
                     VALUES ($1, $2, $3)",
                )
                .bind(&s.id)
                .bind(activity)
                .bind(i64::from(*related))
                .execute(&mut *tx)
                .await?;
            }
            if let (Some(u), Some(l)) = (&s.user_id, &s.lesson_id) {
                touched.push((u.clone(), l.clone()));
            }
            if s.voiding
                && let Some(target) = &s.ref_id
            {
                let hit: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                    "UPDATE xapi_statements SET voided = 1 WHERE id = $1 AND platform_id = $2 \
                     AND voiding = 0 RETURNING user_id, lesson_id",
                )
                .bind(target)
                .bind(platform_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((Some(u), Some(l))) = hit {
                    touched.push((u, l));
                }
            }
            fresh.push(true);
        }
        // In one order, so two batches never wait for each other's rows crosswise.
        touched.sort();
        touched.dedup();
        for (user_id, lesson_id) in touched {
            self.refold(&mut tx, platform_id, &user_id, &lesson_id, &fold)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(fresh))
    }

    /// Folds the learning record of (`user_id`, `lesson_id`) from `platform_id`'s statements
    /// again, the record's row locked first (PostgreSQL) so a batch committed meanwhile is seen.
    async fn refold(
        &self,
        tx: &mut super::Tx,
        platform_id: &str,
        user_id: &str,
        lesson_id: &str,
        fold: &impl Fn(&str, Vec<String>) -> Folded,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO learning_progress (user_id, lesson_id, source, spans, covered_ms, \
             duration_ms, time_ms, position_ms, credit_ms, completed_at, first_at, updated_at) \
             VALUES ($1, $2, $3, '[]', 0, NULL, 0, 0, 0, NULL, 0, 0) \
             ON CONFLICT (user_id, lesson_id, source) DO NOTHING",
        )
        .bind(user_id)
        .bind(lesson_id)
        .bind(platform_id)
        .execute(&mut **tx)
        .await?;
        if self.backend() == Backend::Postgres {
            sqlx::query(
                "SELECT user_id FROM learning_progress WHERE user_id = $1 AND lesson_id = $2 \
                 AND source = $3 FOR UPDATE",
            )
            .bind(user_id)
            .bind(lesson_id)
            .bind(platform_id)
            .execute(&mut **tx)
            .await?;
        }
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM xapi_statements WHERE platform_id = $1 AND user_id = $2 \
             AND lesson_id = $3 AND voided = 0 AND voiding = 0 ORDER BY timestamp_ms, id",
        )
        .bind(platform_id)
        .bind(user_id)
        .bind(lesson_id)
        .fetch_all(&mut **tx)
        .await?;
        let f = fold(lesson_id, bodies);
        sqlx::query(
            "UPDATE learning_progress SET spans = $4, covered_ms = $5, duration_ms = $6, \
             time_ms = $7, position_ms = $8, completed_at = $9, first_at = $10, \
             updated_at = $11 WHERE user_id = $1 AND lesson_id = $2 AND source = $3",
        )
        .bind(user_id)
        .bind(lesson_id)
        .bind(platform_id)
        .bind(serde_json::to_string(&f.spans).unwrap_or_else(|_| "[]".to_owned()))
        .bind(f.covered_ms)
        .bind(f.duration_ms)
        .bind(f.time_ms)
        .bind(f.position_ms)
        .bind(f.completed_at)
        .bind(f.first_at)
        .bind(f.updated_at)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "DELETE FROM learning_days WHERE user_id = $1 AND lesson_id = $2 AND source = $3",
        )
        .bind(user_id)
        .bind(lesson_id)
        .bind(platform_id)
        .execute(&mut **tx)
        .await?;
        for (day, ms) in &f.days {
            sqlx::query(
                "INSERT INTO learning_days (user_id, lesson_id, source, day, time_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(user_id)
            .bind(lesson_id)
            .bind(platform_id)
            .bind(day)
            .bind(ms)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The statements whose actor is member `user_id` (id and body), to be rewritten when the
    /// member is anonymised.
    pub async fn statements_of_member_in(
        tx: &mut super::Tx,
        user_id: &str,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT id, body FROM xapi_statements WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await
    }

    /// Replaces a statement's body and the agents it names (anonymisation only: statements are
    /// otherwise never changed).
    pub async fn rewrite_statement_in(
        tx: &mut super::Tx,
        id: &str,
        body: &str,
        agents: &[(String, bool)],
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE xapi_statements SET body = $2 WHERE id = $1")
            .bind(id)
            .bind(body)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM xapi_statement_agents WHERE statement_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        for (agent, related) in agents {
            sqlx::query(
                "INSERT INTO xapi_statement_agents (statement_id, agent, related) \
                 VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(agent)
            .bind(i64::from(*related))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The attachments among `sha2s` (lowercase hex) that platform `platform_id` sent.
    pub async fn xapi_attachments(
        &self,
        platform_id: &str,
        sha2s: &[String],
    ) -> Result<Vec<StoredAttachment>, sqlx::Error> {
        let mut found = Vec::new();
        for sha2 in sha2s {
            let a: Option<StoredAttachment> = sqlx::query_as(
                "SELECT sha2, content_type, length, object_key FROM xapi_attachments \
                 WHERE platform_id = $1 AND sha2 = $2",
            )
            .bind(platform_id)
            .bind(sha2)
            .fetch_optional(self.pool())
            .await?;
            found.extend(a);
        }
        Ok(found)
    }

    /// Statement `id` of platform `platform_id`, voided or not.
    pub async fn statement(
        &self,
        platform_id: &str,
        id: &str,
    ) -> Result<Option<StoredStatement>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, stored_ms, voided, body FROM xapi_statements \
             WHERE id = $1 AND platform_id = $2",
        )
        .bind(id)
        .bind(platform_id)
        .fetch_optional(self.pool())
        .await
    }

    /// Up to `limit` of platform `platform_id`'s statements that stand and match `q`, newest
    /// stored first (oldest first when `q.ascending`). A statement that refers to a matching
    /// one (a StatementRef object; voiding statements aside) matches too.
    pub async fn statements(
        &self,
        platform_id: &str,
        q: &StatementQuery,
        limit: i64,
    ) -> Result<Vec<StoredStatement>, sqlx::Error> {
        let mut binds: Vec<Bind> = vec![Bind::Text(platform_id.to_owned())];
        let n = Bind::push;
        let mut filter: Vec<String> = Vec::new();
        let matches = |x: &str, binds: &mut Vec<Bind>| -> Vec<String> {
            let mut f = Vec::new();
            if let Some(v) = &q.verb {
                f.push(format!("{x}.verb_id = {}", n(Bind::Text(v.clone()), binds)));
            }
            if let Some(r) = &q.registration {
                f.push(format!(
                    "{x}.registration = {}",
                    n(Bind::Text(r.clone()), binds)
                ));
            }
            if let Some(a) = &q.agent {
                let related = if q.related_agents {
                    ""
                } else {
                    " AND a.related = 0"
                };
                f.push(format!(
                    "EXISTS (SELECT 1 FROM xapi_statement_agents a WHERE a.statement_id = {x}.id \
                     AND a.agent = {}{related})",
                    n(Bind::Text(a.clone()), binds)
                ));
            }
            if let Some(a) = &q.activity {
                let related = if q.related_activities {
                    ""
                } else {
                    " AND c.related = 0"
                };
                f.push(format!(
                    "EXISTS (SELECT 1 FROM xapi_statement_activities c WHERE \
                     c.statement_id = {x}.id AND c.activity = {}{related})",
                    n(Bind::Text(a.clone()), binds)
                ));
            }
            f
        };
        let direct = matches("s", &mut binds);
        if !direct.is_empty() {
            let target = matches("t", &mut binds);
            filter.push(format!(
                "(({}) OR (s.ref_id IS NOT NULL AND s.voiding = 0 AND EXISTS (SELECT 1 FROM \
                 xapi_statements t WHERE t.id = s.ref_id AND t.platform_id = $1 AND {})))",
                direct.join(" AND "),
                target.join(" AND ")
            ));
        }
        if let Some(since) = q.since_ms {
            filter.push(format!("s.stored_ms > {}", n(Bind::Int(since), &mut binds)));
        }
        let until = q.until_ms.map_or(q.through_ms, |u| u.min(q.through_ms));
        filter.push(format!(
            "s.stored_ms <= {}",
            n(Bind::Int(until), &mut binds)
        ));
        let (cmp, order) = if q.ascending {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if let Some((at, id)) = &q.after {
            let at = n(Bind::Int(*at), &mut binds);
            let id = n(Bind::Text(id.clone()), &mut binds);
            filter.push(format!(
                "(s.stored_ms {cmp} {at} OR (s.stored_ms = {at} AND s.id {cmp} {id}))"
            ));
        }
        let limit = n(Bind::Int(limit), &mut binds);
        let sql = format!(
            "SELECT s.id, s.stored_ms, s.voided, s.body FROM xapi_statements s \
             WHERE s.platform_id = $1 AND s.voided = 0 AND {} \
             ORDER BY s.stored_ms {order}, s.id {order} LIMIT {limit}",
            filter.join(" AND ")
        );
        let mut query = sqlx::query_as::<_, StoredStatement>(sqlx::AssertSqlSafe(sql));
        for b in binds {
            query = match b {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        query.fetch_all(self.pool()).await
    }
}

/// A value bound to a placeholder of a query built from filters.
enum Bind {
    Text(String),
    Int(i64),
}

impl Bind {
    /// Adds `b` to `binds`; its placeholder.
    fn push(b: Bind, binds: &mut Vec<Bind>) -> String {
        binds.push(b);
        format!("${}", binds.len())
    }
}
