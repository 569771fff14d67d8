//! The part of the OpenAPI document still written by hand: paths whose handlers are not yet
//! annotated. Each path moves to a `#[utoipa::path]` on its handler and leaves this file; the
//! served document marks what is left here `x-legacy` and the response check skips it. This file
//! goes when it is empty.

use serde_json::{Value, json};

fn problem(description: &str) -> Value {
    json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } })
}

/// Downstream platforms, the audience of lessons, and what platforms pull.
fn publication_paths(id: &Value) -> Value {
    let platform_key = json!([{ "platformKey": [] }]);
    json!({
        "/api/v1/platforms": {
            "get": { "summary": "Platforms of the subtrees where the caller works (administrators also see keys and statistics: last pull, cursor lag, failed deliveries)", "security": [{ "bearer": [] }], "responses": { "200": { "description": "{ items: [Platform] }" } } },
            "post": { "summary": "Register a platform under an organisation the caller administers: name, channel (web, tv, wechat, audio, other), filters { kinds, tags, series }, webhook_url. The answer shows its first key (and webhook secret) once", "security": [{ "bearer": [] }],
                      "responses": { "201": { "description": "Platform with key { id, secret } and webhook_secret" }, "400": problem("invalid fields"), "403": problem("not an administrator there") } } },
        "/api/v1/platforms/{id}": { "parameters": id,
            "get": { "summary": "One platform with keys and statistics", "security": [{ "bearer": [] }], "responses": { "200": { "description": "Platform" } } },
            "patch": { "summary": "Change name, channel, filters or webhook_url; rotate_webhook_secret issues a new secret. A change of filters makes the platform's feed re-evaluate everything", "security": [{ "bearer": [] }], "responses": { "200": { "description": "Platform" } } },
            "delete": { "summary": "Disable: every key stops working at once", "security": [{ "bearer": [] }], "responses": { "204": { "description": "disabled" } } } },
        "/api/v1/platforms/{id}/keys": { "parameters": id, "post": { "summary": "Add a key (rotation without downtime: add, switch, revoke the old); shown once", "security": [{ "bearer": [] }], "responses": { "201": { "description": "{ id, name, secret }" } } } },
        "/api/v1/platforms/{id}/keys/{key_id}": { "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "key_id", "in": "path", "required": true, "schema": { "type": "string" } } ],
            "delete": { "summary": "Revoke a key; refused from the next request on", "security": [{ "bearer": [] }], "responses": { "204": { "description": "revoked" } } } },
        "/api/v1/platforms/{id}/deliveries": { "parameters": id, "get": { "summary": "Webhook deliveries: state=dead (the dead-letter list, default), pending or done", "security": [{ "bearer": [] }],
            "parameters": [ { "name": "state", "in": "query", "schema": { "enum": ["dead", "pending", "done"] } }, { "name": "limit", "in": "query", "schema": { "type": "integer" } } ],
            "responses": { "200": { "description": "{ items: [{ id, state, message_id, event, attempts, last_error, next_attempt_at }] }" } } } },
        "/api/v1/platforms/{id}/deliveries/{delivery_id}/redeliver": { "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "delivery_id", "in": "path", "required": true, "schema": { "type": "string" } } ],
            "post": { "summary": "Queue a dead or done delivery again, now, with a fresh retry window", "security": [{ "bearer": [] }], "responses": { "202": { "description": "queued" }, "404": problem("no such dead or done delivery") } } },
        "/api/v1/lessons/{id}/audience": { "parameters": id, "put": { "summary": "Who receives a lesson inside its scope: { org_id } (a subtree), { platforms: [id] } (named platforms only), or {} (the whole scope); never wider than the scope. Needs the right to publish it", "security": [{ "bearer": [] }],
            "responses": { "200": { "description": "{ lesson_id, org_id, platforms }" }, "400": problem("outside the lesson's scope") } } },
        "/api/v1/feed": { "get": { "summary": "The calling platform's changes after a cursor, in order: upserts (the lesson, its assets with size, SHA-256, type and a presigned expiring URL, and a checksum) and tombstones (withdrawn, deleted, out_of_scope). No committed change is skipped; items are idempotent by change_id; wait=N (≤ 60 s) long-polls", "security": platform_key,
            "parameters": [ { "name": "cursor", "in": "query", "schema": { "type": "string" } }, { "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": 1000 } }, { "name": "wait", "in": "query", "schema": { "type": "integer", "maximum": 60 } } ],
            "responses": { "200": { "description": "{ items: [{ change_id, op, lesson_id, reason?, checksum?, lesson? }], cursor, more }" }, "401": problem("no valid platform key"), "410": problem("the cursor is older than the change log kept: start from /api/v1/feed/snapshot") } } },
        "/api/v1/feed/snapshot": { "get": { "summary": "Everything the calling platform receives now, by lesson id, with checksums; the last page's cursor continues in /api/v1/feed", "security": platform_key,
            "parameters": [ { "name": "page_token", "in": "query", "schema": { "type": "string" } }, { "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": 1000 } } ],
            "responses": { "200": { "description": "{ items, next_page_token, cursor }" } } } },
        "/oai": { "get": { "summary": "OAI-PMH 2.0 for the calling platform (all six verbs, oai_dc, sets series:<id> and org:<id>, deletedRecord persistent); text/xml", "security": platform_key, "responses": { "200": { "description": "an OAI-PMH response" }, "401": problem("no valid platform key") } },
                  "post": { "summary": "OAI-PMH 2.0, arguments form-encoded", "security": platform_key, "responses": { "200": { "description": "an OAI-PMH response" } } } },
        "/feeds/series/{file}": { "parameters": [ { "name": "file", "in": "path", "required": true, "description": "<series id>.rss", "schema": { "type": "string" } } ],
            "get": { "summary": "The podcast feed (RSS 2.0 + iTunes) of an audio series: with a platform key (Authorization or ?key=) what that platform receives, without one what anyone may read", "responses": { "200": { "description": "application/rss+xml" }, "404": problem("no such series for this caller") } } },
        "/feeds/artwork.png": { "get": { "summary": "The podcast artwork", "responses": { "200": { "description": "image/png" } } } }
    })
}

/// Background jobs.
fn job_paths(id: &Value) -> Value {
    let state = json!({ "name": "state", "in": "query", "schema": { "enum": ["pending", "running", "done", "dead"] } });
    let kind = json!({ "name": "kind", "in": "query", "schema": { "enum": ["webhook", "extract_text", "schedules", "maintenance", "probe"] } });
    json!({
        "/api/v1/jobs": { "get": { "summary": "Background jobs the caller administers (administrators only: those of their organisations; the instance's own from a root organisation up), most recently changed first, with attempts and the last error", "security": [{ "bearer": [] }],
            "parameters": [ state, kind, { "name": "cursor", "in": "query", "schema": { "type": "string" } }, { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500 } } ],
            "responses": { "200": { "description": "{ items: [{ id, kind, state, subject, org_id, attempts, max_attempts, last_error, run_at, lease_until, worker, created_at, updated_at }], next_cursor }" }, "400": problem("an unknown state or kind"), "403": problem("not an administrator") } } },
        "/api/v1/jobs/retry": { "post": { "summary": "Run again now every dead (default) or done job of the kind the caller may see, attempts reset; audited as jobs.retry", "security": [{ "bearer": [] }],
            "parameters": [ state, kind ],
            "responses": { "202": { "description": "{ retried }" }, "400": problem("an unknown state or kind"), "403": problem("not an administrator"), "409": problem("only dead or done jobs are retried") } } },
        "/api/v1/jobs/{id}/retry": { "parameters": id, "post": { "summary": "Run a dead or done job again now, attempts reset; audited as job.retry", "security": [{ "bearer": [] }],
            "responses": { "202": { "description": "queued" }, "403": problem("not an administrator"), "404": problem("no such job the caller may see"), "409": problem("the job is pending or running") } } }
    })
}

/// The hand-written document of the paths not yet derived, with the schemas they name.
pub fn document() -> Value {
    let id =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": "Lectern", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Educational media library: lessons, assets, resumable uploads, review workflow, organisations and accounts, change log. Callers authenticate with a bearer token (an operator token, or a personal token of an account) or a web session cookie, which must send its CSRF token in X-CSRF-Token on unsafe requests. Errors are RFC 9457 problem bodies with a stable `code`." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" }, "platformKey": { "type": "http", "scheme": "bearer", "description": "a platform key, lpk_…" } },
            "schemas": {
                "Problem": { "type": "object", "required": ["type", "title", "status", "code"], "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                    "detail": { "type": "string" }, "code": { "type": "string" },
                    "errors": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } } } },
            }
        },
        "paths": {}
    });
    if let Some(paths) = doc["paths"].as_object_mut() {
        for extra in [publication_paths(&id), job_paths(&id)] {
            if let Value::Object(extra) = extra {
                paths.extend(extra);
            }
        }
    }
    doc
}
