//! HTTP byte ranges (RFC 9110 §14): parsing a `Range` header against a known length.

/// An inclusive byte range within a representation of known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// How many bytes the range covers (never zero: `end` is inclusive).
    pub fn byte_count(self) -> u64 {
        self.end - self.start + 1
    }
}

/// What a `Range` header asks of a representation of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send the whole representation with 200. This covers an absent header,
    /// a header that does not parse (RFC 9110 says to ignore it) and other units than bytes.
    Full,
    /// Several ranges: served whole with 200, which RFC 9110 permits.
    Multiple,
    /// One satisfiable range: 206.
    Single(ByteRange),
    /// Nothing asked for lies within the representation: 416.
    Unsatisfiable,
}

/// Parses `header` (the value of `Range`) against a representation of `len` bytes.
pub fn parse(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    let mut resolved = Vec::with_capacity(parts.len());
    for part in &parts {
        match resolve(part, len) {
            Some(r) => resolved.push(r),
            None => return RangeRequest::Full,
        }
    }
    let satisfiable: Vec<ByteRange> = resolved.into_iter().flatten().collect();
    match (parts.len(), satisfiable.as_slice()) {
        (_, []) => RangeRequest::Unsatisfiable,
        (1, [one]) => RangeRequest::Single(*one),
        _ => RangeRequest::Multiple,
    }
}

/// Resolves one range spec: `None` when it does not parse, `Some(None)` when it parses but lies
/// outside the representation.
fn resolve(part: &str, len: u64) -> Option<Option<ByteRange>> {
    let (first, last) = part.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        if !digits(last) {
            return None;
        }
        let n: u64 = last.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(None);
        }
        return Some(Some(ByteRange {
            start: len.saturating_sub(n),
            end: len - 1,
        }));
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return None;
    }
    let start: u64 = first.parse().ok()?;
    let end: Option<u64> = if last.is_empty() {
        None
    } else {
        Some(last.parse().ok()?)
    };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    if start >= len {
        return Some(None);
    }
    let end = end.map_or(len - 1, |e| e.min(len - 1));
    Some(Some(ByteRange { start, end }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(start: u64, end: u64) -> RangeRequest {
        RangeRequest::Single(ByteRange { start, end })
    }

    #[test]
    fn single_ranges_resolve() {
        assert_eq!(parse(Some("bytes=0-0"), 10), single(0, 0));
        assert_eq!(parse(Some("bytes=9-9"), 10), single(9, 9));
        assert_eq!(parse(Some("bytes=5-"), 10), single(5, 9));
        assert_eq!(parse(Some("bytes=-3"), 10), single(7, 9));
        assert_eq!(parse(Some("bytes=-30"), 10), single(0, 9));
        assert_eq!(parse(Some("bytes=2-100"), 10), single(2, 9));
    }

    #[test]
    fn unsatisfiable_and_invalid_ranges() {
        assert_eq!(parse(Some("bytes=10-"), 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-0"), 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=5-2"), 10), RangeRequest::Full);
        assert_eq!(parse(Some("items=0-1"), 10), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=a-b"), 10), RangeRequest::Full);
        assert_eq!(parse(None, 10), RangeRequest::Full);
    }

    #[test]
    fn several_ranges_are_served_whole() {
        assert_eq!(parse(Some("bytes=0-1, 4-5"), 10), RangeRequest::Multiple);
        assert_eq!(
            parse(Some("bytes=20-30, 40-50"), 10),
            RangeRequest::Unsatisfiable
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile, number};
    use proptest::prelude::*;

    /// A `Range` value close to the grammar: a unit, then specs of numbers, hyphens, commas and
    /// spaces, so most cases get past `bytes=`.
    fn range_header() -> impl Strategy<Value = String> {
        let spec = prop_oneof![
            (number(), number()).prop_map(|(a, b)| format!("{a}-{b}")),
            number().prop_map(|a| format!("{a}-")),
            number().prop_map(|b| format!("-{b}")),
            hostile("0123456789-, ", 12),
        ];
        (
            prop_oneof![Just("bytes="), Just(" bytes="), Just("Bytes="), Just("")],
            proptest::collection::vec(spec, 0..4),
        )
            .prop_map(|(unit, specs)| format!("{unit}{}", specs.join(",")))
    }

    fn length() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..100, any::<u64>(), Just(u64::MAX)]
    }

    proptest! {
        #![proptest_config(config())]

        /// Whatever the header, a single range lies within the representation and is not empty,
        /// so `Content-Range` and the bytes sent always agree with the length.
        #[test]
        fn props_range_single_lies_within_the_length(
            h in prop_oneof![range_header(), hostile("bytes=0123456789-,", 40)],
            len in length(),
        ) {
            if let RangeRequest::Single(r) = parse(Some(&h), len) {
                prop_assert!(r.start <= r.end);
                prop_assert!(r.end < len);
                prop_assert!(r.byte_count() >= 1 && r.byte_count() <= len);
            }
        }

        /// A range Lectern would write (`bytes=start-end` as in `Content-Range`) reads back as
        /// itself, clamped to the length.
        #[test]
        fn props_range_formatted_range_reads_back(
            len in 1u64..=u64::MAX,
            a in any::<u64>(),
            b in any::<u64>(),
        ) {
            let (start, end) = (a.min(b) % len, a.max(b));
            let header = format!("bytes={start}-{end}");
            prop_assert_eq!(
                parse(Some(&header), len),
                RangeRequest::Single(ByteRange { start, end: end.min(len - 1) })
            );
            let suffix = format!("bytes=-{}", a.max(1));
            let got = parse(Some(&suffix), len);
            prop_assert_eq!(
                got,
                RangeRequest::Single(ByteRange { start: len.saturating_sub(a.max(1)), end: len - 1 })
            );
        }

    }
}
