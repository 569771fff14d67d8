//! The xAPI 1.0.3 document resources (State, Activity Profile, Agent Profile) and the Activities
//! and Agents resources, as rules without I/O: the kinds of document, their ETag (the quoted
//! SHA-1 hex of the bytes, Communication 3.1), the `If-Match`/`If-None-Match` preconditions of
//! RFC 7232, the JSON merge a `POST` makes (Communication 2.2: one level deep, both documents JSON
//! objects), the activity definition the store knows from its statements, the Person object of
//! the Agents resource, and the check of an attachment's bytes against its `sha2`.

use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// A document holds at most this many bytes (more is refused with 413).
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Which resource a document belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/activities/state`: keyed by activity, agent, registration and `stateId`.
    State,
    /// `/activities/profile`: keyed by activity and `profileId`.
    ActivityProfile,
    /// `/agents/profile`: keyed by agent and `profileId`.
    AgentProfile,
}

impl Kind {
    /// The word stored in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::State => "state",
            Self::ActivityProfile => "activity_profile",
            Self::AgentProfile => "agent_profile",
        }
    }

    /// Whether a `PUT` needs a precondition (Communication 3.1: the profiles do; state documents
    /// are overwritten, as the specification lets them be).
    pub fn put_needs_precondition(self) -> bool {
        self != Self::State
    }
}

/// The entity tag of a document's bytes, without quotes: SHA-1, lowercase hex.
pub fn etag(content: &[u8]) -> String {
    hex::encode(Sha1::digest(content))
}

/// Whether a media type is JSON (`application/json`, parameters aside).
pub fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/json")
}

/// The merge of a `POST`: the stored document's top-level properties, each replaced or added by
/// the sent document's. `None` unless both are JSON objects.
pub fn merge(stored: &[u8], sent: &[u8]) -> Option<Vec<u8>> {
    let Value::Object(mut base) = serde_json::from_slice::<Value>(stored).ok()? else {
        return None;
    };
    let Value::Object(add) = serde_json::from_slice::<Value>(sent).ok()? else {
        return None;
    };
    for (k, v) in add {
        base.insert(k, v);
    }
    serde_json::to_vec(&Value::Object(base)).ok()
}

/// The preconditions a request sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

/// Why a precondition failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet {
    /// `If-Match` or `If-None-Match` does not hold (412).
    Failed(String),
    /// A profile was `PUT` over an existing one with neither header (409).
    Missing,
}

/// Whether `tag` (a header's member: `"…"`, `W/"…"` or `*`) names `current`.
fn names(list: &str, current: &str) -> bool {
    list.split(',').map(str::trim).any(|t| {
        t == "*"
            || t.strip_prefix("W/")
                .unwrap_or(t)
                .trim_matches('"')
                .eq_ignore_ascii_case(current)
    })
}

impl Preconditions {
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// Checks the preconditions against the current document's tag (`None`: no document), as
    /// RFC 7232 section 3 says: `If-Match` holds when the document exists and a listed tag (or
    /// `*`) names it, `If-None-Match` when none does.
    pub fn check(&self, current: Option<&str>) -> Result<(), Unmet> {
        if let Some(m) = &self.if_match {
            let holds = current.is_some_and(|c| names(m, c));
            if !holds {
                return Err(Unmet::Failed(match current {
                    Some(_) => "If-Match names another version of the document".to_owned(),
                    None => "If-Match was sent but there is no such document".to_owned(),
                }));
            }
        }
        if let Some(n) = &self.if_none_match
            && current.is_some_and(|c| names(n, c))
        {
            return Err(Unmet::Failed(
                "If-None-Match: the document exists (in a version it names)".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The definition of activity `id` as the statements (newest first) name it: merged from the
/// oldest to the newest, a language map key by key, any other property replaced. The activity
/// object of the Activities resource; without a definition in any statement, only its id.
pub fn activity(id: &str, statements_newest_first: &[Value]) -> Value {
    let mut definition = Map::new();
    for s in statements_newest_first.iter().rev() {
        let mut found = Vec::new();
        collect_activities(s, id, &mut found);
        for d in found {
            for (k, v) in d {
                match (definition.get_mut(&k), v) {
                    (Some(Value::Object(old)), Value::Object(new))
                        if matches!(k.as_str(), "name" | "description") =>
                    {
                        old.extend(new);
                    }
                    (_, v) => {
                        definition.insert(k, v);
                    }
                }
            }
        }
    }
    let mut out = json!({ "objectType": "Activity", "id": id });
    if !definition.is_empty() {
        out["definition"] = Value::Object(definition);
    }
    out
}

/// The definitions of every activity `id` a statement carries (object, context activities,
/// sub-statement).
fn collect_activities(s: &Value, id: &str, out: &mut Vec<Map<String, Value>>) {
    let mut look = |a: &Value| {
        if a.get("id").and_then(Value::as_str) == Some(id)
            && let Some(Value::Object(d)) = a.get("definition")
        {
            out.push(d.clone());
        }
    };
    if let Some(o) = s.get("object") {
        match o.get("objectType").and_then(Value::as_str) {
            None | Some("Activity") => look(o),
            _ => {}
        }
    }
    if let Some(Value::Object(ca)) = s.get("context").and_then(|c| c.get("contextActivities")) {
        for list in ca.values() {
            match list {
                Value::Array(items) => items.iter().for_each(&mut look),
                one => look(one),
            }
        }
    }
    if let Some(sub) = s
        .get("object")
        .filter(|o| o.get("objectType").and_then(Value::as_str) == Some("SubStatement"))
    {
        collect_activities(sub, id, out);
    }
}

/// The Person object of the Agents resource for `agent` (a valid Agent): each property it has
/// as a one-item array.
pub fn person(agent: &Value) -> Value {
    let mut out = Map::new();
    out.insert("objectType".into(), Value::from("Person"));
    for key in ["name", "mbox", "mbox_sha1sum", "openid", "account"] {
        if let Some(v) = agent.get(key) {
            out.insert(key.into(), Value::Array(vec![v.clone()]));
        }
    }
    Value::Object(out)
}

/// Whether `bytes` hash to `sha2` (hex; SHA-224, -256, -384 or -512 by its length).
pub fn sha2_matches(sha2: &str, bytes: &[u8]) -> bool {
    let actual = match sha2.len() {
        56 => hex::encode(Sha224::digest(bytes)),
        64 => hex::encode(Sha256::digest(bytes)),
        96 => hex::encode(Sha384::digest(bytes)),
        128 => hex::encode(Sha512::digest(bytes)),
        _ => return false,
    };
    actual.eq_ignore_ascii_case(sha2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_is_the_sha1_of_the_bytes() {
        assert_eq!(etag(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn a_merge_replaces_top_level_properties_of_two_objects_only() {
        let merged = merge(
            br#"{"car":{"make":"Ford","model":"Escape"},"driver":"Dale"}"#,
            br#"{"car":{"make":"Dodge"},"type":"Civic"}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&merged).unwrap(),
            json!({"car": {"make": "Dodge"}, "driver": "Dale", "type": "Civic"})
        );
        assert_eq!(merge(b"{}", b"[1]"), None);
        assert_eq!(merge(b"1", b"{}"), None);
        assert_eq!(merge(b"{}", b"abc"), None);
    }

    #[test]
    fn preconditions_follow_rfc_7232() {
        let tag = etag(b"x");
        let m = |v: &str| Preconditions {
            if_match: Some(v.to_owned()),
            if_none_match: None,
        };
        let n = |v: &str| Preconditions {
            if_match: None,
            if_none_match: Some(v.to_owned()),
        };
        assert_eq!(m(&format!("\"{tag}\"")).check(Some(&tag)), Ok(()));
        assert_eq!(m(&format!("W/\"{tag}\", \"b\"")).check(Some(&tag)), Ok(()));
        assert!(m("\"1111\"").check(Some(&tag)).is_err());
        assert!(m("*").check(None).is_err());
        assert_eq!(m("*").check(Some(&tag)), Ok(()));
        assert_eq!(n("*").check(None), Ok(()));
        assert!(n("*").check(Some(&tag)).is_err());
        assert_eq!(n("\"other\"").check(Some(&tag)), Ok(()));
        assert_eq!(Preconditions::default().check(Some(&tag)), Ok(()));
    }

    #[test]
    fn an_activity_is_merged_from_its_statements_oldest_first() {
        let id = "http://example.com/a";
        let older = json!({"object": {"id": id, "definition": {"name": {"en-US": "A"}, "type": "http://t/1"}}});
        let newer = json!({"object": {"id": "http://x"}, "context": {"contextActivities": {"parent": [
            {"id": id, "definition": {"name": {"zh-CN": "甲"}, "type": "http://t/2"}}]}}});
        let a = activity(id, &[newer, older]);
        assert_eq!(
            a,
            json!({"objectType": "Activity", "id": id, "definition": {
                "name": {"en-US": "A", "zh-CN": "甲"}, "type": "http://t/2"}})
        );
        assert_eq!(
            activity(id, &[]),
            json!({"objectType": "Activity", "id": id})
        );
    }

    #[test]
    fn a_person_has_arrays() {
        let p = person(&json!({"objectType": "Agent", "name": "甲", "mbox": "mailto:a@x"}));
        assert_eq!(
            p,
            json!({"objectType": "Person", "name": ["甲"], "mbox": ["mailto:a@x"]})
        );
    }

    #[test]
    fn attachment_hashes_are_checked_by_their_length() {
        let sha256 = "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a";
        assert!(sha2_matches(sha256, b"here is a simple attachment"));
        assert!(sha2_matches(
            &sha256.to_uppercase(),
            b"here is a simple attachment"
        ));
        assert!(!sha2_matches(sha256, b"here is a simple attachment!"));
        let sha512 = hex::encode(Sha512::digest(b"x"));
        assert!(sha2_matches(&sha512, b"x"));
        assert!(!sha2_matches("abc", b"x"));
    }
}
