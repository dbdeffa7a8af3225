//! `sim run SCENARIO --seed N`: one run, a summary, an exit status.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

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
    let scenario = match load_scenario(&args.scenario) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    if let Some(d) = args.duration {
        if d == SimDuration::ZERO {
            eprintln!("error: --duration: expected a positive duration");
            return EXIT_BAD_INPUT;
        }
    }
    if let Some(path) = &args.emit_scenario {
        if let Err(message) = emit_scenario(program, &scenario, &args, path) {
            eprintln!("error: --emit-scenario {}: {message}", path.display());
            return EXIT_BAD_INPUT;
        }
    }
    let mut options = RunOptions::new(args.seed);
    options.duration = args.duration;
    options.keep_history = args.history.is_some();
    if let Some(path) = &args.trace {
        match File::create(path) {
            Ok(file) => options.trace = Some(Box::new(BufWriter::new(file))),
            Err(e) => {
                eprintln!(
                    "error: --trace {}: cannot create the file: {e}",
                    path.display()
                );
                return EXIT_BAD_INPUT;
            }
        }
    }
    let report = match program.families.run(&scenario, options) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if let Some(path) = &args.history {
        let written = match &report.history {
            Some(history) => File::create(path).and_then(|mut f| {
                serde_json::to_writer(&mut f, history)?;
                f.write_all(b"\n")
            }),
            None => {
                eprintln!(
                    "error: --history: protocol {} records no client history",
                    report.protocol
                );
                return EXIT_BAD_INPUT;
            }
        };
        if let Err(e) = written {
            eprintln!("error: --history {}: {e}", path.display());
            return EXIT_BAD_INPUT;
        }
    }
    match args.format {
        Format::Text => print!("{}", report.render_text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        ),
    }
    if let Some(e) = &report.trace_error {
        // A requested output that could not be written fails the command.
        eprintln!(
            "error: --trace {}: {e}",
            args.trace
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display()
        );
        return EXIT_BAD_INPUT;
    }
    if report.passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
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
