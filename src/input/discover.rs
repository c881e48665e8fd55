//! Input discovery: turns the command line's files, directories and glob patterns into the list
//! of inputs to read, oldest first. Rotated families (`maillog`, `maillog.1`, `maillog.2.gz`, …
//! and dated `maillog-20261120[.gz]`, likewise `mail.log`) are ordered dated names by date,
//! then numbered names by number descending, then the live file. In a directory only mail-log
//! families are taken; Debian's `mail.info`/`mail.warn`/`mail.err` duplicate `mail.log` and are
//! skipped. The same file named twice is read once. A directory with no mail logs of its own
//! is a tree of hosts (`/var/log/remote/<host>/maillog*`): each subdirectory's families are
//! read, and lines that name no host (Exim's mainlog) get the subdirectory's name.

use crate::input::Input;
use jiff::civil::Date;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Families read when a directory is given.
const MAIL_LOG_BASES: [&str; 4] = ["maillog", "mail.log", "mail", "mainlog"];
/// Debian's syslog splits that repeat `mail.log`'s lines.
const DUPLICATE_BASES: [&str; 3] = ["mail.info", "mail.warn", "mail.err"];
const COMPRESSED_SUFFIXES: [&str; 5] = [".gz", ".bz2", ".xz", ".zst", ".zstd"];

/// Where a file stands in its rotated family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// `maillog-20261120`: logrotate's dateext; the date is when it was rotated.
    Dated(Date),
    /// `maillog.3`: higher is older.
    Numbered(u32),
    /// `maillog`: the file being written.
    Live,
}

/// A file name split into its family base and rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub base: String,
    pub rotation: Rotation,
}

/// Parses a file name: `maillog.2.gz` → (`maillog`, 2); `mail.log-20261120.gz` → (`mail.log`,
/// 2026-11-20); `maillog` → (`maillog`, live).
pub fn rotated(name: &str) -> Rotated {
    let mut stem = name;
    for s in COMPRESSED_SUFFIXES {
        if let Some(x) = stem.strip_suffix(s) {
            stem = x;
            break;
        }
    }
    if let Some((base, num)) = stem.rsplit_once('.') {
        if !base.is_empty()
            && !num.is_empty()
            && num.len() <= 4
            && num.bytes().all(|c| c.is_ascii_digit())
        {
            if let Ok(n) = num.parse() {
                return Rotated {
                    base: base.to_string(),
                    rotation: Rotation::Numbered(n),
                };
            }
        }
    }
    if let Some((base, date)) = stem.rsplit_once('-') {
        // dateext: -YYYYMMDD, optionally followed by HH (dateformat -%Y%m%d%H).
        let digits = date.len() == 8 || date.len() == 10;
        if !base.is_empty() && digits && date.bytes().all(|c| c.is_ascii_digit()) {
            let n = |r: std::ops::Range<usize>| date.get(r).and_then(|s| s.parse::<i16>().ok());
            if let (Some(y), Some(m), Some(d)) = (n(0..4), n(4..6), n(6..8)) {
                if let Ok(date) = Date::new(y, m as i8, d as i8) {
                    return Rotated {
                        base: base.to_string(),
                        rotation: Rotation::Dated(date),
                    };
                }
            }
        }
    }
    Rotated {
        base: stem.to_string(),
        rotation: Rotation::Live,
    }
}

/// The inputs to read, and what discovery has to say (skipped and repeated files).
#[derive(Debug, Default)]
pub struct Discovered {
    pub inputs: Vec<Input>,
    /// For each input, the index of its rotated family (one chain of years).
    pub families: Vec<usize>,
    /// For each input, the host a tree's directory names (lines naming none get it).
    pub hosts: Vec<Option<String>>,
    pub notes: Vec<String>,
    /// What a user should see even without `--stats` (files skipped as duplicates).
    pub warnings: Vec<String>,
    /// Arguments that named nothing readable (a pattern that matches no file).
    pub missing: Vec<String>,
}

fn order_key(r: &Rotation) -> (u8, i64) {
    match r {
        Rotation::Dated(d) => (
            0,
            i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day()),
        ),
        Rotation::Numbered(n) => (1, -i64::from(*n)),
        Rotation::Live => (2, 0),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Expands and orders `args` (files, directories, glob patterns, stdin).
pub fn discover(args: &[Input]) -> Discovered {
    let mut d = Discovered::default();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut tree_hosts: Vec<(PathBuf, String)> = Vec::new();
    let mut stdin = false;
    for a in args {
        let Input::Path(a) = a else {
            stdin = true;
            continue;
        };
        let s = a.to_string_lossy();
        if a.is_dir() {
            let mut found = directory(a, &mut d.warnings);
            if found.is_empty() {
                for (host, sub) in subdirectories(a) {
                    let mine = directory(&sub, &mut d.warnings);
                    if !mine.is_empty() {
                        tree_hosts.push((sub, host));
                    }
                    found.extend(mine);
                }
            }
            if found.is_empty() {
                d.missing.push(format!(
                    "{}: no maillog or mail.log files in this directory or its subdirectories",
                    a.display()
                ));
            }
            files.extend(found);
        } else if !a.exists() && s.contains(['*', '?', '[']) {
            let mut matched: Vec<PathBuf> = glob::glob(&s)
                .map(|g| g.filter_map(Result::ok).filter(|p| p.is_file()).collect())
                .unwrap_or_default();
            if matched.is_empty() {
                d.missing.push(format!("{s}: no file matches this pattern"));
            }
            matched.sort();
            files.append(&mut matched);
        } else {
            // Missing or unreadable files are reported when they are opened.
            files.push(a.clone());
        }
    }
    skip_debian_duplicates(&mut files, &mut d.warnings);
    // The same file twice (by identity, not by spelling) is read once.
    let mut seen = HashSet::new();
    files.retain(|p| {
        let id = identity(p);
        let new = id.as_ref().is_none_or(|id| seen.insert(*id));
        if !new {
            d.notes
                .push(format!("{}: given more than once, read once", p.display()));
        }
        new
    });
    // Group by family (directory + base) in order of first appearance; order within.
    let mut families: Vec<Family> = Vec::new();
    for p in files {
        let r = rotated(&file_name(&p));
        let key = (
            p.parent().map(Path::to_path_buf).unwrap_or_default(),
            r.base,
        );
        match families.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push((r.rotation, p)),
            None => families.push((key, vec![(r.rotation, p)])),
        }
    }
    let n = families.len();
    for (f, (_, mut members)) in families.into_iter().enumerate() {
        members.sort_by(|a, b| {
            order_key(&a.0)
                .cmp(&order_key(&b.0))
                .then_with(|| a.1.cmp(&b.1))
        });
        d.families.extend(std::iter::repeat_n(f, members.len()));
        for (_, p) in &members {
            let dir = p.parent().unwrap_or(Path::new(""));
            let host = tree_hosts.iter().find(|(sub, _)| sub == dir);
            d.hosts.push(host.map(|(_, h)| h.clone()));
        }
        d.inputs
            .extend(members.into_iter().map(|(_, p)| Input::Path(p)));
    }
    if stdin || args.is_empty() {
        d.inputs.push(Input::Stdin);
        d.families.push(n);
        d.hosts.push(None);
    }
    d
}

/// The subdirectories of a tree of hosts, by name: each one's name is its host.
fn subdirectories(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut subs: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .map(|p| (file_name(&p), p))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    subs.sort();
    subs
}

/// Debian's rsyslog writes each mail line to `mail.log` and again to `mail.info`, `mail.warn`
/// or `mail.err` by level: beside a `mail.log` family, those are skipped, however they were
/// named (a directory, a glob such as `/var/log/mail.*`, or a list).
fn skip_debian_duplicates(files: &mut Vec<PathBuf>, warnings: &mut Vec<String>) {
    let dir_of = |p: &Path| p.parent().map(Path::to_path_buf).unwrap_or_default();
    let with_mail_log: HashSet<PathBuf> = files
        .iter()
        .filter(|p| rotated(&file_name(p)).base == "mail.log")
        .map(|p| dir_of(p))
        .collect();
    let mut skipped: Vec<String> = Vec::new();
    files.retain(|p| {
        let dup = DUPLICATE_BASES.contains(&rotated(&file_name(p)).base.as_str())
            && with_mail_log.contains(&dir_of(p));
        if dup {
            skipped.push(p.display().to_string());
        }
        !dup
    });
    if !skipped.is_empty() {
        warnings.push(format!(
            "skipped {} (Debian's mail.info/mail.warn/mail.err repeat mail.log's lines)",
            skipped.join(", ")
        ));
    }
}

/// A rotated family (directory, base name) and its members.
type Family = ((PathBuf, String), Vec<(Rotation, PathBuf)>);

/// Device and inode: the same file under two names is one file.
#[cfg(unix)]
pub fn identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
pub fn identity(_p: &Path) -> Option<(u64, u64)> {
    None
}

/// The mail-log families of a directory.
fn directory(dir: &Path, warnings: &mut Vec<String>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        // Reported when opened: the directory itself becomes an input that fails.
        return vec![dir.to_path_buf()];
    };
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if !p.is_file() {
            continue;
        }
        let name = file_name(&p);
        let base = rotated(&name).base;
        if MAIL_LOG_BASES.contains(&base.as_str()) {
            out.push(p);
        } else if DUPLICATE_BASES.contains(&base.as_str()) {
            skipped.push(name);
        }
    }
    if !skipped.is_empty() {
        skipped.sort();
        warnings.push(format!(
            "{}: skipped {} (Debian's mail.info/mail.warn/mail.err repeat mail.log's lines)",
            dir.display(),
            skipped.join(", ")
        ));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names() {
        let cases = [
            ("maillog", "maillog", Rotation::Live),
            ("maillog.1", "maillog", Rotation::Numbered(1)),
            ("maillog.12.gz", "maillog", Rotation::Numbered(12)),
            ("mail.log.3.zst", "mail.log", Rotation::Numbered(3)),
            (
                "maillog-20261120.gz",
                "maillog",
                Rotation::Dated(jiff::civil::date(2026, 11, 20)),
            ),
            (
                "mail.log-2026112006",
                "mail.log",
                Rotation::Dated(jiff::civil::date(2026, 11, 20)),
            ),
            ("mail.log", "mail.log", Rotation::Live),
            ("mail.info.1", "mail.info", Rotation::Numbered(1)),
        ];
        for (name, base, rot) in cases {
            assert_eq!(
                rotated(name),
                Rotated {
                    base: base.into(),
                    rotation: rot
                },
                "{name}"
            );
        }
    }

    /// The file names of what discovery found, in order (`-` for stdin).
    fn names(d: &Discovered) -> Vec<String> {
        d.inputs
            .iter()
            .map(|i| match i {
                Input::Path(p) => file_name(p),
                Input::Stdin => "-".into(),
            })
            .collect()
    }

    #[test]
    fn directory_is_ordered_oldest_first_and_skips_duplicates() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for n in [
            "maillog",
            "maillog.1",
            "maillog.2.gz",
            "maillog.10.gz",
            "mail.info",
            "mail.warn.1",
            "syslog",
        ] {
            std::fs::write(dir.path().join(n), "x\n").unwrap_or_else(|e| panic!("{e}"));
        }
        let d = discover(&[Input::Path(dir.path().to_path_buf())]);
        let names = names(&d);
        assert_eq!(
            names,
            ["maillog.10.gz", "maillog.2.gz", "maillog.1", "maillog"]
        );
        assert!(
            d.warnings
                .iter()
                .any(|n| n.contains("mail.info, mail.warn.1")),
            "{:?}",
            d.warnings
        );
    }

    #[test]
    fn debian_duplicates_are_skipped_however_they_are_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for n in [
            "mail.log",
            "mail.log.1",
            "mail.info",
            "mail.warn",
            "mail.err.1.gz",
        ] {
            std::fs::write(dir.path().join(n), "x\n").unwrap_or_else(|e| panic!("{e}"));
        }
        let glob = Input::Path(dir.path().join("mail.*"));
        let list: Vec<Input> = ["mail.info", "mail.log", "mail.warn"]
            .iter()
            .map(|n| Input::Path(dir.path().join(n)))
            .collect();
        for args in [vec![glob], list] {
            let d = discover(&args);
            let names = names(&d);
            assert!(names.iter().all(|n| n.starts_with("mail.log")), "{names:?}");
            assert!(
                d.warnings.iter().any(|w| w.contains("mail.info")),
                "{:?}",
                d.warnings
            );
        }
        // Without mail.log beside them, they are read.
        let alone = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(alone.path().join("mail.info"), "x\n").unwrap_or_else(|e| panic!("{e}"));
        let d = discover(&[Input::Path(alone.path().join("mail.info"))]);
        assert_eq!(d.inputs.len(), 1);
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn explicit_files_are_reordered_within_their_family_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for n in ["mail.log", "mail.log-20261119", "mail.log-20261120.gz"] {
            std::fs::write(dir.path().join(n), "x\n").unwrap_or_else(|e| panic!("{e}"));
        }
        let p = |n: &str| dir.path().join(n);
        let args: Vec<Input> = [
            "mail.log",
            "mail.log-20261120.gz",
            "mail.log-20261119",
            "mail.log",
        ]
        .iter()
        .map(|n| Input::Path(p(n)))
        .collect();
        let d = discover(&args);
        let want: Vec<Input> = ["mail.log-20261119", "mail.log-20261120.gz", "mail.log"]
            .iter()
            .map(|n| Input::Path(p(n)))
            .collect();
        assert_eq!(d.inputs, want);
        assert_eq!(d.notes.len(), 1);
    }
}
