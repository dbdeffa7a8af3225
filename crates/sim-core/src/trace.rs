//! The trace: every message, timer, fault and protocol event of a run, as typed events.
//!
//! The simulation records each event as a [`TraceEvent`], which borrows the protocol's own
//! messages, timers, requests, replies and reports. Every event is folded into a 64-bit
//! [`StableHasher`] as it happens, whether or not it is written anywhere, so the trace hash
//! identifies a run (scenario, seed and code) in debug and release builds alike; protocol values
//! are hashed by their fields through `serde` ([`crate::hash::hash_value`]), never by formatting.
//!
//! Where events go besides the hash is a [`TraceSink`]: none (hash only, the default), a
//! [`JsonLinesSink`] (`--trace FILE`, see [`json`] for the line format), or a [`MemorySink`]
//! that keeps owned events ([`OwnedTraceEvent`]) for tests and reports. Only the in-memory sink
//! keeps the trace in memory; JSON is formatted only when a JSON sink is attached. The first
//! error a sink returns is kept, the sink is dropped, and [`Trace::finish`] reports the error.
//!
//! Every [`CHECKPOINT_EVERY`] events the running hash is kept as a [`Checkpoint`], so two runs
//! that should be the same (a replay, a determinism re-run) can be compared window by window and
//! their first difference located without keeping either trace.

use std::io::{self, Write};

use crate::hash::StableHasher;
use crate::process::Process;
use crate::time::SimTime;

mod event;
pub mod json;
mod memory;

pub use event::{DropReason, OwnedTraceEvent, TraceEvent};
pub use json::JsonLinesSink;
pub use memory::{MemorySink, TraceRecord};

/// Where trace events go besides the hash.
pub trait TraceSink<P: Process> {
    /// Takes one event at `time`. An error stops this sink (the run goes on, its hash unchanged)
    /// and is reported by [`Trace::finish`].
    fn record(&mut self, time: SimTime, event: &TraceEvent<'_, P>) -> io::Result<()>;

    /// The run is over: flush whatever is buffered.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How many events lie between two checkpoints at first: a power of two, so the test is a mask.
pub const CHECKPOINT_EVERY: u64 = 1024;
const _: () = assert!(CHECKPOINT_EVERY.is_power_of_two());
/// At most this many checkpoints are kept: when a long run reaches it, every other one is
/// dropped and the spacing doubles, so memory stays flat however long the run. Two runs thin at
/// the same event counts, so their common checkpoints still locate where they part.
pub const CHECKPOINTS_MAX: usize = 4096;

/// The running trace hash after `events` events, the last of them at `time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub events: u64,
    pub time: SimTime,
    pub hash: u64,
}

/// Folds events into the trace hash and hands them to its sink, if any.
pub struct Trace<P: Process> {
    hasher: StableHasher,
    checkpoints: Vec<Checkpoint>,
    /// The current spacing of checkpoints, a power of two from [`CHECKPOINT_EVERY`].
    checkpoint_every: u64,
    sink: Option<Box<dyn TraceSink<P>>>,
    sink_error: Option<io::Error>,
    events: u64,
}

impl<P: Process> std::fmt::Debug for Trace<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("hash", &self.hash())
            .field("events", &self.events)
            .finish()
    }
}

impl<P: Process> Default for Trace<P> {
    fn default() -> Self {
        Self::hash_only()
    }
}

impl<P: Process> Trace<P> {
    /// The trace hash alone, or also JSON Lines to `writer` (`--trace FILE`).
    pub fn new(writer: Option<Box<dyn Write>>) -> Self {
        match writer {
            Some(writer) => Self::with_sink(Box::new(JsonLinesSink::new(writer))),
            None => Self::hash_only(),
        }
    }

    /// The trace hash alone: nothing is formatted or kept.
    pub fn hash_only() -> Self {
        Trace {
            hasher: StableHasher::new(),
            checkpoints: Vec::new(),
            checkpoint_every: CHECKPOINT_EVERY,
            sink: None,
            sink_error: None,
            events: 0,
        }
    }

    /// The trace hash, and every event handed to `sink`.
    pub fn with_sink(sink: Box<dyn TraceSink<P>>) -> Self {
        Trace {
            sink: Some(sink),
            ..Self::hash_only()
        }
    }

    /// Whether a sink takes the events (so callers can skip preparing anything for it).
    #[inline]
    pub fn has_sink(&self) -> bool {
        self.sink.is_some()
    }

    /// The hash of every event so far.
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }

    /// The number of events recorded.
    pub fn event_count(&self) -> u64 {
        self.events
    }

    /// The running hash every [`CHECKPOINT_EVERY`] events so far (sparser in long runs), in order.
    pub fn checkpoints(&self) -> &[Checkpoint] {
        &self.checkpoints
    }

    #[inline]
    fn checkpoint(&mut self, time: SimTime) {
        if self.events & (self.checkpoint_every - 1) == 0 {
            if self.checkpoints.len() == CHECKPOINTS_MAX {
                self.checkpoint_every *= 2;
                let every = self.checkpoint_every;
                self.checkpoints.retain(|c| c.events.is_multiple_of(every));
                if !self.events.is_multiple_of(every) {
                    return;
                }
            }
            self.checkpoints.push(Checkpoint {
                events: self.events,
                time,
                hash: self.hasher.finish(),
            });
        }
    }

    /// Records `event` at `time`: folds it into the hash and hands it to the sink. Inlined into
    /// each call site, where the kind of event is known, so the hashing is straight-line code.
    #[inline(always)]
    pub fn record(&mut self, time: SimTime, event: TraceEvent<'_, P>) {
        self.events += 1;
        self.hasher.write_u64(time.0);
        event.hash_into(&mut self.hasher);
        self.checkpoint(time);
        if let Some(sink) = &mut self.sink {
            if let Err(e) = sink.record(time, &event) {
                self.sink_error.get_or_insert(e);
                self.sink = None;
            }
        }
    }

    /// Flushes the sink; reports the first error it returned, if any.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.sink_error.take() {
            return Err(e);
        }
        if let Some(sink) = &mut self.sink {
            sink.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{Ctx, NodeId};
    use serde::Serialize;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Debug, Serialize)]
    enum Msg {
        Ping { seq: u64, text: String },
    }

    #[derive(Clone, Debug, Serialize)]
    struct Note {
        term: u64,
    }

    impl crate::Event for Note {
        fn name(&self) -> &'static str {
            "note"
        }
    }

    struct Toy;
    impl Process for Toy {
        type Msg = Msg;
        type Timer = u8;
        type Request = ();
        type Response = ();
        type Durable = ();
        type Event = Note;
        fn on_start(&mut self, _: &mut Ctx<'_, Self>) {}
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: Msg) {}
        fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: u8) {}
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn ping(seq: u64) -> Msg {
        Msg::Ping {
            seq,
            text: "hi".to_string(),
        }
    }

    fn send(trace: &mut Trace<Toy>, time: u64, id: u64, msg: &Msg) {
        let (from, to) = (NodeId(0), NodeId(1));
        trace.record(SimTime(time), TraceEvent::Send { from, to, id, msg });
    }

    fn two_events(trace: &mut Trace<Toy>) {
        send(trace, 5, 7, &ping(1));
        let event = Note { term: 3 };
        let node = NodeId(2);
        trace.record(
            SimTime(6),
            TraceEvent::Report {
                node,
                event: &event,
            },
        );
    }

    #[test]
    fn hash_does_not_depend_on_the_sink() {
        let buffer = Shared::default();
        let memory = MemorySink::new();
        let mut json = Trace::new(Some(Box::new(buffer.clone())));
        let mut kept = Trace::with_sink(Box::new(memory.clone()));
        let mut plain = Trace::new(None);
        for trace in [&mut json, &mut kept, &mut plain] {
            two_events(trace);
        }
        assert_eq!(json.hash(), plain.hash());
        assert_eq!(kept.hash(), plain.hash());
        assert!(
            plain.checkpoints().is_empty(),
            "two events make no checkpoint"
        );
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("every line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["ev"], "send");
        assert_eq!(lines[0]["from"], "n1");
        assert_eq!(lines[0]["msg"]["Ping"]["seq"], 1, "{}", lines[0]);
        assert_eq!(lines[1]["name"], "note");
        assert_eq!(lines[1]["event"]["term"], 3);
        assert_eq!(memory.records().len(), 2);
    }

    #[test]
    fn kept_events_hash_and_print_as_they_were_recorded() {
        let memory = MemorySink::new();
        let buffer = Shared::default();
        let mut trace = Trace::with_sink(Box::new(memory.clone()));
        two_events(&mut trace);
        let mut again = Trace::new(Some(Box::new(buffer.clone())));
        for record in memory.take() {
            again.record(record.time, record.event.as_event());
        }
        assert_eq!(again.hash(), trace.hash());
        assert!(memory.records().is_empty(), "take leaves none");
        let direct_buffer = Shared::default();
        let mut direct = Trace::new(Some(Box::new(direct_buffer.clone())));
        two_events(&mut direct);
        assert_eq!(*buffer.0.lock().unwrap(), *direct_buffer.0.lock().unwrap());
    }

    /// One event of every kind, each hashing differently and written as a JSON object whose
    /// `ev` is its kind.
    /// The values the events of [`every_kind_of_event_hashes_apart_and_writes_json`] refer to.
    struct Fixture {
        msg: Msg,
        timer: u8,
        note: Note,
        reachability: crate::network::Reachability,
        network: crate::network::NetworkConfig,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                msg: ping(2),
                timer: 9,
                note: Note { term: 1 },
                reachability: crate::network::Reachability::isolate(3, NodeId(0), false),
                network: crate::network::NetworkConfig::default(),
            }
        }

        /// Every event that carries a message or a timer.
        fn messages_and_timers(&self) -> Vec<TraceEvent<'_, Toy>> {
            let (a, b, msg, timer) = (NodeId(0), NodeId(1), &self.msg, &self.timer);
            let delay = crate::time::SimDuration::from_millis(3);
            vec![
                TraceEvent::Send {
                    from: a,
                    to: b,
                    id: 1,
                    msg,
                },
                TraceEvent::Deliver {
                    from: a,
                    to: b,
                    id: 1,
                    msg,
                },
                TraceEvent::Drop {
                    from: a,
                    to: b,
                    id: 1,
                    reason: DropReason::Loss,
                },
                TraceEvent::Duplicate {
                    from: a,
                    to: b,
                    id: 1,
                    delay,
                    msg,
                },
                TraceEvent::TimerSet {
                    node: a,
                    generation: 2,
                    at: SimTime(9),
                    timer,
                },
                TraceEvent::TimerFire {
                    node: a,
                    generation: 2,
                    timer,
                },
                TraceEvent::TimerCancel { node: a, timer },
            ]
        }

        /// Every event of clients, node lifecycles, the network and the protocol's reports.
        fn the_rest(&self) -> Vec<TraceEvent<'_, Toy>> {
            let (a, id) = (NodeId(0), crate::process::RequestId(4));
            let duration = crate::time::SimDuration::from_millis(3);
            let clock = crate::sim::Clock {
                offset_ns: -5,
                drift_ppm: 7,
            };
            vec![
                TraceEvent::Client {
                    node: a,
                    id,
                    request: &(),
                },
                TraceEvent::Request {
                    node: a,
                    id,
                    request: &(),
                },
                TraceEvent::RequestDrop {
                    node: a,
                    id,
                    request: &(),
                },
                TraceEvent::Reply {
                    node: a,
                    id,
                    response: &(),
                },
                TraceEvent::ClientWake { token: 3 },
                TraceEvent::ClientCut {
                    client: 1,
                    node: a,
                    id,
                    reply: true,
                },
                TraceEvent::Crash { node: a },
                TraceEvent::Restart { node: a },
                TraceEvent::Pause { node: a, duration },
                TraceEvent::Resume {
                    node: a,
                    deferred: 2,
                },
                TraceEvent::Reachability {
                    reachability: &self.reachability,
                },
                TraceEvent::Network {
                    network: &self.network,
                },
                TraceEvent::Clock { node: a, clock },
                TraceEvent::Report {
                    node: a,
                    event: &self.note,
                },
                TraceEvent::Panic {
                    node: None,
                    message: "boom",
                },
            ]
        }
    }

    /// `event` hashes apart from every hash in `hashes`, writes a JSON line of its kind, and
    /// hashes the same from its owned copy.
    fn check_event(event: &TraceEvent<'_, Toy>, hashes: &mut std::collections::BTreeSet<u64>) {
        let mut hasher = StableHasher::new();
        event.hash_into(&mut hasher);
        assert!(
            hashes.insert(hasher.finish()),
            "{event:?} hashes like another"
        );
        let mut line = Vec::new();
        json::write_line(&mut line, SimTime(11), event).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["ev"], event.kind(), "{value}");
        assert_eq!(value["t"], 11);
        assert_eq!(line.last(), Some(&b'\n'));
        let owned = event.to_owned_event();
        let mut again = StableHasher::new();
        owned.as_event().hash_into(&mut again);
        assert_eq!(again.finish(), hasher.finish(), "{owned:?}");
    }

    #[test]
    fn every_kind_of_event_hashes_apart_and_writes_json() {
        let fixture = Fixture::new();
        let mut hashes = std::collections::BTreeSet::new();
        for event in fixture.messages_and_timers() {
            check_event(&event, &mut hashes);
        }
        for event in fixture.the_rest() {
            check_event(&event, &mut hashes);
        }
        let text = format_args!("crash {}", NodeId(0));
        check_event(&TraceEvent::Fault { text: &text }, &mut hashes);
    }

    #[test]
    fn message_contents_are_part_of_the_hash() {
        let mut a = Trace::new(None);
        let mut b = Trace::new(None);
        send(&mut a, 1, 0, &ping(1));
        send(&mut b, 1, 0, &ping(2));
        assert_ne!(a.hash(), b.hash());
    }

    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_reported_by_finish_and_leaves_the_hash_alone() {
        let mut failing = Trace::new(Some(Box::new(Failing)));
        let mut plain = Trace::new(None);
        two_events(&mut failing);
        two_events(&mut plain);
        assert_eq!(failing.hash(), plain.hash());
        let error = failing.finish().expect_err("the write error is kept");
        assert_eq!(error.to_string(), "disk full");
    }

    #[test]
    fn checkpoints_every_so_many_events_locate_a_difference() {
        let mut a = Trace::new(None);
        let mut b = Trace::new(None);
        let n = CHECKPOINT_EVERY * 3 + 5;
        for i in 0..n {
            send(&mut a, i, i, &ping(0));
            let odd = if i == CHECKPOINT_EVERY * 2 + 7 { 1 } else { 0 };
            send(&mut b, i, i, &ping(odd));
        }
        assert_eq!(a.checkpoints().len(), 3);
        assert_eq!(a.checkpoints()[0].events, CHECKPOINT_EVERY);
        assert_eq!(a.checkpoints()[0], b.checkpoints()[0]);
        assert_eq!(a.checkpoints()[1], b.checkpoints()[1]);
        assert_ne!(a.checkpoints()[2].hash, b.checkpoints()[2].hash);
    }

    #[test]
    fn checkpoints_stay_bounded_in_long_runs() {
        let mut trace = Trace::new(None);
        let n = CHECKPOINT_EVERY * CHECKPOINTS_MAX as u64 * 3;
        let msg = ping(0);
        for i in 0..n {
            send(&mut trace, i, i, &msg);
        }
        let kept = trace.checkpoints();
        assert!(kept.len() <= CHECKPOINTS_MAX, "{} checkpoints", kept.len());
        assert!(kept.len() >= CHECKPOINTS_MAX / 2);
        let spacing = kept[1].events - kept[0].events;
        assert!(
            kept.windows(2)
                .all(|w| w[1].events - w[0].events == spacing),
            "uneven spacing"
        );
        assert_eq!(kept.last().unwrap().events, n - n % spacing);
    }
}
