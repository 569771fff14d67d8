//! `/api/v1/orgs`: the organisation tree, administered subtree by subtree.

use super::denied;
use crate::db::Db;
use crate::db::audit::Event;
use crate::db::orgs::{MoveError, OrgFields, OrgRecord};
use crate::domain::Invalid;
use crate::domain::lesson::RegionCode;
use crate::domain::org::{self, OrgLevel};
use crate::domain::visibility::{self, Caller};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Path, Writer};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    parent_id: String,
    name: String,
    level: String,
    region_code: Option<String>,
    #[serde(default = "yes")]
    review_required: bool,
    #[serde(default)]
    self_approval: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    name: Option<String>,
    level: Option<String>,
    #[serde(default, deserialize_with = "super::present")]
    region_code: Option<Option<String>>,
    review_required: Option<bool>,
    self_approval: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveOrg {
    parent_id: String,
}

/// Validates the fields of an organisation, reporting every failure.
pub fn org_fields(
    name: &str,
    level: &str,
    region_code: Option<&str>,
    review_required: bool,
    self_approval: bool,
) -> Result<OrgFields, AppError> {
    let mut errors = Vec::new();
    let name = org::name(name).map_err(|e| errors.push(e)).ok();
    let level = OrgLevel::parse(level).map_err(|e| errors.push(e)).ok();
    let region = region_code
        .filter(|r| !r.is_empty())
        .map(RegionCode::parse)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok();
    match (name, level, region) {
        (Some(name), Some(level), Some(region)) if errors.is_empty() => Ok(OrgFields {
            name,
            level,
            region_code: region.map(|r| r.as_str().to_owned()),
            review_required,
            self_approval,
        }),
        _ => Err(AppError::invalid(&errors)),
    }
}

pub fn org_json(o: &OrgRecord) -> Value {
    json!(o)
}

async fn load(state: &AppState, id: &str) -> Result<OrgRecord, AppError> {
    state
        .db
        .org(id)
        .await?
        .ok_or_else(|| AppError::not_found("organisation"))
}

/// `GET /api/v1/orgs`: the organisations the caller works in (every subtree where they hold a
/// role), in tree order.
pub async fn list(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<Value>, AppError> {
    let orgs = match &acting.caller {
        Caller::Operator { .. } => state.db.orgs_within(None).await?,
        Caller::User(u) => {
            let paths = u.subtrees(&visibility::Role::ALL);
            state.db.orgs_within(Some(&paths)).await?
        }
        Caller::Anonymous | Caller::Platform(_) => Vec::new(),
    };
    Ok(Json(json!({ "items": orgs })))
}

pub async fn get(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let o = load(&state, &id).await?;
    let visible = match &acting.caller {
        Caller::Operator { .. } => true,
        Caller::User(u) => u.holds_on(&visibility::Role::ALL, &o.path),
        Caller::Anonymous | Caller::Platform(_) => false,
    };
    if !visible {
        return Err(AppError::not_found("organisation"));
    }
    Ok(Json(org_json(&o)))
}

/// `POST /api/v1/orgs`: a new organisation under one the caller administers.
pub async fn create(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreateOrg>,
) -> Result<Response, AppError> {
    let parent = state
        .db
        .org(&input.parent_id)
        .await?
        .ok_or_else(|| Invalid::new("parent_id", "no such organisation"))?;
    if !visibility::may_administer(&acting.caller, &parent.path) {
        return Err(denied(
            &state,
            &acting,
            "create_child",
            "org",
            &parent.id,
            Some(&parent.id),
        )
        .await);
    }
    let fields = org_fields(
        &input.name,
        &input.level,
        input.region_code.as_deref(),
        input.review_required,
        input.self_approval,
    )?;
    let mut tx = state.db.begin_write().await?;
    let created = Db::create_org_in(&mut tx, Some(&parent), &fields).await?;
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "org.create",
            target_kind: "org",
            target_id: Some(&created.id),
            org_id: Some(&created.id),
            before: None,
            after: Some(org_json(&created)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(org_json(&created))).into_response())
}

/// `PATCH /api/v1/orgs/{id}`: renames or reconfigures an organisation strictly below one the
/// caller administers (an administrator cannot change the rules of their own organisation —
/// the level above sets them).
pub async fn update(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<UpdateOrg>,
) -> Result<Json<Value>, AppError> {
    let current = load(&state, &id).await?;
    if !visibility::may_restructure(&acting.caller, &current.path) {
        return Err(denied(&state, &acting, "update", "org", &id, Some(&id)).await);
    }
    let region = match input.region_code {
        Some(r) => r,
        None => current.region_code.clone(),
    };
    let fields = org_fields(
        input.name.as_deref().unwrap_or(&current.name),
        input.level.as_deref().unwrap_or(&current.level),
        region.as_deref(),
        input.review_required.unwrap_or(current.review_required.0),
        input.self_approval.unwrap_or(current.self_approval.0),
    )?;
    let mut tx = state.db.begin_write().await?;
    let updated = Db::update_org_in(&mut tx, &id, &fields).await?;
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "org.update",
            target_kind: "org",
            target_id: Some(&id),
            org_id: Some(&id),
            before: Some(org_json(&current)),
            after: Some(org_json(&updated)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(org_json(&updated)))
}

/// `POST /api/v1/orgs/{id}/move`: moves an organisation, with its subtree, to another parent. Both
/// must lie strictly inside a subtree the caller administers.
pub async fn move_org(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<MoveOrg>,
) -> Result<Json<Value>, AppError> {
    let node = load(&state, &id).await?;
    let parent = state
        .db
        .org(&input.parent_id)
        .await?
        .ok_or_else(|| Invalid::new("parent_id", "no such organisation"))?;
    if !visibility::may_restructure(&acting.caller, &node.path)
        || !visibility::may_administer(&acting.caller, &parent.path)
    {
        return Err(denied(&state, &acting, "move", "org", &id, Some(&id)).await);
    }
    let mut tx = state.db.begin_write().await?;
    let caller = acting.caller.clone();
    let allowed = move |n: &OrgRecord, p: &OrgRecord| {
        visibility::may_restructure(&caller, &n.path)
            && visibility::may_administer(&caller, &p.path)
    };
    let (node, moved) = match Db::move_org_in(&mut tx, &node.id, &parent.id, &allowed).await {
        Ok(m) => m,
        Err(MoveError::Db(e)) => return Err(e.into()),
        Err(MoveError::Forbidden) => {
            drop(tx);
            return Err(denied(&state, &acting, "move", "org", &id, Some(&id)).await);
        }
        Err(MoveError::NotFound) => return Err(AppError::not_found("organisation")),
        Err(e) => return Err(AppError::conflict(e.to_string())),
    };
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "org.move",
            target_kind: "org",
            target_id: Some(&id),
            org_id: Some(&id),
            before: Some(json!({ "parent_id": node.parent_id })),
            after: Some(json!({ "parent_id": moved.parent_id })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(org_json(&moved)))
}
