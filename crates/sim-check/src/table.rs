//! Hash tables for the search, with fixed hash functions so runs are reproducible.
//!
//! Owns [`FingerprintSet`] (the memo of visited configurations), [`TransitionCache`] (model steps
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

/// A set of 128-bit fingerprints with open addressing and linear probing.
///
/// The all-zero fingerprint marks an empty slot, so it is stored as `[0, 1]`; two configurations
/// sharing a fingerprint by that remapping is as unlikely as any other collision.
pub(crate) struct FingerprintSet {
    slots: Vec<[u64; 2]>,
    len: usize,
}

impl FingerprintSet {
    const CAPACITY_MIN: usize = 1 << 10;

    pub(crate) fn new() -> Self {
        FingerprintSet {
            slots: vec![[0, 0]; Self::CAPACITY_MIN],
            len: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds `fingerprint`; returns whether it was new.
    pub(crate) fn insert(&mut self, fingerprint: [u64; 2]) -> bool {
        let fingerprint = if fingerprint == [0, 0] {
            [0, 1]
        } else {
            fingerprint
        };
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut slot = (fingerprint[0] as usize) & mask;
        loop {
            let current = self.slots[slot];
            if current == [0, 0] {
                self.slots[slot] = fingerprint;
                self.len += 1;
                return true;
            }
            if current == fingerprint {
                return false;
            }
            slot = (slot + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let capacity = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![[0, 0]; capacity]);
        let mask = self.slots.len() - 1;
        for fingerprint in old.into_iter().filter(|slot| *slot != [0, 0]) {
            let mut slot = (fingerprint[0] as usize) & mask;
            while self.slots[slot] != [0, 0] {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = fingerprint;
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

    pub(crate) fn new() -> Self {
        TransitionCache {
            keys: vec![Self::EMPTY; Self::CAPACITY_MIN],
            values: vec![0; Self::CAPACITY_MIN],
            len: 0,
        }
    }

    fn key(state: u32, op: u32) -> u64 {
        (u64::from(state) << 32) | u64::from(op)
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

    #[cfg(test)]
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
    fn fingerprint_set_reports_new_and_seen() {
        let mut set = FingerprintSet::new();
        for word in 0..5000u64 {
            assert!(set.insert([mix64(word), word]));
        }
        for word in 0..5000u64 {
            assert!(!set.insert([mix64(word), word]));
        }
        assert_eq!(set.len(), 5000);
        assert!(set.insert([0, 0]));
        assert!(!set.insert([0, 0]));
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
