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
