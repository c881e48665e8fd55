//! Record quality: every record maillogconv writes from every fixture and corpus log must be
//! well-formed, field by field, as an analyst would use it (cast `client_ip` to an address,
//! group by domain, count by status). `MAILLOGCONV_QUALITY_DIRS` (colon-separated) checks other
//! directories too (`scripts/quality DIR`).

use super::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Files under `fixtures/` that are outputs or notes, not logs (`scripts/benchlib.py` holds
/// the same list for the end-to-end scripts).
const NOT_LOGS: &[&str] = &[
    "awstats", "jsonl", "csv", "parquet", "clf", "diff", "md", "conf",
];

/// Every log under `dir`, in name order.
fn logs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "differential") {
                continue;
            }
            logs(&p, out);
        } else if !p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| NOT_LOGS.contains(&e))
        {
            out.push(p);
        }
    }
}

const STATUSES: &[&str] = &[
    "sent",
    "deferred",
    "bounced",
    "expired",
    "rejected",
    "discarded",
];

fn is_ip(v: &str) -> bool {
    v.parse::<IpAddr>().is_ok()
}

/// A host name as logged: no brackets, parentheses, spaces or address punctuation.
fn is_host(v: &str) -> bool {
    !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || "[](){}<>@,;:/\\|\"'=".contains(c))
}

/// An address without its angle brackets, trailing punctuation or enclosing quotes. A quoted
/// local part (`"a b"@x`) is fine. A pipe delivered to (`|cmd args`) is a command, whose
/// arguments may hold anything but which is not quoted as a whole.
fn is_address(v: &str) -> bool {
    let enclosed = v.len() >= 2 && v.starts_with('"') && v.ends_with('"');
    if v.starts_with('|') {
        return !v.chars().any(char::is_control);
    }
    !v.contains(['<', '>'])
        && !v.ends_with([':', ',', ';'])
        && !enclosed
        && !v.chars().any(char::is_control)
}

fn is_dsn(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts[0].len() == 1
        && parts[0].chars().all(|c| ('2'..='5').contains(&c))
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// What is wrong with one JSON Lines record: (field, value) pairs.
fn violations(r: &Value) -> Vec<(&'static str, String)> {
    let mut bad = Vec::new();
    let s = |k: &str| r.get(k).and_then(Value::as_str);
    let n = |k: &str| r.get(k).and_then(Value::as_f64);
    let mut check = |field: &'static str, ok: bool, v: String| {
        if !ok {
            bad.push((field, v));
        }
    };
    for f in ["client_ip", "relay_ip"] {
        if let Some(v) = s(f) {
            check(f, is_ip(v), v.to_owned());
        }
    }
    for f in ["client_host", "relay_host"] {
        if let Some(v) = s(f) {
            check(f, is_host(v), v.to_owned());
        }
    }
    for f in ["sender", "recipient", "orig_recipient"] {
        if let Some(v) = s(f) {
            check(f, is_address(v), v.to_owned());
        }
    }
    for f in ["sender_domain", "recipient_domain"] {
        if let Some(v) = s(f) {
            let lower = v.to_lowercase() == v;
            check(f, lower && is_host(v), v.to_owned());
        }
    }
    let status = s("status").unwrap_or("");
    check("status", STATUSES.contains(&status), status.to_owned());
    if let Some(v) = s("dsn") {
        check("dsn", is_dsn(v), v.to_owned());
    }
    if let Some(v) = n("smtp_code") {
        check("smtp_code", (200.0..=599.0).contains(&v), v.to_string());
    }
    if let Some(v) = n("relay_port") {
        check("relay_port", (1.0..=65535.0).contains(&v), v.to_string());
    }
    for f in [
        "size",
        "delay",
        "delay_before_queue",
        "delay_in_queue",
        "delay_connect",
        "delay_transmit",
        "nrcpt",
    ] {
        if let Some(v) = n(f) {
            check(f, v >= 0.0, v.to_string());
        }
    }
    // (An expired message's pending recipients may predate the log.)
    if matches!(status, "sent" | "bounced" | "deferred") {
        check(
            "recipient",
            s("recipient").is_some(),
            format!("null on a {status} record"),
        );
    }
    bad
}

/// The `n`th line (1-based) of a log, for the report.
fn source_line(path: &Path, n: u64) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("case \"$1\" in *.gz) gzip -dc \"$1\";; *) cat \"$1\";; esac | sed -n \"$2p\"")
        .arg("sh")
        .arg(path)
        .arg(n.to_string())
        .output()
        .expect("sed");
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// Converts every log under `dirs` to JSON Lines and returns the violations, by field, each
/// with the record's source and line, and the number of records checked.
fn check_dirs(dirs: &[PathBuf]) -> (BTreeMap<&'static str, Vec<String>>, usize) {
    let mut files = Vec::new();
    for d in dirs {
        logs(d, &mut files);
    }
    assert!(!files.is_empty(), "no logs under {dirs:?}");
    let results: Vec<(PathBuf, Output)> = std::thread::scope(|s| {
        let chunks = files.chunks(files.len().div_ceil(8));
        let handles: Vec<_> = chunks
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|f| {
                            let out = bin()
                                .args(["--year", "2026", "-f", "jsonl"])
                                .arg(f)
                                .output()
                                .expect("run");
                            (f.clone(), out)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut by_field: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut records = 0;
    for (file, out) in results {
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let r: Value = serde_json::from_str(line).expect("JSON record");
            records += 1;
            for (field, value) in violations(&r) {
                let n = r["source_line"].as_u64().unwrap_or(0);
                by_field.entry(field).or_default().push(format!(
                    "{field}={value:?} at {}:{n}\n    {}",
                    file.display(),
                    source_line(&file, n)
                ));
            }
        }
    }
    (by_field, records)
}

fn report(by_field: &BTreeMap<&'static str, Vec<String>>) -> String {
    let mut s = String::new();
    for (field, v) in by_field {
        s += &format!("{field}: {} records\n", v.len());
        let all = std::env::var_os("MAILLOGCONV_QUALITY_ALL").is_some();
        for e in v.iter().take(if all { usize::MAX } else { 10 }) {
            s += &format!("  {e}\n");
        }
    }
    s
}

#[test]
fn every_record_of_every_fixture_is_well_formed() {
    let mut dirs = vec![root().join("fixtures")];
    if let Some(extra) = std::env::var_os("MAILLOGCONV_QUALITY_DIRS") {
        dirs = std::env::split_paths(&extra).collect();
    }
    let (bad, records) = check_dirs(&dirs);
    let n: usize = bad.values().map(Vec::len).sum();
    eprintln!("record quality: {records} records, {n} violations");
    assert!(records > 0);
    assert!(
        bad.is_empty(),
        "{n} violations in {records} records\n{}",
        report(&bad)
    );
}

#[test]
fn the_quality_rules_catch_each_kind_of_bad_field() {
    let bad = |json: &str| -> Vec<&'static str> {
        violations(&serde_json::from_str(json).expect("json"))
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    };
    assert_eq!(
        bad(
            r#"{"status":"rejected","client_ip":"192.0.2.7","client_host":"mx.example.com","sender":"\"a b\"@example.com"}"#
        ),
        Vec::<&str>::new()
    );
    assert_eq!(
        bad(r#"{"status":"rejected","client_host":"(","client_ip":"IPv6:2001:db8::1"}"#),
        ["client_ip", "client_host"]
    );
    assert_eq!(
        bad(
            r#"{"status":"sent","recipient":"user@example.edu:","relay_host":"[127.0.0.1]","relay_ip":"private/dovecot-lmtp"}"#
        ),
        ["relay_ip", "relay_host", "recipient"]
    );
    assert_eq!(
        bad(r#"{"status":"sent","recipient":"\"|/usr/local/bin/handler\"","sender":"<a@b>"}"#),
        ["sender", "recipient"]
    );
    assert_eq!(
        bad(r#"{"status":"sent","dsn":"2.0","smtp_code":999,"relay_port":0,"size":-1}"#),
        ["dsn", "smtp_code", "relay_port", "size", "recipient"]
    );
    assert_eq!(bad(r#"{"status":"relayed"}"#), ["status"]);
    assert_eq!(
        bad(r#"{"status":"rejected","recipient_domain":"Example.COM"}"#),
        ["recipient_domain"]
    );
}
