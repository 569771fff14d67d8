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
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// A lesson as a platform receives it: its live fields and its files. The same struct is the
/// body of feed and snapshot upserts, of webhook events and of the OpenAPI schema.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlatformLesson {
    pub id: String,
    pub title: String,
    pub description: String,
    #[schema(value_type = crate::domain::lesson::LessonKind)]
    pub kind: String,
    pub tags: Vec<String>,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    /// A GB/T 2260 region code.
    pub region_code: Option<String>,
    /// The region's name, when the code is in the embedded table.
    pub region_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub recorded_on: Option<String>,
    pub language: String,
    pub version: i64,
    /// RFC 3339.
    pub published_at: Option<String>,
    pub assets: Vec<PlatformAsset>,
}

/// A file of a lesson as a platform receives it. `url` and `url_expires_at` are left out of the
/// checksum (they change on every read) and are always present in what is sent.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlatformAsset {
    pub id: String,
    pub role: crate::domain::asset::AssetRole,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// The SHA-256 of the bytes, hex.
    pub sha256: String,
    /// A presigned, expiring URL straight to object storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub url: Option<String>,
    /// When `url` stops working (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub url_expires_at: Option<String>,
}

/// A lesson as a platform receives it, with a checksum of its fields and files (computed
/// without the presigned URLs, which change on every read).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: PlatformLesson,
    pub checksum: String,
}

/// The checksum of a lesson as sent: the SHA-256 of its canonical JSON without the URLs
/// (`serde_json`'s maps are sorted, so the serialisation is canonical).
fn checksum(lesson: &PlatformLesson) -> String {
    let value = serde_json::to_value(lesson).unwrap_or(Value::Null);
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
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
        let mut body = PlatformLesson {
            id: l.id.clone(),
            title: l.title.clone(),
            description: l.description.clone(),
            kind: l.kind.clone(),
            tags: l.tags.clone(),
            lecturer: l.lecturer.clone(),
            series: l.series.clone(),
            region_code: l.region_code.clone(),
            region_name: l
                .region_code
                .as_deref()
                .and_then(crate::domain::region::name)
                .map(Into::into),
            recorded_on: l.recorded_on.clone(),
            language: l.language.clone(),
            version: l.version,
            published_at: l.published_at.map(rfc3339),
            assets: files
                .iter()
                .map(|a| PlatformAsset {
                    id: a.id.clone(),
                    role: a.role,
                    filename: a.filename.clone(),
                    content_type: a.content_type.clone(),
                    size: a.size,
                    sha256: a.sha256.clone(),
                    url: None,
                    url_expires_at: None,
                })
                .collect(),
        };
        let checksum = checksum(&body);
        for (entry, a) in body.assets.iter_mut().zip(&files) {
            let url = store
                .presign_get(
                    &a.object_key,
                    ttl,
                    &a.content_type,
                    &crate::domain::filename::content_disposition(a.disposition, &a.filename),
                )
                .await?;
            entry.url = Some(url);
            entry.url_expires_at = Some(expires_at.clone());
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
