//! `lock.linearizable`: the clients' operations on the service (acquire, release, counter get
//! and compare-and-set), with the service's expiries, checked against `sim-check`'s lock model
//! ([`sim_check::LockTable`]: owners, read-write locks, queues, expiry, and the counter) as the
//! run goes: each lock's and the counter's stretch of history is searched at the quiescent
//! moments when none of its operations is in flight, and forgotten ([`super::recorder`]), so
//! that memory does not grow with simulated time. The verdict is the whole history's.
//!
//! Each client session is one process of the history; invocations and completions carry the
//! simulated time at which the client sent and heard (the client reports them, the check reads
//! the time). An expiry is the service's own step: it enters the history as an instantaneous
//! operation at the moment the first replica applied it (when it reported the session's holding
//! `freed`, or its place in a queue `left`); every replica applies in log order, so these moments
//! keep the order of the log. A release the client made itself is reported `freed` too, and the
//! model then finds the session already gone, which changes nothing.
//!
//! A client that gives up on an operation (its session was lost) records it as info: it may or
//! may not have taken effect; so is an operation in flight when its client crashed. Either is the
//! last request of its session (the client opens a new session after it), and the machine applies
//! a request once. So when a replica shows the session ended, its latest answer to the session
//! settles the operation: if it is the operation's own, the operation completes with it at that
//! moment. Otherwise the operation was not applied before the end, and after the end an acquire
//! finds no session and a release finds nothing held: a lock operation failed. A compare-and-set
//! may still be applied after the end (the counter knows no sessions), and so may a lock operation
//! under a planted bug that skips the session or owner check: those stay info. Until it is
//! settled the operation stays in flight, so its key has no quiescent moment. One still unsettled
//! when the run ends completes with its answer if some replica applied it; otherwise a lock
//! operation took effect only if the service reported a change of that lock for that session
//! (`granted`, `freed`, `left`) at or after its invocation (it stays info), and failed if not; a
//! compare-and-set stays info. A read given up on changes nothing: info at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use sim_check::{IncrementalResult, OpFn, Outcome, Verdict};
use sim_core::{
    Check, CheckKind, CheckReport, NodeChange, NodeId, Observation, Phases, SimTime, Simulation,
    Violation,
};

use super::recorder::{GivenUp, LockRecorder, Retained};
use super::replay::{self, FirstReports, Frontier, Novelty};
use super::{with_record, CheckParams, SharedRecord};
use crate::bugs::Bug;
use crate::config::{Config, ServiceMode};
use crate::history::{OpKind, OpRecord, Phase};
use crate::machine::{LockResponse, Mode};
use crate::node::{LockEvent, LockNode};

/// The history key of the counter.
const COUNTER: &str = "counter";
/// Process numbers of the service's own steps start here (sessions are random 63-bit ids).
const SERVICE_PROCESS: u64 = 1 << 63;

/// An operation invoked and not completed.
#[derive(Debug, Clone)]
struct OpenOp {
    invoked: SimTime,
    /// The lock of an acquire or release.
    lock: Option<String>,
    f: OpFn,
    client: NodeId,
    /// See [`GivenUp::acts_after_end`].
    acts_after_end: bool,
}

/// `lock.linearizable`.
pub struct Linearizable {
    config: Arc<Config>,
    enabled: bool,
    record: SharedRecord,
    /// The history, checked as it is recorded ([`LockRecorder`]).
    recorder: LockRecorder,
    /// Operations invoked and not completed, by `(session, seq)`: invocation time, lock, and
    /// the client node (whose crash ends them).
    open: BTreeMap<(u64, u64), OpenOp>,
    /// Service steps already entered, while a replica may still replay them: `(lock, session,
    /// token)` freed, `(lock, session)` left.
    freed: FirstReports<(String, u64, u64)>,
    /// A session can leave a lock's queue more than once, so a `left` report is a replay when
    /// its server applied only entries some server had applied ([`Frontier`]).
    left: FirstReports<(String, u64)>,
    frontier: Frontier,
    next_service: u64,
    /// An event the history cannot take: a bug in the recorder, reported rather than ignored.
    error: Option<(SimTime, String)>,
    /// The most entries the recorder retained at once, for tests that it stays bounded.
    peak: Retained,
    /// The most service steps remembered at once (`freed` and `left`).
    peak_steps: usize,
}

impl Linearizable {
    pub const NAME: &'static str = "lock.linearizable";

    pub fn new(config: Arc<Config>, params: &CheckParams, record: SharedRecord) -> Self {
        Linearizable {
            freed: FirstReports::new(&config.servers),
            left: FirstReports::new(&config.servers),
            frontier: Frontier::default(),
            config,
            enabled: params.linearizability,
            record,
            recorder: LockRecorder::new(params.state_budget),
            open: BTreeMap::new(),
            next_service: SERVICE_PROCESS,
            error: None,
            peak: Retained::default(),
            peak_steps: 0,
        }
    }

    /// Keep the whole history as it is checked ([`Linearizable::recorder`]), to compare the
    /// incremental verdict with a whole-history check.
    pub fn keep_history(&mut self) {
        self.recorder.keep();
    }

    /// The recorder: the kept history, and what it retains now.
    pub fn recorder(&self) -> &LockRecorder {
        &self.recorder
    }

    /// The most entries each of the recorder's structures held at once during the run.
    pub fn peak(&self) -> Retained {
        self.peak
    }

    /// The most service steps remembered at once so that a replica's replay of a change is
    /// entered once ([`FirstReports`]), and how many service steps were entered in all.
    pub fn service_steps(&self) -> (usize, u64) {
        (self.peak_steps, self.next_service - SERVICE_PROCESS)
    }

    fn note_peak(&mut self) {
        let now = self.recorder.retained();
        let p = &mut self.peak;
        p.in_flight = p.in_flight.max(now.in_flight);
        p.given_up = p.given_up.max(now.given_up);
        p.touched = p.touched.max(now.touched);
        self.peak_steps = self.peak_steps.max(self.freed.len() + self.left.len());
    }

    /// How a given-up operation of `session` ended, from a replica's latest answer to the
    /// session: the one the operation got when it was that request, otherwise none (failed).
    fn answered(
        id: (u64, u64),
        f: OpFn,
        last: Option<(u64, &LockResponse)>,
    ) -> Option<(Outcome, Value)> {
        let (_, response) = last.filter(|&(seq, _)| seq == id.1)?;
        let (outcome, value) = Self::outcome(response);
        Some(match (outcome, f) {
            (Outcome::Ok, OpFn::Cas) => (outcome, Value::Null),
            _ => (outcome, value),
        })
    }

    /// Resolves the given-up operations of sessions that the replica `node` shows ended: it
    /// applied their opening and no longer has them. A client's given-up operation is its
    /// session's last request (it opens a new session after it), and the machine applies a
    /// request once (it dedupes by sequence number), so if the replica's latest answer to the
    /// session is the operation's, the operation took effect with that answer. Otherwise it was
    /// not applied before the end; after the end an acquire finds no session and a release finds
    /// nothing held, so a lock operation failed; a compare-and-set may still be applied (the
    /// counter knows no sessions), and so may a lock operation with a planted bug that skips the
    /// session or owner check: those stay info.
    fn ended_sessions(&mut self, sim: &Simulation<LockNode>, node: NodeId, now: SimTime) {
        let Some(server) = sim.process(node).and_then(LockNode::raft_server) else {
            return;
        };
        let machine = server.raft().kv();
        for session in self.recorder.sessions() {
            if !machine.has_ended(session) {
                continue;
            }
            let ops: Vec<((u64, u64), OpFn, bool)> = self
                .recorder
                .given_up()
                .filter(|(_, g)| g.session == session)
                .map(|(&id, g)| (id, g.f, g.acts_after_end))
                .collect();
            for (id, f, acts_after_end) in ops {
                let (outcome, value) = match Self::answered(id, f, machine.last_reply(session)) {
                    Some(answer) => answer,
                    None if acts_after_end => (Outcome::Info, Value::Null),
                    None => (Outcome::Fail, Value::Null),
                };
                self.recorder.resolve(id, outcome, value, now);
            }
            self.recorder.forget_session(session);
        }
    }

    /// The run is over: a given-up operation some replica applied ends with its answer; one
    /// that none applied took effect if the service reported a change of its lock for its
    /// session at or after its invocation (info), and otherwise did nothing (failed).
    fn resolve_at_end(&mut self, sim: &Simulation<LockNode>, now: SimTime) {
        let ops: Vec<((u64, u64), GivenUp)> = self
            .recorder
            .given_up()
            .map(|(&id, g)| (id, g.clone()))
            .collect();
        for (id, op) in ops {
            let applied = self.config.servers.iter().find_map(|&n| {
                let server = sim.process(n).and_then(LockNode::raft_server)?;
                Self::answered(id, op.f, server.raft().kv().last_reply(op.session))
            });
            let (outcome, value) = match (applied, &op.lock) {
                (Some(answer), _) => answer,
                (None, Some(lock))
                    if !self.recorder.touched_since(lock, op.session, op.invoked) =>
                {
                    (Outcome::Fail, Value::Null)
                }
                (None, _) => (Outcome::Info, Value::Null),
            };
            self.recorder.resolve(id, outcome, value, now);
        }
    }

    /// The history's function, key and input for an operation.
    fn shape(kind: &OpKind) -> (OpFn, String, Value) {
        let mode = |m: &Mode| match m {
            Mode::Read => "read",
            Mode::Write => "write",
        };
        match kind {
            OpKind::Acquire { lock, mode: m } => (
                OpFn::Write,
                lock.clone(),
                json!({"op": "acquire", "mode": mode(m)}),
            ),
            OpKind::Release { lock } => (OpFn::Write, lock.clone(), json!({"op": "release"})),
            OpKind::CounterGet => (OpFn::Read, COUNTER.to_string(), Value::Null),
            OpKind::CounterCas { expected, new } => {
                (OpFn::Cas, COUNTER.to_string(), json!([expected, new]))
            }
        }
    }

    /// How an answer ends the operation: ok with a value, or fail (it took no effect).
    fn outcome(response: &LockResponse) -> (Outcome, Value) {
        match response {
            LockResponse::Granted { .. } => (Outcome::Ok, json!("granted")),
            LockResponse::Queued => (Outcome::Ok, json!("queued")),
            LockResponse::Busy => (Outcome::Ok, json!("busy")),
            LockResponse::Released => (Outcome::Ok, json!("released")),
            LockResponse::NotHeld => (Outcome::Ok, json!("not_held")),
            LockResponse::Counter { value } => (Outcome::Ok, json!(value)),
            // A failed compare-and-set changed nothing; an unknown session did nothing.
            LockResponse::CasFailed { .. } | LockResponse::NoSession => {
                (Outcome::Fail, Value::Null)
            }
            LockResponse::Alive { .. }
            | LockResponse::Expired { .. }
            | LockResponse::Redirect { .. }
            | LockResponse::Unavailable => (Outcome::Info, Value::Null),
        }
    }

    /// A client crashed: its operations in flight may take effect later or never; they are
    /// resolved like operations it gave up on.
    fn crashed(&mut self, now: SimTime, client: NodeId) {
        let ended: Vec<((u64, u64), OpenOp)> = self
            .open
            .iter()
            .filter(|(_, o)| o.client == client)
            .map(|(&id, o)| (id, o.clone()))
            .collect();
        for (id, op) in ended {
            self.open.remove(&id);
            self.give_up(now, id, op);
        }
    }

    /// The client gave up on `id` (or crashed) at `now`: a read ends info at once (it changes
    /// nothing either way); any other operation waits for its session's end.
    fn give_up(&mut self, now: SimTime, id: (u64, u64), op: OpenOp) {
        if op.f == OpFn::Read {
            self.recorder
                .complete(id, Outcome::Info, Value::Null, now.as_nanos());
            return;
        }
        let given = GivenUp {
            session: id.0,
            lock: op.lock,
            f: op.f,
            invoked: op.invoked,
            acts_after_end: op.acts_after_end,
        };
        self.recorder.give_up(id, given);
    }

    fn op(&mut self, now: SimTime, client: NodeId, record: &OpRecord) {
        let (f, key, input) = Self::shape(&record.kind);
        let id = (record.session, record.seq);
        match &record.phase {
            Phase::Invoke => {
                let busy = self
                    .open
                    .range((record.session, 0)..=(record.session, u64::MAX))
                    .next()
                    .is_some();
                if busy || self.open.contains_key(&id) {
                    self.error.get_or_insert((
                        now,
                        format!(
                            "session {:x} invoked operation {} while another of its operations \
                             was in flight",
                            record.session, record.seq
                        ),
                    ));
                    return;
                }
                let lock = (f == OpFn::Write).then(|| key.clone());
                let bugs = &self.config.bugs;
                let acts_after_end = match &record.kind {
                    OpKind::Acquire { .. } => bugs.has(Bug::AcquireWithoutSession),
                    OpKind::Release { .. } => bugs.has(Bug::ReleaseAnyOwner),
                    OpKind::CounterGet | OpKind::CounterCas { .. } => true,
                };
                let open = OpenOp {
                    invoked: now,
                    lock,
                    f,
                    client,
                    acts_after_end,
                };
                self.open.insert(id, open);
                with_record(&self.record, |r| r.history_ops += 1);
                self.recorder.invoke(id, f, key, input, now.as_nanos());
            }
            Phase::Ok(response) => {
                if self.open.remove(&id).is_none() {
                    return;
                }
                let (outcome, value) = Self::outcome(response);
                // A cas completes ok with no value; a read with the value read.
                let value = if f == OpFn::Cas { Value::Null } else { value };
                self.recorder.complete(id, outcome, value, now.as_nanos());
            }
            Phase::Info => {
                if let Some(open) = self.open.remove(&id) {
                    self.give_up(now, id, open);
                }
            }
        }
    }

    /// A server reported that `session` left `lock`'s queue: an expiry, unless it is a replay.
    fn left(&mut self, now: SimTime, lock: &str, session: u64, novelty: Novelty, upto: u64) {
        let key = (lock.to_string(), session);
        let new = match novelty {
            Novelty::New => {
                self.left.remember(key, upto);
                true
            }
            Novelty::Replay => false,
            Novelty::Mixed => self.left.first(key, upto),
        };
        if new {
            self.expire(now, lock, session);
        }
    }

    /// The service ended `session`'s part in `lock`: an instantaneous expiry.
    fn expire(&mut self, now: SimTime, lock: &str, session: u64) {
        let id = (self.next_service, 0);
        self.next_service += 1;
        let input = json!({"op": "expire", "session": session});
        let time = now.as_nanos();
        self.recorder
            .invoke(id, OpFn::Write, lock.to_string(), input, time);
        self.recorder.complete(id, Outcome::Ok, Value::Null, time);
    }

    /// The check's report of the checker's result.
    fn report(&self, result: &IncrementalResult, phases: &Phases) -> CheckReport {
        let not_evaluated =
            |why: String| CheckReport::not_evaluated(Self::NAME, CheckKind::Always, why);
        let figures = vec![
            ("operations".to_string(), result.op_count.to_string()),
            (
                "states explored".to_string(),
                result.states_explored.to_string(),
            ),
        ];
        match (&result.verdict, &result.failure) {
            (Verdict::NotLinearizable, Some(failure)) => {
                let time = failure
                    .result
                    .explanation
                    .as_ref()
                    .and_then(|e| failure.history.events().get(e.blocking))
                    .and_then(|e| e.time_ns)
                    .map_or(SimTime(failure.to_ns), SimTime);
                CheckReport {
                    name: Self::NAME.to_string(),
                    kind: CheckKind::Always,
                    violation: Some(Violation {
                        time,
                        message: format!(
                            "the lock operations are not linearizable:\n{}",
                            failure.render_text().trim_end()
                        ),
                    }),
                    figures,
                    not_evaluated: None,
                }
            }
            (Verdict::NotLinearizable, None) => CheckReport {
                name: Self::NAME.to_string(),
                kind: CheckKind::Always,
                violation: Some(Violation {
                    time: phases.end,
                    message: "the lock operations are not linearizable".to_string(),
                }),
                figures,
                not_evaluated: None,
            },
            (Verdict::Unknown { reason }, _) => CheckReport {
                figures,
                ..not_evaluated(format!("the search gave up: {reason}"))
            },
            (Verdict::Linearizable, _) => CheckReport {
                name: Self::NAME.to_string(),
                kind: CheckKind::Always,
                violation: None,
                figures,
                not_evaluated: None,
            },
        }
    }
}

impl Check<LockNode> for Linearizable {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn observe(
        &mut self,
        sim: &Simulation<LockNode>,
        obs: &Observation<'_, LockNode>,
    ) -> Option<Violation> {
        if !self.enabled || self.config.mode == ServiceMode::Majority {
            return None;
        }
        let now = sim.now();
        let (node, events) = match *obs {
            Observation::Handled { node, events } => (node, events),
            Observation::Node {
                node,
                change: NodeChange::Crashed,
            } => {
                self.frontier.crashed(node);
                self.crashed(now, node);
                self.note_peak();
                return None;
            }
            _ => return None,
        };
        let applied = replay::applied(sim, node);
        let upto = applied.unwrap_or(u64::MAX);
        let novelty = applied.map_or(Novelty::Mixed, |a| self.frontier.handled(node, a));
        for event in events {
            match event {
                LockEvent::Op(record) => self.op(now, node, record),
                LockEvent::Granted { lock, session, .. } => {
                    self.recorder.touch(now, lock, *session);
                }
                LockEvent::Freed {
                    lock,
                    session,
                    token,
                } => {
                    self.recorder.touch(now, lock, *session);
                    if self.freed.first((lock.clone(), *session, *token), upto) {
                        self.expire(now, lock, *session);
                    }
                }
                LockEvent::Left { lock, session } => {
                    self.recorder.touch(now, lock, *session);
                    self.left(now, lock, *session, novelty, upto);
                }
                _ => {}
            }
        }
        if let Some(index) = replay::synced_snapshot(sim, node) {
            self.freed.snapshot(node, index);
            self.left.snapshot(node, index);
        }
        self.ended_sessions(sim, node, now);
        self.note_peak();
        None
    }

    fn finish(&mut self, sim: &Simulation<LockNode>, phases: &Phases) -> CheckReport {
        let not_evaluated =
            |why: String| CheckReport::not_evaluated(Self::NAME, CheckKind::Always, why);
        if !self.enabled {
            return not_evaluated("switched off ([checks] linearizability = false)".to_string());
        }
        if self.config.mode == ServiceMode::Majority {
            return not_evaluated(
                "the majority lock has no service whose operations could be linearized".to_string(),
            );
        }
        if let Some((time, message)) = self.error.clone() {
            return CheckReport {
                name: Self::NAME.to_string(),
                kind: CheckKind::Always,
                violation: Some(Violation {
                    time,
                    message: format!("the lock history could not be recorded: {message}"),
                }),
                figures: Vec::new(),
                not_evaluated: None,
            };
        }
        self.resolve_at_end(sim, sim.now());
        let result = self.recorder.result();
        if result.op_count == 0 {
            return not_evaluated("no client operation was recorded".to_string());
        }
        self.report(&result, phases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A given-up operation that was its session's latest applied request ends with the answer
    /// it got (a compare-and-set that succeeded with no value); one that was not applied, or
    /// found no session, failed.
    #[test]
    fn a_given_up_operation_ends_with_its_own_answer_or_fails() {
        let granted = LockResponse::Granted { token: 7 };
        let answer = Linearizable::answered((5, 3), OpFn::Write, Some((3, &granted)));
        assert_eq!(answer, Some((Outcome::Ok, json!("granted"))));
        assert_eq!(
            Linearizable::answered((5, 3), OpFn::Write, Some((2, &granted))),
            None
        );
        assert_eq!(Linearizable::answered((5, 3), OpFn::Write, None), None);
        let set = LockResponse::Counter { value: 4 };
        assert_eq!(
            Linearizable::answered((5, 3), OpFn::Cas, Some((3, &set))),
            Some((Outcome::Ok, Value::Null))
        );
        let failed = LockResponse::CasFailed { current: 9 };
        assert_eq!(
            Linearizable::answered((5, 3), OpFn::Cas, Some((3, &failed))),
            Some((Outcome::Fail, Value::Null))
        );
        let gone = LockResponse::NoSession;
        assert_eq!(
            Linearizable::answered((5, 3), OpFn::Write, Some((3, &gone))),
            Some((Outcome::Fail, Value::Null))
        );
    }
}
