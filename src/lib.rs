//! maillogconv: turns mail server logs into one record per recipient delivery attempt.
//!
//! Data flows one way: [`input`] (find, open, decompress, cut into line-aligned chunks) →
//! [`years`] (the year of each file's BSD stamps, chosen before the run) → [`parse`] (one
//! MTA-neutral event per line, in parallel) → [`time`] (each line dated, in input order) →
//! [`merge`] (queue-ID correlation into records) → [`order`] (time order) → [`output`] (one
//! writer per format). [`pipeline`] builds the stages from the [`config::Config`] once and
//! runs them on a pool of workers; the library prints nothing: what a run has to say comes
//! back in its [`stats::Summary`]. `docs/ARCHITECTURE.md` follows one line through it all.

pub mod cancel;
pub mod cli;
pub mod config;
pub mod error;
pub mod input;
pub mod merge;
pub mod order;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod record;
pub mod stats;
pub mod time;
pub mod years;

pub use cancel::Cancel;
pub use pipeline::convert;

use crate::config::Config;
use crate::error::Error;
use crate::output::{Partitioned, RecordWriter, Sink};
use crate::stats::Summary;
use anyhow::Context as _;

/// Converts `cfg.inputs` into `cfg.output` (stdout, a file, or a partitioned dataset). Input
/// errors are collected in the summary; an output error, a cancel or an internal error ends the
/// run, and then nothing reaches the final output path.
pub fn run(cfg: &Config, cancel: &Cancel) -> anyhow::Result<Summary> {
    let write_err = |output: String| move |source| Error::Write { output, source };
    if let (false, Some(dir)) = (cfg.partition_by.is_empty(), cfg.output.as_ref()) {
        let mut dataset = Partitioned::create(dir, cfg.partition_by.clone())
            .with_context(|| format!("cannot open the dataset {}", dir.display()))?
            .encode_apart(cfg.threads > 1);
        let mut summary = convert(cfg, &mut dataset, cancel)?;
        let name = dir.display().to_string();
        dataset.finish().map_err(write_err(name.clone()))?;
        summary.stats.already_in_dataset = dataset.skipped();
        // A failed input: nothing is committed, and the next run starts from the same point.
        if summary.errors.is_empty() {
            dataset
                .commit(&summary.coverage, None)
                .map_err(write_err(name))?;
        } else {
            summary.warnings.push(format!(
                "{name}: nothing was added to the dataset, because an input failed"
            ));
        }
        return Ok(summary);
    }
    let shown = cfg
        .output
        .as_ref()
        .map_or("<stdout>".to_string(), |p| p.display().to_string());
    let sink = Sink::open(cfg.output.as_deref())
        .with_context(|| format!("cannot create output next to {shown}"))?;
    let handle = sink
        .handle()
        .with_context(|| format!("cannot open {}", sink.name()))?;
    let mut writer = output::writer_with(cfg.format, handle, cfg.threads > 1);
    let summary = convert(cfg, writer.as_mut(), cancel)?;
    writer.finish().map_err(write_err(sink.name()))?;
    drop(writer);
    let name = sink.name();
    sink.commit().map_err(write_err(name))?;
    Ok(summary)
}
