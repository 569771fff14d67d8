//! Signed statements (xAPI 1.0.3 Data 2.6). A statement is signed when one of its attachments
//! has the usageType [`USAGE`]; that attachment's data is a JSON Web Signature (RFC 7515) whose
//! payload is the statement as it was before the signature was added. The store refuses (400) a
//! signed statement unless every one of these holds:
//!
//! - it has one signature attachment, of contentType `application/octet-stream`, whose data came
//!   with the request (a signature named only by `fileUrl` cannot be checked);
//! - the JWS is in compact serialization: three base64url parts without padding, the header a
//!   JSON object with `alg` RS256, RS384 or RS512 and no `crit` (this store understands no
//!   extension, and RFC 7515 4.1.11 says a recipient must then refuse);
//! - the payload is a JSON object logically equivalent to the statement received (below);
//! - when the header has `x5c`, every entry is base64 DER and the signature verifies with the
//!   public key of the first certificate, an RSA key of 2048 to 8192 bits (RFC 7518 3.3 forbids
//!   smaller keys with these algorithms).
//!
//! Equivalence follows Data 2.3.1's comparison requirements: differences that the LRS's own
//! processing could cause are ignored, and nothing else is. So `authority`, `stored` and
//! `version` are ignored on both sides; `id` and `timestamp` are ignored when the payload has
//! none (the store assigns them), and otherwise the id must be the one the statement is stored
//! under and the timestamp the same instant; the signature attachment is left out of the
//! statement received (the payload predates it). Object keys may come in any order and numbers
//! compare by value; every other difference — a verb's display or an activity's definition
//! included — refuses the statement, since a signer and a sender never differ there by accident.
//!
//! Not checked, on purpose: the certificates after the first (no path is built to a trust anchor,
//! no validity dates or revocation are looked at). Data 2.6 says the `x5c` check is there to catch
//! mistakes, not to authenticate the signer, which is outside the specification. Without `x5c` no
//! key is known, so only the form of the signature is checked, as Data 2.6.s5.b3 asks.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls::pki_types::CertificateDer;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

use super::validate::parse_timestamp;

/// The usageType of a signature attachment.
pub const USAGE: &str = "http://adlnet.gov/expapi/attachments/signature";
/// The only contentType a signature attachment may have (Data 2.6.s4.b1).
pub const CONTENT_TYPE: &str = "application/octet-stream";

/// Why a signed statement is refused; each says what the client should hear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("a statement carries at most one signature attachment; this one has {0}")]
    Several(usize),
    #[error("the signature attachment's contentType must be {CONTENT_TYPE}, not {0:?}")]
    ContentType(String),
    #[error(
        "the signature's JWS is not in the request: send it as a part of a multipart/mixed \
         request (a signature named only by fileUrl cannot be verified)"
    )]
    NotSent,
    #[error("the signature is not a JWS in compact serialization: {0}")]
    Malformed(&'static str),
    #[error("the signature's algorithm (alg) must be RS256, RS384 or RS512; it is {0}")]
    Algorithm(String),
    #[error(
        "the JWS header marks extensions as critical (crit: {0}), which this store does not \
         understand"
    )]
    Critical(String),
    #[error("the signed payload is not a JSON statement: {0}")]
    Payload(String),
    #[error("the signed statement (the JWS payload) differs from the statement sent in {0}")]
    Differs(String),
    #[error("the JWS header's x5c cannot be used: {0}")]
    Certificate(String),
    #[error(
        "the signature does not verify with the public key of the first certificate of x5c \
         (it must be an RSA key of 2048 to 8192 bits)"
    )]
    Signature,
}

use SignatureError as E;

/// The JWS algorithms Data 2.6.s4.b4 allows: RSASSA-PKCS1-v1_5 with SHA-256, -384 or -512.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
}

impl Algorithm {
    fn named(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "RS384" => Some(Self::Rs384),
            "RS512" => Some(Self::Rs512),
            _ => None,
        }
    }

    /// The verifier of signatures by a certificate's key; each takes RSA keys of 2048 to 8192
    /// bits only.
    fn verifier(self) -> &'static dyn rustls::pki_types::SignatureVerificationAlgorithm {
        use webpki::aws_lc_rs as alg;
        match self {
            Self::Rs256 => alg::RSA_PKCS1_2048_8192_SHA256,
            Self::Rs384 => alg::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => alg::RSA_PKCS1_2048_8192_SHA512,
        }
    }
}

/// A JWS in compact serialization, decoded.
struct Jws<'a> {
    /// What was signed: the encoded header and payload with the dot between them.
    signing_input: &'a [u8],
    alg: Algorithm,
    /// The `x5c` chain, each certificate's DER; empty without `x5c`.
    chain: Vec<Vec<u8>>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, SignatureError> {
        let text = std::str::from_utf8(bytes).map_err(|_| E::Malformed("it is not ASCII text"))?;
        let parts: Vec<&str> = text.split('.').collect();
        let [header, payload, signature] = parts.as_slice() else {
            return Err(E::Malformed(
                "it is not three parts separated by dots (the JWS JSON serialization is not \
                 taken)",
            ));
        };
        let decode = |part: &str, what: &'static str| {
            URL_SAFE_NO_PAD.decode(part).map_err(|_| E::Malformed(what))
        };
        let header = decode(header, "its header is not base64url without padding")?;
        let payload_bytes = decode(payload, "its payload is not base64url without padding")?;
        let signature = decode(signature, "its signature is not base64url without padding")?;
        let header: Map<String, Value> = serde_json::from_slice(&header)
            .map_err(|_| E::Malformed("its header is not a JSON object"))?;
        let alg = match header.get("alg") {
            Some(Value::String(a)) => {
                Algorithm::named(a).ok_or_else(|| E::Algorithm(format!("{a:?}")))?
            }
            Some(other) => return Err(E::Algorithm(other.to_string())),
            None => return Err(E::Algorithm("absent".to_owned())),
        };
        // Checked after the algorithm, so that `alg: none` (whose signature is empty) is refused
        // for what it is.
        if signature.is_empty() {
            return Err(E::Malformed("its signature is empty"));
        }
        if let Some(crit) = header.get("crit") {
            return Err(E::Critical(crit.to_string()));
        }
        let chain = match header.get("x5c") {
            None => Vec::new(),
            Some(Value::Array(certs)) if !certs.is_empty() => certs
                .iter()
                .map(|c| c.as_str().and_then(|c| STANDARD.decode(c).ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    E::Certificate(
                        "each entry must be a certificate's DER in base64 (not base64url)"
                            .to_owned(),
                    )
                })?,
            Some(_) => {
                return Err(E::Certificate(
                    "it must be a non-empty array of certificates".to_owned(),
                ));
            }
        };
        // The signing input is the encoded header and payload as sent, up to the second dot.
        let signed = text.rfind('.').unwrap_or(text.len());
        Ok(Self {
            signing_input: &bytes[..signed],
            alg,
            chain,
            payload: payload_bytes,
            signature,
        })
    }

    /// Whether the signature verifies with the public key of the first certificate of `x5c`.
    fn verify(&self, first: &[u8]) -> Result<(), SignatureError> {
        let der = CertificateDer::from(first);
        let cert = webpki::EndEntityCert::try_from(&der).map_err(|e| {
            E::Certificate(format!(
                "its first entry is not an X.509 v3 certificate that can be read ({e:?})"
            ))
        })?;
        cert.verify_signature(self.alg.verifier(), self.signing_input, &self.signature)
            .map_err(|e| match e {
                webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                    E::Certificate("the first certificate's public key is not an RSA key".into())
                }
                _ => E::Signature,
            })
    }
}

/// The statement's attachments.
fn attachments(statement: &Value) -> impl Iterator<Item = &Value> {
    statement
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn is_signature(attachment: &Value) -> bool {
    attachment.get("usageType").and_then(Value::as_str) == Some(USAGE)
}

/// Whether `statement` (as received) is signed: its signature attachment's `sha2` (lowercase).
pub fn signed(statement: &Value) -> Option<String> {
    attachments(statement)
        .find(|a| is_signature(a))
        .and_then(|a| a.get("sha2").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
}

/// Checks the signature of `statement` (as received; `id` is the id it is stored under) when it
/// is signed, as the module says. `data` answers the bytes the request carried for a `sha2`
/// (lowercase), already checked against it.
pub fn check<'d>(
    statement: &Value,
    id: &str,
    data: impl Fn(&str) -> Option<&'d [u8]>,
) -> Result<(), SignatureError> {
    let signatures: Vec<&Value> = attachments(statement).filter(|a| is_signature(a)).collect();
    let attachment = match signatures.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        many => return Err(E::Several(many.len())),
    };
    let content_type = attachment
        .get("contentType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !content_type.eq_ignore_ascii_case(CONTENT_TYPE) {
        return Err(E::ContentType(content_type.to_owned()));
    }
    let sha2 = signed(statement).unwrap_or_default();
    let jws = Jws::parse(data(&sha2).ok_or(E::NotSent)?)?;
    let payload: Value =
        serde_json::from_slice(&jws.payload).map_err(|e| E::Payload(e.to_string()))?;
    let Value::Object(payload) = payload else {
        return Err(E::Payload("it is not a JSON object".to_owned()));
    };
    if let Some(differs) = difference(payload, statement, id) {
        return Err(E::Differs(differs));
    }
    match jws.chain.first() {
        Some(first) => jws.verify(first),
        None => Ok(()),
    }
}

/// The first top-level property in which the signed statement and the statement received differ
/// (stored under `id`), ignoring what the module says is ignored; `None` when they are
/// equivalent.
fn difference(mut signed: Map<String, Value>, received: &Value, id: &str) -> Option<String> {
    let mut sent = received.as_object().cloned().unwrap_or_default();
    for key in ["authority", "stored", "version"] {
        signed.remove(key);
        sent.remove(key);
    }
    sent.remove("id");
    if let Some(signed_id) = signed.remove("id") {
        let same = signed_id
            .as_str()
            .and_then(super::statement_id)
            .is_some_and(|s| s == id);
        if !same {
            return Some("id".to_owned());
        }
    }
    let sent_timestamp = sent.remove("timestamp");
    if let Some(signed_timestamp) = signed.remove("timestamp") {
        let instant = |t: Option<&Value>| {
            t.and_then(Value::as_str)
                .and_then(parse_timestamp)
                .map(|t| t.unix_timestamp_nanos())
        };
        let signed_at = instant(Some(&signed_timestamp));
        if signed_at.is_none() || signed_at != instant(sent_timestamp.as_ref()) {
            return Some("timestamp".to_owned());
        }
    }
    if let Some(Value::Array(list)) = sent.get_mut("attachments") {
        list.retain(|a| !is_signature(a));
    }
    for side in [&mut signed, &mut sent] {
        if side
            .get("attachments")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            side.remove("attachments");
        }
    }
    let keys: BTreeSet<&String> = signed.keys().chain(sent.keys()).collect();
    keys.into_iter()
        .find(|k| !same(signed.get(*k), sent.get(*k)))
        .cloned()
}

/// Whether two JSON values are logically the same: object keys in any order, numbers by value.
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same_value(a, b),
        _ => false,
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| same(Some(v), b.get(k)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "33cff416-e331-4c9d-969e-5373a1756120";

    fn statement() -> Value {
        json!({
            "id": ID,
            "actor": {"mbox": "mailto:learner@example.com", "objectType": "Agent"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
            "object": {"id": "http://example.com/activities/a"},
            "result": {"score": {"scaled": 1.0}},
            "timestamp": "2013-04-01T12:00:00Z",
        })
    }

    fn sent(signed: &Value) -> Value {
        let mut s = signed.clone();
        let list = s
            .as_object_mut()
            .map(|o| o.entry("attachments").or_insert_with(|| json!([])));
        if let Some(Value::Array(list)) = list {
            list.push(
                json!({"usageType": USAGE, "display": {"en-US": "Signature"},
                "contentType": CONTENT_TYPE, "length": 10, "sha2": "ab"}),
            );
        }
        s
    }

    fn diff(signed: Value, received: &Value) -> Option<String> {
        match signed {
            Value::Object(o) => difference(o, received, ID),
            _ => Some("not an object".into()),
        }
    }

    #[test]
    fn what_the_store_sets_and_the_signature_itself_are_ignored() {
        let signed = statement();
        let mut received = sent(&signed);
        received["authority"] = json!({"mbox": "mailto:lrs@example.com"});
        received["stored"] = json!("2020-01-01T00:00:00Z");
        received["version"] = json!("1.0.0");
        assert_eq!(diff(signed.clone(), &received), None);
        // Without id and timestamp in the payload, the statement's own are not compared.
        let mut bare = signed.clone();
        bare.as_object_mut().map(|o| o.remove("id"));
        bare.as_object_mut().map(|o| o.remove("timestamp"));
        assert_eq!(diff(bare, &received), None);
        // The same instant in another offset, keys in another order, 1 for 1.0.
        let reordered: Value = serde_json::from_str(&format!(
            r#"{{"timestamp": "2013-04-01T20:00:00.000+08:00", "result": {{"score": {{"scaled": 1}}}},
               "object": {}, "verb": {}, "actor": {}, "id": "{}"}}"#,
            signed["object"],
            signed["verb"],
            signed["actor"],
            ID.to_uppercase()
        ))
        .expect("test JSON");
        assert_eq!(diff(reordered, &received), None);
    }

    #[test]
    fn any_other_difference_is_named() {
        let signed = statement();
        let received = sent(&signed);
        let changed = |pointer: &str, v: Value| {
            let mut s = signed.clone();
            if let Some(target) = s.pointer_mut(pointer) {
                *target = v;
            }
            diff(s, &received)
        };
        assert_eq!(
            changed("/verb/display/en-US", json!("seen")),
            Some("verb".into())
        );
        assert_eq!(
            changed("/result/score/scaled", json!(0.5)),
            Some("result".into())
        );
        assert_eq!(
            changed("/id", json!("a4f7e9a5-22c4-4c4e-8a7b-1d3c6b1b8e20")),
            Some("id".into())
        );
        assert_eq!(
            changed("/timestamp", json!("2013-04-01T12:00:00.001Z")),
            Some("timestamp".into())
        );
        // A property the payload has and the statement lacks, and the other way round.
        let mut more = signed.clone();
        more["context"] = json!({"platform": "p"});
        assert_eq!(diff(more, &received), Some("context".into()));
        let mut fewer = signed.clone();
        fewer.as_object_mut().map(|o| o.remove("result"));
        assert_eq!(diff(fewer, &received), Some("result".into()));
        // A signed timestamp the statement received lacks.
        let mut untimed = received.clone();
        untimed.as_object_mut().map(|o| o.remove("timestamp"));
        assert_eq!(diff(signed.clone(), &untimed), Some("timestamp".into()));
        // Other attachments are part of what was signed.
        let mut other = received.clone();
        if let Some(Value::Array(list)) = other.get_mut("attachments") {
            list.push(
                json!({"usageType": "http://example.com/u", "display": {"en": "x"},
                "contentType": "text/plain", "length": 1, "sha2": "cd"}),
            );
        }
        assert_eq!(diff(signed, &other), Some("attachments".into()));
    }

    #[test]
    fn the_form_of_a_jws_is_checked_before_anything_else() {
        let b = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        let payload = b(statement().to_string().as_bytes());
        let jws = |header: &str| format!("{}.{payload}.{}", b(header.as_bytes()), b(b"sig"));
        let parse = |s: &str| Jws::parse(s.as_bytes()).map(|j| j.alg);
        assert_eq!(parse(&jws(r#"{"alg":"RS384"}"#)), Ok(Algorithm::Rs384));
        assert!(matches!(
            parse(&jws(r#"{"alg":"HS256"}"#)),
            Err(E::Algorithm(_))
        ));
        assert!(matches!(
            parse(&jws(r#"{"alg":"none"}"#)),
            Err(E::Algorithm(_))
        ));
        assert!(matches!(
            parse(&jws(r#"{"typ":"JWT"}"#)),
            Err(E::Algorithm(_))
        ));
        assert!(matches!(
            parse(&jws(r#"{"alg":"RS256","crit":["b64"],"b64":false}"#)),
            Err(E::Critical(_))
        ));
        assert!(matches!(
            parse(&jws(r#"{"alg":"RS256","x5c":[]}"#)),
            Err(E::Certificate(_))
        ));
        assert!(matches!(
            parse(&jws(r#"{"alg":"RS256","x5c":["not base64!"]}"#)),
            Err(E::Certificate(_))
        ));
        assert!(matches!(parse(&jws("[1]")), Err(E::Malformed(_))));
        for malformed in [
            "a.b".to_owned(),
            format!("{}.{payload}", b(br#"{"alg":"RS256"}"#)),
            format!("{}.{payload}.", b(br#"{"alg":"RS256"}"#)),
            format!("{}=.{payload}.{}", b(br#"{"alg":"RS256"}"#), b(b"s")),
            format!("{}.{payload}.{}.x", b(br#"{"alg":"RS256"}"#), b(b"s")),
            format!("{}.{payload}.a+b/", b(br#"{"alg":"RS256"}"#)),
        ] {
            assert!(
                matches!(parse(&malformed), Err(E::Malformed(_))),
                "{malformed}"
            );
        }
        let text = jws(r#"{"alg":"RS512"}"#);
        let Ok(parsed) = Jws::parse(text.as_bytes()) else {
            panic!("a well-formed JWS");
        };
        assert_eq!(
            parsed.signing_input,
            &text.as_bytes()[..text.rfind('.').unwrap_or(0)]
        );
    }

    #[test]
    fn a_signature_attachment_is_checked_for_its_content_type_count_and_data() {
        let signed = statement();
        let mut received = sent(&signed);
        assert_eq!(check(&received, ID, |_| None), Err(E::NotSent));
        received["attachments"][0]["contentType"] = json!("text/plain; charset=ascii");
        assert!(matches!(
            check(&received, ID, |_| None),
            Err(E::ContentType(_))
        ));
        let mut twice = sent(&sent(&signed));
        assert_eq!(check(&twice, ID, |_| None), Err(E::Several(2)));
        // Unsigned statements pass untouched.
        twice.as_object_mut().map(|o| o.remove("attachments"));
        assert_eq!(check(&twice, ID, |_| None), Ok(()));
        // A payload that is not JSON.
        let b = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        let broken = format!(
            "{}.{}.{}",
            b(br#"{"alg":"RS256"}"#),
            b(b"{'id\":1}"),
            b(b"s")
        );
        assert!(matches!(
            check(&sent(&signed), ID, |_| Some(broken.as_bytes())),
            Err(E::Payload(_))
        ));
    }
}
