//! `GET /api/v1/search`: Chinese-aware search over the lessons the caller may read;
//! `GET /api/v1/search/suggest`: completions as one types; `GET /api/v1/search/status`: the
//! index's position and size, for operators.

use crate::db::lessons::LessonRecord;
use crate::domain::Invalid;
use crate::domain::lesson::{LessonKind, RegionCode};
use crate::domain::visibility::{self, Action, Caller, read_scope};
use crate::http::AppState;
use crate::http::error::{AppError, Problem};
use crate::http::extract::{Json, Query, Writer};
use crate::search::analyzer;
use crate::search::index::{Filters, Request, Sort, day_start_ms};
use crate::search::query;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// The order of search hits.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortParam {
    /// Best match first (the default).
    Relevance,
    /// The most recent lesson date first.
    Newest,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words (all must match), substrings and single characters, pinyin or initials;
    /// `"…"` is a phrase, a leading `-` excludes a word or phrase. May be left out when a filter
    /// is given.
    #[param(max_length = 200)]
    q: Option<String>,
    #[param(value_type = Option<LessonKind>)]
    kind: Option<String>,
    #[param(max_length = 100)]
    tag: Option<String>,
    #[param(max_length = 100)]
    lecturer: Option<String>,
    #[param(max_length = 100)]
    series: Option<String>,
    /// A GB/T 2260 region code: it and every region below it.
    #[param(pattern = "^[0-9]{6}$")]
    region: Option<String>,
    /// The lesson's date (recorded, else published; UTC+8) on or after this day, `YYYY-MM-DD`.
    #[param(format = Date)]
    from: Option<String>,
    /// The lesson's date on or before this day, `YYYY-MM-DD`.
    #[param(format = Date)]
    to: Option<String>,
    #[param(value_type = Option<SortParam>)]
    sort: Option<String>,
    /// Hits per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// Hits to skip (default 0); deeper pages are refused: narrow the search instead.
    #[param(minimum = 0, maximum = 1000)]
    offset: Option<usize>,
}

/// One page of search hits with the facets of every match.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResultsView {
    /// How many lessons match in all.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub hits: Vec<SearchHitView>,
    pub facets: FacetsView,
}

/// A lesson that matches, with where it matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHitView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub kind: LessonKind,
    pub status: crate::domain::lesson::LessonStatus,
    pub tags: Vec<String>,
    #[schema(required)]
    pub lecturer: Option<String>,
    #[schema(required)]
    pub series: Option<String>,
    #[schema(required)]
    pub region_code: Option<String>,
    /// The region's name, such as 浙江省杭州市.
    #[schema(required)]
    pub region_name: Option<&'static str>,
    #[schema(required, format = Date)]
    pub recorded_on: Option<String>,
    #[schema(required, format = DateTime)]
    pub published_at: Option<String>,
    /// The relevance score; `null` when sorted by date.
    #[schema(required)]
    pub score: Option<f32>,
    pub highlights: HighlightsView,
    /// Subtitle cues that match, best first: deep links into the lecture.
    pub cues: Vec<CueView>,
    /// Document pages that match, best first.
    pub pages: Vec<PageHitView>,
}

/// The title and description with the matches marked (HTML: text escaped, matches in `<mark>`).
#[derive(Debug, Serialize, ToSchema)]
pub struct HighlightsView {
    pub title: String,
    /// An excerpt around the first match.
    pub description: String,
}

/// A subtitle cue that matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct CueView {
    pub asset_id: String,
    pub start_ms: i64,
    #[schema(required)]
    pub end_ms: Option<i64>,
    /// `start_ms` in seconds, for a player's `currentTime`.
    pub start: f64,
    pub text: String,
    /// A cue of the machine transcript (机器转写) of the master `asset_id`, not of an editor's
    /// subtitle.
    pub machine_transcript: bool,
}

/// A document page that matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageHitView {
    pub asset_id: String,
    /// 1-based; `null` for a document without pages.
    #[schema(required)]
    pub page: Option<i64>,
    pub text: String,
}

/// How many matching lessons have each value of a field, most frequent first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetsView {
    pub kind: Vec<FacetCountView>,
    pub tag: Vec<FacetCountView>,
    pub series: Vec<FacetCountView>,
    pub year: Vec<FacetCountView>,
    /// Regions one level below the region filtered on (provinces without a filter).
    pub region: Vec<RegionFacetView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FacetCountView {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionFacetView {
    /// A region code.
    pub value: String,
    #[schema(required)]
    pub name: Option<&'static str>,
    pub count: u64,
}

/// The longest query taken, in characters.
const MAX_QUERY_CHARS: usize = 200;
/// The deepest page: beyond it, narrow the search.
const MAX_OFFSET: usize = 1000;

/// `q` without control characters and trimmed; an error when it is too long.
fn clean_query(q: Option<&str>, errors: &mut Vec<Invalid>) -> String {
    let q: String = q
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let q = q.trim().to_owned();
    if q.chars().count() > MAX_QUERY_CHARS {
        errors.push(Invalid::new(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
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
    match day_start_ms(v?) {
        Some(ms) => Some(if end { ms + 86_400_000 - 1 } else { ms }),
        None => {
            errors.push(Invalid::new(field, "must be a date, YYYY-MM-DD"));
            None
        }
    }
}

/// `GET /api/v1/search`.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    summary = "Chinese-aware search over the lessons the caller may read: words (all must match), substrings and single characters, traditional characters, pinyin and initials, region names, the text of documents (with pages) and subtitles (with times)",
    params(SearchQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "a page of hits and the facets of all matches; `Server-Timing` says where the time went", body = SearchResultsView,
            headers(("Server-Timing" = String, description = "index, cues, db and total durations in ms")))
    )
)]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let started = std::time::Instant::now();
    let mut errors = Vec::new();
    let q = clean_query(p.q.as_deref(), &mut errors);
    let kind = match p.kind.as_deref().map(LessonKind::parse).transpose() {
        Ok(k) => k,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let region = match p.region.as_deref().map(RegionCode::parse).transpose() {
        Ok(r) => r,
        Err(e) => {
            errors.push(Invalid::new("region", e.message));
            None
        }
    };
    let bounded = |field: &'static str, v: Option<String>, errors: &mut Vec<Invalid>| {
        let v = v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if v.as_ref().is_some_and(|v| v.chars().count() > 100) {
            errors.push(Invalid::new(field, "must be at most 100 characters"));
        }
        v
    };
    let filters = Filters {
        kind: kind.map(|k| k.as_str().to_owned()),
        tag: bounded("tag", p.tag, &mut errors),
        lecturer: bounded("lecturer", p.lecturer, &mut errors),
        series: bounded("series", p.series, &mut errors),
        region_prefix: region.as_ref().map(|r| r.subtree_prefix().to_owned()),
        from_ms: day_bound("from", p.from.as_deref(), false, &mut errors),
        to_ms: day_bound("to", p.to.as_deref(), true, &mut errors),
    };
    if let (Some(a), Some(b)) = (filters.from_ms, filters.to_ms)
        && a > b
    {
        errors.push(Invalid::new("to", "must not be before from"));
    }
    let sort = match p.sort.as_deref() {
        None | Some("relevance") => Sort::Relevance,
        Some("newest") => Sort::Newest,
        Some(_) => {
            errors.push(Invalid::new("sort", "must be relevance or newest"));
            Sort::Relevance
        }
    };
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        errors.push(Invalid::new("limit", "must be between 1 and 100"));
    }
    let offset = p.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        errors.push(Invalid::new(
            "offset",
            format!("must be at most {MAX_OFFSET}; narrow the search instead"),
        ));
    }
    let parsed = query::parse(&q);
    if q.is_empty() && !filters.any() {
        errors.push(Invalid::new("q", "give a query, a filter, or both"));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(&errors));
    }
    let needles = parsed.needles();
    let request = Request {
        query: parsed,
        filters,
        sort,
        offset,
        limit,
        segments_per_hit: 3,
    };
    let scope = read_scope(&caller);
    let index = state.search.clone();
    let results = tokio::task::spawn_blocking(move || index.search(&scope, &request))
        .await
        .map_err(|e| AppError::internal(&e))?
        .map_err(|e| AppError::internal(&e))?;
    let db_started = std::time::Instant::now();
    // The index may trail SQL by a moment: what SQL says now decides what is shown.
    let ids: Vec<&str> = results.hits.iter().map(|h| h.id.as_str()).collect();
    let mut lessons: HashMap<String, LessonRecord> = state
        .db
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
        state.db.master_assets_among(&cue_assets).await?
    };
    let db_time = db_started.elapsed();
    let mut hits = Vec::with_capacity(results.hits.len());
    for hit in results.hits {
        let Some(l) = lessons.remove(&hit.id) else {
            continue;
        };
        if !visibility::may(&caller, Action::Read, l.access()) {
            continue;
        }
        let mark = |text: &str, max: usize| {
            analyzer::highlight(text, &needles, max).unwrap_or_else(|| analyzer::excerpt(text, max))
        };
        let (mut cues, mut pages) = (Vec::new(), Vec::new());
        for s in hit.segments {
            match s.start_ms {
                Some(start) => cues.push(CueView {
                    machine_transcript: machine.contains(&s.asset_id),
                    asset_id: s.asset_id,
                    start_ms: start,
                    end_ms: s.end_ms,
                    start: start as f64 / 1000.0,
                    text: s.text,
                }),
                None => pages.push(PageHitView {
                    asset_id: s.asset_id,
                    page: s.page,
                    text: s.text,
                }),
            }
        }
        let region_name = l
            .region_code
            .as_deref()
            .and_then(crate::domain::region::name);
        hits.push(SearchHitView {
            highlights: HighlightsView {
                title: mark(&l.title, 200),
                description: mark(&l.description, 160),
            },
            id: l.id,
            title: l.title,
            description: l.description,
            kind: l.kind,
            status: l.status,
            tags: l.tags,
            lecturer: l.lecturer,
            series: l.series,
            region_code: l.region_code,
            region_name,
            recorded_on: l.recorded_on,
            published_at: l.published_at.map(crate::domain::time::rfc3339),
            score: hit.score,
            cues,
            pages,
        });
    }
    let counted = |values: Vec<(String, u64)>| -> Vec<FacetCountView> {
        values
            .into_iter()
            .map(|(value, count)| FacetCountView { value, count })
            .collect()
    };
    let region = results
        .facets
        .region
        .into_iter()
        .map(|(value, count)| RegionFacetView {
            name: crate::domain::region::name(&value),
            value,
            count,
        })
        .collect();
    let body = Json(SearchResultsView {
        total: results.total,
        offset,
        limit,
        hits,
        facets: FacetsView {
            kind: counted(results.facets.kind),
            tag: counted(results.facets.tag),
            series: counted(results.facets.series),
            year: counted(results.facets.year),
            region,
        },
    });
    // Where the time went (shown by browsers' developer tools; read by the benchmark).
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let timing = format!(
        "index;dur={:.2}, cues;dur={:.2}, db;dur={:.2}, total;dur={:.2}",
        ms(results.timings.lessons),
        ms(results.timings.segments),
        ms(db_time),
        ms(started.elapsed()),
    );
    Ok(([("server-timing", timing)], body).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SuggestQuery {
    /// What has been typed so far (Chinese, pinyin or initials); empty gives no suggestions.
    #[param(max_length = 50)]
    q: Option<String>,
    /// How many suggestions at most (default 10).
    #[param(minimum = 1, maximum = 20)]
    limit: Option<usize>,
}

/// Completions, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionsView {
    pub suggestions: Vec<SuggestionView>,
}

/// One completion and the field it comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionView {
    pub text: String,
    pub source: SuggestionSource,
}

/// The field a suggestion comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionSource {
    Title,
    Tag,
    Lecturer,
    Series,
}

impl SuggestionSource {
    /// The index names the field; an unknown name is an internal error, never a guess.
    fn parse(s: &str) -> Result<Self, AppError> {
        match s {
            "title" => Ok(Self::Title),
            "tag" => Ok(Self::Tag),
            "lecturer" => Ok(Self::Lecturer),
            "series" => Ok(Self::Series),
            other => Err(AppError::internal(&std::io::Error::other(format!(
                "the search index suggested from an unknown field `{other}`"
            )))),
        }
    }
}

/// Completions for what is being typed: titles, tags, lecturers and series starting with `q`,
/// or whose pinyin or initials do, among the lessons the caller may read.
#[utoipa::path(
    get,
    path = "/api/v1/search/suggest",
    tag = "search",
    summary = "Completions as one types: titles, tags, lecturers and series starting with q, or whose pinyin or initials do, among the lessons the caller may read",
    params(SuggestQuery),
    security((), ("bearer" = [])),
    responses((status = 200, description = "the completions, best first", body = SuggestionsView))
)]
pub async fn suggest(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SuggestQuery>,
) -> Result<Json<SuggestionsView>, AppError> {
    let mut errors = Vec::new();
    let q = clean_query(p.q.as_deref(), &mut errors);
    if q.chars().count() > 50 {
        errors.push(Invalid::new("q", "must be at most 50 characters"));
    }
    let limit = p.limit.unwrap_or(10);
    if !(1..=20).contains(&limit) {
        errors.push(Invalid::new("limit", "must be between 1 and 20"));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(&errors));
    }
    let scope = read_scope(&caller);
    let index = state.search.clone();
    let found = tokio::task::spawn_blocking(move || index.suggest(&scope, &q, limit))
        .await
        .map_err(|e| AppError::internal(&e))?
        .map_err(|e| AppError::internal(&e))?;
    let suggestions = found
        .into_iter()
        .map(|s| {
            Ok(SuggestionView {
                source: SuggestionSource::parse(s.source)?,
                text: s.text,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(Json(SuggestionsView { suggestions }))
}

/// The most documents and subtitles looked at for `lessons_awaiting_text`.
const TEXTS_COUNTED: i64 = 10_000;

/// Where the search index stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchStatusView {
    /// The index generation being served (a rebuild makes a new one).
    pub generation: String,
    /// The change-log position the index reflects.
    pub position: i64,
    /// The change log's head.
    pub head: i64,
    /// `head - position`: changes not yet indexed.
    pub lag: i64,
    /// Lesson documents in the index.
    pub lessons: u64,
    /// Page and cue documents in the index.
    pub segments: u64,
    /// The index's size on disk.
    pub bytes: u64,
    /// Lessons with a document or subtitle whose text the job runner has not extracted yet
    /// (among the first 10,000 such files).
    pub lessons_awaiting_text: usize,
}

/// The index's generation, change-log position against the log's head, and size: operators only.
#[utoipa::path(
    get,
    path = "/api/v1/search/status",
    tag = "search",
    summary = "The search index: its generation, the change-log position it reflects against the head, documents and size (operator tokens only)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the index's state", body = SearchStatusView),
        (status = 403, description = "not an operator token", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn status(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<SearchStatusView>, AppError> {
    if !matches!(acting.caller, Caller::Operator { .. }) {
        return Err(AppError::forbidden(
            "only operators may see the search index's status",
        ));
    }
    // Read before the head: a text recorded after this count appends a change the head covers.
    let (waiting, _) =
        crate::search::source::lessons_missing_text(&state.db, "", TEXTS_COUNTED).await?;
    let head = state.db.change_head().await?;
    let index = state.search.clone();
    let s = tokio::task::spawn_blocking(move || index.status())
        .await
        .map_err(|e| AppError::internal(&e))?
        .map_err(|e| AppError::internal(&e))?;
    Ok(Json(SearchStatusView {
        generation: s.generation,
        position: s.position,
        head,
        lag: head - s.position,
        lessons: s.lessons,
        segments: s.segments,
        bytes: s.bytes,
        lessons_awaiting_text: waiting.len(),
    }))
}
