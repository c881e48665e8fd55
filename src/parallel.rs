//! The pipeline on several threads. Every worker takes whichever step is ready, most urgent
//! first: merging the next chunk (one worker at a time, in input order), dating the next
//! chunk (likewise), parsing any read chunk, then reading (decoding) the next chunk of an
//! open file. A stage per thread left a core idle whenever the busiest stage fell behind;
//! here no worker waits while there is work, and the serial steps (dating and merging, ~45%
//! of the work) never hold up the parallel ones (README Performance).

use super::*;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Chunks read and not yet merged, per worker (memory: this × workers × the chunk size, plus
/// the chunks' parsed lines). 8 in all with two workers: as fast as 16 on the rotated set, and
/// 13–19 MiB less (README Performance).
const IN_FLIGHT_PER_WORKER: usize = 4;
/// Chunks waiting to be merged before a worker other than the last one to merge takes over.
/// Merging stays on one worker while it keeps up: the message table it works on then stays in
/// that core's cache instead of moving between cores at every chunk.
const MERGE_HANDOVER_CHUNKS: usize = 4;

/// A place in input order: the file, then the item's number in it (0 is the file's start).
type Key = (usize, u64);

/// An open input and the number its next item gets. `reading` is `None` while a worker
/// decodes from it.
struct Slot<'a> {
    file: usize,
    input: &'a Input,
    next: u64,
    reading: Option<Reading>,
}

/// The shared state: what waits for each step, and the serial stages while no one runs them.
struct State<'a> {
    /// The next input to open.
    next_open: usize,
    /// Inputs opened (or being opened) and not yet read to the end, in input order.
    slots: Vec<Slot<'a>>,
    unparsed: BTreeMap<Key, input::chunk::Chunk>,
    to_date: BTreeMap<Key, Work>,
    /// The key the dating stage needs next.
    date_at: Key,
    dating: Option<LineStage<'a>>,
    to_merge: VecDeque<Resolved>,
    merging: Option<MergeStage<'a>>,
    /// The worker that merged last.
    merger: usize,
    /// Which workers are running a step (by worker number).
    running: Vec<bool>,
    /// Chunks read and not yet merged.
    in_flight: usize,
    /// Set on a write error, an interrupt or a panic: workers stop.
    stop: bool,
    error: Option<Error>,
}

/// One step, taken from the state under the lock and run outside it.
enum Step<'a> {
    Merge(MergeStage<'a>, Resolved),
    Date(LineStage<'a>, Key, Work),
    Parse(Key, input::chunk::Chunk),
    Read(Key, &'a Input, Reading),
    Open(usize, &'a Input),
}

/// What a step gives back to the state.
enum Done<'a> {
    Merged(MergeStage<'a>, Result<(), Error>),
    Dated(LineStage<'a>, Key, bool, Option<Resolved>),
    Parsed(Key, Parsed),
    Read(Key, Reading, Result<Option<input::chunk::Chunk>, Error>),
    Opened(usize, Result<Reading, Error>),
}

struct Shared<'a> {
    state: Mutex<State<'a>>,
    ready: Condvar,
}

impl<'a> Shared<'a> {
    fn lock(&self) -> MutexGuard<'_, State<'a>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops the other workers if this one panics, so none waits for a step that never ends.
struct StopOnPanic<'s, 'a>(&'s Shared<'a>);

impl Drop for StopOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().stop = true;
            self.0.ready.notify_all();
        }
    }
}

/// Runs the pipeline on `threads` workers (this thread and `threads - 1` more).
pub(crate) fn run<'a>(
    cfg: &'a Config,
    inputs: &'a [Input],
    pool: &input::chunk::Pool,
    dating: LineStage<'a>,
    merging: MergeStage<'a>,
    threads: usize,
) -> Result<Summary, Error> {
    let shared = Shared {
        state: Mutex::new(State {
            next_open: 0,
            slots: Vec::new(),
            unparsed: BTreeMap::new(),
            to_date: BTreeMap::new(),
            date_at: (0, 0),
            dating: Some(dating),
            to_merge: VecDeque::new(),
            merging: Some(merging),
            merger: 0,
            running: vec![false; threads],
            in_flight: 0,
            stop: false,
            error: None,
        }),
        ready: Condvar::new(),
    };
    let panicked = std::thread::scope(|s| {
        let shared = &shared;
        let helpers: Vec<_> = (1..threads)
            .filter_map(|id| {
                std::thread::Builder::new()
                    .name("mlc-worker".to_string())
                    .spawn_scoped(s, move || work(id, shared, cfg, inputs, pool, threads))
                    .ok()
            })
            .collect();
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            work(0, shared, cfg, inputs, pool, threads)
        }))
        .is_err();
        helpers
            .into_iter()
            .fold(mine, |p, h| h.join().is_err() || p)
    });
    let state = shared
        .state
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if panicked {
        return Err(Error::Write {
            output: "output".to_string(),
            source: std::io::Error::other("a worker thread panicked"),
        });
    }
    if let Some(e) = state.error {
        return Err(e);
    }
    if interrupted() {
        return Err(Error::Interrupted);
    }
    match (state.merging, state.dating) {
        (Some(merging), Some(dating)) => merging.finish(dating.finish()),
        _ => Err(Error::Write {
            output: "output".to_string(),
            source: std::io::Error::other("a pipeline stage was lost"),
        }),
    }
}

/// One worker: take a step, run it, give back its result, until all is done or stopped.
fn work<'a>(
    id: usize,
    shared: &Shared<'a>,
    cfg: &Config,
    inputs: &'a [Input],
    pool: &input::chunk::Pool,
    workers: usize,
) {
    let _stop = StopOnPanic(shared);
    let mut state = shared.lock();
    loop {
        let step = loop {
            if state.stop || state.finished(inputs.len()) {
                shared.ready.notify_all();
                return;
            }
            if let Some(step) = state.next_step(id, inputs, workers) {
                break step;
            }
            state = shared
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        };
        if let Some(r) = state.running.get_mut(id) {
            *r = true;
        }
        drop(state);
        let done = run_step(step, cfg, pool);
        state = shared.lock();
        if let Some(r) = state.running.get_mut(id) {
            *r = false;
        }
        state.put(done);
        shared.ready.notify_all();
    }
}

fn run_step<'a>(step: Step<'a>, cfg: &Config, pool: &input::chunk::Pool) -> Done<'a> {
    match step {
        Step::Merge(mut stage, r) => {
            let result = stage.handle(r);
            Done::Merged(stage, result)
        }
        Step::Date(mut stage, key, w) => {
            let end = matches!(w, Work::End(_));
            let r = stage.handle(w);
            Done::Dated(stage, key, end, r)
        }
        Step::Parse(key, chunk) => Done::Parsed(key, parse_chunk(chunk, cfg.mta)),
        Step::Read(key, input, mut reading) => {
            let got = reading.next(input);
            Done::Read(key, reading, got)
        }
        Step::Open(file, input) => Done::Opened(file, Reading::open(input, cfg.chunk_size, pool)),
    }
}

impl<'a> State<'a> {
    fn finished(&self, files: usize) -> bool {
        self.next_open >= files
            && self.slots.is_empty()
            && self.unparsed.is_empty()
            && self.to_date.is_empty()
            && self.to_merge.is_empty()
            && !self.running.contains(&true)
    }

    /// The most urgent step that can run now: the serial stages first (they bound the run),
    /// then parsing the earliest chunk, then reading, earliest file first. Merging goes to the
    /// worker that merged last; another takes it when the backlog grows, or when it has
    /// nothing else to do while that worker runs another step (waiting would idle a core).
    fn next_step(&mut self, id: usize, inputs: &'a [Input], workers: usize) -> Option<Step<'a>> {
        let backlog = self.to_merge.len();
        if backlog > 0 && (id == self.merger || backlog >= MERGE_HANDOVER_CHUNKS) {
            if let Some(step) = self.merge(id) {
                return Some(step);
            }
        }
        if let Some(step) = self.other_step(inputs, workers) {
            return Some(step);
        }
        if self.running.get(self.merger).copied().unwrap_or(false) {
            return self.merge(id);
        }
        None
    }

    fn merge(&mut self, id: usize) -> Option<Step<'a>> {
        let stage = self.merging.take()?;
        let Some(r) = self.to_merge.pop_front() else {
            self.merging = Some(stage);
            return None;
        };
        self.merger = id;
        Some(Step::Merge(stage, r))
    }

    /// Dating, parsing, reading or opening, whichever comes first.
    fn other_step(&mut self, inputs: &'a [Input], workers: usize) -> Option<Step<'a>> {
        if let Some(stage) = self.dating.take() {
            if let Some(w) = self.to_date.remove(&self.date_at) {
                return Some(Step::Date(stage, self.date_at, w));
            }
            self.dating = Some(stage);
        }
        if let Some((key, chunk)) = self.unparsed.pop_first() {
            return Some(Step::Parse(key, chunk));
        }
        // Later files read ahead into half the room only, so the earliest file, which the
        // serial stages wait for, always has room left.
        let room = IN_FLIGHT_PER_WORKER * workers.max(2);
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if self.in_flight >= if i == 0 { room } else { room / 2 } {
                return None;
            }
            if let Some(reading) = slot.reading.take() {
                return Some(Step::Read((slot.file, slot.next), slot.input, reading));
            }
        }
        if self.in_flight >= room / 2 {
            return None;
        }
        // As many files open as workers, so each can decode one.
        let file = self.next_open;
        let input = inputs.get(file).filter(|_| self.slots.len() < workers)?;
        self.next_open += 1;
        self.slots.push(Slot {
            file,
            input,
            next: 1,
            reading: None,
        });
        Some(Step::Open(file, input))
    }

    fn put(&mut self, done: Done<'a>) {
        match done {
            Done::Merged(stage, result) => {
                self.merging = Some(stage);
                self.in_flight = self.in_flight.saturating_sub(1);
                if let Err(e) = result {
                    self.error.get_or_insert(e);
                    self.stop = true;
                }
            }
            Done::Dated(stage, (file, n), end, resolved) => {
                self.dating = Some(stage);
                self.date_at = if end { (file + 1, 0) } else { (file, n + 1) };
                if let Some(r) = resolved {
                    self.to_merge.push_back(r);
                }
            }
            Done::Parsed(key, parsed) => {
                self.to_date.insert(key, Work::Parsed(parsed));
            }
            Done::Read((file, n), reading, got) => {
                if interrupted() {
                    self.stop = true;
                }
                let Some(at) = self.slots.iter().position(|s| s.file == file) else {
                    return;
                };
                match got {
                    Ok(Some(chunk)) => {
                        self.unparsed.insert((file, n), chunk);
                        self.in_flight += 1;
                        if let Some(slot) = self.slots.get_mut(at) {
                            slot.next = n + 1;
                            slot.reading = Some(reading);
                        }
                    }
                    Ok(None) | Err(_) => {
                        self.to_date.insert((file, n), Work::End(got.err()));
                        self.slots.remove(at);
                        drop(reading);
                    }
                }
            }
            Done::Opened(file, opened) => {
                let Some(at) = self.slots.iter().position(|s| s.file == file) else {
                    return;
                };
                match opened {
                    Ok(reading) => {
                        let compression = reading.compression.name();
                        self.to_date
                            .insert((file, 0), Work::Start { file, compression });
                        if let Some(slot) = self.slots.get_mut(at) {
                            slot.reading = Some(reading);
                        }
                    }
                    Err(e) => {
                        let [start, end] = Work::unopened(file, e);
                        self.to_date.insert((file, 0), start);
                        self.to_date.insert((file, 1), end);
                        self.slots.remove(at);
                    }
                }
            }
        }
    }
}
