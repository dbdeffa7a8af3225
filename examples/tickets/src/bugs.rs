//! Planted bugs: realistic mistakes behind a switch (`[protocol] bugs = ["name"]`), each
//! documented with the scenario that exposes it.

use serde::Deserialize;

/// A mistake the sequencer can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    /// The sequencer answers the client as soon as it picks a ticket, and stores the ticket on
    /// the replicas only afterwards. A sequencer cut off from the replicas keeps granting
    /// tickets nobody stored; after a crash it recovers a lower ticket from the replicas and
    /// grants the same numbers again. Exposed by `scenarios/bugs/grant_before_store.toml`
    /// (an isolated sequencer crashes, and restarts after the partition heals).
    GrantBeforeStore,
}

impl Bug {
    pub const ALL: [Bug; 1] = [Bug::GrantBeforeStore];

    pub fn name(self) -> &'static str {
        match self {
            Bug::GrantBeforeStore => "grant_before_store",
        }
    }
}
