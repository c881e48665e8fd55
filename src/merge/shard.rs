//! Correlation split into [`SHARDS`] mergers, each holding the keys the router sends it, so
//! that they can run on different cores. A shard sees its lines in input order; what one
//! merger did across keys (hourly sweeps, budgets) is done by the router or shared out.

use super::route::{self, Kind, Router, SHARDS};
use super::{numbered, reject, session, set_key, Emit, Merger, Message, Origin, Probe, Stored};
use crate::error::Error;

/// The state of one key, taken from one shard to be put in another.
#[derive(Debug, Default)]
pub struct Moved {
    key: Vec<u8>,
    message: Option<Box<Message>>,
    link: Option<Origin>,
    pending: Vec<reject::Pending>,
    delivery: Option<numbered::Pending>,
    session: Option<session::Session>,
}

impl Merger {
    /// Takes what this merger holds for the `kind` key `id` of `host`.
    pub fn take_key(&mut self, kind: Kind, host: &[u8], id: &[u8]) -> Moved {
        let mut m = Moved::default();
        // Most keys a tie names are new: nothing to take, and no key made for nothing.
        set_key(&mut self.key, host, id);
        let key = self.key.as_slice();
        let held = match kind {
            Kind::Message => {
                let probe = Probe::of_stored(key);
                self.open.contains_key(&probe)
                    || self.links.contains_key(&probe)
                    || self.pending.iter().any(|p| p.key == key)
            }
            Kind::Delivery => self.deliveries.contains_key(key),
            Kind::Session => self.sessions.open.contains_key(key),
        };
        if !held {
            return m;
        }
        m.key = self.key.clone();
        match kind {
            Kind::Message => {
                let probe = Probe::of_stored(&m.key);
                m.message = self.open.remove(&probe).map(|o| o.message);
                m.link = self.links.remove(&probe);
                if self.pending.iter().any(|p| p.key == m.key) {
                    let (mine, rest) = std::mem::take(&mut self.pending)
                        .into_iter()
                        .partition(|p| p.key == m.key);
                    m.pending = mine;
                    self.pending = rest;
                }
            }
            Kind::Delivery => m.delivery = self.deliveries.remove(m.key.as_slice()),
            Kind::Session => m.session = self.sessions.open.remove(m.key.as_slice()),
        }
        m
    }

    /// The log time after which the oldest held reject is written without its sender.
    pub fn pending_due(&self) -> Option<i64> {
        (self.pending.first()).map(|p| p.at.saturating_add(reject::SENDER_WAIT_SECS))
    }

    /// Writes the held rejects due at `now`, as a line at `now` would in one merger.
    pub fn flush_due(&mut self, now: i64, emit: &mut Emit) -> Result<(), Error> {
        self.flush_pending(now.saturating_sub(reject::SENDER_WAIT_SECS), emit)
    }

    /// Puts a key's state taken from another shard.
    pub fn put_key(&mut self, m: Moved) {
        let Moved {
            key,
            message,
            link,
            pending,
            delivery,
            session,
        } = m;
        if let Some(x) = message {
            self.open.insert(Stored(key.clone()), super::Open::new(x));
        }
        if let Some(x) = link {
            self.links.insert(Stored(key.clone()), x);
        }
        if let Some(x) = delivery {
            self.deliveries.insert(key.clone(), x);
        }
        if let Some(x) = session {
            self.sessions.open.insert(key, x);
        }
        if !pending.is_empty() {
            self.pending.extend(pending);
            // Held rejects are written oldest first.
            self.pending.sort_by_key(|p| p.at);
        }
    }
}

/// Correlation state in shards, and the router that says which shard a line goes to.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Sharded {
    pub shards: Vec<Merger>,
    pub router: Router,
}

impl Sharded {
    /// Empty shards that evict messages silent for `max_age` seconds of log time.
    pub fn new(max_age: i64) -> Self {
        Sharded {
            shards: (0..SHARDS)
                .map(|_| shard(Merger::with_max_age(max_age)))
                .collect(),
            router: Router::new(max_age.max(60)),
        }
    }

    /// The shards of a merger saved before correlation was sharded: each key goes to the shard
    /// its lines will be sent to.
    pub fn from_merger(m: Merger) -> Self {
        let mut s = Sharded::new(m.max_age);
        s.router = Router::resumed(m.max_age, m.last_sweep);
        let at = |kind, key: &[u8]| route::home(route::hash_stored(kind, key));
        for (k, v) in m.open {
            s.shards[at(Kind::Message, &k.0)].open.insert(k, v);
        }
        for (k, v) in m.links {
            s.shards[at(Kind::Message, &k.0)].links.insert(k, v);
        }
        for (k, v) in m.deliveries {
            s.shards[at(Kind::Delivery, &k)].deliveries.insert(k, v);
        }
        for (k, v) in m.sessions.open {
            s.shards[at(Kind::Session, &k)].sessions.open.insert(k, v);
        }
        // A `once` key starts with its queue ID (`qid\0from\0to`); such logs name no host.
        for (t, k) in m.once.order {
            let qid = k.split(|&c| c == 0).next().unwrap_or_default();
            let h = route::hash(
                b"",
                route::Key {
                    kind: Kind::Message,
                    id: qid,
                },
            );
            let once = &mut s.shards[route::home(h)].once;
            once.seen.insert(k.clone());
            once.order.push_back((t, k));
        }
        s
    }

    /// Shards read from a state file (which does not keep what each is a share of).
    pub fn restored(mut self) -> Self {
        self.shards = self.shards.into_iter().map(shard).collect();
        self
    }

    /// [`Merger::set_details`] for every shard.
    pub fn set_details(&mut self, on: bool) {
        for m in &mut self.shards {
            m.set_details(on);
        }
    }

    /// [`Merger::set_reply_codes`] for every shard.
    pub fn set_reply_codes(&mut self, on: bool) {
        for m in &mut self.shards {
            m.set_reply_codes(on);
        }
    }

    /// A restored state is given this run's eviction age.
    pub fn set_max_age(&mut self, secs: i64) {
        for m in &mut self.shards {
            m.set_max_age(secs);
        }
        self.router.set_max_age(secs.max(60));
    }

    /// Writes the held rejects of every shard (a run's end), in the order of the lines that
    /// decided them.
    pub fn flush_pending(&mut self, emit: &mut Emit) -> Result<(), Error> {
        let mut all: Vec<reject::Pending> = (self.shards.iter_mut())
            .flat_map(|m| m.pending.drain(..))
            .collect();
        all.sort_by_key(|p| p.order);
        for p in all {
            emit(&p.record.view())?;
        }
        Ok(())
    }

    /// Sums a figure over the shards.
    pub fn sum(&self, f: impl Fn(&Merger) -> u64) -> u64 {
        self.shards.iter().map(f).sum()
    }
}

/// A merger made one shard of [`SHARDS`].
fn shard(mut m: Merger) -> Merger {
    m.share = SHARDS;
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::tests::{each_event, feed};

    /// Merges each line of `text` in the shard the router sends it to; returns the records.
    fn feed_shards(s: &mut Sharded, text: &str) -> Vec<crate::record::Record> {
        let mut out = Vec::new();
        each_event(text, &mut |ctx, event| {
            let shard = s.router.shard(route::route(ctx.host, &event).key);
            let _ = s.shards[shard].event(ctx, &event, &mut |r| {
                out.push(r.to_owned_record());
                Ok(())
            });
        });
        out
    }

    /// A state saved by one merger (before shards) is split by key: a message it held open is
    /// found by its later lines in the shard they go to.
    #[test]
    fn a_merger_saved_before_shards_is_split_where_its_keys_lines_go() {
        let head = "\
Jan 10 10:00:00 mx postfix/smtpd[1]: 4A1B2C3D4E: client=mail.example.com[192.0.2.10]
Jan 10 10:00:01 mx postfix/qmgr[2]: 4A1B2C3D4E: from=<a@example.com>, size=100, nrcpt=2 (queue active)
Jan 10 10:00:01 mx postfix/smtpd[1]: 5B2C3D4E5F: client=other.example.com[192.0.2.11]
";
        let tail = "\
Jan 10 10:00:02 mx postfix/smtp[3]: 4A1B2C3D4E: to=<b@example.org>, relay=mx.example.org[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Jan 10 10:00:03 mx postfix/smtp[3]: 4A1B2C3D4E: to=<c@example.net>, relay=mx.example.net[198.51.100.2]:25, delay=2, delays=0/0/0/2, dsn=2.0.0, status=sent (250 ok)
";
        let mut old = Merger::with_max_age(86_400);
        feed(&mut old, head, &mut |_| {});
        assert_eq!(old.open_messages(), 2);
        let mut split = Sharded::from_merger(old);
        assert_eq!(split.sum(|m| m.open_messages() as u64), 2);
        assert!(split.shards.iter().all(|m| m.share == SHARDS));
        let recs = feed_shards(&mut split, tail);
        assert_eq!(recs.len(), 2);
        for r in &recs {
            assert_eq!(&r.client_ip[..], b"192.0.2.10");
            assert_eq!(r.sender.as_deref(), Some(&b"a@example.com"[..]));
        }
    }
}
