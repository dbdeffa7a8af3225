//! The generic client engine: the clients of every protocol family run on it.
//!
//! A family plugs its request and reply types in by implementing [`ClientPlugin`] (draw an
//! operation, build its request, classify a reply as ok / fail / info / redirect / unavailable,
//! record its history); [`ClientEngine`] does the rest and implements [`sim_core::Workload`], so
//! a suite's `workload()` returns it (or a newtype around it, as `sim-kv`'s `KvWorkload`).
//!
//! - `params`: [`EngineParams`] (with [`OpenLoop`], [`Arrival`], [`BreakerParams`]) and its
//!   validation, naming the field (`workload.breaker.failures`).
//! - `table`: [`client_workload!`], which declares a family's `[workload]` table with the
//!   engine's keys (declared once) beside the family's own, a `Default` and an `engine()`.
//! - `plugin`: [`ClientPlugin`], [`Invocation`], [`Answer`], [`Status`].
//! - `engine`: [`ClientEngine`], [`OpRecord`], [`OpStatus`], [`Counters`], [`backoff_delay`].
//! - `ledger`: where records go: open ones ride with their slot, ended ones are added to the
//!   tally and forgotten (kept whole only when asked), so memory does not grow with time.
//! - `tally`: [`Tally`] (counts, [`Latencies`], availability, retries, `cut.*`, first ok) and the
//!   per-client [`ClientCounts`] of [`InstantCount`]s that `kv.progress` reads.
//! - `breaker`: [`Breaker`], [`BreakerState`], [`Transitions`].
//! - `cut`: [`CutSide`], the side of a partition an operation's client was on, and the names
//!   of the availability figures per side ([`CUT_FIGURES`], counted by [`Tally::cut_figures`]).
//! - `stats`: [`Counts`], [`human_duration`] and [`ClientEngine::summary`].
//!
//! The engine knows nothing of any family's operations, histories or checks; all its
//! randomness comes from the run's `workload` stream through [`sim_core::ClientCtx::rng`].
//!
//! # `[workload]` keys the engine reads
//!
//! A family's `[workload]` table holds these beside its own keys (see `sim-kv` for the kv ones).
//! The defaults are the closed-loop client `sim` always had: no jitter, no growth, no attempt
//! bound besides `op_timeout`, no breaker.
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `clients` | `3` | clients, 1 to 1024 |
//! | `think_time` | `["0s", "10ms"]` | closed loop: uniform wait between an operation's end and the next |
//! | `open_loop` | absent (closed loop) | `{ rate = 10.0, arrival = "poisson", max_outstanding = 4, max_queued = 0 }`: arrivals per second per client (`"fixed"` or `"poisson"`), operations outstanding at once per client (1 to 64), arrivals that may wait for a free slot (0 to 10000; past that they are refused) |
//! | `request_timeout` | `"500ms"` | an attempt without an answer this long is sent again to the next node |
//! | `op_timeout` | `"2s"` | an operation not answered this long after its invoke ends as info |
//! | `backoff` | `"10ms"` | the wait after an unavailable answer (or a redirect naming no one) |
//! | `backoff_multiplier` | `1.0` | each further backoff of the same operation is this many times longer (1 to 16) |
//! | `backoff_max` | `op_timeout` | no backoff is longer |
//! | `backoff_jitter` | `0.0` | a backoff `d` becomes a uniform draw in `[d * (1 - jitter), d]` (0 to 1) |
//! | `max_attempts` | absent | attempts per operation, the first included (1 to 100000); when reached the operation ends as info, or fail if every attempt was turned away |
//! | `max_redirects` | node count | redirects followed at once before backing off (0 to 1000) |
//! | `routing` | `"follow"` | `"follow"`: a client goes to the node it last heard serves, follows redirects and moves to the next node after a request timeout; `"pinned"`: a client stays with the node it first reached (its home node, `k mod nodes` for client `k`, unless that gave no answer), follows no redirect (it backs off and asks the same node again) and sends a timed-out attempt again to the same node, so a deposed leader keeps being asked (`max_redirects` is then an error) |
//! | `breaker` | absent (no breaker) | `{ failures = 5, cool_down = "1s" }`: a circuit breaker per client, open after `failures` consecutive request timeouts or unavailable answers, half-open after `cool_down` |
//! | `max_ops` | absent | operations per client |
//! | `start_after` | `"0s"` | clients start after this |
//! | `stop_at` | absent | clients invoke nothing new from this time on |
//!
//! Every duration is positive. Timeouts and backoffs never
//! draw from the stream unless jitter is on; open loop draws each gap (Poisson) or a first phase
//! (fixed).

mod breaker;
mod cut;
mod engine;
mod ledger;
mod params;
mod plugin;
mod stats;
#[doc(hidden)]
pub mod table;
mod tally;

#[cfg(test)]
mod tests;

pub use breaker::{Breaker, BreakerState, Transitions};
pub use cut::{CutSide, CUT_FIGURES};
pub use engine::{backoff_delay, ClientEngine, Counters, OpRecord, OpStatus};
pub use params::{
    Arrival, BreakerParams, EngineParams, OpenLoop, Routing, ATTEMPTS_MAX, BREAKER_FAILURES_MAX,
    CLIENTS_MAX, MULTIPLIER_MAX, OUTSTANDING_MAX, QUEUED_MAX, RATE_MAX, REDIRECTS_MAX,
};
pub use plugin::{Answer, ClientPlugin, Invocation, Status};
pub use stats::{human_duration, Counts};
pub use tally::{Availability, ClientCounts, InstantCount, Latencies, QuietCounts, Tally};
