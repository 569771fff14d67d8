//! The installation's search synonyms (issue 13): who may read and replace them, how a bad list
//! is refused, that a saved list is in force at once and audited, and the administrators' page.
//! What synonyms find is in the relevance suite (`search_relevance::TYPED_CASES`); here, that a
//! search finds nothing before and after the list.

use crate::common::{TestApp, problem};
use crate::fixtures::{PASSWORD, hidden};
use crate::search::indexed;
use serde_json::{Value, json};

async fn found(t: &TestApp, q: &str) -> Vec<String> {
    let v = t.search(q).await;
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn put(t: &TestApp, token: &str, body: Value) -> reqwest::Response {
    t.client
        .put(t.url("/api/v1/search/synonyms"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn synonyms_are_the_top_administrators_to_change_in_force_at_once_and_audited() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let city_admin = t
        .account("city-admin", &[("administrator", &tree.city)])
        .await;
    let editor = t.account("editor", &[("editor", &tree.province)]).await;
    let training = t
        .published(json!({ "title": "干部培训工作要点", "kind": "video", "tags": ["培训"] }))
        .await;
    indexed(&t).await;
    assert!(found(&t, "轮训").await.is_empty(), "no synonyms yet");

    // Only operators and administrators of a top-level organisation; nobody else sees them.
    let anonymous = t
        .client
        .get(t.url("/api/v1/search/synonyms"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let groups = json!({ "groups": [["轮训", "培训"]] });
    for who in [&city_admin, &editor] {
        let r = put(&t, &who.token, groups.clone()).await;
        assert_eq!(r.status(), 403, "{}", who.login);
        assert_eq!(problem(r).await["status"], 403);
        let r = t
            .client
            .get(t.url("/api/v1/search/synonyms"))
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{}", who.login);
    }
    assert!(
        found(&t, "轮训").await.is_empty(),
        "a refused list changes nothing"
    );

    // A bad list is refused whole, each fault named, and nothing of it is kept.
    let r = put(
        &t,
        &tree.root_admin.token,
        json!({ "groups": [["轮训", "培训"], ["孤词"], ["!!", "??"], ["x".repeat(41), "y"]] }),
    )
    .await;
    assert_eq!(r.status(), 400);
    let p = problem(r).await;
    let detail = p.to_string();
    for n in 2..=4 {
        assert!(detail.contains(&format!("group {n}:")), "{detail}");
    }
    assert!(!detail.contains("group 1:"), "{detail}");
    assert!(found(&t, "轮训").await.is_empty());
    for body in [
        json!({ "groups": "轮训" }),
        json!({ "groups": [], "extra": 1 }),
        json!({ "groups": [["a\u{0}b", "c"]] }),
    ] {
        let r = put(&t, &tree.root_admin.token, body).await;
        assert_eq!(r.status(), 400);
        assert_eq!(problem(r).await["status"], 400);
    }

    // Saved by the province's administrator: trimmed, repeats dropped, in force at once.
    let r = put(
        &t,
        &tree.root_admin.token,
        json!({ "groups": [[" 轮训 ", "培训", "轮训"]] }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved, json!({ "groups": [["轮训", "培训"]] }));
    assert_eq!(found(&t, "轮训").await, [training]);
    let listed: Value = t
        .client
        .get(t.url("/api/v1/search/synonyms"))
        .bearer_auth(&tree.root_admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, saved);
    // The matches are marked in the hit, the synonym too.
    let v: Value = t
        .client
        .get(t.url("/api/v1/search"))
        .query(&[("q", "轮训")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let title = v["hits"][0]["highlights"]["title"].as_str().unwrap();
    assert!(title.contains("<mark>培训</mark>"), "{title}");

    // Audited with the list before and after.
    let audit: Value = t.json("/api/v1/audit?action=synonyms.replace").await;
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit:#}");
    assert_eq!(entries[0]["actor_id"], tree.root_admin.id.as_str());
    assert_eq!(
        entries[0]["after"]["groups"], saved["groups"],
        "{:#}",
        entries[0]
    );
    assert_eq!(
        entries[0]["before"]["groups"],
        json!([]),
        "{:#}",
        entries[0]
    );

    // An empty list takes them away again.
    let r = put(&t, &tree.root_admin.token, json!({ "groups": [] })).await;
    assert_eq!(r.status(), 200);
    assert!(found(&t, "轮训").await.is_empty());
}

#[tokio::test]
async fn the_synonyms_page_shows_the_list_as_text_and_saves_it_with_csrf() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let admin = t.browser();
    assert_eq!(
        t.sign_in(&admin, "root-admin", PASSWORD).await.status(),
        303
    );
    let page = t.page(&admin, "/admin/synonyms").await;
    assert!(page.contains("检索同义词"), "{page}");
    let csrf = hidden(&page, "csrf").expect("the form has a csrf field");

    // Without the CSRF token nothing is saved.
    let r = admin
        .post(t.url("/admin/synonyms"))
        .form(&[("text", "轮训，培训")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let none: Value = t.json("/api/v1/search/synonyms").await;
    assert_eq!(none["groups"], json!([]));

    // A bad line is shown back with the text as typed and the reason.
    let r = admin
        .post(t.url("/admin/synonyms"))
        .form(&[("csrf", csrf.as_str()), ("text", "轮训，培训\n孤词")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("group 2:"), "{body}");
    assert!(
        body.contains("请求有误：同义词组"),
        "the error in Chinese on a Chinese page: {body}"
    );
    assert!(body.contains("孤词"), "the text is kept: {body}");
    let none: Value = t.json("/api/v1/search/synonyms").await;
    assert_eq!(none["groups"], json!([]));

    // Saved: any comma, one group per line; the page shows it back.
    let r = admin
        .post(t.url("/admin/synonyms"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("text", "轮训，培训、集训\r\n\r\n党课, 党员教育课\n"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/synonyms?saved=1");
    let saved: Value = t.json("/api/v1/search/synonyms").await;
    assert_eq!(
        saved["groups"],
        json!([["轮训", "培训", "集训"], ["党课", "党员教育课"]])
    );
    let page = t.page(&admin, "/admin/synonyms?saved=1").await;
    assert!(page.contains("已保存"), "{page}");
    assert!(page.contains("党课，党员教育课"), "{page}");
    assert!(
        page.contains("href=\"/admin/synonyms\""),
        "the navigation offers it"
    );

    // A city's administrator is not offered the page and is refused it.
    t.account("city-admin", &[("administrator", &tree.city)])
        .await;
    let city = t.browser();
    assert_eq!(t.sign_in(&city, "city-admin", PASSWORD).await.status(), 303);
    let jobs = t.page(&city, "/admin/jobs").await;
    assert!(!jobs.contains("href=\"/admin/synonyms\""));
    let r = city.get(t.url("/admin/synonyms")).send().await.unwrap();
    assert_eq!(r.status(), 403);
}
