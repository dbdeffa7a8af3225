//! Key-value requests and responses shared by every replicated store in `sim` (Raft now, quorum
//! replication later), and the closed-loop client workload that drives them and records a
//! history for the linearizability checker.
//!
//! - `types`: [`KvOp`], [`KvRequest`], [`KvResponse`]: what clients ask and stores answer.
//! - `params`: [`WorkloadParams`], a scenario's `[workload]` table, and its validation.
//! - `workload`: [`KvWorkload`], the clients, and the [`sim_check::History`] they record.
//! - `stats`: [`KvWorkload::summary`], the lines a run summary prints.
//! - `checks`: [`KvCheckParams`] and [`checks`]: `kv.linearizable`, `kv.progress`, `kv.some_ok`.
//!
//! The store itself (sessions, log order, leader redirects) is the protocol's: this crate only
//! needs its processes to take [`KvRequest`] and answer [`KvResponse`].
//!
//! A suite wires it like this:
//!
//! ```text
//! fn workload(&self) -> Option<Box<dyn Workload<Self::P>>> {
//!     Some(Box::new(KvWorkload::new(self.workload.clone(), self.node_count)))
//! }
//! fn checks(&self) -> Vec<Box<dyn Check<Self::P>>> {
//!     sim_kv::checks(&self.kv_checks)
//! }
//! fn summary(&self, sim: &Simulation<Self::P>, run: &RunInfo) -> Vec<(String, String)> {
//!     sim_kv::kv_workload(sim).map(|w| w.summary(run)).unwrap_or_default()
//! }
//! fn history(&self, sim: &Simulation<Self::P>) -> Option<serde_json::Value> {
//!     sim_kv::kv_workload(sim).map(|w| w.history_json())
//! }
//! ```

mod checks;
mod params;
mod stats;
mod types;
mod workload;

#[cfg(test)]
mod toy;

/// Every check name this crate's checks use.
pub const CHECK_NAMES: [&str; 3] = ["kv.linearizable", "kv.progress", "kv.some_ok"];

pub use checks::{checks, kv_workload, KvCheckParams, Linearizable, Progress, SomeOk};
pub use params::{Distribution, Mix, ValueFormat, WorkloadParams, CLIENTS_MAX, KEYS_MAX};
pub use stats::{human_duration, Counts};
pub use types::{KvOp, KvRequest, KvResponse};
pub use workload::{Anomalies, KvWorkload, OpKind, OpRecord, OpStatus};
