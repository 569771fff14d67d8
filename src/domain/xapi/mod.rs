//! xAPI 1.0.3 statements, as the Learning Record Store at `/api/xapi/` takes them from the
//! downstream platforms: what is checked (`validate`), what the store adds (id, stored time,
//! authority, version), how a statement is compared with one already stored (by a digest of its
//! canonical form), the agents and activities it names (for the query parameters), the `ids`
//! format, what a statement about a Lectern lesson by a member says of their learning, and how a
//! signed statement's signature is checked (`signature`).
//!
//! Statements Lectern does not understand are kept and returned as they came; only those whose
//! object is a lesson (`<public URL>/lessons/<id>`) and whose actor is a member count as learning.

pub mod documents;
pub mod signature;
pub mod validate;

use super::learning::{self, Span};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The version this store speaks (`X-Experience-API-Version` of every answer, `/about`).
pub const VERSION: &str = "1.0.3";
/// The version written into a statement that came without one.
pub const DEFAULT_STATEMENT_VERSION: &str = "1.0.0";
/// The verb that voids the statement its object refers to.
pub const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";
/// The verbs that say a lesson was completed (besides `result.completion: true`).
pub const COMPLETION_VERBS: [&str; 2] = [
    "http://adlnet.gov/expapi/verbs/completed",
    "http://adlnet.gov/expapi/verbs/passed",
];
/// The xAPI video profile's extensions a player sends (seconds).
pub const PLAYED_SEGMENTS: &str = "https://w3id.org/xapi/video/extensions/played-segments";
pub const VIDEO_LENGTH: &str = "https://w3id.org/xapi/video/extensions/length";
pub const VIDEO_TIME: &str = "https://w3id.org/xapi/video/extensions/time";
/// The most one statement's `result.duration` adds to a member's time.
pub const MAX_STATEMENT_TIME_MS: i64 = 24 * 3_600_000;

/// Whether the version a client asks for (`X-Experience-API-Version`) is one this store speaks:
/// 1.0 and any 1.0.x.
pub fn accepts_version(v: &str) -> bool {
    let v = v.trim();
    v == "1.0"
        || v.strip_prefix("1.0.").is_some_and(|patch| {
            !patch.is_empty() && patch.len() <= 4 && patch.bytes().all(|b| b.is_ascii_digit())
        })
}

/// An agent's or identified group's inverse functional identifier, in one canonical string (the
/// key the `agent` parameter is matched on); `None` for an anonymous group.
pub fn ifi(agent: &Value) -> Option<String> {
    let o = agent.as_object()?;
    if let Some(m) = o.get("mbox").and_then(Value::as_str) {
        return Some(format!("mbox {m}"));
    }
    if let Some(s) = o.get("mbox_sha1sum").and_then(Value::as_str) {
        return Some(format!("mbox_sha1sum {}", s.to_ascii_lowercase()));
    }
    if let Some(s) = o.get("openid").and_then(Value::as_str) {
        return Some(format!("openid {s}"));
    }
    let account = o.get("account")?;
    let home = account.get("homePage")?.as_str()?;
    let name = account.get("name")?.as_str()?;
    Some(format!("account {}", json!([home, name])))
}

/// The canonical id of `v` as a statement id (UUIDs compare case-insensitively).
pub fn statement_id(v: &str) -> Option<String> {
    uuid::Uuid::parse_str(v)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// The agents and activities a statement names, each with whether it is only related (not the
/// actor or object): what `agent`/`activity` and `related_agents`/`related_activities` match.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub agents: Vec<(String, bool)>,
    pub activities: Vec<(String, bool)>,
}

impl Names {
    fn agent(&mut self, v: &Value, related: bool) {
        if let Some(k) = ifi(v) {
            self.agents.push((k, related));
        }
        // The members of a group the statement names are named by it too.
        if let Some(members) = v.get("member").and_then(Value::as_array) {
            for m in members {
                if let Some(k) = ifi(m) {
                    self.agents.push((k, true));
                }
            }
        }
    }

    fn activity(&mut self, v: &Value, related: bool) {
        if let Some(id) = v.get("id").and_then(Value::as_str) {
            self.activities.push((id.to_owned(), related));
        }
    }

    fn object(&mut self, o: &Value, related: bool) {
        match o.get("objectType").and_then(Value::as_str) {
            Some("Agent" | "Group") => self.agent(o, related),
            Some("SubStatement") => self.statement(o, true),
            Some("StatementRef") => {}
            _ => self.activity(o, related),
        }
    }

    fn statement(&mut self, s: &Value, related: bool) {
        if let Some(a) = s.get("actor") {
            self.agent(a, related);
        }
        if let Some(o) = s.get("object") {
            self.object(o, related);
        }
        if let Some(a) = s.get("authority") {
            self.agent(a, true);
        }
        if let Some(c) = s.get("context") {
            for key in ["instructor", "team"] {
                if let Some(a) = c.get(key) {
                    self.agent(a, true);
                }
            }
            if let Some(ca) = c.get("contextActivities").and_then(Value::as_object) {
                for list in ca.values() {
                    match list {
                        Value::Array(items) => items.iter().for_each(|a| self.activity(a, true)),
                        one => self.activity(one, true),
                    }
                }
            }
        }
    }
}

/// What `statement` names.
pub fn names(statement: &Value) -> Names {
    let mut n = Names::default();
    n.statement(statement, false);
    n.agents.sort();
    n.agents.dedup();
    n.activities.sort();
    n.activities.dedup();
    n
}

/// The digest a statement is compared by: SHA-256 of its canonical JSON (object keys sorted, as
/// `serde_json` writes a map), without the properties the store sets or may set (`id`,
/// `stored`, `authority`, `version`), so the same statement sent again matches.
pub fn digest(received: &Value) -> String {
    let mut v = received.clone();
    if let Some(o) = v.as_object_mut() {
        for key in ["id", "stored", "authority", "version"] {
            o.remove(key);
        }
    }
    hex::encode(Sha256::digest(canonical(&v).as_bytes()))
}

/// JSON with every object's keys in order, whatever the map type of `serde_json` is built with.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical(&o[k])))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// A statement as this store keeps it: `received` with its id (given, or `new_id`), the stored
/// time, the authority (always the platform that sent it: a claimed one is replaced), the
/// version (1.0.0 when none was given) and the timestamp (the stored time when none was given).
pub fn stamp(received: &Value, id: &str, stored: &str, authority: &Value) -> Value {
    let mut o = received.as_object().cloned().unwrap_or_default();
    o.insert("id".into(), Value::from(id));
    o.insert("stored".into(), Value::from(stored));
    o.insert("authority".into(), authority.clone());
    o.entry("version")
        .or_insert_with(|| Value::from(DEFAULT_STATEMENT_VERSION));
    o.entry("timestamp").or_insert_with(|| Value::from(stored));
    Value::Object(o)
}

/// The authority of what a platform sends: an agent whose account is the platform on this store.
pub fn platform_authority(base_url: &str, platform_id: &str) -> Value {
    json!({
        "objectType": "Agent",
        "account": { "homePage": base_url, "name": format!("platform:{platform_id}") }
    })
}

/// The `ids` format of a stored statement: agents and groups reduced to their identifier (a
/// group's members too), activities to their id, verbs to their id.
pub fn ids_format(stored: &Value) -> Value {
    fn agent(v: &Value) -> Value {
        let Some(o) = v.as_object() else {
            return v.clone();
        };
        let mut out = Map::new();
        for key in ["objectType", "mbox", "mbox_sha1sum", "openid", "account"] {
            if let Some(x) = o.get(key) {
                out.insert(key.into(), x.clone());
            }
        }
        if let Some(Value::Array(m)) = o.get("member") {
            out.insert("member".into(), Value::Array(m.iter().map(agent).collect()));
        }
        Value::Object(out)
    }
    fn activity(v: &Value) -> Value {
        let mut out = Map::new();
        if let Some(t) = v.get("objectType") {
            out.insert("objectType".into(), t.clone());
        }
        if let Some(id) = v.get("id") {
            out.insert("id".into(), id.clone());
        }
        Value::Object(out)
    }
    fn statement(s: &Value) -> Value {
        let Some(o) = s.as_object() else {
            return s.clone();
        };
        let mut out = o.clone();
        if let Some(a) = o.get("actor") {
            out.insert("actor".into(), agent(a));
        }
        if let Some(v) = o.get("verb").and_then(|v| v.get("id")) {
            out.insert("verb".into(), json!({ "id": v }));
        }
        if let Some(obj) = o.get("object") {
            let ids = match obj.get("objectType").and_then(Value::as_str) {
                Some("Agent" | "Group") => agent(obj),
                Some("SubStatement") => statement(obj),
                Some("StatementRef") => obj.clone(),
                _ => activity(obj),
            };
            out.insert("object".into(), ids);
        }
        if let Some(a) = o.get("authority") {
            out.insert("authority".into(), agent(a));
        }
        if let Some(Value::Object(c)) = o.get("context") {
            let mut c = c.clone();
            for key in ["instructor", "team"] {
                if let Some(a) = c.get(key).map(agent) {
                    c.insert(key.into(), a);
                }
            }
            if let Some(Value::Object(ca)) = c.get("contextActivities").cloned() {
                let ca: Map<String, Value> = ca
                    .into_iter()
                    .map(|(k, list)| {
                        let list = match list {
                            Value::Array(items) => {
                                Value::Array(items.iter().map(activity).collect())
                            }
                            one => Value::Array(vec![activity(&one)]),
                        };
                        (k, list)
                    })
                    .collect();
                c.insert("contextActivities".into(), Value::Object(ca));
            }
            out.insert("context".into(), Value::Object(c));
        }
        Value::Object(out)
    }
    statement(stored)
}

/// The id of the lesson an activity IRI names on this store (`<base_url>/lessons/<id>`).
pub fn lesson_of(activity_id: &str, base_url: &str) -> Option<String> {
    let rest = activity_id
        .strip_prefix(base_url.trim_end_matches('/'))?
        .strip_prefix("/lessons/")?;
    (!rest.is_empty()
        && rest.len() <= 64
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| rest.to_owned())
}

/// The login an actor names on this store (`account.homePage` is the public URL).
pub fn login_of(actor: &Value, base_url: &str) -> Option<String> {
    let account = actor.get("account")?;
    let home = account.get("homePage")?.as_str()?;
    (home.trim_end_matches('/') == base_url.trim_end_matches('/'))
        .then(|| account.get("name")?.as_str().map(str::to_owned))
        .flatten()
}

/// `statement` with its actor's account renamed `login` and its actor's name removed: what is
/// kept of a member's statements once the member is anonymised.
pub fn anonymise(statement: &Value, login: &str) -> Value {
    let mut s = statement.clone();
    if let Some(actor) = s.get_mut("actor").and_then(Value::as_object_mut) {
        actor.remove("name");
        if let Some(account) = actor.get_mut("account").and_then(Value::as_object_mut) {
            account.insert("name".into(), Value::from(login));
        }
    }
    s
}

/// What one statement about a lesson says of the member's learning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contribution {
    /// When it happened (the statement's timestamp), Unix milliseconds.
    pub at_ms: i64,
    pub played: Vec<Span>,
    pub time_ms: i64,
    pub duration_ms: Option<i64>,
    pub position_ms: Option<i64>,
    pub completed: bool,
}

/// What `statement` (stored, so with a timestamp) says of learning its lesson.
pub fn contribution(statement: &Value) -> Contribution {
    let at_ms = statement
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(validate::parse_timestamp)
        .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
    let result = statement.get("result");
    let result_ext = result.and_then(|r| r.get("extensions"));
    let context_ext = statement.get("context").and_then(|c| c.get("extensions"));
    let seconds = |ext: Option<&Value>, key: &str| {
        ext.and_then(|e| e.get(key))
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| ((s * 1000.0).round() as i64).min(learning::MAX_MS))
    };
    let duration_ms = seconds(context_ext, VIDEO_LENGTH).filter(|d| *d > 0);
    let played: Vec<Span> = result_ext
        .and_then(|e| e.get(PLAYED_SEGMENTS))
        .and_then(Value::as_str)
        .map(|s| segments(s, duration_ms.unwrap_or(learning::MAX_MS)))
        .unwrap_or_default();
    let played = learning::merge(played);
    let time_ms = result
        .and_then(|r| r.get("duration"))
        .and_then(Value::as_str)
        .and_then(duration_ms_of)
        .map_or_else(
            || learning::covered(&played),
            |d| d.min(MAX_STATEMENT_TIME_MS),
        );
    let verb = statement
        .get("verb")
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let completed = COMPLETION_VERBS.contains(&verb)
        || result
            .and_then(|r| r.get("completion"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
    Contribution {
        at_ms,
        played,
        time_ms,
        duration_ms,
        position_ms: seconds(result_ext, VIDEO_TIME),
        completed,
    }
}

/// The video profile's played segments (`"0[.]5.2[,]10[.]20"`, seconds) as stretches inside
/// `0..=end_ms`; a segment that does not parse is left out.
fn segments(s: &str, end_ms: i64) -> Vec<Span> {
    s.split("[,]")
        .take(learning::MAX_SPANS)
        .filter_map(|seg| {
            let (a, b) = seg.split_once("[.]")?;
            let ms = |x: &str| {
                x.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(|v| ((v * 1000.0).round() as i64).min(end_ms))
            };
            let (a, b) = (ms(a)?, ms(b)?);
            (b > a).then_some((a, b))
        })
        .collect()
}

/// An ISO 8601 duration (`PT1H2M3.5S`, `P1DT2H`, `P2W`) in milliseconds; `None` when it does not
/// parse. Years and months are not a fixed length and are refused here (`None`).
pub fn duration_ms_of(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = 0f64;
    let mut read = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        let mut next = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let at = units[next..].iter().position(|(u, _)| *u == c)? + next;
            let value: f64 = number.parse().ok()?;
            total += value * units[at].1;
            number.clear();
            next = at + 1;
        }
        number.is_empty().then_some(())
    };
    read(date, &[('W', 7.0 * 86_400.0), ('D', 86_400.0)])?;
    if let Some(t) = time {
        read(t, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    let ms = total * 1000.0;
    (ms.is_finite() && ms < 1e15).then(|| ms.round() as i64)
}

/// A member's learning of one lesson on one platform, folded from the statements about it that
/// are not voided (oldest first): the stretches merged, time summed, completed when a statement
/// says so or the stretches cover `percent` of the lesson, time per day (China).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Folded {
    pub spans: Vec<Span>,
    pub covered_ms: i64,
    pub duration_ms: Option<i64>,
    pub time_ms: i64,
    pub position_ms: i64,
    pub completed_at: Option<i64>,
    pub first_at: i64,
    pub updated_at: i64,
    pub days: std::collections::BTreeMap<String, i64>,
}

pub fn fold(mut contributions: Vec<Contribution>, percent: i64) -> Folded {
    contributions.sort_by_key(|c| c.at_ms);
    let mut f = Folded {
        first_at: contributions.first().map_or(0, |c| c.at_ms),
        ..Folded::default()
    };
    for c in contributions {
        f.duration_ms = c.duration_ms.or(f.duration_ms);
        f.spans = learning::merge(f.spans.iter().copied().chain(c.played));
        f.covered_ms = learning::covered(&f.spans);
        f.time_ms += c.time_ms;
        if c.time_ms > 0 {
            *f.days.entry(super::time::china_day(c.at_ms)).or_default() += c.time_ms;
        }
        if let Some(p) = c.position_ms {
            f.position_ms = p;
        }
        if f.completed_at.is_none()
            && (c.completed || learning::complete(f.covered_ms, f.duration_ms, percent))
        {
            f.completed_at = Some(c.at_ms);
        }
        f.updated_at = c.at_ms;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_1_0_and_1_0_x_are_spoken() {
        for ok in ["1.0", "1.0.0", "1.0.3", "1.0.9"] {
            assert!(accepts_version(ok), "{ok}");
        }
        for bad in [
            "",
            "1",
            "1.1.0",
            "0.95",
            "2.0.0",
            "1.0.",
            "1.0.x",
            "1.0.3 beta",
        ] {
            assert!(!accepts_version(bad), "{bad}");
        }
    }

    #[test]
    fn agents_are_keyed_by_their_one_identifier() {
        let a = json!({"account": {"homePage": "http://x", "name": "张三"}, "name": "Z"});
        let b = json!({"objectType": "Agent", "account": {"name": "张三", "homePage": "http://x"}});
        assert_eq!(ifi(&a), ifi(&b));
        assert_ne!(
            ifi(&json!({"mbox": "mailto:a@x"})),
            ifi(&json!({"mbox": "mailto:b@x"}))
        );
        assert_eq!(ifi(&json!({"objectType": "Group", "member": []})), None);
        assert_eq!(
            ifi(&json!({"mbox_sha1sum": "ABCDEF0123456789ABCDEF0123456789ABCDEF01"})),
            ifi(&json!({"mbox_sha1sum": "abcdef0123456789abcdef0123456789abcdef01"}))
        );
    }

    #[test]
    fn names_split_actor_and_object_from_what_is_only_related() {
        let s = json!({
            "actor": {"mbox": "mailto:a@x"},
            "verb": {"id": "http://v"},
            "object": {"id": "http://act/1"},
            "authority": {"mbox": "mailto:auth@x"},
            "context": {
                "instructor": {"mbox": "mailto:i@x"},
                "team": {"objectType": "Group", "member": [{"mbox": "mailto:m@x"}]},
                "contextActivities": {"parent": {"id": "http://act/p"}, "grouping": [{"id": "http://act/g"}]}
            }
        });
        let n = names(&s);
        assert!(n.agents.contains(&("mbox mailto:a@x".into(), false)));
        assert!(n.agents.contains(&("mbox mailto:auth@x".into(), true)));
        assert!(n.agents.contains(&("mbox mailto:i@x".into(), true)));
        assert!(n.agents.contains(&("mbox mailto:m@x".into(), true)));
        assert!(n.activities.contains(&("http://act/1".into(), false)));
        assert!(n.activities.contains(&("http://act/p".into(), true)));
        assert!(n.activities.contains(&("http://act/g".into(), true)));
        let sub = json!({"actor": {"mbox": "mailto:a@x"}, "verb": {"id": "http://v"},
            "object": {"objectType": "SubStatement", "actor": {"mbox": "mailto:s@x"},
                "verb": {"id": "http://v"}, "object": {"id": "http://act/s"}}});
        let n = names(&sub);
        assert!(n.agents.contains(&("mbox mailto:s@x".into(), true)));
        assert!(n.activities.contains(&("http://act/s".into(), true)));
    }

    #[test]
    fn the_digest_ignores_key_order_and_what_the_store_sets() {
        let a = json!({"actor": {"mbox": "mailto:a@x", "name": "A"}, "verb": {"id": "http://v"}, "object": {"id": "http://o"}});
        let b = json!({"object": {"id": "http://o"}, "verb": {"id": "http://v"}, "actor": {"name": "A", "mbox": "mailto:a@x"},
            "id": "5f2c6c4e-1c1d-4b8e-9a4e-3b7f0d5c6a71", "stored": "2026-01-01T00:00:00Z", "version": "1.0.0"});
        assert_eq!(digest(&a), digest(&b));
        let c = json!({"actor": {"mbox": "mailto:a@x", "name": "B"}, "verb": {"id": "http://v"}, "object": {"id": "http://o"}});
        assert_ne!(digest(&a), digest(&c));
    }

    #[test]
    fn iso_durations() {
        assert_eq!(duration_ms_of("PT1H2M3.5S"), Some(3_723_500));
        assert_eq!(duration_ms_of("PT90S"), Some(90_000));
        assert_eq!(duration_ms_of("P1DT1S"), Some(86_401_000));
        assert_eq!(duration_ms_of("P2W"), Some(14 * 86_400_000));
        assert_eq!(duration_ms_of("PT0,5S"), Some(500));
        for bad in [
            "", "P", "PT", "1H", "PT1S2M", "PTxS", "P1M", "PT1H1H", "PT5",
        ] {
            assert_eq!(duration_ms_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn lessons_and_members_are_named_on_this_store_only() {
        let base = "http://127.0.0.1:8080";
        assert_eq!(
            lesson_of("http://127.0.0.1:8080/lessons/abc-1", base).as_deref(),
            Some("abc-1")
        );
        assert_eq!(lesson_of("http://other/lessons/abc", base), None);
        assert_eq!(lesson_of("http://127.0.0.1:8080/lessons/a/b", base), None);
        assert_eq!(lesson_of("http://127.0.0.1:8080/lessons/", base), None);
        let actor = json!({"account": {"homePage": "http://127.0.0.1:8080/", "name": "zhang"}});
        assert_eq!(login_of(&actor, base).as_deref(), Some("zhang"));
        let elsewhere = json!({"account": {"homePage": "http://other", "name": "zhang"}});
        assert_eq!(login_of(&elsewhere, base), None);
    }

    #[test]
    fn played_segments_and_completion_fold_into_a_record() {
        let watch = |ts: &str, segs: &str, verb: &str| {
            contribution(&json!({
                "timestamp": ts,
                "verb": {"id": verb},
                "result": {"extensions": {PLAYED_SEGMENTS: segs}},
                "context": {"extensions": {VIDEO_LENGTH: 100}}
            }))
        };
        let a = watch(
            "2026-03-31T15:00:00Z",
            "0[.]50[,]40[.]60",
            "https://w3id.org/xapi/video/verbs/paused",
        );
        assert_eq!(a.played, vec![(0, 60_000)]);
        assert_eq!(a.time_ms, 60_000);
        assert_eq!(a.duration_ms, Some(100_000));
        let b = watch(
            "2026-04-01T01:00:00+08:00",
            "60[.]95[,]bad[,]99[.]500",
            "https://w3id.org/xapi/video/verbs/paused",
        );
        let f = fold(vec![b.clone(), a.clone()], 90);
        assert_eq!(f.spans, vec![(0, 95_000), (99_000, 100_000)]);
        assert_eq!(f.covered_ms, 96_000);
        assert_eq!(f.completed_at, Some(b.at_ms));
        assert_eq!(f.days.get("2026-03-31"), Some(&60_000));
        assert_eq!(f.days.get("2026-04-01"), Some(&36_000));
        // Skipping to the end covers little and completes nothing.
        let skip = watch(
            "2026-04-02T00:00:00Z",
            "0[.]5[,]95[.]100",
            "https://w3id.org/xapi/video/verbs/seeked",
        );
        assert_eq!(fold(vec![skip], 90).completed_at, None);
        // A platform's "completed" counts.
        let done = contribution(&json!({"timestamp": "2026-04-02T00:00:00Z",
            "verb": {"id": COMPLETION_VERBS[0]}, "result": {"duration": "PT10M"}}));
        let f = fold(vec![done], 90);
        assert!(f.completed_at.is_some());
        assert_eq!(f.time_ms, 600_000);
    }

    #[test]
    fn the_ids_format_keeps_identifiers_only() {
        let s = json!({"actor": {"objectType": "Agent", "name": "甲", "mbox": "mailto:a@x"},
            "verb": {"id": "http://v", "display": {"zh-CN": "看"}},
            "object": {"id": "http://o", "definition": {"name": {"zh-CN": "课"}}},
            "context": {"contextActivities": {"parent": {"id": "http://p", "definition": {}}}}});
        let ids = ids_format(&s);
        assert_eq!(
            ids["actor"],
            json!({"objectType": "Agent", "mbox": "mailto:a@x"})
        );
        assert_eq!(ids["verb"], json!({"id": "http://v"}));
        assert_eq!(ids["object"], json!({"id": "http://o"}));
        assert_eq!(
            ids["context"]["contextActivities"]["parent"],
            json!([{"id": "http://p"}])
        );
    }
}
