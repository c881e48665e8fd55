//! How long one cache line takes to go from one core to another, for `scripts/bench`: two
//! threads hand a counter back and forth. On the 2-core virtual machines the benchmarks run on,
//! this moves between ~27 ns (both cores share a cache) and ~170 ns (they do not) as the host
//! moves the virtual CPUs, and every step that reads what another core wrote moves with it.
//!
//! `cargo run --release --example core_latency [ROUND_TRIPS]` prints the one-way time in ns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The counter alone on its cache line.
#[repr(align(64))]
struct Line(AtomicU64);

fn main() {
    let trips: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let line = Line(AtomicU64::new(0));
    let started = std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..trips {
                while line.0.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                line.0.store(2 * i + 2, Ordering::Release);
            }
        });
        let started = Instant::now();
        for i in 0..trips {
            line.0.store(2 * i + 1, Ordering::Release);
            while line.0.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        started.elapsed()
    });
    // Two hand-overs a round trip.
    println!(
        "{:.1}",
        started.as_nanos() as f64 / (2 * trips.max(1)) as f64
    );
}
