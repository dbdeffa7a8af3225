//! Fuzz campaigns: many seeds of one scenario, on many threads, with results that do not depend
//! on the threads.
//!
//! - [`SeedSpace`]: which seeds a campaign runs: a range (possibly open-ended, for a time
//!   budget), optionally one [`Shard`] of it, so that N machines can split the work.
//! - [`run_seed`]: one seed; a failure is run a second time and the trace hashes compared, so a
//!   failure that does not reproduce is reported as a determinism bug ([`Determinism`]).
//! - [`spawn`]: worker threads pull seed indices from an atomic counter, each building its own
//!   simulation, and send [`Outcome`]s back; the caller orders them by seed.
//! - [`SeedLine`]: the one-line journal entry of a finished seed; [`Summary`] folds them, renders
//!   the end-of-campaign text, and merges the summaries of shards.
//!
//! Threads and channels are used here, but no clock, file or environment: a time budget, the
//! progress display and the journal and record files are the CLI's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use sim_core::hash::StableHasher;
use sim_core::{CheckKind, SimDuration};
use sim_scenario::{Scenario, ScenarioError};

use crate::coverage::{self, FigureTally, Unjudged};
use crate::driver::RunOptions;
use crate::family::Families;
use crate::record::{FailureRecord, Provenance};

/// One of `count` disjoint slices of a seed space: seeds whose position in the space is
/// `index` modulo `count`. Strided rather than in blocks, so shards with a time budget cover the
/// same stretch of seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    /// `K/N` with `0 <= K < N`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected K/N such as 0/4, found {s:?}"))?;
        let index: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("expected a shard index, found {k:?}"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("expected a shard count, found {n:?}"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "expected K/N with 0 <= K < N (shards are numbered from 0), found {s}"
            ));
        }
        Ok(Shard { index, count })
    }
}

/// The seeds of a campaign: `start..end` (`end` open for a time budget), one shard of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedSpace {
    pub start: u64,
    /// Exclusive; `None` for a campaign bounded by time only.
    pub end: Option<u64>,
    pub shard: Shard,
}

impl SeedSpace {
    pub fn range(start: u64, end: u64) -> Self {
        SeedSpace {
            start,
            end: Some(end),
            shard: Shard::WHOLE,
        }
    }

    /// The `i`-th seed of this shard, `None` past its end.
    pub fn nth(&self, i: u64) -> Option<u64> {
        let offset = i
            .checked_mul(self.shard.count)?
            .checked_add(self.shard.index)?;
        let seed = self.start.checked_add(offset)?;
        match self.end {
            Some(end) if seed >= end => None,
            _ => Some(seed),
        }
    }

    /// Whether `seed` belongs to this shard of the space.
    pub fn contains(&self, seed: u64) -> bool {
        seed >= self.start
            && !matches!(self.end, Some(end) if seed >= end)
            && (seed - self.start) % self.shard.count == self.shard.index
    }

    /// How many seeds this shard holds, `None` when open-ended.
    pub fn len(&self) -> Option<u64> {
        let end = self.end?;
        let total = end.saturating_sub(self.start);
        Some(total / self.shard.count + u64::from(total % self.shard.count > self.shard.index))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

impl fmt::Display for SeedSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Some(end) => write!(f, "{}..{end}", self.start)?,
            None => write!(f, "{}..", self.start)?,
        }
        if self.shard != Shard::WHOLE {
            write!(f, " shard {}", self.shard)?;
        }
        Ok(())
    }
}

/// A failure that did not reproduce: the same seed ran twice and hashed differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determinism {
    pub first_hash: String,
    pub second_hash: String,
    /// Where the two runs part, in words, with the first differing event when it was found.
    pub difference: String,
    /// Whether the seed had passed and was run again as one of the sampled seeds
    /// (`--recheck`), rather than a failure that did not reproduce.
    #[serde(default)]
    pub rechecked: bool,
}

/// What one seed did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub line: SeedLine,
    /// The failure record, for a failing seed that reproduced.
    pub record: Option<FailureRecord>,
}

/// A finished seed, as the campaign journal keeps it (one JSON line per seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedLine {
    pub seed: u64,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub hash: String,
    pub events: u64,
    /// The sometimes (coverage) checks of the run and whether each was met.
    #[serde(default)]
    pub sometimes: Vec<(String, bool)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determinism: Option<Determinism>,
    /// Whether this passing seed was one of the sample run twice (`--recheck`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rechecked: bool,
    /// The run's figures (`Suite::figures`): coverage of the family's moments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<(String, u64)>,
    /// The checks that had nothing to judge (or gave up) in this run: neither held nor failed.
    /// Sometimes checks are left out: `sometimes` says whether each was met.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_evaluated: Vec<String>,
}

/// How every seed of a campaign runs.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// The families the scenario's protocol is looked up in.
    pub families: Families,
    pub duration: Option<SimDuration>,
    pub sim: Provenance,
    /// Run one in this many passing seeds a second time and compare hashes (0: none); see
    /// [`crate::recheck`].
    pub recheck_one_in: u64,
}

fn options(seed: u64, o: &SeedOptions) -> RunOptions {
    let mut options = RunOptions::new(seed);
    options.duration = o.duration;
    options
}

/// Runs one seed; a failure runs a second time, and a different hash is a determinism bug.
pub fn run_seed(
    scenario: &Scenario,
    seed: u64,
    seed_options: &SeedOptions,
) -> Result<Outcome, ScenarioError> {
    let report = seed_options
        .families
        .run(scenario, options(seed, seed_options))?;
    let mut line = SeedLine {
        seed,
        passed: report.passed(),
        check: report.failed_check(),
        message: report.failure(),
        hash: report.trace_hash_hex(),
        events: report.trace_events,
        sometimes: report
            .checks
            .iter()
            .filter(|c| c.kind == CheckKind::Sometimes)
            .map(|c| (c.name.clone(), c.held()))
            .collect(),
        determinism: None,
        rechecked: false,
        figures: report.figures.clone(),
        // Sometimes checks not met are `sometimes`' own business, counted above.
        not_evaluated: report
            .checks
            .iter()
            .filter(|c| c.not_evaluated.is_some() && c.kind != CheckKind::Sometimes)
            .map(|c| c.name.clone())
            .collect(),
    };
    if line.passed {
        crate::recheck::if_sampled(&mut line, scenario, seed_options, &report)?;
        return Ok(Outcome { line, record: None });
    }
    // A failure must reproduce: run again, and a different hash is a determinism bug.
    if let Some(bug) = crate::recheck::run_again(scenario, seed, seed_options, &report)? {
        line.determinism = Some(Determinism {
            rechecked: false,
            ..bug
        });
        return Ok(Outcome { line, record: None });
    }
    let record = FailureRecord::new(
        &seed_options.families,
        scenario,
        &report,
        seed_options.duration,
        seed_options.sim.clone(),
    )?;
    Ok(Outcome {
        line,
        record: Some(record),
    })
}

/// A running campaign: its workers, their results, and the flag that stops them.
pub struct Campaign {
    /// One message per finished seed, in completion order; closed when every worker is done.
    pub results: Receiver<Result<Outcome, ScenarioError>>,
    /// Set to stop: workers take no new seed, and finish the ones they are running.
    pub stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Campaign {
    /// Waits for every worker to finish.
    pub fn join(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// What to run, for [`spawn`].
#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub space: SeedSpace,
    /// Seeds already done (by an earlier, interrupted run of the campaign): skipped.
    pub done: BTreeSet<u64>,
    pub jobs: usize,
    /// Start at most this many seeds, then stop as if interrupted (for tests of `--resume`).
    pub stop_after: Option<u64>,
    /// Take no new seed once this many have failed (`--stop-after`). The workers count the
    /// failures themselves, so one job stops right after the first failing seed in seed order,
    /// and `jobs` jobs finish at most the `jobs - 1` other seeds they are running.
    pub stop_after_failures: Option<u64>,
    pub seed_options: SeedOptions,
}

impl CampaignPlan {
    /// Every seed of `space` on `jobs` workers (at least one), none done yet, no stop.
    pub fn new(space: SeedSpace, jobs: usize, seed_options: SeedOptions) -> Self {
        CampaignPlan {
            space,
            done: BTreeSet::new(),
            jobs: jobs.max(1),
            stop_after: None,
            stop_after_failures: None,
            seed_options,
        }
    }
}

/// Starts `plan.jobs` workers on `scenario`. Each pulls the next seed index from a shared
/// counter, so which worker runs a seed, and when, is left to timing; what each seed does is not.
pub fn spawn(scenario: Arc<Scenario>, plan: CampaignPlan) -> Campaign {
    let (sender, results) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let started = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let plan = Arc::new(plan);
    let workers = (0..plan.jobs.max(1))
        .map(|_| {
            let (scenario, plan, sender) =
                (Arc::clone(&scenario), Arc::clone(&plan), sender.clone());
            let (stop, next, started, failed) = (
                Arc::clone(&stop),
                Arc::clone(&next),
                Arc::clone(&started),
                Arc::clone(&failed),
            );
            std::thread::spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(seed) = plan.space.nth(index) else {
                    return;
                };
                if plan.done.contains(&seed) {
                    continue;
                }
                if let Some(limit) = plan.stop_after {
                    if started.fetch_add(1, Ordering::SeqCst) >= limit {
                        stop.store(true, Ordering::SeqCst);
                        return;
                    }
                }
                let result = run_seed(&scenario, seed, &plan.seed_options);
                let bad = result.is_err();
                if let (Ok(outcome), Some(limit)) = (&result, plan.stop_after_failures) {
                    if !outcome.line.passed && failed.fetch_add(1, Ordering::SeqCst) + 1 >= limit {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                if sender.send(result).is_err() || bad {
                    // The receiver is gone, or the scenario is bad for every seed.
                    stop.store(true, Ordering::SeqCst);
                    return;
                }
            })
        })
        .collect();
    Campaign {
        results,
        stop,
        workers,
    }
}

/// A stable hash of a scenario's text, to tell whether a resumed or merged campaign ran the same
/// file.
pub fn scenario_digest(text: &str) -> String {
    let mut h = StableHasher::new();
    h.write_bytes(text.as_bytes());
    format!("{:016x}", h.finish())
}

/// A failing seed in a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureEntry {
    pub seed: u64,
    pub check: String,
    pub message: String,
    pub hash: String,
}

/// A sometimes check across a campaign: in how many seeds it was met.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub met: u64,
    pub seeds: u64,
    /// The lowest seed that met it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_met: Option<u64>,
}

/// A determinism bug in a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeterminismEntry {
    pub seed: u64,
    #[serde(flatten)]
    pub determinism: Determinism,
}

/// A campaign's results: what `--summary FILE` writes and `sim fuzz-merge` merges. Everything
/// but `wall_seconds` and `jobs` is independent of the machine, the jobs and their timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub scenario_name: String,
    pub scenario_file: String,
    pub scenario_digest: String,
    pub sim: Provenance,
    pub duration: Option<SimDuration>,
    pub space: SeedSpace,
    /// The shards merged into this summary (just `space.shard` for one campaign).
    pub shards: Vec<Shard>,
    pub seeds_run: u64,
    pub seeds_passed: u64,
    /// Failing seeds that reproduced, in seed order.
    pub failures: Vec<FailureEntry>,
    pub determinism_bugs: Vec<DeterminismEntry>,
    /// Each sometimes check, by name.
    pub coverage: BTreeMap<String, Coverage>,
    /// Passing seeds run a second time to check determinism (`--recheck`), and the sampling
    /// ratio (one in `recheck_one_in`; 0 when off).
    #[serde(default)]
    pub rechecked: u64,
    #[serde(default)]
    pub recheck_one_in: u64,
    /// Each figure the runs reported (`Suite::figures`), by name ([`crate::coverage`]).
    #[serde(default)]
    pub figures: BTreeMap<String, FigureTally>,
    /// Each check that some seed did not evaluate: in how many seeds, the first of them.
    #[serde(default)]
    pub not_evaluated: BTreeMap<String, Unjudged>,
    /// Whether every seed of the space was run (false after a stop or a time budget).
    pub complete: bool,
    /// The wall time of the (last) invocation that ran seeds, and how many it ran: a resumed
    /// campaign's speed is its last run's.
    pub wall_seconds: f64,
    #[serde(default)]
    pub seeds_timed: u64,
    pub jobs: usize,
}

impl Summary {
    pub fn new(
        scenario: &Scenario,
        space: SeedSpace,
        duration: Option<SimDuration>,
        sim: Provenance,
    ) -> Self {
        Summary {
            scenario_name: scenario.name.clone(),
            scenario_file: scenario.file.clone(),
            scenario_digest: scenario_digest(&scenario.text),
            sim,
            duration,
            space,
            shards: vec![space.shard],
            seeds_run: 0,
            seeds_passed: 0,
            failures: Vec::new(),
            determinism_bugs: Vec::new(),
            coverage: BTreeMap::new(),
            rechecked: 0,
            recheck_one_in: 0,
            figures: BTreeMap::new(),
            not_evaluated: BTreeMap::new(),
            complete: false,
            wall_seconds: 0.0,
            seeds_timed: 0,
            jobs: 0,
        }
    }

    /// Folds in the seeds of a journal; the order of `lines` does not matter.
    pub fn add(&mut self, lines: &BTreeMap<u64, SeedLine>) {
        for line in lines.values() {
            self.seeds_run += 1;
            self.seeds_passed += u64::from(line.passed);
            self.rechecked += u64::from(line.rechecked);
            for (name, met) in &line.sometimes {
                let c = self.coverage.entry(name.clone()).or_default();
                c.seeds += 1;
                c.met += u64::from(*met);
                if *met {
                    c.first_met = coverage::first_of(c.first_met, Some(line.seed));
                }
            }
            coverage::add_figures(&mut self.figures, line.seed, &line.figures);
            coverage::add_unjudged(&mut self.not_evaluated, line.seed, &line.not_evaluated);
            if let Some(d) = &line.determinism {
                self.determinism_bugs.push(DeterminismEntry {
                    seed: line.seed,
                    determinism: d.clone(),
                });
            } else if !line.passed {
                self.failures.push(FailureEntry {
                    seed: line.seed,
                    check: line.check.clone().unwrap_or_default(),
                    message: line.message.clone().unwrap_or_default(),
                    hash: line.hash.clone(),
                });
            }
        }
        self.failures.sort_by_key(|f| f.seed);
        self.determinism_bugs.sort_by_key(|d| d.seed);
    }

    /// The coverage moments the scenario asks for that no seed reached ([`coverage`]).
    pub fn moments_never_met(&self) -> Vec<String> {
        coverage::moments_never_met(&self.coverage, &self.figures)
    }

    pub fn seeds_per_second(&self) -> f64 {
        self.seeds_timed as f64 / self.wall_seconds.max(1e-9)
    }

    /// Failures grouped by check, each group in seed order.
    pub fn failures_by_check(&self) -> BTreeMap<&str, Vec<&FailureEntry>> {
        let mut groups: BTreeMap<&str, Vec<&FailureEntry>> = BTreeMap::new();
        for f in &self.failures {
            groups.entry(f.check.as_str()).or_default().push(f);
        }
        groups
    }

    /// The coverage part of the text: sometimes checks, moments, checks not evaluated, and the
    /// moments asked for that no seed reached.
    fn render_coverage(&self, w: &mut String) {
        w.push_str(&coverage::render_sometimes(&self.coverage));
        w.push_str(&coverage::render_figures(&self.figures));
        w.push_str(&coverage::render_unjudged(
            &self.not_evaluated,
            self.seeds_run,
            &self.scenario_file,
        ));
        let never = self.moments_never_met();
        w.push_str(&coverage::render_never_met(&never, self.seeds_run));
    }

    /// The end-of-campaign text. `record_path` names a seed's record, for the reproduce lines.
    pub fn render_text(&self, record_path: &dyn Fn(u64) -> String) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "campaign   {} ({}), seeds {}{}",
            self.scenario_name,
            self.scenario_file,
            self.space,
            if self.shards.len() > 1 {
                format!(", {} shards merged", self.shards.len())
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            w,
            "seeds      {} run{}, {} passed, {} failed, {} determinism bugs",
            self.seeds_run,
            if self.complete {
                ""
            } else {
                " (stopped before the end)"
            },
            self.seeds_passed,
            self.failures.len(),
            self.determinism_bugs.len()
        );
        if self.wall_seconds > 0.0 {
            let _ = writeln!(
                w,
                "speed      {:.1} seeds/s ({} seeds in {:.1}s with {} jobs)",
                self.seeds_per_second(),
                self.seeds_timed,
                self.wall_seconds,
                self.jobs
            );
        }
        self.render_coverage(w);
        let groups = self.failures_by_check();
        if groups.is_empty() {
            let _ = writeln!(w, "failures   none");
        } else {
            let _ = writeln!(w, "failures   by check:");
            for (check, seeds) in &groups {
                let list: Vec<String> = seeds.iter().take(20).map(|f| f.seed.to_string()).collect();
                let more = if seeds.len() > 20 {
                    format!(" ... and {} more", seeds.len() - 20)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    w,
                    "  {check}: {} seeds ({}{more})",
                    seeds.len(),
                    list.join(", ")
                );
                let first = seeds[0];
                let _ = writeln!(
                    w,
                    "    first  seed {}: {}",
                    first.seed,
                    first.message.lines().next().unwrap_or("")
                );
                let program = crate::program_name();
                let _ = writeln!(w, "    replay {program} replay {}", record_path(first.seed));
                let mut run = format!("{program} run {} --seed {}", self.scenario_file, first.seed);
                if let Some(d) = self.duration {
                    let _ = write!(run, " --duration {d}");
                }
                let _ = writeln!(w, "    run    {run}");
            }
        }
        crate::recheck::render(self, w);
        out
    }

    /// Merges the summaries of shards of one campaign (the same scenario, seed range, and
    /// shard count; each shard once).
    pub fn merge(summaries: &[Summary]) -> Result<Summary, String> {
        let Some(first) = summaries.first() else {
            return Err("nothing to merge".into());
        };
        let mut merged = first.clone();
        let mut shards: BTreeSet<(u64, u64)> =
            first.shards.iter().map(|s| (s.count, s.index)).collect();
        crate::merge::check_shards(summaries)?;
        for s in &summaries[1..] {
            if s.scenario_digest != first.scenario_digest {
                return Err(format!(
                    "{} ran a different scenario text than {} (digest {} vs {})",
                    s.scenario_file, first.scenario_file, s.scenario_digest, first.scenario_digest
                ));
            }
            if (s.space.start, s.space.end) != (first.space.start, first.space.end)
                || s.duration != first.duration
            {
                return Err(format!(
                    "the summaries cover different campaigns: seeds {} vs {}",
                    s.space, first.space
                ));
            }
            for shard in &s.shards {
                if shard.count != first.space.shard.count {
                    return Err(format!(
                        "shard {shard} does not split the seeds as {} does",
                        first.space.shard
                    ));
                }
                if !shards.insert((shard.count, shard.index)) {
                    return Err(format!("shard {shard} is given twice"));
                }
                merged.shards.push(*shard);
            }
            merged.seeds_run += s.seeds_run;
            merged.seeds_passed += s.seeds_passed;
            merged.rechecked += s.rechecked;
            merged.failures.extend(s.failures.iter().cloned());
            merged
                .determinism_bugs
                .extend(s.determinism_bugs.iter().cloned());
            for (name, c) in &s.coverage {
                let m = merged.coverage.entry(name.clone()).or_default();
                m.met += c.met;
                m.seeds += c.seeds;
                m.first_met = coverage::first_of(m.first_met, c.first_met);
            }
            coverage::merge_figures(&mut merged.figures, &s.figures);
            coverage::merge_unjudged(&mut merged.not_evaluated, &s.not_evaluated);
            merged.complete &= s.complete;
            // Shards run side by side: the campaign took as long as the slowest.
            merged.wall_seconds = merged.wall_seconds.max(s.wall_seconds);
            merged.seeds_timed += s.seeds_timed;
            merged.jobs += s.jobs;
        }
        merged.shards.sort_by_key(|s| s.index);
        merged.failures.sort_by_key(|f| f.seed);
        merged.determinism_bugs.sort_by_key(|d| d.seed);
        let count = first.space.shard.count;
        // Complete only when every shard 0..count is there, each once.
        let all_shards = merged.shards.iter().map(|s| s.index).eq(0..count);
        merged.complete &= all_shards;
        merged.space.shard = if all_shards {
            Shard::WHOLE
        } else {
            first.space.shard
        };
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_a_range_exactly() {
        let whole: Vec<u64> = (0..)
            .map_while(|i| SeedSpace::range(5, 42).nth(i))
            .collect();
        assert_eq!(whole, (5..42).collect::<Vec<_>>());
        let mut seen = Vec::new();
        for index in 0..4 {
            let space = SeedSpace {
                shard: Shard { index, count: 4 },
                ..SeedSpace::range(5, 42)
            };
            let seeds: Vec<u64> = (0..).map_while(|i| space.nth(i)).collect();
            assert_eq!(space.len(), Some(seeds.len() as u64));
            assert!(seeds.iter().all(|&s| space.contains(s)));
            seen.extend(seeds);
        }
        seen.sort();
        assert_eq!(seen, whole);
    }

    #[test]
    fn shard_syntax_is_zero_based() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    /// `sim fuzz-merge` refuses a shard outside its count, and never calls a merge with a shard
    /// missing complete (issue 14: 0/2 and 5/2 used to merge as `complete: true`).
    #[test]
    fn issue_14_a_merge_checks_shard_indices_and_completeness() {
        let scenario = Scenario::parse(
            "s.toml",
            "duration = \"1s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"beat\"\n",
        )
        .unwrap();
        let shard = |index, count| {
            let space = SeedSpace {
                shard: Shard { index, count },
                ..SeedSpace::range(0, 10)
            };
            let sim = Provenance {
                version: "t".into(),
                commit: "t".into(),
            };
            let mut summary = Summary::new(&scenario, space, None, sim);
            summary.shards = vec![Shard { index, count }];
            summary.complete = true;
            summary
        };
        let error = Summary::merge(&[shard(0, 2), shard(5, 2)]).unwrap_err();
        assert!(error.contains("shard 5/2 is outside its count"), "{error}");
        let error = Summary::merge(&[shard(3, 2)]).unwrap_err();
        assert!(error.contains("shard 3/2"), "{error}");
        let partial = Summary::merge(&[shard(0, 3), shard(2, 3)]).unwrap();
        assert!(!partial.complete, "shard 1/3 is missing");
        assert_eq!(partial.space.shard.count, 3);
        let whole = Summary::merge(&[shard(1, 2), shard(0, 2)]).unwrap();
        assert!(whole.complete);
        assert_eq!(whole.space.shard, Shard::WHOLE);
    }

    #[test]
    fn an_open_space_never_ends() {
        let space = SeedSpace {
            start: 3,
            end: None,
            shard: Shard::WHOLE,
        };
        assert_eq!(space.nth(1_000_000), Some(1_000_003));
        assert_eq!(space.len(), None);
    }
}
