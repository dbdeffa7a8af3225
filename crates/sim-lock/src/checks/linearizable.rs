//! `lock.linearizable`: the clients' operations on the service (acquire, release, counter get
//! and compare-and-set), with the service's expiries, checked at the end of the run against
//! `sim-check`'s lock model ([`sim_check::LockTable`]: owners, read-write locks, queues,
//! expiry, and the counter).
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
//! may not have taken effect. For a lock operation the service's reports settle it: an acquire or
//! release that changed anything left a `granted`, `freed` or `left` report for that lock and
//! session at or after its invocation. An info operation with no such report changed nothing,
//! and enters the history as failed, which spares the search from placing it everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{json, Value};
use sim_check::{
    Budget, Event as HistoryEvent, EventKind, History, LockTable, ModelKind, OpFn, Verdict,
};
use sim_core::{
    Check, CheckKind, CheckReport, Observation, Phases, SimTime, Simulation, Violation,
};

use super::{with_record, CheckParams, SharedRecord};
use crate::config::{Config, ServiceMode};
use crate::history::{OpKind, OpRecord, Phase};
use crate::machine::{LockResponse, Mode};
use crate::node::{LockEvent, LockNode};

/// The history key of the counter.
const COUNTER: &str = "counter";
/// Process numbers of the service's own steps start here (sessions are random 63-bit ids).
const SERVICE_PROCESS: u64 = 1 << 63;

/// `lock.linearizable`.
pub struct Linearizable {
    config: Arc<Config>,
    enabled: bool,
    budget: Budget,
    record: SharedRecord,
    /// The history's events in order, built into a `History` at the end.
    events: Vec<HistoryEvent>,
    /// Info completions of lock operations: event index, lock, session, invocation time.
    infos: Vec<(usize, String, u64, SimTime)>,
    /// Per `(lock, session)`, when a replica reported a change of it (granted, freed, left).
    touched: BTreeMap<(String, u64), Vec<SimTime>>,
    /// Invocation times and locks of open operations, by `(session, seq)`.
    invoked: BTreeMap<(u64, u64), (SimTime, Option<String>)>,
    history: History,
    /// Service steps already entered: `(lock, session, token)` freed, `(lock, session)` left.
    freed: BTreeSet<(String, u64, u64)>,
    left: BTreeSet<(String, u64)>,
    /// Operations invoked and not completed, by `(session, seq)`.
    open: BTreeMap<(u64, u64), ()>,
    next_service: u64,
    /// An event the history refused: a bug in the recorder, reported rather than ignored.
    error: Option<(SimTime, String)>,
}

impl Linearizable {
    pub const NAME: &'static str = "lock.linearizable";

    pub fn new(config: Arc<Config>, params: &CheckParams, record: SharedRecord) -> Self {
        Linearizable {
            config,
            enabled: params.linearizability,
            budget: Budget {
                max_states: params.state_budget,
                ..Budget::default()
            },
            record,
            events: Vec::new(),
            infos: Vec::new(),
            touched: BTreeMap::new(),
            invoked: BTreeMap::new(),
            history: History::new(ModelKind::Kv, Value::Null),
            freed: BTreeSet::new(),
            left: BTreeSet::new(),
            open: BTreeMap::new(),
            next_service: SERVICE_PROCESS,
            error: None,
        }
    }

    fn push(&mut self, event: HistoryEvent) {
        self.events.push(event);
    }

    /// Builds the history: info lock operations the service never acted on become failed.
    fn build(&mut self) {
        for (index, lock, session, invoked) in std::mem::take(&mut self.infos) {
            let acted = self
                .touched
                .get(&(lock, session))
                .is_some_and(|times| times.iter().any(|&t| t >= invoked));
            if !acted {
                if let Some(event) = self.events.get_mut(index) {
                    event.kind = EventKind::Fail;
                }
            }
        }
        for event in std::mem::take(&mut self.events) {
            let time = SimTime(event.time_ns.unwrap_or(0));
            if let Err(e) = self.history.push(event) {
                self.error = Some((time, e.to_string()));
                return;
            }
        }
    }

    fn touch(&mut self, now: SimTime, lock: &str, session: u64) {
        self.touched
            .entry((lock.to_string(), session))
            .or_default()
            .push(now);
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
    fn outcome(response: &LockResponse) -> (EventKind, Value) {
        match response {
            LockResponse::Granted { .. } => (EventKind::Ok, json!("granted")),
            LockResponse::Queued => (EventKind::Ok, json!("queued")),
            LockResponse::Busy => (EventKind::Ok, json!("busy")),
            LockResponse::Released => (EventKind::Ok, json!("released")),
            LockResponse::NotHeld => (EventKind::Ok, json!("not_held")),
            LockResponse::Counter { value } => (EventKind::Ok, json!(value)),
            // A failed compare-and-set changed nothing; an unknown session did nothing.
            LockResponse::CasFailed { .. } | LockResponse::NoSession => {
                (EventKind::Fail, Value::Null)
            }
            LockResponse::Alive { .. }
            | LockResponse::Expired { .. }
            | LockResponse::Redirect { .. }
            | LockResponse::Unavailable => (EventKind::Info, Value::Null),
        }
    }

    fn op(&mut self, now: SimTime, record: &OpRecord) {
        let (f, key, input) = Self::shape(&record.kind);
        let (kind, value) = match &record.phase {
            Phase::Invoke => {
                self.open.insert((record.session, record.seq), ());
                let lock = (f == OpFn::Write).then(|| key.clone());
                self.invoked
                    .insert((record.session, record.seq), (now, lock));
                with_record(&self.record, |r| r.history_ops += 1);
                (EventKind::Invoke, input)
            }
            Phase::Ok(response) => {
                if self.open.remove(&(record.session, record.seq)).is_none() {
                    return;
                }
                self.invoked.remove(&(record.session, record.seq));
                let (kind, value) = Self::outcome(response);
                // A cas completes ok with no value; a read with the value read.
                let value = if f == OpFn::Cas { Value::Null } else { value };
                (kind, value)
            }
            Phase::Info => {
                if self.open.remove(&(record.session, record.seq)).is_none() {
                    return;
                }
                if let Some((invoked, Some(lock))) =
                    self.invoked.remove(&(record.session, record.seq))
                {
                    self.infos
                        .push((self.events.len(), lock, record.session, invoked));
                }
                (EventKind::Info, Value::Null)
            }
        };
        let event = HistoryEvent {
            process: record.session,
            kind,
            f,
            key: Some(key),
            value,
            time_ns: Some(now.as_nanos()),
        };
        self.push(event);
    }

    /// The service ended `session`'s part in `lock`: an instantaneous expiry.
    fn expire(&mut self, now: SimTime, lock: &str, session: u64) {
        let process = self.next_service;
        self.next_service += 1;
        let input = json!({"op": "expire", "session": session});
        for (kind, value) in [(EventKind::Invoke, input), (EventKind::Ok, Value::Null)] {
            let event = HistoryEvent {
                process,
                kind,
                f: OpFn::Write,
                key: Some(lock.to_string()),
                value,
                time_ns: Some(now.as_nanos()),
            };
            self.push(event);
        }
    }
    /// The check's report of the checker's result.
    fn report(&self, result: &sim_check::CheckResult, phases: &Phases) -> CheckReport {
        let not_evaluated =
            |why: String| CheckReport::not_evaluated(Self::NAME, CheckKind::Always, why);
        let figures = vec![
            ("operations".to_string(), result.op_count.to_string()),
            (
                "states explored".to_string(),
                result.states_explored.to_string(),
            ),
        ];
        match &result.verdict {
            Verdict::Linearizable => CheckReport {
                name: Self::NAME.to_string(),
                kind: CheckKind::Always,
                violation: None,
                figures,
                not_evaluated: None,
            },
            Verdict::Unknown { reason } => CheckReport {
                figures,
                ..not_evaluated(format!("the search gave up: {reason}"))
            },
            Verdict::NotLinearizable => {
                let time = result
                    .explanation
                    .as_ref()
                    .and_then(|e| self.history.events().get(e.blocking))
                    .and_then(|e| e.time_ns)
                    .map_or(phases.end, SimTime);
                let text = sim_check::render_text(result, &self.history);
                CheckReport {
                    name: Self::NAME.to_string(),
                    kind: CheckKind::Always,
                    violation: Some(Violation {
                        time,
                        message: format!(
                            "the lock operations are not linearizable:\n{}",
                            text.trim_end()
                        ),
                    }),
                    figures,
                    not_evaluated: None,
                }
            }
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
        if !self.enabled {
            return None;
        }
        let Observation::Handled { events, .. } = *obs else {
            return None;
        };
        let now = sim.now();
        for event in events {
            match event {
                LockEvent::Op(record) => self.op(now, record),
                LockEvent::Granted { lock, session, .. } => self.touch(now, lock, *session),
                LockEvent::Freed {
                    lock,
                    session,
                    token,
                } => {
                    self.touch(now, lock, *session);
                    if self.freed.insert((lock.clone(), *session, *token)) {
                        self.expire(now, lock, *session);
                    }
                }
                LockEvent::Left { lock, session } => {
                    self.touch(now, lock, *session);
                    if self.left.insert((lock.clone(), *session)) {
                        self.expire(now, lock, *session);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn finish(&mut self, _sim: &Simulation<LockNode>, phases: &Phases) -> CheckReport {
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
        self.build();
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
        if self.history.is_empty() {
            return not_evaluated("no client operation was recorded".to_string());
        }
        let result = sim_check::check_with(&self.history, &LockTable, &self.budget);
        self.report(&result, phases)
    }
}
