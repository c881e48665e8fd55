//! `--unparsed FILE`: the lines a run read but made nothing of, as they were read, so an admin
//! can audit what was skipped (pflogsumm's `--unprocd-file`). The file is written beside its
//! name and renamed into place when the run completes, like `-o`.

use crate::error::Error;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

pub(super) struct Audit {
    out: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
    /// Lines of no recognised MTA too (`--unparsed-all`).
    pub(super) all: bool,
    failed: Option<std::io::Error>,
}

impl Audit {
    pub(super) fn create(path: PathBuf, all: bool) -> Result<Audit, Error> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".maillogconv-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| Error::Write {
                output: path.display().to_string(),
                source: crate::files::in_dir(&dir, &e),
            })?;
        Ok(Audit {
            out: BufWriter::with_capacity(1 << 16, tmp),
            path,
            all,
            failed: None,
        })
    }

    /// Writes one line (without its newline); the first error is kept for [`Audit::install`].
    pub(super) fn line(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            if let Err(e) = self
                .out
                .write_all(bytes)
                .and_then(|()| self.out.write_all(b"\n"))
            {
                self.failed = Some(e);
            }
        }
    }

    /// Puts the file in place (synced), or reports why it could not be written.
    pub(super) fn install(self) -> Result<(), Error> {
        let output = self.path.display().to_string();
        let err = |source| Error::Write {
            output: output.clone(),
            source,
        };
        if let Some(e) = self.failed {
            return Err(err(e));
        }
        let tmp = self.out.into_inner().map_err(|e| err(e.into_error()))?;
        tmp.as_file().sync_all().map_err(err)?;
        let (_, staged) = tmp.keep().map_err(|e| err(e.error))?;
        crate::files::install(&staged, &self.path).map_err(err)
    }
}
