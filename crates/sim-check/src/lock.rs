//! [`LockTable`]: the mutex model extended for owners, read-write locks, queues of waiters and
//! expiry, plus a counter with compare-and-set: the sequential specification of a lock service
//! such as Chubby, ZooKeeper's lock recipe or etcd's `concurrency.Mutex`.
//!
//! Histories use the kv format (every operation names its object: a lock, or the counter) and
//! give the functions these meanings:
//! - `write` on a lock, input `{"op": "acquire", "mode": "read"|"write"}`: the process (a
//!   session) acquires the lock, waiting in line if it cannot have it now; the output is
//!   `"granted"` or `"queued"`. A session that holds the lock is `"granted"` again; one that
//!   waits is `"queued"` again. Waiters are served in order: a newcomer joins the queue whenever
//!   it is not empty.
//! - `write`, input `{"op": "release"}`: the session releases the lock, or leaves its queue;
//!   output `"released"`, or `"not_held"` when it neither holds nor waits (nothing changes).
//! - `write`, input `{"op": "expire", "session": S}`: the service ended session `S` (its lease
//!   ran out): it holds and waits for nothing any more. It always takes effect.
//! - Whenever a lock falls free, the head of its queue gets it: one writer, or every reader up
//!   to the next writer.
//! - `read` on the counter returns its value (it starts at 0); `cas` with `[expected, new]` sets
//!   it when it holds `expected`.
//!
//! Unlike [`crate::Mutex`], a release by anyone but the owner is not a legal step with output
//! `"released"`: that is exactly the mistake an owner-less lock makes.

use serde_json::{json, Value};

use crate::history::{short_json, OpFn, Operation};
use crate::model::Model;

/// One lock's holders and waiters (sessions, and whether they want to write), and the counter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LockState {
    /// Sorted by session.
    holders: Vec<(u64, bool)>,
    queue: Vec<(u64, bool)>,
    counter: u64,
}

impl LockState {
    fn holds(&self, session: u64) -> bool {
        self.holders.iter().any(|&(s, _)| s == session)
    }

    fn waits(&self, session: u64) -> bool {
        self.queue.iter().any(|&(s, _)| s == session)
    }

    fn compatible(&self, write: bool) -> bool {
        if write {
            self.holders.is_empty()
        } else {
            self.holders.iter().all(|&(_, w)| !w)
        }
    }

    fn hold(&mut self, session: u64, write: bool) {
        self.holders.push((session, write));
        self.holders.sort_unstable();
    }

    /// Hands the lock to the head of the queue while it fits.
    fn promote(&mut self) {
        while let Some(&(session, write)) = self.queue.first() {
            if !self.compatible(write) {
                break;
            }
            self.queue.remove(0);
            self.hold(session, write);
        }
    }

    fn end(&mut self, session: u64) {
        self.holders.retain(|&(s, _)| s != session);
        self.queue.retain(|&(s, _)| s != session);
        self.promote();
    }
}

/// The lock-service model (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub struct LockTable;

/// What a lock operation asks, from its input.
enum LockCall {
    Acquire { write: bool },
    Release,
    Expire { session: u64 },
}

fn call(op: &Operation) -> Option<LockCall> {
    let kind = op.input.get("op")?.as_str()?;
    match kind {
        "acquire" => match op.input.get("mode")?.as_str()? {
            "read" => Some(LockCall::Acquire { write: false }),
            "write" => Some(LockCall::Acquire { write: true }),
            _ => None,
        },
        "release" => Some(LockCall::Release),
        "expire" => Some(LockCall::Expire {
            session: op.input.get("session")?.as_u64()?,
        }),
        _ => None,
    }
}

/// Whether the operation's output (if known) is `expected`.
fn answered(op: &Operation, expected: &str) -> bool {
    op.output
        .as_ref()
        .is_none_or(|v| v.as_str() == Some(expected))
}

impl LockTable {
    fn lock_step(&self, state: &LockState, op: &Operation) -> Option<LockState> {
        let session = op.process;
        let mut next = state.clone();
        match call(op)? {
            LockCall::Acquire { write } => {
                if state.holds(session) {
                    return answered(op, "granted").then_some(next);
                }
                if state.waits(session) {
                    return answered(op, "queued").then_some(next);
                }
                if state.queue.is_empty() && state.compatible(write) {
                    next.hold(session, write);
                    return answered(op, "granted").then_some(next);
                }
                next.queue.push((session, write));
                answered(op, "queued").then_some(next)
            }
            LockCall::Release => {
                if state.holds(session) || state.waits(session) {
                    next.end(session);
                    return answered(op, "released").then_some(next);
                }
                answered(op, "not_held").then_some(next)
            }
            LockCall::Expire { session } => {
                next.end(session);
                Some(next)
            }
        }
    }

    fn counter_step(&self, state: &LockState, op: &Operation) -> Option<LockState> {
        match op.f {
            OpFn::Read => match &op.output {
                Some(v) if v.as_u64() != Some(state.counter) => None,
                _ => Some(state.clone()),
            },
            OpFn::Cas => {
                let pair = op.input.as_array()?;
                let (expected, new) = (pair.first()?.as_u64()?, pair.get(1)?.as_u64()?);
                (state.counter == expected).then(|| LockState {
                    counter: new,
                    ..state.clone()
                })
            }
            _ => None,
        }
    }
}

impl Model for LockTable {
    type State = LockState;

    fn init(&self, init: &Value) -> LockState {
        LockState {
            counter: init.as_u64().unwrap_or(0),
            ..LockState::default()
        }
    }

    fn step(&self, state: &LockState, op: &Operation) -> Option<LockState> {
        match op.f {
            OpFn::Write => self.lock_step(state, op),
            OpFn::Read | OpFn::Cas => self.counter_step(state, op),
            OpFn::Append | OpFn::Acquire | OpFn::Release => None,
        }
    }

    fn describe(&self, state: &LockState) -> Value {
        let who = |list: &[(u64, bool)]| -> Vec<Value> {
            list.iter()
                .map(|&(s, w)| json!({"session": s, "mode": if w { "write" } else { "read" }}))
                .collect()
        };
        json!({
            "holders": who(&state.holders),
            "queue": who(&state.queue),
            "counter": state.counter,
        })
    }

    fn explain(&self, state: &LockState, op: &Operation) -> String {
        let output = op
            .output
            .as_ref()
            .map_or("an unknown answer".to_string(), short_json);
        match (op.f, call(op)) {
            (OpFn::Write, Some(LockCall::Release)) if !state.holds(op.process) => format!(
                "session {} released and was told {output}, but it holds nothing (holders: {})",
                op.process,
                short_json(&self.describe(state)["holders"])
            ),
            (OpFn::Write, Some(LockCall::Acquire { .. })) => format!(
                "session {} acquired and was told {output}, but the lock is {}",
                op.process,
                short_json(&self.describe(state))
            ),
            (OpFn::Read, _) => format!("it read {output}, but the counter is {}", state.counter),
            _ => format!(
                "it cannot take effect when the state is {}",
                short_json(&self.describe(state))
            ),
        }
    }

    fn read_only(&self, op: &Operation) -> bool {
        op.f == OpFn::Read
    }

    fn partition(&self, op: &Operation) -> Option<String> {
        op.key.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    fn op(process: u64, f: OpFn, input: Value, output: Option<Value>) -> Operation {
        Operation {
            index: 0,
            process,
            f,
            key: Some("L".into()),
            input,
            output,
            outcome: Outcome::Ok,
            complete_index: Some(1),
        }
    }

    fn acquire(process: u64, mode: &str, output: &str) -> Operation {
        op(
            process,
            OpFn::Write,
            json!({"op": "acquire", "mode": mode}),
            Some(json!(output)),
        )
    }

    fn release(process: u64, output: &str) -> Operation {
        op(
            process,
            OpFn::Write,
            json!({"op": "release"}),
            Some(json!(output)),
        )
    }

    fn run(ops: &[Operation]) -> Option<LockState> {
        let mut state = LockTable.init(&Value::Null);
        for o in ops {
            state = LockTable.step(&state, o)?;
        }
        Some(state)
    }

    #[test]
    fn readers_share_and_a_writer_waits_for_them() {
        let s = run(&[acquire(1, "read", "granted"), acquire(2, "read", "granted")]);
        assert!(s.is_some());
        assert!(run(&[
            acquire(1, "read", "granted"),
            acquire(2, "write", "granted")
        ])
        .is_none());
        let s = run(&[
            acquire(1, "read", "granted"),
            acquire(2, "write", "queued"),
            acquire(3, "read", "queued"),
            release(1, "released"),
        ]);
        let s = s.expect("a legal sequence");
        assert_eq!(
            s.holders,
            vec![(2, true)],
            "the queued writer got it, in order"
        );
        assert_eq!(s.queue, vec![(3, false)]);
    }

    #[test]
    fn only_the_owner_releases() {
        assert!(run(&[acquire(1, "write", "granted"), release(2, "released")]).is_none());
        assert!(run(&[acquire(1, "write", "granted"), release(2, "not_held")]).is_some());
    }

    #[test]
    fn an_expiry_hands_the_lock_to_the_next_waiter() {
        let expire = op(9, OpFn::Write, json!({"op": "expire", "session": 1}), None);
        let s = run(&[
            acquire(1, "write", "granted"),
            acquire(2, "write", "queued"),
            expire,
        ])
        .expect("legal");
        assert_eq!(s.holders, vec![(2, true)]);
        assert!(run(&[
            acquire(1, "write", "granted"),
            acquire(2, "write", "granted")
        ])
        .is_none());
    }

    #[test]
    fn the_counter_is_a_register_with_cas() {
        let c = |f, input, output| Operation {
            key: Some("counter".into()),
            ..op(1, f, input, output)
        };
        let s = run(&[
            c(OpFn::Read, Value::Null, Some(json!(0))),
            c(OpFn::Cas, json!([0, 1]), None),
            c(OpFn::Read, Value::Null, Some(json!(1))),
        ]);
        assert!(s.is_some());
        assert!(run(&[c(OpFn::Cas, json!([1, 2]), None)]).is_none());
    }
}
