use crate::common::TestApp;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[tokio::test]
async fn every_write_appends_to_the_change_log_in_order() {
    let t = TestApp::spawn().await;
    let id = t.lesson("video").await;
    t.post(&format!("/api/v1/lessons/{id}/publish"))
        .send()
        .await
        .unwrap();
    t.post(&format!("/api/v1/lessons/{id}/publish"))
        .send()
        .await
        .unwrap(); // no change, no entry
    let asset: Value = t
        .upload(&id, "master", "v.mp4", crate::common::mp4(1000))
        .await
        .json()
        .await
        .unwrap();
    t.delete(&format!("/api/v1/assets/{}", asset["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    t.patch(&format!("/api/v1/lessons/{id}"))
        .json(&json!({ "title": "新标题" }))
        .send()
        .await
        .unwrap();
    t.post(&format!("/api/v1/lessons/{id}/withdraw"))
        .send()
        .await
        .unwrap();
    t.delete(&format!("/api/v1/lessons/{id}"))
        .send()
        .await
        .unwrap();
    let log: Value = t.json("/api/v1/changes?limit=100").await;
    let ops: Vec<String> = log["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["entity"].as_str().unwrap(),
                c["op"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            "lesson create",
            "lesson publish",
            "asset create",
            "asset delete",
            "lesson update",
            "lesson withdraw",
            "lesson delete"
        ]
    );
    let after_two: Value = t.json("/api/v1/changes?after=2&limit=2").await;
    assert_eq!(after_two["changes"][0]["cursor"], "3");
    assert_eq!(after_two["next"], "4");
    let end: Value = t.json("/api/v1/changes?after=7").await;
    assert_eq!(end["changes"], json!([]));
    assert_eq!(end["next"], "7");
    let r = t.get("/api/v1/changes?after=abc").send().await.unwrap();
    assert_eq!(r.status(), 400);
}

/// Many writers commit concurrently while a reader follows the log with its cursor. The reader
/// must see every entry exactly once, in order, with no gap: an entry that commits late must
/// never be skipped by a cursor that moved past it.
#[tokio::test]
async fn a_reader_following_the_log_never_skips_an_entry_under_concurrent_writers() {
    const WRITERS: usize = 8;
    const EACH: usize = 40;
    let t = Arc::new(TestApp::spawn().await);
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let (t, done) = (t.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = "0".to_owned();
            let mut seen: Vec<i64> = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page: Value = t
                    .json(&format!("/api/v1/changes?after={cursor}&limit=37"))
                    .await;
                let changes = page["changes"].as_array().unwrap();
                seen.extend(
                    changes
                        .iter()
                        .map(|c| c["cursor"].as_str().unwrap().parse::<i64>().unwrap()),
                );
                cursor = page["next"].as_str().unwrap().to_owned();
                if finished && changes.is_empty() {
                    return seen;
                }
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let t = t.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                let r = t
                    .post("/api/v1/lessons")
                    .json(&json!({ "title": format!("并发写入 {w}-{i}"), "kind": "audio", "tags": ["并发"] }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut created = HashSet::new();
    for w in writers {
        created.extend(w.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let expected: Vec<i64> = (1..=(WRITERS * EACH) as i64).collect();
    assert_eq!(
        seen, expected,
        "the reader saw every position once, in order"
    );
    let log = t.db().changes_after(0, 10_000).await.unwrap();
    let logged: HashSet<String> = log.into_iter().map(|c| c.lesson_id).collect();
    assert_eq!(logged, created);
}
