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

/// A dataset's coverage (each host's first and last instant) is the same whether the dating
/// step reads each line (chunks of a line or two) or passes runs of lines of one second and one
/// host on their marks alone (large chunks), and is each host's first and last second. Hosts
/// take turns in runs within a second; one host is seen only in the middle of the log.
#[test]
fn coverage_is_each_hosts_span_whatever_the_chunks() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("maillog");
    let mut text = String::new();
    let mut want: Vec<(String, u32, u32)> = Vec::new();
    for s in 0..600u32 {
        let stamp = format!("Mar 14 09:{:02}:{:02}", s / 60, s % 60);
        let mut hosts = vec!["mx1", "mx1", "mx1", "mx2", "mx2", "mx1"];
        if (200..400).contains(&s) {
            hosts.extend(["mx3", "mx3", "mx2"]);
        }
        if s % 7 == 0 {
            hosts.reverse();
        }
        for (i, h) in hosts.iter().enumerate() {
            text.push_str(&format!(
                "{stamp} {h} postfix/smtpd[{s}]: connect from x{i}.example[192.0.2.{i}]\n"
            ));
            match want.iter_mut().find(|w| w.0 == *h) {
                Some(w) => w.2 = s,
                None => want.push(((*h).to_string(), s, s)),
            }
        }
    }
    std::fs::write(&log, text).expect("write");
    let base = jiff::civil::date(2026, 3, 14)
        .at(9, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .expect("zoned")
        .timestamp()
        .as_nanosecond() as i64;
    let want: Vec<serde_json::Value> = (want.iter())
        .map(|(h, from, to)| {
            let ns = |s: &u32| base + i64::from(*s) * 1_000_000_000;
            serde_json::json!([h.as_bytes(), [[ns(from), ns(to)]]])
        })
        .collect();
    for chunk_size in [64, 1 << 20] {
        let out = dir.path().join(format!("ds-{chunk_size}"));
        let cfg = maillogconv::config::Config {
            inputs: vec![maillogconv::input::Input::Path(log.clone())],
            output: Some(out.clone()),
            tz: jiff::tz::TimeZone::UTC,
            year: Some(2026),
            partition_by: vec![
                maillogconv::config::PartitionKey::Date,
                maillogconv::config::PartitionKey::Host,
            ],
            chunk_size,
            ..maillogconv::config::Config::default()
        };
        let summary = maillogconv::run(&cfg, &maillogconv::Cancel::new()).expect("run");
        assert!(summary.errors.is_empty(), "{:?}", summary.errors);
        let coverage =
            std::fs::read_to_string(out.join(".maillogconv/coverage.json")).expect("coverage");
        let coverage: serde_json::Value = serde_json::from_str(&coverage).expect("json");
        assert_eq!(
            coverage["hosts"],
            serde_json::Value::from(want.clone()),
            "chunks of {chunk_size}"
        );
    }
}
