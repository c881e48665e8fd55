//! The columns of the structured formats (CSV, JSON Lines, Parquet): one list, one accessor,
//! so every format has the same names, order and meaning (README's schema table).

use crate::record::{RecordRef, Status};
use crate::time::Stamp;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An instant, microseconds, UTC.
    Timestamp,
    /// Text; `dict` columns have few distinct values (dictionary-encoded in Parquet).
    Text {
        dict: bool,
    },
    Int32,
    Int64,
    Float64,
}

/// One column: name, type, whether it can be null.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

const fn col(name: &'static str, kind: Kind, nullable: bool) -> Column {
    Column {
        name,
        kind,
        nullable,
    }
}

const TEXT: Kind = Kind::Text { dict: false };
const DICT: Kind = Kind::Text { dict: true };

/// Every column, in order.
/// New columns go at the end, so positional readers of earlier files keep working.
pub const COLUMNS: [Column; 36] = [
    col("ts", Kind::Timestamp, false),
    col("ts_local", TEXT, false),
    col("host", DICT, true),
    col("mta", DICT, false),
    col("queue_id", TEXT, true),
    col("message_id", TEXT, true),
    col("sender", TEXT, true),
    col("recipient", TEXT, true),
    col("orig_recipient", TEXT, true),
    col("client_host", DICT, true),
    col("client_ip", TEXT, true),
    col("sasl_username", DICT, true),
    col("relay", DICT, true),
    col("relay_host", DICT, true),
    col("relay_ip", DICT, true),
    col("relay_port", Kind::Int32, true),
    col("status", DICT, false),
    col("dsn", DICT, true),
    col("smtp_code", Kind::Int32, true),
    col("reply", TEXT, true),
    col("size", Kind::Int64, true),
    col("nrcpt", Kind::Int32, true),
    col("delay", Kind::Float64, true),
    col("delay_before_queue", Kind::Float64, true),
    col("delay_in_queue", Kind::Float64, true),
    col("delay_connect", Kind::Float64, true),
    col("delay_transmit", Kind::Float64, true),
    col("proto", DICT, true),
    col("helo", DICT, true),
    col("received_ts", Kind::Timestamp, true),
    col("next_queue_id", TEXT, true),
    col("prev_queue_id", TEXT, true),
    col("source_file", DICT, false),
    col("source_line", Kind::Int64, false),
    col("sender_domain", DICT, true),
    col("recipient_domain", DICT, true),
];

/// A field's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Text(&'a [u8]),
    /// Text to be written with ASCII letters in lower case (see [`lower`]).
    Lower(&'a [u8]),
    Int(i64),
    Float(f64),
    /// Microseconds since the epoch, UTC.
    Micros(i64),
}

fn text(v: &[u8]) -> Value<'_> {
    if v.is_empty() {
        Value::Null
    } else {
        Value::Text(v)
    }
}

fn micros(s: Option<Stamp>) -> Value<'static> {
    match s {
        Some(s) => Value::Micros(s.instant.as_microsecond()),
        None => Value::Null,
    }
}

fn opt_int<T: Into<i64>>(v: Option<T>) -> Value<'static> {
    v.map_or(Value::Null, |v| Value::Int(v.into()))
}

fn opt_float(v: Option<f64>) -> Value<'static> {
    v.map_or(Value::Null, Value::Float)
}

/// Classes of a domain's bytes: [`NOT_IN_DOMAIN`], the bytes that make a domain no name
/// (ASCII controls and ` []()<>@,;:/\|"'=`), and [`TO_LOWER`], the bytes that send it
/// through [`lower`] (ASCII capitals, and bytes past ASCII, whose UTF-8 `lower` checks). A
/// table: a search of the list for each byte was a `memchr` call a byte (4% of a Parquet run,
/// perf).
const DOMAIN_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_control() {
            t[c] |= NOT_IN_DOMAIN;
        }
        if b.is_ascii_uppercase() || !b.is_ascii() {
            t[c] |= TO_LOWER;
        }
        c += 1;
    }
    let list = b" []()<>@,;:/\\|\"'=";
    let mut i = 0;
    while i < list.len() {
        t[list[i] as usize] |= NOT_IN_DOMAIN;
        i += 1;
    }
    t
};
const NOT_IN_DOMAIN: u8 = 1;
const TO_LOWER: u8 = 2;

/// The domain of an address, for per-domain reports: after the last `@`, without a domain
/// literal's brackets or a trailing dot, written in lower case (non-ASCII, IDNA, as logged);
/// null for a local name, a program or a file, or a domain that is no name. A domain already
/// in lower-case ASCII is its own text: [`lower`] (a UTF-8 check and a second pass) ran for
/// both domains of every Parquet row, ~470 instructions a record (callgrind).
fn domain(addr: &[u8]) -> Value<'_> {
    let Some(at) = crate::search::byte_rev(b'@', addr) else {
        return Value::Null;
    };
    let d = &addr[at + 1..];
    let d = d
        .strip_prefix(b"[")
        .and_then(|x| x.strip_suffix(b"]"))
        .unwrap_or(d);
    let d = d.strip_suffix(b".").unwrap_or(d);
    let class = d.iter().fold(0, |k, &c| k | DOMAIN_CLASS[usize::from(c)]);
    if d.is_empty() || class & NOT_IN_DOMAIN != 0 {
        Value::Null
    } else if class & TO_LOWER != 0 {
        Value::Lower(d)
    } else {
        Value::Text(d)
    }
}

/// `t` as UTF-8 with ASCII letters in lower case; borrowed when it has none in upper case.
pub fn lower(t: &[u8]) -> std::borrow::Cow<'_, str> {
    let s = utf8(t);
    if s.bytes().any(|c| c.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        s
    }
}

/// A text field as UTF-8: itself when it is valid (nearly always), else with U+FFFD for the
/// bytes that are not. `std::str::from_utf8` checks ASCII a word at a time; the lossy
/// conversion alone walks byte by byte (7% of the CPU time of a 100 MB Parquet run).
pub fn utf8(t: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(t) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(t),
    }
}

/// `2026-03-02T07:44:21.123456+01:00`: the wall time as logged, with the offset in force.
pub fn local_text(s: &Stamp) -> String {
    let mut out = Vec::with_capacity(32);
    local_text_into(s, &mut out);
    // ASCII digits and punctuation only.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`local_text`] appended to `out`, its digits written directly: Parquet rows write it for
/// every record, and formatting it was ~5% of the merge step. A year outside 0–9999 or an
/// offset past ±99 hours (which `{:04}` and `{:02}` write otherwise) is formatted.
pub fn local_text_into(s: &Stamp, out: &mut Vec<u8>) {
    let t = s.local;
    if !(0..=9999).contains(&t.year()) || !(-99 * 3600..=99 * 3600).contains(&s.offset) {
        out.extend_from_slice(local_text_formatted(s).as_bytes());
        return;
    }
    let two = super::two_digits;
    let y = t.year().unsigned_abs() as u32;
    let (sign, o) = if s.offset < 0 {
        (b'-', s.offset.unsigned_abs())
    } else {
        (b'+', s.offset.unsigned_abs())
    };
    let [y0, y1] = two(y / 100);
    let [y2, y3] = two(y % 100);
    let [mo0, mo1] = two(t.month().unsigned_abs().into());
    let [d0, d1] = two(t.day().unsigned_abs().into());
    let [h0, h1] = two(t.hour().unsigned_abs().into());
    let [mi0, mi1] = two(t.minute().unsigned_abs().into());
    let [s0, s1] = two(t.second().unsigned_abs().into());
    out.extend_from_slice(&[
        y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T', h0, h1, b':', mi0, mi1, b':', s0, s1,
    ]);
    let frac = t.subsec_nanosecond().unsigned_abs() / 1000;
    if frac != 0 {
        let [f0, f1] = two(frac / 10_000);
        let [f2, f3] = two(frac / 100 % 100);
        let [f4, f5] = two(frac % 100);
        out.extend_from_slice(&[b'.', f0, f1, f2, f3, f4, f5]);
    }
    let [oh0, oh1] = two(o / 3600);
    let [om0, om1] = two(o % 3600 / 60);
    out.extend_from_slice(&[sign, oh0, oh1, b':', om0, om1]);
}

/// [`local_text`] through `format!`: the times [`local_text_into`] does not write itself.
fn local_text_formatted(s: &Stamp) -> String {
    let (sign, o) = if s.offset < 0 {
        ('-', -s.offset)
    } else {
        ('+', s.offset)
    };
    let t = s.local;
    let frac = t.subsec_nanosecond() / 1000;
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:06}")
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}{sign}{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        o / 3600,
        o % 3600 / 60
    )
}

/// `2026-03-02T06:44:21.123456Z`, or without fraction when whole seconds.
pub fn utc_text(micros: i64) -> String {
    let ts = jiff::Timestamp::from_microsecond(micros).unwrap_or_default();
    let s = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = micros.rem_euclid(1_000_000);
    if frac == 0 {
        format!("{s}Z")
    } else {
        format!("{s}.{frac:06}Z")
    }
}

/// Column `i` of `r` (`i` < `COLUMNS.len()`; `ts_local` is built by the caller, see
/// [`local_text`], to keep this free of allocation).
pub fn value<'a>(r: &'a RecordRef<'a>, i: usize) -> Value<'a> {
    value_of(r, i)
}

/// [`value`], inlined where the index is a constant, so that its match folds away (Parquet's
/// rows); the other formats call `value` as before.
#[inline(always)]
pub fn value_of<'a>(r: &'a RecordRef<'a>, i: usize) -> Value<'a> {
    let delays = |k: usize| opt_float(r.delays.map(|d| d[k]));
    match i {
        0 => micros(r.ts),
        1 => Value::Null,
        2 => text(r.host),
        3 => Value::Text(r.mta.map_or("", |m| m.name()).as_bytes()),
        4 => text(r.queue_id),
        5 => text(r.message_id),
        6 => r.sender.map_or(Value::Null, Value::Text),
        7 => text(r.recipient),
        8 => text(r.orig_recipient),
        9 => text(r.client_host),
        10 => text(r.client_ip),
        11 => text(r.sasl_username),
        12 => text(r.relay),
        13 => text(r.relay_host),
        14 => text(r.relay_ip),
        15 => opt_int(r.relay_port),
        16 => Value::Text(r.status.map_or("", Status::name).as_bytes()),
        17 => text(r.dsn),
        18 => opt_int(r.smtp_code),
        19 => text(r.reply),
        20 => r.size.map_or(Value::Null, |s| {
            Value::Int(i64::try_from(s).unwrap_or(i64::MAX))
        }),
        21 => opt_int(r.nrcpt),
        22 => opt_float(r.delay),
        23 => delays(0),
        24 => delays(1),
        25 => delays(2),
        26 => delays(3),
        27 => text(r.proto),
        28 => text(r.helo),
        29 => micros(r.received_ts),
        30 => text(r.next_queue_id),
        31 => text(r.prev_queue_id),
        32 => Value::Text(r.source_file),
        33 => Value::Int(i64::try_from(r.source_line).unwrap_or(i64::MAX)),
        34 => domain(r.sender.unwrap_or_default()),
        35 => domain(r.recipient),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_text_written_is_local_text() {
        use crate::time::Stamp;
        let mut n = 0;
        for year in [0, 1, 99, 1970, 2026, 9999, -1, 10_000 - 1] {
            for (h, mi, sec, nano) in [
                (0, 0, 0, 0),
                (7, 44, 21, 123_456_000),
                (23, 59, 59, 1_000),
                (12, 5, 9, 999),
            ] {
                for offset in [
                    0,
                    3600,
                    -3600,
                    5 * 3600 + 45 * 60,
                    -(3 * 3600 + 30 * 60),
                    14 * 3600,
                    -12 * 3600,
                    59,
                ] {
                    let Ok(local) = jiff::civil::DateTime::new(year, 3, 2, h, mi, sec, nano) else {
                        continue;
                    };
                    let s = Stamp {
                        local,
                        offset,
                        instant: jiff::Timestamp::UNIX_EPOCH,
                    };
                    let mut out = Vec::new();
                    local_text_into(&s, &mut out);
                    assert_eq!(
                        String::from_utf8_lossy(&out),
                        local_text_formatted(&s),
                        "{s:?}"
                    );
                    assert_eq!(local_text(&s), local_text_formatted(&s));
                    n += 1;
                }
            }
        }
        assert!(n > 200);
    }

    #[test]
    fn domain_table_is_the_list() {
        for c in 0..=255u8 {
            let listed = c.is_ascii_control() || b" []()<>@,;:/\\|\"'=".contains(&c);
            let class = DOMAIN_CLASS[usize::from(c)];
            assert_eq!(class & NOT_IN_DOMAIN != 0, listed, "{c}");
            // Lowered, or not ASCII (whose UTF-8 check is `lower`'s).
            let changes = !c.is_ascii() || c.to_ascii_lowercase() != c;
            assert_eq!(class & TO_LOWER != 0, changes, "{c}");
        }
    }

    #[test]
    fn domains_are_lower_case_names() {
        let d = |a: &str| match domain(a.as_bytes()) {
            Value::Lower(t) => Some(lower(t).into_owned()),
            // Only text that `lower` leaves as it is comes unlowered.
            Value::Text(t) => {
                assert_eq!(lower(t), std::str::from_utf8(t).unwrap_or_default(), "{a}");
                Some(String::from_utf8_lossy(t).into_owned())
            }
            _ => None,
        };
        assert_eq!(d("User@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(d("\"a b\"@x.example").as_deref(), Some("x.example"));
        assert_eq!(d("postmaster@[192.0.2.1]").as_deref(), Some("192.0.2.1"));
        assert_eq!(
            d("a@mail.example.org.").as_deref(),
            Some("mail.example.org")
        );
        // IDNA and UTF-8 as logged; only ASCII letters are lowered.
        assert_eq!(d("a@Bücher.example").as_deref(), Some("bücher.example"));
        for none in ["CALLER", "|/usr/bin/procmail", "", "a@", "a@b c"] {
            assert_eq!(d(none), None, "{none}");
        }
    }
}
