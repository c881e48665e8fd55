//! What a run reports: its [`Summary`], and the figures `--stats` prints (what was read, what
//! was recognised, what was written).

use crate::error::Error;
use crate::record::{Mta, Status};
use crate::time::Stamp;
use std::fmt::Write as _;

/// What a run did: its figures, its warnings (the library prints nothing; `main` does), and
/// the inputs that failed (the rest were converted).
#[derive(Debug, Default)]
pub struct Summary {
    pub stats: Stats,
    /// Warnings worth a line on stderr (bad timestamps, the first few of them).
    pub warnings: Vec<String>,
    pub errors: Vec<Error>,
    /// The log time each host's lines spanned, input by input (kept when the output is a
    /// dataset: it is what the run covered).
    pub coverage: Coverage,
}

/// Spans of log time (nanoseconds since the epoch, both ends included) by host: the lines a
/// run read, so that a later run over the same lines can tell which records a dataset has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Sorted, disjoint spans for each host.
    pub hosts: std::collections::BTreeMap<Vec<u8>, Vec<(i64, i64)>>,
}

impl Coverage {
    /// Adds the span `from..=to` of `host`, merging it with the spans it meets.
    pub fn add(&mut self, host: &[u8], from: i64, to: i64) {
        let (from, to) = (from.min(to), from.max(to));
        let spans = self.hosts.entry(host.to_vec()).or_default();
        spans.push((from, to));
        spans.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
        for &(a, b) in spans.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *spans = merged;
    }

    /// Every span of `other` added to this one.
    pub fn union(&mut self, other: &Coverage) {
        for (host, spans) in &other.hosts {
            for &(a, b) in spans {
                self.add(host, a, b);
            }
        }
    }

    /// True if `t` of `host` lies in a span.
    pub fn contains(&self, host: &[u8], t: i64) -> bool {
        self.hosts.get(host).is_some_and(|spans| {
            let i = spans.partition_point(|&(a, _)| a <= t);
            i > 0 && spans.get(i - 1).is_some_and(|&(_, b)| t <= b)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// Per-input figures.
#[derive(Debug, Clone, Default)]
pub struct FileStats {
    pub name: String,
    pub compression: &'static str,
    pub lines: u64,
    /// Lines of a mail server maillogconv knows.
    pub recognised: u64,
    pub first: Option<Stamp>,
    pub last: Option<Stamp>,
    /// How the year of BSD stamps was chosen for this file.
    pub year_from: String,
    /// A journal stream's first and last `__CURSOR`.
    pub cursors: Option<(String, String)>,
    pub failed: bool,
}

/// Figures for a whole run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub lines: u64,
    pub recognised: u64,
    pub unknown: u64,
    pub malformed: u64,
    pub bad_timestamps: u64,
    /// Lines longer than `--max-line-length`, cut to it.
    pub long_lines: u64,
    /// Mail lines of hosts other than `--only-host`'s, passed over.
    pub other_hosts: u64,
    /// Final records by status: a hop to a content filter is not one (`hops`).
    pub records: [u64; Status::ALL.len()],
    /// Deliveries to a content filter on this machine (the message lives on under a new ID).
    pub hops: u64,
    pub open_at_end: u64,
    /// Messages dropped because no line came for them for the eviction age.
    pub evicted: u64,
    /// Messages dropped an hour after every recipient was final, without `removed`.
    pub settled_dropped: u64,
    /// Messages dropped an hour after their client, which never got a sender.
    pub abandoned: u64,
    /// Messages dropped because too many were open at once (the oldest first).
    pub shed: u64,
    pub files: Vec<FileStats>,
    /// Recognised lines by MTA (indexed by `Mta::ALL`).
    pub by_mta: [u64; Mta::ALL.len()],
    /// What discovery and year inference have to say (skipped files, anchors overruled).
    pub notes: Vec<String>,
    /// Records a dataset already held from an earlier run over the same lines (not written).
    pub already_in_dataset: u64,
    /// The workers that ran and how they shared the steps (empty: not said).
    pub schedule: String,
}

impl Stats {
    pub fn count(&mut self, s: Status) {
        if let Some(i) = Status::ALL.iter().position(|&x| x == s) {
            self.records[i] += 1;
        }
    }

    pub fn records_total(&self) -> u64 {
        self.records.iter().sum()
    }

    /// The `--stats` report.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let ts = |t: Option<Stamp>| {
            t.map_or("-".to_string(), |t| {
                let (sign, o) = if t.offset < 0 {
                    ('-', -t.offset)
                } else {
                    ('+', t.offset)
                };
                format!("{}{sign}{:02}:{:02}", t.local, o / 3600, o % 3600 / 60)
            })
        };
        for f in &self.files {
            let _ = writeln!(
                s,
                "input {}: {} lines, {}, first {}, last {}, year from {}{}",
                f.name,
                f.lines,
                f.compression,
                ts(f.first),
                ts(f.last),
                f.year_from,
                if f.failed { ", FAILED" } else { "" }
            );
            if let Some((first, last)) = &f.cursors {
                let _ = writeln!(
                    s,
                    "input {}: journal cursors: first {first}, last {last}",
                    f.name
                );
            }
        }
        let _ = writeln!(
            s,
            "lines: {} read, {} recognised, {} unknown, {} malformed, {} bad timestamps",
            self.lines, self.recognised, self.unknown, self.malformed, self.bad_timestamps
        );
        if self.long_lines > 0 {
            let _ = writeln!(s, "lines cut at --max-line-length: {}", self.long_lines);
        }
        if self.other_hosts > 0 {
            let _ = writeln!(
                s,
                "lines of other hosts (--only-host): {}",
                self.other_hosts
            );
        }
        if self.by_mta.iter().any(|&n| n > 0) {
            let m: Vec<String> = Mta::ALL
                .iter()
                .zip(self.by_mta)
                .filter(|(_, n)| *n > 0)
                .map(|(m, n)| format!("{} {n}", m.name()))
                .collect();
            let _ = writeln!(s, "lines by MTA: {}", m.join(", "));
        }
        let by: Vec<String> = Status::ALL
            .iter()
            .zip(self.records)
            .map(|(st, n)| format!("{} {n}", st.name()))
            .collect();
        let _ = writeln!(s, "records: {} ({})", self.records_total(), by.join(", "));
        if self.hops > 0 {
            let _ = writeln!(
                s,
                "content-filter hops (not deliveries, not in the records above): {}",
                self.hops
            );
        }
        let _ = writeln!(s, "messages still open at end: {}", self.open_at_end);
        let _ = writeln!(
            s,
            "messages evicted (no line for the eviction age, never removed): {}",
            self.evicted
        );
        let _ = writeln!(
            s,
            "messages dropped once settled (every recipient final, no removed within an hour): {}",
            self.settled_dropped
        );
        if self.already_in_dataset > 0 {
            let _ = writeln!(
                s,
                "records already in the dataset from an earlier run (not written again): {}",
                self.already_in_dataset
            );
        }
        if self.abandoned > 0 {
            let _ = writeln!(
                s,
                "messages dropped with only their client known (sessions ended before DATA): {}",
                self.abandoned
            );
        }
        if self.shed > 0 {
            let _ = writeln!(
                s,
                "messages dropped over the budget of {} open at once (oldest first): {}",
                crate::merge::OPEN_BUDGET,
                self.shed
            );
        }
        if !self.schedule.is_empty() {
            let _ = writeln!(s, "workers: {}", self.schedule);
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_spans_merge_and_answer_by_host() {
        let mut c = Coverage::default();
        c.add(b"mx1", 10, 20);
        c.add(b"mx1", 30, 40);
        c.add(b"mx1", 21, 25);
        c.add(b"mx2", 100, 100);
        assert_eq!(c.hosts[&b"mx1".to_vec()], [(10, 25), (30, 40)]);
        for (t, want) in [
            (9, false),
            (10, true),
            (25, true),
            (26, false),
            (30, true),
            (41, false),
        ] {
            assert_eq!(c.contains(b"mx1", t), want, "{t}");
        }
        assert!(c.contains(b"mx2", 100) && !c.contains(b"mx2", 99) && !c.contains(b"mx3", 10));
        let mut d = Coverage::default();
        d.add(b"mx1", 26, 29);
        d.union(&c);
        assert_eq!(d.hosts[&b"mx1".to_vec()], [(10, 40)]);
    }
}
