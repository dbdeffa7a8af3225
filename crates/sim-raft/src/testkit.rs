//! A small driver for simulation tests: `sim_runner`'s [`Cluster`] of Raft nodes with the
//! testkit's habits, and a scripted client.

use sim_core::{
    Check, CheckReport, ClientCtx, NetworkConfig, NodeId, RequestId, SimConfig, SimTime,
    Simulation, Trace, Workload,
};
use sim_kv::{KvCheckParams, KvOp, KvRequest, KvResponse, KvWorkload, WorkloadParams};
use sim_runner::Cluster;

use crate::checks::{self, RaftCheckParams, SharedRecord};
use crate::node::{RaftEvent, RaftNode};
use crate::params::RaftConfig;
use crate::RaftSuite;

pub fn secs(s: f64) -> SimTime {
    SimTime((s * 1e9) as u64)
}

/// A Raft cluster for a scripted test: `sim_runner`'s [`Cluster`] with the testkit's habits
/// (a partition replaces the one before it; `finish` gives the first failure in words).
pub struct Run {
    cluster: Cluster<RaftSuite>,
}

impl Run {
    /// A run with `workload` as its only clients (none: no client) and Raft's checks.
    pub fn new(
        config: RaftConfig,
        node_count: usize,
        seed: u64,
        network: NetworkConfig,
        workload: Option<Box<dyn Workload<RaftNode>>>,
    ) -> Self {
        let checks = checks::checks(&RaftCheckParams::default(), SharedRecord::default());
        Self::build(config, node_count, seed, network, workload, checks)
    }

    fn build(
        config: RaftConfig,
        node_count: usize,
        seed: u64,
        network: NetworkConfig,
        workload: Option<Box<dyn Workload<RaftNode>>>,
        checks: Vec<Box<dyn Check<RaftNode>>>,
    ) -> Self {
        let mut sim_config = SimConfig::new(seed, node_count);
        sim_config.network = network;
        sim_config.max_events = 20_000_000;
        let suite = RaftSuite::with_config(config, node_count);
        let mut cluster =
            Cluster::with_parts(suite, sim_config, Trace::default(), workload, checks);
        cluster.start();
        Run { cluster }
    }

    /// A run with the kv workload's clients, one beside each node, and the kv checks beside
    /// Raft's.
    pub fn with_clients(
        config: RaftConfig,
        node_count: usize,
        seed: u64,
        network: NetworkConfig,
    ) -> Self {
        // A client beside every node, so that whichever node leads has clients that reach it.
        let params = WorkloadParams {
            clients: node_count,
            ..WorkloadParams::default()
        };
        let workload = KvWorkload::new(params, node_count);
        let mut checks = checks::checks(&RaftCheckParams::default(), SharedRecord::default());
        checks.extend(sim_kv::checks::<RaftNode>(&KvCheckParams::default()));
        Self::build(
            config,
            node_count,
            seed,
            network,
            Some(Box::new(workload)),
            checks,
        )
    }

    /// The first violation, in words.
    pub fn violation(&self) -> Option<String> {
        self.cluster
            .violation()
            .map(|(name, v)| format!("{name} violated at t={}: {}", v.time, v.message))
    }

    pub fn sim_mut(&mut self) -> &mut Simulation<RaftNode> {
        self.cluster.sim_mut()
    }

    /// Runs until `deadline`, a violation, or a handler for which `stop` says yes (the node is
    /// returned then). A handler's panic fails the test.
    pub fn run_until_event(
        &mut self,
        deadline: SimTime,
        stop: impl FnMut(&Simulation<RaftNode>, NodeId, &[RaftEvent]) -> bool,
    ) -> Option<NodeId> {
        let found = self.cluster.run_until_event(deadline, stop);
        if let Some(panic) = self.cluster.sim().panic() {
            panic!(
                "a handler panicked on {:?} at t={}: {}",
                panic.node, panic.time, panic.message
            );
        }
        found
    }

    pub fn run_until(&mut self, deadline: SimTime) -> bool {
        self.run_until_event(deadline, |_, _, _| false);
        self.cluster.violation().is_none()
    }

    pub fn crash(&mut self, node: NodeId) {
        self.cluster.crash(node);
    }

    pub fn restart(&mut self, node: NodeId) {
        self.cluster.restart(node);
    }

    pub fn isolate(&mut self, node: NodeId) {
        self.cluster.heal();
        self.cluster.isolate(node);
    }

    pub fn split(&mut self, groups: &[Vec<NodeId>]) {
        self.cluster.heal();
        self.cluster.split(groups);
    }

    pub fn heal(&mut self) {
        self.cluster.heal();
    }

    /// Marks the start of the quiet phase (what the script healed stays healed).
    pub fn quiet(&mut self) {
        self.cluster.quiet_phase();
    }

    /// The leader of the highest term among the nodes that are up.
    pub fn leader(&self) -> Option<NodeId> {
        self.cluster
            .nodes_with_role("leader")
            .into_iter()
            .max_by_key(|&n| self.cluster.process(n).map_or(0, |p| p.term()))
    }

    pub fn node(&self, node: NodeId) -> &RaftNode {
        self.cluster.process(node).expect("the node is up")
    }

    /// Ends the run: every check's report, and the first failure (a violation during the run
    /// counts).
    pub fn finish(self) -> (Vec<CheckReport>, Option<String>) {
        let finished = self.cluster.finish();
        let failure = finished.failure();
        (finished.checks, failure)
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
