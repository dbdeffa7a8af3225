//! A scenario's run: one scenario, one seed, one suite, driven through a [`Cluster`].
//!
//! [`run_suite`] builds the suite from the scenario's tables and a [`Cluster`] of it,
//! materialises the fault schedule, and runs to the end. Faults fire at their time or right
//! after the handler that reported their event, their selectors resolved then; at the end of the
//! fault phase every fault is healed and the quiet phase begins. The cluster feeds the checks;
//! the first violation of an always-check stops the run.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rand::Rng;
use sim_core::{
    Clock, ClusterInfo, Event, NodeId, NodeStatus, Reachability, RunInfo, SimConfig, SimDuration,
    SimRng, SimTime, Suite,
};
use sim_scenario::{Action, FaultSpec, Scenario, ScenarioError, Section, Shape, Target, Trigger};

use crate::cluster::{Cluster, Finished, PartitionId, Stop};
use crate::report::RunReport;

/// How to run a scenario.
pub struct RunOptions {
    pub seed: u64,
    /// Replaces the scenario's fault-phase duration (`--duration`).
    pub duration: Option<SimDuration>,
    /// Where to stream the trace as JSON Lines (`--trace FILE`).
    pub trace: Option<Box<dyn Write>>,
    /// Keep the whole client history in the report (`RunReport::history`, for `--report`).
    pub keep_history: bool,
    /// Where to write the client history (`--history FILE`): streamed as it is recorded by a
    /// workload that can, else written from the suite's history at the end.
    pub history_out: Option<Box<dyn Write>>,
    /// Collect what an HTML report draws (`--report FILE`); the trace hash does not change.
    pub report: Option<sim_report::Collector>,
    /// Receives the run's fault schedule with every draw a fault made when it fired (a random
    /// node, a minority, halves, a ring's or a bridge's order) written out as the nodes it drew,
    /// so that a shrink can remove one fault without changing what the others hit.
    pub pinned: Option<Arc<Mutex<Vec<FaultSpec>>>>,
}

impl RunOptions {
    pub fn new(seed: u64) -> Self {
        RunOptions {
            seed,
            duration: None,
            trace: None,
            keep_history: false,
            history_out: None,
            report: None,
            pinned: None,
        }
    }
}

const QUIET_TOKEN: u64 = u64::MAX;
const HEAL_BASE: u64 = 1 << 62;

/// What to undo when a fault's time is up.
#[derive(Debug, Clone)]
enum Heal {
    Restart(Vec<NodeId>),
    Partition(PartitionId),
    Clocks(Vec<NodeId>),
    Network,
    Client(u32),
}

/// A cluster and the scenario's fault schedule.
struct Driver<S: Suite> {
    cluster: Cluster<S>,
    schedule: Vec<FaultSpec>,
    event_counts: Vec<u32>,
    fired: Vec<bool>,
    /// The indices of the faults aimed at protocol events, so a report is matched against those
    /// only, not against the whole (possibly long, nemesis-made) schedule.
    event_triggered: Vec<usize>,
    heals: Vec<Heal>,
    fault_rng: SimRng,
    /// The cluster as the suite was told of it: each node's kind, for `kind:` and `random:`.
    cluster_info: ClusterInfo,
    /// The schedule with what each fired fault drew from the fault stream written out, when
    /// asked for ([`RunOptions::pinned`]).
    pinned: Option<Vec<FaultSpec>>,
    /// The index of the fault firing now.
    firing: usize,
}

/// The suite `S` built from the scenario's tables, with the cluster it describes.
fn build_suite<S: Suite>(scenario: &Scenario) -> Result<(S, ClusterInfo), ScenarioError> {
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
    crate::quiet_bound::check(scenario)?;
    let suite = S::new(&cluster, params, workload, check_params)
        .map_err(|e| scenario.error_at_field(&e.field, e.message))?;
    Ok((suite, cluster))
}

/// Builds the suite `S` from `scenario`'s tables (its cluster as parsed), to check them.
pub(crate) fn check_tables<S: Suite>(scenario: &Scenario) -> Result<(), ScenarioError> {
    build_suite::<S>(scenario).map(|_| ())
}

/// Whether the suite `S` built from `scenario`'s tables (its first sampled member) has a
/// workload of clients.
pub(crate) fn has_clients<S: Suite>(scenario: &Scenario) -> Result<bool, ScenarioError> {
    let (suite, _) = build_suite::<S>(&scenario.sample(0)?)?;
    Ok(suite.workload().is_some())
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
    let (suite, cluster_info) = build_suite::<S>(&scenario)?;
    let config = SimConfig {
        seed: options.seed,
        node_count: scenario.node_count(),
        network: scenario.network.clone(),
        client_latency: scenario.client_latency.clone(),
        max_events: scenario.max_events,
    };
    let trace = sim_report::trace(options.trace.take(), options.report.as_ref());
    let mut cluster = Cluster::new(suite, config, trace);
    if options.keep_history {
        cluster.keep_history();
    }
    let history_out = match options.history_out.take() {
        None => HistoryOut::None,
        Some(out) => match cluster.stream_history(out) {
            Ok(()) => HistoryOut::Streamed,
            Err(out) => HistoryOut::AtEnd(out),
        },
    };
    check_client_targets(
        &scenario,
        cluster.sim().workload().map(|w| w.client_count()),
    )?;
    let schedule = scenario.schedule(options.seed, &S::declaration().nemesis_roles);
    let fault_rng = cluster.sim().streams().stream("faults");
    let mut driver: Driver<S> = Driver {
        cluster,
        event_counts: vec![0; schedule.len()],
        fired: vec![false; schedule.len()],
        event_triggered: (0..schedule.len())
            .filter(|&i| matches!(schedule[i].trigger, Trigger::OnEvent { .. }))
            .collect(),
        heals: Vec::new(),
        fault_rng,
        cluster_info,
        pinned: options.pinned.as_ref().map(|_| schedule.clone()),
        firing: 0,
        schedule,
    };
    for (i, fault) in driver.schedule.iter().enumerate() {
        if let Trigger::At(t) = fault.trigger {
            driver.cluster.wake_at(t, i as u64);
        }
    }
    if scenario.quiet > SimDuration::ZERO {
        driver.cluster.wake_at(scenario.fault_end(), QUIET_TOKEN);
    }
    driver.cluster.start();
    driver.run(scenario.end());
    if let (Some(out), Some(pinned)) = (&options.pinned, driver.pinned.take()) {
        if let Ok(mut out) = out.lock() {
            *out = pinned;
        }
    }
    let schedule: Vec<String> = driver.schedule.iter().map(|f| f.to_string()).collect();
    let finished = driver.cluster.finish_at(scenario.end());
    Ok(report(&scenario, &options, schedule, finished, history_out))
}

/// Every fault aimed at a client (`client:cK`) names a client the workload has: a pause or a
/// cut-off of a client that does not exist could not take effect. `workload` is the workload's
/// client count (`None` when the protocol has no clients, `Some(None)` when it does not say).
fn check_client_targets(
    scenario: &Scenario,
    workload: Option<Option<usize>>,
) -> Result<(), ScenarioError> {
    for (index, fault) in scenario.faults.iter().enumerate() {
        let target = match &fault.action {
            Action::Pause { target, .. } => target,
            Action::Partition {
                shape: Shape::Isolate(target),
                ..
            } => target,
            _ => continue,
        };
        let Target::Client(client) = *target else {
            continue;
        };
        let problem = match workload {
            None => format!("{target}: protocol {} has no clients", scenario.protocol),
            Some(Some(count)) if client as usize >= count => {
                format!("{target}: the workload has {count} clients, c1 to c{count}")
            }
            Some(_) => continue,
        };
        return Err(ScenarioError {
            file: scenario.file.clone(),
            line: fault.line,
            column: 1,
            field: format!("faults[{index}].node"),
            message: problem,
        });
    }
    Ok(())
}

/// Where `--history` goes.
enum HistoryOut {
    None,
    /// The workload writes it as it records it.
    Streamed,
    /// Written at the end from [`Suite::history`].
    AtEnd(Box<dyn Write>),
}

/// Ends the `--history` output: the first error writing it, if any.
fn end_history<S: Suite>(finished: &mut Finished<S>, out: HistoryOut) -> Option<String> {
    match out {
        HistoryOut::None => None,
        HistoryOut::Streamed => finished
            .sim
            .workload_mut()
            .and_then(|workload| workload.end_history().err()),
        HistoryOut::AtEnd(mut out) => {
            let Some(history) = finished.suite.history(&finished.sim) else {
                return Some(format!("protocol {} records no client history", S::NAME));
            };
            serde_json::to_writer(&mut out, &history)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush())
                .err()
                .map(|e| e.to_string())
        }
    }
}

/// The run's report, with the suite's summary and history.
fn report<S: Suite>(
    scenario: &Scenario,
    options: &RunOptions,
    schedule: Vec<String>,
    mut finished: Finished<S>,
    history_out: HistoryOut,
) -> RunReport {
    let history_error = end_history(&mut finished, history_out);
    let run_info = RunInfo {
        phases: finished.phases,
        fault_windows: finished.fault_windows.clone(),
    };
    let trace_error = finished
        .sim
        .trace_mut()
        .finish()
        .err()
        .map(|e| e.to_string());
    let summary = finished.suite.summary(&finished.sim, &run_info);
    let figures = finished.suite.figures(&finished.sim, &run_info);
    let history = if options.keep_history {
        finished.suite.history(&finished.sim)
    } else {
        None
    };
    let sim = &mut finished.sim;
    RunReport {
        scenario_name: scenario.name.clone(),
        scenario_file: scenario.file.clone(),
        protocol: scenario.protocol.clone(),
        node_count: scenario.node_count(),
        seed: options.seed,
        duration: scenario.duration,
        quiet: scenario.quiet,
        duration_override: options.duration,
        schedule,
        time_reached: finished.phases.end,
        stats: *sim.stats(),
        applied: finished.applied,
        fault_windows: finished.fault_windows,
        checks: finished.checks,
        summary,
        figures,
        trace_hash: sim.trace_hash(),
        trace_events: sim.trace_mut().event_count(),
        trace_checkpoints: sim.trace_mut().checkpoints().to_vec(),
        parameters: scenario.sampled.clone(),
        panic: sim.panic().cloned(),
        limit_reached: sim.limit_reached(),
        stopped_by: finished.stopped_by,
        history,
        history_error,
        trace_error,
    }
}

impl<S: Suite> Driver<S> {
    fn run(&mut self, end: SimTime) {
        loop {
            let watch_reports = self.cluster.quiet_start().is_none()
                && self.event_triggered.iter().any(|&i| !self.fired[i]);
            match self.cluster.advance(end, watch_reports) {
                Stop::Deadline | Stop::Halted => return,
                Stop::Reported(node) => self.fire_event_triggers(node),
                Stop::Woke(QUIET_TOKEN) => {
                    self.cluster
                        .note("quiet phase: heal everything".to_string(), false);
                    self.cluster.quiet_phase();
                }
                Stop::Woke(token) if self.cluster.quiet_start().is_some() => {
                    let _ = token; // the quiet phase healed everything already
                }
                Stop::Woke(token) if token >= HEAL_BASE => {
                    let heal = self.heals[(token - HEAL_BASE) as usize].clone();
                    self.heal(heal);
                }
                Stop::Woke(token) => self.fire(token as usize, None),
            }
        }
    }

    fn fire_event_triggers(&mut self, node: NodeId) {
        let now = self.cluster.now();
        let mut due = Vec::new();
        for event in self.cluster.sim().reports() {
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
        let n = self.cluster.sim().node_count();
        match target {
            Target::Nodes(nodes) => nodes.clone(),
            Target::Role(role) => self
                .cluster
                .nodes_with_role(role)
                .into_iter()
                .take(1)
                .collect(),
            Target::Random => {
                let nodes = vec![NodeId(self.fault_rng.gen_range(0..n as u32))];
                self.pin_target(target, &nodes);
                nodes
            }
            Target::Kind(kind) => self.cluster_info.nodes_of_kind(kind).collect(),
            Target::RandomOfKind(kind) => {
                let nodes: Vec<NodeId> = self.cluster_info.nodes_of_kind(kind).collect();
                if nodes.is_empty() {
                    return nodes;
                }
                let nodes = vec![nodes[self.fault_rng.gen_range(0..nodes.len())]];
                self.pin_target(target, &nodes);
                nodes
            }
            Target::Minority => {
                let mut order = self.shuffled();
                order.truncate((n - 1) / 2);
                order.sort();
                self.pin_target(target, &order);
                order
            }
            Target::Reporter => reporter.into_iter().collect(),
            // Client targets are taken apart before a fault resolves nodes.
            Target::Client(_) => Vec::new(),
        }
    }

    fn shuffled(&mut self) -> Vec<NodeId> {
        let mut order: Vec<NodeId> = self.cluster.sim().node_ids().collect();
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
            let at = self.cluster.now().saturating_add(after);
            self.cluster.wake_at(at, token);
        }
    }

    fn note(&mut self, text: String) {
        self.cluster.note(text, false);
    }

    /// A fault whose target did not exist when it fired (no leader, say): noted, not counted.
    fn skip(&mut self, what: String) {
        self.cluster
            .note(format!("{what}: no such node now, skipped"), true);
    }

    /// A partition that cannot be formed on the nodes there are: noted as a warning, not
    /// applied.
    fn cannot_form(&mut self, shape: &Shape, problem: &str) {
        self.cluster
            .note(format!("partition {shape}: {problem}, skipped"), true);
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
        self.firing = index;
        let fault = self.schedule[index].clone();
        match &fault.action {
            Action::Crash {
                target,
                restart_after,
            } => self.crash(target, reporter, *restart_after),
            Action::Restart { target } => {
                let nodes = self.resolve(target, reporter);
                // A restart of a node that is up cannot take effect: a skipped fault, which the
                // summary repeats as a warning (a file naming such a node is refused earlier).
                let (down, up): (Vec<NodeId>, Vec<NodeId>) = nodes
                    .into_iter()
                    .partition(|&n| self.cluster.sim().status(n) == NodeStatus::Down);
                if !up.is_empty() {
                    self.cluster.note(
                        format!("restart {}: not down, nothing to restart", Self::names(&up)),
                        true,
                    );
                }
                self.heal(Heal::Restart(down));
            }
            Action::Pause { target, duration } => self.pause(target, reporter, *duration),
            Action::Partition {
                shape,
                one_way,
                heal_after,
            } => self.partition(shape, *one_way, reporter, *heal_after),
            Action::Heal => {
                self.note("heal every partition".to_string());
                self.cluster.heal();
            }
            Action::Clock {
                target,
                offset_ns,
                drift_ppm,
                heal_after,
            } => {
                let clock = Clock {
                    offset_ns: *offset_ns,
                    drift_ppm: *drift_ppm,
                };
                self.clock(target, reporter, clock, *heal_after);
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
                self.cluster.set_network(network.clone());
                self.schedule_heal(*heal_after, Heal::Network);
            }
        }
    }

    fn crash(&mut self, target: &Target, reporter: Option<NodeId>, restart: Option<SimDuration>) {
        let nodes = self.resolve(target, reporter);
        if nodes.is_empty() {
            return self.skip(format!("crash {target}"));
        }
        self.note(format!("crash {}", Self::names(&nodes)));
        for &node in &nodes {
            self.cluster.crash(node);
        }
        self.schedule_heal(restart, Heal::Restart(nodes));
    }

    fn pause(&mut self, target: &Target, reporter: Option<NodeId>, duration: SimDuration) {
        if let Target::Client(client) = *target {
            self.note(format!("pause {target} for {duration}"));
            return self.cluster.pause_client(client, duration);
        }
        let nodes = self.resolve(target, reporter);
        if nodes.is_empty() {
            return self.skip(format!("pause {target}"));
        }
        self.note(format!("pause {} for {duration}", Self::names(&nodes)));
        for &node in &nodes {
            self.cluster.pause(node, duration);
        }
    }

    fn clock(
        &mut self,
        target: &Target,
        reporter: Option<NodeId>,
        clock: Clock,
        heal_after: Option<SimDuration>,
    ) {
        let nodes = self.resolve(target, reporter);
        if nodes.is_empty() {
            return self.skip(format!("clock {target}"));
        }
        self.note(format!(
            "clock {} offset {} drift {}ppm",
            Self::names(&nodes),
            sim_scenario::signed_duration(clock.offset_ns),
            clock.drift_ppm
        ));
        for &node in &nodes {
            self.cluster.set_clock(node, clock);
        }
        self.schedule_heal(heal_after, Heal::Clocks(nodes));
    }

    fn partition(
        &mut self,
        shape: &Shape,
        one_way: bool,
        reporter: Option<NodeId>,
        heal_after: Option<SimDuration>,
    ) {
        if let Shape::Isolate(Target::Client(client)) = *shape {
            self.note(format!("partition isolate client:c{}", client + 1));
            self.cluster.cut_off_client(client, true);
            return self.schedule_heal(heal_after, Heal::Client(client));
        }
        // A shape this cluster is too small to form (a bridge of two nodes) is skipped before
        // it draws anything, with a warning the summary repeats; it is no part of the run (not
        // in the trace), as the explicit scenario, which leaves it out, runs it.
        let n = self.cluster.sim().node_count();
        if let Some(problem) =
            shape.problem(n, |kind| self.cluster_info.nodes_of_kind(kind).count())
        {
            self.cluster
                .note_not_formed(format!("partition {shape}: {problem}, skipped"));
            return;
        }
        let Some((reachability, text)) = self.shape(shape, one_way, reporter) else {
            return;
        };
        let one_way_text = if one_way { " (one way)" } else { "" };
        self.note(format!("partition {text}{one_way_text}"));
        let id = self.cluster.partition(reachability);
        self.schedule_heal(heal_after, Heal::Partition(id));
    }

    /// The reachability a partition shape gives now, and its words; `None` (noted as skipped)
    /// when its target does not exist.
    fn shape(
        &mut self,
        shape: &Shape,
        one_way: bool,
        reporter: Option<NodeId>,
    ) -> Option<(Reachability, String)> {
        let n = self.cluster.sim().node_count();
        Some(match shape {
            Shape::Isolate(target) => {
                let nodes = self.resolve(target, reporter);
                if nodes.is_empty() {
                    self.skip(format!("partition isolate {target}"));
                    return None;
                }
                if let Some(problem) = sim_scenario::isolation_problem(target, nodes.len(), n) {
                    self.cannot_form(shape, &problem);
                    return None;
                }
                let r = if nodes.len() == 1 {
                    Reachability::isolate(n, nodes[0], one_way)
                } else {
                    Reachability::split(n, std::slice::from_ref(&nodes), one_way)
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
                    Reachability::split(n, groups, one_way),
                    format!("split {text}"),
                )
            }
            Shape::Halves => {
                let order = self.shuffled();
                let (first, second) = order.split_at(n / 2);
                let groups = [first.to_vec(), second.to_vec()];
                self.pin(|_| Shape::Split(groups.to_vec()));
                let text = format!(
                    "halves {} | {}",
                    Self::names(&groups[0]),
                    Self::names(&groups[1])
                );
                (Reachability::split(n, &groups, one_way), text)
            }
            Shape::RingOf(order) => {
                let text = format!("majority-ring {}", Self::names(order));
                (Reachability::majority_ring(order), text)
            }
            Shape::BridgeOf(order) => self.bridge(order.clone()),
            Shape::MajorityRing => {
                let order = self.shuffled();
                self.pin(|_| Shape::RingOf(order.clone()));
                let text = format!("majority-ring {}", Self::names(&order));
                (Reachability::majority_ring(&order), text)
            }
            Shape::Bridge => {
                let order = self.shuffled();
                self.pin(|_| Shape::BridgeOf(order.clone()));
                self.bridge(order)
            }
        })
    }

    /// The bridge of `order` and its words: as `Reachability::bridge` cuts it, the middle node
    /// joins the halves around it.
    fn bridge(&self, order: Vec<NodeId>) -> (Reachability, String) {
        let middle = order.len() / 2;
        let text = format!(
            "bridge {} joining {} and {}",
            order[middle],
            Self::names(&order[..middle]),
            Self::names(&order[middle + 1..])
        );
        (Reachability::bridge(&order), text)
    }

    /// Rewrites the firing fault's partition shape in the pinned schedule as `shape` of it: what
    /// the fault drew from the fault stream, written out.
    fn pin(&mut self, shape: impl FnOnce(&Shape) -> Shape) {
        let Some(pinned) = self.pinned.as_mut() else {
            return;
        };
        if let Action::Partition { shape: s, .. } = &mut pinned[self.firing].action {
            *s = shape(s);
        }
    }

    /// Rewrites the firing fault's `target` in the pinned schedule as the nodes it drew.
    fn pin_target(&mut self, drawn: &Target, nodes: &[NodeId]) {
        let Some(pinned) = self.pinned.as_mut() else {
            return;
        };
        if nodes.is_empty() {
            return;
        }
        let target = match &mut pinned[self.firing].action {
            Action::Crash { target, .. }
            | Action::Restart { target }
            | Action::Pause { target, .. }
            | Action::Clock { target, .. }
            | Action::Partition {
                shape: Shape::Isolate(target),
                ..
            } => target,
            _ => return,
        };
        if target == drawn {
            *target = Target::Nodes(nodes.to_vec());
        }
    }

    fn heal(&mut self, heal: Heal) {
        match heal {
            Heal::Restart(nodes) => {
                let down: Vec<NodeId> = nodes
                    .into_iter()
                    .filter(|&n| self.cluster.sim().status(n) == NodeStatus::Down)
                    .collect();
                if down.is_empty() {
                    return;
                }
                self.note(format!("restart {}", Self::names(&down)));
                for node in down {
                    self.cluster.restart(node);
                }
            }
            Heal::Partition(id) => {
                if self.cluster.partition_in_force(id) {
                    self.note("heal partition".to_string());
                    self.cluster.heal_partition(id);
                }
            }
            Heal::Clocks(nodes) => {
                self.note(format!("reset clock {}", Self::names(&nodes)));
                for node in nodes {
                    self.cluster.set_clock(node, Clock::default());
                }
            }
            Heal::Network => {
                self.note("restore network".to_string());
                self.cluster.restore_network();
            }
            Heal::Client(client) => {
                self.note(format!("reconnect client:c{}", client + 1));
                self.cluster.cut_off_client(client, false);
            }
        }
    }
}

#[cfg(test)]
#[path = "driver_partition_tests.rs"]
mod partition_tests;
