//! Determinism measured by a campaign: a sample of the passing seeds (one in N, `sim fuzz
//! --recheck N`) runs a second time, and a different trace hash is a determinism bug, reported
//! with both hashes, where the two runs part, and the command that reproduces it.
//!
//! A failing seed is always run twice ([`crate::campaign::run_seed`]); this extends the check to
//! the seeds that pass, which are most of a long campaign's, at a cost of 1/N more work.
//! Which seeds are sampled depends on the seed alone (a mix of its bits, not `seed % N`), so a
//! campaign split into shards samples the same seeds as one run whole, whatever the shard count.

use std::fmt::Write as _;

use sim_scenario::{Scenario, ScenarioError};

use crate::campaign::{Determinism, SeedLine, SeedOptions, Summary};
use crate::driver::RunOptions;
use crate::replay::{first_difference, first_differing_event};
use crate::report::RunReport;

/// The largest sampling ratio accepted: one in a million passing seeds.
pub const ONE_IN_MAX: u64 = 1_000_000;

/// Whether `seed` is among the one in `one_in` passing seeds run twice (never when `one_in` is
/// 0, always when it is 1).
pub fn sampled(seed: u64, one_in: u64) -> bool {
    one_in != 0 && mix(seed).is_multiple_of(one_in)
}

/// SplitMix64's finaliser: neighbouring seeds land far apart, so the sample is spread evenly
/// over any shard of any seed range.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn options(seed: u64, o: &SeedOptions) -> RunOptions {
    let mut options = RunOptions::new(seed);
    options.duration = o.duration;
    options
}

/// Runs `seed` again and compares it with its first run, `first`: `None` when both hashed the
/// same, else the determinism bug with both hashes and where the runs part.
pub fn run_again(
    scenario: &Scenario,
    seed: u64,
    seed_options: &SeedOptions,
    first: &RunReport,
) -> Result<Option<Determinism>, ScenarioError> {
    let families = &seed_options.families;
    let again = families.run(scenario, options(seed, seed_options))?;
    let Some(divergence) = first_difference(
        &first.trace_checkpoints,
        (first.trace_events, first.trace_hash),
        &again.trace_checkpoints,
        (again.trace_events, again.trace_hash),
    ) else {
        return Ok(None);
    };
    let mut difference = divergence.to_string();
    let a = (scenario, options(seed, seed_options));
    let b = (scenario, options(seed, seed_options));
    if let Ok(Some((event, x, y))) = first_differing_event(families, a, b, &divergence) {
        let _ = write!(
            difference,
            "; on a third and fourth run, event {event} was {} in one and {} in the other",
            x.as_deref().unwrap_or("(the end)"),
            y.as_deref().unwrap_or("(the end)")
        );
    }
    Ok(Some(Determinism {
        first_hash: first.trace_hash_hex(),
        second_hash: again.trace_hash_hex(),
        difference,
        rechecked: true,
    }))
}

/// Runs a passing seed's `line` a second time when it is among the sample: a different hash
/// makes it a failure, a determinism bug.
pub(crate) fn if_sampled(
    line: &mut SeedLine,
    scenario: &Scenario,
    seed_options: &SeedOptions,
    first: &RunReport,
) -> Result<(), ScenarioError> {
    if sampled(line.seed, seed_options.recheck_one_in) {
        line.rechecked = true;
        line.determinism = run_again(scenario, line.seed, seed_options, first)?;
        line.passed = line.determinism.is_none();
    }
    Ok(())
}

/// The summary's lines about determinism: how many passing seeds ran twice, and each
/// determinism bug with both hashes and the command that reproduces it.
pub fn render(summary: &Summary, w: &mut String) {
    if summary.rechecked > 0 || summary.recheck_one_in > 0 {
        let _ = writeln!(
            w,
            "determinism {} passing seeds run twice (one in {}), {} hashed differently",
            summary.rechecked,
            summary.recheck_one_in,
            summary
                .determinism_bugs
                .iter()
                .filter(|d| d.determinism.rechecked)
                .count()
        );
    }
    let program = crate::program_name();
    for d in &summary.determinism_bugs {
        let _ = writeln!(
            w,
            "DETERMINISM BUG seed {}: hashed {} then {}; {}",
            d.seed, d.determinism.first_hash, d.determinism.second_hash, d.determinism.difference
        );
        let mut run = format!("{program} run {} --seed {}", summary.scenario_file, d.seed);
        if let Some(duration) = summary.duration {
            let _ = write!(run, " --duration {duration}");
        }
        let _ = writeln!(
            w,
            "    reproduce  run it twice and compare the trace hashes: {run}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use sim_core::{ClusterInfo, NodeId, SimDuration, Suite, SuiteError, Workload};

    use super::*;
    use crate::bench::{Beat, BeatParams, Nothing};
    use crate::campaign::run_seed;
    use crate::record::Provenance;
    use crate::Families;

    /// How many times a [`Flaky`] suite was built: state outside the seed, the determinism bug
    /// the recheck exists to catch.
    static BUILT: AtomicU64 = AtomicU64::new(0);

    /// The heartbeat suite, but each build beats at a different interval.
    struct Flaky(SimDuration);

    impl Suite for Flaky {
        type P = Beat;
        type Params = BeatParams;
        type WorkloadParams = Nothing;
        type CheckParams = Nothing;
        const NAME: &'static str = "flaky";
        fn declaration() -> sim_core::Declaration {
            sim_core::Declaration::default()
        }
        fn new(_: &ClusterInfo, p: BeatParams, _: Nothing, _: Nothing) -> Result<Self, SuiteError> {
            let n = BUILT.fetch_add(1, Ordering::SeqCst);
            Ok(Flaky(p.interval + SimDuration::from_millis(n % 7)))
        }
        fn process(&self, _node: NodeId) -> Beat {
            Beat::new(self.0)
        }
        fn workload(&self) -> Option<Box<dyn Workload<Beat>>> {
            None
        }
        fn checks(&self) -> Vec<Box<dyn sim_core::Check<Beat>>> {
            Vec::new()
        }
    }

    fn seed_options(families: Families, recheck_one_in: u64) -> SeedOptions {
        SeedOptions {
            families,
            duration: None,
            sim: Provenance {
                version: "test".into(),
                commit: "test".into(),
            },
            recheck_one_in,
        }
    }

    const TEXT: &str = "duration = \"1s\"\nquiet = \"1s\"\n[cluster]\nnodes = 3\n\
                        [protocol]\nname = \"NAME\"\ninterval = \"100ms\"\n";

    #[test]
    fn a_sampled_passing_seed_that_hashes_differently_is_a_determinism_failure() {
        let scenario = Scenario::parse("flaky.toml", &TEXT.replace("NAME", "flaky")).unwrap();
        let families = Families::new().with::<Flaky>();
        let outcome = run_seed(&scenario, 7, &seed_options(families.clone(), 1)).unwrap();
        assert!(!outcome.line.passed, "a mismatch must fail the seed");
        assert!(outcome.line.rechecked);
        let bug = outcome.line.determinism.clone().expect("a determinism bug");
        assert!(bug.rechecked);
        assert_ne!(bug.first_hash, bug.second_hash);
        let mut summary = Summary::new(
            &scenario,
            crate::campaign::SeedSpace::range(7, 8),
            None,
            seed_options(families.clone(), 1).sim,
        );
        summary.recheck_one_in = 1;
        summary.add(&[(7, outcome.line)].into_iter().collect());
        let mut text = String::new();
        render(&summary, &mut text);
        assert!(
            text.contains("1 passing seeds run twice (one in 1), 1 hashed differently"),
            "{text}"
        );
        assert!(
            text.contains(&bug.first_hash) && text.contains(&bug.second_hash),
            "{text}"
        );
        assert!(text.contains("run flaky.toml --seed 7"), "{text}");
        // Unsampled, the same seed passes: the recheck is what caught it.
        let unsampled = run_seed(&scenario, 7, &seed_options(families, 0)).unwrap();
        assert!(unsampled.line.passed && !unsampled.line.rechecked);
    }

    #[test]
    fn a_deterministic_suite_passes_its_recheck() {
        let scenario = Scenario::parse("beat.toml", &TEXT.replace("NAME", "beat")).unwrap();
        let families = Families::new().with::<crate::bench::BeatSuite>();
        let outcome = run_seed(&scenario, 3, &seed_options(families, 1)).unwrap();
        assert!(outcome.line.passed && outcome.line.rechecked);
        assert_eq!(outcome.line.determinism, None);
    }

    #[test]
    fn the_sample_is_about_one_in_n_in_every_shard_and_none_when_off() {
        for one_in in [2u64, 16, 100] {
            let count = (0..100_000).filter(|&s| sampled(s, one_in)).count() as f64;
            let expected = 100_000.0 / one_in as f64;
            assert!(
                (count - expected).abs() < expected * 0.1,
                "one in {one_in}: {count} of 100000 sampled"
            );
            // A strided shard (every 16th seed) is sampled at the same rate.
            let shard = (0..100_000u64)
                .filter(|s| s % 16 == 3)
                .filter(|&s| sampled(s, one_in))
                .count() as f64;
            assert!((shard - expected / 16.0).abs() < expected / 16.0 * 0.25);
        }
        assert!((0..1000).all(|s| !sampled(s, 0)));
        assert!((0..1000).all(|s| sampled(s, 1)));
    }
}
