//! The classic cases, each a test named for it, plus checks of the explanation and budgets.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::*;

/// Builds a history event by event; the time of an event is its index.
struct Script {
    history: History,
    open: BTreeMap<u64, OpIndex>,
}

impl Script {
    fn new(model: ModelKind, init: Value) -> Self {
        Script {
            history: History::new(model, init),
            open: BTreeMap::new(),
        }
    }

    fn time(&self) -> u64 {
        self.history.events().len() as u64
    }

    fn invoke(&mut self, process: u64, f: OpFn, value: Value) -> &mut Self {
        self.invoke_key(process, f, None, value)
    }

    fn invoke_key(&mut self, process: u64, f: OpFn, key: Option<&str>, value: Value) -> &mut Self {
        let time = self.time();
        let op = self
            .history
            .invoke(process, f, key.map(str::to_string), value, time);
        self.open.insert(process, op);
        self
    }

    fn end(&mut self, process: u64, outcome: Outcome, value: Value) -> &mut Self {
        let time = self.time();
        let op = self.open.remove(&process).expect("an open op");
        self.history.complete(op, outcome, value, time);
        self
    }

    fn ok(&mut self, process: u64, value: Value) -> &mut Self {
        self.end(process, Outcome::Ok, value)
    }

    fn done(&mut self, process: u64) -> &mut Self {
        self.end(process, Outcome::Ok, Value::Null)
    }

    fn fail(&mut self, process: u64) -> &mut Self {
        self.end(process, Outcome::Fail, Value::Null)
    }

    fn info(&mut self, process: u64) -> &mut Self {
        self.end(process, Outcome::Info, Value::Null)
    }

    fn write(&mut self, process: u64, value: i64) -> &mut Self {
        self.invoke(process, OpFn::Write, json!(value))
            .done(process)
    }

    fn read(&mut self, process: u64, value: i64) -> &mut Self {
        self.invoke(process, OpFn::Read, Value::Null)
            .ok(process, json!(value))
    }

    fn verdict(&self) -> Verdict {
        let result = check(&self.history, &Budget::default());
        result.verdict
    }

    fn result(&self) -> CheckResult {
        check(&self.history, &Budget::default())
    }
}

fn register() -> Script {
    Script::new(ModelKind::Register, json!(0))
}

#[test]
fn empty_history_is_linearizable() {
    assert_eq!(register().verdict(), Verdict::Linearizable);
}

#[test]
fn stale_read_after_completed_write_is_not_linearizable() {
    let mut script = register();
    script.write(0, 1).read(1, 0);
    assert_eq!(script.verdict(), Verdict::NotLinearizable);
}

#[test]
fn read_after_completed_write_sees_it() {
    let mut script = register();
    script.write(0, 1).read(1, 1);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn read_concurrent_with_write_may_see_old_or_new_value() {
    for seen in [0, 1] {
        let mut script = register();
        script
            .invoke(0, OpFn::Write, json!(1))
            .invoke(1, OpFn::Read, Value::Null)
            .ok(1, json!(seen))
            .done(0);
        assert_eq!(script.verdict(), Verdict::Linearizable, "read {seen}");
    }
}

/// Two long concurrent writes; readers sample the register while both are in flight.
fn concurrent_writes_with_readers(first_reader: [i64; 2], second_reader: [i64; 2]) -> Script {
    let mut script = register();
    script
        .invoke(0, OpFn::Write, json!(1))
        .invoke(1, OpFn::Write, json!(2))
        .read(2, first_reader[0])
        .read(3, second_reader[0])
        .read(2, first_reader[1])
        .read(3, second_reader[1])
        .done(0)
        .done(1);
    script
}

#[test]
fn concurrent_writes_read_in_either_order_agreeing_is_linearizable() {
    assert_eq!(
        concurrent_writes_with_readers([1, 2], [1, 2]).verdict(),
        Verdict::Linearizable
    );
    assert_eq!(
        concurrent_writes_with_readers([2, 1], [2, 1]).verdict(),
        Verdict::Linearizable
    );
}

#[test]
fn concurrent_writes_read_in_two_contradicting_orders_is_not_linearizable() {
    assert_eq!(
        concurrent_writes_with_readers([1, 2], [2, 1]).verdict(),
        Verdict::NotLinearizable
    );
}

#[test]
fn cas_succeeding_on_a_value_never_written_is_not_linearizable() {
    let mut script = register();
    script
        .write(0, 1)
        .invoke(1, OpFn::Cas, json!([5, 6]))
        .done(1);
    let result = script.result();
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let explanation = result.explanation.expect("an explanation");
    assert_eq!(explanation.blocking, 2);
    assert!(explanation.reason.unwrap().contains("expects 5"));
}

#[test]
fn cas_succeeding_on_a_value_only_a_failed_write_wrote_is_not_linearizable() {
    let mut script = register();
    script
        .invoke(0, OpFn::Write, json!(5))
        .fail(0)
        .invoke(1, OpFn::Cas, json!([5, 6]))
        .done(1);
    assert_eq!(script.verdict(), Verdict::NotLinearizable);
}

#[test]
fn cas_on_the_current_value_is_linearizable() {
    let mut script = register();
    script
        .write(0, 1)
        .invoke(1, OpFn::Cas, json!([1, 2]))
        .done(1)
        .read(0, 2);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn failed_cas_observes_nothing() {
    // A failed cas expecting the current value does not show the value was something else.
    let mut script = register();
    script
        .invoke(1, OpFn::Cas, json!([0, 7]))
        .fail(1)
        .read(0, 0);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn failed_write_never_takes_effect() {
    let mut script = register();
    script.invoke(0, OpFn::Write, json!(1)).fail(0).read(1, 1);
    assert_eq!(script.verdict(), Verdict::NotLinearizable);
}

#[test]
fn info_write_must_be_assumed_to_have_happened_when_read() {
    let mut script = register();
    script.invoke(0, OpFn::Write, json!(1)).info(0).read(1, 1);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn info_write_may_be_assumed_not_to_have_happened() {
    let mut script = register();
    script
        .invoke(0, OpFn::Write, json!(1))
        .info(0)
        .read(1, 0)
        .read(1, 0);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn info_write_may_take_effect_long_after_its_crash() {
    let mut script = register();
    script
        .invoke(0, OpFn::Write, json!(1))
        .info(0)
        .read(1, 0)
        .write(2, 2)
        .read(1, 2)
        .read(1, 1);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn info_write_cannot_take_effect_twice() {
    let mut script = register();
    script
        .invoke(0, OpFn::Write, json!(1))
        .info(0)
        .read(1, 1)
        .write(2, 2)
        .read(1, 2)
        .read(1, 1);
    assert_eq!(script.verdict(), Verdict::NotLinearizable);
}

#[test]
fn info_write_cannot_take_effect_before_its_invoke() {
    let mut script = register();
    script.read(1, 1).invoke(0, OpFn::Write, json!(1)).info(0);
    assert_eq!(script.verdict(), Verdict::NotLinearizable);
}

#[test]
fn invoke_without_completion_counts_as_info() {
    let mut script = register();
    script
        .invoke(0, OpFn::Write, json!(1))
        .read(1, 1)
        .read(1, 1);
    assert_eq!(script.verdict(), Verdict::Linearizable);
    let mut script = register();
    script.invoke(0, OpFn::Write, json!(1)).read(1, 0);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn info_cas_chain_produces_an_observed_value() {
    // Neither info cas is read directly, but together they explain the read of 2.
    let mut script = register();
    script
        .write(0, 1)
        .invoke(1, OpFn::Cas, json!([1, 5]))
        .info(1)
        .invoke(2, OpFn::Cas, json!([5, 2]))
        .info(2)
        .read(3, 2);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn kv_keys_are_independent() {
    let mut script = Script::new(ModelKind::Kv, Value::Null);
    script
        .invoke_key(0, OpFn::Write, Some("a"), json!(1))
        .done(0)
        .invoke_key(1, OpFn::Read, Some("b"), Value::Null)
        .ok(1, Value::Null)
        .invoke_key(1, OpFn::Read, Some("a"), Value::Null)
        .ok(1, json!(1));
    assert_eq!(script.verdict(), Verdict::Linearizable);
    script
        .invoke_key(0, OpFn::Write, Some("b"), json!(2))
        .done(0)
        .invoke_key(1, OpFn::Read, Some("b"), Value::Null)
        .ok(1, Value::Null);
    let result = script.result();
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    assert_eq!(result.keys.len(), 2);
    assert_eq!(result.keys[0].verdict, Some(Verdict::Linearizable));
    let explanation = result.explanation.expect("an explanation");
    assert_eq!(explanation.key.as_deref(), Some("b"));
}

#[test]
fn kv_concurrent_appends_may_land_in_either_order() {
    for seen in ["xy", "yx"] {
        let mut script = Script::new(ModelKind::Kv, Value::Null);
        script
            .invoke_key(0, OpFn::Append, Some("k"), json!("x"))
            .invoke_key(1, OpFn::Append, Some("k"), json!("y"))
            .done(0)
            .done(1)
            .invoke_key(2, OpFn::Read, Some("k"), Value::Null)
            .ok(2, json!(seen));
        assert_eq!(script.verdict(), Verdict::Linearizable, "read {seen}");
    }
}

#[test]
fn kv_sequential_appends_read_out_of_order_is_not_linearizable() {
    let mut script = Script::new(ModelKind::Kv, Value::Null);
    script
        .invoke_key(0, OpFn::Append, Some("k"), json!("x"))
        .done(0)
        .invoke_key(1, OpFn::Append, Some("k"), json!("y"))
        .done(1)
        .invoke_key(2, OpFn::Read, Some("k"), Value::Null)
        .ok(2, json!("yx"));
    assert_eq!(script.verdict(), Verdict::NotLinearizable);
}

fn mutex() -> Script {
    Script::new(ModelKind::Mutex, Value::Null)
}

#[test]
fn mutex_held_by_two_processes_at_once_is_not_linearizable() {
    let mut script = mutex();
    script
        .invoke(0, OpFn::Acquire, Value::Null)
        .done(0)
        .invoke(1, OpFn::Acquire, Value::Null)
        .done(1);
    assert_eq!(script.verdict(), Verdict::NotLinearizable);
}

#[test]
fn mutex_handed_over_through_release_is_linearizable() {
    let mut script = mutex();
    script
        .invoke(0, OpFn::Acquire, Value::Null)
        .done(0)
        .invoke(1, OpFn::Acquire, Value::Null)
        .invoke(0, OpFn::Release, Value::Null)
        .done(0)
        .done(1)
        .invoke(1, OpFn::Release, Value::Null)
        .done(1);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn mutex_release_by_another_holder_is_not_linearizable() {
    let mut script = mutex();
    script
        .invoke(0, OpFn::Acquire, json!("alice"))
        .done(0)
        .invoke(1, OpFn::Release, json!("bob"))
        .done(1);
    assert_eq!(script.verdict(), Verdict::NotLinearizable);
}

#[test]
fn mutex_info_acquire_may_hold_the_lock() {
    // p0's acquire crashed; p1 cannot acquire if it took effect, and may if it did not.
    let mut script = mutex();
    script
        .invoke(0, OpFn::Acquire, Value::Null)
        .info(0)
        .invoke(1, OpFn::Acquire, Value::Null)
        .done(1);
    assert_eq!(script.verdict(), Verdict::Linearizable);
}

#[test]
fn explanation_names_prefix_blocking_op_and_reasons() {
    let mut script = register();
    script
        .write(0, 1)
        .invoke(2, OpFn::Write, json!(3))
        .read(1, 0)
        .done(2);
    let result = script.result();
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let explanation = result.explanation.clone().expect("an explanation");
    // The deepest dead end: both writes placed, then the read of 0 fits nowhere.
    assert_eq!(explanation.prefix, vec![0, 2]);
    assert_eq!(explanation.blocking, 3);
    assert_eq!(explanation.state, json!(3));
    assert_eq!(explanation.concurrent, vec![2]);
    let reasons: Vec<(usize, &str)> = explanation
        .candidates
        .iter()
        .map(|candidate| (candidate.op, candidate.reason.as_str()))
        .collect();
    assert_eq!(reasons, vec![(3, "it read 0, but the value is 3")]);

    let text = render_text(&result, &script.history);
    assert!(text.starts_with("not linearizable: 3 operations"), "{text}");
    assert!(text.contains("Cannot place op 3: p1 read -> 0"), "{text}");
    assert!(text.contains("<- cannot be placed"), "{text}");
    let json = render_json(&result, &script.history);
    assert_eq!(json["verdict"], "not_linearizable");
    assert_eq!(json["explanation"]["op"]["index"], 3);
    assert_eq!(
        json["explanation"]["candidates"][0]["reason"],
        "it read 0, but the value is 3"
    );
    assert_eq!(exit_code(&result), 1);
}

/// Many concurrent writes of distinct values, then two reads that contradict each other: the
/// search must try every order of the writes.
fn hard_history(writer_count: u64) -> History {
    let mut script = register();
    for process in 0..writer_count {
        script.invoke(process, OpFn::Write, json!(process + 1));
    }
    for process in 0..writer_count {
        script.done(process);
    }
    script.read(writer_count, 1).read(writer_count, 2);
    script.history
}

#[test]
fn state_budget_ends_in_unknown_with_the_reason() {
    let budget = Budget {
        max_states: 1_000,
        timeout: None,
        ..Budget::default()
    };
    let result = check(&hard_history(20), &budget);
    let Verdict::Unknown { reason } = &result.verdict else {
        panic!("expected unknown, got {:?}", result.verdict);
    };
    assert!(reason.contains("state budget of 1000 states"), "{reason}");
    assert_eq!(exit_code(&result), 3);
}

#[test]
fn timeout_ends_in_unknown_with_the_reason() {
    let budget = Budget {
        max_states: u64::MAX,
        timeout: Some(std::time::Duration::from_millis(50)),
        ..Budget::default()
    };
    let result = check(&hard_history(40), &budget);
    let Verdict::Unknown { reason } = &result.verdict else {
        panic!("expected unknown, got {:?}", result.verdict);
    };
    assert!(reason.contains("timeout of 50ms"), "{reason}");
}

#[test]
fn small_hard_history_is_decided() {
    assert_eq!(
        check(&hard_history(8), &Budget::default()).verdict,
        Verdict::NotLinearizable
    );
}

#[test]
fn same_history_gives_the_same_result() {
    let mut script = register();
    script
        .invoke(0, OpFn::Write, json!(1))
        .invoke(1, OpFn::Write, json!(2))
        .read(2, 2)
        .done(0)
        .read(2, 1)
        .done(1)
        .read(2, 2);
    assert_eq!(script.result(), script.result());
}

#[test]
fn kv_failures_on_several_keys_report_the_first_key_in_key_order() {
    // Large enough to be checked on several threads.
    let history = crate::bench::generate(&crate::bench::Workload::kv(6_000), 3);
    let mut corrupted = History::new(ModelKind::Kv, Value::Null);
    let mut corrupted_keys = std::collections::BTreeSet::new();
    for event in history.events() {
        let mut event = event.clone();
        let key = event.key.clone().unwrap_or_default();
        let is_ok_read = event.kind == EventKind::Ok && event.f == OpFn::Read;
        if is_ok_read && (key == "k7" || key == "k42") && corrupted_keys.insert(key) {
            event.value = json!(999_999);
        }
        corrupted.push(event).expect("a valid event");
    }
    assert_eq!(corrupted_keys.len(), 2);
    let first = check(&corrupted, &Budget::default());
    assert_eq!(first.verdict, Verdict::NotLinearizable);
    let explanation = first.explanation.as_ref().expect("an explanation");
    // Keys are ordered as strings: "k42" comes before "k7".
    assert_eq!(explanation.key.as_deref(), Some("k42"));
    let position = first
        .keys
        .iter()
        .position(|key| key.key.as_deref() == Some("k42"))
        .expect("the key");
    assert!(first.keys[..position]
        .iter()
        .all(|key| key.verdict == Some(Verdict::Linearizable)));
    assert!(first.keys[position + 1..]
        .iter()
        .all(|key| key.verdict.is_none()));
    for _ in 0..3 {
        assert_eq!(check(&corrupted, &Budget::default()), first);
    }
    let text = render_text(&first, &corrupted);
    assert!(
        text.contains("op") && text.contains("key \"k42\""),
        "{text}"
    );
}

/// A kv history whose key "0" is hard (every order of many concurrent writes) and whose key "1"
/// is easy to refute (a stale read).
fn hard_key_then_bad_key(writer_count: u64) -> History {
    let mut history = History::new(ModelKind::Kv, Value::Null);
    let key = |name: &str| Some(name.to_string());
    let mut time = 0;
    let mut tick = || {
        time += 1;
        time
    };
    let writes: Vec<_> = (0..writer_count)
        .map(|process| history.invoke(process, OpFn::Write, key("0"), json!(process + 1), tick()))
        .collect();
    for write in writes {
        history.complete(write, Outcome::Ok, Value::Null, tick());
    }
    for value in [1, 2] {
        let read = history.invoke(writer_count, OpFn::Read, key("0"), Value::Null, tick());
        history.complete(read, Outcome::Ok, json!(value), tick());
    }
    let reader = writer_count + 1;
    for value in [1, 2] {
        let write = history.invoke(reader, OpFn::Write, key("1"), json!(value), tick());
        history.complete(write, Outcome::Ok, Value::Null, tick());
    }
    let read = history.invoke(reader, OpFn::Read, key("1"), Value::Null, tick());
    history.complete(read, Outcome::Ok, json!(1), tick());
    history
}

#[test]
fn an_easy_failing_key_is_reported_without_searching_a_hard_earlier_key_to_its_budget() {
    let history = hard_key_then_bad_key(24);
    let result = check(&history, &Budget::default());
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let explanation = result.explanation.clone().expect("an explanation");
    assert_eq!(explanation.key.as_deref(), Some("1"));
    // Decided in the first round: key "0" got the first round's budget and no more.
    assert!(
        result.states_explored <= 2 * crate::check::FIRST_ROUND_STATES,
        "{} states",
        result.states_explored
    );
    let Some(Verdict::Unknown { reason }) = &result.keys[0].verdict else {
        panic!("key 0: {:?}", result.keys[0].verdict);
    };
    assert!(
        reason.contains("when key \"1\" was found not linearizable"),
        "{reason}"
    );
    // The same answer, explanation and counts every time, on one thread or several.
    for _ in 0..3 {
        assert_eq!(check(&history, &Budget::default()), result);
    }
}

#[test]
fn memory_budget_ends_in_unknown_with_the_reason() {
    let budget = Budget {
        max_memory: Some(1 << 20),
        ..Budget::default()
    };
    let result = check(&hard_history(24), &budget);
    let Verdict::Unknown { reason } = &result.verdict else {
        panic!("expected unknown, got {:?}", result.verdict);
    };
    assert!(reason.contains("memory budget of 1024 KiB"), "{reason}");
    assert!(reason.contains("--memory"), "{reason}");
}
