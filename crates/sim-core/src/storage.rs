//! Durable storage with real crash semantics.
//!
//! A process writes keyed values; a write is visible to the process at once (as through an
//! operating system's page cache) but becomes durable only when [`Storage::sync`] is called. A
//! crash keeps the synced image and loses every unsynced write, so a protocol that replies before
//! it syncs will be caught by a crash between the two.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// One write since the last sync.
#[derive(Debug, Clone)]
enum Write<V> {
    Put(String, V),
    Remove(String),
    PutEntry(&'static str, u64, V),
    RemoveEntries(&'static str, Range<u64>),
}

/// One node's disk: a synced image and the writes made since the last sync.
///
/// Besides values under string keys, a disk holds named logs: values by `u64` index (a Raft log,
/// a write-ahead log), which cost no key allocation and are removed by range.
#[derive(Debug, Clone)]
pub struct Storage<V> {
    durable: BTreeMap<String, V>,
    logs: BTreeMap<&'static str, BTreeMap<u64, V>>,
    /// Writes since the last sync in the order they were made. A list is cheaper than a map
    /// here: protocols sync after a handful of writes, and each write then costs one map
    /// operation (at the sync) instead of two.
    pending: Vec<Write<V>>,
    sync_count: u64,
    write_count: u64,
}

impl<V> Default for Storage<V> {
    fn default() -> Self {
        Storage {
            durable: BTreeMap::new(),
            logs: BTreeMap::new(),
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
        for write in self.pending.iter().rev() {
            match write {
                Write::Put(k, v) if k == key => return Some(v),
                Write::Remove(k) if k == key => return None,
                _ => {}
            }
        }
        self.durable.get(key)
    }

    /// Writes `value` under `key`; durable only after the next [`Storage::sync`].
    pub fn put(&mut self, key: impl Into<String>, value: V) {
        self.write_count += 1;
        self.pending.push(Write::Put(key.into(), value));
    }

    /// Removes `key`; durable only after the next [`Storage::sync`].
    pub fn remove(&mut self, key: &str) {
        self.write_count += 1;
        self.pending.push(Write::Remove(key.to_string()));
    }

    /// The current entry `index` of the log called `log`, counting unsynced writes.
    pub fn get_entry(&self, log: &str, index: u64) -> Option<&V> {
        for write in self.pending.iter().rev() {
            match write {
                Write::PutEntry(l, i, v) if *l == log && *i == index => return Some(v),
                Write::RemoveEntries(l, range) if *l == log && range.contains(&index) => {
                    return None
                }
                _ => {}
            }
        }
        self.logs.get(log).and_then(|entries| entries.get(&index))
    }

    /// Writes entry `index` of the log called `log`; durable only after the next sync.
    pub fn put_entry(&mut self, log: &'static str, index: u64, value: V) {
        self.write_count += 1;
        self.pending.push(Write::PutEntry(log, index, value));
    }

    /// Removes the entries of `log` whose indices lie in `range`; durable only after the next
    /// sync.
    pub fn remove_entries(&mut self, log: &'static str, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        self.write_count += 1;
        self.pending.push(Write::RemoveEntries(log, range));
    }

    /// Every entry of `log` now (durable and pending merged), in index order.
    pub fn entries(&self, log: &str) -> Vec<(u64, V)> {
        let mut entries = self.logs.get(log).cloned().unwrap_or_default();
        for write in &self.pending {
            match write {
                Write::PutEntry(l, i, v) if *l == log => {
                    entries.insert(*i, v.clone());
                }
                Write::RemoveEntries(l, range) if *l == log => remove_range(&mut entries, range),
                _ => {}
            }
        }
        entries.into_iter().collect()
    }

    /// Makes every write so far durable (an fsync).
    pub fn sync(&mut self) {
        self.sync_count += 1;
        for write in self.pending.drain(..) {
            match write {
                Write::Put(key, v) => {
                    self.durable.insert(key, v);
                }
                Write::Remove(key) => {
                    self.durable.remove(&key);
                }
                Write::PutEntry(log, index, v) => {
                    self.logs.entry(log).or_default().insert(index, v);
                }
                Write::RemoveEntries(log, range) => {
                    if let Some(entries) = self.logs.get_mut(log) {
                        remove_range(entries, &range);
                    }
                }
            }
        }
    }

    /// Whether there are writes not yet synced.
    pub fn is_dirty(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The string keys present now (durable or pending), in order.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: BTreeSet<&str> = self.durable.keys().map(String::as_str).collect();
        for write in &self.pending {
            match write {
                Write::Put(key, _) => {
                    keys.insert(key);
                }
                Write::Remove(key) => {
                    keys.remove(key.as_str());
                }
                _ => {}
            }
        }
        keys.into_iter().map(str::to_string).collect()
    }

    /// The entries whose string keys start with `prefix`, in key order (durable and pending
    /// merged).
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

/// Removes the keys of `entries` in `range`, splitting the map rather than visiting each key
/// when the range reaches one of its ends.
fn remove_range<V>(entries: &mut BTreeMap<u64, V>, range: &Range<u64>) {
    let mut tail = entries.split_off(&range.start);
    let mut kept_tail = tail.split_off(&range.end);
    entries.append(&mut kept_tail);
    tail.clear();
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

    proptest::proptest! {
        /// Named logs against the same model: entries by index, removed by range.
        #[test]
        fn logs_behave_like_a_page_cache_over_a_disk(ops in proptest::collection::vec((0u8..4, 0u64..12, 0u64..12), 0..60)) {
            let mut disk: Storage<u64> = Storage::new();
            let mut visible: BTreeMap<u64, u64> = BTreeMap::new();
            let mut durable: BTreeMap<u64, u64> = BTreeMap::new();
            for (op, a, b) in ops {
                match op {
                    0 => { disk.put_entry("log", a, b); visible.insert(a, b); }
                    1 => { disk.remove_entries("log", a.min(b)..a.max(b)); visible.retain(|i, _| !(a.min(b)..a.max(b)).contains(i)); }
                    2 => { disk.sync(); durable = visible.clone(); }
                    _ => { disk.crash(); visible = durable.clone(); }
                }
                for i in 0..12 {
                    proptest::prop_assert_eq!(disk.get_entry("log", i), visible.get(&i));
                    proptest::prop_assert_eq!(disk.get_entry("other", i), None);
                }
                proptest::prop_assert_eq!(disk.entries("log"), visible.clone().into_iter().collect::<Vec<_>>());
            }
        }
    }
}
