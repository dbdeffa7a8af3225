//! The shipped Raft scenario files, run through the real runner (`sim_runner::run_suite`) over a
//! few seeds each: every non-bug scenario passes, every planted bug is caught in its exposing
//! scenario within the budget its file states, and the same scenarios pass with the bug removed.
//! The hundreds-of-seeds sweeps are `sim fuzz` campaigns, in release mode.

use sim_raft::RaftSuite;
use sim_runner::{run_suite, RunOptions, RunReport};
use sim_scenario::Scenario;

fn load(file: &str) -> Scenario {
    let path = format!("{}/../../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Scenario::parse(&format!("scenarios/{file}"), &text).unwrap_or_else(|e| panic!("{e}"))
}

/// `file` with its `bugs = [...]` line removed.
fn load_without_bugs(file: &str) -> Scenario {
    let path = format!("{}/../../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("bugs = "))
        .map(|l| format!("{l}\n"))
        .collect();
    Scenario::parse(&format!("scenarios/{file}"), &text).unwrap_or_else(|e| panic!("{e}"))
}

fn run(scenario: &Scenario, seed: u64) -> RunReport {
    run_suite::<RaftSuite>(scenario, RunOptions::new(seed)).unwrap_or_else(|e| panic!("{e}"))
}

const SCENARIOS: [&str; 7] = [
    "partition.toml",
    "raft/leader-crash.toml",
    "raft/figure8.toml",
    "raft/lossy.toml",
    "raft/churn.toml",
    "raft/pause-skew.toml",
    "raft/nemesis.toml",
];

/// Each bug's exposing scenario, the seed budget its file states, and the checks that may
/// catch it.
const BUGS: [(&str, u64, &[&str]); 6] = [
    (
        "raft/bugs/commit_previous_term_by_count.toml",
        30,
        &["raft.leader_completeness", "raft.state_machine_safety"],
    ),
    (
        "raft/bugs/vote_without_log_check.toml",
        5,
        &["raft.leader_completeness"],
    ),
    (
        "raft/bugs/forget_persist_vote.toml",
        10,
        &["raft.election_safety"],
    ),
    (
        "raft/bugs/apply_before_commit.toml",
        5,
        &["raft.state_machine_safety", "kv.linearizable"],
    ),
    (
        "raft/bugs/no_truncate_conflict.toml",
        5,
        &["raft.log_matching"],
    ),
    ("raft/bugs/ack_before_sync.toml", 5, &["raft.durability"]),
];

#[test]
fn every_raft_scenario_passes_its_first_seeds() {
    for file in SCENARIOS {
        let scenario = load(file);
        for seed in 0..2 {
            let report = run(&scenario, seed);
            assert!(
                report.passed(),
                "{file} seed {seed}: {:?}",
                report.failure()
            );
        }
    }
}

/// Returns the first failing seed below `budget` and its report.
fn first_failure(scenario: &Scenario, budget: u64) -> Option<(u64, RunReport)> {
    (0..budget)
        .map(|seed| (seed, run(scenario, seed)))
        .find(|(_, r)| !r.passed())
}

#[test]
fn every_planted_bug_is_caught_within_its_budget() {
    for (file, budget, checks) in BUGS {
        let scenario = load(file);
        let Some((seed, report)) = first_failure(&scenario, budget) else {
            panic!("{file}: not caught within {budget} seeds");
        };
        let check = report.failed_check().unwrap_or_default();
        assert!(
            checks.contains(&check.as_str()),
            "{file} seed {seed}: caught by {check}: {:?}",
            report.failure()
        );
        // The same seed passes with the bug removed: the catch is the bug's doing.
        let clean = run(&load_without_bugs(file), seed);
        assert!(
            clean.passed(),
            "{file} seed {seed} without the bug: {:?}",
            clean.failure()
        );
    }
}

/// raft-pause-skew seeds 7 and 23 once hit the event limit: with a drifting clock the election
/// timer re-armed itself for a remainder that rounded to no time at all, forever.
#[test]
fn issue_pause_skew_seeds_7_and_23_election_timer_livelock_under_drift() {
    let scenario = load("raft/pause-skew.toml");
    for seed in [7, 23] {
        let report = run(&scenario, seed);
        assert!(!report.limit_reached, "seed {seed} hit the event limit");
        assert!(report.passed(), "seed {seed}: {:?}", report.failure());
    }
}

#[test]
fn the_summary_tells_what_happened() {
    let report = run(&load("partition.toml"), 1);
    let keys: Vec<&str> = report.summary.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "leaders",
        "elections",
        "operations",
        "latency",
        "availability during faults",
        "commit index",
        "snapshots",
    ] {
        assert!(keys.contains(&key), "no {key:?} line in {keys:?}");
    }
    let leaders = &report
        .summary
        .iter()
        .find(|(k, _)| k == "leaders")
        .unwrap()
        .1;
    assert!(leaders.starts_with("term 1: n"), "{leaders}");
    assert!(
        leaders.contains(", term "),
        "the partition should bring a second leader: {leaders}"
    );
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let scenario = load("raft/nemesis.toml");
    assert_eq!(run(&scenario, 5).trace_hash, run(&scenario, 5).trace_hash);
}
