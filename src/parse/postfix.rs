//! Postfix: turns the message part of a `postfix*/daemon` syslog line into an [`Event`].
//! Knows smtpd/postscreen/cleanup rejects, smtpd `client=`, pickup, cleanup `message-id=`, qmgr
//! `from=`/`removed`/`expired`, every delivery agent's `to=` line and bounce notifications.
//! Everything else a Postfix daemon says is [`Event::Ignored`]; nothing here fails.

use super::fields::key_word;
use super::{Delivery, DeliveryStatus, Event, Reject, RejectAction};
use memchr::memmem;

/// The daemon name if `program` is a Postfix syslog tag: `postfix/smtpd`, `postfix-out/smtp`,
/// `postfix/submission/smtpd`, `postfix/10025/smtpd` → `smtpd`, `smtp`, `smtpd`, `smtpd`.
pub fn daemon(program: &[u8]) -> Option<&[u8]> {
    if !program.starts_with(b"postfix") {
        return None;
    }
    let slash = last_slash(program)?;
    Some(&program[slash + 1..])
}

/// The last `/` of a syslog tag. Tags are a dozen bytes: a scan from the end, where a
/// `memrchr` call cost ~65 instructions a line (callgrind), in `is_program` and again here.
fn last_slash(program: &[u8]) -> Option<usize> {
    // Most tags end in `/` and up to seven bytes (`postfix/smtp`): their last eight bytes, as
    // one word, hold it. The byte loop from the end took ~34 instructions a line, twice a line
    // (the tag is recognised, then parsed; callgrind).
    let n = program.len();
    if let Some(w) = (n.checked_sub(8))
        .and_then(|at| program.get(at..))
        .and_then(|t| t.first_chunk::<8>())
    {
        let m = super::fields::bytes_equal(u64::from_le_bytes(*w), b'/');
        if m != 0 {
            return Some(n - 8 + 7 - (m.leading_zeros() / 8) as usize);
        }
    }
    program.iter().rposition(|&c| c == b'/')
}

/// True for a Postfix syslog name: `postfix/smtpd`, `postfix-submission/smtpd`.
pub fn is_program(program: &[u8]) -> bool {
    daemon(program).is_some()
}

/// A Postfix message through syslog: the daemon is the part of the program after its last `/`
/// (any name under `--mta postfix`).
pub fn syslog<'a>(program: &'a [u8], msg: &'a [u8]) -> Event<&'a [u8]> {
    let daemon = last_slash(program).map_or(program, |i| &program[i + 1..]);
    parse(daemon, msg)
}

/// True if `w` is shaped like a Postfix queue ID: short (hex, upper case, 5+ chars) or long
/// (`4PbC4x469Jz3tBr`: 10+ chars of a vowel-free base-52 alphabet with a `z` separator).
pub fn is_queue_id(w: &[u8]) -> bool {
    // One pass over a class table: it runs for every Postfix line (a per-character `match`
    // and a second pass for the long form were ~120 instructions a line, callgrind).
    let (mut all, mut any) = (SHORT | LONG, 0);
    for &c in w {
        let class = QID_CLASS[usize::from(c)];
        all &= class;
        any |= class;
    }
    is_queue_id_of_class(w, all, any)
}

/// [`is_queue_id`] for `w` whose bytes' classes, and-ed together, are `all`, and or-ed, `any`
/// (the long form's `z` found in the same pass: a `memchr` call for it was ~28 instructions a
/// line, callgrind).
fn is_queue_id_of_class(w: &[u8], all: u8, any: u8) -> bool {
    (all & SHORT != 0 && w.len() >= 5)
        || (all & LONG != 0 && (10..=24).contains(&w.len()) && any & Z != 0)
}

/// The queue ID that starts `msg` before a `:`, if it has one. One pass: an ID is made of
/// class bytes only, so its colon is the first byte outside them (a `memchr` for the colon
/// and a second pass over the ID cost ~60 instructions more a line).
fn leading_queue_id(msg: &[u8]) -> Option<&[u8]> {
    // Sixteen bytes classified at once: an ID of up to fifteen bytes and its colon are in
    // them (the byte loop below took ~9 instructions a byte, ~100 a line; callgrind).
    #[cfg(target_arch = "x86_64")]
    if let Some(block) = msg.first_chunk::<16>() {
        let (short, long, z) = class_masks(block);
        let end = (!(short | long)).trailing_zeros() as usize;
        if end < 16 {
            let m = (1u32 << end) - 1;
            let (all, any) = (
                if short & m == m { SHORT } else { 0 } | if long & m == m { LONG } else { 0 },
                if z & m != 0 { Z } else { 0 },
            );
            let qid = &msg[..end];
            return (msg[end] == b':' && is_queue_id_of_class(qid, all, any)).then_some(qid);
        }
    }
    let (mut all, mut any) = (SHORT | LONG, 0);
    let mut end = msg.len();
    for (i, &c) in msg.iter().enumerate() {
        let class = QID_CLASS[usize::from(c)];
        if class == 0 {
            end = i;
            break;
        }
        all &= class;
        any |= class;
    }
    let qid = &msg[..end];
    (msg.get(end) == Some(&b':') && is_queue_id_of_class(qid, all, any)).then_some(qid)
}

/// Which of sixteen bytes are in each class of [`QID_CLASS`], as bit masks (the first byte
/// lowest): SHORT, LONG and Z.
#[cfg(target_arch = "x86_64")]
fn class_masks(block: &[u8; 16]) -> (u32, u32, u32) {
    // SAFETY: SSE2 is part of the x86-64 baseline: every CPU of this target has it.
    unsafe { class_masks_sse2(block) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn class_masks_sse2(block: &[u8; 16]) -> (u32, u32, u32) {
    use crate::search::{in_range as range, load16};
    use std::arch::x86_64::*;
    let v = load16(block);
    let eq = |v: __m128i, c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
    let digit = range(v, b'0', 10);
    let hex_upper = range(v, b'A', 6);
    // With the case bit set, a letter of either case is a lower-case one.
    let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
    let letter = range(folded, b'a', 26);
    let vowel = _mm_or_si128(
        _mm_or_si128(eq(folded, b'a'), eq(folded, b'e')),
        _mm_or_si128(
            _mm_or_si128(eq(folded, b'i'), eq(folded, b'o')),
            eq(folded, b'u'),
        ),
    );
    let short = _mm_movemask_epi8(_mm_or_si128(digit, hex_upper)) as u32;
    let long = _mm_movemask_epi8(_mm_andnot_si128(vowel, _mm_or_si128(digit, letter))) as u32;
    let z = _mm_movemask_epi8(eq(v, b'z')) as u32;
    (short, long, z)
}

/// Bits of [`QID_CLASS`]: a character of a short queue ID, of a long one, and the long form's
/// separator `z`.
const SHORT: u8 = 1;
const LONG: u8 = 2;
const Z: u8 = 4;

/// Which queue ID forms each byte may appear in: short IDs are upper-case hex; long ones are
/// letters and digits without vowels.
const QID_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_digit() || matches!(b, b'A'..=b'F') {
            t[c] |= SHORT;
        }
        if b.is_ascii_alphanumeric()
            && !matches!(
                b,
                b'A' | b'E' | b'I' | b'O' | b'U' | b'a' | b'e' | b'i' | b'o' | b'u'
            )
        {
            t[c] |= LONG;
        }
        if b == b'z' {
            t[c] |= Z;
        }
        c += 1;
    }
    t
};

/// Parses the message part of a line from Postfix daemon `daemon`.
pub fn parse<'a>(daemon: &[u8], msg: &'a [u8]) -> Event<&'a [u8]> {
    if let Some(rest) = msg.strip_prefix(b"NOQUEUE: ") {
        return reject(None, rest).unwrap_or(Event::Ignored);
    }
    let Some(qid) = leading_queue_id(msg) else {
        return Event::Ignored;
    };
    let after = &msg[qid.len() + 1..];
    let rest = after.strip_prefix(b" ").unwrap_or(after);
    // Each form returns from its own branch: one `Option` for all of them was a 112-byte copy
    // of every line's event (callgrind: a `memcpy` call a line).
    if let Some(v) = rest.strip_prefix(b"to=") {
        return delivery(qid, v).unwrap_or(Event::Malformed);
    }
    if let Some(v) = rest.strip_prefix(b"from=") {
        return queued(qid, v).unwrap_or(Event::Malformed);
    }
    if let Some(v) = rest.strip_prefix(b"client=") {
        return client(qid, v).unwrap_or(Event::Malformed);
    }
    if let Some(v) = rest.strip_prefix(b"message-id=") {
        return Event::MessageId {
            qid,
            message_id: strip_brackets(trim_end(v)),
        };
    }
    if rest.starts_with(b"uid=") {
        return match PICKUP_FROM.find(rest) {
            Some(i) => Event::Pickup {
                qid,
                from: address(&rest[i + 6..]).0,
            },
            None => Event::Malformed,
        };
    }
    if rest == b"removed" {
        return Event::Removed { qid };
    }
    if let Some(new_qid) = notification(rest) {
        return Event::Notification { qid, new_qid };
    }
    // lost connection, host … said, conversation …, replace:, warning: … — and postsuper's
    // `requeued`/`placed on hold`: nothing a record needs.
    let _ = daemon;
    reject(Some(qid), rest).unwrap_or(Event::Ignored)
}

/// Searchers built once for the longer separators.
static FROM_SPACE: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(b" from "));
static PICKUP_FROM: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(b" from="));

fn trim_end(v: &[u8]) -> &[u8] {
    let n = v
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &v[..n]
}

fn strip_brackets(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .unwrap_or(v)
}

/// Reads an address value at the start of `v`: `<…>` up to the `>` that ends the value (followed
/// by `,`, space or the end), or a bare word up to `,`/space. Returns the address without angle
/// brackets and the rest after it.
fn address(v: &[u8]) -> (&[u8], &[u8]) {
    if v.first() == Some(&b'<') {
        let mut from = 1;
        while let Some(i) = crate::search::byte(b'>', &v[from..]) {
            let end = from + i;
            if matches!(v.get(end + 1), None | Some(b',' | b' ' | b':' | b';')) {
                return (&v[1..end], &v[end + 1..]);
            }
            from = end + 1;
        }
        return (&v[1..], &v[v.len()..]);
    }
    let end = v
        .iter()
        .position(|&c| c == b',' || c == b' ')
        .unwrap_or(v.len());
    (&v[..end], &v[end..])
}

/// The keys read here, as [`key_word`]s.
const STATUS: u64 = key_word(b"status");
const ORIG_TO: u64 = key_word(b"orig_to");
const RELAY: u64 = key_word(b"relay");
const DELAY: u64 = key_word(b"delay");
const DELAYS: u64 = key_word(b"delays");
const DSN: u64 = key_word(b"dsn");
const SIZE: u64 = key_word(b"size");
const NRCPT: u64 = key_word(b"nrcpt");

/// Splits `key=value, key=value` lists; a value ends at `, ` (addresses are read whole). Each
/// key comes with its [`key_word`].
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], u64, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest.strip_prefix(b", ").unwrap_or(self.rest);
        let (key, value_at, word) = super::fields::field_key_word(r)?;
        let v = &r[value_at..];
        let end = super::find_pair(v, b',', b' ').unwrap_or(v.len());
        self.rest = &v[end..];
        Some((key, word, &v[..end]))
    }
}

/// A decimal like `0.63` or `46621`, as Postfix writes delays. Integer digits over a power of
/// ten: both are exact in f64 below 2^53 and 10^22, so the quotient is the correctly rounded
/// value, the same as `str::parse`, which handles anything else.
pub fn float(v: &[u8]) -> Option<f64> {
    let (mut mantissa, mut scale, mut dot, mut digits) = (0u64, 0i32, false, 0);
    for &c in v {
        match c {
            b'0'..=b'9' if digits < 15 => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
                if dot {
                    scale += 1;
                }
            }
            b'.' if !dot => dot = true,
            _ => return std::str::from_utf8(v).ok()?.parse().ok(),
        }
    }
    if digits == 0 {
        return None;
    }
    // A whole number needs no division (half of the parts of `delays=` are `0`), and a
    // division is the slowest step here. At most 15 digits: the scale indexes the table
    // (each power exact, as `powi`'s are).
    if scale == 0 {
        return Some(mantissa as f64);
    }
    Some(mantissa as f64 / POW10[scale as usize])
}

/// 10^0 … 10^15: `powi` is a libm call, and a delivery line has five of these numbers.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `delays=a/b/c/d` as seconds: before queue, in queue, connection set-up, transmission
/// (`None` unless all four read).
pub fn delays(v: &[u8]) -> Option<[f64; 4]> {
    let mut it = v.split(|&c| c == b'/').map(float);
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(Some(a)), Some(Some(b)), Some(Some(c)), Some(Some(e))) => Some([a, b, c, e]),
        _ => None,
    }
}

/// The decimal number at the start of `v` (`None` without a digit or past `T`'s range): a digit
/// loop, where `str::parse` after a UTF-8 check cost ~60 instructions a field.
fn int<T: TryFrom<u64>>(v: &[u8]) -> Option<T> {
    let mut n = 0u64;
    let mut digits = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    T::try_from(n).ok()
}

fn status_of(word: &[u8]) -> DeliveryStatus {
    match word {
        b"sent" => DeliveryStatus::Sent,
        b"deferred" => DeliveryStatus::Deferred,
        b"bounced" => DeliveryStatus::Bounced,
        b"expired" => DeliveryStatus::Expired,
        b"deliverable" => DeliveryStatus::Deliverable,
        b"undeliverable" | b"undeliverable-but-not-cached" => DeliveryStatus::Undeliverable,
        _ => DeliveryStatus::Other,
    }
}

/// `to=<a>, orig_to=<b>, relay=…, delay=…, delays=…, dsn=…, status=sent (reply)`.
fn delivery<'a>(qid: &'a [u8], v: &'a [u8]) -> Option<Event<&'a [u8]>> {
    let (to, mut rest) = address(v);
    let mut d = Delivery {
        qid,
        to,
        orig_to: None,
        relay: &v[..0],
        delay: None,
        delays: None,
        dsn: None,
        status: DeliveryStatus::Other,
        reply: &v[..0],
        list: false,
        closes_when_final: false,
        hop: None,
    };
    loop {
        rest = rest.strip_prefix(b", ")?;
        // Keys are a few bytes: read as one word, not found by a `memchr` call (~40
        // instructions each) and compared byte by byte.
        let (eq, key) = super::fields::key_before_eq(rest)?;
        let val = &rest[eq + 1..];
        if key == STATUS {
            let end = crate::search::byte(b' ', val).unwrap_or(val.len());
            d.status = status_of(&val[..end]);
            let reply = val.get(end + 1..).unwrap_or_default();
            d.reply = reply
                .strip_prefix(b"(")
                .map(|r| r.strip_suffix(b")").unwrap_or(r))
                .unwrap_or(reply);
            d.hop = super::hop(&d);
            return Some(Event::Delivery(d));
        }
        let (val, next) = if key == ORIG_TO {
            address(val)
        } else {
            let end = super::find_pair(val, b',', b' ').unwrap_or(val.len());
            (&val[..end], &val[end..])
        };
        match key {
            ORIG_TO => d.orig_to = Some(val),
            RELAY => d.relay = val,
            DELAY => d.delay = Some(val),
            DELAYS => d.delays = Some(val),
            DSN => d.dsn = super::is_dsn(val).then_some(val),
            _ => {}
        }
        rest = next;
    }
}

/// qmgr: `from=<a>, size=N, nrcpt=N (queue active)` or `from=<a>, status=expired, returned …`.
fn queued<'a>(qid: &'a [u8], v: &'a [u8]) -> Option<Event<&'a [u8]>> {
    let (from, rest) = address(v);
    let (mut size, mut nrcpt) = (None, None);
    for (_, key, val) in (Fields { rest }) {
        match key {
            SIZE => size = int(val),
            NRCPT => nrcpt = int(val),
            STATUS if val.starts_with(b"expired") => return Some(Event::Expired { qid, from }),
            _ => {}
        }
    }
    size.map(|_| Event::Queued {
        qid,
        from,
        size,
        nrcpt,
    })
}

/// smtpd: `client=host[ip]:port, sasl_method=PLAIN, sasl_username=user`.
fn client<'a>(qid: &'a [u8], v: &'a [u8]) -> Option<Event<&'a [u8]>> {
    let end = super::find_pair(v, b',', b' ').unwrap_or(v.len());
    let client = trim_end(&v[..end]);
    if client.is_empty() {
        return None;
    }
    let sasl_username = (Fields { rest: &v[end..] })
        .find(|(k, _, _)| *k == b"sasl_username")
        .map(|(_, _, v)| v);
    let (client_host, client_ip, _) = super::fields::split_peer(client);
    Some(Event::Client {
        qid,
        client_host,
        client_ip,
        sasl_username,
    })
}

fn notification(rest: &[u8]) -> Option<&[u8]> {
    const KINDS: [&[u8]; 4] = [
        b"sender non-delivery notification: ",
        b"sender delivery status notification: ",
        b"sender delay notification: ",
        b"postmaster non-delivery notification: ",
    ];
    KINDS.iter().find_map(|k| {
        let id = trim_end(rest.strip_prefix(*k)?);
        is_queue_id(id).then_some(id)
    })
}

/// Checks whose reply comes after the `helo=<…>` list rather than after the client.
fn is_content_check(stage: &[u8]) -> bool {
    matches!(
        stage,
        b"header" | b"body" | b"mime-header" | b"nested-header"
    )
}

/// `reject: RCPT from host[ip]: 554 5.7.1 …; from=<a> to=<b> proto=ESMTP helo=<h>` and its kin:
/// milter-reject, reject_warning, discard, hold; smtpd, postscreen and cleanup forms.
fn reject<'a>(qid: Option<&'a [u8]>, rest: &'a [u8]) -> Option<Event<&'a [u8]>> {
    let colon = crate::search::byte(b':', rest)?;
    let word = &rest[..colon];
    let (milter, word) = match word.strip_prefix(b"milter-") {
        Some(w) => (true, w),
        None => (false, word),
    };
    let action = match word {
        b"reject" => RejectAction::Reject,
        b"reject_warning" => RejectAction::RejectWarning,
        b"discard" => RejectAction::Discard,
        b"hold" => RejectAction::Hold,
        _ => return None,
    };
    let text = rest[colon + 1..].strip_prefix(b" ")?;
    let stage_end = crate::search::byte(b' ', text)?;
    let stage = &text[..stage_end];
    // The envelope list starts at the last "; from=" (or "; proto=" when there is no sender).
    let tail_at = envelope_start(text);
    let (head, tail) = match tail_at {
        Some(i) => (&text[..i], &text[i + 2..]),
        None => (text, &text[text.len()..]),
    };
    let mut r = Reject {
        code: None,
        qid,
        action,
        milter,
        stage,
        client: &head[..0],
        reply: &head[..0],
        from: None,
        to: None,
        proto: None,
        helo: None,
    };
    let after_list = envelope(tail, &mut r);
    if is_content_check(stage) {
        if let Some(i) = finder_rev!(b" from ").rfind(head) {
            r.client = &head[i + 6..];
        }
        r.reply = after_list.strip_prefix(b": ").unwrap_or(after_list);
    } else if let Some(i) = FROM_SPACE.find(head) {
        let c = &head[i + 6..];
        let end = super::find_pair(c, b':', b' ').unwrap_or(c.len());
        r.client = &c[..end];
        r.reply = c.get(end + 2..).unwrap_or_default();
    }
    Some(Event::Reject(r))
}

/// Where a reject's envelope list starts: the last `; from=`, else the last `; to=`, else the
/// last `; proto=`. One backward pass over the text's semicolons (a reject has one or two), not
/// three substring searches (~800 instructions a reject, callgrind).
fn envelope_start(text: &[u8]) -> Option<usize> {
    let (mut to, mut proto) = (None, None);
    let mut end = text.len();
    while let Some(i) = crate::search::byte_rev(b';', &text[..end]) {
        let after = &text[i + 1..];
        if after.starts_with(b" from=") {
            return Some(i);
        }
        if to.is_none() && after.starts_with(b" to=") {
            to = Some(i);
        } else if proto.is_none() && after.starts_with(b" proto=") {
            proto = Some(i);
        }
        end = i;
    }
    to.or(proto)
}

/// Reads `from=<a> to=<b> proto=ESMTP helo=<h>` (postscreen separates with `, `) into `r`;
/// returns what follows the list (cleanup puts its reply there).
fn envelope<'a>(mut tail: &'a [u8], r: &mut Reject<&'a [u8]>) -> &'a [u8] {
    loop {
        tail = tail
            .strip_prefix(b", ")
            .or_else(|| tail.strip_prefix(b" "))
            .unwrap_or(tail);
        let Some(eq) = crate::search::byte(b'=', tail) else {
            return tail;
        };
        let key = &tail[..eq];
        if !matches!(key, b"from" | b"to" | b"proto" | b"helo") {
            return tail;
        }
        let (val, next) = address(&tail[eq + 1..]);
        match key {
            b"from" => r.from = Some(val),
            b"to" => r.to = Some(val),
            b"proto" => r.proto = Some(val),
            _ => r.helo = Some(val),
        }
        tail = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::test_util::{b, known};
    use crate::parse::{parse_line, Line};

    fn event(line: &str) -> Event<&[u8]> {
        known(line, None).1
    }

    // Issue 18: LMTP to Dovecot over a unix socket (a public forum post's mail.log,
    // fixtures/README.md): the brackets hold a socket, not an address.
    #[test]
    fn lmtp_over_a_unix_socket_has_no_relay_ip() {
        let e = event("Nov  9 05:48:11 mail1 postfix/lmtp[1838204]: BC3E829EC91: to=<leo@mydomain.com>, relay=mail1.mydomain.com[private/dovecot-lmtp], delay=4.5, delays=4.4/0/0/0.07, dsn=2.0.0, status=sent (250 2.0.0 <leo@mydomain.com> CANtMov9iWGcDBwAHQghHA Saved)");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            crate::parse::split_peer(d.relay),
            (b("mail1.mydomain.com"), b(""), None)
        );
    }

    #[test]
    fn floats_match_the_standard_parser() {
        for v in [
            "0",
            "0.63",
            "46621",
            "0.01",
            "1.23",
            "3.1415926",
            "80260",
            "0.09",
            "1e3",
            "12.5",
        ] {
            assert_eq!(float(v.as_bytes()), v.parse::<f64>().ok(), "{v}");
        }
        assert_eq!(float(b""), None);
        assert_eq!(float(b"x"), None);
    }

    #[test]
    fn syslog_names() {
        for (p, d) in [
            ("postfix/smtpd", Some("smtpd")),
            ("postfix/submission/smtpd", Some("smtpd")),
            ("postfix/smtps/smtpd", Some("smtpd")),
            ("postfix-out/smtp", Some("smtp")),
            ("postfix/10025/smtpd", Some("smtpd")),
            ("postfix/amavis/smtp", Some("smtp")),
            ("postfix-secondary/qmgr", Some("qmgr")),
            ("sendmail", None),
            ("postfix", None),
        ] {
            assert_eq!(daemon(b(p)), d.map(b), "{p}");
        }
    }

    /// The sixteen-byte classes are the table's for every byte in every place.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn class_masks_are_the_tables() {
        for c in 0..=255u8 {
            for at in 0..16 {
                let mut block = [b'~'; 16];
                block[at] = c;
                let (short, long, z) = class_masks(&block);
                let bit = |m: u32| m >> at & 1 == 1;
                let class = QID_CLASS[usize::from(c)];
                assert_eq!(bit(short), class & SHORT != 0, "{c} at {at}");
                assert_eq!(bit(long), class & LONG != 0, "{c} at {at}");
                assert_eq!(bit(z), class & Z != 0, "{c} at {at}");
            }
        }
    }

    /// A message's leading queue ID is the one the byte loop finds: IDs of every length up
    /// to twenty, short and long, with a byte of every value put in each place.
    #[test]
    fn leading_queue_ids_as_the_byte_loop_finds_them() {
        fn by_loop(msg: &[u8]) -> Option<&[u8]> {
            let end = (msg.iter())
                .position(|&c| QID_CLASS[usize::from(c)] == 0)
                .unwrap_or(msg.len());
            let qid = &msg[..end];
            (msg.get(end) == Some(&b':') && is_queue_id(qid)).then_some(qid)
        }
        for base in ["4PbC4x469Jz3tBrQ7kLm9nz", "C7640280020ABCDEF0123"] {
            for n in 0..=20 {
                let mut msg = base.as_bytes()[..n].to_vec();
                msg.extend_from_slice(b": to=<a@b>, relay=none, status=sent");
                assert_eq!(leading_queue_id(&msg), by_loop(&msg), "{msg:?}");
                for at in 0..=n {
                    for c in 0..=255u8 {
                        let mut m = msg.clone();
                        m[at] = c;
                        assert_eq!(leading_queue_id(&m), by_loop(&m), "{m:?}");
                    }
                }
            }
        }
        assert_eq!(
            leading_queue_id(b"4PbC4x469Jz3tBr:"),
            Some(b("4PbC4x469Jz3tBr"))
        );
        assert_eq!(
            leading_queue_id(b"6B1B62259: removed"),
            Some(b("6B1B62259"))
        );
        assert_eq!(leading_queue_id(b"warning: x"), None);
    }

    /// The last `/` of a tag, from the word of its last eight bytes or the byte loop.
    #[test]
    fn last_slash_is_the_last() {
        let tags = [
            "postfix/smtp",
            "postfix/cleanup",
            "postfix/postscreen",
            "postfix/a/b",
            "a/",
            "/",
            "x",
            "",
            "postfix",
            "postfix/submission/smtpd",
            "ab/cdefghijk",
            "abcdefg/",
        ];
        for t in tags {
            assert_eq!(last_slash(b(t)), t.bytes().rposition(|c| c == b'/'), "{t}");
        }
        for n in 0..20 {
            for at in 0..n {
                for other in [None, Some(0), Some(n - 1)] {
                    let mut t = vec![b'a'; n];
                    t[at] = b'/';
                    if let Some(o) = other {
                        t[o] = b'/';
                    }
                    assert_eq!(last_slash(&t), t.iter().rposition(|&c| c == b'/'), "{t:?}");
                }
            }
        }
    }

    #[test]
    fn queue_ids() {
        for id in [
            "C7640280020",
            "6B1B62259",
            "4PbC4x469Jz3tBr",
            "3mPVKl0Mhjz7sXv",
            "48rT2v1hQrz1J0N",
        ] {
            assert!(is_queue_id(b(id)), "{id}");
        }
        // Long IDs have no vowels (and a `z`): one vowel, upper or lower case, is not an ID.
        for w in [
            "warning",
            "NOQUEUE",
            "statistics",
            "connect from x",
            "ABC",
            "4PbC4x469Jz3tBa",
            "4PbC4x469Jz3tEr",
            "4PbC4x469J13tBr",
        ] {
            assert!(!is_queue_id(b(w)), "{w}");
        }
    }

    /// The class table says what the per-character definition said, on every string of up
    /// to three characters from a set with each class's edges, and on long IDs with one
    /// character changed to every byte.
    #[test]
    fn queue_id_table_matches_its_definition() {
        fn by_definition(w: &[u8]) -> bool {
            let short = w.len() >= 5 && w.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F'));
            let long = (10..=24).contains(&w.len())
                && w.contains(&b'z')
                && w.iter()
                    .all(|&c| c.is_ascii_alphanumeric() && !b"AEIOUaeiou".contains(&c));
            short || long
        }
        let edges = b"0 9AFGEazZ:/-\x80";
        let mut words: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..3 {
            let last: Vec<Vec<u8>> = words.clone();
            for w in last.iter().filter(|w| w.len() < 3) {
                for &c in edges {
                    let mut v = w.clone();
                    v.push(c);
                    words.push(v);
                }
            }
        }
        for base in [
            "4PbC4x469Jz3tBr",
            "C7640280020",
            "ABCDE",
            "4PbC4x469Jz3tBr4PbC4x469",
        ] {
            for at in 0..base.len() {
                for c in 0..=255u8 {
                    let mut v = base.as_bytes().to_vec();
                    v[at] = c;
                    words.push(v);
                }
            }
            words.push(base.as_bytes().to_vec());
            words.push(format!("{base}z").into_bytes());
        }
        for w in &words {
            assert_eq!(
                is_queue_id(w),
                by_definition(w),
                "{:?}",
                String::from_utf8_lossy(w)
            );
        }
    }

    #[test]
    fn client_lines() {
        // digineo-postfix_exporter/mail.log
        let e = event("Oct 30 13:19:26 mailgw-out1 postfix/smtpd[27530]: EB4B2C19E2: client=xxx[1.2.3.4], sasl_method=PLAIN, sasl_username=user@domain");
        assert_eq!(
            e,
            Event::Client {
                qid: b("EB4B2C19E2"),
                client_host: b("xxx"),
                client_ip: b("1.2.3.4"),
                sasl_username: Some(b("user@domain"))
            }
        );
        // gitpan-Mail-Log-Parse/log; submission with IPv6 (whyscream smtpd.txt, with header); an
        // `unknown` name is no host
        let e = event("Sep 23 15:57:40 mail postfix/submission/smtpd[3646210]: 838FC8A5F: client=unknown[fe80::1:2:3:4], sasl_method=PLAIN, sasl_username=out@example.org");
        assert!(
            matches!(e, Event::Client { client_host, client_ip, .. } if client_host.is_empty() && client_ip == b("fe80::1:2:3:4"))
        );
        let e = event(
            "Aug 18 00:01:38 acmemail1 postfix/smtpd[5819]: 7326D2B54: client=unknown[10.0.80.60]",
        );
        assert!(matches!(
            e,
            Event::Client {
                sasl_username: None,
                ..
            }
        ));
    }

    #[test]
    fn pickup_cleanup_qmgr() {
        // gitpan-Parse-Syslog-Mail/postfix-plain.log
        let e = event("Feb 20 04:05:39 fangorn postfix/pickup[15241]: 0D7037A4: uid=0 from=<root>");
        assert_eq!(
            e,
            Event::Pickup {
                qid: b("0D7037A4"),
                from: b("root")
            }
        );
        let e = event("Aug 18 00:01:38 acmemail1 postfix/cleanup[5624]: 7918B29DA: message-id=<D31A582E5B6A2B45902C41C643D99A5A01399D5C@K001MB101.network.ad.baz.gov>");
        assert_eq!(
            e,
            Event::MessageId {
                qid: b("7918B29DA"),
                message_id: b(
                    "D31A582E5B6A2B45902C41C643D99A5A01399D5C@K001MB101.network.ad.baz.gov"
                )
            }
        );
        let e = event("Aug 18 00:01:38 acmemail1 postfix/qmgr[20508]: 6B1B62259: from=<00000001@baz.acme.gov>, size=84778, nrcpt=7 (queue active)");
        assert_eq!(
            e,
            Event::Queued {
                qid: b("6B1B62259"),
                from: b("00000001@baz.acme.gov"),
                size: Some(84778),
                nrcpt: Some(7)
            }
        );
        // Long queue IDs: msimerson-log-ship-elastic-postfix/mail.log
        let e = event("Jul  5 06:52:11 prd-mx1 postfix/qmgr[20459]: 3mPVKl0Mhjz7sXv: from=<>, size=2666, nrcpt=2 (queue active)");
        assert!(
            matches!(e, Event::Queued { qid, nrcpt: Some(2), .. } if qid == b("3mPVKl0Mhjz7sXv"))
        );
        let e = event("Aug 18 00:01:38 acmemail1 postfix/qmgr[20508]: 6B1B62259: removed");
        assert_eq!(
            e,
            Event::Removed {
                qid: b("6B1B62259")
            }
        );
        // sergeymakinen-postfix_exporter/mail.log
        let e = event("Jan 1 00:00:00 hostname postfix/qmgr[12345]: 123456789AB: from=<user@example.com>>, status=expired, returned to sender");
        assert!(matches!(e, Event::Expired { qid, .. } if qid == b("123456789AB")));
    }

    #[test]
    fn delivery_agents() {
        let e = event("Aug 18 00:01:38 acmemail1 postfix/smtp[5772]: 6B1B62259: to=<00000002@acme.gov>, relay=10.0.0.1[10.0.0.1]:1025, delay=0.06, delays=0.01/0/0/0.05, dsn=2.0.0, status=sent (250 Message received and queued)");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(d.to, b("00000002@acme.gov"));
        assert_eq!(d.relay, b("10.0.0.1[10.0.0.1]:1025"));
        assert_eq!(d.delay.and_then(float), Some(0.06));
        assert_eq!(d.delays.and_then(delays), Some([0.01, 0.0, 0.0, 0.05]));
        assert_eq!(d.dsn, Some(b("2.0.0")));
        assert_eq!(d.status, DeliveryStatus::Sent);
        assert_eq!(d.reply, b("250 Message received and queued"));

        // local with orig_to, old Postfix without delays/dsn (postfix-plain.log)
        let e = event("Feb 20 04:05:39 fangorn postfix/local[22879]: 0D7037A4: to=<postfix@fangorn.maddingue.net>, orig_to=<root>, relay=local, delay=0, status=sent (delivered to mailbox)");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.orig_to, d.relay, d.dsn),
            (Some(b("root")), b("local"), None)
        );

        // lmtp, virtual, pipe, error, discard (whyscream-postfix-grok-patterns, header added)
        let cases = [
            ("postfix/lmtp", "123456789AB: to=<user@example.com>, relay=example.com[123.45.67.89]:25, delay=1.23, delays=1.23/1.23/1.23/1.23, dsn=1.2.3, status=bounced (123 #1.2.3 Reasons)", DeliveryStatus::Bounced),
            ("postfix/virtual", "B657F2DB195D: to=<postmaster@example.com>, relay=virtual, delay=0.52, delays=0.51/0.01/0/0, dsn=2.0.0, status=sent (delivered to maildir)", DeliveryStatus::Sent),
            ("postfix/pipe", "153053D: to=<tom@example.com>, orig_to=<admin@example.com>, relay=dovecot, delay=3.4, delays=3.3/0.03/0/0.12, dsn=2.0.0, status=sent (delivered via dovecot service)", DeliveryStatus::Sent),
            ("postfix/error", "2DC5552A34: to=<user@yahoo.com>, relay=none, delay=63495, delays=63350/144/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO)", DeliveryStatus::Deferred),
            ("postfix/error", "3E29030F8637E: to=<user@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=5.1.1, status=undeliverable-but-not-cached (User unknown in virtual alias table)", DeliveryStatus::Undeliverable),
            ("postfix/discard", "25F2E5E061: to=<george.desantis@test.example.com>, relay=none, delay=0.05, delays=0.05/0/0/0, dsn=2.0.0, status=sent (test.example.com)", DeliveryStatus::Sent),
        ];
        for (prog, msg, status) in cases {
            let line = format!("Jan  1 00:00:00 h {prog}[1]: {msg}");
            let Event::Delivery(d) = event(&line) else {
                panic!("{line}")
            };
            assert_eq!(d.status, status, "{line}");
        }

        // IPv6 relay with a flattened multi-line reply (youyo test-iso8601.log)
        let e = event("2021-02-06T11:19:26+01:00 mail1.example.com postfix/smtp[63622]: 42E683DD0B: to=<recipient1@destdom.com>, relay=aspmx.l.google.com[2a00:1450:400c:c04::1b]:25, delay=0.59, delays=0.23/0/0.17/0.19, dsn=5.7.26, status=bounced (host aspmx.l.google.com[2a00:1450:400c:c04::1b] said: 550-5.7.26 This message does not have authentication information (in reply to end of DATA command))");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(d.relay, b("aspmx.l.google.com[2a00:1450:400c:c04::1b]:25"));
        assert!(d.reply.ends_with(b"(in reply to end of DATA command)"));

        // A truncated line is malformed, not a record (infohtreasure-Postfix-Maillog-Dump/mailog2)
        assert_eq!(
            event("Nov 18 12:37:32 PostfixServer postfix/smtp[8372]: 1F2DF60508: to=<istoy.malasugi@site01.talakitok.com>, "),
            Event::Malformed
        );
    }

    /// The one backward pass finds what the three substring searches found.
    #[test]
    fn envelope_start_is_the_last_list_start() {
        let rfind = |text: &[u8]| {
            let last = |n: &[u8]| memchr::memmem::rfind(text, n);
            last(b"; from=")
                .or_else(|| last(b"; to="))
                .or_else(|| last(b"; proto="))
        };
        let parts: [&[u8]; 9] = [
            b"; from=<a>",
            b"; to=<b>",
            b"; proto=ESMTP",
            b";",
            b"; ",
            b"x; y",
            b";from=",
            b" helo=<h>",
            b"550 5.7.1 text",
        ];
        // Every sequence of up to four parts.
        let mut texts: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = texts
                .iter()
                .flat_map(|t| parts.iter().map(move |p| [t.as_slice(), p].concat()))
                .collect();
            texts.extend(longer);
        }
        for t in &texts {
            assert_eq!(
                envelope_start(t),
                rfind(t),
                "{}",
                String::from_utf8_lossy(t)
            );
        }
    }

    #[test]
    fn rejects() {
        // fail2ban/postfix
        let e = event("Jul 12 07:47:48 saturn postfix/smtpd[8738]: NOQUEUE: reject: RCPT from 1-2-3-4-example.com[1.2.3.4]: 554 5.7.1 <smtp@example.com>: Relay access denied; from=<john@example.com> to=<smtp@example.org> proto=SMTP helo=<198.51.100.17>");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(r.qid, None);
        assert_eq!(r.action, RejectAction::Reject);
        assert_eq!(r.stage, b("RCPT"));
        assert_eq!(r.client, b("1-2-3-4-example.com[1.2.3.4]"));
        assert_eq!(
            r.reply,
            b("554 5.7.1 <smtp@example.com>: Relay access denied")
        );
        assert_eq!(
            (r.from, r.to),
            (Some(b("john@example.com")), Some(b("smtp@example.org")))
        );
        assert_eq!(
            (r.proto, r.helo),
            (Some(b("SMTP")), Some(b("198.51.100.17")))
        );
        // Empty to=<> and helo= (fail2ban/postfix)
        let e = event("Feb 21 09:21:54 xxx postfix/smtpd[14398]: NOQUEUE: reject: RCPT from example.com[192.0.43.10]: 450 4.7.1 : Helo command rejected: Host not found; from=<> to=<> proto=ESMTP helo=");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            (r.from, r.to, r.helo),
            (Some(b("")), Some(b("")), Some(b("")))
        );

        // queued reject (infohtreasure-Postfix-Maillog-Dump/maillog)
        let e = event("Feb 26 12:27:16 server1 postfix/smtpd[6006]: A3EF4405DD14: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <line@server1.alsoft.org>: Recipient address rejected: User unknown in local recipient table; from=<root@server1.alsoft.org> to=<line@server1.alsoft.org> proto=ESMTP helo=<server1.alsoft.org>");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            (r.qid, r.to),
            (Some(b("A3EF4405DD14")), Some(b("line@server1.alsoft.org")))
        );

        // milter-reject at END-OF-MESSAGE (youyo test-milter.log)
        let e = event("2021-02-06T10:57:58+01:00 mail.server.com postfix/cleanup[59586]: D6DDA23B0F: milter-reject: END-OF-MESSAGE from unknown[99.88.77.66]: 4.7.1 Greylisting in action, try again later; from=<user2@example.com> to=<some.dest@destdomain.com> proto=ESMTP helo=<host.sender.domain>");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert!(r.milter && r.qid == Some(b("D6DDA23B0F")));
        assert_eq!(r.reply, b("4.7.1 Greylisting in action, try again later"));
        assert_eq!(r.client, b("unknown[99.88.77.66]"));

        // milter-hold (youyo test-milter.log)
        let e = event("2021-02-19T14:32:14.976132+01:00 smtp01.example.org postfix/cleanup[52106] E89FA2DEDA: milter-hold: END-OF-MESSAGE from srv05.source.com[10.11.12.13]: milter triggers HOLD action; from=<> to=<this_user@this.domain.com> proto=ESMTP helo=<this.domain.com>");
        assert!(matches!(
            e,
            Event::Reject(Reject {
                code: None,
                action: RejectAction::Hold,
                ..
            })
        ));

        // cleanup header reject (gitpan-Parse-Syslog-Mail/cpan-rt-28807.log)
        let e = event("Aug 13 16:06:58 DalekGate postfix/cleanup[17395]: 8B7EF2BB7: reject: header Date: Mon, 18 Jan 2038 19:07:11 +0800 from unknown[192.168.7.245]; from=<bcfxhdfyrey4l@easterndalek.com> to=<service@exterminate.com> proto=ESMTP helo=<realmail.iiiiiii.com>: Message content rejected");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(r.stage, b("header"));
        assert_eq!(r.client, b("unknown[192.168.7.245]"));
        assert_eq!(r.to, Some(b("service@exterminate.com")));
        assert_eq!(r.reply, b("Message content rejected"));

        // postscreen uses ", " between envelope fields (sergeymakinen-postfix_exporter/mail.log)
        let e = event("Jan 1 00:00:00 hostname postfix/postscreen[12345]: NOQUEUE: reject: RCPT from [123.45.67.89]:12345: 550 5.7.1 Reasons; client [123.45.67.89] blocked using example.com; from=<user@example.com>, to=<user@example.com>, proto=ESMTP, helo=<example.com>");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(r.client, b("[123.45.67.89]:12345"));
        assert_eq!(r.to, Some(b("user@example.com")));

        // reject_warning and discard (gitpan-Mail-Log-Parse/log, whyscream smtpd.txt)
        let e = event("Aug 18 00:01:39 acmemail1 postfix/smtpd[5821]: NOQUEUE: reject_warning: RCPT from ndcscan01.fiz.acme.gov[10.0.77.16]: 450 4.1.8 <00000094@sapdb07.cpb.acme.gov>: Sender address rejected: Domain not found; from=<00000094@sapdb07.cpb.acme.gov> to=<qs1adm@sapdb07.cpb.acme.gov> proto=ESMTP helo=<tnwg01a064.fiz.acme.gov>");
        assert!(matches!(
            e,
            Event::Reject(Reject {
                code: None,
                action: RejectAction::RejectWarning,
                ..
            })
        ));
        let e = event("Jan  1 00:00:00 h postfix/smtpd[1]: NOQUEUE: discard: MAIL from ccm231.constantcontact.com[208.75.123.231]: <bsdbdsfbw==_4343_sdfbddw==@in.constantcontact.com>: Sender address SPAM; from=<bsdbdsfbw==_4343_sdfbddw==@in.constantcontact.com> proto=ESMTP helo=<ccm231.constantcontact.com>");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(r.action, RejectAction::Discard);
        assert_eq!(r.to, None);
        assert_eq!(
            r.from,
            Some(b("bsdbdsfbw==_4343_sdfbddw==@in.constantcontact.com"))
        );

        // postscreen CONNECT reject without an envelope (sergeymakinen-postfix_exporter)
        let e = event("Jan 1 00:00:00 hostname postfix/postscreen[12345]: NOQUEUE: reject: CONNECT from [123.45.67.89]:12345: too many connections");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!((r.stage, r.from, r.to), (b("CONNECT"), None, None));
        assert_eq!(
            (r.client, r.reply),
            (b("[123.45.67.89]:12345"), b("too many connections"))
        );
    }

    #[test]
    fn notifications_and_noise() {
        // whyscream bounce.txt (header added)
        let e = event("Jan  1 00:00:00 h postfix/bounce[1]: 17CCA8044: sender non-delivery notification: ADD2F8052");
        assert_eq!(
            e,
            Event::Notification {
                qid: b("17CCA8044"),
                new_qid: b("ADD2F8052")
            }
        );
        for line in [
            "Aug 18 00:01:38 acmemail1 postfix/smtpd[5833]: disconnect from localhost.localdomain[127.0.0.1]",
            "Aug 18 00:01:38 acmemail1 postfix/smtpd[5748]: connect from localhost.localdomain[127.0.0.1]",
            "Apr 26 10:55:19 tcc1 postfix/smtpd[21126]: warning: laptop.local[192.168.1.2]: SASL PLAIN authentication failed: generic failure",
            // youyo-postfix-log-parser/test-milter.log: queued lines that carry no record
            "2021-12-03T06:27:33.923496+01:00 smtp01.example.org postfix/smtpd[50419] B42E77AB32: filter: RCPT from 42-64-53-170.subs.proxad.net[42.64.53.170]: <archive@senderdomain.com>: Recipient address triggers FILTER relay:[smtp01.example.org]; from=<youssefh@senderdomain.com> to=<archive@senderdomain.com> ",
        ] {
            assert_eq!(event(line), Event::Ignored, "{line}");
        }
        assert!(matches!(parse_line(b"madeup: Gobbely Gook"), Line::Unknown));
    }

    #[test]
    fn sizes_and_counts_read_as_str_parse_would() {
        for text in [
            "800",
            "800, nrcpt=1",
            "0",
            "",
            "x1",
            "18446744073709551615",
            "18446744073709551616",
            "4294967296",
        ] {
            let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
            assert_eq!(
                int::<u64>(text.as_bytes()),
                digits.parse::<u64>().ok(),
                "{text}"
            );
            assert_eq!(
                int::<u32>(text.as_bytes()),
                digits.parse::<u32>().ok(),
                "{text}"
            );
        }
    }
}
