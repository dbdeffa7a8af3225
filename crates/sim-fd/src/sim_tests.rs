//! Whole-cluster tests: [`FdSuite`]'s processes and checks on a real [`Simulation`], driven the
//! way the runner drives it (faults at set times as external wake-ups, every step observed by
//! every check, `finish` at the end), over a few seeds each.

use sim_core::{
    Check, CheckReport, ClusterInfo, Latency, NetworkConfig, NodeChange, NodeId, Observation, Phases, Reachability,
    SimConfig, SimDuration, SimTime, Simulation, Step, Suite, Trace, Violation,
};

use crate::check::Tally;
use crate::node::{DetectorKind, FdNode};
use crate::suite::{FdCheckParams, FdParams, FdSuite, FdWorkloadParams};

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

fn ms(t: u64) -> SimDuration {
    SimDuration::from_millis(t)
}

/// A fault at a set time.
#[derive(Debug, Clone)]
enum Fault {
    Crash(NodeId),
    Restart(NodeId),
    Pause(NodeId, SimDuration),
    Isolate(NodeId),
    Heal,
    Network(NetworkConfig),
}

struct Outcome {
    reports: Vec<CheckReport>,
    first_violation: Option<Violation>,
    trace_hash: u64,
    tallies: [Tally; 2],
    summary: Vec<(String, String)>,
    sim: Simulation<FdNode>,
}

impl Outcome {
    fn report(&self, name: &str) -> &CheckReport {
        self.reports.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no check {name}"))
    }

    fn tally(&self, detector: DetectorKind) -> &Tally {
        &self.tallies[detector as usize]
    }

    fn assert_all_passed(&self) {
        for report in &self.reports {
            assert!(report.passed(), "{} failed: {:?}", report.name, report.violation);
        }
        assert!(self.first_violation.is_none(), "{:?}", self.first_violation);
    }
}

fn suite(node_count: usize, protocol: &str, checks: &str) -> FdSuite {
    let params: FdParams = toml::from_str(protocol).expect("protocol parameters parse");
    let checks: FdCheckParams = toml::from_str(checks).expect("check parameters parse");
    let cluster = ClusterInfo {
        node_count,
        node_names: (1..=node_count).map(|i| format!("n{i}")).collect(),
        fault_duration: SimDuration::ZERO,
        quiet_duration: SimDuration::ZERO,
    };
    match FdSuite::new(&cluster, params, FdWorkloadParams::default(), checks) {
        Ok(suite) => suite,
        Err(error) => panic!("invalid parameters: {error}"),
    }
}

/// Runs `suite` on `node_count` nodes until `end`, applying `faults` at their times and feeding
/// every check as the runner does; a violation does not stop the run here, so that the figures
/// cover all of it.
fn run(suite: &FdSuite, seed: u64, node_count: usize, faults: &[(SimTime, Fault)], end: SimTime) -> Outcome {
    let config = suite.node_config().clone();
    let mut sim = Simulation::new(
        SimConfig::new(seed, node_count),
        Box::new(move |_| FdNode::new(config.clone())),
        Trace::new(None),
    );
    let mut checks = suite.checks();
    for (index, (at, _)) in faults.iter().enumerate() {
        sim.schedule_external(*at, index as u64);
    }
    sim.start();
    let mut first_violation = None;
    while sim.peek_time().is_some_and(|t| t <= end) {
        let Some(step) = sim.step() else { break };
        let observation = match step {
            Step::Handled { node } => Observation::Handled { node, events: sim.reports() },
            Step::Resumed { node } => Observation::Node { node, change: NodeChange::Resumed },
            Step::External(index) => match faults[index as usize].1.clone() {
                Fault::Crash(node) => {
                    sim.crash(node);
                    Observation::Node { node, change: NodeChange::Crashed }
                }
                Fault::Restart(node) => {
                    sim.restart(node);
                    Observation::Node { node, change: NodeChange::Restarted }
                }
                Fault::Pause(node, duration) => {
                    sim.pause(node, duration);
                    Observation::Node { node, change: NodeChange::Paused }
                }
                Fault::Isolate(node) => {
                    sim.set_reachability(Reachability::isolate(node_count, node, false));
                    Observation::Network
                }
                Fault::Heal => {
                    sim.set_reachability(Reachability::full(node_count));
                    Observation::Network
                }
                Fault::Network(network) => {
                    sim.set_network(network);
                    Observation::Network
                }
            },
            _ => continue,
        };
        for check in &mut checks {
            if let Some(violation) = check.observe(&sim, &observation) {
                first_violation.get_or_insert(violation);
            }
        }
    }
    assert!(sim.panic().is_none(), "a handler panicked: {:?}", sim.panic());
    let phases = Phases { quiet_start: None, end };
    let reports: Vec<CheckReport> = checks.iter_mut().map(|c| c.finish(&sim, &phases)).collect();
    let run_info = sim_core::RunInfo { phases, fault_windows: Vec::new() };
    let summary = suite.summary(&sim, &run_info);
    let tallies = [
        tally_of(&reports, DetectorKind::Heartbeat, suite),
        tally_of(&reports, DetectorKind::Phi, suite),
    ];
    Outcome { trace_hash: sim.trace_hash(), reports, first_violation, tallies, summary, sim }
}

/// The tally the suite kept for its summary.
fn tally_of(_reports: &[CheckReport], detector: DetectorKind, suite: &FdSuite) -> Tally {
    suite.tally(detector).unwrap_or_default()
}

/// The jitter regime of `scenarios/fd-jitter.toml`: calm, then a long-tail latency spike of
/// `spike` every `period`, and a pause of a rotating node of `pause` every `period`, offset by
/// half a period.
fn jitter_faults(node_count: usize, end: SimTime, period: SimDuration, spike: SimDuration, pause: SimDuration, tail: &Latency) -> Vec<(SimTime, Fault)> {
    let calm = NetworkConfig::default();
    let jittery = NetworkConfig { latency: tail.clone(), ..NetworkConfig::default() };
    let mut faults = Vec::new();
    let mut t = secs(5);
    let mut victim = 0;
    while t.saturating_add(period) <= end {
        faults.push((t, Fault::Network(jittery.clone())));
        faults.push((t.saturating_add(spike), Fault::Network(calm.clone())));
        faults.push((t.saturating_add(SimDuration(period.0 / 2)), Fault::Pause(NodeId(victim), pause)));
        victim = (victim + 1) % node_count as u32;
        t = t.saturating_add(period);
    }
    faults.sort_by_key(|(at, _)| *at);
    faults
}

#[test]
fn explore_jitter() {
    let tail = Latency::LongTail {
        min: ms(1),
        max: ms(5),
        tail_probability: 0.2,
        tail_scale: ms(50),
        tail_shape: 1.5,
        tail_max: ms(2000),
    };
    for (min_std, pause) in [(20, 150), (20, 180), (30, 200)] {
        let phi_cfg = format!("[phi]\nmin_std_deviation = \"{min_std}ms\"\nacceptable_pause = \"0s\"\n");
        let probe = suite(5, &format!("heartbeat_interval = \"100ms\"\ncheck_interval = \"10ms\"\n{phi_cfg}"), "completeness_within = \"3s\"");
        let phi = probe.node_config().phi.expect("phi");
        let timeout = phi.suspicion_silence(ms(100));
        let protocol = format!(
            "heartbeat_interval = \"100ms\"\ncheck_interval = \"10ms\"\n[heartbeat]\ntimeout = \"{}us\"\n{phi_cfg}",
            timeout.0 / 1000
        );
        let s = suite(5, &protocol, "completeness_within = \"3s\"");
        for seed in 1..=3 {
            let end = secs(120);
            let mut faults = jitter_faults(5, end, SimDuration::from_secs(20), SimDuration::from_secs(8), ms(pause), &tail);
            faults.push((secs(100), Fault::Crash(NodeId(4))));
            faults.sort_by_key(|(at, _)| *at);
            let out = run(&s, seed, 5, &faults, end);
            println!("min_std {min_std} pause {pause} timeout {timeout} seed {seed}:");
            for line in &out.summary {
                println!("  {} {}", line.0, line.1);
            }
        }
    }
}
