//! The ceiling of a design in which each worker converts its own segment of the input alone
//! (docs/PERFORMANCE.md, eighteenth and twentieth sessions): the library's `run`, `-j1`, on
//! each file given, each on a thread of its own, in one process. No stitch: messages that
//! cross a segment's boundary are converted as two halves. Stamps are read as 2026's (`--year
//! 2026`, as the logs of scripts/bench are). Prints the wall time; records go to stdout.
//!
//! Two options model what an exact stitch would add, to bound such a design from above
//! without building it:
//!
//! - `--hold`: every segment but the first writes its records to a file of its own (they would
//!   wait for the segments before them: item 5's 256 MiB does not hold them in memory), copied
//!   to stdout after the first segment's.
//! - `--replay FILE`: after every segment has ended, `FILE` (the lines of the later segments
//!   whose messages began in an earlier one) is converted too, on one thread: the serial
//!   replay of the messages that cross a boundary. `scripts/chunk-crossing --replay FIRST
//!   SECOND FILE` writes it for two segments of a Postfix log.
//! - `--overlap` (with `--replay`): the replay runs on the first segment's thread as soon as
//!   that segment ends, while the later ones go on (it needs only the first's end state), so a
//!   first segment a little shorter than the others evens out the two threads.
//!
//! `cargo run --release --example segments -- [--hold] [--replay FILE] SEGMENT...`

use maillogconv::config::Config;
use maillogconv::input::Input;
use std::path::PathBuf;
use std::time::Instant;

fn config(input: &str, output: Option<PathBuf>) -> Config {
    Config {
        inputs: vec![Input::Path(input.into())],
        output,
        year: Some(2026),
        threads: 1,
        ..Config::default()
    }
}

fn main() {
    let mut hold = false;
    let mut overlap = false;
    let mut replay = None;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--hold" => hold = true,
            "--overlap" => overlap = true,
            "--replay" => replay = args.next(),
            _ => paths.push(a),
        }
    }
    // TMPDIR=/dev/shm holds them in memory (tmpfs), as a design within item 5's bound could
    // for a log of this size.
    let dir = std::env::temp_dir().join(format!("segments-{}", std::process::id()));
    if hold {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("segments: {}: {e}", dir.display());
            return;
        }
    }
    let held = |i: usize| (hold && i > 0).then(|| dir.join(format!("{i}.out")));
    let started = Instant::now();
    std::thread::scope(|s| {
        for (i, p) in paths.iter().enumerate() {
            let cfg = config(p, held(i));
            let then = (overlap && i == 0).then_some(replay.as_ref()).flatten();
            s.spawn(move || {
                if let Err(e) = maillogconv::run(&cfg, &maillogconv::Cancel::new()) {
                    eprintln!("segments: {p}: {e:#}");
                }
                if let Some(r) = then {
                    if let Err(e) = maillogconv::run(&config(r, None), &maillogconv::Cancel::new())
                    {
                        eprintln!("segments: {r}: {e:#}");
                    }
                }
            });
        }
    });
    let segments = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    for i in 1..paths.len() {
        if let Some(f) = held(i) {
            let copied = std::fs::File::open(&f).and_then(|mut r| std::io::copy(&mut r, &mut out));
            if let Err(e) = copied {
                eprintln!("segments: {}: {e}", f.display());
            }
        }
    }
    drop(out);
    let copied = started.elapsed().as_secs_f64();
    if let Some(r) = replay.as_ref().filter(|_| !overlap) {
        if let Err(e) = maillogconv::run(&config(r, None), &maillogconv::Cancel::new()) {
            eprintln!("segments: {r}: {e:#}");
        }
    }
    if hold {
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!(
        "{:.3} (segments {segments:.3}, copied {copied:.3})",
        started.elapsed().as_secs_f64()
    );
}
