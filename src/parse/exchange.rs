//! Exchange message tracking logs (tab-separated, times in GMT), read as maillogconvert.pl reads
//! them: event 1031 (SMTP end outbound transfer) and 1028 (delivered locally to the store) are
//! deliveries, 1030 (non-delivery report generated) a failure; other events are not records.
//! Fields: date, time, client IP, client host, partner, server host, server IP, recipient,
//! event, message ID, priority, recipient report status, size, … subject, sender.

use super::{Event, Standalone};
use crate::time::RawStamp;
use jiff::civil::{Date, DateTime, Time};

/// `2003-8-12` + `0:58:14 GMT` → a stamp at offset 0.
fn stamp(date: &[u8], time: &[u8]) -> Option<RawStamp> {
    let d = std::str::from_utf8(date).ok()?;
    let mut p = d.split('-').map(|x| x.parse::<i16>().ok());
    let (y, m, dd) = (p.next()??, p.next()??, p.next()??);
    let t = std::str::from_utf8(time).ok()?;
    let t = t.strip_suffix(" GMT").unwrap_or(t);
    let mut q = t.split(':').map(|x| x.parse::<i8>().ok());
    let (h, mi, s) = (q.next()??, q.next()??, q.next()??);
    let local = DateTime::from_parts(
        Date::new(y, i8::try_from(m).ok()?, i8::try_from(dd).ok()?).ok()?,
        Time::new(h, mi, s, 0).ok()?,
    );
    Some(RawStamp::Iso {
        local,
        offset: Some(0),
    })
}

/// The stamp and event of an Exchange tracking line, if it is one.
pub fn parse(line: &[u8]) -> Option<(RawStamp, Event<&[u8]>)> {
    if !line.first()?.is_ascii_digit() || crate::search::byte(b'\t', line).is_none() {
        return None;
    }
    let f: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
    if f.len() < 20 || f.iter().take(20).any(|x| x.is_empty()) {
        return None;
    }
    let stamp = stamp(f[0], f[1])?;
    let event: u32 = std::str::from_utf8(f[8]).ok()?.trim().parse().ok()?;
    let (delivered, outbound) = match event {
        1031 => (true, true),
        1028 => (true, false),
        1030 => (false, false),
        _ => return Some((stamp, Event::Ignored)),
    };
    let size = std::str::from_utf8(f[12])
        .ok()
        .and_then(|s| s.trim().parse().ok());
    Some((
        stamp,
        Event::Standalone(Standalone {
            qid: f[9],
            from: f[19],
            to: f[7],
            client_host: Some(f[3]),
            client_ip: Some(f[2]),
            relay: Some(f[5]),
            size,
            delivered,
            outbound,
            once: true,
            virus: None,
            rbl: None,
            spam: None,
            ssl: None,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_line() {
        // The example in maillogconvert.pl's source.
        let line = b"2003-8-12\t0:58:14 GMT\t66.218.66.69\tn14.grp.scd.yahoo.com\t-\tPACKRAT\t192.168.1.2\tchristina@pirnie.org\t1019\tbh9e3f+5qvo@eGroups.com\t0\t0\t4281\t1\t2003-8-12 0:58:14 GMT\t0\tVersion: 6.0.3790.0\t-\t [SRESafeHaven] Re: More Baby Stuff\tjtluvs2cq@wmconnect.com\t-";
        let (stamp, e) = parse(line).unwrap_or_else(|| panic!());
        assert!(matches!(
            stamp,
            RawStamp::Iso {
                offset: Some(0),
                ..
            }
        ));
        // Event 1019 (submit) is not a delivery.
        assert_eq!(e, Event::Ignored);
        let s = String::from_utf8_lossy(line).replace("\t1019\t", "\t1028\t");
        let (_, e) = parse(s.as_bytes()).unwrap_or_else(|| panic!());
        let Event::Standalone(r) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (r.from, r.to, r.size, r.delivered),
            (
                &b"jtluvs2cq@wmconnect.com"[..],
                &b"christina@pirnie.org"[..],
                Some(4281),
                true
            )
        );
    }
}
