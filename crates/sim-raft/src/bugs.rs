//! Planted protocol bugs: known mistakes a scenario can switch on by name.
//!
//! Each [`Bug`] breaks one rule of the extended Raft paper in the way real implementations have
//! broken it. A scenario turns them on with `bugs = ["commit_previous_term_by_count"]` in its
//! `[protocol]` table; the safety checks in [`crate::checks`] must then catch the run. This is how
//! users learn what the checks are worth, and how the test suite proves they are not vacuous.
//! Which scenario exposes which bug, and within how many seeds, is documented on each variant and
//! asserted by the crate's tests.

use std::fmt;

use sim_core::SuiteError;

/// One planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bug {
    /// §5.4.2 / Figure 8: the leader commits an entry from an earlier term as soon as a majority
    /// stores it. Exposed by `scenarios/raft/bugs/commit_previous_term_by_count.toml`.
    CommitPreviousTermByCount,
    /// §5.4.1: a vote is granted without checking that the candidate's log is at least as
    /// up-to-date. Exposed by `scenarios/raft/bugs/vote_without_log_check.toml`.
    VoteWithoutLogCheck,
    /// §5.1 / Figure 2: votedFor is kept in memory only, so a restarted node can vote twice in
    /// one term. Exposed by `scenarios/raft/bugs/forget_persist_vote.toml`.
    ForgetPersistVote,
    /// §5.3: entries are applied to the state machine as soon as they are in the log, before they
    /// are committed. Exposed by `scenarios/raft/bugs/apply_before_commit.toml`.
    ApplyBeforeCommit,
    /// §5.3: a follower overwrites a conflicting entry in place but keeps the suffix after it.
    /// Exposed by `scenarios/raft/bugs/no_truncate_conflict.toml`.
    NoTruncateConflict,
    /// Figure 2 ("respond after persisting"): a follower acknowledges appended entries before
    /// syncing them, so a crash can lose an entry the leader counted. Exposed by
    /// `scenarios/raft/bugs/ack_before_sync.toml`.
    AckBeforeSync,
    /// Thesis §6.4: a leader answers ReadIndex reads from its state machine without the
    /// heartbeat round that confirms a majority still follows it, so a deposed leader that has
    /// not heard of its successor serves stale reads. Exposed by
    /// `scenarios/raft/bugs/read_without_quorum.toml`.
    ReadWithoutQuorum,
    /// §7: a restarted node takes its commit and applied index from its snapshot but keeps the
    /// empty state machine it started with, so it goes on applying from the snapshot's index on
    /// top of nothing: at the leader's applied index its state machine differs, though every
    /// command it applied is the leader's. Exposed by
    /// `scenarios/raft/bugs/restart_without_snapshot_state.toml` (only `raft.converged` compares
    /// whole state machines).
    RestartWithoutSnapshotState,
}

impl Bug {
    /// Every bug, in the order they are documented.
    pub const ALL: [Bug; 8] = [
        Bug::CommitPreviousTermByCount,
        Bug::VoteWithoutLogCheck,
        Bug::ForgetPersistVote,
        Bug::ApplyBeforeCommit,
        Bug::NoTruncateConflict,
        Bug::AckBeforeSync,
        Bug::ReadWithoutQuorum,
        Bug::RestartWithoutSnapshotState,
    ];

    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            Bug::CommitPreviousTermByCount => "commit_previous_term_by_count",
            Bug::VoteWithoutLogCheck => "vote_without_log_check",
            Bug::ForgetPersistVote => "forget_persist_vote",
            Bug::ApplyBeforeCommit => "apply_before_commit",
            Bug::NoTruncateConflict => "no_truncate_conflict",
            Bug::AckBeforeSync => "ack_before_sync",
            Bug::ReadWithoutQuorum => "read_without_quorum",
            Bug::RestartWithoutSnapshotState => "restart_without_snapshot_state",
        }
    }

    /// One line saying what the bug does.
    pub fn description(self) -> &'static str {
        match self {
            Bug::CommitPreviousTermByCount => {
                "the leader commits entries of earlier terms by counting replicas (Figure 8)"
            }
            Bug::VoteWithoutLogCheck => "votes are granted without the log up-to-date check",
            Bug::ForgetPersistVote => "votedFor is not written to durable storage",
            Bug::ApplyBeforeCommit => "entries are applied as soon as they are appended",
            Bug::NoTruncateConflict => "a follower keeps the suffix after a conflicting entry",
            Bug::AckBeforeSync => "a follower acknowledges entries before syncing them",
            Bug::ReadWithoutQuorum => {
                "ReadIndex reads are answered without confirming leadership with a majority"
            }
            Bug::RestartWithoutSnapshotState => {
                "a restarted node resumes from its snapshot's index without the snapshot's state"
            }
        }
    }

    /// The bug called `name`; the error lists the known names.
    pub fn parse(name: &str, field: &str) -> Result<Bug, SuiteError> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
                SuiteError::new(
                    field,
                    format!(
                        "unknown bug {name:?}; the known bugs are: {}",
                        known.join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of bugs switched on in a run (a bit set: asked on hot paths).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BugSet(u32);

impl BugSet {
    pub fn new(bugs: &[Bug]) -> Self {
        BugSet(bugs.iter().fold(0, |bits, &b| bits | 1 << b as u32))
    }

    #[inline]
    pub fn has(self, bug: Bug) -> bool {
        self.0 & (1 << bug as u32) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::ALL.into_iter().filter(move |&b| self.has(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for bug in Bug::ALL {
            assert_eq!(Bug::parse(bug.name(), "protocol.bugs"), Ok(bug));
        }
    }

    #[test]
    fn unknown_bug_lists_the_known_ones() {
        let err = Bug::parse("forget_everything", "protocol.bugs").unwrap_err();
        assert_eq!(err.field, "protocol.bugs");
        assert!(err.message.contains("forget_everything"), "{}", err.message);
        assert!(
            err.message.contains("commit_previous_term_by_count"),
            "{}",
            err.message
        );
    }

    #[test]
    fn bug_set_holds_what_it_was_given() {
        let set = BugSet::new(&[Bug::ForgetPersistVote, Bug::AckBeforeSync]);
        assert!(set.has(Bug::ForgetPersistVote));
        assert!(set.has(Bug::AckBeforeSync));
        assert!(!set.has(Bug::ApplyBeforeCommit));
        assert_eq!(set.iter().count(), 2);
    }
}
