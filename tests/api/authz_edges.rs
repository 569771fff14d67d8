//! Edges of authorisation found by an outside probe: grants given to another organisation's
//! account, disabled accounts' old tokens, and filenames that disguise their extension.

use crate::common::{TestApp, mp4, problem};
use crate::fixtures::PASSWORD;
use serde_json::{Value, json};

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
