//! A lock client: a node that opens a session, goes for a lock, works while it believes it holds
//! it, writes its results to the resource under its fencing token, and releases it.
//!
//! It believes it holds the lock from the grant until its lease runs out by its own clock (or it
//! releases the lock, or learns its session is gone). The lease is measured from when it sent
//! the request that set it, so that with honest clocks the client stops believing before the
//! service stops honouring. What it cannot notice is time it did not run: a holder checks its
//! lease, works for a while, then writes, and a pause in between (a GC pause) makes the write
//! late; meanwhile it still "believes" (nothing ran to tell it otherwise). Fencing is what
//! protects the resource from that write.
//!
//! In Raft mode a client speaks to the service one request at a time (`(session, seq)`, retried
//! with the same number on a timeout, sent to the next server, redirects followed) and keeps its
//! session alive; a client that loses its session opens a new one. In majority mode it asks every
//! independent server for the lock and holds it when a majority granted it within the TTL, for
//! `ttl - elapsed - drift allowance`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::Rng;
use sim_core::{rng, Ctx, NodeId, SimDuration, SimTime};

use crate::config::{Config, ServiceMode};
use crate::history::{OpKind, OpRecord, Phase};
use crate::machine::{LockOp, LockResponse, Mode};
use crate::node::{LockEvent, LockMsg, LockNode, LockTimer};

/// How long a waiting client waits for a notification before it asks again.
const POLL: SimDuration = SimDuration::from_millis(500);
/// How long a holder waits for the resource before it moves on.
const WRITE_TIMEOUT: SimDuration = SimDuration::from_millis(100);
/// How long a client waits before trying a server that answered unavailable.
const UNAVAILABLE_BACKOFF: SimDuration = SimDuration::from_millis(30);

/// What the client's one outstanding request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Open,
    KeepAlive,
    Acquire,
    Release,
    CounterGet,
    CounterCas,
}

/// The outstanding request.
#[derive(Debug, Clone)]
struct Pending {
    attempt: u64,
    seq: u64,
    op: LockOp,
    purpose: Purpose,
    /// Local time of the first attempt: leases are measured from it.
    first_sent: SimTime,
    /// The operation as the history names it, if it is one.
    kind: Option<OpKind>,
}

/// The lock the client believes it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub lock: String,
    pub mode: Mode,
    pub token: u64,
}

/// A majority-lock attempt in progress.
#[derive(Debug, Clone)]
struct Attempt {
    id: u64,
    lock: String,
    started: SimTime,
    granted: BTreeSet<NodeId>,
    answered: BTreeSet<NodeId>,
    counter: u64,
}

/// One lock client.
#[derive(Debug)]
pub struct LockClient {
    config: Arc<Config>,
    /// The session (Raft mode), its id also the client id the service dedupes by.
    session: Option<u64>,
    client_id: u64,
    seq: u64,
    target: usize,
    pending: Option<Pending>,
    next_attempt: u64,
    /// When the lease ends, by this client's clock.
    lease_until: Option<SimTime>,
    holding: Option<Holding>,
    /// The newest token this client held each lock under: a grant notice with a token no newer
    /// is a late copy of one it already acted on (tokens grow with every grant).
    held_tokens: BTreeMap<String, u64>,
    waiting: Option<(String, Mode)>,
    writes_left: u32,
    writing: bool,
    next_value: u64,
    keepalive_due: bool,
    /// A release waiting for the outstanding request (sessions are sequential).
    release_due: Option<String>,
    /// The think time ran out while a request was out: the acquire follows its answer.
    acquire_due: bool,
    majority: Option<Attempt>,
}

impl LockClient {
    pub fn new(config: Arc<Config>) -> Self {
        LockClient {
            config,
            session: None,
            client_id: 0,
            seq: 0,
            target: 0,
            pending: None,
            next_attempt: 1,
            lease_until: None,
            holding: None,
            held_tokens: BTreeMap::new(),
            waiting: None,
            writes_left: 0,
            writing: false,
            next_value: 0,
            keepalive_due: false,
            release_due: None,
            acquire_due: false,
            majority: None,
        }
    }

    /// The lock it believes it holds.
    pub fn holding(&self) -> Option<&Holding> {
        self.holding.as_ref()
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        // Values written are unique per incarnation: the node number in the high bits.
        let salt = ctx.rng().gen::<u64>() & 0xff_ffff;
        self.next_value = (u64::from(ctx.id().0) << 40) | (salt << 16);
        match self.config.mode {
            ServiceMode::Raft => self.open_session(ctx),
            ServiceMode::Majority => self.think(ctx),
        }
    }

    fn think(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        let [low, high] = self.config.think;
        let after = rng::between(ctx.rng(), low.as_nanos(), high.as_nanos());
        ctx.set_timer(SimDuration::from_nanos(after), LockTimer::Think);
    }

    // ----- Raft mode: requests -----

    fn open_session(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        // A fresh id for every session: the service dedupes by it, and an old session's
        // numbers must not collide with the new one's. Below 2^63: the history numbers the
        // service's own steps above it.
        self.client_id = (ctx.rng().gen::<u64>() >> 1) | 1;
        self.session = None;
        self.seq = 0;
        let op = LockOp::OpenSession {
            node: ctx.id(),
            ttl: self.config.ttl,
        };
        self.send_new(ctx, op, Purpose::Open, None);
    }

    fn send_new(
        &mut self,
        ctx: &mut Ctx<'_, LockNode>,
        op: LockOp,
        purpose: Purpose,
        kind: Option<OpKind>,
    ) {
        self.seq += 1;
        let pending = Pending {
            attempt: 0,
            seq: self.seq,
            op,
            purpose,
            first_sent: ctx.local_time(),
            kind: kind.clone(),
        };
        if let Some(kind) = kind {
            self.record(ctx, self.seq, kind, Phase::Invoke);
        }
        self.pending = Some(pending);
        self.resend(ctx);
    }

    fn resend(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        let attempt = self.next_attempt;
        self.next_attempt += 1;
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        pending.attempt = attempt;
        let msg = LockMsg::Request {
            id: attempt,
            client: self.client_id,
            seq: pending.seq,
            op: pending.op.clone(),
        };
        let server = self.config.servers[self.target % self.config.servers.len()];
        ctx.send(server, msg);
        ctx.set_timer(self.config.request_timeout, LockTimer::Retry);
    }

    fn record(&self, ctx: &mut Ctx<'_, LockNode>, seq: u64, kind: OpKind, phase: Phase) {
        let record = OpRecord {
            session: self.client_id,
            seq,
            kind,
            phase,
        };
        ctx.report(LockEvent::Op(record));
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, LockNode>, id: u64, response: LockResponse) {
        let Some(pending) = self.pending.as_ref().filter(|p| p.attempt == id) else {
            return; // the answer to an attempt the client already gave up on
        };
        match response {
            LockResponse::Redirect { to } => {
                if let Some(i) = self.config.servers.iter().position(|&s| s == to) {
                    self.target = i;
                }
                return self.resend(ctx);
            }
            LockResponse::Unavailable => {
                self.target += 1;
                ctx.set_timer(UNAVAILABLE_BACKOFF, LockTimer::Retry);
                return;
            }
            _ => {}
        }
        let pending = pending.clone();
        self.pending = None;
        ctx.cancel_timer(LockTimer::Retry);
        if let Some(kind) = pending.kind.clone() {
            self.record(ctx, pending.seq, kind, Phase::Ok(response.clone()));
        }
        if response == LockResponse::NoSession {
            return self.lose_session(ctx, "session lost");
        }
        self.answered(ctx, &pending, response);
        self.next_request(ctx);
    }

    /// What the client does with the answer to its request.
    fn answered(&mut self, ctx: &mut Ctx<'_, LockNode>, pending: &Pending, response: LockResponse) {
        match (pending.purpose, response) {
            (Purpose::Open, LockResponse::Alive { .. }) => {
                self.session = Some(self.client_id);
                ctx.report(LockEvent::SessionOpened {
                    session: self.client_id,
                });
                self.extend_lease(ctx, pending.first_sent);
                ctx.set_timer(self.config.keepalive, LockTimer::KeepAlive);
                self.think(ctx);
            }
            (Purpose::KeepAlive, LockResponse::Alive { .. }) => {
                self.extend_lease(ctx, pending.first_sent);
            }
            (Purpose::Acquire, LockResponse::Granted { token }) => {
                if let Some((lock, mode)) = self.waiting.take() {
                    self.hold(ctx, lock, mode, token);
                }
            }
            (Purpose::Acquire, LockResponse::Queued) => {
                if self.waiting.is_some() {
                    ctx.set_timer(POLL, LockTimer::Poll);
                }
            }
            (Purpose::Acquire, _) => {
                self.waiting = None;
                self.think(ctx);
            }
            (Purpose::Release, _) => self.after_release(ctx),
            (Purpose::CounterGet, LockResponse::Counter { value }) => {
                let op = LockOp::CounterCas {
                    expected: value,
                    new: value + 1,
                };
                let kind = OpKind::CounterCas {
                    expected: value,
                    new: value + 1,
                };
                self.send_new(ctx, op, Purpose::CounterCas, Some(kind));
            }
            _ => self.think(ctx),
        }
    }

    /// Sends a release, a keep-alive or an acquire that waited for the previous request.
    fn next_request(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        if self.pending.is_some() || self.session.is_none() {
            return;
        }
        if let Some(lock) = self.release_due.take() {
            let op = LockOp::Release { lock: lock.clone() };
            let kind = OpKind::Release { lock };
            return self.send_new(ctx, op, Purpose::Release, Some(kind));
        }
        // The acquire before the keep-alive: keep-alives fall due every period, and one sent
        // ahead of the acquire each time could put it off for ever.
        if std::mem::take(&mut self.acquire_due) && self.idle() {
            return self.acquire(ctx);
        }
        if self.keepalive_due {
            self.keepalive_due = false;
            self.send_new(ctx, LockOp::KeepAlive, Purpose::KeepAlive, None);
        }
    }

    fn extend_lease(&mut self, ctx: &mut Ctx<'_, LockNode>, sent: SimTime) {
        let until = sent.saturating_add(self.config.ttl);
        if self.lease_until.is_none_or(|u| until > u) {
            self.lease_until = Some(until);
            let after = until.saturating_since(ctx.local_time());
            ctx.set_timer(after, LockTimer::LeaseEnd);
        }
    }

    fn lease_valid(&self, now: SimTime) -> bool {
        self.lease_until.is_some_and(|u| now < u)
    }

    /// The client's lease ran out, or the service says its session is gone: it stops believing,
    /// and (Raft mode) opens a new session.
    fn lose_session(&mut self, ctx: &mut Ctx<'_, LockNode>, why: &'static str) {
        self.doubt(ctx, why);
        self.waiting = None;
        self.release_due = None;
        self.keepalive_due = false;
        self.acquire_due = false;
        self.lease_until = None;
        if let Some(pending) = self.pending.take() {
            if let Some(kind) = pending.kind {
                self.record(ctx, pending.seq, kind, Phase::Info);
            }
        }
        ctx.cancel_timer(LockTimer::Retry);
        ctx.cancel_timer(LockTimer::Poll);
        match self.config.mode {
            ServiceMode::Raft => self.open_session(ctx),
            ServiceMode::Majority => self.think(ctx),
        }
    }

    fn doubt(&mut self, ctx: &mut Ctx<'_, LockNode>, why: &'static str) {
        if let Some(h) = self.holding.take() {
            ctx.report(LockEvent::Doubts {
                lock: h.lock,
                token: h.token,
                why,
            });
        }
        self.writing = false;
        ctx.cancel_timer(LockTimer::Work);
        ctx.cancel_timer(LockTimer::WriteTimeout);
    }

    fn acquire(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        let locks = &self.config.locks;
        let lock = locks[rng::between(ctx.rng(), 0, locks.len() as u64 - 1) as usize].clone();
        if self.config.mode == ServiceMode::Majority {
            return self.majority_acquire(ctx, lock);
        }
        let mode = if rng::chance(ctx.rng(), self.config.read_fraction) {
            Mode::Read
        } else {
            Mode::Write
        };
        self.waiting = Some((lock.clone(), mode));
        let op = LockOp::Acquire {
            lock: lock.clone(),
            mode,
            wait: true,
        };
        let kind = OpKind::Acquire { lock, mode };
        self.send_new(ctx, op, Purpose::Acquire, Some(kind));
    }

    // ----- Holding -----

    fn hold(&mut self, ctx: &mut Ctx<'_, LockNode>, lock: String, mode: Mode, token: u64) {
        ctx.cancel_timer(LockTimer::Poll);
        let held = self.held_tokens.entry(lock.clone()).or_insert(token);
        *held = (*held).max(token);
        ctx.report(LockEvent::Believes {
            lock: lock.clone(),
            mode,
            token,
        });
        self.holding = Some(Holding { lock, mode, token });
        self.writes_left = self.config.writes_per_hold;
        self.start_work(ctx);
    }

    /// Checks the lease, then works; the write follows the work without a second look (the
    /// check-then-act window a pause falls into).
    fn start_work(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        if !self.lease_valid(ctx.local_time()) {
            return self.lose_session(ctx, "lease expired");
        }
        if self.writes_left == 0 {
            return self.release(ctx);
        }
        self.writes_left -= 1;
        ctx.set_timer(self.config.work, LockTimer::Work);
    }

    fn write(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        let Some(h) = &self.holding else {
            return;
        };
        if h.mode == Mode::Read {
            // Readers only look; their holding still counts for exclusion and belief.
            return self.start_work(ctx);
        }
        self.next_value += 1;
        let msg = LockMsg::Write {
            lock: h.lock.clone(),
            token: h.token,
            client: ctx.id(),
            value: self.next_value,
        };
        ctx.send(self.config.resource, msg);
        self.writing = true;
        ctx.set_timer(WRITE_TIMEOUT, LockTimer::WriteTimeout);
    }

    fn release(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        let Some(h) = self.holding.clone() else {
            return;
        };
        self.doubt(ctx, "released");
        match self.config.mode {
            ServiceMode::Raft => {
                // Sessions are sequential: a release waits for the request that is out.
                self.release_due = Some(h.lock);
                self.next_request(ctx);
            }
            ServiceMode::Majority => {
                self.majority_release(ctx, &h.lock);
                self.think(ctx);
            }
        }
    }

    fn after_release(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        if rng::chance(ctx.rng(), self.config.counter_fraction) {
            self.send_new(
                ctx,
                LockOp::CounterGet,
                Purpose::CounterGet,
                Some(OpKind::CounterGet),
            );
        } else {
            self.think(ctx);
        }
    }

    // ----- Majority mode -----

    fn majority_acquire(&mut self, ctx: &mut Ctx<'_, LockNode>, lock: String) {
        let id = self.next_attempt;
        self.next_attempt += 1;
        self.client_id = ctx.rng().gen::<u64>() | 1;
        for &server in &self.config.servers {
            let msg = LockMsg::MajorityAcquire {
                attempt: id,
                lock: lock.clone(),
                owner: self.client_id,
                ttl: self.config.ttl,
            };
            ctx.send(server, msg);
        }
        self.majority = Some(Attempt {
            id,
            lock,
            started: ctx.local_time(),
            granted: BTreeSet::new(),
            answered: BTreeSet::new(),
            counter: 0,
        });
        ctx.set_timer(self.config.request_timeout, LockTimer::Retry);
    }

    fn majority_reply(
        &mut self,
        ctx: &mut Ctx<'_, LockNode>,
        from: NodeId,
        attempt: u64,
        granted: bool,
        counter: u64,
    ) {
        let Some(a) = self.majority.as_mut().filter(|a| a.id == attempt) else {
            return;
        };
        a.answered.insert(from);
        a.counter = a.counter.max(counter);
        if granted {
            a.granted.insert(from);
        }
        if a.granted.len() >= self.config.majority() {
            let Some(a) = self.majority.take() else {
                return;
            };
            ctx.cancel_timer(LockTimer::Retry);
            self.majority_won(ctx, a);
        } else if a.answered.len() == self.config.servers.len() {
            let lock = a.lock.clone();
            self.majority = None;
            ctx.cancel_timer(LockTimer::Retry);
            self.majority_release(ctx, &lock);
            self.think(ctx);
        }
    }

    /// A majority granted the lock: it is valid for `ttl - elapsed - drift allowance`, if that
    /// is anything (the design notes' rule); the token is the highest counter the answers
    /// carried, announced to every server so that later grants count past it.
    fn majority_won(&mut self, ctx: &mut Ctx<'_, LockNode>, a: Attempt) {
        let now = ctx.local_time();
        let elapsed = now.saturating_since(a.started);
        let validity = self
            .config
            .ttl
            .as_nanos()
            .saturating_sub(elapsed.as_nanos())
            .saturating_sub(self.config.drift_allowance.as_nanos());
        if validity == 0 {
            self.majority_release(ctx, &a.lock);
            return self.think(ctx);
        }
        for &server in &self.config.servers {
            let fence = LockMsg::MajorityFence {
                lock: a.lock.clone(),
                token: a.counter,
            };
            ctx.send(server, fence);
        }
        let until = now.saturating_add(SimDuration::from_nanos(validity));
        self.lease_until = Some(until);
        ctx.set_timer(SimDuration::from_nanos(validity), LockTimer::LeaseEnd);
        self.hold(ctx, a.lock, Mode::Write, a.counter);
    }

    fn majority_release(&mut self, ctx: &mut Ctx<'_, LockNode>, lock: &str) {
        for &server in &self.config.servers {
            let msg = LockMsg::MajorityRelease {
                lock: lock.to_string(),
                owner: self.client_id,
            };
            ctx.send(server, msg);
        }
    }

    // ----- Handlers -----

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, LockNode>, from: NodeId, msg: LockMsg) {
        match msg {
            LockMsg::Reply { id, response } => self.on_reply(ctx, id, response),
            LockMsg::Notify {
                session,
                lock,
                mode,
                token,
            } => {
                let ours = self.session == Some(session)
                    && self.waiting.as_ref() == Some(&(lock.clone(), mode));
                // A notice delayed past the grant it announced (acted on, the lock since
                // released and asked for again) must not be taken for a new grant.
                let fresh = self.held_tokens.get(&lock).is_none_or(|&held| token > held);
                if ours && fresh && self.holding.is_none() {
                    self.waiting = None;
                    self.hold(ctx, lock, mode, token);
                }
            }
            LockMsg::MajorityReply {
                attempt,
                granted,
                counter,
            } => self.majority_reply(ctx, from, attempt, granted, counter),
            LockMsg::WriteReply { .. } if self.writing => {
                self.writing = false;
                ctx.cancel_timer(LockTimer::WriteTimeout);
                self.start_work(ctx);
            }
            _ => {}
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, LockNode>, timer: LockTimer) {
        match timer {
            LockTimer::Retry => self.on_retry(ctx),
            LockTimer::KeepAlive => {
                if self.session.is_some() {
                    self.keepalive_due = true;
                    self.next_request(ctx);
                    ctx.set_timer(self.config.keepalive, LockTimer::KeepAlive);
                }
            }
            LockTimer::LeaseEnd => {
                let now = ctx.local_time();
                if self.lease_until.is_some() && !self.lease_valid(now) {
                    self.lose_session(ctx, "lease expired");
                }
            }
            LockTimer::Think => self.on_think(ctx),
            LockTimer::Work => self.write(ctx),
            LockTimer::WriteTimeout => {
                if self.writing {
                    self.writing = false;
                    self.start_work(ctx);
                }
            }
            LockTimer::Poll => self.on_poll(ctx),
            LockTimer::Raft(_) | LockTimer::ExpiryTick => {}
        }
    }

    /// Neither holding, nor waiting for, nor going for a lock.
    fn idle(&self) -> bool {
        self.holding.is_none() && self.waiting.is_none() && self.majority.is_none()
    }

    /// The think time ran out: go for a lock. In Raft mode a request that is out (a keep-alive,
    /// every quarter ttl) goes first and the acquire follows its answer; thinking again instead
    /// could fall on a keep-alive in flight every time, and the client would never ask.
    fn on_think(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        if !self.idle() {
            return;
        }
        match self.config.mode {
            ServiceMode::Majority => self.acquire(ctx),
            ServiceMode::Raft if self.session.is_none() => self.think(ctx),
            ServiceMode::Raft if self.pending.is_some() => self.acquire_due = true,
            ServiceMode::Raft => self.acquire(ctx),
        }
    }

    /// A waiting client asks again whether the lock is its, in case the notification was lost.
    fn on_poll(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        let Some((lock, mode)) = self.waiting.clone() else {
            return;
        };
        if self.pending.is_some() {
            // Soon, not a whole poll later: keep-alives come every quarter ttl, and a poll
            // deferred by whole periods can fall on a keep-alive in flight every time.
            return ctx.set_timer(UNAVAILABLE_BACKOFF, LockTimer::Poll);
        }
        let op = LockOp::Acquire {
            lock: lock.clone(),
            mode,
            wait: true,
        };
        let kind = OpKind::Acquire { lock, mode };
        self.send_new(ctx, op, Purpose::Acquire, Some(kind));
    }

    fn on_retry(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        if self.config.mode == ServiceMode::Majority {
            if let Some(a) = self.majority.take() {
                self.majority_release(ctx, &a.lock);
                self.think(ctx);
            }
            return;
        }
        if self.pending.is_some() {
            self.target += 1;
            self.resend(ctx);
        }
    }
}
