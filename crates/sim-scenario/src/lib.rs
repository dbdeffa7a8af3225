//! Scenario files: the TOML schema, its validation, and the fault schedule.
//!
//! [`Scenario::parse`] turns a file's text into a validated [`Scenario`], or a [`ScenarioError`]
//! that names the file, line, column and field. Protocol-specific tables (`[protocol]`,
//! `[workload]`, `[checks]`) are kept as TOML and decoded later by the protocol's suite through
//! [`Scenario::decode`], which places its errors in the file too. [`Scenario::schedule`]
//! materialises the random fault schedule (the nemesis), aimed at the family's nemesis roles,
//! into an explicit list of [`FaultSpec`]s from the run's seed, so a run can be printed, replayed and shrunk fault by fault.
//!
//! A scenario may leave some parameters open as `[low, high]` ranges (`cluster.nodes`, the
//! network's `drop` and `duplicate`, latency bounds): such a file describes a family of runs, and
//! [`Scenario::sample`] draws one member per seed from the seed's `parameters` stream ([`sample`]).
//! [`emit`] writes any scenario back out as an explicit TOML file.
//!
//! The path from text to [`Scenario`] runs one way: `raw` (the serde schema with spans), then
//! `validate` (the builder, by section and by fault kind), then this module's [`Scenario`].
//! Names only a protocol family knows (events, roles, kinds of node, planted bugs, checks) are
//! checked afterwards against its [`sim_core::Declaration`] by [`Scenario::validate_names`],
//! which suggests the nearest known name ([`suggest`]). `[expect]` ([`Expect`]) states the check
//! a scenario exists to break and within how many seeds.
//!
//! This crate reads no files: the CLI reads them and passes their text.

pub mod emit;
mod error;
mod fault;
mod located;
mod names;
mod nemesis;
mod raw;
pub mod sample;
mod section;
#[cfg(feature = "proptest")]
pub mod strategies;
mod swarm;
mod swarm_check;
mod validate;

use serde::de::DeserializeOwned;
use sim_core::{Latency, NetworkConfig, NodeId, SimDuration, SimTime};

pub use error::{ScenarioError, Source};
pub use fault::{
    isolation_problem, signed_duration, split_problem, Action, FaultSpec, Shape, Target, Trigger,
    BRIDGE_NODES_MIN, MAJORITY_RING_NODES_MIN,
};
pub use names::suggest;
pub use nemesis::{Nemesis, NemesisKind};
pub use sample::ParameterRange;
pub use swarm_check::SwarmChoice;

/// The largest cluster a scenario may ask for.
pub const NODES_MAX: usize = 64;
/// The longest run a scenario may ask for (fault phase plus quiet phase).
pub const RUN_MAX: SimDuration = SimDuration::from_secs(24 * 3600);
/// Clock drift is kept within ±50% so that a local second is still a second of some kind.
pub const DRIFT_PPM_MAX: i64 = 500_000;

/// The most seeds `[expect] within_seeds` may give.
pub const EXPECT_SEEDS_MAX: u64 = 100_000;

/// `[expect]`: the check a scenario exists to break (a planted bug's), and the budget of seeds
/// (from 0) within which some seed must break it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The name of the check, e.g. `raft.log_matching`.
    pub fails: String,
    pub within_seeds: u64,
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from, as given.
    pub file: String,
    /// The file's full text.
    pub text: String,
    pub name: String,
    pub description: String,
    pub node_names: Vec<String>,
    /// Each node's kind, in node order: `[cluster] kinds`, or
    /// [`sim_core::Declaration::DEFAULT_KIND`] for every node when the file gives none.
    pub node_kinds: Vec<String>,
    /// The fault phase.
    pub duration: SimDuration,
    /// The quiet phase after every fault heals; zero for none.
    pub quiet: SimDuration,
    pub max_events: u64,
    /// The protocol's suite name.
    pub protocol: String,
    pub network: NetworkConfig,
    pub client_latency: Latency,
    /// The explicit fault schedule, in file order.
    pub faults: Vec<FaultSpec>,
    pub nemesis: Option<Nemesis>,
    /// `[expect]`, if the file states one.
    pub expect: Option<Expect>,
    /// The parameters the file leaves open as `[low, high]` ranges, in file order; empty for a
    /// scenario whose every parameter is fixed.
    pub ranges: Vec<ParameterRange>,
    /// The values [`Scenario::sample`] drew for those ranges (`field`, value), in the same order;
    /// empty until sampled.
    pub sampled: Vec<(String, String)>,
    protocol_table: toml::Table,
    workload_table: toml::Table,
    checks_table: toml::Table,
}

/// The protocol-specific tables of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Protocol,
    Workload,
    Checks,
}

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::Protocol => "protocol",
            Section::Workload => "workload",
            Section::Checks => "checks",
        }
    }
}

impl Scenario {
    /// Parses and validates `text`, read from `file`.
    ///
    /// A file with ranges is validated at both ends (every low bound, then every high bound), and
    /// the scenario returned holds the low ends until [`Scenario::sample`] draws a member.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        validate::parse(file, text)
    }

    /// The member of this scenario's family that `seed` runs: every `[low, high]` range replaced
    /// by a value drawn from the seed's `parameters` stream, in file order. A scenario without
    /// ranges is its own only member.
    pub fn sample(&self, seed: u64) -> Result<Scenario, ScenarioError> {
        if self.ranges.is_empty() {
            return Ok(self.clone());
        }
        let mut sampled = validate::sample(&self.file, &self.text, seed)?;
        // Whatever the file says, the caller's edits of the family (a shortened duration, say)
        // are not in the text; keep the ones the text cannot express.
        sampled.file.clone_from(&self.file);
        Ok(sampled)
    }

    /// The `[protocol]` table less `name`, as written.
    pub fn protocol_table(&self) -> &toml::Table {
        &self.protocol_table
    }

    /// The `[workload]` table, as written (empty when absent).
    pub fn workload_table(&self) -> &toml::Table {
        &self.workload_table
    }

    /// The `[checks]` table, as written (empty when absent).
    pub fn checks_table(&self) -> &toml::Table {
        &self.checks_table
    }

    /// Mutable access to a protocol-specific table, for tools that rewrite scenarios (`sim
    /// shrink`); the result should be written out with [`emit`] and parsed again.
    pub fn table_mut(&mut self, section: Section) -> &mut toml::Table {
        match section {
            Section::Protocol => &mut self.protocol_table,
            Section::Workload => &mut self.workload_table,
            Section::Checks => &mut self.checks_table,
        }
    }

    pub fn node_count(&self) -> usize {
        self.node_names.len()
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.node_names
            .iter()
            .position(|n| n == name)
            .map(|i| NodeId(i as u32))
    }

    /// The nodes of kind `kind`, in order.
    pub fn nodes_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = NodeId> + 'a {
        self.node_kinds
            .iter()
            .enumerate()
            .filter(move |(_, k)| k.as_str() == kind)
            .map(|(i, _)| NodeId(i as u32))
    }

    /// The kinds of node in the cluster, each once, in node order.
    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = Vec::new();
        for kind in &self.node_kinds {
            if !kinds.contains(&kind.as_str()) {
                kinds.push(kind);
            }
        }
        kinds
    }

    pub fn node_name(&self, node: NodeId) -> &str {
        &self.node_names[node.index()]
    }

    /// This scenario with its fault phase replaced by `duration` (a `--duration` flag, or the
    /// one a failure record carries), held to the limits a file's own duration is: positive, and
    /// with the quiet phase at most [`RUN_MAX`].
    pub fn with_duration(&self, duration: SimDuration) -> Result<Scenario, ScenarioError> {
        let source = Source::new(&self.file, &self.text);
        if duration == SimDuration::ZERO {
            return Err(source.error(
                "duration",
                "the duration override (--duration) must be positive, found 0s",
            ));
        }
        if duration + self.quiet > RUN_MAX {
            return Err(source.error(
                "duration",
                format!(
                    "the duration override (--duration) {duration} makes a run of {}; at most \
                     {RUN_MAX} of simulated time",
                    duration + self.quiet
                ),
            ));
        }
        // A fault the shorter phase would drop could not take effect: an error, as in the file.
        for (index, fault) in self.faults.iter().enumerate() {
            if let Trigger::At(at) = fault.trigger {
                if at > SimTime::ZERO + duration {
                    return Err(ScenarioError {
                        file: self.file.clone(),
                        line: fault.line,
                        column: 1,
                        field: format!("faults[{index}].at"),
                        message: format!(
                            "{} is after the end of the fault phase the duration override \
                             (--duration) {duration} sets",
                            at.saturating_since(SimTime::ZERO)
                        ),
                    });
                }
            }
        }
        if let Some(nemesis) = &self.nemesis {
            if nemesis.start_after >= duration {
                return Err(self.error_at_field(
                    "nemesis.start_after",
                    format!(
                        "{} is not before the end of the fault phase the duration override \
                         (--duration) {duration} sets: the nemesis would never act",
                        nemesis.start_after
                    ),
                ));
            }
        }
        let mut scenario = self.clone();
        scenario.duration = duration;
        Ok(scenario)
    }

    /// The end of the fault phase.
    pub fn fault_end(&self) -> SimTime {
        SimTime::ZERO + self.duration
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        SimTime::ZERO + self.duration + self.quiet
    }

    /// Decodes a protocol-specific table into the suite's type (`[protocol]` without `name`).
    pub fn decode<T: DeserializeOwned>(&self, section: Section) -> Result<T, ScenarioError> {
        let table = match section {
            Section::Protocol => &self.protocol_table,
            Section::Workload => &self.workload_table,
            Section::Checks => &self.checks_table,
        };
        located::deserialize(toml::Value::Table(table.clone())).map_err(|(path, e)| {
            let source = Source::new(&self.file, &self.text);
            let header = source.locate_key(section.name(), "");
            let prefix = located::FieldPath::key(section.name());
            located::error(&source, prefix, path, e.message(), Some(header))
        })
    }

    /// An error about `field` (a dotted path such as `protocol.election_timeout`), placed at the
    /// line that sets it, or at its table's header.
    pub fn error_at_field(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        let source = Source::new(&self.file, &self.text);
        let (section, key) = field.split_once('.').unwrap_or((field, ""));
        let key = key.split('.').next().unwrap_or("");
        source.error_at(source.locate_key(section, key), field, message)
    }

    /// The full fault schedule of a run with `seed`: the explicit faults, then those the nemesis
    /// draws aimed at `roles` (the family's [`sim_core::Declaration::nemesis_roles`]), time-
    /// triggered ones ordered by time (stably, so file order breaks ties).
    pub fn schedule(&self, seed: u64, roles: &[&str]) -> Vec<FaultSpec> {
        let mut faults = self.faults.clone();
        if let Some(nemesis) = &self.nemesis {
            faults.extend(nemesis.materialise(seed, self, roles));
        }
        faults.sort_by_key(|f| match f.trigger {
            Trigger::At(t) => (0, t),
            Trigger::OnEvent { .. } => (1, SimTime::ZERO),
        });
        faults
    }
}

#[cfg(test)]
mod partition_tests;
#[cfg(test)]
mod tests;
