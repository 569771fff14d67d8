//! The OpenAPI document against the routes and the responses (the check itself is in
//! `contract.rs`, applied to every `TestApp`).

use crate::common::TestApp;
use crate::contract::{Contract, documented_prefix};
use serde_json::json;

#[tokio::test]
async fn every_route_of_the_api_is_in_the_document() {
    let doc = lectern::http::openapi::document_value();
    let missing: Vec<String> = lectern::http::route_paths()
        .into_iter()
        .filter(|p| documented_prefix(p))
        .filter(|p| doc["paths"].get(p.as_str()).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
}

#[tokio::test]
async fn the_check_refuses_an_undocumented_field_a_wrong_type_and_an_undocumented_status() {
    let contract = Contract::new();
    let good = json!({ "changes": [], "next": "0" });
    assert_eq!(
        contract.judge(
            "get",
            "/api/v1/changes",
            200,
            Some("application/json"),
            Some(&good)
        ),
        None
    );
    let extra = json!({ "changes": [], "next": "0", "secret": 1 });
    assert!(
        contract
            .judge(
                "get",
                "/api/v1/changes",
                200,
                Some("application/json"),
                Some(&extra)
            )
            .is_some(),
        "an undocumented field passed"
    );
    let wrong = json!({ "changes": [], "next": 0 });
    assert!(
        contract
            .judge(
                "get",
                "/api/v1/changes",
                200,
                Some("application/json"),
                Some(&wrong)
            )
            .is_some(),
        "a number where a string is documented passed"
    );
    assert!(
        contract
            .judge("get", "/api/v1/changes", 299, None, None)
            .is_some(),
        "an undocumented status passed"
    );
    assert!(
        contract
            .judge("put", "/api/v1/changes", 200, None, None)
            .is_some(),
        "an undocumented method passed"
    );
    let problem = json!({ "type": "urn:lectern:problem:forbidden", "title": "Forbidden",
        "status": 403, "detail": "no", "code": "forbidden" });
    assert_eq!(
        contract.judge(
            "get",
            "/api/v1/changes",
            403,
            Some("application/problem+json"),
            Some(&problem)
        ),
        None
    );
    let unknown_code =
        json!({ "type": "x", "title": "x", "status": 403, "detail": "no", "code": "nope" });
    assert!(
        contract
            .judge(
                "get",
                "/api/v1/changes",
                403,
                Some("application/problem+json"),
                Some(&unknown_code)
            )
            .is_some(),
        "an unknown problem code passed"
    );
}

#[tokio::test]
async fn real_responses_are_checked() {
    let t = TestApp::spawn().await;
    let r = t.get("/api/v1/changes?limit=5").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = t.client.get(t.url("/api/v1/changes")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(t.contract.checked(), 2, "both responses were checked");
    assert!(t.contract.take_violations().is_empty());
}

/// An operation and the responses it documents: `(path, method, [(status, schema)])`.
type Expected = (
    &'static str,
    &'static str,
    &'static [(u16, Option<&'static str>)],
);

/// The catalogue's operations are derived from their handlers (not the hand-written legacy part),
/// each with the responses it really gives: `(path, method, [(status, schema)])`, where the
/// schema is the component of a JSON body, `Problem` for a problem body, or `None` for a response
/// without a JSON body (bytes, headers only).
#[tokio::test]
async fn catalogue_search_and_health_paths_are_derived_with_their_responses() {
    const LESSON: Option<&str> = Some("LessonView");
    const PROBLEM: Option<&str> = Some("Problem");
    let table: &[Expected] = &[
        (
            "/api/v1/lessons",
            "get",
            &[(200, Some("Page_LessonView")), (400, PROBLEM)],
        ),
        ("/api/v1/lessons", "post", &[(201, LESSON), (401, PROBLEM)]),
        (
            "/api/v1/lessons/{id}",
            "get",
            &[(200, LESSON), (404, PROBLEM)],
        ),
        (
            "/api/v1/lessons/{id}",
            "patch",
            &[(200, LESSON), (409, PROBLEM), (412, PROBLEM)],
        ),
        (
            "/api/v1/lessons/{id}",
            "delete",
            &[(204, None), (409, PROBLEM)],
        ),
        (
            "/api/v1/lessons/{id}/publish",
            "post",
            &[(200, LESSON), (409, PROBLEM)],
        ),
        (
            "/api/v1/lessons/{id}/withdraw",
            "post",
            &[(200, LESSON), (409, PROBLEM)],
        ),
        (
            "/api/v1/lessons/{id}/assets",
            "post",
            &[(201, Some("AssetView")), (413, PROBLEM), (415, PROBLEM)],
        ),
        ("/api/v1/assets/{id}", "get", &[(200, Some("AssetView"))]),
        (
            "/api/v1/assets/{id}",
            "delete",
            &[(204, None), (409, PROBLEM)],
        ),
        (
            "/api/v1/assets/{id}/content",
            "get",
            &[(200, None), (206, None), (304, None), (416, PROBLEM)],
        ),
        (
            "/api/v1/assets/{id}/url",
            "get",
            &[(200, Some("PresignedView"))],
        ),
        ("/api/v1/uploads", "options", &[(204, None)]),
        (
            "/api/v1/uploads",
            "post",
            &[(201, None), (409, PROBLEM), (412, PROBLEM), (413, PROBLEM)],
        ),
        ("/api/v1/uploads/{id}", "options", &[(204, None)]),
        (
            "/api/v1/uploads/{id}",
            "head",
            &[(200, None), (410, None), (412, None)],
        ),
        (
            "/api/v1/uploads/{id}",
            "patch",
            &[
                (204, None),
                (409, PROBLEM),
                (410, PROBLEM),
                (415, PROBLEM),
                (423, PROBLEM),
                (460, PROBLEM),
            ],
        ),
        (
            "/api/v1/uploads/{id}",
            "delete",
            &[(204, None), (410, PROBLEM), (423, PROBLEM)],
        ),
        (
            "/api/v1/search",
            "get",
            &[(200, Some("SearchResultsView")), (400, PROBLEM)],
        ),
        (
            "/api/v1/search/suggest",
            "get",
            &[(200, Some("SuggestionsView"))],
        ),
        (
            "/api/v1/search/status",
            "get",
            &[(200, Some("SearchStatusView")), (403, PROBLEM)],
        ),
        ("/health/live", "get", &[(200, Some("LiveView"))]),
        (
            "/health/ready",
            "get",
            &[(200, Some("ReadyView")), (503, Some("ReadyView"))],
        ),
    ];
    let doc = lectern::http::openapi::document_value();
    let mut wrong = Vec::new();
    for (path, method, responses) in table {
        let item = &doc["paths"][path];
        if item.is_null() {
            wrong.push(format!("{path}: not in the document"));
            continue;
        }
        if item.get("x-legacy").is_some() {
            wrong.push(format!("{path}: still hand-written (x-legacy)"));
        }
        let op = &item[method];
        if op.is_null() {
            wrong.push(format!("{method} {path}: no such operation"));
            continue;
        }
        for (status, schema) in *responses {
            let response = &op["responses"][status.to_string()];
            if response.is_null() {
                wrong.push(format!("{method} {path} → {status}: not documented"));
                continue;
            }
            let content = &response["content"];
            match schema {
                Some(name) => {
                    let media = if *name == "Problem" {
                        "application/problem+json"
                    } else {
                        "application/json"
                    };
                    let want = format!("#/components/schemas/{name}");
                    if content[media]["schema"]["$ref"] != want.as_str() {
                        wrong.push(format!(
                            "{method} {path} → {status}: {media} is not {want}: {content}"
                        ));
                    } else if doc["components"]["schemas"][name].is_null() {
                        wrong.push(format!("{want} is not among the components"));
                    }
                }
                None => {
                    let json = content.as_object().is_some_and(|c| {
                        c.contains_key("application/json")
                            || c.contains_key("application/problem+json")
                    });
                    if json {
                        wrong.push(format!(
                            "{method} {path} → {status}: documents a JSON body it never sends"
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The publication and job operations are derived from their handlers (not hand-written
/// `x-legacy` entries), with the statuses they really answer and typed bodies.
#[tokio::test]
async fn publication_and_job_operations_are_derived_with_their_statuses_and_bodies() {
    let doc = lectern::http::openapi::document_value();
    // (path, method, statuses it documents besides the common ones, media type of the 2xx body)
    let table: &[(&str, &str, &[&str], Option<&str>)] = &[
        (
            "/api/v1/platforms",
            "get",
            &["200"],
            Some("application/json"),
        ),
        (
            "/api/v1/platforms",
            "post",
            &["201"],
            Some("application/json"),
        ),
        (
            "/api/v1/platforms/{id}",
            "get",
            &["200"],
            Some("application/json"),
        ),
        (
            "/api/v1/platforms/{id}",
            "patch",
            &["200"],
            Some("application/json"),
        ),
        ("/api/v1/platforms/{id}", "delete", &["204"], None),
        (
            "/api/v1/platforms/{id}/keys",
            "post",
            &["201"],
            Some("application/json"),
        ),
        (
            "/api/v1/platforms/{id}/keys/{key_id}",
            "delete",
            &["204"],
            None,
        ),
        (
            "/api/v1/platforms/{id}/deliveries",
            "get",
            &["200"],
            Some("application/json"),
        ),
        (
            "/api/v1/platforms/{id}/deliveries/{delivery_id}/redeliver",
            "post",
            &["202"],
            None,
        ),
        (
            "/api/v1/lessons/{id}/audience",
            "put",
            &["200"],
            Some("application/json"),
        ),
        (
            "/api/v1/feed",
            "get",
            &["200", "410"],
            Some("application/json"),
        ),
        (
            "/api/v1/feed/snapshot",
            "get",
            &["200"],
            Some("application/json"),
        ),
        ("/oai", "get", &["200", "503"], Some("text/xml")),
        ("/oai", "post", &["200", "503"], Some("text/xml")),
        (
            "/feeds/series/{file}",
            "get",
            &["200", "404"],
            Some("application/rss+xml"),
        ),
        ("/feeds/artwork.png", "get", &["200"], Some("image/png")),
        ("/api/v1/jobs", "get", &["200"], Some("application/json")),
        (
            "/api/v1/jobs/retry",
            "post",
            &["202", "409"],
            Some("application/json"),
        ),
        ("/api/v1/jobs/{id}/retry", "post", &["202", "409"], None),
    ];
    let mut wrong = Vec::new();
    for (path, method, statuses, media) in table {
        let item = &doc["paths"][path];
        if item.is_null() {
            wrong.push(format!("{path}: not in the document"));
            continue;
        }
        if item.get("x-legacy").is_some() {
            wrong.push(format!("{path}: still hand-written (x-legacy)"));
        }
        let op = &item[method];
        if op.is_null() {
            wrong.push(format!("{method} {path}: not documented"));
            continue;
        }
        for status in *statuses {
            if op["responses"][status].is_null() {
                wrong.push(format!("{method} {path}: {status} not documented"));
            }
        }
        let ok = &op["responses"][statuses[0]];
        match media {
            Some(m) if ok["content"].get(*m).is_none() => wrong.push(format!(
                "{method} {path}: the {} body is not {m}",
                statuses[0]
            )),
            None if ok.get("content").is_some() => {
                wrong.push(format!("{method} {path}: {} documents a body", statuses[0]))
            }
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // OAI-PMH's 503 says when to come back.
    assert!(
        doc["paths"]["/oai"]["get"]["responses"]["503"]["headers"]
            .get("Retry-After")
            .is_some()
    );
    // The query enums are the domain's.
    let params = doc["paths"]["/api/v1/jobs"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for (name, schema) in [("state", "JobState"), ("kind", "JobKind")] {
        let p = params.iter().find(|p| p["name"] == name).unwrap();
        assert!(p["schema"].to_string().contains(schema), "{p}");
    }
    let states = &doc["components"]["schemas"]["JobState"]["enum"];
    assert_eq!(states, &json!(["pending", "running", "done", "dead"]));
    // Feed items are one of two shapes, told apart by `op`.
    let item = &doc["components"]["schemas"]["FeedItem"];
    let variants = item["oneOf"].as_array().expect("FeedItem is a oneOf");
    let ops: Vec<String> = variants
        .iter()
        .map(|v| {
            v["properties"]["op"]["enum"][0]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(ops, ["upsert", "tombstone"], "{item}");
}
