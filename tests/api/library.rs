//! The members' library pages (issue 13), read as a browser gets them: the front page, search
//! results with their moments and pages, a lesson's page, a series and a lecturer; what a visitor
//! may not read is not there; errors are pages in the visitor's language.

use crate::common::TestApp;
use crate::fixtures::PASSWORD;
use crate::search::indexed;
use serde_json::{Value, json};

/// A page as an anonymous browser gets it: status, content security policy, body (with `/`
/// unescaped, which minijinja writes as `&#x2f;`).
async fn get(t: &TestApp, path: &str) -> (u16, String, String) {
    let r = t.client.get(t.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, csp, r.text().await.unwrap().replace("&#x2f;", "/"))
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn position(page: &str, needle: &str) -> usize {
    page.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not on the page:\n{page}"))
}

/// A subtitle file with a cue at 0:12 that says 纠缠态.
const VTT: &str = "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n今天我们讲量子力学的基本概念\n\n\
                   00:00:12.000 --> 00:00:15.500\n接下来测量纠缠态的性质\n";

/// A library of two episodes of a series (published in the reverse of their order), an audio
/// lesson by another lecturer, and a draft.
struct Shelf {
    first: String,
    second: String,
    audio: String,
    draft: String,
}

async fn shelf(t: &TestApp) -> Shelf {
    let second = t.published(
        json!({ "title": "量子力学入门 第二讲", "kind": "video", "series": "量子物理系列",
                "lecturer": "李老师", "recorded_on": "2026-02-10", "tags": ["物理"], "region_code": "440100" }),
    )
    .await;
    let first = t
        .published(
            json!({ "title": "量子力学入门 第一讲", "kind": "video", "series": "量子物理系列",
                "lecturer": "李老师", "recorded_on": "2026-01-10", "tags": ["物理", "入门"],
                "description": "从双缝实验讲起，介绍量子叠加。" }),
        )
        .await;
    let audio = t
        .published(
            json!({ "title": "党史学习教育专题", "kind": "audio", "series": "党史广播",
                "lecturer": "王教授", "tags": ["党史"] }),
        )
        .await;
    let draft = t
        .draft(json!({ "title": "量子草稿不应出现", "kind": "video" }))
        .await;
    // The first episode has a video (not processed here: played as the file) and a subtitle.
    let r = t
        .upload(&first, "master", "第一讲.mp4", crate::common::mp4(4096))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = t.upload_subtitle(&first, "第一讲.vtt", "zh-CN", VTT).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    indexed(t).await;
    Shelf {
        first,
        second,
        audio,
        draft,
    }
}

#[tokio::test]
async fn the_front_page_shows_the_newest_lessons_featured_series_in_order_and_what_to_browse_by() {
    let t = TestApp::spawn().await;
    // An empty library says so.
    let (s, _, page) = get(&t, "/").await;
    assert_eq!(s, 200);
    assert!(page.contains("学习库里还没有已发布的课程"), "{page}");

    let l = shelf(&t).await;
    let (s, csp, page) = get(&t, "/").await;
    assert_eq!(s, 200);
    for id in [&l.first, &l.second, &l.audio] {
        assert!(
            page.contains(&format!("/learn/{id}")),
            "{id} on the front page"
        );
    }
    assert!(
        !page.contains(&l.draft) && !page.contains("量子草稿"),
        "no draft"
    );
    // The series with the most episodes is featured, in episode order (recording date), though
    // the second episode was published first.
    let series = position(&page, &format!("/series/{}", enc("量子物理系列")));
    let (one, two) = (
        page[series..].find(&format!("/learn/{}", l.first)).unwrap(),
        page[series..]
            .find(&format!("/learn/{}", l.second))
            .unwrap(),
    );
    assert!(one < two, "episode order in the featured series");
    // Browse by kind, tag, region and lecturer.
    position(&page, "/search?kind=video");
    position(&page, &format!("/search?tag={}", enc("物理")));
    position(&page, "/search?region=440000");
    position(&page, &format!("/lecturers/{}", enc("李老师")));
    position(&page, "role=\"combobox\"");
    // Media may come from object storage (presigned URLs), nothing else from elsewhere.
    let origin = t.store().origin().to_owned();
    assert!(origin.starts_with("http"), "{origin}");
    assert!(
        csp.contains(&format!("media-src 'self' blob: {origin}"))
            && csp.contains("script-src 'self';"),
        "{csp}"
    );
    assert!(
        page.len() < 100_000,
        "the front page is {} bytes",
        page.len()
    );
    // In English too.
    let (s, _, page) = get(&t, "/?lang=en").await;
    assert_eq!(s, 200);
    assert!(page.contains("Newest lessons") && page.contains("lang=\"en\""));
}

#[tokio::test]
async fn search_results_mark_matches_link_moments_and_pages_and_keep_every_filter_in_the_url() {
    let t = TestApp::spawn().await;
    let l = shelf(&t).await;
    // A document whose second page says Zebrafish.
    let doc = t
        .published(json!({ "title": "实验讲义", "kind": "document", "series": "量子物理系列" }))
        .await;
    let r = t
        .upload(
            &doc,
            "master",
            "讲义.pdf",
            crate::common::pdf_with(&["Intro", "Zebrafish larvae"]),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    indexed(&t).await;

    let (s, csp, page) = get(&t, &format!("/search?q={}", enc("量子"))).await;
    assert_eq!(s, 200, "{page}");
    assert!(csp.contains("media-src"), "{csp}");
    assert!(page.contains("<mark>量子</mark>"), "{page}");
    position(&page, &format!("/learn/{}", l.first));
    position(&page, &format!("/learn/{}", l.second));
    assert!(!page.contains("量子草稿"), "no draft in results");
    // Facets are links that keep the query; a chosen one removes itself.
    position(&page, &format!("/search?q={}&amp;kind=video", enc("量子")));
    let (s, _, page) = get(
        &t,
        &format!("/search?q={}&tag={}", enc("量子"), enc("入门")),
    )
    .await;
    assert_eq!(s, 200);
    position(&page, &format!("/learn/{}", l.first));
    assert!(
        !page.contains(&format!("/learn/{}", l.second)),
        "filtered out"
    );
    position(&page, "入门 ✕");
    // Pinyin finds the title.
    let (_, _, page) = get(&t, "/search?q=liangzi").await;
    position(&page, &format!("/learn/{}", l.first));
    // A subtitle cue is a moment to open the lecture at.
    let (_, _, page) = get(&t, &format!("/search?q={}", enc("纠缠态"))).await;
    position(&page, &format!("/learn/{}?t=12#t=12", l.first));
    position(&page, "0:12");
    position(&page, "测量<mark>纠缠态</mark>的性质");
    assert!(!page.contains("&lt;mark"), "marks are markup, not text");
    // A document page is a page to open.
    let (_, _, page) = get(&t, "/search?q=zebrafish").await;
    position(&page, &format!("/learn/{doc}?page=2#page-2"));
    // Newest first is a link, and the order follows.
    let (_, _, page) = get(
        &t,
        &format!("/search?series={}&sort=newest", enc("量子物理系列")),
    )
    .await;
    assert!(page.contains("aria-current=\"true\">最新"), "{page}");
    // Nothing found still helps: popular series.
    let (s, _, page) = get(&t, "/search?q=qqqzzzxxx").await;
    assert_eq!(s, 200);
    assert!(page.contains("没有找到相关课程"), "{page}");
    position(&page, &format!("/series/{}", enc("量子物理系列")));
    // A mistake is a page in the visitor's language, with the field named.
    let long = "长".repeat(201);
    let (s, _, page) = get(&t, &format!("/search?q={}", enc(&long))).await;
    assert_eq!(s, 400);
    assert!(page.contains("请求有误：关键词"), "{page}");
    let (s, _, page) = get(&t, &format!("/search?q={}&lang=en", enc(&long))).await;
    assert_eq!(s, 400);
    assert!(page.contains("at most 200 characters"), "{page}");
    let (s, _, page) = get(&t, "/search?q=a&page=0").await;
    assert_eq!(s, 400);
    assert!(page.contains("页码"), "{page}");
    // No query at all is the empty search form.
    let (s, _, page) = get(&t, "/search").await;
    assert_eq!(s, 200);
    assert!(page.contains("开始搜索"), "{page}");
}

#[tokio::test]
async fn a_lesson_page_has_its_player_transcript_documents_and_episodes_and_hides_drafts() {
    let t = TestApp::spawn().await;
    let l = shelf(&t).await;
    let (s, csp, page) = get(&t, &format!("/learn/{}", l.first)).await;
    assert_eq!(s, 200, "{page}");
    assert!(csp.contains("media-src"), "{csp}");
    // Not processed: the file itself plays, with the subtitle as captions.
    let master = position(&page, "data-src=\"/api/v1/assets/");
    assert!(
        page[master..].starts_with("data-src=\"/api/v1/assets/") && page.contains("/content\"")
    );
    assert!(!page.contains("data-hls="), "no ladder yet");
    position(
        &page,
        &format!(
            "src=\"/api/v1/lessons/{}/subtitles/zh-CN.vtt\" default",
            l.first
        ),
    );
    position(&page, "id=\"transcript\"");
    // The series, the lecturer, a tag and the next episode are links.
    position(&page, &format!("/series/{}", enc("量子物理系列")));
    position(&page, &format!("/lecturers/{}", enc("李老师")));
    position(&page, &format!("/search?tag={}", enc("入门")));
    let next = position(&page, "id=\"next-episode\"");
    assert!(
        page[..next].contains(&format!("/learn/{}", l.second)),
        "next is the second episode"
    );
    assert!(page.contains("第 1 集 / 2"), "{page}");
    assert!(!page.contains("管理这节课"), "no manage link for visitors");
    assert!(page.len() < 100_000);
    // The second episode links back.
    let (_, _, page) = get(&t, &format!("/learn/{}", l.second)).await;
    let prev = position(&page, "rel=\"prev\"");
    assert!(page[prev..].contains(&format!("/learn/{}", l.first)));

    // A draft does not exist for visitors, in their language.
    let (s, _, page) = get(&t, &format!("/learn/{}", l.draft)).await;
    assert_eq!(s, 404);
    assert!(page.contains("找不到页面"), "{page}");
    let (s, _, _) = get(&t, "/learn/not-a-lesson").await;
    assert_eq!(s, 404);

    // Its editor sees a preview, saying members cannot see it, and a link to manage it.
    let tree = t.tree().await;
    let editor = t.account("lib-editor", &[("editor", &tree.city)]).await;
    let mine = t
        .r#as(&editor)
        .post("/api/v1/lessons")
        .json(&json!({ "title": "编辑的草稿", "kind": "document" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = t.browser();
    assert_eq!(t.sign_in(&b, &editor.login, PASSWORD).await.status(), 303);
    let page = t.page(&b, &format!("/learn/{mine}")).await;
    assert!(
        page.contains("尚未发布") && page.contains("管理这节课"),
        "{page}"
    );
}

#[tokio::test]
async fn a_document_opens_at_the_page_asked_for() {
    let t = TestApp::spawn().await;
    let pages: Vec<String> = (1..=12).map(|n| format!("Leaf number {n}")).collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let doc = t
        .published(json!({ "title": "十二页讲义", "kind": "document" }))
        .await;
    let r = t
        .upload(&doc, "master", "讲义.pdf", crate::common::pdf_with(&refs))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    indexed(&t).await;
    let (s, _, page) = get(&t, &format!("/learn/{doc}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("id=\"page-1\"") && page.contains("id=\"page-10\""));
    assert!(!page.contains("id=\"page-11\""), "ten pages at a time");
    position(&page, "共 12 页");
    position(&page, &format!("/learn/{doc}?page=11#page-11"));
    position(&page, "Leaf number 3");
    let (s, _, page) = get(&t, &format!("/learn/{doc}?page=12")).await;
    assert_eq!(s, 200);
    assert!(page.contains("id=\"page-12\"") && page.contains("Leaf number 12"));
    assert!(!page.contains("id=\"page-1\""));
    position(&page, "/api/v1/assets/");
    position(&page, "/content\" download");
}

#[tokio::test]
async fn series_and_lecturer_pages_list_their_lessons_and_unknown_ones_do_not_exist() {
    let t = TestApp::spawn().await;
    let l = shelf(&t).await;
    let (s, _, page) = get(&t, &format!("/series/{}", enc("量子物理系列"))).await;
    assert_eq!(s, 200, "{page}");
    let (one, two) = (
        position(&page, &format!("/learn/{}", l.first)),
        position(&page, &format!("/learn/{}", l.second)),
    );
    assert!(one < two, "episodes in order");
    assert!(!page.contains("订阅播客"), "a video series has no podcast");
    let (s, _, page) = get(&t, &format!("/series/{}", enc("党史广播"))).await;
    assert_eq!(s, 200);
    position(&page, &format!("/learn/{}", l.audio));
    position(&page, "/feeds/series/");
    // An audio lesson of a series offers the series' podcast.
    let (_, _, page) = get(&t, &format!("/learn/{}", l.audio)).await;
    position(&page, "/feeds/series/");
    let (s, _, page) = get(&t, &format!("/lecturers/{}", enc("李老师"))).await;
    assert_eq!(s, 200);
    position(&page, &format!("/learn/{}", l.first));
    assert!(!page.contains(&format!("/learn/{}", l.audio)));
    for path in [
        format!("/series/{}", enc("没有这个系列")),
        format!("/lecturers/{}", enc("无名氏")),
    ] {
        let (s, _, page) = get(&t, &path).await;
        assert_eq!(s, 404, "{path}");
        assert!(page.contains("找不到页面"), "{page}");
    }
}

#[tokio::test]
async fn the_status_figures_are_for_staff_only() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let r = t
        .browser()
        .get(t.url("/admin/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "visitors are sent to sign in");
    let member = t.account("lib-member", &[("member", &tree.city)]).await;
    let b = t.browser();
    assert_eq!(t.sign_in(&b, &member.login, PASSWORD).await.status(), 303);
    let r = b.get(t.url("/admin/status")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("仅供工作人员"));
    // A member's navigation has the library and search, not the staff pages.
    let page = t.page(&b, "/").await.replace("&#x2f;", "/");
    assert!(
        page.contains("href=\"/search\"") && !page.contains("href=\"/review\""),
        "{page}"
    );
    let admin = t
        .account("lib-admin", &[("administrator", &tree.city)])
        .await;
    let b = t.browser();
    assert_eq!(t.sign_in(&b, &admin.login, PASSWORD).await.status(), 303);
    let page = t.page(&b, "/admin/status").await;
    assert!(page.contains("已发布课程"), "{page}");
    // Without a page to go back to, a member starts at the library, staff at their lessons.
    for (account, start) in [(&member, "/"), (&admin, "/lessons")] {
        let b = t.browser();
        let page = t.page(&b, "/login").await;
        assert!(
            page.contains("name=\"next\" value=\"\""),
            "no page to go back to"
        );
        let csrf = t.login_csrf(&b).await;
        let r = b
            .post(t.url("/login"))
            .form(&[
                ("login", account.login.as_str()),
                ("password", PASSWORD),
                ("csrf", csrf.as_str()),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], start, "{}", account.login);
    }
}

#[tokio::test]
async fn a_member_keeps_their_place_and_sees_it_under_continue_watching() {
    let t = TestApp::spawn().await;
    let l = shelf(&t).await;
    let tree = t.tree().await;
    let member = t.account("lib-learner", &[("member", &tree.city)]).await;
    let put = |who: Option<&str>, lesson: &str, body: Value| {
        let r = t
            .client
            .put(t.url(&format!("/api/v1/me/positions/{lesson}")))
            .json(&body);
        match who {
            Some(token) => r.bearer_auth(token.to_owned()),
            None => r,
        }
        .send()
    };
    // Who may keep a place: an account, in a lesson it may read, within bounds.
    let r = put(None, &l.first, json!({ "position_ms": 1000 }))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = put(Some(&t.token), &l.first, json!({ "position_ms": 1000 }))
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "an operator token keeps no place");
    let r = put(
        Some(&member.token),
        &l.draft,
        json!({ "position_ms": 1000 }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404, "a draft the member may not read");
    let r = put(
        Some(&member.token),
        &l.first,
        json!({ "position_ms": -1, "duration_ms": 0 }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let v = crate::common::problem(r).await;
    assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
    // Two lessons played, one to its end.
    for (lesson, at, of) in [(&l.first, 754_000, 1_800_000), (&l.audio, 595_000, 600_000)] {
        let r = put(
            Some(&member.token),
            lesson,
            json!({ "position_ms": at, "duration_ms": of }),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        // Positions are ordered by the millisecond they were written.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let v: Value = t
        .client
        .get(t.url("/api/v1/me/positions"))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let positions = v["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 2, "{v}");
    assert_eq!(
        positions[0]["lesson_id"],
        l.audio.as_str(),
        "most recent first"
    );
    assert_eq!(positions[0]["finished"], true);
    assert_eq!(positions[1]["position_ms"], 754_000);
    assert_eq!(positions[1]["finished"], false);
    // Signed in, the front page offers the unfinished one at its place, and its page resumes.
    let b = t.browser();
    assert_eq!(t.sign_in(&b, &member.login, PASSWORD).await.status(), 303);
    let page = t.page(&b, "/").await.replace("&#x2f;", "/");
    let section = position(&page, "继续学习");
    assert!(
        page[section..].contains(&format!("/learn/{}?t=754", l.first)),
        "{page}"
    );
    assert!(
        !page[section..page[section..].find("</section>").unwrap() + section]
            .contains(&format!("/learn/{}", l.audio)),
        "a lesson played to its end is not offered again"
    );
    position(&page, "12:34");
    let page = t
        .page(&b, &format!("/learn/{}", l.first))
        .await
        .replace("&#x2f;", "/");
    position(&page, "data-resume=\"754\"");
    position(
        &page,
        &format!("data-track=\"/api/v1/me/positions/{}\"", l.first),
    );
    // A visitor has neither.
    let (_, _, page) = get(&t, "/").await;
    assert!(!page.contains("继续学习"));
    let (_, _, page) = get(&t, &format!("/learn/{}", l.first)).await;
    assert!(!page.contains("data-track") && !page.contains("data-resume"));
}

/// What a page costs a phone on a weak line before media: the HTML and every same-origin script
/// and stylesheet it loads, except the vendored player (cached once for every lesson).
async fn page_weight(t: &TestApp, path: &str) -> usize {
    let (s, _, html) = get(t, path).await;
    assert_eq!(s, 200, "{path}: {html}");
    let mut total = html.len();
    for attr in ["src=\"/static/", "href=\"/static/"] {
        let mut rest = html.as_str();
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len() - "/static/".len()..];
            let end = rest.find('"').unwrap();
            let url = &rest[..end];
            rest = &rest[end..];
            if url.contains("hls.min.js") {
                continue;
            }
            let r = t.client.get(t.url(url)).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            total += r.bytes().await.unwrap().len();
        }
    }
    total
}

#[tokio::test]
async fn the_front_page_and_a_lesson_page_weigh_under_100_kb_before_media() {
    let t = TestApp::spawn().await;
    let l = shelf(&t).await;
    // A full front page: more lessons than it shows, in series, by many lecturers.
    for i in 0..30 {
        t.published(json!({
            "title": format!("乡村振兴系列讲座 第{i}讲：产业兴旺与生态宜居的实践路径"),
            "kind": if i % 3 == 0 { "audio" } else { "video" },
            "series": format!("系列{}", i % 4), "lecturer": format!("讲师{}", i % 9),
            "tags": ["乡村振兴", "政策解读", format!("专题{}", i % 5)],
            "description": "从产业、人才、文化、生态、组织五个方面讲解乡村振兴战略的总体要求。".repeat(3),
            "region_code": "440100",
        }))
        .await;
    }
    indexed(&t).await;
    // Uncompressed (gzip would make them about a quarter): the bound holds either way.
    for path in [
        "/".to_owned(),
        format!("/learn/{}", l.first),
        "/search?q=乡村振兴".to_owned(),
    ] {
        let bytes = page_weight(&t, &path).await;
        eprintln!("{path}: {bytes} bytes before media");
        assert!(bytes < 100 * 1024, "{path}: {bytes} bytes");
        assert!(
            bytes > 10 * 1024,
            "{path}: {bytes} bytes: is this the whole page?"
        );
    }
}
