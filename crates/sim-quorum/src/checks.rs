//! The family's checks: linearizability (required in ABD mode, observed in Dynamo mode), the
//! anomalies measured and named (stale reads, lost acknowledged writes, read-your-writes,
//! monotonic reads: forbidden or counted, as the scenario states), convergence after the heal,
//! and that anything completed at all.
//!
//! Owns [`CheckParams`] (the `[checks]` table), [`Expectation`], [`Rule`], [`checks`] and the
//! checks: `quorum.linearizable` (always), `quorum.stale_reads`, `quorum.lost_writes`,
//! `quorum.read_your_writes`, `quorum.monotonic_reads` (always: each read judged as it
//! completes, lost writes against the converged replicas at the end), `quorum.convergence`
//! (eventually: within `converge_within` of the quiet phase's start, every home replica of every
//! key holds everything any node held for it at that start), `quorum.placement` (always: a node
//! stores a key as its own data only if it is one of the key's home replicas; a fallback keeps a
//! hint), `quorum.superseded` (always, vector clocks: no read returns a write beside a value the
//! write's context superseded; `supersede.rs`) and `quorum.some_ok` (sometimes).
//! The anomaly definitions are `sim-kv`'s [`sim_kv::AnomalyTracker`]. A counted anomaly never
//! fails a run: an AP store is not wrong for being AP; the figures say how much it gave up.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use sim_check::Verdict;
use sim_core::{
    Check, CheckKind, CheckReport, NodeId, Observation, Phases, SimDuration, SimTime, Simulation,
    Violation,
};

use crate::node::{Config, Mode, QuorumNode, Versioning};
use crate::version::{merge, Versioned};
use crate::workload::quorum_workload;

/// Whether linearizability must hold or is only reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    Required,
    Observed,
}

/// Whether an anomaly fails the run or is only counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Forbidden,
    Counted,
}

/// `[checks]`. Absent keys take the mode's defaults: ABD requires linearizability and forbids
/// every anomaly; Dynamo observes linearizability and counts every anomaly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckParams {
    pub linearizable: Option<Expectation>,
    pub stale_reads: Option<Rule>,
    pub lost_writes: Option<Rule>,
    /// Read-your-writes and monotonic reads, per client session.
    pub sessions: Option<Rule>,
    /// The convergence bound after the quiet phase starts; absent: the whole quiet phase.
    pub converge_within: Option<SimDuration>,
    /// The most search states the linearizability checker may explore per stretch of a key's
    /// history (between moments with no operation on the key in flight).
    pub state_budget: Option<u64>,
}

/// The resolved expectations of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectations {
    pub linearizable: Expectation,
    pub stale_reads: Rule,
    pub lost_writes: Rule,
    pub sessions: Rule,
    pub converge_within: Option<SimDuration>,
    pub state_budget: u64,
}

pub const LINEARIZABLE: &str = "quorum.linearizable";
pub const STALE_READS: &str = "quorum.stale_reads";
pub const LOST_WRITES: &str = "quorum.lost_writes";
pub const READ_YOUR_WRITES: &str = "quorum.read_your_writes";
pub const MONOTONIC_READS: &str = "quorum.monotonic_reads";
pub const CONVERGENCE: &str = "quorum.convergence";
pub const PLACEMENT: &str = "quorum.placement";
pub const SUPERSEDED: &str = "quorum.superseded";
pub const SOME_OK: &str = "quorum.some_ok";

/// Every check name, for the declaration.
pub const CHECK_NAMES: [&str; 9] = [
    LINEARIZABLE,
    STALE_READS,
    LOST_WRITES,
    READ_YOUR_WRITES,
    MONOTONIC_READS,
    CONVERGENCE,
    PLACEMENT,
    SUPERSEDED,
    SOME_OK,
];

/// The checks of a run.
pub fn checks(expect: &Expectations, config: &Arc<Config>) -> Vec<Box<dyn Check<QuorumNode>>> {
    vec![
        Box::new(Linearizable {
            expectation: expect.linearizable,
        }),
        Box::new(Anomalies::new(STALE_READS, expect.stale_reads, config)),
        Box::new(Anomalies::new(LOST_WRITES, expect.lost_writes, config)),
        Box::new(Anomalies::new(READ_YOUR_WRITES, expect.sessions, config)),
        Box::new(Anomalies::new(MONOTONIC_READS, expect.sessions, config)),
        Box::new(Convergence {
            config: Arc::clone(config),
            within: expect.converge_within,
            snapshot: None,
            deadline: None,
            verdict: None,
        }),
        Box::new(Placement {
            config: Arc::clone(config),
            keys_held: BTreeMap::new(),
            stores: 0,
        }),
        Box::new(Superseded {
            config: Arc::clone(config),
        }),
        Box::new(SomeOk),
    ]
}

fn no_workload(name: &str, kind: CheckKind) -> CheckReport {
    CheckReport::not_evaluated(name, kind, "the run has no quorum workload")
}

/// Every version any node holds for each key (its own and hinted), merged: what the replicas
/// converge to.
pub fn converged(
    sim: &Simulation<QuorumNode>,
    config: &Config,
) -> BTreeMap<String, Vec<Versioned>> {
    let mut all: BTreeMap<String, Vec<Versioned>> = BTreeMap::new();
    for node in sim.node_ids() {
        let Some(process) = sim.process(node) else {
            continue;
        };
        for (key, versions) in process.store() {
            merge(
                all.entry(key.clone()).or_default(),
                versions,
                config.concurrent(),
            );
        }
        for ((_, key), versions) in process.hints() {
            merge(
                all.entry(key.clone()).or_default(),
                versions,
                config.concurrent(),
            );
        }
    }
    all
}

/// `quorum.linearizable`.
struct Linearizable {
    expectation: Expectation,
}

impl Check<QuorumNode> for Linearizable {
    fn name(&self) -> &str {
        LINEARIZABLE
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn finish(&mut self, sim: &Simulation<QuorumNode>, phases: &Phases) -> CheckReport {
        let Some(workload) = quorum_workload(sim) else {
            return no_workload(LINEARIZABLE, CheckKind::Always);
        };
        // Checked as it was recorded, stretch by stretch, within the state budget the suite
        // gave the workload (`QuorumWorkload::with_state_budget`).
        let result = workload.client().linearizability();
        let observed = self.expectation == Expectation::Observed;
        let mut figures = vec![
            ("operations".to_string(), result.op_count.to_string()),
            (
                "states explored".to_string(),
                result.states_explored.to_string(),
            ),
        ];
        let verdict = match &result.verdict {
            Verdict::Linearizable => "linearizable".to_string(),
            Verdict::Unknown { .. } => "unknown".to_string(),
            Verdict::NotLinearizable if observed => {
                "not linearizable (observed, not required)".to_string()
            }
            Verdict::NotLinearizable => "not linearizable".to_string(),
        };
        figures.insert(0, ("verdict".to_string(), verdict));
        let violation = (result.verdict == Verdict::NotLinearizable && !observed)
            .then(|| sim_kv::failure_violation(&result, phases.end));
        // Neither held nor failed: a search that gave up judged nothing.
        let not_evaluated = match &result.verdict {
            Verdict::Unknown { reason } => Some(format!("the search gave up: {reason}")),
            _ => None,
        };
        CheckReport {
            name: LINEARIZABLE.to_string(),
            kind: CheckKind::Always,
            violation,
            figures,
            not_evaluated,
        }
    }
}

/// `quorum.stale_reads`, `quorum.lost_writes`, `quorum.read_your_writes`,
/// `quorum.monotonic_reads`: the client's tracker judged each read as it completed; lost writes
/// are judged once the run ends.
struct Anomalies {
    name: &'static str,
    rule: Rule,
    config: Arc<Config>,
}

impl Anomalies {
    fn new(name: &'static str, rule: Rule, config: &Arc<Config>) -> Self {
        Anomalies {
            name,
            rule,
            config: Arc::clone(config),
        }
    }
}

/// The anomalies of kind `name` in a finished run (an error: a write the tracker spilled to disk
/// could not be read back, so nothing was judged).
pub fn anomalies(
    name: &str,
    sim: &Simulation<QuorumNode>,
    config: &Config,
) -> Option<Result<sim_kv::Found, String>> {
    let tracker = quorum_workload(sim)?.client().anomalies();
    Some(match name {
        STALE_READS => tracker.stale_reads(),
        LOST_WRITES => {
            let survivors = converged(sim, config)
                .into_iter()
                .map(|(key, versions)| (key, versions.into_iter().map(|v| v.value).collect()))
                .collect();
            tracker.lost_writes(&survivors)
        }
        READ_YOUR_WRITES => tracker.read_your_writes(),
        _ => tracker.monotonic_reads(),
    })
}

impl Check<QuorumNode> for Anomalies {
    fn name(&self) -> &str {
        self.name
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn finish(&mut self, sim: &Simulation<QuorumNode>, _phases: &Phases) -> CheckReport {
        let found = match anomalies(self.name, sim, &self.config) {
            None => return no_workload(self.name, CheckKind::Always),
            Some(Err(error)) => {
                return CheckReport::not_evaluated(self.name, CheckKind::Always, &error)
            }
            Some(Ok(found)) => found,
        };
        let rule = match self.rule {
            Rule::Forbidden => "forbidden",
            Rule::Counted => "counted",
        };
        let figures = vec![
            ("found".to_string(), found.count.to_string()),
            ("rule".to_string(), rule.to_string()),
        ];
        let violation = match (self.rule, found.first) {
            (Rule::Forbidden, Some(first)) => Some(Violation {
                time: SimTime(first.at_ns),
                message: format!(
                    "{} at t={}, key {}: {} ({} in all)",
                    self.name,
                    SimTime(first.at_ns),
                    first.key,
                    first.message,
                    found.count
                ),
            }),
            _ => None,
        };
        CheckReport {
            name: self.name.to_string(),
            kind: CheckKind::Always,
            violation,
            figures,
            not_evaluated: None,
        }
    }
}

/// `quorum.convergence`.
struct Convergence {
    config: Arc<Config>,
    within: Option<SimDuration>,
    snapshot: Option<BTreeMap<String, Vec<Versioned>>>,
    deadline: Option<SimTime>,
    verdict: Option<Result<SimTime, Violation>>,
}

impl Convergence {
    /// Whether every home replica of every key in the snapshot holds all of it now.
    fn judge(&self, sim: &Simulation<QuorumNode>) -> Result<SimTime, Violation> {
        let snapshot = self
            .snapshot
            .as_ref()
            .map_or_else(BTreeMap::new, Clone::clone);
        for (key, versions) in &snapshot {
            for node in self.config.placement.home(key, self.config.replicas) {
                let held = sim.process(node).and_then(|p| p.store().get(key));
                let mut merged = held.cloned().unwrap_or_default();
                let behind = merge(&mut merged, versions, self.config.concurrent());
                if behind || held.is_none() && !versions.is_empty() {
                    return Err(violation_at(sim.now(), node, key, held, versions));
                }
            }
        }
        Ok(sim.now())
    }
}

fn violation_at(
    now: SimTime,
    node: NodeId,
    key: &str,
    held: Option<&Vec<Versioned>>,
    versions: &[Versioned],
) -> Violation {
    let show = |v: &[Versioned]| v.iter().map(|x| x.value.clone()).collect::<Vec<_>>();
    Violation {
        time: now,
        message: format!(
            "replicas did not converge by t={now}: home replica {node} of key {key} holds {:?}, \
             missing some of {:?} held at the start of the quiet phase",
            held.map(|h| show(h)),
            show(versions)
        ),
    }
}

impl Check<QuorumNode> for Convergence {
    fn name(&self) -> &str {
        CONVERGENCE
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn observe(
        &mut self,
        sim: &Simulation<QuorumNode>,
        observation: &Observation<'_, QuorumNode>,
    ) -> Option<Violation> {
        if matches!(observation, Observation::QuietPhase) && self.snapshot.is_none() {
            self.snapshot = Some(converged(sim, &self.config));
            self.deadline = self.within.map(|w| sim.now().saturating_add(w));
        }
        if self.verdict.is_none() && self.deadline.is_some_and(|d| sim.now() >= d) {
            self.verdict = Some(self.judge(sim));
        }
        None
    }

    fn finish(&mut self, sim: &Simulation<QuorumNode>, phases: &Phases) -> CheckReport {
        if self.config.mode == Mode::Abd && self.config.anti_entropy.is_none() {
            return CheckReport::not_evaluated(
                CONVERGENCE,
                CheckKind::Eventually,
                "ABD without anti-entropy keeps each value on a majority, not on every replica",
            );
        }
        if self.snapshot.is_none() {
            return CheckReport::not_evaluated(
                CONVERGENCE,
                CheckKind::Eventually,
                "the run has no quiet phase",
            );
        }
        let verdict = self.verdict.clone().unwrap_or_else(|| self.judge(sim));
        let keys = self.snapshot.as_ref().map_or(0, BTreeMap::len);
        let start = phases.quiet_start.unwrap_or(phases.end);
        let (violation, figures) = match verdict {
            Ok(at) => (
                None,
                vec![
                    ("keys".to_string(), keys.to_string()),
                    (
                        "judged after".to_string(),
                        format!("{}", SimDuration(at.0.saturating_sub(start.0))),
                    ),
                ],
            ),
            Err(v) => (Some(v), vec![("keys".to_string(), keys.to_string())]),
        };
        CheckReport {
            name: CONVERGENCE.to_string(),
            kind: CheckKind::Eventually,
            violation,
            figures,
            not_evaluated: None,
        }
    }
}

/// `quorum.placement`: a node stores a key as its own data only if it is one of the key's home
/// replicas; a fallback standing in for one keeps the write as a hint and hands it back (Dynamo,
/// section 4.6). A node's own keys are never dropped, so each node's keys are checked when
/// their number grows: once per key and node, not per event.
struct Placement {
    config: Arc<Config>,
    /// The number of keys each node held as its own when last looked at.
    keys_held: BTreeMap<NodeId, usize>,
    /// Keys found stored as a node's own, all at home replicas.
    stores: u64,
}

impl Check<QuorumNode> for Placement {
    fn name(&self) -> &str {
        PLACEMENT
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn observe(
        &mut self,
        sim: &Simulation<QuorumNode>,
        observation: &Observation<'_, QuorumNode>,
    ) -> Option<Violation> {
        let Observation::Handled { node, .. } = *observation else {
            return None;
        };
        let store = sim.process(node)?.store();
        let held = self.keys_held.entry(node).or_insert(0);
        if store.len() == *held {
            return None;
        }
        *held = store.len();
        self.stores = self.keys_held.values().map(|&n| n as u64).sum();
        let (key, versions) = store.iter().find(|(key, _)| {
            !self
                .config
                .placement
                .home(key, self.config.replicas)
                .contains(&node)
        })?;
        let home = self.config.placement.home(key, self.config.replicas);
        let values: Vec<&str> = versions.iter().map(|v| v.value.as_str()).collect();
        Some(Violation {
            time: sim.now(),
            message: format!(
                "node {node} stores key {key} as its own data ({values:?}) at t={}, but the key's \
                 home replicas are {home:?}: a node standing in for a home replica must keep the \
                 write as a hint and hand it back",
                sim.now()
            ),
        })
    }

    fn finish(&mut self, _sim: &Simulation<QuorumNode>, _phases: &Phases) -> CheckReport {
        CheckReport {
            name: PLACEMENT.to_string(),
            kind: CheckKind::Always,
            violation: None,
            figures: vec![(
                "keys stored by home replicas".to_string(),
                self.stores.to_string(),
            )],
            not_evaluated: None,
        }
    }
}

/// `quorum.superseded`: no read returns a write beside a value the write's context superseded
/// (see `supersede.rs`).
struct Superseded {
    config: Arc<Config>,
}

impl Check<QuorumNode> for Superseded {
    fn name(&self) -> &str {
        SUPERSEDED
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn finish(&mut self, sim: &Simulation<QuorumNode>, _phases: &Phases) -> CheckReport {
        if self.config.mode != Mode::Dynamo || self.config.versioning != Versioning::VectorClocks {
            return CheckReport::not_evaluated(
                SUPERSEDED,
                CheckKind::Always,
                "only vector clocks carry a read's context into a write",
            );
        }
        let Some(workload) = quorum_workload(sim) else {
            return no_workload(SUPERSEDED, CheckKind::Always);
        };
        let supersession = workload.client().supersession();
        let violation = supersession.first.as_ref().map(|first| Violation {
            time: SimTime(first.at_ns),
            message: format!("{} ({} in all)", first.message, supersession.found),
        });
        CheckReport {
            name: SUPERSEDED.to_string(),
            kind: CheckKind::Always,
            violation,
            figures: vec![("found".to_string(), supersession.found.to_string())],
            not_evaluated: None,
        }
    }
}

/// `quorum.some_ok`: at least one operation completed ok.
struct SomeOk;

impl Check<QuorumNode> for SomeOk {
    fn name(&self) -> &str {
        SOME_OK
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn finish(&mut self, sim: &Simulation<QuorumNode>, phases: &Phases) -> CheckReport {
        let ok = quorum_workload(sim).map_or(0, |w| w.tally().counts.ok);
        CheckReport {
            name: SOME_OK.to_string(),
            kind: CheckKind::Sometimes,
            violation: (ok == 0).then(|| Violation {
                time: phases.end,
                message: "no operation completed ok".to_string(),
            }),
            figures: vec![("ok".to_string(), ok.to_string())],
            not_evaluated: None,
        }
    }
}
