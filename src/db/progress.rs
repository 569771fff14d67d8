//! Group commit of the player's reports (`learning_progress`, `learning_days`): reports queue
//! for one writer task per process, which takes every report waiting (up to [`MAX_BATCH`]) and
//! writes them in one transaction — the new rows created in one statement, every row read (and
//! locked, on PostgreSQL) in one, each report applied in arrival order in memory, and the rows
//! and the day totals written back in one statement each. A report is answered only once its
//! transaction committed, so nothing acknowledged is lost; while one batch is written the next
//! gathers, so a busy node writes a few large transactions instead of many small ones, and an
//! idle one writes each report at once.
//!
//! A batch that fails (a lesson deleted meanwhile, a deadlock with another node) is written
//! again report by report, so one bad report fails alone.

use super::learning::{COLUMNS, ProgressRecord, Row};
use super::{Backend, Db};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Reports written in one transaction at most.
pub const MAX_BATCH: usize = 256;

/// Reports waiting for the writer at most; senders wait beyond.
const QUEUE: usize = 8192;

/// What a report does to its record: the record as it is in, the record as it is to be out,
/// with the milliseconds of time to add to the day (`YYYY-MM-DD`) it names.
pub type Apply = Arc<dyn Fn(ProgressRecord) -> (ProgressRecord, i64, String) + Send + Sync>;

/// One report of one account in one lesson from one source, made at `now`.
pub struct ProgressWrite {
    pub user_id: String,
    pub lesson_id: String,
    pub source: String,
    pub now: i64,
    /// The credit of a record created by this report.
    pub credit_ms: i64,
    pub apply: Apply,
}

type Key = (String, String, String);

struct Queued {
    write: ProgressWrite,
    reply: oneshot::Sender<Result<ProgressRecord, sqlx::Error>>,
}

/// The queue of one process's writer task, started on first use.
#[derive(Clone, Default)]
pub(super) struct Queue(Arc<std::sync::OnceLock<mpsc::Sender<Queued>>>);

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("progress::Queue")
    }
}

impl Db {
    /// This handle without the writer's queue (the writer's own).
    fn without_queue(&self) -> Self {
        Self {
            progress: Queue::default(),
            ..self.clone()
        }
    }

    /// Records one report through the writer task (see the module); answers the record as it
    /// is after the report, once written.
    pub async fn record_progress_queued(
        &self,
        write: ProgressWrite,
    ) -> Result<ProgressRecord, sqlx::Error> {
        let sender = self.progress.0.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            // The writer holds its own handle without the queue, so it stops when the last
            // handle that can send is dropped.
            tokio::spawn(writer(self.without_queue(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send(Queued { write, reply })
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    /// Writes `writes` in one transaction, in order; if that fails, each alone (see the
    /// module). One answer per report.
    pub async fn record_progress_many(
        &self,
        writes: &[ProgressWrite],
    ) -> Vec<Result<ProgressRecord, sqlx::Error>> {
        match self.write_batch(writes).await {
            Ok(records) => records.into_iter().map(Ok).collect(),
            Err(e) if writes.len() <= 1 => vec![Err(e)],
            Err(e) => {
                tracing::warn!(error = %e, reports = writes.len(),
                    "a batch of learning reports failed; writing them one by one");
                let mut out = Vec::with_capacity(writes.len());
                for w in writes {
                    out.push(
                        self.write_batch(std::slice::from_ref(w))
                            .await
                            .map(|mut r| r.remove(0)),
                    );
                }
                out
            }
        }
    }

    async fn write_batch(
        &self,
        writes: &[ProgressWrite],
    ) -> Result<Vec<ProgressRecord>, sqlx::Error> {
        // Each record once, in one order (the order rows are locked in).
        let mut first: BTreeMap<Key, &ProgressWrite> = BTreeMap::new();
        for w in writes {
            first.entry(key(w)).or_insert(w);
        }
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "INSERT INTO learning_progress (user_id, lesson_id, source, spans, covered_ms, \
             duration_ms, time_ms, position_ms, credit_ms, completed_at, first_at, updated_at) \
             VALUES {} ON CONFLICT (user_id, lesson_id, source) DO NOTHING",
            rows(first.len(), 5, |p| {
                format!(
                    "(${}, ${}, ${}, '[]', 0, NULL, 0, 0, ${}, NULL, ${}, ${})",
                    p,
                    p + 1,
                    p + 2,
                    p + 4,
                    p + 3,
                    p + 3
                )
            })
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((u, l, s), w) in &first {
            q = q.bind(u).bind(l).bind(s).bind(w.now).bind(w.credit_ms);
        }
        q.execute(&mut *tx).await?;
        let lock = match self.backend() {
            Backend::Postgres => " ORDER BY user_id, lesson_id, source FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM learning_progress WHERE (user_id, lesson_id, source) IN \
             (VALUES {}){lock}",
            rows(first.len(), 3, |p| format!(
                "(${}, ${}, ${})",
                p,
                p + 1,
                p + 2
            ))
        );
        let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
        for (u, l, s) in first.keys() {
            q = q.bind(u).bind(l).bind(s);
        }
        let mut records: HashMap<Key, ProgressRecord> = q
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| {
                let r = ProgressRecord::from(r);
                (
                    (r.user_id.clone(), r.lesson_id.clone(), r.source.clone()),
                    r,
                )
            })
            .collect();
        let mut days: BTreeMap<(Key, String), i64> = BTreeMap::new();
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            let k = key(w);
            let old = records.get(&k).cloned().ok_or(sqlx::Error::RowNotFound)?;
            let (new, time_ms, day) = (w.apply)(old);
            if time_ms > 0 {
                *days.entry((k.clone(), day)).or_default() += time_ms;
            }
            records.insert(k, new.clone());
            out.push(new);
        }
        let sql = format!(
            "INSERT INTO learning_progress ({COLUMNS}) VALUES {} \
             ON CONFLICT (user_id, lesson_id, source) DO UPDATE SET spans = excluded.spans, \
             covered_ms = excluded.covered_ms, duration_ms = excluded.duration_ms, \
             time_ms = excluded.time_ms, position_ms = excluded.position_ms, \
             completed_at = excluded.completed_at, updated_at = excluded.updated_at, \
             credit_ms = excluded.credit_ms",
            rows(first.len(), 12, |p| {
                let list: Vec<String> = (p..p + 12).map(|i| format!("${i}")).collect();
                format!("({})", list.join(", "))
            })
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in first.keys() {
            let r = &records[k];
            q = q
                .bind(&r.user_id)
                .bind(&r.lesson_id)
                .bind(&r.source)
                .bind(serde_json::to_string(&r.spans).unwrap_or_else(|_| "[]".to_owned()))
                .bind(r.covered_ms)
                .bind(r.duration_ms)
                .bind(r.time_ms)
                .bind(r.position_ms)
                .bind(r.credit_ms)
                .bind(r.completed_at)
                .bind(r.first_at)
                .bind(r.updated_at);
        }
        q.execute(&mut *tx).await?;
        if !days.is_empty() {
            let sql = format!(
                "INSERT INTO learning_days (user_id, lesson_id, source, day, time_ms) VALUES {} \
                 ON CONFLICT (user_id, lesson_id, source, day) \
                 DO UPDATE SET time_ms = learning_days.time_ms + excluded.time_ms",
                rows(days.len(), 5, |p| {
                    format!("(${}, ${}, ${}, ${}, ${})", p, p + 1, p + 2, p + 3, p + 4)
                })
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (((u, l, s), day), time_ms) in &days {
                q = q.bind(u).bind(l).bind(s).bind(day).bind(*time_ms);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

fn key(w: &ProgressWrite) -> Key {
    (w.user_id.clone(), w.lesson_id.clone(), w.source.clone())
}

/// `n` rows of `per` parameters each, numbered from `$1`: `row(first parameter)` writes one.
fn rows(n: usize, per: usize, row: impl Fn(usize) -> String) -> String {
    (0..n)
        .map(|i| row(1 + i * per))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The writer task: every report waiting, up to [`MAX_BATCH`], in one transaction.
async fn writer(db: Db, mut rx: mpsc::Receiver<Queued>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(q) => batch.push(q),
                Err(_) => break,
            }
        }
        let (writes, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|q| (q.write, q.reply)).unzip();
        let answers = db.record_progress_many(&writes).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            // The request may have gone (its client hung up): its report is written anyway.
            let _ = reply.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rows;

    #[test]
    fn rows_number_their_parameters_in_order() {
        assert_eq!(
            rows(2, 3, |p| format!("(${}, ${}, ${})", p, p + 1, p + 2)),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(rows(0, 3, |p| p.to_string()), "");
    }
}
