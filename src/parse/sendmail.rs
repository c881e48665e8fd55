//! Sendmail (`sendmail`, `sm-mta`, `sm-msp-queue`, `sendmail-in`/`-out`): `from=` arrivals,
//! `to=` deliveries that list several recipients (`to=<a>,<b>`, one record each), `ctladdr=`,
//! `delay=`/`xdelay=` (`d+hh:mm:ss`), `mailer=`, `relay=`, `dsn=`, `stat=` (Sent, Deferred: …,
//! User unknown, …); `ruleset=check_mail|check_rcpt|check_relay … reject=` and `Milter: …
//! reject=`; SMTP-time `<addr>... User unknown`; DSN and return-to-sender child messages.

use super::fields::key_word;
use super::{Arrival, Delivery, DeliveryStatus, Event, Reject, RejectAction};
use crate::search::Pairs;

/// True for Sendmail's syslog tags.
pub fn is_program(program: &[u8]) -> bool {
    program.starts_with(b"sendmail") || program.starts_with(b"sm-")
}

/// A Sendmail message through syslog.
pub fn syslog<'a>(_program: &'a [u8], msg: &'a [u8]) -> Event<&'a [u8]> {
    parse(msg)
}

/// True if `w` is shaped like a Sendmail queue ID (`u91MiLhk021798`, older `g8U2LVi03161`):
/// letters and digits, with a digit. One pass over a class table: it runs for every Sendmail
/// line, and two passes with the byte tests cost ~43 instructions a line more (callgrind).
pub fn is_queue_id(w: &[u8]) -> bool {
    if !(10..=20).contains(&w.len()) {
        return false;
    }
    let (mut all, mut any) = (ALNUM, 0);
    for &c in w {
        let class = ID_CLASS[usize::from(c)];
        all &= class;
        any |= class;
    }
    all & ALNUM != 0 && any & DIGIT != 0
}

/// Bits of [`ID_CLASS`]: a letter or digit, a digit.
const ALNUM: u8 = 1;
const DIGIT: u8 = 2;

const ID_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] |= ALNUM;
        }
        if b.is_ascii_digit() {
            t[c] |= DIGIT;
        }
        c += 1;
    }
    t
};

/// The keys read here, as [`key_word`]s.
const TO: u64 = key_word(b"to");
const CTLADDR: u64 = key_word(b"ctladdr");
const DELAY: u64 = key_word(b"delay");
const MAILER: u64 = key_word(b"mailer");
const RELAY: u64 = key_word(b"relay");
const DSN: u64 = key_word(b"dsn");
const STAT: u64 = key_word(b"stat");
const REJECT: u64 = key_word(b"reject");
const SIZE: u64 = key_word(b"size");
const NRCPTS: u64 = key_word(b"nrcpts");
const MSGID: u64 = key_word(b"msgid");
const PROTO: u64 = key_word(b"proto");
const ARG1: u64 = key_word(b"arg1");
const FROM: u64 = key_word(b"from");

/// `key=value, key=value` in `line` from `at`, each key as its [`key_word`]: values end at
/// `, ` (addresses, `relay=host [ip]`, `ctladdr=x (0/0)`); `stat=` and `reject=` run to the
/// end of the line. The `, ` are found in one pass over the line ([`Pairs`]).
struct Fields<'a> {
    line: &'a [u8],
    at: usize,
    pairs: Pairs<'a>,
}

impl<'a> Fields<'a> {
    #[inline]
    fn new(line: &'a [u8]) -> Self {
        Fields {
            line,
            at: 0,
            pairs: Pairs::new(b',', b' ', line),
        }
    }

    /// The first `, ` at or after `from`, or the line's end.
    #[inline]
    fn pair_end(&mut self, from: usize) -> usize {
        self.pairs.first_from(from).unwrap_or(self.line.len())
    }

    /// The first `, key=` at or after `from` (a lowercase word then `=`), or the line's end.
    fn next_key(&mut self, mut from: usize) -> usize {
        while let Some(i) = self.pairs.first_from(from) {
            let w = &self.line[i + 2..];
            let n = w.iter().take_while(|c| c.is_ascii_lowercase()).count();
            if n > 0 && w.get(n) == Some(&b'=') {
                return i;
            }
            from = i + 1;
        }
        self.line.len()
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u64, &'a [u8]);

    // Inlined into each line's loop: as a call, its set-up and return were a third of a
    // field's instructions.
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let line = self.line;
        let mut at = self.at;
        if line.get(at..at + 2) == Some(b", ") {
            at += 2;
        }
        while line.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let (_, value_at, key) = super::fields::field_key_word(line.get(at..)?)?;
        let v = at + value_at;
        let end = match key {
            STAT | REJECT => line.len(),
            // `to=a, b, c, ctladdr=…`: the list runs to the next `, key=`.
            TO => self.next_key(v),
            _ => self.pair_end(v),
        };
        self.at = end;
        Some((key, &line[v..end]))
    }
}

/// `v` as a number when it is all digits, at most 19 (which `str::parse` reads the same way,
/// after a UTF-8 check: ~80 instructions a number more); `None` leaves `v` to `str::parse`.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}

fn strip_brackets(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .unwrap_or(v)
}

/// `00:00:01`, `1+00:00:15` → seconds.
pub fn duration(v: &[u8]) -> Option<f64> {
    quick_duration(v).or_else(|| {
        let s = std::str::from_utf8(v).ok()?;
        let (days, hms) = match s.split_once('+') {
            Some((d, rest)) => (d.parse::<f64>().ok()?, rest),
            None => (0.0, s),
        };
        let mut parts = hms.split(':').map(|p| p.parse::<f64>().ok());
        let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
        Some(days * 86_400.0 + h * 3600.0 + m * 60.0 + sec)
    })
}

/// [`duration`] of whole numbers (as Sendmail writes them), read as bytes: the general parse
/// through `str` and `f64` was ~2% of the instructions of a Sendmail conversion.
fn quick_duration(v: &[u8]) -> Option<f64> {
    // `hh:mm:ss`, nearly every delay, read in place (the general form below splits it: ~250
    // instructions a delivery more).
    if let [h1, h0, b':', m1, m0, b':', s1, s0] = *v {
        let d = [h1, h0, m1, m0, s1, s0];
        if d.iter().all(u8::is_ascii_digit) {
            let n = |hi: u8, lo: u8| f64::from((hi - b'0') * 10 + (lo - b'0'));
            return Some(n(h1, h0) * 3600.0 + n(m1, m0) * 60.0 + n(s1, s0));
        }
    }
    // Up to nine digits: a `u32`, exact as an `f64`.
    fn number(p: &[u8]) -> Option<f64> {
        if p.len() > 9 {
            return None;
        }
        digits(p).and_then(|n| u32::try_from(n).ok()).map(f64::from)
    }
    let (days, hms) = match v.iter().position(|&c| c == b'+') {
        Some(i) => (number(&v[..i])?, &v[i + 1..]),
        None => (0.0, v),
    };
    let mut parts = hms.split(|&c| c == b':');
    let (h, m, sec) = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next()?)?,
    );
    Some(days * 86_400.0 + h * 3600.0 + m * 60.0 + sec)
}

/// The queue ID before the first `: ` of `msg`, if that is one.
fn leading_queue_id(msg: &[u8]) -> Option<&[u8]> {
    // Sixteen bytes classified at once: an ID of up to fifteen bytes ends in them, and a
    // letter or digit before the first other byte cannot be a `:` (a search for `: ` and a
    // byte loop over the ID were ~120 instructions a line; callgrind).
    if let Some(block) = msg.first_chunk::<16>() {
        let (alnum, digit) = crate::search::alnum_masks(block);
        let end = (!alnum).trailing_zeros() as usize;
        if end < 16 {
            let id = (10..16).contains(&end) && digit & ((1 << end) - 1) != 0;
            return (id && msg.get(end..end + 2) == Some(b": ")).then(|| &msg[..end]);
        }
    }
    let colon = super::find_pair(msg, b':', b' ')?;
    let first = &msg[..colon];
    is_queue_id(first).then_some(first)
}

/// Parses the message part of a Sendmail line.
pub fn parse(msg: &[u8]) -> Event<&[u8]> {
    let Some(qid) = leading_queue_id(msg) else {
        // `ruleset=check_relay, …, reject=…` comes without a queue ID.
        return reject(None, msg).unwrap_or(Event::Ignored);
    };
    let rest = &msg[qid.len() + 2..];
    if let Some(v) = rest.strip_prefix(b"from=") {
        return arrival(qid, v).unwrap_or(Event::Malformed);
    }
    if rest.starts_with(b"to=") {
        return delivery(qid, rest).unwrap_or(Event::Malformed);
    }
    if let Some(ev) = reject(Some(qid), rest) {
        return ev;
    }
    // `NEWQID: DSN: …`, `NEWQID: return to sender: …`, `NEWQID: postmaster notify: …`.
    if let Some(c) = super::find_pair(rest, b':', b' ') {
        let child = &rest[..c];
        let what = &rest[c + 2..];
        if is_queue_id(child)
            && (what.starts_with(b"DSN:")
                || what.starts_with(b"return to sender")
                || what.starts_with(b"postmaster notify")
                || what.starts_with(b"sender notify"))
        {
            return Event::Notification {
                qid,
                new_qid: child,
            };
        }
    }
    // `<addr>... User unknown`: a recipient refused during the SMTP dialogue.
    if rest.starts_with(b"<") {
        if let Some(i) = finder!(b">... ").find(rest) {
            return Event::Reject(Reject {
                code: None,
                qid: Some(qid),
                action: RejectAction::Reject,
                milter: false,
                stage: &rest[..0],
                client: &rest[..0],
                reply: &rest[i + 5..],
                from: None,
                // `<badguy@example.com,,0,>... Invalid route address`: Sendmail reads `,` as a
                // list separator; the first element is the address.
                to: Some(rest[1..i].split(|&c| c == b',').next().unwrap_or_default()),
                proto: None,
                helo: None,
            });
        }
    }
    Event::Ignored
}

fn arrival<'a>(qid: &'a [u8], v: &'a [u8]) -> Option<Event<&'a [u8]>> {
    let mut fields = Fields::new(v);
    let end = fields.pair_end(0);
    fields.at = end;
    let mut a = Arrival::new(qid, strip_brackets(&v[..end]));
    for (k, val) in fields {
        match k {
            SIZE => {
                a.size = match digits(val) {
                    Some(n) => Some(n),
                    None => std::str::from_utf8(val).ok()?.parse().ok(),
                }
            }
            NRCPTS => {
                a.nrcpt = match digits(val) {
                    Some(n) => u32::try_from(n).ok(),
                    None => std::str::from_utf8(val).ok().and_then(|s| s.parse().ok()),
                }
            }
            MSGID => a.message_id = Some(strip_brackets(val)),
            PROTO => a.proto = Some(val),
            RELAY => {
                // `host [ip]`, `[ip]`, `user@host [ip]`, `host [ip] (may be forged)`, `localhost`.
                let (name, ip) = match crate::search::byte(b'[', val) {
                    Some(o) => {
                        let c = crate::search::byte(b']', &val[o..]).map_or(val.len(), |c| o + c);
                        (val[..o].trim_ascii_end(), Some(&val[o + 1..c]))
                    }
                    None => (val, None),
                };
                let name = crate::search::byte_rev(b'@', name).map_or(name, |i| &name[i + 1..]);
                a.client_host = (!name.is_empty()).then_some(name);
                a.client_ip = ip;
            }
            _ => {}
        }
    }
    Some(Event::Arrival(a))
}

fn delivery<'a>(qid: &'a [u8], rest: &'a [u8]) -> Option<Event<&'a [u8]>> {
    let mut d = Delivery {
        qid,
        to: &rest[..0],
        orig_to: None,
        relay: &rest[..0],
        delay: None,
        delays: None,
        dsn: None,
        status: DeliveryStatus::Other,
        reply: &rest[..0],
        list: true,
        closes_when_final: true,
        hop: None,
    };
    let mut mailer: &[u8] = &rest[..0];
    let mut stat: Option<&[u8]> = None;
    let mut ctladdr: Option<&[u8]> = None;
    for (k, val) in Fields::new(rest) {
        match k {
            TO => d.to = val,
            CTLADDR => ctladdr = Some(val),
            DELAY => d.delay = Some(val),
            MAILER => mailer = val,
            RELAY => d.relay = val,
            DSN => d.dsn = super::is_dsn(val).then_some(val),
            STAT => stat = Some(val),
            _ => {}
        }
    }
    let stat = stat?;
    // A program or file an alias expanded to: `to="|node /home/e2m/e2m.js", ctladdr=<e2m@x>
    // (8/0)`. The quotes are Sendmail's, not the recipient's; ctladdr names the address that
    // was expanded (for other deliveries it is the local sender, not a recipient).
    if let Some(target) = d.to.strip_prefix(b"\"").and_then(|t| t.strip_suffix(b"\"")) {
        if target.starts_with(b"|") || target.starts_with(b"/") {
            d.to = target;
            d.list = false;
            d.orig_to = ctladdr
                .and_then(|c| c.strip_prefix(b"<"))
                .and_then(|c| Some(&c[..crate::search::byte(b'>', c)?]));
        }
    }
    if d.relay.is_empty() {
        d.relay = mailer;
    }
    let class = d.dsn.and_then(|s| s.first().copied());
    if let Some(r) = stat.strip_prefix(b"Sent") {
        d.status = DeliveryStatus::Sent;
        let r = r.trim_ascii_start();
        d.reply = r
            .strip_prefix(b"(")
            .map_or(r, |x| x.strip_suffix(b")").unwrap_or(x));
    } else if let Some(r) = stat.strip_prefix(b"Deferred") {
        d.status = DeliveryStatus::Deferred;
        d.reply = r.strip_prefix(b":").unwrap_or(r).trim_ascii_start();
    } else {
        // User unknown, Service unavailable, Host unknown, …: final unless the DSN says 4.x.x.
        d.status = if class == Some(b'4') {
            DeliveryStatus::Deferred
        } else {
            DeliveryStatus::Bounced
        };
        d.reply = stat;
    }
    d.hop = super::hop(&d);
    Some(Event::Delivery(d))
}

/// `ruleset=check_rcpt, arg1=<a>, relay=host [ip], reject=550 5.7.1 …` and `Milter: …, reject=…`.
fn reject<'a>(qid: Option<&'a [u8]>, rest: &'a [u8]) -> Option<Event<&'a [u8]>> {
    let at = finder!(b"reject=").find(rest)?;
    let (stage, body) = if let Some(b) = rest.strip_prefix(b"ruleset=") {
        let end = crate::search::byte(b',', b).unwrap_or(b.len());
        (&b[..end], &b[end..])
    } else if let Some(b) = rest.strip_prefix(b"Milter: ") {
        (&rest[..6], b)
    } else {
        return None;
    };
    let mut r = Reject {
        code: None,
        qid,
        action: RejectAction::Reject,
        milter: rest.starts_with(b"Milter"),
        stage,
        client: &rest[..0],
        reply: rest.get(at + 7..).unwrap_or_default(),
        from: None,
        to: None,
        proto: None,
        helo: None,
    };
    let mut arg1: Option<&[u8]> = None;
    for (k, val) in Fields::new(body) {
        match k {
            ARG1 => arg1 = Some(strip_brackets(val)),
            RELAY => r.client = val,
            FROM => r.from = Some(strip_brackets(val)),
            TO => r.to = Some(strip_brackets(val)),
            _ => {}
        }
    }
    match stage {
        b"check_mail" => r.from = r.from.or(arg1),
        b"check_rcpt" => r.to = r.to.or(arg1),
        _ => {}
    }
    Some(Event::Reject(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::test_util::{b, known};
    use crate::parse::Mta;

    /// The class table's answer is the definition's: every length from 0 to 22, over letters,
    /// digits and other bytes, with and without a digit.
    #[test]
    fn queue_ids_are_letters_and_digits_with_a_digit() {
        let slow = |w: &[u8]| {
            (10..=20).contains(&w.len())
                && w.iter().all(u8::is_ascii_alphanumeric)
                && w.iter().any(u8::is_ascii_digit)
        };
        for n in 0..23 {
            for fill in [b'a', b'Z', b'7'] {
                let base = vec![fill; n];
                assert_eq!(is_queue_id(&base), slow(&base), "{n} {fill}");
                for at in 0..n {
                    for c in (0..=255u8)
                        .step_by(3)
                        .chain([b'0', b'9', b'a', b'z', b'A', b'Z'])
                    {
                        let mut w = base.clone();
                        w[at] = c;
                        assert_eq!(is_queue_id(&w), slow(&w), "{w:?}");
                    }
                }
            }
        }
        assert!(is_queue_id(b"u91MiLhk021798"));
        assert!(!is_queue_id(b"abcdefghijkl"));
    }

    /// The fields split as the search a field did before [`Fields`]: random lines of keys
    /// (the ones read here and others), values with commas, spaces and `, ` in them, lists,
    /// and lines longer than a window of [`Pairs`].
    #[test]
    fn fields_split_as_a_search_a_field_did() {
        fn slowly(mut rest: &[u8]) -> Vec<(u64, &[u8])> {
            let next_key = |v: &[u8]| {
                crate::search::each(b',', v).find(|&i| {
                    let Some(w) = v.get(i + 1..).and_then(|w| w.strip_prefix(b" ")) else {
                        return false;
                    };
                    let n = w.iter().take_while(|c| c.is_ascii_lowercase()).count();
                    n > 0 && w.get(n) == Some(&b'=')
                })
            };
            let mut out = Vec::new();
            loop {
                let r = rest.strip_prefix(b", ").unwrap_or(rest).trim_ascii_start();
                let Some((_, value_at, key)) = crate::parse::fields::field_key_word(r) else {
                    return out;
                };
                let v = &r[value_at..];
                let end = match key {
                    STAT | REJECT => v.len(),
                    TO => next_key(v).unwrap_or(v.len()),
                    _ => crate::parse::find_pair(v, b',', b' ').unwrap_or(v.len()),
                };
                rest = &v[end..];
                out.push((key, &v[..end]));
            }
        }
        let keys: [&[u8]; 9] = [
            b"to",
            b"ctladdr",
            b"delay",
            b"relay",
            b"stat",
            b"reject",
            b"x",
            b"Key",
            b"verylongkey",
        ];
        let bits: [&[u8]; 9] = [
            b"a",
            b"<b@c>",
            b",",
            b" ",
            b", ",
            b", y=",
            b"=",
            b"[1.2.3.4]",
            b"\t",
        ];
        let mut rand = crate::testing::xorshift(11);
        for _ in 0..20_000 {
            let mut line = Vec::new();
            for f in 0..rand() % 12 {
                if f > 0 {
                    line.extend_from_slice([&b", "[..], b",", b" , "][(rand() % 3) as usize]);
                }
                line.extend_from_slice(keys[(rand() % 9) as usize]);
                line.push(b'=');
                for _ in 0..rand() % 8 {
                    line.extend_from_slice(bits[(rand() % 9) as usize]);
                }
            }
            assert_eq!(
                Fields::new(&line).collect::<Vec<_>>(),
                slowly(&line),
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
    }

    /// The leading queue ID is the text before the first `: ` when that is a queue ID, on
    /// every length around the sixteen bytes classified at once.
    #[test]
    fn leading_queue_ids_are_before_the_first_colon() {
        fn slow(msg: &[u8]) -> Option<&[u8]> {
            let colon = crate::parse::find_pair(msg, b':', b' ')?;
            is_queue_id(&msg[..colon]).then(|| &msg[..colon])
        }
        let mut rand = crate::testing::xorshift(5);
        for _ in 0..50_000 {
            let msg: Vec<u8> = (0..rand() % 24)
                .map(|_| b"k7Zk7Zk7Zk7: -"[(rand() % 14) as usize])
                .chain(*b": to=<a@b>")
                .collect();
            assert_eq!(leading_queue_id(&msg), slow(&msg), "{msg:?}");
        }
        assert_eq!(
            leading_queue_id(b"k2200001014522: to=<a>"),
            Some(&b"k2200001014522"[..])
        );
    }

    /// A number `digits` reads is the one `str::parse` reads; signs, spaces, other bytes and
    /// numbers of 20 digits (which could overflow) are left to `str::parse`.
    #[test]
    fn digits_read_as_str_parse_reads_them() {
        for v in ["0", "7", "73330", "0012", "9999999999999999999"] {
            assert_eq!(digits(v.as_bytes()), v.parse::<u64>().ok(), "{v}");
        }
        for v in [
            "",
            "+1",
            "-1",
            "1a",
            " 1",
            "12 ",
            "18446744073709551615",
            "99999999999999999999",
        ] {
            assert_eq!(digits(v.as_bytes()), None, "{v}");
        }
    }

    fn event(line: &str) -> Event<&[u8]> {
        known(line, Some(Mta::Sendmail)).1
    }

    // Issue 18: a delivery to a program through an alias (a public how-to's maillog,
    // fixtures/README.md), an IPv6 peer (fail2ban/sendmail-reject), the MSP's hand-off with no
    // name (infohtreasure maillog), and a refused list address (sendmail-custom-dsn.log).
    #[test]
    fn program_deliveries_ipv6_peers_and_refused_lists() {
        let e = event("Mar 23 15:43:11 zen1 sendmail[26238]: t2N4h8XZ026237: to=\"|node /home/e2m/e2m.js\", ctladdr=<e2m@zen1.mydomain.com> (8/0), delay=00:00:03, xdelay=00:00:03, mailer=prog, pri=30622, dsn=2.0.0, stat=Sent");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.to, d.orig_to, d.list, d.status),
            (
                b("|node /home/e2m/e2m.js"),
                Some(b("e2m@zen1.mydomain.com")),
                false,
                DeliveryStatus::Sent
            )
        );
        // ctladdr of an ordinary delivery is the sender, not an original recipient.
        let e = event("Mar 23 15:43:08 zen1 sendmail[26236]: t2N4h88k026236: to=e2m@localhost, ctladdr=kevin (500/500), delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30083, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (t2N4h8XZ026237 Message accepted for delivery)");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(d.orig_to, None);
        assert_eq!(
            crate::parse::split_peer(d.relay),
            (b(""), b("127.0.0.1"), None)
        );
        // A real check_rcpt line (a public sendmail how-to) with its peer in the IPv6 form the
        // issue reports.
        let e = event("Oct 31 21:05:17 q381-1158 sendmail[15715]: 29VC5Hbm015715: ruleset=check_rcpt, arg1=<websiteman@naver.com>, relay=ipv6.example.net [IPv6:2001:db8::1], reject=550 5.7.1 <websiteman@naver.com>... Relaying denied");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            crate::parse::split_peer(r.client),
            (b("ipv6.example.net"), b("2001:db8::1"), None)
        );
        let e = event("May 20 07:01:47 mailhost sendmail[2847]: j4KC1gSG002847: <badguy@badhost.example.com,,0,>... Invalid route address");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(r.to, Some(b("badguy@badhost.example.com")));
    }

    // Real lines: yudai09-fluent-plugin-sendmail/data, gitpan-Parse-Syslog-Mail/*.log.
    #[test]
    fn from_and_multi_recipient_to() {
        let e = event("Apr  2 00:15:25 mta001 sendmail[32300]: u31FFPtp032300: from=<grandeur09@gmail.com>, size=5938, class=0, nrcpts=7, msgid=<201604011515.u31FFIAj012911@gmail.com>, proto=ESMTP, daemon=MTA, relay=[64.233.187.27]");
        let Event::Arrival(a) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (a.qid, a.from, a.size, a.nrcpt),
            (
                b("u31FFPtp032300"),
                b("grandeur09@gmail.com"),
                Some(5938),
                Some(7)
            )
        );
        assert_eq!(
            (a.client_host, a.client_ip, a.message_id),
            (
                None,
                Some(b("64.233.187.27")),
                Some(b("201604011515.u31FFIAj012911@gmail.com"))
            )
        );
        let e = event("Apr  2 00:15:25 mta001 sendmail[32302]: u31FFPtp032300: to=<sent1@example.com>,<sent2@example.com>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=245938, relay=[93.184.216.34] [93.184.216.34], dsn=2.0.0, stat=Sent (ok:  Message 40279894 accepted)");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.to, d.status, d.list),
            (
                b("<sent1@example.com>,<sent2@example.com>"),
                DeliveryStatus::Sent,
                true
            )
        );
        assert_eq!(
            (d.relay, d.dsn, d.reply),
            (
                b("[93.184.216.34] [93.184.216.34]"),
                Some(b("2.0.0")),
                b("ok:  Message 40279894 accepted")
            )
        );
        let e = event("Apr  3 00:15:40 mta001 sendmail[12566]: u31FFPtp032300: to=<deferred2@example.com>, delay=1+00:00:15, xdelay=00:00:15, mailer=esmtp, pri=34527, relay=[93.184.216.34] [93.184.216.34], dsn=4.3.5, stat=Deferred: 451 4.3.5 Server configuration problem");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.status, d.delay.and_then(duration), d.reply),
            (
                DeliveryStatus::Deferred,
                Some(86_415.0),
                b("451 4.3.5 Server configuration problem")
            )
        );
        // ctladdr and the local mailer (no relay=)
        let e = event("Apr  2 00:15:25 mta001 sendmail[32302]: u31FFPtp032300: to=root@localhost.localdomain, ctladdr=root@localhost.localdomain (0/0), delay=00:00:00, xdelay=00:00:00, mailer=local, pri=245938, dsn=2.0.0, stat=Sent");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.to, d.relay, d.status),
            (
                b("root@localhost.localdomain"),
                b("local"),
                DeliveryStatus::Sent
            )
        );
        // MSP → MTA hand-off (sendmail-plain.log)
        let e = event("Jan  6 02:37:33 Jupiter sendmail[809]: j061bW9V000809: to=cpan-testers@perl.org, ctladdr=maddingue (501/20), delay=00:00:01, xdelay=00:00:00, mailer=relay, pri=30151, relay=localhost [127.0.0.1], dsn=2.0.0, stat=Sent (j061bXn5000812 Message accepted for delivery)");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(d.reply, b("j061bXn5000812 Message accepted for delivery"));
        assert_eq!(crate::parse::split_peer(d.relay).1, b("127.0.0.1"));
    }

    #[test]
    fn recipient_list_with_spaces() {
        // infohtreasure-Postfix-Maillog-Dump/maillog: `mail This is the subject line` gone wrong.
        let e = event("Feb 26 12:27:16 server1 sendmail[6005]: 21QBRGdX006005: to=This, is, the, subject, line, ctladdr=root (0/0), delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=180030, relay=[127.0.0.1] [127.0.0.1], dsn=5.1.1, stat=User unknown");
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.to, d.status, d.reply),
            (
                b("This, is, the, subject, line"),
                DeliveryStatus::Bounced,
                b("User unknown")
            )
        );
    }

    #[test]
    fn failures_rejects_and_children() {
        let e = event("May 20 04:03:16 mailhost sendmail[27873]: j4K93AYX027873: <nobody@example.edu>... User unknown");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            (r.to, r.reply),
            (Some(b("nobody@example.edu")), b("User unknown"))
        );
        let e = event("Mar 24 16:52:57 fence sendmail[26245]: j2OFquVD026245: ruleset=check_rcpt, arg1=<fwipada@dakkitydak.fap>, relay=mx2.laboris.fr [123.456.789.1], reject=553 5.1.8 <fwipada@dakkitydak.fap>... Domain of sender address antoine@infirmiers.co does not exist");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            (r.stage, r.to, r.client),
            (
                b("check_rcpt"),
                Some(b("fwipada@dakkitydak.fap")),
                b("mx2.laboris.fr [123.456.789.1]")
            )
        );
        assert!(r.reply.starts_with(b"553 5.1.8"));
        // check_relay without a queue ID, check_mail (wazuh/sendmail-alerts-stripped.log, a header
        // added), and a Milter reject (quoted in maillogconvert.pl's source).
        let e = event("Feb 19 18:01:50 batman sm-mta[78152]: ruleset=check_relay, arg1=[196.213.73.146], arg2=196.213.73.146, relay=[196.213.73.146], reject=421 4.3.2 Connection rate limit exceeded.");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            (r.qid, r.stage, r.from, r.to),
            (None, b("check_relay"), None, None)
        );
        let e = event("May 25 20:08:23 host sm-mta[20900]: k4PK8NYf020900: ruleset=check_mail, arg1=<brbomaquinas@brbom.com>, relay=200-138-41-205.ctame705.dsl.brasiltelecom.net.br [200.138.41.205] (may be forged), reject=553 5.1.8 <brbomaquinas@brbom.com>... Domain of sender address brbomaquinas@brbom.com does not exist");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert_eq!(
            (r.stage, r.from),
            (b("check_mail"), Some(b("brbomaquinas@brbom.com")))
        );
        let e = event("Jan 10 18:00:34 smtp sendmail[5759]: i04Axx2c005759: Milter: data, reject=511 Virus found in email!");
        let Event::Reject(r) = e else { panic!("{e:?}") };
        assert!(r.milter && r.reply == b("511 Virus found in email!"));
        let e = event("May 20 04:07:05 mailhost sendmail[28499]: j4K970hV028494: j4K975hV028499: DSN: Service unavailable");
        assert_eq!(
            e,
            Event::Notification {
                qid: b("j4K970hV028494"),
                new_qid: b("j4K975hV028499")
            }
        );
        let e = event("May 20 06:48:50 mailhost sendmail[376]: j4EGMdrM030190: j4IIMlJ5000376: return to sender: Cannot send message for 4 days");
        assert_eq!(
            e,
            Event::Notification {
                qid: b("j4EGMdrM030190"),
                new_qid: b("j4IIMlJ5000376")
            }
        );
        assert_eq!(event("Oct 23 21:01:20 technoids.org sm-mta[13891]: h9NL1K9M013890: h9NL1K9M013891: clone: owner=Postmaster"), Event::Ignored);
        assert_eq!(event("Jan  4 20:47:07 Jupiter sendmail[415]: starting daemon (8.12.9): SMTP+queueing@01:00:00"), Event::Ignored);
    }

    #[test]
    fn durations_whole_and_otherwise() {
        for (text, want) in [
            ("00:00:01", Some(1.0)),
            ("1+00:00:15", Some(86_415.0)),
            ("12:34:56", Some(45_296.0)),
            ("00:00:01.5", Some(1.5)),
            ("00:01", None),
            ("x", None),
        ] {
            assert_eq!(duration(text.as_bytes()), want, "{text}");
        }
        // The `hh:mm:ss` shortcut reads what the split into numbers reads (other bytes in it
        // leave the value to the split).
        let split = |v: &str| {
            let p: Vec<f64> = v
                .split(':')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some(p[0] * 3600.0 + p[1] * 60.0 + p[2])
        };
        for h in (0..100).step_by(7) {
            for m in (0..100).step_by(3) {
                for s in 0..100 {
                    let v = format!("{h:02}:{m:02}:{s:02}");
                    assert_eq!(duration(v.as_bytes()), split(&v), "{v}");
                }
            }
        }
    }
}
