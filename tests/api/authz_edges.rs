//! Edges of authorisation found by an outside probe: disabled accounts' old tokens.

use crate::common::TestApp;
use crate::fixtures::PASSWORD;
use serde_json::json;

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

