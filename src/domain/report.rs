//! Organisation reports: the quarter they cover (in China time, where members learn), and the
//! figures a report is made of. The figures are summed from the summary the job runner keeps
//! (`db::reports`); the rules of what counts are here.

use std::fmt;

/// A quarter of a year, `2026-Q2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i32,
    /// 1–4.
    pub q: u8,
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-Q{}", self.year, self.q)
    }
}

impl Quarter {
    /// `2026-Q2` (also `2026q2`); the years Lectern can hold.
    pub fn parse(s: &str) -> Result<Self, super::Invalid> {
        let bad = || super::Invalid::new("quarter", "must be a quarter such as 2026-Q2");
        let (y, q) = s
            .split_once(['Q', 'q'])
            .map(|(y, q)| (y.trim_end_matches('-'), q))
            .ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let q: u8 = q.parse().map_err(|_| bad())?;
        if !(2000..=2100).contains(&year) || !(1..=4).contains(&q) || y.len() != 4 {
            return Err(bad());
        }
        Ok(Self { year, q })
    }

    /// The quarter of a moment, in China.
    pub fn of_ms(ms: i64) -> Self {
        let day = super::time::china_day(ms);
        let (year, q) = super::learning::quarter_of(&day).unwrap_or((1970, 1));
        Self { year, q }
    }

    /// Its first and last day, `YYYY-MM-DD`.
    pub fn days(self) -> (String, String) {
        let first = (self.q - 1) * 3 + 1;
        let last = first + 2;
        let end = match last {
            3 | 12 => 31,
            _ => 30,
        };
        (
            format!("{:04}-{first:02}-01", self.year),
            format!("{:04}-{last:02}-{end:02}", self.year),
        )
    }

    /// Its first moment and the first moment of the next quarter (Unix ms, China midnight).
    pub fn span_ms(self) -> (i64, i64) {
        (self.start_ms(), self.next().start_ms())
    }

    fn start_ms(self) -> i64 {
        let month = time::Month::try_from((self.q - 1) * 3 + 1).unwrap_or(time::Month::January);
        time::Date::from_calendar_date(self.year, month, 1)
            .map(|d| {
                d.midnight()
                    .assume_offset(time::macros::offset!(+8))
                    .unix_timestamp()
                    * 1000
            })
            .unwrap_or(0)
    }

    pub fn next(self) -> Self {
        if self.q == 4 {
            Self {
                year: self.year + 1,
                q: 1,
            }
        } else {
            Self {
                year: self.year,
                q: self.q + 1,
            }
        }
    }

    pub fn previous(self) -> Self {
        if self.q == 1 {
            Self {
                year: self.year - 1,
                q: 4,
            }
        } else {
            Self {
                year: self.year,
                q: self.q - 1,
            }
        }
    }

    /// `2026年第2季度`.
    pub fn label_zh(self) -> String {
        format!("{}年第{}季度", self.year, self.q)
    }

    /// `2026 Q2`.
    pub fn label_en(self) -> String {
        format!("{} Q{}", self.year, self.q)
    }
}

/// What a report covers: a quarter, or any run of whole days (China time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Quarter(Quarter),
    /// From the first day to the last, both included.
    Days {
        first: time::Date,
        last: time::Date,
    },
}

impl From<Quarter> for Period {
    fn from(q: Quarter) -> Self {
        Self::Quarter(q)
    }
}

/// The most days a report of days covers.
pub const MAX_DAYS: i64 = 366;

const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Quarter(q) => q.fmt(f),
            Self::Days { first, last } => write!(f, "{}--{}", day(*first), day(*last)),
        }
    }
}

fn day(d: time::Date) -> String {
    d.format(DAY).unwrap_or_default()
}

fn china_midnight(d: time::Date) -> i64 {
    d.midnight()
        .assume_offset(time::macros::offset!(+8))
        .unix_timestamp()
        * 1000
}

impl Period {
    /// A quarter (`2026-Q2`) or a run of days (`2026-01-01--2026-03-15`, ISO 8601's interval
    /// with its double hyphen, which fits in a URL path), at most [`MAX_DAYS`].
    pub fn parse(s: &str) -> Result<Self, super::Invalid> {
        let Some((a, b)) = s.split_once("--") else {
            return Quarter::parse(s).map(Self::Quarter).map_err(|_| {
                super::Invalid::new(
                    "period",
                    "must be a quarter such as 2026-Q2 or days such as 2026-01-01--2026-03-31",
                )
            });
        };
        let date = |x: &str| {
            time::Date::parse(x, DAY)
                .ok()
                .filter(|d| (2000..=2100).contains(&d.year()))
                .ok_or_else(|| {
                    super::Invalid::new("period", "each day must be a date such as 2026-01-01")
                })
        };
        let (first, last) = (date(a)?, date(b)?);
        if last < first {
            return Err(super::Invalid::new(
                "period",
                "the last day must not come before the first",
            ));
        }
        if (last - first).whole_days() + 1 > MAX_DAYS {
            return Err(super::Invalid::new(
                "period",
                format!("at most {MAX_DAYS} days"),
            ));
        }
        Ok(Self::Days { first, last })
    }

    /// The quarter, when it is one.
    pub fn quarter(self) -> Option<Quarter> {
        match self {
            Self::Quarter(q) => Some(q),
            Self::Days { .. } => None,
        }
    }

    /// Its first and last day, `YYYY-MM-DD`.
    pub fn days(self) -> (String, String) {
        match self {
            Self::Quarter(q) => q.days(),
            Self::Days { first, last } => (day(first), day(last)),
        }
    }

    /// Its first moment and the first moment after it (Unix ms, China midnight).
    pub fn span_ms(self) -> (i64, i64) {
        match self {
            Self::Quarter(q) => q.span_ms(),
            Self::Days { first, last } => (
                china_midnight(first),
                last.next_day().map_or(i64::MAX, china_midnight),
            ),
        }
    }

    /// `2026 Q2`, `2026-01-01 to 2026-03-15`.
    pub fn label_en(self) -> String {
        match self {
            Self::Quarter(q) => q.label_en(),
            Self::Days { first, last } => format!("{first} to {last}"),
        }
    }

    /// `2026年第2季度`, `2026年1月1日至2026年3月15日`.
    pub fn label_zh(self) -> String {
        match self {
            Self::Quarter(q) => q.label_zh(),
            Self::Days { first, last } => format!(
                "{}年{}月{}日至{}年{}月{}日",
                first.year(),
                u8::from(first.month()),
                first.day(),
                last.year(),
                u8::from(last.month()),
                last.day()
            ),
        }
    }
}

/// The figures of one part of a report (the whole subtree, a branch, a channel, a series).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Members (accounts with the member role) in it; for channels and series, those who learned there.
    pub members: i64,
    /// Members who learned anything in the period.
    pub active: i64,
    /// Lessons completed in the period.
    pub completed: i64,
    /// Time spent learning, milliseconds.
    pub time_ms: i64,
}

impl Figures {
    /// Active members as a share of members, whole percent (0 when there are none).
    pub fn active_percent(&self) -> i64 {
        if self.members <= 0 {
            0
        } else {
            (self.active * 100 + self.members / 2) / self.members
        }
    }

    /// Hours, to one decimal.
    pub fn hours(&self) -> f64 {
        (self.time_ms as f64 / 360_000.0).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_quarters_or_runs_of_days() {
        let q = Period::parse("2026-Q2").unwrap();
        assert_eq!(q.quarter(), Some(Quarter::parse("2026-Q2").unwrap()));
        assert_eq!(q.to_string(), "2026-Q2");
        let d = Period::parse("2026-01-01--2026-03-15").unwrap();
        assert_eq!(d.quarter(), None);
        assert_eq!(d.to_string(), "2026-01-01--2026-03-15");
        assert_eq!(Period::parse(&d.to_string()).unwrap(), d);
        assert_eq!(d.days(), ("2026-01-01".into(), "2026-03-15".into()));
        assert_eq!(d.label_zh(), "2026年1月1日至2026年3月15日");
        assert_eq!(d.label_en(), "2026-01-01 to 2026-03-15");
        assert_eq!(q.label_en(), "2026 Q2");
        // China midnight of 1 January to China midnight of 16 March.
        let (from, until) = d.span_ms();
        assert_eq!(crate::domain::time::china_day(from), "2026-01-01");
        assert_eq!(crate::domain::time::china_day(from - 1), "2025-12-31");
        assert_eq!(crate::domain::time::china_day(until - 1), "2026-03-15");
        assert_eq!(crate::domain::time::china_day(until), "2026-03-16");
        // One day; a whole (leap) year; the quarter's days give the quarter's moments.
        assert!(Period::parse("2026-03-01--2026-03-01").is_ok());
        assert!(Period::parse("2028-01-01--2028-12-31").is_ok());
        let q2 = Period::parse("2026-04-01--2026-06-30").unwrap();
        assert_eq!(q2.span_ms(), q.span_ms());
        for bad in [
            "2026-03-02--2026-03-01",
            "2026-01-01--2027-01-02",
            "2026-02-30--2026-03-01",
            "1999-12-31--2000-01-01",
            "2026-01-01--",
            "--2026-01-01",
            "2026-1-1--2026-2-1",
            "2026-Q5",
            "",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quarters_parse_print_and_span_china_days() {
        let q = Quarter::parse("2026-Q2").unwrap();
        assert_eq!(q, Quarter { year: 2026, q: 2 });
        assert_eq!(q.to_string(), "2026-Q2");
        assert_eq!(Quarter::parse("2026q4").unwrap().q, 4);
        for bad in [
            "", "2026", "2026-Q5", "2026-Q0", "26-Q1", "x-Q1", "2026-Q1x",
        ] {
            assert!(Quarter::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(q.days(), ("2026-04-01".into(), "2026-06-30".into()));
        assert_eq!(
            Quarter { year: 2026, q: 4 }.days(),
            ("2026-10-01".into(), "2026-12-31".into())
        );
        assert_eq!(
            Quarter { year: 2026, q: 1 }.days(),
            ("2026-01-01".into(), "2026-03-31".into())
        );
        // 2026-04-01 00:00 in China is 2026-03-31 16:00 UTC.
        assert_eq!(q.span_ms().0, 1_774_972_800_000);
        assert_eq!(Quarter::of_ms(1_774_972_800_000), q);
        assert_eq!(Quarter::of_ms(1_774_972_799_999), q.previous());
        assert_eq!(
            Quarter { year: 2026, q: 4 }.next(),
            Quarter { year: 2027, q: 1 }
        );
        assert_eq!(Quarter { year: 2027, q: 1 }.previous().q, 4);
    }

    #[test]
    fn shares_and_hours() {
        let f = Figures {
            members: 3,
            active: 2,
            completed: 1,
            time_ms: 5_400_000,
        };
        assert_eq!(f.active_percent(), 67);
        assert_eq!(f.hours(), 1.5);
        assert_eq!(Figures::default().active_percent(), 0);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        /// Any period text is refused or read as a quarter of a year Lectern holds, or a run of
        /// days in order and at most `MAX_DAYS` long.
        #[test]
        fn props_period_parse_keeps_its_invariants(s in prop_oneof![
            hostile("0123456789-Qq", 30),
            "20[0-9]{2}-[0-9]{2}-[0-9]{2}--2[0-9]{3}-[0-9]{2}-[0-9]{2}",
            any::<String>(),
        ]) {
            match Period::parse(&s) {
                Ok(Period::Quarter(q)) => {
                    prop_assert!((2000..=2100).contains(&q.year));
                    prop_assert!((1..=4).contains(&q.q));
                }
                Ok(Period::Days { first, last }) => {
                    prop_assert!(first <= last);
                    prop_assert!((last - first).whole_days() < MAX_DAYS);
                }
                Err(_) => {}
            }
        }

        /// A quarter and a run of days read back from what `Display` and `days` write.
        #[test]
        fn props_period_round_trips(year in 2000i32..=2100, q in 1u8..=4) {
            let quarter = Quarter { year, q };
            prop_assert_eq!(Period::parse(&quarter.to_string()).unwrap(), Period::Quarter(quarter));
            let (first, last) = quarter.days();
            let days = Period::parse(&format!("{first}--{last}")).unwrap();
            prop_assert_eq!(days.days(), (first, last));
        }
    }
}
