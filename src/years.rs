//! Years for BSD stamps, chosen before any line is converted: each file is peeked at (its first
//! stamp, and the times that tell when it ended: dateext name, gzip MTIME, mtime), and the files
//! of a rotated set are chained from the newest file's anchor back (or forward from `--year`).
//! Reads at most [`PEEK_BYTES`] of decompressed data per file.

use crate::input::decompress;
use crate::input::discover::{rotated, Rotation};
use crate::input::Input;
use crate::parse::{parse_line, Line};
use crate::time::{bsd_key, iso_key, DayKey, RawStamp, YearStart};
use jiff::civil::DateTime;
use std::io::Read;
use std::time::SystemTime;

/// How much of a file is read to find its first timestamp.
pub const PEEK_BYTES: u64 = 256 * 1024;

/// What is known of when a file ended.
#[derive(Debug, Clone, Default)]
pub struct FileTimes {
    /// Stdin, a pipe, a FIFO or a device: read once, in the run, never looked at before.
    pub stream: bool,
    /// The date of a dateext name (`maillog-20261120`): when the file was rotated.
    pub name_date: Option<jiff::civil::Date>,
    pub gzip_mtime: Option<SystemTime>,
    pub mtime: Option<SystemTime>,
}

/// Decompressed bytes at the start of a file by which `--state` knows it again.
pub const FINGERPRINT_BYTES: usize = 4096;

/// What the start of one input says.
#[derive(Debug, Clone, Default)]
pub struct Peeked {
    pub times: FileTimes,
    /// The first stamp of a mail line (none for stdin, which cannot be read twice, or when the
    /// start of the file holds none).
    pub first: Option<RawStamp>,
    /// The first [`FINGERPRINT_BYTES`] of its decompressed data (empty for stdin).
    pub head: Vec<u8>,
    /// The MTA of its first mail line (the pipeline's shape depends on it).
    pub mta: Option<crate::parse::Mta>,
}

/// Looks at the start of `input`.
pub fn peek(input: &Input) -> Peeked {
    let Input::Path(p) = input else {
        return Peeked {
            times: FileTimes {
                stream: true,
                ..FileTimes::default()
            },
            ..Peeked::default()
        };
    };
    // Anything but a regular file can be read only once (a pipe, a FIFO, /dev/stdin): what a
    // look here read would be lost to the conversion, and a FIFO's second open would block.
    if std::fs::metadata(p).is_ok_and(|m| !m.is_file()) {
        return Peeked {
            times: FileTimes {
                stream: true,
                ..FileTimes::default()
            },
            ..Peeked::default()
        };
    }
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut times = FileTimes {
        name_date: match rotated(&name).rotation {
            Rotation::Dated(d) => Some(d),
            _ => None,
        },
        ..FileTimes::default()
    };
    let Ok(opened) = decompress::open(input) else {
        return Peeked {
            times,
            ..Peeked::default()
        };
    };
    times.gzip_mtime = opened.gzip_mtime;
    times.mtime = opened.mtime;
    let mut head = Vec::new();
    // A read error here is reported when the file is converted.
    let _ = opened.reader.take(PEEK_BYTES).read_to_end(&mut head);
    let known = head
        .split(|&b| b == b'\n')
        .find_map(|line| match parse_line(line) {
            Line::Known { stamp, mta, .. } => Some((stamp, mta)),
            Line::Unknown => None,
        });
    head.truncate(FINGERPRINT_BYTES);
    Peeked {
        times,
        first: known.map(|(stamp, _)| stamp),
        head,
        mta: known.map(|(_, mta)| mta),
    }
}

/// The local date and time of `t` in `tz`.
fn local_datetime(t: SystemTime, tz: &jiff::tz::TimeZone) -> Option<jiff::civil::DateTime> {
    let ts = jiff::Timestamp::try_from(t).ok()?;
    Some(ts.to_zoned(tz.clone()).datetime())
}

/// The end-time anchor of a file: the dateext date, else the gzip MTIME, else the mtime, else
/// (stdin) the clock; with a description for `--stats`.
fn anchor(times: &FileTimes, tz: &jiff::tz::TimeZone) -> (jiff::civil::DateTime, String) {
    if let Some(d) = times.name_date {
        return (d.at(23, 59, 59, 0), format!("dateext name {d}"));
    }
    let candidates = [
        (times.gzip_mtime, "gzip header mtime"),
        (times.mtime, "file mtime"),
    ];
    for (t, what) in candidates {
        if let Some(dt) = t.and_then(|t| local_datetime(t, tz)) {
            return (dt, format!("{what} {dt}"));
        }
    }
    let now = local_datetime(SystemTime::now(), tz).unwrap_or_default();
    let what = if times.stream {
        "the clock (a stream)"
    } else {
        "the clock"
    };
    (now, format!("{what} {now}"))
}

/// Chooses the year of each file's first line: per rotated family, from the newest file's
/// anchor back through the first lines (or forward from `--year`).
pub fn plan_years(
    peeks: &[Peeked],
    families: &[usize],
    tz: &jiff::tz::TimeZone,
    year: Option<i16>,
) -> Vec<ChainYear> {
    let peeked: Vec<ChainFile> = peeks
        .iter()
        .map(|p| {
            let (anchor, anchor_what) = anchor(&p.times, tz);
            ChainFile {
                first: p.first,
                anchor,
                anchor_what,
            }
        })
        .collect();
    let mut plan: Vec<Option<ChainYear>> = vec![None; peeks.len()];
    let mut ids: Vec<usize> = families.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for fam in ids {
        let members: Vec<usize> = (0..peeks.len())
            .filter(|&i| families.get(i) == Some(&fam))
            .collect();
        let files: Vec<ChainFile> = members.iter().map(|&i| peeked[i].clone()).collect();
        for (m, y) in members.into_iter().zip(chain_years(&files, year)) {
            plan[m] = Some(y);
        }
    }
    plan.into_iter()
        .zip(peeked)
        .map(|(p, f)| {
            p.unwrap_or(ChainYear {
                start: YearStart::NotAfter(f.anchor),
                from: f.anchor_what,
                note: None,
            })
        })
        .collect()
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
            for &i in stamped.iter().rev() {
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
            }
            // Each file's own anchor, where its first line is BSD: the year it alone gives.
            let own = |i: usize| -> Option<i32> {
                let f = files.get(i)?;
                let (mo, d, h, m, s) = f.first.as_ref().and_then(bsd_key)?;
                Some(YearStart::NotAfter(f.anchor).first_year(mo, d, h, m, s))
            };
            // The newest file's anchor sets the chain, unless most of the older files agree
            // with each other against it (a live file whose time is wrong): then they do.
            // Archives copied at once share one time (the copy's): they do not outvote it.
            let newest = stamped.last().copied();
            let older: Vec<(i32, jiff::civil::DateTime)> = stamped
                .iter()
                .filter(|&&i| Some(i) != newest)
                .filter_map(|&i| Some((own(i)? - years[i]?, files[i].anchor)))
                .collect();
            let agreeing = |d: i32| older.iter().filter(move |(e, _)| *e == d);
            let shift = older
                .iter()
                .map(|(d, _)| *d)
                .filter(|&d| d != 0)
                .max_by_key(|&d| agreeing(d).count())
                .filter(|&d| 2 * agreeing(d).count() > older.len())
                .filter(|&d| {
                    let mut times = agreeing(d).map(|(_, a)| *a);
                    let first = times.next();
                    times.any(|a| Some(a) != first)
                });
            if let Some(d) = shift {
                for y in years.iter_mut().flatten() {
                    *y += d;
                }
            }
            for (n, &i) in stamped.iter().rev().enumerate() {
                let (Some(y), Some(own)) = (years[i], own(i)) else {
                    continue;
                };
                let what = &files[i].anchor_what;
                if n > 0 {
                    out[i].from = format!("the rotated set (checked against {what})");
                }
                if own != y {
                    out[i].note = Some(format!(
                        "its {what} puts its first line in {own}, the rest of its rotated set in \
                         {y}; the set wins"
                    ));
                }
                if n == 0 && shift.is_some() {
                    out[i].from = format!("the rotated set (its own {what} overruled)");
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

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// A file's peek names the MTA of its first mail line, past lines of other programs.
    #[test]
    fn a_peek_names_the_first_mail_lines_mta() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (text, want) in [
            (
                "Mar  2 00:00:00 mx1 kernel: boot\nMar  2 00:00:00 mx1 sm-mta[1000]: \
                 k2200001014522: from=<a@b>, size=1, nrcpts=1\n",
                Some(crate::parse::Mta::Sendmail),
            ),
            (
                "Mar  2 00:00:00 mx1 postfix/qmgr[20508]: 6B1B62259: removed\n",
                Some(crate::parse::Mta::Postfix),
            ),
            ("not a mail line\n", None),
        ] {
            let path = dir.path().join("maillog");
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(peek(&Input::Path(path)).mta, want, "{text}");
        }
        assert_eq!(peek(&Input::Stdin).mta, None);
    }

    fn bsd(s: &str) -> RawStamp {
        crate::time::parse_bsd(s.as_bytes())
            .map(|(r, _)| r)
            .unwrap_or_else(|| panic!("{s}"))
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
}
