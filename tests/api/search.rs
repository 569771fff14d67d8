//! Search (issue 3, first slice): the index follows the change log, Chinese words, substrings,
//! traditional characters and pinyin are found, and visibility is applied.

use crate::common::TestApp;
use serde_json::{Value, json};

/// Creates and publishes a lesson with the operator token; its id.
async fn published(t: &TestApp, body: Value) -> String {
    let r = t.post("/api/v1/lessons").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .post(&format!("/api/v1/lessons/{id}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    id
}

/// The ids found for `q` by an anonymous caller.
async fn found(t: &TestApp, q: &str) -> Vec<String> {
    let r = t
        .client
        .get(t.url("/api/v1/search"))
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{q}");
    let v: Value = r.json().await.unwrap();
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (bounded) until the text of every document and subtitle has been extracted (by the
/// job runner; that appends a change) and the index has caught up with everything committed.
pub(crate) async fn indexed(t: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (missing, _) = lectern::search::source::lessons_missing_text(t.db(), "", 100_000)
            .await
            .unwrap();
        let head: i64 = sqlx::query_scalar("SELECT seq FROM change_head WHERE id = 1")
            .fetch_one(t.db().pool())
            .await
            .unwrap();
        if missing.is_empty() && t.app().state().search.position().unwrap() >= head {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the index did not catch up (texts missing for {missing:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn chinese_words_substrings_traditional_characters_and_pinyin_are_found() {
    let t = TestApp::spawn().await;
    let bank = published(
        &t,
        json!({ "title": "中国农业发展银行支持乡村振兴", "kind": "video", "tags": ["金融"] }),
    )
    .await;
    let history = published(&t, json!({ "title": "党史学习教育专题讲座", "kind": "audio", "lecturer": "王教授", "tags": ["党史"], "description": "讲述黨組織在延安的歲月" })).await;
    let branch = published(
        &t,
        json!({ "title": "e支部使用指南（2021年版）", "kind": "document" }),
    )
    .await;
    let draft = {
        let r = t
            .post("/api/v1/lessons")
            .json(&json!({ "title": "党史草稿", "kind": "video" }))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    indexed(&t).await;

    assert_eq!(found(&t, "乡村振兴").await, vec![bank.clone()]);
    assert_eq!(
        found(&t, "农业").await,
        vec![bank.clone()],
        "a word inside a long word"
    );
    assert_eq!(
        found(&t, "银").await,
        vec![bank.clone()],
        "a single character"
    );
    assert_eq!(
        found(&t, "岁").await,
        vec![history.clone()],
        "a single character of a description only, written there in its traditional form"
    );
    assert!(found(&t, "党史").await.contains(&history));
    assert!(
        found(&t, "黨史").await.contains(&history),
        "traditional characters"
    );
    assert!(found(&t, "dangshi").await.contains(&history), "pinyin");
    assert!(found(&t, "ds").await.contains(&history), "initials");
    assert!(found(&t, "xiangcun").await.contains(&bank));
    assert_eq!(
        found(&t, "王教授").await,
        vec![history.clone()],
        "the lecturer"
    );
    assert_eq!(
        found(&t, "支部").await,
        vec![branch.clone()],
        "part of a mixed word"
    );
    assert_eq!(found(&t, "2021").await, vec![branch.clone()]);
    assert!(
        found(&t, "银行 党史").await.is_empty(),
        "every word must match"
    );
    // The draft is never shown to anonymous callers, but the operator sees it.
    assert!(!found(&t, "草稿").await.contains(&draft));
    let v: Value = t.json("/api/v1/search?q=草稿").await;
    assert_eq!(v["hits"][0]["id"], draft.as_str());

    // Withdrawn: gone from anonymous results once the index has followed.
    let r = t
        .post(&format!("/api/v1/lessons/{history}/withdraw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    indexed(&t).await;
    assert!(!found(&t, "党史").await.contains(&history));
    // Changed: found by the new words only.
    let r = t
        .patch(&format!("/api/v1/lessons/{bank}"))
        .json(&json!({ "title": "普惠金融服务" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    indexed(&t).await;
    assert!(found(&t, "农业").await.is_empty());
    assert_eq!(found(&t, "普惠").await, vec![bank]);
}

#[tokio::test]
async fn a_missing_index_is_rebuilt_from_sql_at_start_up() {
    let t = TestApp::spawn().await;
    let id = published(&t, json!({ "title": "基层治理现代化", "kind": "video" })).await;
    indexed(&t).await;
    let config = t.config.clone();
    let mut t = t;
    drop(t.app.take());
    std::fs::remove_dir_all(&config.index_dir).unwrap();
    t.app = Some(lectern::startup::Application::build(config).await.unwrap());
    t.base = format!("http://{}", t.app().addr());
    indexed(&t).await;
    assert_eq!(found(&t, "治理").await, vec![id]);
}

#[tokio::test]
async fn hostile_queries_get_results_or_a_clear_400() {
    let t = TestApp::spawn().await;
    published(&t, json!({ "title": "党课", "kind": "audio" })).await;
    indexed(&t).await;
    for q in [
        "\"党课",
        "*",
        "！？。，",
        "-",
        "\u{0}\u{7}党课",
        "((((",
        "AND OR NOT",
    ] {
        let r = t
            .client
            .get(t.url("/api/v1/search"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 200 || r.status() == 400,
            "{q:?}: {}",
            r.status()
        );
    }
    // 2,000 characters (18 KB percent-encoded): over the 8 KiB limit of any request target.
    let long = "党".repeat(2_000);
    let r = t
        .client
        .get(t.url("/api/v1/search"))
        .query(&[("q", &long)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);
    let r = t
        .client
        .get(t.url("/api/v1/search"))
        .query(&[("q", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = t
        .client
        .get(t.url("/api/v1/search"))
        .query(&[("q", "党"), ("kind", "film")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn filters_narrow_by_kind_tag_lecturer_series_and_region_subtree() {
    let t = TestApp::spawn().await;
    let tianhe = published(&t, json!({ "title": "基层党课：天河", "kind": "video", "tags": ["党课"], "lecturer": "李老师", "series": "基层讲堂", "region_code": "440106" })).await;
    let guangzhou = published(&t, json!({ "title": "基层党课：广州", "kind": "audio", "tags": ["党课", "广州"], "region_code": "440100" })).await;
    let shenzhen = published(&t, json!({ "title": "基层党课：深圳", "kind": "video", "tags": ["党课"], "region_code": "440300" })).await;
    indexed(&t).await;
    let search = |params: Vec<(&'static str, &'static str)>| {
        let t = &t;
        async move {
            let r = t
                .client
                .get(t.url("/api/v1/search"))
                .query(&params)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            let mut ids: Vec<String> = v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(search(vec![("q", "党课")]).await.len(), 3);
    assert_eq!(
        search(vec![("q", "党课"), ("kind", "video")]).await,
        sorted(vec![tianhe.clone(), shenzhen.clone()])
    );
    assert_eq!(
        search(vec![("q", "党课"), ("tag", "广州")]).await,
        vec![guangzhou.clone()]
    );
    assert_eq!(
        search(vec![("q", "党课"), ("lecturer", "李老师")]).await,
        vec![tianhe.clone()]
    );
    assert_eq!(
        search(vec![("q", "党课"), ("series", "基层讲堂")]).await,
        vec![tianhe.clone()]
    );
    // A city matches itself and its districts; the province everything in it.
    assert_eq!(
        search(vec![("q", "党课"), ("region", "440100")]).await,
        sorted(vec![tianhe.clone(), guangzhou.clone()])
    );
    assert_eq!(
        search(vec![("q", "党课"), ("region", "440000")])
            .await
            .len(),
        3
    );
    assert_eq!(
        search(vec![("q", "党课"), ("region", "440300")]).await,
        vec![shenzhen]
    );
    let r = t
        .client
        .get(t.url("/api/v1/search"))
        .query(&[("q", "党课"), ("region", "44")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
