//! Checking a history while it is recorded, in memory that does not grow with its length.
//!
//! Owns [`Incremental`], a recorder with the same `invoke`/`complete` calls as [`History`] that
//! keeps only what is still undecided, and [`IncrementalResult`], its verdict.
//!
//! How it works: operations are split by object (kv key), as in `check`. A *cut* on a key is a
//! moment at which no operation on it is in flight. Every operation that completed ok before a
//! cut precedes, in real time, every operation invoked after it, so any linearization of the key
//! is the linearization of the *segment* before the cut followed by that of the rest; the only
//! operations that cross a cut are those that ended `info` (or never ended): they may take effect
//! at any later time, or never. What a segment leaves behind is therefore a *frontier*: the set of
//! configurations (model state, info operations not yet applied) in which some linearization of
//! everything so far can end. At each cut the segment is searched exhaustively from every
//! configuration of the frontier, the configurations in which all its ok operations have taken
//! effect become the new frontier, and the segment's operations are dropped. A configuration with
//! fewer open info operations than another of the same state is dropped too (it can do nothing
//! the other cannot), and so are info operations that change nothing (reads).
//!
//! Soundness: the frontier after a cut is exactly the set of configurations reachable by a
//! linearization of the operations so far that applies every ok one (an end configuration that
//! applies an open info operation right away is the same as carrying it, since the next segment
//! may apply carried operations first). So an empty frontier proves the key not linearizable, and
//! a non-empty frontier at the end proves it linearizable: the verdict is the whole-history
//! check's. A budget that runs out (states per segment, or configurations in the frontier) makes
//! the key `unknown`, never linearizable. The check runs on the recording thread in recording
//! order, so it depends on nothing but the history.
//!
//! The search of a segment lives in `stretch` (`Stretch`: a subsumption memo, reads first,
//! info operations that cannot matter pruned). Not every quiescent moment is taken as a cut: when
//! the frontier would be large, when info operations no read of the segment sees could end it in
//! every order, or when every end is too many to find, the segment goes on to the next quiescent
//! moment, which is the same check with one cut fewer. `defer` bounds how far (moments,
//! operations, trial states), and `cuts` takes every skipped moment as a cut after all when a
//! bound is reached or the longer segment is too hard.
//!
//! A failing segment is explained as `check` explains a history: the segment (with the info
//! operations it carried in) is checked again as a small history of its own, from the first
//! state of the frontier, and rendered with [`render_text`](crate::render_text).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::check::{check_with, CheckResult, KeyResult, Verdict};
use crate::cuts::Context;
use crate::defer::Skipped;
use crate::history::{describe_key, Event, EventKind, History, ModelKind, OpFn, OpIndex};
use crate::history::{Operation, Outcome};
use crate::model::{Model, Replay, StateTest};
use crate::report::render_text;
use crate::stretch::Config;
use crate::Budget;

/// The most configurations a key's frontier may hold; more make the key unknown.
pub const FRONTIER_MAX: usize = 4096;

/// A recorder that checks a history as it grows; see the module docs.
pub struct Incremental<M: Model> {
    kind: ModelKind,
    model: M,
    init: Value,
    /// The most configurations one segment's search may explore.
    max_states: u64,
    /// Events recorded so far: the index the next event would have in the whole history.
    event_count: usize,
    op_count: usize,
    /// The key of every operation in flight, by its invoke index.
    in_flight: BTreeMap<usize, Option<String>>,
    keys: BTreeMap<Option<String>, KeyState<M::State>>,
    /// The first segment found not linearizable, in recording order.
    failure: Option<SegmentFailure>,
}

impl<M: Model> std::fmt::Debug for Incremental<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incremental")
            .field("kind", &self.kind)
            .field("event_count", &self.event_count)
            .field("op_count", &self.op_count)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// An operation of a segment, with its real times.
#[derive(Clone, Debug)]
pub(crate) struct SegmentOp {
    pub(crate) op: Operation,
    pub(crate) invoked_ns: u64,
    pub(crate) completed_ns: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Checking,
    NotLinearizable,
    Unknown(String),
}

/// What the check knows of one key: its frontier at the last cut and the segment since.
#[derive(Clone)]
pub(crate) struct KeyState<S> {
    /// The operations since the last cut, in invoke order, failed ones included.
    pub(crate) segment: Vec<SegmentOp>,
    /// Operations on this key in flight.
    pub(crate) in_flight: usize,
    pub(crate) frontier: Vec<Config<S>>,
    /// The info operations some configuration of the frontier still holds open.
    pub(crate) carried: BTreeMap<usize, SegmentOp>,
    pub(crate) status: Status,
    pub(crate) op_count: usize,
    pub(crate) states_explored: u64,
    /// When the last cut was, for messages.
    pub(crate) cut_ns: u64,
    /// The quiescent moments the segment went on past.
    pub(crate) skipped: Skipped,
}

/// Why a segment is not linearizable: the segment as a small history and its check.
#[derive(Clone, Debug)]
pub struct SegmentFailure {
    pub key: Option<String>,
    /// The cut the segment started at and the one it ended at (simulated nanoseconds).
    pub from_ns: u64,
    pub to_ns: u64,
    /// The states the key could be in at the first cut, described.
    pub start_states: Vec<Value>,
    /// The segment (and the info operations it carried in) as a history of its own.
    pub history: History,
    /// Its check from the first start state.
    pub result: CheckResult,
    /// For each operation of `history` (by its invoke index there), its index in the whole
    /// history.
    pub whole_index: BTreeMap<usize, usize>,
}

impl SegmentFailure {
    /// The explanation in words: the segment, the states it could start in, and the check of
    /// the segment with its operations renamed by their numbers in the whole history.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "key {} is not linearizable in the stretch from t={} to t={} (no operation on it was \
             in flight at either end)\n",
            describe_key(self.key.as_deref()),
            crate::incremental::seconds(self.from_ns),
            crate::incremental::seconds(self.to_ns),
        );
        let states: Vec<String> = self
            .start_states
            .iter()
            .map(crate::history::short_json)
            .collect();
        out.push_str(&format!(
            "  the key could hold {} at t={}; from none of them do the {} operations below fit\n",
            states.join(" or "),
            crate::incremental::seconds(self.from_ns),
            self.history.operations().len(),
        ));
        let names: Vec<String> = self
            .whole_index
            .iter()
            .map(|(local, whole)| format!("{local}={whole}"))
            .collect();
        out.push_str(&format!(
            "  op numbers below count within the stretch; in the whole history (--history) they \
             are: {}\n",
            names.join(", ")
        ));
        out.push_str(&render_text(&self.result, &self.history));
        out
    }
}

fn seconds(ns: u64) -> String {
    let whole = ns / 1_000_000_000;
    let fraction = ns % 1_000_000_000;
    if fraction == 0 {
        format!("{whole}s")
    } else {
        let text = format!("{whole}.{fraction:09}");
        format!("{}s", text.trim_end_matches('0'))
    }
}

/// What [`Incremental::result`] found.
#[derive(Clone, Debug)]
pub struct IncrementalResult {
    pub verdict: Verdict,
    pub op_count: usize,
    /// One per key, in key order.
    pub keys: Vec<KeyResult>,
    pub states_explored: u64,
    /// Present when the verdict is not linearizable: the first failing segment in time.
    pub failure: Option<SegmentFailure>,
}

impl<M: Model> Incremental<M>
where
    M::State: Sync,
{
    /// A recorder for histories of `kind`, checked against `model` from `init`; each segment's
    /// search may explore `max_states` configurations.
    pub fn new(kind: ModelKind, model: M, init: Value, max_states: u64) -> Self {
        Incremental {
            kind,
            model,
            init,
            max_states,
            event_count: 0,
            op_count: 0,
            in_flight: BTreeMap::new(),
            keys: BTreeMap::new(),
            failure: None,
        }
    }

    /// The states each segment's search may explore.
    pub fn max_states(&self) -> u64 {
        self.max_states
    }

    /// Operations invoked so far.
    pub fn op_count(&self) -> usize {
        self.op_count
    }

    /// Records that `process` invoked `f`; the returned index is the one the invoke event has in
    /// the whole history.
    pub fn invoke(
        &mut self,
        process: u64,
        f: OpFn,
        key: Option<String>,
        value: Value,
        time_ns: u64,
    ) -> OpIndex {
        let index = self.event_count;
        self.event_count += 1;
        self.op_count += 1;
        let op = Operation {
            index,
            process,
            f,
            key,
            input: value,
            output: None,
            outcome: Outcome::Info,
            complete_index: None,
        };
        let partition = self.model.partition(&op);
        let init = &self.init;
        let model = &self.model;
        let state = self
            .keys
            .entry(partition.clone())
            .or_insert_with(|| KeyState {
                segment: Vec::new(),
                in_flight: 0,
                frontier: vec![Config {
                    state: model.init(init),
                    open: Vec::new(),
                }],
                carried: BTreeMap::new(),
                status: Status::Checking,
                op_count: 0,
                states_explored: 0,
                cut_ns: 0,
                skipped: Skipped::default(),
            });
        state.op_count += 1;
        state.in_flight += 1;
        if state.status == Status::Checking {
            state.segment.push(SegmentOp {
                op,
                invoked_ns: time_ns,
                completed_ns: None,
            });
        }
        self.in_flight.insert(index, partition);
        OpIndex(index)
    }

    /// Records how `op` ended (for an ok read, `value` is what it read). When no operation on
    /// its key is left in flight, the key's segment is checked and dropped.
    ///
    /// # Panics
    /// If `op` is not in flight: that is a bug in the recorder.
    pub fn complete(&mut self, op: OpIndex, outcome: Outcome, value: Value, time_ns: u64) {
        let index = self.event_count;
        self.event_count += 1;
        let Some(partition) = self.in_flight.remove(&op.0) else {
            panic!("incremental history: op {} is not in flight", op.0);
        };
        let Some(state) = self.keys.get_mut(&partition) else {
            panic!("incremental history: op {} has no key state", op.0);
        };
        state.in_flight -= 1;
        if let Some(entry) = state.segment.iter_mut().rev().find(|s| s.op.index == op.0) {
            entry.op.outcome = outcome;
            entry.op.complete_index = Some(index);
            entry.completed_ns = Some(time_ns);
            if outcome == Outcome::Ok {
                entry.op.output = Some(value);
            }
        }
        if state.in_flight == 0 && state.status == Status::Checking {
            let failure = self.cut(&partition, time_ns);
            if self.failure.is_none() {
                self.failure = failure;
            }
        }
    }

    /// Checks the segment of `partition` against its frontier and moves the frontier past it,
    /// or lets the segment go on past this quiescent moment.
    fn cut(&mut self, partition: &Option<String>, time_ns: u64) -> Option<SegmentFailure> {
        let state = self.keys.get_mut(partition)?;
        let context = Context {
            kind: self.kind,
            model: &self.model,
            partition,
            max_states: self.max_states,
        };
        state.quiescent(&context, time_ns)
    }

    /// The verdict on everything recorded so far; operations still in flight count as info.
    /// Costs one search of each key's open segment; the recorder is left as it was.
    pub fn result(&self) -> IncrementalResult {
        let mut failure = self.failure.clone();
        let mut keys = Vec::new();
        let mut states_explored = 0;
        let mut unknown_reason = None;
        for (partition, state) in &self.keys {
            let mut state = state.clone();
            let context = Context {
                kind: self.kind,
                model: &self.model,
                partition,
                max_states: self.max_states,
            };
            let found = state.finish(&context);
            if failure.is_none() {
                failure = found;
            }
            states_explored += state.states_explored;
            let verdict = match &state.status {
                Status::Checking => Verdict::Linearizable,
                Status::NotLinearizable => Verdict::NotLinearizable,
                Status::Unknown(reason) => {
                    unknown_reason.get_or_insert_with(|| reason.clone());
                    Verdict::Unknown {
                        reason: reason.clone(),
                    }
                }
            };
            keys.push(KeyResult {
                key: partition.clone(),
                op_count: state.op_count,
                verdict: Some(verdict),
                states_explored: state.states_explored,
            });
        }
        let verdict = if failure.is_some() {
            Verdict::NotLinearizable
        } else if let Some(reason) = unknown_reason {
            Verdict::Unknown { reason }
        } else {
            Verdict::Linearizable
        };
        IncrementalResult {
            verdict,
            op_count: self.op_count,
            keys,
            states_explored,
            failure,
        }
    }
}

/// Records every event of `history` into an [`Incremental`] recorder (in the history's order)
/// and returns its result: the incremental check of a whole history, for tests and comparisons.
pub fn check_incrementally<M: Model>(
    history: &History,
    model: M,
    budget: &Budget,
) -> IncrementalResult
where
    M::State: Sync,
{
    let mut recorder = Incremental::new(
        history.model(),
        model,
        history.init().clone(),
        budget.max_states,
    );
    let mut open: BTreeMap<u64, OpIndex> = BTreeMap::new();
    for event in history.events() {
        let time_ns = event.time_ns.unwrap_or(0);
        match event.kind {
            EventKind::Invoke => {
                let op = recorder.invoke(
                    event.process,
                    event.f,
                    event.key.clone(),
                    event.value.clone(),
                    time_ns,
                );
                open.insert(event.process, op);
            }
            EventKind::Ok | EventKind::Fail | EventKind::Info => {
                // A validated history completes only what its process invoked.
                if let Some(op) = open.remove(&event.process) {
                    let outcome = match event.kind {
                        EventKind::Ok => Outcome::Ok,
                        EventKind::Fail => Outcome::Fail,
                        _ => Outcome::Info,
                    };
                    recorder.complete(op, outcome, event.value.clone(), time_ns);
                }
            }
        }
    }
    recorder.result()
}

/// The failure of `segment` as a small history of its own, checked from the frontier's first
/// state.
pub(crate) fn explain<M: Model>(
    kind: ModelKind,
    model: &M,
    partition: &Option<String>,
    key: &KeyState<M::State>,
    segment: &[SegmentOp],
    (from_ns, to_ns): (u64, u64),
    max_states: u64,
) -> SegmentFailure
where
    M::State: Sync,
{
    let first = key.frontier.first();
    let carried = key
        .carried
        .values()
        .filter(|s| first.is_some_and(|c| c.open.binary_search(&s.op.index).is_ok()));
    let (history, whole_index) = stretch_history(kind, carried.chain(segment));
    let start_states = key
        .frontier
        .iter()
        .take(8)
        .map(|c| model.describe(&c.state))
        .collect();
    let result = match first {
        Some(config) => {
            let start = StartAt {
                model,
                state: config.state.clone(),
            };
            let budget = Budget {
                max_states,
                ..Budget::default()
            };
            check_with(&history, &start, &budget)
        }
        None => crate::check::check(&history, &Budget::default()),
    };
    SegmentFailure {
        key: partition.clone(),
        from_ns,
        to_ns,
        start_states,
        history,
        result,
        whole_index,
    }
}

/// The events of `ops` as a history of their own, in their whole-history order, and each
/// operation's index in the whole history by its index in the new one.
fn stretch_history<'a>(
    kind: ModelKind,
    ops: impl Iterator<Item = &'a SegmentOp>,
) -> (History, BTreeMap<usize, usize>) {
    let mut events: BTreeMap<usize, Event> = BTreeMap::new();
    for s in ops {
        let op = &s.op;
        let event = |kind: EventKind, value: Value, time_ns: Option<u64>| Event {
            process: op.process,
            kind,
            f: op.f,
            key: op.key.clone(),
            value,
            time_ns,
        };
        events.insert(
            op.index,
            event(EventKind::Invoke, op.input.clone(), Some(s.invoked_ns)),
        );
        if let Some(complete) = op.complete_index {
            let value = op.output.clone().unwrap_or(Value::Null);
            events.insert(complete, event(op.outcome.into(), value, s.completed_ns));
        }
    }
    let mut history = History::new(kind, Value::Null);
    let mut whole_index = BTreeMap::new();
    for (whole, event) in events {
        let local = history.events().len();
        let is_invoke = event.kind == EventKind::Invoke;
        // The events come from a recorder that kept them well formed.
        if history.push(event).is_ok() && is_invoke {
            whole_index.insert(local, whole);
        }
    }
    (history, whole_index)
}

/// A model that starts in a given state instead of the history's `init`: the segment after a
/// cut starts where the frontier says. It claims nothing that depends on the initial value.
struct StartAt<'m, M: Model> {
    model: &'m M,
    state: M::State,
}

impl<M: Model> Model for StartAt<'_, M>
where
    M::State: Sync,
{
    type State = M::State;

    fn init(&self, _init: &Value) -> Self::State {
        self.state.clone()
    }

    fn step(&self, state: &Self::State, op: &Operation) -> Option<Self::State> {
        self.model.step(state, op)
    }

    fn describe(&self, state: &Self::State) -> Value {
        self.model.describe(state)
    }

    fn replay(
        &self,
        _init: &Value,
        prefix: &[&Operation],
        tail_len: usize,
        candidates: &[&Operation],
    ) -> Replay {
        let mut state = self.state.clone();
        let tail_start = prefix.len().saturating_sub(tail_len);
        let mut tail = Vec::new();
        for (step, op) in prefix.iter().enumerate() {
            if let Some(next) = self.model.step(&state, op) {
                state = next;
            }
            if step >= tail_start {
                tail.push(self.model.describe(&state));
            }
        }
        Replay {
            tail,
            state: self.model.describe(&state),
            reasons: candidates
                .iter()
                .map(|op| self.model.explain(&state, op))
                .collect(),
        }
    }

    fn state_bytes(&self, state: &Self::State) -> usize {
        self.model.state_bytes(state)
    }

    fn explain(&self, state: &Self::State, op: &Operation) -> String {
        self.model.explain(state, op)
    }

    fn read_only(&self, op: &Operation) -> bool {
        self.model.read_only(op)
    }

    fn admits(&self, state: &Self::State, op: &Operation) -> bool {
        self.model.admits(state, op)
    }

    fn overwrites(&self, op: &Operation) -> bool {
        self.model.overwrites(op)
    }

    fn unobservable<'s>(&'s self, _init: &Value, _ops: &[Operation]) -> StateTest<'s, Self::State> {
        Box::new(|_| false)
    }

    fn partition(&self, op: &Operation) -> Option<String> {
        self.model.partition(op)
    }

    fn effect_key(&self, op: &Operation) -> Option<String> {
        self.model.effect_key(op)
    }

    fn irrelevant(&self, _init: &Value, ops: &[Operation]) -> Vec<bool> {
        // The search starts from `state`: say so in the terms the model reads, a JSON value.
        self.model
            .irrelevant(&self.model.describe(&self.state), ops)
    }
}

#[cfg(test)]
#[path = "incremental_tests.rs"]
mod tests;
