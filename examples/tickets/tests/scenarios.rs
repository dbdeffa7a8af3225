//! The ticket family's scenarios from `#[test]`s: a scenario file runs in two lines through the
//! same families list the `tickets-sim` binary offers, and a scripted case drives the runner's
//! `Cluster` directly.

use sim_core::{ClusterInfo, Declaration, NodeId, SimConfig, SimDuration, SimTime, Suite, Trace};
use sim_runner::{Cluster, RunOptions};
use sim_scenario::Scenario;
use tickets::node::TicketEvent;
use tickets::TicketSuite;

fn scenario(file: &str) -> Scenario {
    let path = format!("{}/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Scenario::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_partition_scenario_passes_its_first_seeds() {
    for seed in 0..3 {
        let report = tickets::families()
            .run(&scenario("partition.toml"), RunOptions::new(seed))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(report.passed(), "seed {seed}: {:?}", report.failure());
    }
}

#[test]
fn grant_before_store_grants_a_ticket_twice() {
    let report = tickets::families()
        .run(
            &scenario("bugs/grant_before_store.toml"),
            RunOptions::new(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.failed_check().as_deref(), Some("tickets.unique"));
    let failure = report.failure().unwrap_or_default();
    assert!(failure.contains("granted twice"), "{failure}");
}

/// A cluster of one sequencer (n1) and three replicas, built the way the runner builds it.
fn cluster(seed: u64, bugs: &str) -> Cluster<TicketSuite> {
    let mut info = ClusterInfo::uniform(4, SimDuration::from_secs(10), SimDuration::ZERO);
    info.node_kinds = ["sequencer", "replica", "replica", "replica"]
        .map(String::from)
        .to_vec();
    let params = toml::from_str(bugs).unwrap_or_else(|e| panic!("{e}"));
    let suite = TicketSuite::new(&info, params, Default::default(), Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cluster = Cluster::new(suite, SimConfig::new(seed, 4), Trace::default());
    cluster.start();
    cluster
}

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

/// Recovery reads a majority: with two of three replicas cut off, a restarted sequencer stays
/// unavailable rather than guess, and recovers once they are back.
#[test]
fn a_restarted_sequencer_recovers_only_from_a_majority_of_replicas() {
    let mut cluster = cluster(1, "");
    assert!(cluster.run_until(secs(1)));
    let sequencer = NodeId(0);
    cluster.crash(sequencer);
    cluster.split(&[vec![NodeId(0), NodeId(1)], vec![NodeId(2), NodeId(3)]]);
    cluster.restart(sequencer);
    let recovered = cluster.run_until_event(secs(3), |_, _, events| {
        events
            .iter()
            .any(|e| matches!(e, TicketEvent::Recovered { .. }))
    });
    assert_eq!(recovered, None, "recovered from a minority");
    assert!(cluster.nodes_with_role("serving").is_empty());
    cluster.heal();
    let recovered = cluster.run_until_event(secs(5), |_, _, events| {
        events
            .iter()
            .any(|e| matches!(e, TicketEvent::Recovered { .. }))
    });
    assert_eq!(recovered, Some(sequencer));
    assert!(cluster.run_until(secs(6)));
    let finished = cluster.finish();
    assert!(finished.passed(), "{:?}", finished.failure());
}

#[test]
fn the_declaration_names_every_check_the_family_runs() {
    let declared = TicketSuite::declaration();
    let suite_checks: Vec<String> = cluster(0, "")
        .finish()
        .checks
        .into_iter()
        .map(|c| c.name)
        .collect();
    for name in &suite_checks {
        assert!(declared.checks.contains(&name.as_str()), "{name}");
    }
    assert_ne!(declared, Declaration::default());
}
