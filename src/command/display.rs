//! The progress display of the `maillogconv` command (the library itself prints nothing):
//! a bar on a terminal, a plain line every few seconds otherwise (`--progress`).

use crate::progress::{Progress, Snapshot};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A display running on its own thread until [`Display::stop`].
pub struct Display {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Display {
    pub fn start(progress: Arc<Progress>) -> Display {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                if terminal {
                    bar(&progress, &flag);
                } else {
                    lines(&progress, &flag);
                }
            })
            .ok();
        Display { stop, thread }
    }

    /// Ends the display (a bar is cleared) before the run's own messages are printed.
    pub fn stop(mut self) {
        // Release: the run's counts, complete now, are seen by the display once it sees this.
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn counts(s: &Snapshot) -> String {
    format!("{} lines, {} records", s.lines, s.records)
}

fn bar(progress: &Progress, stop: &AtomicBool) {
    use indicatif::{ProgressBar, ProgressStyle};
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {bytes} read, {bytes_per_sec}, {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut sized = false;
    loop {
        // Read before the snapshot: the last drawing, after the run ended, has its final counts
        // (read after, a snapshot taken just before the end was drawn last: "0 lines").
        let done = stop.load(Ordering::Acquire);
        let s = progress.snapshot();
        // The run learns the inputs' size once it has found them: then a bar with time left.
        if let (Some(total), false) = (s.total, sized) {
            sized = true;
            bar.set_length(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec}, {eta} left, {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        bar.set_position(s.bytes);
        bar.set_message(counts(&s));
        bar.tick();
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Drawn once more whatever the rate limit (the final figures), then cleared for the run's
    // own messages.
    bar.finish();
    bar.finish_and_clear();
}

fn lines(progress: &Progress, stop: &AtomicBool) {
    let started = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    let say = |s: &Snapshot| {
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let of = s.total.map_or(String::new(), |t| {
            format!(" of {:.1} MiB", t as f64 / 1048576.0)
        });
        eprintln!(
            "maillogconv: progress: {:.1} MiB{of} read, {}, {:.1} MiB/s",
            s.bytes as f64 / 1048576.0,
            counts(s),
            s.bytes as f64 / 1048576.0 / secs
        );
    };
    while !stop.load(Ordering::Acquire) {
        if last.elapsed() >= Duration::from_secs(2) {
            say(&progress.snapshot());
            last = std::time::Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    say(&progress.snapshot());
}
