//! The requests clients send to a replicated key-value store, and its answers.

use sim_core::hash::StableHasher;
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
    /// This node cannot serve the request and did nothing with it; `to` can, as far as it knows
    /// (Raft: the leader it follows).
    Redirect { to: NodeId },
    /// This node cannot serve the request, did nothing with it, and knows no one who can now
    /// (Raft: no leader known).
    Unavailable,
}

/// Folds an optional string into a hash, telling `None` from every string.
fn fold_text(hasher: &mut StableHasher, text: Option<&str>) {
    match text {
        None => hasher.write_u64(0),
        Some(t) => {
            hasher.write_u64(1 + t.len() as u64);
            hasher.write_bytes(t.as_bytes());
        }
    }
}

impl KvRequest {
    /// Folds the request into a trace hash by its fields (cheaper than its `Debug` form).
    pub fn fingerprint(&self, hasher: &mut StableHasher) {
        hasher.write_u64(self.client);
        hasher.write_u64(self.seq);
        match &self.op {
            KvOp::Get { key } => {
                hasher.write_u64(1);
                fold_text(hasher, Some(key));
            }
            KvOp::Put { key, value } => {
                hasher.write_u64(2);
                fold_text(hasher, Some(key));
                fold_text(hasher, Some(value));
            }
            KvOp::Cas { key, expected, new } => {
                hasher.write_u64(3);
                fold_text(hasher, Some(key));
                fold_text(hasher, expected.as_deref());
                fold_text(hasher, Some(new));
            }
            KvOp::Append { key, value } => {
                hasher.write_u64(4);
                fold_text(hasher, Some(key));
                fold_text(hasher, Some(value));
            }
        }
    }
}

impl KvResponse {
    /// Folds the response into a trace hash by its fields.
    pub fn fingerprint(&self, hasher: &mut StableHasher) {
        match self {
            KvResponse::Value(v) => {
                hasher.write_u64(1);
                fold_text(hasher, v.as_deref());
            }
            KvResponse::Done => hasher.write_u64(2),
            KvResponse::CasFailed { current } => {
                hasher.write_u64(3);
                fold_text(hasher, current.as_deref());
            }
            // Both hash as the `NotLeader { leader }` they replace did (`Unavailable` as no
            // leader), so runs from before the split keep their trace hashes.
            KvResponse::Redirect { to } => {
                hasher.write_u64(4);
                hasher.write_u64(u64::from(to.0));
            }
            KvResponse::Unavailable => {
                hasher.write_u64(4);
                hasher.write_u64(u64::MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(f: impl FnOnce(&mut StableHasher)) -> u64 {
        let mut h = StableHasher::new();
        f(&mut h);
        h.finish()
    }

    #[test]
    fn fingerprints_tell_requests_and_responses_apart() {
        let put = |key: &str, value: &str| KvRequest {
            client: 1,
            seq: 2,
            op: KvOp::Put {
                key: key.into(),
                value: value.into(),
            },
        };
        assert_ne!(
            hash(|h| put("ab", "c").fingerprint(h)),
            hash(|h| put("a", "bc").fingerprint(h))
        );
        assert_eq!(
            hash(|h| put("a", "b").fingerprint(h)),
            hash(|h| put("a", "b").fingerprint(h))
        );
        let absent = KvResponse::Value(None);
        let empty = KvResponse::Value(Some(String::new()));
        assert_ne!(
            hash(|h| absent.fingerprint(h)),
            hash(|h| empty.fingerprint(h))
        );
        assert_ne!(
            hash(|h| KvResponse::Done.fingerprint(h)),
            hash(|h| KvResponse::Unavailable.fingerprint(h))
        );
        assert_ne!(
            hash(|h| KvResponse::Redirect { to: NodeId(0) }.fingerprint(h)),
            hash(|h| KvResponse::Unavailable.fingerprint(h))
        );
    }
}
