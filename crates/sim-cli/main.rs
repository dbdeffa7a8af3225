//! The `sim` command line: flags in, a validated configuration, a run, a summary, an exit status.
//!
//! Exit status, kept stable for scripts and CI: 0 when every check held (or a history is
//! linearizable), 1 when a check failed (or a history is not linearizable), 2 on bad input (flags,
//! scenario or history files), 3 when `sim check` ran out of budget. This is the only layer that
//! reads files and the environment.

mod bench;
mod check;
mod fuzz;
mod progress;
mod replay;
mod run;
mod shrink;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sim_core::SimDuration;

/// A deterministic discrete-event cluster simulator.
#[derive(Parser, Debug)]
#[command(name = "sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario with one seed and print what happened.
    Run(run::RunArgs),
    /// Check a history file (JSON or JSON Lines) for linearizability.
    Check(check::CheckArgs),
    /// Measure the simulator's speed.
    Bench(bench::BenchArgs),
    /// Run a scenario over many seeds, on every core; record, replay and shrink failures.
    Fuzz(fuzz::FuzzArgs),
    /// Merge the JSON summaries of a campaign's shards.
    FuzzMerge(fuzz::MergeArgs),
    /// Re-run a failure record and check it reproduces exactly.
    Replay(replay::ReplayArgs),
    /// Minimise a failure record to the smallest scenario that still fails the same check.
    Shrink(shrink::ShrinkArgs),
}

/// Exit statuses.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

/// Reads a human duration flag (`150ms`, `5s`, `2m`).
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    SimDuration::parse(text).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap prints usage errors and exits 2; help and version exit 0.
        Err(e) => e.exit(),
    };
    let status = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::FuzzMerge(args) => fuzz::merge(args),
        Command::Replay(args) => replay::run(args),
        Command::Shrink(args) => shrink::run(args),
    };
    ExitCode::from(status)
}
