//! Running a scenario by its own `[expect]` table: `sim verify`.
//!
//! A scenario without the table must pass: every seed of the range asked for holds every check.
//! A scenario with `fails = "CHECK"` and `within_seeds = N` (a planted bug, or a design known to
//! be unsafe) must fail `CHECK` on at least one seed of `0..N`. Every seed of the range runs (on
//! the campaign's worker threads), and the verdict names the first seed in seed order, so it does
//! not depend on `--jobs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use sim_scenario::{Scenario, ScenarioError};

use crate::campaign::{self, CampaignPlan, SeedLine, SeedOptions, SeedSpace};
use crate::family::Families;
use crate::record::Provenance;

/// What a scenario expects of its seeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Every seed in `0..seeds` passes.
    Pass { seeds: u64 },
    /// Some seed in `0..within_seeds` fails `check`.
    Fail { check: String, within_seeds: u64 },
}

impl Expectation {
    /// What `scenario`'s `[expect]` table says; `pass_seeds` for a scenario without one.
    pub fn of(scenario: &Scenario, pass_seeds: u64) -> Expectation {
        match &scenario.expect {
            Some(expect) => Expectation::Fail {
                check: expect.fails.clone(),
                within_seeds: expect.within_seeds,
            },
            None => Expectation::Pass { seeds: pass_seeds },
        }
    }

    fn seeds(&self) -> u64 {
        match self {
            Expectation::Pass { seeds } => *seeds,
            Expectation::Fail { within_seeds, .. } => *within_seeds,
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Pass { seeds } => write!(f, "pass every seed of 0..{seeds}"),
            Expectation::Fail {
                check,
                within_seeds,
            } => write!(f, "fail {check} within seeds 0..{within_seeds}"),
        }
    }
}

/// Whether a scenario did what it expects, and in words what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub expectation: Expectation,
    pub met: bool,
    /// What happened: the first failing seed and its message, or how many seeds passed.
    pub detail: String,
}

/// Runs `scenario`'s seeds by its `[expect]` table (`pass_seeds` seeds when it has none).
pub fn verify(
    families: &Families,
    scenario: &Scenario,
    pass_seeds: u64,
    jobs: usize,
    sim: Provenance,
) -> Result<Verdict, ScenarioError> {
    families.validate(scenario)?;
    let expectation = Expectation::of(scenario, pass_seeds);
    let lines = run_seeds(families, scenario, expectation.seeds(), jobs, sim)?;
    let failures: Vec<&SeedLine> = lines.values().filter(|l| !l.passed).collect();
    let verdict = match &expectation {
        Expectation::Pass { seeds } => match failures.first() {
            None => Verdict {
                expectation: expectation.clone(),
                met: true,
                detail: format!("all {seeds} seeds passed"),
            },
            Some(first) => Verdict {
                expectation: expectation.clone(),
                met: false,
                detail: format!(
                    "seed {} failed ({} of {seeds} seeds failed): {}",
                    first.seed,
                    failures.len(),
                    first_line(first)
                ),
            },
        },
        Expectation::Fail {
            check,
            within_seeds,
        } => fail_verdict(&expectation, check, *within_seeds, &failures),
    };
    Ok(verdict)
}

fn fail_verdict(
    expectation: &Expectation,
    check: &str,
    within_seeds: u64,
    failures: &[&SeedLine],
) -> Verdict {
    let caught: Vec<&&SeedLine> = failures
        .iter()
        .filter(|l| l.check.as_deref() == Some(check))
        .collect();
    if let Some(first) = caught.first() {
        return Verdict {
            expectation: expectation.clone(),
            met: true,
            detail: format!(
                "failed {check} on {} of {within_seeds} seeds, first seed {}",
                caught.len(),
                first.seed
            ),
        };
    }
    let others: BTreeSet<&str> = failures.iter().filter_map(|l| l.check.as_deref()).collect();
    let others = if others.is_empty() {
        String::new()
    } else {
        format!(
            " (other failures: {})",
            others.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    Verdict {
        expectation: expectation.clone(),
        met: false,
        detail: format!("{check} never failed in seeds 0..{within_seeds}{others}"),
    }
}

/// The first line of a seed's failure message.
fn first_line(line: &SeedLine) -> String {
    let message = line.message.as_deref().unwrap_or("");
    message.lines().next().unwrap_or("").to_string()
}

/// Every seed of `0..seeds`, on `jobs` workers, by seed.
fn run_seeds(
    families: &Families,
    scenario: &Scenario,
    seeds: u64,
    jobs: usize,
    sim: Provenance,
) -> Result<BTreeMap<u64, SeedLine>, ScenarioError> {
    let seed_options = SeedOptions {
        families: families.clone(),
        duration: None,
        sim,
        recheck_one_in: 0,
    };
    let plan = CampaignPlan::new(SeedSpace::range(0, seeds), jobs, seed_options);
    let running = campaign::spawn(Arc::new(scenario.clone()), plan);
    let mut lines = BTreeMap::new();
    let mut error = None;
    for result in running.results.iter() {
        match result {
            Ok(outcome) => {
                lines.insert(outcome.line.seed, outcome.line);
            }
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    running.join();
    match error {
        Some(e) => Err(e),
        None => Ok(lines),
    }
}
