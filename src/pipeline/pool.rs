//! The driver: a pool of workers running a pipeline over a list of sources. Each source is
//! opened and read item by item; items are mapped in parallel, in any order; then the first
//! stage sees every item in input order (sources in turn, each from its start to its end) and
//! the split step hands each item's work to groups of state, which run it in parallel (a
//! group one item at a time, in input order); the second stage joins each item's parts, in
//! input order. Every worker takes the most urgent ready step (the second stage, a group's
//! task, the split, the first stage, mapping the earliest item, reading, opening), so no worker
//! waits while there is work. One worker runs the same steps in turn on the calling thread.
//! Items in flight are capped by a constant, whatever the number of workers.

use crate::cancel::Cancel;
use std::collections::{BTreeMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Items read and not yet through the second stage, per worker; with two workers, 8 were as
/// fast as 16 on a rotated set and took less memory (docs/PERFORMANCE.md).
const IN_FLIGHT_PER_WORKER: usize = 4;
/// Items in flight at most, whatever the number of workers (the caller makes items smaller
/// when there are more of them: [`in_flight`]).
const MAX_IN_FLIGHT: usize = 64;

/// Items read and not yet through the second stage at most, with `workers` workers.
pub fn in_flight(workers: usize) -> usize {
    (IN_FLIGHT_PER_WORKER * workers.max(2)).min(MAX_IN_FLIGHT)
}

/// The steps of a pipeline; the pool decides who runs which, and when.
pub trait Steps: Sync {
    /// An open source being read.
    type Source: Send;
    /// What the first stage is told of a source that opened.
    type Info: Send;
    /// An item as read.
    type Raw: Send;
    /// An item as mapped.
    type Item: Send;
    /// What the first stage hands the split.
    type Marked: Send;
    type First: Send;
    /// The split step's state.
    type Split: Send;
    /// A group of state that runs one task at a time, items in input order.
    type Group: Send;
    /// An item's work for one group.
    type Task: Send;
    /// What a group's task gives back.
    type Part: Send;
    /// What the split leaves for the second stage with an item's parts.
    type Joint: Send;
    type Second: Send;
    type Error: Send;

    fn sources(&self) -> usize;
    fn open(&self, source: usize) -> Result<Self::Source, Self::Error>;
    fn info(&self, source: &Self::Source) -> Self::Info;
    /// The next item of an open source; `None` at its end.
    fn read(&self, source: usize, s: &mut Self::Source) -> Result<Option<Self::Raw>, Self::Error>;
    fn map(&self, raw: Self::Raw) -> Self::Item;
    fn first(&self, stage: &mut Self::First, input: Input<Self>) -> Option<Self::Marked>;
    /// Splits an item into a task for each group (in the groups' order); every group is idle.
    fn split(
        &self,
        stage: &mut Self::Split,
        groups: &mut [Self::Group],
        marked: Self::Marked,
    ) -> (Vec<Self::Task>, Self::Joint);
    fn task(&self, group: &mut Self::Group, task: Self::Task) -> Self::Part;
    /// Joins an item's parts (in the groups' order). An error here stops the run.
    fn second(
        &self,
        stage: &mut Self::Second,
        joint: Self::Joint,
        parts: Vec<Self::Part>,
    ) -> Result<(), Self::Error>;
}

/// The states of a pipeline's serial stages and groups, handed to a run and back.
pub struct Stages<S: Steps + ?Sized> {
    pub first: S::First,
    pub split: S::Split,
    pub groups: Vec<S::Group>,
    pub second: S::Second,
}

/// What the first stage sees, in input order: each source's start (with its info, `None` if
/// it could not be opened), its items, and its end (with the error that ended it, if any).
pub enum Input<S: Steps + ?Sized> {
    Start(usize, Option<S::Info>),
    Item(S::Item),
    End(Option<S::Error>),
}

/// Why a run stopped before its end.
#[derive(Debug)]
pub enum Stopped<E> {
    /// The second stage failed.
    Failed(E),
    /// The cancel token was set.
    Cancelled,
    /// A step panicked (named), or a stage's state was lost with it.
    Panicked(&'static str),
}

/// What a run gives back: the stages' states, or why it stopped.
pub type Outcome<S> = Result<Stages<S>, Stopped<<S as Steps>::Error>>;

/// A place in input order: the source, then the item's number in it (0 is its start).
type Key = (usize, u64);

struct Slot<S: Steps> {
    source: usize,
    next: u64,
    /// `None` while a worker reads from it.
    reading: Option<S::Source>,
}

struct State<S: Steps> {
    next_open: usize,
    /// Sources opened (or being opened) and not yet read to the end, in input order.
    slots: Vec<Slot<S>>,
    unmapped: BTreeMap<Key, S::Raw>,
    to_first: BTreeMap<Key, Input<S>>,
    /// The key the first stage needs next.
    first_at: Key,
    first: Option<S::First>,
    to_split: VecDeque<S::Marked>,
    split: Option<S::Split>,
    /// `None` while its task runs.
    groups: Vec<Option<S::Group>>,
    /// The item whose tasks are running.
    fan: Option<Fan<S>>,
    to_second: VecDeque<(S::Joint, Vec<S::Part>)>,
    second: Option<S::Second>,
    running: Vec<bool>,
    /// Two workers, each keeping an end of the pipeline.
    ends: bool,
    in_flight: usize,
    stopped: Option<Stopped<S::Error>>,
    /// Workers waiting on `ready`. A notify is a system call even when no one waits (std's
    /// futex condition variable): a step's end wakes the others only when one sleeps.
    sleeping: usize,
}

/// An item split among the groups: tasks not started, parts back.
struct Fan<S: Steps> {
    tasks: Vec<Option<S::Task>>,
    parts: Vec<Option<S::Part>>,
    joint: Option<S::Joint>,
    left: usize,
}

enum Step<S: Steps> {
    Second(S::Second, S::Joint, Vec<S::Part>),
    Task(usize, S::Group, S::Task),
    Split(S::Split, Vec<S::Group>, S::Marked),
    First(S::First, Key, Input<S>),
    Map(Key, S::Raw),
    Read(Key, S::Source),
    Open(usize),
}

enum Done<S: Steps> {
    Second(S::Second, Result<(), S::Error>),
    Task(usize, S::Group, S::Part),
    Split(S::Split, Vec<S::Group>, Vec<S::Task>, S::Joint),
    First(S::First, Key, bool, Option<S::Marked>),
    Mapped(Key, S::Item),
    Read(Key, S::Source, Result<Option<S::Raw>, S::Error>),
    Opened(usize, Result<(S::Source, S::Info), S::Error>),
}

impl<S: Steps> Step<S> {
    fn name(&self) -> &'static str {
        match self {
            Step::Second(..) => "second stage",
            Step::Task(..) => "task",
            Step::Split(..) => "split",
            Step::First(..) => "first stage",
            Step::Map(..) => "map",
            Step::Read(..) => "read",
            Step::Open(..) => "open",
        }
    }
}

struct Shared<S: Steps> {
    state: Mutex<State<S>>,
    ready: Condvar,
}

impl<S: Steps> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, State<S>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the waiting workers, if any; `state` is the held lock.
    fn wake(&self, state: &State<S>) {
        if state.sleeping > 0 {
            self.ready.notify_all();
        }
    }
}

/// Runs `steps` on `workers` workers (this thread and `workers - 1` more) until every source
/// has gone through every stage; returns the stages' states. With `ends`, two workers keep an
/// end of the pipeline each ([`State::next_step`]).
pub fn run<S: Steps>(
    steps: &S,
    stages: Stages<S>,
    workers: usize,
    ends: bool,
    cancel: &Cancel,
) -> Outcome<S> {
    let workers = workers.max(1);
    let Stages {
        first,
        split,
        groups,
        second,
    } = stages;
    let shared = Shared {
        state: Mutex::new(State {
            next_open: 0,
            slots: Vec::new(),
            unmapped: BTreeMap::new(),
            to_first: BTreeMap::new(),
            first_at: (0, 0),
            first: Some(first),
            to_split: VecDeque::new(),
            split: Some(split),
            groups: groups.into_iter().map(Some).collect(),
            fan: None,
            to_second: VecDeque::new(),
            second: Some(second),
            running: vec![false; workers],
            ends: ends && workers == 2,
            in_flight: 0,
            stopped: None,
            sleeping: 0,
        }),
        ready: Condvar::new(),
    };
    std::thread::scope(|s| {
        let shared = &shared;
        for id in 1..workers {
            let spawned = std::thread::Builder::new()
                .name("mlc-worker".to_string())
                .spawn_scoped(s, move || work(id, shared, steps, workers, cancel));
            if spawned.is_err() {
                // Fewer workers than asked: the others do the work.
                break;
            }
        }
        work(0, shared, steps, workers, cancel);
    });
    let state = shared
        .state
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(stopped) = state.stopped {
        return Err(stopped);
    }
    let groups: Option<Vec<S::Group>> = state.groups.into_iter().collect();
    match (state.first, state.split, groups, state.second) {
        (Some(first), Some(split), Some(groups), Some(second)) => Ok(Stages {
            first,
            split,
            groups,
            second,
        }),
        (None, ..) => Err(Stopped::Panicked("first stage")),
        (_, None, ..) => Err(Stopped::Panicked("split")),
        (_, _, None, _) => Err(Stopped::Panicked("task")),
        (.., None) => Err(Stopped::Panicked("second stage")),
    }
}

/// One worker: take a step, run it, give back its result, until all is done or stopped.
fn work<S: Steps>(id: usize, shared: &Shared<S>, steps: &S, workers: usize, cancel: &Cancel) {
    let mut state = shared.lock();
    loop {
        let step = loop {
            if cancel.is_cancelled() && state.stopped.is_none() {
                state.stopped = Some(Stopped::Cancelled);
            }
            if state.stopped.is_some() || state.finished(steps.sources()) {
                shared.wake(&state);
                return;
            }
            if let Some(step) = state.next_step(id, steps.sources(), workers) {
                break step;
            }
            // Counted under the lock, which `wait` releases only once this worker is one
            // that a notify wakes: a step that ends later sees it.
            state.sleeping += 1;
            state = shared
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.sleeping -= 1;
        };
        if let Some(r) = state.running.get_mut(id) {
            *r = true;
        }
        drop(state);
        let name = step.name();
        let done = catch_unwind(AssertUnwindSafe(|| run_step(steps, step)));
        state = shared.lock();
        if let Some(r) = state.running.get_mut(id) {
            *r = false;
        }
        match done {
            Ok(done) => state.put(done),
            Err(_) => {
                state.stopped.get_or_insert(Stopped::Panicked(name));
            }
        }
        shared.wake(&state);
    }
}

fn run_step<S: Steps>(steps: &S, step: Step<S>) -> Done<S> {
    match step {
        Step::Second(mut stage, joint, parts) => {
            let result = steps.second(&mut stage, joint, parts);
            Done::Second(stage, result)
        }
        Step::Task(i, mut group, task) => {
            let part = steps.task(&mut group, task);
            Done::Task(i, group, part)
        }
        Step::Split(mut stage, mut groups, marked) => {
            let (tasks, joint) = steps.split(&mut stage, &mut groups, marked);
            Done::Split(stage, groups, tasks, joint)
        }
        Step::First(mut stage, key, input) => {
            let end = matches!(input, Input::End(_));
            let marked = steps.first(&mut stage, input);
            Done::First(stage, key, end, marked)
        }
        Step::Map(key, raw) => Done::Mapped(key, steps.map(raw)),
        Step::Read((source, n), mut s) => {
            let got = steps.read(source, &mut s);
            Done::Read((source, n), s, got)
        }
        Step::Open(source) => {
            let opened = steps.open(source).map(|s| {
                let info = steps.info(&s);
                (s, info)
            });
            Done::Opened(source, opened)
        }
    }
}

impl<S: Steps> State<S> {
    fn finished(&self, sources: usize) -> bool {
        self.next_open >= sources
            && self.slots.is_empty()
            && self.unmapped.is_empty()
            && self.to_first.is_empty()
            && self.to_split.is_empty()
            && self.fan.is_none()
            && self.to_second.is_empty()
            && !self.running.contains(&true)
    }

    /// The most urgent step that can run now: the second stage, a group's task, the split
    /// (they bound the run), then the first stage, mapping the earliest item, reading. A worker
    /// takes its own group's task first (its state stays in that core's cache), then any.
    ///
    /// With `ends`, of two workers the first takes the front steps first (reading, mapping,
    /// the first stage) and the second the back steps, each the other's only when it has none
    /// of its own: the parsed chunks are then nearly all that goes from one core to the other.
    /// Where the host puts the two virtual CPUs far apart, each line read across costs ~200 ns,
    /// and two workers that both take any step were no faster than one; where it puts them
    /// close, sharing every step is ~7% faster (docs/PERFORMANCE.md, twenty-first session).
    fn next_step(&mut self, id: usize, sources: usize, workers: usize) -> Option<Step<S>> {
        if self.ends && id == 0 {
            return self
                .other_step(sources, workers)
                .or_else(|| self.back_step(id));
        }
        self.back_step(id)
            .or_else(|| self.other_step(sources, workers))
    }

    /// The second stage, a group's task (the worker's own group's first) or the split.
    fn back_step(&mut self, id: usize) -> Option<Step<S>> {
        if let Some(stage) = self.second.take() {
            if let Some((joint, parts)) = self.to_second.pop_front() {
                return Some(Step::Second(stage, joint, parts));
            }
            self.second = Some(stage);
        }
        if let Some(fan) = &mut self.fan {
            let n = fan.tasks.len().min(self.groups.len());
            for i in (0..n).map(|k| (id + k) % n) {
                let (Some(task), Some(group)) = (fan.tasks.get_mut(i), self.groups.get_mut(i))
                else {
                    continue;
                };
                if task.is_some() && group.is_some() {
                    if let (Some(t), Some(g)) = (task.take(), group.take()) {
                        return Some(Step::Task(i, g, t));
                    }
                }
            }
        } else if !self.to_split.is_empty() && self.groups.iter().all(Option::is_some) {
            if let Some(stage) = self.split.take() {
                if let Some(m) = self.to_split.pop_front() {
                    let groups = self.groups.iter_mut().filter_map(Option::take).collect();
                    return Some(Step::Split(stage, groups, m));
                }
                self.split = Some(stage);
            }
        }
        None
    }

    /// The first stage, mapping, reading or opening, whichever comes first.
    fn other_step(&mut self, sources: usize, workers: usize) -> Option<Step<S>> {
        if let Some(stage) = self.first.take() {
            if let Some(input) = self.to_first.remove(&self.first_at) {
                return Some(Step::First(stage, self.first_at, input));
            }
            self.first = Some(stage);
        }
        if let Some((key, raw)) = self.unmapped.pop_first() {
            return Some(Step::Map(key, raw));
        }
        // Later sources read ahead into half the room only, so the earliest source, which the
        // serial stages wait for, always has room left.
        let room = in_flight(workers);
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if self.in_flight >= if i == 0 { room } else { room / 2 } {
                return None;
            }
            if let Some(reading) = slot.reading.take() {
                // Counted from the start of the read: reads under way at once are many with
                // many workers, and each may bring an item.
                self.in_flight += 1;
                return Some(Step::Read((slot.source, slot.next), reading));
            }
        }
        if self.in_flight >= room / 2 {
            return None;
        }
        // As many sources open as workers, so each can read one.
        let source = self.next_open;
        if source >= sources || self.slots.len() >= workers {
            return None;
        }
        self.next_open += 1;
        self.slots.push(Slot {
            source,
            next: 1,
            reading: None,
        });
        Some(Step::Open(source))
    }

    /// Every task of the fanned-out item is back: its parts go to the second stage.
    fn join_fan(&mut self) {
        if let Some(fan) = self.fan.take() {
            if let Some(joint) = fan.joint {
                self.to_second
                    .push_back((joint, fan.parts.into_iter().flatten().collect()));
            }
        }
    }

    fn put(&mut self, done: Done<S>) {
        match done {
            Done::Second(stage, result) => {
                self.second = Some(stage);
                self.in_flight = self.in_flight.saturating_sub(1);
                if let Err(e) = result {
                    self.stopped.get_or_insert(Stopped::Failed(e));
                }
            }
            Done::Task(i, group, part) => {
                if let Some(g) = self.groups.get_mut(i) {
                    *g = Some(group);
                }
                if let Some(fan) = &mut self.fan {
                    if let Some(p) = fan.parts.get_mut(i) {
                        *p = Some(part);
                    }
                    fan.left = fan.left.saturating_sub(1);
                    if fan.left == 0 {
                        self.join_fan();
                    }
                }
            }
            Done::Split(stage, groups, tasks, joint) => {
                self.split = Some(stage);
                self.groups = groups.into_iter().map(Some).collect();
                let n = tasks.len().min(self.groups.len());
                let mut tasks: Vec<Option<S::Task>> = tasks.into_iter().map(Some).collect();
                tasks.truncate(n);
                self.fan = Some(Fan {
                    tasks,
                    parts: (0..n).map(|_| None).collect(),
                    joint: Some(joint),
                    left: n,
                });
                if n == 0 {
                    self.join_fan();
                }
            }
            Done::First(stage, (source, n), end, marked) => {
                self.first = Some(stage);
                self.first_at = if end {
                    (source + 1, 0)
                } else {
                    (source, n + 1)
                };
                match marked {
                    Some(m) => self.to_split.push_back(m),
                    // An item the first stage kept: no longer in flight.
                    None if n > 0 && !end => self.in_flight = self.in_flight.saturating_sub(1),
                    None => {}
                }
            }
            Done::Mapped(key, item) => {
                self.to_first.insert(key, Input::Item(item));
            }
            Done::Read((source, n), reading, got) => {
                let Some(at) = self.slots.iter().position(|s| s.source == source) else {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    return;
                };
                match got {
                    Ok(Some(raw)) => {
                        self.unmapped.insert((source, n), raw);
                        if let Some(slot) = self.slots.get_mut(at) {
                            slot.next = n + 1;
                            slot.reading = Some(reading);
                        }
                    }
                    Ok(None) => {
                        self.in_flight = self.in_flight.saturating_sub(1);
                        self.to_first.insert((source, n), Input::End(None));
                        self.slots.remove(at);
                    }
                    Err(e) => {
                        self.in_flight = self.in_flight.saturating_sub(1);
                        self.to_first.insert((source, n), Input::End(Some(e)));
                        self.slots.remove(at);
                    }
                }
            }
            Done::Opened(source, opened) => {
                let Some(at) = self.slots.iter().position(|s| s.source == source) else {
                    return;
                };
                match opened {
                    Ok((reading, info)) => {
                        self.to_first
                            .insert((source, 0), Input::Start(source, Some(info)));
                        if let Some(slot) = self.slots.get_mut(at) {
                            slot.reading = Some(reading);
                        }
                    }
                    Err(e) => {
                        self.to_first
                            .insert((source, 0), Input::Start(source, None));
                        self.to_first.insert((source, 1), Input::End(Some(e)));
                        self.slots.remove(at);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source: its items (an `Err` item is a read error, which ends it), or an open error.
    type FakeSource = Result<Vec<Result<u32, String>>, String>;

    /// Fake steps: reading yields numbers, mapping multiplies by 10 (sleeping a little, so
    /// workers finish out of order), the first stage logs what it sees, the second collects.
    #[derive(Default)]
    struct Fake {
        sources: Vec<FakeSource>,
        /// The step that panics, and on which item.
        panic_in: Option<(&'static str, u32)>,
        /// The second stage fails on this item.
        fail_on: Option<u32>,
        /// Set after the second stage has seen this many items.
        cancel_after: Option<(Cancel, usize)>,
        /// Items read, items read and not yet through the second stage, and the most there
        /// ever were.
        reads: AtomicUsize,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        /// Threads that ran a step.
        threads: Mutex<Vec<std::thread::ThreadId>>,
    }

    impl Fake {
        fn seen(&self) {
            if let Ok(mut t) = self.threads.lock() {
                let me = std::thread::current().id();
                if !t.contains(&me) {
                    t.push(me);
                }
            }
        }

        fn maybe_panic(&self, step: &str, item: u32) {
            if self.panic_in.is_some_and(|(s, i)| s == step && i == item) {
                panic!("fake {step} panic on {item}");
            }
        }
    }

    impl Steps for Fake {
        type Source = std::vec::IntoIter<Result<u32, String>>;
        type Info = usize;
        type Raw = u32;
        type Item = u32;
        type Marked = u32;
        type First = Vec<String>;
        /// Items split so far.
        type Split = usize;
        /// The items a group was given, in the order it ran them.
        type Group = Vec<u32>;
        type Task = Option<u32>;
        type Part = Option<u32>;
        type Joint = u32;
        type Second = Vec<u32>;
        type Error = String;

        fn sources(&self) -> usize {
            self.sources.len()
        }

        fn open(&self, source: usize) -> Result<Self::Source, String> {
            self.seen();
            match self.sources.get(source) {
                Some(Ok(items)) => Ok(items.clone().into_iter()),
                Some(Err(e)) => Err(e.clone()),
                None => Err("no such source".into()),
            }
        }

        fn info(&self, s: &Self::Source) -> usize {
            s.len()
        }

        fn read(&self, _: usize, s: &mut Self::Source) -> Result<Option<u32>, String> {
            self.seen();
            let got = s.next().transpose()?;
            if let Some(x) = got {
                self.maybe_panic("read", x);
                self.reads.fetch_add(1, Ordering::SeqCst);
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            }
            Ok(got)
        }

        fn map(&self, x: u32) -> u32 {
            self.seen();
            self.maybe_panic("map", x);
            // Later items of a chunk of three finish first.
            std::thread::sleep(std::time::Duration::from_micros(u64::from(3 - x % 3) * 200));
            x * 10
        }

        fn first(&self, log: &mut Vec<String>, input: Input<Self>) -> Option<u32> {
            self.seen();
            match input {
                Input::Start(s, info) => log.push(format!("start {s} {info:?}")),
                Input::Item(x) => {
                    log.push(format!("item {x}"));
                    return Some(x);
                }
                Input::End(e) => log.push(format!("end {e:?}")),
            }
            None
        }

        /// Item x goes to group x % groups.
        fn split(&self, n: &mut usize, groups: &mut [Vec<u32>], x: u32) -> (Vec<Option<u32>>, u32) {
            self.seen();
            self.maybe_panic("split", x / 10);
            *n += 1;
            let g = groups.len().max(1);
            let tasks = (0..groups.len())
                .map(|i| (x as usize % g == i).then_some(x))
                .collect();
            (tasks, x)
        }

        fn task(&self, group: &mut Vec<u32>, task: Option<u32>) -> Option<u32> {
            self.seen();
            let x = task?;
            self.maybe_panic("task", x / 10);
            group.push(x);
            Some(x)
        }

        fn second(
            &self,
            got: &mut Vec<u32>,
            x: u32,
            parts: Vec<Option<u32>>,
        ) -> Result<(), String> {
            self.seen();
            assert_eq!(parts.into_iter().flatten().collect::<Vec<_>>(), [x]);
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.maybe_panic("second", x / 10);
            if self.fail_on == Some(x / 10) {
                return Err(format!("write failed at {x}"));
            }
            got.push(x);
            if let Some((cancel, n)) = &self.cancel_after {
                if got.len() >= *n {
                    cancel.cancel();
                }
            }
            Ok(())
        }
    }

    /// `n` sources of `per` items each, numbered in input order.
    fn sources(n: u32, per: u32) -> Vec<FakeSource> {
        (0..n)
            .map(|s| Ok((0..per).map(|i| Ok(s * per + i)).collect()))
            .collect()
    }

    fn stages(groups: usize) -> Stages<Fake> {
        Stages {
            first: Vec::new(),
            split: 0,
            groups: vec![Vec::new(); groups],
            second: Vec::new(),
        }
    }

    fn go(fake: &Fake, (workers, ends): (usize, bool)) -> Outcome<Fake> {
        run(fake, stages(3), workers, ends, &Cancel::new())
    }

    /// Each number of workers, and two workers keeping an end each as well.
    fn schedules(workers: &[usize]) -> Vec<(usize, bool)> {
        let mut all: Vec<(usize, bool)> = workers.iter().map(|&w| (w, false)).collect();
        if workers.contains(&2) {
            all.push((2, true));
        }
        all
    }

    /// The stages' logs and collected items.
    fn logs(o: Outcome<Fake>) -> Option<(Vec<String>, Vec<u32>)> {
        o.ok().map(|s| (s.first, s.second))
    }

    #[test]
    fn stages_see_every_item_in_input_order_whatever_the_workers() {
        let want_items: Vec<u32> = (0..60).map(|x| x * 10).collect();
        let mut want_log = Vec::new();
        for s in 0..4u32 {
            want_log.push(format!("start {s} Some(15)"));
            want_log.extend((0..15).map(|i| format!("item {}", (s * 15 + i) * 10)));
            want_log.push("end None".to_string());
        }
        for workers in schedules(&[1, 2, 3, 8]) {
            let fake = Fake {
                sources: sources(4, 15),
                ..Fake::default()
            };
            let out = go(&fake, workers).unwrap_or_else(|_| panic!("{workers:?}"));
            assert_eq!(out.first, want_log, "{workers:?} workers");
            assert_eq!(out.second, want_items, "{workers:?} workers");
            // Each group ran its items in input order.
            for (i, g) in out.groups.iter().enumerate() {
                let want: Vec<u32> = want_items
                    .iter()
                    .copied()
                    .filter(|x| *x as usize % 3 == i)
                    .collect();
                assert_eq!(*g, want, "{workers:?} workers, group {i}");
            }
            assert_eq!(out.split, 60);
        }
    }

    #[test]
    fn a_read_or_open_error_ends_its_source_and_the_others_go_on() {
        let mut srcs = sources(3, 4);
        srcs[0] = Ok(vec![Ok(0), Ok(1), Err("corrupt at byte 9".into()), Ok(3)]);
        srcs[1] = Err("cannot open".into());
        for workers in schedules(&[1, 2, 4]) {
            let fake = Fake {
                sources: srcs.clone(),
                ..Fake::default()
            };
            let (log, items) = logs(go(&fake, workers)).unwrap_or_else(|| panic!("{workers:?}"));
            assert_eq!(
                log,
                [
                    "start 0 Some(4)",
                    "item 0",
                    "item 10",
                    "end Some(\"corrupt at byte 9\")",
                    "start 1 None",
                    "end Some(\"cannot open\")",
                    "start 2 Some(4)",
                    "item 80",
                    "item 90",
                    "item 100",
                    "item 110",
                    "end None",
                ],
                "{workers:?} workers"
            );
            assert_eq!(items, [0, 10, 80, 90, 100, 110]);
        }
    }

    #[test]
    fn an_error_in_the_second_stage_stops_the_run() {
        for workers in schedules(&[1, 2, 4]) {
            let fake = Fake {
                sources: sources(3, 20),
                fail_on: Some(25),
                ..Fake::default()
            };
            match go(&fake, workers) {
                Err(Stopped::Failed(e)) => assert_eq!(e, "write failed at 250"),
                other => panic!("{workers:?} workers: {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn a_panic_in_a_step_is_reported_with_the_step_and_ends_the_run() {
        for (step, name) in [
            ("read", "read"),
            ("map", "map"),
            ("split", "split"),
            ("task", "task"),
            ("second", "second stage"),
        ] {
            for workers in schedules(&[1, 2, 4]) {
                let fake = Fake {
                    sources: sources(3, 10),
                    panic_in: Some((step, 14)),
                    ..Fake::default()
                };
                match go(&fake, workers) {
                    Err(Stopped::Panicked(got)) => assert_eq!(got, name, "{workers:?}"),
                    other => panic!("{step} {workers:?}: {:?}", other.map(|_| ())),
                }
            }
        }
    }

    #[test]
    fn a_cancel_stops_the_run_at_the_next_step() {
        for workers in schedules(&[1, 2, 4]) {
            let cancel = Cancel::new();
            let fake = Fake {
                sources: sources(4, 100),
                cancel_after: Some((cancel.clone(), 10)),
                ..Fake::default()
            };
            let got = run(&fake, stages(2), workers.0, workers.1, &cancel);
            assert!(matches!(got, Err(Stopped::Cancelled)), "{workers:?}");
            // It stopped early: far fewer than the 400 items were read.
            let read = fake.reads.load(Ordering::SeqCst);
            assert!(read <= 10 + MAX_IN_FLIGHT, "{workers:?}: {read} read");
        }
        // Set before the run: nothing is done.
        let cancel = Cancel::new();
        cancel.cancel();
        let fake = Fake {
            sources: sources(2, 5),
            ..Fake::default()
        };
        let got = run(&fake, stages(2), 2, false, &cancel);
        assert!(matches!(got, Err(Stopped::Cancelled)));
    }

    #[test]
    fn more_workers_than_work_and_memory_capped_by_a_constant() {
        for (n, per, w) in [(1, 2, 8), (0, 0, 4), (2, 0, 3), (8, 50, 64)] {
            let fake = Fake {
                sources: sources(n, per),
                ..Fake::default()
            };
            let workers = (w, false);
            let (log, items) = logs(go(&fake, workers)).unwrap_or_else(|| panic!("{workers:?}"));
            assert_eq!(items.len(), (n * per) as usize);
            assert_eq!(log.len(), (n * (per + 2)) as usize);
            let most = fake.most_in_flight.load(Ordering::SeqCst);
            assert!(
                most <= MAX_IN_FLIGHT,
                "{workers:?} workers: {most} in flight"
            );
        }
    }

    #[test]
    fn one_worker_runs_every_step_on_the_calling_thread() {
        let fake = Fake {
            sources: sources(3, 10),
            ..Fake::default()
        };
        let (_, items) = logs(go(&fake, (1, false))).unwrap_or_else(|| panic!());
        assert_eq!(items.len(), 30);
        let threads = fake.threads.lock().map(|t| t.clone()).unwrap_or_default();
        assert_eq!(threads, [std::thread::current().id()]);
        // One item in flight at a time: read, map, first stage, second stage, then the next.
        assert_eq!(fake.most_in_flight.load(Ordering::SeqCst), 1);
    }
}
