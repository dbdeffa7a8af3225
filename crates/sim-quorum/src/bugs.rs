//! Planted bugs: realistic mistakes behind a switch (`[protocol] bugs = ["name"]`), each
//! exposed by a scenario under `scenarios/quorum/bugs/` within the seeds its `[expect]` states.

use serde::Deserialize;

/// A mistake the store can be built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    /// ABD: a read returns the highest value a majority holds without writing it back to a
    /// majority first, so a later read can return an older value (new/old inversion).
    /// `scenarios/quorum/bugs/abd_read_without_write_back.toml`, `quorum.linearizable`.
    AbdReadWithoutWriteBack,
    /// ABD: a write stamps its value from the coordinator's own counter instead of asking a
    /// majority for the highest timestamp, so it can lose to an older value.
    /// `scenarios/quorum/bugs/abd_write_without_query.toml`, `quorum.linearizable`.
    AbdWriteWithoutQuery,
    /// Dynamo: the coordinator counts the replicas it sent a write to, not the ones that
    /// acknowledged it, so W is met by messages a partition dropped.
    /// `scenarios/quorum/bugs/count_sent_as_acked.toml`, `quorum.stale_reads`.
    CountSentAsAcked,
    /// Vector clocks: concurrent versions are resolved by the larger counter sum instead of
    /// being kept as siblings, silently discarding an acknowledged write.
    /// `scenarios/quorum/bugs/merge_by_clock_sum.toml`, `quorum.lost_writes`.
    MergeByClockSum,
    /// A replica acknowledges a write before syncing it, so a crash right after forgets an
    /// acknowledged write. `scenarios/quorum/bugs/ack_before_sync.toml`, `quorum.linearizable`.
    AckBeforeSync,
    /// Sloppy quorum: a write sent to a fallback carries no hint, so the fallback stores it as
    /// its own data for a key it does not own and never hands it back.
    /// `scenarios/quorum/bugs/sloppy_write_without_hint.toml`, `quorum.placement`.
    SloppyWriteWithoutHint,
    /// Vector clocks: a read's context is the clock of the first sibling it returns instead of
    /// all of them merged, so the client's next write supersedes only that sibling and the
    /// others live on beside it. `scenarios/quorum/bugs/context_of_first_sibling.toml`,
    /// `quorum.superseded`.
    ContextOfFirstSibling,
}

impl Bug {
    pub const ALL: [Bug; 7] = [
        Bug::AbdReadWithoutWriteBack,
        Bug::AbdWriteWithoutQuery,
        Bug::CountSentAsAcked,
        Bug::MergeByClockSum,
        Bug::AckBeforeSync,
        Bug::SloppyWriteWithoutHint,
        Bug::ContextOfFirstSibling,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::AbdReadWithoutWriteBack => "abd_read_without_write_back",
            Bug::AbdWriteWithoutQuery => "abd_write_without_query",
            Bug::CountSentAsAcked => "count_sent_as_acked",
            Bug::MergeByClockSum => "merge_by_clock_sum",
            Bug::AckBeforeSync => "ack_before_sync",
            Bug::SloppyWriteWithoutHint => "sloppy_write_without_hint",
            Bug::ContextOfFirstSibling => "context_of_first_sibling",
        }
    }
}
