//! Filenames given by clients. They are kept only as metadata (for `Content-Disposition` and
//! display): no path is ever built from one. Object keys are generated, never derived from them.
//!
//! Invariant: a stored name holds no invisible characters ([`is_invisible`]: bidirectional
//! controls such as U+202E RIGHT-TO-LEFT OVERRIDE, zero-width spaces and joiners, and the rest of
//! Unicode's default-ignorable code points). They draw nothing, so they carry nothing a reader
//! needs, and they let a name look like something else: `lecture\u{202E}4pm.exe` is shown as
//! `lectureexe.mp4`. They are removed on upload and again whenever a name is put into a
//! `Content-Disposition`, so names stored before this rule are harmless too.

use super::Invalid;
use super::asset::Disposition;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// A client's filename reduced to its last path segment and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    /// Keeps only the last segment of `/` or `\` separated paths (so `../../etc/passwd` becomes
    /// `passwd`), and refuses control characters (NUL included), empty names, `.`/`..`, and names
    /// over 255 bytes of UTF-8, the limit of common file systems.
    /// Invisible characters ([`is_invisible`]) are removed first.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.chars().any(char::is_control) {
            return Err(Invalid::new(
                "filename",
                "must not contain control characters",
            ));
        }
        let visible = without_invisible(raw);
        let last = visible.rsplit(['/', '\\']).next().unwrap_or("").trim();
        if last.is_empty() || last == "." || last == ".." {
            return Err(Invalid::new("filename", "must name a file"));
        }
        if last.len() > 255 {
            return Err(Invalid::new("filename", "must be at most 255 bytes"));
        }
        Ok(Self(last.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased extension after the last dot, if any.
    pub fn extension(&self) -> Option<String> {
        let (stem, ext) = self.0.rsplit_once('.')?;
        (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
    }
}

/// Whether `c` draws nothing and may change how the characters around it are shown: Unicode's
/// default-ignorable code points (DerivedCoreProperties.txt, Unicode 15.1), which include every
/// bidirectional control (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the zero-width
/// space, non-joiner and joiner, the word joiner, variation selectors, the byte order mark, the
/// soft hyphen, Hangul fillers and tag characters.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// `s` without its invisible characters ([`is_invisible`]).
pub fn without_invisible(s: &str) -> String {
    s.chars().filter(|c| !is_invisible(*c)).collect()
}

/// `Content-Disposition` with an ASCII fallback and the UTF-8 name (RFC 6266, RFC 8187), both
/// without invisible characters ([`is_invisible`]): uploads have them removed
/// already, and this also covers names stored before that rule, so no browser is ever handed a
/// right-to-left override that disguises an extension.
pub fn content_disposition(kind: Disposition, filename: &str) -> String {
    let kind = kind.as_str();
    let filename = &without_invisible(filename);
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(filename, NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_stripped() {
        assert_eq!(
            FileName::parse("../../etc/passwd").unwrap().as_str(),
            "passwd"
        );
        assert_eq!(
            FileName::parse("C:\\Users\\a\\第一讲.mp4")
                .unwrap()
                .as_str(),
            "第一讲.mp4"
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        assert!(FileName::parse("a\0.mp4").is_err());
        assert!(FileName::parse("..").is_err());
        assert!(FileName::parse("dir/").is_err());
        assert!(FileName::parse(&format!("{}.mp4", "a".repeat(300))).is_err());
    }

    #[test]
    fn invisible_characters_are_removed_so_a_name_shows_its_real_extension() {
        let spoof = FileName::parse("lecture\u{202E}4pm.exe").unwrap();
        assert_eq!(spoof.as_str(), "lecture4pm.exe");
        assert_eq!(spoof.extension().as_deref(), Some("exe"));
        let joined = FileName::parse("第\u{200D}一\u{200B}讲\u{2066}.mp4\u{2069}\u{FEFF}").unwrap();
        assert_eq!(joined.as_str(), "第一讲.mp4");
        // A name of nothing but invisible characters names no file.
        assert!(FileName::parse("\u{200B}\u{202E}").is_err());
        // Visible non-Latin text is untouched.
        assert_eq!(
            FileName::parse("第一讲 导论.pdf").unwrap().as_str(),
            "第一讲 导论.pdf"
        );
    }

    #[test]
    fn extensions_are_lower_case() {
        assert_eq!(
            FileName::parse("A.MP4").unwrap().extension().as_deref(),
            Some("mp4")
        );
        assert_eq!(FileName::parse(".bashrc").unwrap().extension(), None);
        assert_eq!(FileName::parse("README").unwrap().extension(), None);
    }

    #[test]
    fn disposition_keeps_the_utf8_name_and_a_safe_fallback() {
        let d = content_disposition(Disposition::Attachment, "第一讲 \"导论\".pdf");
        assert!(
            d.starts_with("attachment; filename=\"___ ____.pdf\""),
            "{d}"
        );
        assert!(d.contains("filename*=UTF-8''%E7%AC%AC"), "{d}");
    }

    #[test]
    fn disposition_drops_bidi_overrides_and_zero_width_characters() {
        let d = content_disposition(Disposition::Attachment, "lecture\u{202E}4pm.exe\u{200D}");
        assert_eq!(
            d,
            "attachment; filename=\"lecture4pm.exe\"; filename*=UTF-8''lecture4pm%2Eexe"
        );
    }
}
