//! Quorum replication: a Dynamo-style store and a linearizable (ABD) store, placed by
//! consistent hashing, with CP and AP side by side.
//!
//! Each key lives on N replicas, its *home replicas*: the first N distinct nodes of its
//! preference list ([`placement`]: consistent hashing with virtual nodes, modulo hashing, or
//! range partitioning). Any node coordinates a client request ([`coordinator`]):
//! - **Dynamo mode** (DeCandia et al., SOSP 2007): per-operation consistency levels (ONE,
//!   QUORUM, ALL, or R and W), versions by last-write-wins on the coordinator's local clock or
//!   by vector clocks with siblings returned to the client ([`version`]), read repair, sloppy
//!   quorums with hinted handoff, and anti-entropy between replicas ([`node`]).
//! - **ABD mode** (Attiya, Bar-Noy, Dolev 1995): a linearizable multi-writer register per key
//!   over majorities of the home replicas.
//!
//! The rest of the family:
//! - [`types`]: [`Level`], [`QuorumRequest`], [`QuorumResponse`];
//! - [`message`]: what nodes send, their timers and events;
//! - [`workload`]: the clients on `sim-client`'s engine;
//! - [`checks`]: linearizability (required or observed), stale reads, lost writes, session
//!   guarantees (forbidden or counted), convergence, placement, superseded siblings, some
//!   progress;
//! - [`supersede`]: what a write with a read's context promises (no read returns it beside a
//!   value it superseded);
//! - [`figures`]: the summary and the figures `sim compare` tabulates;
//! - [`bugs`]: the planted bugs;
//! - [`family`]: [`QuorumSuite`] with its `[protocol]` keys and their defaults.
//!
//! Scenarios live in `scenarios/quorum/` (planted bugs in `scenarios/quorum/bugs/`), and the
//! CAP pair in `scenarios/cap-raft.toml` and `scenarios/cap-dynamo.toml`.

pub mod bugs;
pub mod checks;
pub mod coordinator;
pub mod family;
pub mod figures;
pub mod message;
pub mod node;
pub mod placement;
pub mod supersede;
pub mod types;
pub mod version;
pub mod workload;

pub use family::QuorumSuite;
pub use node::{Config, Mode, QuorumNode, Versioning};
pub use types::{Level, QuorumOp, QuorumRequest, QuorumResponse};
