//! `GET /api/v1/search`: Chinese-aware search over the lessons the caller may read;
//! `GET /api/v1/search/suggest`: completions as one types; `GET /api/v1/search/status`: the
//! index's position and size, for operators.

use crate::db::lessons::LessonRecord;
use crate::domain::Invalid;
use crate::domain::lesson::{LessonKind, RegionCode};
use crate::domain::visibility::{self, Action, Caller, read_scope};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Query, Writer};
use crate::search::analyzer;
use crate::search::index::{Filters, Request, Sort, day_start_ms};
use crate::search::query;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: Option<String>,
    kind: Option<String>,
    tag: Option<String>,
    lecturer: Option<String>,
    series: Option<String>,
    /// A GB/T 2260 region code: it and every region below it.
    region: Option<String>,
    /// The lesson's date, `YYYY-MM-DD`, inclusive.
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
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
                Some(start) => cues.push(json!({
                    "asset_id": s.asset_id, "start_ms": start, "end_ms": s.end_ms,
                    "start": start as f64 / 1000.0, "text": s.text,
                })),
                None => {
                    pages.push(json!({ "asset_id": s.asset_id, "page": s.page, "text": s.text }))
                }
            }
        }
        let region_name = l
            .region_code
            .as_deref()
            .and_then(crate::domain::region::name);
        hits.push(json!({
            "id": l.id, "title": l.title, "description": l.description, "kind": l.kind,
            "status": l.status, "tags": l.tags, "lecturer": l.lecturer, "series": l.series,
            "region_code": l.region_code, "region_name": region_name,
            "recorded_on": l.recorded_on,
            "published_at": l.published_at.map(crate::domain::time::rfc3339),
            "score": hit.score,
            "highlights": { "title": mark(&l.title, 200), "description": mark(&l.description, 160) },
            "cues": cues, "pages": pages,
        }));
    }
    let counted = |values: Vec<(String, u64)>| -> Vec<Value> {
        values
            .into_iter()
            .map(|(value, count)| json!({ "value": value, "count": count }))
            .collect()
    };
    let regions: Vec<Value> = results
        .facets
        .region
        .into_iter()
        .map(|(value, count)| {
            let name = crate::domain::region::name(&value);
            json!({ "value": value, "name": name, "count": count })
        })
        .collect();
    let body = Json(json!({
        "total": results.total, "offset": offset, "limit": limit, "hits": hits,
        "facets": {
            "kind": counted(results.facets.kind), "tag": counted(results.facets.tag),
            "series": counted(results.facets.series), "year": counted(results.facets.year),
            "region": regions,
        },
    }));
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestQuery {
    q: Option<String>,
    limit: Option<usize>,
}

/// Completions for what is being typed: titles, tags, lecturers and series starting with `q`,
/// or whose pinyin or initials do, among the lessons the caller may read.
pub async fn suggest(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SuggestQuery>,
) -> Result<Json<Value>, AppError> {
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
    let suggestions: Vec<Value> = found
        .into_iter()
        .map(|s| json!({ "text": s.text, "source": s.source }))
        .collect();
    Ok(Json(json!({ "suggestions": suggestions })))
}

/// The index's generation, change-log position against the log's head, and size: operators only.
/// The most documents and subtitles looked at for `lessons_awaiting_text`.
const TEXTS_COUNTED: i64 = 10_000;

pub async fn status(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<Value>, AppError> {
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
    Ok(Json(json!({
        "generation": s.generation, "position": s.position, "head": head,
        "lag": head - s.position, "lessons": s.lessons, "segments": s.segments, "bytes": s.bytes,
        "lessons_awaiting_text": waiting.len(),
    })))
}
