//! Text extraction has a memory budget and runs where going over it cannot take the service
//! down: PDF bombs that decode into billions of bytes of operators, and one that makes the
//! parser itself allocate without bound, are uploaded to the real binary. Each is recorded as
//! failed with a reason an editor sees on the lesson, the service's peak memory stays small, and
//! the lesson is still found by its title while a sound PDF beside them is searchable as usual.

use crate::common::{Service, cli_token, test_config};
use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, Instant};

/// The peak the service may reach (it starts around 170 MB); one bomb decoded in process took it
/// to 5.3 GB.
const MAX_SERVICE_PEAK_BYTES: u64 = 400 * 1024 * 1024;

/// A one-page PDF whose content stream is `content`, Flate-compressed when `flate` is set, and
/// `extra` written as one more object (not referenced by the page).
fn pdf(content: &[u8], flate: bool, extra: Option<&[u8]>) -> Vec<u8> {
    let (data, filter) = if flate {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(content).unwrap();
        (z.finish().unwrap(), " /Filter /FlateDecode")
    } else {
        (content.to_vec(), "")
    };
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
          /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    let mut stream = format!("<< /Length {}{filter} >>\nstream\n", data.len()).into_bytes();
    stream.extend_from_slice(&data);
    stream.extend_from_slice(b"\nendstream");
    objects.push(stream);
    if let Some(extra) = extra {
        objects.push(extra.to_vec());
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// The probe's first bomb: 9,000,000 `Tj` operators, 63 MB inflated (under the 64 MiB budget of
/// inflated bytes) from about 90 KB.
fn show_bomb() -> Vec<u8> {
    let mut content = b"BT /F1 12 Tf ".to_vec();
    content.reserve(9_000_000 * 7 + 2);
    for _ in 0..9_000_000 {
        content.extend_from_slice(b"(A) Tj ");
    }
    content.extend_from_slice(b"ET");
    pdf(&content, true, None)
}

/// The probe's second bomb: 8,000,000 `n` operators, 16 MB inflated from about 16 KB.
fn operator_bomb() -> Vec<u8> {
    pdf(&b"n\n".repeat(8_000_000), true, None)
}

/// A PDF whose one extra object is an array of 30,000,000 numbers: no content stream to count,
/// but the parser holds every number as a value of its own, gigabytes for a 60 MB file.
fn array_bomb() -> Vec<u8> {
    let mut array = Vec::with_capacity(60_000_010);
    array.push(b'[');
    array.extend_from_slice(&b"0 ".repeat(30_000_000));
    array.push(b']');
    pdf(b"BT /F1 12 Tf (ok) Tj ET", false, Some(&array))
}

/// The peak resident memory of process `pid` (`VmHWM`), in bytes.
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

#[tokio::test]
async fn pdf_bombs_fail_extraction_within_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path()).await;
    let token = cli_token(&config).await;
    let client = reqwest::Client::new();
    let service = Service::start(&config).await;
    let base = service.base.clone();

    let r = client
        .post(format!("{base}/api/v1/lessons"))
        .bearer_auth(&token)
        .json(&json!({ "title": "抗洪抢险纪实", "kind": "document" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let lesson = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sound = std::fs::read(format!(
        "{}/tests/fixtures/documents/lesson.pdf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let files = [
        ("show-bomb.pdf", show_bomb()),
        ("operator-bomb.pdf", operator_bomb()),
        ("array-bomb.pdf", array_bomb()),
        ("lesson.pdf", sound),
    ];
    for (name, bytes) in files {
        let r = client
            .post(format!("{base}/api/v1/lessons/{lesson}/assets"))
            .bearer_auth(&token)
            .query(&[("role", "attachment"), ("filename", name)])
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{name}: {}", r.text().await.unwrap());
    }
    let r = client
        .post(format!("{base}/api/v1/lessons/{lesson}/publish"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Every attachment's extraction is recorded, and shown with the lesson.
    let deadline = Instant::now() + Duration::from_secs(180);
    let assets = loop {
        let v: Value = client
            .get(format!("{base}/api/v1/lessons/{lesson}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let assets = v["assets"].as_array().unwrap().clone();
        if assets.iter().all(|a| a["text"].is_object()) {
            break assets;
        }
        assert!(
            Instant::now() < deadline,
            "not every extraction was recorded: {assets:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let text_of = |name: &str| {
        assets
            .iter()
            .find(|a| a["filename"] == name)
            .unwrap_or_else(|| panic!("{name} among {assets:#?}"))["text"]
            .clone()
    };
    for bomb in ["show-bomb.pdf", "operator-bomb.pdf", "array-bomb.pdf"] {
        let text = text_of(bomb);
        assert_eq!(text["status"], "failed", "{bomb}: {text}");
        assert!(
            text["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{bomb}: {text}"
        );
        eprintln!("{bomb}: {}", text["error"]);
    }
    assert_eq!(text_of("lesson.pdf")["status"], "ok");

    let peak = peak_memory(service.child.id());
    eprintln!("the service's peak memory: {} MiB", peak >> 20);
    assert!(
        peak < MAX_SERVICE_PEAK_BYTES,
        "the service reached {} MiB",
        peak >> 20
    );

    // The lesson is searchable by its title, and the sound PDF by its text.
    let deadline = Instant::now() + Duration::from_secs(60);
    for q in ["抗洪抢险", "农村基层党组织建设"] {
        loop {
            let v: Value = client
                .get(format!("{base}/api/v1/search"))
                .bearer_auth(&token)
                .query(&[("q", q)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["hits"][0]["id"] == lesson.as_str() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{q} does not find the lesson: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `lectern extract-text pdf`, reading from and writing to pipes.
fn extract_text_child() -> crate::common::Cmd {
    let mut c = crate::common::Cmd::new(env!("CARGO_BIN_EXE_lectern"));
    c.args(["extract-text", "pdf"]);
    c
}

/// The child alone: an allocation over its address-space limit ends it, and it says nothing
/// the service could take for segments.
#[tokio::test]
async fn the_extraction_child_dies_rather_than_grow_past_its_limit() {
    let out = extract_text_child().output_with_stdin(array_bomb()).await;
    assert!(
        !out.status.success(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A sound file is answered with its pages.
    let sound = std::fs::read(format!(
        "{}/tests/fixtures/documents/lesson.pdf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let out = extract_text_child().output_with_stdin(sound).await;
    assert!(out.status.success());
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages = reply["Segments"]["segments"].as_array().expect("segments");
    assert_eq!(reply["Segments"]["left_out"], Value::Null, "{reply}");
    assert_eq!(pages.len(), 3, "{reply}");
    assert!(
        pages[1]["text"]
            .as_str()
            .unwrap()
            .starts_with("第二章 农村基层党组织建设")
    );
}
