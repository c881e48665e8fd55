//! Unattended runs (issue 17): outputs that cannot destroy an input, keep the modes readers
//! need, and datasets that never lose or duplicate a row.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

#[test]
fn an_output_that_is_one_of_the_inputs_is_refused() {
    let dir = tempdir();
    let log = dir.path().join("maillog");
    std::fs::copy(fixture("postfix/awstats-e2e.log"), &log).expect("copy");
    let before = std::fs::read(&log).expect("read");
    // Named as a file, found through its directory, and found through a glob.
    let glob = format!("{}/mail*", dir.path().display());
    for input in [
        log.to_str().expect("p"),
        dir.path().to_str().expect("p"),
        &glob,
    ] {
        let out = run(&["--year", "2026", "-o", log.to_str().expect("p"), input]);
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("the output is one of the inputs"), "{err}");
        assert_eq!(std::fs::read(&log).expect("read"), before, "{input}");
    }
    // A dataset directory that is an input directory.
    let out = run(&[
        "--year",
        "2026",
        "--partition-by",
        "date",
        "-o",
        dir.path().to_str().expect("p"),
        dir.path().to_str().expect("p"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&log).expect("read"), before);
}

#[test]
fn outputs_get_the_mode_the_umask_gives_and_an_existing_output_keeps_its_mode() {
    let dir = tempdir();
    let out = dir.path().join("mail.awstats");
    let log = fixture("postfix/awstats-e2e.log");
    let convert = |umask: &str, out: &Path| {
        let args = ["--year", "2026", "-o"].map(std::ffi::OsStr::new);
        let res = bin_after(
            &format!("umask {umask}"),
            &[&args[..], &[out.as_os_str(), log.as_os_str()]].concat(),
        );
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
    };
    convert("022", &out);
    assert_eq!(mode(&out), 0o644);
    convert("077", &out);
    assert_eq!(mode(&out), 0o644, "an existing output keeps its mode");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    convert("022", &out);
    assert_eq!(mode(&out), 0o640);
    let fresh = dir.path().join("new.csv");
    convert("027", &fresh);
    assert_eq!(mode(&fresh), 0o640);
}

/// Runs the README's dataset command (`-o DIR --partition-by date INPUTS`).
fn dataset_run(ds: &Path, inputs: &[&Path]) -> Output {
    let mut c = bin();
    c.args([
        "--year",
        "2026",
        "--tz",
        "UTC",
        "--partition-by",
        "date",
        "-o",
    ])
    .arg(ds);
    for i in inputs {
        c.arg(i);
    }
    c.output().expect("run")
}

/// Every file of a dataset below `dir` but its bookkeeping, sorted, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".maillogconv") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("rel").display().to_string();
                out.push((rel, std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_users_files_in_a_partition_are_never_removed() {
    let dir = tempdir();
    let ds = dir.path().join("ds");
    let log = fixture("postfix/awstats-e2e.log");
    assert!(dataset_run(&ds, &[&log]).status.success());
    let part = ds.join("date=2026-03-14");
    std::fs::write(part.join("NOTES.txt"), "mine\n").expect("write");
    std::fs::write(part.join("compacted.parquet"), "not ours\n").expect("write");
    // Again, and with another day: both runs write into the dataset.
    assert!(dataset_run(&ds, &[&log]).status.success());
    assert!(
        dataset_run(&ds, &[&fixture("postfix/hostile-addresses.log")])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read_to_string(part.join("NOTES.txt")).expect("kept"),
        "mine\n"
    );
    assert!(part.join("compacted.parquet").exists());
}

#[test]
fn a_run_with_a_failed_input_adds_nothing_to_the_dataset() {
    let dir = tempdir();
    let ds = dir.path().join("ds");
    let good = fixture("postfix/awstats-e2e.log");
    assert!(dataset_run(&ds, &[&good]).status.success());
    let before = files(&ds);
    // A truncated gzip archive of another day's log.
    let gz = dir.path().join("maillog.1.gz");
    let mut enc = flate2_gzip(&std::fs::read(fixture("postfix/hostile-addresses.log")).expect("r"));
    enc.truncate(enc.len() * 2 / 3);
    std::fs::write(&gz, enc).expect("write");
    let out = dataset_run(&ds, &[&gz, &good]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("maillog.1.gz") && err.contains("nothing was committed"),
        "{err}"
    );
    assert_eq!(files(&ds), before, "the dataset is as it was");
}

/// `data` compressed with the gzip command.
fn flate2_gzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("write");
    child.wait_with_output().expect("gzip").stdout
}

#[test]
fn a_second_run_on_a_dataset_in_use_stops_with_a_message_and_writes_nothing() {
    let dir = tempdir();
    let ds = dir.path().join("ds");
    let log = fixture("postfix/awstats-e2e.log");
    assert!(dataset_run(&ds, &[&log]).status.success());
    let before = files(&ds);
    // Another run holds the lock.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(ds.join(".maillogconv/lock"))
        .expect("lock file");
    lock.try_lock().expect("lock");
    let out = dataset_run(&ds, &[&fixture("postfix/hostile-addresses.log")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another maillogconv run is writing this dataset"),
        "{err}"
    );
    assert_eq!(files(&ds), before);
    drop(lock);
    // Once it is free, the run goes through.
    let out = once_free(|| dataset_run(&ds, &[&fixture("postfix/hostile-addresses.log")]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(files(&ds).len() > before.len());
}

/// `run`'s output once no copy of a lock this test dropped is left. A child that another test
/// thread is starting holds a copy of the lock's descriptor until its `exec` closes it: under
/// the full suite's load that took long enough for a run to find the lock still held (such a
/// run writes nothing and says so). It is tried again, for at most ~5 s.
fn once_free(run: impl Fn() -> Output) -> Output {
    let mut out = run();
    for _ in 0..50 {
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !err.contains("another maillogconv run") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        out = run();
    }
    out
}

#[test]
fn what_a_killed_run_left_is_removed_or_finished_by_the_next() {
    let dir = tempdir();
    let ds = dir.path().join("ds");
    let log = fixture("postfix/awstats-e2e.log");
    // Leftovers: a stage of a run killed before its commit, and an earlier version's
    // temporary directory, whose .parquet file readers would see.
    let stage = ds.join(".maillogconv/stage-killed/date=2026-03-14");
    std::fs::create_dir_all(&stage).expect("mkdir");
    std::fs::write(stage.join("part-00000.parquet.tmp"), "x").expect("write");
    let old = ds.join(".maillogconv-tmp-abc/date=2026-03-14");
    std::fs::create_dir_all(&old).expect("mkdir");
    std::fs::write(old.join("part-00000.parquet"), "x").expect("write");
    assert!(dataset_run(&ds, &[&log]).status.success());
    assert!(!ds.join(".maillogconv/stage-killed").exists());
    assert!(!ds.join(".maillogconv-tmp-abc").exists());
    let committed = files(&ds);
    assert_eq!(
        committed.len(),
        2,
        "{:?}",
        committed.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    // A run killed after its commit point (the journal) but before its files were moved:
    // the next run moves them, once.
    let meta = ds.join(".maillogconv");
    let staged = meta.join("stage-done/date=2026-06-01");
    std::fs::create_dir_all(&staged).expect("mkdir");
    std::fs::copy(
        ds.join(&committed[0].0),
        staged.join("part-00000.parquet.tmp"),
    )
    .expect("cp");
    let journal = format!(
        r#"{{"version":1,"moves":[[".maillogconv/stage-done/date=2026-06-01/part-00000.parquet.tmp","date=2026-06-01/part-0123456789abcdef-00000.parquet"]],"coverage":{},"state":null}}"#,
        std::fs::read_to_string(meta.join("coverage.json")).expect("coverage")
    );
    std::fs::write(meta.join("journal.json"), journal).expect("journal");
    assert!(dataset_run(&ds, &[&log]).status.success());
    assert!(!meta.join("journal.json").exists());
    let after = files(&ds);
    assert_eq!(after.len(), 3);
    assert!(after
        .iter()
        .any(|(n, _)| n == "date=2026-06-01/part-0123456789abcdef-00000.parquet"));
}

/// `maillogconv --year 2026 --state STATE ARGS…`.
fn with_state(state: &Path, args: &[&str]) -> Output {
    bin()
        .args(["--year", "2026", "--tz", "UTC", "--state"])
        .arg(state)
        .args(args)
        .output()
        .expect("run")
}

#[test]
fn a_damaged_or_foreign_state_file_is_refused_and_nothing_is_touched() {
    let dir = tempdir();
    let state = dir.path().join("s.state");
    let out = dir.path().join("out.awstats");
    let log = fixture("postfix/awstats-e2e.log");
    let (out_s, log_s) = (out.to_str().expect("p"), log.to_str().expect("p"));
    let first = with_state(&state, &["-o", out_s, "--append", log_s]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let good = std::fs::read(&state).expect("state");
    let written = std::fs::read(&out).expect("out");
    assert!(!written.is_empty());
    let mut damaged = good.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x55;
    let mut other_version = good.clone();
    other_version[8] = 99;
    for (what, bytes, says) in [
        ("damaged", damaged, "damaged state file"),
        ("another version", other_version, "state format version 99"),
        (
            "a log",
            std::fs::read(&log).expect("log"),
            "not a maillogconv state file",
        ),
    ] {
        std::fs::write(&state, &bytes).expect("write");
        let res = with_state(&state, &["-o", out_s, "--append", log_s]);
        assert_eq!(res.status.code(), Some(2), "{what}");
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(err.contains(says), "{what}: {err}");
        assert_eq!(
            std::fs::read(&state).expect("state"),
            bytes,
            "{what}: state untouched"
        );
        assert_eq!(
            std::fs::read(&out).expect("out"),
            written,
            "{what}: output untouched"
        );
    }
    // A state written for another format.
    std::fs::write(&state, &good).expect("write");
    let res = with_state(&state, &["-f", "csv", log_s]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("written for --format awstats"));
}

#[test]
fn a_second_run_on_a_state_in_use_stops_with_a_message_and_the_next_goes_on() {
    let dir = tempdir();
    let state = dir.path().join("s.state");
    let out = dir.path().join("out.awstats");
    let log = dir.path().join("maillog");
    let text = std::fs::read_to_string(fixture("postfix/awstats-e2e.log")).expect("read");
    let head_end = text[..text.len() / 2].rfind('\n').map_or(0, |i| i + 1);
    std::fs::write(&log, &text[..head_end]).expect("write");
    let args = [
        "-o",
        out.to_str().expect("p"),
        "--append",
        log.to_str().expect("p"),
    ];
    assert!(with_state(&state, &args).status.success());
    let before = std::fs::read(&out).expect("out");
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("s.state.lock"))
        .expect("lock file");
    lock.try_lock().expect("lock");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    f.write_all(&text.as_bytes()[head_end..]).expect("grow");
    let res = with_state(&state, &args);
    assert_eq!(res.status.code(), Some(1));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("another maillogconv run is using the state"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).expect("out"), before, "nothing written");
    drop(lock);
    assert!(once_free(|| with_state(&state, &args)).status.success());
    // Nothing lost, nothing twice: the two halves make what one run over the log makes
    // (the records of its last minutes are still held for time order).
    let whole = stdout(&["--year", "2026", "--tz", "UTC", log.to_str().expect("p")]);
    let got = std::fs::read_to_string(&out).expect("out");
    assert!(
        !got.is_empty() && whole.starts_with(&got),
        "{got}\n---\n{whole}"
    );
}

#[test]
fn append_writes_the_csv_header_only_into_a_new_file() {
    let dir = tempdir();
    let out = dir.path().join("out.csv");
    let log = fixture("postfix/awstats-e2e.log");
    for _ in 0..2 {
        let res = bin()
            .args(["--year", "2026", "--tz", "UTC", "--append", "-o"])
            .arg(&out)
            .arg(&log)
            .output()
            .expect("run");
        assert!(res.status.success());
    }
    let text = std::fs::read_to_string(&out).expect("out");
    assert_eq!(text.matches("ts,ts_local,").count(), 1, "{text}");
    let rows = text.lines().count() - 1;
    let once = stdout(&["--year", "2026", "-f", "csv", log.to_str().expect("p")]);
    assert_eq!(rows, 2 * (once.lines().count() - 1));
}

/// A CSV written with other columns (an earlier version's 34) is not appended to: its rows
/// would be read as the wrong fields.
#[test]
fn append_refuses_a_csv_with_other_columns() {
    let dir = tempdir();
    let out = dir.path().join("old.csv");
    let old = "ts,ts_local,host,mta,queue_id,message_id,sender,recipient,orig_recipient,client_host,client_ip,sasl_username,relay,relay_host,relay_ip,relay_port,status,dsn,smtp_code,reply,size,nrcpt,delay,delay_before_queue,delay_in_queue,delay_connect,delay_transmit,proto,helo,received_ts,next_queue_id,prev_queue_id,source_file,source_line\n";
    std::fs::write(&out, old).expect("write");
    let res = bin()
        .args(["--year", "2026", "--append", "-o"])
        .arg(&out)
        .arg(fixture("postfix/awstats-e2e.log"))
        .output()
        .expect("run");
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("not this version's columns"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).expect("out"), old);
}

#[test]
fn with_state_each_run_writes_only_new_records_to_stdout_or_a_new_file() {
    let dir = tempdir();
    let log = dir.path().join("maillog");
    let text = std::fs::read_to_string(fixture("postfix/awstats-e2e.log")).expect("read");
    let cut = text[..text.len() / 2].rfind('\n').map_or(0, |i| i + 1);
    // The first half, and half a line more: a line still being written is left for later.
    std::fs::write(&log, &text[..cut + 10]).expect("write");
    let log_s = log.to_str().expect("p");
    let (s1, s2) = (
        dir.path().join("stdout.state"),
        dir.path().join("file.state"),
    );
    let out = dir.path().join("out.awstats");
    let out_s = out.to_str().expect("p");
    let first_stdout = with_state(&s1, &[log_s]);
    assert!(first_stdout.status.success());
    assert!(with_state(&s2, &["-o", out_s, log_s]).status.success());
    let first_file = std::fs::read(&out).expect("out");
    assert_eq!(first_stdout.stdout, first_file);
    std::fs::write(&log, &text).expect("grow");
    let second_stdout = with_state(&s1, &[log_s]);
    assert!(with_state(&s2, &["-o", out_s, log_s]).status.success());
    let second_file = std::fs::read(&out).expect("out");
    assert_eq!(second_stdout.stdout, second_file, "a new file each run");
    // Together they are what one run writes, less the records still held for time order.
    let whole = stdout(&["--year", "2026", "--tz", "UTC", log_s]);
    let both = [first_file, second_file].concat();
    assert!(!both.is_empty() && whole.as_bytes().starts_with(&both));
    // Nothing new: nothing written.
    assert!(with_state(&s1, &[log_s]).stdout.is_empty());
}

#[test]
fn a_dataset_named_by_a_relative_path_is_written() {
    let dir = tempdir();
    let out = bin()
        .current_dir(dir.path())
        .args(["--year", "2026", "--partition-by", "date", "-o", "ds"])
        .arg(fixture("postfix/awstats-e2e.log"))
        .output()
        .expect("run");
    assert_ok(&out);
    assert_eq!(files(&dir.path().join("ds")).len(), 2);
}
