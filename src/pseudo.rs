//! `--pseudonymize KEYFILE`: each address's local part becomes a keyed hash (HMAC-SHA-256,
//! truncated), the domain stays, so per-domain reports still work and the same person has the
//! same pseudonym in every run and format with the same key, and an unrelated one with another
//! key. A step between merging and writing: it sees records only.
//!
//! What it covers: sender, recipient, original recipient, SASL user, every address inside
//! the reply text, and the left part of the message-id; with `ips`, the client's address (an IPv6 in `fd00::/8` made from the hash,
//! so the column still parses), its host name and HELO (dropped: they name the client).

use crate::record::{Record, RecordRef};
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A key shorter than this is refused: a pseudonym is only as hard to reverse as its key is to
/// guess.
pub const MIN_KEY_BYTES: usize = 16;

/// The keyed pseudonymiser.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
    ips: bool,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("ips", &self.ips)
            .finish_non_exhaustive()
    }
}

impl Pseudonymizer {
    /// A pseudonymiser with `key` (at least [`MIN_KEY_BYTES`]); `ips`: client addresses too.
    pub fn new(key: &[u8], ips: bool) -> Option<Pseudonymizer> {
        if key.len() < MIN_KEY_BYTES {
            return None;
        }
        Some(Pseudonymizer {
            mac: Hmac::<Sha256>::new_from_slice(key).ok()?,
            ips,
        })
    }

    /// The first 8 bytes of HMAC(key, domain-separation tag, text).
    fn digest(&self, tag: &[u8], text: &[u8]) -> [u8; 8] {
        let mut mac = self.mac.clone();
        mac.update(tag);
        mac.update(&[0]);
        mac.update(text);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 8];
        out.copy_from_slice(&full[..8]);
        out
    }

    /// `local@domain` → `u<16 hex>@domain`; a bare name, a program or a file → `u<16 hex>`;
    /// the null sender stays empty.
    pub fn address(&self, a: &[u8], out: &mut Vec<u8>) {
        self.tagged(b"local", b'u', a, out);
    }

    /// [`Pseudonymizer::address`] with a tag and a letter of its own (message-ids).
    fn tagged(&self, tag: &[u8], letter: u8, a: &[u8], out: &mut Vec<u8>) {
        if a.is_empty() {
            return;
        }
        let (local, domain) = match memchr::memrchr(b'@', a) {
            Some(i) => (&a[..i], &a[i..]),
            None => (a, &a[a.len()..]),
        };
        out.push(letter);
        hex(&self.digest(tag, local), out);
        out.extend_from_slice(domain);
    }

    /// `text` with the local part of every address in it pseudonymised.
    pub fn text(&self, text: &[u8], out: &mut Vec<u8>) {
        let stop = |c: u8| c.is_ascii_whitespace() || b"<>\"'(),;:[]=".contains(&c);
        let mut last = 0;
        for at in memchr::memchr_iter(b'@', text) {
            if at < last {
                continue;
            }
            let start = text[last..at]
                .iter()
                .rposition(|&c| stop(c))
                .map_or(last, |p| last + p + 1);
            if start == at {
                continue;
            }
            let end = text[at..]
                .iter()
                .position(|&c| stop(c))
                .map_or(text.len(), |p| at + p);
            out.extend_from_slice(&text[last..start]);
            self.address(&text[start..end], out);
            last = end;
        }
        out.extend_from_slice(&text[last..]);
    }

    /// An IP as an address in `fd00::/8` from its hash.
    fn ip(&self, ip: &[u8], out: &mut Vec<u8>) {
        if ip.is_empty() {
            return;
        }
        let d = self.digest(b"ip", ip);
        let groups = [
            0xfd00 | u16::from(d[0]),
            u16::from_be_bytes([d[1], d[2]]),
            u16::from_be_bytes([d[3], d[4]]),
            u16::from_be_bytes([d[5], d[6]]),
            u16::from(d[7]),
        ];
        let s = format!(
            "{:x}:{:x}:{:x}:{:x}::{:x}",
            groups[0], groups[1], groups[2], groups[3], groups[4]
        );
        out.extend_from_slice(s.as_bytes());
    }

    /// A copy of `r` with its personal fields pseudonymised (one buffer for all its text).
    pub fn record(&self, r: &RecordRef) -> Record {
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        let mut put = |f: &dyn Fn(&mut Vec<u8>)| {
            let start = buf.len();
            f(&mut buf);
            start..buf.len()
        };
        let sender = r.sender.map(|s| put(&|b| self.address(s, b)));
        let recipient = put(&|b| self.address(r.recipient, b));
        let orig = put(&|b| self.address(r.orig_recipient, b));
        let sasl = put(&|b| self.address(r.sasl_username, b));
        let reply = put(&|b| self.text(r.reply, b));
        // A message-id's left part is often a user's name or mailbox: hashed the same way,
        // under a tag of its own, so one message's records still join.
        let message_id = put(&|b| self.tagged(b"msgid", b'm', r.message_id, b));
        let client_ip = self.ips.then(|| put(&|b| self.ip(r.client_ip, b)));
        let all = Bytes::from(buf);
        let mut owned = r.to_owned_record();
        owned.sender = sender.map(|s| all.slice(s));
        owned.recipient = all.slice(recipient);
        owned.orig_recipient = all.slice(orig);
        owned.sasl_username = all.slice(sasl);
        owned.reply = all.slice(reply);
        owned.message_id = all.slice(message_id);
        if let Some(ip) = client_ip {
            owned.client_ip = all.slice(ip);
            owned.client_host = Bytes::new();
            owned.helo = Bytes::new();
        }
        owned
    }
}

fn hex(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn p(key: &str) -> Pseudonymizer {
        Pseudonymizer::new(key.as_bytes(), true).expect("key")
    }

    fn addr(ps: &Pseudonymizer, a: &str) -> String {
        let mut out = Vec::new();
        ps.address(a.as_bytes(), &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn same_key_same_pseudonym_other_key_other_one_domain_kept() {
        let (a, b) = (p("0123456789abcdef-one"), p("0123456789abcdef-two"));
        let x = addr(&a, "john.doe@example.com");
        assert_eq!(x, addr(&a, "john.doe@example.com"));
        assert_ne!(x, addr(&b, "john.doe@example.com"));
        assert!(
            x.ends_with("@example.com") && x.starts_with('u') && x.len() == 29,
            "{x}"
        );
        assert!(!x.contains("john"));
        assert_eq!(addr(&a, ""), "");
        assert!(!addr(&a, "|/usr/bin/procmail -d john").contains("john"));
        assert!(Pseudonymizer::new(b"short", false).is_none());
    }

    #[test]
    fn addresses_inside_text_and_ips() {
        let a = p("0123456789abcdef-one");
        let mut out = Vec::new();
        a.text(
            b"550 5.1.1 <john.doe@example.com>: Recipient address rejected; from=<jane@x.org>",
            &mut out,
        );
        let t = String::from_utf8(out).expect("utf-8");
        assert!(!t.contains("john.doe") && !t.contains("jane"), "{t}");
        assert!(
            t.starts_with("550 5.1.1 <u") && t.contains("@example.com>: Recipient"),
            "{t}"
        );
        let mut ip = Vec::new();
        a.ip(b"192.0.2.7", &mut ip);
        let ip = String::from_utf8(ip).expect("utf-8");
        assert!(
            ip.parse::<std::net::Ipv6Addr>().is_ok() && ip.starts_with("fd"),
            "{ip}"
        );
    }
}
