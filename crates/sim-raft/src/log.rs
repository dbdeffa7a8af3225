//! The Raft log: the entries after a base, with term lookups, truncation and compaction.
//!
//! [`RaftLog`] holds the entries that follow its base (`base_index`, `base_term`: the entry
//! before the first one held, whose term the consistency check still needs) and knows the end
//! of the latest snapshot (`snapshot_index`, `snapshot_term`); index 0 with term 0 stands for the
//! empty prefix. The base sits at the snapshot's end or below it: compaction may keep some
//! entries the snapshot already covers, so that a leader can still send them to a follower that
//! is a little behind instead of its whole state machine (etcd's `SnapshotCatchUpEntries`).
//! It is the in-memory mirror of what the node keeps in durable storage; writing and syncing it
//! is the node's job ([`crate::node`]). [`Entry`], [`Command`] and [`Snapshot`] are what it
//! stores.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::kv::KvStore;
use crate::machine::StateMachine;

/// What an entry asks the state machine `M` to do.
#[derive(Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub enum Command<M: StateMachine = KvStore> {
    /// The entry a leader appends when its term starts (§5.4.2, §8).
    Noop,
    /// A client request (shared: entries are copied into messages and storage). The name is
    /// the key-value store's, Raft's first state machine; any machine's requests travel in it.
    Kv(Arc<M::Request>),
}

impl<M: StateMachine> Eq for Command<M> where M::Request: Eq {}

impl<M: StateMachine> fmt::Debug for Command<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Noop => f.write_str("noop"),
            Command::Kv(r) => {
                let (client, seq) = M::client_seq(r);
                write!(f, "c{client}#{seq} {r:?}")
            }
        }
    }
}

impl<M: StateMachine> Command<M> {
    /// Whether two commands are the same, comparing the shared request first by pointer.
    pub fn same(&self, other: &Command<M>) -> bool {
        match (self, other) {
            (Command::Noop, Command::Noop) => true,
            (Command::Kv(a), Command::Kv(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

/// One log entry.
#[derive(Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Entry<M: StateMachine = KvStore> {
    pub term: u64,
    pub command: Command<M>,
}

impl<M: StateMachine> Eq for Entry<M> where M::Request: Eq {}

impl<M: StateMachine> fmt::Debug for Entry<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}:{:?}", self.term, self.command)
    }
}

/// A snapshot of the state machine after applying every entry up to `last_index` (§7).
#[derive(Clone, PartialEq, Serialize)]
pub struct Snapshot<M: StateMachine = KvStore> {
    pub last_index: u64,
    pub last_term: u64,
    pub state: M,
}

impl<M: StateMachine + Eq> Eq for Snapshot<M> {}

impl<M: StateMachine> fmt::Debug for Snapshot<M> {
    /// Short on purpose, for test failures and logs (the trace writes snapshots as JSON).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snapshot(i{} t{}, {} keys)",
            self.last_index,
            self.last_term,
            self.state.size()
        )
    }
}

/// The entries after a base at or below the latest snapshot's end.
///
/// Invariant: `base_index <= snapshot_index <= last_index()`.
#[derive(Debug, Clone, PartialEq)]
pub struct RaftLog<M: StateMachine = KvStore> {
    base_index: u64,
    base_term: u64,
    snapshot_index: u64,
    snapshot_term: u64,
    /// `entries[k]` is at index `base_index + 1 + k`.
    entries: Vec<Entry<M>>,
}

impl<M: StateMachine> Default for RaftLog<M> {
    fn default() -> Self {
        RaftLog {
            base_index: 0,
            base_term: 0,
            snapshot_index: 0,
            snapshot_term: 0,
            entries: Vec::new(),
        }
    }
}

impl<M: StateMachine> Eq for RaftLog<M> where M::Request: Eq {}

impl<M: StateMachine> RaftLog<M> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that starts after a snapshot, holding nothing it covers.
    pub fn with_base(snapshot_index: u64, snapshot_term: u64) -> Self {
        RaftLog {
            base_index: snapshot_index,
            base_term: snapshot_term,
            snapshot_index,
            snapshot_term,
            entries: Vec::new(),
        }
    }

    /// The end of the latest snapshot: every entry up to it is committed and applied.
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    pub fn snapshot_term(&self) -> u64 {
        self.snapshot_term
    }

    /// The index before the first entry held; its term is still known. At or below
    /// [`RaftLog::snapshot_index`]: the entries in between are covered by the snapshot and kept
    /// for followers that are a little behind.
    pub fn base_index(&self) -> u64 {
        self.base_index
    }

    pub fn base_term(&self) -> u64 {
        self.base_term
    }

    pub fn last_index(&self) -> u64 {
        self.base_index + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.base_term, |e| e.term)
    }

    /// The number of entries held (after the base).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The term of the entry at `index`: the base's term at the base, `None` below the base or
    /// past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.base_index {
            return Some(self.base_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The entry at `index`, if held (not compacted, not past the end).
    pub fn entry(&self, index: u64) -> Option<&Entry<M>> {
        if index <= self.base_index {
            return None;
        }
        self.entries.get((index - self.base_index - 1) as usize)
    }

    /// The entries in `[from, to]` that are held.
    pub fn slice(&self, from: u64, to: u64) -> &[Entry<M>] {
        let from = from.max(self.base_index + 1);
        let to = to.min(self.last_index());
        if from > to {
            return &[];
        }
        let start = (from - self.base_index - 1) as usize;
        let end = (to - self.base_index) as usize;
        &self.entries[start..end]
    }

    /// Appends one entry at `last_index() + 1`.
    pub fn push(&mut self, entry: Entry<M>) {
        self.entries.push(entry);
    }

    /// Replaces the entry at `index` in place (only the planted bug `no_truncate_conflict` does
    /// this: a correct follower truncates instead).
    pub fn overwrite(&mut self, index: u64, entry: Entry<M>) {
        assert!(
            index > self.snapshot_index,
            "overwriting at {index}, inside the snapshot"
        );
        let k = (index - self.base_index - 1) as usize;
        self.entries[k] = entry;
    }

    /// Removes every entry from `index` on (§5.3: a conflicting suffix goes). Entries the
    /// snapshot covers are committed and never conflict.
    pub fn truncate_from(&mut self, index: u64) {
        assert!(
            index > self.snapshot_index,
            "truncating at {index}, inside the snapshot"
        );
        self.entries
            .truncate((index - self.base_index - 1) as usize);
    }

    /// The first index of the term held at `index`, not below the snapshot's end + 1 (for the
    /// conflict hint of fast backtracking: entries the snapshot covers never conflict).
    pub fn first_index_of_term_at(&self, index: u64) -> u64 {
        let term = self.term_at(index);
        let mut first = index;
        while first > self.snapshot_index + 1 && self.term_at(first - 1) == term {
            first -= 1;
        }
        first
    }

    /// The last index whose entry has `term`, if any is held.
    pub fn last_index_of_term(&self, term: u64) -> Option<u64> {
        let pos = self.entries.iter().rposition(|e| e.term == term)?;
        Some(self.base_index + 1 + pos as u64)
    }

    /// Records a snapshot ending at `index` (whose entry has `term`) and drops the entries it
    /// covers, except the last `retain` of them (§7; `retain` is the catch-up allowance). If the
    /// log does not hold that entry (`index` is past its end, or has another term there), every
    /// entry goes and the log restarts after the snapshot. A snapshot no newer than the
    /// current one changes nothing.
    pub fn compact(&mut self, index: u64, term: u64, retain: u64) {
        if index <= self.snapshot_index {
            return;
        }
        if self.term_at(index) != Some(term) {
            *self = RaftLog::with_base(index, term);
            return;
        }
        let base = index.saturating_sub(retain).max(self.base_index);
        if let Some(base_term) = self.term_at(base) {
            self.entries.drain(..(base - self.base_index) as usize);
            self.base_index = base;
            self.base_term = base_term;
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(terms: &[u64]) -> RaftLog {
        let mut log = RaftLog::new();
        for &term in terms {
            log.push(Entry {
                term,
                command: Command::Noop,
            });
        }
        log
    }

    #[test]
    fn term_lookups_and_slices() {
        let log = log_of(&[1, 1, 2, 3]);
        assert_eq!(log.last_index(), 4);
        assert_eq!(log.term_at(0), Some(0));
        assert_eq!(log.term_at(3), Some(2));
        assert_eq!(log.term_at(5), None);
        assert_eq!(log.slice(2, 10).len(), 3);
        assert_eq!(log.first_index_of_term_at(2), 1);
        assert_eq!(log.last_index_of_term(1), Some(2));
        assert_eq!(log.last_index_of_term(7), None);
    }

    /// §7: compaction keeps the base's index and term for the consistency check.
    #[test]
    fn compaction_keeps_the_base() {
        let mut log = log_of(&[1, 1, 2, 3]);
        log.compact(2, 1, 0);
        assert_eq!(log.snapshot_index(), 2);
        assert_eq!(log.base_index(), 2);
        assert_eq!(log.term_at(2), Some(1));
        assert_eq!(log.term_at(1), None);
        assert_eq!(log.entry(3).map(|e| e.term), Some(2));
        assert_eq!(log.last_index(), 4);
        log.compact(9, 5, 0);
        assert_eq!(log.last_index(), 9);
        assert!(log.is_empty());
        assert_eq!(log.last_term(), 5);
    }

    /// §7 with etcd's `SnapshotCatchUpEntries`: compaction keeps up to `retain` entries the
    /// snapshot covers, with the term of the one before them; the base never moves back.
    #[test]
    fn compaction_retains_the_catch_up_entries() {
        let mut log = log_of(&[1, 1, 2, 2, 3, 3]);
        log.compact(5, 3, 2);
        assert_eq!((log.snapshot_index(), log.snapshot_term()), (5, 3));
        assert_eq!((log.base_index(), log.base_term()), (3, 2));
        assert_eq!(log.entry(4).map(|e| e.term), Some(2));
        assert_eq!(log.term_at(2), None);
        assert_eq!(log.slice(1, 6).len(), 3);
        assert_eq!(
            log.first_index_of_term_at(6),
            6,
            "the conflict hint stays above the snapshot"
        );
        log.compact(6, 3, 9);
        assert_eq!(log.base_index(), 3, "the base moved back");
        // A snapshot the log disagrees with replaces it.
        log.compact(7, 4, 9);
        assert_eq!((log.base_index(), log.last_index()), (7, 7));
        assert!(log.is_empty());
    }

    #[test]
    fn truncation_removes_the_suffix() {
        let mut log = log_of(&[1, 1, 2, 3]);
        log.truncate_from(3);
        assert_eq!(log.last_index(), 2);
        assert_eq!(log.last_term(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u64),
        Truncate(u64),
        Compact(u64, u64),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (1u64..5).prop_map(Op::Push),
            (0u64..40).prop_map(Op::Truncate),
            (0u64..40, 0u64..6).prop_map(|(index, retain)| Op::Compact(index, retain)),
        ]
    }

    proptest::proptest! {
        /// The log agrees with a plain vector of terms (index i at position i - 1) under any
        /// sequence of appends, truncations and compactions (retaining some entries or none),
        /// from its base on.
        #[test]
        fn log_agrees_with_a_plain_vector(ops in proptest::collection::vec(op(), 0..60)) {
            let mut log: RaftLog = RaftLog::new();
            let mut model: Vec<u64> = Vec::new();
            for op in ops {
                match op {
                    Op::Push(term) => {
                        let term = term.max(log.last_term());
                        log.push(Entry { term, command: Command::Noop });
                        model.push(term);
                    }
                    Op::Truncate(index) => {
                        if index > log.snapshot_index() && index <= log.last_index() {
                            log.truncate_from(index);
                            model.truncate(index as usize - 1);
                        }
                    }
                    Op::Compact(index, retain) => {
                        if index > log.snapshot_index() && index <= log.last_index() {
                            let term = log.term_at(index).unwrap();
                            let base = log.base_index();
                            log.compact(index, term, retain);
                            let expected = index.saturating_sub(retain).max(base);
                            proptest::prop_assert_eq!(log.base_index(), expected);
                        }
                    }
                }
                proptest::prop_assert_eq!(log.last_index(), model.len() as u64);
                proptest::prop_assert!(log.base_index() <= log.snapshot_index());
                proptest::prop_assert_eq!(log.term_at(log.snapshot_index()), Some(log.snapshot_term()));
                for index in log.base_index()..=log.last_index() {
                    let expected = if index == 0 { 0 } else { model[index as usize - 1] };
                    proptest::prop_assert_eq!(log.term_at(index), Some(expected));
                }
                if log.last_index() > log.snapshot_index() {
                    let first = log.first_index_of_term_at(log.last_index());
                    proptest::prop_assert!(first > log.snapshot_index());
                    proptest::prop_assert_eq!(log.term_at(first), log.term_at(log.last_index()));
                }
            }
        }
    }
}
