//! OpenSMTPD (issue 16's proof of the restructure): real lines converted to AWStats, CSV and
//! Parquet golden files, a content-filter hop through smtpd on 127.0.0.1, session-keyed clients
//! and rejects, and the same bytes with any number of threads.

use super::*;

const LOG: &str = "opensmtpd/maillog";

fn convert_to(format: &str, threads: &str) -> Vec<u8> {
    let dir = tempdir();
    let out = dir.path().join(format!("out.{format}"));
    let st = bin()
        .args([
            "--year", "2026", "--tz", "UTC", "-j", threads, "-f", format, "-o",
        ])
        .arg(&out)
        .arg(rel_fixture(LOG))
        .status()
        .expect("run");
    assert!(st.success(), "{format} -j{threads}");
    std::fs::read(&out).expect("read")
}

#[test]
fn opensmtpd_golden_awstats_csv_and_parquet() {
    for (format, ext) in [
        ("awstats", "awstats"),
        ("csv", "csv"),
        ("parquet", "parquet"),
    ] {
        let got = convert_to(format, "1");
        assert_golden(&format!("{LOG}.{ext}"), &got);
        for j in ["2", "3", "8"] {
            assert_eq!(convert_to(format, j), got, "{format} -j{j}");
        }
    }
}

#[test]
fn opensmtpd_sessions_hops_and_rejects() {
    let csv = String::from_utf8(convert_to("csv", "1")).expect("utf-8");
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    // queue_id, sender, recipient, client_host, client_ip, status, prev/next queue IDs.
    let pick =
        |r: &Vec<&str>| [r[4], r[6], r[7], r[9], r[10], r[16], r[30], r[31]].map(str::to_string);
    let got: Vec<[String; 8]> = rows.iter().map(pick).collect();
    let want = [
        [
            "78e5c402",
            "info@blunix.com",
            "clarence.manning@example.com",
            "mail.blunix.com",
            "85.215.236.191",
            "sent",
            "",
            "",
        ],
        [
            "c405e39a",
            "gilles@poolp.org",
            "gilles@poolp.org",
            "poolp.org",
            "",
            "sent",
            "",
            "",
        ],
        // The hop to the content filter on 127.0.0.1:10027, re-queued as f6e94209 ...
        [
            "3d4c4a42",
            "gilles@poolp.org",
            "gilles.chehade@gmail.com",
            "poolp.org",
            "",
            "sent",
            "f6e94209",
            "",
        ],
        // ... whose delivery keeps the first hop's client, not the filter's 127.0.0.1.
        [
            "f6e94209",
            "gilles@poolp.org",
            "gilles.chehade@gmail.com",
            "poolp.org",
            "",
            "sent",
            "",
            "3d4c4a42",
        ],
        [
            "",
            "",
            "root@cun.bsdsx.fr",
            "cun.bsdsx.fr",
            "",
            "rejected",
            "",
            "",
        ],
        ["8f26ea98", "", "user@tin.it", "", "", "deferred", "", ""],
    ]
    .map(|r| r.map(str::to_string));
    assert_eq!(got, want);
    let stats = run(&["--year", "2026", "--stats", &rel_fixture(LOG)]);
    let err = String::from_utf8_lossy(&stats.stderr);
    assert!(err.contains("lines by MTA: opensmtpd 31"), "{err}");
    assert!(
        err.contains("31 recognised, 0 unknown, 0 malformed"),
        "{err}"
    );
}
