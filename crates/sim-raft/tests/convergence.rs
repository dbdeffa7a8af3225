//! Issue 15's checks through the real runner: after the heal the cluster converges within the
//! bound (a bound no cluster can meet fails, naming the leader, the term and the index), a run
//! without a quiet phase leaves the convergence checks `not evaluated`, and the swarm scenario's
//! first seeds pass with every check. On a real cluster, a follower whose state machine differs
//! from the leader's at the same applied index fails `raft.converged`, named with its index and
//! both digests.

use sim_core::{ClusterInfo, NodeId, SimConfig, SimDuration, SimTime, Suite, Trace};
use sim_raft::RaftSuite;
use sim_runner::{run_suite, Cluster, RunOptions, RunReport};
use sim_scenario::{Scenario, Section};

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

/// Three nodes under three clients writing 20 keys, snapshotting every 50 entries, with the
/// planted bug `restart_without_snapshot_state` on if asked; the suite built from the tables as
/// the runner builds it.
fn snapshotting_suite(bug: bool) -> RaftSuite {
    let bugs = if bug {
        "bugs = [\"restart_without_snapshot_state\"]"
    } else {
        ""
    };
    let text = format!(
        "duration = \"6s\"\nquiet = \"4s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"raft\"\n\
         snapshot_threshold = 50\n{bugs}\n[workload]\nclients = 3\nkeys = 20\n"
    );
    let s = Scenario::parse("restart.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let info = ClusterInfo::uniform(3, s.duration, s.quiet);
    let decoded = (
        s.decode(Section::Protocol),
        s.decode(Section::Workload),
        s.decode(Section::Checks),
    );
    let (Ok(params), Ok(workload), Ok(checks)) = decoded else {
        panic!("the tables decode: {decoded:?}");
    };
    RaftSuite::new(&info, params, workload, checks).unwrap_or_else(|e| panic!("{e}"))
}

fn at_secs(millis: u64) -> SimTime {
    SimTime(millis * 1_000_000)
}

/// The snapshotting cluster (with the planted bug if `bug`) run from its start to `at`, and its
/// one leader then.
fn started_with_a_leader(bug: bool, seed: u64, at: SimTime) -> (Cluster<RaftSuite>, NodeId) {
    let mut cluster = Cluster::new(
        snapshotting_suite(bug),
        SimConfig::new(seed, 3),
        Trace::default(),
    );
    cluster.start();
    cluster.run_until(at);
    let leader = cluster.nodes_with_role("leader");
    let [leader] = leader[..] else {
        panic!("expected one leader at {at}, found {leader:?}");
    };
    (cluster, leader)
}

/// A follower crashes at 5.5s, after the nodes took snapshots, restarts 300ms later, and the
/// quiet phase runs from 6s to 10s: the follower, the leader, when the quiet phase began (the
/// last event before 6s) and every check's report.
fn restart_a_follower(
    bug: bool,
    seed: u64,
) -> (NodeId, NodeId, SimTime, Vec<sim_core::CheckReport>) {
    let (mut cluster, leader) = started_with_a_leader(bug, seed, at_secs(5_500));
    let follower = (0..3).map(NodeId).find(|&n| n != leader);
    let follower = follower.unwrap_or_else(|| panic!("no follower"));
    let snapshots = cluster.sim().process(follower).map(|p| p.snapshots_taken());
    assert!(
        snapshots.is_some_and(|n| n > 0),
        "the follower took no snapshot"
    );
    cluster.crash(follower);
    cluster.run_for(SimDuration::from_millis(300));
    assert!(cluster.restart(follower), "the follower restarts");
    cluster.run_until(at_secs(6_000));
    let quiet = cluster.sim().now();
    cluster.quiet_phase();
    cluster.run_for(SimDuration::from_secs(4));
    (follower, leader, quiet, cluster.finish().checks)
}

/// The word after `label` in `message`.
fn after<'a>(message: &'a str, label: &str) -> &'a str {
    let rest = message.split(label).nth(1).unwrap_or_default();
    rest.split([' ', ',', ':']).next().unwrap_or_default()
}

/// Issue 15: `raft.converged`'s rule that nodes at the same applied index have identical state
/// machines, on a real cluster rather than on constructed states. With the planted bug, the
/// restarted follower resumes from its snapshot's index with an empty state machine: every
/// command it applies is the leader's (no log or apply check can tell), yet in the quiet phase,
/// at the leader's applied index, its state machine differs. The violation names both nodes, the
/// index and the two digests; the same seed without the bug converges with identical machines.
#[test]
fn a_restarted_follower_with_the_leaders_applied_index_but_another_state_machine_fails_converged() {
    let seed = 0;
    let (follower, leader, quiet, checks) = restart_a_follower(true, seed);
    let converged = checks.iter().find(|c| c.name == "raft.converged");
    let violation = converged.and_then(|c| c.violation.clone());
    let Some(violation) = violation else {
        panic!("raft.converged did not fail: {converged:?}");
    };
    let message = &violation.message;
    assert!(
        violation.time >= quiet,
        "judged in the quiet phase: {message}"
    );
    assert!(
        message.starts_with(&format!("{follower} and the leader {leader} (term ")),
        "{message}"
    );
    let index: u64 = after(message, "applied up to index ")
        .parse()
        .unwrap_or_else(|_| panic!("no index in: {message}"));
    assert!(index > 50, "past the follower's snapshot: {message}");
    let ours = after(message, &format!("{follower} has digest "));
    let theirs = after(message, &format!("{leader} has digest "));
    for digest in [ours, theirs] {
        assert!(
            digest.len() == 16 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{message}"
        );
    }
    assert_ne!(ours, theirs, "{message}");
    // The other checks see nothing: every command the follower applied is the leader's.
    for name in [
        "raft.state_machine_safety",
        "raft.log_matching",
        "kv.linearizable",
    ] {
        let c = checks.iter().find(|c| c.name == name);
        assert!(c.is_some_and(|c| c.held()), "{name}: {c:?}");
    }

    let (_, _, _, checks) = restart_a_follower(false, seed);
    for c in &checks {
        assert!(c.violation.is_none(), "without the bug: {c:?}");
    }
    let converged = checks.iter().find(|c| c.name == "raft.converged");
    assert!(
        converged.is_some_and(|c| c.held()
            && c.figures
                .iter()
                .any(|(_, v)| v.contains("state machines identical"))),
        "{converged:?}"
    );
}

/// `raft.leader_after_heal` with no leader by the end of the run: a run that ended before the
/// bound ran out could not judge it (`not evaluated`), one that outlasted the bound fails. A
/// majority is crashed just after the heal, so no leader can be elected.
#[test]
fn no_leader_after_the_heal_is_not_evaluated_before_the_bound_and_fails_after_it() {
    let verdict = |quiet_for: SimDuration| {
        let (mut cluster, leader) = started_with_a_leader(false, 1, at_secs(2_000));
        cluster.crash(leader);
        cluster.quiet_phase();
        for node in (0..3).map(NodeId).filter(|&n| n != leader).take(2) {
            cluster.crash(node);
        }
        cluster.run_for(quiet_for);
        let checks = cluster.finish().checks;
        let found = checks
            .into_iter()
            .find(|c| c.name == "raft.leader_after_heal");
        found.unwrap_or_else(|| panic!("no raft.leader_after_heal"))
    };
    // The default bound is 5s.
    let early = verdict(SimDuration::from_secs(1));
    assert!(
        early.violation.is_none()
            && early
                .not_evaluated
                .as_deref()
                .is_some_and(|why| why.contains("before the bound of 5s")),
        "{early:?}"
    );
    let late = verdict(SimDuration::from_secs(6));
    let message = late
        .violation
        .as_ref()
        .map(|v| v.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("no leader that a majority followed"),
        "{late:?}"
    );
}

/// A follower down through the fault phase restarts at the heal far behind, and with one entry
/// per append under steady load it cannot catch up before the run ends: `raft.converged` fails,
/// naming the node, its commit and applied index, and the index it had to reach.
#[test]
fn a_follower_that_never_catches_up_is_named_with_its_indices() {
    let text = r#"
duration = "5s"
quiet = "300ms"
[cluster]
nodes = 3
[protocol]
name = "raft"
max_entries_per_append = 1
[workload]
clients = 4
[checks]
converge_within = "200ms"
[[faults]]
at = "500ms"
kind = "crash"
node = "role:follower"
"#;
    let report = run(text, 1);
    assert_eq!(report.failed_check().as_deref(), Some("raft.converged"));
    let message = report.failure().unwrap_or_default();
    let behind = after(&message, "but ");
    assert!(behind.starts_with('n'), "{message}");
    assert!(
        message.contains(&format!("{behind} (commit index ")),
        "{message}"
    );
    let target: u64 = after(&message, "commit index of then, ")
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {message}"));
    let applied: u64 = after(&message, "applied ")
        .trim_end_matches(')')
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {message}"));
    assert!(applied < target, "{message}");
}
