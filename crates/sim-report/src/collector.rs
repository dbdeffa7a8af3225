//! The compact collector: what a report needs from the typed trace, kept as small records while
//! the run goes, never the protocol's values themselves.
//!
//! A [`Collector`] is a [`TraceSink`] for any process type. Per message it keeps its send and
//! end times, its endpoints, its kind (the variant name, read through `serde` without
//! serializing the fields: [`crate::name::kind_name`]) and how it ended (delivered, lost and why,
//! still in flight); a duplicate is a second arrow of the same message. Per protocol report it
//! keeps the time, the node, the event's name and a short JSON rendering; per lifecycle change,
//! partition, network or clock change what the lanes shade; per client request its times.
//! Timers are counted, not kept. Memory grows with the messages of the run (about 32 bytes
//! each) plus the messages in flight, never with the size of a message.

use std::cell::{Ref, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;

use serde::Serialize;
use sim_core::trace::{DropReason, TraceEvent, TraceSink};
use sim_core::{Event, NodeId, Process, SimTime};

use crate::name::kind_name;

/// At most this many arrows are kept; a longer run's report says how many it left out.
pub const ARROWS_MAX: usize = 8_000_000;
/// At most this many protocol reports are kept, likewise.
pub const MARKS_MAX: usize = 2_000_000;
/// A report's JSON rendering is cut to this many bytes (at a character boundary).
pub const DETAIL_MAX: usize = 240;

/// How a message's arrow ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    InFlight = 0,
    Delivered = 1,
    Loss = 2,
    Partition = 3,
    NodeDown = 4,
}

impl From<DropReason> for Outcome {
    fn from(reason: DropReason) -> Self {
        match reason {
            DropReason::Loss => Outcome::Loss,
            DropReason::Partition => Outcome::Partition,
            DropReason::NodeDown => Outcome::NodeDown,
        }
    }
}

/// One message (or one duplicate copy of it) from send to delivery or loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrow {
    pub send_ns: u64,
    /// When it was delivered or lost; the send time while it is in flight.
    pub end_ns: u64,
    pub from: u32,
    pub to: u32,
    /// Index into [`Collected::kinds`].
    pub kind: u32,
    pub outcome: Outcome,
    /// A second copy made by the network's duplication.
    pub copy: bool,
}

/// A protocol report on a node's lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub time_ns: u64,
    pub node: u32,
    /// Index into [`Collected::mark_names`].
    pub name: u32,
    /// The event as JSON, cut to [`DETAIL_MAX`] bytes.
    pub detail: String,
}

/// A change of a node's life or clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    Crash,
    Restart,
    Pause,
    Resume,
    Clock { offset_ns: i64, drift_ppm: i64 },
}

/// Who can reach whom from `time_ns` on: each node's side (`None`: the network is whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub time_ns: u64,
    /// Per node, the index of its side: nodes that reach exactly the same nodes share a side.
    pub sides: Option<Vec<u32>>,
    /// The cut links, `a->b` pairs.
    pub links: String,
}

/// A client request from submission to reply (or loss).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub submit_ns: u64,
    pub node: u32,
    pub arrive_ns: Option<u64>,
    pub reply_ns: Option<u64>,
    /// Lost to a down node or a partition between client and node.
    pub lost: bool,
}

/// Everything collected from one run.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    /// Nodes seen (one more than the highest node index).
    pub node_count: u32,
    /// Events seen, of every kind.
    pub events: u64,
    /// The time of the last event.
    pub last_ns: u64,
    pub timers: u64,
    pub kinds: Vec<&'static str>,
    pub arrows: Vec<Arrow>,
    /// Arrows left out past [`ARROWS_MAX`].
    pub arrows_omitted: u64,
    pub mark_names: Vec<&'static str>,
    pub marks: Vec<Mark>,
    pub marks_omitted: u64,
    pub lives: Vec<(u64, u32, Life)>,
    pub cuts: Vec<Cut>,
    /// Network changes: time and the new configuration as JSON.
    pub networks: Vec<(u64, String)>,
    /// Faults in the driver's words.
    pub faults: Vec<(u64, String)>,
    pub requests: Vec<Request>,
    pub panics: Vec<(u64, Option<u32>, String)>,
}

/// The bookkeeping beside [`Collected`]: names interned, messages and requests in flight.
#[derive(Default)]
struct State {
    data: Collected,
    kind_index: BTreeMap<&'static str, u32>,
    mark_index: BTreeMap<&'static str, u32>,
    /// Message id to its arrows not yet ended, oldest first.
    open: BTreeMap<u64, Vec<u32>>,
    requests_open: BTreeMap<u64, u32>,
}

/// Collects what a report needs from a run's trace. Clones share the same records: attach one
/// clone to the trace ([`Collector::sink`]) and read the other after the run.
#[derive(Clone, Default)]
pub struct Collector {
    state: Rc<RefCell<State>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.borrow();
        write!(f, "Collector({} events)", state.data.events)
    }
}

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink for a trace of process `P` feeding this collector.
    pub fn sink<P: Process>(&self) -> Box<dyn TraceSink<P>> {
        Box::new(self.clone())
    }

    /// What was collected so far.
    pub fn collected(&self) -> Ref<'_, Collected> {
        Ref::map(self.state.borrow(), |s| &s.data)
    }
}

fn intern(
    index: &mut BTreeMap<&'static str, u32>,
    names: &mut Vec<&'static str>,
    name: &'static str,
) -> u32 {
    *index.entry(name).or_insert_with(|| {
        names.push(name);
        names.len() as u32 - 1
    })
}

/// `text` cut to at most `max` bytes at a character boundary, with an ellipsis when cut.
pub fn cut_text(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

impl State {
    fn see(&mut self, node: NodeId) -> u32 {
        self.data.node_count = self.data.node_count.max(node.0 + 1);
        node.0
    }

    fn send(
        &mut self,
        time: u64,
        from: NodeId,
        to: NodeId,
        id: u64,
        kind: &'static str,
        copy: bool,
    ) {
        let (from, to) = (self.see(from), self.see(to));
        if self.data.arrows.len() >= ARROWS_MAX {
            self.data.arrows_omitted += 1;
            return;
        }
        let kind = intern(&mut self.kind_index, &mut self.data.kinds, kind);
        let index = self.data.arrows.len() as u32;
        self.data.arrows.push(Arrow {
            send_ns: time,
            end_ns: time,
            from,
            to,
            kind,
            outcome: Outcome::InFlight,
            copy,
        });
        self.open.entry(id).or_default().push(index);
    }

    /// The oldest open arrow of message `id` ends at `time` with `outcome`.
    fn end(&mut self, time: u64, id: u64, outcome: Outcome) {
        let Some(open) = self.open.get_mut(&id) else {
            return;
        };
        let index = open.remove(0);
        if open.is_empty() {
            self.open.remove(&id);
        }
        let arrow = &mut self.data.arrows[index as usize];
        arrow.end_ns = time;
        arrow.outcome = outcome;
    }

    fn mark<E: Event>(&mut self, time: u64, node: NodeId, event: &E) {
        let node = self.see(node);
        if self.data.marks.len() >= MARKS_MAX {
            self.data.marks_omitted += 1;
            return;
        }
        let name = intern(
            &mut self.mark_index,
            &mut self.data.mark_names,
            event.name(),
        );
        let detail = serde_json::to_string(event).unwrap_or_default();
        self.data.marks.push(Mark {
            time_ns: time,
            node,
            name,
            detail: cut_text(detail, DETAIL_MAX),
        });
    }

    fn life(&mut self, time: u64, node: NodeId, life: Life) {
        let node = self.see(node);
        self.data.lives.push((time, node, life));
    }

    fn request(&mut self, time: u64, node: NodeId, id: u64) {
        let node = self.see(node);
        let index = self.data.requests.len() as u32;
        self.data.requests.push(Request {
            submit_ns: time,
            node,
            arrive_ns: None,
            reply_ns: None,
            lost: false,
        });
        self.requests_open.insert(id, index);
    }

    fn request_mut(&mut self, id: u64) -> Option<&mut Request> {
        let index = *self.requests_open.get(&id)?;
        self.data.requests.get_mut(index as usize)
    }

    fn cut(&mut self, time: u64, reachability: &sim_core::Reachability) {
        let n = reachability.node_count() as u32;
        let sides = if reachability.is_full() {
            None
        } else {
            let mut rows: Vec<Vec<NodeId>> = Vec::new();
            let sides = (0..n)
                .map(|a| {
                    let row = reachability.reachable_from(NodeId(a));
                    match rows.iter().position(|r| *r == row) {
                        Some(i) => i as u32,
                        None => {
                            rows.push(row);
                            rows.len() as u32 - 1
                        }
                    }
                })
                .collect();
            Some(sides)
        };
        self.data.node_count = self.data.node_count.max(n);
        self.data.cuts.push(Cut {
            time_ns: time,
            sides,
            links: reachability.describe(),
        });
    }

    fn record<P: Process>(&mut self, time: SimTime, event: &TraceEvent<'_, P>) {
        use TraceEvent as E;
        let t = time.0;
        self.data.events += 1;
        self.data.last_ns = self.data.last_ns.max(t);
        match *event {
            E::Send { from, to, id, msg } => self.send(t, from, to, id, kind_name(msg), false),
            E::Duplicate {
                from, to, id, msg, ..
            } => self.send(t, from, to, id, kind_name(msg), true),
            E::Deliver { id, .. } => self.end(t, id, Outcome::Delivered),
            E::Drop { id, reason, .. } => self.end(t, id, reason.into()),
            E::TimerSet { .. } | E::TimerFire { .. } | E::TimerCancel { .. } => {
                self.data.timers += 1
            }
            E::Client { node, id, .. } => self.request(t, node, id.0),
            E::Request { id, .. } => {
                if let Some(r) = self.request_mut(id.0) {
                    r.arrive_ns = Some(t);
                }
            }
            E::Reply { id, .. } => {
                if let Some(r) = self.request_mut(id.0) {
                    r.reply_ns = Some(t);
                }
                self.requests_open.remove(&id.0);
            }
            E::RequestDrop { id, .. } | E::ClientCut { id, .. } => {
                if let Some(r) = self.request_mut(id.0) {
                    r.lost = true;
                }
                self.requests_open.remove(&id.0);
            }
            E::ClientWake { .. } => {}
            E::Crash { node } => self.life(t, node, Life::Crash),
            E::Restart { node } => self.life(t, node, Life::Restart),
            E::Pause { node, .. } => self.life(t, node, Life::Pause),
            E::Resume { node, .. } => self.life(t, node, Life::Resume),
            E::Clock { node, clock } => self.life(
                t,
                node,
                Life::Clock {
                    offset_ns: clock.offset_ns,
                    drift_ppm: clock.drift_ppm,
                },
            ),
            E::Reachability { reachability } => self.cut(t, reachability),
            E::Network { network } => {
                let json = serde_json::to_string(network).unwrap_or_default();
                self.data.networks.push((t, json));
            }
            E::Report { node, event } => self.mark(t, node, event),
            E::Fault { text } => self.data.faults.push((t, text.to_string())),
            E::Panic { node, message } => {
                let node = node.map(|n| self.see(n));
                self.data.panics.push((t, node, message.to_string()));
            }
        }
    }
}

impl<P: Process> TraceSink<P> for Collector {
    fn record(&mut self, time: SimTime, event: &TraceEvent<'_, P>) -> io::Result<()> {
        self.state.borrow_mut().record(time, event);
        Ok(())
    }
}

/// Hands every event to the JSON Lines file and to the report's collector. A file that fails
/// stops taking events, and its error is reported at the end, while the collector goes on.
pub struct Tee<P: Process> {
    file: Option<Box<dyn TraceSink<P>>>,
    error: Option<io::Error>,
    collector: Collector,
}

impl<P: Process> TraceSink<P> for Tee<P> {
    fn record(&mut self, time: SimTime, event: &TraceEvent<'_, P>) -> io::Result<()> {
        self.collector.state.borrow_mut().record(time, event);
        if let Some(file) = &mut self.file {
            if let Err(e) = file.record(time, event) {
                self.error = Some(e);
                self.file = None;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match &mut self.file {
            Some(file) => file.finish(),
            None => Ok(()),
        }
    }
}

/// The trace of a run: the hash always, JSON Lines to `json` if given, and every event to
/// `collector` if given. The hash is the same whichever are attached.
pub fn trace<P: Process>(
    json: Option<Box<dyn io::Write>>,
    collector: Option<&Collector>,
) -> sim_core::Trace<P> {
    match (json, collector) {
        (None, None) => sim_core::Trace::hash_only(),
        (Some(json), None) => sim_core::Trace::new(Some(json)),
        (None, Some(c)) => sim_core::Trace::with_sink(c.sink()),
        (Some(json), Some(c)) => sim_core::Trace::with_sink(Box::new(Tee {
            file: Some(Box::new(sim_core::trace::JsonLinesSink::new(json))),
            error: None,
            collector: c.clone(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::{Ctx, Reachability, SimDuration};

    #[derive(Clone, Debug, Serialize)]
    enum Msg {
        Ping { seq: u64 },
        Pong,
    }

    #[derive(Clone, Debug, Serialize)]
    struct Elected {
        term: u64,
    }

    impl Event for Elected {
        fn name(&self) -> &'static str {
            "became_leader"
        }
    }

    fn send(from: NodeId, to: NodeId, id: u64, msg: &Msg) -> TraceEvent<'_, Toy> {
        TraceEvent::Send { from, to, id, msg }
    }

    fn deliver(from: NodeId, to: NodeId, id: u64, msg: &Msg) -> TraceEvent<'_, Toy> {
        TraceEvent::Deliver { from, to, id, msg }
    }

    fn lost(from: NodeId, to: NodeId, id: u64, reason: DropReason) -> TraceEvent<'static, Toy> {
        TraceEvent::Drop {
            from,
            to,
            id,
            reason,
        }
    }

    /// A small run: a delivered ping, a pong cut by a partition, a duplicated ping whose copy is
    /// lost at random, a crash and a restart, a report, a timer.
    fn feed(trace: &mut sim_core::Trace<Toy>) {
        let (a, b, c) = (NodeId(0), NodeId(1), NodeId(2));
        let (ping, pong) = (Msg::Ping { seq: 1 }, Msg::Pong);
        let cut = Reachability::isolate(3, c, false);
        let event = Elected { term: 4 };
        let delay = SimDuration::from_millis(5);
        let copy = TraceEvent::Duplicate {
            from: a,
            to: b,
            id: 2,
            delay,
            msg: &ping,
        };
        let timer = TraceEvent::TimerFire {
            node: a,
            generation: 1,
            timer: &7,
        };
        let events = [
            (1, send(a, b, 0, &ping)),
            (3, deliver(a, b, 0, &ping)),
            (4, TraceEvent::Reachability { reachability: &cut }),
            (5, send(c, a, 1, &pong)),
            (5, lost(c, a, 1, DropReason::Partition)),
            (6, send(a, b, 2, &ping)),
            (6, copy),
            (8, deliver(a, b, 2, &ping)),
            (11, lost(a, b, 2, DropReason::Loss)),
            (12, TraceEvent::Crash { node: b }),
            (20, TraceEvent::Restart { node: b }),
            (
                21,
                TraceEvent::Report {
                    node: a,
                    event: &event,
                },
            ),
            (22, timer),
        ];
        for (ms, event) in events {
            trace.record(SimTime(ms * 1_000_000), event);
        }
    }

    #[test]
    fn the_collector_keeps_arrows_marks_and_windows_and_leaves_the_hash_alone() {
        let collector = Collector::new();
        let mut plain = sim_core::Trace::<Toy>::hash_only();
        let mut kept = trace::<Toy>(None, Some(&collector));
        feed(&mut plain);
        feed(&mut kept);
        assert_eq!(plain.hash(), kept.hash());
        let c = collector.collected();
        assert_eq!(c.events, 13);
        assert_eq!(c.kinds, vec!["Ping", "Pong"]);
        let ends: Vec<(u64, Outcome, bool)> = c
            .arrows
            .iter()
            .map(|a| (a.end_ns / 1_000_000, a.outcome, a.copy))
            .collect();
        assert_eq!(
            ends,
            vec![
                (3, Outcome::Delivered, false),
                (5, Outcome::Partition, false),
                (8, Outcome::Delivered, false),
                (11, Outcome::Loss, true),
            ],
            "the oldest open arrow of a message ends first"
        );
        assert_eq!(c.cuts[0].sides, Some(vec![0, 0, 1]), "n3 alone on its side");
        assert_eq!(c.lives.len(), 2);
        assert_eq!(c.mark_names, vec!["became_leader"]);
        assert_eq!(c.marks[0].detail, r#"{"term":4}"#);
        assert_eq!(c.timers, 1);
        assert_eq!(c.node_count, 3);
    }

    /// A file that refuses every write.
    struct Full;
    impl io::Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_trace_file_that_fails_is_reported_and_the_collector_goes_on() {
        let collector = Collector::new();
        let mut kept = trace::<Toy>(Some(Box::new(Full)), Some(&collector));
        feed(&mut kept);
        let error = kept.finish().expect_err("the file's error is reported");
        assert!(error.to_string().contains("disk full"), "{error}");
        assert_eq!(collector.collected().events, 13, "every event collected");
        assert_eq!(collector.collected().arrows.len(), 4);
    }

    #[test]
    fn long_texts_are_cut_at_a_character_boundary() {
        assert_eq!(cut_text("ééé".to_string(), 3), "é…");
        assert_eq!(cut_text("abc".to_string(), 3), "abc");
    }

    struct Toy;
    impl Process for Toy {
        type Msg = Msg;
        type Timer = u8;
        type Request = ();
        type Response = ();
        type Durable = ();
        type Event = Elected;
        fn on_start(&mut self, _: &mut Ctx<'_, Self>) {}
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: Msg) {}
        fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: u8) {}
    }
}
