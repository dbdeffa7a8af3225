//! One scriptable cluster: the single driver of a simulation, for the runner and for tests.
//!
//! A [`Cluster`] owns a [`Simulation`] of one family's processes and the family's checks, and
//! keeps them in step: every handler, crash, restart, pause, partition, clock change and network
//! change is shown to every check the moment it happens, and the first violation of an
//! always-check stops the run. Faults are methods (`crash`, `restart`, `pause`, `partition`,
//! `isolate`, `split`, `heal`, `set_clock`, `set_network`); time moves with `run_until`,
//! `run_for`, `run_until_event` (a reported event or any predicate over the simulation) and
//! [`Cluster::advance`], which also hands back the driver's own wake-ups; `quiet_phase` heals
//! everything and starts the phase liveness is judged in; `finish` ends the run with every
//! check's report.
//!
//! The runner's scenario driver is this plus a fault schedule; a protocol's scenario tests are
//! this plus a script, and read like one:
//!
//! ```ignore
//! let mut cluster = Cluster::new(suite, SimConfig::new(seed, 5), Trace::default());
//! cluster.start();
//! let leader = cluster.run_until_event(secs(5.0), |_, _, events| events.iter().any(is_leader));
//! cluster.isolate(leader.unwrap());
//! cluster.run_for(SimDuration::from_secs(3));
//! cluster.quiet_phase();
//! cluster.run_for(SimDuration::from_secs(5));
//! assert!(cluster.finish().passed());
//! ```

use std::collections::BTreeMap;
use std::rc::Rc;

use sim_core::{
    Check, CheckKind, CheckReport, Clock, NetworkConfig, NodeChange, NodeId, NodeStatus,
    Observation, Phases, Reachability, SimConfig, SimDuration, SimTime, Simulation, Step, Suite,
    Trace, Violation,
};

use crate::report::AppliedFault;

/// Why [`Cluster::advance`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The next event lies past the deadline (or nothing is left to do).
    Deadline,
    /// An always-check was violated, a handler panicked, or the event limit was reached.
    Halted,
    /// A handler on this node reported events (only when asked to stop for them).
    Reported(NodeId),
    /// The driver's own wake-up, scheduled with [`Cluster::wake_at`].
    Woke(u64),
}

/// A partition in force, to heal by itself with [`Cluster::heal_partition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionId(u64);

/// A finished run: the simulation as it ended and every check's report.
pub struct Finished<S: Suite> {
    pub sim: Simulation<S::P>,
    pub suite: Rc<S>,
    pub checks: Vec<CheckReport>,
    /// The always-check whose violation stopped the run.
    pub stopped_by: Option<(String, Violation)>,
    pub phases: Phases,
    /// Every fault applied, in order, in words.
    pub applied: Vec<AppliedFault>,
    /// The intervals during which at least one fault was in force.
    pub fault_windows: Vec<(SimTime, SimTime)>,
}

impl<S: Suite> Finished<S> {
    /// Whether the run ended normally and every check held.
    pub fn passed(&self) -> bool {
        self.sim.panic().is_none()
            && !self.sim.limit_reached()
            && self.checks.iter().all(|c| c.passed())
    }

    /// The first failure in words: a violation, a handler's panic, or the event limit.
    pub fn failure(&self) -> Option<String> {
        if let Some(panic) = self.sim.panic() {
            let node = panic
                .node
                .map_or("the client workload".into(), |n| n.to_string());
            return Some(format!(
                "a handler panicked on {node} at t={}: {}",
                panic.time, panic.message
            ));
        }
        if self.sim.limit_reached() {
            return Some(format!(
                "the event limit was reached at t={}",
                self.sim.now()
            ));
        }
        self.checks.iter().find_map(|c| {
            c.violation
                .as_ref()
                .map(|v| format!("{}: {}", c.name, v.message))
        })
    }
}

/// A simulated cluster of one family's processes, its checks fed at every step.
pub struct Cluster<S: Suite> {
    suite: Rc<S>,
    sim: Simulation<S::P>,
    checks: Vec<Box<dyn Check<S::P>>>,
    violation: Option<(String, Violation)>,
    quiet_start: Option<SimTime>,
    base_network: NetworkConfig,
    partitions: BTreeMap<PartitionId, Reachability>,
    next_partition: u64,
    applied: Vec<AppliedFault>,
    windows: Vec<(SimTime, SimTime)>,
    faulty_since: Option<SimTime>,
    /// Whether the first violation of an always-check stops the run (the default).
    stop_at_violation: bool,
}

impl<S: Suite> Cluster<S> {
    /// A cluster of `suite`'s processes with its workload and checks; call [`Cluster::start`]
    /// to boot it.
    pub fn new(suite: impl Into<Rc<S>>, config: SimConfig, trace: Trace<S::P>) -> Self {
        let suite = suite.into();
        let workload = suite.workload();
        let checks = suite.checks();
        Self::with_parts(suite, config, trace, workload, checks)
    }

    /// A cluster of `suite`'s processes with the given clients (none: no client at all) and
    /// checks, for tests that script their own.
    pub fn with_parts(
        suite: impl Into<Rc<S>>,
        config: SimConfig,
        trace: Trace<S::P>,
        workload: Option<Box<dyn sim_core::Workload<S::P>>>,
        checks: Vec<Box<dyn Check<S::P>>>,
    ) -> Self {
        let suite = suite.into();
        let factory_suite = Rc::clone(&suite);
        let base_network = config.network.clone();
        let mut sim = Simulation::new(
            config,
            Box::new(move |node| factory_suite.process(node)),
            trace,
        );
        if let Some(workload) = workload {
            sim.set_workload(workload);
        }
        Cluster {
            checks,
            suite,
            sim,
            violation: None,
            quiet_start: None,
            base_network,
            partitions: BTreeMap::new(),
            next_partition: 0,
            applied: Vec::new(),
            windows: Vec::new(),
            faulty_since: None,
            stop_at_violation: true,
        }
    }

    /// Keeps running after a violation (the first is still reported), for tests whose figures
    /// must cover the whole run.
    pub fn run_past_violations(&mut self) {
        self.stop_at_violation = false;
    }

    /// Asks the workload to keep its whole client history (for `--history` and `--report`).
    pub fn keep_history(&mut self) {
        if let Some(workload) = self.sim.workload_mut() {
            workload.keep_history();
        }
    }

    /// Asks the workload to write its history to `out` as it records it; `Err(out)` when it
    /// does not (or there is no workload).
    pub fn stream_history(
        &mut self,
        out: Box<dyn std::io::Write>,
    ) -> Result<(), Box<dyn std::io::Write>> {
        match self.sim.workload_mut() {
            Some(workload) => workload.stream_history(out),
            None => Err(out),
        }
    }

    /// Replaces the suite's client workload (a test's scripted clients, say).
    pub fn set_workload(&mut self, workload: Box<dyn sim_core::Workload<S::P>>) {
        self.sim.set_workload(workload);
    }

    /// Keeps only the checks `keep` says yes to.
    pub fn retain_checks(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.checks.retain(|c| keep(c.name()));
    }

    /// Boots every node and the client workload.
    pub fn start(&mut self) {
        self.sim.start();
    }

    pub fn sim(&self) -> &Simulation<S::P> {
        &self.sim
    }

    /// The simulation itself, for what the cluster does not offer. Faults made through it are
    /// not shown to the checks.
    pub fn sim_mut(&mut self) -> &mut Simulation<S::P> {
        &mut self.sim
    }

    pub fn suite(&self) -> &S {
        &self.suite
    }

    pub fn now(&self) -> SimTime {
        self.sim.now()
    }

    /// The process on `node`, if it is up (or paused).
    pub fn process(&self, node: NodeId) -> Option<&S::P> {
        self.sim.process(node)
    }

    /// The nodes that currently hold `role`, in order.
    pub fn nodes_with_role(&self, role: &str) -> Vec<NodeId> {
        self.sim.nodes_with_role(role)
    }

    /// The first violation of an always-check, if any.
    pub fn violation(&self) -> Option<&(String, Violation)> {
        self.violation.as_ref()
    }

    /// Whether the run must stop: a violation, a handler's panic, or the event limit.
    pub fn halted(&self) -> bool {
        (self.stop_at_violation && self.violation.is_some())
            || self.sim.panic().is_some()
            || self.sim.limit_reached()
    }

    /// Why the run stopped before its end, in words for a check it cut short.
    fn why_halted(&self) -> String {
        let now = self.sim.now();
        if let Some((name, _)) = &self.violation {
            format!("the run stopped at t={now} when {name} failed")
        } else if self.sim.panic().is_some() {
            format!("the run stopped at t={now} when a handler panicked")
        } else {
            format!("the run stopped at t={now} at its event limit")
        }
    }

    /// When the quiet phase began, if it has.
    pub fn quiet_start(&self) -> Option<SimTime> {
        self.quiet_start
    }

    /// Wakes the driver at `at` with `token` ([`Stop::Woke`] from [`Cluster::advance`]).
    pub fn wake_at(&mut self, at: SimTime, token: u64) {
        self.sim.schedule_external(at, token);
    }

    /// Steps until the deadline, a halt, a driver wake-up, or (with `stop_on_reports`) a
    /// handler that reported events.
    pub fn advance(&mut self, deadline: SimTime, stop_on_reports: bool) -> Stop {
        loop {
            match self.step(deadline) {
                None => {
                    return if self.halted() {
                        Stop::Halted
                    } else {
                        Stop::Deadline
                    }
                }
                Some(Step::Handled { node })
                    if stop_on_reports && !self.sim.reports().is_empty() && !self.halted() =>
                {
                    return Stop::Reported(node)
                }
                Some(Step::External(token)) => return Stop::Woke(token),
                Some(_) => {}
            }
        }
    }

    /// One step, shown to the checks; `None` at a halt or when the next event lies past
    /// `deadline`. For harnesses that look at every step themselves.
    pub fn step(&mut self, deadline: SimTime) -> Option<Step> {
        if self.halted() || self.sim.peek_time().is_none_or(|t| t > deadline) {
            return None;
        }
        let step = self.sim.step()?;
        match step {
            Step::Handled { node } => self.observe_handled(node),
            Step::Resumed { node } => self.observe(Observation::Node {
                node,
                change: NodeChange::Resumed,
            }),
            _ => {}
        }
        Some(step)
    }

    /// Runs until `deadline` or a halt; true when no check was violated. Driver wake-ups are
    /// skipped (a script has none unless it asked for them).
    pub fn run_until(&mut self, deadline: SimTime) -> bool {
        while let Stop::Woke(_) = self.advance(deadline, false) {}
        self.violation.is_none()
    }

    /// Runs for `duration` of simulated time from now.
    pub fn run_for(&mut self, duration: SimDuration) -> bool {
        let deadline = self.sim.now().saturating_add(duration);
        self.run_until(deadline)
    }

    /// Runs until a handler's reports satisfy `stop` (that node is returned), the deadline, or
    /// a halt.
    pub fn run_until_event(
        &mut self,
        deadline: SimTime,
        mut stop: impl FnMut(&Simulation<S::P>, NodeId, &[<S::P as sim_core::Process>::Event]) -> bool,
    ) -> Option<NodeId> {
        loop {
            match self.advance(deadline, true) {
                Stop::Reported(node) => {
                    if stop(&self.sim, node, self.sim.reports()) {
                        return Some(node);
                    }
                }
                Stop::Woke(_) => {}
                Stop::Deadline | Stop::Halted => return None,
            }
        }
    }

    /// Runs until `holds` says yes after a step (true), the deadline or a halt (false).
    pub fn run_until_state(
        &mut self,
        deadline: SimTime,
        mut holds: impl FnMut(&Simulation<S::P>) -> bool,
    ) -> bool {
        while !holds(&self.sim) {
            if self.step(deadline).is_none() {
                return false;
            }
        }
        !self.halted()
    }

    fn observe_handled(&mut self, node: NodeId) {
        let sim = &self.sim;
        let observation = Observation::Handled {
            node,
            events: sim.reports(),
        };
        for check in self.checks.iter_mut() {
            if let Some(v) = check.observe(sim, &observation) {
                if check.kind() == CheckKind::Always && self.violation.is_none() {
                    self.violation = Some((check.name().to_string(), v));
                    if self.stop_at_violation {
                        return;
                    }
                }
            }
        }
    }

    /// Shows a fault or lifecycle change to every check, and keeps the fault windows.
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

    /// Records a fault that is no part of the run (a partition the cluster is too small to
    /// form): in the run's list of faults as skipped, which the summary repeats as a warning,
    /// but not in the trace, so the run is the one its explicit scenario (which leaves such a
    /// fault out) gives.
    pub fn note_not_formed(&mut self, text: String) {
        self.applied.push(AppliedFault {
            time: self.sim.now(),
            text,
            skipped: true,
        });
    }

    /// Records a fault in words, in the trace and in the run's list of applied faults.
    pub fn note(&mut self, text: String, skipped: bool) {
        self.sim.note_fault(format_args!("{text}"));
        self.applied.push(AppliedFault {
            time: self.sim.now(),
            text,
            skipped,
        });
    }

    pub fn crash(&mut self, node: NodeId) {
        self.sim.crash(node);
        self.observe(Observation::Node {
            node,
            change: NodeChange::Crashed,
        });
    }

    /// Restarts `node` if it is down; false if it was not.
    pub fn restart(&mut self, node: NodeId) -> bool {
        if self.sim.status(node) != NodeStatus::Down {
            return false;
        }
        self.sim.restart(node);
        self.observe(Observation::Node {
            node,
            change: NodeChange::Restarted,
        });
        true
    }

    /// Pauses `node` for `duration`: it processes nothing, then sees what arrived.
    pub fn pause(&mut self, node: NodeId, duration: SimDuration) {
        self.sim.pause(node, duration);
        self.observe(Observation::Node {
            node,
            change: NodeChange::Paused,
        });
    }

    /// Resumes a paused node now.
    pub fn resume(&mut self, node: NodeId) {
        self.sim.resume_now(node);
        self.observe(Observation::Node {
            node,
            change: NodeChange::Resumed,
        });
    }

    /// Cuts client `client` off from every node (`cut`), or reconnects it.
    pub fn cut_off_client(&mut self, client: u32, cut: bool) {
        self.sim.set_client_cut_off(client, cut);
        self.observe(Observation::Network);
    }

    /// Pauses client `client` for `duration`: what it sends leaves, and what reaches it arrives,
    /// when the pause ends.
    pub fn pause_client(&mut self, client: u32, duration: SimDuration) {
        self.sim.pause_client(client, duration);
        self.track_windows();
    }

    /// Puts a partition in force on top of any others.
    pub fn partition(&mut self, reachability: Reachability) -> PartitionId {
        let id = PartitionId(self.next_partition);
        self.next_partition += 1;
        self.partitions.insert(id, reachability);
        self.apply_partitions();
        id
    }

    /// Replaces every partition in force with `reachability` alone.
    pub fn replace_partitions(&mut self, reachability: Reachability) -> PartitionId {
        self.partitions.clear();
        self.partition(reachability)
    }

    /// Cuts `node` off from every other node, both ways.
    pub fn isolate(&mut self, node: NodeId) -> PartitionId {
        let count = self.sim.node_count();
        self.partition(Reachability::isolate(count, node, false))
    }

    /// Splits the cluster into `groups` (nodes in no group form one more), both ways.
    pub fn split(&mut self, groups: &[Vec<NodeId>]) -> PartitionId {
        let count = self.sim.node_count();
        self.partition(Reachability::split(count, groups, false))
    }

    /// Whether the partition `id` is still in force.
    pub fn partition_in_force(&self, id: PartitionId) -> bool {
        self.partitions.contains_key(&id)
    }

    /// Heals one partition; false if it was already healed.
    pub fn heal_partition(&mut self, id: PartitionId) -> bool {
        let found = self.partitions.remove(&id).is_some();
        if found {
            self.apply_partitions();
        }
        found
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.partitions.clear();
        self.apply_partitions();
    }

    fn apply_partitions(&mut self) {
        let mut reachability = Reachability::full(self.sim.node_count());
        for r in self.partitions.values() {
            reachability.merge(r);
        }
        self.sim.set_reachability(reachability);
        self.observe(Observation::Network);
    }

    /// Sets `node`'s clock (offset and drift); `Clock::default()` puts it right.
    pub fn set_clock(&mut self, node: NodeId, clock: Clock) {
        self.sim.set_clock(node, clock);
        self.observe(Observation::Node {
            node,
            change: NodeChange::ClockChanged,
        });
    }

    /// Changes how the network behaves (latency, loss, duplication).
    pub fn set_network(&mut self, network: NetworkConfig) {
        self.sim.set_network(network);
        self.observe(Observation::Network);
    }

    /// Puts the network back as the run began.
    pub fn restore_network(&mut self) {
        let base = self.base_network.clone();
        self.set_network(base);
    }

    /// The end of the fault phase: every partition healed, the network restored, every node
    /// restarted, resumed and its clock put right; liveness is judged from here.
    pub fn quiet_phase(&mut self) {
        if !self.partitions.is_empty() || !self.sim.reachability().is_full() {
            self.heal();
        }
        if self.sim.client_fault_in_force() {
            self.sim.heal_clients();
            self.observe(Observation::Network);
        }
        if *self.sim.network() != self.base_network {
            self.restore_network();
        }
        let nodes: Vec<NodeId> = self.sim.node_ids().collect();
        for node in nodes {
            match self.sim.status(node) {
                NodeStatus::Down => {
                    self.restart(node);
                }
                NodeStatus::Paused => self.resume(node),
                NodeStatus::Up => {}
            }
            if self.sim.clock(node) != Clock::default() {
                self.set_clock(node, Clock::default());
            }
        }
        let now = self.sim.now();
        self.quiet_start = Some(now);
        if let Some(workload) = self.sim.workload_mut() {
            workload.quiet_phase(now);
        }
        self.observe(Observation::QuietPhase);
    }

    /// Keeps the intervals during which some fault was in force.
    fn track_windows(&mut self) {
        let sim = &self.sim;
        let faulty = !sim.reachability().is_full()
            || sim.client_fault_in_force()
            || *sim.network() != self.base_network
            || sim
                .node_ids()
                .any(|n| sim.status(n) != NodeStatus::Up || sim.clock(n) != Clock::default());
        let now = sim.now();
        match (faulty, self.faulty_since) {
            (true, None) => self.faulty_since = Some(now),
            (false, Some(since)) => {
                self.windows.push((since, now));
                self.faulty_since = None;
            }
            _ => return,
        }
        if let Some(workload) = self.sim.workload_mut() {
            workload.faults_in_force(now, faulty);
        }
    }

    /// Ends the run at `end` (the run's planned end, or now if it halted early): every check's
    /// report, a violation that stopped the run attached to its check.
    pub fn finish_at(mut self, end: SimTime) -> Finished<S> {
        let end = if self.halted() { self.sim.now() } else { end };
        if let Some(since) = self.faulty_since.take() {
            self.windows.push((since, end));
        }
        let phases = Phases {
            quiet_start: self.quiet_start,
            end,
        };
        let stopped_early = self.halted().then(|| self.why_halted());
        let mut reports = Vec::with_capacity(self.checks.len());
        for check in self.checks.iter_mut() {
            let mut report = check.finish(&self.sim, &phases);
            if let Some((name, violation)) = &self.violation {
                if *name == report.name && report.violation.is_none() {
                    report.violation = Some(violation.clone());
                }
            }
            // A sometimes or eventually check that had not held when the run stopped early was
            // cut short, not refuted.
            if let Some(why) = &stopped_early {
                let unjudged = report.violation.is_some() || report.not_evaluated.is_some();
                if report.kind != CheckKind::Always && unjudged {
                    report.violation = None;
                    report.not_evaluated = Some(why.clone());
                }
            }
            reports.push(report);
        }
        Finished {
            sim: self.sim,
            suite: self.suite,
            checks: reports,
            stopped_by: self.violation,
            phases,
            applied: self.applied,
            fault_windows: self.windows,
        }
    }

    /// Ends the run now.
    pub fn finish(self) -> Finished<S> {
        let now = self.sim.now();
        self.finish_at(now)
    }
}
