//! Search (issue 3, in progress): Chinese-aware analysis for the tantivy index.
//!
//! So far: [`analyzer`], the tokenizers the index will register — words (jieba), character
//! n-grams for substrings and single characters, and pinyin — over text folded to half-width,
//! simplified and lower case; and [`extract`], the text of documents (PDF, DOCX, PPTX), plain
//! text and subtitles (SRT, WebVTT) as segments with their page or time. The index, its
//! following of the change log and the query API come next.

pub mod analyzer;
pub mod extract;
pub mod index;
