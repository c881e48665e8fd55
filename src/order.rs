//! The reorder window between merge and output: records come out in time order (by instant,
//! ties in arrival order) when the log's disorder is within the window; memory is bounded by
//! the window and by [`MAX_HELD`], not by the log's size.

use crate::record::Record;
use std::collections::VecDeque;

/// Puts records in time order (by instant), ties in arrival order. Records are held until the
/// newest timestamp seen is `window` seconds past them, so memory is bounded by the log's
/// disorder, not its size; disorder larger than the window (a clock step) is passed through as
/// is. Logs are nearly sorted, so a record is usually appended at the back.
/// Records held at most, whatever the window: in a burst, the oldest go out early.
pub const MAX_HELD: usize = 50_000;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Reorder<T = Box<Record>> {
    held: VecDeque<(i128, T)>,
    newest: i128,
    window: i128,
}

/// What the reorder buffer holds: a record, or what stands for it (its rendered line).
pub trait Timed {
    /// Nanoseconds since the epoch, the order key.
    fn key(&self) -> i128;
}

impl Timed for Box<Record> {
    fn key(&self) -> i128 {
        Record::key(self)
    }
}

impl<T: Timed> Reorder<T> {
    pub fn new(window_secs: i64) -> Self {
        Reorder {
            held: VecDeque::new(),
            newest: i128::MIN,
            window: i128::from(window_secs) * 1_000_000_000,
        }
    }

    /// Adds a record; records now older than the window are passed to `emit` in order.
    pub fn push<E>(&mut self, r: T, emit: &mut impl FnMut(T) -> Result<(), E>) -> Result<(), E> {
        let key = r.key();
        if self.held.len() >= MAX_HELD {
            if let Some((_, h)) = self.held.pop_front() {
                emit(h)?;
            }
        }
        // Saturating: `newest` starts at the minimum (nothing seen yet).
        if key < self.newest.saturating_sub(self.window) {
            // The log stepped back further than the window (clock step, files out of order):
            // what is held is complete; start over from here.
            while let Some((_, h)) = self.held.pop_front() {
                emit(h)?;
            }
            self.newest = key;
        }
        // After the last record not later than this one: ties keep arrival order. Nearly
        // every record is the latest so far and goes at the back: a push, not an insert.
        if self.held.back().is_none_or(|(k, _)| *k <= key) {
            self.held.push_back((key, r));
        } else {
            let at = self
                .held
                .iter()
                .rposition(|(k, _)| *k <= key)
                .map_or(0, |i| i + 1);
            self.held.insert(at, (key, r));
        }
        self.newest = self.newest.max(key);
        let limit = self.newest.saturating_sub(self.window);
        while self.held.front().is_some_and(|(k, _)| *k < limit) {
            if let Some((_, r)) = self.held.pop_front() {
                emit(r)?;
            }
        }
        Ok(())
    }

    /// What is held, in order, to be changed in place (a state's rows made by an earlier
    /// build, brought to this one's form).
    pub fn held_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.held.iter_mut().map(|(_, t)| t)
    }

    /// Emits everything still held, in order.
    pub fn finish<E>(&mut self, emit: &mut impl FnMut(T) -> Result<(), E>) -> Result<(), E> {
        while let Some((_, r)) = self.held.pop_front() {
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
            ro.held.len(),
            1,
            "held records are out once the window passes them"
        );
        let _ = ro.finish(&mut emit);
        assert_eq!(got, ["a", "b", "d", "c", "e"]);
    }
}
