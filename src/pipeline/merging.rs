//! Correlation on every core: each dated chunk is routed (serial: which shard each line goes
//! to, states moved between shards for tied keys), merged by groups of shards in parallel
//! (records decided, rendered or copied), then its records are put in input order by their
//! place and in time order by the reorder window, and written (serial). The shards' output
//! does not depend on how many groups run them.

use super::chunk_lines::ParsedLine;
use super::stages::{Dated, Lines, Resolved, REORDER_WINDOW_SECS};
use crate::error::Error;
use crate::input::chunk::Pool;
use crate::input::Input as Source;
use crate::merge::route::{self, Plan, Route, Routed, SHARDS};
use crate::merge::{Ctx, Merger, Sharded};
use crate::order::{Reorder, Timed};
use crate::output::{RecordWriter, Render};
use crate::parse::{Event, Line, Mta};
use crate::record::{Record, RecordRef};
use crate::stats::{Stats, Summary};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// Where finished records go: the writer.
pub(super) struct Out<'a> {
    pub(super) writer: &'a mut dyn RecordWriter,
    pub(super) name: String,
    /// `--pseudonymize`: records pass through it before they are written.
    pub(super) pseudo: Option<crate::pseudo::Pseudonymizer>,
    /// Counters for a progress display.
    pub(super) progress: Option<Arc<crate::progress::Progress>>,
    /// Line buffers written, on their way back to the groups that render into them.
    pub(super) spare: Spare,
    /// Rendered lines not yet handed to the writer, when its rendered records are a stream
    /// ([`RecordWriter::rendered_stream`]): handed over [`OUT_BATCH`] bytes at a time, not a
    /// line at a time (two dynamic calls and a buffered write a record in the serial write
    /// step, ~15 instructions a record more; callgrind).
    pub(super) lines: Option<Vec<u8>>,
}

/// Rendered bytes handed to the writer at a time.
const OUT_BATCH: usize = 64 << 10;

impl Drop for Out<'_> {
    /// A run that stops early (a signal, a failed step) still hands on the lines it emitted,
    /// as the writer's buffer does when it is dropped: this batch is only a step before it.
    fn drop(&mut self) {
        let _ = self.flush_lines();
    }
}

impl Out<'_> {
    fn emit(&mut self, h: Held) -> Result<(), Error> {
        match h {
            Held::Record(r) => {
                self.flush_lines()?;
                (self.writer.write_record(&r.view()))
                    .map_err(|source| write_error(&self.name, source))
            }
            Held::Line(_, line) => {
                let full = match &mut self.lines {
                    Some(lines) => {
                        lines.extend_from_slice(&line);
                        lines.len() >= OUT_BATCH
                    }
                    None => {
                        let done = self.writer.write_rendered(&line);
                        done.map_err(|source| write_error(&self.name, source))?;
                        false
                    }
                };
                self.spare.keep(line);
                if full {
                    self.flush_lines()?;
                }
                Ok(())
            }
        }
    }

    /// Hands the rendered lines held here to the writer.
    pub(super) fn flush_lines(&mut self) -> Result<(), Error> {
        let Some(lines) = self.lines.as_mut().filter(|l| !l.is_empty()) else {
            return Ok(());
        };
        let done = self.writer.write_rendered(lines);
        lines.clear();
        done.map_err(|source| write_error(&self.name, source))
    }
}

/// Rendered lines' buffers, recycled in batches between the writer (which empties them) and
/// the groups (which fill them): a line allocated on one core and freed on another cost a
/// cache miss in the allocator for every record (perf: 6% of the cycles of a run).
#[derive(Default)]
pub(super) struct Spare {
    batch: Vec<Vec<u8>>,
    pool: Pool<Vec<Vec<u8>>>,
    /// The batches' own vectors, emptied by the groups, back to the writer: a batch grown
    /// from empty was reallocated seven times in the serial write step, and one allocated
    /// whole there came from pages the groups had freed (~9 and ~14 instructions a record;
    /// callgrind).
    empty: Pool<Vec<Vec<u8>>>,
}

/// Buffers passed back at a time, and the largest one worth keeping (a long line's buffer
/// would otherwise stay that size).
const SPARE_BATCH: usize = 256;
const SPARE_MAX_BYTES: usize = 1024;

impl Spare {
    /// A group's own: it shares the writer's pool.
    fn share(&self) -> Spare {
        Spare {
            batch: Vec::new(),
            pool: self.pool.clone(),
            empty: self.empty.clone(),
        }
    }

    /// An empty buffer, recycled when one is back.
    fn get(&mut self) -> Vec<u8> {
        if self.batch.is_empty() {
            let full = self.pool.take();
            let empty = std::mem::replace(&mut self.batch, full);
            if empty.capacity() > 0 {
                self.empty.put(empty);
            }
        }
        // Most lines fit: no growth while the line is rendered.
        self.batch.pop().unwrap_or_else(|| Vec::with_capacity(256))
    }

    /// Keeps `buf` for reuse; a full batch goes back to the pool.
    #[inline]
    fn keep(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() > SPARE_MAX_BYTES {
            return;
        }
        buf.clear();
        self.batch.push(buf);
        if self.batch.len() >= SPARE_BATCH {
            let next = self.empty.take();
            self.pool.put(std::mem::replace(&mut self.batch, next));
        }
    }
}

fn write_error(name: &str, source: std::io::Error) -> Error {
    Error::Write {
        output: name.to_string(),
        source,
    }
}

/// What waits in the reorder buffer: a record, or for line formats the line it renders to
/// (with its time), made while the record was still in cache.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) enum Held {
    Record(Box<Record>),
    Line(i128, Vec<u8>),
}

impl Timed for Held {
    fn key(&self) -> i128 {
        match self {
            Held::Record(r) => r.key(),
            Held::Line(key, _) => *key,
        }
    }
}

/// What correlation carries from one run to the next (`--state`): the shards' open messages
/// and the records held for time order.
pub(super) type Carried = (Sharded, Reorder<Held>);

/// A line's host, or `--host`'s for a line that names none (Exim's mainlog, qmail's multilog):
/// the dating stage's coverage and the merge stage's records agree on it.
pub(super) fn host_or<'a>(host: &'a [u8], default: &'a [u8]) -> &'a [u8] {
    if host.is_empty() {
        default
    } else {
        host
    }
}

/// Takes the records a group's shards decide: counts them, renders them (line formats) or
/// copies them (the others) while their line and message are at hand, and keeps them with
/// their place in input order.
struct Taker {
    render: Option<Render>,
    pseudo: Option<crate::pseudo::Pseudonymizer>,
    progress: Option<Arc<crate::progress::Progress>>,
    /// The output's name, for a render error.
    name: Arc<str>,
    counts: Stats,
    spare: Spare,
    out: Vec<(u64, Held)>,
    /// The most records a chunk gave so far: the room each chunk's vector starts with.
    room: usize,
    seq: u64,
}

impl Taker {
    fn new(out: &Out) -> Self {
        Taker {
            render: out.writer.renderer(),
            pseudo: out.pseudo.clone(),
            progress: out.progress.clone(),
            name: out.name.as_str().into(),
            counts: Stats::default(),
            spare: out.spare.share(),
            out: Vec::new(),
            room: 0,
            seq: 0,
        }
    }

    fn take(&mut self, rec: &RecordRef) -> Result<(), Error> {
        // With `--pseudonymize`, the record written is an owned copy with pseudonyms: it is
        // what is held for time order too (not copied once more).
        let owned = self.pseudo.as_ref().map(|p| p.record(rec));
        let view = owned.as_ref().map(|o| o.view());
        let r = view.as_ref().unwrap_or(rec);
        if let Some(p) = &self.progress {
            p.add_record();
        }
        if r.is_hop() {
            self.counts.hops += 1;
        } else if let Some(st) = r.status {
            self.counts.count(st);
        }
        let held = match self.render {
            Some(render) => {
                let mut line = self.spare.get();
                render(r, &mut line).map_err(|e| write_error(&self.name, e))?;
                if line.is_empty() {
                    self.spare.keep(line);
                    return Ok(());
                }
                Held::Line(r.key(), line)
            }
            None => Held::Record(Box::new(match owned {
                Some(o) => o,
                None => rec.to_owned_record(),
            })),
        };
        self.out.push((self.seq, held));
        self.seq += 1;
        Ok(())
    }
}

/// A routed chunk, shared by the groups that merge it.
pub(crate) struct Work {
    r: Resolved,
    /// Each dated line's shard.
    shard: Vec<u16>,
    /// Sweeps due: before the line at this index, at this time.
    sweeps: Vec<(u32, i64)>,
    /// Lines correlation read before this chunk's.
    order: u64,
}

/// A dated line as a shard reads it: its number and time, its host, its MTA and its event.
type Known<'w> = (&'w Dated, &'w [u8], Mta, &'w Event<&'w [u8]>);

/// A chunk as its lines are read, with what they all share found once (the per-line
/// look-ups of the input's name and default host were ~15 instructions a line).
struct View<'w> {
    w: &'w Work,
    /// The input's host, for lines that name none.
    default_host: &'w [u8],
    /// The input's name, for the records' `source_file`.
    source: &'w [u8],
}

impl<'w> View<'w> {
    fn new(w: &'w Work, names: &'w [Box<[u8]>], hosts: &'w [Box<[u8]>]) -> Self {
        View {
            w,
            default_host: hosts.get(w.r.file).map_or(&[][..], |h| &h[..]),
            source: names.get(w.r.file).map_or(&[][..], |n| &n[..]),
        }
    }

    /// The dated line at `i`: its number and time, its host (the input's if it names none),
    /// its MTA and its event as parsed (slices of the chunk).
    fn known(&self, i: u32) -> Option<Known<'w>> {
        let d = self.w.r.dated.get(i as usize)?;
        let Some((
            _,
            Line::Known {
                host, mta, event, ..
            },
        )) = self.w.r.parsed.lines.lines().get(d.idx as usize)
        else {
            return None;
        };
        let host = host_or(host, self.default_host);
        Some((d, host, *mta, event))
    }

    /// Where the parsed entry of dated line `i` is (the entry itself is not read here).
    fn entry(&self, i: u32) -> Option<&'w ParsedLine<'w>> {
        let d = self.w.r.dated.get(i as usize)?;
        self.w.r.parsed.lines.lines().get(d.idx as usize)
    }

    /// Starts loading the parsed entry of dated line `i` into the cache.
    fn prefetch_entry(&self, i: u32) {
        if let Some(e) = self.entry(i) {
            crate::search::prefetch(e, std::mem::size_of_val(e));
        }
    }

    /// Starts loading the first bytes of dated line `i`, where its event's fields lie (its
    /// entry is read for where they are: asked for earlier).
    fn prefetch_bytes(&self, i: u32) {
        let Some((span, _)) = self.entry(i) else {
            return;
        };
        let bytes = self.w.r.parsed.lines.bytes();
        let start = span.start().min(bytes.len());
        crate::search::prefetch(bytes.as_ptr().wrapping_add(start), 192);
    }

    /// A chunk's line as a shard reads it.
    fn line(&self, i: u32) -> Option<(Ctx<'w>, &'w Event<&'w [u8]>)> {
        let (d, host, mta, event) = self.known(i)?;
        let ctx = Ctx {
            line: self.w.r.line(*d),
            ts: self.w.r.stamps.get(d.stamp as usize)?,
            host,
            mta,
            source: self.source,
            order: self.w.order + u64::from(i),
        };
        Some((ctx, event))
    }
}

/// A record's place in a chunk: its line's index, then whether the line's own event made it
/// (its records come after the held rejects its time made due in other shards, ordered by
/// shard), then its order. Unique, so the groups' runs merge the same way however many.
fn place(i: usize, shard: Option<usize>) -> u64 {
    let at = (i as u64) << 25;
    match shard {
        None => at | 1 << 24,
        Some(s) => at | ((s as u64 & 0x7f) << 17),
    }
}

/// The routing step: which shard each line of a chunk goes to, in input order.
pub(super) struct RouteStage {
    router: route::Router,
    plan: Plan,
    /// Lines correlation read so far.
    order: u64,
}

/// One group's work on a chunk.
pub(super) type Task = Arc<Work>;
/// A group's records of a chunk, with their places; or the error that stopped it.
pub(super) type Part = Result<Vec<(u64, Held)>, Error>;

/// A group of shards (shard `s` is in group `s % groups`), run by one worker at a time.
pub(super) struct Group {
    /// Its place among `count` groups.
    index: usize,
    count: usize,
    shards: Vec<(usize, Merger)>,
    taker: Taker,
    /// Scratch: each shard's next line that may make its held rejects due.
    from: Vec<usize>,
    /// Scratch: the time of each of the chunk's lines (read when a shard holds a reject: when
    /// another shard's line would have written it in one merger).
    latest: Latest,
    /// Scratch: the indices of the chunk's lines that are this group's (see [`Group::run`]).
    lines: Vec<u32>,
}

#[derive(Default)]
struct Latest {
    times: Vec<i64>,
    ready: bool,
}

impl Latest {
    fn get(&mut self, w: &Work) -> &[i64] {
        if !self.ready {
            self.times.clear();
            (self.times).extend(w.r.dated.iter().map(|d| d.now));
            self.ready = true;
        }
        &self.times
    }
}

/// The place in `dated` of parsed line `idx`, if it was dated. Dating keeps lines in order and
/// drops few, so the place is at most `idx` and seldom far below it: steps back from there that
/// double, then a binary search between the last two (a binary search of the whole chunk for
/// each tied line was ~7 instructions a line in this serial step, callgrind).
fn dated_index(dated: &[Dated], idx: u32) -> Option<usize> {
    let hi = (idx as usize).min(dated.len().checked_sub(1)?);
    let (mut lo, mut step) = (hi, 1);
    while lo > 0 && dated.get(lo).is_some_and(|d| d.idx > idx) {
        lo = lo.saturating_sub(step);
        step *= 2;
    }
    let at = lo + dated.get(lo..=hi)?.partition_point(|d| d.idx < idx);
    (dated.get(at)?.idx == idx).then_some(at)
}

/// The shard `s` among `groups`.
fn shard_mut(groups: &mut [Group], s: usize) -> Option<&mut Merger> {
    let n = groups.len().max(1);
    let (_, m) = groups.get_mut(s % n)?.shards.get_mut(s / n)?;
    Some(m)
}

impl RouteStage {
    #[inline(never)]
    pub(super) fn split(
        &mut self,
        hosts: &[Box<[u8]>],
        groups: &mut [Group],
        r: Resolved,
    ) -> (Vec<Task>, Arc<Work>) {
        let mut work = Work {
            r,
            shard: Vec::new(),
            sweeps: Vec::new(),
            order: self.order,
        };
        let (r, dated, routes) = (&work.r, &work.r.dated, &work.r.parsed.routes);
        let routed = |i: usize| {
            let d = dated[i];
            Routed {
                route: routes.get(d.idx as usize).copied().unwrap_or_default(),
                now: d.now,
            }
        };
        let first_line = dated.first().map_or(0, |&d| r.line(d));
        // The dated lines of the parsed lines that tie keys (dating keeps lines in order and
        // drops some: each is found by its index).
        let tied = (work.r.parsed.tied.iter()).filter_map(|&idx| dated_index(dated, idx));
        self.router
            .plan_with(dated.len(), routed, tied, first_line, &mut self.plan);
        // Tied keys' states go to their group's shard before any of the chunk's lines.
        let view = View::new(&work, &[], hosts);
        for mv in &self.plan.moves {
            let Some((_, host, _, event)) = view.known(mv.line) else {
                continue;
            };
            let keys = route::keys(event);
            let Some(k) = (if mv.tied { keys.tie } else { keys.key }) else {
                continue;
            };
            let moved = match shard_mut(groups, usize::from(mv.from)) {
                Some(m) => m.take_key(k.kind, host, k.id),
                None => continue,
            };
            if let Some(m) = shard_mut(groups, usize::from(mv.to)) {
                m.put_key(moved);
            }
        }
        // Each group picks its lines out of this itself, in parallel.
        work.shard = std::mem::take(&mut self.plan.shard);
        work.sweeps = std::mem::take(&mut self.plan.sweeps);
        self.order += work.r.dated.len() as u64;
        let work = Arc::new(work);
        (groups.iter().map(|_| work.clone()).collect(), work)
    }
}

impl Group {
    /// Runs the group's shards' lines of a chunk, in input order (as one merger read them):
    /// each shard sees its lines in order, with the sweeps due among them.
    #[inline(never)]
    pub(super) fn run(&mut self, names: &[Box<[u8]>], hosts: &[Box<[u8]>], w: Task) -> Part {
        let count = self.count.max(1);
        self.from.clear();
        self.from.resize(self.shards.len(), 0);
        self.latest.ready = false;
        let mut sweeps = w.sweeps.iter().peekable();
        let view = View::new(&w, names, hosts);
        // Each shard's place in this group, if it is this group's (shard `s` is in group
        // `s % count`, at `s / count`): a table, not two divisions a line.
        let mut mine = [None; SHARDS];
        for (s, m) in mine.iter_mut().enumerate() {
            *m = (s % count == self.index).then_some(s / count);
        }
        // With several groups, the group's own lines are gathered first without a branch a
        // line: which group a line is for follows its key's hash, a coin toss with two groups
        // that a branch on it mispredicted for every other line (one group: every line).
        let lines = &mut self.lines;
        let n = if count > 1 {
            if lines.len() < w.shard.len() {
                lines.resize(w.shard.len(), 0);
            }
            let mut n = 0;
            for (i, &s) in w.shard.iter().enumerate() {
                if let Some(at) = lines.get_mut(n) {
                    *at = i as u32;
                }
                n += usize::from(mine.get(usize::from(s)).is_some_and(Option::is_some));
            }
            n
        } else {
            lines.clear();
            lines.extend(0..w.shard.len() as u32);
            lines.len()
        };
        let mine_lines = lines.get(..n).unwrap_or_default();
        // With several groups a group reads every other line or so, unevenly spaced, which
        // the CPU's own prefetcher does not follow, and the other core parsed many of them:
        // each line's entry and bytes are asked for a few lines ahead (Sendmail, two groups:
        // ~4% less time). One group reads them all in order, which the CPU follows alone
        // (asked for anyway, the 1 GiB Postfix log took 1.4% longer).
        let ahead = count > 1;
        for (k, &i) in mine_lines.iter().enumerate() {
            if ahead {
                if let Some(&j) = mine_lines.get(k + 8) {
                    view.prefetch_entry(j);
                }
                if let Some(&j) = mine_lines.get(k + 4) {
                    view.prefetch_bytes(j);
                }
            }
            let i = i as usize;
            let Some(&s) = w.shard.get(i) else {
                continue;
            };
            let Some(&Some(slot)) = mine.get(usize::from(s)) else {
                continue;
            };
            while let Some(&&(at, now)) = sweeps.peek() {
                if at as usize > i {
                    break;
                }
                for (_, m) in &mut self.shards {
                    m.sweep_at(now);
                }
                sweeps.next();
            }
            let s = usize::from(s);
            let (Some((_, m)), Some(from)) = (self.shards.get_mut(slot), self.from.get_mut(slot))
            else {
                continue;
            };
            // Checked here: a shard rarely holds a reject, and the call was ~30 instructions a
            // line.
            if m.pending_due().is_some() {
                flush_due((s, m), &mut self.latest, &w, *from, i, &mut self.taker)?;
            }
            *from = i + 1;
            let Some((ctx, ev)) = view.line(i as u32) else {
                continue;
            };
            let t = &mut self.taker;
            t.seq = place(i, None);
            m.event(&ctx, ev, &mut |rec| t.take(rec))?;
        }
        for ((s, m), &from) in self.shards.iter_mut().zip(&self.from) {
            flush_due(
                (*s, m),
                &mut self.latest,
                &w,
                from,
                w.shard.len(),
                &mut self.taker,
            )?;
        }
        for &(_, now) in sweeps {
            for (_, m) in &mut self.shards {
                m.sweep_at(now);
            }
        }
        // In input order here, in parallel: the writer only merges the groups' runs.
        // Nearly sorted already (only held rejects come late): a stable sort finds the runs.
        // The next chunk's records start in room for as many as the most a chunk had so far:
        // grown from empty, the vector was reallocated a dozen times a chunk, and from the last
        // chunk's count, once every other chunk (0.5% of a Sendmail run's instructions,
        // callgrind). A chunk's records are bounded by its bytes, so the room is too.
        self.taker.room = self.taker.room.max(self.taker.out.len());
        let room = self.taker.room;
        let mut out = std::mem::replace(&mut self.taker.out, Vec::with_capacity(room));
        out.sort_by_key(|(seq, _)| *seq);
        Ok(out)
    }
}

/// Writes the held rejects that other shards' lines in `from..to` make due, at the line that
/// makes each due (one merger wrote them there, before the line's own records).
fn flush_due(
    (shard, m): (usize, &mut Merger),
    latest: &mut Latest,
    w: &Work,
    mut from: usize,
    to: usize,
    t: &mut Taker,
) -> Result<(), Error> {
    while let Some(due) = m.pending_due() {
        let times = latest.get(w);
        // The first line after `due`, as one merger checked each line's own time (a log may
        // step back: not the latest time so far).
        let Some(k) = (times.get(from..to)).and_then(|t| t.iter().position(|&now| now > due))
        else {
            break;
        };
        let k = from + k;
        let Some(&now) = times.get(k) else {
            break;
        };
        t.seq = place(k, Some(shard));
        m.flush_due(now, &mut |rec| t.take(rec))?;
        from = k + 1;
    }
    Ok(())
}

/// The serial end: records in input order, then time order, then written.
pub(super) struct WriteStage<'a> {
    out: Out<'a>,
    reorder: Reorder<Held>,
    /// Where written chunks' buffers go back for reuse.
    pool: Pool,
    lines: Pool<Lines>,
    routes: Pool<Vec<Route>>,
    dated: Pool<Vec<Dated>>,
}

impl WriteStage<'_> {
    // Not inlined: scripts/bench-instructions counts each step by its function.
    #[inline(never)]
    pub(super) fn write(&mut self, work: Arc<Work>, parts: Vec<Part>) -> Result<(), Error> {
        // Records in input order (as one merger would have decided them), then time order.
        let out = &mut self.out;
        let reorder = &mut self.reorder;
        let mut runs = Vec::with_capacity(parts.len());
        for p in parts {
            let run = p?;
            if !run.is_empty() {
                runs.push(run.into_iter().peekable());
            }
        }
        let emit = &mut |h| out.emit(h);
        if let [run] = &mut runs[..] {
            for (_, h) in run {
                reorder.push_held(h, emit)?;
            }
        } else if let [a, b] = &mut runs[..] {
            // Two groups (`-j2`): the earlier head of two, not a heap's pop and push a record
            // in this serial step.
            loop {
                let first = match (a.peek(), b.peek()) {
                    (Some((x, _)), Some((y, _))) => {
                        if x <= y {
                            a.next()
                        } else {
                            b.next()
                        }
                    }
                    (Some(_), None) => a.next(),
                    (None, Some(_)) => b.next(),
                    (None, None) => break,
                };
                if let Some((_, h)) = first {
                    reorder.push_held(h, emit)?;
                }
            }
        } else {
            let mut heads: BinaryHeap<Reverse<(u64, usize)>> = (runs.iter_mut().enumerate())
                .filter_map(|(i, r)| r.peek().map(|(seq, _)| Reverse((*seq, i))))
                .collect();
            while let Some(Reverse((_, i))) = heads.pop() {
                let Some(run) = runs.get_mut(i) else {
                    continue;
                };
                if let Some((_, h)) = run.next() {
                    reorder.push_held(h, emit)?;
                }
                if let Some((seq, _)) = run.peek() {
                    heads.push(Reverse((*seq, i)));
                }
            }
        }
        // What the chunk's records made due, in one pass (see `Reorder::push_held`).
        reorder.drain(emit)?;
        if let Ok(w) = Arc::try_unwrap(work) {
            let (chunk, lines) = w.r.parsed.lines.into_parts();
            self.pool.put(chunk.buf);
            self.lines.put(lines);
            self.routes.put(w.r.parsed.routes);
            self.dated.put(w.r.dated);
        }
        Ok(())
    }
}

/// Where a written chunk's buffers go back: its bytes, parsed lines, routes and dated lines.
pub(super) type Pools = (Pool, Pool<Lines>, Pool<Vec<Route>>, Pool<Vec<Dated>>);

/// The merge stages of a run: routing, the groups of shards, writing.
pub(super) struct Merging<'a> {
    pub(super) route: RouteStage,
    pub(super) groups: Vec<Group>,
    pub(super) write: WriteStage<'a>,
}

impl<'a> Merging<'a> {
    /// `groups` groups of shards, from the state a run carried (or empty ones).
    pub(super) fn new(
        out: Out<'a>,
        max_age_secs: i64,
        groups: usize,
        (pool, lines, routes, dated): Pools,
        carried: Option<Carried>,
    ) -> Self {
        let (mut sharded, reorder) = carried.unwrap_or_else(|| {
            (
                Sharded::new(max_age_secs),
                Reorder::new(REORDER_WINDOW_SECS),
            )
        });
        sharded.set_max_age(max_age_secs);
        sharded.set_details(out.writer.details());
        sharded.set_reply_codes(out.writer.reply_codes());
        let n = groups.clamp(1, SHARDS);
        let mut gs: Vec<Group> = (0..n)
            .map(|index| Group {
                index,
                count: n,
                shards: Vec::new(),
                taker: Taker::new(&out),
                from: Vec::new(),
                latest: Latest::default(),
                lines: Vec::new(),
            })
            .collect();
        for (s, m) in sharded.shards.into_iter().enumerate() {
            if let Some(g) = gs.get_mut(s % n) {
                g.shards.push((s, m));
            }
        }
        Merging {
            route: RouteStage {
                router: sharded.router,
                plan: Plan::default(),
                order: 0,
            },
            groups: gs,
            write: WriteStage {
                out,
                reorder,
                pool,
                lines,
                routes,
                dated,
            },
        }
    }

    /// Completes `summary` with the merge figures. Records still held for time order are
    /// written, or with `keep` (`--state`) handed back with the open messages for the next run.
    pub(super) fn finish(
        self,
        mut summary: Summary,
        keep: bool,
    ) -> Result<(Summary, Option<Carried>), Error> {
        let Merging {
            route,
            groups,
            mut write,
        } = self;
        let mut counts = Stats::default();
        let mut add = |c: &Stats| {
            counts.hops += c.hops;
            for (a, b) in counts.records.iter_mut().zip(c.records) {
                *a += b;
            }
        };
        let mut shards: Vec<(usize, Merger)> = Vec::with_capacity(SHARDS);
        for g in groups {
            add(&g.taker.counts);
            shards.extend(g.shards);
        }
        shards.sort_by_key(|(s, _)| *s);
        let mut sharded = Sharded {
            shards: shards.into_iter().map(|(_, m)| m).collect(),
            router: route.router,
        };
        // Rejects still waiting for their sender are written as they are: the held ones are
        // not saved with the open messages.
        let mut taker = Taker::new(&write.out);
        sharded.flush_pending(&mut |rec| taker.take(rec))?;
        add(&taker.counts);
        let out = &mut write.out;
        for (_, h) in taker.out.drain(..) {
            write.reorder.push(h, &mut |h| out.emit(h))?;
        }
        if !keep {
            write.reorder.finish(&mut |r| out.emit(r))?;
        }
        out.flush_lines()?;
        let stats = &mut summary.stats;
        stats.records = counts.records;
        stats.hops = counts.hops;
        stats.open_at_end = sharded.sum(|m| m.open_messages() as u64);
        stats.evicted = sharded.sum(Merger::evicted);
        stats.settled_dropped = sharded.sum(Merger::settled_dropped);
        stats.abandoned = sharded.sum(Merger::abandoned);
        stats.shed = sharded.sum(Merger::shed);
        Ok((summary, keep.then_some((sharded, write.reorder))))
    }
}

/// The inputs' names as records carry them.
pub(super) fn names(inputs: &[Source]) -> Vec<Box<[u8]>> {
    inputs
        .iter()
        .map(|i| i.display().into_bytes().into())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search back finds what a binary search of the whole chunk finds, whichever lines
    /// dating dropped: none, every other, runs at the start, the middle or the end, all.
    #[test]
    fn dated_index_is_a_search() {
        let n = 300u32;
        let keeps: [&dyn Fn(u32) -> bool; 7] = [
            &|_| true,
            &|i| i % 2 == 0,
            &|i| i >= 100,
            &|i| !(50..250).contains(&i),
            &|i| i < 7,
            &|i| i % 37 != 3,
            &|_| false,
        ];
        for keep in keeps {
            let dated: Vec<Dated> = (0..n)
                .filter(|&i| keep(i))
                .map(|idx| Dated {
                    idx,
                    stamp: 0,
                    now: 0,
                })
                .collect();
            for idx in 0..n + 5 {
                let want = dated.binary_search_by_key(&idx, |d| d.idx).ok();
                assert_eq!(dated_index(&dated, idx), want, "{idx}");
            }
        }
    }
}
