//! What a fault does, by kind: crash, restart, pause, partition (by shape), heal, clock, network.

use sim_core::{NodeId, SimDuration};

use super::fault::FaultAt;
use super::Builder;
use crate::error::ScenarioError;
use crate::fault::{Action, Shape};
use crate::raw::RawNetwork;
use crate::DRIFT_PPM_MAX;

impl Builder<'_> {
    /// The action of a fault whose kind and fields [`Builder::check_fields`] accepted.
    pub(super) fn action(&self, fault: &FaultAt<'_>) -> Result<Action, ScenarioError> {
        let raw = fault.raw();
        let heal_after = raw.heal_after.as_ref().map(|d| *d.get_ref());
        match raw.kind.get_ref().as_str() {
            "crash" => Ok(Action::Crash {
                target: self.target(fault)?,
                restart_after: raw.restart_after.as_ref().map(|d| *d.get_ref()),
            }),
            "restart" => Ok(Action::Restart {
                target: self.target(fault)?,
            }),
            "pause" => {
                let duration = raw.for_.as_ref().ok_or_else(|| {
                    self.at(
                        fault.spanned,
                        &fault.field("for"),
                        "missing: how long the pause lasts, e.g. for = \"2s\"",
                    )
                })?;
                Ok(Action::Pause {
                    target: self.target(fault)?,
                    duration: *duration.get_ref(),
                })
            }
            "partition" => {
                let shape = self.shape(fault)?;
                self.formable(fault, &shape)?;
                Ok(Action::Partition {
                    shape,
                    one_way: raw.one_way.unwrap_or(false),
                    heal_after,
                })
            }
            "heal" => Ok(Action::Heal),
            "clock" => self.clock(fault),
            _ => self.network_fault(fault),
        }
    }

    fn shape(&self, fault: &FaultAt<'_>) -> Result<Shape, ScenarioError> {
        let raw = fault.raw();
        let default = if raw.groups.is_some() {
            "split"
        } else {
            "isolate"
        };
        let shape_name = raw.shape.as_ref().map_or(default, |s| s.get_ref().as_str());
        match shape_name {
            "isolate" => Ok(Shape::Isolate(self.target(fault)?)),
            "split" => self.split(fault),
            "majority-ring" | "bridge" if raw.nodes.is_some() => self.ordered(fault, shape_name),
            "halves" | "majority-ring" | "bridge" => {
                if raw.node.is_some() || raw.nodes.is_some() || raw.groups.is_some() {
                    return Err(self.at(
                        fault.spanned,
                        &fault.field("shape"),
                        format!("the {shape_name} shape takes neither node nor groups"),
                    ));
                }
                Ok(match shape_name {
                    "halves" => Shape::Halves,
                    "majority-ring" => Shape::MajorityRing,
                    _ => Shape::Bridge,
                })
            }
            other => {
                let span = raw
                    .shape
                    .as_ref()
                    .map_or(fault.spanned.span(), |s| s.span());
                Err(self.source.error_at(span.start, &fault.field("shape"), format!("expected one of isolate, split, halves, majority-ring, bridge, found {other:?}")))
            }
        }
    }

    /// A partition the file names that cannot be formed on the cluster it describes (a bridge
    /// of two nodes, a split whose one group holds every node, isolating a minority of two)
    /// could never take effect: an error at the field that names it. At the low and high ends
    /// of a ranged node count, each is checked.
    fn formable(&self, fault: &FaultAt<'_>, shape: &Shape) -> Result<(), ScenarioError> {
        let scenario = fault.scenario;
        let Some(problem) = shape.problem(scenario.node_count(), |kind| {
            scenario.nodes_of_kind(kind).count()
        }) else {
            return Ok(());
        };
        let raw = fault.raw();
        let (field, offset) = match shape {
            Shape::Split(_) => ("groups", raw.groups.as_ref().map(|g| g.span().start)),
            Shape::Isolate(_) | Shape::RingOf(_) | Shape::BridgeOf(_) if raw.nodes.is_some() => {
                ("nodes", raw.nodes.as_ref().map(|n| n.span().start))
            }
            Shape::Isolate(_) => ("node", raw.node.as_ref().map(|n| n.span().start)),
            _ => ("shape", raw.shape.as_ref().map(|s| s.span().start)),
        };
        let offset = offset.unwrap_or(fault.spanned.span().start);
        Err(self.source.error_at(
            offset,
            &fault.field(field),
            format!("this partition cannot be formed: {problem}"),
        ))
    }

    /// A majority ring or a bridge in the order `nodes` gives: every node of the cluster once
    /// (for a bridge, the middle one is the bridge).
    fn ordered(&self, fault: &FaultAt<'_>, shape_name: &str) -> Result<Shape, ScenarioError> {
        let raw = fault.raw();
        let field = fault.field("nodes");
        if raw.node.is_some() || raw.groups.is_some() {
            return Err(self.at(
                fault.spanned,
                &field,
                format!(
                    "the {shape_name} shape takes its order as nodes, and neither node nor groups"
                ),
            ));
        }
        let Some(nodes) = raw.nodes.as_ref() else {
            return Err(self.at(fault.spanned, &field, "missing: the order of the nodes"));
        };
        let mut order = Vec::new();
        for name in nodes.get_ref() {
            let id = self.node_named(fault, name, "nodes")?;
            if order.contains(&id) {
                let message = format!("{:?} is listed twice", name.get_ref());
                return Err(self.at(name, &field, message));
            }
            order.push(id);
        }
        let n = fault.scenario.node_count();
        if order.len() != n {
            return Err(self.at(
                nodes,
                &field,
                format!(
                    "the {shape_name} shape's order lists every node once; the cluster has {n}, \
                     the order {}",
                    order.len()
                ),
            ));
        }
        Ok(if shape_name == "bridge" {
            Shape::BridgeOf(order)
        } else {
            Shape::RingOf(order)
        })
    }

    fn split(&self, fault: &FaultAt<'_>) -> Result<Shape, ScenarioError> {
        let raw = fault.raw();
        let groups = raw.groups.as_ref().ok_or_else(|| {
            self.at(
                fault.spanned,
                &fault.field("groups"),
                "missing: a split needs groups = [[\"n1\"], [\"n2\", \"n3\"]]",
            )
        })?;
        if groups.get_ref().is_empty() {
            return Err(self.at(
                groups,
                &fault.field("groups"),
                "expected at least one group: a split of no group changes nothing",
            ));
        }
        let mut ids: Vec<Vec<NodeId>> = Vec::new();
        let mut seen: Vec<NodeId> = Vec::new();
        for group in groups.get_ref() {
            if group.is_empty() {
                return Err(self.at(
                    groups,
                    &fault.field("groups"),
                    "expected every group to name at least one node, found an empty group",
                ));
            }
            let mut g = Vec::new();
            for name in group {
                let id = self.node_named(fault, name, "groups")?;
                if seen.contains(&id) {
                    return Err(self.at(
                        name,
                        &fault.field("groups"),
                        format!("{:?} is in two groups", name.get_ref()),
                    ));
                }
                seen.push(id);
                g.push(id);
            }
            ids.push(g);
        }
        if raw.node.is_some() || raw.nodes.is_some() {
            return Err(self.at(
                fault.spanned,
                &fault.field("node"),
                "a split takes groups, not node",
            ));
        }
        Ok(Shape::Split(ids))
    }

    fn clock(&self, fault: &FaultAt<'_>) -> Result<Action, ScenarioError> {
        let raw = fault.raw();
        let offset_ns = self.clock_offset(fault)?;
        let drift_ppm = match &raw.drift_ppm {
            None => 0,
            Some(d) if d.get_ref().abs() < DRIFT_PPM_MAX => *d.get_ref(),
            Some(d) => {
                return Err(self.at(
                    d,
                    &fault.field("drift_ppm"),
                    format!(
                        "expected a drift within ±{DRIFT_PPM_MAX} ppm, found {}",
                        d.get_ref()
                    ),
                ))
            }
        };
        if raw.offset.is_none() && raw.drift_ppm.is_none() {
            return Err(self.at(
                fault.spanned,
                &fault.field("offset"),
                "a clock fault needs offset, drift_ppm, or both",
            ));
        }
        Ok(Action::Clock {
            target: self.target(fault)?,
            offset_ns,
            drift_ppm,
            heal_after: fault.raw().heal_after.as_ref().map(|d| *d.get_ref()),
        })
    }

    /// A clock fault's `offset = "-300ms"`, in nanoseconds; 0 when absent.
    fn clock_offset(&self, fault: &FaultAt<'_>) -> Result<i64, ScenarioError> {
        let Some(o) = &fault.raw().offset else {
            return Ok(0);
        };
        let text = o.get_ref();
        let (negative, magnitude) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let d = SimDuration::parse(magnitude)
            .map_err(|e| self.at(o, &fault.field("offset"), e.to_string()))?;
        if d > SimDuration::from_secs(24 * 3600) {
            return Err(self.at(
                o,
                &fault.field("offset"),
                format!("an offset of {d} is absurd; at most 24h"),
            ));
        }
        Ok(if negative { -(d.0 as i64) } else { d.0 as i64 })
    }

    fn network_fault(&self, fault: &FaultAt<'_>) -> Result<Action, ScenarioError> {
        let raw = fault.raw();
        let change = RawNetwork {
            latency: raw.latency.clone(),
            drop: raw.drop.clone(),
            duplicate: raw.duplicate.clone(),
            client_latency: None,
        };
        if change.latency.is_none() && change.drop.is_none() && change.duplicate.is_none() {
            return Err(self.at(
                fault.spanned,
                &fault.field("latency"),
                "a network fault needs latency, drop or duplicate",
            ));
        }
        let base = &fault.scenario.network;
        let field = format!("faults[{}]", fault.index);
        let (network, _) = self.network(&change, base, &field)?;
        Ok(Action::Network {
            network,
            heal_after: raw.heal_after.as_ref().map(|d| *d.get_ref()),
        })
    }
}
