//! Downstream platforms: registering them, their keys, disabling them, who sees what of them,
//! their webhook deliveries (listed, redelivered), and the audience of a lesson (who receives it
//! inside its scope). The API (`/api/v1/platforms…`, `/api/v1/lessons/{id}/audience`), the
//! administration pages and the command line (`lectern platform …`) all go through these
//! functions; the database layer writes each change with its audit entry in one transaction
//! (`db::platforms`, `db::jobs`).

use super::{Acting, Result, ServiceError, catalog, deny};
use crate::db::Db;
use crate::db::audit::Event;
use crate::db::jobs::{JobFilter, JobRecord};
use crate::db::lessons::LessonRecord;
use crate::db::platforms::{KeyRecord, PlatformFields, PlatformRecord};
use crate::domain::job::{JobKind, JobState};
use crate::domain::platform::{self, Channel, Filters};
use crate::domain::visibility::{self, Action};
use crate::domain::{Invalid, org, token};
use crate::publish::feed::Cursor;
use crate::publish::webhooks::{self, WebhookEvent};

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

// --- webhook deliveries ---

/// Which webhook deliveries of a platform to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Failed for their whole retry window: the dead-letter list.
    #[default]
    Dead,
    /// Waiting for their (next) attempt, or being attempted now.
    Pending,
    Done,
}

impl DeliveryState {
    /// A state from a client; absent or empty for `dead`.
    pub fn parse(s: Option<&str>) -> Result<Self, Invalid> {
        match s.unwrap_or("") {
            "" | "dead" => Ok(Self::Dead),
            "pending" => Ok(Self::Pending),
            "done" => Ok(Self::Done),
            _ => Err(Invalid::new("state", "must be dead, pending or done")),
        }
    }

    fn job_states(self) -> &'static [JobState] {
        match self {
            Self::Dead => &[JobState::Dead],
            Self::Done => &[JobState::Done],
            // Pending includes what is being attempted right now.
            Self::Pending => &[JobState::Pending, JobState::Running],
        }
    }
}

/// A webhook delivery: its job, with the message it carries.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub job: JobRecord,
    /// The message id receivers deduplicate by; `None` if the stored payload cannot be read.
    pub message_id: Option<String>,
    /// The event sent; `None` if the stored payload cannot be read.
    pub event: Option<WebhookEvent>,
}

/// Up to `limit` webhook deliveries of platform `id` in `which` state, newest first (its
/// administrators only).
pub async fn deliveries(
    db: &Db,
    acting: &Acting,
    id: &str,
    which: DeliveryState,
    limit: i64,
) -> Result<Vec<Delivery>> {
    let p = administered(db, acting, id, "read").await?;
    let jobs = db
        .jobs_of(JobKind::Webhook, &p.id, which.job_states(), limit)
        .await?;
    Ok(jobs
        .into_iter()
        .map(|job| {
            let d: Option<webhooks::Delivery> = serde_json::from_str(&job.payload).ok();
            Delivery {
                message_id: d.as_ref().map(|d| d.message_id.clone()),
                event: d.and_then(|d| serde_json::from_str(&d.body).ok()),
                job,
            }
        })
        .collect())
}

/// Queues a dead (or done) delivery of platform `id` again, to be sent now with a fresh retry
/// window (audited as `platform.redeliver`).
pub async fn redeliver(db: &Db, acting: &Acting, id: &str, delivery: &str) -> Result<()> {
    let p = administered(db, acting, id, "redeliver").await?;
    let not_found = || ServiceError::NotFound("delivery that is dead or done");
    let job = db
        .job(delivery)
        .await?
        .filter(|j| j.kind == JobKind::Webhook && j.subject == p.id && j.state.retryable())
        .ok_or_else(not_found)?;
    let filter = JobFilter {
        id: Some(job.id.clone()),
        kind: Some(JobKind::Webhook),
        ..JobFilter::default()
    };
    let event = Event {
        action: "platform.redeliver",
        target_kind: "platform",
        target_id: Some(&p.id),
        org_id: Some(&p.org_id),
        before: Some(serde_json::json!({ "delivery": job.id, "state": job.state })),
        after: Some(serde_json::json!({ "state": "pending" })),
    };
    match db.retry_jobs(&filter, &acting.actor, event).await? {
        0 => Err(not_found()),
        _ => Ok(()),
    }
}

// --- the audience of a lesson ---

/// Checks an audience against the lesson's scope, never wider than what was approved: a subtree
/// inside it (`org_id`) or enabled platforms inside it, not both. Returns them parsed (platforms
/// without duplicates).
pub async fn check_audience(
    db: &Db,
    lesson: &LessonRecord,
    org_id: Option<&str>,
    platforms: &[String],
) -> Result<(Option<String>, Vec<String>)> {
    let inside = |path: &str| lesson.scope_path.is_empty() || org::within(path, &lesson.scope_path);
    if org_id.is_some() && !platforms.is_empty() {
        return Err(Invalid::new("platforms", "name platforms or a subtree, not both").into());
    }
    let org_id = match org_id {
        None => None,
        Some(id) => {
            let o = db
                .org(id)
                .await?
                .filter(|o| inside(&o.path))
                .ok_or_else(|| {
                    Invalid::new(
                        "org_id",
                        "must be an organisation inside the lesson's scope",
                    )
                })?;
            Some(o.id)
        }
    };
    if platforms.len() > 100 {
        return Err(Invalid::new("platforms", "at most 100 platforms").into());
    }
    let mut named: Vec<String> = Vec::new();
    for id in platforms {
        match db.platform(id).await?.filter(|p| inside(&p.org_path)) {
            Some(p) if p.disabled_at.is_none() => {
                if !named.contains(&p.id) {
                    named.push(p.id);
                }
            }
            _ => {
                return Err(Invalid::new(
                    "platforms",
                    format!("{id} is not an enabled platform inside the lesson's scope"),
                )
                .into());
            }
        }
    }
    Ok((org_id, named))
}

/// Who receives a lesson inside its scope, as set.
#[derive(Debug, Clone)]
pub struct AudienceSet {
    pub lesson_id: String,
    pub org_id: Option<String>,
    pub platforms: Vec<String>,
}

/// Sets who receives lesson `id` inside its scope (the right to publish it is needed): a subtree,
/// named platforms, or (neither) the whole scope. Audited as `lesson.audience`, with a change-log
/// entry, in one transaction.
pub async fn set_audience(
    db: &Db,
    acting: &Acting,
    id: &str,
    org_id: Option<&str>,
    platforms: &[String],
) -> Result<AudienceSet> {
    let lesson = catalog::lesson_for(db, acting, id, Action::Publish).await?;
    let (org_id, platforms) = check_audience(db, &lesson, org_id, platforms).await?;
    if !db
        .set_audience(&lesson, org_id.as_deref(), &platforms, &acting.actor)
        .await?
    {
        return Err(ServiceError::NotFound("lesson"));
    }
    Ok(AudienceSet {
        lesson_id: lesson.id,
        org_id,
        platforms,
    })
}
