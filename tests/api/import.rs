//! `lectern import` through the real binary, on both databases and both stores: a folder and a
//! CSV manifest; a dry run that changes nothing; refusals with their reasons; a second run (as
//! after an interruption) that imports nothing twice and reuses the empty lesson a stopped run
//! left behind.

use crate::common::{TestApp, command, mp4, output, pdf_with, sha256_hex};
use serde_json::Value;

async fn import(t: &TestApp, args: &[&str]) -> (bool, String) {
    let mut c = command(&t.config);
    c.arg("import").args(args);
    let out = output(c).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Every lesson of organisation `org` (title → lesson), with its files.
async fn lessons_of(t: &TestApp, org: &str) -> Vec<Value> {
    let v = t
        .json(&format!("/api/v1/lessons?org={org}&limit=100"))
        .await;
    v["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_folder_imports_once_with_a_dry_run_first_and_refusals_named() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("党史专题")).unwrap();
    let video = mp4(200_000);
    std::fs::write(root.join("党史专题/第一讲.mp4"), &video).unwrap();
    std::fs::write(root.join("讲义.pdf"), pdf_with(&["import handout"])).unwrap();
    std::fs::write(root.join("notes.exe"), b"MZ not a lesson").unwrap();
    std::fs::write(root.join(".hidden.mp4"), &video).unwrap();
    let folder = root.to_str().unwrap();

    // A dry run says what would happen and changes nothing.
    let (ok, out) = import(&t, &[folder, "--org", &tree.county, "--dry-run"]).await;
    assert!(!ok, "a refusal makes the exit status 1: {out}");
    assert!(
        out.contains("2 would be imported, 0 skipped (already imported), 1 refused"),
        "{out}"
    );
    assert!(lessons_of(&t, &tree.county).await.is_empty());

    // Without an organisation, every entry is refused with the reason.
    let (_, out) = import(&t, &[folder]).await;
    assert!(
        out.contains("0 imported, 0 skipped (already imported), 3 refused"),
        "{out}"
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let report = elsewhere.path().join("report.csv");
    let (_, out) = import(
        &t,
        &[
            folder,
            "--org",
            &tree.county,
            "--publish",
            "--report",
            report.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        out.contains("2 imported, 0 skipped (already imported), 1 refused"),
        "{out}"
    );
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(
        report.contains("notes.exe\",refused,,\"not a video, audio or document file"),
        "{report}"
    );
    let lessons = lessons_of(&t, &tree.county).await;
    assert_eq!(lessons.len(), 2);
    let video_lesson = lessons.iter().find(|l| l["title"] == "第一讲").unwrap();
    assert_eq!(video_lesson["series"], "党史专题");
    assert_eq!(video_lesson["kind"], "video");
    assert_eq!(video_lesson["status"], "published");
    let detail = t
        .json(&format!(
            "/api/v1/lessons/{}",
            video_lesson["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(detail["assets"][0]["sha256"], sha256_hex(&video).as_str());

    // Run again (as after an interruption): nothing twice.
    let (_, out) = import(&t, &[folder, "--org", &tree.county]).await;
    assert!(
        out.contains("0 imported, 2 skipped (already imported), 1 refused"),
        "{out}"
    );
    assert_eq!(lessons_of(&t, &tree.county).await.len(), 2);
}

#[tokio::test]
async fn a_manifest_imports_its_rows_and_a_stopped_run_is_finished_without_a_second_lesson() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("a.pdf"), pdf_with(&["manifest a"])).unwrap();
    std::fs::write(
        root.join("b.mp3"),
        b"ID3\x03\x00\x00\x00\x00\x00\x00 tone".repeat(50),
    )
    .unwrap();
    let manifest = root.join("课程清单.csv");
    std::fs::write(
        &manifest,
        format!(
            "\u{feff}title,file,tags,lecturer,org_id\n\
             乡村振兴讲义,a.pdf,乡村振兴;农业,王教授,{county}\n\
             理论学习音频,b.mp3,理论,,{county}\n\
             缺文件的课,missing.mp4,,,{county}\n\
             ,a.pdf,,,{county}\n",
            county = tree.county
        ),
    )
    .unwrap();
    // A run stopped after creating the first lesson and before storing its file left this.
    let left = crate::feed::draft(&t, &tree.county, "乡村振兴讲义", "document", &[]).await;

    let (ok, out) = import(&t, &[manifest.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(
        out.contains("2 imported, 0 skipped (already imported), 2 refused"),
        "{out}"
    );
    assert!(out.contains("refused\tline 4\t"), "{out}");
    assert!(out.contains("missing.mp4"), "{out}");
    assert!(out.contains("refused\tline 5\t"), "an empty title: {out}");
    let lessons = lessons_of(&t, &tree.county).await;
    assert_eq!(lessons.len(), 2, "the empty lesson was reused, not doubled");
    let reused = t.json(&format!("/api/v1/lessons/{left}")).await;
    assert_eq!(reused["assets"].as_array().unwrap().len(), 1);
    let audio = lessons
        .iter()
        .find(|l| l["title"] == "理论学习音频")
        .unwrap();
    assert_eq!(audio["tags"], serde_json::json!(["理论"]));
    assert_eq!(audio["status"], "draft");
}
