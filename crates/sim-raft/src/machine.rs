//! The replicated state machine's interface: what a [`crate::RaftNode`] needs of the state it
//! replicates, so that Raft serves any state machine, the key-value store ([`crate::KvStore`],
//! the default) or another family's (the lock service of `sim-lock`).
//!
//! The node keeps replication, commitment, snapshots and client sessions' plumbing; the machine
//! applies requests in log order, remembers each client's latest answer (thesis §6.3), says
//! which requests are reads that ReadIndex may serve without the log (thesis §6.4), and words
//! the answer of a node that cannot serve.

use std::fmt::Debug;

use serde::Serialize;
use sim_core::NodeId;

/// What applying a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied<R> {
    /// The request took effect (or read) now.
    Fresh(R),
    /// The same `(client, seq)` was applied before: the recorded answer, nothing re-applied.
    Duplicate(R),
    /// An older request of a client that has since moved on: ignored.
    Stale,
}

impl<R> Applied<R> {
    /// The answer for the client, if any.
    pub fn response(&self) -> Option<&R> {
        match self {
            Applied::Fresh(r) | Applied::Duplicate(r) => Some(r),
            Applied::Stale => None,
        }
    }
}

/// A deterministic state machine replicated by Raft.
///
/// `apply` must depend on the machine's state, the entry's index and the request alone: every
/// replica applies the same entries in the same order and must reach the same state. Anything
/// time-dependent (a lease's deadline) travels inside the request, stamped by whoever proposed it.
pub trait StateMachine: Clone + Debug + Default + PartialEq + Serialize + 'static {
    /// A client's request, as it is stored in log entries.
    type Request: Clone + Debug + PartialEq + Serialize;
    /// The answer to a client.
    type Response: Clone + Debug + Serialize;

    /// The request's `(client, seq)`: its session and its sequence number in it.
    fn client_seq(request: &Self::Request) -> (u64, u64);

    /// Applies the committed `request` at log `index`, once per `(client, seq)`.
    fn apply(&mut self, index: u64, request: &Self::Request) -> Applied<Self::Response>;

    /// The client's latest applied request: its sequence number and the answer it got.
    fn session(&self, client: u64) -> Option<(u64, &Self::Response)>;

    /// Whether `request` only reads, so that ReadIndex may serve it without a log entry.
    fn is_read(request: &Self::Request) -> bool;

    /// The answer to a read (see [`StateMachine::is_read`]) from the current state.
    fn read(&self, request: &Self::Request) -> Self::Response;

    /// The answer of a node that cannot serve (thesis §6.2): a redirect to the leader it
    /// follows, or unavailable when it knows none.
    fn not_served(leader: Option<NodeId>) -> Self::Response;

    /// A size for short descriptions (keys, locks), shown in debug output.
    fn size(&self) -> usize;
}
