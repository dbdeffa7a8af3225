//! Scenario files: the TOML schema, its validation, and the fault schedule.
//!
//! [`Scenario::parse`] turns a file's text into a validated [`Scenario`], or a [`ScenarioError`]
//! that names the file, line, column and field. Protocol-specific tables (`[protocol]`,
//! `[workload]`, `[checks]`) are kept as TOML and decoded later by the protocol's suite through
//! [`Scenario::decode`], which places its errors in the file too. [`Scenario::schedule`]
//! materialises the random fault schedule (the nemesis) into an explicit list of [`FaultSpec`]s
//! from the run's seed, so a run can be printed, replayed and shrunk fault by fault.
//!
//! A scenario may leave some parameters open as `[low, high]` ranges (`cluster.nodes`, the
//! network's `drop` and `duplicate`, latency bounds): such a file describes a family of runs, and
//! [`Scenario::sample`] draws one member per seed from the seed's `parameters` stream ([`sample`]).
//! [`emit`] writes any scenario back out as an explicit TOML file.
//!
//! This crate reads no files: the CLI reads them and passes their text.

pub mod emit;
mod error;
mod fault;
mod nemesis;
mod raw;
pub mod sample;
#[cfg(feature = "proptest")]
pub mod strategies;

use serde::de::DeserializeOwned;
use sim_core::{Latency, NetworkConfig, NodeId, SimDuration, SimTime};
use toml::Spanned;

pub use error::{ScenarioError, Source};
pub use fault::{signed_duration, Action, FaultSpec, Shape, Target, Trigger};
pub use nemesis::{Nemesis, NemesisKind};
use raw::{Ranged, RawFault, RawLatency, RawNetwork, RawScenario};
pub use sample::ParameterRange;
use sample::Sampler;
use std::cell::RefCell;

/// The largest cluster a scenario may ask for.
pub const NODES_MAX: usize = 64;
/// The longest run a scenario may ask for (fault phase plus quiet phase).
pub const RUN_MAX: SimDuration = SimDuration::from_secs(24 * 3600);
/// Clock drift is kept within ±50% so that a local second is still a second of some kind.
pub const DRIFT_PPM_MAX: i64 = 500_000;

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
        let raw = Self::parse_raw(file, text)?;
        let source = Source::new(file, text);
        let low = Builder::new(source.clone(), Sampler::Low).build(&raw)?;
        if !low.ranges.is_empty() {
            Builder::new(source, Sampler::High).build(&raw)?;
        }
        Ok(low)
    }

    /// The member of this scenario's family that `seed` runs: every `[low, high]` range replaced
    /// by a value drawn from the seed's `parameters` stream, in file order. A scenario without
    /// ranges is its own only member.
    pub fn sample(&self, seed: u64) -> Result<Scenario, ScenarioError> {
        if self.ranges.is_empty() {
            return Ok(self.clone());
        }
        let raw = Self::parse_raw(&self.file, &self.text)?;
        let sampler = Sampler::Draw(Box::new(sim_core::Streams::new(seed).stream("parameters")));
        let mut sampled = Builder::new(Source::new(&self.file, &self.text), sampler).build(&raw)?;
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

    fn parse_raw(file: &str, text: &str) -> Result<RawScenario, ScenarioError> {
        let source = Source::new(file, text);
        if text.trim().is_empty() {
            return Err(source.error(
                "",
                "the file is empty; a scenario needs at least duration, [cluster] and [protocol]",
            ));
        }
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let message = match e.message().trim() {
                // Some of toml's errors carry no message of their own.
                "" => "invalid TOML: expected a value here".to_string(),
                m => m.to_string(),
            };
            let field = backticked(&message).unwrap_or_default();
            source.error_at(offset, &field, message)
        })?;
        Ok(raw)
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
        toml::Value::Table(table.clone())
            .try_into::<T>()
            .map_err(|e| {
                let message = e.message().trim().to_string();
                let key = backticked(&message).unwrap_or_default();
                let field = if key.is_empty() {
                    section.name().to_string()
                } else {
                    format!("{}.{key}", section.name())
                };
                self.error_at_field(&field, message)
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
    /// draws, time-triggered ones ordered by time (stably, so file order breaks ties).
    pub fn schedule(&self, seed: u64) -> Vec<FaultSpec> {
        let mut faults = self.faults.clone();
        if let Some(nemesis) = &self.nemesis {
            faults.extend(nemesis.materialise(seed, self));
        }
        faults.sort_by_key(|f| match f.trigger {
            Trigger::At(t) => (0, t),
            Trigger::OnEvent { .. } => (1, SimTime::ZERO),
        });
        faults
    }
}

/// The field a serde message names (`unknown field `foo``). Only messages about a field quote
/// its name; the others quote the value found (`invalid type: boolean `true``), which is no
/// field.
fn backticked(message: &str) -> Option<String> {
    const NAMING: [&str; 4] = [
        "unknown field `",
        "missing field `",
        "duplicate field `",
        "duplicate key `",
    ];
    let start = NAMING
        .iter()
        .find_map(|prefix| message.find(prefix).map(|i| i + prefix.len()))?;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

struct Builder<'a> {
    source: Source<'a>,
    /// Where range values come from: their low or high ends (validation), or a seed's draws.
    sampler: RefCell<Sampler>,
    ranges: RefCell<Vec<ParameterRange>>,
    sampled: RefCell<Vec<(String, String)>>,
}

impl<'a> Builder<'a> {
    fn new(source: Source<'a>, sampler: Sampler) -> Self {
        Builder {
            source,
            sampler: RefCell::new(sampler),
            ranges: RefCell::new(Vec::new()),
            sampled: RefCell::new(Vec::new()),
        }
    }

    /// The value of a possibly ranged parameter: a range is checked (`low <= high`, each end by
    /// `check`), recorded, and resolved by the sampler.
    fn pick<T: sample::Sample>(
        &self,
        value: &Spanned<Ranged<T>>,
        field: &str,
        check: impl Fn(T) -> Result<(), String>,
    ) -> Result<T, ScenarioError> {
        self.pick_at(value.get_ref(), value.span().start, field, check)
    }

    fn pick_at<T: sample::Sample>(
        &self,
        value: &Ranged<T>,
        offset: usize,
        field: &str,
        check: impl Fn(T) -> Result<(), String>,
    ) -> Result<T, ScenarioError> {
        let at = |message: String| self.source.error_at(offset, field, message);
        match *value {
            Ranged::One(v) => {
                check(v).map_err(at)?;
                Ok(v)
            }
            Ranged::Range([low, high]) => {
                check(low).map_err(|m| at(format!("the range's low end: {m}")))?;
                check(high).map_err(|m| at(format!("the range's high end: {m}")))?;
                if low.exceeds(high) {
                    return Err(at(format!(
                        "the range's low end ({}) is above its high end ({})",
                        low.render(),
                        high.render()
                    )));
                }
                self.ranges.borrow_mut().push(ParameterRange {
                    field: field.to_string(),
                    low: low.render(),
                    high: high.render(),
                });
                let v = self.sampler.borrow_mut().pick(low, high);
                if matches!(*self.sampler.borrow(), Sampler::Draw(_)) {
                    self.sampled
                        .borrow_mut()
                        .push((field.to_string(), v.render()));
                }
                Ok(v)
            }
        }
    }

    fn at<T>(
        &self,
        spanned: &Spanned<T>,
        field: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.source.error_at(spanned.span().start, field, message)
    }

    fn build(&self, raw: &RawScenario) -> Result<Scenario, ScenarioError> {
        let node_names = self.cluster(&raw.cluster)?;
        let duration = *raw.duration.get_ref();
        if duration == SimDuration::ZERO {
            return Err(self.at(
                &raw.duration,
                "duration",
                "expected a positive duration, found 0",
            ));
        }
        let quiet = raw
            .quiet
            .as_ref()
            .map_or(SimDuration::from_secs(10), |q| *q.get_ref());
        if duration + quiet > RUN_MAX {
            return Err(self.source.error_at(
                raw.duration.span().start,
                "duration",
                format!(
                    "a run of {} is absurd; at most {RUN_MAX} of simulated time",
                    duration + quiet
                ),
            ));
        }
        let max_events = match &raw.max_events {
            None => 500_000_000,
            Some(m) if *m.get_ref() >= 1 => *m.get_ref() as u64,
            Some(m) => {
                return Err(self.at(
                    m,
                    "max_events",
                    format!("expected a positive count, found {}", m.get_ref()),
                ))
            }
        };
        let protocol_table = raw.protocol.get_ref().clone();
        let protocol = match protocol_table.get("name") {
            Some(toml::Value::String(name)) => name.clone(),
            Some(other) => {
                return Err(self.at(
                    &raw.protocol,
                    "protocol.name",
                    format!(
                        "expected the protocol's name as a string, found {}",
                        other.type_str()
                    ),
                ))
            }
            None => {
                return Err(self.at(
                    &raw.protocol,
                    "protocol.name",
                    "missing: say which protocol runs, e.g. name = \"raft\"",
                ))
            }
        };
        let mut protocol_params = protocol_table;
        protocol_params.remove("name");
        let (network, client_latency) = match &raw.network {
            Some(n) => self.network(n.get_ref(), &NetworkConfig::default(), "network")?,
            None => (
                NetworkConfig::default(),
                Latency::Fixed(SimDuration::from_millis(1)),
            ),
        };
        let mut scenario = Scenario {
            file: self.source.file.to_string(),
            text: self.source.text.to_string(),
            name: raw
                .name
                .clone()
                .unwrap_or_else(|| file_stem(self.source.file)),
            description: raw.description.clone().unwrap_or_default(),
            node_names,
            duration,
            quiet,
            max_events,
            protocol,
            network,
            client_latency,
            faults: Vec::new(),
            nemesis: None,
            ranges: Vec::new(),
            sampled: Vec::new(),
            protocol_table: protocol_params,
            workload_table: raw
                .workload
                .as_ref()
                .map(|w| w.get_ref().clone())
                .unwrap_or_default(),
            checks_table: raw
                .checks
                .as_ref()
                .map(|c| c.get_ref().clone())
                .unwrap_or_default(),
        };
        for (i, fault) in raw.faults.iter().enumerate() {
            let spec = self.fault(fault, i, &scenario)?;
            scenario.faults.push(spec);
        }
        if let Some(nemesis) = &raw.nemesis {
            scenario.nemesis = Some(Nemesis::from_raw(nemesis, &self.source, &scenario)?);
        }
        scenario.ranges = self.ranges.take();
        scenario.sampled = self.sampled.take();
        Ok(scenario)
    }

    fn cluster(&self, cluster: &Spanned<raw::RawCluster>) -> Result<Vec<String>, ScenarioError> {
        let c = cluster.get_ref();
        match (&c.nodes, &c.names) {
            (Some(_), Some(names)) => Err(self.at(
                names,
                "cluster.names",
                "give either nodes (a count) or names, not both",
            )),
            (None, None) => Err(self.at(
                cluster,
                "cluster",
                "missing: give nodes = <count> or names = [...]",
            )),
            (Some(count), None) => {
                let n = self.pick(count, "cluster.nodes", |n| {
                    if n < 1 || n > NODES_MAX as i64 {
                        Err(format!(
                            "expected a node count in 1..={NODES_MAX}, found {n}"
                        ))
                    } else {
                        Ok(())
                    }
                })?;
                Ok((1..=n).map(|i| format!("n{i}")).collect())
            }
            (None, Some(names)) => {
                let list = names.get_ref();
                if list.is_empty() || list.len() > NODES_MAX {
                    return Err(self.at(
                        names,
                        "cluster.names",
                        format!("expected 1..={NODES_MAX} node names, found {}", list.len()),
                    ));
                }
                let mut seen: Vec<String> = Vec::new();
                for name in list {
                    let s = name.get_ref();
                    let reserved = ["leader", "random", "minority", "reporter"];
                    if s.is_empty() || reserved.contains(&s.as_str()) || s.starts_with("role:") {
                        return Err(self.at(
                            name,
                            "cluster.names",
                            format!("{s:?} cannot name a node (empty, or a reserved selector)"),
                        ));
                    }
                    if seen.contains(s) {
                        return Err(self.at(
                            name,
                            "cluster.names",
                            format!("the name {s:?} is given twice"),
                        ));
                    }
                    seen.push(s.clone());
                }
                Ok(seen)
            }
        }
    }

    fn probability(&self, p: &Spanned<Ranged<f64>>, field: &str) -> Result<f64, ScenarioError> {
        self.pick(p, field, |v| {
            if !(0.0..=1.0).contains(&v) || !v.is_finite() {
                Err(format!("expected a probability in [0, 1], found {v}"))
            } else {
                Ok(())
            }
        })
    }

    fn latency(&self, l: &Spanned<RawLatency>, field: &str) -> Result<Latency, ScenarioError> {
        match l.get_ref() {
            RawLatency::Fixed(d) => Ok(Latency::Fixed(*d)),
            RawLatency::Range(r) => {
                let start = l.span().start;
                let any = |_| Ok(());
                let min = self.pick_at(&r.min, start, &format!("{field}.min"), any)?;
                let mut max = self.pick_at(&r.max, start, &format!("{field}.max"), any)?;
                if matches!(*self.sampler.borrow(), Sampler::Draw(_)) && max < min {
                    // Independent draws of two ranges may cross; the bound drawn second gives way.
                    max = min;
                }
                if min > max {
                    return Err(self.at(l, field, format!("min ({min}) is above max ({max})")));
                }
                let tail = (r.tail_probability, r.tail_scale, r.tail_shape, r.tail_max);
                match tail {
                    (None, None, None, None) => Ok(Latency::Uniform { min, max }),
                    (Some(p), Some(scale), shape, tail_max) => {
                        if !(0.0..=1.0).contains(&p) {
                            return Err(self.at(
                                l,
                                &format!("{field}.tail_probability"),
                                format!("expected a probability in [0, 1], found {p}"),
                            ));
                        }
                        let shape = shape.unwrap_or(1.5);
                        if !(shape.is_finite() && shape > 0.0) {
                            return Err(self.at(
                                l,
                                &format!("{field}.tail_shape"),
                                format!("expected a positive number, found {shape}"),
                            ));
                        }
                        Ok(Latency::LongTail {
                            min,
                            max,
                            tail_probability: p,
                            tail_scale: scale,
                            tail_shape: shape,
                            tail_max: tail_max.unwrap_or(SimDuration::from_secs(10)),
                        })
                    }
                    _ => Err(self.at(
                        l,
                        field,
                        "a long tail needs at least tail_probability and tail_scale",
                    )),
                }
            }
        }
    }

    fn network(
        &self,
        n: &RawNetwork,
        base: &NetworkConfig,
        field: &str,
    ) -> Result<(NetworkConfig, Latency), ScenarioError> {
        let mut network = base.clone();
        if let Some(l) = &n.latency {
            network.latency = self.latency(l, &format!("{field}.latency"))?;
        }
        if let Some(p) = &n.drop {
            network.drop_probability = self.probability(p, &format!("{field}.drop"))?;
        }
        if let Some(p) = &n.duplicate {
            network.duplicate_probability = self.probability(p, &format!("{field}.duplicate"))?;
        }
        let client = match &n.client_latency {
            Some(l) => self.latency(l, &format!("{field}.client_latency"))?,
            None => Latency::Fixed(SimDuration::from_millis(1)),
        };
        Ok((network, client))
    }

    fn target(
        &self,
        name: &Spanned<String>,
        field: &str,
        scenario: &Scenario,
        event_triggered: bool,
    ) -> Result<Target, ScenarioError> {
        let s = name.get_ref().as_str();
        match s {
            "leader" => Ok(Target::Role("leader".to_string())),
            "random" => Ok(Target::Random),
            "minority" => Ok(Target::Minority),
            "reporter" if event_triggered => Ok(Target::Reporter),
            "reporter" => Err(self.at(name, field, "\"reporter\" names the node that reported the triggering event: it needs on_event")),
            _ if s.starts_with("role:") && s.len() > 5 => Ok(Target::Role(s[5..].to_string())),
            _ => scenario.node(s).map(|n| Target::Nodes(vec![n])).ok_or_else(|| {
                self.at(name, field, format!("no node is called {s:?}; the cluster has {}, and the selectors are leader, random, minority, reporter, role:NAME", scenario.node_names.join(", ")))
            }),
        }
    }

    fn fault(
        &self,
        f: &Spanned<RawFault>,
        index: usize,
        scenario: &Scenario,
    ) -> Result<FaultSpec, ScenarioError> {
        let raw = f.get_ref();
        let field = |name: &str| format!("faults[{index}].{name}");
        let line = self.source.line_column(f.span().start).0;
        let trigger = match (&raw.at, &raw.on_event) {
            (Some(at), None) => {
                if *at.get_ref() > scenario.duration {
                    return Err(self.at(
                        at,
                        &field("at"),
                        format!(
                            "{} is after the end of the fault phase ({})",
                            at.get_ref(),
                            scenario.duration
                        ),
                    ));
                }
                if raw.occurrence.is_some() || raw.not_before.is_some() {
                    return Err(self.at(
                        f,
                        &field("occurrence"),
                        "occurrence and not_before go with on_event, not at",
                    ));
                }
                Trigger::At(SimTime::ZERO + *at.get_ref())
            }
            (None, Some(event)) => {
                let occurrence = match &raw.occurrence {
                    None => 1,
                    Some(o) if *o.get_ref() >= 1 && *o.get_ref() <= u32::MAX as i64 => {
                        *o.get_ref() as u32
                    }
                    Some(o) => {
                        return Err(self.at(
                            o,
                            &field("occurrence"),
                            format!("expected a count from 1, found {}", o.get_ref()),
                        ))
                    }
                };
                if event.get_ref().is_empty() {
                    return Err(self.at(
                        event,
                        &field("on_event"),
                        "expected an event name such as \"became_leader\"",
                    ));
                }
                let not_before = SimTime::ZERO
                    + raw
                        .not_before
                        .as_ref()
                        .map_or(SimDuration::ZERO, |d| *d.get_ref());
                Trigger::OnEvent {
                    event: event.get_ref().clone(),
                    occurrence,
                    not_before,
                }
            }
            (Some(at), Some(_)) => {
                return Err(self.at(at, &field("at"), "give either at or on_event, not both"))
            }
            (None, None) => {
                return Err(self.at(
                    f,
                    &field("at"),
                    "missing: say when, with at = \"5s\" or on_event = \"became_leader\"",
                ))
            }
        };
        let event_triggered = matches!(trigger, Trigger::OnEvent { .. });
        let target = |required: bool| -> Result<Option<Target>, ScenarioError> {
            match (&raw.node, &raw.nodes) {
                (Some(_), Some(nodes)) => Err(self.at(
                    nodes,
                    &field("nodes"),
                    "give either node or nodes, not both",
                )),
                (Some(node), None) => Ok(Some(self.target(
                    node,
                    &field("node"),
                    scenario,
                    event_triggered,
                )?)),
                (None, Some(nodes)) => {
                    let mut ids = Vec::new();
                    for name in nodes.get_ref() {
                        let id = scenario.node(name.get_ref()).ok_or_else(|| {
                            self.at(
                                name,
                                &field("nodes"),
                                format!(
                                    "no node is called {:?}; the cluster has {}",
                                    name.get_ref(),
                                    scenario.node_names.join(", ")
                                ),
                            )
                        })?;
                        ids.push(id);
                    }
                    if ids.is_empty() {
                        return Err(self.at(nodes, &field("nodes"), "expected at least one node"));
                    }
                    Ok(Some(Target::Nodes(ids)))
                }
                (None, None) if required => Err(self.at(
                    f,
                    &field("node"),
                    "missing: say which node, e.g. node = \"n1\" or node = \"leader\"",
                )),
                (None, None) => Ok(None),
            }
        };
        let kind = raw.kind.get_ref().as_str();
        // Fields that belong to other kinds are mistakes worth naming.
        let allowed: &[&str] = match kind {
            "crash" => &["node", "restart_after"],
            "restart" => &["node"],
            "pause" => &["node", "for"],
            "partition" => &["node", "shape", "groups", "one_way", "heal_after"],
            "heal" => &[],
            "clock" => &["node", "offset", "drift_ppm", "heal_after"],
            "network" => &["latency", "drop", "duplicate", "heal_after"],
            other => {
                return Err(self.at(&raw.kind, &field("kind"), format!("expected one of crash, restart, pause, partition, heal, clock, network, found {other:?}")))
            }
        };
        let present: [(&str, bool); 14] = [
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
            ("kind", true),
            ("at", true),
        ];
        for (name, is_present) in present {
            if is_present && !allowed.contains(&name) && name != "kind" && name != "at" {
                return Err(self.at(
                    f,
                    &field(name),
                    format!(
                        "a {kind} fault takes no {name} (it takes: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let heal_after = raw.heal_after.as_ref().map(|d| *d.get_ref());
        let action = match kind {
            "crash" => Action::Crash {
                target: target(true)?.expect("required"),
                restart_after: raw.restart_after.as_ref().map(|d| *d.get_ref()),
            },
            "restart" => Action::Restart {
                target: target(true)?.expect("required"),
            },
            "pause" => {
                let duration = raw.for_.as_ref().ok_or_else(|| {
                    self.at(
                        f,
                        &field("for"),
                        "missing: how long the pause lasts, e.g. for = \"2s\"",
                    )
                })?;
                Action::Pause {
                    target: target(true)?.expect("required"),
                    duration: *duration.get_ref(),
                }
            }
            "partition" => {
                let shape_name = raw.shape.as_ref().map(|s| s.get_ref().as_str()).unwrap_or(
                    if raw.groups.is_some() {
                        "split"
                    } else {
                        "isolate"
                    },
                );
                let shape = match shape_name {
                    "isolate" => Shape::Isolate(target(true)?.expect("required")),
                    "split" => {
                        let groups = raw.groups.as_ref().ok_or_else(|| {
                            self.at(
                                f,
                                &field("groups"),
                                "missing: a split needs groups = [[\"n1\"], [\"n2\", \"n3\"]]",
                            )
                        })?;
                        let mut ids: Vec<Vec<NodeId>> = Vec::new();
                        let mut seen: Vec<NodeId> = Vec::new();
                        for group in groups.get_ref() {
                            let mut g = Vec::new();
                            for name in group {
                                let id = scenario.node(name.get_ref()).ok_or_else(|| {
                                    self.at(
                                        name,
                                        &field("groups"),
                                        format!(
                                            "no node is called {:?}; the cluster has {}",
                                            name.get_ref(),
                                            scenario.node_names.join(", ")
                                        ),
                                    )
                                })?;
                                if seen.contains(&id) {
                                    return Err(self.at(
                                        name,
                                        &field("groups"),
                                        format!("{:?} is in two groups", name.get_ref()),
                                    ));
                                }
                                seen.push(id);
                                g.push(id);
                            }
                            ids.push(g);
                        }
                        if raw.node.is_some() || raw.nodes.is_some() {
                            return Err(self.at(
                                f,
                                &field("node"),
                                "a split takes groups, not node",
                            ));
                        }
                        Shape::Split(ids)
                    }
                    "halves" | "majority-ring" | "bridge" => {
                        if raw.node.is_some() || raw.nodes.is_some() || raw.groups.is_some() {
                            return Err(self.at(
                                f,
                                &field("shape"),
                                format!("the {shape_name} shape takes neither node nor groups"),
                            ));
                        }
                        match shape_name {
                            "halves" => Shape::Halves,
                            "majority-ring" => Shape::MajorityRing,
                            _ => Shape::Bridge,
                        }
                    }
                    other => {
                        let span = raw.shape.as_ref().map_or(f.span(), |s| s.span());
                        return Err(self.source.error_at(span.start, &field("shape"), format!("expected one of isolate, split, halves, majority-ring, bridge, found {other:?}")));
                    }
                };
                Action::Partition {
                    shape,
                    one_way: raw.one_way.unwrap_or(false),
                    heal_after,
                }
            }
            "heal" => Action::Heal,
            "clock" => {
                let offset_ns = match &raw.offset {
                    None => 0,
                    Some(o) => {
                        let text = o.get_ref();
                        let (negative, magnitude) = match text.strip_prefix('-') {
                            Some(rest) => (true, rest),
                            None => (false, text.strip_prefix('+').unwrap_or(text)),
                        };
                        let d = SimDuration::parse(magnitude)
                            .map_err(|e| self.at(o, &field("offset"), e.to_string()))?;
                        if d > SimDuration::from_secs(24 * 3600) {
                            return Err(self.at(
                                o,
                                &field("offset"),
                                format!("an offset of {d} is absurd; at most 24h"),
                            ));
                        }
                        if negative {
                            -(d.0 as i64)
                        } else {
                            d.0 as i64
                        }
                    }
                };
                let drift_ppm = match &raw.drift_ppm {
                    None => 0,
                    Some(d) if d.get_ref().abs() < DRIFT_PPM_MAX => *d.get_ref(),
                    Some(d) => {
                        return Err(self.at(
                            d,
                            &field("drift_ppm"),
                            format!(
                                "expected a drift within ±{DRIFT_PPM_MAX} ppm, found {}",
                                d.get_ref()
                            ),
                        ))
                    }
                };
                if raw.offset.is_none() && raw.drift_ppm.is_none() {
                    return Err(self.at(
                        f,
                        &field("offset"),
                        "a clock fault needs offset, drift_ppm, or both",
                    ));
                }
                Action::Clock {
                    target: target(true)?.expect("required"),
                    offset_ns,
                    drift_ppm,
                    heal_after,
                }
            }
            "network" => {
                let change = RawNetwork {
                    latency: raw.latency.clone(),
                    drop: raw.drop.clone(),
                    duplicate: raw.duplicate.clone(),
                    client_latency: None,
                };
                if change.latency.is_none() && change.drop.is_none() && change.duplicate.is_none() {
                    return Err(self.at(
                        f,
                        &field("latency"),
                        "a network fault needs latency, drop or duplicate",
                    ));
                }
                let (network, _) =
                    self.network(&change, &scenario.network, &format!("faults[{index}]"))?;
                Action::Network {
                    network,
                    heal_after,
                }
            }
            _ => unreachable!("kinds were matched above"),
        };
        if let Action::Partition {
            shape: Shape::Isolate(Target::Reporter),
            ..
        }
        | Action::Crash {
            target: Target::Reporter,
            ..
        } = &action
        {
            debug_assert!(event_triggered);
        }
        Ok(FaultSpec {
            trigger,
            action,
            line,
        })
    }
}

fn file_stem(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.strip_suffix(".toml").unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests;
