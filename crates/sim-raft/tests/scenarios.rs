//! The shipped Raft scenario files, run through the real runner (`sim_runner::run_suite`) over a
//! few seeds each: every non-bug scenario passes, every planted bug is caught in its exposing
//! scenario by the check and within the budget its `[expect]` table states, and the same seed
//! passes with the bug removed.
//! The hundreds-of-seeds sweeps are `sim fuzz` campaigns, in release mode.

use sim_raft::RaftSuite;
use sim_runner::test_support::{self, load};
use sim_runner::RunReport;
use sim_scenario::Scenario;

fn run(scenario: &Scenario, seed: u64) -> RunReport {
    test_support::run::<RaftSuite>(scenario, seed)
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
    test_support::assert_first_seeds_pass::<RaftSuite>(&SCENARIOS, 0..2);
}

/// Every bug in `sim_raft::Bug` has its exposing scenario.
#[test]
fn every_planted_bug_has_a_scenario() {
    let bugs = sim_raft::Bug::ALL.map(|b| b.name());
    test_support::assert_every_bug_has_a_scenario("raft/bugs", bugs, &BUGS);
}

#[test]
fn every_planted_bug_is_caught_within_its_budget_by_its_expected_check() {
    test_support::assert_every_bug_caught::<RaftSuite>(&BUGS);
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
