//! The Wing–Gong–Lowe search for one independent object, with memoisation as in Porcupine.
//!
//! Owns [`search`] and its outcome types. The input is the operations on one object with failed
//! operations and irrelevant info operations already removed.
//!
//! How it works: operations that completed ok ("required") sit in a doubly linked list of call and
//! return entries in real-time order. The search walks the list from its head: a call entry is a
//! candidate to linearize next; the first return entry is an operation that must be linearized
//! before anything returning later, so candidates end there. Linearizing an operation lifts its two
//! entries out of the list; backtracking puts them back (unlift). Info operations return at the
//! end of the history and need not take effect at all, so they are kept out of the list: they are
//! tried only after the required candidates, grouped into classes of operations with the same
//! effect, and within a class only in invoke order (a symmetry: swapping two info ops with equal
//! effects changes nothing). The search succeeds once every required operation is linearized.
//!
//! Configurations (set of linearized operations, model state) already explored are remembered as
//! 128-bit fingerprints: each operation and each state gets a fixed pseudo-random 128-bit key and a
//! configuration's fingerprint is the XOR of its keys, updated in O(1) per step. As with TLC's
//! fingerprints, a collision could hide an unexplored configuration; at 128 bits the chance is
//! below 2^-64 even after billions of states, far below the chance of a hardware fault.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::history::{Operation, Outcome};
use crate::model::{Model, StateTest};
use crate::table::{mix64, Interner, SubsumptionMemo, TransitionCache};

/// The limits of one search.
pub(crate) struct Limits<'a> {
    pub(crate) max_states: u64,
    /// The most bytes this search may hold.
    pub(crate) max_memory: Option<u64>,
    pub(crate) deadline: Option<(Instant, Duration)>,
    /// Another object with a smaller index already failed: this search may stop.
    pub(crate) first_failure: Option<(&'a AtomicUsize, usize)>,
}

pub(crate) enum SearchOutcome {
    Linearizable,
    NotLinearizable(Failure),
    Unknown(StopReason),
}

pub(crate) enum StopReason {
    StateBudget(u64),
    /// The memory budget (in bytes) ran out.
    Memory(u64),
    Timeout(Duration),
    Cancelled,
}

/// Where the search got stuck, in terms of the operations given to it.
pub(crate) struct Failure {
    /// Positions (in the search's operation slice) of the longest linearization found.
    pub(crate) prefix: Vec<usize>,
    /// Position of the operation that could not be placed after the prefix.
    pub(crate) blocking: usize,
    /// Positions of the operations that could have gone next, the blocking one first.
    pub(crate) candidates: Vec<usize>,
}

pub(crate) struct SearchReport {
    pub(crate) outcome: SearchOutcome,
    pub(crate) states_explored: u64,
}

const NONE: u32 = u32::MAX;
const UNASKED: u8 = 2;
const UNOBSERVABLE_KEY: [u64; 2] = [0x2545_f491_4f6c_dd1d, 0x9e6c_63d0_676a_9a99];
const HEAD: u32 = 0;
/// How many loop iterations pass between looks at the clock and the cancel flag.
const POLL_INTERVAL: u64 = 1 << 12;
const _: () = assert!(POLL_INTERVAL.is_power_of_two());
/// The most distinct model states one search may intern; ids are u32 and `NONE` is reserved.
const STATES_MAX: usize = 1 << 31;

struct Frame {
    op: u32,
    previous_state: u32,
    /// The op was read-only and taken as soon as it could be: the configuration below it has no
    /// other alternatives worth trying.
    forced: bool,
    /// The op was tried early because the op `target` could take effect after it; `NONE` if not.
    target: u32,
    /// For an info op: the return entry that bounded the candidates when it was chosen.
    return_node: u32,
}

enum Cursor {
    /// First pass over the required candidates: look for a read-only op that can take effect.
    Reads(u32),
    /// Second pass: candidates after which `blocker`, the op that must return first and cannot
    /// take effect now, could. An ordering heuristic only: the main pass tries everything.
    Target {
        node: u32,
        blocker: u32,
    },
    Main(u32),
    Info {
        class: usize,
        return_node: u32,
    },
    /// No candidate is left in this configuration.
    Exhausted,
}

/// Searches for a linearization of `ops` (all on one object, in invoke order, none failed).
pub(crate) fn search<'a, M: Model>(
    model: &'a M,
    init: &Value,
    ops: &'a [&'a Operation],
    unobservable: StateTest<'a, M::State>,
    limits: &Limits<'_>,
) -> SearchReport {
    let mut engine = Engine::new(model, init, ops, unobservable);
    let outcome = engine.run(limits);
    SearchReport {
        outcome,
        states_explored: engine.states_explored,
    }
}

struct Engine<'a, M: Model> {
    model: &'a M,
    ops: &'a [&'a Operation],
    // The list of required call and return entries; node 0 is the head.
    next: Vec<u32>,
    prev: Vec<u32>,
    node_op: Vec<u32>,
    node_is_call: Vec<bool>,
    node_position: Vec<usize>,
    call_node: Vec<u32>,
    return_node: Vec<u32>,
    // Info operations: members of each class in invoke order, and how many are linearized.
    classes: Vec<Vec<u32>>,
    used: Vec<u32>,
    active: Vec<u32>,
    class_of: Vec<u32>,
    class_first_call: Vec<usize>,
    is_info: Vec<bool>,
    read_only: Vec<bool>,
    overwrites: Vec<bool>,
    unobservable: StateTest<'a, M::State>,
    /// Per state id: 0 observable, 1 unobservable, `UNASKED`.
    unobservable_cache: Vec<u8>,
    // Memoisation.
    op_keys: Vec<[u64; 2]>,
    memo: SubsumptionMemo,
    states: Interner<M::State>,
    /// What the interned states hold, by the model's estimate.
    states_bytes: u64,
    transitions: TransitionCache,
    states_explored: u64,
    // The current configuration.
    state: u32,
    fingerprint: [u64; 2],
    stack: Vec<Frame>,
    required_left: usize,
}

impl<'a, M: Model> Engine<'a, M> {
    fn new(
        model: &'a M,
        init: &Value,
        ops: &'a [&'a Operation],
        unobservable: StateTest<'a, M::State>,
    ) -> Self {
        let op_count = ops.len();
        let mut entries: Vec<(usize, u32, bool)> = Vec::new();
        let mut is_info = vec![false; op_count];
        for (position, op) in ops.iter().enumerate() {
            let position_u32 = position as u32;
            match (op.outcome, op.complete_index) {
                (Outcome::Ok, Some(complete_index)) => {
                    entries.push((op.index, position_u32, true));
                    entries.push((complete_index, position_u32, false));
                }
                _ => is_info[position] = true,
            }
        }
        entries.sort_unstable();
        let node_count = entries.len() + 1;
        let mut next = vec![NONE; node_count];
        let mut prev = vec![NONE; node_count];
        let mut node_op = vec![NONE; node_count];
        let mut node_is_call = vec![false; node_count];
        let mut node_position = vec![0; node_count];
        let mut call_node = vec![NONE; op_count];
        let mut return_node = vec![NONE; op_count];
        for (entry_index, &(position, op, is_call)) in entries.iter().enumerate() {
            let node = entry_index as u32 + 1;
            node_op[node as usize] = op;
            node_is_call[node as usize] = is_call;
            node_position[node as usize] = position;
            prev[node as usize] = node - 1;
            next[node as usize - 1] = node;
            if is_call {
                call_node[op as usize] = node;
            } else {
                return_node[op as usize] = node;
            }
        }

        // Info ops with the same effect form a class, tried in invoke order only.
        let mut class_names: std::collections::BTreeMap<String, u32> =
            std::collections::BTreeMap::new();
        let mut classes: Vec<Vec<u32>> = Vec::new();
        let mut class_of = vec![NONE; op_count];
        let mut class_first_call: Vec<usize> = Vec::new();
        for (position, op) in ops.iter().enumerate() {
            if !is_info[position] {
                continue;
            }
            let class = match model.effect_key(op) {
                Some(name) => *class_names.entry(name).or_insert_with(|| {
                    classes.push(Vec::new());
                    class_first_call.push(op.index);
                    classes.len() as u32 - 1
                }),
                None => {
                    classes.push(Vec::new());
                    class_first_call.push(op.index);
                    classes.len() as u32 - 1
                }
            };
            classes[class as usize].push(position as u32);
            class_of[position] = class;
        }

        let op_keys = (0..op_count as u64)
            .map(|op| {
                [
                    mix64(op.wrapping_mul(2)),
                    mix64(op.wrapping_mul(2) + 1) ^ 0x5bd1_e995,
                ]
            })
            .collect();
        let mut states = Interner::new();
        states.intern(model.init(init));
        let required_count = is_info.iter().filter(|info| !**info).count();
        let overwrites = ops.iter().map(|op| model.overwrites(op)).collect();
        let read_only = ops
            .iter()
            .zip(&is_info)
            .map(|(op, info)| !info && model.read_only(op))
            .collect();
        Engine {
            model,
            ops,
            next,
            prev,
            node_op,
            node_is_call,
            node_position,
            call_node,
            return_node,
            used: vec![0; classes.len()],
            active: Vec::new(),
            classes,
            class_of,
            class_first_call,
            is_info,
            read_only,
            overwrites,
            unobservable,
            unobservable_cache: Vec::new(),
            op_keys,
            // A search of a history that linearizes easily explores about one configuration
            // per operation, and tries a few transitions in each.
            memo: SubsumptionMemo::with_expected(op_count),
            states_bytes: 0,
            states,
            transitions: TransitionCache::with_expected(2 * op_count),
            states_explored: 0,
            state: 0,
            fingerprint: [0, 0],
            stack: Vec::new(),
            required_left: required_count,
        }
    }

    fn state_key(state: u32) -> [u64; 2] {
        let word = u64::from(state) ^ 0xa076_1d64_78bd_642f;
        [
            mix64(word ^ 0xe703_7ed1_a0b4_28db),
            mix64(word.rotate_left(17)),
        ]
    }

    /// The state after `op` in `state`, through the transition cache.
    fn step(&mut self, state: u32, op: u32) -> Option<u32> {
        if let Some(result) = self.transitions.get(state, op) {
            return if result == NONE { None } else { Some(result) };
        }
        let op_ref = self.ops[op as usize];
        let result = if self.read_only[op as usize] {
            // A read-only operation leaves the state as it is: ask whether it can take effect
            // rather than build (and intern) a copy of the state.
            let current = self.states.get(state);
            let admitted = self.model.admits(current, op_ref);
            debug_assert!(
                admitted.then(|| current.clone()) == self.model.step(current, op_ref),
                "a read-only operation changed the state, or admits disagrees with step"
            );
            admitted.then_some(state)
        } else {
            match self.model.step(self.states.get(state), op_ref) {
                Some(next) => {
                    let bytes = self.model.state_bytes(&next) as u64;
                    let count = self.states.len();
                    let id = self.states.intern(next);
                    if self.states.len() > count {
                        // The value, its hash and its share of the slots.
                        self.states_bytes += bytes + 16;
                    }
                    Some(id)
                }
                None => None,
            }
        };
        self.transitions.insert(state, op, result.unwrap_or(NONE));
        result
    }

    fn lift(&mut self, op: u32) {
        let call = self.call_node[op as usize] as usize;
        let (call_prev, call_next) = (self.prev[call], self.next[call]);
        self.next[call_prev as usize] = call_next;
        if call_next != NONE {
            self.prev[call_next as usize] = call_prev;
        }
        // The return entry comes after the call entry, so it is still in the list.
        let ret = self.return_node[op as usize] as usize;
        let (ret_prev, ret_next) = (self.prev[ret], self.next[ret]);
        self.next[ret_prev as usize] = ret_next;
        if ret_next != NONE {
            self.prev[ret_next as usize] = ret_prev;
        }
    }

    fn unlift(&mut self, op: u32) {
        let ret = self.return_node[op as usize];
        let (ret_prev, ret_next) = (self.prev[ret as usize], self.next[ret as usize]);
        self.next[ret_prev as usize] = ret;
        if ret_next != NONE {
            self.prev[ret_next as usize] = ret;
        }
        let call = self.call_node[op as usize];
        let (call_prev, call_next) = (self.prev[call as usize], self.next[call as usize]);
        self.next[call_prev as usize] = call;
        if call_next != NONE {
            self.prev[call_next as usize] = call;
        }
    }

    fn run(&mut self, limits: &Limits<'_>) -> SearchOutcome {
        if self.required_left == 0 {
            return SearchOutcome::Linearizable;
        }
        self.fingerprint = self.fingerprint_key(0);
        let mut cursor = Cursor::Reads(self.next[HEAD as usize]);
        let mut iterations: u64 = 0;
        let mut best = BestPrefix::new();
        loop {
            iterations += 1;
            if iterations & (POLL_INTERVAL - 1) == 0 {
                if let Some(reason) = self.poll(limits) {
                    return SearchOutcome::Unknown(reason);
                }
            }
            // Either a candidate op to try in the current configuration, or the end of them.
            let candidate: Option<(u32, u32, bool, u32)> = match cursor {
                Cursor::Reads(node) => {
                    if node == NONE || !self.node_is_call[node as usize] {
                        // `node` is the first return entry: aim at it if it is stuck.
                        cursor = Cursor::Main(self.next[HEAD as usize]);
                        if node != NONE {
                            let blocker = self.node_op[node as usize];
                            if self.peek(blocker).is_none() {
                                cursor = Cursor::Target {
                                    node: self.next[HEAD as usize],
                                    blocker,
                                };
                            }
                        }
                        continue;
                    }
                    cursor = Cursor::Reads(self.next[node as usize]);
                    let op = self.node_op[node as usize];
                    if !self.read_only[op as usize] {
                        continue;
                    }
                    if self.peek(op).is_none() {
                        continue;
                    }
                    // Forced: a read that holds now goes next, and if that fails, so does this
                    // configuration; there is nothing else to try here.
                    cursor = Cursor::Exhausted;
                    Some((op, NONE, true, NONE))
                }
                Cursor::Target { node, blocker } => {
                    if node == NONE || !self.node_is_call[node as usize] {
                        cursor = Cursor::Main(self.next[HEAD as usize]);
                        continue;
                    }
                    cursor = Cursor::Target {
                        node: self.next[node as usize],
                        blocker,
                    };
                    let op = self.node_op[node as usize];
                    if op == blocker || self.read_only[op as usize] {
                        continue;
                    }
                    let Some(after) = self.peek(op) else {
                        continue;
                    };
                    if self.step(after, blocker).is_none() {
                        continue;
                    }
                    Some((op, NONE, false, blocker))
                }
                Cursor::Main(node) => {
                    if node == NONE {
                        // Unreachable while required ops remain (their returns are in the list),
                        // but a dead end is the safe reading.
                        None
                    } else if self.node_is_call[node as usize] {
                        cursor = Cursor::Main(self.next[node as usize]);
                        let op = self.node_op[node as usize];
                        if self.read_only[op as usize] {
                            // Tried in the first pass: it cannot take effect here.
                            continue;
                        }
                        Some((op, NONE, false, NONE))
                    } else {
                        cursor = Cursor::Info {
                            class: 0,
                            return_node: node,
                        };
                        continue;
                    }
                }
                Cursor::Exhausted => None,
                Cursor::Info { class, return_node } => {
                    let bound = self.node_position[return_node as usize];
                    if class >= self.classes.len() || self.class_first_call[class] > bound {
                        None
                    } else {
                        cursor = Cursor::Info {
                            class: class + 1,
                            return_node,
                        };
                        let used = self.used[class] as usize;
                        match self.classes[class].get(used) {
                            Some(&op) if self.ops[op as usize].index < bound => {
                                Some((op, return_node, false, NONE))
                            }
                            _ => continue,
                        }
                    }
                }
            };

            let Some((op, return_node, forced, target)) = candidate else {
                // Every candidate failed: a dead end. Remember the deepest one, then backtrack.
                if let Cursor::Info { return_node, .. } = cursor {
                    best.record(&self.stack, self.node_op[return_node as usize]);
                }
                let Some(frame) = self.stack.pop() else {
                    return SearchOutcome::NotLinearizable(self.failure(&best));
                };
                best.popped(self.stack.len());
                cursor = self.undo(&frame);
                continue;
            };

            if !self.overwrites[op as usize] && self.state_is_unobservable() {
                // Nothing can observe this state: only an overwrite can follow it.
                continue;
            }
            let Some(next_state) = self.peek(op) else {
                continue;
            };
            match self.advance(op, next_state, return_node, forced, target, limits) {
                Err(reason) => return SearchOutcome::Unknown(reason),
                Ok(false) => continue,
                Ok(true) => {}
            }
            if self.required_left == 0 {
                return SearchOutcome::Linearizable;
            }
            cursor = Cursor::Reads(self.next[HEAD as usize]);
        }
    }

    /// Whether the search must stop: cancelled, past its deadline or over its memory budget.
    fn poll(&self, limits: &Limits<'_>) -> Option<StopReason> {
        if let Some(reason) = poll(limits) {
            return Some(reason);
        }
        let max_memory = limits.max_memory?;
        (self.memory_bytes() > max_memory).then_some(StopReason::Memory(max_memory))
    }

    /// The bytes this search holds, by the sizes of its tables.
    fn memory_bytes(&self) -> u64 {
        let stack = self.stack.capacity() * std::mem::size_of::<Frame>();
        self.memo.bytes() + self.transitions.bytes() + self.states_bytes + stack as u64
    }

    /// Whether no operation can observe the current state.
    fn state_is_unobservable(&mut self) -> bool {
        self.is_unobservable(self.state)
    }

    /// The fingerprint key of a state. All states no operation can observe share one key: from
    /// any of them only a blind write can follow, so their futures are the same.
    fn fingerprint_key(&mut self, state: u32) -> [u64; 2] {
        if self.is_unobservable(state) {
            UNOBSERVABLE_KEY
        } else {
            Self::state_key(state)
        }
    }

    /// Whether no operation can observe `state` (asked of the model once per state).
    fn is_unobservable(&mut self, state: u32) -> bool {
        let state = state as usize;
        if self.unobservable_cache.len() <= state {
            self.unobservable_cache.resize(state + 1, UNASKED);
        }
        if self.unobservable_cache[state] == UNASKED {
            let answer = (self.unobservable)(self.states.get(state as u32));
            self.unobservable_cache[state] = u8::from(answer);
        }
        self.unobservable_cache[state] == 1
    }

    /// The state after `op` in the current state, if it can take effect.
    fn peek(&mut self, op: u32) -> Option<u32> {
        self.step(self.state, op)
    }

    /// Moves to the configuration after `op` unless it was explored already (or is subsumed by
    /// one that was); returns whether it moved.
    fn advance(
        &mut self,
        op: u32,
        next_state: u32,
        return_node: u32,
        forced: bool,
        target: u32,
        limits: &Limits<'_>,
    ) -> Result<bool, StopReason> {
        let is_info = self.is_info[op as usize];
        let op_key = if is_info {
            [0, 0]
        } else {
            self.op_keys[op as usize]
        };
        let state_keys = xor(
            self.fingerprint_key(self.state),
            self.fingerprint_key(next_state),
        );
        let next_fingerprint = xor3(self.fingerprint, op_key, state_keys);
        let class = self.class_of[op as usize];
        if is_info {
            self.used[class as usize] += 1;
            if self.used[class as usize] == 1 {
                self.active.push(class);
            }
        }
        if self.states.len() >= STATES_MAX {
            return Err(StopReason::StateBudget(limits.max_states));
        }
        let recorded = self
            .memo
            .insert(next_fingerprint, &self.active, &self.used)
            .map_err(|_| StopReason::StateBudget(limits.max_states))?;
        if !recorded {
            if is_info {
                self.release_info(class);
            }
            return Ok(false);
        }
        self.states_explored += 1;
        if self.states_explored > limits.max_states {
            return Err(StopReason::StateBudget(limits.max_states));
        }
        self.stack.push(Frame {
            op,
            previous_state: self.state,
            forced,
            target,
            return_node,
        });
        self.state = next_state;
        self.fingerprint = next_fingerprint;
        if !is_info {
            self.lift(op);
            self.required_left -= 1;
        }
        Ok(true)
    }

    fn release_info(&mut self, class: u32) {
        self.used[class as usize] -= 1;
        if self.used[class as usize] == 0 {
            // Classes become active and inactive in stack order.
            let last = self.active.pop();
            debug_assert_eq!(last, Some(class), "info classes released out of order");
        }
    }

    /// Undoes `frame` and says where to continue in the configuration it returns to.
    fn undo(&mut self, frame: &Frame) -> Cursor {
        let is_info = self.is_info[frame.op as usize];
        let op_key = if is_info {
            [0, 0]
        } else {
            self.op_keys[frame.op as usize]
        };
        let state_keys = xor(
            self.fingerprint_key(self.state),
            self.fingerprint_key(frame.previous_state),
        );
        self.fingerprint = xor3(self.fingerprint, op_key, state_keys);
        self.state = frame.previous_state;
        let cursor = if is_info {
            let class = self.class_of[frame.op as usize];
            self.release_info(class);
            Cursor::Info {
                class: class as usize + 1,
                return_node: frame.return_node,
            }
        } else {
            self.unlift(frame.op);
            self.required_left += 1;
            let node = self.next[self.call_node[frame.op as usize] as usize];
            if frame.target == NONE {
                Cursor::Main(node)
            } else {
                Cursor::Target {
                    node,
                    blocker: frame.target,
                }
            }
        };
        if frame.forced {
            // The forced read failed, so the configuration below it has failed too.
            Cursor::Exhausted
        } else {
            cursor
        }
    }

    /// The failure facts of the deepest dead end.
    fn failure(&self, best: &BestPrefix) -> Failure {
        let prefix: Vec<usize> = best.ops.iter().map(|&op| op as usize).collect();
        let blocking = best.blocking as usize;
        let mut linearized = vec![false; self.ops.len()];
        for &op in &prefix {
            linearized[op] = true;
        }
        let bound = self.ops[blocking].complete_index.unwrap_or(usize::MAX);
        let mut candidates = vec![blocking];
        for (position, op) in self.ops.iter().enumerate() {
            if position != blocking && !linearized[position] && op.index < bound {
                candidates.push(position);
            }
        }
        Failure {
            prefix,
            blocking,
            candidates,
        }
    }
}

fn xor(left: [u64; 2], right: [u64; 2]) -> [u64; 2] {
    [left[0] ^ right[0], left[1] ^ right[1]]
}

fn xor3(first: [u64; 2], second: [u64; 2], third: [u64; 2]) -> [u64; 2] {
    xor(xor(first, second), third)
}

fn poll(limits: &Limits<'_>) -> Option<StopReason> {
    if let Some((first_failure, own_index)) = limits.first_failure {
        if first_failure.load(Ordering::Relaxed) < own_index {
            return Some(StopReason::Cancelled);
        }
    }
    if let Some((deadline, timeout)) = limits.deadline {
        if crate::clock::now() >= deadline {
            return Some(StopReason::Timeout(timeout));
        }
    }
    None
}

/// The deepest dead end met so far, copied from the stack incrementally: the part of the stack
/// that was not popped since the last copy is still equal to the copy.
struct BestPrefix {
    ops: Vec<u32>,
    depth: Option<usize>,
    blocking: u32,
    unchanged_len: usize,
}

impl BestPrefix {
    fn new() -> Self {
        BestPrefix {
            ops: Vec::new(),
            depth: None,
            blocking: 0,
            unchanged_len: 0,
        }
    }

    fn record(&mut self, stack: &[Frame], blocking: u32) {
        if self.depth.is_some_and(|depth| stack.len() <= depth) {
            return;
        }
        self.ops.truncate(self.unchanged_len.min(self.ops.len()));
        let start = self.ops.len();
        self.ops.extend(stack[start..].iter().map(|frame| frame.op));
        self.unchanged_len = stack.len();
        self.depth = Some(stack.len());
        self.blocking = blocking;
    }

    fn popped(&mut self, stack_len: usize) {
        self.unchanged_len = self.unchanged_len.min(stack_len);
    }
}
