//! Reading what media processing made of an asset: its probe and renditions, a presigned
//! download of a rendition, the thumbnail track; and reprocessing (one asset, a lesson, or every
//! lesson), the one step the API, the administration page and `lectern media reprocess` share.
//! Each read goes through `catalog::visible_asset`, the one check every asset read shares (what
//! a caller may not read does not exist for them); reprocessing asks
//! `visibility::may_reprocess` and is audited (`media.reprocess`) in its transaction.
//!
//! Rules of what is shown:
//! - **A lesson's media is its newest master's.** An older master is `superseded`: its view
//!   lists no probe and no renditions (they belong to content the lesson no longer plays).
//! - **An uploaded poster wins.** When the lesson has a poster asset (an image) whose two sizes
//!   are made, a master's `poster_small` and `poster_large` are those, not the frame taken from
//!   the video (which is still made: it is the content's, and another lesson may hold the same
//!   video without a poster).

use super::catalog::{visible_asset, visible_lesson};
use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::assets::AssetRecord;
use crate::db::audit::Event;
use crate::db::media::{ProbeRecord, RenditionRecord};
use crate::domain::Invalid;
use crate::domain::asset::{AssetRole, Disposition};
use crate::domain::filename::content_disposition;
use crate::domain::media::{RenditionKind, RenditionState};
use crate::domain::visibility::{self, Caller};
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
    /// A master a newer master of its lesson replaced: nothing of it is shown.
    pub superseded: bool,
    /// The uploaded poster (asset id) the posters come from, if one is used.
    pub poster_asset: Option<String>,
}

/// Whether media processing handles this asset (the rules of `db::media::unprobed_media` and
/// `unpreviewed_documents`): video and audio masters, uploaded poster images, and PDF masters
/// and attachments.
pub fn is_processed(asset: &AssetRecord) -> bool {
    let t = asset.content_type.as_str();
    match asset.role {
        AssetRole::Master => {
            t.starts_with("video/") || t.starts_with("audio/") || t == "application/pdf"
        }
        AssetRole::Attachment => t == "application/pdf",
        AssetRole::Poster => t.starts_with("image/"),
        _ => false,
    }
}

fn is_poster(kind: RenditionKind) -> bool {
    matches!(
        kind,
        RenditionKind::PosterSmall | RenditionKind::PosterLarge
    )
}

/// The newest uploaded poster of a master's lesson whose two sizes are made: its asset id and
/// those renditions.
async fn uploaded_poster(
    db: &Db,
    master: &AssetRecord,
) -> Result<Option<(String, Vec<RenditionRecord>)>> {
    if master.role != AssetRole::Master {
        return Ok(None);
    }
    let assets = db.lesson_assets(&master.lesson_id).await?;
    // Asset ids are time-ordered (UUIDv7): the newest last.
    for p in assets
        .iter()
        .rev()
        .filter(|a| a.role == AssetRole::Poster && a.content_type.starts_with("image/"))
    {
        let made: Vec<RenditionRecord> = db
            .media_renditions(&p.sha256)
            .await?
            .into_iter()
            .filter(|r| is_poster(r.kind) && r.state == RenditionState::Ready)
            .collect();
        if made.len() == 2 {
            return Ok(Some((p.id.clone(), made)));
        }
    }
    Ok(None)
}

/// The probe and renditions of asset `id`, if `caller` may read it.
pub async fn asset_media(db: &Db, caller: &Caller, id: &str) -> Result<AssetMedia> {
    let asset = visible_asset(db, caller, id).await?;
    let processed = is_processed(&asset);
    let superseded = processed && db.asset_superseded(&asset.id).await?;
    let mut poster_asset = None;
    let (probe, renditions) = if processed && !superseded {
        // The probe before the renditions: processing records a content's renditions first and
        // its probe last, so a probe read here comes with every rendition made before it.
        let probe = db.media_probe(&asset.sha256).await?;
        let mut renditions = db.media_renditions(&asset.sha256).await?;
        if let Some((poster, made)) = uploaded_poster(db, &asset).await? {
            renditions.retain(|r| !is_poster(r.kind));
            renditions.extend(made);
            renditions.sort_by_key(|r| r.kind.as_str());
            poster_asset = Some(poster);
        }
        (probe, renditions)
    } else {
        (None, Vec::new())
    };
    Ok(AssetMedia {
        asset,
        processed,
        probe,
        renditions,
        superseded,
        poster_asset,
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
    let rendition = current_rendition(db, &asset, kind).await?;
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

/// Rendition `kind` of `asset` as its media view shows it (nothing for a superseded master; the
/// uploaded poster's for a master's poster sizes when there is one).
async fn current_rendition(
    db: &Db,
    asset: &AssetRecord,
    kind: RenditionKind,
) -> Result<Option<RenditionRecord>> {
    if !is_processed(asset) || db.asset_superseded(&asset.id).await? {
        return Ok(None);
    }
    if is_poster(kind)
        && let Some((_, made)) = uploaded_poster(db, asset).await?
    {
        return Ok(made.into_iter().find(|r| r.kind == kind));
    }
    Ok(db.media_rendition(&asset.sha256, kind).await?)
}

/// The WebVTT thumbnail track of asset `id` (cues pointing into its sprite through a presigned
/// URL valid for `ttl`), if `caller` may read it and the sprite is made.
pub async fn thumbnails_vtt(
    db: &Db,
    store: &ObjectStore,
    caller: &Caller,
    id: &str,
    ttl: Duration,
) -> Result<String> {
    let asset = visible_asset(db, caller, id).await?;
    let sprite = current_rendition(db, &asset, RenditionKind::Sprite).await?;
    let probe = db.media_probe(&asset.sha256).await?;
    let (
        Some(RenditionRecord {
            state: RenditionState::Ready,
            object_key: Some(key),
            width: Some(w),
            height: Some(h),
            ..
        }),
        Some(ProbeRecord {
            duration_ms: Some(duration),
            ..
        }),
    ) = (sprite, probe)
    else {
        return Err(ServiceError::NotFound("thumbnail track"));
    };
    let url = store
        .presign_get(
            &key,
            ttl,
            "image/jpeg",
            &content_disposition(Disposition::Inline, "sprite.jpg"),
        )
        .await?;
    Ok(crate::media::sprite::thumbnails_vtt(duration, w, h, &url))
}

/// What is reprocessed.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// One asset (the API).
    Asset(&'a str),
    /// Every asset of one lesson (the command line).
    Lesson(&'a str),
    /// The content of a media job (the administration page's button on a dead step).
    Job(&'a str),
    /// Every lesson (after a change of recipes): operators only.
    All,
}

/// What a reprocess did: the contents (SHA-256) queued again, and those left alone because one
/// of their steps was running.
#[derive(Debug, Clone, Default)]
pub struct Reprocessed {
    pub queued: Vec<String>,
    pub skipped: Vec<String>,
}

/// A rendition kind from a client (`only`), absent or empty for all; an HLS variant may be
/// named without its prefix (`720p` is `hls_720p`).
pub fn parse_only(s: Option<&str>) -> std::result::Result<Option<RenditionKind>, Invalid> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => RenditionKind::parse(s)
            .or_else(|| RenditionKind::parse(&format!("hls_{s}")))
            .map(Some)
            .ok_or_else(|| {
                let all: Vec<&str> = RenditionKind::ALL.iter().map(|k| k.as_str()).collect();
                Invalid::new("only", format!("must be one of {}", all.join(", ")))
            }),
    }
}

/// Reprocesses `target`: with `only`, that rendition alone (see `media::Media::reprocess_plan`),
/// else everything from the probe on; forgotten renditions and cleared step rows are replaced
/// by fresh steps (attempts at zero) in one transaction with the audit entry. A content whose
/// step is running is skipped (for one asset: a conflict). Allowed to the lesson's editors and
/// the administrators of its organisation (`visibility::may_reprocess`); every lesson, to
/// operators only.
pub async fn reprocess(
    db: &Db,
    acting: &Acting,
    target: Target<'_>,
    only: Option<RenditionKind>,
) -> Result<Reprocessed> {
    let caller = &acting.caller;
    let (contents, target_kind, target_id, org_id) = match target {
        Target::Asset(id) => {
            let asset = visible_asset(db, caller, id).await?;
            let lesson = visible_lesson(db, caller, &asset.lesson_id).await?;
            if !visibility::may_reprocess(caller, lesson.access()) {
                return Err(deny(
                    db,
                    acting,
                    "media.reprocess",
                    "asset",
                    id,
                    lesson.org_id.as_deref(),
                )
                .await);
            }
            if db.asset_superseded(id).await? {
                return Err(ServiceError::Conflict(
                    "a newer master replaced this one; reprocess the lesson's master".to_owned(),
                ));
            }
            let contents: Vec<_> = db
                .media_contents(Some(std::slice::from_ref(&lesson.id)))
                .await?
                .into_iter()
                .filter(|c| c.sha256 == asset.sha256)
                .collect();
            (contents, "asset", Some(id.to_owned()), lesson.org_id)
        }
        Target::Lesson(id) => {
            let lesson = visible_lesson(db, caller, id).await?;
            if !visibility::may_reprocess(caller, lesson.access()) {
                return Err(deny(
                    db,
                    acting,
                    "media.reprocess",
                    "lesson",
                    id,
                    lesson.org_id.as_deref(),
                )
                .await);
            }
            let contents = db
                .media_contents(Some(std::slice::from_ref(&lesson.id)))
                .await?;
            (contents, "lesson", Some(id.to_owned()), lesson.org_id)
        }
        Target::Job(id) => {
            // Jobs are seen through `visibility::job_scope` (the administrators of the job's
            // organisation); the job names its content.
            let job = super::jobs::visible(db, acting, id, "media.reprocess").await?;
            if !job.kind.uses_media_slot() {
                return Err(ServiceError::Conflict(
                    "only media steps are reprocessed".to_owned(),
                ));
            }
            let contents: Vec<_> = db
                .media_contents(None)
                .await?
                .into_iter()
                .filter(|c| c.sha256 == job.subject)
                .collect();
            let org = (!job.org_id.is_empty()).then(|| job.org_id.clone());
            (contents, "job", Some(id.to_owned()), org)
        }
        Target::All => {
            if !matches!(caller, Caller::Operator { .. }) {
                return Err(deny(db, acting, "media.reprocess", "media", "-", None).await);
            }
            (db.media_contents(None).await?, "media", None, None)
        }
    };
    let mut seen = std::collections::HashSet::new();
    let plans: Vec<(String, crate::db::media::Reprocess)> = contents
        .iter()
        .filter(|c| seen.insert(c.sha256.clone()))
        .filter_map(|c| crate::media::Media::reprocess_plan(c, only).map(|p| (c.sha256.clone(), p)))
        .collect();
    if plans.is_empty() && !matches!(target, Target::All) {
        return Err(ServiceError::Conflict(match only {
            None => "nothing here is media processing handles (video, audio, poster images, PDF)"
                .to_owned(),
            Some(k) => format!(
                "nothing here has a rendition {} (page images are made of PDF documents, the \
                 other renditions of video and audio)",
                k.as_str()
            ),
        }));
    }
    let event = Event {
        action: "media.reprocess",
        target_kind,
        target_id: target_id.as_deref(),
        org_id: org_id.as_deref(),
        before: None,
        after: Some(serde_json::json!({ "only": only.map(RenditionKind::as_str) })),
    };
    let (queued, skipped) = db.reprocess_media(&plans, &acting.actor, event).await?;
    if matches!(target, Target::Asset(_)) && queued.is_empty() && !skipped.is_empty() {
        return Err(ServiceError::Conflict(
            "a media step of this file is running; reprocess it when the step ends".to_owned(),
        ));
    }
    Ok(Reprocessed { queued, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_takes_every_kind_and_a_variant_without_its_prefix() {
        for k in RenditionKind::ALL {
            assert_eq!(parse_only(Some(k.as_str())).unwrap(), Some(k));
        }
        assert_eq!(
            parse_only(Some("720p")).unwrap(),
            Some(RenditionKind::Hls720p)
        );
        // The audio file, not the audio-only HLS variant.
        assert_eq!(
            parse_only(Some("audio_64k")).unwrap(),
            Some(RenditionKind::Audio64k)
        );
        assert_eq!(parse_only(Some("")).unwrap(), None);
        assert_eq!(parse_only(None).unwrap(), None);
        let err = parse_only(Some("hd")).unwrap_err();
        assert!(format!("{err:?}").contains("hls_720p"), "{err:?}");
    }
}
