//! Tests of the incremental check: it agrees with the whole-history check on random histories,
//! and scripted cases for cuts with several possible states and info operations crossing cuts.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::{
    check, check_incrementally, Budget, EventKind, History, Incremental, Kv, ModelKind, OpFn,
    Outcome, Register, Verdict,
};

/// A small history recorder for scripts: times count up by one per event.
struct Script {
    history: History,
    time_ns: u64,
}

impl Script {
    fn new(model: ModelKind) -> Self {
        Script {
            history: History::new(model, Value::Null),
            time_ns: 0,
        }
    }

    fn invoke(&mut self, process: u64, f: OpFn, key: Option<&str>, value: Value) -> &mut Self {
        self.time_ns += 1;
        self.history
            .push(crate::Event {
                process,
                kind: EventKind::Invoke,
                f,
                key: key.map(str::to_string),
                value,
                time_ns: Some(self.time_ns),
            })
            .unwrap();
        self
    }

    fn end(
        &mut self,
        process: u64,
        f: OpFn,
        key: Option<&str>,
        kind: EventKind,
        value: Value,
    ) -> &mut Self {
        self.time_ns += 1;
        self.history
            .push(crate::Event {
                process,
                kind,
                f,
                key: key.map(str::to_string),
                value,
                time_ns: Some(self.time_ns),
            })
            .unwrap();
        self
    }

    fn both(&self) -> (Verdict, Verdict) {
        let whole = check(&self.history, &Budget::default()).verdict;
        let incremental = check_incrementally(&self.history, Register, &Budget::default()).verdict;
        (whole, incremental)
    }
}

/// Two concurrent writes end a stretch in either order: the cut carries both states, and a
/// later read of either value is linearizable; a read of 1 followed by a read of 2 is not.
#[test]
fn a_cut_after_concurrent_writes_carries_both_states() {
    let mut script = Script::new(ModelKind::Register);
    script
        .invoke(0, OpFn::Write, None, json!(1))
        .invoke(1, OpFn::Write, None, json!(2))
        .end(0, OpFn::Write, None, EventKind::Ok, Value::Null)
        .end(1, OpFn::Write, None, EventKind::Ok, Value::Null)
        // A cut: nothing in flight. The register holds 1 or 2.
        .invoke(2, OpFn::Read, None, Value::Null)
        .end(2, OpFn::Read, None, EventKind::Ok, json!(1));
    assert_eq!(
        script.both(),
        (Verdict::Linearizable, Verdict::Linearizable)
    );
    let mut other = Script::new(ModelKind::Register);
    other
        .invoke(0, OpFn::Write, None, json!(1))
        .invoke(1, OpFn::Write, None, json!(2))
        .end(0, OpFn::Write, None, EventKind::Ok, Value::Null)
        .end(1, OpFn::Write, None, EventKind::Ok, Value::Null)
        .invoke(2, OpFn::Read, None, Value::Null)
        .end(2, OpFn::Read, None, EventKind::Ok, json!(2));
    assert_eq!(other.both(), (Verdict::Linearizable, Verdict::Linearizable));
    script.invoke(2, OpFn::Read, None, Value::Null).end(
        2,
        OpFn::Read,
        None,
        EventKind::Ok,
        json!(2),
    );
    assert_eq!(
        script.both(),
        (Verdict::NotLinearizable, Verdict::NotLinearizable)
    );
}

/// A write that timed out (info) may take effect long after later cuts: a read of its value
/// many stretches later is linearizable, and once it has been seen it cannot be undone.
#[test]
fn an_info_write_may_apply_after_a_cut() {
    let mut script = Script::new(ModelKind::Register);
    script
        .invoke(0, OpFn::Write, None, json!(1))
        .end(0, OpFn::Write, None, EventKind::Ok, Value::Null)
        .invoke(1, OpFn::Write, None, json!(9))
        .end(1, OpFn::Write, None, EventKind::Info, Value::Null);
    for _ in 0..3 {
        script.invoke(2, OpFn::Read, None, Value::Null).end(
            2,
            OpFn::Read,
            None,
            EventKind::Ok,
            json!(1),
        );
    }
    script.invoke(2, OpFn::Read, None, Value::Null).end(
        2,
        OpFn::Read,
        None,
        EventKind::Ok,
        json!(9),
    );
    assert_eq!(
        script.both(),
        (Verdict::Linearizable, Verdict::Linearizable)
    );
    script.invoke(2, OpFn::Read, None, Value::Null).end(
        2,
        OpFn::Read,
        None,
        EventKind::Ok,
        json!(1),
    );
    assert_eq!(
        script.both(),
        (Verdict::NotLinearizable, Verdict::NotLinearizable)
    );
}

/// A failing stretch is explained: the key, the times, the states at the cut and the check of
/// the stretch with the operations' numbers in the whole history.
#[test]
fn a_failing_stretch_is_explained_with_whole_history_numbers() {
    let mut recorder = Incremental::new(ModelKind::Kv, Kv, Value::Null, 1_000_000);
    let write = recorder.invoke(0, OpFn::Write, Some("k".into()), json!("a"), 10);
    recorder.complete(write, Outcome::Ok, Value::Null, 20);
    let other = recorder.invoke(1, OpFn::Write, Some("j".into()), json!("b"), 25);
    let read = recorder.invoke(0, OpFn::Read, Some("k".into()), Value::Null, 30);
    recorder.complete(read, Outcome::Ok, json!("zzz"), 40);
    recorder.complete(other, Outcome::Ok, Value::Null, 45);
    let result = recorder.result();
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let failure = result.failure.expect("a failure");
    assert_eq!(failure.key.as_deref(), Some("k"));
    let text = failure.render_text();
    assert!(
        text.starts_with("key \"k\" is not linearizable in the stretch from t=0.00000002s"),
        "{text}"
    );
    // Strings are fingerprints in the search: the state at the cut is shown by its length.
    assert!(
        text.contains("the key could hold {\"string of length\":1} at t=0.00000002s"),
        "{text}"
    );
    assert!(text.contains("0=3"), "{text}");
    assert!(text.contains("not linearizable"), "{text}");
    assert_eq!(result.keys.len(), 2);
    assert_eq!(result.keys[0].verdict, Some(Verdict::Linearizable));
}

/// A budget that runs out makes the key unknown, never linearizable.
#[test]
fn a_budget_that_runs_out_is_unknown() {
    let mut recorder = Incremental::new(ModelKind::Register, Register, Value::Null, 2);
    let ops: Vec<_> = (0..4)
        .map(|p| recorder.invoke(p, OpFn::Write, None, json!(p), p))
        .collect();
    for (p, op) in ops.into_iter().enumerate() {
        recorder.complete(op, Outcome::Ok, Value::Null, 10 + p as u64);
    }
    let result = recorder.result();
    assert!(
        matches!(&result.verdict, Verdict::Unknown { reason } if reason.contains("state budget")),
        "{:?}",
        result.verdict
    );
}

/// One step of a random history: which process acts, and the draws for what it does.
fn steps() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
    prop::collection::vec((0u8..4, 0u8..8, 0u8..4, 0u8..4), 0..40)
}

/// A read, write or cas of a small value.
fn draw_op(what: u8, value: u64) -> (OpFn, Value) {
    match what % 4 {
        0 | 1 => (OpFn::Read, Value::Null),
        2 => (OpFn::Write, json!(value)),
        _ => {
            let expected = if value == 1 {
                Value::Null
            } else {
                json!(value - 1)
            };
            (OpFn::Cas, json!([expected, value]))
        }
    }
}

/// A well-formed random kv history over two keys, four client slots, small values (so reads
/// often disagree), with ok, fail and info completions and operations left pending.
fn random_history(steps: &[(u8, u8, u8, u8)]) -> History {
    let mut history = History::new(ModelKind::Kv, Value::Null);
    // Per slot: its current process number and its open operation (f, key).
    let mut process: [u64; 4] = [0, 1, 2, 3];
    let mut open: [Option<(OpFn, String)>; 4] = Default::default();
    let mut time_ns = 0;
    for &(slot, what, key, value) in steps {
        time_ns += 1;
        let slot = slot as usize;
        let event = match open[slot].take() {
            None => {
                let key = if key % 2 == 0 { "a" } else { "b" }.to_string();
                let value = u64::from(value % 3) + 1;
                let (f, argument) = draw_op(what, value);
                open[slot] = Some((f, key.clone()));
                crate::Event {
                    process: process[slot],
                    kind: EventKind::Invoke,
                    f,
                    key: Some(key),
                    value: argument,
                    time_ns: Some(time_ns),
                }
            }
            Some((f, key)) => {
                let kind = match what {
                    0..=4 => EventKind::Ok,
                    5 => EventKind::Fail,
                    _ => EventKind::Info,
                };
                let value = if f == OpFn::Read && kind == EventKind::Ok {
                    if value == 0 {
                        Value::Null
                    } else {
                        json!(value % 3 + 1)
                    }
                } else {
                    Value::Null
                };
                let event = crate::Event {
                    process: process[slot],
                    kind,
                    f,
                    key: Some(key),
                    value,
                    time_ns: Some(time_ns),
                };
                if kind == EventKind::Info {
                    process[slot] += 4;
                }
                event
            }
        };
        history.push(event).unwrap();
    }
    history
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// The incremental verdict is the whole-history verdict; in particular it never says
    /// linearizable where the whole-history check says not.
    #[test]
    fn the_incremental_verdict_is_the_whole_history_verdict(steps in steps()) {
        let history = random_history(&steps);
        let whole = check(&history, &Budget::default());
        let incremental = check_incrementally(&history, Kv, &Budget::default());
        prop_assert_eq!(&incremental.verdict, &whole.verdict, "history {}", history.to_json());
        prop_assert_eq!(incremental.op_count, whole.op_count);
        prop_assert_eq!(incremental.failure.is_some(), whole.verdict == Verdict::NotLinearizable);
    }
}
