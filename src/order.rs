//! The reorder window between merge and output: records come out in time order (by instant,
//! ties in arrival order) when the log's disorder is within the window; memory is bounded by
//! the window and by [`MAX_HELD`], not by the log's size.

use crate::record::Record;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

/// Records held at most, whatever the window: in a burst, the oldest go out early.
pub const MAX_HELD: usize = 50_000;

/// Puts records in time order (by instant), ties in arrival order. Records are held until the
/// newest timestamp seen is `window` seconds past them, so memory is bounded by the log's
/// disorder, not its size; disorder larger than the window (a clock step) is passed through as
/// is.
///
/// Logs are nearly sorted: a record in order joins `held`, a queue, at the back. One earlier
/// than the queue's back (a host whose clock is behind the others' in a central log) waits in
/// `late`, a heap, and records go out from whichever holds the earliest. One sorted queue put
/// each late record in its place by a search back from the end and a shift of what follows:
/// with one host's clock four minutes behind, 400,000 lines took 5.5 s, nearly all of it in the
/// serial write step.
pub struct Reorder<T = Box<Record>> {
    /// (key, record), ascending.
    held: VecDeque<(i128, T)>,
    /// Records earlier than the queue's back when they came, by (key, arrival). A late record
    /// and a queued one with the same key: the queued one came first (the queue's back came
    /// down to that key only after everything later than it, and so every late record before
    /// it, went out), so a tie goes to the queue.
    late: BinaryHeap<Reverse<Late<T>>>,
    /// Late records so far: each one's arrival.
    arrived: u64,
    newest: i128,
    window: i128,
    /// `newest` less `window` (saturating): records before it go out. Kept, not worked out a
    /// record: it changes only with `newest`, and most records share their second with the one
    /// before (two saturating 128-bit subtractions were ~25 of this serial step's ~170
    /// instructions a record, callgrind).
    limit: i128,
}

/// A record that came after a later one, ordered by (key, arrival) only.
struct Late<T> {
    key: i128,
    arrival: u64,
    record: T,
}

impl<T> PartialEq for Late<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.key, self.arrival) == (other.key, other.arrival)
    }
}

impl<T> Eq for Late<T> {}

impl<T> PartialOrd for Late<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Late<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.key, self.arrival).cmp(&(other.key, other.arrival))
    }
}

/// What the buffer holds: a record, or what stands for it (its rendered line).
pub trait Timed {
    /// Nanoseconds since the epoch, the order key.
    fn key(&self) -> i128;
}

impl Timed for Box<Record> {
    fn key(&self) -> i128 {
        Record::key(self)
    }
}

/// A state saves the held records as one list in order (as before the heap): the same bytes,
/// so states of earlier builds load, and earlier builds read this one's.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved<T> {
    held: VecDeque<(i128, T)>,
    newest: i128,
    window: i128,
}

impl<T: serde::Serialize> serde::Serialize for Reorder<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut late: Vec<&Late<T>> = self.late.iter().map(|Reverse(l)| l).collect();
        late.sort_unstable();
        let mut late = late.into_iter().peekable();
        let mut held = Vec::with_capacity(self.held.len() + self.late.len());
        for (k, r) in &self.held {
            while let Some(l) = late.next_if(|l| l.key < *k) {
                held.push((l.key, &l.record));
            }
            held.push((*k, r));
        }
        held.extend(late.map(|l| (l.key, &l.record)));
        let mut st = s.serialize_struct("Reorder", 3)?;
        st.serialize_field("held", &held)?;
        st.serialize_field("newest", &self.newest)?;
        st.serialize_field("window", &self.window)?;
        st.end()
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Reorder<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let saved = Saved::<T>::deserialize(d)?;
        Ok(Reorder {
            arrived: 0,
            held: saved.held,
            late: BinaryHeap::new(),
            newest: saved.newest,
            window: saved.window,
            limit: saved.newest.saturating_sub(saved.window),
        })
    }
}

impl<T: Timed> Reorder<T> {
    pub fn new(window_secs: i64) -> Self {
        Reorder {
            held: VecDeque::new(),
            late: BinaryHeap::new(),
            arrived: 0,
            newest: i128::MIN,
            window: i128::from(window_secs) * 1_000_000_000,
            // The minimum less any window (nothing seen yet).
            limit: i128::MIN,
        }
    }

    /// Records held.
    fn len(&self) -> usize {
        self.held.len() + self.late.len()
    }

    /// Whether the earliest record is a late one (of a tie, the queued one is earlier: it
    /// came first); `None` when nothing is held.
    fn earliest_is_late(&self) -> Option<bool> {
        match (self.held.front(), self.late.peek()) {
            (Some((k, _)), Some(Reverse(l))) => Some(l.key < *k),
            (Some(_), None) => Some(false),
            (None, Some(_)) => Some(true),
            (None, None) => None,
        }
    }

    /// The earliest record's key, if any is held.
    fn first_key(&self) -> Option<i128> {
        if self.earliest_is_late()? {
            self.late.peek().map(|Reverse(l)| l.key)
        } else {
            self.held.front().map(|(k, _)| *k)
        }
    }

    /// Takes the earliest record out, with its key.
    fn pop_first(&mut self) -> Option<(i128, T)> {
        if self.earliest_is_late()? {
            self.late.pop().map(|Reverse(l)| (l.key, l.record))
        } else {
            self.held.pop_front()
        }
    }

    /// Adds a record; records now older than the window are passed to `emit` in order.
    pub fn push<E>(&mut self, r: T, emit: &mut impl FnMut(T) -> Result<(), E>) -> Result<(), E> {
        self.push_held(r, emit)?;
        self.drain(emit)
    }

    /// [`Reorder::push`], leaving the records it makes due for a later [`Reorder::drain`]: a
    /// batch of records pushed so, then drained, comes out in the order and at the points of
    /// the batch that [`Reorder::push`] gives (what is due is the earliest held whenever it
    /// goes out: a record earlier than one held past its time is earlier than the limit, and
    /// that empties the buffer in order first). Draining a record at a time cost a failed
    /// comparison a record in the serial write step.
    #[inline(always)]
    pub fn push_held<E>(
        &mut self,
        r: T,
        emit: &mut impl FnMut(T) -> Result<(), E>,
    ) -> Result<(), E> {
        let key = r.key();
        if self.len() >= MAX_HELD {
            // Full of what is due (the batch's), or truly full: the earliest goes out early
            // only in the second case, as a record at a time.
            self.drain(emit)?;
            if self.len() >= MAX_HELD {
                if let Some((_, h)) = self.pop_first() {
                    emit(h)?;
                }
            }
        }
        if key < self.limit {
            // The log stepped back further than the window (clock step, files out of order):
            // what is held is complete; start over from here.
            self.finish(emit)?;
            self.newest = key;
            self.limit = key.saturating_sub(self.window);
        }
        // After the last record not later than this one: ties keep arrival order. Nearly
        // every record is the latest so far and goes at the back of the queue.
        if self.held.back().is_none_or(|(k, _)| *k <= key) {
            self.held.push_back((key, r));
        } else {
            self.late.push(Reverse(Late {
                key,
                arrival: self.arrived,
                record: r,
            }));
            self.arrived += 1;
        }
        if key > self.newest {
            self.newest = key;
            self.limit = key.saturating_sub(self.window);
        }
        Ok(())
    }

    /// Passes the records older than the window to `emit`, in order.
    pub fn drain<E>(&mut self, emit: &mut impl FnMut(T) -> Result<(), E>) -> Result<(), E> {
        let limit = self.limit;
        if self.late.is_empty() {
            // The usual case, in one comparison a record (this step is serial).
            while self.held.front().is_some_and(|(k, _)| *k < limit) {
                if let Some((_, r)) = self.held.pop_front() {
                    emit(r)?;
                }
            }
            return Ok(());
        }
        while self.first_key().is_some_and(|k| k < limit) {
            if let Some((_, r)) = self.pop_first() {
                emit(r)?;
            }
        }
        Ok(())
    }

    /// What is held, in order, to be changed in place (a state's rows made by an earlier
    /// build, brought to this one's form).
    pub fn held_mut(&mut self) -> impl Iterator<Item = &mut T> {
        // Late records join the queue first: a heap's items cannot be changed in place.
        let mut all = VecDeque::with_capacity(self.len());
        while let Some(entry) = self.pop_first() {
            all.push_back(entry);
        }
        self.held = all;
        self.held.iter_mut().map(|(_, t)| t)
    }

    /// Emits everything still held, in order.
    pub fn finish<E>(&mut self, emit: &mut impl FnMut(T) -> Result<(), E>) -> Result<(), E> {
        while let Some((_, r)) = self.pop_first() {
            emit(r)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use crate::time::Stamp;
    use bytes::Bytes;

    /// A record at `at` (UTC) named by its queue ID, for the reorder tests.
    fn rec_at(at: jiff::civil::DateTime, q: &'static str) -> Box<Record> {
        Box::new(Record {
            ts: Some(Stamp::utc(at)),
            queue_id: Bytes::from_static(q.as_bytes()),
            ..Record::default()
        })
    }

    /// A held item for the model checks: its key and its place in the input.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Item(i128, u32);

    impl Timed for Item {
        fn key(&self) -> i128 {
            self.0
        }
    }

    /// The window as it was before the heap (one sorted queue, a late record inserted after
    /// the last one not later than it): what the new one must emit, item for item and push
    /// for push.
    struct Model {
        held: VecDeque<(i128, Item)>,
        newest: i128,
        window: i128,
    }

    impl Model {
        fn push(&mut self, r: Item, out: &mut Vec<(usize, u32)>, at: usize) {
            let key = r.0;
            if self.held.len() >= MAX_HELD {
                if let Some((_, h)) = self.held.pop_front() {
                    out.push((at, h.1));
                }
            }
            if key < self.newest.saturating_sub(self.window) {
                while let Some((_, h)) = self.held.pop_front() {
                    out.push((at, h.1));
                }
                self.newest = key;
            }
            if self.held.back().is_none_or(|(k, _)| *k <= key) {
                self.held.push_back((key, r));
            } else {
                let i = (self.held.iter().rposition(|(k, _)| *k <= key)).map_or(0, |i| i + 1);
                self.held.insert(i, (key, r));
            }
            self.newest = self.newest.max(key);
            let limit = self.newest.saturating_sub(self.window);
            while self.held.front().is_some_and(|(k, _)| *k < limit) {
                if let Some((_, h)) = self.held.pop_front() {
                    out.push((at, h.1));
                }
            }
        }
    }

    /// Logs of many shapes (in order, ties, a host behind by part of the window, steps back
    /// beyond it), pushed through both: the same records come out at the same pushes. Halfway,
    /// the new window is saved and loaded again (as a run's state is).
    #[test]
    fn the_queue_and_heap_emit_as_one_sorted_queue_did() {
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let window = 300;
        for case in 0..300 {
            let (mut model, mut ro) = (
                Model {
                    held: VecDeque::new(),
                    newest: i128::MIN,
                    window,
                },
                Reorder::<Item>::new(0),
            );
            ro.window = window;
            let (mut want, mut got) = (Vec::new(), Vec::new());
            let n = 50 + (next() % 400) as usize;
            let mut t: i128 = 1_000_000;
            for i in 0..n {
                t += (next() % 4) as i128;
                let skew = match (case % 5, next() % 10) {
                    (0, _) => 0,
                    (1, x) if x < 5 => -240,
                    (2, x) if x < 3 => -((next() % 600) as i128),
                    (3, 0) => -1_000,
                    (4, x) => -((x % 3) as i128),
                    _ => 0,
                };
                let item = Item(t + skew, i as u32);
                model.push(item.clone(), &mut want, i);
                let _ = ro.push(item, &mut |h: Item| -> Result<(), ()> {
                    got.push((i, h.1));
                    Ok(())
                });
                if i == n / 2 {
                    let bytes = postcard::to_stdvec(&ro).unwrap_or_default();
                    ro = postcard::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
                }
            }
            want.extend(model.held.drain(..).map(|(_, h)| (n, h.1)));
            let _ = ro.finish(&mut |h: Item| -> Result<(), ()> {
                got.push((n, h.1));
                Ok(())
            });
            assert_eq!(got, want, "case {case}");
        }
    }

    /// Records pushed in batches and drained at each batch's end come out in the order that
    /// pushing and draining each gives: logs of the shapes above, and bursts past
    /// [`MAX_HELD`] with late records among them (where the earliest goes out early).
    #[test]
    fn a_batch_drained_at_its_end_emits_as_each_record_drained() {
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        for case in 0..120 {
            let burst = case % 6 == 5;
            let n = if burst {
                MAX_HELD + 2_000 + (next() % 3_000) as usize
            } else {
                50 + (next() % 400) as usize
            };
            let (mut one, mut batched) = (Reorder::<Item>::new(300), Reorder::<Item>::new(300));
            let (mut want, mut got) = (Vec::new(), Vec::new());
            let mut t: i128 = 1_000_000 * 1_000_000_000;
            let mut left_in_batch = 0;
            for i in 0..n {
                // A burst: many records a nanosecond apart, within the window.
                t += if burst {
                    1
                } else {
                    (next() % 4) as i128 * 1_000_000_000
                };
                let skew = match (case % 6, next() % 10) {
                    (1, x) if x < 5 => -240_000_000_000,
                    (2, x) if x < 3 => -((next() % 600) as i128) * 1_000_000_000,
                    (3, 0) => -1_000_000_000_000,
                    (5, x) if x < 2 => -((next() % 1_000) as i128),
                    _ => 0,
                };
                let item = Item(t + skew, i as u32);
                let _ = one.push(item.clone(), &mut |h: Item| -> Result<(), ()> {
                    want.push(h.1);
                    Ok(())
                });
                let mut emit = |h: Item| -> Result<(), ()> {
                    got.push(h.1);
                    Ok(())
                };
                let _ = batched.push_held(item, &mut emit);
                if left_in_batch == 0 {
                    left_in_batch = 1 + (next() % 2_000) as usize;
                }
                left_in_batch -= 1;
                if left_in_batch == 0 {
                    let _ = batched.drain(&mut emit);
                }
            }
            let _ = one.finish(&mut |h: Item| -> Result<(), ()> {
                want.push(h.1);
                Ok(())
            });
            let _ = batched.finish(&mut |h: Item| -> Result<(), ()> {
                got.push(h.1);
                Ok(())
            });
            assert_eq!(got.len(), n, "case {case}");
            assert!(got == want, "case {case}: the orders differ");
        }
    }

    /// A state holds the records as the one sorted list it always did: the same bytes.
    #[test]
    fn a_saved_window_is_the_sorted_list_it_was() {
        let mut ro = Reorder::<Item>::new(300);
        let mut emit = |_: Item| -> Result<(), ()> { Err(()) };
        for (k, i) in [(100, 0), (90, 1), (100, 2), (95, 3), (90, 4)] {
            ro.push(Item(k * 1_000_000_000, i), &mut emit)
                .unwrap_or_else(|()| panic!("emitted"));
        }
        assert_eq!((ro.held.len(), ro.late.len()), (2, 3));
        let old = Saved {
            held: [(90, 1), (90, 4), (95, 3), (100, 0), (100, 2)]
                .into_iter()
                .map(|(k, i)| (k * 1_000_000_000, Item(k * 1_000_000_000, i)))
                .collect(),
            newest: 100 * 1_000_000_000,
            window: 300 * 1_000_000_000,
        };
        let bytes = postcard::to_stdvec(&ro).unwrap_or_default();
        assert_eq!(bytes, postcard::to_stdvec(&old).unwrap_or_default());
        let mut back: Reorder<Item> =
            postcard::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let order: Vec<u32> = back.held_mut().map(|h| h.1).collect();
        assert_eq!(order, [1, 4, 3, 0, 2]);
    }

    #[test]
    fn reorder_sorts_within_window_and_keeps_ties_in_order() {
        use jiff::civil::date;
        let rec = |h: i8, m: i8, q| rec_at(date(2026, 1, 1).at(h, m, 0, 0), q);
        let mut ro = Reorder::new(3600);
        let mut got = Vec::new();
        let mut emit = |r: Box<Record>| -> Result<(), ()> {
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

    /// Found by the `pipeline` fuzz target: the first record subtracted the window from the
    /// "nothing seen yet" minimum (an overflow panic with overflow checks, as in `cargo test`).
    #[test]
    fn reorder_first_record_does_not_overflow() {
        let mut ro = Reorder::new(300);
        let mut n = 0;
        let mut emit = |_: Box<Record>| -> Result<(), ()> {
            n += 1;
            Ok(())
        };
        let _ = ro.push(Box::new(Record::default()), &mut emit);
        let _ = ro.finish(&mut emit);
        assert_eq!(n, 1);
    }

    #[test]
    fn reorder_passes_a_step_back_beyond_the_window_through() {
        use jiff::civil::date;
        let rec = |d: i8, h: i8, q| rec_at(date(2026, 1, d).at(h, 0, 0, 0), q);
        let mut ro = Reorder::new(3600);
        let mut got = Vec::new();
        let mut emit = |r: Box<Record>| -> Result<(), ()> {
            got.push(String::from_utf8_lossy(&r.queue_id).into_owned());
            Ok(())
        };
        // Day 3, then the log jumps back to day 1 (e.g. files given newest first).
        for r in [
            rec(3, 10, "a"),
            rec(3, 10, "b"),
            rec(1, 10, "c"),
            rec(1, 9, "d"),
            rec(1, 12, "e"),
        ] {
            let _ = ro.push(r, &mut emit);
        }
        assert_eq!(
            ro.len(),
            1,
            "held records are out once the window passes them"
        );
        let _ = ro.finish(&mut emit);
        assert_eq!(got, ["a", "b", "d", "c", "e"]);
    }
}
