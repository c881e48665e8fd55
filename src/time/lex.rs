//! Stamp lexers: BSD syslog `Oct  2 07:44:21` and ISO 8601 / RFC 3339 stamps, read from the
//! start of a line into a [`RawStamp`] with the bytes used. Pure and allocation-free.

use super::RawStamp;
use jiff::civil::{Date, DateTime, Time};

/// `Jan` → 1 … `Dec` → 12. A match on the three bytes: a search of a table of names compared
/// each as a slice (a `memcmp` call per name), ~90 instructions a line.
fn month_number(name: &[u8]) -> Option<u8> {
    let &[a, b, c] = name else {
        return None;
    };
    Some(match [a, b, c] {
        [b'J', b'a', b'n'] => 1,
        [b'F', b'e', b'b'] => 2,
        [b'M', b'a', b'r'] => 3,
        [b'A', b'p', b'r'] => 4,
        [b'M', b'a', b'y'] => 5,
        [b'J', b'u', b'n'] => 6,
        [b'J', b'u', b'l'] => 7,
        [b'A', b'u', b'g'] => 8,
        [b'S', b'e', b'p'] => 9,
        [b'O', b'c', b't'] => 10,
        [b'N', b'o', b'v'] => 11,
        [b'D', b'e', b'c'] => 12,
        _ => return None,
    })
}

fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    let s = b.get(..N)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses `.ffffff` (1 to 9 digits) at the start of `b`; returns microseconds and bytes used.
fn fraction(b: &[u8]) -> (u32, usize) {
    if b.first() != Some(&b'.') {
        return (0, 0);
    }
    let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return (0, 0);
    }
    let mut micros = 0u32;
    for i in 0..6 {
        let d = b
            .get(1 + i)
            .filter(|_| i < n)
            .map_or(0, |c| u32::from(c - b'0'));
        micros = micros * 10 + d;
    }
    (micros, 1 + n)
}

/// `HH:MM:SS` at the start of `b`. The eight bytes are checked and read as one word: field
/// by field with their bounds checks this was ~50 instructions a stamp, a twentieth of a line.
fn hms(b: &[u8]) -> Option<(u8, u8, u8)> {
    let w = u64::from_le_bytes(*b.first_chunk::<8>()?);
    // XOR with `00:00:00`: a digit becomes its value, a colon 0, anything else a byte that
    // is not below 10 (the colon bytes must be 0: they are below 10 only if they were ':').
    let d = w ^ u64::from_le_bytes(*b"00:00:00");
    let below_ten = (d | d.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080 == 0;
    if !below_ten || d & 0x0000_ff00_00ff_0000 != 0 {
        return None;
    }
    let byte = |i: u32| (d >> (8 * i)) as u8;
    let (h, m, s) = (
        byte(0) * 10 + byte(1),
        byte(3) * 10 + byte(4),
        byte(6) * 10 + byte(7),
    );
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    // A leap second is logged as :60; keep it inside the minute.
    Some((h, m, s.min(59)))
}

/// Parses a BSD syslog stamp at the start of `b` (`Oct  2 07:44:21`, `Oct 2 07:44:21`,
/// `Oct 02 07:44:21`, optional fraction). Returns the stamp and the bytes it used.
pub fn parse_bsd(b: &[u8]) -> Option<(RawStamp, usize)> {
    let month = month_number(b.get(..3)?)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let d1 = *b.get(i)?;
    let (day, used) = match b.get(i + 1) {
        Some(c) if c.is_ascii_digit() => (digits::<2>(&b[i..])?, 2),
        _ => (u32::from(d1.wrapping_sub(b'0')), 1),
    };
    if !(1..=31).contains(&day) || !d1.is_ascii_digit() {
        return None;
    }
    i += used;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let (hour, minute, second) = hms(b.get(i..)?)?;
    i += 8;
    let (micros, flen) = fraction(&b[i..]);
    i += flen;
    Some((
        RawStamp::bsd(month, day as u8, hour, minute, second, micros),
        i,
    ))
}

/// Parses an ISO 8601 stamp at the start of `b`: `YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM|±HHMM]`
/// (a space instead of `T` is accepted). Returns the stamp and the bytes it used.
pub fn parse_iso(b: &[u8]) -> Option<(RawStamp, usize)> {
    let year = digits::<4>(b)?;
    let month = digits::<2>(b.get(5..)?)?;
    let day = digits::<2>(b.get(8..)?)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    let (hour, minute, second) = hms(b.get(11..)?)?;
    let mut i = 19;
    let (micros, flen) = fraction(&b[i..]);
    i += flen;
    let offset = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            Some(0)
        }
        Some(&sign @ (b'+' | b'-')) => {
            let h = digits::<2>(b.get(i + 1..)?)?;
            let (m, used) = if b.get(i + 3) == Some(&b':') {
                (digits::<2>(b.get(i + 4..)?)?, 6)
            } else {
                (digits::<2>(b.get(i + 3..)?)?, 5)
            };
            if h > 23 || m > 59 {
                return None;
            }
            i += used;
            let secs = (h * 3600 + m * 60) as i32;
            Some(if sign == b'-' { -secs } else { secs })
        }
        _ => None,
    };
    let date = Date::new(year as i16, month as i8, day as i8).ok()?;
    let time = Time::new(
        hour as i8,
        minute as i8,
        second as i8,
        (micros * 1000) as i32,
    )
    .ok()?;
    Some((
        RawStamp::Iso {
            local: DateTime::from_parts(date, time),
            offset,
        },
        i,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hms` field by field, as it was written before it read one word.
    fn hms_by_field(b: &[u8]) -> Option<(u8, u8, u8)> {
        let h = digits::<2>(b)?;
        let m = digits::<2>(b.get(3..)?)?;
        let s = digits::<2>(b.get(6..)?)?;
        if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') || h > 23 || m > 59 || s > 60 {
            return None;
        }
        Some((h as u8, m as u8, s.min(59) as u8))
    }

    #[test]
    fn hms_word_is_hms_by_field() {
        // Every time of a day at every second's edge, and each with every byte at each place.
        let mut checked = 0;
        for h in [0, 1, 9, 10, 19, 20, 23, 24, 29, 99] {
            for m in [0, 9, 10, 59, 60, 99] {
                for s in [0, 9, 30, 59, 60, 61, 99] {
                    let good = format!("{h:02}:{m:02}:{s:02}");
                    let mut b = good.clone().into_bytes();
                    assert_eq!(hms(&b), hms_by_field(&b), "{good}");
                    for i in 0..8 {
                        for v in 0..=255u8 {
                            let keep = b[i];
                            b[i] = v;
                            assert_eq!(hms(&b), hms_by_field(&b), "{:?}", b);
                            b[i] = keep;
                            checked += 1;
                        }
                    }
                    assert_eq!(hms(&b[..7]), None);
                }
            }
        }
        assert!(checked > 800_000);
    }
}
