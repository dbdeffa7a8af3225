//! The replicated key-value state machine, with client sessions.
//!
//! [`KvStore`] applies [`KvRequest`]s in log order: get, put, compare-and-set and append. Each
//! client has a session holding the sequence number of its latest applied request and the
//! response it got, so that a retried `(client, seq)` (the client timed out and asked again, and
//! both attempts reached the log) is answered with the recorded response and not applied twice
//! (thesis §6.3). Replication, commitment and snapshots are the node's business ([`crate::node`]).

use std::collections::BTreeMap;

use serde::Serialize;
use sim_core::NodeId;
use sim_kv::{KvOp, KvRequest, KvResponse};

use crate::machine::StateMachine;

/// A client's session: its latest applied request and the answer it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub seq: u64,
    pub response: KvResponse,
}

/// What applying a request did (the machine interface's, for the kv store's answers).
pub type Applied = crate::machine::Applied<KvResponse>;

/// The key-value store and its sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KvStore {
    data: BTreeMap<String, String>,
    sessions: BTreeMap<u64, Session>,
}

impl KvStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `request` once per `(client, seq)`.
    pub fn apply(&mut self, request: &KvRequest) -> Applied {
        if let Some(session) = self.sessions.get(&request.client) {
            if request.seq == session.seq {
                return Applied::Duplicate(session.response.clone());
            }
            if request.seq < session.seq {
                return Applied::Stale;
            }
        }
        let response = self.execute(&request.op);
        self.sessions.insert(
            request.client,
            Session {
                seq: request.seq,
                response: response.clone(),
            },
        );
        Applied::Fresh(response)
    }

    /// The recorded answer to `(client, seq)` if it is the client's latest applied request.
    pub fn session(&self, client: u64) -> Option<&Session> {
        self.sessions.get(&client)
    }

    /// Reads `key` without touching sessions (ReadIndex reads).
    pub fn get(&self, key: &str) -> Option<&String> {
        self.data.get(key)
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn execute(&mut self, op: &KvOp) -> KvResponse {
        match op {
            KvOp::Get { key } => KvResponse::Value(self.data.get(key).cloned()),
            KvOp::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                KvResponse::Done
            }
            KvOp::Cas { key, expected, new } => {
                let current = self.data.get(key);
                if current == expected.as_ref() {
                    self.data.insert(key.clone(), new.clone());
                    KvResponse::Done
                } else {
                    KvResponse::CasFailed {
                        current: current.cloned(),
                    }
                }
            }
            KvOp::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                KvResponse::Done
            }
        }
    }
}

/// The key-value store is Raft's default state machine.
impl StateMachine for KvStore {
    type Request = KvRequest;
    type Response = KvResponse;

    fn client_seq(request: &KvRequest) -> (u64, u64) {
        (request.client, request.seq)
    }

    fn apply(&mut self, _index: u64, request: &KvRequest) -> Applied {
        KvStore::apply(self, request)
    }

    fn session(&self, client: u64) -> Option<(u64, &KvResponse)> {
        KvStore::session(self, client).map(|s| (s.seq, &s.response))
    }

    fn is_read(request: &KvRequest) -> bool {
        matches!(request.op, KvOp::Get { .. })
    }

    fn read(&self, request: &KvRequest) -> KvResponse {
        match &request.op {
            KvOp::Get { key } => KvResponse::Value(self.get(key).cloned()),
            _ => KvResponse::Unavailable,
        }
    }

    fn not_served(leader: Option<NodeId>) -> KvResponse {
        match leader {
            Some(to) => KvResponse::Redirect { to },
            None => KvResponse::Unavailable,
        }
    }

    fn size(&self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(client: u64, seq: u64, op: KvOp) -> KvRequest {
        KvRequest { client, seq, op }
    }

    fn append(key: &str, value: &str) -> KvOp {
        KvOp::Append {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Thesis §6.3: a retried `(client, seq)` returns the recorded result without re-applying.
    #[test]
    fn session_dedupe_returns_the_recorded_result_for_a_retried_request() {
        let mut kv = KvStore::new();
        assert_eq!(
            kv.apply(&request(1, 1, append("x", "a"))),
            Applied::Fresh(KvResponse::Done)
        );
        assert_eq!(
            kv.apply(&request(1, 1, append("x", "a"))),
            Applied::Duplicate(KvResponse::Done)
        );
        assert_eq!(
            kv.get("x").map(String::as_str),
            Some("a"),
            "the retry was applied again"
        );
        assert_eq!(kv.apply(&request(1, 0, append("x", "z"))), Applied::Stale);
        assert_eq!(
            kv.apply(&request(2, 1, append("x", "b"))),
            Applied::Fresh(KvResponse::Done)
        );
        assert_eq!(kv.get("x").map(String::as_str), Some("ab"));
    }

    #[test]
    fn compare_and_set_changes_only_on_a_match() {
        let mut kv = KvStore::new();
        let cas = |expected: Option<&str>, new: &str| KvOp::Cas {
            key: "k".into(),
            expected: expected.map(String::from),
            new: new.into(),
        };
        assert_eq!(
            kv.apply(&request(1, 1, cas(None, "1"))),
            Applied::Fresh(KvResponse::Done)
        );
        assert_eq!(
            kv.apply(&request(1, 2, cas(None, "2"))),
            Applied::Fresh(KvResponse::CasFailed {
                current: Some("1".into())
            })
        );
        assert_eq!(
            kv.apply(&request(1, 3, cas(Some("1"), "3"))),
            Applied::Fresh(KvResponse::Done)
        );
        let get = KvOp::Get { key: "k".into() };
        assert_eq!(
            kv.apply(&request(1, 4, get)),
            Applied::Fresh(KvResponse::Value(Some("3".into())))
        );
    }
}
