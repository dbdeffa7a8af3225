//! Raft, all of it, as in the extended Raft paper (Ongaro and Ousterhout, "In Search of an
//! Understandable Consensus Algorithm", 2014) and Ongaro's thesis, as a `sim` protocol family.
//!
//! - [`node`]: the [`RaftNode`] process: roles and terms, randomised elections with the log
//!   up-to-date check, pre-vote and check-quorum (parameters, off by default), replication with
//!   the consistency check, conflict truncation and fast backtracking (a rejection counts only if
//!   it answers the leader's current probe, as etcd's `maybeDecrTo`), the current-term commit
//!   rule, a no-op entry at the start of each term, durable state synced before every reply that
//!   depends on it, recovery from durable state alone, snapshots (keeping some entries behind
//!   them for followers a little behind, as etcd's `SnapshotCatchUpEntries`) and
//!   InstallSnapshot.
//! - [`log`], [`kv`], [`message`]: its log, its key-value state machine with client sessions
//!   (a retried `(client, seq)` is applied once), its messages.
//! - [`machine`]: the [`StateMachine`] trait the node replicates; the key-value store is the
//!   default (`RaftNode` is `RaftNode<KvStore>`), and another family plugs in its own (`sim-lock`).
//! - [`params`]: a scenario's `[protocol]` table ([`Params`]) and its validation.
//! - [`bugs`]: planted bugs, switchable by name ([`Bug`]).
//! - [`checks`]: Raft's safety properties, checked after every step, and its liveness
//!   expectation.
//! - [`cap`]: the figures `sim compare` lines up against other stores (availability per side
//!   of a partition, stale reads, lost writes).
//! - [`suite`]: [`RaftSuite`], `[protocol] name = "raft"`, with `sim-kv`'s clients and checks.
//!
//! # Parameters (`[protocol]`)
//!
//! | field | default | meaning |
//! |---|---|---|
//! | `election_timeout` | `["150ms", "300ms"]` | drawn uniformly per timeout (§5.2) |
//! | `heartbeat_interval` | `"50ms"` | leader heartbeats; candidates retry RequestVote as often |
//! | `pre_vote` | `false` | thesis §9.6 |
//! | `check_quorum` | `false` | thesis §6.2 (and §4.2.3: followers with a live leader ignore votes) |
//! | `read_mode` | `"read_index"` | `"read_index"` (thesis §6.4) or `"log"` |
//! | `snapshot_threshold` | `500` | applied entries after the last snapshot before the next; 0: off |
//! | `snapshot_catch_up` | `100` | entries a snapshot covers kept in the log for followers a little behind (etcd's `SnapshotCatchUpEntries`); 0: none |
//! | `max_entries_per_append` | `64` | entries per AppendEntries |
//! | `bugs` | `[]` | planted bugs by name |
//!
//! Reads default to ReadIndex: no disk write and no log growth per read, and no clock
//! assumption (leadership is confirmed by a heartbeat round that starts after the read arrives).
//! `read_mode = "log"` sends reads through the log like writes, for comparison.
//!
//! # Checks (`[checks]`)
//!
//! Always: `raft.election_safety`, `raft.leader_append_only`, `raft.log_matching`,
//! `raft.leader_completeness`, `raft.state_machine_safety`, `raft.durability`, and `sim-kv`'s
//! `kv.linearizable`; [`convergence`]'s `raft.stable_leader` (no election once converged in the
//! quiet phase and led by one leader for an election timeout; `max_quiet_elections`, default 0), `raft.elections_bounded` (at most
//! `elections_per_fault` elections, default 12, between a heal and the next fault) and
//! `raft.commit_monotonic`. Sometimes: `raft.leader_elected`, `kv.some_ok`. Eventually:
//! `raft.leader_after_heal` (`leader_within`, default 5s), `raft.converged` (an instant at which
//! every live node is in one term following one leader, at one commit index and one applied
//! index, with identical state machines, within `converge_within` (default 8s) of the heal or,
//! under client load, of the clients' end; every live node caught up to the leader's commit
//! index within the bound; `not evaluated` when the clients left no such window) and
//! `kv.progress` (`ops_within`).
//! Opt-in sometimes checks on coverage moments: `sometimes = ["raft.snapshots_installed", ...]`
//! ([`reached`]; names from [`coverage::FIGURE_NAMES`]).
//! The `[checks]` table takes those fields and `sim-kv`'s (`linearizability`,
//! `state_budget`, `ops_within`, `progress_ops`, `progress_every_client`).
//! [`coverage`] gives the campaign figures (`Suite::figures`).
//!
//! # Events
//!
//! Reported for the trace, the checks and faults aimed at moments (`on_event = ...`):
//! `restored`, `became_pre_candidate`, `became_candidate`, `became_leader`, `stepped_down`,
//! `voted`, `committed` (the leader's commit index advanced), `snapshot_taken`,
//! `snapshot_installed`, `truncated` (a follower discarded a conflicting suffix).
//!
//! # Planted bugs and the scenarios that expose them
//!
//! | bug | scenario | caught by | within |
//! |---|---|---|---|
//! | `commit_previous_term_by_count` | `scenarios/raft/bugs/commit_previous_term_by_count.toml` | `raft.leader_completeness` | 30 seeds |
//! | `vote_without_log_check` | `scenarios/raft/bugs/vote_without_log_check.toml` | `raft.leader_completeness` | 5 seeds |
//! | `forget_persist_vote` | `scenarios/raft/bugs/forget_persist_vote.toml` | `raft.election_safety` | 10 seeds |
//! | `apply_before_commit` | `scenarios/raft/bugs/apply_before_commit.toml` | `raft.state_machine_safety` | 5 seeds |
//! | `no_truncate_conflict` | `scenarios/raft/bugs/no_truncate_conflict.toml` | `raft.log_matching` | 5 seeds |
//! | `ack_before_sync` | `scenarios/raft/bugs/ack_before_sync.toml` | `raft.durability` | 5 seeds |
//! | `read_without_quorum` | `scenarios/raft/bugs/read_without_quorum.toml` | `kv.linearizable` | 5 seeds |
//!
//! The client workload, history and linearizability check are `sim-kv`'s (on `sim-client`'s
//! engine; its `[workload]` keys are listed in `sim-kv`'s and `sim-client`'s crate docs); a node
//! that is not the leader answers `Redirect { to }` naming the leader it follows, or
//! `Unavailable` when it knows none. The scenario runner is `sim-runner`'s. This crate depends on the core's process interface only (and on `sim-kv`
//! for the request types, the workload and its checks).

pub mod bugs;
pub mod cap;
pub mod checks;
pub mod convergence;
pub mod coverage;
mod forget;
pub mod kv;
pub mod log;
pub mod machine;
pub mod message;
pub mod moments;
pub mod node;
pub mod params;
pub mod reached;
pub mod suite;

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod testkit;

pub use bugs::{Bug, BugSet};
pub use checks::{RaftCheckParams, RunRecord};
pub use kv::KvStore;
pub use log::{Command, Entry, RaftLog, Snapshot};
pub use machine::{Applied, StateMachine};
pub use message::Message;
pub use node::{Durable, RaftEvent, RaftNode, Role, Timer};
pub use params::{Params, RaftConfig, ReadMode};
pub use suite::{CheckParams, RaftSuite};
