//! Eventual strong accuracy: a node that is alive and reachable is trusted again within a bound.
//!
//! `fd.<detector>.trusted_again` (always): whenever a monitor that is up suspects a target that
//! is up and can reach it (after a crash and restart, after a partition heals, or after a false
//! suspicion), the monitor must restore its trust within `trust_within`. A target that is paused
//! sends nothing, so its suspicion is not held against the detector until it resumes; a monitor
//! that is paused cannot change its mind, so the bound restarts when it resumes. After the faults
//! heal every live node is reachable, so this is also the detectors' convergence: every live node
//! trusted by every live node within the bound.
//!
//! A run in which no reachable node was ever suspected gives the check nothing to judge: it says
//! `not evaluated`, it does not pass.
//!
//! The check reads the ground truth (status, reachability) and the verdicts (`FdNode::suspects`)
//! from the simulation directly, so it needs nothing of [`crate::check`]'s tracker.

use std::collections::BTreeSet;

use sim_core::{
    Check, CheckKind, CheckReport, NodeId, NodeStatus, Observation, Phases, SimDuration, SimTime,
    Simulation, Violation,
};

use crate::node::{DetectorKind, FdNode};

/// `fd.<detector>.trusted_again` for one detector.
pub struct TrustedAgain {
    name: String,
    detector: DetectorKind,
    within: SimDuration,
    node_count: usize,
    /// Per pair (`monitor * n + target`): since when the target is suspected although it is up
    /// and reachable and the monitor is up.
    pending: Vec<Option<SimTime>>,
    /// `(deadline, pair, since)`, judged when time passes the deadline.
    deadlines: BTreeSet<(SimTime, usize, SimTime)>,
    /// Suspicions of a reachable node that had to be restored, and how many were in time.
    owed: u64,
    restored: u64,
    slowest: SimDuration,
    violation: Option<Violation>,
}

impl TrustedAgain {
    pub fn new(detector: DetectorKind, within: SimDuration) -> Self {
        TrustedAgain {
            name: format!("fd.{detector}.trusted_again"),
            detector,
            within,
            node_count: 0,
            pending: Vec::new(),
            deadlines: BTreeSet::new(),
            owed: 0,
            restored: 0,
            slowest: SimDuration::ZERO,
            violation: None,
        }
    }

    /// Whether `monitor` owes `target` its trust now.
    fn owes(
        sim: &Simulation<FdNode>,
        detector: DetectorKind,
        monitor: NodeId,
        target: NodeId,
    ) -> bool {
        sim.status(monitor) == NodeStatus::Up
            && sim.status(target) == NodeStatus::Up
            && sim.reachability().can_reach(target, monitor)
            && sim
                .process(monitor)
                .is_some_and(|p| p.suspects(detector, target))
    }

    fn update_pair(&mut self, sim: &Simulation<FdNode>, monitor: NodeId, target: NodeId) {
        let pair = monitor.index() * self.node_count + target.index();
        let owes = Self::owes(sim, self.detector, monitor, target);
        match (self.pending[pair], owes) {
            (None, true) => {
                let now = sim.now();
                self.pending[pair] = Some(now);
                self.owed += 1;
                self.deadlines
                    .insert((now.saturating_add(self.within), pair, now));
            }
            (Some(since), false) => {
                self.pending[pair] = None;
                let took = sim.now().saturating_since(since);
                // Trust restored, or the pair failed again (then the suspicion is owed no more).
                if sim
                    .process(monitor)
                    .is_some_and(|p| !p.suspects(self.detector, target))
                {
                    self.restored += 1;
                    self.slowest = self.slowest.max(took);
                }
            }
            _ => {}
        }
    }

    fn expire(&mut self, now: SimTime) {
        while let Some(&(deadline, pair, since)) = self.deadlines.first() {
            if deadline >= now {
                break;
            }
            self.deadlines.pop_first();
            if self.pending[pair] != Some(since) || self.violation.is_some() {
                continue;
            }
            let monitor = NodeId((pair / self.node_count) as u32);
            let target = NodeId((pair % self.node_count) as u32);
            self.violation = Some(Violation {
                time: deadline,
                message: format!(
                    "{monitor} still suspected {target} {} after t={since}, although both were up \
                     and {target} could reach {monitor} all along (the bound is {})",
                    self.within, self.within
                ),
            });
        }
    }
}

impl Check<FdNode> for TrustedAgain {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<FdNode>,
        observation: &Observation<'_, FdNode>,
    ) -> Option<Violation> {
        let n = sim.node_count();
        if self.node_count != n {
            self.node_count = n;
            self.pending = vec![None; n * n];
        }
        let before = self.violation.is_some();
        self.expire(sim.now());
        match observation {
            Observation::Handled { node, events } => {
                if !events.is_empty() {
                    for target in sim.node_ids().filter(|t| t != node) {
                        self.update_pair(sim, *node, target);
                    }
                }
            }
            _ => {
                for monitor in sim.node_ids() {
                    for target in sim.node_ids().filter(|&t| t != monitor) {
                        self.update_pair(sim, monitor, target);
                    }
                }
            }
        }
        if before {
            None
        } else {
            self.violation.clone()
        }
    }
    fn finish(&mut self, _: &Simulation<FdNode>, phases: &Phases) -> CheckReport {
        // Deadlines at or before the end were missed: the run did not restore them in time.
        self.expire(phases.end.saturating_add(SimDuration::from_nanos(1)));
        if self.owed == 0 && self.violation.is_none() {
            return CheckReport::not_evaluated(
                &self.name,
                CheckKind::Always,
                "no node was ever suspected while it was up and reachable: nothing had to be \
                 trusted again",
            );
        }
        CheckReport {
            name: self.name.clone(),
            kind: CheckKind::Always,
            violation: self.violation.clone(),
            figures: vec![
                ("owed".into(), self.owed.to_string()),
                ("restored".into(), self.restored.to_string()),
                (
                    "slowest".into(),
                    crate::check::format_duration(self.slowest),
                ),
                ("bound".into(), self.within.to_string()),
            ],
            not_evaluated: None,
        }
    }
}
