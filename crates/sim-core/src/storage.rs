//! Durable storage with real crash semantics.
//!
//! A process writes keyed values; a write is visible to the process at once (as through an
//! operating system's page cache) but becomes durable only when [`Storage::sync`] is called. A
//! crash keeps the synced image and loses every unsynced write, so a protocol that replies before
//! it syncs will be caught by a crash between the two.

use std::collections::{BTreeMap, BTreeSet};

/// One node's disk: a synced image and the writes made since the last sync.
#[derive(Debug, Clone)]
pub struct Storage<V> {
    durable: BTreeMap<String, V>,
    /// Writes since the last sync in the order they were made, `None` for a removal. A log is
    /// cheaper than a map here: protocols sync after a handful of writes, and each write then
    /// costs one map operation (at the sync) instead of two.
    pending: Vec<(String, Option<V>)>,
    sync_count: u64,
    write_count: u64,
}

impl<V> Default for Storage<V> {
    fn default() -> Self {
        Storage {
            durable: BTreeMap::new(),
            pending: Vec::new(),
            sync_count: 0,
            write_count: 0,
        }
    }
}

impl<V: Clone> Storage<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current value of `key`, counting unsynced writes.
    pub fn get(&self, key: &str) -> Option<&V> {
        match self.pending.iter().rev().find(|(k, _)| k == key) {
            Some((_, pending)) => pending.as_ref(),
            None => self.durable.get(key),
        }
    }

    /// Writes `value` under `key`; durable only after the next [`Storage::sync`].
    pub fn put(&mut self, key: impl Into<String>, value: V) {
        self.write_count += 1;
        self.pending.push((key.into(), Some(value)));
    }

    /// Removes `key`; durable only after the next [`Storage::sync`].
    pub fn remove(&mut self, key: &str) {
        self.write_count += 1;
        self.pending.push((key.to_string(), None));
    }

    /// Makes every write so far durable (an fsync).
    pub fn sync(&mut self) {
        self.sync_count += 1;
        for (key, value) in self.pending.drain(..) {
            match value {
                Some(v) => {
                    self.durable.insert(key, v);
                }
                None => {
                    self.durable.remove(&key);
                }
            }
        }
    }

    /// Whether there are writes not yet synced.
    pub fn is_dirty(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The keys present now (durable or pending), in order.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: BTreeSet<&str> = self.durable.keys().map(String::as_str).collect();
        for (key, value) in &self.pending {
            match value {
                Some(_) => keys.insert(key),
                None => keys.remove(key.as_str()),
            };
        }
        keys.into_iter().map(str::to_string).collect()
    }

    /// The entries whose keys start with `prefix`, in key order (durable and pending merged).
    pub fn range_prefix(&self, prefix: &str) -> Vec<(String, V)> {
        self.keys()
            .into_iter()
            .filter(|k| k.starts_with(prefix))
            .filter_map(|k| self.get(&k).cloned().map(|v| (k, v)))
            .collect()
    }

    /// What a crash does: every unsynced write is lost.
    pub fn crash(&mut self) {
        self.pending.clear();
    }

    pub fn sync_count(&self) -> u64 {
        self.sync_count
    }

    pub fn write_count(&self) -> u64 {
        self.write_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_loses_unsynced_writes_and_keeps_synced_ones() {
        let mut disk: Storage<u64> = Storage::new();
        disk.put("term", 1);
        disk.sync();
        disk.put("term", 2);
        disk.put("vote", 3);
        assert_eq!(disk.get("term"), Some(&2), "a write is visible before sync");
        disk.crash();
        assert_eq!(disk.get("term"), Some(&1));
        assert_eq!(disk.get("vote"), None);
    }

    #[test]
    fn removal_is_durable_only_after_sync() {
        let mut disk: Storage<u64> = Storage::new();
        disk.put("a", 1);
        disk.sync();
        disk.remove("a");
        assert_eq!(disk.get("a"), None);
        assert!(disk.keys().is_empty());
        disk.crash();
        assert_eq!(disk.get("a"), Some(&1));
        disk.remove("a");
        disk.sync();
        disk.crash();
        assert_eq!(disk.get("a"), None);
    }

    #[test]
    fn range_prefix_merges_pending_and_durable() {
        let mut disk: Storage<u64> = Storage::new();
        disk.put("log/2", 2);
        disk.sync();
        disk.put("log/1", 1);
        disk.put("other", 9);
        assert_eq!(
            disk.range_prefix("log/"),
            vec![("log/1".into(), 1), ("log/2".into(), 2)]
        );
    }

    proptest::proptest! {
        /// Against a model: a visible map and a durable map, where sync copies one to the other
        /// and a crash copies back.
        #[test]
        fn behaves_like_a_page_cache_over_a_disk(ops in proptest::collection::vec((0u8..4, 0u8..5, 0u64..100), 0..60)) {
            let mut disk: Storage<u64> = Storage::new();
            let mut visible: BTreeMap<String, u64> = BTreeMap::new();
            let mut durable: BTreeMap<String, u64> = BTreeMap::new();
            for (op, key, value) in ops {
                let key = format!("k{key}");
                match op {
                    0 => { disk.put(key.clone(), value); visible.insert(key, value); }
                    1 => { disk.remove(&key); visible.remove(&key); }
                    2 => { disk.sync(); durable = visible.clone(); }
                    _ => { disk.crash(); visible = durable.clone(); }
                }
                for k in 0..5 {
                    let k = format!("k{k}");
                    proptest::prop_assert_eq!(disk.get(&k), visible.get(&k));
                }
                proptest::prop_assert_eq!(disk.keys(), visible.keys().cloned().collect::<Vec<_>>());
            }
        }
    }
}
