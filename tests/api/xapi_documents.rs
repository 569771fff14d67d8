//! The learning record store's document resources, the Activities and Agents resources,
//! statements with attachments' data, and the alternate request syntax, from the MUSTs of xAPI
//! 1.0.3 Communication (1.3, 1.5.2, 2.2-2.7, 3.1): documents stored with their media type and
//! answered with a SHA-1 ETag and Last-Modified, `POST` merging JSON objects only, `If-Match` /
//! `If-None-Match` (412) and the profiles' 409, every parameter checked, each platform seeing
//! only its own; `multipart/mixed` statements whose parts must match their attachments' `sha2`,
//! the data answered with `attachments=true`. Both databases.

use crate::common::{TestApp, problem};
use crate::feed::platform;
use serde_json::{Value, json};
use sha1::Digest;

const STATE: &str = "/api/xapi/activities/state";
const ACTIVITY_PROFILE: &str = "/api/xapi/activities/profile";
const AGENT_PROFILE: &str = "/api/xapi/agents/profile";
const STATEMENTS: &str = "/api/xapi/statements";
const ACTIVITY: &str = "http://example.com/activities/课程-1";

/// A platform's way into the store.
struct Lrs<'a> {
    t: &'a TestApp,
    key: String,
}

impl Lrs<'_> {
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
    ) -> reqwest::RequestBuilder {
        self.t
            .client
            .request(method, self.t.url(path))
            .query(query)
            .bearer_auth(&self.key)
            .header("X-Experience-API-Version", "1.0.3")
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> reqwest::Response {
        let r = self
            .request(reqwest::Method::GET, path, query)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-experience-api-version"], "1.0.3");
        r
    }

    async fn status(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> u16 {
        let mut r = self.request(method, path, query);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some((content_type, bytes)) = body {
            r = r.header("content-type", content_type).body(bytes);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        if status >= 400 {
            problem(r).await;
        }
        status
    }

    async fn put_json(&self, path: &str, query: &[(&str, String)], doc: &Value) -> u16 {
        self.status(
            reqwest::Method::PUT,
            path,
            query,
            &[],
            Some(("application/json", doc.to_string().into_bytes())),
        )
        .await
    }

    async fn post_json(&self, path: &str, query: &[(&str, String)], doc: &Value) -> u16 {
        self.status(
            reqwest::Method::POST,
            path,
            query,
            &[],
            Some(("application/json", doc.to_string().into_bytes())),
        )
        .await
    }

    /// A document's JSON and ETag.
    async fn doc(&self, path: &str, query: &[(&str, String)]) -> (Value, String) {
        let r = self.get(path, query).await;
        assert_eq!(r.status(), 200);
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        (r.json().await.unwrap(), etag)
    }

    async fn ids(&self, path: &str, query: &[(&str, String)]) -> Vec<String> {
        let r = self.get(path, query).await;
        assert_eq!(r.status(), 200);
        let mut ids: Vec<String> = r.json().await.unwrap();
        ids.sort();
        ids
    }
}

async fn two_platforms(t: &TestApp) -> (Lrs<'_>, Lrs<'_>) {
    let tree = t.tree().await;
    let (_, key) = platform(t, &tree.city, "市级学习平台", json!({})).await;
    let (_, other) = platform(t, &tree.city, "县级学习平台", json!({})).await;
    (Lrs { t, key }, Lrs { t, key: other })
}

fn agent() -> String {
    json!({"objectType": "Agent", "account": {"homePage": "http://example.com", "name": "学员甲"}})
        .to_string()
}

fn state(id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("activityId", ACTIVITY.to_owned()),
        ("agent", agent()),
        ("stateId", id.to_owned()),
    ]
}

fn sha1_tag(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(sha1::Sha1::digest(bytes)))
}

#[tokio::test]
async fn state_documents_are_stored_merged_listed_and_deleted_per_platform() {
    let t = TestApp::spawn().await;
    let (lrs, other) = two_platforms(&t).await;
    let doc = json!({"进度": 3, "car": {"make": "Ford"}});
    assert_eq!(lrs.put_json(STATE, &state("s1"), &doc).await, 204);
    // GET answers the document as stored, with a quoted SHA-1 ETag and Last-Modified.
    let r = lrs.get(STATE, &state("s1")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.headers().contains_key("last-modified"));
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let bytes = r.bytes().await.unwrap();
    assert_eq!(etag, sha1_tag(&bytes));
    assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), doc);
    // POST merges one level deep: a property replaced whole, one added.
    assert_eq!(
        lrs.post_json(
            STATE,
            &state("s1"),
            &json!({"car": {"model": "Ram"}, "x": 1})
        )
        .await,
        204
    );
    let (merged, new_tag) = lrs.doc(STATE, &state("s1")).await;
    assert_eq!(merged, json!({"进度": 3, "car": {"model": "Ram"}, "x": 1}));
    assert_ne!(new_tag, etag);
    // POST of something that is not a JSON object over a JSON document: 400, unchanged.
    for (content_type, body) in [
        ("application/json", "[1, 2]"),
        ("text/plain", "abc"),
        ("application/json", "abc"),
    ] {
        assert_eq!(
            lrs.status(
                reqwest::Method::POST,
                STATE,
                &state("s1"),
                &[],
                Some((content_type, body.as_bytes().to_vec()))
            )
            .await,
            400,
            "{content_type} {body}"
        );
    }
    assert_eq!(lrs.doc(STATE, &state("s1")).await.0, merged);
    // A POST to a document not there stores it as sent, with its media type.
    assert_eq!(
        lrs.status(
            reqwest::Method::POST,
            STATE,
            &state("s2"),
            &[],
            Some(("text/plain; charset=utf-8", "纯文本".as_bytes().to_vec()))
        )
        .await,
        204
    );
    let r = lrs.get(STATE, &state("s2")).await;
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.text().await.unwrap(), "纯文本");
    // ... and a POST of JSON over a non-JSON document is refused too.
    assert_eq!(
        lrs.post_json(STATE, &state("s2"), &json!({"a": 1})).await,
        400
    );
    // A state of a registration is another document.
    let registration = uuid::Uuid::new_v4().to_string();
    let mut with_reg = state("s1");
    with_reg.push(("registration", registration.clone()));
    assert_eq!(
        lrs.get(STATE, &with_reg).await.status(),
        404,
        "a registration's state is its own"
    );
    assert_eq!(lrs.put_json(STATE, &with_reg, &json!({"r": 1})).await, 204);
    // The ids: all of the activity and agent, of one registration, or updated since.
    let base = vec![("activityId", ACTIVITY.to_owned()), ("agent", agent())];
    assert_eq!(lrs.ids(STATE, &base).await, vec!["s1", "s2"]);
    let mut of_reg = base.clone();
    of_reg.push(("registration", registration.clone()));
    assert_eq!(lrs.ids(STATE, &of_reg).await, vec!["s1"]);
    let future = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mut since = base.clone();
    since.push((
        "since",
        future
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    ));
    assert!(lrs.ids(STATE, &since).await.is_empty());
    // Another platform sees none of it.
    assert_eq!(other.get(STATE, &state("s1")).await.status(), 404);
    assert!(other.ids(STATE, &base).await.is_empty());
    assert_eq!(
        other
            .status(reqwest::Method::DELETE, STATE, &base, &[], None)
            .await,
        204
    );
    assert_eq!(lrs.ids(STATE, &base).await, vec!["s1", "s2"]);
    // DELETE one, then all of one registration, then all.
    assert_eq!(
        lrs.status(reqwest::Method::DELETE, STATE, &state("s2"), &[], None)
            .await,
        204
    );
    assert_eq!(lrs.get(STATE, &state("s2")).await.status(), 404);
    assert_eq!(
        lrs.status(reqwest::Method::DELETE, STATE, &of_reg, &[], None)
            .await,
        204
    );
    assert_eq!(lrs.get(STATE, &with_reg).await.status(), 404);
    assert_eq!(lrs.get(STATE, &state("s1")).await.status(), 200);
    assert_eq!(
        lrs.status(reqwest::Method::DELETE, STATE, &base, &[], None)
            .await,
        204
    );
    assert!(lrs.ids(STATE, &base).await.is_empty());
}

#[tokio::test]
async fn writes_keep_the_concurrency_rules_of_etags() {
    let t = TestApp::spawn().await;
    let (lrs, _) = two_platforms(&t).await;
    let activity_profile = |id: &str| {
        vec![
            ("activityId", ACTIVITY.to_owned()),
            ("profileId", id.to_owned()),
        ]
    };
    let agent_profile = |id: &str| vec![("agent", agent()), ("profileId", id.to_owned())];
    for (path, q) in [
        (ACTIVITY_PROFILE, activity_profile("p1")),
        (AGENT_PROFILE, agent_profile("p1")),
    ] {
        let first = json!({"v": 1});
        // A profile is not created without a precondition (400), nothing stored.
        assert_eq!(lrs.put_json(path, &q, &first).await, 400, "{path}");
        assert_eq!(lrs.get(path, &q).await.status(), 404, "{path}");
        // If-None-Match: * creates only what is not there.
        let put = |headers: &'static [(&'static str, &'static str)], doc: Value| {
            let q = q.clone();
            let lrs = &lrs;
            async move {
                lrs.status(
                    reqwest::Method::PUT,
                    path,
                    &q,
                    headers,
                    Some(("application/json", doc.to_string().into_bytes())),
                )
                .await
            }
        };
        assert_eq!(
            put(&[("If-None-Match", "*")], first.clone()).await,
            204,
            "{path}"
        );
        assert_eq!(
            put(&[("If-None-Match", "*")], json!({"v": 2})).await,
            412,
            "{path}"
        );
        // A PUT over an existing profile without a precondition: 409, unchanged.
        assert_eq!(put(&[], json!({"v": 3})).await, 409, "{path}");
        let (doc, etag) = lrs.doc(path, &q).await;
        assert_eq!(doc, first, "{path}");
        // If-Match with another tag: 412, unchanged; with the document's tag: replaced.
        let stale = "\"1111111111111111111111111111111111111111\"";
        let mut r = lrs
            .request(reqwest::Method::PUT, path, &q)
            .header("If-Match", stale)
            .json(&json!({"v": 4}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 412, "{path}");
        assert_eq!(lrs.doc(path, &q).await.0, first, "{path}");
        r = lrs
            .request(reqwest::Method::PUT, path, &q)
            .header("If-Match", &etag)
            .json(&json!({"v": 5}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
        let (doc, etag5) = lrs.doc(path, &q).await;
        assert_eq!(doc, json!({"v": 5}), "{path}");
        // The old tag no longer matches a POST or a DELETE; the current one does.
        for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
            let r = lrs
                .request(method.clone(), path, &q)
                .header("If-Match", &etag)
                .json(&json!({"w": 1}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 412, "{method} {path}");
        }
        assert_eq!(lrs.doc(path, &q).await.0, json!({"v": 5}), "{path}");
        let r = lrs
            .request(reqwest::Method::DELETE, path, &q)
            .header("If-Match", &etag5)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
        assert_eq!(lrs.get(path, &q).await.status(), 404, "{path}");
        // If-Match on a document that is not there: 412.
        assert_eq!(
            put(&[("If-Match", "*")], first.clone()).await,
            412,
            "{path}"
        );
        // POST needs no precondition, and merges.
        assert_eq!(lrs.post_json(path, &q, &json!({"a": 1})).await, 204);
        assert_eq!(lrs.post_json(path, &q, &json!({"b": 2})).await, 204);
        assert_eq!(lrs.doc(path, &q).await.0, json!({"a": 1, "b": 2}));
        // The ids of the resource, without profileId.
        let all: Vec<(&str, String)> = q
            .iter()
            .filter(|(k, _)| *k != "profileId")
            .cloned()
            .collect();
        assert_eq!(lrs.ids(path, &all).await, vec!["p1"], "{path}");
    }
    // State documents are overwritten by a PUT without a precondition (the specification
    // asks the profiles only), and still honour If-Match.
    assert_eq!(
        lrs.put_json(STATE, &state("s"), &json!({"v": 1})).await,
        204
    );
    assert_eq!(
        lrs.put_json(STATE, &state("s"), &json!({"v": 2})).await,
        204
    );
    assert_eq!(lrs.doc(STATE, &state("s")).await.0, json!({"v": 2}));
    assert_eq!(
        lrs.status(
            reqwest::Method::PUT,
            STATE,
            &state("s"),
            &[("If-Match", "\"0000000000000000000000000000000000000000\"")],
            Some(("application/json", b"{}".to_vec()))
        )
        .await,
        412
    );
}

#[tokio::test]
async fn every_parameter_of_the_document_resources_is_checked() {
    let t = TestApp::spawn().await;
    let (lrs, _) = two_platforms(&t).await;
    let good = state("s");
    let with = |name: &'static str, value: &str| -> Vec<(&'static str, String)> {
        let mut q: Vec<(&str, String)> = good.iter().filter(|(k, _)| *k != name).cloned().collect();
        q.push((name, value.to_owned()));
        q
    };
    let without = |name: &str| -> Vec<(&'static str, String)> {
        good.iter().filter(|(k, _)| *k != name).cloned().collect()
    };
    let doc = Some(("application/json", b"{}".to_vec()));
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no activityId", without("activityId")),
        ("activityId 1", with("activityId", "1")),
        (
            "activityId object",
            with("activityId", "{\"key\":\"value\"}"),
        ),
        ("no agent", without("agent")),
        ("agent not JSON", with("agent", "not JSON")),
        ("agent true", with("agent", "true")),
        (
            "agent without identifier",
            with("agent", "{\"name\":\"甲\"}"),
        ),
        ("registration", with("registration", "not UUID")),
        ("unknown", with("colour", "red")),
        ("twice", {
            let mut q = good.clone();
            q.push(("stateId", "t".to_owned()));
            q
        }),
    ];
    for (what, q) in &cases {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::POST,
            reqwest::Method::DELETE,
        ] {
            let body = matches!(method, reqwest::Method::PUT | reqwest::Method::POST)
                .then(|| doc.clone())
                .flatten();
            assert_eq!(
                lrs.status(method.clone(), STATE, q, &[], body).await,
                400,
                "{what}: {method}"
            );
        }
    }
    // stateId is needed to write; since is a timestamp, and only for GET.
    for method in [reqwest::Method::PUT, reqwest::Method::POST] {
        assert_eq!(
            lrs.status(method.clone(), STATE, &without("stateId"), &[], doc.clone())
                .await,
            400,
            "{method}"
        );
    }
    assert_eq!(
        lrs.status(
            reqwest::Method::GET,
            STATE,
            &with("since", "not a timestamp"),
            &[],
            None
        )
        .await,
        400
    );
    assert_eq!(
        lrs.status(
            reqwest::Method::PUT,
            STATE,
            &with("since", "2026-01-01T00:00:00Z"),
            &[],
            doc.clone()
        )
        .await,
        400
    );
    // A profile is deleted by its id only; the agent profile takes no activity.
    let profile = vec![("activityId", ACTIVITY.to_owned())];
    assert_eq!(
        lrs.status(
            reqwest::Method::DELETE,
            ACTIVITY_PROFILE,
            &profile,
            &[],
            None
        )
        .await,
        400
    );
    let mixed = vec![
        ("agent", agent()),
        ("activityId", ACTIVITY.to_owned()),
        ("profileId", "p".to_owned()),
    ];
    assert_eq!(
        lrs.status(reqwest::Method::GET, AGENT_PROFILE, &mixed, &[], None)
            .await,
        400
    );
    // A document over 1 MiB: 413, nothing stored.
    let big = vec![b'a'; 1024 * 1024 + 1];
    assert_eq!(
        lrs.status(
            reqwest::Method::PUT,
            STATE,
            &good,
            &[],
            Some(("text/plain", big))
        )
        .await,
        413
    );
    assert_eq!(lrs.get(STATE, &good).await.status(), 404);
    // Without the version header, or the key: refused as on every resource of the store.
    let r = t
        .client
        .get(t.url(STATE))
        .query(&good)
        .bearer_auth(&lrs.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = t
        .client
        .get(t.url(STATE))
        .query(&good)
        .header("X-Experience-API-Version", "1.0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn activities_and_agents_are_answered_from_what_the_platform_stored() {
    let t = TestApp::spawn().await;
    let (lrs, other) = two_platforms(&t).await;
    async fn activity(l: &Lrs<'_>) -> Value {
        let q = vec![("activityId", ACTIVITY.to_owned())];
        let r = l.get("/api/xapi/activities", &q).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    }
    // An activity nothing defines: its id.
    assert_eq!(
        activity(&lrs).await,
        json!({"objectType": "Activity", "id": ACTIVITY})
    );
    let say = |definition: Value, as_parent: bool| {
        let a = json!({"objectType": "Activity", "id": ACTIVITY, "definition": definition});
        let mut s = json!({
            "actor": {"mbox": "mailto:learner@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": "http://example.com/other"}
        });
        if as_parent {
            s["context"] = json!({"contextActivities": {"parent": [a]}});
        } else {
            s["object"] = a;
        }
        s
    };
    let post = |s: Value| {
        let lrs = &lrs;
        async move {
            let r = lrs
                .request(reqwest::Method::POST, STATEMENTS, &[])
                .json(&s)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    post(say(
        json!({"name": {"zh-CN": "课程一"}, "type": "http://t/course"}),
        false,
    ))
    .await;
    post(say(json!({"name": {"en-US": "Course one"}}), true)).await;
    assert_eq!(
        activity(&lrs).await,
        json!({"objectType": "Activity", "id": ACTIVITY, "definition": {
            "name": {"zh-CN": "课程一", "en-US": "Course one"}, "type": "http://t/course"}})
    );
    // Another platform knows only the id.
    assert_eq!(
        activity(&other).await,
        json!({"objectType": "Activity", "id": ACTIVITY})
    );
    for q in [
        vec![],
        vec![("activityId", "not an iri".to_owned())],
        vec![("activityId", ACTIVITY.to_owned()), ("x", "1".to_owned())],
    ] {
        assert_eq!(
            lrs.status(reqwest::Method::GET, "/api/xapi/activities", &q, &[], None)
                .await,
            400
        );
    }
    // The Person object of an agent: arrays.
    let r = lrs
        .get(
            "/api/xapi/agents",
            &[(
                "agent",
                json!({"objectType": "Agent", "name": "学员甲", "mbox": "mailto:a@example.org"})
                    .to_string(),
            )],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"objectType": "Person", "name": ["学员甲"], "mbox": ["mailto:a@example.org"]})
    );
    for a in [
        "not JSON".to_owned(),
        json!({"name": "no identifier"}).to_string(),
        json!({"objectType": "Group", "mbox": "mailto:g@example.org"}).to_string(),
    ] {
        assert_eq!(
            lrs.status(
                reqwest::Method::GET,
                "/api/xapi/agents",
                &[("agent", a.clone())],
                &[],
                None
            )
            .await,
            400,
            "{a}"
        );
    }
}

/// A statement with attachments of `data` (text), each with its sha2 and no fileUrl.
fn with_attachments(data: &[&str]) -> Value {
    let attachments: Vec<Value> = data
        .iter()
        .map(|d| {
            json!({
                "usageType": "http://example.com/attachment-usage/test",
                "display": {"zh-CN": "附件"},
                "contentType": "text/plain",
                "length": d.len(),
                "sha2": crate::common::sha256_hex(d.as_bytes()),
            })
        })
        .collect();
    json!({
        "actor": {"mbox": "mailto:learner@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "http://example.com/activities/multipart"},
        "attachments": attachments
    })
}

/// A multipart/mixed body: the JSON, then each (headers, data) part, lines ended by `nl`.
/// A part to send: its headers and data.
type Sent<'a> = (Vec<(&'a str, String)>, &'a [u8]);
/// A part read back: its headers (names lowercase) and data.
pub type Read = (Vec<(String, String)>, Vec<u8>);

fn multipart(json: &Value, parts: &[Sent<'_>], nl: &str) -> Vec<u8> {
    let mut out =
        format!("--b0undary{nl}Content-Type: application/json{nl}{nl}{json}{nl}").into_bytes();
    for (headers, data) in parts {
        out.extend_from_slice(format!("--b0undary{nl}").as_bytes());
        for (k, v) in headers {
            out.extend_from_slice(format!("{k}: {v}{nl}").as_bytes());
        }
        out.extend_from_slice(nl.as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(nl.as_bytes());
    }
    out.extend_from_slice(format!("--b0undary--{nl}").as_bytes());
    out
}

fn part_headers(sha2: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "text/plain".to_owned()),
        ("Content-Transfer-Encoding", "binary".to_owned()),
        ("X-Experience-API-Hash", sha2.to_owned()),
    ]
}

/// The parts of a multipart/mixed answer, read independently of the store's own reader:
/// (headers lowercase, data).
pub fn read_parts(content_type: &str, body: &[u8]) -> Vec<Read> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .trim_matches('"');
    let text = body.to_vec();
    let delimiter = format!("\r\n--{boundary}");
    let mut rest = &text[format!("--{boundary}").len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return parts;
        }
        rest = &rest[2..]; // CRLF after the boundary
        let end = rest
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_bytes())
            .unwrap();
        let part = &rest[..end];
        let split = part.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let headers = std::str::from_utf8(&part[..split])
            .unwrap()
            .split("\r\n")
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        parts.push((headers, part[split + 4..].to_vec()));
        rest = &rest[end + delimiter.len()..];
    }
}

#[tokio::test]
async fn attachments_travel_as_multipart_mixed_and_come_back_with_their_data() {
    let t = TestApp::spawn().await;
    let (lrs, other) = two_platforms(&t).await;
    let (a, b) = ("here is a simple attachment", "第二个附件\r\n--b0und");
    let (sha_a, sha_b) = (
        crate::common::sha256_hex(a.as_bytes()),
        crate::common::sha256_hex(b.as_bytes()),
    );
    let statement = with_attachments(&[a, b]);
    let post = |content_type: &str, body: Vec<u8>| {
        let r = lrs
            .request(reqwest::Method::POST, STATEMENTS, &[])
            .header("content-type", content_type.to_owned())
            .body(body);
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            if status >= 400 {
                problem(r).await;
                (status, Value::Null)
            } else {
                (status, r.json::<Value>().await.unwrap())
            }
        }
    };
    let mixed = "multipart/mixed; boundary=b0undary";
    let stored_before = t.object_keys("xapi/attachments/").await.len();
    // Refused, with nothing stored: a part missing, a part no attachment names, a part whose
    // data does not have its hash, a part without the hash or without binary encoding, a first
    // part that is not JSON, no boundary, and a content type that is neither JSON nor mixed.
    let good_a = (part_headers(&sha_a), a.as_bytes());
    let good_b = (part_headers(&sha_b), b.as_bytes());
    let mut no_hash = part_headers(&sha_b);
    no_hash.retain(|(k, _)| *k != "X-Experience-API-Hash");
    let mut not_binary = part_headers(&sha_b);
    not_binary.retain(|(k, _)| *k != "Content-Transfer-Encoding");
    let stranger = crate::common::sha256_hex(b"stranger");
    let bad: Vec<(&str, String, Vec<u8>)> = vec![
        (
            "missing part",
            mixed.into(),
            multipart(&statement, std::slice::from_ref(&good_a), "\r\n"),
        ),
        (
            "extra part",
            mixed.into(),
            multipart(
                &statement,
                &[
                    good_a.clone(),
                    good_b.clone(),
                    (part_headers(&stranger), b"stranger"),
                ],
                "\r\n",
            ),
        ),
        (
            "data not of its hash",
            mixed.into(),
            multipart(
                &statement,
                &[good_a.clone(), (part_headers(&sha_b), b"other")],
                "\r\n",
            ),
        ),
        (
            "no hash",
            mixed.into(),
            multipart(
                &statement,
                &[good_a.clone(), (no_hash, b.as_bytes())],
                "\r\n",
            ),
        ),
        (
            "not binary",
            mixed.into(),
            multipart(
                &statement,
                &[good_a.clone(), (not_binary, b.as_bytes())],
                "\r\n",
            ),
        ),
        (
            "first part not JSON",
            mixed.into(),
            multipart(&statement, &[good_a.clone(), good_b.clone()], "\r\n")
                .into_iter()
                .collect::<Vec<u8>>()
                .replace_first(b"application/json", b"text/plain"),
        ),
        (
            "no boundary",
            "multipart/mixed".into(),
            multipart(&statement, &[good_a.clone(), good_b.clone()], "\r\n"),
        ),
        (
            "form-data",
            "multipart/form-data; boundary=b0undary".into(),
            multipart(&statement, &[good_a.clone(), good_b.clone()], "\r\n"),
        ),
        (
            "JSON without the data",
            "application/json".into(),
            statement.to_string().into_bytes(),
        ),
    ];
    for (what, content_type, body) in bad {
        assert_eq!(post(&content_type, body).await.0, 400, "{what}");
    }
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM xapi_statements")
            .fetch_one(t.db().pool())
            .await
            .unwrap()
    };
    assert_eq!(count().await, 0);
    assert_eq!(
        t.object_keys("xapi/attachments/").await.len(),
        stored_before
    );
    // Accepted with CRLF and with LF line ends alike.
    let (status, ids) = post(
        mixed,
        multipart(&statement, &[good_a.clone(), good_b.clone()], "\r\n"),
    )
    .await;
    assert_eq!(status, 200);
    let id = ids[0].as_str().unwrap().to_owned();
    let (status, _) = post(
        mixed,
        multipart(&statement, &[good_b.clone(), good_a.clone()], "\n"),
    )
    .await;
    assert_eq!(status, 200);
    // PUT takes multipart/mixed too.
    let put_id = uuid::Uuid::new_v4().to_string();
    let r = lrs
        .request(
            reqwest::Method::PUT,
            STATEMENTS,
            &[("statementId", put_id.clone())],
        )
        .header("content-type", mixed)
        .body(multipart(
            &with_attachments(&[a]),
            std::slice::from_ref(&good_a),
            "\r\n",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // GET with attachments=true: the statement first, then each attachment's data with its hash.
    let r = lrs
        .get(
            STATEMENTS,
            &[("statementId", id.clone()), ("attachments", "true".into())],
        )
        .await;
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("multipart/mixed"),
        "{content_type}"
    );
    let parts = read_parts(&content_type, &r.bytes().await.unwrap());
    assert_eq!(parts.len(), 3);
    let json: Value = serde_json::from_slice(&parts[0].1).unwrap();
    assert_eq!(json["id"], id.as_str());
    let mut data: Vec<(String, Vec<u8>)> = parts[1..]
        .iter()
        .map(|(h, d)| {
            let get = |n: &str| h.iter().find(|(k, _)| k == n).unwrap().1.clone();
            assert_eq!(get("content-transfer-encoding"), "binary");
            assert_eq!(get("content-type"), "text/plain");
            (get("x-experience-api-hash"), d.clone())
        })
        .collect();
    data.sort();
    let mut expected = vec![
        (sha_a.clone(), a.as_bytes().to_vec()),
        (sha_b.clone(), b.as_bytes().to_vec()),
    ];
    expected.sort();
    assert_eq!(data, expected);
    // Without attachments=true: JSON.
    let r = lrs.get(STATEMENTS, &[("statementId", id.clone())]).await;
    assert_eq!(r.headers()["content-type"], "application/json");
    // A page with attachments=true carries each hash once.
    let r = lrs.get(STATEMENTS, &[("attachments", "true".into())]).await;
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    let parts = read_parts(&content_type, &r.bytes().await.unwrap());
    let page: Value = serde_json::from_slice(&parts[0].1).unwrap();
    assert_eq!(page["statements"].as_array().unwrap().len(), 3);
    assert_eq!(parts.len(), 3);
    // Another platform naming the same hashes by fileUrl reaches none of the data.
    let mut by_url = with_attachments(&[a]);
    by_url["attachments"][0]["fileUrl"] = json!("http://example.com/a.txt");
    let r = other
        .request(reqwest::Method::POST, STATEMENTS, &[])
        .json(&by_url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let other_id: Vec<String> = r.json().await.unwrap();
    let r = other
        .get(
            STATEMENTS,
            &[
                ("statementId", other_id[0].clone()),
                ("attachments", "true".into()),
            ],
        )
        .await;
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(
        read_parts(&content_type, &r.bytes().await.unwrap()).len(),
        1
    );
    // Over 16 MiB of data in one request: 413.
    let big = vec![b'x'; 16 * 1024 * 1024 + 1];
    let big_sha = crate::common::sha256_hex(&big);
    let mut s = with_attachments(&[]);
    s["attachments"] = json!([{"usageType": "http://example.com/u", "display": {"en-US": "big"},
        "contentType": "text/plain", "length": big.len(), "sha2": big_sha}]);
    let (status, _) = post(
        mixed,
        multipart(&s, &[(part_headers(&big_sha), &big)], "\r\n"),
    )
    .await;
    assert_eq!(status, 413);
}

trait ReplaceFirst {
    fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceFirst for Vec<u8> {
    fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = self.windows(from.len()).position(|w| w == from).unwrap();
        [&self[..at], to, &self[at + from.len()..]].concat()
    }
}

#[tokio::test]
async fn the_alternate_request_syntax_stands_for_the_request_it_names() {
    let t = TestApp::spawn().await;
    let (lrs, _) = two_platforms(&t).await;
    let form = |method: &str, query_extra: &[(&str, &str)], fields: &[(&str, String)]| {
        let mut url = format!("{}?method={method}", t.url(STATEMENTS));
        for (k, v) in query_extra {
            url.push_str(&format!("&{k}={v}"));
        }
        t.client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish(),
            )
    };
    let statement = json!({
        "actor": {"mbox": "mailto:learner@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "http://example.com/alt"}
    });
    // PUT as a form: the headers (the key as Authorization) and the statement in the form.
    let id = uuid::Uuid::new_v4().to_string();
    let r = form(
        "PUT",
        &[],
        &[
            ("statementId", id.clone()),
            ("Authorization", format!("Bearer {}", lrs.key)),
            ("X-Experience-API-Version", "1.0.3".into()),
            ("Content-Type", "application/json".into()),
            ("content", statement.to_string()),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let r = lrs.get(STATEMENTS, &[("statementId", id.clone())]).await;
    assert_eq!(r.status(), 200);
    // GET as a form: the parameters in the form.
    let r = form(
        "GET",
        &[],
        &[
            ("Authorization", format!("Bearer {}", lrs.key)),
            ("X-Experience-API-Version", "1.0.3".into()),
            ("limit", "1".into()),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["statements"][0]["id"], id.as_str());
    assert!(page.get("more").is_some());
    // A state document through the form, with If-Match carried as a field.
    let state_url = |method: &str| format!("{}?method={method}", t.url(STATE));
    let fields = |extra: &[(&str, String)]| {
        let mut f: Vec<(&str, String)> = state("alt").into_iter().collect();
        f.push(("Authorization", format!("Bearer {}", lrs.key)));
        f.push(("X-Experience-API-Version", "1.0.3".into()));
        f.extend(extra.iter().cloned());
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(f.iter().map(|(k, v)| (*k, v.as_str())))
            .finish()
    };
    let send = |method: &str, body: String| {
        t.client
            .post(state_url(method))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = send("PUT", fields(&[("content", "{\"a\":1}".into())]))
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (doc, etag) = lrs.doc(STATE, &state("alt")).await;
    assert_eq!(doc, json!({"a": 1}));
    let r = send(
        "PUT",
        fields(&[
            ("content", "{\"a\":2}".into()),
            (
                "If-Match",
                "\"0000000000000000000000000000000000000000\"".into(),
            ),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 412);
    let r = send("DELETE", fields(&[("If-Match", etag)])).await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(lrs.get(STATE, &state("alt")).await.status(), 404);
    // Refused: a parameter in the URL besides method, method on a GET, no form at all, an
    // unknown method.
    let auth = [
        ("Authorization", format!("Bearer {}", lrs.key)),
        ("X-Experience-API-Version", "1.0.3".into()),
        ("content", statement.to_string()),
    ];
    let r = form(
        "PUT",
        &[("statementId", &uuid::Uuid::new_v4().to_string())],
        &auth,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    problem(r).await;
    let r = lrs
        .request(
            reqwest::Method::GET,
            STATEMENTS,
            &[("method", "POST".into())],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = t
        .client
        .post(format!("{}?method=PUT", t.url(STATEMENTS)))
        .bearer_auth(&lrs.key)
        .header("X-Experience-API-Version", "1.0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    problem(r).await;
    let r = form("PATCH", &[], &auth).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM xapi_statements")
            .fetch_one(t.db().pool())
            .await
            .unwrap(),
        1
    );
}
