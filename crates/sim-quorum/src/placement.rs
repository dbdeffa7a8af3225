//! Where each key lives: consistent hashing with virtual nodes, modulo hashing, and range
//! partitioning.
//!
//! Owns [`Scheme`] (the `[protocol] placement` table) and [`Placement`], which answers a key's
//! *preference list*: every node in the order the key prefers them, the first `n` distinct ones
//! its home replicas and the rest the fallbacks a sloppy quorum reaches for. Consistent hashing
//! (Dynamo, section 4.2) puts `vnodes` tokens per node on a 64-bit ring and walks clockwise from
//! the key's hash; modulo hashing starts at `hash mod node_count`; range partitioning splits the
//! key space `k0 .. k{keys-1}` into contiguous ranges, one per node. Hashes are FNV-1a, fixed,
//! so placement never depends on the platform or the run.

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

/// How keys are placed, as a scenario writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scheme", deny_unknown_fields)]
pub enum Scheme {
    /// Consistent hashing with `vnodes` virtual nodes per node.
    Ring { vnodes: u32 },
    /// `hash(key) mod node_count`, then the next nodes in order.
    Modulo,
    /// Contiguous ranges of the key numbers `0 .. keys`, one per node, then the next nodes.
    Range { keys: u64 },
}

impl Default for Scheme {
    fn default() -> Self {
        Scheme::Ring { vnodes: 16 }
    }
}

/// The most virtual nodes per node.
pub const VNODES_MAX: u32 = 1024;

/// FNV-1a, 64 bits: stable across platforms and runs.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // A final mix, so that keys differing in their last character spread over the ring.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

/// A placement over a fixed set of nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    scheme: Scheme,
    nodes: Vec<NodeId>,
    /// The ring's tokens, sorted: (position, node).
    ring: Vec<(u64, NodeId)>,
}

impl Placement {
    pub fn new(scheme: Scheme, nodes: Vec<NodeId>) -> Self {
        let mut ring = Vec::new();
        if let Scheme::Ring { vnodes } = scheme {
            for &node in &nodes {
                for v in 0..vnodes.max(1) {
                    ring.push((fnv1a(format!("node-{}-vnode-{v}", node.0).as_bytes()), node));
                }
            }
            ring.sort();
        }
        Placement {
            scheme,
            nodes,
            ring,
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Every node, in the order `key` prefers them.
    pub fn preference_list(&self, key: &str) -> Vec<NodeId> {
        let count = self.nodes.len();
        if count == 0 {
            return Vec::new();
        }
        let start = match self.scheme {
            Scheme::Ring { .. } => return self.walk_ring(fnv1a(key.as_bytes())),
            Scheme::Modulo => (fnv1a(key.as_bytes()) % count as u64) as usize,
            Scheme::Range { keys } => {
                let number: u64 = key
                    .trim_start_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .unwrap_or_else(|_| fnv1a(key.as_bytes()) % keys.max(1));
                let width = keys.max(1).div_ceil(count as u64).max(1);
                ((number.min(keys.saturating_sub(1)) / width) as usize).min(count - 1)
            }
        };
        (0..count)
            .map(|i| self.nodes[(start + i) % count])
            .collect()
    }

    /// The first `n` nodes of `key`'s preference list: its home replicas.
    pub fn home(&self, key: &str, n: usize) -> Vec<NodeId> {
        let mut list = self.preference_list(key);
        list.truncate(n);
        list
    }

    /// Distinct nodes clockwise from `position`.
    fn walk_ring(&self, position: u64) -> Vec<NodeId> {
        let start = self.ring.partition_point(|&(token, _)| token < position);
        let mut list: Vec<NodeId> = Vec::with_capacity(self.nodes.len());
        for i in 0..self.ring.len() {
            let node = self.ring[(start + i) % self.ring.len()].1;
            if !list.contains(&node) {
                list.push(node);
                if list.len() == self.nodes.len() {
                    break;
                }
            }
        }
        list
    }

    /// How many of `keys` each node holds as a home replica (`n` replicas per key), in node
    /// order.
    pub fn load(&self, keys: &[String], n: usize) -> Vec<(NodeId, usize)> {
        let mut counts: Vec<(NodeId, usize)> = self.nodes.iter().map(|&node| (node, 0)).collect();
        for key in keys {
            for node in self.home(key, n) {
                if let Some(entry) = counts.iter_mut().find(|(n, _)| *n == node) {
                    entry.1 += 1;
                }
            }
        }
        counts
    }
}

/// How many of `keys` change their first home replica when the cluster goes from `before` to
/// `after` nodes.
pub fn keys_moved(scheme: Scheme, before: usize, after: usize, keys: &[String]) -> usize {
    let nodes = |count: usize| (0..count as u32).map(NodeId).collect::<Vec<_>>();
    let old = Placement::new(scheme, nodes(before));
    let new = Placement::new(scheme, nodes(after));
    keys.iter()
        .filter(|key| old.home(key, 1) != new.home(key, 1))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(count: usize) -> Vec<String> {
        (0..count).map(|k| format!("k{k}")).collect()
    }

    /// Dynamo, section 4.2: adding or removing a node moves only the keys of the ranges next to
    /// its tokens, about 1/n of them, where modulo hashing moves nearly every key.
    #[test]
    fn consistent_hashing_moves_about_one_nth_of_the_keys_and_modulo_nearly_all() {
        let keys = keys(10_000);
        let ring = Scheme::Ring { vnodes: 128 };
        let added = keys_moved(ring, 9, 10, &keys);
        let removed = keys_moved(ring, 10, 9, &keys);
        // 1/10 of the keys is 1000; allow for the spread of 128 tokens per node.
        assert!(
            (600..=1500).contains(&added),
            "ring, a node added: {added} keys moved"
        );
        assert!(
            (600..=1500).contains(&removed),
            "ring, a node removed: {removed} keys moved"
        );
        let modulo_added = keys_moved(Scheme::Modulo, 9, 10, &keys);
        let modulo_removed = keys_moved(Scheme::Modulo, 10, 9, &keys);
        assert!(
            modulo_added >= 8_500,
            "modulo, a node added: {modulo_added} keys moved"
        );
        assert!(
            modulo_removed >= 8_500,
            "modulo, a node removed: {modulo_removed} keys moved"
        );
        // Range partitioning moves every key whose range boundary shifts: about half of them.
        let range = keys_moved(Scheme::Range { keys: 10_000 }, 9, 10, &keys);
        assert!(
            (3_000..=7_000).contains(&range),
            "range, a node added: {range} keys moved"
        );
    }

    #[test]
    fn a_preference_list_names_every_node_once_with_the_home_replicas_first() {
        let nodes: Vec<NodeId> = (0..5).map(NodeId).collect();
        for scheme in [
            Scheme::Ring { vnodes: 8 },
            Scheme::Modulo,
            Scheme::Range { keys: 20 },
        ] {
            let placement = Placement::new(scheme, nodes.clone());
            for key in keys(20) {
                let mut list = placement.preference_list(&key);
                assert_eq!(placement.home(&key, 3), list[..3].to_vec());
                list.sort();
                assert_eq!(list, nodes, "{scheme:?} {key}");
            }
        }
    }

    #[test]
    fn range_partitioning_gives_each_node_a_contiguous_range() {
        let placement = Placement::new(Scheme::Range { keys: 10 }, (0..5).map(NodeId).collect());
        let first: Vec<u32> = keys(10).iter().map(|k| placement.home(k, 1)[0].0).collect();
        assert_eq!(first, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
        let load = placement.load(&keys(10), 3);
        assert!(load.iter().all(|&(_, count)| count == 6), "{load:?}");
    }
}
