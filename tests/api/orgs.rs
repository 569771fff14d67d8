//! The organisation tree and the administrative commands, run as the real binary.

use crate::common::TestApp;
use crate::fixtures::PASSWORD;
use serde_json::{Value, json};

/// Runs `lectern <args>` against `t`'s database; its stdout, or a panic with its stderr.
async fn lectern(t: &TestApp, args: &[&str], password: Option<&str>) -> String {
    let mut c = crate::common::Cmd::new(env!("CARGO_BIN_EXE_lectern"));
    c.env("LECTERN_DATA_DIR", &t.config.data_dir)
        .env("LECTERN_DATABASE_URL", &t.config.database_url)
        .env("RUST_LOG", "warn")
        .env_remove("LECTERN_PASSWORD")
        .args(args);
    if let Some(p) = password {
        c.env("LECTERN_PASSWORD", p);
    }
    let out = crate::common::output(c).await;
    assert!(
        out.status.success(),
        "lectern {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn id_in(line: &str) -> String {
    line.split_whitespace()
        .find(|w| uuid::Uuid::parse_str(w).is_ok())
        .expect("an id in the output")
        .to_owned()
}

#[tokio::test]
async fn the_command_line_bootstraps_builds_the_tree_and_creates_accounts_that_can_sign_in() {
    let t = TestApp::spawn().await;
    // A lesson made before there were organisations goes to the root at bootstrap.
    let orphan = t.lesson("video").await;
    let out = lectern(
        &t,
        &[
            "bootstrap",
            "--org-name",
            "省委组织部",
            "--level",
            "province",
            "--region",
            "440000",
            "--admin-login",
            "Admin",
            "--admin-name",
            "管理员",
        ],
        Some(PASSWORD),
    )
    .await;
    let root = id_in(out.lines().next().unwrap());
    assert!(!out.contains(PASSWORD), "a given password is not echoed");
    // A second bootstrap is refused.
    let mut again = crate::common::Cmd::new(env!("CARGO_BIN_EXE_lectern"));
    again
        .env("LECTERN_DATA_DIR", &t.config.data_dir)
        .env("LECTERN_DATABASE_URL", &t.config.database_url)
        .env("LECTERN_PASSWORD", PASSWORD)
        .args([
            "bootstrap",
            "--org-name",
            "x",
            "--admin-login",
            "other",
            "--admin-name",
            "x",
        ]);
    let again = crate::common::output(again).await;
    assert!(!again.status.success());

    let city = id_in(
        &lectern(
            &t,
            &[
                "org",
                "create",
                "--parent",
                &root,
                "--name",
                "广州市",
                "--level",
                "city",
                "--region",
                "440100",
            ],
            None,
        )
        .await,
    );
    let county = id_in(
        &lectern(
            &t,
            &[
                "org",
                "create",
                "--parent",
                &city,
                "--name",
                "天河区",
                "--level",
                "county",
            ],
            None,
        )
        .await,
    );
    let tree = lectern(&t, &["org", "list"], None).await;
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 3, "{tree}");
    assert!(lines[2].starts_with("    天河区"), "{tree}");

    // A generated password is printed once.
    let out = lectern(
        &t,
        &[
            "user",
            "create",
            "--login",
            "zhang.san",
            "--name",
            "张三",
            "--grant",
            &format!("editor@{county}"),
        ],
        None,
    )
    .await;
    let generated = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("password printed")
        .to_owned();
    let client = t.browser();
    let r = t.sign_in(&client, "zhang.san", &generated).await;
    assert_eq!(r.status(), 303);
    assert!(
        lectern(&t, &["user", "list"], None)
            .await
            .contains("editor@天河区")
    );
    assert!(
        lectern(
            &t,
            &["user", "grant", "zhang.san", &format!("reviewer@{city}")],
            None
        )
        .await
        .contains("granted")
    );
    assert!(
        lectern(
            &t,
            &["user", "revoke", "zhang.san", &format!("reviewer@{city}")],
            None
        )
        .await
        .contains("revoked")
    );
    // Setting a password ends the account's sessions.
    lectern(
        &t,
        &["user", "password", "zhang.san"],
        Some("另一个足够长的新密码2026"),
    )
    .await;
    let me = client.get(t.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 401);
    assert_eq!(
        t.sign_in(&t.browser(), "zhang.san", "另一个足够长的新密码2026")
            .await
            .status(),
        303
    );

    // The administrator signs in with the login in any case; the orphan lesson is the root's.
    assert_eq!(
        t.sign_in(&t.browser(), "admin", PASSWORD).await.status(),
        303
    );
    let lesson: Value = t.json(&format!("/api/v1/lessons/{orphan}")).await;
    assert_eq!(lesson["org_id"], root.as_str());
    let audit: Value = t.json("/api/v1/audit?limit=100").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "bootstrap",
        "org.create",
        "user.create",
        "user.grant",
        "user.revoke",
        "user.update",
        "login.success",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
}

#[tokio::test]
async fn moving_an_organisation_moves_its_subtree_and_its_rights_with_it() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let city_admin = t
        .account("city-admin", &[("administrator", &tree.city)])
        .await;
    let editor = t
        .account("county-editor", &[("editor", &tree.county)])
        .await;
    let village = t.org(&tree.county, "石牌街道", "township", "440106").await;
    let r = t
        .r#as(&editor)
        .post("/api/v1/lessons")
        .json(&json!({ "title": "街道党课", "kind": "audio", "org_id": village }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let lesson: Value = r.json().await.unwrap();

    // Cycles and moving the root are refused.
    let r = t
        .post(&format!("/api/v1/orgs/{}/move", tree.city))
        .json(&json!({ "parent_id": village }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = t
        .post(&format!("/api/v1/orgs/{}/move", tree.province))
        .json(&json!({ "parent_id": tree.city }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // The province's administrator moves the county (with its township) to the other city.
    let r = t
        .r#as(&tree.root_admin)
        .post(&format!("/api/v1/orgs/{}/move", tree.county))
        .json(&json!({ "parent_id": tree.sibling_city }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let orgs: Value = t.json("/api/v1/orgs").await;
    let parent_of = |id: &str| {
        orgs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap()["parent_id"]
            .clone()
    };
    assert_eq!(parent_of(&tree.county), tree.sibling_city.as_str());
    assert_eq!(parent_of(&village), tree.county.as_str());

    // The first city's administrator no longer sees or manages it; the editor keeps their lesson.
    let seen: Value = t
        .r#as(&city_admin)
        .get("/api/v1/orgs")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        seen["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["id"] != tree.county.as_str() && o["id"] != village.as_str())
    );
    let r = t
        .r#as(&city_admin)
        .post("/api/v1/orgs")
        .json(&json!({ "parent_id": village, "name": "x", "level": "branch" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let id = lesson["id"].as_str().unwrap();
    let r = t
        .r#as(&editor)
        .patch(&format!("/api/v1/lessons/{id}"))
        .json(&json!({ "title": "街道党课（修订）" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: Value = t
        .r#as(&city_admin)
        .get("/api/v1/lessons")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["id"] != id),
        "a moved subtree's drafts leave the old city's view"
    );
}

/// An organisation with its ids and times taken out, to compare two made the same way.
fn without_ids(mut v: Value) -> Value {
    for k in ["id", "created_at"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[tokio::test]
async fn the_command_line_and_the_api_create_identical_organisations_and_audit_entries() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    // Every field given, and the two flags away from their defaults, so a path that drops one
    // shows.
    let out = lectern(
        &t,
        &[
            "org",
            "create",
            "--parent",
            &tree.city,
            "--name",
            " 番禺区委党校 ",
            "--level",
            "county",
            "--region",
            "440113",
            "--review-required",
            "false",
            "--self-approval",
            "true",
        ],
        None,
    )
    .await;
    let from_cli = id_in(out.lines().next().unwrap());
    let r = t
        .post("/api/v1/orgs")
        .json(&json!({
            "parent_id": tree.city,
            "name": " 番禺区委党校 ",
            "level": "county",
            "region_code": "440113",
            "review_required": false,
            "self_approval": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let from_api = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The rows, as stored (the path differs only by the node's own id).
    let cli_row = t.db().org(&from_cli).await.unwrap().unwrap();
    let api_row = t.db().org(&from_api).await.unwrap().unwrap();
    assert_eq!(
        cli_row.path.trim_end_matches(&format!("{from_cli}/")),
        api_row.path.trim_end_matches(&format!("{from_api}/"))
    );
    let cli_row = without_ids(json!(cli_row));
    assert_eq!(cli_row, without_ids(json!(api_row)));
    assert_eq!(cli_row["review_required"], false);
    assert_eq!(cli_row["self_approval"], true);
    assert_eq!(cli_row["name"], "番禺区委党校");
    assert_eq!(cli_row["level"], "county");

    // The audit entries: same action, kind, organisation and payload.
    let entries = t
        .db()
        .audit_entries(None, Some("org.create"), None, 100)
        .await
        .unwrap();
    let entry = |id: &str| {
        let e = entries
            .iter()
            .find(|e| e.target_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no org.create entry for {id}"));
        assert_eq!(e.org_id.as_deref(), Some(id));
        assert!(e.before_state.is_none());
        let after: Value = serde_json::from_str(e.after_state.as_deref().unwrap()).unwrap();
        assert_eq!(after["id"], id);
        (e.action.clone(), e.target_kind.clone(), without_ids(after))
    };
    let (cli_entry, api_entry) = (entry(&from_cli), entry(&from_api));
    assert_eq!(cli_entry, api_entry);
    assert_eq!(cli_entry.2, cli_row);
    let actors: Vec<&str> = entries
        .iter()
        .filter(|e| [&from_cli, &from_api].contains(&&e.target_id.clone().unwrap_or_default()))
        .map(|e| e.actor.as_str())
        .collect();
    assert!(actors.contains(&"cli"), "{actors:?}");
}
