//! A byte range inside a chunk: the thread-portable form of a borrowed slice.

use std::num::NonZeroU32;

/// A byte range inside a chunk: the thread-portable form of a borrowed slice. The end is
/// stored plus one, never zero, so that `Option<Span>` takes no more room than a span (parsed
/// lines are copied between threads: their size is memory traffic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end1: NonZeroU32,
}

impl Default for Span {
    fn default() -> Span {
        Span {
            start: 0,
            end1: NonZeroU32::MIN,
        }
    }
}

impl Span {
    /// The span of `part` inside `base`; empty (and harmless) if `part` is not inside it.
    pub fn of(base: &[u8], part: &[u8]) -> Span {
        // One subtraction and two comparisons: this runs for every field of every line. A
        // part before `base` wraps to an offset past its end.
        let off = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
        if part.is_empty() || off > base.len() || part.len() > base.len() - off {
            return Span::default();
        }
        // One check for both ends (the start is not past the end), and the end plus one
        // cannot be zero: this runs for every field of every line.
        match u32::try_from(off + part.len()) {
            Ok(end) if end < u32::MAX => Span {
                start: off as u32,
                end1: NonZeroU32::MIN.saturating_add(end),
            },
            _ => Span::default(),
        }
    }

    /// Where the span starts in its base.
    pub fn start(self) -> usize {
        self.start as usize
    }

    pub fn get(self, base: &[u8]) -> &[u8] {
        base.get(self.start as usize..self.end1.get() as usize - 1)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_roundtrip() {
        let base = b"hello world";
        let s = Span::of(base, &base[6..]);
        assert_eq!(s.get(base), b"world");
        assert_eq!(Span::of(base, b"elsewhere").get(base), b"");
        assert_eq!(Span::of(base, &base[..0]).get(base), b"");
        assert_eq!(Span::of(base, &base[..5]).get(base), b"hello");
        assert_eq!(Span::of(base, &base[10..]).get(base), b"d");
        assert_eq!(Span::default().get(base), b"");
        // A part that starts inside and runs past the end, or lies before the base.
        let wide = b"hello world!";
        assert_eq!(Span::of(&wide[..11], &wide[6..]), Span::default());
        assert_eq!(Span::of(&wide[6..], &wide[..5]), Span::default());
        // The niche: an optional span is no bigger than a span.
        assert_eq!(
            std::mem::size_of::<Option<Span>>(),
            std::mem::size_of::<Span>()
        );
    }
}
