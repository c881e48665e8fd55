//! Parse stage: one log line in, one [`Line`] out. Pure functions over borrowed bytes; nothing
//! here allocates, does I/O or fails: a line no parser knows comes back as [`Line::Unknown`].
//! Events are generic over the byte-slice type so the pipeline can turn borrowed slices into
//! chunk-relative [`Span`]s and hand parsed chunks between threads without copying.

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
pub mod postfix;
pub mod qmail;
pub mod sendmail;
pub mod span;
pub mod syslog;

pub use crate::record::Mta;
pub use event::*;
pub use fields::*;
pub use span::Span;

/// Parses one line as `mta` wrote it, whatever its syslog tag (`--mta`: a Postfix with a
/// custom `syslog_name`, a Sendmail renamed); lines that are not of that MTA are unknown.
pub fn parse_line_as(line: &[u8], mta: Option<Mta>) -> Line<&[u8]> {
    let Some(mta) = mta else {
        return parse_line(line);
    };
    let known = |stamp, host, event| Line::Known {
        stamp,
        host,
        mta,
        event,
    };
    match mta {
        Mta::Mdaemon => {
            mdaemon::parse(line).map_or(Line::Unknown, |(s, e)| known(s, &line[..0], e))
        }
        Mta::Exchange => {
            exchange::parse(line).map_or(Line::Unknown, |(s, e)| known(s, &line[..0], e))
        }
        Mta::Exim => match exim::mainlog_header(line) {
            Some((s, body)) => known(s, &line[..0], exim::parse(body)),
            None => syslog::parse(line).map_or(Line::Unknown, |h| {
                known(h.stamp, h.host, exim::parse(exim::syslog_body(h.msg)))
            }),
        },
        Mta::Qmail => match parse_line(line) {
            l @ Line::Known {
                mta: Mta::Qmail, ..
            } => l,
            _ => syslog::parse(line).map_or(Line::Unknown, |h| {
                let body = qmail::epoch_prefix(h.msg).map_or(h.msg, |(_, b)| b);
                known(h.stamp, h.host, qmail::parse(body))
            }),
        },
        Mta::Postfix => syslog::parse(line).map_or(Line::Unknown, |h| {
            let daemon =
                memchr::memrchr(b'/', h.program).map_or(h.program, |i| &h.program[i + 1..]);
            known(h.stamp, h.host, postfix::parse(daemon, h.msg))
        }),
        Mta::Sendmail => syslog::parse(line).map_or(Line::Unknown, |h| {
            known(h.stamp, h.host, sendmail::parse(h.msg))
        }),
    }
}

/// Parses one line (without its line end), recognising the MTA from the line.
pub fn parse_line(line: &[u8]) -> Line<&[u8]> {
    if line.first() == Some(&b'"') {
        if let Some((stamp, event)) = mdaemon::parse(line) {
            return Line::Known {
                stamp,
                host: &line[..0],
                mta: Mta::Mdaemon,
                event,
            };
        }
    }
    if let Some((stamp, event)) = exchange::parse(line) {
        return Line::Known {
            stamp,
            host: &line[..0],
            mta: Mta::Exchange,
            event,
        };
    }
    if line.first() == Some(&b'@') {
        if let Some((stamp, used)) = qmail::tai64n(line) {
            let body = line.get(used..).unwrap_or_default();
            let body = body.strip_prefix(b" ").unwrap_or(body);
            return Line::Known {
                stamp,
                host: &line[..0],
                mta: Mta::Qmail,
                event: qmail::parse(body),
            };
        }
    }
    if let Some((stamp, body)) = exim::mainlog_header(line) {
        // Dated lines: Exim's mainlog, or qmail through tai64nlocal.
        if qmail::is_body(body) {
            return Line::Known {
                stamp,
                host: &line[..0],
                mta: Mta::Qmail,
                event: qmail::parse(body),
            };
        }
        return Line::Known {
            stamp,
            host: &line[..0],
            mta: Mta::Exim,
            event: exim::parse(body),
        };
    }
    let Some(h) = syslog::parse(line) else {
        return Line::Unknown;
    };
    if let Some(daemon) = postfix::daemon(h.program) {
        return Line::Known {
            stamp: h.stamp,
            host: h.host,
            mta: Mta::Postfix,
            event: postfix::parse(daemon, h.msg),
        };
    }
    if sendmail::is_program(h.program) {
        return Line::Known {
            stamp: h.stamp,
            host: h.host,
            mta: Mta::Sendmail,
            event: sendmail::parse(h.msg),
        };
    }
    if qmail::is_program(h.program) {
        // The syslog stamp is the wall time as logged; splogger's epoch prefix is dropped.
        let body = qmail::epoch_prefix(h.msg).map_or(h.msg, |(_, b)| b);
        return Line::Known {
            stamp: h.stamp,
            host: h.host,
            mta: Mta::Qmail,
            event: qmail::parse(body),
        };
    }
    if exim::is_program(h.program) {
        return Line::Known {
            stamp: h.stamp,
            host: h.host,
            mta: Mta::Exim,
            event: exim::parse(exim::syslog_body(h.msg)),
        };
    }
    Line::Unknown
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
