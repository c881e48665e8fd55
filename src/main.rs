//! The `maillogconv` binary: the command (`maillogconv::command`) with mimalloc.

use std::process::ExitCode;

// Buffers and records are often allocated by one worker and freed by another (and Parquet's
// by its encoders); mimalloc handles that cross-thread traffic without the lock
// contention of the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ExitCode::from(maillogconv::command::main(std::env::args_os().collect()))
}
