//! Runs scenarios: the layer between a scenario file and a verdict.
//!
//! - [`family`]: [`Families`], the protocol families a program offers, and the dispatch from a
//!   scenario to the one it names, after checking the scenario's names against its declaration.
//! - `driver`: the run loop for one suite: faults at their time or at a protocol event, the quiet
//!   phase, checks after every step.
//! - [`report`]: the [`RunReport`] and its text and JSON renderings.
//! - [`bench`]: `sim bench` figures for the core.
//! - [`campaign`]: fuzz campaigns over many seeds on many threads, their journal lines and
//!   summaries; [`record`]: self-contained failure records; [`replay`]: re-running a record and
//!   locating where two runs part; [`shrink`]: the smallest scenario that still fails.
//!
//! Nothing here reads files, the environment or the wall clock, except [`bench`], whose purpose
//! is to measure wall-clock speed.

pub mod bench;
pub mod campaign;
mod driver;
pub mod family;
pub mod record;
pub mod replay;
pub mod report;
pub mod shrink;

pub use driver::{run_suite, RunOptions};
pub use family::{Families, Family};
pub use report::{AppliedFault, RunReport};

static PROGRAM_NAME: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Names the program in reproduce lines (`sim run FILE --seed N`); the command line sets it once
/// to its own name, so a user's binary prints its own reproduce commands.
pub fn set_program_name(name: &'static str) {
    let _ = PROGRAM_NAME.set(name);
}

/// The program named in reproduce lines: `sim` unless [`set_program_name`] said otherwise.
pub fn program_name() -> &'static str {
    PROGRAM_NAME.get().copied().unwrap_or("sim")
}
