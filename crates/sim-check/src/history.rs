//! Histories: the events a set of client processes recorded, in real-time order.
//!
//! Owns [`History`] (the validated list of [`Event`]s plus the model and its initial value), the
//! builder the simulator records with ([`History::invoke`], [`History::complete`],
//! [`History::push`]), the writers of the interchange format ([`History::to_json`],
//! [`History::write_json`], [`History::write_jsonl`]) and the pairing of events into
//! [`Operation`]s that the checker works on.
//! Reading a history from text lives in `parse`; what an operation means lives in `model`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use serde_json::{json, Value};

use crate::parse::HistoryError;

/// The sequential object a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelKind {
    /// A single read/write/compare-and-set register.
    Register,
    /// A map of independent registers, one per key, that also support `append`.
    Kv,
    /// A lock: `acquire` and `release`.
    Mutex,
}

impl ModelKind {
    /// The name used in the interchange format and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::Kv => "kv",
            ModelKind::Mutex => "mutex",
        }
    }

    /// The operation functions this model accepts.
    pub fn functions(self) -> &'static [OpFn] {
        match self {
            ModelKind::Register => &[OpFn::Read, OpFn::Write, OpFn::Cas],
            ModelKind::Kv => &[OpFn::Read, OpFn::Write, OpFn::Cas, OpFn::Append],
            ModelKind::Mutex => &[OpFn::Acquire, OpFn::Release],
        }
    }

    /// Whether every operation of this model names a key.
    pub fn has_keys(self) -> bool {
        self == ModelKind::Kv
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "register" => Ok(ModelKind::Register),
            "kv" => Ok(ModelKind::Kv),
            "mutex" => Ok(ModelKind::Mutex),
            other => Err(format!(
                "expected one of register, kv, mutex, found {:?}",
                other
            )),
        }
    }
}

/// What an operation does; the `f` field of the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpFn {
    Read,
    Write,
    /// Compare-and-set; the value is `[expected, new]`.
    Cas,
    /// String concatenation onto the current value (kv only).
    Append,
    Acquire,
    Release,
}

impl OpFn {
    pub const ALL: [OpFn; 6] = [
        OpFn::Read,
        OpFn::Write,
        OpFn::Cas,
        OpFn::Append,
        OpFn::Acquire,
        OpFn::Release,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpFn::Read => "read",
            OpFn::Write => "write",
            OpFn::Cas => "cas",
            OpFn::Append => "append",
            OpFn::Acquire => "acquire",
            OpFn::Release => "release",
        }
    }
}

impl fmt::Display for OpFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OpFn {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        OpFn::ALL
            .iter()
            .copied()
            .find(|function| function.name() == text)
            .ok_or_else(|| {
                format!(
                    "expected one of read, write, cas, append, acquire, release, found {:?}",
                    text
                )
            })
    }
}

/// The `type` field of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// The process asked for the operation.
    Invoke,
    /// The operation took effect, and its value (for a read) is what it observed.
    Ok,
    /// The operation certainly did not take effect; it observed nothing.
    Fail,
    /// The operation may or may not have taken effect, at any point after its invoke.
    Info,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Invoke => "invoke",
            EventKind::Ok => "ok",
            EventKind::Fail => "fail",
            EventKind::Info => "info",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EventKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "invoke" => Ok(EventKind::Invoke),
            "ok" => Ok(EventKind::Ok),
            "fail" => Ok(EventKind::Fail),
            "info" => Ok(EventKind::Info),
            other => Err(format!(
                "expected one of invoke, ok, fail, info, found {:?}",
                other
            )),
        }
    }
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Ok,
    Fail,
    /// Indeterminate: the operation may have taken effect. An invoke without completion is one.
    Info,
}

impl From<Outcome> for EventKind {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Ok => EventKind::Ok,
            Outcome::Fail => EventKind::Fail,
            Outcome::Info => EventKind::Info,
        }
    }
}

/// Stands for "no such event" in [`History`]'s pairing of invokes with completions.
const NO_EVENT: usize = usize::MAX;

/// One line of the interchange format.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub process: u64,
    pub kind: EventKind,
    pub f: OpFn,
    /// The object the operation acts on; `None` for the single-object models.
    pub key: Option<String>,
    /// For an invoke: the argument (`[expected, new]` for cas, null for a read). For an ok read:
    /// the value read.
    pub value: Value,
    pub time_ns: Option<u64>,
}

/// Names an operation by the index of its invoke event in [`History::events`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpIndex(pub usize);

/// An invoke paired with its completion: what the checker and the models work on.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// The index of the invoke event; operations are named by it everywhere ("op 12").
    pub index: usize,
    pub process: u64,
    pub f: OpFn,
    pub key: Option<String>,
    /// The argument given at invoke.
    pub input: Value,
    /// The completion's value, for an operation that completed ok; `None` otherwise.
    pub output: Option<Value>,
    /// How it ended; an operation still pending at the end of the history counts as info.
    pub outcome: Outcome,
    /// The index of the completion event, if there is one.
    pub complete_index: Option<usize>,
}

/// Why an event cannot be added to a history: the field at fault (if one is) and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    pub field: Option<&'static str>,
    pub message: String,
}

impl EventError {
    fn field(field: &'static str, message: String) -> Self {
        EventError {
            field: Some(field),
            message,
        }
    }

    fn structure(message: String) -> Self {
        EventError {
            field: None,
            message,
        }
    }
}

/// A validated history: every completion matches an earlier invoke of its process, no process
/// runs two operations at once or acts after an info, and every event fits the model.
#[derive(Clone, Debug)]
pub struct History {
    model: ModelKind,
    init: Value,
    events: Vec<Event>,
    /// Per event: for an invoke, the index of its completion (`NO_EVENT` while there is none);
    /// `NO_EVENT` for a completion. Kept as events are added so that pairing them into
    /// operations needs no map.
    completions: Vec<usize>,
    /// The number of invoke events, so the operations can be allocated at once.
    invoke_count: usize,
    /// Index of the open invoke of each process that has one.
    pending: BTreeMap<u64, usize>,
    /// Processes that ended an operation with info: they issue nothing more.
    crashed: BTreeMap<u64, usize>,
}

impl PartialEq for History {
    /// Two histories are equal when they hold the same model, initial value and events; the
    /// bookkeeping follows from those.
    fn eq(&self, other: &Self) -> bool {
        self.model == other.model && self.init == other.init && self.events == other.events
    }
}

impl History {
    /// An empty history of `model`, whose object(s) start at `init` (null when absent).
    pub fn new(model: ModelKind, init: Value) -> Self {
        History {
            model,
            init,
            events: Vec::new(),
            completions: Vec::new(),
            invoke_count: 0,
            pending: BTreeMap::new(),
            crashed: BTreeMap::new(),
        }
    }

    pub fn model(&self) -> ModelKind {
        self.model
    }

    pub fn init(&self) -> &Value {
        &self.init
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Records that `process` invoked `f`, and returns the name of the new operation.
    ///
    /// # Panics
    /// If the event does not fit the history (the process has an operation in flight or crashed
    /// earlier, or the value does not fit the model): that is a bug in the recorder.
    pub fn invoke(
        &mut self,
        process: u64,
        f: OpFn,
        key: Option<String>,
        value: Value,
        time_ns: u64,
    ) -> OpIndex {
        let index = self.events.len();
        let event = Event {
            process,
            kind: EventKind::Invoke,
            f,
            key,
            value,
            time_ns: Some(time_ns),
        };
        if let Err(error) = self.try_push(event) {
            panic!(
                "history recorder: invalid invoke as op {index}: {}",
                error.message
            );
        }
        OpIndex(index)
    }

    /// Records how operation `op` ended. For an ok read, `value` is the value read; for other
    /// operations it may be null.
    ///
    /// # Panics
    /// If `op` is not an operation still in flight.
    pub fn complete(&mut self, op: OpIndex, outcome: Outcome, value: Value, time_ns: u64) {
        let Some(invoke) = self.events.get(op.0) else {
            panic!("history recorder: op {} does not exist", op.0);
        };
        let event = Event {
            process: invoke.process,
            kind: outcome.into(),
            f: invoke.f,
            key: invoke.key.clone(),
            value,
            time_ns: Some(time_ns),
        };
        if self.pending.get(&invoke.process) != Some(&op.0) {
            panic!("history recorder: op {} is not in flight", op.0);
        }
        if let Err(error) = self.try_push(event) {
            panic!(
                "history recorder: invalid completion of op {}: {}",
                op.0, error.message
            );
        }
    }

    /// Appends a raw event after checking that it fits the history.
    pub fn push(&mut self, event: Event) -> Result<(), HistoryError> {
        let index = self.events.len();
        self.try_push(event).map_err(|error| HistoryError::Invalid {
            source_name: "history".to_string(),
            line: None,
            op: Some(index),
            field: error.field.map(str::to_string),
            message: error.message,
        })
    }

    /// Appends an event, or says which field is wrong.
    pub(crate) fn try_push(&mut self, event: Event) -> Result<(), EventError> {
        self.validate(&event)?;
        let index = self.events.len();
        match event.kind {
            EventKind::Invoke => {
                self.pending.insert(event.process, index);
                self.invoke_count += 1;
            }
            EventKind::Ok | EventKind::Fail | EventKind::Info => {
                // Validation found the open invoke, so the removal finds it too.
                if let Some(open) = self.pending.remove(&event.process) {
                    self.completions[open] = index;
                }
                if event.kind == EventKind::Info {
                    self.crashed.insert(event.process, index);
                }
            }
        }
        self.events.push(event);
        self.completions.push(NO_EVENT);
        Ok(())
    }

    fn validate(&self, event: &Event) -> Result<(), EventError> {
        let model = self.model;
        if !model.functions().contains(&event.f) {
            let names: Vec<&str> = model.functions().iter().map(|f| f.name()).collect();
            return Err(EventError::field(
                "f",
                format!(
                    "the {} model has no {:?} operation; expected one of {}",
                    model,
                    event.f.name(),
                    names.join(", ")
                ),
            ));
        }
        if let Some(&crash_index) = self.crashed.get(&event.process) {
            return Err(EventError::structure(format!(
                "process {} ended op {} with info, and a process issues nothing after an info \
                 (give the next operation a new process number)",
                event.process, crash_index
            )));
        }
        match event.kind {
            EventKind::Invoke => {
                if let Some(&open) = self.pending.get(&event.process) {
                    return Err(EventError::structure(format!(
                        "process {} invokes while its op {} is still in flight",
                        event.process, open
                    )));
                }
                self.validate_key(event)?;
                self.validate_argument(event)
            }
            EventKind::Ok | EventKind::Fail | EventKind::Info => {
                let Some(&open) = self.pending.get(&event.process) else {
                    return Err(EventError::structure(format!(
                        "process {} completes an operation it never invoked",
                        event.process
                    )));
                };
                let invoke = &self.events[open];
                if invoke.f != event.f {
                    return Err(EventError::field(
                        "f",
                        format!(
                            "completes op {} of process {}, a {}, but says {}",
                            open, event.process, invoke.f, event.f
                        ),
                    ));
                }
                if event.key.is_some() && event.key != invoke.key {
                    return Err(EventError::field(
                        "key",
                        format!(
                            "completes op {} of process {} on key {}, but says key {}",
                            open,
                            event.process,
                            describe_key(invoke.key.as_deref()),
                            describe_key(event.key.as_deref())
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    fn validate_key(&self, event: &Event) -> Result<(), EventError> {
        match (self.model.has_keys(), &event.key) {
            (true, None) => Err(EventError::field(
                "key",
                "the kv model needs a key on every operation".to_string(),
            )),
            (false, Some(_)) => Err(EventError::field(
                "key",
                format!(
                    "the {} model has a single object, so operations carry no key (use the kv \
                     model for keyed histories)",
                    self.model
                ),
            )),
            _ => Ok(()),
        }
    }

    fn validate_argument(&self, event: &Event) -> Result<(), EventError> {
        match event.f {
            OpFn::Cas => match &event.value {
                Value::Array(pair) if pair.len() == 2 => Ok(()),
                other => Err(EventError::field(
                    "value",
                    format!("a cas takes [expected, new], found {}", short_json(other)),
                )),
            },
            OpFn::Append => match &event.value {
                Value::String(_) => Ok(()),
                other => Err(EventError::field(
                    "value",
                    format!("an append takes a string, found {}", short_json(other)),
                )),
            },
            OpFn::Read | OpFn::Write | OpFn::Acquire | OpFn::Release => Ok(()),
        }
    }

    /// Pairs every invoke with its completion, in invoke order. Operations still pending at the
    /// end of the history count as info.
    pub fn operations(&self) -> Vec<Operation> {
        let mut operations: Vec<Operation> = Vec::with_capacity(self.invoke_count);
        for (index, (event, &completion)) in self.events.iter().zip(&self.completions).enumerate() {
            if event.kind != EventKind::Invoke {
                continue;
            }
            let complete = self.events.get(completion);
            let outcome = match complete.map(|complete| complete.kind) {
                Some(EventKind::Ok) => Outcome::Ok,
                Some(EventKind::Fail) => Outcome::Fail,
                Some(EventKind::Info | EventKind::Invoke) | None => Outcome::Info,
            };
            operations.push(Operation {
                index,
                process: event.process,
                f: event.f,
                key: event.key.clone(),
                input: event.value.clone(),
                output: complete
                    .filter(|complete| complete.kind == EventKind::Ok)
                    .map(|complete| complete.value.clone()),
                outcome,
                complete_index: complete.map(|_| completion),
            });
        }
        operations
    }

    /// The processes that appear in the history, in order.
    pub fn processes(&self) -> BTreeSet<u64> {
        self.events.iter().map(|event| event.process).collect()
    }

    /// The history in the interchange format.
    pub fn to_json(&self) -> Value {
        json!({
            "model": self.model.name(),
            "init": self.init,
            "ops": self.events.iter().map(event_to_json).collect::<Vec<_>>(),
        })
    }

    /// Writes the interchange format, one op per line so that error lines point at ops.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "{{\"model\": \"{}\", \"init\": {}, \"ops\": [",
            self.model.name(),
            crate::exact::display(&self.init)
        )?;
        for (index, event) in self.events.iter().enumerate() {
            let separator = if index + 1 == self.events.len() {
                ""
            } else {
                ","
            };
            writeln!(out, "{}{}", event_to_line(event), separator)?;
        }
        writeln!(out, "]}}")
    }

    /// Writes the ops as JSON Lines, one op per line, without the model or initial value.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        for event in &self.events {
            writeln!(out, "{}", event_to_line(event))?;
        }
        Ok(())
    }
}

fn event_to_json(event: &Event) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("process".into(), json!(event.process));
    object.insert("type".into(), json!(event.kind.name()));
    object.insert("f".into(), json!(event.f.name()));
    if let Some(key) = &event.key {
        object.insert("key".into(), json!(key));
    }
    object.insert("value".into(), event.value.clone());
    if let Some(time_ns) = event.time_ns {
        object.insert("time".into(), json!(time_ns));
    }
    Value::Object(object)
}

/// One op as a single JSON line, fields in the documented order.
pub(crate) fn event_to_line(event: &Event) -> String {
    let mut line = format!(
        "{{\"process\": {}, \"type\": \"{}\", \"f\": \"{}\"",
        event.process,
        event.kind.name(),
        event.f.name()
    );
    if let Some(key) = &event.key {
        line.push_str(&format!(", \"key\": {}", Value::String(key.clone())));
    }
    line.push_str(&format!(
        ", \"value\": {}",
        crate::exact::display(&event.value)
    ));
    if let Some(time_ns) = event.time_ns {
        line.push_str(&format!(", \"time\": {}", time_ns));
    }
    line.push('}');
    line
}

pub(crate) fn describe_key(key: Option<&str>) -> String {
    match key {
        Some(key) => format!("{:?}", key),
        None => "(none)".to_string(),
    }
}

/// A JSON value cut to a readable length for messages.
pub(crate) fn short_json(value: &Value) -> String {
    const LENGTH_MAX: usize = 60;
    let text = crate::exact::display(value);
    if text.chars().count() <= LENGTH_MAX {
        return text;
    }
    let cut: String = text.chars().take(LENGTH_MAX).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_pairs_invokes_with_completions() {
        let mut history = History::new(ModelKind::Register, Value::Null);
        let write = history.invoke(0, OpFn::Write, None, json!(1), 10);
        let read = history.invoke(1, OpFn::Read, None, Value::Null, 11);
        history.complete(write, Outcome::Ok, Value::Null, 12);
        history.complete(read, Outcome::Ok, json!(1), 13);
        let operations = history.operations();
        assert_eq!(operations.len(), 2);
        assert_eq!(operations[1].output, Some(json!(1)));
        assert_eq!(operations[0].complete_index, Some(2));
    }

    #[test]
    fn push_rejects_a_completion_without_invoke() {
        let mut history = History::new(ModelKind::Register, Value::Null);
        let error = history
            .push(Event {
                process: 3,
                kind: EventKind::Ok,
                f: OpFn::Read,
                key: None,
                value: json!(1),
                time_ns: None,
            })
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "history: op 0: process 3 completes an operation it never invoked"
        );
    }

    #[test]
    fn push_rejects_an_event_after_info() {
        let mut history = History::new(ModelKind::Register, Value::Null);
        let write = history.invoke(0, OpFn::Write, None, json!(1), 1);
        history.complete(write, Outcome::Info, Value::Null, 2);
        let error = history
            .push(Event {
                process: 0,
                kind: EventKind::Invoke,
                f: OpFn::Read,
                key: None,
                value: Value::Null,
                time_ns: None,
            })
            .unwrap_err();
        assert!(error.to_string().contains("issues nothing after an info"));
    }

    #[test]
    fn write_json_is_the_interchange_format() {
        let mut history = History::new(ModelKind::Kv, json!(null));
        let op = history.invoke(2, OpFn::Append, Some("k".into()), json!("x"), 5);
        history.complete(op, Outcome::Ok, Value::Null, 6);
        let mut out = Vec::new();
        history.write_json(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let written: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(written, history.to_json());
        assert!(text.contains(
            "{\"process\": 2, \"type\": \"invoke\", \"f\": \"append\", \"key\": \"k\", \"value\": \"x\", \"time\": 5},"
        ));
    }
}
