//! Field readers the parsers share: peers (`host[ip]:port`), reply codes and enhanced status
//! codes, loopback addresses, and a two-byte separator search.

/// The first `a` followed by `b` (`", "`, `": "`): two bytes do not need a substring searcher
/// (its set-up costs more than these short searches), and these separators are found many
/// times a line.
#[inline]
pub fn find_pair(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    crate::search::each(a, hay).find(|&i| hay.get(i + 1) == Some(&b))
}

/// The key of a `key=value` field at the start of `r` and the offset of its value: up to the
/// first `=`, with no space in it (else not a field). Keys are short: a scan, not a search.
pub fn field_key(r: &[u8]) -> Option<(&[u8], usize)> {
    let at = r.iter().position(|&c| c == b'=' || c == b' ')?;
    (r.get(at) == Some(&b'=') && at > 0).then(|| (&r[..at], at + 1))
}

/// A field's key as a number when it has 1 to 7 bytes: its bytes, the first lowest, and its
/// length in the top byte (so `dsn` and `dsn\0` differ); 0 for an empty or a longer key, which
/// no key constant is. Keys are matched as one integer, not byte by byte.
pub const fn key_word(k: &[u8]) -> u64 {
    if k.is_empty() || k.len() > 7 {
        return 0;
    }
    let mut v = (k.len() as u64) << 56;
    let mut i = 0;
    while i < k.len() {
        v |= (k[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

/// [`field_key`] with the key's [`key_word`]. A key of up to 7 bytes ends in the first eight
/// bytes of `r`, and both come from one 8-byte read: the byte loop for the key's end and the
/// key's byte comparisons were ~60 of each Sendmail field's ~180 instructions (callgrind).
pub fn field_key_word(r: &[u8]) -> Option<(&[u8], usize, u64)> {
    if let Some((w, at)) = first_in_word(r, b'=', b' ') {
        if at == 0 || r.get(at) != Some(&b'=') {
            return None;
        }
        return Some((&r[..at], at + 1, word_of(w, at)));
    }
    let (key, at) = field_key(r)?;
    Some((key, at, key_word(key)))
}

/// The first `=` in `r` and the key before it as a [`key_word`] (Postfix's delivery fields,
/// whose keys end at the `=` whatever they hold); from one 8-byte read when the `=` is in it.
pub fn key_before_eq(r: &[u8]) -> Option<(usize, u64)> {
    if let Some((w, at)) = first_in_word(r, b'=', b'=') {
        return Some((at, word_of(w, at)));
    }
    let at = r.iter().position(|&c| c == b'=')?;
    Some((at, key_word(&r[..at])))
}

/// The first eight bytes of `r` as a word (first byte lowest) and where the first `a` or `b`
/// is in them; `None` if `r` is shorter or neither is there.
fn first_in_word(r: &[u8], a: u8, b: u8) -> Option<(u64, usize)> {
    let w = u64::from_le_bytes(*r.first_chunk::<8>()?);
    let m = first_byte_is(w, a) | first_byte_is(w, b);
    (m != 0).then(|| (w, (m.trailing_zeros() / 8) as usize))
}

/// The [`key_word`] of the first `len` (below 8) bytes of `w`.
fn word_of(w: u64, len: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    (w & ((1u64 << (8 * len)) - 1)) | ((len as u64) << 56)
}

/// A mask whose lowest set bit is the top bit of the first byte of `w` (first byte lowest)
/// that is `c`; bits above it may be set wrongly (a borrow runs on from a zero byte), so only
/// the lowest one is read, and so an `|` of two such masks still finds the first of either.
fn first_byte_is(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    x.wrapping_sub(ONES) & !x & (ONES << 7)
}

/// The top bit of each byte of `w` that is `c`, exactly (no borrow between bytes): for the
/// last such byte, which [`first_byte_is`]'s stray bits above the first would hide.
pub(super) fn bytes_equal(w: u64, c: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = w ^ (ONES * u64::from(c));
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// A one in each byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;

/// Splits a peer as Postfix logs it, `host[ip]`, `host[ip]:port` or `[ip]:port`, into host, ip
/// and port. A value without brackets (`local`, `none`, `dovecot`) is all host. Each part is
/// kept only when it is what its column promises ([`host_name`], [`ip_address`]): a unix
/// socket in the brackets (`mail1.example.com[private/dovecot-lmtp]`), a bracketed or `unknown`
/// name, or an anonymised address leaves that part empty.
pub fn split_peer(raw: &[u8]) -> (&[u8], &[u8], Option<u16>) {
    let (host, ip, port) = split_peer_raw(raw);
    (host_name(host), ip_address(ip), port)
}

/// [`split_peer`]'s IP alone, without checking the host name (which, for a peer named by its
/// IP, is a second IPv4 read).
fn peer_ip(raw: &[u8]) -> &[u8] {
    ip_address(split_peer_raw(raw).1)
}

fn split_peer_raw(raw: &[u8]) -> (&[u8], &[u8], Option<u16>) {
    // The last bracket pair: Sendmail's MSP logs `relay=[127.0.0.1] [127.0.0.1]`.
    let Some(close) = crate::search::byte_rev(b']', raw) else {
        return ip_then_name(raw).unwrap_or((raw, &raw[raw.len()..], None));
    };
    let Some(open) = crate::search::byte_rev(b'[', &raw[..close]) else {
        return (raw, &raw[raw.len()..], None);
    };
    let port = raw
        .get(close + 1..)
        .and_then(|r| r.strip_prefix(b":"))
        .and_then(port_number);
    // Exim writes `host [ip]` with a space, `name (helo) [ip]` (the helo is not the host) and
    // `name DS [ip]` (DNSSEC-verified): the host is the first word.
    let mut host = raw[..open].trim_ascii_end();
    if host.starts_with(b"(") {
        host = &host[..0];
    } else if let Some(sp) = crate::search::byte(b' ', host) {
        host = &host[..sp];
    }
    (host, &raw[open + 1..close], port)
}

/// `v` if it is an IP address (Sendmail's `IPv6:` prefix removed), else empty: the harness
/// placeholders of Exim's test suite (`V4NET.0.0.1`), a socket path, a truncated line.
pub fn ip_address(v: &[u8]) -> &[u8] {
    let v = v
        .strip_prefix(b"IPv6:")
        .or_else(|| v.strip_prefix(b"ipv6:"))
        .unwrap_or(v);
    if is_ipv4(v) || is_ipv6(v) {
        v
    } else {
        &v[..0]
    }
}

/// Dotted-quad IPv4 as `Ipv4Addr`'s parser reads it (four decimal octets up to 255, no leading
/// zeros), read as bytes: this runs for every peer (through `str` it cost ~5% of a run). Each
/// octet is matched as three, two or one digits in place (counting its digits first with an
/// iterator took ~128 instructions an address: 1.2% of a Postfix run, callgrind).
fn is_ipv4(v: &[u8]) -> bool {
    if !(7..=15).contains(&v.len()) {
        return false;
    }
    let digit = |c: u8| c.wrapping_sub(b'0') < 10;
    let value = |c: u8| u16::from(c.wrapping_sub(b'0'));
    let mut rest = v;
    for part in 0..4 {
        // A fourth digit is refused by the dot (or the end) that must follow the third.
        let (n, octet) = match *rest {
            [a, b, c, ..] if digit(a) && digit(b) && digit(c) => {
                (3, value(a) * 100 + value(b) * 10 + value(c))
            }
            [a, b, ..] if digit(a) && digit(b) => (2, value(a) * 10 + value(b)),
            [a, ..] if digit(a) => (1, value(a)),
            _ => return false,
        };
        // The standard parser refuses a leading zero (`01`).
        if octet > 255 || (n > 1 && rest.first() == Some(&b'0')) {
            return false;
        }
        rest = &rest[n..];
        if part < 3 {
            let [b'.', r @ ..] = rest else {
                return false;
            };
            rest = r;
        }
    }
    rest.is_empty()
}

/// IPv6 (also with an IPv4 tail, `::ffff:10.0.0.1`) as `Ipv6Addr`'s parser reads it, step for
/// step, on bytes: through `str` it took ~1,500 instructions an address (callgrind), for every
/// IPv6 client. A test holds it to the standard parser.
fn is_ipv6(v: &[u8]) -> bool {
    // Groups from `at`, at most `limit`: where they end and how many (an IPv4 tail counts two
    // and ends them), as the standard parser's `read_groups`.
    fn groups(v: &[u8], mut at: usize, limit: usize) -> (usize, usize, bool) {
        for i in 0..limit {
            // Each group after the first follows a colon.
            let from = match i {
                0 => Some(at),
                _ => (v.get(at) == Some(&b':')).then_some(at + 1),
            };
            let Some(from) = from else {
                return (at, i, false);
            };
            let n = v[from.min(v.len())..]
                .iter()
                .take(5)
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            // An IPv4 tail, where two groups are left. Its first octet's digits are hex digits
            // too, so a dot right after the hex run is where one can start: looked for at
            // every group, a tail was most of an address's instructions (callgrind).
            if i + 1 < limit && v.get(from + n) == Some(&b'.') {
                if let Some(end) = ipv4_at(v, from) {
                    return (end, i + 2, true);
                }
            }
            if !(1..=4).contains(&n) {
                return (at, i, false);
            }
            at = from + n;
        }
        (at, limit, false)
    }
    let (at, head, tail_v4) = groups(v, 0, 8);
    if head == 8 {
        return at == v.len();
    }
    if tail_v4 || v.get(at..at + 2) != Some(b"::") {
        return false;
    }
    let (end, _, _) = groups(v, at + 2, 8 - (head + 1));
    end == v.len()
}

/// The end of a dotted-quad IPv4 address that starts at `at`, read as the standard parser
/// reads one inside an IPv6 address: each octet all the digits there are (more than three,
/// a leading zero or a value over 255 fail it); whatever follows the fourth is not its.
fn ipv4_at(v: &[u8], mut at: usize) -> Option<usize> {
    for part in 0..4 {
        if part > 0 {
            if v.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let digits = v.get(at..)?;
        let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
        let octet = match digits[..n] {
            [a] => u16::from(a - b'0'),
            [a @ b'1'..=b'9', b] => u16::from(a - b'0') * 10 + u16::from(b - b'0'),
            [a @ b'1'..=b'9', b, c] => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return None,
        };
        if octet > 255 {
            return None;
        }
        at += n;
    }
    Some(at)
}

/// `v` if it is a host name, else empty: an address literal, `unknown` (Postfix's name for a
/// client without reverse DNS), or text with brackets, parentheses, spaces or address
/// punctuation is not one.
pub fn host_name(v: &[u8]) -> &[u8] {
    // An IPv6 literal has a colon, which names do not; `is_ipv4` stops at a name's first
    // letter.
    let ok = !v.is_empty() && v != b"unknown" && name_bytes(v) && !is_ipv4(v);
    if ok {
        v
    } else {
        &v[..0]
    }
}

/// True if no byte of `v` is one a host name cannot hold. Names are nearly all letters,
/// digits, dots and hyphens: sixteen of those at a time pass in one step (SSE2, the last step
/// overlapping the one before), and only a block with another byte is looked up byte by byte
/// (the byte loop alone took ~5 instructions a byte, for every peer; callgrind).
fn name_bytes(v: &[u8]) -> bool {
    let n = v.len();
    let plain = |b: &[u8; 16]| crate::search::dns_mask(b) == 0xffff;
    let fast = match n {
        16.. => {
            let mut blocks = v.chunks_exact(16);
            blocks.all(|b| b.first_chunk::<16>().is_some_and(plain))
                && v[n - 16..].first_chunk::<16>().is_some_and(plain)
        }
        // The first and last eight bytes (overlapping).
        8.. => {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&v[..8]);
            b[8..].copy_from_slice(&v[n - 8..]);
            plain(&b)
        }
        _ => false,
    };
    fast || !v.iter().any(|&c| NOT_IN_NAMES[usize::from(c)])
}

/// Bytes a host name does not hold: control bytes, white space, brackets, address punctuation.
const NOT_IN_NAMES: [bool; 256] = {
    let mut t = [false; 256];
    let s = b" \t[](){}<>@,;:/\\|\"'=";
    let mut i = 0;
    while i < s.len() {
        t[s[i] as usize] = true;
        i += 1;
    }
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t
};

/// OpenSMTPD's `ip (name)` (`173.194.76.27 (ws-in-f27.1e100.net)`), if `raw` is one.
fn ip_then_name(raw: &[u8]) -> Option<(&[u8], &[u8], Option<u16>)> {
    let sp = crate::search::byte(b' ', raw)?;
    let (ip, rest) = raw.split_at(sp);
    let name = rest.strip_prefix(b" (")?.strip_suffix(b")")?;
    (is_ipv4(ip) || is_ipv6(ip)).then_some((name, ip, None))
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

/// False when the IP of `raw` (a peer as logged) cannot be a loopback address: true whenever
/// `is_loopback_ip(split_peer(raw).1)` is. It finds the IP as [`split_peer`] does but does not
/// check it or the host name: most relays are not on this machine, and this is two reverse
/// searches where a full split took ~600 instructions (callgrind).
pub fn may_name_loopback(raw: &[u8]) -> bool {
    // Where `split_peer_raw` takes the IP from: the last brackets, else the first word.
    let ip = match crate::search::byte_rev(b']', raw) {
        Some(close) => match crate::search::byte_rev(b'[', &raw[..close]) {
            Some(open) => &raw[open + 1..close],
            None => return false,
        },
        None => raw.split(|&c| c == b' ').next().unwrap_or_default(),
    };
    is_loopback_ip(
        ip.strip_prefix(b"IPv6:")
            .or_else(|| ip.strip_prefix(b"ipv6:"))
            .unwrap_or(ip),
    )
}

/// True for 127.0.0.0/8, ::1 and ::ffff:127.x: a relay on this machine (a content filter).
pub fn is_loopback_ip(ip: &[u8]) -> bool {
    let ip = ip
        .strip_prefix(b"::ffff:")
        .or_else(|| ip.strip_prefix(b"IPv6:::ffff:"))
        .unwrap_or(ip);
    ip.starts_with(b"127.") || ip == b"::1" || ip == b"IPv6:::1"
}

/// The queue ID a content filter or next MTA gave the message: `… queued as 6A3D8C0` or, for
/// filters that only echo it, a queue-ID-shaped last word (`250 OK, sent … 7918B29DA`).
pub fn queued_as(reply: &[u8]) -> Option<&[u8]> {
    let word = |s: &[u8]| -> usize {
        s.iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .unwrap_or(s.len())
    };
    // The first `queued as `, found from its `q`s: a reply has few, and the substring
    // searcher's set-up was most of ~350 instructions a content-filter hop (callgrind).
    let queued = crate::search::each(b'q', reply).find(|&i| reply[i..].starts_with(b"queued as "));
    if let Some(i) = queued {
        let s = &reply[i + 10..];
        let id = &s[..word(s)];
        return (super::postfix::is_queue_id(id) || super::sendmail::is_queue_id(id)).then_some(id);
    }
    // Sendmail: `j061bXn5000812 Message accepted for delivery`.
    if let Some(i) = crate::parse::finder!(b" Message accepted for delivery").find(reply) {
        let id = &reply[..i];
        if super::sendmail::is_queue_id(id) {
            return Some(id);
        }
        // OpenSMTPD: `250 2.0.0: f6e94209 Message accepted for delivery`.
        let last = id.rsplit(|&c| c == b' ').next().unwrap_or_default();
        return super::opensmtpd::is_msgid(last).then_some(last);
    }
    let trimmed = reply
        .iter()
        .rposition(|c| c.is_ascii_alphanumeric())
        .map_or(&reply[..0], |e| &reply[..=e]);
    let start = trimmed
        .iter()
        .rposition(|c| !c.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    let id = &trimmed[start..];
    super::postfix::is_queue_id(id).then_some(id)
}

/// The new queue ID if delivery `d` was a content-filter hop: sent to a relay on this machine,
/// which queued the message anew. Decided once, when the line is parsed: the router and the
/// merger read it.
pub fn hop<'a>(d: &super::Delivery<&'a [u8]>) -> Option<&'a [u8]> {
    // Most relays' IPs cannot be loopback: they are split no more.
    (d.status == super::DeliveryStatus::Sent
        && may_name_loopback(d.relay)
        && is_loopback_ip(peer_ip(d.relay)))
    .then(|| queued_as(d.reply))
    .flatten()
}

/// The SMTP reply code (three digits, the first 2 to 5: RFC 5321's classes) and enhanced
/// status code at the start of a reply text:
/// `554 5.7.1 <x>: …` → (Some(554), Some("5.7.1")); `5.7.1 Blocked` → (None, Some("5.7.1")).
pub fn reply_codes(reply: &[u8]) -> (Option<u16>, Option<&[u8]>) {
    let mut rest = reply;
    let mut code = None;
    if rest.len() >= 3
        && matches!(rest[0], b'2'..=b'5')
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
    let end = crate::search::byte(b' ', rest).unwrap_or(rest.len());
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

    /// `may_name_loopback` never says no to a peer whose IP is a loopback address: on real
    /// and odd peers, and on every one-byte change of them.
    #[test]
    fn may_name_loopback_misses_no_loopback_peer() {
        let peers: &[&[u8]] = &[
            b"localhost[127.0.0.1]:10024",
            b"127.0.0.1[127.0.0.1]:10025",
            b"[127.0.0.1]:10026",
            b"[::1]:10024",
            b"localhost[IPv6:::1]",
            b"[ipv6:::ffff:127.0.0.2]",
            b"x[::ffff:127.9.9.9]:25",
            b"relay=[127.0.0.1] [127.0.0.1]",
            b"127.0.0.1 (localhost)",
            b"::1 (localhost)",
            b"mx1.example.org[198.51.100.159]:25",
            b"mail.example.com[private/dovecot-lmtp]",
            b"local",
            b"none",
        ];
        let mut loopback = 0;
        for p in peers {
            let mut variants = vec![p.to_vec()];
            for i in 0..p.len() {
                for c in [
                    b'[', b']', b' ', b'1', b'2', b'7', b'.', b':', b'(', b')', b'x', b'f',
                ] {
                    let mut m = p.to_vec();
                    m[i] = c;
                    variants.push(m);
                }
                variants.push([&p[..i], &p[i + 1..]].concat());
            }
            for v in variants {
                if is_loopback_ip(split_peer(&v).1) {
                    loopback += 1;
                    assert!(may_name_loopback(&v), "{}", String::from_utf8_lossy(&v));
                }
            }
        }
        assert!(loopback > 100, "{loopback}");
        assert!(!may_name_loopback(b"mx1.example.org[198.51.100.159]:25"));
    }

    /// The byte reader agrees with the standard parser: every string of up to four parts of
    /// edge octets, and every address with one byte changed to any byte.
    #[test]
    fn ipv4_as_the_standard_parser_reads_it() {
        let std_ok = |v: &[u8]| {
            std::str::from_utf8(v).is_ok_and(|s| s.parse::<std::net::Ipv4Addr>().is_ok())
        };
        let octets = [
            "0", "00", "01", "1", "9", "10", "99", "100", "199", "255", "256", "300", "999",
            "1000", "", "a", "1a", " 1",
        ];
        let mut words: Vec<Vec<u8>> = Vec::new();
        for a in octets {
            for b in octets {
                for c in ["0", "255", "01", ""] {
                    for d in octets {
                        words.push(format!("{a}.{b}.{c}.{d}").into_bytes());
                        words.push(format!("{a}.{b}.{c}.{d}.").into_bytes());
                        words.push(format!("{a}.{b}.{d}").into_bytes());
                    }
                }
            }
        }
        for base in ["192.0.2.10", "1.2.3.4", "255.255.255.255", "10.0.0.1"] {
            for at in 0..base.len() {
                for c in 0..=255u8 {
                    let mut v = base.as_bytes().to_vec();
                    v[at] = c;
                    words.push(v);
                }
            }
        }
        for w in &words {
            assert_eq!(is_ipv4(w), std_ok(w), "{:?}", String::from_utf8_lossy(w));
        }
    }

    /// The sixteen-byte check of a name's bytes agrees with the table byte by byte: random
    /// strings of every length to 40 of name bytes, with now and then a byte of any value at
    /// any place (the first, the last, in the overlap of the last block).
    #[test]
    fn name_bytes_as_the_table_reads_them() {
        let mut rng = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = |n: u64| rng() % n;
        let usual = b"abcxyzABCXYZ0189.-";
        for _ in 0..200_000 {
            let len = next(41) as usize;
            let mut v: Vec<u8> = (0..len)
                .map(|_| usual[next(usual.len() as u64) as usize])
                .collect();
            for _ in 0..next(3) {
                if len > 0 {
                    v[next(len as u64) as usize] = next(256) as u8;
                }
            }
            let by_table = !v.iter().any(|&c| NOT_IN_NAMES[usize::from(c)]);
            assert_eq!(name_bytes(&v), by_table, "{v:?}");
        }
    }

    /// `is_ipv6` against the standard parser: addresses written every way (compressed or not,
    /// with an IPv4 tail), each byte of them replaced, cut, doubled; and random text of their
    /// characters.
    #[test]
    fn ipv6_as_the_standard_parser_reads_it() {
        let std_ok = |w: &[u8]| {
            std::str::from_utf8(w).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
        };
        let mut words: Vec<Vec<u8>> = Vec::new();
        let bases = [
            "::",
            "::1",
            "1::",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "2001:db8:0:0:0:0:0:1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "1::5:6:1.2.3.4",
            "::1.2.3.4",
            "fe80::1ff:fe23:4567:890a",
            "0000:0000::ffff",
            "1:2:3:4:5::1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "64:ff9b::192.0.2.33",
        ];
        let chars = b"0123456789abcdefABCDEFg:.%/ ";
        for base in bases {
            let b = base.as_bytes();
            words.push(b.to_vec());
            for at in 0..=b.len() {
                words.push(b[..at].to_vec());
                words.push(b[at..].to_vec());
                for &c in chars {
                    let mut v = b.to_vec();
                    v.insert(at, c);
                    words.push(v);
                    if at < b.len() {
                        let mut v = b.to_vec();
                        v[at] = c;
                        words.push(v);
                    }
                }
            }
        }
        // Random addresses of random parts: hex groups of 0–5 digits, colons, double colons,
        // dotted quads with octets up to 300 and leading zeros (a fixed xorshift: the same cases
        // every run).
        let mut rng = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: u64| rng() % n;
        for _ in 0..100_000 {
            let mut w = String::new();
            for _ in 0..next(11) {
                match next(8) {
                    0..=3 => {
                        let digits = next(6) as usize;
                        let g = format!("{:05x}", next(0x10_0000));
                        w.push_str(&g[5 - digits..]);
                    }
                    4 => w.push(':'),
                    5 => w.push_str("::"),
                    6 => {
                        let o = (0..4).map(|_| match next(4) {
                            0 => format!("0{}", next(10)),
                            _ => next(301).to_string(),
                        });
                        w.push_str(&o.collect::<Vec<_>>().join("."));
                    }
                    _ => w.push(':'),
                }
                if next(3) > 0 && !w.ends_with(':') {
                    w.push(':');
                }
            }
            if next(2) == 0 {
                w.pop();
            }
            words.push(w.into_bytes());
        }
        // Every address of the standard writer's forms, from a few bit patterns.
        for n in [0u128, 1, 0xffff_0a00_0001, u128::MAX, 0x2001_0db8 << 96 | 1] {
            let a = std::net::Ipv6Addr::from(n);
            words.push(a.to_string().into_bytes());
            let full: Vec<String> = a.segments().iter().map(|g| format!("{g:04x}")).collect();
            words.push(full.join(":").into_bytes());
        }
        for w in &words {
            assert_eq!(is_ipv6(w), std_ok(w), "{:?}", String::from_utf8_lossy(w));
        }
    }

    #[test]
    fn field_key_words_are_field_keys() {
        let keys: &[&[u8]] = &[
            b"",
            b"a",
            b"to",
            b"dsn",
            b"stat",
            b"relay",
            b"xdelay",
            b"ctladdr",
            b"ruleset8",
            b"sasl_username",
            b"lost connection",
            b" x",
            b"\x80\xff\x01",
            b"dsn\0",
            b"\0\0",
        ];
        for k in keys {
            for tail in [
                &b"=v, n=1"[..],
                b"=",
                b" =x",
                b"",
                b"==",
                b"=\x00\x00\x00\x00\x00\x00\x00",
            ] {
                let r = [*k, tail].concat();
                let want = field_key(&r).map(|(key, at)| (key, at, key_word(key)));
                assert_eq!(
                    field_key_word(&r),
                    want,
                    "{:?}",
                    String::from_utf8_lossy(&r)
                );
            }
        }
        for k in keys {
            for tail in [&b"=v, n=1"[..], b"=", b" =x", b"", b"x y=z"] {
                let r = [*k, tail].concat();
                let want = r
                    .iter()
                    .position(|&c| c == b'=')
                    .map(|at| (at, key_word(&r[..at])));
                assert_eq!(key_before_eq(&r), want, "{:?}", String::from_utf8_lossy(&r));
            }
        }
        assert_eq!(key_word(b"stat"), u64::from_le_bytes(*b"stat\0\0\0\x04"));
        assert_ne!(key_word(b"dsn"), key_word(b"dsn\0"));
        assert_eq!(key_word(b"ruleset8"), 0);
        assert_eq!(key_word(b""), 0);
    }

    #[test]
    fn field_keys() {
        assert_eq!(field_key(b"size=1, nrcpt=2"), Some((&b"size"[..], 5)));
        assert_eq!(field_key(b"stat=Sent (ok)"), Some((&b"stat"[..], 5)));
        assert_eq!(field_key(b"=x"), None);
        assert_eq!(field_key(b"lost connection=x"), None);
        assert_eq!(field_key(b"removed"), None);
        assert_eq!(field_key(b""), None);
    }

    #[test]
    fn peers() {
        let (h, i, p) = split_peer(b"mx.example.com[192.0.2.1]:25");
        assert_eq!(
            (h, i, p),
            (&b"mx.example.com"[..], &b"192.0.2.1"[..], Some(25))
        );
        let (h, i, p) = split_peer(b"unknown[2001:558:fe21:2a::6]");
        assert_eq!((h, i, p), (&b""[..], &b"2001:558:fe21:2a::6"[..], None));
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
        assert_eq!((h, i), (&b""[..], &b""[..]));
        let (h, i, p) = split_peer(b"local");
        assert_eq!((h, i, p), (&b"local"[..], &b""[..], None));
        // Sendmail's MSP hand-off (infohtreasure maillog): the address is the last pair.
        let (h, i, p) = split_peer(b"[127.0.0.1] [127.0.0.1]");
        assert_eq!((h, i, p), (&b""[..], &b"127.0.0.1"[..], None));
    }

    // Issue 18's findings, on the real shapes.
    #[test]
    fn peers_keep_only_what_their_columns_promise() {
        let peer = |raw: &str| {
            let (h, i, p) = split_peer(raw.as_bytes());
            (
                String::from_utf8_lossy(h).into_owned(),
                String::from_utf8_lossy(i).into_owned(),
                p,
            )
        };
        let s = |v: &str| v.to_owned();
        // Postfix LMTP to Dovecot over a unix socket.
        assert_eq!(
            peer("mail1.example.com[private/dovecot-lmtp]"),
            (s("mail1.example.com"), s(""), None)
        );
        // Sendmail: an IPv6 peer, and the MSP's hand-off with no name.
        assert_eq!(
            peer("mx.example.org [IPv6:2001:db8::1]"),
            (s("mx.example.org"), s("2001:db8::1"), None)
        );
        assert_eq!(
            peer("[127.0.0.1] [127.0.0.1]"),
            (s(""), s("127.0.0.1"), None)
        );
        // Exim: a HELO that is an address literal; a name that is the address; DNSSEC.
        assert_eq!(
            peer("([192.0.2.7]) [192.0.2.8]:52391"),
            (s(""), s("192.0.2.8"), Some(52391))
        );
        assert_eq!(peer("::1 [::1]"), (s(""), s("::1"), None));
        assert_eq!(
            peer("l-sec.test.ex DS [127.0.0.1]"),
            (s("l-sec.test.ex"), s("127.0.0.1"), None)
        );
        assert_eq!(peer("host.1:host.2"), (s(""), s(""), None));
        // Exim's test harness anonymises addresses: not an address.
        assert_eq!(
            peer("ten-1.test.ex [V4NET.0.0.1]"),
            (s("ten-1.test.ex"), s(""), None)
        );
        assert_eq!(ip_address(b"IPv6:::ffff:10.0.0.1"), b"::ffff:10.0.0.1");
        assert_eq!(host_name(b"unknown"), b"");
        assert_eq!(host_name(b"mail.example.com."), b"mail.example.com.");
        assert_eq!(host_name(b"127.0.0.1"), b"");
        // The byte readers agree with the standard parser.
        for v in [
            "1.2.3.4",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            "0.0.0.0",
            "::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7:8:9",
            "abc",
            "",
            "V4NET.0.0.1",
            "ip6:ip6::1",
        ] {
            let std = v.parse::<std::net::IpAddr>().is_ok();
            assert_eq!(!ip_address(v.as_bytes()).is_empty(), std, "{v}");
        }
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
        // sergeymakinen-postfix_exporter/mail.log (templated): `123 1.2.3 Reasons` is neither.
        assert_eq!(reply_codes(b"123 1.2.3 Reasons"), (None, None));
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
