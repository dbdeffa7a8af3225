//! Shrinking: the smallest scenario that still fails the same check with the same seed.
//!
//! [`shrink`] starts from a failing run's explicit scenario (no ranges, no nemesis: every fault
//! written out) and greedily tries simpler ones, keeping each that still fails the same check:
//! faults dropped in groups then one by one (as delta debugging does), the faults moved earlier
//! together, a shorter fault phase and
//! quiet phase, fewer nodes where the protocol accepts them, fewer clients and operations (every
//! integer of `[workload]`, halved then decremented), and a simpler network (no drops, no
//! duplicates, fixed latency). Passes repeat until none makes progress or the run budget is
//! spent. A candidate counts as still failing only if it fails for the same
//! [`Reason`]: the same check with the same kind of evidence, not merely the same check name;
//! the final scenario is read back from its text and run once more before it is returned.
//! Candidates are tried in batches on `jobs` threads, and the first one in order that
//! still fails is kept, so the result does not depend on `jobs`.

use std::fmt::Write as _;

use sim_core::{Latency, NodeId, SimDuration, SimTime};
use sim_scenario::{
    emit, Action, FaultSpec, Scenario, ScenarioError, Section, Shape, Target, Trigger,
};

use crate::driver::RunOptions;
use crate::family::Families;
use crate::reason::{reason, Reason};
use crate::report::RunReport;

/// Limits of a shrink.
#[derive(Debug, Clone, Copy)]
pub struct ShrinkOptions {
    /// At most this many candidate runs.
    pub max_runs: usize,
    pub jobs: usize,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions {
            max_runs: 400,
            jobs: 1,
        }
    }
}

/// A shrink's result.
#[derive(Debug)]
pub struct Shrunk {
    /// The smallest failing scenario found (its `text` is the file to write).
    pub scenario: Scenario,
    /// Its run: it fails the check the shrink was asked to keep.
    pub report: RunReport,
    pub runs: usize,
    /// What was removed, one item per line.
    pub removed: Vec<String>,
    /// Whether the budget ran out before the passes stopped making progress.
    pub budget_spent: bool,
}

/// Why a shrink could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("the run no longer fails {check}: {outcome}")]
    NoLongerFails { check: String, outcome: String },
    /// The shrunk scenario, read back from its text and run again, failed for another reason:
    /// nothing is written rather than a file that does not reproduce the failure.
    #[error("the shrunk scenario, run again from its text, {outcome} instead of failing for the same reason ({expected})")]
    NotReproduced { expected: String, outcome: String },
}

struct Search<'a> {
    families: &'a Families,
    seed: u64,
    /// The reason every kept candidate must fail for (see [`crate::reason`]).
    reason: Reason,
    options: ShrinkOptions,
    runs: usize,
    best: Scenario,
    best_report: RunReport,
}

impl Search<'_> {
    /// Runs `candidate`; its report when it still fails the check.
    fn fails(&self, candidate: &Scenario) -> Option<RunReport> {
        let report = self
            .families
            .run(candidate, RunOptions::new(self.seed))
            .ok()?;
        (reason(&report).as_ref() == Some(&self.reason)).then_some(report)
    }

    /// Tries `candidates` in order, in batches of `jobs`; keeps the first that still fails.
    fn try_all(&mut self, candidates: Vec<Scenario>) -> bool {
        let candidates: Vec<Scenario> = candidates
            .into_iter()
            .filter_map(|c| emit::reparse(&c).ok())
            .collect();
        for batch in candidates.chunks(self.options.jobs.max(1)) {
            if self.runs >= self.options.max_runs {
                return false;
            }
            let batch = &batch[..batch.len().min(self.options.max_runs - self.runs)];
            let results: Vec<Option<RunReport>> = if batch.len() == 1 {
                vec![self.fails(&batch[0])]
            } else {
                let this = &*self;
                std::thread::scope(|scope| {
                    let handles: Vec<_> = batch
                        .iter()
                        .map(|c| scope.spawn(move || this.fails(c)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().ok().flatten())
                        .collect()
                })
            };
            // Runs are counted as if the candidates ran one by one and stopped at the first that
            // fails: the ones after it in the batch ran only because threads were free, and
            // counting them would spend the budget faster with more jobs, and so make the
            // result depend on them.
            let found = results
                .into_iter()
                .enumerate()
                .find_map(|(i, r)| r.map(|r| (i, r)));
            match found {
                Some((i, report)) => {
                    self.runs += i + 1;
                    self.best = batch[i].clone();
                    self.best_report = report;
                    return true;
                }
                None => self.runs += batch.len(),
            }
        }
        false
    }

    fn budget_left(&self) -> bool {
        self.runs < self.options.max_runs
    }
}

/// Shrinks the run of `scenario` with `seed` (and the fault phase replaced by `duration`) while
/// it still fails `check`. The scenario is first made explicit ([`emit::explicit`]).
pub fn shrink(
    families: &Families,
    scenario: &Scenario,
    seed: u64,
    duration: Option<SimDuration>,
    check: &str,
    options: ShrinkOptions,
) -> Result<Shrunk, ShrinkError> {
    let start = families.explicit(scenario, seed, duration)?;
    let report = families.run(&start, RunOptions::new(seed))?;
    if report.failed_check().as_deref() != Some(check) {
        return Err(ShrinkError::NoLongerFails {
            check: check.to_string(),
            outcome: report
                .failure()
                .unwrap_or_else(|| "every check held".to_string()),
        });
    }
    let original = reason(&report).ok_or_else(|| ShrinkError::NoLongerFails {
        check: check.to_string(),
        outcome: "every check held".to_string(),
    })?;
    let mut search = Search {
        families,
        seed,
        reason: original,
        options,
        runs: 1,
        best: start.clone(),
        best_report: report,
    };
    loop {
        let mut progress = false;
        progress |= drop_faults(&mut search);
        progress |= earlier(&mut search);
        progress |= shorten(&mut search);
        progress |= fewer_nodes(&mut search);
        progress |= smaller_workload(&mut search);
        progress |= simpler_network(&mut search);
        if !progress || !search.budget_left() {
            break;
        }
    }
    let removed = describe(&start, &search.best);
    confirm(families, &search.best, seed, &search.reason)?;
    Ok(Shrunk {
        budget_spent: !search.budget_left(),
        scenario: search.best,
        report: search.best_report,
        runs: search.runs,
        removed,
    })
}

/// Runs the shrunk scenario again from its own text, as a user will, and checks it fails for
/// the same reason.
fn confirm(
    families: &Families,
    best: &Scenario,
    seed: u64,
    expected: &Reason,
) -> Result<(), ShrinkError> {
    let reread = Scenario::parse(&best.file, &best.text)?;
    let report = families.run(&reread, RunOptions::new(seed))?;
    match reason(&report) {
        Some(r) if &r == expected => Ok(()),
        other => Err(ShrinkError::NotReproduced {
            expected: expected.to_string(),
            outcome: match other {
                Some(r) => format!("failed {r}"),
                None => "passed".to_string(),
            },
        }),
    }
}

/// Delta debugging over the fault list: drop halves, then quarters, ... then single faults.
fn drop_faults(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    let mut chunk = search.best.faults.len().div_ceil(2).max(1);
    while !search.best.faults.is_empty() && search.budget_left() {
        let n = search.best.faults.len();
        let candidates: Vec<Scenario> = (0..n)
            .step_by(chunk)
            .map(|from| {
                let mut c = search.best.clone();
                c.faults.drain(from..(from + chunk).min(n));
                c
            })
            .collect();
        if search.try_all(candidates) {
            progress = true;
            chunk = chunk.min(search.best.faults.len().max(1));
        } else if chunk == 1 {
            break;
        } else {
            chunk = chunk.div_ceil(2);
        }
    }
    progress
}

/// Moves every time-triggered fault earlier by the same amount (first to 1s, then by half the
/// first fault's time), so that the fault phase can then be shortened.
fn earlier(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    let second = SimDuration::from_secs(1);
    while search.budget_left() {
        let Some(first) = search
            .best
            .faults
            .iter()
            .filter_map(|f| match f.trigger {
                Trigger::At(t) => Some(t),
                Trigger::OnEvent { .. } => None,
            })
            .min()
        else {
            break;
        };
        let shifts: Vec<u64> = [first.0.saturating_sub(second.0), whole_ms(first.0 / 2)]
            .into_iter()
            .filter(|&d| d >= second.0 / 10)
            .collect();
        let candidates = shifts
            .into_iter()
            .map(|d| {
                let mut c = search.best.clone();
                for f in &mut c.faults {
                    if let Trigger::At(t) = &mut f.trigger {
                        *t = SimTime(t.0 - d);
                    }
                }
                c
            })
            .collect();
        if !search.try_all(candidates) {
            break;
        }
        progress = true;
    }
    progress
}

/// `ns` rounded down to whole milliseconds, so shrunk files read `1.5s`, not `1.46875s`.
fn whole_ms(ns: u64) -> u64 {
    ns / 1_000_000 * 1_000_000
}

/// Keeps the faults that can still fire within a fault phase of `duration`.
fn with_duration(s: &Scenario, duration: SimDuration) -> Scenario {
    let mut c = s.clone();
    c.duration = duration;
    let end = SimTime::ZERO + duration;
    c.faults
        .retain(|f| !matches!(f.trigger, Trigger::At(t) if t > end));
    c
}

/// A shorter fault phase (first just past the failure, then halves) and a shorter quiet phase.
fn shorten(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    let second = SimDuration::from_secs(1);
    loop {
        let d = search.best.duration;
        let mut lengths = Vec::new();
        let failed_at = search.best_report.time_reached;
        let past_failure = SimDuration((failed_at.0 / second.0 + 1) * second.0);
        if past_failure < d {
            lengths.push(past_failure);
        }
        for fraction in [(1, 2), (3, 4)] {
            let l = whole_ms(d.0 / fraction.1 * fraction.0);
            if l >= second.0 / 10 {
                lengths.push(SimDuration(l));
            }
        }
        lengths.retain(|&l| l < d && l > SimDuration::ZERO);
        let candidates = lengths
            .into_iter()
            .map(|l| with_duration(&search.best, l))
            .collect();
        if !search.try_all(candidates) {
            break;
        }
        progress = true;
    }
    loop {
        let q = search.best.quiet;
        if q == SimDuration::ZERO {
            break;
        }
        let candidates = [SimDuration::ZERO, SimDuration(whole_ms(q.0 / 2))]
            .into_iter()
            .filter(|&l| l < q)
            .map(|l| {
                let mut c = search.best.clone();
                c.quiet = l;
                c
            })
            .collect();
        if !search.try_all(candidates) {
            break;
        }
        progress = true;
    }
    progress
}

/// The scenario without its last node: faults aimed only at it go, groups lose it.
fn without_last_node(s: &Scenario) -> Option<Scenario> {
    let n = s.node_count();
    if n <= 1 {
        return None;
    }
    let gone = NodeId((n - 1) as u32);
    let mut c = s.clone();
    c.node_names.pop();
    c.node_kinds.pop();
    let keep_target = |t: &mut Target| -> bool {
        match t {
            Target::Nodes(nodes) => {
                nodes.retain(|&x| x != gone);
                !nodes.is_empty()
            }
            _ => true,
        }
    };
    c.faults.retain_mut(|f| match &mut f.action {
        Action::Crash { target, .. }
        | Action::Restart { target }
        | Action::Pause { target, .. }
        | Action::Clock { target, .. } => keep_target(target),
        Action::Partition { shape, .. } => match shape {
            Shape::Isolate(target) => keep_target(target),
            Shape::Split(groups) => {
                for g in groups.iter_mut() {
                    g.retain(|&x| x != gone);
                }
                groups.retain(|g| !g.is_empty());
                !groups.is_empty()
            }
            _ => true,
        },
        Action::Heal | Action::Network { .. } => true,
    });
    // A partition the smaller cluster cannot form (a bridge of two nodes) would be an error in
    // the file: it goes too, and the candidate must still fail for the same reason without it.
    let kinds = c.node_kinds.clone();
    let count = c.node_count();
    c.faults.retain(|f| match &f.action {
        Action::Partition { shape, .. } => shape
            .problem(count, |kind| kinds.iter().filter(|k| *k == kind).count())
            .is_none(),
        _ => true,
    });
    Some(c)
}

fn fewer_nodes(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    while search.budget_left() {
        let Some(c) = without_last_node(&search.best) else {
            break;
        };
        if !search.try_all(vec![c]) {
            break;
        }
        progress = true;
    }
    progress
}

/// Every positive integer of `[workload]` (clients, operations, keys), halved, then less one.
fn smaller_workload(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    let keys: Vec<String> = search.best.workload_table().keys().cloned().collect();
    for key in keys {
        while let Some(toml::Value::Integer(v)) = search.best.workload_table().get(&key).cloned() {
            if v <= 0 || !search.budget_left() {
                break;
            }
            let mut smaller = vec![v / 2];
            if v - 1 != v / 2 {
                smaller.push(v - 1);
            }
            let candidates = smaller
                .into_iter()
                .map(|x| {
                    let mut c = search.best.clone();
                    c.table_mut(Section::Workload)
                        .insert(key.clone(), toml::Value::Integer(x));
                    c
                })
                .collect();
            if !search.try_all(candidates) {
                break;
            }
            progress = true;
        }
    }
    progress
}

fn simpler_network(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    fn fixed(l: &Latency) -> Latency {
        match *l {
            Latency::Fixed(d) => Latency::Fixed(d),
            Latency::Uniform { min, max } | Latency::LongTail { min, max, .. } => {
                Latency::Fixed(SimDuration((min.0 + max.0) / 2))
            }
        }
    }
    // Each step simplifies one thing and says whether it changed anything.
    let steps: [fn(&mut Scenario) -> bool; 4] = [
        |c| std::mem::replace(&mut c.network.drop_probability, 0.0) != 0.0,
        |c| std::mem::replace(&mut c.network.duplicate_probability, 0.0) != 0.0,
        |c| {
            let l = fixed(&c.network.latency);
            std::mem::replace(&mut c.network.latency, l.clone()) != l
        },
        |c| {
            let l = fixed(&c.client_latency);
            std::mem::replace(&mut c.client_latency, l.clone()) != l
        },
    ];
    for step in steps {
        if !search.budget_left() {
            break;
        }
        let mut c = search.best.clone();
        if step(&mut c) && search.try_all(vec![c]) {
            progress = true;
        }
    }
    progress
}

/// What the shrink removed, in words.
fn describe(before: &Scenario, after: &Scenario) -> Vec<String> {
    let mut lines = Vec::new();
    let count = |s: &Scenario| s.faults.len();
    lines.push(format!(
        "faults   {} -> {}{}",
        count(before),
        count(after),
        if after.faults.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                after
                    .faults
                    .iter()
                    .map(FaultSpec::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    ));
    lines.push(format!(
        "duration {} -> {}",
        before.duration, after.duration
    ));
    lines.push(format!("quiet    {} -> {}", before.quiet, after.quiet));
    lines.push(format!(
        "nodes    {} -> {}",
        before.node_count(),
        after.node_count()
    ));
    let mut network = String::new();
    if before.network.drop_probability != after.network.drop_probability {
        let _ = write!(
            network,
            " drop {} -> {};",
            before.network.drop_probability, after.network.drop_probability
        );
    }
    if before.network.duplicate_probability != after.network.duplicate_probability {
        let _ = write!(
            network,
            " duplicate {} -> {};",
            before.network.duplicate_probability, after.network.duplicate_probability
        );
    }
    if before.network.latency != after.network.latency {
        let _ = write!(
            network,
            " latency fixed at {};",
            after.network.latency.max()
        );
    }
    if !network.is_empty() {
        lines.push(format!("network {}", network.trim_end_matches(';')));
    }
    for (key, value) in after.workload_table() {
        if let Some(old) = before.workload_table().get(key) {
            if old != value {
                lines.push(format!("workload {key} {old} -> {value}"));
            }
        }
    }
    lines
}
