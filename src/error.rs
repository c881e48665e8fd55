//! Errors with the context a mail admin needs to act on them (which input, which byte), and the
//! process exit codes.

use std::io;

/// An error while reading one input or writing the output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{input}: cannot open")]
    Open { input: String, source: io::Error },
    #[error("{input}: read error at byte offset {offset}")]
    Read {
        input: String,
        offset: u64,
        source: io::Error,
    },
    #[error("{input}: corrupt {format} data near byte offset {offset} of the compressed file")]
    Corrupt {
        input: String,
        format: &'static str,
        offset: u64,
        source: io::Error,
    },
    #[error("{what}")]
    NoInput { what: String },
    /// `--strict`: lines of a recognised MTA that could not be parsed (one error per input).
    #[error("{input}:{line}: unparseable {mta} line (--strict; {count} in this input)")]
    Malformed {
        input: String,
        line: u64,
        mta: &'static str,
        count: u64,
    },
    /// `-o` names a file the run reads: writing it would destroy the log.
    #[error("{output}: the output is one of the inputs; choose another -o")]
    OutputIsInput { output: String },
    #[error("interrupted by a signal; the output was not written")]
    Interrupted,
    /// A bug: a step panicked, or a stage was lost; names the step.
    #[error(
        "internal error in the {stage} step (a bug; please report it); the output was not written"
    )]
    Internal { stage: &'static str },
    #[error("cannot write {output}")]
    Write { output: String, source: io::Error },
}

/// `error: cause: cause of cause`: an error with its chain, printed once.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut last = s.clone();
    let mut cur = e.source();
    while let Some(c) = cur {
        // io::Error wrapping an error repeats its text: print each message once.
        let m = c.to_string();
        if m != last {
            s.push_str(": ");
            s.push_str(&m);
        }
        last = m;
        cur = c.source();
    }
    s
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
    /// Cancelled without a signal (nothing was written under the output's name); a signal
    /// ends the process by that signal instead, once the run has cleaned up.
    Interrupted = 130,
}
