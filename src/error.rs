//! Errors with the context a mail admin needs to act on them (which input, which byte), and the
//! process exit codes.

use std::io;

/// An error while reading one input or writing the output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{input}: cannot open: {source}")]
    Open { input: String, source: io::Error },
    #[error("{input}: read error at byte offset {offset}: {source}")]
    Read {
        input: String,
        offset: u64,
        source: io::Error,
    },
    #[error(
        "{input}: corrupt {format} data near byte offset {offset} of the compressed file: {source}"
    )]
    Corrupt {
        input: String,
        format: &'static str,
        offset: u64,
        source: io::Error,
    },
    #[error("{what}")]
    NoInput { what: String },
    #[error("cannot write {output}: {source}")]
    Write { output: String, source: io::Error },
}

/// Process exit codes (documented in README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every input was converted.
    Success = 0,
    /// Some input failed (the others were converted), or the output could not be written.
    Failure = 1,
    /// The command line was wrong.
    Usage = 2,
}
