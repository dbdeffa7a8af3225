//! A quorum node: every node is a replica of the keys placed on it, a coordinator of any client
//! request it receives, a fallback for hinted writes, and an anti-entropy peer.
//!
//! Owns [`Config`] (mode, versioning, replica count, placement, sloppy quorum, hinted handoff,
//! read repair, anti-entropy), [`QuorumNode`] and its replica side: reads answer every version
//! held for the key (hinted ones included), writes merge and are synced before they are
//! acknowledged (Dynamo, section 4.2: "the coordinator ... writes the new version locally"),
//! hinted writes are kept apart and handed back to their home replica until it acknowledges
//! them (section 4.6), and anti-entropy exchanges a digest per shared key and pushes the
//! versions that differ (section 4.7, with a flat digest where Dynamo uses Merkle trees: the
//! same repairs, more bytes). Coordination lives in `coordinator.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use rand::Rng;
use sim_core::hash::{hash_value, StableHasher};
use sim_core::{Ctx, NodeId, Process, RequestId, SimDuration};

use crate::bugs::Bug;
use crate::coordinator::Coord;
use crate::message::{Msg, QuorumEvent, Timer};
use crate::placement::Placement;
use crate::types::{QuorumRequest, QuorumResponse};
use crate::version::{merge, Concurrent, Versioned};

/// Which algorithm serves requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Dynamo-style: any node coordinates, per-operation levels, sloppy quorums.
    Dynamo,
    /// ABD: a linearizable multi-writer register per key over strict majorities.
    Abd,
}

/// How Dynamo mode versions writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Versioning {
    /// Last-write-wins by the coordinator's local clock.
    Lww,
    /// Vector clocks, siblings returned to the client.
    VectorClocks,
}

/// What every node of a run shares.
#[derive(Clone, Debug)]
pub struct Config {
    pub mode: Mode,
    pub versioning: Versioning,
    /// Replicas per key (N).
    pub replicas: usize,
    pub placement: Placement,
    pub sloppy_quorum: bool,
    pub hinted_handoff: bool,
    pub read_repair: bool,
    pub anti_entropy: Option<SimDuration>,
    pub handoff_interval: SimDuration,
    pub sloppy_after: SimDuration,
    pub coordinator_timeout: SimDuration,
    pub bugs: BTreeSet<Bug>,
}

impl Config {
    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }

    pub fn concurrent(&self) -> Concurrent {
        if self.has(Bug::MergeByClockSum) {
            Concurrent::LargerSum
        } else {
            Concurrent::Siblings
        }
    }

    /// A strict majority of the replicas.
    pub fn majority(&self) -> usize {
        self.replicas / 2 + 1
    }
}

/// One node; see the module docs.
#[derive(Debug)]
pub struct QuorumNode {
    pub(crate) config: Arc<Config>,
    pub(crate) id: NodeId,
    store: BTreeMap<String, Vec<Versioned>>,
    hints: BTreeMap<(NodeId, String), Vec<Versioned>>,
    pub(crate) ops: BTreeMap<u64, Coord>,
    pub(crate) next_op: u64,
    /// Messages to this node itself, handled right after the handler that sent them.
    local: VecDeque<Msg>,
}

const DATA: &str = "data/";
const HINT: &str = "hint/";

impl QuorumNode {
    pub fn new(id: NodeId, config: Arc<Config>) -> Self {
        QuorumNode {
            config,
            id,
            store: BTreeMap::new(),
            hints: BTreeMap::new(),
            ops: BTreeMap::new(),
            next_op: 1,
            local: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The versions this node holds as a replica, by key.
    pub fn store(&self) -> &BTreeMap<String, Vec<Versioned>> {
        &self.store
    }

    /// The hinted writes it keeps for unreachable home replicas.
    pub fn hints(&self) -> &BTreeMap<(NodeId, String), Vec<Versioned>> {
        &self.hints
    }

    pub(crate) fn send(&mut self, ctx: &mut Ctx<'_, Self>, to: NodeId, msg: Msg) {
        if to == self.id {
            self.local.push_back(msg);
        } else {
            ctx.send(to, msg);
        }
    }

    fn drain_local(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Bounded: each local message is a read, a write or their answer, and answers send
        // nothing further to this node but repairs, which are acknowledged once.
        let mut budget = 10_000;
        while let Some(msg) = self.local.pop_front() {
            budget -= 1;
            if budget == 0 {
                self.local.clear();
                break;
            }
            self.handle(ctx, self.id, msg);
        }
    }

    /// Every version of `key` this node can answer with: its own and the hinted ones.
    fn versions_for_read(&self, key: &str) -> Vec<Versioned> {
        let mut versions = self.store.get(key).cloned().unwrap_or_default();
        for ((_, hinted_key), hinted) in &self.hints {
            if hinted_key == key {
                merge(&mut versions, hinted, self.config.concurrent());
            }
        }
        versions
    }

    /// Merges `versions` into `key` and makes it durable (unless the `ack_before_sync` bug
    /// leaves that to the next periodic sync). Returns whether anything changed.
    pub(crate) fn store_versions(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        key: &str,
        versions: &[Versioned],
    ) -> bool {
        let concurrent = self.config.concurrent();
        let entry = self.store.entry(key.to_string()).or_default();
        if !merge(entry, versions, concurrent) {
            return false;
        }
        ctx.storage().put(format!("{DATA}{key}"), entry.clone());
        if !self.config.has(Bug::AckBeforeSync) {
            ctx.storage().sync();
        }
        true
    }

    fn store_hint(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        home: NodeId,
        key: &str,
        versions: &[Versioned],
    ) {
        let concurrent = self.config.concurrent();
        let entry = self.hints.entry((home, key.to_string())).or_default();
        if merge(entry, versions, concurrent) {
            ctx.storage()
                .put(format!("{HINT}{}/{key}", home.0), entry.clone());
            ctx.storage().sync();
            ctx.report(QuorumEvent::HintStored {
                home,
                key: key.to_string(),
            });
        }
    }

    pub(crate) fn handle(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Read { op, key } => {
                let versions = self.versions_for_read(&key);
                self.send(ctx, from, Msg::ReadReply { op, key, versions });
            }
            Msg::ReadReply { op, key, versions } => {
                self.on_read_reply(ctx, from, op, &key, versions)
            }
            Msg::Write {
                op,
                key,
                versions,
                hint,
            } => {
                match hint {
                    Some(home) if home != self.id => self.store_hint(ctx, home, &key, &versions),
                    _ => {
                        self.store_versions(ctx, &key, &versions);
                    }
                }
                self.send(ctx, from, Msg::WriteAck { op, key });
            }
            Msg::WriteAck { op, .. } => self.on_write_ack(ctx, from, op),
            Msg::Handoff { key, versions } => {
                self.store_versions(ctx, &key, &versions);
                self.send(ctx, from, Msg::HandoffAck { key, versions });
            }
            Msg::HandoffAck { key, versions } => {
                let slot = (from, key);
                if self.hints.get(&slot) == Some(&versions) {
                    self.hints.remove(&slot);
                    ctx.storage()
                        .remove(&format!("{HINT}{}/{}", from.0, slot.1));
                    ctx.storage().sync();
                    ctx.report(QuorumEvent::HintDelivered {
                        home: from,
                        key: slot.1,
                    });
                }
            }
            Msg::Digest { entries, reply } => self.on_digest(ctx, from, entries, reply),
            Msg::Push { key, versions } => {
                if self.store_versions(ctx, &key, &versions) {
                    ctx.report(QuorumEvent::AntiEntropyRepaired { peer: from, key });
                }
            }
        }
    }

    /// Whether both this node and `peer` are home replicas of `key`.
    fn shared(&self, key: &str, peer: NodeId) -> bool {
        let home = self.config.placement.home(key, self.config.replicas);
        home.contains(&self.id) && home.contains(&peer)
    }

    fn digest(&self, peer: NodeId) -> Vec<(String, u64)> {
        self.store
            .iter()
            .filter(|(key, _)| self.shared(key, peer))
            .map(|(key, versions)| {
                let mut hasher = StableHasher::new();
                hash_value(&mut hasher, versions);
                (key.clone(), hasher.finish())
            })
            .collect()
    }

    fn on_digest(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        entries: Vec<(String, u64)>,
        reply: bool,
    ) {
        let theirs: BTreeMap<String, u64> = entries.into_iter().collect();
        let mine = self.digest(from);
        for (key, hash) in &mine {
            if theirs.get(key) != Some(hash) {
                let versions = self.store.get(key).cloned().unwrap_or_default();
                self.send(
                    ctx,
                    from,
                    Msg::Push {
                        key: key.clone(),
                        versions,
                    },
                );
            }
        }
        let mine: BTreeMap<String, u64> = mine.into_iter().collect();
        let behind = theirs.iter().any(|(key, hash)| mine.get(key) != Some(hash));
        if reply && behind {
            self.send(
                ctx,
                from,
                Msg::Digest {
                    entries: mine.into_iter().collect(),
                    reply: false,
                },
            );
        }
    }

    fn on_anti_entropy(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let Some(interval) = self.config.anti_entropy {
            let count = ctx.node_count() as u32;
            if count > 1 {
                let pick = ctx.rng().gen_range(0..count - 1);
                let peer = NodeId(if pick >= self.id.0 { pick + 1 } else { pick });
                let entries = self.digest(peer);
                self.send(
                    ctx,
                    peer,
                    Msg::Digest {
                        entries,
                        reply: true,
                    },
                );
            }
            ctx.set_timer(interval, Timer::AntiEntropy);
        }
    }

    fn on_handoff(&mut self, ctx: &mut Ctx<'_, Self>) {
        // The `ack_before_sync` bug's writes reach the disk here, with the next periodic work.
        ctx.storage().sync();
        if self.config.hinted_handoff {
            let hints: Vec<((NodeId, String), Vec<Versioned>)> = self
                .hints
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for ((home, key), versions) in hints {
                self.send(ctx, home, Msg::Handoff { key, versions });
            }
        }
        ctx.set_timer(self.config.handoff_interval, Timer::Handoff);
    }
}

impl Process for QuorumNode {
    type Msg = Msg;
    type Timer = Timer;
    type Request = QuorumRequest;
    type Response = QuorumResponse;
    type Durable = Vec<Versioned>;
    type Event = QuorumEvent;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        for (name, versions) in ctx.storage().range_prefix(DATA) {
            self.store.insert(name[DATA.len()..].to_string(), versions);
        }
        for (name, versions) in ctx.storage().range_prefix(HINT) {
            let rest = &name[HINT.len()..];
            if let Some((home, key)) = rest.split_once('/') {
                if let Ok(home) = home.parse::<u32>() {
                    self.hints.insert((NodeId(home), key.to_string()), versions);
                }
            }
        }
        // Operation numbers from a fresh random base, so that replies to a previous life's
        // operations are never taken for this one's.
        self.next_op = (u64::from(ctx.rng().gen::<u32>()) << 32) | 1;
        ctx.set_timer(self.config.handoff_interval, Timer::Handoff);
        if let Some(interval) = self.config.anti_entropy {
            let first = ctx.rng().gen_range(0..interval.0.max(1));
            ctx.set_timer(SimDuration(first), Timer::AntiEntropy);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        self.handle(ctx, from, msg);
        self.drain_local(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match timer {
            Timer::Sloppy(op) => self.on_sloppy(ctx, op),
            Timer::Deadline(op) => self.on_deadline(ctx, op),
            Timer::RepairWindow(op) => {
                self.ops.remove(&op);
            }
            Timer::Handoff => self.on_handoff(ctx),
            Timer::AntiEntropy => self.on_anti_entropy(ctx),
        }
        self.drain_local(ctx);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, request: QuorumRequest) {
        self.coordinate(ctx, id, request);
        self.drain_local(ctx);
    }
}

/// Replies to a client (a helper so coordinator code reads as the paper does).
pub(crate) fn answer(ctx: &mut Ctx<'_, QuorumNode>, id: RequestId, response: QuorumResponse) {
    ctx.reply(id, response);
}
