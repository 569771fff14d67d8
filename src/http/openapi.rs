//! `/api/openapi.json`: the OpenAPI 3.1 description of the JSON API.
//!
//! Written out here rather than derived: the API is still small, and deriving it (utoipa) would
//! annotate every handler and wire type; that switch is due when the API grows with the accounts
//! and publication issues. A test in `tests/` checks that every documented path answers.

use axum::Json;
use serde_json::{Value, json};

fn problem(description: &str) -> Value {
    json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } })
}

fn ok(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

pub async fn document() -> Json<Value> {
    let id =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let tus_headers = "tus 1.0: Tus-Resumable, Upload-Offset, Upload-Length, Upload-Metadata (lesson_id, role, filename), Upload-Checksum (sha1|sha256), Upload-Expires";
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "Lectern", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Educational media library: lessons, assets, resumable uploads, change log. Errors are RFC 9457 problem bodies with a stable `code`." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Problem": { "type": "object", "required": ["type", "title", "status", "code"], "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                    "detail": { "type": "string" }, "code": { "type": "string" },
                    "errors": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } } } },
                "Asset": { "type": "object", "properties": {
                    "id": { "type": "string" }, "lesson_id": { "type": "string" },
                    "role": { "enum": ["master", "subtitle", "attachment", "poster"] },
                    "filename": { "type": "string" }, "size": { "type": "integer" }, "content_type": { "type": "string" },
                    "sha256": { "type": "string" }, "created_at": { "type": "string", "format": "date-time" },
                    "content_url": { "type": "string" } } },
                "LessonInput": { "type": "object", "required": ["title", "kind"], "properties": {
                    "title": { "type": "string", "maxLength": 200 }, "description": { "type": "string" },
                    "kind": { "enum": ["video", "audio", "document"] }, "tags": { "type": "array", "items": { "type": "string" } },
                    "lecturer": { "type": ["string", "null"] }, "series": { "type": ["string", "null"] },
                    "region_code": { "type": ["string", "null"], "pattern": "^[0-9]{6}$" },
                    "recorded_on": { "type": ["string", "null"], "format": "date" }, "language": { "type": "string" } } },
                "Lesson": { "allOf": [ { "$ref": "#/components/schemas/LessonInput" }, { "type": "object", "properties": {
                    "id": { "type": "string" }, "status": { "enum": ["draft", "published", "withdrawn"] },
                    "version": { "type": "integer" }, "created_at": { "type": "string" }, "updated_at": { "type": "string" },
                    "published_at": { "type": ["string", "null"] },
                    "assets": { "type": "array", "items": { "$ref": "#/components/schemas/Asset" } } } } ] },
                "LessonPage": { "type": "object", "properties": {
                    "items": { "type": "array", "items": { "$ref": "#/components/schemas/Lesson" } },
                    "next_cursor": { "type": ["string", "null"] } } },
                "Changes": { "type": "object", "properties": {
                    "changes": { "type": "array", "items": { "type": "object", "properties": {
                        "cursor": { "type": "string" }, "entity": { "enum": ["lesson", "asset"] }, "id": { "type": "string" },
                        "lesson_id": { "type": "string" }, "op": { "enum": ["create", "update", "publish", "withdraw", "delete"] },
                        "at": { "type": "string" } } } },
                    "next": { "type": "string" } } },
                "PresignedUrl": { "type": "object", "properties": { "url": { "type": "string" }, "expires_at": { "type": "string" } } }
            }
        },
        "paths": {
            "/api/v1/lessons": {
                "get": { "summary": "List lessons (anonymous callers see published ones only)",
                         "parameters": [
                            { "name": "kind", "in": "query", "schema": { "type": "string" } },
                            { "name": "tag", "in": "query", "schema": { "type": "string" } },
                            { "name": "region", "in": "query", "description": "a region code; matches it and every region below it", "schema": { "type": "string" } },
                            { "name": "status", "in": "query", "schema": { "type": "string" } },
                            { "name": "cursor", "in": "query", "schema": { "type": "string" } },
                            { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 200 } } ],
                         "responses": { "200": ok("a page of lessons", "LessonPage"), "400": problem("bad filter") } },
                "post": { "summary": "Create a draft lesson", "security": [{ "bearer": [] }],
                          "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/LessonInput" } } } },
                          "responses": { "201": ok("created", "Lesson"), "400": problem("invalid fields"), "401": problem("no or bad token") } }
            },
            "/api/v1/lessons/{id}": {
                "parameters": id,
                "get": { "summary": "Read a lesson with its assets", "responses": { "200": ok("the lesson", "Lesson"), "404": problem("no such lesson, or not visible") } },
                "patch": { "summary": "Change fields (absent: unchanged, null: cleared); If-Match: \"v<version>\" guards against lost updates", "security": [{ "bearer": [] }],
                           "responses": { "200": ok("the lesson", "Lesson"), "412": problem("version mismatch") } },
                "delete": { "summary": "Delete a lesson and its assets", "security": [{ "bearer": [] }], "responses": { "204": { "description": "deleted" } } }
            },
            "/api/v1/lessons/{id}/publish": { "parameters": id, "post": { "summary": "Publish", "security": [{ "bearer": [] }], "responses": { "200": ok("the lesson", "Lesson") } } },
            "/api/v1/lessons/{id}/withdraw": { "parameters": id, "post": { "summary": "Withdraw", "security": [{ "bearer": [] }], "responses": { "200": ok("the lesson", "Lesson") } } },
            "/api/v1/lessons/{id}/assets": { "parameters": id, "post": {
                "summary": "Upload a file as the raw request body (streamed; any size up to the limit)", "security": [{ "bearer": [] }],
                "parameters": [ { "name": "role", "in": "query", "required": true, "schema": { "enum": ["master", "subtitle", "attachment", "poster"] } },
                                { "name": "filename", "in": "query", "required": true, "schema": { "type": "string" } } ],
                "requestBody": { "content": { "application/octet-stream": {} } },
                "responses": { "201": ok("the asset", "Asset"), "413": problem("over the size limit"), "415": problem("content refused by sniffing") } } },
            "/api/v1/assets/{id}": { "parameters": id,
                "get": { "summary": "Asset metadata", "responses": { "200": ok("the asset", "Asset") } },
                "delete": { "summary": "Delete an asset", "security": [{ "bearer": [] }], "responses": { "204": { "description": "deleted" } } } },
            "/api/v1/assets/{id}/content": { "parameters": id, "get": {
                "summary": "The bytes; single ranges (206), 416, ETag = SHA-256, If-None-Match, If-Range",
                "responses": { "200": { "description": "whole content" }, "206": { "description": "one range" }, "304": { "description": "not modified" }, "416": problem("range not satisfiable") } } },
            "/api/v1/assets/{id}/url": { "parameters": id, "get": { "summary": "A presigned, expiring URL to object storage", "responses": { "200": ok("the URL", "PresignedUrl") } } },
            "/api/v1/uploads": {
                "options": { "summary": "tus capabilities", "responses": { "204": { "description": tus_headers } } },
                "post": { "summary": "Create a resumable upload (tus creation)", "security": [{ "bearer": [] }], "responses": { "201": { "description": "Location of the upload" }, "413": problem("over the limit") } } },
            "/api/v1/uploads/{id}": { "parameters": id,
                "head": { "summary": "Offset of the upload", "security": [{ "bearer": [] }], "responses": { "200": { "description": tus_headers }, "404": { "description": "unknown" }, "410": { "description": "expired" } } },
                "patch": { "summary": "Append bytes at Upload-Offset; the last one turns the upload into an asset (Lectern-Asset-Id)", "security": [{ "bearer": [] }],
                           "responses": { "204": { "description": "accepted" }, "409": problem("wrong offset"), "460": problem("checksum mismatch") } },
                "delete": { "summary": "Terminate the upload", "security": [{ "bearer": [] }], "responses": { "204": { "description": "terminated" } } } },
            "/api/v1/changes": { "get": { "summary": "The change log after a cursor, in order, never skipping a committed entry", "security": [{ "bearer": [] }],
                "parameters": [ { "name": "after", "in": "query", "schema": { "type": "string" } }, { "name": "limit", "in": "query", "schema": { "type": "integer" } } ],
                "responses": { "200": ok("entries", "Changes") } } },
            "/health/live": { "get": { "summary": "The process answers", "responses": { "200": { "description": "ok" } } } },
            "/health/ready": { "get": { "summary": "Database and object storage answer", "responses": { "200": { "description": "ready" }, "503": { "description": "not ready" } } } }
        }
    }))
}
