//! maillogconv: turns mail server logs into one record per recipient delivery attempt.
//!
//! Data flows one way: [`input`] (find, open, decompress, cut into line-aligned chunks) →
//! [`years`] (the year of each file's BSD stamps, chosen before the run) → [`parse`] (one
//! MTA-neutral event per line, in parallel) → [`time`] (each line dated, in input order) →
//! [`merge`] (queue-ID correlation into records) → [`pseudo`] (with `--pseudonymize`) →
//! [`order`] (time order) → [`output`] (one writer per format). [`pipeline`] builds the stages from the [`config::Config`] once and
//! runs them on a pool of workers; the library prints nothing: what a run has to say comes
//! back in its [`stats::Summary`]. [`arrow::read`] hands the records to a program as Arrow
//! batches instead of writing them. `docs/ARCHITECTURE.md` follows one line through it all.

pub mod arrow;
pub mod cancel;
pub mod cli;
pub mod command;
pub mod config;
pub mod error;
pub mod files;
pub mod hash;
pub mod hosts;
pub mod input;
pub mod merge;
pub mod order;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod progress;
pub mod pseudo;
pub mod record;
pub mod search;
pub mod stats;
#[cfg(test)]
mod testing;
pub mod time;
pub mod years;

pub use cancel::Cancel;
pub use pipeline::convert;

use crate::config::Config;
use crate::stats::Summary;

/// Converts `cfg.inputs` into `cfg.output` (stdout, a file, or a partitioned dataset), going on
/// from `cfg.state` when given. Input errors are collected in the summary; an output error, a
/// cancel or an internal error ends the run, and then nothing reaches the final output path.
pub fn run(cfg: &Config, cancel: &Cancel) -> anyhow::Result<Summary> {
    pipeline::run(cfg, cancel)
}
