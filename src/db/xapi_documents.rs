//! The Learning Record Store's documents (`xapi_documents`: State, Activity Profile and Agent
//! Profile), each platform's own, and what the Activities resource reads of the statements. A
//! write reads the current document and decides in one transaction (the row locked on
//! PostgreSQL; a first insert that loses a race is decided again), so a precondition checked is
//! a precondition that held when the write committed.

use super::{Backend, Db};
use crate::domain::xapi::documents::Kind;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The most ids one listing answers.
pub const MAX_IDS: i64 = 10_000;

/// What names one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentKey {
    pub platform_id: String,
    pub kind: Kind,
    /// The activity IRI ('' for an agent profile).
    pub activity_id: String,
    /// The agent's canonical identifier (`domain::xapi::ifi`; '' for an activity profile).
    pub agent: String,
    /// The registration ('' when none).
    pub registration: String,
    /// The stateId or profileId.
    pub id: String,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub content_type: String,
    pub content: Vec<u8>,
    pub etag: String,
    pub updated_ms: i64,
}

/// What a write does once it has seen the current document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Store(Document),
    Delete,
}

type Row = (String, String, String, i64);

fn decode(row: Row) -> Result<Document, sqlx::Error> {
    let (content_type, content, etag, updated_ms) = row;
    let content = STANDARD
        .decode(content)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Document {
        content_type,
        content,
        etag,
        updated_ms,
    })
}

const WHERE_KEY: &str = "platform_id = $1 AND kind = $2 AND activity_id = $3 AND agent = $4 \
     AND registration = $5 AND document_id = $6";

impl Db {
    /// One document.
    pub async fn xapi_document(&self, key: &DocumentKey) -> Result<Option<Document>, sqlx::Error> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT content_type, content, etag, updated_ms FROM xapi_documents WHERE {WHERE_KEY}"
        )))
        .bind(&key.platform_id)
        .bind(key.kind.as_str())
        .bind(&key.activity_id)
        .bind(&key.agent)
        .bind(&key.registration)
        .bind(&key.id)
        .fetch_optional(self.pool())
        .await?;
        row.map(decode).transpose()
    }

    /// The ids of the documents of one kind under an activity and agent (either '' when the kind
    /// has none), of registration `registration` when given, else of any; updated after
    /// `since_ms` when given. At most [`MAX_IDS`], oldest first.
    pub async fn xapi_document_ids(
        &self,
        platform_id: &str,
        kind: Kind,
        activity_id: &str,
        agent: &str,
        registration: Option<&str>,
        since_ms: Option<i64>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut ids: Vec<String> = sqlx::query_scalar(
            "SELECT document_id FROM xapi_documents WHERE platform_id = $1 AND kind = $2 \
             AND activity_id = $3 AND agent = $4 AND ($5 = '' OR registration = $5) \
             AND updated_ms > $6 ORDER BY updated_ms, document_id LIMIT $7",
        )
        .bind(platform_id)
        .bind(kind.as_str())
        .bind(activity_id)
        .bind(agent)
        .bind(registration.unwrap_or(""))
        .bind(since_ms.unwrap_or(i64::MIN))
        .bind(MAX_IDS)
        .fetch_all(self.pool())
        .await?;
        // A state of several registrations is listed once.
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        Ok(ids)
    }

    /// Writes one document after `decide` has seen the current one (`None`: there is none), in
    /// one transaction; `decide` refusing (`Err`) changes nothing.
    pub async fn write_xapi_document<E>(
        &self,
        key: &DocumentKey,
        decide: impl Fn(Option<&Document>) -> Result<Write, E>,
    ) -> Result<Result<(), E>, sqlx::Error> {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut tx = self.begin_write().await?;
            let lock = if self.backend() == Backend::Postgres {
                " FOR UPDATE"
            } else {
                ""
            };
            let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT content_type, content, etag, updated_ms FROM xapi_documents \
                 WHERE {WHERE_KEY}{lock}"
            )))
            .bind(&key.platform_id)
            .bind(key.kind.as_str())
            .bind(&key.activity_id)
            .bind(&key.agent)
            .bind(&key.registration)
            .bind(&key.id)
            .fetch_optional(&mut *tx)
            .await?;
            let current = row.map(decode).transpose()?;
            let write = match decide(current.as_ref()) {
                Ok(w) => w,
                Err(e) => return Ok(Err(e)),
            };
            match write {
                Write::Delete => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM xapi_documents WHERE {WHERE_KEY}"
                    )))
                    .bind(&key.platform_id)
                    .bind(key.kind.as_str())
                    .bind(&key.activity_id)
                    .bind(&key.agent)
                    .bind(&key.registration)
                    .bind(&key.id)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::Store(d) => {
                    let content = STANDARD.encode(&d.content);
                    let sql = if current.is_some() {
                        format!(
                            "UPDATE xapi_documents SET content_type = $7, content = $8, \
                             etag = $9, updated_ms = $10 WHERE {WHERE_KEY}"
                        )
                    } else {
                        "INSERT INTO xapi_documents (platform_id, kind, activity_id, agent, \
                         registration, document_id, content_type, content, etag, updated_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT \
                         (platform_id, kind, activity_id, agent, registration, document_id) \
                         DO NOTHING"
                            .to_owned()
                    };
                    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(&key.platform_id)
                        .bind(key.kind.as_str())
                        .bind(&key.activity_id)
                        .bind(&key.agent)
                        .bind(&key.registration)
                        .bind(&key.id)
                        .bind(&d.content_type)
                        .bind(content)
                        .bind(&d.etag)
                        .bind(d.updated_ms)
                        .execute(&mut *tx)
                        .await?;
                    // Another request created the document meanwhile: decide again, against it.
                    if done.rows_affected() == 0 && tries < 3 {
                        tx.rollback().await?;
                        continue;
                    }
                }
            }
            tx.commit().await?;
            return Ok(Ok(()));
        }
    }

    /// Deletes the states of an activity and agent: of one registration when given, else all.
    pub async fn delete_xapi_states(
        &self,
        platform_id: &str,
        activity_id: &str,
        agent: &str,
        registration: Option<&str>,
    ) -> Result<u64, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM xapi_documents WHERE platform_id = $1 AND kind = $2 \
             AND activity_id = $3 AND agent = $4 AND ($5 = '' OR registration = $5)",
        )
        .bind(platform_id)
        .bind(Kind::State.as_str())
        .bind(activity_id)
        .bind(agent)
        .bind(registration.unwrap_or(""))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// The bodies of platform `platform_id`'s latest `limit` statements naming activity
    /// `activity_id` anywhere, newest first (what the Activities resource merges).
    pub async fn statements_naming_activity(
        &self,
        platform_id: &str,
        activity_id: &str,
        limit: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT s.body FROM xapi_statements s WHERE s.platform_id = $1 AND EXISTS \
             (SELECT 1 FROM xapi_statement_activities a WHERE a.statement_id = s.id \
             AND a.activity = $2) ORDER BY s.stored_ms DESC, s.id DESC LIMIT $3",
        )
        .bind(platform_id)
        .bind(activity_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}
