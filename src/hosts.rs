//! Host families: the unit of parallel work across many mail servers. Correlation and year
//! inference are per host and per rotated set, so one host's files, oldest first, are read by
//! one reader; hosts are independent. A tree of per-host directories (`/var/log/remote/<host>/`)
//! gives one family per directory, without reading a line. A central syslog file (or rotated
//! set) with many hosts is scanned once for the hosts its mail lines name: each is a family
//! that reads the whole set and keeps only its own lines (`--only-host`).

use crate::cancel::Cancel;
use crate::error::Error;
use crate::input::chunk::{Pool, CHUNK_SIZE};
use crate::input::discover::discover;
use crate::input::Input;
use crate::parse::{parse_line, Line};
use crate::pipeline::{How, Reading};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One host's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFamily {
    /// The host: a tree's directory name, or the host a central log's lines name. `None`
    /// when the lines name no host and no directory names one.
    pub host: Option<String>,
    /// The files, oldest first.
    pub paths: Vec<PathBuf>,
    /// The files hold other hosts' lines too: read only this host's (`--only-host`).
    pub only_host: bool,
}

/// A line's start is enough for its syslog header (the host); the rest of a long line is
/// passed over, so memory stays bounded whatever the input. (Lines are cut at this length by
/// the chunker, whose chunks are then no larger: 64 KiB keeps them few.)
const LINE_KEPT: usize = 64 * 1024;

/// Groups `inputs` (a tree of hosts, a directory of logs, files, glob patterns) into host
/// families, in host order. Files given directly are scanned for the hosts their lines name, a
/// directory at a time: a directory of one host's logs is that host's family; a host named in
/// several directories reads them all. Reading a central log to find its hosts can fail: the
/// error names the file and the offset.
pub fn families(inputs: &[Input]) -> Result<Vec<HostFamily>, Error> {
    let found = discover(inputs);
    if let Some(what) = found.missing.into_iter().next() {
        return Err(Error::NoInput { what });
    }
    let mut tree: Vec<HostFamily> = Vec::new();
    let mut rest: Vec<PathBuf> = Vec::new();
    for (input, host) in found.inputs.into_iter().zip(found.hosts) {
        let Input::Path(p) = input else {
            return Err(Error::NoInput {
                what: "standard input cannot be shared between host families".into(),
            });
        };
        match host {
            Some(h) => add(&mut tree, Some(h), &[p], false),
            None => rest.push(p),
        }
    }
    // Files given directly are scanned a directory at a time: a host's family is the files of
    // the directories whose lines name it, read for its lines only where others' are there too.
    let mut dirs: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for p in rest {
        let dir = p.parent().map(PathBuf::from).unwrap_or_default();
        match dirs.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, v)) => v.push(p),
            None => dirs.push((dir, vec![p])),
        }
    }
    let mut named: Vec<HostFamily> = Vec::new();
    for (_, paths) in dirs {
        let hosts = hosts_named(&paths)?;
        let shared = hosts.len() > 1;
        // A directory whose lines name no host is read as one family of its own.
        let hosts: Vec<Option<String>> = if hosts.is_empty() {
            vec![None]
        } else {
            hosts
                .into_iter()
                .map(|h| Some(h).filter(|h| !h.is_empty()))
                .collect()
        };
        for host in hosts {
            add(&mut named, host, &paths, shared);
        }
    }
    tree.extend(named);
    tree.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(tree)
}

/// Adds `paths` to `host`'s family in `fams`, or starts it.
fn add(fams: &mut Vec<HostFamily>, host: Option<String>, paths: &[PathBuf], only_host: bool) {
    match fams.iter_mut().find(|f| f.host == host) {
        Some(f) => {
            f.paths.extend_from_slice(paths);
            f.only_host |= only_host;
        }
        None => fams.push(HostFamily {
            host,
            paths: paths.to_vec(),
            only_host,
        }),
    }
}

/// The hosts the mail lines of `paths` name (empty: lines that name none). Inputs are opened
/// and cut into lines as a run does (compressed files, journal streams), and a line's first
/// [`LINE_KEPT`] bytes are looked at.
fn hosts_named(paths: &[PathBuf]) -> Result<BTreeSet<String>, Error> {
    let mut hosts = BTreeSet::new();
    let pool = Pool::default();
    for p in paths {
        let input = Input::Path(p.clone());
        let how = How {
            chunk_size: CHUNK_SIZE,
            skip: 0,
            hold_tail: false,
            max_line: LINE_KEPT,
            // Only the hosts are read: journal entries' times do not matter here.
            tz: jiff::tz::TimeZone::UTC,
            journal_after: None,
        };
        let mut reading = Reading::open(&input, &pool, how, &Cancel::new())?;
        // Hosts rarely change from one line to the next.
        let mut last: Vec<u8> = Vec::new();
        while let Some(chunk) = reading.next(&input)? {
            for line in chunk.bytes().split(|&b| b == b'\n') {
                if let Line::Known { host, .. } = parse_line(line) {
                    if host != last.as_slice() {
                        last = host.to_vec();
                        let name = String::from_utf8_lossy(host);
                        if !hosts.contains(name.as_ref()) {
                            hosts.insert(name.into_owned());
                        }
                    }
                }
            }
            pool.put(chunk.buf);
        }
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &std::path::Path, text: &str) {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(p, text).unwrap_or_else(|e| panic!("{e}"));
    }

    const POSTFIX: &str = "postfix/qmgr[2]: 4B1A2: removed\n";

    #[test]
    fn a_tree_gives_one_family_per_directory_oldest_file_first() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (f, line) in [
            ("mx2/maillog", "Mar  1 00:00:00 mx2 "),
            ("mx1/maillog.1", "Mar  1 00:00:00 mx1 "),
            ("mx1/maillog", "Mar  2 00:00:00 mx1 "),
            ("exim/mainlog", ""),
        ] {
            write(&d.path().join(f), &format!("{line}{POSTFIX}"));
        }
        std::fs::create_dir(d.path().join("empty")).unwrap_or_else(|e| panic!("{e}"));
        let fams = families(&[Input::Path(d.path().into())]).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(Option<&str>, Vec<String>, bool)> = fams
            .iter()
            .map(|f| {
                let names = f
                    .paths
                    .iter()
                    .map(|p| p.strip_prefix(d.path()).unwrap_or(p).display().to_string())
                    .collect();
                (f.host.as_deref(), names, f.only_host)
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some("exim"), vec!["exim/mainlog".to_string()], false),
                (
                    Some("mx1"),
                    vec!["mx1/maillog.1".into(), "mx1/maillog".into()],
                    false
                ),
                (Some("mx2"), vec!["mx2/maillog".into()], false),
            ]
        );
    }

    #[test]
    fn a_central_log_gives_one_family_per_host_its_lines_name() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut text = String::new();
        for h in ["b.example", "a.example", "b.example"] {
            text.push_str(&format!("Mar  1 00:00:00 {h} {POSTFIX}"));
        }
        // Not a mail line: names no family.
        text.push_str("Mar  1 00:00:00 c.example kernel: eth0 up\n");
        // A long line is read up to its header.
        text.push_str(&format!(
            "Mar  1 00:00:01 d.example postfix/smtpd[1]: {}",
            "x".repeat(100_000)
        ));
        let log = d.path().join("maillog");
        write(&log, &text);
        let fams = families(&[Input::Path(log.clone())]).unwrap_or_else(|e| panic!("{e}"));
        let hosts: Vec<Option<&str>> = fams.iter().map(|f| f.host.as_deref()).collect();
        assert_eq!(
            hosts,
            [Some("a.example"), Some("b.example"), Some("d.example")]
        );
        assert!(fams.iter().all(|f| f.only_host && f.paths == [log.clone()]));
        // One host's log is one family that reads it all.
        let one = d.path().join("one/maillog");
        write(&one, &format!("Mar  1 00:00:00 mx {POSTFIX}"));
        let fams = families(&[Input::Path(one.clone())]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            fams,
            [HostFamily {
                host: Some("mx".into()),
                paths: vec![one],
                only_host: false
            }]
        );
    }

    #[test]
    fn directories_given_directly_are_one_family_per_host_their_lines_name() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (f, h) in [
            ("a/maillog", "mx1"),
            ("b/maillog", "mx2"),
            ("c/maillog.1", "mx1"),
        ] {
            write(&d.path().join(f), &format!("Mar  1 00:00:00 {h} {POSTFIX}"));
        }
        let inputs: Vec<Input> = ["a", "b", "c/maillog.1"]
            .iter()
            .map(|p| Input::Path(d.path().join(p)))
            .collect();
        let fams = families(&inputs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            fams,
            [
                HostFamily {
                    host: Some("mx1".into()),
                    paths: vec![d.path().join("a/maillog"), d.path().join("c/maillog.1")],
                    only_host: false
                },
                HostFamily {
                    host: Some("mx2".into()),
                    paths: vec![d.path().join("b/maillog")],
                    only_host: false
                },
            ]
        );
    }

    /// A journal export is read as a run reads it: its entries' hosts are families.
    #[test]
    fn a_central_journal_stream_gives_its_hosts() {
        let export =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/journal/mail.export");
        let fams = families(&[Input::Path(export)]).unwrap_or_else(|e| panic!("{e}"));
        let hosts: Vec<Option<&str>> = fams.iter().map(|f| f.host.as_deref()).collect();
        assert_eq!(
            hosts,
            [
                Some("letterman"),
                Some("mail"),
                Some("mailgw-out1"),
                Some("mx1"),
                Some("tcc1")
            ]
        );
        assert!(fams.iter().all(|f| f.only_host));
    }

    #[test]
    fn an_unreadable_central_log_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let gz = d.path().join("maillog.1.gz");
        // A gzip header, then garbage.
        let mut bytes = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        bytes.extend_from_slice(&[0xff; 64]);
        std::fs::write(&gz, bytes).unwrap_or_else(|e| panic!("{e}"));
        let e = families(&[Input::Path(gz.clone())])
            .err()
            .unwrap_or_else(|| panic!("no error"));
        assert!(e.to_string().contains(&gz.display().to_string()), "{e}");
    }
}
