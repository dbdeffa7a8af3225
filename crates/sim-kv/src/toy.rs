//! Toy key-value stores for the workload's tests, and a driver that runs one under the simulator.
//!
//! [`ToyStore`] keeps the whole map on node 0 and applies each request the moment it arrives,
//! with sessions (a retried `(client, seq)` gets the first answer again), so by itself it is
//! linearizable. [`Faults`] make it misbehave in the ways a replicated store does: other nodes
//! redirect to node 0 and sometimes node 0 redirects or answers `Unavailable`, answers get lost, or (a bug on purpose) reads return
//! the previous value of a key.

use std::collections::BTreeMap;

use sim_core::rng;
use sim_core::{
    Check, Ctx, NodeId, Phases, Process, RequestId, SimConfig, SimDuration, SimTime, Simulation,
    Trace,
};

use crate::types::{KvOp, KvRequest, KvResponse};
use crate::{KvWorkload, WorkloadParams};

/// How a toy store misbehaves; all zero is a correct store.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Node 0 answers `Unavailable` or redirects to another node, without applying.
    pub not_leader: f64,
    /// Node 0 applies the request but the answer is lost.
    pub drop_after_apply: f64,
    /// Node 0 loses the request without applying it.
    pub drop_before_apply: f64,
    /// A read returns the key's previous value: not linearizable.
    pub stale_read: f64,
    /// Node 0 answers nothing at all from this time on.
    pub silent_after: Option<SimTime>,
}

/// A store whose data lives on node 0; see the module docs.
#[derive(Debug, Default)]
pub struct ToyStore {
    faults: Faults,
    /// Per key: the current value and the one before it.
    data: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Per session: the latest sequence number applied and its answer.
    sessions: BTreeMap<u64, (u64, KvResponse)>,
}

impl ToyStore {
    pub fn new(faults: Faults) -> Self {
        ToyStore {
            faults,
            ..ToyStore::default()
        }
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, Self>, op: KvOp) -> KvResponse {
        let stale = rng::chance(ctx.rng(), self.faults.stale_read);
        let entry = self.data.entry(op.key().to_string()).or_default();
        let set = |entry: &mut (Option<String>, Option<String>), value: String| {
            entry.1 = entry.0.replace(value);
        };
        match op {
            KvOp::Get { .. } if stale => KvResponse::Value(entry.1.clone()),
            KvOp::Get { .. } => KvResponse::Value(entry.0.clone()),
            KvOp::Put { value, .. } => {
                set(entry, value);
                KvResponse::Done
            }
            KvOp::Cas { expected, new, .. } => {
                if entry.0 == expected {
                    set(entry, new);
                    KvResponse::Done
                } else {
                    KvResponse::CasFailed {
                        current: entry.0.clone(),
                    }
                }
            }
            KvOp::Append { value, .. } => {
                let appended = format!("{}{value}", entry.0.clone().unwrap_or_default());
                set(entry, appended);
                KvResponse::Done
            }
        }
    }
}

impl Process for ToyStore {
    type Msg = ();
    type Timer = ();
    type Request = KvRequest;
    type Response = KvResponse;
    type Durable = ();
    type Event = ();

    fn on_start(&mut self, _: &mut Ctx<'_, Self>) {}
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}
    fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {}

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, request: KvRequest) {
        if ctx.id() != NodeId(0) {
            ctx.reply(id, KvResponse::Redirect { to: NodeId(0) });
            return;
        }
        if self
            .faults
            .silent_after
            .is_some_and(|t| ctx.local_time() >= t)
        {
            return;
        }
        // Every draw happens on every request, so one fault's rate does not shift the others.
        let not_leader = rng::chance(ctx.rng(), self.faults.not_leader);
        let node_count = ctx.node_count() as u64;
        let hint = rng::between(ctx.rng(), 0, node_count);
        let drop_before = rng::chance(ctx.rng(), self.faults.drop_before_apply);
        let drop_after = rng::chance(ctx.rng(), self.faults.drop_after_apply);
        if not_leader {
            let response = if hint < node_count {
                KvResponse::Redirect {
                    to: NodeId(hint as u32),
                }
            } else {
                KvResponse::Unavailable
            };
            ctx.reply(id, response);
            return;
        }
        if drop_before {
            return;
        }
        let response = match self.sessions.get(&request.client) {
            Some((seq, response)) if *seq == request.seq => response.clone(),
            // An older operation of a session that has moved on: the client no longer waits.
            Some((seq, _)) if *seq > request.seq => return,
            _ => {
                let response = self.apply(ctx, request.op);
                self.sessions
                    .insert(request.client, (request.seq, response.clone()));
                response
            }
        };
        if !drop_after {
            ctx.reply(id, response);
        }
    }
}

/// Runs `params` against a toy store on `node_count` nodes for `duration` of simulated time.
pub fn run(
    params: WorkloadParams,
    faults: Faults,
    node_count: usize,
    seed: u64,
    duration: SimDuration,
) -> Simulation<ToyStore> {
    run_observed(params, faults, node_count, seed, duration, |_| {})
}

/// [`run`], calling `observe` after every step.
pub fn run_observed(
    params: WorkloadParams,
    faults: Faults,
    node_count: usize,
    seed: u64,
    duration: SimDuration,
    observe: impl FnMut(&Simulation<ToyStore>),
) -> Simulation<ToyStore> {
    let workload = KvWorkload::new(params, node_count);
    run_workload(workload, faults, node_count, seed, duration, observe)
}

/// [`run_observed`] with a workload built by the caller (a state budget of its own, say).
pub fn run_workload(
    mut workload: KvWorkload,
    faults: Faults,
    node_count: usize,
    seed: u64,
    duration: SimDuration,
    mut observe: impl FnMut(&Simulation<ToyStore>),
) -> Simulation<ToyStore> {
    let config = SimConfig::new(seed, node_count);
    let mut sim = Simulation::new(
        config,
        Box::new(move |_| ToyStore::new(faults)),
        Trace::new(None),
    );
    // The tests compare the whole history with what was checked as it was recorded.
    workload.keep_whole_history();
    sim.set_workload(Box::new(workload));
    sim.start();
    let end = SimTime::ZERO + duration;
    while sim.peek_time().is_some_and(|t| t <= end) {
        if sim.step().is_none() {
            break;
        }
        observe(&sim);
    }
    sim
}

/// What the runner tells a workload as a run goes (see `sim_core::Workload`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// Some fault is in force from then on, or none is.
    FaultsInForce(bool),
    /// The quiet phase starts.
    QuietPhase,
}

/// [`run`], telling the workload each of `notes` (in time order) before the events of its time.
pub fn run_noted(
    params: WorkloadParams,
    faults: Faults,
    seed: u64,
    duration: SimDuration,
    notes: &[(SimTime, Note)],
) -> Simulation<ToyStore> {
    let mut workload = KvWorkload::new(params, 1);
    workload.keep_whole_history();
    let config = SimConfig::new(seed, 1);
    let mut sim = Simulation::new(
        config,
        Box::new(move |_| ToyStore::new(faults)),
        Trace::new(None),
    );
    sim.set_workload(Box::new(workload));
    sim.start();
    let end = SimTime::ZERO + duration;
    let mut notes = notes.iter().peekable();
    loop {
        let next = sim.peek_time().filter(|&t| t <= end);
        while let Some(&&(at, note)) = notes.peek() {
            if next.is_some_and(|t| t < at) {
                break;
            }
            let workload = sim.workload_mut().expect("the toy run has a workload");
            match note {
                Note::FaultsInForce(in_force) => workload.faults_in_force(at, in_force),
                Note::QuietPhase => workload.quiet_phase(at),
            }
            notes.next();
        }
        if next.is_none() || sim.step().is_none() {
            break;
        }
    }
    sim
}

/// Runs `check` over a finished simulation, as the runner does at the end.
pub fn finish(
    check: &mut dyn Check<ToyStore>,
    sim: &Simulation<ToyStore>,
    quiet_start: Option<SimTime>,
) -> sim_core::CheckReport {
    check.finish(
        sim,
        &Phases {
            quiet_start,
            end: sim.now(),
        },
    )
}
