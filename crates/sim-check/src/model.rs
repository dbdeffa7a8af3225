//! Sequential specifications: what an operation may return and how it changes the object.
//!
//! Owns the [`Model`] trait and the built-in models [`Register`], [`Kv`] and [`Mutex`], plus
//! [`Json`], a JSON value that can be hashed. The search that uses them lives in `search`.
//! A model sees [`Operation`]s: failed operations never reach it, and an operation whose outcome
//! is unknown (info) arrives with no output.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use serde_json::Value;

use crate::history::{short_json, OpFn, Operation, Outcome};
use crate::table::StableHasher;

/// A sequential object the checker can linearize operations against.
///
/// Implement it to check a history against your own object. Histories are still read in the
/// interchange format of one of the [`ModelKind`](crate::ModelKind)s, so a custom model gives its
/// own meaning to the six operation functions (say, a counter where `append` adds).
pub trait Model: Sync {
    /// The object's state. The search interns states, so cloning and hashing should be cheap.
    type State: Clone + Eq + Hash + Send;

    /// The state before any operation, given the history's `init` value.
    fn init(&self, init: &Value) -> Self::State;

    /// The state after `op` takes effect in `state`, or `None` when it cannot: its output is not
    /// what the state gives (a read of another value), or its precondition fails (a cas whose
    /// expected value is not there). An info operation has no output; return the state it would
    /// leave if it took effect, or `None` when it could not take effect in `state`.
    fn step(&self, state: &Self::State, op: &Operation) -> Option<Self::State>;

    /// The state as JSON, for explanations.
    fn describe(&self, state: &Self::State) -> Value;

    /// About how many bytes `state` holds, heap included, for the memory budget. The default
    /// counts its inline size only.
    fn state_bytes(&self, state: &Self::State) -> usize {
        std::mem::size_of_val(state)
    }

    /// Why `op` cannot take effect in `state`, in words, for explanations.
    fn explain(&self, state: &Self::State, op: &Operation) -> String {
        match self.step(state, op) {
            Some(_) => "it can take effect here, but no order of the remaining operations works"
                .to_string(),
            None => format!(
                "it cannot take effect when the state is {}",
                short_json(&self.describe(state))
            ),
        }
    }

    /// Whether `op` never changes the state (a read). The search then linearizes it as soon as
    /// it can take effect, without trying other orders: moving an operation that changes nothing
    /// earlier, to a point after its invoke where it holds, keeps any linearization valid. The
    /// default claims nothing.
    fn read_only(&self, op: &Operation) -> bool {
        let _ = op;
        false
    }

    /// Whether `op`, one that is [`read_only`](Model::read_only), can take effect in `state`: the
    /// same as `step(state, op).is_some()`, which is the default. A model can answer without
    /// building the next state, which for a read-only operation is `state` itself.
    fn admits(&self, state: &Self::State, op: &Operation) -> bool {
        self.step(state, op).is_some()
    }

    /// Whether `op` can take effect in every state and leaves the same state whatever the state
    /// was (a blind write). The default claims nothing.
    fn overwrites(&self, op: &Operation) -> bool {
        let _ = op;
        false
    }

    /// A test for states that no operation of one object can observe: no read returns them, no
    /// cas expects them, nothing builds on them. In such a state only an operation that
    /// [`overwrites`](Model::overwrites) can go next, so the search tries nothing else there. The
    /// default treats every state as observable.
    fn unobservable<'m>(&'m self, init: &Value, ops: &[Operation]) -> StateTest<'m, Self::State> {
        let _ = (init, ops);
        Box::new(|_| false)
    }

    /// The independent object `op` acts on: operations on different objects are checked
    /// separately (P-compositionality). `None` puts everything on one object.
    fn partition(&self, op: &Operation) -> Option<String> {
        op.key.clone()
    }

    /// A name for what `op` does when its output is unknown: two info operations with the same
    /// name change every state the same way, so the search may try them in invoke order only.
    /// `None` (the default) claims nothing.
    fn effect_key(&self, op: &Operation) -> Option<String> {
        let _ = op;
        None
    }

    /// For each operation of one object, whether it is an info operation whose effect cannot
    /// matter, so the search may leave it out. The default keeps every operation.
    fn irrelevant(&self, ops: &[Operation]) -> Vec<bool> {
        vec![false; ops.len()]
    }

    /// An operation of one object that can never take effect whatever the order, and why. Lets the
    /// checker answer at once where the search would have to try every order. The default finds
    /// none.
    fn impossible(&self, init: &Value, ops: &[Operation]) -> Option<(usize, String)> {
        let _ = (init, ops);
        None
    }
}

/// A test on states, as returned by [`Model::unobservable`].
pub type StateTest<'m, State> = Box<dyn Fn(&State) -> bool + 'm>;

/// A JSON value with `Hash`, so it can be a model state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Json(pub Value);

impl Json {
    /// About how many bytes the value holds, heap included.
    pub fn bytes(&self) -> usize {
        value_bytes(&self.0)
    }
}

fn value_bytes(value: &Value) -> usize {
    let inline = std::mem::size_of::<Value>();
    match value {
        Value::String(text) => inline + text.capacity(),
        Value::Array(items) => inline + items.iter().map(value_bytes).sum::<usize>(),
        Value::Object(map) => {
            inline
                + map
                    .iter()
                    .map(|(key, item)| key.capacity() + 24 + value_bytes(item))
                    .sum::<usize>()
        }
        _ => inline,
    }
}

impl Hash for Json {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        hash_value(&self.0, hasher);
    }
}

fn hash_value<H: Hasher>(value: &Value, hasher: &mut H) {
    match value {
        Value::Null => hasher.write_u8(0),
        Value::Bool(flag) => {
            hasher.write_u8(1);
            hasher.write_u8(u8::from(*flag));
        }
        Value::Number(number) => {
            if let Some(unsigned) = number.as_u64() {
                hasher.write_u8(2);
                hasher.write_u64(unsigned);
            } else if let Some(signed) = number.as_i64() {
                hasher.write_u8(3);
                hasher.write_i64(signed);
            } else {
                let float = number.as_f64().unwrap_or(0.0);
                // 0.0 and -0.0 compare equal, so they must hash alike.
                let bits = if float == 0.0 { 0 } else { float.to_bits() };
                hasher.write_u8(4);
                hasher.write_u64(bits);
            }
        }
        Value::String(text) => {
            hasher.write_u8(5);
            text.hash(hasher);
        }
        Value::Array(items) => {
            hasher.write_u8(6);
            hasher.write_usize(items.len());
            for item in items {
                hash_value(item, hasher);
            }
        }
        Value::Object(map) => {
            hasher.write_u8(7);
            hasher.write_usize(map.len());
            for (key, item) in map {
                key.hash(hasher);
                hash_value(item, hasher);
            }
        }
    }
}

/// A single register: `read`, `write`, `cas`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

/// A register per key, each also supporting `append` (string concatenation; null counts as "").
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

/// A lock. The holder is the op's value when it has one, else its process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex;

fn cas_pair(op: &Operation) -> Option<(&Value, &Value)> {
    match &op.input {
        Value::Array(pair) if pair.len() == 2 => Some((&pair[0], &pair[1])),
        _ => None,
    }
}

fn register_step(state: &Json, op: &Operation) -> Option<Json> {
    match op.f {
        OpFn::Read => match &op.output {
            Some(value) if *value != state.0 => None,
            _ => Some(state.clone()),
        },
        OpFn::Write => Some(Json(op.input.clone())),
        OpFn::Cas => {
            let (expected, new) = cas_pair(op)?;
            if *expected == state.0 {
                Some(Json(new.clone()))
            } else {
                None
            }
        }
        OpFn::Append => {
            let Value::String(suffix) = &op.input else {
                return None;
            };
            match &state.0 {
                Value::Null => Some(Json(Value::String(suffix.clone()))),
                Value::String(text) => Some(Json(Value::String(format!("{text}{suffix}")))),
                _ => None,
            }
        }
        OpFn::Acquire | OpFn::Release => None,
    }
}

/// `register_step(state, op).is_some()`, without building the state after a read.
fn register_admits(state: &Json, op: &Operation) -> bool {
    match op.f {
        OpFn::Read => !matches!(&op.output, Some(value) if *value != state.0),
        _ => register_step(state, op).is_some(),
    }
}

fn register_explain(state: &Json, op: &Operation) -> String {
    let current = short_json(&state.0);
    match op.f {
        OpFn::Read => match &op.output {
            Some(value) if *value != state.0 => {
                format!(
                    "it read {}, but the value is {}",
                    short_json(value),
                    current
                )
            }
            _ => "it can take effect here, but no order of the remaining operations works"
                .to_string(),
        },
        OpFn::Cas => match cas_pair(op) {
            Some((expected, _)) if *expected != state.0 => format!(
                "it expects {}, but the value is {}",
                short_json(expected),
                current
            ),
            _ => "it can take effect here, but no order of the remaining operations works"
                .to_string(),
        },
        OpFn::Append if !matches!(state.0, Value::Null | Value::String(_)) => {
            format!("it appends to {}, which is not a string", current)
        }
        _ => "it can take effect here, but no order of the remaining operations works".to_string(),
    }
}

fn register_effect_key(op: &Operation) -> Option<String> {
    Some(format!("{} {}", op.f.name(), op.input))
}

/// Info reads never matter; info writes and cas whose new value nobody observes cannot matter
/// either: while their value stands no read can return it and no cas can succeed, so dropping
/// them from a linearization keeps it valid. With appends a value can be extended into an
/// observed one, so then only info reads are dropped.
fn register_irrelevant(ops: &[Operation]) -> Vec<bool> {
    let has_append = ops.iter().any(|op| op.f == OpFn::Append);
    // The values info writes and cas would leave, the only ones whose being observed matters.
    // Most histories have few info operations, so only these values are written out as text,
    // and an observed value is written out only when its hash matches one of them.
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    let mut candidate_hashes: Vec<u64> = Vec::new();
    if !has_append {
        for op in ops.iter().filter(|op| op.outcome == Outcome::Info) {
            let value = match op.f {
                OpFn::Write => Some(&op.input),
                OpFn::Cas => cas_pair(op).map(|(_, new)| new),
                _ => None,
            };
            if let Some(value) = value {
                candidates.insert(value.to_string());
                candidate_hashes.push(value_hash(value));
            }
        }
    }
    candidate_hashes.sort_unstable();
    let mut observed: BTreeSet<String> = BTreeSet::new();
    if !candidates.is_empty() {
        for op in ops {
            let value = match (op.f, op.outcome) {
                (OpFn::Read, Outcome::Ok) => op.output.as_ref(),
                (OpFn::Cas, Outcome::Ok | Outcome::Info) => {
                    cas_pair(op).map(|(expected, _)| expected)
                }
                _ => None,
            };
            let Some(value) = value else {
                continue;
            };
            // Equal text means equal values, and equal values hash alike.
            if candidate_hashes.binary_search(&value_hash(value)).is_ok() {
                let text = value.to_string();
                if candidates.contains(&text) {
                    observed.insert(text);
                }
            }
        }
    }
    ops.iter()
        .map(|op| {
            if op.outcome != Outcome::Info {
                return false;
            }
            match op.f {
                OpFn::Read => true,
                OpFn::Write if !has_append => !observed.contains(&op.input.to_string()),
                OpFn::Cas if !has_append => match cas_pair(op) {
                    Some((_, new)) => !observed.contains(&new.to_string()),
                    None => true,
                },
                _ => false,
            }
        })
        .collect()
}

/// A hash of a JSON value, equal for equal values.
fn value_hash(value: &Value) -> u64 {
    let mut hasher = StableHasher::default();
    hash_value(value, &mut hasher);
    hasher.finish()
}

/// Without appends, a value that no ok read returns and no cas (ok or info) expects can only be
/// overwritten.
fn register_unobservable(ops: &[Operation]) -> StateTest<'static, Json> {
    if ops.iter().any(|op| op.f == OpFn::Append) {
        return Box::new(|_| false);
    }
    let mut observed: BTreeSet<String> = BTreeSet::new();
    for op in ops {
        match (op.f, op.outcome) {
            (OpFn::Read, Outcome::Ok) => {
                if let Some(output) = &op.output {
                    observed.insert(output.to_string());
                }
            }
            (OpFn::Cas, Outcome::Ok | Outcome::Info) => {
                if let Some((expected, _)) = cas_pair(op) {
                    observed.insert(expected.to_string());
                }
            }
            _ => {}
        }
    }
    Box::new(move |state: &Json| !observed.contains(&state.0.to_string()))
}

/// A read that returns, or a cas that expects, a value that is neither the initial value nor
/// written by any operation can never take effect. Appends build new values, so with appends
/// this finds nothing.
fn register_impossible(init: &Value, ops: &[Operation]) -> Option<(usize, String)> {
    if ops.iter().any(|op| op.f == OpFn::Append) {
        return None;
    }
    let mut written: BTreeSet<String> = BTreeSet::new();
    written.insert(init.to_string());
    for op in ops {
        if op.outcome == Outcome::Fail {
            continue;
        }
        match op.f {
            OpFn::Write => {
                written.insert(op.input.to_string());
            }
            OpFn::Cas => {
                if let Some((_, new)) = cas_pair(op) {
                    written.insert(new.to_string());
                }
            }
            _ => {}
        }
    }
    let mut found: Option<(usize, usize, String)> = None;
    for (position, op) in ops.iter().enumerate() {
        if op.outcome != Outcome::Ok {
            continue;
        }
        let missing = match op.f {
            OpFn::Read => op
                .output
                .as_ref()
                .filter(|value| !written.contains(&value.to_string())),
            OpFn::Cas => cas_pair(op)
                .map(|(expected, _)| expected)
                .filter(|value| !written.contains(&value.to_string())),
            _ => None,
        };
        let Some(missing) = missing else {
            continue;
        };
        let verb = if op.f == OpFn::Read {
            "read"
        } else {
            "expects"
        };
        let reason = format!(
            "it {} {}, which is neither the initial value nor written by any operation",
            verb,
            short_json(missing)
        );
        let completed = op.complete_index.unwrap_or(usize::MAX);
        if !matches!(&found, Some((_, best, _)) if completed >= *best) {
            found = Some((position, completed, reason));
        }
    }
    found.map(|(position, _, reason)| (position, reason))
}

impl Model for Register {
    type State = Json;

    fn state_bytes(&self, state: &Json) -> usize {
        state.bytes()
    }

    fn init(&self, init: &Value) -> Json {
        Json(init.clone())
    }

    fn step(&self, state: &Json, op: &Operation) -> Option<Json> {
        if op.f == OpFn::Append {
            return None;
        }
        register_step(state, op)
    }

    fn admits(&self, state: &Json, op: &Operation) -> bool {
        op.f != OpFn::Append && register_admits(state, op)
    }

    fn describe(&self, state: &Json) -> Value {
        state.0.clone()
    }

    fn read_only(&self, op: &Operation) -> bool {
        op.f == OpFn::Read
    }

    fn overwrites(&self, op: &Operation) -> bool {
        op.f == OpFn::Write
    }

    fn unobservable<'m>(
        &'m self,
        _init: &Value,
        ops: &[Operation],
    ) -> Box<dyn Fn(&Json) -> bool + 'm> {
        register_unobservable(ops)
    }

    fn explain(&self, state: &Json, op: &Operation) -> String {
        register_explain(state, op)
    }

    fn partition(&self, _op: &Operation) -> Option<String> {
        None
    }

    fn effect_key(&self, op: &Operation) -> Option<String> {
        register_effect_key(op)
    }

    fn irrelevant(&self, ops: &[Operation]) -> Vec<bool> {
        register_irrelevant(ops)
    }

    fn impossible(&self, init: &Value, ops: &[Operation]) -> Option<(usize, String)> {
        register_impossible(init, ops)
    }
}

impl Model for Kv {
    type State = Json;

    fn state_bytes(&self, state: &Json) -> usize {
        state.bytes()
    }

    fn init(&self, init: &Value) -> Json {
        Json(init.clone())
    }

    fn step(&self, state: &Json, op: &Operation) -> Option<Json> {
        register_step(state, op)
    }

    fn admits(&self, state: &Json, op: &Operation) -> bool {
        register_admits(state, op)
    }

    fn describe(&self, state: &Json) -> Value {
        state.0.clone()
    }

    fn read_only(&self, op: &Operation) -> bool {
        op.f == OpFn::Read
    }

    fn overwrites(&self, op: &Operation) -> bool {
        op.f == OpFn::Write
    }

    fn unobservable<'m>(
        &'m self,
        _init: &Value,
        ops: &[Operation],
    ) -> Box<dyn Fn(&Json) -> bool + 'm> {
        register_unobservable(ops)
    }

    fn explain(&self, state: &Json, op: &Operation) -> String {
        register_explain(state, op)
    }

    fn effect_key(&self, op: &Operation) -> Option<String> {
        register_effect_key(op)
    }

    fn irrelevant(&self, ops: &[Operation]) -> Vec<bool> {
        register_irrelevant(ops)
    }

    fn impossible(&self, init: &Value, ops: &[Operation]) -> Option<(usize, String)> {
        register_impossible(init, ops)
    }
}

fn holder(op: &Operation) -> Value {
    if op.input.is_null() {
        Value::from(op.process)
    } else {
        op.input.clone()
    }
}

impl Model for Mutex {
    /// The holder, or `None` when the lock is free.
    type State = Option<Json>;

    fn init(&self, init: &Value) -> Option<Json> {
        if init.is_null() {
            None
        } else {
            Some(Json(init.clone()))
        }
    }

    fn step(&self, state: &Option<Json>, op: &Operation) -> Option<Option<Json>> {
        match (op.f, state) {
            (OpFn::Acquire, None) => Some(Some(Json(holder(op)))),
            (OpFn::Release, Some(current)) if current.0 == holder(op) => Some(None),
            _ => None,
        }
    }

    fn describe(&self, state: &Option<Json>) -> Value {
        match state {
            Some(current) => serde_json::json!({ "held_by": current.0 }),
            None => serde_json::json!({ "held_by": null }),
        }
    }

    fn explain(&self, state: &Option<Json>, op: &Operation) -> String {
        match (op.f, state) {
            (OpFn::Acquire, Some(current)) => format!(
                "{} acquires, but the lock is held by {}",
                short_json(&holder(op)),
                short_json(&current.0)
            ),
            (OpFn::Release, None) => {
                format!("{} releases, but the lock is free", short_json(&holder(op)))
            }
            (OpFn::Release, Some(current)) if current.0 != holder(op) => format!(
                "{} releases, but the lock is held by {}",
                short_json(&holder(op)),
                short_json(&current.0)
            ),
            _ => "it can take effect here, but no order of the remaining operations works"
                .to_string(),
        }
    }

    fn partition(&self, _op: &Operation) -> Option<String> {
        None
    }

    fn effect_key(&self, op: &Operation) -> Option<String> {
        Some(format!("{} {}", op.f.name(), holder(op)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(f: OpFn, input: Value, output: Option<Value>) -> Operation {
        Operation {
            index: 0,
            process: 1,
            f,
            key: None,
            input,
            output,
            outcome: Outcome::Ok,
            complete_index: Some(1),
        }
    }

    #[test]
    fn register_cas_needs_the_expected_value() {
        let cas = op(OpFn::Cas, json!([1, 2]), None);
        assert_eq!(Register.step(&Json(json!(1)), &cas), Some(Json(json!(2))));
        assert_eq!(Register.step(&Json(json!(3)), &cas), None);
        assert_eq!(
            Register.explain(&Json(json!(3)), &cas),
            "it expects 1, but the value is 3"
        );
    }

    #[test]
    fn kv_append_concatenates_onto_null_and_strings() {
        let append = op(OpFn::Append, json!("b"), None);
        assert_eq!(Kv.step(&Json(Value::Null), &append), Some(Json(json!("b"))));
        assert_eq!(Kv.step(&Json(json!("a")), &append), Some(Json(json!("ab"))));
        assert_eq!(Kv.step(&Json(json!(3)), &append), None);
    }

    #[test]
    fn mutex_holder_is_the_value_or_the_process() {
        let acquire = op(OpFn::Acquire, Value::Null, None);
        let held = Mutex.step(&None, &acquire).unwrap();
        assert_eq!(held, Some(Json(json!(1))));
        let release_by_other = op(OpFn::Release, json!("someone"), None);
        assert_eq!(Mutex.step(&held, &release_by_other), None);
        let release = op(OpFn::Release, Value::Null, None);
        assert_eq!(Mutex.step(&held, &release), Some(None));
    }

    #[test]
    fn equal_json_hashes_equal() {
        use std::hash::DefaultHasher;
        let hash = |value: Value| {
            let mut hasher = DefaultHasher::new();
            Json(value).hash(&mut hasher);
            hasher.finish()
        };
        assert_eq!(hash(json!({"a": [1, "x"]})), hash(json!({"a": [1, "x"]})));
        assert_eq!(hash(json!(0.0)), hash(json!(-0.0)));
        assert_ne!(hash(json!(1)), hash(json!("1")));
    }
}
