//! The protocol suites a scenario can name, and the dispatch from a name to a run.
//!
//! A new protocol family joins by implementing `sim_core::Suite` in its own crate and adding one
//! line to [`run`] and [`protocols`].

use sim_core::Suite;
use sim_scenario::{Scenario, ScenarioError};

use crate::driver::{run_suite, RunOptions};
use crate::report::RunReport;

/// The names scenarios may give in `[protocol] name = ...`.
pub fn protocols() -> Vec<&'static str> {
    vec![
        sim_raft::RaftSuite::NAME,
        sim_fd::FdSuite::NAME,
        crate::bench::BeatSuite::NAME,
    ]
}

/// The roles the nemesis aims at for the suite `protocol` names (none for an unknown name).
pub fn nemesis_roles(protocol: &str) -> Vec<&'static str> {
    match protocol {
        sim_raft::RaftSuite::NAME => sim_raft::RaftSuite::declaration().nemesis_roles,
        sim_fd::FdSuite::NAME => sim_fd::FdSuite::declaration().nemesis_roles,
        crate::bench::BeatSuite::NAME => crate::bench::BeatSuite::declaration().nemesis_roles,
        _ => Vec::new(),
    }
}

/// Runs `scenario` with the suite it names.
pub fn run(scenario: &Scenario, options: RunOptions) -> Result<RunReport, ScenarioError> {
    match scenario.protocol.as_str() {
        sim_raft::RaftSuite::NAME => run_suite::<sim_raft::RaftSuite>(scenario, options),
        sim_fd::FdSuite::NAME => run_suite::<sim_fd::FdSuite>(scenario, options),
        crate::bench::BeatSuite::NAME => run_suite::<crate::bench::BeatSuite>(scenario, options),
        _ => {
            let _ = options;
            Err(scenario.error_at_field(
                "protocol.name",
                format!(
                    "unknown protocol {:?}; the known protocols are {}",
                    scenario.protocol,
                    protocols().join(", ")
                ),
            ))
        }
    }
}
