//! Saga mode of the coordinator: a transfer is two local transactions (debit, then credit),
//! each compensated (a credit back, a debit back) and run backwards when a later step is
//! refused. The coordinator forces its saga record before each step, so a restarted one resumes
//! forward or backward; participants run each step once (by saga and step index). An audit
//! reads every account without locks, so it can see money in flight.

use std::collections::BTreeMap;

use sim_core::{Ctx, NodeId, RequestId};

use crate::coordinator::Coordinator;
use crate::node::TxnNode;
use crate::participant::COMPENSATION;
use crate::types::{Durable, Msg, SagaRecord, Step, TxnEvent, TxnId, TxnOp, TxnReply};

/// A saga in flight.
#[derive(Debug, Clone)]
pub struct Saga {
    pub request: Option<RequestId>,
    pub record: SagaRecord,
    pub steps: Vec<(NodeId, Step)>,
    /// An audit's reads so far, by step index.
    pub reads: BTreeMap<u32, i64>,
}

impl Saga {
    fn audit(&self) -> bool {
        matches!(self.record.op, TxnOp::Audit)
    }

    /// The messages the saga waits on an answer to: every unanswered read of an audit, or the
    /// one step (or compensation) of a transfer.
    fn outstanding(&self) -> Vec<(NodeId, Msg)> {
        let saga = self.record.saga;
        let msg = |index: u32, step: Step| Msg::Local { saga, index, step };
        if self.audit() {
            let unanswered = self.steps.iter().enumerate();
            return unanswered
                .filter(|(i, _)| !self.reads.contains_key(&(*i as u32)))
                .map(|(i, (node, step))| (*node, msg(i as u32, step.clone())))
                .collect();
        }
        let r = &self.record;
        if !r.compensating {
            let (node, step) = self.steps[r.done as usize].clone();
            return vec![(node, msg(r.done, step))];
        }
        let j = r.done - 1 - r.undone;
        let (node, step) = self.steps[j as usize].clone();
        vec![(node, msg(COMPENSATION + j, inverse(step)))]
    }
}

/// The compensation of a step.
fn inverse(step: Step) -> Step {
    match step {
        Step::Debit { account, amount } => Step::Credit { account, amount },
        Step::Credit { account, amount } => Step::Debit { account, amount },
        Step::Read { account } => Step::Read { account },
    }
}

impl Coordinator {
    fn saga_steps(&self, op: &TxnOp) -> Vec<(NodeId, Step)> {
        let mut steps: Vec<(NodeId, Step)> = Vec::new();
        for (node, node_steps) in self.steps(op) {
            steps.extend(node_steps.into_iter().map(|s| (node, s)));
        }
        // Debit first: a refused debit needs no compensation.
        steps.sort_by_key(|(_, s)| !matches!(s, Step::Debit { .. }));
        steps
    }

    pub(crate) fn saga_begin(
        &mut self,
        ctx: &mut Ctx<'_, TxnNode>,
        saga: TxnId,
        id: RequestId,
        key: (u64, u64),
        op: TxnOp,
    ) {
        let record = SagaRecord {
            saga,
            session: key.0,
            seq: key.1,
            op,
            done: 0,
            compensating: false,
            undone: 0,
            finished: None,
            total: None,
        };
        let s = Saga {
            request: Some(id),
            steps: self.saga_steps(&record.op),
            record,
            reads: BTreeMap::new(),
        };
        if !s.audit() {
            // An audit only reads: it is not logged, and one lost in a crash is simply retried
            // by its client.
            persist(ctx, &s.record);
            ctx.report(TxnEvent::Began { txn: saga });
        }
        for (node, msg) in s.outstanding() {
            ctx.send(node, msg);
        }
        self.sagas.insert(saga, s);
    }

    pub(crate) fn saga_step_done(
        &mut self,
        ctx: &mut Ctx<'_, TxnNode>,
        saga: TxnId,
        index: u32,
        ok: bool,
        read: Option<i64>,
    ) {
        let Some(s) = self.sagas.get_mut(&saga) else {
            return;
        };
        if s.audit() {
            if let Some(value) = read {
                s.reads.insert(index, value);
            }
            if s.reads.len() == s.steps.len() {
                let total = s.reads.values().sum();
                ctx.report(TxnEvent::Audited { txn: saga, total });
                return self.saga_finish(ctx, saga, true, Some(total));
            }
            return;
        }
        let r = &mut s.record;
        let expected = if r.compensating {
            COMPENSATION + r.done - 1 - r.undone
        } else {
            r.done
        };
        if index != expected {
            return; // a duplicate answer
        }
        match (r.compensating, ok) {
            (false, true) => r.done += 1,
            (false, false) => r.compensating = true,
            (true, _) => r.undone += 1,
        }
        let over = if r.compensating {
            r.undone == r.done
        } else {
            r.done as usize == s.steps.len()
        };
        if over {
            let completed = !r.compensating;
            return self.saga_finish(ctx, saga, completed, None);
        }
        persist(ctx, &s.record);
        for (node, msg) in s.outstanding() {
            ctx.send(node, msg);
        }
    }

    fn saga_finish(
        &mut self,
        ctx: &mut Ctx<'_, TxnNode>,
        saga: TxnId,
        completed: bool,
        total: Option<i64>,
    ) {
        let Some(mut s) = self.sagas.remove(&saga) else {
            return;
        };
        s.record.finished = Some(completed);
        s.record.total = total;
        if !s.audit() {
            persist(ctx, &s.record);
        }
        let answer = if completed {
            TxnReply::Committed { total }
        } else {
            TxnReply::Aborted { reason: "refused" }
        };
        if let Some(id) = s.request {
            ctx.reply(id, answer.clone());
        }
        self.answered((s.record.session, s.record.seq), answer);
        ctx.report(TxnEvent::SagaFinished { saga, completed });
    }

    pub(crate) fn saga_recover(&mut self, ctx: &mut Ctx<'_, TxnNode>) {
        let mut resumed = 0;
        for (_, record) in ctx.storage().range_prefix("s/") {
            let Durable::Saga(record) = record else {
                continue;
            };
            let key = (record.session, record.seq);
            if let Some(completed) = record.finished {
                let answer = if completed {
                    TxnReply::Committed { total: None }
                } else {
                    TxnReply::Aborted { reason: "refused" }
                };
                self.answered(key, answer);
                continue;
            }
            self.by_key.insert(key, record.saga);
            resumed += 1;
            let s = Saga {
                request: None,
                steps: self.saga_steps(&record.op),
                record,
                reads: BTreeMap::new(),
            };
            for (node, msg) in s.outstanding() {
                ctx.send(node, msg);
            }
            self.sagas.insert(s.record.saga, s);
        }
        ctx.report(TxnEvent::Recovered { commits: resumed });
    }

    pub(crate) fn saga_resend(&mut self, ctx: &mut Ctx<'_, TxnNode>) {
        for s in self.sagas.values() {
            for (node, msg) in s.outstanding() {
                ctx.send(node, msg);
            }
        }
    }
}

fn persist(ctx: &mut Ctx<'_, TxnNode>, record: &SagaRecord) {
    let key = Durable::key("s", record.saga);
    ctx.storage().put(key, Durable::Saga(record.clone()));
    ctx.storage().sync();
}
