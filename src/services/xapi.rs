//! The Learning Record Store (xAPI 1.0.3) the downstream platforms report to: statements
//! checked, stored once (an id sent again with the same content is accepted, with other content
//! refused), voided, and queried — each platform its own. A statement about a lesson
//! (`<public URL>/lessons/<id>`) by a member (`account.homePage` = the public URL,
//! `account.name` = the login) is also a learning record, with the platform's id as its source;
//! a platform may report only on lessons it receives and members inside its subtree. A signed
//! statement (Data 2.6) is stored only when its signature checks out (`domain::xapi::signature`).

use super::{Result, ServiceError};
use crate::db::Db;
use crate::db::xapi::{NewAttachment, NewStatement, Refused, StatementQuery, StoredStatement};
use crate::domain::Invalid;
use crate::domain::learning::DEFAULT_COMPLETION_PERCENT;
use crate::domain::visibility::{self, Platform};
use crate::domain::xapi::documents::sha2_matches;
use crate::domain::xapi::{self, signature, validate};
use crate::storage::ObjectStore;
use bytes::Bytes;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Statements in one request at most.
pub const MAX_BATCH: usize = 1000;
/// Statements in one answer at most (and what `limit=0` means).
pub const MAX_LIMIT: i64 = 500;
/// Statements in one answer at most when their attachments' data is sent too: each request
/// carried at most [`MAX_ATTACHMENT_BYTES`], so an answer carries at most ten times that.
pub const MAX_LIMIT_WITH_ATTACHMENTS: i64 = 10;
/// The attachments' data one request may carry, in all.
pub const MAX_ATTACHMENT_BYTES: usize = 16 * 1024 * 1024;

/// An attachment's data: a part of a `multipart/mixed` request or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentData {
    /// The `X-Experience-API-Hash` (lowercase hex).
    pub sha2: String,
    pub content_type: String,
    pub bytes: Bytes,
}

/// The object key of an attachment's data: content-addressed by its checked hash.
fn attachment_key(sha2: &str) -> String {
    format!("xapi/attachments/{sha2}")
}

fn invalid(message: String) -> ServiceError {
    ServiceError::Invalid(vec![Invalid::new("statement", message)])
}

/// What is known of the members and lessons a batch names.
#[derive(Default)]
struct Scope {
    /// login → the member's id, when a member the platform may report on.
    members: HashMap<String, Option<String>>,
    /// lesson id → its organisation's completion share, when a lesson the platform receives.
    lessons: HashMap<String, Option<i64>>,
}

impl Scope {
    async fn member(&mut self, db: &Db, p: &Platform, login: &str) -> Result<Option<String>> {
        if let Some(known) = self.members.get(login) {
            return Ok(known.clone());
        }
        let found = match db.user_by_login(login).await? {
            Some(u) if u.disabled_at.is_none() => {
                let grants = db.grants_for_access(&u.id).await?;
                visibility::may_report_on(p, &grants).then_some(u.id)
            }
            _ => None,
        };
        self.members.insert(login.to_owned(), found.clone());
        Ok(found)
    }

    async fn lesson(&mut self, db: &Db, p: &Platform, id: &str) -> Result<Option<i64>> {
        if let Some(known) = self.lessons.get(id) {
            return Ok(*known);
        }
        let found = match db.lesson(id).await? {
            Some(l) if visibility::receives(p, l.access()) => Some(match &l.org_id {
                Some(org) => db.completion_percent(org).await?,
                None => DEFAULT_COMPLETION_PERCENT,
            }),
            _ => None,
        };
        self.lessons.insert(id.to_owned(), found);
        Ok(found)
    }
}

/// Stores `statements` (one `PUT` with `put_id`, or a `POST` of one or many) from platform `p`,
/// all or none, with the data of their attachments (`parts`, from a `multipart/mixed` request):
/// each part's hash must be an attachment's `sha2` and the hash of its bytes, and every
/// attachment without a `fileUrl` needs its part. Answers the statements' ids in order.
pub async fn store(
    db: &Db,
    objects: &ObjectStore,
    p: &Platform,
    base_url: &str,
    statements: Vec<Value>,
    parts: Vec<AttachmentData>,
    put_id: Option<&str>,
) -> Result<Vec<String>> {
    if statements.is_empty() {
        return Err(invalid("no statement was sent".to_owned()));
    }
    if statements.len() > MAX_BATCH {
        return Err(invalid(format!(
            "at most {MAX_BATCH} statements in one request"
        )));
    }
    let many = statements.len() > 1;
    let at = |i: usize| {
        if many {
            format!("statements[{i}]: ")
        } else {
            String::new()
        }
    };
    let stored_ms = crate::db::now_ms();
    let stored = crate::domain::time::rfc3339(stored_ms);
    let authority = xapi::platform_authority(base_url, &p.id);
    let mut scope = Scope::default();
    let mut batch = Vec::with_capacity(statements.len());
    let mut seen = HashSet::new();
    for (i, received) in statements.iter().enumerate() {
        validate::statement(received).map_err(|e| invalid(format!("{}{}", at(i), e.message)))?;
        let given = received.get("id").and_then(Value::as_str);
        let id = match (given, put_id) {
            (Some(g), Some(q)) if xapi::statement_id(g) != xapi::statement_id(q) => {
                return Err(invalid(format!(
                    "the statement's id {g} is not the statementId parameter {q}"
                )));
            }
            (Some(g), _) => xapi::statement_id(g),
            (None, Some(q)) => xapi::statement_id(q),
            (None, None) => Some(uuid::Uuid::new_v4().hyphenated().to_string()),
        }
        .ok_or_else(|| invalid("statementId: must be a UUID".to_owned()))?;
        if !seen.insert(id.clone()) {
            return Err(invalid(format!(
                "{}the id {id} is sent twice in one batch",
                at(i)
            )));
        }
        let body = xapi::stamp(received, &id, &stored, &authority);
        let actor = received.get("actor").unwrap_or(&Value::Null);
        let object = received.get("object").unwrap_or(&Value::Null);
        let object_type = object.get("objectType").and_then(Value::as_str);
        let member = match xapi::login_of(actor, base_url) {
            Some(login) => Some(scope.member(db, p, &login).await?.ok_or_else(|| {
                ServiceError::Forbidden(format!(
                    "{}the actor is not a member inside the platform's organisation",
                    at(i)
                ))
            })?),
            None => None,
        };
        let lesson = match object_type {
            None | Some("Activity") => object
                .get("id")
                .and_then(Value::as_str)
                .and_then(|a| xapi::lesson_of(a, base_url)),
            _ => None,
        };
        if let Some(lesson) = &lesson
            && scope.lesson(db, p, lesson).await?.is_none()
        {
            return Err(ServiceError::Forbidden(format!(
                "{}the platform does not receive the lesson {lesson}",
                at(i)
            )));
        }
        let verb_id = received
            .get("verb")
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let ref_id = (object_type == Some("StatementRef"))
            .then(|| object.get("id").and_then(Value::as_str))
            .flatten()
            .and_then(xapi::statement_id);
        let timestamp_ms = body
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(validate::parse_timestamp)
            .map_or(stored_ms, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
        let names = xapi::names(&body);
        batch.push(NewStatement {
            digest: xapi::digest(received),
            stored_ms,
            timestamp_ms,
            voiding: verb_id == xapi::VOIDED,
            registration: received
                .get("context")
                .and_then(|c| c.get("registration"))
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase),
            verb_id,
            ref_id,
            user_id: member,
            lesson_id: lesson,
            body: body.to_string(),
            agents: names.agents,
            activities: names.activities,
            id,
        });
    }
    let attachments = attachments_of(&statements, parts)?;
    // Signatures are checked against the parts' data, whose hashes were checked just above, and
    // before anything is written, so a refused batch leaves nothing behind.
    for (i, (received, s)) in statements.iter().zip(&batch).enumerate() {
        signature::check(received, &s.id, |sha2| {
            attachments
                .iter()
                .find(|a| a.sha2 == sha2)
                .map(|a| a.bytes.as_ref())
        })
        .map_err(|e| invalid(format!("{}{e}", at(i))))?;
    }
    // The data goes to object storage first; the rows that make it the platform's are written
    // with the statements. Content-addressed objects are immutable, so one left by a batch that
    // is then refused (409) is harmless and is reused by the next upload of the same bytes.
    let mut rows = Vec::with_capacity(attachments.len());
    for a in attachments {
        let key = attachment_key(&a.sha2);
        objects.put(&key, a.bytes.clone(), &a.content_type).await?;
        rows.push(NewAttachment {
            length: a.bytes.len() as i64,
            sha2: a.sha2,
            content_type: a.content_type,
            object_key: key,
        });
    }
    // The lessons of the statements a voiding statement here voids are folded again too.
    for s in batch.iter().filter(|s| s.voiding) {
        if let Some(target) = s.ref_id.as_deref()
            && let Some(t) = db.statement(&p.id, target).await?
            && let Some(lesson) = serde_json::from_str::<Value>(&t.body)
                .ok()
                .and_then(|b| b["object"]["id"].as_str().map(str::to_owned))
                .and_then(|a| xapi::lesson_of(&a, base_url))
        {
            scope.lesson(db, p, &lesson).await?;
        }
    }
    let percents: HashMap<String, i64> = scope
        .lessons
        .into_iter()
        .filter_map(|(id, pc)| pc.map(|pc| (id, pc)))
        .collect();
    let fold = |lesson_id: &str, bodies: Vec<String>| {
        let contributions = bodies
            .iter()
            .filter_map(|b| serde_json::from_str::<Value>(b).ok())
            .map(|b| xapi::contribution(&b))
            .collect();
        let percent = percents
            .get(lesson_id)
            .copied()
            .unwrap_or(DEFAULT_COMPLETION_PERCENT);
        xapi::fold(contributions, percent)
    };
    // Two requests storing one id at once: the loser's insert fails on the key; the second try
    // then finds the id stored and compares.
    let mut tries = 0;
    let outcome = loop {
        tries += 1;
        match db.store_statements(&p.id, &batch, &rows, &fold).await {
            Err(e) if tries < 3 && is_unique_violation(&e) => continue,
            other => break other?,
        }
    };
    match outcome {
        Ok(_) => Ok(batch.into_iter().map(|s| s.id).collect()),
        Err(Refused::Conflict(id)) => Err(ServiceError::Conflict(format!(
            "a statement with the id {id} is already stored with other content"
        ))),
        Err(Refused::VoidsVoiding(id)) => Err(invalid(format!(
            "the statement {id} voids a voiding statement, which cannot be voided"
        ))),
    }
}

/// The parts a batch's statements call for, checked (Communication 1.5.2): each part's hash is an
/// attachment's `sha2` and the hash of its bytes; every attachment without `fileUrl` has a part.
fn attachments_of(statements: &[Value], parts: Vec<AttachmentData>) -> Result<Vec<AttachmentData>> {
    // sha2 → whether some attachment with it has no fileUrl (so needs the part).
    let mut declared: HashMap<String, bool> = HashMap::new();
    for s in statements {
        for a in s
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(sha2) = a.get("sha2").and_then(Value::as_str) {
                let needs = a.get("fileUrl").is_none();
                *declared.entry(sha2.to_ascii_lowercase()).or_default() |= needs;
            }
        }
    }
    let mut sent: Vec<AttachmentData> = Vec::new();
    for part in parts {
        let sha2 = part.sha2.to_ascii_lowercase();
        if !declared.contains_key(&sha2) {
            return Err(invalid(format!(
                "the part with X-Experience-API-Hash {sha2} is not the sha2 of any attachment \
                 of the statements"
            )));
        }
        if !sha2_matches(&sha2, &part.bytes) {
            return Err(invalid(format!(
                "the data of the part with X-Experience-API-Hash {sha2} does not have that hash"
            )));
        }
        if !sent.iter().any(|s| s.sha2 == sha2) {
            sent.push(AttachmentData { sha2, ..part });
        }
    }
    let mut missing: Vec<&String> = declared
        .iter()
        .filter(|(sha2, needs)| **needs && !sent.iter().any(|s| &s.sha2 == *sha2))
        .map(|(sha2, _)| sha2)
        .collect();
    missing.sort();
    if let Some(sha2) = missing.first() {
        return Err(invalid(format!(
            "the attachment with sha2 {sha2} has no fileUrl, and no part of the request carries \
             its data (send multipart/mixed with a part whose X-Experience-API-Hash is its sha2)"
        )));
    }
    Ok(sent)
}

/// The data the platform sent of the attachments of `statements` (each hash once), for an
/// answer with `attachments=true`.
pub async fn attachment_data(
    db: &Db,
    objects: &ObjectStore,
    p: &Platform,
    statements: &[Value],
) -> Result<Vec<AttachmentData>> {
    let mut sha2s: Vec<String> = statements
        .iter()
        .filter_map(|s| s.get("attachments").and_then(Value::as_array))
        .flatten()
        .filter_map(|a| a.get("sha2").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    sha2s.sort();
    sha2s.dedup();
    let mut out = Vec::new();
    for a in db.xapi_attachments(&p.id, &sha2s).await? {
        let bytes = objects.get_bytes(&a.object_key).await?;
        out.push(AttachmentData {
            sha2: a.sha2,
            content_type: a.content_type,
            bytes,
        });
    }
    Ok(out)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// A statement as answered: exact (as stored) or `ids`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    Ids,
    #[default]
    Exact,
}

fn render(s: &StoredStatement, format: Format) -> Value {
    let body: Value = serde_json::from_str(&s.body).unwrap_or(Value::Null);
    match format {
        Format::Exact => body,
        Format::Ids => xapi::ids_format(&body),
    }
}

/// Statement `id` of platform `p`: a voided one only when `voided` asks for it, and the other
/// way round (xAPI's `statementId` and `voidedStatementId`). Also its stored time.
pub async fn one(
    db: &Db,
    p: &Platform,
    id: &str,
    voided: bool,
    format: Format,
) -> Result<(Value, i64)> {
    let id = xapi::statement_id(id).ok_or_else(|| invalid("the id must be a UUID".to_owned()))?;
    match db.statement(&p.id, &id).await? {
        Some(s) if (s.voided == 1) == voided => Ok((render(&s, format), s.stored_ms)),
        _ => Err(ServiceError::NotFound("statement")),
    }
}

/// A page of platform `p`'s statements matching `q`, and the query of the next page when there
/// is one.
pub async fn page(
    db: &Db,
    p: &Platform,
    mut q: StatementQuery,
    limit: i64,
    format: Format,
) -> Result<(Vec<Value>, Option<StatementQuery>)> {
    let limit = if limit <= 0 {
        MAX_LIMIT
    } else {
        limit.min(MAX_LIMIT)
    };
    let mut rows = db.statements(&p.id, &q, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some(last) if more => {
            q.after = Some((last.stored_ms, last.id.clone()));
            Some(q)
        }
        _ => None,
    };
    Ok((rows.iter().map(|s| render(s, format)).collect(), next))
}
