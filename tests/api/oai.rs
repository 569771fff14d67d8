//! OAI-PMH and podcast feeds, checked by real clients: Sickle harvests `/oai` across resumption
//! tokens (and sees a deletion), feedparser reads `/feeds/series/{id}.rss`; plus the protocol's
//! error codes and range requests on the enclosures.

use crate::common::{Cmd, TestApp, problem};
use crate::feed::{draft, platform, publish};
use serde_json::{Value, json};

/// The Python with Sickle and feedparser (`scripts/python-tools`), or `None` (loudly; under CI a
/// failure).
pub fn python() -> Option<String> {
    match std::env::var("LECTERN_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but LECTERN_TEST_PYTHON is not set (scripts/python-tools)"
            );
            eprintln!("!!! LECTERN_TEST_PYTHON is not set: the real-client check is SKIPPED");
            None
        }
    }
}

pub async fn run_client(python: &str, script: &str, args: &[&str], stdin: Option<&[u8]>) -> Value {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut c = Cmd::new(python);
    c.arg(&path).args(args);
    let out = c
        .output_with_stdin(stdin.unwrap_or_default().to_vec())
        .await;
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client prints JSON")
}

/// Runs the client to its end without blocking the runtime, so the service keeps answering.
async fn harvest(python: String, endpoint: String, key: String, from: Option<String>) -> Value {
    let mut args = vec![endpoint.as_str(), key.as_str()];
    if let Some(f) = &from {
        args.push(f);
    }
    run_client(&python, "oai_harvest.py", &args, None).await
}

async fn oai_raw(app: &TestApp, key: &str, query: &[(&str, &str)]) -> String {
    let r = app
        .client
        .get(app.url("/oai"))
        .bearer_auth(key)
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_harvester_pages_through_records_and_sees_a_deletion() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.city, "广州门户", json!({})).await;
    let (_, other_key) = platform(&app, &tree.sibling_city, "深圳门户", json!({})).await;
    // 230 lessons: three pages of 100. One has text that needs escaping, some a series.
    let mut ids = Vec::new();
    for i in 0..230 {
        let title = if i == 7 {
            "法治 & 德治 <讲座> \"第七讲\"".to_owned()
        } else {
            format!("基层党建第{i}讲")
        };
        let id = draft(&app, &tree.city, &title, "audio", &["党建"]).await;
        if i % 10 == 0 {
            let r = app
                .patch(&format!("/api/v1/lessons/{id}"))
                .json(&json!({ "series": "党建大讲堂", "lecturer": "张教授", "region_code": "440106" }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        publish(&app, &id, json!({})).await;
        ids.push(id);
    }
    ids.sort();
    // Raw protocol errors first.
    let body = oai_raw(&app, &key, &[("verb", "Explode")]).await;
    assert!(body.contains("<error code=\"badVerb\">"), "{body}");
    let body = oai_raw(&app, &key, &[("verb", "ListRecords")]).await;
    assert!(body.contains("<error code=\"badArgument\">"), "{body}");
    let body = oai_raw(&app, &key, &[("verb", "Identify"), ("extra", "1")]).await;
    assert!(body.contains("<error code=\"badArgument\">"), "{body}");
    let body = oai_raw(
        &app,
        &key,
        &[
            ("verb", "ListRecords"),
            ("metadataPrefix", "oai_dc"),
            ("from", "2026-01-01"),
            ("until", "2026-01-01T00:00:00Z"),
        ],
    )
    .await;
    assert!(
        body.contains("badArgument") && body.contains("granularity"),
        "{body}"
    );
    let r = app
        .client
        .get(app.url("/oai?verb=Identify&verb=Identify"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("more than once"));
    // Without a platform key: 401, as a problem body.
    let r = app
        .client
        .get(app.url("/oai?verb=Identify"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(problem(r).await["code"], "unauthorized");
    // The sibling city's platform has nothing.
    let body = oai_raw(
        &app,
        &other_key,
        &[("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")],
    )
    .await;
    assert!(body.contains("noRecordsMatch"), "{body}");

    let Some(py) = python() else { return };
    let endpoint = app.url("/oai");
    let first = harvest(py.clone(), endpoint.clone(), key.clone(), None).await;
    assert_eq!(first["identify"]["protocolVersion"], "2.0");
    assert_eq!(first["identify"]["deletedRecord"], "persistent");
    assert_eq!(first["identify"]["granularity"], "YYYY-MM-DDThh:mm:ssZ");
    assert_eq!(first["formats"], json!(["oai_dc"]));
    let series_spec = format!(
        "series:{}",
        lectern::domain::platform::series_id("党建大讲堂")
    );
    assert_eq!(first["sets"][&series_spec], "党建大讲堂");
    assert!(first["sets"].get(format!("org:{}", tree.city)).is_some());
    let records = first["records"].as_array().unwrap();
    assert_eq!(records.len(), 230, "every record, across resumption tokens");
    assert_eq!(first["identifiers"].as_array().unwrap().len(), 230);
    let harvested: Vec<&str> = records
        .iter()
        .map(|r| {
            r["identifier"]
                .as_str()
                .unwrap()
                .strip_prefix("oai:lectern:")
                .unwrap()
        })
        .collect();
    assert_eq!(
        harvested,
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(records.iter().all(|r| r["deleted"] == false));
    let escaped = records
        .iter()
        .find(|r| r["metadata"]["title"][0] == "法治 & 德治 <讲座> \"第七讲\"")
        .expect("the title with & and < arrives intact");
    assert_eq!(escaped["metadata"]["type"][0], "Sound");
    let in_series = records
        .iter()
        .find(|r| {
            r["sets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == series_spec.as_str())
        })
        .unwrap();
    assert_eq!(in_series["metadata"]["creator"][0], "张教授");
    assert_eq!(in_series["metadata"]["coverage"][0], "天河区");
    assert_eq!(first["get_record"]["deleted"], false);
    assert_eq!(
        first["errors"],
        json!({ "marc": "CannotDisseminateFormat", "token": "BadResumptionToken",
                "unknown_id": "IdDoesNotExist", "bad_from": "BadArgument",
                "future": "NoRecordsMatch", "bad_set": "BadArgument" })
    );

    // A lesson on the last page is withdrawn: the next harvest, across the same tokens, has
    // it as a deleted record; an incremental one (from a second ago) has only it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let before = lectern::publish::oai::datestamp(lectern::db::now_ms());
    let gone = ids.last().unwrap().clone();
    let r = app
        .post(&format!("/api/v1/lessons/{gone}/withdraw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = harvest(py.clone(), endpoint.clone(), key.clone(), None).await;
    let records = second["records"].as_array().unwrap();
    assert_eq!(records.len(), 230);
    let deleted: Vec<&Value> = records.iter().filter(|r| r["deleted"] == true).collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["identifier"], format!("oai:lectern:{gone}"));
    let incremental = harvest(py, endpoint, key.clone(), Some(before)).await;
    let records = incremental["records"].as_array().unwrap();
    assert!(
        records.iter().any(
            |r| r["identifier"] == format!("oai:lectern:{gone}").as_str() && r["deleted"] == true
        ),
        "{records:?}"
    );
    assert!(
        records.len() < 230,
        "an incremental harvest is not everything: {}",
        records.len()
    );
}

/// A small MP3 (an ID3 tag, then noise): what the upload sniffer takes as audio/mpeg.
fn mp3(len: usize) -> Vec<u8> {
    let mut v = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    let mut x: u32 = 0x1234_5678;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_podcast_feed_parses_and_its_enclosures_answer_ranges() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let series = "乡村振兴大讲堂 & 基层治理";
    let mut lessons = Vec::new();
    for (i, title) in [
        "第一讲：产业振兴",
        "第二讲：人才 & 组织",
        "第三讲：<生态>振兴",
    ]
    .iter()
    .enumerate()
    {
        let id = draft(&app, &tree.city, title, "audio", &["乡村振兴"]).await;
        let r = app
            .patch(&format!("/api/v1/lessons/{id}"))
            .json(&json!({ "series": series, "lecturer": "李老师", "description": format!("本讲 & 要点 {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = app
            .upload(&id, "master", &format!("{i}.mp3"), mp3(20_000 + i))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        publish(&app, &id, json!({})).await;
        lessons.push(id);
    }
    // A video in the same series and a draft are not episodes.
    let video = draft(&app, &tree.city, "视频", "video", &[]).await;
    let r = app
        .patch(&format!("/api/v1/lessons/{video}"))
        .json(&json!({ "series": series }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    publish(&app, &video, json!({})).await;
    let sid = lectern::domain::platform::series_id(series);
    let r = app
        .client
        .get(app.url(&format!("/feeds/series/{sid}.rss")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/rss+xml")
    );
    let xml = r.bytes().await.unwrap();
    assert!(String::from_utf8_lossy(&xml).contains("&amp; 基层治理"));
    // Unknown series, bad ids and a bad key.
    for path in [
        "/feeds/series/0000000000000000.rss",
        "/feeds/series/zz.rss",
        "/feeds/series/x",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = app
        .client
        .get(app.url(&format!("/feeds/series/{sid}.rss?key=lpk_nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A platform of another city receives none of these: its key finds no feed.
    let (_, other) = platform(&app, &tree.sibling_city, "深圳", json!({})).await;
    let r = app
        .client
        .get(app.url(&format!("/feeds/series/{sid}.rss?key={other}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (_, mine) = platform(&app, &tree.county, "天河", json!({})).await;
    let r = app
        .client
        .get(app.url(&format!("/feeds/series/{sid}.rss?key={mine}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let keyed = r.bytes().await.unwrap();

    let Some(py) = python() else { return };
    for body in [xml.to_vec(), keyed.to_vec()] {
        let parsed = run_client(&py, "podcast_parse.py", &[], Some(&body)).await;
        assert_eq!(parsed["bozo"], false, "{parsed}");
        assert_eq!(parsed["version"], "rss20");
        assert_eq!(parsed["title"], series);
        assert_eq!(parsed["language"], "zh-cn");
        assert!(
            parsed["image"]
                .as_str()
                .unwrap()
                .ends_with("/feeds/artwork.png")
        );
        let entries = parsed["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 3, "audio episodes only: {entries:?}");
        let titles: Vec<&str> = entries
            .iter()
            .map(|e| e["title"].as_str().unwrap())
            .collect();
        assert!(titles.contains(&"第三讲：<生态>振兴"), "{titles:?}");
        assert!(titles.contains(&"第二讲：人才 & 组织"), "{titles:?}");
        for e in entries {
            let id = e["id"].as_str().unwrap();
            let lesson = id.strip_prefix("urn:lectern:lesson:").unwrap();
            assert!(lessons.iter().any(|l| l == lesson));
            let enc = &e["enclosures"][0];
            assert_eq!(enc["type"], "audio/mpeg");
            let len: usize = enc["length"].as_str().unwrap().parse().unwrap();
            assert!((20_000..20_003).contains(&len));
            // The enclosure answers a range request with 206 and exactly those bytes.
            let r = app
                .client
                .get(enc["href"].as_str().unwrap())
                .header("range", "bytes=100-199")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 206);
            assert_eq!(r.bytes().await.unwrap().len(), 100);
        }
    }
    // The artwork is a real PNG of podcast size.
    let art = app
        .client
        .get(app.url("/feeds/artwork.png"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&art[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(art[16..20].try_into().unwrap()), 1400);
}

/// Characters XML 1.0 forbids (C0 controls but tab, line feed and carriage return; U+FFFE and
/// U+FFFF) or discourages (noncharacters), one of each class. PostgreSQL cannot store U+0000 in
/// text, so it is only tried on SQLite.
fn forbidden() -> String {
    let mut s = String::from(
        "\u{1}\u{8}\u{b}\u{c}\u{1b}\u{1f}\u{fffe}\u{ffff}\u{fdd0}\u{fdef}\u{1fffe}\u{10ffff}",
    );
    if !crate::common::use_postgres() {
        s.push('\u{0}');
    }
    s
}

/// Reads `body` to its end with quick-xml, failing on any error, and checks no character of
/// `forbidden()` is in it (quick-xml does not check the characters of text).
fn assert_well_formed(what: &str, body: &str) {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut texts = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                for a in e.attributes() {
                    a.unwrap_or_else(|err| panic!("{what}: an attribute of {e:?}: {err}"));
                }
            }
            Ok(quick_xml::events::Event::Text(t)) => {
                t.decode().unwrap_or_else(|e| panic!("{what}: {e}"));
                texts += 1;
            }
            Ok(_) => {}
            Err(e) => panic!(
                "{what} is not well-formed at {}: {e}\n{body}",
                reader.error_position()
            ),
        }
    }
    assert!(texts > 0, "{what}: {body}");
    for c in forbidden().chars() {
        assert!(
            !body.contains(c),
            "{what} contains U+{:04X}:\n{body:?}",
            u32::from(c)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_xml_forbids_never_reaches_oai_or_podcast_feeds() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.city, "广州门户", json!({})).await;
    let id = draft(&app, &tree.city, "防汛讲座", "audio", &["防汛"]).await;
    let r = app
        .patch(&format!("/api/v1/lessons/{id}"))
        .json(&json!({ "series": "应急管理", "lecturer": "王老师", "description": "要点" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app.upload(&id, "master", "1.mp3", mp3(20_000)).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    publish(&app, &id, json!({})).await;

    // Legacy rows, or another writer, put the characters straight into SQL.
    let bad = forbidden();
    let series = format!("应急{bad}管理");
    sqlx::query(
        "UPDATE lessons SET title = $1, description = $2, lecturer = $3, series = $4 WHERE id = $5",
    )
    .bind(format!("防汛{bad}讲座"))
    .bind(format!("要{bad}点"))
    .bind(format!("王{bad}老师"))
    .bind(&series)
    .bind(&id)
    .execute(app.db().pool())
    .await
    .unwrap();
    sqlx::query("UPDATE lesson_tags SET tag = $1 WHERE lesson_id = $2")
        .bind(format!("防{bad}汛"))
        .bind(&id)
        .execute(app.db().pool())
        .await
        .unwrap();

    let records = oai_raw(
        &app,
        &key,
        &[("verb", "ListRecords"), ("metadataPrefix", "oai_dc")],
    )
    .await;
    assert_well_formed("ListRecords", &records);
    // What is left of each value is there.
    assert!(records.contains("防汛讲座"), "{records}");
    assert!(
        records.contains("王老师") && records.contains("应急管理"),
        "{records}"
    );
    let sets = oai_raw(&app, &key, &[("verb", "ListSets")]).await;
    assert_well_formed("ListSets", &sets);
    assert!(sets.contains("应急管理"), "{sets}");

    let sid = lectern::domain::platform::series_id(&series);
    let r = app
        .client
        .get(app.url(&format!("/feeds/series/{sid}.rss")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let feed = r.text().await.unwrap();
    assert_well_formed("the podcast feed", &feed);
    assert!(
        feed.contains("防汛讲座") && feed.contains("王老师"),
        "{feed}"
    );

    // A strict parser of another make (expat) agrees, where the test's Python is at hand.
    if let Some(py) = python() {
        for (what, body) in [("ListRecords", records), ("the podcast feed", feed)] {
            let mut c = Cmd::new(&py);
            c.args([
                "-c",
                "import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.buffer.read())",
            ]);
            let out = c.output_with_stdin(body.into_bytes()).await;
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A database failure is the repository's, not the harvester's: 503 with `Retry-After` (and
/// no OAI-PMH error code, each of which blames the request), while the client's own mistakes
/// are still OAI-PMH errors in a 200; once the database is back, the same request succeeds.
/// The failure is provoked by taking away the table OAI-PMH keeps what it sent in, which the
/// platform's authentication does not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_is_a_503_with_retry_after_never_an_oai_error() {
    let app = TestApp::spawn().await;
    let tree = app.tree().await;
    let (_, key) = platform(&app, &tree.city, "广州门户", json!({})).await;
    let id = draft(&app, &tree.city, "防汛讲座", "audio", &["防汛"]).await;
    publish(&app, &id, json!({})).await;
    let list = [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")];
    let body = oai_raw(&app, &key, &list).await;
    assert!(body.contains(&format!("oai:lectern:{id}")), "{body}");

    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    sqlx::query(sqlx::AssertSqlSafe(rename(
        "platform_sent",
        "platform_sent_away",
    )))
    .execute(app.db().pool())
    .await
    .unwrap();
    let identifier = format!("oai:lectern:{id}");
    for query in [
        list.to_vec(),
        vec![
            ("verb", "GetRecord"),
            ("identifier", identifier.as_str()),
            ("metadataPrefix", "oai_dc"),
        ],
    ] {
        let r = app
            .client
            .get(app.url("/oai"))
            .bearer_auth(&key)
            .query(&query)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let retry_after = r.headers().get("retry-after").cloned();
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        let text = r.text().await.unwrap();
        assert_eq!(status, 503, "{query:?}: {text}");
        let seconds: u64 = retry_after
            .unwrap_or_else(|| panic!("{query:?}: no Retry-After"))
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=3600).contains(&seconds), "Retry-After: {seconds}");
        assert!(!text.contains("<error"), "{query:?}: {text}");
        assert_eq!(content_type, "application/problem+json", "{text}");
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problem["code"], "unavailable", "{problem}");
        assert_eq!(problem["status"], 503, "{problem}");
    }
    // The client's mistakes are still the protocol's errors, in a 200.
    let body = oai_raw(&app, &key, &[("verb", "Explode")]).await;
    assert!(body.contains("<error code=\"badVerb\">"), "{body}");

    sqlx::query(sqlx::AssertSqlSafe(rename(
        "platform_sent_away",
        "platform_sent",
    )))
    .execute(app.db().pool())
    .await
    .unwrap();
    let body = oai_raw(&app, &key, &list).await;
    assert!(body.contains(&format!("oai:lectern:{id}")), "{body}");
    assert!(!body.contains("<error"), "{body}");
}
