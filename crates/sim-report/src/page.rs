//! The page: the collected trace and the report's input as one JSON document, embedded with the
//! inline style sheet and script into one HTML file that needs nothing else.
//!
//! The data is compact and columnar: each arrow is six numbers (send time as a delta from the
//! previous arrow's, duration, from, to, kind, outcome), each protocol report four values.
//! Every string from the run or a history (keys, values, messages, fault texts) is data: the
//! JSON is embedded with `<`, `>` and `&` escaped as `\u003c`, `\u003e`, `\u0026`, so no value
//! can close the script element, and the script writes strings only through `textContent` and
//! the canvas, never as HTML.

use serde_json::{json, Map, Value};
use sim_check::{History, Outcome as OpOutcome};

use crate::collector::{Collected, Life};
use crate::input::{nodes_named, ReportInput};

const TEMPLATE: &str = include_str!("../assets/report.html");
const STYLE: &str = include_str!("../assets/report.css");
const SCRIPT: &str = include_str!("../assets/report.js");

/// The whole page for `input`, with the diagram of `collected` when there is a trace.
pub fn render(collected: Option<&Collected>, input: &ReportInput) -> String {
    let json = embed_json(&data(collected, input));
    TEMPLATE
        .replace("{{TITLE}}", &escape_html(&input.title))
        .replace("{{STYLE}}", STYLE)
        .replace("{{SCRIPT}}", SCRIPT)
        .replace("{{DATA}}", &json)
}

/// JSON text made safe inside a `<script>` element: nothing in it can end the element or start
/// markup. The escapes are JSON's own, so the text decodes to the same value.
pub fn embed_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 64);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Text safe as HTML content or an attribute value.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON of `value` (which always serializes: numbers and strings).
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Large fields, already JSON: written straight into the document rather than built as values.
type RawFields = Vec<(&'static str, String)>;

/// The page's data document, as JSON text.
pub fn data(collected: Option<&Collected>, input: &ReportInput) -> String {
    let empty = Collected::default();
    let c = collected.unwrap_or(&empty);
    let node_count = (c.node_count as usize).max(if collected.is_some() {
        input.node_names.len()
    } else {
        0
    });
    let names: Vec<String> = (0..node_count)
        .map(|i| {
            input
                .node_names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("n{}", i + 1))
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("title".into(), json!(input.title));
    doc.insert("command".into(), json!(input.command));
    doc.insert("summary".into(), json!(input.summary));
    doc.insert("has_trace".into(), json!(collected.is_some()));
    doc.insert("nodes".into(), json!(names));
    doc.insert("checks".into(), checks(input));
    doc.insert("violation".into(), violation(input, &names));
    doc.insert("windows".into(), json!(input.fault_windows));
    doc.insert("faults".into(), json!(input.faults));
    doc.insert("end".into(), json!(input.end_ns.max(c.last_ns)));
    doc.insert("quiet".into(), json!(input.quiet_start_ns));
    doc.insert("baseline".into(), json!(input.baseline_network));
    doc.insert("events".into(), json!(c.events));
    doc.insert("timers".into(), json!(c.timers));
    let mut raw = RawFields::new();
    trace_data(&mut doc, &mut raw, c);
    let (ops, logical) = operations(input.history.as_ref(), c);
    raw.push(("ops", ops));
    doc.insert("logical_time".into(), json!(logical));
    doc.insert("explain".into(), explanation(input));
    let mut text = to_json(&Value::Object(doc));
    text.pop();
    for (key, value) in raw {
        text.push_str(&format!(",\"{key}\":"));
        text.push_str(&value);
    }
    text.push('}');
    text
}

fn checks(input: &ReportInput) -> Value {
    let list: Vec<Value> = input
        .checks
        .iter()
        .map(|c| {
            json!({"name": c.name, "kind": c.kind, "status": c.status, "message": c.message,
                   "t": c.time_ns})
        })
        .collect();
    Value::Array(list)
}

fn violation(input: &ReportInput, names: &[String]) -> Value {
    match &input.violation {
        None => Value::Null,
        Some(v) => json!({
            "check": v.check,
            "t": v.time_ns,
            "message": v.message,
            "nodes": nodes_named(&v.message, names),
        }),
    }
}

/// Arrows, marks and the shaded windows' changes, columnar.
fn trace_data(doc: &mut Map<String, Value>, raw: &mut RawFields, c: &Collected) {
    let n = c.arrows.len();
    let (mut s, mut d, mut f, mut t, mut k, mut o) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut previous = 0i64;
    for a in &c.arrows {
        s.push(a.send_ns as i64 - previous);
        previous = a.send_ns as i64;
        d.push(a.end_ns - a.send_ns);
        f.push(a.from);
        t.push(a.to);
        k.push(a.kind);
        o.push(a.outcome as u32 + if a.copy { 8 } else { 0 });
    }
    doc.insert("kinds".into(), json!(c.kinds));
    let columns = [to_json(&s), to_json(&d), to_json(&f), to_json(&t)];
    let [s, d, f, t] = columns;
    let arrows = format!(
        "{{\"s\":{s},\"d\":{d},\"f\":{f},\"t\":{t},\"k\":{},\"o\":{}}}",
        to_json(&k),
        to_json(&o)
    );
    raw.push(("arrows", arrows));
    doc.insert("arrows_omitted".into(), json!(c.arrows_omitted));
    let mut previous = 0i64;
    let (mut mt, mut mn, mut mk, mut mx) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for m in &c.marks {
        mt.push(m.time_ns as i64 - previous);
        previous = m.time_ns as i64;
        mn.push(m.node);
        mk.push(m.name);
        mx.push(m.detail.as_str());
    }
    doc.insert("mark_names".into(), json!(c.mark_names));
    let marks = format!(
        "{{\"t\":{},\"n\":{},\"k\":{},\"x\":{}}}",
        to_json(&mt),
        to_json(&mn),
        to_json(&mk),
        to_json(&mx)
    );
    raw.push(("marks", marks));
    doc.insert("marks_omitted".into(), json!(c.marks_omitted));
    let lives: Vec<Value> = c
        .lives
        .iter()
        .map(|(time, node, life)| match life {
            Life::Crash => json!([time, node, "crash"]),
            Life::Restart => json!([time, node, "restart"]),
            Life::Pause => json!([time, node, "pause"]),
            Life::Resume => json!([time, node, "resume"]),
            Life::Clock {
                offset_ns,
                drift_ppm,
            } => json!([time, node, "clock", offset_ns, drift_ppm]),
        })
        .collect();
    doc.insert("lives".into(), Value::Array(lives));
    let cuts: Vec<Value> = c
        .cuts
        .iter()
        .map(|cut| json!([cut.time_ns, cut.sides, cut.links]))
        .collect();
    doc.insert("cuts".into(), Value::Array(cuts));
    doc.insert("networks".into(), json!(c.networks));
    doc.insert("trace_faults".into(), json!(c.faults));
    doc.insert("panics".into(), json!(c.panics));
}

/// One row per history process with each operation's bar; without a history, the trace's client
/// requests, one row per node they were sent to. The flag says the times are event positions
/// (a history without times).
fn operations(history: Option<&History>, c: &Collected) -> (String, bool) {
    let (mut p, mut s, mut e, mut o, mut x, mut i) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let Some(history) = history else {
        for r in &c.requests {
            p.push(u64::from(r.node));
            s.push(r.submit_ns);
            let (end, outcome) = match (r.reply_ns, r.lost) {
                (Some(t), _) => (t as i64, 0),
                (None, true) => (r.arrive_ns.unwrap_or(r.submit_ns) as i64, 1),
                (None, false) => (-1, 2),
            };
            e.push(end);
            o.push(outcome);
            x.push(String::new());
            i.push(p.len() - 1);
        }
        let columns = [
            to_json(&p),
            to_json(&s),
            to_json(&e),
            to_json(&o),
            to_json(&i),
        ];
        return (ops_json("node", columns, &x), false);
    };
    let events = history.events();
    let logical = events.iter().any(|e| e.time_ns.is_none());
    let time_of = |index: usize| -> u64 {
        if logical {
            index as u64
        } else {
            events.get(index).and_then(|e| e.time_ns).unwrap_or(0)
        }
    };
    for op in history.operations() {
        p.push(op.process);
        s.push(time_of(op.index));
        e.push(op.complete_index.map_or(-1, |c| time_of(c) as i64));
        o.push(match op.outcome {
            OpOutcome::Ok => 0,
            OpOutcome::Fail => 1,
            OpOutcome::Info => 2,
        });
        x.push(op_label(&op));
        i.push(op.index);
    }
    let columns = [
        to_json(&p),
        to_json(&s),
        to_json(&e),
        to_json(&o),
        to_json(&i),
    ];
    (ops_json("process", columns, &x), logical)
}

/// The operations' columns (process or node, invoke, end, outcome, op index) and labels.
fn ops_json(rows: &str, columns: [String; 5], labels: &[String]) -> String {
    let [p, s, e, o, i] = columns;
    format!(
        "{{\"rows\":{},\"p\":{p},\"s\":{s},\"e\":{e},\"o\":{o},\"i\":{i},\"x\":{}}}",
        to_json(rows),
        to_json(labels)
    )
}

/// `write k3 "v12" -> ok`, values as JSON.
fn op_label(op: &sim_check::Operation) -> String {
    let mut label = op.f.name().to_string();
    if let Some(key) = &op.key {
        label.push(' ');
        label.push_str(key);
    }
    if !op.input.is_null() {
        label.push(' ');
        label.push_str(&op.input.to_string());
    }
    if let Some(output) = &op.output {
        label.push_str(" → ");
        label.push_str(&output.to_string());
    }
    crate::collector::cut_text(label, 200)
}

fn explanation(input: &ReportInput) -> Value {
    let (Some(result), Some(history)) = (&input.linearizability, &input.history) else {
        return Value::Null;
    };
    let text = sim_check::render_text(result, history);
    let Some(x) = &result.explanation else {
        return json!({"verdict": result.verdict.name(), "text": text});
    };
    let candidates: Vec<Value> = x
        .candidates
        .iter()
        .map(|c| json!([c.op, c.reason]))
        .collect();
    json!({
        "verdict": result.verdict.name(),
        "text": text,
        "key": x.key,
        "prefix": x.prefix,
        "blocking": x.blocking,
        "reason": x.reason,
        "candidates": candidates,
        "concurrent": x.concurrent,
        "state": x.state.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_the_script_element() {
        let value = json!({"key": "</script><script>alert(1)</script>", "amp": "a&b"});
        let text = embed_json(&value.to_string());
        assert!(
            !text.contains('<') && !text.contains('>') && !text.contains('&'),
            "{text}"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back, value,
            "the escapes are JSON and decode to the same strings"
        );
    }

    #[test]
    fn the_title_is_escaped() {
        let input = ReportInput {
            title: "<b>x</b>".into(),
            ..ReportInput::default()
        };
        let page = render(None, &input);
        assert!(page.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(!page.contains("<b>x</b>"));
        assert!(!page.contains("{{"), "every placeholder is filled");
    }
}
