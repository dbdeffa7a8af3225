//! The benchmark against the field: histories shaped like the ones Jepsen and Porcupine check.
//!
//! Owns [`porcupine_kv`] (Porcupine's kv tests: 10 or 50 clients on a few keys doing `get`,
//! `put` and `append` of unique strings, no crashes, good or with one stale read), [`etcd`]
//! (Jepsen's etcd cas-register tests: many crashed operations, values 0..5) and [`run`], which
//! decides a set of each and reports time per history and states per second (`sim bench field`).
//! The histories are generated from a seeded `ChaCha8Rng`: a seed names a history.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::bench::{inject_stale_read, jepsen_register};
use crate::check::{check, Budget, CheckResult, Verdict};
use crate::history::{Event, EventKind, History, ModelKind, OpFn};

/// One operation of a generated kv history.
struct Planned {
    process: u64,
    f: OpFn,
    key: String,
    input: Value,
    output: Value,
    invoke: u64,
    effect: u64,
    complete: u64,
}

/// A kv history shaped like Porcupine's kv tests: `clients` clients doing `op_count` operations
/// on `key_count` keys (`get` 50%, `put` 25%, `append` 25% of unique strings), linearizable by
/// construction, starting from `""` as Porcupine's kv model does. With `bad`, one read on the
/// last key returns the value from before an append that completed before the read began.
pub fn porcupine_kv(
    clients: usize,
    op_count: usize,
    key_count: usize,
    bad: bool,
    seed: u64,
) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let clients = clients.max(1);
    let mut clock = vec![0u64; clients];
    let mut planned: Vec<Planned> = Vec::with_capacity(op_count);
    for index in 0..op_count {
        let client = rng.gen_range(0..clients);
        let invoke = clock[client] + rng.gen_range(0..=3);
        let complete = invoke + rng.gen_range(2..=12 + clients as u64 / 5);
        clock[client] = complete + 1;
        let key = format!("{}", rng.gen_range(0..key_count.max(1)));
        let (f, input) = match rng.gen_range(0..4) {
            0 | 1 => (OpFn::Read, Value::Null),
            2 => (OpFn::Write, json!(format!("x {client} {index} y"))),
            _ => (OpFn::Append, json!(format!("x {client} {index} y"))),
        };
        let scale = 128;
        planned.push(Planned {
            process: client as u64,
            f,
            key,
            input,
            output: Value::Null,
            invoke: invoke * scale + client as u64 % scale,
            effect: rng.gen_range(invoke + 1..complete) * scale + client as u64 % scale,
            complete: complete * scale + client as u64 % scale,
        });
    }
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&index| planned[index].effect);
    let mut values: std::collections::BTreeMap<String, String> = Default::default();
    // For the bad history: the value before each append, by op.
    let mut before: Vec<Option<String>> = vec![None; planned.len()];
    for index in order {
        let op = &mut planned[index];
        let current = values.entry(op.key.clone()).or_default();
        match op.f {
            OpFn::Read => op.output = json!(current.clone()),
            OpFn::Write => *current = op.input.as_str().unwrap_or("").to_string(),
            _ => {
                before[index] = Some(current.clone());
                current.push_str(op.input.as_str().unwrap_or(""));
            }
        }
    }
    if bad {
        make_stale(&mut planned, &before, key_count);
    }
    history_of(&planned)
}

/// The history of planned operations, events in time order.
fn history_of(planned: &[Planned]) -> History {
    let mut events: Vec<(u64, usize, Event)> = Vec::with_capacity(2 * planned.len());
    for (index, op) in planned.iter().enumerate() {
        let event = |kind, value: &Value, time| Event {
            process: op.process,
            kind,
            f: op.f,
            key: Some(op.key.clone()),
            value: value.clone(),
            time_ns: Some(time),
        };
        events.push((
            op.invoke,
            index,
            event(EventKind::Invoke, &op.input, op.invoke),
        ));
        let value = if op.f == OpFn::Read {
            &op.output
        } else {
            &op.input
        };
        events.push((op.complete, index, event(EventKind::Ok, value, op.complete)));
    }
    events.sort_by_key(|(time, index, _)| (*time, *index));
    let mut history = History::new(ModelKind::Kv, json!(""));
    for (_, _, event) in events {
        if let Err(error) = history.try_push(event) {
            panic!("field generator built an invalid event: {}", error.message);
        }
    }
    history
}

/// Makes the last read on the last key that follows a completed append return the value from
/// before that append.
fn make_stale(planned: &mut [Planned], before: &[Option<String>], key_count: usize) {
    let last_key = format!("{}", key_count.max(1) - 1);
    let read = (0..planned.len()).rev().find_map(|read| {
        let op = &planned[read];
        if op.f != OpFn::Read || op.key != last_key {
            return None;
        }
        // The latest append on the key that completed before the read began and whose effect
        // shows in the value read.
        let append = (0..planned.len())
            .filter(|&other| {
                let candidate = &planned[other];
                candidate.f == OpFn::Append
                    && candidate.key == last_key
                    && candidate.complete < op.invoke
                    && op.output.as_str().is_some_and(|read| {
                        read.ends_with(candidate.input.as_str().unwrap_or("\u{0}"))
                    })
            })
            .max_by_key(|&other| planned[other].effect)?;
        Some((read, before[append].clone()?))
    });
    if let Some((read, stale)) = read {
        planned[read].output = json!(stale);
    }
}

/// An etcd cas-register history as Jepsen records them (see [`jepsen_register`]), 1000
/// operations over 10 clients and values 0..5; with `bad`, one stale read.
pub fn etcd(bad: bool, seed: u64) -> History {
    let good = jepsen_register(1_000, 10, 5, seed);
    if !bad {
        return good;
    }
    let unique = jepsen_register(1_000, 10, 1_000_000, seed);
    inject_stale_read(&unique).unwrap_or(good)
}

/// One shape of the benchmark: a name, and its histories by seed.
struct Shape {
    name: &'static str,
    expected: Verdict,
    make: fn(u64) -> History,
}

fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "etcd register, good",
            expected: Verdict::Linearizable,
            make: |seed| etcd(false, seed),
        },
        Shape {
            name: "etcd register, stale read",
            expected: Verdict::NotLinearizable,
            make: |seed| etcd(true, seed),
        },
        Shape {
            name: "porcupine kv c10, good",
            expected: Verdict::Linearizable,
            make: |seed| porcupine_kv(10, 2_000, 10, false, seed),
        },
        Shape {
            name: "porcupine kv c10, bad",
            expected: Verdict::NotLinearizable,
            make: |seed| porcupine_kv(10, 2_000, 10, true, seed),
        },
        Shape {
            name: "porcupine kv c50, good",
            expected: Verdict::Linearizable,
            make: |seed| porcupine_kv(50, 2_000, 10, false, seed),
        },
        Shape {
            name: "porcupine kv c50, bad",
            expected: Verdict::NotLinearizable,
            make: |seed| porcupine_kv(50, 2_000, 10, true, seed),
        },
    ]
}

fn timed(history: &History) -> (CheckResult, f64) {
    let start = crate::clock::now();
    let result = check(history, &Budget::default());
    (result, start.elapsed().as_secs_f64())
}

/// Decides `count` histories of each shape (seeds `0..count`) and reports, per shape, the time
/// per history (mean and worst), states per second and the verdicts against those expected.
pub fn run(count: u64) -> String {
    let mut report = format!(
        "sim-check against the field: {count} generated histories per shape (wall-clock times)\n{:<28} {:>6} {:>10} {:>10} {:>12} {:>10}  verdicts\n",
        "shape", "ops", "mean", "worst", "states", "states/s"
    );
    for shape in shapes() {
        let (mut total, mut worst, mut states, mut ops) = (0.0f64, 0.0f64, 0u64, 0usize);
        let mut matched = 0;
        let mut others = Vec::new();
        for seed in 0..count {
            let history = (shape.make)(seed);
            ops = history.operations().len();
            let (result, seconds) = timed(&history);
            total += seconds;
            worst = worst.max(seconds);
            states += result.states_explored;
            if result.verdict == shape.expected {
                matched += 1;
            } else {
                others.push(format!("seed {seed}: {}", result.verdict.name()));
            }
        }
        let mean = total / count.max(1) as f64;
        report.push_str(&format!(
            "{:<28} {:>6} {:>8.2}ms {:>8.2}ms {:>12} {:>10}  {matched}/{count} {}{}\n",
            shape.name,
            ops,
            mean * 1e3,
            worst * 1e3,
            states,
            format!("{:.0}", states as f64 / total.max(1e-9)),
            shape.expected.name(),
            if others.is_empty() {
                String::new()
            } else {
                format!(" ({})", others.join(", "))
            }
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_has_its_verdict() {
        for shape in shapes() {
            for seed in 0..2 {
                let result = check(&(shape.make)(seed), &Budget::default());
                assert_eq!(result.verdict, shape.expected, "{} seed {seed}", shape.name);
            }
        }
    }

    /// Porcupine's 50-client bad kv history took minutes and gigabytes when a hard key came
    /// before the failing one; rounds decide it within the first round or two: at most the first
    /// two rounds' budgets on each of the ten keys, never the 50-million-state budget.
    #[test]
    fn a_bad_50_client_kv_history_is_decided_in_few_states() {
        let two_rounds = 10 * crate::check::FIRST_ROUND_STATES * (1 + crate::check::ROUND_GROWTH);
        for seed in 3..6 {
            let history = porcupine_kv(50, 2_000, 10, true, seed);
            let result = check(&history, &Budget::default());
            assert_eq!(result.verdict, Verdict::NotLinearizable, "seed {seed}");
            assert_eq!(
                result.explanation.as_ref().and_then(|e| e.key.as_deref()),
                Some("9")
            );
            assert!(
                result.states_explored <= two_rounds,
                "seed {seed}: {} states",
                result.states_explored
            );
        }
    }
}
