//! The one place that opens the destination: stdout, a device or FIFO written in place, or a
//! temporary file beside the final path that is renamed into place only when the run
//! completes, so a reader never sees a partial file.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where output goes.
pub enum Sink {
    Stdout,
    File {
        tmp: tempfile::NamedTempFile,
        path: PathBuf,
    },
    /// A device, FIFO or socket given as `-o` (`/dev/null`, a named pipe): written in place,
    /// never replaced by a renamed file.
    Special {
        file: std::fs::File,
        path: PathBuf,
    },
}

impl Sink {
    /// Opens the destination: a temporary file in the directory of `path`, or stdout.
    pub fn open(path: Option<&Path>) -> io::Result<Sink> {
        let Some(path) = path else {
            return Ok(Sink::Stdout);
        };
        if let Ok(meta) = std::fs::metadata(path) {
            if !meta.is_file() && !meta.is_dir() {
                let file = std::fs::OpenOptions::new().write(true).open(path)?;
                return Ok(Sink::Special {
                    file,
                    path: path.to_path_buf(),
                });
            }
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // The mode the umask gives a new file (not tempfile's 0600), or the mode of the file
        // it replaces: the AWStats or web user must still be able to read it.
        let mut builder = tempfile::Builder::new();
        builder.prefix(".maillogconv-").suffix(".tmp");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| crate::files::in_dir(dir, &e))?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(tmp.path(), meta.permissions())?;
        }
        Ok(Sink::File {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// A buffered handle to write through.
    pub fn handle(&self) -> io::Result<Box<dyn Write + Send>> {
        Ok(match self {
            Sink::Stdout => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
            Sink::File { tmp, .. } => Box::new(BufWriter::with_capacity(1 << 16, tmp.reopen()?)),
            Sink::Special { file, .. } => {
                Box::new(BufWriter::with_capacity(1 << 16, file.try_clone()?))
            }
        })
    }

    /// Makes the output visible under its final name (fsync, then rename).
    pub fn commit(self) -> io::Result<()> {
        match self {
            Sink::Stdout | Sink::Special { .. } => Ok(()),
            Sink::File { tmp, path } => {
                tmp.as_file().sync_all()?;
                tmp.persist(&path).map_err(|e| e.error)?;
                Ok(())
            }
        }
    }

    /// The output, synced, kept under its temporary name for a commit that renames it with
    /// other files (`--state`): (temporary path, final path); none for stdout or a device.
    pub fn stage(self) -> io::Result<Option<(PathBuf, PathBuf)>> {
        match self {
            Sink::Stdout | Sink::Special { .. } => Ok(None),
            Sink::File { tmp, path } => {
                tmp.as_file().sync_all()?;
                let (_, kept) = tmp.keep().map_err(|e| e.error)?;
                Ok(Some((kept, path)))
            }
        }
    }

    /// The name to use in messages.
    pub fn name(&self) -> String {
        match self {
            Sink::Stdout => "<stdout>".to_string(),
            Sink::File { path, .. } | Sink::Special { path, .. } => path.display().to_string(),
        }
    }
}
