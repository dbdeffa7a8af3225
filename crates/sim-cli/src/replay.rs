//! `sim replay RECORD`: runs a failure record again and says whether it reproduced exactly.
//!
//! Exit status: 0 when the replay has the recorded trace hash and fails the recorded check
//! (reproducing a failure is success here), 1 when it diverged or no longer fails, 2 when the
//! record cannot be read.

use std::fs;
use std::path::PathBuf;

use clap::Args;
use sim_runner::record::FailureRecord;
use sim_runner::replay::{self, Replay, ReplayVerdict};

use crate::{Program, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A failure record (`seed-<N>.json`) written by `sim fuzz`.
    pub record: PathBuf,
    /// Stream every event of the replayed run to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write a self-contained HTML report of the replayed run to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Reads a record file; the error is a full message.
pub fn load_record(path: &std::path::Path) -> Result<FailureRecord, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    FailureRecord::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the record and replays it, with its trace and report if asked for.
fn load_and_replay(
    program: &Program,
    args: &ReplayArgs,
) -> Result<(FailureRecord, Replay), String> {
    let record = load_record(&args.record)?;
    let trace = crate::run::open_trace(args.trace.as_deref())?;
    let collector = args.report.as_ref().map(|_| sim_report::Collector::new());
    let replayed = replay::replay_reporting(&program.families, &record, trace, collector.clone())
        .map_err(|e| format!("{}: {e}", args.record.display()))?;
    if let (Some(path), Some(collector)) = (&args.report, &collector) {
        crate::report::write_for_record(path, &record, &replayed.report, collector)?;
    }
    Ok((record, replayed))
}

pub fn run(program: &Program, args: ReplayArgs) -> u8 {
    let (record, replayed) = match load_and_replay(program, &args) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let this = program.provenance();
    println!(
        "record     {}: {} with seed {}, {} (found by {} {} at commit {})",
        args.record.display(),
        record.scenario_file,
        record.seed,
        record.check,
        program.name,
        record.sim.version,
        record.sim.commit
    );
    print!("{}", replayed.report.render_text());
    if let (Some(e), Some(path)) = (&replayed.report.trace_error, &args.trace) {
        eprintln!("error: --trace {}: {e}", path.display());
        return EXIT_BAD_INPUT;
    }
    let same_check = replayed.fails_same_check(&record);
    let code_changed = this != record.sim;
    match &replayed.verdict {
        ReplayVerdict::Reproduced if same_check => {
            println!(
                "replay     REPRODUCED: trace hash {} as recorded, fails {} as recorded",
                record.trace_hash, record.check
            );
            EXIT_OK
        }
        ReplayVerdict::Reproduced => {
            // The same trace with another verdict: the checks changed, not the run.
            println!(
                "replay     DIFFERENT VERDICT: the same trace (hash {}), but it {} instead of failing {}",
                record.trace_hash,
                replayed
                    .report
                    .failed_check()
                    .map(|c| format!("fails {c}"))
                    .unwrap_or_else(|| "passes".into()),
                record.check
            );
            EXIT_FAILED
        }
        ReplayVerdict::Diverged {
            divergence,
            first_replayed,
        } => {
            println!(
                "replay     DIVERGED: {}",
                sim_runner::replay_difference::what_differs(&record, &replayed.report)
            );
            println!("           {divergence}");
            if let Some(line) = first_replayed {
                println!(
                    "           the replay's event {}: {line}",
                    divergence.agree_events + 1
                );
            }
            if code_changed {
                println!(
                    "           the record was made by {name} {} at commit {}; this is {name} {} at commit {}",
                    record.sim.version,
                    record.sim.commit,
                    this.version,
                    this.commit,
                    name = program.name,
                );
            }
            println!(
                "           the replay {}",
                match replayed.report.failed_check() {
                    Some(c) if c == record.check => format!("still fails {c}"),
                    Some(c) => format!("fails {c} instead of {}", record.check),
                    None => format!("no longer fails {}", record.check),
                }
            );
            EXIT_FAILED
        }
    }
}
