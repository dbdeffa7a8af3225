//! Families of runs: parameters given as `[low, high]` ranges, and how a seed samples them.
//!
//! A scenario may write `nodes = [3, 7]`, `drop = [0.0, 0.1]`, `duplicate = [0, 0.05]` or
//! `latency = { min = ["1ms", "3ms"], max = ["5ms", "50ms"] }`; one file then covers a family
//! of runs, and each seed runs one member (TigerBeetle's swarm testing). [`Scenario::sample`]
//! draws every range from the seed's own `parameters` stream, in file order, so the draws shift
//! neither the network, the nodes, nor the nemesis, and the same seed always gets the same member.
//! Parsing validates both ends of every range. [`ParameterRange`] records what was open.
//!
//! [`Scenario::sample`]: crate::Scenario::sample

use sim_core::{SimDuration, SimRng};

/// A parameter the file leaves open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterRange {
    /// The dotted field, e.g. `network.drop`.
    pub field: String,
    pub low: String,
    pub high: String,
}

/// Where the value of a range comes from.
#[derive(Debug)]
pub(crate) enum Sampler {
    /// Its low end: the scenario as parsed, before any seed.
    Low,
    /// Its high end: validation that the other end makes a valid scenario too.
    High,
    /// A draw from a seed's `parameters` stream (boxed: a generator is large, and the other
    /// variants are the common case).
    Draw(Box<SimRng>),
}

impl Sampler {
    pub(crate) fn pick<T: Sample>(&mut self, low: T, high: T) -> T {
        match self {
            Sampler::Low => low,
            Sampler::High => high,
            Sampler::Draw(rng) => T::draw(rng, low, high),
        }
    }
}

/// A type a range can be given for.
pub(crate) trait Sample: Copy {
    /// A uniform draw in `[low, high]`.
    fn draw(rng: &mut SimRng, low: Self, high: Self) -> Self;
    fn exceeds(self, other: Self) -> bool;
    /// The value as a scenario file writes it.
    fn render(self) -> String;
}

impl Sample for i64 {
    fn draw(rng: &mut SimRng, low: i64, high: i64) -> i64 {
        let span = high.saturating_sub(low).max(0) as u64;
        low.saturating_add(sim_core::rng::between(rng, 0, span) as i64)
    }
    fn exceeds(self, other: i64) -> bool {
        self > other
    }
    fn render(self) -> String {
        self.to_string()
    }
}

/// Probabilities are drawn in steps of 1/10000, so a sampled value reads `0.0312`, not
/// `0.031207719...`, in a printed or emitted scenario.
const PROBABILITY_STEPS: f64 = 10_000.0;

impl Sample for f64 {
    fn draw(rng: &mut SimRng, low: f64, high: f64) -> f64 {
        let (low_step, high_step) = (
            (low * PROBABILITY_STEPS).ceil() as u64,
            (high * PROBABILITY_STEPS).floor() as u64,
        );
        if low_step > high_step {
            return low;
        }
        sim_core::rng::between(rng, low_step, high_step) as f64 / PROBABILITY_STEPS
    }
    fn exceeds(self, other: f64) -> bool {
        self > other
    }
    fn render(self) -> String {
        format!("{self}")
    }
}

impl Sample for SimDuration {
    fn draw(rng: &mut SimRng, low: SimDuration, high: SimDuration) -> SimDuration {
        crate::nemesis::draw(rng, [low, high])
    }
    fn exceeds(self, other: SimDuration) -> bool {
        self > other
    }
    fn render(self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::Scenario;
    use sim_core::{Latency, SimDuration};

    const FAMILY: &str = r#"
duration = "10s"
[cluster]
nodes = [3, 7]
[protocol]
name = "beat"
interval = "100ms"
[network]
latency = { min = ["1ms", "3ms"], max = ["5ms", "50ms"] }
drop = [0.0, 0.1]
duplicate = 0.01
"#;

    #[test]
    fn a_family_parses_at_its_low_ends_and_records_its_ranges() {
        let s = Scenario::parse("f.toml", FAMILY).expect("valid");
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.network.drop_probability, 0.0);
        let fields: Vec<&str> = s.ranges.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "cluster.nodes",
                "network.latency.min",
                "network.latency.max",
                "network.drop"
            ]
        );
        assert!(s.sampled.is_empty());
    }

    #[test]
    fn each_seed_samples_its_own_member_the_same_way_every_time() {
        let s = Scenario::parse("f.toml", FAMILY).expect("valid");
        let mut counts = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let a = s.sample(seed).expect("sampled");
            let b = s.sample(seed).expect("sampled");
            assert_eq!(a.node_names, b.node_names);
            assert_eq!(a.network, b.network);
            assert_eq!(a.sampled, b.sampled);
            assert!((3..=7).contains(&a.node_count()));
            assert!((0.0..=0.1).contains(&a.network.drop_probability));
            assert_eq!(a.network.duplicate_probability, 0.01);
            let Latency::Uniform { min, max } = a.network.latency else {
                panic!("a uniform latency stays uniform")
            };
            assert!(min <= max, "crossed draws are resolved");
            assert!(min >= SimDuration::from_millis(1) && max <= SimDuration::from_millis(50));
            assert_eq!(a.sampled.len(), 4);
            counts.insert(a.node_count());
        }
        assert!(
            counts.len() >= 4,
            "the node count hardly varies: {counts:?}"
        );
    }

    #[test]
    fn a_fixed_scenario_is_its_own_sample() {
        let text = FAMILY
            .replace("[3, 7]", "4")
            .replace("[0.0, 0.1]", "0.2")
            .replace("[\"1ms\", \"3ms\"]", "\"1ms\"")
            .replace("[\"5ms\", \"50ms\"]", "\"5ms\"");
        let s = Scenario::parse("f.toml", &text).expect("valid");
        assert!(s.ranges.is_empty());
        let sampled = s.sample(9).expect("sampled");
        assert_eq!(sampled.node_count(), 4);
        assert!(sampled.sampled.is_empty());
    }

    #[test]
    fn both_ends_of_a_range_are_validated() {
        let high = FAMILY.replace("[3, 7]", "[3, 99]");
        let e = Scenario::parse("f.toml", &high).expect_err("too many nodes");
        assert!(e.message.contains("high end"), "{e}");
        assert_eq!(e.field, "cluster.nodes");
        let crossed = FAMILY.replace("[0.0, 0.1]", "[0.3, 0.1]");
        let e = Scenario::parse("f.toml", &crossed).expect_err("crossed");
        assert!(e.message.contains("above its high end"), "{e}");
        let long = FAMILY.replace("[0.0, 0.1]", "[0.0, 0.1, 0.2]");
        let e = Scenario::parse("f.toml", &long).expect_err("three values");
        assert!(e.line > 0, "{e}");
        let with_fault =
            format!("{FAMILY}\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"n5\"\n");
        let e = Scenario::parse("f.toml", &with_fault).expect_err("n5 is missing at the low end");
        assert!(e.message.contains("n5"), "{e}");
    }
}
