//! Writing your own protocol against `sim-core`: a counter replicated by gossip, run on a
//! simulated 3-node cluster with a lossy network and a crash, with a check that the counter
//! never goes backwards on any node, including across the crash (it is kept in durable storage).
//!
//! Run it with `cargo run -p sim-core --example custom_protocol`.

use sim_core::{
    Check, CheckKind, CheckReport, Ctx, Event, Latency, NetworkConfig, NodeId, Observation, Phases,
    Process, SimConfig, SimDuration, SimTime, Simulation, Step, Trace, Violation,
};

/// Each node bumps its counter on a timer, persists it, and gossips the largest value it knows.
struct Gossip {
    value: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
enum Timer {
    Tick,
}

#[derive(Clone, Debug, serde::Serialize)]
enum Report {
    Value(u64),
}

impl Event for Report {
    fn name(&self) -> &'static str {
        "value"
    }
}

impl Process for Gossip {
    type Msg = u64;
    type Timer = Timer;
    type Request = ();
    type Response = ();
    type Durable = u64;
    type Event = Report;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        // After a restart, the value comes back from durable storage alone.
        self.value = ctx.storage().get("value").copied().unwrap_or(0);
        let jitter = SimDuration::from_millis(rand::Rng::gen_range(ctx.rng(), 0..50));
        ctx.set_timer(SimDuration::from_millis(100) + jitter, Timer::Tick);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, value: u64) {
        if value > self.value {
            self.adopt(ctx, value);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, Timer::Tick: Timer) {
        let next = self.value + 1;
        self.adopt(ctx, next);
        ctx.broadcast(self.value);
        ctx.set_timer(SimDuration::from_millis(100), Timer::Tick);
    }
}

impl Gossip {
    fn adopt(&mut self, ctx: &mut Ctx<'_, Self>, value: u64) {
        self.value = value;
        ctx.storage().put("value", value);
        // Durable before anyone is told: a crash right after cannot lose it.
        ctx.storage().sync();
        ctx.report(Report::Value(value));
    }
}

/// Always: no node's reported value ever decreases.
#[derive(Default)]
struct Monotonic {
    last: Vec<u64>,
    reports: u64,
}

impl Check<Gossip> for Monotonic {
    fn name(&self) -> &str {
        "gossip.monotonic"
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<Gossip>,
        observation: &Observation<'_, Gossip>,
    ) -> Option<Violation> {
        let Observation::Handled { node, events } = observation else {
            return None;
        };
        self.last.resize(sim.node_count(), 0);
        for Report::Value(v) in events.iter() {
            self.reports += 1;
            let before = self.last[node.index()];
            if *v < before {
                return Some(Violation {
                    time: sim.now(),
                    message: format!("{node} went from {before} back to {v}"),
                });
            }
            self.last[node.index()] = *v;
        }
        None
    }
    fn finish(&mut self, _sim: &Simulation<Gossip>, _phases: &Phases) -> CheckReport {
        CheckReport {
            name: self.name().to_string(),
            kind: self.kind(),
            violation: None,
            figures: vec![("reports".into(), self.reports.to_string())],
        }
    }
}

fn main() {
    let mut config = SimConfig::new(42, 3);
    config.network = NetworkConfig {
        latency: Latency::Uniform {
            min: SimDuration::from_millis(1),
            max: SimDuration::from_millis(20),
        },
        drop_probability: 0.1,
        duplicate_probability: 0.05,
    };
    let mut sim = Simulation::new(
        config,
        Box::new(|_node| Gossip { value: 0 }),
        Trace::new(None),
    );
    let mut check = Monotonic::default();
    sim.start();
    let crash_at = SimTime(2_000_000_000);
    let restart_at = SimTime(3_000_000_000);
    let end = SimTime(5_000_000_000);
    let (mut crashed, mut restarted) = (false, false);
    while let Some(t) = sim.peek_time() {
        if t > end {
            break;
        }
        if !crashed && t >= crash_at {
            sim.crash(NodeId(1));
            crashed = true;
        }
        if !restarted && t >= restart_at {
            sim.restart(NodeId(1));
            restarted = true;
        }
        let Some(step) = sim.step() else { break };
        if let Step::Handled { node } = step {
            let observation = Observation::Handled {
                node,
                events: sim.reports(),
            };
            if let Some(v) = check.observe(&sim, &observation) {
                println!("gossip.monotonic violated at t={}: {}", v.time, v.message);
                std::process::exit(1);
            }
        }
    }
    let report = check.finish(
        &sim,
        &Phases {
            quiet_start: None,
            end,
        },
    );
    let values: Vec<u64> = sim
        .node_ids()
        .filter_map(|n| sim.process(n).map(|p| p.value))
        .collect();
    println!(
        "values {values:?}, {:?}, trace hash {:016x}",
        report.figures,
        sim.trace_hash()
    );
}
