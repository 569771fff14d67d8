//! The Learning Record Store's document resources (xAPI 1.0.3 Communication 2.2, 2.3, 2.6, 2.7)
//! and its Activities and Agents resources (2.4, 2.5), each platform's own: a platform reads and
//! writes only its documents and sees only the activities its statements name.
//!
//! Writes keep the specification's rules: a `PUT` replaces, a `POST` merges two JSON objects
//! (anything else over an existing document is refused and nothing changes), `If-Match` and
//! `If-None-Match` are checked against the document's ETag in the writing transaction (412), and
//! a profile `PUT` without either is refused: over an existing document as a conflict (409, as
//! Communication 3.1 says), else as a bad request (400, as the conformance suite expects).

use super::{Result, ServiceError};
use crate::db::Db;
use crate::db::xapi_documents::{Document, DocumentKey, Write};
use crate::domain::Invalid;
use crate::domain::visibility::Platform;
use crate::domain::xapi::documents::{self, Kind, MAX_DOCUMENT_BYTES, Preconditions, Unmet};
use serde_json::Value;

/// How many of the latest statements naming an activity its definition is merged from.
const DEFINITION_STATEMENTS: i64 = 100;

fn invalid(field: &'static str, message: String) -> ServiceError {
    ServiceError::Invalid(vec![Invalid::new(field, message)])
}

/// What names a document, without its platform (the caller's) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: Kind,
    pub activity_id: String,
    pub agent: String,
    pub registration: Option<String>,
}

impl Scope {
    fn key(&self, p: &Platform, id: &str) -> DocumentKey {
        DocumentKey {
            platform_id: p.id.clone(),
            kind: self.kind,
            activity_id: self.activity_id.clone(),
            agent: self.agent.clone(),
            registration: self.registration.clone().unwrap_or_default(),
            id: id.to_owned(),
        }
    }
}

/// How a write combines with the stored document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Replace it.
    Put,
    /// Merge into it (JSON objects only), or store when there is none.
    Post,
}

/// Document `id` of `scope`.
pub async fn get(db: &Db, p: &Platform, scope: &Scope, id: &str) -> Result<Document> {
    db.xapi_document(&scope.key(p, id))
        .await?
        .ok_or(ServiceError::NotFound("document"))
}

/// The ids of `scope`'s documents (of any registration when none is given), updated after
/// `since_ms` when given.
pub async fn ids(
    db: &Db,
    p: &Platform,
    scope: &Scope,
    since_ms: Option<i64>,
) -> Result<Vec<String>> {
    Ok(db
        .xapi_document_ids(
            &p.id,
            scope.kind,
            &scope.activity_id,
            &scope.agent,
            scope.registration.as_deref(),
            since_ms,
        )
        .await?)
}

fn unmet(u: Unmet) -> ServiceError {
    match u {
        Unmet::Failed(why) => ServiceError::PreconditionFailed(why),
        Unmet::Missing => ServiceError::Conflict(
            "the document exists: send If-Match with its ETag to replace it, or If-None-Match: * \
             to create it only when it does not exist"
                .to_owned(),
        ),
    }
}

/// A document as a request sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub content_type: String,
    pub content: Vec<u8>,
}

/// Stores `sent` as document `id` of `scope` (`Mode::Put`) or merges it in (`Mode::Post`),
/// under the request's preconditions.
pub async fn write(
    db: &Db,
    p: &Platform,
    scope: &Scope,
    id: &str,
    mode: Mode,
    sent: Sent,
    pre: &Preconditions,
) -> Result<()> {
    let Sent {
        content_type,
        content,
    } = sent;
    let content_type = content_type.as_str();
    if content.len() > MAX_DOCUMENT_BYTES {
        return Err(invalid(
            "content",
            format!("a document holds at most {MAX_DOCUMENT_BYTES} bytes"),
        ));
    }
    let now = crate::db::now_ms();
    db.write_xapi_document(&scope.key(p, id), |current| {
        pre.check(current.map(|d| d.etag.as_str())).map_err(unmet)?;
        let content = match (mode, current) {
            (Mode::Put, Some(_)) if pre.is_empty() && scope.kind.put_needs_precondition() => {
                return Err(unmet(Unmet::Missing));
            }
            // A profile is created by a PUT that says it expects none (what the conformance
            // suite asks of 1.0.3 stores: 400), so a client never overwrites one unawares.
            (Mode::Put, None) if pre.is_empty() && scope.kind.put_needs_precondition() => {
                return Err(invalid(
                    "If-None-Match",
                    "a profile is stored by PUT with If-None-Match: * (to create it) or \
                     If-Match with its ETag (to replace it)"
                        .to_owned(),
                ));
            }
            (Mode::Post, Some(stored)) => {
                if !documents::is_json(&stored.content_type) || !documents::is_json(content_type) {
                    return Err(invalid(
                        "content",
                        "a POST merges JSON into JSON: the stored document and the sent one \
                             must both be application/json"
                            .to_owned(),
                    ));
                }
                let merged = documents::merge(&stored.content, &content).ok_or_else(|| {
                    invalid(
                        "content",
                        "a POST merges JSON objects: the stored document and the sent one \
                             must both be JSON objects"
                            .to_owned(),
                    )
                })?;
                if merged.len() > MAX_DOCUMENT_BYTES {
                    return Err(invalid(
                        "content",
                        format!("the merged document would exceed {MAX_DOCUMENT_BYTES} bytes"),
                    ));
                }
                merged
            }
            _ => content.clone(),
        };
        let content_type = match (mode, current) {
            (Mode::Post, Some(stored)) => stored.content_type.clone(),
            _ => content_type.to_owned(),
        };
        Ok(Write::Store(Document {
            etag: documents::etag(&content),
            content_type,
            content,
            updated_ms: now,
        }))
    })
    .await?
}

/// Deletes document `id` of `scope` under the request's preconditions (absent: nothing to do).
pub async fn delete(
    db: &Db,
    p: &Platform,
    scope: &Scope,
    id: &str,
    pre: &Preconditions,
) -> Result<()> {
    db.write_xapi_document(&scope.key(p, id), |current| {
        pre.check(current.map(|d| d.etag.as_str())).map_err(unmet)?;
        Ok(Write::Delete)
    })
    .await?
}

/// Deletes the states of an activity and agent (of one registration when given).
pub async fn delete_states(db: &Db, p: &Platform, scope: &Scope) -> Result<()> {
    db.delete_xapi_states(
        &p.id,
        &scope.activity_id,
        &scope.agent,
        scope.registration.as_deref(),
    )
    .await?;
    Ok(())
}

/// The Activity object of `activity_id` as the platform's statements define it.
pub async fn activity(db: &Db, p: &Platform, activity_id: &str) -> Result<Value> {
    let bodies = db
        .statements_naming_activity(&p.id, activity_id, DEFINITION_STATEMENTS)
        .await?;
    let statements: Vec<Value> = bodies
        .iter()
        .filter_map(|b| serde_json::from_str(b).ok())
        .collect();
    Ok(documents::activity(activity_id, &statements))
}
