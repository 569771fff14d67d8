//! Search (issue 3, in progress): Chinese-aware analysis for the tantivy index.
//!
//! So far: [`analyzer`], the tokenizers the index will register — words (jieba), character
//! n-grams for substrings and single characters, and pinyin — over text folded to half-width,
//! simplified and lower case. The index, its following of the change log and the query API come
//! next.

pub mod analyzer;
pub mod index;
