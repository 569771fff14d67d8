//! The xAPI 1.0.3 Learning Record Store at `/api/xapi/`: `/about`, and `/statements` (`PUT`
//! one, `POST` one or many, `GET` one or a page with `more`). Downstream platforms call it with
//! their key, as a bearer token or as HTTP Basic credentials (the key's id as user name, the key
//! as password: what LRS clients send). Every answer carries `X-Experience-API-Version`; every
//! request but `/about` must send one this store speaks (1.0.x).

use super::AppState;
use super::error::{AppError, Code};
use crate::db::xapi::StatementQuery;
use crate::domain::visibility::{Caller, Platform};
use crate::domain::xapi::{self, validate};
use crate::services::xapi::{self as lrs, Format};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

pub mod alternate;
pub mod documents;

pub const VERSION_HEADER: HeaderName = HeaderName::from_static("x-experience-api-version");
const CONSISTENT_THROUGH: HeaderName =
    HeaderName::from_static("x-experience-api-consistent-through");
/// The path `more` links start with.
const STATEMENTS_PATH: &str = "/api/xapi/statements";

/// Checks the version a request asks for (not on `/about`) and marks every answer with this
/// store's version. A request in the alternate request syntax (Communication 1.3: `POST` with
/// `?method=…` and a form carrying headers, parameters and `content`) is first rewritten into
/// the request it stands for.
pub async fn versioned(request: Request, next: Next) -> Response {
    let request = match alternate::rewrite(request).await {
        Ok(r) => r,
        Err(e) => {
            let mut response = e.into_response();
            response
                .headers_mut()
                .insert(VERSION_HEADER, HeaderValue::from_static(xapi::VERSION));
            return response;
        }
    };
    let about = request.uri().path().ends_with("/about");
    let asked = request
        .headers()
        .get(&VERSION_HEADER)
        .map(|v| v.to_str().unwrap_or(""));
    let refusal = match asked {
        _ if about || request.method() == Method::OPTIONS => None,
        None => Some("every request must send X-Experience-API-Version (1.0.3)".to_owned()),
        Some(v) if !xapi::accepts_version(v) => Some(format!(
            "X-Experience-API-Version {v:?} is not one this store speaks (1.0.x)"
        )),
        Some(_) => None,
    };
    let mut response = match refusal {
        Some(detail) => AppError::new(Code::InvalidRequest, detail).into_response(),
        None => next.run(request).await,
    };
    response
        .headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from_static(xapi::VERSION));
    response
}

/// A platform calling the store, by its key as a bearer token or as Basic credentials.
pub struct Reporter(pub Platform);

fn refused(detail: &str) -> AppError {
    AppError::unauthorized(detail).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"lectern xAPI\""),
    )
}

impl FromRequestParts<AppState> for Reporter {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(refused(
                "send the platform's key: as a bearer token, or as Basic credentials (the key's \
                 id as user name, the key as password)",
            ));
        };
        let value = value.to_str().unwrap_or("");
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        let (key_id, key) = if scheme.eq_ignore_ascii_case("bearer") {
            (None, rest.to_owned())
        } else if scheme.eq_ignore_ascii_case("basic") && rest.len() <= 400 {
            let decoded = STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| refused("the Basic credentials are not base64 of id:key"))?;
            let (id, key) = decoded
                .split_once(':')
                .ok_or_else(|| refused("the Basic credentials are not id:key"))?;
            (Some(id.to_owned()), key.to_owned())
        } else {
            return Err(refused(
                "the Authorization header must be Bearer <key> or Basic <id:key>",
            ));
        };
        if !crate::domain::platform::is_key(&key) || key.len() > 200 {
            return Err(refused(
                "the learning record store takes a platform's key (lpk_…), not an account's token",
            ));
        }
        match super::extract::platform_caller(state, &key).await {
            Ok(Caller::Platform(p)) if key_id.as_deref().is_none_or(|id| id == p.key_id) => {
                Ok(Reporter(p))
            }
            Err(e) if e.code != Code::Unauthorized => Err(e),
            _ => Err(refused("the platform key is not valid")),
        }
    }
}

/// What `/about` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AboutView {
    /// The xAPI versions this store speaks.
    pub version: Vec<String>,
    pub extensions: serde_json::Map<String, Value>,
}

/// `GET /api/xapi/about`
#[utoipa::path(
    get,
    path = "/api/xapi/about",
    tag = "xapi",
    summary = "The xAPI versions this learning record store speaks (no credentials needed)",
    responses((status = 200, description = "the versions", body = AboutView))
)]
pub async fn about() -> Response {
    super::extract::Json(AboutView {
        version: vec![xapi::VERSION.to_owned()],
        extensions: serde_json::Map::new(),
    })
    .into_response()
}

/// The parameters of a request to the store, each at most once; an unknown one is refused.
pub(super) fn params(
    query: Option<&str>,
    allowed: &[&str],
) -> Result<Vec<(String, String)>, AppError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !allowed.contains(&k.as_ref()) {
            return Err(bad(format!(
                "unknown parameter {k:?}; this resource takes {}",
                allowed.join(", ")
            )));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(bad(format!("the parameter {k} is given twice")));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

pub(super) fn bad(detail: String) -> AppError {
    AppError::new(Code::InvalidRequest, detail)
}

pub(super) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn flag(params: &[(String, String)], name: &str) -> Result<bool, AppError> {
    match param(params, name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(bad(format!("{name} must be true or false, not {v:?}"))),
    }
}

fn format_of(params: &[(String, String)]) -> Result<Format, AppError> {
    match param(params, "format") {
        None | Some("exact" | "canonical") => Ok(Format::Exact),
        Some("ids") => Ok(Format::Ids),
        Some(v) => Err(bad(format!(
            "format must be ids, exact or canonical, not {v:?}"
        ))),
    }
}

pub(super) fn instant(params: &[(String, String)], name: &str) -> Result<Option<i64>, AppError> {
    param(params, name)
        .map(|v| {
            validate::parse_timestamp(v)
                .map(|t| (t.unix_timestamp_nanos().div_euclid(1_000_000)) as i64)
                .ok_or_else(|| bad(format!("{name} must be an ISO 8601 timestamp, not {v:?}")))
        })
        .transpose()
}

/// What a `more` link carries: the query of the next page.
#[derive(serde::Serialize, serde::Deserialize)]
struct More {
    q: StatementQuery,
    limit: i64,
    ids: bool,
    attachments: bool,
}

const GET_PARAMS: &[&str] = &[
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "more",
];

/// `GET /api/xapi/statements`
#[utoipa::path(
    get,
    path = "/api/xapi/statements",
    tag = "xapi",
    summary = "One statement (statementId, voidedStatementId) or a page of the platform's statements that stand, newest stored first, filtered by agent, verb, activity, registration, since and until (related_agents, related_activities, ascending, limit, format, attachments); `more` fetches the next page",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.3 (any 1.0.x)"),
        ("statementId" = Option<String>, Query, description = "one statement, by id"),
        ("voidedStatementId" = Option<String>, Query, description = "one voided statement, by id"),
        ("agent" = Option<String>, Query, description = "JSON of an Agent or identified Group: the actor or object"),
        ("verb" = Option<String>, Query, description = "a verb id"),
        ("activity" = Option<String>, Query, description = "an activity id: the object"),
        ("registration" = Option<String>, Query, description = "a registration UUID"),
        ("related_activities" = Option<bool>, Query, description = "match the activity anywhere in the statement"),
        ("related_agents" = Option<bool>, Query, description = "match the agent anywhere in the statement"),
        ("since" = Option<String>, Query, description = "stored after this instant"),
        ("until" = Option<String>, Query, description = "stored at or before this instant"),
        ("limit" = Option<i64>, Query, description = "at most this many (0: the store's maximum, 500)"),
        ("format" = Option<String>, Query, description = "ids, exact or canonical"),
        ("attachments" = Option<bool>, Query, description = "answer multipart/mixed: the JSON, then the data of the statements' attachments the platform sent (at most 10 statements a page)"),
        ("ascending" = Option<bool>, Query, description = "oldest stored first"),
        ("more" = Option<String>, Query, description = "the next page (from a `more` link)"),
    ),
    security(("platformKey" = []), ("platformBasic" = [])),
    responses(
        (status = 200, description = "a statement, or a StatementResult {statements, more}", body = Object,
            headers(("X-Experience-API-Version" = String), ("X-Experience-API-Consistent-Through" = String), ("Last-Modified" = String))),
        (status = 404, description = "no such statement (or it is voided, or not voided for voidedStatementId)", body = crate::http::error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_statements(
    State(state): State<AppState>,
    Reporter(p): Reporter,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, AppError> {
    let params = params(query.as_deref(), GET_PARAMS)?;
    let now = crate::db::now_ms();
    let single = ["statementId", "voidedStatementId"]
        .iter()
        .filter_map(|k| param(&params, k).map(|v| (*k, v)))
        .collect::<Vec<_>>();
    let attachments = flag(&params, "attachments")?;
    let format = format_of(&params)?;
    if let Some(&(which, id)) = single.first() {
        if single.len() > 1
            || params.iter().any(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "statementId" | "voidedStatementId" | "format" | "attachments"
                )
            })
        {
            return Err(bad(format!(
                "{which} may be given only with format and attachments"
            )));
        }
        let (statement, stored) =
            lrs::one(&state.db, &p, id, which == "voidedStatementId", format).await?;
        let data = if attachments {
            lrs::attachment_data(
                &state.db,
                &state.store,
                &p,
                std::slice::from_ref(&statement),
            )
            .await?
        } else {
            Vec::new()
        };
        return Ok(answer(
            &statement,
            attachments.then_some(data),
            now,
            Some(stored),
        ));
    }
    let (q, limit, format, attachments) = match param(&params, "more") {
        Some(token) => {
            if params.len() > 1 {
                return Err(bad("more is used alone, as the link gives it".to_owned()));
            }
            let more: More = URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| bad("the more link is not one this store gave".to_owned()))?;
            let format = if more.ids { Format::Ids } else { Format::Exact };
            (more.q, more.limit, format, more.attachments)
        }
        None => {
            let agent = param(&params, "agent")
                .map(|a| {
                    let v: Value = serde_json::from_str(a)
                        .map_err(|_| bad("agent must be the JSON of an Agent or Group".into()))?;
                    validate::agent_param(&v).map_err(|e| bad(format!("agent: {}", e.message)))?;
                    xapi::ifi(&v).ok_or_else(|| bad("agent must have an identifier".into()))
                })
                .transpose()?;
            let iri = |name: &str| -> Result<Option<String>, AppError> {
                param(&params, name)
                    .map(|v| {
                        validate::is_iri(v)
                            .then(|| v.to_owned())
                            .ok_or_else(|| bad(format!("{name} must be an IRI, not {v:?}")))
                    })
                    .transpose()
            };
            let registration = param(&params, "registration")
                .map(|r| {
                    xapi::statement_id(r)
                        .ok_or_else(|| bad(format!("registration must be a UUID, not {r:?}")))
                })
                .transpose()?;
            let limit =
                match param(&params, "limit") {
                    None => lrs::MAX_LIMIT,
                    Some(l) => l.parse::<i64>().ok().filter(|l| *l >= 0).ok_or_else(|| {
                        bad(format!("limit must be a whole number ≥ 0, not {l:?}"))
                    })?,
                };
            let q = StatementQuery {
                agent,
                related_agents: flag(&params, "related_agents")?,
                verb: iri("verb")?,
                activity: iri("activity")?,
                related_activities: flag(&params, "related_activities")?,
                registration,
                since_ms: instant(&params, "since")?,
                until_ms: instant(&params, "until")?,
                ascending: flag(&params, "ascending")?,
                after: None,
                through_ms: now,
            };
            (q, limit, format, attachments)
        }
    };
    // With their attachments' data, a page holds fewer statements (see the constant).
    let limit = if attachments && (limit == 0 || limit > lrs::MAX_LIMIT_WITH_ATTACHMENTS) {
        lrs::MAX_LIMIT_WITH_ATTACHMENTS
    } else {
        limit
    };
    let (statements, next) = lrs::page(&state.db, &p, q, limit, format).await?;
    let data = if attachments {
        lrs::attachment_data(&state.db, &state.store, &p, &statements).await?
    } else {
        Vec::new()
    };
    let more = match next {
        Some(q) => {
            let token = serde_json::to_vec(&More {
                q,
                limit,
                ids: format == Format::Ids,
                attachments,
            })
            .map_err(|e| AppError::internal(&e))?;
            format!("{STATEMENTS_PATH}?more={}", URL_SAFE_NO_PAD.encode(token))
        }
        None => String::new(),
    };
    let result = json!({ "statements": statements, "more": more });
    Ok(answer(&result, attachments.then_some(data), now, None))
}

/// A statement or a result, as JSON or (`attachments`: their data) as `multipart/mixed`: the
/// JSON first, then a part per attachment the platform sent the data of (Communication 1.5.2).
fn answer(
    body: &Value,
    attachments: Option<Vec<lrs::AttachmentData>>,
    now: i64,
    stored: Option<i64>,
) -> Response {
    let json = body.to_string();
    let mut response = if let Some(data) = attachments {
        let mut parts = vec![(
            vec![("Content-Type", "application/json".to_owned())],
            Bytes::from(json),
        )];
        for a in data {
            parts.push((
                vec![
                    ("Content-Type", a.content_type),
                    ("Content-Transfer-Encoding", "binary".to_owned()),
                    ("X-Experience-API-Hash", a.sha2),
                ],
                a.bytes,
            ));
        }
        let (content_type, bytes) = super::multipart::write(&parts);
        let mut r = Response::new(Body::from(bytes));
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    } else {
        let mut r = Response::new(Body::from(json));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&crate::domain::time::rfc3339(now)) {
        h.insert(CONSISTENT_THROUGH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(stored.unwrap_or(now))) {
        h.insert(header::LAST_MODIFIED, v);
    }
    response
}

/// An instant as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub(super) fn http_date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&f).unwrap_or_default()
}

/// A request's body, read up to `limit` bytes (more: 413).
pub(super) async fn read_body(body: Body, limit: usize) -> Result<Bytes, AppError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let over = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if over {
            AppError::new(
                Code::PayloadTooLarge,
                format!("the body is over its limit of {limit} bytes"),
            )
        } else {
            bad(format!("the body could not be read: {e}"))
        }
    })
}

/// The statement or statements of a body, with their attachments' data: `application/json`, or
/// `multipart/mixed` whose first part is the statements' JSON and every other part the data of
/// an attachment, named by its hash (Communication 1.5.2). Anything else is refused with 400, as
/// Data 2.4.11 says.
fn statements_of(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Value, Vec<lrs::AttachmentData>), AppError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = |bytes: &[u8]| -> Result<Value, AppError> {
        if bytes.len() > super::JSON_LIMIT {
            return Err(AppError::new(
                Code::PayloadTooLarge,
                format!("the statements' JSON is over {} bytes", super::JSON_LIMIT),
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| bad(format!("the statements are not JSON: {e}")))
    };
    match essence.as_str() {
        "application/json" => Ok((json(body)?, Vec::new())),
        "multipart/mixed" => {
            let boundary = super::multipart::boundary(content_type).ok_or_else(|| {
                bad(
                    "a multipart/mixed body needs the boundary parameter in its Content-Type"
                        .to_owned(),
                )
            })?;
            let mut parts = super::multipart::parse(body, &boundary)
                .map_err(|e| bad(format!("the multipart/mixed body: {e}")))?
                .into_iter();
            let first = parts.next().ok_or_else(|| bad("no part".to_owned()))?;
            if !first
                .header("content-type")
                .is_some_and(crate::domain::xapi::documents::is_json)
            {
                return Err(bad(
                    "the first part of a multipart/mixed body must be the statements, as \
                     application/json"
                        .to_owned(),
                ));
            }
            let statements = json(&first.body)?;
            let mut data = Vec::new();
            let mut total = 0usize;
            for (i, part) in parts.enumerate() {
                let n = i + 2;
                let sha2 = part.header("x-experience-api-hash").ok_or_else(|| {
                    bad(format!(
                        "part {n} has no X-Experience-API-Hash (every part after the first is \
                         an attachment's data)"
                    ))
                })?;
                if !part
                    .header("content-transfer-encoding")
                    .is_some_and(|v| v.eq_ignore_ascii_case("binary"))
                {
                    return Err(bad(format!(
                        "part {n} must say Content-Transfer-Encoding: binary"
                    )));
                }
                total += part.body.len();
                if total > lrs::MAX_ATTACHMENT_BYTES {
                    return Err(AppError::new(
                        Code::PayloadTooLarge,
                        format!(
                            "the attachments' data is over {} bytes in all",
                            lrs::MAX_ATTACHMENT_BYTES
                        ),
                    ));
                }
                data.push(lrs::AttachmentData {
                    sha2: sha2.to_owned(),
                    content_type: part
                        .header("content-type")
                        .unwrap_or("application/octet-stream")
                        .to_owned(),
                    bytes: part.body.clone(),
                });
            }
            Ok((statements, data))
        }
        _ => Err(bad(format!(
            "statements are sent as application/json, or as multipart/mixed with their \
             attachments' data, not as {content_type:?}"
        ))),
    }
}

/// The most a statements request's body may be: the JSON and the attachments' data.
pub const STATEMENTS_BODY_LIMIT: usize = super::JSON_LIMIT + lrs::MAX_ATTACHMENT_BYTES + 64 * 1024;

/// `PUT /api/xapi/statements?statementId=…`
#[utoipa::path(
    put,
    path = "/api/xapi/statements",
    tag = "xapi",
    summary = "Stores one statement under statementId; the same statement again is accepted (204), other content under the id is refused (409)",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.3 (any 1.0.x)"),
        ("statementId" = String, Query, description = "the statement's id"),
    ),
    request_body(content = Object, description = "an xAPI statement as application/json, or multipart/mixed: the statement, then a part per attachment's data (X-Experience-API-Hash: its sha2; Content-Transfer-Encoding: binary; at most 16 MiB in all)"),
    security(("platformKey" = []), ("platformBasic" = [])),
    responses(
        (status = 204, description = "stored (or already stored as sent)"),
        (status = 409, description = "another statement is stored under the id", body = crate::http::error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn put_statement(
    State(state): State<AppState>,
    Reporter(p): Reporter,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    body: Body,
) -> Result<Response, AppError> {
    let params = params(query.as_deref(), &["statementId"])?;
    let id = param(&params, "statementId")
        .ok_or_else(|| bad("PUT takes the statement's id as statementId".to_owned()))?;
    let body = read_body(body, STATEMENTS_BODY_LIMIT).await?;
    let (statement, data) = statements_of(&headers, &body)?;
    if !statement.is_object() {
        return Err(bad("PUT takes one statement (a JSON object)".to_owned()));
    }
    let base = super::feeds::base_url(&state, &headers);
    lrs::store(
        &state.db,
        &state.store,
        &p,
        &base,
        vec![statement],
        data,
        Some(id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/xapi/statements`
#[utoipa::path(
    post,
    path = "/api/xapi/statements",
    tag = "xapi",
    summary = "Stores one statement or a batch (all or none); answers their ids in order. A statement about a lesson (<public URL>/lessons/<id>) by a member (account homePage = the public URL, name = the login) is a learning record too",
    params(("X-Experience-API-Version" = String, Header, description = "1.0.3 (any 1.0.x)")),
    request_body(content = Object, description = "an xAPI statement, or an array of them (at most 1000), as application/json, or multipart/mixed: the statements, then a part per attachment's data (X-Experience-API-Hash: its sha2; Content-Transfer-Encoding: binary; at most 16 MiB in all)"),
    security(("platformKey" = []), ("platformBasic" = [])),
    responses(
        (status = 200, description = "the statements' ids, in order", body = [String]),
        (status = 409, description = "a statement's id is stored with other content; nothing was stored", body = crate::http::error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn post_statements(
    State(state): State<AppState>,
    Reporter(p): Reporter,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    body: Body,
) -> Result<Response, AppError> {
    params(query.as_deref(), &[])?;
    let body = read_body(body, STATEMENTS_BODY_LIMIT).await?;
    let (statements, data) = statements_of(&headers, &body)?;
    let statements = match statements {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => {
            return Err(bad(
                "POST takes a statement (an object) or statements (an array)".to_owned(),
            ));
        }
    };
    let base = super::feeds::base_url(&state, &headers);
    let ids = lrs::store(&state.db, &state.store, &p, &base, statements, data, None).await?;
    Ok(super::extract::Json(ids).into_response())
}
