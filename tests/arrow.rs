//! `maillogconv::arrow::read`: the records as Arrow batches, the same as the Parquet the CLI
//! writes for the same inputs (schema, rows, order), without a file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow_array::{RecordBatch, RecordBatchReader};
use maillogconv::config::Config;
use maillogconv::input::Input;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(inputs: &[&str]) -> Config {
    Config {
        inputs: inputs.iter().map(|p| Input::Path(root().join(p))).collect(),
        year: Some(2026),
        tz: jiff::tz::TimeZone::UTC,
        threads: 2,
        ..Config::default()
    }
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).expect("concat")
}

#[test]
fn batches_equal_the_parquet_of_the_same_inputs() {
    let inputs = [
        "fixtures/corpus/gitpan-Mail-Log-Parse/log",
        "fixtures/rotation/newyear",
        "fixtures/exim/fail2ban-exim.log",
    ];
    let reader = maillogconv::arrow::read(config(&inputs));
    let schema = reader.schema();
    let got: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    assert!(!got.is_empty());
    assert!(got.iter().all(|b| b.schema() == schema));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.parquet");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_maillogconv"))
        .current_dir(root())
        .args(["--year", "2026", "--tz", "UTC", "-o"])
        .arg(&out)
        .args(inputs)
        .status()
        .expect("run");
    assert!(status.success());
    let file = std::fs::File::open(&out).expect("open");
    let want: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader")
            .map(|b| b.expect("batch"))
            .collect();
    let (got, want) = (concat(&got), concat(&want));
    assert_eq!(got.num_rows(), want.num_rows());
    assert!(got.num_rows() > 100, "{}", got.num_rows());
    // The `source_file` column holds the input's name as given: absolute here, relative there.
    for (i, f) in schema.fields().iter().enumerate() {
        if f.name() == "source_file" {
            continue;
        }
        assert_eq!(
            got.column(i).as_ref(),
            want.column(i).as_ref(),
            "column {}",
            f.name()
        );
    }
}

#[test]
fn an_unreadable_input_ends_the_batches_with_an_error_naming_it() {
    let reader = maillogconv::arrow::read(config(&[
        "fixtures/postfix/awstats-e2e.log",
        "fixtures/no/such.log",
    ]));
    let items: Vec<_> = reader.collect();
    assert!(items.len() >= 2);
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));
    let err = items
        .last()
        .expect("last")
        .as_ref()
        .expect_err("error")
        .to_string();
    assert!(err.contains("fixtures/no/such.log"), "{err}");
}

#[test]
fn a_reader_dropped_early_stops_the_run() {
    let mut reader =
        maillogconv::arrow::read(config(&["fixtures/corpus/gitpan-Mail-Log-Parse/log"]));
    assert!(reader.next().is_some());
    drop(reader);
}

/// `read_with_date`'s `date` is the `date` partition the CLI writes each record into.
#[test]
fn the_date_column_is_the_dataset_partition() {
    let inputs = [
        "fixtures/rotation/newyear",
        "fixtures/postfix/awstats-e2e.log",
    ];
    let mut cfg = config(&inputs);
    cfg.tz = jiff::tz::TimeZone::get("Europe/Berlin").expect("tz");
    let reader = maillogconv::arrow::read_with_date(cfg);
    assert_eq!(reader.schema(), maillogconv::arrow::schema_with_date());
    let mut got = std::collections::BTreeMap::<String, usize>::new();
    for b in reader {
        let b = b.expect("batch");
        let dates = b
            .column_by_name("date")
            .expect("date")
            .as_any()
            .downcast_ref::<arrow_array::Date32Array>()
            .expect("date32");
        for i in 0..dates.len() {
            let d = dates.value_as_date(i).expect("a date");
            *got.entry(d.to_string()).or_default() += 1;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ds = dir.path().join("ds");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_maillogconv"))
        .current_dir(root())
        .args([
            "--year",
            "2026",
            "--tz",
            "Europe/Berlin",
            "--partition-by",
            "date",
            "-o",
        ])
        .arg(&ds)
        .args(inputs)
        .status()
        .expect("run");
    assert!(status.success());
    let mut want = std::collections::BTreeMap::<String, usize>::new();
    for part in std::fs::read_dir(&ds).expect("dataset") {
        let part = part.expect("entry").path();
        let Some(date) = part
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("date="))
            .map(str::to_owned)
        else {
            continue;
        };
        for f in std::fs::read_dir(&part).expect("partition") {
            let file = std::fs::File::open(f.expect("file").path()).expect("open");
            let rows = parquet::file::reader::SerializedFileReader::new(file)
                .map(|r| {
                    parquet::file::reader::FileReader::metadata(&r)
                        .file_metadata()
                        .num_rows()
                })
                .expect("parquet");
            *want.entry(date.clone()).or_default() += rows as usize;
        }
    }
    assert!(want.len() >= 3, "{want:?}");
    assert_eq!(got, want);
}
