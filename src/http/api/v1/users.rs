//! `/api/v1/users` (administrators, for their subtree), `/api/v1/me` (oneself: password, personal
//! tokens) and `/api/v1/audit`.

use super::denied;
use crate::services::accounts::{self, GrantInput, NewUser, UserChange};
use crate::db::Db;
use crate::db::audit::Event;
use crate::db::users::{GrantRecord, UserRecord};
use crate::domain::Invalid;
use crate::domain::time::rfc3339;
use crate::domain::visibility;
use crate::domain::token;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Acting, Json, Path, Query, Writer};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn user_json(u: &UserRecord, grants: &[GrantRecord]) -> Value {
    json!({
        "id": u.id,
        "login": u.login,
        "display_name": u.display_name,
        "created_at": rfc3339(u.created_at),
        "disabled": u.disabled_at.is_some(),
        "grants": grants,
    })
}

async fn load(
    state: &AppState,
    acting: &Acting,
    id: &str,
) -> Result<(UserRecord, Vec<GrantRecord>), AppError> {
    Ok(accounts::get(&state.db, acting, id).await?)
}

/// `GET /api/v1/users`: accounts holding a role inside the caller's administered subtrees.
pub async fn list(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<Value>, AppError> {
    let items: Vec<Value> = accounts::list(&state.db, &acting)
        .await?
        .iter()
        .map(|(u, grants)| user_json(u, grants))
        .collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let (user, grants) = load(&state, &acting, &id).await?;
    Ok(Json(user_json(&user, &grants)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    role: String,
    org_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    login: String,
    display_name: String,
    password: String,
    grants: Vec<GrantBody>,
}

impl From<GrantBody> for GrantInput {
    fn from(g: GrantBody) -> Self {
        Self {
            role: g.role,
            org_id: g.org_id,
        }
    }
}

/// `POST /api/v1/users`: a new account with at least one role inside the caller's subtree.
pub async fn create(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreateUser>,
) -> Result<Response, AppError> {
    let new = NewUser {
        login: input.login,
        display_name: input.display_name,
        password: input.password,
        grants: input.grants.into_iter().map(GrantInput::from).collect(),
    };
    let user = accounts::create(&state.db, &acting, new).await?;
    let grants = state.db.grants_of(&user.id).await?;
    Ok((StatusCode::CREATED, Json(user_json(&user, &grants))).into_response())
}

/// `POST /api/v1/users/{id}/grants`: adds a role on an organisation the caller administers to an
/// account the caller manages (see `services::accounts::add_grant`).
pub async fn add_grant(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(g): Json<GrantBody>,
) -> Result<Json<Value>, AppError> {
    accounts::add_grant(&state.db, &acting, &id, &g.into()).await?;
    let user = state
        .db
        .user(&id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    let grants = state.db.grants_of(&id).await?;
    Ok(Json(user_json(&user, &grants)))
}

/// `DELETE /api/v1/users/{id}/grants/{role}/{org_id}`.
pub async fn remove_grant(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, role, org_id)): Path<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    accounts::remove_grant(&state.db, &acting, &id, &GrantInput { role, org_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    display_name: Option<String>,
    disabled: Option<bool>,
    /// A new password set by an administrator (ends the account's sessions).
    password: Option<String>,
}

/// `PATCH /api/v1/users/{id}`: display name, disabling, password reset — by an administrator of
/// every organisation the account works in.
pub async fn update(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<UpdateUser>,
) -> Result<Json<Value>, AppError> {
    let change = UserChange {
        display_name: input.display_name,
        disabled: input.disabled,
        password: input.password,
    };
    let (user, grants) = accounts::update(&state.db, &acting, &id, change).await?;
    Ok(Json(user_json(&user, &grants)))
}

// --- /api/v1/me ---

fn me_of(acting: &Acting) -> Result<&visibility::User, AppError> {
    acting
        .caller
        .user()
        .ok_or_else(|| AppError::forbidden("this is for signed-in accounts, not operator tokens"))
}

pub async fn me(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<Value>, AppError> {
    let me = me_of(&acting)?;
    let user = state
        .db
        .user(&me.id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    let grants = state.db.grants_of(&me.id).await?;
    let mut body = user_json(&user, &grants);
    // A page's scripts read the session's CSRF token here (only this site can read it).
    if let visibility::Via::Session { csrf_token } = &me.via {
        body["csrf_token"] = json!(csrf_token);
    }
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<ChangePassword>,
) -> Result<StatusCode, AppError> {
    accounts::change_own_password(
        &state.db,
        &acting,
        &input.current_password,
        &input.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    /// Days until the token stops working (1–366; default 90).
    expires_in_days: Option<i64>,
}

/// `POST /api/v1/me/tokens`: a personal token, shown once.
pub async fn create_token(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreateToken>,
) -> Result<Response, AppError> {
    let me = me_of(&acting)?;
    if matches!(me.via, visibility::Via::Token { .. }) {
        return Err(AppError::forbidden(
            "personal tokens are created from a signed-in session, not with another token",
        ));
    }
    let name = input.name.trim();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push(Invalid::new("name", "must be 1–100 characters"));
    }
    let days = input.expires_in_days.unwrap_or(90);
    if !(1..=366).contains(&days) {
        errors.push(Invalid::new("expires_in_days", "must be between 1 and 366"));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(&errors));
    }
    let secret = token::generate();
    let expires_at = crate::db::now_ms() + days * 86_400_000;
    let mut tx = state.db.begin_write().await?;
    let record = Db::create_personal_token_in(
        &mut tx,
        &me.id,
        name,
        &token::hash(&secret),
        Some(expires_at),
    )
    .await?;
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "token.create",
            target_kind: "token",
            target_id: Some(&record.id),
            org_id: me.grants.first().map(|g| g.org_id.as_str()),
            before: None,
            after: Some(json!({ "name": name, "expires_at": rfc3339(expires_at) })),
        },
    )
    .await?;
    tx.commit().await?;
    let mut body = token_json(&record);
    body["token"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A personal token as the API shows it (never its value), times in RFC 3339.
fn token_json(t: &crate::db::users::PersonalTokenRecord) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "created_at": rfc3339(t.created_at),
        "last_used_at": t.last_used_at.map(rfc3339),
        "expires_at": t.expires_at.map(rfc3339),
        "revoked_at": t.revoked_at.map(rfc3339),
    })
}

pub async fn list_tokens(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<Value>, AppError> {
    let me = me_of(&acting)?;
    let items: Vec<Value> = state
        .db
        .personal_tokens(&me.id)
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(token_id): Path<String>,
) -> Result<StatusCode, AppError> {
    let me = me_of(&acting)?;
    let mut tx = state.db.begin_write().await?;
    if !Db::revoke_personal_token_in(&mut tx, &me.id, &token_id).await? {
        return Err(AppError::not_found("token"));
    }
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "token.revoke",
            target_kind: "token",
            target_id: Some(&token_id),
            org_id: me.grants.first().map(|g| g.org_id.as_str()),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- /api/v1/audit ---

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    action: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/audit`: entries of the caller's administered subtrees, newest first.
pub async fn audit(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, AppError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Invalid::new("limit", "must be between 1 and 500").into());
    }
    if let Some(c) = &q.cursor
        && uuid::Uuid::parse_str(c).is_err()
    {
        return Err(Invalid::new("cursor", "is not a cursor this API returned").into());
    }
    let paths = visibility::administered_subtrees(&acting.caller);
    if paths.as_ref().is_some_and(Vec::is_empty) {
        return Err(denied(&state, &acting, "read", "audit", "-", None).await);
    }
    let rows = state
        .db
        .audit_entries(
            paths.as_deref(),
            q.action.as_deref(),
            q.cursor.as_deref(),
            limit + 1,
        )
        .await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok());
            json!({
                "id": r.id, "at": rfc3339(r.at), "actor_id": r.actor_id, "actor": r.actor,
                "org_id": r.org_id, "address": r.address, "action": r.action,
                "target_kind": r.target_kind, "target_id": r.target_id,
                "before": parse(r.before_state), "after": parse(r.after_state),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items, "next_cursor": next_cursor })))
}
