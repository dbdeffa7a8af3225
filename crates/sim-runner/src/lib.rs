//! Runs scenarios: the layer between a scenario file and a verdict.
//!
//! - [`run`]: picks the protocol suite a scenario names ([`registry`]) and runs it.
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
pub mod record;
pub mod registry;
pub mod replay;
pub mod report;
pub mod shrink;

pub use driver::{run_suite, RunOptions};
pub use registry::{protocols, run};
pub use report::{AppliedFault, RunReport};
