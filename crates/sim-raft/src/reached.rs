//! Opt-in sometimes checks on the coverage moments: `[checks] sometimes = ["raft.snapshots_installed",
//! ...]` asks that the scenario's seeds reach those moments.
//!
//! Each name is one of Raft's coverage figures ([`crate::coverage::FIGURE_NAMES`]); an unknown
//! one is an error at `checks.sometimes` listing the known names. Each becomes a check of kind
//! sometimes, named as its figure: it holds in a run that reached the moment (with the count),
//! and is `not evaluated` in one that did not, since a rare moment is a campaign's business,
//! not one run's. A campaign (`sim fuzz`) fails when none of its seeds met such a check
//! (`sim_runner::coverage`: a sometimes check named as a figure the runs report).

use sim_core::{Check, CheckKind, CheckReport, Phases, Simulation, SuiteError};

use crate::checks::SharedRecord;
use crate::coverage::{self, SharedCoverage, FIGURE_NAMES};
use crate::node::RaftNode;

/// Checks each name against the figures; the error names the field and lists the known names.
pub fn validate(names: &[String]) -> Result<(), SuiteError> {
    for (i, name) in names.iter().enumerate() {
        if !FIGURE_NAMES.contains(&name.as_str()) {
            return Err(SuiteError::new(
                "checks.sometimes",
                format!(
                    "entry {} is {name:?}, not one of Raft's coverage moments: {}",
                    i + 1,
                    FIGURE_NAMES.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The sometimes check on the figure `name`.
pub struct Reached {
    name: &'static str,
    record: SharedRecord,
    coverage: SharedCoverage,
}

/// The checks the scenario asked for, over the run's shared records. Names are validated.
pub fn checks(
    names: &[String],
    record: &SharedRecord,
    coverage: &SharedCoverage,
) -> Vec<Box<dyn Check<RaftNode>>> {
    let known = names
        .iter()
        .filter_map(|n| FIGURE_NAMES.iter().find(|f| **f == n.as_str()));
    known
        .map(|&name| {
            Box::new(Reached {
                name,
                record: record.clone(),
                coverage: coverage.clone(),
            }) as Box<dyn Check<RaftNode>>
        })
        .collect()
}

impl Check<RaftNode> for Reached {
    fn name(&self) -> &str {
        self.name
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        let record = self
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let tally = self
            .coverage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let count = coverage::figures(&record, &tally)
            .into_iter()
            .find(|(n, _)| n == self.name)
            .map_or(0, |(_, c)| c);
        if count == 0 {
            return CheckReport::not_evaluated(
                self.name,
                CheckKind::Sometimes,
                "this run did not reach the moment; a campaign fails when none of its seeds does",
            );
        }
        CheckReport {
            name: self.name.into(),
            kind: CheckKind::Sometimes,
            violation: None,
            figures: vec![("reached".into(), count.to_string())],
            not_evaluated: None,
        }
    }
}
