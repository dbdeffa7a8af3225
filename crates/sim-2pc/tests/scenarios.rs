//! The family's shipped scenarios run through the real runner: the blocking scenario shows the
//! participants in doubt for as long as the coordinator is down, each planted bug is caught by
//! its check, and the Saga side of the comparison blocks nothing but lets audits see money in
//! flight.

use sim_2pc::TxnSuite;
use sim_core::{Declaration, Suite};
use sim_runner::test_support;
use sim_runner::{Families, RunOptions, RunReport};
use sim_scenario::Scenario;

fn run(file: &str, seed: u64) -> RunReport {
    run_text(file, seed, |text| text)
}

/// Runs `file` with its text edited by `edit` first.
fn run_text(file: &str, seed: u64, edit: impl FnOnce(String) -> String) -> RunReport {
    let file = format!("2pc/{file}");
    let scenario = test_support::parse(&file, &edit(test_support::text(&file)));
    Families::new()
        .with::<TxnSuite>()
        .run(&scenario, RunOptions::new(seed))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn figure(report: &RunReport, name: &str) -> u64 {
    let found = report.figures.iter().find(|(n, _)| n == name);
    found.unwrap_or_else(|| panic!("no figure {name}")).1
}

/// The coordinator crashes between logging COMMIT and sending it and is down 3s: the
/// participants of that transaction stay in doubt about that long, and every check holds.
#[test]
fn participants_block_while_the_coordinator_is_down() {
    let report = run("blocking.toml", 0);
    assert!(report.passed(), "{:?}", report.failure());
    let longest = figure(&report, "blocked.longest_ms");
    assert!(
        (2_900..4_000).contains(&longest),
        "longest in doubt {longest}ms"
    );
    assert!(figure(&report, "blocked.lock_waits") > 0);
}

/// Each planted bug is caught by the check its scenario names, within its seed budget.
#[test]
fn every_planted_bug_is_caught_by_its_check() {
    let bugs = [
        ("commit_not_forced", "2pc.atomicity"),
        ("ack_before_sync", "2pc.atomicity"),
        ("prepare_not_forced", "2pc.durability"),
        ("early_lock_release", "2pc.conservation"),
        ("abort_after_yes", "2pc.atomicity"),
        ("abort_keeps_locks", "2pc.converged"),
    ];
    for (bug, check) in bugs {
        let file = format!("bugs/{bug}.toml");
        let caught = (0..5).find(|&seed| {
            let report = run(&file, seed);
            report.checks.iter().any(|c| c.name == check && !c.passed())
        });
        let seed = caught.unwrap_or_else(|| panic!("{bug} not caught by {check} within 5 seeds"));
        // The same seed and faults pass with the bug switched off.
        let fixed = run_text(&file, seed, |text| {
            let text = text.replace(&format!("bugs = [\"{bug}\"]"), "");
            text[..text.find("[expect]").expect("an [expect] table")].to_string()
        });
        assert!(
            fixed.passed(),
            "{bug} off, seed {seed}: {:?}",
            fixed.failure()
        );
    }
}

/// The same transfers and faults: 2PC audits always see the constant total and participants
/// spend time in doubt; the Saga blocks nothing and some of its audits see money in flight.
#[test]
fn the_saga_does_not_block_but_its_audits_see_money_in_flight() {
    let two_pc = run("compare-2pc.toml", 0);
    let saga = run("compare-saga.toml", 0);
    assert!(two_pc.passed(), "{:?}", two_pc.failure());
    assert!(saga.passed(), "{:?}", saga.failure());
    assert!(figure(&two_pc, "audits.ok") > 0);
    assert_eq!(figure(&two_pc, "audits.wrong_total"), 0);
    assert!(figure(&two_pc, "blocked.total_ms") > 0);
    assert!(figure(&saga, "audits.wrong_total") > 0);
    assert_eq!(figure(&saga, "blocked.total_ms"), 0);
}

/// A scenario may name exactly what the family runs and reports.
#[test]
fn the_declaration_names_every_check_the_family_runs() {
    let declared = TxnSuite::declaration();
    let report = run("lossy.toml", 0);
    for check in &report.checks {
        assert!(
            declared.checks.contains(&check.name.as_str()),
            "{}",
            check.name
        );
    }
    assert!(declared
        .nemesis_roles
        .iter()
        .all(|r| declared.roles.contains(r)));
    assert_ne!(declared, Declaration::default());
}

/// Settings that cannot take effect are errors naming their field.
#[test]
fn bad_parameters_are_errors_at_their_field() {
    let cases = [
        ("accounts = 12", "accounts = 5", "protocol.accounts"),
        (
            "mode = \"saga\"",
            "mode = \"saga\"\nbugs = [\"commit_not_forced\"]",
            "protocol.bugs",
        ),
        (
            "max_balance = 160",
            "max_balance = 50",
            "protocol.max_balance",
        ),
        (
            "audit_ratio = 0.2",
            "audit_ratio = 1.5",
            "workload.audit_ratio",
        ),
    ];
    for (from, to, field) in cases {
        let path = format!(
            "{}/../../scenarios/2pc/compare-saga.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("the shipped scenario");
        assert!(text.contains(from), "{from}");
        let scenario = Scenario::parse(&path, &text.replace(from, to));
        let error = match scenario {
            Err(e) => e.to_string(),
            Ok(s) => match Families::new()
                .with::<TxnSuite>()
                .run(&s, RunOptions::new(0))
            {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{to} was accepted"),
            },
        };
        assert!(error.contains(field), "{to}: {error}");
    }
}

/// The blocking scenario, its bound on `2pc.converged` made `within`: the report of that check.
fn converged(seed: u64, edit: impl FnOnce(String) -> String) -> sim_core::CheckReport {
    let report = run_text("blocking.toml", seed, edit);
    let found = report.checks.iter().find(|c| c.name == "2pc.converged");
    found.unwrap_or_else(|| panic!("no 2pc.converged")).clone()
}

/// After the heal every transaction begun by then is settled at every node within the bound;
/// a bound of a nanosecond is missed and the violation names the unsettled transactions and
/// nodes; without a quiet phase the check is not evaluated.
#[test]
fn transactions_settle_after_the_heal_and_a_bound_too_short_fails_2pc_converged() {
    let held = converged(0, |text| text);
    assert!(held.held(), "{held:?}");
    let strict = converged(0, |text| {
        format!("{text}\n[checks]\nconverge_within = \"1ns\"\n")
    });
    let message = strict
        .violation
        .map(|v| v.message)
        .unwrap_or_else(|| panic!("a bound of 1ns held"));
    assert!(
        message.contains("were not all settled at every live node within 1ns"),
        "{message}"
    );
    let quiet = converged(0, |text| text.replace("quiet = \"5s\"", "quiet = \"0s\""));
    assert!(
        quiet.not_evaluated.is_some() && quiet.violation.is_none(),
        "{quiet:?}"
    );
}

/// The swarm scenario's first seeds pass every check, each with its own sampled member (its
/// campaigns run in CI, in release).
#[test]
fn the_swarm_scenario_passes_its_first_seeds() {
    for seed in 0..3 {
        let report = run("swarm.toml", seed);
        assert!(report.passed(), "seed {seed}: {:?}", report.failure());
        assert!(!report.parameters.is_empty(), "the seed sampled its member");
    }
}
