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
    // Every field given, and the two flags and the completion share away from their defaults,
    // so a path that drops one shows.
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
            "--completion-percent",
            "75",
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
            "completion_percent": 75,
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
    assert_eq!(cli_row["completion_percent"], 75);
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

/// The problem body of a refused request, after checking it is a 400.
async fn invalid(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 400);
    r.json().await.unwrap()
}

/// The fields a problem body names as refused.
fn refused_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_organisations_completion_share_is_set_from_above_checked_and_audited() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let admin = t.r#as(&tree.root_admin);
    let path = format!("/api/v1/orgs/{}", tree.county);
    assert_eq!(
        admin.json(&path).await["completion_percent"],
        90,
        "the default"
    );

    let r = admin
        .patch(&path)
        .json(&json!({ "completion_percent": 80 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(r.json::<Value>().await.unwrap()["completion_percent"], 80);
    let got = admin.json(&path).await;
    assert_eq!(got["completion_percent"], 80, "{got}");
    assert_eq!(got["review_required"], true, "the other rules are kept");
    let listed: Value = admin.json("/api/v1/orgs").await;
    let county = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == tree.county.as_str())
        .unwrap();
    assert_eq!(county["completion_percent"], 80);

    // The audit entry holds the share before and after, and who changed it.
    let entries = t
        .db()
        .audit_entries(None, Some("org.update"), None, 100)
        .await
        .unwrap();
    let e = entries
        .iter()
        .find(|e| e.target_id.as_deref() == Some(tree.county.as_str()))
        .expect("an org.update entry");
    assert_eq!(
        e.actor_id.as_deref(),
        Some(tree.root_admin.id.as_str()),
        "{e:?}"
    );
    let before: Value = serde_json::from_str(e.before_state.as_deref().unwrap()).unwrap();
    let after: Value = serde_json::from_str(e.after_state.as_deref().unwrap()).unwrap();
    assert_eq!(before["completion_percent"], 90);
    assert_eq!(after["completion_percent"], 80);

    // Outside 50–100, or not a whole number: 400, naming the field; nothing changes.
    for bad in [json!(49), json!(101), json!(-90), json!(i64::MAX)] {
        let r = admin
            .patch(&path)
            .json(&json!({ "completion_percent": bad }))
            .send()
            .await
            .unwrap();
        let p = invalid(r).await;
        assert_eq!(refused_fields(&p), ["completion_percent"], "{bad}: {p}");
        assert!(
            p["detail"].as_str().unwrap().contains("between 50 and 100"),
            "{p}"
        );
    }
    for bad in [json!("x"), json!("80"), json!(80.5), json!(null)] {
        let r = admin
            .patch(&path)
            .json(&json!({ "completion_percent": bad }))
            .send()
            .await
            .unwrap();
        if bad.is_null() {
            // `null` is as absent: the share is kept.
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            continue;
        }
        let p = invalid(r).await;
        assert_eq!(refused_fields(&p), ["completion_percent"], "{bad}: {p}");
        assert!(
            p["detail"].as_str().unwrap().contains("completion_percent"),
            "{bad}: {p}"
        );
    }
    assert_eq!(admin.json(&path).await["completion_percent"], 80);

    // Creating: the bounds are accepted, and every broken rule is reported at once.
    for (share, name) in [(50, "五十"), (100, "一百")] {
        let r = admin
            .post("/api/v1/orgs")
            .json(
                &json!({ "parent_id": tree.city, "name": name, "level": "county",
                           "completion_percent": share }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        assert_eq!(
            r.json::<Value>().await.unwrap()["completion_percent"],
            share
        );
    }
    let r = admin
        .post("/api/v1/orgs")
        .json(
            &json!({ "parent_id": tree.city, "name": "", "level": "county",
                       "completion_percent": 101 }),
        )
        .send()
        .await
        .unwrap();
    let p = invalid(r).await;
    let fields = refused_fields(&p);
    assert!(
        fields.contains(&"name") && fields.contains(&"completion_percent"),
        "{p}"
    );
    let r = admin
        .post("/api/v1/orgs")
        .json(
            &json!({ "parent_id": tree.city, "name": "x", "level": "county",
                       "completion_percent": "x" }),
        )
        .send()
        .await
        .unwrap();
    let p = invalid(r).await;
    assert_eq!(refused_fields(&p), ["completion_percent"], "{p}");

    // The rules of one's own organisation are set from above: the county's administrator
    // cannot lower its share.
    let county_admin = t
        .account("county-admin-cp", &[("administrator", &tree.county)])
        .await;
    let r = t
        .r#as(&county_admin)
        .patch(&path)
        .json(&json!({ "completion_percent": 50 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(admin.json(&path).await["completion_percent"], 80);
}

/// Reports `played` (one stretch, ending at the position) of a 100-second `lesson` as `who`.
async fn play(who: &crate::fixtures::As<'_>, lesson: &str, from_ms: i64, to_ms: i64) {
    let r = who
        .put(&format!("/api/v1/me/positions/{lesson}"))
        .json(&json!({ "position_ms": to_ms, "duration_ms": 100_000,
                       "played": [{ "start_ms": from_ms, "end_ms": to_ms }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_lesson_counts_as_learned_at_its_organisations_completion_share() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let lenient = t.org(&tree.city, "越秀区委党校", "county", "440104").await;
    let strict = t.org(&tree.city, "海珠区委党校", "county", "440105").await;
    let r = t
        .r#as(&tree.root_admin)
        .patch(&format!("/api/v1/orgs/{lenient}"))
        .json(&json!({ "completion_percent": 80 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let at_80 = t
        .published(json!({ "title": "基层党建八成即可", "kind": "video", "org_id": lenient }))
        .await;
    let at_90 = t
        .published(json!({ "title": "基层党建九成为准", "kind": "video", "org_id": strict }))
        .await;
    let member = t.account("learner-share", &[("member", &tree.city)]).await;
    let me = t.r#as(&member);

    // 80 % of each, in two reports of 40 s a minute apart (a report adds at most a minute at
    // first, then twice the time since the one before).
    for lesson in [&at_80, &at_90] {
        play(&me, lesson, 0, 40_000).await;
    }
    sqlx::query("UPDATE learning_progress SET updated_at = updated_at - 60000 WHERE user_id = $1")
        .bind(&member.id)
        .execute(t.db().pool())
        .await
        .unwrap();
    for lesson in [&at_80, &at_90] {
        play(&me, lesson, 40_000, 80_000).await;
    }

    let r = me.get("/api/v1/me/learning").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let archive: Value = r.json().await.unwrap();
    let of = |id: &str| {
        archive["lessons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["lesson_id"] == id)
            .unwrap_or_else(|| panic!("{id} is in the archive: {archive}"))
            .clone()
    };
    let (learned, not_yet) = (of(&at_80), of(&at_90));
    assert_eq!(learned["covered_percent"], 80, "{learned}");
    assert_eq!(learned["completed"], true, "80 % of 80 %: {learned}");
    assert_eq!(not_yet["covered_percent"], 80, "{not_yet}");
    assert_eq!(
        not_yet["completed"], false,
        "80 % of the default 90 %: {not_yet}"
    );
}

#[tokio::test]
async fn the_organisations_page_sets_and_shows_the_completion_share() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let b = t.browser();
    assert_eq!(t.sign_in(&b, "root-admin", PASSWORD).await.status(), 303);
    let csrf = t.session_csrf(&b).await;
    let page = t.page(&b, "/admin/orgs").await;
    assert!(page.contains("完成标准（%）"), "{page}");
    assert!(page.contains("name=\"completion_percent\""), "{page}");
    let english = t.page(&b, "/admin/orgs?lang=en").await;
    assert!(english.contains("Completion share (%)"), "{english}");
    t.page(&b, "/admin/orgs?lang=zh").await;

    let post = |share: &'static str, name: &'static str| {
        let b = &b;
        let csrf = &csrf;
        let parent = &tree.county;
        let url = t.url("/admin/orgs");
        async move {
            let r = b
                .post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("parent_id", parent.as_str()),
                    ("name", name),
                    ("level", "township"),
                    ("review_required", "on"),
                    ("completion_percent", share),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, _) = post("85", "石牌街道党工委").await;
    assert_eq!(status, 303);
    let orgs: Value = t.json("/api/v1/orgs").await;
    let made = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "石牌街道党工委")
        .expect("created")
        .clone();
    assert_eq!(made["completion_percent"], 85);
    assert!(
        t.page(&b, "/admin/orgs").await.contains("<td>85</td>"),
        "the listing shows it"
    );
    // Empty is the default.
    assert_eq!(post("", "猎德街道党工委").await.0, 303);
    let orgs: Value = t.json("/api/v1/orgs").await;
    assert!(
        orgs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "猎德街道党工委" && o["completion_percent"] == 90)
    );
    // Out of range or not a number: a form error naming the field, and nothing is created.
    for bad in ["49", "x"] {
        let (status, page) = post(bad, "员村街道党工委").await;
        assert_eq!(status, 400, "{bad}");
        assert!(page.contains("完成标准"), "{bad}: {page}");
    }
    let orgs: Value = t.json("/api/v1/orgs").await;
    assert!(
        orgs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["name"] != "员村街道党工委")
    );
}
