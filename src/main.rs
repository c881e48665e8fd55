//! The `maillogconv` binary: the command (`maillogconv::command`) with mimalloc.

use std::process::ExitCode;

// Buffers and records are often allocated by one worker and freed by another (and Parquet's
// by its encoders); mimalloc handles that cross-thread traffic without the lock
// contention of the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    keep_c_heap();
    ExitCode::from(maillogconv::command::main(std::env::args_os().collect()))
}

/// The C code (ZSTD, through the Parquet writer) allocates through glibc's malloc: two contexts
/// for each column of each row group, ~100 KiB each. When little else was allocated, each free
/// gave the heap's top back to the system and the next context faulted it in again: 5,000
/// one-row partitions took 600,000 page faults and a fifth more time (5,500 with the top
/// kept). Up to 64 MiB of freed top is kept.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_c_heap() {
    // SAFETY: `mallopt` only sets a parameter of glibc's allocator, and is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_c_heap() {}
