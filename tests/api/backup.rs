//! Backup, restore, verify and gc through the real binary (`lectern backup|restore|verify|gc`),
//! on both databases and both stores: a backup taken while the service runs, restored onto a
//! fresh data folder, database and bucket, gives back every lesson, asset digest and feed
//! position; verify finds what is missing, damaged or orphaned; gc removes only old orphans.

use crate::common::{TestApp, command, mp4, output, sha256_hex, test_config};
use crate::feed::{draft, platform, publish, pull};
use serde_json::{Value, json};

/// Runs `lectern <args>` on `config`; its exit success and standard output.
async fn lectern(config: &lectern::config::Config, args: &[&str]) -> (bool, String) {
    let mut c = command(config);
    c.args(args);
    let out = output(c).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        eprintln!("lectern {args:?} failed:\n{stdout}\n{stderr}");
    }
    (out.status.success(), stdout)
}

/// A lesson as the API shows it, without what a restore may not keep the same: nothing, so far.
async fn lesson(t: &TestApp, id: &str) -> Value {
    let r = t
        .get(&format!("/api/v1/lessons/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "lesson {id}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_backup_restored_onto_a_fresh_instance_gives_back_lessons_digests_and_feed_positions() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (_, key) = platform(&t, &tree.county, "区融媒体", json!({})).await;
    let mut lessons = Vec::new();
    let mut assets = Vec::new();
    for (i, (kind, file, data)) in [
        (
            "document",
            "讲义.pdf",
            crate::common::pdf_with(&["backup handout"]),
        ),
        ("video", "课程.mp4", mp4(300_000)),
        (
            "audio",
            "音频.mp3",
            b"ID3\x03\x00\x00\x00\x00\x00\x00 audio".repeat(100),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let id = draft(&t, &tree.county, &format!("备份第{i}讲"), kind, &["备份"]).await;
        let r = t.upload(&id, "master", file, data.clone()).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let asset = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assets.push((asset, sha256_hex(&data)));
        publish(&t, &id, json!({})).await;
        lessons.push(id);
    }
    lessons.push(draft(&t, &tree.city, "未发布的草稿", "video", &[]).await);
    // The document's text is extracted (a job) before the copy, so both sides show it.
    let started = std::time::Instant::now();
    while lesson(&t, &lessons[0]).await["assets"][0]["text"]["status"] != "ok" {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "not extracted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The platform has followed the feed part of the way.
    let first = pull(&t, &key, "", 2).await;
    let cursor = first["cursor"].as_str().unwrap().to_owned();

    // Backed up while the service runs; a change after it is not in the copy.
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("backup");
    let to_text = to.to_str().unwrap();
    let (ok, out) = lectern(&t.config, &["backup", "--to", to_text]).await;
    assert!(ok, "{out}");
    let later = draft(&t, &tree.county, "备份之后", "video", &[]).await;
    // A second backup into the same folder is refused: it is not empty.
    assert!(!lectern(&t.config, &["backup", "--to", to_text]).await.0);

    // Restored onto a fresh data folder, database and bucket.
    let fresh = tempfile::tempdir().unwrap();
    let config = test_config(fresh.path()).await;
    let (ok, out) = lectern(&config, &["restore", "--from", to_text]).await;
    assert!(ok, "{out}");
    assert!(out.contains("search index rebuilt"), "{out}");
    // Restoring again onto what is now a full database is refused, and changes nothing.
    assert!(!lectern(&config, &["restore", "--from", to_text]).await.0);
    let (ok, out) = lectern(&config, &["verify"]).await;
    assert!(ok, "{out}");
    assert!(out.contains(" 0 missing, 0 damaged"), "{out}");

    let app = lectern::startup::Application::build(config.clone())
        .await
        .unwrap();
    let restored = TestApp::around(app, config, fresh).await;
    for id in &lessons {
        assert_eq!(lesson(&t, id).await, lesson(&restored, id).await);
    }
    let r = restored
        .get(&format!("/api/v1/lessons/{later}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "a lesson made after the backup is not in it"
    );
    for (asset, sha) in &assets {
        assert_eq!(&sha256_hex(&restored.content(asset).await), sha);
    }
    // The platform's key still works and its cursor goes on where it was, with the same items.
    let next_original = pull(&t, &key, &cursor, 100).await;
    let next_restored = pull(&restored, &key, &cursor, 100).await;
    // The same items (their presigned URLs name each instance's store, so they differ).
    let essence = |page: &Value| -> Vec<(Value, Value, Value, Value)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["change_id"].clone(),
                    i["lesson_id"].clone(),
                    i["op"].clone(),
                    i["checksum"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(essence(&next_restored), essence(&next_original));
    assert!(
        !next_restored["items"].as_array().unwrap().is_empty(),
        "first page {first}, then {next_restored}"
    );
    // Search works on the rebuilt index.
    let v = restored.search("备份").await;
    assert_eq!(v["hits"].as_array().unwrap().len(), 3, "{v}");
}

#[tokio::test]
async fn verify_finds_missing_damaged_and_orphan_objects_and_gc_removes_only_old_orphans() {
    let t = TestApp::spawn().await;
    let id = t.lesson("document").await;
    let pdf = crate::common::pdf_with(&["verify me"]);
    let r = t.upload(&id, "master", "v.pdf", pdf).await;
    assert_eq!(r.status(), 201);
    let (ok, out) = lectern(&t.config, &["verify"]).await;
    assert!(ok, "{out}");
    assert!(out.contains(" 0 missing, 0 damaged, 0 orphans"), "{out}");

    // An object nothing refers to is an orphan: listed, not a failure; gc keeps it while it is
    // younger than the grace period, lists it on a dry run, then deletes it — and nothing else.
    t.store()
        .put(
            "objects/stray",
            bytes::Bytes::from_static(b"stray"),
            "text/plain",
        )
        .await
        .unwrap();
    let (ok, out) = lectern(&t.config, &["verify", "--quick"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("orphan\tobjects/stray"), "{out}");
    let (ok, out) = lectern(&t.config, &["gc"]).await;
    assert!(ok && out.contains("0 orphan objects deleted"), "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out) = lectern(&t.config, &["gc", "--grace-hours", "0", "--dry-run"]).await;
    assert!(ok && out.contains("would delete\tobjects/stray"), "{out}");
    assert!(t.object_keys("objects/stray").await.len() == 1);
    let (ok, out) = lectern(&t.config, &["gc", "--grace-hours", "0"]).await;
    assert!(ok && out.contains("deleted\tobjects/stray"), "{out}");
    assert!(t.object_keys("objects/stray").await.is_empty());
    let (ok, out) = lectern(&t.config, &["verify"]).await;
    assert!(
        ok && out.contains(" 0 missing, 0 damaged, 0 orphans"),
        "{out}"
    );

    // A stored file whose bytes changed is damaged (a full check reads it; --quick does not).
    let blob = t
        .db()
        .catalogued_objects()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == "blob")
        .unwrap();
    t.store()
        .put(
            &blob.key,
            bytes::Bytes::from_static(b"not the pdf"),
            "application/pdf",
        )
        .await
        .unwrap();
    let (ok, out) = lectern(&t.config, &["verify"]).await;
    assert!(!ok);
    assert!(
        out.contains(&format!("damaged\tblob\t{}", blob.key)),
        "{out}"
    );
    assert!(lectern(&t.config, &["verify", "--quick"]).await.0);
    // A missing one fails even the quick check.
    t.store().delete(&blob.key).await.unwrap();
    let (ok, out) = lectern(&t.config, &["verify", "--quick"]).await;
    assert!(!ok);
    assert!(
        out.contains(&format!("missing\tblob\t{}", blob.key)),
        "{out}"
    );
}
