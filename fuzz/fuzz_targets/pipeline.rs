//! Parse → years → merge → every text writer on arbitrary bytes, as the binary runs them on
//! one file (without the file I/O): no panic, whatever the lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maillogconv::config::Format;
use maillogconv::merge::{Ctx, Merger, Reorder};
use maillogconv::parse::{parse_line, Line};
use maillogconv::time::{YearResolver, YearStart};

fuzz_target!(|data: &[u8]| {
    let mut resolver = YearResolver::new(YearStart::FirstLineIn(2026));
    let mut merger = Merger::with_max_age(3600);
    let mut reorder = Reorder::new(300);
    let mut records = Vec::new();
    let mut writers: Vec<_> = [Format::Awstats, Format::Csv, Format::Jsonl, Format::Clf]
        .into_iter()
        .map(|f| maillogconv::output::writer(f, Box::new(Vec::<u8>::new())))
        .collect();
    let mut held = Vec::new();
    for (n, raw) in data.split(|&b| b == b'\n').enumerate() {
        let Line::Known {
            stamp,
            host,
            mta,
            event,
        } = parse_line(raw)
        else {
            continue;
        };
        let Ok(ts) = resolver.resolve(&stamp) else {
            continue;
        };
        let ctx = Ctx {
            file: 0,
            line: n as u64 + 1,
            ts,
            host,
            mta,
            raw,
        };
        merger.event(&ctx, event, &mut records);
        for r in records.drain(..) {
            let _ = reorder.push(r, &mut |r| -> Result<(), ()> {
                held.push(r);
                Ok(())
            });
        }
    }
    let _ = reorder.finish(&mut |r| -> Result<(), ()> {
        held.push(r);
        Ok(())
    });
    for w in &mut writers {
        for r in &held {
            let _ = w.write_record(r);
        }
        let _ = w.finish();
    }
});
