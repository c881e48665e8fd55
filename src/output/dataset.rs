//! A Hive-partitioned Parquet dataset, `DIR/date=YYYY-MM-DD[/host=H]/part-KEY-NNNNN.parquet`,
//! that never loses a row and is never seen half-written. A run adds files and removes none it
//! did not write itself: its files are written under `DIR/.maillogconv/` with names readers
//! skip (`*.parquet.tmp`), and one atomic rename of a journal is the commit point, after which
//! they are moved into place; a run that was killed after the journal is finished by the next
//! one, and what a run that never committed left is removed by the next. Records a committed
//! run already wrote (the same host, at a log time that run had read) are not written again,
//! so the same command run twice, or over overlapping rotated sets, adds each record once.
//! One run at a time: a lock file in `.maillogconv/`.

use super::parquet::{Encoders, ParquetFile, Row};
use super::RecordWriter;
use crate::record::RecordRef;
use crate::stats::Coverage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Hive partition keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKey {
    /// `date=YYYY-MM-DD`: the local date of `ts`, as logged.
    Date,
    /// `host=NAME`: the syslog host.
    Host,
}

/// The dataset's own directory: lock, coverage, journal, files being written.
const META: &str = ".maillogconv";
const JOURNAL: &str = "journal.json";
const COVERAGE: &str = "coverage.json";
const FORMAT_VERSION: u32 = 1;

/// A host (bytes) and its spans (ns since the epoch, both ends included).
type HostSpans = (Vec<u8>, Vec<(i64, i64)>);

/// What committed runs read, as stored in `coverage.json`.
#[derive(Serialize, Deserialize)]
struct StoredCoverage {
    version: u32,
    hosts: Vec<HostSpans>,
}

impl StoredCoverage {
    fn of(c: &Coverage) -> Self {
        StoredCoverage {
            version: FORMAT_VERSION,
            hosts: c
                .hosts
                .iter()
                .map(|(h, s)| (h.clone(), s.clone()))
                .collect(),
        }
    }

    fn coverage(self) -> Coverage {
        let mut c = Coverage::default();
        for (host, spans) in self.hosts {
            for (a, b) in spans {
                c.add(&host, a, b);
            }
        }
        c
    }
}

/// A committed run: the moves that put its files in place (relative to the dataset), the
/// coverage after it, and a state file to install with it (`--state`).
#[derive(Serialize, Deserialize)]
struct Journal {
    version: u32,
    moves: Vec<(String, String)>,
    coverage: StoredCoverage,
    state: Option<(PathBuf, PathBuf)>,
}

/// A partitioned Parquet dataset being written into `root`.
pub struct Partitioned {
    root: PathBuf,
    /// Where this run's files are written until it commits.
    stage: PathBuf,
    keys: Vec<PartitionKey>,
    /// Open partition files, each with when it was last written to (a count of records).
    open: BTreeMap<String, (u64, ParquetFile<io::BufWriter<std::fs::File>>)>,
    /// Records written so far (the clock of `open`).
    tick: u64,
    /// Files written per partition (a partition reopened after it was closed gets a new part).
    parts: BTreeMap<String, usize>,
    /// What committed runs read: their records are not written again.
    covered: Coverage,
    /// Skip records `covered` holds (off with `--state`, which reads each line once anyway).
    skip_covered: bool,
    /// Records skipped so.
    skipped: u64,
    committed: bool,
    /// Where the open files' row groups are encoded: threads shared by all of them, or none
    /// (each file on the calling thread).
    encoders: Option<Arc<Encoders>>,
    /// The last record's date and host and its partition: consecutive records nearly always
    /// share it, and building the name was an allocation and a date format per record.
    last: Option<(jiff::civil::Date, Vec<u8>, String)>,
    /// Held for the run: the dataset's lock.
    _lock: std::fs::File,
}

/// A host as a partition directory's value: bytes other than `A-Z a-z 0-9 . _ -` (and a
/// leading `.`) as `%XX`, which DuckDB and Spark decode; longer than 100 bytes so, its first
/// 64 and a hash of the whole (`~` and 16 hex digits), so the name fits every file system.
/// The directory is `host_part=…`, not `host=…`: the `host` column of the files holds the true
/// host, and a partition column of the same name would hide it.
fn partition_value(v: &[u8]) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, &b) in v.iter().enumerate() {
        let safe = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if safe {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    if out.len() > 100 {
        // Every `%` starts a `%XX`: cut before one, never inside.
        let b = out.as_bytes();
        let mut cut = 64;
        while cut > 0 && (b[cut - 1] == b'%' || (cut >= 2 && b[cut - 2] == b'%')) {
            cut -= 1;
        }
        let hash = crate::hash::fnv1a(crate::hash::FNV_START, v);
        out = format!("{}~{hash:016x}", &out[..cut]);
    }
    out
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{}: {e} (not written by this version of maillogconv?)",
            path.display()
        ),
    )
}

/// Finishes a run that committed (its journal exists) but was stopped before its files were
/// all moved into place: moves what is left, installs its coverage and state.
fn roll_forward(root: &Path) -> io::Result<()> {
    let meta = root.join(META);
    let path = meta.join(JOURNAL);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let journal: Journal = serde_json::from_slice(&text).map_err(|e| invalid(&path, e))?;
    if journal.version != FORMAT_VERSION {
        return Err(invalid(
            &path,
            format!("format version {}", journal.version),
        ));
    }
    for (staged, dest) in &journal.moves {
        let (staged, dest) = (root.join(staged), root.join(dest));
        if staged.exists() {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&staged, &dest)?;
        }
    }
    let coverage = serde_json::to_vec(&journal.coverage).map_err(io::Error::other)?;
    crate::files::write_atomically(&meta.join(COVERAGE), &coverage)?;
    if let Some((staged, dest)) = &journal.state {
        if staged.exists() {
            std::fs::rename(staged, dest)?;
        }
    }
    std::fs::remove_file(&path)?;
    std::fs::File::open(&meta)?.sync_all()
}

/// Removes what runs that never committed left: their stages, and the temporary directories
/// of earlier versions (whose `.parquet` files readers would see).
fn clean(root: &Path) -> io::Result<()> {
    for dir in [root.join(META), root.to_path_buf()] {
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = (dir != root && name.starts_with("stage-"))
                || (dir == root && name.starts_with(".maillogconv-tmp-"));
            if ours && entry.path().is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
    }
    Ok(())
}

fn load_coverage(meta: &Path) -> io::Result<Coverage> {
    let path = meta.join(COVERAGE);
    match std::fs::read(&path) {
        Ok(text) => {
            let stored: StoredCoverage =
                serde_json::from_slice(&text).map_err(|e| invalid(&path, e))?;
            if stored.version != FORMAT_VERSION {
                return Err(invalid(&path, format!("format version {}", stored.version)));
            }
            Ok(stored.coverage())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Coverage::default()),
        Err(e) => Err(e),
    }
}

/// Partition files open at once at most (each holds up to three row groups' rows): past this, the
/// one used least recently is closed (a later record of its partition opens a new part).
const MAX_OPEN: usize = 64;

impl Partitioned {
    /// Opens the dataset in `root` for a run: takes its lock, finishes a committed run that was
    /// stopped, removes what uncommitted runs left, and reads what committed runs covered.
    pub fn create(root: &Path, keys: Vec<PartitionKey>) -> io::Result<Partitioned> {
        // Absolute: the stage (a temporary directory, made absolute) is named relative to it.
        let root = &std::path::absolute(root)?;
        let meta = root.join(META);
        std::fs::create_dir_all(&meta)?;
        let lock = crate::files::lock(
            &meta.join("lock"),
            "another maillogconv run is writing this dataset",
        )?;
        roll_forward(root)?;
        clean(root)?;
        let covered = load_coverage(&meta)?;
        let stage = tempfile::Builder::new()
            .prefix("stage-")
            .tempdir_in(&meta)?
            .keep();
        Ok(Partitioned {
            root: root.to_path_buf(),
            stage,
            keys,
            open: BTreeMap::new(),
            tick: 0,
            parts: BTreeMap::new(),
            covered,
            skip_covered: true,
            skipped: 0,
            committed: false,
            encoders: None,
            last: None,
            _lock: lock,
        })
    }

    /// Encoders shared by the files, for a run of `threads` threads ([`Encoders::for_threads`]):
    /// the one writer then only gathers rows.
    pub fn encoders(mut self, threads: usize) -> io::Result<Self> {
        self.encoders = Encoders::for_threads(threads)?;
        Ok(self)
    }

    /// Writes every record, even one that a committed run had read (`--state` runs read each
    /// line once).
    pub fn keep_covered(mut self) -> Self {
        self.skip_covered = false;
        self
    }

    /// Records not written because a committed run had them.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn partition_of(&self, date: Option<jiff::civil::Date>, host: &[u8]) -> String {
        let mut p = String::new();
        for k in &self.keys {
            if !p.is_empty() {
                p.push('/');
            }
            match k {
                PartitionKey::Date => {
                    p.push_str(&format!("date={}", date.unwrap_or_default()));
                }
                PartitionKey::Host => {
                    p.push_str(&format!("host_part={}", partition_value(host)));
                }
            }
        }
        p
    }

    /// The partitions written so far, relative to the root.
    pub fn partitions(&self) -> Vec<String> {
        self.parts.keys().cloned().collect()
    }

    /// Commits the run: its files, named by a key of what it read (`run`, so that the same
    /// run again replaces its own files), are moved into place, and the dataset's coverage
    /// grows by `run`. `state` (a file written beside its final path) is installed with them.
    /// The journal's rename is the one commit point.
    pub fn commit(mut self, run: &Coverage, state: Option<(PathBuf, PathBuf)>) -> io::Result<()> {
        let key = run_key(run);
        let mut moves = Vec::new();
        for (part, n) in &self.parts {
            for i in 0..*n {
                let staged = self
                    .stage
                    .join(part)
                    .join(format!("part-{i:05}.parquet.tmp"));
                let staged = staged
                    .strip_prefix(&self.root)
                    .map_err(io::Error::other)?
                    .to_string_lossy()
                    .into_owned();
                moves.push((staged, format!("{part}/part-{key}-{i:05}.parquet")));
            }
        }
        let mut coverage = self.covered.clone();
        coverage.union(run);
        let journal = Journal {
            version: FORMAT_VERSION,
            moves,
            coverage: StoredCoverage::of(&coverage),
            state,
        };
        let meta = self.root.join(META);
        let bytes = serde_json::to_vec(&journal).map_err(io::Error::other)?;
        crate::files::write_atomically(&meta.join(JOURNAL), &bytes)?;
        self.committed = true;
        roll_forward(&self.root)?;
        std::fs::remove_dir_all(&self.stage)
    }
}

/// 16 hex digits naming a run by what it read.
fn run_key(run: &Coverage) -> String {
    use crate::hash::{fnv1a, FNV_START};
    let mut h = FNV_START;
    for (host, spans) in &run.hosts {
        h = fnv1a(fnv1a(h, host), &[0]);
        for (a, b) in spans {
            h = fnv1a(fnv1a(h, &a.to_le_bytes()), &b.to_le_bytes());
        }
    }
    format!("{h:016x}")
}

impl RecordWriter for Partitioned {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        let nanos =
            r.ts.and_then(|t| i64::try_from(t.instant.as_nanosecond()).ok());
        let date = r.ts.map(|t| t.local.date());
        self.write_to(nanos, date, r.host, |f| f.append(r))
    }

    /// Records come as rows, their columns read in the merge step's groups (see
    /// [`crate::output::parquet::render_row`]).
    fn renderer(&self) -> Option<crate::output::Render> {
        Some(crate::output::parquet::render_row)
    }

    fn write_rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        let row = Row::read(bytes)?;
        self.write_to(row.nanos, row.date, row.host, |f| f.append_row(&row))
    }
    fn finish(&mut self) -> io::Result<()> {
        for (_, (_, mut f)) in std::mem::take(&mut self.open) {
            f.close_file()?;
        }
        Ok(())
    }
}

impl Partitioned {
    /// Writes a record (at `nanos`, of local `date`, from `host`) by `append` into its
    /// partition's file, unless a committed run had it.
    fn write_to(
        &mut self,
        nanos: Option<i64>,
        date: Option<jiff::civil::Date>,
        host: &[u8],
        append: impl FnOnce(&mut ParquetFile<io::BufWriter<std::fs::File>>) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.skip_covered && nanos.is_some_and(|t| self.covered.contains(host, t)) {
            self.skipped += 1;
            return Ok(());
        }
        let by_host = self.keys.contains(&PartitionKey::Host);
        let day = date.unwrap_or_default();
        let last = match self.last.take() {
            Some(l) if l.0 == day && (!by_host || l.1[..] == *host) => l,
            _ => (day, host.to_vec(), self.partition_of(date, host)),
        };
        let written = self.write_in(&last.2, date, append);
        self.last = Some(last);
        written
    }

    /// Writes by `append` into partition `part`, opening its file if need be.
    fn write_in(
        &mut self,
        part: &str,
        date: Option<jiff::civil::Date>,
        append: impl FnOnce(&mut ParquetFile<io::BufWriter<std::fs::File>>) -> io::Result<()>,
    ) -> io::Result<()> {
        if !self.open.contains_key(part) {
            // Records come in time order: partitions of dates two days back are complete.
            if let Some(day) = date {
                let done: Vec<String> = self
                    .open
                    .keys()
                    .filter(|k| {
                        k.strip_prefix("date=")
                            .and_then(|d| d.get(..10))
                            .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                            .is_some_and(|d| d < day.saturating_sub(jiff::Span::new().days(1)))
                    })
                    .cloned()
                    .collect();
                for k in done {
                    if let Some((_, mut f)) = self.open.remove(&k) {
                        f.close_file()?;
                    }
                }
            }
            // Many hosts: open files (and the rows they hold) stay within a bound.
            if self.open.len() >= MAX_OPEN {
                let oldest = self
                    .open
                    .iter()
                    .min_by_key(|(_, (used, _))| *used)
                    .map(|(k, _)| k.clone());
                if let Some((_, mut f)) = oldest.and_then(|k| self.open.remove(&k)) {
                    f.close_file()?;
                }
            }
            let n = self.parts.entry(part.to_string()).or_insert(0);
            let dir = self.stage.join(part);
            std::fs::create_dir_all(&dir)?;
            let file = std::fs::File::create(dir.join(format!("part-{:05}.parquet.tmp", *n)))?;
            *n += 1;
            let f = ParquetFile::with_encoders(
                io::BufWriter::with_capacity(1 << 20, file),
                self.encoders.clone(),
            )?;
            self.open.insert(part.to_string(), (0, f));
        }
        self.tick += 1;
        match self.open.get_mut(part) {
            Some((used, f)) => {
                *used = self.tick;
                append(f)
            }
            None => Ok(()),
        }
    }
}

impl Drop for Partitioned {
    fn drop(&mut self) {
        // A run that did not commit leaves the dataset as it was.
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.stage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_are_escaped_and_long_ones_hashed() {
        for (host, want) in [
            ("mx1.example.org", "mx1.example.org"),
            ("a/b", "a%2Fb"),
            ("x=y", "x%3Dy"),
            ("p%2Fq", "p%252Fq"),
            ("..", "%2E."),
            ("", "%00"),
            ("m x", "m%20x"),
        ] {
            assert_eq!(partition_value(host.as_bytes()), want, "{host}");
        }
        let long = "h/".repeat(150);
        let v = partition_value(long.as_bytes());
        assert!(v.len() <= 64 + 17, "{v}");
        assert!(v.contains('~') && !v.contains('/'));
        // The cut never splits a %XX.
        let before = v.split('~').next().unwrap_or_default();
        assert!(!before.ends_with('%') && before.rfind('%').is_none_or(|p| before.len() - p == 3));
        assert_ne!(v, partition_value("h/".repeat(151).as_bytes()));
    }
}
