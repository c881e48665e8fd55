//! Timestamps: parses the stamps mail logs carry (BSD syslog `Oct  2 07:44:21`, ISO 8601 /
//! RFC 3339 `2023-03-14T00:00:31.185246+01:00`) into a [`RawStamp`], and resolves them with a
//! [`YearResolver`]: the missing year of BSD stamps, and the UTC instant of every stamp in the
//! log's time zone. Pure: the year comes from an injected anchor or a given first year and the
//! zone is injected, never the clock or the environment.

mod lex;
mod resolve;

pub use lex::{parse_bsd, parse_iso};
pub use resolve::{YearResolver, YearStart};

use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::Timestamp;

/// A timestamp as written in the log, before the year of a BSD stamp is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawStamp {
    /// `Mmm dd hh:mm:ss[.frac]`: no year, no offset.
    Bsd { clock: BsdClock, micros: u32 },
    /// A full date and time, with the UTC offset in seconds when the log gave one.
    Iso {
        local: DateTime,
        offset: Option<i32>,
    },
    /// An instant (qmail's TAI64N labels and splogger's epoch seconds).
    Epoch { secs: i64, nanos: u32 },
}

/// A BSD stamp's month, day, hour, minute and second, a byte each in one word (the month
/// lowest), so that it is written and read whole. As five fields, the lexer's narrow stores
/// were read back as one word by the parse step's mark ([`RawStamp::bsd_word`]), a load the
/// CPU cannot forward from several stores: it waited for them to retire (~12% of the
/// chunk parse's samples on that one instruction, perf, 200 MB of a Postfix log). Two stamps
/// then compare as two words with the derived `==`, which the serial dating step uses (a
/// comparison of its own, without a branch a field, served while the fields were apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BsdClock(u64);

impl BsdClock {
    pub const fn new(month: u8, day: u8, hour: u8, minute: u8, second: u8) -> BsdClock {
        BsdClock(u64::from_le_bytes([
            month, day, hour, minute, second, 0, 0, 0,
        ]))
    }

    /// Month, day, hour, minute, second.
    pub const fn key(self) -> DayKey {
        let [month, day, hour, minute, second, ..] = self.0.to_le_bytes();
        (month, day, hour, minute, second)
    }
}

impl RawStamp {
    /// A BSD stamp of these fields.
    pub const fn bsd(month: u8, day: u8, hour: u8, minute: u8, second: u8, micros: u32) -> Self {
        RawStamp::Bsd {
            clock: BsdClock::new(month, day, hour, minute, second),
            micros,
        }
    }

    /// A BSD stamp as one word (none for the other forms): two stamps with the same word are
    /// [`Self::same`]. The parse step marks each line whose stamp is its line before's so, for
    /// ~10 instructions a line.
    #[inline]
    pub fn bsd_word(&self) -> Option<u64> {
        match *self {
            RawStamp::Bsd { clock, micros } => Some(clock.0 | u64::from(micros) << 40),
            RawStamp::Iso { .. } | RawStamp::Epoch { .. } => None,
        }
    }
}

/// A resolved timestamp: local wall-clock time as logged, the UTC offset in force and the
/// instant. In the skipped hour of a spring DST change the instant is shifted forward, while
/// `local` stays as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    pub local: DateTime,
    /// Seconds east of UTC.
    pub offset: i32,
    pub instant: Timestamp,
}

impl Stamp {
    /// A stamp for a wall time in UTC (tests and fixed-offset callers).
    pub fn utc(local: DateTime) -> Stamp {
        let instant = Offset::UTC.to_timestamp(local).unwrap_or_default();
        Stamp {
            local,
            offset: 0,
            instant,
        }
    }
}

/// Why a stamp could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{month:02}-{day:02} does not exist in {year}")]
    NoSuchDate { year: i16, month: u8, day: u8 },
    /// A full date far from the BSD lines around it: one wrong clock, not the log's time.
    #[error("{date} is {days} days from the line before")]
    Outlier { date: DateTime, days: i64 },
}

/// Days from 1970-01-01 for a proleptic Gregorian date, accepting day numbers past the month's
/// end (Feb 29 of a common year counts as Mar 1). Used to compare candidate years only.
pub(crate) fn approx_days(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn approx_secs(year: i32, month: u8, day: u8, h: u8, m: u8, s: u8) -> i64 {
    approx_days(year, month, day) * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)
}

pub(crate) fn approx_secs_of(dt: DateTime) -> i64 {
    let (month, day, h, m, s) = day_key(dt);
    approx_secs(i32::from(dt.year()), month, day, h, m, s)
}

/// Month, day, hour, minute, second: a BSD stamp without its year, in calendar order.
pub(crate) type DayKey = (u8, u8, u8, u8, u8);

/// The [`DayKey`] of a date and time (jiff keeps every part in range, so `as u8` is exact).
pub(crate) fn day_key(dt: DateTime) -> DayKey {
    (
        dt.month() as u8,
        dt.day() as u8,
        dt.hour() as u8,
        dt.minute() as u8,
        dt.second() as u8,
    )
}

pub(crate) fn bsd_key(raw: &RawStamp) -> Option<DayKey> {
    match *raw {
        RawStamp::Bsd { clock, .. } => Some(clock.key()),
        RawStamp::Iso { .. } | RawStamp::Epoch { .. } => None,
    }
}

pub(crate) fn iso_key(raw: &RawStamp) -> Option<(i32, DayKey)> {
    match *raw {
        RawStamp::Iso { local, .. } => Some((i32::from(local.year()), day_key(local))),
        RawStamp::Bsd { .. } | RawStamp::Epoch { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use jiff::tz::TimeZone;

    /// Stamps that differ in any one field, or in their form, are unequal: the word of a BSD
    /// stamp keeps each of its fields.
    #[test]
    fn stamps_differing_in_one_field_are_unequal() {
        let bsd = RawStamp::bsd;
        let base = bsd(12, 31, 23, 59, 59, 999_999);
        let mut stamps = vec![
            base,
            bsd(11, 31, 23, 59, 59, 999_999),
            bsd(12, 30, 23, 59, 59, 999_999),
            bsd(12, 31, 22, 59, 59, 999_999),
            bsd(12, 31, 23, 58, 59, 999_999),
            bsd(12, 31, 23, 59, 58, 999_999),
            bsd(12, 31, 23, 59, 59, 0),
            bsd(0, 0, 0, 0, 0, 0),
            RawStamp::Epoch { secs: 0, nanos: 0 },
            RawStamp::Epoch { secs: 0, nanos: 1 },
        ];
        let local = date(2026, 12, 31).at(23, 59, 59, 0);
        stamps.push(RawStamp::Iso {
            local,
            offset: None,
        });
        stamps.push(RawStamp::Iso {
            local,
            offset: Some(3600),
        });
        for (i, a) in stamps.iter().enumerate() {
            for (j, b) in stamps.iter().enumerate() {
                assert_eq!(a == b, i == j, "{a:?} {b:?}");
            }
        }
    }

    fn bsd(s: &str) -> RawStamp {
        parse_bsd(s.as_bytes())
            .map(|(r, _)| r)
            .unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn bsd_stamp_forms() {
        for (s, used) in [
            ("Oct  2 07:44:21 web1", 15),
            ("Oct 2 07:44:21 web1", 14),
            ("Oct 02 07:44:21 web1", 15),
            ("Mar 7 02:09:33.123456 x", 21),
        ] {
            let (_, n) = parse_bsd(s.as_bytes()).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(n, used, "{s}");
        }
        for bad in [
            "Oct",
            "Foo  2 07:44:21",
            "Oct 32 07:44:21",
            "Oct  2 7:44:21",
            "Jan 1",
        ] {
            assert!(parse_bsd(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn iso_stamp_forms() {
        let (r, n) =
            parse_iso(b"2023-03-14T00:00:31.185246+01:00 host").unwrap_or_else(|| panic!());
        assert_eq!(n, 32);
        assert_eq!(
            r,
            RawStamp::Iso {
                local: date(2023, 3, 14).at(0, 0, 31, 185_246_000),
                offset: Some(3600)
            }
        );
        let (r, _) = parse_iso(b"2020-01-30T06:26:05Z x").unwrap_or_else(|| panic!());
        assert!(matches!(
            r,
            RawStamp::Iso {
                offset: Some(0),
                ..
            }
        ));
        let (r, _) = parse_iso(b"2020-01-30T06:26:05-0500 x").unwrap_or_else(|| panic!());
        assert!(matches!(
            r,
            RawStamp::Iso {
                offset: Some(-18000),
                ..
            }
        ));
        assert!(parse_iso(b"021-02-06T10:00:00+00:00").is_none());
        assert!(parse_iso(b"2021-02-30T10:00:00").is_none());
    }

    #[test]
    fn first_year_given_rolls_over_new_year() {
        let mut r = YearResolver::new(YearStart::FirstLineIn(2025));
        let years: Vec<i16> = [
            "Dec 31 23:59:58",
            "Jan  1 00:00:01",
            "Dec 31 23:59:59",
            "Jan  2 10:00:00",
        ]
        .iter()
        .map(|s| r.resolve(&bsd(s)).map(|t| t.local.year()).unwrap_or(0))
        .collect();
        assert_eq!(years, vec![2025, 2026, 2025, 2026]);
    }

    #[test]
    fn a_day_seen_again_keeps_its_year_until_restart_or_another_kind_of_stamp() {
        let mut r = YearResolver::new(YearStart::FirstLineIn(2025));
        let year = |r: &mut YearResolver, raw: &RawStamp| {
            r.resolve(raw).map(|t| t.local.year()).unwrap_or(0)
        };
        assert_eq!(year(&mut r, &bsd("Dec 31 23:59:58")), 2025);
        assert_eq!(year(&mut r, &bsd("Jan  1 00:00:01")), 2026);
        assert_eq!(year(&mut r, &bsd("Jan  1 00:00:02")), 2026);
        // The next file starts over: its rule, not the day remembered from the last file.
        r.restart(YearStart::FirstLineIn(2020));
        assert_eq!(year(&mut r, &bsd("Jan  1 00:00:03")), 2020);
        // An ISO stamp moves the chain: the same BSD day after it is chosen again.
        let (iso, _) = parse_iso(b"2019-12-31T23:59:59 x").unwrap_or_else(|| panic!());
        assert_eq!(year(&mut r, &iso), 2019);
        assert_eq!(year(&mut r, &bsd("Jan  1 00:00:05")), 2020);
    }

    #[test]
    fn a_full_date_far_from_the_bsd_lines_is_an_outlier_unless_the_next_line_confirms_it() {
        let mut r = YearResolver::new(YearStart::FirstLineIn(2026));
        let year = |r: &mut YearResolver, raw: &RawStamp| r.resolve(raw).map(|t| t.local.year());
        let iso = |s: &str| {
            parse_iso(s.as_bytes())
                .map(|(r, _)| r)
                .unwrap_or_else(|| panic!("{s}"))
        };
        assert_eq!(year(&mut r, &bsd("Mar 14 10:00:00")), Ok(2026));
        // One host with a clock in 2030 on a central log: reported, and the chain stays.
        assert!(matches!(
            r.resolve(&iso("2030-03-14T10:00:01+00:00 x")),
            Err(TimeError::Outlier { days, .. }) if days > 1400
        ));
        assert_eq!(year(&mut r, &bsd("Mar 14 10:00:02")), Ok(2026));
        // Near dates are no outliers; nor is a jump the next line confirms (a log resumed).
        assert_eq!(year(&mut r, &iso("2026-04-01T00:00:00+00:00 x")), Ok(2026));
        assert_eq!(year(&mut r, &bsd("Apr  1 00:00:01")), Ok(2026));
        assert!(r.resolve(&iso("2027-09-01T00:00:00+00:00 x")).is_err());
        assert_eq!(year(&mut r, &iso("2027-09-01T00:00:05+00:00 x")), Ok(2027));
        assert_eq!(year(&mut r, &bsd("Sep  1 00:00:06")), Ok(2027));
        // A log of full dates only may jump as it likes.
        let mut r = YearResolver::new(YearStart::FirstLineIn(2026));
        assert_eq!(year(&mut r, &iso("2013-01-04T17:03:46+00:00 x")), Ok(2013));
        assert_eq!(year(&mut r, &iso("2013-06-02T06:54:20+00:00 x")), Ok(2013));
    }

    #[test]
    fn anchor_picks_latest_year_not_after_it() {
        let anchor = date(2026, 1, 3).at(6, 25, 0, 0);
        let mut r = YearResolver::new(YearStart::NotAfter(anchor));
        assert_eq!(
            r.resolve(&bsd("Dec 30 10:00:00")).map(|t| t.local.year()),
            Ok(2025)
        );
        assert_eq!(
            r.resolve(&bsd("Jan  2 10:00:00")).map(|t| t.local.year()),
            Ok(2026)
        );
        let mut r = YearResolver::new(YearStart::NotAfter(anchor));
        assert_eq!(
            r.resolve(&bsd("Jan  3 07:00:00")).map(|t| t.local.year()),
            Ok(2026)
        );
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn autumn_repeated_hour_follows_line_order() {
        // 2025-10-26: 03:00 CEST becomes 02:00 CET; 02:00–02:59 happens twice.
        let mut r = YearResolver::with_tz(YearStart::FirstLineIn(2025), berlin());
        let got: Vec<(String, i32)> = [
            "Oct 26 01:59:00",
            "Oct 26 02:30:00",
            "Oct 26 02:59:00",
            "Oct 26 02:00:10",
            "Oct 26 02:29:58", // jitter within the second occurrence
            "Oct 26 02:30:00",
            "Oct 26 03:00:00",
        ]
        .iter()
        .map(|s| {
            let t = r.resolve(&bsd(s)).unwrap_or_else(|e| panic!("{e}"));
            (t.instant.to_string(), t.offset)
        })
        .collect();
        let want = [
            ("2025-10-25T23:59:00Z", 7200),
            ("2025-10-26T00:30:00Z", 7200),
            ("2025-10-26T00:59:00Z", 7200),
            ("2025-10-26T01:00:10Z", 3600),
            ("2025-10-26T01:29:58Z", 3600),
            ("2025-10-26T01:30:00Z", 3600),
            ("2025-10-26T02:00:00Z", 3600),
        ];
        let want: Vec<(String, i32)> = want.iter().map(|(a, b)| (a.to_string(), *b)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn spring_skipped_hour_is_shifted_forward() {
        // 2025-03-30: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
        let mut r = YearResolver::with_tz(YearStart::FirstLineIn(2025), berlin());
        let t = r
            .resolve(&bsd("Mar 30 02:30:00"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.instant.to_string(), "2025-03-30T01:30:00Z");
        assert_eq!(
            t.local,
            date(2025, 3, 30).at(2, 30, 0, 0),
            "wall time stays as logged"
        );
        let t = r
            .resolve(&bsd("Mar 30 03:10:00"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.instant.to_string(), "2025-03-30T01:10:00Z");
    }

    #[test]
    fn iso_offsets_are_honoured() {
        let mut r = YearResolver::with_tz(YearStart::FirstLineIn(2025), berlin());
        let (raw, _) = parse_iso(b"2023-03-14T00:00:31.185246+01:00").unwrap_or_else(|| panic!());
        let t = r.resolve(&raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.instant.to_string(), "2023-03-13T23:00:31.185246Z");
        assert_eq!(t.offset, 3600);
        // A BSD line after it takes its year from it.
        let t = r
            .resolve(&bsd("Mar 14 00:01:00"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.local.year(), 2023);
    }

    #[test]
    fn feb_29_only_in_leap_years() {
        let mut r = YearResolver::new(YearStart::FirstLineIn(2024));
        assert!(r.resolve(&bsd("Feb 29 12:00:00")).is_ok());
        let mut r = YearResolver::new(YearStart::FirstLineIn(2025));
        assert_eq!(
            r.resolve(&bsd("Feb 29 12:00:00")),
            Err(TimeError::NoSuchDate {
                year: 2025,
                month: 2,
                day: 29
            })
        );
        // The bad line does not push later lines into another year.
        assert_eq!(
            r.resolve(&bsd("Mar  1 00:00:00")).map(|t| t.local.year()),
            Ok(2025)
        );
    }
}
