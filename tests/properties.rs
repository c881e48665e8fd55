//! Property tests: the parsers never panic on any bytes (random, and real lines cut, spliced
//! and corrupted), and line-aligned chunking never changes what is converted, wherever the
//! input is split and however many threads parse it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use maillogconv::config::{Config, Format};
use maillogconv::input::chunk::Chunker;
use maillogconv::input::Input;
use maillogconv::output::RecordWriter;
use maillogconv::parse::{parse_line_as, Mta};
use maillogconv::record::RecordRef;
use proptest::prelude::*;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Every fixture log of the line-oriented MTAs, in a fixed order.
fn fixture_logs() -> &'static [PathBuf] {
    static LOGS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut out = Vec::new();
        for dir in ["postfix", "sendmail", "qmail", "exim", "mixed"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "log") {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    })
}

/// Every line of those logs: real lines to mutate.
fn real_lines() -> &'static [Vec<u8>] {
    static LINES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LINES.get_or_init(|| {
        fixture_logs()
            .iter()
            .flat_map(|p| {
                std::fs::read(p)
                    .unwrap()
                    .split(|&b| b == b'\n')
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .filter(|l| !l.is_empty())
            .collect()
    })
}

fn parse_every_way(line: &[u8]) {
    let _ = parse_line_as(line, None);
    for mta in Mta::ALL {
        let _ = parse_line_as(line, Some(*mta));
    }
}

/// A change to a real line: cut it, put bytes in, overwrite bytes, or splice two lines.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Overwrite(usize, Vec<u8>),
    Splice(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(j, a, b)| Mutation::Splice(j, a, b)),
    ]
}

fn mutate(lines: &[Vec<u8>], mut line: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::Truncate(i) => line.truncate(at(*i, line.len())),
        Mutation::Insert(i, b) => {
            let i = at(*i, line.len());
            line.splice(i..i, b.iter().copied());
        }
        Mutation::Overwrite(i, b) => {
            let i = at(*i, line.len());
            for (k, &x) in b.iter().enumerate() {
                if let Some(c) = line.get_mut(i + k) {
                    *c = x;
                }
            }
        }
        Mutation::Splice(j, a, b) => {
            let other = &lines[j % lines.len()];
            let a = at(*a, line.len());
            let b = at(*b, other.len());
            line.truncate(a);
            line.extend_from_slice(&other[b..]);
        }
    }
    line
}

/// Collects records as their debug text: every field, in order.
#[derive(Default)]
struct Collect(Vec<String>);

impl RecordWriter for Collect {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        self.0.push(format!("{r:?}"));
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn convert(path: &Path, chunk_size: usize, threads: usize, groups: usize) -> Vec<String> {
    let cfg = Config {
        inputs: vec![Input::Path(path.to_path_buf())],
        format: Format::Jsonl,
        year: Some(2026),
        threads,
        groups: Some(groups),
        chunk_size,
        tz: jiff::tz::TimeZone::UTC,
        ..Config::default()
    };
    let mut out = Collect::default();
    maillogconv::convert(&cfg, &mut out, &maillogconv::Cancel::new()).unwrap();
    out.0
}

/// A reader that returns at most `step` bytes a call (pipes and decoders return short reads).
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_do_not_panic_on_any_bytes(line in prop::collection::vec(any::<u8>(), 0..400)) {
        parse_every_way(&line);
    }

    #[test]
    fn parsers_do_not_panic_on_damaged_real_lines(
        pick in any::<usize>(),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let lines = real_lines();
        let mut line = lines[pick % lines.len()].clone();
        for m in &edits {
            line = mutate(lines, line, m);
        }
        parse_every_way(&line);
    }

    #[test]
    fn chunks_are_whole_lines_and_lose_nothing(
        pick in any::<usize>(),
        size in 1usize..300,
        step in 1usize..500,
    ) {
        let logs = fixture_logs();
        let data = std::fs::read(&logs[pick % logs.len()]).unwrap();
        let mut chunks = Chunker::new(Trickle { data: &data, step }, size);
        let mut joined = Vec::new();
        while let Some(c) = chunks.next_chunk().unwrap() {
            let b = c.bytes();
            prop_assert!(!b.is_empty());
            joined.extend_from_slice(b);
            // Every chunk but the last ends a line.
            if joined.len() < data.len() {
                prop_assert_eq!(b.last(), Some(&b'\n'));
            }
        }
        prop_assert_eq!(joined, data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn records_do_not_depend_on_chunk_boundaries_threads_or_groups(
        pick in any::<usize>(),
        size in 1usize..600,
        threads in 1usize..5,
        groups in 1usize..10,
    ) {
        let logs = fixture_logs();
        let path = &logs[pick % logs.len()];
        let whole = convert(path, 1 << 20, 1, 1);
        let split = convert(path, size, threads, groups);
        prop_assert_eq!(whole, split, "{} split every {} bytes, {} threads, {} groups", path.display(), size, threads, groups);
    }
}
