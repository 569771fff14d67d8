//! The search index: tantivy, derived from SQL and disposable, following the change log.
//!
//! Layout: the configured folder holds a file `CURRENT` naming the generation in use and one
//! folder per generation, each a tantivy index. `lectern reindex` builds a new generation beside
//! the one serving, then switches `CURRENT`; a running service notices within its next follow
//! step and swaps, so searches never stop.
//!
//! Invariants:
//! - The change-log position an index reflects is stored in its own commit (the payload),
//!   written in the same commit as the documents: after a crash (kill -9 during a commit
//!   included) the follower resumes exactly where the last commit left off. Applying a change is
//!   idempotent (delete every document of the lesson, add them again from SQL), so what was not
//!   committed is applied again, never twice.
//! - An index that cannot be used (missing, failing its checksums, or of another schema version)
//!   is replaced by a fresh generation that follows the change log from the start.
//! - Every lesson is indexed whatever its status, with its status and its organisation's
//!   ancestors; a search applies the caller's `visibility::ReadScope` as a filter, so drafts reach
//!   only those who may read them.
//! - One document per lesson: all its fields and the text of its documents and subtitles,
//!   indexed once (for matching and ranking), with its pages and cues stored, not indexed (for
//!   telling where in the lesson the match is). Its id is how a lesson is replaced.
//! - The follower reads SQL only: it never reads stored bytes nor waits for an extraction. Text
//!   not extracted yet is queued as a job, which appends a change once it is recorded.

use super::analyzer::{
    self, CHARS, CharTokenizer, NGRAMS, NgramTokenizer, PINYIN, PinyinTokenizer, WORDS,
    WordTokenizer,
};
use super::facets::{FacetTally, Tally};
use super::query::{Clause, Parsed, Synonyms};
use super::source::{self, LessonDoc};
use super::spelling;
use crate::db::Db;
use crate::db::jobs::NewJob;
use crate::domain::job::JobKind;
use crate::domain::visibility::ReadScope;
use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, InvertedIndexRangeQuery, Occur, PhrasePrefixQuery,
    PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TantivyDocument,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Term};

/// Bumped whenever the schema or the analysis changes: an index of another version is rebuilt.
const SCHEMA_VERSION: &str = "lectern-search-9";
/// The file naming the generation in use.
const CURRENT: &str = "CURRENT";
/// Change-log entries applied per commit, unless configured otherwise.
pub const BATCH: i64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index folder: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("search index: {0}")]
    Other(String),
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    lesson_id: Field,
    doc_type: Field,
    title: Field,
    title_ngrams: Field,
    title_pinyin: Field,
    description: Field,
    description_ngrams: Field,
    tags: Field,
    tags_pinyin: Field,
    lecturer: Field,
    lecturer_pinyin: Field,
    series: Field,
    series_pinyin: Field,
    /// Tags, lecturer, series and region names as n-grams: substrings and phrases.
    meta_ngrams: Field,
    region_names: Field,
    /// The text of the lesson's documents and subtitles.
    transcript_ngrams: Field,
    kind: Field,
    status: Field,
    ancestors: Field,
    tag_exact: Field,
    lecturer_exact: Field,
    series_exact: Field,
    /// The region code's subtree prefixes (`44`, `4401`, `440106`), for region filters.
    region: Field,
    /// The lesson's date (recorded on, else published, else created), Unix milliseconds.
    date: Field,
    facets: Field,
    /// Keys for suggestions: folded titles, tags, lecturers and series, and their pinyin.
    suggest: Field,
    /// The lesson's pages and cues ([`StoredSegment`]s as JSON), stored only: their text is
    /// searched through `transcript_ngrams`, and read back to say where in the lesson a hit matches.
    segments: Field,
    /// The Han characters of the description, pages and cues, each alone, without positions or
    /// counts: where a word of one character is looked for in them (one list to read, where the
    /// n-gram fields would give every pair the character begins).
    text_chars: Field,
    /// How many pages and cues the lesson has.
    segment_count: Field,
}

const LESSON: &str = "lesson";

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Positions only where phrases are matched (`sequence`: n-gram fields); words and pinyin
    // are matched by term, so their positions would only take room (a third of the index).
    let text = |tokenizer: &str, stored: bool| {
        let record = match tokenizer {
            NGRAMS => IndexRecordOption::WithFreqsAndPositions,
            CHARS => IndexRecordOption::Basic,
            _ => IndexRecordOption::WithFreqs,
        };
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(record),
        );
        if stored { o.set_stored() } else { o }
    };
    let f = Fields {
        // A column, so a hit's id is read without opening the stored document (which holds
        // the lesson's cues: kilobytes to decompress).
        lesson_id: b.add_text_field("lesson_id", STRING | FAST),
        doc_type: b.add_text_field("doc_type", STRING),
        title: b.add_text_field("title", text(WORDS, true)),
        title_ngrams: b.add_text_field("title_ngrams", text(NGRAMS, false)),
        title_pinyin: b.add_text_field("title_pinyin", text(PINYIN, false)),
        description: b.add_text_field("description", text(WORDS, false)),
        description_ngrams: b.add_text_field("description_ngrams", text(NGRAMS, false)),
        tags: b.add_text_field("tags", text(WORDS, true)),
        tags_pinyin: b.add_text_field("tags_pinyin", text(PINYIN, false)),
        lecturer: b.add_text_field("lecturer", text(WORDS, true)),
        lecturer_pinyin: b.add_text_field("lecturer_pinyin", text(PINYIN, false)),
        series: b.add_text_field("series", text(WORDS, true)),
        series_pinyin: b.add_text_field("series_pinyin", text(PINYIN, false)),
        meta_ngrams: b.add_text_field("meta_ngrams", text(NGRAMS, false)),
        region_names: b.add_text_field("region_names", text(WORDS, false)),
        transcript_ngrams: b.add_text_field("transcript_ngrams", text(NGRAMS, false)),
        text_chars: b.add_text_field("text_chars", text(CHARS, false)),
        kind: b.add_text_field("kind", STRING),
        status: b.add_text_field("status", STRING),
        ancestors: b.add_text_field("ancestors", STRING),
        tag_exact: b.add_text_field("tag_exact", STRING),
        lecturer_exact: b.add_text_field("lecturer_exact", STRING),
        series_exact: b.add_text_field("series_exact", STRING),
        region: b.add_text_field("region", STRING),
        date: b.add_i64_field("date", INDEXED | FAST),
        facets: b.add_facet_field("facets", FacetOptions::default()),
        suggest: b.add_text_field("suggest", STRING),
        segments: b.add_text_field("segments", STORED),
        segment_count: b.add_u64_field("segment_count", FAST),
    };
    (b.build(), f)
}

/// The commit payload: the schema version and the change-log position.
fn payload(position: i64) -> String {
    format!("{SCHEMA_VERSION} {position}")
}

fn parse_payload(p: Option<&str>) -> Option<i64> {
    let (version, position) = p?.split_once(' ')?;
    (version == SCHEMA_VERSION).then(|| position.parse().ok())?
}

/// Filters of a search; each is optional.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    /// A region's subtree prefix (`domain::lesson::RegionCode::subtree_prefix`): the region and
    /// every region below it.
    pub region_prefix: Option<String>,
    /// The lesson's date, Unix milliseconds, inclusive bounds.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

impl Filters {
    /// Whether any filter is set.
    pub fn any(&self) -> bool {
        self.kind.is_some()
            || self.tag.is_some()
            || self.lecturer.is_some()
            || self.series.is_some()
            || self.region_prefix.is_some()
            || self.from_ms.is_some()
            || self.to_ms.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Relevance,
    Newest,
}

/// What to search for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub query: Parsed,
    pub filters: Filters,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
    /// How many matching pages or cues to give per hit.
    pub segments_per_hit: usize,
    /// With no words and no filter, match every lesson in scope (browsing) instead of none.
    pub everything: bool,
    /// Match lessons that have all words but one, and not all of them (a fallback when a full
    /// search finds little); with fewer than two words, nothing more than a full search.
    pub partial: bool,
    /// The installation's synonyms: a word or phrase also matches the other terms of its groups.
    pub synonyms: Arc<Synonyms>,
}

impl Request {
    /// The folded texts to mark in snippets: what must match and its synonyms, longest first.
    pub fn needles(&self) -> Vec<String> {
        let mut out = self.query.needles();
        for c in &self.query.must {
            for s in self.synonyms.of(c) {
                let (Clause::Word(t) | Clause::Phrase(t)) = s;
                out.push(t.clone());
            }
        }
        out.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
        out.dedup();
        out
    }
}

/// A lesson found.
#[derive(Debug, Clone)]
pub struct Hit {
    pub id: String,
    /// The relevance score; `None` when sorted by date.
    pub score: Option<f32>,
    /// Matching pages and cues, best first.
    pub segments: Vec<SegmentHit>,
}

/// A page or cue that matches, with its text.
#[derive(Debug, Clone)]
pub struct SegmentHit {
    pub asset_id: String,
    pub page: Option<i64>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub text: String,
}

/// Counts of the matching lessons by value, most frequent first.
#[derive(Debug, Clone, Default)]
pub struct Facets {
    pub kind: Vec<(String, u64)>,
    pub tag: Vec<(String, u64)>,
    pub series: Vec<(String, u64)>,
    pub lecturer: Vec<(String, u64)>,
    pub year: Vec<(String, u64)>,
    /// Region codes one level below the region filtered on (provinces without a filter).
    pub region: Vec<(String, u64)>,
}

#[derive(Debug, Clone)]
pub struct Results {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
    /// Where the time went, for the `Server-Timing` header.
    pub timings: Timings,
}

/// How long the parts of a search took.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Matching, ranking, counting and facets over the lesson documents.
    pub lessons: std::time::Duration,
    /// Finding the matching pages and cues of the hits.
    pub segments: std::time::Duration,
}

/// A suggestion for what is being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub text: String,
    /// "title", "tag", "lecturer" or "series".
    pub source: &'static str,
}

/// What an operator sees of the index.
#[derive(Debug, Clone)]
pub struct Status {
    pub generation: String,
    pub position: i64,
    pub lessons: u64,
    pub segments: u64,
    pub bytes: u64,
}

/// One generation: a tantivy index in its own folder.
struct Generation {
    name: String,
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    /// `None` after a failed write, until the next write opens a new one: tantivy kills a writer
    /// whose worker failed (a full disk, say), and a killed writer never writes again.
    writer: Mutex<Option<IndexWriter>>,
    f: Fields,
    /// The change-log position of what searches see: set once the reader has reloaded a commit.
    served: AtomicI64,
}

/// The search index of a service (or of `lectern reindex`): the generation in use.
pub struct SearchIndex {
    dir: PathBuf,
    current: RwLock<Arc<Generation>>,
    /// Change-log entries applied per commit.
    batch: i64,
    /// See [`SearchIndex::following`].
    following: std::sync::atomic::AtomicBool,
    /// The synonyms as last read from SQL, and when (see [`SearchIndex::synonyms`]).
    synonyms: Mutex<Option<(std::time::Instant, Arc<Synonyms>)>>,
}

/// How long synonyms read from SQL are used before they are read again: what another node saved
/// is in force here within this time (on the node that saved, at once).
pub const SYNONYMS_FOR: std::time::Duration = std::time::Duration::from_secs(5);

fn new_generation_name() -> String {
    format!("g{}", uuid::Uuid::now_v7().simple())
}

/// Writes `CURRENT` atomically.
fn write_current(dir: &Path, name: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!("{CURRENT}.tmp"));
    std::fs::write(&tmp, name)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(CURRENT))
}

fn read_current(dir: &Path) -> Option<String> {
    let name = std::fs::read_to_string(dir.join(CURRENT)).ok()?;
    let name = name.trim();
    (name.starts_with('g') && name.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| name.to_owned())
}

/// A writer for `index`: one indexing thread, 48 MB of buffer.
fn new_writer(index: &Index) -> Result<IndexWriter, SearchError> {
    Ok(index.writer_with_num_threads(1, 48_000_000)?)
}

impl Generation {
    /// Opens generation `name` in `dir`, or `None` when it is missing, fails its checksums or is of
    /// another schema version.
    fn open_existing(dir: &Path, name: &str) -> Result<Option<Self>, SearchError> {
        let path = dir.join(name);
        if !path.join("meta.json").exists() {
            return Ok(None);
        }
        let index = Index::open_in_dir(&path)?;
        let metas = index.load_metas()?;
        if metas.payload.is_some() && parse_payload(metas.payload.as_deref()).is_none() {
            return Ok(None);
        }
        let (schema, f) = schema();
        if index.schema() != schema {
            return Ok(None);
        }
        let damaged = index.validate_checksum()?;
        if !damaged.is_empty() {
            tracing::warn!(files = ?damaged, "search index files fail their checksums");
            return Ok(None);
        }
        Self::with(name, path, index, f).map(Some)
    }

    fn create(dir: &Path, name: &str) -> Result<Self, SearchError> {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        let (schema, f) = schema();
        // zstd for the stored fields (mostly the lessons' pages and cues): a fraction of lz4's
        // size, for a decompression cost paid only by the twenty hits of a page.
        let settings = tantivy::IndexSettings {
            docstore_compression: tantivy::store::Compressor::Zstd(
                tantivy::store::ZstdCompressor::default(),
            ),
            ..Default::default()
        };
        let index = Index::builder()
            .schema(schema)
            .settings(settings)
            .create_in_dir(&path)?;
        Self::with(name, path, index, f)
    }

    fn with(name: &str, dir: PathBuf, mut index: Index, f: Fields) -> Result<Self, SearchError> {
        // A search runs over the segments on every core: one query is answered sooner, and
        // under load the segments of all queries share the same threads.
        index.set_default_multithread_executor()?;
        let t = index.tokenizers();
        t.register(WORDS, WordTokenizer);
        t.register(NGRAMS, NgramTokenizer);
        t.register(CHARS, CharTokenizer);
        t.register(PINYIN, PinyinTokenizer);
        let writer = new_writer(&index)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let served =
            AtomicI64::new(parse_payload(index.load_metas()?.payload.as_deref()).unwrap_or(0));
        Ok(Self {
            name: name.to_owned(),
            dir,
            index,
            reader,
            writer: Mutex::new(Some(writer)),
            f,
            served,
        })
    }

    /// The change-log position of the last commit: where following resumes.
    fn committed(&self) -> Result<i64, SearchError> {
        Ok(parse_payload(self.index.load_metas()?.payload.as_deref()).unwrap_or(0))
    }

    /// The change-log position of what searches see.
    fn position(&self) -> i64 {
        self.served.load(Ordering::Acquire)
    }

    /// Replaces the documents of the given lessons and commits with `position`.
    fn apply(
        &self,
        docs: Vec<(String, Option<LessonDoc>)>,
        position: i64,
    ) -> Result<(), SearchError> {
        let f = self.f;
        let mut slot = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let writer = match &mut *slot {
            Some(w) => w,
            None => slot.insert(new_writer(&self.index)?),
        };
        let written = (|| {
            for (id, doc) in docs {
                writer.delete_term(Term::from_field_text(f.lesson_id, &id));
                if let Some(d) = doc {
                    writer.add_document(self.lesson_document(&d))?;
                }
            }
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(&payload(position));
            commit.commit()?;
            Ok::<_, SearchError>(())
        })();
        if let Err(e) = written {
            // Nothing of this batch is committed, and the writer may be dead: drop it (which
            // releases the index's lock) so the next attempt starts from the last commit with a
            // fresh one.
            *slot = None;
            return Err(e);
        }
        drop(slot);
        self.reader.reload()?;
        self.served.store(position, Ordering::Release);
        Ok(())
    }

    fn lesson_document(&self, d: &LessonDoc) -> TantivyDocument {
        let f = self.f;
        let l = &d.lesson;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.lesson_id, &l.id);
        doc.add_text(f.doc_type, LESSON);
        for field in [f.title, f.title_ngrams, f.title_pinyin] {
            doc.add_text(field, &l.title);
        }
        doc.add_text(f.description, &l.description);
        doc.add_text(f.description_ngrams, &l.description);
        doc.add_text(f.text_chars, &l.description);
        doc.add_text(f.kind, l.kind.as_str());
        doc.add_text(f.status, l.status.as_str());
        doc.add_facet(
            f.facets,
            tantivy::schema::Facet::from_path(["kind", l.kind.as_str()]),
        );
        let mut keys: Vec<String> = analyzer::suggestion_keys(&l.title);
        for t in &l.tags {
            for field in [f.tags, f.tags_pinyin, f.tag_exact, f.meta_ngrams] {
                doc.add_text(field, t);
            }
            doc.add_facet(
                f.facets,
                tantivy::schema::Facet::from_path(["tag", t.as_str()]),
            );
            keys.extend(analyzer::suggestion_keys(t));
        }
        if let Some(x) = &l.lecturer {
            for field in [
                f.lecturer,
                f.lecturer_pinyin,
                f.lecturer_exact,
                f.meta_ngrams,
            ] {
                doc.add_text(field, x);
            }
            doc.add_facet(
                f.facets,
                tantivy::schema::Facet::from_path(["lecturer", x.as_str()]),
            );
            keys.extend(analyzer::suggestion_keys(x));
        }
        if let Some(x) = &l.series {
            for field in [f.series, f.series_pinyin, f.series_exact, f.meta_ngrams] {
                doc.add_text(field, x);
            }
            doc.add_facet(
                f.facets,
                tantivy::schema::Facet::from_path(["series", x.as_str()]),
            );
            keys.extend(analyzer::suggestion_keys(x));
        }
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            doc.add_text(f.suggest, k);
        }
        if let Some(code) = l
            .region_code
            .as_deref()
            .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        {
            for n in [2, 4, 6] {
                doc.add_text(f.region, &code[..n]);
            }
            doc.add_facet(f.facets, region_facet(code));
        }
        for (_, name) in &d.regions {
            doc.add_text(f.region_names, name);
            doc.add_text(f.meta_ngrams, name);
        }
        for a in &d.ancestors {
            doc.add_text(f.ancestors, a);
        }
        let date = lesson_date(l);
        doc.add_i64(f.date, date);
        let year = time::OffsetDateTime::from_unix_timestamp(date.div_euclid(1000))
            .map(|t| t.year().to_string())
            .unwrap_or_default();
        if !year.is_empty() {
            doc.add_facet(
                f.facets,
                tantivy::schema::Facet::from_path(["year", year.as_str()]),
            );
        }
        for s in &d.segments {
            doc.add_text(f.transcript_ngrams, &s.text);
            doc.add_text(f.text_chars, &s.text);
        }
        doc.add_u64(f.segment_count, d.segments.len() as u64);
        if !d.segments.is_empty() {
            let stored: Vec<StoredSegment> = d.segments.iter().map(StoredSegment::from).collect();
            doc.add_text(
                f.segments,
                serde_json::to_string(&stored).unwrap_or_default(),
            );
        }
        doc
    }
}

/// A page or cue as a lesson document stores it, with short names: a lecture has hundreds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StoredSegment {
    #[serde(rename = "a")]
    asset_id: String,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    page: Option<i64>,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    start_ms: Option<i64>,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    end_ms: Option<i64>,
    #[serde(rename = "t")]
    text: String,
    /// The text folded ([`analyzer::fold`]), where that differs from it (traditional characters,
    /// capitals, full-width forms): folded once here, not for every hit of every search.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    folded: Option<String>,
}

impl StoredSegment {
    /// The text as needles are compared with it.
    fn folded(&self) -> &str {
        self.folded.as_deref().unwrap_or(&self.text)
    }
}

impl From<&source::SegmentDoc> for StoredSegment {
    fn from(s: &source::SegmentDoc) -> Self {
        let folded = analyzer::fold(&s.text).text;
        Self {
            asset_id: s.asset_id.clone(),
            page: s.page,
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            folded: (folded != s.text).then_some(folded),
            text: s.text.clone(),
        }
    }
}

/// The pages and cues of a stored lesson document that contain a needle (folded texts), at most
/// `limit`, best first: those with the most different needles, then the most occurrences, then
/// in the lesson's order (earlier pages and moments first). Each text is highlighted.
fn matching_segments(stored: &str, needles: &[String], limit: usize) -> Vec<SegmentHit> {
    if limit == 0 || needles.is_empty() {
        return Vec::new();
    }
    // Every text and folded text is in the JSON as it is, unless it holds a character JSON
    // escapes: a needle without those that is nowhere in the JSON is in no page or cue, and a
    // lesson found by its title alone costs no parsing.
    let escaped = |c: char| c == '"' || c == '\\' || c.is_control();
    if needles
        .iter()
        .all(|n| !n.contains(escaped) && !stored.contains(n.as_str()))
    {
        return Vec::new();
    }
    let Ok(all) = serde_json::from_str::<Vec<StoredSegment>>(stored) else {
        return Vec::new();
    };
    let mut ranked: Vec<(usize, usize, usize)> = Vec::new();
    for (i, s) in all.iter().enumerate() {
        let folded = s.folded();
        let (mut distinct, mut times) = (0, 0);
        for n in needles {
            let k = folded.matches(n.as_str()).count();
            if k > 0 {
                distinct += 1;
                times += k;
            }
        }
        if distinct > 0 {
            ranked.push((distinct, times, i));
        }
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let mut all: Vec<Option<StoredSegment>> = all.into_iter().map(Some).collect();
    ranked
        .into_iter()
        .take(limit)
        .filter_map(|(_, _, i)| all[i].take())
        .map(|s| SegmentHit {
            text: analyzer::highlight(&s.text, needles, 120)
                .unwrap_or_else(|| analyzer::excerpt(&s.text, 120)),
            asset_id: s.asset_id,
            page: s.page,
            start_ms: s.start_ms,
            end_ms: s.end_ms,
        })
        .collect()
}

/// The date a lesson is sorted and filtered by: the day it was recorded (midnight UTC+8), else
/// when it was published, else when it was created; Unix milliseconds.
fn lesson_date(l: &crate::db::lessons::LessonRecord) -> i64 {
    let recorded = l.recorded_on.as_deref().and_then(day_start_ms);
    recorded.or(l.published_at).unwrap_or(l.created_at)
}

/// The first moment of a day written `YYYY-MM-DD`, in UTC+8 (the time zone lessons are dated
/// in), as Unix milliseconds; `None` when it is not such a date.
pub fn day_start_ms(day: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(day.trim(), format).ok()?;
    Some(
        day.midnight()
            .assume_offset(time::macros::offset!(+8))
            .unix_timestamp()
            * 1000,
    )
}

/// How many pairs a phrase's last lone character may stand for (`PhrasePrefixQuery`, which
/// reserves room for all of them at once: `u32::MAX` aborted the process). A character begins a
/// few hundred different pairs in a large library; phrases ending in one are rare.
const MAX_PREFIX_EXPANSIONS: u32 = 1024;

/// Shorter words are not corrected: one slip from three letters is too many other words.
const MIN_CORRECTED: usize = 4;

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn boost(q: Box<dyn Query>, b: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(q, b))
}

fn any_of(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        clauses.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

/// Whether `text` is one Han character.
fn one_han(text: &str) -> bool {
    let mut c = text.chars();
    c.next().is_some_and(analyzer::is_han) && c.next().is_none()
}

/// An exact sequence of characters in an n-gram field: the pairs of neighbouring Han characters
/// (a single character where no pair covers it) and the runs of letters and digits, at their
/// positions. `None` when there is nothing to search.
///
/// The index holds a character alone only at the end of a run of Han characters (elsewhere it
/// begins a pair), so a single character that ends the sequence is searched as a prefix: itself,
/// or any pair it begins. Alone, every such term is read (a range of the term dictionary);
/// after other tokens, at most [`MAX_PREFIX_EXPANSIONS`] of them.
fn sequence(field: Field, text: &str) -> Option<Box<dyn Query>> {
    let tokens = analyzer::ngrams(text);
    let is_pair = |t: &tantivy_tokenizer_api::Token| {
        t.text.chars().count() == 2 && t.text.chars().all(analyzer::is_han)
    };
    let pairs_at: std::collections::HashSet<usize> = tokens
        .iter()
        .filter(|t| is_pair(t))
        .map(|t| t.position)
        .collect();
    let mut terms: Vec<(usize, Term)> = Vec::new();
    for t in &tokens {
        let single_han = one_han(&t.text);
        let covered = single_han
            && (pairs_at.contains(&t.position)
                || t.position
                    .checked_sub(1)
                    .is_some_and(|p| pairs_at.contains(&p)));
        if !covered
            && !terms
                .iter()
                .any(|(p, x)| *p == t.position && x.value().as_str() == Some(&t.text))
        {
            terms.push((t.position, Term::from_field_text(field, &t.text)));
        }
    }
    let ends_in_one_character = terms
        .last()
        .is_some_and(|(_, t)| t.value().as_str().is_some_and(one_han));
    match (terms.len(), ends_in_one_character) {
        (0, _) => None,
        (1, false) => Some(Box::new(TermQuery::new(
            terms.remove(0).1,
            IndexRecordOption::WithFreqs,
        ))),
        (_, false) => Some(Box::new(PhraseQuery::new_with_offset(terms))),
        (1, true) => {
            // Every term from the character up to the next one: itself and the pairs it begins.
            let (_, t) = terms.remove(0);
            let c = t.value().as_str()?.chars().next()?;
            let next = char::from_u32(c as u32 + 1)?;
            Some(Box::new(InvertedIndexRangeQuery::new(
                Bound::Included(t),
                Bound::Excluded(Term::from_field_text(field, &next.to_string())),
            )))
        }
        (_, true) => {
            let mut q = PhrasePrefixQuery::new_with_offset(terms);
            q.set_max_expansions(MAX_PREFIX_EXPANSIONS);
            Some(Box::new(q))
        }
    }
}

impl Fields {
    /// Where a word may match in a lesson, best places weighing most: as a word in the title,
    /// tags, lecturer, series, description or region; inside a longer word, or in the transcript
    /// (n-grams); or as pinyin.
    fn word(&self, w: &str) -> Box<dyn Query> {
        let f = self;
        let mut any = vec![
            boost(term(f.title, w), 3.0),
            boost(term(f.tags, w), 2.0),
            boost(term(f.lecturer, w), 2.0),
            boost(term(f.series, w), 1.5),
            term(f.description, w),
            term(f.region_names, w),
        ];
        // The transcript is indexed only as n-grams (its words too would double the largest
        // field): a word in it is its sequence of characters. One character in the long texts
        // is one term of `text_chars`; in the short ones, a prefix of their n-grams.
        let ngrams: &[(Field, f32)] = if one_han(w) {
            any.push(boost(
                Box::new(TermQuery::new(
                    Term::from_field_text(f.text_chars, w),
                    IndexRecordOption::Basic,
                )),
                0.3,
            ));
            &[(f.title_ngrams, 0.5), (f.meta_ngrams, 0.3)]
        } else {
            &[
                (f.title_ngrams, 0.5),
                (f.meta_ngrams, 0.3),
                (f.description_ngrams, 0.2),
                (f.transcript_ngrams, 0.5),
            ]
        };
        for &(field, weight) in ngrams {
            if let Some(q) = sequence(field, w) {
                any.push(boost(q, weight));
            }
        }
        if w.chars().all(|c| c.is_ascii_alphabetic()) {
            // As typed, and as input methods let it be mistyped (z/zh, an/ang …), a little lower.
            let fuzzy = spelling::variants(w);
            for field in f.pinyin() {
                any.push(boost(term(field, w), 1.5));
                for v in &fuzzy {
                    any.push(boost(term(field, v), 1.0));
                }
            }
        }
        any_of(any)
    }

    /// The fields that hold pinyin.
    fn pinyin(&self) -> [Field; 4] {
        [
            self.title_pinyin,
            self.tags_pinyin,
            self.lecturer_pinyin,
            self.series_pinyin,
        ]
    }

    /// Where a phrase may match in a lesson: as an exact sequence of characters.
    fn phrase(&self, p: &str) -> Box<dyn Query> {
        let f = self;
        any_of(
            [
                (f.title_ngrams, 3.0),
                (f.meta_ngrams, 2.0),
                (f.description_ngrams, 1.0),
                (f.transcript_ngrams, 0.5),
            ]
            .into_iter()
            .filter_map(|(field, w)| sequence(field, p).map(|q| boost(q, w)))
            .collect(),
        )
    }

    /// Where a clause, or one of its synonyms (ranked a little lower), may match in a lesson.
    fn lesson_clause(&self, c: &Clause, synonyms: &Synonyms) -> Box<dyn Query> {
        let own = self.lesson_clause_alone(c);
        let others = synonyms.of(c);
        if others.is_empty() {
            return own;
        }
        let mut any = vec![own];
        any.extend(
            others
                .iter()
                .map(|s| boost(self.lesson_clause_alone(s), 0.8)),
        );
        any_of(any)
    }

    fn lesson_clause_alone(&self, c: &Clause) -> Box<dyn Query> {
        match c {
            Clause::Word(w) => self.word(w),
            Clause::Phrase(p) => self.phrase(p),
        }
    }

    /// The caller's read scope as a filter.
    fn scope(&self, scope: &ReadScope) -> Option<Box<dyn Query>> {
        match scope {
            ReadScope::Everything => None,
            // A platform's scope needs SQL facts the index does not hold; the handler re-checks
            // every hit with `visibility::may`.
            ReadScope::PublishedOnly | ReadScope::Platform(_) => {
                Some(term(self.status, "published"))
            }
            ReadScope::PublishedOrWithin(paths) => {
                let mut any = vec![term(self.status, "published")];
                any.extend(paths.iter().map(|p| term(self.ancestors, p)));
                Some(any_of(any))
            }
        }
    }

    /// The lesson documents `scope` may read that `filters` select.
    fn restrictions(&self, scope: &ReadScope, filters: &Filters) -> Vec<(Occur, Box<dyn Query>)> {
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, value) in [
            (self.kind, &filters.kind),
            (self.tag_exact, &filters.tag),
            (self.lecturer_exact, &filters.lecturer),
            (self.series_exact, &filters.series),
            (self.region, &filters.region_prefix),
        ] {
            if let Some(v) = value {
                must.push((Occur::Must, term(field, v)));
            }
        }
        if filters.from_ms.is_some() || filters.to_ms.is_some() {
            let bound = |v: Option<i64>| match v {
                Some(v) => Bound::Included(Term::from_field_i64(self.date, v)),
                None => Bound::Unbounded,
            };
            must.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    bound(filters.from_ms),
                    bound(filters.to_ms),
                )),
            ));
        }
        // The read scope's fields (status, ancestors) are on lesson documents only, so a scope
        // already keeps pages and cues out; without one, say so (one seek less per candidate).
        match self.scope(scope) {
            Some(q) => must.push((Occur::Must, q)),
            None => must.push((Occur::Must, term(self.doc_type, LESSON))),
        }
        must
    }
}

/// The facet path of a region code's lineage: `/region/440000/440100` for `4401`.
fn region_facet(prefix: &str) -> tantivy::schema::Facet {
    let mut path = vec!["region".to_owned()];
    for n in [2, 4, 6] {
        if prefix.len() >= n {
            let padded = format!("{:0<6}", &prefix[..n]);
            if path.last() != Some(&padded) {
                path.push(padded);
            }
        }
    }
    tantivy::schema::Facet::from_path(path)
}

impl Generation {
    fn search(&self, scope: &ReadScope, r: &Request) -> Result<Results, SearchError> {
        let f = self.f;
        let mut clauses = f.restrictions(scope, &r.filters);
        let n = r.query.must.len();
        if r.partial && n >= 2 {
            // Most of the words (all but one), and not all of them: what a full search missed.
            let each = |occur: Occur| -> Vec<(Occur, Box<dyn Query>)> {
                r.query
                    .must
                    .iter()
                    .map(|c| (occur, f.lesson_clause(c, &r.synonyms)))
                    .collect()
            };
            clauses.push((
                Occur::Must,
                Box::new(BooleanQuery::with_minimum_required_clauses(
                    each(Occur::Should),
                    n - 1,
                )),
            ));
            clauses.push((
                Occur::MustNot,
                Box::new(BooleanQuery::new(each(Occur::Must))),
            ));
        } else {
            for c in &r.query.must {
                clauses.push((Occur::Must, f.lesson_clause(c, &r.synonyms)));
            }
        }
        for c in &r.query.must_not {
            clauses.push((Occur::MustNot, f.lesson_clause(c, &Synonyms::default())));
        }
        if r.query.must.is_empty() {
            if r.query.must_not.is_empty() && !r.filters.any() && !r.everything {
                return Ok(Results {
                    total: 0,
                    hits: Vec::new(),
                    facets: Facets::default(),
                    timings: Timings::default(),
                });
            }
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = BooleanQuery::new(clauses);
        let started = std::time::Instant::now();
        let searcher = self.reader.searcher();
        let facets = FacetTally { field: "facets" };
        let region_at = r
            .filters
            .region_prefix
            .as_deref()
            .map(|p| region_facet(p).to_path().join("/"))
            .unwrap_or_else(|| "region".to_owned());
        let top = TopDocs::with_limit(r.limit.max(1)).and_offset(r.offset);
        let (found, total, counts): (Vec<(Option<f32>, DocAddress)>, usize, Tally) = match r.sort {
            Sort::Relevance => {
                let (top, total, counts) =
                    searcher.search(&query, &(top.order_by_score(), Count, facets))?;
                (
                    top.into_iter().map(|(s, a)| (Some(s), a)).collect(),
                    total,
                    counts,
                )
            }
            Sort::Newest => {
                let (top, total, counts) = searcher.search(
                    &query,
                    &(
                        top.order_by_fast_field::<i64>("date", Order::Desc),
                        Count,
                        facets,
                    ),
                )?;
                (
                    top.into_iter().map(|(_, a)| (None, a)).collect(),
                    total,
                    counts,
                )
            }
        };
        let mut hits = Vec::with_capacity(found.len());
        let needles = r.needles();
        let mut segments_took = std::time::Duration::ZERO;
        // Each segment's id and cue-count columns (a hit's id without its stored document).
        let columns = searcher
            .segment_readers()
            .iter()
            .map(|s| {
                let fast = s.fast_fields();
                let ids = fast.str("lesson_id")?.ok_or_else(|| {
                    SearchError::Other("the index has no lesson_id column".to_owned())
                })?;
                Ok((ids, fast.u64("segment_count")?))
            })
            .collect::<Result<Vec<_>, SearchError>>()?;
        for (score, address) in found {
            let Some((ids, counts)) = columns.get(address.segment_ord as usize) else {
                continue;
            };
            let mut id = String::new();
            let Some(ord) = ids.term_ords(address.doc_id).next() else {
                continue;
            };
            if !ids.ord_to_str(ord, &mut id)? {
                continue;
            }
            let at = std::time::Instant::now();
            // The stored document (its pages and cues) is read only for a lesson that has some.
            let segments = if r.segments_per_hit > 0
                && !needles.is_empty()
                && counts.first(address.doc_id).unwrap_or(0) > 0
            {
                let d: TantivyDocument = searcher.doc(address)?;
                d.get_first(f.segments)
                    .and_then(|v| v.as_str())
                    .map(|s| matching_segments(s, &needles, r.segments_per_hit))
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            segments_took += at.elapsed();
            hits.push(Hit {
                id,
                score,
                segments,
            });
        }
        let timings = Timings {
            lessons: started.elapsed().saturating_sub(segments_took),
            segments: segments_took,
        };
        let facets = Facets {
            kind: counts.children("kind", 10),
            tag: counts.children("tag", 20),
            series: counts.children("series", 20),
            lecturer: counts.children("lecturer", 20),
            year: {
                let mut y = counts.children("year", 50);
                y.sort_by(|a, b| b.0.cmp(&a.0));
                y
            },
            region: counts.children(&region_at, 50),
        };
        Ok(Results {
            total,
            hits,
            facets,
            timings,
        })
    }

    /// `q` with each pinyin or Latin word that matches nothing, nor in any fuzzy spelling,
    /// replaced by the spelling one slip away that most lessons' titles, tags, lecturers and
    /// series hold; `None` when no word needed or found a correction. Counts every lesson
    /// whatever its status: the caller searches the correction in its own scope and shows it
    /// only when that finds something.
    fn correct(&self, q: &Parsed) -> Option<Parsed> {
        let f = self.f;
        let searcher = self.reader.searcher();
        let fields = [
            f.title_pinyin,
            f.tags_pinyin,
            f.lecturer_pinyin,
            f.series_pinyin,
            f.title,
            f.tags,
        ];
        let lessons_with = |w: &str| -> u64 {
            fields
                .iter()
                .map(|&field| {
                    searcher
                        .doc_freq(&Term::from_field_text(field, w))
                        .unwrap_or(0)
                })
                .sum()
        };
        let mut changed = false;
        let mut must = Vec::with_capacity(q.must.len());
        for c in &q.must {
            let fixed = match c {
                Clause::Word(w)
                    if w.len() >= MIN_CORRECTED
                        && w.bytes().all(|b| b.is_ascii_lowercase())
                        && lessons_with(w) == 0
                        && spelling::variants(w).iter().all(|v| lessons_with(v) == 0) =>
                {
                    spelling::one_slip(w)
                        .into_iter()
                        .map(|s| (lessons_with(&s), s))
                        .filter(|(n, _)| *n > 0)
                        // The most lessons; among equals, the first in order.
                        .min_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)))
                        .map(|(_, s)| Clause::Word(s))
                }
                _ => None,
            };
            changed |= fixed.is_some();
            must.push(fixed.unwrap_or_else(|| c.clone()));
        }
        changed.then(|| Parsed {
            must,
            must_not: q.must_not.clone(),
        })
    }

    fn suggest(
        &self,
        scope: &ReadScope,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Suggestion>, SearchError> {
        let f = self.f;
        let prefix = analyzer::fold(prefix).text.trim().to_owned();
        if prefix.is_empty() {
            return Ok(Vec::new());
        }
        let upper = format!("{prefix}\u{10FFFF}");
        let mut clauses = f.restrictions(scope, &Filters::default());
        clauses.push((
            Occur::Must,
            Box::new(InvertedIndexRangeQuery::new(
                Bound::Included(Term::from_field_text(f.suggest, &prefix)),
                Bound::Excluded(Term::from_field_text(f.suggest, &upper)),
            )),
        ));
        let searcher = self.reader.searcher();
        let found = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(200).order_by_score(),
        )?;
        // Each candidate value of the lessons found, counted: a value many lessons share
        // (a tag, a lecturer) comes first.
        let mut counts: HashMap<(String, &'static str), usize> = HashMap::new();
        for (_, address) in found {
            let d: TantivyDocument = searcher.doc(address)?;
            for (field, source) in [
                (f.title, "title"),
                (f.tags, "tag"),
                (f.lecturer, "lecturer"),
                (f.series, "series"),
            ] {
                for v in d.get_all(field).filter_map(|v| v.as_str()) {
                    if analyzer::suggestion_keys(v)
                        .iter()
                        .any(|k| k.starts_with(&prefix))
                    {
                        *counts.entry((v.to_owned(), source)).or_default() += 1;
                    }
                }
            }
        }
        let mut all: Vec<((String, &'static str), usize)> = counts.into_iter().collect();
        all.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then(a.0.0.chars().count().cmp(&b.0.0.chars().count()))
                .then(a.0.cmp(&b.0))
        });
        let mut out: Vec<Suggestion> = Vec::new();
        for ((text, source), _) in all {
            if out.len() >= limit {
                break;
            }
            if !out.iter().any(|s| s.text == text) {
                out.push(Suggestion { text, source });
            }
        }
        Ok(out)
    }

    fn status(&self) -> Result<Status, SearchError> {
        let searcher = self.reader.searcher();
        let count = |t: &str| -> Result<u64, SearchError> {
            Ok(searcher.search(
                &TermQuery::new(
                    Term::from_field_text(self.f.doc_type, t),
                    IndexRecordOption::Basic,
                ),
                &Count,
            )? as u64)
        };
        // Files come and go as segments merge: count what is there.
        let bytes = std::fs::read_dir(&self.dir)?
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        Ok(Status {
            generation: self.name.clone(),
            position: self.position(),
            lessons: count(LESSON)?,
            segments: {
                let mut n = 0;
                for reader in searcher.segment_readers() {
                    let column = reader.fast_fields().u64("segment_count")?;
                    n += reader
                        .doc_ids_alive()
                        .filter_map(|d| column.first(d))
                        .sum::<u64>();
                }
                n
            },
            bytes,
        })
    }
}

/// Reads what follows `generation`'s position in the change log and applies it, a batch per commit,
/// until it has caught up. Returns how many change-log entries were applied.
async fn follow(
    generation: &Arc<Generation>,
    db: &Db,
    batch: i64,
    missing: &mut Vec<source::Missing>,
) -> Result<usize, SearchError> {
    let mut applied = 0;
    loop {
        let from = generation.committed()?;
        let changes = db.changes_after(from, batch.max(1)).await?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(applied);
        };
        // Entries about platforms (lesson_id "") change nothing the index holds.
        let mut ids: Vec<&str> = changes
            .iter()
            .map(|c| c.lesson_id.as_str())
            .filter(|id| !id.is_empty())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let loaded = source::load(db, &ids).await?;
        missing.extend(loaded.missing);
        let g = generation.clone();
        tokio::task::spawn_blocking(move || g.apply(loaded.docs, last))
            .await
            .map_err(|e| SearchError::Other(e.to_string()))??;
        applied += changes.len();
    }
}

/// Queues one extraction job per content in `missing` (its id is derived from the content's
/// SHA-256, so a content already queued, running, done or dead is not queued again).
pub async fn queue_extractions(db: &Db, missing: &[source::Missing]) -> Result<(), SearchError> {
    if missing.is_empty() {
        return Ok(());
    }
    let jobs: Vec<NewJob> = missing
        .iter()
        .map(|m| NewJob {
            id: Some(extraction_job_id(&m.sha256)),
            ..NewJob::now(
                JobKind::ExtractText,
                &m.sha256,
                &m.org_id,
                serde_json::to_string(m).unwrap_or_default(),
            )
        })
        .collect();
    db.enqueue_jobs(&jobs).await?;
    Ok(())
}

/// The id of the extraction job of the content `sha256`.
pub fn extraction_job_id(sha256: &str) -> String {
    format!("extract-{sha256}")
}

/// Removes from `dir` everything but `CURRENT` and the generations named in `keep`.
fn remove_other_generations(dir: &Path, keep: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == CURRENT
            || name == ".gitkeep"
            || name.starts_with("building-")
            || keep.contains(&name.as_str())
        {
            continue;
        }
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(e) = removed {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove an old search index");
        }
    }
}

impl SearchIndex {
    /// Opens the generation `CURRENT` names in `dir`, or — when there is none, or it cannot be
    /// used — starts a fresh one, which then follows the change log from the start.
    pub fn open(dir: &Path, batch: i64) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir)?;
        let started = std::time::Instant::now();
        let existing = match read_current(dir) {
            Some(name) => match Generation::open_existing(dir, &name) {
                Ok(Some(g)) => {
                    // Opening reads every file once to check its checksum: this says what that
                    // costs on this index.
                    tracing::info!(
                        generation = %name,
                        ms = started.elapsed().as_millis() as u64,
                        "search index opened and its checksums verified"
                    );
                    Some(g)
                }
                Ok(None) => None,
                // Another process holds this index: rebuilding it would pull it from under them.
                Err(SearchError::Index(e @ tantivy::TantivyError::LockFailure(..))) => {
                    return Err(SearchError::Index(e));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the search index cannot be opened");
                    None
                }
            },
            None => None,
        };
        let generation = match existing {
            Some(g) => g,
            None => {
                tracing::warn!(dir = %dir.display(), "search index missing or unusable; rebuilding from SQL");
                let name = new_generation_name();
                let g = Generation::create(dir, &name)?;
                write_current(dir, &name)?;
                g
            }
        };
        remove_other_generations(dir, &[&generation.name]);
        Ok(Self {
            dir: dir.to_owned(),
            current: RwLock::new(Arc::new(generation)),
            batch,
            following: std::sync::atomic::AtomicBool::new(true),
            synonyms: Mutex::new(None),
        })
    }

    /// The installation's synonyms, read from SQL at most every [`SYNONYMS_FOR`]. When SQL
    /// cannot be read, the last ones read (or none) are used: searching goes on without them.
    pub async fn synonyms(&self, db: &Db) -> Arc<Synonyms> {
        let cached = self
            .synonyms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, s)) = &cached
            && at.elapsed() < SYNONYMS_FOR
        {
            return s.clone();
        }
        let fresh = match db.synonym_groups().await {
            Ok(groups) => Arc::new(Synonyms::new(&groups)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the synonyms; searching without new ones");
                cached.map(|(_, s)| s).unwrap_or_default()
            }
        };
        *self.synonyms.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((std::time::Instant::now(), fresh.clone()));
        fresh
    }

    /// Forgets the synonyms read, so the next search reads them again (after a change).
    pub fn forget_synonyms(&self) {
        *self.synonyms.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn current(&self) -> Arc<Generation> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The change-log position of what searches see (0 for a fresh index).
    pub fn position(&self) -> Result<i64, SearchError> {
        Ok(self.current().position())
    }

    /// Switches to the generation `CURRENT` names when another process (`lectern reindex`)
    /// changed it. Returns whether it switched.
    fn follow_switch(&self) -> Result<bool, SearchError> {
        let Some(name) = read_current(&self.dir) else {
            return Ok(false);
        };
        if name == self.current().name {
            return Ok(false);
        }
        let Some(generation) = Generation::open_existing(&self.dir, &name)? else {
            return Err(SearchError::Other(format!(
                "CURRENT names generation {name}, which cannot be opened"
            )));
        };
        tracing::info!(generation = %name, "switching to a rebuilt search index");
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(|e| e.into_inner()),
            Arc::new(generation),
        );
        drop(old);
        remove_other_generations(&self.dir, &[&name]);
        Ok(true)
    }

    /// Brings the index up to date with the change log (see [`follow`]), first switching to a
    /// rebuilt generation if there is one, and queues an extraction job (`extract_text`, one
    /// per content, idempotent) for each document or subtitle met whose text was never
    /// extracted; the job appends a change when done, and the lesson is indexed again with its
    /// text. Reads SQL only. Returns how many change-log entries were applied.
    pub async fn catch_up(&self, db: &Db) -> Result<usize, SearchError> {
        if let Err(e) = self.follow_switch() {
            tracing::warn!(error = %e, "cannot switch to the rebuilt search index");
        }
        let generation = self.current();
        let mut missing = Vec::new();
        let applied = follow(&generation, db, self.batch, &mut missing).await;
        let queued = queue_extractions(db, &missing).await;
        let outcome = applied.and_then(|n| queued.map(|()| n));
        self.following.store(outcome.is_ok(), Ordering::Release);
        outcome
    }

    /// Whether the last attempt to follow the change log succeeded: `false` while the index
    /// cannot write (a full disk) or read SQL, which readiness reports.
    pub fn following(&self) -> bool {
        self.following.load(Ordering::Acquire)
    }

    /// Lessons matching `request` that `scope` may read, with facet counts.
    pub fn search(&self, scope: &ReadScope, request: &Request) -> Result<Results, SearchError> {
        self.current().search(scope, request)
    }

    /// The query with its mistyped pinyin or Latin words corrected (see `Generation::correct`),
    /// or `None`.
    pub fn correct(&self, q: &Parsed) -> Option<Parsed> {
        self.current().correct(q)
    }

    /// Titles, tags, lecturers and series starting with `prefix` (or whose pinyin or initials
    /// do) among the lessons `scope` may read.
    pub fn suggest(
        &self,
        scope: &ReadScope,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Suggestion>, SearchError> {
        self.current().suggest(scope, prefix, limit)
    }

    pub fn status(&self) -> Result<Status, SearchError> {
        self.current().status()
    }
}

/// Builds a fresh generation of the index in `dir` from SQL, beside the one in use, and
/// switches `CURRENT` to it once it has caught up; a service using `dir` follows within its next
/// step. Returns the new generation's status.
pub async fn rebuild(dir: &Path, db: &Db) -> Result<Status, SearchError> {
    std::fs::create_dir_all(dir)?;
    let name = new_generation_name();
    let building = format!("building-{name}");
    let generation = Arc::new(Generation::create(dir, &building)?);
    // Twice: what was committed while the first pass ran is picked up by the second. Contents
    // never extracted are queued for extraction.
    let mut missing = Vec::new();
    follow(&generation, db, BATCH, &mut missing).await?;
    follow(&generation, db, BATCH, &mut missing).await?;
    queue_extractions(db, &missing).await?;
    let Ok(generation) = Arc::try_unwrap(generation) else {
        return Err(SearchError::Other("the new index is still in use".into()));
    };
    drop(generation);
    std::fs::rename(dir.join(&building), dir.join(&name))?;
    let generation = Generation::open_existing(dir, &name)?
        .ok_or_else(|| SearchError::Other("the rebuilt index cannot be opened".into()))?;
    let status = generation.status()?;
    drop(generation);
    write_current(dir, &name)?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(texts: &[&str]) -> String {
        let all: Vec<StoredSegment> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                StoredSegment::from(&source::SegmentDoc {
                    asset_id: "a".to_owned(),
                    page: None,
                    start_ms: Some(i as i64 * 1000),
                    end_ms: None,
                    text: (*t).to_owned(),
                })
            })
            .collect();
        serde_json::to_string(&all).expect("segments serialise")
    }

    fn starts(hits: &[SegmentHit]) -> Vec<i64> {
        hits.iter().filter_map(|h| h.start_ms).collect()
    }

    #[test]
    fn segments_match_on_their_folded_text_stored_only_where_it_differs() {
        let json = stored(&["乡村振兴", "黨史學習", "ＡＩ课堂", "说\"引号\"的话"]);
        // Folded text is stored for the traditional and full-width cues, not the others.
        assert_eq!(json.matches("\"f\":").count(), 2, "{json}");
        let needles = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            starts(&matching_segments(&json, &needles(&["党史"]), 3)),
            [1000]
        );
        assert_eq!(
            starts(&matching_segments(&json, &needles(&["ai"]), 3)),
            [2000]
        );
        assert_eq!(
            starts(&matching_segments(&json, &needles(&["振兴"]), 3)),
            [0]
        );
        // A needle JSON escapes is still found (the quick check of the JSON is skipped).
        assert_eq!(
            starts(&matching_segments(&json, &needles(&["\"引号\""]), 3)),
            [3000]
        );
        assert!(matching_segments(&json, &needles(&["数学"]), 3).is_empty());
        // Marked in the original text.
        let hit = matching_segments(&json, &needles(&["党史"]), 3);
        assert_eq!(hit[0].text, "<mark>黨史</mark>學習");
    }
}
