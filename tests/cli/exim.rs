//! Exim: real mainlog lines (Exim's test suite, fail2ban), golden outputs, dates from the lines.

use super::*;

#[test]
fn golden_awstats_and_jsonl_for_exim_fixtures() {
    for name in [
        "testsuite-0005",
        "testsuite-0021",
        "testsuite-0103",
        "fail2ban-exim",
        "newyear",
    ] {
        let log = rel_fixture(&format!("exim/{name}.log"));
        for (fmt, ext) in [("awstats", "awstats"), ("jsonl", "jsonl")] {
            let out = run(&["--tz", "UTC", "-f", fmt, &log]);
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_golden(&format!("exim/{name}.{ext}"), &out.stdout);
        }
    }
}

#[test]
fn exim_lines_carry_their_own_year_across_new_year() {
    // No --year and an mtime years away: the dates come from the lines.
    let dir = tempdir();
    let p = dir.path().join("mainlog");
    std::fs::copy(fixture("exim/newyear.log"), &p).expect("copy");
    std::fs::File::options()
        .write(true)
        .open(&p)
        .expect("open")
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(2_000_000_000))
        .expect("mtime");
    let out = stdout(&["--tz", "UTC", "-f", "jsonl", p.to_str().expect("p")]);
    let ts: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["ts"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        ts.iter().any(|t| t.starts_with("2025-12-31T23:59")),
        "{ts:?}"
    );
    assert!(
        ts.iter().any(|t| t.starts_with("2026-01-01T00:00")),
        "{ts:?}"
    );
    assert!(out.contains("\"mta\":\"exim\""));
    // The bounce (`<= <> R=10HmaY…`) is linked to the message it answers.
    assert!(
        out.contains("\"prev_queue_id\":\"10HmaY-000000005vi-0000\""),
        "{out}"
    );
}

/// `--host NAME` names the server of a log whose lines name none (Exim's mainlog); lines that
/// name their host keep it; a `date,host` dataset partitions by it.
#[test]
fn host_option_names_the_server_of_a_mainlog() {
    let host_of = |args: &[&str]| -> Vec<String> {
        let out = stdout(args);
        out.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["host"].as_str().unwrap_or("null").to_owned()
            })
            .collect()
    };
    let exim = rel_fixture("exim/testsuite-0021.log");
    let hosts = host_of(&["--year", "2026", "-f", "jsonl", &exim]);
    assert!(
        !hosts.is_empty() && hosts.iter().all(|h| h == "null"),
        "{hosts:?}"
    );
    let hosts = host_of(&["--year", "2026", "-f", "jsonl", "--host", "mx9", &exim]);
    assert!(hosts.iter().all(|h| h == "mx9"), "{hosts:?}");
    let syslog = rel_fixture("postfix/awstats-e2e.log");
    let named = host_of(&["--year", "2026", "-f", "jsonl", &syslog]);
    assert_eq!(
        host_of(&["--year", "2026", "-f", "jsonl", "--host", "mx9", &syslog]),
        named
    );
    let dir = tempdir();
    let ds = dir.path().join("ds");
    let out = bin()
        .args([
            "--year",
            "2026",
            "--host",
            "mx9",
            "--partition-by",
            "date,host",
            "-o",
        ])
        .arg(&ds)
        .arg(fixture("exim/testsuite-0021.log"))
        .output()
        .expect("run");
    assert_ok(&out);
    let parts: Vec<String> = std::fs::read_dir(ds.join("date=1999-03-02"))
        .expect("date partition")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(parts, ["host_part=mx9"]);
}
