//! The Raft process: one node of the cluster, as in the extended Raft paper (Ongaro and
//! Ousterhout, 2014) and Ongaro's thesis.
//!
//! [`RaftNode`] implements [`Process`]: roles and terms (§5.1), randomised elections with the log
//! up-to-date check (§5.2, §5.4.1), optional pre-vote (thesis §9.6) and check-quorum (thesis
//! §6.2), replication with the consistency check, conflict truncation and fast backtracking
//! (§5.3), the current-term commit rule (§5.4.2), a no-op entry at the start of each term,
//! client sessions and linearizable reads through the log or by ReadIndex (thesis §6.3, §6.4),
//! and log compaction with InstallSnapshot (§7), keeping `snapshot_catch_up` entries behind each
//! snapshot so that a follower a little behind gets entries rather than the snapshot.
//!
//! Durable state (currentTerm, votedFor, the log and the latest snapshot) lives in
//! `ctx.storage()` as [`Durable`] values and is synced before any message that depends on it is
//! sent; [`Process::on_start`] rebuilds the node from storage alone. The commit index and the
//! state machine are volatile. Storage holds the log's entries after its base, and while the base
//! is below the snapshot's end (entries kept for followers that are a little behind,
//! `snapshot_catch_up`) the entry at the base too, whose term a restart needs: such a base is
//! always an entry that was stored, so a restart finds the log it left.
//!
//! The node exposes read-only accessors for the checks ([`crate::checks`]), including what the
//! latest handler changed ([`RaftNode::log_changed`], [`RaftNode::applied_now`]) so that the
//! checks can be incremental. Planted bugs ([`crate::bugs`]) are switched by the configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sim_core::{rng, Ctx, Event, NodeId, Process, RequestId, SimDuration, SimTime};

use crate::bugs::Bug;
use crate::kv::KvStore;
use crate::log::{Command, Entry, RaftLog, Snapshot};
use crate::machine::StateMachine;
use crate::message::Message;
use crate::params::{RaftConfig, ReadMode};

/// The storage key of currentTerm.
pub const TERM_KEY: &str = "term";
/// The storage key of votedFor.
pub const VOTE_KEY: &str = "vote";
/// The storage key of the latest snapshot.
pub const SNAPSHOT_KEY: &str = "snapshot";
/// The name of the log in storage: entries are stored by index with `Storage::put_entry`.
pub const LOG: &str = "log";

/// The highest value that at least `majority` of `values` reach (reorders `values`).
fn majority_value(values: &mut [u64], majority: usize) -> u64 {
    let (_, value, _) = values.select_nth_unstable_by(majority - 1, |a, b| b.cmp(a));
    *value
}

/// The log a restart rebuilds from the snapshot's end and the entries in storage (by index).
///
/// Entries kept behind the snapshot come back when they run unbroken from the first one stored
/// to the snapshot's end and agree with it there; the first one is then the base (only its term
/// is needed; see [`RaftNode::compact_log`]). Otherwise the log starts at the snapshot's end.
/// Either way it takes the entries that follow without a gap.
fn rebuild_log<M: StateMachine>(
    snapshot_index: u64,
    snapshot_term: u64,
    durable: &[(u64, Entry<M>)],
) -> RaftLog<M> {
    fn extend<M: StateMachine>(log: &mut RaftLog<M>, durable: &[(u64, Entry<M>)]) {
        for (index, entry) in durable {
            if *index <= log.base_index() {
                continue;
            }
            if *index != log.last_index() + 1 {
                break;
            }
            log.push(entry.clone());
        }
    }
    if let Some((first, entry)) = durable.first().filter(|(i, _)| *i < snapshot_index) {
        let mut log = RaftLog::with_base(*first, entry.term);
        extend(&mut log, durable);
        if log.term_at(snapshot_index) == Some(snapshot_term) {
            log.compact(snapshot_index, snapshot_term, snapshot_index - first);
            return log;
        }
    }
    let mut log = RaftLog::with_base(snapshot_index, snapshot_term);
    extend(&mut log, durable);
    log
}

/// A node's role (§5.1), with the pre-candidate of pre-vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Asking for pre-votes; its term is not raised yet.
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// A node's timers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Timer {
    Election,
    Heartbeat,
    CheckQuorum,
}

/// A value in durable storage.
#[derive(Debug, Clone)]
pub enum Durable<M: StateMachine = KvStore> {
    Term(u64),
    Vote(Option<NodeId>),
    Entry(Entry<M>),
    Snapshot(Arc<Snapshot<M>>),
}

/// What a node reports: to the trace, to the checks, and for faults aimed at moments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RaftEvent {
    /// The node booted and read this from storage.
    Restored {
        term: u64,
        last_index: u64,
        snapshot_index: u64,
    },
    BecamePreCandidate {
        term: u64,
    },
    BecameCandidate {
        term: u64,
    },
    BecameLeader {
        term: u64,
    },
    /// A leader became a follower.
    SteppedDown {
        term: u64,
    },
    Voted {
        term: u64,
        candidate: NodeId,
    },
    /// The leader advanced its commit index to `index`, whose entry has `term`.
    Committed {
        index: u64,
        term: u64,
    },
    SnapshotTaken {
        index: u64,
        term: u64,
    },
    SnapshotInstalled {
        index: u64,
        term: u64,
    },
    /// A follower discarded `count` entries past its commit index from `from` on: a suffix that
    /// conflicted with its leader's log (§5.3), or a log an installed snapshot replaced (§7).
    Truncated {
        from: u64,
        count: u64,
    },
}

impl RaftEvent {
    /// Every name [`Event::name`] gives, as scenarios' `on_event` may use them.
    pub const NAMES: [&'static str; 10] = [
        "restored",
        "became_pre_candidate",
        "became_candidate",
        "became_leader",
        "stepped_down",
        "voted",
        "committed",
        "snapshot_taken",
        "snapshot_installed",
        "truncated",
    ];
}

impl Event for RaftEvent {
    fn name(&self) -> &'static str {
        match self {
            RaftEvent::Restored { .. } => "restored",
            RaftEvent::BecamePreCandidate { .. } => "became_pre_candidate",
            RaftEvent::BecameCandidate { .. } => "became_candidate",
            RaftEvent::BecameLeader { .. } => "became_leader",
            RaftEvent::SteppedDown { .. } => "stepped_down",
            RaftEvent::Voted { .. } => "voted",
            RaftEvent::Committed { .. } => "committed",
            RaftEvent::SnapshotTaken { .. } => "snapshot_taken",
            RaftEvent::SnapshotInstalled { .. } => "snapshot_installed",
            RaftEvent::Truncated { .. } => "truncated",
        }
    }
}

/// An entry the state machine applied during the latest handler.
#[derive(Debug, Clone)]
pub struct AppliedEntry<M: StateMachine = KvStore> {
    pub index: u64,
    pub term: u64,
    pub command: Command<M>,
}

/// An AppendEntries reply's fields (see [`Message::AppendEntriesReply`]).
#[derive(Debug, Clone)]
struct AppendReply {
    term: u64,
    success: bool,
    match_index: u64,
    rejected_index: u64,
    conflict_index: u64,
    conflict_term: Option<u64>,
    read_round: u64,
}

/// A client write (or a read in log mode) waiting for its entry to be applied.
#[derive(Debug, Clone)]
struct PendingWrite {
    id: RequestId,
    client: u64,
    seq: u64,
}

/// A ReadIndex read waiting for its heartbeat round (`round == 0`: not started, because the
/// leader has not committed an entry of its term yet).
#[derive(Debug, Clone)]
struct PendingRead<M: StateMachine> {
    id: RequestId,
    request: M::Request,
    round: u64,
    read_index: u64,
}

/// One Raft node, replicating the state machine `M` (the key-value store by default).
pub struct RaftNode<M: StateMachine = KvStore> {
    pub(crate) config: Arc<RaftConfig>,
    id: NodeId,
    pub(crate) node_count: usize,
    // Durable state (mirrored in storage).
    term: u64,
    voted_for: Option<NodeId>,
    log: RaftLog<M>,
    snapshot: Option<Arc<Snapshot<M>>>,
    // Volatile state.
    role: Role,
    leader: Option<NodeId>,
    commit_index: u64,
    last_applied: u64,
    kv: M,
    /// Local time of the latest AppendEntries or InstallSnapshot from the current leader.
    leader_contact: Option<SimTime>,
    votes: Vec<bool>,
    /// Per peer, whether it answered this (pre-)candidacy's RequestVote.
    responded: Vec<bool>,
    // Leader state.
    next_index: Vec<u64>,
    match_index: Vec<u64>,
    /// Per peer, whether the leader is probing it (etcd's `StateProbe`): from the election and
    /// from an accepted rejection until an append succeeds. While probing, a send does not move
    /// `next_index` (so the probe's reply is recognised as the current one) and only one probe
    /// is in flight: new entries wait, the heartbeat resends it.
    probing: Vec<bool>,
    probe_in_flight: Vec<bool>,
    /// Per peer, the `prev_log_index` of the latest append sent: while probing (when it does
    /// not move), a rejection of it answers the current probe.
    probe_index: Vec<u64>,
    /// Per peer, the highest ReadIndex round it acknowledged in this term.
    acked_round: Vec<u64>,
    /// Per peer, whether it answered since the latest check-quorum tick.
    heard_from: Vec<bool>,
    read_round: u64,
    /// When the election timeout expires (local time), and when the pending election timer
    /// fires; see [`RaftNode::reset_election_timer`].
    election_deadline: Option<SimTime>,
    election_timer_at: Option<SimTime>,
    pending_writes: BTreeMap<u64, PendingWrite>,
    pending_reads: Vec<PendingRead<M>>,
    // What the latest handler did, for the checks.
    applied_now: Vec<AppliedEntry<M>>,
    log_changed: Option<(u64, u64)>,
    snapshots_taken: u64,
    /// Coverage counts (never read by the protocol).
    moments: crate::moments::Moments,
    /// Room for the majority computations, which run on every reply (no allocation per reply).
    scratch: Vec<u64>,
}

impl<M: StateMachine> RaftNode<M> {
    /// A fresh node; its durable state is read in `on_start`.
    pub fn new(id: NodeId, node_count: usize, config: Arc<RaftConfig>) -> Self {
        Self::with_state_machine(id, node_count, config, M::default())
    }

    /// A fresh node replicating `machine` as it is before any entry (a machine built with its
    /// family's switches); its durable state is read in `on_start`.
    pub fn with_state_machine(
        id: NodeId,
        node_count: usize,
        config: Arc<RaftConfig>,
        machine: M,
    ) -> Self {
        assert!(
            id.index() < node_count,
            "{id} is outside a cluster of {node_count}"
        );
        RaftNode {
            config,
            id,
            node_count,
            term: 0,
            voted_for: None,
            log: RaftLog::new(),
            snapshot: None,
            role: Role::Follower,
            leader: None,
            commit_index: 0,
            last_applied: 0,
            kv: machine,
            leader_contact: None,
            votes: vec![false; node_count],
            responded: vec![false; node_count],
            next_index: vec![1; node_count],
            match_index: vec![0; node_count],
            probing: vec![true; node_count],
            probe_in_flight: vec![false; node_count],
            probe_index: vec![0; node_count],
            acked_round: vec![0; node_count],
            heard_from: vec![false; node_count],
            read_round: 0,
            election_deadline: None,
            election_timer_at: None,
            pending_writes: BTreeMap::new(),
            pending_reads: Vec::new(),
            applied_now: Vec::new(),
            log_changed: None,
            snapshots_taken: 0,
            moments: crate::moments::Moments::default(),
            scratch: Vec::with_capacity(node_count),
        }
    }

    // ----- Read-only accessors for checks and summaries -----

    pub fn id(&self) -> NodeId {
        self.id
    }
    pub fn term(&self) -> u64 {
        self.term
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    /// The leader this node knows of in its term (itself when leader).
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }
    pub fn log(&self) -> &RaftLog<M> {
        &self.log
    }
    pub fn snapshot(&self) -> Option<&Arc<Snapshot<M>>> {
        self.snapshot.as_ref()
    }
    /// The state machine (named for the key-value store, Raft's default machine).
    pub fn kv(&self) -> &M {
        &self.kv
    }
    pub fn snapshots_taken(&self) -> u64 {
        self.snapshots_taken
    }
    /// This process's coverage counts.
    pub fn moments(&self) -> &crate::moments::Moments {
        &self.moments
    }
    pub fn config(&self) -> &RaftConfig {
        &self.config
    }
    /// The entries the state machine applied during the latest handler, in order.
    pub fn applied_now(&self) -> &[AppliedEntry<M>] {
        &self.applied_now
    }
    /// The range of indices the latest handler wrote into the log, if any.
    pub fn log_changed(&self) -> Option<(u64, u64)> {
        self.log_changed
    }

    // ----- Small helpers -----

    fn majority(&self) -> usize {
        self.node_count / 2 + 1
    }

    fn bug(&self, bug: Bug) -> bool {
        self.config.bugs.has(bug)
    }

    /// Clears what the previous handler recorded for the checks.
    fn begin(&mut self) {
        self.applied_now.clear();
        self.log_changed = None;
    }

    fn note_log_change(&mut self, from: u64, to: u64) {
        self.log_changed = Some(match self.log_changed {
            Some((low, high)) => (low.min(from), high.max(to)),
            None => (from, to),
        });
    }

    /// Restarts the election timeout with a fresh random duration.
    ///
    /// Followers restart it on every AppendEntries, so instead of replacing the pending timer
    /// each time (which fills the event queue with stale timers) the node keeps the deadline and
    /// re-arms the timer when it fires early; it replaces the timer only when the new deadline
    /// comes before the pending one.
    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        let min = self.config.election_timeout_min.as_nanos();
        let max = self.config.election_timeout_max.as_nanos();
        let after = SimDuration::from_nanos(rng::between(ctx.rng(), min, max));
        let deadline = ctx.local_time().saturating_add(after);
        self.election_deadline = Some(deadline);
        if self.election_timer_at.is_none_or(|at| at > deadline) {
            ctx.set_timer(after, Timer::Election);
            self.election_timer_at = Some(deadline);
        }
    }

    fn cancel_election_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.cancel_timer(Timer::Election);
        self.election_timer_at = None;
        self.election_deadline = None;
    }

    /// Writes currentTerm and votedFor (not synced: the caller syncs before it speaks).
    fn persist_term_and_vote(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.storage().put(TERM_KEY, Durable::Term(self.term));
        if !self.bug(Bug::ForgetPersistVote) {
            ctx.storage().put(VOTE_KEY, Durable::Vote(self.voted_for));
        }
    }

    /// §5.1: a higher term seen anywhere makes this node a follower in that term.
    fn adopt_term(&mut self, ctx: &mut Ctx<'_, Self>, term: u64) {
        debug_assert!(term > self.term);
        self.become_follower(ctx, None);
        self.term = term;
        self.voted_for = None;
        self.persist_term_and_vote(ctx);
        ctx.storage().sync();
    }

    fn become_follower(&mut self, ctx: &mut Ctx<'_, Self>, leader: Option<NodeId>) {
        if self.role == Role::Leader {
            ctx.report(RaftEvent::SteppedDown { term: self.term });
            ctx.cancel_timer(Timer::Heartbeat);
            ctx.cancel_timer(Timer::CheckQuorum);
            // Writes in flight may still commit under the next leader, so their clients get no
            // answer (they time out and retry with the same sequence number). Reads did nothing.
            self.pending_writes.clear();
            for read in std::mem::take(&mut self.pending_reads) {
                self.moments.reads_refused_on_step_down += 1;
                ctx.reply(read.id, M::not_served(leader));
            }
            self.reset_election_timer(ctx);
        }
        self.role = Role::Follower;
        self.leader = leader;
    }

    /// Appends `entry` to the leader's own log and counts it as matched once synced.
    fn append_as_leader(&mut self, ctx: &mut Ctx<'_, Self>, entry: Entry<M>) -> u64 {
        let index = self.log.last_index() + 1;
        ctx.storage()
            .put_entry(LOG, index, Durable::Entry(entry.clone()));
        self.log.push(entry);
        ctx.storage().sync();
        self.note_log_change(index, index);
        self.match_index[self.id.index()] = index;
        index
    }

    // ----- Elections (§5.2, §5.4.1, thesis §9.6) -----

    fn start_pre_vote(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes.iter_mut().for_each(|v| *v = false);
        self.votes[self.id.index()] = true;
        self.responded.iter_mut().for_each(|r| *r = false);
        ctx.report(RaftEvent::BecamePreCandidate {
            term: self.term + 1,
        });
        self.request_votes(ctx, true);
        self.reset_election_timer(ctx);
        if self.vote_count() >= self.majority() {
            self.start_election(ctx);
        }
    }

    fn start_election(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.term += 1;
        self.role = Role::Candidate;
        self.leader = None;
        self.voted_for = Some(self.id);
        self.persist_term_and_vote(ctx);
        ctx.storage().sync();
        self.votes.iter_mut().for_each(|v| *v = false);
        self.votes[self.id.index()] = true;
        self.responded.iter_mut().for_each(|r| *r = false);
        ctx.report(RaftEvent::BecameCandidate { term: self.term });
        self.request_votes(ctx, false);
        self.reset_election_timer(ctx);
        if self.vote_count() >= self.majority() {
            self.become_leader(ctx);
        }
    }

    /// Sends this candidacy's RequestVote to every peer that has not answered it yet, and
    /// schedules a retry.
    fn request_votes(&mut self, ctx: &mut Ctx<'_, Self>, pre_vote: bool) {
        let term = if pre_vote { self.term + 1 } else { self.term };
        let request = Message::RequestVote {
            term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            pre_vote,
        };
        for peer in 0..self.node_count {
            if peer != self.id.index() && !self.responded[peer] {
                ctx.send(NodeId(peer as u32), request.clone());
            }
        }
        ctx.set_timer(self.config.heartbeat_interval, Timer::Heartbeat);
    }

    /// §5.1: RPCs are retried when no answer comes in time; a candidate asks again those that
    /// have not answered (their request or its reply may have been lost).
    fn retry_vote_requests(&mut self, ctx: &mut Ctx<'_, Self>) {
        let pre_vote = self.role == Role::PreCandidate;
        self.request_votes(ctx, pre_vote);
    }

    fn vote_count(&self) -> usize {
        self.votes.iter().filter(|&&v| v).count()
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.cancel_election_timer(ctx);
        let next = self.log.last_index() + 1;
        self.next_index.iter_mut().for_each(|n| *n = next);
        self.match_index.iter_mut().for_each(|m| *m = 0);
        // Nothing is known of the followers' logs yet: probe each, as etcd does.
        self.probing.iter_mut().for_each(|p| *p = true);
        self.probe_in_flight.iter_mut().for_each(|f| *f = false);
        self.probe_index.iter_mut().for_each(|i| *i = 0);
        self.acked_round.iter_mut().for_each(|r| *r = 0);
        self.heard_from.iter_mut().for_each(|h| *h = false);
        self.read_round = 0;
        ctx.report(RaftEvent::BecameLeader { term: self.term });
        // §8: a no-op of the new term lets the leader learn what is committed and serve reads.
        self.append_as_leader(
            ctx,
            Entry {
                term: self.term,
                command: Command::Noop,
            },
        );
        ctx.set_timer(self.config.heartbeat_interval, Timer::Heartbeat);
        if self.config.check_quorum {
            ctx.set_timer(self.config.election_timeout_max, Timer::CheckQuorum);
        }
        self.broadcast_append(ctx, false);
        self.advance_commit(ctx);
    }

    /// Whether this node heard from a live leader within the minimum election timeout.
    fn heard_from_leader_recently(&self, now: SimTime) -> bool {
        if self.role == Role::Leader {
            return true;
        }
        match (self.leader, self.leader_contact) {
            (Some(_), Some(at)) => now.saturating_since(at) < self.config.election_timeout_min,
            _ => false,
        }
    }

    fn on_request_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
    ) {
        // §5.4.1: the candidate's log must be at least as up-to-date as ours.
        let up_to_date = (last_log_term, last_log_index)
            >= (self.log.last_term(), self.log.last_index())
            || self.bug(Bug::VoteWithoutLogCheck);
        let recently = self.heard_from_leader_recently(ctx.local_time());
        if term >= self.term && !up_to_date {
            self.moments.votes_denied_log_behind += 1;
        }
        if pre_vote {
            // Thesis §9.6: grant if the candidate could win and we have no live leader; change
            // nothing either way.
            let granted = term > self.term && up_to_date && !recently;
            let reply_term = if granted { term } else { self.term };
            ctx.send(
                from,
                Message::RequestVoteReply {
                    term: reply_term,
                    granted,
                    pre_vote: true,
                },
            );
            return;
        }
        if term > self.term && self.config.check_quorum && recently {
            // Thesis §4.2.3: a node that hears from its leader ignores a disruptive candidate.
            self.moments.votes_ignored_leader_alive += 1;
            ctx.send(
                from,
                Message::RequestVoteReply {
                    term: self.term,
                    granted: false,
                    pre_vote,
                },
            );
            return;
        }
        if term > self.term {
            self.adopt_term(ctx, term);
        }
        let granted = term == self.term && self.voted_for.is_none_or(|v| v == from) && up_to_date;
        if granted {
            self.voted_for = Some(from);
            self.persist_term_and_vote(ctx);
            ctx.storage().sync();
            ctx.report(RaftEvent::Voted {
                term,
                candidate: from,
            });
            self.reset_election_timer(ctx);
        }
        ctx.send(
            from,
            Message::RequestVoteReply {
                term: self.term,
                granted,
                pre_vote: false,
            },
        );
    }

    /// Coverage: a message of an earlier term (a pre-vote asks for the next term: its term is
    /// never stale in the same way, so it counts only when below the node's).
    fn count_stale(&mut self, msg: &Message<M>) {
        let (term, vote) = match msg {
            Message::RequestVote { term, .. } | Message::RequestVoteReply { term, .. } => {
                (*term, true)
            }
            Message::AppendEntries { term, .. }
            | Message::AppendEntriesReply { term, .. }
            | Message::InstallSnapshot { term, .. }
            | Message::InstallSnapshotReply { term, .. } => (*term, false),
        };
        if term < self.term {
            self.moments.stale_term_messages += 1;
            if vote {
                self.moments.stale_votes_ignored += 1;
            }
        }
    }

    fn on_vote_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        granted: bool,
        pre_vote: bool,
    ) {
        let current = if pre_vote { self.term + 1 } else { self.term };
        let role = if pre_vote {
            Role::PreCandidate
        } else {
            Role::Candidate
        };
        if term == current && self.role == role {
            self.responded[from.index()] = true;
        }
        if pre_vote {
            if granted && self.role == Role::PreCandidate && term == self.term + 1 {
                self.votes[from.index()] = true;
                if self.vote_count() >= self.majority() {
                    self.start_election(ctx);
                }
            } else if !granted && term > self.term {
                self.adopt_term(ctx, term);
            }
            return;
        }
        if term > self.term {
            self.adopt_term(ctx, term);
            return;
        }
        if granted && self.role == Role::Candidate && term == self.term {
            self.votes[from.index()] = true;
            if self.vote_count() >= self.majority() {
                self.become_leader(ctx);
            }
        }
    }

    // ----- Replication (§5.3, §7) -----

    /// Sends every peer what follows its next index; `heartbeat` also resends the probe to
    /// peers being probed (see [`RaftNode::send_append`]).
    fn broadcast_append(&mut self, ctx: &mut Ctx<'_, Self>, heartbeat: bool) {
        for peer in 0..self.node_count {
            if peer != self.id.index() {
                self.send_append(ctx, NodeId(peer as u32), heartbeat);
            }
        }
    }

    /// Sends `peer` what follows its next index: entries, a heartbeat, or the snapshot. A peer
    /// being probed with a probe in flight gets nothing unless this is the heartbeat, which
    /// resends the probe (it or its reply may have been lost).
    fn send_append(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId, heartbeat: bool) {
        let p = peer.index();
        if self.probing[p] && self.probe_in_flight[p] && !heartbeat {
            return;
        }
        self.probe_in_flight[p] = self.probing[p];
        let next = self.next_index[p].clamp(1, self.log.last_index() + 1);
        // Entries from the base on are still held (some behind the snapshot, for followers that
        // are a little behind); only a follower that needs one before them gets the snapshot.
        if next <= self.log.base_index() {
            if let Some(snapshot) = &self.snapshot {
                ctx.send(
                    peer,
                    Message::InstallSnapshot {
                        term: self.term,
                        snapshot: Arc::clone(snapshot),
                        read_round: self.read_round,
                    },
                );
                self.next_index[p] = snapshot.last_index + 1;
                return;
            }
        }
        let prev_log_index = next - 1;
        let prev_log_term = self.log.term_at(prev_log_index).unwrap_or(0);
        let last = (next + self.config.max_entries_per_append - 1).min(self.log.last_index());
        let entries = self.log.slice(next, last).to_vec();
        self.probe_index[p] = prev_log_index;
        // Pipelining while replicating: the next send continues after these. A probe stays
        // where it is until it is answered.
        self.next_index[p] = if self.probing[p] {
            next
        } else {
            next + entries.len() as u64
        };
        ctx.send(
            peer,
            Message::AppendEntries {
                term: self.term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit: self.commit_index,
                read_round: self.read_round,
            },
        );
    }

    /// Accepts the sender as this term's leader.
    fn follow(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId) {
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(ctx, Some(from));
        }
        self.leader_contact = Some(ctx.local_time());
        self.reset_election_timer(ctx);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_entries(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry<M>>,
        leader_commit: u64,
        read_round: u64,
    ) {
        let reject = |node: &Self, conflict_index, conflict_term| Message::AppendEntriesReply {
            term: node.term,
            success: false,
            match_index: 0,
            rejected_index: prev_log_index,
            conflict_index,
            conflict_term,
            read_round,
        };
        if term < self.term {
            ctx.send(from, reject(self, 0, None));
            return;
        }
        if term > self.term {
            self.adopt_term(ctx, term);
        }
        self.follow(ctx, from);

        // Entries inside our snapshot are committed, hence already ours (§7).
        let mut prev = prev_log_index;
        let mut prev_term = prev_log_term;
        let mut entries = &entries[..];
        let base = self.log.snapshot_index();
        if prev < base {
            let skip = (base - prev) as usize;
            if skip >= entries.len() {
                let match_index = base.max(prev + entries.len() as u64);
                self.reply_append_success(ctx, from, match_index, read_round);
                return;
            }
            entries = &entries[skip..];
            prev = base;
            prev_term = self.log.snapshot_term();
        }
        // The consistency check, with the conflict hint for fast backtracking.
        if prev > self.log.last_index() {
            ctx.send(from, reject(self, self.log.last_index() + 1, None));
            return;
        }
        let our_term = self.log.term_at(prev).unwrap_or(0);
        if our_term != prev_term {
            let first = self.log.first_index_of_term_at(prev);
            ctx.send(from, reject(self, first, Some(our_term)));
            return;
        }
        let mut wrote = false;
        for (k, entry) in entries.iter().enumerate() {
            let index = prev + 1 + k as u64;
            match self.log.term_at(index) {
                Some(t) if t == entry.term => continue,
                Some(_) if self.bug(Bug::NoTruncateConflict) => {
                    self.log.overwrite(index, entry.clone());
                }
                Some(_) => {
                    // §5.3: a conflicting entry and everything after it go.
                    let count = self.log.last_index() - index + 1;
                    ctx.storage()
                        .remove_entries(LOG, index..self.log.last_index() + 1);
                    self.log.truncate_from(index);
                    ctx.report(RaftEvent::Truncated { from: index, count });
                    self.log.push(entry.clone());
                }
                None => self.log.push(entry.clone()),
            }
            ctx.storage()
                .put_entry(LOG, index, Durable::Entry(entry.clone()));
            self.note_log_change(index, index);
            wrote = true;
        }
        if wrote && !self.bug(Bug::AckBeforeSync) {
            ctx.storage().sync();
        }
        let last_new = prev + entries.len() as u64;
        if leader_commit > self.commit_index {
            let commit = leader_commit.min(last_new);
            if commit > self.commit_index {
                self.set_commit(ctx, commit);
            }
        }
        self.apply(ctx);
        self.reply_append_success(ctx, from, last_new, read_round);
    }

    fn reply_append_success(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        to: NodeId,
        match_index: u64,
        read_round: u64,
    ) {
        ctx.send(
            to,
            Message::AppendEntriesReply {
                term: self.term,
                success: true,
                match_index,
                rejected_index: 0,
                conflict_index: 0,
                conflict_term: None,
                read_round,
            },
        );
    }

    fn on_append_reply(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, reply: AppendReply) {
        if reply.term > self.term {
            self.adopt_term(ctx, reply.term);
            return;
        }
        if self.role != Role::Leader || reply.term < self.term {
            return;
        }
        let p = from.index();
        self.heard_from[p] = true;
        self.acked_round[p] = self.acked_round[p].max(reply.read_round);
        if reply.success {
            self.on_matched(ctx, from, reply.match_index);
        } else if self.answers_current_probe(p, reply.rejected_index) {
            self.backtrack(ctx, from, &reply);
        }
        self.serve_reads(ctx);
    }

    /// Whether the leader acts on a rejection of the append whose `prev_log_index` was
    /// `rejected` by peer `p` (etcd's `maybeDecrTo`). A rejection at or below `match_index` is
    /// stale (the follower has matched past it since). While replicating, any other rejection
    /// counts: the follower lacks entries the leader counted as sent (lost, or rejected because
    /// their append overtook its predecessors, which the network does), and no append in flight
    /// will bring them, so the leader backtracks once and probes. While probing, only a
    /// rejection of the probe itself counts (the rest of the old pipeline's are ignored), and
    /// the probe sends at most `max_entries_per_append` entries, so that a reordered pipeline
    /// costs one resend, not the whole suffix.
    ///
    /// Counting only a rejection of the latest append or heartbeat, as this once did, stalls a
    /// follower whenever the round trip is longer than the heartbeat interval: by the time the
    /// rejection is back, a newer heartbeat has gone out, and the follower never catches up
    /// (swarm seed 5101: a restarted follower 1,080 entries behind gained 76 entries/s).
    fn answers_current_probe(&self, p: usize, rejected: u64) -> bool {
        if rejected <= self.match_index[p] {
            return false;
        }
        !self.probing[p] || rejected == self.probe_index[p]
    }

    /// A successful append (or installed snapshot) reached `match_index`; one that answers the
    /// probe ends the probing. What is left to send goes with the next new entry or heartbeat.
    fn on_matched(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId, match_index: u64) {
        let p = peer.index();
        self.match_index[p] = self.match_index[p].max(match_index);
        if self.probing[p] && self.match_index[p] + 1 >= self.next_index[p] {
            self.probing[p] = false;
            self.probe_in_flight[p] = false;
        }
        self.next_index[p] = self.next_index[p].max(self.match_index[p] + 1);
        self.advance_commit(ctx);
    }

    /// Fast backtracking (§5.3) on a rejection of the current probe: skip the follower's whole
    /// conflicting term at once, and probe from there.
    fn backtrack(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId, reply: &AppendReply) {
        let p = peer.index();
        let hint = match reply.conflict_term {
            Some(t) => self
                .log
                .last_index_of_term(t)
                .map_or(reply.conflict_index, |i| i + 1),
            None => reply.conflict_index,
        };
        // The follower does not hold the entry at `rejected_index`, so the probe goes no
        // further than that.
        self.next_index[p] = hint
            .min(reply.rejected_index)
            .max(self.match_index[p] + 1)
            .max(1);
        self.probing[p] = true;
        self.probe_in_flight[p] = false;
        // A follower that is only short of entries the leader has compacted may still receive
        // them from appends in flight: the probe (a snapshot) waits for the heartbeat, as if
        // in flight, and is not needed if their replies have ended the probing by then.
        let short = reply.conflict_term.is_none();
        if short && self.next_index[p] <= self.log.base_index() {
            self.probe_in_flight[p] = true;
            return;
        }
        self.send_append(ctx, peer, false);
    }

    fn on_install_snapshot(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        snapshot: Arc<Snapshot<M>>,
        read_round: u64,
    ) {
        if term < self.term {
            let reply = Message::InstallSnapshotReply {
                term: self.term,
                match_index: 0,
                read_round,
            };
            ctx.send(from, reply);
            return;
        }
        if term > self.term {
            self.adopt_term(ctx, term);
        }
        self.follow(ctx, from);
        let (index, snapshot_term) = (snapshot.last_index, snapshot.last_term);
        if index > self.commit_index {
            // §7: keep the entries that follow the snapshot if the log agrees at its end;
            // otherwise the whole log goes.
            let keep_suffix = self.log.term_at(index) == Some(snapshot_term);
            if keep_suffix {
                self.compact_log(ctx, index, snapshot_term);
            } else {
                ctx.storage()
                    .remove_entries(LOG, self.durable_log_start()..self.log.last_index() + 1);
                // Entries past our commit index that the snapshot does not vouch for go too.
                let from = self.commit_index.max(self.log.snapshot_index()) + 1;
                if self.log.last_index() >= from {
                    let count = self.log.last_index() - from + 1;
                    ctx.report(RaftEvent::Truncated { from, count });
                }
                self.log = RaftLog::with_base(index, snapshot_term);
            }
            ctx.storage()
                .put(SNAPSHOT_KEY, Durable::Snapshot(Arc::clone(&snapshot)));
            ctx.storage().sync();
            self.note_log_change(index + 1, self.log.last_index().max(index + 1));
            self.kv = snapshot.state.clone();
            self.commit_index = index;
            self.last_applied = index;
            self.snapshot = Some(snapshot);
            ctx.report(RaftEvent::SnapshotInstalled {
                index,
                term: snapshot_term,
            });
        }
        let reply = Message::InstallSnapshotReply {
            term: self.term,
            match_index: index,
            read_round,
        };
        ctx.send(from, reply);
    }

    fn on_snapshot_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        match_index: u64,
        read_round: u64,
    ) {
        if term > self.term {
            self.adopt_term(ctx, term);
            return;
        }
        if self.role != Role::Leader || term < self.term {
            return;
        }
        let p = from.index();
        self.heard_from[p] = true;
        self.acked_round[p] = self.acked_round[p].max(read_round);
        self.on_matched(ctx, from, match_index);
        self.serve_reads(ctx);
    }

    // ----- Commitment and the state machine (§5.3, §5.4.2, §7) -----

    /// §5.4.2: the leader commits the highest index stored on a majority, but only if that entry
    /// is of its own term (entries of earlier terms are then committed with it).
    fn advance_commit(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        let mut matched = std::mem::take(&mut self.scratch);
        matched.clear();
        matched.extend_from_slice(&self.match_index);
        matched[self.id.index()] = self.log.last_index();
        let candidate = majority_value(&mut matched, self.majority());
        self.scratch = matched;
        if candidate <= self.commit_index {
            return;
        }
        let current_term = self.log.term_at(candidate) == Some(self.term);
        if current_term || self.bug(Bug::CommitPreviousTermByCount) {
            self.set_commit(ctx, candidate);
            self.apply(ctx);
            self.serve_reads(ctx);
        }
    }

    fn set_commit(&mut self, ctx: &mut Ctx<'_, Self>, index: u64) {
        self.commit_index = index;
        // Only the leader reports: it decides commitment, and one event per advance keeps the
        // trace (every report is hashed) small. Followers' applies reach the checks through
        // `applied_now`.
        if self.role == Role::Leader {
            let term = self.log.term_at(index).unwrap_or(0);
            ctx.report(RaftEvent::Committed { index, term });
        }
    }

    /// Applies committed entries in log order and answers the clients waiting for them.
    fn apply(&mut self, ctx: &mut Ctx<'_, Self>) {
        let target = if self.bug(Bug::ApplyBeforeCommit) {
            self.log.last_index().max(self.commit_index)
        } else {
            self.commit_index
        };
        let before = self.last_applied;
        while self.last_applied < target {
            let index = self.last_applied + 1;
            let Some(entry) = self.log.entry(index).cloned() else {
                break;
            };
            self.last_applied = index;
            let applied = match &entry.command {
                Command::Noop => None,
                Command::Kv(request) => Some((request, self.kv.apply(index, request))),
            };
            if let Some(waiting) = self.pending_writes.remove(&index) {
                if let Some((request, outcome)) = &applied {
                    let same = M::client_seq(request) == (waiting.client, waiting.seq);
                    if let (true, Some(response)) = (same, outcome.response()) {
                        ctx.reply(waiting.id, response.clone());
                    }
                }
            }
            self.applied_now.push(AppliedEntry {
                index,
                term: entry.term,
                command: entry.command,
            });
        }
        if self.last_applied > before {
            self.maybe_snapshot(ctx);
        }
    }

    /// §7: once enough applied entries follow the last snapshot, snapshot the state machine and
    /// drop those entries from the log and from storage, except the last `snapshot_catch_up`.
    fn maybe_snapshot(&mut self, ctx: &mut Ctx<'_, Self>) {
        let threshold = self.config.snapshot_threshold;
        let index = self.last_applied;
        let previous = self.log.snapshot_index();
        if threshold == 0 || index < previous + threshold || index > self.commit_index {
            return;
        }
        let Some(term) = self.log.term_at(index) else {
            return;
        };
        let snapshot = Arc::new(Snapshot {
            last_index: index,
            last_term: term,
            state: self.kv.clone(),
        });
        ctx.storage()
            .put(SNAPSHOT_KEY, Durable::Snapshot(Arc::clone(&snapshot)));
        self.compact_log(ctx, index, term);
        ctx.storage().sync();
        self.snapshot = Some(snapshot);
        self.snapshots_taken += 1;
        ctx.report(RaftEvent::SnapshotTaken { index, term });
    }

    /// The first index whose entry storage holds (or would hold): the base's while it is below
    /// the snapshot's end (a restart needs its term), the one after it otherwise.
    fn durable_log_start(&self) -> u64 {
        let base = self.log.base_index();
        if base < self.log.snapshot_index() {
            base.max(1)
        } else {
            base + 1
        }
    }

    /// Compacts the log for a snapshot ending at `index` (held in the log with `term`), keeping
    /// the last `snapshot_catch_up` entries it covers (etcd's `SnapshotCatchUpEntries`): a
    /// follower that is a little behind, say one that rejected a reordered append, still gets
    /// them by AppendEntries rather than the whole state machine. Removes what goes from storage
    /// (not synced: the caller syncs with the snapshot).
    ///
    /// A base below the snapshot is never one whose entry storage lacks (index 0, or the end of
    /// an installed snapshot): a restart takes the first entry stored for the base, and must
    /// find the same log.
    fn compact_log(&mut self, ctx: &mut Ctx<'_, Self>, index: u64, term: u64) {
        let first_stored = self.durable_log_start();
        let retain = self
            .config
            .snapshot_catch_up
            .min(index.saturating_sub(first_stored));
        self.log.compact(index, term, retain);
        ctx.storage()
            .remove_entries(LOG, first_stored..self.durable_log_start());
    }

    // ----- Clients (thesis §6.3, §6.4) -----

    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, request: M::Request) {
        if self.role != Role::Leader {
            ctx.reply(id, M::not_served(self.leader));
            return;
        }
        if M::is_read(&request) && self.config.read_mode == ReadMode::ReadIndex {
            self.pending_reads.push(PendingRead {
                id,
                request,
                round: 0,
                read_index: 0,
            });
            self.serve_reads(ctx);
            return;
        }
        let (client, seq) = M::client_seq(&request);
        if let Some((session_seq, response)) = self.kv.session(client) {
            if seq == session_seq {
                ctx.reply(id, response.clone());
                return;
            }
            if seq < session_seq {
                return;
            }
        }
        let in_flight = self
            .pending_writes
            .values_mut()
            .find(|w| w.client == client && w.seq == seq);
        if let Some(waiting) = in_flight {
            // A retry of an entry already in the log: answer this attempt when it applies.
            waiting.id = id;
            return;
        }
        let entry = Entry {
            term: self.term,
            command: Command::Kv(Arc::new(request)),
        };
        let index = self.append_as_leader(ctx, entry);
        self.pending_writes
            .insert(index, PendingWrite { id, client, seq });
        self.broadcast_append(ctx, false);
        self.advance_commit(ctx);
        // Applies nothing in a correct run (the entry is not committed yet); with the planted
        // bug `apply_before_commit` this is where the leader applies and answers too early.
        self.apply(ctx);
    }

    /// Moves ReadIndex reads along: starts a heartbeat round for new ones once an entry of this
    /// term is committed, and answers those whose round a majority acknowledged.
    fn serve_reads(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader || self.pending_reads.is_empty() {
            return;
        }
        let committed_in_term = self.log.term_at(self.commit_index) == Some(self.term);
        if committed_in_term && self.pending_reads.iter().any(|r| r.round == 0) {
            self.read_round += 1;
            for read in self.pending_reads.iter_mut().filter(|r| r.round == 0) {
                read.round = self.read_round;
                read.read_index = self.commit_index;
            }
            self.broadcast_append(ctx, false);
        }
        let mut acked = std::mem::take(&mut self.scratch);
        acked.clear();
        acked.extend_from_slice(&self.acked_round);
        acked[self.id.index()] = self.read_round;
        let mut confirmed = majority_value(&mut acked, self.majority());
        self.scratch = acked;
        if self.bug(Bug::ReadWithoutQuorum) {
            // The planted bug: this node's own acknowledgement is taken as the majority's.
            confirmed = self.read_round;
        }
        let applied = self.last_applied;
        let kv = &self.kv;
        self.pending_reads.retain(|read| {
            let ready = read.round != 0 && read.round <= confirmed && read.read_index <= applied;
            if ready {
                ctx.reply(read.id, kv.read(&read.request));
            }
            !ready
        });
    }

    // ----- Restart -----

    /// Rebuilds currentTerm, votedFor, the snapshot and the log from storage alone.
    fn restore(&mut self, ctx: &mut Ctx<'_, Self>) {
        let storage = ctx.storage();
        if let Some(Durable::Term(term)) = storage.get(TERM_KEY) {
            self.term = *term;
        }
        if let Some(Durable::Vote(vote)) = storage.get(VOTE_KEY) {
            self.voted_for = *vote;
        }
        let (mut snapshot_index, mut snapshot_term) = (0, 0);
        if let Some(Durable::Snapshot(snapshot)) = storage.get(SNAPSHOT_KEY) {
            let snapshot = Arc::clone(snapshot);
            (snapshot_index, snapshot_term) = (snapshot.last_index, snapshot.last_term);
            if !self.bug(Bug::RestartWithoutSnapshotState) {
                self.kv = snapshot.state.clone();
            }
            self.commit_index = snapshot.last_index;
            self.last_applied = snapshot.last_index;
            self.snapshot = Some(snapshot);
        }
        let durable: Vec<(u64, Entry<M>)> = storage
            .entries(LOG)
            .into_iter()
            .filter_map(|(index, value)| match value {
                Durable::Entry(entry) => Some((index, entry)),
                _ => None,
            })
            .collect();
        self.log = rebuild_log(snapshot_index, snapshot_term, &durable);
    }
}

impl<M: StateMachine> Process for RaftNode<M> {
    type Msg = Message<M>;
    type Timer = Timer;
    type Request = M::Request;
    type Response = M::Response;
    type Durable = Durable<M>;
    type Event = RaftEvent;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.begin();
        self.restore(ctx);
        if self.term > 0 || self.log.last_index() > 0 {
            ctx.report(RaftEvent::Restored {
                term: self.term,
                last_index: self.log.last_index(),
                snapshot_index: self.log.snapshot_index(),
            });
        }
        self.reset_election_timer(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Message<M>) {
        self.begin();
        self.count_stale(&msg);
        match msg {
            Message::RequestVote {
                term,
                last_log_index,
                last_log_term,
                pre_vote,
            } => self.on_request_vote(ctx, from, term, last_log_index, last_log_term, pre_vote),
            Message::RequestVoteReply {
                term,
                granted,
                pre_vote,
            } => self.on_vote_reply(ctx, from, term, granted, pre_vote),
            Message::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                read_round,
            } => self.on_append_entries(
                ctx,
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                read_round,
            ),
            Message::AppendEntriesReply {
                term,
                success,
                match_index,
                rejected_index,
                conflict_index,
                conflict_term,
                read_round,
            } => {
                let reply = AppendReply {
                    term,
                    success,
                    match_index,
                    rejected_index,
                    conflict_index,
                    conflict_term,
                    read_round,
                };
                self.on_append_reply(ctx, from, reply)
            }
            Message::InstallSnapshot {
                term,
                snapshot,
                read_round,
            } => self.on_install_snapshot(ctx, from, term, snapshot, read_round),
            Message::InstallSnapshotReply {
                term,
                match_index,
                read_round,
            } => self.on_snapshot_reply(ctx, from, term, match_index, read_round),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        self.begin();
        match timer {
            Timer::Election => {
                self.election_timer_at = None;
                if self.role == Role::Leader {
                    return;
                }
                let now = ctx.local_time();
                // Re-arm for what remains, unless it is under a millisecond: with a drifting
                // clock a tiny remainder can round to no time at all and fire again at once.
                let remaining = self
                    .election_deadline
                    .map_or(SimDuration::ZERO, |d| d.saturating_since(now));
                if remaining >= SimDuration::from_millis(1) {
                    ctx.set_timer(remaining, Timer::Election);
                    self.election_timer_at = self.election_deadline;
                    return;
                }
                if self.config.pre_vote {
                    self.start_pre_vote(ctx);
                } else {
                    self.start_election(ctx);
                }
            }
            Timer::Heartbeat => match self.role {
                Role::Leader => {
                    self.broadcast_append(ctx, true);
                    ctx.set_timer(self.config.heartbeat_interval, Timer::Heartbeat);
                }
                Role::Candidate | Role::PreCandidate => self.retry_vote_requests(ctx),
                Role::Follower => {}
            },
            Timer::CheckQuorum => {
                if self.role != Role::Leader {
                    return;
                }
                let me = self.id.index();
                let heard = self
                    .heard_from
                    .iter()
                    .enumerate()
                    .filter(|&(p, &h)| h || p == me);
                if heard.count() < self.majority() {
                    // Thesis §6.2: a leader cut off from a majority steps down.
                    self.become_follower(ctx, None);
                    return;
                }
                self.heard_from.iter_mut().for_each(|h| *h = false);
                ctx.set_timer(self.config.election_timeout_max, Timer::CheckQuorum);
            }
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, request: M::Request) {
        self.begin();
        self.on_client_request(ctx, id, request);
    }

    fn has_role(&self, role: &str) -> bool {
        match role {
            "leader" => self.role == Role::Leader,
            "follower" => self.role == Role::Follower,
            "candidate" => matches!(self.role, Role::Candidate | Role::PreCandidate),
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
