//! The dating stage: numbers lines, gives each stamp its year and instant, and counts, in
//! input order; with `--state`, an input an earlier run read goes on from where it stopped
//! (its line numbers and its year), and what this run read is left for the next.

use super::pool::Input;
use super::stages::{Dated, MailSteps, Mark, Opened, Parsed, Resolved, REORDER_WINDOW_SECS};
use super::state::Resume;
use crate::error::Error;
use crate::input::chunk::Pool;
use crate::input::Input as Source;
use crate::merge::route::Route;
use crate::parse::{Line, Mta};
use crate::stats::{FileStats, Summary};
use crate::time::{Stamp, YearResolver, YearStart};
use crate::years::ChainYear;

/// Warnings about single lines (bad timestamps, cut lines) given before going quiet; all are
/// counted in `--stats`.
const MAX_WARNINGS: u64 = 10;

/// Dating stage: numbers lines, resolves years and counts, in input order; a step of its own
/// apart from merging, so two workers can run the two serial steps at once.
pub(super) struct DateStage<'a> {
    inputs: &'a [Source],
    pub(super) summary: Summary,
    resolver: YearResolver,
    file: usize,
    line_no: u64,
    warnings: u64,
    /// How each file's first line gets its year.
    plan: Vec<ChainYear>,
    /// The last stamp of the previous file, to check the set is in order.
    prev_last: Option<(Stamp, String)>,
    /// `--strict`: unparseable lines fail the run.
    strict: bool,
    /// The current file's unparseable lines (first line number, MTA, count), under `--strict`.
    unparsed: Option<(u64, Mta, u64)>,
    /// Where emptied [`Dated`] vectors come from.
    dated: Pool<Vec<Dated>>,
    /// The current file's span of log time by host, when the run keeps its coverage.
    coverage: Option<FileCoverage>,
    /// Where each input goes on from an earlier run (`--state`).
    resumes: Vec<Option<Resume>>,
    tz: jiff::tz::TimeZone,
    /// The current file: decompressed bytes read (counting an earlier run's), lines read this
    /// run, and whether its year resolver was restored.
    offset: u64,
    new_lines: u64,
    restored: bool,
    /// What the next run needs (`--state`).
    carry: DateCarry,
    max_line: usize,
    audit: Option<super::audit::Audit>,
    /// The current input's journal cursors, if it is a journal stream.
    cursors: Option<crate::input::journal::SharedCursors>,
    /// Each input's host for lines that name none (shared: a chunk holds its own).
    hosts: Vec<std::sync::Arc<[u8]>>,
    /// Only this host's lines are read (`--only-host`).
    only_host: Option<Box<[u8]>>,
    families: Vec<usize>,
}

/// What the dating stage leaves for the next run: how far each input was read (bytes, lines;
/// none for an input that failed or could not be opened), and the year resolver after the
/// last input read.
#[derive(Default)]
pub(super) struct DateCarry {
    pub(super) read: Vec<Option<(u64, u64)>>,
    pub(super) last: Option<(usize, YearResolver)>,
    /// The latest journal entry read, the bookmark for the next run.
    pub(super) journal: Option<crate::input::journal::Mark>,
}

/// How the dating stage is set up.
pub(super) struct DateSetup {
    pub(super) plan: Vec<ChainYear>,
    pub(super) tz: jiff::tz::TimeZone,
    pub(super) strict: bool,
    pub(super) dated: Pool<Vec<Dated>>,
    pub(super) keep_coverage: bool,
    pub(super) resumes: Vec<Option<Resume>>,
    /// Lines are cut at this length (for the warning).
    pub(super) max_line: usize,
    /// Where lines that give nothing go (`--unparsed`).
    pub(super) audit: Option<super::audit::Audit>,
    /// Each input's host for lines that name none (`--host`, or its directory in a tree).
    pub(super) hosts: Vec<Box<[u8]>>,
    /// Only this host's lines are read (`--only-host`).
    pub(super) only_host: Option<Box<[u8]>>,
    /// Each input's rotated family: order is checked within a family, not across hosts.
    pub(super) families: Vec<usize>,
}

/// The first and last instant (ns) of each host's lines in one file; hosts rarely change from
/// one line to the next, so the last one looked up is tried first.
#[derive(Default)]
struct FileCoverage {
    spans: Vec<(Vec<u8>, i64, i64)>,
    last: usize,
    /// Each host's place in `spans`, once there are many: a central log's hosts take turns
    /// line by line, and a search of the list for each line (this step is serial) was 45% of
    /// a run's samples with 2,000 hosts.
    index: Option<hashbrown::HashMap<Box<[u8]>, usize>>,
}

/// Hosts past which `FileCoverage` keeps an index.
const COVERAGE_INDEX_FROM: usize = 16;

impl FileCoverage {
    fn see(&mut self, host: &[u8], t: i64) {
        let at = match self.spans.get(self.last) {
            Some((h, ..)) if h[..] == *host => self.last,
            _ => self.place(host, t),
        };
        self.last = at;
        if let Some((_, from, to)) = self.spans.get_mut(at) {
            *from = (*from).min(t);
            *to = (*to).max(t);
        }
    }

    /// `host`'s place in `spans`, added (at `t`) if it has none.
    fn place(&mut self, host: &[u8], t: i64) -> usize {
        if self.index.is_none() && self.spans.len() > COVERAGE_INDEX_FROM {
            let index = (self.spans.iter().enumerate())
                .map(|(i, (h, ..))| (Box::<[u8]>::from(&h[..]), i))
                .collect();
            self.index = Some(index);
        }
        let found = match &self.index {
            Some(index) => index.get(host).copied(),
            None => self.spans.iter().position(|(h, ..)| h[..] == *host),
        };
        found.unwrap_or_else(|| {
            self.spans.push((host.to_vec(), t, t));
            let at = self.spans.len() - 1;
            if let Some(index) = &mut self.index {
                index.insert(host.into(), at);
            }
            at
        })
    }

    /// The file's spans, in the order their hosts first came; none are left.
    fn take(&mut self) -> Vec<(Vec<u8>, i64, i64)> {
        self.last = 0;
        self.index = None;
        std::mem::take(&mut self.spans)
    }
}

impl<'a> DateStage<'a> {
    pub(super) fn new(inputs: &'a [Source], setup: DateSetup) -> Self {
        let DateSetup {
            plan,
            tz,
            strict,
            dated,
            keep_coverage,
            resumes,
            max_line,
            audit,
            hosts,
            only_host,
            families,
        } = setup;
        DateStage {
            inputs,
            summary: Summary::default(),
            resolver: YearResolver::with_tz(YearStart::FirstLineIn(1970), tz.clone()),
            file: 0,
            line_no: 0,
            warnings: 0,
            plan,
            prev_last: None,
            strict,
            unparsed: None,
            dated,
            coverage: keep_coverage.then(FileCoverage::default),
            carry: DateCarry {
                read: vec![None; inputs.len()],
                last: None,
                journal: None,
            },
            resumes,
            tz,
            max_line,
            audit,
            cursors: None,
            hosts: hosts.into_iter().map(Into::into).collect(),
            only_host,
            families,
            offset: 0,
            new_lines: 0,
            restored: false,
        }
    }

    /// Adds the current file's spans to the run's coverage.
    fn close_coverage(&mut self) {
        if let Some(c) = &mut self.coverage {
            for (host, from, to) in c.take() {
                self.summary.coverage.add(&host, from, to);
            }
            c.last = 0;
        }
    }

    fn name(&self, file: usize) -> String {
        self.inputs
            .get(file)
            .map(Source::display)
            .unwrap_or_default()
    }

    /// `--strict`: one error for the current file's unparseable lines, if it had any.
    fn strict_error(&mut self) {
        if let Some((line, mta, count)) = self.unparsed.take() {
            let input = self.name(self.file);
            self.summary.errors.push(Error::Malformed {
                input,
                line,
                mta: mta.name(),
                count,
            });
        }
    }

    fn start(&mut self, file: usize, opened: Option<Opened>) {
        let compression = opened.as_ref().map_or("unreadable", |o| o.compression);
        self.cursors = opened.as_ref().and_then(|o| o.cursors.clone());
        self.strict_error();
        self.close_coverage();
        let family = |f: usize| self.families.get(f).copied();
        if family(file) != family(self.file) {
            self.prev_last = None;
        } else if let Some(fs) = self.summary.stats.files.last() {
            if let Some(last) = fs.last {
                self.prev_last = Some((last, fs.name.clone()));
            }
        }
        self.file = file;
        self.line_no = 0;
        let name = self.name(file);
        let (start, year_from) = match self.plan.get(file) {
            Some(p) => {
                if let Some(n) = &p.note {
                    // A time that disagrees with the rest of the set is worth a warning: a
                    // wrong clock or a copy that lost its times.
                    self.summary.stats.notes.push(format!("{name}: {n}"));
                    self.summary.warnings.push(format!("{name}: {n}"));
                }
                (p.start, p.from.clone())
            }
            None => (
                YearStart::NotAfter(jiff::civil::DateTime::default()),
                String::new(),
            ),
        };
        self.resolver.restart(start);
        (self.offset, self.new_lines, self.restored) = (0, 0, false);
        // An earlier run read the start of this text: go on where it stopped.
        let resume = self.resumes.get(file).and_then(Option::as_ref);
        if let (Some(r), Some(true)) = (resume, opened.map(|o| o.resumed)) {
            self.offset = r.skip;
            self.line_no = r.lines;
            if let Some(resolver) = &r.resolver {
                self.resolver = resolver.clone();
                self.resolver.set_tz(self.tz.clone());
                self.restored = true;
            }
        }
        // Journal entries carry their instant: no year is inferred.
        let year_from = if self.cursors.is_some() {
            "the journal's timestamps".to_string()
        } else {
            year_from
        };
        self.summary.stats.files.push(FileStats {
            name,
            compression,
            year_from,
            ..FileStats::default()
        });
    }

    /// A warning about the current line, `FILE:LINE: what`, while under [`MAX_WARNINGS`].
    fn line_warning(&mut self, what: std::fmt::Arguments) {
        if self.warnings < MAX_WARNINGS {
            let w = format!("{}:{}: {what}", self.name(self.file), self.line_no);
            self.summary.warnings.push(w);
        }
        self.warnings += 1;
    }

    /// A line longer than the maximum: counted, and the first few named.
    fn long_line(&mut self) {
        self.summary.stats.long_lines += 1;
        let max = self.max_line;
        self.line_warning(format_args!("line longer than {max} bytes, cut"));
    }

    /// Notes a file that starts well before the previous one ended (out of order, overlap).
    fn check_chain(&mut self, ts: &Stamp) {
        let name = self.name(self.file);
        if let Some((prev, prev_name)) = self.prev_last.take() {
            if ts.instant.as_second() + REORDER_WINDOW_SECS < prev.instant.as_second() {
                self.summary.stats.notes.push(format!(
                    "{name}: starts at {} before {prev_name} ends at {}: inputs overlap or are out of order",
                    ts.local, prev.local
                ));
            }
        }
    }

    /// A chunk's known lines for the merge stage; file starts and ends stay here.
    #[inline(never)]
    pub(super) fn handle(&mut self, work: Input<MailSteps<'_>>) -> Option<Resolved> {
        match work {
            Input::Start(file, opened) => self.start(file, opened),
            Input::Item(p) => {
                self.offset += p.lines.bytes().len() as u64;
                let mut dated = self.dated.take();
                dated.clear();
                let first_line = self.line_no + 1;
                let mut stamps = Vec::new();
                self.lines(&p, &mut dated, &mut stamps);
                return Some(Resolved {
                    file: self.file,
                    parsed: p,
                    dated,
                    stamps,
                    first_line,
                });
            }
            Input::End(Some(e)) => {
                if let Some(fs) = self.summary.stats.files.last_mut() {
                    fs.failed = true;
                }
                self.summary.errors.push(e);
            }
            Input::End(None) => {
                if let (Some(c), Some(fs)) = (&self.cursors, self.summary.stats.files.last_mut()) {
                    if let Ok(c) = c.lock() {
                        if let (Some(first), Some(last)) = (&c.first, &c.last) {
                            fs.cursors = Some((first.clone(), last.clone()));
                        }
                        self.carry.journal = crate::input::journal::Mark::later(
                            self.carry.journal.take(),
                            c.mark.clone(),
                        );
                    }
                }
                if let Some(r) = self.carry.read.get_mut(self.file) {
                    *r = Some((self.offset, self.line_no));
                }
                if self.new_lines > 0 || self.restored {
                    self.carry.last = Some((self.file, self.resolver.clone()));
                }
            }
        }
        None
    }

    fn lines(&mut self, p: &Parsed, out: &mut Vec<Dated>, stamps: &mut Vec<Stamp>) {
        let data = p.lines.bytes();
        let mut cuts = p.lines.chunk().cut.iter().peekable();
        let default_host = self.hosts.get(self.file).cloned().unwrap_or_default();
        // What the lines are was counted in parallel, when they were parsed.
        let c = &p.counts;
        let stats = &mut self.summary.stats;
        stats.lines += c.lines;
        stats.recognised += c.recognised;
        stats.unknown += c.lines - c.recognised;
        stats.malformed += c.malformed;
        for (a, b) in stats.by_mta.iter_mut().zip(c.by_mta) {
            *a += b;
        }
        if let Some(fs) = stats.files.last_mut() {
            fs.lines += c.lines;
            fs.recognised += c.recognised;
        }
        let audit_all = self.audit.as_ref().is_some_and(|a| a.all);
        self.new_lines += c.lines;
        // The file's first and last stamps, kept here and stored once after the loop: this
        // step is serial, and each line's stores into the file's figures were ~6 of its ~120
        // instructions (callgrind).
        let mut first = stats.files.last().is_some_and(|fs| fs.first.is_none());
        let mut last = None;
        // The last stamp's time in seconds.
        let mut now = 0;
        // The last known line's stamp was resolved (and stored last): a line with the same
        // stamp shares it without reading its own.
        let mut prev_ok = false;
        // No --strict, --only-host or audit to serve: a line of the second before needs only
        // its marks (with coverage kept, of the host before too: it adds nothing to the
        // host's span). This step is serial: the general path was ~70 instructions a line
        // (callgrind), and read each parsed line; with coverage, ~135 (a Parquet dataset's
        // runs).
        let plain = !self.strict && self.only_host.is_none() && self.audit.is_none();
        let runs = Mark::KNOWN
            | Mark::SAME
            | if self.coverage.is_some() {
                Mark::HOST
            } else {
                0
            };
        let lines = p.lines.lines();
        // A route a line (the parse step pushes both): never read past the lines.
        let routes = p.routes.get(..lines.len()).unwrap_or(&p.routes);
        // A slot a line, made first, and `w` the next one to write: pushed a line, the
        // vector's length was stored and loaded again each time in this serial step (~26
        // instructions a line in a run of one second; callgrind).
        let base = out.len();
        out.resize(base + lines.len(), Dated::default());
        let mut w = base;
        let mut next = 0;
        while next < lines.len() {
            // A run of known lines of the last stamp's second needs only its marks, when plain:
            // its stamp is the last one stored, and the file's first stamp was stored by the
            // line that stored it. Most lines, read in this tight loop while no cut line is left
            // in the chunk (the general loop below, which gives them the same, took ~45
            // instructions a line).
            if plain && prev_ok && cuts.peek().is_none() {
                if let Some(at) = stamps.len().checked_sub(1) {
                    let rest = routes.get(next..).unwrap_or_default();
                    let slots = out.get_mut(w..).unwrap_or_default();
                    let (n, k) = known_run(rest, runs, next, (at, now), slots);
                    next += n;
                    w += k;
                    if n > 0 {
                        last = Some(at);
                        self.line_no += n as u64;
                        continue;
                    }
                }
            }
            let idx = next;
            next += 1;
            let (Some(mark), Some((span, line))) =
                (routes.get(idx).map(|r| r.mark), lines.get(idx))
            else {
                break;
            };
            self.line_no += 1;
            if cuts.peek().is_some_and(|&&at| at == span.start()) {
                cuts.next();
                self.long_line();
            }
            if mark & Mark::KNOWN == 0 {
                if audit_all {
                    if let Some(a) = self.audit.as_mut() {
                        a.line(span.get(data));
                    }
                }
                continue;
            }
            let Line::Known {
                stamp, mta, host, ..
            } = line
            else {
                continue;
            };
            if self.strict && mark & Mark::MALFORMED != 0 {
                self.unparsed.get_or_insert((self.line_no, *mta, 0)).2 += 1;
            }
            let stats = &mut self.summary.stats;
            // Most lines share their second with the line before: its stamp, stored once.
            // (Every stamp resolved in this chunk is stored, so the last one stored is the
            // resolver's last.)
            let at = match stamps.len().checked_sub(1) {
                Some(last) if prev_ok && mark & Mark::SAME != 0 => last,
                Some(last) if self.resolver.same_as_last(stamp) => last,
                _ => match self.resolver.resolve(stamp) {
                    Ok(ts) => {
                        now = ts.instant.as_second();
                        stamps.push(ts);
                        stamps.len() - 1
                    }
                    Err(e) => {
                        prev_ok = false;
                        stats.bad_timestamps += 1;
                        if let Some(a) = &mut self.audit {
                            a.line(span.get(data));
                        }
                        self.line_warning(format_args!("bad timestamp ({e}); line skipped"));
                        continue;
                    }
                },
            };
            prev_ok = true;
            // Lines that name no host are the input's default host's (coverage, --only-host).
            let host = || super::merging::host_or(host, &default_host);
            // Another host's line still dates the file (the year turns over for all of them).
            if self
                .only_host
                .as_ref()
                .is_some_and(|only| **only != *host())
            {
                stats.other_hosts += 1;
                continue;
            }
            last = Some(at);
            if first {
                first = false;
                if let (Some(fs), Some(&ts)) = (stats.files.last_mut(), stamps.get(at)) {
                    fs.first = Some(ts);
                    self.check_chain(&ts);
                }
            }
            if let (Some(c), Some(ts)) = (&mut self.coverage, stamps.get(at)) {
                let t = i64::try_from(ts.instant.as_nanosecond()).unwrap_or(i64::MAX);
                // Records of lines that name no host get `--host`: so does their coverage.
                c.see(host(), t);
            }
            // Lines that cannot make or change a record stop here.
            if mark & Mark::READ == 0 {
                if let Some(a) = &mut self.audit {
                    a.line(span.get(data));
                }
                continue;
            }
            if let Some(slot) = out.get_mut(w) {
                *slot = Dated {
                    idx: idx as u32,
                    stamp: at as u32,
                    now,
                };
                w += 1;
            }
        }
        out.truncate(w);
        if let (Some(&ts), Some(fs)) = (
            last.and_then(|i| stamps.get(i)),
            self.summary.stats.files.last_mut(),
        ) {
            fs.last = Some(ts);
        }
    }

    pub(super) fn finish(mut self) -> (Summary, DateCarry, Option<super::audit::Audit>) {
        self.strict_error();
        // `/etc/passwd` given by mistake converts to nothing: say so rather than exit quietly.
        for f in &self.summary.stats.files {
            if f.lines > 0 && f.recognised == 0 && !f.failed {
                self.summary.warnings.push(format!(
                    "{}: none of its {} lines is from a mail server maillogconv reads; is it a mail log?",
                    f.name, f.lines
                ));
            }
        }
        self.close_coverage();
        (self.summary, self.carry, self.audit)
    }
}

/// The lines of a run of known lines of one second at the start of `routes` (each mark holding
/// `runs`; line `first` onwards), stamp `at` at `now`: those correlation reads written into
/// `slots` in order. The run's length and the slots written. Slices only, so that the loop
/// keeps its state in registers (inlined into the dating step, it did not).
#[inline(never)]
fn known_run(
    routes: &[Route],
    runs: u8,
    first: usize,
    (at, now): (usize, i64),
    slots: &mut [Dated],
) -> (usize, usize) {
    let stamp = at as u32;
    let mut k = 0;
    let mut n = 0;
    while let Some(r) = routes.get(n) {
        if r.mark & runs != runs {
            break;
        }
        // Written for every line, kept (`k` moves on) only for those correlation reads.
        if let Some(slot) = slots.get_mut(k) {
            *slot = Dated {
                idx: (first + n) as u32,
                stamp,
                now,
            };
        }
        k += usize::from(r.mark & Mark::READ != 0);
        n += 1;
    }
    (n, k)
}

#[cfg(test)]
mod tests {
    use super::FileCoverage;

    /// Hosts taking turns, past the point where the list is indexed, over two files: each
    /// host's first and last time, in the order the hosts first came, as a search of the list
    /// gave them. It fails if the index outlives the file it was built for.
    #[test]
    fn coverage_of_many_hosts_taking_turns() {
        let mut c = FileCoverage::default();
        for file in 0..2i64 {
            let hosts = 30 + 10 * file;
            for i in 0..400i64 {
                let h = format!("host{}", (i * 7 + file) % hosts);
                c.see(h.as_bytes(), 1_000 * file + i);
            }
            let spans = c.take();
            assert_eq!(spans.len() as i64, hosts);
            let mut firsts = Vec::new();
            for i in 0..400i64 {
                let h = format!("host{}", (i * 7 + file) % hosts).into_bytes();
                if !firsts.contains(&h) {
                    firsts.push(h);
                }
            }
            for ((host, from, to), want) in spans.iter().zip(&firsts) {
                assert_eq!(host, want);
                let times: Vec<i64> = (0..400i64)
                    .filter(|i| format!("host{}", (i * 7 + file) % hosts).as_bytes() == &host[..])
                    .map(|i| 1_000 * file + i)
                    .collect();
                assert_eq!(
                    (*from, *to),
                    (times[0], times[times.len() - 1]),
                    "file {file}"
                );
            }
        }
    }
}
