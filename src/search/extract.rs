//! Text extraction for the search index: documents (PDF, DOCX, PPTX), plain text and subtitles
//! (SRT, WebVTT) become [`Segment`]s, each with where it was found (a page or slide, or a cue's
//! time span) so that a hit can be deep-linked.
//!
//! Everything here is pure and synchronous: bytes in, segments out, no I/O. The indexer runs it
//! on a blocking thread.
//!
//! Invariants, because every input is hostile until proven otherwise:
//! - [`extract`] never panics and never loops without bound. The PDF parser is third-party code
//!   known to panic on malformed files, so every extraction runs under
//!   [`std::panic::catch_unwind`] and a panic becomes [`ExtractError::Malformed`].
//! - Decompression is bounded: OOXML parts are read through a budget of
//!   [`MAX_UNPACKED_BYTES`] that is checked while inflating, not taken from the sizes the archive
//!   declares, and the Flate streams of a PDF are measured the same way before it is parsed.
//! - Parsing is bounded too: a PDF content stream is decoded into one value per token at once
//!   (hundreds of bytes each), so before it is decoded its tokens are counted by a cheap scan of
//!   its bytes, and a file whose content needs more than [`MAX_PDF_LIVE_TOKENS`] decoded at once,
//!   or more than [`MAX_PDF_TOKENS`] in all, is refused with [`ExtractError::TooComplex`].
//! - Output is bounded: at most [`MAX_OUTPUT_BYTES`] of text in at most [`MAX_SEGMENTS`]
//!   segments; anything beyond is cut off, not an error.
//! - Segment text has its whitespace collapsed to single spaces and trimmed, and is never empty.

use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use quick_xml::events::Event;

use crate::domain::subtitle::{self, SubtitleFormat};

/// The largest amount of text [`extract`] returns; more is cut off.
pub const MAX_OUTPUT_BYTES: usize = 4 * 1024 * 1024;
/// The largest number of segments [`extract`] returns; more are cut off.
pub const MAX_SEGMENTS: usize = 100_000;
/// The most bytes inflated from one OOXML package or from the streams of one PDF.
pub const MAX_UNPACKED_BYTES: u64 = 64 * 1024 * 1024;
/// The most tokens (operators and their operands) of PDF content streams decoded at one time:
/// a page's content and the forms it is drawing. lopdf decodes a whole content stream into one
/// value per token: measured, 500,000 operators without operands took a process to 300 MB
/// (about 600 bytes each; `(A) Tj`, two tokens, about 300 bytes a token), and a probe's
/// 8,000,000 took 3 GB. A page of text has a few thousand tokens, a dense vector drawing tens of
/// thousands.
pub const MAX_PDF_LIVE_TOKENS: usize = 500_000;
/// The most tokens of PDF content streams decoded for one document: a bound on its time (about
/// 0.6 s per million), since the content of a form drawn by every page is decoded once per page.
pub const MAX_PDF_TOKENS: usize = 20_000_000;
/// The length, in characters, that chunked text (DOCX, plain text) is gathered into.
const CHUNK_CHARS: usize = 2000;

const MIB: u64 = 1024 * 1024;
/// The reason given when a parser panicked.
const PANICKED: &str = "the parser gave up on malformed input";

/// A kind of file that text can be extracted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Docx,
    Pptx,
    Text,
    Srt,
    Vtt,
    /// ASS/SSA subtitles (their `Dialogue:` lines).
    Ass,
}

impl Format {
    /// The format of an asset from its stored content type (parameters such as `charset` are
    /// ignored) and its filename's extension, or `None` when no text can be extracted from it.
    ///
    /// A specific content type wins. The extension decides only where the content type is
    /// generic: `text/plain` (subtitles are often stored as plain text), and
    /// `application/octet-stream`, `application/zip` or nothing at all (a DOCX is a zip file to
    /// a sniffer).
    pub fn detect(content_type: &str, filename: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let extension = filename
            .rsplit_once('.')
            .map(|(_, ext)| ext.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let by_extension = match extension.as_str() {
            "pdf" => Some(Format::Pdf),
            "docx" => Some(Format::Docx),
            "pptx" => Some(Format::Pptx),
            "srt" => Some(Format::Srt),
            "vtt" => Some(Format::Vtt),
            "ass" | "ssa" => Some(Format::Ass),
            "txt" | "text" | "md" => Some(Format::Text),
            _ => None,
        };
        match essence.as_str() {
            "application/pdf" | "application/x-pdf" => Some(Format::Pdf),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                Some(Format::Docx)
            }
            "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
                Some(Format::Pptx)
            }
            "text/vtt" => Some(Format::Vtt),
            "text/x-ssa" | "text/x-ass" => Some(Format::Ass),
            "application/x-subrip" | "application/srt" | "text/srt" | "text/x-srt" => {
                Some(Format::Srt)
            }
            "text/plain" => match by_extension {
                Some(Format::Srt) => Some(Format::Srt),
                Some(Format::Vtt) => Some(Format::Vtt),
                Some(Format::Ass) => Some(Format::Ass),
                _ => Some(Format::Text),
            },
            "text/markdown" => Some(Format::Text),
            "" | "application/octet-stream" => by_extension,
            "application/zip" | "application/x-zip-compressed" => {
                by_extension.filter(|f| matches!(f, Format::Docx | Format::Pptx))
            }
            _ => None,
        }
    }

    /// A short lower-case name, as stored with extracted text.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Pptx => "pptx",
            Format::Text => "text",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Ass => "ass",
        }
    }

    /// The format named by [`Format::as_str`].
    pub fn from_name(name: &str) -> Option<Format> {
        [
            Format::Pdf,
            Format::Docx,
            Format::Pptx,
            Format::Text,
            Format::Srt,
            Format::Vtt,
            Format::Ass,
        ]
        .into_iter()
        .find(|f| f.as_str() == name)
    }

    /// The largest input [`extract`] accepts for this format. Callers should not even read a
    /// larger file into memory.
    pub fn max_input_bytes(self) -> u64 {
        match self {
            Format::Pdf | Format::Docx | Format::Pptx => 64 * MIB,
            Format::Text | Format::Srt | Format::Vtt | Format::Ass => {
                crate::domain::subtitle::MAX_SUBTITLE_BYTES
            }
        }
    }
}

/// Text found at one place of a file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// The 1-based page of a PDF or slide of a presentation.
    pub page: Option<u32>,
    /// The start of a subtitle cue, in milliseconds.
    pub start_ms: Option<i64>,
    /// The end of a subtitle cue, in milliseconds.
    pub end_ms: Option<i64>,
    /// The text, whitespace collapsed; never empty.
    pub text: String,
}

/// Why no text could be extracted from a file.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("the {format} file is {size} bytes, more than the {limit} bytes accepted")]
    TooLarge {
        format: &'static str,
        size: u64,
        limit: u64,
    },
    #[error("the {format} file unpacks to more than {limit} bytes")]
    UnpackedTooLarge { format: &'static str, limit: u64 },
    #[error("the {format} file is malformed: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("the {format} file has no {part}")]
    MissingPart { format: &'static str, part: String },
    #[error("the PDF file is encrypted")]
    Encrypted,
    #[error("the {format} file's content has more than {limit} {what}, the most read for its text")]
    TooComplex {
        format: &'static str,
        limit: usize,
        what: &'static str,
    },
}

impl ExtractError {
    fn malformed(format: Format, reason: impl ToString) -> Self {
        ExtractError::Malformed {
            format: format.as_str(),
            reason: reason.to_string(),
        }
    }
}

/// Extracts the text of a file, see the module documentation for the guarantees.
///
/// - PDF: one segment per page that has text, `page` = the 1-based page number.
/// - PPTX: one segment per slide that has text, in the presentation's order, `page` = the
///   slide's number.
/// - DOCX and plain text: paragraphs (lines) gathered into segments of about 2,000 characters.
/// - SRT and WebVTT: one segment per cue, with its start and end; markup and cue settings are
///   dropped and character references decoded.
///
/// Text files may be UTF-8 (with or without a byte order mark), UTF-16 with a byte order mark,
/// or else are read as GB18030.
pub fn extract(format: Format, bytes: &[u8]) -> Result<Vec<Segment>, ExtractError> {
    extract_noting(format, bytes).map(|e| e.segments)
}

/// [`extract`], with the note of what was left out (see [`Extracted`]).
pub fn extract_noting(format: Format, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let limit = format.max_input_bytes();
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limit {
        return Err(ExtractError::TooLarge {
            format: format.as_str(),
            size,
            limit,
        });
    }
    // Only the PDF parser is known to panic, but a panic anywhere must not take the indexer's
    // thread down, so all formats run under the same guard.
    let run = AssertUnwindSafe(|| -> Result<Extracted, ExtractError> {
        let mut out = Output::default();
        match format {
            Format::Pdf => pdf::extract(bytes, &mut out)?,
            Format::Docx => ooxml::extract_docx(bytes, &mut out)?,
            Format::Pptx => ooxml::extract_pptx(bytes, &mut out)?,
            Format::Text => extract_text(bytes, &mut out),
            Format::Srt => extract_cues(SubtitleFormat::Srt, bytes, &mut out),
            Format::Vtt => extract_cues(SubtitleFormat::Vtt, bytes, &mut out),
            Format::Ass => extract_cues(SubtitleFormat::Ass, bytes, &mut out),
        }
        Ok(Extracted {
            segments: out.segments,
            left_out: out.left_out,
        })
    });
    catch_unwind(run).unwrap_or_else(|_| Err(ExtractError::malformed(format, PANICKED)))
}

/// The segments gathered so far, and the budget left.
#[derive(Default)]
struct Output {
    segments: Vec<Segment>,
    bytes: usize,
    /// What was left out of the text and why (a PDF page over the token budget).
    left_out: Option<String>,
}

/// The text of a file: its segments, and what was left out of them and why, if anything was
/// (the rest is indexed; the note is shown to editors).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extracted {
    pub segments: Vec<Segment>,
    pub left_out: Option<String>,
}

impl Output {
    fn is_full(&self) -> bool {
        self.segments.len() >= MAX_SEGMENTS || self.bytes >= MAX_OUTPUT_BYTES
    }

    /// Adds a segment of normalised text, cut to the budget left. Empty text adds nothing.
    fn push(&mut self, page: Option<u32>, start_ms: Option<i64>, end_ms: Option<i64>, text: &str) {
        if self.is_full() {
            return;
        }
        let mut text = normalize(text);
        let room = MAX_OUTPUT_BYTES - self.bytes;
        if text.len() > room {
            let cut = floor_char_boundary(&text, room);
            text.truncate(cut);
            text.truncate(text.trim_end().len());
        }
        if text.is_empty() {
            return;
        }
        self.bytes += text.len();
        self.segments.push(Segment {
            page,
            start_ms,
            end_ms,
            text,
        });
    }
}

/// The largest index `<= at` that falls on a character boundary of `s`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// Collapses every run of whitespace to one space and trims the ends.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Decodes a text file by the one rule every reader of text files shares
/// ([`crate::domain::text::decode`]).
fn decode_text(bytes: &[u8]) -> String {
    crate::domain::text::decode(bytes).text
}

/// The cues of a subtitle file, read leniently by the one subtitle parser
/// ([`crate::domain::subtitle::parse`]): a cue whose timing does not parse is skipped.
fn extract_cues(format: SubtitleFormat, bytes: &[u8], out: &mut Output) {
    for cue in subtitle::parse(format, &decode_text(bytes)).cues {
        if out.is_full() {
            return;
        }
        out.push(None, Some(cue.start_ms), Some(cue.end_ms), &cue.text);
    }
}

/// Plain text: lines gathered into chunks of about [`CHUNK_CHARS`] characters.
fn extract_text(bytes: &[u8], out: &mut Output) {
    let text = decode_text(bytes);
    let mut chunks = Chunker::default();
    for line in text.lines() {
        chunks.add(line, out);
        if out.is_full() {
            return;
        }
    }
    chunks.finish(out);
}

/// Gathers paragraphs into segments of about [`CHUNK_CHARS`] characters, split only between
/// paragraphs unless one paragraph alone is longer.
#[derive(Default)]
struct Chunker {
    current: String,
    chars: usize,
}

impl Chunker {
    fn add(&mut self, paragraph: &str, out: &mut Output) {
        let paragraph = normalize(paragraph);
        if paragraph.is_empty() {
            return;
        }
        let len = paragraph.chars().count();
        if self.chars > 0 && self.chars + 1 + len > CHUNK_CHARS {
            self.flush(out);
        }
        if len > CHUNK_CHARS {
            let chars: Vec<char> = paragraph.chars().collect();
            for piece in chars.chunks(CHUNK_CHARS) {
                if out.is_full() {
                    return;
                }
                out.push(None, None, None, &piece.iter().collect::<String>());
            }
            return;
        }
        if self.chars > 0 {
            self.current.push(' ');
            self.chars += 1;
        }
        self.current.push_str(&paragraph);
        self.chars += len;
    }

    fn flush(&mut self, out: &mut Output) {
        if self.chars > 0 {
            out.push(None, None, None, &self.current);
        }
        self.current.clear();
        self.chars = 0;
    }

    fn finish(mut self, out: &mut Output) {
        self.flush(out);
    }
}

/// Office Open XML packages: DOCX and PPTX.
mod ooxml {
    use quick_xml::XmlVersion;

    use super::{Chunker, Cursor, Event, ExtractError, Format, MAX_UNPACKED_BYTES, Output, Read};

    const OFFICE_DOCUMENT: &str =
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument";

    /// A zip archive read through a budget of inflated bytes shared by all parts.
    struct Package<'a> {
        format: Format,
        zip: zip::ZipArchive<Cursor<&'a [u8]>>,
        budget: u64,
    }

    impl<'a> Package<'a> {
        fn open(format: Format, bytes: &'a [u8]) -> Result<Self, ExtractError> {
            let zip = zip::ZipArchive::new(Cursor::new(bytes))
                .map_err(|e| ExtractError::malformed(format, e))?;
            Ok(Self {
                format,
                zip,
                budget: MAX_UNPACKED_BYTES,
            })
        }

        /// The part at `name` (part names are case-insensitive), or `None` when there is none.
        fn part(&mut self, name: &str) -> Result<Option<String>, ExtractError> {
            let name = name.trim_start_matches('/');
            let index = self.zip.index_for_name(name).or_else(|| {
                let found = self
                    .zip
                    .file_names_raw()
                    .find(|n| n.eq_ignore_ascii_case(name.as_bytes()))?
                    .to_owned();
                self.zip.index_for_name_raw(&found)
            });
            let Some(index) = index else {
                return Ok(None);
            };
            let format = self.format;
            let budget = self.budget;
            let mut file = self
                .zip
                .by_index(index)
                .map_err(|e| ExtractError::malformed(format, e))?;
            // The declared size is only a first, cheap check: it can lie, so reading is bounded
            // by the budget too.
            if file.size() > budget {
                return Err(too_large(format));
            }
            let mut data = Vec::new();
            (&mut file)
                .take(budget + 1)
                .read_to_end(&mut data)
                .map_err(|e| ExtractError::malformed(format, e))?;
            drop(file);
            let read = u64::try_from(data.len()).unwrap_or(u64::MAX);
            if read > budget {
                return Err(too_large(format));
            }
            self.budget -= read;
            let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&data);
            Ok(Some(String::from_utf8_lossy(data).into_owned()))
        }

        fn required_part(&mut self, name: &str) -> Result<String, ExtractError> {
            self.part(name)?.ok_or_else(|| ExtractError::MissingPart {
                format: self.format.as_str(),
                part: name.to_owned(),
            })
        }

        /// The main part named by the package relationships, or `fallback`.
        fn main_part_name(&mut self, fallback: &str) -> Result<String, ExtractError> {
            let Some(rels) = self.part("_rels/.rels")? else {
                return Ok(fallback.to_owned());
            };
            let main = relationships(&rels)
                .into_iter()
                .find(|r| r.kind == OFFICE_DOCUMENT)
                .map(|r| resolve("", &r.target));
            Ok(main.unwrap_or_else(|| fallback.to_owned()))
        }
    }

    fn too_large(format: Format) -> ExtractError {
        ExtractError::UnpackedTooLarge {
            format: format.as_str(),
            limit: MAX_UNPACKED_BYTES,
        }
    }

    /// A DOCX: the paragraphs of the main document, gathered into chunks.
    pub(super) fn extract_docx(bytes: &[u8], out: &mut Output) -> Result<(), ExtractError> {
        let mut package = Package::open(Format::Docx, bytes)?;
        let name = package.main_part_name("word/document.xml")?;
        let xml = package.required_part(&name)?;
        let mut chunks = Chunker::default();
        paragraphs(&xml, Format::Docx, |paragraph| {
            chunks.add(paragraph, out);
            !out.is_full()
        })?;
        chunks.finish(out);
        Ok(())
    }

    /// A PPTX: one segment per slide, in the order of the presentation's slide list.
    pub(super) fn extract_pptx(bytes: &[u8], out: &mut Output) -> Result<(), ExtractError> {
        let mut package = Package::open(Format::Pptx, bytes)?;
        let name = package.main_part_name("ppt/presentation.xml")?;
        let presentation = package.required_part(&name)?;
        let rels_name = rels_name_of(&name);
        let rels = relationships(&package.required_part(&rels_name)?);
        let base = name.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
        let slides: Vec<String> = slide_ids(&presentation, Format::Pptx)?
            .iter()
            .filter_map(|id| rels.iter().find(|r| &r.id == id))
            .map(|r| resolve(base, &r.target))
            .collect();
        for (index, slide) in slides.iter().enumerate() {
            if out.is_full() {
                break;
            }
            let Some(xml) = package.part(slide)? else {
                continue;
            };
            let mut text = String::new();
            paragraphs(&xml, Format::Pptx, |paragraph| {
                if !paragraph.trim().is_empty() {
                    text.push_str(paragraph);
                    text.push(' ');
                }
                text.len() < super::MAX_OUTPUT_BYTES
            })?;
            let page = u32::try_from(index + 1).ok();
            out.push(page, None, None, &text);
        }
        Ok(())
    }

    /// The relationships part of a part: `ppt/presentation.xml` → `ppt/_rels/presentation.xml.rels`.
    fn rels_name_of(part: &str) -> String {
        match part.rsplit_once('/') {
            Some((dir, file)) => format!("{dir}/_rels/{file}.rels"),
            None => format!("_rels/{part}.rels"),
        }
    }

    /// A relationship target resolved against the folder of its source part, `..` included.
    fn resolve(base: &str, target: &str) -> String {
        let mut segments: Vec<&str> = if target.starts_with('/') {
            Vec::new()
        } else {
            base.split('/').filter(|s| !s.is_empty()).collect()
        };
        for segment in target.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    segments.pop();
                }
                other => segments.push(other),
            }
        }
        segments.join("/")
    }

    struct Relationship {
        id: String,
        kind: String,
        target: String,
    }

    /// The relationships of a `.rels` part. Malformed XML ends the list where it breaks.
    fn relationships(xml: &str) -> Vec<Relationship> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut found = Vec::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e) | Event::Empty(e))
                    if e.local_name().as_ref() == b"Relationship" =>
                {
                    let (mut id, mut kind, mut target) = (None, None, None);
                    for attribute in e.attributes().flatten() {
                        let value = attribute
                            .normalized_value(XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned());
                        match attribute.key.local_name().as_ref() {
                            b"Id" => id = value,
                            b"Type" => kind = value,
                            b"Target" => target = value,
                            _ => {}
                        }
                    }
                    if let (Some(id), Some(kind), Some(target)) = (id, kind, target) {
                        found.push(Relationship { id, kind, target });
                    }
                }
                Ok(Event::Eof) | Err(_) => return found,
                Ok(_) => {}
            }
        }
    }

    /// The relationship ids of `p:sldIdLst`, in the presentation's order.
    fn slide_ids(xml: &str, format: Format) -> Result<Vec<String>, ExtractError> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut ids = Vec::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == b"sldId" => {
                    // `id` is the slide's number in the file; `r:id` names the relationship.
                    let rel = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.prefix().is_some() && a.key.local_name().as_ref() == b"id");
                    if let Some(value) =
                        rel.and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
                    {
                        ids.push(value.into_owned());
                    }
                }
                Ok(Event::Eof) => return Ok(ids),
                Err(e) => return Err(ExtractError::malformed(format, e)),
                Ok(_) => {}
            }
        }
    }

    /// Calls `each` with the text of every paragraph (`w:p`, `a:p`) of a WordprocessingML or
    /// DrawingML part, in document order, until it returns false. Text is taken from `t`
    /// elements (so deleted text and field codes are left out); tabs and breaks become spaces.
    /// A paragraph nested in another (a text box) is given before the one around it. The
    /// fallback branch of `mc:AlternateContent` repeats its choice branch and is skipped.
    fn paragraphs(
        xml: &str,
        format: Format,
        mut each: impl FnMut(&str) -> bool,
    ) -> Result<(), ExtractError> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut open: Vec<String> = Vec::new();
        let mut in_text = 0usize;
        let mut in_fallback = 0usize;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| ExtractError::malformed(format, e))?;
            match event {
                Event::Start(e) => match e.local_name().as_ref() {
                    b"Fallback" => in_fallback += 1,
                    _ if in_fallback > 0 => {}
                    b"p" => open.push(String::new()),
                    b"t" => in_text += 1,
                    b"tab" | b"br" | b"cr" => push(&mut open, " "),
                    _ => {}
                },
                Event::Empty(e) if in_fallback == 0 => {
                    if let b"tab" | b"br" | b"cr" = e.local_name().as_ref() {
                        push(&mut open, " ");
                    }
                }
                Event::End(e) => match e.local_name().as_ref() {
                    b"Fallback" => in_fallback = in_fallback.saturating_sub(1),
                    _ if in_fallback > 0 => {}
                    b"p" => {
                        if let Some(paragraph) = open.pop()
                            && !each(&paragraph)
                        {
                            return Ok(());
                        }
                    }
                    b"t" => in_text = in_text.saturating_sub(1),
                    _ => {}
                },
                Event::Text(t) if in_text > 0 && in_fallback == 0 => {
                    let text = t.decode().map_err(|e| ExtractError::malformed(format, e))?;
                    push(&mut open, &text);
                }
                Event::CData(t) if in_text > 0 && in_fallback == 0 => {
                    let text = t.decode().map_err(|e| ExtractError::malformed(format, e))?;
                    push(&mut open, &text);
                }
                Event::GeneralRef(r) if in_text > 0 && in_fallback == 0 => {
                    let name = r.decode().map_err(|e| ExtractError::malformed(format, e))?;
                    let c = match name.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => r.resolve_char_ref().ok().flatten(),
                    };
                    if let Some(c) = c {
                        push(&mut open, c.encode_utf8(&mut [0; 4]));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            if open
                .last()
                .is_some_and(|p| p.len() > super::MAX_OUTPUT_BYTES)
            {
                // One paragraph holding more text than will ever be kept: give what there is.
                let paragraph = open.pop().unwrap_or_default();
                each(&paragraph);
                return Ok(());
            }
        }
        // Text outside any paragraph (a truncated part) is still text.
        while let Some(paragraph) = open.pop() {
            if !each(&paragraph) {
                break;
            }
        }
        Ok(())
    }

    /// Appends to the innermost open paragraph, if any.
    fn push(open: &mut [String], text: &str) {
        if let Some(paragraph) = open.last_mut() {
            paragraph.push_str(text);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn resolves_relationship_targets() {
            assert_eq!(resolve("ppt", "slides/slide1.xml"), "ppt/slides/slide1.xml");
            assert_eq!(resolve("ppt", "/ppt/slides/s.xml"), "ppt/slides/s.xml");
            assert_eq!(resolve("ppt/slides", "../media/a.png"), "ppt/media/a.png");
            assert_eq!(resolve("", "word/document.xml"), "word/document.xml");
            assert_eq!(
                rels_name_of("ppt/presentation.xml"),
                "ppt/_rels/presentation.xml.rels"
            );
        }
    }
}

/// PDF, through `lopdf`: the text shown on each page, decoded with its fonts' encodings
/// (`ToUnicode` maps included), and the text of the form XObjects a page draws (`Do`), nested
/// up to [`MAX_FORM_DEPTH`] deep; a form that draws itself, directly or not, is read once.
///
/// Limit: scanned pages have no text.
mod pdf {
    use std::collections::{BTreeMap, HashMap};

    use lopdf::content::Content;
    use lopdf::{Dictionary, Document, Encoding, LoadOptions, Object, ObjectId};

    use super::{
        ExtractError, Format, MAX_PDF_LIVE_TOKENS, MAX_PDF_TOKENS, MAX_UNPACKED_BYTES, Output,
    };

    /// The bound on any one stream inflated while loading, and on a font's `ToUnicode` map.
    const MAX_STREAM_BYTES: usize = 16 * 1024 * 1024;
    /// How deep forms drawn inside forms are followed.
    const MAX_FORM_DEPTH: usize = 8;

    /// Names (`/F1`, `/Fm0`) in a resource dictionary: fonts by the address of their dictionary
    /// (the key of [`Reader::encodings`]), forms by object id.
    #[derive(Default, Clone)]
    struct Resources {
        fonts: HashMap<Vec<u8>, usize>,
        forms: HashMap<Vec<u8>, ObjectId>,
    }

    /// Reads the text of one document, page after page.
    struct Reader<'d> {
        doc: &'d Document,
        /// Fonts are usually shared by all pages; their encodings (a `ToUnicode` map can be
        /// large) are resolved once, keyed by the font dictionary's address in `doc`.
        encodings: HashMap<usize, Option<Encoding<'d>>>,
        /// Content shared by many pages (a form, say) is inflated each time it is drawn, so the
        /// budget is for the whole document.
        budget: usize,
        /// Tokens of the content streams decoded and still held (a page and the forms it is
        /// drawing), against [`MAX_PDF_LIVE_TOKENS`].
        live_tokens: usize,
        /// Tokens decoded so far in the document, against [`MAX_PDF_TOKENS`].
        total_tokens: usize,
    }

    pub(super) fn extract(bytes: &[u8], out: &mut Output) -> Result<(), ExtractError> {
        let options = LoadOptions {
            max_decompressed_size: Some(MAX_STREAM_BYTES),
            ..LoadOptions::default()
        };
        let doc = Document::load_mem_with_options(bytes, options).map_err(|e| match e {
            lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
                ExtractError::UnpackedTooLarge {
                    format: Format::Pdf.as_str(),
                    limit: MAX_STREAM_BYTES as u64,
                }
            }
            e if doc_error_is_encryption(&e) => ExtractError::Encrypted,
            e => ExtractError::malformed(Format::Pdf, e),
        })?;
        if doc.is_encrypted() && doc.encryption_state.is_none() {
            return Err(ExtractError::Encrypted);
        }
        let mut left_out = LeftOut::default();
        let mut reader = Reader {
            doc: &doc,
            encodings: HashMap::new(),
            budget: usize::try_from(MAX_UNPACKED_BYTES).unwrap_or(usize::MAX),
            live_tokens: 0,
            total_tokens: 0,
        };
        for (number, page_id) in doc.get_pages() {
            if out.is_full() || reader.budget == 0 {
                break;
            }
            let mut resources = Resources::default();
            let fonts = doc.get_page_fonts(page_id).unwrap_or_default();
            reader.add_fonts(&mut resources, fonts);
            if let Ok((direct, referenced)) = doc.get_page_resources(page_id) {
                for dict in direct.into_iter().chain(
                    referenced
                        .iter()
                        .filter_map(|id| doc.get_dictionary(*id).ok()),
                ) {
                    add_forms(&doc, &mut resources, dict);
                }
            }
            let data = match doc.get_page_content_with_limit(page_id, reader.budget) {
                Ok(data) => data,
                Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                    ..
                })) => break,
                Err(_) => continue,
            };
            reader.budget = reader.budget.saturating_sub(data.len());
            let (content, tokens) = match reader.decode(&data) {
                Ok(Some(decoded)) => decoded,
                Ok(None) => continue,
                Err(e) => {
                    if left_out.note(number, e)? {
                        continue;
                    }
                    break;
                }
            };
            let mut text = String::new();
            let shown = reader.show_content(&content, &resources, &mut Vec::new(), &mut text);
            drop(content);
            reader.live_tokens -= tokens;
            // What the page showed before a form over the budget is kept.
            out.push(Some(number), None, None, &text);
            if let Err(e) = shown
                && !left_out.note(number, e)?
            {
                break;
            }
        }
        left_out.finish(out)
    }

    /// Pages whose text was left out because they were over a token budget: one such page
    /// costs the document only its own text. A page over [`MAX_PDF_LIVE_TOKENS`] is skipped
    /// and the next one read; once [`MAX_PDF_TOKENS`] are spent, reading stops there.
    #[derive(Default)]
    struct LeftOut {
        /// The pages skipped, and the first reason.
        pages: Vec<u32>,
        first: Option<ExtractError>,
        /// The page reading stopped at.
        stopped_at: Option<u32>,
    }

    impl LeftOut {
        /// Notes that page `number` failed with `error`: `Ok(true)` to go on with the next
        /// page, `Ok(false)` to stop; any error other than a budget is the whole file's.
        fn note(&mut self, number: u32, error: ExtractError) -> Result<bool, ExtractError> {
            let go_on = match &error {
                ExtractError::TooComplex { limit, .. } if *limit == MAX_PDF_LIVE_TOKENS => true,
                ExtractError::TooComplex { .. } => false,
                _ => return Err(error),
            };
            if go_on {
                self.pages.push(number);
            } else {
                self.stopped_at = Some(number);
            }
            self.first.get_or_insert(error);
            Ok(go_on)
        }

        /// The document's outcome: its text, with a note of what was left out; the first
        /// budget error when nothing at all could be read.
        fn finish(self, out: &mut Output) -> Result<(), ExtractError> {
            let Some(first) = self.first else {
                return Ok(());
            };
            if out.segments.is_empty() {
                return Err(first);
            }
            let mut parts = Vec::new();
            if !self.pages.is_empty() {
                let list = self
                    .pages
                    .iter()
                    .take(20)
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let more = if self.pages.len() > 20 { ", …" } else { "" };
                parts.push(format!("page(s) {list}{more} left out"));
            }
            if let Some(at) = self.stopped_at {
                parts.push(format!("pages from {at} on not read"));
            }
            out.left_out = Some(format!("{}: {first}", parts.join("; ")));
            Ok(())
        }
    }

    /// Counts the tokens of a content stream without decoding it, stopping once there are more
    /// than `limit`: numbers, names, strings, keywords (operators), and the brackets that open
    /// arrays and dictionaries. Comments and the data of inline images (`ID` … `EI`) are
    /// skipped; a string's bytes are one token however long it is.
    pub(super) fn count_tokens(data: &[u8], limit: usize) -> usize {
        let is_space = |b: u8| matches!(b, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
        let is_delimiter = |b: u8| {
            matches!(
                b,
                b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
            )
        };
        let mut count = 0;
        let mut i = 0;
        while i < data.len() && count <= limit {
            let b = data[i];
            if is_space(b) || matches!(b, b')' | b'>' | b']' | b'}') {
                // A closing bracket ends what its opening one counted.
                i += 1;
                continue;
            }
            count += 1;
            match b {
                b'%' => {
                    count -= 1;
                    while i < data.len() && !matches!(data[i], b'\r' | b'\n') {
                        i += 1;
                    }
                }
                b'(' => {
                    let mut depth = 0usize;
                    while i < data.len() {
                        match data[i] {
                            b'\\' => i += 1,
                            b'(' => depth += 1,
                            b')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    i += 1;
                }
                b'<' if data.get(i + 1) == Some(&b'<') => i += 2,
                b'<' => {
                    while i < data.len() && data[i] != b'>' {
                        i += 1;
                    }
                    i += 1;
                }
                b'[' | b'{' => i += 1,
                _ => {
                    // A name (`/F1`), a number or a keyword: a run of regular bytes.
                    let start = i;
                    i += 1;
                    while i < data.len() && !is_space(data[i]) && !is_delimiter(data[i]) {
                        i += 1;
                    }
                    if &data[start..i] == b"ID" {
                        // Inline image data, up to `EI` between white space.
                        i += 1;
                        while i < data.len()
                            && !(data[i..].starts_with(b"EI")
                                && is_space(data[i - 1])
                                && data.get(i + 2).is_none_or(|&b| is_space(b)))
                        {
                            i += 1;
                        }
                        i += 2;
                    }
                }
            }
        }
        count
    }

    /// The fonts a resource dictionary names.
    fn fonts_in<'d>(
        doc: &'d Document,
        resources: &'d Dictionary,
    ) -> BTreeMap<Vec<u8>, &'d Dictionary> {
        let mut fonts = BTreeMap::new();
        let Some(dict) = resources
            .get(b"Font")
            .ok()
            .and_then(|o| resolve_dict(doc, o))
        else {
            return fonts;
        };
        for (name, value) in dict.iter() {
            if let Some(font) = resolve_dict(doc, value) {
                fonts.insert(name.clone(), font);
            }
        }
        fonts
    }

    /// Adds the form XObjects a resource dictionary names (images and the rest are left out).
    fn add_forms(doc: &Document, resources: &mut Resources, dict: &Dictionary) {
        let Some(xobjects) = dict.get(b"XObject").ok().and_then(|o| resolve_dict(doc, o)) else {
            return;
        };
        for (name, value) in xobjects.iter() {
            let Ok(id) = value.as_reference() else {
                continue;
            };
            let is_form = doc
                .get_object(id)
                .and_then(Object::as_stream)
                .and_then(|s| s.dict.get(b"Subtype"))
                .and_then(Object::as_name)
                .is_ok_and(|n| n == b"Form");
            if is_form {
                resources.forms.entry(name.clone()).or_insert(id);
            }
        }
    }

    fn resolve_dict<'d>(doc: &'d Document, object: &'d Object) -> Option<&'d Dictionary> {
        match object {
            Object::Reference(id) => doc.get_dictionary(*id).ok(),
            Object::Dictionary(dict) => Some(dict),
            _ => None,
        }
    }

    impl<'d> Reader<'d> {
        fn add_fonts(
            &mut self,
            resources: &mut Resources,
            fonts: BTreeMap<Vec<u8>, &'d Dictionary>,
        ) {
            let doc = self.doc;
            for (name, font) in fonts {
                let key = std::ptr::from_ref(font) as usize;
                self.encodings.entry(key).or_insert_with(|| {
                    font.get_font_encoding_with_limit(doc, MAX_STREAM_BYTES)
                        .ok()
                });
                resources.fonts.insert(name, key);
            }
        }

        /// The text a form XObject shows, with its own resources over the ones it is drawn
        /// with. `drawing` holds the forms being drawn around it.
        fn show_form(
            &mut self,
            id: ObjectId,
            outer: &Resources,
            drawing: &mut Vec<ObjectId>,
            text: &mut String,
        ) -> Result<(), ExtractError> {
            if drawing.contains(&id) || drawing.len() >= MAX_FORM_DEPTH || self.budget == 0 {
                return Ok(());
            }
            let doc = self.doc;
            let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
                return Ok(());
            };
            let Ok(data) = stream.get_plain_content_with_limit(self.budget) else {
                return Ok(());
            };
            self.budget = self.budget.saturating_sub(data.len());
            let Some((content, tokens)) = self.decode(&data)? else {
                return Ok(());
            };
            drop(data);
            let mut resources = outer.clone();
            if let Some(own) = stream
                .dict
                .get(b"Resources")
                .ok()
                .and_then(|o| resolve_dict(doc, o))
            {
                let fonts = fonts_in(doc, own);
                self.add_fonts(&mut resources, fonts);
                add_forms(doc, &mut resources, own);
            }
            drawing.push(id);
            let shown = self.show_content(&content, &resources, drawing, text);
            drawing.pop();
            drop(content);
            self.live_tokens -= tokens;
            shown
        }

        /// Decodes a content stream and its number of tokens, which stay counted as live until
        /// the caller drops the content and subtracts them; `None` when it does not parse.
        /// Refused, before any decoding, when it would take the tokens held at once or decoded
        /// in all over their bounds.
        fn decode(&mut self, data: &[u8]) -> Result<Option<(Content, usize)>, ExtractError> {
            let live_room = MAX_PDF_LIVE_TOKENS - self.live_tokens;
            let total_room = MAX_PDF_TOKENS - self.total_tokens;
            let tokens = count_tokens(data, live_room.min(total_room));
            if tokens > live_room {
                return Err(too_complex(MAX_PDF_LIVE_TOKENS, "tokens drawn at once"));
            }
            if tokens > total_room {
                return Err(too_complex(MAX_PDF_TOKENS, "tokens in all"));
            }
            let Ok(content) = Content::decode(data) else {
                return Ok(None);
            };
            self.live_tokens += tokens;
            self.total_tokens += tokens;
            Ok(Some((content, tokens)))
        }

        /// Appends the text a content stream shows, lines separated by newlines.
        fn show_content(
            &mut self,
            content: &Content,
            resources: &Resources,
            drawing: &mut Vec<ObjectId>,
            text: &mut String,
        ) -> Result<(), ExtractError> {
            let mut font: Option<usize> = None;
            let mut last_y: Option<f32> = None;
            for operation in &content.operations {
                let operands = &operation.operands;
                match operation.operator.as_str() {
                    "Tf" => {
                        font = operands
                            .first()
                            .and_then(|o| o.as_name().ok())
                            .and_then(|name| resources.fonts.get(name))
                            .copied();
                    }
                    "Tj" => self.show(text, font, operands.first()),
                    "'" => {
                        text.push('\n');
                        self.show(text, font, operands.first());
                    }
                    "\"" => {
                        text.push('\n');
                        self.show(text, font, operands.get(2));
                    }
                    "TJ" => {
                        let Some(Object::Array(items)) = operands.first() else {
                            continue;
                        };
                        for item in items {
                            match item {
                                Object::String(..) => self.show(text, font, Some(item)),
                                // A large negative adjustment (in thousandths of an em) is how
                                // some producers draw the space between words.
                                Object::Integer(n) if *n < -200 => text.push(' '),
                                Object::Real(n) if *n < -200.0 => text.push(' '),
                                _ => {}
                            }
                        }
                    }
                    "T*" | "ET" => text.push('\n'),
                    "Td" | "TD" if operands.get(1).and_then(number).is_some_and(|dy| dy != 0.0) => {
                        text.push('\n');
                    }
                    "Tm" => {
                        let y = operands.get(5).and_then(number);
                        if y != last_y {
                            text.push('\n');
                        }
                        last_y = y;
                    }
                    "Do" => {
                        let form = operands
                            .first()
                            .and_then(|o| o.as_name().ok())
                            .and_then(|name| resources.forms.get(name))
                            .copied();
                        if let Some(id) = form {
                            text.push('\n');
                            self.show_form(id, resources, drawing, text)?;
                            text.push('\n');
                        }
                    }
                    _ => {}
                }
                if text.len() > super::MAX_OUTPUT_BYTES {
                    break;
                }
            }
            Ok(())
        }

        fn show(&self, text: &mut String, font: Option<usize>, operand: Option<&Object>) {
            let encoding = font
                .and_then(|key| self.encodings.get(&key))
                .and_then(Option::as_ref);
            let (Some(encoding), Some(Object::String(bytes, _))) = (encoding, operand) else {
                return;
            };
            if let Ok(decoded) = Document::decode_text(encoding, bytes) {
                text.push_str(&decoded);
            }
        }
    }

    fn too_complex(limit: usize, what: &'static str) -> ExtractError {
        ExtractError::TooComplex {
            format: Format::Pdf.as_str(),
            limit,
            what,
        }
    }

    fn doc_error_is_encryption(error: &lopdf::Error) -> bool {
        matches!(
            error,
            lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword
        )
    }

    fn number(object: &Object) -> Option<f32> {
        match object {
            Object::Integer(n) => Some(*n as f32),
            Object::Real(n) => Some(*n),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const HEADINGS: [&str; 3] = [
        "第一章 乡村振兴战略概述",
        "第二章 农村基层党组织建设",
        "第三章 数字乡村与电子商务",
    ];

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/documents/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn texts(segments: &[Segment]) -> Vec<&str> {
        segments.iter().map(|s| s.text.as_str()).collect()
    }

    /// A zip archive of `(name, content)` parts, deflated.
    fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        for (name, content) in parts {
            writer.start_file(*name, options).expect("start part");
            writer.write_all(content).expect("write part");
        }
        writer.finish().expect("finish zip").into_inner()
    }

    const ROOT_RELS_DOCX: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;

    fn docx(paragraphs: &[&str]) -> Vec<u8> {
        let body: String = paragraphs
            .iter()
            .map(|p| format!(r#"<w:p><w:pPr><w:jc w:val="left"/></w:pPr><w:r><w:t xml:space="preserve">{p}</w:t></w:r></w:p>"#))
            .collect();
        let document = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}<w:sectPr/></w:body></w:document>"#
        );
        zip_of(&[
            ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.as_slice()),
            ("_rels/.rels", ROOT_RELS_DOCX.as_bytes()),
            ("word/document.xml", document.as_bytes()),
        ])
    }

    fn slide(text: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody><a:bodyPr/><a:p><a:r><a:rPr lang="zh-CN"/><a:t>{text}</a:t></a:r></a:p><a:p><a:r><a:t>要点</a:t></a:r><a:br/><a:r><a:t>一</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
        )
    }

    /// A presentation whose slide order (slide3, slide1, slide2 as files) differs from the
    /// order of the files in the zip and from their names.
    fn pptx() -> Vec<u8> {
        let presentation = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:presentation xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:sldMasterIdLst/><p:sldIdLst><p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId5"/><p:sldId id="258" r:id="rId6"/></p:sldIdLst><p:sldSz cx="9144000" cy="6858000"/></p:presentation>"#;
        let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/><Relationship Id="rId6" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="/ppt/slides/slide2.xml"/><Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide3.xml"/></Relationships>"#;
        let root_rels = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="ppt/presentation.xml"/></Relationships>"#;
        let (one, two, three) = (slide(HEADINGS[1]), slide(HEADINGS[2]), slide(HEADINGS[0]));
        zip_of(&[
            ("ppt/slides/slide2.xml", two.as_bytes()),
            ("_rels/.rels", root_rels.as_bytes()),
            ("ppt/slides/slide1.xml", one.as_bytes()),
            ("ppt/presentation.xml", presentation.as_bytes()),
            ("ppt/slides/slide3.xml", three.as_bytes()),
            ("ppt/_rels/presentation.xml.rels", rels.as_bytes()),
        ])
    }

    const SRT: &str = "\u{feff}1\r\n00:00:01,000 --> 00:00:04,500\r\n<i>同志们好</i>，今天我们学习\r\n{\\an8}乡村振兴战略\r\n\r\n2\r\n00:00:05,000 --> 00:00:07,250 X1:100 X2:200\r\n党员 &amp; 群众 &lt;一起&gt;\r\n3\r\n00:00:08.000 --> 00:00:09.000\r\n没有空行也能读\r\n\r\n4\r\nnot a timing line\r\n坏的字幕\r\n\r\n5\r\n00:00:10,000 --> 00:00:09,000\r\n结束早于开始\r\n\r\n6\r\n01:02:03,004 --> 01:02:05,000\r\n<b>最后一条</b>";

    const VTT: &str = "WEBVTT - 党课\nKind: captions\n\nNOTE 这是注释\n不应出现\n\nSTYLE\n::cue { color: yellow }\n\nREGION\nid:fred width:40%\n\nintro\n00:01.000 --> 00:04.000 line:0 position:20% align:start\n<v 主讲人>大家好</v>，<c.yellow>欢迎</c>收看\n第二行\n\n00:00:05.500 --> 00:00:06.000\n数字&nbsp;乡村 &#x4E2D;&#22269;\ncue-3\n00:07.000 --> 00:08.000\n<00:07.500>逐字<ruby>显示<rt>xiǎn shì</rt></ruby>";

    #[test]
    fn srt_cues_have_times_and_clean_text() {
        let segments = extract(Format::Srt, SRT.as_bytes()).expect("srt");
        let expected = vec![
            (1_000, 4_500, "同志们好，今天我们学习 乡村振兴战略"),
            (5_000, 7_250, "党员 & 群众 <一起>"),
            (8_000, 9_000, "没有空行也能读"),
            (3_723_004, 3_725_000, "最后一条"),
        ];
        let got: Vec<(i64, i64, &str)> = segments
            .iter()
            .map(|s| {
                (
                    s.start_ms.unwrap_or(-1),
                    s.end_ms.unwrap_or(-1),
                    s.text.as_str(),
                )
            })
            .collect();
        assert_eq!(got, expected);
        assert!(segments.iter().all(|s| s.page.is_none()));
    }

    #[test]
    fn vtt_cues_skip_header_blocks_identifiers_and_settings() {
        let segments = extract(Format::Vtt, VTT.as_bytes()).expect("vtt");
        let got: Vec<(Option<i64>, Option<i64>, &str)> = segments
            .iter()
            .map(|s| (s.start_ms, s.end_ms, s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(1_000), Some(4_000), "大家好，欢迎收看 第二行"),
                (Some(5_500), Some(6_000), "数字 乡村 中国"),
                (Some(7_000), Some(8_000), "逐字显示xiǎn shì"),
            ]
        );
    }

    #[test]
    fn vtt_with_crlf_and_bom_reads_the_same() {
        let crlf = format!("\u{feff}{}", VTT.replace('\n', "\r\n"));
        let lf = extract(Format::Vtt, VTT.as_bytes()).expect("lf");
        let crlf = extract(Format::Vtt, crlf.as_bytes()).expect("crlf");
        assert_eq!(lf, crlf);
    }

    #[test]
    fn subtitles_in_gb18030_and_utf16_are_decoded() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\n乡村振兴\n";
        let (gb, _, _) = encoding_rs::GB18030.encode(srt);
        let mut le = vec![0xff, 0xfe];
        le.extend(srt.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be = vec![0xfe, 0xff];
        be.extend(srt.encode_utf16().flat_map(u16::to_be_bytes));
        for bytes in [gb.into_owned(), le, be] {
            let segments = extract(Format::Srt, &bytes).expect("srt");
            assert_eq!(texts(&segments), vec!["乡村振兴"], "{bytes:02x?}");
        }
    }

    #[test]
    fn text_is_chunked_at_line_breaks_in_any_encoding() {
        let line = "乡村振兴战略是新时代三农工作的总抓手。".repeat(10); // 190 characters
        let text = vec![line.as_str(); 25].join("\r\n");
        let segments = extract(Format::Text, text.as_bytes()).expect("text");
        assert!(segments.len() >= 3, "{} segments", segments.len());
        for segment in &segments {
            assert!(segment.text.chars().count() <= CHUNK_CHARS);
            assert!(segment.text.starts_with("乡村振兴"));
            assert_eq!(segment.page, None);
        }
        let total: usize = segments
            .iter()
            .map(|s| s.text.matches("总抓手").count())
            .sum();
        assert_eq!(total, 250);

        let (gb, _, _) = encoding_rs::GB18030.encode("第一行  \n\n  第二行");
        let segments = extract(Format::Text, &gb).expect("gb18030");
        assert_eq!(texts(&segments), vec!["第一行 第二行"]);
        let mut utf8_bom = b"\xef\xbb\xbf".to_vec();
        utf8_bom.extend("数字乡村".as_bytes());
        assert_eq!(
            texts(&extract(Format::Text, &utf8_bom).expect("bom")),
            vec!["数字乡村"]
        );
    }

    #[test]
    fn a_long_line_without_breaks_is_still_cut() {
        let text = "字".repeat(CHUNK_CHARS * 2 + 10);
        let segments = extract(Format::Text, text.as_bytes()).expect("text");
        let lengths: Vec<usize> = segments.iter().map(|s| s.text.chars().count()).collect();
        assert_eq!(lengths, vec![CHUNK_CHARS, CHUNK_CHARS, 10]);
    }

    #[test]
    fn docx_paragraphs_are_gathered_into_chunks() {
        let long = "基层党组织是党的全部工作和战斗力的基础。".repeat(30); // 600 characters
        let mut paragraphs: Vec<&str> = HEADINGS.to_vec();
        paragraphs.extend([long.as_str(); 6]);
        paragraphs.push("党员 &amp; 干部");
        let segments = extract(Format::Docx, &docx(&paragraphs)).expect("docx");
        assert!(segments.len() >= 2, "{segments:?}");
        assert!(segments[0].text.starts_with(&HEADINGS.join(" ")));
        assert!(
            segments
                .iter()
                .all(|s| s.text.chars().count() <= CHUNK_CHARS)
        );
        assert!(
            segments
                .iter()
                .all(|s| s.page.is_none() && s.start_ms.is_none())
        );
        assert!(
            segments
                .last()
                .is_some_and(|s| s.text.ends_with("党员 & 干部"))
        );
    }

    #[test]
    fn docx_made_by_libreoffice_gives_the_three_headings() {
        let segments = extract(Format::Docx, &fixture("lesson.docx")).expect("docx");
        let all = texts(&segments).join(" ");
        for heading in HEADINGS {
            assert!(all.contains(heading), "{heading} missing from {all}");
        }
    }

    #[test]
    fn pptx_slides_follow_the_presentation_order() {
        let segments = extract(Format::Pptx, &pptx()).expect("pptx");
        let got: Vec<(Option<u32>, &str)> =
            segments.iter().map(|s| (s.page, s.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Some(1), "第一章 乡村振兴战略概述 要点 一"),
                (Some(2), "第二章 农村基层党组织建设 要点 一"),
                (Some(3), "第三章 数字乡村与电子商务 要点 一"),
            ]
        );
    }

    #[test]
    fn pptx_made_by_libreoffice_gives_one_heading_per_slide() {
        let segments = extract(Format::Pptx, &fixture("lesson.pptx")).expect("pptx");
        assert_eq!(segments.len(), 3, "{segments:?}");
        for (index, (segment, heading)) in segments.iter().zip(HEADINGS).enumerate() {
            assert_eq!(segment.page, u32::try_from(index + 1).ok());
            assert!(segment.text.starts_with(heading), "{segment:?}");
        }
    }

    /// `lesson.pdf` with each page's content moved into a form XObject the page draws. Page 1
    /// draws a form with its own resources that draws the content's form and then itself again;
    /// the forms of pages 2 and 3 have no resources and use their page's.
    fn pdf_with_forms() -> Vec<u8> {
        use lopdf::{Dictionary, Document, Object, Stream};
        let form = |resources: Option<Dictionary>, content: Vec<u8>| {
            let mut dict = Dictionary::new();
            dict.set("Type", Object::Name(b"XObject".to_vec()));
            dict.set("Subtype", Object::Name(b"Form".to_vec()));
            dict.set(
                "BBox",
                Object::Array([0, 0, 1000, 1000].map(Object::Integer).to_vec()),
            );
            if let Some(r) = resources {
                dict.set("Resources", r);
            }
            Stream::new(dict, content)
        };
        let names = |entries: &[(&str, lopdf::ObjectId)]| {
            let mut d = Dictionary::new();
            for (name, id) in entries {
                d.set(*name, Object::Reference(*id));
            }
            d
        };
        let mut doc = Document::load_mem(&fixture("lesson.pdf")).expect("fixture loads");
        let pages: Vec<(u32, lopdf::ObjectId)> = doc.get_pages().into_iter().collect();
        for (number, page_id) in pages {
            let content = doc.get_page_content(page_id);
            let (direct, referenced) = doc.get_page_resources(page_id).expect("resources");
            let resources: Dictionary = direct
                .cloned()
                .or_else(|| {
                    referenced
                        .first()
                        .and_then(|id| doc.get_dictionary(*id).ok().cloned())
                })
                .expect("the page has resources");
            let (page_resources, draw) = if number == 1 {
                let inner = doc.add_object(form(Some(resources.clone()), content));
                let outer = doc.new_object_id();
                let mut own = resources.clone();
                own.set("XObject", names(&[("Inner", inner), ("Again", outer)]));
                doc.objects.insert(
                    outer,
                    Object::Stream(form(Some(own), b"/Inner Do /Again Do".to_vec())),
                );
                let mut r = Dictionary::new();
                r.set("XObject", names(&[("Outer", outer)]));
                (r, b"q /Outer Do Q".to_vec())
            } else {
                let fm = doc.add_object(form(None, content));
                let mut r = resources.clone();
                r.set("XObject", names(&[("Fm", fm)]));
                (r, b"/Fm Do".to_vec())
            };
            let contents = doc.add_object(Stream::new(Dictionary::new(), draw));
            let page = doc
                .get_object_mut(page_id)
                .and_then(Object::as_dict_mut)
                .expect("page dictionary");
            page.set("Contents", Object::Reference(contents));
            page.set("Resources", page_resources);
        }
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).expect("saves");
        bytes
    }

    #[test]
    fn pdf_text_drawn_by_form_xobjects_is_read_once() {
        let segments = extract(Format::Pdf, &pdf_with_forms()).expect("pdf");
        let pages: Vec<Option<u32>> = segments.iter().map(|s| s.page).collect();
        assert_eq!(pages, vec![Some(1), Some(2), Some(3)], "{segments:?}");
        for (segment, heading) in segments.iter().zip(HEADINGS) {
            assert!(segment.text.starts_with(heading), "{segment:?}");
            assert_eq!(segment.text.matches(heading).count(), 1, "{segment:?}");
        }
    }

    #[test]
    fn pdf_made_by_libreoffice_gives_one_segment_per_page() {
        let segments = extract(Format::Pdf, &fixture("lesson.pdf")).expect("pdf");
        let pages: Vec<Option<u32>> = segments.iter().map(|s| s.page).collect();
        assert_eq!(pages, vec![Some(1), Some(2), Some(3)]);
        for (segment, heading) in segments.iter().zip(HEADINGS) {
            assert!(segment.text.starts_with(heading), "{segment:?}");
            assert!(segment.start_ms.is_none() && segment.end_ms.is_none());
        }
    }

    #[test]
    fn zip_bombs_are_refused_while_inflating() {
        // Each slide alone is under the budget; together they are over it, so only the
        // running total can catch them.
        let zeros = vec![b' '; 30 * 1024 * 1024];
        let presentation = r#"<p:presentation xmlns:r="r" xmlns:p="p"><p:sldIdLst><p:sldId id="1" r:id="a"/><p:sldId id="2" r:id="b"/><p:sldId id="3" r:id="c"/></p:sldIdLst></p:presentation>"#;
        let rels = r#"<Relationships><Relationship Id="a" Type="s" Target="slides/1.xml"/><Relationship Id="b" Type="s" Target="slides/2.xml"/><Relationship Id="c" Type="s" Target="slides/3.xml"/></Relationships>"#;
        let bomb = zip_of(&[
            ("ppt/presentation.xml", presentation.as_bytes()),
            ("ppt/_rels/presentation.xml.rels", rels.as_bytes()),
            ("ppt/slides/1.xml", zeros.as_slice()),
            ("ppt/slides/2.xml", zeros.as_slice()),
            ("ppt/slides/3.xml", zeros.as_slice()),
        ]);
        assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
        let error = extract(Format::Pptx, &bomb).expect_err("bomb");
        assert!(
            matches!(error, ExtractError::UnpackedTooLarge { .. }),
            "{error}"
        );

        let big = vec![b' '; 65 * 1024 * 1024];
        let bomb = zip_of(&[
            ("_rels/.rels", ROOT_RELS_DOCX.as_bytes()),
            ("word/document.xml", big.as_slice()),
        ]);
        let error = extract(Format::Docx, &bomb).expect_err("bomb");
        assert!(
            matches!(error, ExtractError::UnpackedTooLarge { .. }),
            "{error}"
        );
    }

    /// A one-page PDF drawing `content` with the font `/F1` (Helvetica), written by hand.
    fn pdf_drawing(content: &[u8]) -> Vec<u8> {
        pdf_pages(&[content])
    }

    /// A PDF whose pages draw `contents`, one each, with Helvetica as `/F1`.
    fn pdf_pages(contents: &[&[u8]]) -> Vec<u8> {
        let n = contents.len();
        // Objects: 1 catalog, 2 pages, 3 font, then each page and its content.
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
        let mut objects: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ];
        for (i, content) in contents.iter().enumerate() {
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                     /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                    5 + 2 * i
                )
                .into_bytes(),
            );
            let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
            stream.extend_from_slice(content);
            stream.extend_from_slice(b"\nendstream");
            objects.push(stream);
        }
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    #[test]
    fn a_page_over_the_token_budget_costs_only_its_own_text() {
        let bomb = b"n\n".repeat(MAX_PDF_LIVE_TOKENS + 1);
        let pdf = pdf_pages(&[
            b"BT /F1 12 Tf (first page) Tj ET",
            &bomb,
            b"BT /F1 12 Tf (third page) Tj ET",
        ]);
        let got = extract_noting(Format::Pdf, &pdf).expect("the other pages are read");
        let pages: Vec<(Option<u32>, &str)> = got
            .segments
            .iter()
            .map(|s| (s.page, s.text.as_str()))
            .collect();
        assert_eq!(
            pages,
            vec![(Some(1), "first page"), (Some(3), "third page")]
        );
        let note = got.left_out.expect("what was left out is said");
        assert!(note.starts_with("page(s) 2 left out: "), "{note}");
        assert!(note.contains("500000 tokens"), "{note}");
        // A file whose every page is over the budget is refused as before, with the reason.
        assert!(matches!(
            extract_noting(Format::Pdf, &pdf_pages(&[&bomb, &bomb])),
            Err(ExtractError::TooComplex { .. })
        ));
        // Nothing left out: no note.
        let plain = extract_noting(Format::Pdf, &pdf_pages(&[b"BT /F1 12 Tf (a) Tj ET"]));
        assert_eq!(plain.expect("pdf").left_out, None);
    }

    #[test]
    fn content_tokens_are_counted_without_decoding() {
        let content = b"BT /F1 12 Tf (a (nested) \\) paren) Tj [(x) -250 (y)] TJ <48656c6c6f> Tj\n\
            << /MCID 0 >> BDC % a comment: Tj Tj Tj\n EMC\n\
            BI /W 1 /H 1 ID \xff(\xfe EI Q";
        // BT /F1 12 Tf (…) Tj [ (x) -250 (y) TJ <…> Tj << /MCID 0 BDC EMC BI /W 1 /H 1 ID Q: the
        // comment and the image's bytes are skipped, closing brackets count for nothing.
        assert_eq!(pdf::count_tokens(content, usize::MAX), 25);
        // Counting stops past the limit.
        assert_eq!(pdf::count_tokens(&b"n ".repeat(1000), 10), 11);
        // lopdf reads the same strings out of it (the scan and the decoder agree on them).
        let sample = extract(Format::Pdf, &pdf_drawing(content)).expect("pdf");
        assert_eq!(texts(&sample), vec!["a (nested) ) parenx yHello"]);
    }

    #[test]
    fn pdf_content_over_the_token_budget_is_refused_before_decoding() {
        let over = b"n\n".repeat(MAX_PDF_LIVE_TOKENS + 1);
        let error = extract(Format::Pdf, &pdf_drawing(&over)).expect_err("too many operators");
        assert!(
            matches!(
                error,
                ExtractError::TooComplex {
                    limit: MAX_PDF_LIVE_TOKENS,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("500000 tokens"), "{error}");
        // Operands count too: half as many `Tj` operators with their strings are as many tokens.
        let mut shown = b"BT /F1 12 Tf ".to_vec();
        shown.extend_from_slice(&b"(A) Tj ".repeat(MAX_PDF_LIVE_TOKENS / 2));
        shown.extend_from_slice(b"ET");
        assert!(matches!(
            extract(Format::Pdf, &pdf_drawing(&shown)),
            Err(ExtractError::TooComplex { .. })
        ));
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = vec![b'a'; 8 * 1024 * 1024 + 1];
        assert!(matches!(
            extract(Format::Srt, &big),
            Err(ExtractError::TooLarge { .. })
        ));
        assert!(extract(Format::Text, &big[..8 * 1024 * 1024]).is_ok());
    }

    #[test]
    fn output_is_capped() {
        let cues: String = (0..120_000)
            .map(|i| format!("00:00:01.000 --> 00:00:02.000\n第{i}条\n\n"))
            .collect();
        let segments = extract(Format::Vtt, cues.as_bytes()).expect("vtt");
        assert_eq!(segments.len(), MAX_SEGMENTS);

        let text = "长".repeat(3 * 1024 * 1024); // 9 MiB of UTF-8, over the input cap
        assert!(extract(Format::Text, text.as_bytes()).is_err());
        let text = "长\n".repeat(2 * 1024 * 1024); // 8 MiB of UTF-8
        let segments = extract(Format::Text, &text.as_bytes()[..8 * 1024 * 1024]).expect("text");
        let bytes: usize = segments.iter().map(|s| s.text.len()).sum();
        assert!(bytes <= MAX_OUTPUT_BYTES && bytes > MAX_OUTPUT_BYTES - 3 * CHUNK_CHARS);
    }

    #[test]
    fn formats_are_detected_from_content_type_and_extension() {
        let cases = [
            ("application/pdf", "a.bin", Some(Format::Pdf)),
            ("text/vtt; charset=utf-8", "a.txt", Some(Format::Vtt)),
            (
                "application/x-subrip; charset=utf-8",
                "a",
                Some(Format::Srt),
            ),
            ("text/plain; charset=utf-8", "讲稿.txt", Some(Format::Text)),
            ("text/plain; charset=utf-8", "第一集.SRT", Some(Format::Srt)),
            ("text/plain", "a.vtt", Some(Format::Vtt)),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "a",
                Some(Format::Docx),
            ),
            (
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "a",
                Some(Format::Pptx),
            ),
            ("application/zip", "课件.pptx", Some(Format::Pptx)),
            ("application/zip", "a.pdf", None),
            ("application/octet-stream", "a.pdf", Some(Format::Pdf)),
            ("", "a.docx", Some(Format::Docx)),
            ("video/mp4", "a.pdf", None),
            ("image/png", "a.png", None),
            ("application/octet-stream", "a.bin", None),
        ];
        for (content_type, filename, expected) in cases {
            assert_eq!(
                Format::detect(content_type, filename),
                expected,
                "{content_type} {filename}"
            );
        }
        let names: Vec<&str> = [
            Format::Pdf,
            Format::Docx,
            Format::Pptx,
            Format::Text,
            Format::Srt,
            Format::Vtt,
            Format::Ass,
        ]
        .iter()
        .map(|f| f.as_str())
        .collect();
        assert_eq!(names, ["pdf", "docx", "pptx", "text", "srt", "vtt", "ass"]);
        assert!(Format::Pdf.max_input_bytes() > Format::Srt.max_input_bytes());
    }

    /// A small deterministic generator, so a failure can be replayed.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let formats = [
            Format::Pdf,
            Format::Docx,
            Format::Pptx,
            Format::Text,
            Format::Srt,
            Format::Vtt,
        ];
        let samples = [
            fixture("lesson.pdf"),
            fixture("lesson.docx"),
            fixture("lesson.pptx"),
            docx(&HEADINGS),
            pptx(),
            SRT.as_bytes().to_vec(),
            VTT.as_bytes().to_vec(),
        ];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for _ in 0..150 {
            let len = rng.below(2048);
            inputs.push((0..len).map(|_| rng.next() as u8).collect());
        }
        for sample in &samples {
            for _ in 0..25 {
                // A truncated copy, and a copy with a few bytes flipped.
                inputs.push(sample[..rng.below(sample.len())].to_vec());
                let mut flipped = sample.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(flipped.len());
                    if let Some(byte) = flipped.get_mut(at) {
                        *byte ^= 1 << rng.below(8);
                    }
                }
                inputs.push(flipped);
            }
        }
        for input in &inputs {
            for format in formats {
                let result = extract(format, input);
                // Only the third-party PDF parser may panic (and is caught); the code of this
                // module must not.
                if format != Format::Pdf
                    && let Err(ExtractError::Malformed { reason, .. }) = &result
                {
                    assert_ne!(reason, PANICKED, "{format:?} panicked");
                }
                if let Ok(segments) = result {
                    assert!(segments.iter().all(|s| !s.text.is_empty()));
                }
            }
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::config;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/documents/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A real file, damaged: some bytes overwritten, a run of bytes removed, the end cut off.
    fn mutated(name: &'static str) -> impl Strategy<Value = Vec<u8>> {
        let original = fixture(name);
        let len = original.len();
        (
            proptest::collection::vec((0..len, any::<u8>()), 0..8),
            proptest::option::of((0..len, 0usize..64)),
            prop_oneof![Just(len), 0..=len],
        )
            .prop_map(move |(writes, removed, cut)| {
                let mut bytes = original.clone();
                for (at, b) in writes {
                    bytes[at] = b;
                }
                if let Some((at, n)) = removed {
                    let end = (at + n).min(bytes.len());
                    bytes.drain(at..end);
                }
                bytes.truncate(cut);
                bytes
            })
    }

    fn format() -> impl Strategy<Value = Format> {
        prop_oneof![
            Just(Format::Pdf),
            Just(Format::Docx),
            Just(Format::Pptx),
            Just(Format::Text),
            Just(Format::Srt),
            Just(Format::Vtt),
            Just(Format::Ass),
        ]
    }

    /// The extractor ran to an answer of its own: no parser panicked (the guard in
    /// [`extract_noting`] would turn a panic into this error, so seeing it means one did), and
    /// the output stays within its budget.
    fn answered(result: Result<Extracted, ExtractError>) -> Result<(), TestCaseError> {
        match result {
            Err(ExtractError::Malformed { reason, .. }) => {
                prop_assert_ne!(reason, PANICKED);
            }
            Ok(e) => {
                prop_assert!(e.segments.len() <= MAX_SEGMENTS);
                let bytes: usize = e.segments.iter().map(|s| s.text.len()).sum();
                prop_assert!(bytes <= MAX_OUTPUT_BYTES);
                for s in &e.segments {
                    prop_assert!(!s.text.is_empty());
                }
            }
            Err(_) => {}
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        /// Any bytes, read as any format.
        #[test]
        fn props_extract_any_bytes(f in format(), bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            answered(extract_noting(f, &bytes))?;
        }

        /// Damaged PDF files.
        #[test]
        fn props_extract_mutated_pdf(bytes in mutated("lesson.pdf")) {
            answered(extract_noting(Format::Pdf, &bytes))?;
        }

        /// Damaged DOCX files.
        #[test]
        fn props_extract_mutated_docx(bytes in mutated("lesson.docx")) {
            answered(extract_noting(Format::Docx, &bytes))?;
        }

        /// Damaged PPTX files.
        #[test]
        fn props_extract_mutated_pptx(bytes in mutated("lesson.pptx")) {
            answered(extract_noting(Format::Pptx, &bytes))?;
        }
    }
}
