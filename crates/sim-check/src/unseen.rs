//! Info operations whose effect no observation can ever see, for a register (or a kv key) with
//! appends: the search may leave them out.
//!
//! Owns `unseen_with_appends`. Without appends the rule is simple (an info write whose value no
//! read returns and no cas expects cannot matter; see `model::register_irrelevant`). With appends a
//! value can be extended before it is read, so the rule looks at what an info operation's effect
//! can grow into:
//! - an info write (or cas) of the string `v` leaves `v`, and appends then make `v + y1 + y2 + ..`
//!   where every `yi` is the suffix of some append of the key;
//! - an info append of the suffix `x` leaves `p + x`, then `p + x + y1 + ..`, whatever `p` was.
//!
//! The operation is *unseen* when no observation (an ok read's value, the expected value of an ok
//! or info cas) has that shape. Dropping every unseen operation at once is sound, in both
//! directions. Take a linearization `L` of the history with them. Call a point of `L` tainted when
//! an unseen operation took effect since the last write or cas that did. At a tainted point the
//! state has one of the shapes above, which nothing observes, so the operations `L` places there
//! are unseen ones, appends and writes only: no read, and no cas (it would have to expect a
//! tainted value). Remove the unseen operations: untainted points keep their states, and at
//! tainted points only appends run, which succeed because every state is a string or null (so
//! the rule requires that of the initial value and of every value written). The result is a
//! linearization of the history without them; and a linearization without them is one with them
//! (info operations need not take effect). Any decomposition of an observation is allowed (a
//! suffix may be used more than once), which can only keep more operations than needed.
//!
//! The work is bounded: past `WORK_MAX` steps the rule gives up and keeps everything, which is
//! always sound. The bound counts steps, not time, so the answer is the same on every run.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::history::{OpFn, Operation, Outcome};

/// The most lookups the rule may make before keeping every operation.
pub(crate) const WORK_MAX: u64 = 1 << 26;

/// For each operation of one key whose operations include appends, whether it is an info
/// operation whose effect no observation can see (info reads always are); `None` when some value
/// is neither a string nor null, or the work bound ran out.
pub(crate) fn unseen_with_appends(init: &Value, ops: &[Operation]) -> Option<Vec<bool>> {
    let live = |op: &&Operation| op.outcome != Outcome::Fail;
    let suffixes = append_suffixes(init, ops)?;
    // What the info operations would leave: a whole value, or a suffix.
    let mut values = Strings::default();
    let mut appended = Strings::default();
    for op in ops.iter().filter(|op| op.outcome == Outcome::Info) {
        match (op.f, effect(op)) {
            (OpFn::Append, Some(suffix)) if !suffix.is_empty() => appended.insert(suffix),
            (OpFn::Write | OpFn::Cas, Some(value)) => values.insert(value),
            _ => {}
        }
    }
    let observations: BTreeSet<&[u8]> = ops
        .iter()
        .filter(live)
        .filter_map(observed)
        .filter_map(|value| value.as_str().map(str::as_bytes))
        .collect();
    let mut seen: BTreeSet<&[u8]> = BTreeSet::new();
    let mut work: u64 = 0;
    for observation in observations {
        let rests = decomposable_rests(observation, &suffixes, &mut work)?;
        for (end, _) in rests.iter().enumerate().filter(|(_, rest)| **rest) {
            // `observation[..end]` could be a value written, then extended by appends.
            if let Some(found) = values.find(&observation[..end], &mut work) {
                seen.insert(found);
            }
            // Or `observation[..end]` ends with a suffix appended, then extended.
            for found in appended.ending(&observation[..end], &mut work) {
                seen.insert(found);
            }
            if work > WORK_MAX {
                return None;
            }
        }
    }
    Some(ops.iter().map(|op| unseen(op, &seen)).collect())
}

/// Whether `op` is an info operation whose effect is not in `seen` (an info read always is).
fn unseen(op: &Operation, seen: &BTreeSet<&[u8]>) -> bool {
    if op.outcome != Outcome::Info {
        return false;
    }
    match (op.f, effect(op)) {
        (OpFn::Read, _) => true,
        (OpFn::Append, Some(suffix)) => !suffix.is_empty() && !seen.contains(suffix),
        (OpFn::Write | OpFn::Cas, Some(value)) => !seen.contains(value),
        // A malformed cas never takes effect; a null or non-string one is kept.
        (OpFn::Cas, None) => crate::model::cas_pair(op).is_none(),
        _ => false,
    }
}

/// The suffixes of the key's appends (failed ones aside), or `None` when the rule does not
/// apply: the initial value or some value written is neither a string nor null.
fn append_suffixes<'a>(init: &Value, ops: &'a [Operation]) -> Option<Strings<'a>> {
    if !matches!(init, Value::Null | Value::String(_)) {
        return None;
    }
    let mut suffixes = Strings::default();
    for op in ops.iter().filter(|op| op.outcome != Outcome::Fail) {
        let written = match op.f {
            OpFn::Write => Some(&op.input),
            OpFn::Cas => crate::model::cas_pair(op).map(|(_, new)| new),
            OpFn::Append => {
                if let Value::String(suffix) = &op.input {
                    suffixes.insert(suffix.as_bytes());
                }
                None
            }
            _ => None,
        };
        if written.is_some_and(|value| !matches!(value, Value::Null | Value::String(_))) {
            return None;
        }
    }
    Some(suffixes)
}

/// The string an info write, cas or append would leave (the whole value, or the suffix), if it is
/// a string.
fn effect(op: &Operation) -> Option<&[u8]> {
    let value = match op.f {
        OpFn::Write | OpFn::Append => &op.input,
        OpFn::Cas => crate::model::cas_pair(op)?.1,
        _ => return None,
    };
    value.as_str().map(str::as_bytes)
}

/// The value an operation observes, if any: an ok read's result, a cas's expected value.
fn observed(op: &Operation) -> Option<&Value> {
    match (op.f, op.outcome) {
        (OpFn::Read, Outcome::Ok) => op.output.as_ref(),
        (OpFn::Cas, Outcome::Ok | Outcome::Info) => crate::model::cas_pair(op).map(|(e, _)| e),
        _ => None,
    }
}

/// For each position `i` of `text` (and its end), whether `text[i..]` is a concatenation of
/// suffixes; `None` past the work bound.
fn decomposable_rests(text: &[u8], suffixes: &Strings<'_>, work: &mut u64) -> Option<Vec<bool>> {
    let mut rests = vec![false; text.len() + 1];
    rests[text.len()] = true;
    for start in (0..text.len()).rev() {
        rests[start] = suffixes.lengths().any(|len| {
            let end = start + len;
            *work += 1;
            end <= text.len() && rests[end] && suffixes.contains(&text[start..end])
        });
        if *work > WORK_MAX {
            return None;
        }
    }
    Some(rests)
}

/// A set of byte strings, looked up by length first.
#[derive(Default)]
struct Strings<'a> {
    by_len: BTreeMap<usize, BTreeSet<&'a [u8]>>,
}

impl<'a> Strings<'a> {
    fn insert(&mut self, text: &'a [u8]) {
        self.by_len.entry(text.len()).or_default().insert(text);
    }

    fn lengths(&self) -> impl Iterator<Item = usize> + '_ {
        self.by_len.keys().copied().filter(|len| *len > 0)
    }

    fn contains(&self, text: &[u8]) -> bool {
        self.by_len
            .get(&text.len())
            .is_some_and(|set| set.contains(text))
    }

    /// The member equal to `text`.
    fn find(&self, text: &[u8], work: &mut u64) -> Option<&'a [u8]> {
        *work += 1;
        self.by_len.get(&text.len())?.get(text).copied()
    }

    /// The members `text` ends with.
    fn ending<'s>(
        &'s self,
        text: &'s [u8],
        work: &'s mut u64,
    ) -> impl Iterator<Item = &'a [u8]> + 's {
        self.by_len
            .range(..=text.len())
            .filter_map(move |(len, set)| {
                *work += 1;
                set.get(&text[text.len() - len..]).copied()
            })
    }
}
