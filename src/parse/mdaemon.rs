//! MDaemon CSV logs, one record per line, read as maillogconvert.pl reads them:
//! `"date time","…",SMTPI|SMTPO,id,"from","to","to2","…","client ip","virus","rbl",heuristic
//! spam,size,ssl` (14 fields). Only SMTPI (inbound) and SMTPO (outbound) lines are deliveries.

use super::{Event, Standalone};
use crate::time::{parse_iso, RawStamp};

/// Splits one CSV line into fields (quoted fields lose their quotes; `""` is not unescaped:
/// MDaemon does not write it).
fn fields(line: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        if let Some(r) = rest.strip_prefix(b"\"") {
            let end = crate::search::byte(b'"', r).unwrap_or(r.len());
            out.push(&r[..end]);
            rest = r.get(end + 1..).unwrap_or_default();
            rest = rest.strip_prefix(b",").unwrap_or(rest);
            if r.get(end + 1..).is_none_or(<[u8]>::is_empty) {
                return out;
            }
        } else {
            let end = crate::search::byte(b',', rest).unwrap_or(rest.len());
            out.push(&rest[..end]);
            if end >= rest.len() {
                return out;
            }
            rest = &rest[end + 1..];
        }
    }
}

/// The stamp and event of an MDaemon line, if it is one.
pub fn parse(line: &[u8]) -> Option<(RawStamp, Event<&[u8]>)> {
    if !line.starts_with(b"\"") || line.get(11) != Some(&b' ') {
        return None;
    }
    let f = fields(line);
    if f.len() < 14 {
        return None;
    }
    let (stamp, _) = parse_iso(f[0])?;
    let kind = f[2];
    if kind != b"SMTPI" && kind != b"SMTPO" {
        return Some((stamp, Event::Ignored));
    }
    let number = |v: &[u8]| {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let to = if f[5].is_empty() { f[6] } else { f[5] };
    Some((
        stamp,
        Event::Standalone(Standalone {
            qid: f[3],
            from: f[4],
            to,
            client_host: None,
            client_ip: Some(f[8]),
            relay: None,
            size: number(f[12]),
            delivered: true,
            outbound: false,
            once: false,
            virus: Some(f[9]),
            rbl: Some(f[10]),
            spam: Some(f[11]),
            ssl: Some(f[13]),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdaemon_line() {
        // The example in maillogconvert.pl's source.
        let line = b"\"2003-11-06 00:00:42\",\"2003-11-06 00:00:45\",SMTPI,9443,\"dillon_fm@aaaaa.net\",\"cpeltier@domain.com\",\"\",\"\",\"10.0.0.16\",\"\",\"\",0,4563,1";
        let (stamp, e) = parse(line).unwrap_or_else(|| panic!());
        assert!(matches!(stamp, RawStamp::Iso { offset: None, .. }));
        let Event::Standalone(s) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (s.from, s.to, s.client_ip, s.size),
            (
                &b"dillon_fm@aaaaa.net"[..],
                &b"cpeltier@domain.com"[..],
                Some(&b"10.0.0.16"[..]),
                Some(4563)
            )
        );
        assert!(parse(b"\"not mdaemon").is_none());
    }
}
