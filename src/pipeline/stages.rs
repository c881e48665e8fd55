//! The pipeline's steps for mail logs: open and read an input in line-aligned chunks, parse a
//! chunk, date its lines (years, counts) and merge them (correlation, time order, writing).
//! Built once from the options by [`super::convert`]; none of them sees `Config`.

use super::pool::{Input, Steps};
use crate::error::Error;
use crate::input::chunk::{Chunk, Chunker, Pool};
use crate::input::decompress::{self, Compression};
use crate::input::Input as Source;
use crate::merge::{Ctx, Merger};
use crate::order::{Reorder, Timed};
use crate::output::RecordWriter;
use crate::parse::{parse_line_as, Event, Line, Mta, Span};
use crate::record::{Record, RecordRef};
use crate::stats::{FileStats, Stats, Summary};
use crate::time::{Stamp, YearResolver, YearStart};
use crate::years::ChainYear;

/// How far (seconds of log time) records may be out of order and still be sorted.
const REORDER_WINDOW_SECS: i64 = 300;
/// Bad-timestamp warnings reported before going quiet (all are counted in `--stats`).
const MAX_WARNINGS: u64 = 10;

/// The steps, as the pool runs them.
pub(super) struct MailSteps<'a> {
    pub(super) inputs: &'a [Source],
    pub(super) chunk_size: usize,
    pub(super) mta: Option<Mta>,
    pub(super) buffers: Pool,
    pub(super) lines: Pool<Lines>,
}

impl<'a> Steps for MailSteps<'a> {
    type Source = Reading;
    type Info = &'static str;
    type Raw = Chunk;
    type Item = Parsed;
    type Marked = Resolved;
    type First = DateStage<'a>;
    type Second = MergeStage<'a>;
    type Error = Error;

    fn sources(&self) -> usize {
        self.inputs.len()
    }

    fn open(&self, source: usize) -> Result<Reading, Error> {
        match self.inputs.get(source) {
            Some(input) => Reading::open(input, self.chunk_size, &self.buffers),
            None => Err(Error::Internal { stage: "open" }),
        }
    }

    fn info(&self, reading: &Reading) -> &'static str {
        reading.compression.name()
    }

    fn read(&self, source: usize, reading: &mut Reading) -> Result<Option<Chunk>, Error> {
        match self.inputs.get(source) {
            Some(input) => reading.next(input),
            None => Err(Error::Internal { stage: "read" }),
        }
    }

    fn map(&self, chunk: Chunk) -> Parsed {
        parse_chunk(chunk, self.mta, &self.lines)
    }

    fn first(&self, stage: &mut DateStage<'a>, input: Input<Self>) -> Option<Resolved> {
        stage.handle(input)
    }

    fn second(&self, stage: &mut MergeStage<'a>, r: Resolved) -> Result<(), Error> {
        stage.handle(r)
    }
}

/// Parsed lines of a chunk: each line's span and its parse.
pub(super) type Lines = Vec<(Span, Line<Span>)>;

/// A chunk and its parsed lines (spans into the chunk).
pub(super) struct Parsed {
    chunk: Chunk,
    lines: Lines,
}

/// A line correlation reads: its index in the chunk's parsed lines, its number and its time.
/// The parsed line itself stays where the parser put it (no copy of the event).
pub(super) struct Dated {
    idx: u32,
    line: u64,
    ts: Stamp,
}

/// A chunk's parsed lines and the ones correlation reads, numbered and dated.
pub(super) struct Resolved {
    file: usize,
    parsed: Parsed,
    dated: Vec<Dated>,
}

/// An input being read in line-aligned chunks, with what its errors need to say.
pub(super) struct Reading {
    chunker: Chunker<Box<dyn std::io::Read + Send>>,
    pub(super) compression: Compression,
    /// Raw bytes consumed, for the offset of an error.
    consumed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Reading {
    pub(super) fn open(input: &Source, chunk_size: usize, pool: &Pool) -> Result<Self, Error> {
        let opened = decompress::open(input)?;
        Ok(Reading {
            chunker: Chunker::with_pool(opened.reader, chunk_size, pool.clone()),
            compression: opened.compression,
            consumed: opened.consumed,
        })
    }

    /// The next chunk, `None` at the end; an error names `input` and the offset reached.
    pub(super) fn next(&mut self, input: &Source) -> Result<Option<Chunk>, Error> {
        self.chunker.next_chunk().map_err(|source| {
            let offset = self.consumed.load(std::sync::atomic::Ordering::Relaxed);
            decompress::read_error(input, self.compression, offset, source)
        })
    }
}

/// Parses one chunk: a [`Line`] per line, slices turned into spans.
pub(super) fn parse_chunk(chunk: Chunk, mta: Option<Mta>, pool: &Pool<Lines>) -> Parsed {
    let data = chunk.bytes();
    let mut lines = pool.take();
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

/// Where the merge stage sends finished records: the writer.
pub(super) struct Out<'a> {
    pub(super) writer: &'a mut dyn RecordWriter,
    pub(super) name: String,
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

impl Timed for Held {
    fn key(&self) -> i128 {
        match self {
            Held::Record(r) => r.key(),
            Held::Line(key, _) => *key,
        }
    }
}

/// Dating stage: numbers lines, resolves years and counts, in input order; a step of its own
/// apart from merging, so two workers can run the two serial steps at once.
pub(super) struct DateStage<'a> {
    inputs: &'a [Source],
    pub(super) summary: Summary,
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
    /// Where emptied [`Dated`] vectors come from.
    dated: Pool<Vec<Dated>>,
    /// The current file's span of log time by host, when the run keeps its coverage.
    coverage: Option<FileCoverage>,
}

/// The first and last instant (ns) of each host's lines in one file; hosts rarely change from
/// one line to the next, so the last one looked up is tried first.
#[derive(Default)]
struct FileCoverage {
    spans: Vec<(Vec<u8>, i64, i64)>,
    last: usize,
}

impl FileCoverage {
    fn see(&mut self, host: &[u8], t: i64) {
        let at = match self.spans.get(self.last) {
            Some((h, ..)) if h[..] == *host => self.last,
            _ => match self.spans.iter().position(|(h, ..)| h[..] == *host) {
                Some(i) => i,
                None => {
                    self.spans.push((host.to_vec(), t, t));
                    self.spans.len() - 1
                }
            },
        };
        self.last = at;
        if let Some((_, from, to)) = self.spans.get_mut(at) {
            *from = (*from).min(t);
            *to = (*to).max(t);
        }
    }
}

impl<'a> DateStage<'a> {
    pub(super) fn new(
        inputs: &'a [Source],
        plan: Vec<ChainYear>,
        tz: jiff::tz::TimeZone,
        strict: bool,
        dated: Pool<Vec<Dated>>,
        keep_coverage: bool,
    ) -> Self {
        DateStage {
            inputs,
            summary: Summary::default(),
            resolver: YearResolver::with_tz(YearStart::FirstLineIn(1970), tz),
            file: 0,
            line_no: 0,
            warnings: 0,
            plan,
            prev_last: None,
            strict,
            unparsed: None,
            dated,
            coverage: keep_coverage.then(FileCoverage::default),
        }
    }

    /// Adds the current file's spans to the run's coverage.
    fn close_coverage(&mut self) {
        if let Some(c) = &mut self.coverage {
            for (host, from, to) in std::mem::take(&mut c.spans) {
                self.summary.coverage.add(&host, from, to);
            }
            c.last = 0;
        }
    }

    fn name(&self, file: usize) -> String {
        self.inputs
            .get(file)
            .map(Source::display)
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
        self.close_coverage();
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
    pub(super) fn handle(&mut self, work: Input<MailSteps<'_>>) -> Option<Resolved> {
        match work {
            Input::Start(file, compression) => {
                self.start(file, compression.unwrap_or("unreadable"));
            }
            Input::Item(p) => {
                let mut dated = self.dated.take();
                dated.clear();
                self.lines(&p, &mut dated);
                return Some(Resolved {
                    file: self.file,
                    parsed: p,
                    dated,
                });
            }
            Input::End(error) => {
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
        let data = p.chunk.bytes();
        for (idx, (_, line)) in p.lines.iter().enumerate() {
            self.line_no += 1;
            let stats = &mut self.summary.stats;
            stats.lines += 1;
            if let Some(fs) = stats.files.last_mut() {
                fs.lines += 1;
            }
            let Line::Known {
                stamp,
                mta,
                event,
                host,
            } = line
            else {
                stats.unknown += 1;
                continue;
            };
            let mta = *mta;
            stats.recognised += 1;
            stats.count_mta(mta);
            if matches!(event, Event::Malformed) {
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
                        let w = format!(
                            "{}:{}: bad timestamp ({e}); line skipped",
                            self.name(self.file),
                            self.line_no
                        );
                        self.summary.warnings.push(w);
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
            if let Some(c) = &mut self.coverage {
                let t = i64::try_from(ts.instant.as_nanosecond()).unwrap_or(i64::MAX);
                c.see(host.get(data), t);
            }
            // Lines that cannot make or change a record stop here.
            if matches!(event, Event::Ignored | Event::Malformed) {
                continue;
            }
            out.push(Dated {
                idx: idx as u32,
                line: self.line_no,
                ts,
            });
        }
    }

    pub(super) fn finish(mut self) -> Summary {
        self.strict_error();
        self.close_coverage();
        self.summary
    }
}

/// Merge stage: correlation, order, writing, in input order.
pub(super) struct MergeStage<'a> {
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
    pool: Pool,
    lines: Pool<Lines>,
    dated: Pool<Vec<Dated>>,
}

impl<'a> MergeStage<'a> {
    pub(super) fn new(
        inputs: &[Source],
        out: Out<'a>,
        max_age_secs: i64,
        (pool, lines, dated): (Pool, Pool<Lines>, Pool<Vec<Dated>>),
    ) -> Self {
        let renders = out.writer.renders();
        MergeStage {
            names: inputs
                .iter()
                .map(|i| i.display().into_bytes().into())
                .collect(),
            out,
            merger: Merger::with_max_age(max_age_secs),
            reorder: Reorder::new(REORDER_WINDOW_SECS),
            renders,
            line: Vec::with_capacity(1024),
            counts: Stats::default(),
            pool,
            lines,
            dated,
        }
    }

    pub(super) fn handle(&mut self, r: Resolved) -> Result<(), Error> {
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
        // Each record is counted, then rendered (line formats) or copied (the others) while
        // its line and message are at hand, and held for time order. A write error stops
        // correlation at the line that met it.
        let mut emit = |rec: &RecordRef| -> Result<(), Error> {
            if let Some(st) = rec.status {
                counts.count(st);
            }
            let held = if *renders {
                line.clear();
                out.writer.render(rec, line).map_err(|e| out.error(e))?;
                if line.is_empty() {
                    return Ok(());
                }
                Held::Line(rec.key(), line.as_slice().into())
            } else {
                Held::Record(Box::new(rec.to_owned_record()))
            };
            reorder.push(held, &mut |h| out.emit(h))
        };
        for d in &r.dated {
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
            merger.event(&ctx, event.map(&mut |s: Span| s.get(data)), &mut emit)?;
        }
        self.pool.put(r.parsed.chunk.buf);
        self.lines.put(r.parsed.lines);
        self.dated.put(r.dated);
        Ok(())
    }

    /// Writes what the reorder buffer holds and completes `summary` with the merge figures.
    pub(super) fn finish(mut self, mut summary: Summary) -> Result<Summary, Error> {
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
