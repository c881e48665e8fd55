//! The records as Arrow batches, for programs that analyse them in memory (Python, Spark,
//! Polars, DuckDB): [`read`] runs the pipeline on a thread of its own and hands out its records
//! as `RecordBatch`es, in the schema, rows and order of the Parquet writer (its row groups),
//! through an iterator that is an Arrow `RecordBatchReader`. Nothing is written to a file.
//! Memory is bounded: the pipeline waits while two batches are not taken. [`read_with_date`]
//! adds the `date` column a partitioned dataset has (each record's local date), for readers
//! that see no partitions (Spark's data source).

use crate::config::Config;
use crate::error::Error;
use crate::output::parquet::Batcher;
use crate::output::RecordWriter;
use crate::record::RecordRef;
use crate::stats::Summary;
use crate::Cancel;
use arrow_array::{Array, Date32Array, RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
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
    /// Add the `date` column.
    dated: bool,
}

/// Converts `cfg.inputs` (its output settings are not used) into Arrow batches.
pub fn read(cfg: Config) -> BatchReader {
    start(cfg, false)
}

/// As [`read`], with a last column `date` (Arrow `Date32`): the local date of `ts`, the
/// `date` partition of a dataset.
pub fn read_with_date(cfg: Config) -> BatchReader {
    start(cfg, true)
}

/// The schema of [`read_with_date`]'s batches.
pub fn schema_with_date() -> SchemaRef {
    add_date(&crate::output::parquet::schema())
}

fn add_date(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| (**f).clone()).collect();
    fields.push(Field::new("date", DataType::Date32, true));
    std::sync::Arc::new(Schema::new(fields))
}

fn start(cfg: Config, dated: bool) -> BatchReader {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let cancel = Cancel::new();
    let batcher = Batcher::default();
    let schema = if dated {
        add_date(&batcher.schema())
    } else {
        batcher.schema()
    };
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
        dated,
    }
}

/// Days since 1970-01-01 of `YYYY-MM-DD…` (the start of `ts_local`).
fn days(local: &str) -> Option<i32> {
    let n = |r: std::ops::Range<usize>| local.get(r).and_then(|s| s.parse::<i16>().ok());
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let date = jiff::civil::Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()?;
    let span = date.since(jiff::civil::date(1970, 1, 1)).ok()?;
    Some(span.get_days())
}

/// `batch` with its `date` column, from `ts_local`.
fn with_date(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let local = batch
        .column_by_name("ts_local")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| ArrowError::SchemaError("no ts_local column".into()))?;
    let dates: Date32Array = (0..local.len())
        .map(|i| (!local.is_null(i)).then(|| days(local.value(i))).flatten())
        .collect();
    let mut columns = batch.columns().to_vec();
    columns.push(std::sync::Arc::new(dates));
    RecordBatch::try_new(schema.clone(), columns)
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
                if self.dated {
                    return Some(with_date(batch, &self.schema));
                }
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
