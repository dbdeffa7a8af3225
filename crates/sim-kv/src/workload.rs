//! The key-value client plug-in on `sim-client`'s engine, and the history it records.
//!
//! Owns [`KvClient`], the [`ClientPlugin`] for the kv types: it draws each operation (the op
//! mix, a key from the uniform or zipf distribution, a value no other write uses, a
//! compare-and-set's expected value from the last value seen), builds `KvRequest { client,
//! seq, op }` with the engine's session and sequence number, reads `KvResponse`s (`Redirect` and
//! `Unavailable` to the engine, a reply that does not fit the operation as info), and records
//! every operation's invoke and completion in simulated time (model `kv`): ok, fail (certainly
//! did not happen) or info (unknown; the engine then continues the client under a fresh history
//! process, so the history stays well formed). The history goes to a [`Recorder`]: its
//! [`sim_check::Incremental`] checker checks each key's stretch of history whenever no operation on the key is in
//! flight and forgets it, so a run's memory does not grow with its simulated time; the whole
//! [`sim_check::History`] is kept besides only when an output asks for it
//! ([`KvWorkload::keep_whole_history`]: `--history`, `--report`, `sim compare`).
//!
//! And [`KvWorkload`], the engine running `KvClient`: what a suite's `workload()` returns.
//! Everything about when and where requests go (closed or open loop, redirects, timeouts,
//! backoff, the breaker) is the engine's. Statistics live in `stats`, checks in `checks`.

use std::any::Any;
use std::collections::BTreeMap;

use rand::Rng;
use serde_json::Value;
use sim_check::{History, IncrementalResult, OpFn, OpIndex, Outcome};
use sim_client::{Answer, ClientEngine, ClientPlugin, Invocation, OpRecord, Status};
use sim_core::rng;

use crate::recorder::Recorder;
use sim_core::{ClientCtx, NodeId, Process, RequestId, SimRng, SimTime, Workload};

use crate::params::{Distribution, Mix, WorkloadParams};
use crate::types::{KvOp, KvRequest, KvResponse};

/// The four kinds of operation, for the mix and the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    Get,
    Put,
    Cas,
    Append,
}

impl OpKind {
    pub const ALL: [OpKind; 4] = [OpKind::Get, OpKind::Put, OpKind::Cas, OpKind::Append];
    /// The names, in the order of [`OpKind::ALL`].
    pub const NAMES: [&'static str; 4] = ["get", "put", "cas", "append"];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Cas => "cas",
            OpKind::Append => "append",
        }
    }

    pub fn of(op: &KvOp) -> OpKind {
        match op {
            KvOp::Get { .. } => OpKind::Get,
            KvOp::Put { .. } => OpKind::Put,
            KvOp::Cas { .. } => OpKind::Cas,
            KvOp::Append { .. } => OpKind::Append,
        }
    }
}

/// Counters of things that should not happen but are survivable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// Replies whose kind does not fit the operation (a `Value` for a put, say); the operation
    /// is recorded as info.
    pub mismatched_replies: u64,
}

/// An operation in flight, as [`KvClient`] keeps it.
#[derive(Clone, Debug)]
pub struct KvPending {
    pub request: KvRequest,
    history: OpIndex,
    /// An ok read's value (null: absent), once answered.
    read: Value,
}

/// The kv plug-in; see the module docs.
#[derive(Debug)]
pub struct KvClient {
    mix: Mix,
    keys: Vec<String>,
    /// Cumulative key weights for the zipf distribution (empty for uniform).
    key_cumulative: Vec<f64>,
    /// The last value seen per key, so that a compare-and-set has a chance to succeed.
    last_seen: BTreeMap<String, Option<String>>,
    /// The history: checked as it is recorded, kept or written out when asked.
    recorder: Recorder,
    anomalies: Anomalies,
}

impl KvClient {
    /// The plug-in for `params` (its kv keys; the engine reads the rest). Call
    /// [`WorkloadParams::validate`] first; invalid values are clamped here rather than trusted.
    pub fn new(params: &WorkloadParams) -> Self {
        let key_count = params.keys.max(1);
        let keys = (0..key_count).map(|k| format!("k{k}")).collect();
        let key_cumulative = match params.distribution {
            Distribution::Uniform => Vec::new(),
            Distribution::Zipf => {
                let exponent = params.zipf_exponent.max(0.0);
                let mut total = 0.0;
                (0..key_count)
                    .map(|k| {
                        total += 1.0 / ((k + 1) as f64).powf(exponent);
                        total
                    })
                    .collect()
            }
        };
        KvClient {
            mix: params.mix,
            keys,
            key_cumulative,
            last_seen: BTreeMap::new(),
            recorder: Recorder::new(STATE_BUDGET_DEFAULT),
            anomalies: Anomalies::default(),
        }
    }

    /// Each stretch of a key's history between quiescent cuts may explore this many states.
    pub fn set_state_budget(&mut self, max_states: u64) {
        self.recorder.set_state_budget(max_states);
    }

    /// Keep the whole history from now on (call it before the run), for `--history` and reports.
    pub fn keep_history(&mut self) {
        self.recorder.keep();
    }

    /// Write the history to `out` as it is recorded; [`KvClient::end_history`] closes it.
    pub fn stream_history(&mut self, out: Box<dyn std::io::Write>) {
        self.recorder.stream(out);
    }

    /// Closes the streamed history: the first error writing it, if any.
    pub fn end_history(&mut self) -> std::io::Result<()> {
        self.recorder.end()
    }

    /// The whole history, when it was kept ([`KvClient::keep_history`]).
    pub fn history(&self) -> Option<&History> {
        self.recorder.history()
    }

    /// The linearizability verdict on the history so far (operations in flight count as info).
    pub fn linearizability(&self) -> IncrementalResult {
        self.recorder.result()
    }

    pub fn anomalies(&self) -> Anomalies {
        self.anomalies
    }

    fn pick_kind(&self, rng: &mut SimRng) -> OpKind {
        let mix = &self.mix;
        let weights = [mix.get, mix.put, mix.cas, mix.append].map(|w| w.max(0.0));
        let total: f64 = weights.iter().sum();
        let mut draw = rng::unit(rng) * total;
        for (kind, weight) in OpKind::ALL.into_iter().zip(weights) {
            if draw < weight {
                return kind;
            }
            draw -= weight;
        }
        // Rounding can leave the draw just past the last weight: take the last kind that has one.
        OpKind::ALL
            .into_iter()
            .zip(weights)
            .filter(|&(_, w)| w > 0.0)
            .map(|(kind, _)| kind)
            .next_back()
            .unwrap_or(OpKind::Get)
    }

    fn pick_key(&self, rng: &mut SimRng) -> String {
        let index = match self.key_cumulative.last() {
            None => rng.gen_range(0..self.keys.len()),
            Some(&total) => {
                let draw = rng::unit(rng) * total;
                self.key_cumulative
                    .partition_point(|&c| c <= draw)
                    .min(self.keys.len() - 1)
            }
        };
        self.keys[index].clone()
    }

    /// Remembers what an ok operation says a key holds, for later compare-and-sets.
    fn learn(&mut self, op: &KvOp, read: Option<String>) {
        let (key, seen) = match op {
            KvOp::Get { key } => (key, read),
            KvOp::Put { key, value } => (key, Some(value.clone())),
            KvOp::Cas { key, new, .. } => (key, Some(new.clone())),
            KvOp::Append { key, .. } => {
                self.last_seen.remove(key);
                return;
            }
        };
        // Keys repeat: update in place rather than allocate the key again.
        match self.last_seen.get_mut(key) {
            Some(slot) => *slot = seen,
            None => {
                self.last_seen.insert(key.clone(), seen);
            }
        }
    }
}

impl ClientPlugin for KvClient {
    type Request = KvRequest;
    type Response = KvResponse;
    type Op = KvPending;

    fn kind_names(&self) -> &'static [&'static str] {
        &OpKind::NAMES
    }

    fn kind(&self, op: &KvPending) -> &'static str {
        OpKind::of(&op.request.op).name()
    }

    fn invoke(&mut self, rng: &mut SimRng, invocation: &Invocation) -> KvPending {
        let kind = self.pick_kind(rng);
        let key = self.pick_key(rng);
        let value = format!("c{}-{}", invocation.session, invocation.seq);
        let op = match kind {
            OpKind::Get => KvOp::Get { key },
            OpKind::Put => KvOp::Put { key, value },
            OpKind::Cas => {
                let expected = self.last_seen.get(&key).cloned().flatten();
                KvOp::Cas {
                    key,
                    expected,
                    new: value,
                }
            }
            OpKind::Append => KvOp::Append {
                key,
                value: format!("+{value}"),
            },
        };
        let (f, argument) = history_invoke(&op);
        let history =
            self.recorder
                .invoke(invocation.process, f, op.key(), argument, invocation.at.0);
        KvPending {
            request: KvRequest {
                client: invocation.session,
                seq: invocation.seq,
                op,
            },
            history,
            read: Value::Null,
        }
    }

    fn request(&self, op: &KvPending) -> KvRequest {
        op.request.clone()
    }

    fn classify(&mut self, op: &mut KvPending, response: KvResponse) -> Answer {
        match (OpKind::of(&op.request.op), response) {
            (_, KvResponse::Redirect { to }) => Answer::Redirect { to: Some(to) },
            (_, KvResponse::Unavailable) => Answer::Unavailable,
            (OpKind::Get, KvResponse::Value(value)) => {
                op.read = value.map_or(Value::Null, Value::String);
                Answer::Ok
            }
            (OpKind::Put | OpKind::Cas | OpKind::Append, KvResponse::Done) => Answer::Ok,
            (OpKind::Cas, KvResponse::CasFailed { current }) => {
                let key = op.request.op.key().to_string();
                self.last_seen.insert(key, current);
                Answer::Fail
            }
            (_, KvResponse::Value(_) | KvResponse::Done | KvResponse::CasFailed { .. }) => {
                // The store answered something that does not fit the operation. Whether it took
                // effect is unknown, so the operation is info, and the summary counts it.
                self.anomalies.mismatched_replies += 1;
                Answer::Info
            }
        }
    }

    fn complete(&mut self, op: KvPending, status: Status, at: SimTime) {
        let outcome = match status {
            Status::Ok => Outcome::Ok,
            Status::Fail => Outcome::Fail,
            Status::Info => Outcome::Info,
        };
        // Only an ok read's value is learnt (and recorded).
        let value = if status == Status::Ok {
            op.read
        } else {
            Value::Null
        };
        let read = value_as_option(&value);
        self.recorder.complete(op.history, outcome, value, at.0);
        if status == Status::Ok {
            self.learn(&op.request.op, read);
        }
    }

    fn summary(&self) -> Vec<(String, String)> {
        let mismatched = self.anomalies.mismatched_replies;
        if mismatched == 0 {
            return Vec::new();
        }
        vec![(
            "mismatched replies".to_string(),
            format!("{mismatched} replies did not fit their operation (recorded as info)"),
        )]
    }
}

fn value_as_option(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        _ => None,
    }
}

/// The state budget of each stretch of the history until a suite sets its own
/// (`KvCheckParams::state_budget`'s default).
const STATE_BUDGET_DEFAULT: u64 = 10_000_000;

/// The history's `f` and invoke value for an operation: a read's value is null, a cas's is
/// `[expected, new]` (null for an absent key).
fn history_invoke(op: &KvOp) -> (OpFn, Value) {
    match op {
        KvOp::Get { .. } => (OpFn::Read, Value::Null),
        KvOp::Put { value, .. } => (OpFn::Write, Value::String(value.clone())),
        KvOp::Cas { expected, new, .. } => (
            OpFn::Cas,
            Value::Array(vec![
                expected.clone().map_or(Value::Null, Value::String),
                Value::String(new.clone()),
            ]),
        ),
        KvOp::Append { value, .. } => (OpFn::Append, Value::String(value.clone())),
    }
}

/// The kv clients: `sim-client`'s engine running [`KvClient`]. A newtype, so that checks find
/// it by type ([`crate::kv_workload`]) and its history is one call away.
pub struct KvWorkload {
    params: WorkloadParams,
    engine: ClientEngine<KvClient>,
}

impl KvWorkload {
    /// Clients over `node_count` nodes. Call [`WorkloadParams::validate`] first; invalid
    /// parameters are clamped rather than trusted.
    pub fn new(params: WorkloadParams, node_count: usize) -> Self {
        let engine = ClientEngine::new(params.engine(), KvClient::new(&params), node_count);
        KvWorkload { params, engine }
    }

    pub fn params(&self) -> &WorkloadParams {
        &self.params
    }

    /// The engine, for what the policies did (counters, breaker transitions).
    pub fn engine(&self) -> &ClientEngine<KvClient> {
        &self.engine
    }

    /// The history recorded so far, when it was kept ([`KvWorkload::keep_whole_history`]).
    /// Operations still outstanding have an invoke and no completion, which the checker reads
    /// as info.
    pub fn history(&self) -> Option<&History> {
        self.engine.plugin().history()
    }

    /// The history in the checker's JSON format, for `--history FILE`, when it was kept.
    pub fn history_json(&self) -> Option<Value> {
        self.history().map(History::to_json)
    }

    /// Keep the whole history (call it before the run): otherwise it is checked as it is
    /// recorded and forgotten.
    pub fn keep_whole_history(&mut self) {
        self.engine.plugin_mut().keep_history();
        self.engine.keep_records();
    }

    /// Each stretch of a key's history between quiescent cuts may explore `max_states` states
    /// (`kv.linearizable`'s `state_budget`). Call it before the run.
    pub fn with_state_budget(mut self, max_states: u64) -> Self {
        self.engine.plugin_mut().set_state_budget(max_states);
        self
    }

    /// The linearizability verdict on the history so far.
    pub fn linearizability(&self) -> IncrementalResult {
        self.engine.plugin().linearizability()
    }

    /// The states each stretch of a key's history may explore.
    pub fn state_budget(&self) -> u64 {
        self.engine.plugin().recorder.max_states()
    }

    /// Every operation invoked, in invoke order; kept only with the whole history
    /// ([`keep_whole_history`](Self::keep_whole_history)).
    ///
    /// # Panics
    /// Unless the whole history was kept.
    pub fn records(&self) -> Vec<OpRecord> {
        self.engine.records()
    }

    /// The operations so far added up (see [`sim_client::Tally`]).
    pub fn tally(&self) -> sim_client::Tally {
        self.engine.tally()
    }

    /// When the quiet phase started (once the runner said so), and client `client`'s
    /// operations in it.
    pub fn quiet_counts(&self, client: usize) -> Option<(SimTime, &sim_client::QuietCounts)> {
        self.engine.quiet_counts(client)
    }

    /// The quiet phase starts now (the runner says so through [`Workload::quiet_phase`]).
    pub fn quiet_phase(&mut self, now: SimTime) {
        self.engine.quiet_phase(now);
    }

    pub fn anomalies(&self) -> Anomalies {
        self.engine.plugin().anomalies()
    }

    /// The number of clients.
    pub fn client_count(&self) -> usize {
        self.engine.client_count()
    }
}

impl<P> Workload<P> for KvWorkload
where
    P: Process<Request = KvRequest, Response = KvResponse>,
{
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, P>) {
        Workload::<P>::on_start(&mut self.engine, ctx);
    }

    fn on_reply(
        &mut self,
        ctx: &mut ClientCtx<'_, P>,
        node: NodeId,
        id: RequestId,
        response: KvResponse,
    ) {
        Workload::<P>::on_reply(&mut self.engine, ctx, node, id, response);
    }

    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, P>, token: u64) {
        Workload::<P>::on_wake(&mut self.engine, ctx, token);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn client_count(&self) -> Option<usize> {
        Some(KvWorkload::client_count(self))
    }

    fn keep_history(&mut self) {
        self.keep_whole_history();
    }

    fn faults_in_force(&mut self, now: sim_core::SimTime, in_force: bool) {
        self.engine.faults_in_force(now, in_force);
    }

    fn quiet_phase(&mut self, now: sim_core::SimTime) {
        self.engine.quiet_phase(now);
    }

    fn stream_history(
        &mut self,
        out: Box<dyn std::io::Write>,
    ) -> Result<(), Box<dyn std::io::Write>> {
        self.engine.plugin_mut().stream_history(out);
        Ok(())
    }

    fn end_history(&mut self) -> Result<(), String> {
        self.engine
            .plugin_mut()
            .end_history()
            .map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for KvWorkload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvWorkload")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;

    use sim_client::OpStatus;
    use sim_core::SimDuration;

    use proptest::prelude::*;
    use sim_check::{parse_history, EventKind};

    use crate::toy::{self, Faults};
    use crate::Mix;

    fn seconds(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    fn workload(sim: &sim_core::Simulation<toy::ToyStore>) -> &KvWorkload {
        crate::kv_workload(sim).expect("the toy run has a kv workload")
    }

    /// The recorded history reads back through the checker's parser, which validates it: every
    /// completion matches an invoke of its process, no process has two operations in flight, and
    /// no process acts after an info.
    fn assert_well_formed(workload: &KvWorkload) {
        let text = kept(workload).to_json().to_string();
        let parsed = parse_history(&text, "recorded", None);
        assert!(
            parsed.is_ok(),
            "the recorded history is malformed: {:?}",
            parsed.err()
        );
        let mut ended: BTreeSet<u64> = BTreeSet::new();
        let mut open: BTreeSet<u64> = BTreeSet::new();
        for event in kept(workload).events() {
            assert!(
                !ended.contains(&event.process),
                "process {} acts after an info",
                event.process
            );
            match event.kind {
                EventKind::Invoke => assert!(open.insert(event.process), "two ops in flight"),
                EventKind::Info => {
                    open.remove(&event.process);
                    ended.insert(event.process);
                }
                EventKind::Ok | EventKind::Fail => {
                    open.remove(&event.process);
                }
            }
        }
    }

    fn kept(workload: &KvWorkload) -> &History {
        workload.history().expect("the toy run keeps its history")
    }

    /// The whole history is linearizable, and the check made as it was recorded agrees, or
    /// gave up for the one reason it may where the whole-history search need not: more possible
    /// configurations at a cut than it carries (info appends multiply them).
    fn assert_linearizable(workload: &KvWorkload) {
        match workload.linearizability().verdict {
            sim_check::Verdict::Linearizable => {}
            sim_check::Verdict::Unknown { reason } if reason.contains("possible at once") => {}
            other => panic!("the check made as the history was recorded says {other:?}"),
        }
        let result = sim_check::check(kept(workload), &sim_check::Budget::default());
        assert_eq!(
            result.verdict,
            sim_check::Verdict::Linearizable,
            "{}",
            sim_check::render_text(&result, kept(workload))
        );
    }

    /// A correct store answers every operation: the history is linearizable and nothing is info
    /// except what was pending when the run stopped.
    #[test]
    fn a_correct_store_gives_a_linearizable_history() {
        let sim = toy::run(
            WorkloadParams::default(),
            Faults::default(),
            1,
            7,
            seconds(3),
        );
        let workload = workload(&sim);
        let counts = workload.counts();
        assert!(counts.ok > 100, "{counts}");
        assert_eq!(counts.info, counts.pending, "{counts}");
        assert!(counts.pending <= 3, "{counts}");
        assert_well_formed(workload);
        assert_linearizable(workload);
        // Compare-and-set uses the last value seen, so some succeed and some fail.
        let records = workload.records();
        let cas: Vec<_> = records
            .iter()
            .filter(|r| r.kind == OpKind::Cas.name())
            .collect();
        assert!(cas.iter().any(|r| r.status == OpStatus::Ok));
    }

    /// The same seed gives the same run: trace hash and history alike.
    #[test]
    fn the_same_seed_gives_the_same_run() {
        let run = |seed| {
            let faults = Faults {
                not_leader: 0.1,
                drop_after_apply: 0.05,
                ..Faults::default()
            };
            let sim = toy::run(WorkloadParams::default(), faults, 3, seed, seconds(2));
            (sim.trace_hash(), workload(&sim).history_json())
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11).0, run(12).0);
    }

    /// Every write carries a value no other write uses.
    #[test]
    fn written_values_are_unique() {
        let sim = toy::run(
            WorkloadParams::default(),
            Faults::default(),
            1,
            3,
            seconds(2),
        );
        let mut seen = BTreeSet::new();
        for event in kept(workload(&sim)).events() {
            if event.kind != EventKind::Invoke {
                continue;
            }
            let written = match event.f {
                OpFn::Write | OpFn::Append => event.value.clone(),
                OpFn::Cas => event.value[1].clone(),
                _ => continue,
            };
            assert!(seen.insert(written.to_string()), "{written} written twice");
        }
        assert!(seen.len() > 50);
    }

    /// Followers redirect and a flaky leader redirects or answers unavailable; clients follow
    /// the hints, back off when there is none, and still complete operations, retrying the same (client, seq).
    #[test]
    fn redirects_are_followed_to_the_leader() {
        let faults = Faults {
            not_leader: 0.3,
            ..Faults::default()
        };
        let sim = toy::run(WorkloadParams::default(), faults, 3, 5, seconds(3));
        let workload = workload(&sim);
        let counts = workload.counts();
        assert!(counts.ok > 50, "{counts}");
        assert_eq!(counts.info, counts.pending, "{counts}");
        assert!(workload.records().iter().any(|r| r.attempts > 1));
        assert_well_formed(workload);
        assert_linearizable(workload);
    }

    /// Lost requests and answers end in retries, and when `op_timeout` passes, in info; the
    /// client goes on as a fresh process and the history stays well formed and linearizable
    /// (the store's sessions apply each retried write once).
    #[test]
    fn lost_answers_end_in_info_under_a_fresh_process() {
        let faults = Faults {
            drop_after_apply: 0.4,
            drop_before_apply: 0.2,
            ..Faults::default()
        };
        let params = WorkloadParams {
            request_timeout: SimDuration::from_millis(20),
            op_timeout: SimDuration::from_millis(50),
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, faults, 2, 9, seconds(3));
        let workload = workload(&sim);
        let counts = workload.counts();
        assert!(counts.info > counts.pending, "{counts}");
        assert!(counts.ok > 20, "{counts}");
        let processes = kept(workload).processes();
        assert!(processes.len() > workload.client_count(), "{processes:?}");
        assert_well_formed(workload);
        assert_linearizable(workload);
    }

    /// A store that never answers: every operation ends in info after `op_timeout`, and each
    /// client moves on under a fresh process each time.
    #[test]
    fn a_silent_store_yields_only_info() {
        let faults = Faults {
            silent_after: Some(SimTime::ZERO),
            ..Faults::default()
        };
        let params = WorkloadParams {
            clients: 2,
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, faults, 1, 1, seconds(5));
        let workload = workload(&sim);
        let counts = workload.counts();
        assert_eq!(counts.ok + counts.fail, 0);
        // Two clients, 2s per operation plus a think time, over 5s.
        assert!(counts.info >= 4, "{counts}");
        let records = workload.records();
        let given_up = records.iter().filter(|r| r.status == OpStatus::Info);
        assert!(
            given_up.clone().all(|r| r.attempts == 4),
            "{:?}",
            workload.records()
        );
        assert_well_formed(workload);
    }

    /// Wake-ups are shared between a client's deadlines, so the queue holds a few per client
    /// rather than one per operation timeout, request timeout and think time ever armed. Under
    /// lost answers and redirects, where every deadline comes into play.
    #[test]
    fn a_client_keeps_few_wake_ups_pending() {
        let faults = Faults {
            not_leader: 0.1,
            drop_after_apply: 0.2,
            drop_before_apply: 0.1,
            ..Faults::default()
        };
        let params = WorkloadParams {
            clients: 4,
            request_timeout: SimDuration::from_millis(30),
            op_timeout: SimDuration::from_millis(100),
            ..WorkloadParams::default()
        };
        let mut armed_max = 0;
        let mut queue_max = 0;
        let sim = toy::run_observed(params, faults, 3, 8, seconds(5), |sim| {
            let workload = workload(sim);
            for armed in workload.engine().armed() {
                armed_max = armed_max.max(armed.len());
                assert!(
                    armed.iter().all(|&t| t >= sim.now()),
                    "a wake-up was missed"
                );
                assert!(armed.windows(2).all(|w| w[0] > w[1]), "{armed:?}");
            }
            queue_max = queue_max.max(sim.queue_len());
        });
        let workload = workload(&sim);
        let counts = workload.counts();
        assert!(counts.ok > 300, "{counts}");
        assert!(counts.info > counts.pending + 10, "{counts}");
        assert!(
            armed_max <= 3,
            "{armed_max} wake-ups pending for one client"
        );
        // Per client: its wake-ups, a request and a reply in flight, a little slack for the
        // requests of earlier attempts.
        assert!(queue_max <= 4 * 6, "{queue_max} events pending");
        assert_well_formed(workload);
        assert_linearizable(workload);
    }

    /// Sharing wake-ups moves no deadline: against a silent store, each attempt times out
    /// `request_timeout` after it was sent and each operation is given up exactly `op_timeout`
    /// after its invoke, even though most wake-ups fire for a deadline that has moved.
    #[test]
    fn timeouts_fire_exactly_on_their_deadlines() {
        let faults = Faults {
            silent_after: Some(SimTime::ZERO),
            ..Faults::default()
        };
        let params = WorkloadParams {
            clients: 3,
            request_timeout: SimDuration::from_millis(300),
            op_timeout: SimDuration::from_millis(1000),
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, faults, 1, 6, seconds(6));
        let records = workload(&sim).records();
        let given_up: Vec<_> = records
            .iter()
            .filter(|r| r.status == OpStatus::Info)
            .collect();
        assert!(given_up.len() >= 12, "{given_up:?}");
        for record in given_up {
            let taken = record
                .completed_at
                .map(|t| t.saturating_since(record.invoked_at));
            assert_eq!(taken, Some(SimDuration::from_millis(1000)), "{record:?}");
            // Sent at 0, 300, 600 and 900ms.
            assert_eq!(record.attempts, 4, "{record:?}");
        }
    }

    /// `max_ops` and `stop_at` bound what clients invoke; `start_after` delays the first.
    #[test]
    fn clients_start_and_stop_when_told() {
        let params = WorkloadParams {
            clients: 2,
            max_ops: Some(5),
            start_after: seconds(1),
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, Faults::default(), 1, 2, seconds(3));
        let records = workload(&sim).records();
        assert_eq!(records.len(), 10);
        assert!(records
            .iter()
            .all(|r| r.invoked_at >= SimTime::ZERO + seconds(1)));
        let params = WorkloadParams {
            stop_at: Some(seconds(1)),
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, Faults::default(), 1, 2, seconds(3));
        let records = workload(&sim).records();
        assert!(records
            .iter()
            .all(|r| r.invoked_at < SimTime::ZERO + seconds(1)));
        assert!(records
            .iter()
            .all(|r| matches!(r.status, OpStatus::Ok | OpStatus::Fail)));
    }

    /// Under zipf the first key is the hottest.
    #[test]
    fn zipf_prefers_the_first_keys() {
        let params = WorkloadParams {
            keys: 4,
            distribution: crate::Distribution::Zipf,
            zipf_exponent: 2.0,
            ..WorkloadParams::default()
        };
        let sim = toy::run(params, Faults::default(), 1, 4, seconds(2));
        let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
        for event in kept(workload(&sim)).events() {
            *per_key
                .entry(event.key.clone().unwrap_or_default())
                .or_default() += 1;
        }
        assert!(per_key["k0"] > per_key["k1"], "{per_key:?}");
        assert!(
            per_key["k1"] > per_key.get("k3").copied().unwrap_or(0),
            "{per_key:?}"
        );
    }

    /// Neither check may call a correct store's history non-linearizable. Each may give up on a
    /// hard one: lost appends and compare-and-sets with no read to pin them down leave
    /// exponentially many orders possible (one such case takes the whole check 23M states), so
    /// both searches are bounded.
    fn assert_never_refuted(workload: &KvWorkload) {
        let incremental = workload.linearizability().verdict;
        assert!(
            !matches!(incremental, sim_check::Verdict::NotLinearizable),
            "the check made as the history was recorded says {incremental:?}"
        );
        let budget = sim_check::Budget {
            max_states: TOY_STATE_BUDGET,
            ..sim_check::Budget::default()
        };
        let whole = sim_check::check(kept(workload), &budget);
        match &whole.verdict {
            sim_check::Verdict::Linearizable => {}
            sim_check::Verdict::Unknown { reason } if reason.contains("state budget") => {}
            other => panic!(
                "{other:?}: {}",
                sim_check::render_text(&whole, kept(workload))
            ),
        }
    }

    /// The state budget of each search in the property test below: a few seconds at most in a
    /// debug build.
    const TOY_STATE_BUDGET: u64 = 200_000;

    proptest! {
        // The cases are the same on every run: a test suite's time must not depend on which
        // random parameters a run happened to draw.
        #![proptest_config(ProptestConfig {
            cases: 24,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_70e5),
            ..ProptestConfig::default()
        })]

        /// Whatever the parameters, a correct store (with redirects and lost answers) gives a
        /// well-formed history that no check refutes.
        #[test]
        fn toy_histories_are_well_formed_and_never_refuted(
            clients in 1usize..5,
            keys in 1usize..4,
            weights in proptest::array::uniform4(0u8..4),
            seed in 0u64..1000,
            not_leader in 0.0f64..0.3,
            lost in 0.0f64..0.3,
            node_count in 1usize..4,
        ) {
            let [get, put, cas, append] = weights.map(f64::from);
            let mix = if get + put + cas + append == 0.0 {
                Mix::default()
            } else {
                Mix { get, put, cas, append }
            };
            let params = WorkloadParams {
                clients,
                keys,
                mix,
                request_timeout: SimDuration::from_millis(30),
                op_timeout: SimDuration::from_millis(100),
                ..WorkloadParams::default()
            };
            prop_assert_eq!(params.validate(node_count), Ok(()));
            let faults = Faults { not_leader, drop_after_apply: lost, ..Faults::default() };
            let recorded = KvWorkload::new(params, node_count).with_state_budget(TOY_STATE_BUDGET);
            let duration = SimDuration::from_millis(1500);
            let sim = toy::run_workload(recorded, faults, node_count, seed, duration, |_| {});
            let workload = workload(&sim);
            assert_well_formed(workload);
            assert_never_refuted(workload);
        }
    }

    #[test]
    fn history_values_follow_the_format() {
        let cas = KvOp::Cas {
            key: "k".into(),
            expected: None,
            new: "c1-2".into(),
        };
        assert_eq!(
            history_invoke(&cas),
            (OpFn::Cas, serde_json::json!([null, "c1-2"]))
        );
        let get = KvOp::Get { key: "k".into() };
        assert_eq!(history_invoke(&get), (OpFn::Read, Value::Null));
    }
}
