//! `sim shrink RECORD`: the smallest scenario that still fails the record's check.
//!
//! Writes the shrunk scenario as an explicit TOML file (default: beside the record,
//! `<record>.shrunk.toml`), prints what was removed and the command that runs it. Exit status:
//! 0 a smaller failing scenario was written, 1 the record does not fail any more, 2 bad input.

use std::path::{Path, PathBuf};

use clap::Args;
use sim_runner::shrink::{self, ShrinkError, ShrinkOptions};
use sim_scenario::emit;

use crate::fuzz::write_atomic;
use crate::replay::load_record;
use crate::Program;
use crate::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};

#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// A failure record (`seed-<N>.json`) written by `sim fuzz`.
    pub record: PathBuf,
    /// Where to write the shrunk scenario (default: beside the record, `.shrunk.toml`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// At most this many candidate runs.
    #[arg(long, value_name = "N", default_value_t = ShrinkOptions::default().max_runs)]
    pub max_runs: usize,
    /// Candidate runs at a time (default: every core); the result does not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Why a shrink did not write a scenario.
pub enum Failure {
    BadInput(String),
    NoLongerFails(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::BadInput(m) | Failure::NoLongerFails(m) => f.write_str(m),
        }
    }
}

/// Shrinks the record at `record_file` and writes the result to `out`; the lines to print.
pub fn shrink_record(
    program: &Program,
    record_file: &Path,
    out: &Path,
    options: ShrinkOptions,
) -> Result<Vec<String>, Failure> {
    let record = load_record(record_file).map_err(Failure::BadInput)?;
    let scenario = record
        .scenario()
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    let shrunk = shrink::shrink(
        &program.families,
        &scenario,
        record.seed,
        record.duration,
        &record.check,
        options,
    )
    .map_err(|e| match e {
        ShrinkError::Scenario(e) => Failure::BadInput(e.to_string()),
        e @ (ShrinkError::NoLongerFails { .. } | ShrinkError::NotReproduced { .. }) => {
            Failure::NoLongerFails(e.to_string())
        }
    })?;
    let header = format!(
        "Shrunk by `{name} shrink {}` from {} with seed {}.\n\
         It fails {}: {}\n\
         Reproduce: {name} run {} --seed {}",
        record_file.display(),
        record.scenario_file,
        record.seed,
        record.check,
        shrunk
            .report
            .failure()
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or(""),
        out.display(),
        record.seed,
        name = program.name,
    );
    let text = emit::to_toml(&shrunk.scenario, &header);
    write_atomic(out, text.as_bytes())
        .map_err(|e| Failure::BadInput(format!("{}: {e}", out.display())))?;
    Ok(report_lines(program, &record, shrunk, out))
}

/// What `sim shrink` prints about a shrink that wrote `out`.
fn report_lines(
    program: &Program,
    record: &sim_runner::record::FailureRecord,
    shrunk: shrink::Shrunk,
    out: &Path,
) -> Vec<String> {
    let mut lines = vec![format!(
        "{} candidate runs{}",
        shrunk.runs,
        if shrunk.budget_spent {
            " (the budget ran out; a larger --max-runs may shrink further)"
        } else {
            ""
        }
    )];
    lines.extend(shrunk.removed);
    match sim_runner::reason::reason(&shrunk.report) {
        Some(reason) => lines.push(format!(
            "still fails {} for the same reason: {}",
            reason.check, reason.class
        )),
        None => lines.push(format!("still fails {}", record.check)),
    }
    lines.push(format!("wrote      {}", out.display()));
    lines.push(format!(
        "reproduce  {} run {} --seed {}",
        program.name,
        out.display(),
        record.seed
    ));
    lines
}

/// Flags that could not take effect, or an output that could not be written, refused before
/// the shrink runs (rather than after all of it).
fn check_flags(args: &ShrinkArgs, out: &Path) -> Result<(), String> {
    if args.jobs == Some(0) {
        return Err("--jobs: expected at least 1 candidate run at a time, found 0".into());
    }
    if args.max_runs == 0 {
        return Err("--max-runs: expected at least 1 candidate run, found 0".into());
    }
    if out.is_dir() {
        return Err(format!(
            "--out {}: is a directory; give the file to write the shrunk scenario to",
            out.display()
        ));
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent.filter(|p| !p.is_dir()) {
        return Err(format!(
            "--out {}: the directory {} does not exist",
            out.display(),
            parent.display()
        ));
    }
    Ok(())
}

pub fn run(program: &Program, args: ShrinkArgs) -> u8 {
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .record
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "record".into());
        args.record.with_file_name(format!("{stem}.shrunk.toml"))
    });
    if let Err(m) = check_flags(&args, &out) {
        eprintln!("error: {m}");
        return EXIT_BAD_INPUT;
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let options = ShrinkOptions {
        max_runs: args.max_runs,
        jobs,
    };
    match shrink_record(program, &args.record, &out, options) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            EXIT_OK
        }
        Err(Failure::BadInput(m)) => {
            eprintln!("error: {m}");
            EXIT_BAD_INPUT
        }
        Err(Failure::NoLongerFails(m)) => {
            println!("{m}");
            EXIT_FAILED
        }
    }
}
