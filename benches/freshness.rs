//! Publish → searchable: the time from a publication's answer until the lesson is found by
//! search, through the HTTP API of a service running in this process (embedded S3 endpoint),
//! on SQLite and on PostgreSQL. Results go to `BENCHMARKS.md`.
//!
//! `cargo bench --bench freshness`. Settings from the environment:
//! - `LECTERN_BENCH_DATABASES` `sqlite,postgres` (default both; PostgreSQL at
//!   `LECTERN_TEST_PG_URL`, default `postgres://root@127.0.0.1:5432/test`, a fresh database)
//! - `LECTERN_BENCH_SAMPLES` lessons published one after another (default 100)
//!
//! Each lesson carries a tag of its own; after `POST /api/v1/lessons/{id}/publish` answers,
//! `GET /api/v1/search?tag=…` is asked every 2 ms until the lesson is a hit. The index follows
//! the change log (`search::follower`), so this is the whole path: commit, change-log wake-up,
//! indexing, tantivy commit and reader reload. The target is ≤ 1 s.

mod support;

use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(kind: &str, samples: usize) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let support::Service { app, token, base } = support::start(
        dir.path(),
        support::database_url(kind, dir.path()).await?,
        |_| {},
    )
    .await?;
    let client = reqwest::Client::new();
    let mut took = Vec::with_capacity(samples);
    for i in 0..samples {
        let tag = format!("新鲜度{i}");
        let lesson: serde_json::Value = client
            .post(format!("{base}/api/v1/lessons"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "title": "乡村振兴战略解读", "kind": "video", "tags": [tag],
            }))
            .send()
            .await?
            .json()
            .await?;
        let id = lesson["id"].as_str().unwrap_or_default().to_owned();
        let r = client
            .post(format!("{base}/api/v1/lessons/{id}/publish"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "publish: {}", r.status());
        let published = Instant::now();
        let deadline = published + Duration::from_secs(30);
        loop {
            let v: serde_json::Value = client
                .get(format!("{base}/api/v1/search"))
                .query(&[("tag", tag.as_str())])
                .send()
                .await?
                .json()
                .await?;
            let found = v["hits"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["id"] == id.as_str()));
            if found {
                took.push(published.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "lesson {i} never searchable");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    drop(app);
    took.sort_by(f64::total_cmp);
    Ok(format!(
        "| {kind} | {samples} | {:.0} | {:.0} | {:.0} | {:.0} |",
        percentile(&took, 0.5),
        percentile(&took, 0.95),
        percentile(&took, 0.99),
        took.last().copied().unwrap_or(f64::NAN),
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let samples: usize = std::env::var("LECTERN_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let databases =
        std::env::var("LECTERN_BENCH_DATABASES").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut rows = Vec::new();
    for kind in databases
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        eprintln!("{kind}: {samples} publications");
        rows.push(run(kind, samples).await?);
    }
    println!("| database | publications | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
