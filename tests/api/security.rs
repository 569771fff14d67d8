//! Security properties end to end: privilege escalation is refused and audited; sessions are
//! never fixed by the client; CSRF rules for sessions and forms; login throttling; cookie
//! attributes; personal tokens; password changes; the append-only audit log.

use crate::common::TestApp;
use crate::fixtures::{Account, PASSWORD, Tree};
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};
use std::sync::Arc;

const SESSION: &str = "lectern_session";

/// Audit entries the root administrator reads with `action`.
async fn audit(t: &TestApp, reader: &Account, action: &str) -> Vec<Value> {
    let r = t
        .r#as(reader)
        .get("/api/v1/audit")
        .query(&[("action", action), ("limit", "500")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

/// Audit entries with `action` as the operator reads them (all of them).
async fn audit_all(t: &TestApp, action: &str) -> Vec<Value> {
    let r = t
        .get("/api/v1/audit")
        .query(&[("action", action), ("limit", "500")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

/// Asserts the root administrator sees a `denied.*` entry `action` by `actor` on `target`.
async fn assert_denied_audited(
    t: &TestApp,
    tree: &Tree,
    action: &str,
    actor: &Account,
    target: &str,
) {
    let entries = audit(t, &tree.root_admin, action).await;
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == format!("user:{}", actor.login)
                && e["actor_id"] == actor.id.as_str()
                && e["target_id"] == target
                && e["address"].is_string()),
        "no {action} entry by {} on {target} in {entries:?}",
        actor.login
    );
}

async fn status_json(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A draft owned by `org`, made by the operator.
async fn draft_in(t: &TestApp, org: &str, title: &str) -> String {
    let (s, v) = status_json(
        t.post("/api/v1/lessons")
            .json(&json!({ "title": title, "kind": "video", "org_id": org })),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_editor_cannot_grant_themselves_a_role() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    for (role, org) in [
        ("administrator", &tree.city),
        ("reviewer", &tree.city),
        ("editor", &tree.province),
    ] {
        let (s, v) = status_json(
            t.r#as(&editor)
                .post(&format!("/api/v1/users/{}/grants", editor.id))
                .json(&json!({ "role": role, "org_id": org })),
        )
        .await;
        assert_eq!(s, 403, "{role} on {org}: {v}");
    }
    let (s, me) = status_json(t.r#as(&editor).get("/api/v1/me")).await;
    assert_eq!(s, 200);
    assert_eq!(me["grants"].as_array().unwrap().len(), 1, "{me}");
    assert_denied_audited(&t, &tree, "denied.grant", &editor, &editor.id).await;
    // Nor can they make an account holding more than they do.
    let (s, _) = status_json(t.r#as(&editor).post("/api/v1/users").json(&json!({
        "login": "sock-puppet", "display_name": "x", "password": PASSWORD,
        "grants": [{ "role": "administrator", "org_id": tree.city }],
    })))
    .await;
    assert_eq!(s, 403);
    assert_denied_audited(&t, &tree, "denied.grant", &editor, "sock-puppet").await;
}

#[tokio::test]
async fn an_administrator_cannot_move_their_organisation_or_take_a_county_out_of_their_subtree() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let admin = t
        .account("city-admin", &[("administrator", &tree.city)])
        .await;
    let parent_of = |id: String| {
        let t = &t;
        async move {
            let (s, v) = status_json(t.get(&format!("/api/v1/orgs/{id}"))).await;
            assert_eq!(s, 200);
            v["parent_id"].as_str().unwrap().to_owned()
        }
    };

    // Their own organisation, under the sibling city.
    let (s, v) = status_json(
        t.r#as(&admin)
            .post(&format!("/api/v1/orgs/{}/move", tree.city))
            .json(&json!({ "parent_id": tree.sibling_city })),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(parent_of(tree.city.clone()).await, tree.province);
    assert_denied_audited(&t, &tree, "denied.move", &admin, &tree.city).await;

    // A county of theirs, out of their subtree (to the sibling city, and to the root).
    for dest in [&tree.sibling_city, &tree.province] {
        let (s, v) = status_json(
            t.r#as(&admin)
                .post(&format!("/api/v1/orgs/{}/move", tree.county))
                .json(&json!({ "parent_id": dest })),
        )
        .await;
        assert_eq!(s, 403, "to {dest}: {v}");
        assert_eq!(parent_of(tree.county.clone()).await, tree.city);
    }
    assert_denied_audited(&t, &tree, "denied.move", &admin, &tree.county).await;

    // Nor change the rules of their own organisation (self_approval is set from above).
    let (s, _) = status_json(
        t.r#as(&admin)
            .patch(&format!("/api/v1/orgs/{}", tree.city))
            .json(&json!({ "self_approval": true })),
    )
    .await;
    assert_eq!(s, 403);
    assert_denied_audited(&t, &tree, "denied.update", &admin, &tree.city).await;
}

#[tokio::test]
async fn approving_ones_own_submission_is_refused_where_the_organisation_forbids_it() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let both = t
        .account(
            "county-editor-reviewer",
            &[("editor", &tree.county), ("reviewer", &tree.county)],
        )
        .await;
    let me = t.r#as(&both);
    let (s, v) = status_json(
        me.post("/api/v1/lessons")
            .json(&json!({ "title": "自己审自己", "kind": "video" })),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["org_id"], tree.county.as_str());
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, review) = status_json(
        me.post(&format!("/api/v1/lessons/{id}/submit"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(s, 200, "{review}");
    assert_eq!(review["state"], "submitted");
    let revision = review["revision"].as_i64().unwrap();

    // Not offered in their queue, and refused when tried.
    let (_, queue) = status_json(me.get("/api/v1/review/queue")).await;
    assert!(queue["items"].as_array().unwrap().is_empty(), "{queue}");
    let (s, v) = status_json(
        me.post(&format!("/api/v1/lessons/{id}/approve"))
            .json(&json!({ "revision": revision })),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_denied_audited(&t, &tree, "denied.approve_own_submission", &both, &id).await;
    let (_, revs) = status_json(t.get(&format!("/api/v1/lessons/{id}/revisions"))).await;
    assert_eq!(revs["items"][0]["state"], "submitted", "{revs}");

    // With self-approval allowed (set from above), the same step goes through.
    let (s, _) = status_json(
        t.r#as(&tree.root_admin)
            .patch(&format!("/api/v1/orgs/{}", tree.county))
            .json(&json!({ "self_approval": true })),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = status_json(
        me.post(&format!("/api/v1/lessons/{id}/approve"))
            .json(&json!({ "revision": revision })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "approved");
}

#[tokio::test]
async fn guessed_and_readable_lessons_of_other_organisations_cannot_be_edited() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    let ed = t.r#as(&editor);

    // Another organisation's draft, its id guessed: it does not exist for the editor.
    let draft = draft_in(&t, &tree.sibling_city, "深圳草稿").await;
    for r in [
        ed.get(&format!("/api/v1/lessons/{draft}")),
        ed.patch(&format!("/api/v1/lessons/{draft}"))
            .json(&json!({ "title": "被篡改" })),
        ed.delete(&format!("/api/v1/lessons/{draft}")),
        ed.post(&format!("/api/v1/lessons/{draft}/submit"))
            .json(&json!({})),
    ] {
        let (s, v) = status_json(r).await;
        assert_eq!(s, 404, "{v}");
        assert_eq!(v["code"], "not_found");
    }
    let (_, v) = status_json(t.get(&format!("/api/v1/lessons/{draft}"))).await;
    assert_eq!(v["title"], "深圳草稿");
    assert_eq!(v["version"], 1, "{v}");

    // A published lesson of the sibling: readable, not editable — 403, and audited.
    let published = draft_in(&t, &tree.sibling_city, "深圳公开课").await;
    let (s, v) = status_json(t.post(&format!("/api/v1/lessons/{published}/publish"))).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = status_json(ed.get(&format!("/api/v1/lessons/{published}"))).await;
    assert_eq!(s, 200);
    let (s, v) = status_json(
        ed.patch(&format!("/api/v1/lessons/{published}"))
            .json(&json!({ "title": "被篡改" })),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_denied_audited(&t, &tree, "denied.edit", &editor, &published).await;
    let (_, v) = status_json(t.get(&format!("/api/v1/lessons/{published}"))).await;
    assert_eq!(v["title"], "深圳公开课");
    let (_, revs) = status_json(t.get(&format!("/api/v1/lessons/{published}/revisions"))).await;
    assert!(
        revs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["title"] != "被篡改" && r["fields"]["title"] != "被篡改"),
        "{revs}"
    );
}

// --- sessions ---

/// A browser with a cookie jar we can look into.
fn browser_with(jar: Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn session_value(t: &TestApp, jar: &Jar) -> Option<String> {
    let url: reqwest::Url = t.url("/api/v1/me").parse().unwrap();
    let header = jar.cookies(&url)?;
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|c| c.strip_prefix(&format!("{SESSION}=")))
        .map(str::to_owned)
}

/// `GET /api/v1/me` with only this session cookie, from a fresh client.
async fn me_with_cookie(t: &TestApp, value: &str) -> u16 {
    reqwest::Client::new()
        .get(t.url("/api/v1/me"))
        .header("cookie", format!("{SESSION}={value}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn logout(t: &TestApp, client: &reqwest::Client, csrf: Option<&str>) -> reqwest::Response {
    let form: Vec<(&str, &str)> = csrf.map(|c| vec![("csrf", c)]).unwrap_or_default();
    client
        .post(t.url("/logout"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_id_planted_before_login_is_never_adopted() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let victim = t.account("victim", &[("editor", &tree.city)]).await;
    let attacker = t
        .account("attacker", &[("member", &tree.sibling_city)])
        .await;
    let url: reqwest::Url = t.base.parse().unwrap();

    // A made-up value, and a real session of the attacker's own.
    let made_up = "attacker-chosen-session-id-0123456789abcdef".to_owned();
    let attacker_jar = Arc::new(Jar::default());
    let attacker_browser = browser_with(attacker_jar.clone());
    let r = t
        .sign_in(&attacker_browser, &attacker.login, PASSWORD)
        .await;
    assert_eq!(r.status(), 303);
    let attackers_own = session_value(&t, &attacker_jar).unwrap();
    assert_eq!(me_with_cookie(&t, &attackers_own).await, 200);

    for planted in [made_up, attackers_own] {
        let jar = Arc::new(Jar::default());
        jar.add_cookie_str(&format!("{SESSION}={planted}; Path=/"), &url);
        let browser = browser_with(jar.clone());
        let r = t.sign_in(&browser, &victim.login, PASSWORD).await;
        assert_eq!(r.status(), 303);
        let issued = session_value(&t, &jar).expect("a session cookie");
        assert_ne!(issued, planted, "the planted session id was adopted");
        // The planted value authenticates nothing (an attacker's own session ends too).
        assert_eq!(me_with_cookie(&t, &planted).await, 401);
        let (s, me) = status_json(browser.get(t.url("/api/v1/me"))).await;
        assert_eq!(s, 200);
        assert_eq!(me["login"], "victim");

        // Logging in again issues a new value and ends the one presented.
        let r = t.sign_in(&browser, &victim.login, PASSWORD).await;
        assert_eq!(r.status(), 303);
        let second = session_value(&t, &jar).unwrap();
        assert_ne!(second, issued);
        assert_eq!(me_with_cookie(&t, &issued).await, 401);
        assert_eq!(me_with_cookie(&t, &second).await, 200);

        // After logout the session is over, whoever presents it.
        let csrf = t.session_csrf(&browser).await;
        let r = logout(&t, &browser, Some(&csrf)).await;
        assert_eq!(r.status(), 303);
        assert_eq!(me_with_cookie(&t, &second).await, 401);
    }
}

#[tokio::test]
async fn session_requests_need_the_csrf_token_and_this_origin() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    let browser = t.browser();
    assert_eq!(
        t.sign_in(&browser, &editor.login, PASSWORD).await.status(),
        303
    );
    let csrf = t.session_csrf(&browser).await;
    let body = json!({ "title": "跨站请求", "kind": "video" });
    let count = || async {
        let (_, v) = status_json(t.get("/api/v1/lessons?status=draft")).await;
        v["items"].as_array().unwrap().len()
    };

    let post = || browser.post(t.url("/api/v1/lessons")).json(&body);
    let (s, v) = status_json(post()).await;
    assert_eq!(s, 403, "no token: {v}");
    let (s, v) = status_json(post().header("x-csrf-token", "0".repeat(csrf.len()))).await;
    assert_eq!(s, 403, "wrong token: {v}");
    let (s, v) = status_json(post().header("x-csrf-token", "")).await;
    assert_eq!(s, 403, "empty token: {v}");
    let (s, v) = status_json(
        post()
            .header("x-csrf-token", &csrf)
            .header("origin", "http://evil.example"),
    )
    .await;
    assert_eq!(s, 403, "foreign origin: {v}");
    assert_eq!(count().await, 0, "a refused request created a lesson");
    let (s, v) = status_json(post().header("x-csrf-token", &csrf)).await;
    assert_eq!(s, 201, "right token, no Origin: {v}");
    let (s, v) = status_json(
        post()
            .header("x-csrf-token", &csrf)
            .header("origin", t.base.clone()),
    )
    .await;
    assert_eq!(s, 201, "right token, own Origin: {v}");
    assert_eq!(count().await, 2);

    // Reads need no token.
    assert_eq!(status_json(browser.get(t.url("/api/v1/me"))).await.0, 200);
}

/// Whether `r` sets a non-empty session cookie.
fn sets_session(r: &reqwest::Response) -> bool {
    r.headers().get_all("set-cookie").iter().any(|v| {
        let v = v.to_str().unwrap();
        v.starts_with(&format!("{SESSION}=")) && !v.starts_with(&format!("{SESSION}=;"))
    })
}

#[tokio::test]
async fn the_login_and_logout_forms_check_their_csrf_tokens() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;

    // Login: no csrf field, a mismatching one, no cookie to match, a foreign Origin.
    let browser = t.browser();
    let csrf = t.login_csrf(&browser).await;
    let attempts: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "no csrf field",
            browser
                .post(t.url("/login"))
                .form(&[("login", editor.login.as_str()), ("password", PASSWORD)]),
        ),
        (
            "mismatching csrf",
            browser.post(t.url("/login")).form(&[
                ("login", editor.login.as_str()),
                ("password", PASSWORD),
                ("csrf", "not-the-token"),
            ]),
        ),
        (
            "no csrf cookie",
            reqwest::Client::new().post(t.url("/login")).form(&[
                ("login", editor.login.as_str()),
                ("password", PASSWORD),
                ("csrf", csrf.as_str()),
            ]),
        ),
        (
            "foreign origin",
            browser
                .post(t.url("/login"))
                .header("origin", "http://evil.example")
                .form(&[
                    ("login", editor.login.as_str()),
                    ("password", PASSWORD),
                    ("csrf", csrf.as_str()),
                ]),
        ),
    ];
    for (what, req) in attempts {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "{what}");
        assert!(!sets_session(&r), "{what}: a session cookie was set");
    }
    assert_eq!(status_json(browser.get(t.url("/api/v1/me"))).await.0, 401);
    let successes = audit_all(&t, "login.success").await;
    assert!(successes.is_empty(), "{successes:?}");

    // Logout without (or with a wrong) csrf: refused, and the session still works.
    let r = t.sign_in(&browser, &editor.login, PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert!(sets_session(&r));
    let r = logout(&t, &browser, None).await;
    assert_eq!(r.status(), 403, "logout without csrf");
    let r = logout(&t, &browser, Some("wrong")).await;
    assert_eq!(r.status(), 403, "logout with a wrong csrf");
    assert_eq!(status_json(browser.get(t.url("/api/v1/me"))).await.0, 200);
    let csrf = t.session_csrf(&browser).await;
    assert_eq!(logout(&t, &browser, Some(&csrf)).await.status(), 303);
    assert_eq!(status_json(browser.get(t.url("/api/v1/me"))).await.0, 401);
}

// --- throttling ---

#[tokio::test]
async fn repeated_failures_throttle_the_account_then_the_address() {
    let t = TestApp::spawn_with(|c| {
        c.login_max_failures_per_address = 8;
    })
    .await;
    assert_eq!(t.config.login_max_failures_per_account, 5);
    let tree = t.tree().await;
    let a = t.account("account-a", &[("editor", &tree.city)]).await;
    let b = t.account("account-b", &[("editor", &tree.city)]).await;
    let c = t.account("account-c", &[("editor", &tree.county)]).await;
    let try_login = |login: String, pass: &'static str| {
        let t = &t;
        async move {
            let browser = t.browser();
            t.sign_in(&browser, &login, pass).await
        }
    };

    for i in 0..5 {
        let r = try_login(a.login.clone(), "wrong-password").await;
        assert_eq!(r.status(), 401, "failure {i}");
    }
    // The sixth attempt, with the right password, is refused without checking it.
    let r = try_login(a.login.clone(), PASSWORD).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0);
    assert!(!sets_session(&r));

    let failures = audit(&t, &tree.root_admin, "login.failure").await;
    let of_a: Vec<&Value> = failures
        .iter()
        .filter(|e| e["actor"] == "login:account-a")
        .collect();
    assert_eq!(of_a.len(), 5, "{failures:?}");
    assert!(of_a.iter().all(|e| e["address"] == "127.0.0.1"), "{of_a:?}");
    // Refusals record no organisation, so only the operator's view shows them.
    let throttled = audit_all(&t, "login.throttled").await;
    assert!(
        throttled
            .iter()
            .any(|e| e["actor"] == "login:account-a" && e["address"] == "127.0.0.1"),
        "{throttled:?}"
    );

    // Another account from the same address signs in: 5 failures are under the address limit.
    let r = try_login(b.login.clone(), PASSWORD).await;
    assert_eq!(r.status(), 303, "another account is throttled too early");
    // Three more failures (of b, under its own limit) reach 8 from this address.
    for i in 0..3 {
        let r = try_login(b.login.clone(), "wrong-password").await;
        assert_eq!(r.status(), 401, "b failure {i}");
    }
    for login in [&b.login, &c.login] {
        let r = try_login(login.clone(), PASSWORD).await;
        assert_eq!(r.status(), 429, "{login} after the address limit");
        assert!(r.headers().contains_key("retry-after"));
    }
}

// --- cookies ---

fn session_set_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{SESSION}=")))
        .expect("a session cookie")
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure_only_over_https() {
    for (public_url, secure) in [("", false), ("https://lectern.example.cn", true)] {
        let t = TestApp::spawn_with(|c| c.public_url = public_url.to_owned()).await;
        let tree = t.tree().await;
        let r = t
            .sign_in(&t.browser(), &tree.root_admin.login, PASSWORD)
            .await;
        assert_eq!(r.status(), 303);
        let cookie = session_set_cookie(&r);
        let attrs: Vec<String> = cookie
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        assert!(attrs.iter().any(|a| a == "httponly"), "{cookie}");
        assert!(attrs.iter().any(|a| a == "samesite=lax"), "{cookie}");
        assert_eq!(
            attrs.iter().any(|a| a == "secure"),
            secure,
            "{public_url}: {cookie}"
        );
        assert!(attrs.iter().any(|a| a == "path=/"), "{cookie}");
    }
}

// --- personal tokens ---

async fn signed_in(t: &TestApp, login: &str) -> (reqwest::Client, String) {
    let browser = t.browser();
    assert_eq!(t.sign_in(&browser, login, PASSWORD).await.status(), 303);
    let csrf = t.session_csrf(&browser).await;
    (browser, csrf)
}

async fn me_with_token(t: &TestApp, token: &str) -> u16 {
    t.client
        .get(t.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn personal_tokens_are_shown_once_and_stop_working_when_revoked_or_expired() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    let (browser, csrf) = signed_in(&t, &editor.login).await;
    let create = |name: &str| {
        browser
            .post(t.url("/api/v1/me/tokens"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": name }))
    };
    // Without the session's CSRF token, no token is made.
    let (s, _) = status_json(
        browser
            .post(t.url("/api/v1/me/tokens"))
            .json(&json!({ "name": "csrf" })),
    )
    .await;
    assert_eq!(s, 403);

    let (s, made) = status_json(create("脚本")).await;
    assert_eq!(s, 201, "{made}");
    let secret = made["token"].as_str().unwrap().to_owned();
    let id = made["id"].as_str().unwrap().to_owned();
    let expires = time::OffsetDateTime::parse(
        made["expires_at"].as_str().expect("an RFC 3339 time"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(expires > time::OffsetDateTime::now_utc(), "{made}");
    assert_eq!(me_with_token(&t, &secret).await, 200);

    let r = browser
        .get(t.url("/api/v1/me/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&secret), "the list shows the secret: {text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    let items = list["items"].as_array().unwrap();
    let item = items.iter().find(|i| i["id"] == id.as_str()).unwrap();
    assert!(
        item.get("token").is_none() && item.get("token_hash").is_none(),
        "{item}"
    );
    assert_eq!(item["name"], "脚本");

    // Revoked: refused at once.
    let r = browser
        .delete(t.url(&format!("/api/v1/me/tokens/{id}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(me_with_token(&t, &secret).await, 401);
    // Another account cannot revoke someone else's token.
    let (s, other) = status_json(create("另一个")).await;
    assert_eq!(s, 201);
    let other_id = other["id"].as_str().unwrap();
    let (s, _) = status_json(
        t.r#as(&tree.root_admin)
            .delete(&format!("/api/v1/me/tokens/{other_id}")),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        me_with_token(&t, other["token"].as_str().unwrap()).await,
        200
    );

    // Expired: refused.
    let (s, made) = status_json(create("过期")).await;
    assert_eq!(s, 201);
    let expiring = made["token"].as_str().unwrap().to_owned();
    assert_eq!(me_with_token(&t, &expiring).await, 200);
    sqlx::query("UPDATE api_tokens SET expires_at = $2 WHERE id = $1")
        .bind(made["id"].as_str().unwrap())
        .bind(lectern::db::now_ms() - 1000)
        .execute(t.db().pool())
        .await
        .unwrap();
    assert_eq!(me_with_token(&t, &expiring).await, 401);
}

#[tokio::test]
async fn disabling_an_account_stops_its_tokens_and_sessions_at_once() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    let (browser, _) = signed_in(&t, &editor.login).await;
    assert_eq!(me_with_token(&t, &editor.token).await, 200);
    assert_eq!(status_json(browser.get(t.url("/api/v1/me"))).await.0, 200);

    let (s, v) = status_json(
        t.r#as(&tree.root_admin)
            .patch(&format!("/api/v1/users/{}", editor.id))
            .json(&json!({ "disabled": true })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["disabled"], true);
    assert_eq!(me_with_token(&t, &editor.token).await, 401);
    assert_eq!(status_json(browser.get(t.url("/api/v1/me"))).await.0, 401);
    let r = t
        .r#as(&editor)
        .post("/api/v1/lessons")
        .json(&json!({ "title": "停用后", "kind": "video" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Nor can it sign in again.
    let r = t.sign_in(&t.browser(), &editor.login, PASSWORD).await;
    assert_eq!(r.status(), 401);
    assert!(!sets_session(&r));
}

// --- passwords ---

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_every_session() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    let (browser, csrf) = signed_in(&t, &editor.login).await;
    let (other_browser, _) = signed_in(&t, &editor.login).await;
    const NEW: &str = "新的密码-battery-staple-42";
    let change = |current: &str| {
        browser
            .post(t.url("/api/v1/me/password"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "current_password": current, "new_password": NEW }))
    };

    let (s, v) = status_json(change("not-my-password")).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(status_json(browser.get(t.url("/api/v1/me"))).await.0, 200);
    assert_eq!(
        status_json(other_browser.get(t.url("/api/v1/me"))).await.0,
        200
    );

    let r = change(PASSWORD).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(status_json(browser.get(t.url("/api/v1/me"))).await.0, 401);
    assert_eq!(
        status_json(other_browser.get(t.url("/api/v1/me"))).await.0,
        401
    );

    let r = t.sign_in(&t.browser(), &editor.login, PASSWORD).await;
    assert_eq!(r.status(), 401, "the old password still works");
    let r = t.sign_in(&t.browser(), &editor.login, NEW).await;
    assert_eq!(r.status(), 303, "the new password does not work");
}

// --- the audit log ---

#[tokio::test]
async fn the_audit_log_cannot_be_changed_or_emptied() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log")
            .fetch_one(t.db().pool())
            .await
            .unwrap()
    };
    let before = count().await;
    assert!(before > 0);
    let update = sqlx::query("UPDATE audit_log SET action = 'x'")
        .execute(t.db().pool())
        .await;
    assert!(update.is_err(), "UPDATE succeeded: {update:?}");
    let delete = sqlx::query("DELETE FROM audit_log")
        .execute(t.db().pool())
        .await;
    assert!(delete.is_err(), "DELETE succeeded: {delete:?}");
    let one = sqlx::query("DELETE FROM audit_log WHERE action = 'bootstrap'")
        .execute(t.db().pool())
        .await;
    assert!(one.is_err(), "deleting one entry succeeded: {one:?}");
    if t.db().backend() == lectern::db::Backend::Postgres {
        let truncate = sqlx::query("TRUNCATE audit_log")
            .execute(t.db().pool())
            .await;
        assert!(truncate.is_err(), "TRUNCATE succeeded: {truncate:?}");
    }
    assert_eq!(count().await, before);
    let actions = audit(&t, &tree.root_admin, "bootstrap").await;
    assert_eq!(actions.len(), 1);
}

/// A token's use is written at most once in ten minutes — a read must not turn into a write each
/// time (on SQLite even an `UPDATE` that changes nothing takes the one write lock) — and written
/// again once the last one written is older (`Db::note_use`, for tokens and platform keys).
#[tokio::test]
async fn a_tokens_use_is_written_once_in_ten_minutes_not_on_every_request() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    let used = || async {
        sqlx::query_scalar::<_, Option<i64>>(
            "SELECT last_used_at FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(&editor.id)
        .fetch_one(t.db().pool())
        .await
        .unwrap()
    };
    assert_eq!(me_with_token(&t, &editor.token).await, 200);
    let first = used().await.expect("a token's first use is written");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for _ in 0..3 {
        assert_eq!(me_with_token(&t, &editor.token).await, 200);
    }
    assert_eq!(
        used().await,
        Some(first),
        "uses within ten minutes are not written again"
    );
    // The last use written is now older than that: the next use is written.
    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE user_id = $1")
        .bind(&editor.id)
        .bind(first - lectern::db::USE_NOTED_EVERY_MS - 1_000)
        .execute(t.db().pool())
        .await
        .unwrap();
    assert_eq!(me_with_token(&t, &editor.token).await, 200);
    let again = used().await.expect("still written");
    assert!(
        again >= first,
        "a use ten minutes after the last one written is written: {again} < {first}"
    );
}
