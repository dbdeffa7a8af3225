//! The `sim` command line as a library: flags in, a validated configuration, a run, a summary, an
//! exit status.
//!
//! A program is a name and a list of protocol families ([`Program`]); [`main`] gives it the whole
//! command line (run, fuzz, replay, shrink, check, bench, verify, compare). The shipped `sim` binary is this
//! function called with the built-in families; a user's crate calls it with its own:
//!
//! ```no_run
//! use std::process::ExitCode;
//! # struct MySuite;
//! fn main() -> ExitCode {
//!     let families = sim_runner::Families::new(); // .with::<MySuite>()
//!     sim_cli::main(sim_cli::Program::new("my-sim", families))
//! }
//! ```
//!
//! Exit status, kept stable for scripts and CI: 0 when every check held (or a history is
//! linearizable), 1 when a check failed (or a history is not linearizable), 2 on bad input (flags,
//! scenario or history files), 3 when `sim check` ran out of budget. This is the only layer that
//! reads files and the environment.

mod bench;
mod bench_parse;
mod check;
mod compare;
mod docs;
mod fuzz;
mod junit;
mod progress;
mod replay;
mod report;
mod run;
mod shrink;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use sim_core::SimDuration;
use sim_runner::record::Provenance;
use sim_runner::Families;

/// A program built on `sim`: its name (in help and in every reproduce line), its version and
/// commit (in failure records), and the protocol families it offers.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: &'static str,
    pub version: &'static str,
    /// The commit the program was built from, or `unknown`.
    pub commit: &'static str,
    pub families: Families,
}

impl Program {
    /// A program named `name` offering `families`, version and commit unknown.
    pub fn new(name: &'static str, families: Families) -> Self {
        Program {
            name,
            version: "unknown",
            commit: "unknown",
            families,
        }
    }

    /// What a failure record says made it.
    pub fn provenance(&self) -> Provenance {
        Provenance {
            version: self.version.to_string(),
            commit: self.commit.to_string(),
        }
    }
}

/// A deterministic discrete-event cluster simulator.
#[derive(Parser, Debug)]
#[command(
    name = "sim",
    version,
    about = "A deterministic discrete-event cluster simulator",
    long_about = None
)]
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
    /// Run every scenario under the paths by its own [expect] table.
    Verify(verify::VerifyArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff), e.g. `sim man > sim.1`.
    Man(docs::ManArgs),
    /// Run several scenarios over the same seeds and tabulate them side by side.
    Compare(compare::CompareArgs),
}

/// Exit statuses.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

/// Reads a human duration flag (`150ms`, `5s`, `2m`).
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    SimDuration::parse(text).map_err(|e| e.to_string())
}

/// The whole command line for `program`, with the process's arguments.
pub fn main(program: Program) -> ExitCode {
    ExitCode::from(run_with_args(&program, std::env::args_os()))
}

/// The command line for `program` with `args` (the first is the program's own path); returns
/// the exit status. Usage errors print and exit 2; `--help` and `--version` print and exit 0.
pub fn run_with_args<I, T>(program: &Program, args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    sim_runner::set_program_name(program.name);
    let cli = match command(program)
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Run(args) => run::run(program, args),
        Command::Check(args) => check::run(args),
        Command::Bench(args) => bench::run(program, args),
        Command::Fuzz(args) => fuzz::run(program, args),
        Command::FuzzMerge(args) => fuzz::merge(args),
        Command::Replay(args) => replay::run(program, args),
        Command::Shrink(args) => shrink::run(program, args),
        Command::Verify(args) => verify::run(program, args),
        Command::Completions(args) => docs::completions(command(program), args),
        Command::Man(_) => docs::man(command(program)),
        Command::Compare(args) => compare::run(program, args),
    }
}

/// The clap command of `program`, under its own name: for parsing, completions and the man page.
fn command(program: &Program) -> clap::Command {
    Cli::command()
        .name(program.name)
        .bin_name(program.name)
        .version(program.version)
}
