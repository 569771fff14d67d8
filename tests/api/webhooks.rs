//! Webhooks: signed POSTs to a real receiver in the test, which checks the Standard Webhooks
//! signature itself; retries after 500s; dead letters after the retry window; redelivery.

use crate::common::TestApp;
use crate::feed::{draft, publish, published};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Receiver {
    /// Verified deliveries: (webhook-id, body).
    received: Vec<(String, Value)>,
    /// Attempts per message id.
    attempts: HashMap<String, u32>,
    /// Fail this many attempts of each message with 500.
    fail_first: u32,
    /// Fail everything.
    down: bool,
    bad_signatures: u32,
}

type Shared = Arc<(Mutex<Receiver>, String)>;

/// Checks a Standard Webhooks signature the way a receiver would, from the secret alone.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let id = headers.get("webhook-id")?.to_str().ok()?;
    let ts = headers.get("webhook-timestamp")?.to_str().ok()?;
    let sigs = headers.get("webhook-signature")?.to_str().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    if (now - ts.parse::<i64>().ok()?).abs() > 300 {
        return None;
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_")?)
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    sigs.split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
        .then(|| id.to_owned())
}

async fn hook(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let (lock, secret) = &*shared;
    let mut r = lock.lock().unwrap();
    let Some(id) = verify(secret, &headers, &body) else {
        r.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    };
    let n = r.attempts.entry(id.clone()).or_default();
    *n += 1;
    let n = *n;
    if r.down || n <= r.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    r.received
        .push((id, serde_json::from_slice(&body).unwrap()));
    StatusCode::NO_CONTENT
}

/// A receiver on a free port that knows `secret` (set once the platform exists).
async fn receiver() -> (String, Arc<Mutex<Option<Shared>>>) {
    let slot: Arc<Mutex<Option<Shared>>> = Arc::new(Mutex::new(None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let s = slot.clone();
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let shared = s.lock().unwrap().clone();
                async move {
                    match shared {
                        Some(shared) => hook(State(shared), headers, body).await,
                        None => StatusCode::SERVICE_UNAVAILABLE,
                    }
                }
            }),
        );
        axum::serve(listener, app).await.unwrap();
    });
    (url, slot)
}

async fn platform_with_hook(app: &TestApp, org: &str, url: &str) -> (String, String) {
    let r = app
        .post("/api/v1/platforms")
        .json(&json!({ "org_id": org, "name": "电视台", "channel": "tv", "webhook_url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let secret = v["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (v["id"].as_str().unwrap().to_owned(), secret)
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn changes_arrive_signed_and_are_retried_after_failures() {
    let app = TestApp::spawn_with(|c| {
        c.webhook_backoff_ms = 50;
        c.webhook_retry_secs = 60;
    })
    .await;
    let tree = app.tree().await;
    let (url, slot) = receiver().await;
    let (pid, secret) = platform_with_hook(&app, &tree.county, &url).await;
    let state: Shared = Arc::new((
        Mutex::new(Receiver {
            fail_first: 2,
            ..Default::default()
        }),
        secret,
    ));
    *slot.lock().unwrap() = Some(state.clone());
    let id = published(&app, &tree.county, "防汛抗旱知识", "video", &["应急"]).await;
    let elsewhere = published(&app, &tree.sibling_city, "不属于这个平台", "video", &[]).await;
    wait_for("the upsert", || {
        !state.0.lock().unwrap().received.is_empty()
    })
    .await;
    let r = app
        .post(&format!("/api/v1/lessons/{id}/withdraw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for("the tombstone", || {
        state
            .0
            .lock()
            .unwrap()
            .received
            .iter()
            .any(|(_, b)| b["type"] == "lesson.removed")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let r = state.0.lock().unwrap();
        assert_eq!(r.bad_signatures, 0);
        // At least once: a change read while the lesson was still being written can be sent
        // twice, the same state under two change ids; receivers compare change_id.
        let mut events: Vec<(&str, &str)> = r
            .received
            .iter()
            .map(|(_, b)| {
                (
                    b["type"].as_str().unwrap(),
                    b["data"]["lesson_id"].as_str().unwrap(),
                )
            })
            .collect();
        events.dedup();
        assert_eq!(
            events,
            vec![
                ("lesson.upserted", id.as_str()),
                ("lesson.removed", id.as_str())
            ]
        );
        assert!(!events.iter().any(|(_, l)| *l == elsewhere));
        assert_eq!(r.received[0].1["data"]["lesson"]["title"], "防汛抗旱知识");
        // Each was answered 500 twice, then delivered on the third attempt under the same id.
        for (msg, _) in &r.received {
            assert_eq!(r.attempts[msg], 3, "{msg}");
        }
    }
    let done: Value = app
        .json(&format!("/api/v1/platforms/{pid}/deliveries?state=done"))
        .await;
    let attempts: Vec<i64> = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attempts"].as_i64().unwrap())
        .collect();
    assert!(
        attempts.len() >= 2 && attempts.iter().all(|a| *a == 3),
        "{attempts:?}"
    );
    let stats = app.json(&format!("/api/v1/platforms/{pid}")).await;
    assert_eq!(stats["stats"]["deliveries_failed"], 0);
}

#[tokio::test]
async fn deliveries_that_keep_failing_become_dead_letters_and_can_be_redelivered() {
    let app = TestApp::spawn_with(|c| {
        c.webhook_backoff_ms = 50;
        c.webhook_retry_secs = 2;
    })
    .await;
    let tree = app.tree().await;
    let (url, slot) = receiver().await;
    let (pid, secret) = platform_with_hook(&app, &tree.city, &url).await;
    let state: Shared = Arc::new((
        Mutex::new(Receiver {
            down: true,
            ..Default::default()
        }),
        secret,
    ));
    *slot.lock().unwrap() = Some(state.clone());
    let id = draft(&app, &tree.city, "乡村振兴讲座", "audio", &[]).await;
    publish(&app, &id, json!({})).await;
    // Retried with backoff for the whole window, then dead.
    let started = Instant::now();
    loop {
        let v = app
            .json(&format!("/api/v1/platforms/{pid}/deliveries?state=dead"))
            .await;
        if !v["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never dead");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let any other delivery of the same change (at least once) finish failing too.
    let started_wait = Instant::now();
    loop {
        let v = app
            .json(&format!("/api/v1/platforms/{pid}/deliveries?state=pending"))
            .await;
        if v["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(started_wait.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = app
        .json(&format!("/api/v1/platforms/{pid}/deliveries?state=dead"))
        .await;
    let dead_items = dead["items"].as_array().unwrap().clone();
    let d = &dead_items[0];
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "dead before its window"
    );
    assert!(d["attempts"].as_i64().unwrap() >= 3, "{d}");
    assert!(d["last_error"].as_str().unwrap().contains("500"), "{d}");
    assert_eq!(d["event"]["data"]["lesson_id"], id.as_str());
    let stats = app.json(&format!("/api/v1/platforms/{pid}")).await;
    assert_eq!(
        stats["stats"]["deliveries_failed"].as_u64().unwrap() as usize,
        dead_items.len()
    );
    assert!(
        dead_items
            .iter()
            .all(|x| x["event"]["data"]["lesson_id"] == id.as_str())
    );
    let tries_while_down = state.0.lock().unwrap().attempts.values().sum::<u32>();
    // The receiver comes back; an administrator redelivers by hand.
    state.0.lock().unwrap().down = false;
    for item in &dead_items {
        let delivery = item["id"].as_str().unwrap();
        let r = app
            .post(&format!(
                "/api/v1/platforms/{pid}/deliveries/{delivery}/redeliver"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    wait_for("the redeliveries", || {
        state.0.lock().unwrap().received.len() >= dead_items.len()
    })
    .await;
    {
        let r = state.0.lock().unwrap();
        let mut got: Vec<&str> = r.received.iter().map(|(m, _)| m.as_str()).collect();
        let mut sent: Vec<&str> = dead_items
            .iter()
            .map(|x| x["message_id"].as_str().unwrap())
            .collect();
        got.sort_unstable();
        sent.sort_unstable();
        assert_eq!(got, sent, "the same message ids");
        assert_eq!(
            r.attempts.values().sum::<u32>() as usize,
            tries_while_down as usize + dead_items.len()
        );
    }
    let v = app
        .json(&format!("/api/v1/platforms/{pid}/deliveries?state=dead"))
        .await;
    assert!(v["items"].as_array().unwrap().is_empty());
    // Redelivering what is not dead, or another platform's delivery, is a 404.
    let r = app
        .post(&format!(
            "/api/v1/platforms/{pid}/deliveries/nope/redeliver"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
