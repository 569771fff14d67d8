//! Completion rules: an organisation requires a series of its members; each member's archive
//! and the organisation's report show the rule as done or missing, on every channel. Both
//! databases.

use crate::common::TestApp;
use crate::feed::platform;
use serde_json::{Value, json};

#[tokio::test]
async fn a_required_series_is_done_or_missing_in_the_archive_and_the_report() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (_, key) = platform(&t, &tree.province, "省级平台", json!({})).await;
    let mut lessons = Vec::new();
    for title in ["十月学习：第一讲", "十月学习：第二讲"] {
        lessons.push(
            t.published(
                json!({ "title": title, "kind": "video", "series": "每月必学",
                                 "org_id": tree.province }),
            )
            .await,
        );
    }
    // A draft of the series does not count.
    t.draft(
        json!({ "title": "十月学习：草稿", "kind": "video", "series": "每月必学",
                    "org_id": tree.province }),
    )
    .await;
    let admin = t
        .account("rules-admin", &[("administrator", &tree.city)])
        .await;
    let member = t.account("rules-member", &[("member", &tree.county)]).await;
    let other = t.account("rules-other", &[("member", &tree.county)]).await;
    let outsider = t
        .account("rules-outsider", &[("member", &tree.sibling_city)])
        .await;
    let base = format!("/api/v1/orgs/{}/completion-rules", tree.city);
    // Administrators only (a county member does not even see the city: 404; a city editor may
    // see it but not set its rules: 403); the series must be given; once per organisation.
    let editor = t.account("rules-editor", &[("editor", &tree.city)]).await;
    for (who, status) in [(&member, 404), (&editor, 403)] {
        let r = t
            .r#as(who)
            .post(&base)
            .json(&json!({ "series": "每月必学" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{}", who.login);
    }
    for bad in [
        json!({ "series": " " }),
        json!({}),
        json!({ "series": "x", "colour": 1 }),
    ] {
        let r = t.r#as(&admin).post(&base).json(&bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = t
        .r#as(&admin)
        .post(&base)
        .json(&json!({ "series": "每月必学" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let rule: Value = r.json().await.unwrap();
    let r = t
        .r#as(&admin)
        .post(&base)
        .json(&json!({ "series": "每月必学" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    // The county sees the city's rule as its own.
    let county_rules: Value = t
        .r#as(&admin)
        .json(&format!("/api/v1/orgs/{}/completion-rules", tree.county))
        .await;
    assert_eq!(county_rules["items"][0]["id"], rule["id"]);

    // One lesson completed on the platform: missing; both: done.
    let completed = |lesson: &str| {
        json!({ "actor": { "account": { "homePage": t.url(""), "name": "rules-member" } },
                "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" },
                "object": { "id": t.url(&format!("/lessons/{lesson}")) } })
    };
    let post = |body: Value| {
        t.client
            .post(t.url("/api/xapi/statements"))
            .bearer_auth(&key)
            .header("X-Experience-API-Version", "1.0.3")
            .json(&body)
            .send()
    };
    assert_eq!(post(completed(&lessons[0])).await.unwrap().status(), 200);
    let archive: Value = t.r#as(&member).json("/api/v1/me/learning").await;
    let required = &archive["required"][0];
    assert_eq!(required["series"], "每月必学", "{archive}");
    assert_eq!(required["lessons"], 2);
    assert_eq!(required["completed"], 1);
    assert_eq!(required["done"], false);
    let page = t.r#as(&member).get("/me/learning").send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("必修系列") && html.contains("未完成"),
        "{html}"
    );
    assert_eq!(post(completed(&lessons[1])).await.unwrap().status(), 200);
    let archive: Value = t.r#as(&member).json("/api/v1/me/learning").await;
    assert_eq!(archive["required"][0]["done"], true, "{archive}");
    // Outside the city, the rule does not hold.
    let theirs: Value = t.r#as(&outsider).json("/api/v1/me/learning").await;
    assert_eq!(theirs["required"], json!([]));

    // The city's report: one member done, the other (and nobody else) missing.
    let quarter = lectern::domain::report::Quarter::of_ms(lectern::db::now_ms()).to_string();
    let report: Value = t
        .r#as(&admin)
        .json(&format!("/api/v1/orgs/{}/reports/{quarter}", tree.city))
        .await;
    let line = &report["rules"][0];
    assert_eq!(line["series"], "每月必学", "{report}");
    assert_eq!(
        (
            line["lessons"].clone(),
            line["done"].clone(),
            line["missing"].clone()
        ),
        (json!(2), json!(1), json!(1))
    );
    let _ = other;
    // Removed: gone from the archive; audited both ways.
    let r = t
        .r#as(&admin)
        .delete(&format!("{base}/{}", rule["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let archive: Value = t.r#as(&member).json("/api/v1/me/learning").await;
    assert_eq!(archive["required"], json!([]));
    let audit: Value = t
        .r#as(&tree.root_admin)
        .json("/api/v1/audit?action=completion_rule.create")
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}
