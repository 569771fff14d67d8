//! Instants as the wire and the logs show them. Lectern keeps time as Unix milliseconds (UTC)
//! everywhere below the edges; this is the one conversion to text, shared by the JSON API, the
//! feeds, webhooks and the command line.

/// Unix milliseconds as RFC 3339 in UTC (`2026-01-02T03:04:05.006Z`); an instant outside what
/// RFC 3339 can write (never stored by Lectern) reads as the Unix epoch rather than failing.
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Unix milliseconds as the pages show them to people in mainland China: China Standard Time
/// (UTC+8, no daylight saving), to the second (`2026-01-02 11:04:05`).
pub fn china_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(time::macros::offset!(+8));
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

/// The day (`YYYY-MM-DD`) a moment falls on in China Standard Time, where lessons are dated and
/// learned.
pub fn china_day(ms: i64) -> String {
    let t = china_time(ms);
    t.get(..10).unwrap_or(&t).to_owned()
}

#[cfg(test)]
mod tests {
    use super::{china_time, rfc3339};

    #[test]
    fn pages_show_china_standard_time() {
        assert_eq!(china_time(1_767_323_045_006), "2026-01-02 11:04:05");
        assert_eq!(china_time(1_767_286_800_000), "2026-01-02 01:00:00");
    }

    #[test]
    fn milliseconds_are_written_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_323_045_006), "2026-01-02T03:04:05.006Z");
    }
}
