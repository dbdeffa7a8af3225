//! The lock family's checks, one file per property, and the [`Record`] they fill for the
//! summary and the figures.
//!
//! - `lock.fencing_safety` (always, [`fencing`]): the resource never accepts a write whose token
//!   is lower than one it accepted, nor refuses one whose token is not. It also measures the
//!   overlap clients believe in: the time during which two clients each believe they hold a lock
//!   (a writer beside anyone), which is what fencing protects against.
//! - `lock.mutual_exclusion` (always, [`exclusion`]): as the service sees it (its replicas'
//!   applied grants and releases), no two sessions hold a lock at once, nor a writer beside a
//!   reader, and every grant's token is higher than the lock's earlier grants'.
//! - `lock.liveness` (eventually, [`liveness`]): after the faults heal every client that is up
//!   is granted a lock within `grant_within`; the locks of a session whose client crashed (or
//!   stayed paused) are released within its ttl plus `release_within`.
//! - `lock.linearizable` (always, judged as the run goes, [`linearizable`]): the clients' history of
//!   lock and counter operations against the checker's lock model (owners, read-write locks,
//!   queues, expiry) and register.
//! - `lock.converged` (eventually, [`converged`]): within `converge_within` of the heal the
//!   service's live replicas follow one leader in one term and have applied its commit index,
//!   their lock machines are identical whenever they applied the same prefix, and at the end no
//!   lock is held by a session that is gone or expired more than `release_within` ago.
//! - `lock.some_grant` (sometimes): some client held a lock.

pub mod converged;
pub mod exclusion;
pub mod fencing;
pub mod linearizable;
pub mod liveness;
pub mod recorder;
pub mod replay;

use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sim_core::{
    Check, CheckKind, CheckReport, Observation, Phases, SimDuration, Simulation, SuiteError,
    Violation,
};

use crate::config::{Config, ServiceMode};
use crate::node::{LockEvent, LockNode};

/// Every check's name.
pub const NAMES: [&str; 6] = [
    fencing::FencingSafety::NAME,
    exclusion::MutualExclusion::NAME,
    liveness::Liveness::NAME,
    linearizable::Linearizable::NAME,
    SomeGrant::NAME,
    converged::Converged::NAME,
];

/// `[checks]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckParams {
    /// `lock.liveness`: every client that is up holds a lock within this bound after the heal.
    pub grant_within: SimDuration,
    /// `lock.liveness`: a crashed (or still paused) client's locks are released within its ttl
    /// plus this bound.
    pub release_within: SimDuration,
    /// `lock.linearizable`: check the history at the end of the run.
    pub linearizability: bool,
    /// The linearizability checker's search budget (states) per stretch of a lock's (or the
    /// counter's) history between two quiescent moments.
    pub state_budget: u64,
    /// `lock.converged`: the live replicas agree this long after the heal.
    pub converge_within: SimDuration,
}

impl Default for CheckParams {
    fn default() -> Self {
        CheckParams {
            grant_within: SimDuration::from_secs(10),
            release_within: SimDuration::from_secs(2),
            linearizability: true,
            state_budget: 2_000_000,
            converge_within: SimDuration::from_secs(8),
        }
    }
}

impl CheckParams {
    pub fn validate(&self) -> Result<(), SuiteError> {
        for (field, value) in [
            ("checks.grant_within", self.grant_within),
            ("checks.release_within", self.release_within),
            ("checks.converge_within", self.converge_within),
        ] {
            if value == SimDuration::ZERO {
                return Err(SuiteError::new(
                    field,
                    "expected a positive duration, found 0s",
                ));
            }
        }
        if self.state_budget == 0 {
            return Err(SuiteError::new(
                "checks.state_budget",
                "expected a positive number of states, found 0",
            ));
        }
        Ok(())
    }
}

/// What the checks measured, for the summary and the figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Total time two clients each believed they held the same lock (a writer among them).
    pub overlap: SimDuration,
    /// How many times such an overlap began.
    pub overlaps: u64,
    /// The longest single overlap.
    pub longest_overlap: SimDuration,
    pub holdings: u64,
    pub writes_accepted: u64,
    pub writes_rejected: u64,
    /// Writes accepted with a token lower than one accepted before (only without fencing, or
    /// with a bug).
    pub stale_writes_accepted: u64,
    pub grants: u64,
    pub releases: u64,
    pub sessions_opened: u64,
    pub history_ops: u64,
}

/// A duration in milliseconds, for the summary.
pub(crate) fn millis(d: SimDuration) -> String {
    format!("{:.1}ms", d.as_millis_f64())
}

/// The record shared by a run's checks and its suite.
pub type SharedRecord = Arc<Mutex<Record>>;

impl Record {
    pub fn summary(&self, config: &Config) -> Vec<(String, String)> {
        let mode = match (config.mode, config.fencing) {
            (ServiceMode::Raft, true) => "raft, fencing on",
            (ServiceMode::Raft, false) => "raft, fencing off",
            (ServiceMode::Majority, true) => "majority lock, fencing on",
            (ServiceMode::Majority, false) => "majority lock, fencing off",
        };
        let mut lines = vec![
            ("lock service".to_string(), mode.to_string()),
            (
                "believed-holder overlap".to_string(),
                format!(
                    "{} in {} episodes (longest {})",
                    millis(self.overlap),
                    self.overlaps,
                    millis(self.longest_overlap)
                ),
            ),
            (
                "resource writes".to_string(),
                format!(
                    "{} accepted ({} stale), {} refused by fencing",
                    self.writes_accepted, self.stale_writes_accepted, self.writes_rejected
                ),
            ),
            (
                "holdings".to_string(),
                format!("{} by clients", self.holdings),
            ),
        ];
        if config.mode == ServiceMode::Raft {
            lines.push((
                "service".to_string(),
                format!(
                    "{} grants, {} releases or expiries, {} sessions opened, {} operations in the history",
                    self.grants, self.releases, self.sessions_opened, self.history_ops
                ),
            ));
        }
        lines
    }

    pub fn figures(&self) -> Vec<(String, u64)> {
        vec![
            (
                "lock.believed_overlap_us".to_string(),
                self.overlap.as_nanos() / 1_000,
            ),
            ("lock.believed_overlaps".to_string(), self.overlaps),
            ("lock.holdings".to_string(), self.holdings),
            ("lock.writes_accepted".to_string(), self.writes_accepted),
            ("lock.writes_rejected".to_string(), self.writes_rejected),
            (
                "lock.stale_writes_accepted".to_string(),
                self.stale_writes_accepted,
            ),
            ("lock.grants".to_string(), self.grants),
            ("lock.sessions_opened".to_string(), self.sessions_opened),
        ]
    }
}

/// Updates the shared record.
pub(crate) fn with_record(record: &SharedRecord, f: impl FnOnce(&mut Record)) {
    let mut guard = record
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard);
}

/// The checks of a run.
pub fn checks(
    config: &Arc<Config>,
    params: &CheckParams,
    record: SharedRecord,
) -> Vec<Box<dyn Check<LockNode>>> {
    vec![
        Box::new(fencing::FencingSafety::new(
            Arc::clone(config),
            record.clone(),
        )),
        Box::new(exclusion::MutualExclusion::new(
            Arc::clone(config),
            record.clone(),
        )),
        Box::new(liveness::Liveness::new(Arc::clone(config), params)),
        Box::new(linearizable::Linearizable::new(
            Arc::clone(config),
            params,
            record,
        )),
        Box::new(SomeGrant::default()),
        Box::new(converged::Converged::new(Arc::clone(config), params)),
    ]
}

/// `lock.some_grant`: some client held a lock (a run in which nobody did proves nothing).
#[derive(Debug, Default)]
pub struct SomeGrant {
    holdings: u64,
}

impl SomeGrant {
    pub const NAME: &'static str = "lock.some_grant";
}

impl Check<LockNode> for SomeGrant {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn observe(
        &mut self,
        _sim: &Simulation<LockNode>,
        obs: &Observation<'_, LockNode>,
    ) -> Option<Violation> {
        if let Observation::Handled { events, .. } = obs {
            self.holdings += events
                .iter()
                .filter(|e| matches!(e, LockEvent::Believes { .. }))
                .count() as u64;
        }
        None
    }

    fn finish(&mut self, _sim: &Simulation<LockNode>, phases: &Phases) -> CheckReport {
        let violation = (self.holdings == 0).then(|| Violation {
            time: phases.end,
            message: "no client ever held a lock".to_string(),
        });
        CheckReport {
            name: Self::NAME.to_string(),
            kind: CheckKind::Sometimes,
            violation,
            figures: vec![("holdings".to_string(), self.holdings.to_string())],
            not_evaluated: None,
        }
    }
}
