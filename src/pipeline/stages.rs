//! The pipeline's steps for mail logs: open and read an input in line-aligned chunks, parse a
//! chunk, date its lines (years, counts) and merge them (correlation, time order, writing).
//! Built once from the options by [`super::convert`]; none of them sees `Config`.

use super::date::DateStage;
use super::pool::{Input, Steps};
use crate::cancel::Cancel;
use crate::error::Error;
use crate::input::chunk::{Chunk, Chunker, Pool};
use crate::input::decompress::{self, Compression};
use crate::input::journal;
use crate::input::Input as Source;
use crate::merge::{Ctx, Merger};
use crate::order::{Reorder, Timed};
use crate::output::RecordWriter;
use crate::parse::{parse_line_as, Line, Mta, Span};
use crate::record::{Record, RecordRef};
use crate::stats::{Stats, Summary};
use crate::time::Stamp;

/// How far (seconds of log time) records may be out of order and still be sorted.
pub(super) const REORDER_WINDOW_SECS: i64 = 300;

/// The steps, as the pool runs them.
pub(super) struct MailSteps<'a> {
    pub(super) inputs: &'a [Source],
    pub(super) chunk_size: usize,
    pub(super) mta: Option<Mta>,
    pub(super) buffers: Pool,
    pub(super) lines: Pool<Lines>,
    /// Decompressed bytes of each input an earlier run read (`--state`).
    pub(super) skips: Vec<u64>,
    /// Leave plain files' unfinished last lines for the next run (`--state`).
    pub(super) hold_tail: bool,
    /// Ends reads that wait on a stalled stream.
    pub(super) cancel: Cancel,
    /// Lines are cut at this length.
    pub(super) max_line: usize,
    /// Counters for a progress display.
    pub(super) progress: Option<std::sync::Arc<crate::progress::Progress>>,
    /// The zone journal entries' times are written in.
    pub(super) tz: jiff::tz::TimeZone,
    /// Journal entries an earlier run read (`--state`).
    pub(super) journal_after: Option<journal::Mark>,
}

impl<'a> Steps for MailSteps<'a> {
    type Source = Reading;
    type Info = Opened;
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
            Some(input) => {
                let skip = self.skips.get(source).copied().unwrap_or(0);
                let how = How {
                    chunk_size: self.chunk_size,
                    skip,
                    hold_tail: self.hold_tail,
                    max_line: self.max_line,
                    tz: self.tz.clone(),
                    journal_after: self.journal_after.clone(),
                };
                Reading::open(input, &self.buffers, how, &self.cancel)
            }
            None => Err(Error::Internal { stage: "open" }),
        }
    }

    fn info(&self, reading: &Reading) -> Opened {
        Opened {
            compression: reading
                .journal
                .as_ref()
                .map_or(reading.compression.name(), |j| j.format.name()),
            cursors: reading.journal.as_ref().map(|j| j.cursors.clone()),
            resumed: reading.resumed,
        }
    }

    fn read(&self, source: usize, reading: &mut Reading) -> Result<Option<Chunk>, Error> {
        let chunk = match self.inputs.get(source) {
            Some(input) => reading.next(input),
            None => Err(Error::Internal { stage: "read" }),
        };
        if let Some(p) = &self.progress {
            let consumed = reading.consumed.load(std::sync::atomic::Ordering::Relaxed);
            p.add_bytes(consumed.saturating_sub(reading.reported));
            reading.reported = consumed;
        }
        chunk
    }

    fn map(&self, chunk: Chunk) -> Parsed {
        let parsed = parse_chunk(chunk, self.mta, &self.lines);
        if let Some(p) = &self.progress {
            p.add_lines(parsed.lines.len() as u64);
        }
        parsed
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
    pub(super) chunk: Chunk,
    pub(super) lines: Lines,
}

/// A line correlation reads: its index in the chunk's parsed lines, its number and its time.
/// The parsed line itself stays where the parser put it (no copy of the event).
pub(super) struct Dated {
    pub(super) idx: u32,
    pub(super) line: u64,
    pub(super) ts: Stamp,
}

/// A chunk's parsed lines and the ones correlation reads, numbered and dated.
pub(super) struct Resolved {
    pub(super) file: usize,
    pub(super) parsed: Parsed,
    pub(super) dated: Vec<Dated>,
}

/// An input being read in line-aligned chunks, with what its errors need to say.
pub(crate) struct Reading {
    chunker: Chunker<Box<dyn std::io::Read + Send>>,
    pub(super) compression: Compression,
    /// Raw bytes consumed, for the offset of an error.
    consumed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Of those, how many a progress display was told of.
    reported: u64,
    /// A journal stream, read as syslog lines.
    journal: Option<journal::Journal>,
    /// It goes on after what an earlier run read (`--state`).
    pub(super) resumed: bool,
}

/// How an input is read.
pub(crate) struct How {
    pub(crate) chunk_size: usize,
    /// Decompressed bytes an earlier run read (`--state`).
    pub(crate) skip: u64,
    /// Leave a plain file's unfinished last line (`--state`).
    pub(crate) hold_tail: bool,
    pub(crate) max_line: usize,
    /// The zone journal entries' times are written in.
    pub(crate) tz: jiff::tz::TimeZone,
    /// Journal entries an earlier run read are left out.
    pub(crate) journal_after: Option<journal::Mark>,
}

/// What the dating stage is told of an input that opened.
pub(super) struct Opened {
    pub(super) compression: &'static str,
    /// A journal stream's cursors, complete when the input ends.
    pub(super) cursors: Option<journal::SharedCursors>,
    pub(super) resumed: bool,
}

impl Reading {
    /// Opens `input`, past the `skip` decompressed bytes an earlier run read (from its start
    /// again if it is shorter than that now: a new text). `hold_tail`: a plain file's last line
    /// without its line end is left for the next run.
    pub(crate) fn open(
        input: &Source,
        pool: &Pool,
        how: How,
        cancel: &Cancel,
    ) -> Result<Self, Error> {
        let How {
            chunk_size,
            skip,
            hold_tail,
            max_line,
            tz,
            journal_after,
        } = how;
        let open = || -> Result<(decompress::Opened, Option<journal::Journal>), Error> {
            let opened = decompress::open_with(input, Some(cancel))?;
            let (compression, consumed) = (opened.compression, opened.consumed.clone());
            // Looking at the data may meet a decoding error: reported as a read would.
            journal::wrap(opened, &tz, journal_after.as_ref()).map_err(|source| {
                let offset = consumed.load(std::sync::atomic::Ordering::Relaxed);
                decompress::read_error(input, compression, offset, source)
            })
        };
        let (mut opened, mut journal) = open()?;
        let mut resumed = false;
        // A journal stream with a bookmark goes on after its cursor, not after a byte count:
        // the entries before it are left out, so the bytes are no longer those of last run.
        let skip = if journal.is_some() && journal_after.is_some() {
            0
        } else {
            skip
        };
        if skip > 0 {
            let reader = &mut opened.reader;
            let skipped =
                std::io::copy(&mut std::io::Read::take(reader, skip), &mut std::io::sink())
                    .map_err(|source| {
                        let offset = opened.consumed.load(std::sync::atomic::Ordering::Relaxed);
                        decompress::read_error(input, opened.compression, offset, source)
                    })?;
            if skipped == skip {
                resumed = true;
            } else {
                (opened, journal) = open()?;
            }
        }
        let hold = hold_tail && opened.compression == Compression::Plain && journal.is_none();
        Ok(Reading {
            chunker: Chunker::with_pool(opened.reader, chunk_size, pool.clone())
                .hold_tail(hold)
                .max_line(max_line),
            compression: opened.compression,
            consumed: opened.consumed,
            reported: 0,
            journal,
            resumed,
        })
    }

    /// The next chunk, `None` at the end; an error names `input` and the offset reached.
    pub(crate) fn next(&mut self, input: &Source) -> Result<Option<Chunk>, Error> {
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
    /// `--pseudonymize`: records pass through it before they are written.
    pub(super) pseudo: Option<crate::pseudo::Pseudonymizer>,
    /// Counters for a progress display.
    pub(super) progress: Option<std::sync::Arc<crate::progress::Progress>>,
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
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) enum Held {
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

/// What the merge stage carries from one run to the next (`--state`): the open messages and
/// the records held for time order.
pub(super) type Carried = (Merger, Reorder<Held>);

/// A line's host, or `--host`'s for a line that names none (Exim's mainlog, qmail's multilog):
/// the dating stage's coverage and the merge stage's records agree on it.
pub(super) fn host_or<'a>(host: &'a [u8], default: &'a [u8]) -> &'a [u8] {
    if host.is_empty() {
        default
    } else {
        host
    }
}

/// Takes a record the merger decided: counts it, then renders it (line formats) or copies it
/// (the others) while its line and message are at hand, and holds it for time order.
fn take(
    rec: &RecordRef,
    out: &mut Out,
    reorder: &mut Reorder<Held>,
    renders: bool,
    line: &mut Vec<u8>,
    counts: &mut Stats,
) -> Result<(), Error> {
    // With `--pseudonymize`, the record written is an owned copy with pseudonyms: it is what
    // is held for time order too (not copied once more).
    let owned = out.pseudo.as_ref().map(|p| p.record(rec));
    let view = owned.as_ref().map(|o| o.view());
    let r = view.as_ref().unwrap_or(rec);
    if let Some(p) = &out.progress {
        p.add_record();
    }
    if r.is_hop() {
        counts.hops += 1;
    } else if let Some(st) = r.status {
        counts.count(st);
    }
    let held = if renders {
        line.clear();
        out.writer.render(r, line).map_err(|e| out.error(e))?;
        if line.is_empty() {
            return Ok(());
        }
        Held::Line(r.key(), line.as_slice().into())
    } else {
        Held::Record(Box::new(match owned {
            Some(o) => o,
            None => rec.to_owned_record(),
        }))
    };
    reorder.push(held, &mut |h| out.emit(h))
}

/// Merge stage: correlation, order, writing, in input order.
pub(super) struct MergeStage<'a> {
    /// Input names, for the records' `source_file`.
    names: Vec<Box<[u8]>>,
    /// Each input's host for lines that name none (`--host`, a tree's directory; else empty).
    hosts: Vec<Box<[u8]>>,
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
        carried: Option<Carried>,
    ) -> Self {
        let renders = out.writer.renders();
        let (mut merger, reorder) = carried.unwrap_or_else(|| {
            (
                Merger::with_max_age(max_age_secs),
                Reorder::new(REORDER_WINDOW_SECS),
            )
        });
        merger.set_max_age(max_age_secs);
        MergeStage {
            hosts: Vec::new(),
            names: inputs
                .iter()
                .map(|i| i.display().into_bytes().into())
                .collect(),
            out,
            merger,
            reorder,
            renders,
            line: Vec::with_capacity(1024),
            counts: Stats::default(),
            pool,
            lines,
            dated,
        }
    }

    /// Records of lines that name no host get `host` (`--host`).
    /// Each input's host for lines that name none.
    pub(super) fn with_hosts(mut self, hosts: Vec<Box<[u8]>>) -> Self {
        self.hosts = hosts;
        self
    }

    pub(super) fn handle(&mut self, r: Resolved) -> Result<(), Error> {
        let MergeStage {
            names,
            hosts,
            out,
            merger,
            reorder,
            renders,
            line,
            counts,
            ..
        } = self;
        let default_host: &[u8] = hosts.get(r.file).map_or(&[][..], |h| &h[..]);
        let source = names.get(r.file).map_or(&[][..], |n| &n[..]);
        let data = r.parsed.chunk.bytes();
        // Each record is counted, then rendered (line formats) or copied (the others) while
        // its line and message are at hand, and held for time order. A write error stops
        // correlation at the line that met it.
        let mut emit = |rec: &RecordRef| take(rec, out, reorder, *renders, line, counts);
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
                host: host_or(host.get(data), default_host),
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

    /// Completes `summary` with the merge figures. Records still held for time order are
    /// written, or with `keep` (`--state`) handed back with the open messages for the next run.
    pub(super) fn finish(
        mut self,
        mut summary: Summary,
        keep: bool,
    ) -> Result<(Summary, Option<Carried>), Error> {
        // Rejects still waiting for their sender are written as they are: the held ones are
        // not saved with the open messages.
        let MergeStage {
            out,
            merger,
            reorder,
            renders,
            line,
            counts,
            ..
        } = &mut self;
        merger.flush_pending(i64::MAX, &mut |rec| {
            take(rec, out, reorder, *renders, line, counts)
        })?;
        if !keep {
            let out = &mut self.out;
            self.reorder.finish(&mut |r| out.emit(r))?;
        }
        let stats = &mut summary.stats;
        stats.records = self.counts.records;
        stats.hops = self.counts.hops;
        stats.open_at_end = self.merger.open_messages() as u64;
        stats.evicted = self.merger.evicted();
        stats.settled_dropped = self.merger.settled_dropped();
        stats.abandoned = self.merger.abandoned();
        stats.shed = self.merger.shed();
        Ok((summary, keep.then_some((self.merger, self.reorder))))
    }
}
