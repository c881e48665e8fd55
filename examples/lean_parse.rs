//! How few instructions a Postfix line can take (issue #13's "a byte-level parser"): a
//! measurement, not a part of the tool. `lean` reads each line's stamp, host, daemon, queue ID
//! and the fields of the five lines a message is made of (`client=`, `message-id=`, `from=`,
//! `to=`, `removed`) into spans and numbers, and hashes its key as the router does; anything
//! else is left aside. `all` also correlates them (messages by that hash) and writes an
//! AWStats-like line for each `to=`, as the tool's `-j1` does (without its time order, hops,
//! rejects, eviction and maillogconvert.pl's cleaning and codes). `full` runs the tool's own
//! parse of each line, its route and its parsed entry (slices of the chunk since the
//! twenty-third session), as the parse step does; `cut` only cuts
//! the lines, the time every mode spends outside the parse. Count one under callgrind:
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*lean_parse*run_*' \
//!     target/release/examples/lean_parse lean|full LOG
//! ```
//!
//! (`--toggle-collect='*LeanMerge*run_merge*'` for the correlation of `all`) and divide by the
//! lines printed. docs/PERFORMANCE.md (twelfth session) has the figures.

use maillogconv::merge::route;
use maillogconv::parse::{parse_line, Line, Span};
use maillogconv::time::RawStamp;

/// A parsed line, as small as the fields a record reads.
#[derive(Clone, Copy, Default)]
struct Lean {
    line: Span,
    host: Span,
    qid: Span,
    /// Month, day, hour, minute, second.
    stamp: [u8; 5],
    kind: u8,
    daemon: u8,
    spans: [Span; 6],
    size: u64,
    /// delay and delays in milliseconds.
    delays: [u32; 5],
    key: u64,
}

const OTHER: u8 = 0;

/// `Mmm dd hh:mm:ss ` by the tool's own lexer (a word-at-a-time one already); the bytes used,
/// with the space after.
fn stamp(b: &[u8], out: &mut [u8; 5]) -> Option<usize> {
    match maillogconv::time::parse_bsd(b)? {
        (RawStamp::Bsd { clock, .. }, used) => {
            let (month, day, hour, minute, second) = clock.key();
            *out = [month, day, hour, minute, second];
            (b.get(used) == Some(&b' ')).then_some(used + 1)
        }
        _ => None,
    }
}

fn number(b: &[u8]) -> (u64, usize) {
    let mut n = 0u64;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        i += 1;
    }
    (n, i)
}

/// `12.5` as milliseconds; the bytes used.
fn millis(b: &[u8]) -> (u32, usize) {
    let (whole, mut i) = number(b);
    let mut ms = whole.wrapping_mul(1000);
    if b.get(i) == Some(&b'.') {
        let (frac, n) = number(&b[i + 1..]);
        let scale = match n {
            1 => 100,
            2 => 10,
            _ => 1,
        };
        ms = ms.wrapping_add(frac.wrapping_mul(scale));
        i += 1 + n;
    }
    (ms as u32, i)
}

/// The value of `key` (`to=`, …) starting at `b`: up to `, ` or the end; the rest after it.
fn value<'a>(b: &'a [u8], key: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let v = b.strip_prefix(key)?;
    let end = maillogconv::parse::find_pair(v, b',', b' ').unwrap_or(v.len());
    Some((&v[..end], v.get(end + 2..).unwrap_or_default()))
}

fn angle(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .unwrap_or(v)
}

fn lean_line(data: &[u8], raw: &[u8], e: &mut Lean) {
    e.line = Span::of(data, raw);
    e.kind = OTHER;
    let Some(mut i) = stamp(raw, &mut e.stamp) else {
        return;
    };
    let rest = &raw[i..];
    let Some(h) = maillogconv::search::byte(b' ', rest) else {
        return;
    };
    let host = &rest[..h];
    e.host = Span::of(data, host);
    i += h + 1;
    let rest = &raw[i..];
    let Some(tag) = rest.strip_prefix(b"postfix/") else {
        return;
    };
    let Some(open) = maillogconv::search::byte(b'[', tag) else {
        return;
    };
    // By length and first byte, not a comparison call per name (`qmgr`, `smtp` and `lmtp`
    // share a length; the last two are one kind).
    e.daemon = match (open, tag.first()) {
        (5, Some(b's')) => 1,
        (7, Some(b'c')) => 2,
        (4, Some(b'q')) => 3,
        (4, Some(b's' | b'l')) => 4,
        (6, Some(b'b')) => 5,
        _ => return,
    };
    let Some(close) = maillogconv::search::byte(b']', &tag[open..]) else {
        return;
    };
    let Some(msg) = tag
        .get(open + close + 1..)
        .and_then(|m| m.strip_prefix(b": "))
    else {
        return;
    };
    // The queue ID ends at the first `:`; checked afterwards (a search, then a short loop).
    let Some(q) = maillogconv::search::byte(b':', msg) else {
        return;
    };
    if !msg[..q].iter().all(u8::is_ascii_alphanumeric) {
        return;
    }
    let Some(body) = msg.get(q + 1..).and_then(|b| b.strip_prefix(b" ")) else {
        return;
    };
    let qid = &msg[..q];
    e.qid = Span::of(data, qid);
    match body.first() {
        Some(b'c') => {
            let Some((client, rest)) = value(body, b"client=") else {
                return;
            };
            let b = maillogconv::search::byte(b'[', client).unwrap_or(client.len());
            e.spans[0] = Span::of(data, &client[..b]);
            e.spans[1] = Span::of(
                data,
                client.get(b + 1..client.len() - 1).unwrap_or_default(),
            );
            if let Some((_, rest)) = value(rest, b"sasl_method=") {
                if let Some((user, _)) = value(rest, b"sasl_username=") {
                    e.spans[2] = Span::of(data, user);
                }
            }
            e.kind = 1;
        }
        Some(b'm') => {
            let Some((id, _)) = value(body, b"message-id=") else {
                return;
            };
            e.spans[0] = Span::of(data, angle(id));
            e.kind = 2;
        }
        Some(b'f') => {
            let Some((from, rest)) = value(body, b"from=") else {
                return;
            };
            e.spans[0] = Span::of(data, angle(from));
            let Some((size, rest)) = value(rest, b"size=") else {
                return;
            };
            e.size = number(size).0;
            if let Some(n) = rest.strip_prefix(b"nrcpt=") {
                e.delays[0] = number(n).0 as u32;
            }
            e.kind = 3;
        }
        Some(b't') => {
            let Some((to, mut rest)) = value(body, b"to=") else {
                return;
            };
            e.spans[0] = Span::of(data, angle(to));
            if let Some((orig, r)) = value(rest, b"orig_to=") {
                e.spans[1] = Span::of(data, angle(orig));
                rest = r;
            }
            let Some((relay, rest)) = value(rest, b"relay=") else {
                return;
            };
            e.spans[2] = Span::of(data, relay);
            let Some((delay, rest)) = value(rest, b"delay=") else {
                return;
            };
            e.delays[0] = millis(delay).0;
            let Some((delays, rest)) = value(rest, b"delays=") else {
                return;
            };
            let mut d = delays;
            for slot in 1..5 {
                let (ms, n) = millis(d);
                e.delays[slot] = ms;
                d = d.get(n + 1..).unwrap_or_default();
            }
            let Some((dsn, rest)) = value(rest, b"dsn=") else {
                return;
            };
            e.spans[3] = Span::of(data, dsn);
            let Some(status) = rest.strip_prefix(b"status=") else {
                return;
            };
            let word = maillogconv::search::byte(b' ', status).unwrap_or(status.len());
            e.spans[4] = Span::of(data, &status[..word]);
            e.spans[5] = Span::of(
                data,
                status
                    .get(word + 2..status.len().saturating_sub(1))
                    .unwrap_or_default(),
            );
            e.kind = 4;
        }
        Some(b'r') if body == b"removed" => e.kind = 5,
        _ => return,
    }
    e.key = route::hash(
        host,
        route::Key {
            kind: route::Kind::Message,
            id: qid,
        },
    );
}

#[inline(never)]
fn run_lean(data: &[u8], out: &mut Vec<Lean>) -> [u64; 6] {
    let mut kinds = [0u64; 6];
    let mut start = 0;
    while start < data.len() {
        let end =
            maillogconv::search::byte(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let mut e = Lean::default();
        lean_line(data, &data[start..end], &mut e);
        kinds[usize::from(e.kind)] += 1;
        out.push(e);
        start = end + 1;
    }
    kinds
}

/// The lines cut and nothing else: what both modes spend before parsing.
#[inline(never)]
fn run_cut(data: &[u8], out: &mut Vec<Span>) {
    let mut start = 0;
    while start < data.len() {
        let end =
            maillogconv::search::byte(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        out.push(Span::of(data, &data[start..end]));
        start = end + 1;
    }
}

#[inline(never)]
fn run_full<'a>(
    data: &'a [u8],
    out: &mut Vec<(Span, Line<&'a [u8]>)>,
    routes: &mut Vec<route::Route>,
) -> u64 {
    let mut known = 0;
    let mut start = 0;
    while start < data.len() {
        let end =
            maillogconv::search::byte(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let raw = &data[start..end];
        let line = parse_line(raw);
        let r = match &line {
            Line::Known { host, event, .. } => {
                known += 1;
                route::route(host, event)
            }
            Line::Unknown => route::Route::default(),
        };
        routes.push(r);
        out.push((Span::of(data, raw), line));
        start = end + 1;
    }
    known
}

/// An open message as a lean merge keeps it: its key and fields' bytes in one buffer each.
#[derive(Default)]
struct Msg {
    key: Vec<u8>,
    text: Vec<u8>,
    /// Client name, client address, sender, message-id: ranges in `text`.
    fields: [(u32, u32); 4],
    size: u64,
    nrcpt: u32,
}

impl Msg {
    fn set(&mut self, f: usize, v: &[u8]) {
        let at = self.text.len() as u32;
        self.text.extend_from_slice(v);
        self.fields[f] = (at, self.text.len() as u32);
    }
    fn get(&self, f: usize) -> &[u8] {
        let (a, b) = self.fields[f];
        self.text.get(a as usize..b as usize).unwrap_or_default()
    }
}

/// The correlation and AWStats lines of the lean path: messages by their key's hash (the
/// router's), a record per `to=` line.
#[derive(Default)]
struct LeanMerge {
    open: hashbrown::HashTable<(u64, Box<Msg>)>,
    spare: Vec<Box<Msg>>,
    out: Vec<u8>,
    records: u64,
}

/// The message of `key` (hashed as the router does), opened if `anew`.
fn find<'m>(
    open: &'m mut hashbrown::HashTable<(u64, Box<Msg>)>,
    spare: &mut Vec<Box<Msg>>,
    h: u64,
    key: &[u8],
    anew: bool,
) -> Option<&'m mut Msg> {
    let found = open.find(h, |(k, m)| *k == h && m.key == key).is_some();
    if !found {
        if !anew {
            return None;
        }
        let mut m = spare.pop().unwrap_or_default();
        m.key.clear();
        m.key.extend_from_slice(key);
        m.text.clear();
        m.fields = [(0, 0); 4];
        m.size = 0;
        m.nrcpt = 0;
        open.insert_unique(h, (h, m), |(k, _)| *k);
    }
    open.find_mut(h, |(k, m)| *k == h && m.key == key)
        .map(|(_, m)| &mut **m)
}

impl LeanMerge {
    #[inline(never)]
    fn run_merge(&mut self, data: &[u8], lines: &[Lean]) {
        let mut key = Vec::new();
        for e in lines {
            if e.kind == OTHER {
                continue;
            }
            key.clear();
            key.extend_from_slice(e.host.get(data));
            key.push(0);
            key.extend_from_slice(e.qid.get(data));
            let f = |i: usize| e.spans[i].get(data);
            match e.kind {
                1 => {
                    if let Some(m) = find(&mut self.open, &mut self.spare, e.key, &key, true) {
                        m.set(0, f(0));
                        m.set(1, f(1));
                    }
                }
                2 => {
                    if let Some(m) = find(&mut self.open, &mut self.spare, e.key, &key, false) {
                        m.set(3, f(0));
                    }
                }
                3 => {
                    if let Some(m) = find(&mut self.open, &mut self.spare, e.key, &key, true) {
                        m.set(2, f(0));
                        m.size = e.size;
                        m.nrcpt = e.delays[0];
                    }
                }
                4 => {
                    let Some(m) = find(&mut self.open, &mut self.spare, e.key, &key, false) else {
                        continue;
                    };
                    let client = if m.get(0).is_empty() || m.get(0) == b"unknown" {
                        m.get(1)
                    } else {
                        m.get(0)
                    };
                    let (sender, size) = (m.get(2), m.size);
                    render(&mut self.out, e, f(0), sender, client, f(2), f(3), size);
                    self.records += 1;
                }
                5 => {
                    let h = e.key;
                    if let Ok(o) = self.open.find_entry(h, |(k, m)| *k == h && m.key == key) {
                        let ((_, m), _) = o.remove();
                        if self.spare.len() < 64 {
                            self.spare.push(m);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// maillogconvert.pl's line: `date time sender recipient client relay SMTP - code size`.
#[allow(clippy::too_many_arguments)]
fn render(
    out: &mut Vec<u8>,
    e: &Lean,
    to: &[u8],
    sender: &[u8],
    client: &[u8],
    relay: &[u8],
    dsn: &[u8],
    size: u64,
) {
    let two = |n: u8| [b'0' + n / 10 % 10, b'0' + n % 10];
    let [mo, d, h, mi, s] = e.stamp;
    out.extend_from_slice(b"2026-");
    out.extend_from_slice(&two(mo));
    out.push(b'-');
    out.extend_from_slice(&two(d));
    out.push(b' ');
    out.extend_from_slice(&two(h));
    out.push(b':');
    out.extend_from_slice(&two(mi));
    out.push(b':');
    out.extend_from_slice(&two(s));
    out.push(b' ');
    out.extend_from_slice(if sender.is_empty() { b"<>" } else { sender });
    out.push(b' ');
    out.extend_from_slice(to);
    out.push(b' ');
    out.extend_from_slice(client);
    out.push(b' ');
    let relay = &relay[..maillogconv::search::byte(b'[', relay).unwrap_or(relay.len())];
    out.extend_from_slice(relay);
    out.extend_from_slice(b" SMTP - ");
    out.extend_from_slice(match dsn.first() {
        Some(b'2') => b"250",
        Some(b'4') => b"450",
        _ => b"550",
    });
    out.push(b' ');
    out.extend_from_slice(itoa::Buffer::new().format(size).as_bytes());
    out.push(b'\n');
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(path)) = (args.next(), args.next()) else {
        eprintln!("usage: lean_parse lean|all|full|cut LOG");
        std::process::exit(2);
    };
    let data = std::fs::read(path)?;
    // In chunks of 256 KiB (cut at a newline), as the tool reads: the parsed lines stay in
    // cache as they do there.
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let want = (at + (256 << 10)).min(data.len());
        let end = memchr::memrchr(b'\n', &data[at..want]).map_or(want, |i| at + i + 1);
        let end = if end <= at { want } else { end };
        chunks.push(&data[at..end]);
        at = end;
    }
    // Counted by the parse where it counts the lines' kinds (`lean`, `all`): a pass of its own
    // over the data would add to their time what the tool does not do.
    let count = || memchr::memchr_iter(b'\n', &data).count();
    match mode.as_str() {
        "lean" => {
            let mut out = Vec::new();
            let mut kinds = [0u64; 6];
            for c in chunks {
                out.clear();
                for (k, n) in kinds.iter_mut().zip(run_lean(c, &mut out)) {
                    *k += n;
                }
            }
            let lines: u64 = kinds.iter().sum();
            println!("{lines} lines; other, client, message-id, from, to, removed: {kinds:?}");
        }
        "all" => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            let mut out = Vec::new();
            let mut merge = LeanMerge::default();
            let mut lines = 0u64;
            for c in chunks {
                out.clear();
                lines += run_lean(c, &mut out).iter().sum::<u64>();
                merge.run_merge(c, &out);
                stdout.write_all(&merge.out)?;
                merge.out.clear();
            }
            eprintln!("{lines} lines; {} records", merge.records);
        }
        "cut" => {
            let mut out = Vec::new();
            for c in chunks {
                out.clear();
                run_cut(c, &mut out);
            }
            println!("{} lines", count());
        }
        _ => {
            let mut routes = Vec::new();
            let mut known = 0;
            // A vector a chunk here (its lines borrow the chunk); the tool recycles one.
            for c in chunks {
                let mut out = Vec::with_capacity(c.len() / 100);
                routes.clear();
                known += run_full(c, &mut out, &mut routes);
            }
            println!("{} lines; {known} known", count());
        }
    }
    Ok(())
}
