//! The messages Raft nodes send each other (Figure 2 of the paper, plus pre-vote and the
//! ReadIndex round number).

use std::sync::Arc;

use serde::Serialize;

use crate::kv::KvStore;
use crate::log::{Entry, Snapshot};
use crate::machine::StateMachine;

/// A message between nodes. Every message carries the sender's term (§5.1).
#[derive(Debug, Clone, Serialize)]
#[serde(bound = "")]
pub enum Message<M: StateMachine = KvStore> {
    /// §5.2; with `pre_vote`, the thesis' §9.6 pre-vote: `term` is the term the sender would
    /// campaign in, and nobody changes state on it.
    RequestVote {
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
    },
    RequestVoteReply {
        term: u64,
        granted: bool,
        pre_vote: bool,
    },
    /// §5.3. `read_round` is the leader's latest ReadIndex round, echoed in the reply.
    AppendEntries {
        term: u64,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry<M>>,
        leader_commit: u64,
        read_round: u64,
    },
    /// On success `match_index` is the last index known to match the leader. On failure
    /// `rejected_index` is the `prev_log_index` of the request it answers (so that the leader
    /// can tell a stale rejection from one that answers its current probe, as etcd's
    /// `maybeDecrTo`), and the conflict hint (§5.3, fast backtracking): `conflict_term` is the
    /// term of the follower's entry at `prev_log_index` (none if the follower's log is shorter)
    /// and `conflict_index` the first index of that term, or the follower's last index + 1.
    AppendEntriesReply {
        term: u64,
        success: bool,
        match_index: u64,
        rejected_index: u64,
        conflict_index: u64,
        conflict_term: Option<u64>,
        read_round: u64,
    },
    /// §7, the whole snapshot in one message (no chunks: the simulated network has no MTU).
    InstallSnapshot {
        term: u64,
        snapshot: Arc<Snapshot<M>>,
        read_round: u64,
    },
    InstallSnapshotReply {
        term: u64,
        match_index: u64,
        read_round: u64,
    },
}

impl<M: StateMachine> Message<M> {
    pub fn term(&self) -> u64 {
        match self {
            Message::RequestVote { term, .. }
            | Message::RequestVoteReply { term, .. }
            | Message::AppendEntries { term, .. }
            | Message::AppendEntriesReply { term, .. }
            | Message::InstallSnapshot { term, .. }
            | Message::InstallSnapshotReply { term, .. } => *term,
        }
    }
}
