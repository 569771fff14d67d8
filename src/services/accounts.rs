//! Accounts: creating them, their roles, their passwords, disabling them, and the operator
//! tokens of the instance. The API (`/api/v1/users…`, `/api/v1/me/password`), the pages and the
//! command line (`lectern user …`, `lectern token …`) go through these functions, which ask
//! `domain::visibility` and write each change with its audit entry in one transaction.

use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::audit::{AuditRecord, Event};
use crate::db::tokens::TokenRecord;
use crate::db::users::{GrantRecord, PersonalTokenRecord, UserRecord};
use crate::domain::Invalid;
use crate::domain::time::rfc3339;
use crate::domain::user::{display_name, login_name};
use crate::domain::visibility::{self, Caller, Role};
use crate::domain::{password, token};
use serde_json::json;

/// A role on an organisation as a caller asks for it (unparsed).
#[derive(Debug, Clone)]
pub struct GrantInput {
    pub role: String,
    pub org_id: String,
}

/// A new account as a caller asks for it.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub display_name: String,
    pub password: String,
    pub grants: Vec<GrantInput>,
}

/// A change to an account; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub disabled: Option<bool>,
    /// A new password set by an administrator (ends the account's sessions and tokens).
    pub password: Option<String>,
}

/// Checks that the caller may grant `g` (on behalf of account `target_user`), returning the role.
async fn grantable(db: &Db, acting: &Acting, g: &GrantInput, target_user: &str) -> Result<Role> {
    let role = Role::parse(&g.role)?;
    let org = db
        .org(&g.org_id)
        .await?
        .ok_or_else(|| Invalid::new("org_id", "no such organisation"))?;
    if !visibility::may_administer(&acting.caller, &org.path) {
        return Err(deny(db, acting, "grant", "user", target_user, Some(&org.id)).await);
    }
    Ok(role)
}

/// The accounts holding a role inside the caller's administered subtrees, with their roles.
pub async fn list(db: &Db, acting: &Acting) -> Result<Vec<(UserRecord, Vec<GrantRecord>)>> {
    let paths = visibility::administered_subtrees(&acting.caller);
    let users = db.users_within(paths.as_deref()).await?;
    let mut items = Vec::with_capacity(users.len());
    for u in users {
        let grants = db.grants_of(&u.id).await?;
        items.push((u, grants));
    }
    Ok(items)
}

/// An account with its roles, if the caller may see it: operators, the account itself, and
/// administrators of one of its organisations.
pub async fn get(db: &Db, acting: &Acting, id: &str) -> Result<(UserRecord, Vec<GrantRecord>)> {
    let user = db.user(id).await?.ok_or(ServiceError::NotFound("user"))?;
    let grants = db.grants_of(id).await?;
    let visible = matches!(acting.caller, Caller::Operator { .. })
        || acting.caller.user_id() == Some(id)
        || grants
            .iter()
            .any(|g| visibility::may_administer(&acting.caller, &g.org_path));
    if !visible {
        return Err(ServiceError::NotFound("user"));
    }
    Ok((user, grants))
}

/// The account with this login, as [`get`] sees it.
pub async fn by_login(
    db: &Db,
    acting: &Acting,
    login: &str,
) -> Result<(UserRecord, Vec<GrantRecord>)> {
    let user = db
        .user_by_login(&login.trim().to_lowercase())
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    get(db, acting, &user.id).await
}

/// A new account with at least one role inside the caller's administered subtrees.
pub async fn create(db: &Db, acting: &Acting, input: NewUser) -> Result<UserRecord> {
    let mut errors = Vec::new();
    let login = login_name(&input.login).map_err(|e| errors.push(e)).ok();
    let name = display_name(&input.display_name)
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(e) = password::check_new(&input.password) {
        errors.push(e);
    }
    if input.grants.is_empty() || input.grants.len() > 50 {
        errors.push(Invalid::new("grants", "must name 1–50 roles"));
    }
    let (Some(login), Some(name)) = (login, name) else {
        return Err(ServiceError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let mut roles = Vec::new();
    for g in &input.grants {
        roles.push((grantable(db, acting, g, &login).await?, g.org_id.clone()));
    }
    if db.user_by_login(&login).await?.is_some() {
        return Err(ServiceError::Conflict("that login is taken".to_owned()));
    }
    let hash = password::hash(&input.password);
    let mut tx = db.begin_write().await?;
    let user = Db::create_user_in(&mut tx, &login, &name, &hash).await?;
    for (role, org_id) in &roles {
        Db::grant_in(&mut tx, &user.id, *role, org_id, acting.caller.user_id()).await?;
    }
    let first_org = roles.first().map(|(_, o)| o.as_str());
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "user.create",
            target_kind: "user",
            target_id: Some(&user.id),
            org_id: first_org,
            before: None,
            after: Some(json!({
                "login": login,
                "grants": roles.iter().map(|(r, o)| json!({"role": r, "org_id": o})).collect::<Vec<_>>(),
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Adds a role on an organisation the caller administers to an account the caller manages
/// ([`visibility::may_manage_account`]); `false` when the account already held it.
/// Administering the organisation of the new role is not enough: otherwise an administrator
/// could give a sibling organisation's account a role in their own, and act through it.
pub async fn add_grant(db: &Db, acting: &Acting, id: &str, g: &GrantInput) -> Result<bool> {
    // Permission first, so that probing ids tells nothing: an unknown account has no
    // organisations, so only an operator gets as far as learning that it does not exist.
    let role = grantable(db, acting, g, id).await?;
    let held = db.grants_of(id).await?;
    let paths: Vec<&str> = held.iter().map(|h| h.org_path.as_str()).collect();
    if !visibility::may_manage_account(&acting.caller, &paths) {
        return Err(deny(db, acting, "grant", "user", id, Some(&g.org_id)).await);
    }
    db.user(id).await?.ok_or(ServiceError::NotFound("user"))?;
    let mut tx = db.begin_write().await?;
    let added = Db::grant_in(&mut tx, id, role, &g.org_id, acting.caller.user_id()).await?;
    if added {
        Db::audit_in(
            &mut tx,
            &acting.actor,
            Event {
                action: "user.grant",
                target_kind: "user",
                target_id: Some(id),
                org_id: Some(&g.org_id),
                before: None,
                after: Some(json!({ "role": role, "org_id": g.org_id })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(added)
}

/// Removes a role on an organisation the caller administers; not found when it was not held.
pub async fn remove_grant(db: &Db, acting: &Acting, id: &str, g: &GrantInput) -> Result<()> {
    let role = grantable(db, acting, g, id).await?;
    let mut tx = db.begin_write().await?;
    if !Db::revoke_grant_in(&mut tx, id, role, &g.org_id).await? {
        return Err(ServiceError::NotFound("grant"));
    }
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "user.revoke",
            target_kind: "user",
            target_id: Some(id),
            org_id: Some(&g.org_id),
            before: Some(json!({ "role": role, "org_id": g.org_id })),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Changes an account's display name, disables or enables it, or resets its password — by an
/// administrator of every organisation it works in, never on one's own account for a reset or
/// disabling (see `domain::visibility`).
pub async fn update(
    db: &Db,
    acting: &Acting,
    id: &str,
    change: UserChange,
) -> Result<(UserRecord, Vec<GrantRecord>)> {
    let (user, grants) = get(db, acting, id).await?;
    let paths: Vec<&str> = grants.iter().map(|g| g.org_path.as_str()).collect();
    let own = acting.caller.user_id() == Some(id);
    let org = grants.first().map(|g| g.org_id.clone());
    if change.password.is_some() && !visibility::may_reset_password(&acting.caller, id, &paths) {
        if own {
            return Err(ServiceError::Forbidden(
                "change your own password with POST /api/v1/me/password, which asks for the current one"
                    .to_owned(),
            ));
        }
        return Err(deny(db, acting, "update", "user", id, org.as_deref()).await);
    }
    if !visibility::may_manage_account(&acting.caller, &paths) {
        return Err(deny(db, acting, "update", "user", id, org.as_deref()).await);
    }
    if change.disabled == Some(true) && !visibility::may_disable_account(&acting.caller, id, &paths)
    {
        if own {
            return Err(ServiceError::Forbidden(
                "you cannot disable your own account".to_owned(),
            ));
        }
        return Err(deny(db, acting, "update", "user", id, org.as_deref()).await);
    }
    let name = change
        .display_name
        .as_deref()
        .map(display_name)
        .transpose()?;
    if let Some(p) = &change.password {
        password::check_new(p)?;
    }
    let mut tx = db.begin_write().await?;
    if let Some(name) = &name {
        Db::set_display_name_in(&mut tx, id, name).await?;
    }
    if let Some(d) = change.disabled {
        Db::set_disabled_in(&mut tx, id, d).await?;
    }
    if let Some(p) = &change.password {
        // A reset is what an administrator does after a compromise: every way in ends.
        Db::set_password_in(&mut tx, id, &password::hash(p)).await?;
        Db::revoke_all_personal_tokens_in(&mut tx, id).await?;
    }
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "user.update",
            target_kind: "user",
            target_id: Some(id),
            org_id: org.as_deref(),
            before: Some(json!({ "display_name": user.display_name, "disabled": user.disabled_at.is_some() })),
            after: Some(json!({
                "display_name": name.as_deref().unwrap_or(&user.display_name),
                "disabled": change.disabled.unwrap_or(user.disabled_at.is_some()),
                "password_reset": change.password.is_some(),
            })),
        },
    )
    .await?;
    tx.commit().await?;
    let user = db.user(id).await?.ok_or(ServiceError::NotFound("user"))?;
    Ok((user, grants))
}

/// The name an anonymised account shows.
pub const ANONYMISED_NAME: &str = "已匿名成员";

/// Anonymises an account (an administrator of every organisation it works in, never one's
/// own): its login becomes `anon-…`, its name 已匿名成员, it can no longer sign in, and its
/// statements from platforms name it by the new login; its grants and learning records stay,
/// so the reports still count it. The audit log keeps what it recorded (it is append-only); the
/// entry of this step names the account by id only.
pub async fn anonymise(
    db: &Db,
    acting: &Acting,
    id: &str,
) -> Result<(UserRecord, Vec<GrantRecord>)> {
    let (user, grants) = get(db, acting, id).await?;
    let paths: Vec<&str> = grants.iter().map(|g| g.org_path.as_str()).collect();
    let org = grants.first().map(|g| g.org_id.clone());
    if !visibility::may_manage_account(&acting.caller, &paths)
        || !visibility::may_disable_account(&acting.caller, id, &paths)
    {
        return Err(deny(db, acting, "anonymise", "user", id, org.as_deref()).await);
    }
    if user.login.starts_with("anon-") && user.display_name == ANONYMISED_NAME {
        return Ok((user, grants));
    }
    let login = format!("anon-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let mut tx = db.begin_write().await?;
    Db::anonymise_in(&mut tx, id, &user.login, &login, ANONYMISED_NAME).await?;
    for (statement_id, body) in Db::statements_of_member_in(&mut tx, id).await? {
        let Ok(body) = serde_json::from_str::<serde_json::Value>(&body) else {
            continue;
        };
        let body = crate::domain::xapi::anonymise(&body, &login);
        let names = crate::domain::xapi::names(&body);
        Db::rewrite_statement_in(&mut tx, &statement_id, &body.to_string(), &names.agents).await?;
    }
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "user.anonymise",
            target_kind: "user",
            target_id: Some(id),
            org_id: org.as_deref(),
            before: None,
            after: Some(json!({ "anonymised": true })),
        },
    )
    .await?;
    tx.commit().await?;
    let user = db.user(id).await?.ok_or(ServiceError::NotFound("user"))?;
    Ok((user, grants))
}

/// Changes the caller's own password after checking the current one; every session ends.
pub async fn change_own_password(db: &Db, acting: &Acting, current: &str, new: &str) -> Result<()> {
    let Some(me) = acting
        .caller
        .user()
        .filter(|_| visibility::may_change_own_password(&acting.caller))
    else {
        return Err(ServiceError::Forbidden(
            "this is for signed-in accounts, not operator tokens".to_owned(),
        ));
    };
    let user = db
        .user(&me.id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    if current.len() > 1024 || !password::verify(current, &user.password_hash) {
        return Err(Invalid::new("current_password", "is not right").into());
    }
    password::check_new(new)?;
    if new == current {
        return Err(Invalid::new("new_password", "must differ from the current one").into());
    }
    let mut tx = db.begin_write().await?;
    Db::set_password_in(&mut tx, &me.id, &password::hash(new)).await?;
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "user.password",
            target_kind: "user",
            target_id: Some(&me.id),
            org_id: me.grants.first().map(|g| g.org_id.as_str()),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Operator tokens act for the instance: only an operator (the command line) makes or revokes
/// them.
async fn operator_only(db: &Db, acting: &Acting, action: &str, id: &str) -> Result<()> {
    if matches!(acting.caller, Caller::Operator { .. }) {
        Ok(())
    } else {
        Err(deny(db, acting, action, "token", id, None).await)
    }
}

/// A new operator token; its value is returned once and stored only as a hash.
pub async fn create_operator_token(
    db: &Db,
    acting: &Acting,
    name: &str,
) -> Result<(TokenRecord, String)> {
    operator_only(db, acting, "create", "").await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Invalid::new("name", "must be 1–100 characters on one line").into());
    }
    let value = token::generate();
    let mut tx = db.begin_write().await?;
    let record = Db::create_token_in(&mut tx, name, &token::hash(&value)).await?;
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "token.create",
            target_kind: "token",
            target_id: Some(&record.id),
            org_id: None,
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((record, value))
}

/// The operator tokens (never their values).
pub async fn operator_tokens(db: &Db, acting: &Acting) -> Result<Vec<TokenRecord>> {
    operator_only(db, acting, "list", "").await?;
    Ok(db.tokens().await?)
}

/// Revokes a live operator token; not found when there is none by that id.
pub async fn revoke_operator_token(db: &Db, acting: &Acting, id: &str) -> Result<()> {
    operator_only(db, acting, "revoke", id).await?;
    let mut tx = db.begin_write().await?;
    if !Db::revoke_token_in(&mut tx, id).await? {
        return Err(ServiceError::NotFound("active token"));
    }
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "token.revoke",
            target_kind: "token",
            target_id: Some(id),
            org_id: None,
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The account a personal step is for: a signed-in account, not an operator token.
fn me(acting: &Acting) -> Result<&visibility::User> {
    acting.caller.user().ok_or_else(|| {
        ServiceError::Forbidden("this is for signed-in accounts, not operator tokens".to_owned())
    })
}

/// A new personal token for the caller, valid `expires_in_days` (1–366, default 90); its value
/// is returned once. Made from a signed-in session only, never with another token.
pub async fn create_personal_token(
    db: &Db,
    acting: &Acting,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<(PersonalTokenRecord, String)> {
    let me = me(acting)?;
    if matches!(me.via, visibility::Via::Token { .. }) {
        return Err(ServiceError::Forbidden(
            "personal tokens are created from a signed-in session, not with another token"
                .to_owned(),
        ));
    }
    let name = name.trim();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push(Invalid::new("name", "must be 1–100 characters"));
    }
    let days = expires_in_days.unwrap_or(90);
    if !(1..=366).contains(&days) {
        errors.push(Invalid::new("expires_in_days", "must be between 1 and 366"));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let secret = token::generate();
    let expires_at = crate::db::now_ms() + days * 86_400_000;
    let mut tx = db.begin_write().await?;
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
    Ok((record, secret))
}

/// The caller's personal tokens (never their values).
pub async fn personal_tokens(db: &Db, acting: &Acting) -> Result<Vec<PersonalTokenRecord>> {
    let me = me(acting)?;
    Ok(db.personal_tokens(&me.id).await?)
}

/// Revokes one of the caller's personal tokens; not found when it is not theirs or not live.
pub async fn revoke_personal_token(db: &Db, acting: &Acting, token_id: &str) -> Result<()> {
    let me = me(acting)?;
    let mut tx = db.begin_write().await?;
    if !Db::revoke_personal_token_in(&mut tx, &me.id, token_id).await? {
        return Err(ServiceError::NotFound("token"));
    }
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "token.revoke",
            target_kind: "token",
            target_id: Some(token_id),
            org_id: me.grants.first().map(|g| g.org_id.as_str()),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A page of the audit log of the caller's administered subtrees, newest first, with the cursor
/// of the next page.
pub async fn audit_log(
    db: &Db,
    acting: &Acting,
    action: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<(Vec<AuditRecord>, Option<String>)> {
    if !(1..=500).contains(&limit) {
        return Err(Invalid::new("limit", "must be between 1 and 500").into());
    }
    if let Some(c) = cursor
        && uuid::Uuid::parse_str(c).is_err()
    {
        return Err(Invalid::new("cursor", "is not a cursor this API returned").into());
    }
    let paths = visibility::administered_subtrees(&acting.caller);
    if paths.as_ref().is_some_and(Vec::is_empty) {
        return Err(deny(db, acting, "read", "audit", "-", None).await);
    }
    let rows = db
        .audit_entries(paths.as_deref(), action, cursor, limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    Ok((rows, next_cursor))
}
