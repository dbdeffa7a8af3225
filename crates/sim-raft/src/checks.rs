//! Raft's safety properties, checked continuously, and its liveness expectation.
//!
//! Always-checks (the properties of Figure 3 of the extended Raft paper, plus durability):
//! - `raft.election_safety`: at most one leader per term over the whole run (§5.2).
//! - `raft.leader_append_only`: a leader never overwrites or deletes entries of its log (§5.3).
//! - `raft.log_matching`: two logs with an entry of the same index and term hold the same
//!   command there and agree on everything before it (§5.3).
//! - `raft.leader_completeness`: a committed entry is in the log of every later leader (§5.4).
//! - `raft.state_machine_safety`: no two nodes apply different commands at one index (§5.4.3).
//! - `raft.durability`: every committed entry stays on a majority of durable logs across crashes
//!   and restarts (Figure 2's "persist before responding").
//!
//! Sometimes: `raft.leader_elected`. Eventually: `raft.leader_after_heal` (after the last fault
//! heals, a leader known to a majority within `leader_within`).
//!
//! Every check is incremental: it looks at the node whose handler just ran, at what that handler
//! changed ([`RaftNode::log_changed`], [`RaftNode::applied_now`]) and at the events it reported,
//! against run-wide records (leaders by term, entries by index and term, committed and applied
//! entries). Records by log index are forgotten below the index every node's snapshot covers
//! (`forget`), so their memory does not grow with the run's length. Client-visible properties (linearizability, progress) are `sim-kv`'s checks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, CheckReport, NodeChange, NodeId, Observation, Phases, SimDuration, SimTime,
    Simulation, Violation,
};

use crate::forget::{floor, ByIndex, FORGET_EVERY};
use crate::log::Command;
use crate::node::{Durable, RaftEvent, RaftNode, Role, LOG, SNAPSHOT_KEY};

/// What the checks saw of elections and snapshots, shared with the suite's summary.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    /// The leader of each term that had one.
    pub leaders: BTreeMap<u64, NodeId>,
    /// How many times a node became a candidate.
    pub candidacies: u64,
    pub snapshots_taken: u64,
    pub snapshots_installed: u64,
    /// Conflicting suffixes discarded by followers, and the entries in them.
    pub truncations: u64,
    pub truncated_entries: u64,
    /// The highest commit index any node reported.
    pub max_commit: u64,
}

/// The run record as the checks and the summary share it.
pub type SharedRecord = Arc<Mutex<RunRecord>>;

/// The Raft part of a scenario's `[checks]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftCheckParams {
    /// `raft.leader_after_heal`: after the quiet phase starts, a leader known to a majority must
    /// exist within this bound.
    pub leader_within: SimDuration,
}

impl Default for RaftCheckParams {
    fn default() -> Self {
        RaftCheckParams {
            leader_within: SimDuration::from_secs(5),
        }
    }
}

/// Every Raft check, fresh for one run, reporting elections into `record`.
/// Every Raft check's name, as `[expect] fails` may name them.
pub const NAMES: [&str; 8] = [
    ElectionSafety::NAME,
    LeaderAppendOnly::NAME,
    LogMatching::NAME,
    LeaderCompleteness::NAME,
    StateMachineSafety::NAME,
    Durability::NAME,
    LeaderElected::NAME,
    LeaderAfterHeal::NAME,
];

pub fn checks(params: &RaftCheckParams, record: SharedRecord) -> Vec<Box<dyn Check<RaftNode>>> {
    vec![
        Box::new(ElectionSafety {
            leaders: BTreeMap::new(),
            record,
            violation: None,
        }),
        Box::new(LeaderAppendOnly {
            fingerprints: Vec::new(),
            violation: None,
        }),
        Box::new(LogMatching {
            first: ByIndex::default(),
            others: BTreeMap::new(),
            observed: 0,
            violation: None,
        }),
        Box::new(LeaderCompleteness {
            committed: Committed::default(),
            violation: None,
        }),
        Box::new(StateMachineSafety {
            applied: ByIndex::default(),
            observed: 0,
            violation: None,
        }),
        Box::new(Durability {
            committed: Committed::default(),
            violation: None,
        }),
        Box::new(LeaderElected { first: None }),
        Box::new(LeaderAfterHeal {
            within: params.leader_within,
            quiet_start: None,
            found: None,
        }),
    ]
}

/// A violation; the runner prints it as `{name} violated at t={time}: {message}`, so the message
/// itself names the nodes, terms and indices, not the property.
fn violation(time: SimTime, message: String) -> Violation {
    Violation { time, message }
}

fn report(name: &str, kind: CheckKind, violation: &Option<Violation>) -> CheckReport {
    CheckReport {
        name: name.to_string(),
        kind,
        violation: violation.clone(),
        figures: Vec::new(),
        not_evaluated: None,
    }
}

/// Keeps the first violation and returns it once.
fn keep(slot: &mut Option<Violation>, found: Option<Violation>) -> Option<Violation> {
    if slot.is_none() {
        if let Some(v) = found {
            *slot = Some(v.clone());
            return Some(v);
        }
    }
    None
}

// ----- raft.election_safety -----

/// §5.2 Election Safety, from `BecameLeader` events over the whole run.
pub struct ElectionSafety {
    leaders: BTreeMap<u64, (NodeId, SimTime)>,
    record: SharedRecord,
    violation: Option<Violation>,
}

impl ElectionSafety {
    const NAME: &'static str = "raft.election_safety";
}

impl Check<RaftNode> for ElectionSafety {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        let Observation::Handled { node, events } = *obs else {
            return None;
        };
        if events.is_empty() {
            return None;
        }
        let mut found = None;
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        for event in events {
            match *event {
                RaftEvent::BecameLeader { term } => {
                    record.leaders.entry(term).or_insert(node);
                    match self.leaders.get(&term) {
                        Some(&(other, since)) if other != node && found.is_none() => {
                            found = Some(violation(
                                sim.now(),
                                format!(
                                    "{other} and {node} are both leader in term {term} \
                                     ({other} since t={since})"
                                ),
                            ));
                        }
                        Some(_) => {}
                        None => {
                            self.leaders.insert(term, (node, sim.now()));
                        }
                    }
                }
                RaftEvent::BecameCandidate { .. } => record.candidacies += 1,
                RaftEvent::SnapshotTaken { .. } => record.snapshots_taken += 1,
                RaftEvent::SnapshotInstalled { .. } => record.snapshots_installed += 1,
                RaftEvent::Truncated { count, .. } => {
                    record.truncations += 1;
                    record.truncated_entries += count;
                }
                RaftEvent::Committed { index, .. } => {
                    record.max_commit = record.max_commit.max(index)
                }
                _ => {}
            }
        }
        drop(record);
        keep(&mut self.violation, found)
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        let mut report = report(Self::NAME, CheckKind::Always, &self.violation);
        report
            .figures
            .push(("terms with a leader".into(), self.leaders.len().to_string()));
        report
    }
}

// ----- raft.leader_append_only -----

/// §5.3 Leader Append-Only: while a node leads a term, it only writes past its last index.
pub struct LeaderAppendOnly {
    /// Per node, while it leads: its term and last index after its latest handler.
    fingerprints: Vec<Option<(u64, u64)>>,
    violation: Option<Violation>,
}

impl LeaderAppendOnly {
    const NAME: &'static str = "raft.leader_append_only";
}

impl Check<RaftNode> for LeaderAppendOnly {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        let node = match *obs {
            Observation::Handled { node, .. } => node,
            Observation::Node { node, .. } => {
                if let Some(slot) = self.fingerprints.get_mut(node.index()) {
                    *slot = None;
                }
                return None;
            }
            _ => return None,
        };
        if self.fingerprints.len() < sim.node_count() {
            self.fingerprints.resize(sim.node_count(), None);
        }
        let p = sim.process(node)?;
        let slot = &mut self.fingerprints[node.index()];
        if p.role() != Role::Leader {
            *slot = None;
            return None;
        }
        let mut found = None;
        if let Some((term, last)) = *slot {
            if term == p.term() {
                let log = p.log();
                if log.last_index() < last {
                    found = Some(format!(
                        "{node}, leader in term {term}, shrank its log from index {last} to {}",
                        log.last_index()
                    ));
                } else if let Some((low, _)) = p.log_changed() {
                    if low <= last {
                        found = Some(format!(
                            "{node}, leader in term {term}, rewrote its entry at index {low} \
                             (its log ended at index {last})"
                        ));
                    }
                }
            }
        }
        *slot = Some((p.term(), p.log().last_index()));
        let found = found.map(|m| violation(sim.now(), m));
        keep(&mut self.violation, found)
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        report(Self::NAME, CheckKind::Always, &self.violation)
    }
}

// ----- raft.log_matching -----

/// §5.3 Log Matching, by induction: every `(index, term)` any node ever held maps to one command
/// and one term at `index - 1`, and terms never decrease along a log.
pub struct LogMatching {
    /// By log index - 1, the first `(term, previous term, command, node)` seen there; other
    /// terms at the same index (rarer: after leader changes) go to `others`.
    first: ByIndex<Option<(u64, u64, Command, NodeId)>>,
    others: BTreeMap<(u64, u64), (u64, Command, NodeId)>,
    /// Handler observations so far, to forget old records now and then.
    observed: u64,
    violation: Option<Violation>,
}

impl LogMatching {
    const NAME: &'static str = "raft.log_matching";

    fn check_range(&mut self, node: NodeId, p: &RaftNode, from: u64, to: u64) -> Option<String> {
        let log = p.log();
        // From the base on: entries kept behind the snapshot are checked too.
        let from = from.max(log.base_index() + 1);
        let to = to.min(log.last_index());
        for index in from..=to {
            let entry = log.entry(index)?;
            let prev = log.term_at(index - 1).unwrap_or(0);
            if entry.term < prev {
                return Some(format!(
                    "{node}'s log has term {} at index {index} after term {prev} at index {}",
                    entry.term,
                    index - 1
                ));
            }
            if self.first.is_forgotten(index) {
                // Below every node's snapshot: checked when it was first written.
                continue;
            }
            self.first.extend_to(index, None);
            let seen = match self.first.get(index) {
                Some(Some((term, other_prev, command, other))) if *term == entry.term => {
                    Some((*other_prev, command, *other))
                }
                Some(Some(_)) => self
                    .others
                    .get(&(index, entry.term))
                    .map(|(p, c, o)| (*p, c, *o)),
                _ => None,
            };
            match seen {
                Some((other_prev, command, other)) => {
                    if other_prev != prev {
                        return Some(format!(
                            "{node} and {other} both hold index {index} in term {}, but at index \
                             {} {node} has term {prev} and {other} had term {other_prev}",
                            entry.term,
                            index - 1
                        ));
                    }
                    if !command.same(&entry.command) {
                        return Some(format!(
                            "{node} and {other} both hold index {index} in term {} with different \
                             commands: {:?} and {command:?}",
                            entry.term, entry.command
                        ));
                    }
                }
                None => {
                    let record = (prev, entry.command.clone(), node);
                    match self.first.get_mut(index) {
                        Some(slot @ None) => {
                            *slot = Some((entry.term, record.0, record.1, record.2));
                        }
                        _ => {
                            self.others.insert((index, entry.term), record);
                        }
                    }
                }
            }
        }
        None
    }
}

impl Check<RaftNode> for LogMatching {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        let (node, from, to) = match *obs {
            Observation::Handled { node, .. } => {
                self.observed += 1;
                if self.observed.is_multiple_of(FORGET_EVERY) {
                    let below = floor(sim);
                    self.first.forget_below(below);
                    self.others.retain(|&(index, _), _| index >= below);
                }
                let p = sim.process(node)?;
                let (low, high) = p.log_changed()?;
                // One past the written range: a stale entry kept after a rewritten one shows there.
                (node, low, high + 1)
            }
            Observation::Node {
                node,
                change: NodeChange::Restarted,
            } => (node, 0, u64::MAX),
            _ => return None,
        };
        let p = sim.process(node)?;
        let found = self
            .check_range(node, p, from, to)
            .map(|m| violation(sim.now(), m));
        keep(&mut self.violation, found)
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        report(Self::NAME, CheckKind::Always, &self.violation)
    }
}

// ----- The committed record, shared in shape by two checks -----

/// Entries known committed: applied by some node at an index within its commit index.
///
/// Indexed by log index - 1: nodes apply in order from 1 (or from a snapshot some node built by
/// applying), so the record grows at its end; an index past the end + 1 is not recorded.
#[derive(Default)]
struct Committed {
    entries: ByIndex<CommittedEntry>,
    /// Updates so far, to forget old records now and then.
    updates: u64,
}

/// One committed entry and who first applied it.
struct CommittedEntry {
    term: u64,
    command: Command,
    /// The term in which it was committed: the term of the first node to apply it, the leader
    /// that committed it (a follower learns of a commit only from a leader that applied first).
    commit_term: u64,
    by: NodeId,
    at: SimTime,
}

impl Committed {
    fn update(&mut self, sim: &Simulation<RaftNode>, node: NodeId) {
        self.updates += 1;
        if self.updates.is_multiple_of(FORGET_EVERY) {
            self.entries.forget_below(floor(sim));
        }
        let Some(p) = sim.process(node) else { return };
        for applied in p.applied_now() {
            if applied.index == self.entries.last_index() + 1 && applied.index <= p.commit_index() {
                self.entries.push(CommittedEntry {
                    term: applied.term,
                    command: applied.command.clone(),
                    commit_term: p.term(),
                    by: node,
                    at: sim.now(),
                });
            }
        }
    }

    /// The recorded entries from `index` on, with their indices.
    fn from(&self, index: u64) -> impl Iterator<Item = (u64, &CommittedEntry)> {
        self.entries.from(index.max(1))
    }

    fn last_index(&self) -> u64 {
        self.entries.last_index()
    }
}

// ----- raft.leader_completeness -----

/// §5.4 Leader Completeness: checked when a node becomes leader, against every entry committed
/// so far.
pub struct LeaderCompleteness {
    committed: Committed,
    violation: Option<Violation>,
}

impl LeaderCompleteness {
    const NAME: &'static str = "raft.leader_completeness";
}

impl Check<RaftNode> for LeaderCompleteness {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        let Observation::Handled { node, events } = *obs else {
            return None;
        };
        self.committed.update(sim, node);
        let term = events.iter().find_map(|e| match e {
            RaftEvent::BecameLeader { term } => Some(*term),
            _ => None,
        })?;
        let p = sim.process(node)?;
        let log = p.log();
        let mut found = None;
        for (index, committed) in self.committed.from(log.snapshot_index() + 1) {
            // The property is about later terms: a candidate of an older term can still win
            // with votes granted before that commit, and lead a term in which it can commit
            // nothing.
            if committed.commit_term >= term {
                continue;
            }
            let CommittedEntry {
                term: entry_term,
                command,
                commit_term,
                by,
                at,
            } = committed;
            let held = log.entry(index);
            if held.is_some_and(|e| e.term == *entry_term && e.command.same(command)) {
                continue;
            }
            let what = match held {
                Some(e) => format!("it holds {e:?} there"),
                None => format!("its log ends at index {}", log.last_index()),
            };
            found = Some(violation(
                sim.now(),
                format!(
                    "{node} became leader in term {term} without the entry at index {index} \
                     (term {entry_term}, {command:?}, committed in term {commit_term} by {by} at t={at}); \
                     {what}"
                ),
            ));
            break;
        }
        keep(&mut self.violation, found)
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        let mut report = report(Self::NAME, CheckKind::Always, &self.violation);
        let last = self.committed.last_index();
        report
            .figures
            .push(("highest committed index".into(), last.to_string()));
        report
    }
}

// ----- raft.state_machine_safety -----

/// §5.4.3 State Machine Safety, from what each handler applied and every snapshot installed.
pub struct StateMachineSafety {
    /// By log index - 1, the first application seen (see [`Committed`] on why it is dense).
    applied: ByIndex<(u64, Command, NodeId, SimTime)>,
    /// Handler observations so far, to forget old records now and then.
    observed: u64,
    violation: Option<Violation>,
}

impl StateMachineSafety {
    const NAME: &'static str = "raft.state_machine_safety";
}

impl Check<RaftNode> for StateMachineSafety {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        let Observation::Handled { node, events } = *obs else {
            return None;
        };
        self.observed += 1;
        if self.observed.is_multiple_of(FORGET_EVERY) {
            self.applied.forget_below(floor(sim));
        }
        let p = sim.process(node)?;
        let mut found = None;
        for applied in p.applied_now() {
            match self.applied.get(applied.index) {
                Some((term, command, other, at))
                    if *term != applied.term || !command.same(&applied.command) =>
                {
                    found = Some(format!(
                        "{node} applied {:?} (term {}) at index {}, but {other} applied \
                         {command:?} (term {term}) there at t={at}",
                        applied.command, applied.term, applied.index
                    ));
                    break;
                }
                Some(_) => {}
                None if applied.index == self.applied.last_index() + 1 => {
                    let record = (applied.term, applied.command.clone(), node, sim.now());
                    self.applied.push(record);
                }
                None => {}
            }
        }
        for event in events {
            if let RaftEvent::SnapshotInstalled { index, term } = *event {
                if let Some((applied_term, _, other, at)) = self.applied.get(index) {
                    if *applied_term != term && found.is_none() {
                        found = Some(format!(
                            "{node} installed a snapshot ending at index {index} in term {term}, \
                             but {other} applied an entry of term {applied_term} there at t={at}"
                        ));
                    }
                }
            }
        }
        let found = found.map(|m| violation(sim.now(), m));
        keep(&mut self.violation, found)
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        report(Self::NAME, CheckKind::Always, &self.violation)
    }
}

// ----- raft.durability -----

/// Committed entries survive crashes: at every crash and restart, each committed entry is on a
/// majority of disks (in the log under its index with its term, or inside a snapshot).
pub struct Durability {
    committed: Committed,
    violation: Option<Violation>,
}

impl Durability {
    const NAME: &'static str = "raft.durability";

    fn check(
        &self,
        sim: &Simulation<RaftNode>,
        node: NodeId,
        change: NodeChange,
    ) -> Option<String> {
        let node_count = sim.node_count();
        let majority = node_count / 2 + 1;
        let snapshot_index = |n: NodeId| match sim.storage(n).get(SNAPSHOT_KEY) {
            Some(Durable::Snapshot(s)) => s.last_index,
            _ => 0,
        };
        let snapshots: Vec<u64> = sim.node_ids().map(snapshot_index).collect();
        let mut sorted = snapshots.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        // Indices up to the majority-th highest snapshot are inside a majority of snapshots.
        let floor = sorted[majority - 1];
        for (index, CommittedEntry { term, by, at, .. }) in self.committed.from(floor + 1) {
            let holders: Vec<NodeId> = sim
                .node_ids()
                .filter(|&n| {
                    snapshots[n.index()] >= index
                        || matches!(sim.storage(n).get_entry(LOG, index), Some(Durable::Entry(e)) if e.term == *term)
                })
                .collect();
            if holders.len() < majority {
                let what = if change == NodeChange::Crashed {
                    "crashed"
                } else {
                    "restarted"
                };
                let names: Vec<String> = holders.iter().map(|n| n.to_string()).collect();
                return Some(format!(
                    "after {node} {what}, the entry at index {index} (term {term}, committed and \
                     applied by {by} at t={at}) is on {} of {node_count} disks ([{}]); a majority \
                     is {majority}",
                    holders.len(),
                    names.join(", ")
                ));
            }
        }
        None
    }
}

impl Check<RaftNode> for Durability {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        match *obs {
            Observation::Handled { node, .. } => {
                self.committed.update(sim, node);
                None
            }
            Observation::Node {
                node,
                change: change @ (NodeChange::Crashed | NodeChange::Restarted),
            } => {
                let found = self
                    .check(sim, node, change)
                    .map(|m| violation(sim.now(), m));
                keep(&mut self.violation, found)
            }
            _ => None,
        }
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        report(Self::NAME, CheckKind::Always, &self.violation)
    }
}

// ----- raft.leader_elected -----

/// Sometimes: a leader was elected at least once (a run without one must not pass quietly).
pub struct LeaderElected {
    first: Option<(SimTime, NodeId, u64)>,
}

impl LeaderElected {
    const NAME: &'static str = "raft.leader_elected";
}

impl Check<RaftNode> for LeaderElected {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        if self.first.is_some() {
            return None;
        }
        if let Observation::Handled { node, events } = *obs {
            for event in events {
                if let RaftEvent::BecameLeader { term } = *event {
                    self.first = Some((sim.now(), node, term));
                }
            }
        }
        None
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, phases: &Phases) -> CheckReport {
        let mut report = CheckReport {
            name: Self::NAME.into(),
            kind: CheckKind::Sometimes,
            violation: None,
            figures: Vec::new(),
            not_evaluated: None,
        };
        match self.first {
            Some((at, node, term)) => report.figures.push((
                "first leader".into(),
                format!("{node} in term {term} at t={at}"),
            )),
            None => {
                report.violation = Some(Violation {
                    time: phases.end,
                    message: "no leader was elected in the whole run".to_string(),
                })
            }
        }
        report
    }
}

// ----- raft.leader_after_heal -----

/// Eventually: once every fault has healed, a leader that a majority (itself included) follows
/// in its term exists within `within`.
pub struct LeaderAfterHeal {
    within: SimDuration,
    quiet_start: Option<SimTime>,
    found: Option<(SimTime, NodeId, u64)>,
}

impl LeaderAfterHeal {
    const NAME: &'static str = "raft.leader_after_heal";

    fn settled_leader(sim: &Simulation<RaftNode>) -> Option<(NodeId, u64)> {
        let majority = sim.node_count() / 2 + 1;
        for leader in sim.node_ids() {
            let Some(p) = sim.process(leader) else {
                continue;
            };
            if p.role() != Role::Leader {
                continue;
            }
            let term = p.term();
            let followers = sim
                .node_ids()
                .filter_map(|n| sim.process(n))
                .filter(|q| q.term() == term && q.leader() == Some(leader))
                .count();
            if followers >= majority {
                return Some((leader, term));
            }
        }
        None
    }
}

impl Check<RaftNode> for LeaderAfterHeal {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        if matches!(obs, Observation::QuietPhase) && self.quiet_start.is_none() {
            self.quiet_start = Some(sim.now());
        }
        if self.quiet_start.is_some() && self.found.is_none() {
            if let Some((leader, term)) = Self::settled_leader(sim) {
                self.found = Some((sim.now(), leader, term));
            }
        }
        None
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, phases: &Phases) -> CheckReport {
        let Some(quiet) = phases.quiet_start.or(self.quiet_start) else {
            return CheckReport::not_evaluated(
                Self::NAME,
                CheckKind::Eventually,
                "the run has no quiet phase to judge it in",
            );
        };
        let mut report = CheckReport {
            name: Self::NAME.into(),
            kind: CheckKind::Eventually,
            violation: None,
            figures: Vec::new(),
            not_evaluated: None,
        };
        let deadline = quiet.saturating_add(self.within);
        match self.found {
            Some((at, leader, term)) if at <= deadline => {
                let after = at.saturating_since(quiet);
                report.figures.push((
                    "leader after heal".into(),
                    format!("{leader} in term {term} after {after}"),
                ));
            }
            Some((at, leader, term)) => {
                report.violation = Some(violation(
                    at,
                    format!(
                        "the first leader a majority followed after the faults healed at t={quiet} \
                         was {leader} in term {term}, {} later; the bound is {}",
                        at.saturating_since(quiet),
                        self.within
                    ),
                ));
            }
            None if phases.end < deadline => {
                return CheckReport::not_evaluated(
                    Self::NAME,
                    CheckKind::Eventually,
                    format!(
                        "the run ended at t={} with no leader yet, before the bound of {} after \
                         the heal at t={quiet} ran out",
                        phases.end, self.within
                    ),
                );
            }
            None => {
                report.violation = Some(violation(
                    phases.end,
                    format!(
                        "no leader that a majority followed appeared after the faults healed at \
                         t={quiet} (bound {}, run ended at t={})",
                        self.within, phases.end
                    ),
                ));
            }
        }
        report
    }
}
