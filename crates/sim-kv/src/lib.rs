//! Key-value requests and replies shared by every replicated store in `sim` (Raft now, quorum
//! replication later), their client plug-in on `sim-client`'s engine, the history it records for
//! the linearizability checker, and the kv checks.
//!
//! - `types`: [`KvOp`], [`KvRequest`], [`KvResponse`]: what clients ask and stores answer
//!   (`Redirect { to }` when another node serves, `Unavailable` when no one can now).
//! - `params`: [`WorkloadParams`], a scenario's `[workload]` table, and its validation.
//! - `workload`: [`KvClient`], the [`sim_client::ClientPlugin`] for the kv types (op mix, keys,
//!   values; the history checked as it is recorded by [`sim_check::Incremental`], and kept whole
//!   as a [`sim_check::History`] only when an output asks), and [`KvWorkload`], the engine
//!   running it.
//! - `recorder`: [`Recorder`], where a kv client history goes as it is recorded: the incremental
//!   checker always, the whole history or a history file only when an output asks.
//! - `stats`: [`KvWorkload::summary`], the lines a run summary prints.
//! - `anomalies`: [`AnomalyTracker`]: stale reads, lost acknowledged writes and session
//!   guarantees of a history, judged as it is recorded, for stores that are not linearizable by
//!   design.
//! - `checks`: [`KvCheckParams`] and [`checks`]: `kv.linearizable`, `kv.progress`, `kv.some_ok`.
//!
//! The store itself (sessions, log order, leader redirects) is the protocol's: this crate only
//! needs its processes to take [`KvRequest`] and answer [`KvResponse`]. When and where requests
//! go (closed or open loop, redirects, timeouts, retries, the breaker) is `sim-client`'s.
//!
//! # `[workload]` keys
//!
//! The kv keys:
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `keys` | `5` | keys `k0` .. `k{keys-1}` (1 to 100000) |
//! | `distribution` | `"uniform"` | `"uniform"` or `"zipf"` (key `k` with weight `1 / (k + 1)^zipf_exponent`) |
//! | `zipf_exponent` | `1.0` | the zipf skew, 0 to 100 |
//! | `mix` | `{ get = 0.4, put = 0.3, cas = 0.2, append = 0.1 }` | relative weights of the operations (a missing one keeps its default) |
//! | `values` | `"unique"` | written values: `c3-17` is session 3's operation 17 (appends add `+c3-17`) |
//!
//! and the engine's, documented with their defaults in `sim-client`'s crate docs
//! (`cargo doc --open -p sim-client`): `clients` (3), `think_time` (`["0s", "10ms"]`),
//! `open_loop` (absent: closed loop), `request_timeout` (`"500ms"`), `op_timeout` (`"2s"`),
//! `backoff` (`"10ms"`), `backoff_multiplier` (1), `backoff_max` (`op_timeout`),
//! `backoff_jitter` (0), `max_attempts` (absent), `max_redirects` (node count), `breaker`
//! (absent), `max_ops` (absent), `start_after` (`"0s"`), `stop_at` (absent).
//! The defaults are the client `sim` always had, so scenarios written before the engine mean
//! what they meant.
//!
//! A suite wires it like this:
//!
//! ```text
//! fn workload(&self) -> Option<Box<dyn Workload<Self::P>>> {
//!     Some(Box::new(
//!         KvWorkload::new(self.workload.clone(), self.node_count)
//!             .with_state_budget(self.kv_checks.state_budget),
//!     ))
//! }
//! fn checks(&self) -> Vec<Box<dyn Check<Self::P>>> {
//!     sim_kv::checks(&self.kv_checks)
//! }
//! fn summary(&self, sim: &Simulation<Self::P>, run: &RunInfo) -> Vec<(String, String)> {
//!     sim_kv::kv_workload(sim).map(|w| w.summary(run)).unwrap_or_default()
//! }
//! fn history(&self, sim: &Simulation<Self::P>) -> Option<serde_json::Value> {
//!     sim_kv::kv_workload(sim).and_then(|w| w.history_json())
//! }
//! ```

mod anomalies;
mod checks;
mod params;
mod recorder;
mod stats;
mod types;
mod workload;

#[cfg(test)]
mod toy;

/// Every check name this crate's checks use.
pub const CHECK_NAMES: [&str; 3] = ["kv.linearizable", "kv.progress", "kv.some_ok"];

pub use anomalies::{Anomaly, AnomalyTracker, Found};
pub use checks::{
    checks, failure_violation, kv_workload, KvCheckParams, Linearizable, Progress, SomeOk,
};
pub use params::{Distribution, Mix, ValueFormat, WorkloadParams, CLIENTS_MAX, KEYS_MAX};
pub use recorder::Recorder;
pub use sim_client::{
    human_duration, Counts, CutSide, OpRecord, OpStatus, QuietCounts, Tally, CUT_FIGURES,
};
pub use types::{KvOp, KvRequest, KvResponse};
pub use workload::{Anomalies, KvClient, KvPending, KvWorkload, OpKind};
