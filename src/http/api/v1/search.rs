//! `GET /api/v1/search`: Chinese-aware search over the lessons the caller may read.

use crate::domain::Invalid;
use crate::domain::lesson::{LessonKind, RegionCode};
use crate::domain::visibility::{self, Action, Caller, read_scope};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Query};
use crate::search::index::Filters;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: String,
    kind: Option<String>,
    tag: Option<String>,
    lecturer: Option<String>,
    series: Option<String>,
    /// A GB/T 2260 region code: it and every region below it.
    region: Option<String>,
    limit: Option<usize>,
}

/// The longest query taken, in characters.
const MAX_QUERY_CHARS: usize = 200;

pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SearchQuery>,
) -> Result<Json<Value>, AppError> {
    let q: String = p.q.chars().filter(|c| !c.is_control()).collect();
    let q = q.trim();
    let mut errors = Vec::new();
    if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        errors.push(Invalid::new(
            "q",
            format!("must be 1–{MAX_QUERY_CHARS} characters"),
        ));
    }
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
            errors.push(e);
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
        region_prefix: region.map(|r| r.subtree_prefix().to_owned()),
    };
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        errors.push(Invalid::new("limit", "must be between 1 and 100"));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(&errors));
    }
    let scope = read_scope(&caller);
    let index = state.search.clone();
    let query = q.to_owned();
    let (hits, total) =
        tokio::task::spawn_blocking(move || index.search(&scope, &query, &filters, limit))
            .await
            .map_err(|e| AppError::internal(&e))?
            .map_err(|e| AppError::internal(&e))?;
    let mut items = Vec::with_capacity(hits.len());
    for hit in hits {
        // The index may trail SQL by a moment: what SQL says now decides what is shown.
        let Some(l) = state.db.lesson(&hit.id).await? else {
            continue;
        };
        if !visibility::may(&caller, Action::Read, l.access()) {
            continue;
        }
        items.push(json!({
            "id": l.id, "title": l.title, "kind": l.kind, "status": l.status, "tags": l.tags,
            "lecturer": l.lecturer, "series": l.series, "region_code": l.region_code,
            "score": hit.score,
        }));
    }
    Ok(Json(json!({ "hits": items, "total": total })))
}
