//! Media probes and renditions (`media_probes`, `media_renditions`): what `crate::media` found
//! in a stored content and the renditions it made of it, both keyed by the content's SHA-256.
//!
//! Invariants:
//! - A probe is recorded once per content (a second recording of the same bytes replaces the
//!   row: a reprocess after a tool upgrade), and the jobs it calls for are queued in the same
//!   transaction, under fixed ids, so a crash between the two cannot lose them.
//! - A rendition is one row per (content, kind); recording it again (a job run twice after a lost
//!   lease) replaces the row, never adds a second one. Recording a ready one appends an `asset`
//!   change for every master holding the content, in the same transaction (platforms receive the
//!   renditions).

use super::jobs::NewJob;
use super::{Db, new_id, now_ms};
use crate::domain::media::{RenditionKind, RenditionState};
use sqlx::AssertSqlSafe;

/// A probe as stored (and as the engine records it).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRecord {
    pub sha256: String,
    pub playable: bool,
    pub reason: Option<String>,
    pub container: Option<String>,
    pub duration_ms: Option<i64>,
    pub bit_rate: Option<i64>,
    pub has_video: bool,
    pub video_codec: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub fps: Option<f64>,
    pub rotation: Option<i64>,
    pub video_bit_rate: Option<i64>,
    pub has_audio: bool,
    pub audio_codec: Option<String>,
    pub audio_channels: Option<i64>,
    pub audio_sample_rate: Option<i64>,
    pub audio_bit_rate: Option<i64>,
    pub loudness_lufs: Option<f64>,
    pub max_volume_db: Option<f64>,
    pub silent: bool,
    pub tool_version: String,
    pub probed_at: i64,
    /// A document's number of pages; `None` for audio and video.
    pub page_count: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ProbeRow {
    sha256: String,
    playable: i64,
    reason: Option<String>,
    container: Option<String>,
    duration_ms: Option<i64>,
    bit_rate: Option<i64>,
    has_video: i64,
    video_codec: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    fps_milli: Option<i64>,
    rotation: Option<i64>,
    video_bit_rate: Option<i64>,
    has_audio: i64,
    audio_codec: Option<String>,
    audio_channels: Option<i64>,
    audio_sample_rate: Option<i64>,
    audio_bit_rate: Option<i64>,
    loudness_milli: Option<i64>,
    max_volume_milli: Option<i64>,
    silent: i64,
    tool_version: String,
    probed_at: i64,
    page_count: Option<i64>,
}

impl ProbeRecord {
    /// A probe of content `sha256` that found nothing yet (not playable, no stream), made by
    /// `tool_version` at `probed_at`: what a probe step fills in.
    pub fn blank(sha256: &str, tool_version: String, probed_at: i64) -> Self {
        Self {
            sha256: sha256.to_owned(),
            playable: false,
            reason: None,
            container: None,
            duration_ms: None,
            bit_rate: None,
            has_video: false,
            video_codec: None,
            width: None,
            height: None,
            fps: None,
            rotation: None,
            video_bit_rate: None,
            has_audio: false,
            audio_codec: None,
            audio_channels: None,
            audio_sample_rate: None,
            audio_bit_rate: None,
            loudness_lufs: None,
            max_volume_db: None,
            silent: false,
            tool_version,
            probed_at,
            page_count: None,
        }
    }
}

impl From<ProbeRow> for ProbeRecord {
    fn from(r: ProbeRow) -> Self {
        Self {
            sha256: r.sha256,
            playable: r.playable != 0,
            reason: r.reason,
            container: r.container,
            duration_ms: r.duration_ms,
            bit_rate: r.bit_rate,
            has_video: r.has_video != 0,
            video_codec: r.video_codec,
            width: r.width,
            height: r.height,
            fps: r.fps_milli.map(from_milli),
            rotation: r.rotation,
            video_bit_rate: r.video_bit_rate,
            has_audio: r.has_audio != 0,
            audio_codec: r.audio_codec,
            audio_channels: r.audio_channels,
            audio_sample_rate: r.audio_sample_rate,
            audio_bit_rate: r.audio_bit_rate,
            loudness_lufs: r.loudness_milli.map(from_milli),
            max_volume_db: r.max_volume_milli.map(from_milli),
            silent: r.silent != 0,
            tool_version: r.tool_version,
            probed_at: r.probed_at,
            page_count: r.page_count,
        }
    }
}

const PROBE_COLUMNS: &str = "sha256, playable, reason, container, duration_ms, bit_rate, \
    has_video, video_codec, width, height, fps_milli, rotation, video_bit_rate, has_audio, \
    audio_codec, audio_channels, audio_sample_rate, audio_bit_rate, loudness_milli, \
    max_volume_milli, silent, tool_version, probed_at, page_count";

/// Fractional measures (frame rate, LUFS, dBFS) are stored in thousandths, as integers: exact
/// on both backends, and no floating-point binding through `sqlx::Any`.
fn to_milli(v: f64) -> Option<i64> {
    (v.is_finite() && v.abs() < 1e12).then(|| (v * 1000.0).round() as i64)
}

fn from_milli(v: i64) -> f64 {
    v as f64 / 1000.0
}

/// A rendition as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionRecord {
    pub id: String,
    pub source_sha256: String,
    pub kind: RenditionKind,
    pub state: RenditionState,
    pub object_key: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub bit_rate: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    /// HLS: the highest bit rate of one segment.
    pub peak_bit_rate: Option<i64>,
    /// HLS: the RFC 6381 codecs of the stream.
    pub codecs: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RenditionRow {
    id: String,
    source_sha256: String,
    kind: String,
    state: String,
    object_key: Option<String>,
    content_type: Option<String>,
    size: Option<i64>,
    sha256: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    bit_rate: Option<i64>,
    duration_ms: Option<i64>,
    error: Option<String>,
    created_at: i64,
    peak_bit_rate: Option<i64>,
    codecs: Option<String>,
}

/// A stored kind or state this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown rendition {0} {1:?}")]
struct Unknown(&'static str, String);

impl TryFrom<RenditionRow> for RenditionRecord {
    type Error = sqlx::Error;

    fn try_from(r: RenditionRow) -> Result<Self, sqlx::Error> {
        let kind = RenditionKind::parse(&r.kind)
            .ok_or_else(|| sqlx::Error::Decode(Box::new(Unknown("kind", r.kind.clone()))))?;
        let state = RenditionState::parse(&r.state)
            .ok_or_else(|| sqlx::Error::Decode(Box::new(Unknown("state", r.state.clone()))))?;
        Ok(Self {
            id: r.id,
            source_sha256: r.source_sha256,
            kind,
            state,
            object_key: r.object_key,
            content_type: r.content_type,
            size: r.size,
            sha256: r.sha256,
            width: r.width,
            height: r.height,
            bit_rate: r.bit_rate,
            duration_ms: r.duration_ms,
            error: r.error,
            created_at: r.created_at,
            peak_bit_rate: r.peak_bit_rate,
            codecs: r.codecs,
        })
    }
}

/// A rendition about to be recorded: made (`Ok`, with its object) or impossible for a reason of
/// the content (`Err`).
#[derive(Debug, Clone)]
pub struct NewRendition {
    pub source_sha256: String,
    pub kind: RenditionKind,
    pub made: Result<MadeRendition, String>,
}

#[derive(Debug, Clone)]
pub struct MadeRendition {
    pub object_key: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub bit_rate: Option<i64>,
    pub duration_ms: Option<i64>,
    /// HLS: the highest bit rate of one segment.
    pub peak_bit_rate: Option<i64>,
    /// HLS: the RFC 6381 codecs of the stream.
    pub codecs: Option<String>,
}

const RENDITION_COLUMNS: &str = "id, source_sha256, kind, state, object_key, content_type, size, \
    sha256, width, height, bit_rate, duration_ms, error, created_at, peak_bit_rate, codecs";

/// The condition (on `assets a`) that an asset is current for media processing: any asset but a
/// master that a newer master of the same lesson superseded. A lesson's media is that of its
/// newest master; the older ones are neither probed nor rendered any more, and their pending
/// steps are cancelled unless another current asset holds the same bytes.
pub(crate) const CURRENT_ASSET: &str = "NOT (a.role = 'master' AND EXISTS (SELECT 1 FROM assets n \
    WHERE n.lesson_id = a.lesson_id AND n.role = 'master' AND (n.created_at > a.created_at \
    OR (n.created_at = a.created_at AND n.id > a.id))))";

/// What reprocessing one content does (see [`Db::reprocess_media`]).
#[derive(Debug, Clone)]
pub struct Reprocess {
    /// The renditions to forget; `None` for all of them and the probe.
    pub forget: Option<Vec<RenditionKind>>,
    /// The kinds of steps to clear (their finished, dead or pending rows).
    pub clear: Vec<crate::domain::job::JobKind>,
    /// The steps to queue afresh, attempts at zero (an earlier row of the same id is replaced).
    pub queue: Vec<NewJob>,
}

/// A current asset's content, for reprocessing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MediaContent {
    pub lesson_id: String,
    pub sha256: String,
    pub role: crate::domain::asset::AssetRole,
    pub content_type: String,
    pub org_id: String,
}

/// A content to probe: its SHA-256, its object and the organisation the work is for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unprobed {
    pub sha256: String,
    pub object_key: String,
    pub org_id: String,
}

impl Db {
    /// Masters of video or audio (and uploaded poster images) whose content has no probe and no
    /// probe job, at most `limit`. `job_id_prefix` is the prefix of the probe jobs' fixed ids
    /// (followed by the SHA-256).
    pub async fn unprobed_media(
        &self,
        job_id_prefix: &str,
        limit: i64,
    ) -> Result<Vec<Unprobed>, sqlx::Error> {
        self.unprobed(
            "((a.role = 'master' AND (a.content_type LIKE 'video/%' OR a.content_type LIKE \
             'audio/%')) OR (a.role = 'poster' AND a.content_type LIKE 'image/%'))",
            job_id_prefix,
            limit,
        )
        .await
    }

    /// Documents (PDF masters and attachments) of current assets whose content has no probe and
    /// no document job, at most `limit`; `job_id_prefix` is the document jobs' id prefix.
    pub async fn unpreviewed_documents(
        &self,
        job_id_prefix: &str,
        limit: i64,
    ) -> Result<Vec<Unprobed>, sqlx::Error> {
        self.unprobed(
            "a.role IN ('master', 'attachment') AND a.content_type = 'application/pdf'",
            job_id_prefix,
            limit,
        )
        .await
    }

    /// Current assets matching `which` (a condition on `assets a`, a constant of this module)
    /// whose content has no probe and no job of id `job_id_prefix || sha256`.
    async fn unprobed(
        &self,
        which: &'static str,
        job_id_prefix: &str,
        limit: i64,
    ) -> Result<Vec<Unprobed>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT a.sha256, MIN(b.object_key) AS object_key, COALESCE(MIN(l.org_id), '') AS org_id \
             FROM assets a JOIN blobs b ON b.sha256 = a.sha256 JOIN lessons l ON l.id = a.lesson_id \
             WHERE {which} AND {CURRENT_ASSET} \
             AND NOT EXISTS (SELECT 1 FROM media_probes p WHERE p.sha256 = a.sha256) \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = $1 || a.sha256) \
             GROUP BY a.sha256 ORDER BY a.sha256 LIMIT $2"
        )))
        .bind(job_id_prefix)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// The object key of content `sha256`, if it is stored.
    pub async fn blob_key(&self, sha256: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT object_key FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(self.pool())
            .await
    }

    /// Records (or replaces) the probe of a content and queues `then` in the same transaction.
    pub async fn record_probe(&self, p: &ProbeRecord, then: &[NewJob]) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM media_probes WHERE sha256 = $1")
            .bind(&p.sha256)
            .execute(&mut *tx)
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO media_probes ({PROBE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
        )))
        .bind(&p.sha256)
        .bind(i64::from(p.playable))
        .bind(&p.reason)
        .bind(&p.container)
        .bind(p.duration_ms)
        .bind(p.bit_rate)
        .bind(i64::from(p.has_video))
        .bind(&p.video_codec)
        .bind(p.width)
        .bind(p.height)
        .bind(p.fps.and_then(to_milli))
        .bind(p.rotation)
        .bind(p.video_bit_rate)
        .bind(i64::from(p.has_audio))
        .bind(&p.audio_codec)
        .bind(p.audio_channels)
        .bind(p.audio_sample_rate)
        .bind(p.audio_bit_rate)
        .bind(p.loudness_lufs.and_then(to_milli))
        .bind(p.max_volume_db.and_then(to_milli))
        .bind(i64::from(p.silent))
        .bind(&p.tool_version)
        .bind(p.probed_at)
        .bind(p.page_count)
        .execute(&mut *tx)
        .await?;
        let mut queued = false;
        for job in then {
            queued |= Self::enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await?;
        if queued {
            self.jobs_queued.notify_one();
        }
        Ok(())
    }

    pub async fn media_probe(&self, sha256: &str) -> Result<Option<ProbeRecord>, sqlx::Error> {
        let row: Option<ProbeRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PROBE_COLUMNS} FROM media_probes WHERE sha256 = $1"
        )))
        .bind(sha256)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(ProbeRecord::from))
    }

    /// Records (or replaces) renditions of one content in one transaction.
    pub async fn record_renditions(&self, renditions: &[NewRendition]) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        for r in renditions {
            Self::put_rendition(&mut tx, r).await?;
        }
        // Ready renditions are part of what platforms receive (and of the lesson's JSON): every
        // asset holding the content changes, last, as every write that outsiders see.
        let mut sources: Vec<&str> = renditions
            .iter()
            .filter(|r| r.made.is_ok())
            .map(|r| r.source_sha256.as_str())
            .collect();
        sources.sort_unstable();
        sources.dedup();
        for sha256 in sources {
            let holders: Vec<(String, String)> = sqlx::query_as(
                "SELECT id, lesson_id FROM assets WHERE sha256 = $1 AND role = 'master' ORDER BY id",
            )
            .bind(sha256)
            .fetch_all(&mut *tx)
            .await?;
            for (asset_id, lesson_id) in holders {
                super::changes::append(
                    &mut tx,
                    super::changes::Entity::Asset,
                    &asset_id,
                    &lesson_id,
                    super::changes::Op::Update,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records (or replaces) one rendition inside `tx`.
    pub(super) async fn put_rendition(
        tx: &mut super::Tx,
        r: &NewRendition,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM media_renditions WHERE source_sha256 = $1 AND kind = $2")
            .bind(&r.source_sha256)
            .bind(r.kind.as_str())
            .execute(&mut **tx)
            .await?;
        let (state, made, error) = match &r.made {
            Ok(m) => (RenditionState::Ready, Some(m), None),
            Err(e) => (
                RenditionState::Failed,
                None,
                Some(e.chars().take(1000).collect::<String>()),
            ),
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO media_renditions ({RENDITION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, \
             $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )))
        .bind(new_id())
        .bind(&r.source_sha256)
        .bind(r.kind.as_str())
        .bind(state.as_str())
        .bind(made.map(|m| m.object_key.clone()))
        .bind(made.map(|m| m.content_type.clone()))
        .bind(made.map(|m| m.size))
        .bind(made.map(|m| m.sha256.clone()))
        .bind(made.and_then(|m| m.width))
        .bind(made.and_then(|m| m.height))
        .bind(made.and_then(|m| m.bit_rate))
        .bind(made.and_then(|m| m.duration_ms))
        .bind(error)
        .bind(now_ms())
        .bind(made.and_then(|m| m.peak_bit_rate))
        .bind(made.and_then(|m| m.codecs.clone()))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The renditions of content `sha256`, by kind.
    pub async fn media_renditions(
        &self,
        sha256: &str,
    ) -> Result<Vec<RenditionRecord>, sqlx::Error> {
        let rows: Vec<RenditionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RENDITION_COLUMNS} FROM media_renditions WHERE source_sha256 = $1 \
             ORDER BY kind"
        )))
        .bind(sha256)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(RenditionRecord::try_from).collect()
    }

    /// One rendition of content `sha256`.
    pub async fn media_rendition(
        &self,
        sha256: &str,
        kind: RenditionKind,
    ) -> Result<Option<RenditionRecord>, sqlx::Error> {
        let row: Option<RenditionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RENDITION_COLUMNS} FROM media_renditions WHERE source_sha256 = $1 \
             AND kind = $2"
        )))
        .bind(sha256)
        .bind(kind.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(RenditionRecord::try_from).transpose()
    }

    /// The size of content `sha256`, if it is stored.
    pub async fn blob_size(&self, sha256: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT size FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(self.pool())
            .await
    }

    /// Records a document's reading: its probe (page count, or why it is unreadable) and its
    /// page images, replacing earlier page images, in one transaction.
    pub async fn record_document(
        &self,
        probe: &ProbeRecord,
        pages: &[NewRendition],
    ) -> Result<(), sqlx::Error> {
        // Pages first, then the probe: the probe is what says the document is done, so a crash
        // between the two leaves it to be read again, never a probe without its pages.
        let made: std::collections::HashSet<RenditionKind> = pages.iter().map(|p| p.kind).collect();
        let mut tx = self.begin_write().await?;
        for kind in RenditionKind::PAGES
            .into_iter()
            .filter(|k| !made.contains(k))
        {
            sqlx::query("DELETE FROM media_renditions WHERE source_sha256 = $1 AND kind = $2")
                .bind(&probe.sha256)
                .bind(kind.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.record_renditions(pages).await?;
        self.record_probe(probe, &[]).await
    }

    /// Reprocesses contents: for each `(sha256, plan)`, unless one of its media steps is
    /// running (for a plan of one rendition: unless that rendition's step is), forgets what the
    /// plan names, clears the plan's step rows and queues its steps afresh — all in one
    /// transaction with the audit entry `event` (its `after` completed with the counts). Returns the contents queued and those skipped because a step was running.
    /// When nothing is queued nothing is written, not even the audit entry.
    pub async fn reprocess_media(
        &self,
        plans: &[(String, Reprocess)],
        actor: &super::audit::Actor,
        event: super::audit::Event<'_>,
    ) -> Result<(Vec<String>, Vec<String>), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let mut queued = Vec::new();
        let mut skipped = Vec::new();
        for (sha256, plan) in plans {
            // A whole reprocess waits for every step of the content; one rendition, for its
            // own step only.
            let running = match &plan.forget {
                None => self.media_running_in(&mut tx, sha256).await?,
                Some(_) => {
                    let mut any = false;
                    for id in plan.queue.iter().filter_map(|j| j.id.as_deref()) {
                        let state: Option<String> =
                            sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
                                .bind(id)
                                .fetch_optional(&mut *tx)
                                .await?;
                        any |= state.as_deref() == Some("running");
                    }
                    any
                }
            };
            if running {
                skipped.push(sha256.clone());
                continue;
            }
            match &plan.forget {
                None => {
                    sqlx::query("DELETE FROM media_renditions WHERE source_sha256 = $1")
                        .bind(sha256)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM media_probes WHERE sha256 = $1")
                        .bind(sha256)
                        .execute(&mut *tx)
                        .await?;
                }
                Some(kinds) => {
                    for k in kinds {
                        sqlx::query(
                            "DELETE FROM media_renditions WHERE source_sha256 = $1 AND kind = $2",
                        )
                        .bind(sha256)
                        .bind(k.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            for k in &plan.clear {
                sqlx::query(
                    "DELETE FROM jobs WHERE subject = $1 AND kind = $2 AND state <> 'running'",
                )
                .bind(sha256)
                .bind(k.as_str())
                .execute(&mut *tx)
                .await?;
            }
            for job in &plan.queue {
                // Its earlier row (done, dead or pending under the same fixed id) gives way.
                if let Some(id) = &job.id {
                    sqlx::query("DELETE FROM jobs WHERE id = $1 AND state <> 'running'")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::enqueue_in(&mut tx, job).await?;
            }
            queued.push(sha256.clone());
        }
        if queued.is_empty() {
            // Nothing changed (every content had a step running, or there was none): no
            // audit entry for a refusal or a no-op.
            tx.rollback().await?;
            return Ok((queued, skipped));
        }
        let mut after = event.after.clone().unwrap_or_else(|| serde_json::json!({}));
        after["queued"] = serde_json::json!(queued.len());
        after["skipped"] = serde_json::json!(skipped.len());
        Self::audit_in(
            &mut tx,
            actor,
            super::audit::Event {
                after: Some(after),
                ..event
            },
        )
        .await?;
        tx.commit().await?;
        self.jobs_queued.notify_one();
        Ok((queued, skipped))
    }

    /// The current media contents of lessons: every current asset's SHA-256 with its role,
    /// content type and lesson's organisation, for lessons `lesson_ids` (`None`: every lesson),
    /// in lesson order.
    pub async fn media_contents(
        &self,
        lesson_ids: Option<&[String]>,
    ) -> Result<Vec<MediaContent>, sqlx::Error> {
        let filter = match lesson_ids {
            Some([]) => return Ok(Vec::new()),
            Some(ids) => format!(
                " AND a.lesson_id IN ({})",
                super::placeholders(1, ids.len())
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT a.lesson_id, a.sha256, a.role, a.content_type, COALESCE(l.org_id, '') AS org_id \
             FROM assets a JOIN lessons l ON l.id = a.lesson_id WHERE {CURRENT_ASSET}{filter} \
             ORDER BY a.lesson_id, a.id"
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for id in lesson_ids.unwrap_or_default() {
            q = q.bind(id);
        }
        q.fetch_all(self.pool()).await
    }

    /// Whether a media step about content `sha256` is running, inside `tx`.
    async fn media_running_in(
        &self,
        tx: &mut super::Tx,
        sha256: &str,
    ) -> Result<bool, sqlx::Error> {
        let kinds: Vec<&str> = crate::domain::job::JobKind::ALL
            .into_iter()
            .filter(|k| k.uses_media_slot())
            .map(crate::domain::job::JobKind::as_str)
            .collect();
        let sql = format!(
            "SELECT COUNT(*) FROM jobs WHERE subject = $1 AND state = 'running' AND kind IN ({})",
            super::placeholders(2, kinds.len())
        );
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(sha256);
        for k in kinds {
            q = q.bind(k);
        }
        Ok(q.fetch_one(&mut **tx).await? > 0)
    }

    /// Cancels (deletes) pending media steps whose content no current asset holds (their
    /// lesson or asset was deleted, or a newer master superseded it): what a transaction that
    /// raced with a claim left behind. Returns how many.
    pub async fn cancel_orphan_media_jobs(&self) -> Result<u64, sqlx::Error> {
        let kinds: Vec<&str> = crate::domain::job::JobKind::ALL
            .into_iter()
            .filter(|k| k.uses_media_slot())
            .map(crate::domain::job::JobKind::as_str)
            .collect();
        let sql = format!(
            "DELETE FROM jobs WHERE state = 'pending' AND kind IN ({}) \
             AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.sha256 = jobs.subject AND {CURRENT_ASSET})",
            super::placeholders(1, kinds.len())
        );
        let mut tx = self.begin_write().await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in kinds {
            q = q.bind(k);
        }
        let n = q.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Whether asset `id` is a master a newer master of its lesson superseded.
    pub async fn asset_superseded(&self, id: &str) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM assets a WHERE a.id = $1 AND NOT ({CURRENT_ASSET})"
        )))
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// The ready renditions (of `kind`, or all) of the contents `sha256s` (for lists: feeds,
    /// lessons), by content and kind.
    pub async fn ready_renditions(
        &self,
        sha256s: &[&str],
        kind: Option<RenditionKind>,
    ) -> Result<Vec<RenditionRecord>, sqlx::Error> {
        if sha256s.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {RENDITION_COLUMNS} FROM media_renditions WHERE ($1 = '' OR kind = $1) \
             AND state = 'ready' AND source_sha256 IN ({}) ORDER BY source_sha256, kind",
            super::placeholders(2, sha256s.len())
        );
        let mut q =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(kind.map_or("", RenditionKind::as_str));
        for s in sha256s {
            q = q.bind(*s);
        }
        let rows: Vec<RenditionRow> = q.fetch_all(self.pool()).await?;
        rows.into_iter().map(RenditionRecord::try_from).collect()
    }
}
