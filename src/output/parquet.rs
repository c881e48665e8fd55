//! Parquet: one row per record, typed (`ts`/`received_ts` as `Timestamp(Microsecond, "UTC")`,
//! never INT96), low-cardinality text dictionary-encoded, ZSTD (level 1), page statistics,
//! rows in `ts` order inside each row group (declared as the sorting column). A file's writer
//! gathers rows ([`render_row`], made in the merge step); each full row group is turned into
//! columns, encoded and compressed a range of columns at a time, by the run's [`Encoders`] in
//! parallel or on the calling thread, and appended in order: the same bytes either way. Memory
//! is bounded by three row groups' rows per open file (one gathered, one encoded, one spare)
//! and by the encoders, at most [`MAX_ENCODERS`].

use super::columns::{local_text, local_text_into, value, value_of, Kind, Value, COLUMNS};
use super::RecordWriter;
use crate::record::RecordRef;
use arrow_array::builder::{
    BinaryBuilder, Float64Builder, Int32Builder, Int64Builder, PrimitiveBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Rows per row group: the unit of memory and of sorting (README: Parquet).
pub const ROW_GROUP_ROWS: usize = 32_768;

/// Bytes of rows (as [`render_row`] makes them) per row group of a file, at most: long rows
/// end a row group before [`ROW_GROUP_ROWS`] (32,768 rows of long lines would be gigabytes;
/// the bench log's row groups are ~16 MiB).
const ROW_GROUP_BYTES: usize = 64 << 20;

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

/// The writer's settings: codec, statistics, row groups, sorting, dictionaries.
pub fn properties() -> WriterProperties {
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
    /// A builder with Arrow's default room (its builders' `new`).
    fn new(kind: Kind) -> Builder {
        Builder::with_capacity(kind, 1024, 1024)
    }

    /// A builder with room for `rows` values, and for `bytes` bytes of text.
    fn with_capacity(kind: Kind, rows: usize, bytes: usize) -> Builder {
        match kind {
            Kind::Timestamp => {
                Builder::Ts(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"))
            }
            Kind::Text { .. } => Builder::Text(BinaryBuilder::with_capacity(rows, bytes)),
            Kind::Int32 => Builder::I32(Int32Builder::with_capacity(rows)),
            Kind::Int64 => Builder::I64(Int64Builder::with_capacity(rows)),
            Kind::Float64 => Builder::F64(Float64Builder::with_capacity(rows)),
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
            (b, _) => b.append_null(),
        }
    }

    /// Appends the next value of `r`: as `append(r.value()?)`, without the value in between
    /// (the transposition of a row group's rows read each one twice over, by two matches).
    #[inline]
    fn append_next(&mut self, r: &mut Reader) -> io::Result<()> {
        let tag = r.byte()?;
        match (self, tag) {
            (Builder::Text(b), TEXT) => b.append_value(r.text()?),
            (Builder::Ts(b), MICROS) => b.append_value(r.word()? as i64),
            (Builder::I64(b), INT) => b.append_value(r.word()? as i64),
            (Builder::I32(b), INT) => b.append_option(i32::try_from(r.word()? as i64).ok()),
            (Builder::F64(b), FLOAT) => b.append_value(f64::from_bits(r.word()?)),
            // A null by its own arm, not through `append`'s match over every kind of builder
            // and value (a delivery's row has ~7; most of a null's ~50 instructions are
            // Arrow's `append_null`, callgrind).
            (b, NULL) => b.append_null(),
            (b, tag) => {
                r.skip(tag)?;
                b.append_null();
            }
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Builder::Ts(b) => b.append_null(),
            Builder::Text(b) => b.append_null(),
            Builder::I32(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
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

/// A row's columns are encoded in ranges, each range of a row group by one thread: the
/// columns' first indices (the last range runs to the end). Ranges hold about as many bytes
/// of a typical row; a row marks where each range starts ([`render_row`]), so that the writer
/// files each range's values apart. Six: more tasks than encoders even out their sizes.
const RANGE_STARTS: [usize; RANGES] = [0, 5, 8, 13, 20, 23];
const RANGES: usize = 6;

/// The range that column `i` begins, if it begins one after the first.
fn range_at(i: usize) -> Option<usize> {
    RANGE_STARTS.iter().position(|&s| s == i).filter(|&k| k > 0)
}

/// The columns of range `r`.
fn range_columns(r: usize) -> std::ops::Range<usize> {
    let start = RANGE_STARTS.get(r).copied().unwrap_or(COLUMNS.len());
    let end = RANGE_STARTS.get(r + 1).copied().unwrap_or(COLUMNS.len());
    start..end
}

/// A row group's rows as [`render_row`] made them, gathered by a file's writer: each range
/// of their columns in a buffer of its own, so that the thread that encodes a range reads
/// only its buffer, front to back (one buffer of whole rows, read a range at a time, was a
/// cache miss a row for each range: +1.5 s of CPU on the 1 GiB log).
#[derive(Default)]
struct Rows {
    ranges: [Vec<u8>; RANGES],
    count: usize,
    /// Bytes in `ranges`.
    bytes: usize,
    order: TsOrder,
}

/// Where ranges 1.. start in a row's columns.
type Splits = [u32; RANGES - 1];

impl Rows {
    /// Empty rows with room for as many as `like` holds.
    fn like(like: &Rows) -> Rows {
        let mut r = Rows::default();
        for (mine, theirs) in r.ranges.iter_mut().zip(&like.ranges) {
            mine.reserve(theirs.len());
        }
        r
    }

    fn len(&self) -> usize {
        self.count
    }

    fn push(&mut self, row: &Row) -> io::Result<()> {
        let c = row.columns;
        self.order.note(&Reader { b: c, at: 0 }.value()?);
        let mut start = 0;
        for (r, buf) in self.ranges.iter_mut().enumerate() {
            let end = row.splits.get(r).map_or(c.len(), |&e| e as usize);
            buf.extend_from_slice(c.get(start..end).ok_or_else(cut_short)?);
            start = end;
        }
        self.count += 1;
        self.bytes += c.len();
        Ok(())
    }

    fn clear(&mut self) {
        for b in &mut self.ranges {
            b.clear();
        }
        self.count = 0;
        self.bytes = 0;
        self.order = TsOrder::default();
    }

    /// The order that puts the rows in `ts` order (ties as they came), if they are not in it:
    /// as [`Batcher`] sorts.
    fn ts_order(&self) -> io::Result<Option<arrow_array::UInt32Array>> {
        if self.order.in_order {
            return Ok(None);
        }
        let first = self.ranges.first().map_or(&[][..], Vec::as_slice);
        let mut r = Reader { b: first, at: 0 };
        let mut keys = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            keys.push(match r.value()? {
                Value::Micros(m) => Some(m),
                _ => None,
            });
            for _ in 1..range_columns(0).len() {
                r.value()?;
            }
        }
        ts_sort_order(&keys).map(Some)
    }
}

/// A row group's column chunks, compressed, in column order.
type Chunks = io::Result<Vec<ArrowColumnChunk>>;

/// Encodes range `r` of the columns of `rows` by their `writers`: each column built (in
/// builders made for it: kept by the thread for the next row group, they came to hold a whole
/// row group's columns in each thread) and put in `ts` order, then encoded and compressed. A
/// column's writer is closed before the next one's is used: each holds a ZSTD context, and
/// with all 36 alive to the row group's end heaptrack counted 12–18 MiB of them.
fn encode_range(
    rows: &Rows,
    order: Option<&arrow_array::UInt32Array>,
    r: usize,
    writers: Vec<ArrowColumnWriter>,
    schema: &Schema,
    sizes: &Sizes,
) -> Chunks {
    let cols = range_columns(r);
    if writers.len() != cols.len() {
        return Err(io::Error::other(
            "Parquet columns and writers differ (a bug)",
        ));
    }
    let bytes = rows.ranges.get(r).map_or(&[][..], Vec::as_slice);
    let mut mine: Vec<Builder> = cols
        .clone()
        .map(|c| {
            let hint = sizes.get(c).map_or(0, |s| s.load(Ordering::Relaxed));
            Builder::with_capacity(COLUMNS[c].kind, rows.len(), hint + hint / 8)
        })
        .collect();
    let mut reader = Reader { b: bytes, at: 0 };
    for _ in 0..rows.len() {
        for b in &mut mine {
            b.append_next(&mut reader)?;
        }
    }
    let mut chunks = Vec::with_capacity(cols.len());
    for ((c, mut b), mut w) in cols.zip(mine).zip(writers) {
        if let (Some(s), Builder::Text(t)) = (sizes.get(c), &b) {
            s.store(t.values_slice().len(), Ordering::Relaxed);
        }
        let mut array = b.finish();
        if let Some(order) = order {
            array = arrow_select::take::take(&array, order, None).map_err(to_io)?;
        }
        for leaf in compute_leaves(schema.field(c), &array).map_err(to_io)? {
            w.write(&leaf).map_err(to_io)?;
        }
        chunks.push(w.close().map_err(to_io)?);
    }
    Ok(chunks)
}

/// Each text column's bytes in the last row group encoded: the room its builder starts with in
/// the next. (Room for a range's bytes in each text column, never too little, was ~44 MiB more
/// memory for each encoder thread: the allocator keeps what a thread freed for it.)
type Sizes = [AtomicUsize; COLUMNS.len()];

/// A row group being encoded, range by range, by [`Encoders`].
struct Job {
    sizes: Arc<Sizes>,
    rows: Rows,
    /// The order that sorts the rows by `ts`, if they are not.
    order: Option<arrow_array::UInt32Array>,
    schema: SchemaRef,
    /// Each column's writer, taken by the range that encodes it.
    writers: Mutex<Vec<Option<ArrowColumnWriter>>>,
    /// Each range's chunks, as they are done.
    parts: Mutex<Vec<Option<Chunks>>>,
    /// Ranges not yet done: the last one done sends the row group's chunks.
    remaining: AtomicUsize,
    done: SyncSender<Chunks>,
}

impl Job {
    fn new(
        rows: Rows,
        schema: SchemaRef,
        writers: Vec<ArrowColumnWriter>,
        sizes: Arc<Sizes>,
    ) -> io::Result<(Job, Receiver<Chunks>)> {
        let (done, back) = sync_channel(1);
        let job = Job {
            sizes,
            order: rows.ts_order()?,
            rows,
            schema,
            writers: Mutex::new(writers.into_iter().map(Some).collect()),
            parts: Mutex::new((0..RANGES).map(|_| None).collect()),
            remaining: AtomicUsize::new(RANGES),
            done,
        };
        Ok((job, back))
    }

    /// Encodes range `r`; the last range done sends the chunks of all.
    fn run(self: Arc<Job>, r: usize) {
        let writers: Option<Vec<ArrowColumnWriter>> = match self.writers.lock() {
            Ok(mut w) => range_columns(r)
                .map(|c| w.get_mut(c).and_then(Option::take))
                .collect(),
            Err(_) => None,
        };
        // A panic in the Parquet crate is this range's error: the file waits for every range
        // of its row group, so a range that never reported would hang the run.
        let encoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match writers {
            Some(writers) => encode_range(
                &self.rows,
                self.order.as_ref(),
                r,
                writers,
                &self.schema,
                &self.sizes,
            ),
            None => Err(io::Error::other(
                "a Parquet column's writer is missing (a bug)",
            )),
        }));
        let chunks = encoded
            .unwrap_or_else(|_| Err(io::Error::other("the Parquet encoder panicked (a bug)")));
        if let Ok(mut parts) = self.parts.lock() {
            if let Some(p) = parts.get_mut(r) {
                *p = Some(chunks);
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let parts = match self.parts.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => Vec::new(),
        };
        let mut all = Vec::with_capacity(COLUMNS.len());
        let mut failed = None;
        for p in parts {
            match p {
                Some(Ok(c)) => all.extend(c),
                Some(Err(e)) => failed = failed.or(Some(e)),
                None => {
                    failed = failed.or(Some(io::Error::other(
                        "a Parquet range was not encoded (a bug)",
                    )))
                }
            }
        }
        let done = self.done.clone();
        // Dropped before the chunks are sent: the file then gets the rows back to fill again.
        drop(self);
        // The file may be gone (its run failed): nothing to report then.
        let _ = done.send(match failed {
            Some(e) => Err(e),
            None => Ok(all),
        });
    }
}

/// Threads that encode and compress the row groups of a run's Parquet files: each range of
/// a row group's columns is a task, so that they share one row group as well as several. A
/// file's writer only gathers rows, hands each full row group here and appends the chunks
/// that come back, in order.
pub struct Encoders {
    tasks: Option<SyncSender<(Arc<Job>, usize)>>,
    threads: Vec<JoinHandle<()>>,
}

/// Encoders at most, whatever `-j`: the allocator keeps ~24 MiB for each thread that encodes
/// (peak RSS on the 1 GiB log: 138 MiB with one, 226 MiB with four, 257 MiB with six).
pub const MAX_ENCODERS: usize = 4;

impl Encoders {
    /// Encoders for a run of `threads` threads: none (each file encodes on the calling thread)
    /// for one thread, else as many as the threads, at most [`MAX_ENCODERS`].
    pub fn for_threads(threads: usize) -> io::Result<Option<Arc<Encoders>>> {
        if threads <= 1 {
            return Ok(None);
        }
        Encoders::new(threads.min(MAX_ENCODERS)).map(|e| Some(Arc::new(e)))
    }

    fn new(count: usize) -> io::Result<Encoders> {
        // Room for one row group's ranges: a file hands one over without waiting.
        let (tx, rx) = sync_channel::<(Arc<Job>, usize)>(RANGES);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(count);
        for _ in 0..count {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name("mlc-parquet".to_string())
                .spawn(move || {
                    loop {
                        // The lock is held only to take a task, not while doing it.
                        let task = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((job, r)) = task else { return };
                        job.run(r);
                    }
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) if threads.is_empty() => return Err(e),
                // Fewer threads than asked still encode everything.
                Err(_) => break,
            }
        }
        Ok(Encoders {
            tasks: Some(tx),
            threads,
        })
    }

    fn submit(&self, job: &Arc<Job>) -> io::Result<()> {
        let tx = self.tasks.as_ref().ok_or_else(encoders_stopped)?;
        for r in 0..RANGES {
            tx.send((Arc::clone(job), r))
                .map_err(|_| encoders_stopped())?;
        }
        Ok(())
    }
}

impl Drop for Encoders {
    fn drop(&mut self) {
        self.tasks.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
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
    let keys: Vec<Option<i64>> = (0..ts.len())
        .map(|i| ts.is_valid(i).then(|| ts.value(i)))
        .collect();
    arrow_select::take::take_record_batch(batch, &ts_sort_order(&keys)?).map_err(to_io)
}

/// The order that sorts rows by their `ts` (`keys`, a row without one first), ties in the
/// order they came: of a [`Batcher`]'s batch and of a file's row group alike.
fn ts_sort_order(keys: &[Option<i64>]) -> io::Result<arrow_array::UInt32Array> {
    let mut order: Vec<u32> = (0..u32::try_from(keys.len()).map_err(to_io)?).collect();
    order.sort_by_key(|&i| keys.get(i as usize).copied().flatten());
    Ok(arrow_array::UInt32Array::from(order))
}

/// Whether rows came in `ts` order, noted as they come: a row group that did not is sorted.
/// A row without a `ts` counts as 0.
#[derive(Clone, Copy)]
struct TsOrder {
    in_order: bool,
    last: i64,
}

impl Default for TsOrder {
    fn default() -> Self {
        TsOrder {
            in_order: true,
            last: i64::MIN,
        }
    }
}

impl TsOrder {
    /// Notes the next row's `ts` value.
    fn note(&mut self, ts: &Value) {
        let ts = match ts {
            Value::Micros(m) => *m,
            _ => 0,
        };
        self.in_order &= ts >= self.last;
        self.last = ts;
    }
}

/// Records gathered into Arrow batches of at most [`ROW_GROUP_ROWS`] rows in the columns'
/// schema, each in `ts` order: the row groups of a Parquet file, or the batches of
/// [`crate::arrow`]'s reader.
pub struct Batcher {
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    /// The batch's rows came in `ts` order (else they are sorted when it is taken): a step
    /// back in time (hosts whose clocks disagree on one central log) keeps batches full.
    order: TsOrder,
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
            order: TsOrder::default(),
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
        self.order.note(&value(r, 0));
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
        self.append_columns(row.columns)
    }

    /// As [`Batcher::append_row`], given the row's columns.
    fn append_columns(&mut self, columns: &[u8]) -> io::Result<Option<RecordBatch>> {
        let full = self.make_room()?;
        let mut r = Reader { b: columns, at: 0 };
        let ts = r.value()?;
        self.order.note(&ts);
        let mut builders = self.builders.iter_mut();
        if let Some(b) = builders.next() {
            b.append(ts);
        }
        for b in builders {
            b.append_next(&mut r)?;
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

    /// The rows gathered so far as a batch in `ts` order, if there are any.
    pub fn take(&mut self) -> io::Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let mut batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(to_io)?;
        if !self.order.in_order {
            batch = sorted_by_ts(&batch)?;
        }
        self.rows = 0;
        self.order = TsOrder::default();
        Ok(Some(batch))
    }
}

/// One Parquet file being written: rows gathered into row groups, each encoded on the calling
/// thread or by the run's [`Encoders`], and appended in order: the same bytes either way.
pub struct ParquetFile<W: Write + Send + 'static> {
    file: Option<SerializedFileWriter<W>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    rows: Rows,
    /// Row groups handed out so far.
    groups: usize,
    /// Row groups being encoded, oldest first.
    pending: VecDeque<(Receiver<Chunks>, Arc<Job>)>,
    encoders: Option<Arc<Encoders>>,
    /// Rows back from the encoders, to be filled again (a row group's are ~16 MiB).
    spare: Option<Rows>,
    sizes: Arc<Sizes>,
}

/// Row groups of a file being encoded at once, at most: one, while the next is gathered (each
/// one more holds ~16 MiB more rows).
const MAX_PENDING: usize = 1;

impl<W: Write + Send + 'static> ParquetFile<W> {
    /// A file whose row groups are encoded on the calling thread.
    pub fn new(out: W) -> io::Result<Self> {
        Self::with_encoders(out, None)
    }

    /// `encoders`: where row groups are encoded and compressed; `None`: here.
    pub fn with_encoders(out: W, encoders: Option<Arc<Encoders>>) -> io::Result<Self> {
        let schema = schema();
        let writer =
            ArrowWriter::try_new(out, Arc::clone(&schema), Some(properties())).map_err(to_io)?;
        let (file, factory) = writer.into_serialized_writer().map_err(to_io)?;
        Ok(ParquetFile {
            file: Some(file),
            factory,
            schema,
            rows: Rows::default(),
            groups: 0,
            pending: VecDeque::new(),
            encoders,
            spare: None,
            sizes: Arc::new(std::array::from_fn(|_| AtomicUsize::new(0))),
        })
    }

    pub(crate) fn append(&mut self, r: &RecordRef) -> io::Result<()> {
        let mut bytes = Vec::new();
        render_row(r, &mut bytes)?;
        self.append_row(&Row::read(&bytes)?)
    }

    pub(crate) fn append_row(&mut self, row: &Row) -> io::Result<()> {
        if self.rows.len() >= ROW_GROUP_ROWS || self.rows.bytes >= ROW_GROUP_BYTES {
            self.flush_group(true)?;
        }
        self.rows.push(row)
    }

    /// Memory of the rows gathered for the next row group (what their buffers hold room for).
    pub(crate) fn gathered(&self) -> usize {
        self.rows.ranges.iter().map(Vec::capacity).sum()
    }

    /// Row groups handed out to be encoded so far.
    pub(crate) fn row_groups(&self) -> usize {
        self.groups
    }

    /// Ends the row group being gathered here, however few its rows (a dataset whose
    /// partitions together gather too many rows).
    pub(crate) fn end_row_group(&mut self) -> io::Result<()> {
        self.flush_group(false)
    }

    /// Holds no more memory than its gathered rows: waits for its row groups being encoded,
    /// appends them, and lets go of the rows kept for refilling (a dataset keeps many files
    /// open, and only the one being written needs them).
    pub(crate) fn lighten(&mut self) -> io::Result<()> {
        self.append_done(0)?;
        self.spare = None;
        if self.rows.len() == 0 {
            self.rows = Rows::default();
        }
        Ok(())
    }

    /// Hands the rows gathered over to be encoded as the next row group, and appends the row
    /// groups encoded so far. `refill`: the next rows are gathered in room for as many (a
    /// row group ended early is not the size of the next).
    fn flush_group(&mut self, refill: bool) -> io::Result<()> {
        if self.rows.len() == 0 {
            return Ok(());
        }
        // The one being encoded is waited for first: so no more rows are in memory, and its
        // rows are the next ones filled.
        self.append_done(MAX_PENDING - 1)?;
        let writers = self
            .factory
            .create_column_writers(self.groups)
            .map_err(to_io)?;
        self.groups += 1;
        // Sized as the last: grown from empty, a row group's rows were copied ~20 times.
        let next = match self.spare.take() {
            Some(spare) if refill => spare,
            _ if refill => Rows::like(&self.rows),
            _ => Rows::default(),
        };
        let rows = std::mem::replace(&mut self.rows, next);
        self.rows.clear();
        let (job, back) = Job::new(
            rows,
            Arc::clone(&self.schema),
            writers,
            Arc::clone(&self.sizes),
        )?;
        let job = Arc::new(job);
        match &self.encoders {
            Some(encoders) => encoders.submit(&job)?,
            None => {
                for r in 0..RANGES {
                    Arc::clone(&job).run(r);
                }
            }
        }
        self.pending.push_back((back, job));
        self.append_done(MAX_PENDING)
    }

    /// Appends the row groups encoded so far, in order, waiting for them while more than
    /// `keep` are being encoded.
    fn append_done(&mut self, keep: usize) -> io::Result<()> {
        while let Some((back, _)) = self.pending.front() {
            let chunks = if self.pending.len() > keep {
                back.recv().map_err(|_| encoders_stopped())?
            } else {
                match back.try_recv() {
                    Ok(chunks) => chunks,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Err(encoders_stopped()),
                }
            };
            self.append_group(chunks)?;
        }
        Ok(())
    }

    /// Appends the oldest pending row group, encoded as `chunks`.
    fn append_group(&mut self, chunks: Chunks) -> io::Result<()> {
        if let Some((_, job)) = self.pending.pop_front() {
            if let Ok(job) = Arc::try_unwrap(job) {
                self.spare = Some(job.rows);
            }
        }
        let file = self.file.as_mut().ok_or_else(closed)?;
        let mut group = file.next_row_group().map_err(to_io)?;
        for c in chunks? {
            c.append_to_row_group(&mut group).map_err(to_io)?;
        }
        group.close().map_err(to_io)?;
        Ok(())
    }

    /// Writes the last row group and the footer, and flushes the writer underneath.
    pub fn close(&mut self) -> io::Result<()> {
        self.close_with(|_| Ok(()))
    }

    fn close_with(&mut self, sync: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        self.flush_group(false)?;
        self.append_done(0)?;
        if let Some(mut w) = self.file.take() {
            w.finish().map_err(to_io)?;
            w.inner_mut().flush()?;
            sync(w.inner_mut())?;
        }
        Ok(())
    }
}

fn closed() -> io::Error {
    io::Error::other("Parquet file already closed")
}

fn encoders_stopped() -> io::Error {
    io::Error::other("the Parquet encoders stopped")
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
/// rows into their row group. Before, the groups copied each record whole to hold it for time
/// order, and the writer read its columns: the writer was a third of a Parquet run's CPU
/// time (perf). First the record's instant, local date and host, which a dataset's coverage
/// and partitions read, where each range of columns starts ([`RANGE_STARTS`]), then each
/// column: a tag and its value, little-endian.
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
    // Where each range of columns starts, from the first column (filled in below).
    let splits_at = out.len();
    out.extend_from_slice(&[0; 4 * (RANGES - 1)]);
    let columns_at = out.len();
    // Each column by its own code: with the index a constant, `value`'s match and `put`'s
    // fold away (a loop over the indices dispatched twice a value: ~10% of a Parquet run).
    macro_rules! columns {
        ($($i:literal)*) => {$(
            put_column(r, $i, out, splits_at, columns_at)?;
        )*};
    }
    columns!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
        31 32 33 34 35);
    Ok(())
}

/// Appends column `i` of `r`, noting where its range starts if it begins one.
#[inline(always)]
fn put_column(
    r: &RecordRef,
    i: usize,
    out: &mut Vec<u8>,
    splits_at: usize,
    columns_at: usize,
) -> io::Result<()> {
    if let Some(range) = range_at(i) {
        let at = u32::try_from(out.len() - columns_at)
            .map_err(|_| io::Error::other("a row over 4 GiB"))?;
        let slot = splits_at + 4 * (range - 1);
        if let Some(s) = out.get_mut(slot..slot + 4) {
            s.copy_from_slice(&at.to_le_bytes());
        }
    }
    match (i, r.ts) {
        (1, Some(t)) => {
            out.push(TEXT);
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            local_text_into(&t, out);
            put_len(out, at)
        }
        _ => put(out, value_of(r, i)),
    }
}

/// The name a state gives the Parquet format: its held rows mark where their ranges start
/// (since a375b90). A state that says `parquet` holds rows without the marks: [`with_ranges`]
/// adds them, and an earlier build refuses a state named so instead of misreading its rows.
pub const STATE_FORMAT: &str = "parquet, rows with ranges";

/// A row as builds before a375b90 made it (no range marks), as [`render_row`] makes it now.
pub fn with_ranges(old: &[u8]) -> io::Result<Vec<u8>> {
    let mut r = Reader { b: old, at: 0 };
    r.head()?;
    let columns_at = r.at;
    let mut splits: Splits = [0; RANGES - 1];
    for i in 0..COLUMNS.len() {
        if let Some(k) = range_at(i) {
            if let Some(s) = splits.get_mut(k - 1) {
                *s = u32::try_from(r.at - columns_at).map_err(to_io)?;
            }
        }
        r.value()?;
    }
    let mut row = Vec::with_capacity(old.len() + 4 * splits.len());
    row.extend_from_slice(old.get(..columns_at).ok_or_else(cut_short)?);
    for s in splits {
        row.extend_from_slice(&s.to_le_bytes());
    }
    row.extend_from_slice(old.get(columns_at..).ok_or_else(cut_short)?);
    Ok(row)
}

/// Appends `v` with its tag.
#[inline(always)]
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

/// Appends `t` with its tag. The tag and the length in one write, not a push and then
/// [`put_bytes`]: that cost 18.8 M instructions more on 30 MB of the 1 GiB log (callgrind).
fn put_text(out: &mut Vec<u8>, t: &[u8]) -> io::Result<()> {
    let [a, b, c, d] = text_len(t)?;
    out.reserve(5 + t.len());
    out.extend_from_slice(&[TEXT, a, b, c, d]);
    out.extend_from_slice(t);
    Ok(())
}

/// Appends `t` after its length.
fn put_bytes(out: &mut Vec<u8>, t: &[u8]) -> io::Result<()> {
    out.extend_from_slice(&text_len(t)?);
    out.extend_from_slice(t);
    Ok(())
}

/// The length of `t` as a row writes it: before the text, not filled in after it (a row has
/// ~17 texts, and the second pass was ~35 instructions each, callgrind).
#[inline]
fn text_len(t: &[u8]) -> io::Result<[u8; 4]> {
    u32::try_from(t.len())
        .map(u32::to_le_bytes)
        .map_err(|_| io::Error::other("a field over 4 GiB"))
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
    /// Where ranges 1.. of the columns start in `columns`.
    splits: Splits,
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

    /// A row's head: its instant in nanoseconds (if it fits), its local date, its host.
    fn head(&mut self) -> io::Result<(Option<i64>, Option<jiff::civil::Date>, &'a [u8])> {
        let (nanos, date) = match self.byte()? {
            0 => (None, None),
            kind => {
                let nanos = self.word()? as i64;
                let d = self.bytes(4)?;
                let date = jiff::civil::Date::new(
                    i16::from_le_bytes([d[0], d[1]]),
                    d[2] as i8,
                    d[3] as i8,
                )
                .map_err(|_| cut_short())?;
                ((kind == 1).then_some(nanos), Some(date))
            }
        };
        Ok((nanos, date, self.text()?))
    }

    /// Passes over a value whose tag was read.
    fn skip(&mut self, tag: u8) -> io::Result<()> {
        match tag {
            NULL => Ok(()),
            TEXT => self.text().map(|_| ()),
            INT | FLOAT | MICROS => self.word().map(|_| ()),
            _ => Err(cut_short()),
        }
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
        let (nanos, date, host) = r.head()?;
        let mut splits = [0; RANGES - 1];
        for s in &mut splits {
            let b = r.bytes(4)?;
            *s = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Ok(Row {
            nanos,
            date,
            host,
            splits,
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

    /// A buffer that a file can own and a test can read after.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().map_err(to_io)?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn row_groups_encoded_by_ranges_are_the_bytes_arrow_writer_writes() -> io::Result<()> {
        use crate::record::{Mta, Status};
        // Three row groups and a part: times that go back and forth (hosts whose clocks
        // disagree), before 1970, text that is not UTF-8, nulls.
        let texts: Vec<String> = (0..400)
            .map(|i| format!("user{i}@Host{}.example", i % 7))
            .collect();
        let day = jiff::civil::date(2026, 3, 2).at(0, 0, 0, 0);
        let records: Vec<RecordRef> = (0..110_000_usize)
            .map(|i| {
                let secs =
                    ((i * 7919) % 86_400) as i64 - if i % 501 == 0 { 90_000 * 365 } else { 0 };
                let ts = Some(crate::time::Stamp::utc(
                    day.saturating_add(jiff::SignedDuration::from_secs(secs)),
                ));
                RecordRef {
                    ts,
                    host: if i % 3 == 0 { b"mx1" } else { b"" },
                    mta: Some(Mta::Postfix),
                    status: Some(if i % 5 == 0 {
                        Status::Deferred
                    } else {
                        Status::Sent
                    }),
                    sender: (i % 11 != 0).then(|| texts[i % texts.len()].as_bytes()),
                    recipient: if i % 13 == 0 {
                        b"x@B\xfc.example"
                    } else {
                        texts[(i * 3) % texts.len()].as_bytes()
                    },
                    relay: b"r.example[192.0.2.1]:25",
                    relay_port: (i % 2 == 0).then_some(25),
                    delay: Some(i as f64 / 8.0),
                    size: (i % 4 != 0).then_some(i as u64),
                    source_line: i as u64,
                    ..RecordRef::default()
                }
            })
            .collect();
        let mut reference = Vec::new();
        {
            let mut b = Batcher::default();
            let mut w = ArrowWriter::try_new(&mut reference, b.schema(), Some(properties()))
                .map_err(to_io)?;
            for r in &records {
                if let Some(batch) = b.append(r)? {
                    w.write(&batch).map_err(to_io)?;
                    w.flush().map_err(to_io)?;
                }
            }
            if let Some(batch) = b.take()? {
                w.write(&batch).map_err(to_io)?;
            }
            w.close().map_err(to_io)?;
        }
        for threads in [1, 3] {
            let out = Shared::default();
            let mut f = ParquetFile::with_encoders(out.clone(), Encoders::for_threads(threads)?)?;
            for (i, r) in records.iter().enumerate() {
                // Records as rows (the merge step's) and as records (`--pseudonymize`).
                if i % 2 == 0 {
                    let mut row = Vec::new();
                    render_row(r, &mut row)?;
                    f.append_row(&Row::read(&row)?)?;
                } else {
                    f.append(r)?;
                }
            }
            f.close()?;
            let bytes = out.0.lock().map_err(to_io)?.clone();
            assert!(
                bytes == reference,
                "-j{threads}: {} bytes, {} expected",
                bytes.len(),
                reference.len()
            );
        }
        Ok(())
    }

    #[test]
    fn a_range_that_panics_is_an_error_not_a_hang() -> io::Result<()> {
        // A schema shorter than the rows: reading a later column's field panics in every
        // range but the first. The row group must still come back, as an error.
        let full = schema();
        let writer = ArrowWriter::try_new(Vec::new(), Arc::clone(&full), Some(properties()))
            .map_err(to_io)?;
        let (_file, factory) = writer.into_serialized_writer().map_err(to_io)?;
        let mut rows = Rows::default();
        let r = RecordRef {
            ts: Some(crate::time::Stamp::utc(
                jiff::civil::date(2026, 3, 2).at(7, 44, 21, 0),
            )),
            ..RecordRef::default()
        };
        let mut row = Vec::new();
        render_row(&r, &mut row)?;
        rows.push(&Row::read(&row)?)?;
        let short = Arc::new(Schema::new(vec![full.field(0).clone()]));
        let sizes = Arc::new(std::array::from_fn(|_| AtomicUsize::new(0)));
        let writers = factory.create_column_writers(0).map_err(to_io)?;
        let (job, back) = Job::new(rows, short, writers, sizes)?;
        let job = Arc::new(job);
        for r in 0..RANGES {
            let job = Arc::clone(&job);
            std::thread::spawn(move || job.run(r));
        }
        let got = back
            .recv_timeout(std::time::Duration::from_secs(30))
            .map_err(to_io)?;
        let err = got.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("panicked"), "{err}");
        Ok(())
    }

    #[test]
    fn rows_of_earlier_builds_get_their_range_marks() -> io::Result<()> {
        let r = RecordRef {
            ts: Some(crate::time::Stamp::utc(
                jiff::civil::date(2026, 3, 2).at(7, 44, 21, 0),
            )),
            host: b"mx1",
            sender: Some(b"a@b.example"),
            recipient: b"c@d.example",
            reply: b"250 2.0.0 Ok",
            size: Some(10),
            ..RecordRef::default()
        };
        for r in [r.clone(), RecordRef { ts: None, ..r }] {
            let mut row = Vec::new();
            render_row(&r, &mut row)?;
            // The same row without its marks, as builds before a375b90 wrote it.
            let head = row.len() - Row::read(&row)?.columns.len() - 4 * (RANGES - 1);
            let old = [&row[..head], &row[head + 4 * (RANGES - 1)..]].concat();
            assert_eq!(with_ranges(&old)?, row);
            assert!(with_ranges(&old[..old.len() - 1]).is_err());
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
