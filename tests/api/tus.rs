use crate::common::{Service, TestApp, cli_token, mp4, problem, sha256_hex, test_config};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub(crate) const MIB: usize = 1024 * 1024;

fn meta(lesson: &str, role: &str, filename: &str) -> String {
    format!(
        "lesson_id {},role {},filename {}",
        STANDARD.encode(lesson),
        STANDARD.encode(role),
        STANDARD.encode(filename)
    )
}

pub(crate) async fn create(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    lesson: &str,
    len: usize,
    name: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", len.to_string())
        .header("upload-metadata", meta(lesson, "master", name))
        .send()
        .await
        .unwrap()
}

/// A tus PATCH at `offset` with the protocol's headers; the caller adds the body and any extras.
pub(crate) fn patch_request(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    offset: usize,
) -> reqwest::RequestBuilder {
    client
        .patch(url)
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
}

/// The `Upload-Checksum` value for `data`.
fn sha256_checksum(data: &[u8]) -> String {
    format!("sha256 {}", STANDARD.encode(Sha256::digest(data)))
}

/// Sends `chunk` at `offset`, with its checksum if asked; the error if the send fails.
pub(crate) async fn try_patch(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    offset: usize,
    chunk: Vec<u8>,
    checksum: bool,
) -> reqwest::Result<reqwest::Response> {
    let mut req = patch_request(client, url, token, offset);
    if checksum {
        req = req.header("upload-checksum", sha256_checksum(&chunk));
    }
    req.body(chunk).send().await
}

pub(crate) async fn patch(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    offset: usize,
    chunk: Vec<u8>,
    checksum: bool,
) -> reqwest::Response {
    try_patch(client, url, token, offset, chunk, checksum)
        .await
        .unwrap()
}

pub(crate) async fn head(client: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    client
        .head(url)
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap()
}

/// Sends the rest of `data` from `offset` in 5 MiB pieces after the request in flight was cut
/// off (its node killed): until that request's lease runs out the server answers 423 without
/// reading the body, which the client may see as a broken pipe — both mean "retry shortly".
/// Returns the asset the last piece made.
pub(crate) async fn resume(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    data: &[u8],
    mut offset: usize,
) -> String {
    let started = std::time::Instant::now();
    let mut asset = None;
    while offset < data.len() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stuck at {offset}"
        );
        let end = (offset + 5 * MIB).min(data.len());
        let sent = try_patch(client, url, token, offset, data[offset..end].to_vec(), true).await;
        let r = match sent {
            Ok(r) if r.status() != 423 => r,
            _ => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
        };
        assert_eq!(r.status(), 204, "at {offset}");
        asset = r
            .headers()
            .get("lectern-asset-id")
            .map(|v| v.to_str().unwrap().to_owned());
        offset = end;
    }
    asset.expect("the last piece names the asset")
}

impl TestApp {
    async fn tus_create(&self, lesson: &str, len: usize, name: &str) -> String {
        let r = create(&self.client, &self.base, &self.token, lesson, len, name).await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        assert_eq!(r.headers()["tus-resumable"], "1.0.0");
        assert!(r.headers().contains_key("upload-expires"));
        self.url(r.headers()["location"].to_str().unwrap())
    }
}

#[tokio::test]
async fn a_200_mib_file_uploads_in_5_mib_chunks_with_checksums() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let data = mp4(200 * MIB + 777);
    let url = t.tus_create(&lesson, data.len(), "第二讲.mp4").await;
    let mut offset = 0;
    let mut asset_id = None;
    for chunk in data.chunks(5 * MIB) {
        let r = patch(&t.client, &url, &t.token, offset, chunk.to_vec(), true).await;
        assert_eq!(r.status(), 204, "at {offset}");
        offset += chunk.len();
        assert_eq!(r.headers()["upload-offset"], offset.to_string().as_str());
        asset_id = r
            .headers()
            .get("lectern-asset-id")
            .map(|v| v.to_str().unwrap().to_owned());
    }
    let asset_id = asset_id.expect("the last PATCH names the asset");
    let asset: Value = t.json(&format!("/api/v1/assets/{asset_id}")).await;
    assert_eq!(asset["sha256"], sha256_hex(&data).as_str());
    assert_eq!(asset["filename"], "第二讲.mp4");
    let body = t.content(&asset_id).await;
    assert_eq!(sha256_hex(&body), sha256_hex(&data));
    // HEAD on the finished upload reports it complete.
    let r = head(&t.client, &url, &t.token).await;
    assert_eq!(
        r.headers()["upload-offset"],
        data.len().to_string().as_str()
    );
    assert_eq!(r.headers()["lectern-asset-id"], asset_id.as_str());
    assert!(
        t.object_keys("uploads/").await.is_empty(),
        "no tail objects remain"
    );
}

#[tokio::test]
async fn small_uneven_chunks_are_stitched_together() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let data = mp4(12 * MIB + 5);
    let url = t.tus_create(&lesson, data.len(), "v.mp4").await;
    let mut offset = 0;
    for size in [100, 8000, 3 * MIB, 1, 6 * MIB] {
        let end = (offset + size).min(data.len());
        let r = patch(
            &t.client,
            &url,
            &t.token,
            offset,
            data[offset..end].to_vec(),
            false,
        )
        .await;
        assert_eq!(r.status(), 204);
        offset = end;
    }
    let r = patch(
        &t.client,
        &url,
        &t.token,
        offset,
        data[offset..].to_vec(),
        false,
    )
    .await;
    assert_eq!(r.status(), 204);
    let id = r.headers()["lectern-asset-id"].to_str().unwrap().to_owned();
    let body = t.content(&id).await;
    assert_eq!(sha256_hex(&body), sha256_hex(&data));
}

#[tokio::test]
async fn protocol_errors_leave_the_upload_where_it_was() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let data = mp4(11 * MIB);
    let url = t.tus_create(&lesson, data.len(), "v.mp4").await;
    let r = patch(&t.client, &url, &t.token, 0, data[..6 * MIB].to_vec(), true).await;
    assert_eq!(r.status(), 204);

    // Wrong offset: 409.
    let r = patch(
        &t.client,
        &url,
        &t.token,
        5 * MIB,
        data[5 * MIB..].to_vec(),
        false,
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    problem(r).await;
    // Bad checksum: 460, offset unchanged.
    let r = patch_request(&t.client, &url, &t.token, 6 * MIB)
        .header("upload-checksum", sha256_checksum(b"other bytes"))
        .body(data[6 * MIB..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 460);
    assert_eq!(problem(r).await["code"], "checksum_mismatch");
    let r = head(&t.client, &url, &t.token).await;
    assert_eq!(r.headers()["upload-offset"], (6 * MIB).to_string().as_str());
    // An unknown algorithm, a missing Tus-Resumable and a wrong content type are refused.
    let r = patch_request(&t.client, &url, &t.token, 6 * MIB)
        .header("upload-checksum", "md5 AAAA")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = t
        .client
        .patch(&url)
        .bearer_auth(&t.token)
        .header("upload-offset", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = t
        .client
        .patch(&url)
        .bearer_auth(&t.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", (6 * MIB).to_string())
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Going past Upload-Length is refused.
    let mut too_long = data[6 * MIB..].to_vec();
    too_long.push(0);
    let r = patch(&t.client, &url, &t.token, 6 * MIB, too_long, false).await;
    assert_eq!(r.status(), 400);
    // The upload is intact: finish it.
    let r = patch(
        &t.client,
        &url,
        &t.token,
        6 * MIB,
        data[6 * MIB..].to_vec(),
        true,
    )
    .await;
    assert_eq!(r.status(), 204);
    let id = r.headers()["lectern-asset-id"].to_str().unwrap().to_owned();
    let body = t.content(&id).await;
    assert_eq!(sha256_hex(&body), sha256_hex(&data));
    // No token: 401.
    let r = t
        .client
        .head(&url)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn creation_is_validated_before_any_byte_arrives() {
    let t = TestApp::spawn_with(|c| c.max_upload_bytes = 50 * MIB as u64).await;
    let lesson = t.lesson("video").await;
    let r = create(&t.client, &t.base, &t.token, &lesson, 51 * MIB, "v.mp4").await;
    assert_eq!(r.status(), 413);
    let r = create(&t.client, &t.base, &t.token, &lesson, 10, "v.exe").await;
    assert_eq!(r.status(), 415);
    let r = create(&t.client, &t.base, &t.token, "no-such-lesson", 10, "v.mp4").await;
    assert_eq!(r.status(), 404);
    let r = t
        .client
        .post(t.url("/api/v1/uploads"))
        .bearer_auth(&t.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "metadata is required");
    let r = t
        .client
        .request(reqwest::Method::OPTIONS, t.url("/api/v1/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["tus-version"], "1.0.0");
    assert!(
        r.headers()["tus-extension"]
            .to_str()
            .unwrap()
            .contains("checksum")
    );
    assert_eq!(r.headers()["tus-max-size"], (50 * MIB).to_string().as_str());
    // Content that is not what its name says is refused at the first bytes, and the upload is gone.
    let html = b"<html><script>alert(1)</script></html>".repeat(300);
    let url = t.tus_create(&lesson, html.len(), "v.mp4").await;
    let r = patch(&t.client, &url, &t.token, 0, html, false).await;
    assert_eq!(r.status(), 415);
    assert_eq!(head(&t.client, &url, &t.token).await.status(), 404);
    assert_eq!(
        t.open_multipart_uploads().await,
        0,
        "a refused upload leaves no multipart upload"
    );
}

#[tokio::test]
async fn termination_deletes_the_upload() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let data = mp4(7 * MIB);
    let url = t.tus_create(&lesson, data.len(), "v.mp4").await;
    let r = patch(&t.client, &url, &t.token, 0, data[..MIB].to_vec(), false).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        t.object_keys("uploads/").await.len(),
        1,
        "a tail object holds the short chunk"
    );
    assert_eq!(
        t.open_multipart_uploads().await,
        1,
        "the upload's multipart upload is open"
    );
    let r = t
        .client
        .delete(&url)
        .bearer_auth(&t.token)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(head(&t.client, &url, &t.token).await.status(), 404);
    assert!(t.object_keys("").await.is_empty());
    assert_eq!(
        t.open_multipart_uploads().await,
        0,
        "its multipart upload was aborted"
    );
}

#[tokio::test]
async fn an_expired_upload_is_gone_and_its_multipart_upload_aborted() {
    let t = TestApp::spawn_with(|c| c.upload_expiry_secs = 1).await;
    let lesson = t.lesson("video").await;
    let data = mp4(6 * MIB);
    let url = t.tus_create(&lesson, 12 * MIB, "v.mp4").await;
    let r = patch(&t.client, &url, &t.token, 0, data.clone(), false).await;
    assert_eq!(r.status(), 204);
    let id = url.rsplit('/').next().unwrap();
    let state = t.db().upload(id).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = head(&t.client, &url, &t.token).await;
    assert!(matches!(r.status().as_u16(), 404 | 410), "{}", r.status());
    let r = patch(&t.client, &url, &t.token, 6 * MIB, data.clone(), false).await;
    assert!(matches!(r.status().as_u16(), 404 | 410), "{}", r.status());
    // The multipart upload no longer accepts parts: it was aborted, not merely forgotten.
    let part = t
        .store()
        .upload_part(
            &state.object_key,
            &state.multipart_id,
            2,
            bytes::Bytes::from(vec![0u8; 1024]),
        )
        .await;
    assert!(part.is_err(), "the multipart upload was aborted");
    assert!(t.db().upload(id).await.unwrap().is_none());
    assert_eq!(t.open_multipart_uploads().await, 0);
}

#[tokio::test]
async fn an_upload_survives_the_service_being_killed_mid_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path()).await;
    let token = cli_token(&config).await;
    let client = reqwest::Client::new();

    let service = Service::start(&config).await;
    let r = client
        .post(format!("{}/api/v1/lessons", service.base))
        .bearer_auth(&token)
        .json(&json!({ "title": "断点续传", "kind": "video" }))
        .send()
        .await
        .unwrap();
    let lesson = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = mp4(23 * MIB + 3);
    let r = create(&client, &service.base, &token, &lesson, data.len(), "v.mp4").await;
    assert_eq!(r.status(), 201);
    let path = r.headers()["location"].to_str().unwrap().to_owned();
    let r = patch(
        &client,
        &format!("{}{path}", service.base),
        &token,
        0,
        data[..5 * MIB].to_vec(),
        true,
    )
    .await;
    assert_eq!(r.status(), 204);

    // Start the next chunk, send part of it, and kill the service while the body is in flight.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    tx.unbounded_send(Ok(data[5 * MIB..7 * MIB].to_vec()))
        .unwrap();
    let in_flight = tokio::spawn(
        patch_request(&client, &format!("{}{path}", service.base), &token, 5 * MIB)
            .body(reqwest::Body::wrap_stream(rx))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    service.kill();
    drop(tx);
    let _ = in_flight.await;

    let service = Service::start(&config).await;
    // A fresh client: the old one may hold a pooled connection to the killed process, whose port
    // the new one can have been given again.
    let client = reqwest::Client::new();
    let url = format!("{}{path}", service.base);
    let r = head(&client, &url, &token).await;
    assert_eq!(r.status(), 200);
    let offset: usize = r.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        offset == 5 * MIB || offset == 7 * MIB,
        "resumes from a committed offset, got {offset}"
    );
    let asset = resume(&client, &url, &token, &data, offset).await;
    let body = client
        .get(format!("{}/api/v1/assets/{asset}/content", service.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&data));
}
