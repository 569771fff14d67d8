//! The administration, password, edit and reject pages, driven as a browser would (forms with
//! the session's CSRF token), and checked through the API. The full editor → reviewer →
//! publication path runs in real Chromium in `tests/browser.rs`.

use crate::common::TestApp;
use crate::fixtures::PASSWORD;
use serde_json::{Value, json};

/// A signed-in browser for `login` and its session's CSRF token.
async fn signed_in(t: &TestApp, login: &str, password: &str) -> (reqwest::Client, String) {
    let b = t.browser();
    assert_eq!(t.sign_in(&b, login, password).await.status(), 303);
    let csrf = t.session_csrf(&b).await;
    (b, csrf)
}

async fn form(
    t: &TestApp,
    b: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let r = b.post(t.url(path)).form(fields).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn an_administrator_builds_the_tree_and_its_accounts_through_the_pages() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (b, csrf) = signed_in(&t, "root-admin", PASSWORD).await;
    let page = b
        .get(t.url("/admin/orgs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("广州市委党校") && page.contains("天河区委党校"),
        "{page}"
    );

    let (s, _) = form(
        &t,
        &b,
        "/admin/orgs",
        &[
            ("csrf", &csrf),
            ("parent_id", &tree.county),
            ("name", "石牌街道党工委"),
            ("level", "township"),
            ("region_code", "440106"),
            ("review_required", "on"),
        ],
    )
    .await;
    assert_eq!(s, 303);
    let orgs: Value = t.json("/api/v1/orgs").await;
    let township = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "石牌街道党工委")
        .expect("created")
        .clone();
    assert_eq!(township["parent_id"], tree.county.as_str());
    // A bad level is a form error, not a 500, and nothing is created.
    let (s, page) = form(
        &t,
        &b,
        "/admin/orgs",
        &[
            ("csrf", &csrf),
            ("parent_id", &tree.county),
            ("name", "x"),
            ("level", "galaxy"),
            ("region_code", ""),
        ],
    )
    .await;
    assert_eq!(s, 400, "{page}");

    let township_id = township["id"].as_str().unwrap();
    let (s, page) = form(
        &t,
        &b,
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("login", "li.si"),
            ("display_name", "李四"),
            ("password", "李四的足够长的登录密码"),
            ("role", "editor"),
            ("org_id", township_id),
        ],
    )
    .await;
    assert_eq!(s, 303, "{page}");
    let users: Value = t.json("/api/v1/users").await;
    let li = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "li.si")
        .expect("created")
        .clone();
    let li_id = li["id"].as_str().unwrap();
    let (s, _) = form(
        &t,
        &b,
        &format!("/admin/users/{li_id}/grants"),
        &[
            ("csrf", &csrf),
            ("role", "reviewer"),
            ("org_id", township_id),
        ],
    )
    .await;
    assert_eq!(s, 303);
    let (s, _) = form(
        &t,
        &b,
        &format!("/admin/users/{li_id}/grants/remove"),
        &[("csrf", &csrf), ("role", "editor"), ("org_id", township_id)],
    )
    .await;
    assert_eq!(s, 303);
    let li: Value = t.json(&format!("/api/v1/users/{li_id}")).await;
    let roles: Vec<&str> = li["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["reviewer"]);

    // The new account changes its password on its page; the old one stops working.
    let (b2, csrf2) = signed_in(&t, "li.si", "李四的足够长的登录密码").await;
    let (s, _) = form(
        &t,
        &b2,
        "/account/password",
        &[
            ("csrf", &csrf2),
            ("current_password", "wrong"),
            ("new_password", "新的足够长的密码2026"),
        ],
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = form(
        &t,
        &b2,
        "/account/password",
        &[
            ("csrf", &csrf2),
            ("current_password", "李四的足够长的登录密码"),
            ("new_password", "新的足够长的密码2026"),
        ],
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(
        t.sign_in(&t.browser(), "li.si", "李四的足够长的登录密码")
            .await
            .status(),
        401
    );
    assert_eq!(
        t.sign_in(&t.browser(), "li.si", "新的足够长的密码2026")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn an_editor_edits_and_a_reviewer_rejects_through_the_pages() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    t.account("editor1", &[("editor", &tree.county)]).await;
    t.account("reviewer1", &[("reviewer", &tree.county)]).await;
    let (ed, ed_csrf) = signed_in(&t, "editor1", PASSWORD).await;
    let (s, _) = form(
        &t,
        &ed,
        "/lessons/new",
        &[
            ("csrf", &ed_csrf),
            ("title", "<script>alert(1)</script>党课"),
            ("kind", "audio"),
            ("tags", "党史, 乡村振兴"),
        ],
    )
    .await;
    assert_eq!(s, 303);
    // A form's mistake is told in the page's language, naming the field; the form keeps what
    // was typed.
    let (s, page) = form(
        &t,
        &ed,
        "/lessons/new",
        &[
            ("csrf", &ed_csrf),
            ("title", " "),
            ("kind", "audio"),
            ("tags", "党史"),
        ],
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        error_of(&page).starts_with("请求有误：标题"),
        "{}",
        error_of(&page)
    );
    let list: Value = t.json("/api/v1/lessons").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing half-made"
    );
    let lesson = list["items"][0].clone();
    let id = lesson["id"].as_str().unwrap();
    assert_eq!(lesson["tags"], json!(["党史", "乡村振兴"]));
    let page = ed
        .get(t.url(&format!("/lessons/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert(1)"), "titles are escaped");

    let version = lesson["version"].to_string();
    let (s, _page) = form(
        &t,
        &ed,
        &format!("/lessons/{id}/edit"),
        &[
            ("csrf", &ed_csrf),
            ("title", "基层党课"),
            ("kind", "audio"),
            ("tags", "党史"),
            ("version", &version),
        ],
    )
    .await;
    assert_eq!(s, 303, "{}", error_of(&_page));
    // A stale version is refused rather than overwriting someone else's change.
    let (s, _) = form(
        &t,
        &ed,
        &format!("/lessons/{id}/edit"),
        &[
            ("csrf", &ed_csrf),
            ("title", "旧版本"),
            ("kind", "audio"),
            ("version", &version),
        ],
    )
    .await;
    assert_eq!(s, 412);
    assert_eq!(
        t.json(&format!("/api/v1/lessons/{id}")).await["title"],
        "基层党课"
    );

    let (s, _) = form(
        &t,
        &ed,
        &format!("/lessons/{id}/submit"),
        &[("csrf", &ed_csrf)],
    )
    .await;
    assert_eq!(s, 303);
    let (rv, rv_csrf) = signed_in(&t, "reviewer1", PASSWORD).await;
    let queue = rv
        .get(t.url("/review"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(queue.contains("基层党课"));
    let (s, _) = form(
        &t,
        &rv,
        &format!("/review/{id}/reject"),
        &[("csrf", &rv_csrf), ("revision", "1"), ("comment", "")],
    )
    .await;
    assert_eq!(s, 400, "a rejection needs a comment");
    let (s, _) = form(
        &t,
        &rv,
        &format!("/review/{id}/reject"),
        &[
            ("csrf", &rv_csrf),
            ("revision", "1"),
            ("comment", "请补充讲稿"),
        ],
    )
    .await;
    assert_eq!(s, 303);
    let page = ed
        .get(t.url(&format!("/lessons/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("请补充讲稿"),
        "the editor sees the reviewer's comment"
    );
}

/// The error a page shows, for failure messages.
fn error_of(page: &str) -> &str {
    let marker = "role=\"alert\">";
    page.find(marker)
        .map(|i| &page[i + marker.len()..])
        .and_then(|p| p.split('<').next())
        .unwrap_or("(no error shown)")
}

/// The workflow buttons post to `/lessons/{id}/{step}`. A step that is none of submit, publish
/// and withdraw is a 400 problem and leaves the lesson as it was — it used to withdraw it — while
/// the real step still works from the same session.
#[tokio::test]
async fn an_unknown_workflow_step_is_a_400_problem_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    t.account("editor1", &[("editor", &tree.county)]).await;
    let id = crate::feed::published(&t, &tree.county, "防汛讲座", "audio", &[]).await;
    let before: Value = t.json(&format!("/api/v1/lessons/{id}")).await;
    assert_eq!(before["status"], "published", "{before}");
    let changes_before = t.db().change_head().await.unwrap();
    let (ed, csrf) = signed_in(&t, "editor1", PASSWORD).await;
    for step in ["archive", "Withdraw", "withdraw ", "approve"] {
        let r = ed
            .post(t.url(&format!("/lessons/{id}/{}", step.replace(' ', "%20"))))
            .form(&[("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        let body = r.text().await.unwrap();
        assert_eq!(status, 400, "{step:?}: {body}");
        assert_eq!(content_type, "application/problem+json", "{step:?}: {body}");
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["code"], "invalid_request", "{problem}");
    }
    let after: Value = t.json(&format!("/api/v1/lessons/{id}")).await;
    assert_eq!(after, before);
    assert_eq!(t.db().change_head().await.unwrap(), changes_before);
    // Without the session's token the step is refused before it is even read.
    let (s, _) = form(&t, &ed, &format!("/lessons/{id}/archive"), &[("csrf", "x")]).await;
    assert_eq!(s, 403);
    // The real button still works.
    let (s, _) = form(
        &t,
        &ed,
        &format!("/lessons/{id}/withdraw"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, 303);
    let after: Value = t.json(&format!("/api/v1/lessons/{id}")).await;
    assert_eq!(after["status"], "withdrawn", "{after}");
}

#[tokio::test]
async fn the_navigation_offers_each_administration_page_only_to_those_who_may_use_it() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    t.account("editor1", &[("editor", &tree.county)]).await;
    t.account("admin1", &[("administrator", &tree.city)]).await;
    let links = [
        "/admin/orgs",
        "/admin/users",
        "/admin/platforms",
        "/admin/jobs",
    ];

    let (editor, _) = signed_in(&t, "editor1", PASSWORD).await;
    let page = t.page(&editor, "/lessons").await;
    assert!(page.contains("href=\"/lessons\""), "{page}");
    for l in links {
        assert!(
            !page.contains(&format!("href=\"{l}\"")),
            "{l} offered to an editor"
        );
    }
    // The link was hidden because the page is refused, not by accident.
    let r = editor.get(t.url("/admin/jobs")).send().await.unwrap();
    assert_eq!(r.status(), 403);

    let (admin, _) = signed_in(&t, "admin1", PASSWORD).await;
    let page = t.page(&admin, "/lessons").await;
    for l in links {
        assert!(
            page.contains(&format!("href=\"{l}\"")),
            "{l} not offered to an administrator"
        );
        let r = admin.get(t.url(l)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{l}");
    }
}
