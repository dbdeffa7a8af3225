//! Hash tables for the search, with fixed hash functions so runs are reproducible.
//!
//! Owns [`SubsumptionMemo`] (the memo of explored configurations), [`TransitionCache`] (model steps
//! already computed), [`Interner`] (model states to dense ids) and [`StableHasher`]. None of them
//! is ever iterated, so no hash order can reach a result; std's maps are banned in this workspace
//! anyway.

use std::hash::{Hash, Hasher};

/// The splitmix64 finalizer: a fixed, well-mixed function of a 64-bit word.
pub(crate) fn mix64(mut word: u64) -> u64 {
    word = word.wrapping_add(0x9e37_79b9_7f4a_7c15);
    word = (word ^ (word >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    word = (word ^ (word >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    word ^ (word >> 31)
}

/// A fast hasher with a fixed seed (the FxHash step followed by a splitmix finalizer).
#[derive(Default)]
pub(crate) struct StableHasher {
    hash: u64,
}

impl StableHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &byte in chunks.remainder() {
            self.add(u64::from(byte));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        mix64(self.hash)
    }
}

pub(crate) fn stable_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = StableHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// The most entries a table is sized for up front; past that it grows as it fills.
const PRESIZE_MAX: usize = 1 << 20;

/// A power-of-two capacity for `slots` slots, at least `minimum`, at most about `PRESIZE_MAX`.
fn table_capacity(slots: usize, minimum: usize) -> usize {
    slots
        .min(PRESIZE_MAX)
        .checked_next_power_of_two()
        .unwrap_or(PRESIZE_MAX)
        .max(minimum)
}

/// The memo of explored configurations with subsumption by info usage.
///
/// A configuration is (required operations linearized, state, info operations used). Its first
/// two parts are a 128-bit fingerprint; the third is a vector of counts per info class. A
/// configuration is subsumed when one with the same fingerprint and a count vector no larger in
/// every class was explored: having used fewer info operations, that one could do everything this
/// one can. Count vectors are kept sparse in an arena, newest first per fingerprint.
pub(crate) struct SubsumptionMemo {
    keys: Vec<[u64; 2]>,
    heads: Vec<u32>,
    len: usize,
    /// Nodes: `[next, pair count, (class, count)*]`.
    arena: Vec<u32>,
}

/// Why the memo cannot take another configuration.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MemoFull;

impl SubsumptionMemo {
    const CAPACITY_MIN: usize = 1 << 10;
    const NO_NODE: u32 = u32::MAX;

    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::with_expected(0)
    }

    /// A memo sized for about `expected` configurations, so that a search of that size does not
    /// rehash as it grows. The pre-sizing is capped; the table still grows past it.
    pub(crate) fn with_expected(expected: usize) -> Self {
        let capacity = table_capacity(expected.saturating_mul(4) / 3, Self::CAPACITY_MIN);
        SubsumptionMemo {
            keys: vec![[0, 0]; capacity],
            heads: vec![Self::NO_NODE; capacity],
            len: 0,
            arena: Vec::with_capacity(expected.min(PRESIZE_MAX).saturating_mul(2)),
        }
    }

    /// Records the configuration `(fingerprint, usage)` unless an explored one subsumes it;
    /// returns whether it was recorded. `active` lists the classes with a nonzero count in
    /// `used`.
    pub(crate) fn insert(
        &mut self,
        fingerprint: [u64; 2],
        active: &[u32],
        used: &[u32],
    ) -> Result<bool, MemoFull> {
        let fingerprint = if fingerprint == [0, 0] {
            [0, 1]
        } else {
            fingerprint
        };
        if (self.len + 1) * 4 > self.keys.len() * 3 {
            self.grow();
        }
        let mask = self.keys.len() - 1;
        let mut slot = (fingerprint[0] as usize) & mask;
        loop {
            let current = self.keys[slot];
            if current == [0, 0] {
                self.keys[slot] = fingerprint;
                self.len += 1;
                break;
            }
            if current == fingerprint {
                if self.subsumed(self.heads[slot], used) {
                    return Ok(false);
                }
                break;
            }
            slot = (slot + 1) & mask;
        }
        let node = self.arena.len();
        let node_u32 = u32::try_from(node).map_err(|_| MemoFull)?;
        if node_u32 >= Self::NO_NODE - 2 * (active.len() as u32 + 1) {
            return Err(MemoFull);
        }
        self.arena.push(self.heads[slot]);
        self.arena.push(active.len() as u32);
        for &class in active {
            self.arena.push(class);
            self.arena.push(used[class as usize]);
        }
        self.heads[slot] = node_u32;
        Ok(true)
    }

    /// The bytes the memo holds.
    pub(crate) fn bytes(&self) -> u64 {
        (self.keys.capacity() * 16 + self.heads.capacity() * 4 + self.arena.capacity() * 4) as u64
    }

    fn subsumed(&self, mut node: u32, used: &[u32]) -> bool {
        while node != Self::NO_NODE {
            let start = node as usize;
            let pair_count = self.arena[start + 1] as usize;
            let pairs = &self.arena[start + 2..start + 2 + 2 * pair_count];
            let covered = pairs
                .chunks_exact(2)
                .all(|pair| used.get(pair[0] as usize).copied().unwrap_or(0) >= pair[1]);
            if covered {
                return true;
            }
            node = self.arena[start];
        }
        false
    }

    fn grow(&mut self) {
        let capacity = self.keys.len() * 2;
        let old_keys = std::mem::replace(&mut self.keys, vec![[0, 0]; capacity]);
        let old_heads = std::mem::replace(&mut self.heads, vec![Self::NO_NODE; capacity]);
        let mask = capacity - 1;
        for (key, head) in old_keys.into_iter().zip(old_heads) {
            if key == [0, 0] {
                continue;
            }
            let mut slot = (key[0] as usize) & mask;
            while self.keys[slot] != [0, 0] {
                slot = (slot + 1) & mask;
            }
            self.keys[slot] = key;
            self.heads[slot] = head;
        }
    }
}

/// Remembers `(state id, op) -> result state id` (or "cannot step") so each model step runs once.
/// It is only a cache: when full it is cleared, bounding its memory.
pub(crate) struct TransitionCache {
    keys: Vec<u64>,
    values: Vec<u32>,
    len: usize,
}

impl TransitionCache {
    const EMPTY: u64 = u64::MAX;
    const CAPACITY_MIN: usize = 1 << 8;
    const LEN_MAX: usize = 1 << 22;

    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::with_expected(0)
    }

    /// A cache sized for about `expected` transitions (capped, as for the memo).
    pub(crate) fn with_expected(expected: usize) -> Self {
        let capacity = table_capacity(expected.saturating_mul(2), Self::CAPACITY_MIN);
        TransitionCache {
            keys: vec![Self::EMPTY; capacity],
            values: vec![0; capacity],
            len: 0,
        }
    }

    fn key(state: u32, op: u32) -> u64 {
        (u64::from(state) << 32) | u64::from(op)
    }

    /// The bytes the cache holds.
    pub(crate) fn bytes(&self) -> u64 {
        (self.keys.capacity() * 8 + self.values.capacity() * 4) as u64
    }

    pub(crate) fn get(&self, state: u32, op: u32) -> Option<u32> {
        let key = Self::key(state, op);
        let mask = self.keys.len() - 1;
        let mut slot = (mix64(key) as usize) & mask;
        loop {
            let current = self.keys[slot];
            if current == key {
                return Some(self.values[slot]);
            }
            if current == Self::EMPTY {
                return None;
            }
            slot = (slot + 1) & mask;
        }
    }

    pub(crate) fn insert(&mut self, state: u32, op: u32, result: u32) {
        if self.len >= Self::LEN_MAX {
            self.keys.iter_mut().for_each(|key| *key = Self::EMPTY);
            self.len = 0;
        }
        if (self.len + 1) * 2 > self.keys.len() {
            self.grow();
        }
        self.place(Self::key(state, op), result);
    }

    fn place(&mut self, key: u64, result: u32) {
        let mask = self.keys.len() - 1;
        let mut slot = (mix64(key) as usize) & mask;
        while self.keys[slot] != Self::EMPTY && self.keys[slot] != key {
            slot = (slot + 1) & mask;
        }
        if self.keys[slot] == Self::EMPTY {
            self.len += 1;
        }
        self.keys[slot] = key;
        self.values[slot] = result;
    }

    fn grow(&mut self) {
        let capacity = self.keys.len() * 2;
        let old_keys = std::mem::replace(&mut self.keys, vec![Self::EMPTY; capacity]);
        let old_values = std::mem::replace(&mut self.values, vec![0; capacity]);
        self.len = 0;
        for (key, value) in old_keys.into_iter().zip(old_values) {
            if key != Self::EMPTY {
                self.place(key, value);
            }
        }
    }
}

/// Gives each distinct value a dense id, in order of first appearance.
pub(crate) struct Interner<T> {
    values: Vec<T>,
    hashes: Vec<u64>,
    slots: Vec<u32>,
}

impl<T: Hash + Eq> Interner<T> {
    const EMPTY: u32 = u32::MAX;

    pub(crate) fn new() -> Self {
        Interner {
            values: Vec::new(),
            hashes: Vec::new(),
            slots: vec![Self::EMPTY; 64],
        }
    }

    pub(crate) fn get(&self, id: u32) -> &T {
        &self.values[id as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn intern(&mut self, value: T) -> u32 {
        let hash = stable_hash(&value);
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        loop {
            let id = self.slots[slot];
            if id == Self::EMPTY {
                break;
            }
            if self.hashes[id as usize] == hash && self.values[id as usize] == value {
                return id;
            }
            slot = (slot + 1) & mask;
        }
        // The search stops long before this (see `search::STATES_MAX`).
        let id = u32::try_from(self.values.len()).unwrap_or(u32::MAX - 1);
        self.values.push(value);
        self.hashes.push(hash);
        self.slots[slot] = id;
        if self.values.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let capacity = self.slots.len() * 2;
        self.slots = vec![Self::EMPTY; capacity];
        let mask = capacity - 1;
        for (id, hash) in self.hashes.iter().enumerate() {
            let mut slot = (*hash as usize) & mask;
            while self.slots[slot] != Self::EMPTY {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = id as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsumption_memo_prunes_configurations_with_more_info_used() {
        let mut memo = SubsumptionMemo::new();
        let mut used = vec![0u32; 3];
        used[1] = 2;
        assert_eq!(memo.insert([1, 2], &[1], &used), Ok(true));
        assert_eq!(memo.insert([1, 2], &[1], &used), Ok(false));
        used[1] = 3;
        assert_eq!(memo.insert([1, 2], &[1], &used), Ok(false));
        used[1] = 1;
        assert_eq!(memo.insert([1, 2], &[1], &used), Ok(true));
        used[1] = 0;
        used[2] = 1;
        assert_eq!(memo.insert([1, 2], &[2], &used), Ok(true));
        assert_eq!(memo.insert([1, 2], &[], &[0, 0, 0]), Ok(true));
        assert_eq!(memo.insert([1, 2], &[2], &used), Ok(false));
        for word in 0..3000u64 {
            assert_eq!(memo.insert([mix64(word), word], &[], &[]), Ok(true));
        }
        assert_eq!(memo.insert([mix64(7), 7], &[], &[]), Ok(false));
    }

    #[test]
    fn transition_cache_remembers_results() {
        let mut cache = TransitionCache::new();
        for state in 0..300u32 {
            cache.insert(state, state + 1, state * 2);
        }
        for state in 0..300u32 {
            assert_eq!(cache.get(state, state + 1), Some(state * 2));
        }
        assert_eq!(cache.get(1, 1), None);
    }

    #[test]
    fn interner_gives_dense_ids_in_order() {
        let mut interner = Interner::new();
        let ids: Vec<u32> = (0..200).map(|n| interner.intern(n % 150)).collect();
        assert_eq!(ids[149], 149);
        assert_eq!(ids[150], 0);
        assert_eq!(interner.len(), 150);
        assert_eq!(*interner.get(7), 7);
    }
}
