//! HLS delivery: the master playlist of an asset, written from its ready variants, and a
//! variant playlist whose init and media segments are presigned URLs of their objects — the
//! segment bytes flow from object storage, never through Lectern.
//!
//! Each read goes through `catalog::visible_asset` (what a caller may not read is a 404): a
//! withdrawn or deleted lesson stops being playable for whoever may no longer read it. A URL
//! already handed out stays valid until it expires, as every presigned URL does.

use super::catalog::visible_asset;
use super::media::is_processed;
use super::{Result, ServiceError};
use crate::db::Db;
use crate::db::media::RenditionRecord;
use crate::domain::hls::{self, Entry, Variant};
use crate::domain::media::RenditionState;
use crate::domain::visibility::Caller;
use crate::storage::{ObjectStore, StorageError};
use std::collections::HashMap;
use std::time::Duration;

/// The longest a presigned URL may live (SigV4: seven days).
const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

fn ready(r: &RenditionRecord) -> bool {
    r.state == RenditionState::Ready && r.object_key.is_some()
}

/// The master playlist of asset `id`, if `caller` may read it and a variant is ready.
pub async fn master(db: &Db, caller: &Caller, id: &str) -> Result<String> {
    let asset = visible_asset(db, caller, id).await?;
    if !is_processed(&asset) {
        return Err(ServiceError::NotFound("playlist"));
    }
    let Some(probe) = db.media_probe(&asset.sha256).await? else {
        return Err(ServiceError::NotFound("playlist"));
    };
    let renditions = db.media_renditions(&asset.sha256).await?;
    let entries: Vec<Entry> = renditions
        .iter()
        .filter(|r| ready(r))
        .filter_map(|r| {
            let variant = r.kind.hls()?;
            Some(Entry {
                variant,
                uri: format!("{}.m3u8", variant.name()),
                // The peak is measured over whole segments, the average over every byte (the
                // init segment too): BANDWIDTH is never below AVERAGE-BANDWIDTH.
                peak_bit_rate: r.peak_bit_rate.unwrap_or(0).max(r.bit_rate.unwrap_or(0)),
                average_bit_rate: r.bit_rate.unwrap_or(0),
                size: r.width.zip(r.height),
                codecs: r.codecs.clone().unwrap_or_else(|| {
                    if variant.is_video() {
                        hls::avc_codecs(31)
                    } else {
                        hls::AAC_CODECS.to_owned()
                    }
                }),
                channels: (variant == Variant::Audio)
                    .then(|| probe.audio_channels.unwrap_or(2).clamp(1, 2)),
            })
        })
        .collect();
    hls::master(&entries, probe.has_audio && !probe.silent)
        .ok_or(ServiceError::NotFound("playlist"))
}

/// Variant playlist `name` (`360p.m3u8`, `audio.m3u8`, …) of asset `id`, if `caller` may read
/// it, with every file a presigned URL valid for `ttl` plus the variant's duration (a player
/// reads a VOD playlist once, then its segments as it plays).
pub async fn variant(
    db: &Db,
    store: &ObjectStore,
    caller: &Caller,
    id: &str,
    name: &str,
    ttl: Duration,
) -> Result<String> {
    let asset = visible_asset(db, caller, id).await?;
    let variant = name
        .strip_suffix(".m3u8")
        .and_then(Variant::parse)
        .ok_or(ServiceError::NotFound("playlist"))?;
    let rendition = if is_processed(&asset) {
        db.media_rendition(&asset.sha256, variant.kind()).await?
    } else {
        None
    };
    let Some(r) = rendition.filter(ready) else {
        return Err(ServiceError::NotFound("playlist"));
    };
    let key = r.object_key.unwrap_or_default();
    let text = String::from_utf8(store.get_bytes(&key).await?.to_vec())
        .map_err(|_| StorageError::corrupt_state("playlist"))?;
    let files = hls::files(&text).map_err(|e| {
        tracing::error!(key = %key, error = %e, "a stored playlist names a foreign file");
        StorageError::corrupt_state("playlist")
    })?;
    let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
    let ttl = (ttl + Duration::from_millis(r.duration_ms.unwrap_or(0).max(0) as u64)).min(MAX_TTL);
    let mut urls = HashMap::with_capacity(files.len());
    for file in files {
        let url = store
            .presign_get(
                &format!("{dir}/{file}"),
                ttl,
                hls::file_type(variant, &file),
                "attachment",
            )
            .await?;
        urls.insert(file, url);
    }
    Ok(hls::rewrite(&text, &urls))
}
