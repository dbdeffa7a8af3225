//! Raft, all of it, as in the extended Raft paper, as a `sim` protocol family.
//!
//! - [`node`]: the [`RaftNode`] process.
//! - [`log`], [`kv`], [`message`]: its log, its key-value state machine with sessions, its
//!   messages.
//! - [`params`]: the scenario's `[protocol]` table ([`Params`]) and its validation.
//! - [`bugs`]: planted bugs, switchable by name ([`Bug`]).
//! - [`checks`]: Raft's safety properties, checked continuously, and its liveness expectation.
//!
//! The client workload, history and linearizability check are `sim-kv`'s; the scenario runner
//! is `sim-runner`'s.

pub mod bugs;
pub mod checks;
pub mod kv;
pub mod log;
pub mod message;
pub mod node;
pub mod params;
pub mod suite;

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod testkit;

pub use bugs::{Bug, BugSet};
pub use checks::{RaftCheckParams, RunRecord};
pub use kv::KvStore;
pub use log::{Command, Entry, RaftLog, Snapshot};
pub use message::Message;
pub use node::{Durable, RaftEvent, RaftNode, Role, Timer};
pub use params::{Params, RaftConfig, ReadMode};
pub use suite::{CheckParams, RaftSuite};
