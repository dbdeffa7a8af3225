//! What clients ask the store and what it answers, with the consistency level each operation
//! carries.
//!
//! Owns [`Level`] (ONE, QUORUM, ALL, or an explicit replica count, as Cassandra's consistency
//! levels and Dynamo's R and W), [`QuorumOp`], [`QuorumRequest`] and [`QuorumResponse`]. A read
//! answers every sibling it found with their merged vector clock as the *context*, which the
//! client sends back with its next write of the key, so that write supersedes them (Dynamo,
//! section 4.4).

use serde::{Deserialize, Deserializer, Serialize};

use crate::version::VClock;

/// How many replicas must answer an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    One,
    Quorum,
    All,
    /// Exactly this many replicas (Dynamo's R or W).
    Count(u32),
}

impl Level {
    /// Replicas that must answer, out of `n`.
    pub fn required(self, n: usize) -> usize {
        match self {
            Level::One => 1,
            Level::Quorum => n / 2 + 1,
            Level::All => n,
            Level::Count(count) => count as usize,
        }
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Count(u32),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Count(count) => Ok(Level::Count(count)),
            Raw::Name(name) => match name.to_ascii_lowercase().as_str() {
                "one" => Ok(Level::One),
                "quorum" => Ok(Level::Quorum),
                "all" => Ok(Level::All),
                _ => Err(serde::de::Error::custom(format!(
                    "expected \"one\", \"quorum\", \"all\" or a replica count, found {name:?}"
                ))),
            },
        }
    }
}

/// One operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum QuorumOp {
    Get { key: String },
    Put { key: String, value: String },
}

impl QuorumOp {
    pub fn key(&self) -> &str {
        match self {
            QuorumOp::Get { key } | QuorumOp::Put { key, .. } => key,
        }
    }
}

/// A client request: `(client, seq)` names the operation across retries (the session is the
/// vector clock's actor), `level` how many replicas must answer, `context` the clock of what the
/// client last read of the key (vector clocks only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuorumRequest {
    pub client: u64,
    pub seq: u64,
    pub op: QuorumOp,
    pub level: Level,
    pub context: Option<VClock>,
}

/// The store's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum QuorumResponse {
    /// A read: every sibling found (none: absent), and their merged clock.
    Value {
        values: Vec<String>,
        context: Option<VClock>,
    },
    /// A write reached as many replicas as its level asks.
    Done,
    /// Not enough replicas answered a read in time: nothing happened.
    Unavailable,
    /// Not enough replicas acknowledged a write in time: it may or may not have taken effect.
    Timeout,
}
