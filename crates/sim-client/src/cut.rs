//! Which side of a network partition a client's operation ran on, and the availability figures
//! per side that comparison tables (`sim compare`) read.
//!
//! Owns [`CutSide`] (recorded on every [`crate::OpRecord`] when it is invoked) and the figure
//! names [`CUT_FIGURES`]: operations invoked while a partition was in force, by the side of their
//! client; `ok` ended ok (or fail: the store answered that a compare-and-set found another value,
//! so it was available), `failed` ended as info (timed out, given up, unknown) or was still
//! outstanding when the run ended. [`crate::Tally::cut_figures`] counts them, zeros included, so
//! that tables line up. A client lives beside its home node (client `c` beside node
//! `c mod node_count`, as `sim_core::ClientCtx::submit_as` places it), so the side of an
//! operation is its home node's side at the moment it was invoked: the *majority* side when the
//! home node and the nodes it reaches both ways are more than half the cluster, the *minority*
//! side otherwise. With no partition in force the operation has no side. The definition knows no
//! protocol, so a CP store and an AP store under the same partition are measured alike.

use sim_core::{NodeId, Reachability};

/// The side of a partition an operation's client was on when it was invoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CutSide {
    /// The home node and the nodes it reaches both ways are a strict majority of the cluster.
    Majority,
    /// They are half of the cluster or fewer.
    Minority,
}

impl CutSide {
    pub fn name(self) -> &'static str {
        match self {
            CutSide::Majority => "majority",
            CutSide::Minority => "minority",
        }
    }

    /// The side of `home` under `reachability`, `None` when no link is cut.
    pub fn of(reachability: &Reachability, home: NodeId) -> Option<CutSide> {
        if reachability.is_full() {
            return None;
        }
        let node_count = reachability.node_count();
        let together = (0..node_count as u32)
            .map(NodeId)
            .filter(|&n| reachability.can_reach(home, n) && reachability.can_reach(n, home))
            .count();
        Some(if 2 * together > node_count {
            CutSide::Majority
        } else {
            CutSide::Minority
        })
    }
}

/// The figure names [`Tally::cut_figures`](crate::Tally::cut_figures) reports, in order.
pub const CUT_FIGURES: [&str; 4] = [
    "cut.majority.ok",
    "cut.majority.failed",
    "cut.minority.ok",
    "cut.minority.failed",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_node_with_a_majority_is_on_the_majority_side() {
        let groups = vec![
            vec![NodeId(0), NodeId(1), NodeId(2)],
            vec![NodeId(3), NodeId(4)],
        ];
        let split = Reachability::split(5, &groups, false);
        assert_eq!(CutSide::of(&split, NodeId(1)), Some(CutSide::Majority));
        assert_eq!(CutSide::of(&split, NodeId(4)), Some(CutSide::Minority));
        assert_eq!(CutSide::of(&Reachability::full(5), NodeId(4)), None);
        // An even split leaves no majority: both halves are minorities.
        let halves = Reachability::split(
            4,
            &[vec![NodeId(0), NodeId(1)], vec![NodeId(2), NodeId(3)]],
            false,
        );
        assert_eq!(CutSide::of(&halves, NodeId(0)), Some(CutSide::Minority));
    }

    #[test]
    fn figures_count_only_operations_invoked_during_a_partition() {
        use crate::{OpRecord, OpStatus, Tally};
        let record = |cut, status| OpRecord {
            client: 0,
            process: 0,
            kind: "get",
            invoked_at: sim_core::SimTime::ZERO,
            completed_at: None,
            status,
            attempts: 1,
            queued: sim_core::SimDuration::ZERO,
            cut,
        };
        let records = [
            record(None, OpStatus::Ok),
            record(Some(CutSide::Majority), OpStatus::Ok),
            record(Some(CutSide::Majority), OpStatus::Fail),
            record(Some(CutSide::Minority), OpStatus::Info),
            record(Some(CutSide::Minority), OpStatus::Pending),
        ];
        let mut tally = Tally::default();
        for record in &records {
            tally.add(record, false);
        }
        let figures = tally.cut_figures();
        let value = |name: &str| figures.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(value("cut.majority.ok"), Some(2));
        assert_eq!(value("cut.majority.failed"), Some(0));
        assert_eq!(value("cut.minority.ok"), Some(0));
        assert_eq!(value("cut.minority.failed"), Some(2));
    }
}
