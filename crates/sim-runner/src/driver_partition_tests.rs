//! Issue 14: a partition the nemesis draws that cannot be formed on the cluster there is (a
//! bridge or a majority ring of two nodes, a split with an empty side) is skipped with a warning
//! the summary repeats, never applied with an empty side.

use sim_scenario::Scenario;

use crate::bench::BeatSuite;
use crate::driver::RunOptions;
use crate::report::{AppliedFault, RunReport};
use crate::Families;

/// Heartbeats under a nemesis of partitions only, many of them, on `nodes` nodes.
fn run(nodes: usize, seed: u64) -> RunReport {
    let text = format!(
        "duration = \"60s\"\nquiet = \"1s\"\n[cluster]\nnodes = {nodes}\n[protocol]\n\
         name = \"beat\"\ninterval = \"100ms\"\n[nemesis]\nkinds = [\"partition\"]\n\
         interval = [\"100ms\", \"300ms\"]\nfault_duration = [\"100ms\", \"300ms\"]\n"
    );
    let scenario = Scenario::parse("partitions.toml", &text).expect("valid");
    Families::new()
        .with::<BeatSuite>()
        .run(&scenario, RunOptions::new(seed))
        .expect("runs")
}

fn partitions(report: &RunReport) -> Vec<&AppliedFault> {
    report
        .applied
        .iter()
        .filter(|f| f.text.starts_with("partition"))
        .collect()
}

/// No applied partition names an empty side: `joining n1 and ` or `| ` at the end.
fn no_empty_side(report: &RunReport) {
    for f in partitions(report).iter().filter(|f| !f.skipped) {
        let text = f.text.trim_end();
        assert!(
            !text.ends_with(" and") && !text.ends_with('|') && !text.contains("joining  and"),
            "an empty side: {}",
            f.text
        );
    }
}

#[test]
fn on_two_nodes_bridges_and_majority_rings_are_skipped_with_a_warning() {
    let report = run(2, 1);
    no_empty_side(&report);
    let skipped: Vec<&str> = partitions(&report)
        .into_iter()
        .filter(|f| f.skipped)
        .map(|f| f.text.as_str())
        .collect();
    assert!(
        skipped
            .iter()
            .any(|t| t.starts_with("partition bridge: a bridge needs at least 3 nodes")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|t| t.starts_with("partition majority-ring: a majority ring needs at least 4")),
        "{skipped:?}"
    );
    // A random minority of two nodes is no node (the family aims at no role).
    assert!(
        skipped.iter().any(|t| t.contains("isolate minority")),
        "{skipped:?}"
    );
    // The splits the nemesis draws have a node on each side and take effect.
    assert!(
        partitions(&report)
            .iter()
            .any(|f| !f.skipped && f.text.starts_with("partition split n")),
        "{:?}",
        report.applied
    );
    // The summary repeats each as a warning.
    let text = report.render_text();
    let warnings = text
        .lines()
        .filter(|l| l.starts_with("warning") && l.contains("did not take effect"))
        .count();
    assert_eq!(warnings, skipped.len(), "{text}");
    assert!(text.contains("a bridge needs at least 3 nodes"), "{text}");
}

#[test]
fn on_three_nodes_a_bridge_forms_and_a_majority_ring_is_skipped() {
    let report = run(3, 2);
    no_empty_side(&report);
    let all = partitions(&report);
    assert!(
        all.iter()
            .any(|f| !f.skipped && f.text.starts_with("partition bridge n")),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|f| f.skipped && f.text.starts_with("partition majority-ring:")),
        "{all:?}"
    );
    assert!(
        !all.iter()
            .any(|f| f.skipped && f.text.starts_with("partition bridge")),
        "{all:?}"
    );
}

#[test]
fn on_one_node_no_partition_takes_effect() {
    let report = run(1, 3);
    let all = partitions(&report);
    assert!(!all.is_empty());
    let applied: Vec<&&AppliedFault> = all.iter().filter(|f| !f.skipped).collect();
    assert!(applied.is_empty(), "{applied:?}");
    assert!(
        all.iter().any(|f| f.text.starts_with("partition split ")
            && f.text.contains(": group 1 of the split is empty, skipped")),
        "no empty split among {} partitions",
        all.len()
    );
}

#[test]
fn on_five_nodes_every_shape_forms() {
    let report = run(5, 4);
    no_empty_side(&report);
    let all = partitions(&report);
    assert!(all.len() > 20, "{all:?}");
    assert!(all.iter().all(|f| !f.skipped), "{all:?}");
}

/// The explicit scenario of such a run leaves the partitions it could not form out (a file may
/// not name them) and gives the same run: the same trace hash.
#[test]
fn the_explicit_scenario_of_a_run_with_skipped_partitions_runs_the_same() {
    let families = Families::new().with::<BeatSuite>();
    for (nodes, seed) in [(1, 3), (2, 1), (3, 2)] {
        let original = run(nodes, seed);
        let text = format!(
            "duration = \"60s\"\nquiet = \"1s\"\n[cluster]\nnodes = {nodes}\n[protocol]\n\
             name = \"beat\"\ninterval = \"100ms\"\n[nemesis]\nkinds = [\"partition\"]\n\
             interval = [\"100ms\", \"300ms\"]\nfault_duration = [\"100ms\", \"300ms\"]\n"
        );
        let scenario = Scenario::parse("partitions.toml", &text).expect("valid");
        let explicit = families
            .explicit(&scenario, seed, None)
            .expect("a valid file");
        assert!(explicit.nemesis.is_none());
        let again = families
            .run(&explicit, RunOptions::new(seed))
            .expect("runs");
        assert_eq!(original.trace_hash, again.trace_hash, "{nodes} nodes");
        let formed = |r: &RunReport| partitions(r).iter().filter(|f| !f.skipped).count();
        assert_eq!(formed(&original), formed(&again));
    }
}
