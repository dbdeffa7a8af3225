//! The run loop: one scenario, one seed, one suite.
//!
//! [`run_suite`] builds the suite from the scenario's tables, creates the [`Simulation`],
//! materialises the fault schedule, and steps the simulation to the end of the run. After every
//! step the checks observe it; faults fire at their time or right after the handler that
//! reported their event; at the end of the fault phase every fault is healed and the quiet phase
//! begins. The first violation of an always-check stops the run.

use std::collections::BTreeMap;
use std::io::Write;

use rand::Rng;
use sim_core::{
    Check, CheckKind, CheckReport, Clock, ClusterInfo, Event, NetworkConfig, NodeChange, NodeId,
    NodeStatus, Observation, Phases, Reachability, RunInfo, SimConfig, SimDuration, SimRng,
    SimTime, Simulation, Step, Suite, Trace, Violation,
};
use sim_scenario::{Action, FaultSpec, Scenario, ScenarioError, Section, Shape, Target, Trigger};

use crate::report::{AppliedFault, RunReport};

/// How to run a scenario.
pub struct RunOptions {
    pub seed: u64,
    /// Replaces the scenario's fault-phase duration (`--duration`).
    pub duration: Option<SimDuration>,
    /// Where to stream the trace as JSON Lines (`--trace FILE`).
    pub trace: Option<Box<dyn Write>>,
    /// Keep the client history for `--history FILE`.
    pub keep_history: bool,
}

impl RunOptions {
    pub fn new(seed: u64) -> Self {
        RunOptions {
            seed,
            duration: None,
            trace: None,
            keep_history: false,
        }
    }
}

const QUIET_TOKEN: u64 = u64::MAX;
const HEAL_BASE: u64 = 1 << 62;

/// What to undo when a fault's time is up.
#[derive(Debug, Clone)]
enum Heal {
    Restart(Vec<NodeId>),
    Partition(u64),
    Clocks(Vec<NodeId>),
    Network,
}

struct Driver<S: Suite> {
    sim: Simulation<S::P>,
    checks: Vec<Box<dyn Check<S::P>>>,
    schedule: Vec<FaultSpec>,
    event_counts: Vec<u32>,
    fired: Vec<bool>,
    /// The indices of the faults aimed at protocol events, so a report is matched against those
    /// only, not against the whole (possibly long, nemesis-made) schedule.
    event_triggered: Vec<usize>,
    heals: Vec<Heal>,
    partitions: BTreeMap<u64, Reachability>,
    next_partition: u64,
    base_network: NetworkConfig,
    fault_rng: SimRng,
    /// Each node's kind, for `kind:` and `random:` targets.
    node_kinds: Vec<String>,
    quiet_start: Option<SimTime>,
    violation: Option<(String, Violation)>,
    applied: Vec<AppliedFault>,
    windows: Vec<(SimTime, SimTime)>,
    faulty_since: Option<SimTime>,
}

/// Runs `scenario` with the suite `S`.
pub fn run_suite<S: Suite>(
    scenario: &Scenario,
    mut options: RunOptions,
) -> Result<RunReport, ScenarioError> {
    // A scenario with [low, high] ranges runs the member its seed samples.
    let mut scenario = scenario.sample(options.seed)?;
    if let Some(d) = options.duration {
        scenario = scenario.with_duration(d)?;
    }
    let cluster = ClusterInfo {
        node_count: scenario.node_count(),
        node_names: scenario.node_names.clone(),
        fault_duration: scenario.duration,
        quiet_duration: scenario.quiet,
        node_kinds: scenario.node_kinds.clone(),
    };
    let params = scenario.decode::<S::Params>(Section::Protocol)?;
    let workload = scenario.decode::<S::WorkloadParams>(Section::Workload)?;
    let check_params = scenario.decode::<S::CheckParams>(Section::Checks)?;
    let suite = S::new(&cluster, params, workload, check_params)
        .map_err(|e| scenario.error_at_field(&e.field, e.message))?;
    let suite = std::rc::Rc::new(suite);

    let config = SimConfig {
        seed: options.seed,
        node_count: scenario.node_count(),
        network: scenario.network.clone(),
        client_latency: scenario.client_latency.clone(),
        max_events: scenario.max_events,
    };
    let factory_suite = suite.clone();
    let trace = Trace::new(options.trace.take());
    let mut sim = Simulation::new(
        config,
        Box::new(move |node| factory_suite.process(node)),
        trace,
    );
    if let Some(workload) = suite.workload() {
        sim.set_workload(workload);
    }
    let schedule = scenario.schedule(options.seed, &S::declaration().nemesis_roles);
    let fault_rng = sim.streams().stream("faults");
    let mut driver: Driver<S> = Driver {
        checks: suite.checks(),
        event_counts: vec![0; schedule.len()],
        fired: vec![false; schedule.len()],
        event_triggered: (0..schedule.len())
            .filter(|&i| matches!(schedule[i].trigger, Trigger::OnEvent { .. }))
            .collect(),
        heals: Vec::new(),
        partitions: BTreeMap::new(),
        next_partition: 0,
        base_network: scenario.network.clone(),
        fault_rng,
        node_kinds: scenario.node_kinds.clone(),
        quiet_start: None,
        violation: None,
        applied: Vec::new(),
        windows: Vec::new(),
        faulty_since: None,
        schedule,
        sim,
    };
    for (i, fault) in driver.schedule.iter().enumerate() {
        if let Trigger::At(t) = fault.trigger {
            driver.sim.schedule_external(t, i as u64);
        }
    }
    if scenario.quiet > SimDuration::ZERO {
        driver
            .sim
            .schedule_external(scenario.fault_end(), QUIET_TOKEN);
    }
    driver.sim.start();
    let end = scenario.end();
    driver.run(end);
    let end_time =
        if driver.violation.is_some() || driver.sim.panic().is_some() || driver.sim.limit_reached()
        {
            driver.sim.now()
        } else {
            end
        };
    if let Some(since) = driver.faulty_since.take() {
        driver.windows.push((since, end_time));
    }
    let phases = Phases {
        quiet_start: driver.quiet_start,
        end: end_time,
    };
    let run_info = RunInfo {
        phases,
        fault_windows: driver.windows.clone(),
    };
    let mut reports: Vec<CheckReport> = Vec::new();
    for check in driver.checks.iter_mut() {
        let mut report = check.finish(&driver.sim, &phases);
        if let Some((name, violation)) = &driver.violation {
            if *name == report.name && report.violation.is_none() {
                report.violation = Some(violation.clone());
            }
        }
        reports.push(report);
    }
    let trace_error = driver.sim.trace_mut().finish().err().map(|e| e.to_string());
    let summary = suite.summary(&driver.sim, &run_info);
    let history = if options.keep_history {
        suite.history(&driver.sim)
    } else {
        None
    };
    let stopped_early = driver
        .violation
        .as_ref()
        .map(|(name, v)| (name.clone(), v.clone()));
    Ok(RunReport {
        scenario_name: scenario.name.clone(),
        scenario_file: scenario.file.clone(),
        protocol: scenario.protocol.clone(),
        node_count: scenario.node_count(),
        seed: options.seed,
        duration: scenario.duration,
        quiet: scenario.quiet,
        duration_override: options.duration,
        schedule: driver.schedule.iter().map(|f| f.to_string()).collect(),
        time_reached: end_time,
        stats: *driver.sim.stats(),
        applied: driver.applied,
        fault_windows: driver.windows,
        checks: reports,
        summary,
        trace_hash: driver.sim.trace_hash(),
        trace_events: driver.sim.trace_mut().event_count(),
        trace_checkpoints: driver.sim.trace_mut().checkpoints().to_vec(),
        parameters: scenario.sampled.clone(),
        panic: driver.sim.panic().cloned(),
        limit_reached: driver.sim.limit_reached(),
        stopped_by: stopped_early,
        history,
        trace_error,
    })
}

impl<S: Suite> Driver<S> {
    fn run(&mut self, end: SimTime) {
        while let Some(time) = self.sim.peek_time() {
            if time > end {
                break;
            }
            let Some(step) = self.sim.step() else { break };
            match step {
                Step::Handled { node } => {
                    if self.observe_handled(node) {
                        return;
                    }
                    self.fire_event_triggers(node);
                }
                Step::External(QUIET_TOKEN) => self.begin_quiet_phase(),
                Step::External(token) if token >= HEAL_BASE => {
                    if self.quiet_start.is_none() {
                        let heal = self.heals[(token - HEAL_BASE) as usize].clone();
                        self.heal(heal);
                    }
                }
                Step::External(token) => {
                    if self.quiet_start.is_none() {
                        self.fire(token as usize, None);
                    }
                }
                Step::Resumed { node } => self.observe(Observation::Node {
                    node,
                    change: NodeChange::Resumed,
                }),
                Step::Replied { .. } | Step::ClientWoke | Step::Quiet => {}
            }
            if self.violation.is_some() {
                return;
            }
        }
    }

    /// Passes a handler's step to every check; true if an always-check was violated.
    fn observe_handled(&mut self, node: NodeId) -> bool {
        let sim = &self.sim;
        let observation = Observation::Handled {
            node,
            events: sim.reports(),
        };
        for check in self.checks.iter_mut() {
            if let Some(v) = check.observe(sim, &observation) {
                if check.kind() == CheckKind::Always {
                    self.violation = Some((check.name().to_string(), v));
                    return true;
                }
            }
        }
        false
    }

    fn observe(&mut self, observation: Observation<'_, S::P>) {
        self.track_windows();
        for check in self.checks.iter_mut() {
            if let Some(v) = check.observe(&self.sim, &observation) {
                if check.kind() == CheckKind::Always && self.violation.is_none() {
                    self.violation = Some((check.name().to_string(), v));
                }
            }
        }
    }

    fn fire_event_triggers(&mut self, node: NodeId) {
        if self.quiet_start.is_some()
            || self.event_triggered.is_empty()
            || self.sim.reports().is_empty()
        {
            return;
        }
        let now = self.sim.now();
        let mut due = Vec::new();
        for event in self.sim.reports() {
            let name = event.name();
            for &i in &self.event_triggered {
                let fault = &self.schedule[i];
                if let Trigger::OnEvent {
                    event,
                    occurrence,
                    not_before,
                } = &fault.trigger
                {
                    if self.fired[i] || event != name || now < *not_before {
                        continue;
                    }
                    self.event_counts[i] += 1;
                    if self.event_counts[i] == *occurrence {
                        due.push(i);
                    }
                }
            }
        }
        for i in due {
            self.fire(i, Some(node));
        }
    }

    fn resolve(&mut self, target: &Target, reporter: Option<NodeId>) -> Vec<NodeId> {
        let n = self.sim.node_count();
        match target {
            Target::Nodes(nodes) => nodes.clone(),
            Target::Role(role) => self.sim.nodes_with_role(role).into_iter().take(1).collect(),
            Target::Random => vec![NodeId(self.fault_rng.gen_range(0..n as u32))],
            Target::Kind(kind) => self.nodes_of_kind(kind),
            Target::RandomOfKind(kind) => {
                let nodes = self.nodes_of_kind(kind);
                if nodes.is_empty() {
                    return nodes;
                }
                vec![nodes[self.fault_rng.gen_range(0..nodes.len())]]
            }
            Target::Minority => {
                let mut order = self.shuffled();
                order.truncate((n - 1) / 2);
                order.sort();
                order
            }
            Target::Reporter => reporter.into_iter().collect(),
        }
    }

    fn nodes_of_kind(&self, kind: &str) -> Vec<NodeId> {
        (0..self.node_kinds.len())
            .filter(|&i| self.node_kinds[i] == kind)
            .map(|i| NodeId(i as u32))
            .collect()
    }

    fn shuffled(&mut self) -> Vec<NodeId> {
        let mut order: Vec<NodeId> = self.sim.node_ids().collect();
        for i in (1..order.len()).rev() {
            let j = self.fault_rng.gen_range(0..=i);
            order.swap(i, j);
        }
        order
    }

    fn schedule_heal(&mut self, after: Option<SimDuration>, heal: Heal) {
        if let Some(after) = after {
            let token = HEAL_BASE + self.heals.len() as u64;
            self.heals.push(heal);
            let at = self.sim.now().saturating_add(after);
            self.sim.schedule_external(at, token);
        }
    }

    fn note(&mut self, text: String) {
        self.sim.note_fault(format_args!("{text}"));
        self.applied.push(AppliedFault {
            time: self.sim.now(),
            text,
            skipped: false,
        });
    }

    /// A fault whose target did not exist when it fired (no leader, say): noted, not counted.
    fn skip(&mut self, what: String) {
        self.note(format!("{what}: no such node now, skipped"));
        if let Some(last) = self.applied.last_mut() {
            last.skipped = true;
        }
    }

    fn names(nodes: &[NodeId]) -> String {
        nodes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn fire(&mut self, index: usize, reporter: Option<NodeId>) {
        self.fired[index] = true;
        let fault = self.schedule[index].clone();
        match &fault.action {
            Action::Crash {
                target,
                restart_after,
            } => {
                let nodes = self.resolve(target, reporter);
                if nodes.is_empty() {
                    return self.skip(format!("crash {target}"));
                }
                self.note(format!("crash {}", Self::names(&nodes)));
                for &node in &nodes {
                    self.sim.crash(node);
                    self.observe(Observation::Node {
                        node,
                        change: NodeChange::Crashed,
                    });
                }
                self.schedule_heal(*restart_after, Heal::Restart(nodes));
            }
            Action::Restart { target } => {
                let nodes = self.resolve(target, reporter);
                self.heal(Heal::Restart(nodes));
            }
            Action::Pause { target, duration } => {
                let nodes = self.resolve(target, reporter);
                if nodes.is_empty() {
                    return self.skip(format!("pause {target}"));
                }
                self.note(format!("pause {} for {duration}", Self::names(&nodes)));
                for &node in &nodes {
                    self.sim.pause(node, *duration);
                    self.observe(Observation::Node {
                        node,
                        change: NodeChange::Paused,
                    });
                }
            }
            Action::Partition {
                shape,
                one_way,
                heal_after,
            } => {
                let n = self.sim.node_count();
                let (reachability, text) = match shape {
                    Shape::Isolate(target) => {
                        let nodes = self.resolve(target, reporter);
                        if nodes.is_empty() {
                            return self.skip(format!("partition isolate {target}"));
                        }
                        let r = if nodes.len() == 1 {
                            Reachability::isolate(n, nodes[0], *one_way)
                        } else {
                            Reachability::split(n, std::slice::from_ref(&nodes), *one_way)
                        };
                        (r, format!("isolate {}", Self::names(&nodes)))
                    }
                    Shape::Split(groups) => {
                        let text = groups
                            .iter()
                            .map(|g| Self::names(g))
                            .collect::<Vec<_>>()
                            .join(" | ");
                        (
                            Reachability::split(n, groups, *one_way),
                            format!("split {text}"),
                        )
                    }
                    Shape::Halves => {
                        let order = self.shuffled();
                        let (first, second) = order.split_at(n / 2);
                        let groups = [first.to_vec(), second.to_vec()];
                        let text = format!(
                            "halves {} | {}",
                            Self::names(&groups[0]),
                            Self::names(&groups[1])
                        );
                        (Reachability::split(n, &groups, *one_way), text)
                    }
                    Shape::MajorityRing => {
                        let order = self.shuffled();
                        (
                            Reachability::majority_ring(&order),
                            format!("majority-ring {}", Self::names(&order)),
                        )
                    }
                    Shape::Bridge => {
                        let order = self.shuffled();
                        (
                            Reachability::bridge(&order),
                            format!("bridge {}", Self::names(&order)),
                        )
                    }
                };
                let one_way_text = if *one_way { " (one way)" } else { "" };
                self.note(format!("partition {text}{one_way_text}"));
                let id = self.next_partition;
                self.next_partition += 1;
                self.partitions.insert(id, reachability);
                self.apply_partitions();
                self.schedule_heal(*heal_after, Heal::Partition(id));
            }
            Action::Heal => {
                self.note("heal every partition".to_string());
                self.partitions.clear();
                self.apply_partitions();
            }
            Action::Clock {
                target,
                offset_ns,
                drift_ppm,
                heal_after,
            } => {
                let nodes = self.resolve(target, reporter);
                if nodes.is_empty() {
                    return self.skip(format!("clock {target}"));
                }
                self.note(format!(
                    "clock {} offset {} drift {drift_ppm}ppm",
                    Self::names(&nodes),
                    sim_scenario::signed_duration(*offset_ns)
                ));
                for &node in &nodes {
                    self.sim.set_clock(
                        node,
                        Clock {
                            offset_ns: *offset_ns,
                            drift_ppm: *drift_ppm,
                        },
                    );
                    self.observe(Observation::Node {
                        node,
                        change: NodeChange::ClockChanged,
                    });
                }
                self.schedule_heal(*heal_after, Heal::Clocks(nodes));
            }
            Action::Network {
                network,
                heal_after,
            } => {
                self.note(format!(
                    "network latency up to {}, drop {}, duplicate {}",
                    network.latency.max(),
                    network.drop_probability,
                    network.duplicate_probability
                ));
                self.sim.set_network(network.clone());
                self.observe(Observation::Network);
                self.schedule_heal(*heal_after, Heal::Network);
            }
        }
    }

    fn apply_partitions(&mut self) {
        let mut reachability = Reachability::full(self.sim.node_count());
        for r in self.partitions.values() {
            reachability.merge(r);
        }
        self.sim.set_reachability(reachability);
        self.observe(Observation::Network);
    }

    fn heal(&mut self, heal: Heal) {
        match heal {
            Heal::Restart(nodes) => {
                let down: Vec<NodeId> = nodes
                    .into_iter()
                    .filter(|&n| self.sim.status(n) == NodeStatus::Down)
                    .collect();
                if down.is_empty() {
                    return;
                }
                self.note(format!("restart {}", Self::names(&down)));
                for node in down {
                    self.sim.restart(node);
                    self.observe(Observation::Node {
                        node,
                        change: NodeChange::Restarted,
                    });
                }
            }
            Heal::Partition(id) => {
                if self.partitions.remove(&id).is_some() {
                    self.note("heal partition".to_string());
                    self.apply_partitions();
                }
            }
            Heal::Clocks(nodes) => {
                self.note(format!("reset clock {}", Self::names(&nodes)));
                for node in nodes {
                    self.sim.set_clock(node, Clock::default());
                    self.observe(Observation::Node {
                        node,
                        change: NodeChange::ClockChanged,
                    });
                }
            }
            Heal::Network => {
                self.note("restore network".to_string());
                let base = self.base_network.clone();
                self.sim.set_network(base);
                self.observe(Observation::Network);
            }
        }
    }

    /// The end of the fault phase: every fault is healed, and liveness is judged from here.
    fn begin_quiet_phase(&mut self) {
        self.note("quiet phase: heal everything".to_string());
        if !self.partitions.is_empty() || !self.sim.reachability().is_full() {
            self.partitions.clear();
            self.apply_partitions();
        }
        if *self.sim.network() != self.base_network {
            let base = self.base_network.clone();
            self.sim.set_network(base);
            self.observe(Observation::Network);
        }
        let nodes: Vec<NodeId> = self.sim.node_ids().collect();
        for node in nodes {
            match self.sim.status(node) {
                NodeStatus::Down => {
                    self.sim.restart(node);
                    self.observe(Observation::Node {
                        node,
                        change: NodeChange::Restarted,
                    });
                }
                NodeStatus::Paused => {
                    self.sim.resume_now(node);
                    self.observe(Observation::Node {
                        node,
                        change: NodeChange::Resumed,
                    });
                }
                NodeStatus::Up => {}
            }
            if self.sim.clock(node) != Clock::default() {
                self.sim.set_clock(node, Clock::default());
                self.observe(Observation::Node {
                    node,
                    change: NodeChange::ClockChanged,
                });
            }
        }
        self.quiet_start = Some(self.sim.now());
        self.observe(Observation::QuietPhase);
    }

    /// Keeps the intervals during which some fault was in force.
    fn track_windows(&mut self) {
        let sim = &self.sim;
        let faulty = !sim.reachability().is_full()
            || *sim.network() != self.base_network
            || sim
                .node_ids()
                .any(|n| sim.status(n) != NodeStatus::Up || sim.clock(n) != Clock::default());
        match (faulty, self.faulty_since) {
            (true, None) => self.faulty_since = Some(sim.now()),
            (false, Some(since)) => {
                self.windows.push((since, sim.now()));
                self.faulty_since = None;
            }
            _ => {}
        }
    }
}
