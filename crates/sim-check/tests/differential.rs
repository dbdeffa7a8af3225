//! The checker against a brute-force one that tries every order, on random small histories, plus
//! properties of generated histories and of the interchange format.
//!
//! The brute-force checker and its model semantics are written here from the README's definitions,
//! independently of the crate's search and models.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};
use sim_check::bench::{corrupt_read, generate, Workload};
use sim_check::{
    check, parse_history, Budget, Event, EventKind, History, ModelKind, OpFn, Operation, Outcome,
    Verdict,
};

/// The state of every object: a value per key (`""` for the single-object models).
type State = BTreeMap<String, Value>;

fn holder(op: &Operation) -> Value {
    if op.input.is_null() {
        json!(op.process)
    } else {
        op.input.clone()
    }
}

/// The reference semantics: the state after `op`, or `None` if it cannot take effect.
fn reference_step(state: &State, init: &Value, op: &Operation) -> Option<State> {
    let key = op.key.clone().unwrap_or_default();
    let current = state.get(&key).cloned().unwrap_or_else(|| init.clone());
    let next = match op.f {
        OpFn::Read => {
            if op.output.as_ref().is_some_and(|value| *value != current) {
                return None;
            }
            current
        }
        OpFn::Write => op.input.clone(),
        OpFn::Cas => {
            if op.input[0] != current {
                return None;
            }
            op.input[1].clone()
        }
        OpFn::Append => match current {
            Value::Null => op.input.clone(),
            Value::String(text) => json!(format!("{}{}", text, op.input.as_str()?)),
            _ => return None,
        },
        // The lock's state is its holder; null is free.
        OpFn::Acquire => {
            if !current.is_null() {
                return None;
            }
            holder(op)
        }
        OpFn::Release => {
            if current.is_null() || current != holder(op) {
                return None;
            }
            Value::Null
        }
    };
    let mut state = state.clone();
    state.insert(key, next);
    Some(state)
}

/// Tries every order: an operation may go next if no operation that must take effect (ok) and is
/// not placed yet returned before it was invoked. Ok operations must all be placed; info ones may
/// be left out; failed ones never take effect.
fn brute_force_linearizable(history: &History) -> bool {
    let ops: Vec<Operation> = history
        .operations()
        .into_iter()
        .filter(|op| op.outcome != Outcome::Fail)
        .collect();
    let mut placed = vec![false; ops.len()];
    search(&ops, history.init(), &State::new(), &mut placed)
}

fn search(ops: &[Operation], init: &Value, state: &State, placed: &mut Vec<bool>) -> bool {
    let all_required_placed = ops
        .iter()
        .zip(placed.iter())
        .all(|(op, placed)| *placed || op.outcome != Outcome::Ok);
    if all_required_placed {
        return true;
    }
    for index in 0..ops.len() {
        if placed[index] {
            continue;
        }
        let must_wait = ops.iter().zip(placed.iter()).any(|(other, placed)| {
            !placed
                && other.outcome == Outcome::Ok
                && other
                    .complete_index
                    .is_some_and(|done| done < ops[index].index)
        });
        if must_wait {
            continue;
        }
        if let Some(next) = reference_step(state, init, &ops[index]) {
            placed[index] = true;
            if search(ops, init, &next, placed) {
                return true;
            }
            placed[index] = false;
        }
    }
    false
}

/// Interprets random actions as a valid history of at most `op_count_max` operations.
fn build_history(
    model: ModelKind,
    init: Value,
    actions: &[(u8, u8, u8)],
    process_count: u8,
    op_count_max: usize,
) -> History {
    let mut history = History::new(model, init);
    let mut slot_process: Vec<u64> = (0..u64::from(process_count)).collect();
    let mut open: BTreeMap<u64, (usize, OpFn)> = BTreeMap::new();
    let mut last_f: BTreeMap<u64, OpFn> = BTreeMap::new();
    let mut op_count = 0;
    let mut time = 0u64;
    for &(slot, action, value) in actions {
        time += 1;
        let slot = usize::from(slot % process_count);
        let process = slot_process[slot];
        if let Some(&(_, f)) = open.get(&process) {
            let kind = match action % 10 {
                0..=5 => EventKind::Ok,
                6 => EventKind::Fail,
                7 | 8 => EventKind::Info,
                _ => continue,
            };
            let output = match (f, kind) {
                (OpFn::Read, EventKind::Ok) => match model {
                    ModelKind::Kv => [
                        json!(null),
                        json!(0),
                        json!(1),
                        json!("x"),
                        json!("xy"),
                        json!("yx"),
                    ][usize::from(value) % 6]
                        .clone(),
                    _ => {
                        [json!(null), json!(0), json!(1), json!(2)][usize::from(value) % 4].clone()
                    }
                },
                _ => Value::Null,
            };
            let event = Event {
                process,
                kind,
                f,
                key: None,
                value: output,
                time_ns: Some(time),
            };
            history.push(event).expect("a valid completion");
            open.remove(&process);
            if kind == EventKind::Info {
                slot_process[slot] += u64::from(process_count);
            }
            continue;
        }
        if op_count >= op_count_max {
            continue;
        }
        let small = json!(value % 3);
        let (f, input) = match model {
            ModelKind::Register => match action % 3 {
                0 => (OpFn::Read, Value::Null),
                1 => (OpFn::Write, small),
                _ => (OpFn::Cas, json!([value % 3, (value / 3) % 3])),
            },
            ModelKind::Kv => match action % 4 {
                0 => (OpFn::Read, Value::Null),
                1 => (OpFn::Write, small),
                2 => (OpFn::Cas, json!([value % 3, (value / 3) % 3])),
                _ => (OpFn::Append, json!(if value % 2 == 0 { "x" } else { "y" })),
            },
            ModelKind::Mutex => {
                // Mostly acquire then release per process, sometimes out of turn.
                let acquired = last_f.get(&process) == Some(&OpFn::Acquire);
                let f = if acquired == (action % 5 == 0) {
                    OpFn::Acquire
                } else {
                    OpFn::Release
                };
                last_f.insert(process, f);
                // Some processes name their holder; two of them may share a name.
                let input = if process % 3 == 2 {
                    json!(format!("h{}", value % 2))
                } else {
                    Value::Null
                };
                (f, input)
            }
        };
        let key = (model == ModelKind::Kv)
            .then(|| if (action / 4) % 3 == 0 { "b" } else { "a" }.to_string());
        let event = Event {
            process,
            kind: EventKind::Invoke,
            f,
            key,
            value: input,
            time_ns: Some(time),
        };
        open.insert(process, (history.events().len(), f));
        history.push(event).expect("a valid invoke");
        op_count += 1;
    }
    history
}

fn actions() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
    proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..32)
}

fn agree(history: &History) -> Result<(), TestCaseError> {
    let expected = brute_force_linearizable(history);
    let result = check(history, &Budget::default());
    let verdict_matches = match result.verdict {
        Verdict::Linearizable => expected,
        Verdict::NotLinearizable => !expected,
        Verdict::Unknown { .. } => false,
    };
    prop_assert!(
        verdict_matches,
        "brute force says linearizable = {}, checker says {:?}\n{}",
        expected,
        result.verdict,
        history.to_json()
    );
    Ok(())
}

/// A random kv history on one key shaped like the runs that made the search slow: writes, cas and
/// appends of strings that overlap ("a", "ab", "b"...), so a read may see a value built by
/// appends, and about half the operations ending info. With `number` set, some writes are
/// numbers, on which appends cannot take effect.
fn build_info_heavy_history(
    actions: &[(u8, u8, u8)],
    process_count: u8,
    init: Value,
    number: bool,
) -> History {
    const WORDS: [&str; 4] = ["a", "b", "ab", "ba"];
    let mut history = History::new(ModelKind::Kv, init);
    let mut slot_process: Vec<u64> = (0..u64::from(process_count)).collect();
    let mut open: BTreeMap<u64, OpFn> = BTreeMap::new();
    let (mut op_count, mut time) = (0, 0u64);
    for &(slot, action, value) in actions {
        time += 1;
        let slot = usize::from(slot % process_count);
        let process = slot_process[slot];
        let word = |n: u8| json!(WORDS[usize::from(n) % WORDS.len()]);
        let event = if let Some(f) = open.remove(&process) {
            let kind = match action % 8 {
                0..=3 => EventKind::Ok,
                4 => EventKind::Fail,
                _ => EventKind::Info,
            };
            if kind == EventKind::Info {
                slot_process[slot] += u64::from(process_count);
            }
            let output = match (f, kind) {
                (OpFn::Read, EventKind::Ok) => match value % 8 {
                    0 => Value::Null,
                    1 => json!("aab"),
                    2 => json!("bab"),
                    3 if number => json!(7),
                    _ => word(value / 8),
                },
                _ => Value::Null,
            };
            Event {
                process,
                kind,
                f,
                key: Some("k".into()),
                value: output,
                time_ns: Some(time),
            }
        } else {
            if op_count >= 9 {
                continue;
            }
            op_count += 1;
            let (f, input) = match action % 4 {
                0 => (OpFn::Read, Value::Null),
                1 if number && value % 5 == 0 => (OpFn::Write, json!(7)),
                1 => (OpFn::Write, word(value)),
                2 => (OpFn::Cas, json!([word(value), word(value / 4)])),
                _ => (OpFn::Append, word(value)),
            };
            open.insert(process, f);
            Event {
                process,
                kind: EventKind::Invoke,
                f,
                key: Some("k".into()),
                value: input,
                time_ns: Some(time),
            }
        };
        history.push(event).expect("a valid event");
    }
    history
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn register_agrees_with_brute_force(actions in actions(), process_count in 2u8..=4, init in 0u8..2) {
        let init = if init == 0 { Value::Null } else { json!(0) };
        agree(&build_history(ModelKind::Register, init, &actions, process_count, 8))?;
    }

    #[test]
    fn kv_agrees_with_brute_force(actions in actions(), process_count in 2u8..=4) {
        agree(&build_history(ModelKind::Kv, Value::Null, &actions, process_count, 8))?;
    }

    /// Info writes, cas and appends whose effect no read can see are left out of the search
    /// (`unseen`): that must never change a verdict, with values appends can extend into
    /// observed ones and values they cannot.
    #[test]
    fn info_heavy_appends_agree_with_brute_force(
        actions in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..40),
        process_count in 2u8..=5,
        init in 0u8..3,
        number in any::<bool>(),
    ) {
        let init = [Value::Null, json!("a"), json!(3)][usize::from(init)].clone();
        agree(&build_info_heavy_history(&actions, process_count, init, number))?;
    }

    #[test]
    fn mutex_agrees_with_brute_force(actions in actions(), process_count in 2u8..=4) {
        agree(&build_history(ModelKind::Mutex, Value::Null, &actions, process_count, 8))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn sequential_execution_with_random_overlap_is_linearizable(
        seed in any::<u64>(),
        op_count in 1usize..300,
        process_count in 1usize..12,
        model in 0u8..3,
    ) {
        let workload = match model {
            0 => Workload { process_count, ..Workload::register(op_count, process_count) },
            1 => Workload { process_count, key_count: 5, mix: [4, 2, 2, 2], ..Workload::kv(op_count) },
            _ => Workload::mutex(op_count, process_count),
        };
        let history = generate(&workload, seed);
        let result = check(&history, &Budget::default());
        prop_assert_eq!(result.verdict, Verdict::Linearizable, "{}", history.to_json());
    }

    #[test]
    fn a_read_of_a_value_never_written_is_not_linearizable(
        seed in any::<u64>(),
        op_count in 1usize..300,
        process_count in 1usize..12,
        with_appends in any::<bool>(),
    ) {
        let workload = if with_appends {
            Workload { process_count, key_count: 3, mix: [4, 1, 1, 3], ..Workload::kv(op_count) }
        } else {
            Workload::register(op_count, process_count)
        };
        let history = generate(&workload, seed);
        if let Some(corrupted) = corrupt_read(&history, seed) {
            let result = check(&corrupted, &Budget::default());
            prop_assert_eq!(result.verdict, Verdict::NotLinearizable, "{}", corrupted.to_json());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn interchange_format_round_trips(actions in actions(), process_count in 1u8..=4, model in 0u8..3, jsonl in any::<bool>()) {
        let model = [ModelKind::Register, ModelKind::Kv, ModelKind::Mutex][usize::from(model)];
        let history = build_history(model, json!({"nested": [1, "two"]}), &actions, process_count, 12);
        let text = history.to_json().to_string();
        prop_assert_eq!(&parse_history(&text, "h.json", None).expect("parses"), &history);
        let mut written = Vec::new();
        history.write_json(&mut written).expect("writes");
        let written = String::from_utf8(written).expect("utf-8");
        prop_assert_eq!(&parse_history(&written, "h.json", None).expect("parses"), &history);
        // A header alone reads as a document missing "ops", which is reported as an error.
        if jsonl && !history.is_empty() {
            let mut lines = format!("{{\"model\": \"{}\", \"init\": {}}}\n", model.name(), history.init());
            let mut body = Vec::new();
            history.write_jsonl(&mut body).expect("writes");
            lines.push_str(&String::from_utf8(body).expect("utf-8"));
            prop_assert_eq!(&parse_history(&lines, "h.jsonl", None).expect("parses"), &history);
        }
    }
}

/// The differential tests mean something only if random histories go both ways, with info and
/// failed operations among them.
#[test]
fn random_small_histories_cover_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for model in [ModelKind::Register, ModelKind::Kv, ModelKind::Mutex] {
        let (mut linearizable, mut info_count, mut fail_count) = (0, 0, 0);
        let case_count = 500;
        for _ in 0..case_count {
            let actions = actions().new_tree(&mut runner).expect("a case").current();
            let history = build_history(model, json!(0), &actions, 3, 8);
            let ops = history.operations();
            info_count += ops.iter().filter(|op| op.outcome == Outcome::Info).count();
            fail_count += ops.iter().filter(|op| op.outcome == Outcome::Fail).count();
            linearizable += usize::from(brute_force_linearizable(&history));
        }
        assert!(
            linearizable > case_count / 10,
            "{model:?}: {linearizable} linearizable"
        );
        assert!(
            linearizable < case_count * 4 / 5,
            "{model:?}: {linearizable} linearizable"
        );
        assert!(
            info_count > case_count && fail_count > case_count / 5,
            "{model:?}"
        );
    }
}
