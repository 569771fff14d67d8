//! What an LRS checks of an xAPI 1.0.3 Statement it receives (POST/PUT `/statements`): every
//! MUST of xAPI-Data.md part 2, and of xAPI-Communication.md, that calls for `400 Bad Request`,
//! read as the ADL conformance suite reads them. Errors name the JSON path at fault.
//!
//! Rejected everywhere: properties the spec does not list for an object (keys are case-sensitive),
//! `null`, values of the wrong JSON type, and strings that do not follow their format (UUID, IRI,
//! mailto IRI, language tag, timestamp, duration, media type, hex hash). Only the values of
//! `extensions` are left alone (Data 4.1.s3.b2: an LRS MUST NOT reject a statement for them).
//!
//! Not checked, on purpose: duplicate keys (the JSON parser keeps the last one), whether a
//! StatementRef points at a stored statement (Data 2.4.4.3.s4.b2), response patterns and their
//! characterstring parameters (Data 2.4.4.1.s12: not validated by the LRS), and the SHOULDs
//! (a future timestamp, empty objects other than those the conformance suite rejects).

use std::collections::HashSet;

use serde_json::{Map, Value};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::domain::Invalid;

type Obj = Map<String, Value>;
type Check = Result<(), Invalid>;

// The properties of each object, as `name:type` (`name!:type` when required), `type` being an arm
// of `value` (`no`: a property a SubStatement must not have). Any other property, and any null
// value, is rejected.
const STATEMENT: &str = "id:uuid actor!:actor verb!:verb object!:object result:result \
    context:context timestamp:time stored:time authority:authority version:version \
    attachments:attachments";
const SUBSTATEMENT: &str = "objectType:str actor!:actor verb!:verb object!:object \
    result:result context:context timestamp:time attachments:attachments id:no stored:no \
    version:no authority:no";
const AGENT: &str = "objectType:str name:str mbox:mailto mbox_sha1sum:sha1 openid:iri \
    account:account";
const GROUP: &str = "objectType:str name:str member:members mbox:mailto mbox_sha1sum:sha1 \
    openid:iri account:account";
const ACCOUNT: &str = "homePage!:iri name!:str";
const VERB: &str = "id!:iri display:langmap";
const ACTIVITY: &str = "objectType:str id!:iri definition:definition";
const DEFINITION: &str = "name:langmap description:langmap type:iri moreInfo:iri extensions:ext \
    interactionType:interaction correctResponsesPattern:strings choices:components \
    scale:components source:components target:components steps:components";
const COMPONENT: &str = "id!:str description:langmap";
const STATEMENT_REF: &str = "objectType:str id!:uuid";
const RESULT: &str = "score:score success:bool completion:bool response:str duration:duration \
    extensions:ext";
const SCORE: &str = "scaled:num raw:num min:num max:num";
const CONTEXT: &str = "registration:uuid instructor:actor team:team contextActivities:ca \
    revision:str platform:str language:tag statement:ref extensions:ext";
const CONTEXT_ACTIVITIES: &str = "parent:acts grouping:acts category:acts other:acts";
const ATTACHMENT: &str = "usageType!:iri display!:langmap description:langmap contentType!:media \
    length!:len sha2!:sha2 fileUrl:iri";

const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";
const IFIS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];
const IFI_NAMES: &str = "mbox, mbox_sha1sum, openid or account";
const INTERACTIONS: &str = "true-false choice fill-in long-fill-in matching performance \
    sequencing likert numeric other";
/// RFC 5646 grandfathered tags outside the `langtag` production.
const IRREGULAR_TAGS: &str = "en-gb-oed i-ami i-bnn i-default i-enochian i-hak i-klingon i-lux \
    i-mingo i-navajo i-pwn i-tao i-tay i-tsu sgn-be-fr sgn-be-nl sgn-ch-de";

/// Checks a statement as received (it may lack id, stored, authority, version, timestamp). Err
/// names the JSON path at fault, e.g. "actor.mbox: must be a mailto: IRI".
pub fn statement(v: &Value) -> Result<(), Invalid> {
    match v {
        Value::Object(m) => statement_body(m, "", false),
        _ => fail("statement", "must be a JSON object"),
    }
}

/// Checks an Agent or identified Group given as the `agent` query parameter of GET /statements
/// (parsed JSON): exactly one inverse functional identifier.
pub fn agent_param(v: &Value) -> Result<(), Invalid> {
    let m = object(v, "agent")?;
    match object_type(m, "agent")? {
        Some("Group") => group(m, "agent", true),
        _ => agent_or_group(v, "agent"),
    }
}

/// Whether s is an absolute IRI with a scheme (the spec's IRI rule as LRSs check it: scheme ":"
/// then something; no spaces). Best effort (Data 2.2.s4.b6): an RFC 3986 scheme, then no
/// whitespace, control characters or characters RFC 3987 never allows (`<>"{}|\^` and the
/// backquote), and a `%` only before two hexadecimal digits.
pub fn is_iri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sc = scheme.bytes();
    let escape_ok = |i: usize| rest.get(i + 1..i + 3).is_some_and(|h| is_hex(h, &[2]));
    sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && rest.char_indices().all(|(i, c)| match c {
            '%' => escape_ok(i),
            '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`' => false,
            _ => !c.is_whitespace() && !c.is_control(),
        })
}

/// RFC 5646 language tag check (well-formed), used for language maps. A variant or extension
/// singleton may not repeat (`ar-a-aaa-b-bbb-a-ccc`), as the conformance suite expects.
pub fn is_language_tag(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if one_of(IRREGULAR_TAGS, &lower) {
        return true;
    }
    let t: Vec<&str> = lower.split('-').collect();
    let alnum = |t: &&str| t.bytes().all(|c| c.is_ascii_alphanumeric());
    if t.iter().any(|t| t.is_empty() || t.len() > 8 || !alnum(t)) {
        return false;
    }
    let alpha = |t: &str| t.bytes().all(|c| c.is_ascii_alphabetic());
    let digit = |t: &str| t.bytes().all(|c| c.is_ascii_digit());
    let n = t.len();
    if t[0] == "x" {
        return n > 1; // private use only ("x-whatever")
    }
    if t[0].len() < 2 || !alpha(t[0]) {
        return false;
    }
    let mut i = 1;
    while t[0].len() <= 3 && i <= 3 && i < n && t[i].len() == 3 && alpha(t[i]) {
        i += 1; // up to three extlang subtags
    }
    if i < n && t[i].len() == 4 && alpha(t[i]) {
        i += 1; // script
    }
    if i < n && ((t[i].len() == 2 && alpha(t[i])) || (t[i].len() == 3 && digit(t[i]))) {
        i += 1; // region
    }
    let mut seen = HashSet::new();
    while i < n && (t[i].len() >= 5 || (t[i].len() == 4 && digit(&t[i][..1]))) {
        if !seen.insert(t[i]) {
            return false; // a variant repeated
        }
        i += 1;
    }
    while i < n && t[i].len() == 1 && t[i] != "x" {
        let start = i + 1;
        i = start + t[start..].iter().take_while(|s| s.len() >= 2).count();
        if !seen.insert(t[start - 1]) || i == start {
            return false; // a singleton repeated, or without subtags
        }
    }
    i == n || (t[i] == "x" && i + 1 < n)
}

/// ISO 8601 timestamp as xAPI accepts (date-time, with time zone offset or Z; reject -00:00 offsets
/// per spec). Any ISO 8601 combined date and time (extended or basic; calendar, week or ordinal
/// date) or RFC 3339 one, which the spec recommends. `-00`, `-0000` and `-00:00` (RFC 3339's
/// "unknown offset") are refused, as the conformance suite requires. A timestamp without an offset
/// is read as UTC: the spec only says it SHOULD* have one (Data 4.5.s1.b4), so it is valid.
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let time = s.rfind(['T', 't', ' ']).map_or("", |i| &s[i..]);
    let zone = time.rfind('-').map_or("", |i| &time[i + 1..]);
    if !zone.is_empty() && zone.bytes().all(|c| c == b'0' || c == b':') {
        return None;
    }
    let primitive = || PrimitiveDateTime::parse(s, &Iso8601::DEFAULT).ok();
    (OffsetDateTime::parse(s, &Iso8601::DEFAULT).ok())
        .or_else(|| OffsetDateTime::parse(s, &Rfc3339).ok())
        .or_else(|| primitive().map(PrimitiveDateTime::assume_utc))
}

/// A statement, or (`sub`) a SubStatement, which is validated as a statement (Data
/// 2.4.4.3.s8.b2) but has no id, stored, version or authority (b3).
fn statement_body(m: &Obj, path: &str, sub: bool) -> Check {
    fields(m, path, if sub { SUBSTATEMENT } else { STATEMENT })?;
    let object_path = at(path, "object");
    let kind = statement_object(required(m, path, "object")?, &object_path, sub)?;
    if m.get("verb").is_some_and(|v| v["id"] == VOIDED) && kind != "StatementRef" {
        return fail(&object_path, "must be a StatementRef when voiding");
    }
    let context = m.get("context").and_then(Value::as_object);
    let misplaced =
        ["revision", "platform"].map(|k| context.filter(|c| c.contains_key(k)).map(|_| k));
    match misplaced {
        [Some(k), _] | [None, Some(k)] if kind != "Activity" => fail(
            &at(&at(path, "context"), k),
            "must only be used when the object is an Activity",
        ),
        _ => Ok(()),
    }
}

/// The statement's object; returns its objectType.
fn statement_object(v: &Value, path: &str, in_sub: bool) -> Result<&'static str, Invalid> {
    let m = object(v, path)?;
    match object_type(m, path)? {
        None | Some("Activity") => fields(m, path, ACTIVITY).map(|()| "Activity"),
        Some("Agent") => agent(m, path).map(|()| "Agent"),
        Some("Group") => group(m, path, false).map(|()| "Group"),
        Some("StatementRef") => fields(m, path, STATEMENT_REF).map(|()| "StatementRef"),
        Some("SubStatement") if in_sub => fail(path, "a SubStatement cannot hold a SubStatement"),
        Some("SubStatement") => statement_body(m, path, true).map(|()| "SubStatement"),
        Some(_) => fail(
            &at(path, "objectType"),
            "must be Activity, Agent, Group, StatementRef or SubStatement",
        ),
    }
}

/// Checks the properties of `m` against `spec` (see STATEMENT): unknown, null, typed, missing.
fn fields(m: &Obj, path: &str, spec: &str) -> Check {
    for (key, v) in m {
        let p = at(path, key);
        let kind = spec.split_whitespace().find_map(|f| {
            let (name, kind) = f.split_once(':')?;
            (name.trim_end_matches('!') == key).then_some(kind)
        });
        match kind {
            None => return fail(&p, "is not a property allowed here"),
            Some(_) if v.is_null() => return fail(&p, "must not be null"),
            Some(kind) => value(kind, v, &p)?,
        }
    }
    let mut needed = spec.split_whitespace().filter_map(|f| f.split_once("!:"));
    match needed.find(|(k, _)| !m.contains_key(*k)) {
        Some((k, _)) => fail(&at(path, k), "is required"),
        None => Ok(()),
    }
}

/// Checks `v` (at path `p`) as the type `kind` of a property spec.
fn value(kind: &str, v: &Value, p: &str) -> Check {
    let s = || v.as_str().ok_or_else(|| expected(v, p, "a string"));
    let must = |ok: bool, what: &str| must_at(ok, p, what);
    let each = |what: &str, f: &dyn Fn(&Value, &str) -> Check| {
        let list = v.as_array().ok_or_else(|| expected(v, p, what))?;
        let mut items = list.iter().enumerate();
        items.try_for_each(|(i, x)| f(x, &format!("{p}[{i}]")))
    };
    match kind {
        "str" => s().map(drop),
        "bool" => must(v.is_boolean(), "a boolean (true or false)"),
        "num" => must(v.is_number(), "a number"),
        "len" => must(v.as_u64().is_some(), "a non-negative integer"),
        "uuid" => must(is_uuid(s()?), "a UUID (8-4-4-4-12 hex digits)"),
        "iri" => must(is_iri(s()?), "an absolute IRI with a scheme"),
        "mailto" => must(is_mailto(s()?), "a mailto: IRI (mailto:name@host)"),
        "sha1" => must(is_hex(s()?, &[40]), "40 hex digits (a SHA-1)"),
        "sha2" => must(is_hex(s()?, &[56, 64, 96, 128]), "a hex SHA-2 hash"),
        "time" => must(parse_timestamp(s()?).is_some(), "an ISO 8601 timestamp"),
        "duration" => must(is_duration(s()?), "an ISO 8601 duration, e.g. PT1H2M3.5S"),
        "version" => must(is_statement_version(s()?), "1.0 or 1.0.x"),
        "tag" => must(is_language_tag(s()?), "an RFC 5646 language tag"),
        "media" => must(is_media_type(s()?), "an Internet media type"),
        "interaction" => must(one_of(INTERACTIONS, s()?), "a valid interactionType"),
        "strings" => each("an array of strings", &|x, p| match x.is_string() {
            true => Ok(()),
            false => Err(expected(x, p, "a string")),
        }),
        "langmap" => language_map(v, p),
        "ext" => match object(v, p)?.keys().find(|k| !is_iri(k)) {
            Some(k) => fail(p, format!("key {k:?} is not an IRI")),
            None => Ok(()),
        },
        "actor" => agent_or_group(v, p),
        "members" => each("an array of Agents", &member),
        "authority" => authority(v, p),
        "account" => fields(object(v, p)?, p, ACCOUNT),
        "verb" => fields(object(v, p)?, p, VERB),
        "definition" => definition(object(v, p)?, p),
        "components" => components(v, p),
        "result" => fields(object(v, p)?, p, RESULT),
        "score" => score(object(v, p)?, p),
        "context" => fields(object(v, p)?, p, CONTEXT),
        "team" => match object_type(object(v, p)?, p)? {
            Some("Group") => agent_or_group(v, p),
            _ => fail(p, "must be a Group (objectType \"Group\")"),
        },
        "ca" => {
            let m = object(v, p)?;
            must(!m.is_empty(), "a non-empty object")?;
            fields(m, p, CONTEXT_ACTIVITIES)
        }
        "acts" if v.is_array() => each("", &activity),
        "acts" => activity(v, p),
        "ref" => match object_type(object(v, p)?, p)? {
            Some("StatementRef") => fields(object(v, p)?, p, STATEMENT_REF),
            _ => fail(&at(p, "objectType"), "must be \"StatementRef\""),
        },
        "attachments" => each("an array of Attachments", &|a, p| {
            fields(object(a, p)?, p, ATTACHMENT)
        }),
        "no" => fail(p, "a SubStatement must not have this property"),
        "object" => Ok(()), // checked by statement_body, which needs its objectType
        other => fail(
            p,
            format!("has an unknown type {other:?} (a bug in the validator)"),
        ),
    }
}

fn agent_or_group(v: &Value, p: &str) -> Check {
    let m = object(v, p)?;
    match object_type(m, p)? {
        None | Some("Agent") => agent(m, p),
        Some("Group") => group(m, p, false),
        Some(_) => fail(&at(p, "objectType"), "must be \"Agent\" or \"Group\""),
    }
}

/// An Agent: exactly one inverse functional identifier (Data 2.4.2.1.s2.b1, b2).
fn agent(m: &Obj, p: &str) -> Check {
    fields(m, p, AGENT)?;
    match ifi_count(m) {
        1 => Ok(()),
        _ => fail(p, format!("an Agent needs exactly one of {IFI_NAMES}")),
    }
}

/// A Group's member: an Agent, never a Group (Data 2.4.2.2.s4.b2, s5.b2).
fn member(v: &Value, p: &str) -> Check {
    match object_type(object(v, p)?, p)? {
        Some("Group") => fail(p, "a Group's members must be Agents, not Groups"),
        _ => agent_or_group(v, p),
    }
}

/// A Group: identified (one IFI) or, unless `identified_only`, anonymous (no IFI, and `member`
/// listing its Agents: Data 2.4.2.2.s4.b1).
fn group(m: &Obj, p: &str, identified_only: bool) -> Check {
    fields(m, p, GROUP)?;
    let listed = matches!(m.get("member"), Some(Value::Array(l)) if !l.is_empty());
    match ifi_count(m) {
        1 => Ok(()),
        0 if identified_only => fail(p, format!("must be identified by one of {IFI_NAMES}")),
        0 if listed => Ok(()),
        0 => fail(&at(p, "member"), "an anonymous Group must list its Agents"),
        _ => fail(p, format!("a Group has at most one of {IFI_NAMES}")),
    }
}

/// An Agent, or a Group of two Agents, anonymous (3-legged OAuth: Data 2.4.9.s3.b1).
fn authority(v: &Value, p: &str) -> Check {
    let m = object(v, p)?;
    if object_type(m, p)? != Some("Group") {
        return agent_or_group(v, p);
    }
    group(m, p, false)?;
    let two = matches!(m.get("member"), Some(Value::Array(l)) if l.len() == 2);
    let oauth_pair = two && ifi_count(m) == 0;
    must_at(oauth_pair, p, "an anonymous Group of two Agents")
}

fn ifi_count(m: &Obj) -> usize {
    IFIS.iter().filter(|k| m.contains_key(**k)).count()
}

/// An Activity where nothing else may stand (context activities).
fn activity(v: &Value, p: &str) -> Check {
    let m = object(v, p)?;
    match object_type(m, p)? {
        None | Some("Activity") => fields(m, p, ACTIVITY),
        Some(_) => fail(&at(p, "objectType"), "must be \"Activity\""),
    }
}

/// Interaction properties need an interactionType (conformance suite, XAPI-00064), and a
/// component list is allowed only with the interaction types it belongs to (Data 2.4.4.1.s15).
fn definition(m: &Obj, p: &str) -> Check {
    fields(m, p, DEFINITION)?;
    let interaction = m.get("interactionType").and_then(Value::as_str);
    for list in "correctResponsesPattern choices scale source target steps".split(' ') {
        if !m.contains_key(list) {
            continue;
        }
        let Some(t) = interaction else {
            return fail(&at(p, list), "requires interactionType");
        };
        let lists = match t {
            "choice" | "sequencing" => "choices",
            "likert" => "scale",
            "matching" => "source target",
            "performance" => "steps",
            _ => "",
        };
        if list != "correctResponsesPattern" && !one_of(lists, list) {
            return fail(&at(p, list), format!("is not for interactionType {t}"));
        }
    }
    Ok(())
}

/// Interaction components, their ids distinct within the list (Data 2.4.4.1.s16.b1).
fn components(v: &Value, p: &str) -> Check {
    let mut ids = HashSet::new();
    let list = v.as_array().ok_or_else(|| expected(v, p, "an array"))?;
    for (i, c) in list.iter().enumerate() {
        let p = format!("{p}[{i}]");
        fields(object(c, &p)?, &p, COMPONENT)?;
        let fresh = ids.insert(c["id"].as_str());
        must_at(fresh, &at(&p, "id"), "distinct within the list")?;
    }
    Ok(())
}

/// scaled within [-1, 1], min below max, raw between them (Data 2.4.5.1.s2).
fn score(m: &Obj, p: &str) -> Check {
    fields(m, p, SCORE)?;
    let n = |k: &str| m.get(k).and_then(Value::as_f64);
    let (scaled, raw, min, max) = (n("scaled"), n("raw"), n("min"), n("max"));
    let scaled_ok = scaled.is_none_or(|s| (-1.0..=1.0).contains(&s));
    must_at(scaled_ok, &at(p, "scaled"), "between -1 and 1")?;
    let ordered = min.zip(max).is_none_or(|(lo, hi)| lo < hi);
    must_at(ordered, &at(p, "min"), "less than max")?;
    let above = raw.zip(min).is_some_and(|(r, lo)| r < lo);
    let below = raw.zip(max).is_some_and(|(r, hi)| r > hi);
    must_at(!above && !below, &at(p, "raw"), "between min and max")
}

/// Keys RFC 5646 tags, values strings, at least one entry (the conformance suite rejects `{}`).
fn language_map(v: &Value, p: &str) -> Check {
    let m = object(v, p)?;
    must_at(!m.is_empty(), p, "a language map with at least one entry")?;
    for (tag, text) in m {
        if !is_language_tag(tag) {
            return fail(p, format!("key {tag:?} is not an RFC 5646 language tag"));
        }
        if !text.is_string() {
            return Err(expected(text, &at(p, tag), "a string"));
        }
    }
    Ok(())
}

/// The standard form, 8-4-4-4-12 hexadecimal digits, any case (Data 2.4.1.s1, 4.4).
fn is_uuid(s: &str) -> bool {
    let groups = s.split('-').map(str::len);
    groups.eq([8, 4, 4, 4, 12]) && s.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit())
}

fn is_hex(s: &str, lengths: &[usize]) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

fn is_mailto(s: &str) -> bool {
    let (scheme, address) = s.split_at_checked(7).unwrap_or_default();
    let parts = address.rsplit_once('@');
    scheme.eq_ignore_ascii_case("mailto:")
        && parts.is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && is_iri(s)
}

fn one_of(list: &str, s: &str) -> bool {
    list.split_whitespace().any(|x| x == s)
}

/// "1.0", or "1.0." and a patch number, maybe a Semantic Versioning pre-release ("1.0.0-rc.1").
fn is_statement_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("1.0.") else {
        return s == "1.0";
    };
    let tail = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let tail_ok = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    tail.len() < rest.len()
        && (tail.is_empty() || tail.starts_with(|c: char| c == '-' || c.is_ascii_alphabetic()))
        && tail.bytes().all(tail_ok)
}

/// ISO 8601:2004 4.4.3.2: `PnYnMnDTnHnMnS` (in this order, at least one, `T` before the time
/// part, a decimal fraction only on the last) or `PnW` alone (Data 4.6).
fn is_duration(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('P') else {
        return false;
    };
    if let Some(weeks) = rest.strip_suffix('W') {
        return is_decimal(weeks);
    }
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let (mut parts, mut fraction) = (0, false);
    let mut part = |mut left: &str, mut designators: &str| {
        while !left.is_empty() {
            let Some(end) = left.find(|c: char| c.is_ascii_alphabetic()) else {
                return false;
            };
            let (number, designator) = (&left[..end], &left[end..=end]);
            let Some(at) = designators.find(designator) else {
                return false;
            };
            if fraction || !is_decimal(number) {
                return false;
            }
            (fraction, parts) = (number.contains(['.', ',']), parts + 1);
            (designators, left) = (&designators[at + 1..], &left[end + 1..]);
        }
        true
    };
    part(date, "YMD") && part(time, "HMS") && parts > 0 && !rest.ends_with('T')
}

fn is_decimal(s: &str) -> bool {
    let (whole, frac) = s.split_once(['.', ',']).unwrap_or((s, "0"));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    digits(whole) && digits(frac)
}

/// RFC 2046/7231 media type: `type/subtype`, then `;name=value` parameters (a value is a token or
/// a quoted string; best effort: a `;` inside quotes is not allowed for).
fn is_media_type(s: &str) -> bool {
    let tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    let token = |t: &str| !t.is_empty() && t.bytes().all(tchar);
    let quoted = |v: &str| v.len() >= 2 && v.starts_with('"') && v.ends_with('"');
    let param = |p: &str| {
        let pair = p.split_once('=');
        pair.is_some_and(|(name, v)| token(name) && (token(v) || quoted(v)))
    };
    let mut parts = s.split(';');
    let essence = parts.next().and_then(|e| e.trim_end().split_once('/'));
    essence.is_some_and(|(t, sub)| token(t) && token(sub))
        && parts.map(str::trim).filter(|p| !p.is_empty()).all(param)
}

fn bad(path: &str, message: impl std::fmt::Display) -> Invalid {
    Invalid::new("statement", format!("{path}: {message}"))
}

fn fail<T>(path: &str, message: impl std::fmt::Display) -> Result<T, Invalid> {
    Err(bad(path, message))
}

fn must_at(ok: bool, path: &str, what: &str) -> Check {
    if ok {
        Ok(())
    } else {
        fail(path, format!("must be {what}"))
    }
}

fn expected(v: &Value, path: &str, what: &str) -> Invalid {
    match v {
        Value::Null => bad(path, "must not be null"),
        _ => bad(path, format!("must be {what}")),
    }
}

fn at(path: &str, key: &str) -> String {
    match path {
        "" => key.to_owned(),
        _ => format!("{path}.{key}"),
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Obj, Invalid> {
    v.as_object()
        .ok_or_else(|| expected(v, path, "a JSON object"))
}

fn required<'a>(m: &'a Obj, path: &str, key: &str) -> Result<&'a Value, Invalid> {
    m.get(key).ok_or_else(|| bad(&at(path, key), "is required"))
}

fn object_type<'a>(m: &'a Obj, path: &str) -> Result<Option<&'a str>, Invalid> {
    let Some(t) = m.get("objectType") else {
        return Ok(None);
    };
    t.as_str()
        .map(Some)
        .ok_or_else(|| expected(t, &at(path, "objectType"), "a string"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEL: &str = "DELETE";
    const UUID: &str = "8f87ccde-bb56-4c2e-ab83-44982ef22df0";
    const SUB: &str = r#"{"objectType":"SubStatement","actor":{"mbox":"mailto:s@example.com"},
        "verb":{"id":"http://example.com/planned"},"object":{"id":"http://example.com/x"}}"#;
    const GROUP: &str = r#"{"objectType":"Group","mbox":"mailto:g@example.com"}"#;

    fn minimal() -> Value {
        json!({"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": "http://example.com/did"},
            "object": {"id": "http://example.com/act"}})
    }

    /// Every property the spec defines, each in a valid form.
    fn full() -> Value {
        json!({
            "id": "6690E6C9-3EF0-4ED3-8B37-7F3964730BEE",
            "actor": {"objectType": "Group", "name": "Team", "mbox": "mailto:team@example.com",
                "member": [{"objectType": "Agent", "name": "Ann",
                        "account": {"homePage": "http://www.example.com", "name": "13936749"}},
                    {"openid": "http://toby.openid.example.org/"},
                    {"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}]},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered",
                "display": {"en-US": "answered", "zh-Hant": "回答了"}},
            "object": {"objectType": "Activity", "id": "http://example.com/q1", "definition": {
                "name": {"en": "Q1"}, "description": {"en": "Question 1"},
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "moreInfo": "https://example.com/q1?lang=en#top", "interactionType": "choice",
                "correctResponsesPattern": ["a[,]b"],
                "choices": [{"id": "a", "description": {"en": "A"}}, {"id": "b"}],
                "extensions": {"http://example.com/ext": {"any": [1, null]}}}},
            "result": {"score": {"scaled": 0.95, "raw": 95, "min": 0, "max": 100},
                "success": true, "completion": false, "response": "a[,]b",
                "duration": "PT1H2M3.5S", "extensions": {"http://example.com/r": null}},
            "context": {"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                "instructor": {"name": "Teacher", "mbox": "mailto:teacher@example.com"},
                "team": {"objectType": "Group", "member": [{"mbox": "mailto:b@example.com"}]},
                "contextActivities": {"parent": [{"id": "http://example.com/test1"}],
                    "grouping": {"objectType": "Activity", "id": "http://example.com/course"},
                    "category": [{"id": "https://w3id.org/xapi/video"}], "other": []},
                "revision": "r2", "platform": "Lectern", "language": "zh-cmn-Hans-CN",
                "statement": {"objectType": "StatementRef", "id": UUID},
                "extensions": {"https://w3id.org/xapi/video/extensions/length": 12.5}},
            "timestamp": "2015-11-18T12:17:00.123+08:00",
            "stored": "2015-11-18T04:17:01Z",
            "authority": {"objectType": "Group", "member": [
                {"account": {"homePage": "http://example.com/OAuth/Token", "name": "consumer"}},
                {"mbox": "mailto:bob@example.com"}]},
            "version": "1.0.0",
            "attachments": [{"usageType": "http://adlnet.gov/expapi/attachments/signature",
                "display": {"en-US": "Signature"}, "description": {"en-US": "A signature"},
                "contentType": "text/plain; charset=\"ascii\"", "length": 27,
                "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a",
                "fileUrl": "http://over.there.com/file.txt"}]
        })
    }

    /// The minimal statement about a SubStatement, whose context has a platform.
    fn with_sub() -> Value {
        let v = edit(minimal(), "/object", SUB);
        edit(v, "/object/context", r#"{"platform":"p"}"#)
    }

    /// `v` with the JSON `new` at `pointer` (removed for DEL); `new` itself for an empty pointer.
    fn edit(mut v: Value, pointer: &str, new: &str) -> Value {
        let parsed = || serde_json::from_str(new).expect("test JSON");
        let Some((parent, key)) = pointer.rsplit_once('/') else {
            return parsed();
        };
        let target = v.pointer_mut(parent).and_then(Value::as_object_mut);
        let target = target.unwrap_or_else(|| panic!("no object at {parent}"));
        if new == DEL {
            target.remove(key);
        } else {
            target.insert(key.to_owned(), parsed());
        }
        v
    }

    #[rustfmt::skip]
    const ACCEPTED: &[(&str, &str)] = &[
        ("/object", SUB),
        ("/object", r#"{"objectType":"Agent","account":{"homePage":"http://a.b","name":"1"}}"#),
        ("/object", GROUP),
        ("/object", r#"{"objectType":"StatementRef","id":"E05AA883-ACAF-40AD-BF54-02C8CE485FB0"}"#),
        ("/actor", r#"{"objectType":"Group","member":[{"mbox":"mailto:m@example.com"}]}"#),
        ("/verb/display", r#"{"i-enochian":"a","x-whatever":"b","sl-rozaj-biske":"c"}"#),
        ("/verb/display", r#"{"de-CH-1901":"a","az-Arab-x-AZE-derbend":"b","ine":"c"}"#),
        ("/timestamp", r#""20151118T121700Z""#),
        ("/timestamp", r#""2015-11-18T12:17:00""#),
        ("/timestamp", r#""2015-11-18T12:17:00.123456789123-05:00""#),
        ("/version", r#""1.0""#),
        ("/version", r#""1.0.9""#),
        ("/result", r#"{"duration":"P4W","score":{"raw":-5}}"#),
        ("/result", r#"{"duration":"P3Y1M29DT4H35M59.14S"}"#),
        ("/result", r#"{"duration":"PT16559,14S"}"#),
        ("/object/definition", r#"{"interactionType":"true-false"}"#),
        ("/object/definition", r#"{"interactionType":"matching","source":[],"target":[]}"#),
        ("/object/definition", r#"{"interactionType":"performance","steps":[{"id":"1"}]}"#),
        ("/object/definition", r#"{"interactionType":"likert","scale":[{"id":"1"}]}"#),
        ("/object/definition", r#"{"interactionType":"sequencing","choices":[]}"#),
        ("/object/definition", r#"{"interactionType":"numeric","extensions":{}}"#),
        ("/context", r#"{"contextActivities":{"other":{"id":"http://example.com/o"}}}"#),
        ("/context", r#"{"instructor":{"objectType":"Group","openid":"http://g.example"}}"#),
    ];

    #[test]
    fn accepts_valid_statements() {
        assert_eq!(statement(&minimal()), Ok(()));
        assert_eq!(statement(&full()), Ok(()));
        let voiding = edit(minimal(), "/object", ACCEPTED[3].1);
        let voiding = edit(
            voiding,
            "/verb/id",
            r#""http://adlnet.gov/expapi/verbs/voided""#,
        );
        assert_eq!(statement(&voiding), Ok(()));
        for (pointer, new) in ACCEPTED {
            let v = edit(minimal(), pointer, new);
            assert_eq!(statement(&v), Ok(()), "{v}");
        }
    }

    /// (pointer into the base statement, new JSON or DEL, the path the error must name).
    #[rustfmt::skip]
    const REJECTED: &[(&str, &str, &str)] = &[
        ("", "[]", "statement"),
        ("/foo", "1", "foo"),
        ("/Actor", r#"{"mbox":"mailto:a@example.com"}"#, "Actor"),
        ("/actor", DEL, "actor"),
        ("/verb", DEL, "verb"),
        ("/object", DEL, "object"),
        ("/id", r#""AA97B177-9383-4934-8543-0F91A7A028368""#, "id"),
        ("/id", r#""MA97B177-9383-4934-8543-0F91A7A02836""#, "id"),
        ("/id", r#""8f87ccdebb564c2eab8344982ef22df0""#, "id"),
        ("/id", "12345", "id"),
        ("/id", "null", "id"),
        ("/actor/mbox", r#""a@example.com""#, "actor.mbox"),
        ("/actor/mbox", r#""mailto:should.fail.com""#, "actor.mbox"),
        ("/actor/openid", r#""http://openid.example.org/1""#, "actor"),
        ("/actor", r#"{"name":"no identifier"}"#, "actor"),
        ("/actor", r#"{"mbox_sha1sum":"xyz"}"#, "actor.mbox_sha1sum"),
        ("/actor", r#"{"openid":"not an iri"}"#, "actor.openid"),
        ("/actor", r#"{"account":{"homePage":"http://example.com"}}"#, "actor.account.name"),
        ("/actor", r#"{"account":{"homePage":"ab=c://x","name":"n"}}"#, "actor.account.homePage"),
        ("/actor", r#"{"account":{"homePage":"http://x.y","name":{}}}"#, "actor.account.name"),
        ("/actor/name", "123", "actor.name"),
        ("/actor/name", "null", "actor.name"),
        ("/actor/objectType", r#""agent""#, "actor.objectType"),
        ("/actor/member", "[]", "actor.member"),
        ("/actor", r#"{"objectType":"Group","name":"anonymous"}"#, "actor.member"),
        ("/actor", r#"{"objectType":"Group","member":[{"name":"x"}]}"#, "actor.member[0]"),
        ("/verb/id", r#""not an iri""#, "verb.id"),
        ("/verb/id", r#""http://example.com/a b""#, "verb.id"),
        ("/verb/display", r#"{"de-419-DE":"besucht"}"#, "verb.display"),
        ("/verb/display", r#"{"ar-a-aaa-b-bbb-a-ccc":"x"}"#, "verb.display"),
        ("/verb/display", "{}", "verb.display"),
        ("/verb/display", r#"{"en-US":null}"#, "verb.display.en-US"),
        ("/verb/display", r#""did""#, "verb.display"),
        ("/verb/Display", r#"{"en":"did"}"#, "verb.Display"),
        ("/verb/id", r#""http://adlnet.gov/expapi/verbs/voided""#, "object"),
        ("/object/id", DEL, "object.id"),
        ("/object/id", r#""ab=c://should.fail.com""#, "object.id"),
        ("/object/objectType", r#""activity""#, "object.objectType"),
        ("/object/definition", r#""should error""#, "object.definition"),
        ("/object/definition", r#"{"moreInfo":null}"#, "object.definition.moreInfo"),
        ("/object/definition", r#"{"type":"should error"}"#, "object.definition.type"),
        ("/object/definition", r#"{"name":{"a12345":"x"}}"#, "object.definition.name"),
        ("/object/definition", r#"{"extensions":{"x y":1}}"#, "object.definition.extensions"),
        ("/object/definition", r#"{"interactionType":"Other"}"#, "object.definition.interactionType"),
        ("/object/definition", r#"{"correctResponsesPattern":[]}"#, "object.definition.correctResponsesPattern"),
        ("/object/definition", r#"{"interactionType":"fill-in","choices":[]}"#, "object.definition.choices"),
        ("/object/definition", r#"{"interactionType":"choice","correctResponsesPattern":[1]}"#, "object.definition.correctResponsesPattern[0]"),
        ("/object/definition", r#"{"interactionType":"likert","scale":[{"id":"a"},{"id":"a"}]}"#, "object.definition.scale[1].id"),
        ("/object/definition", r#"{"interactionType":"matching","target":[{"id":"a","x":1}]}"#, "object.definition.target[0].x"),
        ("/object", r#"{"objectType":"Agent","name":"no identifier"}"#, "object"),
        ("/object", r#"{"mbox":"mailto:b@example.com"}"#, "object.mbox"),
        ("/object", r#"{"objectType":"StatementRef","id":"not-a-uuid"}"#, "object.id"),
        ("/object", r#"{"objectType":"Statement","id":"not-a-uuid"}"#, "object.objectType"),
        ("/object/objectType", r#""StatementRef""#, "object.id"),
        ("/result", r#"{"score":{"scaled":1.01}}"#, "result.score.scaled"),
        ("/result", r#"{"score":{"raw":0.6767676,"max":0.6567676}}"#, "result.score.raw"),
        ("/result", r#"{"score":{"raw":1,"min":5}}"#, "result.score.raw"),
        ("/result", r#"{"score":{"min":5,"max":5}}"#, "result.score.min"),
        ("/result", r#"{"score":{"max":"100"}}"#, "result.score.max"),
        ("/result", r#"{"score":12345}"#, "result.score"),
        ("/result", r#"{"success":"true"}"#, "result.success"),
        ("/result", r#"{"completion":"false"}"#, "result.completion"),
        ("/result", r#"{"response":12345}"#, "result.response"),
        ("/result", r#"{"duration":"PA1H0M0S"}"#, "result.duration"),
        ("/result", r#"{"duration":"P4W1D"}"#, "result.duration"),
        ("/result", r#"{"duration":"P1.5DT2H"}"#, "result.duration"),
        ("/result", r#"{"extensions":"should fail"}"#, "result.extensions"),
        ("/context", r#"{"registration":"should fail"}"#, "context.registration"),
        ("/context", r#"{"registration":null}"#, "context.registration"),
        ("/context", r#"{"instructor":{"key":"should fail"}}"#, "context.instructor.key"),
        ("/context", r#"{"team":{"mbox":"mailto:t@example.com"}}"#, "context.team"),
        ("/context", r#"{"contextActivities":{}}"#, "context.contextActivities"),
        ("/context", r#"{"contextActivities":{"parents":[]}}"#, "context.contextActivities.parents"),
        ("/context", r#"{"contextActivities":{"parent":[{"id":"x"}]}}"#, "context.contextActivities.parent[0].id"),
        ("/context", r#"{"contextActivities":{"other":"x"}}"#, "context.contextActivities.other"),
        ("/context", r#"{"revision":12345}"#, "context.revision"),
        ("/context", r#"{"language":"a-DE"}"#, "context.language"),
        ("/context", r#"{"statement":{"id":"8f87ccde-bb56-4c2e-ab83-44982ef22df0"}}"#, "context.statement.objectType"),
        ("/context", r#"{"extensions":{"not an iri":1}}"#, "context.extensions"),
        ("/timestamp", r#""01/011/2015""#, "timestamp"),
        ("/timestamp", r#""2008-09-15T15:53:00.601-00:00""#, "timestamp"),
        ("/timestamp", r#""2008-09-15T15:53:00.601-0000""#, "timestamp"),
        ("/stored", r#""should fail""#, "stored"),
        ("/version", r#""1.1.0""#, "version"),
        ("/version", r#""0.9.9""#, "version"),
        ("/authority", r#"{"objectType":"Group","member":[{"mbox":"mailto:b@example.com"}]}"#, "authority"),
        ("/attachments", r#"{"usageType":"http://example.com/u"}"#, "attachments"),
        ("/attachments", "[12345]", "attachments[0]"),
    ];

    /// The same, into the full statement.
    #[rustfmt::skip]
    const REJECTED_FULL: &[(&str, &str, &str)] = &[
        ("/object", r#"{"objectType":"Agent","mbox":"mailto:b@example.com"}"#, "context.revision"),
        ("/object", r#"{"objectType":"StatementRef","id":"8f87ccde-bb56-4c2e-ab83-44982ef22df0"}"#, "context.revision"),
        ("/actor/member/1/objectType", r#""Group""#, "actor.member[1]"),
        ("/actor/member/0/account/homePage", r#""not a url""#, "actor.member[0].account.homePage"),
        ("/actor/openid", r#""http://g.example.com""#, "actor"),
        ("/object/definition/choices/1/id", r#""a""#, "object.definition.choices[1].id"),
        ("/object/definition/interactionType", r#""numeric""#, "object.definition.choices"),
        ("/object/definition/interactionType", DEL, "object.definition.correctResponsesPattern"),
        ("/result/score/raw", "101", "result.score.raw"),
        ("/context/team/objectType", DEL, "context.team"),
        ("/context/instructor/member", "[]", "context.instructor.member"),
        ("/authority/member/1/objectType", r#""Group""#, "authority.member[1]"),
        ("/authority/mbox", r#""mailto:g@example.com""#, "authority"),
        ("/attachments/0/sha2", DEL, "attachments[0].sha2"),
        ("/attachments/0/sha2", "12345", "attachments[0].sha2"),
        ("/attachments/0/sha2", r#""abc""#, "attachments[0].sha2"),
        ("/attachments/0/contentType", r#""should fail""#, "attachments[0].contentType"),
        ("/attachments/0/length", r#""27""#, "attachments[0].length"),
        ("/attachments/0/length", "-1", "attachments[0].length"),
        ("/attachments/0/fileUrl", r#""should fail""#, "attachments[0].fileUrl"),
        ("/attachments/0/usageType", r#""should fail""#, "attachments[0].usageType"),
        ("/attachments/0/display", DEL, "attachments[0].display"),
        ("/attachments/0/description", r#"{"de-419-DE":"y"}"#, "attachments[0].description"),
        ("/attachments/0/fileURL", r#""http://x.com/f""#, "attachments[0].fileURL"),
        ("/timestamp", r#""2015-11-18T12:17:00.123-00""#, "timestamp"),
    ];

    /// The same, into `with_sub()`: a SubStatement is checked as a statement, and more.
    #[rustfmt::skip]
    const REJECTED_SUB: &[(&str, &str, &str)] = &[
        ("/object/id", r#""8f87ccde-bb56-4c2e-ab83-44982ef22df0""#, "object.id"),
        ("/object/stored", r#""2015-11-18T04:17:01Z""#, "object.stored"),
        ("/object/version", r#""1.0.0""#, "object.version"),
        ("/object/authority", r#"{"mbox":"mailto:a@example.com"}"#, "object.authority"),
        ("/object/objectType", r#""substatement""#, "object.objectType"),
        ("/object/verb", DEL, "object.verb"),
        ("/object/timestamp", r#""tomorrow""#, "object.timestamp"),
        ("/object/result", r#"{"success":1}"#, "object.result.success"),
        ("/object/object", SUB, "object.object"),
        ("/object/object", GROUP, "object.context.platform"),
        ("/object/verb/id", r#""http://adlnet.gov/expapi/verbs/voided""#, "object.object"),
    ];

    #[test]
    fn rejects_what_the_spec_rejects_naming_the_path() {
        let tables = [
            (minimal(), REJECTED),
            (full(), REJECTED_FULL),
            (with_sub(), REJECTED_SUB),
        ];
        let mut wrong = Vec::new();
        for (base, cases) in tables {
            assert_eq!(statement(&base), Ok(()));
            for (pointer, new, path) in cases {
                let got = statement(&edit(base.clone(), pointer, new));
                let at = got.as_ref().err().and_then(|e| e.message.split_once(": "));
                if at.map(|(p, _)| p) != Some(path)
                    || got.as_ref().is_err_and(|e| e.field != "statement")
                {
                    wrong.push(format!("{pointer} = {new}: expected {path}, got {got:?}"));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn agent_parameter_needs_one_identifier() {
        assert_eq!(
            agent_param(&json!({"mbox": "mailto:a@example.com"})),
            Ok(())
        );
        assert_eq!(
            agent_param(&serde_json::from_str(GROUP).expect("JSON")),
            Ok(())
        );
        for bad in [
            json!({"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}]}),
            json!({"mbox": "mailto:a@example.com", "openid": "http://a.example.com"}),
            json!({"account": {"homePage": "http://example.com"}}),
            json!({"mbox": "a@example.com"}),
            json!("mailto:a@example.com"),
        ] {
            let e = agent_param(&bad).expect_err("rejected");
            assert!(e.message.starts_with("agent"), "{}", e.message);
        }
    }

    #[rustfmt::skip]
    #[test]
    fn formats() {
        for tag in ["de", "en-US", "zh-Hant", "sr-Latn-RS", "es-419", "x-whatever", "en-GB-oed", "i-Klingon"] {
            assert!(is_language_tag(tag), "{tag}");
        }
        for tag in ["", "a-DE", "de-419-DE", "en--US", "en-US-x", "toolongtag", "de-a", "1de", "de-DE-1901-1901"] {
            assert!(!is_language_tag(tag), "{tag}");
        }
        for iri in ["http://example.com/ä/b", "urn:uuid:1", "mailto:a@b.c", "tag:x.org,2024:%20a"] {
            assert!(is_iri(iri), "{iri}");
        }
        for iri in ["", "example.com", ":x", "1http://x", "http:", "http://a b", "http://x/%zz", "http://x/<y>"] {
            assert!(!is_iri(iri), "{iri}");
        }
        let t = parse_timestamp("2015-11-18T12:17:00.123+08:00").expect("valid");
        assert_eq!((t.unix_timestamp(), t.millisecond()), (1_447_820_220, 123));
        assert_eq!(parse_timestamp("2015-11-18T12:17:00").map(|t| t.offset().is_utc()), Some(true));
        for bad in ["2015-11-18", "2015-11-18T25:00:00Z", "2015-02-30T00:00:00Z", "2015-11-18T12:17:00-00", "x"] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
        for bad in ["P", "PT", "P1DT", "1D", "P1H", "PT1D", "P1M1Y", "P-1D", "PT1.S", "P1W1D", "PT1H1H"] {
            assert!(!is_duration(bad), "{bad}");
        }
        assert!(is_media_type("application/vnd.api+json;q=0.5; charset=utf-8"));
        assert!(!is_media_type("text") && !is_media_type("text/plain; charset") && !is_media_type("a/b c"));
    }

    #[test]
    fn odd_input_is_an_error_not_a_panic() {
        let mut v = minimal();
        v["result"] = json!({"extensions": {}});
        v["result"]["extensions"]["http://example.com/x"] =
            (0..64).fold(json!(null), |v, _| json!({"": [v]}));
        assert_eq!(statement(&v), Ok(()));
        for odd in [
            json!(null),
            json!(1),
            json!("x"),
            json!([minimal()]),
            json!({"actor": []}),
        ] {
            assert!(statement(&odd).is_err());
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile};
    use proptest::prelude::*;
    use serde_json::json;

    /// Any JSON value, nested up to a few levels, with keys xAPI cares about so that the
    /// validator walks past its first checks.
    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("actor".to_owned()),
            Just("verb".to_owned()),
            Just("object".to_owned()),
            Just("id".to_owned()),
            Just("objectType".to_owned()),
            Just("mbox".to_owned()),
            Just("account".to_owned()),
            Just("member".to_owned()),
            Just("result".to_owned()),
            Just("context".to_owned()),
            Just("timestamp".to_owned()),
            Just("attachments".to_owned()),
            Just("definition".to_owned()),
            Just("duration".to_owned()),
            Just("score".to_owned()),
            Just("extensions".to_owned()),
            hostile("abc", 6),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            prop_oneof![
                Just("mailto:a@b.c".to_owned()),
                Just("http://ex.com/v".to_owned()),
                Just("Agent".to_owned()),
                Just("SubStatement".to_owned()),
                Just("StatementRef".to_owned()),
                Just("PT1H2M3.5S".to_owned()),
                Just("2026-11-28T01:02:03Z".to_owned()),
                hostile("PTHMSW0123456789.:-Z ", 24),
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(config())]

        /// A statement or `agent` parameter of any shape is judged, never a panic.
        #[test]
        fn props_xapi_validate_any_json(v in json_value()) {
            let _ = statement(&v);
            let _ = agent_param(&v);
            let _ = crate::domain::xapi::signature::signed(&v);
            let _ = crate::domain::xapi::signature::check(&v, "id", |_| Some(b"a.b.c".as_slice()));
        }

        /// A body of any bytes (invalid UTF-8, NUL, deep nesting) goes through the JSON reader
        /// the handlers use and then the validator without a panic.
        #[test]
        fn props_xapi_validate_any_body(
            body in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                (1usize..4000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
                (1usize..2000).prop_map(|n| format!("{}1{}", "{\"object\":".repeat(n), "}".repeat(n)).into_bytes()),
            ],
        ) {
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                let _ = statement(&v);
            }
        }

        /// The small readers the validator and the statement API use: timestamps, durations,
        /// IRIs, language tags and statement ids take any text.
        #[test]
        fn props_xapi_scalars_take_any_text(s in prop_oneof![
            hostile("0123456789-+:.TtZzW PYMDHS", 40),
            any::<String>(),
        ]) {
            let _ = parse_timestamp(&s);
            let _ = is_iri(&s);
            let _ = is_language_tag(&s);
            let _ = crate::domain::xapi::statement_id(&s);
            let _ = crate::domain::xapi::accepts_version(&s);
            if let Some(ms) = crate::domain::xapi::duration_ms_of(&s) {
                prop_assert!(ms >= 0, "{s}: {ms}");
            }
        }
    }
}
