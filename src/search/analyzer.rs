//! Chinese text analysis: folding, word segmentation, character n-grams and pinyin, as tantivy
//! tokenizers (through `tantivy-tokenizer-api`, the interface tantivy 0.27 takes).
//!
//! Every tokenizer first folds the text ([`fold`]): full-width forms to half-width, the
//! ideographic space to a space, traditional characters to simplified (so 黨史 finds 党史), and
//! lower case. Token offsets always point into the original text, so highlighting marks what the
//! reader sees.
//!
//! - [`WordTokenizer`]: jieba's words in order (consecutive positions, so phrases work), plus at
//!   the same position the shorter dictionary words inside a long one (中国农业发展银行 → 农业,
//!   银行 …) and the parts of mixed words (e支部 → e, 支部; 2021年 → 2021, 年; 5g → 5, g).
//! - [`NgramTokenizer`]: each pair of neighbouring Han characters at its first character's
//!   position, the last character of a run of Han characters alone, and runs of letters or
//!   digits whole: what word segmentation loses (a query inside a word, a single character) is
//!   found here, ranked below whole words. Every character begins exactly one token, so a single
//!   character is found as a prefix.
//! - [`CharTokenizer`]: each Han character alone, for the long texts (descriptions, pages and
//!   cues), indexed without positions or counts: a query of one character reads one list of
//!   lessons there, not every pair the character begins.
//! - [`PinyinTokenizer`]: for each word, its syllables at consecutive positions (`dang shi`), and
//!   at the word's first position its whole pinyin (`dangshi`) and its initials (`ds`).
//!
//! The jieba dictionary is loaded once per process and shared by every tokenizer clone.

use jieba_rs::Jieba;
use pinyin::{ToPinyin, ToPinyinMulti};
use std::sync::OnceLock;
use tantivy_tokenizer_api::{Token, TokenStream, Tokenizer};

/// The names the index registers the tokenizers under.
pub const WORDS: &str = "zh_words";
pub const NGRAMS: &str = "zh_ngrams";
pub const PINYIN: &str = "zh_pinyin";
pub const CHARS: &str = "zh_chars";

/// The one jieba instance of the process (its dictionary is about 20 MiB in memory).
fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Text after folding, with where each of its characters came from.
#[derive(Debug, Clone)]
pub struct Folded {
    pub text: String,
    /// For each byte offset where a character of `text` starts: the byte range of the original
    /// character it came from. Indexed by the folded character's position.
    origin: Vec<(usize, usize)>,
    /// The byte offset in `text` of each character, and `text.len()` at the end.
    starts: Vec<usize>,
}

impl Folded {
    /// The original byte range of folded bytes `from..to` (character boundaries).
    fn original(&self, from: usize, to: usize) -> (usize, usize) {
        let first = self.starts.partition_point(|s| *s < from);
        let last = self.starts.partition_point(|s| *s < to);
        match (
            self.origin.get(first),
            last.checked_sub(1).and_then(|l| self.origin.get(l)),
        ) {
            (Some(a), Some(b)) => (a.0, b.1),
            _ => (0, 0),
        }
    }
}

/// One character, folded except for traditional → simplified (which needs its neighbours).
fn fold_char(c: char) -> char {
    let c = match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Folds `text` (see the module documentation), keeping each character's origin.
pub fn fold(text: &str) -> Folded {
    let width: String = text.chars().map(fold_char).collect();
    let simplified = fast2s::convert(&width);
    // fast2s maps character for character; should that ever change, skip the conversion rather
    // than misplace every offset.
    let same_count = simplified.chars().count() == width.chars().count();
    let chars: Box<dyn Iterator<Item = char>> = if same_count {
        Box::new(simplified.chars())
    } else {
        Box::new(width.chars())
    };
    let mut out = Folded {
        text: String::with_capacity(text.len()),
        origin: Vec::with_capacity(text.len()),
        starts: Vec::with_capacity(text.len() + 1),
    };
    for (c, (at, original)) in chars.zip(text.char_indices()) {
        out.starts.push(out.text.len());
        out.text.push(c);
        out.origin.push((at, at + original.len_utf8()));
    }
    out.starts.push(out.text.len());
    out
}

pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// Whether a token is worth indexing: it holds a letter, a digit or a Han character.
fn meaningful(word: &str) -> bool {
    word.chars().any(char::is_alphanumeric)
}

/// The runs of one kind (Han, ASCII letters, ASCII digits, other letters) in `word`, with their
/// byte ranges, when there is more than one.
fn parts(word: &str) -> Vec<(usize, usize)> {
    fn kind(c: char) -> u8 {
        if is_han(c) {
            0
        } else if c.is_ascii_alphabetic() {
            1
        } else if c.is_ascii_digit() {
            2
        } else if c.is_alphanumeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<(u8, usize, usize)> = Vec::new();
    for (i, c) in word.char_indices() {
        let k = kind(c);
        match runs.last_mut() {
            Some(last) if last.0 == k => last.2 = i + c.len_utf8(),
            _ => runs.push((k, i, i + c.len_utf8())),
        }
    }
    runs.retain(|r| r.0 != 4);
    // A Han run inside a mixed word is already split into words by jieba; letters and digits
    // are what needs separating.
    if runs.len() < 2 {
        return Vec::new();
    }
    runs.into_iter().map(|(_, a, b)| (a, b)).collect()
}

/// A token over folded bytes `from..to`, placed at `position`.
fn token(folded: &Folded, from: usize, to: usize, position: usize) -> Token {
    let (offset_from, offset_to) = folded.original(from, to);
    Token {
        offset_from,
        offset_to,
        position,
        text: folded.text[from..to].to_owned(),
        position_length: 1,
    }
}

/// The word tokens of `text` (see [`WordTokenizer`]).
pub fn words(text: &str) -> Vec<Token> {
    let folded = fold(text);
    let mut out = Vec::new();
    let mut position = 0;
    for w in jieba().cut(&folded.text, true) {
        if !meaningful(w.word) {
            continue;
        }
        out.push(token(&folded, w.byte_start, w.byte_end, position));
        // Shorter dictionary words inside a long word, at its position.
        if w.word.chars().count() > 2 {
            for sub in jieba().cut_for_search(w.word, false) {
                if sub.word.len() < w.word.len() && meaningful(sub.word) {
                    let from = w.byte_start + sub.byte_start;
                    out.push(token(&folded, from, from + sub.word.len(), position));
                }
            }
        }
        for (a, b) in parts(w.word) {
            out.push(token(&folded, w.byte_start + a, w.byte_start + b, position));
        }
        position += 1;
    }
    out
}

/// The words of a query, in order, without the extra tokens (for building term and phrase
/// queries).
pub fn query_words(text: &str) -> Vec<String> {
    let folded = fold(text);
    jieba()
        .cut(&folded.text, true)
        .into_iter()
        .filter(|w| meaningful(w.word))
        .map(|w| w.word.to_owned())
        .collect()
}

/// The n-gram tokens of `text` (see [`NgramTokenizer`]).
pub fn ngrams(text: &str) -> Vec<Token> {
    let folded = fold(text);
    let chars: Vec<(usize, char)> = folded.text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if is_han(c) {
            // The pair this character starts, or the character alone at the end of a run: each
            // character then begins exactly one token, so a search for one character is a
            // prefix search (`search::index::sequence`), and the index holds half the tokens it
            // would with every character also alone.
            match chars.get(i + 1) {
                Some(&(next_at, next)) if is_han(next) => {
                    out.push(token(&folded, at, next_at + next.len_utf8(), i));
                }
                _ => out.push(token(&folded, at, at + c.len_utf8(), i)),
            }
            i += 1;
        } else if c.is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].1.is_alphanumeric() && !is_han(chars[i].1) {
                i += 1;
            }
            let end = chars.get(i).map_or(folded.text.len(), |c| c.0);
            out.push(token(&folded, at, end, start));
        } else {
            i += 1;
        }
    }
    out
}

/// The Han characters of `text`, folded, each alone (see [`CharTokenizer`]).
pub fn chars(text: &str) -> Vec<Token> {
    let folded = fold(text);
    folded
        .text
        .char_indices()
        .filter(|(_, c)| is_han(*c))
        .enumerate()
        .map(|(i, (at, c))| token(&folded, at, at + c.len_utf8(), i))
        .collect()
}

/// The readings of one character without tones, its usual one first, without repeats (tones
/// aside, many heteronyms read alike); empty when it has none.
fn readings(c: char) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    if let Some(multi) = c.to_pinyin_multi() {
        for p in multi {
            let plain = typed(p.plain());
            if !out.contains(&plain) && out.len() < MAX_READINGS {
                out.push(plain);
            }
        }
    }
    out
}

/// A toneless syllable as it is typed: `ü` as `v` (`lü` → `lv`), as input methods take it.
pub fn typed(syllable: &'static str) -> &'static str {
    match syllable {
        "lü" => "lv",
        "nü" => "nv",
        "lüe" => "lve",
        "nüe" => "nve",
        "lün" => "lvn",
        other => other,
    }
}

/// At most this many readings of one character are indexed.
const MAX_READINGS: usize = 3;
/// At most this many spellings of one word (or suggestion) are indexed.
const MAX_SPELLINGS: usize = 8;

/// The spellings of a run of characters, each a list of syllables: the usual readings first,
/// then for each character with another reading, that reading with the others usual (银行 →
/// yin xing, yin hang). Characters without pinyin (letters, digits) are kept as they are.
fn spellings(chars: &[char]) -> Vec<Vec<String>> {
    let readings: Vec<Vec<String>> = chars
        .iter()
        .map(|&c| {
            let r = readings(c);
            if r.is_empty() {
                vec![c.to_string()]
            } else {
                r.into_iter().map(str::to_owned).collect()
            }
        })
        .collect();
    let usual: Vec<String> = readings.iter().map(|r| r[0].clone()).collect();
    let mut out = vec![usual.clone()];
    'outer: for (i, r) in readings.iter().enumerate() {
        for other in r.iter().skip(1) {
            if out.len() >= MAX_SPELLINGS {
                break 'outer;
            }
            let mut s = usual.clone();
            s[i] = other.clone();
            out.push(s);
        }
    }
    out
}

/// Whether a character has a pinyin reading.
fn has_pinyin(c: char) -> bool {
    c.to_pinyin().is_some()
}

/// The pinyin tokens of `text` (see [`PinyinTokenizer`]).
pub fn pinyin_tokens(text: &str) -> Vec<Token> {
    let folded = fold(text);
    let mut out = Vec::new();
    let mut position = 0;
    let mut words_read: Vec<WordRead> = Vec::new();
    for w in jieba().cut(&folded.text, true) {
        if !meaningful(w.word) {
            continue;
        }
        let (offset_from, offset_to) = folded.original(w.byte_start, w.byte_end);
        let at = |text: String, position: usize| Token {
            offset_from,
            offset_to,
            position,
            text,
            position_length: 1,
        };
        let han: Vec<char> = w.word.chars().filter(|&c| has_pinyin(c)).collect();
        if han.is_empty() {
            // Letters and digits: as they are.
            out.push(at(w.word.to_owned(), position));
            position += 1;
            continue;
        }
        words_read.push((
            position,
            offset_from,
            offset_to,
            spellings(&han).swap_remove(0),
        ));
        let mut seen: Vec<String> = Vec::new();
        for spelling in spellings(&han) {
            let whole = spelling.concat();
            let initials: String = spelling.iter().filter_map(|s| s.chars().next()).collect();
            for t in [Some(whole), (han.len() > 1).then_some(initials)]
                .into_iter()
                .flatten()
            {
                if !seen.contains(&t) {
                    out.push(at(t.clone(), position));
                    seen.push(t);
                }
            }
        }
        for &c in &han {
            for r in readings(c) {
                // A word of one character: its syllables are its whole pinyin, already added.
                if han.len() > 1 || !seen.iter().any(|s| s == r) {
                    out.push(at(r.to_owned(), position));
                }
            }
            position += 1;
        }
    }
    // People type a phrase's pinyin or initials without regard to where jieba cut it (防汛抗旱 is
    // two words, typed `fxkh`): two neighbouring words together, and a short text whole.
    let joined = |words: &[WordRead]| {
        let syllables: Vec<&String> = words.iter().flat_map(|w| &w.3).collect();
        let whole: String = syllables.iter().map(|s| s.as_str()).collect();
        let initials: String = syllables.iter().filter_map(|s| s.chars().next()).collect();
        (whole, initials)
    };
    let mut spans: Vec<&[WordRead]> = words_read.windows(2).collect();
    let total: usize = words_read.iter().map(|w| w.3.len()).sum();
    if words_read.len() > 2 && total <= MAX_WHOLE_SYLLABLES {
        spans.push(&words_read);
    }
    for span in spans {
        let (whole, initials) = joined(span);
        let (first, last) = (&span[0], &span[span.len() - 1]);
        for text in [whole, initials] {
            out.push(Token {
                offset_from: first.1,
                offset_to: last.2,
                position: first.0,
                text,
                position_length: 1,
            });
        }
    }
    out
}

/// A word as read for pinyin: its position, its original offsets and its usual syllables.
type WordRead = (usize, usize, usize, Vec<String>);

/// A text of at most this many syllables is also indexed by its whole pinyin and initials.
const MAX_WHOLE_SYLLABLES: usize = 12;

/// The keys a suggestion is found by: its folded text, and the whole pinyin and initials of each
/// of its spellings (党史学习教育 → dangshixuexijiaoyu, dsxxjy).
pub fn suggestion_keys(text: &str) -> Vec<String> {
    let folded = fold(text).text;
    let chars: Vec<char> = folded.chars().filter(|c| c.is_alphanumeric()).collect();
    let mut keys = vec![folded.trim().to_owned()];
    for spelling in spellings(&chars) {
        for key in [
            spelling.concat(),
            spelling.iter().filter_map(|s| s.chars().next()).collect(),
        ] {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.retain(|k| !k.is_empty());
    keys
}

/// `text` as HTML: escaped, with every occurrence of a needle (compared after folding, so 黨史
/// in the text is marked for 党史) in `<mark>`, and cut to about `max_chars` characters around
/// where the marks are densest. `None` when no needle occurs.
pub fn highlight(text: &str, needles: &[String], max_chars: usize) -> Option<String> {
    let folded = fold(text);
    let mut marks: Vec<(usize, usize)> = Vec::new();
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        for (at, m) in folded.text.match_indices(needle.as_str()) {
            marks.push(folded.original(at, at + m.len()));
        }
    }
    if marks.is_empty() {
        return None;
    }
    marks.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(marks.len());
    for (a, b) in marks {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    // The window: starting a little before some mark, the one whose window holds most marks.
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let char_at = |byte: usize| bounds.partition_point(|&b| b < byte);
    let (mut from, mut to) = (0, bounds.len());
    if bounds.len() > max_chars {
        let lead = max_chars / 5;
        let mut best = (0, 0);
        for m in &merged {
            let start = char_at(m.0).saturating_sub(lead);
            let end = (start + max_chars).min(bounds.len());
            let count = merged
                .iter()
                .filter(|n| char_at(n.0) >= start && char_at(n.1) <= end)
                .count();
            if count > best.1 {
                best = (start, count);
            }
        }
        from = best.0.min(bounds.len().saturating_sub(max_chars));
        to = (from + max_chars).min(bounds.len());
    }
    let byte = |c: usize| bounds.get(c).copied().unwrap_or(text.len());
    let (from_b, to_b) = (byte(from), byte(to));
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = from_b;
    for (a, b) in merged {
        let (a, b) = (a.max(from_b), b.min(to_b));
        if a >= b {
            continue;
        }
        escape_into(&mut out, &text[at..a]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[a..b]);
        out.push_str("</mark>");
        at = b;
    }
    escape_into(&mut out, &text[at..to_b]);
    if to < bounds.len() {
        out.push('…');
    }
    Some(out)
}

/// The first `max_chars` characters of `text`, HTML-escaped.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let cut: String = text.chars().take(max_chars).collect();
    escape_into(&mut out, &cut);
    if cut.len() < text.len() {
        out.push('…');
    }
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A token stream over tokens computed up front (the texts are fields, not books).
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl VecTokenStream {
    fn new(tokens: Vec<Token>) -> Self {
        Self { tokens, next: 0 }
    }
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// Words (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct WordTokenizer;

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(words(text))
    }
}

/// Character n-grams (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct NgramTokenizer;

impl Tokenizer for NgramTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(ngrams(text))
    }
}

/// Single Han characters (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct CharTokenizer;

impl Tokenizer for CharTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(chars(text))
    }
}

/// Pinyin (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct PinyinTokenizer;

impl Tokenizer for PinyinTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(pinyin_tokens(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: &[Token]) -> Vec<&str> {
        tokens.iter().map(|t| t.text.as_str()).collect()
    }

    fn stream(mut t: impl Tokenizer, text: &str) -> Vec<(String, usize)> {
        let mut s = t.token_stream(text);
        let mut out = Vec::new();
        while let Some(tok) = s.next() {
            out.push((tok.text.clone(), tok.position));
        }
        out
    }

    #[test]
    fn folding_makes_full_width_traditional_and_capitals_alike() {
        assert_eq!(fold("黨史學習").text, "党史学习");
        assert_eq!(fold("ＡＢＣ１２３　Ｅ支部").text, "abc123 e支部");
        assert_eq!(fold("中国").text, "中国");
        let f = fold("ＸＹ黨");
        assert_eq!(
            f.original(0, 2),
            (0, 6),
            "two full-width letters are six bytes"
        );
        assert_eq!(f.original(2, 5), (6, 9));
    }

    #[test]
    fn words_keep_their_order_and_point_into_the_original_text() {
        let text = "新时代乡村振兴战略解读";
        let tokens = words(text);
        let main: Vec<&str> = {
            let mut seen = std::collections::BTreeMap::new();
            for t in &tokens {
                seen.entry(t.position).or_insert(t.text.as_str());
            }
            seen.into_values().collect()
        };
        assert!(main.contains(&"乡村") && main.contains(&"振兴"), "{main:?}");
        for t in &tokens {
            let original = &text[t.offset_from..t.offset_to];
            assert_eq!(fold(original).text, t.text, "offsets of {t:?}");
        }
        // Traditional input gives the same words, with offsets into the traditional text.
        let trad = words("黨史學習教育");
        assert!(texts(&trad).contains(&"党史"), "{:?}", texts(&trad));
        assert_eq!(
            &"黨史學習教育"[trad[0].offset_from..trad[0].offset_to],
            "黨史"
        );
    }

    #[test]
    fn long_words_also_yield_the_words_inside_them() {
        let tokens = words("中国农业发展银行");
        let t = texts(&tokens);
        assert!(t.contains(&"农业") && t.contains(&"银行"), "{t:?}");
    }

    #[test]
    fn mixed_words_are_found_by_each_part() {
        for (text, parts) in [
            ("e支部组织生活", vec!["e", "支部"]),
            ("5G网络", vec!["5", "g"]),
            ("2021年工作报告", vec!["2021", "年"]),
        ] {
            let t = words(text);
            for p in &parts {
                assert!(
                    texts(&t).contains(p),
                    "{text}: {p} missing from {:?}",
                    texts(&t)
                );
            }
        }
    }

    #[test]
    fn ngrams_are_the_pairs_and_a_runs_last_character() {
        let t = ngrams("党史学习 5G 党");
        assert_eq!(texts(&t), vec!["党史", "史学", "学习", "习", "5g", "党"]);
        assert_eq!(t[0].position, 0);
        assert_eq!(t[1].position, 1);
        assert_eq!(t[3].position, 3);
    }

    #[test]
    fn pinyin_gives_syllables_whole_words_and_initials() {
        let t = stream(PinyinTokenizer, "党史");
        assert!(t.contains(&("dangshi".into(), 0)), "{t:?}");
        assert!(t.contains(&("ds".into(), 0)), "{t:?}");
        assert!(
            t.contains(&("dang".into(), 0)) && t.contains(&("shi".into(), 1)),
            "{t:?}"
        );
        let t = stream(PinyinTokenizer, "乡村振兴");
        let words: Vec<&str> = t.iter().map(|(w, _)| w.as_str()).collect();
        assert!(
            words.contains(&"xiangcun") && words.contains(&"zhenxing"),
            "{words:?}"
        );
        assert!(words.contains(&"xc") && words.contains(&"zx"), "{words:?}");
    }

    #[test]
    fn tokenizers_stream_what_the_functions_compute() {
        assert_eq!(
            stream(NgramTokenizer, "党课"),
            vec![("党课".into(), 0), ("课".into(), 1)]
        );
        assert_eq!(
            stream(CharTokenizer, "黨課 5G，课"),
            vec![("党".into(), 0), ("课".into(), 1), ("课".into(), 2)]
        );
        assert!(stream(WordTokenizer, "").is_empty());
        assert!(stream(WordTokenizer, "，。！？——").is_empty());
        assert_eq!(query_words("党史 学习"), vec!["党史", "学习"]);
    }

    #[test]
    fn neighbouring_words_and_short_texts_are_also_read_together() {
        let words: Vec<String> = stream(PinyinTokenizer, "防汛抗旱")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert!(words.contains(&"fxkh".to_owned()), "{words:?}");
        assert!(words.contains(&"fangxunkanghan".to_owned()), "{words:?}");
        let words: Vec<String> = stream(PinyinTokenizer, "党史学习教育")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert!(words.contains(&"dsxxjy".to_owned()), "{words:?}");
        assert!(words.contains(&"dangshixuexi".to_owned()), "{words:?}");
    }

    #[test]
    fn heteronyms_are_indexed_with_each_reading() {
        let words: Vec<String> = stream(PinyinTokenizer, "银行")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert!(
            words.contains(&"yinhang".to_owned()) && words.contains(&"yinxing".to_owned()),
            "{words:?}"
        );
        let words: Vec<String> = stream(PinyinTokenizer, "重庆")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert!(words.contains(&"chongqing".to_owned()), "{words:?}");
        assert!(words.contains(&"cq".to_owned()), "{words:?}");
    }

    #[test]
    fn suggestion_keys_are_the_text_its_pinyin_and_initials() {
        let keys = suggestion_keys("党史学习教育");
        assert_eq!(keys[0], "党史学习教育");
        assert!(keys.contains(&"dangshixuexijiaoyu".to_owned()), "{keys:?}");
        assert!(keys.contains(&"dsxxjy".to_owned()), "{keys:?}");
        assert!(suggestion_keys("5G应用").contains(&"5gyingyong".to_owned()));
        assert!(suggestion_keys("").is_empty());
    }

    #[test]
    fn highlights_mark_folded_matches_and_escape_the_rest() {
        assert_eq!(
            highlight("<b>黨史</b>學習 & 党史", &["党史".to_owned()], 100).unwrap(),
            "&lt;b&gt;<mark>黨史</mark>&lt;/b&gt;學習 &amp; <mark>党史</mark>"
        );
        assert_eq!(highlight("乡村振兴", &["党史".to_owned()], 100), None);
        // Overlapping needles make one mark.
        assert_eq!(
            highlight("党史学习", &["党史学".to_owned(), "史学习".to_owned()], 100).unwrap(),
            "<mark>党史学习</mark>"
        );
        // A long text is cut around the match.
        let long = format!("{}乡村振兴{}", "甲".repeat(300), "乙".repeat(300));
        let h = highlight(&long, &["振兴".to_owned()], 40).unwrap();
        assert!(h.starts_with('…') && h.ends_with('…'), "{h}");
        assert!(h.contains("<mark>振兴</mark>"));
        assert_eq!(h.chars().filter(|c| *c == '甲' || *c == '乙').count(), 36);
        assert_eq!(excerpt("a<b", 2), "a&lt;…");
    }
}
