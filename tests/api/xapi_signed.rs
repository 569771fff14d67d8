//! Signed statements in the learning record store (xAPI 1.0.3 Data 2.6), signed here as a client
//! would: an RSA key and a self-signed X.509 certificate made for the test, a JWS in compact
//! serialization over the statement as it was before the signature was added, sent as the
//! `multipart/mixed` part of an attachment with usageType `…/attachments/signature` (as the ADL
//! conformance suite sends it). A correctly signed statement is stored and comes back with its
//! signature; every malformed or mismatched one is a 400 problem with nothing stored. Both
//! databases.

use crate::common::{TestApp, problem, sha256_hex};
use crate::feed::platform;
use crate::xapi_documents::read_parts;
use aws_lc_rs::signature::{self as sig, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::Mac;
use serde_json::{Value, json};

const STATEMENTS: &str = "/api/xapi/statements";
const SIGNATURE: &str = "http://adlnet.gov/expapi/attachments/signature";
const OCTET_STREAM: &str = "application/octet-stream";
const MIXED: &str = "multipart/mixed; boundary=s1gned";

/// An RSA key and a self-signed certificate of it, made for the test.
struct Signer {
    key: RsaKeyPair,
    cert: Vec<u8>,
}

impl Signer {
    fn new() -> Self {
        // A 2048-bit key (rcgen makes RSA keys through aws-lc-rs), read again to sign JWSs.
        let for_cert = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("an RSA key");
        let key = RsaKeyPair::from_pkcs8(&for_cert.serialize_der()).expect("the key, as PKCS#8");
        let params = rcgen::CertificateParams::new(vec!["signer.example.com".to_owned()])
            .expect("certificate parameters");
        let cert = params.self_signed(&for_cert).expect("a certificate");
        Self {
            key,
            cert: cert.der().to_vec(),
        }
    }

    /// A compact JWS of `payload` with `header`, signed by this key with `alg` (RS256/384/512).
    fn jws(&self, header: &Value, payload: &[u8], alg: &str) -> String {
        let padding: &'static dyn sig::RsaEncoding = match alg {
            "RS384" => &sig::RSA_PKCS1_SHA384,
            "RS512" => &sig::RSA_PKCS1_SHA512,
            _ => &sig::RSA_PKCS1_SHA256,
        };
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                padding,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("signed");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A header naming `alg` and carrying this signer's certificate as `x5c`.
    fn header(&self, alg: &str) -> Value {
        json!({ "alg": alg, "x5c": [STANDARD.encode(&self.cert)] })
    }

    /// `statement` signed with `alg` and this signer's certificate.
    fn sign(&self, statement: &Value, alg: &str) -> String {
        self.jws(&self.header(alg), statement.to_string().as_bytes(), alg)
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A statement before it is signed, with its id.
fn unsigned(id: &str) -> Value {
    json!({
        "id": id,
        "actor": {"objectType": "Agent", "name": "学员乙", "mbox": "mailto:signer@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attested", "display": {"en-US": "attested"}},
        "object": {"objectType": "Activity", "id": "http://example.com/activities/signed",
                   "definition": {"name": {"zh-CN": "签名的陈述"}}},
        "result": {"score": {"scaled": 0.75}, "completion": true},
        "timestamp": "2024-05-01T08:00:00.000+08:00"
    })
}

/// `statement` with the signature attachment of `jws`, of `content_type`, added.
fn attach(statement: &Value, jws: &[u8], content_type: &str) -> Value {
    let mut statement = statement.clone();
    statement["attachments"] = json!([{
        "usageType": SIGNATURE,
        "display": {"en-US": "Signature"},
        "description": {"en-US": "Signed by the test"},
        "contentType": content_type,
        "length": jws.len(),
        "sha2": sha256_hex(jws),
    }]);
    statement
}

/// A `multipart/mixed` body: the statements' JSON, then `jws` as the part of `content_type`.
fn multipart(json: &Value, jws: &[u8], content_type: &str) -> Vec<u8> {
    let mut body = format!(
        "--s1gned\r\nContent-Type: application/json\r\n\r\n{json}\r\n--s1gned\r\n\
         Content-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n\
         X-Experience-API-Hash: {}\r\n\r\n",
        sha256_hex(jws)
    )
    .into_bytes();
    body.extend_from_slice(jws);
    body.extend_from_slice(b"\r\n--s1gned--\r\n");
    body
}

/// `statement` signed by `jws` (of `content_type`), as the body of a request.
fn with_signature(statement: &Value, jws: &[u8], content_type: &str) -> Vec<u8> {
    multipart(&attach(statement, jws, content_type), jws, content_type)
}

/// A platform's way into the store.
struct Lrs<'a> {
    t: &'a TestApp,
    key: String,
}

impl Lrs<'_> {
    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        self.t
            .client
            .request(method, self.t.url(STATEMENTS))
            .bearer_auth(&self.key)
            .header("X-Experience-API-Version", "1.0.3")
    }

    /// POSTs a multipart/mixed body: the status, and the ids or the problem.
    async fn post(&self, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .request(reqwest::Method::POST)
            .header("content-type", MIXED)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        if status >= 400 {
            (status, problem(r).await)
        } else {
            (status, r.json().await.unwrap())
        }
    }

    async fn stored(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM xapi_statements")
            .fetch_one(self.t.db().pool())
            .await
            .unwrap()
    }
}

async fn lrs(t: &TestApp) -> Lrs<'_> {
    let tree = t.tree().await;
    let (_, key) = platform(t, &tree.city, "签名平台", json!({})).await;
    Lrs { t, key }
}

#[tokio::test]
async fn a_correctly_signed_statement_is_stored_and_comes_back_with_its_signature() {
    let t = TestApp::spawn().await;
    let lrs = lrs(&t).await;
    let signer = Signer::new();

    // RS256 with the certificate in x5c; the id is the one signed.
    let id = uuid();
    let statement = unsigned(&id);
    let first_jws = signer.sign(&statement, "RS256");
    let (status, ids) = lrs
        .post(with_signature(
            &statement,
            first_jws.as_bytes(),
            OCTET_STREAM,
        ))
        .await;
    assert_eq!(status, 200, "{ids}");
    assert_eq!(ids, json!([id]));

    // RS384 and RS512 too.
    for alg in ["RS384", "RS512"] {
        let s = unsigned(&uuid());
        let jws = signer.sign(&s, alg);
        let (status, body) = lrs
            .post(with_signature(&s, jws.as_bytes(), OCTET_STREAM))
            .await;
        assert_eq!(status, 200, "{alg}: {body}");
    }

    // As the conformance suite signs: a header with alg alone (nothing to verify the signature
    // with, so only its form is checked), the payload without timestamp, which the store then
    // sets; the statement's keys in another order than the payload's.
    let bare_id = uuid();
    let mut bare = unsigned(&bare_id);
    bare.as_object_mut().map(|o| o.remove("timestamp"));
    let jws = signer.jws(
        &json!({"alg": "RS256"}),
        bare.to_string().as_bytes(),
        "RS256",
    );
    let reordered: Value = serde_json::from_str(&format!(
        r#"{{"verb": {}, "object": {}, "result": {}, "actor": {}, "id": "{}"}}"#,
        bare["verb"],
        bare["object"],
        bare["result"],
        bare["actor"],
        bare_id.to_uppercase()
    ))
    .unwrap();
    let (status, body) = lrs
        .post(with_signature(&reordered, jws.as_bytes(), OCTET_STREAM))
        .await;
    assert_eq!(status, 200, "{body}");

    // PUT: a payload without id is signed for whatever id the statement is stored under.
    let put_id = uuid();
    let mut anonymous = unsigned(&put_id);
    anonymous.as_object_mut().map(|o| o.remove("id"));
    let jws = signer.sign(&anonymous, "RS256");
    let r = lrs
        .request(reqwest::Method::PUT)
        .query(&[("statementId", &put_id)])
        .header("content-type", MIXED)
        .body(with_signature(&anonymous, jws.as_bytes(), OCTET_STREAM))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(lrs.stored().await, 5);

    // Read back with attachments=true: the statement as sent (plus what the store adds), then
    // the JWS exactly as sent, as application/octet-stream with its hash.
    let r = lrs
        .request(reqwest::Method::GET)
        .query(&[("statementId", id.as_str()), ("attachments", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("multipart/mixed"),
        "{content_type}"
    );
    let parts = read_parts(&content_type, &r.bytes().await.unwrap());
    assert_eq!(parts.len(), 2);
    let back: Value = serde_json::from_slice(&parts[0].1).unwrap();
    assert_eq!(back["id"], id.as_str());
    assert_eq!(back["verb"], statement["verb"]);
    assert_eq!(back["attachments"][0]["usageType"], SIGNATURE);
    assert_eq!(
        back["attachments"][0]["sha2"],
        sha256_hex(first_jws.as_bytes())
    );
    let header = |name: &str| {
        parts[1]
            .0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), OCTET_STREAM);
    assert_eq!(
        header("x-experience-api-hash"),
        back["attachments"][0]["sha2"]
    );
    assert_eq!(parts[1].1, first_jws.as_bytes());
}

#[tokio::test]
async fn malformed_or_mismatched_signatures_are_refused_with_nothing_stored() {
    let t = TestApp::spawn().await;
    let lrs = lrs(&t).await;
    let signer = Signer::new();
    let stranger = Signer::new();
    let id = uuid();
    let statement = unsigned(&id);
    let payload = statement.to_string();
    let b64 = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
    let good = signer.sign(&statement, "RS256");
    let (good_input, good_signature) = good.rsplit_once('.').unwrap();

    // HS256, as the conformance suite sends it: an HMAC with the PEM of a key as its secret.
    let hs256 = {
        let input = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(payload.as_bytes()));
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(b"-----BEGIN RSA PRIVATE KEY-----").unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    };
    // The payload differs from the statement sent: another verb, or another id.
    let mut other_verb = statement.clone();
    other_verb["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/failed");
    let mut other_id = statement.clone();
    other_id["id"] = json!(uuid());
    // The signature of another key than x5c's; the signature altered.
    let by_stranger = stranger.jws(&signer.header("RS256"), payload.as_bytes(), "RS256");
    let mut altered = URL_SAFE_NO_PAD.decode(good_signature).unwrap();
    altered[10] ^= 1;
    let altered = format!("{good_input}.{}", b64(&altered));
    // An x5c whose entry is no certificate.
    let not_a_cert = signer.jws(
        &json!({"alg": "RS256", "x5c": [STANDARD.encode(b"not a certificate")]}),
        payload.as_bytes(),
        "RS256",
    );

    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("HS256", hs256, OCTET_STREAM, "RS256, RS384 or RS512"),
        (
            "alg none",
            format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(payload.as_bytes())),
            OCTET_STREAM,
            "RS256, RS384 or RS512",
        ),
        (
            "two parts",
            good_input.to_owned(),
            OCTET_STREAM,
            "compact serialization",
        ),
        (
            "header not JSON",
            format!(
                "{}.{}.{good_signature}",
                b64(b"alg=RS256"),
                b64(payload.as_bytes())
            ),
            OCTET_STREAM,
            "header is not a JSON object",
        ),
        (
            "JSON serialization",
            json!({"payload": b64(payload.as_bytes()), "signatures": []}).to_string(),
            OCTET_STREAM,
            "compact serialization",
        ),
        (
            "payload not JSON (the suite's breakJson)",
            signer.jws(
                &signer.header("RS256"),
                payload.replacen('"', "'", 1).as_bytes(),
                "RS256",
            ),
            OCTET_STREAM,
            "not a JSON statement",
        ),
        (
            "payload of another verb",
            signer.sign(&other_verb, "RS256"),
            OCTET_STREAM,
            "differs from the statement sent in verb",
        ),
        (
            "payload of another id",
            signer.sign(&other_id, "RS256"),
            OCTET_STREAM,
            "differs from the statement sent in id",
        ),
        (
            "signed by another key than x5c's",
            by_stranger,
            OCTET_STREAM,
            "does not verify",
        ),
        (
            "signature altered",
            altered,
            OCTET_STREAM,
            "does not verify",
        ),
        ("x5c not a certificate", not_a_cert, OCTET_STREAM, "x5c"),
        (
            "contentType text/plain",
            good.clone(),
            "text/plain; charset=ascii",
            "contentType",
        ),
    ];
    for (what, jws, content_type, says) in cases {
        let (status, problem) = lrs
            .post(with_signature(&statement, jws.as_bytes(), content_type))
            .await;
        assert_eq!(status, 400, "{what}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{what}: {problem}");
    }

    // A signature named only by fileUrl, its JWS not sent, cannot be verified.
    let mut by_url = attach(&statement, good.as_bytes(), OCTET_STREAM);
    by_url["attachments"][0]["fileUrl"] = json!("http://example.com/signature.jws");
    let r = lrs
        .request(reqwest::Method::POST)
        .json(&by_url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = problem(r).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not in the request"),
        "{body}"
    );

    // In a batch, one bad signature refuses the whole batch.
    let bad = signer.sign(&other_verb, "RS256");
    let batch = json!([
        unsigned(&uuid()),
        attach(&statement, bad.as_bytes(), OCTET_STREAM)
    ]);
    let batch_body = multipart(&batch, bad.as_bytes(), OCTET_STREAM);
    let (status, body) = lrs.post(batch_body).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("statements[1]: the signed statement (the JWS payload) differs"),
        "{body}"
    );

    assert_eq!(lrs.stored().await, 0);
    // The same statement correctly signed is then accepted: the refusals were the signatures'.
    let (status, body) = lrs
        .post(with_signature(&statement, good.as_bytes(), OCTET_STREAM))
        .await;
    assert_eq!(status, 200, "{body}");
}
