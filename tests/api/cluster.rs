//! Several nodes: two real `lectern serve` processes on one database and one S3 server reached
//! over HTTP, each with its own data folder and its own search index, sharing no memory — what a
//! province runs when one machine is not enough. Both databases: on PostgreSQL, as deployed; on
//! SQLite, two processes on one file (one machine, such as a rolling restart).
//!
//! The nodes need an object store both can reach, so these tests run where the suite runs against
//! the external S3 server (`LECTERN_TEST_S3_ENDPOINT`), and say so and return on the embedded
//! endpoint, whose store lives inside one node.

use crate::common::{Service, TestApp, mp4, sha256_hex, test_config};
use crate::tus::{MIB, create, head, patch};
use lectern::config::Config;
use lectern::db::Db;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Two nodes and what they share.
struct Cluster {
    /// The shared settings (database, bucket); each node has its own folders under `dir`.
    config: Config,
    token: String,
    nodes: Vec<Service>,
    /// The root organisation, made before the nodes start.
    root: String,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Two nodes started at once on a fresh database and bucket (so both apply the migrations
    /// at the same moment), or `None` on the embedded endpoint.
    async fn start(env: &[(&str, &str)]) -> Option<Self> {
        if std::env::var("LECTERN_TEST_S3_ENDPOINT").is_err() {
            eprintln!(
                "cluster tests need an object store two nodes can reach: they run against the \
                 external S3 server (LECTERN_TEST_S3_ENDPOINT) and are not run on the embedded one"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path()).await;
        let (first, second) = (
            node_config(&config, dir.path(), 0),
            node_config(&config, dir.path(), 1),
        );
        let (a, b) = tokio::join!(
            Service::start_with(&first, env),
            Service::start_with(&second, env),
        );
        let db = Db::connect(&config.database_url, 2).await.unwrap();
        let (root, _) = lectern::cli::bootstrap(
            &db,
            "省委党校",
            "province",
            Some("440000"),
            "root-admin",
            "省管理员",
            "correct horse battery staple",
        )
        .await
        .expect("bootstrap");
        let token = lectern::domain::token::generate();
        db.create_token("cluster", &lectern::domain::token::hash(&token))
            .await
            .unwrap();
        db.close().await;
        Some(Self {
            config,
            token,
            nodes: vec![a, b],
            root: root.id,
            dir,
        })
    }

    /// A client of node `i` with the operator token.
    fn at(&self, i: usize) -> TestApp {
        TestApp::remote(&self.nodes[i].base, &self.token, self.config.clone())
    }

    /// Stops node `i` at once (SIGKILL) and starts it again on the same folders.
    async fn restart(&mut self, i: usize) {
        let config = node_config(&self.config, self.dir.path(), i);
        // Killed first: a node's search index is its own, locked by the process that has it.
        let old = &mut self.nodes[i].child;
        old.kill().unwrap(); // SIGKILL
        old.wait().unwrap();
        self.nodes[i] = Service::start(&config).await;
    }
}

/// Node `i`'s settings: the shared database and bucket, its own data folder and search index.
fn node_config(shared: &Config, dir: &std::path::Path, i: usize) -> Config {
    let mut c = shared.clone();
    c.data_dir = dir.join(format!("node-{i}"));
    c.index_dir = dir.join(format!("index-{i}"));
    c
}

/// Creates and publishes a lesson through `node` (the feed tests' own step); its id.
async fn publish(node: &TestApp, org: &str, title: &str) -> String {
    crate::feed::published(node, org, title, "video", &["集群"]).await
}

/// Anonymous search hits for `q` on `node`.
async fn hits(node: &TestApp, q: &str) -> Vec<String> {
    node.search(q).await["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_lesson_published_on_one_node_is_searchable_on_the_other_within_two_seconds() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    for (from, to, title, query) in [
        (0, 1, "光合作用与粮食安全", "光合作用"),
        (1, 0, "勾股定理的古今证明", "勾股定理"),
    ] {
        let (a, b) = (c.at(from), c.at(to));
        assert!(hits(&b, query).await.is_empty());
        let id = publish(&a, &c.root, title).await;
        let published = Instant::now();
        loop {
            if hits(&b, query).await.contains(&id) {
                break;
            }
            // The bound the deployment promises (each node's index follows the change log every
            // 200 ms); the time taken is printed either way.
            assert!(
                published.elapsed() < Duration::from_secs(2),
                "published on node {from}, not found on node {to} after {:?}",
                published.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!(
            "published on node {from}, found on node {to} after {:?}",
            published.elapsed()
        );
        // And on the node it was published through (whose index follows the same way).
        while !hits(&a, query).await.contains(&id) {
            assert!(
                published.elapsed() < Duration::from_secs(2),
                "not on node {from}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_resumable_upload_started_on_one_node_is_finished_on_the_other() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let (a, b) = (c.at(0), c.at(1));
    let client = reqwest::Client::new();
    let lesson = a.lesson("video").await;
    let data = mp4(12 * MIB + 5);
    let r = create(&client, &a.base, &c.token, &lesson, data.len(), "课.mp4").await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let path = r.headers()["location"].to_str().unwrap().to_owned();
    let r = patch(
        &client,
        &a.url(&path),
        &c.token,
        0,
        data[..5 * MIB].to_vec(),
        true,
    )
    .await;
    assert_eq!(r.status(), 204);
    // The other node knows the upload and where it stands.
    let r = head(&client, &b.url(&path), &c.token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["upload-offset"], (5 * MIB).to_string().as_str());
    let r = patch(
        &client,
        &b.url(&path),
        &c.token,
        5 * MIB,
        data[5 * MIB..10 * MIB].to_vec(),
        true,
    )
    .await;
    assert_eq!(r.status(), 204);
    // Back on the first node for the last piece.
    let r = patch(
        &client,
        &a.url(&path),
        &c.token,
        10 * MIB,
        data[10 * MIB..].to_vec(),
        true,
    )
    .await;
    assert_eq!(r.status(), 204);
    let asset = r.headers()["lectern-asset-id"].to_str().unwrap().to_owned();
    for node in [&a, &b] {
        assert_eq!(sha256_hex(&node.content(&asset).await), sha256_hex(&data));
    }
}

#[tokio::test]
async fn stopping_a_node_mid_upload_loses_nothing_committed() {
    let Some(mut c) = Cluster::start(&[("LECTERN_UPLOAD_LEASE_SECS", "2")]).await else {
        return;
    };
    let client = reqwest::Client::new();
    let (a, b) = (c.at(0), c.at(1));
    let lesson = a.lesson("video").await;
    let committed = publish(&a, &c.root, "数字乡村建设十讲").await;
    let data = mp4(14 * MIB + 1);
    let r = create(&client, &a.base, &c.token, &lesson, data.len(), "v.mp4").await;
    assert_eq!(r.status(), 201);
    let path = r.headers()["location"].to_str().unwrap().to_owned();
    let r = patch(
        &client,
        &a.url(&path),
        &c.token,
        0,
        data[..5 * MIB].to_vec(),
        true,
    )
    .await;
    assert_eq!(r.status(), 204);

    // The next piece is half sent to node A when A is killed.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    tx.unbounded_send(Ok(data[5 * MIB..7 * MIB].to_vec()))
        .unwrap();
    let in_flight = tokio::spawn(
        crate::tus::patch_request(&client, &a.url(&path), &c.token, 5 * MIB)
            .body(reqwest::Body::wrap_stream(rx))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.restart(0).await;
    drop(tx);
    let _ = in_flight.await;

    // Node B: what was committed through A is there (the lesson, the upload's committed
    // offset), and the upload is finished through B once A's lease on it has run out.
    assert_eq!(
        b.json(&format!("/api/v1/lessons/{committed}")).await["status"],
        "published"
    );
    let r = head(&client, &b.url(&path), &c.token).await;
    assert_eq!(r.status(), 200);
    let offset: usize = r.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        offset == 5 * MIB || offset == 7 * MIB,
        "resumes from a committed offset, got {offset}"
    );
    let asset = crate::tus::resume(&client, &b.url(&path), &c.token, &data, offset).await;
    // Both nodes (A restarted on its own folders) serve the same bytes.
    let a = c.at(0);
    for node in [&a, &b] {
        assert_eq!(sha256_hex(&node.content(&asset).await), sha256_hex(&data));
    }
}

#[tokio::test]
async fn scheduled_publications_and_webhook_deliveries_happen_once_across_nodes() {
    let fast = [
        ("LECTERN_SCHEDULER_INTERVAL_MS", "20"),
        ("LECTERN_JOB_POLL_MS", "20"),
    ];
    let Some(c) = Cluster::start(&fast).await else {
        return;
    };
    let (a, b) = (c.at(0), c.at(1));
    let (url, received) = counting_receiver().await;
    let r = a
        .post("/api/v1/platforms")
        .json(&json!({ "org_id": c.root, "name": "省电视台", "channel": "tv", "webhook_url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // Ten lessons published through either node, five more scheduled through either.
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(publish(&c.at(i % 2), &c.root, &format!("干部培训第{i}讲")).await);
    }
    let at = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1500);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut scheduled = Vec::new();
    for i in 0..5 {
        let node = c.at(i % 2);
        let r = node
            .post("/api/v1/lessons")
            .json(
                &json!({ "title": format!("定时发布第{i}讲"), "kind": "audio", "org_id": c.root }),
            )
            .send()
            .await
            .unwrap();
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = node
            .post(&format!("/api/v1/lessons/{id}/publish"))
            .json(&json!({ "at": at }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        scheduled.push(id);
    }
    let every: Vec<String> = ids.iter().chain(&scheduled).cloned().collect();
    let started = Instant::now();
    loop {
        let got: BTreeSet<String> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, lesson)| lesson.clone())
            .collect();
        if every.iter().all(|id| got.contains(id)) {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let mut states = Vec::new();
            for id in &scheduled {
                states.push(a.json(&format!("/api/v1/lessons/{id}")).await["status"].clone());
            }
            panic!(
                "not every publication was delivered: {} of {}; the scheduled ones are {states:?}",
                got.len(),
                every.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let both nodes' schedulers, followers and runners go on a while, then count.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = received.lock().unwrap().clone();
    let mut per_message: BTreeMap<&str, usize> = BTreeMap::new();
    for (message, _) in &received {
        *per_message.entry(message).or_default() += 1;
    }
    let twice: Vec<_> = per_message.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let changes = b.json("/api/v1/changes?limit=1000").await;
    for id in &every {
        let publishes = changes["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|ch| ch["lesson_id"] == id.as_str() && ch["op"] == "publish")
            .count();
        assert_eq!(publishes, 1, "lesson {id} published {publishes} times");
    }
    for id in &scheduled {
        let v = a.json(&format!("/api/v1/lessons/{id}")).await;
        assert_eq!(v["status"], "published");
        assert!(v["publish_at"].is_null());
    }
}

/// Deliveries received: (webhook-id, lesson id) of each POST, answered 204.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A webhook receiver on a free port that counts what arrives (the signature itself is checked
/// by the webhook tests).
async fn counting_receiver() -> (String, Received) {
    let received: Received = Default::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    let id = headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let lesson = v["data"]["lesson_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    store.lock().unwrap().push((id, lesson));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn a_platform_following_the_feed_through_alternating_nodes_misses_and_repeats_nothing() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let a = c.at(0);
    let r = a
        .post("/api/v1/platforms")
        .json(&json!({ "org_id": c.root, "name": "县级融媒体中心", "channel": "web" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let key = r.json::<Value>().await.unwrap()["key"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // Two editors publish through the two nodes at once while the platform pulls, each pull
    // through the other node than the last.
    let publishers: Vec<_> = (0..2)
        .map(|n| {
            let node = c.at(n);
            let root = c.root.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..15 {
                    ids.push(publish(&node, &root, &format!("节点{n}发布第{i}讲")).await);
                }
                ids
            })
        })
        .collect();
    let nodes = [c.at(0), c.at(1)];
    let mut cursor = String::new();
    let mut seen: Vec<String> = Vec::new();
    let mut pulls = 0usize;
    let mut pull = async |cursor: &mut String, seen: &mut Vec<String>| {
        let node = &nodes[pulls % 2];
        pulls += 1;
        let r = node
            .client
            .get(node.url("/api/v1/feed"))
            .bearer_auth(&key)
            .query(&[("cursor", cursor.as_str()), ("limit", "4")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let page: Value = r.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["op"], "upsert");
            seen.push(item["lesson_id"].as_str().unwrap().to_owned());
        }
        *cursor = page["cursor"].as_str().unwrap().to_owned();
        page["more"].as_bool().unwrap() || !page["items"].as_array().unwrap().is_empty()
    };
    while !publishers.iter().all(|p| p.is_finished()) {
        pull(&mut cursor, &mut seen).await;
    }
    let mut published = BTreeSet::new();
    for p in publishers {
        published.extend(p.await.unwrap());
    }
    // Then to the end, still alternating.
    while pull(&mut cursor, &mut seen).await {}
    let distinct: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), seen.len(), "a lesson came twice: {seen:?}");
    assert_eq!(distinct, published, "the platform missed lessons");
    assert!(pulls > 2);
}
