//! `/api/v1/users` (administrators, for their subtree), `/api/v1/me` (oneself: password, personal
//! tokens) and `/api/v1/audit`. Thin adapters over `services::accounts`.

use crate::db::audit::AuditRecord;
use crate::db::users::{GrantRecord, PersonalTokenRecord, UserRecord};
use crate::domain::time::rfc3339;
use crate::domain::visibility::{self, Role};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Json, Path, Query, Writer};
use crate::services::accounts::{self, GrantInput, NewUser, UserChange};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A role an account holds on an organisation's subtree.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    pub user_id: String,
    pub role: Role,
    pub org_id: String,
    pub org_name: String,
}

/// An account as the API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub login: String,
    pub display_name: String,
    /// RFC 3339.
    pub created_at: String,
    pub disabled: bool,
    pub grants: Vec<GrantView>,
    /// Only on `GET /api/v1/me` through a session: the CSRF token a page's scripts send back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub items: Vec<UserView>,
}

/// An account as the API answers it (also what the administration pages render).
pub fn user_view(u: &UserRecord, grants: &[GrantRecord]) -> UserView {
    UserView {
        id: u.id.clone(),
        login: u.login.clone(),
        display_name: u.display_name.clone(),
        created_at: rfc3339(u.created_at),
        disabled: u.disabled_at.is_some(),
        grants: grants
            .iter()
            .map(|g| GrantView {
                user_id: g.user_id.clone(),
                role: g.role,
                org_id: g.org_id.clone(),
                org_name: g.org_name.clone(),
            })
            .collect(),
        csrf_token: None,
    }
}

/// `GET /api/v1/users`: accounts holding a role inside the caller's administered subtrees.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "accounts",
    summary = "Accounts with a role in the caller's administered subtrees",
    security(("bearer" = [])),
    responses((status = 200, description = "the accounts", body = UserList))
)]
pub async fn list(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<UserList>, AppError> {
    let items = accounts::list(&state.db, &acting)
        .await?
        .iter()
        .map(|(u, grants)| user_view(u, grants))
        .collect();
    Ok(Json(UserList { items }))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    summary = "One account (operators, the account itself, administrators of one of its organisations)",
    params(("id" = String, Path, description = "the account's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "the account", body = UserView))
)]
pub async fn get(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<UserView>, AppError> {
    let (user, grants) = accounts::get(&state.db, &acting, &id).await?;
    Ok(Json(user_view(&user, &grants)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    #[schema(value_type = Role)]
    role: String,
    org_id: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    login: String,
    display_name: String,
    password: String,
    /// 1–50 roles, each on an organisation the caller administers.
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
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "accounts",
    summary = "Create an account with roles on organisations the caller administers",
    request_body = CreateUser,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the account", body = UserView),
        (status = 409, description = "the login is taken", body = crate::http::error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), AppError> {
    let new = NewUser {
        login: input.login,
        display_name: input.display_name,
        password: input.password,
        grants: input.grants.into_iter().map(GrantInput::from).collect(),
    };
    let user = accounts::create(&state.db, &acting, new).await?;
    let grants = state.db.grants_of(&user.id).await?;
    Ok((StatusCode::CREATED, Json(user_view(&user, &grants))))
}

/// `POST /api/v1/users/{id}/grants`: adds a role on an organisation the caller administers to an
/// account the caller manages (see `services::accounts::add_grant`).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/grants",
    tag = "accounts",
    summary = "Add a role to an account the caller manages",
    params(("id" = String, Path, description = "the account's id")),
    request_body = GrantBody,
    security(("bearer" = [])),
    responses((status = 200, description = "the account with its roles", body = UserView))
)]
pub async fn add_grant(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(g): Json<GrantBody>,
) -> Result<Json<UserView>, AppError> {
    accounts::add_grant(&state.db, &acting, &id, &g.into()).await?;
    let user = state
        .db
        .user(&id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    let grants = state.db.grants_of(&id).await?;
    Ok(Json(user_view(&user, &grants)))
}

/// `DELETE /api/v1/users/{id}/grants/{role}/{org_id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/grants/{role}/{org_id}",
    tag = "accounts",
    summary = "Remove a role on an organisation the caller administers",
    params(
        ("id" = String, Path, description = "the account's id"),
        ("role" = Role, Path, description = "the role"),
        ("org_id" = String, Path, description = "the organisation's id")
    ),
    security(("bearer" = [])),
    responses((status = 204, description = "removed"))
)]
pub async fn remove_grant(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, role, org_id)): Path<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    accounts::remove_grant(&state.db, &acting, &id, &GrantInput { role, org_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    display_name: Option<String>,
    disabled: Option<bool>,
    /// A new password set by an administrator (ends the account's sessions and tokens).
    password: Option<String>,
}

/// `POST /api/v1/users/{id}/anonymise`: the account's identity removed, its records kept.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/anonymise",
    tag = "accounts",
    summary = "Anonymise an account (never one's own): its login becomes anon-…, its name 已匿名成员, it can no longer sign in, its sessions and tokens end and platforms' statements name it by the new login; its grants and learning records stay, counted in the reports. Audited as user.anonymise by id only",
    params(("id" = String, Path, description = "the account's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "the account as it now is", body = UserView))
)]
pub async fn anonymise(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<Json<UserView>, AppError> {
    let (user, grants) = accounts::anonymise(&state.db, &acting, &id).await?;
    Ok(Json(user_view(&user, &grants)))
}

/// `PATCH /api/v1/users/{id}`: display name, disabling, password reset — by an administrator of
/// every organisation the account works in.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    summary = "Rename, disable or enable an account, or reset its password (never one's own)",
    params(("id" = String, Path, description = "the account's id")),
    request_body = UpdateUser,
    security(("bearer" = [])),
    responses((status = 200, description = "the account", body = UserView))
)]
pub async fn update(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    Json(input): Json<UpdateUser>,
) -> Result<Json<UserView>, AppError> {
    let change = UserChange {
        display_name: input.display_name,
        disabled: input.disabled,
        password: input.password,
    };
    let (user, grants) = accounts::update(&state.db, &acting, &id, change).await?;
    Ok(Json(user_view(&user, &grants)))
}

// --- /api/v1/me ---

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "accounts",
    summary = "The signed-in account (with the session's CSRF token when signed in by cookie)",
    security(("bearer" = [])),
    responses((status = 200, description = "the account", body = UserView))
)]
pub async fn me(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<UserView>, AppError> {
    let me = acting.caller.user().ok_or_else(|| {
        AppError::forbidden("this is for signed-in accounts, not operator tokens")
    })?;
    let (user, grants) = accounts::get(&state.db, &acting, &me.id).await?;
    let mut body = user_view(&user, &grants);
    // A page's scripts read the session's CSRF token here (only this site can read it).
    if let visibility::Via::Session { csrf_token } = &me.via {
        body.csrf_token = Some(csrf_token.clone());
    }
    Ok(Json(body))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/me/password",
    tag = "accounts",
    summary = "Change one's password with the current one (ends every session)",
    request_body = ChangePassword,
    security(("bearer" = [])),
    responses((status = 204, description = "changed"))
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    /// Days until the token stops working (1–366; default 90).
    #[schema(minimum = 1, maximum = 366)]
    expires_in_days: Option<i64>,
}

/// A personal token as the API shows it (never its value), times in RFC 3339.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&PersonalTokenRecord> for TokenView {
    fn from(t: &PersonalTokenRecord) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            created_at: rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(rfc3339),
            expires_at: t.expires_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
        }
    }
}

/// A new personal token with its value, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewTokenView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The token itself; only its hash is kept.
    pub token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
}

/// `POST /api/v1/me/tokens`: a personal token, shown once.
#[utoipa::path(
    post,
    path = "/api/v1/me/tokens",
    tag = "accounts",
    summary = "A new personal token, shown once (from a signed-in session)",
    request_body = CreateToken,
    security(("bearer" = [])),
    responses((status = 201, description = "the token with its value", body = NewTokenView))
)]
pub async fn create_token(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Json(input): Json<CreateToken>,
) -> Result<(StatusCode, Json<NewTokenView>), AppError> {
    let (record, secret) =
        accounts::create_personal_token(&state.db, &acting, &input.name, input.expires_in_days)
            .await?;
    let t = TokenView::from(&record);
    Ok((
        StatusCode::CREATED,
        Json(NewTokenView {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            token: secret,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/me/tokens",
    tag = "accounts",
    summary = "One's personal API tokens (never their values)",
    security(("bearer" = [])),
    responses((status = 200, description = "the tokens", body = TokenList))
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<Json<TokenList>, AppError> {
    let items = accounts::personal_tokens(&state.db, &acting)
        .await?
        .iter()
        .map(TokenView::from)
        .collect();
    Ok(Json(TokenList { items }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/me/tokens/{id}",
    tag = "accounts",
    summary = "Revoke a personal token",
    params(("id" = String, Path, description = "the token's id")),
    security(("bearer" = [])),
    responses((status = 204, description = "revoked"))
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(token_id): Path<String>,
) -> Result<StatusCode, AppError> {
    accounts::revoke_personal_token(&state.db, &acting, &token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- /api/v1/audit ---

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries of this action (`org.create`, `user.update`, `denied.move`, …).
    action: Option<String>,
    /// A `next_cursor` this API returned.
    cursor: Option<String>,
    /// At most this many entries (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// One entry of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    /// RFC 3339.
    pub at: String,
    pub actor_id: Option<String>,
    /// How the actor is named: a login, `operator-token:…`, `cli`, …
    pub actor: String,
    pub org_id: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    /// What the target was before, as the step recorded it.
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// What the target is after.
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

impl From<AuditRecord> for AuditEntryView {
    fn from(r: AuditRecord) -> Self {
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok());
        Self {
            id: r.id,
            at: rfc3339(r.at),
            actor_id: r.actor_id,
            actor: r.actor,
            org_id: r.org_id,
            address: r.address,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            before: parse(r.before_state),
            after: parse(r.after_state),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/audit`: entries of the caller's administered subtrees, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "accounts",
    summary = "The audit log of the caller's administered subtrees, newest first",
    params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "a page of entries", body = AuditPage))
)]
pub async fn audit(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    let (rows, next_cursor) = accounts::audit_log(
        &state.db,
        &acting,
        q.action.as_deref(),
        q.cursor.as_deref(),
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(Json(AuditPage {
        items: rows.into_iter().map(AuditEntryView::from).collect(),
        next_cursor,
    }))
}
