//! The `maillogconv` command: signals become a cancel token; parse the command line, run,
//! print what the run reports, map the result to an exit code. A signal that stopped the run
//! is raised again once the run has cleaned up, so a calling shell loop stops too.

mod display;

use maillogconv::error::{Error, Exit};
use maillogconv::Cancel;
use std::process::ExitCode;

// Buffers and records are often allocated by one worker and freed by another (and Parquet's
// by its encoder thread); mimalloc handles that cross-thread traffic without the lock
// contention of the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || matches!(
                c.downcast_ref::<Error>(),
                Some(Error::Write { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe
            )
    })
}

fn main() -> ExitCode {
    let cancel = Cancel::new();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The flag holds the signal's number, for raising it again at the end.
        let _ = signal_hook::flag::register_usize(sig, cancel.flag(), sig as usize);
    }
    let cfg = match maillogconv::cli::parse(std::env::args_os().collect()) {
        Ok(maillogconv::cli::Parsed::Run(cfg)) => cfg,
        Ok(maillogconv::cli::Parsed::Print(text)) => {
            print!("{text}");
            return ExitCode::from(0);
        }
        // Usage errors carry the same `maillogconv: error:` prefix as run-time ones; help and
        // --version are printed as they are.
        Err(e) if e.use_stderr() => {
            eprint!("maillogconv: {}", e.render());
            return ExitCode::from(Exit::Usage as u8);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(0);
        }
    };
    let display = cfg.progress.clone().map(display::Display::start);
    let result = maillogconv::run(&cfg, &cancel);
    if let Some(d) = display {
        d.stop();
    }
    match result {
        Ok(summary) => {
            for w in &summary.warnings {
                eprintln!("maillogconv: warning: {w}");
            }
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
        Err(e) if matches!(e.downcast_ref(), Some(Error::Interrupted)) => {
            eprintln!("maillogconv: {e}");
            if let Some(sig) = cancel.signal() {
                // The temporary output is gone (dropped with the run): die of the signal.
                let _ = signal_hook::low_level::emulate_default_handler(sig);
            }
            ExitCode::from(Exit::Interrupted as u8)
        }
        Err(e) => {
            eprintln!("maillogconv: error: {e:#}");
            // A wrong -o or a state file that cannot be used: nothing was touched.
            let usage = matches!(e.downcast_ref(), Some(Error::OutputIsInput { .. }))
                || e.downcast_ref::<maillogconv::pipeline::state::StateError>()
                    .is_some();
            ExitCode::from(if usage { Exit::Usage } else { Exit::Failure } as u8)
        }
    }
}
