//! maillogconvert.pl's output line, read by AWStats with `LogType=M` and
//! `LogFormat="%time2 %email %email_r %host %host_r %method %url %code %bytesd"`:
//! `YYYY-MM-DD HH:MM:SS from to relay_s relay_r SMTP - code size`.
//! Field rules follow maillogconvert.pl's OutputRecord (address cleaning, `host[ip]` → host, or
//! ip for `unknown`, `<>` for an empty address, code 1 = sent, the SMTP code for rejects, 999
//! for bounces, `?` for an unknown size). Deferrals, discards and content-filter hops are not
//! written, as maillogconvert.pl does not count them. Spaces in a field become `%20`.

use super::RecordWriter;
use crate::record::{Record, Status};
use std::io::{self, Write};

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
    fn write_record(&mut self, r: &Record) -> io::Result<()> {
        self.buf.clear();
        if line(r, &mut self.buf) {
            self.out.write_all(&self.buf)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The AWStats code for a record, `None` if the record is not written.
pub fn code(r: &Record) -> Option<u16> {
    match r.status? {
        Status::Sent if r.is_hop() => None,
        Status::Sent => Some(1),
        // A CONNECT/EHLO reject names no sender and no recipient: not a mail.
        Status::Rejected if r.sender.is_none() && r.recipient.is_empty() => None,
        Status::Bounced | Status::Expired => Some(999),
        Status::Rejected => Some(r.smtp_code.unwrap_or(match r.dsn.first() {
            // cleanup and milter rejects log only the enhanced code; smtpd sent 4xx/5xx.
            Some(b'4') => 450,
            Some(b'5') => 550,
            _ => 999,
        })),
        Status::Deferred | Status::Discarded => None,
    }
}

/// maillogconvert.pl's CleanEmail: drops `#<|>[]`.
fn clean_email(a: &[u8], out: &mut Vec<u8>) {
    out.extend(a.iter().filter(|c| !b"#<|>[]".contains(c)));
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
            let close = memchr::memrchr(b']', r).unwrap_or(r.len());
            s = r.get(1..close).unwrap_or_default();
        }
        _ => {
            if let Some(i) = memchr::memchr(b'[', s) {
                s = s[..i].trim_ascii_end();
            }
        }
    }
    match memchr::memrchr(b'@', s) {
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
    for &c in v {
        match c {
            b' ' => buf.extend_from_slice(b"%20"),
            b'\t' => buf.extend_from_slice(b"%09"),
            _ => buf.push(c),
        }
    }
}

/// Writes the AWStats line for `r` into `buf`; false if the record has no line.
pub fn line(r: &Record, buf: &mut Vec<u8>) -> bool {
    let (Some(code), Some(ts)) = (code(r), r.ts) else {
        return false;
    };
    let t = ts.local;
    let _ = write!(
        buf,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} ",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let mut tmp = Vec::with_capacity(64);

    clean_email(r.sender.as_deref().unwrap_or_default(), &mut tmp);
    let from = if tmp.is_empty() {
        b"<>".to_vec()
    } else {
        tmp.clone()
    };
    field(buf, &from);
    buf.push(b' ');

    tmp.clear();
    let to: &[u8] = if r.status == Some(Status::Sent) && !r.orig_recipient.is_empty() {
        &r.orig_recipient
    } else if r.recipient.is_empty() && r.status == Some(Status::Rejected) {
        // maillogconvert.pl takes the <…> of the reject text when there is no to=.
        let open = memchr::memchr(b'<', &r.reply);
        let close = memchr::memrchr(b'>', &r.reply);
        match (open, close) {
            (Some(o), Some(c)) if c > o => &r.reply[o + 1..c],
            _ => b"",
        }
    } else {
        &r.recipient
    };
    clean_email(to, &mut tmp);
    field(buf, if tmp.is_empty() { b"<>" } else { &tmp });
    buf.push(b' ');

    let client: &[u8] = if !r.client_host.is_empty() && r.client_host != b"unknown" {
        clean_host(&r.client_host)
    } else {
        &r.client_ip
    };
    let relay_s: &[u8] = if client.is_empty() {
        // CleanDomain of the cleaned sender: its domain, or localhost for <>.
        let f = from.strip_prefix(b"<").unwrap_or(&from);
        let f = f.strip_suffix(b">").unwrap_or(f);
        let d = memchr::memrchr(b'@', f).map_or(f, |i| &f[i + 1..]);
        if d.is_empty() {
            b"localhost"
        } else {
            d
        }
    } else {
        client
    };
    field(buf, finish_host(relay_s));
    buf.push(b' ');

    let relay_r = finish_host(clean_host(&r.relay));
    field(buf, if relay_r.is_empty() { b"-" } else { relay_r });
    buf.extend_from_slice(b" SMTP - ");
    let _ = write!(buf, "{code} ");
    match r.size {
        Some(s) => {
            let _ = write!(buf, "{s}");
        }
        None => buf.push(b'?'),
    }
    buf.push(b'\n');
    true
}

#[cfg(test)]
mod tests {
    use super::*;

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
