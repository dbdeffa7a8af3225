//! The engine's parameters and their validation.
//!
//! Owns [`EngineParams`] (with [`OpenLoop`], [`Arrival`] and [`BreakerParams`]): everything the
//! engine needs that is not about a family's operations. A family's `[workload]` table holds
//! these fields beside its own (keys, op mix) and builds an `EngineParams` from them; a family
//! without keys of its own can use `EngineParams` as its whole table. Validation names the field
//! the way the runner reports it (`workload.request_timeout`, `workload.breaker.failures`).

use serde::{Deserialize, Serialize};
use sim_core::{SimDuration, SuiteError};

/// At most this many clients: a client's index is the wake-up token.
pub const CLIENTS_MAX: usize = 1024;
/// At most this many operations outstanding at once per open-loop client.
pub const OUTSTANDING_MAX: usize = 64;
/// At most this many arrivals queued per open-loop client.
pub const QUEUED_MAX: usize = 10_000;
/// At most this many open-loop arrivals per second per client.
pub const RATE_MAX: f64 = 1_000_000.0;
/// At most this many attempts per operation, when a bound is given.
pub const ATTEMPTS_MAX: u32 = 100_000;
/// At most this many redirects followed at once, when a bound is given.
pub const REDIRECTS_MAX: u32 = 1_000;
/// At most this factor between consecutive backoffs.
pub const MULTIPLIER_MAX: f64 = 16.0;
/// At most this many consecutive failures before the breaker opens.
pub const BREAKER_FAILURES_MAX: u32 = 10_000;

/// How open-loop arrivals are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// One arrival every `1 / rate` seconds, the first at a random phase.
    Fixed,
    /// A Poisson process: exponential gaps of mean `1 / rate` seconds.
    #[default]
    Poisson,
}

/// Where a client's requests go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Routing {
    /// To the node the client last heard serves: redirects are followed (`max_redirects` at
    /// once), and an attempt without an answer is sent again to the next node.
    #[default]
    Follow,
    /// To the node the client first reached, for the rest of the run: it starts with its home
    /// node (client `k` lives beside node `k mod nodes`), moves on after a request timeout only
    /// until some node answers, and from then on every attempt goes to that node; a redirect is
    /// not followed (the client backs off and asks the same node again), a request timeout sends
    /// again to the same node. As a client bound to one server (a connection that is not
    /// re-balanced) behaves: a deposed leader keeps being asked.
    Pinned,
}

/// Open-loop clients: operations arrive at a rate whether or not earlier ones have completed,
/// as users of a real service do; closed-loop clients wait, and so hide queueing collapse.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenLoop {
    /// Arrivals per second, per client.
    pub rate: f64,
    pub arrival: Arrival,
    /// Operations a client may have outstanding at once; each runs under its own session and
    /// history process.
    pub max_outstanding: usize,
    /// Arrivals that find every slot busy wait in a queue this long (per client); past it they
    /// are refused. Both are counted in the summary.
    pub max_queued: usize,
}

impl Default for OpenLoop {
    fn default() -> Self {
        OpenLoop {
            rate: 10.0,
            arrival: Arrival::Poisson,
            max_outstanding: 4,
            max_queued: 0,
        }
    }
}

/// A circuit breaker per client: closed until `failures` consecutive failures (request
/// timeouts, unavailable answers), then open for `cool_down` (requests refused without being
/// sent), then half-open (one probe goes through: a success closes it, a failure opens it again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerParams {
    pub failures: u32,
    pub cool_down: SimDuration,
}

impl Default for BreakerParams {
    fn default() -> Self {
        BreakerParams {
            failures: 5,
            cool_down: SimDuration::from_secs(1),
        }
    }
}

crate::__engine_fields! {
    engine;
    /// What the engine needs to run clients; see the crate docs for the `[workload]` keys. A
    /// family's own table declares the same fields beside its own with
    /// [`client_workload!`](crate::client_workload).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct EngineParams;
    family [];
}

fn error(field: &str, message: impl Into<String>) -> SuiteError {
    SuiteError::new(format!("workload.{field}"), message)
}

fn in_range(field: &str, value: f64, low: f64, high: f64) -> Result<(), SuiteError> {
    if value.is_finite() && value >= low && value <= high {
        return Ok(());
    }
    Err(error(
        field,
        format!("expected a number in [{low}, {high}], found {value}"),
    ))
}

fn count_in_range(field: &str, value: u64, low: u64, high: u64) -> Result<(), SuiteError> {
    if value >= low && value <= high {
        return Ok(());
    }
    Err(error(
        field,
        format!("expected between {low} and {high}, found {value}"),
    ))
}

/// Durations have no upper bound: simulated time saturates, so a timeout past the end of time
/// never fires rather than overflowing (scenarios with such timeouts run today).
fn positive_duration(field: &str, value: SimDuration) -> Result<(), SuiteError> {
    if value == SimDuration::ZERO {
        return Err(error(field, "expected a positive duration, found 0s"));
    }
    Ok(())
}

impl EngineParams {
    /// Checks the parameters against each other and the cluster; the error names the field.
    pub fn validate(&self, node_count: usize) -> Result<(), SuiteError> {
        if node_count == 0 {
            return Err(SuiteError::new(
                "cluster.nodes",
                "clients need at least one node",
            ));
        }
        count_in_range("clients", self.clients as u64, 1, CLIENTS_MAX as u64)?;
        let [think_min, think_max] = self.think_time;
        if think_min > think_max {
            return Err(error(
                "think_time",
                format!("expected [min, max] with min <= max, found [{think_min}, {think_max}]"),
            ));
        }
        positive_duration("request_timeout", self.request_timeout)?;
        positive_duration("op_timeout", self.op_timeout)?;
        positive_duration("backoff", self.backoff)?;
        self.validate_retries()?;
        if let Some(open) = &self.open_loop {
            validate_open_loop(open)?;
        }
        if let Some(breaker) = &self.breaker {
            let failures = u64::from(breaker.failures);
            count_in_range(
                "breaker.failures",
                failures,
                1,
                u64::from(BREAKER_FAILURES_MAX),
            )?;
            positive_duration("breaker.cool_down", breaker.cool_down)?;
        }
        if self.routing == Routing::Pinned && self.max_redirects.is_some() {
            return Err(error(
                "max_redirects",
                "has no effect with workload.routing = \"pinned\" (a pinned client follows no \
                 redirect); remove it or use routing = \"follow\"",
            ));
        }
        if self.max_ops == Some(0) {
            return Err(error("max_ops", "expected at least 1, found 0"));
        }
        if let Some(stop_at) = self.stop_at {
            if stop_at <= self.start_after {
                return Err(error(
                    "stop_at",
                    format!(
                        "expected a time after workload.start_after ({}), found {stop_at}",
                        self.start_after
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_retries(&self) -> Result<(), SuiteError> {
        in_range(
            "backoff_multiplier",
            self.backoff_multiplier,
            1.0,
            MULTIPLIER_MAX,
        )?;
        in_range("backoff_jitter", self.backoff_jitter, 0.0, 1.0)?;
        if let Some(max) = self.backoff_max {
            positive_duration("backoff_max", max)?;
            if max < self.backoff {
                return Err(error(
                    "backoff_max",
                    format!(
                        "expected at least workload.backoff ({}), found {max}",
                        self.backoff
                    ),
                ));
            }
        }
        if let Some(attempts) = self.max_attempts {
            count_in_range(
                "max_attempts",
                u64::from(attempts),
                1,
                u64::from(ATTEMPTS_MAX),
            )?;
        }
        if let Some(redirects) = self.max_redirects {
            count_in_range(
                "max_redirects",
                u64::from(redirects),
                0,
                u64::from(REDIRECTS_MAX),
            )?;
        }
        Ok(())
    }
}

fn validate_open_loop(open: &OpenLoop) -> Result<(), SuiteError> {
    if !(open.rate.is_finite() && open.rate > 0.0 && open.rate <= RATE_MAX) {
        return Err(error(
            "open_loop.rate",
            format!(
                "expected arrivals per second in (0, {RATE_MAX}], found {}",
                open.rate
            ),
        ));
    }
    count_in_range(
        "open_loop.max_outstanding",
        open.max_outstanding as u64,
        1,
        OUTSTANDING_MAX as u64,
    )?;
    count_in_range(
        "open_loop.max_queued",
        open.max_queued as u64,
        0,
        QUEUED_MAX as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> EngineParams {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn an_empty_table_is_the_default_closed_loop() {
        let params = parse("");
        assert_eq!(params, EngineParams::default());
        assert_eq!(params.validate(3), Ok(()));
        assert!(params.open_loop.is_none() && params.breaker.is_none());
    }

    #[test]
    fn policy_tables_read_with_their_defaults() {
        let params = parse(
            r#"
            open_loop = { rate = 50, arrival = "fixed" }
            breaker = { failures = 3 }
            backoff_multiplier = 2.0
            backoff_max = "1s"
            backoff_jitter = 0.5
            max_attempts = 6
            "#,
        );
        let open = params.open_loop.unwrap();
        assert_eq!(open.arrival, Arrival::Fixed);
        assert_eq!(open.max_outstanding, OpenLoop::default().max_outstanding);
        assert_eq!(params.breaker.unwrap().cool_down, SimDuration::from_secs(1));
        assert_eq!(params.validate(3), Ok(()));
    }

    #[test]
    fn validation_names_the_field() {
        let cases: [(&str, &str); 15] = [
            (
                "routing = \"pinned\"\nmax_redirects = 2",
                "workload.max_redirects",
            ),
            ("clients = 0", "workload.clients"),
            ("clients = 5000", "workload.clients"),
            ("think_time = [\"5ms\", \"1ms\"]", "workload.think_time"),
            ("request_timeout = \"0s\"", "workload.request_timeout"),
            ("op_timeout = \"0s\"", "workload.op_timeout"),
            ("backoff_multiplier = 0.5", "workload.backoff_multiplier"),
            ("backoff_jitter = 1.5", "workload.backoff_jitter"),
            ("backoff_max = \"1ms\"", "workload.backoff_max"),
            ("max_attempts = 0", "workload.max_attempts"),
            ("open_loop = { rate = 0 }", "workload.open_loop.rate"),
            (
                "open_loop = { max_outstanding = 0 }",
                "workload.open_loop.max_outstanding",
            ),
            ("breaker = { failures = 0 }", "workload.breaker.failures"),
            (
                "breaker = { cool_down = \"0s\" }",
                "workload.breaker.cool_down",
            ),
            ("start_after = \"5s\"\nstop_at = \"5s\"", "workload.stop_at"),
        ];
        for (text, field) in cases {
            let error = parse(text).validate(3).unwrap_err();
            assert_eq!(error.field, field, "{text}: {error:?}");
        }
    }
}
