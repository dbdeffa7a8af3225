//! The figures `sim compare` lines up against other stores under the same partition:
//! availability per side of the cut and the consistency anomalies of the client history.
//!
//! Owns [`cap_figures`]: `sim-client`'s `cut.*` counts (operations invoked during a partition,
//! by the side of their client's home node), `reads.ok`, `writes.ok`, `reads.stale` and
//! `writes.lost` as `sim-kv`'s [`AnomalyTracker`] defines them. The converged state a lost write is
//! judged against is the state machine of the node that applied the most entries. The quorum
//! family reports the same names. `reads.stale` and `writes.lost` need the whole history, so
//! they are reported only when the run keeps it (`--history`, `--report`, `sim compare`); a
//! plain run checks its history as it goes and forgets it, keeping memory flat.

use std::collections::BTreeMap;

use sim_core::Simulation;
use sim_kv::AnomalyTracker;

use crate::node::RaftNode;

/// The comparison figures of a Raft run (none without a kv workload).
pub fn cap_figures(sim: &Simulation<RaftNode>) -> Vec<(String, u64)> {
    let Some(workload) = sim_kv::kv_workload(sim) else {
        return Vec::new();
    };
    let tally = workload.tally();
    let mut figures = tally.cut_figures();
    let reads_ok = tally.kind("get").ok;
    figures.push(("reads.ok".to_string(), reads_ok));
    figures.push(("writes.ok".to_string(), tally.counts.ok - reads_ok));
    let Some(history) = workload.history() else {
        return figures;
    };
    let tracker = AnomalyTracker::from_history(history);
    let furthest = sim
        .node_ids()
        .filter_map(|node| sim.process(node))
        .max_by_key(|process| process.last_applied());
    let survivors: BTreeMap<String, Vec<String>> = tracker
        .keys()
        .iter()
        .map(|key| {
            let value = furthest.and_then(|p| p.kv().get(key)).cloned();
            (key.clone(), value.into_iter().collect())
        })
        .collect();
    // A figure that could not be judged (a spilled write not read back) is left out.
    if let Ok(found) = tracker.stale_reads() {
        figures.push(("reads.stale".to_string(), found.count));
    }
    if let Ok(found) = tracker.lost_writes(&survivors) {
        figures.push(("writes.lost".to_string(), found.count));
    }
    figures
}
