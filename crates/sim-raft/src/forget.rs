//! Bounded records for the safety checks: entries by log index that no node can touch again are
//! forgotten, so a check's memory follows the live part of the logs, not the run's length.
//!
//! Owns [`ByIndex`] (a record per log index, from a movable start) and [`floor`], the index below
//! which nothing is needed any more: every node's durable snapshot covers it, and every running
//! node's log starts after it. No node can then write, apply or install anything below it: a
//! running node writes past its log's base, a restarted one re-applies from its durable snapshot
//! on, and a snapshot sent or installed ends at or above its sender's base. Entries a restarted
//! node reads back from its disk below the floor were checked when it first wrote them.

use std::collections::VecDeque;

use sim_core::Simulation;

use crate::node::{Durable, RaftNode, SNAPSHOT_KEY};

/// How many observations pass between two looks for records to forget.
pub(crate) const FORGET_EVERY: u64 = 4096;

/// The lowest log index a safety check still needs a record of; see the module docs.
pub(crate) fn floor(sim: &Simulation<RaftNode>) -> u64 {
    sim.node_ids()
        .map(|node| {
            let durable = match sim.storage(node).get(SNAPSHOT_KEY) {
                Some(Durable::Snapshot(snapshot)) => snapshot.last_index,
                _ => 0,
            };
            let live = sim.process(node).map_or(u64::MAX, |p| p.log().base_index());
            durable.min(live)
        })
        .min()
        .unwrap_or(0)
}

/// Records by log index (from 1), dense from the first one still kept.
pub(crate) struct ByIndex<T> {
    /// How many leading indices were forgotten: the first kept is `forgotten + 1`.
    forgotten: u64,
    items: VecDeque<T>,
}

impl<T> Default for ByIndex<T> {
    fn default() -> Self {
        ByIndex {
            forgotten: 0,
            items: VecDeque::new(),
        }
    }
}

impl<T> ByIndex<T> {
    /// The highest index recorded (forgotten ones included).
    pub(crate) fn last_index(&self) -> u64 {
        self.forgotten + self.items.len() as u64
    }

    /// Whether `index` was forgotten.
    pub(crate) fn is_forgotten(&self, index: u64) -> bool {
        index <= self.forgotten
    }

    pub(crate) fn get(&self, index: u64) -> Option<&T> {
        let offset = index.checked_sub(self.forgotten + 1)?;
        self.items.get(usize::try_from(offset).ok()?)
    }

    pub(crate) fn get_mut(&mut self, index: u64) -> Option<&mut T> {
        let offset = index.checked_sub(self.forgotten + 1)?;
        self.items.get_mut(usize::try_from(offset).ok()?)
    }

    /// Records the next index, `last_index() + 1`.
    pub(crate) fn push(&mut self, item: T) {
        self.items.push_back(item);
    }

    /// The records from `index` on, with their indices.
    pub(crate) fn from(&self, index: u64) -> impl Iterator<Item = (u64, &T)> {
        let first = self.forgotten + 1;
        let skip = index.saturating_sub(first) as usize;
        self.items
            .iter()
            .enumerate()
            .skip(skip)
            .map(move |(k, item)| (first + k as u64, item))
    }

    /// Forgets the records below `index`.
    pub(crate) fn forget_below(&mut self, index: u64) {
        while self.forgotten + 1 < index && self.items.pop_front().is_some() {
            self.forgotten += 1;
        }
    }
}

impl<T: Clone> ByIndex<T> {
    /// Extends the record with `fill` up to `index`.
    pub(crate) fn extend_to(&mut self, index: u64, fill: T) {
        while self.last_index() < index {
            self.items.push_back(fill.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgetting_keeps_indices_and_the_rest() {
        let mut record: ByIndex<u64> = ByIndex::default();
        for index in 1..=10 {
            record.push(index * 100);
        }
        record.forget_below(4);
        assert_eq!(record.last_index(), 10);
        assert!(record.is_forgotten(3));
        assert!(!record.is_forgotten(4));
        assert_eq!(record.get(3), None);
        assert_eq!(record.get(4), Some(&400));
        assert_eq!(record.get(10), Some(&1000));
        assert_eq!(record.get(11), None);
        let from: Vec<u64> = record.from(2).map(|(index, _)| index).collect();
        assert_eq!(from, (4..=10).collect::<Vec<_>>());
        record.forget_below(20);
        assert_eq!(record.last_index(), 10);
        record.push(1100);
        assert_eq!(record.get(11), Some(&1100));
    }
}
