//! The closed-loop key-value client workload and the history it records.
//!
//! Owns [`KvWorkload`]: a fixed number of clients, each with at most one operation outstanding
//! (as in Jepsen). A client picks an operation and a key, sends `KvRequest { client, seq, op }`
//! to the node it believes leads, follows `NotLeader` redirects, retries the same `(client, seq)`
//! at another node when an attempt times out, and gives up on the operation when `op_timeout`
//! has passed since it was invoked. Every operation's invoke and completion are recorded in
//! simulated time in a [`sim_check::History`] (model `kv`): ok, fail (certainly did not happen)
//! or info (unknown; the client then continues under a fresh history process, so the history
//! stays well formed). It works with any process whose requests and responses are
//! [`KvRequest`] and [`KvResponse`]; what the store does with them is the protocol's business.
//! Statistics for the summary live in `stats`, the checks over the history in `checks`.

use std::any::Any;
use std::collections::BTreeMap;

use rand::Rng;
use serde_json::Value;
use sim_check::{History, ModelKind, OpFn, OpIndex, Outcome};
use sim_core::rng;
use sim_core::{ClientCtx, NodeId, Process, RequestId, SimDuration, SimTime, Workload};

use crate::params::{Distribution, WorkloadParams, CLIENTS_MAX};
use crate::types::{KvOp, KvRequest, KvResponse};

/// The four kinds of operation, for the mix and the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    Get,
    Put,
    Cas,
    Append,
}

impl OpKind {
    pub const ALL: [OpKind; 4] = [OpKind::Get, OpKind::Put, OpKind::Cas, OpKind::Append];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Cas => "cas",
            OpKind::Append => "append",
        }
    }

    pub fn of(op: &KvOp) -> OpKind {
        match op {
            KvOp::Get { .. } => OpKind::Get,
            KvOp::Put { .. } => OpKind::Put,
            KvOp::Cas { .. } => OpKind::Cas,
            KvOp::Append { .. } => OpKind::Append,
        }
    }
}

/// How a recorded operation ended, or that it has not (yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpStatus {
    Ok,
    Fail,
    Info,
    /// Still outstanding when the run ended: counted as info.
    Pending,
}

/// One operation as the statistics see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRecord {
    /// The client's index, from 0.
    pub client: usize,
    /// The history process that ran it.
    pub process: u64,
    pub kind: OpKind,
    pub invoked_at: SimTime,
    /// When it completed ok or fail, or was given up (info); `None` while pending.
    pub completed_at: Option<SimTime>,
    pub status: OpStatus,
    /// Requests sent for it, the first included.
    pub attempts: u32,
}

/// Why the outstanding operation will be sent again if no answer comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retry {
    /// The current attempt got no answer in time: retry elsewhere.
    RequestTimeout,
    /// The backoff after a leaderless `NotLeader` is over: retry.
    Backoff,
}

/// A wake-up token is the index of the client it is for. Which of the client's deadlines it
/// serves is not in it: the client compares the time it fires at with its deadlines (see
/// [`Client::armed`]).
fn token(client: usize) -> u64 {
    client as u64
}

/// The operation a client is waiting on.
#[derive(Clone, Debug)]
struct Outstanding {
    request: KvRequest,
    history: OpIndex,
    /// Index into `KvWorkload::records`.
    record: usize,
    /// The request of the latest attempt and the node it went to.
    attempt: RequestId,
    node: NodeId,
    /// Redirects followed at once since the last pause; past the node count the client backs
    /// off, so two nodes naming each other leader cannot keep it busy at one instant.
    redirects: u32,
    /// When the operation is given up and recorded as info: its invoke time plus `op_timeout`.
    give_up_at: SimTime,
    /// When it is sent again, and why: the latest attempt's request timeout or a backoff.
    retry_at: SimTime,
    retry: Retry,
}

#[derive(Clone, Debug)]
enum Phase {
    /// Waiting for the think time to pass (or for `start_after`), until `until`.
    Thinking {
        until: SimTime,
    },
    Waiting(Box<Outstanding>),
    /// Invokes nothing more (`max_ops` or `stop_at`).
    Done,
}

#[derive(Clone, Debug)]
struct Client {
    /// The KV session id: stable for the whole run, so a store with sessions can dedupe.
    session: u64,
    /// The history process: fresh after every info.
    process: u64,
    /// The sequence number of the latest operation.
    seq: u64,
    invoked: u64,
    /// Where the client sends next: the last node that answered or named a leader.
    leader: Option<NodeId>,
    /// The last node tried, for round-robin when there is no leader to go to.
    cursor: usize,
    phase: Phase,
    /// The times of this client's wake-ups still in the queue, latest first (all distinct).
    /// Wake-ups cannot be cancelled, so instead of one per deadline (think time, request
    /// timeout, backoff, operation timeout), a client arms one only when none is pending at or
    /// before its earliest deadline; when one fires, the client acts on whatever is due and
    /// arms again for what is left. Two or three are pending at most in practice, where one per
    /// deadline left hundreds of dead wake-ups in the queue.
    armed: Vec<SimTime>,
}

impl Client {
    /// The earliest time the client must act without being answered, if any.
    fn next_deadline(&self) -> Option<SimTime> {
        match &self.phase {
            Phase::Thinking { until } => Some(*until),
            Phase::Waiting(outstanding) => Some(outstanding.retry_at.min(outstanding.give_up_at)),
            Phase::Done => None,
        }
    }
}

/// Counters of things that should not happen but are survivable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// Replies whose kind does not fit the operation (a `Value` for a put, say); the operation
    /// is recorded as info.
    pub mismatched_replies: u64,
}

/// Closed-loop clients over a replicated key-value store; see the module docs.
pub struct KvWorkload {
    params: WorkloadParams,
    node_count: usize,
    keys: Vec<String>,
    /// Cumulative key weights for the zipf distribution (empty for uniform).
    key_cumulative: Vec<f64>,
    clients: Vec<Client>,
    next_process: u64,
    /// Which client and operation each request in flight belongs to.
    requests: BTreeMap<RequestId, (usize, u64)>,
    /// The last value seen per key, so that a compare-and-set has a chance to succeed.
    last_seen: BTreeMap<String, Option<String>>,
    history: History,
    records: Vec<OpRecord>,
    anomalies: Anomalies,
}

impl KvWorkload {
    /// A workload over `node_count` nodes. Call [`WorkloadParams::validate`] first; invalid
    /// parameters are clamped here rather than trusted.
    pub fn new(params: WorkloadParams, node_count: usize) -> Self {
        let client_count = params.clients.clamp(1, CLIENTS_MAX);
        let key_count = params.keys.max(1);
        let keys = (0..key_count).map(|k| format!("k{k}")).collect();
        let key_cumulative = match params.distribution {
            Distribution::Uniform => Vec::new(),
            Distribution::Zipf => {
                let exponent = params.zipf_exponent.max(0.0);
                let mut total = 0.0;
                (0..key_count)
                    .map(|k| {
                        total += 1.0 / ((k + 1) as f64).powf(exponent);
                        total
                    })
                    .collect()
            }
        };
        let clients = (0..client_count)
            .map(|c| Client {
                session: c as u64 + 1,
                process: c as u64,
                seq: 0,
                invoked: 0,
                leader: None,
                cursor: c % node_count.max(1),
                // Not started: `on_start` sets the first think time.
                phase: Phase::Thinking {
                    until: SimTime::MAX,
                },
                armed: Vec::new(),
            })
            .collect();
        KvWorkload {
            params,
            node_count: node_count.max(1),
            keys,
            key_cumulative,
            clients,
            next_process: client_count as u64,
            requests: BTreeMap::new(),
            last_seen: BTreeMap::new(),
            history: History::new(ModelKind::Kv, Value::Null),
            records: Vec::new(),
            anomalies: Anomalies::default(),
        }
    }

    pub fn params(&self) -> &WorkloadParams {
        &self.params
    }

    /// The history recorded so far. Operations still outstanding have an invoke and no
    /// completion, which the checker reads as info.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The history in the checker's JSON format, for `--history FILE`.
    pub fn history_json(&self) -> Value {
        self.history.to_json()
    }

    /// Every operation invoked, in invoke order.
    pub fn records(&self) -> &[OpRecord] {
        &self.records
    }

    pub fn anomalies(&self) -> Anomalies {
        self.anomalies
    }

    /// The number of clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Makes sure a wake-up comes by the client's earliest deadline. One already pending at or
    /// before it will do: when that fires, [`KvWorkload::wake`] arms again for what is left.
    /// Called once at the end of every entry point, after the client's deadlines have moved.
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
        ctx.wake_after(deadline.saturating_since(now), token(client));
    }

    /// A wake-up of `client` fired: acts on what is due, then arms for what is left. A wake-up
    /// armed for a deadline that has since moved later finds nothing due and only re-arms.
    fn wake<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize)
    where
        P: Process<Request = KvRequest, Response = KvResponse>,
    {
        let now = ctx.now();
        let c = &mut self.clients[client];
        // The earliest pending wake-up is the one firing: they are armed only earlier than all
        // the others, at distinct times, and none is in the past.
        if c.armed.last() == Some(&now) {
            c.armed.pop();
        }
        debug_assert!(c.armed.iter().all(|&t| t > now), "a wake-up was missed");
        match &c.phase {
            Phase::Thinking { until } if now >= *until => self.invoke(ctx, client),
            // The operation timeout comes first: at the instant it passes, the operation is
            // given up rather than sent once more.
            Phase::Waiting(outstanding) if now >= outstanding.give_up_at => {
                self.complete(ctx, client, OpStatus::Info, Value::Null);
            }
            Phase::Waiting(outstanding) if now >= outstanding.retry_at => {
                // A timed-out node may be down or cut off: forget it as leader and try the
                // next one. After a backoff, go where the client last heard the leader is.
                let node = match (outstanding.retry, c.leader) {
                    (Retry::Backoff, Some(leader)) => leader,
                    _ => self.next_node(client),
                };
                let c = &mut self.clients[client];
                if let Phase::Waiting(outstanding) = &mut c.phase {
                    if outstanding.retry == Retry::RequestTimeout {
                        c.leader = None;
                    }
                    outstanding.redirects = 0;
                }
                self.send_attempt(ctx, client, node);
            }
            Phase::Thinking { .. } | Phase::Waiting(_) | Phase::Done => {}
        }
        self.arm(ctx, client);
    }

    fn think_time<P: Process>(&self, ctx: &mut ClientCtx<'_, P>) -> SimDuration {
        let [low, high] = self.params.think_time;
        SimDuration(rng::between(ctx.rng(), low.0, high.0))
    }

    /// After an operation ends: think, then invoke the next one (or stop).
    fn think<P: Process>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize) {
        let until = ctx.now().saturating_add(self.think_time(ctx));
        self.clients[client].phase = Phase::Thinking { until };
    }

    fn pick_kind<P: Process>(&self, ctx: &mut ClientCtx<'_, P>) -> OpKind {
        let mix = &self.params.mix;
        let weights = [mix.get, mix.put, mix.cas, mix.append].map(|w| w.max(0.0));
        let total: f64 = weights.iter().sum();
        let mut draw = rng::unit(ctx.rng()) * total;
        for (kind, weight) in OpKind::ALL.into_iter().zip(weights) {
            if draw < weight {
                return kind;
            }
            draw -= weight;
        }
        // Rounding can leave the draw just past the last weight: take the last kind that has one.
        OpKind::ALL
            .into_iter()
            .zip(weights)
            .filter(|&(_, w)| w > 0.0)
            .map(|(kind, _)| kind)
            .next_back()
            .unwrap_or(OpKind::Get)
    }

    fn pick_key<P: Process>(&self, ctx: &mut ClientCtx<'_, P>) -> String {
        let index = match self.key_cumulative.last() {
            None => ctx.rng().gen_range(0..self.keys.len()),
            Some(&total) => {
                let draw = rng::unit(ctx.rng()) * total;
                self.key_cumulative
                    .partition_point(|&c| c <= draw)
                    .min(self.keys.len() - 1)
            }
        };
        self.keys[index].clone()
    }

    /// Invokes the client's next operation, unless it is done.
    fn invoke<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize)
    where
        P: Process<Request = KvRequest, Response = KvResponse>,
    {
        let now = ctx.now();
        let c = &self.clients[client];
        let stopped = self
            .params
            .stop_at
            .is_some_and(|stop| now >= SimTime::ZERO + stop);
        let exhausted = self.params.max_ops.is_some_and(|max| c.invoked >= max);
        if stopped || exhausted {
            self.clients[client].phase = Phase::Done;
            return;
        }
        let kind = self.pick_kind(ctx);
        let key = self.pick_key(ctx);
        let c = &mut self.clients[client];
        c.seq += 1;
        c.invoked += 1;
        let value = format!("c{}-{}", c.session, c.seq);
        let op = match kind {
            OpKind::Get => KvOp::Get { key },
            OpKind::Put => KvOp::Put { key, value },
            OpKind::Cas => {
                let expected = self.last_seen.get(&key).cloned().flatten();
                KvOp::Cas {
                    key,
                    expected,
                    new: value,
                }
            }
            OpKind::Append => KvOp::Append {
                key,
                value: format!("+{value}"),
            },
        };
        let (f, argument) = history_invoke(&op);
        let history =
            self.history
                .invoke(c.process, f, Some(op.key().to_string()), argument, now.0);
        let record = self.records.len();
        self.records.push(OpRecord {
            client,
            process: c.process,
            kind,
            invoked_at: now,
            completed_at: None,
            status: OpStatus::Pending,
            attempts: 0,
        });
        let request = KvRequest {
            client: c.session,
            seq: c.seq,
            op,
        };
        let node = match c.leader {
            Some(leader) => leader,
            None => NodeId(ctx.rng().gen_range(0..self.node_count) as u32),
        };
        c.phase = Phase::Waiting(Box::new(Outstanding {
            request,
            history,
            record,
            attempt: RequestId(u64::MAX),
            node,
            redirects: 0,
            give_up_at: now.saturating_add(self.params.op_timeout),
            // Set by the first attempt, just below.
            retry_at: SimTime::MAX,
            retry: Retry::RequestTimeout,
        }));
        self.send_attempt(ctx, client, node);
    }

    /// Sends the outstanding operation (again) to `node` and arms its request timeout.
    fn send_attempt<P>(&mut self, ctx: &mut ClientCtx<'_, P>, client: usize, node: NodeId)
    where
        P: Process<Request = KvRequest, Response = KvResponse>,
    {
        let Phase::Waiting(outstanding) = &mut self.clients[client].phase else {
            return;
        };
        let request = outstanding.request.clone();
        let seq = request.seq;
        let id = ctx.submit(node, request);
        outstanding.attempt = id;
        outstanding.node = node;
        outstanding.retry_at = ctx.now().saturating_add(self.params.request_timeout);
        outstanding.retry = Retry::RequestTimeout;
        self.records[outstanding.record].attempts += 1;
        self.clients[client].cursor = node.index();
        self.requests.insert(id, (client, seq));
    }

    /// The node after the one last tried, round-robin.
    fn next_node(&self, client: usize) -> NodeId {
        NodeId(((self.clients[client].cursor + 1) % self.node_count) as u32)
    }

    /// Ends the outstanding operation: records its completion and lets the client think.
    fn complete<P: Process>(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        client: usize,
        status: OpStatus,
        value: Value,
    ) {
        let now = ctx.now();
        let phase = std::mem::replace(&mut self.clients[client].phase, Phase::Done);
        let Phase::Waiting(outstanding) = phase else {
            self.clients[client].phase = phase;
            return;
        };
        let outcome = match status {
            OpStatus::Ok => Outcome::Ok,
            OpStatus::Fail => Outcome::Fail,
            OpStatus::Info | OpStatus::Pending => Outcome::Info,
        };
        // Only an ok read's value is learnt.
        let read = if status == OpStatus::Ok {
            value_as_option(&value)
        } else {
            None
        };
        self.history
            .complete(outstanding.history, outcome, value, now.0);
        let record = &mut self.records[outstanding.record];
        record.completed_at = Some(now);
        record.status = status;
        // Requests of this operation still in flight are stale from now on.
        let seq = outstanding.request.seq;
        self.requests
            .retain(|_, &mut (c, s)| !(c == client && s == seq));
        if status == OpStatus::Info {
            // A process whose operation may still take effect issues nothing more: the client
            // continues as a fresh one (its KV session stays, so the store can still dedupe).
            self.clients[client].process = self.next_process;
            self.next_process += 1;
        }
        if status == OpStatus::Ok {
            self.learn(&outstanding.request.op, read);
            self.clients[client].leader = Some(outstanding.node);
        }
        self.think(ctx, client);
    }

    /// Remembers what an ok operation says a key holds, for later compare-and-sets.
    fn learn(&mut self, op: &KvOp, read: Option<String>) {
        let (key, seen) = match op {
            KvOp::Get { key } => (key, read),
            KvOp::Put { key, value } => (key, Some(value.clone())),
            KvOp::Cas { key, new, .. } => (key, Some(new.clone())),
            KvOp::Append { key, .. } => {
                self.last_seen.remove(key);
                return;
            }
        };
        // Keys repeat: update in place rather than allocate the key again.
        match self.last_seen.get_mut(key) {
            Some(slot) => *slot = seen,
            None => {
                self.last_seen.insert(key.clone(), seen);
            }
        }
    }

    fn on_response<P>(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        client: usize,
        node: NodeId,
        id: RequestId,
        response: KvResponse,
    ) where
        P: Process<Request = KvRequest, Response = KvResponse>,
    {
        let Phase::Waiting(outstanding) = &self.clients[client].phase else {
            return;
        };
        let kind = OpKind::of(&outstanding.request.op);
        let current = outstanding.attempt == id;
        match (kind, response) {
            (_, KvResponse::NotLeader { leader }) => {
                // Only the latest attempt's redirect is acted on; an earlier attempt's says
                // nothing about where the current one went.
                if !current {
                    return;
                }
                let redirects = outstanding.redirects;
                let hint = leader.filter(|&l| l != node && l.index() < self.node_count);
                self.clients[client].leader = hint;
                let immediate = hint.is_some() && (redirects as usize) < self.node_count;
                if let Phase::Waiting(outstanding) = &mut self.clients[client].phase {
                    outstanding.redirects = if immediate { redirects + 1 } else { 0 };
                }
                match hint {
                    Some(leader) if immediate => self.send_attempt(ctx, client, leader),
                    _ => {
                        let retry_at = ctx.now().saturating_add(self.params.backoff);
                        if let Phase::Waiting(outstanding) = &mut self.clients[client].phase {
                            outstanding.retry_at = retry_at;
                            outstanding.retry = Retry::Backoff;
                        }
                    }
                }
            }
            (OpKind::Get, KvResponse::Value(value)) => {
                let value = value.map_or(Value::Null, Value::String);
                self.answered_by(client, node);
                self.complete(ctx, client, OpStatus::Ok, value);
            }
            (OpKind::Put | OpKind::Cas | OpKind::Append, KvResponse::Done) => {
                self.answered_by(client, node);
                self.complete(ctx, client, OpStatus::Ok, Value::Null);
            }
            (OpKind::Cas, KvResponse::CasFailed { current }) => {
                self.answered_by(client, node);
                if let Phase::Waiting(outstanding) = &self.clients[client].phase {
                    let key = outstanding.request.op.key().to_string();
                    self.last_seen.insert(key, current);
                }
                self.complete(ctx, client, OpStatus::Fail, Value::Null);
            }
            (_, KvResponse::Value(_) | KvResponse::Done | KvResponse::CasFailed { .. }) => {
                // The store answered something that does not fit the operation. Whether it took
                // effect is unknown, so the operation is info, and the summary counts it.
                self.anomalies.mismatched_replies += 1;
                self.complete(ctx, client, OpStatus::Info, Value::Null);
            }
        }
    }

    /// The answer came from `node` (possibly an earlier attempt's node): that is where the
    /// operation was served, so the next one goes there.
    fn answered_by(&mut self, client: usize, node: NodeId) {
        if let Phase::Waiting(outstanding) = &mut self.clients[client].phase {
            outstanding.node = node;
        }
    }
}

fn value_as_option(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        _ => None,
    }
}

/// The history's `f` and invoke value for an operation: a read's value is null, a cas's is
/// `[expected, new]` (null for an absent key).
fn history_invoke(op: &KvOp) -> (OpFn, Value) {
    match op {
        KvOp::Get { .. } => (OpFn::Read, Value::Null),
        KvOp::Put { value, .. } => (OpFn::Write, Value::String(value.clone())),
        KvOp::Cas { expected, new, .. } => (
            OpFn::Cas,
            Value::Array(vec![
                expected.clone().map_or(Value::Null, Value::String),
                Value::String(new.clone()),
            ]),
        ),
        KvOp::Append { value, .. } => (OpFn::Append, Value::String(value.clone())),
    }
}

impl<P> Workload<P> for KvWorkload
where
    P: Process<Request = KvRequest, Response = KvResponse>,
{
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, P>) {
        // Clients start staggered by one think time after `start_after`, so they do not all
        // invoke at the same instant.
        for client in 0..self.clients.len() {
            let after = self.params.start_after + self.think_time(ctx);
            let until = ctx.now().saturating_add(after);
            self.clients[client].phase = Phase::Thinking { until };
            self.arm(ctx, client);
        }
    }

    fn on_reply(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        node: NodeId,
        id: RequestId,
        response: KvResponse,
    ) {
        let Some((client, seq)) = self.requests.remove(&id) else {
            return;
        };
        let outstanding_seq = match &self.clients[client].phase {
            Phase::Waiting(outstanding) => outstanding.request.seq,
            _ => return,
        };
        // A reply to any attempt of the outstanding operation answers it: every attempt is the
        // same (client, seq), which the store applies at most once.
        if seq == outstanding_seq {
            self.on_response(ctx, client, node, id, response);
            self.arm(ctx, client);
        }
    }

    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, P>, token: u64) {
        // Tokens are client indices (see [`token`]); anything else is not this workload's.
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
}

impl std::fmt::Debug for KvWorkload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvWorkload")
            .field("clients", &self.clients.len())
            .field("ops", &self.records.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use sim_check::{parse_history, EventKind};

    use crate::toy::{self, Faults};
    use crate::Mix;

    fn seconds(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    fn workload(sim: &sim_core::Simulation<toy::ToyStore>) -> &KvWorkload {
        crate::kv_workload(sim).expect("the toy run has a kv workload")
    }

    /// The recorded history reads back through the checker's parser, which validates it: every
    /// completion matches an invoke of its process, no process has two operations in flight, and
    /// no process acts after an info.
    fn assert_well_formed(workload: &KvWorkload) {
        let text = workload.history_json().to_string();
        let parsed = parse_history(&text, "recorded", None);
        assert!(
            parsed.is_ok(),
            "the recorded history is malformed: {:?}",
            parsed.err()
        );
        let mut ended: BTreeSet<u64> = BTreeSet::new();
        let mut open: BTreeSet<u64> = BTreeSet::new();
        for event in workload.history().events() {
            assert!(
                !ended.contains(&event.process),
                "process {} acts after an info",
                event.process
            );
            match event.kind {
                EventKind::Invoke => assert!(open.insert(event.process), "two ops in flight"),
                EventKind::Info => {
                    open.remove(&event.process);
                    ended.insert(event.process);
                }
                EventKind::Ok | EventKind::Fail => {
                    open.remove(&event.process);
                }
            }
        }
    }

    fn assert_linearizable(workload: &KvWorkload) {
        let result = sim_check::check(workload.history(), &sim_check::Budget::default());
        assert_eq!(
            result.verdict,
            sim_check::Verdict::Linearizable,
            "{}",
            sim_check::render_text(&result, workload.history())
        );
    }

    /// A correct store answers every operation: the history is linearizable and nothing is info
    /// except what was pending when the run stopped.
    #[test]
    fn a_correct_store_gives_a_linearizable_history() {
        let sim = toy::run(
            WorkloadParams::default(),
            Faults::default(),
            1,
            7,
            seconds(3),
        );
        let workload = workload(&sim);
        let counts = workload.counts();
        assert!(counts.ok > 100, "{counts}");
        assert_eq!(counts.info, counts.pending, "{counts}");
        assert!(counts.pending <= 3, "{counts}");
        assert_well_formed(workload);
        assert_linearizable(workload);
        // Compare-and-set uses the last value seen, so some succeed and some fail.
        let cas: Vec<_> = workload
            .records()
            .iter()
            .filter(|r| r.kind == OpKind::Cas)
            .collect();
        assert!(cas.iter().any(|r| r.status == OpStatus::Ok));
    }

    /// The same seed gives the same run: trace hash and history alike.
    #[test]
    fn the_same_seed_gives_the_same_run() {
        let run = |seed| {
            let faults = Faults {
                not_leader: 0.1,
                drop_after_apply: 0.05,
                ..Faults::default()
            };
            let sim = toy::run(WorkloadParams::default(), faults, 3, seed, seconds(2));
            (sim.trace_hash(), workload(&sim).history_json())
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11).0, run(12).0);
    }

    /// Every write carries a value no other write uses.
    #[test]
    fn written_values_are_unique() {
        let sim = toy::run(
            WorkloadParams::default(),
            Faults::default(),
            1,
            3,
            seconds(2),
        );
        let mut seen = BTreeSet::new();
        for event in workload(&sim).history().events() {
            if event.kind != EventKind::Invoke {
                continue;
            }
            let written = match event.f {
                OpFn::Write | OpFn::Append => event.value.clone(),
                OpFn::Cas => event.value[1].clone(),
                _ => continue,
            };
            assert!(seen.insert(written.to_string()), "{written} written twice");
        }
        assert!(seen.len() > 50);
    }

    /// Followers and a flaky leader answer `NotLeader`; clients follow the hints, back off when
    /// there is none, and still complete operations, retrying the same (client, seq).
    #[test]
    fn redirects_are_followed_to_the_leader() {
        let faults = Faults {
            not_leader: 0.3,
            ..Faults::default()
        };
        let sim = toy::run(WorkloadParams::default(), faults, 3, 5, seconds(3));
        let workload = workload(&sim);
        let counts = workload.counts();
        assert!(counts.ok > 50, "{counts}");
        assert_eq!(counts.info, counts.pending, "{counts}");
        assert!(workload.records().iter().any(|r| r.attempts > 1));
        assert_well_formed(workload);
        assert_linearizable(workload);
    }

    /// Lost requests and answers end in retries, and when `op_timeout` passes, in info; the
    /// client goes on as a fresh process and the history stays well formed and linearizable
    /// (the store's sessions apply each retried write once).
    #[test]
    fn lost_answers_end_in_info_under_a_fresh_process() {
        let faults = Faults {
            drop_after_apply: 0.4,
            drop_before_apply: 0.2,
            ..Faults::default()
        };
        let params = WorkloadParams {
            request_timeout: SimDuration::from_millis(20),
            op_timeout: SimDuration::from_millis(50),
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, faults, 2, 9, seconds(3));
        let workload = workload(&sim);
        let counts = workload.counts();
        assert!(counts.info > counts.pending, "{counts}");
        assert!(counts.ok > 20, "{counts}");
        let processes = workload.history().processes();
        assert!(processes.len() > workload.client_count(), "{processes:?}");
        assert_well_formed(workload);
        assert_linearizable(workload);
    }

    /// A store that never answers: every operation ends in info after `op_timeout`, and each
    /// client moves on under a fresh process each time.
    #[test]
    fn a_silent_store_yields_only_info() {
        let faults = Faults {
            silent_after: Some(SimTime::ZERO),
            ..Faults::default()
        };
        let params = WorkloadParams {
            clients: 2,
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, faults, 1, 1, seconds(5));
        let workload = workload(&sim);
        let counts = workload.counts();
        assert_eq!(counts.ok + counts.fail, 0);
        // Two clients, 2s per operation plus a think time, over 5s.
        assert!(counts.info >= 4, "{counts}");
        let given_up = workload
            .records()
            .iter()
            .filter(|r| r.status == OpStatus::Info);
        assert!(
            given_up.clone().all(|r| r.attempts == 4),
            "{:?}",
            workload.records()
        );
        assert_well_formed(workload);
    }

    /// Wake-ups are shared between a client's deadlines, so the queue holds a few per client
    /// rather than one per operation timeout, request timeout and think time ever armed. Under
    /// lost answers and redirects, where every deadline comes into play.
    #[test]
    fn a_client_keeps_few_wake_ups_pending() {
        let faults = Faults {
            not_leader: 0.1,
            drop_after_apply: 0.2,
            drop_before_apply: 0.1,
            ..Faults::default()
        };
        let params = WorkloadParams {
            clients: 4,
            request_timeout: SimDuration::from_millis(30),
            op_timeout: SimDuration::from_millis(100),
            ..WorkloadParams::default()
        };
        let mut armed_max = 0;
        let mut queue_max = 0;
        let sim = toy::run_observed(params, faults, 3, 8, seconds(5), |sim| {
            let workload = workload(sim);
            for c in &workload.clients {
                armed_max = armed_max.max(c.armed.len());
                assert!(
                    c.armed.iter().all(|&t| t >= sim.now()),
                    "a wake-up was missed"
                );
                assert!(c.armed.windows(2).all(|w| w[0] > w[1]), "{:?}", c.armed);
            }
            queue_max = queue_max.max(sim.queue_len());
        });
        let workload = workload(&sim);
        let counts = workload.counts();
        assert!(counts.ok > 300, "{counts}");
        assert!(counts.info > counts.pending + 10, "{counts}");
        assert!(
            armed_max <= 3,
            "{armed_max} wake-ups pending for one client"
        );
        // Per client: its wake-ups, a request and a reply in flight, a little slack for the
        // requests of earlier attempts.
        assert!(queue_max <= 4 * 6, "{queue_max} events pending");
        assert_well_formed(workload);
        assert_linearizable(workload);
    }

    /// Sharing wake-ups moves no deadline: against a silent store, each attempt times out
    /// `request_timeout` after it was sent and each operation is given up exactly `op_timeout`
    /// after its invoke, even though most wake-ups fire for a deadline that has moved.
    #[test]
    fn timeouts_fire_exactly_on_their_deadlines() {
        let faults = Faults {
            silent_after: Some(SimTime::ZERO),
            ..Faults::default()
        };
        let params = WorkloadParams {
            clients: 3,
            request_timeout: SimDuration::from_millis(300),
            op_timeout: SimDuration::from_millis(1000),
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, faults, 1, 6, seconds(6));
        let given_up: Vec<_> = workload(&sim)
            .records()
            .iter()
            .filter(|r| r.status == OpStatus::Info)
            .collect();
        assert!(given_up.len() >= 12, "{given_up:?}");
        for record in given_up {
            let taken = record
                .completed_at
                .map(|t| t.saturating_since(record.invoked_at));
            assert_eq!(taken, Some(SimDuration::from_millis(1000)), "{record:?}");
            // Sent at 0, 300, 600 and 900ms.
            assert_eq!(record.attempts, 4, "{record:?}");
        }
    }

    /// `max_ops` and `stop_at` bound what clients invoke; `start_after` delays the first.
    #[test]
    fn clients_start_and_stop_when_told() {
        let params = WorkloadParams {
            clients: 2,
            max_ops: Some(5),
            start_after: seconds(1),
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, Faults::default(), 1, 2, seconds(3));
        let records = workload(&sim).records();
        assert_eq!(records.len(), 10);
        assert!(records
            .iter()
            .all(|r| r.invoked_at >= SimTime::ZERO + seconds(1)));
        let params = WorkloadParams {
            stop_at: Some(seconds(1)),
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, Faults::default(), 1, 2, seconds(3));
        let records = workload(&sim).records();
        assert!(records
            .iter()
            .all(|r| r.invoked_at < SimTime::ZERO + seconds(1)));
        assert!(records
            .iter()
            .all(|r| matches!(r.status, OpStatus::Ok | OpStatus::Fail)));
    }

    /// Under zipf the first key is the hottest.
    #[test]
    fn zipf_prefers_the_first_keys() {
        let params = WorkloadParams {
            keys: 4,
            distribution: crate::Distribution::Zipf,
            zipf_exponent: 2.0,
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, Faults::default(), 1, 4, seconds(2));
        let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
        for event in workload(&sim).history().events() {
            *per_key
                .entry(event.key.clone().unwrap_or_default())
                .or_default() += 1;
        }
        assert!(per_key["k0"] > per_key["k1"], "{per_key:?}");
        assert!(
            per_key["k1"] > per_key.get("k3").copied().unwrap_or(0),
            "{per_key:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Whatever the parameters, a correct store (with redirects and lost answers) gives a
        /// well-formed, linearizable history.
        #[test]
        fn toy_histories_are_linearizable_and_well_formed(
            clients in 1usize..5,
            keys in 1usize..4,
            weights in proptest::array::uniform4(0u8..4),
            seed in 0u64..1000,
            not_leader in 0.0f64..0.3,
            lost in 0.0f64..0.3,
            node_count in 1usize..4,
        ) {
            let [get, put, cas, append] = weights.map(f64::from);
            let mix = if get + put + cas + append == 0.0 {
                Mix::default()
            } else {
                Mix { get, put, cas, append }
            };
            let params = WorkloadParams {
                clients,
                keys,
                mix,
                request_timeout: SimDuration::from_millis(30),
                op_timeout: SimDuration::from_millis(100),
                ..WorkloadParams::default()
            };
            prop_assert_eq!(params.validate(node_count), Ok(()));
            let faults = Faults { not_leader, drop_after_apply: lost, ..Faults::default() };
            let sim = toy::run(params, faults, node_count, seed, SimDuration::from_millis(1500));
            let workload = workload(&sim);
            assert_well_formed(workload);
            assert_linearizable(workload);
        }
    }

    #[test]
    fn history_values_follow_the_format() {
        let cas = KvOp::Cas {
            key: "k".into(),
            expected: None,
            new: "c1-2".into(),
        };
        assert_eq!(
            history_invoke(&cas),
            (OpFn::Cas, serde_json::json!([null, "c1-2"]))
        );
        let get = KvOp::Get { key: "k".into() };
        assert_eq!(history_invoke(&get), (OpFn::Read, Value::Null));
    }
}
