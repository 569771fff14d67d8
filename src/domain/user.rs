//! Accounts' names, checked once where they enter (the API and the command line alike).

use super::Invalid;

/// A login name: 3–64 characters of letters, digits, `.`, `_`, `-` and `@`, lower-cased.
pub fn login_name(s: &str) -> Result<String, Invalid> {
    let s = s.trim().to_lowercase();
    let ok = (3..=64).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(s)
    } else {
        Err(Invalid::new(
            "login",
            "must be 3–64 letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

/// A display name: 1–100 characters on one line.
pub fn display_name(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(Invalid::new(
            "display_name",
            "must be 1–100 characters without control characters",
        ));
    }
    Ok(s.to_owned())
}
