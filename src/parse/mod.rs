//! Parse stage: one log line in, one [`Line`] out. Pure functions over borrowed bytes; nothing
//! here allocates, does I/O or fails: a line no parser knows comes back as [`Line::Unknown`].
//! The pipeline keeps parsed lines as the parsers give them, slices of the chunk they were read
//! from, held with it (`pipeline/chunk_lines.rs`); a line's own place in its chunk is a
//! [`Span`].

/// A `memchr::memmem` finder for a constant needle, built once: building one per call (what
/// `memmem::find` does) cost 4% of the CPU time on Sendmail logs.
macro_rules! finder {
    ($needle:expr) => {{
        static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new($needle));
        &*FINDER
    }};
}

/// The reverse of [`finder!`].
macro_rules! finder_rev {
    ($needle:expr) => {{
        static FINDER: std::sync::LazyLock<memchr::memmem::FinderRev<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::FinderRev::new($needle));
        &*FINDER
    }};
}

pub(crate) use finder;

pub mod event;
pub mod exchange;
pub mod exim;
pub mod fields;
pub mod mdaemon;
pub mod opensmtpd;
pub mod postfix;
pub mod qmail;
pub mod sendmail;
pub mod span;
pub mod syslog;

pub use crate::record::Mta;
pub use event::*;
pub use fields::*;
pub use span::Span;

use crate::time::RawStamp;

/// A line format of an MTA's own (not syslog): its stamp and event, if the line is one.
type Own = for<'a> fn(&'a [u8]) -> Option<(RawStamp, Event<&'a [u8]>)>;
/// The event of a syslog message of an MTA, from its program name and message.
type Body = for<'a> fn(&'a [u8], &'a [u8]) -> Event<&'a [u8]>;

/// How one MTA's lines are recognised and read.
struct Entry {
    mta: Mta,
    own: Option<Own>,
    /// The bytes a line of its own format can start with (none when it has none).
    lead: &'static [u8],
    /// Recognises the MTA's syslog program name.
    program: fn(&[u8]) -> bool,
    body: Option<Body>,
    /// A delivery's delay as logged, in seconds.
    delay: fn(&[u8]) -> Option<f64>,
}

/// Every MTA. A line is tried against the rows' own line formats first, in this order (qmail's
/// dated lines before Exim's, whose dates they share), then against their syslog program names
/// (which exclude each other; the busiest first). Adding an MTA is one row here (with its file
/// and its `Mta` row).
const TABLE: &[Entry] = &[
    Entry {
        mta: Mta::Postfix,
        lead: b"",
        own: None,
        program: postfix::is_program,
        body: Some(postfix::syslog),
        delay: postfix::float,
    },
    Entry {
        mta: Mta::Sendmail,
        lead: b"",
        own: None,
        program: sendmail::is_program,
        body: Some(sendmail::syslog),
        delay: sendmail::duration,
    },
    Entry {
        mta: Mta::Mdaemon,
        lead: b"\"",
        own: Some(mdaemon::parse),
        program: never,
        body: None,
        delay: no_delay,
    },
    Entry {
        mta: Mta::Exchange,
        lead: DIGITS,
        own: Some(exchange::parse),
        program: never,
        body: None,
        delay: no_delay,
    },
    Entry {
        mta: Mta::Qmail,
        lead: b"@0123456789",
        own: Some(qmail::own),
        program: qmail::is_program,
        body: Some(qmail::syslog),
        delay: no_delay,
    },
    Entry {
        mta: Mta::Exim,
        lead: DIGITS,
        own: Some(exim::own),
        program: exim::is_program,
        body: Some(exim::syslog),
        delay: exim::delay,
    },
    Entry {
        mta: Mta::Opensmtpd,
        lead: b"",
        own: None,
        program: opensmtpd::is_program,
        body: Some(opensmtpd::syslog),
        delay: opensmtpd::seconds,
    },
];

fn never(_: &[u8]) -> bool {
    false
}

fn no_delay(_: &[u8]) -> Option<f64> {
    None
}

/// A delivery's delay as `mta` logs it ([`Delivery::delay`]), in seconds. Read in the merge
/// step, for a format that writes it, not for every delivery parsed.
pub fn delay_seconds(mta: Mta, raw: &[u8]) -> Option<f64> {
    row(mta).and_then(|e| (e.delay)(raw))
}

/// `mta`'s row of [`TABLE`].
fn row(mta: Mta) -> Option<&'static Entry> {
    TABLE.iter().find(|e| e.mta == mta)
}

const DIGITS: &[u8] = b"0123456789";

/// The first bytes any own line format starts with: a syslog line (a month name) skips them
/// all with one look-up.
const LEADS: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < TABLE.len() {
        let lead = TABLE[i].lead;
        let mut j = 0;
        while j < lead.len() {
            t[lead[j] as usize] = true;
            j += 1;
        }
        i += 1;
    }
    t
};

/// Parses one line (without its line end), recognising the MTA from the line.
pub fn parse_line(line: &[u8]) -> Line<&[u8]> {
    parse_line_with(line, &mut syslog::Stamps::default())
}

/// [`parse_line`], with the stamp of a line that starts as the last one read taken from
/// `stamps` (the same line either way).
pub fn parse_line_with<'a>(line: &'a [u8], stamps: &mut syslog::Stamps) -> Line<&'a [u8]> {
    if line.first().is_some_and(|&b| LEADS[usize::from(b)]) {
        for e in TABLE {
            if let Some((stamp, event)) = e.own.and_then(|own| own(line)) {
                return own_line(line, e.mta, stamp, event);
            }
        }
    }
    let Some(h) = syslog::parse_with(line, stamps) else {
        return Line::Unknown;
    };
    for e in TABLE {
        if let (Some(body), true) = (e.body, (e.program)(h.program)) {
            return Line::Known {
                stamp: h.stamp,
                host: h.host,
                mta: e.mta,
                event: body(h.program, h.msg),
            };
        }
    }
    Line::Unknown
}

/// Parses one line as `mta` wrote it, whatever its syslog tag (`--mta`: a Postfix with a
/// custom `syslog_name`, a Sendmail renamed); lines that are not of that MTA are unknown.
pub fn parse_line_as(line: &[u8], mta: Option<Mta>) -> Line<&[u8]> {
    parse_line_as_with(line, mta, &mut syslog::Stamps::default())
}

/// [`parse_line_as`], with the stamps of [`parse_line_with`].
pub fn parse_line_as_with<'a>(
    line: &'a [u8],
    mta: Option<Mta>,
    stamps: &mut syslog::Stamps,
) -> Line<&'a [u8]> {
    let Some(e) = mta.and_then(row) else {
        return parse_line_with(line, stamps);
    };
    if let Some((stamp, event)) = e.own.and_then(|own| own(line)) {
        return own_line(line, e.mta, stamp, event);
    }
    match (e.body, syslog::parse_with(line, stamps)) {
        (Some(body), Some(h)) => Line::Known {
            stamp: h.stamp,
            host: h.host,
            mta: e.mta,
            event: body(h.program, h.msg),
        },
        _ => Line::Unknown,
    }
}

/// A line of an MTA's own format: it names no host.
fn own_line<'a>(
    line: &'a [u8],
    mta: Mta,
    stamp: RawStamp,
    event: Event<&'a [u8]>,
) -> Line<&'a [u8]> {
    Line::Known {
        stamp,
        host: &line[..0],
        mta,
        event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse_line` without the lead-byte look-up: every own format tried on every line.
    fn parse_line_slowly(line: &[u8]) -> Line<&[u8]> {
        for e in TABLE {
            if let Some((stamp, event)) = e.own.and_then(|own| own(line)) {
                return own_line(line, e.mta, stamp, event);
            }
        }
        parse_line(line)
    }

    /// Each MTA's delay is read as that MTA writes it, and an MTA that logs none reads none.
    #[test]
    fn delays_in_seconds_by_mta() {
        for (mta, raw, want) in [
            (Mta::Postfix, "0.63", Some(0.63)),
            (Mta::Postfix, "46621", Some(46_621.0)),
            (Mta::Sendmail, "00:00:03", Some(3.0)),
            (Mta::Sendmail, "1+00:00:15", Some(86_415.0)),
            (Mta::Exim, "2s", Some(2.0)),
            (Mta::Exim, "0.123s", Some(0.123)),
            (Mta::Opensmtpd, "1m2s", Some(62.0)),
            (Mta::Opensmtpd, "0s", Some(0.0)),
            (Mta::Postfix, "soon", None),
            (Mta::Qmail, "1", None),
            (Mta::Mdaemon, "1", None),
            (Mta::Exchange, "1", None),
        ] {
            assert_eq!(delay_seconds(mta, raw.as_bytes()), want, "{mta:?} {raw}");
        }
        // Every row's own reader, not another MTA's.
        assert_eq!(delay_seconds(Mta::Sendmail, b"0.63"), None);
        assert_eq!(delay_seconds(Mta::Postfix, b"00:00:03"), None);
    }

    fn fixture_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                fixture_files(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// Every line of every fixture, with its file.
    fn each_fixture_line(f: &mut dyn FnMut(&std::path::Path, &[u8])) {
        let mut files = Vec::new();
        fixture_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
            &mut files,
        );
        for path in files {
            let Ok(text) = std::fs::read(&path) else {
                continue;
            };
            for line in text.split(|&b| b == b'\n') {
                f(&path, line);
            }
        }
    }

    /// The lead bytes of each row are right: on every line of every fixture, skipping the own
    /// formats by the first byte gives what trying them all gives.
    #[test]
    fn lead_bytes_skip_no_line_of_an_own_format() {
        let mut lines = 0;
        each_fixture_line(&mut |f, line| {
            assert_eq!(parse_line(line), parse_line_slowly(line), "{}", f.display());
            lines += 1;
        });
        assert!(lines > 10_000, "{lines}");
        // Own formats of every kind are among them.
        for line in [
            &b"@4000000063c6d9d2130f4c04 new msg 12345"[..],
            b"2024-01-15 10:00:00 1rPAbc-000123-AB <= a@example.org H=x [192.0.2.1] P=esmtp S=100",
            b"\"2003-11-06 00:00:42\",\"2003-11-06 00:00:45\",SMTPI,9443,\"a@b\",\"c@d\",\"\",\"\",\"10.0.0.16\",\"\",\"\",0,4563,1",
        ] {
            assert!(matches!(parse_line(line), Line::Known { .. }), "{line:?}");
            assert_eq!(parse_line(line), parse_line_slowly(line));
        }
    }

    /// A stamp taken from the last line's gives the line a fresh read gives: on every line
    /// of every fixture in order (one memo through all of them, as a chunk's lines share
    /// one), as each MTA too, and on stamps alike in their first bytes only.
    #[test]
    fn remembered_stamps_are_the_stamps_read() {
        let (mut stamps, mut hits, mut lines) = (syslog::Stamps::default(), 0, 0);
        let mut each = |line: &[u8]| {
            let before = stamps.clone();
            assert_eq!(
                parse_line_with(line, &mut stamps),
                parse_line(line),
                "{line:?}"
            );
            for mta in [Mta::Postfix, Mta::Sendmail, Mta::Exim] {
                let got = parse_line_as_with(line, Some(mta), &mut before.clone());
                assert_eq!(got, parse_line_as(line, Some(mta)), "{mta:?} {line:?}");
            }
            hits += usize::from(matches!(line.get(..16), Some(h) if before.starts(h)));
            lines += 1;
        };
        each_fixture_line(&mut |_, line| each(line));
        for line in [
            &b"Oct  2 07:44:21 mx postfix/qmgr[1]: 6B1B62259: removed"[..],
            b"Oct  2 07:44:21 mx postfix/qmgr[1]: 6B1B62259: removed",
            b"Oct  2 07:44:21.5 mx postfix/qmgr[1]: 6B1B62259: removed",
            b"Oct  2 07:44:21.5 mx postfix/qmgr[1]: 6B1B62259: removed",
            b"Oct  2 07:44:21 mx postfix/qmgr[1]: 6B1B62259: removed",
            b"Oct  2 07:44:2",
            b"Oct  2 07:44:21x",
            b"Oct  2 07:44:21 ",
            b"Oct 2 07:44:21 mx postfix/qmgr[1]: 6B1B62259: removed",
            b"Oct 2 07:44:21 mx postfix/qmgr[1]: 6B1B62259: removed",
            b"<22>Oct  2 07:44:21 mx postfix/qmgr[1]: 6B1B62259: removed",
            b"Oct  2 07:44:21 mx postfix/qmgr[1]: 6B1B62259: removed",
        ] {
            each(line);
        }
        assert!(lines > 10_000 && hits > 1_000, "{lines} {hits}");
    }

    /// Every parser decides a delivery's hop as [`hop`] does: on every delivery of every
    /// fixture, of each MTA, and on hops of each kind among them.
    #[test]
    fn every_delivery_has_its_hop_decided() {
        let (mut deliveries, mut hops) = (std::collections::BTreeMap::new(), 0);
        each_fixture_line(&mut |f, line| {
            if let Line::Known {
                mta,
                event: Event::Delivery(d),
                ..
            } = parse_line(line)
            {
                assert_eq!(d.hop, hop(&d), "{}: {line:?}", f.display());
                *deliveries.entry(mta).or_insert(0) += 1;
                hops += usize::from(d.hop.is_some());
            }
        });
        for mta in [Mta::Postfix, Mta::Sendmail, Mta::Exim, Mta::Opensmtpd] {
            assert!(deliveries.get(&mta).is_some_and(|&n| n > 0), "{mta:?}");
        }
        assert!(hops > 10, "{hops}");
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::{parse_line, Event, Line, Mta};
    use crate::time::RawStamp;

    /// The stamp and event of a line that must be recognised (as `mta`, when given).
    pub fn known(line: &str, mta: Option<Mta>) -> (RawStamp, Event<&[u8]>) {
        match parse_line(line.as_bytes()) {
            Line::Known {
                stamp,
                event,
                mta: got,
                ..
            } => {
                if let Some(want) = mta {
                    assert_eq!(got, want, "{line}");
                }
                (stamp, event)
            }
            Line::Unknown => panic!("not recognised: {line}"),
        }
    }

    pub fn b(s: &str) -> &[u8] {
        s.as_bytes()
    }
}
