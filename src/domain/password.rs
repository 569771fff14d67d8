//! Passwords: argon2id hashes in PHC string form, and the rules a new password must meet.

use super::Invalid;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// argon2id with 19 MiB of memory and 2 passes (the OWASP minimum), one lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password: 10–256 characters, not only one repeated character.
pub fn check_new(password: &str) -> Result<(), Invalid> {
    let n = password.chars().count();
    if !(10..=256).contains(&n) {
        return Err(Invalid::new("password", "must be 10–256 characters"));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(Invalid::new(
            "password",
            "must not be one character repeated",
        ));
    }
    Ok(())
}

/// The argon2id hash of `password`, with a fresh salt.
pub fn hash(password: &str) -> String {
    let mut raw = [0u8; 16];
    rand::fill(&mut raw);
    let salt = SaltString::encode_b64(&raw).expect("16 bytes make a valid salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with valid parameters cannot fail")
        .to_string()
}

/// Whether `password` matches `stored`. A malformed stored hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that the answer takes as long
/// as for a real account and does not reveal which logins exist.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that nobody has"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash("正确的马电池订书钉");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("正确的马电池订书钉", &h));
        assert!(!verify("正确的马电池订书针", &h));
        assert!(!verify("x", "not a hash"));
        assert_ne!(hash("same password"), hash("same password"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_new("short").is_err());
        assert!(check_new("aaaaaaaaaaaa").is_err());
        assert!(check_new(&"ab".repeat(200)).is_err());
        assert!(check_new("学习强国2024教育").is_ok());
    }
}
