//! Edges of authorisation found by an outside probe: a platform key on the staff side (every
//! API operation the OpenAPI document marks as needing an account or operator token, and every
//! page), grants given to another organisation's account, disabled accounts' old tokens, and
//! filenames that disguise their extension.

use crate::common::{TestApp, mp4, problem};
use crate::feed::{platform, published};
use crate::fixtures::PASSWORD;
use reqwest::Method;
use serde_json::{Value, json};

/// The pages, by method and route: the one list of them the walk below uses. `{id}` is a lesson
/// (or, under `/admin/users`, an account). The walk checks it against the router's own route list.
const PAGES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/search"),
    ("GET", "/learn/{id}"),
    ("GET", "/series/{name}"),
    ("GET", "/lecturers/{name}"),
    ("GET", "/me/learning"),
    ("GET", "/admin/status"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/account/password"),
    ("POST", "/account/password"),
    ("GET", "/lessons"),
    ("GET", "/lessons/new"),
    ("POST", "/lessons/new"),
    ("GET", "/lessons/{id}"),
    ("GET", "/lessons/{id}/edit"),
    ("POST", "/lessons/{id}/edit"),
    ("GET", "/lessons/{id}/upload"),
    ("POST", "/lessons/{id}/{step}"),
    ("GET", "/review"),
    ("POST", "/review/{id}/approve"),
    ("POST", "/review/{id}/reject"),
    ("GET", "/admin/orgs"),
    ("POST", "/admin/orgs"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("GET", "/admin/platforms"),
    ("GET", "/admin/jobs"),
    ("GET", "/admin/reports"),
    ("GET", "/admin/synonyms"),
    ("POST", "/admin/synonyms"),
    ("POST", "/admin/jobs/retry"),
    ("POST", "/admin/jobs/{id}/retry"),
    ("POST", "/admin/jobs/{id}/reprocess"),
    ("POST", "/admin/users/{id}/grants"),
    ("POST", "/admin/users/{id}/grants/remove"),
];

/// Fills a route's parameters with real ids of things the platform could be tempted by: a
/// lesson it receives, its own organisation and platform, an account of that organisation.
fn concrete(route: &str, ids: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("a closed parameter") + open;
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        // A parameter is named by the segment before it (`/users/{id}`) or by itself.
        let noun = out.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let value = ids
            .iter()
            .find(|(k, _)| *k == format!("{noun}/{name}") || *k == name)
            .map_or("00000000-0000-0000-0000-000000000000", |(_, v)| *v);
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// What was answered instead of a 403 problem body with code `forbidden`; `None` if it was one.
/// A HEAD answer has no body, so only its status counts.
async fn not_a_refusal(r: reqwest::Response, head: bool) -> Option<String> {
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if head {
        return (status != 403).then(|| format!("{status}"));
    }
    let body = r.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&body).map(|v| v["code"].clone());
    let refused = status == 403
        && kind == "application/problem+json"
        && code.as_ref().is_ok_and(|c| c == "forbidden");
    (!refused).then(|| format!("{status} {kind}"))
}

#[tokio::test]
async fn a_platform_key_is_refused_on_every_staff_endpoint_and_page() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let member = t.account("city-member", &[("member", &tree.city)]).await;
    let (platform_id, key) = platform(&t, &tree.city, "市级门户", json!({})).await;
    let lesson = published(&t, &tree.city, "新时代党建工作", "video", &[]).await;
    let asset = {
        let r = t.upload(&lesson, "master", "v.mp4", mp4(4000)).await;
        // Published lessons' files are frozen for accounts, not for the operator token.
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let with_key = |m: Method, path: &str| {
        t.client
            .request(m, t.url(path))
            .bearer_auth(&key)
            .header("tus-resumable", "1.0.0")
    };

    // The key works where it belongs, so every refusal below is the staff side's.
    for path in [
        "/api/v1/feed".to_owned(),
        "/api/v1/feed/snapshot".to_owned(),
        format!("/api/v1/lessons/{lesson}"),
        "/api/v1/lessons".to_owned(),
        format!("/api/v1/assets/{asset}"),
        "/api/v1/search?q=党建".to_owned(),
        "/oai?verb=Identify".to_owned(),
    ] {
        let r = with_key(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    }

    let ids = [
        ("lessons/id", lesson.as_str()),
        ("assets/id", asset.as_str()),
        ("orgs/id", tree.city.as_str()),
        ("users/id", member.id.as_str()),
        ("platforms/id", platform_id.as_str()),
        ("review/id", lesson.as_str()),
        ("role", "member"),
        ("org_id", tree.city.as_str()),
        ("lesson_id", lesson.as_str()),
    ];
    let doc: Value = t
        .client
        .get(t.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The walk is driven by the OpenAPI document and `PAGES`; the router's own route list proves
    // together they name every route, so a new route cannot slip past this walk unnoticed.
    const NOT_STAFF: &[&str] = &[
        "/api/openapi.json",
        "/oai",
        "/feeds/series/{file}",
        "/feeds/artwork.png",
        "/health/live",
        "/health/ready",
        "/static/{name}",
    ];
    for path in lectern::http::route_paths() {
        let known = doc["paths"].get(path.as_str()).is_some()
            || PAGES.iter().any(|(_, p)| *p == path)
            || NOT_STAFF.contains(&path.as_str());
        assert!(
            known,
            "{path} is in neither the OpenAPI document nor PAGES: walk it too"
        );
    }
    let mut walked: Vec<String> = Vec::new();
    let mut wrong: Vec<String> = Vec::new();
    for (route, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // Operations for accounts and operators only: a bearer token, never a platform key.
            let staff = op["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty() && s.iter().all(|r| r.get("bearer").is_some()));
            if !staff {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let path = concrete(route, &ids);
            let mut request = with_key(m.clone(), &path);
            if matches!(m, Method::POST | Method::PATCH | Method::PUT) {
                request = request.json(&json!({}));
            }
            let r = request.send().await.unwrap();
            if let Some(answer) = not_a_refusal(r, m == Method::HEAD).await {
                wrong.push(format!("{method} {route}: {answer}"));
            }
            walked.push(format!("{method} {route}"));
        }
    }
    for (method, route) in PAGES {
        let path = concrete(
            route,
            &[("users/id", &member.id), ("id", &lesson), ("name", "x")],
        );
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = with_key(m.clone(), &path);
        if m == Method::POST {
            request = request.form(&[("csrf", "x")]);
        }
        let r = request.send().await.unwrap();
        if let Some(answer) = not_a_refusal(r, false).await {
            wrong.push(format!("page {method} {route}: {answer}"));
        }
        walked.push(format!("page {method} {route}"));
    }
    // The walk covers the listings the probe found answering 200 with empty lists.
    for listing in [
        "get /api/v1/orgs",
        "get /api/v1/users",
        "get /api/v1/review/queue",
        "get /api/v1/platforms",
        "page GET /lessons",
        "page GET /admin/orgs",
    ] {
        assert!(walked.iter().any(|w| w == listing), "not walked: {listing}");
    }
    assert!(
        wrong.is_empty(),
        "not refused with 403:\n{}",
        wrong.join("\n")
    );

    // Every refusal is in the audit log, under the platform's organisation.
    let r = t
        .r#as(&tree.root_admin)
        .get("/api/v1/audit")
        .query(&[("action", "denied.staff_side"), ("limit", "500")])
        .send()
        .await
        .unwrap();
    let audit: Value = r.json().await.unwrap();
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), walked.len(), "{audit}");
    assert!(
        entries.iter().all(|e| e["org_id"] == tree.city.as_str()
            && e["actor"] == format!("platform:{platform_id}"))
    );
}

/// How many roles account `user` holds, as the operator reads them.
async fn grants_of(t: &TestApp, user: &str) -> usize {
    let v = t.json(&format!("/api/v1/users/{user}")).await;
    v["grants"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_grant_needs_administrative_rights_over_the_accounts_own_organisations() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let city_admin = t
        .account("city-admin", &[("administrator", &tree.city)])
        .await;
    let sibling_editor = t
        .account("sibling-editor", &[("editor", &tree.sibling_city)])
        .await;
    let county_member = t
        .account("county-member", &[("member", &tree.county)])
        .await;
    let grant = |who: &crate::fixtures::Account, user: &str, role: &str, org: &str| {
        t.r#as(who)
            .post(&format!("/api/v1/users/{user}/grants"))
            .json(&json!({ "role": role, "org_id": org }))
            .send()
    };

    // The city's administrator may not pull the sibling city's editor into the city.
    let r = grant(&city_admin, &sibling_editor.id, "editor", &tree.city)
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    problem(r).await;
    assert_eq!(grants_of(&t, &sibling_editor.id).await, 1);
    let r = t
        .r#as(&tree.root_admin)
        .get("/api/v1/audit")
        .query(&[("action", "denied.grant")])
        .send()
        .await
        .unwrap();
    let audit: Value = r.json().await.unwrap();
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target_id"] == sibling_editor.id.as_str()),
        "{audit}"
    );
    // An unknown account is refused the same way, so ids cannot be probed.
    let r = grant(&city_admin, "no-such-user", "editor", &tree.city)
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Inside their subtree they may; from above both organisations, so may the province's.
    let r = grant(&city_admin, &county_member.id, "editor", &tree.city)
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(grants_of(&t, &county_member.id).await, 2);
    let r = grant(&tree.root_admin, &sibling_editor.id, "editor", &tree.city)
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(grants_of(&t, &sibling_editor.id).await, 2);
}

#[tokio::test]
async fn re_enabling_an_account_does_not_revive_its_old_tokens_or_sessions() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("city-editor", &[("editor", &tree.city)]).await;
    let browser = t.browser();
    assert_eq!(
        t.sign_in(&browser, &editor.login, PASSWORD).await.status(),
        303
    );
    let me = |client: &reqwest::Client, token: Option<&str>| {
        let r = client.get(t.url("/api/v1/me"));
        let r = match token {
            Some(token) => r.bearer_auth(token),
            None => r,
        };
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(me(&t.client, Some(&editor.token)).await, 200);
    assert_eq!(me(&browser, None).await, 200);

    let set_disabled = |disabled: bool| {
        t.r#as(&tree.root_admin)
            .patch(&format!("/api/v1/users/{}", editor.id))
            .json(&json!({ "disabled": disabled }))
            .send()
    };
    assert_eq!(set_disabled(true).await.unwrap().status(), 200);
    assert_eq!(set_disabled(false).await.unwrap().status(), 200);

    assert_eq!(me(&t.client, Some(&editor.token)).await, 401);
    assert_eq!(me(&browser, None).await, 401);
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(&editor.id)
    .fetch_one(t.db().pool())
    .await
    .unwrap();
    assert_eq!(live, 0, "a personal token survived disabling");
    // The account itself works again: its owner signs in and makes new tokens.
    let fresh = t.browser();
    assert_eq!(
        t.sign_in(&fresh, &editor.login, PASSWORD).await.status(),
        303
    );
    assert_eq!(me(&fresh, None).await, 200);
}

/// The name of an uploaded asset, from its JSON.
fn name_of(v: &Value) -> String {
    v["filename"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn filenames_lose_bidi_overrides_and_zero_width_characters() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    const SPOOF: &str = "lecture\u{202E}4pm.exe";
    const HIDDEN: &[char] = &['\u{202E}', '\u{200D}', '\u{200B}', '\u{2066}', '\u{FEFF}'];

    // A name whose real extension is refused stays refused once its override is gone.
    let r = t.upload(&lesson, "master", SPOOF, mp4(3000)).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    problem(r).await;

    // Plain upload: the stored name and the download's Content-Disposition show what it is.
    let r = t
        .upload(
            &lesson,
            "master",
            "\u{FEFF}lecture\u{202E}4pm\u{200D}.m\u{200B}p4",
            mp4(3000),
        )
        .await;
    assert_eq!(r.status(), 201);
    let asset: Value = r.json().await.unwrap();
    assert_eq!(name_of(&asset), "lecture4pm.mp4");
    let id = asset["id"].as_str().unwrap();
    let r = t
        .get(&format!("/api/v1/assets/{id}/content"))
        .send()
        .await
        .unwrap();
    let disposition = r.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.ends_with("filename*=UTF-8''lecture4pm%2Emp4"),
        "{disposition}"
    );

    // tus: the name comes in the metadata and is checked when the upload completes.
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    let metadata = format!(
        "lesson_id {},role {},filename {}",
        b64(&lesson),
        b64("subtitle"),
        b64("第\u{200D}一讲\u{2066}.vtt\u{2069}"),
    );
    let vtt = b"WEBVTT\n\n00:00.000 --> 00:01.000\n\xe5\xaf\xbc\xe8\xae\xba\n".to_vec();
    let r = t
        .post("/api/v1/uploads")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", vtt.len().to_string())
        .header("upload-metadata", metadata)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let r = t
        .client
        .patch(t.url(&location))
        .bearer_auth(&t.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(vtt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let asset_id = r.headers()["lectern-asset-id"].to_str().unwrap().to_owned();
    let v = t.json(&format!("/api/v1/assets/{asset_id}")).await;
    assert_eq!(name_of(&v), "第一讲.vtt");

    // A name stored before the rule is still served without its invisible characters.
    sqlx::query("UPDATE assets SET filename = $2 WHERE id = $1")
        .bind(id)
        .bind(format!("old{SPOOF}\u{200B}.mp4"))
        .execute(t.db().pool())
        .await
        .unwrap();
    let r = t
        .get(&format!("/api/v1/assets/{id}/content"))
        .send()
        .await
        .unwrap();
    let disposition = r.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.ends_with("filename*=UTF-8''oldlecture4pm%2Eexe%2Emp4"),
        "{disposition}"
    );
    let decoded = percent_encoding::percent_decode_str(disposition.rsplit("''").next().unwrap())
        .decode_utf8()
        .unwrap();
    assert!(!decoded.contains(HIDDEN), "{decoded:?}");
}
