//! `/api/v1/changes`: the change log, read in order from a cursor.

use crate::db::changes::{Change, Entity, Op};
use crate::domain::Invalid;
use crate::domain::time::rfc3339;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Query, Writer};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// A cursor this API returned; entries after it. Empty or absent: from the start.
    after: Option<String>,
    /// At most this many entries (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangeView {
    /// The position of this entry; pass it as `after` to read what follows.
    pub cursor: String,
    pub entity: Entity,
    pub id: String,
    pub lesson_id: String,
    pub op: Op,
    pub at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangesView {
    pub changes: Vec<ChangeView>,
    /// Where to continue: the last entry's cursor, or the one given when nothing is new.
    pub next: String,
}

impl From<Change> for ChangeView {
    fn from(c: Change) -> Self {
        Self {
            cursor: c.seq.to_string(),
            entity: c.entity,
            id: c.entity_id,
            lesson_id: c.lesson_id,
            op: c.op,
            at: rfc3339(c.at),
        }
    }
}

/// `GET /api/v1/changes?after=<cursor>&limit=<n>`: entries after `after`, oldest first. No
/// committed entry is ever skipped (see `db::changes`), so a reader that always passes the last
/// cursor it saw reads every change exactly once.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    tag = "changes",
    summary = "The change log after a cursor, in order, never skipping a committed entry (operator tokens)",
    params(ChangesQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "entries after the cursor", body = ChangesView))
)]
pub async fn list_changes(
    axum::extract::State(state): axum::extract::State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<ChangesQuery>,
) -> Result<Json<ChangesView>, AppError> {
    // The raw change log names every lesson, drafts included: it is for the instance's own
    // processes (operator tokens). Platforms get their scoped feed instead.
    if !matches!(
        acting.caller,
        crate::domain::visibility::Caller::Operator { .. }
    ) {
        return Err(AppError::forbidden("the change log is for operator tokens"));
    }
    let after = match q.after.as_deref() {
        None | Some("") => 0,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Invalid::new("after", "is not a cursor this API returned"))?,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Invalid::new("limit", "must be between 1 and 1000").into());
    }
    let changes = state.db.changes_after(after, limit).await?;
    let next = changes.last().map_or(after, |c| c.seq).to_string();
    Ok(Json(ChangesView {
        changes: changes.into_iter().map(ChangeView::from).collect(),
        next,
    }))
}
