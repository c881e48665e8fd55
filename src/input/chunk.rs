//! Cuts a byte stream into chunks that end at a line end (the last chunk may end without one),
//! so chunks can be parsed independently and in parallel. A line longer than the chunk size
//! grows its chunk rather than being split. Chunk buffers come from a [`Pool`] and go back to it
//! once merged, so steady state allocates (and zeroes) nothing.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Default chunk size (more workers cut it, `pipeline::chunk_size`). With two workers a chunk
/// of 1 MiB takes less time than one of 256 KiB: each chunk's lines cross between the cores,
/// and fewer, larger crossings cost less (PGO builds, interleaved: the 1 GiB log 4% less, the
/// zstd set 7%, the gzip set and the Sendmail log 3-4%). One worker takes as long with
/// either, within 2% (docs/PERFORMANCE.md, the twenty-fifth session).
pub const CHUNK_SIZE: usize = 1 << 20;

/// Buffers kept for reuse at most.
const POOL_MAX: usize = 64;

/// The smallest chunk near a known end ([`Chunker::expect_len`]): each chunk is routed,
/// merged and written as a unit, so smaller ones would cost more than the tail they save.
const TAPER_MIN: usize = 128 << 10;

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
    /// Where the lines cut at the maximum line length start (offsets into the chunk).
    pub cut: Vec<usize>,
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
    /// Lines longer than this are cut to it (memory stays bounded whatever the input).
    max_line: usize,
    /// The rest of a cut line is being read and dropped.
    skipping: bool,
    /// Bytes the reader should give before its end, when known ([`Chunker::expect_len`]).
    left: Option<u64>,
}

/// The longest line kept whole by default: mail log lines are a few hundred bytes.
pub const MAX_LINE: usize = 1 << 20;

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
            max_line: MAX_LINE,
            skipping: false,
            left: None,
        }
    }

    /// The reader should give `n` more bytes (a plain file's length less what was skipped):
    /// the last chunks before that end are cut smaller, down to [`TAPER_MIN`], a quarter of
    /// what is left each. The steps after the parse take a run's chunks one at a time in
    /// order, so the chunks parsed ahead wait there at the end while the other cores have
    /// nothing left to do: the smaller they are, the shorter that wait. Only a hint: a file
    /// that grows or shrinks meanwhile is still read to its end.
    pub fn expect_len(mut self, n: Option<u64>) -> Self {
        self.left = n;
        self
    }

    /// The size of the next chunk: see [`Chunker::expect_len`].
    fn next_size(&self) -> usize {
        match self.left {
            Some(left) => {
                let quarter = usize::try_from(left / 4).unwrap_or(usize::MAX);
                self.size.min(quarter.max(TAPER_MIN))
            }
            None => self.size,
        }
    }

    /// A read from the reader, counted off what is left.
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        if let Some(left) = &mut self.left {
            *left = left.saturating_sub(n as u64);
        }
        Ok(n)
    }

    /// Lines longer than `n` bytes are cut to their first `n` (and counted by the caller,
    /// from [`Chunk::cut`]).
    pub fn max_line(mut self, n: usize) -> Self {
        self.max_line = n.max(1);
        // Chunks no larger than that: a line that starts and ends in one read is then never
        // too long, and only a chunk's first line (which began in the carry) needs a look.
        self.size = self.size.min(self.max_line);
        self
    }

    /// Reads and drops the rest of a cut line; what follows its line end is carried.
    fn skip_rest(&mut self, scratch: &mut [u8]) -> io::Result<bool> {
        while self.skipping {
            let n = match self.read_some(scratch) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(i) = memchr::memchr(b'\n', &scratch[..n]) {
                self.carry.extend_from_slice(&scratch[i + 1..n]);
                self.skipping = false;
            }
        }
        Ok(true)
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
        if self.skipping {
            if buf.len() < self.size {
                buf.resize(self.size + CARRY_SLACK, 0);
            }
            let scratch = self.size.min(buf.len());
            match self.skip_rest(&mut buf[..scratch]) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    self.pool.put(buf);
                    return Ok(None);
                }
                Err(e) => {
                    self.done = true;
                    self.pool.put(buf);
                    return Err(e);
                }
            }
        }
        let mut filled = self.carry.len();
        let mut want = filled + self.next_size();
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
                match self.read_some(&mut buf[filled..want]) {
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
                // The last line, without its line end, may be too long too.
                let mut cut = Vec::new();
                let start = memchr::memrchr(b'\n', &buf[..filled]).map_or(0, |i| i + 1);
                if filled - start > self.max_line {
                    filled = start + self.max_line;
                    cut.push(start);
                }
                return Ok(Some(Chunk {
                    buf,
                    len: filled,
                    cut,
                }));
            }
            if let Some(nl) = memchr::memrchr(b'\n', &buf[scanned..filled]) {
                let mut end = scanned + nl + 1;
                let mut cut = Vec::new();
                // The first line began in the carry and may be too long: keep its start.
                let first = memchr::memchr(b'\n', &buf[..end]).unwrap_or(end);
                if first > self.max_line {
                    buf.copy_within(first..filled, self.max_line);
                    let dropped = first - self.max_line;
                    end -= dropped;
                    filled -= dropped;
                    cut.push(0);
                }
                self.carry.extend_from_slice(&buf[end..filled]);
                return Ok(Some(Chunk { buf, len: end, cut }));
            }
            // No line end yet: the whole buffer is one line. Past the maximum, keep its
            // start as a line of its own and drop the rest of it.
            if filled > self.max_line {
                buf[self.max_line] = b'\n';
                self.skipping = true;
                return Ok(Some(Chunk {
                    buf,
                    len: self.max_line + 1,
                    cut: vec![0],
                }));
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
    fn lines_longer_than_the_maximum_are_cut_and_the_rest_dropped() {
        let mut data = b"short\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5000));
        data.extend_from_slice(b"\nafter\n");
        data.extend(std::iter::repeat_n(b'y', 3000));
        for size in [1, 7, 64, 4096] {
            let mut c = Chunker::new(&data[..], size).max_line(100);
            let (mut text, mut cuts) = (Vec::new(), 0);
            while let Ok(Some(ch)) = c.next_chunk() {
                cuts += ch.cut.len();
                for &at in &ch.cut {
                    assert!(
                        ch.bytes()[at..].starts_with(b"xxx")
                            || ch.bytes()[at..].starts_with(b"yyy")
                    );
                }
                text.extend_from_slice(ch.bytes());
            }
            let mut want = b"short\n".to_vec();
            want.extend(std::iter::repeat_n(b'x', 100));
            want.extend_from_slice(b"\nafter\n");
            want.extend(std::iter::repeat_n(b'y', 100));
            // A last line cut before the end of the input gets a line end; one cut at the end
            // does not: the same lines.
            if text.last() == Some(&b'\n') {
                text.pop();
            }
            assert_eq!(text, want, "{size}");
            assert_eq!(cuts, 2, "{size}");
        }
    }

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

    /// With the input's length known, the chunks before its end get smaller (a quarter of
    /// what is left, down to `TAPER_MIN`), and whatever the hint says every byte is read once,
    /// in order, in chunks that end at line ends.
    #[test]
    fn the_last_chunks_before_a_known_end_are_smaller() {
        let line = b"Mar  2 00:00:00 mx1 sm-mta[1000]: k2200001014522: from=<a@b>, size=1\n";
        let data: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(line.len() * 60_000)
            .collect();
        let size = 1 << 20;
        for hint in [Some(data.len() as u64), Some(0), Some(1 << 40), None] {
            let mut c = Chunker::new(&data[..], size).expect_len(hint);
            let mut sizes = Vec::new();
            let mut all = Vec::new();
            while let Ok(Some(ch)) = c.next_chunk() {
                assert_eq!(ch.bytes().last(), Some(&b'\n'));
                sizes.push(ch.len);
                all.extend_from_slice(ch.bytes());
            }
            assert_eq!(all, data, "{hint:?}");
            let left_at = |i: usize| data.len() - sizes[..i].iter().sum::<usize>();
            for (i, &n) in sizes.iter().enumerate() {
                // Chunks end at the line end before their size: up to a line shorter.
                let want = match hint {
                    Some(h) if h == data.len() as u64 => size.min((left_at(i) / 4).max(TAPER_MIN)),
                    Some(0) => TAPER_MIN,
                    _ => size,
                };
                let last = i == sizes.len() - 1;
                assert!(
                    n <= want + line.len() && (last || n + line.len() > want),
                    "{hint:?} {i} {n} {want}"
                );
            }
        }
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
