//! The feed's model test: random publications, updates, withdrawals, deletions, audience and
//! filter changes from several concurrent writers, while every platform pulls concurrently with
//! random page sizes and sometimes restarts from an older saved cursor (as a device that crashed
//! before saving its progress). At the end each platform's reconstructed set must equal what
//! `visibility::receives` says it receives — no missed upsert, no missed tombstone — and the
//! snapshot (the same rule in SQL) must agree, checksums included.

use crate::common::TestApp;
use crate::feed::{draft, platform, pull};
use lectern::domain::visibility;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const WRITERS: u64 = 3;
const OPS_PER_WRITER: usize = 700;
const LESSONS: usize = 60;
const TAGS: [&str; 4] = ["党史", "乡村振兴", "法治", "科技"];
const SERIES: [&str; 3] = ["S1", "S2", "S3"];

struct Org {
    id: String,
    path: String,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn random_tags(rng: &mut StdRng) -> Vec<&'static str> {
    TAGS.iter()
        .copied()
        .filter(|_| rng.random_bool(0.35))
        .collect()
}

fn random_filters(rng: &mut StdRng) -> Value {
    match rng.random_range(0..4) {
        0 => json!({}),
        1 => json!({ "kinds": [pick(rng, &["audio", "video"])] }),
        2 => json!({ "tags": [pick(rng, &TAGS)] }),
        _ => json!({ "series": [pick(rng, &SERIES)] }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_platform_ends_with_exactly_what_it_receives() {
    let app = Arc::new(TestApp::spawn().await);
    let tree = app.tree().await;
    let mut orgs = Vec::new();
    for id in [&tree.province, &tree.city, &tree.county, &tree.sibling_city] {
        let o = app.db().org(id).await.unwrap().unwrap();
        orgs.push(Org {
            id: o.id,
            path: o.path,
        });
    }
    let orgs = Arc::new(orgs);
    let mut rng = StdRng::seed_from_u64(20261128);
    // Platforms across the tree, some with filters.
    let mut platforms = Vec::new();
    for (i, org) in [2usize, 1, 3, 0, 1, 2].iter().enumerate() {
        let filters = if i % 2 == 0 {
            json!({})
        } else {
            random_filters(&mut rng)
        };
        let (id, key) = platform(&app, &orgs[*org].id, &format!("平台{i}"), filters).await;
        platforms.push((id, key, *org));
    }
    let platforms = Arc::new(platforms);
    // Lessons in random organisations.
    let mut lessons = Vec::new();
    for i in 0..LESSONS {
        let org = pick(&mut rng, &orgs[..]);
        let kind = pick(&mut rng, &["audio", "video", "document"]);
        let tags = random_tags(&mut rng);
        lessons.push(draft(&app, &org.id, &format!("第{i}讲"), kind, &tags).await);
    }
    let lessons = Arc::new(tokio::sync::Mutex::new(lessons));

    let stop = Arc::new(AtomicBool::new(false));
    let done_ops = Arc::new(AtomicUsize::new(0));
    // Writers.
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (app, orgs, platforms, lessons, done_ops) = (
            app.clone(),
            orgs.clone(),
            platforms.clone(),
            lessons.clone(),
            done_ops.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(1000 + w);
            for _ in 0..OPS_PER_WRITER {
                let id = { pick(&mut rng, &lessons.lock().await[..]).clone() };
                let op = rng.random_range(0..100);
                let r = match op {
                    0..=34 => app
                        .post(&format!("/api/v1/lessons/{id}/publish"))
                        .send()
                        .await
                        .unwrap(),
                    35..=44 => app
                        .post(&format!("/api/v1/lessons/{id}/withdraw"))
                        .send()
                        .await
                        .unwrap(),
                    45..=64 => {
                        let tags = random_tags(&mut rng);
                        let series = rng
                            .random_bool(0.7)
                            .then(|| pick(&mut rng, &SERIES).to_string());
                        app.patch(&format!("/api/v1/lessons/{id}"))
                            .json(&json!({ "tags": tags, "series": series }))
                            .send()
                            .await
                            .unwrap()
                    }
                    65..=79 => {
                        // A new audience inside the lesson's scope (its owner's subtree).
                        let Some(lesson) = app.db().lesson(&id).await.unwrap() else {
                            continue;
                        };
                        let inside: Vec<&Org> = orgs
                            .iter()
                            .filter(|o| o.path.starts_with(&lesson.scope_path))
                            .collect();
                        let body = match rng.random_range(0..4) {
                            0 | 3 => json!({}),
                            1 => json!({ "org_id": pick(&mut rng, &inside).id }),
                            _ => {
                                let named: Vec<&String> = platforms
                                    .iter()
                                    .filter(|(_, _, o)| {
                                        orgs[*o].path.starts_with(&lesson.scope_path)
                                    })
                                    .map(|(p, _, _)| p)
                                    .filter(|_| rng.random_bool(0.5))
                                    .collect();
                                json!({ "platforms": named })
                            }
                        };
                        app.client
                            .put(app.url(&format!("/api/v1/lessons/{id}/audience")))
                            .bearer_auth(&app.token)
                            .json(&body)
                            .send()
                            .await
                            .unwrap()
                    }
                    80..=87 => {
                        let (p, _, _) = pick(&mut rng, &platforms[..]);
                        app.patch(&format!("/api/v1/platforms/{p}"))
                            .json(&json!({ "filters": random_filters(&mut rng) }))
                            .send()
                            .await
                            .unwrap()
                    }
                    88..=90 => {
                        let r = app
                            .delete(&format!("/api/v1/lessons/{id}"))
                            .send()
                            .await
                            .unwrap();
                        lessons.lock().await.retain(|l| l != &id);
                        r
                    }
                    _ => {
                        let org = pick(&mut rng, &orgs[..]);
                        let kind = pick(&mut rng, &["audio", "video"]);
                        let tags = random_tags(&mut rng);
                        let new = draft(&app, &org.id, "新课", kind, &tags).await;
                        lessons.lock().await.push(new);
                        done_ops.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                let status = r.status().as_u16();
                // Deleted concurrently by another writer: 404 is a fair answer.
                assert!(
                    matches!(status, 200 | 201 | 204 | 404),
                    "op {op} on {id}: {status} {}",
                    r.text().await.unwrap()
                );
                done_ops.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Pullers: one per platform.
    let mut pullers = Vec::new();
    for (n, (_, key, _)) in platforms.iter().enumerate() {
        let (app, key, stop) = (app.clone(), key.clone(), stop.clone());
        pullers.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(5000 + n as u64);
            let mut held: BTreeMap<String, String> = BTreeMap::new();
            let mut cursor = String::new();
            let mut saved: Vec<(String, BTreeMap<String, String>)> = Vec::new();
            let (mut restarts, mut pulls) = (0, 0);
            loop {
                let finishing = stop.load(Ordering::Acquire);
                let page = pull(&app, &key, &cursor, rng.random_range(1..=30)).await;
                pulls += 1;
                for item in page["items"].as_array().unwrap() {
                    let id = item["lesson_id"].as_str().unwrap().to_owned();
                    if item["op"] == "upsert" {
                        held.insert(id, item["checksum"].as_str().unwrap().to_owned());
                    } else {
                        held.remove(&id);
                    }
                }
                cursor = page["cursor"].as_str().unwrap().to_owned();
                let idle = !page["more"].as_bool().unwrap()
                    && page["items"].as_array().unwrap().is_empty();
                if finishing && idle {
                    return (held, restarts, pulls);
                }
                if !finishing {
                    if rng.random_bool(0.1) {
                        saved.push((cursor.clone(), held.clone()));
                    }
                    if !saved.is_empty() && rng.random_bool(0.04) {
                        // A restart from a checkpoint taken some time ago.
                        let (c, h) = saved.swap_remove(rng.random_range(0..saved.len()));
                        cursor = c;
                        held = h;
                        restarts += 1;
                    }
                    if idle {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Release);
    let mut results = Vec::new();
    for p in pullers {
        results.push(p.await.unwrap());
    }
    let ops = done_ops.load(Ordering::Relaxed);
    assert!(
        ops >= WRITERS as usize * OPS_PER_WRITER * 9 / 10,
        "{ops} operations"
    );

    // What each platform receives, by the one rule, over every lesson there is.
    let all = app
        .db()
        .lessons(
            &visibility::ReadScope::Everything,
            &Default::default(),
            100_000,
        )
        .await
        .unwrap();
    let mut total_restarts = 0;
    let mut total_held = 0;
    for ((id, key, _), (held, restarts, pulls)) in platforms.iter().zip(results) {
        total_restarts += restarts;
        total_held += held.len();
        let record = app.db().platform(id).await.unwrap().unwrap();
        let caller = record.caller("model");
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|l| visibility::receives(&caller, l.access()))
            .map(|l| l.id.clone())
            .collect();
        let got: BTreeSet<String> = held.keys().cloned().collect();
        let missed_tombstones: Vec<_> = got.difference(&expected).collect();
        let missed_upserts: Vec<_> = expected.difference(&got).collect();
        assert!(
            missed_tombstones.is_empty() && missed_upserts.is_empty(),
            "platform {id} ({pulls} pulls, {restarts} restarts): missed tombstones \
             {missed_tombstones:?}, missed upserts {missed_upserts:?}"
        );
        // The snapshot, the same rule in SQL, agrees to the checksum.
        let mut snapshot = BTreeMap::new();
        let mut token = String::new();
        loop {
            let page: Value = app
                .client
                .get(app.url("/api/v1/feed/snapshot"))
                .bearer_auth(key)
                .query(&[("page_token", token.as_str()), ("limit", "7")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for item in page["items"].as_array().unwrap() {
                snapshot.insert(
                    item["lesson_id"].as_str().unwrap().to_owned(),
                    item["checksum"].as_str().unwrap().to_owned(),
                );
            }
            match page["next_page_token"].as_str() {
                Some(t) => token = t.to_owned(),
                None => break,
            }
        }
        assert_eq!(snapshot, held, "platform {id}: snapshot and feed disagree");
        eprintln!(
            "platform {id}: {} lessons, {pulls} pulls, {restarts} restarts",
            held.len()
        );
    }
    assert!(
        total_restarts > 0,
        "no puller ever restarted from a checkpoint"
    );
    assert!(
        total_held >= 20,
        "the platforms ended with only {total_held} lessons in all: too few to show anything"
    );
    let published = all
        .iter()
        .filter(|l| l.status == lectern::domain::lesson::LessonStatus::Published)
        .count();
    assert!(published > 5, "only {published} lessons ended published");
}
