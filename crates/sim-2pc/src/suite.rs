//! [`TxnSuite`]: what the family declares to the tool, how it builds each node by its kind, its
//! checks, summary (with the blocking measured per participant) and figures.

use std::any::Any;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sim_client::{human_duration, ClientEngine, OpStatus};
use sim_core::{
    Check, ClusterInfo, Declaration, NodeId, RunInfo, SimDuration, SimTime, Simulation, Suite,
    SuiteError, Workload,
};

use crate::bugs::Bug;
use crate::checks::{Blocking, SharedBlocking, TxnCheck, Which, NAMES};
use crate::config::{Config, Mode, Params};
use crate::convergence;
use crate::coordinator::Coordinator;
use crate::node::TxnNode;
use crate::participant::Participant;
use crate::types::TxnEvent;
use crate::workload::{TxnClient, TxnWorkload, WorkloadParams};

/// `[checks]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckParams {
    /// `2pc.termination`: everything prepared this long before the end must be decided.
    pub decide_within: SimDuration,
    /// `2pc.converged`: every transaction begun by the heal is settled at every live node this
    /// long after it.
    pub converge_within: SimDuration,
}

impl Default for CheckParams {
    fn default() -> Self {
        CheckParams {
            decide_within: SimDuration::from_secs(5),
            converge_within: SimDuration::from_secs(5),
        }
    }
}

/// The two-phase commit family (and its Saga mode).
pub struct TxnSuite {
    config: Arc<Config>,
    workload: WorkloadParams,
    checks: CheckParams,
    node_count: usize,
    /// What the latest `checks()` call's termination check measured, for the summary.
    blocking: Mutex<SharedBlocking>,
}

impl TxnSuite {
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The blocking the latest run measured.
    pub fn blocking(&self) -> Blocking {
        let shared = self
            .blocking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let b = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
        b
    }

    fn engine<'a>(&self, sim: &'a Simulation<TxnNode>) -> Option<&'a ClientEngine<TxnClient>> {
        let w = sim.workload()?;
        let w = (w.as_any() as &dyn Any).downcast_ref::<TxnWorkload>()?;
        Some(&w.engine)
    }
}

impl Suite for TxnSuite {
    type P = TxnNode;
    type Params = Params;
    type WorkloadParams = WorkloadParams;
    type CheckParams = CheckParams;

    const NAME: &'static str = "2pc";

    fn declaration() -> Declaration {
        Declaration {
            kinds: vec!["coordinator", "participant"],
            roles: vec!["coordinator", "participant", "in_doubt"],
            nemesis_roles: vec!["coordinator", "in_doubt"],
            events: TxnEvent::NAMES.to_vec(),
            checks: NAMES.iter().copied().chain([convergence::NAME]).collect(),
            bugs: Bug::ALL.iter().map(|b| b.name()).collect(),
        }
    }

    fn new(
        cluster: &ClusterInfo,
        params: Params,
        workload: WorkloadParams,
        checks: CheckParams,
    ) -> Result<Self, SuiteError> {
        let coordinators: Vec<NodeId> = cluster.nodes_of_kind("coordinator").collect();
        let participants: Vec<NodeId> = cluster.nodes_of_kind("participant").collect();
        if coordinators.len() + participants.len() != cluster.node_count {
            return Err(SuiteError::new(
                "cluster.kinds",
                "expected every node to be a coordinator or a participant: give \
                 kinds = { coordinator = C, participant = P }",
            ));
        }
        let config = Config::new(params, coordinators, participants)?;
        workload.validate(cluster.node_count)?;
        for (field, value) in [
            ("checks.decide_within", checks.decide_within),
            ("checks.converge_within", checks.converge_within),
        ] {
            if value == SimDuration::ZERO {
                return Err(SuiteError::new(
                    field,
                    "expected a positive duration, found 0s",
                ));
            }
        }
        Ok(TxnSuite {
            config: Arc::new(config),
            workload,
            checks,
            node_count: cluster.node_count,
            blocking: Mutex::new(SharedBlocking::default()),
        })
    }

    fn process(&self, node: NodeId) -> TxnNode {
        if self.config.is_coordinator(node) {
            TxnNode::Coordinator(Coordinator::new(Arc::clone(&self.config)))
        } else {
            TxnNode::Participant(Participant::new(Arc::clone(&self.config)))
        }
    }

    fn workload(&self) -> Option<Box<dyn Workload<TxnNode>>> {
        Some(Box::new(TxnWorkload::new(
            self.workload.clone(),
            self.config.accounts,
            self.config.participants.len() as u32,
            self.config.total(),
            self.node_count,
        )))
    }

    fn checks(&self) -> Vec<Box<dyn Check<TxnNode>>> {
        let shared = SharedBlocking::default();
        *self.blocking.lock().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&shared);
        let mut checks: Vec<Box<dyn Check<TxnNode>>> = Which::ALL
            .iter()
            .map(|&which| {
                let blocking = (which == Which::Termination).then(|| Arc::clone(&shared));
                let check = TxnCheck::new(
                    which,
                    Arc::clone(&self.config),
                    self.checks.decide_within,
                    blocking,
                );
                Box::new(check) as Box<dyn Check<TxnNode>>
            })
            .collect();
        checks.push(Box::new(convergence::Converged::new(
            Arc::clone(&self.config),
            self.checks.converge_within,
        )));
        checks
    }

    fn summary(&self, sim: &Simulation<TxnNode>, run: &RunInfo) -> Vec<(String, String)> {
        let mode = match self.config.mode {
            Mode::TwoPc => "two-phase commit (presumed abort, strict 2PL, wait-die)",
            Mode::Saga => "saga (local steps, compensated backwards)",
        };
        let mut lines = vec![("mode".to_string(), mode.to_string())];
        if let Some(engine) = self.engine(sim) {
            lines.extend(engine.summary(run));
        }
        let b = self.blocking();
        lines.push((
            "transactions".to_string(),
            format!(
                "{} committed, {} aborted (decided), {} decisions learned from a peer",
                b.committed, b.aborted, b.from_peers
            ),
        ));
        lines.push((
            "blocked (in doubt)".to_string(),
            blocking_line(&self.config, &b),
        ));
        lines
    }

    fn figures(&self, sim: &Simulation<TxnNode>, run: &RunInfo) -> Vec<(String, u64)> {
        let b = self.blocking();
        let mut figures = Vec::new();
        if let Some(engine) = self.engine(sim) {
            figures.extend(client_figures(engine, run.phases.end));
        }
        let ms = |d: SimDuration| d.0 / 1_000_000;
        let blocked = SimDuration(b.blocked.values().map(|d| d.0).sum());
        let longest = b
            .longest
            .values()
            .copied()
            .max()
            .unwrap_or(SimDuration::ZERO);
        figures.extend([
            ("txn.committed".to_string(), b.committed),
            ("txn.aborted".to_string(), b.aborted),
            ("blocked.total_ms".to_string(), ms(blocked)),
            ("blocked.longest_ms".to_string(), ms(longest)),
            (
                "blocked.lock_waits".to_string(),
                b.lock_waits.values().sum(),
            ),
            ("decisions.from_peers".to_string(), b.from_peers),
        ]);
        figures
    }
}

/// `n3 2.1s (longest 2s, 4 waits), n4 ...`: every participant, in order.
fn blocking_line(config: &Config, b: &Blocking) -> String {
    let per: Vec<String> = config
        .participants
        .iter()
        .map(|p| {
            let blocked = b.blocked.get(p).copied().unwrap_or(SimDuration::ZERO);
            let longest = b.longest.get(p).copied().unwrap_or(SimDuration::ZERO);
            let waits = b.lock_waits.get(p).copied().unwrap_or(0);
            format!(
                "{p} {} (longest {}, {waits} prepares waited on its locks)",
                human_duration(blocked),
                human_duration(longest)
            )
        })
        .collect();
    per.join("; ")
}

/// Throughput, latency and audits, as counts.
fn client_figures(engine: &ClientEngine<TxnClient>, end: SimTime) -> Vec<(String, u64)> {
    let tally = engine.tally();
    let count = |kind: &str, status: OpStatus| {
        let counts = tally.kind(kind);
        match status {
            OpStatus::Ok => counts.ok,
            OpStatus::Fail => counts.fail,
            OpStatus::Info => counts.info - counts.pending,
            OpStatus::Pending => counts.pending,
        }
    };
    let pct = |p: u32| tally.latencies.percentile(p).map_or(0, |d| d.0 / 1_000);
    let ok = count("transfer", OpStatus::Ok) + count("audit", OpStatus::Ok);
    let secs = end.saturating_since(SimTime::ZERO).as_secs_f64();
    let rate = if secs > 0.0 {
        ok as f64 * 1000.0 / secs
    } else {
        0.0
    };
    let tally = engine.plugin().tally;
    vec![
        ("transfers.ok".to_string(), count("transfer", OpStatus::Ok)),
        (
            "transfers.failed".to_string(),
            count("transfer", OpStatus::Fail),
        ),
        (
            "transfers.info".to_string(),
            count("transfer", OpStatus::Info),
        ),
        ("audits.ok".to_string(), tally.audits),
        ("audits.wrong_total".to_string(), tally.wrong_total),
        ("throughput.milli_ok_per_s".to_string(), rate.round() as u64),
        ("latency.p50_us".to_string(), pct(50)),
        ("latency.p99_us".to_string(), pct(99)),
    ]
}
