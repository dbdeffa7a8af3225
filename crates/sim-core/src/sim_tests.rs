//! The core's fault and network semantics, each on a tiny probe protocol.

use crate::network::{Latency, NetworkConfig, Reachability};
use crate::process::{Ctx, Event, NodeId, Process, RequestId};
use crate::sim::{ClientCtx, Clock, NodeStatus, SimConfig, Simulation, Step, Workload};
use crate::time::{SimDuration, SimTime};
use crate::trace::{MemorySink, Trace, TraceEvent};
use serde::Serialize;

/// Records what it receives and when; sends on command.
#[derive(Debug, Default)]
struct Probe {
    received: Vec<(SimTime, NodeId, u32)>,
    fired: Vec<(SimTime, u32)>,
    local_times: Vec<SimTime>,
    boots: u32,
    restored: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
enum Report {
    Got(#[allow(dead_code)] u32),
}
impl Event for Report {
    fn name(&self) -> &'static str {
        "got"
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
enum Timer {
    Tag(u32),
}

#[derive(Clone, Debug, Serialize)]
enum Request {
    Send { to: NodeId, tag: u32 },
    Timer { after_ms: u64, tag: u32 },
    Cancel(u32),
    Store { value: u32, sync: bool },
}

impl Process for Probe {
    type Msg = u32;
    type Timer = Timer;
    type Request = Request;
    type Response = ();
    type Durable = u32;
    type Event = Report;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.boots += 1;
        self.restored = ctx.storage().get("value").copied();
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: u32) {
        self.local_times.push(ctx.local_time());
        self.received.push((ctx.local_time(), from, msg));
        ctx.report(Report::Got(msg));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, Timer::Tag(tag): Timer) {
        self.fired.push((ctx.local_time(), tag));
    }
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, _id: RequestId, request: Request) {
        match request {
            Request::Send { to, tag } => ctx.send(to, tag),
            Request::Timer { after_ms, tag } => {
                ctx.set_timer(SimDuration::from_millis(after_ms), Timer::Tag(tag))
            }
            Request::Cancel(tag) => ctx.cancel_timer(Timer::Tag(tag)),
            Request::Store { value, sync } => {
                ctx.storage().put("value", value);
                if sync {
                    ctx.storage().sync();
                }
            }
        }
    }
}

/// Delivers scripted requests to nodes at set times (client latency is zero in these tests).
struct Script(Vec<(SimDuration, NodeId, Request)>);
impl Workload<Probe> for Script {
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, Probe>) {
        for (i, (at, _, _)) in self.0.iter().enumerate() {
            ctx.wake_after(*at, i as u64);
        }
    }
    fn on_reply(&mut self, _: &mut ClientCtx<'_, Probe>, _: NodeId, _: RequestId, _: ()) {}
    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, Probe>, token: u64) {
        let (_, node, request) = self.0[token as usize].clone();
        ctx.submit(node, request);
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

const MS: u64 = 1_000_000;

fn n(i: u32) -> NodeId {
    NodeId(i)
}

fn sim(nodes: usize, latency_ms: u64, script: Vec<(u64, u32, Request)>) -> Simulation<Probe> {
    let mut config = SimConfig::new(1, nodes);
    config.network = NetworkConfig {
        latency: Latency::Fixed(SimDuration::from_millis(latency_ms)),
        ..NetworkConfig::default()
    };
    config.client_latency = Latency::Fixed(SimDuration::ZERO);
    let mut sim = Simulation::new(config, Box::new(|_| Probe::default()), Trace::new(None));
    let script = script
        .into_iter()
        .map(|(ms, node, r)| (SimDuration::from_millis(ms), n(node), r))
        .collect();
    sim.set_workload(Box::new(Script(script)));
    sim.start();
    sim
}

fn run_until(sim: &mut Simulation<Probe>, ms: u64) {
    while sim.peek_time().is_some_and(|t| t <= SimTime(ms * MS)) {
        sim.step();
    }
}

fn received(sim: &Simulation<Probe>, node: u32) -> Vec<(SimTime, NodeId, u32)> {
    sim.process(n(node))
        .map(|p| p.received.clone())
        .unwrap_or_default()
}

#[test]
fn a_message_across_a_one_way_partition_goes_one_way_only() {
    let mut s = sim(
        2,
        10,
        vec![
            (5, 0, Request::Send { to: n(1), tag: 1 }),
            (5, 1, Request::Send { to: n(0), tag: 2 }),
        ],
    );
    s.set_reachability(Reachability::isolate(2, n(0), true));
    run_until(&mut s, 100);
    assert!(received(&s, 1).is_empty(), "n1 heard the isolated n0");
    assert_eq!(
        received(&s, 0),
        vec![(SimTime(15 * MS), n(1), 2)],
        "n0 still hears n1"
    );
    assert_eq!(s.stats().messages_dropped_partition, 1);
}

#[test]
fn a_partition_that_starts_while_a_message_is_in_flight_loses_it() {
    let mut s = sim(2, 10, vec![(5, 0, Request::Send { to: n(1), tag: 1 })]);
    run_until(&mut s, 6);
    s.set_reachability(Reachability::isolate(2, n(1), false));
    run_until(&mut s, 100);
    assert!(received(&s, 1).is_empty());
}

#[test]
fn a_crash_loses_unsynced_writes_and_keeps_synced_ones() {
    let mut s = sim(
        1,
        1,
        vec![
            (
                1,
                0,
                Request::Store {
                    value: 7,
                    sync: true,
                },
            ),
            (
                2,
                0,
                Request::Store {
                    value: 8,
                    sync: false,
                },
            ),
        ],
    );
    run_until(&mut s, 10);
    assert_eq!(s.storage(n(0)).get("value"), Some(&8));
    s.crash(n(0));
    assert_eq!(s.status(n(0)), NodeStatus::Down);
    assert!(s.process(n(0)).is_none());
    s.restart(n(0));
    let p = s.process(n(0)).expect("restarted");
    assert_eq!(p.boots, 1, "the process is rebuilt, not resumed");
    assert_eq!(p.restored, Some(7), "on_start sees the synced value only");
}

#[test]
fn a_crash_loses_timers_and_messages_in_flight_to_the_node() {
    let mut s = sim(
        2,
        10,
        vec![
            (
                1,
                1,
                Request::Timer {
                    after_ms: 50,
                    tag: 9,
                },
            ),
            (5, 0, Request::Send { to: n(1), tag: 3 }),
        ],
    );
    run_until(&mut s, 8);
    s.crash(n(1));
    s.restart(n(1));
    run_until(&mut s, 200);
    let p = s.process(n(1)).unwrap();
    assert!(p.fired.is_empty(), "a timer survived the crash");
    assert!(
        p.received.is_empty(),
        "a message sent before the crash arrived after the restart"
    );
    assert_eq!(s.stats().messages_dropped_node_down, 1);
}

#[test]
fn a_pause_delays_and_does_not_drop() {
    let mut s = sim(
        2,
        10,
        vec![
            (5, 0, Request::Send { to: n(1), tag: 1 }),
            (
                6,
                1,
                Request::Timer {
                    after_ms: 20,
                    tag: 2,
                },
            ),
            (30, 0, Request::Send { to: n(1), tag: 3 }),
        ],
    );
    run_until(&mut s, 7);
    let resume = s.now() + SimDuration::from_millis(100);
    s.pause(n(1), SimDuration::from_millis(100));
    assert_eq!(s.status(n(1)), NodeStatus::Paused);
    run_until(&mut s, 300);
    let p = s.process(n(1)).unwrap();
    let tags: Vec<u32> = p.received.iter().map(|r| r.2).collect();
    assert_eq!(tags, vec![1, 3], "both messages arrive, in order");
    assert!(
        p.received.iter().all(|r| r.0 == resume),
        "nothing is seen before the pause ends: {:?}",
        p.received
    );
    assert_eq!(
        p.fired,
        vec![(resume, 2)],
        "the overdue timer fires at the resume"
    );
}

#[test]
fn clock_offset_and_drift_show_in_local_time_only() {
    let mut s = sim(
        2,
        10,
        vec![
            (100, 0, Request::Send { to: n(1), tag: 1 }),
            (
                100,
                1,
                Request::Timer {
                    after_ms: 100,
                    tag: 5,
                },
            ),
        ],
    );
    s.set_clock(
        n(1),
        Clock {
            offset_ns: -50 * MS as i64,
            drift_ppm: 100_000,
        },
    );
    run_until(&mut s, 1000);
    let p = s.process(n(1)).unwrap();
    // True arrival at 110ms; local = 110 - 50 + 11 = 71ms.
    assert_eq!(p.received[0].0, SimTime(71 * MS));
    // 100ms of local time at +10% drift take 90.909ms of true time: fires at true 190.909ms.
    let fired_true = SimTime(100 * MS + 90_909_090);
    let expected_local = Clock {
        offset_ns: -50 * MS as i64,
        drift_ppm: 100_000,
    }
    .local(fired_true);
    assert_eq!(p.fired, vec![(expected_local, 5)]);
}

#[test]
fn setting_an_equal_timer_replaces_it_and_cancel_cancels_it() {
    let mut s = sim(
        1,
        1,
        vec![
            (
                0,
                0,
                Request::Timer {
                    after_ms: 10,
                    tag: 1,
                },
            ),
            (
                5,
                0,
                Request::Timer {
                    after_ms: 10,
                    tag: 1,
                },
            ),
            (
                6,
                0,
                Request::Timer {
                    after_ms: 10,
                    tag: 2,
                },
            ),
            (7, 0, Request::Cancel(2)),
        ],
    );
    run_until(&mut s, 100);
    assert_eq!(s.process(n(0)).unwrap().fired, vec![(SimTime(15 * MS), 1)]);
}

#[test]
fn events_at_the_same_time_run_in_insertion_order() {
    let mut s = sim(
        3,
        10,
        vec![
            (5, 0, Request::Send { to: n(2), tag: 1 }),
            (5, 1, Request::Send { to: n(2), tag: 2 }),
            (5, 0, Request::Send { to: n(2), tag: 3 }),
        ],
    );
    run_until(&mut s, 100);
    let tags: Vec<u32> = received(&s, 2).iter().map(|r| r.2).collect();
    assert_eq!(tags, vec![1, 2, 3]);
}

#[test]
fn loss_and_duplication_follow_their_probabilities() {
    let script: Vec<(u64, u32, Request)> = (0..2000)
        .map(|i| {
            (
                i,
                0,
                Request::Send {
                    to: n(1),
                    tag: i as u32,
                },
            )
        })
        .collect();
    let mut s = sim(2, 1, script);
    let mut network = s.network().clone();
    network.drop_probability = 0.2;
    network.duplicate_probability = 0.1;
    s.set_network(network);
    run_until(&mut s, 5000);
    let stats = *s.stats();
    assert_eq!(stats.messages_sent, 2000);
    assert!(
        (300..500).contains(&stats.messages_dropped_loss),
        "{stats:?}"
    );
    assert!((100..220).contains(&stats.messages_duplicated), "{stats:?}");
    assert_eq!(
        received(&s, 1).len() as u64,
        stats.messages_sent - stats.messages_dropped_loss + stats.messages_duplicated
    );
}

#[test]
fn a_handler_panic_stops_the_run_and_names_the_node() {
    struct Boom;
    impl Process for Boom {
        type Msg = ();
        type Timer = ();
        type Request = ();
        type Response = ();
        type Durable = ();
        type Event = ();
        fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
            ctx.set_timer(SimDuration::from_millis(3), ());
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}
        fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {
            panic!("index out of range");
        }
    }
    let mut s = Simulation::new(SimConfig::new(1, 2), Box::new(|_| Boom), Trace::new(None));
    s.start();
    let mut steps = 0;
    while s.step().is_some() {
        steps += 1;
    }
    let p = s.panic().expect("the panic is reported");
    assert_eq!(p.time, SimTime(3 * MS));
    assert!(p.message.contains("index out of range"));
    assert_eq!(steps, 1, "the run stops right after the step that panicked");
}

#[test]
fn the_same_seed_gives_the_same_hash_and_another_seed_another() {
    let hash = |seed: u64| {
        let mut config = SimConfig::new(seed, 3);
        config.network.drop_probability = 0.1;
        let script: Vec<(SimDuration, NodeId, Request)> = (0..50)
            .map(|i| {
                (
                    SimDuration::from_millis(i),
                    n((i % 3) as u32),
                    Request::Send {
                        to: n(((i + 1) % 3) as u32),
                        tag: i as u32,
                    },
                )
            })
            .collect();
        let mut s = Simulation::new(config, Box::new(|_| Probe::default()), Trace::new(None));
        s.set_workload(Box::new(Script(script)));
        s.start();
        while s.step().is_some() {}
        s.trace_hash()
    };
    assert_eq!(hash(4), hash(4));
    assert_ne!(hash(4), hash(5));
}

#[test]
fn step_reports_what_ran() {
    let mut s = sim(2, 10, vec![(5, 0, Request::Send { to: n(1), tag: 4 })]);
    let mut handled_n1_with_report = false;
    while let Some(step) = s.step() {
        if step == (Step::Handled { node: n(1) }) && !s.reports().is_empty() {
            handled_n1_with_report = true;
        }
    }
    assert!(handled_n1_with_report);
}

/// Delays reach the core from scenario files and suite parameters (latencies, client timeouts);
/// one that reaches past the end of simulated time means "never", and must not overflow the clock.
#[test]
fn a_delay_past_the_end_of_time_never_arrives_and_does_not_overflow() {
    let mut config = SimConfig::new(1, 2);
    config.network = NetworkConfig {
        latency: Latency::Fixed(SimDuration::MAX),
        duplicate_probability: 1.0,
        ..NetworkConfig::default()
    };
    config.client_latency = Latency::Fixed(SimDuration::ZERO);
    let mut s = Simulation::new(config, Box::new(|_| Probe::default()), Trace::new(None));
    let script = vec![
        (
            SimDuration::from_millis(5),
            n(0),
            Request::Send { to: n(1), tag: 1 },
        ),
        (SimDuration::MAX, n(0), Request::Send { to: n(1), tag: 2 }),
    ];
    s.set_workload(Box::new(Script(script)));
    s.start();
    run_until(&mut s, 1_000);
    assert!(
        received(&s, 1).is_empty(),
        "a message delivered after forever"
    );
    assert_eq!(s.stats().messages_sent, 1);
    assert_eq!(s.peek_time(), Some(SimTime::MAX));
}

/// Node 0 sends node 1 one message whose `payload` is the only thing that differs between runs.
struct Courier {
    payload: u64,
}

#[derive(Clone, Debug, Serialize)]
struct Parcel {
    seq: u64,
    payload: u64,
}

impl Process for Courier {
    type Msg = Parcel;
    type Timer = ();
    type Request = ();
    type Response = ();
    type Durable = ();
    type Event = ();
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        if ctx.id() == NodeId(0) {
            let payload = self.payload;
            ctx.send(NodeId(1), Parcel { seq: 1, payload });
        }
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: Parcel) {}
    fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {}
}

fn courier_hash(payload: u64, trace: Trace<Courier>) -> u64 {
    let config = SimConfig::new(3, 2);
    let mut sim = Simulation::new(config, Box::new(move |_| Courier { payload }), trace);
    sim.start();
    while sim.step().is_some() {}
    assert_eq!(sim.stats().messages_delivered, 1);
    sim.trace_hash()
}

#[test]
fn runs_that_differ_in_one_field_of_one_message_hash_apart() {
    assert_eq!(
        courier_hash(7, Trace::new(None)),
        courier_hash(7, Trace::new(None))
    );
    assert_ne!(
        courier_hash(7, Trace::new(None)),
        courier_hash(8, Trace::new(None))
    );
}

#[test]
fn the_in_memory_sink_keeps_the_messages_themselves() {
    let sink = MemorySink::new();
    let hash = courier_hash(9, Trace::with_sink(Box::new(sink.clone())));
    assert_eq!(hash, courier_hash(9, Trace::new(None)));
    let records = sink.records();
    let sent: Vec<&Parcel> = records
        .iter()
        .filter_map(|r| match r.event.as_event() {
            TraceEvent::Send { msg, .. } => Some(msg),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].payload, 9);
    let kinds: Vec<&str> = records.iter().map(|r| r.event.as_event().kind()).collect();
    assert_eq!(kinds, ["send", "deliver"]);
}
