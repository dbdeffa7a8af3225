//! What the ticket family declares to the tool, and how it builds each node by its kind.
//!
//! Scenario tables, each rejecting unknown keys:
//! - `[cluster] kinds = { sequencer = 1, replica = 3 }`: exactly one sequencer, one or more
//!   replicas.
//! - `[protocol]`: `name = "tickets"`, `bugs = []` (see [`crate::bugs`]).
//! - `[workload]`: `clients` (default 3), `think` (default `"20ms"`), `timeout` (default
//!   `"300ms"`).
//! - `[checks]`: none.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;
use sim_core::{
    Check, ClusterInfo, Declaration, NodeId, RunInfo, SimDuration, Simulation, Suite, SuiteError,
    Workload,
};

use crate::bugs::Bug;
use crate::checks::{Granted, Unique};
use crate::node::{Config, Replica, Sequencer, TicketEvent, TicketNode};
use crate::workload::TicketClients;

/// `[protocol]` less its name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub bugs: Vec<Bug>,
}

/// `[workload]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadParams {
    pub clients: usize,
    pub think: SimDuration,
    pub timeout: SimDuration,
}

impl Default for WorkloadParams {
    fn default() -> Self {
        WorkloadParams {
            clients: 3,
            think: SimDuration::from_millis(20),
            timeout: SimDuration::from_millis(300),
        }
    }
}

/// `[checks]`: nothing to set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {}

/// The ticket family.
pub struct TicketSuite {
    config: Arc<Config>,
    workload: WorkloadParams,
}

impl Suite for TicketSuite {
    type P = TicketNode;
    type Params = Params;
    type WorkloadParams = WorkloadParams;
    type CheckParams = CheckParams;

    const NAME: &'static str = "tickets";

    fn declaration() -> Declaration {
        Declaration {
            kinds: vec!["sequencer", "replica"],
            roles: vec!["serving"],
            nemesis_roles: vec!["serving"],
            events: TicketEvent::NAMES.to_vec(),
            checks: vec![Unique::NAME, Granted::NAME],
            bugs: Bug::ALL.iter().map(|b| b.name()).collect(),
        }
    }

    fn new(
        cluster: &ClusterInfo,
        params: Params,
        workload: WorkloadParams,
        _checks: CheckParams,
    ) -> Result<Self, SuiteError> {
        let sequencers: Vec<NodeId> = cluster.nodes_of_kind("sequencer").collect();
        let replicas: Vec<NodeId> = cluster.nodes_of_kind("replica").collect();
        let [sequencer] = sequencers[..] else {
            return Err(SuiteError::new(
                "cluster.kinds.sequencer",
                format!("expected exactly 1 sequencer, found {}", sequencers.len()),
            ));
        };
        if replicas.is_empty() {
            return Err(SuiteError::new(
                "cluster.kinds.replica",
                "expected at least 1 replica, found 0",
            ));
        }
        if !(1..=64).contains(&workload.clients) {
            return Err(SuiteError::new(
                "workload.clients",
                format!("expected 1 to 64 clients, found {}", workload.clients),
            ));
        }
        for (field, value) in [("think", workload.think), ("timeout", workload.timeout)] {
            if value == SimDuration::ZERO {
                return Err(SuiteError::new(
                    format!("workload.{field}"),
                    "expected a positive duration, found 0s",
                ));
            }
        }
        let bugs: BTreeSet<Bug> = params.bugs.into_iter().collect();
        let config = Config {
            sequencer,
            replicas,
            bugs,
        };
        Ok(TicketSuite {
            config: Arc::new(config),
            workload,
        })
    }

    fn process(&self, node: NodeId) -> TicketNode {
        if node == self.config.sequencer {
            TicketNode::Sequencer(Sequencer::new(Arc::clone(&self.config)))
        } else {
            TicketNode::Replica(Replica::default())
        }
    }

    fn workload(&self) -> Option<Box<dyn Workload<TicketNode>>> {
        Some(Box::new(TicketClients::new(
            self.config.sequencer,
            self.workload.clients,
            self.workload.think,
            self.workload.timeout,
        )))
    }

    fn checks(&self) -> Vec<Box<dyn Check<TicketNode>>> {
        vec![Box::new(Unique::default()), Box::new(Granted::default())]
    }

    fn summary(&self, sim: &Simulation<TicketNode>, _run: &RunInfo) -> Vec<(String, String)> {
        let Some(clients) = sim
            .workload()
            .and_then(|w| (w.as_any() as &dyn Any).downcast_ref::<TicketClients>())
        else {
            return Vec::new();
        };
        let t = clients.tally;
        vec![(
            "clients".to_string(),
            format!(
                "{} tickets granted, {} unavailable, {} timed out",
                t.granted, t.unavailable, t.timed_out
            ),
        )]
    }
}
