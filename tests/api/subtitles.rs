//! Subtitles (issue 12): SRT, WebVTT and ASS files imported as cues in any of the encodings
//! Windows and web tools write, refused with the line at fault when broken (plain upload and
//! tus), served per language as normalized WebVTT to whoever may read the lesson, searched at
//! the cue's time, and machine transcripts replaced by an editor's file.

use crate::common::{TestApp, problem};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// A cue as read back from served WebVTT: start and end in milliseconds, and the text lines.
type ReadCue = (i64, i64, Vec<String>);

/// Reads WebVTT the way a strict client would, independently of Lectern's parser: a `WEBVTT`
/// first line, blocks separated by blank lines, each a `HH:MM:SS.mmm --> HH:MM:SS.mmm` line
/// and its text. Panics on anything else, so a malformed file fails the test.
fn read_vtt(body: &str) -> Vec<ReadCue> {
    let mut blocks = body.split("\n\n");
    assert_eq!(blocks.next(), Some("WEBVTT"), "{body:?}");
    let time = |s: &str| -> i64 {
        let (clock, ms) = s.split_once('.').expect("milliseconds after a dot");
        let parts: Vec<i64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 3, "HH:MM:SS: {s}");
        assert_eq!(ms.len(), 3, "three digits of milliseconds: {s}");
        assert!(clock.len() >= 8, "two-digit hours at least: {s}");
        ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + ms.parse::<i64>().unwrap()
    };
    blocks
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut lines = block.trim_end_matches('\n').split('\n');
            let timing = lines.next().unwrap();
            let (start, end) = timing.split_once(" --> ").expect("a timing line");
            let text: Vec<String> = lines.map(str::to_owned).collect();
            assert!(!text.is_empty() && text.iter().all(|l| !l.trim().is_empty()));
            (time(start), time(end), text)
        })
        .collect()
}

/// Uploads a subtitle with an explicit language; the response.
async fn upload_in(
    t: &TestApp,
    lesson: &str,
    filename: &str,
    language: &str,
    data: Vec<u8>,
) -> reqwest::Response {
    t.post(&format!("/api/v1/lessons/{lesson}/assets"))
        .query(&[
            ("role", "subtitle"),
            ("filename", filename),
            ("language", language),
        ])
        .body(data)
        .send()
        .await
        .unwrap()
}

/// The served WebVTT of `lesson` in `language`, with the operator's token: body and headers.
async fn vtt(t: &TestApp, lesson: &str, language: &str) -> (String, reqwest::header::HeaderMap) {
    let r = t
        .get(&format!(
            "/api/v1/lessons/{lesson}/subtitles/{language}.vtt"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    (r.text().await.unwrap(), headers)
}

fn gb18030(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn utf16be(text: &str) -> Vec<u8> {
    let mut out = vec![0xFE, 0xFF];
    out.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    out
}

const SRT: &str = "1\r\n00:00:01,000 --> 00:00:04,500\r\n<i>同志们好</i>，今天学习\r\n乡村振兴 & <b>产业兴旺</b>\r\n\r\n2\r\n00:01:05,250 --> 00:01:07,000\r\n生态宜居 x < y\r\n\r\n3\r\n01:00:00,000 --> 01:00:02,000\r\n最后一条\r\n";

#[tokio::test]
async fn srt_vtt_and_ass_are_imported_and_served_as_normalized_webvtt() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    // SRT with an explicit language (any case: canonicalised).
    let r = upload_in(&t, &lesson, "第一讲.srt", "zh-cn", SRT.as_bytes().to_vec()).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // WebVTT named `…en.vtt`: English by its filename, with blocks to skip and cue settings.
    let vtt_file = "WEBVTT - lecture\n\nNOTE a comment\n\nintro\n00:02.000 --> 00:03.500 align:start\n<v Speaker>Good morning</v>, comrades\n\n00:00:04.000 --> 00:00:05.000\nRural &amp; revitalisation\n";
    let r = t
        .upload(&lesson, "subtitle", "lecture.en.vtt", vtt_file.into())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // ASS named `.chs.`: Simplified Chinese, override tags stripped, `\N` a line break.
    let ass = "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname\nStyle: Default,SimHei\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\nDialogue: 0,0:00:10.50,0:00:12.00,Default,,0,0,0,,{\\pos(400,570)\\b1}党史学习{\\b0}教育\\N第二行\nDialogue: 0,0:00:08.00,0:00:09.00,Default,,0,0,0,,先出现的一条\n";
    let r = t
        .upload(&lesson, "subtitle", "党课.chs.ass", ass.into())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let asset: Value = r.json().await.unwrap();
    assert!(
        asset["content_type"]
            .as_str()
            .unwrap()
            .starts_with("text/x-ssa"),
        "{asset}"
    );

    let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    let summary: Vec<(String, String, String, i64, String)> = list["subtitles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["language"].as_str().unwrap().to_owned(),
                s["label"].as_str().unwrap().to_owned(),
                s["origin"].as_str().unwrap().to_owned(),
                s["cues"].as_i64().unwrap(),
                s["format"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |l: &str, label: &str, n: i64, f: &str| {
        (l.into(), label.into(), "editor".into(), n, f.into())
    };
    assert_eq!(
        summary,
        vec![
            row("en", "English", 2, "vtt"),
            row("zh-CN", "简体中文", 3, "srt"),
            row("zh-Hans", "简体中文", 2, "ass"),
        ]
    );
    assert_eq!(
        list["subtitles"][1]["url"],
        format!("/api/v1/lessons/{lesson}/subtitles/zh-CN.vtt")
    );

    let (body, headers) = vtt(&t, &lesson, "zh-CN").await;
    assert_eq!(headers["content-type"], "text/vtt; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(body.starts_with("WEBVTT\n"));
    assert!(
        !body.contains('<') && !body.contains('\r'),
        "escaped: {body}"
    );
    assert_eq!(
        read_vtt(&body),
        vec![
            (
                1_000,
                4_500,
                vec![
                    "同志们好，今天学习".into(),
                    "乡村振兴 &amp; 产业兴旺".into()
                ]
            ),
            (65_250, 67_000, vec!["生态宜居 x &lt; y".into()]),
            (3_600_000, 3_602_000, vec!["最后一条".into()]),
        ]
    );
    // The language in the path is matched in any case.
    assert_eq!(vtt(&t, &lesson, "ZH-cn").await.0, body);

    let (body, _) = vtt(&t, &lesson, "en").await;
    assert_eq!(
        read_vtt(&body),
        vec![
            (2_000, 3_500, vec!["Good morning, comrades".into()]),
            (4_000, 5_000, vec!["Rural &amp; revitalisation".into()]),
        ]
    );
    let (body, _) = vtt(&t, &lesson, "zh-Hans").await;
    assert_eq!(
        read_vtt(&body),
        vec![
            (8_000, 9_000, vec!["先出现的一条".into()]),
            (10_500, 12_000, vec!["党史学习教育".into(), "第二行".into()]),
        ],
        "cues in order of their start"
    );

    // ETag and If-None-Match.
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let r = t
        .get(&format!("/api/v1/lessons/{lesson}/subtitles/zh-CN.vtt"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    let r = t
        .get(&format!("/api/v1/lessons/{lesson}/subtitles/en.vtt"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "another subtitle has another ETag");
}

#[tokio::test]
async fn the_same_srt_in_gb18030_and_utf16_is_served_as_the_same_webvtt() {
    let t = TestApp::spawn().await;
    let mut served = Vec::new();
    for (name, bytes, encoding) in [
        ("utf8.srt", SRT.as_bytes().to_vec(), "UTF-8"),
        ("windows.srt", gb18030(SRT), "gb18030"),
        ("utf16le.srt", utf16le(SRT), "UTF-16LE"),
        ("utf16be.srt", utf16be(SRT), "UTF-16BE"),
    ] {
        let lesson = t.lesson("video").await;
        let r = upload_in(&t, &lesson, name, "zh", bytes.clone()).await;
        assert_eq!(r.status(), 201, "{name}: {}", r.text().await.unwrap());
        let asset: Value = r.json().await.unwrap();
        assert!(
            asset["content_type"]
                .as_str()
                .unwrap()
                .ends_with(&format!("charset={}", encoding.to_lowercase())),
            "{asset}"
        );
        // The original bytes are kept as they came.
        let id = asset["id"].as_str().unwrap();
        assert_eq!(t.content(id).await.as_ref(), bytes.as_slice());
        let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
        assert_eq!(list["subtitles"][0]["encoding"], encoding);
        assert_eq!(list["subtitles"][0]["cues"], 3);
        served.push(vtt(&t, &lesson, "zh").await.0);
    }
    assert_eq!(read_vtt(&served[0]).len(), 3);
    assert!(served[0].contains("同志们好"));
    for other in &served[1..] {
        assert_eq!(other, &served[0]);
    }
}

#[tokio::test]
async fn a_broken_subtitle_is_refused_naming_the_line_and_nothing_is_stored() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let objects_before = t.object_keys("").await.len();
    let bad_time =
        "1\n00:00:01,000 --> 00:00:02,000\n第一条\n\n2\n00:00:03,000 --> 00:00:0x,000\n坏的时间\n";
    let backwards = "WEBVTT\n\n00:00:05.000 --> 00:00:04.000\n倒着的\n";
    let no_cue = "WEBVTT\n\n只有文字，没有时间\n";
    let bad_ass = "[Script Info]\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\nDialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,好\nDialogue: 0,0:00:03.00\n";
    // (file name, bytes, status, the line named, a word of the detail)
    type Case<'a> = (&'a str, Vec<u8>, u16, Option<i64>, &'a str);
    let cases: Vec<Case> = vec![
        ("a.srt", gb18030(bad_time), 422, Some(6), "does not parse"),
        ("a.vtt", backwards.into(), 422, Some(3), "before it starts"),
        ("a.vtt", no_cue.into(), 422, None, "no cue"),
        ("a.ass", bad_ass.into(), 422, Some(6), "fields"),
        // Binary bytes under a subtitle's name: not even sniffed as text.
        ("a.srt", b"\x00\x01\x02-->\xff\xfe".to_vec(), 415, None, ""),
    ];
    for (name, bytes, status, line, says) in cases {
        let r = t.upload(&lesson, "subtitle", name, bytes).await;
        assert_eq!(r.status(), status, "{name}");
        let p = problem(r).await;
        assert_eq!(p["line"].as_i64(), line, "{p}");
        assert!(p["detail"].as_str().unwrap().contains(says), "{p}");
        if status == 422 {
            assert_eq!(p["code"], "invalid_subtitle");
            if let Some(line) = line {
                assert!(
                    p["detail"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("line {line}:")),
                    "{p}"
                );
            }
        }
    }
    // A malformed language is refused before any byte is read.
    let r = upload_in(&t, &lesson, "a.srt", "Chinese_CN", SRT.into()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(problem(r).await["errors"][0]["field"], "language");
    let r = t
        .post(&format!("/api/v1/lessons/{lesson}/assets"))
        .query(&[
            ("role", "attachment"),
            ("filename", "a.srt"),
            ("language", "zh"),
        ])
        .body(SRT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "only a subtitle has a language");

    // Nothing of them is visible or left behind.
    let detail = t.json(&format!("/api/v1/lessons/{lesson}")).await;
    assert_eq!(detail["assets"].as_array().unwrap().len(), 0, "{detail}");
    let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    assert_eq!(list["subtitles"].as_array().unwrap().len(), 0);
    assert_eq!(t.object_keys("").await.len(), objects_before);
    assert_eq!(t.open_multipart_uploads().await, 0);
}

/// Creates a tus upload of `bytes` for `lesson` with `metadata` pairs; its URL.
async fn tus_create(t: &TestApp, len: usize, metadata: &[(&str, &str)]) -> String {
    let meta: Vec<String> = metadata
        .iter()
        .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
        .collect();
    let r = t
        .post("/api/v1/uploads")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", len.to_string())
        .header("upload-metadata", meta.join(","))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.headers()["location"].to_str().unwrap().to_owned()
}

async fn tus_patch(t: &TestApp, location: &str, offset: usize, chunk: &[u8]) -> reqwest::Response {
    t.client
        .patch(t.url(location))
        .bearer_auth(&t.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_subtitle_uploaded_with_tus_is_checked_when_it_completes() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    // A good GB18030 file in two pieces, its language in the metadata.
    let good = gb18030(SRT);
    let location = tus_create(
        &t,
        good.len(),
        &[
            ("lesson_id", &lesson),
            ("role", "subtitle"),
            ("filename", "第一讲.srt"),
            ("language", "zh-Hans"),
        ],
    )
    .await;
    let cut = good.len() / 2;
    let r = tus_patch(&t, &location, 0, &good[..cut]).await;
    assert_eq!(r.status(), 204);
    let r = tus_patch(&t, &location, cut, &good[cut..]).await;
    assert_eq!(r.status(), 204);
    assert!(r.headers().contains_key("lectern-asset-id"));
    let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    assert_eq!(list["subtitles"][0]["language"], "zh-Hans");
    assert_eq!(list["subtitles"][0]["encoding"], "gb18030");
    assert_eq!(list["subtitles"][0]["cues"], 3);
    assert_eq!(read_vtt(&vtt(&t, &lesson, "zh-Hans").await.0).len(), 3);

    // A broken one: the first piece is fine, the fault is in the last; the completing PATCH
    // answers with the line, and the upload is gone with its bytes.
    let objects_before = t.object_keys("").await.len();
    let mut broken = SRT.replace("01:00:02,000", "01:00:02,0000").into_bytes();
    broken.extend_from_slice(b"\r\n");
    let location = tus_create(
        &t,
        broken.len(),
        &[
            ("lesson_id", &lesson),
            ("role", "subtitle"),
            ("filename", "第二讲.en.srt"),
        ],
    )
    .await;
    let r = tus_patch(&t, &location, 0, &broken[..40]).await;
    assert_eq!(r.status(), 204);
    let r = tus_patch(&t, &location, 40, &broken[40..]).await;
    assert_eq!(r.status(), 422);
    let p = problem(r).await;
    assert_eq!(p["code"], "invalid_subtitle");
    assert_eq!(p["line"], 11, "{p}");
    let r = t
        .client
        .head(t.url(&location))
        .bearer_auth(&t.token)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the upload was discarded");
    let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    assert_eq!(list["subtitles"].as_array().unwrap().len(), 1);
    let detail = t.json(&format!("/api/v1/lessons/{lesson}")).await;
    assert_eq!(detail["assets"].as_array().unwrap().len(), 1);
    assert_eq!(t.object_keys("").await.len(), objects_before);
    assert_eq!(t.open_multipart_uploads().await, 0);

    // Too large for a subtitle: refused when the upload is created.
    let r = t
        .post("/api/v1/uploads")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", (9u64 << 20).to_string())
        .header(
            "upload-metadata",
            format!(
                "lesson_id {},role {},filename {}",
                STANDARD.encode(&lesson),
                STANDARD.encode("subtitle"),
                STANDARD.encode("big.srt")
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn subtitles_of_a_lesson_one_may_not_read_are_not_found() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let r = t
        .upload(&lesson, "subtitle", "第一讲.zh.srt", SRT.into())
        .await;
    assert_eq!(r.status(), 201);
    let anonymous = |path: String| {
        let (client, url) = (t.client.clone(), t.url(&path));
        async move { client.get(url).send().await.unwrap() }
    };
    let list_path = format!("/api/v1/lessons/{lesson}/subtitles");
    let vtt_path = format!("/api/v1/lessons/{lesson}/subtitles/zh.vtt");
    for path in [&list_path, &vtt_path] {
        let r = anonymous(path.clone()).await;
        assert_eq!(
            r.status(),
            404,
            "{path}: a draft is not there for anonymous readers"
        );
        assert_eq!(problem(r).await["code"], "not_found");
    }
    let r = t
        .post(&format!("/api/v1/lessons/{lesson}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = anonymous(list_path.clone()).await;
    assert_eq!(r.status(), 200);
    let r = anonymous(vtt_path.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(read_vtt(&r.text().await.unwrap()).len(), 3);
    // An unknown language, a malformed one, a file that is not `.vtt`: 404 problems.
    for file in ["en.vtt", "not a tag.vtt", "zh.srt", "zh"] {
        let r = anonymous(format!("/api/v1/lessons/{lesson}/subtitles/{file}")).await;
        assert_eq!(r.status(), 404, "{file}");
        assert_eq!(problem(r).await["code"], "not_found");
    }
    // Withdrawn: gone again.
    let r = t
        .post(&format!("/api/v1/lessons/{lesson}/withdraw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(anonymous(vtt_path).await.status(), 404);
}

#[tokio::test]
async fn a_word_of_a_gb18030_subtitle_is_found_at_its_cue() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let srt = "1\r\n00:00:01,000 --> 00:00:03,000\r\n开场白\r\n\r\n2\r\n00:02:05,500 --> 00:02:09,000\r\n发展高标准农田建设\r\n\r\n3\r\n00:03:00,000 --> 00:03:02,000\r\n田垄上的黨員\r\n";
    let r = t
        .upload(&lesson, "subtitle", "农业.chs.srt", gb18030(srt))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = t
        .post(&format!("/api/v1/lessons/{lesson}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    crate::search::indexed(&t).await;
    let r = t
        .client
        .get(t.url("/api/v1/search"))
        .query(&[("q", "高标准农田")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let hit = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == lesson.as_str())
        .unwrap_or_else(|| panic!("the subtitle's word is found: {v}"));
    assert_eq!(hit["cues"][0]["start_ms"], 125_500, "{hit}");
    assert_eq!(hit["cues"][0]["end_ms"], 129_000);
    assert!(
        hit["cues"][0]["text"].as_str().unwrap().contains("<mark>"),
        "{hit}"
    );
    // One character found only in a cue (a query of one character reads the cues' single
    // characters, not the pairs they begin), also typed in its traditional form, or written so.
    for (q, marked) in [
        ("垄", "<mark>垄</mark>"),
        ("员", "<mark>員</mark>"),
        ("員", "<mark>員</mark>"),
    ] {
        let v = t.search(q).await;
        let hit = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["id"] == lesson.as_str())
            .unwrap_or_else(|| panic!("{q} of a cue is found: {v}"));
        assert_eq!(hit["cues"][0]["start_ms"], 180_000, "{q}: {hit}");
        assert!(
            hit["cues"][0]["text"].as_str().unwrap().contains(marked),
            "{q}: {hit}"
        );
    }
}

/// Records `cues` as the machine transcript of content `sha256`, as the transcription job does
/// (a `transcript_zh` rendition whose WebVTT object is stored first).
async fn transcribed(t: &TestApp, sha256: &str, cues: &[lectern::domain::subtitle::Cue]) {
    use lectern::db::media::{MadeRendition, NewRendition};
    use lectern::db::texts::NewSegment;
    use sha2::Digest;
    let vtt = lectern::domain::subtitle::to_webvtt(cues);
    let key = lectern::ingest::new_object_key();
    t.store()
        .put(&key, bytes::Bytes::from(vtt.clone()), "text/vtt")
        .await
        .unwrap();
    let rendition = NewRendition {
        source_sha256: sha256.to_owned(),
        kind: lectern::domain::media::RenditionKind::TranscriptZh,
        made: Ok(MadeRendition {
            object_key: key,
            content_type: "text/vtt".into(),
            size: vtt.len() as i64,
            sha256: hex::encode(sha2::Sha256::digest(vtt.as_bytes())),
            width: None,
            height: None,
            bit_rate: None,
            duration_ms: cues.last().map(|c| c.end_ms),
            peak_bit_rate: None,
            codecs: None,
        }),
    };
    let segments: Vec<NewSegment> = cues.iter().map(NewSegment::from).collect();
    t.db()
        .record_transcript(&rendition, &segments)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_machine_transcript_is_a_subtitle_until_an_editor_file_of_its_language_replaces_it() {
    use lectern::domain::subtitle::Cue;
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let editor = t.account("editor", &[("editor", &tree.province)]).await;
    let r = t
        .r#as(&editor)
        .post("/api/v1/lessons")
        .json(&serde_json::json!({ "title": "机器转写", "kind": "video", "org_id": tree.province }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let lesson = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cue = |start_ms, end_ms, text: &str| Cue {
        start_ms,
        end_ms,
        text: text.to_owned(),
    };
    let none = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    assert_eq!(none["subtitles"], serde_json::json!([]), "{none}");
    // A master (not a playable one: media processing leaves it alone) and its transcript.
    let master = |name: &'static str, len| {
        let t = &t;
        let lesson = lesson.clone();
        async move {
            let r = t
                .upload(&lesson, "master", name, crate::common::mp4(len))
                .await;
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["sha256"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let first = master("第一版.mp4", 4096).await;
    transcribed(&t, &first, &[cue(0, 1_000, "第一次转写")]).await;
    transcribed(
        &t,
        &first,
        &[
            cue(2_000, 3_000, "机器 <转写> 的"),
            cue(0, 1_500, "第二次转写"),
        ],
    )
    .await;
    let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    let subtitles = list["subtitles"].as_array().unwrap();
    assert_eq!(
        subtitles.len(),
        1,
        "the second transcript replaced the first: {list}"
    );
    assert_eq!(subtitles[0]["origin"], "machine");
    assert_eq!(subtitles[0]["language"], "zh");
    assert_eq!(subtitles[0]["label"], "中文（机器转写）");
    assert_eq!(subtitles[0]["asset_id"], Value::Null);
    assert_eq!(subtitles[0]["cues"], 2, "{list}");
    assert_eq!(
        read_vtt(&vtt(&t, &lesson, "zh").await.0),
        vec![
            (0, 1_500, vec!["第二次转写".into()]),
            (2_000, 3_000, vec!["机器 &lt;转写&gt; 的".into()]),
        ]
    );
    // The editor's page lists it, marked as a machine transcript, and says what media
    // processing made of the master.
    let b = t.browser();
    assert_eq!(
        t.sign_in(&b, &editor.login, crate::fixtures::PASSWORD)
            .await
            .status(),
        303
    );
    let page = t
        .page(&b, &format!("/lessons/{lesson}"))
        .await
        .replace("&#x2f;", "/");
    assert!(
        page.contains("data-language=\"zh\" data-machine")
            && page.contains("中文（机器转写）")
            && page.contains(&format!("/api/v1/lessons/{lesson}/subtitles/zh.vtt")),
        "{page}"
    );
    assert!(page.contains("data-media=\""), "{page}");
    // Without credentials a draft lesson has no subtitles (404, as if absent).
    let r = t
        .client
        .get(t.url(&format!("/api/v1/lessons/{lesson}/subtitles/zh.vtt")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    problem(r).await;
    // An editor's file of the same language is served instead: uploaded without a language,
    // it takes the lesson's (zh-CN), whose primary language is the transcript's.
    let r = t
        .upload(&lesson, "subtitle", "校对稿.srt", SRT.into())
        .await;
    assert_eq!(r.status(), 201);
    let editor_asset = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    let subtitles = list["subtitles"].as_array().unwrap();
    assert_eq!(subtitles.len(), 1, "{list}");
    assert_eq!(subtitles[0]["origin"], "editor");
    assert_eq!(subtitles[0]["language"], "zh-CN");
    assert_eq!(subtitles[0]["asset_id"], editor_asset.as_str());
    assert_eq!(read_vtt(&vtt(&t, &lesson, "zh-CN").await.0).len(), 3);
    let hidden = t
        .get(&format!("/api/v1/lessons/{lesson}/subtitles/zh.vtt"))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404, "the transcript is hidden");
    // Deleting the editor's file brings the transcript back.
    let r = t
        .delete(&format!("/api/v1/assets/{editor_asset}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(read_vtt(&vtt(&t, &lesson, "zh").await.0).len(), 2);
    // A new master supersedes the old one: its transcript is served, never the old one's, and
    // until it has one there is none.
    let second = master("第二版.mp4", 8192).await;
    let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    assert_eq!(list["subtitles"], serde_json::json!([]), "{list}");
    transcribed(&t, &second, &[cue(0, 900, "新版转写")]).await;
    assert_eq!(
        read_vtt(&vtt(&t, &lesson, "zh").await.0),
        vec![(0, 900, vec!["新版转写".into()])]
    );
}
