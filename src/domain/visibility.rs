//! Who may see what: the one function every read path asks.
//!
//! Invariant: API handlers, pages, downloads and the change log never decide visibility
//! themselves; they ask [`read_scope`] and either apply [`ReadScope::allows`] to one lesson or hand
//! the scope to the database layer, which turns it into a `WHERE` clause. When organisations and
//! publication scopes arrive, they are added here and every caller follows.

use super::lesson::LessonStatus;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were presented.
    Anonymous,
    /// An operator's API token (see `lectern token create`): full access to this instance.
    Operator { token_id: String },
}

/// What a caller may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadScope {
    /// Only published lessons and their assets.
    PublishedOnly,
    /// Every lesson in any state.
    Everything,
}

impl ReadScope {
    pub fn allows(self, status: LessonStatus) -> bool {
        match self {
            Self::Everything => true,
            Self::PublishedOnly => status == LessonStatus::Published,
        }
    }
}

/// The one decision of what `caller` may read.
pub fn read_scope(caller: &Caller) -> ReadScope {
    match caller {
        Caller::Anonymous => ReadScope::PublishedOnly,
        Caller::Operator { .. } => ReadScope::Everything,
    }
}

/// Whether `caller` may change the catalogue (create, edit, upload, publish, delete).
pub fn may_write(caller: &Caller) -> bool {
    matches!(caller, Caller::Operator { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_callers_see_only_published_lessons() {
        let scope = read_scope(&Caller::Anonymous);
        assert!(scope.allows(LessonStatus::Published));
        assert!(!scope.allows(LessonStatus::Draft));
        assert!(!scope.allows(LessonStatus::Withdrawn));
        assert!(!may_write(&Caller::Anonymous));
    }

    #[test]
    fn operators_see_and_change_everything() {
        let op = Caller::Operator {
            token_id: "t".into(),
        };
        assert!(read_scope(&op).allows(LessonStatus::Draft));
        assert!(may_write(&op));
    }
}
