//! The failure-detector checks, judged against the simulator's ground truth.
//!
//! Ground truth is per monitored pair. Target `x` has *failed as seen from* monitor `m` while `x`
//! is down or cannot reach `m` (a crash, or a partition that cuts what `x` sends to `m`): that is
//! exactly when `m` stops hearing heartbeats and should suspect `x`. A cut only from `m` to `x`
//! does not count, since `x`'s heartbeats still arrive. A *failure episode* of a pair is an
//! interval during which `x` has failed as seen from `m` and `m` is up (not down, not paused); it
//! starts when the later of the two became true, so a monitor that boots or resumes while `x` is
//! down gets the whole bound from its own start.
//!
//! - `fd.<detector>.completeness` (always): every episode that lasts longer than the bound
//!   `completeness_within` must see a suspicion of `x` by `m` within the bound (or `m` already
//!   suspected `x` when it began). A restart or a healed link ends the episode: the node is alive
//!   again and nothing is required.
//! - `fd.<detector>.accuracy` (always): a suspicion raised outside every episode of its pair is
//!   false: `x` was alive and could reach `m`. A paused `x` is alive: a pause is slowness, the
//!   thing a detector must tell apart from a crash. One raised within a grace (one heartbeat
//!   interval) after a failure of the pair ended is *late*, neither true nor false: the
//!   recovered node had not yet had the chance to be heard. Passes unless the scenario sets
//!   `max_false_suspicions` for the detector and the count exceeds it.
//! - `fd.<detector>.detection_time` (always, figures only): p50, p99 and max of the first
//!   suspicion in each episode minus the episode's start.
//! - `fd.<detector>.detected_a_failure` (sometimes): if some episode lasted longer than the
//!   bound, at least one suspicion was true, so that a run where the detector never caught
//!   anything cannot pass quietly.
//! - `fd.phi_vs_heartbeat` (eventually, judged at the end): phi made fewer false suspicions than
//!   the fixed timeout; enabled by `phi_fewer_false_suspicions`. A run in which neither made a
//!   false suspicion has nothing to compare: `not evaluated`.
//! - `fd.<detector>.trusted_again` lives in [`crate::trust`].
//!
//! Every check keeps its own [`Tracker`] (they are cheap: state changes are polled in O(nodes)
//! per observation, and pairs are recomputed only when something changed), and each writes its
//! detector's tallies into a shared [`Ledgers`] at the end for [`crate::FdSuite`]'s summary.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use sim_core::check::percentile;
use sim_core::{
    Check, CheckKind, CheckReport, NodeChange, NodeId, NodeStatus, Observation, Phases,
    SimDuration, SimTime, Simulation, Violation,
};

use crate::node::{DetectorKind, FdEvent, FdNode};

/// What made a pair's episode start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The target crashed (or was down when the monitor came up).
    Down,
    /// The target could not reach the monitor.
    Cut,
}

#[derive(Debug, Clone)]
struct Episode {
    id: u64,
    /// When the target failed as seen from the monitor.
    failed_at: SimTime,
    /// When the episode began: the later of `failed_at` and the monitor coming up.
    start: SimTime,
    cause: Cause,
    /// Per detector: whether it suspected the target at some point of the episode.
    suspected: [bool; 2],
}

/// One detector's tallies over a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub true_suspicions: u64,
    pub false_suspicions: u64,
    /// False suspicions whose target was paused at the time.
    pub false_of_paused: u64,
    /// Suspicions raised just after the failure ended (within the grace), before the first
    /// heartbeat of the recovered peer could arrive: late, neither true nor false.
    pub late_suspicions: u64,
    pub restores: u64,
    /// First suspicion minus episode start, one per detected episode, in detection order.
    pub detection_times: Vec<SimDuration>,
    /// Episodes that lasted past the bound.
    pub long_failures: u64,
    /// Long episodes without a suspicion within the bound.
    pub misses: u64,
    /// The number of monitored pairs and the length of the run, for the rate.
    pub pairs: u64,
    pub run_length: SimDuration,
}

impl Tally {
    /// False suspicions per monitored pair per minute of the run.
    pub fn false_rate_per_pair_minute(&self) -> f64 {
        let minutes = self.run_length.as_secs_f64() / 60.0;
        if self.pairs == 0 || minutes <= 0.0 {
            return 0.0;
        }
        self.false_suspicions as f64 / self.pairs as f64 / minutes
    }

    /// The detection times, sorted.
    pub fn sorted_detection_times(&self) -> Vec<SimDuration> {
        let mut sorted = self.detection_times.clone();
        sorted.sort();
        sorted
    }
}

/// The tallies of the latest finished run, by detector, shared between the checks that write
/// them and the suite that summarises them.
pub type Ledgers = Rc<RefCell<[Option<Tally>; 2]>>;

/// Ground truth and the detectors' verdicts, observation by observation.
#[derive(Debug, Clone)]
pub struct Tracker {
    bound: SimDuration,
    grace: SimDuration,
    detectors: Vec<DetectorKind>,
    initialized: bool,
    node_count: usize,
    status: Vec<NodeStatus>,
    /// Per pair (`monitor * n + target`): since when the target has failed as seen from the
    /// monitor.
    failed_since: Vec<Option<SimTime>>,
    /// Per pair: when the target last stopped failing as seen from the monitor.
    recovered_at: Vec<Option<SimTime>>,
    episodes: Vec<Option<Episode>>,
    /// Per detector, per pair: what the monitor's detector currently says.
    suspected: [Vec<bool>; 2],
    tallies: [Tally; 2],
    /// Completeness deadlines still to judge: `(deadline, pair, episode id)`.
    deadlines: BTreeSet<(SimTime, usize, u64)>,
    next_episode: u64,
    /// Per detector, the first completeness miss and the first violation of the false
    /// suspicion limit.
    first_miss: [Option<Violation>; 2],
    latest_false: [Option<(SimTime, NodeId, NodeId, bool)>; 2],
}

impl Tracker {
    /// A tracker judging completeness within `bound` and excusing suspicions raised within
    /// `grace` of a failure's end.
    pub fn new(bound: SimDuration, grace: SimDuration, detectors: Vec<DetectorKind>) -> Self {
        Tracker {
            bound,
            grace,
            detectors,
            initialized: false,
            node_count: 0,
            status: Vec::new(),
            failed_since: Vec::new(),
            recovered_at: Vec::new(),
            episodes: Vec::new(),
            suspected: [Vec::new(), Vec::new()],
            tallies: [Tally::default(), Tally::default()],
            deadlines: BTreeSet::new(),
            next_episode: 0,
            first_miss: [None, None],
            latest_false: [None, None],
        }
    }

    pub fn tally(&self, detector: DetectorKind) -> &Tally {
        &self.tallies[detector as usize]
    }

    fn pair(&self, monitor: NodeId, target: NodeId) -> usize {
        monitor.index() * self.node_count + target.index()
    }

    fn init(&mut self, sim: &Simulation<FdNode>) {
        let n = sim.node_count();
        self.node_count = n;
        self.status = sim.node_ids().map(|node| sim.status(node)).collect();
        self.failed_since = vec![None; n * n];
        self.recovered_at = vec![None; n * n];
        self.episodes = vec![None; n * n];
        self.suspected = [vec![false; n * n], vec![false; n * n]];
        // What the processes already suspect (a check attached mid-run).
        for monitor in sim.node_ids() {
            let Some(process) = sim.process(monitor) else {
                continue;
            };
            for target in sim.node_ids().filter(|&t| t != monitor) {
                let pair = monitor.index() * n + target.index();
                for detector in DetectorKind::ALL {
                    self.suspected[detector as usize][pair] = process.suspects(detector, target);
                }
            }
        }
        for tally in &mut self.tallies {
            tally.pairs = (n * n.saturating_sub(1)) as u64;
        }
        self.initialized = true;
        self.recompute(sim);
    }

    /// Brings the tracker up to date with `observation`. Returns nothing: the checks read what
    /// they need from the tracker afterwards.
    pub fn observe(&mut self, sim: &Simulation<FdNode>, observation: &Observation<'_, FdNode>) {
        if !self.initialized {
            self.init(sim);
        }
        let now = sim.now();
        // Deadlines strictly before now were not met by anything up to now.
        self.expire(|deadline| deadline < now);
        let mut changed = matches!(
            observation,
            Observation::Network | Observation::Node { .. } | Observation::QuietPhase
        );
        if let Observation::Node {
            node,
            change: NodeChange::Restarted | NodeChange::Crashed,
        } = observation
        {
            self.forget_verdicts_of(*node);
        }
        for node in sim.node_ids() {
            let status = sim.status(node);
            if status != self.status[node.index()] {
                if status == NodeStatus::Down || self.status[node.index()] == NodeStatus::Down {
                    // Crashed, or restarted as a fresh process that suspects nobody.
                    self.forget_verdicts_of(node);
                }
                self.status[node.index()] = status;
                changed = true;
            }
        }
        if changed {
            self.recompute(sim);
        }
        if let Observation::Handled { node, events } = observation {
            for event in events.iter() {
                self.record(sim, *node, event);
            }
        }
    }

    /// Closes the books at the end of the run.
    pub fn finish(&mut self, sim: &Simulation<FdNode>, phases: &Phases) {
        if !self.initialized {
            self.init(sim);
        }
        let end = phases.end;
        self.expire(|deadline| deadline <= end);
        for tally in &mut self.tallies {
            tally.run_length = end.saturating_since(SimTime::ZERO);
        }
    }

    fn forget_verdicts_of(&mut self, monitor: NodeId) {
        let n = self.node_count;
        for verdicts in &mut self.suspected {
            for v in &mut verdicts[monitor.index() * n..(monitor.index() + 1) * n] {
                *v = false;
            }
        }
    }

    /// Opens and closes episodes after a change of status or reachability.
    fn recompute(&mut self, sim: &Simulation<FdNode>) {
        let now = sim.now();
        let reachability = sim.reachability();
        for monitor in sim.node_ids() {
            let monitor_up = self.status[monitor.index()] == NodeStatus::Up;
            for target in sim.node_ids().filter(|&t| t != monitor) {
                let pair = self.pair(monitor, target);
                let down = self.status[target.index()] == NodeStatus::Down;
                let failed = down || !reachability.can_reach(target, monitor);
                if !failed {
                    if self.failed_since[pair].take().is_some() {
                        self.recovered_at[pair] = Some(now);
                    }
                } else if self.failed_since[pair].is_none() {
                    self.failed_since[pair] = Some(now);
                }
                let in_episode = failed && monitor_up;
                match (&self.episodes[pair], in_episode) {
                    (None, true) => {
                        let id = self.next_episode;
                        self.next_episode += 1;
                        let suspected = [self.suspected[0][pair], self.suspected[1][pair]];
                        self.episodes[pair] = Some(Episode {
                            id,
                            failed_at: self.failed_since[pair].unwrap_or(now),
                            start: now,
                            cause: if down { Cause::Down } else { Cause::Cut },
                            suspected,
                        });
                        self.deadlines
                            .insert((now.saturating_add(self.bound), pair, id));
                    }
                    (Some(_), false) => self.episodes[pair] = None,
                    _ => {}
                }
            }
        }
    }

    /// Judges the completeness deadlines that `due` selects.
    fn expire(&mut self, due: impl Fn(SimTime) -> bool) {
        while let Some(&(deadline, pair, id)) = self.deadlines.first() {
            if !due(deadline) {
                break;
            }
            self.deadlines.pop_first();
            let Some(episode) = self.episodes[pair].as_ref().filter(|e| e.id == id) else {
                continue;
            };
            let monitor = NodeId((pair / self.node_count) as u32);
            let target = NodeId((pair % self.node_count) as u32);
            for &detector in &self.detectors {
                let d = detector as usize;
                self.tallies[d].long_failures += 1;
                if episode.suspected[d] {
                    continue;
                }
                self.tallies[d].misses += 1;
                if self.first_miss[d].is_none() {
                    let what = match episode.cause {
                        Cause::Down => format!("its crash at t={}", episode.failed_at),
                        Cause::Cut => {
                            format!("being cut off from {monitor} at t={}", episode.failed_at)
                        }
                    };
                    let since = if episode.start > episode.failed_at {
                        format!(
                            " (counting from t={}, when {monitor} came up)",
                            episode.start
                        )
                    } else {
                        String::new()
                    };
                    self.first_miss[d] = Some(Violation {
                        time: deadline,
                        message: format!(
                            "{monitor} did not suspect {target} within {} of {what}{since}",
                            self.bound
                        ),
                    });
                }
            }
        }
    }

    fn record(&mut self, sim: &Simulation<FdNode>, monitor: NodeId, event: &FdEvent) {
        let (detector, target, suspect) = match *event {
            FdEvent::Suspect { detector, peer } => (detector, peer, true),
            FdEvent::Restore { detector, peer } => (detector, peer, false),
        };
        if !self.detectors.contains(&detector)
            || target.index() >= self.node_count
            || target == monitor
        {
            return;
        }
        let d = detector as usize;
        let pair = self.pair(monitor, target);
        self.suspected[d][pair] = suspect;
        let tally = &mut self.tallies[d];
        if !suspect {
            tally.restores += 1;
            return;
        }
        match self.episodes[pair].as_mut() {
            Some(episode) => {
                tally.true_suspicions += 1;
                if !episode.suspected[d] {
                    episode.suspected[d] = true;
                    tally
                        .detection_times
                        .push(sim.now().saturating_since(episode.start));
                }
            }
            None if self.recovered_at[pair]
                .is_some_and(|t| sim.now().saturating_since(t) <= self.grace) =>
            {
                tally.late_suspicions += 1;
            }
            None => {
                tally.false_suspicions += 1;
                let paused = self.status[target.index()] == NodeStatus::Paused;
                if paused {
                    tally.false_of_paused += 1;
                }
                self.latest_false[d] = Some((sim.now(), monitor, target, paused));
            }
        }
    }

    fn describe_latest_false(&self, detector: DetectorKind) -> String {
        match self.latest_false[detector as usize] {
            Some((time, monitor, target, paused)) => {
                let state = if paused { "paused, not failed" } else { "up" };
                format!("the latest at t={time}: {monitor} suspected {target}, which was {state} and could reach it")
            }
            None => "none".to_string(),
        }
    }
}

/// What a check judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Completeness,
    Accuracy { max_false: Option<u64> },
    DetectionTime,
    DetectedAFailure,
    PhiVsHeartbeat,
}

/// One of the checks listed in the module documentation.
pub struct FdCheck {
    name: String,
    role: Role,
    detector: DetectorKind,
    tracker: Tracker,
    ledgers: Ledgers,
    violation: Option<Violation>,
}

impl FdCheck {
    fn new(role: Role, detector: DetectorKind, tracker: &Tracker, ledgers: &Ledgers) -> Self {
        let name = match role {
            Role::Completeness => format!("fd.{detector}.completeness"),
            Role::Accuracy { .. } => format!("fd.{detector}.accuracy"),
            Role::DetectionTime => format!("fd.{detector}.detection_time"),
            Role::DetectedAFailure => format!("fd.{detector}.detected_a_failure"),
            Role::PhiVsHeartbeat => "fd.phi_vs_heartbeat".to_string(),
        };
        FdCheck {
            name,
            role,
            detector,
            tracker: tracker.clone(),
            ledgers: Rc::clone(ledgers),
            violation: None,
        }
    }
}

/// What [`checks`] needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    pub detectors: Vec<DetectorKind>,
    pub completeness_within: SimDuration,
    /// How long after a failure ends a suspicion still counts as late rather than false: the
    /// time a recovered node needs to be heard (the suite uses one heartbeat interval).
    pub grace: SimDuration,
    /// Per detector (indexed by `DetectorKind as usize`), the false suspicions allowed.
    pub max_false_suspicions: [Option<u64>; 2],
    pub phi_fewer_false_suspicions: bool,
}

/// The checks of a run, in a stable order: per detector completeness, accuracy, detection time
/// and detected-a-failure, then the comparison if asked for.
pub fn checks(config: &CheckConfig, ledgers: &Ledgers) -> Vec<Box<dyn Check<FdNode>>> {
    let tracker = Tracker::new(
        config.completeness_within,
        config.grace,
        config.detectors.clone(),
    );
    let mut checks: Vec<Box<dyn Check<FdNode>>> = Vec::new();
    for &detector in &config.detectors {
        let max_false = config.max_false_suspicions[detector as usize];
        for role in [
            Role::Completeness,
            Role::Accuracy { max_false },
            Role::DetectionTime,
            Role::DetectedAFailure,
        ] {
            checks.push(Box::new(FdCheck::new(role, detector, &tracker, ledgers)));
        }
    }
    if config.phi_fewer_false_suspicions {
        checks.push(Box::new(FdCheck::new(
            Role::PhiVsHeartbeat,
            DetectorKind::Phi,
            &tracker,
            ledgers,
        )));
    }
    checks
}

/// Why `fd.phi_vs_heartbeat` has nothing to judge.
const NOTHING_TO_COMPARE: &str = "neither detector made a false suspicion: nothing to compare";

/// Neither detector was provoked: failing the comparison would fail a correct build on a run
/// that shows nothing (and let a shrink reduce a real failure to such a run).
fn nothing_to_compare(phi: &Tally, heartbeat: &Tally) -> bool {
    phi.false_suspicions == 0 && heartbeat.false_suspicions == 0
}

/// `fd.phi_vs_heartbeat`'s report when there was nothing to compare, with its figures.
fn not_compared(name: &str, kind: CheckKind, figures: Vec<(String, String)>) -> CheckReport {
    CheckReport {
        figures,
        ..CheckReport::not_evaluated(name, kind, NOTHING_TO_COMPARE)
    }
}

/// A duration for figures: milliseconds below ten seconds, seconds above.
pub fn format_duration(d: SimDuration) -> String {
    if d < SimDuration::from_secs(10) {
        format!("{:.1}ms", d.as_millis_f64())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

fn optional_duration(d: Option<SimDuration>) -> String {
    d.map_or_else(|| "-".to_string(), format_duration)
}

impl FdCheck {
    /// The violation this check would report now, if any.
    fn judge(&self) -> Option<Violation> {
        let d = self.detector as usize;
        let tally = self.tracker.tally(self.detector);
        match self.role {
            Role::Completeness => self.tracker.first_miss[d].clone(),
            Role::Accuracy {
                max_false: Some(max),
            } if tally.false_suspicions > max => {
                let (time, ..) = self.tracker.latest_false[d]?;
                Some(Violation {
                    time,
                    message: format!(
                        "{} false suspicions by the {} detector, more than the {max} allowed; {}",
                        tally.false_suspicions,
                        self.detector,
                        self.tracker.describe_latest_false(self.detector)
                    ),
                })
            }
            _ => None,
        }
    }
}

impl Check<FdNode> for FdCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> CheckKind {
        match self.role {
            Role::Completeness | Role::Accuracy { .. } | Role::DetectionTime => CheckKind::Always,
            Role::DetectedAFailure => CheckKind::Sometimes,
            Role::PhiVsHeartbeat => CheckKind::Eventually,
        }
    }

    fn observe(
        &mut self,
        sim: &Simulation<FdNode>,
        observation: &Observation<'_, FdNode>,
    ) -> Option<Violation> {
        self.tracker.observe(sim, observation);
        if self.violation.is_some() {
            return None;
        }
        self.violation = self.judge();
        self.violation.clone()
    }

    fn finish(&mut self, sim: &Simulation<FdNode>, phases: &Phases) -> CheckReport {
        self.tracker.finish(sim, phases);
        for &detector in &self.tracker.detectors {
            self.ledgers.borrow_mut()[detector as usize] =
                Some(self.tracker.tally(detector).clone());
        }
        if self.violation.is_none() {
            self.violation = self.judge();
        }
        let heartbeat = self.tracker.tally(DetectorKind::Heartbeat);
        let phi = self.tracker.tally(DetectorKind::Phi);
        let tally = self.tracker.tally(self.detector);
        let mut figures: Vec<(String, String)> = Vec::new();
        let mut figure = |name: &str, value: String| figures.push((name.to_string(), value));
        match self.role {
            Role::Completeness => {
                figure("long_failures", tally.long_failures.to_string());
                figure("missed", tally.misses.to_string());
                figure("bound", self.tracker.bound.to_string());
            }
            Role::Accuracy { max_false } => {
                figure("false", tally.false_suspicions.to_string());
                figure("of_paused", tally.false_of_paused.to_string());
                figure("true", tally.true_suspicions.to_string());
                figure("late", tally.late_suspicions.to_string());
                figure(
                    "per_pair_minute",
                    format!("{:.4}", tally.false_rate_per_pair_minute()),
                );
                if let Some(max) = max_false {
                    figure("max", max.to_string());
                }
            }
            Role::DetectionTime => {
                let sorted = tally.sorted_detection_times();
                figure("detections", sorted.len().to_string());
                figure("p50", optional_duration(percentile(&sorted, 50)));
                figure("p99", optional_duration(percentile(&sorted, 99)));
                figure("max", optional_duration(sorted.last().copied()));
            }
            Role::DetectedAFailure => {
                figure("long_failures", tally.long_failures.to_string());
                figure("true", tally.true_suspicions.to_string());
                if tally.long_failures > 0 && tally.true_suspicions == 0 {
                    self.violation = Some(Violation {
                        time: phases.end,
                        message: format!(
                            "{} failures lasted longer than {} and the {} detector never suspected one",
                            tally.long_failures, self.tracker.bound, self.detector
                        ),
                    });
                }
            }
            Role::PhiVsHeartbeat => {
                figure("phi_false", phi.false_suspicions.to_string());
                figure("heartbeat_false", heartbeat.false_suspicions.to_string());
                if nothing_to_compare(phi, heartbeat) {
                    return not_compared(&self.name, self.kind(), figures);
                }
                if phi.false_suspicions >= heartbeat.false_suspicions {
                    self.violation = Some(Violation {
                        time: phases.end,
                        message: format!(
                            "phi made {} false suspicions, the fixed timeout {}; phi must make fewer",
                            phi.false_suspicions, heartbeat.false_suspicions
                        ),
                    });
                }
            }
        }
        CheckReport {
            name: self.name.clone(),
            kind: self.kind(),
            violation: self.violation.clone(),
            figures,
            not_evaluated: None,
        }
    }
}
