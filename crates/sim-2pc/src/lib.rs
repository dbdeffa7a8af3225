//! Two-phase commit with durable logs, recovery and cooperative termination, the blocking it
//! cannot avoid measured, and a Saga beside it over the same transfers.
//!
//! A cluster of two kinds of node (`[cluster] kinds = { coordinator = 1, participant = 3 }`):
//! coordinators (transaction managers) and participants (resource managers, participant `i`
//! of `P` holding the accounts `a` with `a mod P = i`). Clients submit bank transfers between
//! accounts on different participants, and audits that read every account, to their session's
//! coordinator through `sim-client`'s engine (a node that is not it redirects).
//!
//! - [`types`]: transaction ids, messages, timers, requests and replies, durable records,
//!   events;
//! - [`coordinator`]: prepare, votes, decision, acks; presumed abort (COMMIT forced before it is
//!   sent, aborts never logged, END lazily); recovery from the log;
//! - [`participant`]: strict two-phase locking with wait-die, PREPARED forced before a yes vote,
//!   locks held until the decision, recovery of in-doubt transactions, cooperative termination;
//! - [`saga`]: the Saga mode of the coordinator;
//! - [`workload`]: the clients; [`checks`]: the checks and the blocking measured;
//!   [`suite`]: the family; [`bugs`]: six planted mistakes;
//! - [`decisions`], [`answers`]: what participants and coordinators must answer however late,
//!   kept compactly (a quarter byte per transaction, a byte per operation), so that memory
//!   stays flat over long runs.
//!
//! # `[protocol]` keys
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `name` | | `"2pc"` |
//! | `mode` | `"2pc"` | `"2pc"` or `"saga"` |
//! | `accounts` | `8` | accounts (at least 2 per participant) |
//! | `initial_balance` | `100` | every account's opening balance |
//! | `max_balance` | absent | a credit past this is refused (a business rule a Saga compensates) |
//! | `vote_timeout` | `"500ms"` | the coordinator aborts a transaction whose votes are not all in |
//! | `lock_timeout` | `"200ms"` | a prepare waiting for locks this long votes no |
//! | `inquire_every` | `"200ms"` | an in-doubt participant asks this often |
//! | `resend_every` | `"200ms"` | the coordinator resends unacknowledged decisions and saga steps |
//! | `cooperative` | `true` | in-doubt participants ask their peers too |
//! | `bugs` | `[]` | planted bugs, see [`bugs::Bug`] (2PC mode only) |
//!
//! `[workload]`: see [`workload`]. `[checks]`: `decide_within` (default `"5s"`): what
//! `2pc.termination` allows after the faults heal; `converge_within` (default `"5s"`): the
//! bound of `2pc.converged` ([`convergence`]), after the heal, for every transaction begun by
//! then to be settled at every live node.
//!
//! # Serializability
//!
//! `sim-check`'s models (register, kv map, mutex) judge single-object histories; none models
//! multi-account transactions, so the client history is not handed to it. The family's own
//! checks carry the weight: atomicity, validity, durability, conservation (every committed
//! audit reads the constant total: a snapshot no serial order would break), no overdraft
//! (a lost update or write skew shows as a negative balance or a changed total) and termination.

pub mod answers;
pub mod bugs;
pub mod checks;
pub mod config;
pub mod convergence;
pub mod coordinator;
pub mod decisions;
pub mod durable;
pub mod node;
pub mod participant;
pub mod saga;
pub mod suite;
pub mod types;
pub mod workload;

pub use config::{Config, Mode, Params};
pub use node::TxnNode;
pub use suite::TxnSuite;

#[cfg(test)]
mod gc_tests;
#[cfg(test)]
mod tests;
