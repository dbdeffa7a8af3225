//! Runs scenarios: the layer between a scenario file and a verdict.
//!
//! - [`family`]: [`Families`], the protocol families a program offers, and the dispatch from a
//!   scenario to the one it names, after checking the scenario's names against its declaration.
//! - [`cluster`]: [`Cluster`], the one scriptable driver of a simulation (faults, running until a
//!   time, an event or a state, the quiet phase, the checks fed at every step), for the runner
//!   and for protocol tests alike.
//! - `driver`: a scenario's run: a cluster plus the scenario's fault schedule (faults at their
//!   time or at a protocol event, their selectors resolved when they fire).
//! - [`expect`]: a scenario run by its own `[expect]` table (`sim verify`).
//! - [`report`]: the [`RunReport`] and its text and JSON renderings.
//! - [`bench`](mod@bench): `sim bench` figures for the core.
//! - [`campaign`]: fuzz campaigns over many seeds on many threads, their journal lines and
//!   summaries; [`record`]: self-contained failure records; [`replay`]: re-running a record and
//!   locating where two runs part; [`shrink`]: the smallest scenario that still fails.
//!
//! Nothing here reads files, the environment or the wall clock, except [`bench`](mod@bench), whose purpose
//! is to measure wall-clock speed.

pub mod bench;
pub mod campaign;
pub mod cluster;
pub mod coverage;
mod driver;
pub mod expect;
pub mod family;
mod merge;
pub mod quiet_bound;
pub mod reason;
pub mod recheck;
pub mod record;
pub mod replay;
pub mod replay_difference;
pub mod report;
pub mod shrink;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use cluster::{Cluster, Finished, PartitionId, Stop};
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
