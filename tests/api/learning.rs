//! Learning records from Lectern's own player (`PUT /api/v1/me/positions/{id}` with the
//! stretches played), completion by coverage, and the member's archive (`/api/v1/me/learning`,
//! its CSV), on both databases.

use crate::common::TestApp;
use crate::fixtures::As;
use serde_json::{Value, json};

/// Reports `body` for `lesson` as `who`; answers the status.
async fn report(who: &As<'_>, lesson: &str, body: Value) -> u16 {
    let r = who
        .put(&format!("/api/v1/me/positions/{lesson}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status != 204 {
        eprintln!("{}", r.text().await.unwrap());
    }
    status
}

async fn archive(who: &As<'_>) -> Value {
    let r = who.get("/api/v1/me/learning").send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Moves `user`'s records a minute into the past, as if a minute had passed since their last
/// report (reports add at most twice the time between them).
async fn a_minute_later(t: &TestApp, user: &str) {
    sqlx::query("UPDATE learning_progress SET updated_at = updated_at - 60000 WHERE user_id = $1")
        .bind(user)
        .execute(t.db().pool())
        .await
        .unwrap();
}

fn lesson<'a>(archive: &'a Value, id: &str) -> &'a Value {
    archive["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lesson_id"] == id)
        .unwrap_or_else(|| panic!("{id} is in the archive: {archive}"))
}

#[tokio::test]
async fn a_lesson_is_learned_by_what_was_played_not_by_reaching_its_end() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let member = t.account("learner-cov", &[("member", &tree.city)]).await;
    let me = t.r#as(&member);
    let watched = t
        .published(json!({ "title": "乡村振兴政策解读", "kind": "video" }))
        .await;
    let skipped = t
        .published(json!({ "title": "党史学习第二讲", "kind": "video" }))
        .await;
    let forged = t
        .published(json!({ "title": "防汛抗旱知识", "kind": "audio" }))
        .await;
    let of = 100_000;
    // Watched in two sittings, 95 % of it: learned.
    for (at, played) in [(50_000, [0, 50_000]), (95_000, [50_000, 95_000])] {
        a_minute_later(&t, &member.id).await;
        let body = json!({ "position_ms": at, "duration_ms": of,
                           "played": [{ "start_ms": played[0], "end_ms": played[1] }] });
        assert_eq!(report(&me, &watched, body).await, 204);
    }
    // Ten seconds at the start, then a seek to the end and its last ten seconds.
    for (at, played) in [(10_000, [0, 10_000]), (100_000, [90_000, 100_000])] {
        let body = json!({ "position_ms": at, "duration_ms": of,
                           "played": [{ "start_ms": played[0], "end_ms": played[1] }] });
        assert_eq!(report(&me, &skipped, body).await, 204);
    }
    // Reports claiming the whole lesson, at once and then a minute a report in quick
    // succession: only what could have been played in the time counts.
    let body = json!({ "position_ms": of, "duration_ms": of,
                       "played": [{ "start_ms": 0, "end_ms": of }] });
    assert_eq!(report(&me, &forged, body).await, 204);
    for k in 0..4 {
        let body = json!({ "position_ms": of, "duration_ms": of,
                           "played": [{ "start_ms": k * 25_000, "end_ms": (k + 1) * 25_000 }] });
        assert_eq!(report(&me, &forged, body).await, 204);
    }

    let a = archive(&me).await;
    let w = lesson(&a, &watched);
    assert_eq!(w["covered_percent"], 95, "{w}");
    assert_eq!(w["completed"], true, "{w}");
    assert_eq!(w["time_ms"], 95_000);
    assert_eq!(w["source"], "library");
    assert_eq!(w["source_name"], Value::Null);
    assert_eq!(w["title"], "乡村振兴政策解读");
    let s = lesson(&a, &skipped);
    assert_eq!(s["covered_percent"], 20, "{s}");
    assert_eq!(
        s["completed"], false,
        "reaching the end is not learning: {s}"
    );
    let f = lesson(&a, &forged);
    assert_eq!(f["completed"], false, "{f}");
    assert!(f["time_ms"].as_i64().unwrap() <= 61_000, "{f}");
    assert!(f["covered_percent"].as_i64().unwrap() < 90, "{f}");
    // Totals: the lessons' sum, and the quarter's.
    let time: i64 = a["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["time_ms"].as_i64().unwrap())
        .sum();
    assert_eq!(a["time_ms"], time);
    assert_eq!(a["completed"], 1);
    let quarters = a["quarters"].as_array().unwrap();
    assert_eq!(quarters.len(), 1, "{a}");
    assert_eq!(quarters[0]["time_ms"], time);
    assert_eq!(quarters[0]["completed"], 1);
    assert_eq!(quarters[0]["lessons"], 3);

    // Played again: time grows, coverage and completion stay.
    a_minute_later(&t, &member.id).await;
    let body = json!({ "position_ms": 20_000, "duration_ms": of,
                       "played": [{ "start_ms": 0, "end_ms": 20_000 }] });
    assert_eq!(report(&me, &watched, body).await, 204);
    let a2 = archive(&me).await;
    let w2 = lesson(&a2, &watched);
    assert_eq!(w2["time_ms"], 115_000);
    assert_eq!(w2["covered_percent"], 95);
    assert_eq!(
        w2["completed_at"], w["completed_at"],
        "learned once, when first learned"
    );
    // The resume position is the record's.
    let v = me.json("/api/v1/me/positions").await;
    assert_eq!(v["positions"][0]["lesson_id"], watched.as_str(), "{v}");
    assert_eq!(v["positions"][0]["position_ms"], 20_000);
}

#[tokio::test]
async fn reports_at_once_both_count_and_bad_stretches_are_refused() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let member = t.account("learner-race", &[("member", &tree.city)]).await;
    let me = t.r#as(&member);
    let l = t
        .published(json!({ "title": "两个标签页同时播放", "kind": "video" }))
        .await;
    let of = 200_000;
    // Two tabs report different stretches at the same moment: both are kept.
    let mut all = Vec::new();
    for k in 0..8i64 {
        let body = json!({ "position_ms": (k + 1) * 5_000, "duration_ms": of,
                           "played": [{ "start_ms": k * 5_000, "end_ms": (k + 1) * 5_000 }] });
        all.push(report(&me, &l, body));
    }
    for s in futures::future::join_all(all).await {
        assert_eq!(s, 204);
    }
    let a = archive(&me).await;
    assert_eq!(lesson(&a, &l)["time_ms"], 40_000, "{a}");
    assert_eq!(lesson(&a, &l)["covered_percent"], 20);
    // Stretches outside the lesson, backwards, or too many: 400, nothing recorded.
    for played in [
        json!([{ "start_ms": 190_000, "end_ms": 200_001 }]),
        json!([{ "start_ms": 5_000, "end_ms": 5_000 }]),
        json!([{ "start_ms": -1, "end_ms": 5_000 }]),
        json!(
            (0..201)
                .map(|i| json!({ "start_ms": i, "end_ms": i + 1 }))
                .collect::<Vec<_>>()
        ),
    ] {
        let r = me
            .put(&format!("/api/v1/me/positions/{l}"))
            .json(&json!({ "position_ms": 1_000, "duration_ms": of, "played": played }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let p = crate::common::problem(r).await;
        assert!(p["errors"][0]["field"] == "played", "{p}");
    }
    assert_eq!(archive(&me).await["time_ms"], 40_000);
}

#[tokio::test]
async fn many_members_reporting_at_once_are_written_together_and_a_bad_report_fails_alone() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let l = t
        .published(json!({ "title": "全省同时学习", "kind": "video" }))
        .await;
    let mut members = Vec::new();
    for i in 0..12 {
        members.push(
            t.account(&format!("crowd-{i}"), &[("member", &tree.city)])
                .await,
        );
    }
    let who: Vec<As<'_>> = members.iter().map(|m| t.r#as(m)).collect();
    // Every member reports three stretches at once: 36 reports queue for the writer together.
    let mut all = Vec::new();
    for me in &who {
        for k in 0..3i64 {
            let body = json!({ "position_ms": (k + 1) * 5_000, "duration_ms": 100_000,
                               "played": [{ "start_ms": k * 5_000, "end_ms": (k + 1) * 5_000 }] });
            all.push(report(me, &l, body));
        }
    }
    for s in futures::future::join_all(all).await {
        assert_eq!(s, 204);
    }
    for me in &who {
        let a = archive(me).await;
        assert_eq!(lesson(&a, &l)["time_ms"], 15_000, "{a}");
        assert_eq!(lesson(&a, &l)["covered_percent"], 15, "{a}");
    }
    let days: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(time_ms) AS BIGINT) FROM learning_days WHERE lesson_id = $1",
    )
    .bind(&l)
    .fetch_one(t.db().pool())
    .await
    .unwrap();
    assert_eq!(days, 12 * 15_000);

    // A batch holding a report on a lesson that is gone: the batch fails, the others are then
    // written one by one, and only that one fails.
    let now = lectern::db::now_ms();
    let write = |user: &str, lesson: &str| lectern::db::progress::ProgressWrite {
        user_id: user.to_owned(),
        lesson_id: lesson.to_owned(),
        source: "library".to_owned(),
        now,
        credit_ms: 60_000,
        apply: std::sync::Arc::new(move |mut r: lectern::db::learning::ProgressRecord| {
            r.time_ms += 1_000;
            r.updated_at = now;
            (r, 1_000, "2026-01-01".to_owned())
        }),
    };
    let answers = t
        .db()
        .record_progress_many(&[
            write(&members[0].id, &l),
            write(&members[1].id, "no-such-lesson"),
            write(&members[2].id, &l),
        ])
        .await;
    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    assert!(answers[1].is_err());
    assert!(answers[2].is_ok(), "{:?}", answers[2]);
    assert_eq!(answers[2].as_ref().unwrap().time_ms, 16_000);
    let a = archive(&who[0]).await;
    assert_eq!(lesson(&a, &l)["time_ms"], 16_000, "{a}");
}

#[tokio::test]
async fn a_document_is_learned_by_the_pages_read_over_time() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let member = t.account("reader", &[("member", &tree.city)]).await;
    let me = t.r#as(&member);
    let doc = t
        .published(json!({ "title": "学习讲义（十页）", "kind": "document" }))
        .await;
    let read = |pages: Value, page: i64| {
        me.put(&format!("/api/v1/me/reading/{doc}"))
            .json(&json!({ "page": page, "page_count": 10, "pages": pages }))
            .send()
    };
    // Every page opened at once: a page counts 20 s, and a first report adds at most a minute —
    // three pages, not the document.
    let r = read(json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 10)
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let a = archive(&me).await;
    assert_eq!(lesson(&a, &doc)["covered_percent"], 30, "{a}");
    assert_eq!(lesson(&a, &doc)["time_ms"], 60_000);
    assert_eq!(lesson(&a, &doc)["completed"], false, "{a}");
    // Read on, over time: the rest counts, and nine pages of ten (90 %) make it learned.
    a_minute_later(&t, &member.id).await;
    assert_eq!(read(json!([4, 5, 6]), 6).await.unwrap().status(), 204);
    a_minute_later(&t, &member.id).await;
    assert_eq!(read(json!([7, 8, 9]), 9).await.unwrap().status(), 204);
    let a = archive(&me).await;
    assert_eq!(lesson(&a, &doc)["covered_percent"], 90, "{a}");
    assert_eq!(lesson(&a, &doc)["completed"], true, "{a}");
    // Pages outside the document, a page count out of range, too many pages: 400.
    for body in [
        json!({ "page": 1, "page_count": 10, "pages": [11] }),
        json!({ "page": 1, "page_count": 10, "pages": [0] }),
        json!({ "page": 12, "page_count": 10, "pages": [] }),
        json!({ "page": 1, "page_count": 0, "pages": [] }),
        json!({ "page": 1, "page_count": 100_000, "pages": [1] }),
        json!({ "page": 1, "page_count": 300, "pages": (1..=201).collect::<Vec<i64>>() }),
        json!({ "page": 1, "page_count": 10, "pages": [1], "extra": true }),
    ] {
        let r = me
            .put(&format!("/api/v1/me/reading/{doc}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
    // A video is learned by playing it, not by reading its handout.
    let video = t
        .published(json!({ "title": "视频课", "kind": "video" }))
        .await;
    let r = me
        .put(&format!("/api/v1/me/reading/{video}"))
        .json(&json!({ "page": 1, "page_count": 10, "pages": [1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Not signed in: 401; a lesson the member may not read: 404.
    let r = t
        .client
        .put(t.url(&format!("/api/v1/me/reading/{doc}")))
        .json(&json!({ "page": 1, "page_count": 10, "pages": [1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let draft = t
        .draft(json!({ "title": "未发布讲义", "kind": "document" }))
        .await;
    let r = me
        .put(&format!("/api/v1/me/reading/{draft}"))
        .json(&json!({ "page": 1, "page_count": 10, "pages": [1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_archive_exports_as_csv_and_the_export_is_audited() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let member = t.account("learner-csv", &[("member", &tree.city)]).await;
    let me = t.r#as(&member);
    let l = t
        .published(json!({ "title": "学习档案导出, 含\"引号\"", "kind": "video" }))
        .await;
    let body = json!({ "position_ms": 30_000, "duration_ms": 60_000,
                       "played": [{ "start_ms": 0, "end_ms": 30_000 }] });
    assert_eq!(report(&me, &l, body).await, 204);
    let r = me.get("/api/v1/me/learning.csv").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = r.bytes().await.unwrap();
    assert!(
        body.starts_with(b"\xEF\xBB\xBF"),
        "a byte-order mark for spreadsheets"
    );
    let text = std::str::from_utf8(&body[3..]).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[0].starts_with("课程编号,课程,渠道"), "{text}");
    assert!(
        rows[1].contains(&format!(
            "{l},\"学习档案导出, 含\"\"引号\"\"\",library,0.5,50,否"
        )),
        "{text}"
    );
    let audit = t.json("/api/v1/audit?action=learning.export").await;
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["target_id"], member.id.as_str());
    // Without an account there is no archive.
    let r = t
        .client
        .get(t.url("/api/v1/me/learning"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = t.get("/api/v1/me/learning.csv").send().await.unwrap();
    assert_eq!(r.status(), 403, "an operator token has no archive");
}

#[tokio::test]
async fn the_archive_page_shows_quarters_and_lessons_and_downloads_with_the_session() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let member = t.account("learner-page", &[("member", &tree.city)]).await;
    let me = t.r#as(&member);
    let b = t.browser();
    // Anonymous: to the login form, and back here.
    let r = b.get(t.url("/me/learning")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?next=")
    );
    assert_eq!(
        t.sign_in(&b, &member.login, crate::fixtures::PASSWORD)
            .await
            .status(),
        303
    );
    // Nothing learned yet: said so, with a way to start.
    let page = t.page(&b, "/me/learning").await;
    assert!(
        page.contains("我的学习档案") && page.contains("还没有学习记录"),
        "{page}"
    );
    assert!(!page.contains("导出表格"), "nothing to export: {page}");
    let l = t
        .published(json!({ "title": "基层治理<实务>", "kind": "video" }))
        .await;
    for (at, played) in [(50_000, [0, 50_000]), (95_000, [50_000, 95_000])] {
        a_minute_later(&t, &member.id).await;
        let body = json!({ "position_ms": at, "duration_ms": 100_000,
                           "played": [{ "start_ms": played[0], "end_ms": played[1] }] });
        assert_eq!(report(&me, &l, body).await, 204);
    }
    let page = t.page(&b, "/me/learning").await;
    let now = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8));
    let quarter = format!(
        "{}年第{}季度",
        now.year(),
        (u8::from(now.month()) - 1) / 3 + 1
    );
    for expected in [
        quarter.as_str(),
        "基层治理&lt;实务&gt;",
        "讲堂课程库",
        "2分钟",
        "95%",
        "已完成",
        "href=\"/api/v1/me/learning.csv\"",
        "data-print",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    assert!(!page.contains("基层治理<实务>"), "escaped");
    // The page's CSV link works with the session alone (a read: no CSRF token).
    let r = b
        .get(t.url("/api/v1/me/learning.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("基层治理<实务>"));
    // In English.
    let page = t.page(&b, "/me/learning?lang=en").await;
    assert!(
        page.contains("My learning record") && page.contains("Completed"),
        "{page}"
    );
}
