//! What media processing made of an asset over HTTP: its probe and renditions, and a presigned
//! download of a rendition. Each handler calls `services::media` (which reads through the one
//! asset visibility check) and renders a typed view.

use crate::db::media::{ProbeRecord, RenditionRecord};
use crate::domain::media::{RenditionKind, RenditionState};
use crate::domain::time::rfc3339;
use crate::domain::visibility::Caller;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::error::Problem;
use crate::http::extract::{Json, Path, Query, Writer};
use crate::services::media;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where an asset is in media processing.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaStatus {
    /// Not a video or audio master: nothing is processed.
    NotMedia,
    /// Not probed yet (queued, running, or waiting for the media tools).
    Pending,
    /// Probed; its renditions are listed as they are made.
    Probed,
    /// A master a newer master of its lesson replaced: the lesson's media is the newer one's,
    /// and nothing of this one is listed.
    Superseded,
}

/// The picture of a file, as ffprobe found it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VideoView {
    pub codec: Option<String>,
    /// As stored, before rotation.
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// Frames per second.
    pub fps: Option<f64>,
    /// Degrees clockwise a player turns the picture (0, 90, 180, 270).
    pub rotation: i64,
    /// Bits per second, where the container says.
    pub bit_rate: Option<i64>,
}

/// The sound of a file, as ffprobe and ffmpeg's loudness filters found it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AudioView {
    pub codec: Option<String>,
    pub channels: Option<i64>,
    pub sample_rate: Option<i64>,
    pub bit_rate: Option<i64>,
    /// EBU R128 integrated loudness, LUFS.
    pub loudness_lufs: Option<f64>,
    /// The loudest sample, dBFS.
    pub max_volume_db: Option<f64>,
    /// An audio track with nothing to hear (no audio rendition is made).
    pub silent: bool,
}

/// What ffprobe found in the file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeView {
    /// Whether ffmpeg can read it; when not, `reason` says why (ffprobe's own words).
    pub playable: bool,
    pub reason: Option<String>,
    /// ffprobe's format name (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`, …).
    pub container: Option<String>,
    pub duration_ms: Option<i64>,
    /// Bits per second of the whole file.
    pub bit_rate: Option<i64>,
    /// `null` when the file has no picture (cover images do not count).
    pub video: Option<VideoView>,
    /// `null` when the file has no audio track at all.
    pub audio: Option<AudioView>,
    /// A document's number of pages (its first ten get page images); `null` for audio and
    /// video.
    pub page_count: Option<i64>,
    pub probed_at: String,
}

/// One rendition.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenditionView {
    pub kind: RenditionKind,
    pub state: RenditionState,
    pub content_type: Option<String>,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub bit_rate: Option<i64>,
    pub duration_ms: Option<i64>,
    /// Why it could not be made (state `failed`).
    pub error: Option<String>,
    pub created_at: String,
    /// Where a presigned download is asked for (state `ready`; an HLS variant: its playlist);
    /// `null` otherwise.
    pub url: Option<String>,
}

/// An asset's probe and renditions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MediaView {
    pub asset_id: String,
    pub status: MediaStatus,
    pub probe: Option<ProbeView>,
    pub renditions: Vec<RenditionView>,
    /// The uploaded poster (asset id) the `poster_small` and `poster_large` renditions come
    /// from; `null` when they are a frame of the video.
    pub poster_asset_id: Option<String>,
    /// Where the WebVTT thumbnail track (cues into the `sprite`) is read, once the sprite is
    /// made; `null` otherwise.
    pub thumbnails_url: Option<String>,
}

/// A presigned, expiring URL straight to object storage.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenditionUrlView {
    pub url: String,
    pub expires_at: String,
}

impl From<&ProbeRecord> for ProbeView {
    fn from(p: &ProbeRecord) -> Self {
        Self {
            playable: p.playable,
            reason: p.reason.clone(),
            container: p.container.clone(),
            duration_ms: p.duration_ms,
            bit_rate: p.bit_rate,
            video: p.has_video.then(|| VideoView {
                codec: p.video_codec.clone(),
                width: p.width,
                height: p.height,
                fps: p.fps,
                rotation: p.rotation.unwrap_or(0),
                bit_rate: p.video_bit_rate,
            }),
            audio: p.has_audio.then(|| AudioView {
                codec: p.audio_codec.clone(),
                channels: p.audio_channels,
                sample_rate: p.audio_sample_rate,
                bit_rate: p.audio_bit_rate,
                loudness_lufs: p.loudness_lufs,
                max_volume_db: p.max_volume_db,
                silent: p.silent,
            }),
            page_count: p.page_count,
            probed_at: rfc3339(p.probed_at),
        }
    }
}

impl RenditionView {
    fn new(asset_id: &str, r: &RenditionRecord) -> Self {
        Self {
            kind: r.kind,
            state: r.state,
            content_type: r.content_type.clone(),
            size: r.size,
            sha256: r.sha256.clone(),
            width: r.width,
            height: r.height,
            bit_rate: r.bit_rate,
            duration_ms: r.duration_ms,
            error: r.error.clone(),
            created_at: rfc3339(r.created_at),
            url: (r.state == RenditionState::Ready).then(|| match r.kind.hls() {
                // An HLS variant is played through its playlist.
                Some(v) => format!("/api/v1/assets/{asset_id}/media/hls/{}.m3u8", v.name()),
                None => format!("/api/v1/assets/{asset_id}/media/{}/url", r.kind.as_str()),
            }),
        }
    }
}

/// `GET /api/v1/assets/{id}/media`.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/media",
    tag = "media",
    summary = "What media processing made of an asset: the probe of a video or audio master (duration, container, codecs, picture size, frame rate, rotation, bit rates, loudness, silence, and whether ffmpeg can read it, with the reason when not) or of a PDF (page count, or why it is unreadable), and its renditions (64 kbit/s mono AAC audio, posters 320 and 1280 wide — from the lesson's uploaded poster when it has one —, the thumbnail sprite, the images of a document's first ten pages); anyone who may read the asset",
    params(("id" = String, Path, description = "the asset")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "the probe and renditions", body = MediaView))
)]
pub async fn asset_media(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MediaView>, AppError> {
    let m = media::asset_media(&state.db, &caller, &id).await?;
    let status = match (&m.probe, m.processed) {
        (_, false) => MediaStatus::NotMedia,
        _ if m.superseded => MediaStatus::Superseded,
        (None, true) => MediaStatus::Pending,
        (Some(_), true) => MediaStatus::Probed,
    };
    let thumbnails_url = m
        .renditions
        .iter()
        .any(|r| r.kind == RenditionKind::Sprite && r.state == RenditionState::Ready)
        .then(|| format!("/api/v1/assets/{}/media/thumbnails.vtt", m.asset.id));
    Ok(Json(MediaView {
        status,
        poster_asset_id: m.poster_asset.clone(),
        thumbnails_url,
        probe: m.probe.as_ref().map(ProbeView::from),
        renditions: m
            .renditions
            .iter()
            .map(|r| RenditionView::new(&m.asset.id, r))
            .collect(),
        asset_id: m.asset.id,
    }))
}

/// `GET /api/v1/assets/{id}/media/{kind}/url`.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/media/{kind}/url",
    tag = "media",
    summary = "A presigned, expiring URL of a ready rendition (its bytes come from object storage, named after the asset's file); anyone who may read the asset",
    params(
        ("id" = String, Path, description = "the asset"),
        ("kind" = RenditionKind, Path, description = "the rendition")
    ),
    security((), ("bearer" = [])),
    responses((status = 200, description = "the URL", body = RenditionUrlView))
)]
pub async fn rendition_url(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, kind)): Path<(String, String)>,
) -> Result<Json<RenditionUrlView>, AppError> {
    let ttl = Duration::from_secs(state.config.presign_secs);
    let url = media::rendition_url(&state.db, &state.store, &caller, &id, &kind, ttl).await?;
    Ok(Json(RenditionUrlView {
        url,
        expires_at: rfc3339(crate::db::now_ms() + (state.config.presign_secs as i64) * 1000),
    }))
}

/// `?only=`: which rendition to make again.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReprocessQuery {
    /// One rendition kind (`audio_64k`, `poster_small` or `poster_large` — both sizes are made
    /// together —, `sprite`, a page image); absent for everything, from the probe on.
    #[param(value_type = Option<RenditionKind>)]
    pub only: Option<String>,
}

/// What a reprocess queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReprocessView {
    /// The contents (SHA-256) whose steps were queued again.
    pub queued: Vec<String>,
    /// The contents left alone because one of their steps was running.
    pub skipped: Vec<String>,
}

/// `POST /api/v1/assets/{id}/media/reprocess?only=`.
#[utoipa::path(
    post,
    path = "/api/v1/assets/{id}/media/reprocess",
    tag = "media",
    summary = "Make an asset's media again: with only, that rendition alone, else everything from the probe on. Its renditions are forgotten and their steps queued afresh (attempts reset); objects are re-made at the same keys (same recipe). The lesson's editors and the administrators of its organisation; audited",
    params(("id" = String, Path, description = "the asset"), ReprocessQuery),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "queued", body = ReprocessView),
        (status = 409, description = "a step of this file is running, the master was superseded, or the file is nothing media processing handles", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn reprocess(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Query(q): Query<ReprocessQuery>,
) -> Result<(StatusCode, Json<ReprocessView>), AppError> {
    let only = media::parse_only(q.only.as_deref()).map_err(|e| AppError::invalid(&[e]))?;
    let done = media::reprocess(&state.db, &acting, media::Target::Asset(&id), only).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReprocessView {
            queued: done.queued,
            skipped: done.skipped,
        }),
    ))
}

/// `GET /api/v1/assets/{id}/media/thumbnails.vtt`.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/media/thumbnails.vtt",
    tag = "media",
    summary = "The WebVTT thumbnail track for scrubbing: one cue per tile of the sprite, pointing at a presigned URL of the sprite with #xywh=x,y,w,h (valid as long as rendition URLs); anyone who may read the asset",
    params(("id" = String, Path, description = "the asset")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "the track", body = String, content_type = "text/vtt"))
)]
pub async fn thumbnails_vtt(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::response::Response, AppError> {
    let ttl = Duration::from_secs(state.config.presign_secs);
    let vtt = media::thumbnails_vtt(&state.db, &state.store, &caller, &id, ttl).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/vtt; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // It carries presigned URLs: never kept by a shared cache.
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        vtt,
    )
        .into_response())
}
