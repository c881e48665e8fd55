//! Merge stage: correlates the events of each message by (host, queue ID) and emits one
//! record per recipient delivery attempt or rejection, at the line that decides it. Records
//! are handed to `emit` as [`RecordRef`]s borrowing the line and the message, so a record
//! written at once costs no copy; an error from `emit` stops the merge at that line. Memory
//! holds open messages only: a message closes on `removed`, and a queue ID seen again after
//! that is a new message. What a line means for a message's life comes in its event: this
//! stage knows no MTA and no output format.

mod deferred;
mod hops;
mod numbered;
mod reject;
pub mod route;
mod session;
mod shard;
mod standalone;
mod text;

pub use crate::parse::queued_as;
pub use shard::{Moved, Sharded};

use crate::error::Error;
use crate::parse::{postfix, reply_codes, split_peer, Delivery, DeliveryStatus, Event, Mta};
use crate::record::{RecordRef, Status};
use crate::time::Stamp;
use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;
use hops::{strip_host_said, Origin};
use text::Text;

/// Where and when the line being merged was written.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub line: u64,
    /// By reference into the chunk's stamps, which the lines of a second share.
    pub ts: &'a Stamp,
    pub host: &'a [u8],
    pub mta: Mta,
    /// The name of the input, for the records' `source_file`.
    pub source: &'a [u8],
    /// The line's place in the run (any increasing number): records held across shards are
    /// written in the order one merger would have written them.
    pub order: u64,
}

/// Where the merger hands each record it decides.
pub type Emit<'e> = dyn FnMut(&RecordRef) -> Result<(), Error> + 'e;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Message {
    first_seen: Option<Stamp>,
    /// Log time (seconds) of the message's latest line, for eviction.
    last_seen: i64,
    pub(super) client_host: Text,
    pub(super) client_ip: Text,
    sasl_username: Text,
    helo: Text,
    pub(super) proto: Text,
    sender: Option<Text>,
    pub(super) size: Option<u64>,
    pub(super) nrcpt: Option<u32>,
    message_id: Text,
    /// Boxed: most messages have none, and an open message should stay small.
    origin: Option<Box<Origin>>,
    /// Recipients whose last attempt was deferred (for `status=expired`).
    deferred: deferred::Deferred,
    /// Recipients with a final status (sent, bounced): Sendmail logs no `removed`, so a
    /// message closes when all its `nrcpts` are final.
    finished: u32,
}

/// An open message as the table holds it: boxed, with the log time of its latest line beside
/// the box (also in the message, which a state saves). A sweep reads every open message's time,
/// and each behind its pointer was a cache miss (Sendmail: 3% of a run's samples, perf).
#[derive(Debug)]
pub(super) struct Open {
    last_seen: i64,
    /// A sweep found the message silent for an hour, but neither settled nor abandoned: until
    /// a line changes it ([`Merger::message`] clears this), later sweeps need not look again.
    waiting: bool,
    pub(super) message: Box<Message>,
}

impl Open {
    pub(super) fn new(message: Box<Message>) -> Open {
        Open {
            last_seen: message.last_seen,
            waiting: false,
            message,
        }
    }
}

/// Saved as the message alone, as before.
impl serde::Serialize for Open {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.message.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Open {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Open, D::Error> {
        <Box<Message> as serde::Deserialize>::deserialize(d).map(Open::new)
    }
}

impl Message {
    /// Bytes of room its fields hold on the heap (but its origin's: a spare drops it).
    fn heap(&self) -> usize {
        // Every field named, as in `reopen`: a field added later is counted or said not to be.
        let Message {
            first_seen: _,
            last_seen: _,
            client_host,
            client_ip,
            sasl_username,
            helo,
            proto,
            sender,
            size: _,
            nrcpt: _,
            message_id,
            origin: _,
            deferred,
            finished: _,
        } = self;
        [
            client_host,
            client_ip,
            sasl_username,
            helo,
            proto,
            message_id,
        ]
        .iter()
        .map(|t| t.heap())
        .sum::<usize>()
            + sender.as_ref().map_or(0, Text::heap)
            + deferred.heap()
    }

    /// A closed message made ready to be the next one opened: as `Message::default()` with
    /// `first_seen` and `origin`, its fields' room kept.
    fn reopen(&mut self, first_seen: Stamp, origin: Option<Box<Origin>>) {
        // Every field named, so that a field added later cannot be left out.
        let Message {
            first_seen: first,
            last_seen,
            client_host,
            client_ip,
            sasl_username,
            helo,
            proto,
            sender,
            size,
            nrcpt,
            message_id,
            origin: from,
            deferred,
            finished,
        } = self;
        *first = Some(first_seen);
        *last_seen = 0;
        for t in [
            client_host,
            client_ip,
            sasl_username,
            helo,
            proto,
            message_id,
        ] {
            t.clear();
        }
        *sender = None;
        *size = None;
        *nrcpt = None;
        *from = origin;
        deferred.clear();
        *finished = 0;
    }

    /// Every recipient has a final status and none waits for a retry: only `removed` (and a
    /// bounce notice, logged at once) can follow. A message whose recipient count was never
    /// logged counts as settled once one recipient is final: Sendmail logs no `from=` line for
    /// the bounce notices it makes (`QID: NEWID: DSN: …`), so each would otherwise wait the
    /// whole eviction age (a week) in the open table.
    fn settled(&self) -> bool {
        let all_final = match self.nrcpt {
            Some(n) => self.finished >= n,
            None => self.finished > 0,
        };
        all_final && self.deferred.is_empty()
    }

    /// Nothing but the client is known: no sender, no size, no recipient (a session that ended
    /// after RCPT, before the message was queued). Nothing can make a record of it.
    fn abandoned(&self) -> bool {
        self.sender.is_none()
            && self.size.is_none()
            && self.nrcpt.is_none()
            && self.deferred.is_empty()
            && self.finished == 0
    }
}

/// The correlation state of one run; carries across input files, and across runs when saved
/// (`--state`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Merger {
    /// Boxed: the table stays small (it doubles as it grows, and a bucket is a key and a
    /// pointer), and messages do not move when it grows.
    open: HashMap<Stored, Open, ByTail>,
    links: HashMap<Stored, Origin, ByTail>,
    /// qmail deliveries started and not yet reported, by (host, delivery number).
    deliveries: HashMap<Vec<u8>, numbered::Pending>,
    /// Scratch space for a key.
    #[serde(skip)]
    key: Vec<u8>,
    /// Closed messages with their keys, for the next messages this merger opens: no allocation
    /// a message, and none freed on another thread (a shard's group runs on any worker).
    #[serde(skip)]
    spare: Vec<(Stored, Box<Message>)>,
    /// Records that stand alone and are written once (Exchange).
    once: standalone::Once,
    /// Open SMTP sessions of MTAs that key lines by session (OpenSMTPD).
    sessions: session::Sessions,
    /// Messages with no line for this long (log time) are dropped: they never saw `removed`
    /// (the log began or ended mid-flight, the server crashed); their deliveries were written.
    max_age: i64,
    last_sweep: i64,
    /// This run's figures.
    #[serde(skip)]
    evicted: u64,
    #[serde(skip)]
    settled_dropped: u64,
    #[serde(skip)]
    abandoned: u64,
    #[serde(skip)]
    shed: u64,
    /// Rejects of a queued message whose sender line is yet to come (Sendmail logs a refused
    /// recipient, then `from=…, nrcpts=0` when the session ends): held for
    /// [`SENDER_WAIT_SECS`] of log time to be written once, with the sender. Never saved: a
    /// run's last ones are written when it ends.
    #[serde(skip)]
    pending: Vec<reject::Pending>,
    /// One shard of several ([`Sharded`]): the budgets are shared, and sweeps come from the
    /// router (at the lines one merger would have swept at), not from this shard's lines.
    #[serde(skip, default = "one")]
    share: usize,
    /// Records carry the relay split into host, IP and port, Postfix's delays read, and the
    /// message's ID, HELO name, protocol and SASL user kept (else the relay only as logged and
    /// none of the others: the output reads no more, and the split was ~15% of the merge
    /// step's instructions on a Postfix log, keeping the message ID 0.4%, callgrind).
    #[serde(skip, default = "yes")]
    details: bool,
    /// A delivery's record carries the SMTP code its reply starts with, and the DSN the reply
    /// starts with when the line logs none (else only a logged DSN: the reply's were read for
    /// every delivery, ~1.4% of a Postfix run's instructions, callgrind, and AWStats reads
    /// neither).
    #[serde(skip, default = "yes")]
    reply_codes: bool,
}

fn yes() -> bool {
    true
}

fn one() -> usize {
    1
}

/// A settled message (every recipient final) with no line for this long is dropped, not kept
/// for the whole eviction age: its `removed` was lost, and nothing else can follow. So is an
/// abandoned one (only its client known).
const SETTLED_AGE_SECS: i64 = 3600;

/// Open messages kept at most (~620 bytes each): past this, the tenth that has been silent
/// longest is dropped, whatever the log time. Memory stays bounded whatever the input.
pub const OPEN_BUDGET: usize = 250_000;

/// Closed messages a merger keeps for reuse at most.
const SPARE_MESSAGES: usize = 64;

/// Heap room (key and fields) a closed message may hold to be kept for reuse: a field set in
/// place keeps its room, and the spares stay within ~6 MiB for the 64 shards whatever the lines.
const SPARE_ROOM: usize = 1024;

/// Default eviction age: above Postfix's `maximal_queue_lifetime` of 5 days.
pub const DEFAULT_MAX_AGE_SECS: i64 = 7 * 86_400;

impl Default for Merger {
    fn default() -> Self {
        Merger::with_max_age(DEFAULT_MAX_AGE_SECS)
    }
}

pub(super) fn set_key(key: &mut Vec<u8>, host: &[u8], qid: &[u8]) {
    key.clear();
    key.reserve(host.len() + 1 + qid.len());
    key.extend_from_slice(host);
    key.push(0);
    key.extend_from_slice(qid);
}

/// A message's key as the tables keep it (and a run's state saves it): `host\0id`. It hashes
/// as its two parts, so a line's host and queue ID look it up as they are: copied into one
/// buffer first, the key was read back while the copies were still being stored, a stall at
/// which perf put a fifth of the message look-up's samples.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub(super) struct Stored(pub(super) Vec<u8>);

/// A message key as a line names it: a host and a queue ID.
#[derive(Debug, Clone, Copy)]
pub(super) struct Probe<'a> {
    host: &'a [u8],
    id: &'a [u8],
}

impl<'a> Probe<'a> {
    pub(super) fn new(host: &'a [u8], id: &'a [u8]) -> Self {
        Probe { host, id }
    }

    /// The parts of a stored key: split at its first NUL (the router's `hash_stored` reads
    /// them so too).
    pub(super) fn of_stored(key: &'a [u8]) -> Self {
        match crate::search::byte(0, key) {
            Some(i) => Probe::new(&key[..i], &key[i + 1..]),
            None => Probe::new(&key[..0], key),
        }
    }

    /// The last eight bytes of the stored key (`host\0id`) it names, as [`tail`] reads them,
    /// without making the key.
    fn tail(self) -> u64 {
        if let Some(w) = self.id.last_chunk::<8>() {
            return u64::from_le_bytes(*w);
        }
        let host = self.host;
        let from_host = host.len().min(7 - self.id.len());
        let w = host[host.len() - from_host..].iter().fold(0, shift_in);
        self.id.iter().fold(shift_in(w, &0), shift_in)
    }
}

/// Message tables hash a key by its length and last eight bytes ([`key_hash`]): a queue ID
/// ends its key, and these bytes tell one from another. A line's host and ID are hashed so
/// without copying them together, the same way however a NUL in the host splits the stored
/// key, and for ~20 instructions, not hashbrown's ~95 for the two parts (callgrind).
type ByTail = std::hash::BuildHasherDefault<route::Spread>;

/// `w` with byte `b` shifted in at the top: folding a key's last (up to) eight bytes in order
/// gives them as a little-endian word, zero below if fewer.
fn shift_in(w: u64, &b: &u8) -> u64 {
    (w >> 8) | (u64::from(b) << 56)
}

/// The last (up to) eight bytes of `key` as a little-endian word (zero below if fewer).
fn tail(key: &[u8]) -> u64 {
    match key.last_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => key.iter().fold(0, shift_in),
    }
}

/// A stored key's hash from its length and last eight bytes, mixed (a multiply folded
/// high into low, as foldhash does) so that the table's index (low bits) and tag (high bits)
/// both depend on every byte of them.
fn key_hash(len: usize, tail: u64) -> u64 {
    const K: u64 = 0x2d35_8dcc_aa6c_78a5;
    let m = u128::from(tail ^ K) * u128::from(K ^ (len as u64).rotate_left(29));
    (m as u64) ^ ((m >> 64) as u64)
}

impl std::hash::Hash for Probe<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let len = self.host.len() + 1 + self.id.len();
        h.write_u64(key_hash(len, self.tail()));
    }
}

impl std::hash::Hash for Stored {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(key_hash(self.0.len(), tail(&self.0)));
    }
}

impl hashbrown::Equivalent<Stored> for Probe<'_> {
    fn equivalent(&self, key: &Stored) -> bool {
        let k = &key.0;
        let n = self.host.len();
        // The ID first: it tells keys apart, and the host is most often the same.
        k.len() == n + 1 + self.id.len()
            && crate::search::same(&k[n + 1..], self.id)
            && k[n] == 0
            && crate::search::same(&k[..n], self.host)
    }
}

impl From<&Probe<'_>> for Stored {
    fn from(p: &Probe<'_>) -> Stored {
        let mut key = Vec::with_capacity(p.host.len() + 1 + p.id.len());
        set_key(&mut key, p.host, p.id);
        Stored(key)
    }
}

impl Merger {
    pub fn new() -> Self {
        Merger::default()
    }

    /// A merger that evicts messages silent for `secs` of log time.
    pub fn with_max_age(secs: i64) -> Self {
        Merger {
            open: HashMap::default(),
            links: HashMap::default(),
            deliveries: HashMap::new(),
            key: Vec::new(),
            spare: Vec::new(),
            once: standalone::Once::default(),
            sessions: session::Sessions::default(),
            max_age: secs.max(60),
            last_sweep: i64::MIN,
            evicted: 0,
            settled_dropped: 0,
            abandoned: 0,
            shed: 0,
            pending: Vec::new(),
            share: 1,
            details: true,
            reply_codes: true,
        }
    }

    /// Whether records carry the relay's host, IP and port, Postfix's delays and the message's
    /// ID, HELO name, protocol and SASL user (`false`: the relay as logged only, and none of
    /// the others; a hop to a content filter is still found, and carries its IP).
    pub fn set_details(&mut self, on: bool) {
        self.details = on;
    }

    /// Whether a delivery's record carries its reply's SMTP code, and the reply's DSN where the
    /// line logs none (`false`: the logged DSN only).
    pub fn set_reply_codes(&mut self, on: bool) {
        self.reply_codes = on;
    }

    /// Messages silent for `secs` of log time are evicted (a restored merger is given the
    /// run's).
    pub fn set_max_age(&mut self, secs: i64) {
        self.max_age = secs.max(60);
    }

    /// Messages seen but not yet `removed`.
    pub fn open_messages(&self) -> usize {
        self.open.len()
    }

    /// Messages dropped by eviction so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Messages of which only the client was ever known, dropped after an hour.
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }

    /// Messages dropped because the open ones were over [`OPEN_BUDGET`].
    pub fn shed(&self) -> u64 {
        self.shed
    }

    /// Settled messages dropped after an hour without `removed`.
    pub fn settled_dropped(&self) -> u64 {
        self.settled_dropped
    }

    /// Drops messages and links with no line for `max_age` of log time, and settled messages
    /// with none for an hour (checked hourly).
    fn sweep(&mut self, now: i64) {
        if self.share > 1 {
            return;
        }
        if self.last_sweep == i64::MIN {
            self.last_sweep = now;
            return;
        }
        if now - self.last_sweep < 3600 {
            return;
        }
        self.sweep_at(now);
    }

    /// Drops what has been silent too long at `now` (see [`Merger::sweep`]).
    pub(crate) fn sweep_at(&mut self, now: i64) {
        self.last_sweep = now;
        let limit = now - self.max_age;
        let settled_limit = now - SETTLED_AGE_SECS.min(self.max_age);
        let (mut evicted, mut settled, mut abandoned) = (0, 0, 0);
        self.open.retain(|_, o| {
            if o.last_seen < limit {
                evicted += 1;
                false
            } else if o.last_seen >= settled_limit || o.waiting {
                true
            } else if o.message.settled() {
                settled += 1;
                false
            } else if o.message.abandoned() {
                abandoned += 1;
                false
            } else {
                o.waiting = true;
                true
            }
        });
        self.evicted += evicted;
        self.settled_dropped += settled;
        self.abandoned += abandoned;
        self.links.retain(|_, o| o.at >= limit);
        self.once.sweep(limit);
        self.sessions.sweep(limit);
        self.deliveries.retain(|_, p| p.at >= limit);
    }

    /// Over the budget: drops the tenth of the open messages that has been silent longest.
    fn shed_oldest(&mut self) {
        let mut ages: Vec<i64> = self.open.values().map(|o| o.last_seen).collect();
        let k = ages.len() / 10;
        let (_, &mut cut, _) = ages.select_nth_unstable(k);
        let before = self.open.len();
        self.open.retain(|_, o| o.last_seen > cut);
        self.shed += (before - self.open.len()) as u64;
    }

    pub(super) fn message(&mut self, ctx: &Ctx, qid: &[u8]) -> &mut Message {
        self.open_message(ctx, qid, false)
    }

    /// Message `qid` opened afresh: one still open under this ID is an earlier one whose end
    /// the log lost, and is dropped (its box is the new one's).
    fn new_message(&mut self, ctx: &Ctx, qid: &[u8]) -> &mut Message {
        self.open_message(ctx, qid, true)
    }

    fn open_message(&mut self, ctx: &Ctx, qid: &[u8], anew: bool) -> &mut Message {
        let key = Probe::new(ctx.host, qid);
        let links = &mut self.links;
        let mut origin = || {
            if links.is_empty() {
                None
            } else {
                links.remove(&key).map(Box::new)
            }
        };
        let m = match self.open.entry_ref(&key) {
            EntryRef::Occupied(o) => {
                let m = o.into_mut();
                if anew {
                    m.message.reopen(*ctx.ts, origin());
                }
                m
            }
            EntryRef::Vacant(v) => {
                // A closed message's box and key, else new ones: opened the same way.
                let (mut k, mut m) = self.spare.pop().unwrap_or_default();
                set_key(&mut k.0, key.host, key.id);
                m.reopen(*ctx.ts, origin());
                v.insert_with_key(k, Open::new(m))
            }
        };
        let now = ctx.ts.instant.as_second();
        m.last_seen = now;
        m.waiting = false;
        m.message.last_seen = now;
        &mut m.message
    }

    /// Closes message `qid`, if open; its box and key are kept for the next one, unless they
    /// hold more room than a message usually needs (a long line's field would keep it).
    fn close(&mut self, host: &[u8], qid: &[u8]) {
        if let Some((key, open)) = self.open.remove_entry(&Probe::new(host, qid)) {
            let mut m = open.message;
            if self.spare.len() < SPARE_MESSAGES && key.0.capacity() + m.heap() <= SPARE_ROOM {
                m.origin = None;
                self.spare.push((key, m));
            }
        }
    }

    /// Merges one event; records it decides are passed to `emit`.
    /// The event is read where it lies (a parsed line in its chunk), not copied into the call.
    pub fn event(&mut self, ctx: &Ctx, ev: &Event<&[u8]>, emit: &mut Emit) -> Result<(), Error> {
        let now = ctx.ts.instant.as_second();
        if !self.pending.is_empty() {
            self.flush_pending(now.saturating_sub(reject::SENDER_WAIT_SECS), emit)?;
        }
        self.sweep(now);
        // `len > budget / share` without a division a line (the same for whole numbers).
        if self.open.len().saturating_mul(self.share) > OPEN_BUDGET {
            self.shed_oldest();
        }
        // Copied before an arm borrows a message from the table (three arms keep fewer of its
        // fields without details).
        let details = self.details;
        match *ev {
            Event::Client {
                qid,
                client_host,
                client_ip,
                sasl_username,
            } => {
                // smtpd's `client=` is a queue file's first line: a message still open under
                // this ID is an earlier one whose `removed` the log lost (the ID was reused).
                let m = self.new_message(ctx, qid);
                m.client_host.set(client_host);
                m.client_ip.set(client_ip);
                if details {
                    m.sasl_username.set(sasl_username.unwrap_or_default());
                }
            }
            Event::Pickup { qid, from } => {
                let m = self.message(ctx, qid);
                if m.sender.is_none() {
                    m.sender = Some(kept(from));
                }
                self.release_pending(ctx, qid, emit)?;
            }
            Event::MessageId { qid, message_id } => {
                let m = self.message(ctx, qid);
                if details {
                    m.message_id.set(message_id);
                }
            }
            Event::Queued {
                qid,
                from,
                size,
                nrcpt,
            } => {
                let m = self.message(ctx, qid);
                m.sender = Some(kept(from));
                m.size = size.or(m.size);
                m.nrcpt = nrcpt.or(m.nrcpt);
                self.release_pending(ctx, qid, emit)?;
            }
            Event::Arrival(ref a) => {
                let m = self.message(ctx, a.qid);
                m.sender = Some(kept(a.from));
                m.size = a.size.or(m.size);
                m.nrcpt = a.nrcpt.or(m.nrcpt);
                let set = |field: &mut Text, v: Option<&[u8]>| {
                    if let Some(v) = v {
                        field.set(v);
                    }
                };
                set(&mut m.client_host, a.client_host);
                set(&mut m.client_ip, a.client_ip);
                if details {
                    set(&mut m.helo, a.helo);
                    set(&mut m.proto, a.proto);
                    set(&mut m.message_id, a.message_id);
                    set(&mut m.sasl_username, a.sasl_username);
                }
                if let (Some(prev), None) = (a.prev_qid, &m.origin) {
                    m.origin = Some(Box::new(Origin {
                        at: ctx.ts.instant.as_second(),
                        prev_qid: kept(prev),
                        client: None,
                        received: None,
                        notification: false,
                    }));
                }
                self.release_pending(ctx, a.qid, emit)?;
            }
            Event::Expired { qid, from } => {
                let m = self.message(ctx, qid);
                if m.sender.is_none() {
                    m.sender = Some(kept(from));
                }
                let pending = m.deferred.take();
                let mut r = base_record(ctx, qid, m);
                r.status = Some(Status::Expired);
                r.reply = b"expired, returned to sender";
                if pending.is_empty() {
                    emit(&r)?;
                }
                for to in &pending {
                    r.recipient = to;
                    emit(&r)?;
                }
            }
            Event::Standalone(x) => return self.standalone(ctx, x, emit),
            Event::NewMessage { qid } => {
                self.new_message(ctx, qid);
            }
            Event::DeliveryStart {
                qid,
                delivery,
                channel,
                to,
            } => {
                self.delivery_start(ctx, qid, delivery, channel, to);
            }
            Event::DeliveryEnd {
                delivery,
                status,
                reply,
            } => return self.numbered_delivery(ctx, delivery, status, reply, emit),
            Event::Removed { qid } => {
                self.close(ctx.host, qid);
            }
            Event::Delivery(ref d) => return self.delivery(ctx, d, emit),
            Event::Reject(r) => return self.reject(ctx, r, emit),
            Event::Notification { qid, new_qid } => {
                // The bounce daemon may log after qmgr removed the message: never reopen it.
                let received = self
                    .open
                    .get(&Probe::new(ctx.host, qid))
                    .and_then(|o| o.message.first_seen);
                let origin = Origin {
                    at: ctx.ts.instant.as_second(),
                    prev_qid: kept(qid),
                    client: None,
                    received,
                    notification: true,
                };
                self.link(ctx, new_qid, origin);
            }
            Event::Session(s) => return self.session(ctx, s, emit),
            Event::Ignored | Event::Malformed => {}
        }
        Ok(())
    }

    fn delivery(&mut self, ctx: &Ctx, d: &Delivery<&[u8]>, emit: &mut Emit) -> Result<(), Error> {
        let status = match d.status {
            DeliveryStatus::Sent => Status::Sent,
            DeliveryStatus::Deferred => Status::Deferred,
            DeliveryStatus::Bounced => Status::Bounced,
            DeliveryStatus::Expired => Status::Expired,
            DeliveryStatus::Discarded => Status::Discarded,
            // Address probes and unknown states are not delivery attempts.
            DeliveryStatus::Deliverable | DeliveryStatus::Undeliverable | DeliveryStatus::Other => {
                return Ok(())
            }
        };
        let (details, codes) = (self.details, self.reply_codes);
        let m = self.message(ctx, d.qid);
        // Most deliveries name one recipient: no list is allocated for them.
        let (single, list);
        let recipients: &[&[u8]] = if d.list {
            list = split_list(d.to);
            &list
        } else {
            single = [d.to];
            &single
        };
        for to in recipients {
            if status == Status::Deferred {
                m.deferred.add(to);
            } else {
                m.deferred.remove(to);
            }
        }
        if matches!(status, Status::Sent | Status::Bounced | Status::Discarded) {
            m.finished += recipients.len() as u32;
        }
        let close = d.closes_when_final && m.nrcpt.is_some_and(|n| m.finished >= n);
        // The parse decided whether it was a hop, whose record needs the relay's IP.
        let hop = d.hop;
        let (rh, rip, rport) = if details || hop.is_some() {
            split_peer(d.relay)
        } else {
            (&d.relay[..0], &d.relay[..0], None)
        };
        let m: &Message = match hop {
            Some(new_qid) => {
                let origin = match &m.origin {
                    // A second filter pass keeps the first client and arrival.
                    Some(o) if o.client.is_some() => Origin {
                        at: ctx.ts.instant.as_second(),
                        prev_qid: kept(d.qid),
                        ..Origin::clone(o)
                    },
                    // The first hop's client, if the log showed it (it may have begun
                    // mid-flight).
                    _ => Origin {
                        at: ctx.ts.instant.as_second(),
                        prev_qid: kept(d.qid),
                        client: (!m.client_host.is_empty() || !m.client_ip.is_empty()).then(|| {
                            (
                                m.client_host.clone(),
                                m.client_ip.clone(),
                                m.sasl_username.clone(),
                            )
                        }),
                        received: m.first_seen,
                        notification: false,
                    },
                };
                self.link(ctx, new_qid, origin);
                match self.open.get(&Probe::new(ctx.host, d.qid)) {
                    Some(o) => &o.message,
                    None => return Ok(()),
                }
            }
            None => m,
        };
        let mut r = base_record(ctx, d.qid, m);
        r.status = Some(status);
        r.orig_recipient = d.orig_to.unwrap_or_default();
        r.relay = d.relay;
        r.relay_host = rh;
        r.relay_ip = rip;
        r.relay_port = rport;
        r.delay = d
            .delay
            .filter(|_| details)
            .and_then(|v| crate::parse::delay_seconds(ctx.mta, v));
        r.delays = d.delays.filter(|_| details).and_then(postfix::delays);
        r.reply = d.reply;
        let (code, reply_dsn) = if codes || d.dsn.is_none() {
            reply_codes(strip_host_said(d.reply))
        } else {
            (None, None)
        };
        r.smtp_code = code;
        r.dsn = d.dsn.or(reply_dsn).unwrap_or_default();
        r.next_queue_id = hop.unwrap_or_default();
        for to in recipients {
            r.recipient = to;
            emit(&r)?;
        }
        if close {
            self.close(ctx.host, d.qid);
        }
        Ok(())
    }
}

/// The addresses of a Sendmail recipient list, `<a>,<b>` or `a,b`, without angle brackets
/// (commas inside `<…>` or quotes do not split).
fn split_list(list: &[u8]) -> smallvec::SmallVec<[&[u8]; 4]> {
    // Most lists are one address: without a comma there is nothing to split, and the byte
    // loop of `split_commas` was ~6 instructions a byte of every Sendmail delivery (callgrind).
    if crate::search::byte(b',', list).is_some() {
        return split_commas(list);
    }
    let mut out = smallvec::SmallVec::new();
    let a = bare(list);
    if !a.is_empty() {
        out.push(a);
    }
    out
}

/// [`split_list`] byte by byte, brackets and quotes tracked.
fn split_commas(list: &[u8]) -> smallvec::SmallVec<[&[u8]; 4]> {
    // Inline up to four: one allocation a Sendmail delivery line was ~1% of its run.
    let mut out = smallvec::SmallVec::<[&[u8]; 4]>::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, &c) in list.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b'<' if !quoted => depth += 1,
            b'>' if !quoted => depth -= 1,
            b',' if !quoted && depth <= 0 => {
                out.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&list[start..]);
    out.into_iter()
        .map(bare)
        .filter(|a| !a.is_empty())
        .collect()
}

/// An address without white space and angle brackets.
fn bare(a: &[u8]) -> &[u8] {
    let a = a.trim_ascii();
    a.strip_prefix(b"<")
        .and_then(|x| x.strip_suffix(b">"))
        .unwrap_or(a)
}

/// A field kept in an open message (or link) for later records: copied alone, so that a
/// message held for days keeps its few fields, not the whole lines they came from.
pub(super) fn kept(part: &[u8]) -> Text {
    Text::from(part)
}

/// The fields every record of message `qid` shares.
pub(super) fn base_record<'a>(ctx: &Ctx<'a>, qid: &'a [u8], m: &'a Message) -> RecordRef<'a> {
    let mut r = RecordRef {
        ts: Some(*ctx.ts),
        host: ctx.host,
        mta: Some(ctx.mta),
        queue_id: qid,
        message_id: &m.message_id,
        sender: m.sender.as_deref(),
        client_host: &m.client_host,
        client_ip: &m.client_ip,
        sasl_username: &m.sasl_username,
        helo: &m.helo,
        proto: &m.proto,
        size: m.size,
        nrcpt: m.nrcpt,
        received_ts: m.first_seen,
        source_file: ctx.source,
        source_line: ctx.line,
        ..RecordRef::default()
    };
    if let Some(o) = &m.origin {
        r.prev_queue_id = &o.prev_qid;
        r.received_ts = o.received.or(m.first_seen);
        if o.notification && r.sender.is_none() {
            r.sender = Some(b"");
        }
        if let Some((h, ip, sasl)) = &o.client {
            r.client_host = h;
            r.client_ip = ip;
            r.sasl_username = sasl;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::parse::{parse_line, Line};
    use crate::record::Record;
    use crate::time::{YearResolver, YearStart};

    /// A recipient list splits as the byte loop alone splits it, with or without a comma:
    /// random lists of addresses, brackets, quotes, commas and white space.
    #[test]
    fn lists_split_as_the_loop_alone_does() {
        let mut next = crate::testing::xorshift(0x5eed_1157);
        let bytes = b"ab@.<>\",  \t";
        for _ in 0..50_000 {
            let len = (next() % 24) as usize;
            let list: Vec<u8> = (0..len)
                .map(|_| bytes[(next() % bytes.len() as u64) as usize])
                .collect();
            assert_eq!(split_list(&list), split_commas(&list), "{list:?}");
        }
    }

    /// A line's (host, ID) finds the key stored for it, whatever bytes the two hold (a NUL in
    /// a host too), and no other key: the table hashes the parts, not the stored bytes.
    #[test]
    fn probes_find_their_stored_keys() {
        let parts: &[&[u8]] = &[b"", b"mail", b"a\0b", b"\0", b"mx1.example.org", b"x\0"];
        let ids: &[&[u8]] = &[b"", b"6B1B62259", b"4PbC4x469Jz3tBr", b"\0q", b"q\0"];
        let mut table: HashMap<Stored, usize, ByTail> = HashMap::default();
        let mut keys = Vec::new();
        for &host in parts {
            for &id in ids {
                let stored = Stored::from(&Probe::new(host, id));
                // Different parts can make the same bytes (`a\0` + `b` and `a` + `\0b`).
                if !keys.contains(&stored) {
                    table.insert(stored.clone(), keys.len());
                    keys.push(stored);
                }
            }
        }
        for &host in parts {
            for &id in ids {
                let probe = Probe::new(host, id);
                let want = Stored::from(&probe);
                let at = table.get(&probe).copied();
                assert_eq!(at.map(|i| &keys[i]), Some(&want), "{host:?} {id:?}");
                // The stored bytes split back into parts find it too (shards move keys so).
                assert_eq!(table.get(&Probe::of_stored(&want.0)).copied(), at);
            }
        }
        assert_eq!(table.len(), keys.len());
    }

    /// Runs log text through parse and merge, as the pipeline does.
    fn merge_text(text: &str) -> Vec<Box<Record>> {
        merge_into(&mut Merger::new(), text)
    }

    /// Each known line of `text` with its place and time, as the pipeline dates it.
    pub(super) fn each_event<'t>(text: &'t str, f: &mut dyn FnMut(&Ctx<'_>, Event<&'t [u8]>)) {
        let mut years = YearResolver::new(YearStart::FirstLineIn(2026));
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
                    order: n as u64,
                    line: n as u64 + 1,
                    ts: &ts,
                    host,
                    mta,
                    source: b"test",
                };
                f(&ctx, event);
            }
        }
    }

    /// Merges each line of `text`, handing its records to `f`; held rejects stay held.
    pub(super) fn feed(m: &mut Merger, text: &str, f: &mut dyn FnMut(&RecordRef)) {
        each_event(text, &mut |ctx, event| {
            let _ = m.event(ctx, &event, &mut |r| {
                f(r);
                Ok(())
            });
        });
    }

    /// Records `merge_into` gets before the held rejects are flushed at the end.
    fn merge_into_unflushed(m: &mut Merger, text: &str) -> usize {
        let mut n = 0;
        feed(m, text, &mut |_| n += 1);
        n
    }

    fn merge_into(m: &mut Merger, text: &str) -> Vec<Box<Record>> {
        let mut out = Vec::new();
        feed(m, text, &mut |r| out.push(Box::new(r.to_owned_record())));
        let _ = m.flush_pending(i64::MAX, &mut |r| {
            out.push(Box::new(r.to_owned_record()));
            Ok(())
        });
        out
    }

    /// A format that reads fewer fields gets the same record less those: no reply code of a
    /// delivery, the DSN as logged (the reply's only when the line logs none), and no message
    /// ID, HELO, protocol or SASL user.
    #[test]
    fn a_merger_for_fewer_fields_leaves_the_others_empty() {
        let log = "Mar 14 09:00:00 mx1 postfix/smtpd[98]: 4A1B2C3D4E: client=mail.example.net[203.0.113.9], sasl_method=PLAIN, sasl_username=alice
Mar 14 09:00:00 mx1 postfix/cleanup[99]: 4A1B2C3D4E: message-id=<id@example.net>
Mar 14 09:00:01 mx1 postfix/qmgr[100]: 4A1B2C3D4E: from=<a@example.net>, size=100, nrcpt=2 (queue active)
Mar 14 09:00:02 mx1 postfix/smtp[101]: 4A1B2C3D4E: to=<b@example.org>, relay=mx.example.org[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.org[198.51.100.1] said: 550 5.1.1 no such user (in reply to RCPT TO command))
Mar 14 09:00:02 mx1 sm-mta[102]: k2E90000012345: to=<c@example.org>, delay=00:00:01, mailer=esmtp, pri=1, relay=mx.example.org. [198.51.100.1], stat=Deferred: 451 4.4.1 try later
";
        let all = merge_text(log);
        let mut fewer = Merger::new();
        fewer.set_details(false);
        fewer.set_reply_codes(false);
        let some = merge_into(&mut fewer, log);
        assert_eq!(all.len(), 2);
        assert_eq!(some.len(), 2);
        assert_eq!(
            (all[0].smtp_code, &all[0].dsn[..]),
            (Some(550), &b"5.1.1"[..])
        );
        assert_eq!((some[0].smtp_code, &some[0].dsn[..]), (None, &b"5.1.1"[..]));
        assert_eq!(&all[0].message_id[..], b"id@example.net");
        assert_eq!(&all[0].sasl_username[..], b"alice");
        assert!(some[0].message_id.is_empty() && some[0].sasl_username.is_empty());
        assert_eq!(
            (&some[0].sender, some[0].size),
            (&all[0].sender, all[0].size)
        );
        assert_eq!(&some[0].client_host[..], b"mail.example.net");
        // No `dsn=` logged: the reply's is read either way.
        assert_eq!(&all[1].dsn[..], b"4.4.1");
        assert_eq!(&some[1].dsn[..], b"4.4.1");
    }

    // Issue 18: a public sendmail log (fixtures/README.md): the refused recipient, then the
    // session's `from=` line naming the sender. One record, with the sender.
    #[test]
    fn a_sendmail_reject_is_written_once_with_the_sender_that_follows() {
        let recs = merge_text(
            "Oct 31 21:05:17 q381-1158 sendmail[15715]: 29VC5Hbm015715: ruleset=check_rcpt, arg1=<websiteman@naver.com>, relay=[61.83.89.93], reject=550 5.7.1 <websiteman@naver.com>... Relaying denied. IP name lookup failed [61.83.89.93]\n\
             Oct 31 21:05:17 q381-1158 sendmail[15715]: 29VC5Hbm015715: from=<jamesjoa@gmail.com>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=[61.83.89.93]\n",
        );
        assert_eq!(recs.len(), 1, "{recs:?}");
        let r = &recs[0];
        assert_eq!(r.status, Some(Status::Rejected));
        assert_eq!(r.sender.as_deref(), Some(&b"jamesjoa@gmail.com"[..]));
        assert_eq!(&r.recipient[..], b"websiteman@naver.com");
        assert_eq!(&r.client_ip[..], b"61.83.89.93");
        assert_eq!(r.smtp_code, Some(550));
        // Without the sender line, the reject is still written (its sender unknown).
        let recs = merge_text(
            "Oct 31 21:05:17 q381-1158 sendmail[15715]: 29VC5Hbm015715: ruleset=check_rcpt, arg1=<websiteman@naver.com>, relay=[61.83.89.93], reject=550 5.7.1 <websiteman@naver.com>... Relaying denied. IP name lookup failed [61.83.89.93]\n",
        );
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].sender, None);
    }

    /// A flood of rejects in one second of log time is held no deeper than the budget: the
    /// oldest are written as they come, none is lost.
    #[test]
    fn held_rejects_stay_within_their_budget() {
        let n = reject::PENDING_BUDGET + 1000;
        let text: String = (0..n)
            .map(|i| format!("Oct 31 21:05:17 q381-1158 sendmail[15715]: 29VC{i:06}015715: ruleset=check_rcpt, arg1=<u{i}@naver.com>, relay=[61.83.89.93], reject=550 5.7.1 <u{i}@naver.com>... Relaying denied\n"))
            .collect();
        let mut m = Merger::new();
        let before_flush = merge_into_unflushed(&mut m, &text);
        assert_eq!(before_flush, 1000);
        assert!(m.pending.len() <= reject::PENDING_BUDGET);
        assert_eq!(merge_into(&mut Merger::new(), &text).len(), n);
    }

    #[test]
    fn content_filter_hop_links_to_the_new_queue_id() {
        // Real lines: gitpan-Mail-Log-Parse t/data/log.
        let recs = merge_text(include_str!("../../fixtures/postfix/content-filter.log"));
        assert_eq!(recs.len(), 2);
        let (hop, fin) = (&recs[0], &recs[1]);
        assert!(hop.is_hop());
        assert_eq!(&hop.queue_id[..], b"ECF422BE6");
        assert_eq!(&hop.next_queue_id[..], b"3FF792A76");
        assert!(!fin.is_hop());
        assert_eq!(&fin.queue_id[..], b"3FF792A76");
        assert_eq!(&fin.prev_queue_id[..], b"ECF422BE6");
        // The final delivery carries the first hop's client and arrival.
        assert_eq!(&fin.client_ip[..], b"10.0.80.60");
        assert_eq!(fin.received_ts, hop.received_ts);
        assert_eq!(fin.size, Some(75244));
        assert_eq!(&fin.relay_ip[..], b"10.0.0.1");
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
    fn a_client_line_for_an_open_id_starts_a_new_message() {
        // The first message's `removed` is lost; smtpd's `client=` for the same ID begins
        // another, which keeps nothing of the first but what its own lines say.
        let recs = merge_text(
            "Mar 14 09:00:00 mx1 postfix/smtpd[98]: 1111111111: client=old.example.net[203.0.113.9], sasl_method=PLAIN, sasl_username=alice
Mar 14 09:00:00 mx1 postfix/qmgr[99]: 1111111111: from=<old@example.org>, size=1000, nrcpt=1 (queue active)
Mar 14 10:00:00 mx1 postfix/smtpd[98]: 1111111111: client=new.example.net[198.51.100.7]
Mar 14 10:00:01 mx1 postfix/smtp[102]: 1111111111: to=<y@example.com>, relay=mx.example.com[198.51.100.5]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 ok)
",
        );
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(&r.client_host[..], b"new.example.net");
        assert_eq!(&r.client_ip[..], b"198.51.100.7");
        assert!(r.sasl_username.is_empty());
        assert_eq!((r.sender.as_deref(), r.size), (None, None));
        assert_eq!(
            r.received_ts.map(|t| t.instant.as_second()),
            r.ts.map(|t| t.instant.as_second() - 1)
        );
    }

    #[test]
    fn a_closed_message_with_long_fields_is_not_kept_for_reuse() {
        let line = |qid: &str, id_len: usize| {
            format!(
                "Mar 14 09:00:00 mx1 postfix/cleanup[97]: {qid}: message-id=<{}@example.net>
Mar 14 09:00:01 mx1 postfix/qmgr[99]: {qid}: removed
",
                "x".repeat(id_len)
            )
        };
        let mut m = Merger::new();
        merge_into(&mut m, &line("1111111111", 20));
        assert_eq!(m.spare.len(), 1);
        // The next message opens in that box; with a long message-id its room would stay
        // with the box, so the box is freed when it closes.
        merge_into(&mut m, &line("2222222222", 2 * SPARE_ROOM));
        assert_eq!((m.spare.len(), m.open_messages()), (0, 0));
        merge_into(&mut m, &line("3333333333", 20));
        assert_eq!(m.spare.len(), 1);
        let (k, b) = &m.spare[0];
        assert!(k.0.capacity() + b.heap() <= SPARE_ROOM);
    }

    #[test]
    fn a_message_opened_after_one_closed_starts_empty() {
        // The closed message's box is reused for the next one (`Merger::spare`): nothing of
        // it may show in the next message's records.
        let recs = merge_text(
            "Mar 14 09:00:00 mx1 postfix/smtpd[98]: 1111111111: client=mail.example.net[203.0.113.9], sasl_method=PLAIN, sasl_username=alice
Mar 14 09:00:00 mx1 postfix/cleanup[97]: 1111111111: message-id=<a-long-message-id-that-is-not-inline@example.net>
Mar 14 09:00:00 mx1 postfix/qmgr[99]: 1111111111: from=<a-sender-too-long-to-be-inline@example.org>, size=1000, nrcpt=2 (queue active)
Mar 14 09:00:01 mx1 postfix/smtp[102]: 1111111111: to=<x@example.com>, relay=none, delay=1, delays=0.1/0/0.4/0.5, dsn=4.4.1, status=deferred (connect timed out)
Mar 14 09:00:01 mx1 postfix/qmgr[99]: 1111111111: removed
Mar 14 09:00:02 mx1 postfix/smtp[102]: 2222222222: to=<y@example.com>, relay=mx.example.com[198.51.100.5]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 ok)
",
        );
        assert_eq!(recs.len(), 2);
        assert_eq!(&recs[0].sasl_username[..], b"alice");
        assert_eq!(recs[0].size, Some(1000));
        let r = &recs[1];
        assert_eq!(&r.recipient[..], b"y@example.com");
        assert_eq!(r.sender, None);
        assert!(r.client_host.is_empty() && r.client_ip.is_empty());
        assert!(r.sasl_username.is_empty() && r.message_id.is_empty());
        assert_eq!((r.size, r.nrcpt), (None, None));
        assert_eq!(
            r.received_ts.map(|t| t.instant.as_second()),
            recs[1].ts.map(|t| t.instant.as_second())
        );
    }

    #[test]
    fn messages_that_never_see_removed_are_evicted_after_the_max_age() {
        let mut text = String::new();
        // 100 messages queued on Mar 1 that never finish, then a week of other traffic.
        for i in 0..100 {
            text.push_str(&format!("Mar  1 10:00:00 mx1 postfix/qmgr[99]: {:X}: from=<a@example.org>, size=1, nrcpt=1 (queue active)\n", 0xA0000 + i));
        }
        for day in 2..=9 {
            text.push_str(&format!("Mar  {day} 12:00:00 mx1 postfix/qmgr[99]: BBBBBB: from=<b@example.org>, size=1, nrcpt=1 (queue active)\n"));
            text.push_str(&format!(
                "Mar  {day} 12:00:01 mx1 postfix/qmgr[99]: BBBBBB: removed\n"
            ));
        }
        let mut m = Merger::with_max_age(5 * 86_400);
        merge_into(&mut m, &text);
        assert_eq!(m.evicted(), 100);
        assert_eq!(m.open_messages(), 0);
    }

    #[test]
    fn settled_messages_without_removed_are_dropped_after_an_hour() {
        let mut text = String::new();
        // 50 delivered messages whose `removed` lines are lost, 50 deferred ones, then a day
        // of other traffic.
        for i in 0..100 {
            let q = 0xA0000 + i;
            text.push_str(&format!("Mar  1 10:00:00 mx1 postfix/qmgr[99]: {q:X}: from=<a@example.org>, size=1, nrcpt=1 (queue active)\n"));
            let (dsn, status) = if i < 50 {
                ("2.0.0", "sent")
            } else {
                ("4.4.1", "deferred")
            };
            text.push_str(&format!("Mar  1 10:00:01 mx1 postfix/smtp[98]: {q:X}: to=<b@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn={dsn}, status={status} (x)\n"));
        }
        text.push_str(&hourly("Mar  1", "mx1", 11..=23));
        let mut m = Merger::with_max_age(5 * 86_400);
        merge_into(&mut m, &text);
        assert_eq!((m.settled_dropped(), m.evicted()), (50, 0));
        assert_eq!(m.open_messages(), 50);
    }

    #[test]
    fn a_waiting_message_a_line_settles_is_dropped_an_hour_later() {
        // A sweep finds the deferred message silent for two hours and keeps it without looking
        // again (`Open::waiting`); its retry delivers it, and an hour of silence after that
        // drops it as settled.
        let mut text = String::from("Mar  1 10:00:00 mx1 postfix/qmgr[99]: AAAAAA: from=<a@example.org>, size=1, nrcpt=1 (queue active)
Mar  1 10:00:01 mx1 postfix/smtp[98]: AAAAAA: to=<b@example.net>, relay=none, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred (x)
");
        text.push_str(&hourly("Mar  1", "mx1", 11..=13));
        text.push_str("Mar  1 13:30:00 mx1 postfix/smtp[98]: AAAAAA: to=<b@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (ok)\n");
        let mut m = Merger::with_max_age(5 * 86_400);
        merge_into(&mut m, &text);
        assert_eq!((m.settled_dropped(), m.open_messages()), (0, 1));
        merge_into(
            &mut m,
            "Mar  1 15:00:00 mx1 postfix/qmgr[99]: BBBBBB: removed\n",
        );
        assert_eq!((m.settled_dropped(), m.open_messages()), (1, 0));
    }

    /// A line of another message at the top of each of `hours` on `day`, from `host`: log time
    /// moves on, and the hourly sweeps run.
    fn hourly(day: &str, host: &str, hours: std::ops::RangeInclusive<u32>) -> String {
        hours
            .map(|h| format!("{day} {h}:00:00 {host} postfix/qmgr[99]: BBBBBB: removed\n"))
            .collect()
    }

    /// Real lines (infohtreasure maillog): a local submission bounces, and sendmail hands its
    /// DSN to the MTA on 127.0.0.1; no from= line is ever logged for the DSN.
    const SENDMAIL_DSN: &str = "\
Feb 26 12:27:16 server1 sendmail[6005]: 21QBRGdX006005: from=root, size=30, class=0, nrcpts=6, msgid=<202202261127.21QBRGdX006005@server1.alsoft.org>, relay=root@localhost
Feb 26 12:27:16 server1 sendmail[6005]: 21QBRGdX006005: to=This, ctladdr=root (0/0), delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=180030, relay=[127.0.0.1] [127.0.0.1], dsn=5.1.1, stat=User unknown
Feb 26 12:27:16 server1 sendmail[6005]: 21QBRGdX006005: 21QBRGdY006005: DSN: User unknown
Feb 26 12:27:16 server1 sendmail[6005]: 21QBRGdY006005: to=root, delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=31054, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (Ok: queued as CB45F405DD15)
";

    #[test]
    fn a_sendmail_notification_is_from_the_null_sender() {
        let out = merge_text(SENDMAIL_DSN);
        assert_eq!(out.len(), 2);
        let (bounce, dsn) = (&out[0], &out[1]);
        assert_eq!(bounce.sender, Some(bytes::Bytes::from_static(b"root")));
        assert_eq!(&bounce.relay_ip[..], b"127.0.0.1");
        assert_eq!(&dsn.queue_id[..], b"21QBRGdY006005");
        assert_eq!(&dsn.prev_queue_id[..], b"21QBRGdX006005");
        assert_eq!(
            dsn.sender,
            Some(bytes::Bytes::new()),
            "a notification's sender is <>"
        );
    }

    #[test]
    fn a_sendmail_notification_delivered_is_dropped_an_hour_later() {
        // The DSN's recipient count is never logged. Once its one recipient is final and an
        // hour has passed, it is settled; before, it waited a week (the eviction age) in the
        // table, one for every bounce. The bounced message still waits for five recipients.
        let mut text = String::from(SENDMAIL_DSN);
        text.push_str(&hourly("Feb 26", "server1", 13..=15));
        let mut m = Merger::with_max_age(5 * 86_400);
        merge_into(&mut m, &text);
        assert_eq!((m.settled_dropped(), m.open_messages()), (1, 1));
    }

    #[test]
    fn a_client_line_starts_a_new_message_under_a_reused_id() {
        // The first message's `removed` was lost; Postfix then reused its queue ID.
        let text = "\
Mar  1 10:00:00 mx1 postfix/smtpd[1]: A1B2C3: client=one.example[192.0.2.1]
Mar  1 10:00:00 mx1 postfix/qmgr[2]: A1B2C3: from=<a@example.org>, size=10, nrcpt=1 (queue active)
Mar  1 10:00:01 mx1 postfix/smtp[3]: A1B2C3: to=<x@example.net>, relay=mx.example.net[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Mar  1 10:05:00 mx1 postfix/smtpd[1]: A1B2C3: client=two.example[192.0.2.2]
Mar  1 10:05:00 mx1 postfix/qmgr[2]: A1B2C3: from=<b@example.org>, size=20, nrcpt=1 (queue active)
Mar  1 10:05:01 mx1 postfix/smtp[3]: A1B2C3: to=<y@example.net>, relay=mx.example.net[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
";
        let out = merge_text(text);
        let got: Vec<_> = out
            .iter()
            .map(|r| (r.client_ip.clone(), r.sender.clone(), r.size))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    bytes::Bytes::from_static(b"192.0.2.1"),
                    Some(bytes::Bytes::from_static(b"a@example.org")),
                    Some(10)
                ),
                (
                    bytes::Bytes::from_static(b"192.0.2.2"),
                    Some(bytes::Bytes::from_static(b"b@example.org")),
                    Some(20)
                ),
            ]
        );
    }

    #[test]
    fn abandoned_sessions_are_dropped_after_an_hour_and_the_table_has_a_budget() {
        // 100 sessions that ended after RCPT (only client= is logged), then a day of traffic.
        let mut text = String::new();
        for i in 0..100 {
            text.push_str(&format!(
                "Mar  1 10:00:00 mx1 postfix/smtpd[9]: {:X}: client=x.example[192.0.2.1]\n",
                0xA0000 + i
            ));
        }
        text.push_str(&hourly("Mar  1", "mx1", 11..=23));
        let mut m = Merger::with_max_age(5 * 86_400);
        merge_into(&mut m, &text);
        assert_eq!((m.abandoned(), m.open_messages()), (100, 0));
        // More open messages than the budget: the silent-longest tenth goes, counted.
        let mut text = String::new();
        for i in 0..(OPEN_BUDGET + 10) {
            let (h, mi, s) = (i / 3600 % 24, i / 60 % 60, i % 60);
            text.push_str(&format!(
                "Mar  2 {h:02}:{mi:02}:{s:02} mx1 postfix/qmgr[1]: {:X}: from=<a@example.org>, size=1, nrcpt=1 (queue active)\n",
                0x100000 + i
            ));
        }
        let mut m = Merger::with_max_age(5 * 86_400);
        merge_into(&mut m, &text);
        assert!(m.open_messages() <= OPEN_BUDGET, "{}", m.open_messages());
        assert!(m.shed() >= (OPEN_BUDGET / 10) as u64, "{}", m.shed());
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
        // The first `queued as `, past other `q`s; a `q` at the very end.
        assert_eq!(
            queued_as(b"250 quick queue: queued as 6B1B62259 (was queued as 71111424269E)"),
            Some(&b"6B1B62259"[..])
        );
        assert_eq!(queued_as(b"250 Ok: queued as"), None);
        assert_eq!(queued_as(b"250 Ok q"), None);
    }
}
