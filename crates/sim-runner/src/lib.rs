//! Runs scenarios: the layer between a scenario file and a verdict.
//!
//! - [`run`]: picks the protocol suite a scenario names ([`registry`]) and runs it.
//! - `driver`: the run loop for one suite: faults at their time or at a protocol event, the quiet
//!   phase, checks after every step.
//! - [`report`]: the [`RunReport`] and its text and JSON renderings.
//! - [`bench`]: `sim bench` figures for the core.
//!
//! Nothing here reads files, the environment or the wall clock, except [`bench`], whose purpose
//! is to measure wall-clock speed.

pub mod bench;
mod driver;
pub mod registry;
pub mod report;

pub use driver::{run_suite, RunOptions};
pub use registry::{protocols, run};
pub use report::{AppliedFault, RunReport};
