//! Parse → years → merge → every text writer on arbitrary bytes, as the binary runs them on
//! one file (without the file I/O): no panic, whatever the lines; and a line format renders a
//! record to the very bytes it writes for it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maillogconv::config::Format;
use maillogconv::merge::{Ctx, Merger};
use maillogconv::order::Reorder;
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
            line: n as u64 + 1,
            ts,
            host,
            mta,
            source: b"fuzz",
            order: n as u64,
        };
        let _ = merger.event(&ctx, event, &mut |r| {
            records.push(Box::new(r.to_owned_record()));
            Ok(())
        });
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
            let _ = w.write_record(&r.view());
        }
        let _ = w.finish();
    }
    // A line format's rendered line (what the merge stage holds) is the bytes it writes.
    for f in [Format::Awstats, Format::Jsonl, Format::Clf] {
        let written = Shared::default();
        let mut direct = maillogconv::output::writer(f, Box::new(written.clone()));
        let Some(render) = maillogconv::output::writer(f, Box::new(std::io::sink())).renderer()
        else {
            panic!("{f:?} renders no lines");
        };
        let mut line = Vec::new();
        for r in &held {
            if let Ok(mut w) = written.0.lock() {
                w.clear();
            }
            let _ = direct.write_record(&r.view());
            line.clear();
            let _ = render(&r.view(), &mut line);
            let w = written.0.lock().map(|w| w.clone()).unwrap_or_default();
            assert_eq!(line, w, "{f:?}");
        }
    }
});

/// A buffer the writer under test writes into and the target reads back.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
