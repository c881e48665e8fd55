//! The year and instant resolver: the missing year of BSD stamps (from an injected start, then
//! the nearest year to the line before) and the UTC instant of every stamp in the log's zone,
//! with DST folds and gaps handled in line order.

use super::{approx_secs, approx_secs_of, RawStamp, Stamp, TimeError};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::Timestamp;

/// How the year of the first BSD stamp is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Resolves stamps in log order. A BSD stamp's year: the first takes it from the
/// [`YearStart`], each later one the year that puts it nearest the stamp before, so New Year
/// rolls forward and small disorder around midnight of Dec 31 stays in the right year; Feb 29
/// is validated after the year is chosen. Instants: in the repeated hour of an autumn DST
/// change a line takes the later offset once the log has moved past the first occurrence
/// (line order); in the skipped spring hour the instant is shifted forward.
///
/// It can be saved and restored (`--state`) without its zone, which the run gives, and without
/// its caches, which only save work.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct YearResolver {
    #[serde(skip, default = "utc")]
    tz: TimeZone,
    start: YearStart,
    last: Option<i64>,
    last_year: i32,
    last_instant: Option<Timestamp>,
    /// A local hour with one offset throughout (no DST change in it), to skip the zone lookup.
    #[serde(skip)]
    hour_cache: Option<(i64, Offset)>,
    /// The last stamp as written and as resolved: busy logs repeat a second many times, and
    /// the same written stamp right after itself always resolves the same way.
    #[serde(skip)]
    memo: Option<(RawStamp, Stamp)>,
    /// The month and day of the last BSD stamp, with the year and date it resolved to: a line
    /// of the same day as the line before it is in the same year (the other candidates are a
    /// year away), so the year need not be chosen again (a third of the resolver's work).
    day: Option<(u8, u8, i32, Date)>,
    /// The last stamp resolved was a BSD one: a full date far from it is an outlier.
    #[serde(default)]
    after_bsd: bool,
    /// An outlier set aside: a full date right after it, near it, confirms a real jump.
    #[serde(default)]
    jump: Option<i64>,
}

/// A full date (RFC 3339) this many days from the BSD line before it is an outlier: a host
/// with a wrong clock on a central log, not the log's time. It is reported and skipped, and
/// the lines after it keep their years, unless the next line confirms the jump.
const OUTLIER_DAYS: i64 = 62;

fn utc() -> TimeZone {
    TimeZone::UTC
}

/// Lines this far behind the previous one in the repeated hour are still its first occurrence.
const FOLD_JITTER_SECS: i64 = 300;

impl YearResolver {
    pub fn new(start: YearStart) -> Self {
        Self::with_tz(start, TimeZone::UTC)
    }

    /// The zone of stamps without an offset (a restored resolver is given the run's).
    pub fn set_tz(&mut self, tz: TimeZone) {
        self.tz = tz;
        self.hour_cache = None;
        self.memo = None;
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
            after_bsd: false,
            jump: None,
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
        self.after_bsd = false;
        self.jump = None;
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
    // Inlined, so a stamp like the last one (most lines share their second with the line
    // before) is answered in the caller's loop: returned through memory, the stamp was stored
    // in pieces and loaded whole, a stall that perf put at 45% of the dating step's samples.
    #[inline]
    pub fn resolve(&mut self, raw: &RawStamp) -> Result<Stamp, TimeError> {
        if let Some((prev, stamp)) = self.memo {
            if prev == *raw {
                return Ok(stamp);
            }
        }
        self.resolve_new(raw)
    }

    /// `raw` is the last stamp resolved (and would resolve to it again): the dating step
    /// shares one resolved stamp among the lines of a second.
    #[inline]
    pub fn same_as_last(&self, raw: &RawStamp) -> bool {
        self.memo.is_some_and(|(prev, _)| prev == *raw)
    }

    /// [`Self::resolve`] of a stamp unlike the last one.
    fn resolve_new(&mut self, raw: &RawStamp) -> Result<Stamp, TimeError> {
        let stamp = match *raw {
            RawStamp::Epoch { secs, nanos } => {
                // Not a BSD stamp: the next one chooses its year again.
                self.day = None;
                self.after_bsd = false;
                self.jump = None;
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
                let secs = approx_secs_of(local);
                if let (true, Some(prev)) = (self.after_bsd, self.last) {
                    let days = (secs - prev).abs() / 86_400;
                    let confirmed = self
                        .jump
                        .is_some_and(|j| (secs - j).abs() / 86_400 <= OUTLIER_DAYS);
                    if days > OUTLIER_DAYS && !confirmed {
                        self.jump = Some(secs);
                        return Err(TimeError::Outlier { date: local, days });
                    }
                }
                self.after_bsd = false;
                self.jump = None;
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
            RawStamp::Bsd { clock, micros } => {
                let (month, day, hour, minute, second) = clock.key();
                self.after_bsd = true;
                self.jump = None;
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
