//! Publication to downstream platforms: what a platform is sent, and how.
//!
//! - `feed`: the scoped change feed (upserts and tombstones from a cursor) and the snapshot.
//! - `webhooks`: the feed pushed as signed POSTs, through the durable job queue.
//! - `oai`, `podcast`: OAI-PMH and podcast feeds, written with `xml` (the one XML writer, which
//!   drops what XML 1.0 forbids from every text and attribute value).
//!
//! Every decision of whether a platform receives a lesson is `visibility::receives` (or its SQL
//! form, `db::platforms::receives_sql`); this module only reads, renders and pages.

pub mod feed;
pub mod oai;
pub mod podcast;
pub mod webhooks;
pub mod xml;

use crate::db::Db;
use crate::db::lessons::LessonRecord;
use crate::domain::time::rfc3339;
use crate::storage::{ObjectStore, StorageError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// A lesson as a platform receives it: its fields and assets, a checksum of both (without the
/// presigned URLs, which change on every read), and presigned, expiring URLs for the assets.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Value,
    pub checksum: String,
}

/// Renders `lessons` for a platform, keyed by lesson id.
pub async fn render(
    db: &Db,
    store: &ObjectStore,
    ttl: Duration,
    lessons: &[LessonRecord],
) -> Result<HashMap<String, Rendered>, RenderError> {
    let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    let mut assets: HashMap<String, Vec<crate::db::assets::AssetRecord>> = HashMap::new();
    for a in db.assets_of_lessons(&ids).await? {
        assets.entry(a.lesson_id.clone()).or_default().push(a);
    }
    let expires_at = rfc3339(crate::db::now_ms() + ttl.as_millis() as i64);
    let mut out = HashMap::with_capacity(lessons.len());
    for l in lessons {
        let files = assets.remove(&l.id).unwrap_or_default();
        let mut body = json!({
            "id": l.id,
            "title": l.title,
            "description": l.description,
            "kind": l.kind,
            "tags": l.tags,
            "lecturer": l.lecturer,
            "series": l.series,
            "region_code": l.region_code,
            "region_name": l.region_code.as_deref().and_then(crate::domain::region::name),
            "recorded_on": l.recorded_on,
            "language": l.language,
            "version": l.version,
            "published_at": l.published_at.map(rfc3339),
            "assets": files.iter().map(|a| json!({
                "id": a.id,
                "role": a.role,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            })).collect::<Vec<_>>(),
        });
        // serde_json's maps are sorted, so this serialisation is canonical.
        let checksum = hex::encode(Sha256::digest(body.to_string().as_bytes()));
        if let Some(list) = body.get_mut("assets").and_then(Value::as_array_mut) {
            for (entry, a) in list.iter_mut().zip(&files) {
                let url = store
                    .presign_get(
                        &a.object_key,
                        ttl,
                        &a.content_type,
                        &crate::domain::filename::content_disposition(a.disposition, &a.filename),
                    )
                    .await?;
                entry["url"] = json!(url);
                entry["url_expires_at"] = json!(expires_at);
            }
        }
        out.insert(l.id.clone(), Rendered { body, checksum });
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What the HTTP layer shares for publication: the feed, the change-log head that long polls wait
/// on, and platforms' pulls not yet written down.
pub struct Hub {
    pub feed: feed::Feed,
    head: tokio::sync::watch::Sender<i64>,
    pulls: std::sync::Mutex<HashMap<String, (i64, i64)>>,
}

impl Hub {
    pub fn new(feed: feed::Feed) -> Self {
        Self {
            feed,
            head: tokio::sync::watch::Sender::new(0),
            pulls: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// A receiver that wakes when the change-log head moves.
    pub fn watch_head(&self) -> tokio::sync::watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// Publishes the head read from the database (by the background follower).
    pub fn note_head(&self, head: i64) {
        self.head.send_if_modified(|h| {
            let moved = *h != head;
            *h = head;
            moved
        });
    }

    /// Notes that platform `id` pulled, up to position `seq`.
    pub fn note_pull(&self, id: &str, seq: i64) {
        if let Ok(mut pulls) = self.pulls.lock() {
            pulls.insert(id.to_owned(), (crate::db::now_ms(), seq));
        }
    }

    /// Writes the pulls noted since the last call (a write every few seconds, not one per pull).
    pub async fn flush_pulls(&self, db: &Db) -> Result<(), sqlx::Error> {
        let pulls: Vec<(String, i64, i64)> = match self.pulls.lock() {
            Ok(mut p) => p.drain().map(|(id, (at, seq))| (id, at, seq)).collect(),
            Err(_) => return Ok(()),
        };
        db.record_pulls(&pulls).await
    }

    /// Follows the change-log head and writes pulls down, until the task is aborted.
    pub async fn run(self: std::sync::Arc<Self>, db: Db) {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            match db.change_head().await {
                Ok(h) => self.note_head(h),
                Err(e) => tracing::warn!(error = %e, "could not read the change-log head"),
            }
            ticks += 1;
            if ticks.is_multiple_of(40)
                && let Err(e) = self.flush_pulls(&db).await
            {
                tracing::warn!(error = %e, "could not record platforms' pulls");
            }
        }
    }
}
