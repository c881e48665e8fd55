//! JSON Lines: one object per record, keys as the columns of `columns.rs`, `null` for missing
//! values, numbers as numbers, timestamps as ISO 8601 strings. JSON text is UTF-8: bytes that
//! are not become U+FFFD, visibly.

use super::columns::{local_text, utc_text, value, Value, COLUMNS};
use super::RecordWriter;
use crate::record::RecordRef;
use std::io::{self, Write};

pub struct Jsonl<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> Jsonl<W> {
    pub fn new(out: W) -> Self {
        Jsonl {
            out,
            buf: Vec::with_capacity(1024),
        }
    }
}

fn string(buf: &mut Vec<u8>, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *buf, s).map_err(io::Error::other)
}

impl<W: Write + Send> RecordWriter for Jsonl<W> {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        self.buf.clear();
        line(r, &mut self.buf)?;
        self.out.write_all(&self.buf)
    }

    fn renderer(&self) -> Option<super::Render> {
        Some(line)
    }

    /// Lines, written as they come.
    fn rendered_stream(&self) -> bool {
        true
    }

    fn write_rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Appends the JSON line of `r` to `buf`.
fn line(r: &RecordRef, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.push(b'{');
    for (i, c) in COLUMNS.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        string(buf, c.name)?;
        buf.push(b':');
        match (i, value(r, i)) {
            (1, _) => match r.ts {
                Some(t) => string(buf, &local_text(&t))?,
                None => buf.extend_from_slice(b"null"),
            },
            (_, Value::Null) => buf.extend_from_slice(b"null"),
            (_, Value::Text(t)) => string(buf, &super::columns::utf8(t))?,
            (_, Value::Lower(t)) => string(buf, &super::columns::lower(t))?,
            (_, Value::Int(n)) => buf.extend_from_slice(n.to_string().as_bytes()),
            (_, Value::Float(f)) if f.is_finite() => {
                serde_json::to_writer(&mut *buf, &f).map_err(io::Error::other)?
            }
            (_, Value::Float(_)) => buf.extend_from_slice(b"null"),
            (_, Value::Micros(m)) => string(buf, &utc_text(m))?,
        }
    }
    buf.extend_from_slice(b"}\n");
    Ok(())
}
