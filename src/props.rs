//! Shared set-up of the property tests (issue 15, "Hostile input"): every parser that takes
//! outside input has a `props` test module beside it, which feeds it arbitrary input and checks
//! that it never panics, that what it accepts keeps its invariants, and that it reads back what
//! Lectern writes.
//!
//! Why one place: the number of cases is chosen once, from `LECTERN_PROPTEST_CASES` (default
//! 256), so `cargo test --lib` stays fast while a long hunt is one command:
//! `LECTERN_PROPTEST_CASES=100000 cargo test --release --lib props`.

use proptest::prelude::*;

/// The cases each property runs: `LECTERN_PROPTEST_CASES`, or 256.
pub fn cases() -> u32 {
    std::env::var("LECTERN_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// The configuration of every property test. Failure persistence is off: the regressions a
/// property found are kept as ordinary unit tests beside the parser instead, where they say what
/// broke.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings a hostile client might send: any characters (NUL and control characters included),
/// or characters drawn mostly from `alphabet`, which a parser's grammar cares about, so that the
/// cases reach past its first check.
pub fn hostile(alphabet: &'static str, max_len: usize) -> BoxedStrategy<String> {
    let chars: Vec<char> = alphabet.chars().collect();
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..max_len)
            .prop_map(|v| v.into_iter().collect::<String>()),
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(chars),
                1 => any::<char>(),
            ],
            0..max_len
        )
        .prop_map(|v| v.into_iter().collect::<String>()),
    ]
    .boxed()
}

/// Decimal numbers of any size, from 0 to far past `u64::MAX`, with leading zeros at times.
pub fn number() -> BoxedStrategy<String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..1000).prop_map(|n| n.to_string()),
        "[0-9]{1,40}",
    ]
    .boxed()
}
