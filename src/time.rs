//! Timestamps: parses the stamps mail logs carry (BSD syslog `Oct  2 07:44:21`, ISO 8601 /
//! RFC 3339 `2023-03-14T00:00:31.185246+01:00`) into a [`RawStamp`], and resolves them with a
//! [`YearResolver`]: the missing year of BSD stamps, and the UTC instant of every stamp in the
//! log's time zone. Pure: the year comes from an injected anchor or a given first year and the
//! zone is injected, never the clock or the environment.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::Timestamp;

/// A timestamp as written in the log, before the year of a BSD stamp is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawStamp {
    /// `Mmm dd hh:mm:ss[.frac]`: no year, no offset.
    Bsd {
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        micros: u32,
    },
    /// A full date and time, with the UTC offset in seconds when the log gave one.
    Iso {
        local: DateTime,
        offset: Option<i32>,
    },
    /// An instant (qmail's TAI64N labels and splogger's epoch seconds).
    Epoch { secs: i64, nanos: u32 },
}

/// A resolved timestamp: local wall-clock time as logged, the UTC offset in force and the
/// instant. In the skipped hour of a spring DST change the instant is shifted forward, while
/// `local` stays as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
}

/// `Jan` → 1 … `Dec` → 12. A match on the three bytes: a search of a table of names compared
/// each as a slice (a `memcmp` call per name), ~90 instructions a line.
fn month_number(name: &[u8]) -> Option<u8> {
    let &[a, b, c] = name else {
        return None;
    };
    Some(match [a, b, c] {
        [b'J', b'a', b'n'] => 1,
        [b'F', b'e', b'b'] => 2,
        [b'M', b'a', b'r'] => 3,
        [b'A', b'p', b'r'] => 4,
        [b'M', b'a', b'y'] => 5,
        [b'J', b'u', b'n'] => 6,
        [b'J', b'u', b'l'] => 7,
        [b'A', b'u', b'g'] => 8,
        [b'S', b'e', b'p'] => 9,
        [b'O', b'c', b't'] => 10,
        [b'N', b'o', b'v'] => 11,
        [b'D', b'e', b'c'] => 12,
        _ => return None,
    })
}

fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    let s = b.get(..N)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses `.ffffff` (1 to 9 digits) at the start of `b`; returns microseconds and bytes used.
fn fraction(b: &[u8]) -> (u32, usize) {
    if b.first() != Some(&b'.') {
        return (0, 0);
    }
    let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return (0, 0);
    }
    let mut micros = 0u32;
    for i in 0..6 {
        let d = b
            .get(1 + i)
            .filter(|_| i < n)
            .map_or(0, |c| u32::from(c - b'0'));
        micros = micros * 10 + d;
    }
    (micros, 1 + n)
}

fn hms(b: &[u8]) -> Option<(u8, u8, u8)> {
    let h = digits::<2>(b)?;
    let m = digits::<2>(b.get(3..)?)?;
    let s = digits::<2>(b.get(6..)?)?;
    if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // A leap second is logged as :60; keep it inside the minute.
    Some((h as u8, m as u8, s.min(59) as u8))
}

/// Parses a BSD syslog stamp at the start of `b` (`Oct  2 07:44:21`, `Oct 2 07:44:21`,
/// `Oct 02 07:44:21`, optional fraction). Returns the stamp and the bytes it used.
pub fn parse_bsd(b: &[u8]) -> Option<(RawStamp, usize)> {
    let month = month_number(b.get(..3)?)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let d1 = *b.get(i)?;
    let (day, used) = match b.get(i + 1) {
        Some(c) if c.is_ascii_digit() => (digits::<2>(&b[i..])?, 2),
        _ => (u32::from(d1.wrapping_sub(b'0')), 1),
    };
    if !(1..=31).contains(&day) || !d1.is_ascii_digit() {
        return None;
    }
    i += used;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let (hour, minute, second) = hms(b.get(i..)?)?;
    i += 8;
    let (micros, flen) = fraction(&b[i..]);
    i += flen;
    Some((
        RawStamp::Bsd {
            month,
            day: day as u8,
            hour,
            minute,
            second,
            micros,
        },
        i,
    ))
}

/// Parses an ISO 8601 stamp at the start of `b`: `YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM|±HHMM]`
/// (a space instead of `T` is accepted). Returns the stamp and the bytes it used.
pub fn parse_iso(b: &[u8]) -> Option<(RawStamp, usize)> {
    let year = digits::<4>(b)?;
    let month = digits::<2>(b.get(5..)?)?;
    let day = digits::<2>(b.get(8..)?)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    let (hour, minute, second) = hms(b.get(11..)?)?;
    let mut i = 19;
    let (micros, flen) = fraction(&b[i..]);
    i += flen;
    let offset = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            Some(0)
        }
        Some(&sign @ (b'+' | b'-')) => {
            let h = digits::<2>(b.get(i + 1..)?)?;
            let (m, used) = if b.get(i + 3) == Some(&b':') {
                (digits::<2>(b.get(i + 4..)?)?, 6)
            } else {
                (digits::<2>(b.get(i + 3..)?)?, 5)
            };
            if h > 23 || m > 59 {
                return None;
            }
            i += used;
            let secs = (h * 3600 + m * 60) as i32;
            Some(if sign == b'-' { -secs } else { secs })
        }
        _ => None,
    };
    let date = Date::new(year as i16, month as i8, day as i8).ok()?;
    let time = Time::new(
        hour as i8,
        minute as i8,
        second as i8,
        (micros * 1000) as i32,
    )
    .ok()?;
    Some((
        RawStamp::Iso {
            local: DateTime::from_parts(date, time),
            offset,
        },
        i,
    ))
}

/// Days from 1970-01-01 for a proleptic Gregorian date, accepting day numbers past the month's
/// end (Feb 29 of a common year counts as Mar 1). Used to compare candidate years only.
fn approx_days(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn approx_secs(year: i32, month: u8, day: u8, h: u8, m: u8, s: u8) -> i64 {
    approx_days(year, month, day) * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)
}

fn approx_secs_of(dt: DateTime) -> i64 {
    let (month, day, h, m, s) = day_key(dt);
    approx_secs(i32::from(dt.year()), month, day, h, m, s)
}

/// How the year of the first BSD stamp is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearStart {
    /// The first BSD stamp is in this year (maillogconvert.pl's `YEAR` argument, `--year`).
    FirstLineIn(i16),
    /// The first BSD stamp is the latest moment not after this anchor (plus a day of slack):
    /// the anchor is when the log was last written (file mtime, or now for stdin).
    NotAfter(DateTime),
}

impl YearStart {
    /// The year this rule gives a first line on `month`-`day` at `h:m:s`.
    pub fn first_year(self, month: u8, day: u8, h: u8, m: u8, s: u8) -> i32 {
        match self {
            YearStart::FirstLineIn(y) => i32::from(y),
            YearStart::NotAfter(anchor) => {
                let y = i32::from(anchor.year());
                if approx_secs(y, month, day, h, m, s) <= approx_secs_of(anchor) + 86_400 {
                    y
                } else {
                    y - 1
                }
            }
        }
    }
}

/// One file of a rotated set, as seen before it is read: its first stamp and its end-time
/// anchor (dateext date, gzip MTIME, mtime, or the clock for stdin).
#[derive(Debug, Clone)]
pub struct ChainFile {
    pub first: Option<RawStamp>,
    pub anchor: DateTime,
    /// How the anchor was found, for `--stats`.
    pub anchor_what: String,
}

/// How one file of a set gets the year of its first line.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainYear {
    pub start: YearStart,
    /// For `--stats`: where the year came from.
    pub from: String,
    /// Set when the file's own anchor disagrees with the set (the set wins).
    pub note: Option<String>,
}

/// Month, day, hour, minute, second: a BSD stamp without its year, in calendar order.
type DayKey = (u8, u8, u8, u8, u8);

/// The [`DayKey`] of a date and time (jiff keeps every part in range, so `as u8` is exact).
fn day_key(dt: DateTime) -> DayKey {
    (
        dt.month() as u8,
        dt.day() as u8,
        dt.hour() as u8,
        dt.minute() as u8,
        dt.second() as u8,
    )
}

fn bsd_key(raw: &RawStamp) -> Option<DayKey> {
    match *raw {
        RawStamp::Bsd {
            month,
            day,
            hour,
            minute,
            second,
            ..
        } => Some((month, day, hour, minute, second)),
        RawStamp::Iso { .. } | RawStamp::Epoch { .. } => None,
    }
}

fn iso_key(raw: &RawStamp) -> Option<(i32, DayKey)> {
    match *raw {
        RawStamp::Iso { local, .. } => Some((i32::from(local.year()), day_key(local))),
        RawStamp::Bsd { .. } | RawStamp::Epoch { .. } => None,
    }
}

/// Years for the files of one rotated set, oldest first. Each file spans less than a year and
/// starts after the one before it ends, so a file's first line is in the year of the next
/// file's first line, or the year before when its date is later in the year. With `given`
/// (`--year`), the oldest file's first line is in that year and the walk goes forward;
/// otherwise the newest file's first line takes the latest year its anchor allows and the walk
/// goes backward. Every other anchor is only checked: where it disagrees, the set wins, and the
/// note says so (archives copied without their times). ISO stamps carry their own year.
pub fn chain_years(files: &[ChainFile], given: Option<i16>) -> Vec<ChainYear> {
    let mut years: Vec<Option<i32>> = vec![None; files.len()];
    let mut out: Vec<ChainYear> = files
        .iter()
        .map(|f| ChainYear {
            start: YearStart::NotAfter(f.anchor),
            from: f.anchor_what.clone(),
            note: None,
        })
        .collect();
    // (year, key) of a file's first line, once its year is known.
    let at = |i: usize, y: i32| -> Option<(i32, DayKey)> {
        let raw = files.get(i)?.first.as_ref()?;
        iso_key(raw).or_else(|| bsd_key(raw).map(|k| (y, k)))
    };
    let stamped: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].first.is_some())
        .collect();
    match given {
        Some(g) => {
            let mut prev: Option<(i32, DayKey)> = None;
            for &i in &stamped {
                let raw = files[i].first.as_ref();
                let y = match (raw.and_then(iso_key), raw.and_then(bsd_key), prev) {
                    (Some((y, _)), _, _) => y,
                    (None, Some(k), Some((py, pk))) => py + i32::from(k < pk),
                    _ => i32::from(g),
                };
                years[i] = Some(y);
                prev = at(i, y);
            }
            for (i, o) in out.iter_mut().enumerate() {
                let y = years[i].unwrap_or(i32::from(g));
                o.start = YearStart::FirstLineIn(i16::try_from(y).unwrap_or(g));
                o.from = if i == stamped.first().copied().unwrap_or(0) {
                    format!("--year {g}")
                } else {
                    "the set's order from --year".to_string()
                };
            }
            return out;
        }
        None => {
            let mut next: Option<(i32, DayKey)> = None;
            for (n, &i) in stamped.iter().rev().enumerate() {
                let f = &files[i];
                let raw = f.first.as_ref();
                let y = match (raw.and_then(iso_key), raw.and_then(bsd_key), next) {
                    (Some((y, _)), _, _) => y,
                    (None, Some(k), Some((ny, nk))) => ny - i32::from(k > nk),
                    (None, Some((mo, d, h, m, s)), None) => {
                        YearStart::NotAfter(f.anchor).first_year(mo, d, h, m, s)
                    }
                    _ => i32::from(f.anchor.year()),
                };
                years[i] = Some(y);
                next = at(i, y);
                if n > 0 {
                    out[i].from = format!("the rotated set (checked against {})", f.anchor_what);
                    if let Some((mo, d, h, m, s)) = raw.and_then(bsd_key) {
                        let own = YearStart::NotAfter(f.anchor).first_year(mo, d, h, m, s);
                        if own != y {
                            out[i].note = Some(format!(
                                "its {} puts its first line in {own}, the rotated set in {y}; the set wins",
                                f.anchor_what
                            ));
                        }
                    }
                }
            }
        }
    }
    for (i, o) in out.iter_mut().enumerate() {
        if let Some(y) = years[i] {
            o.start = YearStart::FirstLineIn(i16::try_from(y).unwrap_or(i16::MAX));
        }
    }
    out
}

/// Resolves stamps in log order. A BSD stamp's year: the first takes it from the
/// [`YearStart`], each later one the year that puts it nearest the stamp before, so New Year
/// rolls forward and small disorder around midnight of Dec 31 stays in the right year; Feb 29
/// is validated after the year is chosen. Instants: in the repeated hour of an autumn DST
/// change a line takes the later offset once the log has moved past the first occurrence
/// (line order); in the skipped spring hour the instant is shifted forward.
#[derive(Debug, Clone)]
pub struct YearResolver {
    tz: TimeZone,
    start: YearStart,
    last: Option<i64>,
    last_year: i32,
    last_instant: Option<Timestamp>,
    /// A local hour with one offset throughout (no DST change in it), to skip the zone lookup.
    hour_cache: Option<(i64, Offset)>,
    /// The last stamp as written and as resolved: busy logs repeat a second many times, and
    /// the same written stamp right after itself always resolves the same way.
    memo: Option<(RawStamp, Stamp)>,
    /// The month and day of the last BSD stamp, with the year and date it resolved to: a line
    /// of the same day as the line before it is in the same year (the other candidates are a
    /// year away), so the year need not be chosen again (a third of the resolver's work).
    day: Option<(u8, u8, i32, Date)>,
}

/// Lines this far behind the previous one in the repeated hour are still its first occurrence.
const FOLD_JITTER_SECS: i64 = 300;

impl YearResolver {
    pub fn new(start: YearStart) -> Self {
        Self::with_tz(start, TimeZone::UTC)
    }

    pub fn with_tz(start: YearStart, tz: TimeZone) -> Self {
        YearResolver {
            tz,
            start,
            last: None,
            last_year: 0,
            last_instant: None,
            hour_cache: None,
            memo: None,
            day: None,
        }
    }

    /// Restarts with a new first-year rule (the next input file), forgetting the last stamp.
    pub fn restart(&mut self, start: YearStart) {
        self.start = start;
        self.last = None;
        self.last_year = 0;
        self.last_instant = None;
        self.memo = None;
        self.day = None;
    }

    /// True once a stamp has been resolved (later stamps chain from it).
    pub fn has_history(&self) -> bool {
        self.last.is_some()
    }

    /// The time zone stamps without an offset are in.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// The instant of a wall time in the log's zone, and the offset used.
    fn place(&mut self, local: DateTime) -> (Timestamp, i32) {
        let hour = approx_secs_of(local).div_euclid(3600);
        if let Some((h, off)) = self.hour_cache {
            if h == hour {
                return (off.to_timestamp(local).unwrap_or_default(), off.seconds());
            }
        }
        let (ts, off) = match self.tz.to_ambiguous_zoned(local).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                // Cache the hour if it starts and ends with this offset (no change inside it).
                let start = local
                    .with()
                    .minute(0)
                    .second(0)
                    .subsec_nanosecond(0)
                    .build();
                let end = local
                    .with()
                    .minute(59)
                    .second(59)
                    .subsec_nanosecond(0)
                    .build();
                let same = |dt: Result<DateTime, jiff::Error>| {
                    dt.ok().is_some_and(|dt| {
                        matches!(self.tz.to_ambiguous_zoned(dt).offset(),
                            AmbiguousOffset::Unambiguous { offset: o } if o == offset)
                    })
                };
                if same(start) && same(end) {
                    self.hour_cache = Some((hour, offset));
                }
                (offset.to_timestamp(local), offset)
            }
            // Skipped hour: read it with the offset before the change, which lands after it.
            AmbiguousOffset::Gap { before, after } => (before.to_timestamp(local), after),
            AmbiguousOffset::Fold { before, after } => {
                let first = before.to_timestamp(local);
                let past_first = match (self.last_instant, &first) {
                    (Some(last), Ok(f)) => last.as_second() > f.as_second() + FOLD_JITTER_SECS,
                    _ => false,
                };
                if past_first {
                    (after.to_timestamp(local), after)
                } else {
                    (first, before)
                }
            }
        };
        (ts.unwrap_or_default(), off.seconds())
    }

    /// Resolves one stamp, in log order.
    pub fn resolve(&mut self, raw: &RawStamp) -> Result<Stamp, TimeError> {
        if let Some((prev, stamp)) = self.memo {
            if prev == *raw {
                return Ok(stamp);
            }
        }
        let stamp = match *raw {
            RawStamp::Epoch { secs, nanos } => {
                // Not a BSD stamp: the next one chooses its year again.
                self.day = None;
                let instant = Timestamp::new(secs, nanos as i32).unwrap_or_default();
                let zoned = instant.to_zoned(self.tz.clone());
                let local = zoned.datetime();
                self.last = Some(approx_secs_of(local));
                self.last_year = i32::from(local.year());
                Stamp {
                    local,
                    offset: zoned.offset().seconds(),
                    instant,
                }
            }
            RawStamp::Iso { local, offset } => {
                self.day = None;
                self.last = Some(approx_secs_of(local));
                self.last_year = i32::from(local.year());
                match offset {
                    Some(off) => {
                        let instant = Offset::from_seconds(off)
                            .and_then(|o| o.to_timestamp(local))
                            .unwrap_or_default();
                        Stamp {
                            local,
                            offset: off,
                            instant,
                        }
                    }
                    None => {
                        let (instant, offset) = self.place(local);
                        Stamp {
                            local,
                            offset,
                            instant,
                        }
                    }
                }
            }
            RawStamp::Bsd {
                month,
                day,
                hour,
                minute,
                second,
                micros,
            } => {
                let at = |y: i32| approx_secs(y, month, day, hour, minute, second);
                let bad = |year: i32| TimeError::NoSuchDate {
                    year: i16::try_from(year).unwrap_or(i16::MAX),
                    month,
                    day,
                };
                let (year, date) = match self.day {
                    Some((m, d, y, date)) if m == month && d == day && self.last.is_some() => {
                        self.last = Some(at(y));
                        (y, date)
                    }
                    _ => {
                        let year = match self.last {
                            Some(last) => {
                                let y0 = self.last_year;
                                [y0 - 1, y0, y0 + 1]
                                    .into_iter()
                                    .min_by_key(|&y| (at(y) - last).abs())
                                    .unwrap_or(y0)
                            }
                            None => self.start.first_year(month, day, hour, minute, second),
                        };
                        self.last = Some(at(year));
                        self.last_year = year;
                        let y16 = i16::try_from(year).unwrap_or(i16::MAX);
                        let date = Date::new(y16, month as i8, day as i8).map_err(|_| bad(year))?;
                        self.day = Some((month, day, year, date));
                        (year, date)
                    }
                };
                let time = Time::new(
                    hour as i8,
                    minute as i8,
                    second as i8,
                    (micros * 1000) as i32,
                )
                .map_err(|_| bad(year))?;
                let local = DateTime::from_parts(date, time);
                let (instant, offset) = self.place(local);
                Stamp {
                    local,
                    offset,
                    instant,
                }
            }
        };
        self.last_instant = Some(stamp.instant);
        self.memo = Some((*raw, stamp));
        Ok(stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

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
        let (iso, _) = parse_iso(b"2030-01-01T00:00:04 x").unwrap_or_else(|| panic!());
        assert_eq!(year(&mut r, &iso), 2030);
        assert_eq!(year(&mut r, &bsd("Jan  1 00:00:05")), 2030);
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

    fn chain(firsts: &[&str], anchors: &[DateTime]) -> Vec<ChainFile> {
        firsts
            .iter()
            .zip(anchors)
            .map(|(f, a)| ChainFile {
                first: Some(bsd(f)),
                anchor: *a,
                anchor_what: format!("mtime {a}"),
            })
            .collect()
    }

    fn starts(c: &[ChainYear]) -> Vec<YearStart> {
        c.iter().map(|y| y.start).collect()
    }

    #[test]
    fn rotated_set_across_new_year_walks_back_from_the_newest_file() {
        let firsts = [
            "Dec 30 04:05:00",
            "Dec 31 04:05:00",
            "Jan  1 00:00:07",
            "Jan  2 04:05:00",
        ];
        let want = [2025, 2025, 2026, 2026]
            .map(YearStart::FirstLineIn)
            .to_vec();
        // True mtimes.
        let true_times = [
            date(2025, 12, 31).at(0, 0, 5, 0),
            date(2026, 1, 1).at(0, 0, 5, 0),
            date(2026, 1, 2).at(0, 0, 5, 0),
            date(2026, 1, 2).at(18, 0, 0, 0),
        ];
        let c = chain_years(&chain(&firsts, &true_times), None);
        assert_eq!(starts(&c), want);
        assert!(c.iter().all(|y| y.note.is_none()));
        // Every archive copied on 2027-01-01: the oldest file's own mtime would say 2026;
        // the newest file's anchor and the set's order still give the right years.
        let copied = [date(2027, 1, 1).at(12, 0, 0, 0); 4];
        let newest_true = [
            copied[0],
            copied[1],
            copied[2],
            date(2026, 1, 2).at(18, 0, 0, 0),
        ];
        let c = chain_years(&chain(&firsts, &newest_true), None);
        assert_eq!(starts(&c), want);
        assert!(
            c[0].note
                .as_deref()
                .is_some_and(|n| n.contains("puts its first line in 2026")),
            "{c:?}"
        );
        // With --year the walk goes forward from the oldest file.
        let c = chain_years(&chain(&firsts, &copied), Some(2025));
        assert_eq!(starts(&c), want);
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
