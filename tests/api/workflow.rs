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
