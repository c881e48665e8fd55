//! qmail: multilog (TAI64N), tai64nlocal and splogger lines; message numbers reused.

use super::*;

fn conv_q(name: &str, extra: &[&str]) -> String {
    let p = fixture(&format!("qmail/{name}.log"));
    let mut args = vec!["--tz", "UTC"];
    args.extend(extra);
    args.push(p.to_str().expect("p"));
    stdout(&args)
}

#[test]
fn golden_awstats_for_qmail_fixtures() {
    for name in [
        "multilog-one",
        "multilog-two",
        "multilog-newyear",
        "tai64nlocal-one",
        "splogger",
    ] {
        let got = conv_q(name, &["--year", "2003"]);
        assert_golden(&format!("qmail/{name}.awstats"), got.as_bytes());
    }
}

#[test]
fn qmail_multilog_records_keep_their_own_year_across_new_year() {
    // --year says 2003; the TAI64N labels say Dec 31 2025 → Jan 1 2026, and win.
    let out = conv_q("multilog-newyear", &["--year", "2003", "-f", "jsonl"]);
    let v: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a record")).expect("json");
    assert_eq!(v["ts"], "2026-01-01T00:00:02Z");
    assert_eq!(v["received_ts"], "2025-12-31T23:59:58Z");
    assert_eq!(v["mta"], "qmail");
}

#[test]
fn qmail_reused_message_number_starts_a_new_message() {
    // Lines of multilog-one.log, relabelled: `new msg 93869` comes again before the first
    // message's `end msg` was logged (a lost line); the second message has its own sender.
    let log = "\
@4000000038c3eeb027f41c7c new msg 93869
@4000000038c3eeb027f6b0a4 info msg 93869: bytes 2343 from <dave@sill.org> qp 18695 uid 49491
@4000000038c3eeb204a6ecf4 new msg 93869
@4000000038c3eeb304a6ecf4 info msg 93869: bytes 999 from <other@sill.org> qp 18696 uid 49491
@4000000038c3eeb402877ee9 starting delivery 2392: msg 93869 to remote lwq@w3.to
@4000000038c3eeb504a13804 delivery 2392: success: 209.85.127.177_accepted_message./Remote_host_said:_250_CAA01516_Message_accepted_for_delivery/
";
    let out = stdin_convert(log.as_bytes(), &["--tz", "UTC"]);
    assert!(
        out.contains(" other@sill.org lwq@w3.to sill.org - SMTP - 1 999"),
        "{out}"
    );
}

#[test]
fn qmail_deliveries_are_matched_by_delivery_number_across_files() {
    // msg 12345 starts in multilog-one.log and is delivered in multilog-two.log.
    let one = fixture("qmail/multilog-one.log");
    let two = fixture("qmail/multilog-two.log");
    let out = stdout(&[
        "--tz",
        "UTC",
        "-f",
        "jsonl",
        one.to_str().expect("p"),
        two.to_str().expect("p"),
    ]);
    let qids: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["queue_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(qids.contains(&"12345".to_string()), "{qids:?}");
}

#[test]
fn qmail_record_is_timed_by_its_delivery_result() {
    // tai64nlocal-one.log: `starting delivery 2392` at 17:45:10.678948500, its result at
    // 17:45:11.077673500 (maillogconvert.pl uses the start: 17:45:10).
    let out = conv_q("tai64nlocal-one", &[]);
    assert!(
        out.starts_with("2000-03-06 17:45:11 dave@sill.org lwq@w3.to "),
        "{out}"
    );
}
