//! What the quorum family declares to the tool, its parameter tables, and how it builds a run.
//!
//! Owns [`Params`] (`[protocol]`), [`QuorumSuite`] and its validation, summary and figures.
//! Every key of `[protocol]`, with its default:
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `mode` | `"dynamo"` | `"dynamo"` or `"abd"` |
//! | `versions` | `"lww"` | Dynamo: `"lww"` (coordinator's local clock) or `"vector_clocks"` (siblings) |
//! | `replicas` | `3` | N, replicas per key (1 to the node count) |
//! | `placement` | `{ scheme = "ring", vnodes = 16 }` | or `{ scheme = "modulo" }`, `{ scheme = "range", keys = K }` |
//! | `sloppy_quorum` | `true` (Dynamo) | ask the next nodes of the preference list for silent home replicas |
//! | `hinted_handoff` | `true` (Dynamo) | fallbacks hand hinted writes back to their home replica |
//! | `read_repair` | `true` (Dynamo) | a read writes the newest versions back to stale replicas |
//! | `anti_entropy` | `"1s"` (Dynamo), none (ABD) | the interval of digest exchanges between replicas; `"0s"`: none |
//! | `handoff_interval` | `"500ms"` | how often fallbacks try to hand hints back |
//! | `sloppy_after` | `"50ms"` | how long a coordinator waits for home replicas before fallbacks |
//! | `coordinator_timeout` | `"300ms"` | a coordinator answers unavailable (reads) or timeout (writes) after this |
//! | `bugs` | `[]` | planted bugs, see [`crate::bugs`] |
//!
//! ABD mode uses strict majorities of the N home replicas: `versions`, `sloppy_quorum`,
//! `hinted_handoff` and `read_repair` cannot take effect there and are errors,
//! as are the workload's `read` and `write` levels, and `max_attempts` above 1 (a retried ABD
//! write would take effect again under a higher timestamp).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;
use sim_core::{
    Check, ClusterInfo, Declaration, NodeId, RunInfo, SimDuration, Simulation, Suite, SuiteError,
    Workload,
};

use crate::bugs::Bug;
use crate::checks::{self, CheckParams, Expectation, Expectations, Rule};
use crate::message::QuorumEvent;
use crate::node::{Config, Mode, QuorumNode, Versioning};
use crate::placement::{Placement, Scheme, VNODES_MAX};
use crate::types::Level;
use crate::workload::{quorum_workload, QuorumWorkload, WorkloadParams};
use sim_check::History;

/// `[protocol]` less its name; `None` is the mode's default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub mode: Option<Mode>,
    pub versions: Option<Versioning>,
    pub replicas: Option<usize>,
    pub placement: Option<Scheme>,
    pub sloppy_quorum: Option<bool>,
    pub hinted_handoff: Option<bool>,
    pub read_repair: Option<bool>,
    pub anti_entropy: Option<SimDuration>,
    pub handoff_interval: Option<SimDuration>,
    pub sloppy_after: Option<SimDuration>,
    pub coordinator_timeout: Option<SimDuration>,
    pub bugs: Vec<Bug>,
}

/// The quorum family.
pub struct QuorumSuite {
    config: Arc<Config>,
    workload: WorkloadParams,
    expect: Expectations,
    node_count: usize,
}

fn error(field: &str, message: impl Into<String>) -> SuiteError {
    SuiteError::new(field, message)
}

/// Refuses Dynamo-only settings in ABD mode.
fn refuse_in_abd(params: &Params, workload: &WorkloadParams) -> Result<(), SuiteError> {
    let set = [
        ("protocol.versions", params.versions.is_some()),
        ("protocol.sloppy_quorum", params.sloppy_quorum.is_some()),
        ("protocol.hinted_handoff", params.hinted_handoff.is_some()),
        ("protocol.read_repair", params.read_repair.is_some()),
        ("workload.read", workload.read.is_some()),
        ("workload.write", workload.write.is_some()),
    ];
    for (field, is_set) in set {
        if is_set {
            return Err(error(
                field,
                "cannot take effect in mode \"abd\", which reads and writes strict majorities of the home replicas",
            ));
        }
    }
    if workload.max_attempts.is_some_and(|a| a > 1) {
        return Err(error(
            "workload.max_attempts",
            "expected 1 in mode \"abd\": a retried write would take effect again under a higher timestamp",
        ));
    }
    Ok(())
}

fn check_bugs(
    bugs: &BTreeSet<Bug>,
    mode: Mode,
    versioning: Versioning,
    sloppy_quorum: bool,
) -> Result<(), SuiteError> {
    for &bug in bugs {
        let fits = match bug {
            Bug::AbdReadWithoutWriteBack | Bug::AbdWriteWithoutQuery => mode == Mode::Abd,
            Bug::CountSentAsAcked => mode == Mode::Dynamo,
            Bug::MergeByClockSum | Bug::ContextOfFirstSibling => {
                mode == Mode::Dynamo && versioning == Versioning::VectorClocks
            }
            Bug::AckBeforeSync => true,
            Bug::SloppyWriteWithoutHint => sloppy_quorum,
        };
        if !fits {
            return Err(error(
                "protocol.bugs",
                format!(
                    "{} cannot take effect in this mode, versioning and quorum",
                    bug.name()
                ),
            ));
        }
    }
    Ok(())
}

fn positive(field: &str, value: SimDuration) -> Result<SimDuration, SuiteError> {
    if value == SimDuration::ZERO {
        return Err(error(field, "expected a positive duration, found 0s"));
    }
    Ok(value)
}

/// The placement scheme, validated.
fn placement_scheme(params: &Params) -> Result<Scheme, SuiteError> {
    let scheme = params.placement.unwrap_or_default();
    match scheme {
        Scheme::Ring { vnodes } if vnodes == 0 || vnodes > VNODES_MAX => Err(error(
            "protocol.placement.vnodes",
            format!("expected 1 to {VNODES_MAX}, found {vnodes}"),
        )),
        Scheme::Range { keys: 0 } => Err(error(
            "protocol.placement.keys",
            "expected at least 1, found 0",
        )),
        _ => Ok(scheme),
    }
}

fn build_config(
    cluster: &ClusterInfo,
    params: &Params,
    workload: &WorkloadParams,
) -> Result<Config, SuiteError> {
    let mode = params.mode.unwrap_or(Mode::Dynamo);
    if mode == Mode::Abd {
        refuse_in_abd(params, workload)?;
    }
    let dynamo = mode == Mode::Dynamo;
    let versioning = params.versions.unwrap_or(Versioning::Lww);
    let replicas = params.replicas.unwrap_or(3.min(cluster.node_count));
    if replicas == 0 || replicas > cluster.node_count {
        return Err(error(
            "protocol.replicas",
            format!(
                "expected 1 to {} (the node count), found {replicas}",
                cluster.node_count
            ),
        ));
    }
    let scheme = placement_scheme(params)?;
    let coordinator_timeout = positive(
        "protocol.coordinator_timeout",
        params
            .coordinator_timeout
            .unwrap_or(SimDuration::from_millis(300)),
    )?;
    let sloppy_after = positive(
        "protocol.sloppy_after",
        params.sloppy_after.unwrap_or(SimDuration::from_millis(50)),
    )?;
    if sloppy_after >= coordinator_timeout {
        return Err(error(
            "protocol.sloppy_after",
            format!("expected less than coordinator_timeout ({coordinator_timeout}), found {sloppy_after}"),
        ));
    }
    let anti_entropy = match params.anti_entropy {
        Some(SimDuration::ZERO) => None,
        Some(interval) => Some(interval),
        None => dynamo.then(|| SimDuration::from_secs(1)),
    };
    let bugs: BTreeSet<Bug> = params.bugs.iter().copied().collect();
    let sloppy_quorum = dynamo && params.sloppy_quorum.unwrap_or(true);
    check_bugs(&bugs, mode, versioning, sloppy_quorum)?;
    let nodes = (0..cluster.node_count as u32).map(NodeId).collect();
    Ok(Config {
        mode,
        versioning,
        replicas,
        placement: Placement::new(scheme, nodes),
        sloppy_quorum,
        hinted_handoff: dynamo && params.hinted_handoff.unwrap_or(true),
        read_repair: dynamo && params.read_repair.unwrap_or(true),
        anti_entropy,
        handoff_interval: positive(
            "protocol.handoff_interval",
            params
                .handoff_interval
                .unwrap_or(SimDuration::from_millis(500)),
        )?,
        sloppy_after,
        coordinator_timeout,
        bugs,
    })
}

fn expectations(
    cluster: &ClusterInfo,
    mode: Mode,
    checks: &CheckParams,
) -> Result<Expectations, SuiteError> {
    let abd = mode == Mode::Abd;
    let rule = if abd { Rule::Forbidden } else { Rule::Counted };
    if let Some(within) = checks.converge_within {
        positive("checks.converge_within", within)?;
        if cluster.quiet_duration == SimDuration::ZERO {
            return Err(error(
                "checks.converge_within",
                "a convergence bound needs a quiet phase, but the scenario has quiet = \"0s\"",
            ));
        }
        if within > cluster.quiet_duration {
            return Err(error(
                "checks.converge_within",
                format!(
                    "expected at most the quiet phase ({}), found {within}",
                    cluster.quiet_duration
                ),
            ));
        }
    }
    if checks.state_budget == Some(0) {
        return Err(error("checks.state_budget", "expected at least 1, found 0"));
    }
    Ok(Expectations {
        linearizable: checks.linearizable.unwrap_or(if abd {
            Expectation::Required
        } else {
            Expectation::Observed
        }),
        stale_reads: checks.stale_reads.unwrap_or(rule),
        lost_writes: checks.lost_writes.unwrap_or(rule),
        sessions: checks.sessions.unwrap_or(rule),
        converge_within: checks.converge_within,
        state_budget: checks.state_budget.unwrap_or(10_000_000),
    })
}

impl Suite for QuorumSuite {
    type P = QuorumNode;
    type Params = Params;
    type WorkloadParams = WorkloadParams;
    type CheckParams = CheckParams;

    const NAME: &'static str = "quorum";

    fn declaration() -> Declaration {
        Declaration {
            kinds: Vec::new(),
            roles: Vec::new(),
            nemesis_roles: Vec::new(),
            events: QuorumEvent::NAMES.to_vec(),
            checks: checks::CHECK_NAMES.to_vec(),
            bugs: Bug::ALL.iter().map(|b| b.name()).collect(),
        }
    }

    fn new(
        cluster: &ClusterInfo,
        params: Params,
        workload: WorkloadParams,
        checks: CheckParams,
    ) -> Result<Self, SuiteError> {
        let config = build_config(cluster, &params, &workload)?;
        let mut workload = workload;
        if config.mode == Mode::Abd {
            workload.max_attempts = Some(1);
        }
        workload.validate(cluster.node_count, config.replicas)?;
        let expect = expectations(cluster, config.mode, &checks)?;
        Ok(QuorumSuite {
            config: Arc::new(config),
            workload,
            expect,
            node_count: cluster.node_count,
        })
    }

    fn process(&self, node: NodeId) -> QuorumNode {
        QuorumNode::new(node, Arc::clone(&self.config))
    }

    fn workload(&self) -> Option<Box<dyn Workload<QuorumNode>>> {
        Some(Box::new(
            QuorumWorkload::new(&self.workload, self.node_count)
                .with_state_budget(self.expect.state_budget),
        ))
    }

    fn checks(&self) -> Vec<Box<dyn Check<QuorumNode>>> {
        checks::checks(&self.expect, &self.config)
    }

    fn summary(&self, sim: &Simulation<QuorumNode>, run: &RunInfo) -> Vec<(String, String)> {
        crate::figures::summary(&self.config, sim, run)
    }

    fn figures(&self, sim: &Simulation<QuorumNode>, _run: &RunInfo) -> Vec<(String, u64)> {
        crate::figures::figures(&self.config, sim)
    }

    fn history(&self, sim: &Simulation<QuorumNode>) -> Option<serde_json::Value> {
        quorum_workload(sim)
            .and_then(|w| w.client().history())
            .map(History::to_json)
    }
}

/// The level names for the summary.
pub fn level_name(level: Level) -> String {
    match level {
        Level::One => "ONE".to_string(),
        Level::Quorum => "QUORUM".to_string(),
        Level::All => "ALL".to_string(),
        Level::Count(k) => k.to_string(),
    }
}
