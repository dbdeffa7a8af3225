//! `sim bench core`: how fast the core processes events, against a bare binary-heap loop.
//!
//! The workload is many nodes each sending a heartbeat to every other node on a timer: the
//! core's hot path (pop, deliver, handler, timer, send, push) with almost no protocol work. The
//! bare loop pops and pushes the same number of events on a `BinaryHeap` of the same size, the
//! floor any discrete-event simulator must pay. This module reads the wall clock, which is its
//! purpose.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sim_core::{
    ClusterInfo, Ctx, Latency, NetworkConfig, NodeId, Process, SimConfig, SimDuration, SimTime,
    Simulation, Step, Suite, SuiteError, Trace, Workload,
};

/// A node that broadcasts a heartbeat every `interval` and counts what it hears.
#[derive(Debug, Clone)]
pub struct Beat {
    interval: SimDuration,
    heard: u64,
}

impl Beat {
    pub fn new(interval: SimDuration) -> Self {
        Beat { interval, heard: 0 }
    }
}

impl Process for Beat {
    type Msg = u64;
    type Timer = ();
    type Request = ();
    type Response = ();
    type Durable = ();
    type Event = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.set_timer(self.interval, ());
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Self>, _from: NodeId, _msg: u64) {
        self.heard += 1;
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _timer: ()) {
        let now = ctx.local_time().as_nanos();
        ctx.broadcast(now);
        ctx.set_timer(self.interval, ());
    }
}

/// The heartbeat workload as a suite, so the benchmark can also run through the runner.
pub struct BeatSuite {
    interval: SimDuration,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeatParams {
    pub interval: SimDuration,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

impl Suite for BeatSuite {
    type P = Beat;
    type Params = BeatParams;
    type WorkloadParams = Nothing;
    type CheckParams = Nothing;
    const NAME: &'static str = "beat";

    fn declaration() -> sim_core::Declaration {
        sim_core::Declaration::default()
    }

    fn new(
        _: &ClusterInfo,
        params: BeatParams,
        _: Nothing,
        _: Nothing,
    ) -> Result<Self, SuiteError> {
        if params.interval == SimDuration::ZERO {
            return Err(SuiteError::new(
                "protocol.interval",
                "expected a positive interval",
            ));
        }
        Ok(BeatSuite {
            interval: params.interval,
        })
    }
    fn process(&self, _node: NodeId) -> Beat {
        Beat::new(self.interval)
    }
    fn workload(&self) -> Option<Box<dyn Workload<Beat>>> {
        None
    }
    fn checks(&self) -> Vec<Box<dyn sim_core::Check<Beat>>> {
        Vec::new()
    }
}

/// What one core benchmark measured.
#[derive(Debug, Clone)]
pub struct CoreBench {
    pub nodes: usize,
    pub simulated: SimDuration,
    pub events: u64,
    pub core_seconds: f64,
    pub bare_seconds: f64,
    pub peak_queue: usize,
    /// Resident memory in KiB at the end of each tenth of the run (Linux only; empty elsewhere).
    pub rss_kib: Vec<u64>,
}

impl CoreBench {
    pub fn core_events_per_second(&self) -> f64 {
        self.events as f64 / self.core_seconds.max(1e-9)
    }
    pub fn bare_events_per_second(&self) -> f64 {
        self.events as f64 / self.bare_seconds.max(1e-9)
    }

    pub fn render(&self) -> String {
        let rss = if self.rss_kib.is_empty() {
            "not measured on this platform".to_string()
        } else {
            self.rss_kib
                .iter()
                .map(|k| format!("{}", k / 1024))
                .collect::<Vec<_>>()
                .join(" ")
                + " MiB"
        };
        format!(
            "core bench: {} nodes heartbeating for {} of simulated time\n  events        {}\n  core          {:.3}s  {:.2} M events/s  ({:.0}x real time)\n  bare heap     {:.3}s  {:.2} M events/s\n  core / bare   {:.2}x slower\n  peak queue    {} events\n  resident      {} (at each tenth of the run)\n",
            self.nodes,
            self.simulated,
            self.events,
            self.core_seconds,
            self.core_events_per_second() / 1e6,
            self.simulated.as_secs_f64() / self.core_seconds.max(1e-9),
            self.bare_seconds,
            self.bare_events_per_second() / 1e6,
            self.bare_events_per_second() / self.core_events_per_second(),
            self.peak_queue,
            rss,
        )
    }
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time
fn wall_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// Runs `nodes` heartbeating nodes for `simulated` time, then the bare loop over as many events.
pub fn core(nodes: usize, simulated: SimDuration, seed: u64) -> CoreBench {
    let interval = SimDuration::from_millis(100);
    let mut config = SimConfig::new(seed, nodes);
    config.network = NetworkConfig {
        latency: Latency::Uniform {
            min: SimDuration::from_micros(500),
            max: SimDuration::from_millis(5),
        },
        drop_probability: 0.0,
        duplicate_probability: 0.0,
    };
    let mut sim = Simulation::new(
        config,
        Box::new(move |_| Beat::new(interval)),
        Trace::new(None),
    );
    let end = SimTime::ZERO + simulated;
    let tenth = SimDuration(simulated.as_nanos() / 10).max(SimDuration(1));
    let mut next_sample = SimTime::ZERO + tenth;
    let mut rss_kib = Vec::new();
    let started = wall_now();
    sim.start();
    while let Some(t) = sim.peek_time() {
        if t > end {
            break;
        }
        if t >= next_sample {
            if let Some(kib) = resident_kib() {
                rss_kib.push(kib);
            }
            next_sample = next_sample.saturating_add(tenth);
        }
        if matches!(sim.step(), None | Some(Step::External(_))) {
            break;
        }
    }
    let core_seconds = started.elapsed().as_secs_f64();
    let events = sim.stats().events;
    let peak_queue = nodes * nodes + nodes;
    let bare_seconds = bare_heap(events, peak_queue);
    CoreBench {
        nodes,
        simulated,
        events,
        core_seconds,
        bare_seconds,
        peak_queue,
        rss_kib,
    }
}

/// Pops and pushes `events` events on a heap holding about `size`: the floor of any event loop.
pub fn bare_heap(events: u64, size: usize) -> f64 {
    let mut heap: BinaryHeap<Reverse<(u64, u64, u64)>> = BinaryHeap::with_capacity(size);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seq in 0..size as u64 {
        heap.push(Reverse((next() % 5_000_000, seq, seq)));
    }
    let started = wall_now();
    let mut checksum = 0u64;
    for seq in 0..events {
        let Some(Reverse((time, _, payload))) = heap.pop() else {
            break;
        };
        checksum = checksum.wrapping_add(payload);
        heap.push(Reverse((
            time + 500_000 + next() % 4_500_000,
            size as u64 + seq,
            payload,
        )));
    }
    let seconds = started.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    seconds
}

/// Resident memory of this process in KiB, from /proc (Linux).
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = status.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}
