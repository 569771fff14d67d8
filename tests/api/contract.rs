//! The API keeps the promises of its OpenAPI document.
//!
//! Every `TestApp` wraps the real router in [`check`]: each response the suite receives is held
//! against `/api/openapi.json` — its operation (route and method) and status must be documented,
//! and a JSON body must match the documented schema, made strict (an object may carry only the
//! properties it documents). A breach is recorded and fails the test that met it when its
//! `TestApp` is dropped, so every test of the suite is also a test of the document.

#![allow(dead_code)]

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The document, and what the responses of one `TestApp` broke.
pub struct Contract {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
    violations: Mutex<Vec<String>>,
    checked: std::sync::atomic::AtomicUsize,
}

impl Contract {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            doc: lectern::http::openapi::document_value(),
            validators: Mutex::default(),
            violations: Mutex::default(),
            checked: Default::default(),
        })
    }

    /// How many responses were checked.
    pub fn checked(&self) -> usize {
        self.checked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What was broken so far, emptied.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut *self.violations.lock().unwrap())
    }

    fn breach(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }

    /// Checks one response; `None` when it keeps the document's promise.
    pub fn judge(
        &self,
        method: &str,
        path: &str,
        status: u16,
        media_type: Option<&str>,
        body: Option<&Value>,
    ) -> Option<String> {
        let what = format!("{} {path} → {status}", method.to_uppercase());
        let Some(item) = self.doc["paths"].get(path) else {
            return Some(format!("{what}: the path is not in the document"));
        };
        // HEAD is answered by the GET handler where no HEAD is documented.
        let op = item
            .get(method)
            .or_else(|| (method == "head").then(|| item.get("get")).flatten());
        let Some(op) = op else {
            // A method the path does not take may only be refused, with a problem body.
            if (400..500).contains(&status) && media_type == Some("application/problem+json") {
                return body.and_then(|b| self.against(&what, "#/components/schemas/Problem", b));
            }
            if (400..500).contains(&status) && method == "head" {
                return None;
            }
            return Some(format!("{what}: the method is not documented"));
        };
        let Some(response) = op["responses"]
            .get(status.to_string())
            .or_else(|| op["responses"].get("default"))
        else {
            return Some(format!("{what}: the status is not documented"));
        };
        let (Some(media_type), Some(body)) = (media_type, body) else {
            return None;
        };
        let Some(schema) = response["content"].get(media_type).map(|c| &c["schema"]) else {
            return Some(format!(
                "{what}: a {media_type} body is not documented for this status"
            ));
        };
        let key = format!("{method} {path} {status} {media_type}");
        self.validate(&what, key, schema, body)
    }

    /// Checks a body against a component schema by reference.
    fn against(&self, what: &str, reference: &str, body: &Value) -> Option<String> {
        self.validate(
            what,
            reference.to_owned(),
            &json!({ "$ref": reference }),
            body,
        )
    }

    fn validate(&self, what: &str, key: String, schema: &Value, body: &Value) -> Option<String> {
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            match cache.get(&key) {
                Some(v) => v.clone(),
                None => {
                    let mut components = self.doc["components"].clone();
                    strict(&mut components);
                    let mut schema = schema.clone();
                    strict(&mut schema);
                    let root = json!({
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "components": components,
                        "allOf": [schema],
                    });
                    match jsonschema::draft202012::new(&root) {
                        Ok(v) => cache.entry(key).or_insert(Arc::new(v)).clone(),
                        Err(e) => return Some(format!("{what}: the schema does not compile: {e}")),
                    }
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            None
        } else {
            Some(format!("{what}: {}; body: {body}", errors.join("; ")))
        }
    }
}

/// Makes a schema strict: every object schema that lists its properties and says nothing of
/// others refuses others, so an undocumented field in a response is a breach.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
            for v in map.values_mut() {
                strict(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// The middleware: checks each response of a routed request against the document.
pub async fn check(contract: Arc<Contract>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_ascii_lowercase();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    let Some(path) = path else {
        return response;
    };
    if !documented_prefix(&path) {
        return response;
    }
    contract
        .checked
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let status = response.status().as_u16();
    let media_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned());
    let json_body = method != "head"
        && media_type
            .as_deref()
            .is_some_and(|m| m == "application/json" || m == "application/problem+json");
    if !json_body {
        if let Some(breach) = contract.judge(&method, &path, status, None, None) {
            contract.breach(breach);
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, 256 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => {
            contract.breach(format!("{method} {path}: the body could not be read: {e}"));
            return Response::from_parts(parts, Body::empty());
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => {
            if let Some(breach) =
                contract.judge(&method, &path, status, media_type.as_deref(), Some(&value))
            {
                contract.breach(breach);
            }
        }
        Err(e) => contract.breach(format!(
            "{method} {path} → {status}: the body is not JSON: {e}"
        )),
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The routes the document describes: the JSON API, what platforms pull, health.
pub fn documented_prefix(path: &str) -> bool {
    ["/api/", "/oai", "/feeds/", "/health/"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Wraps a router in the check.
pub fn wrap(contract: Arc<Contract>) -> impl FnOnce(axum::Router) -> axum::Router {
    move |router| {
        router.layer(axum::middleware::from_fn(move |request, next| {
            check(contract.clone(), request, next)
        }))
    }
}
