//! The JSON Lines sink: one JSON object per event, written to any `Write`.
//!
//! Every line has `t` (simulated nanoseconds) and `ev` (the kind, [`TraceEvent::kind`]), then
//! the event's fields: nodes by name (`"from":"n1"`), numbers as numbers, and the protocol's own
//! values (`msg`, `timer`, `op`, `response`, `event`) as JSON objects through their `Serialize`
//! form (serde's default enum shape: `{"Variant":{fields}}`, or `"Variant"` without fields).
//! From a Raft run:
//!
//! ```text
//! {"t":199909147,"ev":"send","from":"n1","to":"n2","id":0,"msg":{"RequestVote":{"term":1,"last_log_index":0,"last_log_term":0,"pre_vote":false}}}
//! {"t":199909147,"ev":"report","node":"n1","name":"became_candidate","event":{"BecameCandidate":{"term":1}}}
//! ```
//!
//! Kinds and their fields: `send` (`from`, `to`, `id`, `msg`), `deliver` and `duplicate`
//! (`from`, `to`, `id`; `delay_ns`), `drop` (`from`, `to`, `id`, `reason`; or `to`, `request`,
//! `reason` for a request that reached a down node), `timer-set` (`node`, `at`, `timer`),
//! `timer-fire` and `timer-cancel` (`node`, `timer`), `client` (submitted) and `request`
//! (arrived) (`node`, `request`, `op`), `reply` (`node`, `request`, `response`), `client-wake`
//! (`token`), `crash` and `restart` (`node`), `pause` (`node`, `for_ns`), `resume` (`node`,
//! `deferred`), `network` (`cut` for reachability, `network` for latency and loss), `clock`
//! (`node`, `offset_ns`, `drift_ppm`), `report` (`node`, `name`, `event`), `fault` (`text`) and
//! `panic` (`node` unless it was the client workload, `text`).
//!
//! The line is built in a reused buffer and written with one `write_all`, so a run allocates
//! nothing per event here once the buffer has grown.

use std::io::{self, Write};

use serde::Serialize;

use super::{TraceEvent, TraceSink};
use crate::process::{Event, Process};
use crate::time::SimTime;

/// Writes each event as one JSON line.
pub struct JsonLinesSink {
    writer: Box<dyn Write>,
    line: Vec<u8>,
}

impl JsonLinesSink {
    pub fn new(writer: Box<dyn Write>) -> Self {
        JsonLinesSink {
            writer,
            line: Vec::new(),
        }
    }
}

impl<P: Process> TraceSink<P> for JsonLinesSink {
    fn record(&mut self, time: SimTime, event: &TraceEvent<'_, P>) -> io::Result<()> {
        self.line.clear();
        write_line(&mut self.line, time, event)?;
        self.writer.write_all(&self.line)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Appends `event` at `time` to `line` as one JSON object and a newline.
pub fn write_line<P: Process>(
    line: &mut Vec<u8>,
    time: SimTime,
    event: &TraceEvent<'_, P>,
) -> io::Result<()> {
    write!(line, "{{\"t\":{},\"ev\":\"{}\"", time.0, event.kind())?;
    write_fields(line, event)?;
    line.extend_from_slice(b"}\n");
    Ok(())
}

/// `,"key":value` with `value` as JSON.
fn field<T: Serialize + ?Sized>(line: &mut Vec<u8>, key: &str, value: &T) -> io::Result<()> {
    write!(line, ",\"{key}\":")?;
    serde_json::to_writer(&mut *line, value)?;
    Ok(())
}

fn write_fields<P: Process>(line: &mut Vec<u8>, event: &TraceEvent<'_, P>) -> io::Result<()> {
    use TraceEvent as E;
    match *event {
        E::Send { from, to, id, msg } => {
            write!(line, ",\"from\":\"{from}\",\"to\":\"{to}\",\"id\":{id}")?;
            field(line, "msg", msg)?;
        }
        E::Deliver { from, to, id, .. } => {
            write!(line, ",\"from\":\"{from}\",\"to\":\"{to}\",\"id\":{id}")?;
        }
        E::Drop {
            from,
            to,
            id,
            reason,
        } => {
            write!(line, ",\"from\":\"{from}\",\"to\":\"{to}\",\"id\":{id}")?;
            write!(line, ",\"reason\":\"{}\"", reason.as_str())?;
        }
        E::Duplicate {
            from,
            to,
            id,
            delay,
            ..
        } => {
            write!(line, ",\"from\":\"{from}\",\"to\":\"{to}\",\"id\":{id}")?;
            write!(line, ",\"delay_ns\":{}", delay.0)?;
        }
        E::TimerSet {
            node, at, timer, ..
        } => {
            write!(line, ",\"node\":\"{node}\",\"at\":{}", at.0)?;
            field(line, "timer", timer)?;
        }
        E::TimerFire { node, timer, .. } | E::TimerCancel { node, timer } => {
            write!(line, ",\"node\":\"{node}\"")?;
            field(line, "timer", timer)?;
        }
        E::Client { node, id, request } | E::Request { node, id, request } => {
            write!(line, ",\"node\":\"{node}\",\"request\":{}", id.0)?;
            field(line, "op", request)?;
        }
        E::RequestDrop { node, id, .. } => {
            write!(line, ",\"to\":\"{node}\",\"request\":{}", id.0)?;
            line.extend_from_slice(b",\"reason\":\"node-down\"");
        }
        E::Reply { node, id, response } => {
            write!(line, ",\"node\":\"{node}\",\"request\":{}", id.0)?;
            field(line, "response", response)?;
        }
        E::Report { node, event } => {
            write!(line, ",\"node\":\"{node}\",\"name\":\"{}\"", event.name())?;
            field(line, "event", event)?;
        }
        _ => write_fault_fields(line, event)?,
    }
    Ok(())
}

/// The fields of lifecycle, network, clock and fault events.
fn write_fault_fields<P: Process>(line: &mut Vec<u8>, event: &TraceEvent<'_, P>) -> io::Result<()> {
    use TraceEvent as E;
    match *event {
        E::ClientWake { token } => write!(line, ",\"token\":{token}")?,
        E::ClientCut {
            client,
            node,
            id,
            reply,
        } => {
            let (from, to) = if reply {
                (node.to_string(), format!("c{}", client + 1))
            } else {
                (format!("c{}", client + 1), node.to_string())
            };
            write!(
                line,
                ",\"from\":\"{from}\",\"to\":\"{to}\",\"request\":{}",
                id.0
            )?;
            line.extend_from_slice(b",\"reason\":\"partition\"");
        }
        E::Crash { node } | E::Restart { node } => write!(line, ",\"node\":\"{node}\"")?,
        E::Pause { node, duration } => {
            write!(line, ",\"node\":\"{node}\",\"for_ns\":{}", duration.0)?;
        }
        E::Resume { node, deferred } => {
            write!(line, ",\"node\":\"{node}\",\"deferred\":{deferred}")?;
        }
        E::Reachability { reachability } => field(line, "cut", &reachability.describe())?,
        E::Network { network } => field(line, "network", network)?,
        E::Clock { node, clock } => write!(
            line,
            ",\"node\":\"{node}\",\"offset_ns\":{},\"drift_ppm\":{}",
            clock.offset_ns, clock.drift_ppm
        )?,
        E::Fault { text } => field(line, "text", &format_args!("{text}"))?,
        E::Panic { node, message } => {
            if let Some(node) = node {
                write!(line, ",\"node\":\"{node}\"")?;
            }
            field(line, "text", message)?;
        }
        _ => unreachable!("{} is written by write_fields", event.kind()),
    }
    Ok(())
}
