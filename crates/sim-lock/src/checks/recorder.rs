//! The lock history on its way to the incremental linearizability checker: [`LockRecorder`].
//!
//! `lock.linearizable` used to keep every event of the run and search the whole history at the
//! end, which grew with simulated time (a 15-minute nemesis run: 723 MB, and the search gave up).
//! Now every event goes to `sim_check::Incremental` as it happens, which checks each lock's (and
//! the counter's) stretch of history at quiescent cuts and forgets it.
//!
//! An operation whose client gave up on it (info) or crashed with it in flight is *given up*:
//! the recorder keeps it in flight in the checker until the check learns how it ended
//! ([`LockRecorder::resolve`]); see `linearizable` for the rules. Until then its key has no
//! quiescent moment, which lasts about a session's ttl once the service has a leader.
//!
//! What is retained is bounded by what is undecided: the checker's open stretches, the given-up
//! operations, the last report time of each live session's locks, and the whole history only
//! when [`LockRecorder::keep`] asked for it.

use std::collections::BTreeMap;

use serde_json::Value;
use sim_check::{
    History, Incremental, IncrementalResult, LockTable, ModelKind, OpFn, OpIndex, Outcome,
};
use sim_core::SimTime;

/// An operation's name in the recorder: `(process, seq)`.
pub type OpId = (u64, u64);

/// An operation given up on, not yet resolved.
#[derive(Debug, Clone)]
pub struct GivenUp {
    pub session: u64,
    /// The lock of an acquire or release; `None` for the counter.
    pub lock: Option<String>,
    pub f: OpFn,
    pub invoked: SimTime,
    /// Whether the service may still apply it, with effect, after the session's end: a
    /// compare-and-set (the counter knows no sessions), or a lock operation with a planted bug
    /// that skips the session or owner check.
    pub acts_after_end: bool,
}

/// How many entries each retained structure holds, for tests that it stays bounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retained {
    /// Operations in flight in the checker (invoked, not completed).
    pub in_flight: usize,
    /// Of those, the ones given up on and not resolved yet.
    pub given_up: usize,
    /// `(lock, session)` pairs whose last report time is kept.
    pub touched: usize,
}

/// See the module docs.
#[derive(Debug)]
pub struct LockRecorder {
    checker: Incremental<LockTable>,
    /// The whole history as given to the checker, when asked for ([`LockRecorder::keep`]).
    kept: Option<History>,
    /// Operations invoked in the checker, not completed there.
    indices: BTreeMap<OpId, OpIndex>,
    given_up: BTreeMap<OpId, GivenUp>,
    /// Per `(lock, session)` of a session not known to have ended, its last reported change.
    touched: BTreeMap<(String, u64), SimTime>,
}

impl LockRecorder {
    /// A recorder whose checker may explore `max_states` states per stretch of a key.
    pub fn new(max_states: u64) -> Self {
        LockRecorder {
            checker: Incremental::new(ModelKind::Kv, LockTable, Value::Null, max_states),
            kept: None,
            indices: BTreeMap::new(),
            given_up: BTreeMap::new(),
            touched: BTreeMap::new(),
        }
    }

    /// Keep the whole history given to the checker (to compare with a whole-history check).
    pub fn keep(&mut self) {
        if self.kept.is_none() {
            self.kept = Some(History::new(ModelKind::Kv, Value::Null));
        }
    }

    /// The whole history, when kept: the events given to the checker so far, in order.
    pub fn history(&self) -> Option<&History> {
        self.kept.as_ref()
    }

    pub fn retained(&self) -> Retained {
        Retained {
            in_flight: self.indices.len(),
            given_up: self.given_up.len(),
            touched: self.touched.len(),
        }
    }

    /// `id` invoked `f` on `key` with `value`.
    pub fn invoke(&mut self, id: OpId, f: OpFn, key: String, value: Value, time_ns: u64) {
        if let Some(kept) = &mut self.kept {
            kept.invoke(id.0, f, Some(key.clone()), value.clone(), time_ns);
        }
        let index = self.checker.invoke(id.0, f, Some(key), value, time_ns);
        self.indices.insert(id, index);
    }

    /// `id` ended with `outcome` at `time_ns` (for an ok read, `value` is what it read).
    pub fn complete(&mut self, id: OpId, outcome: Outcome, value: Value, time_ns: u64) {
        self.given_up.remove(&id);
        let Some(index) = self.indices.remove(&id) else {
            return;
        };
        if let Some(kept) = &mut self.kept {
            kept.complete(index, outcome, value.clone(), time_ns);
        }
        self.checker.complete(index, outcome, value, time_ns);
    }

    /// The client gave up on `id` or crashed with it in flight: it stays in flight until
    /// [`LockRecorder::resolve`].
    pub fn give_up(&mut self, id: OpId, op: GivenUp) {
        if self.indices.contains_key(&id) {
            self.given_up.insert(id, op);
        }
    }

    /// The operations given up on, in order.
    pub fn given_up(&self) -> impl Iterator<Item = (&OpId, &GivenUp)> {
        self.given_up.iter()
    }

    /// Ends a given-up operation: `complete` under its rule's name.
    pub fn resolve(&mut self, id: OpId, outcome: Outcome, value: Value, now: SimTime) {
        self.complete(id, outcome, value, now.as_nanos());
    }

    /// The service reported a change of `lock` for `session` at `now`.
    pub fn touch(&mut self, now: SimTime, lock: &str, session: u64) {
        self.touched.insert((lock.to_string(), session), now);
    }

    /// Whether the service reported a change of `lock` for `session` at or after `since`.
    pub fn touched_since(&self, lock: &str, session: u64, since: SimTime) -> bool {
        self.touched
            .get(&(lock.to_string(), session))
            .is_some_and(|&t| t >= since)
    }

    /// The sessions whose state the recorder keeps (to ask whether they ended), in order.
    pub fn sessions(&self) -> Vec<u64> {
        let mut sessions: Vec<u64> = self
            .touched
            .keys()
            .map(|&(_, s)| s)
            .chain(self.given_up.values().map(|g| g.session))
            .collect();
        sessions.sort_unstable();
        sessions.dedup();
        sessions
    }

    /// The service ended `session`: its report times are no longer needed (its given-up
    /// operations are resolved by the caller first).
    pub fn forget_session(&mut self, session: u64) {
        self.touched.retain(|&(_, s), _| s != session);
    }

    /// The verdict on everything recorded.
    pub fn result(&self) -> IncrementalResult {
        self.checker.result()
    }
}
