//! Sendmail: real lines (yudai09/fluent-plugin-sendmail, gitpan/Parse-Syslog-Mail, fail2ban), one
//! test per difference from maillogconvert.pl (README), golden outputs.

use super::*;

fn conv_sm(name: &str) -> String {
    let p = fixture(&format!("sendmail/{name}.log"));
    let out = run(&["--year", "2026", "--tz", "UTC", p.to_str().expect("p")]);
    assert_ok(&out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn golden_awstats_for_sendmail_fixtures() {
    for name in [
        "yudai09-data",
        "gitpan-sendmail-plain",
        "fail2ban-sendmail-reject",
        "gitpan-sendmail-custom-dsn",
        "reject-then-sender",
    ] {
        let got = conv_sm(name);
        assert_golden(&format!("sendmail/{name}.awstats"), got.as_bytes());
    }
}

/// maillogconvert.pl writes a `check_rcpt` reject twice, with `<>` and again with the sender
/// the session's `from=…, nrcpts=0` line names; and misses a failure logged without ctladdr=.
#[test]
fn sendmail_reject_is_written_once_with_its_sender_and_bounces_need_no_ctladdr() {
    let out = conv_sm("reject-then-sender");
    let naver: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" websiteman@naver.com ") && l.contains(" 550 "))
        .collect();
    assert_eq!(
        naver,
        ["2026-10-31 21:05:17 jamesjoa@gmail.com websiteman@naver.com 61.83.89.93 - SMTP - 550 ?"]
    );
    assert!(
        out.contains("2026-10-31 21:03:44 master@epcs.co.kr websiteman@icmms.co.kr 119.202.74.194 mx.yandex.net SMTP - 550 1148"),
        "{out}"
    );
}

#[test]
fn sendmail_multi_recipient_to_lines_give_one_record_each() {
    // `to=<sent1@example.com>,<sent2@example.com>`: maillogconvert.pl writes sent1 only.
    let out = conv_sm("yudai09-data");
    for r in [
        "sent1@example.com",
        "sent2@example.com",
        "sent3@example2.com",
        "sent4@example2.com",
    ] {
        assert_eq!(
            out.lines().filter(|l| l.contains(r)).count(),
            1,
            "{r}: {out}"
        );
    }
}

#[test]
fn sendmail_ctladdr_is_not_the_sender() {
    // maillogconvert.pl reports `ctladdr=root@localhost.localdomain` as the sender.
    let out = conv_sm("yudai09-data");
    assert!(out.contains("2026-04-02 00:15:25 grandeur09@gmail.com root@localhost.localdomain 64.233.187.27 localhost SMTP - 1 5938"), "{out}");
}

#[test]
fn sendmail_msp_hand_off_is_one_delivery() {
    // The MSP submits to the local MTA (`relay=localhost [127.0.0.1]`, `stat=Sent (ID Message
    // accepted for delivery)`), which delivers: maillogconvert.pl counts both.
    let out = conv_sm("gitpan-sendmail-plain");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(" localhost localhost SMTP"))
            .count(),
        0,
        "{out}"
    );
    assert!(out.starts_with("2026-01-06 02:37:43 maddingue@jupiter.maddingue.net cpan-testers@perl.org localhost mx.develooper.com SMTP - 1 2262\n"), "{out}");
    assert_eq!(out.lines().count(), 58);
}

#[test]
fn sendmail_smtp_time_refusals_are_rejects_and_check_relay_is_not_a_mail() {
    let out = conv_sm("fail2ban-sendmail-reject");
    // `<arhipov@domain.com>... No such user here` (maillogconvert.pl: nothing).
    assert!(
        out.contains(" <> arhipov@domain.com localhost - SMTP - 999 ?"),
        "{out}"
    );
    // check_relay names no sender or recipient (maillogconvert.pl: `<> <> … 421`).
    assert!(!out.contains(" <> <> "), "{out}");
    // `relay=[192.0.2.100] (may be forged)`: the client is the ip (maillogconvert.pl: localhost).
    assert!(
        out.contains(" <> existing-user@example.com 192.0.2.100 - SMTP - 451 ?"),
        "{out}"
    );
    // sm-acceptingconnections is Sendmail too (maillogconvert.pl reads sendmail/sm-mta only).
    assert!(
        out.contains(" user@host.com 74-137-127-206.dhcp.insightbb.com - SMTP - 550 ?"),
        "{out}"
    );
}

#[test]
fn sendmail_to_postfix_hand_off_yields_each_final_delivery_once() {
    // A gateway: Sendmail relays to Postfix on 127.0.0.1. The Sendmail lines and the Postfix
    // qmgr line are from infohtreasure-Postfix-Maillog-Dump; the Postfix delivery is constructed.
    let log = std::fs::read_to_string(fixture("mixed/sendmail-postfix.log")).expect("fixture");
    let out = stdin_convert(
        log.as_bytes(),
        &["--year", "2026", "--tz", "UTC", "-f", "jsonl"],
    );
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let finals: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| r["next_queue_id"].is_null())
        .collect();
    assert_eq!(finals.len(), 1, "{out}");
    assert_eq!(finals[0]["mta"], "postfix");
    assert_eq!(finals[0]["prev_queue_id"], "21QBRGdX006005");
    let aw = stdin_convert(log.as_bytes(), &["--year", "2026", "--tz", "UTC"]);
    assert_eq!(aw.lines().count(), 1, "{aw}");
}
