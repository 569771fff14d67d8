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
    pub kind: crate::domain::lesson::LessonKind,
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
    /// A video or audio master's HLS master playlist on Lectern (read with the platform's key),
    /// once an HLS variant is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub hls_url: Option<String>,
    /// A video or audio master's ready renditions (HLS variants, the small MP4, the 64 kbit/s
    /// audio, posters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<PlatformRendition>,
}

/// A ready rendition of a master as a platform receives it. `url` is left out of the checksum.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlatformRendition {
    pub kind: crate::domain::media::RenditionKind,
    pub content_type: Option<String>,
    /// Bytes (an HLS variant: all its files).
    pub size: Option<i64>,
    /// Bits per second (average).
    pub bit_rate: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
    /// A file: a presigned URL straight to object storage (expiring with the asset's `url`); an
    /// HLS variant: its playlist on Lectern, whose segments are presigned URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub url: Option<String>,
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
    let all = db.assets_of_lessons(&ids).await?;
    let masters: Vec<&str> = all
        .iter()
        .filter(|a| media_master(a))
        .map(|a| a.sha256.as_str())
        .collect();
    let mut renditions: HashMap<String, Vec<crate::db::media::RenditionRecord>> = HashMap::new();
    for r in db.ready_renditions(&masters, None).await? {
        renditions
            .entry(r.source_sha256.clone())
            .or_default()
            .push(r);
    }
    for a in all {
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
            kind: l.kind,
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
                    hls_url: None,
                    renditions: Vec::new(),
                })
                .collect(),
        };
        for (entry, a) in body.assets.iter_mut().zip(&files) {
            let made = renditions.get(&a.sha256).filter(|_| media_master(a));
            let Some(made) = made else { continue };
            let base = format!("/api/v1/assets/{}/media", a.id);
            entry.hls_url = made
                .iter()
                .any(|r| r.kind.hls().is_some())
                .then(|| format!("{base}/hls/master.m3u8"));
            entry.renditions = made
                .iter()
                .map(|r| PlatformRendition {
                    kind: r.kind,
                    content_type: r.content_type.clone(),
                    size: r.size,
                    bit_rate: r.bit_rate,
                    width: r.width,
                    height: r.height,
                    duration_ms: r.duration_ms,
                    url: None,
                })
                .collect();
        }
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
            for r in &mut entry.renditions {
                r.url = Some(match r.kind.hls() {
                    Some(v) => format!("/api/v1/assets/{}/media/hls/{}.m3u8", a.id, v.name()),
                    None => {
                        let key = renditions
                            .get(&a.sha256)
                            .and_then(|all| all.iter().find(|x| x.kind == r.kind))
                            .and_then(|x| x.object_key.clone())
                            .unwrap_or_default();
                        store
                            .presign_get(
                                &key,
                                ttl,
                                r.content_type
                                    .as_deref()
                                    .unwrap_or("application/octet-stream"),
                                "attachment",
                            )
                            .await?
                    }
                });
            }
        }
        out.insert(l.id.clone(), Rendered { body, checksum });
    }
    Ok(out)
}

/// Whether media processing makes renditions of this file (a video or audio master).
fn media_master(a: &crate::db::assets::AssetRecord) -> bool {
    a.role == crate::domain::asset::AssetRole::Master
        && (a.content_type.starts_with("video/") || a.content_type.starts_with("audio/"))
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
