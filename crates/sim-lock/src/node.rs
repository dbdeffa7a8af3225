//! The lock family's one process type, [`LockNode`], and what its kinds of node say to each
//! other: lock servers (a Raft replica of the lock service, [`crate::server`], or an
//! independent server of the majority lock, [`crate::majority`]), lock clients
//! ([`crate::client`]) and the protected storage resource ([`crate::resource`]).
//!
//! A simulation runs one process type, so every kind is a variant here and the family builds
//! each node by its kind ([`crate::family`]). Clients are nodes, not a workload, so that they can
//! be paused (a GC pause), crashed and given skewed clocks like any server.

use std::sync::Arc;

use serde::Serialize;
use sim_core::{Ctx, Event, NodeId, Process, SimDuration};
use sim_raft::{Message, RaftEvent};

use crate::client::LockClient;
use crate::config::Config;
use crate::machine::{LockMachine, LockOp, LockResponse, Mode};
use crate::majority::MajorityServer;
use crate::resource::Resource;
use crate::server::RaftServer;

/// What nodes send each other.
#[derive(Debug, Clone, Serialize)]
pub enum LockMsg {
    /// Between Raft replicas of the lock service.
    Raft(Message<LockMachine>),
    /// Client to a Raft server: one operation of its session `client`, numbered `seq`; `id`
    /// names this attempt for the reply.
    Request {
        id: u64,
        client: u64,
        seq: u64,
        op: LockOp,
    },
    /// Server to client: the answer to the attempt `id`.
    Reply {
        id: u64,
        response: LockResponse,
    },
    /// The leader to a waiting client (a watch): the lock is now the session's.
    Notify {
        session: u64,
        lock: String,
        mode: Mode,
        token: u64,
    },
    /// Majority lock: client to one independent server, for attempt `attempt`.
    MajorityAcquire {
        attempt: u64,
        lock: String,
        owner: u64,
        ttl: SimDuration,
    },
    /// Majority lock: the server's answer; `counter` counts the server's grants of the lock.
    MajorityReply {
        attempt: u64,
        granted: bool,
        counter: u64,
    },
    MajorityRelease {
        lock: String,
        owner: u64,
    },
    /// Majority lock: the winner tells every server the token it took, so that each server's
    /// next grant counts past it (tokens of successive holders then grow).
    MajorityFence {
        lock: String,
        token: u64,
    },
    /// Holder to the resource: a write under `token`.
    Write {
        lock: String,
        token: u64,
        client: NodeId,
        value: u64,
    },
    /// The resource's answer: accepted, or refused as fenced off.
    WriteReply {
        value: u64,
        accepted: bool,
    },
}

/// Every node's timers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum LockTimer {
    /// A Raft replica's own timers.
    Raft(sim_raft::Timer),
    /// The leader looks for sessions whose deadline its clock passed.
    ExpiryTick,
    /// A client's outstanding request (or majority attempt) timed out.
    Retry,
    /// A client renews its session.
    KeepAlive,
    /// A client's lease ends by its own clock.
    LeaseEnd,
    /// A client's think time is over: it goes for the lock.
    Think,
    /// A holder's work is done: it writes its result.
    Work,
    /// A holder waited long enough for the resource's answer.
    WriteTimeout,
    /// A waiting client asks again whether the lock is its (in case the notification was lost).
    Poll,
}

/// What nodes report: for the trace, the checks, and faults aimed at moments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LockEvent {
    /// A Raft replica's own events (`became_leader`, ...).
    Raft(RaftEvent),
    /// A replica applied a grant: `session` (of client node `client`) holds `lock`.
    Granted {
        lock: String,
        session: u64,
        client: NodeId,
        mode: Mode,
        token: u64,
    },
    /// A replica applied the end of a holding: a release or an expiry.
    Freed {
        lock: String,
        session: u64,
        token: u64,
    },
    /// A replica applied the end of a session's wait for `lock` without a grant (it expired).
    Left { lock: String, session: u64 },
    /// A client starts believing it holds `lock` under `token`.
    Believes {
        lock: String,
        mode: Mode,
        token: u64,
    },
    /// A client stops believing it holds `lock` (`why`: released, lease expired, session lost).
    Doubts {
        lock: String,
        token: u64,
        why: &'static str,
    },
    /// The resource accepted a write.
    Accepted {
        lock: String,
        token: u64,
        client: NodeId,
        value: u64,
    },
    /// The resource refused a write whose token is lower than one it accepted.
    Rejected {
        lock: String,
        token: u64,
        client: NodeId,
        highest: u64,
    },
    /// A client opened a session (Raft mode).
    SessionOpened { session: u64 },
    /// A client completed one operation on the service, for the history
    /// ([`crate::history`]).
    Op(crate::history::OpRecord),
}

impl LockEvent {
    /// The lock family's own names; Raft's come from [`RaftEvent::NAMES`].
    pub const NAMES: [&'static str; 9] = [
        "granted",
        "freed",
        "left",
        "believes",
        "doubts",
        "accepted",
        "rejected",
        "session_opened",
        "op",
    ];
}

impl Event for LockEvent {
    fn name(&self) -> &'static str {
        match self {
            LockEvent::Raft(e) => e.name(),
            LockEvent::Granted { .. } => "granted",
            LockEvent::Freed { .. } => "freed",
            LockEvent::Left { .. } => "left",
            LockEvent::Believes { .. } => "believes",
            LockEvent::Doubts { .. } => "doubts",
            LockEvent::Accepted { .. } => "accepted",
            LockEvent::Rejected { .. } => "rejected",
            LockEvent::SessionOpened { .. } => "session_opened",
            LockEvent::Op(_) => "op",
        }
    }
}

/// A node of any kind.
#[derive(Debug)]
pub enum LockNode {
    Server(Box<RaftServer>),
    Majority(MajorityServer),
    Client(Box<LockClient>),
    Resource(Resource),
}

impl LockNode {
    /// Builds `node` by its place in `config`.
    pub fn build(config: &Arc<Config>, node: NodeId) -> LockNode {
        if let Some(index) = config.servers.iter().position(|&s| s == node) {
            return match config.mode {
                crate::config::ServiceMode::Raft => {
                    LockNode::Server(Box::new(RaftServer::new(Arc::clone(config), index)))
                }
                crate::config::ServiceMode::Majority => {
                    LockNode::Majority(MajorityServer::default())
                }
            };
        }
        if node == config.resource {
            return LockNode::Resource(Resource::new(Arc::clone(config)));
        }
        LockNode::Client(Box::new(LockClient::new(Arc::clone(config))))
    }

    /// The Raft replica, if this is one.
    pub fn raft_server(&self) -> Option<&RaftServer> {
        match self {
            LockNode::Server(s) => Some(s),
            _ => None,
        }
    }

    /// The client, if this is one.
    pub fn client(&self) -> Option<&LockClient> {
        match self {
            LockNode::Client(c) => Some(c),
            _ => None,
        }
    }
}

impl Process for LockNode {
    type Msg = LockMsg;
    type Timer = LockTimer;
    /// Clients are nodes and speak by messages; nothing arrives through the request interface.
    type Request = ();
    type Response = ();
    /// The Raft replicas' durable state; the resource keeps its highest token in it too.
    type Durable = sim_raft::Durable<LockMachine>;
    type Event = LockEvent;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            LockNode::Server(s) => s.on_start(ctx),
            LockNode::Majority(_) => {}
            LockNode::Client(c) => c.on_start(ctx),
            LockNode::Resource(r) => r.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: LockMsg) {
        match self {
            LockNode::Server(s) => s.on_message(ctx, from, msg),
            LockNode::Majority(m) => m.on_message(ctx, from, msg),
            LockNode::Client(c) => c.on_message(ctx, from, msg),
            LockNode::Resource(r) => r.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: LockTimer) {
        match self {
            LockNode::Server(s) => s.on_timer(ctx, timer),
            LockNode::Client(c) => c.on_timer(ctx, timer),
            LockNode::Majority(_) | LockNode::Resource(_) => {}
        }
    }

    fn has_role(&self, role: &str) -> bool {
        match self {
            LockNode::Server(s) => s.has_role(role),
            LockNode::Client(c) => role == "holder" && c.holding().is_some(),
            LockNode::Majority(_) | LockNode::Resource(_) => false,
        }
    }
}
