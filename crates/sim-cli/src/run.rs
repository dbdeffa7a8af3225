//! `sim run SCENARIO --seed N`: one run, a summary, an exit status.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use sim_core::SimDuration;
use sim_runner::RunOptions;
use sim_scenario::Scenario;

use crate::{parse_duration, Program, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The seed: the same scenario, seed and code always give the same run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stream every event of the run to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the client history to FILE in the checker's JSON format.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Replace the scenario's fault-phase duration, e.g. 10s.
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub duration: Option<SimDuration>,
    /// How to print the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write a self-contained HTML report of the run to FILE: a space-time diagram of the nodes
    /// and messages with the faults, the client operations, the violation, and plots.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write this run as an explicit scenario to FILE: the sampled parameters and the nemesis's
    /// faults written out. With the same seed it replays bit for bit, and it can be edited.
    #[arg(long, value_name = "FILE")]
    pub emit_scenario: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Reads and validates a scenario file; the error is already a full message.
pub fn load_scenario(path: &std::path::Path) -> Result<Scenario, String> {
    let file = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| format!("{file}: cannot read the scenario: {e}"))?;
    let text = String::from_utf8(text).map_err(|e| {
        format!(
            "{file}: the scenario is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    Scenario::parse(&file, &text).map_err(|e| e.to_string())
}

pub fn run(program: &Program, args: RunArgs) -> u8 {
    match run_checked(program, &args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_BAD_INPUT
        }
    }
}

/// The run; `Err` is bad input, or a requested output that could not be written.
fn run_checked(program: &Program, args: &RunArgs) -> Result<u8, String> {
    let scenario = load_scenario(&args.scenario)?;
    // Every choice of a swarm file, and the family's own tables, before anything runs.
    program
        .families
        .validate(&scenario)
        .map_err(|e| e.to_string())?;
    if args.duration == Some(SimDuration::ZERO) {
        return Err("--duration: expected a positive duration".into());
    }
    if let Some(path) = &args.emit_scenario {
        emit_scenario(program, &scenario, args, path)
            .map_err(|message| format!("--emit-scenario {}: {message}", path.display()))?;
    }
    if args.history.is_some()
        && !program
            .families
            .has_clients(&scenario)
            .map_err(|e| e.to_string())?
    {
        // Checked before the run, which could be long, rather than after it.
        return Err(format!(
            "--history: {} runs no clients (protocol {}), so it records no client history",
            scenario.file, scenario.protocol
        ));
    }
    let mut options = RunOptions::new(args.seed);
    options.duration = args.duration;
    options.history_out = open_history(args.history.as_deref())?;
    options.trace = open_trace(args.trace.as_deref())?;
    let collector = args.report.as_ref().map(|_| sim_report::Collector::new());
    options.report = collector.clone();
    options.keep_history |= collector.is_some();
    let report = program
        .families
        .run(&scenario, options)
        .map_err(|e| e.to_string())?;
    if let (Some(e), Some(path)) = (&report.history_error, &args.history) {
        // A requested output that could not be written fails the command.
        return Err(format!("--history {}: {e}", path.display()));
    }
    match args.format {
        Format::Text => print!("{}", report.render_text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        ),
    }
    if let Some(path) = &args.report {
        let input = crate::report::run_input(&scenario, &report);
        crate::report::write(path, collector.as_ref(), &input)?;
    }
    if let (Some(e), Some(path)) = (&report.trace_error, &args.trace) {
        // A requested output that could not be written fails the command.
        return Err(format!("--trace {}: {e}", path.display()));
    }
    Ok(if report.passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// The `--trace FILE` sink, created before the run.
pub fn open_trace(path: Option<&Path>) -> Result<Option<Box<dyn Write>>, String> {
    let Some(path) = path else {
        return Ok(None);
    };
    let file = File::create(path)
        .map_err(|e| format!("--trace {}: cannot create the file: {e}", path.display()))?;
    Ok(Some(Box::new(BufWriter::new(file))))
}

/// The `--history FILE` output, created before the run: the workload writes the history into
/// it as it records it, so the run never holds it whole.
fn open_history(path: Option<&Path>) -> Result<Option<Box<dyn Write>>, String> {
    let Some(path) = path else {
        return Ok(None);
    };
    let file = File::create(path)
        .map_err(|e| format!("--history {}: cannot create the file: {e}", path.display()))?;
    Ok(Some(Box::new(BufWriter::new(file))))
}

/// `--emit-scenario FILE`: the run as an explicit scenario file.
fn emit_scenario(
    program: &Program,
    scenario: &Scenario,
    args: &RunArgs,
    path: &std::path::Path,
) -> Result<(), String> {
    let explicit = program
        .families
        .explicit(scenario, args.seed, args.duration)
        .map_err(|e| e.to_string())?;
    let header = format!(
        "Emitted by `{name} run {} --seed {}{} --emit-scenario`: the run with every sampled\n\
         parameter and every fault of the nemesis written out. Run it with the same seed:\n\
         {name} run {} --seed {}",
        args.scenario.display(),
        args.seed,
        args.duration
            .map(|d| format!(" --duration {d}"))
            .unwrap_or_default(),
        path.display(),
        args.seed,
        name = program.name,
    );
    let text = sim_scenario::emit::to_toml(&explicit, &header);
    std::fs::write(path, text).map_err(|e| e.to_string())
}
