//! A chunk and its lines as the parsers gave them: each line's event keeps its slices of the
//! chunk's bytes, held together with those bytes, so that it crosses threads as it is.
//!
//! Turning each parsed line's slices into offsets and back (spans in the parse step, slices
//! again in the merge step) was 8-11% of a Postfix conversion's instructions
//! and 7% of a Sendmail one's (callgrind); the entries are bigger as slices (240 bytes a line
//! against 152), which gives back part of it in time (docs/PERFORMANCE.md, twenty-third
//! session). The lines' vector is recycled from chunk to chunk: a fresh one a chunk, freed by
//! the other worker, made `-j2` 5% slower.

use crate::input::chunk::Chunk;
use crate::parse::{Line, Span};

/// A line's span in its chunk and its parse.
pub(super) type ParsedLine<'a> = (Span, Line<&'a [u8]>);

/// An empty vector of parsed lines, kept for the next chunk. Its element type names the
/// `'static` lifetime only because it holds none: [`ChunkLines::into_parts`] empties it.
pub(super) type Spare = Vec<ParsedLine<'static>>;

/// A chunk with its parsed lines, whose slices point into the chunk's bytes.
///
/// The bytes are a heap buffer that this type owns and never changes: moving it moves the
/// pointer, not the bytes, so the slices stay valid for as long as it lives. Its fields are
/// private, the lines are lent out only for as long as `self` is borrowed, and they are
/// cleared before the buffer is handed back: no slice outlives the bytes.
pub(super) struct ChunkLines {
    /// Slices into `chunk`'s bytes (typed `'static` here, lent out with `self`'s lifetime).
    lines: Spare,
    chunk: Chunk,
}

impl ChunkLines {
    /// `chunk` with its lines parsed by `parse` into `spare` (emptied first): `parse` is given
    /// the chunk's bytes and the vector to push each line into.
    pub(super) fn parse(
        chunk: Chunk,
        mut spare: Spare,
        parse: impl for<'a> FnOnce(&'a [u8], &mut Vec<ParsedLine<'a>>),
    ) -> ChunkLines {
        spare.clear();
        let data = chunk.bytes();
        // SAFETY: the vector is empty, so the lifetime in its element type describes nothing
        // yet; `parse` fills it with slices of `data`, the bytes of `chunk`, which moves into
        // the result with the vector. Its heap buffer does not move or change while the result
        // lives (the field is private and only read), and every way out of the result lends
        // the lines with the result's own lifetime or clears them first.
        let lines: &mut Vec<ParsedLine<'_>> =
            unsafe { &mut *std::ptr::from_mut(&mut spare).cast::<Vec<ParsedLine<'_>>>() };
        parse(data, lines);
        ChunkLines {
            lines: spare,
            chunk,
        }
    }

    /// The chunk's bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        self.chunk.bytes()
    }

    /// The chunk.
    pub(super) fn chunk(&self) -> &Chunk {
        &self.chunk
    }

    /// The parsed lines, in order.
    pub(super) fn lines(&self) -> &[ParsedLine<'_>] {
        &self.lines
    }

    /// The chunk, and the vector emptied for reuse.
    pub(super) fn into_parts(mut self) -> (Chunk, Spare) {
        self.lines.clear();
        (self.chunk, self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_line;

    /// The lines lent out are the parses of the chunk's own bytes, and a vector given back
    /// comes empty whatever it held.
    #[test]
    fn lines_borrow_their_chunk() {
        let text =
            b"Aug 18 00:01:38 acmemail1 postfix/qmgr[20508]: 6B1B62259: removed\nnot a mail line\n";
        let chunk = Chunk {
            buf: text.to_vec(),
            len: text.len(),
            cut: Vec::new(),
        };
        let parsed = ChunkLines::parse(chunk, Vec::new(), |data, lines| {
            for raw in data.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
                lines.push((Span::of(data, raw), parse_line(raw)));
            }
        });
        let lines = parsed.lines();
        let first = text.split(|&c| c == b'\n').next().unwrap_or_default();
        assert_eq!(lines.len(), 2);
        let (span, line) = &lines[0];
        assert_eq!(span.get(parsed.bytes()), first);
        assert_eq!(*line, parse_line(first));
        assert!(matches!(line, Line::Known { .. }));
        assert!(matches!(lines[1].1, Line::Unknown));
        let (chunk, spare) = parsed.into_parts();
        assert_eq!(chunk.bytes(), text);
        assert!(spare.is_empty() && spare.capacity() >= 2);
        let again = ChunkLines::parse(chunk, spare, |_, _| {});
        assert!(again.lines().is_empty());
    }
}
