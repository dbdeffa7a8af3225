//! The fault schedule: what to break, when (a time or a protocol event), and for how long.
//!
//! A [`FaultSpec`] is explicit: it names a trigger and an action. Node targets may still be
//! dynamic (`leader`, `role:NAME`, `random`, `minority`, `reporter`, `kind:KIND`,
//! `random:KIND`): they are resolved when the fault fires, from the run's fault stream, so the
//! same seed always resolves them the same way.

use std::fmt;

use sim_core::{NetworkConfig, NodeId, SimDuration, SimTime};

/// When a fault fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    At(SimTime),
    /// Right after the handler whose reports include the `occurrence`-th event named `event`
    /// (counting only those at or after `not_before`).
    OnEvent {
        event: String,
        occurrence: u32,
        not_before: SimTime,
    },
}

/// Which nodes a fault hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Nodes(Vec<NodeId>),
    /// The nodes whose process says it holds this role (`leader`, `coordinator`).
    Role(String),
    /// One node drawn at random.
    Random,
    /// Every node of this kind (`kind:participant`).
    Kind(String),
    /// One node of this kind, drawn at random when the fault fires (`random:participant`).
    RandomOfKind(String),
    /// A random minority: `floor((n - 1) / 2)` nodes.
    Minority,
    /// The node that reported the triggering event.
    Reporter,
    /// Client `cK` (numbered from 0 here), which lives beside its home node: only a pause or a
    /// partition's `isolate` (cutting it off from every node) can aim at it.
    Client(u32),
}

/// How a partition cuts the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// The target nodes cut off from the rest.
    Isolate(Target),
    /// Explicit groups; nodes in no group form one more.
    Split(Vec<Vec<NodeId>>),
    /// Two random halves.
    Halves,
    /// Every node sees a different majority.
    MajorityRing,
    /// Two halves joined by one node that sees both.
    Bridge,
    /// The majority ring in this order (every node once): a drawn ring written out, so that
    /// it no longer draws from the run's fault stream (`sim shrink` pins draws this way).
    RingOf(Vec<NodeId>),
    /// The bridge in this order (every node once): the first half, the bridge (the middle
    /// node, at `len / 2`), the second half.
    BridgeOf(Vec<NodeId>),
}

/// The fewest nodes a majority ring needs: on three nodes or fewer every node is a neighbour of
/// every other on the ring, so the ring cuts nothing.
pub const MAJORITY_RING_NODES_MIN: usize = 4;
/// The fewest nodes a bridge needs: two sides and the node joining them.
pub const BRIDGE_NODES_MIN: usize = 3;

impl Shape {
    /// Why this shape cannot be formed on a cluster of `node_count` nodes (a side would be
    /// empty, or nothing would be cut), in words; `None` when it can. A selector that names no
    /// fixed nodes (`leader`, `random`, `role:`, `reporter`) counts as one node here; the driver
    /// asks [`isolation_problem`] again once it has resolved the nodes. `kind_count` gives how
    /// many nodes a `kind:` selector names.
    pub fn problem(&self, node_count: usize, kind_count: impl Fn(&str) -> usize) -> Option<String> {
        match self {
            Shape::Halves if node_count < 2 => Some(format!(
                "halves need at least 2 nodes, one on each side; the cluster has {node_count}"
            )),
            Shape::MajorityRing if node_count < MAJORITY_RING_NODES_MIN => Some(format!(
                "a majority ring needs at least {MAJORITY_RING_NODES_MIN} nodes (on fewer it \
                 cuts nothing); the cluster has {node_count}"
            )),
            Shape::Bridge if node_count < BRIDGE_NODES_MIN => Some(format!(
                "a bridge needs at least {BRIDGE_NODES_MIN} nodes (two sides and the bridge); \
                 the cluster has {node_count}"
            )),
            Shape::RingOf(order) => Shape::MajorityRing.problem(order.len(), kind_count),
            Shape::BridgeOf(order) => Shape::Bridge.problem(order.len(), kind_count),
            Shape::Split(groups) => split_problem(groups, node_count),
            Shape::Isolate(target) => {
                let isolated = match target {
                    Target::Nodes(nodes) => nodes.len(),
                    Target::Kind(kind) => kind_count(kind),
                    Target::Minority => node_count.saturating_sub(1) / 2,
                    // A client is cut off from every node, whatever their number.
                    Target::Client(_) => return None,
                    Target::Role(_)
                    | Target::Random
                    | Target::RandomOfKind(_)
                    | Target::Reporter => 1,
                };
                isolation_problem(target, isolated, node_count)
            }
            _ => None,
        }
    }
}

/// Why isolating `isolated` nodes (named by `target`) of `node_count` cannot be formed: none
/// to isolate, or every node isolated, which leaves no other side.
pub fn isolation_problem(target: &Target, isolated: usize, node_count: usize) -> Option<String> {
    if isolated == 0 {
        return Some(match target {
            Target::Minority => {
                format!("a minority of {node_count} nodes is no node: nothing to isolate")
            }
            _ => format!("{target} names no node: nothing to isolate"),
        });
    }
    (isolated >= node_count).then(|| {
        format!(
            "isolating {target} cuts off every node of the {node_count}, leaving no other side: \
             nothing is cut"
        )
    })
}

/// Why a split into `groups` (nodes in no group forming one more) cannot be formed on
/// `node_count` nodes: an empty group, a node outside the cluster, or fewer than two sides.
pub fn split_problem(groups: &[Vec<NodeId>], node_count: usize) -> Option<String> {
    if let Some(i) = groups.iter().position(Vec::is_empty) {
        return Some(format!("group {} of the split is empty", i + 1));
    }
    if let Some(n) = groups.iter().flatten().find(|n| n.index() >= node_count) {
        return Some(format!("{n} is not in the cluster of {node_count} nodes"));
    }
    let grouped: std::collections::BTreeSet<NodeId> = groups.iter().flatten().copied().collect();
    let sides = groups.len() + usize::from(grouped.len() < node_count);
    (sides < 2).then(|| {
        "a split needs two sides, but its one group holds every node: nothing is cut".to_string()
    })
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Crash {
        target: Target,
        restart_after: Option<SimDuration>,
    },
    Restart {
        target: Target,
    },
    Pause {
        target: Target,
        duration: SimDuration,
    },
    Partition {
        shape: Shape,
        one_way: bool,
        heal_after: Option<SimDuration>,
    },
    /// Heals every partition.
    Heal,
    Clock {
        target: Target,
        offset_ns: i64,
        drift_ppm: i64,
        heal_after: Option<SimDuration>,
    },
    /// Replaces the network's behaviour (a latency spike, a lossy spell), restored after.
    Network {
        network: NetworkConfig,
        heal_after: Option<SimDuration>,
    },
}

/// One fault of the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub trigger: Trigger,
    pub action: Action,
    /// Where it was written (0 for a fault the nemesis generated).
    pub line: usize,
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Crash { .. } => "crash",
            Action::Restart { .. } => "restart",
            Action::Pause { .. } => "pause",
            Action::Partition { .. } => "partition",
            Action::Heal => "heal",
            Action::Clock { .. } => "clock",
            Action::Network { .. } => "network",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Nodes(nodes) => {
                let names: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
                write!(f, "{}", names.join(","))
            }
            Target::Role(role) => write!(f, "{role}"),
            Target::Random => write!(f, "random"),
            Target::Kind(kind) => write!(f, "kind:{kind}"),
            Target::RandomOfKind(kind) => write!(f, "random:{kind}"),
            Target::Minority => write!(f, "minority"),
            Target::Reporter => write!(f, "reporter"),
            Target::Client(client) => write!(f, "client:c{}", client + 1),
        }
    }
}

impl fmt::Display for FaultSpec {
    /// One line: `at 10s: partition isolate leader, heal after 10s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.trigger {
            Trigger::At(t) => write!(f, "at {t}: ")?,
            Trigger::OnEvent {
                event, occurrence, ..
            } => write!(f, "on {event} #{occurrence}: ")?,
        }
        match &self.action {
            Action::Crash {
                target,
                restart_after,
            } => {
                write!(f, "crash {target}")?;
                if let Some(d) = restart_after {
                    write!(f, ", restart after {d}")?;
                }
            }
            Action::Restart { target } => write!(f, "restart {target}")?,
            Action::Pause { target, duration } => write!(f, "pause {target} for {duration}")?,
            Action::Partition {
                shape,
                one_way,
                heal_after,
            } => {
                write!(f, "partition {shape}")?;
                if *one_way {
                    write!(f, " (one way)")?;
                }
                if let Some(d) = heal_after {
                    write!(f, ", heal after {d}")?;
                }
            }
            Action::Heal => write!(f, "heal")?,
            Action::Clock {
                target,
                offset_ns,
                drift_ppm,
                heal_after,
            } => {
                write!(
                    f,
                    "clock {target} offset {} drift {drift_ppm}ppm",
                    signed_duration(*offset_ns)
                )?;
                if let Some(d) = heal_after {
                    write!(f, ", heal after {d}")?;
                }
            }
            Action::Network {
                network,
                heal_after,
            } => {
                write!(
                    f,
                    "network latency up to {} drop {} duplicate {}",
                    network.latency.max(),
                    network.drop_probability,
                    network.duplicate_probability
                )?;
                if let Some(d) = heal_after {
                    write!(f, ", heal after {d}")?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Shape {
    /// `isolate leader`, `split n1,n2 | n3`, `halves`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Isolate(t) => write!(f, "isolate {t}"),
            Shape::Split(groups) => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        g.iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .collect();
                write!(f, "split {}", groups.join(" | "))
            }
            Shape::Halves => write!(f, "halves"),
            Shape::MajorityRing => write!(f, "majority-ring"),
            Shape::Bridge => write!(f, "bridge"),
            Shape::RingOf(order) => write!(f, "majority-ring {}", names(order)),
            Shape::BridgeOf(order) => write!(f, "bridge {}", names(order)),
        }
    }
}

/// `n1,n2,n3`.
fn names(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// `-300ms`, `+1.5s`: an offset in the scenario file's own notation.
pub fn signed_duration(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    format!("{sign}{}", SimDuration(ns.unsigned_abs()))
}
