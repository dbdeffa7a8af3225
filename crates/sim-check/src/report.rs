//! Presenting a [`CheckResult`]: a text report with a timeline of the processes, and JSON for
//! tools.
//!
//! Owns [`render_text`] and [`render_json`]. The facts come from `check`; this module only looks
//! up the operations they name in the history and lays them out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::check::{CheckResult, Explanation, Verdict};
use crate::exact::to_report;
use crate::history::{describe_key, short_json, EventKind, History, OpFn, Operation, Outcome};

/// At most this many timeline rows are printed; the middle of a longer timeline is elided.
const TIMELINE_ROWS_MAX: usize = 60;
/// At most this many candidates are listed in text.
const CANDIDATES_MAX: usize = 20;

/// Operations by the index of their invoke event.
struct OpTable {
    operations: Vec<Operation>,
    by_index: BTreeMap<usize, usize>,
}

impl OpTable {
    fn new(history: &History) -> Self {
        let operations = history.operations();
        let by_index = operations
            .iter()
            .enumerate()
            .map(|(position, op)| (op.index, position))
            .collect();
        OpTable {
            operations,
            by_index,
        }
    }

    fn get(&self, index: usize) -> Option<&Operation> {
        self.by_index
            .get(&index)
            .and_then(|&position| self.operations.get(position))
    }
}

/// A short description of what an operation did: `p3 cas 1 -> 2 (info)`.
fn describe_op(op: &Operation) -> String {
    let action = match op.f {
        OpFn::Read => match &op.output {
            Some(value) => format!("read -> {}", short_json(value)),
            None => "read".to_string(),
        },
        OpFn::Cas => match &op.input {
            Value::Array(pair) if pair.len() == 2 => {
                format!("cas {} -> {}", short_json(&pair[0]), short_json(&pair[1]))
            }
            other => format!("cas {}", short_json(other)),
        },
        OpFn::Acquire | OpFn::Release if op.input.is_null() => op.f.name().to_string(),
        _ => format!("{} {}", op.f.name(), short_json(&op.input)),
    };
    let outcome = match (op.outcome, op.complete_index) {
        (Outcome::Ok, _) => "",
        (Outcome::Fail, _) => " (fail)",
        (Outcome::Info, Some(_)) => " (info)",
        (Outcome::Info, None) => " (never completed)",
    };
    format!("p{} {}{}", op.process, action, outcome)
}

fn op_json(op: &Operation, history: &History) -> Value {
    let time = |index: Option<usize>| {
        index
            .and_then(|index| history.events().get(index))
            .and_then(|event| event.time_ns)
    };
    let mut object = serde_json::Map::new();
    object.insert("index".into(), json!(op.index));
    object.insert("process".into(), json!(op.process));
    object.insert("f".into(), json!(op.f.name()));
    if let Some(key) = &op.key {
        object.insert("key".into(), json!(key));
    }
    object.insert("value".into(), to_report(&op.input));
    if let Some(output) = &op.output {
        object.insert("output".into(), to_report(output));
    }
    let outcome = match op.outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    };
    object.insert("outcome".into(), json!(outcome));
    object.insert("invoke".into(), json!(op.index));
    object.insert("complete".into(), json!(op.complete_index));
    if let Some(time_ns) = time(Some(op.index)) {
        object.insert("invoke_time".into(), json!(time_ns));
    }
    if let Some(time_ns) = time(op.complete_index) {
        object.insert("complete_time".into(), json!(time_ns));
    }
    object.insert("description".into(), json!(describe_op(op)));
    Value::Object(object)
}

fn summary(result: &CheckResult, history: &History) -> String {
    let mut text = format!("{} operations", result.op_count);
    if history.model().has_keys() {
        text.push_str(&format!(", {} keys", result.keys.len()));
    }
    text.push_str(&format!(", {} states explored", result.states_explored));
    text
}

/// The result as text for people: the verdict, and for a violation the key, the longest
/// linearizable prefix found, the operation that cannot be placed with the candidates and why
/// each fails, and a timeline of the processes around it.
pub fn render_text(result: &CheckResult, history: &History) -> String {
    let mut out = String::new();
    match &result.verdict {
        Verdict::Linearizable => {
            out.push_str(&format!("linearizable: {}\n", summary(result, history)));
        }
        Verdict::Unknown { reason } => {
            out.push_str(&format!("unknown: {reason}\n"));
            out.push_str(&format!("  {}\n", summary(result, history)));
            let unknown = result
                .keys
                .iter()
                .filter(|key| matches!(key.verdict, Some(Verdict::Unknown { .. })))
                .count();
            if history.model().has_keys() && unknown > 0 {
                out.push_str(&format!(
                    "  {} of {} keys linearizable, {} unknown\n",
                    result.keys.len() - unknown,
                    result.keys.len(),
                    unknown
                ));
            }
        }
        Verdict::NotLinearizable => {
            out.push_str(&format!("not linearizable: {}\n", summary(result, history)));
            if let Some(explanation) = &result.explanation {
                let table = OpTable::new(history);
                render_explanation(&mut out, explanation, &table, history);
            }
        }
    }
    out
}

fn render_explanation(
    out: &mut String,
    explanation: &Explanation,
    table: &OpTable,
    history: &History,
) {
    let on_key = match &explanation.key {
        Some(key) => format!(" on key {}", describe_key(Some(key))),
        None => String::new(),
    };
    let Some(blocking) = table.get(explanation.blocking) else {
        return;
    };
    out.push('\n');
    if let Some(reason) = &explanation.reason {
        out.push_str(&format!(
            "op {}{} can never take effect: {}.\n  op {:<6} {}\n",
            blocking.index,
            on_key,
            reason,
            blocking.index,
            describe_op(blocking)
        ));
    } else {
        out.push_str(&format!(
            "Longest linearizable prefix found{}: {} operations ({} operations completed ok and \
             had to take effect; info operations in it are assumed to have taken effect there)\n",
            on_key,
            explanation.prefix.len(),
            explanation.required_count,
        ));
        let hidden = explanation.prefix.len() - explanation.prefix_tail.len();
        if explanation.prefix.is_empty() {
            out.push_str("  (empty: no operation can go first)\n");
        } else {
            if hidden > 0 {
                out.push_str(&format!("  ... {hidden} earlier operations\n"));
            }
            for step in &explanation.prefix_tail {
                if let Some(op) = table.get(step.op) {
                    out.push_str(&format!(
                        "  op {:<6} {:<34} -> state {}\n",
                        op.index,
                        describe_op(op),
                        short_json(&step.state)
                    ));
                }
            }
        }
        out.push_str(&format!(
            "State after the prefix: {}\n\n",
            short_json(&explanation.state)
        ));
        out.push_str(&format!(
            "Cannot place op {}{}: {}, which returned at event {} before any of these could take \
             effect next:\n",
            blocking.index,
            on_key,
            describe_op(blocking),
            blocking
                .complete_index
                .map_or("(end)".to_string(), |index| index.to_string())
        ));
        for candidate in explanation.candidates.iter().take(CANDIDATES_MAX) {
            if let Some(op) = table.get(candidate.op) {
                out.push_str(&format!(
                    "  op {:<6} {:<34} {}\n",
                    op.index,
                    describe_op(op),
                    candidate.reason
                ));
            }
        }
        if explanation.candidates.len() > CANDIDATES_MAX {
            out.push_str(&format!(
                "  ... and {} more\n",
                explanation.candidates.len() - CANDIDATES_MAX
            ));
        }
    }
    out.push('\n');
    render_timeline(out, explanation, table, history, blocking);
}

/// The events shown in the timeline: those of the blocking operation, of the operations
/// concurrent with it and of the last few prefix operations, up to the blocking operation's
/// return.
fn timeline_events(
    explanation: &Explanation,
    table: &OpTable,
    blocking: &Operation,
) -> Vec<(usize, usize)> {
    let mut ops: BTreeSet<usize> = BTreeSet::new();
    ops.insert(blocking.index);
    ops.extend(explanation.concurrent.iter().copied());
    let tail_len = explanation.prefix_tail.len();
    ops.extend(
        explanation.prefix_tail[tail_len.saturating_sub(4)..]
            .iter()
            .map(|step| step.op),
    );
    let end = blocking.complete_index.unwrap_or(usize::MAX);
    let mut events: Vec<(usize, usize)> = Vec::new();
    for &index in &ops {
        let Some(op) = table.get(index) else {
            continue;
        };
        events.push((op.index, op.index));
        if let Some(done) = op.complete_index.filter(|&done| done <= end) {
            events.push((done, op.index));
        }
    }
    events.sort_unstable();
    events
}

fn render_timeline(
    out: &mut String,
    explanation: &Explanation,
    table: &OpTable,
    history: &History,
    blocking: &Operation,
) {
    let events = timeline_events(explanation, table, blocking);
    let prefix_position: BTreeMap<usize, usize> = explanation
        .prefix
        .iter()
        .enumerate()
        .map(|(position, &op)| (op, position + 1))
        .collect();
    let processes: Vec<u64> = events
        .iter()
        .filter_map(|&(_, op)| table.get(op).map(|op| op.process))
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .collect();
    let lane_width = processes
        .iter()
        .map(|process| format!("p{process}").len())
        .max()
        .unwrap_or(2)
        + 1;
    out.push_str(&format!(
        "Timeline{} (+ invoke, = ok, x fail, ? info, | in flight; [n] = n-th in the prefix):\n",
        match &explanation.key {
            Some(key) => format!(" of key {}", describe_key(Some(key))),
            None => String::new(),
        }
    ));
    let mut header = format!("{:>7}  ", "event");
    for process in &processes {
        header.push_str(&format!(
            "{:<width$}",
            format!("p{process}"),
            width = lane_width
        ));
    }
    out.push_str(header.trim_end());
    out.push('\n');

    let row_count = events.len();
    let (head_rows, tail_rows) = if row_count > TIMELINE_ROWS_MAX {
        (10, TIMELINE_ROWS_MAX - 10)
    } else {
        (row_count, 0)
    };
    // In-flight state of each lane, updated for every event including elided ones.
    let mut in_flight: BTreeMap<u64, bool> = BTreeMap::new();
    for (row, &(event_index, op_index)) in events.iter().enumerate() {
        let Some(op) = table.get(op_index) else {
            continue;
        };
        let Some(event) = history.events().get(event_index) else {
            continue;
        };
        let mark = match event.kind {
            EventKind::Invoke => '+',
            EventKind::Ok => '=',
            EventKind::Fail => 'x',
            EventKind::Info => '?',
        };
        let shown = row < head_rows || row >= row_count - tail_rows;
        if row == head_rows && tail_rows > 0 {
            out.push_str(&format!(
                "{:>7}  ... {} events elided\n",
                "",
                row_count - head_rows - tail_rows
            ));
        }
        if shown {
            let mut line = format!("{:>7}  ", event_index);
            for process in &processes {
                let symbol = if *process == op.process {
                    mark
                } else if in_flight.get(process).copied().unwrap_or(false) {
                    '|'
                } else {
                    ' '
                };
                line.push_str(&format!("{:<width$}", symbol, width = lane_width));
            }
            let action = match event.kind {
                EventKind::Invoke => "invoke",
                EventKind::Ok => "ok",
                EventKind::Fail => "fail",
                EventKind::Info => "info",
            };
            let mut note = format!("op {} {}: {}", op.index, action, describe_op(op));
            if let Some(position) = prefix_position.get(&op.index) {
                note.push_str(&format!(" [{position}]"));
            }
            if op.index == blocking.index && event.kind != EventKind::Invoke {
                note.push_str("  <- cannot be placed");
            }
            line.push_str(&note);
            out.push_str(&line);
            out.push('\n');
        }
        in_flight.insert(op.process, event.kind == EventKind::Invoke);
    }
}

/// The result as JSON for tools; the fields are described in the crate's README.
pub fn render_json(result: &CheckResult, history: &History) -> Value {
    let keys: Vec<Value> = result
        .keys
        .iter()
        .map(|key| {
            let mut object = json!({
                "key": key.key,
                "op_count": key.op_count,
                "verdict": key.verdict.as_ref().map_or("not_checked", Verdict::name),
                "states_explored": key.states_explored,
            });
            if let Some(Verdict::Unknown { reason }) = &key.verdict {
                object["reason"] = json!(reason);
            }
            object
        })
        .collect();
    let reason = match &result.verdict {
        Verdict::Unknown { reason } => json!(reason),
        _ => Value::Null,
    };
    let explanation = match &result.explanation {
        Some(explanation) => explanation_json(explanation, history),
        None => Value::Null,
    };
    json!({
        "verdict": result.verdict.name(),
        "reason": reason,
        "model": history.model().name(),
        "op_count": result.op_count,
        "states_explored": result.states_explored,
        "keys": keys,
        "explanation": explanation,
    })
}

fn explanation_json(explanation: &Explanation, history: &History) -> Value {
    let table = OpTable::new(history);
    let op = |index: usize| {
        table
            .get(index)
            .map_or(Value::Null, |op| op_json(op, history))
    };
    let timeline: Vec<Value> = match table.get(explanation.blocking) {
        Some(blocking) => timeline_events(explanation, &table, blocking)
            .into_iter()
            .filter_map(|(event_index, op_index)| {
                let event = history.events().get(event_index)?;
                Some(json!({
                    "event": event_index,
                    "op": op_index,
                    "process": event.process,
                    "type": event.kind.name(),
                    "f": event.f.name(),
                    "value": to_report(&event.value),
                    "time": event.time_ns,
                }))
            })
            .collect(),
        None => Vec::new(),
    };
    json!({
        "key": explanation.key,
        "required_count": explanation.required_count,
        "prefix": explanation.prefix,
        "prefix_tail": explanation.prefix_tail.iter().map(|step| json!({
            "op": op(step.op),
            "state": to_report(&step.state),
        })).collect::<Vec<_>>(),
        "state": to_report(&explanation.state),
        "op": op(explanation.blocking),
        "reason": explanation.reason,
        "candidates": explanation.candidates.iter().map(|candidate| json!({
            "op": op(candidate.op),
            "reason": candidate.reason,
        })).collect::<Vec<_>>(),
        "concurrent": explanation.concurrent.iter().map(|&index| op(index)).collect::<Vec<_>>(),
        "timeline": timeline,
    })
}
