//! Recognising a replica's replay of a change already reported, in memory bounded by how far
//! the replicas can still replay: [`FirstReports`].
//!
//! Every replica reports the changes of the entries it applies (`granted`, `freed`, `left`), so a
//! change is reported once by the first replica to apply it and again by every replica that
//! applies it later: a follower catching up, a replica replaying its log after a restart. A check
//! that acts on the first report remembers each change it saw, so as to skip the replays; kept
//! for ever, that memory grows with every grant of the run.
//!
//! The rule that lets it forget: a change reported by replica `R` comes from an entry at most `R`'s
//! applied index after the handler (`upto`). A replica applies an entry again only if it has not
//! applied it yet, or after a restart, which restores the replica's synced snapshot and applies
//! the entries after it. So once every server's synced snapshot covers `upto`, no replica can
//! report the change again, and it is forgotten. A server's snapshot index is read from its
//! storage when the storage has no unsynced write (then what it reads is the synced image; the
//! synced snapshot only moves forward, so an older reading is a safe lower bound), whether the
//! server is up or crashed.

use std::collections::BTreeMap;

use sim_core::{NodeId, Simulation};
use sim_raft::node::SNAPSHOT_KEY;
use sim_raft::Durable;

use crate::node::LockNode;

/// The changes seen, each with the applied index it was first reported at; see the module docs.
#[derive(Debug)]
pub struct FirstReports<K: Ord> {
    seen: BTreeMap<K, u64>,
    /// Per server, the highest synced snapshot index read so far.
    floors: BTreeMap<NodeId, u64>,
    /// Every server's snapshot covers this index: the changes up to it are forgotten.
    floor: u64,
}

impl<K: Ord> FirstReports<K> {
    /// For the servers `servers` (each starts with no snapshot).
    pub fn new(servers: &[NodeId]) -> Self {
        FirstReports {
            seen: BTreeMap::new(),
            floors: servers.iter().map(|&s| (s, 0)).collect(),
            floor: 0,
        }
    }

    /// Whether `key` is reported for the first time (it is remembered, with `upto`), rather than
    /// replayed.
    pub fn first(&mut self, key: K, upto: u64) -> bool {
        if self.seen.contains_key(&key) {
            return false;
        }
        self.seen.insert(key, upto);
        true
    }

    /// Remembers `key` as reported (again) at `upto`: a change known to be new.
    pub fn remember(&mut self, key: K, upto: u64) {
        self.seen.insert(key, upto);
    }

    /// Whether `key` was reported before and may still be replayed.
    pub fn contains(&self, key: &K) -> bool {
        self.seen.contains_key(key)
    }

    /// How many changes are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Server `node`'s synced snapshot covers `index`: forgets what no replica can replay now.
    pub fn snapshot(&mut self, node: NodeId, index: u64) {
        let Some(floor) = self.floors.get_mut(&node) else {
            return;
        };
        if index <= *floor {
            return;
        }
        *floor = index;
        let lowest = self.floors.values().copied().min().unwrap_or(0);
        if lowest > self.floor {
            self.floor = lowest;
            self.seen.retain(|_, &mut upto| upto > lowest);
        }
    }
}

/// Whether the changes a server reports in one handler are new or replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Novelty {
    /// It applied only entries no replica had applied: every report is a first report.
    New,
    /// It applied only entries some replica had applied: every report is a replay.
    Replay,
    /// Some of each: the reports are told apart by what they change ([`FirstReports`]).
    Mixed,
}

/// Tells, per handler, whether a server applied entries for the first time anywhere, from each
/// server's applied index after its previous handler and the highest index any server applied.
#[derive(Debug, Default)]
pub struct Frontier {
    applied: BTreeMap<NodeId, u64>,
    highest: u64,
}

impl Frontier {
    /// Server `node`'s handler left it at applied index `now`.
    pub fn handled(&mut self, node: NodeId, now: u64) -> Novelty {
        let before = self.applied.get(&node).copied().unwrap_or(0);
        let novelty = if now <= before || now <= self.highest {
            Novelty::Replay
        } else if before >= self.highest {
            Novelty::New
        } else {
            Novelty::Mixed
        };
        self.applied.insert(node, now);
        self.highest = self.highest.max(now);
        novelty
    }

    /// Server `node` crashed: it restarts from its snapshot and may apply old entries again.
    pub fn crashed(&mut self, node: NodeId) {
        self.applied.insert(node, 0);
    }
}

/// Server `node`'s applied index now (after its handler), if it is up.
pub fn applied(sim: &Simulation<LockNode>, node: NodeId) -> Option<u64> {
    let server = sim.process(node).and_then(LockNode::raft_server)?;
    Some(server.raft().last_applied())
}

/// Server `node`'s synced snapshot index, when its storage has no unsynced write.
pub fn synced_snapshot(sim: &Simulation<LockNode>, node: NodeId) -> Option<u64> {
    let storage = sim.storage(node);
    if storage.is_dirty() {
        return None;
    }
    match storage.get(SNAPSHOT_KEY) {
        Some(Durable::Snapshot(snapshot)) => Some(snapshot.last_index),
        _ => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leader's handlers apply entries first (new), a follower's after (replays), a new
    /// leader that applies old and new entries at once is mixed, and a restarted server replays.
    #[test]
    fn a_handler_applies_new_entries_only_past_every_server() {
        let mut frontier = Frontier::default();
        assert_eq!(frontier.handled(NodeId(0), 5), Novelty::New);
        assert_eq!(frontier.handled(NodeId(1), 5), Novelty::Replay);
        assert_eq!(frontier.handled(NodeId(0), 9), Novelty::New);
        assert_eq!(frontier.handled(NodeId(1), 12), Novelty::Mixed);
        assert_eq!(
            frontier.handled(NodeId(1), 12),
            Novelty::Replay,
            "nothing applied"
        );
        frontier.crashed(NodeId(1));
        assert_eq!(frontier.handled(NodeId(1), 4), Novelty::Replay);
        assert_eq!(frontier.handled(NodeId(1), 12), Novelty::Replay);
        assert_eq!(frontier.handled(NodeId(1), 13), Novelty::New);
    }

    /// A change is first once; it is forgotten only when every server's snapshot covers the
    /// index it was reported at, and a server behind keeps it.
    #[test]
    fn a_change_is_forgotten_once_every_snapshot_covers_it() {
        let servers = [NodeId(0), NodeId(1), NodeId(2)];
        let mut reports = FirstReports::new(&servers);
        assert!(reports.first(("L1", 7), 100));
        assert!(!reports.first(("L1", 7), 120), "a replay");
        assert!(reports.first(("L1", 8), 300));
        reports.snapshot(NodeId(0), 500);
        reports.snapshot(NodeId(1), 500);
        assert_eq!(reports.len(), 2, "server 2 may still replay both");
        reports.snapshot(NodeId(2), 200);
        assert!(!reports.contains(&("L1", 7)) && reports.contains(&("L1", 8)));
        reports.snapshot(NodeId(2), 150);
        assert!(
            reports.contains(&("L1", 8)),
            "a lower reading changes nothing"
        );
        reports.snapshot(NodeId(9), 1000);
        assert!(reports.contains(&("L1", 8)), "not a server");
        reports.snapshot(NodeId(2), 300);
        assert!(reports.is_empty());
    }
}
