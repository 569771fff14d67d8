//! The review workflow end to end: draft → submitted → approved per level → published →
//! withdrawn, rejection with a comment, revisions of a live lesson, scheduled steps,
//! recommendation upward.

use crate::common::TestApp;
use crate::fixtures::{Account, As};
use serde_json::{Value, json};

async fn create(as_: &As<'_>, title: &str) -> String {
    let r = as_
        .post("/api/v1/lessons")
        .json(&json!({ "title": title, "kind": "video", "tags": ["党史"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn step(as_: &As<'_>, path: &str, body: Value) -> (u16, Value) {
    let r = as_.post(path).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_county_lesson_published_city_wide_needs_the_county_and_the_city_reviewer() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t
        .account("county-editor", &[("editor", &tree.county)])
        .await;
    let county_rev = t
        .account("county-reviewer", &[("reviewer", &tree.county)])
        .await;
    let city_rev = t
        .account("city-reviewer", &[("reviewer", &tree.city)])
        .await;
    let ed = t.r#as(&editor);
    let id = create(&ed, "天河区党史学习教育专题讲座").await;
    let r = ed
        .post(&format!("/api/v1/lessons/{id}/assets"))
        .query(&[("role", "master"), ("filename", "讲座.mp4")])
        .body(crate::common::mp4(4000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Anonymous readers do not see the draft.
    let r = t
        .client
        .get(t.url(&format!("/api/v1/lessons/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let (s, review) = step(
        &ed,
        &format!("/api/v1/lessons/{id}/submit"),
        json!({ "scope_org_id": tree.city }),
    )
    .await;
    assert_eq!(s, 200, "{review}");
    assert_eq!(review["state"], "submitted");
    assert_eq!(review["next_level"], tree.county.as_str());
    let revision = review["revision"].as_i64().unwrap();

    // The city reviewer's queue is empty until the county has approved.
    let queue = |a: &Account| {
        let a = a.clone();
        let t = &t;
        async move {
            let v: Value = t
                .r#as(&a)
                .get("/api/v1/review/queue")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["lesson_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(queue(&city_rev).await.is_empty());
    assert_eq!(queue(&county_rev).await, vec![id.clone()]);

    // Publishing before approval is refused.
    let (s, _) = step(&ed, &format!("/api/v1/lessons/{id}/publish"), json!({})).await;
    assert_eq!(s, 409);

    let (s, v) = step(
        &t.r#as(&county_rev),
        &format!("/api/v1/lessons/{id}/approve"),
        json!({ "revision": revision }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "submitted");
    assert_eq!(v["next_level"], tree.city.as_str());
    assert_eq!(queue(&city_rev).await, vec![id.clone()]);
    assert!(queue(&county_rev).await.is_empty());

    let (s, v) = step(
        &t.r#as(&city_rev),
        &format!("/api/v1/lessons/{id}/approve"),
        json!({ "revision": revision }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "approved");

    let (s, v) = step(&ed, &format!("/api/v1/lessons/{id}/publish"), json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "published");
    assert_eq!(v["scope_org_id"], tree.city.as_str());
    let r = t
        .client
        .get(t.url(&format!("/api/v1/lessons/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Every step is in the audit log the province administrator reads.
    let audit: Value = t
        .r#as(&tree.root_admin)
        .get("/api/v1/audit?limit=500")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_id"] == id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "lesson.create",
        "lesson.submit",
        "lesson.approve",
        "lesson.publish",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| **a == "lesson.approve").count(),
        2
    );
}

#[tokio::test]
async fn a_rejection_goes_back_to_the_editor_with_the_reviewers_comment() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("editor1", &[("editor", &tree.county)]).await;
    let reviewer = t.account("reviewer1", &[("reviewer", &tree.county)]).await;
    let (ed, rev) = (t.r#as(&editor), t.r#as(&reviewer));
    let id = create(&ed, "基层党组织建设").await;
    let (s, v) = step(&ed, &format!("/api/v1/lessons/{id}/submit"), json!({})).await;
    assert_eq!(s, 200, "{v}");
    let revision = v["revision"].as_i64().unwrap();

    // A submitted revision cannot be edited.
    let r = ed
        .patch(&format!("/api/v1/lessons/{id}"))
        .json(&json!({ "title": "改" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // Rejecting needs a comment; a stale revision number is refused.
    let (s, _) = step(
        &rev,
        &format!("/api/v1/lessons/{id}/reject"),
        json!({ "revision": revision }),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = step(
        &rev,
        &format!("/api/v1/lessons/{id}/reject"),
        json!({ "revision": revision + 7, "comment": "x" }),
    )
    .await;
    assert_eq!(s, 409);
    let (s, v) = step(
        &rev,
        &format!("/api/v1/lessons/{id}/reject"),
        json!({ "revision": revision, "comment": "标题请写完整的时间和地点" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "rejected");

    let revs: Value = ed
        .get(&format!("/api/v1/lessons/{id}/revisions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = revs["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["state"], "rejected");
    assert_eq!(last["comment"], "标题请写完整的时间和地点");

    // The editor fixes it, resubmits, and it can be approved and published.
    let r = ed
        .patch(&format!("/api/v1/lessons/{id}"))
        .json(&json!({ "title": "基层党组织建设（2026年11月·天河）" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = step(&ed, &format!("/api/v1/lessons/{id}/submit"), json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["revision"].as_i64().unwrap(),
        revision,
        "the rejected revision is reworked, not copied"
    );
    let (s, v) = step(
        &rev,
        &format!("/api/v1/lessons/{id}/approve"),
        json!({ "revision": revision }),
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("approved")), "{v}");
    let (s, v) = step(&rev, &format!("/api/v1/lessons/{id}/publish"), json!({})).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("published")), "{v}");
    assert_eq!(v["title"], "基层党组织建设（2026年11月·天河）");
}

#[tokio::test]
async fn editing_a_published_lesson_makes_a_revision_that_is_reviewed_while_the_old_one_stays_live()
{
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("editor1", &[("editor", &tree.county)]).await;
    let reviewer = t.account("reviewer1", &[("reviewer", &tree.county)]).await;
    let (ed, rev) = (t.r#as(&editor), t.r#as(&reviewer));
    let id = create(&ed, "第一版标题").await;
    t.through_review(&editor, &reviewer, &id).await;

    let r = ed
        .patch(&format!("/api/v1/lessons/{id}"))
        .json(&json!({ "title": "第二版标题", "tags": ["党史", "新增"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The public still sees version one.
    let public: Value = t
        .client
        .get(t.url(&format!("/api/v1/lessons/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["title"], "第一版标题");
    assert_eq!(public["status"], "published");

    let states = ed.revision_states(&id).await;
    assert_eq!(states, vec!["published", "draft"]);
    let cmp: Value = ed
        .get(&format!(
            "/api/v1/lessons/{id}/revisions/compare?from=1&to=2"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fields: Vec<&str> = cmp["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields.len(), 2, "{cmp}");
    assert!(
        fields.contains(&"title") && fields.contains(&"tags"),
        "{cmp}"
    );
    // Anonymous callers and members see no revisions (anonymous callers are asked to sign in,
    // as on every staff endpoint).
    let r = t
        .client
        .get(t.url(&format!("/api/v1/lessons/{id}/revisions")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let (_, v) = step(&ed, &format!("/api/v1/lessons/{id}/submit"), json!({})).await;
    assert_eq!(v["revision"], 2);
    let (s, _) = step(
        &rev,
        &format!("/api/v1/lessons/{id}/approve"),
        json!({ "revision": 2 }),
    )
    .await;
    assert_eq!(s, 200);
    let public: Value = t
        .client
        .get(t.url(&format!("/api/v1/lessons/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        public["title"], "第一版标题",
        "approval alone does not change the live lesson"
    );
    let (s, v) = step(&ed, &format!("/api/v1/lessons/{id}/publish"), json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(v["title"], "第二版标题");
    let states = ed.revision_states(&id).await;
    assert_eq!(states, vec!["superseded", "published"]);

    // The change log shows the live change as an update of a published lesson.
    let changes: Value = t.json("/api/v1/changes?limit=1000").await;
    let ops: Vec<&str> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["lesson_id"] == id.as_str())
        .map(|c| c["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, vec!["create", "publish", "update"]);

    // A published lesson's files are frozen for editors.
    let r = t
        .r#as(&editor)
        .post(&format!("/api/v1/lessons/{id}/assets"))
        .query(&[("role", "master"), ("filename", "a.mp4")])
        .body(crate::common::mp4(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn scheduled_publication_fires_once_even_with_two_instances_on_one_database() {
    // Two service instances share one database (and one object store) and both run the
    // scheduler every 20 ms; the publication must happen exactly once.
    let t = TestApp::spawn_with(|c| c.scheduler_interval_ms = 20).await;
    // Same database, same data folder (an embedded S3 endpoint of its own on the same files).
    let mut second_config = t.config.clone();
    second_config.bind = "127.0.0.1:0".into();
    // Each instance keeps its own search index.
    second_config.index_dir = t.dir.path().join("index-2");
    let second = lectern::startup::Application::build(second_config)
        .await
        .expect("second instance");

    let tree = t.tree().await;
    let editor = t.account("editor1", &[("editor", &tree.county)]).await;
    let reviewer = t.account("reviewer1", &[("reviewer", &tree.county)]).await;
    let (ed, rev) = (t.r#as(&editor), t.r#as(&reviewer));
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = create(&ed, &format!("定时发布 {i}")).await;
        let (_, v) = step(&ed, &format!("/api/v1/lessons/{id}/submit"), json!({})).await;
        let (s, _) = step(
            &rev,
            &format!("/api/v1/lessons/{id}/approve"),
            json!({ "revision": v["revision"] }),
        )
        .await;
        assert_eq!(s, 200);
        ids.push(id);
    }
    // Scheduling needs an approved revision and a time in the future.
    let draft = create(&ed, "未审核").await;
    let at = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1500);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (s, _) = step(
        &ed,
        &format!("/api/v1/lessons/{draft}/publish"),
        json!({ "at": at }),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = step(
        &ed,
        &format!("/api/v1/lessons/{}/publish", ids[0]),
        json!({ "at": "tomorrow" }),
    )
    .await;
    assert_eq!(s, 400);
    for id in &ids {
        let (s, v) = step(
            &ed,
            &format!("/api/v1/lessons/{id}/publish"),
            json!({ "at": at }),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "draft");
        assert!(v["publish_at"].is_string());
    }
    // Wait (bounded) until every lesson is published.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut done = 0;
        for id in &ids {
            let v: Value = t.json(&format!("/api/v1/lessons/{id}")).await;
            if v["status"] == "published" {
                assert!(v["publish_at"].is_null());
                done += 1;
            }
        }
        if done == ids.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "scheduled publications did not happen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Let both schedulers run a while longer, then count.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let changes: Value = t.json("/api/v1/changes?limit=1000").await;
    let audit: Value = t
        .r#as(&tree.root_admin)
        .get("/api/v1/audit?limit=500&action=lesson.publish")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for id in &ids {
        let publishes = changes["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["lesson_id"] == id.as_str() && c["op"] == "publish")
            .count();
        assert_eq!(publishes, 1, "lesson {id} published {publishes} times");
        let audited = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target_id"] == id.as_str())
            .count();
        assert_eq!(audited, 1);
    }
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "scheduler")
    );
    drop(second);
}

#[tokio::test]
async fn scheduled_withdrawal_takes_a_lesson_down_and_can_be_cancelled() {
    let t = TestApp::spawn_with(|c| c.scheduler_interval_ms = 20).await;
    let a = t.lesson("audio").await;
    let b = t.lesson("audio").await;
    for id in [&a, &b] {
        let r = t
            .post(&format!("/api/v1/lessons/{id}/publish"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let at = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(800);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for id in [&a, &b] {
        let r = t
            .post(&format!("/api/v1/lessons/{id}/withdraw"))
            .json(&json!({ "at": at }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = t
        .post(&format!("/api/v1/lessons/{b}/withdraw"))
        .json(&json!({ "at": null }))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v["withdraw_at"].is_null(), "{v}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while t.json(&format!("/api/v1/lessons/{a}")).await["status"] != "withdrawn" {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled withdrawal did not happen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        t.json(&format!("/api/v1/lessons/{b}")).await["status"],
        "published"
    );
}

#[tokio::test]
async fn a_county_recommends_upward_and_the_city_adopts_or_declines() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t
        .account(
            "editor1",
            &[("editor", &tree.county), ("reviewer", &tree.county)],
        )
        .await;
    let city_rev = t.account("city-rev", &[("reviewer", &tree.city)]).await;
    let other = t
        .account("other-rev", &[("reviewer", &tree.sibling_city)])
        .await;
    let (ed, city) = (t.r#as(&editor), t.r#as(&city_rev));
    // Approving one's own submission is forbidden by default; a county with self-approval on
    // (set by the city's administrator above it) allows it.
    let r = t
        .patch(&format!("/api/v1/orgs/{}", tree.county))
        .json(&json!({ "self_approval": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut ids = Vec::new();
    for title in ["优秀微党课：红色家书", "优秀微党课：村史馆"] {
        let id = create(&ed, title).await;
        let (_, v) = step(&ed, &format!("/api/v1/lessons/{id}/submit"), json!({})).await;
        let (s, v) = step(
            &ed,
            &format!("/api/v1/lessons/{id}/approve"),
            json!({ "revision": v["revision"] }),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (s, _) = step(&ed, &format!("/api/v1/lessons/{id}/publish"), json!({})).await;
        assert_eq!(s, 200);
        ids.push(id);
    }
    let mut recs = Vec::new();
    for id in &ids {
        let (s, v) = step(
            &ed,
            &format!("/api/v1/lessons/{id}/recommend"),
            json!({ "note": "推荐全市学习" }),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["to_org_id"], tree.city.as_str());
        recs.push(v["id"].as_str().unwrap().to_owned());
    }
    let (s, _) = step(
        &ed,
        &format!("/api/v1/lessons/{}/recommend", ids[0]),
        json!({ "note": "again" }),
    )
    .await;
    assert_eq!(
        s, 409,
        "a second pending recommendation to the same place is refused"
    );

    let pending: Value = city
        .get("/api/v1/recommendations?state=pending")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["items"].as_array().unwrap().len(), 2);
    let none: Value = t
        .r#as(&other)
        .get("/api/v1/recommendations")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(none["items"].as_array().unwrap().is_empty());
    let (s, _) = step(
        &t.r#as(&other),
        &format!("/api/v1/recommendations/{}/adopt", recs[0]),
        json!({}),
    )
    .await;
    assert_eq!(s, 403);
    // The city reviewer cannot widen beyond where they review.
    let (s, _) = step(
        &city,
        &format!("/api/v1/recommendations/{}/adopt", recs[0]),
        json!({ "scope_org_id": tree.province }),
    )
    .await;
    assert_eq!(s, 403);

    let (s, v) = step(
        &city,
        &format!("/api/v1/recommendations/{}/adopt", recs[0]),
        json!({ "comment": "采纳" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "adopted");
    let lesson: Value = t.json(&format!("/api/v1/lessons/{}", ids[0])).await;
    assert_eq!(lesson["scope_org_id"], tree.city.as_str());
    assert_eq!(
        lesson["org_id"],
        tree.county.as_str(),
        "an adopted lesson keeps its origin"
    );
    let (s, _) = step(
        &city,
        &format!("/api/v1/recommendations/{}/adopt", recs[0]),
        json!({}),
    )
    .await;
    assert_eq!(s, 409);

    let (s, _) = step(
        &city,
        &format!("/api/v1/recommendations/{}/decline", recs[1]),
        json!({ "comment": "" }),
    )
    .await;
    assert_eq!(s, 400);
    let (s, v) = step(
        &city,
        &format!("/api/v1/recommendations/{}/decline", recs[1]),
        json!({ "comment": "内容与全市专题重复" }),
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("declined")), "{v}");
    let lesson: Value = t.json(&format!("/api/v1/lessons/{}", ids[1])).await;
    assert_eq!(
        lesson["scope_org_id"],
        tree.county.as_str(),
        "a declined lesson keeps its scope"
    );
}

#[tokio::test]
async fn concurrent_decisions_on_one_level_let_exactly_one_through() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("editor1", &[("editor", &tree.county)]).await;
    let mut reviewers = Vec::new();
    for i in 0..6 {
        reviewers.push(
            t.account(&format!("reviewer{i}"), &[("reviewer", &tree.county)])
                .await,
        );
    }
    let ed = t.r#as(&editor);
    let id = create(&ed, "并发审核").await;
    let (_, v) = step(&ed, &format!("/api/v1/lessons/{id}/submit"), json!({})).await;
    let revision = v["revision"].clone();
    let results = futures::future::join_all(reviewers.iter().enumerate().map(|(i, r)| {
        let (t, id, revision) = (&t, id.clone(), revision.clone());
        async move {
            let as_ = t.r#as(r);
            // Half approve, half reject: whichever commits first decides.
            let (path, body) = if i % 2 == 0 {
                ("approve", json!({ "revision": revision }))
            } else {
                (
                    "reject",
                    json!({ "revision": revision, "comment": "不通过" }),
                )
            };
            step(&as_, &format!("/api/v1/lessons/{id}/{path}"), body)
                .await
                .0
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|s| **s == 200).count(),
        1,
        "{results:?}"
    );
    assert!(
        results.iter().all(|s| *s == 200 || *s == 409),
        "{results:?}"
    );
    let revs: Value = ed
        .get(&format!("/api/v1/lessons/{id}/revisions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = &revs["items"].as_array().unwrap()[0];
    assert!(
        last["state"] == "approved" || last["state"] == "rejected",
        "{last}"
    );
    let approvals = last["approvals"].as_array().unwrap().len();
    assert_eq!(approvals, usize::from(last["state"] == "approved"));
}
