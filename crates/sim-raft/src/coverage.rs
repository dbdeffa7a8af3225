//! Coverage: how often a run reached Raft's interesting moments, as named counts for
//! `Suite::figures`, so that a campaign shows which moments its seeds reached and which never.
//!
//! Two sources: the events the checks already record ([`RunRecord`]: elections, leaders by term,
//! truncated suffixes, snapshots) and each process's [`Moments`] (votes refused for a log behind,
//! messages and votes of an earlier term, reads a deposed leader refused, votes check-quorum
//! ignored), folded into run totals by [`CoverageTally`] as handlers run (a restarted process
//! counts from zero again). The tally also counts the moments only the whole cluster shows: a
//! deposed leader still leading its old term while a newer leader exists.

use std::sync::{Arc, Mutex};

use sim_core::{NodeChange, NodeStatus, Observation, Simulation};

use crate::checks::RunRecord;
use crate::moments::Moments;
use crate::node::{RaftNode, Role};

/// Run totals the tally keeps.
#[derive(Debug, Clone, Default)]
pub struct CoverageRecord {
    pub moments: Moments,
    /// Times a node led an older term while another node led a newer one.
    pub deposed_leader_overlaps: u64,
    /// Pre-candidacies (pre-vote rounds).
    pub pre_candidacies: u64,
}

/// The coverage record as the tally and the suite share it.
pub type SharedCoverage = Arc<Mutex<CoverageRecord>>;

/// Folds per-process counts into run totals, observation by observation.
#[derive(Debug, Default)]
pub struct CoverageTally {
    record: SharedCoverage,
    last_seen: Vec<Moments>,
    overlapping: bool,
}

impl CoverageTally {
    pub fn new(record: SharedCoverage) -> Self {
        CoverageTally {
            record,
            last_seen: Vec::new(),
            overlapping: false,
        }
    }

    pub fn observe(&mut self, sim: &Simulation<RaftNode>, obs: &Observation<'_, RaftNode>) {
        if self.last_seen.len() < sim.node_count() {
            self.last_seen.resize(sim.node_count(), Moments::default());
        }
        let node = match *obs {
            Observation::Node {
                node,
                change: NodeChange::Crashed | NodeChange::Restarted,
            } => {
                self.last_seen[node.index()] = Moments::default();
                return;
            }
            Observation::Handled { node, events } => {
                let pre = events
                    .iter()
                    .filter(|e| matches!(e, crate::node::RaftEvent::BecamePreCandidate { .. }))
                    .count() as u64;
                if pre > 0 {
                    self.lock().pre_candidacies += pre;
                }
                node
            }
            _ => return,
        };
        let Some(p) = sim.process(node) else {
            return;
        };
        let now = *p.moments();
        let before = std::mem::replace(&mut self.last_seen[node.index()], now);
        let changed = now != before;
        if changed {
            let mut record = self.lock();
            let total = &mut record.moments;
            total.votes_denied_log_behind +=
                now.votes_denied_log_behind - before.votes_denied_log_behind;
            total.stale_term_messages += now.stale_term_messages - before.stale_term_messages;
            total.stale_votes_ignored += now.stale_votes_ignored - before.stale_votes_ignored;
            total.reads_refused_on_step_down +=
                now.reads_refused_on_step_down - before.reads_refused_on_step_down;
            total.votes_ignored_leader_alive +=
                now.votes_ignored_leader_alive - before.votes_ignored_leader_alive;
        }
        if p.role() == Role::Leader || self.overlapping {
            let overlap = deposed_leader_present(sim);
            if overlap && !self.overlapping {
                self.lock().deposed_leader_overlaps += 1;
            }
            self.overlapping = overlap;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CoverageRecord> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether some live node leads an older term than another live leader.
fn deposed_leader_present(sim: &Simulation<RaftNode>) -> bool {
    let terms = sim
        .node_ids()
        .filter(|&n| sim.status(n) != NodeStatus::Down)
        .filter_map(|n| sim.process(n))
        .filter(|p| p.role() == Role::Leader)
        .map(|p| p.term());
    let (mut low, mut high) = (u64::MAX, 0);
    for term in terms {
        low = low.min(term);
        high = high.max(term);
    }
    low < high
}

/// Every coverage figure's name, in the order [`figures`] gives them (a test holds them equal).
pub const FIGURE_NAMES: [&str; 14] = [
    "raft.elections",
    "raft.pre_vote_rounds",
    "raft.terms_with_leader",
    "raft.leader_changes",
    "raft.suffixes_truncated",
    "raft.entries_truncated",
    "raft.snapshots_taken",
    "raft.snapshots_installed",
    "raft.deposed_leader_overlaps",
    "raft.votes_denied_log_behind",
    "raft.stale_term_messages",
    "raft.stale_votes_ignored",
    "raft.reads_refused_on_step_down",
    "raft.votes_ignored_leader_alive",
];

/// The run's coverage figures, by name, in a stable order.
pub fn figures(record: &RunRecord, coverage: &CoverageRecord) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = vec![
        ("raft.elections".into(), record.candidacies),
        ("raft.pre_vote_rounds".into(), coverage.pre_candidacies),
        ("raft.terms_with_leader".into(), record.leaders.len() as u64),
        (
            "raft.leader_changes".into(),
            (record.leaders.len() as u64).saturating_sub(1),
        ),
        ("raft.suffixes_truncated".into(), record.truncations),
        ("raft.entries_truncated".into(), record.truncated_entries),
        ("raft.snapshots_taken".into(), record.snapshots_taken),
        (
            "raft.snapshots_installed".into(),
            record.snapshots_installed,
        ),
        (
            "raft.deposed_leader_overlaps".into(),
            coverage.deposed_leader_overlaps,
        ),
    ];
    out.extend(
        coverage
            .moments
            .named()
            .iter()
            .map(|(name, count)| (name.to_string(), *count)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figure_names_are_the_figures() {
        let names: Vec<String> = figures(&RunRecord::default(), &CoverageRecord::default())
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, FIGURE_NAMES);
    }
}
