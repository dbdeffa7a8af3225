//! Coverage across a campaign: which of the family's interesting moments its seeds reached and
//! how often ([`FigureTally`], from each run's `Suite::figures`), and how many seeds each
//! sometimes check needed before it was first met.
//!
//! Kept beside [`crate::campaign`], which folds seed lines into a [`crate::campaign::Summary`]:
//! this module owns the arithmetic and the text, so that the summary only calls it. Everything
//! here is a sum, a minimum or a maximum, so shards merge exactly.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One named figure across a campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureTally {
    /// Seeds that reported the figure.
    pub seeds: u64,
    /// Seeds whose count was not zero: the seeds that reached the moment.
    pub reached: u64,
    /// The sum over every seed.
    pub total: u64,
    /// The highest count of one seed.
    pub max: u64,
    /// The lowest seed that reached it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seed: Option<u64>,
}

impl FigureTally {
    fn merge(&mut self, other: &FigureTally) {
        self.seeds += other.seeds;
        self.reached += other.reached;
        self.total = self.total.saturating_add(other.total);
        self.max = self.max.max(other.max);
        self.first_seed = min_some(self.first_seed, other.first_seed);
    }
}

fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Folds one seed's figures in.
pub fn add_figures(
    tallies: &mut BTreeMap<String, FigureTally>,
    seed: u64,
    figures: &[(String, u64)],
) {
    for (name, count) in figures {
        let t = tallies.entry(name.clone()).or_default();
        t.seeds += 1;
        t.total = t.total.saturating_add(*count);
        t.max = t.max.max(*count);
        if *count > 0 {
            t.reached += 1;
            t.first_seed = min_some(t.first_seed, Some(seed));
        }
    }
}

/// Folds another shard's tallies in.
pub fn merge_figures(
    into: &mut BTreeMap<String, FigureTally>,
    from: &BTreeMap<String, FigureTally>,
) {
    for (name, t) in from {
        into.entry(name.clone()).or_default().merge(t);
    }
}

/// The lowest of two first seeds, for sometimes checks across shards.
pub fn first_of(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    min_some(a, b)
}

/// How many seeds a moment met in `met` of `seeds` needed on average, in words.
fn one_in(met: u64, seeds: u64) -> String {
    if met == 0 {
        return "never".to_string();
    }
    let every = seeds as f64 / met as f64;
    if every < 1.05 {
        "every seed".to_string()
    } else {
        format!("1 seed in {every:.1}")
    }
}

/// The sometimes-check line: met in how many seeds, the first seed that met it, and how many
/// seeds it needs on average.
pub fn sometimes_line(name: &str, met: u64, seeds: u64, first: Option<u64>) -> String {
    let never = if met == 0 { "  NEVER MET" } else { "" };
    let first = first.map_or(String::new(), |s| format!(", first at seed {s}"));
    format!(
        "{name}: {met} of {seeds} ({}{first}){never}",
        one_in(met, seeds)
    )
}

/// The sometimes checks, one line each (empty when there are none).
pub fn render_sometimes(checks: &BTreeMap<String, crate::campaign::Coverage>) -> String {
    let mut out = String::new();
    if !checks.is_empty() {
        let _ = writeln!(out, "coverage   sometimes checks met, by seeds:");
        for (name, c) in checks {
            let line = sometimes_line(name, c.met, c.seeds, c.first_met);
            let _ = writeln!(out, "           {line}");
        }
    }
    out
}

/// The sometimes checks on a coverage moment (named as a figure the runs report, as a
/// family's opt-in checks are, e.g. Raft's `[checks] sometimes`) that no seed met: each fails
/// the campaign, since its seeds never reached a moment the scenario asks for.
pub fn moments_never_met(
    checks: &BTreeMap<String, crate::campaign::Coverage>,
    figures: &BTreeMap<String, FigureTally>,
) -> Vec<String> {
    checks
        .iter()
        .filter(|(name, c)| c.seeds > 0 && c.met == 0 && figures.contains_key(*name))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The lines that say so, one per moment (empty when every moment asked for was reached).
pub fn render_never_met(never: &[String], seeds: u64) -> String {
    let mut out = String::new();
    for name in never {
        let _ = writeln!(
            out,
            "coverage   FAILED: {name}: none of {seeds} seeds reached the moment, which the \
             scenario asks for as a sometimes check; widen the scenario (faults, timing, \
             workload) or run more seeds"
        );
    }
    out
}

/// The coverage table: per figure, the seeds that reached it, how often on average, the total
/// and the most in one seed; figures no seed reached are flagged.
pub fn render_figures(tallies: &BTreeMap<String, FigureTally>) -> String {
    let mut out = String::new();
    if tallies.is_empty() {
        return out;
    }
    let width = tallies.keys().map(String::len).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "moments    seeds that reached each (of seeds run), total, most in one seed:"
    );
    for (name, t) in tallies {
        let never = if t.reached == 0 {
            "  NEVER REACHED"
        } else {
            ""
        };
        let mean = if t.seeds == 0 {
            0.0
        } else {
            t.total as f64 / t.seeds as f64
        };
        let _ = writeln!(
            out,
            "           {name:<width$}  {:>6} of {:<6} total {:>9}  mean {mean:>9.1}  max {:>7}{never}",
            t.reached, t.seeds, t.total, t.max
        );
    }
    out
}

/// A check that some seeds did not evaluate (nothing to judge, or a search that gave up): such a
/// seed's pass says nothing about it, so a campaign shows how many there were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unjudged {
    /// Seeds that ran the check without evaluating it.
    pub seeds: u64,
    /// The lowest of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seed: Option<u64>,
}

/// Folds one seed's not-evaluated checks in.
pub fn add_unjudged(into: &mut BTreeMap<String, Unjudged>, seed: u64, names: &[String]) {
    for name in names {
        let u = into.entry(name.clone()).or_default();
        u.seeds += 1;
        u.first_seed = min_some(u.first_seed, Some(seed));
    }
}

/// Folds another shard's not-evaluated checks in.
pub fn merge_unjudged(into: &mut BTreeMap<String, Unjudged>, from: &BTreeMap<String, Unjudged>) {
    for (name, u) in from {
        let m = into.entry(name.clone()).or_default();
        m.seeds += u.seeds;
        m.first_seed = min_some(m.first_seed, u.first_seed);
    }
}

/// The checks some seeds did not evaluate, one line each with the run that says why (one line
/// saying so when every check judged every seed).
pub fn render_unjudged(unjudged: &BTreeMap<String, Unjudged>, seeds: u64, file: &str) -> String {
    let mut out = String::new();
    if unjudged.is_empty() {
        let _ = writeln!(out, "unjudged   none: every check judged every seed");
        return out;
    }
    let _ = writeln!(
        out,
        "unjudged   checks not evaluated (neither held nor failed), by seeds:"
    );
    let program = crate::program_name();
    for (name, u) in unjudged {
        let why = u.first_seed.map_or(String::new(), |s| {
            format!(", first at seed {s}: `{program} run {file} --seed {s}` says why")
        });
        let _ = writeln!(out, "           {name}: {} of {seeds}{why}", u.seeds);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_count_seeds_that_reached_a_moment_and_merge_exactly() {
        let mut a = BTreeMap::new();
        add_figures(&mut a, 3, &[("x".into(), 0), ("y".into(), 2)]);
        add_figures(&mut a, 1, &[("x".into(), 5), ("y".into(), 0)]);
        let mut b = BTreeMap::new();
        add_figures(&mut b, 0, &[("x".into(), 0), ("y".into(), 7)]);
        let mut whole = a.clone();
        merge_figures(&mut whole, &b);
        let mut serial = BTreeMap::new();
        for (seed, x, y) in [(3, 0, 2), (1, 5, 0), (0, 0, 7)] {
            add_figures(&mut serial, seed, &[("x".into(), x), ("y".into(), y)]);
        }
        assert_eq!(whole, serial);
        let x = whole["x"];
        assert_eq!(
            (x.seeds, x.reached, x.total, x.max, x.first_seed),
            (3, 1, 5, 5, Some(1))
        );
        let y = whole["y"];
        assert_eq!((y.reached, y.first_seed), (2, Some(0)));
        let text = render_figures(&whole);
        assert!(text.contains("x") && !text.contains("NEVER"), "{text}");
        let mut never = BTreeMap::new();
        add_figures(&mut never, 0, &[("z".into(), 0)]);
        assert!(render_figures(&never).contains("NEVER REACHED"));
    }

    #[test]
    fn checks_not_evaluated_are_counted_by_seed_and_merge_exactly() {
        let mut a = BTreeMap::new();
        add_unjudged(&mut a, 7, &["c.search".into()]);
        add_unjudged(&mut a, 2, &[]);
        let mut b = BTreeMap::new();
        add_unjudged(&mut b, 4, &["c.search".into(), "c.converged".into()]);
        merge_unjudged(&mut a, &b);
        assert_eq!(
            a["c.search"],
            Unjudged {
                seeds: 2,
                first_seed: Some(4)
            }
        );
        assert_eq!(a["c.converged"].seeds, 1);
        let text = render_unjudged(&a, 3, "s.toml");
        assert!(text.contains("c.search: 2 of 3, first at seed 4"), "{text}");
        assert!(text.contains("run s.toml --seed 4"), "{text}");
        let none = render_unjudged(&BTreeMap::new(), 3, "s.toml");
        assert!(none.contains("every check judged every seed"), "{none}");
    }

    #[test]
    fn a_moment_no_seed_reached_fails_only_when_asked_for() {
        use crate::campaign::Coverage;
        let mut figures = BTreeMap::new();
        add_figures(
            &mut figures,
            0,
            &[("m.asked".into(), 0), ("m.other".into(), 0)],
        );
        let never = Coverage {
            met: 0,
            seeds: 4,
            first_met: None,
        };
        let met = Coverage {
            met: 1,
            first_met: Some(2),
            ..never
        };
        let mut checks = BTreeMap::new();
        checks.insert("m.asked".to_string(), never);
        checks.insert("plain.sometimes".to_string(), never);
        assert_eq!(moments_never_met(&checks, &figures), ["m.asked"]);
        let text = render_never_met(&moments_never_met(&checks, &figures), 4);
        assert!(text.contains("FAILED: m.asked: none of 4 seeds"), "{text}");
        checks.insert("m.asked".to_string(), met);
        assert!(moments_never_met(&checks, &figures).is_empty());
    }

    #[test]
    fn a_sometimes_line_says_how_many_seeds_the_check_needed() {
        assert_eq!(
            sometimes_line("a", 10, 40, Some(2)),
            "a: 10 of 40 (1 seed in 4.0, first at seed 2)"
        );
        assert_eq!(
            sometimes_line("b", 0, 40, None),
            "b: 0 of 40 (never)  NEVER MET"
        );
        assert_eq!(
            sometimes_line("c", 40, 40, Some(0)),
            "c: 40 of 40 (every seed, first at seed 0)"
        );
    }
}
