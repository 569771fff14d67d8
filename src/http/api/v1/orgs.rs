//! `/api/v1/orgs`: the organisation tree, administered subtree by subtree. Thin adapters over
//! `services::orgs`.

use crate::db::orgs::OrgRecord;
use crate::domain::Invalid;
use crate::domain::org::OrgLevel;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Path, Writer};
use crate::services::orgs::{self, NewOrg, OrgChange};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    parent_id: String,
    /// 1–100 characters without control characters.
    name: String,
    #[schema(value_type = OrgLevel)]
    level: String,
    /// A six-digit administrative region code (GB/T 2260); empty or absent for none.
    region_code: Option<String>,
    /// Whether a reviewer of this organisation must approve what passes through its level
    /// (default true).
    #[serde(default = "yes")]
    #[schema(default = true)]
    review_required: bool,
    /// Whether a reviewer may approve a revision they submitted themselves (default false).
    #[serde(default)]
    self_approval: bool,
    /// The share of a lesson (percent, a whole number from 50 to 100) a member must have played
    /// for a lesson of this organisation to count as learned (default 90).
    #[schema(value_type = Option<i64>, default = 90, minimum = 50, maximum = 100)]
    completion_percent: Option<serde_json::Value>,
}

fn yes() -> bool {
    true
}

/// `completion_percent` as sent: a whole number (the service checks its range), or absent.
/// Read here rather than by serde so that a string or a fraction is refused as that field, in
/// the problem's `errors`, like a number out of range.
fn whole_percent(sent: Option<serde_json::Value>) -> Result<Option<i64>, AppError> {
    match sent {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            Invalid::new(
                "completion_percent",
                "must be a whole number from 50 to 100",
            )
            .into()
        }),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    name: Option<String>,
    #[schema(value_type = Option<OrgLevel>)]
    level: Option<String>,
    /// `null` clears the region code; absent keeps it.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>)]
    region_code: Option<Option<String>>,
    review_required: Option<bool>,
    self_approval: Option<bool>,
    /// The share of a lesson (percent, 50–100) a member must have played for it to count as
    /// learned; absent keeps it.
    #[schema(value_type = Option<i64>, minimum = 50, maximum = 100)]
    completion_percent: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveOrg {
    parent_id: String,
}

/// An organisation as the API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgView {
    pub id: String,
    /// `null` for the root.
    pub parent_id: Option<String>,
    pub name: String,
    pub level: OrgLevel,
    pub region_code: Option<String>,
    pub review_required: bool,
    pub self_approval: bool,
    /// The share of a lesson (percent, 50–100) a member must have played for a lesson of this
    /// organisation to count as learned.
    pub completion_percent: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

impl From<OrgRecord> for OrgView {
    fn from(o: OrgRecord) -> Self {
        Self {
            id: o.id,
            parent_id: o.parent_id,
            name: o.name,
            level: o.level,
            region_code: o.region_code,
            review_required: o.review_required.0,
            self_approval: o.self_approval.0,
            completion_percent: o.completion_percent,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgList {
    pub items: Vec<OrgView>,
}

/// `GET /api/v1/orgs`: the organisations the caller works in (every subtree where they hold a
/// role), in tree order.
#[utoipa::path(
    get,
    path = "/api/v1/orgs",
    tag = "orgs",
    summary = "Organisations where the caller holds a role, in tree order",
    security(("bearer" = [])),
    responses((status = 200, description = "the organisations", body = OrgList))
)]
pub async fn list(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<OrgList>, AppError> {
    let items = orgs::list(&state.db, &acting).await?;
    Ok(Json(OrgList {
        items: items.into_iter().map(OrgView::from).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{id}",
    tag = "orgs",
    summary = "One organisation the caller works in",
    params(("id" = String, Path, description = "the organisation's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "the organisation", body = OrgView))
)]
pub async fn get(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<OrgView>, AppError> {
    Ok(Json(orgs::get(&state.db, &acting, &id).await?.into()))
}

/// `POST /api/v1/orgs`: a new organisation under one the caller administers.
#[utoipa::path(
    post,
    path = "/api/v1/orgs",
    tag = "orgs",
    summary = "Create an organisation under one the caller administers",
    request_body = CreateOrg,
    security(("bearer" = [])),
    responses((status = 201, description = "the organisation", body = OrgView))
)]
pub async fn create(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreateOrg>,
) -> Result<(StatusCode, Json<OrgView>), AppError> {
    let new = NewOrg {
        parent_id: input.parent_id,
        name: input.name,
        level: input.level,
        region_code: input.region_code,
        review_required: input.review_required,
        self_approval: input.self_approval,
        completion_percent: whole_percent(input.completion_percent)?,
    };
    let created = orgs::create(&state.db, &acting, new).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// `PATCH /api/v1/orgs/{id}`: renames or reconfigures an organisation strictly below one the
/// caller administers.
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{id}",
    tag = "orgs",
    summary = "Rename or reconfigure an organisation (from strictly above it)",
    params(("id" = String, Path, description = "the organisation's id")),
    request_body = UpdateOrg,
    security(("bearer" = [])),
    responses((status = 200, description = "the organisation", body = OrgView))
)]
pub async fn update(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<UpdateOrg>,
) -> Result<Json<OrgView>, AppError> {
    let change = OrgChange {
        name: input.name,
        level: input.level,
        region_code: input.region_code,
        review_required: input.review_required,
        self_approval: input.self_approval,
        completion_percent: whole_percent(input.completion_percent)?,
    };
    Ok(Json(
        orgs::update(&state.db, &acting, &id, change).await?.into(),
    ))
}

/// `POST /api/v1/orgs/{id}/move`: moves an organisation, with its subtree, to another parent.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{id}/move",
    tag = "orgs",
    summary = "Move an organisation with its subtree under another parent inside the caller's subtree",
    params(("id" = String, Path, description = "the organisation's id")),
    request_body = MoveOrg,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the organisation after the move", body = OrgView),
        (status = 409, description = "the move would make a cycle, moves the root, or lessons inside await review", body = crate::http::error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn move_org(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<MoveOrg>,
) -> Result<Json<OrgView>, AppError> {
    Ok(Json(
        orgs::move_to(&state.db, &acting, &id, &input.parent_id)
            .await?
            .into(),
    ))
}
