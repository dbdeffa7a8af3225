//! The requests clients send to a replicated key-value store, and its answers.
//!
//! They are `Serialize`: the trace hashes them field by field and writes them as JSON.

use serde::Serialize;
use sim_core::NodeId;

/// One key-value operation, as a client asks it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KvRequest {
    pub client: u64,
    pub seq: u64,
    pub op: KvOp,
}

/// A store's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum KvResponse {
    /// A read's value (`None`: absent).
    Value(Option<String>),
    /// A put, an append or a successful compare-and-set took effect.
    Done,
    /// A compare-and-set found another value and changed nothing: certainly did not take effect.
    CasFailed { current: Option<String> },
    /// This node cannot serve the request and did nothing with it; `to` can, as far as it knows
    /// (Raft: the leader it follows).
    Redirect { to: NodeId },
    /// This node cannot serve the request, did nothing with it, and knows no one who can now
    /// (Raft: no leader known).
    Unavailable,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::hash::{hash_value, StableHasher};

    fn hash<T: Serialize>(value: &T) -> u64 {
        let mut h = StableHasher::new();
        hash_value(&mut h, value);
        h.finish()
    }

    /// The trace hashes requests and replies by their fields: these must not collide.
    #[test]
    fn trace_hashes_tell_requests_and_responses_apart() {
        let put = |key: &str, value: &str| KvRequest {
            client: 1,
            seq: 2,
            op: KvOp::Put {
                key: key.into(),
                value: value.into(),
            },
        };
        assert_ne!(hash(&put("ab", "c")), hash(&put("a", "bc")));
        assert_eq!(hash(&put("a", "b")), hash(&put("a", "b")));
        let absent = KvResponse::Value(None);
        let empty = KvResponse::Value(Some(String::new()));
        assert_ne!(hash(&absent), hash(&empty));
        assert_ne!(hash(&KvResponse::Done), hash(&KvResponse::Unavailable));
        assert_ne!(
            hash(&KvResponse::Redirect { to: NodeId(0) }),
            hash(&KvResponse::Unavailable)
        );
    }
}
