//! A participant (resource manager): it owns a partition of the accounts, prepares under strict
//! two-phase locking with wait-die, forces PREPARED before voting yes, holds its locks until the
//! decision, and when in doubt asks the coordinator and (cooperative termination) its peers.
//! In Saga mode it runs each step as a local transaction, once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sim_core::{Ctx, NodeId, SimDuration, SimTime};

use crate::bugs::Bug;
use crate::config::Config;
use crate::decisions::{self, Decisions};
use crate::node::TxnNode;
use crate::types::{
    Account, Durable, Msg, Outcome, PreparedRecord, Priority, Step, Timer, TxnEvent, TxnId,
};

/// A saga step at or past this index is a compensation: it bypasses the business rules.
pub const COMPENSATION: u32 = 1000;

/// A prepare waiting for locks.
#[derive(Debug, Clone)]
struct Waiting {
    coordinator: NodeId,
    priority: Priority,
    steps: Vec<Step>,
    participants: Vec<NodeId>,
}

/// The locks on one account: one writer or any number of readers.
#[derive(Debug, Clone, Default)]
struct Lock {
    writer: Option<TxnId>,
    readers: BTreeSet<TxnId>,
}

/// A participant's state; balances, prepared transactions and decisions are also on disk.
#[derive(Debug)]
pub struct Participant {
    config: Arc<Config>,
    balances: BTreeMap<Account, i64>,
    prepared: BTreeMap<TxnId, PreparedRecord>,
    /// When each prepared transaction was prepared (or recovered), by the local clock.
    prepared_at: BTreeMap<TxnId, SimTime>,
    waiting: BTreeMap<TxnId, Waiting>,
    decided: Decisions,
    locks: BTreeMap<Account, Lock>,
}

impl Participant {
    pub fn new(config: Arc<Config>) -> Self {
        Participant {
            config,
            balances: BTreeMap::new(),
            prepared: BTreeMap::new(),
            prepared_at: BTreeMap::new(),
            waiting: BTreeMap::new(),
            decided: Decisions::new(),
            locks: BTreeMap::new(),
        }
    }

    /// The balance of `account` in this participant's committed state.
    pub fn balance(&self, account: Account) -> Option<i64> {
        self.balances.get(&account).copied()
    }

    pub fn balances(&self) -> &BTreeMap<Account, i64> {
        &self.balances
    }

    /// The transactions prepared and undecided here.
    pub fn in_doubt(&self) -> impl Iterator<Item = (&TxnId, &PreparedRecord)> {
        self.prepared.iter()
    }

    /// The accounts a prepared, undecided transaction writes.
    pub fn in_doubt_accounts(&self) -> BTreeSet<Account> {
        self.prepared
            .values()
            .flat_map(|p| p.writes.keys().copied())
            .collect()
    }

    /// The decision this participant knows for `txn`, if any.
    pub fn decided(&self, txn: TxnId) -> Option<Outcome> {
        self.decided.get(txn)
    }

    /// Every decision this participant knows (for the retained-state tests and figures).
    pub fn decisions(&self) -> &Decisions {
        &self.decided
    }

    /// Whether `txn` is prepared and undecided here (in doubt).
    pub fn is_prepared(&self, txn: TxnId) -> bool {
        self.prepared.contains_key(&txn)
    }

    /// Whether a prepare of `txn` waits here for locks.
    pub fn is_waiting(&self, txn: TxnId) -> bool {
        self.waiting.contains_key(&txn)
    }

    /// Entries kept about transactions in flight (prepared, waiting, locks), for the
    /// retained-state tests.
    pub fn in_flight(&self) -> usize {
        self.prepared.len() + self.prepared_at.len() + self.waiting.len() + self.locks.len()
    }

    /// Every transaction with state here: prepared, waiting for locks, or holding a lock.
    pub fn active_txns(&self) -> BTreeSet<TxnId> {
        let mut txns: BTreeSet<TxnId> = self.prepared.keys().copied().collect();
        txns.extend(self.waiting.keys().copied());
        for lock in self.locks.values() {
            txns.extend(lock.writer);
            txns.extend(lock.readers.iter().copied());
        }
        txns
    }

    /// Whether this participant holds the commit of `txn` durably: its disk synced, the
    /// decision on it, PREPARED gone, and the decision known in memory. Such a participant
    /// never prepares nor learns `txn` again (a prepare is answered from the decision), so
    /// nothing it does later is about `txn`.
    pub fn holds_commit_durably(&self, storage: &sim_core::Storage<Durable>, txn: TxnId) -> bool {
        !storage.is_dirty()
            && self.decided(txn) == Some(Outcome::Commit)
            && !self.is_prepared(txn)
            && decisions::logged(storage, txn) == Some(Outcome::Commit)
            && storage.get(&Durable::key("p", txn)).is_none()
    }

    /// The accounts on which `txn` holds a lock here (as writer or reader).
    pub fn locked_by(&self, txn: TxnId) -> Vec<Account> {
        let holds = |l: &Lock| l.writer == Some(txn) || l.readers.contains(&txn);
        self.locks
            .iter()
            .filter(|(_, l)| holds(l))
            .map(|(&a, _)| a)
            .collect()
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, TxnNode>) {
        let me = ctx.id();
        for account in self.config.accounts_of(me).collect::<Vec<_>>() {
            let balance = match ctx.storage().get(&format!("b/{account}")) {
                Some(Durable::Balance(b)) => *b,
                _ => self.config.initial_balance,
            };
            self.balances.insert(account, balance);
        }
        self.decided = Decisions::load(ctx.storage());
        let now = ctx.local_time();
        for (_, record) in ctx.storage().range_prefix("p/") {
            if let Durable::Prepared(record) = record {
                self.lock(&record);
                self.prepared_at.insert(record.txn, now);
                self.prepared.insert(record.txn, record);
            }
        }
        let in_doubt = self.prepared.len() as u32;
        ctx.report(TxnEvent::Restarted { in_doubt });
        if in_doubt > 0 {
            self.inquire(ctx, true);
        }
        ctx.set_timer(self.config.inquire_every, Timer::Inquire);
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, TxnNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Prepare {
                txn,
                priority,
                steps,
                participants,
            } => {
                let waiting = Waiting {
                    coordinator: from,
                    priority,
                    steps,
                    participants,
                };
                self.on_prepare(ctx, txn, waiting);
            }
            Msg::Decision { txn, outcome } => self.on_decision(ctx, from, txn, outcome),
            Msg::Inquire { txn } => self.on_peer_inquiry(ctx, from, txn),
            Msg::Local { saga, index, step } => self.on_local(ctx, from, saga, index, step),
            Msg::Vote { .. } | Msg::Ack { .. } | Msg::LocalDone { .. } => {}
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, TxnNode>, timer: Timer) {
        match timer {
            Timer::LockTimeout(txn) => {
                if let Some(w) = self.waiting.remove(&txn) {
                    self.vote_no(ctx, txn, w.coordinator, "timeout");
                }
            }
            Timer::Inquire => {
                // A write acknowledged early (the `ack_before_sync` bug) reaches the disk here.
                if ctx.storage().is_dirty() {
                    ctx.storage().sync();
                }
                self.inquire(ctx, false);
                ctx.set_timer(self.config.inquire_every, Timer::Inquire);
            }
            Timer::VoteTimeout(_) | Timer::SendDecision(_) | Timer::Resend => {}
        }
    }

    fn on_prepare(&mut self, ctx: &mut Ctx<'_, TxnNode>, txn: TxnId, w: Waiting) {
        if let Some(outcome) = self.decided.get(txn) {
            // A duplicate, or a prepare after this node already gave up on the transaction.
            let reads = Vec::new();
            let yes = outcome == Outcome::Commit;
            let reason = if yes { "" } else { "decided" };
            let vote = Msg::Vote {
                txn,
                yes,
                reads,
                reason,
            };
            return ctx.send(w.coordinator, vote);
        }
        if let Some(record) = self.prepared.get(&txn) {
            let vote = Msg::Vote {
                txn,
                yes: true,
                reads: record.reads.clone(),
                reason: "",
            };
            return ctx.send(w.coordinator, vote);
        }
        if self.waiting.contains_key(&txn) {
            return;
        }
        self.try_prepare(ctx, txn, w);
    }

    /// The prepared transactions holding a lock `steps` conflict with.
    fn conflicts(&self, txn: TxnId, steps: &[Step]) -> BTreeSet<TxnId> {
        let mut holders = BTreeSet::new();
        for step in steps {
            let Some(lock) = self.locks.get(&step.account()) else {
                continue;
            };
            holders.extend(lock.writer.filter(|&w| w != txn));
            if step.writes() {
                holders.extend(lock.readers.iter().copied().filter(|&r| r != txn));
            }
        }
        holders
    }

    /// Prepares now, waits (wait-die: only for younger holders), or dies (votes no).
    fn try_prepare(&mut self, ctx: &mut Ctx<'_, TxnNode>, txn: TxnId, w: Waiting) {
        let holders = self.conflicts(txn, &w.steps);
        if holders.is_empty() {
            return self.prepare(ctx, txn, w);
        }
        let older_than_all = !holders.iter().any(|h| {
            self.prepared
                .get(h)
                .is_some_and(|p| w.priority >= p.priority)
        });
        if !older_than_all {
            return self.vote_no(ctx, txn, w.coordinator, "conflict");
        }
        if let Some(&holder) = holders.first() {
            ctx.report(TxnEvent::LockWait { txn, holder });
        }
        ctx.set_timer(self.config.lock_timeout, Timer::LockTimeout(txn));
        self.waiting.insert(txn, w);
    }

    fn prepare(&mut self, ctx: &mut Ctx<'_, TxnNode>, txn: TxnId, w: Waiting) {
        let mut writes = BTreeMap::new();
        let mut reads = Vec::new();
        for step in &w.steps {
            let account = step.account();
            let balance = self.balances.get(&account).copied().unwrap_or(0);
            match *step {
                Step::Debit { amount, .. } if balance < amount => {
                    return self.vote_no(ctx, txn, w.coordinator, "funds");
                }
                Step::Credit { amount, .. }
                    if self
                        .config
                        .max_balance
                        .is_some_and(|cap| balance + amount > cap) =>
                {
                    return self.vote_no(ctx, txn, w.coordinator, "cap");
                }
                Step::Debit { amount, .. } => {
                    writes.insert(account, balance - amount);
                }
                Step::Credit { amount, .. } => {
                    writes.insert(account, balance + amount);
                }
                Step::Read { .. } => reads.push((account, balance)),
            }
        }
        let record = PreparedRecord {
            txn,
            coordinator: w.coordinator,
            participants: w.participants,
            priority: w.priority,
            steps: w.steps,
            writes,
            reads: reads.clone(),
        };
        ctx.storage()
            .put(Durable::key("p", txn), Durable::Prepared(record.clone()));
        if !self.config.has(Bug::PrepareNotForced) {
            ctx.storage().sync();
        }
        if !self.config.has(Bug::EarlyLockRelease) {
            self.lock(&record);
        }
        let writes: Vec<(Account, i64)> = record.writes.iter().map(|(&a, &v)| (a, v)).collect();
        self.prepared_at.insert(txn, ctx.local_time());
        self.prepared.insert(txn, record);
        ctx.report(TxnEvent::Prepared { txn, writes });
        let vote = Msg::Vote {
            txn,
            yes: true,
            reads,
            reason: "",
        };
        ctx.send(w.coordinator, vote);
    }

    fn lock(&mut self, record: &PreparedRecord) {
        for step in &record.steps {
            let lock = self.locks.entry(step.account()).or_default();
            if step.writes() {
                lock.writer = Some(record.txn);
            } else {
                lock.readers.insert(record.txn);
            }
        }
    }

    fn unlock(&mut self, txn: TxnId) {
        for lock in self.locks.values_mut() {
            if lock.writer == Some(txn) {
                lock.writer = None;
            }
            lock.readers.remove(&txn);
        }
        self.locks
            .retain(|_, l| l.writer.is_some() || !l.readers.is_empty());
    }

    fn vote_no(
        &mut self,
        ctx: &mut Ctx<'_, TxnNode>,
        txn: TxnId,
        coordinator: NodeId,
        reason: &'static str,
    ) {
        ctx.cancel_timer(Timer::LockTimeout(txn));
        self.decided.insert(txn, Outcome::Abort);
        // Presumed abort: the record need not be forced.
        decisions::log(ctx.storage(), txn, Outcome::Abort);
        ctx.report(TxnEvent::VotedNo { txn, reason });
        let vote = Msg::Vote {
            txn,
            yes: false,
            reads: Vec::new(),
            reason,
        };
        ctx.send(coordinator, vote);
    }

    fn on_decision(&mut self, ctx: &mut Ctx<'_, TxnNode>, from: NodeId, txn: TxnId, o: Outcome) {
        if let Some(record) = self.prepared.remove(&txn) {
            let from_peer = from != record.coordinator;
            self.apply(ctx, record, o, from_peer);
            self.retry_waiting(ctx);
            return;
        }
        if let Some(w) = self.waiting.remove(&txn) {
            ctx.cancel_timer(Timer::LockTimeout(txn));
            self.decided.insert(txn, Outcome::Abort);
            if o == Outcome::Commit {
                // Cannot happen without a yes vote; answer as the no vote it is.
                self.vote_no(ctx, txn, w.coordinator, "not prepared");
            }
            return;
        }
        let known = self.decided.get(txn);
        if o == Outcome::Commit && self.config.is_coordinator(from) {
            // A resent commit already applied, or (with a bug) one this node forgot it
            // prepared: either way there is nothing left to apply.
            ctx.send(from, Msg::Ack { txn });
        }
        if known.is_none() {
            self.decided.insert(txn, o);
        }
    }

    /// Applies the decision on a prepared transaction, releases its locks and, for a commit,
    /// acknowledges once the writes are on disk.
    fn apply(
        &mut self,
        ctx: &mut Ctx<'_, TxnNode>,
        record: PreparedRecord,
        outcome: Outcome,
        from_peer: bool,
    ) {
        let txn = record.txn;
        self.prepared_at.remove(&txn);
        self.decided.insert(txn, outcome);
        if outcome == Outcome::Commit {
            for (&account, &balance) in &record.writes {
                self.balances.insert(account, balance);
                ctx.storage()
                    .put(format!("b/{account}"), Durable::Balance(balance));
            }
        }
        decisions::log(ctx.storage(), txn, outcome);
        ctx.storage().remove(&Durable::key("p", txn));
        if outcome == Outcome::Commit && !self.config.has(Bug::AckBeforeSync) {
            ctx.storage().sync();
        }
        if outcome == Outcome::Commit || !self.config.has(Bug::AbortKeepsLocks) {
            self.unlock(txn);
        }
        ctx.report(TxnEvent::Learned {
            txn,
            outcome,
            from_peer,
        });
        if outcome == Outcome::Commit {
            ctx.send(record.coordinator, Msg::Ack { txn });
        }
    }

    /// Locks freed: the waiting prepares try again, oldest first.
    fn retry_waiting(&mut self, ctx: &mut Ctx<'_, TxnNode>) {
        let mut order: Vec<(Priority, TxnId)> =
            self.waiting.iter().map(|(&t, w)| (w.priority, t)).collect();
        order.sort();
        for (_, txn) in order {
            let Some(w) = self.waiting.get(&txn) else {
                continue;
            };
            if self.conflicts(txn, &w.steps).is_empty() {
                let w = self.waiting.remove(&txn).expect("just seen");
                ctx.cancel_timer(Timer::LockTimeout(txn));
                self.prepare(ctx, txn, w);
            }
        }
    }

    /// Asks about every prepared transaction undecided for `inquire_every` (all of them when
    /// `now` is set): the coordinator, and the peers too with cooperative termination.
    fn inquire(&mut self, ctx: &mut Ctx<'_, TxnNode>, all: bool) {
        let now = ctx.local_time();
        let every = self.config.inquire_every;
        let due: Vec<TxnId> = self
            .prepared_at
            .iter()
            .filter(|(_, &at)| all || now.saturating_since(at) >= every)
            .map(|(&t, _)| t)
            .collect();
        let me = ctx.id();
        for txn in due {
            let Some(record) = self.prepared.get(&txn) else {
                continue;
            };
            if self.config.has(Bug::AbortAfterYes)
                && now.saturating_since(self.prepared_at[&txn])
                    >= self.config.vote_timeout.saturating_mul(2)
            {
                let record = self.prepared.remove(&txn).expect("just seen");
                self.apply(ctx, record, Outcome::Abort, false);
                continue;
            }
            ctx.send(record.coordinator, Msg::Inquire { txn });
            if self.config.cooperative {
                for &peer in record.participants.iter().filter(|&&p| p != me) {
                    ctx.send(peer, Msg::Inquire { txn });
                }
            }
        }
        self.retry_waiting(ctx);
    }

    /// A peer in doubt asks (cooperative termination): tell it the decision if known; if this
    /// node has not voted, it aborts (it still may) and says so; if it too is in doubt, it
    /// cannot help.
    fn on_peer_inquiry(&mut self, ctx: &mut Ctx<'_, TxnNode>, from: NodeId, txn: TxnId) {
        if self.prepared.contains_key(&txn) {
            return;
        }
        if let Some(outcome) = self.decided.get(txn) {
            return ctx.send(from, Msg::Decision { txn, outcome });
        }
        if let Some(w) = self.waiting.remove(&txn) {
            self.vote_no(ctx, txn, w.coordinator, "peer in doubt");
        } else {
            self.decided.insert(txn, Outcome::Abort);
            decisions::log(ctx.storage(), txn, Outcome::Abort);
        }
        // Forced: having told a peer abort, this node must never vote yes later.
        ctx.storage().sync();
        let outcome = Outcome::Abort;
        ctx.send(from, Msg::Decision { txn, outcome });
    }

    /// Saga: one local step, run once; a repeat is answered from the record.
    fn on_local(
        &mut self,
        ctx: &mut Ctx<'_, TxnNode>,
        from: NodeId,
        saga: TxnId,
        index: u32,
        step: Step,
    ) {
        let key = format!("l/{saga}/{index}");
        if let Some(Durable::LocalDone { ok, read }) = ctx.storage().get(&key).cloned() {
            return ctx.send(
                from,
                Msg::LocalDone {
                    saga,
                    index,
                    ok,
                    read,
                },
            );
        }
        let account = step.account();
        let balance = self.balances.get(&account).copied().unwrap_or(0);
        let rules = index < COMPENSATION;
        let (ok, new, read) = match step {
            Step::Read { .. } => (true, None, Some(balance)),
            Step::Debit { amount, .. } if rules && balance < amount => (false, None, None),
            Step::Credit { amount, .. }
                if rules
                    && self
                        .config
                        .max_balance
                        .is_some_and(|c| balance + amount > c) =>
            {
                (false, None, None)
            }
            Step::Debit { amount, .. } => (true, Some(balance - amount), None),
            Step::Credit { amount, .. } => (true, Some(balance + amount), None),
        };
        if let Some(balance) = new {
            self.balances.insert(account, balance);
            ctx.storage()
                .put(format!("b/{account}"), Durable::Balance(balance));
            ctx.report(TxnEvent::LocalApplied {
                saga,
                index,
                account,
                balance,
            });
        }
        if !matches!(step, Step::Read { .. }) {
            ctx.storage().put(key, Durable::LocalDone { ok, read });
            ctx.storage().sync();
        }
        ctx.send(
            from,
            Msg::LocalDone {
                saga,
                index,
                ok,
                read,
            },
        );
    }

    /// How long `txn` has been prepared here, if it is.
    pub fn prepared_for(&self, txn: TxnId, now: SimTime) -> Option<SimDuration> {
        self.prepared_at
            .get(&txn)
            .map(|&at| now.saturating_since(at))
    }
}

impl Participant {
    /// The coordinator a client session belongs to, for redirects.
    pub fn home(&self, session: u64) -> NodeId {
        self.config.home(session)
    }
}
