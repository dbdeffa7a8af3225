//! The quorum store's clients on `sim-client`'s engine: per-operation consistency levels,
//! retries and timeouts, sessions, and vector-clock contexts merged on the next write.
//!
//! Owns [`WorkloadParams`] (the `[workload]` table: the engine's keys, flat, beside `keys`,
//! `mix`, `read` and `write`), [`QuorumClient`] (the [`ClientPlugin`]) and [`QuorumWorkload`]
//! (the engine running it). Each operation carries its level (`read` for gets, `write` for
//! puts). A read that returns siblings hands the client their merged clock; the client's next
//! write of that key sends it back, so the write supersedes every sibling it saw (Dynamo,
//! section 4.4). The client records a `sim-check` kv history (a read of several siblings is
//! recorded as fail: no single value was read, and a read changes nothing) and feeds
//! `sim-kv`'s [`AnomalyTracker`] every operation, each read with all its values, so that the
//! anomaly checks judge each read as it completes.

use std::any::Any;
use std::collections::BTreeMap;

use rand::Rng;
use serde::Deserialize;
use serde_json::Value;
use sim_check::{History, IncrementalResult, OpFn, OpIndex, Outcome};
use sim_client::{Answer, ClientEngine, ClientPlugin, Invocation, Status};
use sim_core::{rng, ClientCtx, NodeId, RequestId, SimRng, SimTime, SuiteError, Workload};
use sim_kv::{AnomalyTracker, Recorder};

use crate::node::QuorumNode;
use crate::supersede::Supersession;
use crate::types::{Level, QuorumOp, QuorumRequest, QuorumResponse};
use crate::version::VClock;

/// The relative weights of gets and puts.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    pub get: f64,
    pub put: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix { get: 0.5, put: 0.5 }
    }
}

sim_client::client_workload! {
    /// `[workload]`; the engine's keys are documented in `sim-client`'s crate docs.
    #[derive(Clone, Debug, PartialEq, Deserialize)]
    pub struct WorkloadParams {
        pub keys: usize = 5,
        pub mix: Mix = Mix::default(),
        /// The level of every get (Dynamo; default QUORUM).
        pub read: Option<Level> = None,
        /// The level of every put (Dynamo; default QUORUM).
        pub write: Option<Level> = None,
    }
}

/// At most this many keys.
pub const KEYS_MAX: usize = 100_000;

impl WorkloadParams {
    /// Checks the table against the cluster (`replicas`: N); the error names the field.
    pub fn validate(&self, node_count: usize, replicas: usize) -> Result<(), SuiteError> {
        self.engine().validate(node_count)?;
        if self.keys == 0 || self.keys > KEYS_MAX {
            return Err(SuiteError::new(
                "workload.keys",
                format!("expected between 1 and {KEYS_MAX}, found {}", self.keys),
            ));
        }
        for (name, weight) in [("get", self.mix.get), ("put", self.mix.put)] {
            if !weight.is_finite() || weight < 0.0 {
                return Err(SuiteError::new(
                    format!("workload.mix.{name}"),
                    format!("expected a weight of at least 0, found {weight}"),
                ));
            }
        }
        if self.mix.get + self.mix.put <= 0.0 {
            return Err(SuiteError::new(
                "workload.mix",
                "expected get or put with a positive weight",
            ));
        }
        for (name, level) in [("read", self.read), ("write", self.write)] {
            let level = level.unwrap_or(Level::Quorum);
            let required = level.required(replicas);
            if required == 0 || required > replicas {
                return Err(SuiteError::new(
                    format!("workload.{name}"),
                    format!(
                        "expected 1 to {replicas} replicas (protocol.replicas), found {required}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// An operation in flight.
#[derive(Clone, Debug)]
pub struct QuorumPending {
    request: QuorumRequest,
    history: OpIndex,
    read: Option<(Vec<String>, Option<VClock>)>,
    session: u64,
}

/// The plug-in; see the module docs.
#[derive(Debug)]
pub struct QuorumClient {
    mix: Mix,
    keys: Vec<String>,
    read: Level,
    write: Level,
    /// Each session's context per key, from its last read.
    contexts: BTreeMap<(u64, String), VClock>,
    /// The kv history: checked as it is recorded, kept or written out only when asked.
    recorder: Recorder,
    /// The anomalies, judged as operations complete.
    anomalies: AnomalyTracker,
    /// Whether a write with a read's context came back beside a value it superseded.
    supersession: Supersession,
    /// The most siblings one read returned, and reads that returned more than one.
    pub max_siblings: usize,
    pub sibling_reads: u64,
}

impl QuorumClient {
    pub fn new(params: &WorkloadParams) -> Self {
        QuorumClient {
            mix: params.mix,
            keys: (0..params.keys.max(1)).map(|k| format!("k{k}")).collect(),
            read: params.read.unwrap_or(Level::Quorum),
            write: params.write.unwrap_or(Level::Quorum),
            contexts: BTreeMap::new(),
            recorder: Recorder::new(sim_check::Budget::default().max_states),
            anomalies: AnomalyTracker::new(),
            supersession: Supersession::default(),
            max_siblings: 0,
            sibling_reads: 0,
        }
    }

    /// The whole history, when it was kept ([`QuorumWorkload::keep_whole_history`]).
    pub fn history(&self) -> Option<&History> {
        self.recorder.history()
    }

    /// The linearizability verdict on the history so far (operations in flight count as info).
    pub fn linearizability(&self) -> IncrementalResult {
        self.recorder.result()
    }

    /// The states each stretch of a key's history may explore.
    pub fn state_budget(&self) -> u64 {
        self.recorder.max_states()
    }

    /// The stale reads, lost writes and session anomalies judged so far.
    pub fn anomalies(&self) -> &AnomalyTracker {
        &self.anomalies
    }

    /// The reads that returned a write beside a value it superseded, judged so far.
    pub fn supersession(&self) -> &Supersession {
        &self.supersession
    }

    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

impl ClientPlugin for QuorumClient {
    type Request = QuorumRequest;
    type Response = QuorumResponse;
    type Op = QuorumPending;

    fn kind_names(&self) -> &'static [&'static str] {
        &["get", "put"]
    }

    fn kind(&self, op: &QuorumPending) -> &'static str {
        match op.request.op {
            QuorumOp::Get { .. } => "get",
            QuorumOp::Put { .. } => "put",
        }
    }

    fn invoke(&mut self, rng: &mut SimRng, invocation: &Invocation) -> QuorumPending {
        let total = self.mix.get + self.mix.put;
        let is_get = rng::unit(rng) * total < self.mix.get;
        let key = self.keys[rng.gen_range(0..self.keys.len())].clone();
        let session = invocation.session;
        let (op, level, f, argument) = if is_get {
            (
                QuorumOp::Get { key: key.clone() },
                self.read,
                OpFn::Read,
                Value::Null,
            )
        } else {
            let value = format!("c{session}-{}", invocation.seq);
            let argument = Value::String(value.clone());
            (
                QuorumOp::Put {
                    key: key.clone(),
                    value,
                },
                self.write,
                OpFn::Write,
                argument,
            )
        };
        let context = if is_get {
            None
        } else {
            self.contexts.get(&(session, key.clone())).cloned()
        };
        let history = self
            .recorder
            .invoke(invocation.process, f, &key, argument, invocation.at.0);
        let at_ns = invocation.at.0;
        if let (QuorumOp::Put { value, .. }, Some(_)) = (&op, &context) {
            self.supersession.write_with_context(session, &key, value);
        }
        match &op {
            QuorumOp::Put { value, .. } => {
                self.anomalies
                    .write_invoked(op_id(history), &key, value, session, at_ns)
            }
            QuorumOp::Get { .. } => {
                self.anomalies
                    .read_invoked(op_id(history), &key, session, at_ns)
            }
        }
        QuorumPending {
            request: QuorumRequest {
                client: session,
                seq: invocation.seq,
                op,
                level,
                context,
            },
            history,
            read: None,
            session,
        }
    }

    fn request(&self, op: &QuorumPending) -> QuorumRequest {
        op.request.clone()
    }

    fn classify(&mut self, op: &mut QuorumPending, response: QuorumResponse) -> Answer {
        match (&op.request.op, response) {
            (_, QuorumResponse::Unavailable) => Answer::Unavailable,
            (_, QuorumResponse::Timeout) => Answer::Info,
            (QuorumOp::Get { .. }, QuorumResponse::Value { values, context }) => {
                op.read = Some((values, context));
                Answer::Ok
            }
            (QuorumOp::Put { .. }, QuorumResponse::Done) => Answer::Ok,
            (_, QuorumResponse::Value { .. } | QuorumResponse::Done) => Answer::Info,
        }
    }

    fn complete(&mut self, op: QuorumPending, status: Status, at: SimTime) {
        let key = op.request.op.key().to_string();
        let outcome = match status {
            Status::Ok => Outcome::Ok,
            Status::Fail => Outcome::Fail,
            Status::Info => Outcome::Info,
        };
        let id = op_id(op.history);
        match (&op.request.op, status, op.read) {
            (QuorumOp::Get { .. }, Status::Ok, Some((values, context))) => {
                self.max_siblings = self.max_siblings.max(values.len());
                let (outcome, value) = match values.as_slice() {
                    [] => (Outcome::Ok, Value::Null),
                    [one] => (Outcome::Ok, Value::String(one.clone())),
                    // Several siblings are no single value: the read is recorded as fail, which
                    // a read may be (it changes nothing), so the checker leaves it out.
                    _ => {
                        self.sibling_reads += 1;
                        (Outcome::Fail, Value::Null)
                    }
                };
                self.recorder.complete(op.history, outcome, value, at.0);
                if let Some(context) = context {
                    self.supersession.read_context(op.session, &key, &values);
                    self.contexts.insert((op.session, key.clone()), context);
                }
                self.supersession.read(op.session, &key, &values, at.0);
                self.anomalies
                    .read_completed(id, Outcome::Ok, &values, at.0);
            }
            (QuorumOp::Put { .. }, ..) => {
                self.recorder
                    .complete(op.history, outcome, Value::Null, at.0);
                self.anomalies.write_completed(id, outcome, at.0);
            }
            (QuorumOp::Get { .. }, ..) => {
                // An ok get always carries its read; without one it is info.
                let outcome = if outcome == Outcome::Ok {
                    Outcome::Info
                } else {
                    outcome
                };
                self.recorder
                    .complete(op.history, outcome, Value::Null, at.0);
                self.anomalies.read_completed(id, outcome, &[], at.0);
            }
        }
    }
}

/// The tracker's name for an operation: its place in the history.
fn op_id(history: OpIndex) -> u64 {
    history.0 as u64
}

/// The engine running [`QuorumClient`]: what the suite's `workload()` returns.
pub struct QuorumWorkload {
    engine: ClientEngine<QuorumClient>,
}

impl QuorumWorkload {
    pub fn new(params: &WorkloadParams, node_count: usize) -> Self {
        QuorumWorkload {
            engine: ClientEngine::new(params.engine(), QuorumClient::new(params), node_count),
        }
    }

    pub fn engine(&self) -> &ClientEngine<QuorumClient> {
        &self.engine
    }

    pub fn client(&self) -> &QuorumClient {
        self.engine.plugin()
    }

    /// The operations so far added up (see [`sim_client::Tally`]).
    pub fn tally(&self) -> sim_client::Tally {
        self.engine.tally()
    }

    /// Keep the whole history (call it before the run): otherwise it is checked as it is
    /// recorded and forgotten.
    pub fn keep_whole_history(&mut self) {
        self.engine.plugin_mut().recorder.keep();
        self.engine.keep_records();
    }

    /// Each stretch of a key's history between quiescent cuts may explore `max_states` states
    /// (`[checks] state_budget`). Call it before the run.
    pub fn with_state_budget(mut self, max_states: u64) -> Self {
        self.engine
            .plugin_mut()
            .recorder
            .set_state_budget(max_states);
        self
    }
}

impl Workload<QuorumNode> for QuorumWorkload {
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, QuorumNode>) {
        self.engine.on_start(ctx);
    }

    fn on_reply(
        &mut self,
        ctx: &mut ClientCtx<'_, QuorumNode>,
        node: NodeId,
        id: RequestId,
        response: QuorumResponse,
    ) {
        self.engine.on_reply(ctx, node, id, response);
    }

    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, QuorumNode>, token: u64) {
        self.engine.on_wake(ctx, token);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn client_count(&self) -> Option<usize> {
        Some(self.engine.client_count())
    }

    fn faults_in_force(&mut self, now: sim_core::SimTime, in_force: bool) {
        self.engine.faults_in_force(now, in_force);
    }

    fn quiet_phase(&mut self, now: sim_core::SimTime) {
        self.engine.quiet_phase(now);
    }

    fn keep_history(&mut self) {
        self.keep_whole_history();
    }

    fn stream_history(
        &mut self,
        out: Box<dyn std::io::Write>,
    ) -> Result<(), Box<dyn std::io::Write>> {
        self.engine.plugin_mut().recorder.stream(out);
        Ok(())
    }

    fn end_history(&mut self) -> Result<(), String> {
        let recorder = &mut self.engine.plugin_mut().recorder;
        recorder.end().map_err(|e| e.to_string())
    }
}

/// The quorum workload of a simulation, if it has one.
pub fn quorum_workload(sim: &sim_core::Simulation<QuorumNode>) -> Option<&QuorumWorkload> {
    sim.workload()
        .and_then(|w| w.as_any().downcast_ref::<QuorumWorkload>())
}
