//! Issue 15's checks through the real runner: after the heal the cluster converges within the
//! bound (a bound no cluster can meet fails, naming the leader, the term and the index), a run
//! without a quiet phase leaves the convergence checks `not evaluated`, and the swarm scenario's
//! first seeds pass with every check.

use sim_raft::RaftSuite;
use sim_runner::{run_suite, RunOptions, RunReport};
use sim_scenario::Scenario;

const CRASH: &str = r#"
duration = "5s"
quiet = "5s"
[cluster]
nodes = 3
[protocol]
name = "raft"
[workload]
clients = 2
[[faults]]
at = "2s"
kind = "crash"
node = "leader"
"#;

fn run(text: &str, seed: u64) -> RunReport {
    let scenario = Scenario::parse("convergence.toml", text).unwrap_or_else(|e| panic!("{e}"));
    run_suite::<RaftSuite>(&scenario, RunOptions::new(seed)).unwrap_or_else(|e| panic!("{e}"))
}

fn check<'a>(report: &'a RunReport, name: &str) -> &'a sim_core::CheckReport {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

/// The leader crashed in the fault phase restarts at the heal, behind: the cluster converges
/// once it caught up, within the default bound; a bound of a nanosecond is missed.
#[test]
fn a_restarted_leader_catches_up_within_the_bound_and_a_bound_too_short_fails() {
    let report = run(CRASH, 1);
    assert!(report.passed(), "{:?}", report.failure());
    for name in [
        "raft.converged",
        "raft.stable_leader",
        "raft.elections_bounded",
        "raft.commit_monotonic",
    ] {
        assert!(
            check(&report, name).held(),
            "{name}: {:?}",
            check(&report, name)
        );
    }
    let figures: Vec<&str> = report.figures.iter().map(|(n, _)| n.as_str()).collect();
    assert!(figures.contains(&"raft.elections"), "{figures:?}");
    let elections = report.figures.iter().find(|(n, _)| n == "raft.elections");
    assert!(elections.is_some_and(|(_, v)| *v >= 2), "{elections:?}");

    let strict = CRASH.replace(
        "clients = 2",
        "clients = 2\n[checks]\nconverge_within = \"1ns\"",
    );
    let report = run(&strict, 1);
    assert_eq!(report.failed_check().as_deref(), Some("raft.converged"));
    let message = report.failure().unwrap_or_default();
    assert!(message.contains("the bound is 1ns"), "{message}");
}

/// Without a quiet phase there is nothing to converge after: not evaluated, not passed.
#[test]
fn without_a_quiet_phase_convergence_is_not_evaluated() {
    let report = run(&CRASH.replace("quiet = \"5s\"", "quiet = \"0s\""), 1);
    for name in ["raft.converged", "raft.stable_leader"] {
        let c = check(&report, name);
        assert!(
            c.not_evaluated.is_some() && c.violation.is_none(),
            "{name}: {c:?}"
        );
    }
}

/// The swarm scenario's first seeds pass every check (its campaigns run in CI, in release).
#[test]
fn the_swarm_scenario_passes_its_first_seeds() {
    let path = format!(
        "{}/../../scenarios/raft/swarm.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for seed in 0..2 {
        let report = run(&text, seed);
        assert!(report.passed(), "seed {seed}: {:?}", report.failure());
        assert!(!report.parameters.is_empty(), "the seed sampled its member");
    }
}
