//! The family's checks, all fed by one [`Tracker`] of the reported events:
//!
//! - `2pc.atomicity` (always): every node that learns a transaction's decision learns the same
//!   one, and no decision ever changes (a participant told abort, presumed, about a logged
//!   commit is a change);
//! - `2pc.validity` (always): commit only if every participant voted yes (prepared), and no
//!   participant applies a commit that no coordinator decided;
//! - `2pc.durability` (always): a participant's balance of an account it is not in doubt about
//!   is the last committed value, across its crashes;
//! - `2pc.conservation` (always): the total of the committed balances never changes, and (2PC)
//!   every committed audit read that total; in Saga mode the total is judged whenever no saga
//!   is in flight, and audits are only counted (they may see money in flight);
//! - `2pc.no_overdraft` (always): no committed balance is ever negative;
//! - `2pc.termination` (eventually): after the faults heal, every transaction prepared (or saga
//!   begun) more than `decide_within` before the end is decided at every participant (ended);
//! - `2pc.committed` (sometimes): some transfer committed, so an idle run cannot pass quietly.
//!
//! The tracker also measures blocking: per participant, the time spent prepared and undecided
//! while holding locks, and the prepares that waited on those locks.
//!
//! # Memory
//!
//! The tracker keeps a transaction only while a later event can still be judged against it,
//! so its memory follows the transactions in flight, not the length of the run:
//!
//! - the yes votes (`prepared`) matter only to the COMMIT that may follow them: they go when the
//!   coordinator decides (commit or abort) or restarts (losing the transactions it had not
//!   decided); a coordinator issues ids in increasing order and never decides an id twice, so a
//!   vote that arrives later for such a *closed* transaction is not kept;
//! - an aborted (or lost) transaction is forgotten when it closes: no participant can learn
//!   commit for it, nor can COMMIT be logged for it, so no later event about it can be a
//!   violation;
//! - a committed one is kept until every participant holds the commit durably (its disk synced
//!   with the decision on it and PREPARED gone): such a participant never learns the
//!   transaction again, so none of its later events can be judged against the record.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use sim_core::{
    Check, CheckKind, CheckReport, NodeChange, NodeId, Observation, Phases, SimDuration, SimTime,
    Simulation, Violation,
};

use crate::config::{Config, Mode};
use crate::durable::DurableCommits;
use crate::node::TxnNode;
use crate::types::{Account, Outcome, TxnEvent, TxnId};

/// The check names, in report order.
pub const NAMES: [&str; 7] = [
    "2pc.atomicity",
    "2pc.validity",
    "2pc.durability",
    "2pc.conservation",
    "2pc.no_overdraft",
    "2pc.termination",
    "2pc.committed",
];

/// Which property a [`TxnCheck`] judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Which {
    Atomicity,
    Validity,
    Durability,
    Conservation,
    NoOverdraft,
    Termination,
    Committed,
}

impl Which {
    pub const ALL: [Which; 7] = [
        Which::Atomicity,
        Which::Validity,
        Which::Durability,
        Which::Conservation,
        Which::NoOverdraft,
        Which::Termination,
        Which::Committed,
    ];

    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    fn kind(self) -> CheckKind {
        match self {
            Which::Termination => CheckKind::Eventually,
            Which::Committed => CheckKind::Sometimes,
            _ => CheckKind::Always,
        }
    }
}

/// Blocking, per participant, for the summary and the figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocking {
    /// Time spent prepared and undecided (locks held), summed over transactions.
    pub blocked: BTreeMap<NodeId, SimDuration>,
    /// The longest single stretch a transaction stayed in doubt at one participant.
    pub longest: BTreeMap<NodeId, SimDuration>,
    /// Prepares that waited for a lock held by a prepared transaction.
    pub lock_waits: BTreeMap<NodeId, u64>,
    /// Decisions learned from a peer (cooperative termination).
    pub from_peers: u64,
    pub committed: u64,
    pub aborted: u64,
}

pub type SharedBlocking = Arc<Mutex<Blocking>>;

/// Everything the checks know, built from the reported events.
#[derive(Debug)]
pub struct Tracker {
    config: Arc<Config>,
    /// The coordinator's decision, when and by whom it was first reported.
    decisions: BTreeMap<TxnId, (Outcome, SimTime, NodeId)>,
    /// What each participant learned.
    learned: BTreeMap<(TxnId, NodeId), (Outcome, SimTime)>,
    /// Yes votes: the writes each participant prepared.
    prepared: BTreeMap<TxnId, BTreeMap<NodeId, Vec<(Account, i64)>>>,
    /// Participants in doubt, since when.
    open: BTreeMap<(NodeId, TxnId), SimTime>,
    /// Sagas begun and not finished, since when.
    sagas: BTreeMap<TxnId, SimTime>,
    /// The committed value of every account.
    ledger: BTreeMap<Account, i64>,
    blocking: Blocking,
    /// Transactions begun (2PC) and not yet decided by their coordinator nor lost with it.
    running: BTreeSet<TxnId>,
    /// The latest transaction each coordinator began: an id up to it that is not running is
    /// closed (see the module docs).
    last_began: BTreeMap<NodeId, TxnId>,
    /// Committed transactions kept until every participant they named holds the commit durably.
    unsettled: DurableCommits,
}

impl Tracker {
    pub fn new(config: Arc<Config>) -> Self {
        let ledger = (0..config.accounts)
            .map(|a| (a, config.initial_balance))
            .collect();
        Tracker {
            config,
            decisions: BTreeMap::new(),
            learned: BTreeMap::new(),
            prepared: BTreeMap::new(),
            open: BTreeMap::new(),
            sagas: BTreeMap::new(),
            ledger,
            blocking: Blocking::default(),
            running: BTreeSet::new(),
            last_began: BTreeMap::new(),
            unsettled: DurableCommits::default(),
        }
    }

    /// Whether `txn`'s coordinator decided it (or lost it in a crash): no COMMIT can come for
    /// it any more.
    fn closed(&self, txn: TxnId) -> bool {
        !self.running.contains(&txn)
            && self
                .last_began
                .get(&txn.coordinator)
                .is_some_and(|&last| txn <= last)
    }

    /// Whether the tracker keeps nothing more about `txn` (closed and not a commit kept).
    fn forgotten(&self, txn: TxnId) -> bool {
        self.closed(txn) && !self.unsettled.contains(txn)
    }

    /// Drops every record of `txn` (its yes votes, decision and what participants learned).
    fn forget(&mut self, txn: TxnId) {
        self.prepared.remove(&txn);
        self.decisions.remove(&txn);
        self.unsettled.remove(txn);
        let learned: Vec<(TxnId, NodeId)> = self
            .learned
            .range((txn, NodeId(0))..=(txn, NodeId(u32::MAX)))
            .map(|(&k, _)| k)
            .collect();
        for key in learned {
            self.learned.remove(&key);
        }
    }

    /// A coordinator (re)started: the transactions it was running and had not decided are lost
    /// (its new incarnation issues larger ids), hence closed.
    pub fn coordinator_restarted(&mut self, coordinator: NodeId) {
        let lost: Vec<TxnId> = self
            .running
            .iter()
            .copied()
            .filter(|t| t.coordinator == coordinator)
            .collect();
        for txn in lost {
            self.running.remove(&txn);
            self.forget(txn);
        }
    }

    /// After `node` handled an event: the commits it learned that are now durable on its disk
    /// (synced, the decision there, PREPARED gone) are settled there; a commit settled at every
    /// participant is forgotten.
    pub fn confirm(&mut self, sim: &Simulation<TxnNode>, node: NodeId) {
        for txn in self.unsettled.confirm(sim, node) {
            self.forget(txn);
        }
    }

    /// Takes in one handler's events; returns the violations they show, by property.
    pub fn observe(
        &mut self,
        now: SimTime,
        node: NodeId,
        events: &[TxnEvent],
    ) -> Vec<(Which, String)> {
        let mut found = Vec::new();
        for event in events {
            self.event(now, node, event, &mut found);
        }
        found
    }

    fn event(
        &mut self,
        now: SimTime,
        node: NodeId,
        event: &TxnEvent,
        found: &mut Vec<(Which, String)>,
    ) {
        match event {
            TxnEvent::CommitLogged { txn, participants } => {
                self.commit_logged(now, node, *txn, participants, found)
            }
            TxnEvent::Aborted { txn, presumed } => self.aborted(now, node, *txn, *presumed, found),
            TxnEvent::Prepared { txn, writes } => self.prepared(now, node, *txn, writes, found),
            TxnEvent::Learned {
                txn,
                outcome,
                from_peer,
            } => {
                self.blocking.from_peers += u64::from(*from_peer);
                self.learned_decision(now, node, *txn, *outcome, found);
            }
            TxnEvent::LockWait { .. } => {
                *self.blocking.lock_waits.entry(node).or_default() += 1;
            }
            TxnEvent::Audited { txn, total }
                if self.config.mode == Mode::TwoPc && *total != self.config.total() =>
            {
                found.push((
                    Which::Conservation,
                    format!(
                        "audit {txn} committed at {node} having read a total of {total}, not {}",
                        self.config.total()
                    ),
                ));
            }
            TxnEvent::Began { txn } if self.config.mode == Mode::Saga => {
                self.sagas.insert(*txn, now);
            }
            TxnEvent::Began { txn } => {
                self.running.insert(*txn);
                let last = self.last_began.entry(txn.coordinator).or_insert(*txn);
                *last = (*last).max(*txn);
            }
            TxnEvent::Recovered { .. } if self.config.mode == Mode::TwoPc => {
                self.coordinator_restarted(node);
            }
            TxnEvent::LocalApplied {
                saga,
                index,
                account,
                balance,
            } => self.local_applied(node, *saga, *index, *account, *balance, found),
            TxnEvent::SagaFinished { saga, completed } => {
                self.sagas.remove(saga);
                if *completed {
                    self.blocking.committed += 1;
                } else {
                    self.blocking.aborted += 1;
                }
                self.conserved(found, || {
                    format!("after saga {saga} finished, none in flight")
                });
            }
            _ => {}
        }
    }

    fn prepared(
        &mut self,
        now: SimTime,
        node: NodeId,
        txn: TxnId,
        writes: &[(Account, i64)],
        found: &mut Vec<(Which, String)>,
    ) {
        for &(account, balance) in writes {
            if balance < 0 {
                found.push((
                    Which::NoOverdraft,
                    format!("{node} prepared {txn} writing account {account} = {balance}"),
                ));
            }
        }
        // A vote for a closed transaction can never make a COMMIT valid: not kept.
        if !self.closed(txn) {
            self.prepared
                .entry(txn)
                .or_default()
                .insert(node, writes.to_vec());
        }
        self.open.entry((node, txn)).or_insert(now);
    }

    fn commit_logged(
        &mut self,
        now: SimTime,
        node: NodeId,
        txn: TxnId,
        participants: &[NodeId],
        found: &mut Vec<(Which, String)>,
    ) {
        if let Some(&(Outcome::Abort, at, by)) = self.decisions.get(&txn) {
            found.push((
                Which::Atomicity,
                format!("{node} logged COMMIT for {txn}, which {by} had decided abort at t={at}"),
            ));
        }
        for (&(t, p), &(outcome, at)) in self
            .learned
            .range((txn, NodeId(0))..=(txn, NodeId(u32::MAX)))
        {
            if t == txn && outcome == Outcome::Abort {
                found.push((
                    Which::Atomicity,
                    format!("{node} logged COMMIT for {txn}, but {p} had learned abort at t={at}"),
                ));
            }
        }
        let votes = self.prepared.remove(&txn).unwrap_or_default();
        self.running.remove(&txn);
        self.unsettled.committed(txn, participants.iter().copied());
        let missing: Vec<String> = participants
            .iter()
            .filter(|p| !votes.contains_key(p))
            .map(|p| p.to_string())
            .collect();
        if !missing.is_empty() || participants.is_empty() {
            found.push((
                Which::Validity,
                format!(
                    "{node} logged COMMIT for {txn} without a yes vote from {}",
                    missing.join(", ")
                ),
            ));
        }
        self.decisions
            .entry(txn)
            .or_insert((Outcome::Commit, now, node));
        self.blocking.committed += 1;
        for writes in votes.values() {
            for &(account, balance) in writes {
                self.ledger.insert(account, balance);
                if balance < 0 {
                    found.push((
                        Which::NoOverdraft,
                        format!("{txn} committed account {account} = {balance}"),
                    ));
                }
            }
        }
        self.conserved(found, || format!("after {node} committed {txn}"));
    }

    fn conserved(&self, found: &mut Vec<(Which, String)>, when: impl Fn() -> String) {
        if self.config.mode == Mode::Saga && !self.sagas.is_empty() {
            return;
        }
        let total: i64 = self.ledger.values().sum();
        if total != self.config.total() {
            found.push((
                Which::Conservation,
                format!(
                    "the committed balances total {total}, not {}, {}; balances {:?}",
                    self.config.total(),
                    when(),
                    self.ledger
                ),
            ));
        }
    }

    fn aborted(
        &mut self,
        now: SimTime,
        node: NodeId,
        txn: TxnId,
        presumed: bool,
        found: &mut Vec<(Which, String)>,
    ) {
        // A presumed abort answers an inquiry the coordinator has no record for. After END that
        // is a stale inquiry from a participant that already knows the commit, which ignores
        // it; it changes a decision only if some participant learns it (`learned_decision`).
        if presumed {
            // About a closed transaction, forgotten: its decision was made and is judged by
            // no later event (see the module docs), or it was lost, never to be committed.
            if !self.forgotten(txn) {
                self.decisions
                    .entry(txn)
                    .or_insert((Outcome::Abort, now, node));
            }
            return;
        }
        if let Some(&(Outcome::Commit, at, by)) = self.decisions.get(&txn) {
            found.push((
                Which::Atomicity,
                format!("{node} decided abort for {txn}, which {by} had logged COMMIT at t={at}"),
            ));
        }
        if let std::collections::btree_map::Entry::Vacant(e) = self.decisions.entry(txn) {
            e.insert((Outcome::Abort, now, node));
            self.blocking.aborted += 1;
        }
        self.running.remove(&txn);
        if !self.unsettled.contains(txn) {
            self.forget(txn);
        }
    }

    fn learned_decision(
        &mut self,
        now: SimTime,
        node: NodeId,
        txn: TxnId,
        outcome: Outcome,
        found: &mut Vec<(Which, String)>,
    ) {
        if let Some(since) = self.open.remove(&(node, txn)) {
            let stretch = now.saturating_since(since);
            let blocked = self.blocking.blocked.entry(node).or_default();
            *blocked = *blocked + stretch;
            let longest = self.blocking.longest.entry(node).or_default();
            *longest = (*longest).max(stretch);
        }
        if let Some(&(before, at)) = self.learned.get(&(txn, node)) {
            if before != outcome {
                found.push((
                    Which::Atomicity,
                    format!(
                        "{node} learned {outcome:?} for {txn}, having learned {before:?} at t={at}"
                    ),
                ));
            }
        }
        match self.decisions.get(&txn) {
            Some(&(decided, at, by)) if decided != outcome => found.push((
                Which::Atomicity,
                format!("{node} learned {outcome:?} for {txn}, which {by} decided {decided:?} at t={at}"),
            )),
            None if outcome == Outcome::Commit => found.push((
                Which::Validity,
                format!("{node} committed {txn}, which no coordinator decided to commit"),
            )),
            _ => {}
        }
        if self.forgotten(txn) {
            return;
        }
        self.learned.insert((txn, node), (outcome, now));
        if outcome == Outcome::Commit {
            self.unsettled.learned(node, txn);
        }
    }

    fn local_applied(
        &mut self,
        node: NodeId,
        saga: TxnId,
        index: u32,
        account: Account,
        balance: i64,
        found: &mut Vec<(Which, String)>,
    ) {
        self.ledger.insert(account, balance);
        if balance < 0 {
            found.push((
                Which::NoOverdraft,
                format!("{node} ran step {index} of saga {saga}: account {account} = {balance}"),
            ));
        }
    }

    /// Durability: every account `node` holds and is not in doubt about has its committed value.
    pub fn durable(&self, sim: &Simulation<TxnNode>, node: NodeId) -> Option<String> {
        let p = sim.process(node)?.participant()?;
        let in_doubt = p.in_doubt_accounts();
        for (&account, &balance) in p.balances() {
            let committed = self.ledger.get(&account).copied()?;
            if !in_doubt.contains(&account) && balance != committed {
                return Some(format!(
                    "{node} holds account {account} = {balance}, but its committed value is \
                     {committed} (a committed write was lost, or an uncommitted one kept)"
                ));
            }
        }
        None
    }

    /// Termination at the end of the run: who is still in doubt (or which saga unfinished)
    /// since before `end - within`.
    pub fn undecided(&self, end: SimTime, within: SimDuration) -> Vec<String> {
        let deadline = SimTime(end.0.saturating_sub(within.0));
        let doubts = self.open.iter().filter(|(_, &since)| since <= deadline);
        let mut out: Vec<String> = doubts
            .map(|((node, txn), since)| format!("{node} in doubt about {txn} since t={since}"))
            .collect();
        let sagas = self.sagas.iter().filter(|(_, &since)| since <= deadline);
        out.extend(sagas.map(|(saga, since)| format!("saga {saga} unfinished since t={since}")));
        out
    }

    /// The blocking figures, with the stretches still open at `end` counted up to it.
    pub fn blocking(&self, end: SimTime) -> Blocking {
        let mut b = self.blocking.clone();
        for (&(node, _), &since) in &self.open {
            let stretch = end.saturating_since(since);
            let blocked = b.blocked.entry(node).or_default();
            *blocked = *blocked + stretch;
            let longest = b.longest.entry(node).or_default();
            *longest = (*longest).max(stretch);
        }
        b
    }

    pub fn committed(&self) -> u64 {
        self.blocking.committed
    }

    /// Entries kept about single transactions (votes, decisions, what participants learned,
    /// doubts, transactions running or awaiting durable commits), for the retained-state tests.
    pub fn retained(&self) -> usize {
        self.decisions.len()
            + self.learned.len()
            + self.prepared.len()
            + self.open.len()
            + self.sagas.len()
            + self.running.len()
            + self.unsettled.len()
    }
}

/// One property, judged from its own [`Tracker`].
pub struct TxnCheck {
    which: Which,
    tracker: Tracker,
    within: SimDuration,
    /// Filled at the end by the termination check, for the summary.
    blocking: Option<SharedBlocking>,
}

impl TxnCheck {
    pub fn new(
        which: Which,
        config: Arc<Config>,
        within: SimDuration,
        blocking: Option<SharedBlocking>,
    ) -> Self {
        TxnCheck {
            which,
            tracker: Tracker::new(config),
            within,
            blocking,
        }
    }
}

impl Check<TxnNode> for TxnCheck {
    fn name(&self) -> &str {
        self.which.name()
    }

    fn kind(&self) -> CheckKind {
        self.which.kind()
    }

    fn observe(
        &mut self,
        sim: &Simulation<TxnNode>,
        observation: &Observation<'_, TxnNode>,
    ) -> Option<Violation> {
        let (node, events) = match *observation {
            Observation::Handled { node, events } => (node, events),
            Observation::Node {
                node,
                change: NodeChange::Restarted,
            } => {
                // The restart's own events (`Recovered`) are not shown as handled.
                if sim.process(node).and_then(TxnNode::coordinator).is_some()
                    && self.tracker.config.mode == Mode::TwoPc
                {
                    self.tracker.coordinator_restarted(node);
                }
                return None;
            }
            _ => return None,
        };
        let found = self.tracker.observe(sim.now(), node, events);
        self.tracker.confirm(sim, node);
        let time = sim.now();
        if let Some((_, message)) = found.into_iter().find(|(w, _)| *w == self.which) {
            return Some(Violation { time, message });
        }
        if self.which == Which::Durability {
            let message = self.tracker.durable(sim, node)?;
            return Some(Violation { time, message });
        }
        None
    }

    fn finish(&mut self, _sim: &Simulation<TxnNode>, phases: &Phases) -> CheckReport {
        let name = self.which.name();
        let kind = self.which.kind();
        let saga = self.tracker.config.mode == Mode::Saga;
        if saga && matches!(self.which, Which::Atomicity | Which::Validity) {
            return CheckReport::not_evaluated(
                name,
                kind,
                "Saga mode makes no 2PC decisions; conservation, durability and no_overdraft \
                 judge it",
            );
        }
        let b = self.tracker.blocking(phases.end);
        let mut figures = vec![
            ("committed".to_string(), b.committed.to_string()),
            ("aborted".to_string(), b.aborted.to_string()),
        ];
        let mut violation = None;
        match self.which {
            Which::Termination => {
                if let Some(shared) = &self.blocking {
                    *shared.lock().unwrap_or_else(|e| e.into_inner()) = b.clone();
                }
                if phases.quiet_start.is_none() {
                    return CheckReport::not_evaluated(name, kind, "the run has no quiet phase");
                }
                let undecided = self.tracker.undecided(phases.end, self.within);
                figures = vec![("decide_within".to_string(), format!("{}", self.within))];
                if let Some(first) = undecided.first() {
                    violation = Some(Violation {
                        time: phases.end,
                        message: format!(
                            "{} still undecided at the end, {} after the faults healed: {first}",
                            undecided.len(),
                            self.within
                        ),
                    });
                }
            }
            Which::Committed if self.tracker.committed() == 0 => {
                violation = Some(Violation {
                    time: phases.end,
                    message: "no transaction ever committed".to_string(),
                });
            }
            _ => {}
        }
        CheckReport {
            name: name.to_string(),
            kind,
            violation,
            figures,
            not_evaluated: None,
        }
    }
}
