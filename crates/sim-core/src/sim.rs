//! The simulation loop: one virtual clock, one event queue, one seeded generator per purpose.
//!
//! [`Simulation`] owns the nodes (their processes, storage, timers, clocks and random streams),
//! the network and the client workload. Each call to [`Simulation::step`] pops the next event in
//! `(time, insertion sequence)` order, runs at most one handler, applies the handler's outputs
//! back into the queue, and says what happened. Faults are methods called by whoever drives the
//! loop (the runner, or a test): [`Simulation::crash`], [`Simulation::restart`],
//! [`Simulation::pause`], [`Simulation::set_reachability`], [`Simulation::set_clock`] and
//! [`Simulation::set_network`].

use std::any::Any;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::panic::{self, AssertUnwindSafe};

use crate::network::{Latency, NetworkConfig, Reachability};
use crate::process::{Ctx, Outputs, Process, RequestId, TimerOp};
use crate::rng::{self, SimRng, Streams};
use crate::storage::Storage;
use crate::time::{SimDuration, SimTime};
use crate::trace::{DropReason, Trace, TraceEvent};
use crate::NodeId;

/// Node indices fit the trace's numeric fields and `NodeId`.
pub const NODES_MAX: usize = 1024;
const _: () = assert!(NODES_MAX <= u32::MAX as usize);

/// What a simulation is built from.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub node_count: usize,
    pub network: NetworkConfig,
    /// Latency between a client and a node, each way. A client submitting with
    /// [`ClientCtx::submit_as`] lives beside its home node and shares its side of every
    /// partition; one using [`ClientCtx::submit`] is outside every fault.
    pub client_latency: Latency,
    /// A run stops when it has processed this many events (reported, never a silent hang).
    pub max_events: u64,
}

impl SimConfig {
    pub fn new(seed: u64, node_count: usize) -> Self {
        SimConfig {
            seed,
            node_count,
            network: NetworkConfig::default(),
            client_latency: Latency::Fixed(SimDuration::from_millis(1)),
            max_events: 500_000_000,
        }
    }
}

/// A node's clock: local time = true time + offset + true time × drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clock {
    pub offset_ns: i64,
    /// Parts per million; +1000 runs 0.1% fast. Kept within ±500000 by the scenario checks.
    pub drift_ppm: i64,
}

impl Clock {
    pub fn local(&self, now: SimTime) -> SimTime {
        let t = now.0 as i128;
        let local = t + self.offset_ns as i128 + t * self.drift_ppm as i128 / 1_000_000;
        SimTime(local.clamp(0, u64::MAX as i128) as u64)
    }

    /// The true time that passes while this clock advances by `local`.
    pub fn true_duration(&self, local: SimDuration) -> SimDuration {
        let rate = (1_000_000 + self.drift_ppm).max(1) as u128;
        SimDuration((local.0 as u128 * 1_000_000 / rate).min(u64::MAX as u128) as u64)
    }
}

/// A node's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    Up,
    /// Up, but processing nothing until it resumes.
    Paused,
    /// Crashed: no process, only its synced storage.
    Down,
}

/// Counters a run reports in its summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped_loss: u64,
    pub messages_dropped_partition: u64,
    pub messages_dropped_node_down: u64,
    pub messages_duplicated: u64,
    pub timers_fired: u64,
    pub requests: u64,
    pub replies: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub pauses: u64,
}

impl Stats {
    pub fn messages_dropped(&self) -> u64 {
        self.messages_dropped_loss
            + self.messages_dropped_partition
            + self.messages_dropped_node_down
    }
}

/// What one call of [`Simulation::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A handler ran on `node`; what it reported is in [`Simulation::reports`].
    Handled { node: NodeId },
    /// A reply reached the client workload.
    Replied { node: NodeId, id: RequestId },
    /// The workload woke up (a think time or a client timeout).
    ClientWoke,
    /// The driver's own wake-up, scheduled with [`Simulation::schedule_external`].
    External(u64),
    /// A paused node resumed.
    Resumed { node: NodeId },
    /// Nothing anyone must react to: a lost message, a stale timer, a deferred event.
    Quiet,
}

/// A protocol handler (or the client workload) panicked: a finding, reported with its time and
/// node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerPanic {
    /// The node whose handler panicked; `None` for the client workload.
    pub node: Option<NodeId>,
    pub time: SimTime,
    pub message: String,
}

/// The client side of a run: closed-loop clients, a load generator, anything that submits
/// requests and reacts to replies. It is driven by the simulation like a process, from the
/// run's `workload` random stream.
pub trait Workload<P: Process>: Any {
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, P>);
    fn on_reply(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        node: NodeId,
        id: RequestId,
        response: P::Response,
    );
    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, P>, token: u64);
    /// For checks and reports that need the concrete workload (its history, say).
    fn as_any(&self) -> &dyn Any;
    /// How many clients submit with [`ClientCtx::submit_as`] (numbered from 0), when known: a
    /// scenario's faults aimed at a client are checked against it.
    fn client_count(&self) -> Option<usize> {
        None
    }
    /// Keep the whole client history for an output that asks for it (`--history`, `--report`).
    /// Without it a workload may check its history as it goes and forget what it checked, so
    /// that memory does not grow with simulated time. The default keeps nothing extra.
    fn keep_history(&mut self) {}
    /// Write the client history to `out` as it is recorded (`--history FILE`), so that it is
    /// never held whole; `Err(out)` gives the writer back from a workload that does not stream
    /// (the runner then writes what [`Suite::history`](crate::Suite::history) returns).
    fn stream_history(
        &mut self,
        out: Box<dyn std::io::Write>,
    ) -> Result<(), Box<dyn std::io::Write>> {
        Err(out)
    }
    /// Ends the streamed history (the run is over): the first error writing it, if any.
    fn end_history(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Some fault is in force from `now` on (`in_force`), or none is any more: the runner says
    /// so each time that changes, so that a workload can count what was invoked inside the
    /// fault windows as it goes instead of keeping every operation for the end. The default
    /// ignores it.
    fn faults_in_force(&mut self, _now: SimTime, _in_force: bool) {}
    /// The quiet phase starts now: every fault is healed from here on, and liveness is judged
    /// on what follows. The default ignores it.
    fn quiet_phase(&mut self, _now: SimTime) {}
}

/// What a workload may do.
pub struct ClientCtx<'a, P: Process> {
    now: SimTime,
    node_count: usize,
    rng: &'a mut SimRng,
    next_request: &'a mut u64,
    submits: &'a mut Vec<Submit<P>>,
    wakes: &'a mut Vec<(Option<u32>, SimDuration, u64)>,
    reachability: &'a Reachability,
}

impl<'a, P: Process> ClientCtx<'a, P> {
    pub fn now(&self) -> SimTime {
        self.now
    }
    pub fn node_count(&self) -> usize {
        self.node_count
    }
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }
    /// Which nodes can reach which now, for a workload that records the side of a partition a
    /// client's operation ran on (read only: clients cannot change the network).
    pub fn reachability(&self) -> &Reachability {
        self.reachability
    }
    /// Sends `request` to `node` from a client outside every fault (never partitioned); its
    /// reply, if any, comes back through `Workload::on_reply`.
    pub fn submit(&mut self, node: NodeId, request: P::Request) -> RequestId {
        self.push_submit(None, node, request)
    }

    /// Sends `request` to `node` from client `client`, which lives on the side of the network of
    /// its home node, `n(client mod node_count + 1)` (as Jepsen binds each client to a node): a
    /// partition that cuts the home node from `node` loses the request or its reply.
    pub fn submit_as(&mut self, client: usize, node: NodeId, request: P::Request) -> RequestId {
        let client = u32::try_from(client).unwrap_or(u32::MAX);
        self.push_submit(Some(client), node, request)
    }

    fn push_submit(&mut self, client: Option<u32>, node: NodeId, request: P::Request) -> RequestId {
        assert!(
            node.index() < self.node_count,
            "a client submitted to {node}, outside the cluster"
        );
        let id = RequestId(*self.next_request);
        *self.next_request += 1;
        self.submits.push(Submit {
            client,
            node,
            id,
            request,
        });
        id
    }
    /// Calls `Workload::on_wake(token)` after `after`.
    pub fn wake_after(&mut self, after: SimDuration, token: u64) {
        self.wakes.push((None, after, token));
    }

    /// Calls `Workload::on_wake(token)` after `after`, as a timer of client `client`: while the
    /// client is paused it does not fire, and fires when the pause ends.
    pub fn wake_client_after(&mut self, client: usize, after: SimDuration, token: u64) {
        let client = u32::try_from(client).unwrap_or(u32::MAX);
        self.wakes.push((Some(client), after, token));
    }
}

/// A request a workload submitted, applied after its handler returns.
struct Submit<P: Process> {
    /// The client that sent it, for one attached to a node's side of the network.
    client: Option<u32>,
    node: NodeId,
    id: RequestId,
    request: P::Request,
}

enum EventKind<P: Process> {
    Deliver {
        from: NodeId,
        to: NodeId,
        incarnation: u32,
        msg_id: u64,
        msg: P::Msg,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        generation: u64,
        timer: P::Timer,
    },
    Request {
        node: NodeId,
        id: RequestId,
        request: P::Request,
        client: Option<u32>,
    },
    Reply {
        node: NodeId,
        id: RequestId,
        response: P::Response,
    },
    ClientWake {
        token: u64,
        client: Option<u32>,
    },
    External(u64),
    Resume {
        node: NodeId,
        pause: u64,
    },
}

/// A queue entry: the order key and the slot of its payload. Payloads (messages can be large)
/// stay put in [`Slots`] while the heap moves only these 24 bytes around.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    time: SimTime,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest `(time, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Event payloads by slot, with a free list so slots are reused.
struct Slots<P: Process> {
    payloads: Vec<Option<EventKind<P>>>,
    free: Vec<u32>,
}

impl<P: Process> Slots<P> {
    fn insert(&mut self, kind: EventKind<P>) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                debug_assert!(self.payloads[slot as usize].is_none());
                self.payloads[slot as usize] = Some(kind);
                slot
            }
            None => {
                let slot =
                    u32::try_from(self.payloads.len()).expect("more than 2^32 pending events");
                self.payloads.push(Some(kind));
                slot
            }
        }
    }

    fn take(&mut self, slot: u32) -> EventKind<P> {
        let kind = self.payloads[slot as usize]
            .take()
            .expect("every queued slot holds a payload");
        self.free.push(slot);
        kind
    }
}

struct Node<P: Process> {
    process: Option<P>,
    storage: Storage<P::Durable>,
    rng: SimRng,
    /// Bumped by every crash: timers and in-flight messages of an earlier incarnation are lost.
    incarnation: u32,
    /// Pending timers by value, with the generation of their latest setting.
    timers: BTreeMap<P::Timer, u64>,
    /// The pause in force, if any.
    pause: Option<u64>,
    /// Events that arrived during a pause, in arrival order.
    deferred: Vec<(SimTime, EventKind<P>)>,
    clock: Clock,
}

/// Builds a node's process on first boot and on every restart.
pub type Factory<P> = Box<dyn FnMut(NodeId) -> P>;

/// One deterministic run of protocol `P` on a simulated cluster.
pub struct Simulation<P: Process> {
    now: SimTime,
    seq: u64,
    queue: BinaryHeap<Entry>,
    slots: Slots<P>,
    nodes: Vec<Node<P>>,
    factory: Factory<P>,
    network: NetworkConfig,
    client_latency: Latency,
    reachability: Reachability,
    network_rng: SimRng,
    client_network_rng: SimRng,
    workload: Option<Box<dyn Workload<P>>>,
    workload_rng: SimRng,
    outputs: Outputs<P>,
    submits: Vec<Submit<P>>,
    /// The attached client of each request in flight (until its reply arrives or is lost).
    request_clients: BTreeMap<RequestId, u32>,
    /// Clients cut off from every node.
    cut_off_clients: BTreeSet<u32>,
    /// Paused clients and when each resumes: what they send leaves then, and what reaches them
    /// waits until then.
    paused_clients: BTreeMap<u32, SimTime>,
    wakes: Vec<(Option<u32>, SimDuration, u64)>,
    next_msg_id: u64,
    next_request: u64,
    next_generation: u64,
    next_pause: u64,
    max_events: u64,
    stats: Stats,
    trace: Trace<P>,
    panic: Option<HandlerPanic>,
    streams: Streams,
}

impl<P: Process> Simulation<P> {
    /// A cluster of `config.node_count` nodes, none started yet: call [`Simulation::start`].
    pub fn new(config: SimConfig, factory: Factory<P>, trace: Trace<P>) -> Self {
        assert!(config.node_count >= 1, "a cluster needs at least one node");
        assert!(config.node_count <= NODES_MAX, "at most {NODES_MAX} nodes");
        let streams = Streams::new(config.seed);
        let nodes = (0..config.node_count)
            .map(|i| Node {
                process: None,
                storage: Storage::new(),
                rng: streams.node(i),
                incarnation: 0,
                timers: BTreeMap::new(),
                pause: None,
                deferred: Vec::new(),
                clock: Clock::default(),
            })
            .collect();
        Simulation {
            now: SimTime::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: Slots {
                payloads: Vec::new(),
                free: Vec::new(),
            },
            nodes,
            factory,
            network: config.network,
            client_latency: config.client_latency,
            reachability: Reachability::full(config.node_count),
            network_rng: streams.stream("network"),
            client_network_rng: streams.stream("client-network"),
            workload: None,
            workload_rng: streams.stream("workload"),
            outputs: Outputs::default(),
            submits: Vec::new(),
            request_clients: BTreeMap::new(),
            cut_off_clients: BTreeSet::new(),
            paused_clients: BTreeMap::new(),
            wakes: Vec::new(),
            next_msg_id: 0,
            next_request: 0,
            next_generation: 0,
            next_pause: 0,
            max_events: config.max_events,
            stats: Stats::default(),
            trace,
            panic: None,
            streams,
        }
    }

    /// Attaches the client workload; it starts with the nodes.
    pub fn set_workload(&mut self, workload: Box<dyn Workload<P>>) {
        self.workload = Some(workload);
    }

    /// Boots every node and the workload at the current time.
    pub fn start(&mut self) {
        for i in 0..self.nodes.len() {
            self.boot(NodeId(i as u32));
        }
        if let Some(mut workload) = self.workload.take() {
            self.with_client(|w, ctx| w.on_start(ctx), &mut workload);
            self.workload = Some(workload);
        }
    }

    // ----- Reading the state (for checks, selectors and reports) -----

    pub fn now(&self) -> SimTime {
        self.now
    }
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.len() as u32).map(NodeId)
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }
    pub fn trace_mut(&mut self) -> &mut Trace<P> {
        &mut self.trace
    }
    pub fn streams(&self) -> Streams {
        self.streams
    }
    pub fn panic(&self) -> Option<&HandlerPanic> {
        self.panic.as_ref()
    }
    /// Whether the run hit its event limit.
    pub fn limit_reached(&self) -> bool {
        self.stats.events >= self.max_events
    }
    pub fn status(&self, node: NodeId) -> NodeStatus {
        let n = &self.nodes[node.index()];
        match (&n.process, n.pause) {
            (None, _) => NodeStatus::Down,
            (Some(_), Some(_)) => NodeStatus::Paused,
            (Some(_), None) => NodeStatus::Up,
        }
    }
    /// The node's process, `None` while it is down.
    pub fn process(&self, node: NodeId) -> Option<&P> {
        self.nodes[node.index()].process.as_ref()
    }
    pub fn storage(&self, node: NodeId) -> &Storage<P::Durable> {
        &self.nodes[node.index()].storage
    }
    pub fn clock(&self, node: NodeId) -> Clock {
        self.nodes[node.index()].clock
    }
    pub fn reachability(&self) -> &Reachability {
        &self.reachability
    }
    pub fn network(&self) -> &NetworkConfig {
        &self.network
    }
    /// The events reported by the handler of the latest step.
    pub fn reports(&self) -> &[P::Event] {
        &self.outputs.events
    }
    /// The nodes that are up and whose process says it holds `role`, in order.
    pub fn nodes_with_role(&self, role: &str) -> Vec<NodeId> {
        self.node_ids()
            .filter(|&n| self.process(n).is_some_and(|p| p.has_role(role)))
            .collect()
    }
    pub fn workload(&self) -> Option<&dyn Workload<P>> {
        self.workload.as_deref()
    }
    /// The client workload, to configure it before the run.
    pub fn workload_mut(&mut self) -> Option<&mut (dyn Workload<P> + 'static)> {
        self.workload.as_deref_mut()
    }
    /// The time of the next event, if any.
    /// How many events are pending (including stale timers not yet reached).
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }
    pub fn peek_time(&self) -> Option<SimTime> {
        self.queue.peek().map(|e| e.time)
    }

    // ----- Driving -----

    /// Schedules a wake-up for the driver: `step` returns `Step::External(token)` at `at`.
    pub fn schedule_external(&mut self, at: SimTime, token: u64) {
        assert!(
            at >= self.now,
            "scheduled at {at}, before now ({})",
            self.now
        );
        self.push(at, EventKind::External(token));
    }

    /// Processes the next event. `None` when the queue is empty, a handler panicked, or the event
    /// limit was reached.
    pub fn step(&mut self) -> Option<Step> {
        if self.panic.is_some() || self.limit_reached() {
            return None;
        }
        let entry = self.queue.pop()?;
        assert!(
            entry.time >= self.now,
            "time went backwards: {} after {}",
            entry.time,
            self.now
        );
        self.now = entry.time;
        self.stats.events += 1;
        self.outputs.clear();
        let step = match self.slots.take(entry.slot) {
            EventKind::Deliver {
                from,
                to,
                incarnation,
                msg_id,
                msg,
            } => self.deliver(from, to, incarnation, msg_id, msg),
            EventKind::Timer {
                node,
                incarnation,
                generation,
                timer,
            } => self.fire_timer(node, incarnation, generation, timer),
            EventKind::Request {
                node,
                id,
                request,
                client,
            } => self.arrive_request(node, id, request, client),
            EventKind::Reply { node, id, response } => self.arrive_reply(node, id, response),
            EventKind::ClientWake { token, client } => {
                let resumes = client.map_or(self.now, |c| self.client_resumes(c));
                if resumes > self.now {
                    // A paused client's timer fires when the pause ends.
                    self.push(resumes, EventKind::ClientWake { token, client });
                    return Some(Step::Quiet);
                }
                self.trace
                    .record(self.now, TraceEvent::ClientWake { token });
                if let Some(mut workload) = self.workload.take() {
                    self.with_client(|w, ctx| w.on_wake(ctx, token), &mut workload);
                    self.workload = Some(workload);
                }
                Step::ClientWoke
            }
            EventKind::External(token) => Step::External(token),
            EventKind::Resume { node, pause } => self.resume(node, pause),
        };
        Some(step)
    }

    fn deliver(
        &mut self,
        from: NodeId,
        to: NodeId,
        incarnation: u32,
        msg_id: u64,
        msg: P::Msg,
    ) -> Step {
        let target = &self.nodes[to.index()];
        if target.process.is_none() || target.incarnation != incarnation {
            self.drop_message(from, to, msg_id, DropReason::NodeDown);
            return Step::Quiet;
        }
        if !self.reachability.can_reach(from, to) {
            self.drop_message(from, to, msg_id, DropReason::Partition);
            return Step::Quiet;
        }
        if target.pause.is_some() {
            let now = self.now;
            self.nodes[to.index()].deferred.push((
                now,
                EventKind::Deliver {
                    from,
                    to,
                    incarnation,
                    msg_id,
                    msg,
                },
            ));
            return Step::Quiet;
        }
        self.stats.messages_delivered += 1;
        let event = TraceEvent::Deliver {
            from,
            to,
            id: msg_id,
            msg: &msg,
        };
        self.trace.record(self.now, event);
        self.run_handler(to, |p, ctx| p.on_message(ctx, from, msg));
        Step::Handled { node: to }
    }

    fn fire_timer(
        &mut self,
        node: NodeId,
        incarnation: u32,
        generation: u64,
        timer: P::Timer,
    ) -> Step {
        let n = &mut self.nodes[node.index()];
        if n.process.is_none()
            || n.incarnation != incarnation
            || n.timers.get(&timer) != Some(&generation)
        {
            return Step::Quiet;
        }
        if n.pause.is_some() {
            let now = self.now;
            n.deferred.push((
                now,
                EventKind::Timer {
                    node,
                    incarnation,
                    generation,
                    timer,
                },
            ));
            return Step::Quiet;
        }
        n.timers.remove(&timer);
        self.stats.timers_fired += 1;
        let event = TraceEvent::TimerFire {
            node,
            generation,
            timer: &timer,
        };
        self.trace.record(self.now, event);
        self.run_handler(node, |p, ctx| p.on_timer(ctx, timer));
        Step::Handled { node }
    }

    /// `node`'s reply to request `id` reaches its client, unless a partition cut them apart or
    /// the client is paused (it sees the reply when it resumes).
    fn arrive_reply(&mut self, node: NodeId, id: RequestId, response: P::Response) -> Step {
        if let Some(&client) = self.request_clients.get(&id) {
            let resumes = self.client_resumes(client);
            if resumes > self.now {
                self.push(resumes, EventKind::Reply { node, id, response });
                return Step::Quiet;
            }
        }
        let client = self.request_clients.remove(&id);
        if !self.client_reaches(client, node, id, true) {
            return Step::Quiet;
        }
        self.stats.replies += 1;
        self.trace.record(
            self.now,
            TraceEvent::Reply {
                node,
                id,
                response: &response,
            },
        );
        if let Some(mut workload) = self.workload.take() {
            self.with_client(|w, ctx| w.on_reply(ctx, node, id, response), &mut workload);
            self.workload = Some(workload);
        }
        Step::Replied { node, id }
    }

    fn arrive_request(
        &mut self,
        node: NodeId,
        id: RequestId,
        request: P::Request,
        client: Option<u32>,
    ) -> Step {
        if !self.client_reaches(client, node, id, false) {
            return Step::Quiet;
        }
        let n = &mut self.nodes[node.index()];
        if n.process.is_none() {
            self.request_clients.remove(&id);
            let event = TraceEvent::RequestDrop {
                node,
                id,
                request: &request,
            };
            self.trace.record(self.now, event);
            return Step::Quiet;
        }
        if n.pause.is_some() {
            let now = self.now;
            n.deferred.push((
                now,
                EventKind::Request {
                    node,
                    id,
                    request,
                    client,
                },
            ));
            return Step::Quiet;
        }
        self.stats.requests += 1;
        let event = TraceEvent::Request {
            node,
            id,
            request: &request,
        };
        self.trace.record(self.now, event);
        self.run_handler(node, |p, ctx| p.on_request(ctx, id, request));
        Step::Handled { node }
    }

    fn resume(&mut self, node: NodeId, pause: u64) -> Step {
        let n = &mut self.nodes[node.index()];
        if n.pause != Some(pause) {
            return Step::Quiet;
        }
        n.pause = None;
        let deferred = std::mem::take(&mut n.deferred);
        let event = TraceEvent::Resume {
            node,
            deferred: deferred.len() as u64,
        };
        self.trace.record(self.now, event);
        // What arrived during the pause is seen now, in arrival order.
        for (_, kind) in deferred {
            let now = self.now;
            self.push(now, kind);
        }
        Step::Resumed { node }
    }

    fn boot(&mut self, node: NodeId) {
        let process = (self.factory)(node);
        self.nodes[node.index()].process = Some(process);
        self.outputs.clear();
        self.run_handler(node, |p, ctx| p.on_start(ctx));
    }

    /// Runs one handler on `node` and applies what it asked for.
    fn run_handler(&mut self, node: NodeId, handler: impl FnOnce(&mut P, &mut Ctx<'_, P>)) {
        let node_count = self.nodes.len();
        let n = &mut self.nodes[node.index()];
        let local = n.clock.local(self.now);
        let Some(process) = n.process.as_mut() else {
            unreachable!("a handler was run on {node}, which is down");
        };
        let mut ctx = Ctx::new(
            node,
            node_count,
            local,
            &mut n.rng,
            &mut n.storage,
            &mut self.outputs,
        );
        let result = panic::catch_unwind(AssertUnwindSafe(|| handler(process, &mut ctx)));
        if let Err(payload) = result {
            let message = panic_message(payload.as_ref());
            let event = TraceEvent::Panic {
                node: Some(node),
                message: &message,
            };
            self.trace.record(self.now, event);
            self.panic = Some(HandlerPanic {
                node: Some(node),
                time: self.now,
                message,
            });
            return;
        }
        self.apply_outputs(node);
    }

    fn apply_outputs(&mut self, node: NodeId) {
        // Each buffer is taken and put back so its capacity is reused by the next handler.
        let mut timers = std::mem::take(&mut self.outputs.timers);
        for op in timers.drain(..) {
            match op {
                TimerOp::Set { after, timer } => self.set_timer(node, after, timer),
                TimerOp::Cancel(timer) => {
                    if self.nodes[node.index()].timers.remove(&timer).is_some() {
                        let timer = &timer;
                        self.trace
                            .record(self.now, TraceEvent::TimerCancel { node, timer });
                    }
                }
            }
        }
        self.outputs.timers = timers;
        let mut sends = std::mem::take(&mut self.outputs.sends);
        for (to, msg) in sends.drain(..) {
            self.send(node, to, msg);
        }
        self.outputs.sends = sends;
        let mut replies = std::mem::take(&mut self.outputs.replies);
        for (id, response) in replies.drain(..) {
            let latency = self.client_latency.sample(&mut self.client_network_rng);
            let client = self.request_clients.get(&id).copied();
            if !self.client_reaches(client, node, id, true) {
                continue;
            }
            let at = self.now.saturating_add(latency);
            self.push(at, EventKind::Reply { node, id, response });
        }
        self.outputs.replies = replies;
        for event in &self.outputs.events {
            self.trace
                .record(self.now, TraceEvent::Report { node, event });
        }
    }

    fn set_timer(&mut self, node: NodeId, after: SimDuration, timer: P::Timer) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let n = &mut self.nodes[node.index()];
        let at = self.now.saturating_add(n.clock.true_duration(after));
        let incarnation = n.incarnation;
        n.timers.insert(timer.clone(), generation);
        let event = TraceEvent::TimerSet {
            node,
            generation,
            at,
            timer: &timer,
        };
        self.trace.record(self.now, event);
        self.push(
            at,
            EventKind::Timer {
                node,
                incarnation,
                generation,
                timer,
            },
        );
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        self.stats.messages_sent += 1;
        let event = TraceEvent::Send {
            from,
            to,
            id: msg_id,
            msg: &msg,
        };
        self.trace.record(self.now, event);
        if !self.reachability.can_reach(from, to) {
            self.drop_message(from, to, msg_id, DropReason::Partition);
            return;
        }
        // The same draws happen whatever their outcome, so the network stream does not shift.
        let lost = rng::chance(&mut self.network_rng, self.network.drop_probability);
        let latency = self.network.latency.sample(&mut self.network_rng);
        let duplicated = rng::chance(&mut self.network_rng, self.network.duplicate_probability);
        if lost {
            self.drop_message(from, to, msg_id, DropReason::Loss);
            return;
        }
        let incarnation = self.nodes[to.index()].incarnation;
        if duplicated {
            let second = self.network.latency.sample(&mut self.network_rng);
            self.stats.messages_duplicated += 1;
            let event = TraceEvent::Duplicate {
                from,
                to,
                id: msg_id,
                delay: second,
                msg: &msg,
            };
            self.trace.record(self.now, event);
            let at = self.now.saturating_add(second);
            self.push(
                at,
                EventKind::Deliver {
                    from,
                    to,
                    incarnation,
                    msg_id,
                    msg: msg.clone(),
                },
            );
        }
        // Latencies, like every delay below, come from scenario files and suite parameters: one
        // that reaches past the end of simulated time is a message that never arrives, not an
        // overflow.
        let at = self.now.saturating_add(latency);
        self.push(
            at,
            EventKind::Deliver {
                from,
                to,
                incarnation,
                msg_id,
                msg,
            },
        );
    }

    fn drop_message(&mut self, from: NodeId, to: NodeId, msg_id: u64, reason: DropReason) {
        match reason {
            DropReason::Loss => self.stats.messages_dropped_loss += 1,
            DropReason::Partition => self.stats.messages_dropped_partition += 1,
            DropReason::NodeDown => self.stats.messages_dropped_node_down += 1,
        }
        let event = TraceEvent::Drop {
            from,
            to,
            id: msg_id,
            reason,
        };
        self.trace.record(self.now, event);
    }

    /// A client workload's panic: traced, and the run stops with it as a finding.
    fn record_client_panic(&mut self, payload: &(dyn Any + Send)) {
        let message = format!("client workload: {}", panic_message(payload));
        let event = TraceEvent::Panic {
            node: None,
            message: &message,
        };
        self.trace.record(self.now, event);
        self.panic = Some(HandlerPanic {
            node: None,
            time: self.now,
            message,
        });
    }

    fn with_client(
        &mut self,
        call: impl FnOnce(&mut dyn Workload<P>, &mut ClientCtx<'_, P>),
        workload: &mut Box<dyn Workload<P>>,
    ) {
        let mut submits = std::mem::take(&mut self.submits);
        let mut wakes = std::mem::take(&mut self.wakes);
        {
            let mut ctx = ClientCtx {
                now: self.now,
                node_count: self.nodes.len(),
                rng: &mut self.workload_rng,
                next_request: &mut self.next_request,
                submits: &mut submits,
                wakes: &mut wakes,
                reachability: &self.reachability,
            };
            let result =
                panic::catch_unwind(AssertUnwindSafe(|| call(workload.as_mut(), &mut ctx)));
            if let Err(payload) = result {
                self.record_client_panic(payload.as_ref());
            }
        }
        for Submit {
            client,
            node,
            id,
            request,
        } in submits.drain(..)
        {
            let latency = self.client_latency.sample(&mut self.client_network_rng);
            let event = TraceEvent::Client {
                node,
                id,
                request: &request,
            };
            self.trace.record(self.now, event);
            if let Some(c) = client {
                self.request_clients.insert(id, c);
            }
            if !self.client_reaches(client, node, id, false) {
                continue;
            }
            // A paused client's request leaves when it resumes.
            let leaves = client.map_or(self.now, |c| self.client_resumes(c));
            let at = leaves.saturating_add(latency);
            let kind = EventKind::Request {
                node,
                id,
                request,
                client,
            };
            self.push(at, kind);
        }
        for (client, after, token) in wakes.drain(..) {
            let at = self.now.saturating_add(after);
            self.push(at, EventKind::ClientWake { token, client });
        }
        self.submits = submits;
        self.wakes = wakes;
    }

    /// When client `client` resumes: now unless it is paused.
    fn client_resumes(&self, client: u32) -> SimTime {
        self.paused_clients
            .get(&client)
            .copied()
            .filter(|&until| until > self.now)
            .unwrap_or(self.now)
    }

    /// Cuts client `client` off from every node (`cut`), or reconnects it.
    pub fn set_client_cut_off(&mut self, client: u32, cut: bool) {
        if cut {
            self.cut_off_clients.insert(client);
        } else {
            self.cut_off_clients.remove(&client);
        }
    }

    /// Pauses client `client` for `duration`: what it sends leaves, and what reaches it arrives,
    /// when the pause ends (a process stopped by a long garbage collection, say).
    pub fn pause_client(&mut self, client: u32, duration: SimDuration) {
        let until = self.now.saturating_add(duration);
        let entry = self.paused_clients.entry(client).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Ends every client fault now: cut-off clients reconnect, paused clients resume (what a
    /// pause deferred still arrives at the time it was deferred to).
    pub fn heal_clients(&mut self) {
        self.cut_off_clients.clear();
        self.paused_clients.clear();
    }

    /// Whether some client is cut off or paused now.
    pub fn client_fault_in_force(&self) -> bool {
        !self.cut_off_clients.is_empty() || self.paused_clients.values().any(|&t| t > self.now)
    }

    /// Whether attached client `client` and `node` can reach each other now (the request's way,
    /// or the reply's); when not, the loss goes to the trace. A client outside every fault
    /// (`None`) always can.
    fn client_reaches(
        &mut self,
        client: Option<u32>,
        node: NodeId,
        id: RequestId,
        reply: bool,
    ) -> bool {
        let Some(client) = client else {
            return true;
        };
        let home = NodeId(client % self.nodes.len() as u32);
        let reaches = if self.cut_off_clients.contains(&client) {
            false
        } else if reply {
            self.reachability.can_reach(node, home)
        } else {
            self.reachability.can_reach(home, node)
        };
        if !reaches {
            self.request_clients.remove(&id);
            let event = TraceEvent::ClientCut {
                client,
                node,
                id,
                reply,
            };
            self.trace.record(self.now, event);
        }
        reaches
    }

    fn push(&mut self, time: SimTime, kind: EventKind<P>) {
        debug_assert!(time >= self.now);
        let seq = self.seq;
        self.seq += 1;
        let slot = self.slots.insert(kind);
        self.queue.push(Entry { time, seq, slot });
    }

    // ----- Faults -----

    /// Crashes `node`: its process, unsynced writes, timers, deferred events and every message in
    /// flight to it are lost. Its synced storage stays. No-op if it is already down.
    pub fn crash(&mut self, node: NodeId) {
        let n = &mut self.nodes[node.index()];
        if n.process.is_none() {
            return;
        }
        n.process = None;
        n.storage.crash();
        n.timers.clear();
        n.pause = None;
        n.deferred.clear();
        n.incarnation += 1;
        self.stats.crashes += 1;
        self.trace.record(self.now, TraceEvent::Crash { node });
    }

    /// Restarts a crashed `node`: a new process is built and started from its durable state
    /// alone. No-op if it is up.
    pub fn restart(&mut self, node: NodeId) {
        if self.nodes[node.index()].process.is_some() {
            return;
        }
        self.stats.restarts += 1;
        self.trace.record(self.now, TraceEvent::Restart { node });
        self.boot(node);
    }

    /// Pauses `node` for `duration` (a GC pause): it processes nothing, then sees what arrived
    /// and the timers that came due, in order. No-op if it is down or already paused.
    pub fn pause(&mut self, node: NodeId, duration: SimDuration) {
        let pause = self.next_pause;
        let n = &mut self.nodes[node.index()];
        if n.process.is_none() || n.pause.is_some() {
            return;
        }
        self.next_pause += 1;
        n.pause = Some(pause);
        self.stats.pauses += 1;
        self.trace
            .record(self.now, TraceEvent::Pause { node, duration });
        let at = self.now.saturating_add(duration);
        self.push(at, EventKind::Resume { node, pause });
    }

    /// Ends a pause early (the quiet phase heals everything).
    pub fn resume_now(&mut self, node: NodeId) {
        if let Some(pause) = self.nodes[node.index()].pause {
            self.resume(node, pause);
        }
    }

    /// Replaces who can reach whom. Messages in flight across a newly cut link are lost on
    /// arrival.
    pub fn set_reachability(&mut self, reachability: Reachability) {
        assert_eq!(
            reachability.node_count(),
            self.nodes.len(),
            "reachability of another cluster size"
        );
        self.reachability = reachability;
        let event = TraceEvent::Reachability {
            reachability: &self.reachability,
        };
        self.trace.record(self.now, event);
    }

    /// Replaces the network's latency, loss and duplication.
    pub fn set_network(&mut self, network: NetworkConfig) {
        self.network = network;
        let event = TraceEvent::Network {
            network: &self.network,
        };
        self.trace.record(self.now, event);
    }

    /// Sets `node`'s clock offset and drift from now on.
    pub fn set_clock(&mut self, node: NodeId, clock: Clock) {
        self.nodes[node.index()].clock = clock;
        self.trace
            .record(self.now, TraceEvent::Clock { node, clock });
    }

    /// Notes a fault in the trace in the driver's words (what the scenario asked for).
    pub fn note_fault(&mut self, text: std::fmt::Arguments<'_>) {
        self.trace
            .record(self.now, TraceEvent::Fault { text: &text });
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_string())
}
