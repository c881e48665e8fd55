//! Parquet: one row per record, typed (`ts`/`received_ts` as `Timestamp(Microsecond, "UTC")`,
//! never INT96), low-cardinality text dictionary-encoded, ZSTD, page statistics, rows in `ts`
//! order inside each row group (declared as the sorting column). Memory is bounded by one row
//! group of column builders per open file. [`Partitioned`] writes a Hive layout
//! `DIR/date=YYYY-MM-DD[/host=H]/part-NNNNN.parquet` under a temporary directory and swaps each
//! partition into place only when the run completes; other partitions are not touched.

use super::columns::{local_text, value, Kind, Value, COLUMNS};
use super::RecordWriter;
use crate::record::RecordRef;
use arrow_array::builder::{
    Float64Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per row group: the unit of memory (column builders) and of sorting.
pub const ROW_GROUP_ROWS: usize = 65_536;

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
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
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

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Ts(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
        }
    }
}

fn to_io(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// One Parquet file being written: a row group of builders in front of an `ArrowWriter`.
pub struct ParquetFile<W: Write + Send> {
    writer: Option<ArrowWriter<W>>,
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    last_ts: i64,
}

impl<W: Write + Send> ParquetFile<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let schema = schema();
        let writer =
            ArrowWriter::try_new(out, Arc::clone(&schema), Some(properties())).map_err(to_io)?;
        Ok(ParquetFile {
            writer: Some(writer),
            schema,
            builders: COLUMNS.iter().map(|c| Builder::new(c.kind)).collect(),
            rows: 0,
            last_ts: i64::MIN,
        })
    }

    fn append(&mut self, r: &RecordRef) -> io::Result<()> {
        let ts = match value(r, 0) {
            Value::Micros(m) => m,
            _ => 0,
        };
        // Each row group is sorted by ts: a step back in time starts a new one.
        if ts < self.last_ts || self.rows >= ROW_GROUP_ROWS {
            self.flush_group()?;
        }
        self.last_ts = ts;
        for (i, b) in self.builders.iter_mut().enumerate() {
            if i == 1 {
                match &r.ts {
                    Some(s) => b.append(Value::Text(local_text(s).as_bytes())),
                    None => b.append(Value::Null),
                }
            } else {
                b.append(value(r, i));
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn flush_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(to_io)?;
        if let Some(w) = self.writer.as_mut() {
            w.write(&batch).map_err(to_io)?;
            w.flush().map_err(to_io)?;
        }
        self.rows = 0;
        self.last_ts = i64::MIN;
        Ok(())
    }

    /// Writes the last row group and the footer, and flushes the writer underneath.
    pub fn close(&mut self) -> io::Result<()> {
        self.close_with(|_| Ok(()))
    }

    fn close_with(&mut self, sync: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<()> {
        self.flush_group()?;
        if let Some(mut w) = self.writer.take() {
            w.finish().map_err(to_io)?;
            w.inner_mut().flush()?;
            sync(w.inner_mut())?;
        }
        Ok(())
    }
}

impl ParquetFile<io::BufWriter<std::fs::File>> {
    /// Closes, then syncs the file to disk (before it is renamed into place).
    fn close_file(&mut self) -> io::Result<()> {
        self.close_with(|w| w.get_ref().sync_all())
    }
}

impl<W: Write + Send> RecordWriter for ParquetFile<W> {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        self.append(r)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.close()
    }
}

/// Hive partition keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKey {
    /// `date=YYYY-MM-DD`: the local date of `ts`, as logged.
    Date,
    /// `host=NAME`: the syslog host.
    Host,
}

/// A partitioned Parquet dataset written into `root`, atomically per partition.
pub struct Partitioned {
    root: PathBuf,
    tmp: PathBuf,
    keys: Vec<PartitionKey>,
    open: BTreeMap<String, ParquetFile<io::BufWriter<std::fs::File>>>,
    /// Files written per partition (a partition reopened after it was closed gets a new part).
    parts: BTreeMap<String, usize>,
    committed: bool,
}

/// Partition values may not contain a path separator or start with a dot.
fn partition_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let mut out: String = s
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() || c == '=' {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

impl Partitioned {
    pub fn create(root: &Path, keys: Vec<PartitionKey>) -> io::Result<Partitioned> {
        std::fs::create_dir_all(root)?;
        let tmp = tempfile::Builder::new()
            .prefix(".maillogconv-tmp-")
            .tempdir_in(root)?
            .keep();
        Ok(Partitioned {
            root: root.to_path_buf(),
            tmp,
            keys,
            open: BTreeMap::new(),
            parts: BTreeMap::new(),
            committed: false,
        })
    }

    fn partition_of(&self, r: &RecordRef) -> String {
        let mut p = String::new();
        for k in &self.keys {
            if !p.is_empty() {
                p.push('/');
            }
            match k {
                PartitionKey::Date => {
                    let d = r.ts.map(|t| t.local.date()).unwrap_or_default();
                    p.push_str(&format!("date={d}"));
                }
                PartitionKey::Host => p.push_str(&format!("host={}", partition_value(r.host))),
            }
        }
        p
    }

    /// The partitions written so far, relative to the root.
    pub fn partitions(&self) -> Vec<String> {
        self.parts.keys().cloned().collect()
    }

    /// Moves every written partition into place, replacing the old one, then removes the
    /// temporary directory. All or nothing: if a rename fails, what was moved is moved back.
    pub fn commit(mut self) -> io::Result<()> {
        let trash = self.tmp.join(".old");
        let parts: Vec<String> = self.parts.keys().cloned().collect();
        let mut moved_old: Vec<&str> = Vec::new();
        let mut moved_new: Vec<&str> = Vec::new();
        let result = (|| -> io::Result<()> {
            for part in &parts {
                let dest = self.root.join(part);
                if dest.exists() {
                    let old = trash.join(part);
                    if let Some(parent) = old.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::rename(&dest, &old)?;
                    moved_old.push(part);
                }
            }
            for part in &parts {
                let dest = self.root.join(part);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(self.tmp.join(part), &dest)?;
                moved_new.push(part);
            }
            Ok(())
        })();
        if let Err(e) = result {
            for part in moved_new {
                let _ = std::fs::rename(self.root.join(part), self.tmp.join(part));
            }
            for part in moved_old {
                let _ = std::fs::rename(trash.join(part), self.root.join(part));
            }
            return Err(e);
        }
        self.committed = true;
        std::fs::remove_dir_all(&self.tmp)
    }
}

impl RecordWriter for Partitioned {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        let part = self.partition_of(r);
        if !self.open.contains_key(&part) {
            // Records come in time order: partitions of dates two days back are complete.
            if let Some(day) = r.ts.map(|t| t.local.date()) {
                let done: Vec<String> = self
                    .open
                    .keys()
                    .filter(|k| {
                        k.strip_prefix("date=")
                            .and_then(|d| d.get(..10))
                            .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                            .is_some_and(|d| d < day.saturating_sub(jiff::Span::new().days(1)))
                    })
                    .cloned()
                    .collect();
                for k in done {
                    if let Some(mut f) = self.open.remove(&k) {
                        f.close_file()?;
                    }
                }
            }
            let n = self.parts.entry(part.clone()).or_insert(0);
            let dir = self.tmp.join(&part);
            std::fs::create_dir_all(&dir)?;
            let file = std::fs::File::create(dir.join(format!("part-{:05}.parquet", *n)))?;
            *n += 1;
            self.open.insert(
                part.clone(),
                ParquetFile::new(io::BufWriter::with_capacity(1 << 20, file))?,
            );
        }
        match self.open.get_mut(&part) {
            Some(f) => f.append(r),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        for (_, mut f) in std::mem::take(&mut self.open) {
            f.close_file()?;
        }
        Ok(())
    }
}

impl Drop for Partitioned {
    fn drop(&mut self) {
        // A run that did not complete leaves the dataset as it was.
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}
