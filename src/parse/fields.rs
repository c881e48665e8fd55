//! Field readers the parsers share: peers (`host[ip]:port`), reply codes and enhanced status
//! codes, loopback addresses, and a two-byte separator search.

/// The first `a` followed by `b` (`", "`, `": "`): two bytes do not need a substring searcher
/// (its set-up costs more than these short searches), and these separators are found many
/// times a line.
pub fn find_pair(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    memchr::memchr_iter(a, hay).find(|&i| hay.get(i + 1) == Some(&b))
}

/// Splits a peer as Postfix logs it, `host[ip]`, `host[ip]:port` or `[ip]:port`, into host, ip
/// and port. A value without brackets (`local`, `none`, `dovecot`) is all host.
pub fn split_peer(raw: &[u8]) -> (&[u8], &[u8], Option<u16>) {
    // The last bracket pair: Sendmail's MSP logs `relay=[127.0.0.1] [127.0.0.1]`.
    let Some(close) = memchr::memrchr(b']', raw) else {
        return ip_then_name(raw).unwrap_or((raw, &raw[raw.len()..], None));
    };
    let Some(open) = memchr::memrchr(b'[', &raw[..close]) else {
        return (raw, &raw[raw.len()..], None);
    };
    let port = raw
        .get(close + 1..)
        .and_then(|r| r.strip_prefix(b":"))
        .and_then(port_number);
    // Exim writes `host [ip]` with a space, and `name (helo) [ip]`: the helo is not the host.
    let mut host = raw[..open].trim_ascii_end();
    if host.ends_with(b")") {
        if let Some(p) = memchr::memchr(b'(', host) {
            host = host[..p].trim_ascii_end();
        }
    }
    (host, &raw[open + 1..close], port)
}

/// OpenSMTPD's `ip (name)` (`173.194.76.27 (ws-in-f27.1e100.net)`), if `raw` is one.
fn ip_then_name(raw: &[u8]) -> Option<(&[u8], &[u8], Option<u16>)> {
    let sp = memchr::memchr(b' ', raw)?;
    let (ip, rest) = raw.split_at(sp);
    let name = rest.strip_prefix(b" (")?.strip_suffix(b")")?;
    std::str::from_utf8(ip)
        .ok()?
        .parse::<std::net::IpAddr>()
        .ok()?;
    Some((name, ip, None))
}

/// A TCP port, read as `str::parse::<u16>` reads it (an optional `+`, digits, at most 65535),
/// without going through `str`.
fn port_number(p: &[u8]) -> Option<u16> {
    let p = p.strip_prefix(b"+").unwrap_or(p);
    if p.is_empty() {
        return None;
    }
    p.iter().try_fold(0u16, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u16::from(d - b'0'))
    })
}

/// True for 127.0.0.0/8, ::1 and ::ffff:127.x: a relay on this machine (a content filter).
pub fn is_loopback_ip(ip: &[u8]) -> bool {
    let ip = ip
        .strip_prefix(b"::ffff:")
        .or_else(|| ip.strip_prefix(b"IPv6:::ffff:"))
        .unwrap_or(ip);
    ip.starts_with(b"127.") || ip == b"::1" || ip == b"IPv6:::1"
}

/// The SMTP reply code (any three digits, as maillogconvert.pl reads it) and enhanced status
/// code at the start of a reply text:
/// `554 5.7.1 <x>: …` → (Some(554), Some("5.7.1")); `5.7.1 Blocked` → (None, Some("5.7.1")).
pub fn reply_codes(reply: &[u8]) -> (Option<u16>, Option<&[u8]>) {
    let mut rest = reply;
    let mut code = None;
    if rest.len() >= 3
        && rest[..3].iter().all(u8::is_ascii_digit)
        && matches!(rest.get(3), None | Some(b' ' | b'-'))
    {
        code = Some(
            rest[..3]
                .iter()
                .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0')),
        );
        rest = rest.get(4..).unwrap_or_default();
    }
    let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let word = &rest[..end];
    let dsn = is_dsn(word).then_some(word);
    (code, dsn)
}

/// `2.0.0`, `5.1.1`, `4.7.25`: class digit, dot, 1–3 digits, dot, 1–3 digits.
pub fn is_dsn(w: &[u8]) -> bool {
    // Read as bytes: this runs for every delivery and reject.
    let digits = |p: &[u8]| p.iter().take_while(|c| c.is_ascii_digit()).count();
    let [b'2' | b'4' | b'5', b'.', rest @ ..] = w else {
        return false;
    };
    let n = digits(rest);
    if !(1..=3).contains(&n) || rest.get(n) != Some(&b'.') {
        return false;
    }
    let last = &rest[n + 1..];
    let m = digits(last);
    (1..=3).contains(&m) && m == last.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers() {
        let (h, i, p) = split_peer(b"mx.example.com[192.0.2.1]:25");
        assert_eq!(
            (h, i, p),
            (&b"mx.example.com"[..], &b"192.0.2.1"[..], Some(25))
        );
        let (h, i, p) = split_peer(b"unknown[2001:558:fe21:2a::6]");
        assert_eq!(
            (h, i, p),
            (&b"unknown"[..], &b"2001:558:fe21:2a::6"[..], None)
        );
        let (h, i, p) = split_peer(b"[1.2.3.4]:51234");
        assert_eq!((h, i, p), (&b""[..], &b"1.2.3.4"[..], Some(51234)));
        for (text, want) in [
            ("25", Some(25)),
            ("+25", Some(25)),
            ("0000025", Some(25)),
            ("65535", Some(65535)),
            ("65536", None),
            ("", None),
            ("+", None),
            ("2a", None),
            ("-1", None),
        ] {
            assert_eq!(port_number(text.as_bytes()), want, "{text}");
            assert_eq!(text.parse::<u16>().ok(), want, "{text}: as str::parse");
        }
        // OpenSMTPD (poolp.org): the address, then the name.
        let (h, i, p) = split_peer(b"173.194.76.27 (ws-in-f27.1e100.net)");
        assert_eq!(
            (h, i, p),
            (&b"ws-in-f27.1e100.net"[..], &b"173.194.76.27"[..], None)
        );
        let (h, i, _) = split_peer(b"not-an-ip (x)");
        assert_eq!((h, i), (&b"not-an-ip (x)"[..], &b""[..]));
        let (h, i, p) = split_peer(b"local");
        assert_eq!((h, i, p), (&b"local"[..], &b""[..], None));
        // Sendmail's MSP hand-off (infohtreasure maillog): the address is the last pair.
        let (h, i, p) = split_peer(b"[127.0.0.1] [127.0.0.1]");
        assert_eq!((h, i, p), (&b"[127.0.0.1]"[..], &b"127.0.0.1"[..], None));
    }

    #[test]
    fn codes() {
        assert_eq!(
            reply_codes(b"554 5.7.1 <x@y>: Relay access denied"),
            (Some(554), Some(&b"5.7.1"[..]))
        );
        assert_eq!(reply_codes(b"5.7.1 Blocked"), (None, Some(&b"5.7.1"[..])));
        assert_eq!(reply_codes(b"Service unavailable"), (None, None));
        assert_eq!(
            reply_codes(b"250-2.0.0 Ok"),
            (Some(250), Some(&b"2.0.0"[..]))
        );
        assert_eq!(reply_codes(b"421"), (Some(421), None));
        assert_eq!(reply_codes(b"4211 x"), (None, None));
        for dsn in ["2.0.0", "5.1.1", "4.7.25", "5.123.456"] {
            assert!(is_dsn(dsn.as_bytes()), "{dsn}");
        }
        for not in [
            "", "2", "2.", "2.0", "2.0.", "3.0.0", "2.0.0.", "2.0.0.0", "2.1234.0", "2.0.1234",
            "2..0", "2.0.x", "x.0.0", "25.0.0",
        ] {
            assert!(!is_dsn(not.as_bytes()), "{not}");
        }
        assert!(is_loopback_ip(b"127.0.0.1") && is_loopback_ip(b"::1"));
        assert!(!is_loopback_ip(b"10.0.0.1"));
    }
}
