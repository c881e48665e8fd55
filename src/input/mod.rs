//! Input stage: opens each input (a file or stdin), detects its compression from magic bytes,
//! and cuts the decompressed bytes into line-aligned chunks. Errors name the input and the
//! byte offset where reading stopped.

pub mod chunk;
pub mod decompress;
pub mod discover;
pub mod journal;

use std::path::PathBuf;

/// One input of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
}

impl Input {
    /// The name used in messages: the path, or `<stdin>`.
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::Path(p) => p.display().to_string(),
        }
    }
}
