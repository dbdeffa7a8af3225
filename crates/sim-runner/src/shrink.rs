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
use std::sync::{Arc, Mutex};

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
    let drawn = Arc::new(Mutex::new(Vec::new()));
    let mut first = RunOptions::new(seed);
    first.pinned = Some(Arc::clone(&drawn));
    let report = families.run(&start, first)?;
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
    let pinned = pin_draws(&mut search, &drawn);
    loop {
        let mut progress = false;
        progress |= drop_faults(&mut search);
        progress |= earlier(&mut search);
        progress |= shorten(&mut search);
        progress |= fewer_nodes(&mut search);
        progress |= smaller_workload(&mut search);
        progress |= default_parameters(&mut search);
        progress |= shorter_faults(&mut search);
        progress |= simpler_network(&mut search);
        if !progress || !search.budget_left() {
            break;
        }
    }
    let mut removed = describe(&start, &search.best);
    if pinned > 0 {
        removed.push(format!(
            "pinned   the draws of {pinned} fault(s) when they fired (random nodes, minorities, \
             halves, ring and bridge orders), written out first"
        ));
    }
    confirm(families, &search.best, seed, &search.reason)?;
    Ok(Shrunk {
        budget_spent: !search.budget_left(),
        scenario: search.best,
        report: search.best_report,
        runs: search.runs,
        removed,
    })
}

/// Writes out what the faults of the first run drew from the run's fault stream when they fired
/// (a random node, a minority, halves, a ring's or a bridge's order; see
/// [`RunOptions::pinned`]), if the failure stays: the faults share that stream, so without this
/// removing one fault changes what every later one hits, and a shrink of a schedule drawn by a
/// nemesis (a swarm member's, say) keeps most of its faults. How many faults changed.
fn pin_draws(search: &mut Search<'_>, drawn: &Mutex<Vec<FaultSpec>>) -> usize {
    let Ok(faults) = drawn.lock().map(|f| f.clone()) else {
        return 0;
    };
    let mut sorted = search.best.faults.clone();
    sorted.sort_by_key(|f| match f.trigger {
        Trigger::At(t) => (0, t),
        Trigger::OnEvent { .. } => (1, SimTime::ZERO),
    });
    let changed = faults.iter().zip(&sorted).filter(|(a, b)| a != b).count();
    if changed == 0 || faults.len() != sorted.len() {
        return 0;
    }
    let mut c = search.best.clone();
    c.faults = faults;
    if search.try_all(vec![c]) {
        changed
    } else {
        0
    }
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
                crate::quiet_bound::fit(c)
            })
            .collect();
        if !search.try_all(candidates) {
            break;
        }
        progress = true;
    }
    progress
}

/// The scenario without node `gone`, the nodes after it numbered one lower (so the names stay
/// `n1..nN`): faults aimed only at it go, groups and orders lose it, and a partition the smaller
/// cluster cannot form goes too.
fn without_node(s: &Scenario, gone: usize) -> Option<Scenario> {
    let n = s.node_count();
    if n <= 1 || gone >= n {
        return None;
    }
    let gone = NodeId(gone as u32);
    let mut c = s.clone();
    c.node_names.pop();
    c.node_kinds.remove(gone.index());
    // A node after the one removed takes the number below.
    let renumber = |nodes: &mut Vec<NodeId>| {
        nodes.retain(|&x| x != gone);
        for x in nodes.iter_mut() {
            if x.0 > gone.0 {
                x.0 -= 1;
            }
        }
    };
    let keep_target = |t: &mut Target| -> bool {
        match t {
            Target::Nodes(nodes) => {
                renumber(nodes);
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
                groups.iter_mut().for_each(renumber);
                groups.retain(|g| !g.is_empty());
                !groups.is_empty()
            }
            Shape::RingOf(order) | Shape::BridgeOf(order) => {
                renumber(order);
                true
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

/// Fewer nodes: each node in turn, from the last, removed while the failure stays.
fn fewer_nodes(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    let mut k = search.best.node_count();
    while k > 0 && search.budget_left() {
        k -= 1;
        let Some(c) = without_node(&search.best, k) else {
            continue;
        };
        if search.try_all(vec![c]) {
            progress = true;
            k = k.min(search.best.node_count());
        }
    }
    progress
}

/// Every parameter of `[protocol]` (but `bugs`) and every key of `[workload]` that is not a
/// count, each in turn back at the family's default (the key removed), so that what the seed
/// sampled and the failure does not need goes. `[checks]` is never touched: a stricter default
/// bound could fail a correct build.
fn default_parameters(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    for section in [Section::Protocol, Section::Workload] {
        let keys: Vec<String> = match section {
            Section::Protocol => search.best.protocol_table().keys().cloned().collect(),
            _ => search.best.workload_table().keys().cloned().collect(),
        };
        for key in keys {
            if key == "bugs" || !search.budget_left() {
                continue;
            }
            let mut c = search.best.clone();
            let removed = c.table_mut(section).remove(&key);
            // Counts of the workload shrink by halves in `smaller_workload`.
            let count = matches!(removed, Some(toml::Value::Integer(_)));
            if removed.is_none() || (count && section == Section::Workload) {
                continue;
            }
            if search.try_all(vec![c]) {
                progress = true;
            }
        }
    }
    progress
}

/// Shorter faults: each fault's length (heal, restart or pause after) halved, in whole
/// milliseconds, while the failure stays.
fn shorter_faults(search: &mut Search<'_>) -> bool {
    let mut progress = false;
    for i in 0..search.best.faults.len() {
        while search.budget_left() {
            let mut c = search.best.clone();
            let Some(fault) = c.faults.get_mut(i) else {
                break;
            };
            let length = match &mut fault.action {
                Action::Crash { restart_after, .. } => restart_after.as_mut(),
                Action::Pause { duration, .. } => Some(duration),
                Action::Partition { heal_after, .. }
                | Action::Clock { heal_after, .. }
                | Action::Network { heal_after, .. } => heal_after.as_mut(),
                Action::Restart { .. } | Action::Heal => None,
            };
            let Some(length) = length else { break };
            let half = SimDuration(whole_ms(length.0 / 2));
            if half < SimDuration::from_millis(10) {
                break;
            }
            *length = half;
            if !search.try_all(vec![c]) {
                break;
            }
            progress = true;
        }
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

/// The parameters the shrink put back at their defaults, a line per section that has any.
fn defaults(before: &Scenario, after: &Scenario) -> Vec<String> {
    let mut lines = Vec::new();
    for (section, old, new) in [
        ("protocol", before.protocol_table(), after.protocol_table()),
        ("workload", before.workload_table(), after.workload_table()),
    ] {
        let keys: Vec<&str> = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !keys.is_empty() {
            lines.push(format!("{section} back at defaults: {}", keys.join(", ")));
        }
    }
    lines
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
    lines.extend(defaults(before, after));
    for (key, value) in after.workload_table() {
        if let Some(old) = before.workload_table().get(key) {
            if old != value {
                lines.push(format!("workload {key} {old} -> {value}"));
            }
        }
    }
    lines
}

#[cfg(test)]
#[path = "shrink_tests.rs"]
mod tests;
