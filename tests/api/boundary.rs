//! The input boundary (hardening issue, classes 1 and 8): text the service cannot store or
//! would write into broken XML, and bytes that are not UTF-8, are refused with a problem body on
//! every route — the routes walked are the router's own list, so a new route is covered
//! without being named here — and the protocol cases (tus numbers and metadata, `If-Match`,
//! long targets) are answered as their RFCs say.

use crate::common::{TestApp, problem};
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

/// Every route's path with its parameters replaced by `value` (already percent-encoded).
fn every_route_with(value: &str) -> Vec<String> {
    lectern::http::route_paths()
        .into_iter()
        .map(|p| {
            p.split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        value.to_owned()
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

const METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Sends `method url` as the operator and anonymously; every answer must be a 400 problem body.
async fn refused_everywhere(t: &TestApp, bad: &str) {
    let paths = every_route_with(bad);
    assert!(paths.len() > 60, "the router lists its routes: {paths:?}");
    let mut checked = 0;
    for path in paths {
        // A parameter in the query string too: routes without path parameters are covered so.
        let url = t.url(&format!("{path}?q={bad}"));
        for method in METHODS {
            for token in [Some(&t.token), None] {
                let mut r = t.client.request(method.clone(), &url);
                if let Some(token) = token {
                    r = r.bearer_auth(token);
                }
                let r = r.send().await.unwrap();
                assert_eq!(
                    r.status(),
                    400,
                    "{method} {url} (token: {})",
                    token.is_some()
                );
                if method != Method::HEAD {
                    problem(r).await;
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 700);
}

#[tokio::test]
async fn nul_bytes_are_refused_on_every_route_before_any_handler() {
    let t = TestApp::spawn().await;
    refused_everywhere(&t, "a%00b").await;
    // A path with no route at all is refused the same way.
    let r = t.get("/no/such%00route").send().await.unwrap();
    assert_eq!(r.status(), 400);
    problem(r).await;
}

#[tokio::test]
async fn invalid_utf8_and_noncharacters_are_refused_on_every_route() {
    let t = TestApp::spawn().await;
    refused_everywhere(&t, "%ff%fe").await;
    refused_everywhere(&t, "%EF%BF%BE").await;
    // The repro cases of the probe, by name.
    for path in [
        "/api/v1/search?q=%ff",
        "/lessons/%ff",
        "/static/%ff",
        "/api/v1/lessons?tag=%00",
        "/api/v1/audit?action=a%00b",
    ] {
        let r = t.get(path).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body = problem(r).await;
        assert_eq!(body["code"], "invalid_request", "{path}");
    }
}

#[tokio::test]
async fn json_bodies_with_forbidden_characters_are_refused_whatever_the_field() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let cases: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/api/v1/lessons".into(),
            json!({"title": "标题", "kind": "video", "org_id": "a\u{0}b"}),
        ),
        (
            Method::POST,
            "/api/v1/lessons".into(),
            json!({"title": "标题\u{FFFE}", "kind": "video"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/lessons/{lesson}"),
            json!({"lecturer": "张\u{FFFF}三"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/lessons/{lesson}"),
            json!({"tags": ["a\u{1}"]}),
        ),
        (
            Method::POST,
            "/api/v1/orgs".into(),
            json!({"name": "组织", "parent_id": "a\u{0}b"}),
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"login": "u\u{0}", "password": "long enough password"}),
        ),
        (
            Method::PUT,
            format!("/api/v1/lessons/{lesson}/audience"),
            json!({"scope": "subtree", "scope_org_id": "a\u{0}b"}),
        ),
        (
            Method::POST,
            "/api/v1/platforms".into(),
            json!({"name": "p", "org_id": "a\u{0}b"}),
        ),
        (
            Method::POST,
            format!("/api/v1/lessons/{lesson}/reject"),
            json!({"reason": "x", "k\u{0}": 1}),
        ),
    ];
    for (method, path, body) in cases {
        let r = t
            .client
            .request(method.clone(), t.url(&path))
            .bearer_auth(&t.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{method} {path} {body}");
        let p = problem(r).await;
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains("the JSON value at $"),
            "{method} {path}: {p}"
        );
    }
    // Nothing was written by any of them.
    let lessons: Value = t.json("/api/v1/lessons").await;
    assert_eq!(
        lessons["items"].as_array().map(Vec::len),
        Some(1),
        "{lessons}"
    );
}

#[tokio::test]
async fn forms_with_forbidden_or_invalid_bytes_are_refused() {
    let t = TestApp::spawn().await;
    for body in ["login=a%00b&password=x", "login=%ff%fe&password=x"] {
        let r = t
            .client
            .post(t.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let p = problem(r).await;
        assert!(p["detail"].as_str().unwrap().contains("`login`"), "{p}");
    }
}

#[tokio::test]
async fn an_over_long_request_target_is_a_414_problem() {
    let t = TestApp::spawn().await;
    let q = "字".repeat(1000);
    let r = t
        .get("/api/v1/search")
        .query(&[("q", &q)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);
    problem(r).await;
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn tus_numbers_and_metadata_are_read_as_tus_1_0_says() {
    let t = TestApp::spawn().await;
    let lesson = t.lesson("video").await;
    let create = |length: &str, metadata: String| {
        t.post("/api/v1/uploads")
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length)
            .header("upload-metadata", metadata)
    };
    let good = format!(
        "lesson_id {},role {},filename {}",
        b64(&lesson),
        b64("master"),
        b64("a.mp4")
    );
    for (length, metadata, why) in [
        ("+100", good.clone(), "a sign is not a digit"),
        ("1e2", good.clone(), "nor an exponent"),
        ("-0", good.clone(), "nor a minus"),
        (
            "100",
            format!("{good},role {}", b64("poster")),
            "duplicate key",
        ),
        (
            "100",
            format!("lesson_id {}", b64("a\u{0}b")),
            "NUL in a value",
        ),
        ("100", format!("{good},x !!!"), "a value that is not base64"),
        (
            "100",
            format!("lesson_id {}", b64("\u{FFFE}")),
            "a noncharacter in a value",
        ),
    ] {
        let r = create(length, metadata).send().await.unwrap();
        assert_eq!(r.status(), 400, "{why}");
        assert_eq!(r.headers()["tus-resumable"], "1.0.0");
        problem(r).await;
    }
    let r = create("100", good).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let r = t
        .patch(&location)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "+0")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn if_match_is_evaluated_as_rfc_9110_says() {
    let t = TestApp::spawn().await;
    let id = t.lesson("video").await;
    let path = format!("/api/v1/lessons/{id}");
    let update = |if_match: &'static str, title: &'static str| {
        t.patch(&path)
            .header("if-match", if_match)
            .json(&json!({ "title": title }))
    };
    // `*` matches the lesson, whatever its version.
    let r = update("*", "星号").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"v2\"");
    // A list matches when any strong tag in it does.
    let r = update("\"v1\", \"v2\"", "列表").send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A weak tag never matches under the strong comparison If-Match uses.
    let r = update("W/\"v3\"", "弱").send().await.unwrap();
    assert_eq!(r.status(), 412);
    problem(r).await;
    // Not an entity tag at all: the request is malformed.
    for malformed in ["v3", "\"v3", "W/v3"] {
        let r = t
            .patch(&path)
            .header("if-match", malformed)
            .json(&json!({ "title": "坏" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{malformed}");
        problem(r).await;
    }
    let now: Value = t.json(&path).await;
    assert_eq!(now["title"], "列表");
    assert_eq!(now["version"], 3);
}
