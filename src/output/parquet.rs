//! Parquet: one row per record, typed (`ts`/`received_ts` as `Timestamp(Microsecond, "UTC")`,
//! never INT96), low-cardinality text dictionary-encoded, ZSTD (level 1), page statistics,
//! rows in `ts` order inside each row group (declared as the sorting column). Memory is bounded
//! by two row groups per open file: the builders, and the one being encoded.

use super::columns::{local_text, value, Kind, Value, COLUMNS};
use super::RecordWriter;
use crate::record::RecordRef;
use arrow_array::builder::{
    Float64Builder, Int32Builder, Int64Builder, PrimitiveBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Rows per row group: the unit of memory (column builders) and of sorting. Two are in memory
/// at once with a separate encoder (README: Parquet).
pub const ROW_GROUP_ROWS: usize = 32_768;

/// The Arrow schema of the columns.
pub fn schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|c| {
            let t = match c.kind {
                Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                Kind::Text { .. } => DataType::Utf8,
                Kind::Int32 => DataType::Int32,
                Kind::Int64 => DataType::Int64,
                Kind::Float64 => DataType::Float64,
            };
            Field::new(c.name, t, c.nullable)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn properties() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .set_dictionary_enabled(false);
    for c in COLUMNS {
        if c.kind == (Kind::Text { dict: true }) {
            b = b.set_column_dictionary_enabled(ColumnPath::from(c.name), true);
        }
    }
    b.build()
}

enum Builder {
    Ts(TimestampMicrosecondBuilder),
    Text(StringBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::Timestamp => Builder::Ts(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            Kind::Text { .. } => Builder::Text(StringBuilder::new()),
            Kind::Int32 => Builder::I32(Int32Builder::new()),
            Kind::Int64 => Builder::I64(Int64Builder::new()),
            Kind::Float64 => Builder::F64(Float64Builder::new()),
        }
    }

    fn append(&mut self, v: Value) {
        match (self, v) {
            (Builder::Ts(b), Value::Micros(m)) => b.append_value(m),
            // Arrow text is UTF-8: other bytes become U+FFFD, visibly.
            (Builder::Text(b), Value::Text(t)) => b.append_value(super::columns::utf8(t)),
            (Builder::Text(b), Value::Lower(t)) => b.append_value(super::columns::lower(t)),
            (Builder::I32(b), Value::Int(i)) => b.append_option(i32::try_from(i).ok()),
            (Builder::I64(b), Value::Int(i)) => b.append_value(i),
            (Builder::F64(b), Value::Float(f)) => b.append_value(f),
            (Builder::Ts(b), _) => b.append_null(),
            (Builder::Text(b), _) => b.append_null(),
            (Builder::I32(b), _) => b.append_null(),
            (Builder::I64(b), _) => b.append_null(),
            (Builder::F64(b), _) => b.append_null(),
        }
    }

    /// The column so far; the builder starts over with room for as many values (row groups
    /// are alike: growing from empty again would reallocate and copy each buffer ~20 times).
    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Ts(b) => restart(b),
            Builder::Text(b) => {
                let a = b.finish();
                *b = StringBuilder::with_capacity(a.len(), a.values().len());
                Arc::new(a)
            }
            Builder::I32(b) => restart(b),
            Builder::I64(b) => restart(b),
            Builder::F64(b) => restart(b),
        }
    }
}

/// [`Builder::finish`] for a primitive column: its data type (the time zone of `ts`) is kept.
fn restart<T: ArrowPrimitiveType>(b: &mut PrimitiveBuilder<T>) -> ArrayRef {
    let a = b.finish();
    *b = PrimitiveBuilder::with_capacity(a.len()).with_data_type(a.data_type().clone());
    Arc::new(a)
}

fn to_io(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Where finished row groups are encoded and compressed: on the calling thread, or on a
/// thread of the file's own, so that the merge step only fills the builders. Row groups are
/// handed over one at a time (a rendezvous channel) and written in order: the same bytes
/// either way.
enum Encoder<W: Write + Send + 'static> {
    Inline(Option<Box<ArrowWriter<W>>>),
    Apart {
        tx: Option<SyncSender<RecordBatch>>,
        worker: Option<JoinHandle<parquet::errors::Result<ArrowWriter<W>>>>,
    },
}

impl<W: Write + Send + 'static> Encoder<W> {
    fn new(writer: ArrowWriter<W>, apart: bool) -> io::Result<Self> {
        if !apart {
            return Ok(Encoder::Inline(Some(Box::new(writer))));
        }
        let (tx, rx) = sync_channel::<RecordBatch>(0);
        let worker = std::thread::Builder::new()
            .name("mlc-parquet".to_string())
            .spawn(move || {
                let mut writer = writer;
                for batch in rx {
                    writer.write(&batch)?;
                    writer.flush()?;
                }
                Ok(writer)
            })?;
        Ok(Encoder::Apart {
            tx: Some(tx),
            worker: Some(worker),
        })
    }

    /// Ends the worker, if any, and returns its error.
    fn join(
        worker: &mut Option<JoinHandle<parquet::errors::Result<ArrowWriter<W>>>>,
    ) -> io::Result<ArrowWriter<W>> {
        match worker.take().map(JoinHandle::join) {
            Some(Ok(Ok(w))) => Ok(w),
            Some(Ok(Err(e))) => Err(to_io(e)),
            Some(Err(_)) => Err(io::Error::other("Parquet encoder thread panicked")),
            None => Err(io::Error::other("Parquet file already closed")),
        }
    }

    fn write(&mut self, batch: RecordBatch) -> io::Result<()> {
        match self {
            Encoder::Inline(Some(w)) => {
                w.write(&batch).map_err(to_io)?;
                w.flush().map_err(to_io)
            }
            Encoder::Inline(None) => Err(io::Error::other("Parquet file already closed")),
            Encoder::Apart { tx, worker } => {
                let sent = tx.as_ref().is_some_and(|t| t.send(batch).is_ok());
                if sent {
                    return Ok(());
                }
                // The worker stopped: its error says why.
                tx.take();
                Self::join(worker).and_then(|_| Err(io::Error::other("Parquet encoder stopped")))
            }
        }
    }

    /// The writer back, every row group written.
    fn take(&mut self) -> io::Result<Option<ArrowWriter<W>>> {
        match self {
            Encoder::Inline(w) => Ok(w.take().map(|w| *w)),
            Encoder::Apart { tx, worker } => {
                if worker.is_none() {
                    return Ok(None);
                }
                tx.take();
                Self::join(worker).map(Some)
            }
        }
    }
}

impl<W: Write + Send + 'static> Drop for Encoder<W> {
    fn drop(&mut self) {
        // No encoder outlives its file (a run that failed elsewhere, or was interrupted).
        if let Encoder::Apart { tx, worker } = self {
            tx.take();
            if let Some(h) = worker.take() {
                let _ = h.join();
            }
        }
    }
}

/// `batch` with its rows in `ts` order (the first column), ties in the order they came.
fn sorted_by_ts(batch: &RecordBatch) -> io::Result<RecordBatch> {
    let ts = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
        .ok_or_else(|| io::Error::other("the ts column is not a timestamp"))?;
    let key = |i: u32| ts.is_valid(i as usize).then(|| ts.value(i as usize));
    let mut order: Vec<u32> = (0..u32::try_from(batch.num_rows()).map_err(to_io)?).collect();
    order.sort_by_key(|&i| key(i));
    let order = arrow_array::UInt32Array::from(order);
    arrow_select::take::take_record_batch(batch, &order).map_err(to_io)
}

/// Records gathered into Arrow batches of at most [`ROW_GROUP_ROWS`] rows in the columns'
/// schema, each in `ts` order: the row groups of a Parquet file, or the batches of
/// [`crate::arrow`]'s reader.
pub struct Batcher {
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    last_ts: i64,
    /// The batch's rows came in `ts` order (else they are sorted when it is taken).
    in_order: bool,
    /// The last `ts_local` text and the wall time and offset it is for: records come in time
    /// order, many in the same second, and formatting it was ~5% of the merge step.
    local: Option<(jiff::civil::DateTime, i32, String)>,
}

impl Default for Batcher {
    fn default() -> Self {
        Batcher {
            schema: schema(),
            builders: COLUMNS.iter().map(|c| Builder::new(c.kind)).collect(),
            rows: 0,
            last_ts: i64::MIN,
            in_order: true,
            local: None,
        }
    }
}

impl Batcher {
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Adds `r`; returns the batch it filled, if any.
    pub fn append(&mut self, r: &RecordRef) -> io::Result<Option<RecordBatch>> {
        let full = if self.rows >= ROW_GROUP_ROWS {
            self.take()?
        } else {
            None
        };
        let ts = match value(r, 0) {
            Value::Micros(m) => m,
            _ => 0,
        };
        // A step back in time (hosts whose clocks disagree on one central log) is sorted
        // when the batch is taken: batches stay full, and each is in ts order.
        self.in_order &= ts >= self.last_ts;
        self.last_ts = ts;
        if let Some(s) = &r.ts {
            if !matches!(&self.local, Some((t, o, _)) if *t == s.local && *o == s.offset) {
                self.local = Some((s.local, s.offset, local_text(s)));
            }
        }
        for (i, b) in self.builders.iter_mut().enumerate() {
            if i == 1 {
                match (&r.ts, &self.local) {
                    (Some(_), Some((_, _, text))) => b.append(Value::Text(text.as_bytes())),
                    _ => b.append(Value::Null),
                }
            } else {
                b.append(value(r, i));
            }
        }
        self.rows += 1;
        Ok(full)
    }

    /// The rows gathered so far as a batch in `ts` order, if there are any.
    pub fn take(&mut self) -> io::Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let mut batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(to_io)?;
        if !self.in_order {
            batch = sorted_by_ts(&batch)?;
        }
        self.rows = 0;
        self.last_ts = i64::MIN;
        self.in_order = true;
        Ok(Some(batch))
    }
}

/// One Parquet file being written: a row group of builders in front of an `ArrowWriter`.
pub struct ParquetFile<W: Write + Send + 'static> {
    encoder: Encoder<W>,
    batcher: Batcher,
}

impl<W: Write + Send + 'static> ParquetFile<W> {
    /// A file whose row groups are encoded on the calling thread.
    pub fn new(out: W) -> io::Result<Self> {
        Self::with_encoder(out, false)
    }

    /// `apart`: row groups are encoded and compressed on a thread of their own.
    pub fn with_encoder(out: W, apart: bool) -> io::Result<Self> {
        let batcher = Batcher::default();
        let writer =
            ArrowWriter::try_new(out, batcher.schema(), Some(properties())).map_err(to_io)?;
        Ok(ParquetFile {
            encoder: Encoder::new(writer, apart)?,
            batcher,
        })
    }

    pub(crate) fn append(&mut self, r: &RecordRef) -> io::Result<()> {
        match self.batcher.append(r)? {
            Some(batch) => self.encoder.write(batch),
            None => Ok(()),
        }
    }

    fn flush_group(&mut self) -> io::Result<()> {
        match self.batcher.take()? {
            Some(batch) => self.encoder.write(batch),
            None => Ok(()),
        }
    }

    /// Writes the last row group and the footer, and flushes the writer underneath.
    pub fn close(&mut self) -> io::Result<()> {
        self.close_with(|_| Ok(()))
    }

    fn close_with(&mut self, sync: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<()> {
        self.flush_group()?;
        if let Some(mut w) = self.encoder.take()? {
            w.finish().map_err(to_io)?;
            w.inner_mut().flush()?;
            sync(w.inner_mut())?;
        }
        Ok(())
    }
}

impl ParquetFile<io::BufWriter<std::fs::File>> {
    /// Closes, then syncs the file to disk (before it is renamed into place).
    pub(crate) fn close_file(&mut self) -> io::Result<()> {
        self.close_with(|w| w.get_ref().sync_all())
    }
}

impl<W: Write + Send + 'static> RecordWriter for ParquetFile<W> {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        self.append(r)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.close()
    }
}
