//! maillogconv: turns mail server logs into one record per recipient delivery attempt.
//!
//! The pipeline runs one way: [`input`] (open, decompress, line-aligned chunks) → [`parse`]
//! (parallel, zero-copy, one event per line) → [`time`] (year resolution, in log order) →
//! [`merge`] (queue-ID correlation, time order) → [`output`] (one writer per format).
//! Output bytes never depend on the thread count: chunks are merged in input order.

pub mod cli;
pub mod config;
pub mod error;
pub mod input;
pub mod merge;
pub mod output;
pub mod parse;
pub mod record;
pub mod stats;
pub mod time;

use crate::config::Config;
use crate::error::Error;
use crate::input::chunk::Chunker;
use crate::input::Input;
use crate::merge::{Ctx, Merger, Reorder};
use crate::output::{RecordWriter, Sink};
use crate::parse::{parse_line, Line, Span};
use crate::record::Record;
use crate::stats::{FileStats, Stats};
use crate::time::{YearResolver, YearStart};
use anyhow::Context as _;
use rayon::prelude::*;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::SystemTime;

/// How far (seconds of log time) records may be out of order and still be sorted.
const REORDER_WINDOW_SECS: i64 = 3600;
/// Bad-timestamp warnings printed before going quiet (all are counted in `--stats`).
const MAX_WARNINGS: u64 = 10;

/// What a run did: its figures, and the inputs that failed (the rest were converted).
#[derive(Debug, Default)]
pub struct Summary {
    pub stats: Stats,
    pub errors: Vec<Error>,
}

/// Converts `cfg.inputs` into `cfg.output`. Input errors are collected in the summary; an
/// output error ends the run, and then nothing reaches the final output path.
pub fn run(cfg: &Config) -> anyhow::Result<Summary> {
    let sink = Sink::open(cfg.output.as_deref())
        .with_context(|| format!("cannot create output next to {}", Sink::name_of(cfg)))?;
    let handle = sink
        .handle()
        .with_context(|| format!("cannot open {}", sink.name()))?;
    let mut writer = output::writer(cfg.format, handle);
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

/// Messages from the reader thread.
enum Feed {
    Start {
        file: usize,
        compression: &'static str,
        mtime: Option<SystemTime>,
    },
    Chunk(Vec<u8>),
    End(Option<Error>),
}

/// A chunk and its parsed lines (spans into the chunk).
struct Parsed {
    data: Vec<u8>,
    lines: Vec<Line<Span>>,
}

enum Work {
    Start {
        file: usize,
        compression: &'static str,
        mtime: Option<SystemTime>,
    },
    Parsed(Parsed),
    End(Option<Error>),
}

/// Runs the pipeline into `writer`. Returns an error only if the output cannot be written.
pub fn convert(cfg: &Config, writer: &mut dyn RecordWriter) -> Result<Summary, Error> {
    let threads = cfg.threads.max(1);
    let depth = threads * 2 + 2;
    std::thread::scope(|s| {
        let (feed_tx, feed_rx) = sync_channel::<Feed>(depth);
        let (work_tx, work_rx) = sync_channel::<Work>(depth);
        s.spawn(move || read_inputs(&cfg.inputs, cfg.chunk_size, feed_tx));
        let merge = s.spawn(move || merge_all(cfg, work_rx, writer));
        parse_all(feed_rx, work_tx, threads);
        merge.join().unwrap_or_else(|_| {
            Err(Error::Write {
                output: "output".to_string(),
                source: std::io::Error::other("merge thread panicked"),
            })
        })
    })
}

/// Reader thread: opens each input in turn and sends its chunks.
fn read_inputs(inputs: &[Input], chunk_size: usize, tx: SyncSender<Feed>) {
    for (file, input) in inputs.iter().enumerate() {
        let opened = match input::decompress::open(input) {
            Ok(o) => o,
            Err(e) => {
                let start = Feed::Start {
                    file,
                    compression: "unreadable",
                    mtime: None,
                };
                if tx.send(start).is_err() || tx.send(Feed::End(Some(e))).is_err() {
                    return;
                }
                continue;
            }
        };
        let start = Feed::Start {
            file,
            compression: opened.compression.name(),
            mtime: opened.mtime,
        };
        if tx.send(start).is_err() {
            return;
        }
        let consumed = std::sync::Arc::clone(&opened.consumed);
        let mut chunker = Chunker::new(opened.reader, chunk_size);
        let error = loop {
            match chunker.next_chunk() {
                Ok(Some(c)) => {
                    if tx.send(Feed::Chunk(c)).is_err() {
                        return;
                    }
                }
                Ok(None) => break None,
                Err(e) => {
                    let offset = consumed.load(std::sync::atomic::Ordering::Relaxed);
                    break Some(match opened.compression {
                        input::decompress::Compression::Plain => Error::Read {
                            input: input.display(),
                            offset,
                            source: e,
                        },
                        c => Error::Corrupt {
                            input: input.display(),
                            format: c.name(),
                            offset,
                            source: e,
                        },
                    });
                }
            }
        };
        if tx.send(Feed::End(error)).is_err() {
            return;
        }
    }
}

/// Parses one chunk: a [`Line`] per line, slices turned into spans.
fn parse_chunk(data: Vec<u8>) -> Parsed {
    let mut lines = Vec::with_capacity(data.len() / 96 + 1);
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let raw = &data[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        lines.push(parse_line(raw).map(|s| Span::of(&data, s)));
        start = end + 1;
    }
    Parsed { data, lines }
}

/// Parse stage: batches of chunks parsed in parallel, passed on in input order.
fn parse_all(rx: Receiver<Feed>, tx: SyncSender<Work>, threads: usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .ok()
        .filter(|_| threads > 1);
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(threads);
    let flush = |batch: &mut Vec<Vec<u8>>| -> bool {
        let chunks = std::mem::take(batch);
        let parsed: Vec<Parsed> = match &pool {
            Some(p) => p.install(|| chunks.into_par_iter().map(parse_chunk).collect()),
            None => chunks.into_iter().map(parse_chunk).collect(),
        };
        parsed.into_iter().all(|p| tx.send(Work::Parsed(p)).is_ok())
    };
    let mut pending = rx.recv().ok();
    while let Some(feed) = pending.take() {
        let next = match feed {
            Feed::Chunk(c) => {
                batch.push(c);
                pending = rx.recv().ok();
                // Parse when the batch is full or the next message is not a chunk.
                let full = batch.len() >= threads || !matches!(pending, Some(Feed::Chunk(_)));
                if full && !flush(&mut batch) {
                    return;
                }
                continue;
            }
            Feed::Start {
                file,
                compression,
                mtime,
            } => Work::Start {
                file,
                compression,
                mtime,
            },
            Feed::End(error) => Work::End(error),
        };
        if tx.send(next).is_err() {
            return;
        }
        pending = rx.recv().ok();
    }
    if !batch.is_empty() {
        flush(&mut batch);
    }
}

/// The local date and time of `t` in the system time zone.
fn local_datetime(t: SystemTime) -> Option<jiff::civil::DateTime> {
    let ts = jiff::Timestamp::try_from(t).ok()?;
    Some(ts.to_zoned(jiff::tz::TimeZone::system()).datetime())
}

/// Merge stage (one thread): years, correlation, order, writing.
fn merge_all(
    cfg: &Config,
    rx: Receiver<Work>,
    writer: &mut dyn RecordWriter,
) -> Result<Summary, Error> {
    let out_name = cfg
        .output
        .as_ref()
        .map_or("<stdout>".to_string(), |p| p.display().to_string());
    let mut summary = Summary::default();
    let mut merger = Merger::new();
    let mut reorder = Reorder::new(REORDER_WINDOW_SECS);
    let mut resolver = YearResolver::new(YearStart::FirstLineIn(1970));
    let mut records: Vec<Record> = Vec::new();
    let mut file = 0usize;
    let mut line_no = 0u64;
    let mut warnings = 0u64;
    let mut emit = |r: Record| -> Result<(), Error> {
        writer.write_record(&r).map_err(|source| Error::Write {
            output: out_name.clone(),
            source,
        })
    };
    for work in rx {
        let stats = &mut summary.stats;
        match work {
            Work::Start {
                file: f,
                compression,
                mtime,
            } => {
                file = f;
                line_no = 0;
                let input = cfg.inputs.get(f);
                let year_from = match (cfg.year, f) {
                    (Some(y), 0) => {
                        resolver.restart(YearStart::FirstLineIn(y));
                        format!("--year {y}")
                    }
                    (Some(_), _) => "the previous input (--year)".to_string(),
                    (None, _) => {
                        let (anchor, what) = match mtime {
                            Some(m) => (local_datetime(m), "file mtime"),
                            None => (local_datetime(SystemTime::now()), "the clock (stdin)"),
                        };
                        let anchor = anchor.unwrap_or_default();
                        resolver.restart(YearStart::NotAfter(anchor));
                        format!("{what} {anchor}")
                    }
                };
                stats.files.push(FileStats {
                    name: input.map(Input::display).unwrap_or_default(),
                    compression,
                    year_from,
                    ..FileStats::default()
                });
            }
            Work::Parsed(p) => {
                for line in &p.lines {
                    line_no += 1;
                    stats.lines += 1;
                    if let Some(fs) = stats.files.last_mut() {
                        fs.lines += 1;
                    }
                    let Line::Known {
                        stamp,
                        host,
                        mta,
                        event,
                    } = *line
                    else {
                        stats.unknown += 1;
                        continue;
                    };
                    stats.recognised += 1;
                    if matches!(event, parse::Event::Malformed) {
                        stats.malformed += 1;
                    }
                    let ts = match resolver.resolve(&stamp) {
                        Ok(ts) => ts,
                        Err(e) => {
                            stats.bad_timestamps += 1;
                            if warnings < MAX_WARNINGS {
                                let name = cfg.inputs.get(file).map(Input::display);
                                eprintln!(
                                    "maillogconv: warning: {}:{line_no}: bad timestamp ({e}); line skipped",
                                    name.unwrap_or_default()
                                );
                            }
                            warnings += 1;
                            continue;
                        }
                    };
                    if let Some(fs) = stats.files.last_mut() {
                        fs.first.get_or_insert(ts);
                        fs.last = Some(ts);
                    }
                    let ctx = Ctx {
                        file,
                        line: line_no,
                        ts,
                        host: host.get(&p.data),
                        mta,
                    };
                    merger.event(&ctx, event.map(&mut |s: Span| s.get(&p.data)), &mut records);
                    for r in records.drain(..) {
                        if let Some(st) = r.status {
                            stats.count(st);
                        }
                        reorder.push(r, &mut emit)?;
                    }
                }
            }
            Work::End(error) => {
                if let Some(e) = error {
                    if let Some(fs) = stats.files.last_mut() {
                        fs.failed = true;
                    }
                    summary.errors.push(e);
                }
            }
        }
    }
    reorder.finish(&mut emit)?;
    summary.stats.open_at_end = merger.open_messages() as u64;
    Ok(summary)
}
