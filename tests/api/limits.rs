//! Connection limits (hardening issue, class 4): slow request heads, idle keep-alive
//! connections and stalled bodies are closed on time; one address cannot hold more than its
//! share of connections; a saturated service sheds load with a 503 problem body.

use crate::common::{TestApp, problem};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection; how long that took, and what was read.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return (started.elapsed(), seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the connection was still open after {limit:?}; read: {}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
}

async fn connect(t: &TestApp) -> TcpStream {
    TcpStream::connect(t.app().addr()).await.unwrap()
}

/// An upload to `lesson` that announces 100,000 bytes and sends 1,000: a request in flight whose
/// body has stalled.
async fn stalled_upload(t: &TestApp, lesson: &str) -> TcpStream {
    let mut s = connect(t).await;
    let head = format!(
        "POST /api/v1/lessons/{lesson}/assets?role=master&filename=a.mp4 HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Length: 100000\r\n\r\n",
        t.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&crate::common::mp4(1000)).await.unwrap();
    s
}

#[tokio::test]
async fn slow_heads_idle_connections_and_stalled_bodies_are_closed_on_time() {
    let t = TestApp::spawn_with(|c| {
        c.http_header_timeout_secs = 1;
        c.http_body_timeout_secs = 1;
    })
    .await;

    // A request head that never ends.
    let mut s = connect(&t).await;
    s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (took, _) = until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );

    // A connection that never says anything.
    let mut s = connect(&t).await;
    until_closed(&mut s, Duration::from_secs(5)).await;

    // A keep-alive connection left idle after its request.
    let mut s = connect(&t).await;
    s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (_, seen) = until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        seen.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&seen)
    );

    // A body that stops arriving: the upload fails, and nothing is kept.
    let lesson = t.lesson("video").await;
    let mut s = stalled_upload(&t, &lesson).await;
    let (took, seen) = until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    let l: serde_json::Value = t.json(&format!("/api/v1/lessons/{lesson}")).await;
    assert_eq!(l["assets"].as_array().unwrap().len(), 0, "{l}");
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let t = TestApp::spawn_with(|c| {
        c.http_max_connections_per_address = 4;
        c.http_header_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(&t).await);
    }
    // Let the server count them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = connect(&t).await;
    let (took, seen) = until_closed(&mut fifth, Duration::from_secs(2)).await;
    assert!(seen.is_empty() && took < Duration::from_secs(1), "{took:?}");
    // Releasing one makes room again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = t.client.get(t.url("/health/live")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_saturated_service_sheds_load_with_a_503_problem() {
    let t = TestApp::spawn_with(|c| {
        c.http_max_in_flight = 1;
        c.http_body_timeout_secs = 3;
    })
    .await;
    let lesson = t.lesson("video").await;
    // One request in flight, its body trickling.
    let mut s = stalled_upload(&t, &lesson).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = t.client.get(t.url("/health/live")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(problem(r).await["code"], "unavailable");
    // When it ends, requests are served again.
    until_closed(&mut s, Duration::from_secs(10)).await;
    let r = t.client.get(t.url("/health/live")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
