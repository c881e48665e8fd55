//! Opens an input and undoes its compression, chosen by the first bytes of the data, never by
//! the file name: gzip (multi-member), bzip2 (multi-stream), xz (multi-stream), zstd
//! (multi-frame), or plain. Concatenated archives (`cat a.gz b.gz`) decode whole.
//! A [`Counting`] reader under the decoder tells how far into the raw input an error occurred.

use crate::cancel::Cancel;
use crate::error::Error;
use crate::input::Input;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The compression of an input, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    pub fn detect(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(b"BZh")
            && magic.get(3).is_some_and(|c| (b'1'..=b'9').contains(c))
        {
            Compression::Bzip2
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::Plain
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Plain => "plain",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

/// The MTIME field of a gzip header (when the original file was last modified), if set.
pub fn gzip_mtime(header: &[u8]) -> Option<std::time::SystemTime> {
    let b = header.get(4..8)?;
    let secs = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    (secs != 0).then(|| std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(secs)))
}

/// Counts the raw bytes read from the underlying input.
pub struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An open, decompressing input.
pub struct Opened {
    pub reader: Box<dyn Read + Send>,
    pub compression: Compression,
    /// Raw bytes consumed so far (of the compressed stream when compressed).
    pub consumed: Arc<AtomicU64>,
    /// When the file was last modified (none for stdin).
    pub mtime: Option<std::time::SystemTime>,
    /// The gzip header's MTIME, when the input is gzip and it is set.
    pub gzip_mtime: Option<std::time::SystemTime>,
    /// The file's length when it is a regular file (of the compressed stream when compressed).
    pub len: Option<u64>,
}

/// A read error of `input` as an [`Error`] naming the input and the offset reached (of the
/// compressed stream when compressed: a corrupt archive).
pub fn read_error(
    input: &Input,
    compression: Compression,
    offset: u64,
    source: io::Error,
) -> Error {
    match compression {
        Compression::Plain => Error::Read {
            input: input.display(),
            offset,
            source,
        },
        c => Error::Corrupt {
            input: input.display(),
            format: c.name(),
            offset,
            source,
        },
    }
}

/// Opens `input` and wraps it in the decoder its magic bytes call for.
pub fn open(input: &Input) -> Result<Opened, Error> {
    open_with(input, None)
}

/// As [`open`]; a stream (stdin, a pipe, a FIFO, a device) is read so that `cancel` ends a
/// read that waits for data (a stalled pipe), not only the run's next step.
pub fn open_with(input: &Input, cancel: Option<&Cancel>) -> Result<Opened, Error> {
    let (raw, mtime, len): (Box<dyn Read + Send>, _, _) = match input {
        Input::Stdin => (interruptible(io::stdin(), cancel), None, None),
        Input::Path(p) => {
            let open_err = |source| Error::Open {
                input: input.display(),
                source,
            };
            let f = open_file(p, cancel.is_some()).map_err(open_err)?;
            let meta = f.metadata().map_err(open_err)?;
            if meta.is_dir() {
                return Err(open_err(io::Error::other("is a directory")));
            }
            let raw = if meta.is_file() {
                Box::new(f)
            } else {
                interruptible(f, cancel)
            };
            (
                raw,
                meta.modified().ok(),
                meta.is_file().then_some(meta.len()),
            )
        }
    };
    let mut opened = decode(raw, &input.display())?;
    opened.mtime = mtime;
    opened.len = len;
    Ok(opened)
}

/// Opens `p` for reading. A FIFO is opened without waiting for a writer (the wait would
/// hold a signal back); its reads then wait in `poll`, which a cancel ends.
fn open_file(p: &std::path::Path, fifo_without_wait: bool) -> io::Result<File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let is_fifo = std::fs::metadata(p).is_ok_and(|m| m.file_type().is_fifo());
    if !(fifo_without_wait && is_fifo) {
        return File::open(p);
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(p)?;
    let flags = rustix::fs::fcntl_getfl(&f)?;
    rustix::fs::fcntl_setfl(&f, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(f)
}

/// `r`, read only once `poll` says data is there, checking `cancel` every 200 ms meanwhile.
fn interruptible<R>(r: R, cancel: Option<&Cancel>) -> Box<dyn Read + Send>
where
    R: Read + rustix::fd::AsFd + Send + 'static,
{
    match cancel {
        Some(c) => Box::new(Interruptible {
            inner: r,
            cancel: c.clone(),
        }),
        None => Box::new(r),
    }
}

/// A stream whose reads end with an error once the run is cancelled, even while no data comes.
struct Interruptible<R> {
    inner: R,
    cancel: Cancel,
}

impl<R: Read + rustix::fd::AsFd> Read for Interruptible<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let wait = Timespec {
            tv_sec: 0,
            tv_nsec: 200_000_000,
        };
        loop {
            if self.cancel.is_cancelled() {
                return Err(io::Error::other("interrupted by a signal"));
            }
            let mut fds = [PollFd::new(&self.inner, PollFlags::IN)];
            match poll(&mut fds, Some(&wait)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                Ok(_) => return self.inner.read(buf),
                // Not pollable (some devices): read as usual.
                Err(_) => return self.inner.read(buf),
            }
        }
    }
}

/// Wraps `raw` in the decoder its first bytes call for; `name` is for errors. The part of
/// [`open`] that reads data, apart so it can be fuzzed without files.
pub fn decode(raw: Box<dyn Read + Send>, name: &str) -> Result<Opened, Error> {
    let consumed = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: raw,
        count: Arc::clone(&consumed),
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, counting);
    let magic = buffered.fill_buf().map_err(|source| Error::Read {
        input: name.to_string(),
        offset: 0,
        source,
    })?;
    let compression = Compression::detect(magic);
    let gzip_mtime = match compression {
        Compression::Gzip => gzip_mtime(magic),
        _ => None,
    };
    let reader: Box<dyn Read + Send> = match compression {
        Compression::Plain => Box::new(past_peek(buffered)),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(
            |source| Error::Corrupt {
                input: name.to_string(),
                format: "zstd",
                offset: 0,
                source,
            },
        )?),
    };
    Ok(Opened {
        reader,
        compression,
        consumed,
        mtime: None,
        gzip_mtime,
        len: None,
    })
}

/// What `buffered` was used to look at, then the stream under it, read directly: read through
/// the buffer, a chunk smaller than it is copied twice, into the buffer and out of it (+4%
/// instructions with the 192 KiB chunks of 16 workers and more).
pub(crate) fn past_peek<R: Read>(buffered: BufReader<R>) -> impl Read {
    io::Cursor::new(buffered.buffer().to_vec()).chain(buffered.into_inner())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) mod tests {
    use super::*;

    /// Reads `r` to its end `size` bytes at a time, as the chunker does.
    pub(crate) fn read_in(r: &mut dyn Read, size: usize) -> Vec<u8> {
        let (mut got, mut buf) = (Vec::new(), vec![0; size]);
        loop {
            match r.read(&mut buf).expect("read") {
                0 => return got,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Longer than the bytes looked at for the magic number (256 KiB).
    pub(crate) fn long_plain() -> Vec<u8> {
        (0..700_000u32)
            .map(|i| b"Mar  2 mx1 x\n"[(i % 13) as usize])
            .collect()
    }

    /// A plain stream comes back whole in reads of any size, those smaller than the bytes
    /// looked at too (now read from the stream itself after them, not through the buffer),
    /// and its bytes are all counted.
    #[test]
    fn a_plain_stream_reads_back_whole_in_reads_of_any_size() {
        let data = long_plain();
        for size in [1, 4096, 128 << 10, 192 << 10, 256 << 10, 1 << 20] {
            let mut opened = decode(Box::new(io::Cursor::new(data.clone())), "t").expect("open");
            assert_eq!(opened.compression, Compression::Plain);
            assert_eq!(read_in(&mut opened.reader, size), data, "reads of {size}");
            assert_eq!(opened.consumed.load(Ordering::Relaxed), data.len() as u64);
        }
    }
}
