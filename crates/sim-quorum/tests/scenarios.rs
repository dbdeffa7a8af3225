//! The shipped quorum scenario files through the real runner, and scripted cases on the
//! runner's `Cluster`: every scenario without `[expect]` passes its first seeds, every planted
//! bug is caught within its budget by its stated check and the same seed passes without it,
//! and the protocol rules (sloppy quorum with hinted handoff, ABD's write-back, convergence)
//! hold step by step. The many-seed sweeps are `sim verify` and `sim fuzz` campaigns.

use sim_core::{ClusterInfo, NodeId, SimConfig, SimDuration, SimTime, Suite, Trace};
use sim_quorum::message::QuorumEvent;
use sim_quorum::QuorumSuite;
use sim_runner::test_support::{self, load};
use sim_runner::{Cluster, RunReport};
use sim_scenario::Scenario;

fn run(scenario: &Scenario, seed: u64) -> RunReport {
    test_support::run::<QuorumSuite>(scenario, seed)
}

const SCENARIOS: [&str; 6] = [
    "quorum/abd-nemesis.toml",
    "quorum/abd-partition.toml",
    "quorum/dynamo-partition.toml",
    "quorum/dynamo-crash.toml",
    "quorum/dynamo-sloppy.toml",
    "quorum/dynamo-nemesis.toml",
];

const BUGS: [&str; 7] = [
    "quorum/bugs/abd_read_without_write_back.toml",
    "quorum/bugs/abd_write_without_query.toml",
    "quorum/bugs/count_sent_as_acked.toml",
    "quorum/bugs/merge_by_clock_sum.toml",
    "quorum/bugs/ack_before_sync.toml",
    "quorum/bugs/sloppy_write_without_hint.toml",
    "quorum/bugs/context_of_first_sibling.toml",
];

#[test]
fn every_quorum_scenario_passes_its_first_seed() {
    test_support::assert_first_seeds_pass::<QuorumSuite>(&SCENARIOS, 0..1);
}

#[test]
fn every_planted_bug_has_a_scenario() {
    let bugs = sim_quorum::bugs::Bug::ALL.map(|b| b.name());
    test_support::assert_every_bug_has_a_scenario("quorum/bugs", bugs, &BUGS);
}

#[test]
fn every_planted_bug_is_caught_within_its_budget_by_its_expected_check() {
    test_support::assert_every_bug_caught::<QuorumSuite>(&BUGS);
}

/// With LWW and a coordinator clock far ahead, acknowledged writes are lost and named.
#[test]
fn lww_under_clock_skew_names_the_lost_writes() {
    let report = run(&load("quorum/dynamo-clock-skew.toml"), 1);
    assert_eq!(report.failed_check().as_deref(), Some("quorum.lost_writes"));
    let failure = report.failure().unwrap_or_default();
    assert!(failure.contains("is lost"), "{failure}");
    let figure = |name: &str| {
        report
            .figures
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    };
    assert!(figure("writes.lost").unwrap_or(0) > 0);
    assert!(figure("reads.stale").unwrap_or(0) > 0);
}

/// A cluster of five nodes, N = 3, built the way the runner builds it.
fn cluster(seed: u64, protocol: &str, workload: &str) -> Cluster<QuorumSuite> {
    let info = ClusterInfo::uniform(5, SimDuration::from_secs(10), SimDuration::from_secs(5));
    let params = toml::from_str(protocol).unwrap_or_else(|e| panic!("{e}"));
    let workload = toml::from_str(workload).unwrap_or_else(|e| panic!("{e}"));
    let suite = QuorumSuite::new(&info, params, workload, Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cluster = Cluster::new(suite, SimConfig::new(seed, 5), Trace::default());
    cluster.start();
    cluster
}

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

/// Dynamo, section 4.6: with the home replicas of most keys cut off, a sloppy quorum stores
/// writes on fallback nodes with hints, and the fallbacks hand them back after the heal.
#[test]
fn sloppy_quorum_keeps_hints_for_unreachable_home_replicas_and_hands_them_back() {
    let mut cluster = cluster(
        3,
        "mode = \"dynamo\"\nversions = \"vector_clocks\"\nanti_entropy = \"0s\"",
        "clients = 2\nkeys = 5\nwrite = 2\nread = 2",
    );
    assert!(cluster.run_until(secs(1)));
    cluster.split(&[
        vec![NodeId(0), NodeId(1)],
        vec![NodeId(2), NodeId(3), NodeId(4)],
    ]);
    let stored = cluster.run_until_event(secs(4), |_, _, events| {
        events
            .iter()
            .any(|e| matches!(e, QuorumEvent::HintStored { .. }))
    });
    assert!(
        stored.is_some(),
        "no hint stored while home replicas were cut off"
    );
    assert!(cluster.run_until(secs(4)));
    let held: usize = (0..5)
        .filter_map(|n| cluster.process(NodeId(n)))
        .map(|p| p.hints().len())
        .sum();
    assert!(held > 0, "the fallbacks hold hints during the partition");
    cluster.heal();
    let delivered = cluster.run_until_event(secs(6), |_, _, events| {
        events
            .iter()
            .any(|e| matches!(e, QuorumEvent::HintDelivered { .. }))
    });
    assert!(delivered.is_some(), "no hint handed back after the heal");
    cluster.quiet_phase();
    assert!(cluster.run_until(secs(9)));
    let finished = cluster.finish();
    assert!(finished.passed(), "{:?}", finished.failure());
}

/// ABD rejects settings that cannot take effect there, naming the field.
#[test]
fn abd_refuses_dynamo_settings_by_field() {
    let info = ClusterInfo::uniform(5, SimDuration::from_secs(10), SimDuration::from_secs(5));
    let cases = [
        (
            "mode = \"abd\"\nsloppy_quorum = true",
            "",
            "protocol.sloppy_quorum",
        ),
        ("mode = \"abd\"", "read = \"one\"", "workload.read"),
        (
            "mode = \"abd\"",
            "max_attempts = 3",
            "workload.max_attempts",
        ),
        ("replicas = 6", "", "protocol.replicas"),
        ("", "write = 4", "workload.write"),
        ("bugs = [\"merge_by_clock_sum\"]", "", "protocol.bugs"),
        ("sloppy_after = \"1s\"", "", "protocol.sloppy_after"),
    ];
    for (protocol, workload, field) in cases {
        let params = toml::from_str(protocol).unwrap_or_else(|e| panic!("{e}"));
        let table = toml::from_str(workload).unwrap_or_else(|e| panic!("{e}"));
        let error = QuorumSuite::new(&info, params, table, Default::default())
            .err()
            .unwrap_or_else(|| panic!("{protocol} / {workload} was accepted"));
        assert_eq!(error.field, field, "{protocol} / {workload}: {error}");
    }
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let scenario = load("quorum/dynamo-nemesis.toml");
    assert_eq!(run(&scenario, 5).trace_hash, run(&scenario, 5).trace_hash);
}

/// The swarm scenario's first seeds pass every check, each with its own sampled member (its
/// campaigns run in CI, in release).
#[test]
fn the_swarm_scenario_passes_its_first_seeds() {
    let scenario = load("quorum/swarm.toml");
    for seed in 0..3 {
        let report = run(&scenario, seed);
        assert!(report.passed(), "seed {seed}: {:?}", report.failure());
        assert!(!report.parameters.is_empty(), "the seed sampled its member");
    }
}
