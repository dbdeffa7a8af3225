//! What the nodes and clients of the family exchange: transaction identities, messages, timers,
//! client requests and replies, durable records and reported events.

use std::collections::BTreeMap;

use serde::Serialize;
use sim_core::{Event, NodeId, SimTime};

/// An account, numbered from 0; account `a` lives on participant `a mod P`.
pub type Account = u32;

/// A transaction (or saga): the coordinator that runs it, that coordinator's incarnation (bumped
/// durably on every start, so a restarted coordinator never reuses an id) and a sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TxnId {
    pub coordinator: NodeId,
    pub epoch: u64,
    pub seq: u64,
}

impl std::fmt::Display for TxnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.coordinator, self.epoch, self.seq)
    }
}

/// Wait-die priority: the smaller is older, and an older transaction may wait for a younger one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Priority {
    pub started: SimTime,
    pub txn: TxnId,
}

/// A decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Outcome {
    Commit,
    Abort,
}

/// What a transaction does at one participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Step {
    /// Take `amount` from `account` (refused if the balance is short).
    Debit { account: Account, amount: i64 },
    /// Add `amount` to `account` (refused if it would pass the balance cap).
    Credit { account: Account, amount: i64 },
    /// Read `account` (an audit).
    Read { account: Account },
}

impl Step {
    pub fn account(&self) -> Account {
        match *self {
            Step::Debit { account, .. } | Step::Credit { account, .. } | Step::Read { account } => {
                account
            }
        }
    }

    pub fn writes(&self) -> bool {
        !matches!(self, Step::Read { .. })
    }
}

/// A client's operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TxnOp {
    Transfer {
        from: Account,
        to: Account,
        amount: i64,
    },
    /// Read every account in one transaction.
    Audit,
}

/// A client request: the operation and the client's key for it (session, sequence), the same
/// on every attempt, so a coordinator runs a retried operation at most once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TxnRequest {
    pub session: u64,
    pub seq: u64,
    pub op: TxnOp,
}

/// A node's answer to a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TxnReply {
    /// Committed; an audit carries the total it read.
    Committed { total: Option<i64> },
    /// Certainly not applied, and why (`"funds"`, `"cap"`, `"conflict"`, `"timeout"`).
    Aborted { reason: &'static str },
    /// Ask this coordinator instead.
    Redirect { to: NodeId },
    /// Recovering: try again later.
    Unavailable,
}

/// Messages between coordinators and participants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Msg {
    /// 2PC phase one: prepare these steps; `participants` lets a participant ask its peers.
    Prepare {
        txn: TxnId,
        priority: Priority,
        steps: Vec<Step>,
        participants: Vec<NodeId>,
    },
    /// The vote; a yes carries what the steps read.
    Vote {
        txn: TxnId,
        yes: bool,
        reads: Vec<(Account, i64)>,
        reason: &'static str,
    },
    /// The decision, from the coordinator or (cooperative termination) from a peer.
    Decision { txn: TxnId, outcome: Outcome },
    /// A participant applied a commit durably.
    Ack { txn: TxnId },
    /// A prepared participant asks what was decided.
    Inquire { txn: TxnId },
    /// Saga: run one local step, once (idempotent by `(saga, index)`).
    Local { saga: TxnId, index: u32, step: Step },
    /// Saga: the result of a local step.
    LocalDone {
        saga: TxnId,
        index: u32,
        ok: bool,
        read: Option<i64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Timer {
    /// Coordinator: votes not all in; abort.
    VoteTimeout(TxnId),
    /// Coordinator: the COMMIT record is on disk; send it.
    SendDecision(TxnId),
    /// Coordinator: resend decisions not acknowledged, and saga steps not answered.
    Resend,
    /// Participant: a prepare waiting for locks gives up.
    LockTimeout(TxnId),
    /// Participant: ask about prepared transactions still undecided.
    Inquire,
}

/// A durable record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Durable {
    Balance(i64),
    /// Coordinator: its incarnation.
    Epoch(u64),
    /// Coordinator: COMMIT, with what it must resend and answer.
    Commit(CommitRecord),
    /// Participant: PREPARED, with its writes and locks.
    Prepared(PreparedRecord),
    /// Participant: the decisions it knows of [`CHUNK`](crate::decisions::CHUNK) transactions
    /// of one coordinator incarnation, two bits each (see [`crate::decisions`]).
    Decisions {
        coordinator: NodeId,
        epoch: u64,
        chunk: u64,
        bits: Vec<u8>,
    },
    /// Saga coordinator: the saga and how far it got.
    Saga(SagaRecord),
    /// Participant: a saga step it ran, and its result.
    LocalDone {
        ok: bool,
        read: Option<i64>,
    },
}

impl Durable {
    /// The storage key of a transaction's record: `c/` (coordinator COMMIT), `p/` (participant
    /// PREPARED), `s/` (saga). A participant's decisions are under `d/`, by chunk
    /// ([`crate::decisions`]).
    pub fn key(kind: &str, txn: TxnId) -> String {
        format!("{kind}/{txn}")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRecord {
    pub txn: TxnId,
    pub participants: Vec<NodeId>,
    pub session: u64,
    pub seq: u64,
    pub total: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedRecord {
    pub txn: TxnId,
    pub coordinator: NodeId,
    pub participants: Vec<NodeId>,
    pub priority: Priority,
    pub steps: Vec<Step>,
    /// The balances the transaction writes, applied on commit.
    pub writes: BTreeMap<Account, i64>,
    pub reads: Vec<(Account, i64)>,
}

/// A saga in the coordinator's log: its steps, how many have been done forward, and whether it
/// is compensating (running the compensations of the done steps backwards).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaRecord {
    pub saga: TxnId,
    pub session: u64,
    pub seq: u64,
    pub op: TxnOp,
    pub done: u32,
    pub compensating: bool,
    /// Compensations already done, counted from the last forward step.
    pub undone: u32,
    /// Set when the saga ended: completed (true) or compensated (false). Kept, so that a
    /// client's retry after a coordinator restart is answered rather than run again.
    pub finished: Option<bool>,
    /// What the saga answered or will answer (an audit's total).
    pub total: Option<i64>,
}

/// What nodes report, for the checks, the blocking figures and faults aimed at a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TxnEvent {
    /// Coordinator: a client's transaction began; prepares go out after this handler.
    Began { txn: TxnId },
    /// Coordinator: every vote is in and yes, the COMMIT record is not yet written.
    VotesIn { txn: TxnId },
    /// Coordinator: COMMIT is on disk; the decision has not been sent.
    CommitLogged {
        txn: TxnId,
        participants: Vec<NodeId>,
    },
    /// Coordinator: the decision went out.
    DecisionSent { txn: TxnId, outcome: Outcome },
    /// Coordinator: abort decided (a no vote, a timeout), or presumed for a transaction it has
    /// no record of.
    Aborted { txn: TxnId, presumed: bool },
    /// Coordinator: every participant acknowledged the commit; the transaction is forgotten.
    Ended { txn: TxnId },
    /// Coordinator, after a restart: resumed from the log.
    Recovered { commits: u32 },
    /// Participant: PREPARED is on disk and the yes vote is sent.
    Prepared {
        txn: TxnId,
        writes: Vec<(Account, i64)>,
    },
    /// Participant: voted no (the reason), or gave up before voting.
    VotedNo { txn: TxnId, reason: &'static str },
    /// Participant: a prepare waits for a lock a prepared transaction holds.
    LockWait { txn: TxnId, holder: TxnId },
    /// Participant: learned the decision of a prepared transaction (and applied a commit).
    Learned {
        txn: TxnId,
        outcome: Outcome,
        /// From a peer participant (cooperative termination) rather than the coordinator.
        from_peer: bool,
    },
    /// Participant, after a restart: prepared transactions it recovered, still undecided.
    Restarted { in_doubt: u32 },
    /// Saga: a local step applied at a participant, with the balance it wrote.
    LocalApplied {
        saga: TxnId,
        index: u32,
        account: Account,
        balance: i64,
    },
    /// Saga coordinator: the saga completed, or finished compensating.
    SagaFinished { saga: TxnId, completed: bool },
    /// An audit committed (2PC) or finished (saga) reading this total.
    Audited { txn: TxnId, total: i64 },
}

impl TxnEvent {
    pub const NAMES: [&'static str; 15] = [
        "began",
        "votes_in",
        "commit_logged",
        "decision_sent",
        "aborted",
        "ended",
        "recovered",
        "prepared",
        "voted_no",
        "lock_wait",
        "learned",
        "restarted",
        "local_applied",
        "saga_finished",
        "audited",
    ];
}

impl Event for TxnEvent {
    fn name(&self) -> &'static str {
        match self {
            TxnEvent::Began { .. } => "began",
            TxnEvent::VotesIn { .. } => "votes_in",
            TxnEvent::CommitLogged { .. } => "commit_logged",
            TxnEvent::DecisionSent { .. } => "decision_sent",
            TxnEvent::Aborted { .. } => "aborted",
            TxnEvent::Ended { .. } => "ended",
            TxnEvent::Recovered { .. } => "recovered",
            TxnEvent::Prepared { .. } => "prepared",
            TxnEvent::VotedNo { .. } => "voted_no",
            TxnEvent::LockWait { .. } => "lock_wait",
            TxnEvent::Learned { .. } => "learned",
            TxnEvent::Restarted { .. } => "restarted",
            TxnEvent::LocalApplied { .. } => "local_applied",
            TxnEvent::SagaFinished { .. } => "saga_finished",
            TxnEvent::Audited { .. } => "audited",
        }
    }
}
