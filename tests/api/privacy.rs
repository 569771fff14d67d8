//! Privacy of learning records: a lesson's editors and reviewers see counts of its learning,
//! never a member's record; an administrator anonymises a member, whose records stay (counted in
//! the reports) while the identity goes — the login, the name, every way to sign in, and the
//! platforms' statements' name for them. Both databases.

use crate::common::TestApp;
use crate::feed::{platform, published};
use crate::fixtures::PASSWORD;
use serde_json::{Value, json};

async fn statement(t: &TestApp, key: &str, login: &str, lesson: &str) -> reqwest::Response {
    t.client
        .post(t.url("/api/xapi/statements"))
        .bearer_auth(key)
        .header("X-Experience-API-Version", "1.0.3")
        .json(&json!({
            "actor": { "name": "张三", "account": { "homePage": t.url(""), "name": login } },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" },
            "object": { "id": t.url(&format!("/lessons/{lesson}")) },
            "result": { "duration": "PT5M" }
        }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_lessons_editors_and_reviewers_see_counts_and_no_member() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (_, key) = platform(&t, &tree.city, "市级平台", json!({})).await;
    let lesson = published(&t, &tree.city, "基层党建实务", "video", &[]).await;
    let a = t.account("privacy-a", &[("member", &tree.city)]).await;
    let b = t.account("privacy-b", &[("member", &tree.county)]).await;
    t.played_a_minute(&a.token, &lesson).await;
    t.played_a_minute(&b.token, &lesson).await;
    assert_eq!(
        statement(&t, &key, "privacy-a", &lesson).await.status(),
        200
    );
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    let reviewer = t
        .account("city-reviewer", &[("reviewer", &tree.city)])
        .await;
    for who in [&editor, &reviewer] {
        let r = t
            .r#as(who)
            .get(&format!("/api/v1/lessons/{lesson}/learning"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", who.login);
        let text = r.text().await.unwrap();
        // Counts only: no member's id or login.
        for secret in [&a.id, &b.id, &a.login, &b.login] {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["learners"], 2, "{v}");
        assert_eq!(v["completed"], 1, "{v}");
        assert_eq!(v["time_ms"], 60_000 + 60_000 + 300_000, "{v}");
        let platform = v["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source_name"] == "市级平台")
            .unwrap();
        assert_eq!(platform["learners"], 1);
        // Not the organisation's report: that is for administrators.
        let r = t
            .r#as(who)
            .get(&format!("/api/v1/orgs/{}/reports/2026-Q1", tree.city))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{}", who.login);
    }
    // A member, and an editor of another city, see no counts of it.
    let other = t
        .account("sibling-editor", &[("editor", &tree.sibling_city)])
        .await;
    for who in [&a, &other] {
        let r = t
            .r#as(who)
            .get(&format!("/api/v1/lessons/{lesson}/learning"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{}", who.login);
    }
}

#[tokio::test]
async fn an_anonymised_member_is_counted_but_no_longer_named_anywhere() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (_, key) = platform(&t, &tree.province, "省级平台", json!({})).await;
    let lesson = published(&t, &tree.province, "廉政教育", "video", &[]).await;
    let member = t
        .account("zhangsan-2026", &[("member", &tree.county)])
        .await;
    t.played_a_minute(&member.token, &lesson).await;
    assert_eq!(
        statement(&t, &key, "zhangsan-2026", &lesson).await.status(),
        200
    );
    let city_admin = t
        .account("city-admin-anon", &[("administrator", &tree.city)])
        .await;
    // Not by a member, not one's own.
    let r = t
        .r#as(&member)
        .post(&format!("/api/v1/users/{}/anonymise", city_admin.id))
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());
    let r = t
        .r#as(&city_admin)
        .post(&format!("/api/v1/users/{}/anonymise", city_admin.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = t
        .r#as(&city_admin)
        .post(&format!("/api/v1/users/{}/anonymise", member.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let login = v["login"].as_str().unwrap().to_owned();
    assert!(login.starts_with("anon-"), "{v}");
    assert_eq!(v["display_name"], "已匿名成员");
    // Every way in is gone: the token, the password.
    let r = t
        .r#as(&member)
        .get("/api/v1/me/learning")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let browser = t.browser();
    let r = t.sign_in(&browser, "zhangsan-2026", PASSWORD).await;
    let page = r.text().await.unwrap();
    assert!(page.contains("action=\"/login\""), "still a login form");
    // The platform's statements name the new login, and no longer the old one or the name.
    let xapi = |query: Vec<(&'static str, String)>| {
        t.client
            .get(t.url("/api/xapi/statements"))
            .bearer_auth(&key)
            .header("X-Experience-API-Version", "1.0.3")
            .query(&query)
            .send()
    };
    let old = json!({ "account": { "homePage": t.url(""), "name": "zhangsan-2026" } }).to_string();
    let found: Value = xapi(vec![("agent", old)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["statements"], json!([]), "{found}");
    let all: Value = xapi(vec![]).await.unwrap().json().await.unwrap();
    let text = all.to_string();
    assert!(
        !text.contains("zhangsan-2026") && !text.contains("张三"),
        "{text}"
    );
    assert_eq!(
        all["statements"][0]["actor"]["account"]["name"],
        json!(login)
    );
    // The records stay: the province's report counts the member, by the new login.
    lectern::services::reports::refresh(t.db(), lectern::db::now_ms())
        .await
        .unwrap();
    let quarter = lectern::domain::report::Quarter::of_ms(lectern::db::now_ms()).to_string();
    let report: Value = t
        .r#as(&tree.root_admin)
        .json(&format!("/api/v1/orgs/{}/reports/{quarter}", tree.province))
        .await;
    assert_eq!(report["total"]["active"], 1, "{report}");
    assert_eq!(report["total"]["completed"], 1, "{report}");
    // The step is audited by id only.
    let audit: Value = t
        .r#as(&tree.root_admin)
        .json("/api/v1/audit?action=user.anonymise")
        .await;
    let entry = &audit["items"][0];
    assert_eq!(entry["target_id"], json!(member.id), "{audit}");
    assert!(!entry.to_string().contains("zhangsan-2026"), "{entry}");
}
