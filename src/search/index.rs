//! The search index: one tantivy index in the configured folder, derived from SQL and
//! disposable, following the change log.
//!
//! Invariants:
//! - The change-log position the index reflects is stored in the index's own commit (its
//!   payload), written in the same commit as the documents: after a crash the follower resumes
//!   exactly where the last commit left off, re-applying at most what was not committed.
//!   Applying a change is idempotent (delete the lesson's document, add it again from SQL).
//! - An index that cannot be opened (missing, corrupt, or of another schema version) is wiped
//!   and rebuilt from SQL by following the change log from the start.
//! - Every lesson is indexed whatever its status, with its status and its organisation's
//!   ancestors; a search applies the caller's `visibility::ReadScope` as a filter, so drafts
//!   reach only those who may read them.

use super::analyzer::{
    self, NGRAMS, NgramTokenizer, PINYIN, PinyinTokenizer, WORDS, WordTokenizer,
};
use crate::db::Db;
use crate::db::lessons::LessonRecord;
use crate::domain::visibility::ReadScope;
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TantivyDocument, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

/// Bumped whenever the schema or the analysis changes: an index of another version is rebuilt.
const SCHEMA_VERSION: &str = "lectern-search-2";

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index folder: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
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
    kind: Field,
    status: Field,
    ancestors: Field,
    tag_exact: Field,
    lecturer_exact: Field,
    series_exact: Field,
    /// The region code's subtree prefixes (`44`, `4401`, `440106`), for region filters.
    region: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str, stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored { o.set_stored() } else { o }
    };
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        title: b.add_text_field("title", text(WORDS, true)),
        title_ngrams: b.add_text_field("title_ngrams", text(NGRAMS, false)),
        title_pinyin: b.add_text_field("title_pinyin", text(PINYIN, false)),
        description: b.add_text_field("description", text(WORDS, false)),
        description_ngrams: b.add_text_field("description_ngrams", text(NGRAMS, false)),
        tags: b.add_text_field("tags", text(WORDS, false)),
        tags_pinyin: b.add_text_field("tags_pinyin", text(PINYIN, false)),
        lecturer: b.add_text_field("lecturer", text(WORDS, false)),
        lecturer_pinyin: b.add_text_field("lecturer_pinyin", text(PINYIN, false)),
        series: b.add_text_field("series", text(WORDS, false)),
        kind: b.add_text_field("kind", STRING),
        status: b.add_text_field("status", STRING),
        ancestors: b.add_text_field("ancestors", STRING),
        tag_exact: b.add_text_field("tag_exact", STRING),
        lecturer_exact: b.add_text_field("lecturer_exact", STRING),
        series_exact: b.add_text_field("series_exact", STRING),
        region: b.add_text_field("region", STRING),
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

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    f: Fields,
}

/// Exact-match filters of a search; each is optional.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    /// A region's subtree prefix (`domain::lesson::RegionCode::subtree_prefix`): the region and
    /// every region below it.
    pub region_prefix: Option<String>,
}

/// A hit: the lesson's id and its score.
#[derive(Debug, Clone)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

impl SearchIndex {
    /// Opens the index in `dir`, or — when it is missing, unreadable or of another schema
    /// version — empties the folder and creates a fresh one (which then follows the change log
    /// from the start).
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir)?;
        match Self::open_existing(dir) {
            Ok(Some(index)) => Ok(index),
            Ok(None) | Err(_) => {
                tracing::warn!(dir = %dir.display(), "search index missing or unusable; rebuilding from SQL");
                for entry in std::fs::read_dir(dir)? {
                    let path = entry?.path();
                    if path.file_name().is_some_and(|n| n == ".gitkeep") {
                        continue;
                    }
                    if path.is_dir() {
                        std::fs::remove_dir_all(&path)?;
                    } else {
                        std::fs::remove_file(&path)?;
                    }
                }
                let (schema, f) = schema();
                let index = Index::create_in_dir(dir, schema)?;
                Self::with(index, f)
            }
        }
    }

    fn open_existing(dir: &Path) -> Result<Option<Self>, SearchError> {
        if !dir.join("meta.json").exists() {
            return Ok(None);
        }
        let index = Index::open_in_dir(dir)?;
        let metas = index.load_metas()?;
        if metas.payload.is_some() && parse_payload(metas.payload.as_deref()).is_none() {
            return Ok(None);
        }
        let (schema, f) = schema();
        if index.schema() != schema {
            return Ok(None);
        }
        Self::with(index, f).map(Some)
    }

    fn with(index: Index, f: Fields) -> Result<Self, SearchError> {
        let t = index.tokenizers();
        t.register(WORDS, WordTokenizer);
        t.register(NGRAMS, NgramTokenizer);
        t.register(PINYIN, PinyinTokenizer);
        let writer = index.writer_with_num_threads(1, 32_000_000)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            f,
        })
    }

    /// The change-log position the last commit reflects (0 for a fresh index).
    pub fn position(&self) -> Result<i64, SearchError> {
        Ok(parse_payload(self.index.load_metas()?.payload.as_deref()).unwrap_or(0))
    }

    /// Brings the index up to date with the change log: reads what follows the committed
    /// position in batches, re-indexes each lesson touched, and commits each batch with its
    /// position. Returns how many entries were applied.
    pub async fn catch_up(&self, db: &Db) -> Result<usize, SearchError> {
        let mut applied = 0;
        loop {
            let from = self.position()?;
            let changes = db.changes_after(from, 500).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(applied);
            };
            let mut ids: Vec<&str> = changes.iter().map(|c| c.lesson_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut docs = Vec::with_capacity(ids.len());
            for id in &ids {
                let lesson = db.lesson(id).await?;
                let ancestors = match &lesson {
                    Some(l) => crate::domain::org::ids(&l.org_path)
                        .iter()
                        .scan(String::from("/"), |acc, id| {
                            acc.push_str(id);
                            acc.push('/');
                            Some(acc.clone())
                        })
                        .collect(),
                    None => Vec::new(),
                };
                docs.push((id.to_string(), lesson, ancestors));
            }
            let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            for (id, lesson, ancestors) in docs {
                writer.delete_term(Term::from_field_text(self.f.id, &id));
                if let Some(l) = lesson {
                    writer.add_document(self.document(&l, &ancestors))?;
                }
            }
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(&payload(last));
            commit.commit()?;
            drop(writer);
            self.reader.reload()?;
            applied += changes.len();
        }
    }

    fn document(&self, l: &LessonRecord, ancestors: &[String]) -> TantivyDocument {
        let f = self.f;
        let mut d = doc!(
            f.id => l.id.clone(),
            f.title => l.title.clone(),
            f.title_ngrams => l.title.clone(),
            f.title_pinyin => l.title.clone(),
            f.description => l.description.clone(),
            f.description_ngrams => l.description.clone(),
            f.kind => l.kind.clone(),
            f.status => l.status.clone(),
        );
        for t in &l.tags {
            d.add_text(f.tags, t);
            d.add_text(f.tags_pinyin, t);
            d.add_text(f.tag_exact, t);
        }
        if let Some(x) = &l.lecturer {
            d.add_text(f.lecturer, x);
            d.add_text(f.lecturer_pinyin, x);
            d.add_text(f.lecturer_exact, x);
        }
        if let Some(x) = &l.series {
            d.add_text(f.series, x);
            d.add_text(f.series_exact, x);
        }
        if let Some(code) = l
            .region_code
            .as_deref()
            .filter(|c| c.len() == 6 && c.is_ascii())
        {
            for n in [2, 4, 6] {
                d.add_text(f.region, &code[..n]);
            }
        }
        for a in ancestors {
            d.add_text(f.ancestors, a);
        }
        d
    }

    /// Lessons matching `q` that `scope` may read, best first, optionally of one `kind`; with
    /// the total number of matches.
    pub fn search(
        &self,
        scope: &ReadScope,
        q: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<(Vec<Hit>, usize), SearchError> {
        let f = self.f;
        let term = |field: Field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::WithFreqs,
            ))
        };
        let boost =
            |q: Box<dyn Query>, b: f32| -> Box<dyn Query> { Box::new(BoostQuery::new(q, b)) };
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in analyzer::query_words(q) {
            // Each word must match somewhere: as a word (best), inside a word (n-grams), or as
            // pinyin.
            let mut any: Vec<(Occur, Box<dyn Query>)> = vec![
                (Occur::Should, boost(term(f.title, &word), 3.0)),
                (Occur::Should, boost(term(f.tags, &word), 2.0)),
                (Occur::Should, boost(term(f.lecturer, &word), 2.0)),
                (Occur::Should, term(f.series, &word)),
                (Occur::Should, term(f.description, &word)),
            ];
            for field in [f.title_ngrams, f.description_ngrams] {
                let grams: Vec<Term> = analyzer::ngrams(&word)
                    .into_iter()
                    .filter(|t| t.text.chars().count() == 2 || word.chars().count() == 1)
                    .map(|t| Term::from_field_text(field, &t.text))
                    .collect();
                let q: Box<dyn Query> = match grams.len() {
                    0 => continue,
                    1 => term(field, grams[0].value().as_str().unwrap_or_default()),
                    _ => Box::new(PhraseQuery::new(grams)),
                };
                let weight = if field == f.title_ngrams { 0.5 } else { 0.2 };
                any.push((Occur::Should, boost(q, weight)));
            }
            if word.is_ascii() && word.chars().all(|c| c.is_ascii_alphabetic()) {
                for field in [f.title_pinyin, f.tags_pinyin, f.lecturer_pinyin] {
                    any.push((Occur::Should, boost(term(field, &word), 1.5)));
                }
            }
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if must.is_empty() {
            return Ok((Vec::new(), 0));
        }
        for (field, value) in [
            (f.kind, &filters.kind),
            (f.tag_exact, &filters.tag),
            (f.lecturer_exact, &filters.lecturer),
            (f.series_exact, &filters.series),
            (f.region, &filters.region_prefix),
        ] {
            if let Some(v) = value {
                must.push((Occur::Must, term(field, v)));
            }
        }
        match scope {
            ReadScope::Everything => {}
            ReadScope::PublishedOnly => must.push((Occur::Must, term(f.status, "published"))),
            ReadScope::PublishedOrWithin(paths) => {
                let mut any = vec![(Occur::Should, term(f.status, "published"))];
                for p in paths {
                    any.push((Occur::Should, term(f.ancestors, p)));
                }
                must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
            }
        }
        let query = BooleanQuery::new(must);
        let searcher = self.reader.searcher();
        let (top, total) = searcher.search(
            &query,
            &(TopDocs::with_limit(limit.max(1)).order_by_score(), Count),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let d: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = d.get_first(f.id).and_then(|v| v.as_str()) {
                hits.push(Hit {
                    id: id.to_owned(),
                    score,
                });
            }
        }
        Ok((hits, total))
    }
}
