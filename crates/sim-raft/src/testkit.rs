//! A small driver for simulation tests: a [`Simulation`] of Raft nodes with the checks fed the
//! way the runner feeds them, and fault helpers that tell the checks what they did.

use std::sync::Arc;

use sim_core::{
    Check, CheckReport, ClientCtx, NetworkConfig, NodeChange, NodeId, Observation, Phases,
    Reachability, RequestId, SimConfig, SimTime, Simulation, Step, Trace, Violation, Workload,
};
use sim_kv::{KvCheckParams, KvOp, KvRequest, KvResponse, KvWorkload, WorkloadParams};

use crate::checks::{self, RaftCheckParams, SharedRecord};
use crate::node::{RaftEvent, RaftNode};
use crate::params::RaftConfig;

pub fn secs(s: f64) -> SimTime {
    SimTime((s * 1e9) as u64)
}

pub struct Run {
    pub sim: Simulation<RaftNode>,
    checks: Vec<Box<dyn Check<RaftNode>>>,
    pub violation: Option<Violation>,
    quiet_start: Option<SimTime>,
}

impl Run {
    pub fn new(
        config: RaftConfig,
        node_count: usize,
        seed: u64,
        network: NetworkConfig,
        workload: Option<Box<dyn Workload<RaftNode>>>,
    ) -> Self {
        let config = Arc::new(config);
        let mut sim_config = SimConfig::new(seed, node_count);
        sim_config.network = network;
        sim_config.max_events = 20_000_000;
        let factory = Box::new(move |id| RaftNode::new(id, node_count, Arc::clone(&config)));
        let mut sim = Simulation::new(sim_config, factory, Trace::new(None));
        if let Some(workload) = workload {
            sim.set_workload(workload);
        }
        let checks = checks::checks(&RaftCheckParams::default(), SharedRecord::default());
        sim.start();
        Run {
            sim,
            checks,
            violation: None,
            quiet_start: None,
        }
    }

    /// A run with the kv workload's default clients.
    pub fn with_clients(
        config: RaftConfig,
        node_count: usize,
        seed: u64,
        network: NetworkConfig,
    ) -> Self {
        let workload = KvWorkload::new(WorkloadParams::default(), node_count);
        let mut run = Self::new(config, node_count, seed, network, Some(Box::new(workload)));
        run.checks
            .extend(sim_kv::checks::<RaftNode>(&KvCheckParams::default()));
        run
    }

    fn observe(&mut self, observation: Observation<'_, RaftNode>) {
        for check in &mut self.checks {
            if let Some(mut v) = check.observe(&self.sim, &observation) {
                v.message = format!("{} violated at t={}: {}", check.name(), v.time, v.message);
                self.violation.get_or_insert(v);
            }
        }
    }

    /// Runs until `deadline`, a violation, or a handler for which `stop` says yes (the node is
    /// returned then).
    pub fn run_until_event(
        &mut self,
        deadline: SimTime,
        mut stop: impl FnMut(&Simulation<RaftNode>, NodeId, &[RaftEvent]) -> bool,
    ) -> Option<NodeId> {
        while self.violation.is_none() && self.sim.peek_time().is_some_and(|t| t <= deadline) {
            let Some(step) = self.sim.step() else { break };
            if let Step::Handled { node } = step {
                let events = self.sim.reports().to_vec();
                self.observe(Observation::Handled {
                    node,
                    events: &events,
                });
                if stop(&self.sim, node, &events) {
                    return Some(node);
                }
            }
        }
        if let Some(panic) = self.sim.panic() {
            panic!(
                "a handler panicked on {:?} at t={}: {}",
                panic.node, panic.time, panic.message
            );
        }
        None
    }

    pub fn run_until(&mut self, deadline: SimTime) -> bool {
        self.run_until_event(deadline, |_, _, _| false);
        self.violation.is_none()
    }

    pub fn crash(&mut self, node: NodeId) {
        self.sim.crash(node);
        self.observe(Observation::Node {
            node,
            change: NodeChange::Crashed,
        });
    }

    pub fn restart(&mut self, node: NodeId) {
        self.sim.restart(node);
        self.observe(Observation::Node {
            node,
            change: NodeChange::Restarted,
        });
    }

    pub fn reach(&mut self, reachability: Reachability) {
        self.sim.set_reachability(reachability);
        self.observe(Observation::Network);
    }

    pub fn isolate(&mut self, node: NodeId) {
        let count = self.sim.node_count();
        self.reach(Reachability::isolate(count, node, false));
    }

    pub fn split(&mut self, groups: &[Vec<NodeId>]) {
        let count = self.sim.node_count();
        self.reach(Reachability::split(count, groups, false));
    }

    pub fn heal(&mut self) {
        let count = self.sim.node_count();
        self.reach(Reachability::full(count));
    }

    pub fn quiet(&mut self) {
        self.quiet_start = Some(self.sim.now());
        self.observe(Observation::QuietPhase);
    }

    /// The leader of the highest term among the nodes that are up.
    pub fn leader(&self) -> Option<NodeId> {
        self.sim
            .nodes_with_role("leader")
            .into_iter()
            .max_by_key(|&n| self.sim.process(n).map_or(0, |p| p.term()))
    }

    pub fn node(&self, node: NodeId) -> &RaftNode {
        self.sim.process(node).expect("the node is up")
    }

    /// Ends the run: every check's report, and the first failure (a violation during the run
    /// counts).
    pub fn finish(&mut self) -> (Vec<CheckReport>, Option<String>) {
        let phases = Phases {
            quiet_start: self.quiet_start,
            end: self.sim.now(),
        };
        let reports: Vec<CheckReport> = self
            .checks
            .iter_mut()
            .map(|c| c.finish(&self.sim, &phases))
            .collect();
        let failure = self
            .violation
            .as_ref()
            .map(|v| v.message.clone())
            .or_else(|| {
                reports.iter().find_map(|r| {
                    r.violation
                        .as_ref()
                        .map(|v| format!("{}: {}", r.name, v.message))
                })
            });
        (reports, failure)
    }
}

/// A client that submits one put to every node at a set time, so that whoever leads then takes
/// it (the others answer that they are not the leader).
pub struct PutToAll {
    pub at: SimTime,
    pub key: String,
    pub value: String,
    pub answers: Vec<(NodeId, KvResponse)>,
}

impl Workload<RaftNode> for PutToAll {
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, RaftNode>) {
        ctx.wake_after(self.at.saturating_since(ctx.now()), 0);
    }
    fn on_reply(
        &mut self,
        _: &mut ClientCtx<'_, RaftNode>,
        node: NodeId,
        _: RequestId,
        response: KvResponse,
    ) {
        self.answers.push((node, response));
    }
    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, RaftNode>, _: u64) {
        for node in 0..ctx.node_count() {
            let op = KvOp::Put {
                key: self.key.clone(),
                value: self.value.clone(),
            };
            ctx.submit(
                NodeId(node as u32),
                KvRequest {
                    client: 1,
                    seq: 1,
                    op,
                },
            );
        }
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
