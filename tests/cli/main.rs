//! End-to-end tests of the `maillogconv` binary on the fixtures: golden AWStats output, one test
//! per deliberate difference from maillogconvert.pl, thread-count determinism, and errors.
//! Set MAILLOGCONV_BLESS=1 to rewrite the golden files (review them with git diff).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod edges;
mod exim;
mod faults;
mod formats;
mod hosts;
mod journal;
mod nightly;
mod opensmtpd;
mod others;
mod qmail;
mod quality;
mod rotation;
mod sendmail;
mod shards;
mod streams;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary, run from the project root so that relative fixture paths (which golden outputs
/// record as `source_file`) are the same on every clone.
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_maillogconv"));
    c.current_dir(root());
    c
}

/// A fixture's path relative to the project root, for outputs that record the input's name.
fn rel_fixture(rel: &str) -> String {
    format!("fixtures/{rel}")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run maillogconv")
}

/// Fails the test with the run's stderr unless it exited 0.
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "maillogconv {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn convert(rel: &str) -> String {
    let p = fixture(rel);
    stdout(&["--year", "2026", p.to_str().expect("path")])
}

/// Compares `got` with the golden file `fixtures/<rel>` (text first, for a readable diff, then
/// bytes); with MAILLOGCONV_BLESS set, writes it instead.
fn assert_golden(rel: &str, got: &[u8]) {
    let path = fixture(rel);
    if std::env::var_os("MAILLOGCONV_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, got).expect("bless");
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|_| panic!("no golden {}", path.display()));
    assert_eq!(
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(&want),
        "{} changed",
        path.display()
    );
    assert_eq!(got, want.as_slice(), "{} changed (bytes)", path.display());
}

/// The binary run by `sh` after `setup` (`umask 027`, `ulimit -n 128`), with `args`.
fn bin_after(setup: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("{setup}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_maillogconv"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("sh")
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Runs a shell `script` in a private mount namespace (unshare: as root, or as a user where user
/// namespaces are allowed), so that it can mount a small tmpfs; returns a reader of the files
/// the script left in `dir`.
fn in_private_mounts<'a>(script: &str, dir: &'a Path) -> impl Fn(&str) -> String + 'a {
    let st = Command::new("unshare")
        .args(["--map-root-user", "--mount", "sh", "-c", script])
        .status()
        .expect("unshare");
    assert!(st.success(), "the test set-up (unshare, mount) failed");
    move |n: &str| std::fs::read_to_string(dir.join(n)).expect(n)
}

#[test]
fn golden_awstats_output_for_every_postfix_fixture() {
    let dir = fixture("postfix");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/postfix")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 8, "fixtures missing: {logs:?}");
    for log in logs {
        let out = run(&["--year", "2026", log.to_str().expect("path")]);
        assert!(out.status.success(), "{}", log.display());
        let stem = log.file_stem().expect("stem").to_string_lossy();
        assert_golden(&format!("postfix/{stem}.awstats"), &out.stdout);
    }
}

// ---- Differences from maillogconvert.pl, one test each (README lists them) ----

#[test]
fn dsn_2_6_0_to_a_non_loopback_relay_is_kept() {
    let out = convert("postfix/dsn-2.6.0.log");
    // Microsoft 365 answers 2.6.0: maillogconvert.pl drops this delivery.
    assert!(out.contains(
        "alice@example.net webmaster@example.com mail-ej1.example.net example-com.mail.protection.outlook.com SMTP - 1 2870"
    ), "{out}");
    // The 2.6.0 hand-off to amavis on 127.0.0.1:10024 is a hop, not a delivery.
    assert!(!out.contains(" 127.0.0.1 "), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn content_filter_hop_is_not_a_delivery_and_final_delivery_names_the_client() {
    let out = convert("postfix/content-filter.log");
    assert_eq!(
        out,
        "2026-08-18 00:01:39 <> 00000093@acme.gov 10.0.80.60 10.0.0.1 SMTP - 1 75244\n"
    );
}

#[test]
fn submission_and_multi_instance_syslog_names_are_read() {
    let out = convert("postfix/submission-and-multi-instance.log");
    // client= came from postfix/submission/smtpd: maillogconvert.pl shows the sender domain.
    assert!(
        out.contains("out@example.org someone@example.com fe80::1:2:3:4 gmail-smtp-in.l.google.com SMTP - 1 939"),
        "{out}"
    );
}

#[test]
fn postfix_error_bounces_are_counted() {
    let out = convert("postfix/error-bounce.log");
    assert!(
        out.contains(
            "bob@example.org nosuchuser@example.com mail.example.org none SMTP - 999 1520"
        ),
        "{out}"
    );
}

#[test]
fn iso_timestamps_are_read() {
    let p = fixture("corpus/youyo-postfix-log-parser/test-iso8601.log");
    let copy = fixture("corpus/youyo-postfix-log-parser/test-iso8601.log");
    let path = if copy.exists() { copy } else { p };
    let out = stdout(&[path.to_str().expect("path")]);
    assert!(
        out.contains("2020-01-30 06:26:07 test2@example.info test@example.to example.com example.to SMTP - 1 2140"),
        "{out}"
    );
}

#[test]
fn reject_warning_is_not_a_rejection_but_milter_cleanup_and_postscreen_rejects_are() {
    let out = convert("postfix/rejects.log");
    assert!(!out.contains("qs1adm@sapdb07.cpb.acme.gov"), "{out}");
    for want in [
        "john@example.com smtp@example.org 1-2-3-4-example.com - SMTP - 554 ?",
        "spammer@example.com goodguy@example.com 216.245.194.173 - SMTP - 550 ?",
        "bcfxhdfyrey4l@easterndalek.com service@exterminate.com 192.168.7.245 - SMTP - 999 ?",
    ] {
        assert!(out.contains(want), "missing {want}\n{out}");
    }
    // A CONNECT reject names no mail; a discard is not a rejection. The file's last line,
    // stamped 2021 among lines of 2026, is an outlier (issue 22): reported, not converted.
    assert_eq!(out.lines().count(), 3, "{out}");
    let res = run(&[
        "--year",
        "2026",
        fixture("postfix/rejects.log").to_str().expect("p"),
    ]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("rejects.log:7: bad timestamp (2021-02-06T10:57:58"),
        "{err}"
    );
    // The cleanup reject of that line, in a log of its own.
    let dir = tempdir();
    let alone = dir.path().join("cleanup.log");
    let text = std::fs::read_to_string(fixture("postfix/rejects.log")).expect("read");
    std::fs::write(&alone, text.lines().last().expect("a line")).expect("write");
    let out = stdout(&["--year", "2026", alone.to_str().expect("p")]);
    assert!(
        out.contains("user2@example.com some.dest@destdomain.com 99.88.77.66 - SMTP - 450 ?"),
        "{out}"
    );
}

#[test]
fn expired_message_counts_each_pending_recipient_once() {
    let out = convert("postfix/expired.log");
    assert_eq!(
        out,
        "2026-11-20 10:00:08 uvnhbl@yahoo.com.tw b@gone.example 203.0.113.9 mx.gone.example SMTP - 1 4410\n\
         2026-11-23 10:00:10 uvnhbl@yahoo.com.tw a@gone.example 203.0.113.9 - SMTP - 999 4410\n"
    );
}

#[test]
fn year_follows_the_nearest_date_across_a_quiet_new_year() {
    // No Dec/Jan lines between Nov and Feb: maillogconvert.pl keeps the old year.
    let out = convert("postfix/year-gap.log");
    assert!(out.contains("2027-02-03 08:00:01 feb@example.org"), "{out}");
    let out = convert("postfix/new-year.log");
    assert!(
        out.contains("2026-12-31 23:59:59 <> late@example.com"),
        "{out}"
    );
    assert!(out.contains("2027-01-01 00:00:01 eve@example.org"), "{out}");
}

#[test]
fn addresses_with_spaces_and_commas_stay_whole_fields() {
    let out = run(&[
        "--year",
        "2026",
        fixture("postfix/hostile-addresses.log")
            .to_str()
            .expect("p"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    // maillogconvert.pl: `"john doe"@example.com "a 203.0.113.50 …` (a split line, a cut address).
    assert!(text.contains("2026-06-01 10:00:01 \"john%20doe\"@example.com \"a,b\"@example.net 203.0.113.50 mx.example.net SMTP - 1 1200\n"), "{text}");
    // Every line has exactly AWStats' 10 fields.
    assert!(out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .all(|l| l.split(|&b| b == b' ').count() == 10));
}

#[test]
fn deliveries_whose_sender_line_predates_the_log_are_kept() {
    let out = convert("postfix/submission-and-multi-instance.log");
    assert!(
        out.contains("2026-02-24 16:18:40 <> hebj@telia.com localhost mail.telia.com SMTP - 1 ?"),
        "{out}"
    );
}

#[test]
fn a_retried_message_is_written_once() {
    // qmgr logs from= again on each retry; maillogconvert.pl then writes the earlier record again.
    let log = "\
Nov 18 10:00:00 relay postfix/qmgr[300]: 5A5A5A5A5A: from=<s@example.org>, size=10, nrcpt=2 (queue active)
Nov 18 10:00:01 relay postfix/smtp[502]: 5A5A5A5A5A: to=<a@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
Nov 18 10:00:01 relay postfix/smtp[502]: 5A5A5A5A5A: to=<b@gone.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to gone.example[198.51.100.80]:25: Connection timed out)
Nov 18 10:30:00 relay postfix/qmgr[300]: 5A5A5A5A5A: from=<s@example.org>, size=10, nrcpt=2 (queue active)
Nov 18 10:30:01 relay postfix/smtp[503]: 5A5A5A5A5A: to=<b@gone.example>, relay=mx.gone.example[198.51.100.81]:25, delay=1801, delays=1800/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
Nov 18 10:30:01 relay postfix/qmgr[300]: 5A5A5A5A5A: removed
";
    let out = stdin_convert(log.as_bytes(), &["--year", "2026"]);
    assert_eq!(
        out.lines().filter(|l| l.contains("a@example.net")).count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains("b@gone.example")).count(),
        1,
        "{out}"
    );
}

/// maillogconvert.pl empties its message table every 16,384 IDs, losing messages in flight.
#[test]
fn in_flight_messages_are_not_lost_after_16384_ids() {
    let mut log = String::new();
    log.push_str("Mar  1 10:00:00 mx postfix/smtpd[1]: AAAAA: client=sender.example[192.0.2.7]\n");
    log.push_str("Mar  1 10:00:00 mx postfix/qmgr[2]: AAAAA: from=<slow@example.org>, size=1234, nrcpt=1 (queue active)\n");
    for i in 0..16_500u32 {
        let q = format!("{:X}", 0x10_0000 + i);
        let t = format!("Mar  1 10:{:02}:{:02}", 1 + i / 600 % 58, i % 60);
        log.push_str(&format!("{t} mx postfix/qmgr[2]: {q}: from=<s{i}@example.org>, size={}, nrcpt=1 (queue active)\n", 500 + i));
        log.push_str(&format!("{t} mx postfix/smtp[3]: {q}: to=<r{i}@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 ok)\n"));
        log.push_str(&format!("{t} mx postfix/qmgr[2]: {q}: removed\n"));
    }
    log.push_str("Mar  1 11:00:00 mx postfix/smtp[3]: AAAAA: to=<late@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=3600, delays=0/3600/0/0.1, dsn=2.0.0, status=sent (250 ok)\n");
    let out = stdin_convert(log.as_bytes(), &["--year", "2026"]);
    assert_eq!(out.lines().count(), 16_501);
    assert!(out.ends_with(
        "2026-03-01 11:00:00 slow@example.org late@example.net sender.example mx.example.net SMTP - 1 1234\n"
    ));
}

// ---- Behaviour ----

fn stdin_convert(input: &[u8], args: &[&str]) -> String {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("join").expect("write stdin");
    assert_ok(&out);
    String::from_utf8(out.stdout).expect("utf-8")
}

fn big_corpus_log() -> PathBuf {
    let copy = fixture("corpus/gitpan-Mail-Log-Parse/log");
    assert!(copy.exists(), "missing {}", copy.display());
    copy
}

#[test]
fn output_bytes_do_not_depend_on_thread_count() {
    let log = big_corpus_log();
    let dir = tempdir();
    let (mut outputs, mut reports) = (Vec::new(), Vec::new());
    for threads in [1usize, 2, 4] {
        let cfg = maillogconv::config::Config {
            inputs: vec![
                maillogconv::input::Input::Path(log.clone()),
                maillogconv::input::Input::Path(fixture("postfix/content-filter.log")),
            ],
            output: Some(dir.path().join(format!("out-{threads}"))),
            year: Some(2026),
            threads,
            // Small chunks so that many are parsed in parallel.
            chunk_size: 4096,
            ..maillogconv::config::Config::default()
        };
        let summary = maillogconv::run(&cfg, &maillogconv::Cancel::new()).expect("run");
        assert!(summary.errors.is_empty());
        outputs.push(std::fs::read(dir.path().join(format!("out-{threads}"))).expect("read"));
        let st = &summary.stats;
        assert!(st.records_total() > 0 && st.lines > 0, "{}", st.report());
        // Apart from the line that says how many workers ran.
        let report = summary.stats.report();
        let figures: Vec<&str> = (report.lines())
            .filter(|l| !l.starts_with("workers: "))
            .collect();
        assert!(figures.len() < report.lines().count(), "{report}");
        reports.push(figures.join("\n"));
    }
    assert!(outputs[0].len() > 1000);
    assert_eq!(outputs[0], outputs[1], "--threads 1 vs 2");
    assert_eq!(outputs[0], outputs[2], "--threads 1 vs 4");
    // The figures are kept by two stages with more than one thread (lines and years on the
    // parse thread, records on the merge thread): `--stats` must not depend on it either.
    assert_eq!(reports[0], reports[1], "--stats, --threads 1 vs 2");
    assert_eq!(reports[0], reports[2], "--stats, --threads 1 vs 4");
    // And the command line agrees with the library.
    let cli = stdout(&[
        "--year",
        "2026",
        "-j",
        "2",
        log.to_str().expect("p"),
        fixture("postfix/content-filter.log").to_str().expect("p"),
    ]);
    assert_eq!(cli.as_bytes(), outputs[0].as_slice());
}

#[test]
fn output_is_in_time_order() {
    let out = stdout(&["--year", "2026", big_corpus_log().to_str().expect("p")]);
    let stamps: Vec<&str> = out.lines().map(|l| &l[..19]).collect();
    let mut sorted = stamps.clone();
    sorted.sort();
    assert_eq!(stamps, sorted);
}

#[test]
fn a_message_spanning_two_input_files_is_one_message() {
    let dir = tempdir();
    let text = std::fs::read_to_string(fixture("postfix/awstats-e2e.log")).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    // Cut inside message 4444444444: its from= in the first file, its deliveries in the second.
    let cut = lines
        .iter()
        .position(|l| l.contains("4444444444: to=<x@"))
        .expect("cut");
    let (a, b) = (dir.path().join("maillog.1"), dir.path().join("maillog"));
    std::fs::write(&a, lines[..cut].join("\n") + "\n").expect("write");
    std::fs::write(&b, lines[cut..].join("\n") + "\n").expect("write");
    let split = stdout(&[
        "--year",
        "2026",
        a.to_str().expect("p"),
        b.to_str().expect("p"),
    ]);
    assert_eq!(split, convert("postfix/awstats-e2e.log"));
    assert!(
        split.contains("carol@carol.example x@example.com mail.carol.example"),
        "{split}"
    );
}

#[test]
fn legacy_standard_call_matches_year_option() {
    let log = std::fs::read(fixture("postfix/error-bounce.log")).expect("read");
    let legacy = stdin_convert(&log, &["standard", "2026"]);
    let modern = stdin_convert(&log, &["--year", "2026", "-"]);
    assert_eq!(legacy, modern);
    assert_eq!(legacy.lines().count(), 3);
}

#[test]
fn gzip_input_is_detected_from_content_not_name() {
    let dir = tempdir();
    let plain = std::fs::read(fixture("postfix/error-bounce.log")).expect("read");
    let gz_path = dir.path().join("maillog.1"); // no .gz suffix
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&plain).expect("gz");
    std::fs::write(&gz_path, enc.finish().expect("gz")).expect("write");
    let a = stdout(&["--year", "2026", gz_path.to_str().expect("p")]);
    let b = convert("postfix/error-bounce.log");
    assert_eq!(a, b);
}

#[test]
fn missing_input_is_reported_and_others_still_converted() {
    let out = run(&[
        "--year",
        "2026",
        "/nonexistent/maillog",
        fixture("postfix/error-bounce.log").to_str().expect("p"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/maillog: cannot open"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

#[test]
fn unreadable_input_is_reported() {
    let dir = tempdir();
    // Permissions do not stop root (CI): a path through a regular file cannot be opened by anyone.
    let file = dir.path().join("maillog");
    std::fs::write(&file, "x\n").expect("write");
    let bad = file.join("child");
    let good = fixture("postfix/error-bounce.log");
    let out = run(&[bad.to_str().expect("p"), good.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(bad.to_str().expect("p")) && err.contains("cannot open"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    // A directory without mail logs is an error too.
    let empty = tempdir();
    let out = run(&[empty.path().to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no maillog or mail.log files"));
}

#[test]
fn corrupt_gzip_names_file_and_offset_and_keeps_intact_records() {
    let dir = tempdir();
    // Many copies so the intact part spans more than one deflate block.
    let one = std::fs::read_to_string(big_corpus_log()).expect("read");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(one.as_bytes()).expect("gz");
    let mut gz = enc.finish().expect("gz");
    let cut = gz.len() * 3 / 4;
    gz.truncate(cut);
    let bad = dir.path().join("maillog.2.gz");
    std::fs::write(&bad, &gz).expect("write");
    let good = fixture("postfix/error-bounce.log");
    let out = run(&[
        "--year",
        "2026",
        bad.to_str().expect("p"),
        good.to_str().expect("p"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("maillog.2.gz: corrupt gzip data near byte offset"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // Records of the intact part and all of the good file are written.
    assert!(text.lines().count() > 20, "{text}");
    assert!(text.contains("nosuchuser@example.com"), "{text}");
}

#[test]
fn unknown_lines_never_fail_a_run_and_are_counted() {
    let junk =
        b"madeup: Gobbely Gook\n\x00\x01\x02 binary\n[20-Oct-2020 14:56:10 +0100]: <ca0a80a9> x\n";
    let mut child = bin()
        .args(["--stats", "--year", "2026"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(junk)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lines: 3 read, 0 recognised, 3 unknown"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn stats_report_records_by_status_and_open_messages() {
    let out = run(&[
        "--stats",
        "--year",
        "2026",
        fixture("postfix/expired.log").to_str().expect("p"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "records: 5 (sent 1, deferred 3, bounced 0, expired 1, rejected 0, discarded 0)"
        ),
        "{err}"
    );
    assert!(err.contains("messages still open at end: 0"), "{err}");
}

/// `--stats` says how many workers ran (one here: every step on the calling thread).
#[test]
fn stats_say_how_many_workers_ran() {
    let out = run(&[
        "--stats",
        "-j1",
        "--year",
        "2026",
        fixture("postfix/expired.log").to_str().expect("p"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().any(|l| l == "workers: 1"), "{err}");
}

/// `--stats` counts content-filter hops apart: its `sent` is the number of AWStats lines with
/// code 1, on a log with a filter on 127.0.0.1:10025 (gitpan-Mail-Log-Parse/log).
#[test]
fn stats_sent_equals_awstats_code_1_lines() {
    for log in [
        "corpus/gitpan-Mail-Log-Parse/log",
        "postfix/content-filter.log",
    ] {
        let p = fixture(log);
        let out = run(&["--stats", "--year", "2026", p.to_str().expect("p")]);
        assert!(out.status.success());
        let code1 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.split(' ').nth(8) == Some("1"))
            .count();
        let err = String::from_utf8_lossy(&out.stderr);
        let sent: usize = err
            .split("(sent ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .expect("sent count");
        assert_eq!(sent, code1, "{log}: {err}");
        assert!(err.contains("content-filter hops"), "{log}: {err}");
    }
}

#[test]
fn output_file_is_written_atomically() {
    let dir = tempdir();
    let out_path = dir.path().join("mail.awstats");
    std::fs::write(&out_path, "previous\n").expect("write");
    let st = run(&[
        "--year",
        "2026",
        "-o",
        out_path.to_str().expect("p"),
        fixture("postfix/error-bounce.log").to_str().expect("p"),
    ]);
    assert!(st.status.success());
    assert_eq!(
        std::fs::read_to_string(&out_path)
            .expect("read")
            .lines()
            .count(),
        3
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "mail.awstats")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn usage_error_exits_2() {
    let out = run(&["--no-such-option"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn closed_stdout_pipe_ends_quietly() {
    let mut child = bin()
        .args(["--year", "2026", big_corpus_log().to_str().expect("p")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--unparsed FILE` holds the lines of a recognised MTA that gave no record, as read and in
/// input order; `--unparsed-all` adds the lines of no recognised MTA (here Roundcube's).
#[test]
fn unparsed_lines_are_written_for_audit() {
    let dir = tempdir();
    let log = fixture("corpus/infohtreasure-Postfix-Maillog-Dump/mailog2");
    let input = std::fs::read(&log).expect("read");
    let input_lines: Vec<&[u8]> = input.split(|&c| c == b'\n').collect();
    let audit = |all: bool| {
        let path = dir.path().join(if all { "all.txt" } else { "mta.txt" });
        let mut args = vec!["--stats", "--year", "2026", "-f", "jsonl", "--unparsed"];
        let p = path.to_str().expect("p").to_owned();
        args.push(&p);
        if all {
            args.push("--unparsed-all");
        }
        let l = log.to_str().expect("p").to_owned();
        args.push(&l);
        let out = run(&args);
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (std::fs::read(&path).expect("audit file"), err, out.stdout)
    };
    let (mta, err, records) = audit(false);
    let (all, _, _) = audit(true);
    let unknown: usize = err
        .split(" recognised, ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("unknown count");
    assert!(unknown > 0);
    let mta_lines: Vec<&[u8]> = mta
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let all_lines: Vec<&[u8]> = all
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(all_lines.len(), mta_lines.len() + unknown);
    // In input order, as read.
    let mut it = input_lines.iter();
    for l in &all_lines {
        assert!(it.any(|x| x == l), "{}", String::from_utf8_lossy(l));
    }
    // Connects and verbose lines are there; no line that made a record is.
    assert!(mta_lines
        .iter()
        .any(|l| l.windows(13).any(|w| w == b"connect from ")));
    for r in String::from_utf8_lossy(&records).lines() {
        let v: serde_json::Value = serde_json::from_str(r).expect("json");
        let n = v["source_line"].as_u64().expect("line") as usize;
        let line = input_lines[n - 1];
        let made = mta_lines.iter().filter(|l| **l == line).count();
        let same = input_lines.iter().filter(|l| **l == line).count();
        assert!(
            made < same || made == 0,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}
