//! `multipart/mixed` bodies (RFC 2046 section 5.1), as the learning record store takes and answers
//! statements with their attachments' data (xAPI 1.0.3 Communication 1.5.2). Reading is lenient
//! about line ends (CRLF, or LF alone, as some clients write them) and strict about structure:
//! the body must open with the boundary, every part must be closed by it, and the last boundary
//! must be the closing one.

use axum::body::Bytes;

/// One part: its headers (names lowercase) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Part {
    /// A header's value, by its lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The `boundary` parameter of a `multipart/mixed` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let b = value.trim().trim_matches('"');
        // RFC 2046: 1 to 70 characters.
        (!b.is_empty() && b.len() <= 70).then(|| b.to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The end of the line starting at `at` (just past its LF), when it holds only whitespace.
fn line_end(body: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    while let Some(&c) = body.get(i) {
        match c {
            b'\n' => return Some(i + 1),
            b' ' | b'\t' | b'\r' => i += 1,
            _ => return None,
        }
    }
    None
}

/// The parts of `body` delimited by `boundary`.
pub fn parse(body: &Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let opening = if body.starts_with(delimiter) {
        0
    } else {
        return Err("the body does not open with the boundary of its Content-Type".to_owned());
    };
    let mut at = opening + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            if parts.is_empty() {
                return Err("the body has no part".to_owned());
            }
            return Ok(parts);
        }
        let start = line_end(body, at).ok_or("a boundary line has more than the boundary")?;
        let mut next_line = Vec::with_capacity(delimiter.len() + 1);
        next_line.push(b'\n');
        next_line.extend_from_slice(delimiter);
        let end = find(body, &next_line, start)
            .ok_or("a part is not closed by the boundary (the closing boundary is missing)")?;
        let mut content_end = end;
        if content_end > start && body[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        parts.push(part(body.slice(start..content_end.max(start)))?);
        at = end + next_line.len();
    }
}

/// A part's headers and body (split at the first empty line).
fn part(raw: Bytes) -> Result<Part, String> {
    let (head_end, body_start) = if raw.starts_with(b"\r\n") {
        (0, 2)
    } else if raw.starts_with(b"\n") {
        (0, 1)
    } else {
        match (find(&raw, b"\r\n\r\n", 0), find(&raw, b"\n\n", 0)) {
            (Some(a), Some(b)) if b + 1 < a => (b, b + 2),
            (Some(a), _) => (a, a + 4),
            (None, Some(b)) => (b, b + 2),
            (None, None) => return Err("a part has no empty line after its headers".to_owned()),
        }
    };
    let head = std::str::from_utf8(&raw[..head_end])
        .map_err(|_| "a part's headers are not UTF-8".to_owned())?;
    let mut headers = Vec::new();
    for line in head.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("a part's header line {line:?} is not Name: value"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Part {
        headers,
        body: raw.slice(body_start..),
    })
}

/// A `multipart/mixed` body of `parts` (headers, bytes) with a fresh boundary: the content type
/// and the bytes.
pub fn write(parts: &[(Vec<(&str, String)>, Bytes)]) -> (String, Vec<u8>) {
    let boundary = format!("lectern-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    for (headers, body) in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        for (name, value) in headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/mixed; boundary={boundary}"), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_read_with_crlf_or_lf_line_ends() {
        for nl in ["\r\n", "\n"] {
            let body = format!(
                "--b{nl}Content-Type: application/json{nl}{nl}{{}}{nl}--b{nl}\
                 X-Experience-API-Hash: ab{nl}Content-Transfer-Encoding: binary{nl}{nl}\
                 line one{nl}line two{nl}--b--{nl}"
            );
            let parts = parse(&Bytes::from(body), "b").unwrap();
            assert_eq!(parts.len(), 2);
            assert_eq!(parts[0].header("content-type"), Some("application/json"));
            assert_eq!(&parts[0].body[..], b"{}");
            assert_eq!(parts[1].header("x-experience-api-hash"), Some("ab"));
            assert_eq!(parts[1].body, Bytes::from(format!("line one{nl}line two")));
        }
    }

    #[test]
    fn broken_bodies_are_refused() {
        for bad in [
            "Content-Type: application/json\r\n\r\n{}\r\n--b--\r\n",
            "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n",
            "--b--\r\n",
            "--b\r\nno colon\r\n\r\n{}\r\n--b--\r\n",
        ] {
            assert!(parse(&Bytes::from(bad), "b").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn what_is_written_is_read_back() {
        let (content_type, body) = write(&[
            (
                vec![("Content-Type", "application/json".to_owned())],
                Bytes::from_static(b"[]"),
            ),
            (vec![], Bytes::from_static(b"\r\n--x\r\n")),
        ]);
        let b = boundary(&content_type).unwrap();
        let parts = parse(&Bytes::from(body), &b).unwrap();
        assert_eq!(&parts[1].body[..], b"\r\n--x\r\n");
        assert_eq!(
            boundary("multipart/mixed; boundary=\"a b\""),
            Some("a b".into())
        );
        assert_eq!(boundary("multipart/mixed;"), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile};
    use proptest::prelude::*;

    /// Bytes near the grammar: boundaries (closing or not), headers, blank lines and bare LF
    /// or CR, so most cases get past the opening boundary.
    fn body(boundary: &'static str) -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(format!("--{boundary}")),
            Just(format!("--{boundary}--")),
            Just("\r\n".to_owned()),
            Just("\n".to_owned()),
            Just("\r".to_owned()),
            Just("Content-Type: application/json".to_owned()),
            hostile("-:ab \r\n", 12),
        ];
        prop_oneof![
            proptest::collection::vec(piece, 0..16).prop_map(|p| p.concat().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..200),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        /// Any body and boundary: refused, or at least one part whose bytes are a slice of the
        /// body, with lowercase header names.
        #[test]
        fn props_multipart_parse_never_panics(
            b in body("b"),
            boundary in prop_oneof![Just("b".to_owned()), hostile("b-", 4)],
        ) {
            let bytes = Bytes::from(b);
            if let Ok(parts) = parse(&bytes, &boundary) {
                prop_assert!(!parts.is_empty());
                for p in &parts {
                    prop_assert!(p.body.len() <= bytes.len());
                    for (name, _) in &p.headers {
                        prop_assert_eq!(name, &name.to_ascii_lowercase());
                    }
                }
            }
        }

        /// What [`write`] makes, [`boundary`] and [`parse`] read back as the same parts.
        #[test]
        fn props_multipart_round_trips(
            parts in proptest::collection::vec(
                (
                    proptest::collection::vec(("[a-z][a-z-]{0,10}", "[!-~]([ -~]{0,20}[!-~])?"), 0..3),
                    proptest::collection::vec(any::<u8>(), 0..100),
                ),
                1..4,
            ),
        ) {
            let input: Vec<(Vec<(&str, String)>, Bytes)> = parts
                .iter()
                .map(|(h, b)| (h.iter().map(|(n, v)| (n.as_str(), v.clone())).collect(), Bytes::from(b.clone())))
                .collect();
            let (content_type, bytes) = write(&input);
            let boundary = boundary(&content_type).unwrap();
            let got = parse(&Bytes::from(bytes), &boundary).unwrap();
            prop_assert_eq!(got.len(), input.len());
            for (g, (h, b)) in got.iter().zip(&input) {
                let want: Vec<(String, String)> = h.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
                prop_assert_eq!(&g.headers, &want);
                prop_assert_eq!(&g.body, b);
            }
        }
    }
}
