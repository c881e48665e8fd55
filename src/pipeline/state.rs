//! What a run leaves for the next one (`--state FILE`): which inputs were read and how far —
//! known by their first bytes, so a file keeps its place when logrotate renames, compresses or
//! dates it, and starts over when copytruncate empties it — and what the pipeline holds
//! between lines: open messages, the year of the last line, records waiting for time order.
//! The file is written whole or not at all, after the output is committed; it is versioned and
//! checksummed (another version's or a damaged one is refused, and nothing is touched); a lock
//! file beside it keeps two runs from interleaving. Its size follows the open messages.

use super::merging::Held;
use crate::files;
use crate::hash::{fnv1a, FNV_START};
use crate::merge::{Merger, Sharded};
use crate::order::Reorder;
use crate::time::YearResolver;
use crate::years::Peeked;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"MLCSTATE";
/// The state format; a file of another version is refused (exit 2), except versions 1 and 2,
/// whose one merger is split into shards (version 1 has no journal bookmark).
pub const VERSION: u32 = 3;
/// Entries of inputs that were not given for this long are forgotten.
const FORGET_AFTER_SECS: i64 = 62 * 86_400;
/// Inputs remembered at most.
const MAX_INPUTS: usize = 4096;

/// An input read by an earlier run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seen {
    /// Its first `prefix_len` decompressed bytes hash to `prefix_hash`.
    pub prefix_len: u32,
    pub prefix_hash: u64,
    /// Decompressed bytes read, to the end of the last whole line.
    pub offset: u64,
    /// Lines read.
    pub lines: u64,
    /// When a run last saw it (Unix seconds).
    pub seen_at: i64,
    /// The year resolver after its last line, for the input a run read last.
    pub resolver: Option<YearResolver>,
}

/// Everything a run carries to the next.
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    /// The output format the held records are in.
    pub format: String,
    pub inputs: Vec<Seen>,
    pub(super) merger: Option<Sharded>,
    pub(super) held: Option<Reorder<Held>>,
    /// `--append`: the output's length when the last run committed.
    pub output_len: Option<u64>,
    /// The latest journal entry read (version 2): journal streams go on after it.
    pub journal: Option<crate::input::journal::Mark>,
}

/// A version 2 state: one merger, not shards.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct StateV2 {
    format: String,
    inputs: Vec<Seen>,
    merger: Option<Merger>,
    held: Option<Reorder<Held>>,
    output_len: Option<u64>,
    journal: Option<crate::input::journal::Mark>,
}

/// A version 1 state: a version 2 one without `journal`.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct StateV1 {
    format: String,
    inputs: Vec<Seen>,
    merger: Option<Merger>,
    held: Option<Reorder<Held>>,
    output_len: Option<u64>,
}
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// Decompressed bytes already read.
    pub skip: u64,
    /// Lines already read (line numbers go on from there).
    pub lines: u64,
    pub resolver: Option<YearResolver>,
}

/// Why a state file cannot be used (exit 2: nothing is touched).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: not a maillogconv state file")]
    Foreign { path: String },
    #[error("{path}: state format version {found}; this maillogconv reads version {VERSION}")]
    Version { path: String, found: u32 },
    #[error("{path}: damaged state file ({why}); restore it or start a new state")]
    Damaged { path: String, why: String },
    #[error("{path}: written for --format {found}; this run writes {wanted}")]
    Format {
        path: String,
        found: String,
        wanted: String,
    },
    #[error("{path}: cannot read the state file")]
    Read { path: String, source: io::Error },
}

impl Seen {
    /// True if an input starting with `head` begins with the bytes this entry was made from.
    fn matches(&self, head: &[u8]) -> bool {
        let n = self.prefix_len as usize;
        n > 0 && head.len() >= n && fnv1a(FNV_START, &head[..n]) == self.prefix_hash
    }
}

impl State {
    /// Reads the state at `path`; none yet is an empty state. `format` must be the one it was
    /// written for.
    pub fn load(path: &Path, format: &str) -> Result<State, StateError> {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(State {
                    format: format.to_string(),
                    ..State::default()
                })
            }
            Err(source) => return Err(StateError::Read { path: name, source }),
        };
        let damaged = |why: &str| StateError::Damaged {
            path: name.clone(),
            why: why.to_string(),
        };
        let Some(rest) = bytes.strip_prefix(MAGIC) else {
            return Err(StateError::Foreign { path: name });
        };
        let (version, rest) = rest
            .split_at_checked(4)
            .ok_or_else(|| damaged("too short"))?;
        let version = u32::from_le_bytes(version.try_into().map_err(|_| damaged("too short"))?);
        if !(1..=VERSION).contains(&version) {
            return Err(StateError::Version {
                path: name,
                found: version,
            });
        }
        let (payload, crc) = rest
            .split_at_checked(rest.len().saturating_sub(4))
            .ok_or_else(|| damaged("too short"))?;
        let crc = u32::from_le_bytes(crc.try_into().map_err(|_| damaged("too short"))?);
        if crc32fast::hash(payload) != crc {
            return Err(damaged("checksum mismatch"));
        }
        let read_error = |e: postcard::Error| damaged(&e.to_string());
        let state: State = match version {
            1 => {
                let v1: StateV1 = postcard::from_bytes(payload).map_err(read_error)?;
                State {
                    format: v1.format,
                    inputs: v1.inputs,
                    merger: v1.merger.map(Sharded::from_merger),
                    held: v1.held,
                    output_len: v1.output_len,
                    journal: None,
                }
            }
            2 => {
                let v2: StateV2 = postcard::from_bytes(payload).map_err(read_error)?;
                State {
                    format: v2.format,
                    inputs: v2.inputs,
                    merger: v2.merger.map(Sharded::from_merger),
                    held: v2.held,
                    output_len: v2.output_len,
                    journal: v2.journal,
                }
            }
            _ => {
                let mut st: State = postcard::from_bytes(payload).map_err(read_error)?;
                st.merger = st.merger.map(Sharded::restored);
                st
            }
        };
        let mut state = state;
        if state.format == crate::output::Format::Parquet.name()
            && format == crate::output::parquet::STATE_FORMAT
        {
            // Rows held by a build before a375b90: the same rows with their range marks.
            for h in state.held.iter_mut().flat_map(Reorder::held_mut) {
                if let Held::Line(_, row) = h {
                    *row = crate::output::parquet::with_ranges(row)
                        .map_err(|e| damaged(&format!("a held Parquet row: {e}")))?;
                }
            }
            state.format = format.to_string();
        }
        if state.format != format {
            return Err(StateError::Format {
                path: name,
                found: state.format,
                wanted: format.to_string(),
            });
        }
        Ok(state)
    }

    /// The bytes of the state file.
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let payload = postcard::to_stdvec(self).map_err(io::Error::other)?;
        let mut out = Vec::with_capacity(payload.len() + 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        Ok(out)
    }

    /// Where each input starts: after what an earlier run read of the same text.
    pub fn resumes(&self, peeks: &[Peeked]) -> Vec<Option<Resume>> {
        peeks
            .iter()
            .map(|p| {
                self.inputs
                    .iter()
                    .filter(|s| s.matches(&p.head))
                    .max_by_key(|s| (s.prefix_len, s.offset))
                    .map(|s| Resume {
                        skip: s.offset,
                        lines: s.lines,
                        resolver: s.resolver.clone(),
                    })
            })
            .collect()
    }

    /// Records what this run read: `read[i]` (bytes, lines) for input `i`; the resolver goes
    /// with `last`, the input read last. Entries of inputs not given this run are kept for a
    /// while (an input left out one night is not read again the next).
    pub fn record_inputs(
        &mut self,
        peeks: &[Peeked],
        read: &[Option<(u64, u64)>],
        last: Option<(usize, YearResolver)>,
        now: i64,
    ) {
        let mut seen: Vec<Seen> = Vec::new();
        for (i, (p, r)) in peeks.iter().zip(read).enumerate() {
            let Some((offset, lines)) = *r else { continue };
            if p.head.is_empty() {
                continue;
            }
            seen.push(Seen {
                prefix_len: u32::try_from(p.head.len()).unwrap_or(u32::MAX),
                prefix_hash: fnv1a(FNV_START, &p.head),
                offset,
                lines,
                seen_at: now,
                resolver: last
                    .as_ref()
                    .filter(|(l, _)| *l == i)
                    .map(|(_, r)| r.clone()),
            });
        }
        let given = |s: &Seen| peeks.iter().any(|p| s.matches(&p.head));
        let old = std::mem::take(&mut self.inputs);
        seen.extend(
            old.into_iter()
                .filter(|s| !given(s) && now - s.seen_at < FORGET_AFTER_SECS),
        );
        seen.truncate(MAX_INPUTS);
        self.inputs = seen;
    }
}

/// The lock beside a state file, held for the run.
pub fn lock(state: &Path) -> io::Result<std::fs::File> {
    let busy = format!(
        "another maillogconv run is using the state {}",
        state.display()
    );
    files::lock(&sibling(state, "lock"), &busy)
}

/// `state.EXT` beside the state file.
pub fn sibling(state: &Path, ext: &str) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(ext);
    state.with_file_name(name)
}

/// A run that writes a file output with its state commits both with one journal beside the
/// state: `[(staged, final)…]`. A run stopped after writing it is finished by the next.
pub fn roll_forward(state: &Path) -> io::Result<()> {
    let journal = sibling(state, "journal");
    let text = match std::fs::read(&journal) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let moves: Vec<(PathBuf, PathBuf)> = serde_json::from_slice(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", journal.display()),
        )
    })?;
    for (staged, dest) in &moves {
        if staged.exists() {
            files::install(staged, dest)?;
        }
    }
    std::fs::remove_file(&journal)
}

/// Commits `moves` at once: the journal's rename is the commit point. Its paths are absolute,
/// so a run started from another directory finishes it alike.
pub fn commit(state: &Path, moves: &[(PathBuf, PathBuf)]) -> io::Result<()> {
    let journal = sibling(state, "journal");
    let moves: Vec<(PathBuf, PathBuf)> = moves
        .iter()
        .map(|(a, b)| Ok((std::path::absolute(a)?, std::path::absolute(b)?)))
        .collect::<io::Result<_>>()?;
    let bytes = serde_json::to_vec(&moves).map_err(io::Error::other)?;
    files::write_atomically(&journal, &bytes)?;
    roll_forward(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peeked(head: &[u8]) -> Peeked {
        Peeked {
            head: head.to_vec(),
            ..Peeked::default()
        }
    }

    #[test]
    fn an_input_is_known_by_its_first_bytes_whatever_its_name() {
        let mut st = State::default();
        let live = peeked(b"Dec  1 06:25:01 mx1 postfix/qmgr[1]: A: removed\nDec  1 06:26");
        st.record_inputs(std::slice::from_ref(&live), &[Some((48, 1))], None, 1000);
        // The same text, grown (or renamed, or compressed: the head is decompressed).
        let grown =
            peeked(b"Dec  1 06:25:01 mx1 postfix/qmgr[1]: A: removed\nDec  1 06:26:00 more\n");
        let r = st.resumes(&[grown, peeked(b"Dec  2 06:25:00 other\n"), peeked(b"")]);
        assert_eq!(r[0].as_ref().map(|r| (r.skip, r.lines)), Some((48, 1)));
        assert!(r[1].is_none(), "another text starts over");
        assert!(r[2].is_none(), "an empty file matches nothing");
        // Shorter than what was seen: not the same file (copytruncate emptied it and it
        // started again).
        assert!(st.resumes(&[peeked(b"Dec  1 06:25:01")])[0].is_none());
    }

    #[test]
    fn entries_of_inputs_not_given_are_kept_for_a_while_then_forgotten() {
        let mut st = State::default();
        st.record_inputs(&[peeked(b"a\n")], &[Some((2, 1))], None, 0);
        st.record_inputs(&[peeked(b"b\n")], &[Some((2, 1))], None, 86_400);
        assert_eq!(st.inputs.len(), 2);
        st.record_inputs(&[peeked(b"b\n")], &[Some((2, 1))], None, 63 * 86_400);
        assert_eq!(st.inputs.len(), 1);
    }

    #[test]
    fn parquet_rows_held_by_an_earlier_build_are_loaded_in_this_form() {
        use crate::output::parquet::{render_row, with_ranges, STATE_FORMAT};
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s");
        let rec = crate::record::RecordRef {
            ts: Some(crate::time::Stamp::utc(
                jiff::civil::date(2026, 3, 2).at(7, 44, 21, 0),
            )),
            host: b"mx1",
            recipient: b"c@d.example",
            ..crate::record::RecordRef::default()
        };
        let mut row = Vec::new();
        render_row(&rec, &mut row).unwrap_or_else(|e| panic!("{e}"));
        // The row as builds before a375b90 held it: the range marks (20 bytes after the
        // head and host: 13 + 4 + 3 here) left out.
        let marks = 13 + 4 + 3;
        let old = [&row[..marks], &row[marks + 20..]].concat();
        assert_eq!(with_ranges(&old).unwrap_or_default(), row);
        let mut held = Reorder::new(60);
        held.push(Held::Line(1, old), &mut |_| Err::<(), ()>(()))
            .unwrap_or_else(|()| panic!("emitted"));
        let st = State {
            format: "parquet".into(),
            held: Some(held),
            ..State::default()
        };
        std::fs::write(&path, st.to_bytes().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        let mut back = State::load(&path, STATE_FORMAT).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.format, STATE_FORMAT);
        let rows: Vec<Vec<u8>> = (back.held.iter_mut().flat_map(Reorder::held_mut))
            .filter_map(|h| match h {
                Held::Line(_, r) => Some(r.clone()),
                Held::Record(_) => None,
            })
            .collect();
        assert_eq!(rows, vec![row]);
        // A state this build saved is not read as an earlier build's.
        std::fs::write(&path, back.to_bytes().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            State::load(&path, "parquet"),
            Err(StateError::Format { .. })
        ));
    }

    #[test]
    fn a_state_file_round_trips_and_a_foreign_damaged_or_other_version_one_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s");
        let mut st = State {
            format: "awstats".into(),
            ..State::default()
        };
        st.record_inputs(&[peeked(b"line\n")], &[Some((5, 1))], None, 7);
        st.merger = Some(Sharded::new(3600));
        let bytes = st.to_bytes().unwrap_or_default();
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let back = State::load(&path, "awstats").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.inputs.len(), 1);
        assert!(matches!(
            State::load(&path, "csv"),
            Err(StateError::Format { .. })
        ));
        let mut bad = bytes.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x40;
        std::fs::write(&path, &bad).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            State::load(&path, "awstats"),
            Err(StateError::Damaged { .. })
        ));
        let mut other = bytes.clone();
        other[8] = 9;
        std::fs::write(&path, &other).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            State::load(&path, "awstats"),
            Err(StateError::Version { found: 9, .. })
        ));
        std::fs::write(&path, "Dec  1 06:25:01 mx1 postfix/qmgr[1]: A: removed\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            State::load(&path, "awstats"),
            Err(StateError::Foreign { .. })
        ));
        assert!(State::load(&dir.path().join("none"), "awstats").is_ok());
    }

    /// A nightly state written before the journal bookmark (version 1) is read on, with no
    /// bookmark; a version 2 state keeps its bookmark.
    #[test]
    fn a_version_1_state_is_read_and_the_journal_bookmark_round_trips() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s");
        let mut st = State {
            format: "awstats".into(),
            ..State::default()
        };
        st.record_inputs(&[peeked(b"line\n")], &[Some((5, 1))], None, 7);
        let v1 = StateV1 {
            format: st.format.clone(),
            inputs: st.inputs.clone(),
            merger: Some(Merger::new()),
            held: None,
            output_len: Some(42),
        };
        let payload = postcard::to_stdvec(&v1).unwrap_or_default();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let back = State::load(&path, "awstats").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back.inputs.len(), back.output_len), (1, Some(42)));
        assert!(back.journal.is_none() && back.merger.is_some());
        let mark = crate::input::journal::Mark {
            seqnum_id: "739ad463".into(),
            seqnum: 67,
            realtime: 1_777_200_919_000_000,
        };
        let st = State {
            journal: Some(mark.clone()),
            ..back
        };
        std::fs::write(&path, st.to_bytes().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        let again = State::load(&path, "awstats").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.journal, Some(mark));
    }
}
