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
    /// Open partition files (at most [`MAX_OPEN`]).
    open: BTreeMap<String, OpenPart>,
    /// Rows of partitions first seen while [`MAX_OPEN`] files were open: written at the end, or
    /// once their date is complete.
    held: BTreeMap<String, Held>,
    /// Memory of rows: gathered by the open files for their next row groups, and held.
    gathered: usize,
    /// [`GATHERED_MAX`] and [`MAX_OPEN_GROUPS`] (smaller in tests).
    gathered_max: usize,
    max_open_groups: usize,
    /// Records written so far (the clock of `open` and `held`).
    tick: u64,
    /// The latest date a record had: partitions two days older are complete.
    newest: Option<jiff::civil::Date>,
    /// A row rendered from a record, or read back from a spill file.
    scratch: Vec<u8>,
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

/// Partition files open at once at most (file descriptors): a partition first seen while as
/// many are open has its rows held ([`Held`]) until it is complete, then written as one file.
const MAX_OPEN: usize = 64;

/// Memory of rows gathered or held, but for the row group of the open file just written, at most
/// (rows as [`render_row`] makes them): past it, the partitions written to least recently give
/// theirs up until half is left, an open file's as a row group ended early, held rows to a
/// spill file in the stage. The partition just written, if it has an open file, gathers its row
/// group as a file of its own does; if its rows are held, they are spilled too. (Each of 64
/// open files gathering its own row group took 765 MiB for 64 hosts; the encoders hold as much
/// again as they encode: 48 MiB here took 235 MiB, 16 MiB 156 MiB.)
///
/// [`render_row`]: super::parquet::render_row
const GATHERED_MAX: usize = 16 << 20;

/// Row groups in the open files together, at most: a file keeps each one's description (its
/// columns' places and page statistics, ~12 KiB) until it is closed, and the row groups that
/// [`GATHERED_MAX`] ends early are small and many. Past it, the file with the most is closed
/// (a complete part: its partition's next rows go to a new one).
const MAX_OPEN_GROUPS: usize = 1024;

/// A partition's open file.
struct OpenPart {
    file: ParquetFile<io::BufWriter<std::fs::File>>,
    /// The partition's date (when the dataset is partitioned by date).
    date: Option<jiff::civil::Date>,
    /// When a record was last written to it ([`Partitioned::tick`]).
    used: u64,
}

/// A partition's rows while it has no file, in the order they came: those in `spill` (rows
/// that were over [`GATHERED_MAX`]) first, then `rows`.
struct Held {
    /// Rows as [`render_row`] makes them, each after its length (4 bytes, little-endian).
    ///
    /// [`render_row`]: super::parquet::render_row
    rows: Vec<u8>,
    /// Rows were written to the partition's spill file ([`Partitioned::spill_path`]).
    spilled: bool,
    date: Option<jiff::civil::Date>,
    used: u64,
}

/// Calls `each` with every row of `rows` (as [`Held::rows`] holds them).
fn each_row(rows: &[u8], mut each: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    let mut at = 0;
    while let Some(len) = rows.get(at..).and_then(|r| r.first_chunk::<4>()) {
        let len = u32::from_le_bytes(*len) as usize;
        let row = rows
            .get(at + 4..at + 4 + len)
            .ok_or_else(|| io::Error::other("a held row cut short (a bug)"))?;
        each(row)?;
        at += 4 + len;
    }
    Ok(())
}

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
            held: BTreeMap::new(),
            gathered: 0,
            gathered_max: GATHERED_MAX,
            max_open_groups: MAX_OPEN_GROUPS,
            tick: 0,
            newest: None,
            scratch: Vec::new(),
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
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        let written =
            super::parquet::render_row(r, &mut bytes).and_then(|()| self.write_rendered(&bytes));
        self.scratch = bytes;
        written
    }

    /// Records come as rows, their columns read in the merge step's groups (see
    /// [`crate::output::parquet::render_row`]).
    fn renderer(&self) -> Option<crate::output::Render> {
        Some(crate::output::parquet::render_row)
    }

    fn write_rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        let row = Row::read(bytes)?;
        if self.skip_covered
            && row
                .nanos
                .is_some_and(|t| self.covered.contains(row.host, t))
        {
            self.skipped += 1;
            return Ok(());
        }
        let by_host = self.keys.contains(&PartitionKey::Host);
        let day = row.date.unwrap_or_default();
        let last = match self.last.take() {
            Some(l) if l.0 == day && (!by_host || l.1[..] == *row.host) => l,
            _ => (
                day,
                row.host.to_vec(),
                self.partition_of(row.date, row.host),
            ),
        };
        let written = self.write_in(&last.2, row.date, bytes, &row);
        self.last = Some(last);
        written
    }

    fn finish(&mut self) -> io::Result<()> {
        for (_, mut p) in std::mem::take(&mut self.open) {
            p.file.close_file()?;
        }
        for (part, held) in std::mem::take(&mut self.held) {
            self.write_held(&part, held)?;
        }
        self.gathered = 0;
        Ok(())
    }
}

impl Partitioned {
    /// Writes a row (`bytes`, read as `row`, of local `date`) into partition `part`: into its
    /// open file, or held with its other rows, or into a file opened for it.
    fn write_in(
        &mut self,
        part: &str,
        date: Option<jiff::civil::Date>,
        bytes: &[u8],
        row: &Row,
    ) -> io::Result<()> {
        self.tick += 1;
        let date = date.filter(|_| self.keys.contains(&PartitionKey::Date));
        if let Some(day) = date {
            if self.newest.is_none_or(|n| day > n) {
                self.newest = Some(day);
                // Records come in time order: partitions of dates two days back are complete.
                self.complete_before(day.saturating_sub(jiff::Span::new().days(1)))?;
            }
        }
        if let Some(h) = self.held.get_mut(part) {
            let room = h.rows.capacity();
            hold(&mut h.rows, bytes)?;
            h.used = self.tick;
            self.gathered += h.rows.capacity() - room;
        } else if self.open.contains_key(part) || self.open.len() < MAX_OPEN {
            if !self.open.contains_key(part) {
                let file = self.new_file(part)?;
                let used = self.tick;
                self.open
                    .insert(part.to_string(), OpenPart { file, date, used });
            }
            let Some(p) = self.open.get_mut(part) else {
                return Ok(());
            };
            p.used = self.tick;
            let (before, groups) = (p.file.gathered(), p.file.row_groups());
            p.file.append_row(row)?;
            self.gathered = self.gathered.saturating_sub(before) + p.file.gathered();
            if p.file.row_groups() != groups {
                // One file's row group is encoding: the others' earlier ones are let go.
                for (k, other) in &mut self.open {
                    if k != part {
                        other.file.lighten()?;
                    }
                }
                self.limit_groups()?;
                self.recount();
            }
        } else {
            let mut rows = Vec::new();
            hold(&mut rows, bytes)?;
            self.gathered += rows.capacity();
            let held = Held {
                rows,
                spilled: false,
                date,
                used: self.tick,
            };
            self.held.insert(part.to_string(), held);
        }
        let current = self.open.get(part).map_or(0, |p| p.file.gathered());
        if self.gathered.saturating_sub(current) > self.gathered_max {
            self.relieve(part, current)?;
        }
        Ok(())
    }

    /// Brings the rows in memory, but for those `current`'s open file gathers (`mine`), down
    /// to half of [`GATHERED_MAX`], the partitions written to least recently first, and waits
    /// for the row groups being encoded.
    fn relieve(&mut self, current: &str, mine: usize) -> io::Result<()> {
        let mut by_use: Vec<(u64, String)> = self
            .open
            .iter()
            .filter(|(_, p)| p.file.gathered() > 0)
            .map(|(k, p)| (p.used, k.clone()))
            .chain(
                self.held
                    .iter()
                    .filter(|(_, h)| h.rows.capacity() > 0)
                    .map(|(k, h)| (h.used, k.clone())),
            )
            .collect();
        by_use.sort_unstable();
        for (_, part) in by_use {
            if self.gathered.saturating_sub(mine) <= self.gathered_max / 2 {
                break;
            }
            // The current partition's open file gathers its row group as a file of its own
            // does (that is bounded); its held rows are spilled like the others', else a
            // partition held with most of the rows kept them all in memory.
            if part == current && self.open.contains_key(&part) {
                continue;
            }
            if let Some(p) = self.open.get_mut(&part) {
                let had = p.file.gathered();
                p.file.end_row_group()?;
                self.gathered = self.gathered.saturating_sub(had);
            } else if let Some(h) = self.held.get_mut(&part) {
                let rows = std::mem::take(&mut h.rows);
                h.spilled = true;
                self.gathered = self.gathered.saturating_sub(rows.capacity());
                let path = self.spill_path(&part);
                spill(&path, &rows).map_err(|e| in_file(&path, e))?;
            }
        }
        for p in self.open.values_mut() {
            p.file.lighten()?;
        }
        self.limit_groups()?;
        self.recount();
        Ok(())
    }

    /// Counts the memory of rows again, after files let go of rows ([`ParquetFile::lighten`])
    /// or were closed: each change is counted as it is made (a test checks the two agree), and
    /// a count left too high would relieve at every row.
    fn recount(&mut self) {
        let open: usize = self.open.values().map(|p| p.file.gathered()).sum();
        let held: usize = self.held.values().map(|h| h.rows.capacity()).sum();
        self.gathered = open + held;
    }

    /// Closes the files with the most row groups while the open files have more than
    /// [`MAX_OPEN_GROUPS`].
    fn limit_groups(&mut self) -> io::Result<()> {
        let mut groups: usize = self.open.values().map(|p| p.file.row_groups()).sum();
        while groups > self.max_open_groups {
            let most = self
                .open
                .iter()
                .max_by_key(|(_, p)| p.file.row_groups())
                .map(|(k, _)| k.clone());
            let Some(mut p) = most.and_then(|k| self.open.remove(&k)) else {
                break;
            };
            groups -= p.file.row_groups();
            self.gathered = self.gathered.saturating_sub(p.file.gathered());
            p.file.close_file()?;
        }
        Ok(())
    }

    /// Closes the open files, and writes the held rows, of partitions dated before `day`.
    fn complete_before(&mut self, day: jiff::civil::Date) -> io::Result<()> {
        let before = |d: &Option<jiff::civil::Date>| d.is_some_and(|d| d < day);
        let open: Vec<String> = self
            .open
            .iter()
            .filter(|(_, p)| before(&p.date))
            .map(|(k, _)| k.clone())
            .collect();
        for k in open {
            if let Some(mut p) = self.open.remove(&k) {
                self.gathered = self.gathered.saturating_sub(p.file.gathered());
                p.file.close_file()?;
            }
        }
        let held: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| before(&h.date))
            .map(|(k, _)| k.clone())
            .collect();
        for k in held {
            if let Some(h) = self.held.remove(&k) {
                self.gathered = self.gathered.saturating_sub(h.rows.capacity());
                self.write_held(&k, h)?;
            }
        }
        Ok(())
    }

    /// Writes a partition's held rows (those spilled first) as a file of its own.
    fn write_held(&mut self, part: &str, held: Held) -> io::Result<()> {
        let mut file = self.new_file(part)?;
        if held.spilled {
            let path = self.spill_path(part);
            let mut row = std::mem::take(&mut self.scratch);
            let read = read_spill(&path, &mut row, |r| file.append_row(&Row::read(r)?));
            self.scratch = row;
            read.map_err(|e| in_file(&path, e))?;
            std::fs::remove_file(&path).map_err(|e| in_file(&path, e))?;
        }
        each_row(&held.rows, |r| file.append_row(&Row::read(r)?))?;
        file.close_file()
    }

    /// A new part file of partition `part`, in the stage.
    fn new_file(&mut self, part: &str) -> io::Result<ParquetFile<io::BufWriter<std::fs::File>>> {
        let n = self.parts.entry(part.to_string()).or_insert(0);
        let dir = self.stage.join(part);
        std::fs::create_dir_all(&dir)?;
        let file = std::fs::File::create(dir.join(format!("part-{:05}.parquet.tmp", *n)))?;
        *n += 1;
        // 64 KiB: up to [`MAX_OPEN`] files are open, each with its buffer (a column chunk
        // larger than it is written past it).
        ParquetFile::with_encoders(
            io::BufWriter::with_capacity(64 << 10, file),
            self.encoders.clone(),
        )
    }

    /// Where rows of partition `part` go when held rows are over [`GATHERED_MAX`].
    fn spill_path(&self, part: &str) -> PathBuf {
        self.stage.join(part).join("rows.spill")
    }
}

/// Appends a row to held rows, after its length.
fn hold(rows: &mut Vec<u8>, row: &[u8]) -> io::Result<()> {
    let len = u32::try_from(row.len()).map_err(|_| io::Error::other("a row over 4 GiB"))?;
    rows.extend_from_slice(&len.to_le_bytes());
    rows.extend_from_slice(row);
    Ok(())
}

/// Appends held rows to a partition's spill file.
fn spill(path: &Path, rows: &[u8]) -> io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(rows)
}

/// Calls `each` with every row of a spill file, read into `row`.
fn read_spill(
    path: &Path,
    row: &mut Vec<u8>,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    use std::io::{BufRead, Read};
    let mut r = io::BufReader::with_capacity(256 << 10, std::fs::File::open(path)?);
    let mut len = [0; 4];
    while !r.fill_buf()?.is_empty() {
        r.read_exact(&mut len)?;
        row.resize(u32::from_le_bytes(len) as usize, 0);
        r.read_exact(row)?;
        each(row)?;
    }
    Ok(())
}

/// An error in a file, named.
fn in_file(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
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

    /// A row as the test reads it back: host, recipient, `ts` in µs.
    type TestRow = (String, String, i64);

    type Failure = Box<dyn std::error::Error>;

    /// Every file of the dataset in `root`, by partition: each one's rows in file order.
    fn read_dataset(root: &Path) -> Result<BTreeMap<String, Vec<Vec<TestRow>>>, Failure> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::TimestampMicrosecondType;
        let mut by_part: BTreeMap<String, Vec<Vec<TestRow>>> = BTreeMap::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir)?.flatten() {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if name == META {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if !name.ends_with(".parquet") {
                    return Err(format!("{} left", path.display()).into());
                }
                let file = std::fs::File::open(&path)?;
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?
                        .build()?;
                let mut rows = Vec::new();
                for batch in reader {
                    let batch = batch?;
                    let col = |n: &str| batch.column_by_name(n).cloned().ok_or(n.to_string());
                    let (host, rcpt, ts) = (col("host")?, col("recipient")?, col("ts")?);
                    let (host, rcpt) = (host.as_string::<i32>(), rcpt.as_string::<i32>());
                    let ts = ts.as_primitive::<TimestampMicrosecondType>();
                    for i in 0..batch.num_rows() {
                        rows.push((host.value(i).into(), rcpt.value(i).into(), ts.value(i)));
                    }
                }
                let part = path.parent().unwrap_or(root).strip_prefix(root)?;
                let part = part.to_string_lossy().into_owned();
                by_part.entry(part).or_default().push(rows);
            }
        }
        Ok(by_part)
    }

    /// A Postfix delivery at `ts` from `host` to `rcpt`, as the dataset tests write them.
    fn sent_to<'a>(ts: crate::time::Stamp, host: &'a str, rcpt: &'a str) -> RecordRef<'a> {
        RecordRef {
            ts: Some(ts),
            host: host.as_bytes(),
            mta: Some(crate::record::Mta::Postfix),
            status: Some(crate::record::Status::Sent),
            recipient: rcpt.as_bytes(),
            ..RecordRef::default()
        }
    }

    /// More partitions than files may be open, their rows taking turns, over two days, with
    /// little memory for rows: each partition's rows all arrive, in order; a held partition
    /// is one file; held rows went to spill files and back; the open files' row groups stay
    /// bounded; the rows of days two days back were written when a later day came.
    #[test]
    fn many_partitions_taking_turns_keep_every_row_in_bounded_memory() -> Result<(), Failure> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("ds");
        let mut ds = Partitioned::create(&root, vec![PartitionKey::Date, PartitionKey::Host])?;
        ds.gathered_max = 1 << 20;
        ds.max_open_groups = 100;
        let hosts: Vec<String> = (0..MAX_OPEN + 40).map(|h| format!("mx{h:03}")).collect();
        let long = "x".repeat(300);
        let mut sent = BTreeMap::<String, Vec<TestRow>>::new();
        let (mut spilled, mut complete_early) = (false, false);
        let mut held = std::collections::BTreeSet::new();
        let start = jiff::civil::date(2026, 3, 1).at(0, 0, 0, 0);
        for i in 0..56_000_i64 {
            // Days 1 and 2 by turns, then day 4: days 1 and 2 are complete then. From row
            // 16,000 one host has nine rows in ten: its file ends a full row group (32,768
            // rows) while the others are relieved.
            let secs = if i < 12_000 { i * 14 } else { 3 * 86_400 + i };
            let at = start.saturating_add(jiff::SignedDuration::from_secs(secs));
            let ts = crate::time::Stamp::utc(at);
            let turn = if i >= 16_000 && i % 10 != 0 {
                0
            } else {
                i as usize * 7
            };
            let host = &hosts[turn % hosts.len()];
            let long = if turn == 0 { "" } else { &long };
            let rcpt = format!("u{i}.{long}@example.org");
            ds.write_record(&sent_to(ts, host, &rcpt))?;
            let counted = ds.gathered;
            ds.recount();
            assert_eq!(counted, ds.gathered, "the count of rows' memory drifted");
            assert!(
                ds.gathered <= 2 * ds.gathered_max,
                "{} in memory",
                ds.gathered
            );
            let groups: usize = ds.open.values().map(|p| p.file.row_groups()).sum();
            assert!(groups <= ds.max_open_groups, "{groups} row groups open");
            spilled |= ds.held.values().any(|h| h.spilled);
            complete_early |= i >= 12_000 && ds.held.is_empty();
            let part = format!("date={}/host_part={host}", at.date());
            if ds.held.contains_key(&part) {
                held.insert(part.clone());
            }
            let micros = ts.instant.as_microsecond();
            sent.entry(part)
                .or_default()
                .push((host.clone(), rcpt, micros));
        }
        assert!(spilled, "no held rows were spilled: the test is too small");
        assert!(held.len() > 40, "{} partitions held", held.len());
        assert!(
            complete_early,
            "days 1 and 2 were not written when day 4 came"
        );
        ds.finish()?;
        ds.commit(&Coverage::default(), None)?;
        let got = read_dataset(&root)?;
        assert_eq!(got.len(), sent.len(), "partitions");
        let longest = got.values().flatten().map(Vec::len).max().unwrap_or(0);
        assert!(
            longest > 32_768,
            "no file of a full row group: {longest} rows at most"
        );
        for (part, want) in &sent {
            let files = got.get(part).ok_or(part.clone())?;
            // A held partition is written once, as one file.
            assert!(
                !held.contains(part) || files.len() == 1,
                "{part}: {}",
                files.len()
            );
            let mut rows: Vec<TestRow> = files.iter().flatten().cloned().collect();
            rows.sort_by_key(|r| r.2);
            assert_eq!(rows, *want, "{part}");
            for f in files {
                assert!(
                    f.windows(2).all(|w| w[0].2 <= w[1].2),
                    "{part}: a file out of order"
                );
            }
        }
        Ok(())
    }

    /// A partition first seen while every file is open, then given most of the rows (a
    /// central log's busiest host appearing late): its held rows are spilled as they pass the
    /// bound, not all kept, and come back as one file in order.
    #[test]
    fn a_held_partition_with_most_rows_stays_in_bounded_memory() -> Result<(), Failure> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("ds");
        let mut ds = Partitioned::create(&root, vec![PartitionKey::Host])?;
        ds.gathered_max = 1 << 20;
        let long = "x".repeat(300);
        let start = jiff::civil::date(2026, 3, 1).at(0, 0, 0, 0);
        let mut sent = BTreeMap::<String, Vec<TestRow>>::new();
        let mut spilled = false;
        for i in 0..(MAX_OPEN as i64 + 20_000) {
            // One row each for the first MAX_OPEN hosts, then all for the next one.
            let host = format!("mx{:03}", i.min(MAX_OPEN as i64));
            let at = start.saturating_add(jiff::SignedDuration::from_secs(i));
            let ts = crate::time::Stamp::utc(at);
            let rcpt = format!("u{i}.{long}@example.org");
            ds.write_record(&sent_to(ts, &host, &rcpt))?;
            assert!(
                ds.gathered <= 2 * ds.gathered_max,
                "{} in memory at row {i}",
                ds.gathered
            );
            spilled |= ds.held.values().any(|h| h.spilled);
            let micros = ts.instant.as_microsecond();
            sent.entry(format!("host_part={host}"))
                .or_default()
                .push((host, rcpt, micros));
        }
        assert!(spilled, "the held partition's rows were not spilled");
        ds.finish()?;
        ds.commit(&Coverage::default(), None)?;
        let got = read_dataset(&root)?;
        assert_eq!(got.len(), sent.len(), "partitions");
        for (part, want) in &sent {
            let files = got.get(part).ok_or(part.clone())?;
            assert_eq!(files.len(), 1, "{part}: {} files", files.len());
            assert_eq!(
                files.iter().flatten().cloned().collect::<Vec<_>>(),
                *want,
                "{part}"
            );
        }
        Ok(())
    }

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
