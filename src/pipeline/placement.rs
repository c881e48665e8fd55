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

/// Round trips a batch. The fastest batch is the measure: whatever else happens (a thread
/// preempted, both on one CPU until the scheduler moves one) only adds time.
const TRIPS: u64 = 64;
const BATCHES: usize = 15;

/// A hand-over this slow means the two threads took turns on one CPU (a context switch each):
/// no distance was measured.
const SHARED_CPU_NS: u64 = 1_000;

/// The probe stops after this long (a machine too busy to run both threads at once), with the
/// batches done by then.
const LIMIT: Duration = Duration::from_millis(20);

/// How long a side spins on the counter before it naps. A hand-over between two CPUs takes
/// well under this, so a nap comes only when the other thread is not running (a new thread
/// does not always run at once beside its parent). It must outlast the other side's nap and
/// wake-up (a 20 µs nap is ~70 µs with the kernel's timer slack, more on a virtual CPU that
/// halted): with 1,024 spins (~50 µs) the two sides fell into napping in turn, each hand-over a
/// nap (~90 µs), and 8 of 12 `-j2` probes gave up at the limit.
const SPIN_BEFORE_NAP: Duration = Duration::from_micros(300);

/// Spins between looks at the clock (a look costs more than a spin).
const SPINS_A_LOOK: u32 = 64;

/// A nap: it leaves the CPU to the other thread where the two share one (a process confined
/// to one CPU, or the other thread not yet moved off it), so that the probe ends at the limit
/// rather than a scheduler tick at a time.
const NAP: Duration = Duration::from_micros(20);

/// The counter alone on its cache line.
#[repr(align(64))]
struct Line(AtomicU64);

/// Set by either side on giving up, so the other stops waiting too.
const GAVE_UP: u64 = u64::MAX;

/// The one-way hand-over time in ns between this thread's CPU and another thread's, or `None`
/// if the other thread could not be started or the two never ran at once within [`LIMIT`].
/// Usually takes 0.4–1 ms: the other thread waits for a CPU of its own to wake ([`away_from`]).
pub fn one_way_ns() -> Option<u64> {
    let line = &Line(AtomicU64::new(0));
    let rounds = TRIPS * BATCHES as u64;
    let start = Instant::now();
    let here = current_cpu();
    let fastest = std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("mlc-probe".to_string())
            // Everything but the line moved in: read through a reference, the start and
            // the count were loads from the parent's stack, whose cache line the parent
            // writes, and a profile-guided build that kept them there timed ~140 ns a trip
            // where the CPUs were ~60 apart.
            .spawn_scoped(s, move || {
                away_from(here);
                for i in 0..rounds {
                    if !wait_for(&line.0, 2 * i + 1, start) {
                        return;
                    }
                    line.0.store(2 * i + 2, Ordering::Release);
                }
            });
        spawned.ok()?;
        let mut fastest: Option<Duration> = None;
        'batches: for b in 0..BATCHES as u64 {
            let t = Instant::now();
            for i in b * TRIPS..(b + 1) * TRIPS {
                line.0.store(2 * i + 1, Ordering::Release);
                if !wait_for(&line.0, 2 * i + 2, start) {
                    line.0.store(GAVE_UP, Ordering::Release);
                    break 'batches;
                }
            }
            let took = t.elapsed();
            fastest = Some(fastest.map_or(took, |f| f.min(took)));
        }
        fastest
    })?;
    // Two hand-overs a round trip.
    let ns = u64::try_from(fastest.as_nanos() / u128::from(2 * TRIPS)).ok()?;
    (ns < SHARED_CPU_NS).then_some(ns)
}

/// The CPU this thread is on, which the probe's other thread leaves.
#[cfg(target_os = "linux")]
fn current_cpu() -> Option<usize> {
    Some(rustix::thread::sched_getcpu())
}

#[cfg(not(target_os = "linux"))]
fn current_cpu() -> Option<usize> {
    None
}

/// Moves this thread off `cpu` to the others it may run on. Linux may queue a new thread on
/// its parent's CPU (on the benchmarks' virtual machines it did so 7 times in 8), and the
/// parent spins there: the new thread ran only at the parent's next tick (~4 ms), then the two
/// took turns on one CPU, napping, until the limit (8 of 12 `-j2` probes gave up so, after
/// 5–20 ms). Away from it, the new thread waits only for the other CPU to wake (~1.6 ms there)
/// and the batches run in ~0.1 ms.
#[cfg(target_os = "linux")]
fn away_from(cpu: Option<usize>) {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
    let Some(cpu) = cpu.filter(|&c| c < CpuSet::MAX_CPU) else {
        return;
    };
    let Ok(mut set) = sched_getaffinity(None) else {
        return;
    };
    if set.is_set(cpu) && set.count() > 1 {
        set.unset(cpu);
        // Not moved: the probe measures as before (and, on one CPU, gives up).
        let _ = sched_setaffinity(None, &set);
    }
}

#[cfg(not(target_os = "linux"))]
fn away_from(_cpu: Option<usize>) {}

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

/// Spins until `line` holds `want`, napping now and then; false if the other side gave up or
/// [`LIMIT`] passed.
fn wait_for(line: &AtomicU64, want: u64, start: Instant) -> bool {
    let mut spins = 0u32;
    let mut spinning_since = None;
    loop {
        match line.load(Ordering::Acquire) {
            v if v == want => return true,
            GAVE_UP => return false,
            _ => {}
        }
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        // Reading the clock costs more than a spin: only now and then.
        if spins.is_multiple_of(SPINS_A_LOOK) {
            let now = Instant::now();
            if now.duration_since(start) > LIMIT {
                line.store(GAVE_UP, Ordering::Release);
                return false;
            }
            let since = *spinning_since.get_or_insert(now);
            if now.duration_since(since) > SPIN_BEFORE_NAP {
                std::thread::sleep(NAP);
                spinning_since = None;
            }
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
        eprintln!("one way: {ns:?} ns in {:?}", t.elapsed());
        // Bounded whatever the machine: the limit and a thread's start and join.
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        // A hand-over between two CPUs, not a turn on one.
        if let Some(ns) = ns {
            assert!(ns > 0 && ns < SHARED_CPU_NS, "{ns}");
        }
    }
}
