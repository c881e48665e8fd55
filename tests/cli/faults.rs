//! Faults and hostile input (issue 7): full disks, signals, odd outputs, strange lines.

use super::*;

fn big_log(path: &Path, lines: usize) {
    let mut text = String::with_capacity(lines * 200);
    for i in 0..lines {
        let q = format!("{:X}", 0x10_0000 + (i % 500_000));
        let t = format!(
            "Mar 14 {:02}:{:02}:{:02}",
            i / 3600 % 24,
            i / 60 % 60,
            i % 60
        );
        text.push_str(&format!("{t} mx1 postfix/qmgr[1]: {q}: from=<u{i}@example.org>, size={i}, nrcpt=1 (queue active)\n"));
        text.push_str(&format!("{t} mx1 postfix/smtp[2]: {q}: to=<r{i}@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n"));
        text.push_str(&format!("{t} mx1 postfix/qmgr[1]: {q}: removed\n"));
    }
    std::fs::write(path, text).expect("write");
}

#[test]
fn sigint_and_sigterm_mid_run_leave_the_previous_output_and_no_partial_file() {
    let dir = tempdir();
    let log = dir.path().join("maillog");
    big_log(&log, 600_000); // ~190 MB: 0.3 s of work with two cores, 0.6 s with one
    for (sig, j) in [("-INT", "1"), ("-TERM", "1"), ("-INT", "2"), ("-TERM", "2")] {
        let out = dir.path().join("mail.awstats");
        // A run that ended before the signal came (a fast machine) proves nothing: it is run
        // again with the signal sooner.
        let res = [150, 60, 20]
            .into_iter()
            .map(|ms| killed_after(&log, &out, sig, j, ms))
            .find(|res| !res.status.success())
            .unwrap_or_else(|| panic!("{sig} -j{j}: every run ended before the signal"));
        // Cleaned up, then died of the signal it got (as a shell loop expects).
        let want = if sig == "-INT" { 2 } else { 15 };
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&res.status),
            Some(want),
            "{sig} -j{j}: {:?} {}",
            res.status,
            String::from_utf8_lossy(&res.stderr)
        );
        assert!(String::from_utf8_lossy(&res.stderr).contains("interrupted"));
        assert_eq!(
            std::fs::read_to_string(&out).expect("read"),
            "previous\n",
            "{sig} -j{j}"
        );
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".maillogconv"))
            .collect();
        assert!(
            left.is_empty(),
            "{sig} -j{j}: temporary files left: {left:?}"
        );
    }
}

/// `maillogconv -j J -o OUT LOG`, sent `sig` after `ms` milliseconds; `out` holds
/// "previous\n" before.
fn killed_after(log: &Path, out: &Path, sig: &str, j: &str, ms: u64) -> Output {
    std::fs::write(out, "previous\n").expect("write");
    let child = bin()
        .args([
            "-j",
            j,
            "--year",
            "2026",
            "-o",
            out.to_str().expect("p"),
            log.to_str().expect("p"),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(ms));
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    child.wait_with_output().expect("wait")
}

#[test]
fn output_to_dev_full_fails_without_touching_the_device() {
    let f = fixture("postfix/error-bounce.log");
    for args in [vec!["-o", "/dev/full"], vec![]] {
        let mut cmd = bin();
        cmd.args(["--year", "2026"]).args(&args).arg(&f);
        if args.is_empty() {
            cmd.stdout(std::fs::File::create("/dev/full").expect("/dev/full"));
        }
        let out = cmd.output().expect("run");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("No space left on device"), "{err}");
        assert_eq!(
            err.matches("No space left on device").count(),
            1,
            "the cause is printed once: {err}"
        );
    }
    let meta = std::fs::metadata("/dev/full").expect("meta");
    assert!(!meta.is_file(), "/dev/full is still a device");
}

#[test]
fn crlf_line_ends_last_line_without_newline_and_empty_files() {
    let dir = tempdir();
    let text = std::fs::read_to_string(fixture("postfix/error-bounce.log")).expect("read");
    let want = convert("postfix/error-bounce.log");
    let crlf = dir.path().join("crlf.log");
    std::fs::write(&crlf, text.replace('\n', "\r\n")).expect("w");
    assert_eq!(stdout(&["--year", "2026", crlf.to_str().expect("p")]), want);
    let no_nl = dir.path().join("nonl.log");
    std::fs::write(&no_nl, text.trim_end_matches('\n')).expect("w");
    assert_eq!(
        stdout(&["--year", "2026", no_nl.to_str().expect("p")]),
        want
    );
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").expect("w");
    let out = run(&["--year", "2026", "--stats", empty.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn truncated_last_line_and_a_one_megabyte_line_do_not_fail() {
    let dir = tempdir();
    let text = std::fs::read_to_string(fixture("postfix/error-bounce.log")).expect("read");
    let mut cut = text.clone();
    cut.truncate(text.len() - 40); // the last line loses its end
    let mut huge = String::from("Mar 14 09:12:01 mx1 postfix/smtpd[20011]: 4B1C23E0A41: warning: ");
    huge.push_str(&"x".repeat(1 << 20));
    huge.push('\n');
    let p = dir.path().join("maillog");
    std::fs::write(&p, huge + &cut).expect("w");
    let out = run(&["--year", "2026", "--stats", p.to_str().expect("p")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text_out = String::from_utf8_lossy(&out.stdout);
    assert!(text_out.contains("nosuchuser@example.com"), "{text_out}");
}

#[test]
fn binary_garbage_and_nul_bytes_are_unknown_lines() {
    let mut data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    data.extend_from_slice(
        b"\nMar 14 09:12:01 mx1 postfix/qmgr[1930]: 4B1C\x00\x003E0A41: removed\n",
    );
    data.extend(std::fs::read(fixture("postfix/error-bounce.log")).expect("read"));
    let out = stdin_convert(&data, &["--year", "2026"]);
    assert_eq!(out, convert("postfix/error-bounce.log"));
}

#[test]
fn the_same_file_given_twice_is_read_once() {
    let f = fixture("postfix/error-bounce.log");
    let f = f.to_str().expect("p");
    let out = run(&["--year", "2026", "--stats", f, f]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        convert("postfix/error-bounce.log")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("given more than once, read once"));
}

#[test]
fn a_clock_step_back_by_hours_is_passed_through() {
    let log = "\
Mar 14 12:00:00 mx1 postfix/qmgr[1]: 1111111111: from=<a@example.org>, size=1, nrcpt=1 (queue active)
Mar 14 12:00:01 mx1 postfix/smtp[2]: 1111111111: to=<x@example.com>, relay=mx.example.com[198.51.100.5]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
Mar 14 09:00:00 mx1 postfix/qmgr[1]: 2222222222: from=<b@example.org>, size=2, nrcpt=1 (queue active)
Mar 14 09:00:01 mx1 postfix/smtp[2]: 2222222222: to=<y@example.com>, relay=mx.example.com[198.51.100.5]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
";
    let out = stdin_convert(log.as_bytes(), &["--year", "2026"]);
    let times: Vec<&str> = out.lines().map(|l| &l[11..19]).collect();
    assert_eq!(times, ["12:00:01", "09:00:01"], "as logged: {out}");
}

#[test]
fn a_gzip_header_followed_by_garbage_is_a_corrupt_file_not_an_empty_one() {
    let dir = tempdir();
    for (name, bytes) in [
        ("short.gz", &b"\x1f\x8b\x08\x00garbage"[..]),
        (
            "long.gz",
            &b"\x1f\x8b\x08\x00garbage and more garbage after it"[..],
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("w");
        for j in ["1", "2"] {
            let out = run(&["-j", j, "--year", "2026", p.to_str().expect("p")]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name} -j{j}: {err}");
            assert!(err.contains(name) && err.contains("corrupt gzip"), "{err}");
        }
    }
}

#[test]
fn control_characters_in_addresses_and_replies_never_split_a_record() {
    let log: &[u8] = b"Jun  1 10:00:00 mx1 postfix/qmgr[1]: 7A7A7A7A7A: from=<a\x1b[31mb@example.com>, size=100, nrcpt=1 (queue active)\n\
Jun  1 10:00:01 mx1 postfix/smtp[2]: 7A7A7A7A7A: to=<c\x07d\x0be@example.net>, relay=mx.example.net[198.51.100.7]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok\x08\x7f done)\n\
Jun  1 10:00:01 mx1 postfix/qmgr[1]: 7A7A7A7A7A: removed\n";
    for format in ["awstats", "csv", "jsonl", "clf"] {
        let out = stdin_convert(log, &["--year", "2026", "--tz", "UTC", "-f", format]);
        let lines: Vec<&str> = out.lines().collect();
        let want = if format == "csv" { 2 } else { 1 }; // CSV has a header
        assert_eq!(lines.len(), want, "{format}: {out:?}");
        if format == "jsonl" {
            let v: serde_json::Value = serde_json::from_str(lines[0]).expect("valid JSON");
            assert_eq!(v["sender"], "a\u{1b}[31mb@example.com", "{format}");
            assert_eq!(v["recipient"], "c\u{7}d\u{b}e@example.net", "{format}");
        }
        if format == "csv" {
            let mut rdr = csv::Reader::from_reader(out.as_bytes());
            let rec = rdr.records().next().expect("a row").expect("valid CSV");
            assert!(
                rec.iter().any(|f| f == "c\u{7}d\u{b}e@example.net"),
                "{rec:?}"
            );
        }
    }
}

/// The binary as an unprivileged user: permissions do not stop root (CI runs as root), so root
/// drops to `nobody` with util-linux's setpriv.
fn unprivileged() -> Command {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return bin();
    }
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_maillogconv"))
        .current_dir("/");
    c
}

#[test]
fn a_directory_without_permission_is_reported_and_the_rest_converted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(dir.path(), 0o755).expect("chmod");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::copy(fixture("postfix/error-bounce.log"), locked.join("maillog")).expect("copy");
    let good = dir.path().join("good.log");
    std::fs::copy(fixture("postfix/error-bounce.log"), &good).expect("copy");
    mode(&good, 0o644).expect("chmod");
    mode(&locked, 0o000).expect("chmod");
    let out = unprivileged()
        .args(["--year", "2026"])
        .arg(&locked)
        .arg(&good)
        .output()
        .expect("run maillogconv (as root this needs setpriv from util-linux)");
    mode(&locked, 0o755).expect("chmod");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(locked.to_str().expect("p")) && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

#[test]
fn strict_fails_on_unparseable_lines_of_a_recognised_mta() {
    // infohtreasure mailog2: line 5351 is a Postfix to= line cut after the address.
    let log = rel_fixture("corpus/infohtreasure-Postfix-Maillog-Dump/mailog2");
    let lax = run(&["--year", "2020", &log]);
    assert_eq!(lax.status.code(), Some(0));
    let strict = run(&["--strict", "--year", "2020", &log]);
    let err = String::from_utf8_lossy(&strict.stderr);
    assert_eq!(strict.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{log}:5351: unparseable postfix line")),
        "{err}"
    );
    // The records are written all the same.
    assert_eq!(strict.stdout, lax.stdout);
    assert!(!lax.stdout.is_empty());
    // Unknown lines (no recognised MTA) never fail, strict or not.
    let dir = tempdir();
    let mixed = dir.path().join("maillog");
    let mut text = b"madeup: Gobbely Gook\n\x00\x01 binary\n".to_vec();
    text.extend(std::fs::read(fixture("postfix/error-bounce.log")).expect("read"));
    std::fs::write(&mixed, text).expect("write");
    let unknown = run(&["--strict", "--year", "2026", mixed.to_str().expect("p")]);
    assert_eq!(
        unknown.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&unknown.stdout).lines().count(), 3);
}

#[test]
fn a_full_file_system_fails_and_keeps_the_previous_output_file() {
    // A 512 KiB tmpfs in a private mount namespace (unshare) fills up while a ~2 MB AWStats
    // output is written over a previous one.
    let dir = tempdir();
    let log = dir.path().join("maillog");
    big_log(&log, 20_000);
    let script = format!(
        r#"set -e
mnt="{d}/mnt"; mkdir -p "$mnt"; mount -t tmpfs -o size=512k tmpfs "$mnt"
printf 'previous\n' > "$mnt/mail.awstats"
set +e; "{bin}" --year 2026 --tz UTC -o "$mnt/mail.awstats" "{log}" 2> "{d}/err"; echo $? > "{d}/rc"; set -e
cat "$mnt/mail.awstats" > "{d}/after"; ls -A "$mnt" > "{d}/files"
"#,
        d = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_maillogconv"),
        log = log.display(),
    );
    let read = in_private_mounts(&script, dir.path());
    let err = read("err");
    assert_eq!(read("rc").trim(), "1", "{err}");
    assert!(
        err.contains("No space left on device") && err.contains("mail.awstats"),
        "{err}"
    );
    assert_eq!(read("after"), "previous\n", "the previous output is intact");
    assert_eq!(read("files"), "mail.awstats\n", "no temporary file left");
}

#[test]
fn parquet_bytes_are_the_same_whether_row_groups_are_encoded_apart_or_not() {
    // With more than one thread each Parquet file encodes its row groups on a thread of its
    // own; 80,000 records make several row groups.
    let dir = tempdir();
    let log = dir.path().join("maillog");
    big_log(&log, 80_000);
    let log = log.to_str().expect("p");
    let run = |args: &[&str]| {
        let out = bin().args(args).output().expect("run");
        assert_ok(&out);
    };
    let mut files = Vec::new();
    for j in ["1", "2"] {
        let one = dir.path().join(format!("one-{j}.parquet"));
        let ds = dir.path().join(format!("ds-{j}"));
        let base = ["--year", "2026", "--tz", "UTC", "-j", j];
        run(&[&base[..], &["-o", one.to_str().expect("p"), log]].concat());
        run(&[
            &base[..],
            &[
                "--partition-by",
                "date,host",
                "-o",
                ds.to_str().expect("p"),
                log,
            ],
        ]
        .concat());
        let dir = ds.join("date=2026-03-14/host_part=mx1");
        let parts: Vec<_> = std::fs::read_dir(&dir)
            .expect("partition")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        assert_eq!(parts.len(), 1, "{parts:?}");
        files.push((
            std::fs::read(&one).expect("single file"),
            std::fs::read(&parts[0]).expect("partition"),
        ));
    }
    assert!(files[0].0.len() > 100_000 && files[0].0.starts_with(b"PAR1"));
    assert!(files[0].0 == files[1].0, "single file: -j1 and -j2 differ");
    assert!(files[0].1 == files[1].1, "partition: -j1 and -j2 differ");
}

#[test]
fn a_parquet_encoder_thread_that_cannot_write_fails_the_run_once() {
    let dir = tempdir();
    let log = dir.path().join("maillog");
    big_log(&log, 80_000);
    for j in ["1", "2"] {
        let out = bin()
            .args([
                "--year",
                "2026",
                "-f",
                "parquet",
                "-j",
                j,
                "-o",
                "/dev/full",
            ])
            .arg(&log)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "-j{j}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.matches("No space left on device").count(),
            1,
            "-j{j}: the cause is printed once: {err}"
        );
    }
}
