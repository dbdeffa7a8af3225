//! Proptest strategies for scenarios: network settings, fault schedules, and whole scenarios of a
//! protocol, for property tests in this workspace and in users' crates (feature `proptest`).
//!
//! Every strategy produces valid values: a generated [`Scenario`] has been written out and parsed
//! again ([`crate::emit::reparse`]), so it is exactly what its file would say, and a failing case
//! can be saved with [`crate::emit::to_toml`] and run with `sim run`. Fault schedules are vectors
//! in time order, so proptest shrinks a failing case by removing faults first, then by simplifying
//! the ones left (earlier, shorter, fewer nodes).
//!
//! ```
//! use proptest::prelude::*;
//! use sim_scenario::strategies::{scenarios, Family};
//! use sim_scenario::Scenario;
//!
//! let base = Scenario::parse(
//!     "base.toml",
//!     "duration = \"5s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"raft\"\n",
//! )
//! .unwrap();
//! // Raft's nemesis aims at its leader (`RaftSuite::declaration().nemesis_roles`).
//! let family = Family::new(base, &["leader"]).nodes(3..=5).max_faults(6);
//! proptest!(|(scenario in scenarios(family))| {
//!     // In a real property: run it (`sim_runner::run`) and assert every check held.
//!     prop_assert!((3..=5).contains(&scenario.node_count()));
//! });
//! ```

use std::ops::RangeInclusive;

use proptest::prelude::*;
use sim_core::{Declaration, Latency, NetworkConfig, NodeId, SimDuration, SimTime};

use crate::fault::{Action, FaultSpec, Shape, Target, Trigger};
use crate::nemesis::NemesisKind;
use crate::Scenario;

fn millis(range: RangeInclusive<u64>) -> impl Strategy<Value = SimDuration> {
    range.prop_map(SimDuration::from_millis)
}

/// A probability in `[0, max]`, in steps of 1/1000; shrinks towards 0.
pub fn probability(max: f64) -> impl Strategy<Value = f64> {
    let steps = (max.clamp(0.0, 1.0) * 1000.0).round() as u64;
    (0..=steps).prop_map(|k| k as f64 / 1000.0)
}

/// A message latency: fixed, uniform, or with a long tail, all within a few tens of ms.
pub fn latency() -> impl Strategy<Value = Latency> {
    prop_oneof![
        millis(1..=5).prop_map(Latency::Fixed),
        (millis(1..=5), millis(0..=20)).prop_map(|(min, extra)| Latency::Uniform {
            min,
            max: min + extra,
        }),
        (
            millis(1..=5),
            millis(0..=10),
            probability(0.1),
            millis(5..=50)
        )
            .prop_map(|(min, extra, p, scale)| Latency::LongTail {
                min,
                max: min + extra,
                tail_probability: p,
                tail_scale: scale,
                tail_shape: 1.5,
                tail_max: SimDuration::from_millis(500),
            }),
    ]
}

/// Network settings: a latency, up to `max_drop` loss and half as much duplication.
pub fn network(max_drop: f64) -> impl Strategy<Value = NetworkConfig> {
    (
        latency(),
        probability(max_drop),
        probability(max_drop / 2.0),
    )
        .prop_map(
            |(latency, drop_probability, duplicate_probability)| NetworkConfig {
                latency,
                drop_probability,
                duplicate_probability,
            },
        )
}

/// One node, a node holding one of `roles` (a family's nemesis roles), or a random node.
pub fn target(node_count: usize, roles: &[&str]) -> impl Strategy<Value = Target> {
    let n = node_count.max(1) as u32;
    let mut options: Vec<BoxedStrategy<Target>> =
        vec![(0..n).prop_map(|i| Target::Nodes(vec![NodeId(i)])).boxed()];
    for role in roles {
        options.push(Just(Target::Role(role.to_string())).boxed());
    }
    options.push(Just(Target::Random).boxed());
    proptest::strategy::Union::new(options)
}

/// One time-triggered fault of a kind in `kinds`, within a fault phase of `duration`, healed
/// after at most `max_fault` (faults the quiet phase would heal anyway need no heal), aimed at
/// nodes or at `roles`.
pub fn fault(
    node_count: usize,
    duration: SimDuration,
    kinds: Vec<NemesisKind>,
    max_fault: SimDuration,
    roles: &[&str],
) -> impl Strategy<Value = FaultSpec> {
    let kinds = or_crash(kinds);
    let duration_ms = (duration.0 / 1_000_000).max(1);
    let max_fault_ms = (max_fault.0 / 1_000_000).max(1);
    let n = node_count.max(1);
    (
        0..duration_ms,
        proptest::sample::select(kinds),
        target(n, roles),
        100..=max_fault_ms.max(100),
        any::<u64>(),
    )
        .prop_map(move |(at_ms, kind, target, lasts_ms, pick)| {
            let lasts = Some(SimDuration::from_millis(lasts_ms));
            let action = match kind {
                NemesisKind::Crash => Action::Crash {
                    target,
                    restart_after: lasts,
                },
                NemesisKind::Pause => Action::Pause {
                    target,
                    duration: SimDuration::from_millis(lasts_ms),
                },
                NemesisKind::Partition => {
                    let Some(shape) = partition_shape(n, target, pick) else {
                        return FaultSpec {
                            trigger: Trigger::At(SimTime::ZERO + SimDuration::from_millis(at_ms)),
                            action: Action::Heal,
                            line: 0,
                        };
                    };
                    Action::Partition {
                        shape,
                        one_way: false,
                        heal_after: lasts,
                    }
                }
                NemesisKind::Clock => Action::Clock {
                    target,
                    offset_ns: ((pick % 801) as i64 - 400) * 1_000_000,
                    drift_ppm: ((pick >> 16) % 20_001) as i64 - 10_000,
                    heal_after: lasts,
                },
                NemesisKind::Network => Action::Network {
                    network: NetworkConfig {
                        latency: Latency::Uniform {
                            min: SimDuration::from_millis(1),
                            max: SimDuration::from_millis(1 + pick % 50),
                        },
                        drop_probability: ((pick >> 8) % 200) as f64 / 1000.0,
                        duplicate_probability: 0.0,
                    },
                    heal_after: lasts,
                },
            };
            FaultSpec {
                trigger: Trigger::At(SimTime::ZERO + SimDuration::from_millis(at_ms)),
                action,
                line: 0,
            }
        })
}

/// A partition shape picked by `pick` that a cluster of `n` nodes can form: a shape it is too
/// small for (an error in a file) becomes isolating one node, and on a single node, where
/// nothing can be cut, there is none.
fn partition_shape(n: usize, target: Target, pick: u64) -> Option<Shape> {
    let shape = match pick % 4 {
        0 => Shape::Isolate(target),
        1 => Shape::Halves,
        2 => Shape::MajorityRing,
        _ => Shape::Bridge,
    };
    match shape.problem(n, |_| 0) {
        None => Some(shape),
        Some(_) if n >= 2 => Some(Shape::Isolate(Target::Random)),
        Some(_) => None,
    }
}

/// `kinds`, or crashes when it is empty.
fn or_crash(kinds: Vec<NemesisKind>) -> Vec<NemesisKind> {
    if kinds.is_empty() {
        vec![NemesisKind::Crash]
    } else {
        kinds
    }
}

/// Up to `max_faults` faults in time order, aimed at nodes or at `roles`; shrinking removes
/// faults first.
pub fn fault_schedule(
    node_count: usize,
    duration: SimDuration,
    kinds: Vec<NemesisKind>,
    max_faults: usize,
    max_fault: SimDuration,
    roles: &[&str],
) -> impl Strategy<Value = Vec<FaultSpec>> {
    proptest::collection::vec(
        fault(node_count, duration, kinds, max_fault, roles),
        0..=max_faults,
    )
    .prop_map(|mut faults| {
        faults.sort_by_key(|f| match f.trigger {
            Trigger::At(t) => t,
            Trigger::OnEvent { .. } => SimTime::ZERO,
        });
        faults
    })
}

/// A family of scenarios around a base: its protocol, workload and checks, with the cluster
/// size, the network and the fault schedule generated.
#[derive(Debug, Clone)]
pub struct Family {
    pub base: Scenario,
    pub nodes: RangeInclusive<usize>,
    pub kinds: Vec<NemesisKind>,
    pub max_faults: usize,
    /// The longest a generated fault lasts.
    pub max_fault: SimDuration,
    /// The most loss the network may have (duplication: half as much).
    pub max_drop: f64,
    /// The roles faults may aim at: the family's nemesis roles.
    pub roles: Vec<String>,
    /// The kinds of node a generated cluster is made of (`[cluster] kinds`); empty for a
    /// family with one kind.
    pub node_kinds: Vec<String>,
}

impl Family {
    /// The base's cluster size, every fault kind, up to 5 faults of up to 3 s, up to 5% loss,
    /// faults aimed at nodes and at `roles` (the family's nemesis roles), one kind of node.
    pub fn new(base: Scenario, roles: &[&str]) -> Family {
        let n = base.node_count();
        Family {
            base,
            nodes: n..=n,
            kinds: vec![
                NemesisKind::Crash,
                NemesisKind::Pause,
                NemesisKind::Partition,
                NemesisKind::Clock,
                NemesisKind::Network,
            ],
            max_faults: 5,
            max_fault: SimDuration::from_secs(3),
            max_drop: 0.05,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            node_kinds: Vec::new(),
        }
    }

    /// Clusters made of these kinds of node, each node's kind drawn.
    pub fn node_kinds(mut self, kinds: &[&str]) -> Family {
        self.node_kinds = kinds.iter().map(|k| k.to_string()).collect();
        self
    }

    pub fn nodes(mut self, nodes: RangeInclusive<usize>) -> Family {
        self.nodes = nodes;
        self
    }

    pub fn kinds(mut self, kinds: &[NemesisKind]) -> Family {
        self.kinds = kinds.to_vec();
        self
    }

    pub fn max_faults(mut self, max_faults: usize) -> Family {
        self.max_faults = max_faults;
        self
    }

    pub fn max_fault(mut self, max_fault: SimDuration) -> Family {
        self.max_fault = max_fault;
        self
    }

    pub fn max_drop(mut self, max_drop: f64) -> Family {
        self.max_drop = max_drop;
        self
    }
}

/// Scenarios of `family`: its base with a generated cluster size (and kinds, if the family
/// has some), network and explicit fault schedule (the base's own faults and nemesis are
/// replaced).
pub fn scenarios(family: Family) -> impl Strategy<Value = Scenario> {
    let Family {
        base,
        nodes,
        kinds,
        max_faults,
        max_fault,
        max_drop,
        roles,
        node_kinds,
    } = family;
    let duration = base.duration;
    nodes.prop_flat_map(move |n| {
        let base = base.clone();
        let node_kinds = node_kinds.clone();
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        let kind_count = node_kinds.len().max(1);
        (
            network(max_drop),
            fault_schedule(n, duration, kinds.clone(), max_faults, max_fault, &roles),
            proptest::collection::vec(0..kind_count, n),
        )
            .prop_filter_map(
                "a generated scenario must parse",
                move |(net, faults, mut kind_of)| {
                    let mut s = base.clone();
                    s.node_names = (1..=n).map(|i| format!("n{i}")).collect();
                    // Nodes are numbered kind by kind, as a file's kinds number them.
                    kind_of.sort();
                    s.node_kinds = kind_of
                        .iter()
                        .map(|&k| node_kinds.get(k).map_or(Declaration::DEFAULT_KIND, |k| k))
                        .map(str::to_string)
                        .collect();
                    s.network = net;
                    s.faults = faults;
                    s.nemesis = None;
                    s.ranges.clear();
                    crate::emit::reparse(&s).ok()
                },
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    const BASE: &str = r#"
duration = "10s"
quiet = "2s"
[cluster]
nodes = 3
[protocol]
name = "beat"
interval = "100ms"
"#;

    #[test]
    fn generated_scenarios_parse_and_round_trip() {
        let base = Scenario::parse("base.toml", BASE).expect("valid");
        let plain = Family::new(base.clone(), &["leader"]);
        let kinds = Family::new(base, &["coordinator", "holder"])
            .node_kinds(&["coordinator", "participant"]);
        let mut kinds_seen = 0;
        for family in [plain, kinds] {
            let strategy = scenarios(family.nodes(3..=5).max_faults(6));
            let mut runner = TestRunner::deterministic();
            for _ in 0..50 {
                let s = strategy.new_tree(&mut runner).expect("a value").current();
                assert!((3..=5).contains(&s.node_count()));
                assert_eq!(s.node_kinds.len(), s.node_count());
                assert!(s.faults.len() <= 6);
                let again =
                    Scenario::parse("again.toml", &crate::emit::to_toml(&s, "")).expect("valid");
                assert_eq!(again.faults, s.faults);
                assert_eq!(again.network, s.network);
                assert_eq!(again.node_kinds, s.node_kinds);
                kinds_seen += usize::from(s.node_kinds.iter().any(|k| k == "participant"));
            }
        }
        assert!(kinds_seen > 25, "kinds were rarely generated: {kinds_seen}");
    }

    #[test]
    fn shrinking_removes_faults() {
        let base = Scenario::parse("base.toml", BASE).expect("valid");
        let strategy = scenarios(Family::new(base, &["leader"]).max_faults(6));
        let mut runner = TestRunner::deterministic();
        let mut tree = loop {
            let tree = strategy.new_tree(&mut runner).expect("a value");
            if tree.current().faults.len() >= 4 {
                break tree;
            }
        };
        // Simplify as long as proptest can: a property that always fails shrinks to no faults.
        while tree.simplify() {}
        assert!(
            tree.current().faults.is_empty(),
            "{:?}",
            tree.current().faults
        );
    }
}
