//! What every protocol family's scenario tests need (cargo feature `test-support`): the shipped
//! scenario files by their path under `scenarios/`, loaded as written or with their planted bugs
//! switched off, run through the real runner with a family's [`Suite`], and the two assertions
//! each family makes of them: its first seeds pass, and every planted bug is caught within the
//! budget its `[expect]` table states, by the check it names, while the same seed passes with
//! the bug removed.
//!
//! A family uses it as a dev-dependency: `sim-runner = { workspace = true, features =
//! ["test-support"] }`. It reads files, so it is no part of the runner proper.

use std::ops::Range;

use sim_core::Suite;
use sim_scenario::Scenario;

use crate::{run_suite, RunOptions, RunReport};

/// The text of `file`, a path under the workspace's `scenarios/` (`raft/leader-crash.toml`).
pub fn text(file: &str) -> String {
    let path = format!("{}/../../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `text` parsed as the file `scenarios/{file}`.
pub fn parse(file: &str, text: &str) -> Scenario {
    Scenario::parse(&format!("scenarios/{file}"), text).unwrap_or_else(|e| panic!("{e}"))
}

/// The shipped scenario `file`, as written.
pub fn load(file: &str) -> Scenario {
    parse(file, &text(file))
}

/// The shipped scenario `file` with its `bugs = [...]` line removed.
pub fn load_without_bugs(file: &str) -> Scenario {
    let text: String = text(file)
        .lines()
        .filter(|l| !l.starts_with("bugs = "))
        .map(|l| format!("{l}\n"))
        .collect();
    parse(file, &text)
}

/// `scenario`'s run with `seed`, by the family `S`.
pub fn run<S: Suite>(scenario: &Scenario, seed: u64) -> RunReport {
    run_suite::<S>(scenario, RunOptions::new(seed)).unwrap_or_else(|e| panic!("{e}"))
}

/// The first seed below `budget` whose run fails `check` first, and its report.
pub fn first_failure<S: Suite>(
    scenario: &Scenario,
    budget: u64,
    check: &str,
) -> Option<(u64, RunReport)> {
    (0..budget)
        .map(|seed| (seed, run::<S>(scenario, seed)))
        .find(|(_, r)| r.failed_check().as_deref() == Some(check))
}

/// Every seed of `seeds` passes every check of every one of `files` (scenarios that expect no
/// failure).
pub fn assert_first_seeds_pass<S: Suite>(files: &[&str], seeds: Range<u64>) {
    for file in files {
        let scenario = load(file);
        assert!(scenario.expect.is_none(), "{file} expects a failure");
        for seed in seeds.clone() {
            let report = run::<S>(&scenario, seed);
            assert!(
                report.passed(),
                "{file} seed {seed}: {:?}",
                report.failure()
            );
        }
    }
}

/// Every bug of `bugs` (their names) has its exposing scenario `{dir}/{name}.toml` in `files`.
pub fn assert_every_bug_has_a_scenario<'a>(
    dir: &str,
    bugs: impl IntoIterator<Item = &'a str>,
    files: &[&str],
) {
    for bug in bugs {
        let file = format!("{dir}/{bug}.toml");
        assert!(files.contains(&file.as_str()), "no scenario {file}");
    }
}

/// Every planted-bug scenario of `files` fails the check its `[expect]` table names (first of
/// all) on some seed within its budget, and that seed passes with the bug removed: the catch is
/// the bug's doing.
pub fn assert_every_bug_caught<S: Suite>(files: &[&str]) {
    for file in files {
        let scenario = load(file);
        let expect = scenario
            .expect
            .clone()
            .unwrap_or_else(|| panic!("{file}: a planted-bug scenario states [expect]"));
        let caught = first_failure::<S>(&scenario, expect.within_seeds, &expect.fails);
        let Some((seed, _)) = caught else {
            panic!(
                "{file}: {} did not fail within {} seeds",
                expect.fails, expect.within_seeds
            );
        };
        let clean = run::<S>(&load_without_bugs(file), seed);
        assert!(
            clean.passed(),
            "{file} seed {seed} without the bug: {:?}",
            clean.failure()
        );
    }
}
