//! The business operations: each step a caller can take, in one place.
//!
//! A service function takes what it works on (the database, object storage), the [`Acting`]
//! caller and parsed input; it decides through `domain::visibility`, and does the transaction,
//! the audit entry and the change-log append. It answers with domain or database records and a
//! [`ServiceError`]. HTTP handlers, web pages and command-line commands are thin adapters over
//! these functions: they parse their input, call one, and render its answer — none of them
//! checks a permission, opens a transaction or writes an audit entry itself.
//!
//! Layer 2: services import from `domain`, `db`, `storage` and the engines beside them
//! (`ingest`, `search`, `publish`, `jobs`), never from `http` or `cli`.

pub mod accounts;
pub mod backup;
pub mod catalog;
pub mod hls;
pub mod import;
pub mod jobs;
pub mod learning;
pub mod library;
pub mod media;
pub mod orgs;
pub mod platforms;
pub mod reports;
pub mod review;
pub mod search;
pub mod subtitles;
pub mod synonyms;
pub mod uploads;
pub mod xapi;
pub mod xapi_documents;

use crate::db::Db;
use crate::db::audit::{Actor, Event};
use crate::domain::Invalid;
use crate::domain::visibility::Caller;

/// A caller with the actor the audit log records for it.
#[derive(Debug, Clone)]
pub struct Acting {
    pub caller: Caller,
    pub actor: Actor,
}

impl Acting {
    /// The command line acting as the operator on the local database.
    pub fn cli() -> Self {
        Self {
            caller: Caller::Operator {
                token_id: "cli".to_owned(),
            },
            actor: Actor::cli(),
        }
    }
}

/// Why a business step was not taken. Each adapter turns it into its own answer (a problem
/// body, a page, a message and exit code).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input broke a rule; every broken rule is listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Invalid>),
    /// Nothing of this kind that the caller may see (what a caller may not read is answered
    /// exactly like what does not exist).
    #[error("no such {0}")]
    NotFound(&'static str),
    /// No credential at all where one is needed.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may see it but not do this; the attempt is in the audit log ([`deny`]).
    #[error("{0}")]
    Forbidden(String),
    /// The current state does not allow the step (already published, a login taken, …).
    #[error("{0}")]
    Conflict(String),
    /// A precondition the caller gave (a version, an ETag) no longer holds.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Search(#[from] crate::search::index::SearchError),
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(vec![e])
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Refuses a step the caller may not take, recording the attempt in the audit log as
/// `denied.<action>` (anonymous callers are told to authenticate instead, and are not logged).
pub async fn deny(
    db: &Db,
    acting: &Acting,
    action: &str,
    target_kind: &str,
    target_id: &str,
    org_id: Option<&str>,
) -> ServiceError {
    if acting.caller == Caller::Anonymous {
        return ServiceError::Unauthenticated("this needs an API token or a session".to_owned());
    }
    let event = Event {
        action: &format!("denied.{action}"),
        target_kind,
        target_id: Some(target_id),
        org_id,
        before: None,
        after: None,
    };
    if let Err(e) = db.audit(&acting.actor, event).await {
        return e.into();
    }
    ServiceError::Forbidden(format!("you may not {action} this {target_kind}"))
}
