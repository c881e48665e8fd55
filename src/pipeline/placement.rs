//! How far apart the two CPUs of a two-worker run are: the time a cache line takes from one to
//! the other, measured as two threads hand a counter back and forth. On the 2-vCPU virtual
//! machines the benchmarks run on it is ~30–70 ns when the host puts both on cores that share a
//! cache and ~170–220 ns when it does not, and the pool's best schedule differs between the two
//! (docs/PERFORMANCE.md, twenty-first session).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One-way hand-over time at or above which two CPUs count as far apart: half-way between
/// the ~70 ns of the slowest close placement and the ~170 ns of the fastest far one measured.
pub const FAR_NS: u64 = 120;

/// Round trips a batch; the median batch is the measure, so a batch the scheduler cut into
/// does not count.
const TRIPS: u64 = 64;
const BATCHES: usize = 15;

/// The probe gives up after this long (a machine too busy to run both threads at once): the
/// schedule then matters little.
const LIMIT: Duration = Duration::from_millis(5);

/// The counter alone on its cache line.
#[repr(align(64))]
struct Line(AtomicU64);

/// The one-way hand-over time in ns between this thread's CPU and another thread's, or `None`
/// if the other thread could not be started or both could not run at once within [`LIMIT`].
/// Takes ~0.1–0.5 ms.
pub fn one_way_ns() -> Option<u64> {
    let line = Line(AtomicU64::new(0));
    // Set by either side on giving up, so the other stops waiting too.
    const GAVE_UP: u64 = u64::MAX;
    let rounds = TRIPS * BATCHES as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("mlc-probe".to_string())
            .spawn_scoped(s, || {
                for i in 0..rounds {
                    if !wait_for(&line.0, 2 * i + 1, start) {
                        return;
                    }
                    line.0.store(2 * i + 2, Ordering::Release);
                }
            });
        spawned.ok()?;
        let mut batches = Vec::with_capacity(BATCHES);
        for b in 0..BATCHES as u64 {
            let t = Instant::now();
            for i in b * TRIPS..(b + 1) * TRIPS {
                line.0.store(2 * i + 1, Ordering::Release);
                if !wait_for(&line.0, 2 * i + 2, start) {
                    line.0.store(GAVE_UP, Ordering::Release);
                    return None;
                }
            }
            batches.push(t.elapsed());
        }
        batches.sort_unstable();
        let median = batches.get(BATCHES / 2)?;
        // Two hand-overs a round trip.
        u64::try_from(median.as_nanos() / u128::from(2 * TRIPS)).ok()
    })
}

/// How a run's steps were shared, for `--stats`: the workers, and for two the CPUs' distance
/// (when measured) and the schedule it chose.
pub fn schedule(workers: usize, apart: Option<u64>, ends: bool) -> String {
    if workers != 2 {
        return workers.to_string();
    }
    let how = if ends {
        "each keeps an end of the pipeline"
    } else {
        "either takes any step"
    };
    match apart {
        Some(ns) => format!("2, their CPUs {ns} ns apart: {how}"),
        None => format!("2: {how}"),
    }
}

/// Spins until `line` holds `want`; false if the other side gave up or [`LIMIT`] passed.
fn wait_for(line: &AtomicU64, want: u64, start: Instant) -> bool {
    let mut spins = 0u32;
    loop {
        match line.load(Ordering::Acquire) {
            v if v == want => return true,
            u64::MAX => return false,
            _ => {}
        }
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        // Reading the clock costs more than a spin: only now and then.
        if spins.is_multiple_of(1024) && start.elapsed() > LIMIT {
            line.store(u64::MAX, Ordering::Release);
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_as_stats_says_it() {
        assert_eq!(schedule(1, None, false), "1");
        assert_eq!(schedule(8, None, false), "8");
        assert_eq!(
            schedule(2, Some(183), true),
            "2, their CPUs 183 ns apart: each keeps an end of the pipeline"
        );
        assert_eq!(
            schedule(2, Some(41), false),
            "2, their CPUs 41 ns apart: either takes any step"
        );
        assert_eq!(
            schedule(2, None, true),
            "2: each keeps an end of the pipeline"
        );
    }

    #[test]
    fn the_probe_measures_or_gives_up_in_time() {
        let t = Instant::now();
        let ns = one_way_ns();
        // Bounded whatever the machine: the limit and a thread's start and join.
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        // A hand-over is more than nothing and less than the whole limit.
        if let Some(ns) = ns {
            assert!(ns > 0 && ns < LIMIT.as_nanos() as u64, "{ns}");
        }
    }
}
