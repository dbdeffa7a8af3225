//! The simulation core of `sim`: what every protocol and every run stands on.
//!
//! - [`time`]: simulated time ([`SimTime`], [`SimDuration`]); nothing reads the wall clock.
//! - [`rng`]: one seed, independent named ChaCha8 streams ([`Streams`]).
//! - [`process`]: the sans-IO process interface ([`Process`], [`Ctx`]) protocols implement.
//! - [`storage`]: durable state with crash semantics ([`Storage`]).
//! - [`network`]: latency, loss, duplication and reachability ([`NetworkConfig`], [`Reachability`]).
//! - [`sim`]: the event loop ([`Simulation`]), node lifecycle, faults and the client [`Workload`].
//! - [`trace`]: typed trace events ([`TraceEvent`]), the trace hash ([`Trace`]) and where events
//!   go besides it ([`TraceSink`]: JSON Lines, in memory).
//! - [`hash`]: the stable hash, and a `serde` serializer that feeds it field by field.
//! - [`check`]: the [`Check`] interface for always / sometimes / eventually properties.
//! - [`suite`]: a protocol family as scenarios run it ([`Suite`]).
//! - [`testing`]: run one handler without the simulator ([`testing::Harness`]).
//!
//! Scenario files, fault schedules and protocol choice live above this crate (`sim-scenario`,
//! `sim-runner`); protocols live beside it (`sim-protocols`) and depend only on this interface.

pub mod check;
pub mod hash;
pub mod network;
pub mod process;
pub mod rng;
pub mod sim;
pub mod storage;
pub mod suite;
pub mod testing;
pub mod time;
pub mod trace;

pub use check::{Check, CheckKind, CheckReport, NodeChange, Observation, Phases, Violation};
pub use network::{Latency, NetworkConfig, Reachability};
pub use process::{Ctx, Event, NodeId, Outputs, Process, RequestId, TimerOp};
pub use rng::{SimRng, Streams};
pub use sim::{ClientCtx, Clock, NodeStatus, SimConfig, Simulation, Stats, Step, Workload};
pub use storage::Storage;
pub use suite::{ClusterInfo, Declaration, RunInfo, Suite, SuiteError};
pub use time::{SimDuration, SimTime};
pub use trace::{
    JsonLinesSink, MemorySink, OwnedTraceEvent, Trace, TraceEvent, TraceRecord, TraceSink,
};

#[cfg(test)]
mod sim_tests;
