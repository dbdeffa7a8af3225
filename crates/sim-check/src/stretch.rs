//! The search of one stretch of a key's history for the incremental check: every configuration
//! in which all the stretch's ok operations have taken effect, up to domination.
//!
//! Owns `Stretch` and `Config`. A configuration of the search is (operations applied, model
//! state); the ok ("required") operations must all be applied, info operations (the carried ones
//! and the stretch's own) may be applied or left open. A configuration *dominates* another with
//! the same state and the same required operations applied whose info operations applied are a
//! superset: it can do everything the other can, and ends with more operations open. The search
//! needs only one configuration per class up to domination, and prunes three ways:
//! - **Subsumption memo.** A configuration dominated by one already explored is not explored.
//!   Required operations are tried before info ones, so the dominating one tends to come first.
//! - **Useless info operations.** Each path keeps, for every info operation it applied, the state
//!   the same path would be in without it (its *shadow*). When an operation cannot take effect in
//!   a shadow, that info operation was needed and its shadow is dropped; when a shadow equals the
//!   path's state, the path without the info operation reaches the same state with one more
//!   operation open: the configuration is dominated by a reachable one and is pruned. This
//!   removes the blow-up of info writes that some later write overwrites unobserved, which
//!   otherwise doubles the search once for each info operation carried.
//! - **Reads first.** A required read-only operation that can take effect now goes next and
//!   nothing else is tried, as in the whole-history search: moving an operation that changes
//!   nothing earlier, to a point after its invoke where it holds, keeps any linearization valid,
//!   and so keeps the set of end configurations.
//!
//! Soundness: by induction on the length of a path, every reachable configuration is dominated by
//! an explored one (a pruned one is dominated by a configuration reachable by a shorter path or
//! with fewer info operations applied), so the end configurations found dominate every reachable
//! one. The search is deterministic: it depends only on the operations and the frontier.

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{Operation, Outcome};
use crate::model::Model;
use crate::table::{Interner, TransitionCache};

/// One configuration of a frontier: a state and the info operations that may still apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Config<S> {
    pub(crate) state: S,
    /// Invoke indices of the open info operations, ascending.
    pub(crate) open: Vec<usize>,
}

/// The most shadows a path keeps; past that the oldest are dropped (less pruning, still sound).
const SHADOWS_MAX: usize = 32;
const NONE: u32 = u32::MAX;

/// One stretch's search: the carried info operations, then the stretch's own, by position.
pub(crate) struct Stretch<'a, M: Model> {
    pub(crate) model: &'a M,
    pub(crate) ops: &'a [&'a Operation],
    pub(crate) carried_count: usize,
    /// Nothing follows the stretch: only whether some end configuration exists matters.
    pub(crate) last: bool,
}

/// A configuration on the search stack, with the shadows of the path that reached it.
struct Node {
    applied: Vec<u64>,
    state: u32,
    /// (position of an info operation applied on the path, the state without it).
    shadows: Vec<(u32, u32)>,
}

/// The search's tables: interned states, model steps already computed, explored configurations.
struct Tables<'a, M: Model> {
    model: &'a M,
    ops: &'a [&'a Operation],
    states: Interner<M::State>,
    steps: TransitionCache,
    /// Per (required operations applied, state): the info sets applied of the configurations
    /// explored, none a superset of another.
    memo: BTreeMap<(Vec<u64>, u32), Vec<Vec<u64>>>,
    /// Bits of the required positions.
    required_mask: Vec<u64>,
    /// Per position: an info operation whose effect no operation of the stretch can observe.
    unseen: Vec<bool>,
    /// Bits of the required operations that cannot take effect while the effect of an unseen
    /// info operation stands (a read, or a blind write that ends it).
    ends_mask: Vec<u64>,
}

impl<M: Model> Tables<'_, M> {
    fn step(&mut self, state: u32, position: usize) -> Option<u32> {
        let op = position as u32;
        if let Some(result) = self.steps.get(state, op) {
            return (result != NONE).then_some(result);
        }
        let result = self
            .model
            .step(self.states.get(state), self.ops[position])
            .map(|next| self.states.intern(next));
        self.steps.insert(state, op, result.unwrap_or(NONE));
        result
    }

    /// Records the configuration unless an explored one dominates it; returns whether it is new.
    fn record(&mut self, applied: &[u64], state: u32) -> bool {
        let required: Vec<u64> = applied
            .iter()
            .zip(&self.required_mask)
            .map(|(bits, mask)| bits & mask)
            .collect();
        let info: Vec<u64> = applied
            .iter()
            .zip(&self.required_mask)
            .map(|(bits, mask)| bits & !mask)
            .collect();
        let explored = self.memo.entry((required, state)).or_default();
        if explored.iter().any(|other| is_subset(other, &info)) {
            return false;
        }
        explored.retain(|other| !is_subset(&info, other));
        explored.push(info);
        true
    }
}

/// What a stretch's search may spend, and when it may stop early.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The most configurations the search may explore.
    pub(crate) max_states: u64,
    /// The most distinct states the end configurations may hold: past that the search stops
    /// (a frontier holds at least one configuration per distinct end state, so it would be
    /// larger still).
    pub(crate) max_end_states: usize,
}

/// What a stretch's search found.
pub(crate) enum Explored<S> {
    /// Every end configuration, up to domination (with [`Stretch::last`], only the first found).
    Ends(Vec<Config<S>>),
    /// [`Limits::max_states`] ran out.
    OutOfStates,
    /// The end configurations held more than [`Limits::max_end_states`] distinct states.
    TooManyEnds,
}

impl<M: Model> Stretch<'_, M> {
    /// Every configuration reachable from `frontier` in which all the stretch's ok operations
    /// have taken effect, up to domination, within `limits`; `unseen` is
    /// [`unseen`](Self::unseen) of the same frontier. Also the configurations explored.
    pub(crate) fn explore(
        &self,
        frontier: &[Config<M::State>],
        unseen: Vec<bool>,
        limits: Limits,
    ) -> (Explored<M::State>, u64) {
        let ops = self.ops;
        let mut tables = self.tables(unseen);
        let mut stack: Vec<Node> = Vec::new();
        for config in frontier.iter().rev() {
            let applied = self.start(config);
            let state = tables.states.intern(config.state.clone());
            if tables.record(&applied, state) {
                stack.push(Node {
                    applied,
                    state,
                    shadows: Vec::new(),
                });
            }
        }
        let mut ends: Vec<Config<M::State>> = Vec::new();
        let mut end_states: BTreeSet<u32> = BTreeSet::new();
        let mut explored: u64 = 0;
        while let Some(node) = stack.pop() {
            explored += 1;
            if explored > limits.max_states {
                return (Explored::OutOfStates, explored);
            }
            if !self.expand(&mut tables, &node, &mut stack) {
                continue;
            }
            let open = (0..ops.len())
                .filter(|&p| !is_set(&node.applied, p))
                .map(|p| ops[p].index)
                .collect();
            let state = tables.states.get(node.state).clone();
            ends.push(Config { state, open });
            end_states.insert(node.state);
            if self.last {
                // Nothing follows: that one end exists is all that matters.
                break;
            }
            if end_states.len() > limits.max_end_states {
                return (Explored::TooManyEnds, explored);
            }
        }
        (Explored::Ends(ends), explored)
    }

    /// The search's tables, empty, for this stretch with its `unseen` info operations.
    fn tables(&self, unseen: Vec<bool>) -> Tables<'_, M> {
        let ops = self.ops;
        let words = ops.len().div_ceil(64).max(1);
        let mut required_mask = vec![0u64; words];
        for (position, op) in ops.iter().enumerate().skip(self.carried_count) {
            if op.outcome == Outcome::Ok {
                set(&mut required_mask, position);
            }
        }
        let mut ends_mask = vec![0u64; words];
        for position in 0..ops.len() {
            if is_set(&required_mask, position) && self.ends_taint(position) {
                set(&mut ends_mask, position);
            }
        }
        Tables {
            model: self.model,
            ops,
            states: Interner::new(),
            steps: TransitionCache::with_expected(4 * ops.len()),
            memo: BTreeMap::new(),
            required_mask,
            unseen,
            ends_mask,
        }
    }

    /// Per position: an info operation whose effect no operation of the stretch can observe,
    /// when the stretch may start in any configuration of `frontier`.
    pub(crate) fn unseen(&self, frontier: &[Config<M::State>]) -> Vec<bool> {
        let owned: Vec<Operation> = self.ops.iter().map(|op| (*op).clone()).collect();
        let starts: Vec<&M::State> = frontier.iter().map(|config| &config.state).collect();
        self.model.unseen_from(&starts, &owned)
    }

    /// Whether the operation at `position`, if required, ends the effect of an unseen info
    /// operation: a read cannot see it, a blind write replaces it.
    fn ends_taint(&self, position: usize) -> bool {
        let op = self.ops[position];
        self.model.read_only(op) || self.model.overwrites(op)
    }

    /// Whether the effect of an unseen info operation may last to the end of the stretch: some
    /// required operation that does not end it (an append) may go after every one that does. The
    /// end configurations then hold the unseen operations in every order, which only a later
    /// read can sort out: better to search the stretch together with the next one.
    pub(crate) fn ends_open(&self, unseen: &[bool]) -> bool {
        let ops = self.ops;
        if !unseen.iter().any(|unseen| *unseen) {
            return false;
        }
        let required = (self.carried_count..ops.len()).filter(|&p| ops[p].outcome == Outcome::Ok);
        let last_ending_invoke = required
            .clone()
            .filter(|&p| self.ends_taint(p))
            .map(|p| ops[p].index)
            .max();
        required.filter(|&p| !self.ends_taint(p)).any(|p| {
            last_ending_invoke
                .is_none_or(|invoke| ops[p].complete_index.is_none_or(|done| done > invoke))
        })
    }

    /// Pushes the configurations that follow `node`; returns whether `node` is an end (every
    /// required operation applied).
    fn expand(&self, tables: &mut Tables<'_, M>, node: &Node, stack: &mut Vec<Node>) -> bool {
        let ops = self.ops;
        let applied = &node.applied;
        let all_required = applied
            .iter()
            .zip(&tables.required_mask)
            .all(|(bits, mask)| mask & !bits == 0);
        if all_required {
            return true;
        }
        // An operation may go next only if every ok operation that returned before it was
        // invoked has gone already. The stretch's own operations are in invoke order, and each
        // completes after it is invoked: the scan stops at the first one invoked after the
        // earliest completion found, and those that may go are a prefix of them.
        let mut horizon = usize::MAX;
        for p in unset(applied, self.carried_count..ops.len()) {
            if ops[p].index > horizon {
                break;
            }
            if ops[p].outcome == Outcome::Ok {
                horizon = horizon.min(ops[p].complete_index.unwrap_or(usize::MAX));
            }
        }
        let window =
            self.carried_count + ops[self.carried_count..].partition_point(|op| op.index < horizon);
        // Reads first: a required read-only operation that holds now goes next, alone.
        let forced = unset(applied, self.carried_count..window).find(|&p| {
            ops[p].outcome == Outcome::Ok
                && self.model.read_only(ops[p])
                && tables.step(node.state, p).is_some()
        });
        // An unseen info operation is useful only where its effect can last to the end: not
        // while a read or a blind write is still to come (and never in the last stretch).
        let taint_ends = self.last
            || applied
                .iter()
                .zip(&tables.ends_mask)
                .any(|(bits, mask)| mask & !bits != 0);
        let useful = |p: usize| !(taint_ends && tables.unseen.get(p).copied().unwrap_or(false));
        let mut children: Vec<usize> = match forced {
            Some(p) => vec![p],
            None => unset(applied, 0..window).filter(|&p| useful(p)).collect(),
        };
        // Required operations are popped first: push the info ones before them.
        children.sort_by_key(|&p| ops[p].outcome == Outcome::Ok);
        for p in children {
            if let Some(child) = self.child(tables, node, p) {
                stack.push(child);
            }
        }
        false
    }

    /// The configuration after applying the operation at `position` in `node`, unless it cannot
    /// take effect or is pruned.
    fn child(&self, tables: &mut Tables<'_, M>, node: &Node, position: usize) -> Option<Node> {
        let next = tables.step(node.state, position)?;
        let is_info = self.ops[position].outcome != Outcome::Ok;
        if is_info && next == node.state {
            // It changed nothing: the configuration with it open dominates.
            return None;
        }
        let mut shadows = Vec::with_capacity(node.shadows.len() + 1);
        for &(info, shadow) in &node.shadows {
            match tables.step(shadow, position) {
                // Without `info` the path reaches the same state: dominated.
                Some(without) if without == next => return None,
                Some(without) => shadows.push((info, without)),
                // `info` made this operation possible: it was needed.
                None => {}
            }
        }
        if is_info {
            if shadows.len() >= SHADOWS_MAX {
                shadows.remove(0);
            }
            shadows.push((position as u32, node.state));
        }
        let mut applied = node.applied.clone();
        set(&mut applied, position);
        tables.record(&applied, next).then_some(Node {
            applied,
            state: next,
            shadows,
        })
    }

    /// The operations already out of play in `config`: the carried ones it no longer holds open.
    fn start(&self, config: &Config<M::State>) -> Vec<u64> {
        let mut applied = vec![0u64; self.ops.len().div_ceil(64).max(1)];
        for (position, op) in self.ops[..self.carried_count].iter().enumerate() {
            if config.open.binary_search(&op.index).is_err() {
                set(&mut applied, position);
            }
        }
        applied
    }
}

/// The positions in `range` whose bit is not set in `bits`, in order.
fn unset(bits: &[u64], range: std::ops::Range<usize>) -> impl Iterator<Item = usize> + '_ {
    let end = range.end;
    let mut next = range.start;
    std::iter::from_fn(move || {
        while next < end {
            let word = next / 64;
            let free = !bits[word] & (u64::MAX << (next % 64));
            if free == 0 {
                next = (word + 1) * 64;
                continue;
            }
            let position = word * 64 + free.trailing_zeros() as usize;
            next = position + 1;
            return (position < end).then_some(position);
        }
        None
    })
}

fn is_subset(small: &[u64], large: &[u64]) -> bool {
    small.iter().zip(large).all(|(s, l)| s & !l == 0)
}

fn set(bits: &mut [u64], position: usize) {
    bits[position / 64] |= 1 << (position % 64);
}

fn is_set(bits: &[u64], position: usize) -> bool {
    bits[position / 64] & (1 << (position % 64)) != 0
}
