//! Searches for one byte, as `memchr` makes them, for the short fields of a log line.
//!
//! On x86-64 through SSE2, which every such CPU has, so the search is inlined where it is
//! called: `memchr::memchr` picks AVX2 at run time through a function pointer, and on fields
//! of a few dozen bytes that call and its set-up were most of the search (callgrind: 5% of a
//! Postfix conversion's instructions). Long buffers (a chunk's last line end) keep `memchr`.

/// The first `needle` in `hay`.
#[inline]
pub fn byte(needle: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(one) = memchr::arch::x86_64::sse2::memchr::One::new(needle) {
        return one.find(hay);
    }
    memchr::memchr(needle, hay)
}

/// The last `needle` in `hay`.
#[inline]
pub fn byte_rev(needle: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(one) = memchr::arch::x86_64::sse2::memchr::One::new(needle) {
        return one.rfind(hay);
    }
    memchr::memrchr(needle, hay)
}

/// The first of `a` or `b` in `hay`.
#[inline]
pub fn either(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(two) = memchr::arch::x86_64::sse2::memchr::Two::new(a, b) {
        return two.find(hay);
    }
    memchr::memchr2(a, b, hay)
}

/// Each `needle` in `hay`, in order.
#[inline]
pub fn each(needle: u8, hay: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + byte(needle, hay.get(from..)?)?;
        from = at + 1;
        Some(at)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn as_memchr_finds() {
        let hays: &[&[u8]] = &[
            b"",
            b" ",
            b"mx1.example.org",
            b"host[192.0.2.1]:25 and [another] one, with, commas",
            &[b'a'; 100],
            b"Mar  2 00:00:00 mx1 postfix/smtpd[1000]: 100001B: client=mx4.sender282.example[198.33.6.233]",
        ];
        for hay in hays {
            for start in 0..hay.len().min(40) {
                let h = &hay[start..];
                for n in [b' ', b'[', b']', b',', b'a', b'\0', b'1'] {
                    assert_eq!(super::byte(n, h), memchr::memchr(n, h));
                    assert_eq!(super::byte_rev(n, h), memchr::memrchr(n, h));
                    assert_eq!(super::either(n, b',', h), memchr::memchr2(n, b',', h));
                    assert!(super::each(n, h).eq(memchr::memchr_iter(n, h)));
                }
            }
        }
    }
}
