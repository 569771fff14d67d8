//! Organisations: the tree, administered subtree by subtree.
//!
//! The API (`/api/v1/orgs`), the administration pages and the command line (`lectern org …`,
//! `lectern bootstrap`) all create, change and move organisations through these functions, so
//! each writes the same row and the same audit entry whoever asks.

use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::audit::Event;
use crate::db::orgs::{MoveError, OrgFields, OrgRecord};
use crate::domain::learning::DEFAULT_COMPLETION_PERCENT;
use crate::domain::lesson::RegionCode;
use crate::domain::org::{self, OrgLevel};
use crate::domain::visibility::{self, Caller, Role};
use crate::domain::{Invalid, password, user};
use serde_json::json;

/// A new organisation as a caller asks for it (unparsed).
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub parent_id: String,
    pub name: String,
    pub level: String,
    pub region_code: Option<String>,
    pub review_required: bool,
    pub self_approval: bool,
    /// The share of a lesson (percent) a member must play for it to count as learned; `None`
    /// for the default, `DEFAULT_COMPLETION_PERCENT`.
    pub completion_percent: Option<i64>,
}

/// A change to an organisation; `None` keeps a field (`region_code: Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct OrgChange {
    pub name: Option<String>,
    pub level: Option<String>,
    pub region_code: Option<Option<String>>,
    pub review_required: Option<bool>,
    pub self_approval: Option<bool>,
    pub completion_percent: Option<i64>,
}

/// The lowest and highest share of a lesson (percent) an organisation may count as learned.
pub const COMPLETION_PERCENT_RANGE: std::ops::RangeInclusive<i64> = 50..=100;

/// Validates the fields of an organisation, reporting every broken rule.
pub fn fields(
    name: &str,
    level: &str,
    region_code: Option<&str>,
    review_required: bool,
    self_approval: bool,
    completion_percent: i64,
) -> Result<OrgFields> {
    let mut errors = Vec::new();
    let name = org::name(name).map_err(|e| errors.push(e)).ok();
    let level = OrgLevel::parse(level).map_err(|e| errors.push(e)).ok();
    let region = region_code
        .filter(|r| !r.is_empty())
        .map(RegionCode::parse)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok();
    if !COMPLETION_PERCENT_RANGE.contains(&completion_percent) {
        errors.push(Invalid::new(
            "completion_percent",
            "must be between 50 and 100",
        ));
    }
    match (name, level, region) {
        (Some(name), Some(level), Some(region)) if errors.is_empty() => Ok(OrgFields {
            name,
            level,
            region_code: region.map(|r| r.as_str().to_owned()),
            review_required,
            self_approval,
            completion_percent,
        }),
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// What the audit log records of an organisation (the same shape the API answers with).
fn snapshot(o: &OrgRecord) -> serde_json::Value {
    json!(o)
}

/// The organisations the caller works in (every subtree where they hold a role), in tree order.
pub async fn list(db: &Db, acting: &Acting) -> Result<Vec<OrgRecord>> {
    Ok(match &acting.caller {
        Caller::Operator { .. } => db.orgs_within(None).await?,
        Caller::User(u) => {
            let paths = u.subtrees(&Role::ALL);
            db.orgs_within(Some(&paths)).await?
        }
        Caller::Anonymous | Caller::Platform(_) => Vec::new(),
    })
}

/// One organisation the caller works in; others are answered as not found.
pub async fn get(db: &Db, acting: &Acting, id: &str) -> Result<OrgRecord> {
    let o = db
        .org(id)
        .await?
        .ok_or(ServiceError::NotFound("organisation"))?;
    let visible = match &acting.caller {
        Caller::Operator { .. } => true,
        Caller::User(u) => u.holds_on(&Role::ALL, &o.path),
        Caller::Anonymous | Caller::Platform(_) => false,
    };
    if !visible {
        return Err(ServiceError::NotFound("organisation"));
    }
    Ok(o)
}

/// A new organisation under one the caller administers.
pub async fn create(db: &Db, acting: &Acting, input: NewOrg) -> Result<OrgRecord> {
    let parent = db
        .org(&input.parent_id)
        .await?
        .ok_or_else(|| Invalid::new("parent_id", "no such organisation"))?;
    if !visibility::may_administer(&acting.caller, &parent.path) {
        return Err(deny(
            db,
            acting,
            "create_child",
            "org",
            &parent.id,
            Some(&parent.id),
        )
        .await);
    }
    let f = fields(
        &input.name,
        &input.level,
        input.region_code.as_deref(),
        input.review_required,
        input.self_approval,
        input
            .completion_percent
            .unwrap_or(DEFAULT_COMPLETION_PERCENT),
    )?;
    let mut tx = db.begin_write().await?;
    let created = Db::create_org_in(&mut tx, Some(&parent), &f).await?;
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "org.create",
            target_kind: "org",
            target_id: Some(&created.id),
            org_id: Some(&created.id),
            before: None,
            after: Some(snapshot(&created)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Renames or reconfigures an organisation strictly below one the caller administers (an
/// administrator cannot change the rules of their own organisation — the level above sets them).
pub async fn update(db: &Db, acting: &Acting, id: &str, change: OrgChange) -> Result<OrgRecord> {
    let current = db
        .org(id)
        .await?
        .ok_or(ServiceError::NotFound("organisation"))?;
    if !visibility::may_restructure(&acting.caller, &current.path) {
        return Err(deny(db, acting, "update", "org", id, Some(id)).await);
    }
    let region = match change.region_code {
        Some(r) => r,
        None => current.region_code.clone(),
    };
    let f = fields(
        change.name.as_deref().unwrap_or(&current.name),
        change.level.as_deref().unwrap_or(current.level.as_str()),
        region.as_deref(),
        change.review_required.unwrap_or(current.review_required.0),
        change.self_approval.unwrap_or(current.self_approval.0),
        change
            .completion_percent
            .unwrap_or(current.completion_percent),
    )?;
    let mut tx = db.begin_write().await?;
    let updated = Db::update_org_in(&mut tx, id, &f).await?;
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "org.update",
            target_kind: "org",
            target_id: Some(id),
            org_id: Some(id),
            before: Some(snapshot(&current)),
            after: Some(snapshot(&updated)),
        },
    )
    .await?;
    tx.commit().await?;
    db.forget_recent_lessons();
    Ok(updated)
}

/// Moves an organisation, with its subtree, to another parent. Both must lie strictly inside a
/// subtree the caller administers; the rule is asked again with the rows read inside the
/// transaction (see `Db::move_org_in`).
pub async fn move_to(db: &Db, acting: &Acting, id: &str, parent_id: &str) -> Result<OrgRecord> {
    let node = db
        .org(id)
        .await?
        .ok_or(ServiceError::NotFound("organisation"))?;
    let parent = db
        .org(parent_id)
        .await?
        .ok_or_else(|| Invalid::new("parent_id", "no such organisation"))?;
    let allowed = |n: &OrgRecord, p: &OrgRecord| {
        visibility::may_restructure(&acting.caller, &n.path)
            && visibility::may_administer(&acting.caller, &p.path)
    };
    if !allowed(&node, &parent) {
        return Err(deny(db, acting, "move", "org", id, Some(id)).await);
    }
    let mut tx = db.begin_write().await?;
    let (node, moved) = match Db::move_org_in(&mut tx, &node.id, &parent.id, &allowed).await {
        Ok(m) => m,
        Err(MoveError::Db(e)) => return Err(e.into()),
        Err(MoveError::Forbidden) => {
            drop(tx);
            return Err(deny(db, acting, "move", "org", id, Some(id)).await);
        }
        Err(MoveError::NotFound) => return Err(ServiceError::NotFound("organisation")),
        Err(e) => return Err(ServiceError::Conflict(e.to_string())),
    };
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "org.move",
            target_kind: "org",
            target_id: Some(id),
            org_id: Some(id),
            before: Some(json!({ "parent_id": node.parent_id })),
            after: Some(json!({ "parent_id": moved.parent_id })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(moved)
}

/// The first administrator of a fresh install.
#[derive(Debug, Clone)]
pub struct FirstAdministrator<'a> {
    pub login: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
}

/// Creates the root organisation and its first administrator on a fresh install (the command
/// line only); lessons made before there were organisations are given to the root. Returns the
/// root and the administrator's id.
pub async fn bootstrap(
    db: &Db,
    acting: &Acting,
    root: NewOrg,
    admin: FirstAdministrator<'_>,
) -> Result<(OrgRecord, String)> {
    if !matches!(acting.caller, Caller::Operator { .. }) {
        return Err(deny(db, acting, "bootstrap", "org", "", None).await);
    }
    if db.has_orgs().await? {
        return Err(ServiceError::Conflict(
            "this instance is already bootstrapped: it has organisations".to_owned(),
        ));
    }
    let mut errors = Vec::new();
    let f = fields(
        &root.name,
        &root.level,
        root.region_code.as_deref(),
        root.review_required,
        root.self_approval,
        root.completion_percent
            .unwrap_or(DEFAULT_COMPLETION_PERCENT),
    )
    .map_err(|e| match e {
        ServiceError::Invalid(v) => errors.extend(v),
        _ => unreachable!("fields only reports broken rules"),
    })
    .ok();
    let login = user::login_name(admin.login)
        .map_err(|e| errors.push(e))
        .ok();
    let name = user::display_name(admin.display_name)
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(e) = password::check_new(admin.password) {
        errors.push(e);
    }
    let (Some(f), Some(login), Some(name)) = (f, login, name) else {
        return Err(ServiceError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let mut tx = db.begin_write().await?;
    let root = Db::create_org_in(&mut tx, None, &f).await?;
    let user = Db::create_user_in(&mut tx, &login, &name, &password::hash(admin.password)).await?;
    Db::grant_in(&mut tx, &user.id, Role::Administrator, &root.id, None).await?;
    Db::adopt_orphan_lessons_in(&mut tx, &root.id).await?;
    Db::audit_in(
        &mut tx,
        &acting.actor,
        Event {
            action: "bootstrap",
            target_kind: "org",
            target_id: Some(&root.id),
            org_id: Some(&root.id),
            before: None,
            after: Some(json!({ "org": root.name, "administrator": login })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((root, user.id))
}
