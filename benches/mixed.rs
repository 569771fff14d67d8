//! Reads under writes: how reads fare while many editors write, against the real service
//! (release build) on SQLite and on PostgreSQL.
//!
//! For each database: seed published lessons through the API, then for a fixed time run
//! `WRITERS` writers (each, in turn, creates a lesson and publishes it, uploads a 2 MiB master
//! to a new lesson, or edits a random lesson, as an operator) beside `READERS` anonymous readers
//! (a lesson's JSON, the first page of the lesson list, a search, and the lesson's web page, in
//! turn), and report latency percentiles per kind. Then the
//! same readers alone, as the baseline. The hardening issue's target: read p99 under 500 ms in
//! the mixed run on this 2-core machine.
//!
//! ```text
//! cargo build --release && cargo bench --bench mixed
//! ```
//!
//! Settings (environment variables, all optional):
//! - `LECTERN_BENCH_DATABASES` `sqlite,postgres` (default both; PostgreSQL at
//!   `LECTERN_TEST_PG_URL`, default `postgres://root@127.0.0.1:5432/test`, a fresh database)
//! - `LECTERN_BENCH_WRITERS` (default 20), `LECTERN_BENCH_READERS` (default 50)
//! - `LECTERN_BENCH_SECS` seconds per run (default 20), `LECTERN_BENCH_SEED` lessons (default 300)
//! - `LECTERN_BENCH_BIN` the `lectern` binary (default `target/release/lectern`)

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

struct Settings {
    databases: Vec<String>,
    writers: usize,
    readers: usize,
    secs: u64,
    seed: usize,
    bin: PathBuf,
    pg: String,
}

impl Settings {
    fn load() -> Result<Self> {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        Ok(Self {
            databases: std::env::var("LECTERN_BENCH_DATABASES")
                .unwrap_or_else(|_| "sqlite,postgres".into())
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect(),
            writers: env_usize("LECTERN_BENCH_WRITERS", 20)?,
            readers: env_usize("LECTERN_BENCH_READERS", 50)?,
            secs: env_usize("LECTERN_BENCH_SECS", 20)? as u64,
            seed: env_usize("LECTERN_BENCH_SEED", 300)?.max(1),
            bin: std::env::var("LECTERN_BENCH_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|_| Path::new(&target).join("release/lectern")),
            pg: std::env::var("LECTERN_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into()),
        })
    }
}

/// A running service: the child, its address and an operator token.
struct Service {
    child: tokio::process::Child,
    base: String,
    token: String,
}

async fn database_url(settings: &Settings, db: &str, root: &Path) -> Result<String> {
    if db == "sqlite" {
        return Ok(format!(
            "sqlite://{}?mode=rwc",
            root.join("lectern.db").display()
        ));
    }
    let name = format!("lectern_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&settings.pg)
        .await
        .context("PostgreSQL for the benchmark")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let (base, _) = settings
        .pg
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("PostgreSQL URL without a database"))?;
    Ok(format!("{base}/{name}"))
}

async fn start(settings: &Settings, url: &str, root: &Path) -> Result<Service> {
    let envs = [
        ("LECTERN_DATA_DIR", root.join("data").display().to_string()),
        (
            "LECTERN_INDEX_DIR",
            root.join("index").display().to_string(),
        ),
        ("LECTERN_DATABASE_URL", url.to_owned()),
        ("LECTERN_S3_EMBEDDED_BIND", "127.0.0.1:0".into()),
        ("LECTERN_BIND", "127.0.0.1:0".into()),
        ("RUST_LOG", "error".into()),
    ];
    let out = tokio::process::Command::new(&settings.bin)
        .args(["token", "create", "--name", "bench"])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut child = tokio::process::Command::new(&settings.bin)
        .arg("serve")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let base = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("waiting for the service to listen")??
            .ok_or_else(|| anyhow!("the service exited"))?;
        if let Some(b) = line.strip_prefix("lectern listening on ") {
            break b.to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Service { child, base, token })
}

async fn create_published(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    i: usize,
) -> Result<String> {
    let r = client
        .post(format!("{base}/api/v1/lessons"))
        .bearer_auth(token)
        .json(&json!({
            "title": format!("乡村振兴政策解读第{i}讲"),
            "kind": "video",
            "description": "学习贯彻党的二十大精神，推进乡村全面振兴。".repeat(20),
            "tags": ["乡村振兴", "党课"],
            "lecturer": "张教授",
        }))
        .send()
        .await?;
    ensure!(r.status() == 201, "create: {}", r.status());
    let id = r.json::<Value>().await?["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no id"))?
        .to_owned();
    let r = client
        .post(format!("{base}/api/v1/lessons/{id}/publish"))
        .bearer_auth(token)
        .send()
        .await?;
    ensure!(r.status() == 200, "publish: {}", r.status());
    Ok(id)
}

/// A 2 MiB video master for a draft lesson of its own: the upload path (sniffing, SHA-256,
/// object storage, SQL), as editors use it.
async fn upload(client: &reqwest::Client, base: &str, token: &str, n: usize) -> bool {
    let Ok(r) = client
        .post(format!("{base}/api/v1/lessons"))
        .bearer_auth(token)
        .json(&json!({ "title": format!("上传测试第{n}讲"), "kind": "video" }))
        .send()
        .await
    else {
        return false;
    };
    let Ok(v) = r.json::<Value>().await else {
        return false;
    };
    let Some(id) = v["id"].as_str() else {
        return false;
    };
    let mut body = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free".to_vec();
    let mut x = n as u64 | 1;
    while body.len() < 2 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        body.extend_from_slice(&x.to_le_bytes());
    }
    client
        .post(format!(
            "{base}/api/v1/lessons/{id}/assets?role=master&filename=a.mp4"
        ))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .is_ok_and(|r| r.status() == 201)
}

#[derive(Default)]
struct Samples {
    api: Vec<Duration>,
    list: Vec<Duration>,
    page: Vec<Duration>,
    search: Vec<Duration>,
    write: Vec<Duration>,
    errors: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn row(name: &str, v: &mut [Duration], secs: u64) -> String {
    v.sort();
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    format!(
        "| {name} | {} | {:.0} | {} | {} | {} | {} |\n",
        v.len(),
        v.len() as f64 / secs as f64,
        ms(percentile(v, 0.5)),
        ms(percentile(v, 0.95)),
        ms(percentile(v, 0.99)),
        ms(v.last().copied().unwrap_or_default()),
    )
}

/// Runs readers (and writers, if any) for `secs`; the samples.
async fn run(
    s: &Service,
    ids: Arc<Vec<String>>,
    writers: usize,
    readers: usize,
    secs: u64,
) -> Samples {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for r in 0..readers {
        let (ids, stop, base) = (ids.clone(), stop.clone(), s.base.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut out = Samples::default();
            let mut n = r;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = &ids[n * 7919 % ids.len()];
                let (url, kind) = match n % 4 {
                    0 => (format!("{base}/api/v1/lessons/{id}"), 0),
                    1 => (format!("{base}/api/v1/lessons?limit=20"), 1),
                    2 => (
                        format!("{base}/api/v1/search?q=%E4%B9%A1%E6%9D%91%E6%8C%AF%E5%85%B4"),
                        3,
                    ),
                    _ => (format!("{base}/lessons/{id}"), 2),
                };
                let started = Instant::now();
                let ok = match client.get(&url).send().await {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let took = started.elapsed();
                if !ok {
                    out.errors += 1;
                }
                match kind {
                    0 => out.api.push(took),
                    1 => out.list.push(took),
                    3 => out.search.push(took),
                    _ => out.page.push(took),
                }
            }
            out
        }));
    }
    for w in 0..writers {
        let (ids, stop, base, token) = (ids.clone(), stop.clone(), s.base.clone(), s.token.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut out = Samples::default();
            let mut n = w * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                let ok = if n % 3 == 0 {
                    create_published(&client, &base, &token, n).await.is_ok()
                } else if n % 3 == 1 {
                    upload(&client, &base, &token, n).await
                } else {
                    let id = &ids[n * 104_729 % ids.len()];
                    client
                        .patch(format!("{base}/api/v1/lessons/{id}"))
                        .bearer_auth(&token)
                        .json(&json!({ "title": format!("乡村振兴政策解读（修订{n}）") }))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200)
                };
                out.write.push(started.elapsed());
                if !ok {
                    out.errors += 1;
                }
            }
            out
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Samples::default();
    for t in tasks {
        if let Ok(s) = t.await {
            all.api.extend(s.api);
            all.list.extend(s.list);
            all.page.extend(s.page);
            all.search.extend(s.search);
            all.write.extend(s.write);
            all.errors += s.errors;
        }
    }
    all
}

async fn database(settings: &Settings, db: &str, report: &mut String) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = database_url(settings, db, dir.path()).await?;
    let mut s = start(settings, &url, dir.path()).await?;
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(settings.seed);
    for i in 0..settings.seed {
        ids.push(create_published(&client, &s.base, &s.token, i).await?);
    }
    let ids = Arc::new(ids);
    let page = client
        .get(format!("{}/lessons/{}", s.base, ids[0]))
        .send()
        .await?;
    ensure!(
        page.status() == 200,
        "the lesson page answers {}",
        page.status()
    );

    report.push_str(&format!(
        "\n### {db}: {} writers and {} readers, {} s (seeded with {} published lessons)\n\n\
         | kind | requests | per s | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n",
        settings.writers, settings.readers, settings.secs, settings.seed
    ));
    let mut mixed = run(
        &s,
        ids.clone(),
        settings.writers,
        settings.readers,
        settings.secs,
    )
    .await;
    let mut reads: Vec<Duration> = mixed
        .api
        .iter()
        .chain(&mixed.list)
        .chain(&mixed.page)
        .chain(&mixed.search)
        .copied()
        .collect();
    report.push_str(&row("all reads", &mut reads, settings.secs));
    report.push_str(&row("lesson JSON", &mut mixed.api, settings.secs));
    report.push_str(&row("lesson list", &mut mixed.list, settings.secs));
    report.push_str(&row("search", &mut mixed.search, settings.secs));
    report.push_str(&row("lesson page", &mut mixed.page, settings.secs));
    report.push_str(&row("writes", &mut mixed.write, settings.secs));
    report.push_str(&format!("\nfailed requests: {}\n", mixed.errors));

    report.push_str(&format!(
        "\nThe same {} readers alone:\n\n| kind | requests | per s | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n",
        settings.readers
    ));
    let alone = run(&s, ids, 0, settings.readers, settings.secs).await;
    let mut reads: Vec<Duration> = alone
        .api
        .iter()
        .chain(&alone.list)
        .chain(&alone.page)
        .chain(&alone.search)
        .copied()
        .collect();
    report.push_str(&row("all reads", &mut reads, settings.secs));
    report.push_str(&format!("\nfailed requests: {}\n", alone.errors));
    s.child.kill().await.ok();
    Ok(())
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
    if !settings.bin.exists() {
        eprintln!(
            "error: {} not found. Build the service first: `cargo build --release`",
            settings.bin.display()
        );
        std::process::exit(2);
    }
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut report = format!(
        "## Reads under writes (`cargo bench --bench mixed`), commit {commit}, {}\n",
        time::OffsetDateTime::now_utc().date()
    );
    for db in settings.databases.clone() {
        if let Err(e) = database(&settings, &db, &mut report).await {
            eprintln!("error on {db}: {e:#}");
            println!("{report}");
            std::process::exit(1);
        }
    }
    println!("{report}");
}
