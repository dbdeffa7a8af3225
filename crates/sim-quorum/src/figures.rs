//! What a quorum run measured: the summary lines and the named figures comparison tables read.
//!
//! Owns [`summary`] (placement and keys per node, the engine's operation statistics, anomalies
//! found, siblings, hints still held) and [`figures`]: `sim-client`'s `cut.*` availability per
//! side of a partition, `reads.ok`, `writes.ok`, `reads.stale`, `writes.lost` (the same names
//! `sim-raft` reports, so `sim compare` lines a CP and an AP store up) and `reads.siblings`
//! (reads that returned more than one sibling). An anomaly figure that could not be judged is
//! left out.

use sim_core::{RunInfo, Simulation};

use crate::checks::{anomalies, LOST_WRITES, MONOTONIC_READS, READ_YOUR_WRITES, STALE_READS};
use crate::node::{Config, Mode, QuorumNode, Versioning};
use crate::placement::Scheme;
use crate::workload::quorum_workload;

/// The figures of a run; see the module docs.
pub fn figures(config: &Config, sim: &Simulation<QuorumNode>) -> Vec<(String, u64)> {
    let Some(workload) = quorum_workload(sim) else {
        return Vec::new();
    };
    let tally = workload.tally();
    let mut figures = tally.cut_figures();
    let ok = |kind: &str| tally.kind(kind).ok;
    figures.push(("reads.ok".to_string(), ok("get")));
    figures.push(("writes.ok".to_string(), ok("put")));
    // A figure that could not be judged (a spilled write not read back) is left out; its
    // check says why.
    for (figure, check) in [("reads.stale", STALE_READS), ("writes.lost", LOST_WRITES)] {
        if let Some(Ok(found)) = anomalies(check, sim, config) {
            figures.push((figure.to_string(), found.count));
        }
    }
    figures.push((
        "reads.siblings".to_string(),
        workload.client().sibling_reads,
    ));
    figures
}

/// The scheme and how many keys each node holds as a home replica.
fn placement_line(config: &Config, keys: &[String]) -> String {
    let scheme = match config.placement.scheme() {
        Scheme::Ring { vnodes } => format!("consistent hashing, {vnodes} vnodes per node"),
        Scheme::Modulo => "modulo hashing".to_string(),
        Scheme::Range { keys } => format!("range partitioning of {keys} keys"),
    };
    let load: Vec<String> = config
        .placement
        .load(keys, config.replicas)
        .into_iter()
        .map(|(node, count)| format!("{node} {count}"))
        .collect();
    format!("{scheme}; keys held: {}", load.join(", "))
}

/// The summary lines of a run.
pub fn summary(
    config: &Config,
    sim: &Simulation<QuorumNode>,
    run: &RunInfo,
) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mode = match (config.mode, config.versioning) {
        (Mode::Abd, _) => "ABD (linearizable register per key, majorities)".to_string(),
        (Mode::Dynamo, Versioning::Lww) => {
            "Dynamo, last-write-wins by coordinator clocks".to_string()
        }
        (Mode::Dynamo, Versioning::VectorClocks) => {
            "Dynamo, vector clocks with siblings".to_string()
        }
    };
    lines.push((
        "store".to_string(),
        format!("{mode}, N={}", config.replicas),
    ));
    let Some(workload) = quorum_workload(sim) else {
        return lines;
    };
    let keys = workload.client().keys().to_vec();
    lines.push(("placement".to_string(), placement_line(config, &keys)));
    lines.extend(workload.engine().summary(run));
    let count = |name: &str| match anomalies(name, sim, config) {
        Some(Ok(found)) => found.count.to_string(),
        Some(Err(_)) => "?".to_string(),
        None => "0".to_string(),
    };
    lines.push((
        "anomalies".to_string(),
        format!(
            "{} stale reads, {} lost writes, {} read-your-writes and {} monotonic-read violations",
            count(STALE_READS),
            count(LOST_WRITES),
            count(READ_YOUR_WRITES),
            count(MONOTONIC_READS)
        ),
    ));
    if config.versioning == Versioning::VectorClocks && config.mode == Mode::Dynamo {
        let client = workload.client();
        lines.push((
            "siblings".to_string(),
            format!(
                "{} reads returned siblings, at most {}",
                client.sibling_reads, client.max_siblings
            ),
        ));
    }
    let hints: usize = sim
        .node_ids()
        .filter_map(|n| sim.process(n))
        .map(|p| p.hints().len())
        .sum();
    lines.push((
        "hints".to_string(),
        format!("{hints} hinted writes still held at the end"),
    ));
    lines
}
