//! The members' library: what the front page, a lesson's page, a series and a lecturer show.
//! Every listing reads within [`visibility::library_scope`] (published lessons), and one lesson
//! through `catalog::visible_lesson` (the one read check), so a page shows nothing the caller
//! may not read. Searching is `services::search` on its library shelf.

use super::catalog::visible_lesson;
use super::search::{self, Shelf};
use super::{Result, ServiceError};
use crate::db::Db;
use crate::db::assets::AssetRecord;
use crate::db::learning::ProgressRecord;
use crate::db::lessons::{LessonFilter, LessonRecord, ListOrder};
use crate::db::media::RenditionRecord;
use crate::db::subtitles::SubtitleRecord;
use crate::domain::asset::AssetRole;
use crate::domain::lesson::{LessonKind, LessonStatus};
use crate::domain::media::RenditionKind;
use crate::domain::visibility::{self, Caller};
use crate::search::index::SearchIndex;
use std::collections::HashMap;
use std::sync::Arc;

/// A lesson as a list shows it: with the file its picture and length come from.
#[derive(Debug)]
pub struct Card {
    pub lesson: LessonRecord,
    /// The current master, whose picture (`picture`) and length the card shows.
    pub master: Option<String>,
    /// The rendition to show as the card's picture: a poster, or a document's first page.
    pub picture: Option<RenditionKind>,
    pub duration_ms: Option<i64>,
}

/// The newest master of each lesson: asset ids are time-ordered (UUIDv7), the newest last.
fn newest_masters(assets: &[AssetRecord]) -> HashMap<&str, &AssetRecord> {
    let mut masters = HashMap::new();
    for a in assets.iter().filter(|a| a.role == AssetRole::Master) {
        masters.insert(a.lesson_id.as_str(), a);
    }
    masters
}

/// `lessons` as cards, in their order.
pub async fn cards(db: &Db, lessons: Vec<LessonRecord>) -> Result<Vec<Card>> {
    let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    let assets = db.assets_of_lessons(&ids).await?;
    let masters = newest_masters(&assets);
    let shas: Vec<&str> = masters.values().map(|a| a.sha256.as_str()).collect();
    let renditions = db.ready_renditions(&shas, None).await?;
    let mut by_sha: HashMap<&str, Vec<&RenditionRecord>> = HashMap::new();
    for r in &renditions {
        by_sha.entry(r.source_sha256.as_str()).or_default().push(r);
    }
    // An uploaded poster whose sizes are made wins over a frame of the video (see
    // `services::media`).
    let posters: Vec<&AssetRecord> = assets
        .iter()
        .filter(|a| a.role == AssetRole::Poster && a.content_type.starts_with("image/"))
        .collect();
    let poster_shas: Vec<&str> = posters.iter().map(|a| a.sha256.as_str()).collect();
    let made_posters: std::collections::HashSet<String> = db
        .ready_renditions(&poster_shas, Some(RenditionKind::PosterSmall))
        .await?
        .into_iter()
        .map(|r| r.source_sha256)
        .collect();
    let mut cards = Vec::with_capacity(lessons.len());
    for lesson in lessons {
        let master = masters.get(lesson.id.as_str()).copied();
        let made = master
            .and_then(|m| by_sha.get(m.sha256.as_str()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let has = |k: RenditionKind| made.iter().any(|r| r.kind == k);
        let uploaded_poster = posters
            .iter()
            .any(|a| a.lesson_id == lesson.id && made_posters.contains(&a.sha256));
        let picture = if uploaded_poster || has(RenditionKind::PosterSmall) {
            Some(RenditionKind::PosterSmall)
        } else if has(RenditionKind::Page1) {
            Some(RenditionKind::Page1)
        } else {
            None
        };
        let duration_ms = made.iter().filter_map(|r| r.duration_ms).max();
        cards.push(Card {
            master: master.map(|m| m.id.clone()),
            picture: picture.filter(|_| master.is_some()),
            duration_ms,
            lesson,
        });
    }
    Ok(cards)
}

/// A series as the front page features it: its first episodes in order.
#[derive(Debug)]
pub struct SeriesShelf {
    pub name: String,
    pub episodes: u64,
    pub first: Vec<Card>,
}

/// What the front page shows.
#[derive(Debug)]
pub struct Front {
    pub newest: Vec<Card>,
    pub series: Vec<SeriesShelf>,
    pub kinds: Vec<(LessonKind, u64)>,
    pub tags: Vec<(String, u64)>,
    /// Provinces (code, name, lessons).
    pub regions: Vec<(String, Option<&'static str>, u64)>,
    pub lecturers: Vec<(String, i64)>,
    /// Published lessons in all.
    pub total: usize,
}

/// How many newest lessons, featured series (and episodes of each), tags and lecturers the front
/// page shows.
const NEWEST: usize = 12;
const FEATURED_SERIES: usize = 3;
const EPISODES_SHOWN: i64 = 4;
const TAGS_SHOWN: usize = 24;
const LECTURERS_SHOWN: usize = 16;

/// The front page: the newest lessons, the series with the most episodes (each in episode
/// order), and what to browse by.
pub async fn front(db: &Db, index: &Arc<SearchIndex>, caller: &Caller) -> Result<Front> {
    let found = search::browse(db, index, caller, Shelf::Library, NEWEST).await?;
    let newest = cards(db, found.hits.into_iter().map(|h| h.lesson).collect()).await?;
    let facets = found.facets;
    let mut series = Vec::new();
    for (name, count) in facets.series.iter().take(FEATURED_SERIES) {
        let lessons = episodes(db, caller, name, EPISODES_SHOWN).await?;
        series.push(SeriesShelf {
            name: name.clone(),
            episodes: *count,
            first: cards(db, lessons).await?,
        });
    }
    let kinds = facets
        .kind
        .iter()
        .filter_map(|(k, n)| LessonKind::parse(k).ok().map(|k| (k, *n)))
        .collect();
    let regions = facets
        .region
        .into_iter()
        .map(|(code, n)| (code.clone(), crate::domain::region::name(&code), n))
        .collect();
    // From the index, counted with the rest of the browse: a GROUP BY over every lesson took
    // hundreds of milliseconds at 100,000 lessons.
    let lecturers = facets
        .lecturer
        .into_iter()
        .take(LECTURERS_SHOWN)
        .map(|(name, n)| (name, n as i64))
        .collect();
    Ok(Front {
        newest,
        series,
        kinds,
        tags: facets.tag.into_iter().take(TAGS_SHOWN).collect(),
        regions,
        lecturers,
        total: found.total,
    })
}

/// The lessons of series `name` in the library, in episode order, at most `limit`.
async fn episodes(db: &Db, caller: &Caller, name: &str, limit: i64) -> Result<Vec<LessonRecord>> {
    let filter = LessonFilter {
        series: Some(name.to_owned()),
        order: ListOrder::Episode,
        ..Default::default()
    };
    Ok(db
        .lessons(&visibility::library_scope(caller), &filter, limit)
        .await?)
}

/// The most episodes a series or lecturer page lists.
pub const MAX_LISTED: i64 = 500;

/// The lessons of one series or one lecturer.
#[derive(Debug)]
pub struct Shelved {
    pub name: String,
    pub cards: Vec<Card>,
    /// Whether there were more than [`MAX_LISTED`].
    pub more: bool,
    /// The series' podcast feed (audio lessons), `feeds/series/{id}.rss`.
    pub podcast: Option<String>,
}

/// Series `name`'s episodes in order; a series with no episode in the library does not exist.
pub async fn series(db: &Db, caller: &Caller, name: &str) -> Result<Shelved> {
    let lessons = episodes(db, caller, name, MAX_LISTED + 1).await?;
    shelved(db, name, lessons).await
}

/// Lecturer `name`'s lessons, newest first.
pub async fn lecturer(db: &Db, caller: &Caller, name: &str) -> Result<Shelved> {
    let filter = LessonFilter {
        lecturer: Some(name.to_owned()),
        order: ListOrder::Newest,
        ..Default::default()
    };
    let lessons = db
        .lessons(&visibility::library_scope(caller), &filter, MAX_LISTED + 1)
        .await?;
    let mut shelved = shelved(db, name, lessons).await?;
    shelved.podcast = None;
    Ok(shelved)
}

async fn shelved(db: &Db, name: &str, mut lessons: Vec<LessonRecord>) -> Result<Shelved> {
    if lessons.is_empty() {
        return Err(ServiceError::NotFound("series"));
    }
    let more = lessons.len() as i64 > MAX_LISTED;
    lessons.truncate(MAX_LISTED as usize);
    let podcast = lessons
        .iter()
        .any(|l| l.kind == LessonKind::Audio)
        .then(|| {
            format!(
                "/feeds/series/{}.rss",
                crate::domain::platform::series_id(name)
            )
        });
    Ok(Shelved {
        name: name.to_owned(),
        cards: cards(db, lessons).await?,
        more,
        podcast,
    })
}

/// One page of a document: its image where one is made, else its text.
#[derive(Debug)]
pub struct DocPage {
    pub number: i64,
    pub image: bool,
    pub text: String,
}

/// A document of the lesson, readable in the page.
#[derive(Debug)]
pub struct Document {
    pub asset: AssetRecord,
    /// The pages around the one asked for (at most [`PAGES_SHOWN`]).
    pub pages: Vec<DocPage>,
    /// Pages in all (as extracted; 0 when the text is not extracted).
    pub page_count: i64,
}

/// How many pages of a document the lesson page shows at once.
pub const PAGES_SHOWN: i64 = 10;

/// What the lesson page shows.
#[derive(Debug)]
pub struct LessonPage {
    pub lesson: LessonRecord,
    /// The lesson is not published: only someone who may read it sees this preview.
    pub preview: bool,
    /// The current video or audio master.
    pub media: Option<AssetRecord>,
    /// The master's ready renditions.
    pub renditions: Vec<RenditionKind>,
    /// Whether an HLS ladder is ready (played through `…/media/hls/master.m3u8`).
    pub hls: bool,
    pub duration_ms: Option<i64>,
    /// The poster rendition to show, when made (an uploaded poster wins).
    pub poster: bool,
    pub subtitles: Vec<SubtitleRecord>,
    /// The PDF master or attachments, readable in the page.
    pub documents: Vec<Document>,
    /// Every other file to download.
    pub downloads: Vec<AssetRecord>,
    /// The previous and next episodes of its series in the library.
    pub previous: Option<LessonRecord>,
    pub next: Option<LessonRecord>,
    /// Where in the series it is (1-based) and how many episodes there are.
    pub episode: Option<(usize, usize)>,
}

/// Lesson `id` as its library page shows it, if `caller` may read it; `page` is the document
/// page to show the pages around.
pub async fn lesson(db: &Db, caller: &Caller, id: &str, page: Option<i64>) -> Result<LessonPage> {
    let lesson = visible_lesson(db, caller, id).await?;
    let preview = lesson.status != LessonStatus::Published;
    let assets = db.lesson_assets(&lesson.id).await?;
    let masters = newest_masters(&assets);
    let master = masters.get(lesson.id.as_str()).map(|a| (*a).clone());
    let is_media = |a: &AssetRecord| {
        a.content_type.starts_with("video/") || a.content_type.starts_with("audio/")
    };
    let media = master.clone().filter(is_media);
    let (mut renditions, mut duration_ms, mut poster) = (Vec::new(), None, false);
    if let Some(m) = &media {
        let made = super::media::asset_media(db, caller, &m.id).await?;
        renditions = made
            .renditions
            .iter()
            .filter(|r| r.state == crate::domain::media::RenditionState::Ready)
            .map(|r| r.kind)
            .collect();
        duration_ms = made
            .probe
            .as_ref()
            .and_then(|p| p.duration_ms)
            .or_else(|| made.renditions.iter().filter_map(|r| r.duration_ms).max());
        poster = renditions.contains(&RenditionKind::PosterLarge);
    }
    let hls = renditions.iter().any(|k| k.hls().is_some());
    let subtitles = if media.is_some() {
        super::subtitles::list(db, caller, &lesson.id).await?
    } else {
        Vec::new()
    };

    let is_pdf = |a: &AssetRecord| a.content_type == "application/pdf";
    let doc_assets: Vec<&AssetRecord> = assets
        .iter()
        .filter(|a| {
            is_pdf(a)
                && (a.role == AssetRole::Attachment
                    || master.as_ref().is_some_and(|m| m.id == a.id))
        })
        .collect();
    let mut documents = Vec::new();
    for (i, a) in doc_assets.iter().enumerate() {
        // The page asked for is the first document's (a search hit names its asset; the page
        // opens the lesson, whose main document is first).
        let want = if i == 0 { page.unwrap_or(1) } else { 1 };
        documents.push(document(db, a, want).await?);
    }
    let shown: std::collections::HashSet<&str> = media
        .iter()
        .map(|m| m.id.as_str())
        .chain(doc_assets.iter().map(|a| a.id.as_str()))
        .collect();
    let downloads = assets
        .iter()
        .filter(|a| !shown.contains(a.id.as_str()))
        .filter(|a| matches!(a.role, AssetRole::Master | AssetRole::Attachment))
        .cloned()
        .collect();

    let (mut previous, mut next, mut episode) = (None, None, None);
    if let Some(name) = &lesson.series {
        let all = episodes(db, caller, name, MAX_LISTED).await?;
        if let Some(at) = all.iter().position(|l| l.id == lesson.id) {
            episode = Some((at + 1, all.len()));
            previous = at.checked_sub(1).and_then(|i| all.get(i)).cloned();
            next = all.get(at + 1).cloned();
        }
    }
    Ok(LessonPage {
        lesson,
        preview,
        media,
        renditions,
        hls,
        duration_ms,
        poster,
        subtitles,
        documents,
        downloads,
        previous,
        next,
        episode,
    })
}

/// Document `asset` with the pages around `want` (its images where made, else its text).
async fn document(db: &Db, asset: &AssetRecord, want: i64) -> Result<Document> {
    let segments = db.segments_of(&[asset.sha256.as_str()]).await?;
    let page_count = segments.iter().filter_map(|s| s.page).max().unwrap_or(0);
    let images: std::collections::HashSet<i64> = db
        .ready_renditions(&[asset.sha256.as_str()], None)
        .await?
        .into_iter()
        .filter_map(|r| r.kind.page_number())
        .map(|n| n as i64)
        .collect();
    let last = page_count.max(images.iter().copied().max().unwrap_or(0));
    let want = want.clamp(1, last.max(1));
    let first = ((want - 1) / PAGES_SHOWN) * PAGES_SHOWN + 1;
    let mut pages = Vec::new();
    for number in first..(first + PAGES_SHOWN).min(last + 1) {
        let text: Vec<&str> = segments
            .iter()
            .filter(|s| s.page == Some(number))
            .map(|s| s.text.as_str())
            .collect();
        pages.push(DocPage {
            number,
            image: images.contains(&number),
            text: text.join("\n"),
        });
    }
    Ok(Document {
        asset: asset.clone(),
        pages,
        page_count: last,
    })
}

/// Whether a position is at the end: within ten seconds, or the last 5 %, of the lesson.
pub fn finished(p: &ProgressRecord) -> bool {
    p.duration_ms
        .is_some_and(|d| p.position_ms >= d - (d / 20).max(10_000))
}

/// Where `caller` stopped in the lessons it may still read, most recent first, at most `limit`.
pub async fn positions(db: &Db, caller: &Caller, limit: i64) -> Result<Vec<ProgressRecord>> {
    let user = super::learning::learner(caller)?;
    let recent = db.recent_progress(user, limit).await?;
    let ids: Vec<&str> = recent.iter().map(|p| p.lesson_id.as_str()).collect();
    let readable: std::collections::HashSet<String> = db
        .lessons_by_ids(&ids)
        .await?
        .into_iter()
        .filter(|l| visibility::may(caller, visibility::Action::Read, l.access()))
        .map(|l| l.id)
        .collect();
    Ok(recent
        .into_iter()
        .filter(|p| readable.contains(&p.lesson_id))
        .collect())
}

/// A lesson to go back to, and where.
#[derive(Debug)]
pub struct Resume {
    pub card: Card,
    pub position_ms: i64,
    pub duration_ms: Option<i64>,
}

/// "Continue watching": the library's lessons `caller` stopped in before their end, most
/// recent first, at most `limit`; nothing for a caller who is no account.
pub async fn continue_watching(db: &Db, caller: &Caller, limit: usize) -> Result<Vec<Resume>> {
    let Some(user) = visibility::learner(caller) else {
        return Ok(Vec::new());
    };
    let recent: Vec<ProgressRecord> = db
        .recent_progress(user, (limit * 4) as i64)
        .await?
        .into_iter()
        .filter(|p| !finished(p) && p.position_ms > 0)
        .collect();
    let ids: Vec<&str> = recent.iter().map(|p| p.lesson_id.as_str()).collect();
    let scope = visibility::library_scope(caller);
    let mut lessons: HashMap<String, LessonRecord> = db
        .lessons_by_ids(&ids)
        .await?
        .into_iter()
        .filter(|l| {
            scope.allows(l.status, &l.org_path)
                && visibility::may(caller, visibility::Action::Read, l.access())
        })
        .map(|l| (l.id.clone(), l))
        .collect();
    let mut kept = Vec::new();
    for p in recent {
        if kept.len() == limit {
            break;
        }
        if let Some(l) = lessons.remove(&p.lesson_id) {
            kept.push((l, p));
        }
    }
    let (ls, ps): (Vec<LessonRecord>, Vec<ProgressRecord>) = kept.into_iter().unzip();
    Ok(cards(db, ls)
        .await?
        .into_iter()
        .zip(ps)
        .map(|(card, p)| Resume {
            card,
            position_ms: p.position_ms,
            duration_ms: p.duration_ms,
        })
        .collect())
}

/// Where `caller` stopped in lesson `lesson_id` (already read by the caller), unless at its end.
pub async fn resume_at(db: &Db, caller: &Caller, lesson_id: &str) -> Result<Option<i64>> {
    let Some(user) = visibility::learner(caller) else {
        return Ok(None);
    };
    Ok(db
        .progress(user, lesson_id)
        .await?
        .filter(|p| !finished(p))
        .map(|p| p.position_ms))
}
