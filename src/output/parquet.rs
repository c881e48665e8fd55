//! Parquet: one row per record, typed (`ts`/`received_ts` as `Timestamp(Microsecond, "UTC")`,
//! never INT96), low-cardinality text dictionary-encoded, ZSTD (level 1), page statistics,
//! rows in `ts` order inside each row group (declared as the sorting column). Memory is bounded
//! by two row groups per open file: the builders, and the one being encoded.

use super::columns::{local_text, local_text_into, value, Kind, Value, COLUMNS};
use super::RecordWriter;
use crate::record::RecordRef;
use arrow_array::builder::{
    BinaryBuilder, Float64Builder, Int32Builder, Int64Builder, PrimitiveBuilder, StringBuilder,
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
    /// Text as logged; checked to be UTF-8 a column at a time when the batch is taken (see
    /// [`utf8_column`]), not value by value.
    Text(BinaryBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::Timestamp => Builder::Ts(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            Kind::Text { .. } => Builder::Text(BinaryBuilder::new()),
            Kind::Int32 => Builder::I32(Int32Builder::new()),
            Kind::Int64 => Builder::I64(Int64Builder::new()),
            Kind::Float64 => Builder::F64(Float64Builder::new()),
        }
    }

    fn append(&mut self, v: Value) {
        match (self, v) {
            (Builder::Ts(b), Value::Micros(m)) => b.append_value(m),
            (Builder::Text(b), Value::Text(t)) => b.append_value(t),
            (Builder::Text(b), Value::Lower(t)) => {
                b.append_value(super::columns::lower(t).as_bytes())
            }
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
                *b = BinaryBuilder::with_capacity(a.len(), a.values().len());
                Arc::new(utf8_column(a))
            }
            Builder::I32(b) => restart(b),
            Builder::I64(b) => restart(b),
            Builder::F64(b) => restart(b),
        }
    }
}

/// A text column as Arrow's UTF-8: the bytes as they are when all of them are valid (one check
/// of the column's buffer: checked value by value, this was 5% of a Parquet run's CPU time),
/// else each value with U+FFFD for the bytes that are not UTF-8, visibly.
fn utf8_column(a: arrow_array::BinaryArray) -> arrow_array::StringArray {
    if let Ok(s) = arrow_array::StringArray::try_from_binary(a.clone()) {
        return s;
    }
    let mut b = StringBuilder::with_capacity(a.len(), a.values().len());
    for v in a.iter() {
        match v {
            Some(t) => b.append_value(super::columns::utf8(t)),
            None => b.append_null(),
        }
    }
    b.finish()
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
        let full = self.make_room()?;
        let ts = match value(r, 0) {
            Value::Micros(m) => m,
            _ => 0,
        };
        self.order(ts);
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

    /// Adds a row made by [`render_row`]; returns the batch it filled, if any.
    pub fn append_row(&mut self, row: &Row) -> io::Result<Option<RecordBatch>> {
        let full = self.make_room()?;
        let mut r = Reader {
            b: row.columns,
            at: 0,
        };
        let ts = r.value()?;
        self.order(match ts {
            Value::Micros(m) => m,
            _ => 0,
        });
        let mut builders = self.builders.iter_mut();
        if let Some(b) = builders.next() {
            b.append(ts);
        }
        for b in builders {
            b.append(r.value()?);
        }
        self.rows += 1;
        Ok(full)
    }

    /// The full batch, taken before a row is added to a new one.
    fn make_room(&mut self) -> io::Result<Option<RecordBatch>> {
        if self.rows >= ROW_GROUP_ROWS {
            self.take()
        } else {
            Ok(None)
        }
    }

    /// Notes a row's `ts`. A step back in time (hosts whose clocks disagree on one central
    /// log) is sorted when the batch is taken: batches stay full, and each is in ts order.
    fn order(&mut self, ts: i64) {
        self.in_order &= ts >= self.last_ts;
        self.last_ts = ts;
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

    pub(crate) fn append_row(&mut self, row: &Row) -> io::Result<()> {
        match self.batcher.append_row(row)? {
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

    fn renderer(&self) -> Option<super::Render> {
        Some(render_row)
    }

    fn write_rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.append_row(&Row::read(bytes)?)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.close()
    }
}

/// Tags of a value in a row.
const NULL: u8 = 0;
const TEXT: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 3;
const MICROS: u8 = 4;

/// Writes `r` as a row: every column's value as the builders take it, so that the work of
/// reading a record's columns (text in lower case, the local time's text) is done where the
/// record is decided, in the merge step's groups in parallel, and the one writer only copies
/// values into its builders. Before, the groups copied each record whole to hold it for time
/// order, and the writer read its columns: the writer was a third of a Parquet run's CPU
/// time (perf). First the record's instant, local date and host, which a dataset's coverage
/// and partitions read, then each column: a tag and its value, little-endian.
pub fn render_row(r: &RecordRef, out: &mut Vec<u8>) -> io::Result<()> {
    match r.ts {
        None => out.push(0),
        Some(t) => {
            let nanos = i64::try_from(t.instant.as_nanosecond());
            out.push(if nanos.is_ok() { 1 } else { 2 });
            out.extend_from_slice(&nanos.unwrap_or(0).to_le_bytes());
            let d = t.local.date();
            out.extend_from_slice(&d.year().to_le_bytes());
            out.extend_from_slice(&[d.month().unsigned_abs(), d.day().unsigned_abs()]);
        }
    }
    put_bytes(out, r.host)?;
    for i in 0..COLUMNS.len() {
        match (i, r.ts) {
            (1, Some(t)) => {
                out.push(TEXT);
                let at = out.len();
                out.extend_from_slice(&[0; 4]);
                local_text_into(&t, out);
                put_len(out, at)?;
            }
            _ => put(out, value(r, i))?,
        }
    }
    Ok(())
}

/// Appends `v` with its tag.
fn put(out: &mut Vec<u8>, v: Value) -> io::Result<()> {
    match v {
        Value::Null => out.push(NULL),
        Value::Text(t) => put_text(out, t)?,
        Value::Lower(t) => put_text(out, super::columns::lower(t).as_bytes())?,
        Value::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Micros(m) => {
            out.push(MICROS);
            out.extend_from_slice(&m.to_le_bytes());
        }
    }
    Ok(())
}

fn put_text(out: &mut Vec<u8>, t: &[u8]) -> io::Result<()> {
    out.push(TEXT);
    put_bytes(out, t)
}

/// Appends `t` after its length.
fn put_bytes(out: &mut Vec<u8>, t: &[u8]) -> io::Result<()> {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(t);
    put_len(out, at)
}

/// Fills in the length of the text that follows the four bytes at `at`.
fn put_len(out: &mut [u8], at: usize) -> io::Result<()> {
    let n =
        u32::try_from(out.len() - at - 4).map_err(|_| io::Error::other("a field over 4 GiB"))?;
    if let Some(len) = out.get_mut(at..at + 4) {
        len.copy_from_slice(&n.to_le_bytes());
    }
    Ok(())
}

/// A row made by [`render_row`], read back: its head now, its columns as they are appended
/// ([`Batcher::append_row`]), without building them into an array first.
pub struct Row<'a> {
    /// The record's instant in nanoseconds, when it has one that fits.
    pub nanos: Option<i64>,
    /// The record's local date, when it has a time.
    pub date: Option<jiff::civil::Date>,
    /// The record's host (empty when it has none).
    pub host: &'a [u8],
    columns: &'a [u8],
}

fn cut_short() -> io::Error {
    io::Error::other("a Parquet row cut short (a bug)")
}

/// Reads a row's values in turn.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let v = self.b.get(self.at..self.at + n).ok_or_else(cut_short)?;
        self.at += n;
        Ok(v)
    }

    fn byte(&mut self) -> io::Result<u8> {
        let v = *self.b.get(self.at).ok_or_else(cut_short)?;
        self.at += 1;
        Ok(v)
    }

    fn word(&mut self) -> io::Result<u64> {
        let v = self.b.get(self.at..).and_then(|b| b.first_chunk::<8>());
        let v = u64::from_le_bytes(*v.ok_or_else(cut_short)?);
        self.at += 8;
        Ok(v)
    }

    fn text(&mut self) -> io::Result<&'a [u8]> {
        let n = self.b.get(self.at..).and_then(|b| b.first_chunk::<4>());
        let n = u32::from_le_bytes(*n.ok_or_else(cut_short)?) as usize;
        self.at += 4;
        self.bytes(n)
    }

    fn value(&mut self) -> io::Result<Value<'a>> {
        Ok(match self.byte()? {
            NULL => Value::Null,
            TEXT => Value::Text(self.text()?),
            INT => Value::Int(self.word()? as i64),
            FLOAT => Value::Float(f64::from_bits(self.word()?)),
            MICROS => Value::Micros(self.word()? as i64),
            _ => return Err(cut_short()),
        })
    }
}

impl<'a> Row<'a> {
    pub fn read(bytes: &'a [u8]) -> io::Result<Row<'a>> {
        let mut r = Reader { b: bytes, at: 0 };
        let (nanos, date) = match r.byte()? {
            0 => (None, None),
            kind => {
                let nanos = r.word()? as i64;
                let d = r.bytes(4)?;
                let date = jiff::civil::Date::new(
                    i16::from_le_bytes([d[0], d[1]]),
                    d[2] as i8,
                    d[3] as i8,
                )
                .map_err(|_| cut_short())?;
                ((kind == 1).then_some(nanos), Some(date))
            }
        };
        let host = r.text()?;
        Ok(Row {
            nanos,
            date,
            host,
            columns: bytes.get(r.at..).unwrap_or_default(),
        })
    }

    /// Each column's value, in order.
    #[cfg(test)]
    fn values(&self) -> io::Result<Vec<Value<'a>>> {
        let mut r = Reader {
            b: self.columns,
            at: 0,
        };
        (0..COLUMNS.len()).map(|_| r.value()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_as_written() -> io::Result<()> {
        use crate::record::{Mta, Status};
        let ts = Some(crate::time::Stamp::utc(
            jiff::civil::date(2026, 3, 2).at(7, 44, 21, 5_000),
        ));
        let sent = RecordRef {
            ts,
            host: b"mx1",
            mta: Some(Mta::Postfix),
            status: Some(Status::Sent),
            sender: Some(b"A@Example.ORG"),
            recipient: b"x@B\xfc.example",
            relay: b"r.example[192.0.2.1]:25",
            relay_port: Some(25),
            delay: Some(1.5),
            delays: Some([0.1, 0.0, 0.5, 0.9]),
            size: Some(10),
            source_line: 7,
            ..RecordRef::default()
        };
        let records = [
            sent.clone(),
            RecordRef { ts: None, ..sent },
            RecordRef::default(),
        ];
        for r in &records {
            let mut bytes = Vec::new();
            render_row(r, &mut bytes)?;
            let row = Row::read(&bytes)?;
            assert_eq!(
                row.nanos,
                r.ts.and_then(|t| i64::try_from(t.instant.as_nanosecond()).ok())
            );
            assert_eq!(row.date, r.ts.map(|t| t.local.date()));
            assert_eq!(row.host, r.host);
            for (i, &v) in row.values()?.iter().enumerate() {
                let want = match (i, value(r, i), r.ts) {
                    (1, _, Some(t)) => Value::Text(local_text(&t).into_bytes().leak()),
                    (_, Value::Lower(l), _) => Value::Text(
                        super::super::columns::lower(l)
                            .into_owned()
                            .into_bytes()
                            .leak(),
                    ),
                    (_, w, _) => w,
                };
                assert_eq!(v, want, "column {}", COLUMNS[i].name);
            }
            // Cut anywhere, a row is an error, not a panic.
            for cut in 0..bytes.len() {
                assert!(Row::read(&bytes[..cut]).and_then(|r| r.values()).is_err());
            }
        }
        Ok(())
    }

    #[test]
    fn text_columns_are_utf8_or_show_what_is_not() {
        let mut b = BinaryBuilder::new();
        b.append_value(b"plain");
        b.append_null();
        b.append_value("Bücher".as_bytes());
        let valid = utf8_column(b.finish());
        assert_eq!(valid.value(0), "plain");
        assert!(valid.is_null(1));
        assert_eq!(valid.value(2), "Bücher");
        // One value that is not UTF-8 (Latin-1 `ü`, a lone continuation byte): that value
        // gets U+FFFD, the others stay as they are.
        let mut b = BinaryBuilder::new();
        b.append_value(b"ok");
        b.append_value(b"B\xfccher");
        b.append_null();
        b.append_value(b"\x80x");
        let mixed = utf8_column(b.finish());
        assert_eq!(mixed.value(0), "ok");
        assert_eq!(mixed.value(1), "B\u{fffd}cher");
        assert!(mixed.is_null(2));
        assert_eq!(mixed.value(3), "\u{fffd}x");
    }
}
