//! A Hive-partitioned Parquet dataset: `DIR/date=YYYY-MM-DD[/host=H]/part-NNNNN.parquet`,
//! written under a temporary directory and swapped into place partition by partition only when
//! the run completes; partitions the run did not write are not touched.

use super::parquet::ParquetFile;
use super::RecordWriter;
use crate::record::RecordRef;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Hive partition keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKey {
    /// `date=YYYY-MM-DD`: the local date of `ts`, as logged.
    Date,
    /// `host=NAME`: the syslog host.
    Host,
}

/// A partitioned Parquet dataset written into `root`, atomically per partition.
pub struct Partitioned {
    root: PathBuf,
    tmp: PathBuf,
    keys: Vec<PartitionKey>,
    open: BTreeMap<String, ParquetFile<io::BufWriter<std::fs::File>>>,
    /// Files written per partition (a partition reopened after it was closed gets a new part).
    parts: BTreeMap<String, usize>,
    committed: bool,
    /// Each open file encodes its row groups on a thread of its own.
    encode_apart: bool,
    /// The last record's date and host and its partition: consecutive records nearly always
    /// share it, and building the name was an allocation and a date format per record.
    last: Option<(jiff::civil::Date, Vec<u8>, String)>,
}

/// Partition values may not contain a path separator or start with a dot.
fn partition_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let mut out: String = s
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() || c == '=' {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

impl Partitioned {
    pub fn create(root: &Path, keys: Vec<PartitionKey>) -> io::Result<Partitioned> {
        std::fs::create_dir_all(root)?;
        let tmp = tempfile::Builder::new()
            .prefix(".maillogconv-tmp-")
            .tempdir_in(root)?
            .keep();
        Ok(Partitioned {
            root: root.to_path_buf(),
            tmp,
            keys,
            open: BTreeMap::new(),
            parts: BTreeMap::new(),
            committed: false,
            encode_apart: false,
            last: None,
        })
    }

    /// Encodes and compresses each file's row groups on a thread of its own (more than one
    /// thread: the merge step then only fills the column builders).
    pub fn encode_apart(mut self, apart: bool) -> Self {
        self.encode_apart = apart;
        self
    }

    fn partition_of(&self, r: &RecordRef) -> String {
        let mut p = String::new();
        for k in &self.keys {
            if !p.is_empty() {
                p.push('/');
            }
            match k {
                PartitionKey::Date => {
                    let d = r.ts.map(|t| t.local.date()).unwrap_or_default();
                    p.push_str(&format!("date={d}"));
                }
                PartitionKey::Host => p.push_str(&format!("host={}", partition_value(r.host))),
            }
        }
        p
    }

    /// The partitions written so far, relative to the root.
    pub fn partitions(&self) -> Vec<String> {
        self.parts.keys().cloned().collect()
    }

    /// Moves every written partition into place, replacing the old one, then removes the
    /// temporary directory. All or nothing: if a rename fails, what was moved is moved back.
    pub fn commit(mut self) -> io::Result<()> {
        let trash = self.tmp.join(".old");
        let parts: Vec<String> = self.parts.keys().cloned().collect();
        let mut moved_old: Vec<&str> = Vec::new();
        let mut moved_new: Vec<&str> = Vec::new();
        let result = (|| -> io::Result<()> {
            for part in &parts {
                let dest = self.root.join(part);
                if dest.exists() {
                    let old = trash.join(part);
                    if let Some(parent) = old.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::rename(&dest, &old)?;
                    moved_old.push(part);
                }
            }
            for part in &parts {
                let dest = self.root.join(part);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(self.tmp.join(part), &dest)?;
                moved_new.push(part);
            }
            Ok(())
        })();
        if let Err(e) = result {
            for part in moved_new {
                let _ = std::fs::rename(self.root.join(part), self.tmp.join(part));
            }
            for part in moved_old {
                let _ = std::fs::rename(trash.join(part), self.root.join(part));
            }
            return Err(e);
        }
        self.committed = true;
        std::fs::remove_dir_all(&self.tmp)
    }
}

impl RecordWriter for Partitioned {
    fn write_record(&mut self, r: &RecordRef) -> io::Result<()> {
        let date = r.ts.map(|t| t.local.date()).unwrap_or_default();
        let by_host = self.keys.contains(&PartitionKey::Host);
        let last = match self.last.take() {
            Some(l) if l.0 == date && (!by_host || l.1[..] == *r.host) => l,
            _ => (date, r.host.to_vec(), self.partition_of(r)),
        };
        let written = self.write_in(&last.2, r);
        self.last = Some(last);
        written
    }

    fn finish(&mut self) -> io::Result<()> {
        for (_, mut f) in std::mem::take(&mut self.open) {
            f.close_file()?;
        }
        Ok(())
    }
}

impl Partitioned {
    /// Writes `r` into partition `part`, opening its file if need be.
    fn write_in(&mut self, part: &str, r: &RecordRef) -> io::Result<()> {
        if !self.open.contains_key(part) {
            // Records come in time order: partitions of dates two days back are complete.
            if let Some(day) = r.ts.map(|t| t.local.date()) {
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
                    if let Some(mut f) = self.open.remove(&k) {
                        f.close_file()?;
                    }
                }
            }
            let n = self.parts.entry(part.to_string()).or_insert(0);
            let dir = self.tmp.join(part);
            std::fs::create_dir_all(&dir)?;
            let file = std::fs::File::create(dir.join(format!("part-{:05}.parquet", *n)))?;
            *n += 1;
            self.open.insert(
                part.to_string(),
                ParquetFile::with_encoder(
                    io::BufWriter::with_capacity(1 << 20, file),
                    self.encode_apart,
                )?,
            );
        }
        match self.open.get_mut(part) {
            Some(f) => f.append(r),
            None => Ok(()),
        }
    }
}

impl Drop for Partitioned {
    fn drop(&mut self) {
        // A run that did not complete leaves the dataset as it was.
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}
