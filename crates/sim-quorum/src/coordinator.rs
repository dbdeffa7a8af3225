//! Coordinating a client request: Dynamo's reads and writes over R and W of N replicas with
//! sloppy quorums and read repair, and ABD's two-phase reads and writes over majorities.
//!
//! Owns [`Coord`], one operation a node coordinates, and the coordinator handlers of
//! [`QuorumNode`]. Dynamo (section 4.5): the coordinator sends the request to the key's N home
//! replicas and answers once R (reads) or W (writes) have; when some stay silent past
//! `sloppy_after` and sloppy quorums are on, it asks the next nodes of the preference list
//! instead, a write carrying a hint naming the home replica it stands in for (section 4.6); a
//! read answers every sibling found and writes the newest versions back to the replicas that
//! answered with older ones (read repair). ABD (Attiya, Bar-Noy, Dolev 1995, with multiple
//! writers as in Lynch and Shvartsman 1997): a write asks a majority for the highest
//! `(ts, node)` and writes `(ts + 1, self)` to a majority; a read asks a majority and writes the
//! highest value back to a majority before it returns.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::{Ctx, NodeId, RequestId};

use crate::bugs::Bug;
use crate::message::{Msg, QuorumEvent, Timer};
use crate::node::{answer, Mode, QuorumNode, Versioning};
use crate::types::{QuorumOp, QuorumRequest, QuorumResponse};
use crate::version::{context, merge, Version, Versioned};

/// What a coordinated operation is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Dynamo read: R replies.
    Read,
    /// Dynamo write: W acknowledgements.
    Write,
    /// ABD, first phase: a majority's highest stamp.
    Query,
    /// ABD, second phase: a majority's acknowledgement of the value written or written back.
    Propagate,
}

/// One operation a node coordinates.
#[derive(Clone, Debug)]
pub struct Coord {
    request: RequestId,
    req: QuorumRequest,
    phase: Phase,
    key: String,
    /// The key's home replicas.
    home: Vec<NodeId>,
    /// Every node asked, fallbacks included.
    contacted: Vec<NodeId>,
    /// The home replica each fallback stands in for.
    standing_in: BTreeMap<NodeId, NodeId>,
    answered: BTreeSet<NodeId>,
    needed: usize,
    replies: BTreeMap<NodeId, Vec<Versioned>>,
    merged: Vec<Versioned>,
    /// What a write phase writes.
    versions: Vec<Versioned>,
    replied: bool,
}

impl QuorumNode {
    pub(crate) fn coordinate(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        id: RequestId,
        req: QuorumRequest,
    ) {
        let config = &self.config;
        let key = req.op.key().to_string();
        let home = config.placement.home(&key, config.replicas);
        let is_read = matches!(req.op, QuorumOp::Get { .. });
        let needed = match config.mode {
            Mode::Abd => config.majority(),
            Mode::Dynamo => req.level.required(config.replicas),
        };
        if needed == 0 || needed > home.len() {
            answer(ctx, id, QuorumResponse::Unavailable);
            return;
        }
        let mut coord = Coord {
            request: id,
            phase: Phase::Read,
            key,
            contacted: home.clone(),
            home,
            standing_in: BTreeMap::new(),
            answered: BTreeSet::new(),
            needed,
            replies: BTreeMap::new(),
            merged: Vec::new(),
            versions: Vec::new(),
            replied: false,
            req,
        };
        match (self.config.mode, is_read) {
            (Mode::Dynamo, true) => coord.phase = Phase::Read,
            (Mode::Dynamo, false) => {
                coord.phase = Phase::Write;
                coord.versions = vec![self.dynamo_version(ctx, &coord.req)];
            }
            (Mode::Abd, false) if self.config.has(Bug::AbdWriteWithoutQuery) => {
                coord.phase = Phase::Propagate;
                let ts = self
                    .store()
                    .get(&coord.key)
                    .map_or(0, |v| v.iter().map(|x| x.stamp().0).max().unwrap_or(0));
                coord.versions = vec![self.abd_stamp(ts + 1, &coord.req)];
            }
            (Mode::Abd, _) => coord.phase = Phase::Query,
        }
        self.start(ctx, coord);
    }

    /// A Dynamo write's version: the coordinator's local clock, or the client's context with
    /// the session's entry set to this operation's sequence number.
    fn dynamo_version(&self, ctx: &mut Ctx<'_, Self>, req: &QuorumRequest) -> Versioned {
        let value = match &req.op {
            QuorumOp::Put { value, .. } => value.clone(),
            QuorumOp::Get { .. } => String::new(),
        };
        let version = match self.config.versioning {
            Versioning::Lww => Version::Stamp {
                ts: ctx.local_time().0,
                node: self.id.0,
            },
            Versioning::VectorClocks => {
                let mut clock = req.context.clone().unwrap_or_default();
                let entry = clock.0.entry(req.client).or_insert(0);
                *entry = (*entry).max(req.seq);
                Version::Clock(clock)
            }
        };
        Versioned { version, value }
    }

    fn abd_stamp(&self, ts: u64, req: &QuorumRequest) -> Versioned {
        let value = match &req.op {
            QuorumOp::Put { value, .. } => value.clone(),
            QuorumOp::Get { .. } => String::new(),
        };
        Versioned {
            version: Version::Stamp {
                ts,
                node: self.id.0,
            },
            value,
        }
    }

    /// Sends the phase's messages to the home replicas and arms its timers.
    fn start(&mut self, ctx: &mut Ctx<'_, Self>, mut coord: Coord) {
        let op = self.next_op;
        self.next_op += 1;
        coord.contacted = coord.home.clone();
        coord.standing_in.clear();
        coord.answered.clear();
        coord.replies.clear();
        for node in coord.home.clone() {
            let msg = phase_message(&coord, op, None);
            self.send(ctx, node, msg);
        }
        if coord.phase == Phase::Write && self.config.has(Bug::CountSentAsAcked) {
            coord.answered = coord.home.iter().copied().collect();
        }
        ctx.set_timer(
            self.config.coordinator_timeout,
            crate::message::Timer::Deadline(op),
        );
        if self.config.mode == Mode::Dynamo && self.config.sloppy_quorum {
            ctx.set_timer(self.config.sloppy_after, Timer::Sloppy(op));
        }
        self.ops.insert(op, coord);
        self.maybe_finish_write(ctx, op);
    }

    pub(crate) fn on_read_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        op: u64,
        key: &str,
        versions: Vec<Versioned>,
    ) {
        let concurrent = self.config.concurrent();
        let Some(coord) = self.ops.get_mut(&op) else {
            return;
        };
        if coord.key != key || !coord.contacted.contains(&from) {
            return;
        }
        coord.answered.insert(from);
        merge(&mut coord.merged, &versions, concurrent);
        coord.replies.insert(from, versions);
        match coord.phase {
            Phase::Read => self.on_dynamo_read_reply(ctx, op),
            Phase::Query => self.on_abd_query_reply(ctx, op),
            Phase::Write | Phase::Propagate => {}
        }
    }

    fn on_dynamo_read_reply(&mut self, ctx: &mut Ctx<'_, Self>, op: u64) {
        let read_repair = self.config.read_repair;
        let first_sibling_only = self.config.has(Bug::ContextOfFirstSibling);
        let Some(coord) = self.ops.get_mut(&op) else {
            return;
        };
        if !coord.replied && coord.replies.len() >= coord.needed {
            coord.replied = true;
            let values = coord.merged.iter().map(|v| v.value.clone()).collect();
            let covered = if first_sibling_only {
                &coord.merged[..coord.merged.len().min(1)]
            } else {
                &coord.merged[..]
            };
            let response = QuorumResponse::Value {
                values,
                context: context(covered),
            };
            answer(ctx, coord.request, response);
            ctx.set_timer(self.config.coordinator_timeout, Timer::RepairWindow(op));
        }
        if !coord.replied || !read_repair {
            return;
        }
        // Read repair: every home replica that answered with less than the newest versions.
        let stale: Vec<NodeId> = coord
            .replies
            .iter()
            .filter(|(node, versions)| coord.home.contains(node) && **versions != coord.merged)
            .map(|(node, _)| *node)
            .collect();
        let key = coord.key.clone();
        let merged = coord.merged.clone();
        for node in stale {
            if let Some(coord) = self.ops.get_mut(&op) {
                coord.replies.insert(node, merged.clone());
            }
            self.send(
                ctx,
                node,
                Msg::Write {
                    op: 0,
                    key: key.clone(),
                    versions: merged.clone(),
                    hint: None,
                },
            );
            ctx.report(QuorumEvent::ReadRepaired {
                replica: node,
                key: key.clone(),
            });
        }
    }

    fn on_abd_query_reply(&mut self, ctx: &mut Ctx<'_, Self>, op: u64) {
        let write_back = !self.config.has(Bug::AbdReadWithoutWriteBack);
        let Some(coord) = self.ops.get(&op) else {
            return;
        };
        if coord.replies.len() < coord.needed {
            return;
        }
        let Some(mut coord) = self.ops.remove(&op) else {
            return;
        };
        let highest = coord.merged.iter().max_by_key(|v| v.stamp()).cloned();
        match (&coord.req.op, highest) {
            (QuorumOp::Put { .. }, highest) => {
                let ts = highest.map_or(0, |v| v.stamp().0);
                coord.versions = vec![self.abd_stamp(ts + 1, &coord.req)];
            }
            (QuorumOp::Get { .. }, None) => {
                let response = QuorumResponse::Value {
                    values: Vec::new(),
                    context: None,
                };
                answer(ctx, coord.request, response);
                return;
            }
            (QuorumOp::Get { .. }, Some(highest)) => {
                if !write_back {
                    let response = QuorumResponse::Value {
                        values: vec![highest.value],
                        context: None,
                    };
                    answer(ctx, coord.request, response);
                    return;
                }
                coord.versions = vec![highest];
            }
        }
        coord.phase = Phase::Propagate;
        self.start(ctx, coord);
    }

    pub(crate) fn on_write_ack(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, op: u64) {
        let Some(coord) = self.ops.get_mut(&op) else {
            return;
        };
        if !coord.contacted.contains(&from) {
            return;
        }
        coord.answered.insert(from);
        self.maybe_finish_write(ctx, op);
    }

    /// Answers a write phase that has its acknowledgements.
    fn maybe_finish_write(&mut self, ctx: &mut Ctx<'_, Self>, op: u64) {
        let Some(coord) = self.ops.get(&op) else {
            return;
        };
        let writing = matches!(coord.phase, Phase::Write | Phase::Propagate);
        if !writing || coord.replied || coord.answered.len() < coord.needed {
            return;
        }
        let Some(coord) = self.ops.remove(&op) else {
            return;
        };
        let response = match coord.req.op {
            QuorumOp::Put { .. } => QuorumResponse::Done,
            QuorumOp::Get { .. } => QuorumResponse::Value {
                values: coord.versions.iter().map(|v| v.value.clone()).collect(),
                context: None,
            },
        };
        answer(ctx, coord.request, response);
    }

    /// Sloppy quorum: each home replica still silent is replaced by the next node of the
    /// preference list not yet asked.
    pub(crate) fn on_sloppy(&mut self, ctx: &mut Ctx<'_, Self>, op: u64) {
        let replicas = self.config.replicas;
        let Some(coord) = self.ops.get(&op) else {
            return;
        };
        if coord.replied {
            return;
        }
        let silent: Vec<NodeId> = coord
            .home
            .iter()
            .filter(|n| !coord.answered.contains(n))
            .copied()
            .collect();
        let list = self.config.placement.preference_list(&coord.key);
        let mut fallbacks = list
            .into_iter()
            .skip(replicas)
            .filter(|n| !coord.contacted.contains(n));
        let mut sends = Vec::new();
        for home in silent {
            let Some(fallback) = fallbacks.next() else {
                break;
            };
            sends.push((home, fallback));
        }
        if sends.is_empty() {
            return;
        }
        let Some(coord) = self.ops.get_mut(&op) else {
            return;
        };
        let key = coord.key.clone();
        let without_hint = self.config.has(Bug::SloppyWriteWithoutHint);
        let mut messages = Vec::new();
        for &(home, fallback) in &sends {
            coord.contacted.push(fallback);
            coord.standing_in.insert(fallback, home);
            let hint = (!without_hint).then_some(home);
            messages.push((fallback, phase_message(coord, op, hint)));
        }
        for (fallback, msg) in messages {
            self.send(ctx, fallback, msg);
        }
        ctx.report(QuorumEvent::SloppyQuorum { key });
    }

    pub(crate) fn on_deadline(&mut self, ctx: &mut Ctx<'_, Self>, op: u64) {
        let Some(coord) = self.ops.get(&op) else {
            return;
        };
        if coord.replied {
            return; // a finished read listening for late replies: its repair window closes it
        }
        let Some(coord) = self.ops.remove(&op) else {
            return;
        };
        let response = match (coord.phase, &coord.req.op) {
            (Phase::Read | Phase::Query, _) | (Phase::Propagate, QuorumOp::Get { .. }) => {
                QuorumResponse::Unavailable
            }
            (Phase::Write | Phase::Propagate, _) => QuorumResponse::Timeout,
        };
        answer(ctx, coord.request, response);
    }
}

/// The message a phase sends to one replica (or to a fallback standing in for `hint`).
fn phase_message(coord: &Coord, op: u64, hint: Option<NodeId>) -> Msg {
    match coord.phase {
        Phase::Read | Phase::Query => Msg::Read {
            op,
            key: coord.key.clone(),
        },
        Phase::Write | Phase::Propagate => Msg::Write {
            op,
            key: coord.key.clone(),
            versions: coord.versions.clone(),
            hint,
        },
    }
}
