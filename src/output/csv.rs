//! CSV (RFC 4180): a header, then one row per record, the columns of `columns.rs`.
//! Timestamps are ISO 8601 (`ts` in UTC with `Z`, `ts_local` as logged with its offset); text is
//! UTF-8 like JSON Lines and Parquet (bytes that are not valid UTF-8 become U+FFFD, visibly, so
//! DuckDB and Spark read every row), quoted when it holds a comma, quote or line end; null is
//! an empty field.
//! Fields that start with `=`, `+`, `-` or `@` are not altered: this is data for DuckDB and Spark,
//! and prefixing them would change addresses; open it in a spreadsheet as text.

use super::columns::{local_text, utc_text, value, Value, COLUMNS};
use super::RecordWriter;
use crate::record::RecordRef;
use std::io::{self, Write};

pub struct Csv<W: Write> {
    out: csv::Writer<W>,
    row: csv::ByteRecord,
    header: bool,
}

impl<W: Write> Csv<W> {
    pub fn new(out: W) -> Self {
        Csv {
            out: csv::WriterBuilder::new().from_writer(out),
            row: csv::ByteRecord::new(),
            header: false,
        }
    }

    /// A writer adding rows to a file that has its header already.
    pub fn continuing(out: W) -> Self {
        Csv {
            header: true,
            ..Csv::new(out)
        }
    }
}

fn to_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        k => io::Error::other(format!("{k:?}")),
    }
}

impl<W: Write + Send> RecordWriter for Csv<W> {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        if !self.header {
            self.out
                .write_record(COLUMNS.iter().map(|c| c.name))
                .map_err(to_io)?;
            self.header = true;
        }
        self.row.clear();
        for i in 0..COLUMNS.len() {
            match (i, value(r, i)) {
                (1, _) => self
                    .row
                    .push_field(r.ts.map(|t| local_text(&t)).unwrap_or_default().as_bytes()),
                (_, Value::Null) => self.row.push_field(b""),
                (_, Value::Text(t)) => self.row.push_field(super::columns::utf8(t).as_bytes()),
                (_, Value::Lower(t)) => self.row.push_field(super::columns::lower(t).as_bytes()),
                (_, Value::Int(n)) => self.row.push_field(n.to_string().as_bytes()),
                (_, Value::Float(f)) => self.row.push_field(f.to_string().as_bytes()),
                (_, Value::Micros(m)) => self.row.push_field(utc_text(m).as_bytes()),
            }
        }
        self.out.write_byte_record(&self.row).map_err(to_io)
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.header {
            self.out
                .write_record(COLUMNS.iter().map(|c| c.name))
                .map_err(to_io)?;
            self.header = true;
        }
        self.out.flush()
    }
}
