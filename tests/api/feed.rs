//! Downstream platforms and their feed: registration and keys, what a platform receives
//! (scope, audience, named platforms, filters), tombstones, the snapshot, 410 for pruned
//! cursors, long polling and bad input.

use crate::common::{TestApp, problem, sha256_hex};
use crate::fixtures::Tree;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A platform registered by the operator token; its id and key.
pub async fn platform(app: &TestApp, org: &str, name: &str, filters: Value) -> (String, String) {
    let r = app
        .post("/api/v1/platforms")
        .json(&json!({ "org_id": org, "name": name, "channel": "web", "filters": filters }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["key"]["secret"].as_str().unwrap().to_owned(),
    )
}

/// Creates a lesson owned by `org` with the operator token and publishes it; its id.
pub async fn published(app: &TestApp, org: &str, title: &str, kind: &str, tags: &[&str]) -> String {
    let id = draft(app, org, title, kind, tags).await;
    publish(app, &id, json!({})).await;
    id
}

/// Creates a draft lesson owned by `org` with the operator token; its id.
pub async fn draft(app: &TestApp, org: &str, title: &str, kind: &str, tags: &[&str]) -> String {
    let r = app
        .post("/api/v1/lessons")
        .json(&json!({ "title": title, "kind": kind, "tags": tags, "org_id": org }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn publish(app: &TestApp, id: &str, body: Value) {
    let r = app
        .post(&format!("/api/v1/lessons/{id}/publish"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// `GET /api/v1/feed` with `key` (none when empty) and `query`.
pub async fn feed(app: &TestApp, key: &str, query: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(app.url("/api/v1/feed")).query(query);
    if !key.is_empty() {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// One pull of the feed with `key`.
pub async fn pull(app: &TestApp, key: &str, cursor: &str, limit: usize) -> Value {
    let r = feed(
        app,
        key,
        &[("cursor", cursor), ("limit", &limit.to_string())],
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// What a platform holds after following the feed from `cursor` to its end: lesson → checksum,
/// the items seen, and the cursor reached.
pub async fn follow(
    app: &TestApp,
    key: &str,
    cursor: &str,
    held: &mut BTreeMap<String, String>,
) -> (Vec<Value>, String) {
    let mut cursor = cursor.to_owned();
    let mut seen = Vec::new();
    loop {
        let page = pull(app, key, &cursor, 7).await;
        for item in page["items"].as_array().unwrap() {
            let id = item["lesson_id"].as_str().unwrap().to_owned();
            match item["op"].as_str().unwrap() {
                "upsert" => {
                    held.insert(id, item["checksum"].as_str().unwrap().to_owned());
                }
                "tombstone" => {
                    held.remove(&id);
                }
                other => panic!("unknown op {other}"),
            }
            seen.push(item.clone());
        }
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if !page["more"].as_bool().unwrap() && page["items"].as_array().unwrap().is_empty() {
            return (seen, cursor);
        }
    }
}

fn ops_for<'a>(items: &'a [Value], lesson: &str) -> Vec<&'a str> {
    items
        .iter()
        .filter(|i| i["lesson_id"] == lesson)
        .map(|i| i["op"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn platforms_are_registered_by_administrators_and_keys_rotate_without_downtime() {
    let app = TestApp::spawn().await;
    let Tree {
        city,
        county,
        sibling_city,
        ..
    } = app.tree().await;
    let city_admin = app.account("city-admin", &[("administrator", &city)]).await;
    let sibling_admin = app
        .account("sib-admin", &[("administrator", &sibling_city)])
        .await;
    let editor = app.account("city-editor", &[("editor", &city)]).await;
    // The city's administrator registers a platform for the county; the first key is shown once.
    let r = app
        .r#as(&city_admin)
        .post("/api/v1/platforms")
        .json(
            &json!({ "org_id": county, "name": "天河区融媒体中心", "channel": "tv",
                        "filters": { "kinds": ["video"] } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let key1 = created["key"]["secret"].as_str().unwrap().to_owned();
    assert!(key1.starts_with("lpk_"));
    assert_eq!(created["filters"]["kinds"], json!(["video"]));
    // The key is stored only as its hash.
    let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM platform_keys")
        .fetch_all(app.db().pool())
        .await
        .unwrap();
    assert!(stored.iter().all(|h| !h.contains(&key1[4..])));
    // Another city's administrator cannot see it; the city's editor sees it (to publish to it)
    // but may not change it.
    let r = app
        .r#as(&sibling_admin)
        .get(&format!("/api/v1/platforms/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let listed = app.r#as(&editor).json("/api/v1/platforms").await;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert!(listed["items"][0].get("keys").is_none());
    let r = app
        .r#as(&editor)
        .patch(&format!("/api/v1/platforms/{id}"))
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Cannot register above or beside one's own subtree.
    let r = app
        .r#as(&city_admin)
        .post("/api/v1/platforms")
        .json(&json!({ "org_id": sibling_city, "name": "x", "channel": "web" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Rotation: a second key works alongside the first; revoking the first refuses it at once.
    let r = app
        .r#as(&city_admin)
        .post(&format!("/api/v1/platforms/{id}/keys"))
        .json(&json!({ "name": "2027" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let k2: Value = r.json().await.unwrap();
    let key2 = k2["secret"].as_str().unwrap().to_owned();
    pull(&app, &key1, "", 10).await;
    pull(&app, &key2, "", 10).await;
    let first_key_id = created["key"]["id"].as_str().unwrap();
    let r = app
        .r#as(&city_admin)
        .delete(&format!("/api/v1/platforms/{id}/keys/{first_key_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = feed(&app, &key1, &[]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(problem(r).await["code"], "unauthorized");
    pull(&app, &key2, "", 10).await;
    // Disabling the platform stops every key.
    let r = app
        .r#as(&city_admin)
        .delete(&format!("/api/v1/platforms/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = feed(&app, &key2, &[]).await;
    assert_eq!(r.status(), 401);
    // Every step is in the audit log.
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE target_kind = 'platform' ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    for a in [
        "platform.create",
        "platform.key_create",
        "platform.key_revoke",
        "platform.disable",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn the_feed_follows_scope_audience_filters_and_withdrawals() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (county_p, county_key) = platform(&app, &tree.county, "天河", json!({})).await;
    let (_, sibling_key) = platform(&app, &tree.sibling_city, "深圳", json!({})).await;
    let (_, province_key) = platform(&app, &tree.province, "省台", json!({})).await;
    // Published by the city: its subtree (the county) receives it, the sibling city does not.
    let city_lesson = published(&app, &tree.city, "党史学习教育第一讲", "video", &["党史"]).await;
    // Named only for the county's platform.
    let named = draft(&app, &tree.province, "专供天河的音频课", "audio", &[]).await;
    publish(
        &app,
        &named,
        json!({ "audience": { "platforms": [county_p] } }),
    )
    .await;

    let mut county = BTreeMap::new();
    let (items, county_cursor) = follow(&app, &county_key, "", &mut county).await;
    assert_eq!(county.keys().cloned().collect::<Vec<_>>(), {
        let mut v = vec![city_lesson.clone(), named.clone()];
        v.sort();
        v
    });
    let upsert = items
        .iter()
        .find(|i| i["lesson_id"] == city_lesson.as_str())
        .unwrap();
    assert_eq!(upsert["lesson"]["title"], "党史学习教育第一讲");
    assert_eq!(upsert["lesson"]["tags"], json!(["党史"]));
    let mut sibling = BTreeMap::new();
    let (sibling_items, sibling_cursor) = follow(&app, &sibling_key, "", &mut sibling).await;
    assert!(
        sibling.is_empty() && sibling_items.is_empty(),
        "{sibling_items:?}"
    );
    let mut province = BTreeMap::new();
    let (_, province_cursor) = follow(&app, &province_key, "", &mut province).await;
    assert!(
        province.is_empty(),
        "the province is above the city's scope"
    );

    // A file added reaches the platform with its size, checksum and a presigned URL that works.
    let data = crate::common::mp4(4096);
    let r = app
        .upload(&city_lesson, "master", "第一讲.mp4", data.clone())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (items, county_cursor) = follow(&app, &county_key, &county_cursor, &mut county).await;
    assert_eq!(ops_for(&items, &city_lesson), vec!["upsert"]);
    let asset = &items[0]["lesson"]["assets"][0];
    assert_eq!(asset["size"], 4096);
    assert_eq!(asset["sha256"], sha256_hex(&data));
    let bytes = reqwest::get(asset["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256_hex(&bytes), sha256_hex(&data));

    // Filters: the county platform now wants audio only: the video goes as out_of_scope.
    let r = app
        .patch(&format!("/api/v1/platforms/{county_p}"))
        .json(&json!({ "filters": { "kinds": ["audio"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (items, county_cursor) = follow(&app, &county_key, &county_cursor, &mut county).await;
    let tomb = items
        .iter()
        .find(|i| i["lesson_id"] == city_lesson.as_str())
        .unwrap();
    assert_eq!(tomb["op"], "tombstone");
    assert_eq!(tomb["reason"], "out_of_scope");
    assert_eq!(county.keys().collect::<Vec<_>>(), vec![&named]);
    // And back.
    let r = app
        .patch(&format!("/api/v1/platforms/{county_p}"))
        .json(&json!({ "filters": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, county_cursor) = follow(&app, &county_key, &county_cursor, &mut county).await;
    assert_eq!(county.len(), 2);

    // Re-scoping the city's lesson to the province's whole tree is refused (never wider than
    // its scope); narrowing it to the county is fine, and the sibling still sees nothing.
    let r = app
        .client
        .put(app.url(&format!("/api/v1/lessons/{city_lesson}/audience")))
        .bearer_auth(&app.token)
        .json(&json!({ "org_id": tree.province }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(problem(r).await["errors"][0]["field"], "org_id");
    let r = app
        .client
        .put(app.url(&format!("/api/v1/lessons/{city_lesson}/audience")))
        .bearer_auth(&app.token)
        .json(&json!({ "org_id": tree.county }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Withdrawals reach the platform that had the lessons, as tombstones; the sibling city never
    // learns that these lessons existed, named-only or not.
    for id in [&city_lesson, &named] {
        let r = app
            .post(&format!("/api/v1/lessons/{id}/withdraw"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (items, _) = follow(&app, &county_key, &county_cursor, &mut county).await;
    assert!(county.is_empty(), "{county:?}");
    assert!(
        items
            .iter()
            .filter(|i| i["op"] == "tombstone")
            .all(|i| i["reason"] == "withdrawn")
    );
    let (sibling_items, _) = follow(&app, &sibling_key, &sibling_cursor, &mut sibling).await;
    assert!(sibling_items.is_empty(), "{sibling_items:?}");
    let (province_items, _) = follow(&app, &province_key, &province_cursor, &mut province).await;
    assert!(province_items.is_empty(), "{province_items:?}");

    // Replays are harmless: following again from the start ends in the same state.
    let mut again = BTreeMap::new();
    follow(&app, &county_key, "", &mut again).await;
    assert!(again.is_empty());
}

#[tokio::test]
async fn a_snapshot_then_the_feed_gives_the_same_set_and_old_cursors_get_410() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.city, "广州", json!({})).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(published(&app, &tree.city, &format!("第{i}讲"), "audio", &[]).await);
    }
    // The snapshot, two at a time.
    let mut snapshot: BTreeMap<String, String> = BTreeMap::new();
    let mut token = String::new();
    let cursor = loop {
        let r = app
            .client
            .get(app.url("/api/v1/feed/snapshot"))
            .bearer_auth(&key)
            .query(&[("page_token", token.as_str()), ("limit", "2")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            snapshot.insert(
                item["lesson_id"].as_str().unwrap().into(),
                item["checksum"].as_str().unwrap().into(),
            );
        }
        match page["next_page_token"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break page["cursor"].as_str().unwrap().to_owned(),
        }
    };
    ids.sort();
    assert_eq!(snapshot.keys().cloned().collect::<Vec<_>>(), ids);
    // The feed from the start agrees, checksums included.
    let mut fed = BTreeMap::new();
    follow(&app, &key, "", &mut fed).await;
    assert_eq!(fed, snapshot);
    // From the snapshot's cursor, only what changed after it comes.
    let r = app
        .patch(&format!("/api/v1/lessons/{}", ids[0]))
        .json(&json!({ "title": "第零讲（修订）" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (items, _) = follow(&app, &key, &cursor, &mut snapshot).await;
    assert_eq!(items.len(), 1);
    assert_ne!(
        snapshot[&ids[0]], fed[&ids[0]],
        "the checksum follows the content"
    );

    // Pruning the log: a cursor from before is answered 410 with the way out.
    let head = app.db().change_head().await.unwrap();
    app.db().prune_changes(head).await.unwrap();
    let r = feed(&app, &key, &[("cursor", cursor.as_str())]).await;
    assert_eq!(r.status(), 410);
    let p = problem(r).await;
    assert_eq!(p["code"], "gone");
    assert_eq!(p["snapshot"], "/api/v1/feed/snapshot");
    // A fresh snapshot gives a cursor that works.
    let r = app
        .client
        .get(app.url("/api/v1/feed/snapshot"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    pull(&app, &key, page["cursor"].as_str().unwrap(), 10).await;
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_something_arrives() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.county, "天河", json!({})).await;
    let (_, cursor) = follow(&app, &key, "", &mut BTreeMap::new()).await;
    // Nothing new: the poll waits, then answers empty with a cursor.
    let started = Instant::now();
    let r = feed(&app, &key, &[("cursor", cursor.as_str()), ("wait", "1")]).await;
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(900));
    let v: Value = r.json().await.unwrap();
    assert!(v["items"].as_array().unwrap().is_empty());
    // A poll open while a lesson is published returns with it, before its wait is over.
    let poll = {
        let (client, url, key, cursor) = (
            app.client.clone(),
            app.url("/api/v1/feed"),
            key.clone(),
            cursor.clone(),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let v: Value = client
                .get(url)
                .bearer_auth(key)
                .query(&[("cursor", cursor.as_str()), ("wait", "30")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (v, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Something not for this platform first: the poll keeps waiting.
    published(&app, &tree.sibling_city, "深圳的课", "video", &[]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = published(&app, &tree.county, "天河的课", "video", &[]).await;
    let (v, took) = poll.await.unwrap();
    assert_eq!(v["items"][0]["lesson_id"], id.as_str(), "{v}");
    // Once seen with two items under a full suite's load: say which, to find out why.
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    assert!(took < Duration::from_secs(25), "{took:?}");
}

#[tokio::test]
async fn the_feed_refuses_bad_input_and_other_callers_clearly() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.county, "天河", json!({})).await;
    for (query, field) in [
        (vec![("cursor", "garbage!")], "cursor"),
        (vec![("cursor", "MTotNQ")], "cursor"),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "5000")], "limit"),
        (vec![("wait", "3600")], "wait"),
    ] {
        let r = feed(&app, &key, &query).await;
        assert_eq!(r.status(), 400, "{query:?}");
        let p = problem(r).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let r = feed(&app, &key, &[("limit", "abc")]).await;
    assert_eq!(r.status(), 400);
    // A cursor ahead of the log (say, from another instance) is refused as gone.
    let ahead = base64_cursor(1_000_000);
    let r = feed(&app, &key, &[("cursor", ahead.as_str())]).await;
    assert_eq!(r.status(), 410);
    // No key, an unknown key, an operator token.
    let r = feed(&app, "", &[]).await;
    assert_eq!(r.status(), 401);
    let r = feed(&app, &format!("lpk_{}", "0".repeat(64)), &[]).await;
    assert_eq!(r.status(), 401);
    let r = app.get("/api/v1/feed").send().await.unwrap();
    assert_eq!(r.status(), 403);
    // Platform registration validates every field.
    let r = app
        .post("/api/v1/platforms")
        .json(
            &json!({ "org_id": tree.city, "name": "", "channel": "radio",
                        "filters": { "kinds": ["film"] }, "webhook_url": "ftp://x" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let fields: Vec<String> = problem(r).await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, vec!["name", "channel", "kinds", "webhook_url"]);
    // A platform key changes nothing.
    let r = app
        .client
        .post(app.url("/api/v1/lessons"))
        .bearer_auth(&key)
        .json(&json!({ "title": "x", "kind": "video" }))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 401 || r.status() == 403, "{}", r.status());
}

fn base64_cursor(seq: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("1:{seq}"))
}

#[tokio::test]
async fn moving_a_platforms_organisation_re_evaluates_what_it_receives() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.county, "天河", json!({})).await;
    let city_lesson = published(&app, &tree.city, "广州的课", "video", &[]).await;
    let sibling_lesson = published(&app, &tree.sibling_city, "深圳的课", "video", &[]).await;
    let mut held = BTreeMap::new();
    let (_, cursor) = follow(&app, &key, "", &mut held).await;
    assert_eq!(held.keys().collect::<Vec<_>>(), vec![&city_lesson]);
    // The county moves from the city to the sibling city: what it receives changes with it.
    let r = app
        .post(&format!("/api/v1/orgs/{}/move", tree.county))
        .json(&json!({ "parent_id": tree.sibling_city }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (items, _) = follow(&app, &key, &cursor, &mut held).await;
    assert_eq!(
        held.keys().collect::<Vec<_>>(),
        vec![&sibling_lesson],
        "{items:?}"
    );
    let tomb = items
        .iter()
        .find(|i| i["lesson_id"] == city_lesson.as_str())
        .unwrap();
    assert_eq!(tomb["reason"], "out_of_scope");
}

#[tokio::test]
async fn administrators_see_each_platforms_last_pull_and_lag_on_their_page() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.city, "广州<门户>", json!({ "tags": ["党史"] })).await;
    let (_, other) = platform(&app, &tree.sibling_city, "深圳门户", json!({})).await;
    published(&app, &tree.city, "一讲", "video", &["党史"]).await;
    let page = pull(&app, &key, "", 10).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let _ = other;
    // A city administrator sees the city's platform, not the sibling city's.
    app.account("city-admin", &[("administrator", &tree.city)])
        .await;
    let browser = app.browser();
    assert_eq!(
        app.sign_in(&browser, "city-admin", crate::fixtures::PASSWORD)
            .await
            .status(),
        303
    );
    // Pulls are written down every two seconds.
    let started = Instant::now();
    let html = loop {
        let html = browser
            .get(app.url("/admin/platforms"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !html.contains("从未") && !html.contains("never") {
            break html;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{html}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(html.contains("广州&lt;门户&gt;"), "escaped: {html}");
    assert!(!html.contains("深圳门户"));
    assert!(html.contains("党史"));
    let row = &html[html.find("class=\"lag\"").unwrap()..];
    assert!(row.starts_with("class=\"lag\">0<"), "{}", &row[..40]);
}

/// Runs `lectern <args>` (the real binary) against `app`'s database; its stdout.
async fn cli(app: &TestApp, args: &[&str]) -> String {
    let mut c = crate::common::command(&app.config);
    c.args(args);
    let out = crate::common::output(c).await;
    assert!(
        out.status.success(),
        "lectern {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_command_line_registers_platforms_rotates_keys_and_prunes_the_log() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let out = cli(
        &app,
        &[
            "platform",
            "create",
            "--org",
            &tree.city,
            "--name",
            "广州电视台",
            "--channel",
            "tv",
            "--kind",
            "video",
            "--webhook-url",
            "http://127.0.0.1:9/hook",
        ],
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].starts_with("webhook secret: whsec_"), "{out}");
    let key = lines.last().unwrap().to_string();
    let id = lines[0].split_whitespace().nth(2).unwrap().to_string();
    let lesson = published(&app, &tree.city, "一讲", "video", &[]).await;
    let page = pull(&app, &key, "", 10).await;
    assert_eq!(page["items"][0]["lesson_id"], lesson.as_str());
    // Rotation: a second key, then the first revoked.
    let key2 = cli(&app, &["platform", "key-create", &id, "--name", "2027"])
        .await
        .trim()
        .to_string();
    let keys = app.json(&format!("/api/v1/platforms/{id}")).await["keys"].clone();
    let first = keys[0]["id"].as_str().unwrap().to_string();
    cli(&app, &["platform", "key-revoke", &id, &first]).await;
    let r = feed(&app, &key, &[]).await;
    assert_eq!(r.status(), 401);
    pull(&app, &key2, "", 10).await;
    let listed = cli(&app, &["platform", "list"]).await;
    assert!(
        listed.contains("广州电视台") && listed.contains("enabled"),
        "{listed}"
    );
    // Pruning everything but the newest entry: the start of the log is gone (410), the end is not.
    let out = cli(
        &app,
        &["changes", "prune", "--older-than-days", "0", "--keep", "1"],
    )
    .await;
    assert!(out.starts_with("pruned "), "{out}");
    let r = feed(&app, &key2, &[]).await;
    assert_eq!(r.status(), 410);
    let head = app.db().change_head().await.unwrap();
    pull(&app, &key2, &base64_cursor(head - 1), 10).await;
    cli(&app, &["platform", "disable", &id]).await;
    let r = feed(&app, &key2, &[]).await;
    assert_eq!(r.status(), 401);
}

/// A pull that began before the platform's filters changed (its copy of the platform is older
/// than the change it reads) still judges the re-evaluation by the new filters.
#[tokio::test]
async fn a_pull_holding_an_older_copy_of_the_platform_uses_its_new_filters() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (id, key) = platform(&app, &tree.city, "广州", json!({})).await;
    let video = published(&app, &tree.city, "视频课", "video", &[]).await;
    let (_, cursor) = follow(&app, &key, "", &mut BTreeMap::new()).await;
    // The copy a request would have taken when it began.
    let stale = app.db().platform(&id).await.unwrap().unwrap().caller("k");
    let r = app
        .patch(&format!("/api/v1/platforms/{id}"))
        .json(&json!({ "filters": { "kinds": ["audio"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let feed = &app.app().state().hub.feed;
    let from = lectern::publish::feed::Cursor::decode(&cursor).unwrap();
    let page = feed.page(&stale, &from, 100).await.unwrap();
    let ops: Vec<(&str, lectern::publish::feed::ItemOp)> =
        page.items.iter().map(|i| (i.lesson_id(), i.op())).collect();
    assert_eq!(
        ops,
        vec![(video.as_str(), lectern::publish::feed::ItemOp::Tombstone)]
    );
}

#[tokio::test]
async fn a_page_names_each_lesson_once_even_across_its_read_batches() {
    // A page is read from the change log in batches of 500: a lesson changed at both ends of a
    // long page (or written while a long poll reads) must still come once, at its last change.
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.county, "天河", json!({})).await;
    let (_, cursor) = follow(&app, &key, "", &mut BTreeMap::new()).await;
    let id = published(&app, &tree.county, "天河的课", "video", &[]).await;
    for n in 0..520 {
        draft(
            &app,
            &tree.sibling_city,
            &format!("深圳草稿{n}"),
            "video",
            &[],
        )
        .await;
    }
    let r = app
        .client
        .put(app.url(&format!("/api/v1/lessons/{id}/audience")))
        .bearer_auth(&app.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let page = pull(&app, &key, &cursor, 1000).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(ops_for(items, &id), ["upsert"], "{page}");
    // The one item is the lesson's last change: nothing for it follows.
    let (rest, _) = follow(
        &app,
        &key,
        page["cursor"].as_str().unwrap(),
        &mut BTreeMap::new(),
    )
    .await;
    assert!(ops_for(&rest, &id).is_empty(), "{rest:?}");
}
