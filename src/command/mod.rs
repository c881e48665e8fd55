//! The `maillogconv` command, for the binary and the Python package's entry point: signals
//! become a cancel token; parse the command line, run, print what the run reports, map the
//! result to an exit code. A signal that stopped the run is raised again once the run has
//! cleaned up, so a calling shell loop stops too. The library's other modules print nothing.

mod display;

use crate::error::{Error, Exit};
use crate::Cancel;

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

/// Runs the command line `args` (the program name first); returns the exit code.
pub fn main(args: Vec<std::ffi::OsString>) -> u8 {
    let cancel = Cancel::new();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The flag holds the signal's number, for raising it again at the end.
        let _ = signal_hook::flag::register_usize(sig, cancel.flag(), sig as usize);
    }
    let cfg = match crate::cli::parse(args) {
        Ok(crate::cli::Parsed::Run(cfg)) => cfg,
        Ok(crate::cli::Parsed::Print(text)) => {
            print!("{text}");
            return 0;
        }
        // Usage errors carry the same `maillogconv: error:` prefix as run-time ones; help and
        // --version are printed as they are.
        Err(e) if e.use_stderr() => {
            eprint!("maillogconv: {}", e.render());
            return Exit::Usage as u8;
        }
        Err(e) => {
            let _ = e.print();
            return 0;
        }
    };
    let display = cfg.progress.clone().map(display::Display::start);
    let result = crate::run(&cfg, &cancel);
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
                eprintln!("maillogconv: error: {}", crate::error::chain(e));
            }
            let code = if summary.errors.is_empty() {
                Exit::Success
            } else {
                Exit::Failure
            };
            code as u8
        }
        // `maillogconv … | head` closes the pipe early: not an error.
        Err(e) if is_broken_pipe(&e) => Exit::Success as u8,
        Err(e) if matches!(e.downcast_ref(), Some(Error::Interrupted)) => {
            eprintln!("maillogconv: {e}");
            if let Some(sig) = cancel.signal() {
                // The temporary output is gone (dropped with the run): die of the signal.
                let _ = signal_hook::low_level::emulate_default_handler(sig);
            }
            Exit::Interrupted as u8
        }
        Err(e) => {
            eprintln!("maillogconv: error: {e:#}");
            // A wrong -o or a state file that cannot be used: nothing was touched.
            let usage = matches!(e.downcast_ref(), Some(Error::OutputIsInput { .. }))
                || e.downcast_ref::<crate::pipeline::state::StateError>()
                    .is_some();
            (if usage { Exit::Usage } else { Exit::Failure }) as u8
        }
    }
}
