//! maillogconv: turns mail server logs into one record per recipient delivery attempt.
//!
//! The pipeline runs one way: [`input`] (open, decompress, line-aligned chunks) → [`parse`]
//! (parallel, zero-copy, one event per line) → [`time`] (year resolution, in log order) →
//! [`merge`] (queue-ID correlation, time order) → [`output`] (one writer per format).
//! With more than one thread, a pool of workers runs the steps ([`parallel`]). Output bytes
//! never depend on the thread count: chunks are dated and merged in input order.

pub mod cli;
pub mod config;
pub mod error;
pub mod input;
pub mod merge;
pub mod output;
mod parallel;
pub mod parse;
pub mod record;
pub mod stats;
pub mod time;

use crate::config::Config;
use crate::error::Error;
use crate::input::chunk::Chunker;
use crate::input::discover::discover;
use crate::input::peek::{peek, FileTimes};
use crate::input::Input;
use crate::merge::{Ctx, Merger, Reorder};
use crate::output::{RecordWriter, Sink};
use crate::parse::{parse_line_as, Line, Mta, Span};
use crate::record::{Record, RecordRef};
use crate::stats::{FileStats, Stats};
use crate::time::{chain_years, ChainFile, ChainYear, Stamp, YearResolver, YearStart};
use anyhow::Context as _;
use std::time::SystemTime;

/// How far (seconds of log time) records may be out of order and still be sorted.
const REORDER_WINDOW_SECS: i64 = 300;
/// Bad-timestamp warnings printed before going quiet (all are counted in `--stats`).
const MAX_WARNINGS: u64 = 10;

/// Set by SIGINT/SIGTERM (see `main.rs`): the run stops at the next chunk, and its temporary
/// output is removed, so nothing partial appears under the output's name.
pub static INTERRUPTED: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));

fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// What a run did: its figures, and the inputs that failed (the rest were converted).
#[derive(Debug, Default)]
pub struct Summary {
    pub stats: Stats,
    pub errors: Vec<Error>,
}

/// Converts `cfg.inputs` into `cfg.output`. Input errors are collected in the summary; an
/// output error ends the run, and then nothing reaches the final output path.
pub fn run(cfg: &Config) -> anyhow::Result<Summary> {
    if let (false, Some(dir)) = (cfg.partition_by.is_empty(), cfg.output.as_ref()) {
        let mut dataset = output::parquet::Partitioned::create(dir, cfg.partition_by.clone())
            .with_context(|| format!("cannot create the dataset directory {}", dir.display()))?
            .encode_apart(cfg.threads > 1);
        let summary = convert(cfg, &mut dataset)?;
        let name = dir.display().to_string();
        let write_err = |source| Error::Write {
            output: name.clone(),
            source,
        };
        dataset.finish().map_err(write_err)?;
        dataset.commit().map_err(write_err)?;
        return Ok(summary);
    }
    let sink = Sink::open(cfg.output.as_deref())
        .with_context(|| format!("cannot create output next to {}", Sink::name_of(cfg)))?;
    let handle = sink
        .handle()
        .with_context(|| format!("cannot open {}", sink.name()))?;
    let mut writer = output::writer_with(cfg.format, handle, cfg.threads > 1);
    let summary = convert(cfg, writer.as_mut())?;
    writer.finish().map_err(|source| Error::Write {
        output: sink.name(),
        source,
    })?;
    drop(writer);
    let name = sink.name();
    sink.commit().map_err(|source| Error::Write {
        output: name,
        source,
    })?;
    Ok(summary)
}

impl Sink {
    fn name_of(cfg: &Config) -> String {
        cfg.output
            .as_ref()
            .map_or("<stdout>".to_string(), |p| p.display().to_string())
    }
}

/// Parsed lines of a chunk: each line's span and its parse.
type Lines = Vec<(Span, Line<Span>)>;

/// A chunk and its parsed lines (spans into the chunk).
struct Parsed {
    chunk: input::chunk::Chunk,
    lines: Lines,
}

/// Recycled line vectors (see [`input::chunk::Pool`]).
static LINES: std::sync::OnceLock<input::chunk::Pool<Lines>> = std::sync::OnceLock::new();

fn lines_pool() -> &'static input::chunk::Pool<Lines> {
    LINES.get_or_init(input::chunk::Pool::default)
}

enum Work {
    Start {
        file: usize,
        compression: &'static str,
    },
    Parsed(Parsed),
    End(Option<Error>),
}

impl Work {
    /// What the dating stage gets for a file that cannot be opened: its start, then its end
    /// with the error.
    fn unopened(file: usize, error: Error) -> [Work; 2] {
        let compression = "unreadable";
        [Work::Start { file, compression }, Work::End(Some(error))]
    }
}

/// A line correlation reads: its index in the chunk's parsed lines, its number and its time.
/// The parsed line itself stays where the parser put it (no copy of the event).
struct Dated {
    idx: u32,
    line: u64,
    ts: Stamp,
}

/// A chunk's parsed lines and the ones correlation reads, numbered and dated.
struct Resolved {
    file: usize,
    parsed: Parsed,
    dated: Vec<Dated>,
}

/// Recycled [`Dated`] vectors.
static DATED: std::sync::OnceLock<input::chunk::Pool<Vec<Dated>>> = std::sync::OnceLock::new();

fn dated_pool() -> &'static input::chunk::Pool<Vec<Dated>> {
    DATED.get_or_init(input::chunk::Pool::default)
}

/// Runs the pipeline into `writer`. Returns an error only if the output cannot be written.
pub fn convert(cfg: &Config, writer: &mut dyn RecordWriter) -> Result<Summary, Error> {
    let found = discover(&cfg.inputs);
    let inputs = found.inputs;
    let plan = plan_years(&inputs, &found.families, cfg);
    let out_name = cfg
        .output
        .as_ref()
        .map_or("<stdout>".to_string(), |p| p.display().to_string());
    let threads = cfg.threads.max(1);
    let pool = input::chunk::Pool::default();
    let mut dating = LineStage::new(cfg, &inputs, plan);
    dating.summary.stats.notes.extend(found.notes);
    dating.summary.errors.extend(
        found
            .missing
            .into_iter()
            .map(|what| Error::NoInput { what }),
    );
    let out = Out {
        writer,
        name: out_name,
    };
    let mut merging = MergeStage::new(cfg, &inputs, out, pool.clone());
    if threads > 1 {
        return parallel::run(cfg, &inputs, &pool, dating, merging, threads);
    }
    // One thread: read, parse, date and merge in turn, nothing in parallel.
    for (file, input) in inputs.iter().enumerate() {
        let mut reading = match Reading::open(input, cfg.chunk_size, &pool) {
            Ok(r) => r,
            Err(e) => {
                for w in Work::unopened(file, e) {
                    dating.handle(w);
                }
                continue;
            }
        };
        let compression = reading.compression.name();
        dating.handle(Work::Start { file, compression });
        let error = loop {
            if interrupted() {
                return Err(Error::Interrupted);
            }
            match reading.next(input) {
                Ok(Some(chunk)) => {
                    if let Some(r) = dating.handle(Work::Parsed(parse_chunk(chunk, cfg.mta))) {
                        merging.handle(r)?;
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        dating.handle(Work::End(error));
    }
    merging.finish(dating.finish())
}

/// An input being read in line-aligned chunks, with what its errors need to say.
struct Reading {
    chunker: Chunker<Box<dyn std::io::Read + Send>>,
    compression: input::decompress::Compression,
    /// Raw bytes consumed, for the offset of an error.
    consumed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Reading {
    fn open(input: &Input, chunk_size: usize, pool: &input::chunk::Pool) -> Result<Self, Error> {
        let opened = input::decompress::open(input)?;
        Ok(Reading {
            chunker: Chunker::with_pool(opened.reader, chunk_size, pool.clone()),
            compression: opened.compression,
            consumed: opened.consumed,
        })
    }

    /// The next chunk, `None` at the end; an error names `input` and the offset reached.
    fn next(&mut self, input: &Input) -> Result<Option<input::chunk::Chunk>, Error> {
        self.chunker.next_chunk().map_err(|source| {
            let offset = self.consumed.load(std::sync::atomic::Ordering::Relaxed);
            input::decompress::read_error(input, self.compression, offset, source)
        })
    }
}

/// Parses one chunk: a [`Line`] per line, slices turned into spans.
fn parse_chunk(chunk: input::chunk::Chunk, mta: Option<Mta>) -> Parsed {
    let data = chunk.bytes();
    let mut lines = lines_pool().take();
    lines.clear();
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let raw = &data[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        lines.push((
            Span::of(data, raw),
            parse_line_as(raw, mta).map(|s| Span::of(data, s)),
        ));
        start = end + 1;
    }
    Parsed { chunk, lines }
}

/// The local date and time of `t` in `tz`.
fn local_datetime(t: SystemTime, tz: &jiff::tz::TimeZone) -> Option<jiff::civil::DateTime> {
    let ts = jiff::Timestamp::try_from(t).ok()?;
    Some(ts.to_zoned(tz.clone()).datetime())
}

/// The end-time anchor of a file: the dateext date, else the gzip MTIME, else the mtime, else
/// (stdin) the clock; with a description for `--stats`.
fn anchor(times: &FileTimes, tz: &jiff::tz::TimeZone) -> (jiff::civil::DateTime, String) {
    if let Some(d) = times.name_date {
        return (d.at(23, 59, 59, 0), format!("dateext name {d}"));
    }
    let candidates = [
        (times.gzip_mtime, "gzip header mtime"),
        (times.mtime, "file mtime"),
    ];
    for (t, what) in candidates {
        if let Some(dt) = t.and_then(|t| local_datetime(t, tz)) {
            return (dt, format!("{what} {dt}"));
        }
    }
    let now = local_datetime(SystemTime::now(), tz).unwrap_or_default();
    let what = if times.stdin {
        "the clock (stdin)"
    } else {
        "the clock"
    };
    (now, format!("{what} {now}"))
}

/// Chooses the year of each file's first line: per rotated family, from the newest file's
/// anchor back through the first lines (or forward from `--year`).
fn plan_years(inputs: &[Input], families: &[usize], cfg: &Config) -> Vec<ChainYear> {
    let peeked: Vec<ChainFile> = inputs
        .iter()
        .map(|i| {
            let (times, first) = peek(i);
            let (anchor, anchor_what) = anchor(&times, &cfg.tz);
            ChainFile {
                first,
                anchor,
                anchor_what,
            }
        })
        .collect();
    let mut plan: Vec<Option<ChainYear>> = vec![None; inputs.len()];
    let mut ids: Vec<usize> = families.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for fam in ids {
        let members: Vec<usize> = (0..inputs.len())
            .filter(|&i| families.get(i) == Some(&fam))
            .collect();
        let files: Vec<ChainFile> = members.iter().map(|&i| peeked[i].clone()).collect();
        for (m, y) in members.into_iter().zip(chain_years(&files, cfg.year)) {
            plan[m] = Some(y);
        }
    }
    plan.into_iter()
        .zip(peeked)
        .map(|(p, f)| {
            p.unwrap_or(ChainYear {
                start: YearStart::NotAfter(f.anchor),
                from: f.anchor_what,
                note: None,
            })
        })
        .collect()
}

/// Where the merge stage sends finished records: the writer.
struct Out<'a> {
    writer: &'a mut dyn RecordWriter,
    name: String,
}

impl Out<'_> {
    fn emit(&mut self, h: Held) -> Result<(), Error> {
        match h {
            Held::Record(r) => self.writer.write_record(&r.view()),
            Held::Line(_, line) => self.writer.write_rendered(&line),
        }
        .map_err(|source| self.error(source))
    }

    fn error(&self, source: std::io::Error) -> Error {
        Error::Write {
            output: self.name.clone(),
            source,
        }
    }
}

/// What waits in the reorder buffer: a record, or for line formats the line it renders to
/// (with its time), made while the record was still in cache.
enum Held {
    Record(Box<Record>),
    Line(i128, Box<[u8]>),
}

impl merge::Timed for Held {
    fn key(&self) -> i128 {
        match self {
            Held::Record(r) => r.key(),
            Held::Line(key, _) => *key,
        }
    }
}

/// Line stage: numbers lines, resolves years and counts, in input order; a step of its own
/// apart from merging, so two workers can run the two serial steps at once.
struct LineStage<'a> {
    inputs: &'a [Input],
    summary: Summary,
    resolver: YearResolver,
    file: usize,
    line_no: u64,
    warnings: u64,
    /// How each file's first line gets its year.
    plan: Vec<ChainYear>,
    /// The last stamp of the previous file, to check the set is in order.
    prev_last: Option<(Stamp, String)>,
    /// `--strict`: unparseable lines fail the run.
    strict: bool,
    /// The current file's unparseable lines (first line number, MTA, count), under `--strict`.
    unparsed: Option<(u64, Mta, u64)>,
}

impl<'a> LineStage<'a> {
    fn new(cfg: &'a Config, inputs: &'a [Input], plan: Vec<ChainYear>) -> Self {
        LineStage {
            inputs,
            summary: Summary::default(),
            resolver: YearResolver::with_tz(YearStart::FirstLineIn(1970), cfg.tz.clone()),
            file: 0,
            line_no: 0,
            warnings: 0,
            plan,
            prev_last: None,
            strict: cfg.strict,
            unparsed: None,
        }
    }

    fn name(&self, file: usize) -> String {
        self.inputs
            .get(file)
            .map(Input::display)
            .unwrap_or_default()
    }

    /// `--strict`: one error for the current file's unparseable lines, if it had any.
    fn strict_error(&mut self) {
        if let Some((line, mta, count)) = self.unparsed.take() {
            let input = self.name(self.file);
            self.summary.errors.push(Error::Malformed {
                input,
                line,
                mta: mta.name(),
                count,
            });
        }
    }

    fn start(&mut self, file: usize, compression: &'static str) {
        self.strict_error();
        if let Some(fs) = self.summary.stats.files.last() {
            if let Some(last) = fs.last {
                self.prev_last = Some((last, fs.name.clone()));
            }
        }
        self.file = file;
        self.line_no = 0;
        let name = self.name(file);
        let (start, year_from) = match self.plan.get(file) {
            Some(p) => {
                if let Some(n) = &p.note {
                    self.summary.stats.notes.push(format!("{name}: {n}"));
                }
                (p.start, p.from.clone())
            }
            None => (
                YearStart::NotAfter(jiff::civil::DateTime::default()),
                String::new(),
            ),
        };
        self.resolver.restart(start);
        self.summary.stats.files.push(FileStats {
            name,
            compression,
            year_from,
            ..FileStats::default()
        });
    }

    /// Notes a file that starts well before the previous one ended (out of order, overlap).
    fn check_chain(&mut self, ts: &Stamp) {
        let name = self.name(self.file);
        if let Some((prev, prev_name)) = self.prev_last.take() {
            if ts.instant.as_second() + REORDER_WINDOW_SECS < prev.instant.as_second() {
                self.summary.stats.notes.push(format!(
                    "{name}: starts at {} before {prev_name} ends at {}: inputs overlap or are out of order",
                    ts.local, prev.local
                ));
            }
        }
    }

    /// A chunk's known lines for the merge stage; file starts and ends stay here.
    fn handle(&mut self, work: Work) -> Option<Resolved> {
        match work {
            Work::Start { file, compression } => self.start(file, compression),
            Work::Parsed(p) => {
                let mut dated = dated_pool().take();
                dated.clear();
                self.lines(&p, &mut dated);
                return Some(Resolved {
                    file: self.file,
                    parsed: p,
                    dated,
                });
            }
            Work::End(error) => {
                if let Some(e) = error {
                    if let Some(fs) = self.summary.stats.files.last_mut() {
                        fs.failed = true;
                    }
                    self.summary.errors.push(e);
                }
            }
        }
        None
    }

    fn lines(&mut self, p: &Parsed, out: &mut Vec<Dated>) {
        for (idx, (_, line)) in p.lines.iter().enumerate() {
            self.line_no += 1;
            let stats = &mut self.summary.stats;
            stats.lines += 1;
            if let Some(fs) = stats.files.last_mut() {
                fs.lines += 1;
            }
            let Line::Known {
                stamp, mta, event, ..
            } = line
            else {
                stats.unknown += 1;
                continue;
            };
            let mta = *mta;
            stats.recognised += 1;
            stats.count_mta(mta);
            if matches!(event, parse::Event::Malformed) {
                stats.malformed += 1;
                if self.strict {
                    self.unparsed.get_or_insert((self.line_no, mta, 0)).2 += 1;
                }
            }
            let ts = match self.resolver.resolve(stamp) {
                Ok(ts) => ts,
                Err(e) => {
                    stats.bad_timestamps += 1;
                    if self.warnings < MAX_WARNINGS {
                        eprintln!(
                            "maillogconv: warning: {}:{}: bad timestamp ({e}); line skipped",
                            self.name(self.file),
                            self.line_no
                        );
                    }
                    self.warnings += 1;
                    continue;
                }
            };
            let first = stats.files.last().is_some_and(|fs| fs.first.is_none());
            if let Some(fs) = stats.files.last_mut() {
                fs.first.get_or_insert(ts);
                fs.last = Some(ts);
            }
            if first {
                self.check_chain(&ts);
            }
            // Lines that cannot make or change a record stop here.
            if matches!(event, parse::Event::Ignored | parse::Event::Malformed) {
                continue;
            }
            out.push(Dated {
                idx: idx as u32,
                line: self.line_no,
                ts,
            });
        }
    }

    fn finish(mut self) -> Summary {
        self.strict_error();
        self.summary
    }
}

/// Merge stage: correlation, order, writing. Runs on one thread.
struct MergeStage<'a> {
    /// Input names, for the records' `source_file`.
    names: Vec<Box<[u8]>>,
    out: Out<'a>,
    merger: Merger,
    reorder: Reorder<Held>,
    /// The writer renders lines: hold those, not records.
    renders: bool,
    /// A record's rendered line, before it is held.
    line: Vec<u8>,
    /// Records by status (only `records` of these figures is kept here).
    counts: Stats,
    /// Where merged chunks' buffers go back for reuse.
    pool: input::chunk::Pool,
}

impl<'a> MergeStage<'a> {
    fn new(cfg: &Config, inputs: &[Input], out: Out<'a>, pool: input::chunk::Pool) -> Self {
        let renders = out.writer.renders();
        MergeStage {
            names: inputs
                .iter()
                .map(|i| i.display().into_bytes().into())
                .collect(),
            out,
            merger: Merger::with_max_age(cfg.max_age_secs),
            reorder: Reorder::new(REORDER_WINDOW_SECS),
            renders,
            line: Vec::with_capacity(1024),
            counts: Stats::default(),
            pool,
        }
    }

    fn handle(&mut self, r: Resolved) -> Result<(), Error> {
        if interrupted() {
            return Err(Error::Interrupted);
        }
        let MergeStage {
            names,
            out,
            merger,
            reorder,
            renders,
            line,
            counts,
            ..
        } = self;
        let source = names.get(r.file).map_or(&[][..], |n| &n[..]);
        let data = r.parsed.chunk.bytes();
        // The first write error: correlation stops at the line that met it.
        let failed = std::cell::RefCell::new(None);
        // Each record is counted, then rendered (line formats) or copied (the others) while
        // its line and message are at hand, and held for time order.
        let mut emit = |rec: &RecordRef| {
            if failed.borrow().is_some() {
                return;
            }
            if let Some(st) = rec.status {
                counts.count(st);
            }
            let held = if *renders {
                line.clear();
                if let Err(e) = out.writer.render(rec, line) {
                    *failed.borrow_mut() = Some(out.error(e));
                    return;
                }
                if line.is_empty() {
                    return;
                }
                Held::Line(rec.key(), line.as_slice().into())
            } else {
                Held::Record(Box::new(rec.to_owned_record()))
            };
            if let Err(e) = reorder.push(held, &mut |h| out.emit(h)) {
                *failed.borrow_mut() = Some(e);
            }
        };
        for d in &r.dated {
            if failed.borrow().is_some() {
                break;
            }
            let Some((
                _,
                Line::Known {
                    host, mta, event, ..
                },
            )) = r.parsed.lines.get(d.idx as usize)
            else {
                continue;
            };
            let ctx = Ctx {
                line: d.line,
                ts: d.ts,
                host: host.get(data),
                mta: *mta,
                source,
            };
            merger.event(&ctx, event.map(&mut |s: Span| s.get(data)), &mut emit);
        }
        if let Some(e) = failed.into_inner() {
            return Err(e);
        }
        self.pool.put(r.parsed.chunk.buf);
        lines_pool().put(r.parsed.lines);
        dated_pool().put(r.dated);
        Ok(())
    }

    /// Writes what the reorder buffer holds and completes `summary` with the merge figures.
    fn finish(mut self, mut summary: Summary) -> Result<Summary, Error> {
        let out = &mut self.out;
        self.reorder.finish(&mut |r| out.emit(r))?;
        let stats = &mut summary.stats;
        stats.records = self.counts.records;
        stats.open_at_end = self.merger.open_messages() as u64;
        stats.evicted = self.merger.evicted();
        stats.settled_dropped = self.merger.settled_dropped();
        Ok(summary)
    }
}
