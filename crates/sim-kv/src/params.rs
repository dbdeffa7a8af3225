//! The workload's parameters, as a scenario's `[workload]` table gives them.
//!
//! Owns [`WorkloadParams`] (with [`Mix`], [`Distribution`] and [`ValueFormat`]) and its
//! validation, which names the offending field the way the runner reports it
//! (`workload.clients`). The table holds the kv keys (keys, distribution, mix, values) beside
//! the engine's (`sim-client`'s [`EngineParams`], flat, as scenarios always wrote them, declared
//! by `sim_client::client_workload!`: serde's `flatten` cannot be used with
//! `deny_unknown_fields`). Every field has a default, so an empty
//! `[workload]` table is a complete workload. What the parameters drive lives in `workload`.

use serde::{Deserialize, Serialize};
#[cfg(doc)]
use sim_client::EngineParams;
use sim_core::SuiteError;

pub use sim_client::CLIENTS_MAX;
/// At most this many keys: the key table is built up front.
pub const KEYS_MAX: usize = 100_000;

/// How clients choose the key of each operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Every key equally likely.
    #[default]
    Uniform,
    /// Key `k` (from 0) with weight `1 / (k + 1)^zipf_exponent`: a few hot keys.
    Zipf,
}

/// How written values look. Every write carries a value no other write uses, so a read that
/// returns a corrupted, lost or resurrected value cannot pass for a legal one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ValueFormat {
    /// `c3-17`: session 3's operation 17 (appends add `+c3-17`).
    #[default]
    Unique,
}

/// The relative weights of the four operations; they need not sum to 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    pub get: f64,
    pub put: f64,
    pub cas: f64,
    pub append: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            get: 0.4,
            put: 0.3,
            cas: 0.2,
            append: 0.1,
        }
    }
}

impl Mix {
    fn weights(&self) -> [(&'static str, f64); 4] {
        [
            ("get", self.get),
            ("put", self.put),
            ("cas", self.cas),
            ("append", self.append),
        ]
    }
}

sim_client::client_workload! {
    /// The kv clients: `[workload]` in a scenario. The engine's fields are documented on
    /// [`EngineParams`] and in `sim-client`'s crate docs.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct WorkloadParams {
        /// Keys `k0` .. `k{keys-1}`.
        pub keys: usize = 5,
        pub distribution: Distribution = Distribution::Uniform,
        /// The skew of the zipf distribution (0 is uniform).
        pub zipf_exponent: f64 = 1.0,
        pub mix: Mix = Mix::default(),
        pub values: ValueFormat = ValueFormat::Unique,
    }
}

impl WorkloadParams {
    /// Checks the parameters against each other and the cluster; the error names the field.
    pub fn validate(&self, node_count: usize) -> Result<(), SuiteError> {
        self.engine().validate(node_count)?;
        if self.keys == 0 || self.keys > KEYS_MAX {
            return Err(SuiteError::new(
                "workload.keys",
                format!("expected between 1 and {KEYS_MAX}, found {}", self.keys),
            ));
        }
        if !self.zipf_exponent.is_finite() || self.zipf_exponent < 0.0 || self.zipf_exponent > 100.0
        {
            return Err(SuiteError::new(
                "workload.zipf_exponent",
                format!(
                    "expected a number in [0, 100], found {}",
                    self.zipf_exponent
                ),
            ));
        }
        for (name, weight) in self.mix.weights() {
            if !weight.is_finite() || weight < 0.0 {
                return Err(SuiteError::new(
                    format!("workload.mix.{name}"),
                    format!("expected a weight of at least 0, found {weight}"),
                ));
            }
        }
        if self.mix.weights().iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            return Err(SuiteError::new(
                "workload.mix",
                "expected at least one operation with a positive weight",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::SimDuration;

    fn parse(text: &str) -> Result<WorkloadParams, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn an_empty_table_is_the_default_workload() {
        let params = parse("").unwrap();
        assert_eq!(params, WorkloadParams::default());
        assert_eq!(params.validate(3), Ok(()));
    }

    #[test]
    fn fields_read_the_human_way() {
        let params = parse(
            r#"
            clients = 5
            keys = 2
            distribution = "zipf"
            zipf_exponent = 1.2
            mix = { get = 1, put = 1 }
            think_time = ["1ms", "5ms"]
            request_timeout = "100ms"
            op_timeout = "1s"
            max_ops = 10
            values = "unique"
            start_after = "1s"
            stop_at = "20s"
            "#,
        )
        .unwrap();
        assert_eq!(params.clients, 5);
        assert_eq!(params.distribution, Distribution::Zipf);
        assert_eq!(
            params.mix,
            Mix {
                get: 1.0,
                put: 1.0,
                cas: 0.2,
                append: 0.1
            }
        );
        assert_eq!(
            params.think_time,
            [SimDuration::from_millis(1), SimDuration::from_millis(5)]
        );
        assert_eq!(params.stop_at, Some(SimDuration::from_secs(20)));
        assert_eq!(params.validate(3), Ok(()));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let error = parse("client = 3").unwrap_err().to_string();
        assert!(error.contains("unknown field `client`"), "{error}");
        let error = parse("mix = { gets = 1 }").unwrap_err().to_string();
        assert!(error.contains("unknown field `gets`"), "{error}");
    }

    #[test]
    fn validation_names_the_field() {
        let cases: [(&str, &str); 11] = [
            ("clients = 0", "workload.clients"),
            ("keys = 0", "workload.keys"),
            (
                "mix = { get = 0, put = 0, cas = 0, append = 0 }",
                "workload.mix",
            ),
            ("mix = { cas = -1 }", "workload.mix.cas"),
            ("think_time = [\"5ms\", \"1ms\"]", "workload.think_time"),
            ("request_timeout = \"0s\"", "workload.request_timeout"),
            ("max_ops = 0", "workload.max_ops"),
            ("start_after = \"5s\"\nstop_at = \"5s\"", "workload.stop_at"),
            ("backoff_jitter = 2", "workload.backoff_jitter"),
            ("breaker = { failures = 0 }", "workload.breaker.failures"),
            ("open_loop = { rate = -1 }", "workload.open_loop.rate"),
        ];
        for (text, field) in cases {
            let error = parse(text).unwrap().validate(3).unwrap_err();
            assert_eq!(error.field, field, "{text}: {error}");
        }
    }
}
