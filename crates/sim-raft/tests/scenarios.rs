//! The shipped Raft scenario files, run through the real runner (`sim_runner::run_suite`) over a
//! few seeds each: every non-bug scenario passes, every planted bug is caught in its exposing
//! scenario by the check and within the budget its `[expect]` table states, and the same seed
//! passes with the bug removed.
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

const SCENARIOS: [&str; 8] = [
    "partition.toml",
    "raft/leader-crash.toml",
    "raft/figure8.toml",
    "raft/lossy.toml",
    "raft/churn.toml",
    "raft/pause-skew.toml",
    "raft/nemesis.toml",
    "raft/pinned-stale-leader.toml",
];

/// Each planted bug's exposing scenario; its `[expect]` table names the check and the budget.
const BUGS: [&str; 8] = [
    "raft/bugs/commit_previous_term_by_count.toml",
    "raft/bugs/vote_without_log_check.toml",
    "raft/bugs/forget_persist_vote.toml",
    "raft/bugs/apply_before_commit.toml",
    "raft/bugs/no_truncate_conflict.toml",
    "raft/bugs/ack_before_sync.toml",
    "raft/bugs/read_without_quorum.toml",
    "raft/bugs/restart_without_snapshot_state.toml",
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

/// The first seed below `budget` that fails `check`, and its report.
fn first_failure(scenario: &Scenario, budget: u64, check: &str) -> Option<(u64, RunReport)> {
    (0..budget)
        .map(|seed| (seed, run(scenario, seed)))
        .find(|(_, r)| r.failed_check().as_deref() == Some(check))
}

/// Every bug in `sim_raft::Bug` has its exposing scenario.
#[test]
fn every_planted_bug_has_a_scenario() {
    for bug in sim_raft::Bug::ALL {
        let file = format!("raft/bugs/{}.toml", bug.name());
        assert!(BUGS.contains(&file.as_str()), "no scenario {file}");
    }
}

#[test]
fn every_planted_bug_is_caught_within_its_budget_by_its_expected_check() {
    for file in BUGS {
        let scenario = load(file);
        let expect = scenario
            .expect
            .clone()
            .expect("a planted-bug scenario states [expect]");
        let caught = first_failure(&scenario, expect.within_seeds, &expect.fails);
        let Some((seed, _)) = caught else {
            panic!(
                "{file}: {} did not fail within {} seeds",
                expect.fails, expect.within_seeds
            );
        };
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
