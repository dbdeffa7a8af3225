//! The requests clients send to a replicated key-value store, and its answers.

use sim_core::NodeId;

/// One key-value operation, as a client asks it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KvOp {
    /// Reads `key`; an absent key reads as `None`.
    Get { key: String },
    /// Writes `value` to `key`.
    Put { key: String, value: String },
    /// Writes `new` to `key` if it holds `expected` (`None`: the key is absent).
    Cas {
        key: String,
        expected: Option<String>,
        new: String,
    },
    /// Appends `value` to the string at `key` (an absent key counts as empty).
    Append { key: String, value: String },
}

impl KvOp {
    pub fn key(&self) -> &str {
        match self {
            KvOp::Get { key }
            | KvOp::Put { key, .. }
            | KvOp::Cas { key, .. }
            | KvOp::Append { key, .. } => key,
        }
    }

    /// Whether the operation may change the store.
    pub fn is_write(&self) -> bool {
        !matches!(self, KvOp::Get { .. })
    }
}

/// A client request. `(client, seq)` identifies the operation across retries, so a store with
/// sessions applies a retried write once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvRequest {
    pub client: u64,
    pub seq: u64,
    pub op: KvOp,
}

/// A store's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvResponse {
    /// A read's value (`None`: absent).
    Value(Option<String>),
    /// A put, an append or a successful compare-and-set took effect.
    Done,
    /// A compare-and-set found another value and changed nothing: certainly did not take effect.
    CasFailed { current: Option<String> },
    /// This node cannot serve the request and did nothing with it; `leader` is its best guess of
    /// who can.
    NotLeader { leader: Option<NodeId> },
}
