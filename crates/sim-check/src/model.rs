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

    /// For explanations: replays `prefix` from `init` and returns the last `tail_len` states, the
    /// state after the prefix, and why each of `candidates` cannot go next there. The default
    /// uses [`step`](Model::step), [`describe`](Model::describe) and
    /// [`explain`](Model::explain); a model whose search states are compact fingerprints replays
    /// with full values instead.
    fn replay(
        &self,
        init: &Value,
        prefix: &[&Operation],
        tail_len: usize,
        candidates: &[&Operation],
    ) -> Replay {
        let mut state = self.init(init);
        let tail_start = prefix.len().saturating_sub(tail_len);
        let mut tail = Vec::new();
        for (step, op) in prefix.iter().enumerate() {
            if let Some(next) = self.step(&state, op) {
                state = next;
            }
            if step >= tail_start {
                tail.push(self.describe(&state));
            }
        }
        Replay {
            tail,
            state: self.describe(&state),
            reasons: candidates
                .iter()
                .map(|op| self.explain(&state, op))
                .collect(),
        }
    }

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

    /// For each operation of one object (starting from `init`), whether it is an info operation
    /// whose effect cannot matter, so the search may leave it out. The default keeps every
    /// operation.
    fn irrelevant(&self, init: &Value, ops: &[Operation]) -> Vec<bool> {
        let _ = init;
        vec![false; ops.len()]
    }

    /// Like [`irrelevant`](Model::irrelevant), for a stretch of one object's operations that may
    /// start in any of `starts` (the incremental check): whether each is an info operation whose
    /// effect no observation among `ops` can see. The default claims nothing.
    fn unseen_from(&self, starts: &[&Self::State], ops: &[Operation]) -> Vec<bool> {
        let _ = starts;
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

/// What [`Model::replay`] found: the states after the last steps of a prefix, the state after
/// it, and why each candidate cannot go next.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub tail: Vec<Value>,
    pub state: Value,
    pub reasons: Vec<String>,
}

/// A register's value in the search: strings (which appends make long and many) as a 122-bit
/// fingerprint and their length, everything else as itself. Equal values give equal cells; two
/// different strings give the same cell only if both of two independent polynomial hashes modulo
/// 2^61 - 1 collide (about 2^-100 for strings of kilobytes, far below a hardware fault, as for the
/// memo's fingerprints). A cell is 40 bytes whatever the string's length. Explanations replay the
/// prefix with full values ([`Model::replay`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cell {
    Value(Json),
    Text { len: u64, hash: [u64; 2] },
}

const MERSENNE_61: u64 = (1 << 61) - 1;
const TEXT_BASES: [u64; 2] = [
    0x1f2e_3d4c_5b6a_7988 % MERSENNE_61,
    0x0123_4567_89ab_cdef % MERSENNE_61,
];

fn mul_mod(left: u64, right: u64) -> u64 {
    let product = u128::from(left) * u128::from(right);
    let folded = (product & u128::from(MERSENNE_61)) + (product >> 61);
    let folded = folded as u64;
    if folded >= MERSENNE_61 {
        folded - MERSENNE_61
    } else {
        folded
    }
}

fn add_mod(left: u64, right: u64) -> u64 {
    let sum = left + right;
    if sum >= MERSENNE_61 {
        sum - MERSENNE_61
    } else {
        sum
    }
}

fn pow_mod(mut base: u64, mut exponent: u64) -> u64 {
    let mut result = 1;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = mul_mod(result, base);
        }
        base = mul_mod(base, base);
        exponent >>= 1;
    }
    result
}

fn text_hash(text: &str) -> [u64; 2] {
    let mut hash = [0u64; 2];
    for byte in text.bytes() {
        for (lane, base) in TEXT_BASES.iter().enumerate() {
            hash[lane] = add_mod(mul_mod(hash[lane], *base), u64::from(byte) + 1);
        }
    }
    hash
}

impl Cell {
    /// The cell of a value.
    pub fn of(value: &Value) -> Cell {
        match value {
            Value::String(text) => Cell::Text {
                len: text.len() as u64,
                hash: text_hash(text),
            },
            other => Cell::Value(Json(other.clone())),
        }
    }

    /// The cell after appending `suffix`, or `None` when the value is not a string (or null).
    fn append(&self, suffix: &str) -> Option<Cell> {
        let (len, hash) = match self {
            Cell::Value(Json(Value::Null)) => (0, [0, 0]),
            Cell::Text { len, hash } => (*len, *hash),
            Cell::Value(_) => return None,
        };
        let tail = text_hash(suffix);
        let shift = suffix.len() as u64;
        let mut next = [0u64; 2];
        for lane in 0..2 {
            next[lane] = add_mod(
                mul_mod(hash[lane], pow_mod(TEXT_BASES[lane], shift)),
                tail[lane],
            );
        }
        Some(Cell::Text {
            len: len + shift,
            hash: next,
        })
    }
}

/// The register step on cells (see [`register_step`] for the meaning).
fn cell_step(state: &Cell, op: &Operation) -> Option<Cell> {
    match op.f {
        OpFn::Read => match &op.output {
            Some(value) if Cell::of(value) != *state => None,
            _ => Some(state.clone()),
        },
        OpFn::Write => Some(Cell::of(&op.input)),
        OpFn::Cas => {
            let (expected, new) = cas_pair(op)?;
            (Cell::of(expected) == *state).then(|| Cell::of(new))
        }
        OpFn::Append => state.append(op.input.as_str()?),
        OpFn::Acquire | OpFn::Release => None,
    }
}

fn cell_admits(state: &Cell, op: &Operation) -> bool {
    match op.f {
        OpFn::Read => !matches!(&op.output, Some(value) if Cell::of(value) != *state),
        _ => cell_step(state, op).is_some(),
    }
}

fn cell_bytes(state: &Cell) -> usize {
    match state {
        Cell::Value(json) => json.bytes() + 8,
        Cell::Text { .. } => std::mem::size_of::<Cell>(),
    }
}

/// Replays a register (or one key of a kv map) with full values, for explanations.
fn register_replay(
    init: &Value,
    prefix: &[&Operation],
    tail_len: usize,
    candidates: &[&Operation],
) -> Replay {
    let mut state = Json(init.clone());
    let tail_start = prefix.len().saturating_sub(tail_len);
    let mut tail = Vec::new();
    for (step, op) in prefix.iter().enumerate() {
        if let Some(next) = register_step(&state, op) {
            state = next;
        }
        if step >= tail_start {
            tail.push(state.0.clone());
        }
    }
    Replay {
        tail,
        reasons: candidates
            .iter()
            .map(|op| register_explain(&state, op))
            .collect(),
        state: state.0,
    }
}

/// Without appends, a cell that no ok read returns and no cas (ok or info) expects can only be
/// overwritten.
fn cell_unobservable(ops: &[Operation]) -> StateTest<'static, Cell> {
    if ops.iter().any(|op| op.f == OpFn::Append) {
        return Box::new(|_| false);
    }
    let mut observed: Vec<Cell> = Vec::new();
    for op in ops {
        let value = match (op.f, op.outcome) {
            (OpFn::Read, Outcome::Ok) => op.output.as_ref(),
            (OpFn::Cas, Outcome::Ok | Outcome::Info) => cas_pair(op).map(|(expected, _)| expected),
            _ => None,
        };
        if let Some(value) = value {
            observed.push(Cell::of(value));
        }
    }
    let mut keyed: Vec<(u64, Cell)> = observed
        .into_iter()
        .map(|cell| (crate::table::stable_hash(&cell), cell))
        .collect();
    keyed.sort_by_key(|(hash, _)| *hash);
    Box::new(move |state: &Cell| {
        let hash = crate::table::stable_hash(state);
        let start = keyed.partition_point(|(other, _)| *other < hash);
        !keyed[start..]
            .iter()
            .take_while(|(other, _)| *other == hash)
            .any(|(_, cell)| cell == state)
    })
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

pub(crate) fn cas_pair(op: &Operation) -> Option<(&Value, &Value)> {
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
/// observed one: then `unseen` decides (and where it cannot, only info reads are dropped).
fn register_irrelevant(init: &Value, ops: &[Operation]) -> Vec<bool> {
    let has_append = ops.iter().any(|op| op.f == OpFn::Append);
    if has_append {
        return crate::unseen::unseen_with_appends(init, ops).unwrap_or_else(|| {
            ops.iter()
                .map(|op| op.outcome == Outcome::Info && op.f == OpFn::Read)
                .collect()
        });
    }
    // The values info writes and cas would leave, the only ones whose being observed matters.
    // Most histories have few info operations, so only these values are written out as text,
    // and an observed value is written out only when its hash matches one of them.
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    let mut candidate_hashes: Vec<u64> = Vec::new();
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
                OpFn::Write => !observed.contains(&op.input.to_string()),
                OpFn::Cas => match cas_pair(op) {
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

/// The parts Register and Kv share: cells, compact states of one register.
macro_rules! register_model {
    ($model:ty, $appends:expr, $partition:expr) => {
        impl Model for $model {
            type State = Cell;

            fn init(&self, init: &Value) -> Cell {
                Cell::of(init)
            }

            fn step(&self, state: &Cell, op: &Operation) -> Option<Cell> {
                if !$appends && op.f == OpFn::Append {
                    return None;
                }
                cell_step(state, op)
            }

            fn admits(&self, state: &Cell, op: &Operation) -> bool {
                ($appends || op.f != OpFn::Append) && cell_admits(state, op)
            }

            fn describe(&self, state: &Cell) -> Value {
                match state {
                    Cell::Value(json) => json.0.clone(),
                    Cell::Text { len, .. } => {
                        serde_json::json!({ "string of length": len })
                    }
                }
            }

            fn replay(
                &self,
                init: &Value,
                prefix: &[&Operation],
                tail_len: usize,
                candidates: &[&Operation],
            ) -> Replay {
                register_replay(init, prefix, tail_len, candidates)
            }

            fn state_bytes(&self, state: &Cell) -> usize {
                cell_bytes(state)
            }

            fn read_only(&self, op: &Operation) -> bool {
                op.f == OpFn::Read
            }

            fn overwrites(&self, op: &Operation) -> bool {
                op.f == OpFn::Write
            }

            fn unobservable<'m>(&'m self, _init: &Value, ops: &[Operation]) -> StateTest<'m, Cell> {
                cell_unobservable(ops)
            }

            fn explain(&self, state: &Cell, op: &Operation) -> String {
                match state {
                    Cell::Value(json) => register_explain(json, op),
                    Cell::Text { .. } => match cell_step(state, op) {
                        Some(_) => "it can take effect here, but no order of the remaining \
                                    operations works"
                            .to_string(),
                        None => "it cannot take effect in this state".to_string(),
                    },
                }
            }

            fn partition(&self, op: &Operation) -> Option<String> {
                $partition(op)
            }

            fn effect_key(&self, op: &Operation) -> Option<String> {
                register_effect_key(op)
            }

            fn irrelevant(&self, init: &Value, ops: &[Operation]) -> Vec<bool> {
                register_irrelevant(init, ops)
            }

            fn unseen_from(&self, starts: &[&Cell], ops: &[Operation]) -> Vec<bool> {
                // Strings are fingerprints, but the rule asks of the initial value only whether it
                // is a string or null: a start that is neither goes in as the initial value (with
                // appends, any one of them makes the rule keep every info write and append;
                // without, the initial value does not matter), else null stands for them all.
                let other = starts.iter().find_map(|cell| match cell {
                    Cell::Value(Json(value)) if !value.is_null() => Some(value),
                    _ => None,
                });
                register_irrelevant(other.unwrap_or(&Value::Null), ops)
            }

            fn impossible(&self, init: &Value, ops: &[Operation]) -> Option<(usize, String)> {
                register_impossible(init, ops)
            }
        }
    };
}

register_model!(Register, false, |_: &Operation| None);
register_model!(Kv, true, |op: &Operation| op.key.clone());

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
        let cell = |value: Value| Cell::of(&value);
        assert_eq!(Register.step(&cell(json!(1)), &cas), Some(cell(json!(2))));
        assert_eq!(Register.step(&cell(json!(3)), &cas), None);
        assert_eq!(
            Register.explain(&cell(json!(3)), &cas),
            "it expects 1, but the value is 3"
        );
    }

    #[test]
    fn kv_append_concatenates_onto_null_and_strings() {
        let append = op(OpFn::Append, json!("b"), None);
        let cell = |value: Value| Cell::of(&value);
        assert_eq!(Kv.step(&cell(Value::Null), &append), Some(cell(json!("b"))));
        assert_eq!(Kv.step(&cell(json!("a")), &append), Some(cell(json!("ab"))));
        assert_eq!(Kv.step(&cell(json!(3)), &append), None);
        // A string built by appends is the same cell as the string written whole.
        let built = ["x 1 ", "", "yz", "\u{e9}"]
            .iter()
            .try_fold(cell(Value::Null), |state, suffix| {
                Kv.step(&state, &op(OpFn::Append, json!(suffix), None))
            });
        assert_eq!(built, Some(cell(json!("x 1 yz\u{e9}"))));
        assert_ne!(cell(json!("ab")), cell(json!("ba")));
        assert_ne!(cell(json!("")), cell(Value::Null));
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
