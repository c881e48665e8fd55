//! What a run has done so far, for a progress display: counters the stages add to as they go
//! (relaxed atomics, a few per chunk), read by whoever shows them. The library shows nothing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A run's progress so far.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the inputs read as stored (compressed bytes of a compressed file).
    bytes: AtomicU64,
    /// The inputs' total size as stored, when every input is a regular file; else 0.
    total: AtomicU64,
    lines: AtomicU64,
    records: AtomicU64,
}

/// A reading of [`Progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub bytes: u64,
    /// `None` when an input's size is not known (stdin, a pipe).
    pub total: Option<u64>,
    pub lines: u64,
    pub records: u64,
}

impl Progress {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            bytes: self.bytes.load(Relaxed),
            total: Some(self.total.load(Relaxed)).filter(|&t| t > 0),
            lines: self.lines.load(Relaxed),
            records: self.records.load(Relaxed),
        }
    }

    pub(crate) fn set_total(&self, total: Option<u64>) {
        self.total.store(total.unwrap_or(0), Relaxed);
    }

    pub(crate) fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Relaxed);
    }

    pub(crate) fn add_lines(&self, n: u64) {
        self.lines.fetch_add(n, Relaxed);
    }

    pub(crate) fn add_record(&self) {
        self.records.fetch_add(1, Relaxed);
    }
}
