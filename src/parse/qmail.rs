//! qmail (qmail-send): multilog lines with a raw TAI64N label (`@4000000063c1f2a21c4b3e8c …`,
//! decoded exactly: they carry their own year), `tai64nlocal` output (`2016-03-15
//! 10:54:07.474204500 …`), and splogger through syslog (`qmail: 1063526289.292776 …`: the
//! syslog stamp is the wall time as logged, as maillogconvert.pl reads it). Knows `new msg N`
//! (qmail reuses numbers: a new message), `info msg N: bytes B from <a>`, `starting delivery
//! D: msg N to local|remote addr`, `delivery D: success|failure|deferral: text`, `end msg N`;
//! deliveries are keyed by delivery number.

use super::{Arrival, DeliveryStatus, Event};
use crate::time::RawStamp;

/// True for the syslog tags qmail-send logs under (splogger).
pub fn is_program(program: &[u8]) -> bool {
    program == b"qmail" || program == b"qmail-send"
}

/// A qmail line of its own format: a TAI64N label (multilog), or a date as tai64nlocal writes
/// it, then the qmail-send message.
pub fn own(line: &[u8]) -> Option<(RawStamp, Event<&[u8]>)> {
    if line.first() == Some(&b'@') {
        if let Some((stamp, used)) = tai64n(line) {
            let body = line.get(used..).unwrap_or_default();
            let body = body.strip_prefix(b" ").unwrap_or(body);
            return Some((stamp, parse(body)));
        }
    }
    let (stamp, body) = crate::parse::exim::mainlog_header(line)?;
    is_body(body).then(|| (stamp, parse(body)))
}

/// A qmail message through syslog (splogger): its epoch prefix is dropped, the syslog stamp
/// is the wall time as logged.
pub fn syslog<'a>(_program: &'a [u8], msg: &'a [u8]) -> Event<&'a [u8]> {
    parse(epoch_prefix(msg).map_or(msg, |(_, b)| b))
}

/// Decodes a TAI64N label (`@` + 24 hex digits): 2^62 + 10 + Unix seconds, then nanoseconds.
/// Returns the stamp and the bytes used.
pub fn tai64n(line: &[u8]) -> Option<(RawStamp, usize)> {
    let hex = line.strip_prefix(b"@")?.get(..24)?;
    let s = std::str::from_utf8(hex).ok()?;
    let label = u64::from_str_radix(s.get(..16)?, 16).ok()?;
    let nanos = u32::from_str_radix(s.get(16..)?, 16).ok()?;
    let secs = i64::try_from(label.checked_sub(0x4000_0000_0000_000A)?).ok()?;
    if nanos >= 1_000_000_000 {
        return None;
    }
    Some((RawStamp::Epoch { secs, nanos }, 25))
}

/// `1063526289.292776 ` at the start of a splogger message: the epoch stamp and the rest.
pub fn epoch_prefix(msg: &[u8]) -> Option<(RawStamp, &[u8])> {
    let sp = crate::search::byte(b' ', msg)?;
    let (num, rest) = (&msg[..sp], &msg[sp + 1..]);
    let (int, frac) = match crate::search::byte(b'.', num) {
        Some(d) => (&num[..d], &num[d + 1..]),
        None => (num, &num[num.len()..]),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let secs: i64 = std::str::from_utf8(int).ok()?.parse().ok()?;
    let mut nanos = 0u32;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |c| u32::from(c - b'0'));
    }
    Some((RawStamp::Epoch { secs, nanos }, rest))
}

/// True if `body` is a qmail-send message (for dated lines, which Exim writes too).
pub fn is_body(body: &[u8]) -> bool {
    const STARTS: [&[u8]; 8] = [
        b"new msg ",
        b"info msg ",
        b"starting delivery ",
        b"delivery ",
        b"end msg ",
        b"bounce msg ",
        b"status: local ",
        b"triple bounce",
    ];
    STARTS.iter().any(|s| body.starts_with(s))
}

fn number(v: &[u8]) -> &[u8] {
    let n = v.iter().take_while(|c| c.is_ascii_digit()).count();
    &v[..n]
}

/// Parses a qmail-send message.
pub fn parse(body: &[u8]) -> Event<&[u8]> {
    if let Some(v) = body.strip_prefix(b"new msg ") {
        let qid = number(v);
        return if qid.is_empty() {
            Event::Malformed
        } else {
            Event::NewMessage { qid }
        };
    }
    if let Some(v) = body.strip_prefix(b"info msg ") {
        let qid = number(v);
        let rest = &v[qid.len()..];
        let Some(b) = super::finder!(b"bytes ").find(rest) else {
            return Event::Malformed;
        };
        let size = std::str::from_utf8(number(&rest[b + 6..]))
            .ok()
            .and_then(|s| s.parse().ok());
        let from = super::finder!(b" from <").find(rest).and_then(|f| {
            let a = &rest[f + 7..];
            crate::search::byte(b'>', a).map(|e| &a[..e])
        });
        let Some(from) = from else {
            return Event::Malformed;
        };
        return Event::Arrival(Arrival {
            size,
            ..Arrival::new(qid, from)
        });
    }
    if let Some(v) = body.strip_prefix(b"starting delivery ") {
        // `2392: msg 93869 to remote lwq@w3.to`
        let delivery = number(v);
        let rest = &v[delivery.len()..];
        let Some(rest) = rest.strip_prefix(b": msg ") else {
            return Event::Malformed;
        };
        let qid = number(rest);
        let Some(rest) = rest[qid.len()..].strip_prefix(b" to ") else {
            return Event::Malformed;
        };
        let sp = crate::search::byte(b' ', rest).unwrap_or(rest.len());
        return Event::DeliveryStart {
            qid,
            delivery,
            channel: &rest[..sp],
            to: rest.get(sp + 1..).unwrap_or_default(),
        };
    }
    if let Some(v) = body.strip_prefix(b"delivery ") {
        // `2392: success: 209.85.127.177_accepted_message./Remote_host_said:_250_…/`
        let delivery = number(v);
        let Some(rest) = v[delivery.len()..].strip_prefix(b": ") else {
            return Event::Malformed;
        };
        let colon = crate::search::byte(b':', rest).unwrap_or(rest.len());
        let status = match &rest[..colon] {
            b"success" => DeliveryStatus::Sent,
            b"failure" => DeliveryStatus::Bounced,
            b"deferral" => DeliveryStatus::Deferred,
            _ => return Event::Malformed,
        };
        let reply = rest.get(colon + 1..).unwrap_or_default().trim_ascii();
        return Event::DeliveryEnd {
            delivery,
            status,
            reply,
        };
    }
    if let Some(v) = body.strip_prefix(b"end msg ") {
        let qid = number(v);
        return if qid.is_empty() {
            Event::Malformed
        } else {
            Event::Removed { qid }
        };
    }
    Event::Ignored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::test_util::{b, known};
    use crate::parse::Mta;

    fn event(line: &str) -> (RawStamp, Event<&[u8]>) {
        known(line, Some(Mta::Qmail))
    }

    #[test]
    fn tai64n_is_decoded_exactly() {
        // 0x38c3eeb0 - 10 = 952364710 = 2000-03-06T17:45:10Z; 0x27f41c7c ns = .670309500
        let (s, n) = tai64n(b"@4000000038c3eeb027f41c7c new msg 93869").unwrap_or_else(|| panic!());
        assert_eq!(
            (s, n),
            (
                RawStamp::Epoch {
                    secs: 952_364_710,
                    nanos: 670_309_500
                },
                25
            )
        );
        assert!(tai64n(b"@40000000").is_none());
    }

    // Real lines: alotofwe-qmail_log/one.log (multilog), the splogger and tai64nlocal examples
    // quoted in maillogconvert.pl.
    #[test]
    fn multilog_lines() {
        assert_eq!(
            event("@4000000038c3eeb027f41c7c new msg 93869").1,
            Event::NewMessage { qid: b("93869") }
        );
        let (_, e) = event("@4000000038c3eeb027f6b0a4 info msg 93869: bytes 2343 from <dave@sill.org> qp 18695 uid 49491");
        assert!(
            matches!(e, Event::Arrival(a) if a.qid == b("93869") && a.from == b("dave@sill.org") && a.size == Some(2343))
        );
        let (_, e) = event(
            "@4000000038c3eeb02877ee94 starting delivery 2392: msg 93869 to remote lwq@w3.to",
        );
        assert_eq!(
            e,
            Event::DeliveryStart {
                qid: b("93869"),
                delivery: b("2392"),
                channel: b("remote"),
                to: b("lwq@w3.to")
            }
        );
        let (_, e) = event("@4000000038c3eeb104a13804 delivery 2392: success: 209.85.127.177_accepted_message. /Remote_host_said:_250_CAA01516_Message_accepted_for_delivery/");
        assert!(matches!(
            e,
            Event::DeliveryEnd {
                status: DeliveryStatus::Sent,
                ..
            }
        ));
        assert_eq!(
            event("@4000000038c3eeb104a6ecf4 end msg 93869").1,
            Event::Removed { qid: b("93869") }
        );
        assert_eq!(
            event("@4000000038c3eeb0287b55ac status: local 0/10 remote 1/20").1,
            Event::Ignored
        );
    }

    #[test]
    fn failures_deferrals_and_bounces() {
        // No corpus line has them: the success line of multilog-one.log with qmail-send's other
        // two results, and its bounce messages.
        let (_, e) = event("@4000000038c3eeb104a13804 delivery 2392: failure: Sorry,_no_mailbox_here_by_that_name._(#5.1.1)/");
        assert!(matches!(
            e,
            Event::DeliveryEnd {
                status: DeliveryStatus::Bounced,
                ..
            }
        ));
        let (_, e) = event("@4000000038c3eeb104a13804 delivery 2392: deferral: Connected_to_209.85.127.177_but_connection_died._(#4.4.2)/");
        assert!(matches!(
            e,
            Event::DeliveryEnd {
                status: DeliveryStatus::Deferred,
                ..
            }
        ));
        assert_eq!(
            event("@4000000038c3eeb104a13804 bounce msg 93869 qp 18700").1,
            Event::Ignored
        );
        assert_eq!(
            event("@4000000038c3eeb104a13804 triple bounce: discarding bounce/93869").1,
            Event::Ignored
        );
        assert_eq!(
            event("@4000000038c3eeb104a13804 delivery 2392: garbage").1,
            Event::Malformed
        );
    }

    #[test]
    fn splogger_and_tai64nlocal() {
        let (s, e) = event("Sep 14 09:58:09 gandalf qmail: 1063526289.292776 info msg 270182: bytes 10712 from <john@john.do> qp 54945 uid 82");
        // The syslog stamp is kept (wall time as logged); the epoch prefix is read and dropped.
        assert!(
            matches!(s, RawStamp::Bsd { clock, .. } if matches!(clock.key(), (_, _, 9, 58, 9))),
            "{s:?}"
        );
        assert_eq!(
            epoch_prefix(b"1063526289.292776 info"),
            Some((
                RawStamp::Epoch {
                    secs: 1_063_526_289,
                    nanos: 292_776_000
                },
                &b"info"[..]
            ))
        );
        assert!(matches!(e, Event::Arrival(a) if a.qid == b("270182")));
        let (_, e) = event("Sep 14 09:58:09 gandalf qmail: 1063526289.574100 starting delivery 251: msg 270182 to local spamreport@john.do");
        assert!(matches!(e, Event::DeliveryStart { channel, .. } if channel == b("local")));
        let (_, e) = event(
            "Sep 14 09:58:09 gandalf qmail: 1063526289.744259 delivery 251: success: did_0+0+1/",
        );
        assert!(matches!(e, Event::DeliveryEnd { reply, .. } if reply == b("did_0+0+1/")));
        let (s, e) = event("2003-09-27 11:22:07.070367500 delivery 3714: success: did_1+0+0/");
        assert!(matches!(s, RawStamp::Iso { offset: None, .. }));
        assert!(matches!(e, Event::DeliveryEnd { .. }));
        // rblsmtpd/qmail-smtpd lines through splogger are qmail's but carry no delivery.
        assert_eq!(event("Sep  6 07:18:29 sd6 qmail: 1157519909.633171 qmail-smtpd: 421 badiprbl: ip 198.51.100.54 rbl: example.com").1, Event::Ignored);
    }
}
