//! The installation's search synonyms: groups of terms that mean the same here (党课 and
//! 党员教育课, 培训 and 轮训), which every search uses at query time (`search::query::Synonyms`).
//! Operators and administrators of a top-level organisation read and replace the whole list
//! (`GET`/`PUT /api/v1/search/synonyms`, `/admin/synonyms`); a change is audited and in force on
//! the node that saved it at once, on the others within `search::index::SYNONYMS_FOR`.

use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::audit::Event;
use crate::domain::Invalid;
use crate::domain::visibility;
use crate::search::index::SearchIndex;

/// The most groups in the list.
pub const MAX_GROUPS: usize = 1000;
/// The most terms in one group.
pub const MAX_TERMS: usize = 20;
/// The longest term, in characters.
pub const MAX_TERM_CHARS: usize = 40;

/// What separates terms in the one-group-per-line text form: commas, the enumeration comma,
/// semicolons (half- and full-width), and `=`.
const SEPARATORS: [char; 6] = [',', '，', '、', ';', '；', '='];

/// The groups of the text form: one group per line, terms separated by [`SEPARATORS`], blank
/// lines and terms ignored. Checked by [`replace`], not here.
pub fn from_text(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            line.split(SEPARATORS)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// The text form of `groups` (see [`from_text`]).
pub fn to_text(groups: &[Vec<String>]) -> String {
    groups
        .iter()
        .map(|g| g.join("，"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn may(acting: &Acting) -> bool {
    visibility::may_manage_installation(&acting.caller)
}

/// The synonym groups, for those who may change them.
pub async fn list(db: &Db, acting: &Acting) -> Result<Vec<Vec<String>>> {
    if !may(acting) {
        return Err(deny(db, acting, "read", "synonyms", "-", None).await);
    }
    Ok(db.synonym_groups().await?)
}

/// Checks `groups`: each of 2 to [`MAX_TERMS`] different terms (after trimming), each term 1 to
/// [`MAX_TERM_CHARS`] characters without control characters and with something searchable in
/// it; at most [`MAX_GROUPS`] groups. Every fault is reported, with the group's number.
fn check(groups: Vec<Vec<String>>) -> Result<Vec<Vec<String>>> {
    let mut errors = Vec::new();
    if groups.len() > MAX_GROUPS {
        errors.push(Invalid::new(
            "groups",
            format!("at most {MAX_GROUPS} groups (there are {})", groups.len()),
        ));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (i, group) in groups.into_iter().enumerate().take(MAX_GROUPS) {
        let n = i + 1;
        let fault = |m: String| Invalid::new("groups", format!("group {n}: {m}"));
        let mut terms: Vec<String> = Vec::new();
        for t in group {
            let t = t.trim().to_owned();
            if t.chars().any(char::is_control) {
                errors.push(fault("a term has a control character".into()));
            } else if t.chars().count() > MAX_TERM_CHARS {
                errors.push(fault(format!(
                    "a term is longer than {MAX_TERM_CHARS} characters: {t}"
                )));
            } else if !t.chars().any(char::is_alphanumeric) {
                if !t.is_empty() {
                    errors.push(fault(format!("nothing to search in: {t}")));
                }
            } else if !terms.contains(&t) {
                terms.push(t);
            }
        }
        if terms.len() > MAX_TERMS {
            errors.push(fault(format!("at most {MAX_TERMS} terms")));
        } else if terms.len() < 2 {
            errors.push(fault("needs at least two different terms".into()));
        }
        out.push(terms);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

/// Replaces the synonym groups by `groups` (checked as [`check`] says), audited with the list
/// before and after, and puts them in force on this node at once.
pub async fn replace(
    db: &Db,
    index: &SearchIndex,
    acting: &Acting,
    groups: Vec<Vec<String>>,
) -> Result<Vec<Vec<String>>> {
    if !may(acting) {
        return Err(deny(db, acting, "update", "synonyms", "-", None).await);
    }
    let groups = check(groups)?;
    let before = db.synonym_groups().await?;
    let event = Event {
        action: "synonyms.replace",
        target_kind: "synonyms",
        target_id: None,
        org_id: None,
        before: Some(serde_json::json!({ "groups": before })),
        after: Some(serde_json::json!({ "groups": groups })),
    };
    db.replace_synonym_groups(&groups, &acting.actor, event)
        .await?;
    index.forget_synonyms();
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_is_a_group_per_line_with_any_comma() {
        let g = from_text("党课，党员教育课\n\n 培训、轮训 , 学习班\nA=B; C\n，，\n");
        assert_eq!(
            g,
            [
                vec!["党课", "党员教育课"],
                vec!["培训", "轮训", "学习班"],
                vec!["A", "B", "C"],
            ]
        );
        assert_eq!(from_text(&to_text(&g)), g);
    }

    #[test]
    fn groups_are_checked_whole_and_every_fault_is_named() {
        let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let ok = check(vec![s(&["党课", " 党员教育课 ", "党课"])]).unwrap();
        assert_eq!(ok, [s(&["党课", "党员教育课"])]);
        let Err(ServiceError::Invalid(errors)) = check(vec![
            s(&["党课"]),
            s(&["a\u{0}b", "c"]),
            s(&["x".repeat(41).as_str(), "y"]),
            s(&["!!", "??"]),
        ]) else {
            panic!("refused");
        };
        for n in 1..=4 {
            let at = format!("group {n}: ");
            assert!(
                errors.iter().any(|e| e.message.starts_with(&at)),
                "{at}: {errors:?}"
            );
        }
        let many: Vec<Vec<String>> = (0..MAX_GROUPS + 1)
            .map(|i| s(&[&format!("a{i}"), "b"]))
            .collect();
        assert!(check(many).is_err());
        let wide = vec![(0..MAX_TERMS + 1).map(|i| format!("t{i}")).collect()];
        assert!(check(wide).is_err());
    }
}
