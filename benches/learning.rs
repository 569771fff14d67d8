//! Learning records at a province's scale, against the service over HTTP on SQLite and on
//! PostgreSQL: players' heartbeats (`PUT /api/v1/me/positions/{id}`, each member with its own
//! personal token), platforms' xAPI batches of 100 statements (`POST /api/xapi/statements`), and
//! the organisation report's summary for 100,000 members × a year of records. Results go to
//! `BENCHMARKS.md`.
//!
//! ```text
//! cargo bench --bench learning
//! ```
//!
//! Settings (environment variables, all optional):
//! - `LECTERN_BENCH_DATABASES` `sqlite,postgres` (default both; PostgreSQL at
//!   `LECTERN_TEST_PG_URL`, default `postgres://root@127.0.0.1:5432/test`, a fresh database)
//! - `LECTERN_BENCH_MEMBERS` members sending heartbeats (default 20,000)
//! - `LECTERN_BENCH_CLIENTS` concurrent clients of the closed-loop runs (default 64)
//! - `LECTERN_BENCH_SECS` seconds per run (default 10)
//! - `LECTERN_BENCH_RATES` heartbeat rates of the open-loop runs, per second (default
//!   `250,500,1000,2000,4000`): requests are sent on a fixed schedule whatever the answers, and
//!   latency counts from the scheduled moment, so queueing shows
//! - `LECTERN_BENCH_REPORT_MEMBERS` members of the report run (default 100,000) and
//!   `LECTERN_BENCH_REPORT_DAYS` days with learning per member over the year (default 24);
//!   they are spread over 20 cities of 5 counties each (a tenth homed at their city)
//! - `LECTERN_BENCH_PARTS` what to run (default `heartbeats,xapi,report`)
//!
//! A simulated member plays for 30 s between heartbeats, so a rate of R heartbeats/s stands for
//! 30 × R members online; the largest such population with p99 under 200 ms is reported.

mod support;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Members with a member grant on `org` and (when `tokens`) a personal token each, written
/// straight into the tables (hashing 100,000 passwords with argon2 would take an hour): their
/// ids, logins and tokens.
async fn members(
    db: &lectern::db::Db,
    org: &str,
    from: usize,
    n: usize,
    tokens: bool,
) -> Result<Vec<(String, String, String)>> {
    let now = lectern::db::now_ms();
    let mut out = Vec::with_capacity(n);
    for chunk in (from..from + n).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin_write().await?;
        for &i in chunk {
            let id = uuid::Uuid::now_v7().to_string();
            let login = format!("m{i:06}");
            sqlx::query(
                "INSERT INTO users (id, login, display_name, password_hash, created_at, \
                 password_changed_at) VALUES ($1, $2, $3, 'x', $4, $4)",
            )
            .bind(&id)
            .bind(&login)
            .bind(format!("学员{i}"))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO role_grants (user_id, role, org_id, granted_by, created_at) \
                 VALUES ($1, 'member', $2, NULL, $3)",
            )
            .bind(&id)
            .bind(org)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let token = if tokens {
                let t = lectern::domain::token::generate();
                lectern::db::Db::create_personal_token_in(
                    &mut tx,
                    &id,
                    "bench",
                    &lectern::domain::token::hash(&t),
                    None,
                )
                .await?;
                t
            } else {
                String::new()
            };
            out.push((id, login, token));
        }
        tx.commit().await?;
    }
    Ok(out)
}

struct Latencies {
    ms: Vec<f64>,
    errors: usize,
}

impl Latencies {
    fn line(&mut self, what: &str, db: &str, secs: f64, per_request: usize) -> String {
        self.ms.sort_by(f64::total_cmp);
        let n = self.ms.len();
        format!(
            "| {db} | {what} | {:.0} | {:.1} | {:.1} | {} |",
            (n * per_request) as f64 / secs,
            percentile(&self.ms, 0.5),
            percentile(&self.ms, 0.99),
            self.errors
        )
    }
}

/// A heartbeat of member `m` in `lesson`: the 15 s after the last one.
fn heartbeat(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    lesson: &str,
    k: usize,
) -> reqwest::RequestBuilder {
    let start = (k % 8) as i64 * 15_000;
    client
        .put(format!("{base}/api/v1/me/positions/{lesson}"))
        .bearer_auth(token)
        .json(
            &json!({ "position_ms": start + 15_000, "duration_ms": 120_000,
                        "played": [{ "start_ms": start, "end_ms": start + 15_000 }] }),
        )
}

async fn closed_loop<F, Fut>(clients: usize, secs: u64, send: F) -> Latencies
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let send = Arc::new(send);
    let next = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (send, next) = (send.clone(), next.clone());
        tasks.spawn(async move {
            let mut ms = Vec::new();
            let mut errors = 0;
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if send(i).await {
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (ms, errors)
        });
    }
    let mut all = Latencies {
        ms: Vec::new(),
        errors: 0,
    };
    while let Some(Ok((ms, errors))) = tasks.join_next().await {
        all.ms.extend(ms);
        all.errors += errors;
    }
    all
}

async fn open_loop<F, Fut>(rate: usize, secs: u64, send: F) -> Latencies
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let send = Arc::new(send);
    let start = Instant::now();
    let total = rate * secs as usize;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let send = send.clone();
        tasks.spawn(async move {
            let ok = send(i).await;
            (ok, due.elapsed().as_secs_f64() * 1000.0)
        });
    }
    let mut all = Latencies {
        ms: Vec::new(),
        errors: 0,
    };
    while let Some(Ok((ok, ms))) = tasks.join_next().await {
        if ok {
            all.ms.push(ms);
        } else {
            all.errors += 1;
        }
    }
    all
}

async fn run(kind: &str, out: &mut Vec<String>) -> Result<()> {
    let members_n = env_usize("LECTERN_BENCH_MEMBERS", 20_000)?;
    let clients = env_usize("LECTERN_BENCH_CLIENTS", 64)?;
    let secs = env_usize("LECTERN_BENCH_SECS", 10)? as u64;
    let rates: Vec<usize> = std::env::var("LECTERN_BENCH_RATES")
        .unwrap_or_else(|_| "250,500,1000,2000,4000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let report_members = env_usize("LECTERN_BENCH_REPORT_MEMBERS", 100_000)?;
    let report_days = env_usize("LECTERN_BENCH_REPORT_DAYS", 24)?;
    let parts =
        std::env::var("LECTERN_BENCH_PARTS").unwrap_or_else(|_| "heartbeats,xapi,report".into());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);

    let dir = tempfile::tempdir()?;
    let url = support::database_url(kind, dir.path()).await?;
    let support::Service { app, token, base } = support::start(dir.path(), url, |c| {
        c.database_max_connections = c.database_max_connections.max(32);
        // Every simulated member calls from 127.0.0.1.
        c.http_max_connections_per_address = c.http_max_connections;
    })
    .await?;
    let db = app.state().db.clone();
    let (root, _) = lectern::cli::bootstrap(
        &db,
        "省委党校",
        "province",
        Some("440000"),
        "bench-admin",
        "管理员",
        "bench-password-长一点",
    )
    .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let mut lessons = Vec::new();
    for i in 0..20 {
        let r: Value = client
            .post(format!("{base}/api/v1/lessons"))
            .bearer_auth(&token)
            .json(
                &json!({ "title": format!("第{i}讲"), "kind": "video", "org_id": root.id,
                            "series": if i % 2 == 0 { "党史系列" } else { "理论学习" } }),
            )
            .send()
            .await?
            .json()
            .await?;
        let id = r["id"].as_str().context("a lesson id")?.to_owned();
        let s = client
            .post(format!("{base}/api/v1/lessons/{id}/publish"))
            .bearer_auth(&token)
            .send()
            .await?
            .status();
        ensure!(s == 200, "publish: {s}");
        lessons.push(id);
    }
    let platform: Value = client
        .post(format!("{base}/api/v1/platforms"))
        .bearer_auth(&token)
        .json(&json!({ "org_id": root.id, "name": "省级学习平台", "channel": "wechat" }))
        .send()
        .await?
        .json()
        .await?;
    let key = platform["key"]["secret"]
        .as_str()
        .context("a platform key")?
        .to_owned();
    let t = Instant::now();
    let people = Arc::new(members(&db, &root.id, 0, members_n, true).await?);
    eprintln!(
        "{kind}: {members_n} members in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let lessons = Arc::new(lessons);

    let hb = {
        let (client, base, people, lessons) = (
            client.clone(),
            base.clone(),
            people.clone(),
            lessons.clone(),
        );
        move |i: usize| {
            let (p, l) = (&people[i % people.len()], &lessons[(i / 7) % lessons.len()]);
            let r = heartbeat(&client, &base, &p.2, l, i / people.len());
            async move { r.send().await.is_ok_and(|r| r.status() == 204) }
        }
    };
    if part("heartbeats") {
        heartbeats(kind, out, clients, secs, &rates, hb.clone()).await;
    }
    if part("xapi") {
        xapi(
            kind, out, clients, secs, &client, &base, &people, &lessons, &key,
        )
        .await;
    }
    if part("report") {
        report(
            kind,
            out,
            &db,
            &root,
            (members_n, report_members, report_days),
            &people,
            &lessons,
            hb,
        )
        .await?;
    }
    drop(app);
    Ok(())
}

/// Heartbeats: 64 clients as fast as answers come, then open loops at fixed rates.
async fn heartbeats<F, Fut>(
    kind: &str,
    out: &mut Vec<String>,
    clients: usize,
    secs: u64,
    rates: &[usize],
    hb: F,
) where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let mut l = closed_loop(clients, secs, hb.clone()).await;
    out.push(l.line(
        &format!("heartbeats, {clients} clients"),
        kind,
        secs as f64,
        1,
    ));
    eprintln!("{}", out.last().unwrap());
    // Heartbeats, open loop at fixed rates.
    let mut held = 0;
    for &rate in rates {
        let mut l = open_loop(rate, secs, hb.clone()).await;
        l.ms.sort_by(f64::total_cmp);
        let p99 = percentile(&l.ms, 0.99);
        if p99 < 200.0 && l.errors == 0 {
            held = held.max(rate);
        }
        out.push(l.line(
            &format!("heartbeats at {rate}/s ({} online)", rate * 30),
            kind,
            secs as f64,
            1,
        ));
        eprintln!("{}", out.last().unwrap());
    }
    out.push(format!(
        "| {kind} | largest population held (p99 < 200 ms) | {} online ({held} heartbeats/s) | | | |",
        held * 30
    ));
}

/// Platforms posting xAPI batches of 100 statements.
#[allow(clippy::too_many_arguments)]
async fn xapi(
    kind: &str,
    out: &mut Vec<String>,
    clients: usize,
    secs: u64,
    client: &reqwest::Client,
    base: &str,
    people: &Arc<Vec<(String, String, String)>>,
    lessons: &Arc<Vec<String>>,
    key: &str,
) {
    let posters = (clients / 8).max(1);
    let post = {
        let (client, base, people, lessons, key) = (
            client.clone(),
            base.to_owned(),
            people.clone(),
            lessons.clone(),
            key.to_owned(),
        );
        move |i: usize| {
            let batch: Vec<Value> = (0..100)
                .map(|k| {
                    let n = i * 100 + k;
                    let (p, l) = (&people[n % people.len()], &lessons[n % lessons.len()]);
                    json!({
                        "actor": { "account": { "homePage": base, "name": p.1 } },
                        "verb": { "id": "https://w3id.org/xapi/video/verbs/paused" },
                        "object": { "id": format!("{base}/lessons/{l}") },
                        "result": { "extensions": {
                            "https://w3id.org/xapi/video/extensions/played-segments":
                                format!("{}[.]{}", (n % 8) * 15, (n % 8) * 15 + 15) } },
                        "context": { "extensions": {
                            "https://w3id.org/xapi/video/extensions/length": 120 } }
                    })
                })
                .collect();
            let r = client
                .post(format!("{base}/api/xapi/statements"))
                .bearer_auth(&key)
                .header("X-Experience-API-Version", "1.0.3")
                .json(&batch);
            async move { r.send().await.is_ok_and(|r| r.status() == 200) }
        }
    };
    let mut l = closed_loop(posters, secs, post).await;
    out.push(l.line(
        &format!("xAPI statements (batches of 100, {posters} platforms)"),
        kind,
        secs as f64,
        100,
    ));
    eprintln!("{}", out.last().unwrap());
}

/// The report: 100,000 members × a year of records over a province of 20 cities of 5 counties,
/// then the summary of each quarter (the current one with heartbeats at 500/s meanwhile) and
/// the province's report opened.
#[allow(clippy::too_many_arguments)]
async fn report<F, Fut>(
    kind: &str,
    out: &mut Vec<String>,
    db: &lectern::db::Db,
    root: &lectern::db::orgs::OrgRecord,
    (members_n, report_members, report_days): (usize, usize, usize),
    people: &[(String, String, String)],
    lessons: &[String],
    hb: F,
) -> Result<()>
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let t = Instant::now();
    let mut homes = Vec::new();
    for c in 0..20 {
        let city = org(db, root, &format!("第{c}市委党校"), "city").await?;
        for k in 0..5 {
            homes.push(org(db, &city, &format!("第{c}市第{k}县委党校"), "county").await?);
        }
        homes.push(city);
    }
    let mut everyone: Vec<String> = people.iter().map(|p| p.0.clone()).collect();
    let more = report_members.saturating_sub(members_n);
    let per_home = more.div_ceil(homes.len()).max(1);
    for (i, home) in homes.iter().enumerate() {
        let n = per_home.min(more.saturating_sub(i * per_home));
        everyone.extend(
            members(db, &home.id, members_n + i * per_home, n, false)
                .await?
                .into_iter()
                .map(|p| p.0),
        );
    }
    let now = lectern::db::now_ms();
    let this = lectern::domain::report::Quarter::of_ms(now);
    let quarters = [
        this.previous().previous().previous(),
        this.previous().previous(),
        this.previous(),
        this,
    ];
    let day_ms = 86_400_000i64;
    let year_start = quarters[0].span_ms().0;
    let mut rows = 0usize;
    for chunk in everyone.chunks(200) {
        let mut tx = db.begin_write().await?;
        let mut days = Vec::new();
        let mut progress = Vec::new();
        for (u, user) in chunk.iter().enumerate() {
            for d in 0..report_days {
                let at = year_start + ((u * 7 + d * 15) % 360) as i64 * day_ms + 3_600_000;
                let at = at.min(now);
                let lesson = &lessons[(u + d) % lessons.len()];
                let source = if d % 3 == 0 { "platform" } else { "library" };
                days.push(format!(
                    "('{user}', '{lesson}', '{}', '{}', 600000)",
                    source,
                    lectern::domain::time::china_day(at)
                ));
                if d % 4 == 0 {
                    progress.push(format!(
                        "('{user}', '{lesson}', '{}', '[]', 60000, 120000, 600000, 0, 0, {}, {at}, {at})",
                        source,
                        if d % 8 == 0 { at.to_string() } else { "NULL".into() }
                    ));
                }
            }
        }
        // Generated ids and numbers only: nothing here comes from outside.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO learning_days (user_id, lesson_id, source, day, time_ms) VALUES {} \
             ON CONFLICT DO NOTHING",
            days.join(",")
        )))
        .execute(&mut *tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO learning_progress (user_id, lesson_id, source, spans, covered_ms, \
             duration_ms, time_ms, position_ms, credit_ms, completed_at, first_at, updated_at) \
             VALUES {} ON CONFLICT DO NOTHING",
            progress.join(",")
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        rows += days.len();
    }
    eprintln!(
        "{kind}: {} members, {rows} learning days in {:.1} s",
        everyone.len(),
        t.elapsed().as_secs_f64()
    );
    let mut computed = Vec::new();
    for q in quarters {
        let t = Instant::now();
        lectern::services::reports::compute(db, q, now).await?;
        computed.push(format!("{q} {:.1} s", t.elapsed().as_secs_f64()));
    }
    // The current quarter again while members keep learning: heartbeats at 500/s meanwhile.
    let t = Instant::now();
    let (during, done) = tokio::join!(open_loop(500, 8, hb), async {
        let r = lectern::services::reports::compute(db, quarters[3], now).await;
        (r, t.elapsed().as_secs_f64())
    });
    done.0?;
    let mut during = during;
    out.push(during.line(
        &format!(
            "heartbeats at 500/s while the current quarter is computed again ({:.1} s)",
            done.1
        ),
        kind,
        8.0,
        1,
    ));
    eprintln!("{}", out.last().unwrap());
    let acting = lectern::services::Acting::cli();
    let mut open = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = lectern::services::reports::report(db, &acting, &root.id, &this.to_string(), 200)
            .await?;
        ensure!(
            r.total.members as usize >= everyone.len(),
            "every member counted"
        );
        open.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    open.sort_by(f64::total_cmp);
    out.push(format!(
        "| {kind} | report of {} members × {report_days} days a year ({rows} rows) | summary per quarter: {} | report opened: p50 {:.0} ms, max {:.0} ms | | |",
        everyone.len(),
        computed.join(", "),
        percentile(&open, 0.5),
        open.last().copied().unwrap_or(f64::NAN)
    ));
    eprintln!("{}", out.last().unwrap());
    Ok(())
}

/// A new organisation under `parent`, written straight into the table.
async fn org(
    db: &lectern::db::Db,
    parent: &lectern::db::orgs::OrgRecord,
    name: &str,
    level: &str,
) -> Result<lectern::db::orgs::OrgRecord> {
    let id = uuid::Uuid::now_v7().to_string();
    let path = lectern::domain::org::child_path(Some(&parent.path), &id);
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO orgs (id, parent_id, name, level, path, review_required, self_approval, \
         created_at) VALUES ($1, $2, $3, $4, $5, 0, 0, $6)",
    )
    .bind(&id)
    .bind(&parent.id)
    .bind(name)
    .bind(level)
    .bind(&path)
    .bind(lectern::db::now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    db.org(&id).await?.context("the organisation just written")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let databases =
        std::env::var("LECTERN_BENCH_DATABASES").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut out = Vec::new();
    for kind in databases
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        run(kind, &mut out).await?;
    }
    println!("| database | run | per second | p50 (ms) | p99 (ms) | errors |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for line in out {
        println!("{line}");
    }
    Ok(())
}
