//! A protocol family as a scenario runs it: its processes, client workload, checks and summary.
//!
//! The runner knows protocols only through this trait. A scenario's `[protocol]` table (less its
//! `name`), its `[workload]` table and its `[checks]` table are deserialized into the suite's
//! three parameter types, which should reject unknown fields (`#[serde(deny_unknown_fields)]`).
//! A user who writes a protocol implements [`crate::Process`] and then this trait to run it from
//! scenario files.

use serde::de::DeserializeOwned;

use crate::check::Check;
use crate::check::Phases;
use crate::process::Process;
use crate::sim::{Simulation, Workload};
use crate::time::{SimDuration, SimTime};
use crate::NodeId;

/// What a suite needs to know about the cluster when it is built.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub node_count: usize,
    pub node_names: Vec<String>,
    /// The length of the fault phase.
    pub fault_duration: SimDuration,
    /// The length of the quiet phase, zero when the run has none.
    pub quiet_duration: SimDuration,
    /// Each node's kind (`[cluster] kinds`), in node order; every entry is
    /// [`Declaration::DEFAULT_KIND`] for a family with one kind of node.
    pub node_kinds: Vec<String>,
}

impl ClusterInfo {
    /// A cluster of `node_count` nodes named `n1..nN`, all of the one default kind.
    pub fn uniform(
        node_count: usize,
        fault_duration: SimDuration,
        quiet_duration: SimDuration,
    ) -> Self {
        ClusterInfo {
            node_count,
            node_names: (1..=node_count).map(|i| format!("n{i}")).collect(),
            fault_duration,
            quiet_duration,
            node_kinds: vec![Declaration::DEFAULT_KIND.to_string(); node_count],
        }
    }

    /// The nodes of kind `kind`, in order.
    pub fn nodes_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = NodeId> + 'a {
        self.node_kinds
            .iter()
            .enumerate()
            .filter(move |(_, k)| k.as_str() == kind)
            .map(|(i, _)| NodeId(i as u32))
    }

    /// The kind of `node`.
    pub fn kind_of(&self, node: NodeId) -> &str {
        self.node_kinds
            .get(node.index())
            .map_or(Declaration::DEFAULT_KIND, String::as_str)
    }
}

/// The names a protocol family declares to the tool. Loading a scenario validates every name it
/// uses against these (`on_event`, `node = "role:..."`, `kind:...`, `[protocol] bugs`,
/// `[expect] fails`, `[cluster] kinds`): a misspelt name is an error with a suggestion, never a
/// fault that silently does not fire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declaration {
    /// The kinds of node the family builds (`[cluster] kinds = { coordinator = 1, ... }`).
    /// Empty: one kind, [`Declaration::DEFAULT_KIND`], and a scenario gives a plain node count.
    pub kinds: Vec<&'static str>,
    /// The roles [`crate::Process::has_role`] answers (`leader`, `coordinator`, `holder`).
    pub roles: Vec<&'static str>,
    /// The roles the nemesis aims faults at; each is one of `roles`.
    pub nemesis_roles: Vec<&'static str>,
    /// The names of the events the family reports ([`crate::Event::name`]).
    pub events: Vec<&'static str>,
    /// The names of every check the family can run.
    pub checks: Vec<&'static str>,
    /// The planted bugs `[protocol] bugs = [...]` may switch on.
    pub bugs: Vec<&'static str>,
}

impl Declaration {
    /// The kind of every node of a family that declares no kinds.
    pub const DEFAULT_KIND: &'static str = "node";
}

/// One protocol family, runnable from a scenario.
pub trait Suite: Sized + 'static {
    type P: Process;
    /// `[protocol]` less `name`.
    type Params: DeserializeOwned;
    /// `[workload]`; an absent table deserializes from an empty one.
    type WorkloadParams: DeserializeOwned;
    /// `[checks]`; an absent table deserializes from an empty one.
    type CheckParams: DeserializeOwned;

    /// The name a scenario gives in `[protocol] name = ...`.
    const NAME: &'static str;

    /// The kinds of node, roles, events, checks and planted bugs a scenario may name.
    fn declaration() -> Declaration;

    /// Validates the parameters together; the error names the field and what was expected.
    fn new(
        cluster: &ClusterInfo,
        params: Self::Params,
        workload: Self::WorkloadParams,
        checks: Self::CheckParams,
    ) -> Result<Self, SuiteError>;

    /// A fresh process for `node`: on first boot and on every restart (it reads its durable
    /// state in `on_start`).
    fn process(&self, node: NodeId) -> Self::P;

    /// The client workload, if the protocol has clients.
    fn workload(&self) -> Option<Box<dyn Workload<Self::P>>>;

    /// The checks of this run.
    fn checks(&self) -> Vec<Box<dyn Check<Self::P>>>;

    /// Protocol-specific lines for the run summary (leaders by term, operations, latencies,
    /// availability during the fault windows).
    fn summary(&self, sim: &Simulation<Self::P>, run: &RunInfo) -> Vec<(String, String)> {
        let _ = (sim, run);
        Vec::new()
    }

    /// Counts the run measured, by name, for campaigns and comparison tables: how often the run
    /// reached an interesting moment of the protocol (coverage, e.g. `raft.elections`,
    /// `raft.snapshots_installed`) and figures a table compares across scenarios (e.g.
    /// `ops.ok`, `ops.failed`). Integers, so that sums over many seeds are exact. A campaign
    /// reports, per name, how many seeds reached a non-zero count and the total.
    fn figures(&self, sim: &Simulation<Self::P>, run: &RunInfo) -> Vec<(String, u64)> {
        let _ = (sim, run);
        Vec::new()
    }

    /// The client history in the checker's JSON format, for `--history FILE`.
    fn history(&self, sim: &Simulation<Self::P>) -> Option<serde_json::Value> {
        let _ = sim;
        None
    }
}

/// What the runner knows about a finished run, for summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub phases: Phases,
    /// The intervals during which at least one fault was in force, in order, not overlapping.
    pub fault_windows: Vec<(SimTime, SimTime)>,
}

/// A parameter problem found by [`Suite::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field \"{field}\": {message}")]
pub struct SuiteError {
    /// The dotted path of the field, e.g. `protocol.election_timeout`.
    pub field: String,
    pub message: String,
}

impl SuiteError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        SuiteError {
            field: field.into(),
            message: message.into(),
        }
    }
}
