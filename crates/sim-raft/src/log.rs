//! The Raft log: entries after a snapshot base, with term lookups, truncation and compaction.
//!
//! [`RaftLog`] holds the entries that follow the latest snapshot (`snapshot_index`,
//! `snapshot_term`); index 0 with term 0 stands for the empty prefix. It is the in-memory mirror of
//! what the node keeps in durable storage; writing and syncing it is the node's job
//! ([`crate::node`]). [`Entry`], [`Command`] and [`Snapshot`] are what it stores.

use std::fmt;
use std::sync::Arc;

use sim_kv::KvRequest;

use crate::kv::KvStore;

/// What an entry asks the state machine to do.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    /// The entry a leader appends when its term starts (§5.4.2, §8).
    Noop,
    /// A client request (shared: entries are copied into messages and storage).
    Kv(Arc<KvRequest>),
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Noop => f.write_str("noop"),
            Command::Kv(r) => write!(f, "c{}#{} {:?}", r.client, r.seq, r.op),
        }
    }
}

impl Command {
    /// Whether two commands are the same, comparing the shared request first by pointer.
    pub fn same(&self, other: &Command) -> bool {
        match (self, other) {
            (Command::Noop, Command::Noop) => true,
            (Command::Kv(a), Command::Kv(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

/// One log entry.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub term: u64,
    pub command: Command,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}:{:?}", self.term, self.command)
    }
}

/// A snapshot of the state machine after applying every entry up to `last_index` (§7).
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub last_index: u64,
    pub last_term: u64,
    pub state: KvStore,
}

impl fmt::Debug for Snapshot {
    /// Short on purpose: messages are formatted into the trace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snapshot(i{} t{}, {} keys)",
            self.last_index,
            self.last_term,
            self.state.len()
        )
    }
}

/// The entries after the snapshot base.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftLog {
    snapshot_index: u64,
    snapshot_term: u64,
    /// `entries[k]` is at index `snapshot_index + 1 + k`.
    entries: Vec<Entry>,
}

impl RaftLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that starts after a snapshot.
    pub fn with_base(snapshot_index: u64, snapshot_term: u64) -> Self {
        RaftLog {
            snapshot_index,
            snapshot_term,
            entries: Vec::new(),
        }
    }

    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    pub fn snapshot_term(&self) -> u64 {
        self.snapshot_term
    }

    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The number of entries held (after the snapshot).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The term of the entry at `index`: the snapshot's term at its base, `None` below the base
    /// or past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The entry at `index`, if held (not compacted, not past the end).
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index - self.snapshot_index - 1) as usize)
    }

    /// The entries in `[from, to]` that are held.
    pub fn slice(&self, from: u64, to: u64) -> &[Entry] {
        let from = from.max(self.snapshot_index + 1);
        let to = to.min(self.last_index());
        if from > to {
            return &[];
        }
        let start = (from - self.snapshot_index - 1) as usize;
        let end = (to - self.snapshot_index) as usize;
        &self.entries[start..end]
    }

    /// Appends one entry at `last_index() + 1`.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Replaces the entry at `index` in place (only the planted bug `no_truncate_conflict` does
    /// this: a correct follower truncates instead).
    pub fn overwrite(&mut self, index: u64, entry: Entry) {
        let k = (index - self.snapshot_index - 1) as usize;
        self.entries[k] = entry;
    }

    /// Removes every entry from `index` on (§5.3: a conflicting suffix goes).
    pub fn truncate_from(&mut self, index: u64) {
        assert!(
            index > self.snapshot_index,
            "truncating at {index}, inside the snapshot"
        );
        self.entries
            .truncate((index - self.snapshot_index - 1) as usize);
    }

    /// The first index of the term held at `index`, not below the snapshot base + 1 (for the
    /// conflict hint of fast backtracking).
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
        Some(self.snapshot_index + 1 + pos as u64)
    }

    /// Drops the entries up to `index` (they are in a snapshot now); `index` may be past the end,
    /// in which case the log becomes empty with that base.
    pub fn compact(&mut self, index: u64, term: u64) {
        if index <= self.snapshot_index {
            return;
        }
        let drop = ((index - self.snapshot_index) as usize).min(self.entries.len());
        self.entries.drain(..drop);
        if index > self.snapshot_index + drop as u64 {
            self.entries.clear();
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
        log.compact(2, 1);
        assert_eq!(log.snapshot_index(), 2);
        assert_eq!(log.term_at(2), Some(1));
        assert_eq!(log.term_at(1), None);
        assert_eq!(log.entry(3).map(|e| e.term), Some(2));
        assert_eq!(log.last_index(), 4);
        log.compact(9, 5);
        assert_eq!(log.last_index(), 9);
        assert!(log.is_empty());
        assert_eq!(log.last_term(), 5);
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
        Compact(u64),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (1u64..5).prop_map(Op::Push),
            (0u64..40).prop_map(Op::Truncate),
            (0u64..40).prop_map(Op::Compact),
        ]
    }

    proptest::proptest! {
        /// The log agrees with a plain vector of terms (index i at position i - 1) under any
        /// sequence of appends, truncations and compactions, above its snapshot base.
        #[test]
        fn log_agrees_with_a_plain_vector(ops in proptest::collection::vec(op(), 0..60)) {
            let mut log = RaftLog::new();
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
                    Op::Compact(index) => {
                        if index > log.snapshot_index() && index <= log.last_index() {
                            let term = log.term_at(index).unwrap();
                            log.compact(index, term);
                        }
                    }
                }
                proptest::prop_assert_eq!(log.last_index(), model.len() as u64);
                for index in log.snapshot_index()..=log.last_index() {
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
