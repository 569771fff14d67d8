//! Search benchmark: a synthetic Chinese corpus (by default 100,000 lessons and 1,000,000
//! subtitle cues) loaded into Lectern, indexed by the real service, and queried over HTTP; the
//! same corpus and the same query strings put into PostgreSQL full-text search (with `pg_trgm`
//! for substrings) and SQLite FTS5 (trigram tokenizer) for comparison. See BENCHMARKS.md.
//!
//! Needs a release build of the service first:
//!
//! ```text
//! cargo build --release && cargo bench --bench search
//! ```
//!
//! The corpus is drawn with a seeded RNG from `benches/data/words.txt` (the most frequent words
//! of jieba's dictionary, with their frequencies), so every run generates the same lessons, cues
//! and queries. It is written straight into a fresh SQLite database migrated by
//! `lectern migrate` — lessons, tags, subtitle assets with their extracted cues, and one change-log
//! entry per lesson — and the service then builds its index by following the change log, which
//! is what is timed.
//!
//! Settings (environment variables, all optional):
//! - `LECTERN_BENCH_LESSONS`     lessons (default 100000)
//! - `LECTERN_BENCH_CUES`        subtitle cues in all (default 1000000)
//! - `LECTERN_BENCH_CUES_PER_LESSON` cues per subtitled video lesson (default 100)
//! - `LECTERN_BENCH_QUERIES`     queries per query set (default 200)
//! - `LECTERN_BENCH_CLIENTS`     concurrent clients, comma-separated (default 1,8)
//! - `LECTERN_BENCH_CELL_SECS`   time budget of one (system, query set, clients) cell (default 20)
//! - `LECTERN_BENCH_WARMUP`      warm-up queries per query set and system (default 20)
//! - `LECTERN_BENCH_SEED`        RNG seed (default 2026)
//! - `LECTERN_BENCH_SKIP`        comma-separated systems to skip: postgres, sqlite
//! - `LECTERN_BENCH_PG_URL`      PostgreSQL server (default postgres://root@127.0.0.1:5432/test);
//!   the bench creates, and afterwards drops, the database `lectern_bench_fts` there
//! - `LECTERN_BENCH_DIR`         where the temporary folder is created (default: system temp)
//! - `LECTERN_BENCH_KEEP`        keep the temporary folder (with `queries.tsv`) and the PostgreSQL database (1)
//! - `LECTERN_BENCH_BIN`         the `lectern` binary (default: `$CARGO_TARGET_DIR` or `target`,
//!   then `release/lectern`)
//! - `LECTERN_BENCH_OUT`         where the report is written too (default: `bench-search.md` in
//!   the same target folder)

use anyhow::{Context, Result, anyhow, bail, ensure};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use pinyin::ToPinyin;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, QueryBuilder, Sqlite};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: f64 = 1024.0 * 1024.0;
/// The PostgreSQL database the bench creates and drops.
const PG_DATABASE: &str = "lectern_bench_fts";
/// Results per query, in every system.
const TOP: usize = 20;

// ---------------------------------------------------------------------------------------------
// Settings

fn env_u64(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .with_context(|| format!("{name} must be a whole number, got {v:?}")),
        _ => Ok(default),
    }
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

struct Settings {
    lessons: usize,
    cues: usize,
    cues_per_lesson: usize,
    queries: usize,
    clients: Vec<usize>,
    cell: Duration,
    warmup: usize,
    seed: u64,
    skip: Vec<String>,
    pg_url: String,
    keep: bool,
    bin: PathBuf,
    out: PathBuf,
}

impl Settings {
    fn load() -> Result<Self> {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // Where cargo puts its output: `CARGO_TARGET_DIR` when the caller set it, else ./target.
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest.join("target"));
        let bin = std::env::var("LECTERN_BENCH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| target.join("release/lectern"));
        let out = std::env::var("LECTERN_BENCH_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|_| target.join("bench-search.md"));
        let clients = env_list("LECTERN_BENCH_CLIENTS", "1,8")
            .iter()
            .map(|c| {
                c.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| anyhow!("LECTERN_BENCH_CLIENTS: {c:?} is not a positive number"))
            })
            .collect::<Result<Vec<_>>>()?;
        let lessons = env_u64("LECTERN_BENCH_LESSONS", 100_000)?.max(1) as usize;
        let cues_per_lesson = env_u64("LECTERN_BENCH_CUES_PER_LESSON", 100)?.max(1) as usize;
        let cues =
            (env_u64("LECTERN_BENCH_CUES", 1_000_000)? as usize).min(lessons * cues_per_lesson);
        Ok(Self {
            lessons,
            cues,
            cues_per_lesson,
            queries: env_u64("LECTERN_BENCH_QUERIES", 200)?.max(1) as usize,
            clients,
            cell: Duration::from_secs(env_u64("LECTERN_BENCH_CELL_SECS", 20)?.max(1)),
            warmup: env_u64("LECTERN_BENCH_WARMUP", 20)? as usize,
            seed: env_u64("LECTERN_BENCH_SEED", 2026)?,
            skip: env_list("LECTERN_BENCH_SKIP", ""),
            pg_url: std::env::var("LECTERN_BENCH_PG_URL")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "postgres://root@127.0.0.1:5432/test".into()),
            keep: env_u64("LECTERN_BENCH_KEEP", 0)? != 0,
            bin,
            out,
        })
    }

    fn runs(&self, system: &str) -> bool {
        !self.skip.iter().any(|s| s == system)
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

/// Common surnames, most frequent first.
#[rustfmt::skip]
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "邓", "韩", "冯", "曹", "彭", "曾",
    "肖", "田", "董", "潘", "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏", "苏", "吕", "丁",
    "任", "卢", "姚", "沈", "钟", "姜", "崔", "谭", "陆", "范", "汪", "廖", "石", "金", "欧阳",
];
/// Characters common in given names.
#[rustfmt::skip]
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "文", "红", "志", "新", "海", "林",
    "德", "晓", "玉", "兰", "云", "峰", "辉", "春", "东", "梅", "宁", "波", "斌", "宇", "浩", "凯",
    "鹏", "俊", "帆", "琳", "婷", "雪", "慧", "佳", "欣", "思", "雨", "振", "卫", "忠", "诚", "毅",
];
#[rustfmt::skip]
const SERIES_SUFFIXES: &[&str] = &[
    "大讲堂", "专题讲座", "系列课程", "学习讲座", "微课堂", "公开课", "理论学习", "专题辅导",
];
/// County-level GB/T 2260 codes (district, county-level city) in nine provinces.
#[rustfmt::skip]
const COUNTIES: &[&str] = &[
    "110101", "110102", "110105", "110106", "110108", "310101", "310104", "310115", "320102",
    "320105", "320106", "320205", "320505", "320506", "320583", "330102", "330106", "330110",
    "330203", "370102", "370202", "370212", "420102", "420106", "420111", "440103", "440104",
    "440105", "440106", "440111", "440303", "440304", "440305", "440604", "441302", "510104",
    "510105", "510107", "510116", "510703", "610102", "610113",
];
/// Simplified → traditional, for the traditional-character query set.
#[rustfmt::skip]
const TRADITIONAL: &[(char, char)] = &[
    ('党', '黨'), ('学', '學'), ('习', '習'), ('国', '國'), ('会', '會'), ('发', '發'),
    ('经', '經'), ('济', '濟'), ('乡', '鄉'), ('兴', '興'), ('设', '設'), ('业', '業'),
    ('为', '為'), ('产', '產'), ('实', '實'), ('现', '現'), ('时', '時'), ('总', '總'),
    ('书', '書'), ('记', '記'), ('讲', '講'), ('话', '話'), ('历', '歷'), ('义', '義'),
    ('论', '論'), ('关', '關'), ('农', '農'), ('财', '財'), ('务', '務'), ('动', '動'),
    ('员', '員'), ('问', '問'), ('题', '題'), ('团', '團'), ('结', '結'), ('级', '級'),
    ('组', '組'), ('织', '織'), ('导', '導'), ('领', '領'), ('进', '進'), ('战', '戰'),
    ('规', '規'), ('划', '劃'), ('区', '區'), ('县', '縣'), ('镇', '鎮'), ('东', '東'),
    ('华', '華'), ('广', '廣'), ('汉', '漢'), ('门', '門'), ('开', '開'), ('长', '長'),
    ('机', '機'), ('构', '構'), ('过', '過'), ('传', '傳'), ('统', '統'), ('观', '觀'),
    ('众', '眾'), ('体', '體'), ('专', '專'), ('项', '項'), ('网', '網'), ('络', '絡'),
    ('应', '應'), ('术', '術'), ('电', '電'), ('视', '視'), ('频', '頻'), ('课', '課'),
    ('师', '師'), ('训', '訓'), ('练', '練'), ('养', '養'), ('优', '優'), ('质', '質'),
    ('环', '環'), ('护', '護'), ('卫', '衛'), ('这', '這'), ('们', '們'), ('个', '個'),
    ('来', '來'), ('对', '對'), ('说', '說'), ('年', '年'), ('后', '後'), ('从', '從'),
    ('还', '還'), ('没', '沒'), ('样', '樣'), ('两', '兩'), ('与', '與'), ('并', '並'),
    ('当', '當'), ('头', '頭'), ('将', '將'), ('无', '無'), ('点', '點'), ('办', '辦'),
    ('万', '萬'), ('边', '邊'), ('着', '著'), ('间', '間'), ('问', '問'), ('认', '認'),
    ('条', '條'), ('变', '變'), ('达', '達'), ('议', '議'), ('计', '計'), ('报', '報'),
    ('则', '則'), ('线', '線'), ('岁', '歲'), ('压', '壓'), ('权', '權'), ('场', '場'),
];

/// Words of jieba's dictionary, most frequent first, with Zipf-like sampling weights.
struct Vocab {
    words: Vec<String>,
    /// Over every word (descriptions and cues).
    any: WeightedIndex<f64>,
    /// Words of two characters or more (titles), as indices into `words`.
    long: Vec<usize>,
    long_dist: WeightedIndex<f64>,
    tags: Vec<String>,
    tag_dist: WeightedIndex<f64>,
    lecturers: Vec<String>,
    lecturer_dist: WeightedIndex<f64>,
    series: Vec<String>,
    series_dist: WeightedIndex<f64>,
}

/// Zipf weights (exponent 1, rank offset `offset`) for `n` items in rank order.
fn zipf(n: usize, offset: f64) -> Result<WeightedIndex<f64>> {
    WeightedIndex::new((0..n).map(|r| 1.0 / (r as f64 + offset))).context("weights")
}

impl Vocab {
    fn load(rng: &mut StdRng) -> Result<Self> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/words.txt");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the word list {}", path.display()))?;
        let mut words = Vec::new();
        let mut nouns = Vec::new();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(word), Some(_freq), tag) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let chars = word.chars().count();
            if chars >= 2 && tag.is_some_and(|t| t.starts_with('n') && t != "nr" && t != "nrt") {
                nouns.push(word.to_owned());
            }
            words.push(word.to_owned());
        }
        ensure!(words.len() > 1000, "{}: too few words", path.display());
        let long: Vec<usize> = (0..words.len())
            .filter(|&i| words[i].chars().count() >= 2)
            .collect();
        let tags: Vec<String> = nouns.iter().take(300).cloned().collect();
        let mut lecturers = Vec::with_capacity(3000);
        let mut seen = std::collections::HashSet::new();
        let surname = zipf(SURNAMES.len(), 3.0)?;
        while lecturers.len() < 3000 {
            let mut name = SURNAMES[surname.sample(rng)].to_owned();
            for _ in 0..rng.random_range(1..=2) {
                name.push_str(GIVEN.choose(rng).copied().unwrap_or("明"));
            }
            if seen.insert(name.clone()) {
                lecturers.push(name);
            }
        }
        let mut series = Vec::with_capacity(400);
        let mut seen = std::collections::HashSet::new();
        let noun = zipf(nouns.len().min(3000), 20.0)?;
        while series.len() < 400 {
            let name = format!(
                "{}{}{}",
                nouns[noun.sample(rng)],
                nouns[noun.sample(rng)],
                SERIES_SUFFIXES.choose(rng).copied().unwrap_or("讲座")
            );
            if seen.insert(name.clone()) {
                series.push(name);
            }
        }
        Ok(Self {
            any: zipf(words.len(), 30.0)?,
            long_dist: zipf(long.len(), 30.0)?,
            long,
            tag_dist: zipf(tags.len(), 5.0)?,
            tags,
            lecturer_dist: zipf(lecturers.len(), 10.0)?,
            lecturers,
            series_dist: zipf(series.len(), 10.0)?,
            series,
            words,
        })
    }

    /// Words (as indices) adding up to `min..=max` characters; `titles` draws only words of two
    /// characters or more.
    fn text(&self, rng: &mut StdRng, min: usize, max: usize, titles: bool) -> Vec<u32> {
        let target = rng.random_range(min..=max);
        let mut out = Vec::new();
        let mut len = 0;
        let mut misses = 0;
        while len < target && misses < 20 {
            let w = if titles {
                self.long[self.long_dist.sample(rng)]
            } else {
                self.any.sample(rng)
            };
            let n = self.words[w].chars().count();
            if len + n > max {
                misses += 1;
                continue;
            }
            out.push(w as u32);
            len += n;
        }
        out
    }

    fn join(&self, words: &[u32]) -> String {
        words
            .iter()
            .map(|&w| self.words[w as usize].as_str())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus

struct Lesson {
    id: String,
    title: String,
    title_words: Vec<u32>,
    description: String,
    desc_words: Vec<u32>,
    tags: Vec<String>,
    lecturer: String,
    series: Option<String>,
    kind: &'static str,
    region: &'static str,
    recorded_on: String,
    /// Range of this lesson's cues in `Corpus::cues`.
    cues: std::ops::Range<usize>,
}

struct Cue {
    lesson: u32,
    start_ms: i64,
    end_ms: i64,
    text: String,
}

struct Corpus {
    lessons: Vec<Lesson>,
    cues: Vec<Cue>,
}

impl Corpus {
    fn generate(settings: &Settings, vocab: &Vocab, rng: &mut StdRng) -> Result<Self> {
        let subtitled = settings.cues.div_ceil(settings.cues_per_lesson);
        // Spread the subtitled lessons evenly: every `step`-th lesson has cues.
        let step = (settings.lessons / subtitled.max(1)).max(1);
        let first_day = time::Date::from_calendar_date(2015, time::Month::January, 1)?;
        let days = (time::Date::from_calendar_date(2026, time::Month::November, 27)? - first_day)
            .whole_days();
        let mut lessons = Vec::with_capacity(settings.lessons);
        let mut cues = Vec::with_capacity(settings.cues);
        for i in 0..settings.lessons {
            let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
            let title_words = vocab.text(rng, 4, 20, true);
            let desc_words = vocab.text(rng, 30, 110, false);
            let mut description = String::new();
            let mut since = 0;
            for (n, &w) in desc_words.iter().enumerate() {
                description.push_str(&vocab.words[w as usize]);
                since += 1;
                if since >= 3 && rng.random_bool(0.3) && n + 1 < desc_words.len() {
                    description.push('，');
                    since = 0;
                }
            }
            description.push('。');
            let mut tags: Vec<String> = Vec::new();
            for _ in 0..rng.random_range(1..=4) {
                let t = &vocab.tags[vocab.tag_dist.sample(rng)];
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            let with_cues = i % step == 0 && cues.len() < settings.cues;
            let kind = if with_cues {
                "video"
            } else {
                *["video", "video", "audio", "document", "document"]
                    .choose(rng)
                    .unwrap_or(&"video")
            };
            let from = cues.len();
            if with_cues {
                let n = settings.cues_per_lesson.min(settings.cues - cues.len());
                let mut t: i64 = rng.random_range(0..5_000);
                for _ in 0..n {
                    let start = t;
                    let end = start + rng.random_range(1_500..6_000);
                    let words = vocab.text(rng, 8, 30, false);
                    cues.push(Cue {
                        lesson: i as u32,
                        start_ms: start,
                        end_ms: end,
                        text: vocab.join(&words),
                    });
                    t = end + rng.random_range(0..1_500);
                }
            }
            let day = first_day + time::Duration::days(rng.random_range(0..=days));
            lessons.push(Lesson {
                id: id.to_string(),
                title: vocab.join(&title_words),
                title_words,
                description,
                desc_words,
                tags,
                lecturer: vocab.lecturers[vocab.lecturer_dist.sample(rng)].clone(),
                series: rng
                    .random_bool(0.7)
                    .then(|| vocab.series[vocab.series_dist.sample(rng)].clone()),
                kind,
                region: COUNTIES.choose(rng).copied().unwrap_or("440106"),
                recorded_on: format!(
                    "{:04}-{:02}-{:02}",
                    day.year(),
                    u8::from(day.month()),
                    day.day()
                ),
                cues: from..cues.len(),
            });
        }
        Ok(Self { lessons, cues })
    }

    /// Everything searchable of a lesson except its cues, as one text (for the SQL peers).
    fn document(&self, l: &Lesson) -> String {
        let mut d = format!(
            "{} {} {} {}",
            l.title,
            l.description,
            l.tags.join(" "),
            l.lecturer
        );
        if let Some(s) = &l.series {
            d.push(' ');
            d.push_str(s);
        }
        d
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Set {
    One,
    Two,
    Four,
    Pinyin,
    Initials,
    Phrase,
    Filtered,
    Traditional,
}

impl Set {
    const ALL: [Set; 8] = [
        Set::One,
        Set::Two,
        Set::Four,
        Set::Pinyin,
        Set::Initials,
        Set::Phrase,
        Set::Filtered,
        Set::Traditional,
    ];

    fn label(self) -> &'static str {
        match self {
            Set::One => "1 character",
            Set::Two => "2 characters",
            Set::Four => "4 characters",
            Set::Pinyin => "pinyin (full)",
            Set::Initials => "pinyin initials",
            Set::Phrase => "phrase in quotes",
            Set::Filtered => "2 chars + kind + region",
            Set::Traditional => "traditional characters",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Set::One => "党",
            Set::Two => "振兴",
            Set::Four => "乡村振兴",
            Set::Pinyin => "dangshi",
            Set::Initials => "ds",
            Set::Phrase => "\"乡村振兴\"",
            Set::Filtered => "振兴 kind=video region=440100",
            Set::Traditional => "黨史",
        }
    }
}

#[derive(Debug, Clone)]
struct Query {
    set: Set,
    /// What the user types (sent to Lectern as `q`).
    text: String,
    kind: Option<&'static str>,
    /// A six-digit region code (a province or a city).
    region: Option<String>,
}

impl Query {
    /// The string the SQL peers search for: the query without the phrase quotes.
    fn needle(&self) -> &str {
        self.text.trim().trim_matches('"')
    }

    /// The region's code prefix (`44` for `440000`, `4401` for `440100`).
    fn region_prefix(&self) -> Option<&str> {
        self.region.as_deref().map(|r| {
            if r.ends_with("0000") {
                &r[..2]
            } else if r.ends_with("00") {
                &r[..4]
            } else {
                r
            }
        })
    }

    /// The members' search page for this query (`/search`, the first page of hits).
    fn page_url(&self, base: &str) -> String {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut url = format!("{base}/search?q={}", enc(&self.text));
        if let Some(k) = self.kind {
            let _ = write!(url, "&kind={k}");
        }
        if let Some(r) = &self.region {
            let _ = write!(url, "&region={r}");
        }
        url
    }

    fn url(&self, base: &str) -> String {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut url = format!("{base}/api/v1/search?q={}&limit={TOP}", enc(&self.text));
        if let Some(k) = self.kind {
            let _ = write!(url, "&kind={k}");
        }
        if let Some(r) = &self.region {
            let _ = write!(url, "&region={r}");
        }
        url
    }
}

fn syllables(word: &str) -> Option<Vec<&'static str>> {
    word.chars()
        .map(|c| c.to_pinyin().map(|p| p.plain()))
        .collect()
}

fn substring(text: &str, len: usize, rng: &mut StdRng) -> Option<String> {
    let chars: Vec<char> = text.chars().filter(|c| !matches!(c, '，' | '。')).collect();
    if chars.len() < len {
        return None;
    }
    let at = rng.random_range(0..=chars.len() - len);
    Some(chars[at..at + len].iter().collect())
}

fn generate_queries(
    corpus: &Corpus,
    vocab: &Vocab,
    n: usize,
    rng: &mut StdRng,
) -> Vec<(Set, Vec<Query>)> {
    // A text of the corpus: a title (40 %), a description (30 %) or a cue (30 %).
    let pick_text = |rng: &mut StdRng| -> (&Lesson, &str) {
        let roll: f64 = rng.random();
        if roll < 0.3 && !corpus.cues.is_empty() {
            let c = corpus.cues.choose(rng).expect("cues are not empty");
            (&corpus.lessons[c.lesson as usize], c.text.as_str())
        } else {
            let l = corpus.lessons.choose(rng).expect("lessons are not empty");
            if roll < 0.6 {
                (l, l.description.as_str())
            } else {
                (l, l.title.as_str())
            }
        }
    };
    let plain = |set: Set, text: String| Query {
        set,
        text,
        kind: None,
        region: None,
    };
    let mut out = Vec::new();
    for set in Set::ALL {
        let mut qs = Vec::with_capacity(n);
        let mut tries = 0;
        while qs.len() < n && tries < n * 200 {
            tries += 1;
            let q = match set {
                Set::One | Set::Two | Set::Four => {
                    let len = match set {
                        Set::One => 1,
                        Set::Two => 2,
                        _ => 4,
                    };
                    let (_, text) = pick_text(rng);
                    substring(text, len, rng).map(|s| plain(set, s))
                }
                Set::Pinyin | Set::Initials => {
                    let l = corpus.lessons.choose(rng).expect("lessons are not empty");
                    let w = &vocab.words[*l.title_words.choose(rng).unwrap_or(&0) as usize];
                    syllables(w).filter(|s| s.len() >= 2).map(|s| {
                        let text = if set == Set::Pinyin {
                            s.concat()
                        } else {
                            s.iter().filter_map(|x| x.chars().next()).collect()
                        };
                        plain(set, text)
                    })
                }
                Set::Phrase => {
                    let l = corpus.lessons.choose(rng).expect("lessons are not empty");
                    let words = if rng.random_bool(0.5) {
                        &l.title_words
                    } else {
                        &l.desc_words
                    };
                    (words.len() >= 2).then(|| {
                        let at = rng.random_range(0..words.len() - 1);
                        let phrase = vocab.join(&words[at..at + 2]);
                        plain(set, format!("\"{phrase}\""))
                    })
                }
                Set::Filtered => {
                    let (l, text) = pick_text(rng);
                    substring(text, 2, rng).map(|s| Query {
                        set,
                        text: s,
                        kind: Some(l.kind),
                        region: Some(if rng.random_bool(0.5) {
                            format!("{}0000", &l.region[..2])
                        } else {
                            format!("{}00", &l.region[..4])
                        }),
                    })
                }
                Set::Traditional => {
                    let (_, text) = pick_text(rng);
                    let len = rng.random_range(2..=4);
                    substring(text, len, rng).and_then(|s| {
                        let t: String = s
                            .chars()
                            .map(|c| {
                                TRADITIONAL
                                    .iter()
                                    .find(|(simp, _)| *simp == c)
                                    .map_or(c, |(_, trad)| *trad)
                            })
                            .collect();
                        (t != s).then(|| plain(set, t))
                    })
                }
            };
            if let Some(q) = q {
                qs.push(q);
            }
        }
        out.push((set, qs));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Loading Lectern's database

fn lectern_env(root: &Path, port: u16, s3_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("LECTERN_BIND", format!("127.0.0.1:{port}")),
        ("LECTERN_DATA_DIR", root.join("data").display().to_string()),
        (
            "LECTERN_INDEX_DIR",
            root.join("index").display().to_string(),
        ),
        ("LECTERN_DATABASE_URL", String::new()),
        ("LECTERN_S3_ENDPOINT", String::new()),
        ("LECTERN_S3_EMBEDDED_BIND", format!("127.0.0.1:{s3_port}")),
        ("RUST_LOG", "warn".into()),
    ]
}

/// A process's memory, in bytes: resident in all, of which anonymous (the heap, stacks) and
/// file-backed (the index files the kernel maps in, which it can drop under pressure), and the
/// peak resident size.
struct Memory {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VmRSS {:.0} MiB = heap and other anonymous memory (RssAnon) {:.0} MiB + mapped files \
             (RssFile, mostly the index) {:.0} MiB; peak VmHWM {:.0} MiB",
            self.rss as f64 / MIB,
            self.anon as f64 / MIB,
            self.file as f64 / MIB,
            self.hwm as f64 / MIB
        )
    }
}

async fn run_lectern(
    bin: &Path,
    root: &Path,
    envs: &[(&str, String)],
    args: &[&str],
) -> Result<String> {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .env_remove("LECTERN_CONFIG")
        .current_dir(root)
        .stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .await
        .with_context(|| format!("running `lectern {}`", args.join(" ")))?;
    ensure!(
        out.status.success(),
        "`lectern {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Inserts `rows` with one multi-row INSERT per `batch` rows.
async fn insert_batched<T>(
    conn: &mut sqlx::SqliteConnection,
    head: &str,
    rows: impl Iterator<Item = T>,
    batch: usize,
    mut push: impl FnMut(sqlx::query_builder::Separated<'_, Sqlite, &'static str>, T),
) -> Result<()> {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_values(rows.by_ref().take(batch), &mut push);
        qb.build()
            .execute(&mut *conn)
            .await
            .with_context(|| format!("{head} …"))?;
    }
    Ok(())
}

/// Writes the corpus into the migrated SQLite database of the service: a root organisation,
/// the lessons (published) with their tags, one subtitle asset per subtitled lesson whose blob
/// has an `ok` extraction and the cues as text segments, and one change-log entry per lesson.
async fn load_lectern(corpus: &Corpus, db: &Path) -> Result<()> {
    let opts = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .pragma("synchronous", "OFF");
    let mut conn = sqlx::SqliteConnection::connect_with(&opts)
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    let now = 1_764_000_000_000i64;
    let root = "01900000-0000-7000-8000-00000000bec0";
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO orgs (id, parent_id, name, level, region_code, path, review_required, \
         self_approval, created_at) VALUES (?1, NULL, '基准测试省', 'province', '440000', ?2, 0, 1, ?3)",
    )
    .bind(root)
    .bind(format!("/{root}/"))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO lessons (id, title, description, kind, lecturer, series, region_code, \
         recorded_on, language, status, version, created_at, updated_at, published_at, org_id) ",
        corpus.lessons.iter(),
        500,
        |mut b, l| {
            b.push_bind(l.id.as_str())
                .push_bind(l.title.as_str())
                .push_bind(l.description.as_str())
                .push_bind(l.kind)
                .push_bind(l.lecturer.as_str())
                .push_bind(l.series.as_deref())
                .push_bind(l.region)
                .push_bind(l.recorded_on.as_str())
                .push_bind("zh")
                .push_bind("published")
                .push_bind(1i64)
                .push_bind(now)
                .push_bind(now)
                .push_bind(now)
                .push_bind(root);
        },
    )
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO lesson_tags (lesson_id, tag, position) ",
        corpus
            .lessons
            .iter()
            .flat_map(|l| l.tags.iter().enumerate().map(move |(i, t)| (l, i, t))),
        2000,
        |mut b, (l, i, t)| {
            b.push_bind(l.id.as_str())
                .push_bind(t.as_str())
                .push_bind(i as i64);
        },
    )
    .await?;
    // One subtitle per subtitled lesson, with a unique fake SHA-256: an `ok` extraction row
    // means the indexer never asks S3 for the object.
    let subtitled: Vec<(usize, &Lesson)> = corpus
        .lessons
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.cues.is_empty())
        .collect();
    let sha = |i: usize| format!("{:064x}", (0xbe_u128 << 100) | i as u128);
    insert_batched(
        &mut tx,
        "INSERT INTO blobs (sha256, object_key, size, created_at) ",
        subtitled.iter(),
        2000,
        |mut b, (i, _)| {
            b.push_bind(sha(*i))
                .push_bind(format!("bench/{}", sha(*i)))
                .push_bind(4096i64)
                .push_bind(now);
        },
    )
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO assets (id, lesson_id, role, filename, sha256, content_type, disposition, \
         created_at) ",
        subtitled.iter(),
        1000,
        |mut b, (i, l)| {
            b.push_bind(format!("01900000-0000-7000-8000-{:012x}", i))
                .push_bind(l.id.as_str())
                .push_bind("subtitle")
                .push_bind("zh-CN.vtt")
                .push_bind(sha(*i))
                .push_bind("text/vtt")
                .push_bind("attachment")
                .push_bind(now);
        },
    )
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO extractions (sha256, format, status, error, segments, extracted_at) ",
        subtitled.iter(),
        2000,
        |mut b, (i, l)| {
            b.push_bind(sha(*i))
                .push_bind("vtt")
                .push_bind("ok")
                .push_bind(None::<String>)
                .push_bind(l.cues.len() as i64)
                .push_bind(now);
        },
    )
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO text_segments (sha256, seq, page, start_ms, end_ms, text) ",
        subtitled
            .iter()
            .flat_map(|(i, l)| l.cues.clone().map(move |c| (*i, c, c - l.cues.start))),
        2000,
        |mut b, (i, c, seq)| {
            let cue = &corpus.cues[c];
            b.push_bind(sha(i))
                .push_bind(seq as i64)
                .push_bind(None::<i64>)
                .push_bind(cue.start_ms)
                .push_bind(cue.end_ms)
                .push_bind(cue.text.as_str());
        },
    )
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO changes (seq, entity, entity_id, lesson_id, op, at) ",
        corpus.lessons.iter().enumerate(),
        2000,
        |mut b, (i, l)| {
            b.push_bind(i as i64 + 1)
                .push_bind("lesson")
                .push_bind(l.id.as_str())
                .push_bind(l.id.as_str())
                .push_bind("publish")
                .push_bind(now);
        },
    )
    .await?;
    sqlx::query("UPDATE change_head SET seq = ?1 WHERE id = 1")
        .bind(corpus.lessons.len() as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The service

struct Service {
    child: tokio::process::Child,
    pid: u32,
    base: String,
    token: String,
    index_dir: PathBuf,
    log: PathBuf,
    http: reqwest::Client,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Bytes under `path`, recursively.
fn du(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => du(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// What the search index reports about its progress.
struct Progress {
    position: i64,
    documents: Option<u64>,
}

impl Service {
    async fn start(bin: &Path, root: &Path, envs: &[(&str, String)], base: String) -> Result<Self> {
        let log = root.join("service.log");
        let log_file = std::fs::File::create(&log)?;
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg("serve")
            .env_remove("LECTERN_CONFIG")
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the service exited at once"))?;
        let index_dir = root.join("index");
        let mut s = Self {
            child,
            pid,
            base,
            token: String::new(),
            index_dir,
            log,
            http: reqwest::Client::builder().no_proxy().build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            s.check_alive()?;
            if let Ok(r) = s.http.get(format!("{}/health/ready", s.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "the service was not ready within 120 s; log:\n{}",
                s.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let out = run_lectern(bin, root, envs, &["token", "create", "--name", "bench"]).await?;
        s.token = out
            .lines()
            .last()
            .ok_or_else(|| anyhow!("`lectern token create` printed nothing"))?
            .trim()
            .to_owned();
        Ok(s)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the service exited ({status}); log:\n{}", self.log_tail());
        }
        Ok(())
    }

    /// The index's position: from `GET /api/v1/search/status` where the service has it, else
    /// from the payload of the index's last commit (`meta.json`: "<schema version> <position>").
    async fn progress(&self) -> Result<Progress> {
        if let Ok(r) = self
            .http
            .get(format!("{}/api/v1/search/status", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            && r.status().is_success()
            && let Ok(v) = r.json::<serde_json::Value>().await
            && let Some(position) = v["position"].as_i64()
        {
            return Ok(Progress {
                position,
                documents: v["documents"].as_u64().or_else(|| v["lessons"].as_u64()),
            });
        }
        let meta = match std::fs::read_to_string(self.index_dir.join("meta.json")) {
            Ok(m) => m,
            Err(_) => {
                return Ok(Progress {
                    position: 0,
                    documents: None,
                });
            }
        };
        let v: serde_json::Value = serde_json::from_str(&meta).unwrap_or_default();
        let position = v["payload"]
            .as_str()
            .and_then(|p| p.split_whitespace().last())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let documents = v["segments"].as_array().map(|segs| {
            segs.iter()
                .map(|s| {
                    s["max_doc"]
                        .as_u64()
                        .unwrap_or(0)
                        .saturating_sub(s["deletes"]["num_deleted_docs"].as_u64().unwrap_or(0))
                })
                .sum()
        });
        Ok(Progress {
            position,
            documents,
        })
    }

    /// The service's memory from `/proc/PID/status`.
    fn memory(&self) -> Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| anyhow!("no {name} in /proc/{}/status", self.pid))?;
            let kb: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("parsing {line:?}"))?;
            Ok(kb * 1024)
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            hwm: field("VmHWM:")?,
            anon: field("RssAnon:")?,
            file: field("RssFile:")?,
        })
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Running query sets

/// One way to search: Lectern over HTTP, or a SQL peer over a direct connection pool.
#[derive(Clone)]
enum Engine {
    Http {
        client: reqwest::Client,
        base: String,
    },
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// PostgreSQL: a lesson matches when its document or one of its cues matches the `simple`
/// full-text query or contains the string (`ILIKE`, served by `pg_trgm` from 3 characters on).
/// The 20 newest matches are returned, so every match is found and sorted, as a ranking would.
fn pg_sql(filtered: bool) -> String {
    format!(
        "SELECT l.id FROM lessons l WHERE l.rid IN (\
           SELECT rid FROM lessons WHERE tsv @@ plainto_tsquery('simple', $1) \
             OR doc ILIKE $2 \
           UNION SELECT lesson_rid FROM cues WHERE tsv @@ plainto_tsquery('simple', $1) \
             OR text ILIKE $2){} \
         ORDER BY l.recorded_on DESC, l.rid LIMIT {TOP}",
        if filtered {
            " AND l.kind = $3 AND l.region_code LIKE $4"
        } else {
            ""
        }
    )
}

/// SQLite: FTS5 `MATCH` of the quoted string from 3 characters on (the trigram tokenizer's
/// substring search); below that a `LIKE`, which FTS5 answers by scanning.
fn sqlite_sql(short: bool, filtered: bool) -> String {
    let (lesson, cue) = if short {
        ("doc LIKE ?1", "text LIKE ?1")
    } else {
        ("lesson_fts MATCH ?1", "cue_fts MATCH ?1")
    };
    format!(
        "SELECT l.id FROM lessons l WHERE l.rid IN (\
           SELECT rowid FROM lesson_fts WHERE {lesson} \
           UNION SELECT lesson_rid FROM cue_fts WHERE {cue}){} \
         ORDER BY l.recorded_on DESC, l.rid LIMIT {TOP}",
        if filtered {
            " AND l.kind = ?2 AND l.region_code LIKE ?3"
        } else {
            ""
        }
    )
}

fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Engine {
    fn label(&self) -> &'static str {
        match self {
            Engine::Http { .. } => "Lectern",
            Engine::Postgres(_) => "PostgreSQL",
            Engine::Sqlite(_) => "SQLite FTS5",
        }
    }

    /// A copy for one client: Lectern clients each get their own HTTP client (own keep-alive
    /// connection); the SQL peers share a pool with a connection per client.
    fn for_client(&self) -> Result<Self> {
        Ok(match self {
            Engine::Http { base, .. } => Engine::Http {
                client: reqwest::Client::builder().no_proxy().build()?,
                base: base.clone(),
            },
            other => other.clone(),
        })
    }

    /// Runs `q`; returns how many hits came back.
    async fn run(&self, q: &Query, url: &str) -> Result<usize> {
        match self {
            Engine::Http { client, .. } => {
                let r = client.get(url).send().await?;
                let status = r.status();
                let body = r.bytes().await?;
                ensure!(
                    status.is_success(),
                    "{status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                );
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                Ok(v["hits"].as_array().map_or(0, Vec::len))
            }
            Engine::Postgres(pool) => {
                let filtered = q.kind.is_some();
                let sql = pg_sql(filtered);
                let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                    .bind(q.needle())
                    .bind(like_escape(q.needle()));
                if filtered {
                    query = query
                        .bind(q.kind.unwrap_or_default())
                        .bind(format!("{}%", q.region_prefix().unwrap_or_default()));
                }
                Ok(query.fetch_all(pool).await?.len())
            }
            Engine::Sqlite(pool) => {
                let filtered = q.kind.is_some();
                let short = q.needle().chars().count() < 3;
                let sql = sqlite_sql(short, filtered);
                let needle = if short {
                    like_escape(q.needle())
                } else {
                    format!("\"{}\"", q.needle().replace('"', "\"\""))
                };
                let mut query =
                    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(needle);
                if filtered {
                    query = query
                        .bind(q.kind.unwrap_or_default())
                        .bind(format!("{}%", q.region_prefix().unwrap_or_default()));
                }
                Ok(query.fetch_all(pool).await?.len())
            }
        }
    }
}

/// One (system, query set, clients) measurement.
#[derive(Default, Clone)]
struct Cell {
    latencies: Vec<Duration>,
    wall: Duration,
    errors: usize,
    first_error: Option<String>,
    /// Whether each query (by index) returned at least one hit, where it ran.
    hit: Vec<Option<bool>>,
    cut_short: bool,
}

impl Cell {
    fn done(&self) -> usize {
        self.latencies.len()
    }

    fn qps(&self) -> f64 {
        self.done() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        if l.is_empty() {
            return Duration::ZERO;
        }
        let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
        l[i]
    }
}

/// Times of the members' search page: the server's (`Server-Timing: total`) and the client's,
/// in milliseconds.
#[derive(Default)]
struct PageTimes {
    server: Vec<f64>,
    client: Vec<f64>,
}

impl PageTimes {
    fn at(v: &[f64], p: f64) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
    }

    fn line(&self) -> String {
        format!(
            "{} pages: server p50 {:.2} ms, p99 {:.2} ms; client (loopback, HTML read) p50 {:.2} ms",
            self.client.len(),
            Self::at(&self.server, 0.5),
            Self::at(&self.server, 0.99),
            Self::at(&self.client, 0.5)
        )
    }
}

/// Requests each page in turn (after a warm-up of ten) until done or until `budget` is spent.
async fn page_times(urls: &[String], budget: Duration) -> Result<PageTimes> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut times = PageTimes::default();
    let start = Instant::now();
    for (i, url) in urls.iter().enumerate() {
        if start.elapsed() > budget {
            break;
        }
        let t0 = Instant::now();
        let r = client.get(url).send().await?;
        let status = r.status();
        let server = r
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("total;dur="))
            .and_then(|v| v.parse::<f64>().ok());
        let _ = r.bytes().await?;
        let took = t0.elapsed().as_secs_f64() * 1000.0;
        ensure!(status.is_success(), "{url}: {status}");
        if i < 10 {
            continue;
        }
        times.client.push(took);
        times.server.extend(server);
    }
    Ok(times)
}

/// Every client goes once through the whole set, each starting at a different place, until
/// done or until the time budget is spent.
async fn run_cell(
    engine: &Engine,
    queries: &[Query],
    urls: &[String],
    clients: usize,
    budget: Duration,
) -> Result<Cell> {
    let n = queries.len();
    let queries = Arc::new(queries.to_vec());
    let urls = Arc::new(urls.to_vec());
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let engine = engine.for_client()?;
        let queries = queries.clone();
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n);
            let mut hits = vec![None; n];
            let mut errors = 0;
            let mut first_error = None;
            let mut cut = false;
            for k in 0..n {
                if start.elapsed() > budget {
                    cut = true;
                    break;
                }
                let i = (k + c * n / clients) % n;
                let t0 = Instant::now();
                match engine.run(&queries[i], &urls[i]).await {
                    Ok(h) => {
                        lat.push(t0.elapsed());
                        hits[i] = Some(h > 0);
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| {
                            format!("{} {:?}: {e:#}", queries[i].set.label(), queries[i].text)
                        });
                    }
                }
            }
            (lat, hits, errors, first_error, cut)
        }));
    }
    let mut cell = Cell {
        hit: vec![None; n],
        ..Cell::default()
    };
    for t in tasks {
        let (lat, hits, errors, first_error, cut) = t.await?;
        cell.latencies.extend(lat);
        for (i, h) in hits.into_iter().enumerate() {
            if h.is_some() {
                cell.hit[i] = h;
            }
        }
        cell.errors += errors;
        if cell.first_error.is_none() {
            cell.first_error = first_error;
        }
        cell.cut_short |= cut;
    }
    cell.wall = start.elapsed();
    Ok(cell)
}

/// Results of one system: per query set, per number of clients.
struct SystemRun {
    label: &'static str,
    cells: HashMap<(Set, usize), Cell>,
}

async fn run_system(
    settings: &Settings,
    engine: &Engine,
    sets: &[(Set, Vec<Query>)],
    base: &str,
) -> Result<SystemRun> {
    let label = engine.label();
    let urls: Vec<Vec<String>> = sets
        .iter()
        .map(|(_, qs)| qs.iter().map(|q| q.url(base)).collect())
        .collect();
    eprintln!("[{label}] warming up ({} queries per set)", settings.warmup);
    for ((_, qs), urls) in sets.iter().zip(&urls) {
        let w = settings.warmup.min(qs.len());
        let _ = run_cell(engine, &qs[..w], &urls[..w], 1, settings.cell).await?;
    }
    let mut cells = HashMap::new();
    for ((set, qs), urls) in sets.iter().zip(&urls) {
        for &clients in &settings.clients {
            let cell = run_cell(engine, qs, urls, clients, settings.cell).await?;
            eprintln!(
                "[{label}] {:<24} {clients} client(s): {} queries in {:.2} s, {:.1} q/s, p50 {:.2} ms, p99 {:.2} ms, {} with hits{}{}",
                set.label(),
                cell.done(),
                cell.wall.as_secs_f64(),
                cell.qps(),
                ms(cell.percentile(0.5)),
                ms(cell.percentile(0.99)),
                cell.hit.iter().filter(|h| **h == Some(true)).count(),
                if cell.cut_short {
                    " (time budget reached)"
                } else {
                    ""
                },
                cell.first_error
                    .as_deref()
                    .map(|e| format!("; {} errors, first: {e}", cell.errors))
                    .unwrap_or_default()
            );
            cells.insert((*set, clients), cell);
        }
    }
    Ok(SystemRun { label, cells })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// The SQL peers

async fn load_postgres(
    settings: &Settings,
    corpus: &Corpus,
    notes: &mut Vec<String>,
) -> Result<(sqlx::PgPool, PgLoad)> {
    let admin_opts = PgConnectOptions::from_str(&settings.pg_url)
        .with_context(|| format!("LECTERN_BENCH_PG_URL {:?}", settings.pg_url))?;
    let mut admin = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::PgConnection::connect_with(&admin_opts),
    )
    .await
    .map_err(|_| anyhow!("timed out connecting"))?
    .with_context(|| format!("connecting to {}", settings.pg_url))?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {PG_DATABASE}"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {PG_DATABASE} TEMPLATE template0 ENCODING 'UTF8'"
    )))
    .execute(&mut admin)
    .await?;
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&mut admin)
        .await?;
    notes.push(format!(
        "PostgreSQL: {}",
        version.split(" on ").next().unwrap_or(&version)
    ));
    admin.close().await?;
    // JIT compilation is off: with it, every scan of the cues (short queries) pays a compile.
    let opts = admin_opts.database(PG_DATABASE).options([("jit", "off")]);
    let t0 = Instant::now();
    let mut conn = sqlx::PgConnection::connect_with(&opts).await?;
    for stmt in [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE TABLE lessons (rid INTEGER PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT NULL, \
         region_code TEXT NOT NULL, recorded_on DATE NOT NULL, doc TEXT NOT NULL, \
         tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', doc)) STORED)",
        "CREATE TABLE cues (lesson_rid INTEGER NOT NULL, seq INTEGER NOT NULL, start_ms BIGINT NOT NULL, \
         text TEXT NOT NULL, tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED)",
    ] {
        sqlx::query(stmt)
            .execute(&mut conn)
            .await
            .with_context(|| stmt.to_owned())?;
    }
    // COPY in text format; the generated texts hold no tabs, newlines or backslashes.
    let mut buf = String::with_capacity(16 * 1024 * 1024);
    {
        let mut copy = conn
            .copy_in_raw("COPY lessons (rid, id, kind, region_code, recorded_on, doc) FROM STDIN")
            .await?;
        for (i, l) in corpus.lessons.iter().enumerate() {
            let _ = writeln!(
                buf,
                "{i}\t{}\t{}\t{}\t{}\t{}",
                l.id,
                l.kind,
                l.region,
                l.recorded_on,
                corpus.document(l)
            );
            if buf.len() > 8 * 1024 * 1024 {
                copy.send(buf.as_bytes()).await?;
                buf.clear();
            }
        }
        copy.send(buf.as_bytes()).await?;
        buf.clear();
        copy.finish().await?;
    }
    {
        let mut copy = conn
            .copy_in_raw("COPY cues (lesson_rid, seq, start_ms, text) FROM STDIN")
            .await?;
        for l in &corpus.lessons {
            for (seq, c) in corpus.cues[l.cues.clone()].iter().enumerate() {
                let _ = writeln!(buf, "{}\t{seq}\t{}\t{}", c.lesson, c.start_ms, c.text);
            }
            if buf.len() > 8 * 1024 * 1024 {
                copy.send(buf.as_bytes()).await?;
                buf.clear();
            }
        }
        copy.send(buf.as_bytes()).await?;
        buf.clear();
        copy.finish().await?;
    }
    let loaded = t0.elapsed();
    let t1 = Instant::now();
    for stmt in [
        "SET maintenance_work_mem = '512MB'",
        "CREATE INDEX lessons_fts ON lessons USING gin (tsv)",
        "CREATE INDEX lessons_trgm ON lessons USING gin (doc gin_trgm_ops)",
        "CREATE INDEX cues_fts ON cues USING gin (tsv)",
        "CREATE INDEX cues_trgm ON cues USING gin (text gin_trgm_ops)",
        "VACUUM ANALYZE lessons",
        "VACUUM ANALYZE cues",
    ] {
        sqlx::query(stmt)
            .execute(&mut conn)
            .await
            .with_context(|| stmt.to_owned())?;
    }
    let indexed = t1.elapsed();
    let (total, indexes): (i64, i64) = sqlx::query_as(
        "SELECT pg_database_size(current_database()), \
         (SELECT SUM(pg_relation_size(c.oid))::BIGINT FROM pg_class c \
          WHERE c.relname IN ('lessons_fts', 'lessons_trgm', 'cues_fts', 'cues_trgm'))",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    let max = settings.clients.iter().copied().max().unwrap_or(1) as u32;
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .min_connections(max)
        .connect_with(opts)
        .await?;
    Ok((
        pool,
        PgLoad {
            loaded,
            indexed,
            size: total as u64,
            index_size: indexes as u64,
        },
    ))
}

struct PgLoad {
    loaded: Duration,
    indexed: Duration,
    size: u64,
    index_size: u64,
}

async fn drop_postgres(settings: &Settings) -> Result<()> {
    let opts = PgConnectOptions::from_str(&settings.pg_url)?;
    let mut admin = sqlx::PgConnection::connect_with(&opts).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    Ok(())
}

async fn load_sqlite(
    settings: &Settings,
    corpus: &Corpus,
    file: &Path,
    notes: &mut Vec<String>,
) -> Result<(sqlx::SqlitePool, Duration, u64)> {
    let t0 = Instant::now();
    let opts = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .pragma("synchronous", "OFF");
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut conn)
        .await?;
    notes.push(format!("SQLite: {version} (bundled with sqlx)"));
    let mut tx = conn.begin().await?;
    for stmt in [
        "CREATE TABLE lessons (rid INTEGER PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT NULL, \
         region_code TEXT NOT NULL, recorded_on TEXT NOT NULL)",
        "CREATE VIRTUAL TABLE lesson_fts USING fts5(doc, tokenize = 'trigram')",
        "CREATE VIRTUAL TABLE cue_fts USING fts5(text, lesson_rid UNINDEXED, tokenize = 'trigram')",
    ] {
        sqlx::query(stmt)
            .execute(&mut *tx)
            .await
            .with_context(|| stmt.to_owned())?;
    }
    insert_batched(
        &mut tx,
        "INSERT INTO lessons (rid, id, kind, region_code, recorded_on) ",
        corpus.lessons.iter().enumerate(),
        2000,
        |mut b, (i, l)| {
            b.push_bind(i as i64)
                .push_bind(l.id.as_str())
                .push_bind(l.kind)
                .push_bind(l.region)
                .push_bind(l.recorded_on.as_str());
        },
    )
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO lesson_fts (rowid, doc) ",
        corpus.lessons.iter().enumerate(),
        2000,
        |mut b, (i, l)| {
            b.push_bind(i as i64).push_bind(corpus.document(l));
        },
    )
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO cue_fts (text, lesson_rid) ",
        corpus.cues.iter(),
        4000,
        |mut b, c| {
            b.push_bind(c.text.as_str()).push_bind(i64::from(c.lesson));
        },
    )
    .await?;
    sqlx::query("CREATE INDEX lessons_recorded_on ON lessons (recorded_on)")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    for stmt in [
        "INSERT INTO lesson_fts (lesson_fts) VALUES ('optimize')",
        "INSERT INTO cue_fts (cue_fts) VALUES ('optimize')",
        "ANALYZE",
    ] {
        sqlx::query(stmt).execute(&mut conn).await?;
    }
    conn.close().await?;
    let took = t0.elapsed();
    let max = settings.clients.iter().copied().max().unwrap_or(1) as u32;
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        .min_connections(max)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(file)
                .read_only(true)
                .pragma("cache_size", "-65536")
                .pragma("mmap_size", "1073741824"),
        )
        .await?;
    Ok((pool, took, du(file)))
}

// ---------------------------------------------------------------------------------------------
// Report

fn fmt_ms(d: Duration) -> String {
    let v = ms(d);
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn hits_of(run: &SystemRun, set: Set) -> Vec<Option<bool>> {
    // Whether each query hit, from any cell of the set that ran it.
    let mut out: Vec<Option<bool>> = Vec::new();
    for ((s, _), cell) in &run.cells {
        if *s != set {
            continue;
        }
        if out.is_empty() {
            out = vec![None; cell.hit.len()];
        }
        for (i, h) in cell.hit.iter().enumerate() {
            if out[i].is_none() {
                out[i] = *h;
            }
        }
    }
    out
}

fn hit_count(h: &[Option<bool>]) -> String {
    let ran = h.iter().filter(|x| x.is_some()).count();
    let hit = h.iter().filter(|x| **x == Some(true)).count();
    if ran == h.len() {
        format!("{hit}/{ran}")
    } else {
        format!("{hit}/{ran} (of {})", h.len())
    }
}

fn report(
    settings: &Settings,
    sets: &[(Set, Vec<Query>)],
    lectern: &SystemRun,
    peers: &[SystemRun],
    summary: &[(String, String)],
    notes: &[String],
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## Lectern search benchmark\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    for (k, v) in summary {
        let _ = writeln!(o, "| {k} | {v} |");
    }
    let _ = writeln!(
        o,
        "\n### Lectern query latency over HTTP (limit {TOP}; targets at 1 client: p50 ≤ 5 ms, p99 ≤ 30 ms)\n"
    );
    let _ = writeln!(
        o,
        "| Query set | Example | Clients | Queries run | p50 ms | p99 ms | Queries/s | Errors | Target met |"
    );
    let _ = writeln!(o, "|---|---|---:|---:|---:|---:|---:|---:|:-:|");
    for (set, _) in sets {
        for &c in &settings.clients {
            let Some(cell) = lectern.cells.get(&(*set, c)) else {
                continue;
            };
            let target = if c == 1 {
                let ok = ms(cell.percentile(0.5)) <= 5.0
                    && ms(cell.percentile(0.99)) <= 30.0
                    && cell.errors == 0;
                if ok { "yes" } else { "**no**" }
            } else {
                "–"
            };
            let _ = writeln!(
                o,
                "| {} | `{}` | {c} | {}{} | {} | {} | {:.0} | {} | {target} |",
                set.label(),
                set.example(),
                cell.done(),
                if cell.cut_short { " (budget)" } else { "" },
                fmt_ms(cell.percentile(0.5)),
                fmt_ms(cell.percentile(0.99)),
                cell.qps(),
                cell.errors,
            );
        }
    }
    if !peers.is_empty() {
        let _ = writeln!(
            o,
            "\n### Throughput against the SQL peers (queries/s; ratio = Lectern / the faster peer; target ≥ 5×)\n"
        );
        let mut head = String::from("| Query set | Clients | Lectern");
        let mut rule = String::from("|---|---:|---:");
        for p in peers {
            let _ = write!(head, " | {} | {} p50 ms", p.label, p.label);
            rule.push_str("|---:|---:");
        }
        let _ = writeln!(o, "{head} | Ratio | ≥ 5× |\n{rule}|---:|:-:|");
        let mut totals: HashMap<(&str, usize), (usize, f64)> = HashMap::new();
        for (set, _) in sets {
            for &c in &settings.clients {
                let Some(lc) = lectern.cells.get(&(*set, c)) else {
                    continue;
                };
                let mut row = format!("| {} | {c} | {:.0}", set.label(), lc.qps());
                let e = totals.entry((lectern.label, c)).or_default();
                e.0 += lc.done();
                e.1 += lc.wall.as_secs_f64();
                let mut best: f64 = 0.0;
                for p in peers {
                    match p.cells.get(&(*set, c)) {
                        Some(pc) => {
                            let _ = write!(
                                row,
                                " | {:.1}{} | {}",
                                pc.qps(),
                                if pc.cut_short { "*" } else { "" },
                                fmt_ms(pc.percentile(0.5))
                            );
                            best = best.max(pc.qps());
                            let e = totals.entry((p.label, c)).or_default();
                            e.0 += pc.done();
                            e.1 += pc.wall.as_secs_f64();
                        }
                        None => row.push_str(" | – | –"),
                    }
                }
                let ratio = lc.qps() / best.max(1e-9);
                let _ = writeln!(
                    o,
                    "{row} | {ratio:.1}× | {} |",
                    if ratio >= 5.0 { "yes" } else { "**no**" }
                );
            }
        }
        for &c in &settings.clients {
            let rate = |label: &str| {
                totals
                    .get(&(label, c))
                    .map_or(0.0, |(n, s)| *n as f64 / s.max(1e-9))
            };
            let mut row = format!("| **all sets** | {c} | {:.0}", rate(lectern.label));
            let mut best: f64 = 0.0;
            for p in peers {
                let _ = write!(row, " | {:.1} | –", rate(p.label));
                best = best.max(rate(p.label));
            }
            let ratio = rate(lectern.label) / best.max(1e-9);
            let _ = writeln!(
                o,
                "{row} | {ratio:.1}× | {} |",
                if ratio >= 5.0 { "yes" } else { "**no**" }
            );
        }
        let _ = writeln!(
            o,
            "\n\\* the time budget ({} s) ran out before every client finished its pass.\n\"all sets\": every query run in the set cells divided by the sum of their wall-clock times.",
            settings.cell.as_secs()
        );

        let _ = writeln!(
            o,
            "\n### Queries with at least one hit (each query once; hits Lectern finds that the peers miss)\n"
        );
        let mut head = String::from("| Query set | Lectern");
        let mut rule = String::from("|---|---:");
        for p in peers {
            let _ = write!(head, " | {}", p.label);
            rule.push_str("|---:");
        }
        head.push_str(" | Lectern hits, no peer does | A peer hits, Lectern does not |");
        rule.push_str("|---:|---:|");
        let _ = writeln!(o, "{head}\n{rule}");
        for (set, qs) in sets {
            let lh = hits_of(lectern, *set);
            let ph: Vec<Vec<Option<bool>>> = peers.iter().map(|p| hits_of(p, *set)).collect();
            let mut row = format!("| {} | {}", set.label(), hit_count(&lh));
            for h in &ph {
                let _ = write!(row, " | {}", hit_count(h));
            }
            let (mut only_l, mut only_p, mut both_ran) = (0, 0, 0);
            for i in 0..qs.len() {
                let l = lh.get(i).copied().flatten();
                let p: Vec<Option<bool>> = ph.iter().map(|h| h.get(i).copied().flatten()).collect();
                if l.is_none() || p.iter().any(Option::is_none) {
                    continue;
                }
                both_ran += 1;
                let any_peer = p.contains(&Some(true));
                if l == Some(true) && !any_peer {
                    only_l += 1;
                }
                if l == Some(false) && any_peer {
                    only_p += 1;
                }
            }
            let _ = writeln!(
                o,
                "{row} | {only_l} of {both_ran} | {only_p} of {both_ran} |"
            );
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(o, "\n### Notes\n");
        for n in notes {
            let _ = writeln!(o, "- {n}");
        }
    }
    o
}

// ---------------------------------------------------------------------------------------------

async fn run(settings: &Settings, dir: &Path) -> Result<String> {
    let mut summary: Vec<(String, String)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let t0 = Instant::now();
    let vocab = Vocab::load(&mut rng)?;
    let corpus = Corpus::generate(settings, &vocab, &mut rng)?;
    let sets = generate_queries(&corpus, &vocab, settings.queries, &mut rng);
    // The queries as request paths, one `set<TAB>path` per line, to replay by hand against the
    // kept folder's service (`LECTERN_BENCH_KEEP=1`).
    let listed: String = sets
        .iter()
        .flat_map(|(_, queries)| queries)
        .map(|q| format!("{}\t{}\n", q.set.label(), q.url("")))
        .collect();
    std::fs::write(dir.join("queries.tsv"), listed)?;
    let subtitled = corpus.lessons.iter().filter(|l| !l.cues.is_empty()).count();
    let chars: usize = corpus.cues.iter().map(|c| c.text.chars().count()).sum();
    eprintln!(
        "generated {} lessons, {} cues in {:.1} s",
        corpus.lessons.len(),
        corpus.cues.len(),
        t0.elapsed().as_secs_f64()
    );
    summary.push((
        "Corpus".into(),
        format!(
            "{} lessons ({} video with subtitles × {} cues), {} cues ({:.1} characters on average); seed {}; {} words from jieba's dictionary",
            corpus.lessons.len(),
            subtitled,
            settings.cues_per_lesson,
            corpus.cues.len(),
            chars as f64 / corpus.cues.len().max(1) as f64,
            settings.seed,
            vocab.words.len()
        ),
    ));
    summary.push((
        "Queries".into(),
        format!(
            "{} sets × {} queries; clients {}; warm-up {} queries per set; time budget {} s per cell",
            sets.len(),
            settings.queries,
            settings
                .clients
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            settings.warmup,
            settings.cell.as_secs()
        ),
    ));

    // Lectern.
    let root = dir.join("lectern");
    std::fs::create_dir_all(&root)?;
    let port = free_port()?;
    let envs = lectern_env(&root, port, free_port()?);
    run_lectern(&settings.bin, &root, &envs, &["migrate"]).await?;
    let t0 = Instant::now();
    load_lectern(&corpus, &root.join("data/lectern.db")).await?;
    let load = t0.elapsed();
    eprintln!("loaded Lectern's database in {:.1} s", load.as_secs_f64());
    summary.push((
        "Lectern database load".into(),
        format!(
            "{:.1} s (multi-row INSERTs, one transaction); SQLite file {:.0} MiB",
            load.as_secs_f64(),
            du(&root.join("data/lectern.db")) as f64 / MIB
        ),
    ));
    let head = corpus.lessons.len() as i64;
    let t0 = Instant::now();
    let mut service = Service::start(
        &settings.bin,
        &root,
        &envs,
        format!("http://127.0.0.1:{port}"),
    )
    .await?;
    let mut last_log = Instant::now();
    let progress = loop {
        service.check_alive()?;
        let p = service.progress().await?;
        if p.position >= head {
            break p;
        }
        if last_log.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "indexing: position {} of {head} after {:.0} s",
                p.position,
                t0.elapsed().as_secs_f64()
            );
            last_log = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let catch_up = t0.elapsed();
    let secs = catch_up.as_secs_f64();
    eprintln!("index caught up in {secs:.1} s");
    summary.push((
        "Indexing (service start → index at the change-log head)".into(),
        format!(
            "{secs:.1} s: {:.0} lessons/s, {:.0} cues/s{}",
            corpus.lessons.len() as f64 / secs,
            corpus.cues.len() as f64 / secs,
            progress
                .documents
                .map(|d| format!("; {d} documents in the index"))
                .unwrap_or_default()
        ),
    ));
    // Let a last merge settle before measuring the size.
    tokio::time::sleep(Duration::from_secs(2)).await;
    summary.push((
        "Index size".into(),
        format!(
            "{:.1} MiB (du of the index folder after catch-up)",
            du(&root.join("index")) as f64 / MIB
        ),
    ));
    summary.push((
        "Service memory, idle after indexing".into(),
        service.memory()?.to_string(),
    ));
    let engine = Engine::Http {
        client: reqwest::Client::builder().no_proxy().build()?,
        base: service.base.clone(),
    };
    let lectern = run_system(settings, &engine, &sets, &service.base).await;
    service.check_alive()?;
    let lectern = lectern?;
    summary.push((
        "Service memory after the query runs".into(),
        service.memory()?.to_string(),
    ));
    // The members' search page (HTML: the same search, SQL for the hits, the template, facet
    // links), one client, the server's own time from its `Server-Timing` header.
    let mut all_pages = Vec::new();
    for (set, qs) in &sets {
        let urls: Vec<String> = qs.iter().map(|q| q.page_url(&service.base)).collect();
        let t = page_times(&urls, settings.cell).await?;
        summary.push((
            format!("Search page `/search`, {} (1 client)", set.label()),
            t.line(),
        ));
        all_pages.push(t);
    }
    let mut every = PageTimes::default();
    for t in all_pages {
        every.server.extend(t.server);
        every.client.extend(t.client);
    }
    summary.push((
        "Search page `/search`, all sets (target: server p50 < 10 ms)".into(),
        every.line(),
    ));
    // The front page: the newest lessons, the biggest series, the browsing facets.
    let front = vec![format!("{}/", service.base); 210];
    summary.push((
        "Front page `/` (1 client)".into(),
        page_times(&front, settings.cell).await?.line(),
    ));
    summary.push((
        "Index size after the query runs".into(),
        format!("{:.1} MiB", du(&root.join("index")) as f64 / MIB),
    ));
    service.stop().await;

    // The peers.
    let mut peers = Vec::new();
    if settings.runs("postgres") {
        match load_postgres(settings, &corpus, &mut notes).await {
            Ok((pool, l)) => {
                eprintln!(
                    "loaded PostgreSQL in {:.1} s, indexed in {:.1} s",
                    l.loaded.as_secs_f64(),
                    l.indexed.as_secs_f64()
                );
                summary.push((
                    "PostgreSQL load".into(),
                    format!(
                        "COPY {:.1} s, GIN indexes (tsvector + pg_trgm, lessons and cues) {:.1} s; database {:.0} MiB, of which the four GIN indexes {:.0} MiB",
                        l.loaded.as_secs_f64(),
                        l.indexed.as_secs_f64(),
                        l.size as f64 / MIB,
                        l.index_size as f64 / MIB
                    ),
                ));
                let run = run_system(settings, &Engine::Postgres(pool.clone()), &sets, "").await;
                pool.close().await;
                peers.push(run?);
            }
            Err(e) => {
                eprintln!(
                    "\n!!! PostgreSQL at {} is not usable: {e:#}\n!!! SKIPPING the PostgreSQL comparison\n",
                    settings.pg_url
                );
                notes.push(format!(
                    "**PostgreSQL comparison skipped**: {} was not usable ({e:#}).",
                    settings.pg_url
                ));
            }
        }
        if !settings.keep
            && let Err(e) = drop_postgres(settings).await
        {
            eprintln!("could not drop the database {PG_DATABASE}: {e:#}");
        }
    }
    if settings.runs("sqlite") {
        let file = dir.join("fts5.db");
        let (pool, took, size) = load_sqlite(settings, &corpus, &file, &mut notes)
            .await
            .context("loading SQLite FTS5")?;
        eprintln!("loaded SQLite FTS5 in {:.1} s", took.as_secs_f64());
        summary.push((
            "SQLite FTS5 load".into(),
            format!(
                "{:.1} s (multi-row INSERTs, one transaction, then `optimize`); file {:.0} MiB",
                took.as_secs_f64(),
                size as f64 / MIB
            ),
        ));
        let run = run_system(settings, &Engine::Sqlite(pool.clone()), &sets, "").await;
        pool.close().await;
        peers.push(run?);
    }
    notes.push(
        "Lectern is measured over HTTP (anonymous `GET /api/v1/search`, JSON parsed, one reqwest client \
         with keep-alive per client task); the peers through direct SQL connections (sqlx pool, one \
         connection per client), so they pay no HTTP and no JSON."
            .into(),
    );
    notes.push(format!(
        "The peers' query: lessons whose document (title, description, tags, lecturer, series) or one of \
         whose cues (a child table, one row per cue) matches; the {TOP} newest are returned, which makes \
         them find and sort every match as a ranking would. PostgreSQL (JIT off): `tsv @@ \
         plainto_tsquery('simple', q) OR … ILIKE '%q%'` with `tsv` a stored generated \
         `to_tsvector('simple', …)` column, GIN indexes for both (pg_trgm); SQLite: FTS5 \
         `tokenize='trigram'`, `MATCH '\"q\"'` from 3 characters, `LIKE '%q%'` below. Phrase quotes are \
         stripped for the peers; filters are `kind = …` and `region_code LIKE 'prefix%'`."
    ));
    notes.push(
        "pg_trgm cannot use its index for strings shorter than 3 characters (no trigram can be \
         extracted), so 1- and 2-character queries scan every lesson and cue; SQLite FTS5 trigram \
         likewise answers `LIKE` of fewer than 3 characters by a full scan."
            .into(),
    );
    Ok(report(settings, &sets, &lectern, &peers, &summary, &notes))
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    if !settings.bin.exists() {
        eprintln!(
            "error: {} not found. Build the service first: `cargo build --release` \
             (or set LECTERN_BENCH_BIN).",
            settings.bin.display()
        );
        std::process::exit(2);
    }
    let tmp = match std::env::var_os("LECTERN_BENCH_DIR") {
        Some(d) => tempfile::Builder::new()
            .prefix("lectern-bench-search-")
            .tempdir_in(d),
        None => tempfile::Builder::new()
            .prefix("lectern-bench-search-")
            .tempdir(),
    };
    let tmp = match tmp {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: creating the temporary folder: {e}");
            std::process::exit(2);
        }
    };
    eprintln!("working in {}", tmp.path().display());
    let result = run(&settings, tmp.path()).await;
    if settings.keep {
        let kept = tmp.keep();
        eprintln!("kept {}", kept.display());
    }
    match result {
        Ok(report) => {
            println!("{report}");
            if let Some(parent) = settings.out.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            match std::fs::write(&settings.out, &report) {
                Ok(()) => eprintln!("report written to {}", settings.out.display()),
                Err(e) => eprintln!("could not write {}: {e}", settings.out.display()),
            }
        }
        Err(e) => {
            eprintln!("FAILED: {e:#}");
            std::process::exit(1);
        }
    }
}
