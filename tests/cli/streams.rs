//! Whatever a real system hands it (issue 22): pipes, FIFOs and /dev/stdin read once with
//! every line; a stalled pipe does not keep a signal from ending the run; Debian's duplicate
//! files skipped however they are named.

use super::*;

const LOG: &str = "postfix/awstats-e2e.log";

fn sh(script: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("M", env!("CARGO_BIN_EXE_maillogconv"))
        .env("F", fixture(LOG))
        .current_dir(root())
        .output()
        .expect("bash")
}

#[test]
fn pipes_fifos_and_dev_stdin_give_the_records_of_the_file() {
    let want = stdout(&["--year", "2026", fixture(LOG).to_str().expect("p")]);
    assert!(want.lines().count() > 3);
    let dir = tempdir();
    let fifo = dir.path().join("fifo");
    let gz = dir.path().join("m.gz");
    for script in [
        "cat \"$F\" | \"$M\" --year 2026 /dev/stdin",
        "cat \"$F\" | \"$M\" --year 2026 -",
        "\"$M\" --year 2026 <(cat \"$F\")",
        &format!(
            "gzip -c \"$F\" > {0}; \"$M\" --year 2026 <(cat {0})",
            gz.display()
        ),
        &format!(
            "mkfifo {0}; (cat \"$F\" > {0} &); \"$M\" --year 2026 {0}",
            fifo.display()
        ),
    ] {
        let out = sh(script);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{script}");
    }
}

#[test]
fn a_signal_ends_a_run_that_waits_on_a_stalled_pipe() {
    // `timeout` sends SIGTERM (or SIGINT) after 2 s; nothing comes through the pipe for 30 s.
    for (sig, j) in [("TERM", "1"), ("INT", "2")] {
        let mut stall = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::piped())
            .spawn()
            .expect("sleep");
        let pipe = stall.stdout.take().expect("pipe");
        let started = std::time::Instant::now();
        let out = Command::new("timeout")
            .args([
                "-s",
                sig,
                "2",
                env!("CARGO_BIN_EXE_maillogconv"),
                "-j",
                j,
                "-",
            ])
            .stdin(pipe)
            .output()
            .expect("timeout");
        let took = started.elapsed();
        let _ = stall.kill();
        let _ = stall.wait();
        assert_eq!(out.status.code(), Some(124), "{sig}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("interrupted by a signal"), "{sig}: {err}");
        // Far below the 30 s the pipe stalls for: the read did not hold the signal back.
        assert!(took < std::time::Duration::from_secs(15), "{sig}: {took:?}");
    }
}

#[test]
fn debians_duplicate_files_are_skipped_when_a_glob_names_them() {
    let dir = tempdir();
    for n in ["mail.log", "mail.info", "mail.warn"] {
        std::fs::copy(fixture(LOG), dir.path().join(n)).expect("copy");
    }
    let want = stdout(&[
        "--year",
        "2026",
        dir.path().join("mail.log").to_str().expect("p"),
    ]);
    let glob = format!("{}/mail.*", dir.path().display());
    let out = run(&["--year", "2026", &glob]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: skipped") && err.contains("mail.info") && err.contains("mail.warn"),
        "{err}"
    );
}

#[test]
fn an_over_long_line_is_cut_counted_and_named_and_the_rest_converted() {
    let dir = tempdir();
    let log = dir.path().join("maillog");
    let text = std::fs::read_to_string(fixture(LOG)).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    let long = "A".repeat(3 << 20);
    lines.insert(3, &long);
    std::fs::write(&log, lines.join("\n") + "\n").expect("write");
    let out = run(&["--year", "2026", "--stats", log.to_str().expect("p")]);
    assert!(out.status.success());
    let want = stdout(&["--year", "2026", fixture(LOG).to_str().expect("p")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("maillog:4: line longer than 1048576 bytes, cut"),
        "{err}"
    );
    assert!(err.contains("lines cut at --max-line-length: 1"), "{err}");
}

#[test]
fn two_hosts_with_skewed_clocks_give_full_row_groups_in_ts_order() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    // A central syslog: mx1 and mx2 interleaved, mx2's clock ten minutes behind, so the log
    // steps back by more than the reorder window at every other line.
    let dir = tempdir();
    let log = dir.path().join("maillog");
    let mut text = String::new();
    for i in 0..40_000u32 {
        let (host, skew) = if i % 2 == 0 { ("mx1", 600) } else { ("mx2", 0) };
        let s = i / 4 + skew;
        let t = format!(
            "Mar 14 {:02}:{:02}:{:02}",
            10 + s / 3600,
            s / 60 % 60,
            s % 60
        );
        text.push_str(&format!("{t} {host} postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <u{i}@example.org>: Relay access denied; from=<a@example.net> to=<u{i}@example.org> proto=ESMTP helo=<x>\n"));
    }
    std::fs::write(&log, text).expect("write");
    let out = dir.path().join("out.parquet");
    let res = run(&[
        "--year",
        "2026",
        "--tz",
        "UTC",
        "-o",
        out.to_str().expect("p"),
        log.to_str().expect("p"),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let file = std::fs::File::open(&out).expect("open");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet");
    let groups = builder.metadata().num_row_groups();
    let rows: i64 = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .sum();
    assert_eq!(rows, 40_000);
    // At most one row group per 32,768 rows (before: one per step back, ~20,000).
    assert_eq!(groups, 2, "{groups} row groups");
    for g in 0..groups {
        let file = std::fs::File::open(&out).expect("open");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .with_row_groups(vec![g])
            .build()
            .expect("reader");
        let mut last = i64::MIN;
        for batch in reader {
            let batch = batch.expect("batch");
            let ts = batch
                .column(0)
                .as_any()
                .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
                .expect("ts");
            for v in ts.values().iter() {
                assert!(*v >= last, "row group {g} is not in ts order");
                last = *v;
            }
        }
    }
}

#[test]
fn thousands_of_hosts_partition_within_a_bound_of_open_files() {
    // 1,500 hosts interleaved on one central log, under `ulimit -n 128`: before, every host's
    // partition stayed open (an encoder thread each with -j2): too many open files.
    let dir = tempdir();
    let log = dir.path().join("central.log");
    let mut text = String::new();
    for s in 0..1500 {
        text.push_str(&format!(
            "Mar 14 {:02}:{:02}:{:02} host{s:04} postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <u{s}@example.org>: Relay access denied; from=<a@example.net> to=<u{s}@example.org> proto=ESMTP helo=<x>\n",
            10 + s / 3600, s / 60 % 60, s % 60
        ));
    }
    std::fs::write(&log, text).expect("write");
    let ds = dir.path().join("ds");
    let args = [
        "--year",
        "2026",
        "--tz",
        "UTC",
        "-j2",
        "--partition-by",
        "date,host",
        "-o",
    ]
    .map(std::ffi::OsStr::new);
    let out = bin_after(
        "ulimit -n 128",
        &[&args[..], &[ds.as_os_str(), log.as_os_str()]].concat(),
    );
    assert_ok(&out);
    let hosts = std::fs::read_dir(ds.join("date=2026-03-14"))
        .expect("date partition")
        .count();
    assert_eq!(hosts, 1500);
}

#[test]
fn a_line_stamped_years_away_is_reported_and_moves_no_other_line() {
    // One host with its clock in 2030 (an RFC 3339 stamp) on a BSD-stamped log.
    let dir = tempdir();
    let log = dir.path().join("maillog");
    let text = std::fs::read_to_string(fixture(LOG)).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let odd = lines[3].replacen("Mar 14 09:00:01", "2030-03-14T09:00:01+00:00", 1);
    assert_ne!(odd, lines[3]);
    lines[3] = odd;
    std::fs::write(&log, lines.join("\n") + "\n").expect("write");
    let out = run(&["--year", "2026", "--stats", log.to_str().expect("p")]);
    assert!(out.status.success());
    let got = String::from_utf8_lossy(&out.stdout);
    assert!(!got.contains("2030-"), "{got}");
    assert!(got.lines().all(|l| l.starts_with("2026-")), "{got}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("maillog:4: bad timestamp (2030-03-14T09:00:01"),
        "{err}"
    );
    assert!(err.contains("1 bad timestamps"), "{err}");
}
