//! Downstream platforms, their keys, the audience of lessons, and what each platform was sent.
//!
//! Invariants:
//! - A change to what a platform receives that is not a change of a lesson (its filters, its
//!   place in the tree) appends a `platform` entry to the change log in the same transaction, so
//!   the platform's feed re-evaluates everything at that position (see `publish::feed`).
//! - `platform_sent` only grows: every lesson ever sent to a platform as an upsert. Tombstones go
//!   only to those, so a platform never learns the ids of lessons that were not for it.

use super::audit::{Actor, Event};
use super::changes::{self, Entity, Op};
use super::{Db, Tx, new_id, now_ms, placeholders};
use crate::domain::org;
use crate::domain::platform::{Channel, Filters};
use crate::domain::visibility::Platform;
use sqlx::AssertSqlSafe;
use std::collections::HashSet;

/// A platform as stored, with its organisation's path.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlatformRecord {
    pub id: String,
    pub org_id: String,
    pub org_path: String,
    pub name: String,
    pub channel: Channel,
    pub kinds: String,
    pub tags: String,
    pub series: String,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub webhook_cursor: String,
    pub last_pull_at: Option<i64>,
    pub last_pull_seq: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
}

impl PlatformRecord {
    pub fn filters(&self) -> Filters {
        let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
        Filters {
            kinds: list(&self.kinds),
            tags: list(&self.tags),
            series: list(&self.series),
        }
    }

    /// The platform as a caller of the feed (`key_id` names the key it came with).
    pub fn caller(&self, key_id: &str) -> Platform {
        Platform {
            id: self.id.clone(),
            key_id: key_id.to_owned(),
            org_path: self.org_path.clone(),
            filters: self.filters(),
        }
    }
}

/// A platform's fields as an administrator sets them.
#[derive(Debug, Clone)]
pub struct PlatformFields {
    pub name: String,
    pub channel: Channel,
    pub filters: Filters,
    pub webhook_url: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct KeyRecord {
    pub id: String,
    pub platform_id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "p.id, p.org_id, o.path AS org_path, p.name, p.channel, p.kinds, p.tags, \
    p.series, p.webhook_url, p.webhook_secret, p.webhook_cursor, p.last_pull_at, \
    p.last_pull_seq, p.created_at, p.updated_at, p.disabled_at";
const FROM: &str = "platforms p JOIN orgs o ON o.id = p.org_id";

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The SQL condition (on `lessons l`) of [`crate::domain::visibility::receives`], with its values
/// appended to `binds` and numbered after those already there. The two must agree; the feed's
/// model test checks the snapshot (this) against the feed (the function).
pub(super) fn receives_sql(p: &Platform, binds: &mut Vec<String>) -> String {
    let list = |binds: &mut Vec<String>, values: &[String]| -> String {
        let from = binds.len() + 1;
        binds.extend(values.iter().cloned());
        placeholders(from, values.len())
    };
    let ancestors: Vec<String> = org::ids(&p.org_path)
        .into_iter()
        .map(str::to_owned)
        .collect();
    // A platform always sits in the tree, so it has at least its own organisation.
    let ancestors = if ancestors.is_empty() {
        vec![String::new()]
    } else {
        ancestors
    };
    let mut sql = String::from("l.status = 'published'");
    let a = list(binds, &ancestors);
    sql.push_str(&format!(
        " AND (COALESCE(l.scope_org_id, l.org_id) IS NULL \
         OR COALESCE(l.scope_org_id, l.org_id) IN ({a}))"
    ));
    let a = list(binds, &ancestors);
    sql.push_str(&format!(
        " AND (l.audience_org_id IS NULL OR l.audience_org_id IN ({a}))"
    ));
    let me = list(binds, std::slice::from_ref(&p.id));
    sql.push_str(&format!(
        " AND (NOT EXISTS (SELECT 1 FROM lesson_platforms lp WHERE lp.lesson_id = l.id) \
         OR EXISTS (SELECT 1 FROM lesson_platforms lp WHERE lp.lesson_id = l.id \
         AND lp.platform_id = {me}))"
    ));
    if !p.filters.kinds.is_empty() {
        let k = list(binds, &p.filters.kinds);
        sql.push_str(&format!(" AND l.kind IN ({k})"));
    }
    if !p.filters.series.is_empty() {
        let s = list(binds, &p.filters.series);
        sql.push_str(&format!(" AND l.series IN ({s})"));
    }
    if !p.filters.tags.is_empty() {
        let t = list(binds, &p.filters.tags);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM lesson_tags ft WHERE ft.lesson_id = l.id AND ft.tag IN ({t}))"
        ));
    }
    sql
}

impl Db {
    /// Runs `sql` (one text column) with `binds` as `$1…` and, when given, `limit` after them.
    async fn strings(
        &self,
        sql: &str,
        binds: &[String],
        limit: Option<i64>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        if let Some(n) = limit {
            q = q.bind(n);
        }
        q.fetch_all(self.pool()).await
    }
}

/// Appends the entry that makes platform `id`'s feed re-evaluate everything.
pub(super) async fn append_resync(tx: &mut Tx, id: &str) -> Result<i64, sqlx::Error> {
    changes::append(tx, Entity::Platform, id, "", Op::Update).await
}

impl Db {
    pub async fn create_platform(
        &self,
        org_id: &str,
        f: &PlatformFields,
        webhook_secret: Option<&str>,
        webhook_cursor: &str,
        actor: &Actor,
    ) -> Result<PlatformRecord, sqlx::Error> {
        let id = new_id();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO platforms (id, org_id, name, channel, kinds, tags, series, webhook_url, \
             webhook_secret, webhook_cursor, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $10, $10)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(&f.name)
        .bind(f.channel.as_str())
        .bind(json_list(&f.filters.kinds))
        .bind(json_list(&f.filters.tags))
        .bind(json_list(&f.filters.series))
        .bind(f.webhook_url.as_deref())
        .bind(webhook_secret)
        .bind(now)
        .bind(webhook_cursor)
        .execute(&mut *tx)
        .await?;
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "platform.create",
                target_kind: "platform",
                target_id: Some(&id),
                org_id: Some(org_id),
                before: None,
                after: Some(fields_json(f)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(self
            .platform(&id)
            .await?
            .expect("a platform just created exists"))
    }

    pub async fn platform(&self, id: &str) -> Result<Option<PlatformRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE p.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    /// The platforms registered inside the subtrees at `paths` (`None`: all), oldest first.
    pub async fn platforms_within(
        &self,
        paths: Option<&[String]>,
    ) -> Result<Vec<PlatformRecord>, sqlx::Error> {
        match paths {
            None => {
                sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM {FROM} ORDER BY p.id LIMIT 10000"
                )))
                .fetch_all(self.pool())
                .await
            }
            Some([]) => Ok(Vec::new()),
            Some(paths) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM {FROM} WHERE {} ORDER BY p.id LIMIT 10000",
                    super::within_subtrees("o.path", 1, paths.len())
                );
                let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
                for p in super::subtree_patterns(paths) {
                    q = q.bind(p);
                }
                q.fetch_all(self.pool()).await
            }
        }
    }

    /// Changes a platform's fields; a change of its filters makes its feed re-evaluate. With
    /// `webhook_cursor`, webhooks start over from there (a webhook URL newly set starts at the
    /// head: the feed has the past).
    pub async fn update_platform(
        &self,
        current: &PlatformRecord,
        f: &PlatformFields,
        webhook_secret: Option<&str>,
        webhook_cursor: Option<&str>,
        actor: &Actor,
    ) -> Result<PlatformRecord, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE platforms SET name = $2, channel = $3, kinds = $4, tags = $5, series = $6, \
             webhook_url = $7, webhook_secret = COALESCE($8, webhook_secret), updated_at = $9, \
             webhook_cursor = COALESCE($10, webhook_cursor) WHERE id = $1",
        )
        .bind(&current.id)
        .bind(&f.name)
        .bind(f.channel.as_str())
        .bind(json_list(&f.filters.kinds))
        .bind(json_list(&f.filters.tags))
        .bind(json_list(&f.filters.series))
        .bind(f.webhook_url.as_deref())
        .bind(webhook_secret)
        .bind(now_ms())
        .bind(webhook_cursor)
        .execute(&mut *tx)
        .await?;
        let before = current.filters();
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "platform.update",
                target_kind: "platform",
                target_id: Some(&current.id),
                org_id: Some(&current.org_id),
                before: Some(serde_json::json!({
                    "name": current.name, "channel": current.channel, "filters": before,
                    "webhook_url": current.webhook_url,
                })),
                after: Some(fields_json(f)),
            },
        )
        .await?;
        if before != f.filters {
            append_resync(&mut tx, &current.id).await?;
        }
        tx.commit().await?;
        Ok(self
            .platform(&current.id)
            .await?
            .expect("a platform being updated exists"))
    }

    /// Disables a platform: its keys stop working at once and nothing more is delivered to it.
    pub async fn disable_platform(
        &self,
        current: &PlatformRecord,
        actor: &Actor,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE platforms SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL")
            .bind(&current.id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "platform.disable",
                target_kind: "platform",
                target_id: Some(&current.id),
                org_id: Some(&current.org_id),
                before: None,
                after: None,
            },
        )
        .await?;
        tx.commit().await
    }

    // --- keys ---

    /// Adds a key (stored as `key_hash`) to a platform; older keys keep working until revoked,
    /// so a key is rotated without downtime.
    pub async fn create_platform_key(
        &self,
        platform: &PlatformRecord,
        name: &str,
        key_hash: &str,
        actor: &Actor,
    ) -> Result<KeyRecord, sqlx::Error> {
        let id = new_id();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO platform_keys (id, platform_id, name, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&platform.id)
        .bind(name)
        .bind(key_hash)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "platform.key_create",
                target_kind: "platform",
                target_id: Some(&platform.id),
                org_id: Some(&platform.org_id),
                before: None,
                after: Some(serde_json::json!({ "key_id": id, "name": name })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(self
            .platform_keys(&platform.id)
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .expect("a key just created exists"))
    }

    pub async fn platform_keys(&self, platform_id: &str) -> Result<Vec<KeyRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, platform_id, name, created_at, last_used_at, revoked_at \
             FROM platform_keys WHERE platform_id = $1 ORDER BY id",
        )
        .bind(platform_id)
        .fetch_all(self.pool())
        .await
    }

    /// Revokes key `key_id` of a platform; `false` when it has no such live key.
    pub async fn revoke_platform_key(
        &self,
        platform: &PlatformRecord,
        key_id: &str,
        actor: &Actor,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE platform_keys SET revoked_at = $3 WHERE id = $1 AND platform_id = $2 \
             AND revoked_at IS NULL",
        )
        .bind(key_id)
        .bind(&platform.id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            Self::audit_in(
                &mut tx,
                actor,
                Event {
                    action: "platform.key_revoke",
                    target_kind: "platform",
                    target_id: Some(&platform.id),
                    org_id: Some(&platform.org_id),
                    before: None,
                    after: Some(serde_json::json!({ "key_id": key_id })),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The enabled platform whose live key has this hash, and the key's id; noting (at most
    /// once in ten minutes) that the key was used.
    pub async fn platform_by_key(
        &self,
        key_hash: &str,
    ) -> Result<Option<(PlatformRecord, String)>, sqlx::Error> {
        let row: Option<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT k.id, k.platform_id, k.last_used_at FROM platform_keys k JOIN platforms p \
             ON p.id = k.platform_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL \
             AND p.disabled_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some((key_id, platform_id, used)) = row else {
            return Ok(None);
        };
        self.note_use(super::Credential::PlatformKey, &key_id, used)
            .await?;
        Ok(self.platform(&platform_id).await?.map(|p| (p, key_id)))
    }

    // --- webhooks ---

    /// The enabled platforms with a webhook URL.
    pub async fn webhook_platforms(&self) -> Result<Vec<PlatformRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE p.webhook_url IS NOT NULL \
             AND p.disabled_at IS NULL ORDER BY p.id"
        )))
        .fetch_all(self.pool())
        .await
    }

    /// Moves platform `id`'s webhook cursor from `old` to `new` and queues `deliveries`, together or not at all; `false` when the cursor was no longer `old` (another
    /// instance got there first), in which case nothing is queued.
    pub async fn move_webhook_cursor(
        &self,
        id: &str,
        old: &str,
        new: &str,
        deliveries: &[super::jobs::NewJob],
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE platforms SET webhook_cursor = $3 WHERE id = $1 AND webhook_cursor = $2",
        )
        .bind(id)
        .bind(old)
        .bind(new)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        for job in deliveries {
            Self::enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await?;
        if !deliveries.is_empty() {
            self.jobs_queued().notify_one();
        }
        Ok(true)
    }

    // --- what platforms were sent ---

    /// Records that `lesson_ids` were sent to `platform_id` as upserts.
    pub async fn mark_sent(
        &self,
        platform_id: &str,
        lesson_ids: &[&str],
    ) -> Result<(), sqlx::Error> {
        if lesson_ids.is_empty() {
            return Ok(());
        }
        // Skip what is already recorded, so a pull that repeats itself writes nothing.
        let known = self.sent_among(platform_id, lesson_ids).await?;
        let fresh: Vec<&str> = lesson_ids
            .iter()
            .copied()
            .filter(|id| !known.contains(*id))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in fresh.chunks(400) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${})", i + 2))
                .collect();
            let sql = format!(
                "INSERT INTO platform_sent (platform_id, lesson_id) VALUES {} \
                 ON CONFLICT DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str())).bind(platform_id);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// Which of `lesson_ids` were ever sent to `platform_id`.
    pub async fn sent_among(
        &self,
        platform_id: &str,
        lesson_ids: &[&str],
    ) -> Result<HashSet<String>, sqlx::Error> {
        let mut out = HashSet::new();
        for chunk in lesson_ids.chunks(400) {
            let sql = format!(
                "SELECT lesson_id FROM platform_sent WHERE platform_id = $1 AND lesson_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q =
                sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.as_str())).bind(platform_id);
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(out)
    }

    /// Up to `limit` lesson ids after `after`, in order, that platform `p` either receives now or
    /// was ever sent: what a re-evaluation of everything must look at.
    pub async fn resync_ids(
        &self,
        p: &Platform,
        after: &str,
        limit: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut binds = vec![after.to_owned()];
        let receives = receives_sql(p, &mut binds);
        binds.push(p.id.clone());
        let me = binds.len();
        binds.push(after.to_owned());
        let after2 = binds.len();
        let sql = format!(
            "SELECT id FROM (SELECT l.id AS id FROM lessons l WHERE l.id > $1 AND {receives} \
             UNION SELECT s.lesson_id AS id FROM platform_sent s WHERE s.platform_id = ${me} \
             AND s.lesson_id > ${after2}) u ORDER BY id LIMIT ${}",
            binds.len() + 1
        );
        self.strings(&sql, &binds, Some(limit)).await
    }

    /// Up to `limit` lesson ids after `after`, in order, that are records of platform `p`'s
    /// OAI-PMH repository: those it receives, and (as deleted records) those it was sent and no
    /// longer receives, deleted lessons included. With `series` or `org_id`, only lessons of that
    /// series or owned inside that organisation's subtree (deleted lessons, whose facts are gone,
    /// are then left out); with `changed_since`, only lessons with a change-log entry since then.
    pub async fn oai_candidates(
        &self,
        p: &Platform,
        after: &str,
        series: Option<&str>,
        org_id: Option<&str>,
        changed_since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut binds: Vec<String> = vec![after.to_owned(), p.id.clone()];
        let receives = receives_sql(p, &mut binds);
        let mut live = format!(
            "SELECT l.id AS id FROM lessons l WHERE l.id > $1 AND (({receives}) OR l.id IN \
             (SELECT s.lesson_id FROM platform_sent s WHERE s.platform_id = $2))"
        );
        let mut gone = String::from(
            " UNION SELECT s.lesson_id AS id FROM platform_sent s WHERE s.platform_id = $2 \
             AND s.lesson_id > $1 AND NOT EXISTS (SELECT 1 FROM lessons x WHERE x.id = s.lesson_id)",
        );
        if let Some(name) = series {
            binds.push(name.to_owned());
            live.push_str(&format!(" AND l.series = ${}", binds.len()));
            gone.clear();
        }
        if let Some(org) = org_id {
            binds.push(format!("%/{org}/%"));
            live.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM orgs oo WHERE oo.id = l.org_id AND oo.path LIKE ${})",
                binds.len()
            ));
            gone.clear();
        }
        if let Some(since) = changed_since {
            binds.push(since.to_string());
            let n = binds.len();
            let recent = |col: &str| {
                format!(
                    " AND EXISTS (SELECT 1 FROM changes c WHERE c.lesson_id = {col} \
                     AND c.at >= CAST(${n} AS BIGINT))"
                )
            };
            live.push_str(&recent("l.id"));
            if !gone.is_empty() {
                gone.push_str(&recent("s.lesson_id"));
            }
        }
        let sql = format!(
            "SELECT id FROM ({live}{gone}) u ORDER BY id LIMIT ${}",
            binds.len() + 1
        );
        self.strings(&sql, &binds, Some(limit)).await
    }

    /// When each of `lesson_ids` last had a change-log entry (pruned entries are gone).
    pub async fn last_changes(
        &self,
        lesson_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, i64>, sqlx::Error> {
        let mut out = std::collections::HashMap::new();
        for chunk in lesson_ids.chunks(400) {
            let sql = format!(
                "SELECT lesson_id, MAX(at) FROM changes WHERE lesson_id IN ({}) GROUP BY lesson_id",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, i64)>(AssertSqlSafe(sql.as_str()));
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(out)
    }

    /// When platform `id`'s feed last had to re-evaluate everything (its filters or its place in
    /// the tree changed), if that is still in the change log.
    pub async fn platform_resync_at(&self, id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT MAX(at) FROM changes WHERE entity = 'platform' AND entity_id = $1",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await
    }

    /// The time of the oldest entry left in the change log.
    pub async fn earliest_change_at(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT MIN(at) FROM changes")
            .fetch_one(self.pool())
            .await
    }

    /// The series of the lessons platform `p` receives.
    pub async fn received_series(&self, p: &Platform) -> Result<Vec<String>, sqlx::Error> {
        let mut binds = Vec::new();
        let receives = receives_sql(p, &mut binds);
        let sql = format!(
            "SELECT DISTINCT l.series FROM lessons l WHERE {receives} AND l.series IS NOT NULL \
             ORDER BY l.series LIMIT 10000"
        );
        self.strings(&sql, &binds, None).await
    }

    /// The paths of the organisations owning lessons platform `p` receives.
    pub async fn received_owner_paths(&self, p: &Platform) -> Result<Vec<String>, sqlx::Error> {
        let mut binds = Vec::new();
        let receives = receives_sql(p, &mut binds);
        let sql = format!(
            "SELECT DISTINCT o.path FROM lessons l JOIN orgs o ON o.id = l.org_id \
             WHERE {receives} ORDER BY o.path LIMIT 10000"
        );
        self.strings(&sql, &binds, None).await
    }

    /// Records when platforms last pulled and from where (`(platform, at, seq)`).
    pub async fn record_pulls(&self, pulls: &[(String, i64, i64)]) -> Result<(), sqlx::Error> {
        if pulls.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (id, at, seq) in pulls {
            sqlx::query("UPDATE platforms SET last_pull_at = $2, last_pull_seq = $3 WHERE id = $1")
                .bind(id)
                .bind(at)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    // --- the audience of lessons ---

    /// Sets who receives lesson `id` inside its scope: a subtree (`audience_org_id`), named
    /// `platforms`, or (both empty) the whole scope. The caller has checked that both lie inside
    /// the scope; the feed re-checks on every read. `false` when the lesson is gone.
    pub async fn set_audience(
        &self,
        lesson: &super::lessons::LessonRecord,
        audience_org_id: Option<&str>,
        platforms: &[String],
        actor: &Actor,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(
            "UPDATE lessons SET audience_org_id = $2, version = version + 1, updated_at = $3 \
             WHERE id = $1",
        )
        .bind(&lesson.id)
        .bind(audience_org_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if found == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM lesson_platforms WHERE lesson_id = $1")
            .bind(&lesson.id)
            .execute(&mut *tx)
            .await?;
        for p in platforms {
            sqlx::query("INSERT INTO lesson_platforms (lesson_id, platform_id) VALUES ($1, $2)")
                .bind(&lesson.id)
                .bind(p)
                .execute(&mut *tx)
                .await?;
        }
        Self::audit_in(
            &mut tx,
            actor,
            Event {
                action: "lesson.audience",
                target_kind: "lesson",
                target_id: Some(&lesson.id),
                org_id: lesson.org_id.as_deref(),
                before: Some(serde_json::json!({
                    "audience_org_id": lesson.audience_org_id, "platforms": lesson.platforms,
                })),
                after: Some(serde_json::json!({
                    "audience_org_id": audience_org_id, "platforms": platforms,
                })),
            },
        )
        .await?;
        changes::append(&mut tx, Entity::Lesson, &lesson.id, &lesson.id, Op::Update).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn fields_json(f: &PlatformFields) -> serde_json::Value {
    serde_json::json!({
        "name": f.name, "channel": f.channel.as_str(), "filters": f.filters,
        "webhook_url": f.webhook_url,
    })
}
