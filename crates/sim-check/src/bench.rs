//! Generated histories and a benchmark of the checker.
//!
//! Owns [`Workload`], [`generate`] (histories recorded from a real sequential execution with
//! random overlap, hence linearizable), [`corrupt_read`] (makes one read return a value nobody
//! wrote, hence not linearizable) and [`run`] (times [`check`] on generated kv and register
//! histories). Generation draws from a seeded `ChaCha8Rng`, so a seed names a history.
//!
//! How a history is generated: each client slot runs operations one after another; an operation
//! occupies an interval [invoke, complete] and takes effect at a point strictly inside it. All
//! operations are applied to a real object in the order of those points, which fixes what reads
//! return and which cas succeed; the events are then listed in time order. Some operations crash
//! (info, or no completion at all): they take effect or not, at random, and the slot continues as
//! a new process, as Jepsen does.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::check::{check, Budget, Verdict};
use crate::history::{Event, EventKind, History, ModelKind, OpFn};

/// The shape of a generated history.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub model: ModelKind,
    /// Operations in the history.
    pub op_count: usize,
    /// Client slots running at once (at most 100).
    pub process_count: usize,
    /// Keys, for the kv model.
    pub key_count: usize,
    /// Written values are drawn from `0..value_count`; small domains make the search harder.
    pub value_count: u64,
    /// Relative weights of read, write, cas and append (append only for kv).
    pub mix: [u32; 4],
    /// Chance in [0, 1] that an operation crashes (ends as info or never completes).
    pub info_probability: f64,
    /// Chance in [0, 1] that a write or append reports fail (and so did not take effect).
    pub fail_probability: f64,
    /// Longest duration of an operation and longest pause between two of one slot, in ticks.
    pub duration_max: u64,
    pub pause_max: u64,
}

impl Workload {
    /// 10 processes over 100 keys, reads, writes and cas on small values, a few crashes.
    pub fn kv(op_count: usize) -> Self {
        Workload {
            model: ModelKind::Kv,
            op_count,
            process_count: 10,
            key_count: 100,
            value_count: 5,
            mix: [5, 3, 2, 0],
            info_probability: 0.02,
            fail_probability: 0.02,
            duration_max: 20,
            pause_max: 5,
        }
    }

    /// One register shared by many processes whose operations overlap heavily, as in Jepsen's
    /// cas-register tests.
    pub fn register(op_count: usize, process_count: usize) -> Self {
        Workload {
            model: ModelKind::Register,
            op_count,
            process_count,
            key_count: 1,
            value_count: 5,
            mix: [5, 3, 2, 0],
            info_probability: 0.05,
            fail_probability: 0.0,
            duration_max: 40,
            pause_max: 2,
        }
    }

    /// Mutex histories: acquire and release by each process in turn.
    pub fn mutex(op_count: usize, process_count: usize) -> Self {
        Workload {
            model: ModelKind::Mutex,
            op_count,
            process_count,
            key_count: 1,
            value_count: 1,
            mix: [0, 0, 0, 0],
            info_probability: 0.0,
            fail_probability: 0.0,
            duration_max: 10,
            pause_max: 5,
        }
    }
}

const SLOTS_MAX: usize = 100;
/// Times are `tick * TIME_SCALE + slot`, so events of different slots never tie.
const TIME_SCALE: u64 = 128;
const _: () = assert!(SLOTS_MAX as u64 <= TIME_SCALE);

struct Planned {
    slot: usize,
    process: u64,
    f: OpFn,
    key: Option<String>,
    input: Value,
    invoke_time: u64,
    effect_time: u64,
    complete_time: Option<u64>,
    crashed: bool,
    /// Whether the operation takes effect (a crashed one may not; a failed one does not).
    effective: bool,
    output: Value,
    kind: EventKind,
}

/// A history of `workload`, linearizable by construction. The same seed gives the same history.
pub fn generate(workload: &Workload, seed: u64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let slot_count = workload.process_count.clamp(1, SLOTS_MAX);
    let mut clock = vec![0u64; slot_count];
    let mut process_of: Vec<u64> = (0..slot_count as u64).collect();
    // Mutex slots alternate acquire and release.
    let mut holding = vec![false; slot_count];
    let mut planned: Vec<Planned> = Vec::with_capacity(workload.op_count);
    for _ in 0..workload.op_count {
        let slot = rng.gen_range(0..slot_count);
        let invoke_tick = clock[slot] + rng.gen_range(0..=workload.pause_max);
        let duration = rng.gen_range(2..=workload.duration_max.max(2));
        let complete_tick = invoke_tick + duration;
        let effect_tick = rng.gen_range(invoke_tick + 1..complete_tick);
        clock[slot] = complete_tick + 1;
        let (f, input) = match workload.model {
            ModelKind::Mutex => {
                let f = if holding[slot] {
                    OpFn::Release
                } else {
                    OpFn::Acquire
                };
                holding[slot] = !holding[slot];
                (f, Value::Null)
            }
            ModelKind::Register | ModelKind::Kv => {
                let mut mix = workload.mix;
                if workload.model != ModelKind::Kv {
                    mix[3] = 0;
                }
                let total: u32 = mix.iter().sum::<u32>().max(1);
                let mut pick = rng.gen_range(0..total);
                let mut choice = 0;
                while choice < 3 && pick >= mix[choice] {
                    pick -= mix[choice];
                    choice += 1;
                }
                let value =
                    |rng: &mut ChaCha8Rng| json!(rng.gen_range(0..workload.value_count.max(1)));
                match choice {
                    0 => (OpFn::Read, Value::Null),
                    1 => (OpFn::Write, value(&mut rng)),
                    2 => (OpFn::Cas, json!([value(&mut rng), value(&mut rng)])),
                    _ => (OpFn::Append, json!(format!("{},", rng.gen_range(0..1000)))),
                }
            }
        };
        let key = (workload.model == ModelKind::Kv)
            .then(|| format!("k{}", rng.gen_range(0..workload.key_count.max(1))));
        // A mutex crash would leave the lock state unknown to the slot; keep mutex runs clean.
        let crashed = workload.model != ModelKind::Mutex
            && rng.gen_bool(workload.info_probability.clamp(0.0, 1.0));
        let failed = !crashed
            && matches!(f, OpFn::Write | OpFn::Append)
            && rng.gen_bool(workload.fail_probability.clamp(0.0, 1.0));
        let effective = if crashed { rng.gen_bool(0.5) } else { !failed };
        let complete_time = if crashed && rng.gen_bool(0.3) {
            None
        } else {
            Some(complete_tick * TIME_SCALE + slot as u64)
        };
        planned.push(Planned {
            slot,
            process: process_of[slot],
            f,
            key,
            input,
            invoke_time: invoke_tick * TIME_SCALE + slot as u64,
            effect_time: effect_tick * TIME_SCALE + slot as u64,
            complete_time,
            crashed,
            effective,
            output: Value::Null,
            kind: if crashed {
                EventKind::Info
            } else if failed {
                EventKind::Fail
            } else {
                EventKind::Ok
            },
        });
        if crashed {
            // As in Jepsen, a crashed client comes back as a new process.
            process_of[slot] += slot_count as u64;
        }
    }

    // Apply the operations in effect order to fix outputs and cas outcomes.
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&index| planned[index].effect_time);
    let mut values: BTreeMap<Option<String>, Value> = BTreeMap::new();
    for index in order {
        let op = &mut planned[index];
        let current = values.entry(op.key.clone()).or_insert(Value::Null);
        match op.f {
            OpFn::Read => op.output = current.clone(),
            OpFn::Write => {
                if op.effective {
                    *current = op.input.clone();
                }
            }
            OpFn::Append => {
                // Appending to a number is a type error in a real store: the op fails.
                let appendable = current.is_null() || current.is_string();
                if !appendable {
                    op.effective = false;
                    if !op.crashed {
                        op.kind = EventKind::Fail;
                    }
                } else if op.effective {
                    let suffix = op.input.as_str().unwrap_or("");
                    let text = current.as_str().unwrap_or("");
                    *current = json!(format!("{text}{suffix}"));
                }
            }
            OpFn::Cas => {
                let expected = op.input.get(0).cloned().unwrap_or(Value::Null);
                let new = op.input.get(1).cloned().unwrap_or(Value::Null);
                if *current != expected {
                    op.effective = false;
                    if !op.crashed {
                        op.kind = EventKind::Fail;
                    }
                } else if op.effective {
                    *current = new;
                }
            }
            OpFn::Acquire | OpFn::Release => {
                // A try-lock: acquiring a held lock or releasing one held by another fails.
                let holder = json!(op.process);
                let allowed = match op.f {
                    OpFn::Acquire => current.is_null(),
                    _ => *current == holder,
                };
                if allowed {
                    *current = if op.f == OpFn::Acquire {
                        holder
                    } else {
                        Value::Null
                    };
                } else {
                    op.effective = false;
                    op.kind = EventKind::Fail;
                }
            }
        }
    }

    let mut events: Vec<(u64, usize, Event)> = Vec::with_capacity(planned.len() * 2);
    for (index, op) in planned.iter().enumerate() {
        events.push((
            op.invoke_time,
            index,
            Event {
                process: op.process,
                kind: EventKind::Invoke,
                f: op.f,
                key: op.key.clone(),
                value: op.input.clone(),
                time_ns: Some(op.invoke_time),
            },
        ));
        if let Some(complete_time) = op.complete_time {
            let value = match (op.f, op.kind) {
                (OpFn::Read, EventKind::Ok) => op.output.clone(),
                (OpFn::Read, _) => Value::Null,
                _ => op.input.clone(),
            };
            events.push((
                complete_time,
                index,
                Event {
                    process: op.process,
                    kind: op.kind,
                    f: op.f,
                    key: op.key.clone(),
                    value,
                    time_ns: Some(complete_time),
                },
            ));
        }
        debug_assert!(op.slot < SLOTS_MAX, "slot out of range");
    }
    events.sort_by_key(|(time, index, _)| (*time, *index));
    let mut history = History::new(workload.model, Value::Null);
    for (_, _, event) in events {
        if let Err(error) = history.try_push(event) {
            // The generator builds valid histories; this is a bug in it.
            panic!("bench generator built an invalid event: {}", error.message);
        }
    }
    history
}

/// A copy of `history` in which one ok read (chosen by `seed`) returns a value no operation wrote.
/// `None` when the history has no ok read.
pub fn corrupt_read(history: &History, seed: u64) -> Option<History> {
    let reads: Vec<usize> = history
        .events()
        .iter()
        .enumerate()
        .filter(|(_, event)| event.kind == EventKind::Ok && event.f == OpFn::Read)
        .map(|(index, _)| index)
        .collect();
    if reads.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let chosen = reads[rng.gen_range(0..reads.len())];
    let mut corrupted = History::new(history.model(), history.init().clone());
    for (index, event) in history.events().iter().enumerate() {
        let mut event = event.clone();
        if index == chosen {
            event.value = match event.value {
                Value::String(_) => json!("never-written"),
                _ => json!(-1_000_000_007i64),
            };
        }
        corrupted.try_push(event).ok()?;
    }
    Some(corrupted)
}

/// A copy of `history` with a stale read: an ok read that began after a write W1 completed now
/// returns the value of an earlier write W0 that completed before W1 began and whose value no
/// other operation writes. No order can explain it: W0 took effect before W1, W1 before the read,
/// and nothing else brings W0's value back. `None` when the history has no such triple.
pub fn inject_stale_read(history: &History) -> Option<History> {
    let ops = history.operations();
    let mut written: BTreeMap<String, usize> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.outcome != crate::Outcome::Fail) {
        let value = match op.f {
            OpFn::Write => Some(op.input.clone()),
            OpFn::Cas => op.input.get(1).cloned(),
            _ => None,
        };
        if let Some(value) = value {
            *written.entry(value.to_string()).or_default() += 1;
        }
    }
    let is_ok_write =
        |op: &&crate::Operation| op.f == OpFn::Write && op.outcome == crate::Outcome::Ok;
    for first in ops.iter().filter(is_ok_write) {
        let unique =
            written.get(&first.input.to_string()) == Some(&1) && first.input != *history.init();
        let Some(first_done) = first.complete_index.filter(|_| unique) else {
            continue;
        };
        let Some(second) = ops
            .iter()
            .filter(is_ok_write)
            .find(|op| op.index > first_done && op.input != first.input)
        else {
            continue;
        };
        let second_done = second.complete_index?;
        let Some(read) = ops.iter().find(|op| {
            op.f == OpFn::Read && op.outcome == crate::Outcome::Ok && op.index > second_done
        }) else {
            continue;
        };
        let read_done = read.complete_index?;
        let mut stale = History::new(history.model(), history.init().clone());
        for (index, event) in history.events().iter().enumerate() {
            let mut event = event.clone();
            if index == read_done {
                event.value = first.input.clone();
            }
            stale.try_push(event).ok()?;
        }
        return Some(stale);
    }
    None
}

/// An etcd-like cas-register history as Jepsen records them: many clients on one register,
/// reads, writes and cas of small values, and many timeouts (info) whose clients come back as new
/// processes. `value_count` sets the value domain (Jepsen uses 5).
pub fn jepsen_register(
    op_count: usize,
    process_count: usize,
    value_count: u64,
    seed: u64,
) -> History {
    let workload = Workload {
        value_count,
        info_probability: 0.12,
        fail_probability: 0.0,
        duration_max: 30,
        pause_max: 10,
        ..Workload::register(op_count, process_count)
    };
    generate(&workload, seed)
}

struct Measurement {
    name: String,
    op_count: usize,
    seconds: f64,
    states_explored: u64,
    verdict: Verdict,
}

fn measure(name: String, history: &History) -> Measurement {
    let start = crate::clock::now();
    let result = check(history, &Budget::default());
    let seconds = start.elapsed().as_secs_f64();
    Measurement {
        name,
        op_count: history.operations().len(),
        seconds,
        states_explored: result.states_explored,
        verdict: result.verdict,
    }
}

fn per_second(count: f64, seconds: f64) -> String {
    let rate = count / seconds.max(1e-9);
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// Times the checker on generated histories and returns a report: for each count in `ops_counts`,
/// a kv history over 10 processes and 100 keys, and a register history with 20 processes in heavy
/// overlap. Generation is deterministic from `seed`; the times are wall-clock.
pub fn run(ops_counts: &[usize], seed: u64) -> String {
    let mut measurements = Vec::new();
    for &op_count in ops_counts {
        let history = generate(&Workload::kv(op_count), seed);
        measurements.push(measure("kv, 10 processes, 100 keys".to_string(), &history));
    }
    for &op_count in ops_counts {
        let history = generate(&Workload::register(op_count, 20), seed);
        measurements.push(measure("register, 20 processes".to_string(), &history));
    }
    let mut parse_lines = Vec::new();
    if let Some(&op_count) = ops_counts.iter().max() {
        let history = generate(&Workload::kv(op_count), seed);
        let mut text = Vec::new();
        if history.write_json(&mut text).is_ok() {
            let text = String::from_utf8_lossy(&text);
            let start = crate::clock::now();
            let parsed = crate::parse::parse_history(&text, "bench", None);
            let seconds = start.elapsed().as_secs_f64();
            parse_lines.push(format!(
                "parsing the JSON of {} kv events ({} bytes): {:.1}ms{}\n",
                history.events().len(),
                text.len(),
                seconds * 1e3,
                if parsed.is_ok() { "" } else { " (failed)" }
            ));
        }
    }
    let mut report = format!("sim-check benchmark, seed {seed} (wall-clock times)\n");
    report.push_str(&format!(
        "{:<28} {:>8} {:>10} {:>10} {:>10} {:>10}  {}\n",
        "history", "ops", "time", "ops/s", "states", "states/s", "verdict"
    ));
    for measurement in &measurements {
        let verdict = match &measurement.verdict {
            Verdict::Unknown { reason } => format!("unknown ({reason})"),
            other => other.name().to_string(),
        };
        report.push_str(&format!(
            "{:<28} {:>8} {:>8.1}ms {:>10} {:>10} {:>10}  {}\n",
            measurement.name,
            measurement.op_count,
            measurement.seconds * 1e3,
            per_second(measurement.op_count as f64, measurement.seconds),
            measurement.states_explored,
            per_second(measurement.states_explored as f64, measurement.seconds),
            verdict
        ));
    }
    for line in parse_lines {
        report.push_str(&line);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_histories_are_deterministic() {
        let workload = Workload::kv(300);
        assert_eq!(generate(&workload, 7), generate(&workload, 7));
        assert_ne!(generate(&workload, 7), generate(&workload, 8));
    }

    #[test]
    fn generated_histories_are_linearizable() {
        for seed in 0..5 {
            for workload in [
                Workload::kv(2_000),
                Workload::register(500, 20),
                Workload::mutex(300, 5),
            ] {
                let history = generate(&workload, seed);
                let result = check(&history, &Budget::default());
                assert_eq!(
                    result.verdict,
                    Verdict::Linearizable,
                    "{:?} seed {seed}",
                    workload.model
                );
            }
        }
    }

    #[test]
    fn kv_append_histories_are_linearizable_and_corrupt_reads_are_not() {
        let workload = Workload {
            mix: [4, 2, 1, 3],
            ..Workload::kv(1_000)
        };
        for seed in 0..3 {
            let history = generate(&workload, seed);
            assert_eq!(
                check(&history, &Budget::default()).verdict,
                Verdict::Linearizable
            );
            let corrupted = corrupt_read(&history, seed).expect("a read");
            assert_eq!(
                check(&corrupted, &Budget::default()).verdict,
                Verdict::NotLinearizable
            );
        }
    }

    #[test]
    fn run_reports_every_history() {
        let report = run(&[200], 1);
        assert!(report.contains("kv, 10 processes, 100 keys"), "{report}");
        assert!(report.contains("register, 20 processes"), "{report}");
        assert!(!report.contains("not_linearizable"), "{report}");
    }
}
