//! Names of China's administrative divisions (GB/T 2260): provinces, prefecture-level cities and
//! county-level divisions, keyed by their six-digit codes.
//!
//! The table is `gbt2260.tsv` beside this file (not under `data/`, the runtime data directory,
//! which git ignores), embedded in the binary and parsed once on first use. Codes
//! are hierarchical: `44` is the province, `4401` the prefecture and `440106` the county-level
//! division, each padded with zeros to six digits (`440000`, `440100`, `440106`).
//!
//! Invariant: the functions here never fail on odd input; a code that is not six ASCII digits,
//! or not in the table, simply has no name.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The embedded table: one `code<TAB>name` line per division, `#` lines are comments.
const TABLE: &str = include_str!("gbt2260.tsv");

/// Names that stand for a grouping rather than a place (the districts of a municipality, the
/// county-level cities a province governs directly). They have codes, but are left out of a
/// lineage because "北京市 › 市辖区 › 东城区" says nothing "北京市 › 东城区" does not.
const PLACEHOLDERS: &[&str] = &[
    "市辖区",
    "县",
    "省直辖县级行政区划",
    "自治区直辖县级行政区划",
];

static NAMES: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    TABLE
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .map(|(code, name)| (code.trim(), name.trim()))
        .filter(|(code, name)| is_code(code) && !name.is_empty())
        .collect()
});

fn is_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The name of the division with this six-digit code, e.g. `"440106"` → `"天河区"`. Grouping
/// entries such as `"110100"` (`"市辖区"`) have names too.
pub fn name(code: &str) -> Option<&'static str> {
    NAMES.get(code).copied()
}

/// The division and the divisions above it, top first:
/// `"440106"` → `[("440000", "广东省"), ("440100", "广州市"), ("440106", "天河区")]`.
///
/// Levels missing from the table and grouping entries (`市辖区`, `省直辖县级行政区划`, …) are
/// skipped, so a district of Beijing gives `[("110000", "北京市"), ("110101", "东城区")]`. An
/// unknown or malformed code gives an empty list.
pub fn lineage(code: &str) -> Vec<(&'static str, &'static str)> {
    if !is_code(code) {
        return Vec::new();
    }
    // The code is six ASCII digits, so these byte slices fall on character boundaries.
    let candidates = [
        format!("{}0000", &code[..2]),
        format!("{}00", &code[..4]),
        code.to_owned(),
    ];
    let mut lineage: Vec<(&'static str, &'static str)> = Vec::with_capacity(3);
    for candidate in &candidates {
        let Some((&code, &name)) = NAMES.get_key_value(candidate.as_str()) else {
            continue;
        };
        if PLACEHOLDERS.contains(&name) || lineage.iter().any(|(seen, _)| *seen == code) {
            continue;
        }
        lineage.push((code, name));
    }
    lineage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_all_three_levels() {
        assert!(NAMES.len() > 3000, "only {} divisions", NAMES.len());
        let provinces = NAMES.keys().filter(|c| c.ends_with("0000")).count();
        assert!((31..=34).contains(&provinces), "{provinces} provinces");
        assert!(NAMES.keys().all(|c| is_code(c)));
    }

    #[test]
    fn names_districts_cities_and_provinces() {
        assert_eq!(name("440106"), Some("天河区"));
        assert_eq!(name("440100"), Some("广州市"));
        assert_eq!(name("440000"), Some("广东省"));
        assert_eq!(name("110000"), Some("北京市"));
        assert_eq!(name("110100"), Some("市辖区"));
    }

    #[test]
    fn unknown_and_malformed_codes_have_no_name() {
        assert_eq!(name("999999"), None);
        assert_eq!(name(""), None);
        assert_eq!(name("4401"), None);
        assert_eq!(name("44010６"), None);
        assert!(lineage("999999").is_empty());
        assert!(lineage("44").is_empty());
        assert!(lineage("4401060").is_empty());
        assert!(lineage("天河区天河").is_empty());
    }

    #[test]
    fn lineage_of_a_district_goes_province_city_district() {
        assert_eq!(
            lineage("440106"),
            vec![
                ("440000", "广东省"),
                ("440100", "广州市"),
                ("440106", "天河区")
            ]
        );
    }

    #[test]
    fn lineage_of_a_city_and_of_a_province() {
        assert_eq!(
            lineage("440100"),
            vec![("440000", "广东省"), ("440100", "广州市")]
        );
        assert_eq!(lineage("440000"), vec![("440000", "广东省")]);
    }

    #[test]
    fn lineage_in_a_municipality_skips_the_grouping_level() {
        assert_eq!(
            lineage("110101"),
            vec![("110000", "北京市"), ("110101", "东城区")]
        );
        assert_eq!(lineage("110100"), vec![("110000", "北京市")]);
    }

    #[test]
    fn lineage_of_a_county_governed_by_the_province_skips_the_grouping_level() {
        // 济源市 is a county-level city governed directly by Henan (4190 省直辖县级行政区划).
        assert_eq!(
            lineage("419001"),
            vec![("410000", "河南省"), ("419001", "济源市")]
        );
    }

    #[test]
    fn lineage_of_a_city_without_districts_is_not_repeated() {
        // 东莞市 has no county level: its code is listed once, as a prefecture.
        assert_eq!(
            lineage("441900"),
            vec![("440000", "广东省"), ("441900", "东莞市")]
        );
    }

    #[test]
    fn lineage_skips_levels_missing_from_the_table() {
        // A made-up district under a real province and an unknown prefecture.
        assert_eq!(lineage("449901"), vec![("440000", "广东省")]);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        /// Any code, six digits or not (multi-byte characters included, which would break a
        /// byte slice taken before the check): a name only for six ASCII digits, and a lineage
        /// of known codes, top first, ending at the code itself when it has a name.
        #[test]
        fn props_region_codes_never_panic(code in prop_oneof![
            "[0-9]{6}",
            "[1-6][0-9]0[0-9]{3}",
            hostile("0123456789０１２３天", 8),
        ]) {
            let named = name(&code);
            if named.is_some() {
                prop_assert!(is_code(&code));
            }
            let line = lineage(&code);
            for (c, n) in &line {
                prop_assert_eq!(name(c), Some(*n));
                prop_assert!(code.starts_with(c.trim_end_matches("00").trim_end_matches("00")));
            }
            if !is_code(&code) {
                prop_assert!(line.is_empty());
            }
        }
    }
}
