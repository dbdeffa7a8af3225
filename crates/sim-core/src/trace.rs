//! The trace: every message, timer, fault and protocol event of a run, as structured events.
//!
//! Every event is folded into a 64-bit [`StableHasher`] as it happens, whether or not it is
//! written anywhere, so the trace hash identifies a run (scenario, seed and code) in debug and
//! release builds alike. With a sink (`--trace FILE`), events are also streamed as JSON Lines;
//! the run never keeps the whole trace in memory.
//!
//! Every [`CHECKPOINT_EVERY`] events the running hash is kept as a [`Checkpoint`], so two runs
//! that should be the same (a replay, a determinism re-run) can be compared window by window and
//! their first difference located without keeping either trace.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::hash::StableHasher;
use crate::time::SimTime;

/// Where a message was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The network lost it at random.
    Loss,
    /// A partition cut the link when it was sent or when it arrived.
    Partition,
    /// The destination was down, or crashed and restarted while the message was in flight.
    NodeDown,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::NodeDown => "node-down",
        }
    }
}

/// The kind of each trace line, folded into the hash as a small integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Send = 1,
    Deliver,
    Drop,
    Duplicate,
    TimerSet,
    TimerFire,
    TimerCancel,
    Request,
    Reply,
    Crash,
    Restart,
    Pause,
    Resume,
    Network,
    Clock,
    Report,
    Fault,
    Client,
    Panic,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Send => "send",
            Kind::Deliver => "deliver",
            Kind::Drop => "drop",
            Kind::Duplicate => "duplicate",
            Kind::TimerSet => "timer-set",
            Kind::TimerFire => "timer-fire",
            Kind::TimerCancel => "timer-cancel",
            Kind::Request => "request",
            Kind::Reply => "reply",
            Kind::Crash => "crash",
            Kind::Restart => "restart",
            Kind::Pause => "pause",
            Kind::Resume => "resume",
            Kind::Network => "network",
            Kind::Clock => "clock",
            Kind::Report => "report",
            Kind::Fault => "fault",
            Kind::Client => "client",
            Kind::Panic => "panic",
        }
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

/// Folds events into the trace hash and, with a sink, writes them as JSON Lines.
pub struct Trace {
    hasher: StableHasher,
    checkpoints: Vec<Checkpoint>,
    /// The current spacing of checkpoints, a power of two from [`CHECKPOINT_EVERY`].
    checkpoint_every: u64,
    sink: Option<Box<dyn Write>>,
    sink_error: Option<io::Error>,
    line: String,
    events: u64,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("hash", &self.hash())
            .field("events", &self.events)
            .finish()
    }
}

impl Default for Trace {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Trace {
    pub fn new(sink: Option<Box<dyn Write>>) -> Self {
        Trace {
            hasher: StableHasher::new(),
            checkpoints: Vec::new(),
            checkpoint_every: CHECKPOINT_EVERY,
            sink,
            sink_error: None,
            line: String::new(),
            events: 0,
        }
    }

    /// Whether lines are being written (so callers can skip formatting details otherwise).
    #[inline]
    pub fn is_writing(&self) -> bool {
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

    /// Records an event of `kind` at `time` with up to four numeric fields (node indices, ids).
    /// The hash covers exactly these; `detail` renders the JSON line's extra fields and runs only
    /// when a sink is attached.
    #[inline]
    pub fn record(
        &mut self,
        time: SimTime,
        kind: Kind,
        fields: [u64; 4],
        detail: impl FnOnce(&mut String),
    ) {
        self.events += 1;
        self.hasher.write_u64(time.0);
        self.hasher.write_u64(kind as u64);
        for f in fields {
            self.hasher.write_u64(f);
        }
        self.checkpoint(time);
        if self.sink.is_some() {
            self.line.clear();
            let _ = write!(self.line, "{{\"t\":{},\"ev\":\"{}\"", time.0, kind.as_str());
            detail(&mut self.line);
            self.line.push_str("}\n");
            self.write_line();
        }
    }

    /// Records an event whose text is part of its identity (protocol reports, faults): the text
    /// is hashed too. `text` must render the same on every run.
    pub fn record_text(
        &mut self,
        time: SimTime,
        kind: Kind,
        node: u64,
        text: std::fmt::Arguments<'_>,
    ) {
        self.events += 1;
        self.hasher.write_u64(time.0);
        self.hasher.write_u64(kind as u64);
        self.hasher.write_u64(node);
        let _ = self.hasher.write_fmt(text);
        self.checkpoint(time);
        if self.sink.is_some() {
            self.line.clear();
            let rendered = text.to_string();
            let _ = write!(self.line, "{{\"t\":{},\"ev\":\"{}\"", time.0, kind.as_str());
            if node != u64::MAX {
                let _ = write!(self.line, ",\"node\":\"n{}\"", node + 1);
            }
            let _ = writeln!(self.line, ",\"text\":{}}}", json_string(&rendered));
            self.write_line();
        }
    }

    /// Records an event whose identity is folded in by `fingerprint` (a protocol report's own
    /// fields, say); `text` renders it for the sink only.
    pub fn record_fingerprint(
        &mut self,
        time: SimTime,
        kind: Kind,
        node: u64,
        fingerprint: impl FnOnce(&mut StableHasher),
        text: impl FnOnce() -> String,
    ) {
        self.events += 1;
        self.hasher.write_u64(time.0);
        self.hasher.write_u64(kind as u64);
        self.hasher.write_u64(node);
        fingerprint(&mut self.hasher);
        self.checkpoint(time);
        if self.sink.is_some() {
            self.line.clear();
            let rendered = text();
            let _ = write!(self.line, "{{\"t\":{},\"ev\":\"{}\"", time.0, kind.as_str());
            if node != u64::MAX {
                let _ = write!(self.line, ",\"node\":\"n{}\"", node + 1);
            }
            let _ = writeln!(self.line, ",\"text\":{}}}", json_string(&rendered));
            self.write_line();
        }
    }

    fn write_line(&mut self) {
        if let Some(sink) = &mut self.sink {
            if let Err(e) = sink.write_all(self.line.as_bytes()) {
                self.sink_error.get_or_insert(e);
                self.sink = None;
            }
        }
    }

    /// Flushes the sink; reports the first write error, if any.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.sink_error.take() {
            return Err(e);
        }
        if let Some(sink) = &mut self.sink {
            sink.flush()?;
        }
        Ok(())
    }
}

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

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

    #[test]
    fn hash_does_not_depend_on_the_sink() {
        let buffer = Shared::default();
        let mut with = Trace::new(Some(Box::new(buffer.clone())));
        let mut without = Trace::new(None);
        for trace in [&mut with, &mut without] {
            trace.record(SimTime(5), Kind::Send, [0, 1, 7, 0], |l| {
                l.push_str(",\"x\":1")
            });
            trace.record_text(
                SimTime(6),
                Kind::Report,
                2,
                format_args!("became_leader term={}", 3),
            );
        }
        assert_eq!(with.hash(), without.hash());
        assert!(
            with.checkpoints().is_empty(),
            "two events make no checkpoint"
        );
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            serde_json::from_str::<serde_json::Value>(line).expect("every line is JSON");
        }
    }

    #[test]
    fn checkpoints_every_so_many_events_locate_a_difference() {
        let mut a = Trace::new(None);
        let mut b = Trace::new(None);
        let n = CHECKPOINT_EVERY * 3 + 5;
        for i in 0..n {
            a.record(SimTime(i), Kind::Send, [i, 0, 0, 0], |_| {});
            let odd = if i == CHECKPOINT_EVERY * 2 + 7 { 1 } else { 0 };
            b.record(SimTime(i), Kind::Send, [i, odd, 0, 0], |_| {});
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
        for i in 0..n {
            trace.record(SimTime(i), Kind::Send, [i, 0, 0, 0], |_| {});
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
