//! Many hosts at once: a tree of per-host directories (each directory's name for lines that
//! name no host), and one host of a central log (`--only-host`).

use super::*;

/// The JSON Lines records of a run, without `source_file` (the path differs by design).
fn records(args: &[&std::ffi::OsStr]) -> Vec<String> {
    let out = bin().args(args).output().expect("run");
    assert_ok(&out);
    let mut recs: Vec<String> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
            v.as_object_mut().expect("object").remove("source_file");
            v.to_string()
        })
        .collect();
    recs.sort();
    recs
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(Into::into).collect()
}

#[test]
fn a_tree_of_hosts_reads_each_directory_as_its_host() {
    let dir = tempdir();
    let tree = dir.path().join("remote");
    for (host, file, fixture_rel) in [
        ("mx1", "maillog", "postfix/awstats-e2e.log"),
        ("relay", "maillog", "postfix/expired.log"),
        ("exim9", "mainlog", "exim/testsuite-0021.log"),
    ] {
        std::fs::create_dir_all(tree.join(host)).expect("mkdir");
        std::fs::copy(fixture(fixture_rel), tree.join(host).join(file)).expect("copy");
    }
    let base = os(&["--year", "2026", "--tz", "UTC", "-f", "jsonl"]);
    let with = |extra: &[std::ffi::OsString]| -> Vec<String> {
        let args: Vec<&std::ffi::OsStr> = base.iter().chain(extra).map(|s| s.as_os_str()).collect();
        records(&args)
    };
    let all = with(&[tree.clone().into_os_string()]);
    let mut each = Vec::new();
    for host in ["mx1", "relay", "exim9"] {
        each.extend(with(&[
            "--host".into(),
            host.into(),
            tree.join(host).into_os_string(),
        ]));
    }
    each.sort();
    assert!(all.len() > 20, "{}", all.len());
    assert_eq!(all, each);
    // The mainlog's records are the directory's host.
    let exim9 = all
        .iter()
        .filter(|r| r.contains("\"host\":\"exim9\""))
        .count();
    assert!(exim9 > 0, "{all:?}");
    // No warning that one host's files overlap another's in time.
    let out = bin()
        .args(["--year", "2026", "--stats", "-o", "/dev/null"])
        .arg(&tree)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("overlap"), "{err}");
}

#[test]
fn only_host_reads_one_server_of_a_central_log() {
    let dir = tempdir();
    let central = dir.path().join("maillog");
    let mut text =
        std::fs::read(fixture("postfix/submission-and-multi-instance.log")).expect("read");
    text.extend(std::fs::read(fixture("postfix/awstats-e2e.log")).expect("read"));
    std::fs::write(&central, text).expect("write");
    let base = os(&["--year", "2026", "--tz", "UTC", "-f", "jsonl"]);
    let run_with = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<std::ffi::OsString> = base.clone();
        args.extend(extra.iter().map(Into::into));
        args.push(central.clone().into_os_string());
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_os_str()).collect();
        records(&args)
    };
    let all = run_with(&[]);
    let mut parts = Vec::new();
    for host in ["letterman", "mail", "mailgw-out1", "tcc1", "mx1"] {
        let one = run_with(&["--only-host", host]);
        let tag = format!("\"host\":\"{host}\"");
        assert!(one.iter().all(|r| r.contains(&tag)), "{host}: {one:?}");
        parts.extend(one);
    }
    parts.sort();
    assert_eq!(all, parts);
}
