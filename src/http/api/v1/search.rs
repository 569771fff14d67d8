//! `GET /api/v1/search`: Chinese-aware search over the lessons the caller may read;
//! `GET /api/v1/search/suggest`: completions as one types; `GET /api/v1/search/status`: the
//! index's position and size, for operators; `GET`/`PUT /api/v1/search/synonyms`: the
//! installation's synonyms.

use crate::domain::lesson::LessonKind;
use crate::domain::visibility::Caller;
use crate::http::AppState;
use crate::http::error::{AppError, Problem};
use crate::http::extract::{Json, Query, Writer};
use crate::services::search;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
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
    /// Present when `q` as typed matched nothing and a pinyin or Latin word of it was one
    /// slip of a key from words lessons hold: the corrected query, whose matches these are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected: Option<String>,
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
    let params = search::Params {
        q: p.q,
        kind: p.kind,
        tag: p.tag,
        lecturer: p.lecturer,
        series: p.series,
        region: p.region,
        from: p.from,
        to: p.to,
        sort: p.sort,
        limit: p.limit,
        offset: p.offset,
        fallback: false,
    };
    let found = search::search(
        &state.db,
        &state.search,
        &caller,
        search::Shelf::Readable,
        &params,
    )
    .await?;
    let hits = found.hits.into_iter().map(SearchHitView::from).collect();
    let counted = |values: Vec<(String, u64)>| -> Vec<FacetCountView> {
        values
            .into_iter()
            .map(|(value, count)| FacetCountView { value, count })
            .collect()
    };
    let facets = found.facets;
    let region = facets
        .region
        .into_iter()
        .map(|(value, count)| RegionFacetView {
            name: crate::domain::region::name(&value),
            value,
            count,
        })
        .collect();
    let body = Json(SearchResultsView {
        total: found.total,
        offset: found.offset,
        limit: found.limit,
        corrected: found.corrected,
        hits,
        facets: FacetsView {
            kind: counted(facets.kind),
            tag: counted(facets.tag),
            series: counted(facets.series),
            year: counted(facets.year),
            region,
        },
    });
    // Where the time went (shown by browsers' developer tools; read by the benchmark).
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let t = found.timings;
    let timing = format!(
        "index;dur={:.2}, cues;dur={:.2}, db;dur={:.2}, total;dur={:.2}",
        ms(t.index),
        ms(t.cues),
        ms(t.db),
        ms(started.elapsed()),
    );
    Ok(([("server-timing", timing)], body).into_response())
}

impl From<search::Hit> for SearchHitView {
    fn from(hit: search::Hit) -> Self {
        let l = hit.lesson;
        Self {
            highlights: HighlightsView {
                title: hit.title_marked,
                description: hit.description_marked,
            },
            region_name: l
                .region_code
                .as_deref()
                .and_then(crate::domain::region::name),
            id: l.id,
            title: l.title,
            description: l.description,
            kind: l.kind,
            status: l.status,
            tags: l.tags,
            lecturer: l.lecturer,
            series: l.series,
            region_code: l.region_code,
            recorded_on: l.recorded_on,
            published_at: l.published_at.map(crate::domain::time::rfc3339),
            score: hit.score,
            cues: hit
                .cues
                .into_iter()
                .map(|c| CueView {
                    asset_id: c.asset_id,
                    start_ms: c.start_ms,
                    end_ms: c.end_ms,
                    start: c.start_ms as f64 / 1000.0,
                    text: c.text,
                    machine_transcript: c.machine_transcript,
                })
                .collect(),
            pages: hit
                .pages
                .into_iter()
                .map(|p| PageHitView {
                    asset_id: p.asset_id,
                    page: p.page,
                    text: p.text,
                })
                .collect(),
        }
    }
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
    let found = search::suggest(&state.search, &caller, p.q.as_deref(), p.limit).await?;
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
    let s = search::status(&state.db, &state.search, &acting.caller).await?;
    Ok(Json(SearchStatusView {
        lag: s.head - s.index.position,
        generation: s.index.generation,
        position: s.index.position,
        head: s.head,
        lessons: s.index.lessons,
        segments: s.index.segments,
        bytes: s.index.bytes,
        lessons_awaiting_text: s.lessons_awaiting_text,
    }))
}

/// The installation's synonyms: groups of terms that mean the same here. A search for any term of
/// a group also finds the others (ranked a little below the term itself).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SynonymsView {
    /// At most 1,000 groups, each of 2 to 20 different terms of at most 40 characters.
    #[schema(example = json!([["党课", "党员教育课"], ["培训", "轮训"]]))]
    pub groups: Vec<Vec<String>>,
}

/// `GET /api/v1/search/synonyms`.
#[utoipa::path(
    get,
    path = "/api/v1/search/synonyms",
    tag = "search",
    summary = "The installation's search synonyms (operators and administrators of a top-level organisation)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the groups, in their order", body = SynonymsView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "neither an operator nor an administrator of a top-level organisation", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn synonyms(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<axum::Json<SynonymsView>, AppError> {
    let groups = crate::services::synonyms::list(&state.db, &acting).await?;
    Ok(axum::Json(SynonymsView { groups }))
}

/// `PUT /api/v1/search/synonyms`.
#[utoipa::path(
    put,
    path = "/api/v1/search/synonyms",
    tag = "search",
    summary = "Replaces the installation's search synonyms (audited; in force on every node within seconds)",
    request_body = SynonymsView,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the groups as saved (terms trimmed, repeats within a group dropped)", body = SynonymsView),
        (status = 400, description = "a group with fewer than two terms or too many, a term too long or with nothing to search, too many groups", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "neither an operator nor an administrator of a top-level organisation", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn replace_synonyms(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<SynonymsView>,
) -> Result<axum::Json<SynonymsView>, AppError> {
    let groups =
        crate::services::synonyms::replace(&state.db, &state.search, &acting, input.groups).await?;
    Ok(axum::Json(SynonymsView { groups }))
}
