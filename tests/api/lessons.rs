use crate::common::{TestApp, problem};
use serde_json::{Value, json};

#[tokio::test]
async fn lessons_are_created_read_updated_listed_and_deleted() {
    let t = TestApp::spawn().await;
    let r = t
        .post("/api/v1/lessons")
        .json(&json!({
            "title": " 党史学习教育专题讲座 ", "kind": "video", "tags": ["党史", "e支部", "党史"],
            "lecturer": "王老师", "series": "百年党史", "region_code": "110105",
            "recorded_on": "2021-07-01", "description": "第一讲\n导论"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["title"], "党史学习教育专题讲座");
    assert_eq!(created["tags"], json!(["党史", "e支部"]));
    assert_eq!(created["status"], "draft");
    assert_eq!(created["language"], "zh-CN");
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/lessons/{id}"));

    let r = t
        .patch(&location)
        .header("if-match", "\"v1\"")
        .json(&json!({ "title": "党史学习教育（修订）", "lecturer": null, "tags": ["党史"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["title"], "党史学习教育（修订）");
    assert_eq!(updated["lecturer"], Value::Null);
    assert_eq!(updated["series"], "百年党史", "absent fields are unchanged");
    assert_eq!(updated["version"], 2);

    // A stale version is refused and changes nothing.
    let r = t
        .patch(&location)
        .header("if-match", "\"v1\"")
        .json(&json!({ "title": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    problem(r).await;
    let now: Value = t.json(&location).await;
    assert_eq!(now["title"], "党史学习教育（修订）");

    let r = t.delete(&location).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(t.get(&location).send().await.unwrap().status(), 404);
    assert_eq!(t.delete(&location).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn invalid_lessons_get_a_problem_body_listing_every_field() {
    let t = TestApp::spawn().await;
    let r = t
        .post("/api/v1/lessons")
        .json(&json!({ "title": "", "kind": "film", "region_code": "990000", "recorded_on": "2021-02-30" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let p = problem(r).await;
    assert_eq!(p["code"], "invalid_request");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["title", "kind", "region_code", "recorded_on"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    // Malformed JSON, unknown fields and oversized bodies are client errors too.
    let r = t
        .post("/api/v1/lessons")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await["status"], 400);
    let r = t
        .post("/api/v1/lessons")
        .json(&json!({ "title": "a", "kind": "video", "owner": "me" }))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await["status"], 400);
    let huge = json!({ "title": "a", "kind": "video", "description": "字".repeat(600_000) });
    let r = t.post("/api/v1/lessons").json(&huge).send().await.unwrap();
    assert_eq!(problem(r).await["status"], 413);
    let r = t.get("/api/v1/lessons?limit=0").send().await.unwrap();
    assert_eq!(problem(r).await["status"], 400);
    let r = t.get("/api/v1/nothing-here").send().await.unwrap();
    assert_eq!(problem(r).await["code"], "not_found");
    let r = t.client.put(t.url("/api/v1/lessons")).send().await.unwrap();
    assert_eq!(problem(r).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn writes_need_a_valid_token_and_anonymous_readers_see_only_published_lessons() {
    let t = TestApp::spawn().await;
    let draft = t.lesson("video").await;
    let published = t.lesson("audio").await;
    let withdrawn = t.lesson("document").await;
    assert_eq!(
        t.post(&format!("/api/v1/lessons/{published}/publish"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        t.post(&format!("/api/v1/lessons/{withdrawn}/publish"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = t
        .post(&format!("/api/v1/lessons/{withdrawn}/withdraw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "withdrawn");

    // No token and a wrong token: 401 with a problem body, and nothing is created.
    let body = json!({ "title": "匿名", "kind": "video" });
    let r = t
        .client
        .post(t.url("/api/v1/lessons"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    problem(r).await;
    let r = t
        .client
        .post(t.url("/api/v1/lessons"))
        .bearer_auth("lct_wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await["code"], "unauthorized");
    let r = t.client.get(t.url("/api/v1/changes")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = t
        .client
        .get(t.url("/api/v1/lessons"))
        .bearer_auth("lct_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let anon: Value = t
        .client
        .get(t.url("/api/v1/lessons"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = anon["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![published.as_str()]);
    for hidden in [&draft, &withdrawn] {
        let r = t
            .client
            .get(t.url(&format!("/api/v1/lessons/{hidden}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            404,
            "an unpublished lesson does not exist for anonymous callers"
        );
    }
    let all: Value = t.json("/api/v1/lessons").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn lists_filter_by_kind_tag_and_region_subtree_and_page_with_a_cursor() {
    let t = TestApp::spawn().await;
    for (title, kind, tag, region) in [
        ("朝阳区讲座", "video", "党史", "110105"),
        ("海淀区讲座", "audio", "党史", "110108"),
        ("天津讲座", "video", "乡村振兴", "120101"),
        ("北京市讲座", "document", "乡村振兴", "110000"),
    ] {
        let r = t
            .post("/api/v1/lessons")
            .json(&json!({ "title": title, "kind": kind, "tags": [tag], "region_code": region }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let titles = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |q: &'static str| {
        let req = t.get(&format!("/api/v1/lessons?{q}"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(
        titles(get("kind=video").await),
        vec!["朝阳区讲座", "天津讲座"]
    );
    assert_eq!(
        titles(get("tag=%E4%B9%A1%E6%9D%91%E6%8C%AF%E5%85%B4").await),
        vec!["天津讲座", "北京市讲座"]
    );
    assert_eq!(
        titles(get("region=110000").await),
        vec!["朝阳区讲座", "海淀区讲座", "北京市讲座"]
    );
    assert_eq!(titles(get("region=110105").await), vec!["朝阳区讲座"]);
    let first = get("limit=3").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let rest: Value = t
        .json(&format!("/api/v1/lessons?limit=3&cursor={cursor}"))
        .await;
    assert_eq!(titles(rest.clone()), vec!["北京市讲座"]);
    assert!(rest["next_cursor"].is_null());
}

#[tokio::test]
async fn the_home_page_and_the_api_document_are_served() {
    let t = TestApp::spawn().await;
    t.lesson("video").await;
    let r = t.client.get(t.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Lectern") && html.contains("学习库"),
        "{html}"
    );
    let doc: Value = t
        .client
        .get(t.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/uploads/{id}"]["patch"].is_object());
    let ready = t.client.get(t.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// The API document must not promise routes that do not exist: every documented
/// path and method reaches a handler (not the 404 fallback, not 405).
#[tokio::test]
async fn every_documented_path_and_method_is_routed() {
    let t = TestApp::spawn().await;
    let doc: Value = t
        .client
        .get(t.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{role}", "editor")
            .replace("{org_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| m.as_str() != "parameters")
        {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = t
                .client
                .request(m, t.url(&concrete))
                .bearer_auth(&t.token)
                .header("tus-resumable", "1.0.0")
                .send()
                .await
                .unwrap();
            assert_ne!(r.status(), 405, "{method} {path}");
            if method == "head" {
                // HEAD has no body; the tus handler marks its answers, the fallback does not.
                assert!(r.headers().contains_key("tus-resumable"), "{method} {path}");
            } else if r.status() == 404 {
                let p = problem(r).await;
                assert_ne!(
                    p["detail"], "no such resource",
                    "{method} {path} is not routed"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 45, "only {checked} operations documented");
}

#[tokio::test]
async fn recorded_on_outside_1900_to_2100_is_refused() {
    let t = TestApp::spawn().await;
    for bad in [
        "-2024-01-01",
        "0000-01-01",
        "1899-12-31",
        "2101-01-01",
        "+2024-01-01",
    ] {
        let r = t
            .post("/api/v1/lessons")
            .json(&json!({ "title": "党课", "kind": "video", "recorded_on": bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let p = problem(r).await;
        assert_eq!(p["errors"][0]["field"], "recorded_on", "{bad}: {p}");
    }
    // The bounds themselves are dates a lesson can have, and an edit is held to the same rule.
    let id = t.lesson("video").await;
    for good in ["1900-01-01", "2100-12-31"] {
        let r = t
            .patch(&format!("/api/v1/lessons/{id}"))
            .json(&json!({ "recorded_on": good }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{good}: {}", r.text().await.unwrap());
    }
    let r = t
        .patch(&format!("/api/v1/lessons/{id}"))
        .json(&json!({ "recorded_on": "0000-01-01" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(problem(r).await["errors"][0]["field"], "recorded_on");
    assert_eq!(
        t.json(&format!("/api/v1/lessons/{id}")).await["recorded_on"],
        "2100-12-31"
    );
}
