//! systemd journal streams, `journalctl -o json` and `journalctl -o export`, recognised by
//! their content like the compressions, and read as the syslog lines the rest of the pipeline
//! knows: one RFC 3339 line per entry, `STAMP HOST IDENT[PID]: MESSAGE`, with the time of
//! `__REALTIME_TIMESTAMP` (microseconds: exact, no year to infer) in the run's time zone, the
//! host of `_HOSTNAME`, the program of `SYSLOG_IDENTIFIER` (it keeps `postfix/smtpd`, which
//! `_COMM` would not), the pid of `SYSLOG_PID` (else `_PID`), and `MESSAGE` (also journald's
//! number-array form of text that is not UTF-8). A line break inside a message becomes a space.
//! Entries of other programs become lines no parser knows: ignored and counted.

use std::io::{self, BufRead, Read};

/// Which journal export format a stream is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Export,
}

impl Format {
    /// The format of a stream that begins with `head`, if it is a journal stream.
    pub fn detect(head: &[u8]) -> Option<Format> {
        let first = head.split(|&c| c == b'\n').next().unwrap_or_default();
        if first.starts_with(b"__CURSOR=") || first.starts_with(b"__REALTIME_TIMESTAMP=") {
            Some(Format::Export)
        } else if first.starts_with(b"{\"")
            && (contains(first, b"\"__REALTIME_TIMESTAMP\"") || contains(first, b"\"__CURSOR\""))
        {
            Some(Format::Json)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "journal json",
            Format::Export => "journal export",
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The first and last `__CURSOR` of a stream read so far (`--stats`), and the latest entry
/// read, the bookmark a state keeps.
#[derive(Debug, Default, Clone)]
pub struct Cursors {
    pub first: Option<String>,
    pub last: Option<String>,
    pub mark: Option<Mark>,
}

/// Where a journal was read up to (`--state`): the latest entry's sequence number in its
/// sequence (`s=…;i=…` of the cursor) and its time. An entry is covered — read by an earlier
/// run — if it is in the same sequence at or before that number, or in another sequence
/// (another journal file set, another host's) at or before that time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    pub seqnum_id: String,
    pub seqnum: u64,
    pub realtime: i64,
}

impl Mark {
    /// The mark of an entry with `cursor` (`s=ID;i=HEX;…`) at `realtime` µs.
    fn of(cursor: &[u8], realtime: i64) -> Option<Mark> {
        let text = std::str::from_utf8(cursor).ok()?;
        let mut id = None;
        let mut seq = None;
        for part in text.split(';') {
            if let Some(v) = part.strip_prefix("s=") {
                id = Some(v.to_string());
            } else if let Some(v) = part.strip_prefix("i=") {
                seq = u64::from_str_radix(v, 16).ok();
            }
        }
        Some(Mark {
            seqnum_id: id?,
            seqnum: seq?,
            realtime,
        })
    }

    /// True if the entry marked `e` was read by the run that left `self`.
    pub fn covers(&self, e: &Mark) -> bool {
        if e.seqnum_id == self.seqnum_id {
            e.seqnum <= self.seqnum
        } else {
            e.realtime <= self.realtime
        }
    }

    /// The later of two marks: in one sequence the higher number (a clock that stepped back
    /// does not move the bookmark back), across sequences the later time.
    pub fn later(a: Option<Mark>, b: Option<Mark>) -> Option<Mark> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.seqnum_id == b.seqnum_id {
                if b.seqnum >= a.seqnum {
                    b
                } else {
                    a
                }
            } else if b.realtime >= a.realtime {
                b
            } else {
                a
            }),
            (a, b) => a.or(b),
        }
    }
}

/// Shared between the reader that fills it and the stage that reports it.
pub type SharedCursors = std::sync::Arc<std::sync::Mutex<Cursors>>;

/// The fields of one entry that make its line.
#[derive(Debug, Default)]
struct Entry {
    cursor: Option<Vec<u8>>,
    realtime: Option<i64>,
    host: Vec<u8>,
    ident: Vec<u8>,
    pid: Vec<u8>,
    /// `_PID`, used when there is no `SYSLOG_PID`.
    any_pid: Vec<u8>,
    message: Option<Vec<u8>>,
}

impl Entry {
    fn set(&mut self, name: &[u8], value: Vec<u8>) {
        match name {
            b"__REALTIME_TIMESTAMP" => {
                self.realtime = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|s| s.parse().ok())
            }
            b"_HOSTNAME" => self.host = value,
            b"SYSLOG_IDENTIFIER" => self.ident = value,
            b"SYSLOG_PID" => self.pid = value,
            b"_PID" => self.any_pid = value,
            b"MESSAGE" => self.message = Some(value),
            b"__CURSOR" => self.cursor = Some(value),
            _ => {}
        }
    }

    /// The entry's syslog line (with its line end) in `out`; nothing for an entry without a
    /// time or a message.
    fn line(&self, tz: &jiff::tz::TimeZone, out: &mut Vec<u8>) {
        let (Some(us), Some(msg)) = (self.realtime, &self.message) else {
            return;
        };
        let Ok(ts) = jiff::Timestamp::from_microsecond(us) else {
            return;
        };
        let zoned = ts.to_zoned(tz.clone());
        out.extend_from_slice(
            zoned
                .strftime("%Y-%m-%dT%H:%M:%S%.6f%:z")
                .to_string()
                .as_bytes(),
        );
        out.push(b' ');
        push_word(
            out,
            if self.host.is_empty() {
                b"localhost"
            } else {
                &self.host
            },
        );
        out.push(b' ');
        if !self.ident.is_empty() {
            push_word(out, &self.ident);
            let pid = if self.pid.is_empty() {
                &self.any_pid
            } else {
                &self.pid
            };
            if !pid.is_empty() {
                out.push(b'[');
                push_word(out, pid);
                out.push(b']');
            }
            out.extend_from_slice(b": ");
        }
        out.extend(
            msg.iter()
                .map(|&c| if c == b'\n' || c == b'\r' { b' ' } else { c }),
        );
        out.push(b'\n');
    }
}

/// A word of the line's head: no spaces or line breaks in it.
fn push_word(out: &mut Vec<u8>, w: &[u8]) {
    out.extend(
        w.iter()
            .map(|&c| if c.is_ascii_whitespace() { b'_' } else { c }),
    );
}

/// `opened` read as syslog lines if its (decompressed) data is a journal stream.
pub fn wrap(
    opened: super::decompress::Opened,
    tz: &jiff::tz::TimeZone,
    after: Option<&Mark>,
) -> io::Result<(super::decompress::Opened, Option<Journal>)> {
    let mut buffered = io::BufReader::with_capacity(64 * 1024, opened.reader);
    let (reader, journal): (Box<dyn Read + Send>, _) = match Format::detect(buffered.fill_buf()?) {
        Some(format) => {
            let mut r = JournalReader::new(buffered, format, tz.clone());
            r.after = after.cloned();
            let journal = Journal {
                format,
                cursors: r.cursors.clone(),
            };
            (Box::new(r), Some(journal))
        }
        None => (Box::new(super::decompress::past_peek(buffered)), None),
    };
    Ok((super::decompress::Opened { reader, ..opened }, journal))
}

/// A journal stream an input turned out to be: its format, and the cursors read so far.
#[derive(Debug, Clone)]
pub struct Journal {
    pub format: Format,
    pub cursors: SharedCursors,
}

/// A journal stream read as syslog lines.
pub struct JournalReader<R> {
    inner: R,
    cursors: SharedCursors,
    /// Entries an earlier run read are left out (`--state`).
    after: Option<Mark>,
    format: Format,
    tz: jiff::tz::TimeZone,
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: BufRead> JournalReader<R> {
    pub fn new(inner: R, format: Format, tz: jiff::tz::TimeZone) -> Self {
        JournalReader {
            inner,
            cursors: SharedCursors::default(),
            after: None,
            format,
            tz,
            out: Vec::with_capacity(64 * 1024),
            at: 0,
            done: false,
        }
    }

    /// Converts entries until some output is ready or the stream ends.
    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.at = 0;
        while self.out.len() < 32 * 1024 && !self.done {
            match self.format {
                Format::Json => self.json_entry()?,
                Format::Export => self.export_entry()?,
            }
        }
        Ok(())
    }

    /// One `-o json` line.
    fn json_entry(&mut self) -> io::Result<()> {
        let mut line = Vec::new();
        let Some(whole) = bounded_line(&mut self.inner, &mut line)? else {
            self.done = true;
            return Ok(());
        };
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.is_empty() || !whole {
            // An entry longer than any journald writes is not one: left out.
            return Ok(());
        }
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(text)
        else {
            // Not an entry: passed on as it is (a line no parser knows, counted).
            self.out.extend_from_slice(text);
            self.out.push(b'\n');
            return Ok(());
        };
        let mut e = Entry::default();
        for (k, v) in &map {
            if let Some(bytes) = json_bytes(v) {
                e.set(k.as_bytes(), bytes);
            }
        }
        self.entry(&e);
        Ok(())
    }

    /// `e`'s line, and its cursor noted; nothing for an entry an earlier run read.
    fn entry(&mut self, e: &Entry) {
        let mark = e
            .cursor
            .as_ref()
            .zip(e.realtime)
            .and_then(|(c, t)| Mark::of(c, t));
        if let (Some(after), Some(m)) = (&self.after, &mark) {
            if after.covers(m) {
                return;
            }
        }
        e.line(&self.tz, &mut self.out);
        if let Some(c) = &e.cursor {
            if let Ok(mut cursors) = self.cursors.lock() {
                let c = String::from_utf8_lossy(c).into_owned();
                if cursors.first.is_none() {
                    cursors.first = Some(c.clone());
                }
                cursors.last = Some(c);
                cursors.mark = Mark::later(cursors.mark.take(), mark);
            }
        }
    }

    /// One `-o export` entry: `NAME=value` lines, or `NAME`, a 64-bit little-endian length and
    /// that many bytes for binary values; an empty line ends it.
    fn export_entry(&mut self) -> io::Result<()> {
        let mut e = Entry::default();
        let mut any = false;
        loop {
            let mut line = Vec::new();
            let Some(whole) = bounded_line(&mut self.inner, &mut line)? else {
                self.done = true;
                break;
            };
            if !whole {
                // A field line longer than any journald writes: the field is left out.
                continue;
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if text.is_empty() {
                break;
            }
            any = true;
            match memchr::memchr(b'=', text) {
                Some(eq) => e.set(&text[..eq], text[eq + 1..].to_vec()),
                None => {
                    let mut len = [0u8; 8];
                    self.inner.read_exact(&mut len)?;
                    let len = u64::from_le_bytes(len);
                    // Journald caps a field far below this; a larger one is not an export.
                    if len > MAX_FIELD as u64 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("journal export field of {len} bytes"),
                        ));
                    }
                    let mut value = Vec::new();
                    (&mut self.inner).take(len).read_to_end(&mut value)?;
                    let mut nl = [0u8; 1];
                    self.inner.read_exact(&mut nl)?;
                    e.set(text, value);
                }
            }
        }
        if any {
            self.entry(&e);
        }
        Ok(())
    }
}

/// The longest entry line (`-o json`) or field (`-o export`) kept: journald's own limits are
/// far below (a syslog message is cut at 48 KiB by default); memory stays bounded whatever
/// the stream.
const MAX_FIELD: usize = 4 << 20;

/// Reads a line (with its `\n`) into `line`, keeping at most [`MAX_FIELD`] bytes of it; the
/// rest of a longer line is read and dropped. `None` at the end of the stream; `Some(false)`
/// for a line that was cut.
fn bounded_line<R: BufRead>(r: &mut R, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let mut any = false;
    let mut whole = true;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(whole));
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = MAX_FIELD.saturating_sub(line.len());
        if take > room {
            whole = false;
        }
        line.extend_from_slice(&buf[..take.min(room)]);
        r.consume(take);
        if done {
            return Ok(Some(whole));
        }
    }
}

/// A JSON field's bytes: a string, journald's array of byte values (text that is not UTF-8),
/// or the first of a repeated field's values.
fn json_bytes(v: &serde_json::Value) -> Option<Vec<u8>> {
    match v {
        serde_json::Value::String(s) => Some(s.as_bytes().to_vec()),
        serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_u64) => items
            .iter()
            .map(|b| b.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect(),
        serde_json::Value::Array(items) => items.first().and_then(json_bytes),
        _ => None,
    }
}

impl<R: BufRead> Read for JournalReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    /// A stream that is no journal comes back whole through `wrap`, in reads of any size.
    #[test]
    fn a_stream_that_is_no_journal_reads_back_whole() {
        use crate::input::decompress::{decode, tests::long_plain, tests::read_in};
        let data = long_plain();
        for size in [1, 4096, 60 << 10, 128 << 10, 192 << 10, 1 << 20] {
            let opened = decode(Box::new(io::Cursor::new(data.clone())), "t").expect("open");
            let (mut opened, journal) = wrap(opened, &jiff::tz::TimeZone::UTC, None).expect("wrap");
            assert!(journal.is_none());
            assert_eq!(read_in(&mut opened.reader, size), data, "reads of {size}");
        }
    }

    fn convert(stream: &[u8]) -> String {
        let f = Format::detect(stream).expect("a journal stream");
        let mut r = JournalReader::new(stream, f, jiff::tz::TimeZone::UTC);
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("read");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn json_entries_become_syslog_lines() {
        let json = br#"{"__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"mx1","SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"4242","_PID":"4242","_COMM":"smtpd","MESSAGE":"connect from unknown[192.0.2.1]"}
{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1700000001000000","_HOSTNAME":"mx2","SYSLOG_IDENTIFIER":"postfix/qmgr","_PID":"7","MESSAGE":[74,233,114,244,109,101]}
"#;
        assert_eq!(
            convert(json),
            "2023-11-14T22:13:20.123456+00:00 mx1 postfix/smtpd[4242]: connect from unknown[192.0.2.1]\n2023-11-14T22:13:21.000000+00:00 mx2 postfix/qmgr[7]: J\u{fffd}r\u{fffd}me\n"
        );
    }

    #[test]
    fn export_entries_with_binary_fields() {
        let mut s = Vec::new();
        s.extend_from_slice(b"__CURSOR=s=1;i=1\n__REALTIME_TIMESTAMP=1700000000123456\n_HOSTNAME=mx1\nSYSLOG_IDENTIFIER=postfix/smtpd\nSYSLOG_PID=4242\nMESSAGE=connect from unknown[192.0.2.1]\n\n");
        s.extend_from_slice(b"__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1700000001000000\n_HOSTNAME=mx2\nSYSLOG_IDENTIFIER=postfix/qmgr\n_PID=7\nMESSAGE\n");
        s.extend_from_slice(&6u64.to_le_bytes());
        s.extend_from_slice(b"J\xe9r\xf4me\n\n");
        let f = Format::detect(&s).expect("export");
        assert_eq!(f, Format::Export);
        let mut r = JournalReader::new(&s[..], f, jiff::tz::TimeZone::UTC);
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("read");
        assert_eq!(
            out,
            b"2023-11-14T22:13:20.123456+00:00 mx1 postfix/smtpd[4242]: connect from unknown[192.0.2.1]\n2023-11-14T22:13:21.000000+00:00 mx2 postfix/qmgr[7]: J\xe9r\xf4me\n"
        );
    }

    #[test]
    fn a_mark_covers_its_sequence_by_number_and_others_by_time() {
        let m = |id: &str, i: u64, t: i64| Mark {
            seqnum_id: id.into(),
            seqnum: i,
            realtime: t,
        };
        let mark = m("a", 10, 1000);
        assert!(mark.covers(&m("a", 10, 5000)) && !mark.covers(&m("a", 11, 10)));
        assert!(mark.covers(&m("b", 99, 1000)) && !mark.covers(&m("b", 1, 1001)));
        // A clock step back within a sequence does not move the bookmark back.
        assert_eq!(
            Mark::later(Some(m("a", 10, 1000)), Some(m("a", 11, 10))),
            Some(m("a", 11, 10))
        );
        assert_eq!(
            Mark::later(Some(m("a", 12, 10)), Some(m("a", 11, 1000))),
            Some(m("a", 12, 10))
        );
        assert_eq!(
            Mark::of(b"s=ab;i=1f;b=x;m=1;t=2;x=3", 7),
            Some(m("ab", 31, 7))
        );
    }

    #[test]
    fn an_over_long_line_is_left_out_and_the_stream_goes_on() {
        let mut s = br#"{"__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"1700000000000000","_HOSTNAME":"mx1","SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":""#.to_vec();
        s.extend(std::iter::repeat_n(b'x', MAX_FIELD + 10));
        s.extend_from_slice(b"\"}\n");
        s.extend_from_slice(br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1700000001000000","_HOSTNAME":"mx1","SYSLOG_IDENTIFIER":"postfix/qmgr","MESSAGE":"ok"}"#);
        s.push(b'\n');
        assert_eq!(
            convert(&s),
            "2023-11-14T22:13:21.000000+00:00 mx1 postfix/qmgr: ok\n"
        );
    }

    #[test]
    fn other_text_is_not_a_journal() {
        assert_eq!(
            Format::detect(b"Mar  1 10:00:00 mx postfix/smtpd[1]: x"),
            None
        );
        assert_eq!(Format::detect(b"{\"a\":1}\n"), None);
    }
}
