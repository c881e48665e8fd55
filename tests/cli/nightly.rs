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
    let convert = |umask: &str| {
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask}; exec \"$0\" --year 2026 -o \"$1\" \"$2\"",
            ))
            .arg(env!("CARGO_BIN_EXE_maillogconv"))
            .arg(&out)
            .arg(fixture("postfix/awstats-e2e.log"))
            .status()
            .expect("run");
        assert!(st.success());
    };
    convert("022");
    assert_eq!(mode(&out), 0o644);
    convert("077");
    assert_eq!(mode(&out), 0o644, "an existing output keeps its mode");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    convert("022");
    assert_eq!(mode(&out), 0o640);
    let fresh = dir.path().join("new.csv");
    let st = Command::new("sh")
        .arg("-c")
        .arg("umask 027; exec \"$0\" --year 2026 -o \"$1\" \"$2\"")
        .arg(env!("CARGO_BIN_EXE_maillogconv"))
        .arg(&fresh)
        .arg(fixture("postfix/awstats-e2e.log"))
        .status()
        .expect("run");
    assert!(st.success());
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
    assert!(
        dataset_run(&ds, &[&fixture("postfix/hostile-addresses.log")])
            .status
            .success()
    );
    assert!(files(&ds).len() > before.len());
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
