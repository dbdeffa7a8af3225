//! Raft as scenarios run it: [`RaftSuite`], `[protocol] name = "raft"`.
//!
//! The suite turns a scenario's `[protocol]` table into a validated [`RaftConfig`] shared by
//! every node, uses `sim-kv`'s [`KvWorkload`] (the kv plug-in on `sim-client`'s engine) as its
//! clients, and checks a run with Raft's safety checks ([`crate::checks`]) plus `sim-kv`'s
//! `kv.linearizable`, `kv.progress` and `kv.some_ok`. Its `[checks]` table ([`CheckParams`]) holds both the Raft and the kv fields.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sim_core::{
    Check, ClusterInfo, Declaration, NodeId, RunInfo, SimDuration, Simulation, Suite, SuiteError,
    Workload,
};
use sim_kv::{KvCheckParams, KvWorkload, WorkloadParams};

use crate::checks::{self, RaftCheckParams, RunRecord, SharedRecord};
use crate::convergence::{self, ConvergenceParams};
use crate::coverage::{self, SharedCoverage};
use crate::node::RaftNode;
use crate::params::{Params, RaftConfig};

/// A scenario's `[checks]` table for Raft: the Raft fields and `sim-kv`'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckParams {
    /// `raft.leader_after_heal`: a leader a majority follows within this bound after the faults
    /// heal.
    pub leader_within: SimDuration,
    /// `kv.linearizable`: check the client history at the end of the run.
    pub linearizability: bool,
    /// The linearizability checker's search budget per key.
    pub state_budget: u64,
    /// `kv.progress`: operations complete ok within this bound after the faults heal.
    pub ops_within: Option<SimDuration>,
    /// `kv.progress`: how many operations must complete within the bound.
    pub progress_ops: u64,
    /// `kv.progress`: every active client must complete an operation within the bound.
    pub progress_every_client: bool,
    /// `raft.converged`: every live node agrees and has caught up within this bound after the
    /// faults heal.
    pub converge_within: SimDuration,
    /// `raft.stable_leader`: elections allowed in the quiet phase once the cluster converged.
    pub max_quiet_elections: u64,
    /// `raft.elections_bounded`: elections allowed between a heal and the next fault.
    pub elections_per_fault: u64,
    /// Coverage moments the scenario's seeds must reach: a sometimes check each, named as its
    /// figure ([`crate::reached`]); a campaign none of whose seeds reaches one fails.
    pub sometimes: Vec<String>,
}

impl Default for CheckParams {
    fn default() -> Self {
        let kv = KvCheckParams::default();
        CheckParams {
            leader_within: RaftCheckParams::default().leader_within,
            linearizability: kv.linearizability,
            state_budget: kv.state_budget,
            ops_within: kv.ops_within,
            progress_ops: kv.progress_ops,
            progress_every_client: kv.progress_every_client,
            converge_within: ConvergenceParams::default().converge_within,
            max_quiet_elections: ConvergenceParams::default().max_quiet_elections,
            elections_per_fault: ConvergenceParams::default().elections_per_fault,
            sometimes: Vec::new(),
        }
    }
}

impl CheckParams {
    pub fn raft(&self) -> RaftCheckParams {
        RaftCheckParams {
            leader_within: self.leader_within,
        }
    }

    pub fn convergence(&self) -> ConvergenceParams {
        ConvergenceParams {
            converge_within: self.converge_within,
            max_quiet_elections: self.max_quiet_elections,
            elections_per_fault: self.elections_per_fault,
        }
    }

    pub fn kv(&self) -> KvCheckParams {
        KvCheckParams {
            linearizability: self.linearizability,
            state_budget: self.state_budget,
            ops_within: self.ops_within,
            progress_ops: self.progress_ops,
            progress_every_client: self.progress_every_client,
        }
    }
}

/// The Raft protocol family.
pub struct RaftSuite {
    config: Arc<RaftConfig>,
    node_count: usize,
    workload: WorkloadParams,
    raft_checks: RaftCheckParams,
    kv_checks: KvCheckParams,
    convergence: ConvergenceParams,
    sometimes: Vec<String>,
    /// The coverage the latest `checks()` call's checks fill, for `figures()`.
    coverage: Mutex<SharedCoverage>,
    /// The record the latest `checks()` call's checks fill, for `summary()`. The runner builds
    /// the checks, runs, then asks for the summary, one run at a time per suite.
    record: Mutex<SharedRecord>,
}

impl RaftSuite {
    /// A suite from an already validated configuration, for tests that build one in code: the
    /// default kv clients and the default checks.
    pub fn with_config(config: RaftConfig, node_count: usize) -> Self {
        let checks = CheckParams::default();
        RaftSuite {
            config: Arc::new(config),
            node_count,
            workload: WorkloadParams::default(),
            raft_checks: checks.raft(),
            kv_checks: checks.kv(),
            convergence: checks.convergence(),
            sometimes: checks.sometimes,
            coverage: Mutex::new(SharedCoverage::default()),
            record: Mutex::new(SharedRecord::default()),
        }
    }

    pub fn config(&self) -> &Arc<RaftConfig> {
        &self.config
    }

    /// The record of the latest run's checks.
    pub fn record(&self) -> RunRecord {
        let shared = self
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let record = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
        record
    }
}

impl RaftSuite {
    /// The latest run's coverage figures ([`crate::coverage`]).
    pub fn coverage_figures(&self) -> Vec<(String, u64)> {
        let shared = self
            .coverage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let coverage = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
        coverage::figures(&self.record(), &coverage)
    }
}

impl Suite for RaftSuite {
    type P = RaftNode;
    type Params = Params;
    type WorkloadParams = WorkloadParams;
    type CheckParams = CheckParams;

    const NAME: &'static str = "raft";

    fn declaration() -> Declaration {
        let mut checks = checks::NAMES.to_vec();
        checks.extend(convergence::NAMES);
        checks.extend(sim_kv::CHECK_NAMES);
        checks.extend(crate::coverage::FIGURE_NAMES);
        Declaration {
            kinds: Vec::new(),
            roles: vec!["leader", "follower", "candidate"],
            nemesis_roles: vec!["leader"],
            events: crate::node::RaftEvent::NAMES.to_vec(),
            checks,
            bugs: crate::bugs::Bug::ALL.iter().map(|b| b.name()).collect(),
        }
    }

    fn new(
        cluster: &ClusterInfo,
        params: Params,
        workload: WorkloadParams,
        checks: CheckParams,
    ) -> Result<Self, SuiteError> {
        let config = params.validate()?;
        workload.validate(cluster.node_count)?;
        let kv_checks = checks.kv();
        kv_checks.validate(cluster, "checks")?;
        if checks.leader_within == SimDuration::ZERO {
            return Err(SuiteError::new(
                "checks.leader_within",
                "expected a positive duration, found 0s",
            ));
        }
        if checks.converge_within == SimDuration::ZERO {
            return Err(SuiteError::new(
                "checks.converge_within",
                "expected a positive duration, found 0s",
            ));
        }
        crate::reached::validate(&checks.sometimes)?;
        if checks.elections_per_fault == 0 {
            return Err(SuiteError::new(
                "checks.elections_per_fault",
                "expected at least 1, found 0: the first election would fail the run",
            ));
        }
        Ok(RaftSuite {
            config: Arc::new(config),
            node_count: cluster.node_count,
            workload,
            raft_checks: checks.raft(),
            kv_checks,
            convergence: checks.convergence(),
            sometimes: checks.sometimes,
            coverage: Mutex::new(SharedCoverage::default()),
            record: Mutex::new(SharedRecord::default()),
        })
    }

    fn process(&self, node: NodeId) -> RaftNode {
        RaftNode::new(node, self.node_count, Arc::clone(&self.config))
    }

    fn workload(&self) -> Option<Box<dyn Workload<RaftNode>>> {
        Some(Box::new(
            KvWorkload::new(self.workload.clone(), self.node_count)
                .with_state_budget(self.kv_checks.state_budget),
        ))
    }

    fn checks(&self) -> Vec<Box<dyn Check<RaftNode>>> {
        let record = SharedRecord::default();
        *self.record.lock().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&record);
        let record_for_reached = Arc::clone(&record);
        let mut all = checks::checks(&self.raft_checks, record);
        let coverage = SharedCoverage::default();
        *self.coverage.lock().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&coverage);
        all.extend(crate::reached::checks(
            &self.sometimes,
            &record_for_reached,
            &coverage,
        ));
        all.extend(convergence::checks(&self.convergence, coverage));
        all.extend(sim_kv::checks::<RaftNode>(&self.kv_checks));
        all
    }

    fn summary(&self, sim: &Simulation<RaftNode>, run: &RunInfo) -> Vec<(String, String)> {
        let record = self.record();
        let mut lines = vec![
            ("leaders".to_string(), leaders_by_term(&record)),
            (
                "elections".to_string(),
                format!(
                    "{} candidacies, {} terms with a leader",
                    record.candidacies,
                    record.leaders.len()
                ),
            ),
        ];
        if let Some(workload) = sim_kv::kv_workload(sim) {
            lines.extend(workload.summary(run));
        }
        let commit = sim
            .node_ids()
            .filter_map(|n| sim.process(n))
            .map(|p| p.commit_index())
            .max();
        lines.push((
            "commit index".to_string(),
            format!(
                "{} (highest reached {})",
                commit.unwrap_or(0),
                record.max_commit
            ),
        ));
        lines.push((
            "snapshots".to_string(),
            format!(
                "{} taken, {} installed",
                record.snapshots_taken, record.snapshots_installed
            ),
        ));
        lines.push((
            "discarded".to_string(),
            format!(
                "{} entries past a follower's commit index, in {} suffixes (conflicts or logs \
                 replaced by a snapshot)",
                record.truncated_entries, record.truncations
            ),
        ));
        lines
    }

    fn figures(&self, sim: &Simulation<RaftNode>, _run: &RunInfo) -> Vec<(String, u64)> {
        let mut figures = crate::cap::cap_figures(sim);
        figures.extend(self.coverage_figures());
        figures
    }

    fn history(&self, sim: &Simulation<RaftNode>) -> Option<serde_json::Value> {
        sim_kv::kv_workload(sim).and_then(|w| w.history_json())
    }
}

/// `term 1: n3, term 2: n1, ...`, the first and last few when there are many.
fn leaders_by_term(record: &RunRecord) -> String {
    const SHOWN: usize = 12;
    if record.leaders.is_empty() {
        return "none elected".to_string();
    }
    let items: Vec<String> = record
        .leaders
        .iter()
        .map(|(t, n)| format!("term {t}: {n}"))
        .collect();
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    let head = items[..SHOWN / 2].join(", ");
    let tail = items[items.len() - SHOWN / 2..].join(", ");
    format!("{head}, ... ({} more), {tail}", items.len() - SHOWN)
}

#[cfg(test)]
mod tests {
    use sim_core::{Event, Suite};

    use super::*;

    /// A scenario may name exactly what the family runs and reports: every check the suite
    /// builds and every event a node reports is declared.
    #[test]
    fn the_declaration_names_every_check_and_event() {
        let declared = RaftSuite::declaration();
        let suite = RaftSuite::with_config(RaftConfig::default(), 3);
        for check in suite.checks() {
            assert!(declared.checks.contains(&check.name()), "{}", check.name());
        }
        let events = [
            crate::node::RaftEvent::BecameLeader { term: 1 },
            crate::node::RaftEvent::Voted {
                term: 1,
                candidate: NodeId(0),
            },
        ];
        for event in events {
            assert!(declared.events.contains(&event.name()), "{}", event.name());
        }
        assert!(declared
            .nemesis_roles
            .iter()
            .all(|r| declared.roles.contains(r)));
    }
}
