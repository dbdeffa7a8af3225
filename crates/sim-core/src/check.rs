//! Checks: named properties of a run, of three kinds.
//!
//! - *always* (safety): observed after every step; the first violation stops the run.
//! - *sometimes* (coverage): something that must happen at least once, so that a run in which
//!   nothing happened cannot pass quietly (stateright's `sometimes`).
//! - *eventually* (liveness): must hold within a bound after the last fault heals.
//!
//! A check sees the simulation read-only through [`Observation`]s and the [`Simulation`]'s
//! accessors, and ends with a [`CheckReport`]: its verdict, a message that says what broke where,
//! and figures for the summary.

use crate::process::Process;
use crate::sim::Simulation;
use crate::time::{SimDuration, SimTime};
use crate::NodeId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckKind {
    Always,
    Sometimes,
    Eventually,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Always => "always",
            CheckKind::Sometimes => "sometimes",
            CheckKind::Eventually => "eventually",
        }
    }
}

/// A fault or lifecycle change, as the checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeChange {
    Crashed,
    Restarted,
    Paused,
    Resumed,
    ClockChanged,
}

/// Something that happened, passed to every check in order.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a, P: Process> {
    /// A handler ran on `node` and reported `events` (possibly none).
    Handled {
        node: NodeId,
        events: &'a [P::Event],
    },
    /// A node's lifecycle changed.
    Node { node: NodeId, change: NodeChange },
    /// Reachability or the network's behaviour changed.
    Network,
    /// The fault phase ended: every fault is healed from here on.
    QuietPhase,
}

/// The phases of a run, for liveness checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// When the fault phase ended and every fault was healed, if the run has a quiet phase.
    pub quiet_start: Option<SimTime>,
    /// When the run ended.
    pub end: SimTime,
}

/// A failed check, in words that say what broke, when, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub time: SimTime,
    pub message: String,
}

/// A check's final word.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub name: String,
    pub kind: CheckKind,
    pub violation: Option<Violation>,
    /// Figures for the summary, e.g. `("p99", "812ms")`, in display order.
    pub figures: Vec<(String, String)>,
    /// Why the check had nothing to judge (no quiet phase, no operation, the run stopped before
    /// it could be judged): it neither passed nor failed.
    pub not_evaluated: Option<String>,
}

impl CheckReport {
    /// A check that had nothing to judge, and why.
    pub fn not_evaluated(name: &str, kind: CheckKind, why: impl Into<String>) -> Self {
        CheckReport {
            name: name.to_string(),
            kind,
            violation: None,
            figures: Vec::new(),
            not_evaluated: Some(why.into()),
        }
    }

    /// Whether the check did not fail: it held, or it had nothing to judge.
    pub fn passed(&self) -> bool {
        self.violation.is_none()
    }

    /// Whether the check judged something and it held.
    pub fn held(&self) -> bool {
        self.violation.is_none() && self.not_evaluated.is_none()
    }
}

/// A named property of a run.
pub trait Check<P: Process> {
    /// The name scenarios and summaries use, e.g. `raft.election_safety`.
    fn name(&self) -> &str;
    fn kind(&self) -> CheckKind;
    /// Called after every step and fault. An *always* check returns its first violation here;
    /// a check that judges only at the end keeps this default, which sees nothing.
    fn observe(
        &mut self,
        _sim: &Simulation<P>,
        _observation: &Observation<'_, P>,
    ) -> Option<Violation> {
        None
    }
    /// Called once at the end of the run.
    fn finish(&mut self, sim: &Simulation<P>, phases: &Phases) -> CheckReport;
}

/// Percentile `p` (0..=100) of `sorted` by nearest rank, `None` when empty.
pub fn percentile(sorted: &[SimDuration], p: u32) -> Option<SimDuration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p as usize * sorted.len()).div_ceil(100)).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_by_nearest_rank() {
        let v: Vec<SimDuration> = (1..=100).map(SimDuration::from_millis).collect();
        assert_eq!(percentile(&v, 50), Some(SimDuration::from_millis(50)));
        assert_eq!(percentile(&v, 99), Some(SimDuration::from_millis(99)));
        assert_eq!(percentile(&v, 100), Some(SimDuration::from_millis(100)));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&v[..1], 99), Some(SimDuration::from_millis(1)));
    }
}
