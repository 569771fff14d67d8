//! The administrative commands (`lectern bootstrap`, `org …`, `user …`, `token …`, `platform …`,
//! `changes prune`, `reindex`, `jobs …`): thin adapters over the same services as the API
//! (`services::orgs`, `services::accounts`, `services::platforms`, `services::jobs`) and the
//! engines, acting as the command line (an operator) on the local database. None writes SQL or
//! an audit entry itself.

use crate::db::Db;
use crate::db::orgs::OrgRecord;
use crate::db::platforms::PlatformRecord;
use crate::db::tokens::TokenRecord;
use crate::domain::password;
use crate::domain::visibility::Role;
use crate::services::accounts::{self, GrantInput, NewUser, UserChange};
use crate::services::orgs::{self, FirstAdministrator, NewOrg};
use crate::services::platforms::{self, Listed, NewPlatform};
use crate::services::{Acting, ServiceError};
use anyhow::Context;

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
        completion_percent: None,
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

/// `lectern user create`: the same service and audit entry as `POST /api/v1/users`.
pub async fn create_user(
    db: &Db,
    login: &str,
    name: &str,
    pass: &str,
    grants: &[(Role, String)],
) -> anyhow::Result<String> {
    let new = NewUser {
        login: login.to_owned(),
        display_name: name.to_owned(),
        password: pass.to_owned(),
        grants: grants.iter().map(grant_input).collect(),
    };
    Ok(accounts::create(db, &Acting::cli(), new).await?.id)
}

fn grant_input((role, org): &(Role, String)) -> GrantInput {
    GrantInput {
        role: role.as_str().to_owned(),
        org_id: org.clone(),
    }
}

/// `lectern user grant|revoke`: whether anything changed.
pub async fn change_grant(
    db: &Db,
    login: &str,
    grant: (Role, String),
    add: bool,
) -> anyhow::Result<bool> {
    let acting = Acting::cli();
    let (user, _) = accounts::by_login(db, &acting, login).await?;
    let g = grant_input(&grant);
    if add {
        Ok(accounts::add_grant(db, &acting, &user.id, &g).await?)
    } else {
        match accounts::remove_grant(db, &acting, &user.id, &g).await {
            Ok(()) => Ok(true),
            Err(ServiceError::NotFound("grant")) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// `lectern user password`: an operator's reset, as `PATCH /api/v1/users/{id}` with a password —
/// every session and personal token of the account ends.
pub async fn set_password(db: &Db, login: &str, pass: &str) -> anyhow::Result<()> {
    let acting = Acting::cli();
    let (user, _) = accounts::by_login(db, &acting, login).await?;
    let change = UserChange {
        password: Some(pass.to_owned()),
        ..UserChange::default()
    };
    accounts::update(db, &acting, &user.id, change).await?;
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
) -> anyhow::Result<(PlatformRecord, String, Option<String>)> {
    let new = NewPlatform {
        org_id: org_id.to_owned(),
        name: name.to_owned(),
        channel: channel.to_owned(),
        filters: Some((kinds.to_vec(), tags.to_vec(), series.to_vec())),
        webhook_url: webhook_url.map(str::to_owned),
        key_name: None,
    };
    let issued = platforms::create(db, &Acting::cli(), new).await?;
    let key = issued.key.map(|(_, k)| k).unwrap_or_default();
    Ok((issued.described.platform, key, issued.webhook_secret))
}

/// Adds a key to platform `id`; returns the key.
pub async fn create_platform_key(db: &Db, id: &str, name: &str) -> anyhow::Result<String> {
    Ok(platforms::create_key(db, &Acting::cli(), id, Some(name))
        .await?
        .1)
}

/// Revokes key `key_id` of platform `id`.
pub async fn revoke_platform_key(db: &Db, id: &str, key_id: &str) -> anyhow::Result<()> {
    platforms::revoke_key(db, &Acting::cli(), id, key_id)
        .await
        .with_context(|| format!("platform {id} has no live key {key_id}"))
}

/// `lectern platform list`: one line per platform with its state, last pull and lag.
pub async fn list_platforms(db: &Db) -> anyhow::Result<Vec<String>> {
    let (listed, head) = platforms::list(db, &Acting::cli()).await?;
    Ok(listed
        .into_iter()
        .map(|l| {
            let p = match l {
                Listed::Administered(d) => d.platform,
                Listed::Named(p) => p,
            };
            let state = if p.disabled_at.is_some() {
                "disabled"
            } else {
                "enabled"
            };
            let pulled = p
                .last_pull_at
                .map(crate::domain::time::rfc3339)
                .unwrap_or_else(|| "never".into());
            let lag = p
                .last_pull_seq
                .map(|s| (head - s).max(0).to_string())
                .unwrap_or_else(|| "-".into());
            format!(
                "{}\t{}\t{}\t{}\tlast pull {}\tlag {}",
                p.id, p.name, p.channel, state, pulled, lag
            )
        })
        .collect())
}

/// `lectern platform disable`.
pub async fn disable_platform(db: &Db, id: &str) -> anyhow::Result<()> {
    Ok(platforms::disable(db, &Acting::cli(), id).await?)
}

/// `lectern token create`: the token's record and its value (shown once).
pub async fn create_token(db: &Db, name: &str) -> anyhow::Result<(TokenRecord, String)> {
    Ok(accounts::create_operator_token(db, &Acting::cli(), name).await?)
}

/// `lectern token list`.
pub async fn list_tokens(db: &Db) -> anyhow::Result<Vec<TokenRecord>> {
    Ok(accounts::operator_tokens(db, &Acting::cli()).await?)
}

/// `lectern token revoke`.
pub async fn revoke_token(db: &Db, id: &str) -> anyhow::Result<()> {
    accounts::revoke_operator_token(db, &Acting::cli(), id)
        .await
        .with_context(|| format!("no active token {id}"))
}

/// `lectern changes prune`: deletes change-log entries older than `older_than_days` (keeping
/// the newest `keep` in any case). Returns how many went and the position through which they
/// went.
pub async fn prune_changes(db: &Db, older_than_days: u64, keep: i64) -> anyhow::Result<(u64, i64)> {
    let cutoff =
        crate::db::now_ms().saturating_sub((older_than_days as i64).saturating_mul(86_400_000));
    let through = db.change_position_before(cutoff).await?;
    let head = db.change_head().await?;
    let through = through.min(head - keep.max(0));
    Ok((db.prune_changes(through).await?, through))
}

/// `lectern reindex`: rebuilds the search index from SQL beside the one in use, then switches
/// to it. Texts not extracted yet are queued as jobs for the service to extract.
pub async fn reindex(
    db: &Db,
    index_dir: &std::path::Path,
) -> anyhow::Result<crate::search::index::Status> {
    Ok(crate::search::index::rebuild(index_dir, db).await?)
}

/// The operator's view of the jobs (`lectern jobs list`): the command line acts for the instance.
pub async fn list_jobs(
    db: &Db,
    state: Option<&str>,
    kind: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<crate::db::jobs::JobRecord>> {
    let (state, kind) = crate::services::jobs::parse_filter(state, kind).map_err(invalid)?;
    let page = crate::services::jobs::list(
        db,
        &Acting::cli(),
        state,
        kind,
        None,
        limit.clamp(1, 10_000),
    )
    .await?;
    Ok(page.items)
}

/// `lectern jobs retry [ID] [--state dead] [--kind …]`: how many jobs were queued again.
pub async fn retry_jobs(
    db: &Db,
    id: Option<&str>,
    state: Option<&str>,
    kind: Option<&str>,
) -> anyhow::Result<u64> {
    let acting = Acting::cli();
    match id {
        Some(id) => {
            crate::services::jobs::retry(db, &acting, id).await?;
            Ok(1)
        }
        None => {
            let (state, kind) =
                crate::services::jobs::parse_filter(state, kind).map_err(invalid)?;
            Ok(crate::services::jobs::retry_many(db, &acting, state, kind).await?)
        }
    }
}

/// `lectern media reprocess LESSON [--only KIND]` or `--all [--only KIND]`: the media of one
/// lesson, or of every lesson (after a change of recipes), made again through
/// `services::media::reprocess`, as the API does.
pub async fn reprocess_media(
    db: &Db,
    lesson: Option<&str>,
    all: bool,
    only: Option<&str>,
) -> anyhow::Result<crate::services::media::Reprocessed> {
    use crate::services::media::{Target, parse_only, reprocess};
    let only = parse_only(only).map_err(|e| invalid(vec![e]))?;
    let target = match (lesson, all) {
        (Some(id), false) => Target::Lesson(id),
        (None, true) => Target::All,
        _ => anyhow::bail!("name one lesson, or --all"),
    };
    Ok(reprocess(db, &Acting::cli(), target, only).await?)
}

/// A running job's progress for people: "42 %, about 3 min left".
pub fn progress_text(permille: Option<i64>, eta_ms: Option<i64>) -> Option<String> {
    let p = permille?;
    let mut text = format!("{} %", p / 10);
    if let Some(eta) = eta_ms {
        let s = (eta + 999) / 1000;
        if s >= 120 {
            text.push_str(&format!(", about {} min left", (s + 59) / 60));
        } else {
            text.push_str(&format!(", about {s} s left"));
        }
    }
    Some(text)
}

/// Mistakes in a command's arguments, as one error.
fn invalid(errors: Vec<crate::domain::Invalid>) -> anyhow::Error {
    anyhow::anyhow!(
        "{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// `lectern backup --to DIR`: prints progress on standard error and a summary on standard out.
pub async fn backup(
    db: &Db,
    store: &crate::storage::ObjectStore,
    url: &str,
    to: &std::path::Path,
) -> anyhow::Result<()> {
    let progress = |done: u64, all: u64| {
        if done.is_multiple_of(100) || done == all {
            eprintln!("{done} / {all} objects");
        }
    };
    let report = crate::services::backup::backup(db, store, url, to, &progress).await?;
    println!(
        "backed up the catalogue and {} objects ({} MiB) into {}",
        report.objects,
        report.bytes >> 20,
        to.display()
    );
    if !report.mismatched.is_empty() {
        anyhow::bail!(
            "copied as found, but these objects do not have the SHA-256 the catalogue records: {}",
            report.mismatched.join(", ")
        );
    }
    Ok(())
}

/// `lectern restore --from DIR` (the catalogue and the objects; the caller rebuilds the index).
pub async fn restore(
    url: &str,
    store: &crate::storage::ObjectStore,
    from: &std::path::Path,
) -> anyhow::Result<()> {
    let backend = crate::db::Backend::from_url(url).ok_or_else(|| {
        anyhow::anyhow!("the database URL's scheme is neither sqlite nor postgres")
    })?;
    let sqlite = crate::db::sqlite_file(url);
    let progress = |done: u64, all: u64| {
        if done.is_multiple_of(100) || done == all {
            eprintln!("{done} / {all} objects");
        }
    };
    let summary =
        crate::services::backup::restore(backend, url, sqlite.as_deref(), store, from, &progress)
            .await?;
    println!(
        "restored the catalogue of {} (change-log position {}) and {} objects",
        summary.created_at, summary.change_head, summary.objects
    );
    Ok(())
}

/// `lectern verify`: whether every catalogued object is there and sound; prints what is not,
/// and the orphans.
pub async fn verify(
    db: &Db,
    store: &crate::storage::ObjectStore,
    quick: bool,
) -> anyhow::Result<bool> {
    let r = crate::services::backup::verify(db, store, quick).await?;
    for m in &r.missing {
        println!("missing\t{}\t{}", m.kind, m.key);
    }
    for (c, found) in &r.corrupt {
        println!(
            "damaged\t{}\t{}\texpected {} found {found}",
            c.kind,
            c.key,
            c.sha256.as_deref().unwrap_or("")
        );
    }
    for o in &r.orphans {
        println!("orphan\t{}\t{} bytes", o.key, o.size);
    }
    println!(
        "{} catalogued objects checked{}: {} missing, {} damaged, {} orphans",
        r.checked,
        if quick { " (presence only)" } else { "" },
        r.missing.len(),
        r.corrupt.len(),
        r.orphans.len()
    );
    Ok(r.is_sound())
}

/// `lectern gc`: deletes (or lists) old orphans.
pub async fn gc(
    db: &Db,
    store: &crate::storage::ObjectStore,
    grace_hours: u64,
    dry_run: bool,
) -> anyhow::Result<()> {
    let grace_ms = i64::try_from(grace_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
    let gone = crate::services::backup::gc(db, store, grace_ms, dry_run).await?;
    for o in &gone {
        println!(
            "{}\t{}\t{} bytes",
            if dry_run { "would delete" } else { "deleted" },
            o.key,
            o.size
        );
    }
    println!(
        "{} orphan objects {}",
        gone.len(),
        if dry_run {
            "would be deleted"
        } else {
            "deleted"
        }
    );
    Ok(())
}

/// `lectern import`: a progress bar of bytes on standard error (on a terminal), one line on
/// standard output per entry that was not simply imported, and the totals. Whether nothing was refused.
pub async fn import(
    ingest: &crate::ingest::Ingest,
    source: &std::path::Path,
    options: &crate::services::import::Options,
    report: Option<&std::path::Path>,
) -> anyhow::Result<bool> {
    use crate::services::import::{self, Outcome};
    let (entries, unreadable) = import::entries(source).await?;
    let total: u64 = entries
        .iter()
        .filter_map(|(_, e)| std::fs::metadata(&e.file).ok().map(|m| m.len()))
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut lines = vec!["at,outcome,lesson_id,detail".to_owned()];
    let csv_cell = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let (mut imported, mut skipped, mut refused) = (0usize, 0usize, unreadable.len());
    for u in &unreadable {
        bar.suspend(|| println!("refused\t{}\t{}", u.at, u.reason));
        lines.push(format!(
            "{},refused,,{}",
            csv_cell(&u.at),
            csv_cell(&u.reason)
        ));
    }
    for (at, entry) in &entries {
        bar.set_message(entry.title.clone());
        let sent = |n: u64| bar.inc(n);
        let outcome = import::import_one(ingest, entry, options, &sent).await?;
        let (word, lesson, detail) = match &outcome {
            Outcome::Imported { lesson_id } => {
                imported += 1;
                let word = if options.dry_run {
                    "would import"
                } else {
                    "imported"
                };
                (word, lesson_id.clone().unwrap_or_default(), String::new())
            }
            Outcome::Skipped { lesson_id } => {
                skipped += 1;
                bar.suspend(|| println!("skipped\t{at}\talready lesson {lesson_id}"));
                ("skipped", lesson_id.clone(), "already imported".to_owned())
            }
            Outcome::Refused { reason } => {
                refused += 1;
                bar.suspend(|| println!("refused\t{at}\t{reason}"));
                ("refused", String::new(), reason.clone())
            }
        };
        lines.push(format!(
            "{},{word},{lesson},{}",
            csv_cell(at),
            csv_cell(&detail)
        ));
    }
    bar.finish_and_clear();
    if let Some(path) = report {
        std::fs::write(path, lines.join("\n") + "\n")?;
    }
    println!(
        "{imported} {}, {skipped} skipped (already imported), {refused} refused",
        if options.dry_run {
            "would be imported"
        } else {
            "imported"
        }
    );
    Ok(refused == 0)
}
