//! The store's document resources — `/activities/state`, `/activities/profile`,
//! `/agents/profile` — and the `/activities` and `/agents` resources (xAPI 1.0.3 Communication
//! 2.2-2.7), for the calling platform's own documents. Every parameter is checked (an unknown
//! one, a repeated one, an agent that is not an Agent's JSON, an activity that is not an IRI, a
//! registration that is not a UUID: 400). A document is answered with the media type it was
//! stored with, its `ETag` (the quoted SHA-1 of its bytes) and `Last-Modified`; writes take
//! `If-Match` and `If-None-Match` (412 when they do not hold) and bodies up to
//! `MAX_DOCUMENT_BYTES` (413).

use super::{Reporter, bad, http_date, instant, param, params, read_body};
use crate::db::xapi_documents::Document;
use crate::domain::xapi::documents::{self as docs, Kind, MAX_DOCUMENT_BYTES, Preconditions};
use crate::domain::xapi::{self, validate};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::services::xapi_documents::{self as store, Mode, Scope, Sent};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// An Agent given as a parameter: checked, and its canonical identifier.
fn agent(params: &[(String, String)]) -> Result<(Value, String), AppError> {
    let a = param(params, "agent").ok_or_else(|| bad("agent is required".to_owned()))?;
    let v: Value = serde_json::from_str(a)
        .map_err(|_| bad(format!("agent must be the JSON of an Agent, not {a:?}")))?;
    if !v.is_object() {
        return Err(bad(
            "agent must be the JSON of an Agent (an object)".to_owned()
        ));
    }
    validate::agent_param(&v).map_err(|e| bad(format!("agent: {}", e.message)))?;
    let ifi = xapi::ifi(&v).ok_or_else(|| bad("agent must have an identifier".to_owned()))?;
    Ok((v, ifi))
}

fn activity_id(params: &[(String, String)]) -> Result<String, AppError> {
    let a = param(params, "activityId").ok_or_else(|| bad("activityId is required".to_owned()))?;
    if !validate::is_iri(a) {
        return Err(bad(format!("activityId must be an IRI, not {a:?}")));
    }
    Ok(a.to_owned())
}

fn registration(params: &[(String, String)]) -> Result<Option<String>, AppError> {
    param(params, "registration")
        .map(|r| {
            xapi::statement_id(r)
                .ok_or_else(|| bad(format!("registration must be a UUID, not {r:?}")))
        })
        .transpose()
}

/// The name of a kind's document id parameter.
fn id_name(kind: Kind) -> &'static str {
    match kind {
        Kind::State => "stateId",
        Kind::ActivityProfile | Kind::AgentProfile => "profileId",
    }
}

/// The parameters a kind takes (`since` on GET only).
fn allowed(kind: Kind, get: bool) -> Vec<&'static str> {
    let mut names = match kind {
        Kind::State => vec!["activityId", "agent", "registration", "stateId"],
        Kind::ActivityProfile => vec!["activityId", "profileId"],
        Kind::AgentProfile => vec!["agent", "profileId"],
    };
    if get {
        names.push("since");
    }
    names
}

/// A request's parameters, as `params` reads them.
type Params = Vec<(String, String)>;

/// The scope and (when given) document id of a request to a document resource, and its
/// parameters.
fn scope(
    kind: Kind,
    query: Option<&str>,
    get: bool,
) -> Result<(Scope, Option<String>, Params), AppError> {
    let params = params(query, &allowed(kind, get))?;
    let activity_id = match kind {
        Kind::State | Kind::ActivityProfile => activity_id(&params)?,
        Kind::AgentProfile => String::new(),
    };
    let agent = match kind {
        Kind::State | Kind::AgentProfile => agent(&params)?.1,
        Kind::ActivityProfile => String::new(),
    };
    let registration = match kind {
        Kind::State => registration(&params)?,
        _ => None,
    };
    let id = param(&params, id_name(kind)).map(str::to_owned);
    if id.as_deref() == Some("") {
        return Err(bad(format!("{} must not be empty", id_name(kind))));
    }
    Ok((
        Scope {
            kind,
            activity_id,
            agent,
            registration,
        },
        id,
        params,
    ))
}

fn preconditions(headers: &HeaderMap) -> Preconditions {
    let get = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Preconditions {
        if_match: get(header::IF_MATCH),
        if_none_match: get(header::IF_NONE_MATCH),
    }
}

/// A document as answered: its bytes, media type, `ETag` and `Last-Modified`.
fn document(d: Document) -> Response {
    let mut r = Response::new(Body::from(d.content));
    let h = r.headers_mut();
    let content_type = HeaderValue::from_str(&d.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", d.etag)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(d.updated_ms)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    r
}

async fn get_document(
    state: &AppState,
    p: &crate::domain::visibility::Platform,
    kind: Kind,
    query: Option<&str>,
) -> Result<Response, AppError> {
    let (scope, id, params) = scope(kind, query, true)?;
    let since = instant(&params, "since")?;
    match id {
        Some(id) => Ok(document(store::get(&state.db, p, &scope, &id).await?)),
        None => {
            let ids = store::ids(&state.db, p, &scope, since).await?;
            Ok(crate::http::extract::Json(ids).into_response())
        }
    }
}

async fn write_document(
    state: &AppState,
    p: &crate::domain::visibility::Platform,
    kind: Kind,
    mode: Mode,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
) -> Result<Response, AppError> {
    let (scope, id, _) = scope(kind, query, false)?;
    let id = id.ok_or_else(|| bad(format!("{} is required", id_name(kind))))?;
    let content = read_body(body, MAX_DOCUMENT_BYTES).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or("application/octet-stream");
    if content_type.len() > 200 {
        return Err(bad("the Content-Type is over 200 bytes".to_owned()));
    }
    let sent = Sent {
        content_type: content_type.to_owned(),
        content: content.to_vec(),
    };
    store::write(
        &state.db,
        p,
        &scope,
        &id,
        mode,
        sent,
        &preconditions(headers),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_document(
    state: &AppState,
    p: &crate::domain::visibility::Platform,
    kind: Kind,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, AppError> {
    let (scope, id, _) = scope(kind, query, false)?;
    match (id, kind) {
        (Some(id), _) => store::delete(&state.db, p, &scope, &id, &preconditions(headers)).await?,
        (None, Kind::State) => store::delete_states(&state.db, p, &scope).await?,
        (None, _) => return Err(bad(format!("{} is required", id_name(kind)))),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The four operations of a document resource, each documented.
macro_rules! document_paths {
    ($kind:expr, $path:tt, $params:tt,
     $get:ident, $put:ident, $post:ident, $delete:ident) => {
        #[doc = concat!("`GET ", $path, "`")]
        #[utoipa::path(
            get,
            path = $path,
            tag = "xapi",
            summary = "One document of the platform's (with its id), or the ids of its documents here (without; since: updated after)",
            params $params,
            security(("platformKey" = []), ("platformBasic" = [])),
            responses(
                (status = 200, description = "the document as stored (its media type, ETag and Last-Modified), or an array of ids", body = serde_json::Value,
                    headers(("ETag" = String), ("Last-Modified" = String), ("X-Experience-API-Version" = String))),
                (status = 404, description = "no such document", body = crate::http::error::Problem, content_type = "application/problem+json")
            )
        )]
        pub async fn $get(
            State(state): State<AppState>,
            Reporter(p): Reporter,
            RawQuery(query): RawQuery,
        ) -> Result<Response, AppError> {
            get_document(&state, &p, $kind, query.as_deref()).await
        }

        #[doc = concat!("`PUT ", $path, "`")]
        #[utoipa::path(
            put,
            path = $path,
            tag = "xapi",
            summary = "Stores a document (any media type, at most 1 MiB); If-Match and If-None-Match are checked",
            params $params,
            request_body(content = Vec<u8>, description = "the document", content_type = "*/*"),
            security(("platformKey" = []), ("platformBasic" = [])),
            responses(
                (status = 204, description = "stored"),
                (status = 400, description = "a parameter is wrong, or a profile was sent without If-Match or If-None-Match and does not exist", body = crate::http::error::Problem, content_type = "application/problem+json"),
                (status = 409, description = "a profile exists and neither If-Match nor If-None-Match was sent", body = crate::http::error::Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match or If-None-Match does not hold; nothing changed", body = crate::http::error::Problem, content_type = "application/problem+json")
            )
        )]
        pub async fn $put(
            State(state): State<AppState>,
            Reporter(p): Reporter,
            headers: HeaderMap,
            RawQuery(query): RawQuery,
            body: Body,
        ) -> Result<Response, AppError> {
            write_document(&state, &p, $kind, Mode::Put, &headers, query.as_deref(), body).await
        }

        #[doc = concat!("`POST ", $path, "`")]
        #[utoipa::path(
            post,
            path = $path,
            tag = "xapi",
            summary = "Merges a JSON object into the stored document when it is one (top-level properties replaced or added), or stores it when there is none",
            params $params,
            request_body(content = Vec<u8>, description = "the document", content_type = "*/*"),
            security(("platformKey" = []), ("platformBasic" = [])),
            responses(
                (status = 204, description = "merged or stored"),
                (status = 412, description = "If-Match or If-None-Match does not hold; nothing changed", body = crate::http::error::Problem, content_type = "application/problem+json")
            )
        )]
        pub async fn $post(
            State(state): State<AppState>,
            Reporter(p): Reporter,
            headers: HeaderMap,
            RawQuery(query): RawQuery,
            body: Body,
        ) -> Result<Response, AppError> {
            write_document(&state, &p, $kind, Mode::Post, &headers, query.as_deref(), body).await
        }

        #[doc = concat!("`DELETE ", $path, "`")]
        #[utoipa::path(
            delete,
            path = $path,
            tag = "xapi",
            summary = "Deletes a document (states without stateId: all of the activity and agent, of the registration when given)",
            params $params,
            security(("platformKey" = []), ("platformBasic" = [])),
            responses(
                (status = 204, description = "deleted (or there was none)"),
                (status = 412, description = "If-Match or If-None-Match does not hold; nothing changed", body = crate::http::error::Problem, content_type = "application/problem+json")
            )
        )]
        pub async fn $delete(
            State(state): State<AppState>,
            Reporter(p): Reporter,
            headers: HeaderMap,
            RawQuery(query): RawQuery,
        ) -> Result<Response, AppError> {
            delete_document(&state, &p, $kind, &headers, query.as_deref()).await
        }
    };
}

document_paths!(
    Kind::State,
    "/api/xapi/activities/state",
    (
        ("X-Experience-API-Version" = String, Header, description = "1.0.3 (any 1.0.x)"),
        ("activityId" = String, Query, description = "the activity's IRI"),
        ("agent" = String, Query, description = "the JSON of an Agent"),
        ("registration" = Option<String>, Query, description = "a registration UUID"),
        ("stateId" = Option<String>, Query, description = "the document's id (required to write)"),
        ("since" = Option<String>, Query, description = "GET without stateId: updated after this instant"),
    ),
    get_state,
    put_state,
    post_state,
    delete_state
);

document_paths!(
    Kind::ActivityProfile,
    "/api/xapi/activities/profile",
    (
        ("X-Experience-API-Version" = String, Header, description = "1.0.3 (any 1.0.x)"),
        ("activityId" = String, Query, description = "the activity's IRI"),
        ("profileId" = Option<String>, Query, description = "the document's id (required to write)"),
        ("since" = Option<String>, Query, description = "GET without profileId: updated after this instant"),
    ),
    get_activity_profile,
    put_activity_profile,
    post_activity_profile,
    delete_activity_profile
);

document_paths!(
    Kind::AgentProfile,
    "/api/xapi/agents/profile",
    (
        ("X-Experience-API-Version" = String, Header, description = "1.0.3 (any 1.0.x)"),
        ("agent" = String, Query, description = "the JSON of an Agent"),
        ("profileId" = Option<String>, Query, description = "the document's id (required to write)"),
        ("since" = Option<String>, Query, description = "GET without profileId: updated after this instant"),
    ),
    get_agent_profile,
    put_agent_profile,
    post_agent_profile,
    delete_agent_profile
);

/// `GET /api/xapi/activities?activityId=…`
#[utoipa::path(
    get,
    path = "/api/xapi/activities",
    tag = "xapi",
    summary = "The Activity object of activityId, its definition merged from the platform's statements (only its id when they define nothing)",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.3 (any 1.0.x)"),
        ("activityId" = String, Query, description = "the activity's IRI"),
    ),
    security(("platformKey" = []), ("platformBasic" = [])),
    responses((status = 200, description = "an Activity object", body = Object))
)]
pub async fn get_activity(
    State(state): State<AppState>,
    Reporter(p): Reporter,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let params = params(query.as_deref(), &["activityId"])?;
    let id = activity_id(&params)?;
    let activity = store::activity(&state.db, &p, &id).await?;
    Ok(crate::http::extract::Json(activity).into_response())
}

/// `GET /api/xapi/agents?agent=…`
#[utoipa::path(
    get,
    path = "/api/xapi/agents",
    tag = "xapi",
    summary = "The Person object of an Agent: each of its properties as an array",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.3 (any 1.0.x)"),
        ("agent" = String, Query, description = "the JSON of an Agent"),
    ),
    security(("platformKey" = []), ("platformBasic" = [])),
    responses((status = 200, description = "a Person object", body = Object))
)]
pub async fn get_agent(
    Reporter(_caller): Reporter,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let params = params(query.as_deref(), &["agent"])?;
    let (agent, _) = agent(&params)?;
    if agent.get("objectType").and_then(Value::as_str) == Some("Group") {
        return Err(bad("agent must be an Agent, not a Group".to_owned()));
    }
    Ok(crate::http::extract::Json(docs::person(&agent)).into_response())
}
