//! `2pc.converged` (eventually): after the faults heal, within `converge_within`, every
//! transaction that had begun (or saga that had started) by the heal is settled at every live
//! node at once:
//!
//! - its coordinator, if live, no longer runs it: an undecided transaction was decided, a commit
//!   was acknowledged by every live participant (END), a saga finished;
//! - no live participant is still in doubt about it (prepared), waiting for its locks, or
//!   holding a lock for it;
//! - every live participant that knows a decision knows the decision (commit if the coordinator
//!   logged COMMIT, abort otherwise, presumed or not), and every live participant of a
//!   committed transaction learned the commit.
//!
//! `2pc.termination` judges the participants' doubt from the trace; this check judges the
//! nodes' state itself (a lock leaked by a decided transaction, a coordinator waiting for an
//! ack forever, a participant whose decision disagrees), once, at the first moment everything is
//! settled. It is `not evaluated` without a quiet phase, when no transaction began before the
//! heal, and when the run ended before the bound with the nodes not yet settled.
//!
//! # Memory
//!
//! In 2PC mode the check does not keep every transaction until the heal. It *retires* one once
//! it is settled for good unless a node shows it again: an aborted transaction (or one lost with
//! its coordinator) when its coordinator closes it, a committed one once every participant it
//! named holds the commit durably ([`holds_commit_durably`](crate::participant::Participant::holds_commit_durably)). A retired
//! transaction is counted among those judged; ids are dense per coordinator incarnation, so an
//! id up to the latest begun that is no longer kept is known to be retired. A retired
//! transaction can be unsettled again only through state a node shows: a coordinator that
//! recovers it from its log, a participant that prepares it (a late prepare), waits for it,
//! recovers it from its disk or keeps a lock of it. So at the heal, and whenever after it a node
//! restarts or reports a prepare or a lock wait, the check looks at that node's state and judges
//! again every retired transaction it finds there, exactly where the full list would have had
//! it. Saga mode keeps every saga until the heal.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sim_client::human_duration;
use sim_core::{
    Check, CheckKind, CheckReport, NodeChange, NodeId, NodeStatus, Observation, Phases,
    SimDuration, SimTime, Simulation, Violation,
};

use crate::config::{Config, Mode};
use crate::durable::DurableCommits;
use crate::node::TxnNode;
use crate::types::{Outcome, TxnEvent, TxnId};

/// The check's name.
pub const NAME: &str = "2pc.converged";

/// The most unsettled transactions a violation lists.
const LISTED_MAX: usize = 4;

/// How far the pending list has been worked through, for the retired transactions (settled, so
/// dropped from the pending list when the walk passes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// None passed yet: every retired transaction is still pending.
    Start,
    /// The walk stopped at this (unsettled) transaction: retired ones above it are pending.
    At(TxnId),
    /// A full pass happened: no retired transaction is pending.
    Done,
}

/// `2pc.converged`.
#[derive(Debug)]
pub struct Converged {
    config: Arc<Config>,
    within: SimDuration,
    quiet_start: Option<SimTime>,
    /// Every transaction seen so far, with the participants it named (from commit records).
    seen: BTreeMap<TxnId, BTreeSet<NodeId>>,
    /// Transactions whose COMMIT some coordinator logged.
    committed: BTreeSet<TxnId>,
    /// The latest transaction each coordinator began (2PC): an id up to it no longer in `seen`
    /// is retired.
    last_began: BTreeMap<NodeId, TxnId>,
    /// Transactions retired before the heal (see the module docs).
    retired: usize,
    /// Committed transactions in `seen`, with the participants not yet known to hold the commit
    /// durably.
    unconfirmed: DurableCommits,
    /// The transactions seen by the heal that the check follows (not retired, or shown again).
    judged: BTreeSet<TxnId>,
    /// How many transactions were seen by the heal: those followed and those retired.
    judged_count: usize,
    /// Which retired transactions the original full list would still hold as pending.
    sweep: Sweep,
    /// Judged transactions not yet seen settled since the last full pass.
    pending: BTreeSet<TxnId>,
    /// When every judged transaction was first settled at once.
    settled_at: Option<SimTime>,
    /// Full passes over the judged transactions, for the figures.
    passes: u64,
    /// The nodes' state at the bound, when they had not settled by then.
    late: Option<Violation>,
}

impl Converged {
    pub fn new(config: Arc<Config>, within: SimDuration) -> Self {
        Converged {
            config,
            within,
            quiet_start: None,
            seen: BTreeMap::new(),
            committed: BTreeSet::new(),
            last_began: BTreeMap::new(),
            retired: 0,
            unconfirmed: DurableCommits::default(),
            judged: BTreeSet::new(),
            judged_count: 0,
            sweep: Sweep::Start,
            pending: BTreeSet::new(),
            settled_at: None,
            passes: 0,
            late: None,
        }
    }

    /// Whether `txn` was seen and retired (2PC): begun, and no longer kept.
    fn retired(&self, txn: TxnId) -> bool {
        self.config.mode == Mode::TwoPc
            && self
                .last_began
                .get(&txn.coordinator)
                .is_some_and(|&last| txn <= last)
            && !self.seen.contains_key(&txn)
            && !self.judged.contains(&txn)
    }

    /// Stops keeping `txn` before the heal: it is settled for good unless a node shows it again.
    fn retire(&mut self, txn: TxnId) {
        if self.quiet_start.is_some() || self.seen.remove(&txn).is_none() {
            return;
        }
        self.committed.remove(&txn);
        self.unconfirmed.remove(txn);
        self.retired += 1;
    }

    /// Follows the events that retire transactions (2PC, before the heal).
    fn follow(&mut self, node: NodeId, event: &TxnEvent) {
        match event {
            TxnEvent::Began { txn } => {
                let last = self.last_began.entry(txn.coordinator).or_insert(*txn);
                *last = (*last).max(*txn);
            }
            TxnEvent::Aborted {
                txn,
                presumed: false,
            } if !self.committed.contains(txn) => self.retire(*txn),
            TxnEvent::Recovered { .. } => {
                let lost: Vec<TxnId> = self
                    .seen
                    .keys()
                    .copied()
                    .filter(|t| t.coordinator == node && !self.committed.contains(t))
                    .collect();
                for txn in lost {
                    self.retire(txn);
                }
            }
            TxnEvent::CommitLogged { txn, participants } => {
                self.unconfirmed
                    .committed(*txn, participants.iter().copied());
            }
            TxnEvent::Learned {
                txn,
                outcome: Outcome::Commit,
                ..
            } => self.unconfirmed.learned(node, *txn),
            _ => {}
        }
    }

    /// After `node` handled an event: the commits it now holds durably are confirmed there; a
    /// commit confirmed at every participant it named is retired.
    fn confirm(&mut self, sim: &Simulation<TxnNode>, node: NodeId) {
        for txn in self.unconfirmed.confirm(sim, node) {
            self.retire(txn);
        }
    }

    /// Judges again the retired transactions `node`'s state shows (at the heal, or after it).
    fn revive_at(&mut self, sim: &Simulation<TxnNode>, node: NodeId) {
        let Some(process) = sim.process(node) else {
            return;
        };
        let shown: Vec<(TxnId, Option<Vec<NodeId>>)> = match process {
            TxnNode::Coordinator(c) => c
                .txns
                .iter()
                .map(|(&t, txn)| (t, txn.committed.then(|| txn.participants.clone())))
                .collect(),
            TxnNode::Participant(p) => p.active_txns().into_iter().map(|t| (t, None)).collect(),
        };
        for (txn, commit) in shown {
            self.revive(txn, commit);
        }
    }

    /// Judges `txn` again if it was retired; `commit` names the participants of a commit.
    fn revive(&mut self, txn: TxnId, commit: Option<Vec<NodeId>>) {
        if !self.retired(txn) {
            return;
        }
        if let Some(named) = commit {
            self.committed.insert(txn);
            self.seen.entry(txn).or_default().extend(named);
        }
        self.judged.insert(txn);
        let pending = match self.sweep {
            Sweep::Start => true,
            Sweep::At(at) => txn > at,
            Sweep::Done => false,
        };
        if pending {
            self.pending.insert(txn);
        }
    }

    fn note(&mut self, event: &TxnEvent) {
        if self.retired(event_txn(event).unwrap_or(TxnId {
            coordinator: NodeId(u32::MAX),
            epoch: 0,
            seq: 0,
        })) {
            return;
        }
        let txn = match event {
            TxnEvent::CommitLogged { txn, participants } => {
                self.committed.insert(*txn);
                let named = self.seen.entry(*txn).or_default();
                named.extend(participants.iter().copied());
                return;
            }
            TxnEvent::Began { txn }
            | TxnEvent::Prepared { txn, .. }
            | TxnEvent::VotedNo { txn, .. }
            | TxnEvent::LockWait { txn, .. }
            | TxnEvent::Aborted { txn, .. } => *txn,
            _ => return,
        };
        self.seen.entry(txn).or_default();
    }

    /// The decision of `txn` as far as the run shows: commit once COMMIT was logged, else abort.
    fn decision(&self, txn: TxnId) -> Outcome {
        if self.committed.contains(&txn) {
            Outcome::Commit
        } else {
            Outcome::Abort
        }
    }

    /// What keeps `txn` from being settled now, by node; empty when it is settled.
    fn unsettled(&self, sim: &Simulation<TxnNode>, txn: TxnId) -> Vec<String> {
        let live = |n: NodeId| sim.status(n) == NodeStatus::Up;
        let mut why = Vec::new();
        let coordinator = txn.coordinator;
        if let Some(c) = sim.process(coordinator).and_then(TxnNode::coordinator) {
            if live(coordinator) {
                if let Some(t) = c.txns.get(&txn) {
                    if t.committed {
                        let missing: Vec<String> = t
                            .participants
                            .iter()
                            .filter(|&&p| live(p) && !t.acks.contains(&p))
                            .map(|p| p.to_string())
                            .collect();
                        if !missing.is_empty() {
                            why.push(format!(
                                "its coordinator {coordinator} still waits for the commit's acks \
                                 from {}",
                                missing.join(", ")
                            ));
                        }
                    } else {
                        why.push(format!(
                            "its coordinator {coordinator} has not decided it ({} of {} votes in)",
                            t.votes.len(),
                            t.participants.len()
                        ));
                    }
                }
                if c.sagas.contains_key(&txn) {
                    why.push(format!(
                        "its coordinator {coordinator} has not finished the saga"
                    ));
                }
            }
        }
        if self.config.mode == Mode::TwoPc {
            for &p in self.config.participants.iter().filter(|&&p| live(p)) {
                if let Some(part) = sim.process(p).and_then(TxnNode::participant) {
                    self.participant(p, part, txn, &mut why);
                }
            }
        }
        why
    }

    fn participant(
        &self,
        node: NodeId,
        p: &crate::participant::Participant,
        txn: TxnId,
        why: &mut Vec<String>,
    ) {
        let decision = self.decision(txn);
        if p.is_prepared(txn) {
            why.push(format!("{node} is still in doubt about it (prepared)"));
        }
        if p.is_waiting(txn) {
            why.push(format!("{node} still has its prepare waiting for locks"));
        }
        let locked = p.locked_by(txn);
        if !locked.is_empty() && !p.is_prepared(txn) {
            why.push(format!(
                "{node} still holds its locks on accounts {locked:?}, decided {decision:?}"
            ));
        }
        match p.decided(txn) {
            Some(known) if known != decision => why.push(format!(
                "{node} decided {known:?}, but the decision is {decision:?}"
            )),
            None if decision == Outcome::Commit
                && self
                    .seen
                    .get(&txn)
                    .is_some_and(|named| named.contains(&node)) =>
            {
                why.push(format!("{node} never learned the commit"));
            }
            _ => {}
        }
    }

    /// Follows the run after the heal; notes the first moment every judged transaction is
    /// settled at once.
    fn track(&mut self, sim: &Simulation<TxnNode>) {
        if self.settled_at.is_some() {
            return;
        }
        // Most steps look at one transaction: the first pending one, dropped once settled.
        while let Some(&txn) = self.pending.first() {
            if !self.unsettled(sim, txn).is_empty() {
                if self.sweep != Sweep::Done {
                    self.sweep = Sweep::At(txn);
                }
                return;
            }
            self.pending.remove(&txn);
        }
        // Every one was settled at some moment; a full pass says whether all are now.
        self.sweep = Sweep::Done;
        self.passes += 1;
        let open: BTreeSet<TxnId> = self
            .judged
            .iter()
            .copied()
            .filter(|&t| !self.unsettled(sim, t).is_empty())
            .collect();
        if open.is_empty() {
            self.settled_at = Some(sim.now());
        }
        self.pending = open;
    }

    /// The violation of nodes not settled by `deadline`, judged on the state at the end.
    fn violation(&self, sim: &Simulation<TxnNode>, quiet: SimTime, deadline: SimTime) -> Violation {
        let open: Vec<(TxnId, Vec<String>)> = self
            .judged
            .iter()
            .map(|&t| (t, self.unsettled(sim, t)))
            .filter(|(_, why)| !why.is_empty())
            .collect();
        let listed: Vec<String> = open
            .iter()
            .take(LISTED_MAX)
            .map(|(t, why)| format!("{t} ({:?}): {}", self.decision(*t), why.join("; ")))
            .collect();
        let more = match open.len().saturating_sub(LISTED_MAX) {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        let now = if open.is_empty() {
            match self.settled_at {
                Some(at) => format!("they settled only at t={at}"),
                None => format!("at t={} they are, but never all at once before", sim.now()),
            }
        } else {
            format!(
                "at t={}, {} of them are not settled: {}{more}",
                sim.now(),
                open.len(),
                listed.join(" | ")
            )
        };
        Violation {
            time: deadline,
            message: format!(
                "the {} transactions begun by the heal at t={quiet} were not all settled at every \
                 live node within {}: {now}",
                self.judged_count, self.within
            ),
        }
    }
}

impl Converged {
    /// After the heal: an event that shows a retired transaction in a node's state again.
    fn revive_by(&mut self, sim: &Simulation<TxnNode>, node: NodeId, event: &TxnEvent) {
        match event {
            TxnEvent::Prepared { txn, .. } | TxnEvent::LockWait { txn, .. } => {
                self.revive(*txn, None);
            }
            TxnEvent::Restarted { .. } | TxnEvent::Recovered { .. } => self.revive_at(sim, node),
            _ => {}
        }
    }

    /// Transactions the check keeps (for the retained-state tests).
    pub fn kept(&self) -> usize {
        self.seen.len() + self.committed.len() + self.unconfirmed.len() + self.judged.len()
    }
}

/// The transaction an event is about, if it is one `note` keeps.
fn event_txn(event: &TxnEvent) -> Option<TxnId> {
    match event {
        TxnEvent::CommitLogged { txn, .. }
        | TxnEvent::Began { txn }
        | TxnEvent::Prepared { txn, .. }
        | TxnEvent::VotedNo { txn, .. }
        | TxnEvent::LockWait { txn, .. }
        | TxnEvent::Aborted { txn, .. } => Some(*txn),
        _ => None,
    }
}

impl Check<TxnNode> for Converged {
    fn name(&self) -> &str {
        NAME
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn observe(
        &mut self,
        sim: &Simulation<TxnNode>,
        observation: &Observation<'_, TxnNode>,
    ) -> Option<Violation> {
        let two_pc = self.config.mode == Mode::TwoPc;
        match *observation {
            Observation::Handled { node, events } => {
                for event in events {
                    if self.quiet_start.is_some() && two_pc {
                        self.revive_by(sim, node, event);
                    }
                    self.note(event);
                    if self.quiet_start.is_none() && two_pc {
                        self.follow(node, event);
                    }
                }
                if self.quiet_start.is_none() && two_pc {
                    self.confirm(sim, node);
                }
            }
            Observation::Node { node, .. } if self.quiet_start.is_some() && two_pc => {
                self.revive_at(sim, node);
            }
            Observation::Node {
                node,
                change: NodeChange::Restarted,
            } if two_pc && sim.process(node).and_then(TxnNode::coordinator).is_some() => {
                // The restart's own `Recovered` is not shown as handled.
                self.follow(node, &TxnEvent::Recovered { commits: 0 });
            }
            Observation::QuietPhase if self.quiet_start.is_none() => {
                self.quiet_start = Some(sim.now());
                self.judged = self.seen.keys().copied().collect();
                self.judged_count = self.retired + self.judged.len();
                self.pending = self.judged.clone();
                self.unconfirmed.clear();
                if two_pc {
                    for node in sim.node_ids().collect::<Vec<_>>() {
                        self.revive_at(sim, node);
                    }
                }
            }
            _ => {}
        }
        let quiet = self.quiet_start?;
        if self.judged_count == 0 {
            return None;
        }
        self.track(sim);
        let deadline = quiet.saturating_add(self.within);
        if self.settled_at.is_none() && self.late.is_none() && sim.now() >= deadline {
            self.late = Some(self.violation(sim, quiet, deadline));
        }
        None
    }

    fn finish(&mut self, sim: &Simulation<TxnNode>, phases: &Phases) -> CheckReport {
        let Some(quiet) = phases.quiet_start.or(self.quiet_start) else {
            return CheckReport::not_evaluated(
                NAME,
                CheckKind::Eventually,
                "the run has no quiet phase",
            );
        };
        if self.judged_count == 0 {
            return CheckReport::not_evaluated(
                NAME,
                CheckKind::Eventually,
                "no transaction began before the faults healed",
            );
        }
        let deadline = quiet.saturating_add(self.within);
        let mut figures = vec![
            (
                "transactions judged".to_string(),
                self.judged_count.to_string(),
            ),
            ("full passes".to_string(), self.passes.to_string()),
        ];
        let violation = match self.settled_at {
            Some(at) if at <= deadline => {
                figures.push((
                    "settled".to_string(),
                    format!(
                        "{} after the heal",
                        human_duration(at.saturating_since(quiet))
                    ),
                ));
                None
            }
            None if phases.end < deadline => {
                return CheckReport::not_evaluated(
                    NAME,
                    CheckKind::Eventually,
                    format!(
                        "the run ended {} after the heal, before the bound of {} and before every \
                         transaction settled",
                        phases.end.saturating_since(quiet),
                        self.within
                    ),
                );
            }
            _ => Some(
                self.late
                    .clone()
                    .unwrap_or_else(|| self.violation(sim, quiet, deadline)),
            ),
        };
        CheckReport {
            name: NAME.to_string(),
            kind: CheckKind::Eventually,
            violation,
            figures,
            not_evaluated: None,
        }
    }
}
