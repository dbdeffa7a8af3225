//! The engine's tests, against a toy service and a toy plug-in.
//!
//! [`Toy`] is a process whose behaviour a test scripts per node ([`Script`]): serve after a
//! delay, redirect to another node, answer unavailable, or stay silent, from a time on. The
//! toy plug-in draws nothing but its operation's kind, and keeps a history of invokes and
//! completions per process so that tests can check it is well formed.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sim_core::{
    Ctx, NodeId, Process, RequestId, SimConfig, SimDuration, SimRng, SimTime, Simulation, Streams,
    Trace, Workload,
};

use crate::{
    backoff_delay, Answer, Arrival, BreakerParams, ClientEngine, ClientPlugin, EngineParams,
    Invocation, OpStatus, OpenLoop, Routing, Status,
};

/// What a toy node does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Answers ok after this long.
    Serve(SimDuration),
    Redirect(Option<NodeId>),
    Unavailable,
    Silent,
}

/// Per node, behaviours from a time on (the latest that has begun applies).
#[derive(Clone, Debug, Default)]
struct Script {
    per_node: BTreeMap<u32, Vec<(SimTime, Behaviour)>>,
}

impl Script {
    fn all(node_count: u32, behaviour: Behaviour) -> Self {
        let mut script = Script::default();
        for n in 0..node_count {
            script.per_node.insert(n, vec![(SimTime::ZERO, behaviour)]);
        }
        script
    }

    fn set(mut self, node: u32, from: SimTime, behaviour: Behaviour) -> Self {
        self.per_node
            .entry(node)
            .or_default()
            .push((from, behaviour));
        self
    }

    fn at(&self, node: NodeId, now: SimTime) -> Behaviour {
        let steps = self.per_node.get(&node.0).map(Vec::as_slice).unwrap_or(&[]);
        let mut current = Behaviour::Silent;
        for &(from, behaviour) in steps {
            if from <= now {
                current = behaviour;
            }
        }
        current
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
enum Reply {
    Done,
    Redirect(Option<NodeId>),
    Unavailable,
}

#[derive(Debug)]
struct Toy {
    script: Script,
}

impl Process for Toy {
    type Msg = ();
    type Timer = (u64, u64);
    type Request = u64;
    type Response = Reply;
    type Durable = ();
    type Event = ();

    fn on_start(&mut self, _: &mut Ctx<'_, Self>) {}
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, (id, _): (u64, u64)) {
        ctx.reply(RequestId(id), Reply::Done);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, _: u64) {
        match self.script.at(ctx.id(), ctx.local_time()) {
            Behaviour::Serve(delay) if delay == SimDuration::ZERO => ctx.reply(id, Reply::Done),
            Behaviour::Serve(delay) => ctx.set_timer(delay, (id.0, 0)),
            Behaviour::Redirect(to) => ctx.reply(id, Reply::Redirect(to)),
            Behaviour::Unavailable => ctx.reply(id, Reply::Unavailable),
            Behaviour::Silent => {}
        }
    }
}

/// The toy plug-in's history: per process, its events in order (invoke, then an end).
#[derive(Debug, Default)]
struct ToyPlugin {
    events: Vec<(u64, &'static str, SimTime)>,
}

impl ClientPlugin for ToyPlugin {
    type Request = u64;
    type Response = Reply;
    type Op = u64;

    fn kind_names(&self) -> &'static [&'static str] {
        &["op"]
    }
    fn kind(&self, _: &u64) -> &'static str {
        "op"
    }
    fn invoke(&mut self, _: &mut SimRng, invocation: &Invocation) -> u64 {
        self.events
            .push((invocation.process, "invoke", invocation.at));
        invocation.process
    }
    fn request(&self, op: &u64) -> u64 {
        *op
    }
    fn classify(&mut self, _: &mut u64, response: Reply) -> Answer {
        match response {
            Reply::Done => Answer::Ok,
            Reply::Redirect(to) => Answer::Redirect { to },
            Reply::Unavailable => Answer::Unavailable,
        }
    }
    fn complete(&mut self, op: u64, status: Status, at: SimTime) {
        let name = match status {
            Status::Ok => "ok",
            Status::Fail => "fail",
            Status::Info => "info",
        };
        self.events.push((op, name, at));
    }
}

type Engine = ClientEngine<ToyPlugin>;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn at_ms(n: u64) -> SimTime {
    SimTime::ZERO + ms(n)
}

/// Runs `params` against `script` on `node_count` nodes until `end`, calling `observe` after
/// every step.
fn run_observed(
    params: EngineParams,
    script: Script,
    node_count: usize,
    seed: u64,
    end: SimTime,
    mut observe: impl FnMut(&Simulation<Toy>),
) -> Simulation<Toy> {
    let config = SimConfig::new(seed, node_count);
    let factory = move |_| Toy {
        script: script.clone(),
    };
    let mut sim = Simulation::new(config, Box::new(factory), Trace::new(None));
    let mut engine = Engine::new(params, ToyPlugin::default(), node_count);
    // The tests read every operation's record.
    engine.keep_records();
    sim.set_workload(Box::new(engine));
    sim.start();
    while sim.peek_time().is_some_and(|t| t <= end) {
        if sim.step().is_none() {
            break;
        }
        observe(&sim);
    }
    sim
}

fn run(
    params: EngineParams,
    script: Script,
    node_count: usize,
    seed: u64,
    end: SimTime,
) -> Simulation<Toy> {
    run_observed(params, script, node_count, seed, end, |_| {})
}

fn engine(sim: &Simulation<Toy>) -> &Engine {
    let workload: &dyn Workload<Toy> = sim.workload().expect("a workload");
    workload
        .as_any()
        .downcast_ref::<Engine>()
        .expect("the toy engine")
}

/// Every process's events are invoke, end, invoke, end, ..., and nothing follows an info.
fn assert_well_formed(engine: &Engine) {
    let mut open: BTreeMap<u64, bool> = BTreeMap::new();
    let mut ended = std::collections::BTreeSet::new();
    for &(process, what, _) in &engine.plugin().events {
        assert!(
            !ended.contains(&process),
            "process {process} acts after an info"
        );
        let was_open = open.insert(process, what == "invoke").unwrap_or(false);
        assert_eq!(
            was_open,
            what != "invoke",
            "process {process}: {what} out of turn"
        );
        if what == "info" {
            ended.insert(process);
        }
    }
}

/// A follower's redirect is followed to the node it names, within the same operation.
#[test]
fn redirect_is_followed_to_the_named_node() {
    let script = Script::all(3, Behaviour::Redirect(Some(NodeId(2)))).set(
        2,
        SimTime::ZERO,
        Behaviour::Serve(SimDuration::ZERO),
    );
    let params = EngineParams {
        clients: 2,
        ..EngineParams::default()
    };
    let sim = run(params, script, 3, 1, at_ms(500));
    let engine = engine(&sim);
    let counts = engine.counts();
    assert!(counts.ok > 50, "{counts}");
    assert_eq!(counts.info, counts.pending, "{counts}");
    // Once a client has heard of n3 it goes there directly: at most one redirect per client.
    assert!(engine.counters().redirects <= 2, "{:?}", engine.counters());
    assert!(engine.counters().redirects >= 1, "{:?}", engine.counters());
    assert!(engine.records().iter().all(|r| r.attempts <= 2));
    assert_well_formed(engine);
}

/// Pinned clients stay with the node they first reached: client 0 (home n1, which redirects to
/// n3) never follows the redirect and never succeeds; client 1 (home n2, silent from 200ms on)
/// keeps asking n2 after its timeouts. Following clients reach n3 in both cases.
#[test]
fn pinned_clients_follow_no_redirect_and_stay_after_a_timeout() {
    let script = Script::all(3, Behaviour::Serve(SimDuration::ZERO))
        .set(0, SimTime::ZERO, Behaviour::Redirect(Some(NodeId(2))))
        .set(1, at_ms(200), Behaviour::Silent);
    let params = |routing| EngineParams {
        clients: 2,
        routing,
        request_timeout: ms(100),
        op_timeout: ms(1000),
        ..EngineParams::default()
    };
    let late_ok = |engine: &Engine, client: usize| {
        engine
            .records()
            .iter()
            .filter(|r| r.client == client && r.status == OpStatus::Ok)
            .filter(|r| r.invoked_at >= at_ms(300))
            .count()
    };
    let sim = run(params(Routing::Pinned), script.clone(), 3, 4, at_ms(3000));
    let pinned = engine(&sim);
    assert_eq!(pinned.counters().redirects, 0, "{:?}", pinned.counters());
    assert!(pinned.counters().backoffs > 10, "{:?}", pinned.counters());
    let pinned_records = pinned.records();
    let client_0_ok = pinned_records.iter().filter(|r| r.client == 0);
    assert!(client_0_ok.clone().count() >= 2);
    assert!(client_0_ok.clone().all(|r| r.status != OpStatus::Ok));
    assert!(pinned
        .records()
        .iter()
        .any(|r| r.client == 1 && r.status == OpStatus::Ok));
    assert_eq!(late_ok(pinned, 1), 0);
    assert_well_formed(pinned);

    let sim = run(params(Routing::Follow), script, 3, 4, at_ms(3000));
    let following = engine(&sim);
    assert!(following.counters().redirects >= 1);
    assert!(late_ok(following, 0) > 10);
    assert!(late_ok(following, 1) > 10);
}

/// A silent service: each attempt times out and is sent again; at `op_timeout` the operation
/// becomes info, exactly then, and the client goes on as a fresh process.
#[test]
fn timeout_becomes_info_at_the_op_timeout() {
    let params = EngineParams {
        clients: 2,
        request_timeout: ms(300),
        op_timeout: ms(1000),
        ..EngineParams::default()
    };
    let sim = run(params, Script::all(3, Behaviour::Silent), 3, 2, at_ms(5000));
    let engine = engine(&sim);
    let records = engine.records();
    let given_up: Vec<_> = records
        .iter()
        .filter(|r| r.status == OpStatus::Info)
        .collect();
    assert!(given_up.len() >= 8, "{given_up:?}");
    for record in &given_up {
        assert_eq!(
            record.completed_at,
            Some(record.invoked_at + ms(1000)),
            "{record:?}"
        );
        assert_eq!(
            record.attempts, 4,
            "sent at 0, 300, 600 and 900ms: {record:?}"
        );
    }
    let processes: std::collections::BTreeSet<u64> =
        engine.records().iter().map(|r| r.process).collect();
    assert!(processes.len() > 2, "a fresh process after each info");
    assert_well_formed(engine);
}

fn policy(multiplier: f64, jitter: f64) -> EngineParams {
    EngineParams {
        backoff: ms(10),
        backoff_multiplier: multiplier,
        backoff_max: Some(ms(500)),
        backoff_jitter: jitter,
        ..EngineParams::default()
    }
}

/// Backoffs grow by the multiplier up to the cap; with jitter each lies in
/// `[d * (1 - jitter), d]`, and the same seed draws the same delays.
#[test]
fn backoff_grows_exponentially_within_jitter_bounds_and_is_seeded() {
    let plain = policy(2.0, 0.0);
    let mut rng = Streams::new(1).stream("workload");
    let delays: Vec<u64> = (0..8)
        .map(|k| backoff_delay(&plain, &mut rng, k).0 / 1_000_000)
        .collect();
    assert_eq!(delays, [10, 20, 40, 80, 160, 320, 500, 500]);
    let jittered = policy(2.0, 0.5);
    let draw = |seed| {
        let mut rng = Streams::new(seed).stream("workload");
        (0..8)
            .map(|k| backoff_delay(&jittered, &mut rng, k))
            .collect::<Vec<_>>()
    };
    let first = draw(7);
    assert_eq!(first, draw(7));
    assert_ne!(first, draw(8));
    for (k, delay) in first.iter().enumerate() {
        let full = ms(delays[k]).0;
        assert!(
            delay.0 <= full && delay.0 >= full / 2,
            "backoff {k}: {delay} of {full}ns"
        );
    }
}

/// In a run: unavailable answers make the client back off 10, 20, 40ms... before each retry.
#[test]
fn backoff_in_a_run_doubles_between_attempts() {
    let params = EngineParams {
        clients: 1,
        max_ops: Some(1),
        op_timeout: ms(1000),
        ..policy(2.0, 0.0)
    };
    let mut sent = Vec::new();
    let sim = run_observed(
        params,
        Script::all(1, Behaviour::Unavailable),
        1,
        3,
        at_ms(1500),
        |sim| {
            let attempts = engine(sim).records().first().map_or(0, |r| r.attempts);
            if attempts as usize > sent.len() {
                sent.push(sim.now());
            }
        },
    );
    // Each attempt: 1ms there, 1ms back, then the backoff.
    let gaps: Vec<u64> = sent
        .windows(2)
        .map(|w| w[1].saturating_since(w[0]).0 / 1_000_000)
        .collect();
    assert_eq!(gaps[..5], [12, 22, 42, 82, 162], "{gaps:?}");
    let record = &engine(&sim).records()[0];
    assert_eq!(record.status, OpStatus::Info, "{record:?}");
}

/// `max_attempts` ends an operation every attempt of which was turned away as fail.
#[test]
fn max_attempts_ends_a_turned_away_operation_as_fail() {
    let params = EngineParams {
        clients: 1,
        max_ops: Some(3),
        max_attempts: Some(3),
        ..EngineParams::default()
    };
    let sim = run(
        params,
        Script::all(2, Behaviour::Unavailable),
        2,
        4,
        at_ms(2000),
    );
    let engine = engine(&sim);
    assert_eq!(engine.records().len(), 3);
    assert!(engine
        .records()
        .iter()
        .all(|r| r.status == OpStatus::Fail && r.attempts == 3));
    assert_eq!(engine.counters().attempts_exhausted, 3);
}

/// The breaker opens after N consecutive failures, refuses requests for the cool-down, lets a
/// probe through, and closes when the service answers again.
#[test]
fn breaker_opens_refuses_half_opens_and_closes_in_a_run() {
    let params = EngineParams {
        clients: 1,
        request_timeout: ms(50),
        op_timeout: ms(400),
        breaker: Some(BreakerParams {
            failures: 3,
            cool_down: ms(300),
        }),
        ..EngineParams::default()
    };
    let script = Script::all(3, Behaviour::Silent);
    let script = (0..3).fold(script, |s, n| {
        s.set(n, at_ms(1000), Behaviour::Serve(SimDuration::ZERO))
    });
    let sim = run(params, script, 3, 5, at_ms(2000));
    let engine = engine(&sim);
    let t = engine.breaker_transitions();
    assert!(t.opened >= 1, "{t:?}");
    assert!(t.half_opened >= 1, "{t:?}");
    assert!(t.closed >= 1, "{t:?}");
    assert!(
        engine.counters().breaker_refused >= 1,
        "{:?}",
        engine.counters()
    );
    // Three timeouts open it: the third attempt's retry is refused and the operation ends then.
    let first = &engine.records()[0];
    assert_eq!(first.attempts, 3, "{first:?}");
    assert_eq!(first.status, OpStatus::Info);
    assert!(engine.counts().ok > 50, "{}", engine.counts());
    let lines = engine.summary(&sim_core::RunInfo {
        phases: sim_core::Phases {
            quiet_start: None,
            end: sim.now(),
        },
        fault_windows: Vec::new(),
    });
    let breaker = lines
        .iter()
        .find(|(n, _)| n == "circuit breaker")
        .expect("a breaker line");
    assert!(breaker.1.contains("requests refused"), "{lines:?}");
    assert_well_formed(engine);
}

fn open_loop(
    arrival: Arrival,
    rate: f64,
    max_outstanding: usize,
    max_queued: usize,
) -> EngineParams {
    EngineParams {
        clients: 2,
        open_loop: Some(OpenLoop {
            rate,
            arrival,
            max_outstanding,
            max_queued,
        }),
        ..EngineParams::default()
    }
}

/// Fixed-rate arrivals: 100/s per client for two seconds is 200 per client, give or take the
/// first one's phase.
#[test]
fn open_loop_fixed_rate_gives_the_expected_count() {
    let params = open_loop(Arrival::Fixed, 100.0, 4, 0);
    let sim = run(
        params,
        Script::all(1, Behaviour::Serve(SimDuration::ZERO)),
        1,
        6,
        at_ms(2000),
    );
    let engine = engine(&sim);
    let counters = engine.counters();
    assert!((398..=400).contains(&counters.arrivals), "{counters:?}");
    assert_eq!(counters.arrivals_refused, 0);
    assert_eq!(engine.records().len() as u64, counters.arrivals);
    for client in 0..2 {
        let times: Vec<SimTime> = engine
            .records()
            .iter()
            .filter(|r| r.client == client)
            .map(|r| r.invoked_at)
            .collect();
        assert!(
            times
                .windows(2)
                .all(|w| w[1].saturating_since(w[0]) == ms(10)),
            "{times:?}"
        );
    }
}

/// Poisson arrivals: the same seed gives the same arrivals, another seed others, and the count
/// is near the rate.
#[test]
fn open_loop_poisson_arrivals_are_seeded() {
    let arrivals = |seed| {
        let params = open_loop(Arrival::Poisson, 50.0, 4, 0);
        let sim = run(
            params,
            Script::all(1, Behaviour::Serve(SimDuration::ZERO)),
            1,
            seed,
            at_ms(4000),
        );
        let engine = engine(&sim);
        let times: Vec<SimTime> = engine.records().iter().map(|r| r.invoked_at).collect();
        (times, sim.trace_hash())
    };
    let (first, hash) = arrivals(9);
    assert_eq!((first.clone(), hash), arrivals(9));
    assert_ne!(first, arrivals(10).0);
    // 2 clients at 50/s for 4s: 400 expected; a Poisson count's deviation is 20.
    assert!((300..=500).contains(&first.len()), "{}", first.len());
}

/// A slow service under open-loop load: arrivals beyond the outstanding bound queue, then are
/// refused, and queueing shows in the latency.
#[test]
fn open_loop_overload_queues_then_refuses() {
    let params = open_loop(Arrival::Fixed, 100.0, 2, 5);
    let sim = run(
        params,
        Script::all(1, Behaviour::Serve(ms(100))),
        1,
        7,
        at_ms(2000),
    );
    let engine = engine(&sim);
    let counters = engine.counters();
    assert!(counters.arrivals_queued > 0, "{counters:?}");
    assert!(
        counters.arrivals_refused > counters.arrivals / 2,
        "{counters:?}"
    );
    assert!(engine.outstanding().iter().all(|&n| n <= 2));
    assert!(engine
        .records()
        .iter()
        .any(|r| r.queued > SimDuration::ZERO));
    assert_well_formed(engine);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the load and the service, no client ever has more operations outstanding than
    /// its bound (nor more queued), and at the end every invoked operation has completed or
    /// is pending, which the history reads as info; the history stays well formed.
    #[test]
    fn outstanding_stays_bounded_and_every_op_ends(
        seed in 0u64..1000,
        poisson in any::<bool>(),
        rate in 5.0f64..400.0,
        max_outstanding in 1usize..5,
        max_queued in 0usize..4,
        serve_ms in 0u64..60,
        silent_from_ms in 0u64..1500,
        breaker in any::<bool>(),
        node_count in 1usize..4,
    ) {
        let arrival = if poisson { Arrival::Poisson } else { Arrival::Fixed };
        let params = EngineParams {
            request_timeout: ms(40),
            op_timeout: ms(150),
            breaker: breaker.then_some(BreakerParams { failures: 2, cool_down: ms(100) }),
            ..open_loop(arrival, rate, max_outstanding, max_queued)
        };
        let mut script = Script::all(node_count as u32, Behaviour::Serve(ms(serve_ms)));
        script = script.set(0, at_ms(silent_from_ms), Behaviour::Silent);
        let mut worst = 0;
        let sim = run_observed(params, script, node_count, seed, at_ms(1500), |sim| {
            let engine = engine(sim);
            worst = worst.max(engine.outstanding().into_iter().max().unwrap_or(0));
            assert!(engine.queued().iter().all(|&q| q <= max_queued));
        });
        prop_assert!(worst <= max_outstanding);
        let engine = engine(&sim);
        let pending = engine.records().iter().filter(|r| r.status == OpStatus::Pending).count();
        prop_assert_eq!(pending, engine.outstanding().iter().sum::<usize>());
        for record in engine.records() {
            prop_assert_eq!(record.completed_at.is_none(), record.status == OpStatus::Pending);
        }
        assert_well_formed(engine);
    }
}

/// Closed loop keeps at most one operation per client, and its wake-ups stay few.
#[test]
fn closed_loop_keeps_one_operation_and_few_wake_ups_per_client() {
    let script = Script::all(3, Behaviour::Redirect(Some(NodeId(0))))
        .set(0, SimTime::ZERO, Behaviour::Serve(ms(2)))
        .set(0, at_ms(500), Behaviour::Silent)
        .set(0, at_ms(1500), Behaviour::Unavailable)
        .set(0, at_ms(2000), Behaviour::Serve(ms(2)));
    let params = EngineParams {
        clients: 4,
        request_timeout: ms(30),
        op_timeout: ms(100),
        ..EngineParams::default()
    };
    let mut armed_max = 0;
    let sim = run_observed(params, script, 3, 8, at_ms(3000), |sim| {
        let engine = engine(sim);
        assert!(engine.outstanding().iter().all(|&n| n <= 1));
        for armed in engine.armed() {
            armed_max = armed_max.max(armed.len());
            assert!(armed.windows(2).all(|w| w[0] > w[1]), "{armed:?}");
        }
    });
    assert!(
        armed_max <= 3,
        "{armed_max} wake-ups pending for one client"
    );
    let engine = engine(&sim);
    assert!(engine.counts().ok > 100, "{}", engine.counts());
    assert!(engine.counts().info > 4, "{}", engine.counts());
    assert_well_formed(engine);
}
