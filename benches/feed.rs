//! Publication benchmark: downstream platforms pulling from a large catalogue. For each scale
//! (by default 10,000 and 100,000 published lessons, with ten change-log entries per lesson, so
//! 1,000,000 at the larger), against the real service (release build) on SQLite:
//!
//! - a new platform's full sync: the snapshot, then the feed from the snapshot's cursor;
//! - the latency of an incremental pull with nothing new, and with 100 new changes;
//! - (at the largest scale) 500 platforms long-polling at once: how long a new change takes to
//!   reach each of them and all of them;
//! - (at the largest scale) webhook delivery throughput to a receiver on loopback.
//!
//! ```text
//! cargo build --release && cargo bench --bench feed
//! ```
//!
//! Settings (environment variables, all optional):
//! - `LECTERN_BENCH_SCALES`   lesson counts, comma-separated (default 10000,100000)
//! - `LECTERN_BENCH_CHANGES_PER_LESSON` change-log entries per lesson (default 10)
//! - `LECTERN_BENCH_POLLERS`  long-polling platforms (default 500)
//! - `LECTERN_BENCH_ROUNDS`   changes sent to the pollers, and 100-change rounds (default 20)
//! - `LECTERN_BENCH_WEBHOOKS` changes delivered by webhook (default 2000)
//! - `LECTERN_BENCH_BIN`      the `lectern` binary (default `$CARGO_TARGET_DIR` or `target`, then
//!   `release/lectern`)
//! - `LECTERN_BENCH_DIR`      where the temporary folders are made (default: system temp)

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::{Value, json};
use sqlx::{Connection, QueryBuilder, Sqlite};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

struct Settings {
    scales: Vec<usize>,
    changes_per_lesson: usize,
    pollers: usize,
    rounds: usize,
    webhooks: usize,
    bin: PathBuf,
}

impl Settings {
    fn load() -> Result<Self> {
        let scales = std::env::var("LECTERN_BENCH_SCALES")
            .unwrap_or_else(|_| "10000,100000".into())
            .split(',')
            .map(|s| s.trim().parse::<usize>().context("LECTERN_BENCH_SCALES"))
            .collect::<Result<Vec<_>>>()?;
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        Ok(Self {
            scales,
            changes_per_lesson: env_u64("LECTERN_BENCH_CHANGES_PER_LESSON", 10)?.max(1) as usize,
            pollers: env_u64("LECTERN_BENCH_POLLERS", 500)? as usize,
            rounds: env_u64("LECTERN_BENCH_ROUNDS", 20)?.max(1) as usize,
            webhooks: env_u64("LECTERN_BENCH_WEBHOOKS", 2000)? as usize,
            bin: std::env::var("LECTERN_BENCH_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|_| Path::new(&target).join("release/lectern")),
        })
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn envs(root: &Path, port: u16, s3_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("LECTERN_BIND", format!("127.0.0.1:{port}")),
        ("LECTERN_DATA_DIR", root.join("data").display().to_string()),
        (
            "LECTERN_INDEX_DIR",
            root.join("index").display().to_string(),
        ),
        ("LECTERN_DATABASE_URL", String::new()),
        ("LECTERN_S3_ENDPOINT", String::new()),
        ("LECTERN_S3_EMBEDDED_BIND", format!("127.0.0.1:{s3_port}")),
        ("LECTERN_WEBHOOK_BACKOFF_MS", "1000".into()),
        ("RUST_LOG", "warn".into()),
    ]
}

async fn lectern(
    bin: &Path,
    root: &Path,
    envs: &[(&str, String)],
    args: &[&str],
) -> Result<String> {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args).current_dir(root).stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().await?;
    ensure!(
        out.status.success(),
        "`lectern {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

const ROOT: &str = "01900000-0000-7000-8000-00000000fee0";

/// Writes `lessons` published lessons (each with a video master) under one root organisation,
/// and `lessons × per_lesson` change-log entries (a publication per lesson, then updates of
/// random lessons), straight into the migrated SQLite database.
async fn load(db: &Path, lessons: usize, per_lesson: usize) -> Result<()> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .pragma("synchronous", "OFF");
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    let now = 1_764_000_000_000i64;
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO orgs (id, parent_id, name, level, region_code, path, review_required, \
         self_approval, created_at) VALUES (?1, NULL, '基准测试省', 'province', '440000', ?2, 0, 1, ?3)",
    )
    .bind(ROOT)
    .bind(format!("/{ROOT}/"))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let id = |i: usize| format!("01900000-0000-7000-8000-{i:012x}");
    let sha = |i: usize| format!("{:064x}", (0xfe_u128 << 100) | i as u128);
    const TAGS: [&str; 6] = ["党史", "乡村振兴", "法治", "科技", "应急", "健康"];
    let chunk = 500;
    for start in (0..lessons).step_by(chunk) {
        let range = start..(start + chunk).min(lessons);
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO lessons (id, title, description, kind, lecturer, series, region_code, \
             recorded_on, language, status, version, created_at, updated_at, published_at, org_id) ",
        );
        qb.push_values(range.clone(), |mut b, i| {
            b.push_bind(id(i))
                .push_bind(format!("第{i}讲：基层治理与乡村振兴"))
                .push_bind("课程简介")
                .push_bind(["video", "audio", "document"][i % 3])
                .push_bind("张教授")
                .push_bind(format!("系列{}", i % 50))
                .push_bind("440106")
                .push_bind("2026-01-01")
                .push_bind("zh-CN")
                .push_bind("published")
                .push_bind(1i64)
                .push_bind(now)
                .push_bind(now)
                .push_bind(now)
                .push_bind(ROOT);
        });
        qb.build().execute(&mut *tx).await?;
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO lesson_tags (lesson_id, tag, position) ");
        qb.push_values(range.clone(), |mut b, i| {
            b.push_bind(id(i))
                .push_bind(TAGS[i % TAGS.len()])
                .push_bind(0i64);
        });
        qb.build().execute(&mut *tx).await?;
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO blobs (sha256, object_key, size, created_at) ");
        qb.push_values(range.clone(), |mut b, i| {
            b.push_bind(sha(i))
                .push_bind(format!("bench/{}", sha(i)))
                .push_bind(50_000_000i64)
                .push_bind(now);
        });
        qb.build().execute(&mut *tx).await?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO assets (id, lesson_id, role, filename, sha256, content_type, disposition, \
             created_at) ",
        );
        qb.push_values(range.clone(), |mut b, i| {
            b.push_bind(format!("01900000-0000-7000-9000-{i:012x}"))
                .push_bind(id(i))
                .push_bind("master")
                .push_bind("lecture.mp4")
                .push_bind(sha(i))
                .push_bind("video/mp4")
                .push_bind("inline")
                .push_bind(now);
        });
        qb.build().execute(&mut *tx).await?;
        // The search index is told these are extracted already, so it never asks S3.
    }
    // The change log: a publication per lesson, then updates of pseudo-random lessons.
    let total = lessons * per_lesson;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for start in (0..total).step_by(2000) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO changes (seq, entity, entity_id, lesson_id, op, at) ");
        qb.push_values(start..(start + 2000).min(total), |mut b, n| {
            let lesson = if n < lessons {
                n
            } else {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % lessons as u64) as usize
            };
            b.push_bind(n as i64 + 1)
                .push_bind("lesson")
                .push_bind(id(lesson))
                .push_bind(id(lesson))
                .push_bind(if n < lessons { "publish" } else { "update" })
                .push_bind(now + n as i64);
        });
        qb.build().execute(&mut *tx).await?;
    }
    sqlx::query("UPDATE change_head SET seq = ?1 WHERE id = 1")
        .bind(total as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

struct Service {
    // Killed when the service is dropped (`kill_on_drop`).
    _child: tokio::process::Child,
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Service {
    async fn start(bin: &Path, root: &Path, envs: &[(&str, String)], base: String) -> Result<Self> {
        let log = std::fs::File::create(root.join("service.log"))?;
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg("serve")
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn()?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1000)
            .build()?;
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/health/ready")).send().await
                && r.status().is_success()
            {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(300),
                "the service did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let out = lectern(bin, root, envs, &["token", "create", "--name", "bench"]).await?;
        let token = out
            .lines()
            .last()
            .ok_or_else(|| anyhow!("no token printed"))?
            .trim()
            .to_owned();
        Ok(Self {
            _child: child,
            base,
            token,
            http,
        })
    }

    async fn json(&self, r: reqwest::RequestBuilder) -> Result<Value> {
        let r = r.send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        ensure!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
        Ok(serde_json::from_slice(&body)?)
    }

    /// The search index's status (its lag, and the change log's head).
    async fn search_status(&self) -> Result<Value> {
        self.json(
            self.http
                .get(format!("{}/api/v1/search/status", self.base))
                .bearer_auth(&self.token),
        )
        .await
    }

    /// A platform under the root organisation; its id and key.
    async fn platform(&self, name: &str, webhook: Option<&str>) -> Result<(String, String)> {
        let v = self
            .json(
                self.http
                    .post(format!("{}/api/v1/platforms", self.base))
                    .bearer_auth(&self.token)
                    .json(&json!({ "org_id": ROOT, "name": name, "channel": "web", "webhook_url": webhook })),
            )
            .await?;
        Ok((
            v["id"].as_str().unwrap_or_default().to_owned(),
            v["key"]["secret"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    async fn pull(&self, key: &str, cursor: &str, limit: usize, wait: u64) -> Result<Value> {
        self.json(
            self.http
                .get(format!("{}/api/v1/feed", self.base))
                .bearer_auth(key)
                .query(&[
                    ("cursor", cursor),
                    ("limit", &limit.to_string()),
                    ("wait", &wait.to_string()),
                ]),
        )
        .await
    }

    /// Changes lesson `i` (its tags), through the API.
    async fn touch(&self, i: usize, round: usize) -> Result<()> {
        let id = format!("01900000-0000-7000-8000-{i:012x}");
        self.json(
            self.http
                .patch(format!("{}/api/v1/lessons/{id}", self.base))
                .bearer_auth(&self.token)
                .json(&json!({ "tags": [format!("第{round}轮")] })),
        )
        .await
        .map(|_| ())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

async fn scale(settings: &Settings, lessons: usize, last: bool, report: &mut String) -> Result<()> {
    let tmp = match std::env::var_os("LECTERN_BENCH_DIR") {
        Some(d) => tempfile::Builder::new()
            .prefix("lectern-bench-feed-")
            .tempdir_in(d)?,
        None => tempfile::Builder::new()
            .prefix("lectern-bench-feed-")
            .tempdir()?,
    };
    let root = tmp.path();
    let (port, s3_port) = (free_port()?, free_port()?);
    let envs = envs(root, port, s3_port);
    lectern(&settings.bin, root, &envs, &["migrate"]).await?;
    let started = Instant::now();
    load(
        &root.join("data/lectern.db"),
        lessons,
        settings.changes_per_lesson,
    )
    .await?;
    let entries = lessons * settings.changes_per_lesson;
    eprintln!(
        "{lessons} lessons, {entries} change-log entries loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let svc = Service::start(
        &settings.bin,
        root,
        &envs,
        format!("http://127.0.0.1:{port}"),
    )
    .await?;
    // Let the search index catch up first, so it does not compete with what is measured.
    let started = Instant::now();
    loop {
        let s = svc.search_status().await?;
        if s["lag"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "search index caught up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    report.push_str(&format!(
        "\n### {lessons} published lessons, {entries} change-log entries\n\n"
    ));

    // A new platform's full sync: snapshot, then the feed.
    let (_, key) = svc.platform("全量同步", None).await?;
    let started = Instant::now();
    let mut token = String::new();
    let mut got = 0usize;
    let cursor = loop {
        let v = svc
            .json(
                svc.http
                    .get(format!("{}/api/v1/feed/snapshot", svc.base))
                    .bearer_auth(&key)
                    .query(&[("page_token", token.as_str()), ("limit", "1000")]),
            )
            .await?;
        got += v["items"].as_array().map_or(0, Vec::len);
        match v["next_page_token"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break v["cursor"].as_str().unwrap_or_default().to_owned(),
        }
    };
    let snapshot_time = started.elapsed();
    let mut cursor = cursor;
    let mut fed = 0usize;
    loop {
        let v = svc.pull(&key, &cursor, 1000, 0).await?;
        fed += v["items"].as_array().map_or(0, Vec::len);
        cursor = v["cursor"].as_str().unwrap_or_default().to_owned();
        if v["more"] != true {
            break;
        }
    }
    let sync = started.elapsed();
    ensure!(
        got == lessons,
        "the snapshot had {got} of {lessons} lessons"
    );
    report.push_str(&format!(
        "- Full sync of a new platform: **{:.1} s** — snapshot of {got} lessons in {:.1} s \
         ({:.0} lessons/s, pages of 1,000, each with a presigned URL), then the feed from its \
         cursor ({fed} items).\n",
        sync.as_secs_f64(),
        snapshot_time.as_secs_f64(),
        got as f64 / snapshot_time.as_secs_f64()
    ));

    // Incremental pulls: nothing new.
    let mut idle = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let v = svc.pull(&key, &cursor, 100, 0).await?;
        idle.push(t.elapsed());
        ensure!(v["items"].as_array().is_some_and(Vec::is_empty));
    }
    idle.sort();
    // …and 100 new changes.
    let mut hundred = Vec::new();
    for round in 0..settings.rounds {
        for n in 0..100 {
            svc.touch((round * 7919 + n * 104_729) % lessons, round)
                .await?;
        }
        let t = Instant::now();
        let v = svc.pull(&key, &cursor, 100, 0).await?;
        hundred.push(t.elapsed());
        let n = v["items"].as_array().map_or(0, Vec::len);
        ensure!(n == 100, "a pull after 100 changes had {n} items");
        cursor = v["cursor"].as_str().unwrap_or_default().to_owned();
    }
    hundred.sort();
    report.push_str(&format!(
        "- Incremental pull, nothing new: p50 **{} ms**, p99 **{} ms** (200 pulls).\n\
         - Incremental pull of 100 new changes (100 upserts with presigned URLs): p50 **{} ms**, \
         p99 **{} ms** ({} rounds).\n",
        ms(percentile(&idle, 0.5)),
        ms(percentile(&idle, 0.99)),
        ms(percentile(&hundred, 0.5)),
        ms(percentile(&hundred, 0.99)),
        settings.rounds
    ));

    if last && settings.pollers > 0 {
        long_polls(settings, &svc, lessons, report).await?;
    }
    if last && settings.webhooks > 0 {
        webhooks(
            settings,
            &svc,
            &root.join("data/lectern.db"),
            lessons,
            report,
        )
        .await?;
    }
    drop(svc);
    Ok(())
}

async fn long_polls(
    settings: &Settings,
    svc: &Service,
    lessons: usize,
    report: &mut String,
) -> Result<()> {
    let n = settings.pollers;
    let started = Instant::now();
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        keys.push(svc.platform(&format!("长轮询{i}"), None).await?.1);
    }
    eprintln!(
        "{n} platforms registered in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let head = svc.search_status().await?["head"].as_i64().unwrap_or(0);
    let start_cursor = base64_cursor(head);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, String, Instant)>();
    let waiting = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (p, key) in keys.into_iter().enumerate() {
        let (http, base, tx, waiting) = (
            reqwest::Client::builder().no_proxy().build()?,
            svc.base.clone(),
            tx.clone(),
            waiting.clone(),
        );
        let mut cursor = start_cursor.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                waiting.fetch_add(1, Ordering::SeqCst);
                let r = http
                    .get(format!("{base}/api/v1/feed"))
                    .bearer_auth(&key)
                    .query(&[
                        ("cursor", cursor.as_str()),
                        ("wait", "30"),
                        ("limit", "100"),
                    ])
                    .send()
                    .await;
                waiting.fetch_sub(1, Ordering::SeqCst);
                let Ok(r) = r else { continue };
                let Ok(v) = r.json::<Value>().await else {
                    continue;
                };
                let at = Instant::now();
                if let Some(items) = v["items"].as_array() {
                    for i in items {
                        let tag = i["lesson"]["tags"][0]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        let _ = tx.send((p, tag, at));
                    }
                }
                if let Some(c) = v["cursor"].as_str() {
                    cursor = c.to_owned();
                }
            }
        }));
    }
    // Wait until every platform has its poll open.
    let t = Instant::now();
    while waiting.load(Ordering::SeqCst) < n && t.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut each = Vec::new();
    let mut all = Vec::new();
    for round in 0..settings.rounds {
        let tag = format!("第{}轮", 1000 + round);
        let sent = Instant::now();
        svc.http
            .patch(format!(
                "{}/api/v1/lessons/01900000-0000-7000-8000-{:012x}",
                svc.base,
                (round * 31) % lessons
            ))
            .bearer_auth(&svc.token)
            .json(&json!({ "tags": [tag] }))
            .send()
            .await?
            .error_for_status()?;
        let mut reached = std::collections::HashSet::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while reached.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some((p, t, at))) if t == tag => {
                    if reached.insert(p) {
                        each.push(at - sent);
                    }
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        ensure!(
            reached.len() == n,
            "round {round}: the change reached {} of {n} platforms",
            reached.len()
        );
        all.push(each.iter().rev().take(n).max().copied().unwrap_or_default());
        // Let every poll re-open.
        let t = Instant::now();
        while waiting.load(Ordering::SeqCst) < n && t.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for t in tasks {
        t.abort();
    }
    each.sort();
    all.sort();
    report.push_str(&format!(
        "- {n} platforms long-polling at once (`wait=30`), one change at a time ({} rounds), from \
         the write's request to each platform's answer: p50 **{} ms**, p99 **{} ms**; to the last \
         of the {n} platforms: p50 **{} ms**, p99 (worst round) **{} ms**.\n",
        settings.rounds,
        ms(percentile(&each, 0.5)),
        ms(percentile(&each, 0.99)),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 1.0)),
    ));
    Ok(())
}

async fn webhooks(
    settings: &Settings,
    svc: &Service,
    db: &Path,
    lessons: usize,
    report: &mut String,
) -> Result<()> {
    let received = Arc::new(AtomicUsize::new(0));
    let first: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let last: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    {
        let (received, first, last) = (received.clone(), first.clone(), last.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |_body: axum::body::Bytes| {
                let (received, first, last) = (received.clone(), first.clone(), last.clone());
                async move {
                    let now = Instant::now();
                    if let Ok(mut f) = first.lock() {
                        f.get_or_insert(now);
                    }
                    if let Ok(mut l) = last.lock() {
                        *l = Some(now);
                    }
                    received.fetch_add(1, Ordering::SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    // A backlog first: the changes are written before the platform's webhook cursor is put
    // back to where they start, so what is timed is queueing and delivering, not writing.
    let before = svc.search_status().await?["head"].as_i64().unwrap_or(0);
    let n = settings.webhooks;
    let mut writers = Vec::new();
    for w in 0..8 {
        let (http, base, token) = (svc.http.clone(), svc.base.clone(), svc.token.clone());
        writers.push(tokio::spawn(async move {
            for k in (w..n).step_by(8) {
                let id = format!("01900000-0000-7000-8000-{:012x}", (k * 13) % lessons);
                let _ = http
                    .patch(format!("{base}/api/v1/lessons/{id}"))
                    .bearer_auth(&token)
                    .json(&json!({ "tags": [format!("钩子{k}")] }))
                    .send()
                    .await;
            }
        }));
    }
    for w in writers {
        w.await?;
    }
    let (platform, _) = svc.platform("网络钩子", Some(&url)).await?;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .busy_timeout(Duration::from_secs(30));
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    let started = Instant::now();
    sqlx::query("UPDATE platforms SET webhook_cursor = ?1 WHERE id = ?2")
        .bind(base64_cursor(before))
        .bind(&platform)
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while received.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    let got = received.load(Ordering::SeqCst);
    let window = match (
        *first.lock().unwrap_or_else(|e| e.into_inner()),
        *last.lock().unwrap_or_else(|e| e.into_inner()),
    ) {
        (Some(f), Some(l)) => l - f,
        _ => Duration::ZERO,
    };
    ensure!(got >= n, "only {got} of {n} webhooks arrived");
    report.push_str(&format!(
        "- Webhooks: a backlog of {n} changes (written first) queued and delivered, signed, to a \
         receiver on loopback in **{:.1} s** — **{:.0} deliveries/s** (between the first and \
         the last delivery: {:.0}/s).\n",
        total.as_secs_f64(),
        got as f64 / total.as_secs_f64().max(0.001),
        got as f64 / window.as_secs_f64().max(0.001)
    ));
    Ok(())
}

fn base64_cursor(seq: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("1:{seq}"))
}

#[tokio::main]
async fn main() {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    let mut settings = settings;
    settings.bin = std::fs::canonicalize(&settings.bin).unwrap_or(settings.bin);
    if !settings.bin.exists() {
        eprintln!(
            "error: {} not found. Build the service first: `cargo build --release`",
            settings.bin.display()
        );
        std::process::exit(2);
    }
    let mut report = String::from("## Publication benchmark (`cargo bench --bench feed`)\n");
    let scales = settings.scales.clone();
    for (i, lessons) in scales.iter().enumerate() {
        if let Err(e) = scale(&settings, *lessons, i + 1 == scales.len(), &mut report).await {
            eprintln!("error at {lessons} lessons: {e:#}");
            println!("{report}");
            std::process::exit(1);
        }
    }
    println!("{report}");
}
