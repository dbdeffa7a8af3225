//! Running one handler without the simulator, for unit tests of protocol rules.
//!
//! ```
//! use sim_core::testing::Harness;
//! use sim_core::{Ctx, NodeId, Process, SimDuration, SimTime};
//!
//! #[derive(Default)]
//! struct Ping;
//! impl Process for Ping {
//!     type Msg = &'static str;
//!     type Timer = ();
//!     type Request = ();
//!     type Response = ();
//!     type Durable = ();
//!     type Event = ();
//!     fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
//!         ctx.set_timer(SimDuration::from_millis(10), ());
//!     }
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: &'static str) {
//!         if msg == "ping" {
//!             ctx.send(from, "pong");
//!         }
//!     }
//!     fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) {
//!         ctx.broadcast("ping");
//!     }
//! }
//!
//! let mut node = Harness::new(Ping, NodeId(0), 3, 7);
//! node.start();
//! node.deliver(NodeId(2), "ping");
//! assert_eq!(node.outputs().sends, vec![(NodeId(2), "pong")]);
//! node.set_time(SimTime(10_000_000));
//! node.fire(());
//! assert_eq!(node.outputs().sends.len(), 2);
//! ```

use crate::process::{Ctx, Outputs, Process, RequestId};
use crate::rng::{SimRng, Streams};
use crate::storage::Storage;
use crate::time::SimTime;
use crate::NodeId;

/// One process with its own storage, generator and clock, outside any simulation.
pub struct Harness<P: Process> {
    pub process: P,
    pub storage: Storage<P::Durable>,
    node: NodeId,
    node_count: usize,
    time: SimTime,
    rng: SimRng,
    outputs: Outputs<P>,
}

impl<P: Process> Harness<P> {
    /// `process` as node `node` of `node_count`, drawing from the node stream of `seed`.
    pub fn new(process: P, node: NodeId, node_count: usize, seed: u64) -> Self {
        Harness {
            process,
            storage: Storage::new(),
            node,
            node_count,
            time: SimTime::ZERO,
            rng: Streams::new(seed).node(node.index()),
            outputs: Outputs::default(),
        }
    }

    /// Sets the local time the next handler sees.
    pub fn set_time(&mut self, time: SimTime) {
        self.time = time;
    }

    /// The outputs of the latest handler call.
    pub fn outputs(&self) -> &Outputs<P> {
        &self.outputs
    }

    /// Takes the outputs of the latest handler call.
    pub fn take_outputs(&mut self) -> Outputs<P> {
        std::mem::take(&mut self.outputs)
    }

    fn call(&mut self, handler: impl FnOnce(&mut P, &mut Ctx<'_, P>)) -> &Outputs<P> {
        self.outputs.clear();
        let mut ctx = Ctx::new(
            self.node,
            self.node_count,
            self.time,
            &mut self.rng,
            &mut self.storage,
            &mut self.outputs,
        );
        handler(&mut self.process, &mut ctx);
        &self.outputs
    }

    pub fn start(&mut self) -> &Outputs<P> {
        self.call(|p, ctx| p.on_start(ctx))
    }

    pub fn deliver(&mut self, from: NodeId, msg: P::Msg) -> &Outputs<P> {
        self.call(|p, ctx| p.on_message(ctx, from, msg))
    }

    pub fn fire(&mut self, timer: P::Timer) -> &Outputs<P> {
        self.call(|p, ctx| p.on_timer(ctx, timer))
    }

    pub fn request(&mut self, id: RequestId, request: P::Request) -> &Outputs<P> {
        self.call(|p, ctx| p.on_request(ctx, id, request))
    }

    /// Simulates a crash and restart: unsynced writes are lost and `rebuild` makes a fresh
    /// process, which is then started from the surviving storage.
    pub fn crash_and_restart(&mut self, rebuild: impl FnOnce() -> P) -> &Outputs<P> {
        self.storage.crash();
        self.process = rebuild();
        self.start()
    }
}
