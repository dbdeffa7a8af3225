//! What every node of a run knows: the cluster's layout by kind, the service's mode, and the
//! switches it was built with ([`Config`]); built by [`crate::family`] from the scenario.

use std::sync::Arc;

use serde::Deserialize;
use sim_core::{NodeId, SimDuration};
use sim_raft::RaftConfig;

use crate::bugs::BugSet;

/// How the lock service is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMode {
    /// One lock service replicated on Raft, with sessions, leases and fencing tokens.
    #[default]
    Raft,
    /// The majority lock of the design notes: the same lock taken on a majority of independent
    /// servers, each with a TTL, valid for `ttl - elapsed - drift allowance`.
    Majority,
}

/// The run's layout and settings, shared by every node.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: ServiceMode,
    /// Whether the resource refuses a write whose token is lower than one it accepted.
    pub fencing: bool,
    pub servers: Vec<NodeId>,
    pub clients: Vec<NodeId>,
    pub resource: NodeId,
    /// The lease (session TTL in Raft mode, lock TTL at each majority server).
    pub ttl: SimDuration,
    /// How often a client renews its session (Raft mode).
    pub keepalive: SimDuration,
    /// Majority mode: the clock drift a client allows for, subtracted from its validity.
    pub drift_allowance: SimDuration,
    /// How long a client waits for an answer before it asks again (the next server).
    pub request_timeout: SimDuration,
    /// A client thinks for a duration drawn from `[low, high]` between holdings.
    pub think: [SimDuration; 2],
    /// How long a holder works between checking its lease and writing its result.
    pub work: SimDuration,
    /// Writes per holding before the holder releases.
    pub writes_per_hold: u32,
    /// The share of acquisitions that ask for a read lock (Raft mode).
    pub read_fraction: f64,
    /// The names of the locks clients contend for.
    pub locks: Vec<String>,
    /// The share of think times a client spends on a counter increment (get, then CAS).
    pub counter_fraction: f64,
    pub bugs: BugSet,
    pub raft: Arc<RaftConfig>,
}

impl Config {
    /// How many servers make a majority.
    pub fn majority(&self) -> usize {
        self.servers.len() / 2 + 1
    }
}
