//! Cuts a byte stream into chunks that end at a line end (the last chunk may end without one),
//! so chunks can be parsed independently and in parallel. A line longer than the chunk size
//! grows its chunk rather than being split.

use std::io::{self, Read};

/// Default chunk size: large enough to amortise hand-offs between threads, small enough that a
/// few in flight per thread keep memory flat.
pub const CHUNK_SIZE: usize = 1 << 20;

/// Reads line-aligned chunks from `R`.
pub struct Chunker<R> {
    reader: R,
    carry: Vec<u8>,
    size: usize,
    done: bool,
    error: Option<io::Error>,
}

impl<R: Read> Chunker<R> {
    pub fn new(reader: R, size: usize) -> Self {
        Chunker {
            reader,
            carry: Vec::new(),
            size: size.max(1),
            done: false,
            error: None,
        }
    }

    /// The next chunk, `Ok(None)` at the end. After a read error, the bytes read before it come
    /// back as a last chunk, and the error on the following call.
    pub fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let mut buf = std::mem::take(&mut self.carry);
        let mut scanned = 0;
        loop {
            let want = buf.len() + self.size;
            let start = buf.len();
            buf.resize(want, 0);
            let mut filled = start;
            while filled < want {
                match self.reader.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.error = Some(e);
                        break;
                    }
                }
            }
            buf.truncate(filled);
            let eof = filled < want;
            if eof {
                self.done = true;
                return Ok((!buf.is_empty()).then_some(buf));
            }
            if let Some(nl) = memchr::memrchr(b'\n', &buf[scanned..]) {
                let cut = scanned + nl + 1;
                self.carry = buf[cut..].to_vec();
                buf.truncate(cut);
                return Ok(Some(buf));
            }
            scanned = buf.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(data: &[u8], size: usize) -> Vec<Vec<u8>> {
        let mut c = Chunker::new(data, size);
        let mut out = Vec::new();
        while let Ok(Some(ch)) = c.next_chunk() {
            out.push(ch);
        }
        out
    }

    #[test]
    fn chunks_end_at_line_ends_and_cover_everything() {
        let data = b"a\nbb\nccc\ndddd\nlast-without-newline";
        for size in 1..=data.len() + 1 {
            let cs = chunks(data, size);
            assert_eq!(cs.concat(), data.to_vec(), "size {size}");
            for c in &cs[..cs.len() - 1] {
                assert_eq!(c.last(), Some(&b'\n'), "size {size}");
            }
        }
        assert!(chunks(b"", 4).is_empty());
    }
}
