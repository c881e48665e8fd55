//! Throughput benches (divan, bytes of log per second): each MTA's parser over real corpus
//! lines, the whole one-thread pipeline (parse → years → correlation) on the Postfix corpus, and
//! each writer over the records of those lines (records per second). `cargo bench`; CI builds them (clippy
//! `--all-targets`). End-to-end speed against maillogconvert.pl is `scripts/bench`'s job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use divan::counter::{BytesCount, ItemsCount};
use divan::{black_box, Bencher};
use maillogconv::config::{Config, Format};
use maillogconv::input::Input;
use maillogconv::output::{writer, RecordWriter};
use maillogconv::parse::parse_line;
use maillogconv::record::Record;
use std::path::PathBuf;
use std::sync::OnceLock;

fn main() {
    divan::main();
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The real logs each bench reads (fixtures/README.md says where they come from).
fn files(mta: &str) -> Vec<PathBuf> {
    let rel: &[&str] = match mta {
        "postfix" => &[
            "corpus/infohtreasure-Postfix-Maillog-Dump/maillog",
            "corpus/infohtreasure-Postfix-Maillog-Dump/mailog2",
        ],
        "sendmail" => &[
            "corpus/gitpan-Parse-Syslog-Mail/sendmail-plain.log",
            "corpus/gitpan-Parse-Syslog-Mail/sendmail-custom-dsn.log",
            "sendmail/fail2ban-sendmail-reject.log",
            "sendmail/yudai09-data.log",
        ],
        "qmail" => &[
            "corpus/alotofwe-qmail_log/one.log",
            "corpus/alotofwe-qmail_log/two.log",
            "corpus/alotofwe-qmail_log/three.log",
            "qmail/splogger.log",
        ],
        "exim" => &[
            "exim/fail2ban-exim.log",
            "exim/testsuite-0005.log",
            "exim/testsuite-0021.log",
            "exim/testsuite-0103.log",
        ],
        _ => unreachable!("unknown MTA {mta}"),
    };
    rel.iter().map(|r| fixture(r)).collect()
}

fn text(mta: &str) -> Vec<u8> {
    files(mta)
        .iter()
        .flat_map(|p| std::fs::read(p).expect("fixture"))
        .collect()
}

#[divan::bench(args = ["postfix", "sendmail", "qmail", "exim"])]
fn parse(b: Bencher, mta: &str) {
    let text = text(mta);
    b.counter(BytesCount::of_slice(&text)).bench(|| {
        for line in text.split(|&c| c == b'\n') {
            black_box(parse_line(black_box(line)));
        }
    });
}

/// Keeps every record.
#[derive(Default)]
struct Collect(Vec<Record>);

impl RecordWriter for Collect {
    fn write_record(&mut self, r: &maillogconv::record::RecordRef) -> std::io::Result<()> {
        self.0.push(r.to_owned_record());
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn config() -> Config {
    Config {
        inputs: files("postfix").into_iter().map(Input::Path).collect(),
        year: Some(2020),
        threads: 1,
        tz: jiff::tz::TimeZone::UTC,
        ..Config::default()
    }
}

fn log_bytes() -> u64 {
    files("postfix")
        .iter()
        .map(|p| std::fs::metadata(p).expect("fixture").len())
        .sum()
}

#[divan::bench]
fn pipeline_postfix(b: Bencher) {
    let cfg = config();
    b.counter(BytesCount::new(log_bytes())).bench(|| {
        let mut out = Collect::default();
        maillogconv::convert(&cfg, &mut out, &maillogconv::Cancel::new()).expect("convert");
        out.0.len()
    });
}

/// The records of the Postfix corpus, converted once.
fn records() -> &'static [Record] {
    static RECORDS: OnceLock<Vec<Record>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let mut out = Collect::default();
        maillogconv::convert(&config(), &mut out, &maillogconv::Cancel::new()).expect("convert");
        out.0
    })
}

#[divan::bench(args = ["awstats", "csv", "jsonl", "clf", "parquet"])]
fn write(b: Bencher, format: &str) {
    let format = match format {
        "awstats" => Format::Awstats,
        "csv" => Format::Csv,
        "jsonl" => Format::Jsonl,
        "clf" => Format::Clf,
        _ => Format::Parquet,
    };
    let recs = records();
    // Records per second: the corpus has many lines that make no record.
    b.counter(ItemsCount::new(recs.len())).bench(|| {
        let mut w = writer(format, Box::new(std::io::sink()));
        for r in recs {
            w.write_record(&r.view()).expect("write");
        }
        w.finish().expect("finish");
    });
}
