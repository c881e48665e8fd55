//! Correlation in shards: a line per chunk puts every tied key (a content-filter hop, a bounce
//! notification, a qmail delivery, an OpenSMTPD session) in another chunk than the lines before
//! it, so the router moves states between shards at nearly every tie. Every field of every
//! record must be the same as with whole-file chunks, on any number of threads and groups.

use super::*;

fn jsonl(
    inputs: &[PathBuf],
    chunk_size: usize,
    threads: usize,
    groups: usize,
    ends: bool,
) -> Vec<u8> {
    let dir = tempdir();
    let out = dir.path().join("out.jsonl");
    let cfg = maillogconv::config::Config {
        inputs: inputs
            .iter()
            .map(|p| maillogconv::input::Input::Path(p.clone()))
            .collect(),
        output: Some(out.clone()),
        format: maillogconv::config::Format::Jsonl,
        year: Some(2026),
        threads,
        groups: Some(groups),
        ends: Some(ends),
        chunk_size,
        ..maillogconv::config::Config::default()
    };
    let summary = maillogconv::run(&cfg, &maillogconv::Cancel::new()).expect("run");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    std::fs::read(out).expect("read")
}

#[test]
fn tied_keys_in_other_chunks_give_the_same_records() {
    for (rel, tie) in [
        ("postfix/content-filter.log", "\"prev_queue_id\":\""),
        ("postfix/error-bounce.log", "\"prev_queue_id\":\""),
        ("qmail/splogger.log", "\"recipient\":\""),
        ("qmail/multilog-one.log", "\"recipient\":\""),
        ("opensmtpd/maillog", "\"client_ip\":\""),
        ("sendmail/reject-then-sender.log", "\"sender\":\""),
        ("sendmail/gitpan-sendmail-plain.log", "\"prev_queue_id\":\""),
        ("exim/testsuite-0021.log", "\"prev_queue_id\":\""),
    ] {
        let input = [fixture(rel)];
        let whole = jsonl(&input, 1 << 20, 1, 1, false);
        let text = String::from_utf8_lossy(&whole);
        // The test means something only if the fixture has records that need the tie.
        assert!(text.contains(tie), "{rel}: no record with {tie}");
        // Whole-file chunks in two or three groups: the writer merges the groups' records of
        // one chunk back into input order (records of one second keep it in time order).
        for (threads, groups) in [(2, 2), (3, 3)] {
            let split = jsonl(&input, 1 << 20, threads, groups, false);
            assert_eq!(
                String::from_utf8_lossy(&split),
                text,
                "{rel}: whole chunks, {threads} threads, {groups} groups"
            );
        }
        // More groups than cores too: each worker then runs several. Two workers keeping an
        // end each as well (on one core they are one worker).
        for (threads, groups, ends) in [
            (1, 1, false),
            (2, 2, false),
            (3, 3, false),
            (2, 7, false),
            (2, 64, false),
            (2, 1, true),
            (2, 5, true),
        ] {
            let small = jsonl(&input, 64, threads, groups, ends);
            assert_eq!(
                String::from_utf8_lossy(&small),
                text,
                "{rel}: a line a chunk, {threads} threads, {groups} groups, ends {ends}"
            );
        }
    }
}
