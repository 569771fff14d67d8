//! Operator API tokens: how they are made and how they are stored.
//!
//! A token is 256 random bits, shown once. Only its SHA-256 is stored: with that much entropy a
//! fast hash already makes a stolen table useless (argon2 is for passwords, which have little).

use sha2::{Digest, Sha256};

/// A fresh token, `lct_` followed by 64 hex digits.
pub fn generate() -> String {
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    format!("lct_{}", hex::encode(raw))
}

/// The form in which a token is stored and looked up.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_stored_only_as_their_hash() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert!(!hash(&a).contains(&a[4..]));
    }
}
