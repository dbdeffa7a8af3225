//! One key-value client history, recorded as it happens in up to three places: the incremental
//! linearizability checker (always: it checks each key's stretch of history at quiescent cuts and
//! forgets it, so a run's memory does not grow with its simulated time), the whole
//! [`sim_check::History`] (only when an output asks for it: `--history`, `--report`,
//! `sim compare`), and a history file written as it is recorded (`--history FILE`).
//!
//! Owns [`Recorder`]. Every store whose clients record a kv history (Raft's through
//! [`crate::KvClient`], the quorum store's) records through it, so the three stay in step.

use std::collections::BTreeMap;

use serde_json::Value;
use sim_check::{
    Event, EventKind, History, HistoryWriter, Incremental, IncrementalResult, Kv, ModelKind, OpFn,
    OpIndex, Outcome,
};

/// Where a kv client history goes; see the module docs.
#[derive(Debug)]
pub struct Recorder {
    /// Checks the history as it is recorded and forgets what it checked.
    checker: Incremental<Kv>,
    /// The whole history, kept only when an output asks for it ([`Recorder::keep`]).
    history: Option<History>,
    /// Where the history is written as it is recorded (`--history FILE`), if anywhere.
    out: Option<HistoryWriter>,
    /// While the history is written: each operation in flight's process, function and key, for
    /// its completion event.
    in_flight: BTreeMap<OpIndex, (u64, OpFn, String)>,
}

impl Recorder {
    /// A recorder whose checker may explore `max_states` states per stretch of a key's history.
    pub fn new(max_states: u64) -> Self {
        Recorder {
            checker: Incremental::new(ModelKind::Kv, Kv, Value::Null, max_states),
            history: None,
            out: None,
            in_flight: BTreeMap::new(),
        }
    }

    /// Each stretch of a key's history may explore `max_states` states (call it before the run).
    pub fn set_state_budget(&mut self, max_states: u64) {
        self.checker = Incremental::new(ModelKind::Kv, Kv, Value::Null, max_states);
    }

    /// The states each stretch of a key's history may explore.
    pub fn max_states(&self) -> u64 {
        self.checker.max_states()
    }

    /// Keep the whole history from now on (call it before the run), for `--history` and reports.
    pub fn keep(&mut self) {
        if self.history.is_none() {
            self.history = Some(History::new(ModelKind::Kv, Value::Null));
        }
    }

    /// Write the history to `out` as it is recorded; [`Recorder::end`] closes it.
    pub fn stream(&mut self, out: Box<dyn std::io::Write>) {
        self.out = Some(HistoryWriter::new(out, ModelKind::Kv, &Value::Null));
    }

    /// Closes the streamed history: the first error writing it, if any.
    pub fn end(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Some(out) => out.finish(),
            None => Ok(()),
        }
    }

    /// The whole history, when it was kept ([`Recorder::keep`]).
    pub fn history(&self) -> Option<&History> {
        self.history.as_ref()
    }

    /// The linearizability verdict on the history so far (operations in flight count as info).
    pub fn result(&self) -> IncrementalResult {
        self.checker.result()
    }

    /// Records that `process` invoked `f` on `key` with `argument` at `time_ns`; the index names
    /// the operation when it completes.
    pub fn invoke(
        &mut self,
        process: u64,
        f: OpFn,
        key: &str,
        argument: Value,
        time_ns: u64,
    ) -> OpIndex {
        if let Some(out) = &mut self.out {
            out.event(&Event {
                process,
                kind: EventKind::Invoke,
                f,
                key: Some(key.to_string()),
                value: argument.clone(),
                time_ns: Some(time_ns),
            });
        }
        if let Some(kept) = &mut self.history {
            kept.invoke(process, f, Some(key.to_string()), argument.clone(), time_ns);
        }
        let index = self
            .checker
            .invoke(process, f, Some(key.to_string()), argument, time_ns);
        if self.out.is_some() {
            self.in_flight.insert(index, (process, f, key.to_string()));
        }
        index
    }

    /// Records that operation `op` ended with `outcome` and `value` at `time_ns`.
    pub fn complete(&mut self, op: OpIndex, outcome: Outcome, value: Value, time_ns: u64) {
        if let (Some(out), Some((process, f, key))) = (&mut self.out, self.in_flight.remove(&op)) {
            out.event(&Event {
                process,
                kind: outcome.into(),
                f,
                key: Some(key),
                value: value.clone(),
                time_ns: Some(time_ns),
            });
        }
        if let Some(kept) = &mut self.history {
            kept.complete(op, outcome, value.clone(), time_ns);
        }
        self.checker.complete(op, outcome, value, time_ns);
    }
}
