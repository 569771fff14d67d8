//! Types and rules of the domain. Nothing in here performs I/O: every value is parsed from
//! untrusted input once ("parse, don't validate") and can then be trusted by the layers around it.

pub mod asset;
pub mod filename;
pub mod hls;
pub mod job;
pub mod learning;
pub mod lesson;
pub mod media;
pub mod org;
pub mod password;
pub mod platform;
pub mod range;
pub mod region;
pub mod report;
pub mod subtitle;
pub mod text;
pub mod time;
pub mod token;
pub mod user;
pub mod visibility;
pub mod xapi;

/// A rule broken by a client's input: the field it concerns and a sentence for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
