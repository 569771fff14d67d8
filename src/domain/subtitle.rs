//! Subtitles: one cue model (start, end, text) for SubRip, WebVTT and simple ASS/SSA files, the
//! readers that turn a file into cues, the normalized WebVTT Lectern serves, and the rules for a
//! subtitle's language and origin.
//!
//! Two readers share one parser. [`parse`] is lenient (search extraction reads whatever it can:
//! a cue whose timing does not parse is skipped); [`read`] is the import rule and refuses a file
//! that is not text, has a timing that does not parse or ends before it starts, or has no cue at
//! all, naming the line. Text is decoded by the one rule, [`crate::domain::text::decode`].
//!
//! Rationale for a hand-written reader rather than a crate: the crates that read all three
//! formats (`aspasia`, `subparse`) parse "loosely" and answer a malformed file with an empty
//! result instead of an error, so they cannot say which line is wrong, and Lectern needs both
//! the lenient and the strict reading of the same file. SRT, WebVTT cue blocks and ASS
//! `Dialogue:` lines are line-oriented and small enough to read by hand, bounded and panic-free.
//!
//! Invariants: every cue has `0 <= start_ms <= end_ms` and non-empty text without markup (tags,
//! ASS override blocks and character references are resolved), with `\n` between its lines and
//! no blank line; [`to_webvtt`] escapes `&`, `<` and `>` so no cue text can become markup or a
//! timing line.

use super::Invalid;
use super::text::{self, Decoded};

/// The largest subtitle file read (and the largest accepted as a `subtitle` asset).
pub const MAX_SUBTITLE_BYTES: u64 = 8 * 1024 * 1024;

/// A subtitle file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubtitleFormat {
    Srt,
    Vtt,
    /// Advanced SubStation Alpha and SubStation Alpha (`.ass`, `.ssa`): only the `[Events]`
    /// section's `Dialogue:` lines are read.
    Ass,
}

impl SubtitleFormat {
    /// The format of a file by its (lower-case) extension.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "srt" => Some(Self::Srt),
            "vtt" => Some(Self::Vtt),
            "ass" | "ssa" => Some(Self::Ass),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Srt => "srt",
            Self::Vtt => "vtt",
            Self::Ass => "ass",
        }
    }

    pub fn parse_name(s: &str) -> Option<Self> {
        Self::from_extension(s)
    }

    /// The media type a file of this format is stored with, for its decoded `encoding`.
    pub fn content_type(self, encoding: &str) -> String {
        let essence = match self {
            Self::Srt => "application/x-subrip",
            Self::Vtt => "text/vtt",
            Self::Ass => "text/x-ssa",
        };
        format!("{essence}; charset={}", encoding.to_ascii_lowercase())
    }
}

/// One timed piece of text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cue {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Plain text, lines separated by `\n`; never empty.
    pub text: String,
}

/// Something wrong at one line of a file (1-based, counted after line ends are normalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub line: usize,
    pub reason: String,
}

/// What [`parse`] found: the cues it could read, and the faults it passed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub cues: Vec<Cue>,
    pub faults: Vec<Fault>,
}

/// A subtitle file that [`read`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtitle {
    pub format: SubtitleFormat,
    /// The encoding the file was decoded from (see [`text::decode`]).
    pub encoding: &'static str,
    pub cues: Vec<Cue>,
}

/// Why a subtitle file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct Broken {
    /// The line at fault, when one is.
    pub line: Option<usize>,
    pub reason: String,
}

/// Reads the cues of `text`, leniently: see the module documentation.
///
/// Tolerated: CRLF or CR line ends, a byte order mark, `mm:ss.ttt` without hours, commas or dots
/// before the milliseconds, no blank line at the end or between cues.
pub fn parse(format: SubtitleFormat, text: &str) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Parsed::default();
    match format {
        SubtitleFormat::Srt => cues::read(&text, false, &mut out),
        SubtitleFormat::Vtt => cues::read(&text, true, &mut out),
        SubtitleFormat::Ass => ass::read(&text, &mut out),
    }
    out
}

/// Decodes and reads a subtitle file strictly: the import rule (see the module documentation).
pub fn read(format: SubtitleFormat, bytes: &[u8]) -> Result<Subtitle, Broken> {
    if bytes.len() as u64 > MAX_SUBTITLE_BYTES {
        return Err(Broken {
            line: None,
            reason: format!("the file is larger than {MAX_SUBTITLE_BYTES} bytes"),
        });
    }
    let Decoded {
        text,
        encoding,
        malformed,
    } = text::decode(bytes);
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    if malformed {
        let at = text.find('\u{FFFD}').unwrap_or(0);
        return Err(Broken {
            line: Some(line_of(at)),
            reason: "the file is not text in UTF-8, UTF-16 (with a byte order mark) or GB18030"
                .to_owned(),
        });
    }
    if let Some((at, c)) = text
        .char_indices()
        .find(|&(_, c)| !text::allowed(c) && c != '\u{feff}')
    {
        return Err(Broken {
            line: Some(line_of(at)),
            reason: format!(
                "holds U+{:04X}, a control character: the file looks binary, not like subtitles",
                c as u32
            ),
        });
    }
    let parsed = parse(format, &text);
    if let Some(fault) = parsed.faults.into_iter().next() {
        return Err(Broken {
            line: Some(fault.line),
            reason: fault.reason,
        });
    }
    if parsed.cues.is_empty() {
        return Err(Broken {
            line: None,
            reason: match format {
                SubtitleFormat::Ass => "no cue was found: an ASS file needs `Dialogue:` lines \
                                        in its [Events] section"
                    .to_owned(),
                _ => "no cue was found: a cue is a timing line such as \
                      `00:00:01,000 --> 00:00:04,000` followed by its text"
                    .to_owned(),
            },
        });
    }
    Ok(Subtitle {
        format,
        encoding,
        cues: parsed.cues,
    })
}

/// Writes `cues` as a WebVTT file: a `WEBVTT` header, cues in order of their start (a stable
/// sort: cues starting together keep their order), `HH:MM:SS.mmm` times, and text with `&`,
/// `<` and `>` escaped as character references.
pub fn to_webvtt(cues: &[Cue]) -> String {
    let mut sorted: Vec<&Cue> = cues.iter().collect();
    sorted.sort_by_key(|c| c.start_ms);
    let mut out = String::from("WEBVTT\n");
    for cue in sorted {
        let lines: Vec<String> = cue
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(escape)
            .collect();
        if lines.is_empty() {
            continue;
        }
        out.push('\n');
        out.push_str(&format_time(cue.start_ms));
        out.push_str(" --> ");
        out.push_str(&format_time(cue.end_ms));
        out.push('\n');
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// `HH:MM:SS.mmm` (hours take more digits when needed).
pub fn format_time(ms: i64) -> String {
    let ms = ms.max(0);
    let (hours, rest) = (ms / 3_600_000, ms % 3_600_000);
    format!(
        "{hours:02}:{:02}:{:02}.{:03}",
        rest / 60_000,
        rest % 60_000 / 1000,
        rest % 1000
    )
}

fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// `hh:mm:ss.ttt`, `mm:ss.ttt`, with `,` or `.` before one to three digits of fraction (two,
/// centiseconds, in ASS files).
pub fn parse_time(text: &str) -> Option<i64> {
    let (clock, fraction) = match text.rsplit_once(['.', ',']) {
        Some((clock, fraction)) => (clock, fraction),
        None => (text, "0"),
    };
    if fraction.is_empty() || fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut millis: i64 = fraction.parse().ok()?;
    for _ in fraction.len()..3 {
        millis *= 10;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h, m, s] => (number(h, 9)?, number(m, 2)?, number(s, 2)?),
        [m, s] => (0, number(m, 2)?, number(s, 2)?),
        _ => return None,
    };
    if minutes >= 60 || seconds >= 60 {
        return None;
    }
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

/// A non-empty run of at most `max_digits` ASCII digits.
fn number(text: &str, max_digits: usize) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Trims every line of `text`, drops blank ones, and joins them with `\n`.
fn tidy_lines(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Adds a cue whose times are checked, unless its text is empty.
fn push_cue(out: &mut Parsed, start_ms: i64, end_ms: i64, text: String) {
    if !text.is_empty() {
        out.cues.push(Cue {
            start_ms,
            end_ms,
            text,
        });
    }
}

/// Checks a cue's two times; a fault at `line` otherwise.
fn timing(
    line_no: usize,
    start: &str,
    end: &str,
    out: &mut Parsed,
    expected: &str,
) -> Option<(i64, i64)> {
    match (parse_time(start.trim()), parse_time(end.trim())) {
        (Some(s), Some(e)) if e >= s => Some((s, e)),
        (Some(_), Some(_)) => {
            out.faults.push(Fault {
                line: line_no,
                reason: format!(
                    "the cue ends ({}) before it starts ({})",
                    end.trim(),
                    start.trim()
                ),
            });
            None
        }
        _ => {
            out.faults.push(Fault {
                line: line_no,
                reason: format!(
                    "the timing `{} --> {}` does not parse (expected {expected})",
                    start.trim(),
                    end.trim()
                ),
            });
            None
        }
    }
}

/// SubRip and WebVTT cue blocks.
mod cues {
    use super::{Parsed, push_cue, tidy_lines, timing};

    /// What the line being read belongs to.
    #[derive(PartialEq)]
    enum State {
        /// Between blocks: a line here is a cue identifier, or the start of a WebVTT block.
        Between,
        /// The text lines of a cue.
        Cue,
        /// A WebVTT header, NOTE, STYLE or REGION block, or lines that belong to no cue.
        Skip,
    }

    struct Open {
        start: i64,
        end: i64,
        lines: Vec<String>,
    }

    const EXPECTED: &str = "hh:mm:ss,mmm --> hh:mm:ss,mmm";

    /// `vtt` selects the WebVTT rules (a header, blocks to skip, any identifier line).
    pub(super) fn read(text: &str, vtt: bool, out: &mut Parsed) {
        let mut state = State::Between;
        let mut cue: Option<Open> = None;
        for (index, line) in text.split('\n').enumerate() {
            let line_no = index + 1;
            if index == 0 && vtt && line.trim_start().starts_with("WEBVTT") {
                state = State::Skip;
                continue;
            }
            if let Some((left, right)) = line.split_once("-->") {
                // A timing line ends the cue before it, parsed or not.
                if let Some(mut done) = cue.take() {
                    // Without a blank line between cues, this cue's identifier was read as the
                    // last text line of the previous cue: an SRT counter, or in WebVTT any line
                    // right before a timing line.
                    if state == State::Cue
                        && done.lines.last().is_some_and(|last| {
                            vtt || last.trim().bytes().all(|b| b.is_ascii_digit())
                        })
                    {
                        done.lines.pop();
                    }
                    emit(done, out);
                }
                let end = right.split_whitespace().next().unwrap_or("");
                match timing(line_no, left, end, out, EXPECTED) {
                    Some((start, end)) => {
                        cue = Some(Open {
                            start,
                            end,
                            lines: Vec::new(),
                        });
                        state = State::Cue;
                    }
                    None => state = State::Skip,
                }
                continue;
            }
            if line.trim().is_empty() {
                if let Some(done) = cue.take() {
                    emit(done, out);
                }
                state = State::Between;
                continue;
            }
            match state {
                State::Cue => {
                    if let Some(current) = cue.as_mut() {
                        current.lines.push(line.to_owned());
                    }
                }
                State::Between => {
                    let word = line.split_whitespace().next().unwrap_or("");
                    if vtt && matches!(word, "NOTE" | "STYLE" | "REGION") {
                        state = State::Skip;
                    }
                    // Otherwise a cue identifier (or garbage): dropped either way.
                }
                State::Skip => {}
            }
        }
        if let Some(done) = cue.take() {
            emit(done, out);
        }
    }

    fn emit(cue: Open, out: &mut Parsed) {
        let text = tidy_lines(&clean(&cue.lines.join("\n")));
        push_cue(out, cue.start, cue.end, text);
    }

    /// Removes markup (`<i>`, `<c.yellow>`, `<v Name>`, `<00:01.000>`, `{\an8}`) and decodes
    /// character references (`&amp;`, `&#x4E2D;`).
    pub(super) fn clean(text: &str) -> String {
        let mut stripped = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(['<', '{']) {
            let (before, from) = rest.split_at(at);
            stripped.push_str(before);
            let close = if from.starts_with('<') { '>' } else { '}' };
            let is_tag = from.starts_with('<') || from.starts_with("{\\");
            match from.find(close) {
                Some(end) if is_tag => rest = from.get(end + 1..).unwrap_or(""),
                _ => {
                    // A lone `<` or `{`, or braces that are not an override: literal text.
                    stripped.push_str(from.get(..1).unwrap_or(""));
                    rest = from.get(1..).unwrap_or("");
                }
            }
        }
        stripped.push_str(rest);
        decode_references(&stripped)
    }

    fn decode_references(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            let (before, from) = rest.split_at(at);
            out.push_str(before);
            let decoded = from
                .get(1..)
                .and_then(|after| {
                    after
                        .find(';')
                        .filter(|&end| end <= 10)
                        .map(|end| (after, end))
                })
                .and_then(|(after, end)| Some((reference(after.get(..end)?)?, end + 2)));
            match decoded {
                Some((c, consumed)) => {
                    out.push(c);
                    rest = from.get(consumed..).unwrap_or("");
                }
                None => {
                    out.push('&');
                    rest = from.get(1..).unwrap_or("");
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn reference(name: &str) -> Option<char> {
        let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
            u32::from_str_radix(hex, 16).ok()?
        } else if let Some(decimal) = name.strip_prefix('#') {
            decimal.parse().ok()?
        } else {
            return match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "lrm" | "rlm" => Some(' '),
                _ => None,
            };
        };
        // A reference must not smuggle in what the text rule refuses (NUL, controls).
        char::from_u32(code).filter(|c| super::text::allowed(*c) && *c != '\r')
    }
}

/// The `[Events]` section of ASS/SSA files.
mod ass {
    use super::{Fault, Parsed, push_cue, tidy_lines, timing};

    /// The field order of ASS v4+ events when the section has no `Format:` line.
    const DEFAULT_FORMAT: [&str; 10] = [
        "layer", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text",
    ];

    pub(super) fn read(text: &str, out: &mut Parsed) {
        let mut in_events = false;
        let mut format: Vec<String> = DEFAULT_FORMAT.iter().map(|s| (*s).to_owned()).collect();
        for (index, line) in text.split('\n').enumerate() {
            let line_no = index + 1;
            let trimmed = line.trim();
            if trimmed.starts_with('[') && trimmed.ends_with(']') {
                in_events = trimmed.eq_ignore_ascii_case("[events]");
                continue;
            }
            if !in_events {
                continue;
            }
            let Some((key, value)) = trimmed.split_once(':') else {
                continue;
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "format" => {
                    format = value
                        .split(',')
                        .map(|f| f.trim().to_ascii_lowercase())
                        .collect();
                }
                "dialogue" => dialogue(line_no, value, &format, out),
                _ => {}
            }
        }
    }

    fn dialogue(line_no: usize, value: &str, format: &[String], out: &mut Parsed) {
        let position = |name: &str| format.iter().position(|f| f == name);
        let (Some(start), Some(end), Some(text)) =
            (position("start"), position("end"), position("text"))
        else {
            out.faults.push(Fault {
                line: line_no,
                reason: "the [Events] Format line names no Start, End or Text field".to_owned(),
            });
            return;
        };
        // The text is the last field and may itself hold commas.
        let fields: Vec<&str> = value.splitn(format.len(), ',').collect();
        if fields.len() < format.len() || text + 1 != format.len() {
            out.faults.push(Fault {
                line: line_no,
                reason: format!(
                    "a Dialogue line needs {} comma-separated fields, this one has {}",
                    format.len(),
                    fields.len()
                ),
            });
            return;
        }
        let Some((start_ms, end_ms)) = timing(
            line_no,
            fields[start],
            fields[end],
            out,
            "h:mm:ss.cc for Start and End",
        ) else {
            return;
        };
        push_cue(out, start_ms, end_ms, tidy_lines(&clean(fields[text])));
    }

    /// Removes override blocks (`{\pos(400,570)\b1}`) and turns `\N` and `\n` into line breaks
    /// and `\h` into a space.
    pub(super) fn clean(text: &str) -> String {
        let mut stripped = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('{') {
            let (before, from) = rest.split_at(at);
            stripped.push_str(before);
            match from.find('}') {
                Some(end) if from.starts_with("{\\") => rest = from.get(end + 1..).unwrap_or(""),
                _ => {
                    stripped.push('{');
                    rest = from.get(1..).unwrap_or("");
                }
            }
        }
        stripped.push_str(rest);
        stripped
            .replace("\\N", "\n")
            .replace("\\n", "\n")
            .replace("\\h", " ")
    }
}

/// Where a subtitle came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Uploaded by an editor.
    Editor,
    /// A machine transcript of the lesson's speech.
    Machine,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Editor => "editor",
            Self::Machine => "machine",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "editor" => Some(Self::Editor),
            "machine" => Some(Self::Machine),
            _ => None,
        }
    }
}

/// A subtitle's language: a BCP 47 tag of the form `language[-Script][-REGION]` (`zh`,
/// `zh-CN`, `zh-Hans`, `en-US`), in its canonical case (`zh-hans` becomes `zh-Hans`). Variants
/// and extensions are refused: no player needs them for subtitles, and one spelling per
/// language keeps `/subtitles/{lang}.vtt` unambiguous.
pub fn language(s: &str) -> Result<String, Invalid> {
    let bad = || {
        Invalid::new(
            "language",
            "must be a language tag such as zh, zh-CN, zh-Hans or en",
        )
    };
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or("");
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let mut tag = primary.to_ascii_lowercase();
    let mut script_done = false;
    let mut region_done = false;
    for part in parts {
        let alpha = part.bytes().all(|b| b.is_ascii_alphabetic());
        let digits = part.bytes().all(|b| b.is_ascii_digit());
        if part.len() == 4 && alpha && !script_done && !region_done {
            let lower = part.to_ascii_lowercase();
            tag.push('-');
            tag.push_str(&lower[..1].to_ascii_uppercase());
            tag.push_str(&lower[1..]);
            script_done = true;
        } else if ((part.len() == 2 && alpha) || (part.len() == 3 && digits)) && !region_done {
            tag.push('-');
            tag.push_str(&part.to_ascii_uppercase());
            region_done = true;
        } else {
            return Err(bad());
        }
    }
    Ok(tag)
}

/// Languages recognised from a filename's tag (the primary subtag), so that `intro.hd.srt` is
/// not read as a language.
const FILENAME_LANGUAGES: &[&str] = &[
    "zh", "en", "ja", "ko", "fr", "de", "es", "ru", "ar", "pt", "it", "vi", "th", "mn", "bo", "ug",
    "ii", "za", "kk", "ky",
];

/// The language a filename names, by the rule documented in the README: the last dotted part
/// before the extension (`lecture.zh.srt`, `第一讲.zh-CN.vtt`), either an alias common in
/// subtitle filenames — `chs`, `sc`, `gb`, `zhs`, `简体`: `zh-Hans`; `cht`, `tc`, `big5`,
/// `zht`, `繁体`, `繁體`: `zh-Hant`; `chi`, `zho`, `chn`, `cn`, `中文`: `zh`; `eng`, `英文`:
/// `en` — or a tag of [`language`] whose language is one of a short list (Chinese, English,
/// the languages of China's autonomous regions and the common foreign ones).
pub fn language_from_filename(filename: &str) -> Option<String> {
    let (stem, _ext) = filename.rsplit_once('.')?;
    let (_, part) = stem.rsplit_once('.')?;
    let lower = part.trim().to_lowercase();
    let alias = match lower.as_str() {
        "chs" | "sc" | "gb" | "zhs" | "简体" | "简" => Some("zh-Hans"),
        "cht" | "tc" | "big5" | "zht" | "繁体" | "繁體" | "繁" => Some("zh-Hant"),
        "chi" | "zho" | "chn" | "cn" | "中文" => Some("zh"),
        "eng" | "英文" => Some("en"),
        _ => None,
    };
    if let Some(tag) = alias {
        return Some(tag.to_owned());
    }
    let tag = language(&lower).ok()?;
    let primary = tag.split('-').next().unwrap_or("");
    FILENAME_LANGUAGES.contains(&primary).then_some(tag)
}

/// The name of a language shown to people, in the language itself; a machine transcript says
/// so.
pub fn label(language: &str, origin: Origin) -> String {
    let mut parts = language.split('-');
    let primary = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    let name = match primary {
        "zh" if rest
            .iter()
            .any(|p| matches!(*p, "Hant" | "TW" | "HK" | "MO")) =>
        {
            "繁體中文"
        }
        "zh" if rest.iter().any(|p| matches!(*p, "Hans" | "CN" | "SG")) => "简体中文",
        "zh" => "中文",
        "en" => "English",
        "ja" => "日本語",
        "ko" => "한국어",
        "fr" => "Français",
        "de" => "Deutsch",
        "es" => "Español",
        "ru" => "Русский",
        "bo" => "བོད་ཡིག",
        "ug" => "ئۇيغۇرچە",
        "mn" => "Монгол",
        _ => language,
    };
    match origin {
        Origin::Editor => name.to_owned(),
        Origin::Machine => format!("{name}（机器转写）"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cues(format: SubtitleFormat, text: &str) -> Vec<(i64, i64, String)> {
        parse(format, text)
            .cues
            .into_iter()
            .map(|c| (c.start_ms, c.end_ms, c.text))
            .collect()
    }

    #[test]
    fn srt_keeps_lines_and_drops_markup() {
        let srt = "1\r\n00:00:01,000 --> 00:00:04,500\r\n<i>同志们好</i>，今天我们学习\r\n{\\an8}乡村振兴战略\r\n\r\n2\r\n00:00:05,000 --> 00:00:07,250 X1:100\r\n党员 &amp; 群众 &lt;一起&gt;\r\n";
        assert_eq!(
            cues(SubtitleFormat::Srt, srt),
            vec![
                (
                    1_000,
                    4_500,
                    "同志们好，今天我们学习\n乡村振兴战略".to_owned()
                ),
                (5_000, 7_250, "党员 & 群众 <一起>".to_owned()),
            ]
        );
    }

    #[test]
    fn ass_dialogue_lines_become_cues() {
        let ass = "[Script Info]\nTitle: 党课\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname\nStyle: Default,SimHei\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\nComment: 0,0:00:00.00,0:00:01.00,Default,,0,0,0,,不显示\nDialogue: 0,0:00:01.18,0:00:03.50,Default,,0,0,0,,{\\pos(400,570)\\b1}乡村振兴，{\\i1}产业{\\i0}兴旺\\N第二行\nDialogue: 0,1:02:03.00,1:02:04.05,Default,,0,0,0,,a < b\\hc\n";
        assert_eq!(
            cues(SubtitleFormat::Ass, ass),
            vec![
                (1_180, 3_500, "乡村振兴，产业兴旺\n第二行".to_owned()),
                (3_723_000, 3_724_050, "a < b c".to_owned()),
            ]
        );
        // SSA v4: another field order (Marked first), read by the Format line.
        let ssa = "[Events]\nFormat: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\nDialogue: Marked=0,0:00:02.00,0:00:03.00,Default,,0000,0000,0000,,同志们好\n";
        assert_eq!(
            cues(SubtitleFormat::Ass, ssa),
            vec![(2_000, 3_000, "同志们好".to_owned())]
        );
    }

    #[test]
    fn broken_files_are_refused_with_the_line() {
        let bad_time =
            "1\n00:00:01,000 --> 00:00:02,000\n好\n\n2\n00:00:0x,000 --> 00:00:04,000\n坏\n";
        let e = read(SubtitleFormat::Srt, bad_time.as_bytes()).unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.to_string().starts_with("line 6: the timing"), "{e}");

        let backwards = "WEBVTT\n\n00:05.000 --> 00:04.000\n倒了\n";
        let e = read(SubtitleFormat::Vtt, backwards.as_bytes()).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("before it starts"), "{e}");

        let e = read(SubtitleFormat::Srt, "只有文字，没有时间\n".as_bytes()).unwrap_err();
        assert_eq!(e.line, None);
        assert!(e.reason.contains("no cue"), "{e}");

        let e = read(
            SubtitleFormat::Srt,
            b"1\n00:00:01,000 --> 00:00:02,000\nok\x00\x01\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("binary"), "{e}");

        let e = read(SubtitleFormat::Srt, b"1\n\xff\xfe\xff\n").unwrap_err();
        assert!(e.reason.contains("not text"), "{e}");

        let ass = "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\nDialogue: 0,0:00:01.00\n";
        let e = read(SubtitleFormat::Ass, ass.as_bytes()).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(read(SubtitleFormat::Ass, b"[Script Info]\nTitle: x\n").is_err());
    }

    #[test]
    fn the_same_cues_in_any_encoding_read_the_same() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,000\r\n乡村振兴\r\n";
        let (gb, _, _) = encoding_rs::GB18030.encode(srt);
        let mut le = vec![0xff, 0xfe];
        le.extend(srt.encode_utf16().flat_map(u16::to_le_bytes));
        let utf8 = read(SubtitleFormat::Srt, srt.as_bytes()).unwrap();
        let gb = read(SubtitleFormat::Srt, &gb).unwrap();
        let le = read(SubtitleFormat::Srt, &le).unwrap();
        assert_eq!(
            (utf8.encoding, gb.encoding, le.encoding),
            ("UTF-8", "gb18030", "UTF-16LE")
        );
        assert_eq!(utf8.cues, gb.cues);
        assert_eq!(utf8.cues, le.cues);
    }

    #[test]
    fn webvtt_output_is_normalized_and_escaped() {
        let cues = vec![
            Cue {
                start_ms: 3_723_004,
                end_ms: 3_725_000,
                text: "后一条".to_owned(),
            },
            Cue {
                start_ms: 1_000,
                end_ms: 2_500,
                text: "a < b && c --> d\n第二行".to_owned(),
            },
        ];
        let vtt = to_webvtt(&cues);
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\na &lt; b &amp;&amp; c --&gt; d\n第二行\n\n01:02:03.004 --> 01:02:05.000\n后一条\n"
        );
        // Read back, it gives the same cues (in order).
        let back = parse(SubtitleFormat::Vtt, &vtt).cues;
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].text, "a < b && c --> d\n第二行");
        assert_eq!(back[1].start_ms, 3_723_004);
        assert_eq!(format_time(360_000_000), "100:00:00.000");
    }

    #[test]
    fn times_parse_leniently_and_refuse_garbage() {
        assert_eq!(parse_time("00:00:01,000"), Some(1_000));
        assert_eq!(parse_time("00:00:01.5"), Some(1_500));
        assert_eq!(parse_time("0:00:01.18"), Some(1_180));
        assert_eq!(parse_time("01:02.003"), Some(62_003));
        assert_eq!(parse_time("100:00:00.000"), Some(360_000_000));
        assert_eq!(parse_time("00:61:00.000"), None);
        assert_eq!(parse_time("aa:bb:cc.ddd"), None);
        assert_eq!(parse_time("99999999999999999999:00:00.000"), None);
        assert_eq!(parse_time(""), None);
        assert_eq!(
            cues::clean("a < b {not a tag} &bogus; &#0;"),
            "a < b {not a tag} &bogus; &#0;"
        );
    }

    #[test]
    fn languages_are_canonical_and_filenames_name_them() {
        assert_eq!(language("zh").unwrap(), "zh");
        assert_eq!(language("ZH-cn").unwrap(), "zh-CN");
        assert_eq!(language("zh-hans-cn").unwrap(), "zh-Hans-CN");
        assert_eq!(language("es-419").unwrap(), "es-419");
        for bad in [
            "",
            "z",
            "zh_CN",
            "zh-CN-CN",
            "chinese",
            "zh-x-private",
            "1a",
            "zh-",
        ] {
            assert!(language(bad).is_err(), "{bad}");
        }
        let cases = [
            ("lecture.zh.srt", Some("zh")),
            ("第一讲.zh-CN.vtt", Some("zh-CN")),
            ("第一讲.chs.ass", Some("zh-Hans")),
            ("a.SC.srt", Some("zh-Hans")),
            ("a.cht.srt", Some("zh-Hant")),
            ("a.chi.srt", Some("zh")),
            ("a.eng.srt", Some("en")),
            ("a.en-US.srt", Some("en-US")),
            ("a.简体.srt", Some("zh-Hans")),
            ("lecture.srt", None),
            ("intro.hd.srt", None),
            ("v1.2.srt", None),
        ];
        for (name, expected) in cases {
            assert_eq!(language_from_filename(name).as_deref(), expected, "{name}");
        }
        assert_eq!(label("zh-Hans", Origin::Editor), "简体中文");
        assert_eq!(label("zh-CN", Origin::Machine), "简体中文（机器转写）");
        assert_eq!(label("zh", Origin::Editor), "中文");
        assert_eq!(label("xx", Origin::Editor), "xx");
    }

    #[test]
    fn hostile_input_never_panics_and_cues_keep_their_invariants() {
        let pieces: [&[u8]; 14] = [
            b"-->",
            b"\n",
            b"\r\n",
            b"00:00:01,000",
            b" --> ",
            b"[Events]\n",
            b"Dialogue: ",
            b",",
            b"Format: Start, Text\n",
            b"{\\",
            b"}",
            b"&#x",
            "乡村".as_bytes(),
            b"\xff",
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..3_000 {
            let mut bytes = Vec::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.extend_from_slice(pieces[(x % pieces.len() as u64) as usize]);
            }
            for format in [
                SubtitleFormat::Srt,
                SubtitleFormat::Vtt,
                SubtitleFormat::Ass,
            ] {
                let parsed = parse(format, &text::decode(&bytes).text);
                for cue in &parsed.cues {
                    assert!(0 <= cue.start_ms && cue.start_ms <= cue.end_ms, "{cue:?}");
                    assert!(!cue.text.trim().is_empty());
                }
                let _ = read(format, &bytes);
                let vtt = to_webvtt(&parsed.cues);
                assert_eq!(
                    parse(SubtitleFormat::Vtt, &vtt).cues.len(),
                    parsed.cues.len()
                );
            }
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile};
    use proptest::prelude::*;

    fn format() -> impl Strategy<Value = SubtitleFormat> {
        prop_oneof![
            Just(SubtitleFormat::Srt),
            Just(SubtitleFormat::Vtt),
            Just(SubtitleFormat::Ass)
        ]
    }

    /// Text that looks like a subtitle file: numbers, timings, arrows, markup, references and
    /// ASS fields, with every kind of line end.
    fn subtitle_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("WEBVTT".to_owned()),
            Just("[Events]".to_owned()),
            Just("Format: Layer, Start, End, Style, Text".to_owned()),
            (0u64..400_000_000, 0u64..400_000_000).prop_map(|(a, b)| format!(
                "{} --> {}",
                format_time(a as i64),
                format_time(b as i64)
            )),
            hostile("0123456789:,.-> \n\r&#;<>/{}\\Nbiu", 40),
            "Dialogue: [0-9],[0-9:.]{0,12},[0-9:.]{0,12},[A-Za-z]{0,5},[ -~]{0,20}",
        ];
        (
            proptest::collection::vec(line, 0..12),
            prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        )
            .prop_map(|(lines, nl)| lines.join(nl))
    }

    fn check_cues(cues: &[Cue]) -> Result<(), TestCaseError> {
        for c in cues {
            prop_assert!(0 <= c.start_ms && c.start_ms <= c.end_ms, "{:?}", c);
            prop_assert!(!c.text.is_empty(), "{:?}", c);
            prop_assert!(
                !c.text.contains("\n\n") && !c.text.contains('\r'),
                "{:?}",
                c
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        /// The lenient reader reads any text, and every cue it gives keeps the invariants of
        /// the module documentation.
        #[test]
        fn props_subtitle_parse_keeps_cue_invariants(
            f in format(),
            text in prop_oneof![subtitle_text(), any::<String>()],
        ) {
            check_cues(&parse(f, &text).cues)?;
        }

        /// The strict reader takes any bytes (invalid UTF-8, NUL, UTF-16 marks) and either
        /// refuses them or gives at least one cue, each keeping the invariants.
        #[test]
        fn props_subtitle_read_of_any_bytes(
            f in format(),
            bytes in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..400),
                subtitle_text().prop_map(String::into_bytes),
            ],
        ) {
            if let Ok(s) = read(f, &bytes) {
                prop_assert!(!s.cues.is_empty());
                check_cues(&s.cues)?;
            }
        }

        /// Timings: anything parses to a moment `>= 0` or to nothing, and what `format_time`
        /// writes reads back.
        #[test]
        fn props_subtitle_time_round_trips(
            text in prop_oneof![hostile("0123456789:,.", 30), any::<String>()],
            ms in 0i64..360_000_000_000,
        ) {
            if let Some(t) = parse_time(&text) {
                prop_assert!(t >= 0);
            }
            prop_assert_eq!(parse_time(&format_time(ms)), Some(ms));
        }

        /// The WebVTT Lectern serves reads back as the cues it was made from, whatever
        /// characters they hold (`&`, `<` and `>` are escaped).
        #[test]
        fn props_subtitle_webvtt_round_trips(
            cues in proptest::collection::vec(
                (0i64..100_000_000, 0i64..100_000, "[a-z&<>;#]([a-z &<>;#]{0,10}[a-z&<>;#])?(\n[a-z&<>]{1,5}){0,2}"),
                1..5,
            ),
        ) {
            let mut cues: Vec<Cue> = cues
                .into_iter()
                .map(|(start_ms, len, text)| Cue { start_ms, end_ms: start_ms + len, text })
                .collect();
            let back = parse(SubtitleFormat::Vtt, &to_webvtt(&cues));
            // `to_webvtt` writes the cues in order of their start, by a stable sort.
            cues.sort_by_key(|c| c.start_ms);
            prop_assert_eq!(back.cues, cues);
        }
    }
}
