//! `maillogconv._native`: the Rust engine for Python. `read` runs the pipeline over one host
//! family's inputs and hands its records to pyarrow as a `RecordBatchReader` through the Arrow
//! C stream interface (no copy; the pipeline waits while two batches are not taken). `hosts`
//! groups a tree or a central log into host families. `main` is the command line, the same
//! code as the `maillogconv` binary. The Python package (`python/maillogconv/`) wraps these.

use arrow_array::RecordBatchReader;
use arrow_pyarrow::{IntoPyArrow, ToPyArrow};
use maillogconv::config::{Config, Mta};
use maillogconv::input::Input;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

fn mta_named(name: &str) -> PyResult<Mta> {
    Mta::ALL
        .iter()
        .copied()
        .find(|m| m.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Mta::ALL.iter().map(|m| m.name()).collect();
            PyValueError::new_err(format!(
                "unknown MTA {name:?} (one of {})",
                names.join(", ")
            ))
        })
}

/// The records of `paths` (files, directories, a tree of hosts, glob patterns), oldest file
/// first, as a `pyarrow.RecordBatchReader` in the schema of the Parquet output (with `date`:
/// plus each record's local date). An input that cannot be read raises when the reader
/// reaches the end, naming it.
#[pyfunction]
#[pyo3(signature = (paths, *, tz=None, year=None, mta=None, host=None, only_host=None,
                    threads=None, strict=false, max_line_length=None, date=false))]
#[allow(clippy::too_many_arguments)]
fn read<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    tz: Option<&str>,
    year: Option<i16>,
    mta: Option<&str>,
    host: Option<String>,
    only_host: Option<String>,
    threads: Option<usize>,
    strict: bool,
    max_line_length: Option<usize>,
    date: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if paths.is_empty() {
        return Err(PyValueError::new_err("no input paths"));
    }
    let mut cfg = Config {
        inputs: paths.into_iter().map(Input::Path).collect(),
        year,
        host,
        only_host,
        strict,
        threads: threads
            .unwrap_or_else(maillogconv::cli::default_threads)
            .max(1),
        ..Config::default()
    };
    if let Some(tz) = tz {
        cfg.tz = maillogconv::cli::parse_tz(tz).map_err(PyValueError::new_err)?;
    }
    if let Some(m) = mta {
        cfg.mta = Some(mta_named(m)?);
    }
    if let Some(n) = max_line_length {
        cfg.max_line_length = n;
    }
    let reader: Box<dyn RecordBatchReader + Send> = if date {
        Box::new(maillogconv::arrow::read_with_date(cfg))
    } else {
        Box::new(maillogconv::arrow::read(cfg))
    };
    reader.into_pyarrow(py)
}

/// The schema of `read`'s batches, as a `pyarrow.Schema`.
#[pyfunction]
#[pyo3(signature = (*, date=false))]
fn schema(py: Python<'_>, date: bool) -> PyResult<Bound<'_, PyAny>> {
    let s = if date {
        maillogconv::arrow::schema_with_date()
    } else {
        maillogconv::output::parquet::schema()
    };
    s.as_ref().to_pyarrow(py)
}

/// Host families of `paths`: a list of dicts `{host, paths, only_host}`, by host.
#[pyfunction]
fn hosts<'py>(py: Python<'py>, paths: Vec<PathBuf>) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let inputs: Vec<Input> = paths.into_iter().map(Input::Path).collect();
    let families = py
        .detach(|| maillogconv::hosts::families(&inputs))
        .map_err(|e| PyOSError::new_err(maillogconv::error::chain(&e)))?;
    families
        .into_iter()
        .map(|f| {
            let d = PyDict::new(py);
            d.set_item("host", f.host)?;
            d.set_item("paths", f.paths)?;
            d.set_item("only_host", f.only_host)?;
            Ok(d)
        })
        .collect()
}

/// Runs the command line `argv` (the program name first); returns its exit code.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> u8 {
    py.detach(|| maillogconv::command::main(argv))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_function(wrap_pyfunction!(hosts, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
