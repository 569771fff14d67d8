use crate::common::{TestApp, mp4, problem, sha256_hex};
use serde_json::Value;

#[tokio::test]
async fn a_200_mib_streaming_upload_comes_back_byte_for_byte() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let data = mp4(200 * 1024 * 1024 + 12_345);
    let expected = sha256_hex(&data);
    let r = t
        .upload_streamed(&lesson, "master", "第一讲.mp4", &data)
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let asset: Value = r.json().await.unwrap();
    assert_eq!(asset["sha256"], expected.as_str());
    assert_eq!(asset["size"], data.len() as u64);
    assert_eq!(asset["content_type"], "video/mp4");
    let id = asset["id"].as_str().unwrap();
    let body = t.content(id).await;
    assert_eq!(body.len(), data.len());
    assert_eq!(sha256_hex(&body), expected);
    let lesson: Value = t.json(&format!("/api/v1/lessons/{lesson}")).await;
    assert_eq!(lesson["assets"][0]["id"], id);
}

#[tokio::test]
async fn the_same_bytes_uploaded_twice_are_stored_once() {
    let t = TestApp::spawn().await;
    let a = t.lesson("video").await;
    let b = t.lesson("video").await;
    let data = mp4(9 * 1024 * 1024); // above one part: exercises the multipart path
    let first: Value = t
        .upload(&a, "master", "a.mp4", data.clone())
        .await
        .json()
        .await
        .unwrap();
    let second: Value = t
        .upload(&b, "master", "b.mp4", data.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(first["id"], second["id"]);
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(
        t.object_keys("objects/").await.len(),
        1,
        "one object for identical bytes"
    );
    let (blobs, bytes) = t.db().blob_totals().await.unwrap();
    assert_eq!((blobs, bytes), (1, data.len() as i64));
    // Different bytes get a different, new object.
    let mut other = data.clone();
    other[100] ^= 1;
    let third: Value = t
        .upload(&a, "master", "c.mp4", other)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(third["sha256"], first["sha256"]);
    assert_eq!(t.object_keys("objects/").await.len(), 2);
}

#[tokio::test]
async fn html_renamed_mp4_and_other_disallowed_content_is_refused() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
        .to_vec();
    for (role, name, data) in [
        ("master", "lecture.mp4", html.clone()),
        ("attachment", "page.html", html.clone()),
        (
            "poster",
            "logo.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
        ),
        (
            "attachment",
            "notes.txt",
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00rest".to_vec(),
        ),
        ("master", "lecture", mp4(1000)),
        ("master", "empty.mp4", Vec::new()),
        ("subtitle", "lecture.mp4", mp4(1000)),
    ] {
        let r = t.upload(&lesson, role, name, data).await;
        assert_eq!(r.status(), 415, "{role} {name}");
        problem(r).await;
    }
    let r = t
        .upload(&lesson, "cover", "a.jpg", vec![0xff, 0xd8, 0xff, 0xe0])
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        t.object_keys("").await.is_empty(),
        "refused uploads leave nothing behind"
    );
    let lesson: Value = t.json(&format!("/api/v1/lessons/{lesson}")).await;
    assert_eq!(lesson["assets"], serde_json::json!([]));
}

#[tokio::test]
async fn hostile_filenames_are_handled_safely() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let r = t
        .upload(&lesson, "master", "../../../etc/第一讲.mp4", mp4(2000))
        .await;
    assert_eq!(r.status(), 201);
    let asset: Value = r.json().await.unwrap();
    assert_eq!(asset["filename"], "第一讲.mp4", "directories are stripped");
    let r = t
        .get(asset["content_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''%E7%AC%AC"),
        "{disposition}"
    );
    assert!(!disposition.contains(".."), "{disposition}");

    let r = t.upload(&lesson, "master", "a\0b.mp4", mp4(2000)).await;
    assert_eq!(problem(r).await["status"], 400);
    let long = format!("{}.mp4", "长".repeat(100)); // 300 bytes of UTF-8
    let r = t.upload(&lesson, "master", &long, mp4(2000)).await;
    assert_eq!(problem(r).await["status"], 400);
    // Only the one accepted upload was stored.
    assert_eq!(t.object_keys("").await.len(), 1);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_leaves_nothing_behind() {
    let t = TestApp::spawn_with(|c| c.max_upload_bytes = 12 * 1024 * 1024).await;
    let lesson = t.lesson("video").await;
    // Declared too large: refused before reading.
    let r = t
        .upload(&lesson, "master", "big.mp4", mp4(13 * 1024 * 1024))
        .await;
    assert_eq!(r.status(), 413);
    assert_eq!(problem(r).await["code"], "payload_too_large");
    // Streamed without a length: refused when it crosses the limit, after parts were written.
    let data = mp4(30 * 1024 * 1024);
    // The server answers as soon as the limit is crossed, so the client may see the connection
    // close before it reads the answer; what matters is what remains on the server.
    if let Ok(r) = t.upload_streamed(&lesson, "master", "big.mp4", &data).await {
        assert_eq!(r.status(), 413);
    }
    assert!(t.object_keys("").await.is_empty(), "no object remains");
    let lesson: Value = t.json(&format!("/api/v1/lessons/{lesson}")).await;
    assert_eq!(lesson["assets"], serde_json::json!([]));
    assert_eq!(
        t.open_multipart_uploads().await,
        0,
        "the multipart upload was aborted"
    );
}
