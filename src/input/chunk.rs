//! Cuts a byte stream into chunks that end at a line end (the last chunk may end without one),
//! so chunks can be parsed independently and in parallel. A line longer than the chunk size
//! grows its chunk rather than being split. Chunk buffers come from a [`Pool`] and go back to it
//! once merged, so steady state allocates (and zeroes) nothing.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Default chunk size: large enough to amortise hand-offs between threads, small enough that a
/// few in flight per thread keep memory flat.
pub const CHUNK_SIZE: usize = 1 << 20;

/// Buffers kept for reuse at most.
const POOL_MAX: usize = 64;

/// Room kept in each chunk buffer beyond the chunk size for the partial line carried over.
const CARRY_SLACK: usize = 64 * 1024;

/// Recycled buffers, shared by the threads that fill and drain them: large buffers freed on
/// another thread than they were made on would otherwise go back to the OS and be faulted in
/// (and zeroed) again for the next chunk.
#[derive(Debug)]
pub struct Pool<T = Vec<u8>>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool(Arc::clone(&self.0))
    }
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T: Default> Pool<T> {
    /// A recycled buffer, or a new one.
    pub fn take(&self) -> T {
        self.0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    }

    /// Returns a buffer for reuse.
    pub fn put(&self, buf: T) {
        if let Ok(mut v) = self.0.lock() {
            if v.len() < POOL_MAX {
                v.push(buf);
            }
        }
    }
}

/// A chunk: the first `len` bytes of `buf` (the rest is stale data of an earlier use).
#[derive(Debug)]
pub struct Chunk {
    pub buf: Vec<u8>,
    pub len: usize,
}

impl Chunk {
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Reads line-aligned chunks from `R`.
pub struct Chunker<R> {
    reader: R,
    carry: Vec<u8>,
    size: usize,
    done: bool,
    error: Option<io::Error>,
    pool: Pool,
    /// Leave a last line without its line end unread: the file may still be growing.
    hold_tail: bool,
}

impl<R: Read> Chunker<R> {
    pub fn new(reader: R, size: usize) -> Self {
        Self::with_pool(reader, size, Pool::default())
    }

    pub fn with_pool(reader: R, size: usize, pool: Pool) -> Self {
        Chunker {
            reader,
            carry: Vec::new(),
            size: size.max(1),
            done: false,
            error: None,
            pool,
            hold_tail: false,
        }
    }

    /// A last line without its line end is left unread (a live log still being written: the
    /// next run reads it whole).
    pub fn hold_tail(mut self, hold: bool) -> Self {
        self.hold_tail = hold;
        self
    }

    /// The next chunk, `Ok(None)` at the end. After a read error, the bytes read before it come
    /// back as a last chunk, and the error on the following call.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let mut buf = self.pool.take();
        let mut filled = self.carry.len();
        let mut want = filled + self.size;
        if buf.len() < want {
            // Only a new or too small buffer is zeroed; a reused one is already initialised.
            // The slack covers the carry of later chunks, so a reused buffer is not regrown
            // (and its pages faulted in afresh) whenever a carry is a few bytes longer.
            buf.resize(want + CARRY_SLACK, 0);
        }
        buf[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        let mut scanned = 0;
        loop {
            while filled < want {
                match self.reader.read(&mut buf[filled..want]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.error = Some(e);
                        break;
                    }
                }
            }
            if filled < want {
                self.done = true;
                if self.hold_tail && self.error.is_none() {
                    filled = memchr::memrchr(b'\n', &buf[..filled]).map_or(0, |i| i + 1);
                }
                if filled == 0 {
                    self.pool.put(buf);
                    // An error before any byte of this chunk is reported now, not lost.
                    return match self.error.take() {
                        Some(e) => Err(e),
                        None => Ok(None),
                    };
                }
                return Ok(Some(Chunk { buf, len: filled }));
            }
            if let Some(nl) = memchr::memrchr(b'\n', &buf[scanned..filled]) {
                let cut = scanned + nl + 1;
                self.carry.extend_from_slice(&buf[cut..filled]);
                return Ok(Some(Chunk { buf, len: cut }));
            }
            // A line longer than the chunk: grow and read on.
            scanned = filled;
            want = filled + self.size;
            if buf.len() < want {
                buf.resize(want, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_tail_is_left_unread() {
        for size in [1, 3, 8, 64] {
            let got: Vec<Vec<u8>> = {
                let mut c = Chunker::new(&b"one\ntwo\nthr"[..], size).hold_tail(true);
                let mut v = Vec::new();
                while let Ok(Some(ch)) = c.next_chunk() {
                    v.push(ch.bytes().to_vec());
                }
                v
            };
            assert_eq!(got.concat(), b"one\ntwo\n", "{size}");
            let mut only = Chunker::new(&b"partial"[..], size).hold_tail(true);
            assert!(matches!(only.next_chunk(), Ok(None)), "{size}");
        }
    }

    fn chunks(data: &[u8], size: usize) -> Vec<Vec<u8>> {
        let pool = Pool::default();
        let mut c = Chunker::with_pool(data, size, pool.clone());
        let mut out = Vec::new();
        while let Ok(Some(ch)) = c.next_chunk() {
            out.push(ch.bytes().to_vec());
            // Reused buffers carry stale bytes past `len`: they must never show.
            pool.put(ch.buf);
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

    /// Yields `data`, then fails.
    struct FailAfter<'a>(&'a [u8]);

    impl Read for FailAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("broken"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_is_reported_after_the_bytes_before_it_even_when_there_are_none() {
        let mut c = Chunker::with_pool(FailAfter(b""), 8, Pool::default());
        assert!(c.next_chunk().is_err());

        let mut c = Chunker::with_pool(FailAfter(b"line\n"), 8, Pool::default());
        match c.next_chunk() {
            Ok(Some(first)) => assert_eq!(first.bytes(), b"line\n"),
            other => panic!(
                "expected the line before the error, got {:?}",
                other.is_ok()
            ),
        }
        assert!(c.next_chunk().is_err());
    }
}
