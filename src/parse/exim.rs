//! Exim: the mainlog (`YYYY-MM-DD HH:MM:SS[.fff] [±zone] [[pid]] …`, every line dated, so no
//! year is inferred) and Exim logging through syslog (`… exim[pid]: …`). Knows arrivals (`<=`),
//! deliveries (`=>`, `->` another address of the same delivery, `*>` suppressed), failures
//! (`**`), deferrals (`==`), `Completed`, and `rejected RCPT` / `rejected after DATA`.
//! Message IDs: classic `1a2B3c-000abc-D4` and 4.97+ `1a2B3c-000000000abc-D4EF`.

use super::{Arrival, Delivery, DeliveryStatus, Event, Reject, RejectAction};
use crate::time::{parse_iso, RawStamp};

/// True for Exim's syslog tags.
pub fn is_program(program: &[u8]) -> bool {
    matches!(program, b"exim" | b"exim4" | b"exim3")
}

/// `DT=` (deliver time, `+deliver_time`) as seconds: `2s`, `0.123s` with `+millisec`.
pub fn delay(v: &[u8]) -> Option<f64> {
    std::str::from_utf8(v.strip_suffix(b"s").unwrap_or(v))
        .ok()
        .and_then(|s| s.parse().ok())
}

/// A line of Exim's mainlog: its date, then the message.
pub fn own(line: &[u8]) -> Option<(RawStamp, Event<&[u8]>)> {
    mainlog_header(line).map(|(stamp, body)| (stamp, parse(body)))
}

/// An Exim message through syslog (its own date may lead the message).
pub fn syslog<'a>(_program: &'a [u8], msg: &'a [u8]) -> Event<&'a [u8]> {
    parse(syslog_body(msg))
}

/// True if `w` is an Exim message ID: 6-6-2 (classic) or 6-11-4 (4.97+) base-62 parts.
pub fn is_message_id(w: &[u8]) -> bool {
    let mut parts = w.split(|&c| c == b'-');
    let part = |p: Option<&[u8]>, n: usize| {
        p.is_some_and(|p| p.len() == n && p.iter().all(u8::is_ascii_alphanumeric))
    };
    let (a, b, c) = (parts.next(), parts.next(), parts.next());
    parts.next().is_none()
        && part(a, 6)
        && ((part(b, 6) && part(c, 2)) || (part(b, 11) && part(c, 4)))
}

/// The message of an Exim syslog line without the mainlog stamp Exim puts in it too
/// (`syslog_timestamp`, on by default): the syslog stamp is the one kept, as for qmail's
/// splogger.
pub fn syslog_body(msg: &[u8]) -> &[u8] {
    mainlog_header(msg).map_or(msg, |(_, rest)| rest)
}

/// The stamp and the rest of a mainlog line: `2024-01-15 10:23:45[.123] [+0100] [[1234]] rest`.
/// Syslog lines with an RFC 3339 stamp (a `T` between date and time) are not mainlog lines.
pub fn mainlog_header(line: &[u8]) -> Option<(RawStamp, &[u8])> {
    if line.get(10) != Some(&b' ') || !line.first()?.is_ascii_digit() {
        return None;
    }
    let (stamp, used) = parse_iso(line)?;
    let mut rest = line.get(used..)?.strip_prefix(b" ")?;
    let mut stamp = stamp;
    // log_timezone: ` +0100`.
    if let (Some(&sign @ (b'+' | b'-')), Some(z)) = (rest.first(), rest.get(1..5)) {
        if z.iter().all(u8::is_ascii_digit) && rest.get(5) == Some(&b' ') {
            let h = i32::from(z[0] - b'0') * 10 + i32::from(z[1] - b'0');
            let m = i32::from(z[2] - b'0') * 10 + i32::from(z[3] - b'0');
            let secs = (h * 3600 + m * 60) * if sign == b'-' { -1 } else { 1 };
            if let RawStamp::Iso { local, .. } = stamp {
                stamp = RawStamp::Iso {
                    local,
                    offset: Some(secs),
                };
            }
            rest = &rest[6..];
        }
    }
    // log_selector +pid: ` [1234]`.
    if rest.first() == Some(&b'[') {
        let close = crate::search::byte(b']', rest)?;
        rest = rest
            .get(close + 1..)?
            .strip_prefix(b" ")
            .unwrap_or(&rest[close + 1..]);
    }
    Some((stamp, rest))
}

/// `key=value` fields after an address: values may be `"quoted"` (`C="250 OK"`, `T="subject"`);
/// `H=` spans `name (helo) [ip]:port`.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest.trim_ascii_start();
        let eq = crate::search::byte(b'=', r)?;
        // Words without `=` are skipped: a deferral's `defer (-44) H=…`.
        let key = match crate::search::byte_rev(b' ', &r[..eq]) {
            Some(sp) => &r[sp + 1..eq],
            None => &r[..eq],
        };
        if key.is_empty() {
            return None;
        }
        let v = &r[eq + 1..];
        let (val, next) = if v.first() == Some(&b'"') {
            // Quoted: up to the closing quote (Exim escapes inner quotes with a backslash).
            let mut i = 1;
            while i < v.len() && v[i] != b'"' {
                i += if v[i] == b'\\' { 2 } else { 1 };
            }
            (&v[1..i.min(v.len())], v.get(i + 1..).unwrap_or_default())
        } else if key == b"H" {
            v.split_at(host_field_len(v))
        } else {
            let end = crate::search::byte(b' ', v).unwrap_or(v.len());
            (&v[..end], &v[end..])
        };
        self.rest = next;
        Some((key, val))
    }
}

/// The length of an `H=` value: `name [ip]:port`, `(helo) [ip]`, `name (helo) [ip]`,
/// `name DS [ip]`, `([192.0.2.7]) [192.0.2.8]` (a HELO that is an address literal), or a
/// bare name list without an address (`host.1:host.2`). The address is the first `[` outside
/// parentheses that starts a word; the value ends after it and its port, or else at the next
/// ` KEY=`.
fn host_field_len(v: &[u8]) -> usize {
    let mut depth = 0u32;
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'[' if depth == 0 && (i == 0 || v[i - 1] == b' ') => {
                let Some(c) = crate::search::byte(b']', &v[i..]) else {
                    return v.len();
                };
                let mut end = i + c + 1;
                if v.get(end) == Some(&b':') {
                    end += 1 + v[end + 1..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                }
                return end;
            }
            b' ' if depth == 0 && starts_field(&v[i + 1..], usize::MAX) => return i,
            _ => {}
        }
        i += 1;
    }
    v.len()
}

/// The parts of an Exim `H=` value, each when present and well-formed.
struct HostParts<'a> {
    name: Option<&'a [u8]>,
    helo: Option<&'a [u8]>,
    ip: Option<&'a [u8]>,
}

/// Splits `name (helo) [ip]:port` into its name, helo and ip.
fn host_parts(h: &[u8]) -> HostParts<'_> {
    let (name, ip, _) = super::split_peer(h);
    // The HELO is the outer parentheses, which may hold brackets: `([192.0.2.7])`.
    let helo = crate::search::byte(b'(', h).and_then(|o| {
        let mut depth = 0u32;
        for (i, &c) in h[o..].iter().enumerate() {
            match c {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(&h[o + 1..o + i]);
                    }
                }
                _ => {}
            }
        }
        None
    });
    HostParts {
        name: (!name.is_empty()).then_some(name),
        helo,
        ip: (!ip.is_empty()).then_some(ip),
    }
}

/// `addr <orig> rest`: the address, the original address in angle brackets when given, rest.
/// The address runs to ` <` when an original follows before the first `KEY=` field (special
/// addresses hold spaces: `:defer: defer message@special <":defer: …"@special>`), else to the
/// first space; a failure without fields logs `** addr: reason`, whose colon is not the
/// address's.
fn address(v: &[u8]) -> (&[u8], Option<&[u8]>, &[u8]) {
    let fields_at = fields_start(v);
    let head = &v[..fields_at];
    if let Some(lt) = super::find_pair(head, b' ', b'<') {
        let r = &v[lt + 2..];
        if let Some(close) = crate::search::byte(b'>', r) {
            let after = r.get(close + 1..).unwrap_or_default();
            if after.is_empty() || after.starts_with(b" ") {
                return (&v[..lt], Some(&r[..close]), after.trim_ascii_start());
            }
        }
    }
    let end = crate::search::byte(b' ', v).unwrap_or(v.len());
    let addr = &v[..end];
    match addr.strip_suffix(b":") {
        // The reason keeps its `: ` for the caller to find.
        Some(a) if !a.starts_with(b":") => (a, None, &v[end - 1..]),
        _ => (addr, None, v.get(end + 1..).unwrap_or_default()),
    }
}

/// Where the `KEY=` fields of a delivery line begin (` R=`, ` T=`, …), or the end.
fn fields_start(v: &[u8]) -> usize {
    crate::search::each(b' ', v)
        .find(|&i| starts_field(&v[i + 1..], 3))
        .unwrap_or(v.len())
}

/// True if `w` begins with a `KEY=` field: 1 to `max` letters, then `=`.
fn starts_field(w: &[u8], max: usize) -> bool {
    let n = w.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    n > 0 && n <= max && w.get(n) == Some(&b'=')
}

/// What a delivery's address says happened: Exim's special addresses (`:blackhole:`,
/// `:defer:`, `:fail:`) and autoreplies (`>userx`) are not where the message went; the
/// original address is.
enum Target {
    /// An address, a pipe (`|cmd`) or a file (`/path`).
    Address,
    Blackhole,
    /// `:defer:`, `:fail:` and autoreplies (`>a,b`): the outcome is the line's flag.
    Pseudo,
}

fn target(addr: &[u8]) -> Target {
    if addr == b":blackhole:" {
        Target::Blackhole
    } else if addr.starts_with(b":") || addr.starts_with(b">") {
        Target::Pseudo
    } else {
        Target::Address
    }
}

/// Parses the body of an Exim line (after the stamp).
pub fn parse(body: &[u8]) -> Event<&[u8]> {
    let Some(sp) = crate::search::byte(b' ', body) else {
        return Event::Ignored;
    };
    let (first, rest) = (&body[..sp], &body[sp + 1..]);
    if !is_message_id(first) {
        return reject(None, body).unwrap_or(Event::Ignored);
    }
    let qid = first;
    let flag = rest.get(..3);
    let after = rest.get(3..).unwrap_or_default();
    match flag {
        Some(b"<= ") => arrival(qid, after),
        Some(b"=> " | b"-> " | b"*> ") => delivery(qid, after, DeliveryStatus::Sent),
        Some(b"** ") => delivery(qid, after, DeliveryStatus::Bounced),
        Some(b"== ") => delivery(qid, after, DeliveryStatus::Deferred),
        _ if rest.starts_with(b"Completed") => Event::Removed { qid },
        _ => reject(Some(qid), rest).unwrap_or(Event::Ignored),
    }
}

fn arrival<'a>(qid: &'a [u8], v: &'a [u8]) -> Event<&'a [u8]> {
    let end = crate::search::byte(b' ', v).unwrap_or(v.len());
    let from = &v[..end];
    // `<= <>` is the null sender.
    let from = if from == b"<>" { &from[..0] } else { from };
    let mut a = Arrival::new(qid, from);
    for (k, val) in (Fields { rest: &v[end..] }) {
        match k {
            b"S" => a.size = std::str::from_utf8(val).ok().and_then(|s| s.parse().ok()),
            b"H" => {
                let h = host_parts(val);
                a.client_host = h.name;
                a.helo = h.helo;
                a.client_ip = h.ip;
            }
            b"P" => a.proto = Some(val),
            b"id" => a.message_id = Some(val),
            b"A" => a.sasl_username = val.iter().position(|&c| c == b':').map(|i| &val[i + 1..]),
            b"R" if is_message_id(val) => a.prev_qid = Some(val),
            _ => {}
        }
    }
    Event::Arrival(a)
}

fn delivery<'a>(qid: &'a [u8], v: &'a [u8], status: DeliveryStatus) -> Event<&'a [u8]> {
    let (addr, orig, rest) = address(v);
    let (to, orig_to, pseudo, status) = match target(addr) {
        Target::Address => (addr, orig, None, status),
        Target::Blackhole => (
            orig.unwrap_or(&addr[..0]),
            None,
            Some(addr),
            DeliveryStatus::Discarded,
        ),
        Target::Pseudo => (orig.unwrap_or(&addr[..0]), None, Some(addr), status),
    };
    let mut d = Delivery {
        qid,
        to,
        orig_to,
        relay: &v[..0],
        delay: None,
        delays: None,
        dsn: None,
        status,
        reply: &v[..0],
        list: false,
        closes_when_final: false,
        hop: None,
    };
    // Failures and deferrals end with `: reason` (deferrals: `defer (-53): reason`).
    let (fields, reason) = match status {
        DeliveryStatus::Bounced | DeliveryStatus::Deferred => {
            match super::find_pair(rest, b':', b' ') {
                Some(i) => (&rest[..i], Some(&rest[i + 2..])),
                None => (rest, None),
            }
        }
        _ => (rest, None),
    };
    for (k, val) in (Fields { rest: fields }) {
        match k {
            b"H" => d.relay = val,
            b"C" => d.reply = val,
            b"DT" => d.delay = Some(val),
            _ => {}
        }
    }
    if let Some(r) = reason {
        d.reply = r;
    }
    if let (Some(p @ ([b':', b'b', ..] | [b'>', ..])), true) = (pseudo, d.relay.is_empty()) {
        // Where the message went: the blackhole, or the autoreply.
        d.relay = p;
    }
    d.hop = super::hop(&d);
    Event::Delivery(d)
}

/// Exim's refusals, `[qid ]FIELDS [temporarily ]rejected WHAT[ <addr>][: reason]`, where WHAT
/// is `RCPT`, `MAIL`, `after DATA`, `DATA`, `by local_scan()`, `by non-SMTP ACL`, `connection
/// in "connect" ACL`, `EHLO or HELO name`, `HELO from host`, `VRFY`, `from <sender>` (message
/// too big), …; also `SMTP protocol synchronization error (…): rejected connection from H=…`,
/// `refused connection from [ip]` and `refused relay (host) to <addr>`. Exim does not log the
/// reply code it sent: its defaults stand in (550, 451 for a temporary refusal, 554 for a
/// refused connection).
fn reject<'a>(qid: Option<&'a [u8]>, v: &'a [u8]) -> Option<Event<&'a [u8]>> {
    if let Some(ev) = refused(v).or_else(|| dropped(qid, v)) {
        return Some(ev);
    }
    // The first ` rejected ` (or a line that begins with it): later ones are in the reason.
    let at = if v.starts_with(b"rejected ") {
        0
    } else {
        super::finder!(b" rejected ").find(v)? + 1
    };
    let temporary = v[..at].ends_with(b"temporarily ");
    let head = if temporary { &v[..at - 12] } else { &v[..at] };
    let tail = &v[at + 9..];
    let word_end = tail
        .iter()
        .position(|&c| c == b' ' || c == b':')
        .unwrap_or(tail.len());
    let word = &tail[..word_end];
    let mut r = Reject {
        qid,
        code: None,
        action: RejectAction::Reject,
        milter: false,
        stage: word,
        client: &v[..0],
        reply: &v[..0],
        from: None,
        to: None,
        proto: None,
        helo: None,
    };
    for (k, val) in (Fields { rest: head }) {
        match k {
            b"H" => r.client = val,
            b"F" => r.from = Some(strip_angles(val)),
            b"P" => r.proto = Some(val),
            _ => {}
        }
    }
    let sync_error = head.starts_with(b"SMTP protocol synchronization error");
    let mut rest = tail.get(word_end..).unwrap_or_default().trim_ascii_start();
    let mut code = 550;
    match word {
        b"RCPT" => (r.to, rest) = address_then_reason(rest),
        b"MAIL" => {
            // `MAIL <sender>: reason`; a syntax error: `MAIL FROM:<x> U=CALLER: reason`;
            // no sender: `MAIL from [ip]: reason`, `MAIL command U=CALLER: reason`.
            let r2 = rest.strip_prefix(b"FROM:").unwrap_or(rest);
            let (from, after) = address_then_reason(r2);
            if from.is_some_and(|f| r2.starts_with(b"<") || f.contains(&b'@')) {
                (r.from, rest) = (from, after);
            }
            r.stage = b"MAIL";
        }
        b"after" | b"by" | b"during" => r.stage = b"DATA",
        b"from" => {
            // `from <sender> H=…: message too big`.
            let (from, after) = address_then_reason(rest);
            r.from = r.from.or(from);
            rest = after;
            r.stage = b"DATA";
        }
        b"connection" => {
            r.stage = b"CONNECT";
            code = 554;
        }
        b"EHLO" | b"HELO" => r.stage = b"HELO",
        [] => r.stage = b"DATA",
        _ => {}
    }
    if sync_error {
        r.stage = b"CONNECT";
        code = 554;
    }
    // A client named after the refusal: `rejected EHLO from (helo) [ip]: reason`,
    // `rejected connection from H=[ip] input=…`.
    if r.client.is_empty() {
        if let Some(h) = super::find_pair(rest, b'H', b'=') {
            let val = &rest[h + 2..];
            r.client = &val[..host_field_len(val)];
        } else if let Some(f) = super::finder!(b"from ").find(rest) {
            let val = &rest[f + 5..];
            let end = super::find_pair(val, b':', b' ').unwrap_or(val.len());
            if crate::search::byte(b'[', &val[..end]).is_some() {
                r.client = &val[..end];
            }
        }
    }
    r.helo = host_parts(r.client).helo;
    if temporary {
        code = 451;
    }
    r.code = Some(code);
    r.reply = match super::find_pair(rest, b':', b' ') {
        Some(i) if !sync_error => &rest[i + 2..],
        _ if sync_error => head.trim_ascii_end().strip_suffix(b":").unwrap_or(head),
        _ => &rest[rest.len()..],
    };
    Some(Event::Reject(r))
}

/// `refused connection from [ip] (host_reject_connection)` and the older `refused relay (host)
/// to <addr>`.
fn refused(v: &[u8]) -> Option<Event<&[u8]>> {
    let relay = v.starts_with(b"refused relay");
    if !relay && !v.starts_with(b"refused connection from ") {
        return None;
    }
    let mut r = Reject {
        qid: None,
        code: Some(if relay { 550 } else { 554 }),
        action: RejectAction::Reject,
        milter: false,
        stage: if relay { &b"RCPT"[..] } else { b"CONNECT" },
        client: &v[..0],
        reply: v,
        from: None,
        to: None,
        proto: None,
        helo: None,
    };
    if relay {
        // `refused relay (host) [ip] to <addr>`.
        let to = super::finder!(b" to <").find(v)?;
        let rest = &v[to + 5..];
        r.to = Some(&rest[..crate::search::byte(b'>', rest)?]);
        r.client = v[13..to].trim_ascii();
    } else {
        let rest = &v[24..];
        r.client = &rest[..host_field_len(rest)];
    }
    Some(Event::Reject(r))
}

/// `H=[127.0.0.1] dropped by 'connect' ACL: reason`: a refusal that also closes the connection.
fn dropped<'a>(qid: Option<&'a [u8]>, v: &'a [u8]) -> Option<Event<&'a [u8]>> {
    let at = super::finder!(b" dropped by '").find(v)?;
    let acl = &v[at + 13..];
    let acl = &acl[..crate::search::byte(b'\'', acl)?];
    let connect = acl == b"connect";
    let mut r = Reject {
        qid,
        code: Some(if connect { 554 } else { 550 }),
        action: RejectAction::Reject,
        milter: false,
        stage: if connect { &b"CONNECT"[..] } else { acl },
        client: &v[..0],
        reply: super::find_pair(&v[at..], b':', b' ').map_or(&v[..0], |i| &v[at + i + 2..]),
        from: None,
        to: None,
        proto: None,
        helo: None,
    };
    for (k, val) in (Fields { rest: &v[..at] }) {
        match k {
            b"H" => r.client = val,
            b"F" => r.from = Some(strip_angles(val)),
            _ => {}
        }
    }
    r.helo = host_parts(r.client).helo;
    Some(Event::Reject(r))
}

fn strip_angles(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"<")
        .and_then(|x| x.strip_suffix(b">"))
        .unwrap_or(v)
}

/// `<addr>: reason`, `<addr>` or (older Exim) `addr: reason`: the address and what follows it.
fn address_then_reason(rest: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match rest.strip_prefix(b"<") {
        Some(x) => match crate::search::byte(b'>', x) {
            Some(c) => (Some(&x[..c]), x.get(c + 1..).unwrap_or_default()),
            None => (None, rest),
        },
        None if !rest.is_empty() && !rest.starts_with(b":") => {
            let end = super::find_pair(rest, b':', b' ').unwrap_or(rest.len());
            let addr = rest[..end].trim_ascii_end();
            let addr = crate::search::byte(b' ', addr).map_or(addr, |sp| &addr[..sp]);
            (Some(addr), &rest[end..])
        }
        None => (None, rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::test_util::{b, known};
    use crate::parse::{parse_line, Line, Mta};

    fn event(line: &str) -> Event<&[u8]> {
        known(line, Some(Mta::Exim)).1
    }

    #[test]
    fn message_ids() {
        for id in [
            "10HmaX-000000005vi-0000",
            "10HmaX-0005vi-00",
            "1rPVlx-0001Hs-2K",
        ] {
            assert!(is_message_id(b(id)), "{id}");
        }
        for w in ["H=(test)", "10HmaX-0005vi", "Start", "10HmaX-0005vi-000"] {
            assert!(!is_message_id(b(w)), "{w}");
        }
    }

    // Real lines from Exim's test suite (exim-testsuite/log-HEAD) and fail2ban/exim.
    #[test]
    fn arrival_delivery_completed_new_ids() {
        let e = event("1999-03-02 09:44:33 10HmaX-000000005vi-0000 <= someone@some.where U=CALLER P=local-bsmtp S=sss id=abcd%rxyz@p.q.r");
        let Event::Arrival(a) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (a.qid, a.from, a.proto, a.message_id),
            (
                b("10HmaX-000000005vi-0000"),
                b("someone@some.where"),
                Some(b("local-bsmtp")),
                Some(b("abcd%rxyz@p.q.r"))
            )
        );
        let e = event("1999-03-02 09:44:33 10HmaY-000000005vi-0000 => userx@test.ex <Userx-S@Test.Ex> R=localuser_ss T=delivery_s H=127.0.0.1 [127.0.0.1] C=\"250 OK\"");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.to, d.orig_to, d.relay, d.reply, d.status),
            (
                b("userx@test.ex"),
                Some(b("Userx-S@Test.Ex")),
                b("127.0.0.1 [127.0.0.1]"),
                b("250 OK"),
                DeliveryStatus::Sent
            )
        );
        let e = event("1999-03-02 09:44:33 10HmbN-000000005vi-0000 -> ok2 <ok2@test.ex> R=r0 T=t2");
        assert!(matches!(
            e,
            Event::Delivery(Delivery {
                status: DeliveryStatus::Sent,
                ..
            })
        ));
        let e = event("1999-03-02 09:44:33 10HmaY-000000005vi-0000 *> accept <accept@y> R=accept T=appendfile");
        assert!(matches!(
            e,
            Event::Delivery(Delivery {
                status: DeliveryStatus::Sent,
                ..
            })
        ));
        let e = event("1999-03-02 09:44:33 10HmaX-000000005vi-0000 Completed");
        assert_eq!(
            e,
            Event::Removed {
                qid: b("10HmaX-000000005vi-0000")
            }
        );
    }

    #[test]
    fn bounce_arrival_names_the_message_it_answers() {
        let e = event("1999-03-02 09:44:33 10HmaZ-000000005vi-0000 <= <> R=10HmaY-000000005vi-0000 U=EXIMUSER P=local S=sss");
        let Event::Arrival(a) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (a.from, a.prev_qid),
            (b(""), Some(b("10HmaY-000000005vi-0000")))
        );
    }

    #[test]
    fn classic_ids_failures_deferrals() {
        let e = event("1999-03-02 09:44:33 10HmaX-0005vi-00 => :blackhole: <nulldeliver@test.ex> R=nulldeliver");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        // A blackhole is where the message was discarded, not its recipient.
        assert_eq!(
            (d.qid, d.to, d.orig_to, d.relay, d.status),
            (
                b("10HmaX-0005vi-00"),
                b("nulldeliver@test.ex"),
                None,
                b(":blackhole:"),
                DeliveryStatus::Discarded
            )
        );
        let e = event("1999-03-02 09:44:33 10HmaX-000000005vi-0000 ** userx@mxt1.test.ex R=others : lowest numbered MX record points to local host");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.status, d.reply),
            (
                DeliveryStatus::Bounced,
                b("lowest numbered MX record points to local host")
            )
        );
        let e = event("1999-03-02 09:44:33 10HmaY-000000005vi-0000 == CALLER@two.test.ex defer (-23): domain is held");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.status, d.to, d.reply),
            (
                DeliveryStatus::Deferred,
                b("CALLER@two.test.ex"),
                b("domain is held")
            )
        );
    }

    #[test]
    fn deferral_with_a_host() {
        // exim-testsuite/log-HEAD/5611: the host tried follows `defer (-37)`.
        let e = event("1999-03-02 09:44:33 10HmbD-000000005vi-0000 == lack_required@test.ex R=client T=send_to_server3 defer (-37) H=127.0.0.1 [127.0.0.1]: TLS session: (SSL_connect) Required TLS certificate status not received");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.status, d.relay, d.reply),
            (
                DeliveryStatus::Deferred,
                b("127.0.0.1 [127.0.0.1]"),
                b("TLS session: (SSL_connect) Required TLS certificate status not received")
            )
        );
    }

    #[test]
    fn syslog_lines_with_exim_own_stamp() {
        // Exim logging to syslog keeps its own stamp in the message (syslog_timestamp).
        let line =
            "Dec 29 00:29:02 mx4 exim[1069]: 2026-12-29 00:29:02 1xiL5K-0000000000P-0YzD Completed";
        let Line::Known { mta, event, .. } = parse_line(line.as_bytes()) else {
            panic!("{line}")
        };
        assert_eq!(mta, Mta::Exim);
        assert!(
            matches!(event, Event::Removed { qid } if qid == b("1xiL5K-0000000000P-0YzD")),
            "{event:?}"
        );
    }

    // Issue 18's findings, on real lines (fail2ban/exim-spam, exim-testsuite 0135, 0180).
    #[test]
    fn helo_literals_failure_colons_local_scan_and_codes() {
        let line = "2013-06-15 11:19:33 [2249] H=([2.181.148.95]) [2.181.148.95]:52391 I=[1.2.3.4]:25 F=fantasizesg4@google.com rejected RCPT some@email.com: rejected found in dnsbl zen.spamhaus.org";
        let Event::Reject(r) = event(line) else {
            panic!("{line}")
        };
        assert_eq!(
            crate::parse::split_peer(r.client),
            (b(""), b("2.181.148.95"), Some(52391))
        );
        assert_eq!(
            (r.helo, r.to, r.code, r.reply),
            (
                Some(b("[2.181.148.95]")),
                Some(b("some@email.com")),
                Some(550),
                b("rejected found in dnsbl zen.spamhaus.org")
            )
        );
        let e = event(
            "1999-03-02 09:44:33 10HmaX-000000005vi-0000 ** b@known.ex: retry timeout exceeded",
        );
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.to, d.reply),
            (b("b@known.ex"), b("retry timeout exceeded"))
        );
        let line = "2013-06-09 10:21:28 [14127] 1UlasQ-0003fr-45 F=mcorporation4@aol.com H=(mail38.fssprus.ru) [46.254.240.82]:43671 I=[1.2.3.4]:25 P=esmtp rejected by local_scan(): Rejected";
        let Event::Reject(r) = event(line) else {
            panic!("{line}")
        };
        assert_eq!(
            (r.qid, r.stage, r.from, r.reply, r.code),
            (
                Some(b("1UlasQ-0003fr-45")),
                b("DATA"),
                Some(b("mcorporation4@aol.com")),
                b("Rejected"),
                Some(550)
            )
        );
        let e = event("1999-03-02 09:44:33 rejected MAIL FROM:<userx@test.ex> U=CALLER: message too big: size=1000000000 max=100");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            (r.stage, r.from, r.to, r.reply),
            (
                b("MAIL"),
                Some(b("userx@test.ex")),
                None,
                b("message too big: size=1000000000 max=100")
            )
        );
        let e = event("1999-03-02 09:44:33 H=(test) [V4NET.0.0.1] F=<x@y> temporarily rejected RCPT <userx@test.ex>: greylisted");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(r.code, Some(451));
    }

    #[test]
    fn rejected_after_data() {
        // fail2ban/exim-spam: a message refused at the end of DATA, with its ID.
        let line = "2013-06-15 11:20:36 [2516] 1Unmew-0000ea-SE H=egeftech.static.otenet.gr [83.235.177.148]:32706 I=[1.2.3.4]:25 F=auguriesvbd40@google.com rejected after DATA: This message contains a virus (Sanesecurity.Junk.39934.UNOFFICIAL).";
        let Event::Reject(r) = event(line) else {
            panic!("{line}")
        };
        assert_eq!(
            (r.qid, r.stage, r.from),
            (
                Some(b("1Unmew-0000ea-SE")),
                b("DATA"),
                Some(b("auguriesvbd40@google.com"))
            )
        );
        assert!(r.reply.starts_with(b"This message contains a virus"));
    }

    #[test]
    fn rejects_and_noise() {
        let e = event("1999-03-02 09:44:33 H=(test) [10.0.0.2] U=CALLER F=<jules@box3.plc.example> rejected RCPT <userx@test.ex>: Sender verify failed");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            (r.qid, r.stage, r.from, r.to),
            (
                None,
                b("RCPT"),
                Some(b("jules@box3.plc.example")),
                Some(b("userx@test.ex"))
            )
        );
        assert_eq!(
            (r.helo, r.reply),
            (Some(b("test")), b("Sender verify failed"))
        );
        assert_eq!(crate::parse::split_peer(r.client).1, b("10.0.0.2"));
        assert_eq!(
            event("1999-03-02 09:44:33 Start queue run: pid=p1234"),
            Event::Ignored
        );
    }

    #[test]
    fn zones_pids_and_syslog() {
        // Exim's `[pid]` after the stamp, bare addresses, a client port (fail2ban/exim).
        let line = "2013-06-10 18:33:32 [10099] H=(yakult.com.tw) [202.132.70.178]:3755 I=[1.2.3.4]:25 F=menacedsj04@listserv.eurasia.org rejected RCPT dir@ml3.ru: relay not permit";
        let Event::Reject(r) = event(line) else {
            panic!("{line}")
        };
        assert_eq!(
            (r.from, r.to, r.reply),
            (
                Some(b("menacedsj04@listserv.eurasia.org")),
                Some(b("dir@ml3.ru")),
                b("relay not permit")
            )
        );
        assert_eq!(
            crate::parse::split_peer(r.client),
            (b(""), b("202.132.70.178"), Some(3755))
        );
        // Milliseconds (exim-testsuite/log-HEAD); a log_timezone offset (the same line with the
        // ` +0100` that Exim writes when log_timezone is set).
        let line = "2017-07-30 18:51:05.712 10HmaX-000000005vi-0000 Completed";
        assert!(matches!(event(line), Event::Removed { .. }));
        let line = "2017-07-30 18:51:05.712 +0100 10HmaX-000000005vi-0000 Completed";
        let Line::Known { stamp, .. } = parse_line(line.as_bytes()) else {
            panic!()
        };
        assert!(
            matches!(
                stamp,
                RawStamp::Iso {
                    offset: Some(3600),
                    ..
                }
            ),
            "{stamp:?}"
        );
        let line = "2019-10-22 03:39:17 mx1.fqdn.local exim[29786]: dovecot_login authenticator failed for (User) [192.0.2.37]: 535 Incorrect authentication data (set_id=test@domain.com)";
        assert!(matches!(
            parse_line(line.as_bytes()),
            Line::Known {
                mta: Mta::Exim,
                event: Event::Ignored,
                ..
            }
        ));
    }
}
