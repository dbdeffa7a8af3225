//! A coordinator (transaction manager). In 2PC mode: prepare, votes, decision, acks, with
//! presumed abort: COMMIT is forced before it is sent, an abort is never logged, and END (the
//! removal of the COMMIT record once every participant acknowledged) need not be forced. A
//! restarted coordinator bumps its incarnation, resends every COMMIT in its log, and answers
//! abort about any transaction it has no record of. Saga mode lives in [`crate::saga`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sim_core::{Ctx, NodeId, RequestId, SimDuration};

use crate::answers::Answers;
use crate::bugs::Bug;
use crate::config::{Config, Mode};
use crate::node::TxnNode;
use crate::saga::Saga;
use crate::types::{
    Account, CommitRecord, Durable, Msg, Outcome, Priority, Step, Timer, TxnEvent, TxnId, TxnOp,
    TxnReply, TxnRequest,
};

/// A transaction the coordinator runs.
#[derive(Debug, Clone)]
pub struct Txn {
    pub request: Option<RequestId>,
    pub key: (u64, u64),
    pub participants: Vec<NodeId>,
    pub audit: bool,
    pub reads: BTreeMap<Account, i64>,
    pub votes: BTreeSet<NodeId>,
    /// Set once COMMIT is on disk.
    pub committed: bool,
    pub acks: BTreeSet<NodeId>,
    /// The prepare each participant was sent, resent until it votes.
    pub prepares: BTreeMap<NodeId, Msg>,
}

/// The coordinator's state.
#[derive(Debug)]
pub struct Coordinator {
    pub(crate) config: Arc<Config>,
    pub(crate) epoch: u64,
    pub(crate) next_seq: u64,
    pub(crate) txns: BTreeMap<TxnId, Txn>,
    /// Client key (session, seq) to the transaction running it, until it is answered.
    pub(crate) by_key: BTreeMap<(u64, u64), TxnId>,
    /// Answers already given, for retries (a byte per operation, see [`Answers`]).
    pub(crate) answers: Answers,
    pub(crate) sagas: BTreeMap<TxnId, Saga>,
}

impl Coordinator {
    pub fn new(config: Arc<Config>) -> Self {
        Coordinator {
            config,
            epoch: 0,
            next_seq: 0,
            txns: BTreeMap::new(),
            by_key: BTreeMap::new(),
            answers: Answers::new(),
            sagas: BTreeMap::new(),
        }
    }

    /// Entries kept about transactions in flight (running, keyed, sagas), for the
    /// retained-state tests; the answers are counted in bytes by [`Answers::bytes`].
    pub fn in_flight(&self) -> usize {
        self.txns.len() + self.by_key.len() + self.sagas.len()
    }

    /// Transactions decided commit and not yet acknowledged by every participant.
    pub fn unacknowledged(&self) -> usize {
        self.txns.values().filter(|t| t.committed).count()
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, TxnNode>) {
        let epoch = match ctx.storage().get("epoch") {
            Some(Durable::Epoch(e)) => *e + 1,
            _ => 1,
        };
        self.epoch = epoch;
        ctx.storage().put("epoch", Durable::Epoch(epoch));
        ctx.storage().sync();
        ctx.set_timer(self.config.resend_every, Timer::Resend);
        if self.config.mode == Mode::Saga {
            return self.saga_recover(ctx);
        }
        let mut commits = 0;
        for (_, record) in ctx.storage().range_prefix("c/") {
            let Durable::Commit(record) = record else {
                continue;
            };
            commits += 1;
            let key = (record.session, record.seq);
            let txn = Txn {
                request: None,
                key,
                participants: record.participants.clone(),
                audit: record.total.is_some(),
                reads: BTreeMap::new(),
                votes: record.participants.iter().copied().collect(),
                committed: true,
                acks: BTreeSet::new(),
                prepares: BTreeMap::new(),
            };
            let total = record.total;
            self.answered(key, TxnReply::Committed { total });
            self.txns.insert(record.txn, txn);
            ctx.set_timer(SimDuration::ZERO, Timer::SendDecision(record.txn));
        }
        ctx.report(TxnEvent::Recovered { commits });
    }

    pub fn on_request(&mut self, ctx: &mut Ctx<'_, TxnNode>, id: RequestId, req: TxnRequest) {
        let home = self.config.home(req.session);
        if home != ctx.id() {
            return ctx.reply(id, TxnReply::Redirect { to: home });
        }
        let key = (req.session, req.seq);
        if let Some(answer) = self.answers.get(&key) {
            return ctx.reply(id, answer);
        }
        if let Some(txn) = self.by_key.get(&key) {
            // A retry of a transaction in flight: answer this attempt when it ends.
            if let Some(t) = self.txns.get_mut(txn) {
                t.request = Some(id);
            }
            if let Some(s) = self.sagas.get_mut(txn) {
                s.request = Some(id);
            }
            return;
        }
        self.next_seq += 1;
        let txn = TxnId {
            coordinator: ctx.id(),
            epoch: self.epoch,
            seq: self.next_seq,
        };
        self.by_key.insert(key, txn);
        match self.config.mode {
            Mode::TwoPc => self.begin(ctx, txn, id, key, &req.op),
            Mode::Saga => self.saga_begin(ctx, txn, id, key, req.op),
        }
    }

    /// The steps of `op` at each participant it touches.
    pub fn steps(&self, op: &TxnOp) -> BTreeMap<NodeId, Vec<Step>> {
        let mut steps: BTreeMap<NodeId, Vec<Step>> = BTreeMap::new();
        match *op {
            TxnOp::Transfer { from, to, amount } => {
                let debit = Step::Debit {
                    account: from,
                    amount,
                };
                steps
                    .entry(self.config.owner(from))
                    .or_default()
                    .push(debit);
                let credit = Step::Credit {
                    account: to,
                    amount,
                };
                steps.entry(self.config.owner(to)).or_default().push(credit);
            }
            TxnOp::Audit => {
                for account in 0..self.config.accounts {
                    let read = Step::Read { account };
                    steps
                        .entry(self.config.owner(account))
                        .or_default()
                        .push(read);
                }
            }
        }
        steps
    }

    fn begin(
        &mut self,
        ctx: &mut Ctx<'_, TxnNode>,
        txn: TxnId,
        id: RequestId,
        key: (u64, u64),
        op: &TxnOp,
    ) {
        let steps = self.steps(op);
        let participants: Vec<NodeId> = steps.keys().copied().collect();
        let priority = Priority {
            started: ctx.local_time(),
            txn,
        };
        let mut prepares = BTreeMap::new();
        for (&participant, steps) in &steps {
            let prepare = Msg::Prepare {
                txn,
                priority,
                steps: steps.clone(),
                participants: participants.clone(),
            };
            ctx.send(participant, prepare.clone());
            prepares.insert(participant, prepare);
        }
        let t = Txn {
            request: Some(id),
            key,
            participants,
            audit: matches!(op, TxnOp::Audit),
            reads: BTreeMap::new(),
            votes: BTreeSet::new(),
            committed: false,
            acks: BTreeSet::new(),
            prepares,
        };
        self.txns.insert(txn, t);
        ctx.set_timer(self.config.vote_timeout, Timer::VoteTimeout(txn));
        ctx.report(TxnEvent::Began { txn });
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, TxnNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Vote {
                txn,
                yes,
                reads,
                reason,
            } => self.on_vote(ctx, from, txn, yes, reads, reason),
            Msg::Ack { txn } => self.on_ack(ctx, from, txn),
            Msg::Inquire { txn } => self.on_inquiry(ctx, from, txn),
            Msg::LocalDone {
                saga,
                index,
                ok,
                read,
            } => self.saga_step_done(ctx, saga, index, ok, read),
            Msg::Prepare { .. } | Msg::Decision { .. } | Msg::Local { .. } => {}
        }
    }

    fn on_vote(
        &mut self,
        ctx: &mut Ctx<'_, TxnNode>,
        from: NodeId,
        txn: TxnId,
        yes: bool,
        reads: Vec<(Account, i64)>,
        reason: &'static str,
    ) {
        let Some(t) = self.txns.get_mut(&txn) else {
            return; // decided and forgotten (an abort), or ended
        };
        if t.committed || !t.participants.contains(&from) {
            return;
        }
        if !yes {
            return self.abort(ctx, txn, reason);
        }
        t.votes.insert(from);
        t.reads.extend(reads);
        if t.votes.len() == t.participants.len() {
            ctx.report(TxnEvent::VotesIn { txn });
            self.commit(ctx, txn);
        }
    }

    /// Every vote is yes: force COMMIT, then send it (in the next step of the coordinator's
    /// loop, after the log write returns).
    fn commit(&mut self, ctx: &mut Ctx<'_, TxnNode>, txn: TxnId) {
        let Some(t) = self.txns.get_mut(&txn) else {
            return;
        };
        t.committed = true;
        let total = t.audit.then(|| t.reads.values().sum());
        let record = CommitRecord {
            txn,
            participants: t.participants.clone(),
            session: t.key.0,
            seq: t.key.1,
            total,
        };
        let participants = t.participants.clone();
        ctx.cancel_timer(Timer::VoteTimeout(txn));
        ctx.storage()
            .put(Durable::key("c", txn), Durable::Commit(record));
        if !self.config.has(Bug::CommitNotForced) {
            ctx.storage().sync();
        }
        ctx.report(TxnEvent::CommitLogged { txn, participants });
        ctx.set_timer(SimDuration::ZERO, Timer::SendDecision(txn));
    }

    fn abort(&mut self, ctx: &mut Ctx<'_, TxnNode>, txn: TxnId, reason: &'static str) {
        let Some(t) = self.txns.remove(&txn) else {
            return;
        };
        ctx.cancel_timer(Timer::VoteTimeout(txn));
        ctx.report(TxnEvent::Aborted {
            txn,
            presumed: false,
        });
        let outcome = Outcome::Abort;
        for &p in &t.participants {
            ctx.send(p, Msg::Decision { txn, outcome });
        }
        ctx.report(TxnEvent::DecisionSent { txn, outcome });
        let answer = TxnReply::Aborted { reason };
        if let Some(id) = t.request {
            ctx.reply(id, answer.clone());
        }
        self.answered(t.key, answer);
    }

    /// Keeps the answer for `key`; the key no longer needs its transaction (a request for it
    /// is answered from here).
    pub(crate) fn answered(&mut self, key: (u64, u64), answer: TxnReply) {
        self.by_key.remove(&key);
        self.answers.insert(key, answer);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, TxnNode>, timer: Timer) {
        match timer {
            Timer::VoteTimeout(txn) => {
                if self.txns.get(&txn).is_some_and(|t| !t.committed) {
                    self.abort(ctx, txn, "timeout");
                }
            }
            Timer::SendDecision(txn) => self.send_decision(ctx, txn),
            Timer::Resend => {
                self.resend(ctx);
                ctx.set_timer(self.config.resend_every, Timer::Resend);
            }
            Timer::LockTimeout(_) | Timer::Inquire => {}
        }
    }

    fn send_decision(&mut self, ctx: &mut Ctx<'_, TxnNode>, txn: TxnId) {
        let Some(t) = self.txns.get_mut(&txn) else {
            return;
        };
        let outcome = Outcome::Commit;
        for &p in &t.participants {
            ctx.send(p, Msg::Decision { txn, outcome });
        }
        ctx.report(TxnEvent::DecisionSent { txn, outcome });
        let total = t.audit.then(|| t.reads.values().sum::<i64>());
        if let (Some(total), Some(_)) = (total, t.request) {
            ctx.report(TxnEvent::Audited { txn, total });
        }
        let answer = match self.answers.get(&t.key) {
            // Recovered from the log: the total was read before the crash.
            Some(answer) => answer,
            None => TxnReply::Committed { total },
        };
        if let Some(id) = t.request.take() {
            ctx.reply(id, answer.clone());
        }
        let key = t.key;
        self.answered(key, answer);
    }

    /// Resends what is unanswered: prepares without a vote, commits without an ack.
    fn resend(&mut self, ctx: &mut Ctx<'_, TxnNode>) {
        let outcome = Outcome::Commit;
        for (&txn, t) in &self.txns {
            if !t.committed {
                for (&p, prepare) in t.prepares.iter().filter(|(p, _)| !t.votes.contains(p)) {
                    ctx.send(p, prepare.clone());
                }
                continue;
            }
            for &p in t.participants.iter().filter(|p| !t.acks.contains(p)) {
                ctx.send(p, Msg::Decision { txn, outcome });
            }
        }
        if self.config.mode == Mode::Saga {
            self.saga_resend(ctx);
        }
    }

    fn on_ack(&mut self, ctx: &mut Ctx<'_, TxnNode>, from: NodeId, txn: TxnId) {
        let Some(t) = self.txns.get_mut(&txn) else {
            return;
        };
        if !t.committed {
            return;
        }
        t.acks.insert(from);
        if t.participants.iter().all(|p| t.acks.contains(p)) {
            // END: the record goes; it need not be forced (a lost END only means the
            // decision is sent once more).
            ctx.storage().remove(&Durable::key("c", txn));
            self.txns.remove(&txn);
            ctx.report(TxnEvent::Ended { txn });
        }
    }

    /// A participant in doubt asks. Decided commit: say so. Undecided: it will hear. No
    /// record at all: presumed abort.
    fn on_inquiry(&mut self, ctx: &mut Ctx<'_, TxnNode>, from: NodeId, txn: TxnId) {
        match self.txns.get(&txn) {
            Some(t) if t.committed => {
                let outcome = Outcome::Commit;
                ctx.send(from, Msg::Decision { txn, outcome });
            }
            Some(_) => {}
            None => {
                ctx.report(TxnEvent::Aborted {
                    txn,
                    presumed: true,
                });
                let outcome = Outcome::Abort;
                ctx.send(from, Msg::Decision { txn, outcome });
            }
        }
    }
}
