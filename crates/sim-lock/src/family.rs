//! What the lock family declares to the tool, and how it builds each node by its kind:
//! [`LockSuite`], `[protocol] name = "lock"`.
//!
//! Scenario tables, each rejecting unknown keys:
//! - `[cluster] kinds = { server = 3, client = 3, resource = 1 }`: one or more servers (Raft
//!   replicas, or the majority lock's independent servers), one or more clients, exactly one
//!   resource.
//! - `[protocol]`: `mode` (`"raft"`, default, or `"majority"`), `fencing` (default `true`),
//!   `ttl` (`"1s"`), `keepalive` (raft mode; a quarter of the ttl), `drift_allowance` (majority
//!   mode; 1% of the ttl plus 2ms), `election_timeout`
//!   (`["150ms", "300ms"]`), `heartbeat_interval` (`"50ms"`), `bugs` (see [`crate::bugs`]).
//! - `[workload]`: `think` (`["50ms", "300ms"]`), `work` (`"40ms"`), `writes_per_hold` (`3`),
//!   `read_fraction` (raft mode, `0.0`), `locks` (`1`), `counter_fraction` (raft mode, `0.2`),
//!   `request_timeout`
//!   (`"200ms"`).
//! - `[checks]`: `grant_within` (`"10s"`), `release_within` (`"2s"`), `linearizability`
//!   (`true`), `state_budget` (`2000000`), `converge_within` (`"8s"`).

use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use sim_core::{
    Check, ClusterInfo, Declaration, NodeId, RunInfo, SimDuration, Simulation, Suite, SuiteError,
    Workload,
};
use sim_raft::RaftEvent;

use crate::bugs::{Bug, BugSet};
use crate::checks::{self, CheckParams, Record, SharedRecord};
use crate::config::{Config, ServiceMode};
use crate::node::{LockEvent, LockNode};

/// `[protocol]` less its name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub mode: ServiceMode,
    pub fencing: bool,
    pub ttl: SimDuration,
    /// Raft mode only; default a quarter of the ttl.
    pub keepalive: Option<SimDuration>,
    /// Majority mode only; default 1% of the ttl plus 2ms (Redlock's advice).
    pub drift_allowance: Option<SimDuration>,
    pub election_timeout: [SimDuration; 2],
    pub heartbeat_interval: SimDuration,
    pub bugs: Vec<Bug>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            mode: ServiceMode::Raft,
            fencing: true,
            ttl: SimDuration::from_secs(1),
            keepalive: None,
            drift_allowance: None,
            election_timeout: [SimDuration::from_millis(150), SimDuration::from_millis(300)],
            heartbeat_interval: SimDuration::from_millis(50),
            bugs: Vec::new(),
        }
    }
}

/// `[workload]`: what the lock clients do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadParams {
    pub think: [SimDuration; 2],
    pub work: SimDuration,
    pub writes_per_hold: u32,
    /// Raft mode only (default 0).
    pub read_fraction: Option<f64>,
    pub locks: usize,
    /// Raft mode only (default 0.2).
    pub counter_fraction: Option<f64>,
    pub request_timeout: SimDuration,
}

impl Default for WorkloadParams {
    fn default() -> Self {
        WorkloadParams {
            think: [SimDuration::from_millis(50), SimDuration::from_millis(300)],
            work: SimDuration::from_millis(40),
            writes_per_hold: 3,
            read_fraction: None,
            locks: 1,
            counter_fraction: None,
            request_timeout: SimDuration::from_millis(200),
        }
    }
}

/// The lock family.
pub struct LockSuite {
    config: Arc<Config>,
    checks: CheckParams,
    /// The record the latest `checks()` call's checks fill, for `summary()` and `figures()`.
    record: Mutex<SharedRecord>,
}

fn positive(field: &str, value: SimDuration) -> Result<(), SuiteError> {
    if value == SimDuration::ZERO {
        return Err(SuiteError::new(
            field,
            "expected a positive duration, found 0s",
        ));
    }
    Ok(())
}

fn fraction(field: &str, value: f64) -> Result<(), SuiteError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(SuiteError::new(
            field,
            format!("expected a number in [0, 1], found {value}"),
        ));
    }
    Ok(())
}

impl LockSuite {
    /// The run's settings, as the nodes and checks see them.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    fn record(&self) -> Record {
        let shared = self
            .record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let record = shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        record
    }

    /// The `[protocol]` settings together; a setting that takes effect only in the other mode
    /// (in `[protocol]` or `[workload]`) is an error.
    fn validate_params(params: &Params, workload: &WorkloadParams) -> Result<(), SuiteError> {
        positive("protocol.ttl", params.ttl)?;
        let raft = params.mode == ServiceMode::Raft;
        let misplaced = [
            (
                "protocol.keepalive",
                params.keepalive.is_some() && !raft,
                "raft",
            ),
            (
                "protocol.drift_allowance",
                params.drift_allowance.is_some() && raft,
                "majority",
            ),
            (
                "workload.read_fraction",
                workload.read_fraction.is_some() && !raft,
                "raft",
            ),
            (
                "workload.counter_fraction",
                workload.counter_fraction.is_some() && !raft,
                "raft",
            ),
        ];
        for (field, set, mode) in misplaced {
            if set {
                return Err(SuiteError::new(
                    field,
                    format!("takes effect only with mode = \"{mode}\""),
                ));
            }
        }
        let keepalive = params
            .keepalive
            .unwrap_or(SimDuration::from_nanos(params.ttl.as_nanos() / 4));
        positive("protocol.keepalive", keepalive)?;
        if keepalive >= params.ttl {
            return Err(SuiteError::new(
                "protocol.keepalive",
                format!(
                    "expected less than the ttl ({}), found {keepalive}: sessions would expire between keep-alives",
                    params.ttl
                ),
            ));
        }
        if let Some(drift) = params.drift_allowance.filter(|&d| d >= params.ttl) {
            return Err(SuiteError::new(
                "protocol.drift_allowance",
                format!("expected less than the ttl ({}), found {drift}", params.ttl),
            ));
        }
        Ok(())
    }

    /// The `[workload]` settings.
    fn validate_workload(workload: &WorkloadParams) -> Result<(), SuiteError> {
        let [low, high] = workload.think;
        positive("workload.think", low)?;
        if low > high {
            return Err(SuiteError::new(
                "workload.think",
                format!("the minimum {low} exceeds the maximum {high}"),
            ));
        }
        positive("workload.work", workload.work)?;
        positive("workload.request_timeout", workload.request_timeout)?;
        fraction(
            "workload.read_fraction",
            workload.read_fraction.unwrap_or(0.0),
        )?;
        fraction(
            "workload.counter_fraction",
            workload.counter_fraction.unwrap_or(0.0),
        )?;
        if !(1..=16).contains(&workload.locks) {
            return Err(SuiteError::new(
                "workload.locks",
                format!("expected 1 to 16 locks, found {}", workload.locks),
            ));
        }
        Ok(())
    }

    fn validate(
        cluster: &ClusterInfo,
        params: &Params,
        workload: &WorkloadParams,
    ) -> Result<(Vec<NodeId>, Vec<NodeId>, NodeId), SuiteError> {
        let servers: Vec<NodeId> = cluster.nodes_of_kind("server").collect();
        let clients: Vec<NodeId> = cluster.nodes_of_kind("client").collect();
        let resources: Vec<NodeId> = cluster.nodes_of_kind("resource").collect();
        if servers.is_empty() {
            return Err(SuiteError::new(
                "cluster.kinds.server",
                "expected at least 1 server, found 0",
            ));
        }
        if clients.is_empty() {
            return Err(SuiteError::new(
                "cluster.kinds.client",
                "expected at least 1 client, found 0",
            ));
        }
        let [resource] = resources[..] else {
            return Err(SuiteError::new(
                "cluster.kinds.resource",
                format!("expected exactly 1 resource, found {}", resources.len()),
            ));
        };
        Self::validate_params(params, workload)?;
        Self::validate_workload(workload)?;
        Ok((servers, clients, resource))
    }
}

impl Suite for LockSuite {
    type P = LockNode;
    type Params = Params;
    type WorkloadParams = WorkloadParams;
    type CheckParams = CheckParams;

    const NAME: &'static str = "lock";

    fn declaration() -> Declaration {
        let mut events: Vec<&'static str> = LockEvent::NAMES.to_vec();
        events.extend(RaftEvent::NAMES);
        Declaration {
            kinds: vec!["server", "client", "resource"],
            roles: vec!["leader", "follower", "candidate", "holder"],
            nemesis_roles: vec!["leader", "holder"],
            events,
            checks: checks::NAMES.to_vec(),
            bugs: Bug::ALL.iter().map(|b| b.name()).collect(),
        }
    }

    fn new(
        cluster: &ClusterInfo,
        params: Params,
        workload: WorkloadParams,
        checks: CheckParams,
    ) -> Result<Self, SuiteError> {
        let (servers, clients, resource) = Self::validate(cluster, &params, &workload)?;
        checks.validate()?;
        let raft = sim_raft::Params {
            election_timeout: params.election_timeout,
            heartbeat_interval: params.heartbeat_interval,
            ..sim_raft::Params::default()
        }
        .validate()?;
        let config = Config {
            mode: params.mode,
            fencing: params.fencing,
            servers,
            clients,
            resource,
            ttl: params.ttl,
            keepalive: params
                .keepalive
                .unwrap_or(SimDuration::from_nanos(params.ttl.as_nanos() / 4)),
            drift_allowance: params.drift_allowance.unwrap_or(SimDuration::from_nanos(
                params.ttl.as_nanos() / 100 + 2_000_000,
            )),
            request_timeout: workload.request_timeout,
            think: workload.think,
            work: workload.work,
            writes_per_hold: workload.writes_per_hold,
            read_fraction: workload.read_fraction.unwrap_or(0.0),
            locks: (1..=workload.locks).map(|i| format!("L{i}")).collect(),
            counter_fraction: match params.mode {
                ServiceMode::Raft => workload.counter_fraction.unwrap_or(0.2),
                ServiceMode::Majority => 0.0,
            },
            bugs: BugSet::new(params.bugs),
            raft: Arc::new(raft),
        };
        Ok(LockSuite {
            config: Arc::new(config),
            checks,
            record: Mutex::new(SharedRecord::default()),
        })
    }

    fn process(&self, node: NodeId) -> LockNode {
        LockNode::build(&self.config, node)
    }

    fn workload(&self) -> Option<Box<dyn Workload<LockNode>>> {
        None
    }

    fn checks(&self) -> Vec<Box<dyn Check<LockNode>>> {
        let shared = SharedRecord::default();
        *self.record.lock().unwrap_or_else(PoisonError::into_inner) = shared.clone();
        checks::checks(&self.config, &self.checks, shared)
    }

    fn summary(&self, _sim: &Simulation<LockNode>, _run: &RunInfo) -> Vec<(String, String)> {
        self.record().summary(&self.config)
    }

    fn figures(&self, _sim: &Simulation<LockNode>, _run: &RunInfo) -> Vec<(String, u64)> {
        self.record().figures()
    }
}

#[cfg(test)]
mod tests {
    use sim_core::{Event, Suite};

    use super::*;

    fn cluster() -> ClusterInfo {
        let mut info = ClusterInfo::uniform(5, SimDuration::from_secs(10), SimDuration::ZERO);
        info.node_kinds = ["server", "server", "server", "client", "resource"]
            .map(String::from)
            .to_vec();
        info
    }

    fn build(protocol: &str, workload: &str) -> Result<LockSuite, SuiteError> {
        let params: Params = toml::from_str(protocol).unwrap_or_else(|e| panic!("{e}"));
        let workload: WorkloadParams = toml::from_str(workload).unwrap_or_else(|e| panic!("{e}"));
        LockSuite::new(&cluster(), params, workload, CheckParams::default())
    }

    /// A setting that cannot take effect in the chosen mode is an error at its field.
    #[test]
    fn a_setting_of_the_other_mode_is_an_error_at_its_field() {
        let cases = [
            (
                "mode = \"majority\"\nkeepalive = \"100ms\"",
                "",
                "protocol.keepalive",
            ),
            ("drift_allowance = \"5ms\"", "", "protocol.drift_allowance"),
            (
                "mode = \"majority\"",
                "read_fraction = 0.5",
                "workload.read_fraction",
            ),
            ("ttl = \"1s\"\nkeepalive = \"1s\"", "", "protocol.keepalive"),
            ("", "read_fraction = 1.5", "workload.read_fraction"),
        ];
        for (protocol, workload, field) in cases {
            let error = build(protocol, workload).err();
            assert_eq!(
                error.map(|e| e.field),
                Some(field.to_string()),
                "{protocol} / {workload}"
            );
        }
        assert!(build("mode = \"majority\"", "").is_ok());
    }

    #[test]
    fn the_cluster_needs_exactly_one_resource() {
        let mut info = cluster();
        info.node_kinds[4] = "client".to_string();
        let error = LockSuite::new(
            &info,
            Params::default(),
            WorkloadParams::default(),
            CheckParams::default(),
        )
        .err();
        assert_eq!(
            error.map(|e| e.field),
            Some("cluster.kinds.resource".to_string())
        );
    }

    /// Every event name a node reports is declared, so `on_event` may name it.
    #[test]
    fn the_declaration_names_every_event_and_check() {
        let declared = LockSuite::declaration();
        let event = LockEvent::Freed {
            lock: "L1".into(),
            session: 1,
            token: 2,
        };
        assert!(declared.events.contains(&event.name()));
        assert!(declared.events.contains(&"became_leader"));
        let suite = build("", "").unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = suite
            .checks()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        for name in names {
            assert!(declared.checks.contains(&name.as_str()), "{name}");
        }
    }
}
