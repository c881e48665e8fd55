//! systemd journal input (`journalctl -o json`, `-o export`): the same records as the same
//! lines as syslog text with the year given (fixtures/journal, `scripts/make-journal-fixtures`).

use super::*;

/// The JSON Lines records of `text` without the fields named in `drop`.
fn without(text: &str, drop: &[&str]) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
            let m = v.as_object_mut().expect("object");
            for k in drop {
                m.remove(*k);
            }
            v
        })
        .collect()
}

/// Where the deciding line is differs: the journal holds other units' lines too.
const SOURCE: &[&str] = &["source_file", "source_line"];

fn records(args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let out = run(args);
    assert_ok(&out);
    let recs = without(&String::from_utf8(out.stdout).expect("utf-8"), SOURCE);
    (recs, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn journal_json_and_export_give_the_records_of_the_same_syslog_lines() {
    let (text, _) = records(&[
        "--year",
        "2026",
        "--tz",
        "UTC",
        "-f",
        "jsonl",
        "fixtures/journal/mail.log",
    ]);
    assert!(text.len() >= 4, "{}", text.len());
    for f in ["fixtures/journal/mail.json", "fixtures/journal/mail.export"] {
        // No --year: a journal entry's time is an instant.
        let (journal, err) = records(&["--stats", "--tz", "UTC", "-f", "jsonl", f]);
        assert_eq!(journal, text, "{f}");
        // Other units' entries are ignored and counted.
        assert!(err.contains("54 recognised, 13 unknown"), "{f}: {err}");
        assert!(
            err.contains(&format!("{f}: 67 lines, journal ")),
            "{f}: {err}"
        );
        assert!(
            err.contains("year from the journal's timestamps"),
            "{f}: {err}"
        );
    }
}

#[test]
fn journal_fields_make_each_part_of_the_record() {
    // A multi-host stream: each record's host is its entry's _HOSTNAME; the program
    // (postfix/smtpd, not _COMM's smtpd) is what makes it a Postfix line; a MESSAGE given as
    // bytes (not UTF-8) is read whole.
    let (recs, _) = records(&["--tz", "UTC", "-f", "jsonl", "fixtures/journal/mail.export"]);
    let hosts: std::collections::BTreeSet<&str> =
        recs.iter().filter_map(|r| r["host"].as_str()).collect();
    assert!(hosts.len() >= 2, "{hosts:?}");
    assert!(recs.iter().all(|r| r["mta"] == "postfix"));
    assert!(
        recs.iter()
            .any(|r| r["recipient"] == "j\u{fffd}r\u{fffd}me@example.fr"),
        "{recs:?}"
    );
    // The time is __REALTIME_TIMESTAMP, written in the run's zone.
    let (berlin, _) = records(&[
        "--tz",
        "Europe/Berlin",
        "-f",
        "jsonl",
        "fixtures/journal/mail.json",
    ]);
    assert_eq!(berlin.len(), recs.len());
    for (b, u) in berlin.iter().zip(&recs) {
        assert_eq!(b["ts"], u["ts"]);
        // Berlin's offset at that instant (winter or summer time), not UTC's.
        let local = b["ts_local"].as_str().expect("ts_local");
        assert!(
            local.ends_with("+01:00") || local.ends_with("+02:00"),
            "{b}"
        );
    }
    // On stdin, recognised by its content like the compressions.
    let bytes = std::fs::read(fixture("journal/mail.json")).expect("read");
    let piped = stdin_convert(&bytes, &["--tz", "UTC", "-f", "jsonl"]);
    let (file, _) = records(&["--tz", "UTC", "-f", "jsonl", "fixtures/journal/mail.json"]);
    assert_eq!(without(&piped, SOURCE), file);
}

/// With `--state`, the journal cursor is the bookmark: a second run over a stream that starts
/// elsewhere (`journalctl --since` an hour before the last run) writes only the entries after
/// it, and two runs write what one run over the whole stream writes.
#[test]
fn with_state_a_journal_goes_on_after_its_cursor() {
    let dir = tempdir();
    let all = std::fs::read_to_string(fixture("journal/mail.json")).expect("read");
    let lines: Vec<&str> = all.lines().collect();
    // The overlap (entries 41-56) holds two records.
    let (first, second) = (lines[..56].join("\n") + "\n", lines[40..].join("\n") + "\n");
    let run_state = |state: &Path, stream: &str| -> String {
        let p = dir.path().join("stream.json");
        std::fs::write(&p, stream).expect("write");
        let out = bin()
            .args(["--tz", "UTC", "-f", "jsonl", "--state"])
            .arg(state)
            .arg(&p)
            .output()
            .expect("run");
        assert_ok(&out);
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let strip = |text: &str| -> Vec<serde_json::Value> {
        let mut v = without(text, &["source_line"]);
        v.sort_by_key(|r| r.to_string());
        v
    };
    let nightly = dir.path().join("nightly.state");
    let mut two = run_state(&nightly, &first);
    two += &run_state(&nightly, &second);
    let once = run_state(&dir.path().join("once.state"), &(lines.join("\n") + "\n"));
    assert!(!once.is_empty());
    assert_eq!(strip(&two), strip(&once));
}
