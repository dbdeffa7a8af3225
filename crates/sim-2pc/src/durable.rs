//! Commits awaiting durability at their participants: [`DurableCommits`], the bookkeeping the
//! checks' tracker and `2pc.converged` share to forget a commit once every participant it named
//! holds it durably (disk synced, the decision there, PREPARED gone), and no crash can undo it.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::{NodeId, Simulation};

use crate::node::TxnNode;
use crate::types::TxnId;

/// Committed transactions with the participants that do not hold them durably yet.
#[derive(Debug, Default)]
pub struct DurableCommits {
    /// Per committed transaction, the participants not yet known to hold it durably.
    waiting: BTreeMap<TxnId, BTreeSet<NodeId>>,
    /// Per participant, the commits it learned whose durability is not yet confirmed.
    to_confirm: BTreeMap<NodeId, BTreeSet<TxnId>>,
}

impl DurableCommits {
    /// `txn` committed, naming `participants`: it waits for each of them.
    pub fn committed(&mut self, txn: TxnId, participants: impl IntoIterator<Item = NodeId>) {
        self.waiting.entry(txn).or_default().extend(participants);
    }

    /// Participant `node` learned that `txn` committed: its durability is looked at from now.
    pub fn learned(&mut self, node: NodeId, txn: TxnId) {
        if self.waiting.get(&txn).is_some_and(|w| w.contains(&node)) {
            self.to_confirm.entry(node).or_default().insert(txn);
        }
    }

    /// Whether `txn` still waits for some participant.
    pub fn contains(&self, txn: TxnId) -> bool {
        self.waiting.contains_key(&txn)
    }

    /// Stops following `txn`.
    pub fn remove(&mut self, txn: TxnId) {
        self.waiting.remove(&txn);
    }

    /// Stops following everything.
    pub fn clear(&mut self) {
        self.waiting.clear();
        self.to_confirm.clear();
    }

    /// Entries held, for the tests that count what the checks retain.
    pub fn len(&self) -> usize {
        self.waiting.len() + self.to_confirm.values().map(BTreeSet::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.to_confirm.is_empty()
    }

    /// After `node` handled an event: the commits it now holds durably are confirmed there (read
    /// only when its storage has no unsynced write); returns those now confirmed at every
    /// participant they named, which stop being followed.
    pub fn confirm(&mut self, sim: &Simulation<TxnNode>, node: NodeId) -> Vec<TxnId> {
        let Some(pending) = self.to_confirm.get(&node) else {
            return Vec::new();
        };
        let storage = sim.storage(node);
        let Some(p) = sim.process(node).and_then(TxnNode::participant) else {
            return Vec::new();
        };
        if storage.is_dirty() {
            return Vec::new();
        }
        let held: Vec<TxnId> = pending
            .iter()
            .copied()
            .filter(|&t| p.holds_commit_durably(storage, t))
            .collect();
        let mut done = Vec::new();
        for txn in held {
            if let Some(set) = self.to_confirm.get_mut(&node) {
                set.remove(&txn);
            }
            let Some(waiting) = self.waiting.get_mut(&txn) else {
                continue;
            };
            waiting.remove(&node);
            if waiting.is_empty() {
                self.waiting.remove(&txn);
                done.push(txn);
            }
        }
        if self.to_confirm.get(&node).is_some_and(BTreeSet::is_empty) {
            self.to_confirm.remove(&node);
        }
        done
    }
}
