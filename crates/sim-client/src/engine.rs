//! The client engine: when and where requests go, whatever the family.
//!
//! Owns [`ClientEngine`], which implements [`sim_core::Workload`] for any process whose request
//! and response types a [`ClientPlugin`] handles, and [`OpRecord`], one per operation: an open
//! one rides with its slot, an ended one is added to the run's [`Tally`] (`ledger`), which the
//! summary (`stats`) and a family's checks and figures read.
//!
//! Each client has slots, each running at most one operation under its own session and history
//! process: one slot in closed loop (think, invoke, wait, think again, as in Jepsen), up to
//! `max_outstanding` in open loop (arrivals at a fixed or Poisson rate; an arrival that finds
//! every slot busy waits in a bounded queue or is refused). An operation goes to the node the
//! client last heard serves (a random one at first), follows redirects (`max_redirects` at once),
//! is sent again to the next node when an attempt gets no answer within `request_timeout` (with
//! `routing = "pinned"`, every attempt goes to the node the client first reached instead), backs
//! off (exponentially, with jitter) after an unavailable answer, and ends as info when
//! `op_timeout` passes. Retries are bounded by `max_attempts`; a circuit breaker per client
//! refuses requests after repeated failures. An operation given up by those policies ends as
//! info if any attempt may have taken effect, as fail if every attempt was turned away.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};

use rand::Rng;
use sim_core::rng;
use sim_core::{ClientCtx, NodeId, Process, RequestId, SimDuration, SimTime, Workload};

use crate::breaker::Breaker;
use crate::cut::CutSide;
use crate::ledger::{Ledger, Open};
use crate::params::{Arrival, EngineParams, Routing, CLIENTS_MAX, OUTSTANDING_MAX};
use crate::plugin::{Answer, ClientPlugin, Invocation, Status};
use crate::tally::{ClientCounts, QuietCounts, Tally};

/// How a recorded operation ended, or that it has not (yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpStatus {
    Ok,
    Fail,
    Info,
    /// Still outstanding when the run ended: counted as info.
    Pending,
}

/// One operation as the statistics and checks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRecord {
    /// The client's index, from 0.
    pub client: usize,
    /// The history process that ran it.
    pub process: u64,
    /// One of the plug-in's kind names.
    pub kind: &'static str,
    pub invoked_at: SimTime,
    /// When it completed ok or fail, or was given up (info); `None` while pending.
    pub completed_at: Option<SimTime>,
    pub status: OpStatus,
    /// Requests sent for it, the first included.
    pub attempts: u32,
    /// How long its arrival waited in the open-loop queue before it was invoked.
    pub queued: SimDuration,
    /// The side of a partition its client was on when it was invoked (`None`: no partition).
    pub cut: Option<CutSide>,
}

impl OpRecord {
    /// From arrival to completion, queueing included.
    pub fn latency(&self) -> Option<SimDuration> {
        self.completed_at
            .map(|t| t.saturating_since(self.invoked_at) + self.queued)
    }
}

/// What the policies did, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Redirects followed at once.
    pub redirects: u64,
    /// Backoffs waited (after an unavailable answer or a redirect naming no one).
    pub backoffs: u64,
    /// Requests the breakers refused to send (a new operation or a retry).
    pub breaker_refused: u64,
    /// Operations given up because `max_attempts` was reached.
    pub attempts_exhausted: u64,
    /// Open loop: arrivals, those that waited in the queue, those refused for a full queue.
    pub arrivals: u64,
    pub arrivals_queued: u64,
    pub arrivals_refused: u64,
}

/// Why the outstanding operation will be sent again if no answer comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retry {
    /// The current attempt got no answer in time: retry elsewhere.
    RequestTimeout,
    /// The backoff after an unavailable answer is over: retry.
    Backoff,
}

/// The operation a slot is waiting on.
#[derive(Debug)]
struct Outstanding<O> {
    op: O,
    /// Its record, until it ends.
    entry: Open,
    /// The request of the latest attempt and the node it went to.
    attempt: RequestId,
    node: NodeId,
    /// Redirects followed at once since the last pause; past the bound the client backs off,
    /// so two nodes naming each other cannot keep it busy at one instant.
    redirects: u32,
    /// Backoffs so far: the next one is `backoff * multiplier^backoffs`.
    backoffs: u32,
    /// Attempts answered "did nothing" (redirect, unavailable): if every attempt was, an
    /// operation given up certainly did not take effect.
    turned_away: u32,
    /// When the operation is given up and recorded as info: its invoke time plus `op_timeout`.
    give_up_at: SimTime,
    /// When it is sent again, and why.
    retry_at: SimTime,
    retry: Retry,
}

#[derive(Debug)]
enum Phase<O> {
    /// Open loop: free for the next arrival.
    Idle,
    /// Closed loop: waiting for the think time (or `start_after`, or the breaker) until `until`.
    Thinking {
        until: SimTime,
    },
    Waiting(Box<Outstanding<O>>),
    /// Invokes nothing more (`max_ops` or `stop_at`).
    Done,
}

#[derive(Debug)]
struct Slot<O> {
    /// The session: stable for the whole run, so a store with sessions can dedupe.
    session: u64,
    /// The history process: fresh after every info.
    process: u64,
    /// The sequence number of the latest operation.
    seq: u64,
    phase: Phase<O>,
}

impl<O> Slot<O> {
    fn deadline(&self) -> Option<SimTime> {
        match &self.phase {
            Phase::Thinking { until } => Some(*until),
            Phase::Waiting(outstanding) => Some(outstanding.retry_at.min(outstanding.give_up_at)),
            Phase::Idle | Phase::Done => None,
        }
    }
}

#[derive(Debug)]
struct Client<O> {
    slots: Vec<Slot<O>>,
    invoked: u64,
    /// Where the client sends next: the last node that answered or was named.
    leader: Option<NodeId>,
    /// The last node tried, for round-robin when there is no one to go to.
    cursor: usize,
    /// `routing = "pinned"`: the node that first answered, which every attempt goes to.
    pinned: Option<NodeId>,
    /// Open loop: the next arrival; `None` when no more will come (or in closed loop).
    next_arrival: Option<SimTime>,
    /// Open loop: arrival times waiting for a free slot.
    queue: VecDeque<SimTime>,
    breaker: Breaker,
    /// Invoked, completed and ok operations over time.
    counts: ClientCounts,
    /// Its operations in the quiet phase, once it has started.
    quiet: QuietCounts,
    /// The times of this client's wake-ups still in the queue, latest first (all distinct).
    /// Wake-ups cannot be cancelled, so instead of one per deadline, a client arms one only
    /// when none is pending at or before its earliest deadline; when one fires, the client acts
    /// on whatever is due and arms again for what is left.
    armed: Vec<SimTime>,
}

impl<O> Client<O> {
    /// The earliest time the client must act without being answered, if any.
    fn next_deadline(&self) -> Option<SimTime> {
        let slots = self.slots.iter().filter_map(Slot::deadline);
        slots.chain(self.next_arrival).min()
    }
}

/// A wake-up token is the index of the client it is for; which deadline it serves is not in
/// it: the client compares the time it fires at with its deadlines.
fn token(client: usize) -> u64 {
    client as u64
}

/// Clients over any family; see the module docs.
pub struct ClientEngine<K: ClientPlugin> {
    params: EngineParams,
    plugin: K,
    node_count: usize,
    clients: Vec<Client<K::Op>>,
    next_process: u64,
    /// Which client, slot and operation each request in flight belongs to.
    requests: BTreeMap<RequestId, (usize, usize, u64)>,
    ledger: Ledger,
    /// When the quiet phase started, once it has.
    quiet_start: Option<SimTime>,
    counters: Counters,
}

impl<K: ClientPlugin> ClientEngine<K> {
    /// An engine over `node_count` nodes. Call [`EngineParams::validate`] first; invalid
    /// parameters are clamped here rather than trusted.
    pub fn new(params: EngineParams, plugin: K, node_count: usize) -> Self {
        let client_count = params.clients.clamp(1, CLIENTS_MAX);
        let slot_count = params
            .open_loop
            .map_or(1, |o| o.max_outstanding.clamp(1, OUTSTANDING_MAX));
        let node_count = node_count.max(1);
        let clients = (0..client_count)
            .map(|c| Client {
                slots: (0..slot_count)
                    .map(|s| Slot {
                        session: (c * slot_count + s) as u64 + 1,
                        process: (c * slot_count + s) as u64,
                        seq: 0,
                        phase: Phase::Idle,
                    })
                    .collect(),
                invoked: 0,
                leader: None,
                cursor: c % node_count,
                pinned: None,
                next_arrival: None,
                queue: VecDeque::new(),
                breaker: Breaker::new(params.breaker),
                counts: ClientCounts::default(),
                quiet: QuietCounts::default(),
                armed: Vec::new(),
            })
            .collect();
        ClientEngine {
            params,
            plugin,
            node_count,
            clients,
            next_process: (client_count * slot_count) as u64,
            requests: BTreeMap::new(),
            ledger: Ledger::default(),
            quiet_start: None,
            counters: Counters::default(),
        }
    }

    pub fn params(&self) -> &EngineParams {
        &self.params
    }

    pub fn plugin(&self) -> &K {
        &self.plugin
    }

    /// The plug-in, to configure it before the run.
    pub fn plugin_mut(&mut self) -> &mut K {
        &mut self.plugin
    }

    /// Keep every operation's record whole, for [`records`](Self::records) (call it before the
    /// run). Otherwise an ended operation is only added to the [`tally`](Self::tally), so that
    /// memory does not grow with simulated time.
    pub fn keep_records(&mut self) {
        self.ledger.keep();
    }

    /// Every operation invoked, in invoke order, those still open as pending.
    ///
    /// # Panics
    /// Unless [`keep_records`](Self::keep_records) was called before the run.
    pub fn records(&self) -> Vec<OpRecord> {
        self.ledger
            .records(self.open())
            .expect("ClientEngine::records needs keep_records() before the run")
    }

    /// The operations so far added up, those still open counted as pending (info).
    pub fn tally(&self) -> Tally {
        self.ledger.tally(self.open(), None)
    }

    /// The tally at the run's end `end`: a fault window still open then closes at `end`.
    pub(crate) fn tally_at_end(&self, end: SimTime) -> Tally {
        self.ledger.tally(self.open(), Some(end))
    }

    /// The quiet phase starts now: from here on each client's operations are followed
    /// ([`quiet_counts`](Self::quiet_counts)).
    pub fn quiet_phase(&mut self, now: SimTime) {
        if self.quiet_start.is_some() {
            return;
        }
        self.quiet_start = Some(now);
        for client in &mut self.clients {
            client.quiet = QuietCounts::starting(&client.counts, now);
        }
    }

    /// When the quiet phase started (if the runner said it has), and client `client`'s
    /// operations in it.
    pub fn quiet_counts(&self, client: usize) -> Option<(SimTime, &QuietCounts)> {
        Some((self.quiet_start?, &self.clients[client].quiet))
    }

    /// The operations still open.
    fn open(&self) -> impl Iterator<Item = &Open> {
        let slots = self.clients.iter().flat_map(|c| &c.slots);
        slots.filter_map(|s| match &s.phase {
            Phase::Waiting(outstanding) => Some(&outstanding.entry),
            _ => None,
        })
    }

    /// Some fault is in force from `now` on, or none is (see `ledger`).
    pub fn faults_in_force(&mut self, now: SimTime, in_force: bool) {
        let slots = self.clients.iter_mut().flat_map(|c| &mut c.slots);
        let open = slots.filter_map(|s| match &mut s.phase {
            Phase::Waiting(outstanding) => Some(&mut outstanding.entry),
            _ => None,
        });
        self.ledger.faults_in_force(now, in_force, open);
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The number of clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The breakers' transitions, summed over the clients.
    pub fn breaker_transitions(&self) -> crate::Transitions {
        let mut total = crate::Transitions::default();
        for client in &self.clients {
            total.add(&client.breaker.transitions());
        }
        total
    }

    /// Operations outstanding now, per client.
    pub fn outstanding(&self) -> Vec<usize> {
        let waiting = |c: &Client<K::Op>| {
            let slots = c.slots.iter();
            slots
                .filter(|s| matches!(s.phase, Phase::Waiting(_)))
                .count()
        };
        self.clients.iter().map(waiting).collect()
    }

    /// Whether the clients are done for the run: no operation outstanding or queued, and none
    /// will be invoked (every slot stopped by `stop_at` or `max_ops`, no arrival to come).
    pub fn finished(&self) -> bool {
        self.clients.iter().all(|c| {
            c.next_arrival.is_none()
                && c.queue.is_empty()
                && c.slots.iter().all(|s| match s.phase {
                    Phase::Done => true,
                    Phase::Idle => self.params.open_loop.is_some(),
                    Phase::Thinking { .. } | Phase::Waiting(_) => false,
                })
        })
    }

    /// Arrivals waiting in each client's queue now.
    pub fn queued(&self) -> Vec<usize> {
        self.clients.iter().map(|c| c.queue.len()).collect()
    }

    /// Wake-ups pending per client (for tests of the sharing of wake-ups).
    pub fn armed(&self) -> Vec<&[SimTime]> {
        self.clients.iter().map(|c| c.armed.as_slice()).collect()
    }

    /// Makes sure a wake-up comes by the client's earliest deadline. One already pending at or
    /// before it will do. Called at the end of every entry point, after deadlines have moved.
    fn arm<P: Process>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize) {
        let now = ctx.now();
        let c = &mut self.clients[client];
        let Some(deadline) = c.next_deadline() else {
            return;
        };
        if c.armed.last().is_some_and(|&earliest| earliest <= deadline) {
            return;
        }
        debug_assert!(
            deadline >= now,
            "a deadline in the past: {deadline} < {now}"
        );
        c.armed.push(deadline);
        ctx.wake_client_after(client, deadline.saturating_since(now), token(client));
    }

    /// A wake-up of `client` fired: acts on what is due, then arms for what is left.
    fn wake<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize)
    where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        let c = &mut self.clients[client];
        // The earliest pending wake-ups are the ones firing: they are armed only earlier than
        // all the others, at distinct times. A paused client's wake-ups fire late, together,
        // when its pause ends, so every one due by now is spent.
        while c.armed.last().is_some_and(|&t| t <= now) {
            c.armed.pop();
        }
        if c.next_arrival.is_some_and(|t| now >= t) {
            self.arrive(ctx, client);
        }
        for slot in 0..self.clients[client].slots.len() {
            self.wake_slot(ctx, client, slot);
        }
        self.arm(ctx, client);
    }

    fn wake_slot<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize, slot: usize)
    where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        let c = &self.clients[client];
        match &c.slots[slot].phase {
            Phase::Thinking { until } if now >= *until => self.invoke_closed(ctx, client, slot),
            // The operation timeout comes first: at the instant it passes, the operation is
            // given up rather than sent once more.
            Phase::Waiting(outstanding) if now >= outstanding.give_up_at => {
                self.clients[client].breaker.failure(now);
                self.complete(ctx, client, slot, Status::Info);
            }
            Phase::Waiting(outstanding) if now >= outstanding.retry_at => {
                // A timed-out node may be down or cut off: forget it and try the next one.
                // After a backoff, go where the client last heard it should.
                let retry = outstanding.retry;
                let node = match (retry, c.leader, c.pinned) {
                    (_, _, Some(pinned)) => pinned,
                    // Pinned but not answered yet: the same node after a backoff.
                    (Retry::Backoff, _, None) if self.pinned() => NodeId(c.cursor as u32),
                    (Retry::Backoff, Some(leader), None) => leader,
                    _ => self.next_node(client),
                };
                let c = &mut self.clients[client];
                if retry == Retry::RequestTimeout {
                    c.leader = None;
                    c.breaker.failure(now);
                }
                if let Phase::Waiting(outstanding) = &mut c.slots[slot].phase {
                    outstanding.redirects = 0;
                }
                self.resend(ctx, client, slot, node);
            }
            Phase::Idle | Phase::Thinking { .. } | Phase::Waiting(_) | Phase::Done => {}
        }
    }

    fn think_time<P: Process>(&self, ctx: &mut ClientCtx<'_, P>) -> SimDuration {
        let [low, high] = self.params.think_time;
        SimDuration(rng::between(ctx.rng(), low.0, high.0))
    }

    /// The gap to the next open-loop arrival.
    fn arrival_gap<P: Process>(&self, ctx: &mut ClientCtx<'_, P>) -> SimDuration {
        let Some(open) = self.params.open_loop else {
            return SimDuration::MAX;
        };
        let mean_ns = 1e9 / open.rate.max(f64::MIN_POSITIVE);
        let gap_ns = match open.arrival {
            Arrival::Fixed => mean_ns,
            Arrival::Poisson => -(1.0 - rng::unit(ctx.rng())).ln() * mean_ns,
        };
        SimDuration((gap_ns.round() as u64).max(1))
    }

    /// Whether `client` may invoke another operation at `now` (`stop_at`, `max_ops`).
    fn may_invoke(&self, client: usize, now: SimTime) -> bool {
        let stopped = self
            .params
            .stop_at
            .is_some_and(|stop| now >= SimTime::ZERO + stop);
        let exhausted = self
            .params
            .max_ops
            .is_some_and(|max| self.clients[client].invoked >= max);
        !stopped && !exhausted
    }

    /// Closed loop: the think time is over; invokes the next operation unless done.
    fn invoke_closed<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize, slot: usize)
    where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        if !self.may_invoke(client, now) {
            self.clients[client].slots[slot].phase = Phase::Done;
            return;
        }
        let c = &mut self.clients[client];
        if !c.breaker.admit(now, slot) {
            // Refused without being sent or recorded: wait for the breaker to half-open.
            self.counters.breaker_refused += 1;
            let fallback = now.saturating_add(self.params.request_timeout);
            let until = c.breaker.open_until().unwrap_or(fallback).max(now);
            c.slots[slot].phase = Phase::Thinking { until };
            return;
        }
        self.invoke(ctx, client, slot, SimDuration::ZERO);
    }

    /// Open loop: an arrival is due. Schedules the next, then invokes on a free slot, queues,
    /// or refuses.
    fn arrive<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize)
    where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        if !self.may_invoke(client, now) {
            self.clients[client].next_arrival = None;
            self.clients[client].queue.clear();
            return;
        }
        self.counters.arrivals += 1;
        let gap = self.arrival_gap(ctx);
        let c = &mut self.clients[client];
        c.next_arrival = Some(now.saturating_add(gap));
        let free = c.slots.iter().position(|s| matches!(s.phase, Phase::Idle));
        let max_queued = self.params.open_loop.map_or(0, |o| o.max_queued);
        match free {
            Some(slot) => self.start(ctx, client, slot, now),
            None if c.queue.len() < max_queued => {
                c.queue.push_back(now);
                self.counters.arrivals_queued += 1;
            }
            None => self.counters.arrivals_refused += 1,
        }
    }

    /// Open loop: invokes an arrival from `arrived_at` on the free `slot`, unless the breaker
    /// refuses it.
    fn start<P>(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        client: usize,
        slot: usize,
        arrived_at: SimTime,
    ) where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        if !self.clients[client].breaker.admit(now, slot) {
            self.counters.breaker_refused += 1;
            return;
        }
        self.invoke(ctx, client, slot, now.saturating_since(arrived_at));
    }

    /// Open loop: `slot` is free; starts the oldest queued arrival the breaker lets through.
    fn start_queued<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize, slot: usize)
    where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        while let Some(arrived_at) = self.clients[client].queue.pop_front() {
            if !self.may_invoke(client, ctx.now()) {
                self.clients[client].queue.clear();
                return;
            }
            self.start(ctx, client, slot, arrived_at);
            if !matches!(self.clients[client].slots[slot].phase, Phase::Idle) {
                return;
            }
        }
    }

    /// Invokes a new operation on `slot` and sends its first attempt.
    fn invoke<P>(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        client: usize,
        slot: usize,
        queued: SimDuration,
    ) where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        let c = &mut self.clients[client];
        let s = &mut c.slots[slot];
        s.seq += 1;
        c.invoked += 1;
        let invocation = Invocation {
            client,
            session: s.session,
            seq: s.seq,
            process: s.process,
            at: now,
        };
        let op = self.plugin.invoke(ctx.rng(), &invocation);
        let c = &mut self.clients[client];
        c.counts.invoked.add(now);
        if self.quiet_start.is_some() {
            c.quiet.first_invoke.get_or_insert(now);
        }
        let entry = self.ledger.open(OpRecord {
            client,
            process: invocation.process,
            kind: self.plugin.kind(&op),
            invoked_at: now,
            completed_at: None,
            status: OpStatus::Pending,
            attempts: 0,
            queued,
            cut: CutSide::of(
                ctx.reachability(),
                NodeId((client % self.node_count) as u32),
            ),
        });
        let c = &self.clients[client];
        let node = match (c.pinned, c.leader) {
            (Some(pinned), _) => pinned,
            // Pinned but not answered yet: the home node first, then round-robin.
            (None, _) if self.pinned() => NodeId(c.cursor as u32),
            (None, Some(leader)) => leader,
            (None, None) => NodeId(ctx.rng().gen_range(0..self.node_count) as u32),
        };
        self.clients[client].slots[slot].phase = Phase::Waiting(Box::new(Outstanding {
            op,
            entry,
            attempt: RequestId(u64::MAX),
            node,
            redirects: 0,
            backoffs: 0,
            turned_away: 0,
            give_up_at: now.saturating_add(self.params.op_timeout),
            // Set by the first attempt, just below.
            retry_at: SimTime::MAX,
            retry: Retry::RequestTimeout,
        }));
        self.send_attempt(ctx, client, slot, node);
    }

    /// Sends the outstanding operation again, unless `max_attempts` or the breaker forbid it,
    /// in which case the operation is given up.
    fn resend<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize, slot: usize, node: NodeId)
    where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        let Phase::Waiting(outstanding) = &self.clients[client].slots[slot].phase else {
            return;
        };
        let attempts = outstanding.entry.record.attempts;
        let turned_away = outstanding.turned_away;
        let exhausted = self.params.max_attempts.is_some_and(|m| attempts >= m);
        let refused = !exhausted && !self.clients[client].breaker.admit(now, slot);
        if exhausted || refused {
            if exhausted {
                self.counters.attempts_exhausted += 1;
            } else {
                self.counters.breaker_refused += 1;
            }
            // Turned away every time: it certainly did not happen.
            let status = if turned_away >= attempts {
                Status::Fail
            } else {
                Status::Info
            };
            self.complete(ctx, client, slot, status);
            return;
        }
        self.send_attempt(ctx, client, slot, node);
    }

    /// Sends the outstanding operation to `node` and arms its request timeout.
    fn send_attempt<P>(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        client: usize,
        slot: usize,
        node: NodeId,
    ) where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let c = &mut self.clients[client];
        let seq = c.slots[slot].seq;
        let Phase::Waiting(outstanding) = &mut c.slots[slot].phase else {
            return;
        };
        let id = ctx.submit_as(client, node, self.plugin.request(&outstanding.op));
        outstanding.attempt = id;
        outstanding.node = node;
        outstanding.retry_at = ctx.now().saturating_add(self.params.request_timeout);
        outstanding.retry = Retry::RequestTimeout;
        outstanding.entry.record.attempts += 1;
        c.cursor = node.index();
        self.requests.insert(id, (client, slot, seq));
    }

    /// Whether clients stay with the node they first reached (`routing = "pinned"`).
    fn pinned(&self) -> bool {
        self.params.routing == Routing::Pinned
    }

    /// The node after the one last tried, round-robin.
    fn next_node(&self, client: usize) -> NodeId {
        NodeId(((self.clients[client].cursor + 1) % self.node_count) as u32)
    }

    /// Ends the outstanding operation of `slot`: records its completion and frees the slot.
    fn complete<P>(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        client: usize,
        slot: usize,
        status: Status,
    ) where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        let c = &mut self.clients[client];
        let s = &mut c.slots[slot];
        let phase = std::mem::replace(&mut s.phase, Phase::Idle);
        let Phase::Waiting(outstanding) = phase else {
            s.phase = phase;
            return;
        };
        let Outstanding {
            op,
            mut entry,
            node,
            ..
        } = *outstanding;
        entry.record.completed_at = Some(now);
        entry.record.status = match status {
            Status::Ok => OpStatus::Ok,
            Status::Fail => OpStatus::Fail,
            Status::Info => OpStatus::Info,
        };
        c.counts.completed.add(now);
        if status == Status::Ok {
            c.counts.ok.add(now);
            if self.quiet_start.is_some() {
                c.quiet.ok_at.push(now);
            }
        }
        self.ledger.close(entry, now);
        // Requests of this operation still in flight are stale from now on.
        let seq = s.seq;
        self.requests
            .retain(|_, &mut (c, l, q)| !(c == client && l == slot && q == seq));
        if status == Status::Info {
            // A process whose operation may still take effect issues nothing more: the slot
            // continues as a fresh one (its session stays, so the store can still dedupe).
            s.process = self.next_process;
            self.next_process += 1;
        }
        if status == Status::Ok {
            c.leader = Some(node);
        }
        c.breaker.release(slot);
        self.plugin.complete(op, status, now);
        if self.params.open_loop.is_some() {
            self.start_queued(ctx, client, slot);
        } else {
            let until = now.saturating_add(self.think_time(ctx));
            self.clients[client].slots[slot].phase = Phase::Thinking { until };
        }
    }

    /// The backoff before the next attempt of an operation that has backed off `backoffs`
    /// times: `backoff * multiplier^backoffs`, at most `backoff_max`, less a jitter drawn in
    /// `[0, jitter)` of it (no draw without jitter).
    fn backoff_delay<P: Process>(&self, ctx: &mut ClientCtx<'_, P>, backoffs: u32) -> SimDuration {
        backoff_delay(&self.params, ctx.rng(), backoffs)
    }

    /// The slot's latest attempt was turned away without a node to go to: wait, then retry.
    fn back_off<P: Process>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize, slot: usize) {
        let Phase::Waiting(outstanding) = &self.clients[client].slots[slot].phase else {
            return;
        };
        let delay = self.backoff_delay(ctx, outstanding.backoffs);
        let retry_at = ctx.now().saturating_add(delay);
        self.counters.backoffs += 1;
        if let Phase::Waiting(outstanding) = &mut self.clients[client].slots[slot].phase {
            outstanding.backoffs = outstanding.backoffs.saturating_add(1);
            outstanding.retry_at = retry_at;
            outstanding.retry = Retry::Backoff;
        }
    }

    /// A redirect (or an unavailable answer, `to: None`) to the latest attempt, sent to `node`.
    fn redirected<P>(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        client: usize,
        slot: usize,
        node: NodeId,
        to: Option<NodeId>,
    ) where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let node_count = self.node_count;
        let pinned = self.pinned();
        let max_redirects = self.params.max_redirects.unwrap_or(node_count as u32);
        let c = &mut self.clients[client];
        let Phase::Waiting(outstanding) = &mut c.slots[slot].phase else {
            return;
        };
        let redirects = outstanding.redirects;
        // A pinned client follows no redirect: it backs off and asks its node again.
        let hint = to.filter(|&l| l != node && l.index() < node_count && !pinned);
        c.leader = hint;
        let immediate = hint.is_some() && redirects < max_redirects;
        outstanding.redirects = if immediate { redirects + 1 } else { 0 };
        match hint {
            Some(leader) if immediate => {
                self.counters.redirects += 1;
                self.resend(ctx, client, slot, leader);
            }
            _ => self.back_off(ctx, client, slot),
        }
    }

    fn on_response<P>(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        (client, slot): (usize, usize),
        node: NodeId,
        id: RequestId,
        response: K::Response,
    ) where
        P: Process<Request = K::Request, Response = K::Response>,
    {
        let now = ctx.now();
        let pinned = self.pinned();
        let c = &mut self.clients[client];
        if pinned && c.pinned.is_none() {
            // Reached: from now on every attempt goes here.
            c.pinned = Some(node);
        }
        let Phase::Waiting(outstanding) = &mut c.slots[slot].phase else {
            return;
        };
        let current = outstanding.attempt == id;
        let answer = self.plugin.classify(&mut outstanding.op, response);
        match answer {
            Answer::Redirect { .. } | Answer::Unavailable => {
                outstanding.turned_away += 1;
                if answer == Answer::Unavailable {
                    c.breaker.failure(now);
                }
                // Only the latest attempt's redirect is acted on; an earlier attempt's says
                // nothing about where the current one went.
                if current {
                    let to = match answer {
                        Answer::Redirect { to } => to,
                        _ => None,
                    };
                    self.redirected(ctx, client, slot, node, to);
                }
            }
            Answer::Ok | Answer::Fail => {
                // The answer came from `node` (possibly an earlier attempt's): that is where
                // the operation was served, so the next one goes there.
                outstanding.node = node;
                c.breaker.success();
                let status = if answer == Answer::Ok {
                    Status::Ok
                } else {
                    Status::Fail
                };
                self.complete(ctx, client, slot, status);
            }
            Answer::Info => self.complete(ctx, client, slot, Status::Info),
        }
    }
}

/// See [`ClientEngine`]'s `backoff_delay`; free so that tests can call it with any generator.
pub fn backoff_delay(
    params: &EngineParams,
    rng: &mut sim_core::SimRng,
    backoffs: u32,
) -> SimDuration {
    let cap = params
        .backoff_max
        .unwrap_or(params.op_timeout)
        .max(params.backoff);
    let base = params.backoff.0 as f64;
    let grown = base
        * params
            .backoff_multiplier
            .max(1.0)
            .powi(backoffs.min(1024) as i32);
    let delay = if grown >= cap.0 as f64 {
        cap.0
    } else {
        grown as u64
    };
    if params.backoff_jitter <= 0.0 {
        return SimDuration(delay);
    }
    let cut = delay as f64 * params.backoff_jitter.min(1.0) * rng::unit(rng);
    SimDuration(delay - (cut as u64).min(delay))
}

impl<P, K> Workload<P> for ClientEngine<K>
where
    K: ClientPlugin,
    P: Process<Request = K::Request, Response = K::Response>,
{
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, P>) {
        // Closed-loop clients start staggered by one think time after `start_after`, open-loop
        // ones at their first arrival, so they do not all invoke at the same instant.
        for client in 0..self.clients.len() {
            let first = match self.params.open_loop {
                None => self.think_time(ctx),
                Some(open) if open.arrival == Arrival::Fixed => {
                    let period = self.arrival_gap(ctx);
                    SimDuration(rng::between(ctx.rng(), 0, period.0 - 1))
                }
                Some(_) => self.arrival_gap(ctx),
            };
            let at = ctx.now().saturating_add(self.params.start_after + first);
            let c = &mut self.clients[client];
            match self.params.open_loop {
                None => c.slots[0].phase = Phase::Thinking { until: at },
                Some(_) => c.next_arrival = Some(at),
            }
            self.arm(ctx, client);
        }
    }

    fn on_reply(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        node: NodeId,
        id: RequestId,
        response: K::Response,
    ) {
        let Some((client, slot, seq)) = self.requests.remove(&id) else {
            return;
        };
        let s = &self.clients[client].slots[slot];
        // A reply to any attempt of the outstanding operation answers it: every attempt is the
        // same (session, seq), which the store applies at most once.
        if matches!(s.phase, Phase::Waiting(_)) && s.seq == seq {
            self.on_response(ctx, (client, slot), node, id, response);
            self.arm(ctx, client);
        }
    }

    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, P>, token: u64) {
        // Tokens are client indices (see [`token`]); anything else is not this engine's.
        let Some(client) = usize::try_from(token)
            .ok()
            .filter(|&client| client < self.clients.len())
        else {
            return;
        };
        self.wake(ctx, client);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn client_count(&self) -> Option<usize> {
        Some(self.clients.len())
    }

    fn keep_history(&mut self) {
        self.keep_records();
    }

    fn faults_in_force(&mut self, now: SimTime, in_force: bool) {
        ClientEngine::faults_in_force(self, now, in_force);
    }

    fn quiet_phase(&mut self, now: SimTime) {
        ClientEngine::quiet_phase(self, now);
    }
}

impl<K: ClientPlugin> std::fmt::Debug for ClientEngine<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientEngine")
            .field("clients", &self.clients.len())
            .field("ops", &self.ledger.invoked())
            .finish_non_exhaustive()
    }
}
