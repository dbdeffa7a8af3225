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

/// The shape of the raft histories that used to exhaust the search (swarm seed 94): a key with
/// many info writes, cas and appends of unique values that no read ever sees, each of which may or
/// may not have taken effect, then long stretches of ok writes, appends and reads. Both checks
/// must decide it within a small state budget, and a stale read at the end must be caught.
fn unseen_info_history(stale_read: bool) -> History {
    let mut script = Script::new(ModelKind::Kv);
    let key = Some("k");
    // Info operations of processes that then vanish, overlapping each other.
    for n in 0..18u64 {
        let (f, value) = match n % 3 {
            0 => (OpFn::Write, json!(format!("lost-w{n}"))),
            1 => (OpFn::Append, json!(format!("+lost-a{n}"))),
            _ => (OpFn::Cas, json!([null, format!("lost-c{n}")])),
        };
        script.invoke(100 + n, f, key, value);
    }
    for n in 0..18u64 {
        let f = [OpFn::Write, OpFn::Append, OpFn::Cas][(n % 3) as usize];
        script.end(100 + n, f, key, EventKind::Info, Value::Null);
    }
    // Stretches of sequential ok operations by one client: each stretch ends quiescent.
    let mut value = String::new();
    for n in 0..40u64 {
        let (f, input) = match n % 4 {
            0 => (OpFn::Write, json!(format!("w{n}"))),
            1 | 2 => (OpFn::Append, json!(format!("+a{n}"))),
            _ => (OpFn::Read, Value::Null),
        };
        match f {
            OpFn::Write => value = input.as_str().unwrap().to_string(),
            OpFn::Append => value.push_str(input.as_str().unwrap()),
            _ => {}
        }
        let output = if f == OpFn::Read {
            json!(value)
        } else {
            Value::Null
        };
        script
            .invoke(0, f, key, input)
            .end(0, f, key, EventKind::Ok, output);
    }
    if stale_read {
        script.invoke(0, OpFn::Read, key, Value::Null).end(
            0,
            OpFn::Read,
            key,
            EventKind::Ok,
            json!("w36"),
        );
    }
    script.history
}

#[test]
fn unseen_info_operations_are_decided_within_a_small_budget() {
    let budget = Budget {
        max_states: 20_000,
        ..Budget::default()
    };
    for (stale_read, expected) in [
        (false, Verdict::Linearizable),
        (true, Verdict::NotLinearizable),
    ] {
        let history = unseen_info_history(stale_read);
        let whole = check(&history, &budget);
        assert_eq!(whole.verdict, expected, "whole, stale read {stale_read}");
        let incremental = check_incrementally(&history, Kv, &budget);
        assert_eq!(
            incremental.verdict, expected,
            "incremental, stale read {stale_read}"
        );
    }
}

/// A random history of one kv key shaped like the raft runs: writes, cas and appends of strings
/// that appends can extend into each other's values, reads of such strings, about half the
/// operations ending info, and quiescent cuts between bursts.
fn random_info_heavy_history(steps: &[(u8, u8, u8, u8)]) -> History {
    const WORDS: [&str; 4] = ["a", "b", "ab", "ba"];
    let mut history = History::new(ModelKind::Kv, Value::Null);
    let mut process: [u64; 3] = [0, 1, 2];
    let mut open: [Option<OpFn>; 3] = Default::default();
    let mut time_ns = 0;
    for &(slot, what, pick, read) in steps {
        time_ns += 1;
        let slot = usize::from(slot % 3);
        let word = |n: u8| json!(WORDS[usize::from(n) % WORDS.len()]);
        let event = match open[slot].take() {
            None => {
                let (f, argument) = match what % 4 {
                    0 => (OpFn::Read, Value::Null),
                    1 => (OpFn::Write, word(pick)),
                    2 => (OpFn::Cas, json!([word(pick), word(read)])),
                    _ => (OpFn::Append, word(pick)),
                };
                open[slot] = Some(f);
                crate::Event {
                    process: process[slot],
                    kind: EventKind::Invoke,
                    f,
                    key: Some("k".into()),
                    value: argument,
                    time_ns: Some(time_ns),
                }
            }
            Some(f) => {
                let kind = match what % 8 {
                    0..=3 => EventKind::Ok,
                    4 => EventKind::Fail,
                    _ => EventKind::Info,
                };
                let value = match (f, kind, read % 6) {
                    (OpFn::Read, EventKind::Ok, 0) => Value::Null,
                    (OpFn::Read, EventKind::Ok, 1) => json!("aab"),
                    (OpFn::Read, EventKind::Ok, _) => word(read),
                    _ => Value::Null,
                };
                let event_process = process[slot];
                if kind == EventKind::Info {
                    // A process whose operation ended info never acts again.
                    process[slot] += 3;
                }
                crate::Event {
                    process: event_process,
                    kind,
                    f,
                    key: Some("k".into()),
                    value,
                    time_ns: Some(time_ns),
                }
            }
        };
        history.push(event).unwrap();
    }
    history
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// With many info operations and appends, the incremental check (stretches, frontiers,
    /// unseen info operations, deferred cuts) agrees with the whole-history check, which the
    /// differential tests hold against brute force; neither answers unknown.
    #[test]
    fn info_heavy_incremental_verdict_is_the_whole_history_verdict(
        steps in prop::collection::vec((0u8..3, any::<u8>(), any::<u8>(), any::<u8>()), 0..48)
    ) {
        let history = random_info_heavy_history(&steps);
        let whole = check(&history, &Budget::default());
        let incremental = check_incrementally(&history, Kv, &Budget::default());
        prop_assert!(!matches!(whole.verdict, Verdict::Unknown { .. }), "{}", history.to_json());
        prop_assert_eq!(&incremental.verdict, &whole.verdict, "history {}", history.to_json());
    }
}

/// The shape on which a segment that went on past quiescent moments used to grow without end
/// (sim-kv's toy property test, its saved case: 2 clients, 1 key, appends only, seed 0): rounds
/// of two concurrent appends or one alone, every one ok, and no read ever, so each concurrent
/// pair doubles the orders the key could be in and nothing sorts them out. With `lost`, every
/// seventh append ends info (its client goes on as a new process). With `stale_at`, a read after
/// that round returns what the key held after the first round only: not linearizable.
fn concurrent_appends_history(rounds: u64, lost: bool, stale_at: Option<u64>) -> History {
    let mut script = Script::new(ModelKind::Kv);
    let key = Some("k0");
    let mut process = [0u64, 1];
    let mut count = 0u64;
    let mut end = |script: &mut Script, process: &mut [u64; 2], slot: usize| {
        count += 1;
        let kind = if lost && count.is_multiple_of(7) {
            EventKind::Info
        } else {
            EventKind::Ok
        };
        script.end(process[slot], OpFn::Append, key, kind, Value::Null);
        if kind == EventKind::Info {
            process[slot] += 2;
        }
    };
    for round in 0..rounds {
        let append = |slot: u64| json!(format!("+c{slot}-{round}"));
        if round % 3 == 2 {
            let slot = (round / 3 % 2) as usize;
            script.invoke(process[slot], OpFn::Append, key, append(slot as u64));
            end(&mut script, &mut process, slot);
        } else {
            script.invoke(process[0], OpFn::Append, key, append(0));
            script.invoke(process[1], OpFn::Append, key, append(1));
            let first = (round % 2) as usize;
            end(&mut script, &mut process, first);
            end(&mut script, &mut process, 1 - first);
        }
        if stale_at == Some(round) {
            script.invoke(process[0], OpFn::Read, key, Value::Null).end(
                process[0],
                OpFn::Read,
                key,
                EventKind::Ok,
                json!("+c0-0+c1-0"),
            );
        }
    }
    script.history
}

/// On that shape the incremental check answers within a small number of states: a quiescent
/// moment whose frontier would be large but within [`FRONTIER_MAX`](crate::FRONTIER_MAX) may be
/// skipped, at most [`DEFER_CUTS_MAX`](crate::DEFER_CUTS_MAX) times in a row, and a search that
/// finds more distinct end states than that stops at once: the key is unknown (the orders are
/// real, no read tells them apart), as it is when every quiescent moment is a cut. The
/// whole-history check finds it linearizable. A stale read is caught while the frontier is small,
/// and never passes later.
#[test]
fn concurrent_appends_that_no_read_sorts_out_are_decided_within_a_small_budget() {
    let possible_at_once = |verdict: &Verdict| matches!(verdict, Verdict::Unknown { reason } if reason.contains("possible at once"));
    for (rounds, lost) in [(212, false), (212, true), (40, false), (600, true)] {
        let history = concurrent_appends_history(rounds, lost, None);
        let whole = check(&history, &Budget::default());
        assert_eq!(
            whole.verdict,
            Verdict::Linearizable,
            "rounds {rounds}, lost {lost}"
        );
        let incremental = check_incrementally(&history, Kv, &Budget::default());
        let verdict = &incremental.verdict;
        assert!(
            possible_at_once(verdict),
            "rounds {rounds}, lost {lost}: {verdict:?}"
        );
        assert!(
            incremental.states_explored < 200_000,
            "rounds {rounds}, lost {lost}: {} states",
            incremental.states_explored
        );
    }
    for stale_at in [3, 5] {
        let history = concurrent_appends_history(212, false, Some(stale_at));
        let whole = check(&history, &Budget::default());
        assert_eq!(
            whole.verdict,
            Verdict::NotLinearizable,
            "stale at {stale_at}"
        );
        let incremental = check_incrementally(&history, Kv, &Budget::default());
        assert_eq!(
            incremental.verdict,
            Verdict::NotLinearizable,
            "stale at {stale_at}"
        );
        assert!(incremental.failure.is_some());
        assert!(incremental.states_explored < 10_000, "stale at {stale_at}");
    }
    let history = concurrent_appends_history(212, false, Some(30));
    let incremental = check_incrementally(&history, Kv, &Budget::default());
    assert!(
        possible_at_once(&incremental.verdict),
        "{:?}",
        incremental.verdict
    );
    assert!(incremental.states_explored < 200_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// With budgets small enough that searches run out all the time (so that segments go on past
    /// moments unsearched, replay the moments they skipped, and give up), the incremental check
    /// never contradicts the whole-history check: whenever it decides, it decides the same.
    #[test]
    fn with_small_budgets_a_decided_incremental_verdict_is_the_whole_history_verdict(
        steps in prop::collection::vec((0u8..3, any::<u8>(), any::<u8>(), any::<u8>()), 0..64),
        max_states in 1u64..64,
    ) {
        let history = random_info_heavy_history(&steps);
        let whole = check(&history, &Budget::default());
        let budget = Budget { max_states, ..Budget::default() };
        let incremental = check_incrementally(&history, Kv, &budget);
        if !matches!(incremental.verdict, Verdict::Unknown { .. }) {
            prop_assert_eq!(&incremental.verdict, &whole.verdict, "history {}", history.to_json());
        }
    }
}
