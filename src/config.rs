//! The plain run configuration, built from the command line in `cli.rs` (or by a library
//! caller) out of the stages' own vocabulary types. Only `lib.rs` and `pipeline/` read it: the
//! pipeline builds each stage from it once.

pub use crate::output::{Format, PartitionKey};
pub use crate::record::Mta;

use crate::input::Input;
use std::path::PathBuf;

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Inputs as given: files, directories, glob patterns, stdin. Discovery orders rotated
    /// sets oldest first; state (open messages, year) carries from one file to the next.
    pub inputs: Vec<Input>,
    /// Output format.
    pub format: Format,
    /// Output file (written to a temporary file, renamed into place on success); stdout if none.
    pub output: Option<PathBuf>,
    /// Year of the first line of the first input; `None` infers it from each file's end time.
    pub year: Option<i16>,
    /// Workers (1: every step on the calling thread); no more than the machine's cores run.
    pub threads: usize,
    /// Groups the correlation shards are run in (default: one per worker). The output never
    /// depends on it; tests set it to run more groups than the machine has cores.
    pub groups: Option<usize>,
    /// Whether two workers keep an end of the pipeline each (default: when their CPUs are far
    /// apart, measured at the start). The output never depends on it; tests set it.
    pub ends: Option<bool>,
    /// Print a summary on stderr.
    pub stats: bool,
    /// Chunk size in bytes for parallel parsing (tests use small chunks).
    pub chunk_size: usize,
    /// Time zone of stamps without an offset (`--tz`; default the system zone).
    pub tz: jiff::tz::TimeZone,
    /// Read every line as this MTA's (`--mta`); `None` recognises the MTA per line.
    pub mta: Option<Mta>,
    /// Messages with no line for this long (log time, seconds) are dropped from memory.
    pub max_age_secs: i64,
    /// Unparseable lines of a recognised MTA fail the run (exit 1) instead of being counted.
    pub strict: bool,
    /// Hive partition keys: `output` is then a directory (Parquet only).
    pub partition_by: Vec<PartitionKey>,
    /// Where what was read is remembered between runs (`--state`): each line converted once.
    pub state: Option<PathBuf>,
    /// Add to `output` instead of replacing it (line formats).
    pub append: bool,
    /// Lines of a recognised MTA that gave no record are written here (`--unparsed`).
    pub unparsed: Option<PathBuf>,
    /// With `unparsed`: lines of no recognised MTA too.
    pub unparsed_all: bool,
    /// The host of lines that name none (Exim's mainlog, qmail's multilog): `--host`.
    pub host: Option<String>,
    /// Only this host's lines are read (`--only-host`): one host of a central log.
    pub only_host: Option<String>,
    /// Counters a progress display reads (`--progress`).
    pub progress: Option<std::sync::Arc<crate::progress::Progress>>,
    /// Addresses (and with its option client IPs) replaced by keyed pseudonyms.
    pub pseudonymize: Option<crate::pseudo::Pseudonymizer>,
    /// Lines longer than this are cut to it (memory stays bounded).
    pub max_line_length: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            inputs: vec![Input::Stdin],
            format: Format::Awstats,
            output: None,
            year: None,
            threads: 1,
            groups: None,
            ends: None,
            stats: false,
            chunk_size: crate::input::chunk::CHUNK_SIZE,
            tz: jiff::tz::TimeZone::system(),
            partition_by: Vec::new(),
            max_age_secs: crate::merge::DEFAULT_MAX_AGE_SECS,
            mta: None,
            strict: false,
            state: None,
            append: false,
            unparsed: None,
            unparsed_all: false,
            pseudonymize: None,
            progress: None,
            host: None,
            only_host: None,
            max_line_length: crate::input::chunk::MAX_LINE,
        }
    }
}
