//! The `maillogconv` command: parse the command line, run, map the result to an exit code.

use maillogconv::error::Exit;

// Buffers and records are often allocated by one worker and freed by another (and Parquet's
// by its encoder thread); mimalloc handles that cross-thread traffic without the lock
// contention of the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || matches!(
                c.downcast_ref::<maillogconv::error::Error>(),
                Some(maillogconv::error::Error::Write { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe
            )
    })
}

fn main() -> ExitCode {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, std::sync::Arc::clone(&maillogconv::INTERRUPTED));
    }
    let cfg = match maillogconv::cli::parse(std::env::args_os().collect()) {
        Ok(cfg) => cfg,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    match maillogconv::run(&cfg) {
        Ok(summary) => {
            if cfg.stats {
                eprint!("{}", summary.stats.report());
            }
            for e in &summary.errors {
                eprintln!("maillogconv: error: {}", maillogconv::error::chain(e));
            }
            let code = if summary.errors.is_empty() {
                Exit::Success
            } else {
                Exit::Failure
            };
            ExitCode::from(code as u8)
        }
        // `maillogconv … | head` closes the pipe early: not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(Exit::Success as u8),
        Err(e)
            if matches!(
                e.downcast_ref(),
                Some(maillogconv::error::Error::Interrupted)
            ) =>
        {
            eprintln!("maillogconv: {e}");
            ExitCode::from(Exit::Interrupted as u8)
        }
        Err(e) => {
            eprintln!("maillogconv: error: {e:#}");
            ExitCode::from(Exit::Failure as u8)
        }
    }
}
