//! The timestamp parsers (BSD, ISO, TAI64N, splogger epoch) and year inference on arbitrary
//! bytes: each stamp resolved by `--year`, by an anchor, in a zone with DST, and a rotated set's
//! year chain built from them. No panic, whatever the stamps.
#![no_main]

use jiff::civil::date;
use jiff::tz::TimeZone;
use libfuzzer_sys::fuzz_target;
use maillogconv::parse::qmail;
use maillogconv::time::{parse_bsd, parse_iso, YearResolver, YearStart};
use maillogconv::years::{chain_years, ChainFile};

fuzz_target!(|data: &[u8]| {
    let anchor = date(2026, 11, 23).at(3, 0, 0, 0);
    let zone = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
    let mut by_year = YearResolver::new(YearStart::FirstLineIn(2024));
    let mut by_anchor = YearResolver::with_tz(YearStart::NotAfter(anchor), zone);
    let mut files = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let stamps = [
            parse_bsd(line).map(|(s, _)| s),
            parse_iso(line).map(|(s, _)| s),
            qmail::tai64n(line).map(|(s, _)| s),
            qmail::epoch_prefix(line).map(|(s, _)| s),
        ];
        for s in stamps.into_iter().flatten() {
            let _ = by_year.resolve(&s);
            let _ = by_anchor.resolve(&s);
            files.push(ChainFile {
                first: Some(s),
                anchor,
                anchor_what: String::new(),
            });
        }
    }
    files.truncate(64);
    let _ = chain_years(&files, None);
    let _ = chain_years(&files, Some(1999));
});
