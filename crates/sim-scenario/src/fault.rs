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
        }
    }
}

/// `-300ms`, `+1.5s`: an offset in the scenario file's own notation.
pub fn signed_duration(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    format!("{sign}{}", SimDuration(ns.unsigned_abs()))
}
