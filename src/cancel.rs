//! The cancel token: set from outside the run (by a signal handler in `main.rs`, or by a caller
//! of the library), read by the pipeline between steps. It remembers which signal set it, so
//! that `main` can re-raise that signal once the run has cleaned up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A shared flag: zero while the run may go on, else the number of the signal that stopped it
/// (or any non-zero number for a cancel that is not a signal).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicUsize>);

impl Cancel {
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Stops the run at its next step.
    pub fn cancel(&self) {
        self.0.store(usize::MAX, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// The signal that cancelled the run, if a signal did.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::Relaxed) {
            0 | usize::MAX => None,
            n => i32::try_from(n).ok(),
        }
    }

    /// The flag itself, for a signal handler to store the signal number into.
    pub fn flag(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.0)
    }
}
