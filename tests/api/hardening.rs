//! Rules that close gaps found in review: files frozen under review, edits accumulating on the
//! working revision, withdrawal cancelling a schedule, adoption only widening, account resets
//! ending every way in, moves refused while reviews are pending, the trusted proxy's hop.

use crate::common::{TestApp, mp4};
use crate::fixtures::{Account, PASSWORD, Tree};
use serde_json::{Value, json};

async fn post(t: &TestApp, a: &Account, path: &str, body: Value) -> (u16, Value) {
    let r = t.r#as(a).post(path).json(&body).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn draft(t: &TestApp, a: &Account, title: &str) -> String {
    let (s, v) = post(
        t,
        a,
        "/api/v1/lessons",
        json!({ "title": title, "kind": "video" }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

struct People {
    tree: Tree,
    editor: Account,
    reviewer: Account,
}

async fn people(t: &TestApp) -> People {
    let tree = t.tree().await;
    let editor = t.account("editor1", &[("editor", &tree.county)]).await;
    let reviewer = t.account("reviewer1", &[("reviewer", &tree.county)]).await;
    People {
        tree,
        editor,
        reviewer,
    }
}

async fn upload(t: &TestApp, a: &Account, id: &str) -> u16 {
    t.r#as(a)
        .post(&format!("/api/v1/lessons/{id}/assets"))
        .query(&[("role", "master"), ("filename", "v.mp4")])
        .body(mp4(3000))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn files_are_frozen_from_submission_until_a_rejection_or_withdrawal() {
    let t = TestApp::spawn().await;
    let p = people(&t).await;
    let id = draft(&t, &p.editor, "冻结文件").await;
    assert_eq!(upload(&t, &p.editor, &id).await, 201);
    let lesson: Value = t.json(&format!("/api/v1/lessons/{id}")).await;
    let asset = lesson["assets"][0]["id"].as_str().unwrap().to_owned();

    let (_, v) = post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{id}/submit"),
        json!({}),
    )
    .await;
    let revision = v["revision"].clone();
    assert_eq!(upload(&t, &p.editor, &id).await, 409);
    let r = t
        .r#as(&p.editor)
        .delete(&format!("/api/v1/assets/{asset}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    // A tus upload cannot be opened either.
    let r = t
        .r#as(&p.editor)
        .post("/api/v1/uploads")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "3000")
        .header(
            "upload-metadata",
            format!("lesson_id {},role bWFzdGVy,filename di5tcDQ=", base64(&id)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    let (s, _) = post(
        &t,
        &p.reviewer,
        &format!("/api/v1/lessons/{id}/reject"),
        json!({ "revision": revision, "comment": "换一个片源" }),
    )
    .await;
    assert_eq!(s, 200);
    let r = t
        .r#as(&p.editor)
        .delete(&format!("/api/v1/assets/{asset}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(upload(&t, &p.editor, &id).await, 201);
    // Operators are the instance itself and may still change files of a published lesson.
    t.through_review(&p.editor, &p.reviewer, &id).await;
    assert_eq!(upload(&t, &p.editor, &id).await, 409);
    let r = t
        .upload(
            &id,
            "subtitle",
            "zh.vtt",
            b"WEBVTT\n\n00:00.000 --> 00:01.000\n\xe4\xbd\xa0\xe5\xa5\xbd\n".to_vec(),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // An editor cannot delete a published lesson.
    let r = t
        .r#as(&p.editor)
        .delete(&format!("/api/v1/lessons/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

fn base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn edits_of_a_published_lesson_accumulate_on_its_new_revision() {
    let t = TestApp::spawn().await;
    let p = people(&t).await;
    let id = draft(&t, &p.editor, "原标题").await;
    t.through_review(&p.editor, &p.reviewer, &id).await;
    for body in [
        json!({ "title": "新标题" }),
        json!({ "description": "新简介" }),
    ] {
        let r = t
            .r#as(&p.editor)
            .patch(&format!("/api/v1/lessons/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let revs: Value = t
        .r#as(&p.editor)
        .get(&format!("/api/v1/lessons/{id}/revisions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = revs["items"].as_array().unwrap().last().unwrap();
    assert_eq!(last["fields"]["title"], "新标题", "{last}");
    assert_eq!(last["fields"]["description"], "新简介", "{last}");
    // After a withdrawal the pending edits are kept, and further edits build on them.
    let (s, _) = post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{id}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let r = t
        .r#as(&p.editor)
        .patch(&format!("/api/v1/lessons/{id}"))
        .json(&json!({ "tags": ["党史"] }))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["title"].as_str(), v["description"].as_str()),
        (Some("新标题"), Some("新简介")),
        "{v}"
    );
}

#[tokio::test]
async fn withdrawing_cancels_a_scheduled_publication() {
    let t = TestApp::spawn_with(|c| c.scheduler_interval_ms = 20).await;
    let p = people(&t).await;
    let id = draft(&t, &p.editor, "定时").await;
    let (_, v) = post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{id}/submit"),
        json!({}),
    )
    .await;
    post(
        &t,
        &p.reviewer,
        &format!("/api/v1/lessons/{id}/approve"),
        json!({ "revision": v["revision"] }),
    )
    .await;
    let at = (time::OffsetDateTime::now_utc() + time::Duration::milliseconds(700))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (s, v) = post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{id}/publish"),
        json!({ "at": at }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = post(
        &t,
        &p.reviewer,
        &format!("/api/v1/lessons/{id}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["publish_at"].is_null(), "{v}");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let v: Value = t.json(&format!("/api/v1/lessons/{id}")).await;
    assert_eq!(
        v["status"], "draft",
        "the timer must not publish a withdrawn lesson: {v}"
    );
}

#[tokio::test]
async fn adoption_needs_a_live_lesson_and_only_widens() {
    let t = TestApp::spawn().await;
    let p = people(&t).await;
    let city_rev = t.account("city-rev", &[("reviewer", &p.tree.city)]).await;
    let province_rev = t
        .account("prov-rev", &[("reviewer", &p.tree.province)])
        .await;
    let mut ids = Vec::new();
    for title in ["甲", "乙"] {
        let id = draft(&t, &p.editor, title).await;
        t.through_review(&p.editor, &p.reviewer, &id).await;
        ids.push(id);
    }
    let (_, a) = post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{}/recommend", ids[0]),
        json!({}),
    )
    .await;
    let (_, b) = post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{}/recommend", ids[1]),
        json!({}),
    )
    .await;
    // Withdrawn meanwhile: cannot be adopted.
    post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{}/withdraw", ids[0]),
        json!({}),
    )
    .await;
    let (s, _) = post(
        &t,
        &city_rev,
        &format!(
            "/api/v1/recommendations/{}/adopt",
            a["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(s, 409);
    // Adopted at the province first (an operator widens it), the city's adoption would narrow.
    let (s, _) = post(
        &t,
        &province_rev,
        &format!(
            "/api/v1/recommendations/{}/adopt",
            b["id"].as_str().unwrap()
        ),
        json!({ "scope_org_id": p.tree.province }),
    )
    .await;
    assert_eq!(s, 200);
    let (_, c) = post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{}/recommend", ids[1]),
        json!({}),
    )
    .await;
    assert!(
        c["id"].is_null(),
        "recommending above the root is refused: {c}"
    );
}

#[tokio::test]
async fn an_administrators_reset_ends_every_way_in_and_nobody_resets_themselves() {
    let t = TestApp::spawn().await;
    let p = people(&t).await;
    let admin = t
        .account("county-admin", &[("administrator", &p.tree.county)])
        .await;
    // A personal token cannot mint another.
    let (s, _) = post(&t, &p.editor, "/api/v1/me/tokens", json!({ "name": "x" })).await;
    assert_eq!(s, 403);
    let r = t
        .r#as(&admin)
        .patch(&format!("/api/v1/users/{}", admin.id))
        .json(&json!({ "password": "一个全新的足够长密码" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = t
        .r#as(&p.tree.root_admin)
        .patch(&format!("/api/v1/users/{}", p.editor.id))
        .json(&json!({ "password": "一个全新的足够长密码" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = t.r#as(&p.editor).get("/api/v1/me").send().await.unwrap();
    assert_eq!(r.status(), 401, "the reset revoked the personal token");
    assert_eq!(
        t.sign_in(&t.browser(), "editor1", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        t.sign_in(&t.browser(), "editor1", "一个全新的足够长密码")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn an_organisation_with_pending_reviews_is_not_moved() {
    let t = TestApp::spawn().await;
    let p = people(&t).await;
    let id = draft(&t, &p.editor, "待审").await;
    post(
        &t,
        &p.editor,
        &format!("/api/v1/lessons/{id}/submit"),
        json!({ "scope_org_id": p.tree.city }),
    )
    .await;
    let (s, v) = post(
        &t,
        &p.tree.root_admin,
        &format!("/api/v1/orgs/{}/move", p.tree.county),
        json!({ "parent_id": p.tree.sibling_city }),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    let (_, q) = (
        0,
        t.r#as(&p.reviewer)
            .get("/api/v1/review/queue")
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
    );
    let revision = q["items"][0]["revision"]["number"].clone();
    post(
        &t,
        &p.reviewer,
        &format!("/api/v1/lessons/{id}/reject"),
        json!({ "revision": revision, "comment": "重做" }),
    )
    .await;
    let (s, v) = post(
        &t,
        &p.tree.root_admin,
        &format!("/api/v1/orgs/{}/move", p.tree.county),
        json!({ "parent_id": p.tree.sibling_city }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_is_the_hop_the_proxy_added() {
    let t = TestApp::spawn_with(|c| c.trust_forwarded_headers = true).await;
    let p = people(&t).await;
    let client = t.browser();
    let csrf = t.login_csrf(&client).await;
    let r = client
        .post(t.url("/login"))
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.9")
        .form(&[
            ("login", "editor1"),
            ("password", "wrong password!"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let audit: Value = t
        .r#as(&p.tree.root_admin)
        .get("/api/v1/audit?action=login.failure")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["address"], "203.0.113.9", "{audit}");
}

/// Sends `request` on a raw TCP connection and reads the whole answer (the server closes after
/// it): its status, content type and body.
async fn raw_exchange(t: &TestApp, request: Vec<u8>) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and closes")
    .unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// Class 8 of issue 10: a request hyper itself cannot parse — a malformed header line, a head
/// larger than the 64 KiB the server reads — is answered with a problem body like every other
/// client mistake, not hyper's bare 400/431 (which had neither body nor content type).
#[tokio::test]
async fn requests_the_server_cannot_parse_get_problem_bodies() {
    let t = TestApp::spawn().await;
    let (status, content_type, body) = raw_exchange(
        &t,
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["status"], 400, "{body}");
    assert_eq!(body["code"], "invalid_request", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("parsed"),
        "{body}"
    );

    // Exactly 64 KiB of an unfinished head: all of it read (nothing left unread to reset the
    // connection), and over the limit.
    let mut head = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Filler: ".to_vec();
    head.resize(64 * 1024, b'a');
    let (status, content_type, body) = raw_exchange(&t, head).await;
    assert_eq!(status, 431);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["status"], 431, "{body}");
    assert_eq!(body["code"], "invalid_request", "{body}");

    // A sound request on the same server is answered as before.
    let (status, _, _) = raw_exchange(
        &t,
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
}
