//! The pipeline's steps for mail logs: open and read an input in line-aligned chunks, parse a
//! chunk, date its lines (years, counts), route them to correlation shards, merge them in the
//! shards, and write the records in time order ([`super::merging`]). Built once from the
//! options by [`super::convert`]; none of them sees `Config`.

use super::chunk_lines::{self, ChunkLines};
use super::date::DateStage;
use super::merging::{Group, Part, RouteStage, Task, Work, WriteStage};
use super::pool::{Input, Steps};
use crate::cancel::Cancel;
use crate::error::Error;
use crate::input::chunk::{Chunk, Chunker, Pool};
use crate::input::decompress::{self, Compression};
use crate::input::journal;
use crate::input::Input as Source;
use crate::merge::route::{self, Route};
use crate::parse::{parse_line_as_with, syslog, Event, Line, Mta, Span};
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
    pub(super) routes: Pool<Vec<Route>>,
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
    /// Input names, for the records' `source_file`.
    pub(super) names: Vec<Box<[u8]>>,
    /// Each input's host for lines that name none (`--host`, a tree's directory; else empty).
    pub(super) hosts: Vec<Box<[u8]>>,
    /// Mark the lines whose host is the line before's ([`Mark::HOST`]): the run keeps each
    /// host's coverage.
    pub(super) mark_hosts: bool,
}

impl<'a> Steps for MailSteps<'a> {
    type Source = Reading;
    type Info = Opened;
    /// The chunk and its input.
    type Raw = (usize, Chunk);
    type Item = Parsed;
    type Marked = Resolved;
    type First = DateStage<'a>;
    type Split = RouteStage;
    type Group = Group;
    type Task = Task;
    type Part = Part;
    type Joint = std::sync::Arc<Work>;
    type Second = WriteStage<'a>;
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

    fn read(&self, source: usize, reading: &mut Reading) -> Result<Option<(usize, Chunk)>, Error> {
        let chunk = match self.inputs.get(source) {
            Some(input) => reading.next(input).map(|c| c.map(|c| (source, c))),
            None => Err(Error::Internal { stage: "read" }),
        };
        if let Some(p) = &self.progress {
            let consumed = reading.consumed.load(std::sync::atomic::Ordering::Relaxed);
            p.add_bytes(consumed.saturating_sub(reading.reported));
            reading.reported = consumed;
        }
        chunk
    }

    fn map(&self, (source, chunk): (usize, Chunk)) -> Parsed {
        let default_host = self.hosts.get(source).map_or(&[][..], |h| &h[..]);
        let parsed = parse_chunk(
            chunk,
            (self.mta, self.mark_hosts),
            default_host,
            (&self.lines, &self.routes),
        );
        if let Some(p) = &self.progress {
            p.add_lines(parsed.lines.lines().len() as u64);
        }
        parsed
    }

    fn first(&self, stage: &mut DateStage<'a>, input: Input<Self>) -> Option<Resolved> {
        stage.handle(input)
    }

    fn split(
        &self,
        stage: &mut RouteStage,
        groups: &mut [Group],
        r: Resolved,
    ) -> (Vec<Task>, std::sync::Arc<Work>) {
        stage.split(&self.hosts, groups, r)
    }

    fn task(&self, group: &mut Group, task: Task) -> Part {
        group.run(&self.names, &self.hosts, task)
    }

    fn second(
        &self,
        stage: &mut WriteStage<'a>,
        work: std::sync::Arc<Work>,
        parts: Vec<Part>,
    ) -> Result<(), Error> {
        stage.write(work, parts)
    }
}

/// A vector for a chunk's parsed lines, kept between chunks.
pub(super) type Lines = chunk_lines::Spare;

/// A chunk and its parsed lines (slices of the chunk).
pub(super) struct Parsed {
    pub(super) lines: ChunkLines,
    /// Each line's route (the correlation keys it names), apart: the router reads only these.
    pub(super) routes: Vec<Route>,
    /// The lines whose route ties two keys (their indices, in order): the serial router visits
    /// only these to group tied keys, not every line of the chunk.
    pub(super) tied: Vec<u32>,
    /// What its lines are, counted here in parallel rather than by the serial dating step.
    pub(super) counts: Counts,
}

/// A parsed line's marks, for the serial dating step: bits of its route's `mark`. It reads
/// these, and a parsed line only for a stamp not the same as its known line before's.
pub(super) struct Mark;

impl Mark {
    /// Of a known mail server.
    pub(super) const KNOWN: u8 = 1;
    /// Its event is `Malformed`.
    pub(super) const MALFORMED: u8 = 2;
    /// Its event may make or change a record (not `Ignored` or `Malformed`).
    pub(super) const READ: u8 = 4;
    /// Its stamp is the same ([`crate::time::RawStamp::same`]) as the chunk's known line
    /// before's (BSD stamps only: a line with another form is not marked).
    pub(super) const SAME: u8 = 8;
    /// Its host is the chunk's known line before's (marked only in runs that keep each
    /// host's coverage: a line of the same second and host adds nothing to it).
    pub(super) const HOST: u8 = 16;
}

/// A chunk's lines: all, those of a known mail server (by MTA), and of those the malformed.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counts {
    pub(super) lines: u64,
    pub(super) recognised: u64,
    pub(super) malformed: u64,
    pub(super) by_mta: [u64; Mta::ALL.len()],
}

/// A line correlation reads: its index in the chunk's parsed lines, its time's index in the
/// chunk's stamps, and that time in seconds. The parsed line stays where the parser put it
/// (no copy of the event), a stamp is stored once for the lines of its second and a line's
/// number is the chunk's first plus its index: 16 bytes a line, written by the serial dating
/// step (56 with the number and the stamp in each; 8 a line fewer instructions in that step).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Dated {
    pub(super) idx: u32,
    pub(super) stamp: u32,
    /// The time in seconds, which the routing step reads of every line: kept here, not read
    /// through the stamps' table, so that the serial step loads it with the line (2 instructions
    /// a line fewer, callgrind).
    pub(super) now: i64,
}

/// A chunk's parsed lines and the ones correlation reads, numbered and dated.
pub(super) struct Resolved {
    pub(super) file: usize,
    pub(super) parsed: Parsed,
    pub(super) dated: Vec<Dated>,
    /// The dated lines' times, each once.
    pub(super) stamps: Vec<Stamp>,
    /// The number in its file of the chunk's first line.
    pub(super) first_line: u64,
}

impl Resolved {
    /// The number of a dated line in its file.
    pub(super) fn line(&self, d: Dated) -> u64 {
        self.first_line + u64::from(d.idx)
    }
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
        let plain = opened.compression == Compression::Plain && journal.is_none();
        let hold = hold_tail && plain;
        // What a plain file has left after the bytes skipped (a resumed run's).
        let skipped = if resumed { skip } else { 0 };
        let left = opened
            .len
            .filter(|_| plain)
            .map(|n| n.saturating_sub(skipped));
        Ok(Reading {
            chunker: Chunker::with_pool(opened.reader, chunk_size, pool.clone())
                .hold_tail(hold)
                .max_line(max_line)
                .expect_len(left),
            compression: opened.compression,
            consumed: opened.consumed,
            reported: 0,
            journal,
            resumed,
        })
    }

    /// The next chunk, `None` at the end; an error names `input` and the offset reached.
    #[inline(never)]
    pub(crate) fn next(&mut self, input: &Source) -> Result<Option<Chunk>, Error> {
        self.chunker.next_chunk().map_err(|source| {
            let offset = self.consumed.load(std::sync::atomic::Ordering::Relaxed);
            decompress::read_error(input, self.compression, offset, source)
        })
    }
}

/// Parses one chunk: a [`Line`] per line, its slices left in the chunk, and its route (keys
/// hashed here, in parallel, for the serial router). Lines that name no host are
/// `default_host`'s.
#[inline(never)]
pub(super) fn parse_chunk(
    chunk: Chunk,
    (mta, mark_hosts): (Option<Mta>, bool),
    default_host: &[u8],
    pools: (&Pool<Lines>, &Pool<Vec<Route>>),
) -> Parsed {
    // One loop for each: a host compared on every line only where it is marked (in one loop
    // with a flag, the runs that do not mark hosts took 18 instructions a line more;
    // callgrind).
    if mark_hosts {
        parse_chunk_as::<true>(chunk, mta, default_host, pools)
    } else {
        parse_chunk_as::<false>(chunk, mta, default_host, pools)
    }
}

fn parse_chunk_as<const MARK_HOSTS: bool>(
    chunk: Chunk,
    mta: Option<Mta>,
    default_host: &[u8],
    (pool, routes_pool): (&Pool<Lines>, &Pool<Vec<Route>>),
) -> Parsed {
    let mut routes = routes_pool.take();
    routes.clear();
    let mut tied = Vec::new();
    let mut counts = Counts::default();
    let lines = ChunkLines::parse(chunk, pool.take(), |data, lines| {
        // The BSD stamp of the known line before, as a word, and its host.
        let mut prev = None;
        let mut prev_host: Option<&[u8]> = None;
        // The stamp of the lines of one second, read once.
        let mut stamps = syslog::Stamps::default();
        let mut start = 0;
        // Each line's end by the inlined SSE2 search from its start. One `memchr_iter` over
        // the chunk (AVX2 through a function pointer, set up once) was cheaper before the
        // stamps were kept above; with them it costs 3.1 M instructions more on 30 MB of the
        // Postfix log and 1.06x the `-j1` time (callgrind; docs/experiments/placement.py ab,
        // 13 rounds).
        while start < data.len() {
            let end = crate::search::byte(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            let raw = &data[start..end];
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = parse_line_as_with(raw, mta, &mut stamps);
            counts.lines += 1;
            let r = match &line {
                Line::Known {
                    host,
                    mta,
                    event,
                    stamp,
                } => {
                    let malformed = matches!(event, Event::Malformed);
                    let read = !malformed && !matches!(event, Event::Ignored);
                    let word = stamp.bsd_word();
                    let same = word.is_some() && word == prev;
                    prev = word;
                    let mut same_host = false;
                    if MARK_HOSTS {
                        same_host = prev_host.is_some_and(|h| crate::search::same(h, host));
                        prev_host = Some(host);
                    }
                    let mark = Mark::KNOWN
                        | if malformed { Mark::MALFORMED } else { 0 }
                        | if read { Mark::READ } else { 0 }
                        | if same { Mark::SAME } else { 0 }
                        | if same_host { Mark::HOST } else { 0 };
                    counts.recognised += 1;
                    counts.malformed += u64::from(malformed);
                    if let Some(n) = counts.by_mta.get_mut(*mta as usize) {
                        *n += 1;
                    }
                    let mut r = route::route(super::merging::host_or(host, default_host), event);
                    r.mark = mark;
                    r
                }
                Line::Unknown => Route::default(),
            };
            if r.tie != 0 {
                tied.push(routes.len() as u32);
            }
            routes.push(r);
            lines.push((Span::of(data, raw), line));
            start = end + 1;
        }
    });
    Parsed {
        lines,
        routes,
        tied,
        counts,
    }
}
