//! The records as Arrow batches, for programs that analyse them in memory (Python, Spark,
//! Polars, DuckDB): [`read`] runs the pipeline on a thread of its own and hands out its records
//! as `RecordBatch`es, in the schema, rows and order of the Parquet writer (its row groups),
//! through an iterator that is an Arrow `RecordBatchReader`. Nothing is written to a file.
//! Memory is bounded: the pipeline waits while two batches are not taken.

use crate::config::Config;
use crate::error::Error;
use crate::output::parquet::Batcher;
use crate::output::RecordWriter;
use crate::record::RecordRef;
use crate::stats::Summary;
use crate::Cancel;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use std::io;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Batches not yet taken before the pipeline waits.
const IN_FLIGHT: usize = 2;

/// Hands each full batch to the reader.
struct BatchSink {
    batcher: Batcher,
    tx: SyncSender<RecordBatch>,
}

impl BatchSink {
    fn send(&self, batch: Option<RecordBatch>) -> io::Result<()> {
        match batch {
            // The reader was dropped: the run stops as after a closed pipe.
            Some(b) => self
                .tx
                .send(b)
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader is gone")),
            None => Ok(()),
        }
    }
}

impl RecordWriter for BatchSink {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        let batch = self.batcher.append(r)?;
        self.send(batch)
    }

    fn finish(&mut self) -> io::Result<()> {
        let batch = self.batcher.take()?;
        self.send(batch)
    }
}

/// The records of a run, batch by batch; the run's outcome comes at the end: an input that
/// could not be read is an error naming it, after the batches of what was read.
pub struct BatchReader {
    schema: SchemaRef,
    rx: Option<Receiver<RecordBatch>>,
    run: Option<JoinHandle<Result<Summary, Error>>>,
    cancel: Cancel,
    summary: Option<Summary>,
}

/// Converts `cfg.inputs` (its output settings are not used) into Arrow batches.
pub fn read(cfg: Config) -> BatchReader {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let cancel = Cancel::new();
    let batcher = Batcher::default();
    let schema = batcher.schema();
    let token = cancel.clone();
    let run = std::thread::Builder::new()
        .name("maillogconv".into())
        .spawn(move || {
            let mut sink = BatchSink { batcher, tx };
            let summary = crate::pipeline::convert(&cfg, &mut sink, &token)?;
            sink.finish().map_err(|source| Error::Write {
                output: "the batch reader".into(),
                source,
            })?;
            Ok(summary)
        })
        .ok();
    BatchReader {
        schema,
        rx: Some(rx),
        run,
        cancel,
        summary: None,
    }
}

impl BatchReader {
    /// What the run had to say (counts, warnings), once every batch was taken.
    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_ref()
    }

    /// The run's end: its summary, or an error that names what failed.
    fn end(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        let run = self.run.take()?;
        let outcome = run
            .join()
            .unwrap_or(Err(Error::Internal { stage: "reader" }));
        match outcome {
            Ok(summary) if summary.errors.is_empty() => {
                self.summary = Some(summary);
                None
            }
            Ok(summary) => {
                let why: Vec<String> = summary
                    .errors
                    .iter()
                    .map(|e| crate::error::chain(e))
                    .collect();
                self.summary = Some(summary);
                Some(Err(ArrowError::ExternalError(why.join("; ").into())))
            }
            Err(e) => Some(Err(ArrowError::ExternalError(Box::new(e)))),
        }
    }
}

impl Iterator for BatchReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(rx) = &self.rx {
            if let Ok(batch) = rx.recv() {
                return Some(Ok(batch));
            }
            self.rx = None;
        }
        self.end()
    }
}

impl RecordBatchReader for BatchReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Drop for BatchReader {
    fn drop(&mut self) {
        // A reader dropped early stops the run: its next batch finds no one to take it.
        self.cancel.cancel();
        self.rx = None;
        if let Some(run) = self.run.take() {
            let _ = run.join();
        }
    }
}
