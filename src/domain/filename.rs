//! Filenames given by clients. They are kept only as metadata (for `Content-Disposition` and
//! display): no path is ever built from one. Object keys are generated, never derived from them.

use super::Invalid;

/// A client's filename reduced to its last path segment and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    /// Keeps only the last segment of `/` or `\` separated paths (so `../../etc/passwd` becomes
    /// `passwd`), and refuses control characters (NUL included), empty names, `.`/`..`, and names
    /// over 255 bytes of UTF-8, the limit of common file systems.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.chars().any(char::is_control) {
            return Err(Invalid::new(
                "filename",
                "must not contain control characters",
            ));
        }
        let last = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
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
    fn extensions_are_lower_case() {
        assert_eq!(
            FileName::parse("A.MP4").unwrap().extension().as_deref(),
            Some("mp4")
        );
        assert_eq!(FileName::parse(".bashrc").unwrap().extension(), None);
        assert_eq!(FileName::parse("README").unwrap().extension(), None);
    }
}
