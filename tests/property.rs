//! Property tests over generated scenarios: for each protocol, a random cluster size, network and
//! fault schedule (`sim_scenario::strategies`), and every check must hold. A failing case shrinks
//! by removing faults and is printed as a scenario file with its seed, ready for `sim run`.
//! `PROPTEST_CASES` sets the number of cases (default 8, to keep the suite fast).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sim_core::SimDuration;
use sim_runner::RunOptions;
use sim_scenario::strategies::{scenarios, Family};
use sim_scenario::{emit, NemesisKind, Scenario};

use crate::support::root;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(8)
}

/// A shipped scenario as the base of a family: its protocol, workload and checks.
fn base(file: &str, duration: SimDuration) -> Scenario {
    let text = std::fs::read_to_string(root().join(file)).expect("a shipped scenario");
    let mut s = Scenario::parse(file, &text).expect("it parses");
    s.duration = duration;
    s.faults.clear();
    s.nemesis = None;
    // A shipped file's accuracy and trust bounds are tuned to its own schedule; generated faults
    // include pauses, which every detector suspects (a pause is silence), so they go.
    let checks = s.table_mut(sim_scenario::Section::Checks);
    checks.remove("max_false_suspicions");
    checks.remove("trust_within");
    emit::reparse(&s).expect("still valid")
}

/// Runs generated scenarios of `family`, each with a generated seed; every check must hold.
fn every_check_holds(family: Family) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&(scenarios(family), 0u64..10_000), |(scenario, seed)| {
        let report = sim::families().run(&scenario, RunOptions::new(seed))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(
            report.passed(),
            "seed {seed}: {}\n{}\n--- the scenario (run it with: sim run FILE --seed {seed}) ---\n{}",
            report.failure().unwrap_or_default(),
            report.render_text(),
            emit::to_toml(&scenario, "")
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn failure_detectors_hold_every_check_under_generated_faults() {
    // The failure detectors declare no nemesis roles.
    let family = Family::new(
        base("scenarios/fd/partition.toml", SimDuration::from_secs(20)),
        &[],
    )
    .nodes(3..=6)
    .max_faults(6);
    every_check_holds(family);
}

#[test]
fn raft_holds_every_check_under_generated_faults() {
    let family = Family::new(
        base("scenarios/partition.toml", SimDuration::from_secs(15)),
        &["leader"],
    )
    .nodes(3..=5)
    .kinds(&[
        NemesisKind::Crash,
        NemesisKind::Pause,
        NemesisKind::Partition,
        NemesisKind::Clock,
        NemesisKind::Network,
    ])
    .max_faults(5);
    every_check_holds(family);
}
