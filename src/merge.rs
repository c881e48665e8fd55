//! Merge stage: correlates the events of each message by (host, queue ID) and emits one
//! [`Record`] per recipient delivery attempt or rejection, at the line that decides it.
//! Memory holds open messages only: a message closes on `removed`, and a queue ID seen again
//! after that is a new message. [`Reorder`] then puts records in time order.

use crate::parse::postfix::is_queue_id;
use crate::parse::{
    is_loopback_ip, reply_codes, split_peer, Delivery, DeliveryStatus, Event, Mta, Reject,
    RejectAction,
};
use crate::record::{Record, Status};
use crate::time::Stamp;
use hashbrown::HashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Where and when the line being merged was written.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub file: usize,
    pub line: u64,
    pub ts: Stamp,
    pub host: &'a [u8],
    pub mta: Mta,
}

/// What a message inherits from the hop before it (content filter or bounce notification).
#[derive(Debug, Clone, Default)]
struct Origin {
    prev_qid: Vec<u8>,
    /// A content-filter hop carries the original client; a bounce notification does not.
    client: Option<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    received: Option<Stamp>,
}

#[derive(Debug, Default)]
struct Message {
    first_seen: Option<Stamp>,
    client_host: Vec<u8>,
    client_ip: Vec<u8>,
    sasl_username: Vec<u8>,
    sender: Option<Vec<u8>>,
    size: Option<u64>,
    nrcpt: Option<u32>,
    message_id: Vec<u8>,
    origin: Option<Origin>,
    /// Recipients whose last attempt was deferred (for `status=expired`).
    deferred: Vec<Vec<u8>>,
}

/// The correlation state of one run; carries across input files.
#[derive(Debug, Default)]
pub struct Merger {
    open: HashMap<Vec<u8>, Message>,
    links: HashMap<Vec<u8>, Origin>,
    key: Vec<u8>,
}

fn set_key(key: &mut Vec<u8>, host: &[u8], qid: &[u8]) {
    key.clear();
    key.extend_from_slice(host);
    key.push(0);
    key.extend_from_slice(qid);
}

/// The queue ID a content filter or next MTA gave the message: `… queued as 6A3D8C0` or, for
/// filters that only echo it, a queue-ID-shaped last word (`250 OK, sent … 7918B29DA`).
pub fn queued_as(reply: &[u8]) -> Option<&[u8]> {
    let word = |s: &[u8]| -> usize {
        s.iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .unwrap_or(s.len())
    };
    if let Some(i) = memchr::memmem::find(reply, b"queued as ") {
        let s = &reply[i + 10..];
        let id = &s[..word(s)];
        return is_queue_id(id).then_some(id);
    }
    let trimmed = reply
        .iter()
        .rposition(|c| c.is_ascii_alphanumeric())
        .map_or(&reply[..0], |e| &reply[..=e]);
    let start = trimmed
        .iter()
        .rposition(|c| !c.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    let id = &trimmed[start..];
    is_queue_id(id).then_some(id)
}

impl Merger {
    pub fn new() -> Self {
        Merger::default()
    }

    /// Messages seen but not yet `removed`.
    pub fn open_messages(&self) -> usize {
        self.open.len()
    }

    fn message(&mut self, ctx: &Ctx, qid: &[u8]) -> &mut Message {
        set_key(&mut self.key, ctx.host, qid);
        let links = &mut self.links;
        self.open
            .entry_ref(self.key.as_slice())
            .or_insert_with(|| Message {
                first_seen: Some(ctx.ts),
                origin: links.remove(self.key.as_slice()),
                ..Message::default()
            })
    }

    /// Merges one event; records it decides are pushed to `out`.
    pub fn event(&mut self, ctx: &Ctx, ev: Event<&[u8]>, out: &mut Vec<Record>) {
        match ev {
            Event::Client {
                qid,
                client,
                sasl_username,
            } => {
                let m = self.message(ctx, qid);
                let (h, ip, _) = split_peer(client);
                m.client_host = h.to_vec();
                m.client_ip = ip.to_vec();
                m.sasl_username = sasl_username.unwrap_or_default().to_vec();
            }
            Event::Pickup { qid, from } => {
                let m = self.message(ctx, qid);
                m.sender.get_or_insert_with(|| from.to_vec());
            }
            Event::MessageId { qid, message_id } => {
                self.message(ctx, qid).message_id = message_id.to_vec();
            }
            Event::Queued {
                qid,
                from,
                size,
                nrcpt,
            } => {
                let m = self.message(ctx, qid);
                m.sender = Some(from.to_vec());
                m.size = size.or(m.size);
                m.nrcpt = nrcpt.or(m.nrcpt);
            }
            Event::Expired { qid, from } => {
                let m = self.message(ctx, qid);
                m.sender.get_or_insert_with(|| from.to_vec());
                let pending = std::mem::take(&mut m.deferred);
                let mut base = base_record(ctx, qid, m);
                base.status = Some(Status::Expired);
                base.reply = b"expired, returned to sender".to_vec();
                if pending.is_empty() {
                    out.push(base);
                } else {
                    for to in pending {
                        let mut r = base.clone();
                        r.recipient = to;
                        out.push(r);
                    }
                }
            }
            Event::Removed { qid } => {
                set_key(&mut self.key, ctx.host, qid);
                self.open.remove(self.key.as_slice());
            }
            Event::Delivery(d) => self.delivery(ctx, d, out),
            Event::Reject(r) => self.reject(ctx, r, out),
            Event::Notification { qid, new_qid } => {
                let received = self.message(ctx, qid).first_seen;
                let origin = Origin {
                    prev_qid: qid.to_vec(),
                    client: None,
                    received,
                };
                self.link(ctx, new_qid, origin);
            }
            Event::Ignored | Event::Malformed => {}
        }
    }

    /// Attaches `origin` to message `new_qid`, now if it is open, else when it first appears.
    fn link(&mut self, ctx: &Ctx, new_qid: &[u8], origin: Origin) {
        set_key(&mut self.key, ctx.host, new_qid);
        match self.open.get_mut(self.key.as_slice()) {
            Some(m) => {
                m.origin.get_or_insert(origin);
            }
            None => {
                self.links.insert(self.key.clone(), origin);
            }
        }
    }

    fn delivery(&mut self, ctx: &Ctx, d: Delivery<&[u8]>, out: &mut Vec<Record>) {
        let status = match d.status {
            DeliveryStatus::Sent => Status::Sent,
            DeliveryStatus::Deferred => Status::Deferred,
            DeliveryStatus::Bounced => Status::Bounced,
            DeliveryStatus::Expired => Status::Expired,
            // Address probes and unknown states are not delivery attempts.
            DeliveryStatus::Deliverable | DeliveryStatus::Undeliverable | DeliveryStatus::Other => {
                return
            }
        };
        let m = self.message(ctx, d.qid);
        let mut r = base_record(ctx, d.qid, m);
        r.status = Some(status);
        r.recipient = d.to.to_vec();
        r.orig_recipient = d.orig_to.unwrap_or_default().to_vec();
        r.relay = d.relay.to_vec();
        let (rh, rip, rport) = split_peer(d.relay);
        r.relay_host = rh.to_vec();
        r.relay_ip = rip.to_vec();
        r.relay_port = rport;
        r.delay = d.delay;
        r.delays = d.delays;
        r.reply = d.reply.to_vec();
        let (code, reply_dsn) = reply_codes(strip_host_said(d.reply));
        r.smtp_code = code;
        r.dsn = d.dsn.or(reply_dsn).unwrap_or_default().to_vec();
        if status == Status::Deferred {
            if !m.deferred.iter().any(|t| t == d.to) {
                m.deferred.push(d.to.to_vec());
            }
        } else {
            m.deferred.retain(|t| t != d.to);
        }
        let hop = (status == Status::Sent && is_loopback_ip(rip))
            .then(|| queued_as(d.reply))
            .flatten();
        if let Some(new_qid) = hop {
            r.next_queue_id = new_qid.to_vec();
            let origin = match &m.origin {
                // A second filter pass keeps the first client and arrival.
                Some(o) if o.client.is_some() => Origin {
                    prev_qid: d.qid.to_vec(),
                    ..o.clone()
                },
                // The first hop's client, if the log showed it (it may have begun mid-flight).
                _ => Origin {
                    prev_qid: d.qid.to_vec(),
                    client: (!m.client_host.is_empty() || !m.client_ip.is_empty()).then(|| {
                        (
                            m.client_host.clone(),
                            m.client_ip.clone(),
                            m.sasl_username.clone(),
                        )
                    }),
                    received: m.first_seen,
                },
            };
            self.link(ctx, new_qid, origin);
        }
        out.push(r);
    }

    fn reject(&mut self, ctx: &Ctx, rj: Reject<&[u8]>, out: &mut Vec<Record>) {
        let status = match rj.action {
            RejectAction::Reject => Status::Rejected,
            RejectAction::Discard => Status::Discarded,
            // A warning rejects nothing; a hold is not an attempt (the message waits).
            RejectAction::RejectWarning | RejectAction::Hold => return,
        };
        let mut r = match rj.qid {
            Some(qid) => {
                let m = self.message(ctx, qid);
                if let Some(from) = rj.from {
                    m.sender.get_or_insert_with(|| from.to_vec());
                }
                base_record(ctx, qid, m)
            }
            None => Record {
                ts: Some(ctx.ts),
                received_ts: Some(ctx.ts),
                host: ctx.host.to_vec(),
                mta: Some(ctx.mta),
                ..Record::default()
            },
        };
        r.status = Some(status);
        if !rj.client.is_empty() {
            let (h, ip, _) = split_peer(rj.client);
            if r.client_host.is_empty() && r.client_ip.is_empty() || rj.qid.is_none() {
                r.client_host = h.to_vec();
                r.client_ip = ip.to_vec();
            }
        }
        if let Some(from) = rj.from {
            r.sender = Some(from.to_vec());
        }
        r.recipient = rj.to.unwrap_or_default().to_vec();
        r.proto = rj.proto.unwrap_or_default().to_vec();
        r.helo = rj.helo.unwrap_or_default().to_vec();
        r.reply = rj.reply.to_vec();
        let (code, dsn) = reply_codes(rj.reply);
        r.smtp_code = code;
        r.dsn = dsn.unwrap_or_default().to_vec();
        out.push(r);
    }
}

/// `host mx[1.2.3.4] said: 550 5.1.1 …` → `550 5.1.1 …`, so the reply code can be read.
fn strip_host_said(reply: &[u8]) -> &[u8] {
    match memchr::memmem::find(reply, b" said: ") {
        Some(i) if reply.starts_with(b"host ") => &reply[i + 7..],
        _ => reply,
    }
}

/// The fields every record of message `qid` shares.
fn base_record(ctx: &Ctx, qid: &[u8], m: &Message) -> Record {
    let mut r = Record {
        ts: Some(ctx.ts),
        host: ctx.host.to_vec(),
        mta: Some(ctx.mta),
        queue_id: qid.to_vec(),
        message_id: m.message_id.clone(),
        sender: m.sender.clone(),
        client_host: m.client_host.clone(),
        client_ip: m.client_ip.clone(),
        sasl_username: m.sasl_username.clone(),
        size: m.size,
        nrcpt: m.nrcpt,
        received_ts: m.first_seen,
        source_file: ctx.file,
        source_line: ctx.line,
        ..Record::default()
    };
    if let Some(o) = &m.origin {
        r.prev_queue_id = o.prev_qid.clone();
        r.received_ts = o.received.or(m.first_seen);
        if let Some((h, ip, sasl)) = &o.client {
            r.client_host = h.clone();
            r.client_ip = ip.clone();
            r.sasl_username = sasl.clone();
        }
    }
    r
}

/// Puts records in time order (by instant), ties in arrival order. Records are held until the newest
/// timestamp seen is `window` seconds past them, so memory is bounded by the log's disorder,
/// not its size; disorder larger than the window (a clock step) is passed through as is.
pub struct Reorder {
    heap: BinaryHeap<Reverse<Held>>,
    seq: u64,
    newest: Option<jiff::Timestamp>,
    window: jiff::SignedDuration,
}

struct Held(jiff::Timestamp, u64, Box<Record>);

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

impl Reorder {
    pub fn new(window_secs: i64) -> Self {
        Reorder {
            heap: BinaryHeap::new(),
            seq: 0,
            newest: None,
            window: jiff::SignedDuration::from_secs(window_secs),
        }
    }

    /// Adds a record; records now older than the window are passed to `emit` in order.
    pub fn push<E>(
        &mut self,
        r: Record,
        emit: &mut impl FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        let key = r.ts.map(|t| t.instant).unwrap_or_default();
        if self.newest.is_none_or(|n| key > n) {
            self.newest = Some(key);
        }
        self.heap.push(Reverse(Held(key, self.seq, Box::new(r))));
        self.seq += 1;
        let Some(limit) = self.newest.and_then(|n| n.checked_sub(self.window).ok()) else {
            return Ok(());
        };
        while self.heap.peek().is_some_and(|Reverse(h)| h.0 < limit) {
            if let Some(Reverse(h)) = self.heap.pop() {
                emit(*h.2)?;
            }
        }
        Ok(())
    }

    /// Emits everything still held, in order.
    pub fn finish<E>(&mut self, emit: &mut impl FnMut(Record) -> Result<(), E>) -> Result<(), E> {
        while let Some(Reverse(h)) = self.heap.pop() {
            emit(*h.2)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::parse::{parse_line, Line};
    use crate::time::{YearResolver, YearStart};

    /// Runs log text through parse and merge, as the pipeline does.
    fn merge_text(text: &str) -> Vec<Record> {
        let mut m = Merger::new();
        let mut years = YearResolver::new(YearStart::FirstLineIn(2026));
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Line::Known {
                stamp,
                host,
                mta,
                event,
            } = parse_line(line.as_bytes())
            {
                let Ok(ts) = years.resolve(&stamp) else {
                    continue;
                };
                let ctx = Ctx {
                    file: 0,
                    line: n as u64 + 1,
                    ts,
                    host,
                    mta,
                };
                m.event(&ctx, event, &mut out);
            }
        }
        out
    }

    #[test]
    fn content_filter_hop_links_to_the_new_queue_id() {
        // Real lines: gitpan-Mail-Log-Parse t/data/log.
        let recs = merge_text(include_str!("../fixtures/postfix/content-filter.log"));
        assert_eq!(recs.len(), 2);
        let (hop, fin) = (&recs[0], &recs[1]);
        assert!(hop.is_hop());
        assert_eq!(hop.queue_id, b"ECF422BE6");
        assert_eq!(hop.next_queue_id, b"3FF792A76");
        assert!(!fin.is_hop());
        assert_eq!(fin.queue_id, b"3FF792A76");
        assert_eq!(fin.prev_queue_id, b"ECF422BE6");
        // The final delivery carries the first hop's client and arrival.
        assert_eq!(fin.client_ip, b"10.0.80.60");
        assert_eq!(fin.received_ts, hop.received_ts);
        assert_eq!(fin.size, Some(75244));
        assert_eq!(fin.relay_ip, b"10.0.0.1");
        assert_eq!(fin.source_line, 9);
    }

    #[test]
    fn a_queue_id_seen_again_after_removed_is_a_new_message() {
        let recs = merge_text(
            "Mar 14 09:00:00 mx1 postfix/qmgr[99]: 1111111111: from=<first@example.org>, size=1000, nrcpt=1 (queue active)
Mar 14 09:00:01 mx1 postfix/smtp[102]: 1111111111: to=<x@example.com>, relay=mx.example.com[198.51.100.5]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 ok)
Mar 14 09:00:01 mx1 postfix/qmgr[99]: 1111111111: removed
Mar 14 10:00:00 mx1 postfix/smtp[102]: 1111111111: to=<y@example.com>, relay=mx.example.com[198.51.100.5]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 ok)
Mar 14 10:00:00 mx2 postfix/smtp[102]: 1111111111: to=<z@example.com>, relay=mx.example.com[198.51.100.5]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 ok)
",
        );
        assert_eq!(recs[0].sender.as_deref(), Some(&b"first@example.org"[..]));
        // Reused ID on the same host, and the same ID on another host: no inherited sender.
        assert_eq!(recs[1].sender, None);
        assert_eq!(recs[2].sender, None);
    }

    #[test]
    fn queued_as_forms() {
        assert_eq!(
            queued_as(b"250 2.0.0 Ok: queued as 71111424269E"),
            Some(&b"71111424269E"[..])
        );
        assert_eq!(
            queued_as(b"250 OK, sent 48A8F422_13987_12168_1 6B1B62259"),
            Some(&b"6B1B62259"[..])
        );
        assert_eq!(
            queued_as(b"250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4PbC4x469Jz3tBr"),
            Some(&b"4PbC4x469Jz3tBr"[..])
        );
        assert_eq!(queued_as(b"250 2.0.0 <u@x> ABCDEF Saved"), None);
        assert_eq!(queued_as(b"delivered to mailbox"), None);
    }

    #[test]
    fn reorder_sorts_within_window_and_keeps_ties_in_order() {
        use jiff::civil::date;
        let rec = |h: i8, m: i8, q: &str| Record {
            ts: Some(Stamp::utc(date(2026, 1, 1).at(h, m, 0, 0))),
            queue_id: q.as_bytes().to_vec(),
            ..Record::default()
        };
        let mut ro = Reorder::new(3600);
        let mut got = Vec::new();
        let mut emit = |r: Record| -> Result<(), ()> {
            got.push(String::from_utf8_lossy(&r.queue_id).into_owned());
            Ok(())
        };
        for r in [
            rec(10, 0, "a"),
            rec(9, 59, "b"),
            rec(10, 0, "c"),
            rec(12, 0, "d"),
        ] {
            let _ = ro.push(r, &mut emit);
        }
        let _ = ro.finish(&mut emit);
        assert_eq!(got, ["b", "a", "c", "d"]);
    }
}
