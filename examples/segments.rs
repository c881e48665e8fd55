//! The ceiling of a design in which each worker converts its own segment of the input alone
//! (docs/PERFORMANCE.md, eighteenth session): the library's `run`, `-j1`, on each file given,
//! each on a thread of its own, in one process. No stitch: messages that cross a segment's
//! boundary are converted as two halves. Stamps are read as 2026's (`--year 2026`, as the logs
//! of scripts/bench are). Prints the wall time; records go to stdout.
//!
//! `cargo run --release --example segments -- SEGMENT...`

use maillogconv::config::Config;
use maillogconv::input::Input;
use std::time::Instant;

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    std::thread::scope(|s| {
        for p in &paths {
            s.spawn(move || {
                let cfg = Config {
                    inputs: vec![Input::Path(p.into())],
                    year: Some(2026),
                    threads: 1,
                    ..Config::default()
                };
                if let Err(e) = maillogconv::run(&cfg, &maillogconv::Cancel::new()) {
                    eprintln!("segments: {p}: {e:#}");
                }
            });
        }
    });
    eprintln!("{:.3}", started.elapsed().as_secs_f64());
}
