//! Searching the lessons a caller may read: the one place that turns a query's raw parameters
//! into an index request, asks the index, and keeps only what SQL says the caller may read now.
//! The API (`GET /api/v1/search`) and the members' pages render what it answers.

use super::{Result, ServiceError};
use crate::db::Db;
use crate::db::lessons::LessonRecord;
use crate::domain::Invalid;
use crate::domain::lesson::{LessonKind, RegionCode};
use crate::domain::visibility::{self, Action, Caller, ReadScope, read_scope};
use crate::search::analyzer;
use crate::search::index::{
    Facets, Filters, Request, SearchError, SearchIndex, Sort, Status, Suggestion, day_start_ms,
};
use crate::search::query;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest query taken, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The longest prefix completed, in characters.
pub const MAX_SUGGEST_CHARS: usize = 50;
/// The longest tag, lecturer or series filter, in characters.
pub const MAX_FILTER_CHARS: usize = 100;
/// The deepest page: beyond it, narrow the search.
pub const MAX_OFFSET: usize = 1000;
/// The most hits on one page.
pub const MAX_LIMIT: usize = 100;

/// A search as a caller asked for it: every field as given, checked by [`search`].
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub q: Option<String>,
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    /// A GB/T 2260 region code: it and every region below it.
    pub region: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    /// `relevance` (the default) or `newest`.
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// When the first page finds fewer than [`FALLBACK_BELOW`] lessons, also find lessons with
    /// all words but one ([`Found::partial`]).
    pub fallback: bool,
}

/// A first page with fewer full matches than this gets partial matches too (with `fallback`).
pub const FALLBACK_BELOW: usize = 3;

/// One page of what matched, with the facets of every match.
#[derive(Debug)]
pub struct Found {
    /// How many lessons match in all.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub hits: Vec<Hit>,
    /// Lessons with all words but one (ranked below every full match, and shown apart), when
    /// asked for with [`Params::fallback`] and the full matches were few.
    pub partial: Vec<Hit>,
    /// When the query as typed found nothing and a pinyin or Latin word of it was one slip of a
    /// key from words that lessons hold: the corrected query, whose matches these are.
    pub corrected: Option<String>,
    pub facets: Facets,
    pub timings: Timings,
}

/// Where a search's time went.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// Matching, ranking, counting and facets over the lesson documents.
    pub index: Duration,
    /// Finding the matching pages and cues of the hits.
    pub cues: Duration,
    /// Reading the hits' lessons from SQL.
    pub db: Duration,
}

/// A lesson that matches, as SQL has it now, with where it matches.
#[derive(Debug)]
pub struct Hit {
    pub lesson: LessonRecord,
    /// The relevance score; `None` when sorted by date.
    pub score: Option<f32>,
    /// The title with the matches marked (HTML: text escaped, matches in `<mark>`).
    pub title_marked: String,
    /// An excerpt of the description around the first match, marked the same way.
    pub description_marked: String,
    /// Subtitle cues that match, best first: deep links into the lecture.
    pub cues: Vec<CueHit>,
    /// Document pages that match, best first.
    pub pages: Vec<PageHit>,
}

/// A subtitle cue that matches.
#[derive(Debug)]
pub struct CueHit {
    pub asset_id: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    /// HTML: the cue's text escaped, the matches in `<mark>`.
    pub text: String,
    /// A cue of the machine transcript of the master `asset_id`, not of an editor's subtitle.
    pub machine_transcript: bool,
}

/// A document page that matches.
#[derive(Debug)]
pub struct PageHit {
    pub asset_id: String,
    /// 1-based; `None` for a document without pages.
    pub page: Option<i64>,
    /// HTML: an excerpt of the page escaped, the matches in `<mark>`.
    pub text: String,
}

/// `q` without control characters and trimmed; an error when it is longer than `max`.
fn clean_query(q: Option<&str>, max: usize, errors: &mut Vec<Invalid>) -> String {
    let q: String = q
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let q = q.trim().to_owned();
    if q.chars().count() > max {
        errors.push(Invalid::new(
            "q",
            format!("must be at most {max} characters"),
        ));
    }
    q
}

/// A day as `YYYY-MM-DD`: its first (or, with `end`, last) moment, Unix milliseconds.
fn day_bound(
    field: &'static str,
    v: Option<&str>,
    end: bool,
    errors: &mut Vec<Invalid>,
) -> Option<i64> {
    let v = v.map(str::trim).filter(|v| !v.is_empty())?;
    match day_start_ms(v) {
        Some(ms) => Some(if end { ms + 86_400_000 - 1 } else { ms }),
        None => {
            errors.push(Invalid::new(field, "must be a date, YYYY-MM-DD"));
            None
        }
    }
}

/// A tag, lecturer or series filter: trimmed, empty is none, bounded.
fn bounded(field: &'static str, v: Option<&str>, errors: &mut Vec<Invalid>) -> Option<String> {
    let v = v.map(str::trim).filter(|v| !v.is_empty())?;
    if v.chars().count() > MAX_FILTER_CHARS {
        errors.push(Invalid::new(
            field,
            format!("must be at most {MAX_FILTER_CHARS} characters"),
        ));
    }
    Some(v.to_owned())
}

/// A parameter given with something in it, trimmed.
fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Checks every parameter at once; every broken rule is listed.
fn request(p: &Params) -> Result<Request> {
    let mut errors = Vec::new();
    let q = clean_query(p.q.as_deref(), MAX_QUERY_CHARS, &mut errors);
    let kind = match nonempty(&p.kind).map(LessonKind::parse).transpose() {
        Ok(k) => k,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let region = match nonempty(&p.region).map(RegionCode::parse).transpose() {
        Ok(r) => r,
        Err(e) => {
            errors.push(Invalid::new("region", e.message));
            None
        }
    };
    let filters = Filters {
        kind: kind.map(|k| k.as_str().to_owned()),
        tag: bounded("tag", p.tag.as_deref(), &mut errors),
        lecturer: bounded("lecturer", p.lecturer.as_deref(), &mut errors),
        series: bounded("series", p.series.as_deref(), &mut errors),
        region_prefix: region.as_ref().map(|r| r.subtree_prefix().to_owned()),
        from_ms: day_bound("from", p.from.as_deref(), false, &mut errors),
        to_ms: day_bound("to", p.to.as_deref(), true, &mut errors),
    };
    if let (Some(a), Some(b)) = (filters.from_ms, filters.to_ms)
        && a > b
    {
        errors.push(Invalid::new("to", "must not be before from"));
    }
    let sort = match nonempty(&p.sort) {
        None | Some("relevance") => Sort::Relevance,
        Some("newest") => Sort::Newest,
        Some(_) => {
            errors.push(Invalid::new("sort", "must be relevance or newest"));
            Sort::Relevance
        }
    };
    let limit = p.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(Invalid::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = p.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        errors.push(Invalid::new(
            "offset",
            format!("must be at most {MAX_OFFSET}; narrow the search instead"),
        ));
    }
    if q.is_empty() && !filters.any() {
        errors.push(Invalid::new("q", "give a query, a filter, or both"));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    Ok(Request {
        query: query::parse(&q),
        filters,
        sort,
        offset,
        limit,
        segments_per_hit: 3,
        everything: false,
        partial: false,
        synonyms: Default::default(),
    })
}

/// Runs `f` on the index off the async runtime (a search reads and scores on the CPU).
async fn on_index<T: Send + 'static>(
    index: &Arc<SearchIndex>,
    f: impl FnOnce(&SearchIndex) -> Result<T, SearchError> + Send + 'static,
) -> Result<T> {
    let index = index.clone();
    tokio::task::spawn_blocking(move || f(&index))
        .await
        .map_err(|e| SearchError::Other(e.to_string()))?
        .map_err(ServiceError::from)
}

/// Where a search looks: everything the caller may read (the API), or the members' library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shelf {
    /// [`read_scope`]: for staff, their drafts too.
    Readable,
    /// [`visibility::library_scope`]: published lessons.
    Library,
}

impl Shelf {
    fn scope(self, caller: &Caller) -> ReadScope {
        match self {
            Self::Readable => read_scope(caller),
            Self::Library => visibility::library_scope(caller),
        }
    }
}

/// Searches the lessons on `shelf` that `caller` may read.
///
/// The index answers within the shelf's scope; it may trail SQL by a moment, so each hit is read
/// again from SQL and kept only if the scope still holds it and [`visibility::may`] lets the
/// caller read it now.
pub async fn search(
    db: &Db,
    index: &Arc<SearchIndex>,
    caller: &Caller,
    shelf: Shelf,
    params: &Params,
) -> Result<Found> {
    let request = request(params)?;
    let fallback = params.fallback && request.offset == 0 && request.query.must.len() >= 2;
    let partial_request = Request {
        partial: true,
        limit: 10,
        offset: 0,
        ..request.clone()
    };
    let first_page = request.offset == 0;
    let typed = request.query.clone();
    let mut found = run(db, index, caller, shelf, request.clone()).await?;
    if found.total == 0 && first_page && !typed.must.is_empty() {
        // Nothing at all: perhaps a slip of a key. The correction is searched in the caller's
        // own scope and kept only when that finds something.
        let asked = typed.clone();
        if let Some(fixed) = on_index(index, move |i| Ok(i.correct(&asked))).await? {
            let again = Request {
                query: fixed.clone(),
                ..request
            };
            let mut better = run(db, index, caller, shelf, again).await?;
            if better.total > 0 {
                better.corrected = Some(fixed.to_string());
                return Ok(better);
            }
        }
    }
    if fallback && found.total < FALLBACK_BELOW {
        found.partial = run(db, index, caller, shelf, partial_request).await?.hits;
    }
    Ok(found)
}

/// The newest lessons on `shelf`, with the facets of all of them (for browsing).
pub async fn browse(
    db: &Db,
    index: &Arc<SearchIndex>,
    caller: &Caller,
    shelf: Shelf,
    limit: usize,
) -> Result<Found> {
    let request = Request {
        sort: Sort::Newest,
        limit,
        everything: true,
        ..Default::default()
    };
    run(db, index, caller, shelf, request).await
}

async fn run(
    db: &Db,
    index: &Arc<SearchIndex>,
    caller: &Caller,
    shelf: Shelf,
    mut request: Request,
) -> Result<Found> {
    request.synonyms = index.synonyms(db).await;
    let needles = request.needles();
    let (offset, limit) = (request.offset, request.limit);
    let scope = shelf.scope(caller);
    let in_scope = scope.clone();
    let began = std::time::Instant::now();
    let results = on_index(index, move |i| i.search(&in_scope, &request)).await?;
    metrics::histogram!("lectern_search_query_duration_seconds")
        .record(began.elapsed().as_secs_f64());

    let db_started = Instant::now();
    let ids: Vec<&str> = results.hits.iter().map(|h| h.id.as_str()).collect();
    let mut lessons: HashMap<String, LessonRecord> = db
        .lessons_by_ids(&ids)
        .await?
        .into_iter()
        .map(|l| (l.id.clone(), l))
        .collect();
    // Cues heard in a master are its machine transcript's (an editor's are a subtitle asset's).
    let cue_assets: Vec<&str> = results
        .hits
        .iter()
        .flat_map(|h| h.segments.iter())
        .filter(|s| s.start_ms.is_some())
        .map(|s| s.asset_id.as_str())
        .collect();
    let machine = if cue_assets.is_empty() {
        Default::default()
    } else {
        db.master_assets_among(&cue_assets).await?
    };
    let db_time = db_started.elapsed();

    let mark = |text: &str, max: usize| {
        analyzer::highlight(text, &needles, max).unwrap_or_else(|| analyzer::excerpt(text, max))
    };
    let mut hits = Vec::with_capacity(results.hits.len());
    for hit in results.hits {
        let Some(lesson) = lessons.remove(&hit.id) else {
            continue;
        };
        if !scope.allows(lesson.status, &lesson.org_path)
            || !visibility::may(caller, Action::Read, lesson.access())
        {
            continue;
        }
        let (mut cues, mut pages) = (Vec::new(), Vec::new());
        for s in hit.segments {
            match s.start_ms {
                Some(start_ms) => cues.push(CueHit {
                    machine_transcript: machine.contains(&s.asset_id),
                    asset_id: s.asset_id,
                    start_ms,
                    end_ms: s.end_ms,
                    text: s.text,
                }),
                None => pages.push(PageHit {
                    asset_id: s.asset_id,
                    page: s.page,
                    text: s.text,
                }),
            }
        }
        hits.push(Hit {
            title_marked: mark(&lesson.title, 200),
            description_marked: mark(&lesson.description, 160),
            lesson,
            score: hit.score,
            cues,
            pages,
        });
    }
    Ok(Found {
        total: results.total,
        offset,
        limit,
        hits,
        partial: Vec::new(),
        corrected: None,
        facets: results.facets,
        timings: Timings {
            index: results.timings.lessons,
            cues: results.timings.segments,
            db: db_time,
        },
    })
}

/// Completions for what is being typed: titles, tags, lecturers and series starting with `q`,
/// or whose pinyin or initials do, among the lessons `caller` may read. An empty `q` gives none.
pub async fn suggest(
    index: &Arc<SearchIndex>,
    caller: &Caller,
    q: Option<&str>,
    limit: Option<usize>,
) -> Result<Vec<Suggestion>> {
    let mut errors = Vec::new();
    let q = clean_query(q, MAX_SUGGEST_CHARS, &mut errors);
    let limit = limit.unwrap_or(10);
    if !(1..=20).contains(&limit) {
        errors.push(Invalid::new("limit", "must be between 1 and 20"));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let scope = read_scope(caller);
    on_index(index, move |i| i.suggest(&scope, &q, limit)).await
}

/// The most documents and subtitles looked at for [`IndexState::lessons_awaiting_text`].
const TEXTS_COUNTED: i64 = 10_000;

/// Where the index stands against the change log.
#[derive(Debug)]
pub struct IndexState {
    pub index: Status,
    /// The change log's head.
    pub head: i64,
    /// Lessons with a document or subtitle whose text is not extracted yet (among the first
    /// 10,000 such files).
    pub lessons_awaiting_text: usize,
}

/// The index's generation, position and size against the change log's head: operators only.
pub async fn status(db: &Db, index: &Arc<SearchIndex>, caller: &Caller) -> Result<IndexState> {
    if !matches!(caller, Caller::Operator { .. }) {
        return Err(ServiceError::Forbidden(
            "only operators may see the search index's status".to_owned(),
        ));
    }
    // Read before the head: a text recorded after this count appends a change the head covers.
    let (waiting, _) = crate::search::source::lessons_missing_text(db, "", TEXTS_COUNTED).await?;
    let head = db.change_head().await?;
    let index = on_index(index, |i| i.status()).await?;
    Ok(IndexState {
        index,
        head,
        lessons_awaiting_text: waiting.len(),
    })
}
