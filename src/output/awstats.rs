//! maillogconvert.pl's output line, read by AWStats with `LogType=M` and
//! `LogFormat="%time2 %email %email_r %host %host_r %method %url %code %bytesd"`:
//! `YYYY-MM-DD HH:MM:SS from to relay_s relay_r SMTP - code size`.
//! Field rules follow maillogconvert.pl's OutputRecord (address cleaning, `host[ip]` → host, or
//! ip for `unknown`, `<>` for an empty address, code 1 = sent, the SMTP code for rejects, 999
//! for bounces, `?` for an unknown size). Deferrals, discards and content-filter hops are not
//! written, as maillogconvert.pl does not count them. Spaces in a field become `%20`.

use super::RecordWriter;
use crate::record::{RecordRef, Status};
use std::io::{self, Write};

// The format is plain ASCII apart from the log's own bytes; no `write!` in the hot path.

pub struct Awstats<W> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> Awstats<W> {
    pub fn new(out: W) -> Self {
        Awstats {
            out,
            buf: Vec::with_capacity(512),
        }
    }
}

impl<W: Write + Send> RecordWriter for Awstats<W> {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        self.buf.clear();
        if line(r, &mut self.buf) {
            self.out.write_all(&self.buf)?;
        }
        Ok(())
    }

    fn renderer(&self) -> Option<super::Render> {
        Some(|r, out| {
            let start = out.len();
            if !line(r, out) {
                out.truncate(start);
            }
            Ok(())
        })
    }

    /// The relay is written as logged, and no delays.
    fn details(&self) -> bool {
        false
    }

    /// A delivery's code is its status's (a bounce's from its DSN, as logged if it is).
    fn reply_codes(&self) -> bool {
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

/// The AWStats code for a record, `None` if the record is not written.
pub fn code(r: &RecordRef) -> Option<u16> {
    match r.status? {
        Status::Sent if r.is_hop() => None,
        Status::Sent => Some(1),
        Status::Bounced if r.mta == Some(crate::parse::Mta::Exchange) => Some(999),
        // A CONNECT/EHLO reject names no sender and no recipient: not a mail.
        Status::Rejected if r.sender.is_none() && r.recipient.is_empty() => None,
        // maillogconvert.pl: 550 for Sendmail's `User unknown` (dsn=5.x.x), 999 otherwise.
        Status::Bounced if r.mta == Some(crate::parse::Mta::Sendmail) => {
            Some(if r.dsn.first() == Some(&b'5') {
                550
            } else {
                999
            })
        }
        Status::Bounced | Status::Expired => Some(999),
        Status::Rejected => Some(r.smtp_code.or_else(|| perl_code(r.reply)).unwrap_or(
            match r.dsn.first() {
                // cleanup and milter rejects log only the enhanced code; smtpd sent 4xx/5xx.
                Some(b'4') => 450,
                Some(b'5') => 550,
                _ => 999,
            },
        )),
        Status::Deferred | Status::Discarded => None,
    }
}

/// maillogconvert.pl takes any three digits that begin a reject's text as its code; the
/// `smtp_code` column holds only RFC 5321 replies (2xx–5xx), so the rest are read here.
fn perl_code(reply: &[u8]) -> Option<u16> {
    match reply {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', rest @ ..]
            if matches!(rest.first(), None | Some(b' ' | b'-')) =>
        {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// Bytes CleanEmail drops or a field must escape.
const SPECIAL: [u8; 8] = *b"#<|>[] \t";

/// Appends `a` with maillogconvert.pl's CleanEmail applied (drops `#<|>[]`) and spaces
/// escaped; `<>` if nothing is left. Returns the cleaned bytes' range in `buf`.
fn email(buf: &mut Vec<u8>, a: &[u8]) -> std::ops::Range<usize> {
    let start = buf.len();
    if !crate::search::any_of(SPECIAL, a) {
        buf.extend_from_slice(a);
        if a.is_empty() {
            buf.extend_from_slice(b"<>");
        }
        return start..buf.len();
    }
    for &c in a {
        match c {
            b'#' | b'<' | b'|' | b'>' | b'[' | b']' => {}
            b' ' => buf.extend_from_slice(b"%20"),
            b'\t' => buf.extend_from_slice(b"%09"),
            _ => buf.push(c),
        }
    }
    if buf.len() == start {
        buf.extend_from_slice(b"<>");
    }
    start..buf.len()
}

/// maillogconvert.pl's CleanHost on a `relay=` value: `[ip]` → ip, `unknown[ip]` → ip,
/// `host[ip]:port` → host, `user@host` → host.
fn clean_host(raw: &[u8]) -> &[u8] {
    let mut s = raw;
    if s.len() >= 2 && s[0] == b'[' && s[s.len() - 1] == b']' {
        s = &s[1..s.len() - 1];
    }
    let after_unknown = s.strip_prefix(b"unknown").map(|r| r.trim_ascii_start());
    match after_unknown {
        Some(r) if r.first() == Some(&b'[') => {
            let close = crate::search::byte_rev(b']', r).unwrap_or(r.len());
            s = r.get(1..close).unwrap_or_default();
        }
        _ => {
            if let Some(i) = crate::search::byte(b'[', s) {
                s = s[..i].trim_ascii_end();
            }
        }
    }
    match crate::search::byte_rev(b'@', s) {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

/// The trailing-dot and `local` rules maillogconvert.pl applies to both relay fields.
fn finish_host(h: &[u8]) -> &[u8] {
    let h = h.strip_suffix(b".").unwrap_or(h);
    if h == b"local" || h == b"localhost.localdomain" {
        b"localhost"
    } else {
        h
    }
}

/// Appends `v` as one space-free field.
fn field(buf: &mut Vec<u8>, v: &[u8]) {
    if !crate::search::any_of(*b" \t", v) {
        buf.extend_from_slice(v);
        return;
    }
    for &c in v {
        match c {
            b' ' => buf.extend_from_slice(b"%20"),
            b'\t' => buf.extend_from_slice(b"%09"),
            _ => buf.push(c),
        }
    }
}

/// Appends `t` as `YYYY-MM-DD HH:MM:SS ` in one write (a year outside 0..=9999 keeps its last
/// four digits, as the zero-padded field always did; a negative one is `0000`). The twenty
/// bytes are put together in two registers: as an array of two-byte pairs, the compiler
/// wrote the pairs to the stack and read them back in wider loads, which the CPU cannot
/// forward from narrower stores (the line's hottest instruction after the size's, perf).
fn stamp(buf: &mut Vec<u8>, t: jiff::civil::DateTime) {
    let y = u32::try_from(t.year()).unwrap_or(0) % 10_000;
    let pair = |n: u32| u128::from(digit_pair(n));
    let field = |n: i8| pair(u32::from(n.unsigned_abs()));
    let head = pair(y / 100)
        | pair(y) << 16
        | u128::from(b'-') << 32
        | field(t.month()) << 40
        | u128::from(b'-') << 56
        | field(t.day()) << 64
        | u128::from(b' ') << 80
        | field(t.hour()) << 88
        | u128::from(b':') << 104
        | field(t.minute()) << 112;
    let second = u32::from(digit_pair(u32::from(t.second().unsigned_abs())));
    let tail = u32::from(b':') | second << 8 | u32::from(b' ') << 24;
    let mut out = [0u8; 20];
    out[..16].copy_from_slice(&head.to_le_bytes());
    out[16..].copy_from_slice(&tail.to_le_bytes());
    buf.extend_from_slice(&out);
}

/// The last two decimal digits of `n` as the bytes of a `u16` (the first digit lowest), for
/// [`stamp`] and [`number`] to shift into place.
fn digit_pair(n: u32) -> u16 {
    u16::from_le_bytes(super::two_digits(n))
}

/// Appends `n` in decimal. Below 10^8 (every size and code a log holds) the eight digits are
/// put together in a register from four pairs and written in one store, then cut to the
/// number's length: formatted into a buffer of their own (itoa) and copied, the digits were
/// stored two at a time and read back in wider loads, which the CPU cannot forward from those
/// stores (the line's hottest instruction, ~12% of its samples, perf).
fn number(buf: &mut Vec<u8>, n: u64) {
    // A delivery's code is `1`: one byte, without the eight-digit word (~35 instructions).
    if n < 10 {
        buf.push(b'0' + n as u8);
        return;
    }
    let Some(small) = u32::try_from(n).ok().filter(|&n| n < 100_000_000) else {
        buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        return;
    };
    let pair = |k: u32| u64::from(digit_pair(k));
    let (hi, lo) = (small / 10_000, small % 10_000);
    let digits = pair(hi / 100) | pair(hi) << 16 | pair(lo / 100) << 32 | pair(lo) << 48;
    let len = small.checked_ilog10().map_or(1, |l| l as usize + 1);
    // The leading zeros are the first bytes: shifted out, the number starts the word.
    let word = digits >> (8 * (8 - len));
    let start = buf.len();
    buf.extend_from_slice(&word.to_le_bytes());
    buf.truncate(start + len);
}

/// maillogconvert.pl's `%url` for MDaemon: `?virus=V&rbl=R&heuristicspam=S&ssl=T`, white space
/// as `_`; `-` when the log has no checks.
fn checks(buf: &mut Vec<u8>, checks: Option<[&[u8]; 4]>) {
    let Some(values) = checks else {
        buf.push(b'-');
        return;
    };
    let start = buf.len();
    for (name, v) in ["?virus=", "&rbl=", "&heuristicspam=", "&ssl="]
        .into_iter()
        .zip(values)
    {
        buf.extend_from_slice(name.as_bytes());
        buf.extend(
            v.iter()
                .map(|&c| if c.is_ascii_whitespace() { b'_' } else { c }),
        );
    }
    if buf.len() == start {
        buf.push(b'-');
    }
}

/// Writes the AWStats line for `r` into `buf`; false if the record has no line.
pub fn line(r: &RecordRef, buf: &mut Vec<u8>) -> bool {
    let (Some(code), Some(ts)) = (code(r), r.ts) else {
        return false;
    };
    stamp(buf, ts.local);

    let from = email(buf, r.sender.unwrap_or_default());
    buf.push(b' ');

    let to: &[u8] = if r.status == Some(Status::Sent) && !r.orig_recipient.is_empty() {
        r.orig_recipient
    } else if r.recipient.is_empty() && r.status == Some(Status::Rejected) {
        // maillogconvert.pl takes the <…> of the reject text when there is no to=.
        let open = crate::search::byte(b'<', r.reply);
        let close = crate::search::byte_rev(b'>', r.reply);
        match (open, close) {
            (Some(o), Some(c)) if c > o => &r.reply[o + 1..c],
            _ => b"",
        }
    } else {
        r.recipient
    };
    email(buf, to);
    buf.push(b' ');

    let client: &[u8] = if !r.client_host.is_empty() && r.client_host != b"unknown" {
        clean_host(r.client_host)
    } else {
        r.client_ip
    };
    if client.is_empty() {
        // CleanDomain of the cleaned sender: its domain, or localhost for <>.
        let f = &buf[from.clone()];
        let f = if f == b"<>" { &f[..0] } else { f };
        let d = crate::search::byte_rev(b'@', f).map_or(f, |i| &f[i + 1..]);
        let d = if d.is_empty() { &b"localhost"[..] } else { d };
        let d = finish_host(d).to_vec();
        field(buf, &d);
    } else {
        field(buf, finish_host(client));
    }
    buf.push(b' ');

    // maillogconvert.pl reads `relay=` up to the first space or comma (Sendmail writes
    // `relay=host. [ip]`, Exim `host [ip]`).
    let relay_word = crate::search::either(b' ', b',', r.relay).map_or(r.relay, |i| &r.relay[..i]);
    let relay_r = finish_host(clean_host(relay_word));
    field(buf, if relay_r.is_empty() { b"-" } else { relay_r });
    buf.extend_from_slice(b" SMTP ");
    checks(buf, r.checks);
    buf.push(b' ');
    number(buf, u64::from(code));
    buf.push(b' ');
    match r.size {
        Some(s) => number(buf, s),
        None => buf.push(b'?'),
    }
    buf.push(b'\n');
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_numbers() {
        let mut buf = Vec::new();
        stamp(&mut buf, jiff::civil::date(2026, 1, 2).at(3, 4, 5, 0));
        stamp(&mut buf, jiff::civil::date(987, 12, 31).at(23, 59, 59, 999));
        number(&mut buf, 0);
        buf.push(b' ');
        number(&mut buf, u64::MAX);
        assert_eq!(
            String::from_utf8_lossy(&buf),
            "2026-01-02 03:04:05 0987-12-31 23:59:59 0 18446744073709551615"
        );
        // Every length of number, at and around each power of ten, and random ones.
        let mut next = crate::testing::xorshift(0x0dd5_1e55);
        let mut cases = vec![0, 1, 9, 99, u64::MAX];
        for k in 1..20 {
            let p = 10u64.pow(k);
            cases.extend([p - 1, p, p + 1]);
        }
        cases.extend((0..2000).map(|i| next() >> (i % 64)));
        for n in cases {
            let mut b = b"x".to_vec();
            number(&mut b, n);
            assert_eq!(b, format!("x{n}").into_bytes());
        }
        for (y, mo, d, h, mi, s) in [
            (1, 1, 1, 0, 0, 0),
            (9999, 12, 31, 23, 59, 59),
            (2024, 2, 29, 12, 30, 7),
        ] {
            let mut b = Vec::new();
            stamp(&mut b, jiff::civil::date(y, mo, d).at(h, mi, s, 0));
            assert_eq!(
                b,
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} ").into_bytes()
            );
        }
    }

    #[test]
    fn clean_host_rules() {
        for (raw, want) in [
            ("10.0.0.1[10.0.0.1]:1025", "10.0.0.1"),
            ("mx.example.com[192.0.2.1]:25", "mx.example.com"),
            ("unknown[10.0.80.60]", "10.0.80.60"),
            ("unknown[2001:db8::1]:25", "2001:db8::1"),
            ("[192.0.2.1]", "192.0.2.1"),
            ("[192.0.2.1]:25", ""),
            ("local", "local"),
            ("none", "none"),
            ("root@host", "host"),
        ] {
            assert_eq!(clean_host(raw.as_bytes()), want.as_bytes(), "{raw}");
        }
    }

    #[test]
    fn fields_never_contain_spaces() {
        let mut buf = Vec::new();
        field(&mut buf, b"a b\tc@d");
        assert_eq!(buf, b"a%20b%09c@d");
    }
}
