//! Organisations: a tree of any depth (province → city → county → township/branch → …).
//!
//! Each node has a materialised path, the ids from the root down to itself as `/a/b/c/`. A node's
//! subtree is every node whose path starts with its path, which is how every "own subtree only"
//! rule below is decided.

use super::Invalid;
use serde::Serialize;

/// The administrative level of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgLevel {
    Province,
    City,
    County,
    Township,
    Branch,
    Other,
}

impl OrgLevel {
    pub const ALL: [OrgLevel; 6] = [
        Self::Province,
        Self::City,
        Self::County,
        Self::Township,
        Self::Branch,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::County => "county",
            Self::Township => "township",
            Self::Branch => "branch",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "level",
                    "must be one of province, city, county, township, branch, other",
                )
            })
    }
}

/// An organisation's name: 1–100 characters, no control characters, trimmed.
pub fn name(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(Invalid::new(
            "name",
            "must be 1–100 characters without control characters",
        ));
    }
    Ok(s.to_owned())
}

/// The path of a new node `id` under a parent with `parent_path` (or at the root).
pub fn child_path(parent_path: Option<&str>, id: &str) -> String {
    format!("{}{id}/", parent_path.unwrap_or("/"))
}

/// Whether the node at `path` is `ancestor` or lies below it.
pub fn within(path: &str, ancestor: &str) -> bool {
    !ancestor.is_empty() && path.starts_with(ancestor)
}

/// The ids on `path`, from the root down.
pub fn ids(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The levels that must approve a lesson owned at `owner_path` to be published to the subtree at
/// `scope_path`: the ids from the owner up to the scope, owner first. `None` when the scope is
/// not the owner or one of its ancestors (a lesson is never published beside or below its owner).
pub fn approval_chain(owner_path: &str, scope_path: &str) -> Option<Vec<String>> {
    if !within(owner_path, scope_path) {
        return None;
    }
    let above = ids(scope_path).len();
    let mut chain: Vec<String> = ids(owner_path)[above.saturating_sub(1)..]
        .iter()
        .map(|s| s.to_string())
        .collect();
    chain.reverse();
    Some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtrees_are_path_prefixes() {
        let root = child_path(None, "p");
        let city = child_path(Some(&root), "c");
        let county = child_path(Some(&city), "k");
        let sibling = child_path(Some(&root), "c2");
        assert_eq!(county, "/p/c/k/");
        assert!(within(&county, &root));
        assert!(within(&county, &county));
        assert!(!within(&city, &county));
        assert!(!within(&county, &sibling));
        assert!(!within(&county, ""));
        // An id that is a prefix of another must not make its subtree include the other.
        assert!(!within("/p/c22/", "/p/c2/") || "/p/c22/".starts_with("/p/c2/"));
        assert!(!within("/p/c22/", &sibling));
    }

    #[test]
    fn the_approval_chain_runs_from_the_owner_up_to_the_scope() {
        assert_eq!(
            approval_chain("/p/c/k/", "/p/c/k/").unwrap(),
            vec!["k".to_string()]
        );
        assert_eq!(approval_chain("/p/c/k/", "/p/c/").unwrap(), vec!["k", "c"]);
        assert_eq!(
            approval_chain("/p/c/k/", "/p/").unwrap(),
            vec!["k", "c", "p"]
        );
        assert!(approval_chain("/p/c/", "/p/c/k/").is_none());
        assert!(approval_chain("/p/c/k/", "/p/d/").is_none());
    }

    #[test]
    fn levels_and_names_are_checked() {
        assert_eq!(OrgLevel::parse("county").unwrap(), OrgLevel::County);
        assert!(OrgLevel::parse("galaxy").is_err());
        assert_eq!(name("  市委党校 ").unwrap(), "市委党校");
        assert!(name("").is_err());
        assert!(name("a\u{0}b").is_err());
        assert!(name(&"长".repeat(101)).is_err());
    }
}
