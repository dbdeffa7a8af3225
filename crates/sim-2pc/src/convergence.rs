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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sim_client::human_duration;
use sim_core::{
    Check, CheckKind, CheckReport, NodeId, NodeStatus, Observation, Phases, SimDuration, SimTime,
    Simulation, Violation,
};

use crate::config::{Config, Mode};
use crate::node::TxnNode;
use crate::types::{Outcome, TxnEvent, TxnId};

/// The check's name.
pub const NAME: &str = "2pc.converged";

/// The most unsettled transactions a violation lists.
const LISTED_MAX: usize = 4;

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
    /// The transactions seen by the heal: what the check judges.
    judged: Vec<TxnId>,
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
            judged: Vec::new(),
            pending: BTreeSet::new(),
            settled_at: None,
            passes: 0,
            late: None,
        }
    }

    fn note(&mut self, event: &TxnEvent) {
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
                return;
            }
            self.pending.remove(&txn);
        }
        // Every one was settled at some moment; a full pass says whether all are now.
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
                self.judged.len(),
                self.within
            ),
        }
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
        match *observation {
            Observation::Handled { events, .. } => {
                for event in events {
                    self.note(event);
                }
            }
            Observation::QuietPhase if self.quiet_start.is_none() => {
                self.quiet_start = Some(sim.now());
                self.judged = self.seen.keys().copied().collect();
                self.pending = self.judged.iter().copied().collect();
            }
            _ => {}
        }
        let quiet = self.quiet_start?;
        if self.judged.is_empty() {
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
        if self.judged.is_empty() {
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
                self.judged.len().to_string(),
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
