//! Lessons: the unit of the catalogue, with the validated values that describe one.

use super::Invalid;
use serde::{Deserialize, Serialize};

/// What a lesson is, which decides the media its master asset may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LessonKind {
    Video,
    Audio,
    Document,
}

impl LessonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "video" => Ok(Self::Video),
            "audio" => Ok(Self::Audio),
            "document" => Ok(Self::Document),
            _ => Err(Invalid::new(
                "kind",
                "must be one of video, audio, document",
            )),
        }
    }
}

/// Where a lesson is in its life. The review workflow keeps the steps between draft and
/// published on the lesson's revisions (`RevisionState`); these three are the ones the outside
/// world can tell apart. Stored and sent as `draft`, `published`, `withdrawn`; a stored value
/// that is none of them is an error when it is read (see `db::states`), never a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LessonStatus {
    Draft,
    Published,
    Withdrawn,
}

impl LessonStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "draft" => Ok(Self::Draft),
            "published" => Ok(Self::Published),
            "withdrawn" => Ok(Self::Withdrawn),
            _ => Err(Invalid::new(
                "status",
                "must be one of draft, published, withdrawn",
            )),
        }
    }
}

/// Where a revision of a lesson is in review: edited as a `draft`, `submitted` for review,
/// `approved` at every level of its chain or `rejected` at one, `published` when it went live,
/// `superseded` when a newer revision went live first. Stored and sent as these words; like
/// [`LessonStatus`], an unknown stored value is an error when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RevisionState {
    Draft,
    Submitted,
    Approved,
    Rejected,
    Published,
    Superseded,
}

impl RevisionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Published => "published",
            Self::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "draft" => Ok(Self::Draft),
            "submitted" => Ok(Self::Submitted),
            "approved" => Ok(Self::Approved),
            "rejected" => Ok(Self::Rejected),
            "published" => Ok(Self::Published),
            "superseded" => Ok(Self::Superseded),
            _ => Err(Invalid::new(
                "state",
                "must be one of draft, submitted, approved, rejected, published, superseded",
            )),
        }
    }

    /// Whether the revision can be submitted (again): it is being edited or was sent back.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Draft | Self::Rejected)
    }
}

/// Where a recommendation upward stands: awaiting the organisation recommended to, or decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecommendationState {
    Pending,
    Adopted,
    Declined,
}

impl RecommendationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Adopted => "adopted",
            Self::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "pending" => Ok(Self::Pending),
            "adopted" => Ok(Self::Adopted),
            "declined" => Ok(Self::Declined),
            _ => Err(Invalid::new(
                "state",
                "must be pending, adopted or declined",
            )),
        }
    }
}

impl std::fmt::Display for RevisionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for LessonStatus {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for LessonStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a free-text field: trimmed, not empty when required, bounded in characters, and free of
/// control characters other than line breaks and tabs (which only `multiline` fields may hold).
fn text(
    field: &'static str,
    value: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, Invalid> {
    let value = value.trim();
    if value.chars().count() > max_chars {
        return Err(Invalid::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if !value.chars().all(allowed) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    // Noncharacters (U+FFFE and the like), whichever way the text arrived (the command line
    // too): they would make every XML feed carrying the lesson unreadable.
    super::text::check(field, value)?;
    Ok(value.to_owned())
}

/// A lesson's title: 1–200 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = text("title", s, 200, false)?;
        if t.is_empty() {
            return Err(Invalid::new("title", "must not be empty"));
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses an optional one-line name such as a lecturer or a series: empty means absent.
pub fn optional_name(field: &'static str, s: Option<&str>) -> Result<Option<String>, Invalid> {
    match s {
        None => Ok(None),
        Some(s) => {
            let t = text(field, s, 100, false)?;
            Ok((!t.is_empty()).then_some(t))
        }
    }
}

/// Parses a description: up to 10,000 characters, line breaks allowed.
pub fn description(s: &str) -> Result<String, Invalid> {
    text("description", s, 10_000, true)
}

/// Parses tags: at most 50, each 1–50 characters on one line, duplicates removed, order kept.
pub fn tags(values: &[String]) -> Result<Vec<String>, Invalid> {
    if values.len() > 50 {
        return Err(Invalid::new("tags", "at most 50 tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let t = text("tags", v, 50, false)?;
        if t.is_empty() {
            return Err(Invalid::new("tags", "a tag must not be empty"));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// A BCP 47-like language tag such as `zh-CN` or `en`: letters, digits and hyphens, 2–35 long.
pub fn language(s: &str) -> Result<String, Invalid> {
    let ok = (2..=35).contains(&s.len())
        && s.split('-')
            .all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Invalid::new(
            "language",
            "must be a language tag such as zh-CN or en",
        ))
    }
}

/// The earliest date a lesson can carry: nothing in the catalogue was recorded before.
pub const EARLIEST_DATE: time::Date = time::macros::date!(1900 - 01 - 01);
/// The latest date a lesson can carry (a scheduled recording, not a typing slip of a century).
pub const LATEST_DATE: time::Date = time::macros::date!(2100 - 12 - 31);

/// A calendar date `YYYY-MM-DD` between [`EARLIEST_DATE`] and [`LATEST_DATE`], as when a lecture
/// was recorded. Exactly four digits of year: the parser alone would take `-2024-01-01` and
/// `0000-01-01`, which downstream formats (OAI-PMH's `dc:date`, W3CDTF) cannot carry.
pub fn date(field: &'static str, s: &str) -> Result<String, Invalid> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let shaped = s.len() == 10 && s.as_bytes().first().is_some_and(u8::is_ascii_digit);
    let parsed = time::Date::parse(s, &format)
        .ok()
        .filter(|_| shaped)
        .ok_or_else(|| Invalid::new(field, "must be a date YYYY-MM-DD"))?;
    if !(EARLIEST_DATE..=LATEST_DATE).contains(&parsed) {
        return Err(Invalid::new(
            field,
            "must be a date between 1900-01-01 and 2100-12-31",
        ));
    }
    Ok(s.to_owned())
}

/// A six-digit administrative division code of GB/T 2260, e.g. `110105` (北京市朝阳区).
///
/// The structure is checked: six digits; a province prefix that exists (11–15, 21–23, 31–37, 41–46,
/// 50–54, 61–65, 71, 81, 82); a city part and a county part that are `00` only from the right (a
/// province code ends in `0000`, a prefecture code in `00`). The full table of names arrives with
/// search, which needs it for display; the structure is what keeps garbage out of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionCode(String);

const PROVINCES: &[u8] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

impl RegionCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let err = || {
            Invalid::new(
                "region_code",
                "must be a six-digit GB/T 2260 administrative code",
            )
        };
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let province: u8 = s[0..2].parse().map_err(|_| err())?;
        if !PROVINCES.contains(&province) {
            return Err(Invalid::new(
                "region_code",
                format!("{province:02} is not a province code"),
            ));
        }
        if &s[2..4] == "00" && &s[4..6] != "00" {
            return Err(err());
        }
        // Well formed is not enough: a code no division has would file a lesson nowhere, and a
        // search filtered on it would quietly find nothing.
        if crate::domain::region::name(s).is_none() {
            return Err(Invalid::new(
                "region_code",
                format!("{s} is not a division in GB/T 2260"),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix shared by this region and every region below it: `11` for `110000`,
    /// `1101` for `110100`, the whole code for a county.
    pub fn subtree_prefix(&self) -> &str {
        if self.0.ends_with("0000") {
            &self.0[..2]
        } else if self.0.ends_with("00") {
            &self.0[..4]
        } else {
            &self.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_follow_the_structure() {
        assert!(RegionCode::parse("110105").is_ok());
        assert!(RegionCode::parse("440300").is_ok());
        assert!(RegionCode::parse("510000").is_ok());
        assert!(RegionCode::parse("990000").is_err());
        assert!(RegionCode::parse("11010").is_err());
        assert!(RegionCode::parse("11010a").is_err());
        assert!(RegionCode::parse("110001").is_err());
        // Well formed, but no division has it.
        assert!(RegionCode::parse("449901").is_err());
        assert!(RegionCode::parse("440199").is_err());
        assert!(RegionCode::parse("１１０１０５").is_err());
    }

    #[test]
    fn region_subtree_prefix_depends_on_level() {
        assert_eq!(RegionCode::parse("110000").unwrap().subtree_prefix(), "11");
        assert_eq!(
            RegionCode::parse("110100").unwrap().subtree_prefix(),
            "1101"
        );
        assert_eq!(
            RegionCode::parse("110105").unwrap().subtree_prefix(),
            "110105"
        );
    }

    #[test]
    fn titles_are_trimmed_bounded_and_single_line() {
        assert_eq!(
            Title::parse("  党史学习教育  ").unwrap().as_str(),
            "党史学习教育"
        );
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse("a\nb").is_err());
        assert!(Title::parse(&"字".repeat(200)).is_ok());
        assert!(Title::parse(&"字".repeat(201)).is_err());
    }

    #[test]
    fn tags_are_deduplicated_and_checked() {
        let t = tags(&["党史".into(), "党史".into(), "e支部".into()]).unwrap();
        assert_eq!(t, vec!["党史", "e支部"]);
        assert!(tags(&["".into()]).is_err());
        assert!(tags(&vec!["x".to_string(); 51]).is_err());
    }

    #[test]
    fn dates_and_languages_are_checked() {
        assert!(date("recorded_on", "2021-07-01").is_ok());
        assert!(date("recorded_on", "2021-02-30").is_err());
        for out_of_range in [
            "-2024-01-01",
            "0000-01-01",
            "1899-12-31",
            "2101-01-01",
            "+2024-01-01",
            "20240-01-01",
        ] {
            assert!(date("recorded_on", out_of_range).is_err(), "{out_of_range}");
        }
        assert!(date("recorded_on", "1900-01-01").is_ok());
        assert!(date("recorded_on", "2100-12-31").is_ok());
        assert!(language("zh-CN").is_ok());
        assert!(language("zh CN").is_err());
    }
}

/// Everything an editor sets on a lesson, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonFields {
    pub title: Title,
    pub description: String,
    pub kind: LessonKind,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    pub region_code: Option<RegionCode>,
    pub recorded_on: Option<String>,
    pub language: String,
    pub tags: Vec<String>,
}
