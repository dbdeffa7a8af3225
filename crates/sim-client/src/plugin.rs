//! The seam between the engine and a protocol family's clients.
//!
//! Owns [`ClientPlugin`], the trait a family implements so that its request and reply types run
//! on the engine, with [`Invocation`] (who a new operation is for), [`Answer`] (what a reply
//! means to the engine) and [`Status`] (how an operation ended). The plug-in draws operations,
//! builds requests, reads replies and records its history; the engine owns everything about
//! when and where requests go.

use sim_core::{NodeId, SimRng, SimTime};

/// Who a new operation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// The client's index, from 0.
    pub client: usize,
    /// The session the operation runs under: stable for the run, one per client in closed loop
    /// and one per slot in open loop, so a store with sessions can apply a retried request once.
    pub session: u64,
    /// The operation's sequence number in its session, from 1; every attempt carries it.
    pub seq: u64,
    /// The history process: fresh after every operation that ended in info.
    pub process: u64,
    pub at: SimTime,
}

/// What a reply means to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The operation took effect (or read what it read).
    Ok,
    /// The operation certainly did not take effect (a compare-and-set that found another value).
    Fail,
    /// The reply does not say whether the operation took effect (it does not fit the
    /// operation, say): the operation ends as info.
    Info,
    /// This node did nothing with the request; `to` may serve it. The engine follows the hint
    /// (up to `max_redirects` at once), or backs off when there is none.
    Redirect { to: Option<NodeId> },
    /// This node did nothing with the request and knows no one who can serve it now: the engine
    /// backs off and tries another node, and the breaker counts a failure.
    Unavailable,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Fail,
    /// Unknown: it may or may not have taken effect.
    Info,
}

/// A protocol family's client side, plugged into [`crate::ClientEngine`].
///
/// Every random draw goes through the `rng` the engine passes (the run's `workload` stream).
/// The engine calls `invoke` once per operation, `request` once per attempt, `classify` once per
/// reply to any attempt of an outstanding operation, and `complete` once per operation it ends
/// (operations still outstanding when the run stops are never completed: the history reads
/// them as info).
pub trait ClientPlugin: 'static {
    type Request;
    type Response;
    /// An operation in flight, as the plug-in keeps it (the request, its history index, what
    /// the reply said).
    type Op: 'static;

    /// The kinds of operation, in the order the summary lists them.
    fn kind_names(&self) -> &'static [&'static str];
    /// One of [`ClientPlugin::kind_names`].
    fn kind(&self, op: &Self::Op) -> &'static str;
    /// Draws the next operation and records its invocation.
    fn invoke(&mut self, rng: &mut SimRng, invocation: &Invocation) -> Self::Op;
    /// The request of one attempt; every attempt of an operation sends the same one.
    fn request(&self, op: &Self::Op) -> Self::Request;
    /// Reads a reply to any attempt of `op`; may remember what it says in `op`.
    fn classify(&mut self, op: &mut Self::Op, response: Self::Response) -> Answer;
    /// Records how `op` ended.
    fn complete(&mut self, op: Self::Op, status: Status, at: SimTime);
    /// Lines the plug-in adds to the run summary (anomalies it counted, say).
    fn summary(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
