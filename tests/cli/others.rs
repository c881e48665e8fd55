//! MDaemon and Exchange tracking logs (maillogconvert.pl's records for them), `--mta`, and the
//! per-MTA line counts of `--stats`.

use super::*;

#[test]
fn mdaemon_and_exchange_match_maillogconvert_records() {
    // Golden outputs; scripts/differential checks them against maillogconvert.pl itself.
    for name in ["mdaemon/mdaemon", "exchange/exchange"] {
        let log = fixture(&format!("{name}.log"));
        let got = stdout(&["--tz", "UTC", log.to_str().expect("p")]);
        assert_golden(&format!("{name}.awstats"), got.as_bytes());
    }
    let ex = stdout(&[
        "--tz",
        "UTC",
        fixture("exchange/exchange.log").to_str().expect("p"),
    ]);
    // Event 1019 is not a delivery; the repeated 1028 of one message counts once.
    assert_eq!(ex.lines().count(), 3, "{ex}");
    let md = stdout(&[
        "--tz",
        "UTC",
        fixture("mdaemon/mdaemon.log").to_str().expect("p"),
    ]);
    assert!(
        md.contains(" SMTP ?virus=&rbl=sbl.example&heuristicspam=5.2&ssl=1 1 8811"),
        "{md}"
    );
    assert_eq!(md.lines().count(), 3, "POP3 lines are not deliveries: {md}");
}

#[test]
fn mta_option_reads_a_custom_postfix_syslog_name() {
    // A Postfix whose syslog_name is `mx-in`: recognised only with --mta postfix.
    let log = "\
Mar 14 09:00:00 mx1 mx-in/qmgr[99]: 1111111111: from=<alice@alice.example>, size=1000, nrcpt=1 (queue active)
Mar 14 09:00:01 mx1 mx-in/smtp[102]: 1111111111: to=<x@example.com>, relay=mx.example.com[198.51.100.5]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as AAA111)
";
    assert_eq!(stdin_convert(log.as_bytes(), &["--year", "2026"]), "");
    let out = stdin_convert(log.as_bytes(), &["--year", "2026", "--mta", "postfix"]);
    assert_eq!(out, "2026-03-14 09:00:01 alice@alice.example x@example.com alice.example mx.example.com SMTP - 1 1000\n");
}

#[test]
fn stats_count_lines_per_mta_in_a_mixed_file() {
    let out = run(&[
        "--stats",
        "--year",
        "2026",
        fixture("mixed/sendmail-postfix.log").to_str().expect("p"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lines by MTA: postfix 5, sendmail 2"), "{err}");
}
