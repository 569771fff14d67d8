//! Search: a tantivy index of the lessons, derived from SQL (and from text extracted from
//! documents and subtitles), following the change log.
//!
//! - [`analyzer`]: the tokenizers (jieba words, character n-grams, pinyin) over folded text, and
//!   snippet highlighting.
//! - [`extract`]: text out of PDF, DOCX, PPTX, plain text, SRT and WebVTT.
//! - [`isolate`]: extraction in a child process with a memory and time limit.
//! - [`source`]: what the index holds of a lesson, read from SQL, extracting what was not yet.
//! - [`query`]: the query language (words, quoted phrases, `-` exclusions).
//! - [`spelling`]: pinyin as typed: the spellings input methods confuse, and one slip of a key.
//! - [`facets`]: facet counts over every match, by ordinal.
//! - [`index`]: the index itself: following the change log, searching, suggesting, rebuilding.

pub mod analyzer;
pub mod extract;
pub mod facets;
pub mod index;
pub mod isolate;
pub mod query;
pub mod source;
pub mod spelling;
