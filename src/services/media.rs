//! Reading what media processing made of an asset: its probe and renditions, and a presigned
//! download of a rendition. Each read goes through `catalog::visible_asset`, the one check every
//! asset read shares (what a caller may not read does not exist for them).

use super::catalog::visible_asset;
use super::{Result, ServiceError};
use crate::db::Db;
use crate::db::assets::AssetRecord;
use crate::db::media::{ProbeRecord, RenditionRecord};
use crate::domain::asset::{AssetRole, Disposition};
use crate::domain::filename::content_disposition;
use crate::domain::media::{RenditionKind, RenditionState};
use crate::domain::visibility::Caller;
use crate::storage::ObjectStore;
use std::time::Duration;

/// What media processing made of one asset.
#[derive(Debug)]
pub struct AssetMedia {
    pub asset: AssetRecord,
    /// Whether the asset is processed at all: a video or audio master.
    pub processed: bool,
    pub probe: Option<ProbeRecord>,
    pub renditions: Vec<RenditionRecord>,
}

/// Whether media processing handles this asset (the rule `db::media::unprobed_media` applies).
pub fn is_processed(asset: &AssetRecord) -> bool {
    asset.role == AssetRole::Master
        && (asset.content_type.starts_with("video/") || asset.content_type.starts_with("audio/"))
}

/// The probe and renditions of asset `id`, if `caller` may read it.
pub async fn asset_media(db: &Db, caller: &Caller, id: &str) -> Result<AssetMedia> {
    let asset = visible_asset(db, caller, id).await?;
    let processed = is_processed(&asset);
    let (probe, renditions) = if processed {
        (
            db.media_probe(&asset.sha256).await?,
            db.media_renditions(&asset.sha256).await?,
        )
    } else {
        (None, Vec::new())
    };
    Ok(AssetMedia {
        asset,
        processed,
        probe,
        renditions,
    })
}

/// A presigned URL of rendition `kind` of asset `id`, valid for `ttl`, if `caller` may read the
/// asset and the rendition is ready; the download is named after the asset's file.
pub async fn rendition_url(
    db: &Db,
    store: &ObjectStore,
    caller: &Caller,
    id: &str,
    kind: &str,
    ttl: Duration,
) -> Result<String> {
    let asset = visible_asset(db, caller, id).await?;
    // An HLS variant is a folder of files: it is played through its playlist (`services::hls`).
    let kind = RenditionKind::parse(kind)
        .filter(|k| k.hls().is_none())
        .ok_or(ServiceError::NotFound("rendition"))?;
    let rendition = if is_processed(&asset) {
        db.media_rendition(&asset.sha256, kind).await?
    } else {
        None
    };
    let Some(RenditionRecord {
        state: RenditionState::Ready,
        object_key: Some(key),
        content_type: Some(content_type),
        ..
    }) = rendition
    else {
        return Err(ServiceError::NotFound("rendition"));
    };
    let stem = asset
        .filename
        .rsplit_once('.')
        .map_or(asset.filename.as_str(), |(stem, _)| stem);
    let name = format!("{stem}-{}.{}", kind.as_str(), kind.extension());
    Ok(store
        .presign_get(
            &key,
            ttl,
            &content_type,
            &content_disposition(Disposition::Attachment, &name),
        )
        .await?)
}
