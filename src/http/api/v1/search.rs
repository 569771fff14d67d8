//! `GET /api/v1/search`: Chinese-aware search over the lessons the caller may read.

use crate::domain::Invalid;
use crate::domain::lesson::LessonKind;
use crate::domain::visibility::{self, Action, Caller, read_scope};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Query};
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: String,
    kind: Option<String>,
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
    let kind_name = kind.map(|k| k.as_str().to_owned());
    let (hits, total) = tokio::task::spawn_blocking(move || {
        index.search(&scope, &query, kind_name.as_deref(), limit)
    })
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
