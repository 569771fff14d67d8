//! Learning records: which stretches of a lesson a member has played, how much of the lesson
//! that covers, and when it counts as learned. Pure rules; the records live in `db::learning`.
//!
//! A lesson is learned by coverage, not by reaching its end: the member must have played at
//! least an organisation's share of it (90 % unless the organisation sets another). Skipping to
//! the end covers only what was played.

/// A stretch of a lesson that was played: `[start, end)`, milliseconds from its beginning.
pub type Span = (i64, i64);

/// The longest lesson (a day), in milliseconds.
pub const MAX_MS: i64 = 86_400_000;

/// At most this many stretches in one report.
pub const MAX_SPANS: usize = 200;

/// The share of a lesson that must be played for it to count as learned, unless the lesson's
/// organisation sets another.
pub const DEFAULT_COMPLETION_PERCENT: i64 = 90;

/// The fastest playback a player offers: a report may add at most this many milliseconds of
/// lesson per millisecond since the one before.
pub const MAX_RATE: i64 = 2;

/// What a record may add at first, before any time has passed: the first report of a visit,
/// and reports that the network held back.
pub const SLACK_MS: i64 = 60_000;

/// The longest gap between two reports that still counts as time to play in: a player reports
/// every 15 s while playing, so a longer gap is a new visit.
pub const MAX_GAP_MS: i64 = 10 * 60_000;

/// `spans` sorted, with overlapping and touching stretches joined; empty ones dropped.
pub fn merge(spans: impl IntoIterator<Item = Span>) -> Vec<Span> {
    let mut all: Vec<Span> = spans.into_iter().filter(|(a, b)| a < b).collect();
    all.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(all.len());
    for (a, b) in all {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// How many milliseconds merged `spans` cover.
pub fn covered(spans: &[Span]) -> i64 {
    spans.iter().map(|(a, b)| b - a).sum()
}

/// The most a record may hold in credit: what a visit after a long pause may add at once.
pub const MAX_CREDIT_MS: i64 = MAX_GAP_MS * MAX_RATE + SLACK_MS;

/// How much a report may add, in milliseconds of lesson: the record's credit (`SLACK_MS` for a
/// new one) grown by `MAX_RATE` times the time since the report before, at most
/// `MAX_CREDIT_MS`. What the report adds is taken from it, so many reports in quick succession
/// add no more than one: the time to play is the bound, however the reports are cut.
pub fn budget(credit_ms: i64, since_last_ms: i64) -> i64 {
    (credit_ms.max(0) + since_last_ms.clamp(0, MAX_GAP_MS) * MAX_RATE).min(MAX_CREDIT_MS)
}

/// `new` cut to at most `budget` milliseconds, keeping the earliest stretches whole and the
/// start of the first that does not fit.
pub fn within(new: &[Span], budget: i64) -> Vec<Span> {
    let mut left = budget.max(0);
    let mut out = Vec::new();
    for &(a, b) in new {
        if left == 0 {
            break;
        }
        let end = b.min(a + left);
        out.push((a, end));
        left -= end - a;
    }
    out
}

/// Whether `covered` milliseconds of a lesson `duration_ms` long make it learned at `percent`.
pub fn complete(covered: i64, duration_ms: Option<i64>, percent: i64) -> bool {
    duration_ms.is_some_and(|d| d > 0 && covered.saturating_mul(100) >= d.saturating_mul(percent))
}

/// The share of the lesson covered, 0–100 (0 while its length is unknown).
pub fn percent(covered: i64, duration_ms: Option<i64>) -> i64 {
    match duration_ms {
        Some(d) if d > 0 => (covered.saturating_mul(100) / d).clamp(0, 100),
        _ => 0,
    }
}

/// The quarter (1–4) of a day written `YYYY-MM-DD`.
pub fn quarter_of(day: &str) -> Option<(i32, u8)> {
    let year: i32 = day.get(0..4)?.parse().ok()?;
    let month: u8 = day.get(5..7)?.parse().ok()?;
    (1..=12)
        .contains(&month)
        .then_some((year, (month - 1) / 3 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_merge_overlapping_and_touching_ones() {
        assert_eq!(
            merge([(50, 60), (0, 10), (10, 20), (15, 30), (40, 40), (70, 65)]),
            vec![(0, 30), (50, 60)]
        );
        assert_eq!(covered(&merge([(0, 10), (5, 15), (100, 110)])), 25);
    }

    #[test]
    fn skipping_to_the_end_covers_only_what_was_played() {
        let duration = Some(600_000);
        // Ten seconds at the start, then the last ten: the end is reached, little is covered.
        let played = merge([(0, 10_000), (590_000, 600_000)]);
        assert!(!complete(covered(&played), duration, 90));
        assert_eq!(percent(covered(&played), duration), 3);
        // Everything but the last 5 %: learned at 90 %, not at 100 %.
        let played = merge([(0, 570_000)]);
        assert!(complete(covered(&played), duration, 90));
        assert!(!complete(covered(&played), duration, 100));
        assert!(!complete(600_000, None, 90), "a length not yet known");
    }

    #[test]
    fn a_report_adds_no_more_than_twice_the_time_since_the_last() {
        assert_eq!(budget(SLACK_MS, 0), SLACK_MS);
        assert_eq!(budget(0, 15_000), 30_000);
        assert_eq!(budget(SLACK_MS, 86_400_000), MAX_CREDIT_MS);
        assert_eq!(budget(10_000, -5), 10_000, "a clock that went back");
        assert_eq!(budget(-5, 0), 0);
        assert_eq!(
            within(&[(0, 40_000), (100_000, 200_000)], 60_000),
            vec![(0, 40_000), (100_000, 120_000)]
        );
        assert_eq!(within(&[(0, 40_000)], 0), vec![]);
    }

    #[test]
    fn days_and_quarters_are_chinas() {
        // 2026-03-31 17:00 UTC is 2026-04-01 01:00 in Beijing: the second quarter.
        let ms = 1_774_976_400_000;
        assert_eq!(crate::domain::time::china_day(ms), "2026-04-01");
        assert_eq!(quarter_of("2026-04-01"), Some((2026, 2)));
        assert_eq!(quarter_of("2026-12-31"), Some((2026, 4)));
        assert_eq!(quarter_of("2026-13-01"), None);
    }
}
