//! The process interface: protocols are sans-IO state machines.
//!
//! A protocol implements [`Process`]. Each handler receives a [`Ctx`] and acts only through it:
//! it sends messages, sets and cancels timers, reads its node's local clock, draws from its node's
//! random stream, writes durable state to [`Storage`], replies to client requests and reports
//! protocol events. The handler records these as outputs; the core applies them afterwards. Delay,
//! loss, duplication, partitions and clock skew live in the core, never in a protocol.
//!
//! The same handler runs under the simulator and in unit tests: [`crate::testing::Harness`]
//! builds a `Ctx` at a chosen time with a seeded generator, calls one handler and exposes the
//! recorded outputs (etcd raft's `raft_paper_test.go` style).

use std::fmt::{self, Debug};

use serde::Serialize;

use crate::rng::SimRng;
use crate::storage::Storage;
use crate::time::{SimDuration, SimTime};

/// A node of the cluster, numbered from 0. Scenario names map to these indices.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0 + 1)
    }
}

impl Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Nodes appear by name (`"n1"`) in JSON and as their index in the trace hash.
impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_u32(self.0)
        }
    }
}

/// Identifies one client request, unique within a run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

/// A protocol event reported through [`Ctx::report`]: it goes to the trace, to the checks, and
/// may trigger a fault aimed at that moment (`on_event = "became_leader"` in a scenario).
///
/// Its `Serialize` form is what the trace hashes (field by field) and writes (as JSON).
pub trait Event: Clone + Debug + Serialize {
    /// The event's name as scenarios refer to it, e.g. `became_leader` or `suspect`.
    fn name(&self) -> &'static str;
}

impl Event for () {
    fn name(&self) -> &'static str {
        "unit"
    }
}

/// A protocol: a sans-IO state machine run by the core on every node.
///
/// Messages, timers, requests, responses and events are `Serialize`: the trace hashes their
/// contents field by field ([`crate::hash::hash_value`]) and writes them as JSON objects.
///
/// A process is built afresh on first boot and on every restart, by a factory that knows only the
/// node's identity and the protocol's parameters; anything it must remember across a crash it
/// writes to [`Storage`] and syncs, and reads back in [`Process::on_start`].
pub trait Process: Sized + 'static {
    /// What nodes send each other.
    type Msg: Clone + Debug + Serialize;
    /// A timer's identity. Setting a timer equal to a pending one replaces it, and
    /// [`Ctx::cancel_timer`] cancels by value, so an election timer is simply `Timer::Election`.
    type Timer: Clone + Debug + Ord + Serialize;
    /// What clients ask (a kv operation, a transaction, a lock).
    type Request: Clone + Debug + Serialize;
    /// What a node answers a client.
    type Response: Clone + Debug + Serialize;
    /// A value kept in durable storage (use `()` when the protocol keeps nothing).
    type Durable: Clone + Debug;
    /// What the protocol reports about itself (use `()` when it reports nothing).
    type Event: Event;

    /// The node boots, first or after a restart; durable state is in `ctx.storage()`.
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>);
    /// A message from `from` arrives.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Self::Msg);
    /// A timer set earlier fires.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer);
    /// A client request arrives; answer it with [`Ctx::reply`] now or later (or never: the client
    /// times out).
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, request: Self::Request) {
        let _ = (ctx, id, request);
    }
    /// Whether this node currently holds `role` (`leader`, `coordinator`, ...): scenarios aim
    /// faults at `node = "leader"` through this.
    fn has_role(&self, role: &str) -> bool {
        let _ = role;
        false
    }
}

/// A timer operation recorded by a handler, applied in order by the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerOp<T> {
    Set { after: SimDuration, timer: T },
    Cancel(T),
}

/// Everything one handler asked for, in the order it asked.
#[derive(Debug)]
pub struct Outputs<P: Process> {
    pub sends: Vec<(NodeId, P::Msg)>,
    pub timers: Vec<TimerOp<P::Timer>>,
    pub replies: Vec<(RequestId, P::Response)>,
    pub events: Vec<P::Event>,
}

impl<P: Process> Default for Outputs<P> {
    fn default() -> Self {
        Outputs {
            sends: Vec::new(),
            timers: Vec::new(),
            replies: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl<P: Process> Outputs<P> {
    pub fn clear(&mut self) {
        self.sends.clear();
        self.timers.clear();
        self.replies.clear();
        self.events.clear();
    }
}

/// What a handler may do: the whole of a protocol's view of the world.
pub struct Ctx<'a, P: Process> {
    node: NodeId,
    node_count: usize,
    local_time: SimTime,
    rng: &'a mut SimRng,
    storage: &'a mut Storage<P::Durable>,
    outputs: &'a mut Outputs<P>,
}

impl<'a, P: Process> Ctx<'a, P> {
    /// A context for one handler call. The simulator builds these; so can a unit test (see
    /// [`crate::testing::Harness`] for a ready-made one).
    pub fn new(
        node: NodeId,
        node_count: usize,
        local_time: SimTime,
        rng: &'a mut SimRng,
        storage: &'a mut Storage<P::Durable>,
        outputs: &'a mut Outputs<P>,
    ) -> Self {
        assert!(
            node.index() < node_count,
            "{node} is outside a cluster of {node_count}"
        );
        Ctx {
            node,
            node_count,
            local_time,
            rng,
            storage,
            outputs,
        }
    }

    /// This node.
    pub fn id(&self) -> NodeId {
        self.node
    }

    /// The number of nodes in the cluster.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Every node of the cluster, this one included, in order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> {
        (0..self.node_count as u32).map(NodeId)
    }

    /// Every other node, in order.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> {
        let me = self.node;
        self.nodes().filter(move |&n| n != me)
    }

    /// The node's local clock: true simulated time shifted by the node's clock offset and drift.
    /// It may jump, and under a clock fault it may go backwards.
    pub fn local_time(&self) -> SimTime {
        self.local_time
    }

    /// The node's random stream: seeded from the run seed, independent of every other stream.
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// The node's durable storage; see [`Storage`] for its crash semantics.
    pub fn storage(&mut self) -> &mut Storage<P::Durable> {
        self.storage
    }

    /// Sends `msg` to `to`. The network decides when, whether and how often it arrives.
    pub fn send(&mut self, to: NodeId, msg: P::Msg) {
        assert!(
            to.index() < self.node_count,
            "{} sent to {to}, outside the cluster",
            self.node
        );
        self.outputs.sends.push((to, msg));
    }

    /// Sends a copy of `msg` to every other node.
    pub fn broadcast(&mut self, msg: P::Msg) {
        for peer in (0..self.node_count as u32)
            .map(NodeId)
            .filter(|&n| n != self.node)
        {
            self.outputs.sends.push((peer, msg.clone()));
        }
    }

    /// Fires `timer` after `after` of this node's local time. Replaces a pending equal timer.
    pub fn set_timer(&mut self, after: SimDuration, timer: P::Timer) {
        self.outputs.timers.push(TimerOp::Set { after, timer });
    }

    /// Cancels the pending timer equal to `timer`, if any.
    pub fn cancel_timer(&mut self, timer: P::Timer) {
        self.outputs.timers.push(TimerOp::Cancel(timer));
    }

    /// Answers the client request `id`.
    pub fn reply(&mut self, id: RequestId, response: P::Response) {
        self.outputs.replies.push((id, response));
    }

    /// Reports a protocol event to the trace and the checks.
    pub fn report(&mut self, event: P::Event) {
        self.outputs.events.push(event);
    }
}
