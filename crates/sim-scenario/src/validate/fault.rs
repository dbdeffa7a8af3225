//! One `[[faults]]` entry: its trigger (a time or a protocol event), the fields its kind takes,
//! and its node targets. The action of each kind is built in [`super::action`].

use sim_core::{SimDuration, SimTime};
use toml::Spanned;

use super::cluster::is_selector;
use super::Builder;
use crate::error::ScenarioError;
use crate::fault::{FaultSpec, Target, Trigger};
use crate::raw::RawFault;
use crate::Scenario;

/// The highest client number a `client:cK` selector may name.
const CLIENT_SELECTOR_MAX: u32 = 4096;

/// A fault being validated, with what its checks need to say where they are.
pub(super) struct FaultAt<'r> {
    pub(super) spanned: &'r Spanned<RawFault>,
    pub(super) index: usize,
    pub(super) scenario: &'r Scenario,
    pub(super) event_triggered: bool,
}

impl FaultAt<'_> {
    pub(super) fn raw(&self) -> &RawFault {
        self.spanned.get_ref()
    }

    /// The full path of one of its fields: `faults[2].node`.
    pub(super) fn field(&self, name: &str) -> String {
        format!("faults[{}].{name}", self.index)
    }
}

/// The fields each kind of fault takes; `None` for an unknown kind.
fn allowed_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "crash" => &["node", "restart_after"],
        "restart" => &["node"],
        "pause" => &["node", "for"],
        "partition" => &["node", "shape", "groups", "one_way", "heal_after"],
        "heal" => &[],
        "clock" => &["node", "offset", "drift_ppm", "heal_after"],
        "network" => &["latency", "drop", "duplicate", "heal_after"],
        _ => return None,
    })
}

impl Builder<'_> {
    pub(super) fn fault(
        &self,
        spanned: &Spanned<RawFault>,
        index: usize,
        scenario: &Scenario,
    ) -> Result<FaultSpec, ScenarioError> {
        let mut fault = FaultAt {
            spanned,
            index,
            scenario,
            event_triggered: false,
        };
        let line = self.source.line_column(spanned.span().start).0;
        let trigger = self.trigger(&fault)?;
        fault.event_triggered = matches!(trigger, Trigger::OnEvent { .. });
        self.check_fields(&fault)?;
        let action = self.action(&fault)?;
        Ok(FaultSpec {
            trigger,
            action,
            line,
        })
    }

    fn trigger(&self, fault: &FaultAt<'_>) -> Result<Trigger, ScenarioError> {
        let raw = fault.raw();
        match (&raw.at, &raw.on_event) {
            (Some(at), None) => self.at_time(fault, at),
            (None, Some(event)) => self.on_event(fault, event),
            (Some(at), Some(_)) => Err(self.at(
                at,
                &fault.field("at"),
                "give either at or on_event, not both",
            )),
            (None, None) => Err(self.at(
                fault.spanned,
                &fault.field("at"),
                "missing: say when, with at = \"5s\" or on_event = \"became_leader\"",
            )),
        }
    }

    fn at_time(
        &self,
        fault: &FaultAt<'_>,
        at: &Spanned<SimDuration>,
    ) -> Result<Trigger, ScenarioError> {
        let duration = fault.scenario.duration;
        if *at.get_ref() > duration {
            return Err(self.at(
                at,
                &fault.field("at"),
                format!(
                    "{} is after the end of the fault phase ({duration})",
                    at.get_ref()
                ),
            ));
        }
        let raw = fault.raw();
        if raw.occurrence.is_some() || raw.not_before.is_some() {
            return Err(self.at(
                fault.spanned,
                &fault.field("occurrence"),
                "occurrence and not_before go with on_event, not at",
            ));
        }
        Ok(Trigger::At(SimTime::ZERO + *at.get_ref()))
    }

    fn on_event(
        &self,
        fault: &FaultAt<'_>,
        event: &Spanned<String>,
    ) -> Result<Trigger, ScenarioError> {
        let raw = fault.raw();
        let occurrence = match &raw.occurrence {
            None => 1,
            Some(o) if *o.get_ref() >= 1 && *o.get_ref() <= u32::MAX as i64 => *o.get_ref() as u32,
            Some(o) => {
                return Err(self.at(
                    o,
                    &fault.field("occurrence"),
                    format!("expected a count from 1, found {}", o.get_ref()),
                ))
            }
        };
        if event.get_ref().is_empty() {
            return Err(self.at(
                event,
                &fault.field("on_event"),
                "expected an event name such as \"became_leader\"",
            ));
        }
        let not_before = raw
            .not_before
            .as_ref()
            .map_or(SimDuration::ZERO, |d| *d.get_ref());
        if let Some(spanned) = raw.not_before.as_ref() {
            if not_before > fault.scenario.duration {
                let message = format!(
                    "{not_before} is after the end of the fault phase ({}): the fault could \
                     never fire",
                    fault.scenario.duration
                );
                return Err(self.at(spanned, &fault.field("not_before"), message));
            }
        }
        Ok(Trigger::OnEvent {
            event: event.get_ref().clone(),
            occurrence,
            not_before: SimTime::ZERO + not_before,
        })
    }

    /// Rejects an unknown kind, and fields that belong to other kinds: mistakes worth naming.
    fn check_fields(&self, fault: &FaultAt<'_>) -> Result<(), ScenarioError> {
        let raw = fault.raw();
        let kind = raw.kind.get_ref().as_str();
        let Some(allowed) = allowed_fields(kind) else {
            return Err(self.at(&raw.kind, &fault.field("kind"), format!("expected one of crash, restart, pause, partition, heal, clock, network, found {kind:?}")));
        };
        let present: [(&str, bool); 12] = [
            ("node", raw.node.is_some() || raw.nodes.is_some()),
            ("restart_after", raw.restart_after.is_some()),
            ("for", raw.for_.is_some()),
            ("shape", raw.shape.is_some()),
            ("groups", raw.groups.is_some()),
            ("one_way", raw.one_way.is_some()),
            ("heal_after", raw.heal_after.is_some()),
            ("offset", raw.offset.is_some()),
            ("drift_ppm", raw.drift_ppm.is_some()),
            ("latency", raw.latency.is_some()),
            ("drop", raw.drop.is_some()),
            ("duplicate", raw.duplicate.is_some()),
        ];
        for (name, is_present) in present {
            if is_present && !allowed.contains(&name) {
                return Err(self.at(
                    fault.spanned,
                    &fault.field(name),
                    format!(
                        "a {kind} fault takes no {name} (it takes: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The nodes a fault hits, from `node` or `nodes`; one of them is required.
    pub(super) fn target(&self, fault: &FaultAt<'_>) -> Result<Target, ScenarioError> {
        let raw = fault.raw();
        match (&raw.node, &raw.nodes) {
            (Some(_), Some(nodes)) => Err(self.at(
                nodes,
                &fault.field("nodes"),
                "give either node or nodes, not both",
            )),
            (Some(node), None) => self.selector(fault, node),
            (None, Some(nodes)) => {
                let mut ids = Vec::new();
                for name in nodes.get_ref() {
                    let id = self.node_named(fault, name, "nodes")?;
                    if ids.contains(&id) {
                        let message = format!("{:?} is listed twice", name.get_ref());
                        return Err(self.at(name, &fault.field("nodes"), message));
                    }
                    ids.push(id);
                }
                if ids.is_empty() {
                    return Err(self.at(
                        nodes,
                        &fault.field("nodes"),
                        "expected at least one node",
                    ));
                }
                Ok(Target::Nodes(ids))
            }
            (None, None) => Err(self.at(
                fault.spanned,
                &fault.field("node"),
                "missing: say which node, e.g. node = \"n1\" or node = \"leader\"",
            )),
        }
    }

    /// The node called `name`, listed in the fault's field `field`.
    pub(super) fn node_named(
        &self,
        fault: &FaultAt<'_>,
        name: &Spanned<String>,
        field: &str,
    ) -> Result<sim_core::NodeId, ScenarioError> {
        let scenario = fault.scenario;
        if is_selector(name.get_ref()) {
            return Err(self.at(
                name,
                &fault.field(field),
                format!(
                    "{:?} is a selector, and selectors are not allowed in {field}; name the nodes",
                    name.get_ref()
                ),
            ));
        }
        scenario.node(name.get_ref()).ok_or_else(|| {
            self.at(
                name,
                &fault.field(field),
                format!(
                    "no node is called {:?}; the cluster has {}",
                    name.get_ref(),
                    scenario.node_names.join(", ")
                ),
            )
        })
    }

    /// A `node = ...` value: a node's name or a selector.
    fn selector(
        &self,
        fault: &FaultAt<'_>,
        name: &Spanned<String>,
    ) -> Result<Target, ScenarioError> {
        let field = fault.field("node");
        let s = name.get_ref().as_str();
        let prefixed = |prefix: &str| s.strip_prefix(prefix).filter(|rest| !rest.is_empty());
        if let Some(role) = prefixed("role:") {
            return Ok(Target::Role(role.to_string()));
        }
        if let Some(kind) = prefixed("kind:") {
            return self.kind(fault, name, kind).map(Target::Kind);
        }
        if let Some(kind) = prefixed("random:") {
            return self.kind(fault, name, kind).map(Target::RandomOfKind);
        }
        if let Some(client) = prefixed("client:") {
            return self.client(fault, name, client);
        }
        match s {
            "leader" => Ok(Target::Role("leader".to_string())),
            "random" => Ok(Target::Random),
            "minority" => Ok(Target::Minority),
            "reporter" if fault.event_triggered => Ok(Target::Reporter),
            "reporter" => Err(self.at(name, &field, "\"reporter\" names the node that reported the triggering event: it needs on_event")),
            _ => fault.scenario.node(s).map(|n| Target::Nodes(vec![n])).ok_or_else(|| {
                self.at(name, &field, format!("no node is called {s:?}; the cluster has {}, and the selectors are leader, random, minority, reporter, role:NAME, kind:KIND, random:KIND", fault.scenario.node_names.join(", ")))
            }),
        }
    }

    /// The client a `client:cK` selector names; only a pause or an isolating partition may aim
    /// at a client.
    fn client(
        &self,
        fault: &FaultAt<'_>,
        name: &Spanned<String>,
        client: &str,
    ) -> Result<Target, ScenarioError> {
        let field = fault.field("node");
        let kind = fault.raw().kind.get_ref().as_str();
        if fault.raw().one_way == Some(true) {
            let message = "a client is cut off both ways: one_way cannot apply to a client";
            return Err(self.at(name, &field, message));
        }
        if kind != "pause" && kind != "partition" {
            let message = format!(
                "a {kind} cannot aim at a client; a client can be paused or cut off (kind = \"pause\", or kind = \"partition\" with shape = \"isolate\")"
            );
            return Err(self.at(name, &field, message));
        }
        let number = client
            .strip_prefix('c')
            .and_then(|k| k.parse::<u32>().ok())
            .filter(|&k| (1..=CLIENT_SELECTOR_MAX).contains(&k));
        match number {
            Some(k) => Ok(Target::Client(k - 1)),
            None => Err(self.at(
                name,
                &field,
                format!(
                    "expected a client such as client:c1 (c1 to c{CLIENT_SELECTOR_MAX}), found {:?}",
                    name.get_ref()
                ),
            )),
        }
    }

    /// The kind a `kind:` or `random:` selector names: one of the cluster's.
    fn kind(
        &self,
        fault: &FaultAt<'_>,
        name: &Spanned<String>,
        kind: &str,
    ) -> Result<String, ScenarioError> {
        let kinds = fault.scenario.kinds();
        if kinds.contains(&kind) {
            return Ok(kind.to_string());
        }
        let hint = crate::suggest(kind, &kinds)
            .map(|k| format!("did you mean {k:?}? "))
            .unwrap_or_default();
        Err(self.at(
            name,
            &fault.field("node"),
            format!(
                "no node is of kind {kind:?}; {hint}the cluster's kinds ([cluster] kinds) are {}",
                kinds.join(", ")
            ),
        ))
    }
}
