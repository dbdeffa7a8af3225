//! The typed trace events: [`TraceEvent`], borrowing the protocol's own values, and its owned
//! twin [`OwnedTraceEvent`] that in-memory sinks keep.
//!
//! Every event knows its kind name ([`TraceEvent::kind`], the `ev` field of a JSON line) and how
//! it folds into the trace hash ([`TraceEvent::hash_into`]): its kind, its numbers (nodes, ids,
//! generations), and the contents of the protocol values it carries, field by field through
//! their `Serialize` form ([`hash_value`]). A message's contents are hashed when it is sent;
//! its delivery, duplication and loss refer to it by id. A timer's contents are hashed when it
//! is set and cancelled; its firing refers to its generation.

use std::fmt::{self, Display};

use crate::hash::{hash_text, hash_value, StableHasher};
use crate::network::{NetworkConfig, Reachability};
use crate::process::{NodeId, Process, RequestId};
use crate::sim::Clock;
use crate::time::{SimDuration, SimTime};

/// Where a message was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The network lost it at random.
    Loss,
    /// A partition cut the link when it was sent or when it arrived.
    Partition,
    /// The destination was down, or crashed and restarted while the message was in flight.
    NodeDown,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::NodeDown => "node-down",
        }
    }
}

/// One event of a run, as the simulation records it: protocol values are borrowed, so recording
/// copies nothing.
pub enum TraceEvent<'a, P: Process> {
    /// `from` sent message `id` to `to` (its contents are hashed here).
    Send {
        from: NodeId,
        to: NodeId,
        id: u64,
        msg: &'a P::Msg,
    },
    /// Message `id` reached `to` and its handler runs.
    Deliver {
        from: NodeId,
        to: NodeId,
        id: u64,
        msg: &'a P::Msg,
    },
    /// Message `id` was lost.
    Drop {
        from: NodeId,
        to: NodeId,
        id: u64,
        reason: DropReason,
    },
    /// Message `id` will arrive a second time, `delay` from now.
    Duplicate {
        from: NodeId,
        to: NodeId,
        id: u64,
        delay: SimDuration,
        msg: &'a P::Msg,
    },
    /// `node` set `timer` (replacing an equal pending one) to fire at true time `at`.
    TimerSet {
        node: NodeId,
        generation: u64,
        at: SimTime,
        timer: &'a P::Timer,
    },
    /// The timer set as `generation` fired on `node`.
    TimerFire {
        node: NodeId,
        generation: u64,
        timer: &'a P::Timer,
    },
    /// `node` cancelled its pending `timer`.
    TimerCancel {
        node: NodeId,
        timer: &'a P::Timer,
    },
    /// A client submitted `request` to `node` (its contents are hashed here).
    Client {
        node: NodeId,
        id: RequestId,
        request: &'a P::Request,
    },
    /// Request `id` reached `node` and its handler runs.
    Request {
        node: NodeId,
        id: RequestId,
        request: &'a P::Request,
    },
    /// Request `id` reached `node` while it was down and was lost.
    RequestDrop {
        node: NodeId,
        id: RequestId,
        request: &'a P::Request,
    },
    /// `node`'s reply to request `id` reached the client.
    Reply {
        node: NodeId,
        id: RequestId,
        response: &'a P::Response,
    },
    /// The client workload woke up with `token` (a think time or a client timeout).
    ClientWake {
        token: u64,
    },
    /// A partition cut client `client` (on the side of its home node) from `node`: its request
    /// `id` never reached `node`, or (`reply`) the reply never reached the client.
    ClientCut {
        client: u32,
        node: NodeId,
        id: RequestId,
        reply: bool,
    },
    Crash {
        node: NodeId,
    },
    Restart {
        node: NodeId,
    },
    Pause {
        node: NodeId,
        duration: SimDuration,
    },
    /// A pause ended; `deferred` events that arrived during it are now processed.
    Resume {
        node: NodeId,
        deferred: u64,
    },
    /// Who can reach whom changed (a partition or a heal).
    Reachability {
        reachability: &'a Reachability,
    },
    /// The network's latency, loss and duplication changed.
    Network {
        network: &'a NetworkConfig,
    },
    /// `node`'s clock offset and drift changed.
    Clock {
        node: NodeId,
        clock: Clock,
    },
    /// `node` reported a protocol event.
    Report {
        node: NodeId,
        event: &'a P::Event,
    },
    /// A fault in the driver's words (what the scenario asked for).
    Fault {
        text: &'a dyn Display,
    },
    /// A handler panicked: on `node`, or in the client workload (`None`).
    Panic {
        node: Option<NodeId>,
        message: &'a str,
    },
}

impl<P: Process> Clone for TraceEvent<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Process> Copy for TraceEvent<'_, P> {}

impl<P: Process> fmt::Debug for TraceEvent<'_, P> {
    /// The kind and the time-independent numbers; the JSON sink shows the whole event.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut hasher = StableHasher::new();
        self.hash_into(&mut hasher);
        write!(f, "TraceEvent::{}({:016x})", self.kind(), hasher.finish())
    }
}

/// Folded before an event's fields, one per variant, so two kinds never hash alike.
#[repr(u8)]
enum Code {
    Send = 1,
    Deliver,
    Drop,
    Duplicate,
    TimerSet,
    TimerFire,
    TimerCancel,
    Client,
    Request,
    RequestDrop,
    Reply,
    ClientWake,
    Crash,
    Restart,
    Pause,
    Resume,
    Reachability,
    Network,
    Clock,
    Report,
    Fault,
    Panic,
    ClientCut,
}

impl<P: Process> TraceEvent<'_, P> {
    /// The event's kind as JSON lines name it (`"send"`, `"timer-set"`, ...). A request lost at a
    /// down node is a `"drop"`, and reachability and network changes are both `"network"`.
    pub fn kind(&self) -> &'static str {
        match self {
            TraceEvent::Send { .. } => "send",
            TraceEvent::Deliver { .. } => "deliver",
            TraceEvent::Drop { .. } | TraceEvent::RequestDrop { .. } => "drop",
            TraceEvent::Duplicate { .. } => "duplicate",
            TraceEvent::TimerSet { .. } => "timer-set",
            TraceEvent::TimerFire { .. } => "timer-fire",
            TraceEvent::TimerCancel { .. } => "timer-cancel",
            TraceEvent::Client { .. } => "client",
            TraceEvent::Request { .. } => "request",
            TraceEvent::Reply { .. } => "reply",
            TraceEvent::ClientWake { .. } => "client-wake",
            TraceEvent::ClientCut { .. } => "drop",
            TraceEvent::Crash { .. } => "crash",
            TraceEvent::Restart { .. } => "restart",
            TraceEvent::Pause { .. } => "pause",
            TraceEvent::Resume { .. } => "resume",
            TraceEvent::Reachability { .. } | TraceEvent::Network { .. } => "network",
            TraceEvent::Clock { .. } => "clock",
            TraceEvent::Report { .. } => "report",
            TraceEvent::Fault { .. } => "fault",
            TraceEvent::Panic { .. } => "panic",
        }
    }

    /// Folds the event (not its time) into `hasher`: its kind, its numbers, and the contents of
    /// the protocol values named in the module docs, by their fields.
    #[inline(always)]
    pub fn hash_into(&self, h: &mut StableHasher) {
        match *self {
            TraceEvent::Send { from, to, id, msg } => {
                link(h, Code::Send, from, to, id);
                hash_value(h, msg);
            }
            TraceEvent::Deliver { from, to, id, .. } => link(h, Code::Deliver, from, to, id),
            TraceEvent::Drop {
                from,
                to,
                id,
                reason,
            } => {
                link(h, Code::Drop, from, to, id);
                h.write_u64(reason as u64);
            }
            TraceEvent::Duplicate {
                from,
                to,
                id,
                delay,
                ..
            } => {
                link(h, Code::Duplicate, from, to, id);
                h.write_u64(delay.0);
            }
            TraceEvent::TimerSet {
                node: n,
                generation,
                at,
                timer,
            } => {
                numbers(h, Code::TimerSet, &[n.0.into(), generation, at.0]);
                hash_value(h, timer);
            }
            TraceEvent::TimerFire {
                node: n,
                generation,
                ..
            } => {
                numbers(h, Code::TimerFire, &[n.0.into(), generation]);
            }
            TraceEvent::TimerCancel { node: n, timer } => {
                numbers(h, Code::TimerCancel, &[n.0.into()]);
                hash_value(h, timer);
            }
            _ => self.hash_rest_into(h),
        }
    }

    /// [`TraceEvent::hash_into`] for client, report, lifecycle, network and fault events.
    #[inline(always)]
    fn hash_rest_into(&self, h: &mut StableHasher) {
        match *self {
            TraceEvent::Client {
                node: n,
                id,
                request,
            } => {
                numbers(h, Code::Client, &[n.0.into(), id.0]);
                hash_value(h, request);
            }
            TraceEvent::Request { node: n, id, .. } => {
                numbers(h, Code::Request, &[n.0.into(), id.0]);
            }
            TraceEvent::RequestDrop { node: n, id, .. } => {
                numbers(h, Code::RequestDrop, &[n.0.into(), id.0]);
            }
            TraceEvent::Reply {
                node: n,
                id,
                response,
            } => {
                numbers(h, Code::Reply, &[n.0.into(), id.0]);
                hash_value(h, response);
            }
            TraceEvent::ClientWake { token } => numbers(h, Code::ClientWake, &[token]),
            TraceEvent::ClientCut {
                client,
                node: n,
                id,
                reply,
            } => {
                let fields = [client.into(), n.0.into(), id.0, reply.into()];
                numbers(h, Code::ClientCut, &fields);
            }
            TraceEvent::Crash { node: n } => numbers(h, Code::Crash, &[n.0.into()]),
            TraceEvent::Restart { node: n } => numbers(h, Code::Restart, &[n.0.into()]),
            TraceEvent::Pause { node: n, duration } => {
                numbers(h, Code::Pause, &[n.0.into(), duration.0]);
            }
            TraceEvent::Resume { node: n, deferred } => {
                numbers(h, Code::Resume, &[n.0.into(), deferred]);
            }
            TraceEvent::Reachability { reachability } => {
                h.write_u64(Code::Reachability as u64);
                hash_reachability(h, reachability);
            }
            TraceEvent::Network { network } => {
                h.write_u64(Code::Network as u64);
                hash_value(h, network);
            }
            TraceEvent::Clock { node: n, clock } => {
                let (offset, drift) = (clock.offset_ns as u64, clock.drift_ppm as u64);
                numbers(h, Code::Clock, &[n.0.into(), offset, drift]);
            }
            TraceEvent::Report { node: n, event } => {
                numbers(h, Code::Report, &[n.0.into()]);
                hash_value(h, event);
            }
            TraceEvent::Fault { text } => {
                h.write_u64(Code::Fault as u64);
                hash_text(h, text);
            }
            TraceEvent::Panic { node: n, message } => {
                h.write_u64(Code::Panic as u64);
                h.write_u64(n.map_or(u64::MAX, |n| u64::from(n.0)));
                hash_value(h, message);
            }
            _ => unreachable!("{} is hashed by hash_into", self.kind()),
        }
    }

    /// An owned copy, for sinks that keep events.
    pub fn to_owned_event(&self) -> OwnedTraceEvent<P> {
        OwnedTraceEvent::from_event(self)
    }
}

#[inline]
fn link(h: &mut StableHasher, code: Code, from: NodeId, to: NodeId, id: u64) {
    numbers(h, code, &[from.0.into(), to.0.into(), id]);
}

#[inline]
fn numbers(h: &mut StableHasher, code: Code, words: &[u64]) {
    h.write_u64(code as u64);
    for &word in words {
        h.write_u64(word);
    }
}

/// The reachability matrix, 64 links to a word, after the cluster size.
fn hash_reachability(h: &mut StableHasher, reachability: &Reachability) {
    let n = reachability.node_count() as u32;
    h.write_u64(u64::from(n));
    let mut word = 0u64;
    let mut bits = 0;
    for a in 0..n {
        for b in 0..n {
            word |= u64::from(reachability.can_reach(NodeId(a), NodeId(b))) << bits;
            bits += 1;
            if bits == 64 {
                h.write_u64(word);
                (word, bits) = (0, 0);
            }
        }
    }
    h.write_u64(word);
}

/// A [`TraceEvent`] that owns its values: what the in-memory sink keeps.
pub enum OwnedTraceEvent<P: Process> {
    Send {
        from: NodeId,
        to: NodeId,
        id: u64,
        msg: P::Msg,
    },
    Deliver {
        from: NodeId,
        to: NodeId,
        id: u64,
        msg: P::Msg,
    },
    Drop {
        from: NodeId,
        to: NodeId,
        id: u64,
        reason: DropReason,
    },
    Duplicate {
        from: NodeId,
        to: NodeId,
        id: u64,
        delay: SimDuration,
        msg: P::Msg,
    },
    TimerSet {
        node: NodeId,
        generation: u64,
        at: SimTime,
        timer: P::Timer,
    },
    TimerFire {
        node: NodeId,
        generation: u64,
        timer: P::Timer,
    },
    TimerCancel {
        node: NodeId,
        timer: P::Timer,
    },
    Client {
        node: NodeId,
        id: RequestId,
        request: P::Request,
    },
    Request {
        node: NodeId,
        id: RequestId,
        request: P::Request,
    },
    RequestDrop {
        node: NodeId,
        id: RequestId,
        request: P::Request,
    },
    Reply {
        node: NodeId,
        id: RequestId,
        response: P::Response,
    },
    ClientCut {
        client: u32,
        node: NodeId,
        id: RequestId,
        reply: bool,
    },
    ClientWake {
        token: u64,
    },
    Crash {
        node: NodeId,
    },
    Restart {
        node: NodeId,
    },
    Pause {
        node: NodeId,
        duration: SimDuration,
    },
    Resume {
        node: NodeId,
        deferred: u64,
    },
    Reachability {
        reachability: Reachability,
    },
    Network {
        network: NetworkConfig,
    },
    Clock {
        node: NodeId,
        clock: Clock,
    },
    Report {
        node: NodeId,
        event: P::Event,
    },
    Fault {
        text: String,
    },
    Panic {
        node: Option<NodeId>,
        message: String,
    },
}

impl<P: Process> fmt::Debug for OwnedTraceEvent<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_event(), f)
    }
}

impl<P: Process> Clone for OwnedTraceEvent<P> {
    fn clone(&self) -> Self {
        self.as_event().to_owned_event()
    }
}

impl<P: Process> OwnedTraceEvent<P> {
    /// The borrowed view: the same kind, hash and JSON line as the event it was copied from.
    pub fn as_event(&self) -> TraceEvent<'_, P> {
        use OwnedTraceEvent as O;
        use TraceEvent as E;
        match self {
            O::Send { from, to, id, msg } => E::Send {
                from: *from,
                to: *to,
                id: *id,
                msg,
            },
            O::Deliver { from, to, id, msg } => E::Deliver {
                from: *from,
                to: *to,
                id: *id,
                msg,
            },
            O::Drop {
                from,
                to,
                id,
                reason,
            } => E::Drop {
                from: *from,
                to: *to,
                id: *id,
                reason: *reason,
            },
            O::Duplicate {
                from,
                to,
                id,
                delay,
                msg,
            } => E::Duplicate {
                from: *from,
                to: *to,
                id: *id,
                delay: *delay,
                msg,
            },
            O::TimerSet {
                node,
                generation,
                at,
                timer,
            } => E::TimerSet {
                node: *node,
                generation: *generation,
                at: *at,
                timer,
            },
            O::TimerFire {
                node,
                generation,
                timer,
            } => E::TimerFire {
                node: *node,
                generation: *generation,
                timer,
            },
            O::TimerCancel { node, timer } => E::TimerCancel { node: *node, timer },
            _ => self.as_rest_event(),
        }
    }

    /// [`OwnedTraceEvent::as_event`] for client, report, lifecycle, network and fault events.
    fn as_rest_event(&self) -> TraceEvent<'_, P> {
        use OwnedTraceEvent as O;
        use TraceEvent as E;
        match self {
            O::Client { node, id, request } => E::Client {
                node: *node,
                id: *id,
                request,
            },
            O::Request { node, id, request } => E::Request {
                node: *node,
                id: *id,
                request,
            },
            O::RequestDrop { node, id, request } => E::RequestDrop {
                node: *node,
                id: *id,
                request,
            },
            O::Reply { node, id, response } => E::Reply {
                node: *node,
                id: *id,
                response,
            },
            O::ClientWake { token } => E::ClientWake { token: *token },
            O::ClientCut {
                client,
                node,
                id,
                reply,
            } => E::ClientCut {
                client: *client,
                node: *node,
                id: *id,
                reply: *reply,
            },
            O::Crash { node } => E::Crash { node: *node },
            O::Restart { node } => E::Restart { node: *node },
            O::Pause { node, duration } => E::Pause {
                node: *node,
                duration: *duration,
            },
            O::Resume { node, deferred } => E::Resume {
                node: *node,
                deferred: *deferred,
            },
            O::Reachability { reachability } => E::Reachability { reachability },
            O::Network { network } => E::Network { network },
            O::Clock { node, clock } => E::Clock {
                node: *node,
                clock: *clock,
            },
            O::Report { node, event } => E::Report { node: *node, event },
            O::Fault { text } => E::Fault { text },
            O::Panic { node, message } => E::Panic {
                node: *node,
                message,
            },
            _ => unreachable!("message and timer events are converted by as_event"),
        }
    }

    fn from_event(event: &TraceEvent<'_, P>) -> Self {
        use OwnedTraceEvent as O;
        use TraceEvent as E;
        match *event {
            E::Send { from, to, id, msg } => O::Send {
                from,
                to,
                id,
                msg: msg.clone(),
            },
            E::Deliver { from, to, id, msg } => O::Deliver {
                from,
                to,
                id,
                msg: msg.clone(),
            },
            E::Drop {
                from,
                to,
                id,
                reason,
            } => O::Drop {
                from,
                to,
                id,
                reason,
            },
            E::Duplicate {
                from,
                to,
                id,
                delay,
                msg,
            } => O::Duplicate {
                from,
                to,
                id,
                delay,
                msg: msg.clone(),
            },
            E::TimerSet {
                node,
                generation,
                at,
                timer,
            } => O::TimerSet {
                node,
                generation,
                at,
                timer: timer.clone(),
            },
            E::TimerFire {
                node,
                generation,
                timer,
            } => O::TimerFire {
                node,
                generation,
                timer: timer.clone(),
            },
            E::TimerCancel { node, timer } => O::TimerCancel {
                node,
                timer: timer.clone(),
            },
            _ => Self::from_rest_event(event),
        }
    }

    /// [`OwnedTraceEvent::from_event`] for client, report, lifecycle, network and fault events.
    fn from_rest_event(event: &TraceEvent<'_, P>) -> Self {
        use OwnedTraceEvent as O;
        use TraceEvent as E;
        match *event {
            E::Client { node, id, request } => O::Client {
                node,
                id,
                request: request.clone(),
            },
            E::Request { node, id, request } => O::Request {
                node,
                id,
                request: request.clone(),
            },
            E::RequestDrop { node, id, request } => O::RequestDrop {
                node,
                id,
                request: request.clone(),
            },
            E::Reply { node, id, response } => O::Reply {
                node,
                id,
                response: response.clone(),
            },
            E::ClientWake { token } => O::ClientWake { token },
            E::ClientCut {
                client,
                node,
                id,
                reply,
            } => O::ClientCut {
                client,
                node,
                id,
                reply,
            },
            E::Crash { node } => O::Crash { node },
            E::Restart { node } => O::Restart { node },
            E::Pause { node, duration } => O::Pause { node, duration },
            E::Resume { node, deferred } => O::Resume { node, deferred },
            E::Reachability { reachability } => O::Reachability {
                reachability: reachability.clone(),
            },
            E::Network { network } => O::Network {
                network: network.clone(),
            },
            E::Clock { node, clock } => O::Clock { node, clock },
            E::Report { node, event } => O::Report {
                node,
                event: event.clone(),
            },
            E::Fault { text } => O::Fault {
                text: text.to_string(),
            },
            E::Panic { node, message } => O::Panic {
                node,
                message: message.to_string(),
            },
            _ => unreachable!("message and timer events are converted by from_event"),
        }
    }
}
