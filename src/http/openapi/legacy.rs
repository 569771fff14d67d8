//! The part of the OpenAPI document still written by hand: paths whose handlers are not yet
//! annotated. Each path moves to a `#[utoipa::path]` on its handler and leaves this file; the
//! served document marks what is left here `x-legacy` and the response check skips it. This file
//! goes when it is empty.

use serde_json::{Value, json};

fn problem(description: &str) -> Value {
    json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } })
}

fn ok(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

/// The hand-written document of the paths not yet derived, with the schemas they name.
pub fn document() -> Value {
    let id =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let tus_headers = "tus 1.0: Tus-Resumable, Upload-Offset, Upload-Length, Upload-Metadata (lesson_id, role, filename), Upload-Checksum (sha1|sha256), Upload-Expires";
    json!({
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
                "Asset": { "type": "object", "properties": {
                    "id": { "type": "string" }, "lesson_id": { "type": "string" },
                    "role": { "enum": ["master", "subtitle", "attachment", "poster"] },
                    "filename": { "type": "string" }, "size": { "type": "integer" }, "content_type": { "type": "string" },
                    "sha256": { "type": "string" }, "created_at": { "type": "string", "format": "date-time" },
                    "content_url": { "type": "string" },
                    "text": { "description": "one asset or lesson only: whether its text was extracted for search, and if not why",
                        "type": "object", "properties": { "status": { "enum": ["ok", "failed"] },
                        "error": { "type": ["string", "null"] }, "segments": { "type": "integer" } } } } },
                "LessonInput": { "type": "object", "required": ["title", "kind"], "properties": {
                    "title": { "type": "string", "maxLength": 200 }, "description": { "type": "string" },
                    "kind": { "enum": ["video", "audio", "document"] }, "tags": { "type": "array", "items": { "type": "string" } },
                    "lecturer": { "type": ["string", "null"] }, "series": { "type": ["string", "null"] },
                    "region_code": { "type": ["string", "null"], "pattern": "^[0-9]{6}$" },
                    "recorded_on": { "type": ["string", "null"], "format": "date", "description": "1900-01-01 to 2100-12-31" }, "language": { "type": "string" } } },
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
                "PresignedUrl": { "type": "object", "properties": { "url": { "type": "string" }, "expires_at": { "type": "string" } } },
                "Step": { "type": "object", "properties": { "at": { "type": ["string", "null"], "format": "date-time" } } },
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
            "/api/v1/lessons/{id}/publish": { "parameters": id, "post": { "summary": "Publish the approved revision (operator tokens: the lesson as it stands), or schedule it with {\"at\": RFC 3339}; {\"at\": null} cancels a schedule", "security": [{ "bearer": [] }],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Step" } } } },
                "responses": { "200": ok("the lesson", "Lesson"), "409": problem("nothing approved to publish") } } },
            "/api/v1/lessons/{id}/withdraw": { "parameters": id, "post": { "summary": "Withdraw now, or at {\"at\": RFC 3339}", "security": [{ "bearer": [] }],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Step" } } } },
                "responses": { "200": ok("the lesson", "Lesson") } } },
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
            "/api/v1/search": { "get": { "summary": "Chinese-aware search over the lessons the caller may read: words (all must match), substrings and single characters, traditional characters, pinyin and initials, region names, the text of documents (with pages) and subtitles (with times). \"…\" is an exact phrase, a leading - excludes a word or phrase",
                "parameters": [ { "name": "q", "in": "query", "description": "may be left out when a filter is given", "schema": { "type": "string", "maxLength": 200 } },
                                { "name": "kind", "in": "query", "schema": { "enum": ["video", "audio", "document"] } },
                                { "name": "tag", "in": "query", "schema": { "type": "string" } },
                                { "name": "lecturer", "in": "query", "schema": { "type": "string" } },
                                { "name": "series", "in": "query", "schema": { "type": "string" } },
                                { "name": "region", "in": "query", "description": "a region code: it and every region below it", "schema": { "type": "string", "pattern": "^[0-9]{6}$" } },
                                { "name": "from", "in": "query", "description": "the lesson's date (recorded, else published) on or after this day, UTC+8", "schema": { "type": "string", "format": "date" } },
                                { "name": "to", "in": "query", "description": "the lesson's date on or before this day", "schema": { "type": "string", "format": "date" } },
                                { "name": "sort", "in": "query", "schema": { "enum": ["relevance", "newest"] } },
                                { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100 } },
                                { "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "maximum": 1000 } } ],
                "responses": { "200": { "description": "{ total, offset, limit, hits: [{ id, title, description, kind, status, tags, lecturer, series, region_code, region_name, recorded_on, published_at, score, highlights: { title, description } (HTML, matches in <mark>), cues: [{ asset_id, start_ms, end_ms, start, text }], pages: [{ asset_id, page, text }] }], facets: { kind, tag, series, year: [{ value, count }], region: [{ value, name, count }] } }" }, "400": problem("too long, or a bad filter, sort or page") } } },
            "/api/v1/search/suggest": { "get": { "summary": "Completions as one types: titles, tags, lecturers and series starting with q, or whose pinyin or initials do, among the lessons the caller may read",
                "parameters": [ { "name": "q", "in": "query", "required": true, "schema": { "type": "string", "maxLength": 50 } },
                                { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 20 } } ],
                "responses": { "200": { "description": "{ suggestions: [{ text, source: title | tag | lecturer | series }] }" }, "400": problem("too long") } } },
            "/api/v1/search/status": { "get": { "summary": "The search index: its generation, the change-log position it reflects against the head, documents and size (operators)", "security": [{ "bearer": [] }],
                "responses": { "200": { "description": "{ generation, position, head, lag, lessons, segments, bytes, lessons_awaiting_text (lessons with a document or subtitle whose text the job runner has not extracted yet, among the first 10,000 such files) }" }, "403": problem("not an operator") } } },
                        "/api/v1/changes": { "get": { "summary": "The change log after a cursor, in order, never skipping a committed entry", "security": [{ "bearer": [] }],
                "parameters": [ { "name": "after", "in": "query", "schema": { "type": "string" } }, { "name": "limit", "in": "query", "schema": { "type": "integer" } } ],
                "responses": { "200": ok("entries", "Changes") } } },
            "/health/live": { "get": { "summary": "The process answers", "responses": { "200": { "description": "ok" } } } },
            "/health/ready": { "get": { "summary": "Ready: the database answers and does not refuse a write, object storage answers, the search index follows the change log (each check bounded, the answer within 2 s)", "responses": { "200": { "description": "ready: `{database, storage, search_index}` all true" }, "503": { "description": "not ready: the false fields say what is down" } } } }
        }
    })
}
