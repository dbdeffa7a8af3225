//! The shipped lock scenario files, run through the real runner over a few seeds each: every
//! scenario without an `[expect]` table passes; the unsafe designs (no fencing) fail by design
//! by the check their table names, with the believed-holder overlap in the summary; every planted
//! bug is caught within its budget by its check, and the same seed passes with the bug removed.
//! A scripted case drives the runner's `Cluster` directly.

use sim_check::Verdict;
use sim_core::{ClusterInfo, NodeId, SimConfig, SimDuration, SimTime, Suite, Trace};
use sim_lock::bugs::Bug;
use sim_lock::checks::linearizable::Linearizable;
use sim_lock::checks::CheckParams;
use sim_lock::node::LockEvent;
use sim_lock::LockSuite;
use sim_runner::test_support::{self, load};
use sim_runner::{Cluster, RunReport};
use sim_scenario::Scenario;

fn run(scenario: &Scenario, seed: u64) -> RunReport {
    test_support::run::<LockSuite>(scenario, seed)
}

const SCENARIOS: [&str; 5] = [
    "lock/nemesis.toml",
    "lock/paused-holder.toml",
    "lock/clock-jump.toml",
    "lock/leader-partition.toml",
    "lock/lossy-sessions.toml",
];

const BUGS: [&str; 6] = [
    "lock/bugs/writer_ignores_readers.toml",
    "lock/bugs/token_resets_when_free.toml",
    "lock/bugs/resource_token_in_memory.toml",
    "lock/bugs/fence_refuses_own_token.toml",
    "lock/bugs/acquire_without_session.toml",
    "lock/bugs/release_any_owner.toml",
];

#[test]
fn every_lock_scenario_passes_its_first_seeds() {
    test_support::assert_first_seeds_pass::<LockSuite>(&SCENARIOS, 0..2);
}

fn summary_line<'a>(report: &'a RunReport, key: &str) -> &'a str {
    report
        .summary
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key:?} line in {:?}", report.summary))
}

/// Without fencing, the paused holder's late write reaches the resource: the run fails by
/// design, and the summary shows the overlap the clients believed in.
#[test]
fn without_fencing_a_paused_holder_corrupts_the_resource_and_the_overlap_is_shown() {
    for file in [
        "lock/paused-holder-unfenced.toml",
        "lock/clock-jump-unfenced.toml",
    ] {
        let scenario = load(file);
        let expect = scenario.expect.clone().expect("an [expect] table");
        let failing = (0..expect.within_seeds)
            .map(|seed| run(&scenario, seed))
            .find(|r| r.failed_check().as_deref() == Some(expect.fails.as_str()));
        let report = failing.unwrap_or_else(|| panic!("{file}: no failure of {}", expect.fails));
        let failure = report.failure().unwrap_or_default();
        assert!(failure.contains("fencing off"), "{failure}");
        let overlap = summary_line(&report, "believed-holder overlap");
        assert!(!overlap.starts_with("0.0ms"), "{file}: {overlap}");
    }
}

/// With fencing, the same pauses are refused at the resource.
#[test]
fn with_fencing_the_paused_holders_late_writes_are_refused() {
    let report = run(&load("lock/paused-holder.toml"), 0);
    assert!(report.passed(), "{:?}", report.failure());
    let writes = summary_line(&report, "resource writes");
    assert!(writes.contains("(0 stale)"), "{writes}");
    assert!(!writes.ends_with(" 0 refused by fencing"), "{writes}");
    let figures: Vec<&str> = report.figures.iter().map(|(k, _)| k.as_str()).collect();
    assert!(figures.contains(&"lock.believed_overlap_us"), "{figures:?}");
}

#[test]
fn every_planted_bug_has_a_scenario() {
    let bugs = sim_lock::bugs::Bug::ALL.map(|b| b.name());
    test_support::assert_every_bug_has_a_scenario("lock/bugs", bugs, &BUGS);
}

#[test]
fn every_planted_bug_is_caught_within_its_budget_by_its_expected_check() {
    test_support::assert_every_bug_caught::<LockSuite>(&BUGS);
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let scenario = load("lock/nemesis.toml");
    assert_eq!(run(&scenario, 3).trace_hash, run(&scenario, 3).trace_hash);
}

/// Three servers (n1-n3), two clients (n4, n5) and the resource (n6), built as the runner does.
fn cluster(seed: u64) -> Cluster<LockSuite> {
    cluster_with(seed, Default::default())
}

/// [`cluster`] with `[protocol]` settings of its own.
fn cluster_with(seed: u64, params: sim_lock::family::Params) -> Cluster<LockSuite> {
    let mut info = ClusterInfo::uniform(6, SimDuration::from_secs(10), SimDuration::ZERO);
    info.node_kinds = ["server", "server", "server", "client", "client", "resource"]
        .map(String::from)
        .to_vec();
    let suite = LockSuite::new(&info, params, Default::default(), Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cluster = Cluster::new(suite, SimConfig::new(seed, 6), Trace::default());
    cluster.start();
    cluster
}

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

/// A crashed holder's session expires by the service's clock and the waiting client is told the
/// lock is its: the lease frees the lock within the ttl plus the expiry machinery's delay.
#[test]
fn a_crashed_holders_lock_goes_to_the_waiting_client_after_its_lease() {
    let mut cluster = cluster(4);
    let holder = cluster.run_until_event(secs(5), |_, node, events| {
        events
            .iter()
            .any(|e| matches!(e, LockEvent::Believes { .. }))
            && node.0 >= 3
    });
    let Some(holder) = holder else {
        panic!("no client held the lock");
    };
    let crashed_at = cluster.sim().now();
    cluster.crash(holder);
    let other = NodeId(if holder == NodeId(3) { 4 } else { 3 });
    let next = cluster.run_until_event(secs(10), |_, node, events| {
        node == other
            && events
                .iter()
                .any(|e| matches!(e, LockEvent::Believes { .. }))
    });
    assert_eq!(next, Some(other), "the waiting client never got the lock");
    let waited = cluster.sim().now().saturating_since(crashed_at);
    assert!(
        waited >= SimDuration::from_millis(700),
        "granted before the lease ran out: {waited}"
    );
    assert!(
        waited <= SimDuration::from_millis(1600),
        "the expiry took {waited}"
    );
    let finished = cluster.finish();
    assert!(finished.passed(), "{:?}", finished.failure());
}

/// The cluster of [`cluster`], with `lock.converged` bound to 2s after the heal.
fn cluster_converging_within_2s(seed: u64) -> Cluster<LockSuite> {
    let mut info = ClusterInfo::uniform(6, SimDuration::from_secs(3), SimDuration::from_secs(4));
    info.node_kinds = ["server", "server", "server", "client", "client", "resource"]
        .map(String::from)
        .to_vec();
    let checks = sim_lock::checks::CheckParams {
        converge_within: SimDuration::from_secs(2),
        ..Default::default()
    };
    let suite = LockSuite::new(&info, Default::default(), Default::default(), checks)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cluster = Cluster::new(suite, SimConfig::new(seed, 6), Trace::default());
    cluster.start();
    cluster
}

/// Cuts a follower off from 1s to the heal at 3s (it falls behind), cuts it off again right
/// after the heal if asked, and runs 4s more: `lock.converged`'s report.
fn converged_after_heal(seed: u64, cut_off_again: bool) -> sim_core::CheckReport {
    let mut cluster = cluster_converging_within_2s(seed);
    cluster.run_until(secs(1));
    let leaders = cluster.nodes_with_role("leader");
    let follower = (0..3).map(NodeId).find(|n| !leaders.contains(n));
    let follower = follower.unwrap_or_else(|| panic!("no follower"));
    cluster.isolate(follower);
    cluster.run_until(secs(3));
    cluster.quiet_phase();
    if cut_off_again {
        cluster.isolate(follower);
    }
    cluster.run_for(SimDuration::from_secs(4));
    let finished = cluster.finish();
    let report = finished
        .checks
        .iter()
        .find(|c| c.name == "lock.converged")
        .unwrap_or_else(|| panic!("no lock.converged"));
    report.clone()
}

/// A server cut off again right after the heal stays behind: the live replicas never converge,
/// and `lock.converged` says so; the same seed, the server left connected, converges.
#[test]
fn a_server_cut_off_after_the_heal_fails_lock_converged_and_the_same_seed_without_it_holds() {
    let report = converged_after_heal(2, true);
    let message = report
        .violation
        .as_ref()
        .map(|v| v.message.clone())
        .unwrap_or_else(|| panic!("lock.converged held with a server cut off: {report:?}"));
    assert!(message.contains("did not converge within 2s"), "{message}");
    let report = converged_after_heal(2, false);
    assert!(report.held(), "{report:?}");
    assert!(
        report.figures.iter().any(|(name, _)| name == "converged"),
        "{report:?}"
    );
}

/// Without a heal there is nothing to converge after: not evaluated, neither passed nor failed.
#[test]
fn without_a_quiet_phase_lock_converged_is_not_evaluated() {
    let mut cluster = cluster_converging_within_2s(2);
    cluster.run_until(secs(5));
    let finished = cluster.finish();
    let report = finished
        .checks
        .iter()
        .find(|c| c.name == "lock.converged")
        .unwrap_or_else(|| panic!("no lock.converged"));
    assert!(
        report.not_evaluated.is_some() && report.violation.is_none(),
        "{report:?}"
    );
}

/// The swarm scenario's first seeds pass every check, each with its own sampled member (its
/// campaigns run in CI, in release).
#[test]
fn the_swarm_scenario_passes_its_first_seeds() {
    let scenario = load("lock/swarm.toml");
    for seed in 0..3 {
        let report = run(&scenario, seed);
        assert!(report.passed(), "seed {seed}: {:?}", report.failure());
        assert!(!report.parameters.is_empty(), "the seed sampled its member");
    }
}

/// Sessions are sequential, so a client whose think time runs out while a request is out (a
/// keep-alive, say) acquires after its answer. Here keep-alives fall due faster than the service
/// answers them, so one is always out: a client that thought again instead of waiting its turn
/// never asked for the lock, and one that sent the due keep-alive first never got its turn.
#[test]
fn a_client_acquires_even_when_a_keepalive_is_always_out() {
    let params = sim_lock::family::Params {
        keepalive: Some(SimDuration::from_millis(1)),
        ..Default::default()
    };
    let mut cluster = cluster_with(1, params);
    for client in [NodeId(3), NodeId(4)] {
        let held = cluster.run_until_event(secs(5), |_, node, events| {
            node == client
                && events
                    .iter()
                    .any(|e| matches!(e, LockEvent::Believes { .. }))
        });
        assert_eq!(held, Some(client), "{client} never held the lock");
    }
    let finished = cluster.finish();
    assert!(finished.passed(), "{:?}", finished.failure());
}

/// Swarm seed 1919: a follower catching up replayed a grant to n5's session that the service
/// had freed long before, then installed a snapshot that skipped the free; `lock.liveness` took
/// the replayed grant for a holding, and when n5 was paused it reported the lock never released.
/// Only a replica applying past every index reported before is the service's news.
#[test]
fn a_replica_replaying_old_grants_is_not_taken_for_the_service() {
    let report = run(&load("lock/swarm.toml"), 1919);
    assert!(report.passed(), "{:?}", report.failure());
    let liveness = report.checks.iter().find(|c| c.name == "lock.liveness");
    assert!(liveness.is_some_and(|c| c.held()), "{liveness:?}");
}

/// Swarm seed 708: a grant notice delayed 336ms by a latency spike reached n3 after it had
/// acted on that grant (token 234), released the lock and queued for it again; n3 took the old
/// notice for a new grant and believed it held the lock beside n5 (token 251). No node had
/// been paused and no clock disturbed, so `lock.fencing_safety` calls it out. A notice whose
/// token is no newer than one the client already held is a late copy.
#[test]
fn a_late_grant_notice_is_not_taken_for_a_new_grant() {
    let report = run(&load("lock/swarm.toml"), 708);
    assert!(report.passed(), "{:?}", report.failure());
}

/// `lock.linearizable` shared with the test, which reads its recorder after the run.
struct Probe(std::rc::Rc<std::cell::RefCell<Linearizable>>);

impl sim_core::Check<sim_lock::node::LockNode> for Probe {
    fn name(&self) -> &str {
        Linearizable::NAME
    }

    fn kind(&self) -> sim_core::CheckKind {
        sim_core::CheckKind::Always
    }

    fn observe(
        &mut self,
        sim: &sim_core::Simulation<sim_lock::node::LockNode>,
        obs: &sim_core::Observation<'_, sim_lock::node::LockNode>,
    ) -> Option<sim_core::Violation> {
        self.0.borrow_mut().observe(sim, obs)
    }

    fn finish(
        &mut self,
        sim: &sim_core::Simulation<sim_lock::node::LockNode>,
        phases: &sim_core::Phases,
    ) -> sim_core::CheckReport {
        self.0.borrow_mut().finish(sim, phases)
    }
}

/// Three servers, three clients (30% readers) and a resource for `secs_total` seconds, with `bugs`,
/// under a scripted nemesis: every 2s a client crashes and restarts, the leader is cut off, a
/// client pauses past its ttl, or messages are lost. Returns the linearizability check (with its whole history kept) and the
/// finished run.
fn scripted_long_run(
    seed: u64,
    bugs: Vec<Bug>,
    secs_total: u64,
) -> (
    std::rc::Rc<std::cell::RefCell<Linearizable>>,
    sim_runner::Finished<LockSuite>,
) {
    let mut info = ClusterInfo::uniform(7, SimDuration::from_secs(secs_total), SimDuration::ZERO);
    info.node_kinds = [
        "server", "server", "server", "client", "client", "client", "resource",
    ]
    .map(String::from)
    .to_vec();
    // With a bug, the clients' clocks run slow (as in its scenario): their leases outlast
    // their sessions, and late releases reach the service.
    let slow = !bugs.is_empty();
    let params = sim_lock::family::Params {
        bugs,
        ttl: SimDuration::from_millis(if slow { 600 } else { 1000 }),
        keepalive: slow.then(|| SimDuration::from_millis(450)),
        ..Default::default()
    };
    let workload = sim_lock::family::WorkloadParams {
        read_fraction: Some(0.3),
        ..Default::default()
    };
    let suite = LockSuite::new(&info, params, workload, Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let check = Linearizable::new(
        std::sync::Arc::clone(suite.config()),
        &CheckParams::default(),
        Default::default(),
    );
    let check = std::rc::Rc::new(std::cell::RefCell::new(check));
    check.borrow_mut().keep_history();
    let mut checks = suite.checks();
    checks.retain(|c| c.name() != Linearizable::NAME);
    checks.push(Box::new(Probe(std::rc::Rc::clone(&check))));
    let mut cluster = Cluster::with_parts(
        suite,
        SimConfig::new(seed, 7),
        Trace::default(),
        None,
        checks,
    );
    cluster.run_past_violations();
    cluster.start();
    if slow {
        cluster.run_until(SimTime(500_000_000));
        for client in 3..6 {
            let clock = sim_core::Clock {
                offset_ns: 0,
                drift_ppm: -400_000,
            };
            cluster.set_clock(NodeId(client), clock);
        }
    }
    scripted_nemesis(&mut cluster, secs_total);
    let finished = cluster.finish();
    (check, finished)
}

/// Every 2s a client crashes and restarts, the leader is cut off, a client pauses past its ttl,
/// or messages are lost, in turn, until `secs_total`.
fn scripted_nemesis(cluster: &mut Cluster<LockSuite>, secs_total: u64) {
    for step in 0..secs_total / 2 {
        cluster.run_for(SimDuration::from_secs(1));
        let client = NodeId(3 + (step / 4 % 3) as u32);
        match step % 4 {
            0 => {
                cluster.crash(client);
                cluster.run_for(SimDuration::from_millis(300));
                cluster.restart(client);
            }
            1 => {
                if let Some(&leader) = cluster.nodes_with_role("leader").first() {
                    cluster.isolate(leader);
                }
                cluster.run_for(SimDuration::from_millis(800));
                cluster.heal();
            }
            2 => cluster.pause(client, SimDuration::from_millis(1500)),
            _ => {
                let mut network = cluster.sim().network().clone();
                network.drop_probability = 0.2;
                cluster.set_network(network);
                cluster.run_for(SimDuration::from_millis(600));
                cluster.restore_network();
            }
        }
        cluster.run_until(secs(2 * (step + 1)));
    }
}

/// The incremental verdict is the whole history's: the same history, checked whole by
/// `sim-check`, gets the same verdict, on correct runs and on the planted bug that releases
/// another session's lock (not linearizable).
#[test]
fn the_incremental_lock_verdict_equals_the_whole_history_verdict() {
    let budget = sim_check::Budget {
        max_states: 2_000_000,
        ..Default::default()
    };
    let verdicts = |seed: u64, bugs: Vec<Bug>| {
        let (check, finished) = scripted_long_run(seed, bugs, 40);
        let report = finished
            .checks
            .iter()
            .find(|c| c.name == Linearizable::NAME)
            .unwrap_or_else(|| panic!("no {}", Linearizable::NAME))
            .clone();
        let check = check.borrow();
        let history = check.recorder().history().unwrap_or_else(|| panic!("kept"));
        assert!(
            history.operations().len() > 300,
            "{}",
            history.operations().len()
        );
        let whole = sim_check::check_with(history, &sim_check::LockTable, &budget);
        let incremental = check.recorder().result();
        assert_eq!(whole.verdict, incremental.verdict, "seed {seed}");
        assert_eq!(
            report.held(),
            whole.verdict == Verdict::Linearizable,
            "{report:?}"
        );
        whole.verdict
    };
    for seed in [1, 2] {
        assert_eq!(verdicts(seed, vec![]), Verdict::Linearizable, "seed {seed}");
    }
    let caught = (0..10)
        .find(|&seed| verdicts(seed, vec![Bug::ReleaseAnyOwner]) == Verdict::NotLinearizable);
    assert!(
        caught.is_some(),
        "release_any_owner never made the history non-linearizable"
    );
}

/// Over a long run (with client crashes, a cut-off leader and lost messages) what
/// `lock.linearizable` retains stays bounded by what is undecided: a few operations in flight,
/// a few given up on, a few live sessions' report times; the history itself is thousands of
/// operations long.
#[test]
fn what_lock_linearizable_retains_stays_bounded_over_a_long_run() {
    let (check, finished) = scripted_long_run(4, vec![], 240);
    assert!(finished.passed(), "{:?}", finished.failure());
    let check = check.borrow();
    let ops = check
        .recorder()
        .history()
        .map_or(0, |h| h.operations().len());
    assert!(ops > 3000, "{ops} operations");
    let peak = check.peak();
    assert!(peak.in_flight <= 12, "{peak:?}");
    assert!(peak.given_up <= 6, "{peak:?}");
    assert!(peak.touched <= 12, "{peak:?}");
    let now = check.recorder().retained();
    assert_eq!(
        (now.in_flight, now.given_up),
        (0, 0),
        "all settled at the end"
    );
    // The expiries remembered against replays are forgotten once every snapshot covers them.
    let (remembered, entered) = check.service_steps();
    assert!(entered > 1000, "{entered} service steps");
    assert!(
        remembered * 4 < entered as usize,
        "{remembered} of {entered}"
    );
}
