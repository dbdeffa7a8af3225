//! Whole-cluster tests: [`FdSuite`]'s processes and checks on `sim_runner`'s [`Cluster`], the
//! driver the runner uses (faults at set times as wake-ups, every step observed by every check,
//! `finish` at the end), over a few seeds each.

use std::rc::Rc;

use sim_core::{
    CheckReport, ClusterInfo, Latency, NetworkConfig, NodeId, SimConfig, SimDuration, SimTime,
    Simulation, Suite, Trace, Violation,
};
use sim_runner::{Cluster, Stop};

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
        self.reports
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    }

    fn tally(&self, detector: DetectorKind) -> &Tally {
        &self.tallies[detector as usize]
    }

    fn assert_all_passed(&self) {
        for report in &self.reports {
            assert!(
                report.passed(),
                "{} failed: {:?}",
                report.name,
                report.violation
            );
        }
        assert!(self.first_violation.is_none(), "{:?}", self.first_violation);
    }
}

fn suite(node_count: usize, protocol: &str, checks: &str) -> Rc<FdSuite> {
    let params: FdParams = toml::from_str(protocol).expect("protocol parameters parse");
    let checks: FdCheckParams = toml::from_str(checks).expect("check parameters parse");
    let cluster = ClusterInfo::uniform(node_count, SimDuration::ZERO, SimDuration::ZERO);
    match FdSuite::new(&cluster, params, FdWorkloadParams::default(), checks) {
        Ok(suite) => Rc::new(suite),
        Err(error) => panic!("invalid parameters: {error}"),
    }
}

/// Runs `suite` on `node_count` nodes until `end`, applying `faults` at their times and feeding
/// every check as the runner does; a violation does not stop the run here, so that the figures
/// cover all of it.
fn run(
    suite: &Rc<FdSuite>,
    seed: u64,
    node_count: usize,
    faults: &[(SimTime, Fault)],
    end: SimTime,
) -> Outcome {
    let config = SimConfig::new(seed, node_count);
    let mut cluster = Cluster::<FdSuite>::new(Rc::clone(suite), config, Trace::default());
    cluster.run_past_violations();
    for (index, (at, _)) in faults.iter().enumerate() {
        cluster.wake_at(*at, index as u64);
    }
    cluster.start();
    while let Stop::Woke(index) = cluster.advance(end, false) {
        match faults[index as usize].1.clone() {
            Fault::Crash(node) => cluster.crash(node),
            Fault::Restart(node) => {
                cluster.restart(node);
            }
            Fault::Pause(node, duration) => cluster.pause(node, duration),
            Fault::Isolate(node) => {
                cluster.heal();
                cluster.isolate(node);
            }
            Fault::Heal => cluster.heal(),
            Fault::Network(network) => cluster.set_network(network),
        }
    }
    let first_violation = cluster.violation().map(|(_, v)| v.clone());
    let finished = cluster.finish_at(end);
    let sim = finished.sim;
    assert!(
        sim.panic().is_none(),
        "a handler panicked: {:?}",
        sim.panic()
    );
    let reports = finished.checks;
    let run_info = sim_core::RunInfo {
        phases: finished.phases,
        fault_windows: Vec::new(),
    };
    let summary = suite.summary(&sim, &run_info);
    let tallies = [
        suite.tally(DetectorKind::Heartbeat).unwrap_or_default(),
        suite.tally(DetectorKind::Phi).unwrap_or_default(),
    ];
    Outcome {
        trace_hash: sim.trace_hash(),
        reports,
        first_violation,
        tallies,
        summary,
        sim,
    }
}

fn detection_times(tally: &Tally) -> String {
    let sorted = tally.sorted_detection_times();
    let p = |q| {
        sim_core::check::percentile(&sorted, q)
            .map_or_else(|| "-".to_string(), crate::check::format_duration)
    };
    format!("p50 {} p99 {} max {}", p(50), p(99), p(100))
}

/// Strong completeness after a crash: every correct node suspects the crashed one, with both
/// detectors, within the bound; nothing else is suspected (Chandra and Toueg 1996, section 2.2:
/// "every process that crashes is eventually permanently suspected by every correct process").
#[test]
fn a_crash_is_suspected_by_every_correct_node_within_the_bound() {
    let suite = suite(
        5,
        "",
        "completeness_within = \"8s\"\nmax_false_suspicions = { heartbeat = 0, phi = 0 }",
    );
    for seed in 1..=3 {
        let outcome = run(
            &suite,
            seed,
            5,
            &[(secs(10), Fault::Crash(NodeId(2)))],
            secs(25),
        );
        outcome.assert_all_passed();
        for detector in DetectorKind::ALL {
            let tally = outcome.tally(detector);
            assert_eq!(
                tally.detection_times.len(),
                4,
                "{detector}: every other node detects the crash"
            );
            assert!(tally
                .detection_times
                .iter()
                .all(|&d| d <= SimDuration::from_secs(8)));
            assert_eq!(tally.false_suspicions, 0, "{detector}");
            for monitor in [0, 1, 3, 4].map(NodeId) {
                let process = outcome.sim.process(monitor).expect("the monitor is up");
                assert!(
                    process.suspects(detector, NodeId(2)),
                    "{monitor} does not suspect n3 with {detector}"
                );
                assert!(!process.suspects(detector, NodeId(0)) || monitor == NodeId(0));
            }
        }
        // With regular heartbeats a second apart and a 4.5 s timeout, the fixed timeout detects
        // the crash between 3.5 s and 4.5 s after it; phi just after 4.5 s.
        let heartbeat = outcome
            .tally(DetectorKind::Heartbeat)
            .sorted_detection_times();
        assert!(
            heartbeat[0] >= ms(3400) && heartbeat[3] <= ms(4600),
            "{heartbeat:?}"
        );
        let phi = outcome.tally(DetectorKind::Phi).sorted_detection_times();
        assert!(phi[0] >= ms(3400) && phi[3] <= ms(4700), "{phi:?}");
        if seed == 1 {
            println!(
                "crash, seed {seed}: heartbeat {}",
                detection_times(outcome.tally(DetectorKind::Heartbeat))
            );
            println!(
                "crash, seed {seed}: phi {}",
                detection_times(outcome.tally(DetectorKind::Phi))
            );
            assert_eq!(outcome.summary.len(), 2);
        }
    }
}

/// A restarted node is alive again: every monitor restores it, and nothing is required of a
/// crash shorter than the detection time.
#[test]
fn a_restarted_node_is_restored_by_every_monitor() {
    let suite = suite(
        5,
        "",
        "completeness_within = \"8s\"\nmax_false_suspicions = { heartbeat = 0, phi = 0 }",
    );
    let faults = [
        (secs(5), Fault::Crash(NodeId(1))),
        (secs(15), Fault::Restart(NodeId(1))),
        (secs(20), Fault::Crash(NodeId(3))),
        (secs(22), Fault::Restart(NodeId(3))),
    ];
    for seed in 1..=3 {
        let outcome = run(&suite, seed, 5, &faults, secs(35));
        outcome.assert_all_passed();
        for detector in DetectorKind::ALL {
            let tally = outcome.tally(detector);
            assert_eq!(
                tally.detection_times.len(),
                4,
                "{detector}: only the long crash is detected"
            );
            assert_eq!(tally.restores, 4, "{detector}: every monitor restores n2");
            for monitor in outcome.sim.node_ids() {
                let process = outcome
                    .sim
                    .process(monitor)
                    .expect("every node is up at the end");
                for peer in outcome.sim.node_ids() {
                    assert!(
                        !process.suspects(detector, peer),
                        "{monitor} still suspects {peer} with {detector}"
                    );
                }
            }
        }
    }
}

/// A monitor that boots while a peer is down has never heard from it; it must still suspect it,
/// within the bound counted from its own boot.
#[test]
fn a_monitor_booting_while_a_peer_is_down_still_suspects_it() {
    let suite = suite(4, "", "completeness_within = \"8s\"");
    let faults = [
        (secs(2), Fault::Crash(NodeId(1))),
        (secs(3), Fault::Crash(NodeId(0))),
        (secs(4), Fault::Restart(NodeId(0))),
    ];
    let outcome = run(&suite, 5, 4, &faults, secs(20));
    outcome.assert_all_passed();
    let n1 = outcome.sim.process(NodeId(0)).expect("n1 is up");
    assert!(n1.suspects(DetectorKind::Heartbeat, NodeId(1)));
    assert!(n1.suspects(DetectorKind::Phi, NodeId(1)));
}

/// A node cut off from the others is suspected like a crashed one, and restored when the
/// partition heals.
#[test]
fn an_isolated_node_is_suspected_and_restored_after_the_heal() {
    let suite = suite(
        5,
        "",
        "completeness_within = \"8s\"\nmax_false_suspicions = { heartbeat = 0, phi = 0 }",
    );
    let faults = [
        (secs(5), Fault::Isolate(NodeId(4))),
        (secs(20), Fault::Heal),
    ];
    let outcome = run(&suite, 2, 5, &faults, secs(30));
    outcome.assert_all_passed();
    for detector in DetectorKind::ALL {
        // Both sides of the cut: the four suspect n5, and n5 suspects the four.
        assert_eq!(
            outcome.tally(detector).detection_times.len(),
            8,
            "{detector}"
        );
        for monitor in outcome.sim.node_ids() {
            let process = outcome.sim.process(monitor).expect("up");
            assert!(outcome
                .sim
                .node_ids()
                .all(|peer| !process.suspects(detector, peer)));
        }
    }
}

/// Accuracy on a calm network: a minute of regular heartbeats raises no suspicion at all, and
/// the sometimes-check passes without a failure to detect.
#[test]
fn no_false_suspicions_on_a_calm_network() {
    let suite = suite(5, "", "max_false_suspicions = { heartbeat = 0, phi = 0 }");
    for seed in 1..=2 {
        let outcome = run(&suite, seed, 5, &[], secs(60));
        outcome.assert_all_passed();
        for detector in DetectorKind::ALL {
            let tally = outcome.tally(detector);
            assert_eq!(
                tally.true_suspicions + tally.false_suspicions + tally.late_suspicions,
                0,
                "{detector}"
            );
        }
    }
}

/// A monitor that was paused longer than the timeout resumes to find every peer silent; it must
/// not take its own pause for theirs. Its peers, who did not hear from it, suspect it: a false
/// suspicion of a paused node, counted as such.
#[test]
fn a_paused_monitor_does_not_suspect_everyone_on_resume() {
    let suite = suite(5, "", "");
    let outcome = run(
        &suite,
        4,
        5,
        &[(secs(10), Fault::Pause(NodeId(0), SimDuration::from_secs(7)))],
        secs(25),
    );
    for detector in DetectorKind::ALL {
        let tally = outcome.tally(detector);
        assert_eq!(
            tally.false_suspicions, 4,
            "{detector}: the four peers suspect the paused n1, n1 nobody"
        );
        assert_eq!(tally.false_of_paused, 4, "{detector}");
        assert_eq!(tally.restores, 4, "{detector}");
    }
    assert!(!outcome.report("fd.phi.accuracy").figures.is_empty());
}

/// The completeness check is not vacuous: a detector too slow for the bound fails it, and the
/// message names the property, the time, the detector, both nodes, the crash and the bound.
#[test]
fn a_detector_slower_than_the_bound_fails_completeness() {
    let suite = suite(
        3,
        "detectors = [\"heartbeat\"]\n[heartbeat]\ntimeout = \"20s\"",
        "completeness_within = \"5s\"",
    );
    let outcome = run(
        &suite,
        1,
        3,
        &[(secs(4), Fault::Crash(NodeId(2)))],
        secs(15),
    );
    let report = outcome.report("fd.heartbeat.completeness");
    let violation = report
        .violation
        .as_ref()
        .expect("the 20 s timeout misses the 5 s bound");
    assert_eq!(violation.time, secs(9));
    assert_eq!(
        violation.message,
        "n1 did not suspect n3 within 5s of its crash at t=4s"
    );
    assert_eq!(
        outcome.first_violation.as_ref(),
        Some(violation),
        "an always-check reports it as it happens"
    );
    assert!(!outcome.report("fd.heartbeat.detected_a_failure").passed());
}

/// The accuracy limit is enforced when the scenario sets one.
#[test]
fn exceeding_the_false_suspicion_limit_fails_accuracy() {
    let suite = suite(3, "", "max_false_suspicions = { phi = 1 }");
    let outcome = run(
        &suite,
        1,
        3,
        &[(secs(10), Fault::Pause(NodeId(1), SimDuration::from_secs(8)))],
        secs(25),
    );
    let violation = outcome
        .report("fd.phi.accuracy")
        .violation
        .clone()
        .expect("two peers suspect the paused n2");
    assert!(
        violation
            .message
            .contains("false suspicions by the phi detector, more than the 1 allowed"),
        "{}",
        violation.message
    );
    assert!(
        violation.message.starts_with("2 false suspicions"),
        "{}",
        violation.message
    );
    assert!(
        violation
            .message
            .contains("n2, which was paused, not failed"),
        "{}",
        violation.message
    );
    assert!(
        outcome.report("fd.heartbeat.accuracy").passed(),
        "no limit for the fixed timeout"
    );
}

/// Determinism: the same seed gives the same trace, a different seed another.
#[test]
fn the_same_seed_gives_the_same_trace_hash() {
    let suite = suite(5, "", "");
    let faults = [
        (secs(3), Fault::Crash(NodeId(1))),
        (secs(6), Fault::Pause(NodeId(2), ms(500))),
    ];
    let first = run(&suite, 42, 5, &faults, secs(10)).trace_hash;
    let second = run(&suite, 42, 5, &faults, secs(10)).trace_hash;
    let other = run(&suite, 43, 5, &faults, secs(10)).trace_hash;
    assert_eq!(first, second);
    assert_ne!(first, other);
}

/// The suite a shipped scenario file describes: its `[protocol]` table less `name`, and its
/// `[checks]` table, as the runner hands them over.
fn scenario_suite(file: &str) -> (Rc<FdSuite>, usize) {
    let path = format!("{}/../../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut scenario: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let node_count = scenario["cluster"]["nodes"]
        .as_integer()
        .expect("cluster.nodes") as usize;
    let Some(toml::Value::Table(mut protocol)) = scenario.remove("protocol") else {
        panic!("{path}: no [protocol]")
    };
    assert_eq!(
        protocol
            .remove("name")
            .and_then(|n| n.as_str().map(String::from))
            .as_deref(),
        Some(FdSuite::NAME)
    );
    let checks = match scenario.remove("checks") {
        Some(toml::Value::Table(checks)) => checks,
        _ => toml::Table::new(),
    };
    let params: FdParams = toml::Value::Table(protocol)
        .try_into()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let checks: FdCheckParams = toml::Value::Table(checks)
        .try_into()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let cluster = ClusterInfo::uniform(node_count, SimDuration::ZERO, SimDuration::ZERO);
    match FdSuite::new(&cluster, params, FdWorkloadParams::default(), checks) {
        Ok(suite) => (Rc::new(suite), node_count),
        Err(error) => panic!("{path}: {error}"),
    }
}

/// `scenarios/fd/crash.toml`, its schedule written out (the quiet phase at 30 s restarts n4):
/// every check passes on every seed, the false suspicion limit of zero included.
#[test]
fn scenario_fd_crash_passes_on_every_seed() {
    let (suite, node_count) = scenario_suite("fd/crash.toml");
    let faults = [
        (secs(5), Fault::Crash(NodeId(1))),
        (secs(8), Fault::Crash(NodeId(3))),
        (secs(15), Fault::Restart(NodeId(1))),
        (secs(20), Fault::Crash(NodeId(4))),
        (secs(22), Fault::Restart(NodeId(4))),
        (secs(30), Fault::Restart(NodeId(3))),
    ];
    for seed in 1..=5 {
        let outcome = run(&suite, seed, node_count, &faults, secs(35));
        outcome.assert_all_passed();
        for detector in DetectorKind::ALL {
            // n2's crash seen by 4, n4's by 3 before n2's restart and then by n2: 8 detections.
            assert_eq!(
                outcome.tally(detector).detection_times.len(),
                8,
                "{detector}, seed {seed}"
            );
            assert_eq!(
                outcome.tally(detector).false_suspicions,
                0,
                "{detector}, seed {seed}"
            );
        }
        if seed == 1 {
            for (name, line) in &outcome.summary {
                println!("fd-crash, seed {seed}: {name}: {line}");
            }
        }
    }
}

/// `scenarios/fd/jitter.toml`, its schedule written out: latency spikes and short pauses.
/// Phi accrual, which learns the spread of inter-arrival times, makes fewer false suspicions
/// than a fixed timeout tuned to detect a crash as fast on a calm network (Hayashibara et al.
/// 2004, section 5: phi adapts to the network's conditions), and both stay complete.
#[test]
fn scenario_fd_jitter_phi_makes_fewer_false_suspicions_than_a_matched_timeout() {
    let (suite, node_count) = scenario_suite("fd/jitter.toml");
    let node = suite.node_config();
    // The timeout is phi's calm detection silence, as the scenario's comment says.
    let phi_silence = node
        .phi
        .expect("phi is enabled")
        .suspicion_silence(node.heartbeat_interval);
    let timeout = node
        .heartbeat
        .expect("the fixed timeout is enabled")
        .timeout();
    assert!(
        timeout.0.abs_diff(phi_silence.0) < ms(1).0,
        "timeout {timeout}, phi's silence {phi_silence}"
    );

    let calm = NetworkConfig::default();
    let spike = NetworkConfig {
        latency: Latency::LongTail {
            min: ms(1),
            max: ms(5),
            tail_probability: 0.2,
            tail_scale: ms(50),
            tail_shape: 1.5,
            tail_max: ms(2000),
        },
        ..NetworkConfig::default()
    };
    let mut faults = vec![
        (SimTime(1_500_000_000), Fault::Crash(NodeId(4))),
        (secs(5), Fault::Restart(NodeId(4))),
    ];
    for (round, start) in [6, 26, 46].into_iter().enumerate() {
        faults.push((secs(start), Fault::Network(spike.clone())));
        faults.push((secs(start + 8), Fault::Network(calm.clone())));
        faults.push((
            secs(start + 10),
            Fault::Pause(NodeId(round as u32), ms(180)),
        ));
    }
    faults.sort_by_key(|(at, _)| *at);
    for seed in 1..=3 {
        let outcome = run(&suite, seed, node_count, &faults, secs(70));
        let heartbeat = outcome.tally(DetectorKind::Heartbeat);
        let phi = outcome.tally(DetectorKind::Phi);
        println!(
            "fd-jitter, seed {seed}: false suspicions: fixed timeout {} ({} of a paused node), phi {} ({}); detection: fixed timeout {}, phi {}",
            heartbeat.false_suspicions,
            heartbeat.false_of_paused,
            phi.false_suspicions,
            phi.false_of_paused,
            detection_times(heartbeat),
            detection_times(phi)
        );
        outcome.assert_all_passed();
        assert!(
            heartbeat.false_suspicions > 0,
            "the jitter provokes the fixed timeout"
        );
        assert!(
            phi.false_suspicions < heartbeat.false_suspicions,
            "seed {seed}"
        );
        // The calm crash is seen by all four others, as fast by both.
        assert_eq!(heartbeat.detection_times.len(), 4);
        assert_eq!(phi.detection_times.len(), 4);
        let (h, p) = (
            heartbeat.sorted_detection_times(),
            phi.sorted_detection_times(),
        );
        assert!(
            h[1].0.abs_diff(p[1].0) <= ms(20).0,
            "calm detection: fixed timeout {h:?}, phi {p:?}"
        );
    }
}

/// Eventual strong accuracy (Chandra and Toueg 1996, section 2.2: "there is a time after which
/// correct processes are not suspected by any correct process"): a restarted node must be
/// trusted again within `trust_within`. A bound no detector can meet (a millisecond, below one
/// heartbeat) fails the check, naming the monitor and the node; the default bound holds.
#[test]
fn a_recovered_node_must_be_trusted_again_within_the_bound() {
    let faults = [
        (secs(5), Fault::Crash(NodeId(1))),
        (secs(15), Fault::Restart(NodeId(1))),
    ];
    let strict = suite(
        4,
        "",
        "completeness_within = \"8s\"\ntrust_within = \"1ms\"",
    );
    let outcome = run(&strict, 1, 4, &faults, secs(25));
    for detector in DetectorKind::ALL {
        let report = outcome.report(&format!("fd.{detector}.trusted_again"));
        let violation = report.violation.as_ref().expect("a 1ms bound is missed");
        assert!(
            violation.message.contains("still suspected n2"),
            "{}",
            violation.message
        );
    }
    let default = suite(4, "", "completeness_within = \"8s\"");
    let outcome = run(&default, 1, 4, &faults, secs(25));
    outcome.assert_all_passed();
    for detector in DetectorKind::ALL {
        let report = outcome.report(&format!("fd.{detector}.trusted_again"));
        assert!(report.held(), "{report:?}");
    }
}

/// Checks that had nothing to judge say so: on a calm network with no fault, no live node was
/// ever suspected (so none had to be trusted again) and neither detector made a false
/// suspicion (so there is nothing to compare them by). Neither passes nor fails.
#[test]
fn checks_with_nothing_to_judge_are_not_evaluated() {
    let calm = suite(
        3,
        "",
        "completeness_within = \"8s\"\nphi_fewer_false_suspicions = true",
    );
    let outcome = run(&calm, 2, 3, &[], secs(20));
    outcome.assert_all_passed();
    for name in [
        "fd.heartbeat.trusted_again",
        "fd.phi.trusted_again",
        "fd.phi_vs_heartbeat",
    ] {
        let report = outcome.report(name);
        assert!(report.not_evaluated.is_some(), "{name}: {report:?}");
        assert!(report.violation.is_none(), "{name}");
    }
}
