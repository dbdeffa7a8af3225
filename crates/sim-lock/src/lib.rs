//! A lock service as a `sim` protocol family: leases and fencing tokens on Raft, and the
//! majority lock without fencing shown unsafe.
//!
//! Distributed locks are where people most often trust a mechanism that cannot protect them: a
//! holder paused longer than its lease, or a lock server whose clock jumps, lets two clients act
//! as holders at once. This family shows it and measures it.
//!
//! - [`machine`]: the replicated lock state machine ([`machine::LockMachine`], plugged into
//!   `sim-raft` through its `StateMachine` trait): sessions with leases and keep-alives, locks
//!   with owners, read-write locks, waiters queued in order, fencing tokens (the grant's log
//!   index), expiry as a log entry the leader proposes, and a counter with compare-and-set.
//! - [`server`]: a Raft replica of the service inside a mixed cluster, with watches (the leader
//!   tells a waiting client when the lock is its).
//! - [`majority`]: an independent server of the majority lock (`mode = "majority"`).
//! - [`client`]: lock clients, which are nodes (so they can be paused, crashed and skewed) and
//!   believe they hold a lock until their lease runs out by their own clock.
//! - [`resource`]: the protected storage, which checks fencing tokens when `fencing = true`.
//! - [`node`]: the one process type and the messages, timers and events of every kind.
//! - [`checks`]: `lock.fencing_safety` (with the believed-holder overlap), `lock.mutual_exclusion`,
//!   `lock.liveness`, `lock.linearizable`, `lock.some_grant`, `lock.converged`.
//! - [`bugs`]: planted bugs; [`family`]: [`LockSuite`] and the scenario tables.
//!
//! # Planted bugs and the scenarios that expose them
//!
//! | bug | scenario | caught by |
//! |---|---|---|
//! | `writer_ignores_readers` | `scenarios/lock/bugs/writer_ignores_readers.toml` | `lock.mutual_exclusion` |
//! | `token_resets_when_free` | `scenarios/lock/bugs/token_resets_when_free.toml` | `lock.mutual_exclusion` |
//! | `resource_token_in_memory` | `scenarios/lock/bugs/resource_token_in_memory.toml` | `lock.fencing_safety` |
//! | `fence_refuses_own_token` | `scenarios/lock/bugs/fence_refuses_own_token.toml` | `lock.fencing_safety` |
//! | `acquire_without_session` | `scenarios/lock/bugs/acquire_without_session.toml` | `lock.liveness` |
//! | `release_any_owner` | `scenarios/lock/bugs/release_any_owner.toml` | `lock.linearizable` |

pub mod bugs;
pub mod checks;
pub mod client;
pub mod config;
pub mod family;
pub mod history;
pub mod machine;
pub mod majority;
pub mod node;
pub mod resource;
pub mod server;

pub use family::LockSuite;
