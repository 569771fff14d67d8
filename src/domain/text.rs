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

/// Text decoded from a file's bytes (see [`decode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The encoding that was used, as its WHATWG name (`UTF-8`, `UTF-16LE`, `UTF-16BE`,
    /// `gb18030`).
    pub encoding: &'static str,
    /// Whether some bytes were not valid in that encoding (they became U+FFFD).
    pub malformed: bool,
}

/// Decodes a text file, the one rule for every text file Lectern reads (search extraction,
/// subtitle import and delivery): UTF-8 or UTF-16 announced by a byte order mark; else UTF-8
/// when the bytes are valid UTF-8; else GB18030 (a superset of GBK and GB2312, what Windows
/// tools in mainland China write). Malformed sequences become U+FFFD and set `malformed`.
///
/// Rationale: a statistical detector (chardetng) guesses among dozens of legacy encodings,
/// while Lectern's files are Chinese or English: valid UTF-8 is almost never a GB18030 file
/// by accident (a GB18030 text of more than a few characters is invalid UTF-8), so two tests
/// decide it exactly, and the outcome is predictable for editors.
pub fn decode(bytes: &[u8]) -> Decoded {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let rest = bytes.get(bom_len..).unwrap_or_default();
        let (text, malformed) = encoding.decode_without_bom_handling(rest);
        return Decoded {
            text: text.into_owned(),
            encoding: encoding.name(),
            malformed,
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded {
            text: text.to_owned(),
            encoding: encoding_rs::UTF_8.name(),
            malformed: false,
        },
        Err(_) => {
            let (text, malformed) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            Decoded {
                text: text.into_owned(),
                encoding: encoding_rs::GB18030.name(),
                malformed,
            }
        }
    }
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

    #[test]
    fn files_are_decoded_by_bom_then_utf8_then_gb18030() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\n乡村振兴 e支部\n";
        let (gb, _, _) = encoding_rs::GB18030.encode(text);
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(text.as_bytes());
        for (bytes, encoding) in [
            (text.as_bytes().to_vec(), "UTF-8"),
            (bom, "UTF-8"),
            (gb.into_owned(), "gb18030"),
            (le, "UTF-16LE"),
            (be, "UTF-16BE"),
        ] {
            let d = decode(&bytes);
            assert_eq!(d.text, text, "{encoding}");
            assert_eq!(d.encoding, encoding);
            assert!(!d.malformed);
        }
        // Bytes that are neither UTF-8 nor GB18030 (0xFF never leads a GB18030 character).
        let d = decode(b"ok \xFF\xFF\x80");
        assert_eq!(d.encoding, "gb18030");
        assert!(d.malformed);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::config;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        /// Any bytes decode (byte order marks, invalid UTF-8, NUL, lone surrogates in UTF-16)
        /// to some text in one of the four encodings, and UTF-8 is taken as it is.
        #[test]
        fn props_text_decode_of_any_bytes(bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| [&[0xFF, 0xFE][..], &b].concat()),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| [&[0xEF, 0xBB, 0xBF][..], &b].concat()),
        ]) {
            let d = decode(&bytes);
            prop_assert!(["UTF-8", "UTF-16LE", "UTF-16BE", "gb18030"].contains(&d.encoding));
            let utf8 = std::str::from_utf8(&bytes).ok();
            if let Some(s) = utf8.filter(|_| encoding_rs::Encoding::for_bom(&bytes).is_none()) {
                prop_assert_eq!(d.text, s);
            }
            let _ = check_percent_encoded("q", &bytes);
        }
    }
}
