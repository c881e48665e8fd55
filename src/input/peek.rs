//! Looks at the start of each file before the run: its first timestamp and the times that tell
//! when it ended (dateext name, gzip MTIME, mtime), so the years of a rotated set can be chosen
//! before any line is converted. Reads at most [`PEEK_BYTES`] of decompressed data per file.

use crate::input::decompress;
use crate::input::discover::{rotated, Rotation};
use crate::input::Input;
use crate::parse::{parse_line, Line};
use crate::time::RawStamp;
use std::io::Read;
use std::time::SystemTime;

/// How much of a file is read to find its first timestamp.
pub const PEEK_BYTES: u64 = 256 * 1024;

/// What is known of when a file ended.
#[derive(Debug, Clone, Default)]
pub struct FileTimes {
    pub stdin: bool,
    /// The date of a dateext name (`maillog-20261120`): when the file was rotated.
    pub name_date: Option<jiff::civil::Date>,
    pub gzip_mtime: Option<SystemTime>,
    pub mtime: Option<SystemTime>,
}

/// The first stamp of a mail line in `input` (none for stdin, which cannot be read twice, or
/// when the start of the file holds none) and the file's times.
pub fn peek(input: &Input) -> (FileTimes, Option<RawStamp>) {
    let Input::Path(p) = input else {
        return (
            FileTimes {
                stdin: true,
                ..FileTimes::default()
            },
            None,
        );
    };
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut times = FileTimes {
        name_date: match rotated(&name).rotation {
            Rotation::Dated(d) => Some(d),
            _ => None,
        },
        ..FileTimes::default()
    };
    let Ok(opened) = decompress::open(input) else {
        return (times, None);
    };
    times.gzip_mtime = opened.gzip_mtime;
    times.mtime = opened.mtime;
    let mut head = Vec::new();
    // A read error here is reported when the file is converted.
    let _ = opened.reader.take(PEEK_BYTES).read_to_end(&mut head);
    let first = head
        .split(|&b| b == b'\n')
        .find_map(|line| match parse_line(line) {
            Line::Known { stamp, .. } => Some(stamp),
            Line::Unknown => None,
        });
    (times, first)
}
