//! Planted bugs: realistic mistakes behind a switch (`[protocol] bugs = ["name"]`), each with
//! the scenario in `scenarios/2pc/bugs/` that catches it, by the check it names.

use serde::Deserialize;

/// A mistake a node can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    /// The coordinator writes COMMIT but does not force it before acting on it. A crash right
    /// after the decision loses the record; restarted, the coordinator finds nothing and
    /// presumes abort for a transaction it had decided to commit (`2pc.atomicity`).
    CommitNotForced,
    /// A participant acknowledges a commit before the applied writes and the decision reach
    /// the disk. The coordinator, all acks in, forgets the transaction; the participant
    /// crashes, restarts in doubt from its PREPARED record, asks, and is told abort (presumed),
    /// undoing a commit (`2pc.atomicity`).
    AckBeforeSync,
    /// A participant votes yes without forcing its PREPARED record. A crash after the vote
    /// forgets the transaction and its locks; the commit that follows finds nothing to apply
    /// and the committed debit or credit is lost (`2pc.durability`).
    PrepareNotForced,
    /// A participant releases its locks as soon as it votes, instead of at the decision (not
    /// strict two-phase locking): a second transfer reads the balance the first is about to
    /// overwrite, and one of the two updates is lost (`2pc.conservation`).
    EarlyLockRelease,
    /// A participant that voted yes gives up waiting for the decision and aborts on a timeout,
    /// as one that has not voted may: when the coordinator returns with COMMIT, the
    /// participants disagree (`2pc.atomicity`).
    AbortAfterYes,
    /// A participant told abort about a transaction it prepared drops the PREPARED record but
    /// releases the transaction's locks only on the commit path: the aborted transaction keeps
    /// its accounts locked until the participant restarts, and every later prepare on them
    /// waits and votes no (`2pc.converged`).
    AbortKeepsLocks,
}

impl Bug {
    pub const ALL: [Bug; 6] = [
        Bug::CommitNotForced,
        Bug::AckBeforeSync,
        Bug::PrepareNotForced,
        Bug::EarlyLockRelease,
        Bug::AbortAfterYes,
        Bug::AbortKeepsLocks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::CommitNotForced => "commit_not_forced",
            Bug::AckBeforeSync => "ack_before_sync",
            Bug::PrepareNotForced => "prepare_not_forced",
            Bug::EarlyLockRelease => "early_lock_release",
            Bug::AbortAfterYes => "abort_after_yes",
            Bug::AbortKeepsLocks => "abort_keeps_locks",
        }
    }
}
