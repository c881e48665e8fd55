//! NCSA Combined Log Format, for web-log analyzers. The mapping:
//!
//! `client - sender [dd/Mon/yyyy:HH:MM:SS +zzzz] "SMTP recipient HTTP/1.0" code size "relay" "mta/queue_id"`
//!
//! - client: the client IP; `127.0.0.1` for mail with no SMTP client (local submissions,
//!   bounces the server wrote), `0.0.0.0` for a client logged without its address; user: the
//!   sender (`-` for none, `<>` for the null sender); time: local time as logged with its offset;
//! - request: `SMTP` and the recipient; code: the SMTP reply code when logged, else 250 for
//!   sent, 550 for bounced and expired, 450 for deferred, 550 for rejected and discarded;
//! - size: bytes, `-` when unknown; referer: the relay (`-` for none); user agent: MTA and
//!   queue ID.
//!
//! Spaces and brackets in the unquoted fields become `%20`, `%5B`, `%5D`; `"` and `\` inside quoted fields are escaped
//! with `\`; control bytes become `\xHH`, so no address can break a line or a field.

use super::RecordWriter;
use crate::record::{RecordRef, Status};
use std::io::{self, Write};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

pub struct Clf<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> Clf<W> {
    pub fn new(out: W) -> Self {
        Clf {
            out,
            buf: Vec::with_capacity(512),
        }
    }
}

/// An unquoted field: no spaces, no control bytes, `-` when empty.
fn bare(buf: &mut Vec<u8>, v: &[u8]) {
    if v.is_empty() {
        buf.push(b'-');
    }
    for &c in v {
        match c {
            b' ' => buf.extend_from_slice(b"%20"),
            // A bracket in the user field would be read as the start of the date.
            b'[' => buf.extend_from_slice(b"%5B"),
            b']' => buf.extend_from_slice(b"%5D"),
            c if c < 0x20 || c == 0x7f => buf.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
            _ => buf.push(c),
        }
    }
}

/// The inside of a quoted field.
fn quoted(buf: &mut Vec<u8>, v: &[u8]) {
    for &c in v {
        match c {
            b'"' | b'\\' => {
                buf.push(b'\\');
                buf.push(c);
            }
            c if c < 0x20 || c == 0x7f => buf.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
            _ => buf.push(c),
        }
    }
}

/// The status code of the CLF line.
pub fn code(r: &RecordRef) -> u16 {
    r.smtp_code.unwrap_or(match r.status {
        Some(Status::Sent) => 250,
        Some(Status::Deferred) => 450,
        _ => 550,
    })
}

impl<W: Write + Send> RecordWriter for Clf<W> {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        self.buf.clear();
        line(r, &mut self.buf);
        self.out.write_all(&self.buf)
    }

    fn renderer(&self) -> Option<super::Render> {
        Some(|r, out| {
            line(r, out);
            Ok(())
        })
    }

    /// The relay is written as logged, and no delays.
    fn details(&self) -> bool {
        false
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

/// Appends the CLF line of `r` to `buf` (nothing for a record without a time).
fn line(r: &RecordRef, buf: &mut Vec<u8>) {
    let Some(ts) = r.ts else { return };
    // Web-log analyzers take the client for an address: mail with no SMTP client (a local
    // submission, a bounce the server wrote) came from this machine; a client known only by
    // name is the unspecified address.
    bare(
        buf,
        match (r.client_ip, r.client_host) {
            ([], []) => b"127.0.0.1",
            ([], _) => b"0.0.0.0",
            (ip, _) => ip,
        },
    );
    buf.extend_from_slice(b" - ");
    match r.sender {
        Some([]) => buf.extend_from_slice(b"<>"),
        Some(s) => bare(buf, s),
        None => buf.push(b'-'),
    }
    let t = ts.local;
    let (sign, o) = if ts.offset < 0 {
        ('-', -ts.offset)
    } else {
        ('+', ts.offset)
    };
    let month = MONTHS
        .get(usize::try_from(t.month() - 1).unwrap_or(0))
        .unwrap_or(&"Jan");
    buf.extend_from_slice(
        format!(
            " [{:02}/{month}/{:04}:{:02}:{:02}:{:02} {sign}{:02}{:02}] \"SMTP ",
            t.day(),
            t.year(),
            t.hour(),
            t.minute(),
            t.second(),
            o / 3600,
            o % 3600 / 60
        )
        .as_bytes(),
    );
    quoted(
        buf,
        if r.recipient.is_empty() {
            b"-"
        } else {
            r.recipient
        },
    );
    buf.extend_from_slice(format!(" HTTP/1.0\" {} ", code(r)).as_bytes());
    match r.size {
        Some(s) => buf.extend_from_slice(s.to_string().as_bytes()),
        None => buf.push(b'-'),
    }
    buf.extend_from_slice(b" \"");
    quoted(buf, if r.relay.is_empty() { b"-" } else { r.relay });
    buf.extend_from_slice(b"\" \"");
    quoted(buf, r.mta.map_or("-", |m| m.name()).as_bytes());
    buf.push(b'/');
    quoted(
        buf,
        if r.queue_id.is_empty() {
            b"-"
        } else {
            r.queue_id
        },
    );
    buf.extend_from_slice(b"\"\n");
}
