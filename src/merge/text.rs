//! [`Text`]: a field an open message keeps (a client's name or address, a sender, a
//! message-id), copied out of its line.

use smallvec::SmallVec;

/// Bytes kept inline up to this many: most names, addresses and senders. Longer ones (most
/// message-ids) take an allocation, as every field did (a `Bytes` each: four or five
/// allocations a message, ~5% of a Postfix run's samples in the allocator, perf).
const INLINE: usize = 24;

/// A field's bytes, inline when short. Saved as bytes, as the `Bytes` it replaced was, so a
/// state written before reads the same.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Text(SmallVec<[u8; INLINE]>);

impl Text {
    /// Replaces the bytes, in the room the field already has (a recycled message's).
    pub fn set(&mut self, v: &[u8]) {
        // A short field into an inline one is one copy into a buffer: `extend_from_slice`
        // reserved and moved through the generic path (~90 instructions a field, callgrind).
        if !self.0.spilled() {
            if let Some(buf) = padded(v) {
                self.0 = SmallVec::from_buf_and_len(buf, v.len());
                return;
            }
        }
        self.0.clear();
        self.0.extend_from_slice(v);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Bytes of room on the heap (none while inline).
    pub fn heap(&self) -> usize {
        if self.0.spilled() {
            self.0.capacity()
        } else {
            0
        }
    }
}

impl From<&[u8]> for Text {
    fn from(v: &[u8]) -> Text {
        match padded(v) {
            Some(buf) => Text(SmallVec::from_buf_and_len(buf, v.len())),
            None => Text(SmallVec::from_slice(v)),
        }
    }
}

/// `v` zero-padded to [`INLINE`] bytes (`None` if longer), made of words read whole
/// (overlapping) and shifted into place in registers. Copied into a buffer first (a `memcpy`
/// call of the field's length), the buffer was read back in 16-byte loads that spanned the
/// call's narrower stores, which the CPU cannot forward: the load waited for the stores to
/// retire (the instructions after those copies held ~10% of `Merger::event`'s samples, perf).
fn padded(v: &[u8]) -> Option<[u8; INLINE]> {
    let n = v.len();
    let word = |at: usize| {
        v.get(at..)
            .and_then(|w| w.first_chunk::<8>())
            .map_or(0, |w| u64::from_le_bytes(*w))
    };
    let tail = |skip: usize| word(n - 8).checked_shr(8 * skip as u32).unwrap_or(0);
    let (a, b, c) = match n {
        0 => (0, 0, 0),
        1..=3 => {
            let at = |i: usize| v.get(i).map_or(0, |&x| u64::from(x) << (8 * i));
            (at(0) | at(n / 2) | at(n - 1), 0, 0)
        }
        4..=7 => {
            let half = |at: usize| {
                v.get(at..)
                    .and_then(|w| w.first_chunk::<4>())
                    .map_or(0, |w| u64::from(u32::from_le_bytes(*w)))
            };
            (half(0) | half(n - 4) << (8 * (n - 4)), 0, 0)
        }
        8..=15 => (word(0), tail(16 - n), 0),
        16..=INLINE => (word(0), word(8), tail(INLINE - n)),
        _ => return None,
    };
    let mut buf = [0u8; INLINE];
    for (to, w) in buf.chunks_exact_mut(8).zip([a, b, c]) {
        to.copy_from_slice(&w.to_le_bytes());
    }
    Some(buf)
}

impl std::ops::Deref for Text {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", bytes::Bytes::copy_from_slice(&self.0))
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Text;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Text, E> {
                Ok(Text::from(v))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Text, A::Error> {
                let mut v = SmallVec::new();
                while let Some(b) = a.next_element::<u8>()? {
                    v.push(b);
                }
                Ok(Text(v))
            }
        }
        d.deserialize_bytes(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length to one past [`INLINE`], with bytes that differ from place to place; and
    /// `set` over an inline and a spilled text.
    #[test]
    fn padded_is_the_bytes_then_zeros() {
        let mut next = crate::testing::xorshift(0x5eed_7e47);
        for n in 0..=INLINE + 1 {
            for _ in 0..50 {
                let v: Vec<u8> = (0..n).map(|_| next() as u8 | 1).collect();
                let want = (n <= INLINE).then(|| {
                    let mut b = [0u8; INLINE];
                    b[..n].copy_from_slice(&v);
                    b
                });
                assert_eq!(padded(&v), want, "{v:?}");
                assert_eq!(&*Text::from(&v[..]), &v[..]);
                for before in [&b"short"[..], &[7u8; 40][..]] {
                    let mut t = Text::from(before);
                    t.set(&v);
                    assert_eq!(&*t, &v[..]);
                }
            }
        }
    }

    #[test]
    fn saved_as_bytes_was() -> Result<(), postcard::Error> {
        for v in [&b""[..], b"mx1.example.org", &[7u8; 100][..], b"a\0b"] {
            let text = Text::from(v);
            let saved = postcard::to_stdvec(&text)?;
            assert_eq!(
                saved,
                postcard::to_stdvec(&bytes::Bytes::copy_from_slice(v))?
            );
            assert_eq!(postcard::from_bytes::<Text>(&saved)?, text);
            assert_eq!(&*text, v);
        }
        assert_eq!(
            std::mem::size_of::<Text>(),
            std::mem::size_of::<bytes::Bytes>()
        );
        Ok(())
    }
}
