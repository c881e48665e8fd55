//! Durable file operations the outputs and the state share: a lock file held for a run, a file
//! staged beside its final name (synced) and renamed into place with its directory synced.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The directory of `path` (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// An error making a file in `dir`, naming the directory the user gave rather than the
/// temporary file's name (`No such file or directory at path "/x/.maillogconv-wB5NA7.tmp"`).
pub fn in_dir(dir: &Path, e: &io::Error) -> io::Error {
    let why = match std::fs::metadata(dir) {
        Err(_) => "the directory does not exist".to_string(),
        Ok(m) if !m.is_dir() => "it is not a directory".to_string(),
        Ok(_) => e.kind().to_string(),
    };
    io::Error::new(e.kind(), format!("{}: {why}", dir.display()))
}

/// Takes the lock file `path` for this process's run, or says that `busy` (another run holds
/// it): the caller stops without writing.
pub fn lock(path: &Path, busy: &str) -> io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "{busy} (it holds {}); this run wrote nothing",
                path.display()
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Writes `bytes` to a temporary file beside `path` (synced) and returns its path, to be
/// renamed onto `path` at a commit.
pub fn stage(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".maillogconv-")
        .suffix(".tmp")
        .tempfile_in(dir_of(path))
        .map_err(|e| in_dir(dir_of(path), &e))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let (_, kept) = tmp.keep().map_err(|e| e.error)?;
    Ok(kept)
}

/// Renames `staged` onto `path` and syncs the directory.
pub fn install(staged: &Path, path: &Path) -> io::Result<()> {
    std::fs::rename(staged, path)?;
    std::fs::File::open(dir_of(path))?.sync_all()
}

/// `path`, written whole or not at all.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let staged = stage(path, bytes)?;
    install(&staged, path)
}
