//! Assets: the files attached to a lesson, and the rule that decides which bytes may become one.
//!
//! The type of a file is decided by its bytes, not by its name: the first bytes are sniffed
//! (`infer`), the name's extension must agree with what was sniffed, and the pair must be on the
//! allow-list of the asset's role. Markup (HTML, SVG, XML) and executables are never accepted,
//! whatever they are called, because a browser could be tricked into running them.

use super::Invalid;
use super::lesson::LessonKind;
use serde::{Deserialize, Serialize};

/// How many leading bytes the sniffer looks at. Uploads gather at least this much (or the
/// whole file, if shorter) before deciding.
pub const SNIFF_LEN: usize = 8192;

/// How a browser is told to treat an asset's bytes (`Content-Disposition`): shown in the page,
/// or only saved. Decided from the sniffed type when the file is stored (`Sniffed::download`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Inline,
    Attachment,
}

impl Disposition {
    /// `attachment` for a type to download, `inline` for one a browser may show.
    pub fn for_download(download: bool) -> Self {
        if download {
            Self::Attachment
        } else {
            Self::Inline
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::Attachment => "attachment",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "inline" => Ok(Self::Inline),
            "attachment" => Ok(Self::Attachment),
            _ => Err(Invalid::new(
                "disposition",
                "must be one of inline, attachment",
            )),
        }
    }
}

/// How extracting a content's text for search ended, as stored. An `ok` extraction may carry
/// a note of what was left out (a PDF page over the token budget): the rest is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractionStatus {
    Ok,
    Failed,
}

impl ExtractionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "ok" => Ok(Self::Ok),
            "failed" => Ok(Self::Failed),
            _ => Err(Invalid::new("status", "must be one of ok, failed")),
        }
    }
}

/// What an asset is for within its lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssetRole {
    Master,
    Subtitle,
    Attachment,
    Poster,
}

impl AssetRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Subtitle => "subtitle",
            Self::Attachment => "attachment",
            Self::Poster => "poster",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "master" => Ok(Self::Master),
            "subtitle" => Ok(Self::Subtitle),
            "attachment" => Ok(Self::Attachment),
            "poster" => Ok(Self::Poster),
            _ => Err(Invalid::new(
                "role",
                "must be one of master, subtitle, attachment, poster",
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Video,
    Audio,
    Document,
    Image,
    Subtitle,
    Text,
    Archive,
}

/// How the bytes of a format are recognised.
#[derive(Debug, Clone, Copy)]
enum Signature {
    /// `infer` must report one of these types.
    Sniffed(&'static [&'static str]),
    /// UTF-8 text without markup; `prefix`, when given, must open the file (after a BOM).
    Text { prefix: Option<&'static str> },
}

struct Format {
    extensions: &'static [&'static str],
    family: Family,
    signature: Signature,
}

const fn sniffed(
    extensions: &'static [&'static str],
    family: Family,
    types: &'static [&'static str],
) -> Format {
    Format {
        extensions,
        family,
        signature: Signature::Sniffed(types),
    }
}

const fn text(
    extensions: &'static [&'static str],
    family: Family,
    prefix: Option<&'static str>,
) -> Format {
    Format {
        extensions,
        family,
        signature: Signature::Text { prefix },
    }
}

/// The allow-list: every format Lectern accepts, by extension, with how its bytes are recognised.
const FORMATS: &[Format] = &[
    sniffed(
        &["mp4", "m4v"],
        Family::Video,
        &["video/mp4", "video/x-m4v", "video/quicktime"],
    ),
    sniffed(&["mov"], Family::Video, &["video/quicktime", "video/mp4"]),
    sniffed(&["mkv"], Family::Video, &["video/x-matroska"]),
    sniffed(
        &["webm"],
        Family::Video,
        &["video/webm", "video/x-matroska"],
    ),
    sniffed(&["avi"], Family::Video, &["video/x-msvideo"]),
    sniffed(&["wmv"], Family::Video, &["video/x-ms-wmv"]),
    sniffed(&["mpg", "mpeg"], Family::Video, &["video/mpeg"]),
    sniffed(&["flv"], Family::Video, &["video/x-flv"]),
    sniffed(&["mp3"], Family::Audio, &["audio/mpeg"]),
    sniffed(&["m4a"], Family::Audio, &["audio/m4a", "video/mp4"]),
    sniffed(&["aac"], Family::Audio, &["audio/aac"]),
    sniffed(&["wav"], Family::Audio, &["audio/x-wav"]),
    sniffed(&["ogg", "oga"], Family::Audio, &["audio/ogg", "audio/opus"]),
    sniffed(&["opus"], Family::Audio, &["audio/opus", "audio/ogg"]),
    sniffed(&["flac"], Family::Audio, &["audio/x-flac"]),
    sniffed(&["amr"], Family::Audio, &["audio/amr"]),
    sniffed(&["pdf"], Family::Document, &["application/pdf"]),
    sniffed(
        &["doc"],
        Family::Document,
        &["application/msword", "application/x-ole-storage"],
    ),
    sniffed(
        &["xls"],
        Family::Document,
        &["application/vnd.ms-excel", "application/x-ole-storage"],
    ),
    sniffed(
        &["ppt"],
        Family::Document,
        &["application/vnd.ms-powerpoint", "application/x-ole-storage"],
    ),
    sniffed(
        &["docx"],
        Family::Document,
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
    ),
    sniffed(
        &["xlsx"],
        Family::Document,
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
    ),
    sniffed(
        &["pptx"],
        Family::Document,
        &["application/vnd.openxmlformats-officedocument.presentationml.presentation"],
    ),
    sniffed(
        &["odt"],
        Family::Document,
        &["application/vnd.oasis.opendocument.text"],
    ),
    sniffed(
        &["ods"],
        Family::Document,
        &["application/vnd.oasis.opendocument.spreadsheet"],
    ),
    sniffed(
        &["odp"],
        Family::Document,
        &["application/vnd.oasis.opendocument.presentation"],
    ),
    sniffed(&["epub"], Family::Document, &["application/epub+zip"]),
    sniffed(&["jpg", "jpeg"], Family::Image, &["image/jpeg"]),
    sniffed(&["png"], Family::Image, &["image/png"]),
    sniffed(&["webp"], Family::Image, &["image/webp"]),
    sniffed(&["gif"], Family::Image, &["image/gif"]),
    sniffed(&["zip"], Family::Archive, &["application/zip"]),
    text(&["vtt"], Family::Subtitle, Some("WEBVTT")),
    text(&["srt"], Family::Subtitle, None),
    text(&["ass", "ssa"], Family::Subtitle, None),
    text(&["txt"], Family::Text, None),
    text(&["md"], Family::Text, None),
    text(&["csv"], Family::Text, None),
];

/// Which families a role accepts; a master must also match the lesson's kind.
fn accepts(role: AssetRole, kind: LessonKind, family: Family) -> bool {
    match role {
        AssetRole::Master => matches!(
            (kind, family),
            (LessonKind::Video, Family::Video)
                | (LessonKind::Audio, Family::Audio)
                | (LessonKind::Document, Family::Document)
        ),
        AssetRole::Subtitle => family == Family::Subtitle,
        AssetRole::Poster => family == Family::Image,
        AssetRole::Attachment => matches!(
            family,
            Family::Document | Family::Image | Family::Text | Family::Archive | Family::Subtitle
        ),
    }
}

/// Checks, before any byte arrives, that a file named with `extension` may be a `role` asset of
/// a lesson of `kind`.
pub fn admit_name(
    extension: Option<&str>,
    role: AssetRole,
    kind: LessonKind,
) -> Result<(), Refused> {
    admitted_format(extension.ok_or(Refused::NoExtension)?, role, kind).map(|_| ())
}

fn admitted_format(
    ext: &str,
    role: AssetRole,
    kind: LessonKind,
) -> Result<&'static Format, Refused> {
    let format = FORMATS
        .iter()
        .find(|f| f.extensions.contains(&ext))
        .ok_or_else(|| Refused::Extension(ext.to_owned()))?;
    if !accepts(role, kind, format.family) {
        return Err(Refused::Role {
            role: role.as_str(),
            kind: kind.as_str(),
            ext: ext.to_owned(),
        });
    }
    Ok(format)
}

/// The verdict on an upload's first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// The media type the asset is stored and served with.
    pub content_type: String,
    /// Whether a browser should be told to download rather than display it.
    pub download: bool,
}

/// Why an upload's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("files named .{0} are not accepted; see the list of accepted formats")]
    Extension(String),
    #[error("a filename with an extension is needed to decide what the file is")]
    NoExtension,
    #[error("{role} assets of a {kind} lesson cannot be .{ext} files")]
    Role {
        role: &'static str,
        kind: &'static str,
        ext: String,
    },
    #[error("the content is {found}, which does not match the name .{ext}")]
    Mismatch { found: String, ext: String },
    #[error("the content is not a .{0} file")]
    Unrecognised(String),
    #[error("the file is empty")]
    Empty,
}

/// Decides whether `head` (the first [`SNIFF_LEN`] bytes, or the whole file if shorter) may be
/// stored as a `role` asset named with `extension` on a lesson of `kind`.
pub fn sniff(
    head: &[u8],
    extension: Option<&str>,
    role: AssetRole,
    kind: LessonKind,
) -> Result<Sniffed, Refused> {
    let ext = extension.ok_or(Refused::NoExtension)?;
    let format = admitted_format(ext, role, kind)?;
    if head.is_empty() {
        return Err(Refused::Empty);
    }
    let detected = infer::get(head).map(|t| t.mime_type());
    match format.signature {
        Signature::Sniffed(types) => match detected {
            Some(found) if types.contains(&found) => {}
            // `infer` knows an Office file only when `[Content_Types].xml` comes first, as
            // Microsoft Office writes it; LibreOffice and WPS write it last.
            Some("application/zip") if office_zip(head, ext) => {}
            Some(found) => {
                return Err(Refused::Mismatch {
                    found: found.to_owned(),
                    ext: ext.to_owned(),
                });
            }
            None => return Err(Refused::Unrecognised(ext.to_owned())),
        },
        Signature::Text { prefix } => {
            if let Some(found) = detected {
                return Err(Refused::Mismatch {
                    found: found.to_owned(),
                    ext: ext.to_owned(),
                });
            }
            let plain = if format.family == Family::Subtitle {
                subtitle_text(head, ext, prefix)
            } else {
                is_plain_text(head, prefix).then_some("UTF-8")
            };
            let Some(encoding) = plain else {
                return Err(Refused::Unrecognised(ext.to_owned()));
            };
            if let Some(f) = super::subtitle::SubtitleFormat::from_extension(ext) {
                return Ok(Sniffed {
                    content_type: f.content_type(encoding),
                    download: true,
                });
            }
        }
    }
    let content_type = match ext {
        "txt" | "md" | "csv" => {
            let essence = mime_guess::from_ext(ext).first_or_text_plain();
            format!("{essence}; charset=utf-8")
        }
        _ => mime_guess::from_ext(ext)
            .first_or_octet_stream()
            .to_string(),
    };
    let download = !matches!(format.family, Family::Video | Family::Audio | Family::Image);
    Ok(Sniffed {
        content_type,
        download,
    })
}

/// Whether `head`, the start of a zip archive, holds a part that only an Office Open XML file
/// of extension `ext` has (`word/…` for .docx, `ppt/…` for .pptx, `xl/…` for .xlsx), by the
/// names in its local file headers.
fn office_zip(head: &[u8], ext: &str) -> bool {
    let folder: &[u8] = match ext {
        "docx" => b"word/",
        "pptx" => b"ppt/",
        "xlsx" => b"xl/",
        _ => return false,
    };
    let mut at = 0;
    while let Some(found) = head[at..].windows(4).position(|w| w == b"PK\x03\x04") {
        let header = at + found;
        let name_len = head
            .get(header + 26..header + 28)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        if let Some(name) = name_len.and_then(|n| head.get(header + 30..header + 30 + n))
            && name.starts_with(folder)
        {
            return true;
        }
        at = header + 4;
    }
    false
}

/// The encoding of `head`, the start of a subtitle file, when it is text that does not open with
/// markup: decoded by the one rule (`text::decode`; UTF-16 with a byte order mark and GB18030
/// are common for subtitles), where a character cut at the end of the sample is fine, and free of
/// NUL. `prefix`, when given, must open the text, and the sample must look like its format (a
/// `-->` of an SRT timing line, the `[` of an ASS section). The whole file is checked again when it is
/// imported as a subtitle (`subtitle::read`).
fn subtitle_text(head: &[u8], ext: &str, prefix: Option<&str>) -> Option<&'static str> {
    // A UTF-8 character cut by the end of the sample would make the sample invalid UTF-8 and
    // send it to GB18030: decode only what comes before it.
    let head = match std::str::from_utf8(head) {
        Err(e)
            if e.error_len().is_none()
                && head.len() >= SNIFF_LEN
                && !head.starts_with(&[0xFF, 0xFE])
                && !head.starts_with(&[0xFE, 0xFF]) =>
        {
            &head[..e.valid_up_to()]
        }
        _ => head,
    };
    let decoded = super::text::decode(head);
    let mut text = decoded.text.as_str();
    if decoded.malformed {
        if head.len() < SNIFF_LEN {
            return None;
        }
        // A multi-byte character cut by the end of the sample decodes as one U+FFFD at the end.
        text = text.strip_suffix('\u{FFFD}')?;
        if text.contains('\u{FFFD}') {
            return None;
        }
    }
    if text.contains('\0') {
        return None;
    }
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with('<') || !prefix.is_none_or(|p| start.starts_with(p)) {
        return None;
    }
    // What every file of the format shows early: a SubRip timing line, an ASS section header.
    let shows_format = match ext {
        "srt" => text.contains("-->"),
        "ass" | "ssa" => start.starts_with('['),
        _ => true,
    };
    shows_format.then_some(decoded.encoding)
}

/// UTF-8 (a character cut at the end of the sample is fine), no NUL, and not opening with markup.
fn is_plain_text(head: &[u8], prefix: Option<&str>) -> bool {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() && head.len() >= SNIFF_LEN => {
            // The sample ends inside a character; what came before is valid.
            std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    if text.contains('\0') {
        return false;
    }
    let start = text.trim_start();
    if start.starts_with('<') {
        return false;
    }
    prefix.is_none_or(|p| start.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free";

    #[test]
    fn a_real_mp4_signature_is_a_video() {
        let s = sniff(MP4, Some("mp4"), AssetRole::Master, LessonKind::Video).unwrap();
        assert_eq!(s.content_type, "video/mp4");
        assert!(!s.download);
    }

    #[test]
    fn html_renamed_mp4_is_refused() {
        let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
        let err = sniff(html, Some("mp4"), AssetRole::Master, LessonKind::Video).unwrap_err();
        assert!(
            matches!(err, Refused::Mismatch { .. } | Refused::Unrecognised(_)),
            "{err:?}"
        );
    }

    #[test]
    fn markup_is_never_text() {
        assert!(
            sniff(
                b"<svg onload=alert(1)>",
                Some("txt"),
                AssetRole::Attachment,
                LessonKind::Video
            )
            .is_err()
        );
        assert!(
            sniff(
                b"  <html>",
                Some("srt"),
                AssetRole::Subtitle,
                LessonKind::Video
            )
            .is_err()
        );
        assert!(sniff(b"x", Some("html"), AssetRole::Attachment, LessonKind::Video).is_err());
        assert!(sniff(b"x", Some("svg"), AssetRole::Poster, LessonKind::Video).is_err());
    }

    #[test]
    fn executables_are_refused_under_any_name() {
        let elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        assert!(sniff(elf, Some("txt"), AssetRole::Attachment, LessonKind::Video).is_err());
        assert!(sniff(elf, Some("mp4"), AssetRole::Master, LessonKind::Video).is_err());
    }

    #[test]
    fn subtitles_are_checked_as_text() {
        let vtt = "WEBVTT\n\n00:00.000 --> 00:01.000\n同志们好\n".as_bytes();
        let s = sniff(vtt, Some("vtt"), AssetRole::Subtitle, LessonKind::Video).unwrap();
        assert_eq!(s.content_type, "text/vtt; charset=utf-8");
        let (gb, _, _) =
            encoding_rs::GB18030.encode("1\n00:00:01,000 --> 00:00:02,000\n乡村振兴\n");
        let s = sniff(&gb, Some("srt"), AssetRole::Subtitle, LessonKind::Video).unwrap();
        assert_eq!(s.content_type, "application/x-subrip; charset=gb18030");
        let mut le = vec![0xff, 0xfe];
        le.extend("[Script Info]\n".encode_utf16().flat_map(u16::to_le_bytes));
        let s = sniff(&le, Some("ass"), AssetRole::Subtitle, LessonKind::Video).unwrap();
        assert_eq!(s.content_type, "text/x-ssa; charset=utf-16le");
        assert!(
            sniff(
                b"not a vtt",
                Some("vtt"),
                AssetRole::Subtitle,
                LessonKind::Video
            )
            .is_err()
        );
        assert!(
            sniff(
                b"\xff\xfe\x00bad",
                Some("srt"),
                AssetRole::Subtitle,
                LessonKind::Video
            )
            .is_err()
        );
    }

    #[test]
    fn a_master_must_match_the_lesson_kind() {
        assert!(matches!(
            sniff(MP4, Some("mp4"), AssetRole::Master, LessonKind::Audio),
            Err(Refused::Role { .. })
        ));
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
        let s = sniff(pdf, Some("pdf"), AssetRole::Master, LessonKind::Document).unwrap();
        assert_eq!(s.content_type, "application/pdf");
        assert!(s.download);
    }

    #[test]
    fn office_files_written_by_libreoffice_are_recognised() {
        let docx = include_bytes!("../../tests/fixtures/documents/lesson.docx");
        let pptx = include_bytes!("../../tests/fixtures/documents/lesson.pptx");
        let head = |b: &'static [u8]| &b[..b.len().min(SNIFF_LEN)];
        for (bytes, ext) in [(&docx[..], "docx"), (&pptx[..], "pptx")] {
            let s = sniff(
                head(bytes),
                Some(ext),
                AssetRole::Attachment,
                LessonKind::Video,
            )
            .unwrap();
            assert!(
                s.content_type.contains("openxmlformats"),
                "{}",
                s.content_type
            );
        }
        // A zip that is not that kind of Office file is still refused under its name.
        assert!(
            sniff(
                head(docx),
                Some("pptx"),
                AssetRole::Attachment,
                LessonKind::Video
            )
            .is_err()
        );
        let mut plain_zip = b"PK\x03\x04".to_vec();
        plain_zip.extend([0u8; 22]);
        plain_zip.extend(5u16.to_le_bytes());
        plain_zip.extend([0u8; 2]);
        plain_zip.extend(b"a.txt");
        plain_zip.extend([0u8; 64]);
        assert!(
            sniff(
                &plain_zip,
                Some("docx"),
                AssetRole::Attachment,
                LessonKind::Video
            )
            .is_err()
        );
    }
}
