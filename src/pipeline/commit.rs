//! One run from its outputs' side: opens the destination (stdout, a file, a file to append to,
//! or a dataset) and the state, runs the pipeline, and commits the output and the state
//! together, once, only if every input was read (a run with a failed input commits nothing
//! when it keeps a state or writes a dataset; a plain `-o FILE` is still written, as before).

use super::convert_from;
use super::state::{self, State};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::Error;
use crate::output::{self, Partitioned, RecordWriter, Sink};
use crate::stats::Summary;
use anyhow::Context as _;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

fn write_err(output: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Write { output, source }
}

/// Converts `cfg.inputs` into `cfg.output`.
pub fn run(cfg: &Config, cancel: &Cancel) -> anyhow::Result<Summary> {
    let Some(path) = cfg.state.as_deref() else {
        return run_with(cfg, cancel, None);
    };
    let _lock = state::lock(path).with_context(|| format!("cannot lock {}", path.display()))?;
    state::roll_forward(path)
        .with_context(|| format!("cannot finish the run before {}", path.display()))?;
    run_with(cfg, cancel, Some(path))
}

/// The name a state gives `format`: Parquet's says which form its held rows have.
fn state_format(format: output::Format) -> &'static str {
    match format {
        output::Format::Parquet => output::parquet::STATE_FORMAT,
        f => f.name(),
    }
}

/// The state at `path`, read once the output is open: opening a dataset finishes a commit a
/// killed run left, which may install a newer state.
fn load(cfg: &Config, path: Option<&Path>) -> anyhow::Result<Option<State>> {
    Ok(match path {
        Some(p) => Some(State::load(p, state_format(cfg.format))?),
        None => None,
    })
}

/// The state file's new contents, staged beside it.
fn staged_state(path: &Path, st: Option<State>) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let Some(st) = st else { return Ok(None) };
    let bytes = st.to_bytes()?;
    let staged = crate::files::stage(path, &bytes)
        .with_context(|| format!("cannot write the state {}", path.display()))?;
    // Absolute: a dataset's journal is finished by a run that may start elsewhere.
    Ok(Some((
        std::path::absolute(staged)?,
        std::path::absolute(path)?,
    )))
}

fn nothing_committed(summary: &mut Summary, what: &str) {
    summary.warnings.push(format!(
        "{what}: nothing was committed, because an input failed; the next run starts from the \
         same point"
    ));
}

fn run_with(cfg: &Config, cancel: &Cancel, state_path: Option<&Path>) -> anyhow::Result<Summary> {
    if let (false, Some(dir)) = (cfg.partition_by.is_empty(), cfg.output.as_ref()) {
        let mut dataset = Partitioned::create(dir, cfg.partition_by.clone())
            .with_context(|| format!("cannot open the dataset {}", dir.display()))?
            .encoders(cfg.threads)
            .with_context(|| format!("cannot start Parquet encoders for {}", dir.display()))?;
        let st = load(cfg, state_path)?;
        if st.is_some() {
            dataset = dataset.keep_covered();
        }
        let (mut summary, st) = convert_from(cfg, &mut dataset, cancel, st)?;
        let name = dir.display().to_string();
        dataset.finish().map_err(write_err(name.clone()))?;
        summary.stats.already_in_dataset = dataset.skipped();
        if !summary.errors.is_empty() {
            nothing_committed(&mut summary, &name);
            return Ok(summary);
        }
        let staged = match state_path {
            Some(p) => staged_state(p, st)?,
            None => None,
        };
        dataset
            .commit(&summary.coverage, staged)
            .map_err(write_err(name))?;
        return Ok(summary);
    }
    let st = load(cfg, state_path)?;
    if let (true, Some(out)) = (cfg.append, cfg.output.as_deref()) {
        return append(cfg, cancel, out, state_path, st);
    }
    let shown = cfg
        .output
        .as_ref()
        .map_or("<stdout>".to_string(), |p| p.display().to_string());
    let sink = Sink::open(cfg.output.as_deref())
        .with_context(|| format!("cannot create output next to {shown}"))?;
    let handle = sink
        .handle()
        .with_context(|| format!("cannot open {}", sink.name()))?;
    let mut writer = output::writer_with(cfg.format, handle, cfg.threads, false);
    let (mut summary, st) = convert_from(cfg, writer.as_mut(), cancel, st)?;
    writer.finish().map_err(write_err(sink.name()))?;
    drop(writer);
    let name = sink.name();
    let Some(state_path) = state_path else {
        sink.commit().map_err(write_err(name))?;
        return Ok(summary);
    };
    if !summary.errors.is_empty() {
        nothing_committed(&mut summary, &name);
        return Ok(summary);
    }
    let mut moves: Vec<(PathBuf, PathBuf)> =
        sink.stage().map_err(write_err(name))?.into_iter().collect();
    moves.extend(staged_state(state_path, st)?);
    state::commit(state_path, &moves)
        .with_context(|| format!("cannot commit {}", state_path.display()))?;
    Ok(summary)
}

/// A CSV file to append to must have this version's columns: rows of another column list
/// under its header would be read as the wrong fields.
fn same_csv_header(file: &mut std::fs::File, name: &str) -> anyhow::Result<()> {
    use std::io::{BufRead, Read};
    let mut first = String::new();
    std::io::BufReader::new(Read::take(&mut *file, 1 << 16))
        .read_line(&mut first)
        .map_err(write_err(name.to_owned()))?;
    let want: Vec<&str> = output::columns::COLUMNS.iter().map(|c| c.name).collect();
    if first.trim_end() != want.join(",") {
        anyhow::bail!(
            "{name}: its CSV header is not this version's columns (written by another \
             version of maillogconv?); --append needs a file with the same columns: start a \
             new file"
        );
    }
    Ok(())
}

/// `--append`: records are added to the end of `out`. With a state, a tail that a run stopped
/// before its commit left is cut off first, and the state records the committed length.
fn append(
    cfg: &Config,
    cancel: &Cancel,
    out: &Path,
    state_path: Option<&Path>,
    st: Option<State>,
) -> anyhow::Result<Summary> {
    let name = out.display().to_string();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(out)
        .with_context(|| format!("cannot open {name}"))?;
    let mut start = file.metadata().map_err(write_err(name.clone()))?.len();
    if cfg.format == output::Format::Csv && start > 0 {
        same_csv_header(&mut file, &name)?;
    }
    if let Some(committed) = st.as_ref().and_then(|s| s.output_len) {
        if start > committed {
            file.set_len(committed).map_err(write_err(name.clone()))?;
            start = committed;
        }
    }
    file.seek(SeekFrom::Start(start))
        .map_err(write_err(name.clone()))?;
    let handle = Box::new(std::io::BufWriter::with_capacity(
        1 << 16,
        file.try_clone().map_err(write_err(name.clone()))?,
    ));
    let mut writer = output::writer_with(cfg.format, handle, 1, start > 0);
    let (mut summary, st) = convert_from(cfg, writer.as_mut(), cancel, st)?;
    writer.finish().map_err(write_err(name.clone()))?;
    drop(writer);
    file.sync_all().map_err(write_err(name.clone()))?;
    if !summary.errors.is_empty() && state_path.is_some() {
        file.set_len(start).map_err(write_err(name.clone()))?;
        nothing_committed(&mut summary, &name);
        return Ok(summary);
    }
    let (Some(state_path), Some(mut st)) = (state_path, st) else {
        return Ok(summary);
    };
    st.output_len = Some(file.metadata().map_err(write_err(name))?.len());
    let moves: Vec<(PathBuf, PathBuf)> = staged_state(state_path, Some(st))?.into_iter().collect();
    state::commit(state_path, &moves)
        .with_context(|| format!("cannot commit {}", state_path.display()))?;
    Ok(summary)
}
