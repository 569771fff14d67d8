//! The xAPI 1.0.3 learning record store at `/api/xapi/`, from the specification's MUSTs
//! (Communication part 2 and Data part 2): version headers, credentials (bearer and Basic),
//! statement validation, ids (the same statement again is accepted, other content is 409, a
//! batch is all or none), voiding, every query parameter, `more` paging, and what a statement
//! about a lesson by a member makes of the member's learning archive. Both databases.

use crate::common::TestApp;
use crate::feed::{platform, published};
use serde_json::{Value, json};
use std::collections::HashSet;

const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";
const WATCHED: &str = "https://w3id.org/xapi/video/verbs/paused";
const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";

/// A platform's way into the store.
struct Lrs<'a> {
    t: &'a TestApp,
    key: String,
}

impl Lrs<'_> {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.t
            .client
            .request(method, self.t.url(path))
            .bearer_auth(&self.key)
            .header("X-Experience-API-Version", "1.0.3")
    }

    async fn post(&self, body: &Value) -> (u16, Value) {
        let r = self
            .request(reqwest::Method::POST, "/api/xapi/statements")
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-experience-api-version"], "1.0.3");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, id: &str, body: &Value) -> (u16, Value) {
        let r = self
            .request(reqwest::Method::PUT, "/api/xapi/statements")
            .query(&[("statementId", id)])
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, query: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .request(reqwest::Method::GET, "/api/xapi/statements")
            .query(query)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        if status == 200 {
            assert!(
                r.headers()
                    .contains_key("x-experience-api-consistent-through")
            );
            assert!(r.headers().contains_key("last-modified"));
        }
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Every statement of a query, following `more` links; the ids in order.
    async fn all_ids(&self, query: &[(&str, &str)]) -> Vec<String> {
        let (status, mut page) = self.get(query).await;
        assert_eq!(status, 200, "{page}");
        let mut ids = Vec::new();
        loop {
            for s in page["statements"].as_array().unwrap() {
                ids.push(s["id"].as_str().unwrap().to_owned());
            }
            let more = page["more"].as_str().unwrap().to_owned();
            if more.is_empty() {
                return ids;
            }
            assert!(more.starts_with("/api/xapi/statements?more="), "{more}");
            let r = self
                .request(reqwest::Method::GET, &more)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            page = r.json().await.unwrap();
        }
    }
}

fn mbox(name: &str) -> Value {
    json!({ "objectType": "Agent", "name": name, "mbox": format!("mailto:{name}@example.org") })
}

fn statement(actor: Value, verb: &str, activity: &str) -> Value {
    json!({
        "actor": actor,
        "verb": { "id": verb, "display": { "zh-CN": "学习", "en-US": "studied" } },
        "object": { "objectType": "Activity", "id": activity,
                    "definition": { "name": { "zh-CN": "课程" } } }
    })
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn stored_count(t: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM xapi_statements")
        .fetch_one(t.db().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn versions_credentials_and_about() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (platform_id, key) = platform(&t, &tree.city, "微信学习平台", json!({})).await;
    // /about needs neither credentials nor a version, and names 1.0.3.
    let r = t.client.get(t.url("/api/xapi/about")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-experience-api-version"], "1.0.3");
    let about: Value = r.json().await.unwrap();
    assert!(
        about["version"]
            .as_array()
            .unwrap()
            .contains(&json!("1.0.3"))
    );

    let statements = t.url("/api/xapi/statements");
    // No version, or one this store does not speak: 400, still marked with the version.
    for version in [None, Some("0.95"), Some("2.0.0"), Some("1.0.x")] {
        let mut r = t.client.get(&statements).bearer_auth(&key);
        if let Some(v) = version {
            r = r.header("X-Experience-API-Version", v);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 400, "{version:?}");
        assert_eq!(r.headers()["x-experience-api-version"], "1.0.3");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{version:?}"
        );
    }
    for version in ["1.0", "1.0.0", "1.0.3"] {
        let r = t
            .client
            .get(&statements)
            .bearer_auth(&key)
            .header("X-Experience-API-Version", version)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{version}");
    }
    // Credentials: none, an account's token, a wrong key id in Basic are refused with 401.
    let key_id: String = sqlx::query_scalar("SELECT id FROM platform_keys WHERE platform_id = $1")
        .bind(&platform_id)
        .fetch_one(t.db().pool())
        .await
        .unwrap();
    let member = t.account("lrs-member", &[("member", &tree.city)]).await;
    let v = ("X-Experience-API-Version", "1.0.3");
    let cases = [
        t.client.get(&statements).header(v.0, v.1),
        t.client
            .get(&statements)
            .header(v.0, v.1)
            .bearer_auth(&member.token),
        t.client
            .get(&statements)
            .header(v.0, v.1)
            .basic_auth("not-the-key-id", Some(&key)),
        t.client
            .get(&statements)
            .header(v.0, v.1)
            .basic_auth(&key_id, Some("lpk_wrong")),
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let r = c.send().await.unwrap();
        assert_eq!(r.status(), 401, "case {i}");
        assert!(
            r.headers()
                .get_all("www-authenticate")
                .iter()
                .any(|h| h.to_str().unwrap().starts_with("Basic")),
            "case {i}"
        );
    }
    // Basic with the key's id and the key, as LRS clients send: accepted.
    let r = t
        .client
        .post(&statements)
        .header(v.0, v.1)
        .basic_auth(&key_id, Some(&key))
        .json(&statement(mbox("basic"), WATCHED, "http://example.org/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Neither JSON nor multipart/mixed: 400 (Data 2.4.11); unknown parameters: 400.
    let r = t
        .client
        .post(&statements)
        .header(v.0, v.1)
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let lrs = Lrs { t: &t, key };
    assert_eq!(lrs.get(&[("colour", "red")]).await.0, 400);
    assert_eq!(lrs.get(&[("limit", "-1")]).await.0, 400);
    assert_eq!(lrs.get(&[("since", "yesterday")]).await.0, 400);
    assert_eq!(lrs.get(&[("verb", "not an iri")]).await.0, 400);
    assert_eq!(lrs.get(&[("agent", "{\"name\": \"x\"}")]).await.0, 400);
    assert_eq!(lrs.get(&[("format", "pretty")]).await.0, 400);
}

#[tokio::test]
async fn a_statement_is_stored_once_and_other_content_under_its_id_is_a_conflict() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (_, key) = platform(&t, &tree.city, "县级门户", json!({})).await;
    let lrs = Lrs { t: &t, key };
    let id = uuid();
    let mut first = statement(mbox("zhang"), WATCHED, "http://example.org/act/1");
    first["id"] = json!(id);
    let second = statement(mbox("li"), WATCHED, "http://example.org/act/2");
    let batch = json!([first, second]);
    let (status, ids) = lrs.post(&batch).await;
    assert_eq!(status, 200, "{ids}");
    assert_eq!(ids[0], json!(id));
    assert_eq!(ids.as_array().unwrap().len(), 2);
    // The same statement again (keys in another order, the id in capitals): accepted, stored once.
    let mut again =
        json!({ "object": first["object"], "verb": first["verb"], "actor": first["actor"] });
    again["id"] = json!(id.to_uppercase());
    let (status, ids2) = lrs.post(&json!([again])).await;
    assert_eq!(status, 200, "{ids2}");
    assert_eq!(lrs.put(&id, &first).await.0, 204);
    assert_eq!(stored_count(&t).await, 2);
    // Other content under the id: 409 by PUT and by POST, and a batch holding it stores nothing.
    let mut other = first.clone();
    other["verb"]["id"] = json!(COMPLETED);
    assert_eq!(lrs.put(&id, &other).await.0, 409);
    let fresh = uuid();
    let mut innocent = statement(mbox("wang"), WATCHED, "http://example.org/act/3");
    innocent["id"] = json!(fresh);
    let (status, body) = lrs.post(&json!([innocent, other])).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(lrs.get(&[("statementId", &fresh)]).await.0, 404);
    assert_eq!(stored_count(&t).await, 2);
    // PUT: the id in the body must be the parameter; PUT without one is 400.
    let mut mismatched = statement(mbox("zhao"), WATCHED, "http://example.org/act/4");
    mismatched["id"] = json!(uuid());
    assert_eq!(lrs.put(&uuid(), &mismatched).await.0, 400);
    let r = lrs
        .request(reqwest::Method::PUT, "/api/xapi/statements")
        .json(&mismatched)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // One id twice in a batch: 400.
    let mut twin = statement(mbox("qian"), WATCHED, "http://example.org/act/5");
    twin["id"] = json!(fresh);
    assert_eq!(lrs.post(&json!([twin.clone(), twin])).await.0, 400);
    // A PUT without an id in the body takes the parameter's.
    let put_id = uuid();
    let plain = statement(mbox("sun"), WATCHED, "http://example.org/act/6");
    assert_eq!(lrs.put(&put_id, &plain).await.0, 204);
    let (status, got) = lrs.get(&[("statementId", &put_id)]).await;
    assert_eq!(status, 200);
    // What the store adds: the id, stored, the platform's authority, version, timestamp.
    assert_eq!(got["id"], json!(put_id));
    assert!(
        got["stored"].is_string() && got["timestamp"].is_string(),
        "{got}"
    );
    assert_eq!(got["version"], "1.0.0");
    assert!(
        got["authority"]["account"]["name"]
            .as_str()
            .unwrap()
            .starts_with("platform:")
    );
    // Content the store does not understand is returned unchanged.
    let mut rich = statement(mbox("zhou"), WATCHED, "http://example.org/act/7");
    rich["context"] = json!({ "extensions": { "http://example.org/ext/深度": { "级": [1, 2.5, null, "三"] } },
                              "language": "zh-CN", "platform": "微信" });
    rich["result"] =
        json!({ "score": { "scaled": 0.5, "raw": 5, "min": 0, "max": 10 }, "duration": "PT1M" });
    let (_, ids) = lrs.post(&rich).await;
    let (_, got) = lrs.get(&[("statementId", ids[0].as_str().unwrap())]).await;
    assert_eq!(got["context"], rich["context"]);
    assert_eq!(got["result"], rich["result"]);
}

#[tokio::test]
async fn statements_that_break_the_specification_are_refused_and_nothing_is_stored() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (_, key) = platform(&t, &tree.city, "电视课堂", json!({})).await;
    let lrs = Lrs { t: &t, key };
    let good = statement(mbox("a"), WATCHED, "http://example.org/act");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut s = good.clone();
        f(&mut s);
        s
    };
    let cases: Vec<(&str, Value)> = vec![
        ("an unknown property", with(&|s| s["colour"] = json!("red"))),
        (
            "a null",
            with(&|s| s["result"] = json!({ "success": null })),
        ),
        (
            "no verb",
            with(&|s| {
                s.as_object_mut().unwrap().remove("verb");
            }),
        ),
        (
            "a verb id that is no IRI",
            with(&|s| s["verb"]["id"] = json!("watched")),
        ),
        (
            "an mbox without mailto",
            with(&|s| s["actor"]["mbox"] = json!("a@example.org")),
        ),
        (
            "two identifiers",
            with(&|s| s["actor"]["openid"] = json!("http://openid.example.org/a")),
        ),
        (
            "an id that is no UUID",
            with(&|s| s["id"] = json!("not-a-uuid")),
        ),
        (
            "a scaled score over 1",
            with(&|s| s["result"] = json!({ "score": { "scaled": 1.5 } })),
        ),
        (
            "a bad duration",
            with(&|s| s["result"] = json!({ "duration": "ten minutes" })),
        ),
        (
            "a timestamp without a zone",
            with(&|s| s["timestamp"] = json!("2026-03-01 10:00")),
        ),
        ("version 2.0", with(&|s| s["version"] = json!("2.0.0"))),
        (
            "a language map key that is no tag",
            with(&|s| s["verb"]["display"] = json!({ "not a tag": "x" })),
        ),
        (
            "revision on an agent object",
            with(&|s| {
                s["object"] = mbox("b");
                s["context"] = json!({ "revision": "1" });
            }),
        ),
        (
            "voided without a StatementRef",
            with(&|s| s["verb"]["id"] = json!(VOIDED)),
        ),
        (
            "a group as a group's member",
            with(&|s| {
                s["actor"] = json!({ "objectType": "Group", "member": [{ "objectType": "Group", "member": [mbox("c")] }] });
            }),
        ),
        (
            "a sub-statement with an id",
            with(&|s| {
                s["object"] = json!({ "objectType": "SubStatement", "id": uuid(), "actor": mbox("d"),
                                   "verb": { "id": WATCHED }, "object": { "id": "http://example.org/x" } });
            }),
        ),
    ];
    for (what, s) in &cases {
        let (status, body) = lrs.post(s).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["code"], "invalid_request", "{what}: {body}");
        // The batch with one bad statement stores nothing.
        let (status, _) = lrs.post(&json!([good, s])).await;
        assert_eq!(status, 400, "{what} in a batch");
    }
    assert_eq!(stored_count(&t).await, 0);
    // Not a statement at all.
    for body in [json!("text"), json!([]), json!(7)] {
        assert_eq!(lrs.post(&body).await.0, 400, "{body}");
    }
}

#[tokio::test]
async fn a_voided_statement_is_found_only_as_voided_and_a_voiding_statement_cannot_be_voided() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (_, key) = platform(&t, &tree.city, "音频终端", json!({})).await;
    let lrs = Lrs { t: &t, key };
    let (_, ids) = lrs
        .post(&statement(mbox("a"), WATCHED, "http://example.org/act"))
        .await;
    let target = ids[0].as_str().unwrap().to_owned();
    let void = |id: &str| {
        json!({ "actor": mbox("admin"), "verb": { "id": VOIDED, "display": { "en-US": "voided" } },
                "object": { "objectType": "StatementRef", "id": id } })
    };
    let (status, ids) = lrs.post(&void(&target)).await;
    assert_eq!(status, 200, "{ids}");
    let voiding = ids[0].as_str().unwrap().to_owned();
    assert_eq!(lrs.get(&[("statementId", &target)]).await.0, 404);
    let (status, got) = lrs.get(&[("voidedStatementId", &target)]).await;
    assert_eq!(status, 200);
    assert_eq!(got["id"], json!(target));
    // The voiding statement itself is an ordinary statement, not a voided one.
    assert_eq!(lrs.get(&[("statementId", &voiding)]).await.0, 200);
    assert_eq!(lrs.get(&[("voidedStatementId", &voiding)]).await.0, 404);
    let listed = lrs.all_ids(&[]).await;
    assert!(
        !listed.contains(&target) && listed.contains(&voiding),
        "{listed:?}"
    );
    // A voiding statement cannot be voided.
    let (status, body) = lrs.post(&void(&voiding)).await;
    assert_eq!(status, 400, "{body}");
    // statementId with other parameters, or both ids: 400.
    assert_eq!(
        lrs.get(&[("statementId", &voiding), ("verb", VOIDED)])
            .await
            .0,
        400
    );
    assert_eq!(
        lrs.get(&[("statementId", &voiding), ("voidedStatementId", &target)])
            .await
            .0,
        400
    );
    assert_eq!(lrs.get(&[("statementId", "nope")]).await.0, 400);
    // A statement voided before it arrives is voided when it does.
    let early = uuid();
    assert_eq!(lrs.post(&void(&early)).await.0, 200);
    let mut late = statement(mbox("late"), WATCHED, "http://example.org/act");
    late["id"] = json!(early);
    assert_eq!(lrs.post(&late).await.0, 200);
    assert_eq!(lrs.get(&[("statementId", &early)]).await.0, 404);
    assert_eq!(lrs.get(&[("voidedStatementId", &early)]).await.0, 200);
}

#[tokio::test]
async fn every_query_parameter_filters_and_more_pages_through_all_of_them_once() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (_, key) = platform(&t, &tree.city, "省级门户", json!({})).await;
    let (_, other_key) = platform(&t, &tree.city, "另一个平台", json!({})).await;
    let lrs = Lrs { t: &t, key };
    let other = Lrs {
        t: &t,
        key: other_key,
    };
    let reg = uuid();
    let course = "http://example.org/course/1";
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut s = statement(
            mbox(if i % 2 == 0 { "even" } else { "odd" }),
            if i < 5 { WATCHED } else { COMPLETED },
            &format!("http://example.org/act/{}", i % 3),
        );
        if i == 3 {
            s["context"] = json!({ "registration": reg,
                                   "instructor": mbox("teacher"),
                                   "contextActivities": { "parent": [{ "id": course }] } });
        }
        let (status, got) = lrs.post(&s).await;
        assert_eq!(status, 200, "{got}");
        ids.push(got[0].as_str().unwrap().to_owned());
        // Apart in stored time, for since/until.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
    let pick = |idx: &[usize]| idx.iter().map(|&i| ids[i].clone()).collect::<HashSet<_>>();
    // Newest stored first; ascending the other way; limit pages with more, each once.
    let all = lrs.all_ids(&[]).await;
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(all, newest_first);
    assert_eq!(lrs.all_ids(&[("ascending", "true")]).await, ids);
    assert_eq!(lrs.all_ids(&[("limit", "2")]).await, newest_first);
    assert_eq!(
        lrs.all_ids(&[("limit", "3"), ("ascending", "true")]).await,
        ids
    );
    let (_, first) = lrs.get(&[("limit", "2")]).await;
    assert_eq!(first["statements"].as_array().unwrap().len(), 2);
    // Each filter.
    let even = json!({ "mbox": "mailto:even@example.org" }).to_string();
    assert_eq!(
        set(lrs.all_ids(&[("agent", &even)]).await),
        pick(&[0, 2, 4, 6])
    );
    assert_eq!(
        set(lrs.all_ids(&[("verb", COMPLETED)]).await),
        pick(&[5, 6])
    );
    assert_eq!(
        set(lrs
            .all_ids(&[("activity", "http://example.org/act/0")])
            .await),
        pick(&[0, 3, 6])
    );
    assert_eq!(set(lrs.all_ids(&[("activity", course)]).await), pick(&[]));
    assert_eq!(
        set(lrs
            .all_ids(&[("activity", course), ("related_activities", "true")])
            .await),
        pick(&[3])
    );
    let teacher = json!({ "mbox": "mailto:teacher@example.org" }).to_string();
    assert!(lrs.all_ids(&[("agent", &teacher)]).await.is_empty());
    assert_eq!(
        set(lrs
            .all_ids(&[("agent", &teacher), ("related_agents", "true")])
            .await),
        pick(&[3])
    );
    assert_eq!(
        set(lrs.all_ids(&[("registration", &reg)]).await),
        pick(&[3])
    );
    assert_eq!(
        set(lrs.all_ids(&[("verb", WATCHED), ("agent", &even)]).await),
        pick(&[0, 2, 4])
    );
    // since (after) and until (at or before), by stored time.
    let (_, third) = lrs.get(&[("statementId", &ids[2])]).await;
    let stored = third["stored"].as_str().unwrap();
    assert_eq!(
        set(lrs.all_ids(&[("since", stored)]).await),
        pick(&[3, 4, 5, 6])
    );
    assert_eq!(
        set(lrs.all_ids(&[("until", stored)]).await),
        pick(&[0, 1, 2])
    );
    // A statement that refers to a matching one matches too.
    let (_, r) = lrs
        .post(
            &json!({ "actor": mbox("reviewer"), "verb": { "id": "http://example.org/verbs/liked" },
                        "object": { "objectType": "StatementRef", "id": ids[5] } }),
        )
        .await;
    let liked = r[0].as_str().unwrap().to_owned();
    let mut completed = pick(&[5, 6]);
    completed.insert(liked.clone());
    assert_eq!(set(lrs.all_ids(&[("verb", COMPLETED)]).await), completed);
    // format=ids keeps identifiers only; exact keeps everything.
    let (_, got) = lrs
        .get(&[("statementId", &ids[0]), ("format", "ids")])
        .await;
    assert_eq!(got["verb"], json!({ "id": WATCHED }));
    assert!(got["actor"].get("name").is_none(), "{got}");
    assert!(got["object"].get("definition").is_none(), "{got}");
    let (_, got) = lrs
        .get(&[("statementId", &ids[0]), ("format", "exact")])
        .await;
    assert_eq!(got["verb"]["display"]["zh-CN"], "学习");
    // attachments=true answers multipart/mixed with the statements as its JSON part.
    let r = lrs
        .request(reqwest::Method::GET, "/api/xapi/statements")
        .query(&[("statementId", ids[0].as_str()), ("attachments", "true")])
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("multipart/mixed; boundary=")
    );
    assert!(r.text().await.unwrap().contains(&ids[0]));
    // HEAD answers like GET, without a body.
    let r = lrs
        .request(reqwest::Method::HEAD, "/api/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Another platform sees none of these; a forged more link is refused.
    assert!(other.all_ids(&[]).await.is_empty());
    assert_eq!(other.get(&[("statementId", &ids[0])]).await.0, 404);
    assert_eq!(other.get(&[("more", "forged")]).await.0, 400);
    assert_eq!(lrs.get(&[("more", "x"), ("verb", COMPLETED)]).await.0, 400);
}

fn member_actor(t: &TestApp, login: &str) -> Value {
    json!({ "objectType": "Agent", "account": { "homePage": t.url(""), "name": login } })
}

fn watched(t: &TestApp, login: &str, lesson: &str, segments: &str, at: &str) -> Value {
    json!({
        "actor": member_actor(t, login),
        "verb": { "id": WATCHED },
        "object": { "id": t.url(&format!("/lessons/{lesson}")) },
        "timestamp": at,
        "result": { "extensions": { "https://w3id.org/xapi/video/extensions/played-segments": segments } },
        "context": { "extensions": { "https://w3id.org/xapi/video/extensions/length": 100 } }
    })
}

#[tokio::test]
async fn statements_about_lessons_make_learning_records_inside_the_platforms_reach_only() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let (platform_id, key) = platform(&t, &tree.city, "微信学习", json!({})).await;
    let lrs = Lrs { t: &t, key };
    let member = t
        .account("county-learner", &[("member", &tree.county)])
        .await;
    let outsider = t
        .account("sibling-learner", &[("member", &tree.sibling_city)])
        .await;
    let received = published(&t, &tree.city, "基层治理讲座", "video", &[]).await;
    let skipped = published(&t, &tree.city, "农业技术推广", "video", &[]).await;
    let elsewhere = published(&t, &tree.sibling_city, "深圳特区史", "video", &[]).await;
    // Two sittings covering 95 s of 100: learned, on the platform's channel.
    let mut a = watched(
        &t,
        "county-learner",
        &received,
        "0[.]50",
        "2026-05-10T08:00:00+08:00",
    );
    let mut b = watched(
        &t,
        "county-learner",
        &received,
        "50[.]95",
        "2026-05-11T08:00:00+08:00",
    );
    a["id"] = json!(uuid());
    b["id"] = json!(uuid());
    let (status, ids) = lrs.post(&json!([a, b])).await;
    assert_eq!(status, 200, "{ids}");
    // Ten seconds, then only the last five: not learned.
    let s = watched(
        &t,
        "county-learner",
        &skipped,
        "0[.]10[,]95[.]100",
        "2026-05-12T08:00:00+08:00",
    );
    assert_eq!(lrs.post(&s).await.0, 200);
    // The same batch again changes nothing.
    assert_eq!(lrs.post(&json!([a, b])).await.0, 200);

    let archive: Value = t.r#as(&member).json("/api/v1/me/learning").await;
    let row = |id: &str| {
        archive["lessons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["lesson_id"] == id && l["source"] == json!(platform_id))
            .unwrap_or_else(|| panic!("{id} from the platform in {archive}"))
            .clone()
    };
    let r = row(&received);
    assert_eq!(r["source_name"], "微信学习", "{r}");
    assert_eq!(r["completed"], true, "{r}");
    assert_eq!(r["covered_percent"], 95);
    assert_eq!(r["time_ms"], 95_000);
    let s = row(&skipped);
    assert_eq!(s["completed"], false, "{s}");
    assert_eq!(s["time_ms"], 15_000);
    assert_eq!(archive["time_ms"], 110_000, "{archive}");
    assert_eq!(archive["completed"], 1);
    // Q2 2026 in China.
    let q = &archive["quarters"][0];
    assert_eq!(
        (q["year"].clone(), q["quarter"].clone()),
        (json!(2026), json!(2))
    );
    assert_eq!(q["time_ms"], 110_000);

    // Voiding the second sitting takes its part out of the record.
    let void = json!({ "actor": mbox("platform-admin"), "verb": { "id": VOIDED },
                       "object": { "objectType": "StatementRef", "id": ids[1] } });
    assert_eq!(lrs.post(&void).await.0, 200);
    let archive: Value = t.r#as(&member).json("/api/v1/me/learning").await;
    let r = archive["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lesson_id"] == json!(received))
        .unwrap()
        .clone();
    assert_eq!(r["completed"], false, "{r}");
    assert_eq!(r["time_ms"], 50_000);

    // A lesson the platform does not receive, a member outside its subtree, an unknown login:
    // 403, and nothing of the batch stored.
    let before = stored_count(&t).await;
    for (what, s) in [
        (
            "a lesson not received",
            watched(
                &t,
                "county-learner",
                &elsewhere,
                "0[.]10",
                "2026-05-12T08:00:00Z",
            ),
        ),
        (
            "a member outside",
            watched(
                &t,
                "sibling-learner",
                &received,
                "0[.]10",
                "2026-05-12T08:00:00Z",
            ),
        ),
        (
            "no such member",
            watched(&t, "nobody", &received, "0[.]10", "2026-05-12T08:00:00Z"),
        ),
        (
            "no such lesson",
            watched(
                &t,
                "county-learner",
                "no-such-lesson",
                "0[.]10",
                "2026-05-12T08:00:00Z",
            ),
        ),
    ] {
        let (status, body) = lrs.post(&json!([a, s])).await;
        assert_eq!(status, 403, "{what}: {body}");
    }
    assert_eq!(stored_count(&t).await, before);
    let theirs: Value = t.r#as(&outsider).json("/api/v1/me/learning").await;
    assert_eq!(theirs["lessons"], json!([]), "{theirs}");
}
