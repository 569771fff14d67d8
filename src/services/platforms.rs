//! Downstream platforms: registering them, their keys, disabling them, and who sees what of
//! them. The API (`/api/v1/platforms…`), the administration pages and the command line
//! (`lectern platform …`) all go through these functions; the database layer writes each change
//! with its audit entry in one transaction (`db::platforms`).

use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::platforms::{KeyRecord, PlatformFields, PlatformRecord};
use crate::domain::Invalid;
use crate::domain::job::JobKind;
use crate::domain::platform::{self, Channel, Filters};
use crate::domain::token;
use crate::domain::visibility;
use crate::publish::feed::Cursor;

/// A platform with what its administrators see of it.
#[derive(Debug, Clone)]
pub struct Described {
    pub platform: PlatformRecord,
    pub keys: Vec<KeyRecord>,
    /// The change log's head when it was read (the platform's lag is measured from it).
    pub head: i64,
    /// Webhook deliveries that failed for their whole retry window.
    pub failed_deliveries: i64,
}

/// A platform in a listing: described for those who administer it, bare for staff who only
/// publish to it by name.
#[derive(Debug, Clone)]
pub enum Listed {
    Administered(Described),
    Named(PlatformRecord),
}

/// A new platform as a caller asks for it (unparsed).
#[derive(Debug, Clone, Default)]
pub struct NewPlatform {
    pub org_id: String,
    pub name: String,
    pub channel: String,
    /// Kinds, tags and series; `None` for no filter.
    pub filters: Option<(Vec<String>, Vec<String>, Vec<String>)>,
    pub webhook_url: Option<String>,
    /// The first key's name (default "initial").
    pub key_name: Option<String>,
}

/// A change to a platform; `None` keeps a field (`webhook_url: Some(None)` removes it).
#[derive(Debug, Clone, Default)]
pub struct PlatformChange {
    pub name: Option<String>,
    pub channel: Option<String>,
    pub filters: Option<(Vec<String>, Vec<String>, Vec<String>)>,
    pub webhook_url: Option<Option<String>>,
    pub rotate_webhook_secret: bool,
}

/// A key or a webhook secret, shown once.
#[derive(Debug, Clone)]
pub struct Issued {
    pub described: Described,
    pub key: Option<(KeyRecord, String)>,
    pub webhook_secret: Option<String>,
}

/// A key's name: 1–100 characters on one line ("key" when none is given).
pub fn key_name(s: Option<&str>) -> Result<String, Invalid> {
    let s = s.unwrap_or("key").trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(Invalid::new("name", "must be 1–100 characters on one line"));
    }
    Ok(s.to_owned())
}

fn filters(f: &(Vec<String>, Vec<String>, Vec<String>)) -> Result<Filters, Invalid> {
    Filters::parse(&f.0, &f.1, &f.2)
}

/// Reads what administrators see of `p`.
pub async fn describe(db: &Db, p: PlatformRecord) -> Result<Described> {
    let keys = db.platform_keys(&p.id).await?;
    let head = db.change_head().await?;
    let failed_deliveries = db.dead_jobs_count(JobKind::Webhook, &p.id).await?;
    Ok(Described {
        platform: p,
        keys,
        head,
        failed_deliveries,
    })
}

/// The platform `id`, if the caller administers its organisation: not found when they may not
/// even see it, forbidden (audited as `denied.<action>`) when they see it but may not change it.
pub async fn administered(
    db: &Db,
    acting: &Acting,
    id: &str,
    action: &str,
) -> Result<PlatformRecord> {
    let p = db
        .platform(id)
        .await?
        .ok_or(ServiceError::NotFound("platform"))?;
    if visibility::may_administer(&acting.caller, &p.org_path) {
        return Ok(p);
    }
    if visibility::may_list_platforms(&acting.caller, &p.org_path) {
        return Err(deny(db, acting, action, "platform", id, Some(&p.org_id)).await);
    }
    Err(ServiceError::NotFound("platform"))
}

/// The platforms of the subtrees where the caller works, with the change log's head.
pub async fn list(db: &Db, acting: &Acting) -> Result<(Vec<Listed>, i64)> {
    let platforms = match visibility::platform_subtrees(&acting.caller) {
        None => db.platforms_within(None).await?,
        Some(paths) => db.platforms_within(Some(&paths)).await?,
    };
    let head = db.change_head().await?;
    let mut items = Vec::with_capacity(platforms.len());
    for p in platforms {
        if visibility::may_administer(&acting.caller, &p.org_path) {
            let keys = db.platform_keys(&p.id).await?;
            let failed_deliveries = db.dead_jobs_count(JobKind::Webhook, &p.id).await?;
            items.push(Listed::Administered(Described {
                platform: p,
                keys,
                head,
                failed_deliveries,
            }));
        } else {
            items.push(Listed::Named(p));
        }
    }
    Ok((items, head))
}

/// One platform the caller administers.
pub async fn get(db: &Db, acting: &Acting, id: &str) -> Result<Described> {
    let p = administered(db, acting, id, "read").await?;
    describe(db, p).await
}

/// Registers a platform under an organisation the caller administers, with its first key (and,
/// with a webhook URL, its webhook secret).
pub async fn create(db: &Db, acting: &Acting, input: NewPlatform) -> Result<Issued> {
    let o = db
        .org(&input.org_id)
        .await?
        .ok_or_else(|| Invalid::new("org_id", "no such organisation"))?;
    if !visibility::may_administer(&acting.caller, &o.path) {
        return Err(deny(db, acting, "create_platform", "org", &o.id, Some(&o.id)).await);
    }
    let mut errors = Vec::new();
    let name = platform::name(&input.name).map_err(|e| errors.push(e)).ok();
    let channel = Channel::parse(&input.channel)
        .map_err(|e| errors.push(e))
        .ok();
    let parsed_filters = match &input.filters {
        None => Some(Filters::default()),
        Some(f) => filters(f).map_err(|e| errors.push(e)).ok(),
    };
    let webhook_url = input
        .webhook_url
        .as_deref()
        .map(platform::webhook_url)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let kname = key_name(input.key_name.as_deref().or(Some("initial")))
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(name), Some(channel), Some(parsed_filters), Some(kname)) =
        (name, channel, parsed_filters, kname)
    else {
        return Err(ServiceError::Invalid(errors));
    };
    // The webhook URL is optional, so its error is not caught by the pattern above.
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let secret = webhook_url
        .as_ref()
        .map(|_| platform::generate_webhook_secret());
    let fields = PlatformFields {
        name,
        channel,
        filters: parsed_filters,
        webhook_url,
    };
    // Webhooks start with what happens from now on; the feed has the past.
    let start = Cursor::at(db.change_head().await?).encode();
    let p = db
        .create_platform(&o.id, &fields, secret.as_deref(), &start, &acting.actor)
        .await?;
    let key = platform::generate_key();
    let k = db
        .create_platform_key(&p, &kname, &token::hash(&key), &acting.actor)
        .await?;
    Ok(Issued {
        described: describe(db, p).await?,
        key: Some((k, key)),
        webhook_secret: secret,
    })
}

/// Changes a platform's name, channel, filters or webhook URL, or issues a new webhook secret.
pub async fn update(db: &Db, acting: &Acting, id: &str, change: PlatformChange) -> Result<Issued> {
    let p = administered(db, acting, id, "update").await?;
    let mut errors = Vec::new();
    let name = match &change.name {
        None => p.name.clone(),
        Some(n) => platform::name(n)
            .map_err(|e| errors.push(e))
            .unwrap_or_default(),
    };
    let channel = match &change.channel {
        None => p.channel,
        Some(c) => Channel::parse(c)
            .map_err(|e| errors.push(e))
            .unwrap_or(Channel::Other),
    };
    let parsed_filters = match &change.filters {
        None => p.filters(),
        Some(f) => filters(f).map_err(|e| errors.push(e)).unwrap_or_default(),
    };
    let webhook_url = match &change.webhook_url {
        None => p.webhook_url.clone(),
        Some(None) => None,
        Some(Some(u)) => platform::webhook_url(u).map_err(|e| errors.push(e)).ok(),
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let new_secret = (change.rotate_webhook_secret
        || (webhook_url.is_some() && p.webhook_secret.is_none()))
    .then(platform::generate_webhook_secret);
    let restart = match (&p.webhook_url, &webhook_url) {
        (None, Some(_)) => Some(Cursor::at(db.change_head().await?).encode()),
        _ => None,
    };
    let fields = PlatformFields {
        name,
        channel,
        filters: parsed_filters,
        webhook_url,
    };
    let updated = db
        .update_platform(
            &p,
            &fields,
            new_secret.as_deref(),
            restart.as_deref(),
            &acting.actor,
        )
        .await?;
    Ok(Issued {
        described: describe(db, updated).await?,
        key: None,
        webhook_secret: new_secret,
    })
}

/// Disables a platform: its keys stop working at once and nothing more is delivered.
pub async fn disable(db: &Db, acting: &Acting, id: &str) -> Result<()> {
    let p = administered(db, acting, id, "disable").await?;
    db.disable_platform(&p, &acting.actor).await?;
    Ok(())
}

/// A new key for the platform, returned once; the others keep working.
pub async fn create_key(
    db: &Db,
    acting: &Acting,
    id: &str,
    name: Option<&str>,
) -> Result<(KeyRecord, String)> {
    let p = administered(db, acting, id, "create_key").await?;
    let name = key_name(name)?;
    let key = platform::generate_key();
    let k = db
        .create_platform_key(&p, &name, &token::hash(&key), &acting.actor)
        .await?;
    Ok((k, key))
}

/// Revokes one of the platform's live keys; it is refused from the next request on.
pub async fn revoke_key(db: &Db, acting: &Acting, id: &str, key_id: &str) -> Result<()> {
    let p = administered(db, acting, id, "revoke_key").await?;
    if db.revoke_platform_key(&p, key_id, &acting.actor).await? {
        Ok(())
    } else {
        Err(ServiceError::NotFound("key"))
    }
}
