//! Planted bugs: realistic mistakes behind a switch (`[protocol] bugs = ["name"]`), each
//! exposed by a scenario under `scenarios/lock/bugs/` by the check it names.

use std::collections::BTreeSet;

use serde::Deserialize;

/// A mistake the lock service, its clients or the resource can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    /// A writer is granted when no other *writer* holds the lock, forgetting the readers: a
    /// read-write lock that lets a writer in beside readers. Exposed by
    /// `bugs/writer_ignores_readers.toml`, caught by `lock.mutual_exclusion`.
    WriterIgnoresReaders,
    /// The fencing token is the lock's grant count, kept with the lock's entry, and the entry is
    /// dropped when the lock falls free: the count, and with it the token, starts again at 1.
    /// Exposed by `bugs/token_resets_when_free.toml`, caught by `lock.mutual_exclusion` (tokens
    /// only grow).
    TokenResetsWhenFree,
    /// The resource keeps the highest token it accepted in memory only: after a restart it
    /// accepts a paused holder's stale write. Exposed by `bugs/resource_token_in_memory.toml`,
    /// caught by `lock.fencing_safety`.
    ResourceTokenInMemory,
    /// The resource fences with `token <= highest` instead of `token < highest`: it refuses a
    /// holder's second write under its own grant, so work done under a valid lock is lost.
    /// Exposed by `bugs/fence_refuses_own_token.toml`, caught by `lock.fencing_safety` (fencing
    /// may refuse only a token lower than one accepted).
    FenceRefusesOwnToken,
    /// An acquire is not checked against the session table: a client whose session expired
    /// (keep-alives lost) and whose retried acquire arrives afterwards is granted the lock for a
    /// session that no longer exists, so no expiry ever releases it. Exposed by
    /// `bugs/acquire_without_session.toml`, caught by `lock.liveness`.
    AcquireWithoutSession,
    /// A release is not checked against its owner: a client that lost the lock (its session
    /// expired) and releases it late frees the next holder's lock. Exposed by
    /// `bugs/release_any_owner.toml`, caught by `lock.linearizable`.
    ReleaseAnyOwner,
}

impl Bug {
    pub const ALL: [Bug; 6] = [
        Bug::WriterIgnoresReaders,
        Bug::TokenResetsWhenFree,
        Bug::ResourceTokenInMemory,
        Bug::FenceRefusesOwnToken,
        Bug::AcquireWithoutSession,
        Bug::ReleaseAnyOwner,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::WriterIgnoresReaders => "writer_ignores_readers",
            Bug::TokenResetsWhenFree => "token_resets_when_free",
            Bug::ResourceTokenInMemory => "resource_token_in_memory",
            Bug::FenceRefusesOwnToken => "fence_refuses_own_token",
            Bug::AcquireWithoutSession => "acquire_without_session",
            Bug::ReleaseAnyOwner => "release_any_owner",
        }
    }
}

/// The bugs a run is built with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BugSet(BTreeSet<Bug>);

impl BugSet {
    pub fn new(bugs: impl IntoIterator<Item = Bug>) -> Self {
        BugSet(bugs.into_iter().collect())
    }

    pub fn has(&self, bug: Bug) -> bool {
        self.0.contains(&bug)
    }
}
