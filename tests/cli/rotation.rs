//! Rotated sets (fixtures/rotation, written by scripts/make-fixtures): year inference from the
//! files themselves, every compression format, corrupt archives, DST, thread counts.
//! Git does not keep modification times, so each test copies a set and sets them.

use super::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DD HH:MM:SS` UTC as a SystemTime.
fn at(s: &str) -> SystemTime {
    let ts: jiff::Timestamp = format!("{}Z", s.replace(' ', "T")).parse().expect("time");
    UNIX_EPOCH + Duration::from_secs(ts.as_second() as u64)
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(p)
        .expect("open")
        .set_modified(t)
        .expect("set mtime");
}

/// Copies fixtures/rotation/NAME into a temp dir, with the given mtimes (others: `default`).
fn copy_set(name: &str, mtimes: &[(&str, &str)], default: &str) -> tempfile::TempDir {
    let dir = tempdir();
    for e in std::fs::read_dir(fixture(&format!("rotation/{name}"))).expect("set") {
        let e = e.expect("entry");
        let to = dir.path().join(e.file_name());
        std::fs::copy(e.path(), &to).expect("copy");
        let when = mtimes
            .iter()
            .find(|(n, _)| *n == e.file_name().to_string_lossy())
            .map_or(default, |(_, t)| *t);
        set_mtime(&to, at(when));
    }
    dir
}

fn conv(args: &[&str]) -> (String, String) {
    let out = run(args);
    assert!(
        out.status.success(),
        "maillogconv {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

fn golden(name: &str, got: &str) {
    assert_golden(&format!("rotation/{name}.awstats"), got.as_bytes());
}

const NEWYEAR_TRUE: [(&str, &str); 4] = [
    ("maillog.3.gz", "2025-12-31 00:00:05"),
    ("maillog.2.gz", "2026-01-01 00:00:05"),
    ("maillog.1", "2026-01-02 00:00:05"),
    ("maillog", "2026-01-02 18:00:00"),
];

fn newyear_checks(out: &str) {
    let years: Vec<&str> = out.lines().map(|l| &l[..10]).collect();
    assert_eq!(years.first(), Some(&"2025-12-30"), "{out}");
    assert_eq!(years.last(), Some(&"2026-01-02"), "{out}");
    // The message queued in maillog.2.gz (Dec 31 23:59:58) and delivered in maillog.1.
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with(
                "2026-01-01 00:00:07 cpanplus@fangorn.maddingue.net cpan-testers@perl.org"
            ))
            .count(),
        1,
        "{out}"
    );
}

#[test]
fn new_year_rotated_set_with_a_message_spanning_the_rotation() {
    let dir = copy_set("newyear", &NEWYEAR_TRUE, "2026-01-02 18:00:00");
    let (out, err) = conv(&["--tz", "UTC", "--stats", dir.path().to_str().expect("p")]);
    newyear_checks(&out);
    assert_eq!(out.lines().count(), 13);
    assert!(!err.contains("note:"), "{err}");
    assert!(
        err.contains("year from file mtime 2026-01-02T18:00:00"),
        "{err}"
    );
    golden("newyear", &out);
    // Shell-expanded order (maillog maillog.1 maillog.2.gz maillog.3.gz) is read oldest first.
    let mut files: Vec<String> = ["maillog", "maillog.1", "maillog.2.gz", "maillog.3.gz"]
        .iter()
        .map(|n| dir.path().join(n).to_string_lossy().into_owned())
        .collect();
    files.insert(0, "UTC".into());
    files.insert(0, "--tz".into());
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    assert_eq!(conv(&args).0, out);
}

#[test]
fn mtimes_reset_to_the_copy_day_still_give_the_right_years() {
    let dir = copy_set("newyear", &[], "2026-11-23 12:00:00");
    let (out, _) = conv(&["--tz", "UTC", "--stats", dir.path().to_str().expect("p")]);
    golden("newyear", &out);
    // Archives copied on New Year's Day 2027, the live file's time kept: the archives' own
    // mtimes say 2026 and 2027, the set's order wins and --stats says so.
    let dir = copy_set(
        "newyear",
        &[("maillog", "2026-01-02 18:00:00")],
        "2027-01-01 12:00:00",
    );
    let (out, err) = conv(&["--tz", "UTC", "--stats", dir.path().to_str().expect("p")]);
    golden("newyear", &out);
    assert!(err.contains("maillog.3.gz: its file mtime 2027-01-01T12:00:00 puts its first line in 2026, the rest of its rotated set in 2025; the set wins"), "{err}");
}

#[test]
fn a_live_file_whose_time_is_years_off_is_overruled_by_its_set_with_a_warning() {
    // Issue 22: the live file's mtime says 2030; the archives' own times (their gzip headers
    // and distinct mtimes) agree with each other. The set's years are used, and stderr says so
    // without --stats.
    let dir = copy_set(
        "newyear",
        &[
            ("maillog", "2030-06-01 00:00:00"),
            ("maillog.1", "2026-01-02 00:00:05"),
        ],
        "2026-11-23 12:00:00",
    );
    let (out, err) = conv(&["--tz", "UTC", dir.path().to_str().expect("p")]);
    golden("newyear", &out);
    assert!(
        err.contains("maillog: its file mtime 2030-06-01T00:00:00 puts its first line in 2030, the rest of its rotated set in 2026; the set wins"),
        "{err}"
    );
}

#[test]
fn dateext_set_takes_its_years_from_the_names() {
    let dir = copy_set("dateext", &[], "2026-11-23 12:00:00");
    let (out, err) = conv(&["--tz", "UTC", "--stats", dir.path().to_str().expect("p")]);
    golden("newyear", &out);
    assert!(err.contains("maillog-20251231.gz: 20 lines, gzip"), "{err}");
    assert!(
        err.contains("year from file mtime 2026-11-23T12:00:00"),
        "{err}"
    );
    // The dateext names alone are enough when the live file is not given.
    let names: Vec<String> = [
        "maillog-20251231.gz",
        "maillog-20260101.gz",
        "maillog-20260102",
    ]
    .iter()
    .map(|n| dir.path().join(n).to_string_lossy().into_owned())
    .collect();
    let mut args = vec!["--tz", "UTC", "--stats"];
    args.extend(names.iter().map(String::as_str));
    let (out, err) = conv(&args);
    assert!(out.starts_with("2025-12-30 "), "{out}");
    assert!(out.contains("2026-01-01 20:05:08"), "{out}");
    assert!(err.contains("year from dateext name 2026-01-02"), "{err}");
}

#[test]
fn gzip_header_mtime_is_the_anchor_when_the_file_time_is_lost() {
    // One archive of Dec 31 2025 whose file was copied on 2026-11-23: the gzip header still
    // says when it was compressed.
    let plain = std::fs::read(fixture("rotation/newyear/maillog.1")).expect("read");
    let dir = tempdir();
    let p = dir.path().join("maillog.1.gz");
    let mut enc = flate2::GzBuilder::new()
        .mtime(
            at("2027-01-02 00:00:05")
                .duration_since(UNIX_EPOCH)
                .expect("t")
                .as_secs() as u32,
        )
        .write(Vec::new(), flate2::Compression::default());
    enc.write_all(&plain).expect("gz");
    std::fs::write(&p, enc.finish().expect("gz")).expect("write");
    set_mtime(&p, at("2027-11-23 12:00:00"));
    let (out, err) = conv(&["--tz", "UTC", "--stats", p.to_str().expect("p")]);
    assert!(out.starts_with("2027-01-01 00:00:07 "), "{out}");
    assert!(
        err.contains("year from gzip header mtime 2027-01-02T00:00:05"),
        "{err}"
    );
}

#[test]
fn feb_29_is_valid_in_a_leap_year_and_reported_in_a_common_year() {
    let dir = copy_set(
        "leap",
        &[("maillog.1", "2024-03-01 00:00:05")],
        "2024-03-02 00:00:05",
    );
    let (out, err) = conv(&["--tz", "UTC", "--stats", dir.path().to_str().expect("p")]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("2024-02-29 ")).count(),
        3,
        "{out}"
    );
    assert!(err.contains("0 bad timestamps"), "{err}");

    let dir = copy_set(
        "leap",
        &[("maillog.1", "2025-03-01 00:00:05")],
        "2025-03-02 00:00:05",
    );
    let out = run(&["--tz", "UTC", "--stats", dir.path().to_str().expect("p")]);
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        err.contains("maillog.1:21: bad timestamp (02-29 does not exist in 2025); line skipped"),
        "{err}"
    );
    assert!(err.contains("20 bad timestamps"), "{err}");
    // Not moved to another day: the Feb 29 messages are simply absent.
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with("2025-02-28 ") || l.starts_with("2025-03-01 ")),
        "{text}"
    );
}

#[test]
fn rsyslog_iso_file_carries_its_own_years() {
    // An mtime years off does not matter: every line has its year.
    let dir = copy_set("iso", &[], "2031-06-01 00:00:00");
    let (out, _) = conv(&["--tz", "UTC", dir.path().to_str().expect("p")]);
    let days: Vec<&str> = out.lines().map(|l| &l[..10]).collect();
    assert_eq!(
        days,
        ["2025-12-31"; 3]
            .iter()
            .chain(["2026-01-01"; 3].iter())
            .copied()
            .collect::<Vec<_>>()
    );
}

#[test]
fn bsd_and_iso_lines_mixed_in_one_file() {
    let dir = copy_set("mixed", &[], "2026-01-02 21:00:00");
    let (out, _) = conv(&["--tz", "UTC", dir.path().to_str().expect("p")]);
    let days: Vec<&str> = out.lines().map(|l| &l[..10]).collect();
    assert_eq!(days.len(), 9, "{out}");
    assert_eq!(&days[..3], ["2025-12-31"; 3], "{out}");
    assert_eq!(&days[3..6], ["2026-01-01"; 3], "{out}");
    assert_eq!(&days[6..], ["2026-01-02"; 3], "{out}");
}

fn recipients(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| l.split(' ').nth(3).unwrap_or_default().to_string())
        .collect()
}

/// (recipient, ts in UTC, ts_local) of each JSON Lines record.
fn instants(args: &[&str]) -> Vec<(String, String, String)> {
    let mut a = vec!["-f", "jsonl"];
    a.extend(args);
    conv(&a)
        .0
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("recipient"), s("ts"), s("ts_local"))
        })
        .collect()
}

#[test]
fn dst_autumn_repeated_hour_keeps_line_order_with_tz() {
    let f = fixture("rotation/dst/autumn.log");
    let f = f.to_str().expect("p");
    // Europe/Berlin: 02:10, 02:40 (CEST) then 02:05, 02:35 (CET) are in time order.
    let (out, err) = conv(&["--tz", "Europe/Berlin", "--year", "2025", "--stats", f]);
    assert_eq!(
        recipients(&out),
        [
            "fold0@perl.org",
            "fold1@perl.org",
            "fold2@perl.org",
            "fold3@perl.org",
            "fold4@perl.org"
        ]
    );
    assert!(
        out.contains("2025-10-26 02:05:01 "),
        "wall time as logged: {out}"
    );
    assert!(
        err.contains("first 2025-10-26T02:10:00+02:00, last 2025-10-26T03:05:01+01:00"),
        "{err}"
    );
    let got = instants(&["--tz", "Europe/Berlin", "--year", "2025", f]);
    let want = [
        (
            "fold0@perl.org",
            "2025-10-26T00:10:01Z",
            "2025-10-26T02:10:01+02:00",
        ),
        (
            "fold1@perl.org",
            "2025-10-26T00:40:01Z",
            "2025-10-26T02:40:01+02:00",
        ),
        (
            "fold2@perl.org",
            "2025-10-26T01:05:01Z",
            "2025-10-26T02:05:01+01:00",
        ),
        (
            "fold3@perl.org",
            "2025-10-26T01:35:01Z",
            "2025-10-26T02:35:01+01:00",
        ),
        (
            "fold4@perl.org",
            "2025-10-26T02:05:01Z",
            "2025-10-26T03:05:01+01:00",
        ),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    // In UTC there is no repeated hour: 02:05 is before 02:40, the log steps back.
    let got = instants(&["--tz", "UTC", "--year", "2025", f]);
    assert!(
        got.iter()
            .any(|(r, ts, _)| r == "fold2@perl.org" && ts == "2025-10-26T02:05:01Z"),
        "{got:?}"
    );
}

#[test]
fn dst_spring_skipped_hour_is_shifted_forward_with_tz() {
    let f = fixture("rotation/dst/spring.log");
    let f = f.to_str().expect("p");
    // 02:30 does not exist in Europe/Berlin on 2025-03-30: it is read as 03:30 CEST (01:30Z),
    // after 03:10 CEST; the AWStats line keeps 02:30 as logged.
    let (out, _) = conv(&["--tz", "Europe/Berlin", "--year", "2025", f]);
    assert!(out.contains("2025-03-30 02:30:01 "), "{out}");
    let got = instants(&["--tz", "Europe/Berlin", "--year", "2025", f]);
    let ts: Vec<(&str, &str)> = got
        .iter()
        .map(|(r, t, _)| (r.as_str(), t.as_str()))
        .collect();
    assert!(
        ts.contains(&("gap0@perl.org", "2025-03-30T00:55:01Z")),
        "{ts:?}"
    );
    assert!(
        ts.contains(&("gap1@perl.org", "2025-03-30T01:30:01Z")),
        "{ts:?}"
    );
    assert!(
        ts.contains(&("gap2@perl.org", "2025-03-30T01:10:01Z")),
        "{ts:?}"
    );
    let (out, _) = conv(&["--tz", "UTC", "--year", "2025", f]);
    assert_eq!(
        recipients(&out),
        ["gap0@perl.org", "gap1@perl.org", "gap2@perl.org"]
    );
}

fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    match kind {
        "gz" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("gz");
            e.finish().expect("gz")
        }
        "bz2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(data).expect("bz2");
            e.finish().expect("bz2")
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(data).expect("xz");
            e.finish().expect("xz")
        }
        "zst" => zstd::encode_all(data, 3).expect("zst"),
        _ => data.to_vec(),
    }
}

#[test]
fn every_compression_format_gives_the_same_records_whatever_the_name() {
    let plain = std::fs::read(fixture("rotation/newyear/maillog.1")).expect("read");
    let dir = tempdir();
    let reference = {
        let p = dir.path().join("reference");
        std::fs::write(&p, &plain).expect("write");
        conv(&["--tz", "UTC", "--year", "2026", p.to_str().expect("p")]).0
    };
    assert_eq!(reference.lines().count(), 4);
    // (file name, content): right names, a .gz without .gz, a plain file named .gz, and
    // multi-member/multi-stream archives (two halves compressed apart, then concatenated).
    let half = plain.len() / 2;
    let cut = half + plain[half..].iter().position(|&b| b == b'\n').expect("nl") + 1;
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for kind in ["gz", "bz2", "xz", "zst"] {
        cases.push((format!("a.{kind}"), compress(kind, &plain)));
        let mut two = compress(kind, &plain[..cut]);
        two.extend(compress(kind, &plain[cut..]));
        cases.push((format!("multi.{kind}"), two));
    }
    cases.push(("maillog.1".into(), compress("gz", &plain)));
    cases.push(("plain.gz".into(), plain.clone()));
    for (name, data) in cases {
        let sub = dir.path().join(format!("case-{name}"));
        std::fs::create_dir(&sub).expect("mkdir");
        let p = sub.join(&name);
        std::fs::write(&p, &data).expect("write");
        let (out, _) = conv(&["--tz", "UTC", "--year", "2026", p.to_str().expect("p")]);
        assert_eq!(out, reference, "{name}");
    }
}

#[test]
fn truncated_archives_report_file_and_offset_and_keep_the_intact_part() {
    // Big and varied enough to span many compressed blocks (repeated text would compress to
    // almost nothing): 3000 messages with pseudo-random IDs and sizes.
    let mut text = String::new();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..3000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let q = format!("{:X}", 0x10_0000_0000u64 + (x & 0xF_FFFF_FFFF));
        let t = format!("Jan  1 {:02}:{:02}:{:02}", i / 3600, i / 60 % 60, i % 60);
        text.push_str(&format!("{t} fangorn postfix/qmgr[4225]: {q}: from=<u{x:x}@fangorn.example>, size={}, nrcpt=1 (queue active)\n", x % 100_000));
        text.push_str(&format!("{t} fangorn postfix/smtp[5161]: {q}: to=<r{i}@perl.org>, relay=mx.develooper.com[63.251.223.176], delay=9, status=sent (250 Queued! {x})\n"));
        text.push_str(&format!("{t} fangorn postfix/qmgr[4225]: {q}: removed\n"));
    }
    let dir = tempdir();
    let good = fixture("postfix/error-bounce.log");
    for kind in ["gz", "bz2", "xz", "zst"] {
        let mut data = compress(kind, text.as_bytes());
        data.truncate(data.len() * 2 / 3);
        let p = dir.path().join(format!("maillog.2.{kind}"));
        std::fs::write(&p, &data).expect("write");
        let mut outputs = Vec::new();
        for j in ["1", "2"] {
            let out = run(&[
                "--tz",
                "UTC",
                "--year",
                "2026",
                "-j",
                j,
                p.to_str().expect("p"),
                good.to_str().expect("p"),
            ]);
            let (stdout, err) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            assert_eq!(out.status.code(), Some(1), "{kind} -j{j}: {err}");
            assert!(
                err.contains(&format!("maillog.2.{kind}: corrupt"))
                    && err.contains("near byte offset"),
                "{kind} -j{j}: {err}"
            );
            // Records of the intact part (a good share of the 3000) and all of the good file.
            let n = stdout.lines().filter(|l| l.contains("perl.org")).count();
            assert!(
                n > 1000 && n < 3000,
                "{kind} -j{j}: {n} records from the intact part"
            );
            assert!(stdout.contains("nosuchuser@example.com"), "{kind} -j{j}");
            outputs.push((out.stdout, err.into_owned()));
        }
        assert_eq!(outputs[0], outputs[1], "{kind}: -j1 and -j2 differ");
    }
}

#[test]
fn output_bytes_are_the_same_for_1_2_and_8_threads_on_a_rotated_set() {
    let dir = copy_set("newyear", &NEWYEAR_TRUE, "2026-01-02 18:00:00");
    let d = dir.path().to_str().expect("p");
    let outs: Vec<String> = ["1", "2", "8"]
        .iter()
        .map(|j| {
            conv(&[
                "--tz",
                "UTC",
                "-j",
                j,
                d,
                fixture("postfix/content-filter.log").to_str().expect("p"),
            ])
            .0
        })
        .collect();
    assert!(outs[0].lines().count() > 10);
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
}

#[test]
fn many_chunks_over_several_files_neither_hang_nor_depend_on_the_thread_count() {
    // A line a chunk, far more chunks per file than the pipeline holds at once: files read
    // ahead must never take all the room the earliest file needs (that hangs), and the bytes
    // must not depend on the thread count.
    let dir = tempdir();
    for (day, name) in [
        (1u32, "maillog.3"),
        (2, "maillog.2"),
        (3, "maillog.1"),
        (4, "maillog"),
    ] {
        let mut text = String::new();
        for i in 0..300u32 {
            let t = format!(
                "Jan  {day} {:02}:{:02}:{:02}",
                i / 3600,
                i / 60 % 60,
                i % 60
            );
            let q = format!("{:X}", 0xA0_0000 + day * 1000 + i);
            text.push_str(&format!("{t} mx postfix/qmgr[1]: {q}: from=<a{i}@example.org>, size={i}, nrcpt=1 (queue active)\n"));
            text.push_str(&format!("{t} mx postfix/smtp[2]: {q}: to=<r{day}-{i}@example.net>, relay=mx.example.net[192.0.2.7]:25, delay=1, dsn=2.0.0, status=sent (250 ok)\n"));
            text.push_str(&format!("{t} mx postfix/qmgr[1]: {q}: removed\n"));
        }
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        set_mtime(&p, at(&format!("2026-01-{day:02} 23:00:00")));
    }
    let mut outs = Vec::new();
    for threads in [1usize, 2, 3, 8] {
        let out = dir.path().join(format!("out-{threads}"));
        let cfg = maillogconv::config::Config {
            inputs: vec![maillogconv::input::Input::Path(dir.path().to_path_buf())],
            output: Some(out.clone()),
            tz: jiff::tz::TimeZone::UTC,
            threads,
            chunk_size: 64,
            ..maillogconv::config::Config::default()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx
                .send(maillogconv::run(&cfg, &maillogconv::Cancel::new()).map(|s| s.errors.len()));
        });
        let done = rx.recv_timeout(Duration::from_secs(120));
        assert!(matches!(done, Ok(Ok(0))), "-j{threads}: {done:?}");
        outs.push(std::fs::read_to_string(&out).expect("read"));
    }
    assert_eq!(outs[0].lines().count(), 1200, "{}", outs[0]);
    for (o, threads) in outs.iter().zip([1, 2, 3, 8]) {
        assert_eq!(&outs[0], o, "-j1 vs -j{threads}");
    }
}
