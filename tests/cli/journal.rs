//! systemd journal input (`journalctl -o json`, `-o export`): the same records as the same
//! lines as syslog text with the year given (fixtures/journal, `scripts/make-journal-fixtures`).

use super::*;

fn records(args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let out = run(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
            // Where the deciding line is differs: the journal holds other units' lines too.
            let m = v.as_object_mut().expect("object");
            m.remove("source_file");
            m.remove("source_line");
            v
        })
        .collect();
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
    let piped: Vec<serde_json::Value> = piped
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
            let m = v.as_object_mut().expect("object");
            m.remove("source_file");
            m.remove("source_line");
            v
        })
        .collect();
    assert_eq!(piped, file);
}
