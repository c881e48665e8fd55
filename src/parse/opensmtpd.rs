//! OpenSMTPD (`smtpd`, the default MTA of OpenBSD): `SESSION smtp connected address=… host=…`,
//! `SESSION smtp message msgid=… size=… nrcpt=… proto=…`, `SESSION smtp envelope evpid=… from=<…>
//! to=<…>`, `SESSION smtp failed-command command="…" result="…"`, and the outcomes
//! `SESSION mta|mda delivery evpid=… from=<…> to=<…> rcpt=<…> … delay=… result=… stat=…`. An
//! envelope ID's first 8 hex digits are its message ID: that is the queue ID of the records.

use super::{reply_codes, Delivery, DeliveryStatus, Event, Reject, RejectAction, SessionEvent};

/// True for OpenSMTPD's syslog name.
pub fn is_program(program: &[u8]) -> bool {
    program == b"smtpd"
}

/// True for a message ID: 8 lower-case hex digits (an envelope ID's first half).
pub fn is_msgid(w: &[u8]) -> bool {
    w.len() == 8 && w.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// The value of `key=` in `kv` (`key=value` pairs separated by spaces; a value may be quoted, and
/// then runs to its closing quote).
fn value<'a>(kv: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut rest = kv;
    loop {
        let eq = crate::search::byte(b'=', rest)?;
        let name = &rest[..eq];
        let after = &rest[eq + 1..];
        let (v, next) = match after.strip_prefix(b"\"") {
            Some(q) => {
                let end = crate::search::byte(b'"', q).unwrap_or(q.len());
                (&q[..end], q.get(end + 1..).unwrap_or_default())
            }
            None => {
                let end = crate::search::byte(b' ', after).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if name == key {
            return Some(v);
        }
        rest = next.trim_ascii_start();
    }
}

/// `<addr>` → `addr`.
fn bare(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .unwrap_or(v)
}

/// OpenSMTPD's durations: `0s`, `2s`, `1m3s`, `2h1m`, `1d2h3m4s`.
pub fn seconds(v: &[u8]) -> Option<f64> {
    let (mut total, mut n) = (0u64, None::<u64>);
    for &c in v {
        let unit = match c {
            b'0'..=b'9' => {
                n = Some(
                    n.unwrap_or(0)
                        .checked_mul(10)?
                        .checked_add(u64::from(c - b'0'))?,
                );
                continue;
            }
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86_400,
            _ => return None,
        };
        total = total.checked_add(n.take()?.checked_mul(unit)?)?;
    }
    (n.is_none() && !v.is_empty()).then_some(total as f64)
}

/// An OpenSMTPD message through syslog.
pub fn syslog<'a>(_program: &'a [u8], msg: &'a [u8]) -> Event<&'a [u8]> {
    let mut words = msg.splitn(3, |&c| c == b' ');
    let (Some(session), Some(subsystem), Some(rest)) = (words.next(), words.next(), words.next())
    else {
        return Event::Ignored;
    };
    if session.len() != 16 || !session.iter().all(u8::is_ascii_hexdigit) {
        return Event::Ignored;
    }
    let (what, kv) = match crate::search::byte(b' ', rest) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    // Some versions write `mta event=delivery …`.
    let what = what.strip_prefix(b"event=").unwrap_or(what);
    match (subsystem, what) {
        (b"smtp", b"connected") => connected(session, kv),
        (b"smtp", b"message") => message(session, kv),
        (b"smtp", b"envelope") => envelope(kv),
        (b"smtp", b"failed-command") => failed_command(session, kv),
        (b"smtp", b"disconnected") => Event::Session(SessionEvent::Disconnect { session }),
        (b"mta" | b"mda", b"delivery") => delivery(subsystem, kv),
        _ => Event::Ignored,
    }
}

/// `address=192.0.2.1 host=mx.example.org` (`address=local` for a local submission, and
/// `host=<unknown>` when the address has no name).
fn connected<'a>(session: &'a [u8], kv: &'a [u8]) -> Event<&'a [u8]> {
    let (Some(address), Some(host)) = (value(kv, b"address"), value(kv, b"host")) else {
        return Event::Malformed;
    };
    let ip = address
        .strip_prefix(b"[")
        .and_then(|a| a.strip_suffix(b"]"))
        .unwrap_or(address);
    let ip = if ip == b"local" { &ip[..0] } else { ip };
    let host = if host == b"<unknown>" {
        &host[..0]
    } else {
        host
    };
    Event::Session(SessionEvent::Connect { session, host, ip })
}

fn message<'a>(session: &'a [u8], kv: &'a [u8]) -> Event<&'a [u8]> {
    let Some(qid) = value(kv, b"msgid").filter(|q| is_msgid(q)) else {
        return Event::Malformed;
    };
    let number = |k| value(kv, k).and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
    Event::Session(SessionEvent::Message {
        session,
        qid,
        size: number(b"size"),
        nrcpt: number(b"nrcpt").and_then(|n: u64| u32::try_from(n).ok()),
        proto: value(kv, b"proto"),
    })
}

/// The message ID of `evpid=`.
fn msgid(kv: &[u8]) -> Option<&[u8]> {
    value(kv, b"evpid")
        .and_then(|e| e.get(..8))
        .filter(|q| is_msgid(q))
}

/// `evpid=… from=<…> to=<…>`: the message's sender.
fn envelope(kv: &[u8]) -> Event<&[u8]> {
    match (msgid(kv), value(kv, b"from")) {
        (Some(qid), Some(from)) => Event::Queued {
            qid,
            from: bare(from),
            size: None,
            nrcpt: None,
        },
        _ => Event::Malformed,
    }
}

/// `command="RCPT TO:<x@example.org> " result="550 Invalid recipient: <x@example.org>"`: a
/// refused command is a reject; a refusal of anything but MAIL or RCPT is not a mail.
fn failed_command<'a>(session: &'a [u8], kv: &'a [u8]) -> Event<&'a [u8]> {
    let (Some(command), Some(result)) = (value(kv, b"command"), value(kv, b"result")) else {
        return Event::Malformed;
    };
    if !matches!(reply_codes(result).0, Some(400..=599)) {
        return Event::Ignored;
    }
    let arg = |prefix: &[u8]| {
        command
            .get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .map(|_| bare(command[prefix.len()..].trim_ascii()))
    };
    let (stage, from, to) = match (arg(b"MAIL FROM:"), arg(b"RCPT TO:")) {
        (Some(from), _) => (&command[..4], Some(from), None),
        (_, Some(to)) => (&command[..4], None, Some(to)),
        _ => return Event::Ignored,
    };
    let reject = Reject {
        code: None,
        qid: None,
        action: RejectAction::Reject,
        milter: false,
        stage,
        client: &command[..0],
        reply: result,
        from,
        to,
        proto: None,
        helo: None,
    };
    Event::Session(SessionEvent::Reject { session, reject })
}

/// `mta delivery evpid=… from=<…> to=<…> rcpt=<…|-> source="…" relay="ip (name)" delay=2s
/// result="Ok" stat="250 …"`; `mda delivery … user=… delay=0s result=Ok stat=Delivered`.
fn delivery<'a>(subsystem: &'a [u8], kv: &'a [u8]) -> Event<&'a [u8]> {
    let (Some(qid), Some(to), Some(result)) = (msgid(kv), value(kv, b"to"), value(kv, b"result"))
    else {
        return Event::Malformed;
    };
    let status = match result {
        b"Ok" => DeliveryStatus::Sent,
        b"TempFail" => DeliveryStatus::Deferred,
        b"PermFail" | b"Loop" => DeliveryStatus::Bounced,
        _ => DeliveryStatus::Other,
    };
    // `rcpt=` is the address the client gave, when an alias expanded it to `to=`.
    let to = bare(to);
    let orig_to = value(kv, b"rcpt")
        .map(bare)
        .filter(|r| *r != b"-" && *r != to);
    let mut d = Delivery {
        qid,
        to,
        orig_to,
        // A local delivery (mda) names no relay: the agent stands for it.
        relay: value(kv, b"relay").unwrap_or(subsystem),
        delay: value(kv, b"delay"),
        delays: None,
        dsn: None,
        status,
        reply: value(kv, b"stat").unwrap_or_default(),
        list: false,
        // OpenSMTPD logs no line when a message leaves the queue.
        closes_when_final: true,
        hop: None,
    };
    d.hop = super::hop(&d);
    Event::Delivery(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::test_util::{b, known};
    use crate::record::Mta;

    fn event(line: &str) -> Event<&[u8]> {
        known(line, Some(Mta::Opensmtpd)).1
    }

    // Real lines: poolpOrg/poolp.org ("Brief logging"), see fixtures/README.md.
    const CONNECTED: &str = "Jul  6 06:01:46 ams-1 smtpd[75295]: 5df87c9c42abeddb smtp connected address=127.0.0.1 host=localhost";
    const MESSAGE: &str = "Jul  6 06:01:46 ams-1 smtpd[75295]: 5df87c9c42abeddb smtp message msgid=f6e94209 size=802 nrcpt=1 proto=ESMTP";
    const ENVELOPE: &str = "Jul  6 06:01:46 ams-1 smtpd[75295]: 5df87c9c42abeddb smtp envelope evpid=f6e94209918f7e7b from=<gilles@poolp.org> to=<gilles.chehade@gmail.com>";
    const MTA: &str = "Jul  6 06:01:48 ams-1 smtpd[75295]: 5df87c9ffd0e785d mta delivery evpid=f6e94209918f7e7b from=<gilles@poolp.org> to=<gilles.chehade@gmail.com> rcpt=<-> source=\"212.83.129.132\" relay=\"173.194.76.27 (ws-in-f27.1e100.net)\" delay=2s result=\"Ok\" stat=\"250 2.0.0 OK  1562385708 z11si6726563wmb.62 - gsmtp\"";
    const MDA: &str = "Jul  6 06:01:40 ams-1 smtpd[75295]: 5df87c9250bba470 mda delivery evpid=c405e39ad6bbc64f from=<gilles@poolp.org> to=<gilles@poolp.org> rcpt=<gilles@poolp.org> user=gilles delay=0s result=Ok stat=Delivered";

    #[test]
    fn session_lines() {
        assert_eq!(
            event(CONNECTED),
            Event::Session(SessionEvent::Connect {
                session: b("5df87c9c42abeddb"),
                host: b("localhost"),
                ip: b("127.0.0.1"),
            })
        );
        // A local submission has no address; an address without a name has no host.
        let local = "Jul  6 06:01:40 ams-1 smtpd[75295]: 5df87c903d709659 smtp connected address=local host=poolp.org";
        assert!(matches!(
            event(local),
            Event::Session(SessionEvent::Connect {
                ip: b"",
                host: b"poolp.org",
                ..
            })
        ));
        assert_eq!(
            event(MESSAGE),
            Event::Session(SessionEvent::Message {
                session: b("5df87c9c42abeddb"),
                qid: b("f6e94209"),
                size: Some(802),
                nrcpt: Some(1),
                proto: Some(b("ESMTP")),
            })
        );
        assert_eq!(
            event(ENVELOPE),
            Event::Queued {
                qid: b("f6e94209"),
                from: b("gilles@poolp.org"),
                size: None,
                nrcpt: None,
            }
        );
        let gone =
            "Jul  6 06:01:40 ams-1 smtpd[75295]: 5df87c903d709659 smtp disconnected reason=quit";
        assert!(matches!(
            event(gone),
            Event::Session(SessionEvent::Disconnect { .. })
        ));
        // Lines that carry nothing a record needs.
        for line in [
            "Jul  6 06:01:46 ams-1 smtpd[75295]: 5df87c9b982c840c mta connecting address=smtp://127.0.0.1:10027 host=localhost",
            "Jul  6 06:01:47 ams-1 smtpd[75295]: 5df87c9ffd0e785d mta tls ciphers=TLSv1.2:ECDHE-RSA-CHACHA20-POLY1305:256",
            "Jul  6 06:01:58 ams-1 smtpd[75295]: 5df87c9ffd0e785d mta disconnected reason=quit messages=1",
            "Jul  6 06:01:40 ams-1 smtpd[75295]: info: OpenSMTPD 6.4.0 starting",
        ] {
            assert_eq!(event(line), Event::Ignored, "{line}");
        }
    }

    #[test]
    fn deliveries() {
        let Event::Delivery(d) = event(MTA) else {
            panic!("{MTA}")
        };
        assert_eq!(
            (
                d.qid,
                d.to,
                d.orig_to,
                d.relay,
                d.status,
                d.delay.and_then(seconds)
            ),
            (
                b("f6e94209"),
                b("gilles.chehade@gmail.com"),
                None,
                b("173.194.76.27 (ws-in-f27.1e100.net)"),
                DeliveryStatus::Sent,
                Some(2.0)
            )
        );
        assert_eq!(
            d.reply,
            b("250 2.0.0 OK  1562385708 z11si6726563wmb.62 - gsmtp")
        );
        let Event::Delivery(d) = event(MDA) else {
            panic!("{MDA}")
        };
        assert_eq!(
            (d.qid, d.to, d.orig_to, d.relay, d.reply),
            (
                b("c405e39a"),
                b("gilles@poolp.org"),
                None,
                b("mda"),
                b("Delivered")
            )
        );
        // Real lines: a temporary failure (poolp.org) and a permanent one (an OpenSMTPD setup
        // guide); names redacted as in the source.
        let temp = "Jul  6 07:12:00 ams-1 smtpd[75295]: 4b3a6c195c1f6010 mta delivery evpid=8f26ea98359eccea from=<misc+bounces-4541-user=tin.it@opensmtpd.org> to=<user@tin.it> rcpt=<-> source=\"45.76.46.201\" relay=\"62.211.72.32 (smtp.tin.it)\" delay=0s result=\"TempFail\" stat=\"421 <user@tin.it> Service not available - too busy\"";
        let Event::Delivery(d) = event(temp) else {
            panic!("{temp}")
        };
        assert_eq!(d.status, DeliveryStatus::Deferred);
        let perm = "Mar 22 17:56:37 mercury smtpd[45037]: 8f4864084ecc48f4 mta event=delivery evpid=7077717e797a776e from=<puffy@example.com> to=<bill@hotmail.com> rcpt=<-> source=\"203.0.113.1\" relay=\"104.47.38.33 (104.47.38.33)\" delay=1s result=\"PermFail\" stat=\"550 5.7.1 Unfortunately, messages from [203.0.113.1] weren't sent.\"";
        let Event::Delivery(d) = event(perm) else {
            panic!("{perm}")
        };
        assert_eq!((d.qid, d.status), (b("7077717e"), DeliveryStatus::Bounced));
    }

    #[test]
    fn refused_commands_are_rejects() {
        // Real line (a blog on OpenSMTPD in a jail, see fixtures/README.md).
        let line = "May  1 10:00:00 cun smtpd[1234]: bf23567dd3150185 smtp failed-command command=\"RCPT TO:<root@cun.bsdsx.fr> \" result=\"550 Invalid recipient: <root@cun.bsdsx.fr>\"";
        let Event::Session(SessionEvent::Reject { session, reject }) = event(line) else {
            panic!("{line}")
        };
        assert_eq!(session, b("bf23567dd3150185"));
        assert_eq!(
            (reject.stage, reject.to, reject.from, reject.reply),
            (
                b("RCPT"),
                Some(b("root@cun.bsdsx.fr")),
                None,
                b("550 Invalid recipient: <root@cun.bsdsx.fr>")
            )
        );
    }

    #[test]
    fn durations() {
        for (text, want) in [
            ("0s", Some(0.0)),
            ("54s", Some(54.0)),
            ("1m3s", Some(63.0)),
            ("1d2h3m4s", Some(93_784.0)),
            ("", None),
            ("5", None),
            ("s", None),
            ("1x", None),
        ] {
            assert_eq!(seconds(text.as_bytes()), want, "{text}");
        }
    }
}
