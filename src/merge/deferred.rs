//! The recipients of an open message whose last attempt was deferred, in the order they were
//! first deferred (`status=expired` writes a record for each, in that order).

use super::text::Text;
use hashbrown::HashMap;

/// Past this many, the list is indexed: a mailing list's message to a domain that is down logs
/// a deferral for each recipient at every retry, and a search of the list for each was
/// quadratic (20,000 recipients, four rounds: 3 s for 80,000 lines).
const INDEX_FROM: usize = 32;

#[derive(Debug, Default)]
pub(super) struct Deferred {
    /// In order; `None` where a recipient has gone final since (compacted when most are).
    list: Vec<Option<Text>>,
    /// Recipients in `list`.
    live: usize,
    /// Each recipient's place in `list`, once the list is long.
    index: Option<HashMap<Box<[u8]>, usize>>,
}

impl Deferred {
    pub(super) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// `to` was deferred: listed, unless it is already.
    pub(super) fn add(&mut self, to: &[u8]) {
        self.index_if_long();
        if self.place(to).is_some() {
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(to.into(), self.list.len());
        }
        self.list.push(Some(Text::from(to)));
        self.live += 1;
    }

    /// `to` went final (or otherwise not deferred): no longer listed.
    pub(super) fn remove(&mut self, to: &[u8]) {
        if self.live == 0 {
            return;
        }
        self.index_if_long();
        let Some(at) = self.place(to) else {
            return;
        };
        if let Some(index) = &mut self.index {
            index.remove(to);
        }
        if let Some(slot) = self.list.get_mut(at) {
            *slot = None;
        }
        self.live -= 1;
        if self.live == 0 {
            self.clear();
        } else if self.list.len() >= 2 * self.live + INDEX_FROM {
            self.list.retain(Option::is_some);
            if self.index.is_some() {
                self.index = None;
                self.index_if_long();
            }
        }
    }

    /// Every listed recipient, in order; the list is left empty.
    pub(super) fn take(&mut self) -> Vec<Text> {
        let all = self.list.drain(..).flatten().collect();
        self.clear();
        all
    }

    /// Emptied, its room kept.
    pub(super) fn clear(&mut self) {
        self.list.clear();
        self.live = 0;
        self.index = None;
    }

    /// Bytes of room it holds on the heap.
    pub(super) fn heap(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<Option<Text>>()
            + self.list.iter().flatten().map(Text::heap).sum::<usize>()
            + self.index.as_ref().map_or(0, |index| {
                index.capacity() * std::mem::size_of::<(Box<[u8]>, usize)>()
                    + index.keys().map(|k| k.len()).sum::<usize>()
            })
    }

    fn place(&self, to: &[u8]) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(to).copied(),
            None => (self.list.iter()).position(|t| t.as_deref() == Some(to)),
        }
    }

    fn index_if_long(&mut self) {
        if self.index.is_none() && self.list.len() > INDEX_FROM {
            let index = (self.list.iter().enumerate())
                .filter_map(|(i, t)| Some((Box::<[u8]>::from(t.as_deref()?), i)))
                .collect();
            self.index = Some(index);
        }
    }
}

/// Saved as the list of recipients it always was (a `Vec` of texts).
impl serde::Serialize for Deferred {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.live))?;
        for t in self.list.iter().flatten() {
            seq.serialize_element(t)?;
        }
        seq.end()
    }
}

impl<'de> serde::Deserialize<'de> for Deferred {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Deferred, D::Error> {
        let list = <Vec<Text> as serde::Deserialize>::deserialize(d)?;
        Ok(Deferred {
            live: list.len(),
            list: list.into_iter().map(Some).collect(),
            index: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain list (what the message held before), over lists short and long: the
    /// same recipients in the same order, and the same bytes saved.
    #[test]
    fn as_a_plain_list_did() {
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        for case in 0..200 {
            let span = [4, 30, 100, 400][case % 4];
            let (mut plain, mut d): (Vec<Vec<u8>>, Deferred) = (Vec::new(), Deferred::default());
            for step in 0..2_000 {
                let to = format!("u{}@example.org", next() % span).into_bytes();
                if next().is_multiple_of(3) {
                    plain.retain(|t| *t != to);
                    d.remove(&to);
                } else {
                    if !plain.contains(&to) {
                        plain.push(to.clone());
                    }
                    d.add(&to);
                }
                assert_eq!(d.is_empty(), plain.is_empty(), "case {case} step {step}");
                if step % 500 == 0 {
                    let bytes = postcard::to_stdvec(&d).unwrap_or_default();
                    let texts: Vec<Text> = plain.iter().map(|t| Text::from(&t[..])).collect();
                    assert_eq!(bytes, postcard::to_stdvec(&texts).unwrap_or_default());
                    d = postcard::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
                }
            }
            let got: Vec<Vec<u8>> = d.take().iter().map(|t| t.to_vec()).collect();
            assert_eq!(got, plain, "case {case}");
            assert!(d.is_empty());
        }
    }
}
