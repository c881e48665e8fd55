//! Structured outputs: golden CSV, JSON Lines and CLF (addresses with spaces, quotes, commas,
//! formula characters and Latin-1 bytes), Parquet read back and compared with the JSON Lines
//! of the same run, partitioned datasets: re-runs byte-identical, failures leave the old one.

use super::*;
use arrow_array::{
    Array, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const HOSTILE: &str = "postfix/hostile-addresses.log";

fn bytes_out(args: &[&str]) -> Vec<u8> {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn golden_csv_jsonl_and_clf_with_hostile_addresses() {
    let f = rel_fixture(HOSTILE);
    let f = f.as_str();
    for (format, ext) in [("csv", "csv"), ("jsonl", "jsonl"), ("clf", "clf")] {
        let got = bytes_out(&["--year", "2026", "--tz", "UTC", "-f", format, f]);
        assert_golden(&format!("formats/hostile.{ext}"), &got);
    }
}

#[test]
fn non_utf8_bytes_are_kept_exact_in_awstats_and_clf_and_replaced_visibly_in_csv_and_json() {
    let f = rel_fixture(HOSTILE);
    let f = f.as_str();
    let awstats = bytes_out(&["--year", "2026", "--tz", "UTC", f]);
    assert!(
        awstats.windows(8).any(|w| w == b"j\xe9r\xf4me@e"),
        "AWStats is byte-exact"
    );
    // CLF (like AWStats) keeps the Latin-1 bytes exactly; CSV and JSON are UTF-8 and replace
    // them visibly; every format stays one line per record.
    let clf = bytes_out(&["--year", "2026", "--tz", "UTC", "-f", "clf", f]);
    assert!(
        clf.windows(8).any(|w| w == b"j\xe9r\xf4me@e"),
        "CLF is byte-exact"
    );
    let csv = bytes_out(&["--year", "2026", "--tz", "UTC", "-f", "csv", f]);
    assert!(String::from_utf8(csv.clone())
        .expect("CSV is UTF-8")
        .contains("j\u{fffd}r\u{fffd}me@example.fr"));
    let jsonl = bytes_out(&["--year", "2026", "--tz", "UTC", "-f", "jsonl", f]);
    assert!(
        String::from_utf8(jsonl)
            .expect("JSON Lines is UTF-8")
            .contains("j\u{fffd}r\u{fffd}me@example.fr"),
        "replaced visibly"
    );
}

#[test]
fn csv_formula_characters_and_quoted_commas_are_written_unchanged_as_documented() {
    // README "CSV": fields starting with = + - @ are data, not neutralised with a quote.
    let f = rel_fixture(HOSTILE);
    let f = f.as_str();
    let csv = bytes_out(&["--year", "2026", "--tz", "UTC", "-f", "csv", f]);
    let mut rdr = csv::Reader::from_reader(csv.as_slice());
    let rows: Vec<csv::ByteRecord> = rdr.byte_records().map(|r| r.expect("csv row")).collect();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.len() == 36));
    assert_eq!(
        &rows[0][7], b"\"a,b\"@example.net",
        "a quoted comma survives a CSV round trip"
    );
    let recipients: Vec<&[u8]> = rows.iter().map(|r| &r[7]).collect();
    for lead in [&b"=cmd|"[..], b"+plus@", b"@evil@"] {
        assert!(
            recipients.iter().any(|r| r.starts_with(lead)),
            "{:?} kept as is",
            String::from_utf8_lossy(lead)
        );
    }
    assert!(rows.iter().any(|r| &r[6][..] == b"-minus@example.com"));
    let jsonl = bytes_out(&["--year", "2026", "--tz", "UTC", "-f", "jsonl", f]);
    let text = String::from_utf8(jsonl).expect("JSON Lines is UTF-8");
    assert_eq!(text.lines().count(), 5);
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
        assert!(v.is_object());
    }
    let clf = bytes_out(&["--year", "2026", "--tz", "UTC", "-f", "clf", f]);
    assert_eq!(
        clf.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(),
        5
    );
}

#[test]
fn format_follows_the_output_extension() {
    let dir = tempdir();
    let f = fixture("postfix/awstats-e2e.log");
    for ext in ["csv", "jsonl", "clf", "parquet"] {
        let o = dir.path().join(format!("out.{ext}"));
        bytes_out(&[
            "--year",
            "2026",
            "--tz",
            "UTC",
            "-o",
            o.to_str().expect("p"),
            f.to_str().expect("p"),
        ]);
        let explicit = dir.path().join(format!("explicit.{ext}.x"));
        bytes_out(&[
            "--year",
            "2026",
            "--tz",
            "UTC",
            "-f",
            ext,
            "-o",
            explicit.to_str().expect("p"),
            f.to_str().expect("p"),
        ]);
        assert_eq!(
            std::fs::read(&o).expect("o"),
            std::fs::read(&explicit).expect("x"),
            "{ext}"
        );
    }
    assert!(std::fs::read(dir.path().join("out.parquet"))
        .expect("p")
        .starts_with(b"PAR1"));
}

/// Reads every column of a Parquet file as JSON values (timestamps as ISO text).
fn parquet_rows(
    path: &Path,
) -> (
    Vec<serde_json::Map<String, serde_json::Value>>,
    arrow_schema::SchemaRef,
) {
    let file = std::fs::File::open(path).expect("open parquet");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet reader");
    let schema = builder.schema().clone();
    let meta = builder.metadata().clone();
    for rg in meta.row_groups() {
        let sorting = rg.sorting_columns().expect("sorting columns declared");
        assert_eq!(
            sorting.first().map(|s| (s.column_idx, s.descending)),
            Some((0, false))
        );
        for c in rg.columns() {
            assert_ne!(c.column_type(), parquet::basic::Type::INT96);
            assert!(matches!(
                c.compression(),
                parquet::basic::Compression::ZSTD(_)
            ));
        }
    }
    let mut rows = Vec::new();
    for batch in builder.build().expect("reader") {
        let batch = batch.expect("batch");
        for i in 0..batch.num_rows() {
            let mut row = serde_json::Map::new();
            for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
                let v = if col.is_null(i) {
                    serde_json::Value::Null
                } else {
                    match f.data_type() {
                        DataType::Utf8 => col
                            .as_any()
                            .downcast_ref::<StringArray>()
                            .expect("s")
                            .value(i)
                            .into(),
                        DataType::Int32 => col
                            .as_any()
                            .downcast_ref::<Int32Array>()
                            .expect("i")
                            .value(i)
                            .into(),
                        DataType::Int64 => col
                            .as_any()
                            .downcast_ref::<Int64Array>()
                            .expect("l")
                            .value(i)
                            .into(),
                        DataType::Float64 => col
                            .as_any()
                            .downcast_ref::<Float64Array>()
                            .expect("f")
                            .value(i)
                            .into(),
                        DataType::Timestamp(TimeUnit::Microsecond, _) => {
                            let us = col
                                .as_any()
                                .downcast_ref::<TimestampMicrosecondArray>()
                                .expect("t")
                                .value(i);
                            maillogconv::output::columns::utc_text(us).into()
                        }
                        other => panic!("unexpected type {other}"),
                    }
                };
                row.insert(f.name().clone(), v);
            }
            rows.push(row);
        }
    }
    (rows, schema)
}

#[test]
fn parquet_reads_back_equal_to_the_json_lines_of_the_same_records() {
    let dir = tempdir();
    let pq = dir.path().join("all.parquet");
    let inputs = [
        fixture(HOSTILE),
        fixture("postfix/awstats-e2e.log"),
        fixture("corpus/gitpan-Mail-Log-Parse/log"),
    ];
    let inputs: Vec<&str> = inputs.iter().map(|p| p.to_str().expect("p")).collect();
    let mut args = vec![
        "--year",
        "2026",
        "--tz",
        "Europe/Berlin",
        "-o",
        pq.to_str().expect("p"),
    ];
    args.extend(&inputs);
    bytes_out(&args);
    let mut jargs = vec!["--year", "2026", "--tz", "Europe/Berlin", "-f", "jsonl"];
    jargs.extend(&inputs);
    let jsonl = String::from_utf8(bytes_out(&jargs)).expect("utf-8");
    let want: Vec<serde_json::Map<String, serde_json::Value>> = jsonl
        .lines()
        .map(|l| match serde_json::from_str(l).expect("json") {
            serde_json::Value::Object(m) => m,
            _ => panic!("not an object"),
        })
        .collect();
    let (mut got, schema) = parquet_rows(&pq);
    // The inputs step back in time (three logs of different days): Parquet sorts each row
    // group by ts, JSON Lines keeps the order written. Compare in one order: ts, then where
    // the record came from.
    let mut want = want;
    let order = |m: &serde_json::Map<String, serde_json::Value>| {
        (
            m.get("ts").map(|v| v.to_string()).unwrap_or_default(),
            m.get("source_file")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            m.get("source_line").and_then(|v| v.as_u64()).unwrap_or(0),
        )
    };
    got.sort_by_key(order);
    want.sort_by_key(order);
    assert_eq!(got.len(), want.len());
    assert!(got.len() > 150);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        for (k, wv) in w {
            assert_eq!(g.get(k), Some(wv), "row {i}, column {k}");
        }
        assert_eq!(g.len(), w.len(), "row {i}: columns");
    }
    assert_eq!(
        schema.field_with_name("ts").expect("ts").data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(
        schema.field_with_name("size").expect("size").data_type(),
        &DataType::Int64
    );
}

/// The files of a dataset (its `.maillogconv` bookkeeping left out), with their bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("e").path();
            if p.file_name().is_some_and(|n| n == ".maillogconv") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .expect("rel")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// `date=…/part-KEY-00000.parquet` → `date=…/part-*-00000.parquet`.
fn shape(name: &str) -> String {
    match name.rsplit_once("/part-") {
        Some((dir, file)) => {
            let tail = file.rsplit_once('-').map_or(file, |(_, t)| t);
            format!("{dir}/part-*-{tail}")
        }
        None => name.to_string(),
    }
}

#[test]
fn partitioned_dataset_rerun_adds_nothing_and_another_day_adds_only_itself() {
    let dir = tempdir();
    let ds = dir.path().join("ds");
    let ds_s = ds.to_str().expect("p");
    let e2e = fixture("postfix/awstats-e2e.log");
    let run_ds = |inputs: &[&Path]| {
        let mut args = vec![
            "--year",
            "2026",
            "--tz",
            "UTC",
            "-o",
            ds_s,
            "--partition-by",
            "date",
        ];
        args.extend(inputs.iter().map(|p| p.to_str().expect("p")));
        bytes_out(&args);
    };
    run_ds(&[&e2e]);
    let first = tree(&ds);
    let names: Vec<String> = first.iter().map(|(n, _)| shape(n)).collect();
    assert_eq!(
        names,
        [
            "date=2026-03-14/part-*-00000.parquet",
            "date=2026-03-15/part-*-00000.parquet"
        ]
    );
    run_ds(&[&e2e]);
    assert_eq!(tree(&ds), first, "a re-run leaves a byte-identical dataset");
    // A run over another day adds that day and leaves the others alone.
    run_ds(&[&fixture(HOSTILE)]);
    let after = tree(&ds);
    assert_eq!(after.len(), 3);
    assert_eq!(after[0], first[0]);
    assert_eq!(after[1], first[1]);
    assert_eq!(shape(&after[2].0), "date=2026-06-01/part-*-00000.parquet");
    // date,host nests the host.
    let ds2 = dir.path().join("ds2");
    bytes_out(&[
        "--year",
        "2026",
        "--tz",
        "UTC",
        "-o",
        ds2.to_str().expect("p"),
        "--partition-by",
        "date,host",
        e2e.to_str().expect("p"),
    ]);
    let nested: Vec<String> = tree(&ds2).iter().map(|(n, _)| shape(n)).collect();
    assert!(
        nested.contains(&"date=2026-03-14/host_part=mx1/part-*-00000.parquet".to_string()),
        "{nested:?}"
    );
}

#[test]
fn a_run_that_fails_part_way_leaves_the_previous_dataset_intact() {
    // A 512 KiB file system fills up while the new dataset is written. unshare gives a private
    // mount namespace (as root, or as a user where user namespaces are allowed).
    let dir = tempdir();
    let big = dir.path().join("big.log");
    let mut text = String::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..40_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let q = format!("{:X}", 0x10_0000_0000u64 + (x & 0xF_FFFF_FFFF));
        let t = format!(
            "Mar 14 {:02}:{:02}:{:02}",
            i / 3600 % 24,
            i / 60 % 60,
            i % 60
        );
        text.push_str(&format!("{t} mx1 postfix/qmgr[1]: {q}: from=<u{x:x}@example.org>, size={}, nrcpt=1 (queue active)\n", x % 100_000));
        text.push_str(&format!("{t} mx1 postfix/smtp[2]: {q}: to=<r{x:x}@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 {x:x})\n"));
        text.push_str(&format!("{t} mx1 postfix/qmgr[1]: {q}: removed\n"));
    }
    std::fs::write(&big, text).expect("write");
    let script = format!(
        r#"set -e
mnt="{d}/mnt"; mkdir -p "$mnt"; mount -t tmpfs -o size=512k tmpfs "$mnt"
"{bin}" --year 2026 --tz UTC -o "$mnt/ds" --partition-by date "{small}"
find "$mnt/ds" -type f | sort > "{d}/before.list"; md5sum $(cat "{d}/before.list") > "{d}/before.md5"
set +e; "{bin}" --year 2026 --tz UTC -o "$mnt/ds" --partition-by date "{small}" "{big}" 2> "{d}/err"; echo $? > "{d}/rc"; set -e
find "$mnt/ds" | sort > "{d}/after.all"; md5sum $(cat "{d}/before.list") > "{d}/after.md5"
"#,
        d = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_maillogconv"),
        small = fixture("postfix/awstats-e2e.log").display(),
        big = big.display(),
    );
    let read = in_private_mounts(&script, dir.path());
    assert_eq!(read("rc").trim(), "1", "the run fails: {}", read("err"));
    assert!(
        read("err").contains("No space left on device"),
        "{}",
        read("err")
    );
    assert_eq!(
        read("before.md5"),
        read("after.md5"),
        "old partitions untouched"
    );
    let after = read("after.all");
    assert!(
        !after.contains(".maillogconv-tmp"),
        "temporary files removed: {after}"
    );
    assert_eq!(
        after.lines().filter(|l| l.ends_with(".parquet")).count(),
        2,
        "{after}"
    );
}

/// `--pseudonymize KEYFILE`: the same key gives the same pseudonyms in two runs and in every
/// format, another key other ones, and no local part of the log is left anywhere.
#[test]
fn pseudonyms_are_stable_per_key_and_no_local_part_is_left() {
    let dir = tempdir();
    let (k1, k2) = (dir.path().join("k1"), dir.path().join("k2"));
    std::fs::write(&k1, b"0123456789abcdef-first-key").expect("write");
    std::fs::write(&k2, b"0123456789abcdef-other-key").expect("write");
    let logs = [
        fixture("corpus/gitpan-Mail-Log-Parse/log"),
        fixture("postfix/rejects.log"),
        fixture("sendmail/gitpan-sendmail-plain.log"),
        fixture("exim/fail2ban-exim.log"),
    ];
    let conv = |key: &Path, fmt: &str| -> String {
        let mut c = bin();
        c.args(["--year", "2026", "--tz", "UTC", "-f", fmt, "--pseudonymize"])
            .arg(key)
            .args(["--pseudonymize-ips"]);
        for l in &logs {
            c.arg(l);
        }
        let out = c.output().expect("run");
        assert_ok(&out);
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let locals: std::collections::BTreeSet<String> = logs
        .iter()
        .flat_map(|l| {
            let text = String::from_utf8_lossy(&std::fs::read(l).expect("read")).into_owned();
            text.split(|c: char| c.is_whitespace() || "<>=,;:()[]\"'".contains(c))
                .filter_map(|w| w.rsplit_once('@').map(|(local, _)| local.to_owned()))
                .filter(|l| l.len() >= 3)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(locals.len() > 50, "{}", locals.len());
    for fmt in ["awstats", "csv", "jsonl", "clf"] {
        let out = conv(&k1, fmt);
        for l in &locals {
            assert!(!out.contains(&format!("{l}@")), "{fmt}: {l}@ is left");
        }
    }
    let jsonl = conv(&k1, "jsonl");
    assert_eq!(jsonl, conv(&k1, "jsonl"), "same key, same output");
    let other = conv(&k2, "jsonl");
    let first = |text: &str| -> serde_json::Value {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
            .find(|v| v["sender"].as_str().is_some_and(|s| s.contains('@')))
            .expect("a record with a sender")
    };
    let (a, b) = (first(&jsonl), first(&other));
    assert_ne!(a["sender"], b["sender"], "another key, other pseudonyms");
    assert_eq!(a["sender_domain"], b["sender_domain"], "the domain is kept");
    // The same pseudonym in the AWStats line, CSV and CLF.
    let pseudonym = a["sender"].as_str().expect("sender").to_owned();
    for fmt in ["awstats", "csv", "clf"] {
        assert!(
            conv(&k1, fmt).contains(&pseudonym),
            "{fmt} lacks {pseudonym}"
        );
    }
}
