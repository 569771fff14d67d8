//! The administrative commands (`lectern bootstrap`, `lectern org …`, `lectern user …`): the same
//! rules and audit log as the API, acting as the command line on the local database.

use crate::db::Db;
use crate::db::audit::{Actor, Event};
use crate::db::orgs::OrgRecord;
use crate::domain::password;
use crate::domain::user::{display_name, login_name};
use crate::domain::visibility::Role;
use crate::services::Acting;
use crate::services::orgs::{self, FirstAdministrator, NewOrg};
use anyhow::{Context, bail};
use serde_json::json;

/// A password given in `LECTERN_PASSWORD`, or a generated one (printed by the caller).
pub fn password_from_env() -> anyhow::Result<(String, bool)> {
    match std::env::var("LECTERN_PASSWORD") {
        Ok(p) => {
            password::check_new(&p)?;
            Ok((p, false))
        }
        Err(_) => {
            let mut raw = [0u8; 12];
            rand::fill(&mut raw);
            Ok((format!("Lx-{}", hex::encode(raw)), true))
        }
    }
}

/// Creates the root organisation and its first administrator on a fresh install; lessons made
/// before there were organisations are given to the root. Returns the root and the user's id.
pub async fn bootstrap(
    db: &Db,
    org_name: &str,
    level: &str,
    region: Option<&str>,
    login: &str,
    name: &str,
    pass: &str,
) -> anyhow::Result<(OrgRecord, String)> {
    let root = NewOrg {
        parent_id: String::new(),
        name: org_name.to_owned(),
        level: level.to_owned(),
        region_code: region.map(str::to_owned),
        review_required: true,
        self_approval: false,
    };
    let admin = FirstAdministrator {
        login,
        display_name: name,
        password: pass,
    };
    Ok(orgs::bootstrap(db, &Acting::cli(), root, admin).await?)
}

/// `lectern org create`: the same service, rules and audit entry as `POST /api/v1/orgs`.
pub async fn create_org(db: &Db, new: NewOrg) -> anyhow::Result<OrgRecord> {
    Ok(orgs::create(db, &Acting::cli(), new).await?)
}

/// `lectern org move`.
pub async fn move_org(db: &Db, id: &str, parent_id: &str) -> anyhow::Result<OrgRecord> {
    Ok(orgs::move_to(db, &Acting::cli(), id, parent_id).await?)
}

/// Parses `role@org_id`.
pub fn parse_grant(s: &str) -> anyhow::Result<(Role, String)> {
    let (role, org) = s
        .split_once('@')
        .context("a grant is written role@organisation-id")?;
    Ok((Role::parse(role)?, org.to_owned()))
}

/// `lectern user create`.
pub async fn create_user(
    db: &Db,
    login: &str,
    name: &str,
    pass: &str,
    grants: &[(Role, String)],
) -> anyhow::Result<String> {
    let login = login_name(login)?;
    let name = display_name(name)?;
    password::check_new(pass)?;
    for (_, org) in grants {
        db.org(org)
            .await?
            .with_context(|| format!("no organisation {org}"))?;
    }
    if db.user_by_login(&login).await?.is_some() {
        bail!("the login {login} is taken");
    }
    let mut tx = db.begin_write().await?;
    let user = Db::create_user_in(&mut tx, &login, &name, &password::hash(pass)).await?;
    for (role, org) in grants {
        Db::grant_in(&mut tx, &user.id, *role, org, None).await?;
    }
    Db::audit_in(
        &mut tx,
        &Actor::cli(),
        Event {
            action: "user.create",
            target_kind: "user",
            target_id: Some(&user.id),
            org_id: grants.first().map(|(_, o)| o.as_str()),
            before: None,
            after: Some(json!({ "login": login, "grants": grants.iter().map(|(r, o)| json!({"role": r, "org_id": o})).collect::<Vec<_>>() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user.id)
}

/// `lectern user grant|revoke`.
pub async fn change_grant(
    db: &Db,
    login: &str,
    grant: (Role, String),
    add: bool,
) -> anyhow::Result<bool> {
    let user = db
        .user_by_login(&login.trim().to_lowercase())
        .await?
        .context("no such user")?;
    db.org(&grant.1).await?.context("no such organisation")?;
    let mut tx = db.begin_write().await?;
    let changed = if add {
        Db::grant_in(&mut tx, &user.id, grant.0, &grant.1, None).await?
    } else {
        Db::revoke_grant_in(&mut tx, &user.id, grant.0, &grant.1).await?
    };
    if changed {
        Db::audit_in(
            &mut tx,
            &Actor::cli(),
            Event {
                action: if add { "user.grant" } else { "user.revoke" },
                target_kind: "user",
                target_id: Some(&user.id),
                org_id: Some(&grant.1),
                before: None,
                after: Some(json!({ "role": grant.0, "org_id": grant.1 })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// `lectern user password`.
pub async fn set_password(db: &Db, login: &str, pass: &str) -> anyhow::Result<()> {
    password::check_new(pass)?;
    let user = db
        .user_by_login(&login.trim().to_lowercase())
        .await?
        .context("no such user")?;
    let mut tx = db.begin_write().await?;
    Db::set_password_in(&mut tx, &user.id, &password::hash(pass)).await?;
    Db::audit_in(
        &mut tx,
        &Actor::cli(),
        Event {
            action: "user.password",
            target_kind: "user",
            target_id: Some(&user.id),
            org_id: None,
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Registers a platform (as `lectern platform create`); returns it, its first key and, with a
/// webhook URL, the webhook secret.
pub async fn create_platform(
    db: &Db,
    org_id: &str,
    name: &str,
    channel: &str,
    (kinds, tags, series): (&[String], &[String], &[String]),
    webhook_url: Option<&str>,
) -> anyhow::Result<(crate::db::platforms::PlatformRecord, String, Option<String>)> {
    use crate::domain::platform;
    let o = db
        .org(org_id)
        .await?
        .with_context(|| format!("no such organisation: {org_id}"))?;
    let fields = crate::db::platforms::PlatformFields {
        name: platform::name(name)?,
        channel: platform::Channel::parse(channel)?,
        filters: platform::Filters::parse(kinds, tags, series)?,
        webhook_url: webhook_url.map(platform::webhook_url).transpose()?,
    };
    let secret = fields
        .webhook_url
        .as_ref()
        .map(|_| platform::generate_webhook_secret());
    let actor = Actor::cli();
    let start = crate::publish::feed::Cursor::at(db.change_head().await?).encode();
    let p = db
        .create_platform(&o.id, &fields, secret.as_deref(), &start, &actor)
        .await?;
    let key = platform::generate_key();
    db.create_platform_key(&p, "initial", &crate::domain::token::hash(&key), &actor)
        .await?;
    Ok((p, key, secret))
}

/// Adds a key to platform `id`; returns the key.
pub async fn create_platform_key(db: &Db, id: &str, name: &str) -> anyhow::Result<String> {
    let p = db
        .platform(id)
        .await?
        .with_context(|| format!("no such platform: {id}"))?;
    let key = crate::domain::platform::generate_key();
    db.create_platform_key(&p, name, &crate::domain::token::hash(&key), &Actor::cli())
        .await?;
    Ok(key)
}

/// Revokes key `key_id` of platform `id`.
pub async fn revoke_platform_key(db: &Db, id: &str, key_id: &str) -> anyhow::Result<()> {
    let p = db
        .platform(id)
        .await?
        .with_context(|| format!("no such platform: {id}"))?;
    if !db.revoke_platform_key(&p, key_id, &Actor::cli()).await? {
        bail!("platform {id} has no live key {key_id}");
    }
    Ok(())
}

/// The operator's view of the jobs (`lectern jobs list`): the command line acts for the instance.
pub async fn list_jobs(
    db: &Db,
    state: Option<&str>,
    kind: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<crate::db::jobs::JobRecord>> {
    let state = crate::domain::job::JobState::parse_opt(state)?;
    let kind = crate::domain::job::JobKind::parse_opt(kind)?;
    Ok(
        crate::jobs::admin::list(db, &cli_caller(), state, kind, None, limit.clamp(1, 10_000))
            .await?,
    )
}

/// `lectern jobs retry [ID] [--state dead] [--kind …]`: how many jobs were queued again.
pub async fn retry_jobs(
    db: &Db,
    id: Option<&str>,
    state: Option<&str>,
    kind: Option<&str>,
) -> anyhow::Result<u64> {
    let actor = crate::db::audit::Actor::cli();
    match id {
        Some(id) => {
            crate::jobs::admin::retry_one(db, &cli_caller(), &actor, id).await?;
            Ok(1)
        }
        None => {
            let state = crate::domain::job::JobState::parse_opt(state)?;
            let kind = crate::domain::job::JobKind::parse_opt(kind)?;
            Ok(crate::jobs::admin::retry_many(db, &cli_caller(), &actor, state, kind).await?)
        }
    }
}

/// Whom the command line acts as: the instance itself, like an operator token.
fn cli_caller() -> crate::domain::visibility::Caller {
    crate::domain::visibility::Caller::Operator {
        token_id: "cli".into(),
    }
}
