//! OAI-PMH 2.0 (<https://www.openarchives.org/OAI/openarchivesprotocol.html>) for one platform:
//! the records are the lessons the platform receives, plus — as deleted records, kept for good
//! (`deletedRecord` = persistent) — those it was sent and no longer receives. Metadata in
//! `oai_dc`; sets for series (`series:<id>`) and organisations (`org:<id>`, the owner and every
//! organisation above it); `from`/`until` in UTC at second granularity; stateless resumption
//! tokens of 100 records.
//!
//! A record's datestamp is when it last changed for this platform: the lesson's last change-log
//! entry, or the platform's last re-evaluation (filters or place in the tree), whichever is later.

use super::xml::Xml;
use crate::db::Db;
use crate::db::lessons::LessonRecord;
use crate::domain::platform::series_id;
use crate::domain::visibility::{self, Platform};
use base64::Engine;
use std::collections::HashMap;

pub const PAGE: usize = 100;
const ID_PREFIX: &str = "oai:lectern:";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An OAI-PMH error condition (answered inside a 200 response, as the protocol says).
#[derive(Debug)]
pub struct OaiError {
    pub code: &'static str,
    pub message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> OaiError {
    OaiError {
        code,
        message: message.into(),
    }
}

/// The answer to a request as the protocol sees it: the verb's XML, or OAI-PMH errors (the
/// client's: `badArgument`, `idDoesNotExist`, `noRecordsMatch`, …), both in a 200 response.
pub type OaiResult = Result<Xml, Vec<OaiError>>;

/// Why a request was not answered with records.
#[derive(Debug)]
pub enum Failure {
    /// The request, as the protocol judges it: OAI-PMH error conditions.
    Request(Vec<OaiError>),
    /// The repository itself (its database) failed. No OAI-PMH error code fits — each one tells
    /// the harvester its request was wrong, so it would never retry — and the adapter answers
    /// HTTP 503 with `Retry-After`, as OAI-PMH §3.1.2.2 allows for a repository that cannot
    /// answer now.
    Internal(sqlx::Error),
}

impl From<Vec<OaiError>> for Failure {
    fn from(errors: Vec<OaiError>) -> Self {
        Self::Request(errors)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e)
    }
}

/// The outcome of [`respond`]: XML, the client's errors, or an internal failure.
pub type Outcome = Result<Xml, Failure>;

/// Unix milliseconds as an OAI datestamp (`YYYY-MM-DDThh:mm:ssZ`).
pub fn datestamp(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

/// Parses `from`/`until`: a day or a second in UTC. Returns (milliseconds, is_day); `until` of a
/// day means its end.
fn parse_date(s: &str, end: bool) -> Option<(i64, bool)> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    let second =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    if s.len() == 10 {
        let d = time::Date::parse(s, &day).ok()?;
        let start = d.midnight().assume_utc().unix_timestamp() * 1000;
        return Some((if end { start + 86_400_000 - 1 } else { start }, true));
    }
    let t = time::PrimitiveDateTime::parse(s, &second)
        .ok()?
        .assume_utc();
    let ms = t.unix_timestamp() * 1000;
    Some((if end { ms + 999 } else { ms }, false))
}

/// The arguments of a request, as given (each at most once).
pub type Args = HashMap<String, String>;

/// A list request's state, carried in the resumption token.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ListState {
    prefix: String,
    set: Option<String>,
    from: Option<i64>,
    until: Option<i64>,
    after: String,
    cursor: usize,
}

/// The resumption token of a list's next page.
fn encode_token(state: &ListState) -> String {
    B64.encode(serde_json::to_vec(state).unwrap_or_default())
}

/// Reads a token [`encode_token`] wrote; `None` for anything else. The cursor (records already
/// sent) must leave room for another page: a hostile token with a cursor near `usize::MAX`
/// overflowed `cursor + page` and panicked (found by `props_oai_token_keeps_its_invariants`).
fn decode_token(token: &str) -> Option<ListState> {
    let raw = B64.decode(token).ok()?;
    let state = serde_json::from_slice::<ListState>(&raw).ok()?;
    state.cursor.checked_add(PAGE)?;
    Some(state)
}

/// A set the records may be restricted to.
enum SetFilter {
    Series(String),
    Org(String),
}

/// Answers one OAI-PMH request for platform `p`.
pub async fn respond(db: &Db, p: &Platform, base_url: &str, args: &Args) -> Outcome {
    let verb = args.get("verb").map(String::as_str).unwrap_or("");
    let allowed: &[&str] = match verb {
        "Identify" => &[],
        "ListMetadataFormats" => &["identifier"],
        "ListSets" => &["resumptionToken"],
        "GetRecord" => &["identifier", "metadataPrefix"],
        "ListIdentifiers" | "ListRecords" => {
            &["from", "until", "metadataPrefix", "set", "resumptionToken"]
        }
        "" => return Err(vec![err("badVerb", "the verb argument is missing")].into()),
        other => {
            return Err(vec![err("badVerb", format!("{other} is not an OAI-PMH verb"))].into());
        }
    };
    let illegal: Vec<OaiError> = args
        .keys()
        .filter(|k| *k != "verb" && !allowed.contains(&k.as_str()))
        .map(|k| err("badArgument", format!("{k} is not an argument of {verb}")))
        .collect();
    if !illegal.is_empty() {
        return Err(illegal.into());
    }
    match verb {
        "Identify" => Ok(identify(db, base_url).await?),
        "ListMetadataFormats" => {
            if let Some(id) = args.get("identifier") {
                record_of(db, p, id).await??;
            }
            let mut x = Xml::default();
            x.open("ListMetadataFormats", &[]);
            x.open("metadataFormat", &[]);
            x.el("metadataPrefix", "oai_dc");
            x.el("schema", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd");
            x.el(
                "metadataNamespace",
                "http://www.openarchives.org/OAI/2.0/oai_dc/",
            );
            x.close("metadataFormat");
            x.close("ListMetadataFormats");
            Ok(x)
        }
        "ListSets" => {
            if let Some(t) = args.get("resumptionToken") {
                return Err(vec![err(
                    "badResumptionToken",
                    format!("{t} was not issued by this repository"),
                )]
                .into());
            }
            Ok(list_sets(db, p).await?)
        }
        "GetRecord" => {
            let (Some(id), Some(prefix)) = (args.get("identifier"), args.get("metadataPrefix"))
            else {
                return Err(vec![err(
                    "badArgument",
                    "GetRecord needs identifier and metadataPrefix",
                )]
                .into());
            };
            let found = record_of(db, p, id).await??;
            if prefix != "oai_dc" {
                return Err(vec![err(
                    "cannotDisseminateFormat",
                    format!("{prefix} is not offered; use oai_dc"),
                )]
                .into());
            }
            if found.1.is_some() {
                db.mark_sent(&p.id, &[found.0.as_str()]).await?;
            }
            let stamps = stamps(db, p, &[found.0.as_str()]).await?;
            let media = media_of(db, base_url, found.1.iter()).await?;
            let mut x = Xml::default();
            x.open("GetRecord", &[]);
            write_record(&mut x, &found.0, found.1.as_ref(), &stamps, true, &media);
            x.close("GetRecord");
            Ok(x)
        }
        _ => list(db, p, base_url, verb == "ListRecords", args).await,
    }
}

async fn identify(db: &Db, base_url: &str) -> Result<Xml, sqlx::Error> {
    let earliest = db.earliest_change_at().await?.unwrap_or(0);
    let mut x = Xml::default();
    x.open("Identify", &[]);
    x.el("repositoryName", "Lectern");
    x.el("baseURL", base_url);
    x.el("protocolVersion", "2.0");
    x.el("adminEmail", "admin@lectern.invalid");
    x.el("earliestDatestamp", &datestamp(earliest));
    x.el("deletedRecord", "persistent");
    x.el("granularity", "YYYY-MM-DDThh:mm:ssZ");
    x.close("Identify");
    Ok(x)
}

/// The lesson behind an identifier, if it is a record of this platform: (id, the lesson when
/// it is live here, `None` when it is a deleted record).
async fn record_of(
    db: &Db,
    p: &Platform,
    identifier: &str,
) -> Result<Result<(String, Option<LessonRecord>), Vec<OaiError>>, sqlx::Error> {
    let unknown = || {
        vec![err(
            "idDoesNotExist",
            format!("{identifier} is not a record here"),
        )]
    };
    let Some(id) = identifier
        .strip_prefix(ID_PREFIX)
        .filter(|id| id.len() <= 64)
    else {
        return Ok(Err(unknown()));
    };
    let lesson = db.lesson(id).await?;
    if let Some(l) = &lesson
        && visibility::receives(p, l.access())
    {
        return Ok(Ok((id.to_owned(), lesson)));
    }
    if db.sent_among(&p.id, &[id]).await?.contains(id) {
        return Ok(Ok((id.to_owned(), None)));
    }
    Ok(Err(unknown()))
}

/// Datestamps of `ids` for this platform.
async fn stamps(db: &Db, p: &Platform, ids: &[&str]) -> Result<HashMap<String, i64>, sqlx::Error> {
    let resync = db.platform_resync_at(&p.id).await?.unwrap_or(0);
    let mut out = db.last_changes(ids).await?;
    for id in ids {
        let e = out.entry((*id).to_owned()).or_insert(resync);
        *e = (*e).max(resync);
    }
    Ok(out)
}

/// What a record says of a lesson's media: the types it can be had in (its master's and its
/// ready renditions'), and its HLS master playlist.
#[derive(Debug, Default)]
struct MediaFacts {
    formats: Vec<String>,
    hls: Option<String>,
}

/// The media facts of `lessons`, by lesson id.
async fn media_of<'a>(
    db: &Db,
    base_url: &str,
    lessons: impl Iterator<Item = &'a LessonRecord>,
) -> Result<HashMap<String, MediaFacts>, sqlx::Error> {
    let ids: Vec<&str> = lessons.map(|l| l.id.as_str()).collect();
    let mut out: HashMap<String, MediaFacts> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let masters: Vec<_> = db
        .assets_of_lessons(&ids)
        .await?
        .into_iter()
        .filter(|a| {
            a.role == crate::domain::asset::AssetRole::Master
                && (a.content_type.starts_with("video/") || a.content_type.starts_with("audio/"))
        })
        .collect();
    let shas: Vec<&str> = masters.iter().map(|a| a.sha256.as_str()).collect();
    let renditions = db.ready_renditions(&shas, None).await?;
    // `base_url` is the repository's (`…/oai`); the playlist is the API's.
    let root = base_url.strip_suffix("/oai").unwrap_or(base_url);
    for a in &masters {
        let facts = out.entry(a.lesson_id.clone()).or_default();
        let mut formats = vec![a.content_type.clone()];
        for r in renditions.iter().filter(|r| r.source_sha256 == a.sha256) {
            if r.kind.hls().is_some() && facts.hls.is_none() {
                facts.hls = Some(format!(
                    "{root}/api/v1/assets/{}/media/hls/master.m3u8",
                    a.id
                ));
            }
            if let Some(t) = &r.content_type
                && !t.starts_with("image/")
            {
                formats.push(t.clone());
            }
        }
        for f in formats {
            if !facts.formats.contains(&f) {
                facts.formats.push(f);
            }
        }
    }
    Ok(out)
}

fn write_record(
    x: &mut Xml,
    id: &str,
    lesson: Option<&LessonRecord>,
    stamps: &HashMap<String, i64>,
    with_metadata: bool,
    media: &HashMap<String, MediaFacts>,
) {
    let stamp = datestamp(stamps.get(id).copied().unwrap_or(0));
    if with_metadata {
        x.open("record", &[]);
    }
    match lesson {
        None => x.open("header", &[("status", "deleted")]),
        Some(_) => x.open("header", &[]),
    }
    x.el("identifier", &format!("{ID_PREFIX}{id}"));
    x.el("datestamp", &stamp);
    if let Some(l) = lesson {
        if let Some(s) = &l.series {
            x.el("setSpec", &format!("series:{}", series_id(s)));
        }
        for org in crate::domain::org::ids(&l.org_path) {
            x.el("setSpec", &format!("org:{org}"));
        }
    }
    x.close("header");
    if let (true, Some(l)) = (with_metadata, lesson) {
        x.open("metadata", &[]);
        x.open(
            "oai_dc:dc",
            &[
                (
                    "xmlns:oai_dc",
                    "http://www.openarchives.org/OAI/2.0/oai_dc/",
                ),
                ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
                ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                (
                    "xsi:schemaLocation",
                    "http://www.openarchives.org/OAI/2.0/oai_dc/ \
                     http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                ),
            ],
        );
        x.el("dc:title", &l.title);
        if let Some(c) = &l.lecturer {
            x.el("dc:creator", c);
        }
        for t in &l.tags {
            x.el("dc:subject", t);
        }
        if !l.description.is_empty() {
            x.el("dc:description", &l.description);
        }
        if let Some(s) = &l.series {
            x.el("dc:relation", s);
        }
        let date = l
            .recorded_on
            .clone()
            .or_else(|| l.published_at.map(|t| datestamp(t)[..10].to_owned()));
        if let Some(d) = date {
            x.el("dc:date", &d);
        }
        x.el(
            "dc:type",
            match l.kind.as_str() {
                "video" => "MovingImage",
                "audio" => "Sound",
                _ => "Text",
            },
        );
        x.el("dc:language", &l.language);
        if let Some(code) = &l.region_code {
            let name = crate::domain::region::name(code).unwrap_or(code);
            x.el("dc:coverage", name);
        }
        x.el("dc:identifier", &format!("{ID_PREFIX}{}", l.id));
        if let Some(m) = media.get(&l.id) {
            for f in &m.formats {
                x.el("dc:format", f);
            }
            if let Some(hls) = &m.hls {
                x.el("dc:relation", hls);
            }
        }
        x.close("oai_dc:dc");
        x.close("metadata");
    }
    if with_metadata {
        x.close("record");
    }
}

async fn list_sets(db: &Db, p: &Platform) -> Result<Xml, sqlx::Error> {
    let mut x = Xml::default();
    x.open("ListSets", &[]);
    for s in db.received_series(p).await? {
        x.open("set", &[]);
        x.el("setSpec", &format!("series:{}", series_id(&s)));
        x.el("setName", &s);
        x.close("set");
    }
    let mut org_ids: Vec<String> = Vec::new();
    for path in db.received_owner_paths(p).await? {
        for id in crate::domain::org::ids(&path) {
            if !org_ids.iter().any(|o| o == id) {
                org_ids.push(id.to_owned());
            }
        }
    }
    for o in db.orgs_by_id(&org_ids).await? {
        x.open("set", &[]);
        x.el("setSpec", &format!("org:{}", o.id));
        x.el("setName", &o.name);
        x.close("set");
    }
    x.close("ListSets");
    Ok(x)
}

async fn list(db: &Db, p: &Platform, base_url: &str, records: bool, args: &Args) -> Outcome {
    let state = if let Some(token) = args.get("resumptionToken") {
        if args.len() > 2 {
            return Err(vec![err(
                "badArgument",
                "resumptionToken is an exclusive argument",
            )]
            .into());
        }
        decode_token(token).ok_or_else(|| {
            vec![err(
                "badResumptionToken",
                "the token is not valid or has expired",
            )]
        })?
    } else {
        let prefix = args
            .get("metadataPrefix")
            .ok_or_else(|| vec![err("badArgument", "metadataPrefix is required")])?;
        if prefix != "oai_dc" {
            return Err(vec![err(
                "cannotDisseminateFormat",
                format!("{prefix} is not offered; use oai_dc"),
            )]
            .into());
        }
        let from = match args.get("from") {
            None => None,
            Some(s) => Some(
                parse_date(s, false)
                    .ok_or_else(|| vec![err("badArgument", format!("from={s} is not a date"))])?,
            ),
        };
        let until = match args.get("until") {
            None => None,
            Some(s) => Some(
                parse_date(s, true)
                    .ok_or_else(|| vec![err("badArgument", format!("until={s} is not a date"))])?,
            ),
        };
        if let (Some(f), Some(u)) = (from, until) {
            if f.1 != u.1 {
                return Err(vec![err(
                    "badArgument",
                    "from and until must have the same granularity",
                )]
                .into());
            }
            if f.0 > u.0 {
                return Err(vec![err("badArgument", "from is after until")].into());
            }
        }
        ListState {
            prefix: prefix.clone(),
            set: args.get("set").cloned(),
            from: from.map(|f| f.0),
            until: until.map(|u| u.0),
            after: String::new(),
            cursor: 0,
        }
    };
    let set = match state.set.as_deref() {
        None => None,
        Some(s) => {
            if let Some(sid) = s.strip_prefix("series:") {
                let names = db.received_series(p).await?;
                match names.into_iter().find(|n| series_id(n) == sid) {
                    Some(n) => Some(SetFilter::Series(n)),
                    None => {
                        return Err(
                            vec![err("noRecordsMatch", format!("no records in set {s}"))].into(),
                        );
                    }
                }
            } else if let Some(org) = s.strip_prefix("org:").filter(|o| o.len() <= 64) {
                Some(SetFilter::Org(org.to_owned()))
            } else {
                return Err(vec![err("badArgument", format!("{s} is not a set here"))].into());
            }
        }
    };
    // Changes of the platform itself make every record new.
    let resync = db.platform_resync_at(&p.id).await?.unwrap_or(0);
    let changed_since = state.from.filter(|f| *f > resync);
    let mut out: Vec<(String, Option<LessonRecord>)> = Vec::new();
    let mut stamped: HashMap<String, i64> = HashMap::new();
    let mut after = state.after.clone();
    let batch = PAGE * 2;
    let exhausted = 'pages: loop {
        let ids = db
            .oai_candidates(
                p,
                &after,
                match &set {
                    Some(SetFilter::Series(n)) => Some(n.as_str()),
                    _ => None,
                },
                match &set {
                    Some(SetFilter::Org(o)) => Some(o.as_str()),
                    _ => None,
                },
                changed_since,
                batch as i64,
            )
            .await?;
        let short = ids.len() < batch;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let lessons = db.lessons_by_ids(&refs).await?;
        let by_id: HashMap<&str, &LessonRecord> =
            lessons.iter().map(|l| (l.id.as_str(), l)).collect();
        let stamps = stamps(db, p, &refs).await?;
        for (i, id) in ids.iter().enumerate() {
            after = id.clone();
            let t = stamps.get(id).copied().unwrap_or(resync);
            if state.from.is_some_and(|f| t < f) || state.until.is_some_and(|u| t > u) {
                continue;
            }
            let live = by_id
                .get(id.as_str())
                .filter(|l| visibility::receives(p, l.access()))
                .map(|l| (*l).clone());
            stamped.insert(id.clone(), t);
            out.push((id.clone(), live));
            if out.len() == PAGE {
                break 'pages short && i + 1 == ids.len();
            }
        }
        if short {
            break true;
        }
    };
    // What a harvester is given live gets a deleted record when it goes, as with the feed.
    let live: Vec<&str> = out
        .iter()
        .filter(|(_, l)| l.is_some())
        .map(|(id, _)| id.as_str())
        .collect();
    db.mark_sent(&p.id, &live).await?;
    if out.is_empty() && state.cursor == 0 {
        return Err(vec![err("noRecordsMatch", "no records match these arguments")].into());
    }
    let tag = if records {
        "ListRecords"
    } else {
        "ListIdentifiers"
    };
    let media = if records {
        media_of(db, base_url, out.iter().filter_map(|(_, l)| l.as_ref())).await?
    } else {
        HashMap::new()
    };
    let mut x = Xml::default();
    x.open(tag, &[]);
    for (id, lesson) in &out {
        write_record(&mut x, id, lesson.as_ref(), &stamped, records, &media);
    }
    let cursor = state.cursor.to_string();
    if exhausted {
        if state.cursor > 0 {
            // The last page of a resumed list carries an empty token.
            x.open("resumptionToken", &[("cursor", &cursor)]);
            x.close("resumptionToken");
        }
    } else {
        let next = ListState {
            after,
            cursor: state.cursor + out.len(),
            ..state.clone()
        };
        let token = encode_token(&next);
        x.open("resumptionToken", &[("cursor", &cursor)]);
        x.text(&token);
        x.close("resumptionToken");
    }
    x.close(tag);
    Ok(x)
}

/// The whole response document around a verb's XML or the errors.
pub fn envelope(base_url: &str, args: &Args, result: OaiResult) -> String {
    let mut x = Xml::document();
    x.open(
        "OAI-PMH",
        &[
            ("xmlns", "http://www.openarchives.org/OAI/2.0/"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            (
                "xsi:schemaLocation",
                "http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd",
            ),
        ],
    );
    x.el("responseDate", &datestamp(crate::db::now_ms()));
    // The request element echoes the arguments only when they were valid.
    let mut attrs: Vec<(&str, &str)> = Vec::new();
    let badly = matches!(&result, Err(e) if e.iter().any(|e| e.code == "badVerb" || e.code == "badArgument"));
    if !badly {
        let mut keys: Vec<&String> = args.keys().collect();
        keys.sort();
        for k in keys {
            attrs.push((k.as_str(), args[k].as_str()));
        }
    }
    x.open("request", &attrs);
    x.text(base_url);
    x.close("request");
    match result {
        Ok(body) => x.append(body),
        Err(errors) => {
            for e in errors {
                x.open("error", &[("code", e.code)]);
                x.text(&e.message);
                x.close("error");
            }
        }
    }
    x.close("OAI-PMH");
    x.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_at_both_granularities() {
        assert_eq!(
            parse_date("2026-11-28", false),
            Some((1_795_824_000_000, true))
        );
        assert_eq!(
            parse_date("2026-11-28", true),
            Some((1_795_824_000_000 + 86_399_999, true))
        );
        assert_eq!(
            parse_date("2026-11-28T01:02:03Z", false),
            Some((1_795_827_723_000, false))
        );
        for bad in [
            "2026-13-01",
            "2026-11-28T01:02:03",
            "yesterday",
            "2026-11-28T01:02Z",
        ] {
            assert_eq!(parse_date(bad, false), None, "{bad}");
        }
        assert_eq!(datestamp(1_795_827_723_456), "2026-11-28T01:02:03Z");
    }

    #[test]
    fn a_token_whose_cursor_leaves_no_room_for_a_page_is_refused() {
        // Issue 15 (hostile input): this token made `list` panic on `cursor + out.len()`.
        let token = B64.encode(format!(
            r#"{{"prefix":"oai_dc","set":null,"from":null,"until":null,"after":"","cursor":{}}}"#,
            usize::MAX
        ));
        assert!(decode_token(&token).is_none());
        let fine = B64.encode(
            r#"{"prefix":"oai_dc","set":null,"from":null,"until":null,"after":"x","cursor":100}"#,
        );
        assert_eq!(decode_token(&fine).map(|s| s.cursor), Some(100));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile};
    use proptest::prelude::*;

    fn list_state() -> impl Strategy<Value = ListState> {
        (
            hostile("oai_dc", 10),
            proptest::option::of(hostile("series:org:0123abc", 70)),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
            hostile("0123456789abcdef-", 40),
            prop_oneof![
                0usize..100_000,
                any::<usize>(),
                (usize::MAX - 2 * PAGE)..=usize::MAX
            ],
        )
            .prop_map(|(prefix, set, from, until, after, cursor)| ListState {
                prefix,
                set,
                from,
                until,
                after,
                cursor,
            })
    }

    proptest! {
        #![proptest_config(config())]

        /// Any token text is refused or read, never a panic.
        #[test]
        fn props_oai_token_decode_never_panics(s in prop_oneof![
            hostile("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", 300),
            any::<String>(),
        ]) {
            let _ = decode_token(&s);
        }

        /// Whatever state a client encodes, a token that is read leaves room for the next page,
        /// and one with room reads back as the state written.
        #[test]
        fn props_oai_token_keeps_its_invariants(state in list_state()) {
            match decode_token(&encode_token(&state)) {
                Some(read) => {
                    prop_assert!(read.cursor.checked_add(PAGE).is_some());
                    prop_assert_eq!(
                        serde_json::to_value(&read).unwrap(),
                        serde_json::to_value(&state).unwrap()
                    );
                }
                None => prop_assert!(state.cursor.checked_add(PAGE).is_none()),
            }
        }

        /// `from` and `until` of any shape: refused, or a moment at the granularity asked, and
        /// every datestamp Lectern writes reads back as its second.
        #[test]
        fn props_oai_dates_parse_safely(
            s in prop_oneof![hostile("0123456789-TZ:", 24), any::<String>()],
            end in any::<bool>(),
            ms in 0i64..253_402_300_799_000,
        ) {
            if let Some((_, is_day)) = parse_date(&s, end) {
                prop_assert_eq!(is_day, s.len() == 10);
            }
            let second = ms.div_euclid(1000) * 1000;
            prop_assert_eq!(parse_date(&datestamp(ms), false), Some((second, false)));
            prop_assert_eq!(parse_date(&datestamp(ms), true), Some((second + 999, false)));
        }
    }
}
