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
            let mut buf = [0u8; INLINE];
            if let Some(to) = buf.get_mut(..v.len()) {
                to.copy_from_slice(v);
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
        Text(SmallVec::from_slice(v))
    }
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
