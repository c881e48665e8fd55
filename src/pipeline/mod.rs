//! The pipeline: builds the stages from the options once, then one driver ([`pool`]) runs them
//! on one worker or many. Output bytes never depend on the number of workers: chunks are dated
//! and merged in input order.

mod audit;
mod chunk_lines;
mod commit;
mod date;
mod merging;
mod placement;
pub mod pool;
mod stages;
pub mod state;

use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::Error;
use crate::input::chunk::Pool;
use crate::input::discover::{discover, identity};
use crate::input::Input;
use crate::output::RecordWriter;
use crate::parse::Mta;
use crate::stats::Summary;
use crate::years::{peek, plan_years, Peeked};
use date::{DateSetup, DateStage};
use merging::{Merging, Out, Spare};
use pool::Stopped;
use stages::MailSteps;
use state::State;

pub use commit::run;
// How an input is opened and cut into chunks (decompression, journal streams, long lines),
// for the host scan of `hosts.rs`.
pub(crate) use stages::{How, Reading};

/// Converts `cfg.inputs` into `writer`. Input errors are collected in the summary; an error
/// writing the output, a cancel or an internal error ends the run.
pub fn convert(
    cfg: &Config,
    writer: &mut dyn RecordWriter,
    cancel: &Cancel,
) -> Result<Summary, Error> {
    convert_from(cfg, writer, cancel, None).map(|(summary, _)| summary)
}

/// As [`convert`], going on from `state` (`--state`): inputs an earlier run read are read from
/// where it stopped, with its open messages, year and held records; returns the state for the
/// next run. Records still held for time order stay in it instead of being written.
pub fn convert_from(
    cfg: &Config,
    writer: &mut dyn RecordWriter,
    cancel: &Cancel,
    state: Option<State>,
) -> Result<(Summary, Option<State>), Error> {
    let found = discover(&cfg.inputs);
    let inputs = found.inputs;
    // Lines that name no host get their tree directory's name, else `--host`.
    let hosts: Vec<Box<[u8]>> = found
        .hosts
        .iter()
        .map(|h| {
            let h = h.as_deref().or(cfg.host.as_deref()).unwrap_or_default();
            h.as_bytes().into()
        })
        .collect();
    for out in cfg.output.iter().chain(&cfg.unparsed) {
        refuse_output_among_inputs(out, &cfg.inputs, &inputs)?;
    }
    let peeks: Vec<Peeked> = inputs.iter().map(peek).collect();
    let plan = plan_years(&peeks, &found.families, &cfg.tz, cfg.year);
    let mut state = state;
    let resumes = match &state {
        Some(s) => s.resumes(&peeks),
        None => vec![None; inputs.len()],
    };
    // Threads beyond the machine's cores would only add their memory (each keeps its
    // allocator's pages): the workers are at most the cores, and the output is the same.
    let workers = cfg.threads.clamp(1, crate::cli::default_threads().max(1));
    // A dataset keeps each host's coverage: the parse step marks hosts for the dating step.
    let coverage = !cfg.partition_by.is_empty();
    let steps = MailSteps {
        inputs: &inputs,
        chunk_size: chunk_size(cfg.chunk_size, workers),
        mta: cfg.mta,
        buffers: Pool::default(),
        lines: Pool::default(),
        routes: Pool::default(),
        skips: resumes
            .iter()
            .map(|r| r.as_ref().map_or(0, |r| r.skip))
            .collect(),
        hold_tail: state.is_some(),
        cancel: cancel.clone(),
        max_line: cfg.max_line_length,
        progress: cfg.progress.clone(),
        tz: cfg.tz.clone(),
        journal_after: state.as_ref().and_then(|s| s.journal.clone()),
        names: merging::names(&inputs),
        hosts: hosts.clone(),
        mark_hosts: coverage,
    };
    if let Some(p) = &cfg.progress {
        // The inputs' size as stored, when every one is a regular file (ETA).
        let sizes: Option<u64> = inputs
            .iter()
            .map(|i| match i {
                Input::Path(path) => std::fs::metadata(path)
                    .ok()
                    .filter(std::fs::Metadata::is_file)
                    .map(|m| m.len()),
                Input::Stdin => None,
            })
            .sum();
        p.set_total(sizes);
    }
    let dated = Pool::default();
    let setup = DateSetup {
        plan,
        tz: cfg.tz.clone(),
        strict: cfg.strict,
        dated: dated.clone(),
        keep_coverage: coverage,
        resumes,
        max_line: cfg.max_line_length,
        hosts: hosts.clone(),
        only_host: cfg.only_host.as_ref().map(|h| h.as_bytes().into()),
        families: found.families.clone(),
        audit: match &cfg.unparsed {
            Some(p) => Some(audit::Audit::create(p.clone(), cfg.unparsed_all)?),
            None => None,
        },
    };
    let mut dating = DateStage::new(&inputs, setup);
    dating.summary.stats.notes.extend(found.notes);
    dating.summary.warnings.extend(found.warnings);
    let missing = found
        .missing
        .into_iter()
        .map(|what| Error::NoInput { what });
    dating.summary.errors.extend(missing);
    let stream = writer.rendered_stream();
    let out = Out {
        writer,
        name: cfg
            .output
            .as_ref()
            .map_or("<stdout>".to_string(), |p| p.display().to_string()),
        pseudo: cfg.pseudonymize.clone(),
        progress: cfg.progress.clone(),
        spare: Spare::default(),
        lines: stream.then(Vec::new),
    };
    let pools = (
        steps.buffers.clone(),
        steps.lines.clone(),
        steps.routes.clone(),
        dated,
    );
    let carried = state
        .as_mut()
        .and_then(|s| Some((s.merger.take()?, s.held.take()?)));
    // Two workers on CPUs far apart keep an end of the pipeline each (`pool`). Two workers,
    // whichever steps they take, merge one group: a chunk's lines are merged on one core, not
    // split between both by their keys (with 1 MiB chunks, 2-11% less time than two groups;
    // docs/PERFORMANCE.md), and the tables stay in one core's cache. More workers have a group
    // each: one group's merge, a step no two workers can share, would bound them.
    let apart = (workers == 2 && cfg.ends.is_none())
        .then(placement::one_way_ns)
        .flatten();
    let ends = workers == 2
        && cfg
            .ends
            .unwrap_or(apart.is_some_and(|ns| ns >= placement::FAR_NS));
    // Sendmail is the exception: its merge step (its messages' correlation, and the
    // rendering of a record for each recipient of its lists) is near half of a line's
    // work, and one group's merges, a chunk at a time in order, bound the two workers (the
    // other waited ~15% of a run, `perf sched`): two groups share them. A Postfix log's
    // merge is a smaller part, and a second group costs it more than it frees
    // (docs/PERFORMANCE.md, the thirty-third session).
    let sendmail = |m: Option<Mta>| m == Some(Mta::Sendmail);
    let merge_bound =
        sendmail(cfg.mta) || !peeks.is_empty() && peeks.iter().all(|p| sendmail(p.mta));
    let groups = cfg.groups.unwrap_or(if workers == 2 && !merge_bound {
        1
    } else {
        workers
    });
    dating.summary.stats.schedule = placement::schedule(workers, apart, ends);
    let merging = Merging::new(out, cfg.max_age_secs, groups, pools, carried);
    let keep = state.is_some();
    let stages = pool::Stages {
        first: dating,
        split: merging.route,
        groups: merging.groups,
        second: merging.write,
    };
    let done = pool::run(&steps, stages, workers, ends, cancel).map_err(stopped_error)?;
    let merging = Merging {
        route: done.split,
        groups: done.groups,
        write: done.second,
    };
    let (summary, carry, audit) = done.first.finish();
    let (summary, kept) = merging.finish(summary, keep)?;
    if let Some(a) = audit {
        a.install()?;
    }
    let state = state.map(|mut s| {
        let now = jiff::Timestamp::now().as_second();
        s.record_inputs(&peeks, &carry.read, carry.last, now);
        s.journal = crate::input::journal::Mark::later(s.journal.take(), carry.journal);
        if let Some((merger, held)) = kept {
            s.merger = Some(merger);
            s.held = Some(held);
        }
        s
    });
    Ok((summary, state))
}

/// Bytes of chunks in flight at most, whatever `-j`: more workers read smaller chunks (each
/// chunk's parsed lines take about as much again), so a 64-thread run takes the memory of a
/// 3-thread one.
const IN_FLIGHT_BYTES: usize = 12 << 20;
/// Chunks no smaller than this: each is routed, merged by every group and written as a unit.
const MIN_CHUNK: usize = 128 << 10;

fn chunk_size(asked: usize, workers: usize) -> usize {
    asked.min((IN_FLIGHT_BYTES / pool::in_flight(workers)).max(MIN_CHUNK))
}

/// `-o` may not be an input (a file read, or a directory given): the conversion would replace
/// the log it reads.
fn refuse_output_among_inputs(
    out: &std::path::Path,
    given: &[Input],
    inputs: &[Input],
) -> Result<(), Error> {
    let Some(id) = identity(out) else {
        return Ok(());
    };
    let same = |i: &Input| matches!(i, Input::Path(p) if identity(p) == Some(id));
    if inputs.iter().chain(given).any(same) {
        return Err(Error::OutputIsInput {
            output: out.display().to_string(),
        });
    }
    Ok(())
}

/// The error a stopped run reports: a panic names the step of this pipeline it happened in.
fn stopped_error(stopped: Stopped<Error>) -> Error {
    match stopped {
        Stopped::Failed(e) => e,
        Stopped::Cancelled => Error::Interrupted,
        Stopped::Panicked(step) => Error::Internal {
            stage: match step {
                "first stage" => "date",
                "split" | "task" => "merge",
                "second stage" => "write",
                "map" => "parse",
                other => other,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_an_internal_error_naming_the_step_never_a_write_error() {
        for (step, stage) in [
            ("first stage", "date"),
            ("split", "merge"),
            ("task", "merge"),
            ("second stage", "write"),
            ("map", "parse"),
            ("read", "read"),
            ("open", "open"),
        ] {
            let e = stopped_error(Stopped::Panicked(step));
            assert!(
                matches!(e, Error::Internal { stage: s } if s == stage),
                "{e}"
            );
            assert!(e
                .to_string()
                .contains(&format!("internal error in the {stage} step")));
            assert!(!e.to_string().contains("cannot write"));
        }
        assert!(matches!(
            stopped_error(Stopped::Cancelled),
            Error::Interrupted
        ));
    }
}
