//! The job runner: throughput of no-op jobs and the latency from enqueue to start at idle, on
//! SQLite and PostgreSQL. Results go to `BENCHMARKS.md`.
//!
//! `cargo bench --bench jobs`. Settings from the environment:
//! - `LECTERN_BENCH_DATABASES` `sqlite,postgres` (default both; PostgreSQL at
//!   `LECTERN_TEST_PG_URL`, default `postgres://root@127.0.0.1:5432/test`, a fresh database)
//! - `LECTERN_BENCH_JOBS` queued jobs for the throughput runs, comma-separated (default
//!   `1000,5000,20000`), one fresh database per run
//! - `LECTERN_BENCH_SAMPLES` enqueue → start samples at idle (default 200)
//! - `LECTERN_BENCH_ORGS` organisations the queued jobs are spread over, round robin (default 1;
//!   a claim's cost grows with the organisations that have due work, not with the jobs)
//!
//! Throughput: the jobs are queued first (in transactions of 500), then one runner with the
//! default settings (4 workers) runs them; jobs/s = jobs / time until the last is done. Latency:
//! with the runner idle (nothing due), one job is queued through the runner's own database
//! handle (so the in-process wake-up applies, as for every job the service queues itself) and
//! the time until its handler starts is measured; the next job is queued once it has run.

use lectern::db::Db;
use lectern::db::jobs::NewJob;
use lectern::domain::job::JobKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn settings_store() -> lectern::storage::ObjectStore {
    // Probe jobs never reach object storage; the handlers need a store all the same.
    lectern::storage::ObjectStore::new(&lectern::storage::S3Settings {
        endpoint: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
        bucket: "unused".into(),
        access_key: "unused".into(),
        secret_key: "unused".into(),
        timeout: Duration::from_secs(1),
    })
}

async fn database(kind: &str, dir: &std::path::Path) -> anyhow::Result<Db> {
    let url = if kind == "postgres" {
        let admin = std::env::var("LECTERN_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
        let name = format!("lectern_bench_{}", uuid::Uuid::new_v4().simple());
        let db = Db::connect(&admin, 2).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(db.pool())
            .await?;
        db.close().await;
        let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
        format!("{base}/{name}")
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("jobs.db").display())
    };
    let db = Db::connect(&url, 16).await?;
    db.migrate().await?;
    Ok(db)
}

fn probe(org: usize) -> NewJob {
    NewJob::now(JobKind::Probe, "bench", &format!("org-{org}"), "{}".into())
}

async fn run(
    kind: &str,
    jobs: usize,
    orgs: usize,
    samples: usize,
    report: &mut String,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = database(kind, dir.path()).await?;
    let config = lectern::config::Config::default();
    let store = settings_store();
    let ingest = lectern::ingest::Ingest {
        db: db.clone(),
        store: store.clone(),
        max_bytes: 1,
        upload_expiry_ms: 86_400_000,
        lease_ms: 30_000,
    };
    let media = Arc::new(
        lectern::media::Media::start(db.clone(), store.clone(), config.media_settings()).await,
    );
    let work = Arc::new(config.job_work(db.clone(), store, ingest, media));
    let batch: Vec<NewJob> = (0..jobs).map(|i| probe(i % orgs)).collect();
    for chunk in batch.chunks(500) {
        db.enqueue_jobs(chunk).await?;
    }
    let started = Instant::now();
    let runner = tokio::spawn(
        lectern::jobs::Runner::new(db.clone(), work.clone(), config.job_settings())
            .run(Default::default(), std::time::Duration::ZERO),
    );
    loop {
        let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = 'done'")
            .fetch_one(db.pool())
            .await?;
        if done as usize >= jobs {
            break;
        }
        // Counting reads the `done` rows: often enough for runs of seconds, not so often that
        // the count competes with the runner.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    // Idle: let the runner settle into its wait.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = format!("latency-{i}");
        let t0 = Instant::now();
        db.enqueue_jobs(&[NewJob {
            id: Some(id.clone()),
            ..probe(0)
        }])
        .await?;
        loop {
            if work.probe_runs().contains_key(&id) {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(t0.elapsed());
        // Idle again before the next sample (the runner waits for its next wake-up).
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner.abort();
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
    };
    report.push_str(&format!(
        "| {kind} | {jobs} | {orgs} | {:.0} | {:.1} | {:.1} | {:.1} |\n",
        jobs as f64 / secs,
        pct(0.5),
        pct(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    ));
    db.close().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let databases =
        std::env::var("LECTERN_BENCH_DATABASES").unwrap_or_else(|_| "sqlite,postgres".into());
    let sizes: Vec<usize> = std::env::var("LECTERN_BENCH_JOBS")
        .unwrap_or_else(|_| "1000,5000,20000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let samples: usize = std::env::var("LECTERN_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let orgs: usize = std::env::var("LECTERN_BENCH_ORGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut report = format!(
        "## Job runner (`cargo bench --bench jobs`), commit {commit}, {}\n\n\
         | database | no-op jobs | organisations | jobs/s | enqueue → start p50 (ms) | p99 (ms) | max (ms) |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
        time::OffsetDateTime::now_utc().date()
    );
    for kind in databases
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        for &jobs in &sizes {
            if let Err(e) = run(kind, jobs, orgs, samples, &mut report).await {
                eprintln!("error on {kind}: {e:#}");
                println!("{report}");
                std::process::exit(1);
            }
            eprintln!("{report}");
        }
    }
    println!("{report}");
}
