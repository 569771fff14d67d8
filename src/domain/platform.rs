//! Downstream platforms (下级平台): portals, TV, WeChat channels and audio players that pull what
//! is published to them. Their names, channels, filters, keys and webhook settings are parsed
//! here; who receives which lesson is decided in `visibility`.

use super::Invalid;
use super::lesson::LessonKind;
use serde::{Deserialize, Serialize};

/// How a platform shows what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Web,
    Tv,
    Wechat,
    Audio,
    Other,
}

impl Channel {
    pub const ALL: [Channel; 5] = [Self::Web, Self::Tv, Self::Wechat, Self::Audio, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Tv => "tv",
            Self::Wechat => "wechat",
            Self::Audio => "audio",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| Invalid::new("channel", "must be one of web, tv, wechat, audio, other"))
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which lessons a platform wants, on top of what is published to it. Each list empty lets
/// everything through; otherwise a lesson must match one entry of every non-empty list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Filters {
    #[serde(default)]
    #[schema(value_type = Vec<super::lesson::LessonKind>)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub series: Vec<String>,
}

impl Filters {
    /// Parses and normalises filters from a client: known kinds, tags and series as the catalogue
    /// spells them, at most 50 entries each, duplicates removed.
    pub fn parse(kinds: &[String], tags: &[String], series: &[String]) -> Result<Self, Invalid> {
        let mut k: Vec<String> = Vec::new();
        for s in kinds {
            let kind = LessonKind::parse(s)
                .map_err(|_| Invalid::new("kinds", "each must be video, audio or document"))?;
            if !k.iter().any(|x| x == kind.as_str()) {
                k.push(kind.as_str().to_owned());
            }
        }
        let tags = super::lesson::tags(tags)?;
        if series.len() > 50 {
            return Err(Invalid::new("series", "at most 50 series"));
        }
        let mut s: Vec<String> = Vec::new();
        for v in series {
            let v = v.trim();
            if v.is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
                return Err(Invalid::new(
                    "series",
                    "each must be 1–200 characters on one line",
                ));
            }
            if !s.iter().any(|x| x == v) {
                s.push(v.to_owned());
            }
        }
        Ok(Self {
            kinds: k,
            tags,
            series: s,
        })
    }

    /// Whether a lesson of `kind`, with `tags` and in `series`, passes.
    pub fn admit(&self, kind: &str, tags: &[String], series: Option<&str>) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
            && (self.tags.is_empty() || tags.iter().any(|t| self.tags.contains(t)))
            && (self.series.is_empty()
                || series.is_some_and(|s| self.series.iter().any(|x| x == s)))
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty() && self.tags.is_empty() && self.series.is_empty()
    }
}

/// A platform's name: 1–100 characters on one line.
pub fn name(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(Invalid::new("name", "must be 1–100 characters on one line"));
    }
    Ok(s.to_owned())
}

/// A webhook URL: absolute `http` or `https`, with a host, at most 2,000 characters, no
/// credentials in it.
pub fn webhook_url(s: &str) -> Result<String, Invalid> {
    let bad = || Invalid::new("webhook_url", "must be an absolute http or https URL");
    let s = s.trim();
    if s.len() > 2000 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad());
    }
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    Ok(s.to_owned())
}

/// A fresh platform key, `lpk_` and 64 hex digits; stored only as its SHA-256 (`token::hash`).
pub fn generate_key() -> String {
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    format!("lpk_{}", hex::encode(raw))
}

/// Whether a bearer token is a platform key (rather than an operator or personal token).
pub fn is_key(token: &str) -> bool {
    token.starts_with("lpk_")
}

/// A fresh Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64.
pub fn generate_webhook_secret() -> String {
    use base64::Engine;
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The stable id of a series (series are named on lessons, not stored on their own): the first
/// 16 hex digits of the SHA-256 of its name. Used in OAI-PMH set specs and podcast feed URLs.
pub fn series_id(name: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(name.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_admit_what_matches_every_given_list() {
        let none = Filters::default();
        assert!(none.admit("video", &[], None));
        let f = Filters::parse(
            &["audio".into(), "audio".into()],
            &["党史".into()],
            &["乡村振兴".into()],
        )
        .unwrap();
        assert_eq!(f.kinds, vec!["audio"]);
        let tags = vec!["党史".to_string(), "其他".to_string()];
        assert!(f.admit("audio", &tags, Some("乡村振兴")));
        assert!(!f.admit("video", &tags, Some("乡村振兴")));
        assert!(!f.admit("audio", &["其他".into()], Some("乡村振兴")));
        assert!(!f.admit("audio", &tags, None));
        assert!(Filters::parse(&["film".into()], &[], &[]).is_err());
        assert!(Filters::parse(&[], &[], &["".into()]).is_err());
    }

    #[test]
    fn webhook_urls_must_be_plain_http_or_https() {
        assert!(webhook_url("https://tv.example.cn/hooks/lectern?x=1").is_ok());
        assert!(webhook_url("http://127.0.0.1:9000/h").is_ok());
        for bad in [
            "ftp://x/",
            "https://",
            "https://user:pw@host/",
            "javascript:alert(1)",
            "https://a b/",
            "/relative",
        ] {
            assert!(webhook_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_and_secrets_are_random_and_recognisable() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert!(is_key(&a) && a.len() == 68);
        assert!(!is_key("lct_00"));
        assert!(generate_webhook_secret().starts_with("whsec_"));
    }
}
