//! The one rule for text that Lectern accepts from anybody: what may be stored, searched and
//! written into XML feeds.
//!
//! Text is refused when it holds a character that is not a Unicode scalar value XML 1.0 allows
//! (C0 controls other than tab, line feed and carriage return; U+FFFE and U+FFFF) or a Unicode
//! noncharacter (U+FDD0–U+FDEF and the last two code points of every plane). Rationale: NUL cannot
//! be stored by PostgreSQL at all, and the others make every OAI-PMH page or podcast feed that
//! carries them unreadable for every harvester. The HTTP layer applies [`check`] to every path,
//! query string, form and JSON body before a handler runs (see `http::input`), so no handler can
//! forget it.

use super::Invalid;

/// Whether `c` may appear in accepted text.
pub fn allowed(c: char) -> bool {
    let n = c as u32;
    match n {
        0x09 | 0x0A | 0x0D => true,
        0x00..=0x1F => false,
        0xFDD0..=0xFDEF => false,
        _ => n & 0xFFFE != 0xFFFE,
    }
}

/// The first character of `s` that [`allowed`] refuses.
pub fn first_forbidden(s: &str) -> Option<char> {
    s.chars().find(|&c| !allowed(c))
}

/// Checks `s`, which arrived as `field`.
pub fn check(field: &'static str, s: &str) -> Result<(), Invalid> {
    match first_forbidden(s) {
        None => Ok(()),
        Some(c) => Err(Invalid::new(
            field,
            format!(
                "contains U+{:04X}, a character that text may not hold (controls other than tab \
                 and line breaks, and Unicode noncharacters, are refused)",
                c as u32
            ),
        )),
    }
}

/// Checks percent-encoded `bytes` (a path, or a query string or form body, where `+` is a
/// space): once decoded they must be UTF-8 and pass [`check`].
pub fn check_percent_encoded(field: &'static str, bytes: &[u8]) -> Result<(), Invalid> {
    let decoded: Vec<u8> = percent_encoding::percent_decode(bytes).collect();
    let text = std::str::from_utf8(&decoded)
        .map_err(|_| Invalid::new(field, "is not valid UTF-8 once percent-decoded"))?;
    check(field, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_in_every_script_is_allowed() {
        for s in [
            "新时代乡村振兴",
            "e支部 2021年 5G",
            "a\tb\r\nc",
            "😀",
            "\u{202E}",
        ] {
            assert!(check("t", s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn controls_and_noncharacters_are_refused() {
        for c in [
            '\0',
            '\u{1}',
            '\u{8}',
            '\u{B}',
            '\u{C}',
            '\u{1F}',
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{1FFFE}',
            '\u{10FFFF}',
        ] {
            let s = format!("a{c}b");
            let e = check("title", &s).unwrap_err();
            assert_eq!(e.field, "title");
            assert!(e.message.contains(&format!("{:04X}", c as u32)), "{e}");
        }
        assert!(allowed('\u{FDCF}') && allowed('\u{FDF0}') && allowed('\u{FFFD}'));
    }

    #[test]
    fn percent_encoded_input_must_decode_to_allowed_utf8() {
        assert!(check_percent_encoded("q", b"%E4%B9%A1+%E6%9D%91").is_ok());
        assert!(check_percent_encoded("q", b"a%00b").is_err());
        assert!(check_percent_encoded("q", b"%ff").is_err());
        assert!(check_percent_encoded("q", b"%EF%BF%BE").is_err());
    }
}
