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

/// The first `a` followed by `b` (`", "`, `": "`): two bytes do not need a substring searcher
/// (its set-up costs more than these short searches), and these separators are found many
/// times a line.
pub fn find_pair(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    memchr::memchr_iter(a, hay).find(|&i| hay.get(i + 1) == Some(&b))
}

pub mod exchange;
pub mod exim;
pub mod mdaemon;
pub mod postfix;
pub mod qmail;
pub mod sendmail;
pub mod syslog;

use crate::time::RawStamp;
use std::num::NonZeroU32;

/// The mail transfer agent that wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mta {
    Postfix,
    Exim,
    Sendmail,
    Qmail,
    Mdaemon,
    Exchange,
}

impl Mta {
    /// Every MTA, in declaration order (`Mta as usize` indexes it).
    pub const ALL: [Mta; 6] = [
        Mta::Postfix,
        Mta::Exim,
        Mta::Sendmail,
        Mta::Qmail,
        Mta::Mdaemon,
        Mta::Exchange,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mta::Postfix => "postfix",
            Mta::Exim => "exim",
            Mta::Sendmail => "sendmail",
            Mta::Qmail => "qmail",
            Mta::Mdaemon => "mdaemon",
            Mta::Exchange => "exchange",
        }
    }
}

/// What a delivery agent said happened to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryStatus {
    Sent,
    Deferred,
    Bounced,
    Expired,
    /// Address verification probes (`status=deliverable|undeliverable`): not deliveries.
    Deliverable,
    Undeliverable,
    Other,
}

/// `reject`, `milter-reject`, `discard`, … : what smtpd/cleanup did with a message or recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectAction {
    Reject,
    RejectWarning,
    Discard,
    Hold,
}

/// A `to=` line of a delivery agent (smtp, lmtp, local, virtual, pipe, error, discard).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery<S> {
    pub qid: S,
    pub to: S,
    pub orig_to: Option<S>,
    /// Raw `relay=` value: `host[ip]:port`, `local`, `none`, `dovecot`, …
    pub relay: S,
    pub delay: Option<f64>,
    /// `delays=a/b/c/d`: before queue, in queue, connection set-up, transmission.
    pub delays: Option<[f64; 4]>,
    pub dsn: Option<S>,
    pub status: DeliveryStatus,
    pub reply: S,
    /// `to` lists several recipients, comma-separated (Sendmail): one record each.
    pub list: bool,
}

/// A line that is a whole record by itself (MDaemon, Exchange tracking logs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standalone<S> {
    pub qid: S,
    pub from: S,
    pub to: S,
    pub client_host: Option<S>,
    pub client_ip: Option<S>,
    pub relay: Option<S>,
    pub size: Option<u64>,
    /// maillogconvert.pl's code: 1 delivered, 999 failed.
    pub code: u16,
    /// Exchange event 1031 (outbound): maillogconvert.pl swaps the two hosts.
    pub outbound: bool,
    /// MDaemon's virus, RBL, heuristic spam and SSL fields (AWStats' `%url`).
    pub virus: Option<S>,
    pub rbl: Option<S>,
    pub spam: Option<S>,
    pub ssl: Option<S>,
}

impl<S> Standalone<S> {
    fn map<T>(self, f: &mut impl FnMut(S) -> T) -> Standalone<T> {
        Standalone {
            qid: f(self.qid),
            from: f(self.from),
            to: f(self.to),
            client_host: self.client_host.map(&mut *f),
            client_ip: self.client_ip.map(&mut *f),
            relay: self.relay.map(&mut *f),
            size: self.size,
            code: self.code,
            outbound: self.outbound,
            virus: self.virus.map(&mut *f),
            rbl: self.rbl.map(&mut *f),
            spam: self.spam.map(&mut *f),
            ssl: self.ssl.map(&mut *f),
        }
    }
}

/// An arrival line: everything optional but the queue ID and sender.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival<S> {
    pub qid: S,
    pub from: S,
    pub size: Option<u64>,
    pub nrcpt: Option<u32>,
    pub client_host: Option<S>,
    pub client_ip: Option<S>,
    pub helo: Option<S>,
    pub proto: Option<S>,
    pub message_id: Option<S>,
    pub sasl_username: Option<S>,
    /// The message this one answers (Exim bounces: `<= <> R=ORIGINAL-ID`).
    pub prev_qid: Option<S>,
}

impl<S> Arrival<S> {
    /// An arrival with only its queue ID and sender known.
    pub fn new(qid: S, from: S) -> Self {
        Arrival {
            qid,
            from,
            size: None,
            nrcpt: None,
            client_host: None,
            client_ip: None,
            helo: None,
            proto: None,
            message_id: None,
            sasl_username: None,
            prev_qid: None,
        }
    }

    fn map<T>(self, f: &mut impl FnMut(S) -> T) -> Arrival<T> {
        Arrival {
            qid: f(self.qid),
            from: f(self.from),
            size: self.size,
            nrcpt: self.nrcpt,
            client_host: self.client_host.map(&mut *f),
            client_ip: self.client_ip.map(&mut *f),
            helo: self.helo.map(&mut *f),
            proto: self.proto.map(&mut *f),
            message_id: self.message_id.map(&mut *f),
            sasl_username: self.sasl_username.map(&mut *f),
            prev_qid: self.prev_qid.map(&mut *f),
        }
    }
}

/// A `reject:`-family line: `NOQUEUE: reject: RCPT from …; from=<…> to=<…> proto=… helo=<…>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reject<S> {
    pub qid: Option<S>,
    pub action: RejectAction,
    /// `milter-reject` rather than `reject`.
    pub milter: bool,
    /// SMTP stage or cleanup check: `RCPT`, `DATA`, `CONNECT`, `END-OF-MESSAGE`, `header`, …
    pub stage: S,
    /// Raw client `host[ip]` (possibly with `:port`), empty when not logged.
    pub client: S,
    /// The reply sent to the client: `554 5.7.1 <x>: Relay access denied`.
    pub reply: S,
    pub from: Option<S>,
    pub to: Option<S>,
    pub proto: Option<S>,
    pub helo: Option<S>,
}

/// One recognised event. Queue IDs are as logged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<S> {
    /// smtpd `client=host[ip]` (+ `sasl_username=`).
    Client {
        qid: S,
        client: S,
        sasl_username: Option<S>,
    },
    /// pickup `uid=N from=<…>`: a local submission.
    Pickup {
        qid: S,
        from: S,
    },
    /// cleanup `message-id=<…>`.
    MessageId {
        qid: S,
        message_id: S,
    },
    /// qmgr `from=<…>, size=N, nrcpt=N (queue active)`.
    Queued {
        qid: S,
        from: S,
        size: Option<u64>,
        nrcpt: Option<u32>,
    },
    /// A message accepted, with what its arrival line tells (Exim `<=`): sender, size and the
    /// client in one line.
    Arrival(Arrival<S>),
    /// A whole record in one line (MDaemon, Exchange).
    Standalone(Standalone<S>),
    /// qmail `new msg N`: message number N starts afresh (qmail reuses numbers).
    NewMessage {
        qid: S,
    },
    /// qmail `starting delivery D: msg N to local|remote addr`.
    DeliveryStart {
        qid: S,
        delivery: S,
        channel: S,
        to: S,
    },
    /// qmail `delivery D: success|failure|deferral: text`.
    DeliveryEnd {
        delivery: S,
        status: DeliveryStatus,
        reply: S,
    },
    /// qmgr `from=<…>, status=expired, returned to sender`.
    Expired {
        qid: S,
        from: S,
    },
    /// qmgr/postsuper `removed`: the message is gone; its queue ID may be reused.
    Removed {
        qid: S,
    },
    Delivery(Delivery<S>),
    Reject(Reject<S>),
    /// bounce `sender non-delivery notification: NEWID` (and delivery-status notifications).
    Notification {
        qid: S,
        new_qid: S,
    },
    /// A line of a known MTA that carries nothing a record needs (connect, warning, …).
    Ignored,
    /// A line of a known MTA in a form we know but could not read (truncated, garbled).
    Malformed,
}

/// A parsed log line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line<S> {
    /// Not a line of a mail server we read.
    Unknown,
    Known {
        stamp: RawStamp,
        host: S,
        mta: Mta,
        event: Event<S>,
    },
}

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

/// A byte range inside a chunk: the thread-portable form of a borrowed slice. The end is
/// stored plus one, never zero, so that `Option<Span>` takes no more room than a span (parsed
/// lines are copied between threads: their size is memory traffic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end1: NonZeroU32,
}

impl Default for Span {
    fn default() -> Span {
        Span {
            start: 0,
            end1: NonZeroU32::MIN,
        }
    }
}

impl Span {
    /// The span of `part` inside `base`; empty (and harmless) if `part` is not inside it.
    pub fn of(base: &[u8], part: &[u8]) -> Span {
        let b = base.as_ptr() as usize;
        let p = part.as_ptr() as usize;
        if part.is_empty() || p < b || p + part.len() > b + base.len() {
            return Span::default();
        }
        let start = u32::try_from(p - b).ok();
        let end1 = start
            .and_then(|s| {
                u32::try_from(part.len())
                    .ok()?
                    .checked_add(s)?
                    .checked_add(1)
            })
            .and_then(NonZeroU32::new);
        match (start, end1) {
            (Some(start), Some(end1)) => Span { start, end1 },
            _ => Span::default(),
        }
    }

    pub fn get(self, base: &[u8]) -> &[u8] {
        base.get(self.start as usize..self.end1.get() as usize - 1)
            .unwrap_or_default()
    }
}

impl<S> Delivery<S> {
    fn map<T>(self, f: &mut impl FnMut(S) -> T) -> Delivery<T> {
        Delivery {
            qid: f(self.qid),
            to: f(self.to),
            orig_to: self.orig_to.map(&mut *f),
            relay: f(self.relay),
            delay: self.delay,
            delays: self.delays,
            dsn: self.dsn.map(&mut *f),
            status: self.status,
            reply: f(self.reply),
            list: self.list,
        }
    }
}

impl<S> Reject<S> {
    fn map<T>(self, f: &mut impl FnMut(S) -> T) -> Reject<T> {
        Reject {
            qid: self.qid.map(&mut *f),
            action: self.action,
            milter: self.milter,
            stage: f(self.stage),
            client: f(self.client),
            reply: f(self.reply),
            from: self.from.map(&mut *f),
            to: self.to.map(&mut *f),
            proto: self.proto.map(&mut *f),
            helo: self.helo.map(&mut *f),
        }
    }
}

impl<S> Event<S> {
    /// Converts every slice of the event with `f` (borrowed slice ⇄ span).
    #[inline]
    pub fn map<T>(self, f: &mut impl FnMut(S) -> T) -> Event<T> {
        match self {
            Event::Client {
                qid,
                client,
                sasl_username,
            } => Event::Client {
                qid: f(qid),
                client: f(client),
                sasl_username: sasl_username.map(f),
            },
            Event::Pickup { qid, from } => Event::Pickup {
                qid: f(qid),
                from: f(from),
            },
            Event::MessageId { qid, message_id } => Event::MessageId {
                qid: f(qid),
                message_id: f(message_id),
            },
            Event::Queued {
                qid,
                from,
                size,
                nrcpt,
            } => Event::Queued {
                qid: f(qid),
                from: f(from),
                size,
                nrcpt,
            },
            Event::Arrival(a) => Event::Arrival(a.map(f)),
            Event::NewMessage { qid } => Event::NewMessage { qid: f(qid) },
            Event::Standalone(x) => Event::Standalone(x.map(f)),
            Event::DeliveryStart {
                qid,
                delivery,
                channel,
                to,
            } => Event::DeliveryStart {
                qid: f(qid),
                delivery: f(delivery),
                channel: f(channel),
                to: f(to),
            },
            Event::DeliveryEnd {
                delivery,
                status,
                reply,
            } => Event::DeliveryEnd {
                delivery: f(delivery),
                status,
                reply: f(reply),
            },
            Event::Expired { qid, from } => Event::Expired {
                qid: f(qid),
                from: f(from),
            },
            Event::Removed { qid } => Event::Removed { qid: f(qid) },
            Event::Delivery(d) => Event::Delivery(d.map(f)),
            Event::Reject(r) => Event::Reject(r.map(f)),
            Event::Notification { qid, new_qid } => Event::Notification {
                qid: f(qid),
                new_qid: f(new_qid),
            },
            Event::Ignored => Event::Ignored,
            Event::Malformed => Event::Malformed,
        }
    }
}

impl<S> Line<S> {
    #[inline]
    pub fn map<T>(self, mut f: impl FnMut(S) -> T) -> Line<T> {
        match self {
            Line::Unknown => Line::Unknown,
            Line::Known {
                stamp,
                host,
                mta,
                event,
            } => Line::Known {
                stamp,
                host: f(host),
                mta,
                event: event.map(&mut f),
            },
        }
    }
}

/// Splits a peer as Postfix logs it, `host[ip]`, `host[ip]:port` or `[ip]:port`, into host, ip
/// and port. A value without brackets (`local`, `none`, `dovecot`) is all host.
pub fn split_peer(raw: &[u8]) -> (&[u8], &[u8], Option<u16>) {
    // The last bracket pair: Sendmail's MSP logs `relay=[127.0.0.1] [127.0.0.1]`.
    let Some(close) = memchr::memrchr(b']', raw) else {
        return (raw, &raw[raw.len()..], None);
    };
    let Some(open) = memchr::memrchr(b'[', &raw[..close]) else {
        return (raw, &raw[raw.len()..], None);
    };
    let port = raw
        .get(close + 1..)
        .and_then(|r| r.strip_prefix(b":"))
        .and_then(port_number);
    // Exim writes `host [ip]` with a space, and `name (helo) [ip]`: the helo is not the host.
    let mut host = raw[..open].trim_ascii_end();
    if host.ends_with(b")") {
        if let Some(p) = memchr::memchr(b'(', host) {
            host = host[..p].trim_ascii_end();
        }
    }
    (host, &raw[open + 1..close], port)
}

/// A TCP port, read as `str::parse::<u16>` reads it (an optional `+`, digits, at most 65535),
/// without going through `str`.
fn port_number(p: &[u8]) -> Option<u16> {
    let p = p.strip_prefix(b"+").unwrap_or(p);
    if p.is_empty() {
        return None;
    }
    p.iter().try_fold(0u16, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u16::from(d - b'0'))
    })
}

/// True for 127.0.0.0/8, ::1 and ::ffff:127.x: a relay on this machine (a content filter).
pub fn is_loopback_ip(ip: &[u8]) -> bool {
    let ip = ip
        .strip_prefix(b"::ffff:")
        .or_else(|| ip.strip_prefix(b"IPv6:::ffff:"))
        .unwrap_or(ip);
    ip.starts_with(b"127.") || ip == b"::1" || ip == b"IPv6:::1"
}

/// The SMTP reply code (any three digits, as maillogconvert.pl reads it) and enhanced status
/// code at the start of a reply text:
/// `554 5.7.1 <x>: …` → (Some(554), Some("5.7.1")); `5.7.1 Blocked` → (None, Some("5.7.1")).
pub fn reply_codes(reply: &[u8]) -> (Option<u16>, Option<&[u8]>) {
    let mut rest = reply;
    let mut code = None;
    if rest.len() >= 3
        && rest[..3].iter().all(u8::is_ascii_digit)
        && matches!(rest.get(3), None | Some(b' ' | b'-'))
    {
        code = Some(
            rest[..3]
                .iter()
                .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0')),
        );
        rest = rest.get(4..).unwrap_or_default();
    }
    let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let word = &rest[..end];
    let dsn = is_dsn(word).then_some(word);
    (code, dsn)
}

/// `2.0.0`, `5.1.1`, `4.7.25`: class digit, dot, 1–3 digits, dot, 1–3 digits.
pub fn is_dsn(w: &[u8]) -> bool {
    // Read as bytes: this runs for every delivery and reject.
    let digits = |p: &[u8]| p.iter().take_while(|c| c.is_ascii_digit()).count();
    let [b'2' | b'4' | b'5', b'.', rest @ ..] = w else {
        return false;
    };
    let n = digits(rest);
    if !(1..=3).contains(&n) || rest.get(n) != Some(&b'.') {
        return false;
    }
    let last = &rest[n + 1..];
    let m = digits(last);
    (1..=3).contains(&m) && m == last.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers() {
        let (h, i, p) = split_peer(b"mx.example.com[192.0.2.1]:25");
        assert_eq!(
            (h, i, p),
            (&b"mx.example.com"[..], &b"192.0.2.1"[..], Some(25))
        );
        let (h, i, p) = split_peer(b"unknown[2001:558:fe21:2a::6]");
        assert_eq!(
            (h, i, p),
            (&b"unknown"[..], &b"2001:558:fe21:2a::6"[..], None)
        );
        let (h, i, p) = split_peer(b"[1.2.3.4]:51234");
        assert_eq!((h, i, p), (&b""[..], &b"1.2.3.4"[..], Some(51234)));
        for (text, want) in [
            ("25", Some(25)),
            ("+25", Some(25)),
            ("0000025", Some(25)),
            ("65535", Some(65535)),
            ("65536", None),
            ("", None),
            ("+", None),
            ("2a", None),
            ("-1", None),
        ] {
            assert_eq!(port_number(text.as_bytes()), want, "{text}");
            assert_eq!(text.parse::<u16>().ok(), want, "{text}: as str::parse");
        }
        let (h, i, p) = split_peer(b"local");
        assert_eq!((h, i, p), (&b"local"[..], &b""[..], None));
        // Sendmail's MSP hand-off (infohtreasure maillog): the address is the last pair.
        let (h, i, p) = split_peer(b"[127.0.0.1] [127.0.0.1]");
        assert_eq!((h, i, p), (&b"[127.0.0.1]"[..], &b"127.0.0.1"[..], None));
    }

    #[test]
    fn codes() {
        assert_eq!(
            reply_codes(b"554 5.7.1 <x@y>: Relay access denied"),
            (Some(554), Some(&b"5.7.1"[..]))
        );
        assert_eq!(reply_codes(b"5.7.1 Blocked"), (None, Some(&b"5.7.1"[..])));
        assert_eq!(reply_codes(b"Service unavailable"), (None, None));
        assert_eq!(
            reply_codes(b"250-2.0.0 Ok"),
            (Some(250), Some(&b"2.0.0"[..]))
        );
        assert_eq!(reply_codes(b"421"), (Some(421), None));
        assert_eq!(reply_codes(b"4211 x"), (None, None));
        for dsn in ["2.0.0", "5.1.1", "4.7.25", "5.123.456"] {
            assert!(is_dsn(dsn.as_bytes()), "{dsn}");
        }
        for not in [
            "", "2", "2.", "2.0", "2.0.", "3.0.0", "2.0.0.", "2.0.0.0", "2.1234.0", "2.0.1234",
            "2..0", "2.0.x", "x.0.0", "25.0.0",
        ] {
            assert!(!is_dsn(not.as_bytes()), "{not}");
        }
        assert!(is_loopback_ip(b"127.0.0.1") && is_loopback_ip(b"::1"));
        assert!(!is_loopback_ip(b"10.0.0.1"));
    }

    #[test]
    fn span_roundtrip() {
        let base = b"hello world";
        let s = Span::of(base, &base[6..]);
        assert_eq!(s.get(base), b"world");
        assert_eq!(Span::of(base, b"elsewhere").get(base), b"");
        assert_eq!(Span::of(base, &base[..0]).get(base), b"");
        assert_eq!(Span::of(base, &base[..5]).get(base), b"hello");
        assert_eq!(Span::of(base, &base[10..]).get(base), b"d");
        assert_eq!(Span::default().get(base), b"");
        // The niche: an optional span is no bigger than a span.
        assert_eq!(
            std::mem::size_of::<Option<Span>>(),
            std::mem::size_of::<Span>()
        );
    }
}

/// Helpers for the parsers' unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    use super::{parse_line, Event, Line, Mta, RawStamp};

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
