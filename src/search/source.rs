//! What the index holds of a lesson, read from SQL: its fields, its organisation's ancestors, its
//! region's names, and the text of its documents and subtitles. Text not yet extracted is
//! extracted here (once per content, recorded in SQL), so a rebuild reads SQL only.

use super::extract::Format;
use super::isolate::{Extractor, Failure};
use crate::db::Db;
use crate::db::assets::AssetRecord;
use crate::db::lessons::LessonRecord;
use crate::db::texts::NewSegment;
use crate::storage::ObjectStore;
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
fn extractable(a: &AssetRecord) -> Option<Format> {
    if !matches!(a.role.as_str(), "master" | "attachment" | "subtitle") {
        return None;
    }
    Format::detect(&a.content_type, &a.filename)
}

/// Lessons read for the index.
pub struct Loaded {
    /// `(id, None)` for a lesson that no longer exists.
    pub docs: Vec<(String, Option<LessonDoc>)>,
    /// Lessons with a document or subtitle whose content could not be read from storage: their
    /// text is missing from `docs` and is to be tried again.
    pub unread: Vec<String>,
}

/// Reads lessons `ids` for the index.
pub async fn load(
    db: &Db,
    store: Option<&ObjectStore>,
    ids: &[&str],
) -> Result<Loaded, sqlx::Error> {
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
    let assets: Vec<(AssetRecord, Format)> = db
        .assets_of_lessons(&present)
        .await?
        .into_iter()
        .filter_map(|a| extractable(&a).map(|f| (a, f)))
        .collect();
    let unread = match store {
        Some(store) => extract_missing(db, store, &assets).await?,
        None => Vec::new(),
    };
    let shas: Vec<&str> = {
        let mut s: Vec<&str> = assets.iter().map(|(a, _)| a.sha256.as_str()).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let mut by_sha: HashMap<String, Vec<crate::db::texts::SegmentRow>> = HashMap::new();
    for row in db.segments_of(&shas).await? {
        by_sha.entry(row.sha256.clone()).or_default().push(row);
    }
    let mut segments: HashMap<&str, Vec<SegmentDoc>> = HashMap::new();
    for (a, _) in &assets {
        let list = segments.entry(a.lesson_id.as_str()).or_default();
        for row in by_sha.get(&a.sha256).into_iter().flatten() {
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
    Ok(Loaded { docs: out, unread })
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

/// Extracts the text of every content among `assets` that has none recorded yet. A content that
/// cannot be read from storage (or whose extraction process cannot be started) is skipped, and
/// its lesson returned so it is tried again; one that cannot be extracted, or is over the
/// extraction's budget, is recorded as failed, with why. Extraction runs in a child process
/// (see [`super::isolate`]), so a hostile file costs the service nothing but its bytes.
async fn extract_missing(
    db: &Db,
    store: &ObjectStore,
    assets: &[(AssetRecord, Format)],
) -> Result<Vec<String>, sqlx::Error> {
    let mut unread = Vec::new();
    let shas: Vec<&str> = assets.iter().map(|(a, _)| a.sha256.as_str()).collect();
    let done: HashSet<String> = db.extracted(&shas).await?.into_iter().collect();
    let mut seen = HashSet::new();
    for (a, format) in assets {
        if done.contains(&a.sha256) || !seen.insert(a.sha256.as_str()) {
            continue;
        }
        if a.size as u64 > format.max_input_bytes() {
            let why = format!(
                "larger than {} MiB, the most text is extracted from",
                format.max_input_bytes() >> 20
            );
            db.record_extraction(&a.sha256, format.as_str(), Err(&why))
                .await?;
            continue;
        }
        let bytes = match store.get_bytes(&a.object_key).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(asset = %a.id, error = %e, "cannot read an asset to extract its text; will try again");
                unread.push(a.lesson_id.clone());
                continue;
            }
        };
        let format = *format;
        match Extractor::for_this_process().extract(format, bytes).await {
            Ok(segments) => {
                let rows: Vec<NewSegment> = segments
                    .into_iter()
                    .map(|s| NewSegment {
                        page: s.page.map(i64::from),
                        start_ms: s.start_ms,
                        end_ms: s.end_ms,
                        text: s.text,
                    })
                    .collect();
                db.record_extraction(&a.sha256, format.as_str(), Ok(&rows))
                    .await?;
            }
            Err(Failure::File(why)) => {
                tracing::info!(asset = %a.id, error = %why, "no text could be extracted");
                db.record_extraction(&a.sha256, format.as_str(), Err(&why))
                    .await?;
            }
            Err(Failure::Unavailable(why)) => {
                tracing::warn!(asset = %a.id, error = %why, "cannot extract text now; will try again");
                unread.push(a.lesson_id.clone());
            }
        }
    }
    unread.sort_unstable();
    unread.dedup();
    Ok(unread)
}
