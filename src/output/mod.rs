//! Output stage: writers turn records into a format, generic over `Write`. [`sink::Sink`] opens
//! the destination (atomically: temporary file, then rename); [`dataset::Partitioned`] writes a
//! Hive-partitioned Parquet dataset. One file per format.

pub mod awstats;
pub mod clf;
pub mod columns;
pub mod csv;
pub mod dataset;
pub mod jsonl;
pub mod parquet;
pub mod sink;

pub use dataset::{PartitionKey, Partitioned};
pub use sink::Sink;

use crate::record::RecordRef;
use std::io::{self, Write};

/// The last two decimal digits of `n`, from a table of the hundred pairs: the stamps the
/// writers format digit by digit have six such fields, and a division and a remainder by ten
/// each cost more (callgrind: 63 instructions an AWStats record).
pub(crate) fn two_digits(n: u32) -> [u8; 2] {
    // At most 198: in bounds.
    let i = 2 * (n % 100) as usize;
    [DIGIT_PAIRS[i], DIGIT_PAIRS[i + 1]]
}

/// `00` to `99`.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// maillogconvert.pl's line, for AWStats `LogType=M`.
    Awstats,
    /// RFC 4180 CSV with a header, every column.
    Csv,
    /// One JSON object per line, every column.
    Jsonl,
    /// NCSA Combined Log Format.
    Clf,
    /// Apache Parquet, every column, typed.
    Parquet,
}

impl Format {
    pub const ALL: &'static [Format] = &[
        Format::Awstats,
        Format::Csv,
        Format::Jsonl,
        Format::Clf,
        Format::Parquet,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Awstats => "awstats",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Clf => "clf",
            Format::Parquet => "parquet",
        }
    }

    /// One line for `--help`.
    pub fn help(self) -> &'static str {
        match self {
            Format::Awstats => "maillogconvert.pl's line for AWStats (LogType=M)",
            Format::Csv => "CSV with a header, every column",
            Format::Jsonl => "JSON Lines, every column",
            Format::Clf => "NCSA Combined Log Format",
            Format::Parquet => "Apache Parquet (with --partition-by: a Hive-partitioned directory)",
        }
    }

    /// The format an output file's extension names, if any.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext {
            "parquet" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "clf" => Some(Format::Clf),
            _ => None,
        }
    }
}

/// A record writer for one format.
/// Appends the bytes a record is written as (nothing for a record the format skips).
pub type Render = fn(&RecordRef, &mut Vec<u8>) -> io::Result<()>;

pub trait RecordWriter: Send {
    /// Writes one record (a writer may skip records its format has no place for).
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()>;
    /// For a line format, the function that renders a record to the bytes it writes, so that
    /// correlation shards render records while they are in cache, and the output holds ~100
    /// bytes of line while it waits for time order instead of the record (~1 KB). Parquet's
    /// renders a row of column values for its writer to append. CSV (whose writer keeps its
    /// own state) writes records.
    fn renderer(&self) -> Option<Render> {
        None
    }
    /// Whether the format reads the columns the line formats do not: the relay's host, IP and
    /// port (`relay_host`, …), Postfix's `delays`, and `message_id`, `helo`, `proto` and
    /// `sasl_username`. Those that write the relay only as logged say no, and the merge step
    /// then leaves the relay unsplit, the delays unread and the others empty.
    fn details(&self) -> bool {
        true
    }
    /// Whether the format reads a delivery's SMTP reply code, and its DSN where the line logs
    /// none but the reply has one (both read from the reply's text). Those that say no get
    /// deliveries with no `smtp_code`, and the logged `dsn` where there is one.
    fn reply_codes(&self) -> bool {
        true
    }
    /// Whether rendered records are a stream of bytes that [`RecordWriter::write_rendered`]
    /// takes several at a time (the line formats); Parquet's rows are read one a call.
    fn rendered_stream(&self) -> bool {
        false
    }
    /// Writes bytes made by the [`RecordWriter::renderer`].
    fn write_rendered(&mut self, _bytes: &[u8]) -> io::Result<()> {
        Err(io::Error::other(
            "this format writes records, not rendered lines",
        ))
    }
    /// Flushes what is buffered; the destination is committed by the [`Sink`].
    fn finish(&mut self) -> io::Result<()>;
}

/// Makes the writer for `format` over `out`; everything runs on the calling thread.
pub fn writer(format: Format, out: Box<dyn Write + Send>) -> Box<dyn RecordWriter> {
    writer_with(format, out, 1, false)
}

/// As [`writer`] for a run of `threads` threads: with more than one, Parquet row groups are
/// encoded and compressed by threads of their own ([`parquet::Encoders`]); `continuing`: the
/// output already holds records (`--append`), so CSV writes no header.
pub fn writer_with(
    format: Format,
    out: Box<dyn Write + Send>,
    threads: usize,
    continuing: bool,
) -> Box<dyn RecordWriter> {
    match format {
        Format::Awstats => Box::new(awstats::Awstats::new(out)),
        Format::Csv if continuing => Box::new(csv::Csv::continuing(out)),
        Format::Csv => Box::new(csv::Csv::new(out)),
        Format::Jsonl => Box::new(jsonl::Jsonl::new(out)),
        Format::Clf => Box::new(clf::Clf::new(out)),
        Format::Parquet => match parquet::Encoders::for_threads(threads)
            .and_then(|e| parquet::ParquetFile::with_encoders(out, e))
        {
            Ok(p) => Box::new(p),
            Err(e) => Box::new(Failed(Some(e))),
        },
    }
}

/// A writer that could not be created: its first write reports why.
struct Failed(Option<io::Error>);

impl RecordWriter for Failed {
    fn write_record(&mut self, _: &RecordRef) -> io::Result<()> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("writer failed")))
    }
    fn finish(&mut self) -> io::Result<()> {
        self.write_record(&RecordRef::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Status;
    use crate::time::Stamp;

    /// A shared buffer, to read back what a writer wrote.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn records() -> Vec<RecordRef<'static>> {
        let ts = Some(Stamp::utc(jiff::civil::date(2026, 11, 20).at(7, 44, 21, 0)));
        let b = |s: &'static str| s.as_bytes();
        let sent = RecordRef {
            ts,
            status: Some(Status::Sent),
            sender: Some(b("a b@example.com")),
            recipient: b("\"x,y\"@example.org"),
            client_host: b("mail.example.com"),
            client_ip: b("192.0.2.1"),
            relay: b("mx.example.org[198.51.100.7]:25"),
            size: Some(800),
            queue_id: b("C7640280020"),
            ..RecordRef::default()
        };
        vec![
            sent.clone(),
            // Skipped by AWStats (deferred), written by the others.
            RecordRef {
                status: Some(Status::Deferred),
                ..sent.clone()
            },
            RecordRef {
                status: Some(Status::Rejected),
                sender: None,
                smtp_code: Some(554),
                reply: b("Relay access denied <u@example.net>"),
                ..sent.clone()
            },
            // No time: skipped by AWStats and CLF.
            RecordRef { ts: None, ..sent },
            RecordRef::default(),
        ]
    }

    /// The merge stage holds rendered lines for line formats: they must be the bytes the
    /// writer writes for the record itself.
    #[test]
    fn rendered_lines_are_the_written_bytes() -> io::Result<()> {
        let bytes = |s: &Shared| -> io::Result<Vec<u8>> {
            Ok(s.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .clone())
        };
        for format in [Format::Awstats, Format::Jsonl, Format::Clf, Format::Parquet] {
            let (direct, rendered) = (Shared::default(), Shared::default());
            let mut a = writer(format, Box::new(direct.clone()));
            let mut b = writer(format, Box::new(rendered.clone()));
            let render = a
                .renderer()
                .ok_or_else(|| io::Error::other("no renderer"))?;
            let mut line = Vec::new();
            // A Parquet `ts` is never null: the merge step gives every record a time.
            let timed = |r: &RecordRef| format != Format::Parquet || r.ts.is_some();
            for r in records().into_iter().filter(timed) {
                a.write_record(&r)?;
                line.clear();
                render(&r, &mut line)?;
                b.write_rendered(&line)?;
            }
            a.finish()?;
            b.finish()?;
            let (direct, rendered) = (bytes(&direct)?, bytes(&rendered)?);
            assert!(direct.len() > 100, "{format:?}");
            assert_eq!(direct, rendered, "{format:?}");
        }
        assert!(writer(Format::Csv, Box::new(Shared::default()))
            .renderer()
            .is_none());
        Ok(())
    }
}
