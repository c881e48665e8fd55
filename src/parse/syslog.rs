//! The syslog header shared by every MTA that logs through syslog:
//! `STAMP HOST TAG[PID]: MESSAGE`, with a BSD (`Oct  2 07:44:21`) or RFC 3339 stamp. Also
//! accepts a missing `[PID]`, a missing `:` after `[PID]` (seen from some relays) and a leading
//! `<PRI>`.

use crate::time::{parse_bsd, parse_iso, RawStamp};

/// The length of a BSD stamp with a two-column day and no fraction: `Oct  2 07:44:21`.
const BSD_WHOLE: usize = 15;

/// The parts of a syslog line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header<'a> {
    pub stamp: RawStamp,
    pub host: &'a [u8],
    /// The tag without `[pid]`: `postfix/smtpd`, `sm-mta`, …
    pub program: &'a [u8],
    pub msg: &'a [u8],
}

/// The last BSD stamp read whole from its first 16 bytes (`Oct  2 07:44:21 `: no fraction),
/// with those bytes. A log writes many lines a second: a line that starts with the same
/// bytes has the same stamp, and is not read again (reading one was ~165 instructions, a
/// twentieth of a Postfix line's; callgrind).
#[derive(Debug, Default, Clone)]
pub struct Stamps {
    last: Option<([u8; 16], RawStamp)>,
}

impl Stamps {
    /// Whether a line starting with `head` takes its stamp from here.
    #[cfg(test)]
    pub(crate) fn starts(&self, head: &[u8]) -> bool {
        self.last
            .as_ref()
            .is_some_and(|(bytes, _)| bytes[..] == *head)
    }
}

/// Parses the header of `line`; `None` if it is not a syslog line.
pub fn parse(line: &[u8]) -> Option<Header<'_>> {
    parse_with(line, &mut Stamps::default())
}

/// [`parse`], the stamp taken from `stamps` when the line starts as the one it was read from:
/// the same header either way.
pub fn parse_with<'a>(line: &'a [u8], stamps: &mut Stamps) -> Option<Header<'a>> {
    let mut rest = line;
    if rest.first() == Some(&b'<') {
        let close = crate::search::byte(b'>', rest.get(..6)?)?;
        rest = &rest[close + 1..];
    }
    let head = rest.first_chunk::<16>();
    let (stamp, used) = match (&stamps.last, head) {
        (Some((bytes, stamp)), Some(head)) if bytes == head => (*stamp, BSD_WHOLE),
        _ if rest.first()?.is_ascii_digit() => parse_iso(rest)?,
        _ => {
            let (stamp, used) = parse_bsd(rest)?;
            // Fifteen bytes then a space: the stamp is those bytes alone (a fraction would
            // start at the sixteenth).
            if let Some(head) = head.filter(|h| used == BSD_WHOLE && h[BSD_WHOLE] == b' ') {
                stamps.last = Some((*head, stamp));
            }
            (stamp, used)
        }
    };
    rest = rest.get(used..)?.strip_prefix(b" ")?;
    let host_end = crate::search::byte(b' ', rest)?;
    let host = &rest[..host_end];
    rest = &rest[host_end + 1..];
    let tag_end = crate::search::any3(b'[', b':', b' ', rest)?;
    let program = &rest[..tag_end];
    if program.is_empty() {
        return None;
    }
    rest = &rest[tag_end..];
    if rest.first() == Some(&b'[') {
        let close = crate::search::byte(b']', rest)?;
        rest = &rest[close + 1..];
    }
    rest = rest.strip_prefix(b":").unwrap_or(rest);
    let msg = rest.strip_prefix(b" ").unwrap_or(rest);
    Some(Header {
        stamp,
        host,
        program,
        msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        // (line, host, program, message) — real lines from ../shared/corpus.
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "Aug 18 00:01:38 acmemail1 postfix/qmgr[20508]: 6B1B62259: removed",
                "acmemail1",
                "postfix/qmgr",
                "6B1B62259: removed",
            ),
            (
                "2020-01-30T06:26:05.404714+09:00 mail postfix/smtpd[1830]: connect from example.com[127.0.0.1]",
                "mail",
                "postfix/smtpd",
                "connect from example.com[127.0.0.1]",
            ),
            (
                "2021-02-06T09:58:59.184925+01:00 mail.server.com postfix/submission/smtpd[99525] 2D19728491: client=unknown[10.11.12.13], sasl_method=PLAIN, sasl_username=user1@domain.example.com",
                "mail.server.com",
                "postfix/submission/smtpd",
                "2D19728491: client=unknown[10.11.12.13], sasl_method=PLAIN, sasl_username=user1@domain.example.com",
            ),
            (
                "Apr 26 10:55:19 tcc1 postfix/smtpd[21126]: warning: laptop.local[192.168.1.2]: SASL PLAIN authentication failed: generic failure",
                "tcc1",
                "postfix/smtpd",
                "warning: laptop.local[192.168.1.2]: SASL PLAIN authentication failed: generic failure",
            ),
            (
                "Feb 11 16:49:25 letterman postfix-secondary/qmgr[8204]: AAB4D259B3: removed",
                "letterman",
                "postfix-secondary/qmgr",
                "AAB4D259B3: removed",
            ),
        ];
        for &(line, host, program, msg) in cases {
            let h = parse(line.as_bytes()).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(h.host, host.as_bytes(), "{line}");
            assert_eq!(h.program, program.as_bytes(), "{line}");
            assert_eq!(h.msg, msg.as_bytes(), "{line}");
        }
    }

    #[test]
    fn not_syslog() {
        for line in [
            "",
            "Jan",
            "Jan 1 00:00:00",
            "[20-Oct-2020 14:56:10 +0100]: <ca0a80a9> Failed login",
            "madeup: Gobbely Gook",
            "021-02-06T10:51:02+09:00 mail postfix/smtpd[1]: x",
        ] {
            assert!(parse(line.as_bytes()).is_none(), "{line}");
        }
    }
}
