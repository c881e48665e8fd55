//! Searches for one byte, as `memchr` makes them, for the short fields of a log line.
//!
//! On x86-64 through SSE2, which every such CPU has, so the search is inlined where it is
//! called: `memchr::memchr` picks AVX2 at run time through a function pointer, and on fields
//! of a few dozen bytes that call and its set-up were most of the search (callgrind: 5% of a
//! Postfix conversion's instructions). Long buffers (a chunk's last line end) keep `memchr`.
//! The byte classifiers beside them are made the same way; [`prefetch`] is the cache hint the
//! merge groups give for the lines they read next.

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

/// The first of `a`, `b` or `c` in `hay`.
#[inline]
pub fn any3(a: u8, b: u8, c: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(three) = memchr::arch::x86_64::sse2::memchr::Three::new(a, b, c) {
        return three.find(hay);
    }
    memchr::memchr3(a, b, c, hay)
}

/// Whether `hay` holds any byte of `set` (which holds no 0). Sixteen bytes a step, the last
/// step overlapping the one before: the AWStats writer asks this of every address and field,
/// a few dozen bytes each, where a byte loop took ~4 instructions a byte and `memchr2` mostly
/// its set-up (callgrind: ~160 instructions a record more).
#[inline]
pub fn any_of<const N: usize>(set: [u8; N], hay: &[u8]) -> bool {
    debug_assert!(!set.contains(&0), "a short field is padded with zeros");
    // Sixteen bytes compared with each of the set and or-ed, with no early exit: a fixed
    // block the compiler turns into vector compares (SSE2 on x86-64).
    let block = |b: &[u8; 16]| {
        let mut hits = [false; 16];
        for (h, &x) in hits.iter_mut().zip(b) {
            for &c in &set {
                *h |= x == c;
            }
        }
        hits.iter().fold(false, |a, &h| a | h)
    };
    let n = hay.len();
    if n < 16 {
        // One block of the field's first and last bytes, overlapping, the rest zero (not in
        // the set).
        let mut b = [0u8; 16];
        if n >= 8 {
            b[..8].copy_from_slice(&hay[..8]);
            b[8..].copy_from_slice(&hay[n - 8..]);
        } else if n >= 4 {
            b[..4].copy_from_slice(&hay[..4]);
            b[4..8].copy_from_slice(&hay[n - 4..]);
        } else {
            for (d, &s) in b.iter_mut().zip(hay) {
                *d = s;
            }
        }
        return block(&b);
    }
    let mut blocks = hay.chunks_exact(16);
    if blocks.any(|b| b.first_chunk::<16>().is_some_and(block)) {
        return true;
    }
    // The last 16 bytes, overlapping bytes seen already (which does not change the answer).
    !blocks.remainder().is_empty() && hay[n - 16..].first_chunk::<16>().is_some_and(block)
}

/// Whether `a` and `b` hold the same bytes. Keys and IDs are short: up to sixteen bytes are
/// compared as two words each (overlapping), not by a `memcmp` call (~25 instructions, twice
/// a message look-up).
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| w.first_chunk::<8>())
            .copied()
    };
    let half = |s: &[u8], at: usize| {
        s.get(at..at + 4)
            .and_then(|w| w.first_chunk::<4>())
            .copied()
    };
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
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

/// Where byte `a` is followed by byte `b` in `hay` (the `, ` between a line's fields), asked
/// at offsets that mostly grow: 64 bytes are classified at once and their mask is kept, so a
/// line's fields are split by one pass over it. A search a field (`memchr`'s set-up, a byte
/// loop for a value under sixteen bytes) was ~40 instructions a Sendmail field (callgrind).
pub struct Pairs<'a> {
    hay: &'a [u8],
    a: u8,
    b: u8,
    /// The window `mask` is of: `hay[at..at + 64]`, `at` a multiple of 64.
    at: usize,
    /// Bit `i` set: a pair at `at + i`.
    mask: u64,
}

impl<'a> Pairs<'a> {
    #[inline]
    pub fn new(a: u8, b: u8, hay: &'a [u8]) -> Self {
        debug_assert!(a != 0 && b != 0, "the last block is padded with zeros");
        Pairs {
            hay,
            a,
            b,
            at: 0,
            mask: window(hay, 0, a, b),
        }
    }

    /// The first pair at or after `from`.
    #[inline(always)]
    pub fn first_from(&mut self, from: usize) -> Option<usize> {
        if from < self.at || from - self.at >= 64 {
            self.at = from & !63;
            self.mask = window(self.hay, self.at, self.a, self.b);
        }
        let mut m = self.mask & (u64::MAX << (from - self.at));
        while m == 0 {
            let next = self.at + 64;
            if next >= self.hay.len() {
                return None;
            }
            self.at = next;
            self.mask = window(self.hay, next, self.a, self.b);
            m = self.mask;
        }
        Some(self.at + m.trailing_zeros() as usize)
    }
}

/// The pairs that start in `hay[at..at + 64]`, as a bit mask.
#[inline]
fn window(hay: &[u8], at: usize, a: u8, b: u8) -> u64 {
    let rest = hay.get(at..).unwrap_or_default();
    let (mut ma, mut mb) = (0u64, 0u64);
    for k in 0..4 {
        let part = rest.get(16 * k..).unwrap_or_default();
        let (x, y) = match part.first_chunk::<16>() {
            Some(block) => eq_masks(block, a, b),
            None => {
                // The line's last bytes, then zeros (neither byte).
                let mut block = [0u8; 16];
                block[..part.len()].copy_from_slice(part);
                eq_masks(&block, a, b)
            }
        };
        ma |= u64::from(x) << (16 * k);
        mb |= u64::from(y) << (16 * k);
        if part.len() <= 16 {
            break;
        }
    }
    let next = u64::from(rest.get(64) == Some(&b));
    ma & ((mb >> 1) | (next << 63))
}

/// Which of sixteen bytes are `a`, and which `b`, as bit masks (the first byte lowest).
#[inline]
fn eq_masks(block: &[u8; 16], a: u8, b: u8) -> (u32, u32) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86-64 baseline: every CPU of this target has it.
        unsafe { eq_masks_sse2(block, a, b) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let eq =
            |c: u8| (block.iter().enumerate()).fold(0u32, |m, (i, &x)| m | u32::from(x == c) << i);
        (eq(a), eq(b))
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn eq_masks_sse2(block: &[u8; 16], a: u8, b: u8) -> (u32, u32) {
    use std::arch::x86_64::*;
    let v = load16(block);
    let eq = |c: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u32;
    (eq(a), eq(b))
}

/// Sixteen bytes as one SSE2 vector (read as two words: no `unsafe` pointer load).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn load16(block: &[u8; 16]) -> std::arch::x86_64::__m128i {
    let word = |i: usize| {
        let w = block.get(i..).and_then(|b| b.first_chunk::<8>());
        i64::from_le_bytes(w.copied().unwrap_or_default())
    };
    std::arch::x86_64::_mm_set_epi64x(word(8), word(0))
}

/// Which bytes of `v` are in `lo..lo + n`, as a vector of all-ones and zero bytes: `x - lo`,
/// unsigned, below `n` (its minimum with `n - 1` is it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn in_range(v: std::arch::x86_64::__m128i, lo: u8, n: u8) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    let d = _mm_sub_epi8(v, _mm_set1_epi8(lo as i8));
    _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((n - 1) as i8)), d)
}

/// Which of sixteen bytes are ASCII letters, digits, dots or hyphens (a host name's usual
/// bytes), as a bit mask (the first byte lowest).
#[inline]
pub fn dns_mask(block: &[u8; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86-64 baseline: every CPU of this target has it.
        unsafe { dns_mask_sse2(block) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        (block.iter().enumerate()).fold(0u32, |m, (i, &x)| {
            m | u32::from(x.is_ascii_alphanumeric() || x == b'.' || x == b'-') << i
        })
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn dns_mask_sse2(block: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;
    let v = load16(block);
    // `-` and `.` are 0x2d and 0x2e; the digits 0x30 to 0x39.
    let punct = in_range(v, b'-', 2);
    let digit = in_range(v, b'0', 10);
    _mm_movemask_epi8(_mm_or_si128(letters(v), _mm_or_si128(punct, digit))) as u32
}

/// Which bytes of `v` are ASCII letters: with the case bit set, a letter of either case is a
/// lower-case one.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn letters(v: std::arch::x86_64::__m128i) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', 26)
}

/// Which of sixteen bytes are ASCII letters or digits, and which are digits, as bit masks
/// (the first byte lowest): a queue ID and its end found in one step.
#[inline]
pub fn alnum_masks(block: &[u8; 16]) -> (u32, u32) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86-64 baseline: every CPU of this target has it.
        unsafe { alnum_masks_sse2(block) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mask = |f: fn(&u8) -> bool| {
            (block.iter().enumerate()).fold(0u32, |m, (i, x)| m | u32::from(f(x)) << i)
        };
        (mask(u8::is_ascii_alphanumeric), mask(u8::is_ascii_digit))
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn alnum_masks_sse2(block: &[u8; 16]) -> (u32, u32) {
    use std::arch::x86_64::*;
    let v = load16(block);
    let digit = in_range(v, b'0', 10);
    let alnum = _mm_movemask_epi8(_mm_or_si128(digit, letters(v))) as u32;
    (alnum, _mm_movemask_epi8(digit) as u32)
}

/// Asks the CPU to start loading the `len` bytes at `p` into its cache: a hint, which reads
/// nothing the program sees and never faults, so `p` need not point at anything live.
#[inline(always)]
pub fn prefetch<T>(p: *const T, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = p.cast::<i8>();
        let mut off = 0;
        while off < len {
            // SAFETY: `prefetcht0` dereferences nothing (any address is allowed).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

#[cfg(test)]
mod tests {
    #[test]
    fn any_of_is_a_scan() {
        let set = *b"#<|>[] \t";
        let pair = *b" \t";
        // Every length up to 40, with each byte of the set (and one outside it) at each place.
        for n in 0..40 {
            let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(!super::any_of(set, &base), "{n}");
            assert!(!super::any_of(pair, &base), "{n}");
            for at in 0..n {
                for &c in set.iter().chain(b"@") {
                    let mut h = base.clone();
                    h[at] = c;
                    assert_eq!(super::any_of(set, &h), set.contains(&c), "{n} {at} {c}");
                    assert_eq!(super::any_of(pair, &h), pair.contains(&c), "{n} {at} {c}");
                }
            }
        }
    }

    /// Each answer is the first `, ` at or after the offset asked, whatever order offsets
    /// come in and wherever the windows fall (pairs across a block's or a window's edge, at
    /// the end).
    #[test]
    fn pairs_are_the_first_at_or_after() {
        let mut rand = crate::testing::xorshift(7);
        for n in (0..80usize).chain([127, 128, 129, 150, 191, 192, 193, 300]) {
            for _ in 0..30 {
                let hay: Vec<u8> = (0..n).map(|_| b", a"[(rand() % 3) as usize]).collect();
                let slow = |from: usize| {
                    (from..n.saturating_sub(1)).find(|&i| hay[i] == b',' && hay[i + 1] == b' ')
                };
                let mut p = super::Pairs::new(b',', b' ', &hay);
                for from in 0..n + 2 {
                    assert_eq!(p.first_from(from), slow(from), "{hay:?} {from}");
                }
                let mut p = super::Pairs::new(b',', b' ', &hay);
                for _ in 0..40 {
                    let from = (rand() % (n as u64 + 2)) as usize;
                    assert_eq!(p.first_from(from), slow(from), "{hay:?} {from}");
                }
            }
        }
    }

    #[test]
    fn masks_are_the_byte_classes() {
        for start in (0..=255u8).step_by(16) {
            let block: [u8; 16] = std::array::from_fn(|i| start + i as u8);
            let (alnum, digit) = super::alnum_masks(&block);
            let name = super::dns_mask(&block);
            for (i, c) in block.iter().enumerate() {
                assert_eq!(alnum >> i & 1 == 1, c.is_ascii_alphanumeric(), "{c}");
                assert_eq!(digit >> i & 1 == 1, c.is_ascii_digit(), "{c}");
                let in_names = c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-';
                assert_eq!(name >> i & 1 == 1, in_names, "{c}");
            }
        }
    }

    #[test]
    fn same_is_equality() {
        let base: Vec<u8> = (0u8..40).map(|i| b'a' + i % 26).collect();
        for n in 0..base.len() {
            let a = &base[..n];
            assert!(super::same(a, a), "{n}");
            assert!(!super::same(a, &base[..n + 1]), "{n}");
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!super::same(a, &b), "{n} {at}");
                assert!(!super::same(&b, a), "{n} {at}");
            }
        }
    }

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
                    assert_eq!(
                        super::any3(n, b',', b'[', h),
                        memchr::memchr3(n, b',', b'[', h)
                    );
                    assert!(super::each(n, h).eq(memchr::memchr_iter(n, h)));
                }
            }
        }
    }
}
