//! The search index's recovery: a corrupt or missing index is rebuilt at start-up, a service
//! killed with SIGKILL in the middle of catching up resumes exactly (no lesson lost, none
//! twice), and `lectern reindex` switches to a fresh index while searches keep being answered.

use crate::common::{Service, TestApp, cli_token, command, test_config};
use lectern::startup::Application;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The folder of the index generation in use.
fn generation_dir(index_dir: &Path) -> PathBuf {
    let name = std::fs::read_to_string(index_dir.join("CURRENT")).expect("CURRENT exists");
    index_dir.join(name.trim())
}

/// The change-log position the index last committed, read off its `meta.json`; 0 when none.
fn committed_position(index_dir: &Path) -> i64 {
    let Ok(name) = std::fs::read_to_string(index_dir.join("CURRENT")) else {
        return 0;
    };
    let Ok(meta) = std::fs::read_to_string(index_dir.join(name.trim()).join("meta.json")) else {
        return 0;
    };
    let meta: Value = serde_json::from_str(&meta).expect("meta.json is JSON");
    meta["payload"]
        .as_str()
        .and_then(|p| p.split_once(' '))
        .map_or(0, |(_, n)| n.parse().unwrap())
}

async fn status(client: &reqwest::Client, base: &str, token: &str) -> Value {
    let r = client
        .get(format!("{base}/api/v1/search/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Waits (bounded) until the service's index has caught up; its status then.
async fn caught_up(client: &reqwest::Client, base: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = status(client, base, token).await;
        if s["lag"] == 0 {
            return s;
        }
        assert!(Instant::now() < deadline, "the index did not catch up: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until every document's and subtitle's text has been extracted (by the job
/// runner, which appends a change once it is recorded) and the index has caught up with that.
async fn texts_caught_up(client: &reqwest::Client, base: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = status(client, base, token).await;
        if s["lag"] == 0 && s["lessons_awaiting_text"] == 0 {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "the texts were not extracted: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every lesson id `q` finds for the operator, through every page.
async fn all_found(client: &reqwest::Client, base: &str, token: &str, q: &str) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let r = client
            .get(format!("{base}/api/v1/search"))
            .bearer_auth(token)
            .query(&[
                ("q", q),
                ("limit", "100"),
                ("offset", &ids.len().to_string()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let page: Vec<String> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_owned())
            .collect();
        if page.is_empty() {
            return ids;
        }
        ids.extend(page);
    }
}

#[tokio::test]
async fn a_service_killed_while_indexing_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path()).await;
    let token = cli_token(&config).await;
    let client = reqwest::Client::new();

    // 240 lessons, indexed as they come.
    let service = Service::start(&config).await;
    let mut ids = BTreeSet::new();
    for i in 0..240 {
        let r = client
            .post(format!("{}/api/v1/lessons", service.base))
            .bearer_auth(&token)
            .json(
                &json!({ "title": format!("断电恢复演练第{i}课"), "kind": "video",
                           "description": "乡村振兴与基层治理" }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        ids.insert(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let head = caught_up(&client, &service.base, &token).await["head"]
        .as_i64()
        .unwrap();
    service.kill();

    // Throw the index away and rebuild it five lessons per commit, killing the service at
    // random moments until a rebuild gets to the end.
    std::fs::remove_dir_all(&config.index_dir).unwrap();
    let mut positions = Vec::new();
    let mut outran: Vec<Vec<i64>> = Vec::new();
    let mut rng_state = 0x9E37_79B9_7F4A_7C15_u64 ^ u64::from(std::process::id());
    // The window kills fall in; it widens while a kill lands before the first commit (a busy
    // machine starts the service slowly), so the test does not depend on the machine's speed.
    let mut window_ms = 600;
    for _ in 0..60 {
        let service = Service::start_with(&config, &[("LECTERN_INDEX_BATCH", "5")]).await;
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        tokio::time::sleep(Duration::from_millis(20 + rng_state % window_ms)).await;
        service.kill();
        let p = committed_position(&config.index_dir);
        if p == 0 {
            window_ms = (window_ms * 3 / 2).min(10_000);
        }
        positions.push(p);
        if p == head {
            if positions.iter().any(|&p| p > 0 && p < head) {
                break;
            }
            // The rebuild outran every kill (a fast machine): throw it away and go again.
            outran.push(std::mem::take(&mut positions));
            std::fs::remove_dir_all(&config.index_dir).unwrap();
        }
    }
    eprintln!(
        "positions committed at each kill: {positions:?} (head {head}; rebuilds that outran \
         every kill before: {outran:?})"
    );
    assert!(
        positions.iter().any(|&p| p > 0 && p < head),
        "no kill landed in the middle of the rebuild: {positions:?}"
    );
    assert!(
        positions.windows(2).all(|w| w[0] <= w[1]),
        "a kill lost committed progress: {positions:?}"
    );

    // Whatever the kills left, the next start finishes with each lesson exactly once.
    config.index_batch = 5;
    let service = Service::start(&config).await;
    let s = caught_up(&client, &service.base, &token).await;
    assert_eq!(s["position"], head);
    assert_eq!(s["lessons"], ids.len(), "one document per lesson: {s}");
    let found = all_found(&client, &service.base, &token, "断电恢复演练").await;
    assert_eq!(found.len(), ids.len(), "no lesson found twice");
    assert_eq!(found.into_iter().collect::<BTreeSet<_>>(), ids);
}

/// Stops `t`'s application and starts another on the same configuration (retrying while the
/// old one's index writer is being released).
async fn restart(t: &mut TestApp) {
    // Pooled keep-alive connections keep the old server's connection tasks, and with them its
    // index writer, alive: close them with the client.
    t.client = reqwest::Client::new();
    drop(t.app.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Application::build(t.config.clone()).await {
            Ok(app) => {
                t.base = format!("http://{}", app.addr());
                t.app = Some(app);
                return;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot restart: {e:#}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn publish(t: &TestApp, title: &str) -> String {
    let r = t
        .post("/api/v1/lessons")
        .json(&json!({ "title": title, "kind": "audio" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .post(&format!("/api/v1/lessons/{id}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    id
}

#[tokio::test]
async fn a_corrupt_or_missing_index_is_rebuilt_at_start_up() {
    let mut t = TestApp::spawn().await;
    let mut ids = BTreeSet::new();
    for title in ["防汛抗旱应急知识", "防汛物资储备管理", "山洪灾害防御常识"]
    {
        ids.insert(publish(&t, title).await);
    }
    let before = caught_up(&t.client, &t.base, &t.token).await;

    // Damage every data file of the index in its middle, keeping sizes.
    restart_with(&mut t, |index_dir| {
        let folder = generation_dir(index_dir);
        let mut damaged = 0;
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            let mut bytes = std::fs::read(&path).unwrap();
            if bytes.len() < 8 {
                continue;
            }
            let mid = bytes.len() / 2;
            let end = (mid + 4).min(bytes.len());
            for b in &mut bytes[mid..end] {
                *b = !*b;
            }
            std::fs::write(&path, bytes).unwrap();
            damaged += 1;
        }
        assert!(damaged > 0, "there were index files to damage");
    })
    .await;
    let after = caught_up(&t.client, &t.base, &t.token).await;
    assert_ne!(
        after["generation"], before["generation"],
        "a fresh index was built"
    );
    assert_eq!(after["lessons"], 3, "{after} before: {before}");
    let found: BTreeSet<String> = all_found(&t.client, &t.base, &t.token, "防汛")
        .await
        .into_iter()
        .collect();
    assert_eq!(found.len(), 2);
    assert!(found.is_subset(&ids));

    // The whole folder gone: rebuilt too.
    restart_with(&mut t, |index_dir| {
        std::fs::remove_dir_all(index_dir).unwrap()
    })
    .await;
    let again = caught_up(&t.client, &t.base, &t.token).await;
    assert_eq!(again["lessons"], 3);
    assert_eq!(
        all_found(&t.client, &t.base, &t.token, "山洪").await.len(),
        1
    );
}

/// Stops `t`, lets `damage` do its worst to the index folder, and starts again.
async fn restart_with(t: &mut TestApp, damage: impl FnOnce(&Path)) {
    drop(t.app.take());
    // The old application's tasks are aborted; give them a moment to let go of the index.
    tokio::time::sleep(Duration::from_millis(300)).await;
    damage(&t.config.index_dir);
    restart(t).await;
}

#[tokio::test]
async fn reindex_switches_to_a_fresh_index_while_searches_go_on() {
    let t = TestApp::spawn().await;
    let id = publish(&t, "生猪养殖技术讲座").await;
    let before = caught_up(&t.client, &t.base, &t.token).await;

    // Searches every 10 ms while `lectern reindex` runs in its own process.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searcher = {
        let (client, base, stop) = (t.client.clone(), t.base.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut answered, mut wrong) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = client
                    .get(format!("{base}/api/v1/search"))
                    .query(&[("q", "生猪")])
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let v: Value = r.json().await.unwrap();
                if status != 200 || v["total"] != 1 {
                    wrong.push(format!("{status} {v}"));
                }
                answered += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (answered, wrong)
        })
    };
    let mut c = command(&t.config);
    c.arg("reindex");
    let out = c.output().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.contains("1 lessons"), "{printed}");

    // The service switches within its next step.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let s = status(&t.client, &t.base, &t.token).await;
        if s["generation"] != before["generation"] {
            break s;
        }
        assert!(Instant::now() < deadline, "the service did not switch: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        printed.contains(after["generation"].as_str().unwrap()),
        "{printed}"
    );
    // A change after the switch is followed by the new index.
    publish(&t, "生猪疫病防控").await;
    caught_up(&t.client, &t.base, &t.token).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (answered, wrong) = searcher.await.unwrap();
    assert!(answered > 0);
    // The only acceptable difference: the second lesson, once it is published.
    let wrong: Vec<&String> = wrong
        .iter()
        .filter(|w| !w.contains("\"total\":2"))
        .collect();
    assert!(wrong.is_empty(), "searches during the rebuild: {wrong:?}");
    assert_eq!(
        all_found(&t.client, &t.base, &t.token, "生猪").await.len(),
        2
    );
    assert!(
        all_found(&t.client, &t.base, &t.token, "养殖")
            .await
            .contains(&id)
    );
    // Only the generation in use is left on disk.
    let left: Vec<String> = std::fs::read_dir(&t.config.index_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "CURRENT")
        .collect();
    assert_eq!(left, vec![after["generation"].as_str().unwrap().to_owned()]);
}

/// A lesson with subtitles and documents: what the lecturer said is found with the cue's time,
/// a document's words with their page; each content is extracted once, and one that cannot be
/// read is recorded as failed without keeping its lesson out of the index.
#[tokio::test]
async fn subtitles_and_documents_are_searched_with_times_and_pages() {
    let t = TestApp::spawn().await;
    let lecture = t.lesson("video").await;
    let srt = "1\r\n00:12:34,500 --> 00:12:40,000\r\n乡村振兴战略的总要求是<i>产业兴旺</i>\r\n\r\n\
               2\r\n00:12:40,000 --> 00:12:45,250\r\n生态宜居、乡风文明\r\n";
    let r = t
        .upload(&lecture, "subtitle", "第一讲.srt", srt.as_bytes().to_vec())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let pdf = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/documents/lesson.pdf"
    ));
    let r = t
        .upload(&lecture, "attachment", "讲义.pdf", pdf.to_vec())
        .await;
    assert_eq!(r.status(), 201);
    // A second lesson shares the subtitle's content, and has a PDF that is not one inside.
    let other = t.lesson("audio").await;
    let r = t
        .upload(
            &other,
            "attachment",
            "同一字幕.srt",
            srt.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut broken = b"%PDF-1.7\n".to_vec();
    broken.extend(std::iter::repeat_n(b'x', 500));
    let r = t.upload(&other, "attachment", "坏的.pdf", broken).await;
    assert_eq!(r.status(), 201);
    for id in [&lecture, &other] {
        let r = t
            .post(&format!("/api/v1/lessons/{id}/publish"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    texts_caught_up(&t.client, &t.base, &t.token).await;

    let search = |q: &'static str| {
        let (client, url) = (t.client.clone(), t.url("/api/v1/search"));
        async move {
            let r = client.get(url).query(&[("q", q)]).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let v = search("产业兴旺").await;
    let hit = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == lecture.as_str())
        .expect("found by what was said");
    assert_eq!(hit["cues"][0]["start_ms"], 754_500, "{hit}");
    assert_eq!(hit["cues"][0]["end_ms"], 760_000);
    assert_eq!(
        hit["cues"][0]["text"],
        "乡村振兴战略的总要求是<mark>产业兴旺</mark>"
    );
    assert_eq!(
        v["total"], 2,
        "the other lesson carries the same subtitle text"
    );

    let v = search("基层党组织").await;
    assert_eq!(v["total"], 1, "{v}");
    let pages = v["hits"][0]["pages"].as_array().unwrap();
    assert_eq!(pages[0]["page"], 2, "{pages:?}");
    assert!(
        pages[0]["text"].as_str().unwrap().contains("<mark>"),
        "{pages:?}"
    );
    let v = search("\"数字乡村与电子商务\"").await;
    assert_eq!(v["hits"][0]["pages"][0]["page"], 3, "{v}");

    // Three distinct contents, each extracted once; the broken one recorded as failed.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT format, status FROM extractions ORDER BY format, status")
            .fetch_all(t.db().pool())
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            ("pdf".into(), "failed".into()),
            ("pdf".into(), "ok".into()),
            ("srt".into(), "ok".into())
        ]
    );
    // The lesson with the broken document is still found by its title.
    let v = search("乡村振兴").await;
    assert_eq!(v["total"], 2);
}

/// Files lesson `title` with a text attachment whose content storage does not have (as when a
/// read fails), and returns the lesson's id and the object's key and bytes. The attachment is
/// filed straight in SQL, then the lesson is changed, so the index reads it now.
async fn lesson_with_unreadable_attachment(
    t: &TestApp,
    title: &str,
    text: &str,
) -> (String, String, Vec<u8>) {
    let r = t
        .post("/api/v1/lessons")
        .json(&json!({ "title": title, "kind": "document" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let lesson = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = text.as_bytes().to_vec();
    let sha = crate::common::sha256_hex(&bytes);
    let key = format!("blobs/unreadable/{sha}");
    sqlx::query("INSERT INTO blobs (sha256, object_key, size, created_at) VALUES ($1, $2, $3, 0)")
        .bind(&sha)
        .bind(&key)
        .bind(bytes.len() as i64)
        .execute(t.db().pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO assets (id, lesson_id, role, filename, sha256, content_type, disposition, \
         created_at) VALUES ($1, $2, 'attachment', '预案.txt', $3, 'text/plain', 'attachment', 0)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&lesson)
    .bind(&sha)
    .execute(t.db().pool())
    .await
    .unwrap();
    let r = t
        .patch(&format!("/api/v1/lessons/{lesson}"))
        .json(&json!({ "title": format!("{title}（修订）") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    (lesson, key, bytes)
}

/// The lessons the operator finds for `q`.
async fn found(t: &TestApp, q: &str) -> Vec<String> {
    all_found(&t.client, &t.base, &t.token, q).await
}

/// Puts the missing object into storage, then waits (bounded) until `q` finds something.
async fn put_and_await(t: &TestApp, key: &str, bytes: Vec<u8>, q: &str, failure: &str) {
    t.store()
        .put(key, bytes.into(), "text/plain")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while found(t, q).await.is_empty() {
        assert!(Instant::now() < deadline, "{failure}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_document_storage_could_not_give_is_read_again_later() {
    let mut t = TestApp::spawn().await;

    // Storage fails to give the attachment: the lesson is searchable, its text is not.
    let (first, key, bytes) =
        lesson_with_unreadable_attachment(&t, "防汛演练", "防汛抗旱应急预案的演练要点").await;
    caught_up(&t.client, &t.base, &t.token).await;
    assert_eq!(found(&t, "防汛演练").await, vec![first.clone()]);
    assert!(found(&t, "应急预案").await.is_empty());

    // Once storage gives it, it is read again without the lesson changing.
    put_and_await(
        &t,
        &key,
        bytes,
        "应急预案",
        "the attachment was not read again",
    )
    .await;
    assert_eq!(found(&t, "应急预案").await, vec![first]);

    // A restart forgets what was waiting: it finds the contents never extracted in SQL.
    let (second, key, bytes) =
        lesson_with_unreadable_attachment(&t, "森林防火", "森林防火隔离带的开设与维护").await;
    caught_up(&t.client, &t.base, &t.token).await;
    assert!(found(&t, "隔离带").await.is_empty());
    restart(&mut t).await;
    caught_up(&t.client, &t.base, &t.token).await;
    assert!(found(&t, "隔离带").await.is_empty());
    put_and_await(
        &t,
        &key,
        bytes,
        "隔离带",
        "the restarted service did not read it again",
    )
    .await;
    assert_eq!(found(&t, "隔离带").await, vec![second]);
}
