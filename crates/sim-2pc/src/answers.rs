//! [`Answers`]: the answers a coordinator gave its clients, compactly, so that a retried (or
//! late, duplicated) request is answered the same however long ago it ran.
//!
//! A client's operations are keyed (session, seq), `seq` counting up per session, so the
//! answers are kept per session as one byte per `seq`: which answer it was (committed, or
//! aborted with which reason, the reasons interned). An audit's committed total is kept beside,
//! by key. This is the same map as one entry per operation, at a byte per operation.

use std::collections::BTreeMap;

use crate::types::TxnReply;

/// The answers given, by client key; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    /// Per session, one code per seq: 0 none, 1 committed, 2 committed with a total (in
    /// `totals`), 3 + i aborted for `reasons[i]`.
    sessions: BTreeMap<u64, Vec<u8>>,
    totals: BTreeMap<(u64, u64), i64>,
    reasons: Vec<&'static str>,
    /// Anything else (no answer the coordinator gives today), kept as it is.
    other: BTreeMap<(u64, u64), TxnReply>,
}

const COMMITTED: u8 = 1;
const TOTAL: u8 = 2;
const ABORTED: u8 = 3;

impl Answers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &(u64, u64)) -> Option<TxnReply> {
        if let Some(answer) = self.other.get(key) {
            return Some(answer.clone());
        }
        let code = *self
            .sessions
            .get(&key.0)?
            .get(usize::try_from(key.1).ok()?)?;
        match code {
            0 => None,
            COMMITTED => Some(TxnReply::Committed { total: None }),
            TOTAL => Some(TxnReply::Committed {
                total: self.totals.get(key).copied(),
            }),
            _ => {
                let reason = self.reasons.get(usize::from(code - ABORTED))?;
                Some(TxnReply::Aborted { reason })
            }
        }
    }

    /// Records (or replaces) the answer for `key`.
    pub fn insert(&mut self, key: (u64, u64), answer: TxnReply) {
        let code = match answer {
            TxnReply::Committed { total: None } => Some(COMMITTED),
            TxnReply::Committed { total: Some(t) } => {
                self.totals.insert(key, t);
                Some(TOTAL)
            }
            TxnReply::Aborted { reason } => self.reason(reason).map(|i| ABORTED + i),
            TxnReply::Redirect { .. } | TxnReply::Unavailable => None,
        };
        let index = usize::try_from(key.1).ok().filter(|&i| i < (1 << 40));
        let (Some(code), Some(index)) = (code, index) else {
            self.clear(key);
            self.other.insert(key, answer);
            return;
        };
        self.other.remove(&key);
        if code != TOTAL {
            self.totals.remove(&key);
        }
        let codes = self.sessions.entry(key.0).or_default();
        if codes.len() <= index {
            codes.resize(index + 1, 0);
        }
        codes[index] = code;
    }

    fn clear(&mut self, key: (u64, u64)) {
        self.totals.remove(&key);
        let index = usize::try_from(key.1).unwrap_or(usize::MAX);
        if let Some(code) = self.sessions.get_mut(&key.0).and_then(|c| c.get_mut(index)) {
            *code = 0;
        }
    }

    /// The index of `reason` among the interned reasons (at most 253 distinct).
    fn reason(&mut self, reason: &'static str) -> Option<u8> {
        if let Some(i) = self.reasons.iter().position(|&r| r == reason) {
            return u8::try_from(i).ok();
        }
        if self.reasons.len() >= usize::from(u8::MAX - ABORTED) {
            return None;
        }
        self.reasons.push(reason);
        u8::try_from(self.reasons.len() - 1).ok()
    }

    /// Bytes the per-session codes take.
    pub fn bytes(&self) -> usize {
        self.sessions.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_a_map_would() {
        let mut a = Answers::new();
        let mut map = BTreeMap::new();
        let replies = [
            TxnReply::Committed { total: None },
            TxnReply::Committed { total: Some(1200) },
            TxnReply::Aborted { reason: "funds" },
            TxnReply::Aborted { reason: "timeout" },
            TxnReply::Unavailable,
        ];
        for session in 1..4u64 {
            for seq in 1..40u64 {
                if (session + seq).is_multiple_of(3) {
                    continue;
                }
                let reply = replies[((session * 7 + seq) % 5) as usize].clone();
                a.insert((session, seq), reply.clone());
                map.insert((session, seq), reply);
            }
        }
        a.insert((1, 1), TxnReply::Aborted { reason: "conflict" });
        map.insert((1, 1), TxnReply::Aborted { reason: "conflict" });
        for session in 0..5u64 {
            for seq in 0..45u64 {
                assert_eq!(a.get(&(session, seq)), map.get(&(session, seq)).cloned());
            }
        }
    }
}
