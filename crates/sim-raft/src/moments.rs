//! Counts of a node's interesting moments, for coverage: how often a run reached the rules that
//! only matter in rare interleavings.
//!
//! A [`Moments`] lives in each [`crate::RaftNode`] (a fresh one per process, so a restart starts
//! from zero) and is only ever incremented; it never reaches the trace or the node's behaviour.
//! [`crate::coverage`] folds the per-process counts into run totals for `Suite::figures`.

/// What one process of a node has seen, by moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moments {
    /// RequestVote (or pre-vote) refused because the candidate's log was behind (§5.4.1).
    pub votes_denied_log_behind: u64,
    /// Messages carrying a term older than the node's, ignored or answered with its term (§5.1).
    pub stale_term_messages: u64,
    /// RequestVote and RequestVoteReply messages of an earlier term, ignored (§5.1).
    pub stale_votes_ignored: u64,
    /// Reads a deposed leader held and refused when it stepped down (thesis §6.4).
    pub reads_refused_on_step_down: u64,
    /// RequestVotes ignored by check-quorum because the leader was heard recently (§4.2.3).
    pub votes_ignored_leader_alive: u64,
}

impl Moments {
    /// Each count by its figure name, in a stable order.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("raft.votes_denied_log_behind", self.votes_denied_log_behind),
            ("raft.stale_term_messages", self.stale_term_messages),
            ("raft.stale_votes_ignored", self.stale_votes_ignored),
            (
                "raft.reads_refused_on_step_down",
                self.reads_refused_on_step_down,
            ),
            (
                "raft.votes_ignored_leader_alive",
                self.votes_ignored_leader_alive,
            ),
        ]
    }
}
