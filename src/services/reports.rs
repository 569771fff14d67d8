//! Organisation reports for administrators: for one quarter and one organisation's subtree —
//! members, members active, lessons completed and hours, per branch (child organisation), per
//! channel (Lectern's own library, each platform) and per series; the members who learned
//! nothing; and the trend over the quarters before. Read from the summary the job runner keeps
//! (`db::reports`); a quarter never computed is computed when first asked for. Only
//! administrators of the organisation (or above) see it; every export is in the audit log.

use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::learning::LIBRARY;
use crate::db::orgs::OrgRecord;
use crate::db::reports::{ALL_CHANNELS, IdleMember};
use crate::db::rules::RuleRecord;
use crate::domain::Invalid;
use crate::domain::report::{Figures, Period, Quarter};
use crate::domain::visibility;
use std::collections::{BTreeMap, HashMap};

/// Quarters of trend shown before the report's own.
pub const TREND_QUARTERS: usize = 4;
/// Idle members listed on a report (the exports list all).
pub const IDLE_SHOWN: i64 = 200;
/// Idle members in an export at most.
pub const IDLE_EXPORTED: i64 = 1_000_000;

/// One line of a report: a branch, a channel or a series.
#[derive(Debug, Clone)]
pub struct Line {
    /// The organisation's id, the platform's id (`library` for Lectern), or the series' name.
    pub id: String,
    pub name: String,
    pub figures: Figures,
}

/// A member who learned nothing in the quarter, with their organisation's name.
#[derive(Debug, Clone)]
pub struct Idle {
    pub login: String,
    pub display_name: String,
    pub org_name: String,
}

/// A completion rule in a report: how many of the organisation's members completed every
/// published lesson of the series, and how many did not (yet).
#[derive(Debug, Clone)]
pub struct RuleLine {
    pub series: String,
    /// The organisation that set it (this one or one above).
    pub org_name: String,
    pub lessons: i64,
    pub done: i64,
    pub missing: i64,
}

/// An organisation's report for a quarter or a run of days.
#[derive(Debug, Clone)]
pub struct Report {
    pub org: OrgRecord,
    pub period: Period,
    /// When the summary was computed; `final_` once the quarter was over.
    pub computed_at: i64,
    pub final_: bool,
    pub total: Figures,
    /// The organisation's own members (`id` = its id), then each child organisation's subtree.
    pub branches: Vec<Line>,
    pub channels: Vec<Line>,
    pub series: Vec<Line>,
    pub idle: Vec<Idle>,
    pub idle_total: i64,
    /// The completion rules that hold for the organisation, as they stand now.
    pub rules: Vec<RuleLine>,
    /// The quarters before, oldest first, then this one (none for a run of days).
    pub trend: Vec<(Quarter, Figures)>,
}

/// How long the summary of a run of days that has not ended is used before it is computed
/// again when asked for (the current quarter's is the job runner's, every ten minutes).
pub const DAYS_FRESH_MS: i64 = 10 * 60_000;

/// How long the summary of a run of days is kept after it was last computed.
pub const DAYS_KEPT_MS: i64 = 24 * 3_600_000;

/// Computes the summary of `period` now (`final_` when it is over at `now`).
pub async fn compute(db: &Db, period: impl Into<Period>, now: i64) -> Result<()> {
    compute_in_chunks(db, period, now, crate::db::reports::CHUNK_MEMBERS).await
}

/// [`compute`], `chunk_members` members per transaction.
pub async fn compute_in_chunks(
    db: &Db,
    period: impl Into<Period>,
    now: i64,
    chunk_members: usize,
) -> Result<()> {
    let p: Period = period.into();
    let (first, last) = p.days();
    let final_ = p.span_ms().1 <= now;
    db.compute_report_quarter(
        &p.to_string(),
        (&first, &last),
        p.span_ms(),
        now,
        final_,
        chunk_members,
    )
    .await?;
    Ok(())
}

/// What the job runner does periodically: the current quarter computed again, and the last one
/// once more, for good, when it has ended since; the summaries of runs of days not asked for
/// in a day deleted.
pub async fn refresh(db: &Db, now: i64) -> Result<()> {
    let current = Quarter::of_ms(now);
    let previous = current.previous();
    if !db
        .report_computed(&previous.to_string())
        .await?
        .is_some_and(|c| c.final_)
    {
        compute(db, previous, now).await?;
    }
    compute(db, current, now).await?;
    db.forget_report_days(now - DAYS_KEPT_MS).await?;
    Ok(())
}

/// The report of organisation `org_id` for `period` (a quarter, `2026-Q2`, or a run of days,
/// `2026-01-01--2026-03-15`), for its administrators (and operators). `idle_limit` members who
/// learned nothing are listed. A run of days is summed when first asked for (again when its
/// summary is older than [`DAYS_FRESH_MS`] and it had not ended), from the same records.
pub async fn report(
    db: &Db,
    acting: &Acting,
    org_id: &str,
    period: &str,
    idle_limit: i64,
) -> Result<Report> {
    let org = administered(db, acting, org_id, "report").await?;
    let p = Period::parse(period).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let now = crate::db::now_ms();
    if p.span_ms().0 > now {
        return Err(ServiceError::Invalid(vec![Invalid::new(
            "period",
            "has not begun yet",
        )]));
    }
    let mut trend_quarters = Vec::new();
    if let Some(q) = p.quarter() {
        trend_quarters.push(q);
        for _ in 0..TREND_QUARTERS {
            let before = trend_quarters[trend_quarters.len() - 1].previous();
            trend_quarters.push(before);
        }
        trend_quarters.reverse();
    }
    for &t in &trend_quarters {
        if db.report_computed(&t.to_string()).await?.is_none() {
            compute(db, t, now).await?;
        }
    }
    let key = p.to_string();
    let stale = match db.report_computed(&key).await? {
        None => true,
        Some(c) => p.quarter().is_none() && !c.final_ && c.at < now - DAYS_FRESH_MS,
    };
    if stale {
        compute(db, p, now).await?;
    }
    let computed = db
        .report_computed(&key)
        .await?
        .ok_or(ServiceError::NotFound("report"))?;
    let rows = db.report_rows(&key, &org.path).await?;
    let homes = db.members_by_home(&key, &org.path).await?;

    // Branches: the organisation itself (its own members), then each child's subtree.
    let subtree = db
        .orgs_within(Some(std::slice::from_ref(&org.path)))
        .await?;
    let names: HashMap<String, String> = subtree
        .iter()
        .map(|o| (o.path.clone(), o.name.clone()))
        .collect();
    let mut children: Vec<&OrgRecord> = subtree
        .iter()
        .filter(|o| o.parent_id.as_deref() == Some(org.id.as_str()))
        .collect();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    let branch_of = |path: &str| -> String {
        children
            .iter()
            .find(|c| path.starts_with(&c.path))
            .map_or_else(|| org.path.clone(), |c| c.path.clone())
    };
    let mut branch: BTreeMap<String, Figures> = BTreeMap::new();
    let mut channel: BTreeMap<String, Figures> = BTreeMap::new();
    let mut total = Figures::default();
    let mut idle_total = 0;
    for h in &homes {
        branch.entry(branch_of(&h.org_path)).or_default().members += h.members;
        total.members += h.members;
        idle_total += h.members - h.learned;
    }
    for r in &rows {
        let add = |f: &mut Figures| {
            f.active += r.active;
            f.time_ms += r.time_ms;
            f.completed += r.completed;
        };
        if r.source == ALL_CHANNELS {
            add(branch.entry(branch_of(&r.org_path)).or_default());
            add(&mut total);
        } else {
            let c = channel.entry(r.source.clone()).or_default();
            add(c);
            c.members = c.active;
        }
    }
    let mut branches = vec![Line {
        id: org.id.clone(),
        name: format!("{}（本级）", org.name),
        figures: branch.remove(&org.path).unwrap_or_default(),
    }];
    for c in &children {
        branches.push(Line {
            id: c.id.clone(),
            name: c.name.clone(),
            figures: branch.remove(&c.path).unwrap_or_default(),
        });
    }
    let mut channels = Vec::new();
    for (source, figures) in channel {
        let name = if source == LIBRARY {
            "学习库（Lectern）".to_owned()
        } else {
            db.platform(&source)
                .await?
                .map_or_else(|| source.clone(), |p| p.name)
        };
        channels.push(Line {
            id: source,
            name,
            figures,
        });
    }
    let series = db
        .report_series(&key, &org.path)
        .await?
        .into_iter()
        .map(|s| Line {
            id: s.series.clone(),
            name: s.series,
            figures: Figures {
                members: s.active,
                active: s.active,
                completed: s.completed,
                time_ms: s.time_ms,
            },
        })
        .collect();
    let idle = db
        .idle_members(&key, &org.path, idle_limit)
        .await?
        .into_iter()
        .map(|m: IdleMember| Idle {
            org_name: names.get(&m.org_path).cloned().unwrap_or_default(),
            login: m.login,
            display_name: m.display_name,
        })
        .collect();
    let keys: Vec<String> = trend_quarters.iter().map(ToString::to_string).collect();
    let totals: HashMap<String, _> = db
        .report_totals(&keys, &org.path)
        .await?
        .into_iter()
        .map(|t| (t.quarter.clone(), t))
        .collect();
    let trend = trend_quarters
        .iter()
        .map(|t| {
            // The members as they were then (the quarter's own computation).
            let f = totals
                .get(&t.to_string())
                .map_or_else(Figures::default, |x| Figures {
                    members: x.members,
                    active: x.active,
                    completed: x.completed,
                    time_ms: x.time_ms,
                });
            (*t, f)
        })
        .collect();
    let mut rules = Vec::new();
    for r in db.all_rules().await? {
        if !applies(&r.org_path, &org.path) {
            continue;
        }
        let lessons = db.published_series_lessons(&r.series).await?;
        // As the rules stand now: the members now, those done now.
        let (members, done) = db.members_completing_all(&org.path, &lessons).await?;
        rules.push(RuleLine {
            series: r.series,
            org_name: r.org_name,
            lessons: lessons.len() as i64,
            done,
            missing: members - done,
        });
    }
    Ok(Report {
        rules,
        org,
        period: p,
        computed_at: computed.at,
        final_: computed.final_,
        total,
        branches,
        channels,
        series,
        idle,
        idle_total,
        trend,
    })
}

/// The report to be taken away (CSV, XLSX): every idle member listed, and the export in the
/// audit log.
pub async fn export(
    db: &Db,
    acting: &Acting,
    org_id: &str,
    period: &str,
    format: &str,
) -> Result<Report> {
    let report = report(db, acting, org_id, period, IDLE_EXPORTED).await?;
    let event = crate::db::audit::Event {
        action: "report.export",
        target_kind: "org",
        target_id: Some(org_id),
        org_id: Some(org_id),
        before: None,
        after: Some(serde_json::json!({ "period": report.period.to_string(), "format": format })),
    };
    db.audit(&acting.actor, event).await?;
    Ok(report)
}

/// Whether a rule set at the organisation at `rule_path` applies to a member homed at
/// `member_path`: the member is inside its subtree.
pub fn applies(rule_path: &str, member_path: &str) -> bool {
    crate::domain::org::within(member_path, rule_path)
}

/// The completion rules that hold for organisation `org_id`'s members: its own and those set
/// above it. For whoever works in the organisation.
pub async fn rules(db: &Db, acting: &Acting, org_id: &str) -> Result<Vec<RuleRecord>> {
    let org = super::orgs::get(db, acting, org_id).await?;
    Ok(db
        .all_rules()
        .await?
        .into_iter()
        .filter(|r| applies(&r.org_path, &org.path))
        .collect())
}

/// Organisation `org_id` for a step only its administrators may take (`action`, in the audit
/// log when refused); not found for whoever does not work in it.
async fn administered(db: &Db, acting: &Acting, org_id: &str, action: &str) -> Result<OrgRecord> {
    let org = super::orgs::get(db, acting, org_id).await?;
    if !visibility::may_administer(&acting.caller, &org.path) {
        return Err(deny(db, acting, action, "org", org_id, Some(org_id)).await);
    }
    Ok(org)
}

/// Requires every member of organisation `org_id`'s subtree to complete every published lesson
/// of `series` (administrators; audited).
pub async fn add_rule(db: &Db, acting: &Acting, org_id: &str, series: &str) -> Result<RuleRecord> {
    let org = administered(db, acting, org_id, "completion_rule").await?;
    let series = crate::domain::lesson::optional_name("series", Some(series))
        .map_err(|e| ServiceError::Invalid(vec![e]))?
        .ok_or_else(|| ServiceError::Invalid(vec![Invalid::new("series", "must not be empty")]))?;
    let mut tx = db.begin_write().await?;
    let Some(rule) = Db::create_rule_in(&mut tx, &org.id, &series, acting.caller.user_id()).await?
    else {
        return Err(ServiceError::Conflict(format!(
            "the organisation already requires the series {series}"
        )));
    };
    Db::audit_in(
        &mut tx,
        &acting.actor,
        crate::db::audit::Event {
            action: "completion_rule.create",
            target_kind: "org",
            target_id: Some(&org.id),
            org_id: Some(&org.id),
            before: None,
            after: Some(serde_json::json!({ "rule_id": rule.id, "series": series })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(rule)
}

/// Removes completion rule `rule_id` of organisation `org_id` (administrators; audited).
pub async fn remove_rule(db: &Db, acting: &Acting, org_id: &str, rule_id: &str) -> Result<()> {
    let org = administered(db, acting, org_id, "completion_rule").await?;
    let mut tx = db.begin_write().await?;
    if !Db::delete_rule_in(&mut tx, &org.id, rule_id).await? {
        return Err(ServiceError::NotFound("completion rule"));
    }
    Db::audit_in(
        &mut tx,
        &acting.actor,
        crate::db::audit::Event {
            action: "completion_rule.delete",
            target_kind: "org",
            target_id: Some(&org.id),
            org_id: Some(&org.id),
            before: Some(serde_json::json!({ "rule_id": rule_id })),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
