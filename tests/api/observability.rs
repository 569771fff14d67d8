//! What operators see: the request id on every response and in every problem body, the
//! Prometheus metrics at `/metrics` and the token that can guard them.
//!
//! The metrics recorder is the process's (every application a test builds shares it), so
//! counts are checked as "at least what this test did", by series this test alone makes where it
//! can (a platform's id, a fresh route).

use crate::common::{TestApp, problem};
use serde_json::json;

/// The value of the series `name` whose labels include every `labels` pair, from a Prometheus
/// text page; `None` when no such series is there.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    page.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let rest = series.strip_prefix(name)?;
        if !(rest.is_empty() || rest.starts_with('{')) {
            return None;
        }
        labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            .then(|| value.parse().ok())
            .flatten()
    })
}

async fn metrics_page(t: &TestApp) -> String {
    let r = t.client.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn every_response_names_its_request_and_a_proxys_id_is_kept() {
    let t = TestApp::spawn().await;
    // A success and a problem both carry an id; the problem's body names the same one.
    let r = t.get("/health/live").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let first = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(first.len(), 32, "{first}");
    let r = t
        .get("/api/v1/lessons/no-such-lesson")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, first, "each request has its own id");
    assert_eq!(problem(r).await["request_id"], id.as_str());
    // An id from a proxy in front is kept, so one id follows the request through both logs.
    let r = t
        .get("/api/v1/lessons/no-such-lesson")
        .header("x-request-id", "edge-7f3a:42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "edge-7f3a:42");
    assert_eq!(problem(r).await["request_id"], "edge-7f3a:42");
    // One that could forge log lines or is too long is replaced.
    for hostile in ["a b", "x\"y", &"z".repeat(65), "<script>"] {
        let r = t
            .get("/api/v1/lessons/no-such-lesson")
            .header("x-request-id", hostile)
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, hostile);
        assert_eq!(id.len(), 32);
        assert_eq!(problem(r).await["request_id"], id.as_str());
    }
    // A request refused before any route (no such path) and an anonymous refusal too.
    let r = t
        .client
        .get(t.url("/no/such/page.json"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("x-request-id"));
    let r = t.client.get(t.url("/api/v1/jobs")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    problem(r).await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_the_node() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let lesson = t.lesson("document").await;
    for _ in 0..3 {
        let r = t
            .get("/api/v1/lessons/no-such-lesson")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let pdf = crate::common::pdf_with(&["metrics"]);
    let r = t.upload(&lesson, "master", "a.pdf", pdf.clone()).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    t.search("乡村振兴").await;
    let (platform, key) = crate::feed::platform(&t, &tree.county, "县融媒体", json!({})).await;
    for _ in 0..2 {
        let r = crate::feed::feed(&t, &key, &[("cursor", "")]).await;
        assert_eq!(r.status(), 200);
    }

    let page = metrics_page(&t).await;
    let count = |name: &str, labels: &[(&str, &str)]| {
        sample(&page, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{page}"))
    };
    // Requests by route pattern (never the raw path) and status, with their latency.
    let by_route = [
        ("method", "GET"),
        ("route", "/api/v1/lessons/{id}"),
        ("status", "404"),
    ];
    assert!(count("lectern_http_requests_total", &by_route) >= 3.0);
    assert!(!page.contains("no-such-lesson"), "raw paths are not labels");
    assert!(
        count(
            "lectern_http_request_duration_seconds_count",
            &[("route", "/api/v1/lessons/{id}")]
        ) >= 3.0
    );
    assert!(page.contains("lectern_http_request_duration_seconds_bucket{"));
    // What matched no route is counted under one label.
    t.client.get(t.url("/no/such/page")).send().await.unwrap();
    let page2 = metrics_page(&t).await;
    assert!(
        sample(
            &page2,
            "lectern_http_requests_total",
            &[("route", "unmatched")]
        )
        .is_some()
    );
    // Upload bytes, object storage calls, search, feed pulls by platform.
    assert!(count("lectern_upload_bytes_total", &[("protocol", "stream")]) >= pdf.len() as f64);
    assert!(
        count(
            "lectern_s3_requests_total",
            &[("operation", "PutObject"), ("result", "ok")]
        ) >= 1.0
    );
    assert!(
        count(
            "lectern_s3_request_duration_seconds_count",
            &[("operation", "PutObject")]
        ) >= 1.0
    );
    assert!(count("lectern_search_query_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(
        count(
            "lectern_feed_pulls_total",
            &[("platform", platform.as_str())]
        ),
        2.0
    );
    // Read at scrape time: the pools, the change log and the index, the jobs.
    assert!(
        count(
            "lectern_db_pool_connections",
            &[("pool", "reads"), ("state", "idle")]
        ) >= 0.0
    );
    assert!(count("lectern_change_log_head", &[]) >= 1.0);
    assert!(count("lectern_search_index_lag", &[]) >= 0.0);
    assert!(
        page.contains("lectern_jobs{"),
        "the periodic jobs are counted by kind and state"
    );
}

#[tokio::test]
async fn a_metrics_token_guards_the_metrics() {
    let t = TestApp::spawn_with(|c| c.metrics_token = "scrape-secret-1".into()).await;
    let r = t.client.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    problem(r).await;
    for wrong in ["scrape-secret-2", "", "scrape-secret-1x"] {
        let r = t
            .client
            .get(t.url("/metrics"))
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{wrong}");
    }
    // The operator token is not the metrics token.
    let r = t.get("/metrics").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = t
        .client
        .get(t.url("/metrics"))
        .bearer_auth("scrape-secret-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("lectern_http_requests_total")
    );
}

#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish_commits_the_index_and_exits() {
    use crate::common::{Cmd, Service, cli_token, mp4, test_config};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path()).await;
    let token = cli_token(&config).await;
    let mut service = Service::start_with(&config, &[("LECTERN_SHUTDOWN_GRACE_SECS", "20")]).await;
    let client = reqwest::Client::new();
    let t = TestApp::remote(&service.base, &token, config.clone());
    let lesson = t.lesson("video").await;
    // A change just before the signal, for the index to have committed on the way out.
    t.published(json!({ "title": "停机前发布的课程", "kind": "audio" }))
        .await;

    // An upload whose body is still arriving when the signal comes.
    let data = mp4(3 << 20);
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    tx.unbounded_send(Ok(data[..1 << 20].to_vec())).unwrap();
    let upload = tokio::spawn(
        client
            .post(t.url(&format!("/api/v1/lessons/{lesson}/assets")))
            .query(&[("role", "master"), ("filename", "v.mp4")])
            .bearer_auth(&token)
            .body(reqwest::Body::wrap_stream(rx))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut kill = Cmd::new("kill");
    kill.args(["-TERM", &service.child.id().to_string()]);
    assert!(kill.output().await.status.success());
    let signalled = Instant::now();

    // It stops accepting at once (a fresh client: no pooled connection to reuse).
    let mut refused = false;
    while signalled.elapsed() < Duration::from_secs(5) {
        if reqwest::Client::new()
            .get(t.url("/health/live"))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "new connections are refused after SIGTERM");
    // The request in flight is served to its end.
    tx.unbounded_send(Ok(data[1 << 20..].to_vec())).unwrap();
    drop(tx);
    let r = upload
        .await
        .unwrap()
        .expect("the upload in flight is answered");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // Then the process ends on its own, successfully, within the grace period.
    let status = loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(25),
            "still running after the grace period"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    // Everything committed is in the index it left on disk, and the upload is stored.
    let db = lectern::db::Db::connect(&config.database_url, 2)
        .await
        .unwrap();
    let head = db.change_head().await.unwrap();
    let index = lectern::search::index::SearchIndex::open(&config.index_dir, 1000).unwrap();
    assert!(
        index.position().unwrap() >= head,
        "index at {} of {head}",
        index.position().unwrap()
    );
    assert_eq!(db.lesson_assets(&lesson).await.unwrap().len(), 1);
    db.close().await;
}
