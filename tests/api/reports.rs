//! Organisation reports (`/api/v1/orgs/{id}/reports/{quarter}`, its CSV and XLSX, the page),
//! checked against a dataset built by hand: three levels, two channels (Lectern's player and a
//! platform's xAPI statements), a series, a member who learns nothing. Both databases.

use crate::common::TestApp;
use crate::feed::{platform, published};
use crate::fixtures::Account;
use lectern::domain::report::Quarter;
use serde_json::{Value, json};

/// A platform's statement about `lesson` by `login`, now.
fn statement(t: &TestApp, login: &str, lesson: &str, verb: &str, result: Value) -> Value {
    json!({
        "actor": { "account": { "homePage": t.url(""), "name": login } },
        "verb": { "id": verb },
        "object": { "id": t.url(&format!("/lessons/{lesson}")) },
        "result": result,
    })
}

fn line<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .unwrap_or_else(|| panic!("{name} in {list}"))
}

fn figures(l: &Value) -> (i64, i64, i64, i64) {
    (
        l["members"].as_i64().unwrap(),
        l["active"].as_i64().unwrap(),
        l["completed"].as_i64().unwrap(),
        l["time_ms"].as_i64().unwrap(),
    )
}

struct Dataset {
    tree: crate::fixtures::Tree,
    platform_id: String,
    city_admin: Account,
    city_member: Account,
    idle: Account,
    party_history: String,
}

/// The dataset: members at the province (library, lesson B), the city (platform: completed A,
/// ten minutes), the county (library, lesson A; and one who learns nothing) and the sibling city
/// (platform, 30 s of B). Lesson A is in the series 党史系列.
async fn dataset(t: &TestApp) -> Dataset {
    let tree = t.tree().await;
    let (platform_id, key) = platform(t, &tree.province, "省级学习平台", json!({})).await;
    let party_history = t
        .published(
            json!({ "title": "党史学习第一讲", "kind": "video", "series": "党史系列",
                           "org_id": tree.province }),
        )
        .await;
    let other = published(t, &tree.province, "乡村振兴政策解读", "video", &[]).await;
    let province_member = t
        .account("prov-member", &[("member", &tree.province)])
        .await;
    let city_member = t.account("city-member", &[("member", &tree.city)]).await;
    let county_member = t
        .account("county-member", &[("member", &tree.county)])
        .await;
    let idle = t.account("idle-member", &[("member", &tree.county)]).await;
    t.account("sibling-member", &[("member", &tree.sibling_city)])
        .await;
    let city_admin = t
        .account("city-admin", &[("administrator", &tree.city)])
        .await;

    t.played_a_minute(&county_member.token, &party_history)
        .await;
    t.played_a_minute(&province_member.token, &other).await;
    let r = t
        .client
        .post(t.url("/api/xapi/statements"))
        .bearer_auth(&key)
        .header("X-Experience-API-Version", "1.0.3")
        .json(&json!([
            statement(
                t,
                "city-member",
                &party_history,
                "http://adlnet.gov/expapi/verbs/completed",
                json!({ "duration": "PT10M", "completion": true })
            ),
            statement(
                t,
                "sibling-member",
                &other,
                "https://w3id.org/xapi/video/verbs/paused",
                json!({ "duration": "PT30S" })
            ),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // What the job runner does every ten minutes: the summary computed again.
    lectern::services::reports::refresh(t.db(), lectern::db::now_ms())
        .await
        .unwrap();
    Dataset {
        tree,
        platform_id,
        city_admin,
        city_member,
        idle,
        party_history,
    }
}

#[tokio::test]
async fn a_report_adds_up_the_hand_built_dataset_by_branch_channel_and_series() {
    let t = TestApp::spawn().await;
    let d = dataset(&t).await;
    let quarter = Quarter::of_ms(lectern::db::now_ms()).to_string();
    let admin = t.r#as(&d.tree.root_admin);
    let report: Value = admin
        .json(&format!(
            "/api/v1/orgs/{}/reports/{quarter}",
            d.tree.province
        ))
        .await;
    assert_eq!(report["quarter"], json!(quarter), "{report}");
    // Five members (the administrators are not members), four learned, one lesson completed,
    // 60 + 600 + 60 + 30 seconds.
    assert_eq!(figures(&report["total"]), (5, 4, 1, 750_000), "{report}");
    assert_eq!(report["total"]["active_percent"], 80);
    let branches = &report["branches"];
    assert_eq!(branches.as_array().unwrap().len(), 3, "{branches}");
    assert_eq!(figures(line(branches, "省委党校")), (1, 1, 0, 60_000));
    assert_eq!(figures(line(branches, "广州市委党校")), (3, 2, 1, 660_000));
    assert_eq!(figures(line(branches, "深圳市委党校")), (1, 1, 0, 30_000));
    let channels = &report["channels"];
    let library = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "library")
        .unwrap();
    assert_eq!(figures(library), (2, 2, 0, 120_000));
    let platform = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == json!(d.platform_id))
        .unwrap();
    assert_eq!(platform["name"], "省级学习平台");
    assert_eq!(figures(platform), (2, 2, 1, 630_000));
    assert_eq!(
        figures(line(&report["series"], "党史系列")),
        (2, 2, 1, 660_000)
    );
    assert_eq!(report["idle_total"], 1);
    assert_eq!(report["idle"][0]["login"], "idle-member");
    assert_eq!(report["idle"][0]["org_name"], "天河区委党校");
    let trend = report["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 5);
    assert_eq!(trend[4]["quarter"], json!(quarter));
    assert_eq!(trend[4]["figures"]["active"], 4);
    assert_eq!(trend[3]["figures"]["active"], 0);

    // Any run of days: today's the same figures (everything was learned today), no trend; a
    // day before, nobody learned anything.
    let now = lectern::db::now_ms();
    let today = lectern::domain::time::china_day(now);
    let yesterday = lectern::domain::time::china_day(now - 86_400_000);
    let days: Value = admin
        .json(&format!(
            "/api/v1/orgs/{}/reports/{yesterday}--{today}",
            d.tree.province
        ))
        .await;
    assert_eq!(figures(&days["total"]), (5, 4, 1, 750_000), "{days}");
    assert_eq!(days["period"], json!(format!("{yesterday}--{today}")));
    assert_eq!(days["quarter"], Value::Null);
    assert_eq!(
        (&days["first_day"], &days["last_day"]),
        (&json!(yesterday), &json!(today))
    );
    assert_eq!(days["trend"], json!([]));
    assert_eq!(days["branches"], report["branches"]);
    assert_eq!(days["channels"], report["channels"]);
    let before: Value = admin
        .json(&format!(
            "/api/v1/orgs/{}/reports/{yesterday}--{yesterday}",
            d.tree.province
        ))
        .await;
    assert_eq!(figures(&before["total"]), (5, 0, 0, 0), "{before}");
    assert_eq!(before["idle_total"], 5);
    let r = admin
        .get(&format!(
            "/api/v1/orgs/{}/reports/{yesterday}--{today}/report.csv",
            d.tree.province
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("report-{yesterday}--{today}.csv"))
    );
    let tomorrow = lectern::domain::time::china_day(now + 86_400_000);
    for bad in [
        format!("{today}--{yesterday}"),
        "2025-01-01--2026-06-30".to_owned(),
        format!("{tomorrow}--{tomorrow}"),
        "2026-02-30--2026-03-01".to_owned(),
    ] {
        let r = admin
            .get(&format!("/api/v1/orgs/{}/reports/{bad}", d.tree.province))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }

    // The city's administrator sees the city's subtree only: its own members, then the county.
    let city: Value = t
        .r#as(&d.city_admin)
        .json(&format!("/api/v1/orgs/{}/reports/{quarter}", d.tree.city))
        .await;
    assert_eq!(figures(&city["total"]), (3, 2, 1, 660_000), "{city}");
    assert_eq!(
        figures(line(&city["branches"], "广州市委党校")),
        (1, 1, 1, 600_000)
    );
    assert_eq!(
        figures(line(&city["branches"], "天河区委党校")),
        (2, 1, 0, 60_000)
    );
    // Not the province's (not in their subtree: 404), and a member sees no report (403).
    let r = t
        .r#as(&d.city_admin)
        .get(&format!(
            "/api/v1/orgs/{}/reports/{quarter}",
            d.tree.province
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = t
        .r#as(&d.city_member)
        .get(&format!("/api/v1/orgs/{}/reports/{quarter}", d.tree.city))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Bad quarters: 400; the future: 400.
    for bad in ["2026", "2026-Q5", "2100-Q1"] {
        let r = admin
            .get(&format!("/api/v1/orgs/{}/reports/{bad}", d.tree.province))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }

    // The job runner's refresh sees what was learned since; after the quarter it is final.
    t.played_a_minute(&d.idle.token, &d.party_history).await;
    lectern::services::reports::refresh(t.db(), lectern::db::now_ms())
        .await
        .unwrap();
    let report: Value = admin
        .json(&format!(
            "/api/v1/orgs/{}/reports/{quarter}",
            d.tree.province
        ))
        .await;
    assert_eq!(figures(&report["total"]), (5, 5, 1, 810_000), "{report}");
    assert_eq!(report["idle_total"], 0);
    assert_eq!(report["final"], false);
    let q = Quarter::parse(&quarter).unwrap();
    lectern::services::reports::refresh(t.db(), q.span_ms().1 + 1000)
        .await
        .unwrap();
    let computed = t.db().report_computed(&quarter).await.unwrap().unwrap();
    assert!(computed.final_);

    // Computed again a member per transaction, then two: the same report, and only the
    // generation the report reads is kept.
    let url = format!("/api/v1/orgs/{}/reports/{quarter}", d.tree.province);
    let without_time = |mut v: Value| {
        v.as_object_mut().unwrap().remove("computed_at");
        v
    };
    let whole = without_time(admin.json(&url).await);
    for chunk in [1, 2] {
        lectern::services::reports::compute_in_chunks(t.db(), q, q.span_ms().1 + 2000, chunk)
            .await
            .unwrap();
        assert_eq!(
            without_time(admin.json(&url).await),
            whole,
            "chunks of {chunk}"
        );
    }
    for table in [
        "report_quarter_members",
        "report_member_quarters",
        "report_series_quarters",
        "report_org_quarters",
        "report_org_series",
    ] {
        let generations: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(DISTINCT generation) FROM {table} WHERE quarter = $1"
        )))
        .bind(&quarter)
        .fetch_one(t.db().pool())
        .await
        .unwrap();
        assert_eq!(generations, 1, "{table}");
    }
}

#[tokio::test]
async fn the_report_files_carry_the_same_figures_and_are_audited() {
    let t = TestApp::spawn().await;
    let d = dataset(&t).await;
    let quarter = Quarter::of_ms(lectern::db::now_ms()).to_string();
    let admin = t.r#as(&d.tree.root_admin);
    let base = format!("/api/v1/orgs/{}/reports/{quarter}", d.tree.province);
    // CSV: a byte-order mark, the figures, the idle member.
    let r = admin
        .get(&format!("{base}/report.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("合计,"), "{text}");
    let total_line = text.lines().find(|l| l.starts_with("合计,")).unwrap();
    assert!(total_line.ends_with(",5,4,80,1,0.2"), "{total_line}");
    assert!(text.contains("idle-member"), "{text}");
    assert_eq!(
        admin
            .get(&format!("{base}/report.pdf"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // XLSX, read back by openpyxl: the same figures as numbers.
    let r = admin
        .get(&format!("{base}/report.xlsx"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let xlsx = r.bytes().await.unwrap();
    assert!(xlsx.starts_with(b"PK"));
    if let Some(python) = crate::oai::python() {
        let book = crate::oai::run_client(&python, "xlsx_read.py", &[], Some(&xlsx)).await;
        let summary = book["汇总"].as_array().unwrap();
        let total = summary
            .iter()
            .find(|row| row[0] == "合计")
            .unwrap_or_else(|| panic!("{book}"));
        let n = |v: &Value| v.as_f64().unwrap();
        assert_eq!(
            [
                n(&total[3]),
                n(&total[4]),
                n(&total[5]),
                n(&total[6]),
                n(&total[7])
            ],
            [5.0, 4.0, 80.0, 1.0, 0.2]
        );
        let city = summary.iter().find(|row| row[2] == "广州市委党校").unwrap();
        assert_eq!([n(&city[3]), n(&city[4]), n(&city[6])], [3.0, 2.0, 1.0]);
        assert_eq!(book["未学习成员"][1][0], "idle-member");
        assert_eq!(book["趋势"].as_array().unwrap().len(), 6);
    }
    // Both exports are in the audit log.
    let audit: Value = admin.json("/api/v1/audit?action=report.export").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "{audit}");
}

#[tokio::test]
async fn the_report_page_shows_charts_tables_and_the_idle_members() {
    let t = TestApp::spawn().await;
    let d = dataset(&t).await;
    let browser = t.browser();
    t.sign_in(&browser, "city-admin", crate::fixtures::PASSWORD)
        .await;
    let html = t.page(&browser, "/admin/reports").await;
    // The city is the first organisation its administrator administers.
    assert!(html.contains("广州市委党校"), "{html}");
    assert!(html.contains("<svg"), "{html}");
    assert!(html.contains("idle-member"), "{html}");
    assert!(html.contains("report.xlsx"));
    assert!(html.contains("广州市委党校（本级）"), "{html}");
    // In English, the page's own labels are English (the organisations' names stay theirs).
    let html = t.page(&browser, "/admin/reports?lang=en").await;
    assert!(html.contains("广州市委党校 (own members)"), "{html}");
    assert!(html.contains("Library (Lectern)"), "{html}");
    assert!(
        !html.contains("（本级）") && !html.contains("季度") && !html.contains("学习库"),
        "{html}"
    );
    let q = lectern::domain::report::Quarter::of_ms(lectern::db::now_ms());
    assert!(html.contains(&q.label_en()), "{html}");
    // A member has no report page nor a link to it.
    let member_browser = t.browser();
    t.sign_in(&member_browser, "city-member", crate::fixtures::PASSWORD)
        .await;
    let home = t.page(&member_browser, "/").await;
    assert!(
        !home.contains("href=\"/admin/reports\""),
        "no nav link for a member"
    );
    let r = member_browser
        .get(t.url("/admin/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let _ = d.city_member;
}
