//! A lock server of the Raft mode: a `sim_raft::RaftNode` replicating the [`LockMachine`],
//! wrapped so that it lives in a cluster that also holds clients and the resource.
//!
//! The wrapper runs each Raft handler with a context of the Raft replicas alone (replica `i` is
//! the `i`-th server node), and carries its outputs over: messages and timers wrapped, node
//! numbers translated, replies sent back to the client that asked. It stamps each client request
//! with the leader's local time (leases are measured by the leader's clock), proposes the expiry
//! of sessions whose deadline that clock passed, reports every change of who holds what as the
//! replica applies it (`granted`, `freed`), and, on the leader, tells a waiting client when the
//! lock is its (a watch).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sim_core::{Ctx, NodeId, Outputs, Process, RequestId, SimDuration, SimTime, TimerOp};
use sim_raft::{Command, RaftNode, Role, StateMachine};

use crate::config::Config;
use crate::machine::{LockMachine, LockOp, LockRequest, LockResponse, Mode, SERVICE_CLIENT};
use crate::node::{LockEvent, LockMsg, LockNode, LockTimer};

/// How often the leader looks for expired sessions.
pub const EXPIRY_TICK: SimDuration = SimDuration::from_millis(10);
/// How long the leader waits before proposing an expiry again.
const EXPIRY_RETRY: SimDuration = SimDuration::from_millis(200);
/// The most client attempts a server remembers while Raft has not answered them.
const ASKS_MAX: usize = 1024;

type Inner = RaftNode<LockMachine>;
/// Who holds what: `(lock, session)` to `(mode, token)`.
type Held = BTreeMap<(String, u64), (Mode, u64)>;
/// Who waits for what: `(lock, session)`.
type Waiting = BTreeSet<(String, u64)>;

/// One Raft replica of the lock service.
pub struct RaftServer {
    config: Arc<Config>,
    index: usize,
    raft: Inner,
    /// Client attempts waiting for Raft's answer: inner request id to (client node, attempt).
    asks: BTreeMap<u64, (NodeId, u64)>,
    next_ask: u64,
    /// What this replica last reported as held: `(lock, session)` to `(mode, token)`.
    seen: BTreeMap<(String, u64), (Mode, u64)>,
    /// What this replica last saw waiting: `(lock, session)`.
    waiting: BTreeSet<(String, u64)>,
    /// The machine as of `shadow_index`, replayed entry by entry (see `follow_applies`).
    shadow: LockMachine,
    shadow_index: u64,
    /// Sessions whose expiry this node proposed, and when (local time).
    expiring: BTreeMap<u64, SimTime>,
    expiry_seq: u64,
}

impl std::fmt::Debug for RaftServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RaftServer(s{} {} t{})",
            self.index,
            self.raft.role().as_str(),
            self.raft.term()
        )
    }
}

impl RaftServer {
    pub fn new(config: Arc<Config>, index: usize) -> Self {
        let machine = LockMachine::new(config.bugs.clone());
        let raft = RaftNode::with_state_machine(
            NodeId(index as u32),
            config.servers.len(),
            Arc::clone(&config.raft),
            machine.clone(),
        );
        RaftServer {
            config,
            index,
            raft,
            asks: BTreeMap::new(),
            next_ask: 1,
            seen: BTreeMap::new(),
            waiting: BTreeSet::new(),
            shadow: machine,
            shadow_index: 0,
            expiring: BTreeMap::new(),
            expiry_seq: 0,
        }
    }

    /// The replica.
    pub fn raft(&self) -> &Inner {
        &self.raft
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.raft.has_role(role)
    }

    /// The server node of replica `index`.
    fn node_of(&self, index: NodeId) -> NodeId {
        self.config.servers[index.index()]
    }

    /// Runs one Raft handler with a context of the replicas alone, then carries its outputs.
    fn drive(
        &mut self,
        ctx: &mut Ctx<'_, LockNode>,
        handler: impl FnOnce(&mut Inner, &mut Ctx<'_, Inner>),
    ) {
        let mut rng = ctx.rng().clone();
        let mut storage = std::mem::take(ctx.storage());
        let mut out: Outputs<Inner> = Outputs::default();
        {
            let mut inner = Ctx::new(
                NodeId(self.index as u32),
                self.config.servers.len(),
                ctx.local_time(),
                &mut rng,
                &mut storage,
                &mut out,
            );
            handler(&mut self.raft, &mut inner);
        }
        *ctx.rng() = rng;
        *ctx.storage() = storage;
        for (to, msg) in out.sends {
            ctx.send(self.node_of(to), LockMsg::Raft(msg));
        }
        for op in out.timers {
            match op {
                TimerOp::Set { after, timer } => ctx.set_timer(after, LockTimer::Raft(timer)),
                TimerOp::Cancel(timer) => ctx.cancel_timer(LockTimer::Raft(timer)),
            }
        }
        for (RequestId(id), response) in out.replies {
            let Some((client, attempt)) = self.asks.remove(&id) else {
                continue; // an expiry the leader proposed itself
            };
            let response = match response {
                LockResponse::Redirect { to } => LockResponse::Redirect {
                    to: self.node_of(to),
                },
                other => other,
            };
            ctx.send(
                client,
                LockMsg::Reply {
                    id: attempt,
                    response,
                },
            );
        }
        for event in out.events {
            ctx.report(LockEvent::Raft(event));
        }
        self.follow_applies(ctx);
    }

    /// Replays the entries the replica just applied on a shadow of its machine, one at a time,
    /// and reports each entry's changes: a replica that catches up applies many entries in one
    /// handler, and comparing only the states before and after would skip the states between.
    /// When the machine moved without entries (a snapshot installed, a restart restored one),
    /// the shadow takes its state silently: those changes were reported when they were applied.
    fn follow_applies(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        let applied: Vec<(u64, Option<Arc<LockRequest>>)> = self
            .raft
            .applied_now()
            .iter()
            .map(|e| match &e.command {
                Command::Kv(request) => (e.index, Some(Arc::clone(request))),
                Command::Noop => (e.index, None),
            })
            .collect();
        for (index, request) in applied {
            if index != self.shadow_index + 1 {
                break;
            }
            if let Some(request) = request {
                self.shadow.apply(index, &request);
            }
            self.shadow_index = index;
            self.report_changes(ctx);
        }
        if self.shadow_index != self.raft.last_applied() {
            self.shadow = self.raft.kv().clone();
            self.shadow_index = self.raft.last_applied();
            self.take_view();
        }
    }

    /// Who holds and who waits in the shadow machine now.
    fn view(&self) -> (Held, Waiting) {
        let machine = &self.shadow;
        let held = machine
            .holdings()
            .map(|(lock, session, mode, token)| ((lock.to_string(), session), (mode, token)))
            .collect();
        let waiting = machine
            .locks()
            .iter()
            .flat_map(|(name, lock)| lock.waiters.iter().map(move |&(s, _)| (name.clone(), s)))
            .collect();
        (held, waiting)
    }

    fn take_view(&mut self) {
        (self.seen, self.waiting) = self.view();
    }

    /// Reports what changed in who holds what since the last report, and tells the clients the
    /// leader granted a lock to.
    fn report_changes(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        let (now, waiting) = self.view();
        let machine = &self.shadow;
        for (lock, session) in self.waiting.difference(&waiting) {
            if !now.contains_key(&(lock.clone(), *session)) {
                ctx.report(LockEvent::Left {
                    lock: lock.clone(),
                    session: *session,
                });
            }
        }
        self.waiting = waiting;
        if now == self.seen {
            return;
        }
        // Ends first: a release and the grant it hands to a waiter apply in one entry.
        let gone: Vec<((String, u64), u64)> = self
            .seen
            .iter()
            .filter(|(key, held)| now.get(*key) != Some(held))
            .map(|(key, &(_, token))| (key.clone(), token))
            .collect();
        for ((lock, session), token) in gone {
            ctx.report(LockEvent::Freed {
                lock,
                session,
                token,
            });
        }
        let leader = self.raft.role() == Role::Leader;
        for ((lock, session), &(mode, token)) in &now {
            if self.seen.get(&(lock.clone(), *session)) == Some(&(mode, token)) {
                continue;
            }
            let client = machine
                .sessions()
                .get(session)
                .map_or(self.config.resource, |s| s.node);
            ctx.report(LockEvent::Granted {
                lock: lock.clone(),
                session: *session,
                client,
                mode,
                token,
            });
            if leader && client != self.config.resource {
                let notify = LockMsg::Notify {
                    session: *session,
                    lock: lock.clone(),
                    mode,
                    token,
                };
                ctx.send(client, notify);
            }
        }
        self.seen = now;
    }

    /// The leader proposes the end of every session whose deadline its clock passed.
    fn expire_sessions(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        if self.raft.role() != Role::Leader {
            self.expiring.clear();
            return;
        }
        let now = ctx.local_time();
        let due: Vec<u64> = self
            .raft
            .kv()
            .sessions()
            .iter()
            .filter(|(_, s)| s.expires_at <= now)
            .map(|(&id, _)| id)
            .filter(|id| {
                self.expiring
                    .get(id)
                    .is_none_or(|&at| now.saturating_since(at) >= EXPIRY_RETRY)
            })
            .collect();
        let live: BTreeSet<u64> = self.raft.kv().sessions().keys().copied().collect();
        self.expiring.retain(|id, _| live.contains(id));
        for session in due {
            self.expiring.insert(session, now);
            self.expiry_seq += 1;
            let request = LockRequest {
                client: SERVICE_CLIENT,
                seq: (self.raft.term() << 32) | (self.expiry_seq & 0xffff_ffff),
                op: LockOp::Expire { session },
                now,
            };
            let id = self.next_ask;
            self.next_ask += 1;
            self.drive(ctx, |raft, inner| {
                raft.on_request(inner, RequestId(id), request)
            });
        }
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        self.drive(ctx, |raft, inner| raft.on_start(inner));
        ctx.set_timer(EXPIRY_TICK, LockTimer::ExpiryTick);
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, LockNode>, from: NodeId, msg: LockMsg) {
        match msg {
            LockMsg::Raft(msg) => {
                let Some(from) = self.config.servers.iter().position(|&s| s == from) else {
                    return;
                };
                self.drive(ctx, |raft, inner| {
                    raft.on_message(inner, NodeId(from as u32), msg)
                });
            }
            LockMsg::Request {
                id: attempt,
                client,
                seq,
                op,
            } => {
                let request = LockRequest {
                    client,
                    seq,
                    op,
                    now: ctx.local_time(),
                };
                let id = self.next_ask;
                self.next_ask += 1;
                // Raft answers nothing for writes in flight when a leader steps down; the
                // client times out. Keep a bounded record of who asked.
                if self.asks.len() >= ASKS_MAX {
                    self.asks.pop_first();
                }
                self.asks.insert(id, (from, attempt));
                self.drive(ctx, |raft, inner| {
                    raft.on_request(inner, RequestId(id), request)
                });
            }
            _ => {}
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, LockNode>, timer: LockTimer) {
        match timer {
            LockTimer::Raft(timer) => self.drive(ctx, |raft, inner| raft.on_timer(inner, timer)),
            LockTimer::ExpiryTick => {
                self.expire_sessions(ctx);
                ctx.set_timer(EXPIRY_TICK, LockTimer::ExpiryTick);
            }
            _ => {}
        }
    }
}
