//! What the index holds of a lesson, read from SQL only: its fields, its organisation's
//! ancestors, its region's names, and the text of its documents and subtitles as far as it has
//! been extracted. Extraction is a job (`crate::jobs`, kind `extract_text`, one per content);
//! [`Loaded::missing`] names the contents with no extraction recorded, for the follower to queue,
//! and the job appends a change for the lessons concerned when it is done, so they are indexed
//! again with their text.

use super::extract::Format;
use crate::db::Db;
use crate::db::assets::AssetRecord;
use crate::db::lessons::LessonRecord;
use crate::domain::asset::AssetRole;
use std::collections::{HashMap, HashSet};

/// A lesson as the index sees it.
#[derive(Debug, Clone)]
pub struct LessonDoc {
    pub lesson: LessonRecord,
    /// The owning organisation and its ancestors, as path prefixes (`/root/`, `/root/city/`).
    pub ancestors: Vec<String>,
    /// The region and the regions above it, top first: (code, name).
    pub regions: Vec<(String, String)>,
    pub segments: Vec<SegmentDoc>,
}

/// A page of a document or a cue of a subtitle.
#[derive(Debug, Clone)]
pub struct SegmentDoc {
    pub asset_id: String,
    pub page: Option<i64>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub text: String,
}

/// Whether an asset's text is searched: documents (masters and attachments) and subtitles.
pub fn extractable(a: &AssetRecord) -> Option<Format> {
    if !matches!(
        a.role,
        AssetRole::Master | AssetRole::Attachment | AssetRole::Subtitle
    ) {
        return None;
    }
    Format::detect(&a.content_type, &a.filename)
}

/// Lessons read for the index.
pub struct Loaded {
    /// `(id, None)` for a lesson that no longer exists.
    pub docs: Vec<(String, Option<LessonDoc>)>,
    /// Contents (documents and subtitles) with no extraction recorded yet.
    pub missing: Vec<Missing>,
}

/// A content whose text has not been extracted yet: what an extraction job needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Missing {
    pub sha256: String,
    pub format: String,
    pub object_key: String,
    pub size: i64,
    /// The organisation of (one of) the lessons holding it, whose work it is.
    pub org_id: String,
}

/// Reads lessons `ids` for the index.
pub async fn load(db: &Db, ids: &[&str]) -> Result<Loaded, sqlx::Error> {
    let mut lessons: HashMap<String, LessonRecord> = db
        .lessons_by_ids(ids)
        .await?
        .into_iter()
        .map(|l| (l.id.clone(), l))
        .collect();
    let present: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| lessons.contains_key(*id))
        .collect();
    let all_assets = db.assets_of_lessons(&present).await?;
    // Machine transcripts of the video and audio masters, for lessons with no editor's
    // subtitle (which replaces the machine's).
    let subtitled: HashSet<&str> = all_assets
        .iter()
        .filter(|a| a.role == AssetRole::Subtitle)
        .map(|a| a.lesson_id.as_str())
        .collect();
    let spoken: Vec<&AssetRecord> = all_assets
        .iter()
        .filter(|a| {
            a.role == AssetRole::Master
                && (a.content_type.starts_with("video/") || a.content_type.starts_with("audio/"))
                && !subtitled.contains(a.lesson_id.as_str())
        })
        .collect();
    let transcripts: HashMap<String, String> = {
        let mut s: Vec<&str> = spoken.iter().map(|a| a.sha256.as_str()).collect();
        s.sort_unstable();
        s.dedup();
        db.transcripts_of(&s).await?.into_iter().collect()
    };
    let assets: Vec<(AssetRecord, Format)> = all_assets
        .iter()
        .filter_map(|a| extractable(a).map(|f| (a.clone(), f)))
        .collect();
    let shas: Vec<&str> = {
        let mut s: Vec<&str> = assets.iter().map(|(a, _)| a.sha256.as_str()).collect();
        s.extend(transcripts.values().map(String::as_str));
        s.sort_unstable();
        s.dedup();
        s
    };
    let done: HashSet<String> = db.extracted(&shas).await?.into_iter().collect();
    let mut missing: Vec<Missing> = Vec::new();
    for (a, format) in &assets {
        if !done.contains(&a.sha256) && !missing.iter().any(|m| m.sha256 == a.sha256) {
            missing.push(Missing {
                sha256: a.sha256.clone(),
                format: format.as_str().to_owned(),
                object_key: a.object_key.clone(),
                size: a.size,
                org_id: lessons
                    .get(&a.lesson_id)
                    .and_then(|l| l.org_id.clone())
                    .unwrap_or_default(),
            });
        }
    }
    let mut by_sha: HashMap<String, Vec<crate::db::texts::SegmentRow>> = HashMap::new();
    for row in db.segments_of(&shas).await? {
        by_sha.entry(row.sha256.clone()).or_default().push(row);
    }
    let mut segments: HashMap<&str, Vec<SegmentDoc>> = HashMap::new();
    // A document's or subtitle's text under its own asset; a machine transcript's cues under
    // the master they were heard in.
    let texts = assets.iter().map(|(a, _)| (a, a.sha256.as_str())).chain(
        spoken
            .iter()
            .filter_map(|a| transcripts.get(&a.sha256).map(|t| (*a, t.as_str()))),
    );
    for (a, sha) in texts {
        let list = segments.entry(a.lesson_id.as_str()).or_default();
        for row in by_sha.get(sha).into_iter().flatten() {
            list.push(SegmentDoc {
                asset_id: a.id.clone(),
                page: row.page,
                start_ms: row.start_ms,
                end_ms: row.end_ms,
                text: row.text.clone(),
            });
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let doc = lessons.remove(*id).map(|lesson| LessonDoc {
            ancestors: crate::domain::org::ids(&lesson.org_path)
                .iter()
                .scan(String::from("/"), |acc, id| {
                    acc.push_str(id);
                    acc.push('/');
                    Some(acc.clone())
                })
                .collect(),
            regions: lesson
                .region_code
                .as_deref()
                .map(crate::domain::region::lineage)
                .unwrap_or_default()
                .into_iter()
                .map(|(c, n)| (c.to_owned(), n.to_owned()))
                .collect(),
            segments: segments.remove(id).unwrap_or_default(),
            lesson,
        });
        out.push((id.to_string(), doc));
    }
    Ok(Loaded { docs: out, missing })
}

/// Among the next `limit` documents and subtitles after asset `after`, the lessons of those
/// whose text has not been extracted, successfully or not (what a storage failure left behind),
/// and the asset id to go on after (`None` once the last page is read).
pub async fn lessons_missing_text(
    db: &Db,
    after: &str,
    limit: i64,
) -> Result<(Vec<String>, Option<String>), sqlx::Error> {
    let assets = db.assets_without_extraction(after, limit).await?;
    let next = (assets.len() as i64 >= limit)
        .then(|| assets.last().map(|a| a.id.clone()))
        .flatten();
    let mut lessons: Vec<String> = assets
        .into_iter()
        .filter(|a| extractable(a).is_some())
        .map(|a| a.lesson_id)
        .collect();
    lessons.sort_unstable();
    lessons.dedup();
    Ok((lessons, next))
}
