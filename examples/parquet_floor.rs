//! What encoding alone costs in a Parquet run (issue #13's item 3: a partitioned dataset at 25×
//! maillogconvert.pl). A dataset the tool wrote is read back into Arrow batches of its row
//! groups, then written again on this one thread with the tool's own writer settings
//! ([`maillogconv::output::parquet::properties`]), and with its compression or its statistics
//! off. Nothing of the run before the columns (reading, parsing, merging, rendering, building the
//! columns) is in it, so no conversion that writes these files can spend less CPU than the
//! first figure. `scripts/bench-floors` runs it; docs/PERFORMANCE.md (twenty-ninth session)
//! has the figures.
//!
//! ```text
//! parquet_floor DATASET_DIR [ROUNDS]
//! ```
//!
//! Prints one line a setting: its name, the median seconds of a round (one thread, so CPU
//! seconds on an idle machine) and the bytes written.

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Counts the bytes written and keeps none.
#[derive(Default)]
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len();
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `.parquet` files under `dir`, at any depth (a partitioned dataset's).
fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    Ok(())
}

/// Each file's batches written as one file with `props`: seconds and bytes.
fn write(sets: &[Vec<RecordBatch>], props: &WriterProperties) -> anyhow::Result<(f64, usize)> {
    let start = Instant::now();
    let mut bytes = 0;
    for batches in sets {
        let Some(first) = batches.first() else {
            continue;
        };
        let mut w = ArrowWriter::try_new(Count::default(), first.schema(), Some(props.clone()))?;
        for b in batches {
            w.write(b)?;
        }
        bytes += w.into_inner()?.0;
    }
    Ok((start.elapsed().as_secs_f64(), bytes))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        anyhow::bail!("usage: parquet_floor DATASET_DIR [ROUNDS]");
    };
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let mut paths = Vec::new();
    files(&dir, &mut paths)?;
    paths.sort();
    let mut sets = Vec::new();
    let mut rows = 0;
    for p in &paths {
        let batches = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(p)?)?
            .with_batch_size(maillogconv::output::parquet::ROW_GROUP_ROWS)
            .build()?
            .collect::<Result<Vec<_>, _>>()?;
        rows += batches.iter().map(RecordBatch::num_rows).sum::<usize>();
        sets.push(batches);
    }
    println!("files {} rows {rows}", paths.len());
    let tool = maillogconv::output::parquet::properties();
    let changed = |c: Option<Compression>, s: Option<EnabledStatistics>| {
        let mut b = tool.clone().into_builder();
        if let Some(c) = c {
            b = b.set_compression(c);
        }
        if let Some(s) = s {
            b = b.set_statistics_enabled(s);
        }
        b.build()
    };
    let none = Some(EnabledStatistics::None);
    let settings = [
        ("tool", tool.clone()),
        (
            "no-compression",
            changed(Some(Compression::UNCOMPRESSED), None),
        ),
        ("no-statistics", changed(None, none)),
        ("neither", changed(Some(Compression::UNCOMPRESSED), none)),
    ];
    for (name, props) in &settings {
        let mut secs = Vec::with_capacity(rounds);
        let mut size = 0;
        for _ in 0..rounds.max(1) {
            let (s, b) = write(&sets, props)?;
            secs.push(s);
            size = b;
        }
        secs.sort_by(f64::total_cmp);
        println!("{name} {:.3} {size}", secs[secs.len() / 2]);
    }
    Ok(())
}
