//! Which shard a line's event goes to. Correlation state is split into [`SHARDS`] mergers by a
//! hash of the key each line reads or changes (host and queue ID, qmail delivery number,
//! OpenSMTPD session), so shards can run on different cores. A few lines tie a second key to
//! the first (a content-filter hop or a bounce names the new queue ID; qmail's `starting
//! delivery` names its message; OpenSMTPD's message names its session): the [`Router`] keeps
//! tied keys in one shard, moving what a shard already holds for them when needed. The shard
//! count is a constant, so what each shard sees, and so the output, is the same on any number
//! of cores.

use crate::parse::{Event, SessionEvent};
use std::hash::{BuildHasherDefault, Hasher};

/// The router's tables are keyed by hashes already ([`hash`]'s bits are all mixed): they are
/// their own hash.
#[derive(Default)]
pub(super) struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

type HashMap<K, V> = hashbrown::HashMap<K, V, BuildHasherDefault<Spread>>;

/// Shards of correlation state: as many as the cores of the largest machines it is meant for,
/// so each core has work; a constant, so the output does not depend on the machine.
pub const SHARDS: usize = 64;

/// The table a key's state lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// An open message (and its link, its held rejects), by host and queue ID.
    Message,
    /// A qmail delivery between its start and its result, by host and delivery number.
    Delivery,
    /// An OpenSMTPD session, by host and session ID.
    Session,
}

/// A key as the merger's tables hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    pub kind: Kind,
    pub id: &'a [u8],
}

/// The keys of one line: the one its event reads or changes, and one it ties to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    pub key: Option<Key<'a>>,
    pub tie: Option<Key<'a>>,
    /// The key's life ends here (`removed`, a qmail delivery's result, a session's end).
    pub ends: bool,
}

/// A line's keys as hashes: what the router reads (0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Route {
    pub key: u64,
    pub tie: u64,
    pub ends: bool,
    /// What the dating step reads of the line (`pipeline::stages::Mark`'s bits), here in
    /// the room after `ends`: a vector of its own cost a push a line.
    pub mark: u8,
}

fn key(kind: Kind, id: &[u8]) -> Option<Key<'_>> {
    Some(Key { kind, id })
}

/// What `ev` reads, changes and ties (a pure function of the line).
pub fn keys<'a>(ev: &Event<&'a [u8]>) -> Keys<'a> {
    let msg = |id| key(Kind::Message, id);
    // By reference: copying a delivery or an arrival out of the event was a `memcpy` a line.
    match *ev {
        Event::Client { qid, .. }
        | Event::Pickup { qid, .. }
        | Event::MessageId { qid, .. }
        | Event::Queued { qid, .. }
        | Event::Expired { qid, .. }
        | Event::NewMessage { qid } => Keys {
            key: msg(qid),
            ..Keys::default()
        },
        Event::Arrival(ref a) => Keys {
            key: msg(a.qid),
            ..Keys::default()
        },
        Event::Standalone(ref x) => Keys {
            key: msg(x.qid),
            ..Keys::default()
        },
        Event::Removed { qid } => Keys {
            key: msg(qid),
            tie: None,
            ends: true,
        },
        Event::Delivery(ref d) => Keys {
            key: msg(d.qid),
            tie: d.hop.and_then(msg),
            ends: false,
        },
        Event::Reject(ref r) => Keys {
            key: r.qid.and_then(msg),
            ..Keys::default()
        },
        Event::Notification { qid, new_qid } => Keys {
            key: msg(qid),
            tie: msg(new_qid),
            ends: false,
        },
        Event::DeliveryStart { qid, delivery, .. } => Keys {
            key: msg(qid),
            tie: key(Kind::Delivery, delivery),
            ends: false,
        },
        Event::DeliveryEnd { delivery, .. } => Keys {
            key: key(Kind::Delivery, delivery),
            tie: None,
            ends: true,
        },
        Event::Session(ref s) => {
            let session = |id| key(Kind::Session, id);
            match s {
                SessionEvent::Connect { session: id, .. }
                | SessionEvent::Reject { session: id, .. } => Keys {
                    key: session(id),
                    ..Keys::default()
                },
                SessionEvent::Message {
                    session: id, qid, ..
                } => Keys {
                    key: session(id),
                    tie: msg(qid),
                    ends: false,
                },
                SessionEvent::Disconnect { session: id } => Keys {
                    key: session(id),
                    tie: None,
                    ends: true,
                },
            }
        }
        Event::Ignored | Event::Malformed => Keys::default(),
    }
}

/// The stable hash of a key of `host` (never 0): shards and saved routes agree across runs and
/// versions, so it is this crate's own (FxHash's step, eight bytes at a time: every line's key
/// is hashed, and FNV's byte at a time cost three times as much).
pub fn hash(host: &[u8], k: Key) -> u64 {
    let tag = match k.kind {
        Kind::Message => 1,
        Kind::Delivery => 2,
        Kind::Session => 3,
    };
    avalanche(words(words(tag, host), k.id)).max(1)
}

/// MurmurHash3's finaliser: every bit of the result depends on every bit of `x` (the word
/// steps leave the low bits depending on the low bytes only, and hash tables index by them).
fn avalanche(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Folds `bytes` into `h`, eight at a time; the length goes in too, so `ab|c` ≠ `a|bc`.
fn words(h: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let step = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let mut h = step(h, bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = step(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = step(h, padded(rest));
    }
    h
}

/// `bytes` (one to seven) as a zero-padded little-endian word, from loads that overlap: a
/// copy into a padded array is a `memcpy` call, and a fold byte by byte was ~45 instructions
/// a key (callgrind).
#[inline]
fn padded(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let at = |i: usize| bytes.get(i).map_or(0, |&b| u64::from(b));
    let four = |i: usize| {
        (bytes.get(i..i + 4))
            .and_then(|b| b.first_chunk::<4>())
            .map_or(0, |b| u64::from(u32::from_le_bytes(*b)))
    };
    match n {
        // The two words overlap on bytes they agree on.
        4.. => four(0) | four(n - 4) << (8 * (n - 4)),
        // The first, middle and last bytes are all of one to three.
        1.. => at(0) | at(n / 2) << (8 * (n / 2)) | at(n - 1) << (8 * (n - 1)),
        0 => 0,
    }
}

/// The hash of a key as a merger's table holds it (`host\0id`).
pub(super) fn hash_stored(kind: Kind, stored: &[u8]) -> u64 {
    let parts = super::Probe::of_stored(stored);
    hash(parts.host, Key { kind, id: parts.id })
}

/// A line's route: its keys' hashes.
pub fn route(host: &[u8], ev: &Event<&[u8]>) -> Route {
    let k = keys(ev);
    Route {
        key: k.key.map_or(0, |k| hash(host, k)),
        tie: k.tie.map_or(0, |k| hash(host, k)),
        ends: k.ends,
        mark: 0,
    }
}

/// The shard a key goes to unless the router moved it.
pub fn home(h: u64) -> usize {
    (h >> 32) as usize % SHARDS
}

/// Tied keys kept in a shard other than their home at most; past this the tenth silent longest
/// is forgotten (as the merger sheds messages), so memory stays bounded whatever the input.
pub const MOVED_BUDGET: usize = 1 << 20;

/// One line as the router reads it: its route and its time (log seconds).
#[derive(Debug, Clone, Copy)]
pub struct Routed {
    pub route: Route,
    pub now: i64,
}

/// A key whose state moves from one shard to another before a batch: the router names it by
/// the line that tied it; the caller reads the key from that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// The line (index in the batch) that tied the key, and which of its keys it is.
    pub line: u32,
    pub tied: bool,
    pub from: u16,
    pub to: u16,
}

/// How one batch of lines is spread: each line's shard, the states to move first, and the
/// sweeps due (before the line at that index, at that time).
#[derive(Debug, Default)]
pub struct Plan {
    pub shard: Vec<u16>,
    pub moves: Vec<Move>,
    pub sweeps: Vec<(u32, i64)>,
}

/// The serial part of sharded correlation: each line's shard, in input order.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Router {
    /// Keys living away from their home shard: their shard and when a line last named them.
    moved: HashMap<u64, (u16, i64)>,
    /// Log time (seconds) of the last sweep, as the merger kept it before shards.
    last_sweep: i64,
    /// Moved keys silent this long are forgotten (the merger evicts their state).
    max_age: i64,
    /// Scratch space for a batch: tied keys' groups.
    #[serde(skip)]
    groups: Groups,
    /// Which keys may be in `moved`: most lines' keys are at home, and this answers for them
    /// without a table look-up (built again after a load or a sweep).
    #[serde(skip)]
    filter: Filter,
}

/// A count per low 16 bits of a key hash: how many keys of the moved table fall there (one
/// at 255 stays there). Zero means "not moved", more "look it up". Counted down as keys leave
/// the table: as bits set until the next rebuild, the slots of keys whose lives had ended sent
/// every line that shared them to the table (~8 instructions a Postfix line in this serial
/// step, callgrind). Empty (not built, or dropped when a sweep thinned the table), it answers
/// "look it up" for every key.
#[derive(Debug, Default)]
struct Filter {
    counts: Vec<u8>,
}

impl Filter {
    const SLOTS: usize = 1 << 16;

    fn slot(h: u64) -> usize {
        (h & 0xffff) as usize
    }

    /// Key `h` came into the table.
    fn add(&mut self, h: u64) {
        if let Some(c) = self.counts.get_mut(Self::slot(h)) {
            *c = c.saturating_add(1);
        }
    }

    /// Key `h` left the table. A count that reached 255 no longer counts: it stays.
    fn remove(&mut self, h: u64) {
        if let Some(c) = self.counts.get_mut(Self::slot(h)) {
            if *c != u8::MAX {
                *c = c.saturating_sub(1);
            }
        }
    }

    fn may_hold(&self, h: u64) -> bool {
        self.counts.get(Self::slot(h)).is_none_or(|&c| c != 0)
    }

    fn built(&self) -> bool {
        !self.counts.is_empty()
    }

    /// Keys left the table without being counted down: every key is looked up until the next
    /// rebuild.
    fn drop_counts(&mut self) {
        self.counts.clear();
    }

    fn rebuild<'a>(&mut self, keys: impl Iterator<Item = &'a u64>) {
        self.counts.clear();
        self.counts.resize(Self::SLOTS, 0);
        for &h in keys {
            self.add(h);
        }
    }
}

/// Key `h`'s lines go home: it leaves the moved table, and a key that leaves is counted down
/// in the filter (every removal but the sweeps', which drop the counts).
fn send_home(moved: &mut HashMap<u64, (u16, i64)>, filter: &mut Filter, h: u64) {
    if moved.remove(&h).is_some() {
        filter.remove(h);
    }
}

/// The keys a batch ties together, as a union-find over the members' places in the batch:
/// one table look-up a key to find its place, then arrays (over hash maps for the parents,
/// the roots' shards and the first moved member, the tied lines' bookkeeping was ~1,000
/// instructions each in this serial step; callgrind).
#[derive(Debug, Default)]
struct Groups {
    /// Each member's place, by its hash.
    index: HashMap<u64, u32>,
    /// Each member's hash, first line and side in the batch, in the order first seen.
    members: Vec<(u64, u32, bool)>,
    /// Each member's parent (a place); a root is its own.
    parent: Vec<u32>,
    /// A root's shard, if it has one.
    shard: Vec<Option<u16>>,
    /// Members whose life ended in the batch (true while no line of theirs came after).
    ended: HashMap<u64, bool>,
}

impl Groups {
    fn clear(&mut self) {
        self.index.clear();
        self.members.clear();
        self.parent.clear();
        self.shard.clear();
        self.ended.clear();
    }

    /// Whether key `h` is a member.
    fn has(&self, h: u64) -> bool {
        self.index.contains_key(&h)
    }

    /// The root of the member at `m`.
    fn find(&mut self, mut m: u32) -> u32 {
        loop {
            let Some(&p) = self.parent.get(m as usize) else {
                return m;
            };
            if p == m {
                return m;
            }
            // Path halving.
            let gp = self.parent.get(p as usize).copied().unwrap_or(p);
            if let Some(x) = self.parent.get_mut(m as usize) {
                *x = gp;
            }
            m = gp;
        }
    }

    /// The place of key `h`, added as a member (its own root) if it is not one.
    fn add(&mut self, h: u64, line: u32, tied: bool) -> u32 {
        let next = self.members.len() as u32;
        let m = *self.index.entry(h).or_insert(next);
        if m == next {
            self.members.push((h, line, tied));
            self.parent.push(m);
            self.shard.push(None);
        }
        m
    }

    fn shard_of(&self, root: u32) -> Option<u16> {
        self.shard.get(root as usize).copied().flatten()
    }

    fn set_shard(&mut self, root: u32, shard: Option<u16>) {
        if let Some(x) = self.shard.get_mut(root as usize) {
            *x = shard;
        }
    }
}

impl Router {
    pub fn new(max_age: i64) -> Self {
        Router {
            moved: HashMap::default(),
            last_sweep: i64::MIN,
            max_age,
            groups: Groups::default(),
            filter: Filter::default(),
        }
    }

    /// The router of a merger saved before correlation was sharded: its sweeps go on.
    pub fn resumed(max_age: i64, last_sweep: i64) -> Self {
        Router {
            last_sweep,
            ..Router::new(max_age)
        }
    }

    /// A restored router is given this run's eviction age.
    pub fn set_max_age(&mut self, secs: i64) {
        self.max_age = secs;
    }

    /// Keys living away from home.
    pub fn moved(&self) -> usize {
        self.moved.len()
    }

    /// The shard of key `h` now.
    pub fn shard(&self, h: u64) -> usize {
        self.away(h).map_or(home(h), usize::from)
    }

    /// The shard of key `h` if it lives away from home: the filter answers for most keys
    /// without the table (this step is serial; ~25 instructions a look-up).
    fn away(&self, h: u64) -> Option<u16> {
        if !self.filter.may_hold(h) {
            return None;
        }
        self.moved.get(&h).map(|&(s, _)| s)
    }

    /// [`Router::plan_with`] over a slice of lines.
    #[cfg(test)]
    pub fn plan(&mut self, lines: &[Routed], first_line: u64, plan: &mut Plan) {
        let tied = (0..lines.len()).filter(|&i| lines[i].route.tie != 0);
        self.plan_with(lines.len(), |i| lines[i], tied, first_line, plan);
    }

    /// Spreads a batch of `n` lines (in input order, read through `line`: no copy of them)
    /// over the shards. Keys a line ties are put in one shard for the whole batch, with the
    /// states they have elsewhere moved there first; lines with no key are spread by their
    /// number. `tied` gives, in order, every line whose route ties a key (others may be
    /// among them).
    pub fn plan_with(
        &mut self,
        n: usize,
        line: impl Fn(usize) -> Routed,
        tied: impl Iterator<Item = usize>,
        first_line: u64,
        plan: &mut Plan,
    ) {
        plan.shard.clear();
        plan.shard.reserve(n);
        plan.moves.clear();
        plan.sweeps.clear();
        self.groups.clear();
        if !self.filter.built() {
            self.filter.rebuild(self.moved.keys());
        }
        // Tied keys: one shard per group, the shard the first tie's key was in.
        for i in tied {
            let r = line(i).route;
            if r.tie == 0 || r.key == 0 {
                continue;
            }
            let i = i as u32;
            let ka = self.groups.add(r.key, i, false);
            let kb = self.groups.add(r.tie, i, true);
            let (a, b) = (self.groups.find(ka), self.groups.find(kb));
            if a == b {
                continue;
            }
            let shard = match self.groups.shard_of(a) {
                Some(s) => s,
                None => self.shard(r.key) as u16,
            };
            if let Some(p) = self.groups.parent.get_mut(b as usize) {
                *p = a;
            }
            self.groups.set_shard(b, None);
            self.groups.set_shard(a, Some(shard));
        }
        let now = n.checked_sub(1).map_or(0, |i| line(i).now);
        // Each member's shard before this batch, when away from home (looked up once).
        let away: Vec<Option<u16>> = (self.groups.members.iter())
            .map(|&(h, ..)| self.away(h))
            .collect();
        // A group goes where a member already lives away from home: a key tied again (a qmail
        // delivery number reused) is with the state of its earlier tie, which the lines before
        // this tie still need.
        let mut first_moved = vec![false; away.len()];
        for (m, s) in away.iter().enumerate() {
            let Some(s) = *s else {
                continue;
            };
            let root = self.groups.find(m as u32);
            if let Some(first) = first_moved.get_mut(root as usize) {
                if !*first {
                    *first = true;
                    self.groups.set_shard(root, Some(s));
                }
            }
        }
        for (m, was) in away.iter().enumerate() {
            let Some(&(h, line, tied)) = self.groups.members.get(m) else {
                continue;
            };
            let root = self.groups.find(m as u32);
            let to = self.groups.shard_of(root).unwrap_or(0);
            // No member's key is another's: the moves of those before did not touch this one.
            let from = was.unwrap_or(home(h) as u16);
            if from != to {
                plan.moves.push(Move {
                    line,
                    tied,
                    from,
                    to,
                });
            }
            if usize::from(to) == home(h) {
                send_home(&mut self.moved, &mut self.filter, h);
            } else if self.moved.insert(h, (to, now)).is_none() {
                self.filter.add(h);
            }
        }
        let grouped = !self.groups.members.is_empty();
        let away = !self.moved.is_empty();
        // The first line of a run starts its sweeps' clock (no sweep at it, as before).
        if self.last_sweep == i64::MIN && n > 0 {
            self.last_sweep = line(0).now;
        }
        // This step runs one line at a time for every core: the loop's state is in locals,
        // the shards are written in place, and only keys the filter may hold are looked up.
        plan.shard.clear();
        plan.shard.resize(n, 0);
        let Router {
            moved,
            last_sweep,
            max_age,
            groups,
            filter,
        } = self;
        for (i, slot) in plan.shard.iter_mut().enumerate() {
            let l = line(i);
            let r = l.route;
            *slot = if r.key == 0 {
                ((first_line + i as u64) % SHARDS as u64) as u16
            } else if let Some(m) = (away && filter.may_hold(r.key))
                .then(|| moved.get_mut(&r.key))
                .flatten()
            {
                let s = m.0;
                m.1 = l.now;
                // A key's life ends: its lines go home again. One this batch tied goes home
                // after the batch, if the end was its last line in it (its group's lines all go
                // to one shard).
                if r.ends {
                    if !(grouped && groups.has(r.key)) {
                        send_home(moved, filter, r.key);
                    } else {
                        groups.ended.insert(r.key, true);
                    }
                } else if grouped && !groups.ended.is_empty() {
                    if let Some(e) = groups.ended.get_mut(&r.key) {
                        *e = false;
                    }
                }
                s
            } else {
                home(r.key) as u16
            };
            if r.tie != 0 && grouped && !groups.ended.is_empty() {
                if let Some(e) = groups.ended.get_mut(&r.tie) {
                    *e = false;
                }
            }
            // Sweeps as one merger did them: an hour of log time after the last.
            if l.now - *last_sweep >= 3600 {
                *last_sweep = l.now;
                plan.sweeps.push((i as u32, l.now));
                let limit = l.now - *max_age;
                // Keys this batch tied are needed where they are, whenever their last line was.
                moved.retain(|k, m| m.1 >= limit || groups.has(*k));
                // Rebuilt at the next batch.
                filter.drop_counts();
            }
        }
        for (&k, &ended) in &self.groups.ended {
            if ended {
                send_home(&mut self.moved, &mut self.filter, k);
            }
        }
        if self.moved.len() > MOVED_BUDGET {
            let mut ages: Vec<i64> = self.moved.values().map(|m| m.1).collect();
            let k = ages.len() / 10;
            let (_, &mut cut, _) = ages.select_nth_unstable(k);
            self.moved.retain(|_, m| m.1 > cut);
            self.filter.drop_counts();
        }
    }
}

#[cfg(test)]
mod tests {
    /// The hash is saved with a run's state: it must not change. Word by word as it was first
    /// written (the tail copied into a zeroed word), for every length up to three words, and
    /// two values as they are.
    #[test]
    fn hash_is_stable() {
        fn words_as_first_written(mut h: u64, bytes: &[u8]) -> u64 {
            const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
            let step = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
            h = step(h, bytes.len() as u64);
            for c in bytes.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                h = step(h, u64::from_le_bytes(w));
            }
            h
        }
        let text: Vec<u8> = (0u8..24).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        for n in 0..=text.len() {
            assert_eq!(
                super::words(7, &text[..n]),
                words_as_first_written(7, &text[..n]),
                "{n}"
            );
        }
        let key = |kind, id| super::Key { kind, id };
        assert_eq!(
            super::hash(b"mail", key(super::Kind::Message, b"6B1B62259")),
            HASHES[0]
        );
        assert_eq!(
            super::hash(b"", key(super::Kind::Session, b"4PbC4x469Jz3tBr")),
            HASHES[1]
        );
    }
    const HASHES: [u64; 2] = [12_743_571_606_240_034_051, 15_588_352_790_209_642_987];

    use super::*;

    /// A key hash whose home is shard `s`.
    fn at(s: u64) -> u64 {
        (s << 32) | 7
    }

    /// Two keys with different home shards.
    fn two_keys() -> (u64, u64) {
        (at(1), at(2))
    }

    fn line(key: u64, tie: u64, ends: bool, now: i64) -> Routed {
        Routed {
            route: Route {
                key,
                tie,
                ends,
                mark: 0,
            },
            now,
        }
    }

    #[test]
    fn a_tie_puts_both_keys_in_one_shard_for_the_whole_batch_and_after() {
        let (a, b) = two_keys();
        let mut r = Router::new(86_400);
        let mut plan = Plan::default();
        // b's first line comes in an earlier batch: its state is in its home shard.
        r.plan(&[line(b, 0, false, 100)], 0, &mut plan);
        assert_eq!(plan.shard, [home(b) as u16]);
        // Then b's next line, and a tie from a (a hop: b is a's new queue ID), in one batch.
        r.plan(
            &[line(b, 0, false, 101), line(a, b, false, 102)],
            1,
            &mut plan,
        );
        let sa = home(a) as u16;
        assert_eq!(plan.shard, [sa, sa], "b's line before the tie goes with a");
        assert_eq!(
            plan.moves,
            [Move {
                line: 1,
                tied: true,
                from: home(b) as u16,
                to: sa
            }]
        );
        assert_eq!(r.moved(), 1);
        // Later batches send b to a's shard, until b's life ends there.
        r.plan(
            &[line(b, 0, true, 103), line(b, 0, false, 104)],
            3,
            &mut plan,
        );
        assert_eq!(plan.shard, [sa, home(b) as u16]);
        assert!(plan.moves.is_empty());
        assert_eq!(r.moved(), 0);
    }

    /// The filter's counts follow the table: every key in it may be there, a slot none of its
    /// keys falls in says no (until a count saturates), through random adds and removes with
    /// many keys to a slot, and a rebuild counts as the adds did.
    #[test]
    fn filter_counts_follow_the_keys() {
        use std::collections::HashSet;
        let mut next = crate::testing::xorshift(0xf11_7e55);
        let mut f = super::Filter::default();
        assert!(f.may_hold(1), "not built: every key is looked up");
        f.rebuild([].iter());
        let mut keys = HashSet::new();
        for round in 0..200_000u64 {
            // Keys over 512 slots, so that counts pass 255 too.
            let h = (next() % 4096) << 16 | (next() % 512);
            if next().is_multiple_of(2) {
                if keys.insert(h) {
                    f.add(h);
                }
            } else if keys.remove(&h) {
                f.remove(h);
            }
            if round.is_multiple_of(1000) {
                for &k in &keys {
                    assert!(f.may_hold(k), "{k:x}");
                }
                for slot in 512..1024u64 {
                    assert!(!f.may_hold(slot), "{slot:x}");
                }
                let mut g = super::Filter::default();
                g.rebuild(keys.iter());
                for &k in &keys {
                    assert!(g.may_hold(k));
                }
            }
        }
        // Emptied: only the slots that reached 255 still say "look it up".
        for k in keys.drain().collect::<Vec<_>>() {
            f.remove(k);
        }
        let stuck = (0..512u64).filter(|&s| f.may_hold(s)).count();
        assert!(stuck < 512, "counts went down");
    }

    /// The moved-key filter never hides a moved key: not after the batch that moved it, not in
    /// a router loaded from a state (no filter yet), not after a sweep rebuilt it; and a key
    /// whose filter count is zero is routed home.
    #[test]
    fn the_filter_of_moved_keys_never_hides_one() -> Result<(), postcard::Error> {
        // Distinct low bits (the filter's slot), distinct homes.
        let (a, b, c) = (at(1) | 0x100, at(2) | 0x200, at(3) | 0x300);
        let mut r = Router::new(86_400);
        let mut plan = Plan::default();
        r.plan(&[line(a, b, false, 10)], 0, &mut plan);
        assert_eq!(r.moved(), 1, "b lives in a's shard now");
        let sa = home(a) as u16;
        r.plan(
            &[line(b, 0, false, 11), line(c, 0, false, 12)],
            1,
            &mut plan,
        );
        assert_eq!(plan.shard, [sa, home(c) as u16]);
        let saved = postcard::to_allocvec(&r)?;
        let mut loaded: Router = postcard::from_bytes(&saved)?;
        loaded.plan(&[line(b, 0, false, 13)], 3, &mut plan);
        assert_eq!(plan.shard, [sa], "found in a loaded router");
        // An hour later a sweep rebuilds the filter; b, named since, is kept and still found.
        loaded.plan(
            &[line(c, 0, false, 3_700), line(b, 0, false, 3_701)],
            4,
            &mut plan,
        );
        assert_eq!(plan.sweeps.len(), 1);
        assert_eq!(plan.shard, [home(c) as u16, sa]);
        loaded.plan(&[line(b, 0, false, 3_702)], 6, &mut plan);
        assert_eq!(plan.shard, [sa], "found after the rebuild");
        Ok(())
    }

    /// A hop's new message often lives and ends within one batch: its key goes home after the
    /// batch (the table of moved keys stays small), unless a line of it comes after its end.
    #[test]
    fn a_key_tied_and_ended_in_one_batch_is_forgotten_after_it() {
        let (a, b) = two_keys();
        let mut r = Router::new(86_400);
        let mut plan = Plan::default();
        r.plan(
            &[
                line(a, b, false, 1),
                line(b, 0, false, 2),
                line(b, 0, true, 3),
            ],
            0,
            &mut plan,
        );
        assert_eq!(plan.shard, [home(a) as u16; 3]);
        assert_eq!(r.moved(), 0);
        // Reused after its end in the same batch: its new state is in a's shard, and stays
        // found there.
        r.plan(
            &[
                line(a, b, false, 4),
                line(b, 0, true, 5),
                line(b, 0, false, 6),
            ],
            3,
            &mut plan,
        );
        assert_eq!(plan.shard, [home(a) as u16; 3]);
        assert_eq!(r.moved(), 1);
        assert_eq!(r.shard(b), home(a));
    }

    /// qmail reuses a delivery number: its result line, then its start for another message,
    /// in one batch. The result needs the first message's state; the group goes there.
    #[test]
    fn a_key_tied_again_keeps_its_earlier_partner() {
        let (m1, d) = two_keys();
        let m2 = at(3);
        let mut r = Router::new(86_400);
        let mut plan = Plan::default();
        r.plan(&[line(m1, d, false, 1)], 0, &mut plan);
        let s1 = home(m1) as u16;
        assert_eq!(plan.shard, [s1]);
        r.plan(&[line(d, 0, true, 2), line(m2, d, false, 3)], 1, &mut plan);
        assert_eq!(plan.shard, [s1, s1]);
        assert_eq!(
            plan.moves,
            [Move {
                line: 1,
                tied: false,
                from: home(m2) as u16,
                to: s1
            }]
        );
    }

    #[test]
    fn chained_ties_make_one_group_and_lines_without_a_key_are_spread() {
        let (a, b) = two_keys();
        let c = at(3);
        assert_ne!(home(b), home(a));
        let mut r = Router::new(86_400);
        let mut plan = Plan::default();
        r.plan(
            &[
                line(a, b, false, 1),
                line(b, c, false, 2),
                line(c, 0, false, 3),
            ],
            0,
            &mut plan,
        );
        let sa = home(a) as u16;
        assert_eq!(plan.shard, [sa, sa, sa]);
        r.plan(&[line(0, 0, false, 4), line(0, 0, false, 5)], 7, &mut plan);
        assert_eq!(plan.shard, [(7 % SHARDS) as u16, (8 % SHARDS) as u16]);
    }

    #[test]
    fn sweeps_come_hourly_as_one_merger_made_them() {
        let mut r = Router::new(86_400);
        let mut plan = Plan::default();
        let lines: Vec<Routed> = [0, 1800, 3599, 3600, 3700, 7300]
            .iter()
            .map(|&t| line(5, 0, false, t))
            .collect();
        r.plan(&lines, 0, &mut plan);
        assert_eq!(plan.sweeps, [(3, 3600), (5, 7300)]);
    }
}
