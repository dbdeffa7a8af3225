//! [`FdSuite`]: the failure detectors as a scenario runs them (`[protocol] name =
//! "failure-detector"`), with their parameters, validation, checks and summary.
//!
//! ```toml
//! [protocol]
//! name = "failure-detector"
//! heartbeat_interval = "1s"          # Akka Cluster's heartbeat-interval
//! check_interval = "50ms"
//! expected_response_after = "1s"     # Akka Cluster's expected-response-after
//! detectors = ["heartbeat", "phi"]   # both by default, side by side on the same heartbeats
//!
//! [protocol.heartbeat]
//! timeout = "4.5s"                   # or: missed = 4 (heartbeats of heartbeat_interval)
//!
//! [protocol.phi]                     # Akka Cluster's failure-detector defaults
//! threshold = 8.0
//! max_sample_size = 1000
//! min_std_deviation = "100ms"
//! acceptable_pause = "3s"
//! first_heartbeat_estimate = "1s"    # default: heartbeat_interval, as Akka Cluster does
//!
//! [checks]
//! completeness_within = "10s"
//! max_false_suspicions = { heartbeat = 0, phi = 0 }   # optional, per detector
//! phi_fewer_false_suspicions = false                  # fd.phi_vs_heartbeat
//! ```
//!
//! There is no client workload: `[workload]` must be empty.

use serde::Deserialize;
use sim_core::check::percentile;

/// Every check the family can run, as `[expect] fails` may name them.
pub const CHECK_NAMES: [&str; 11] = [
    "fd.heartbeat.completeness",
    "fd.heartbeat.accuracy",
    "fd.heartbeat.detection_time",
    "fd.heartbeat.detected_a_failure",
    "fd.phi.completeness",
    "fd.phi.accuracy",
    "fd.phi.detection_time",
    "fd.phi.detected_a_failure",
    "fd.heartbeat.trusted_again",
    "fd.phi.trusted_again",
    "fd.phi_vs_heartbeat",
];
use sim_core::{
    Check, ClusterInfo, Declaration, NodeId, RunInfo, SimDuration, Simulation, Suite, SuiteError,
    Workload,
};

use crate::check::{self, format_duration, CheckConfig, Ledgers, Tally};
use crate::detector::{HeartbeatRule, PhiConfig};
use crate::node::{DetectorKind, FdNode, NodeConfig};

/// The largest phi window accepted, so that a typo cannot ask for gigabytes per peer.
pub const MAX_SAMPLE_SIZE_LIMIT: usize = 1_000_000;

/// `[protocol]`, less `name`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FdParams {
    #[serde(default = "default_heartbeat_interval")]
    pub heartbeat_interval: SimDuration,
    #[serde(default = "default_check_interval")]
    pub check_interval: SimDuration,
    #[serde(default = "default_expected_response_after")]
    pub expected_response_after: SimDuration,
    #[serde(default = "default_detectors")]
    pub detectors: Vec<DetectorKind>,
    #[serde(default)]
    pub heartbeat: HeartbeatParams,
    #[serde(default)]
    pub phi: PhiParams,
}

impl Default for FdParams {
    fn default() -> Self {
        FdParams {
            heartbeat_interval: default_heartbeat_interval(),
            check_interval: default_check_interval(),
            expected_response_after: default_expected_response_after(),
            detectors: default_detectors(),
            heartbeat: HeartbeatParams::default(),
            phi: PhiParams::default(),
        }
    }
}

fn default_heartbeat_interval() -> SimDuration {
    SimDuration::from_secs(1)
}
fn default_check_interval() -> SimDuration {
    SimDuration::from_millis(50)
}
fn default_expected_response_after() -> SimDuration {
    SimDuration::from_secs(1)
}
fn default_detectors() -> Vec<DetectorKind> {
    DetectorKind::ALL.to_vec()
}

/// `[protocol.heartbeat]`: at most one of the two; neither means a 4.5 s timeout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatParams {
    /// Suspect after a silence longer than this.
    pub timeout: Option<SimDuration>,
    /// Suspect after this many heartbeats (of `heartbeat_interval`) are overdue.
    pub missed: Option<u64>,
}

/// The timeout used when `[protocol.heartbeat]` sets neither: where phi with Akka Cluster's
/// defaults suspects a peer whose heartbeats were regular (see [`PhiConfig::suspicion_silence`]).
pub const DEFAULT_HEARTBEAT_TIMEOUT: SimDuration = SimDuration::from_millis(4500);

/// `[protocol.phi]`, defaulted as Akka Cluster's `akka.cluster.failure-detector`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhiParams {
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    #[serde(default = "default_max_sample_size")]
    pub max_sample_size: usize,
    #[serde(default = "default_min_std_deviation")]
    pub min_std_deviation: SimDuration,
    #[serde(default = "default_acceptable_pause")]
    pub acceptable_pause: SimDuration,
    /// Default: `heartbeat_interval`.
    pub first_heartbeat_estimate: Option<SimDuration>,
}

impl Default for PhiParams {
    fn default() -> Self {
        PhiParams {
            threshold: default_threshold(),
            max_sample_size: default_max_sample_size(),
            min_std_deviation: default_min_std_deviation(),
            acceptable_pause: default_acceptable_pause(),
            first_heartbeat_estimate: None,
        }
    }
}

fn default_threshold() -> f64 {
    PhiConfig::default().threshold
}
fn default_max_sample_size() -> usize {
    PhiConfig::default().max_sample_size
}
fn default_min_std_deviation() -> SimDuration {
    PhiConfig::default().min_std_deviation
}
fn default_acceptable_pause() -> SimDuration {
    PhiConfig::default().acceptable_pause
}

/// `[workload]`: the detectors have no clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FdWorkloadParams {}

/// `[checks]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FdCheckParams {
    /// The completeness bound: a failure lasting longer must be suspected within it by every
    /// monitor that is up. It must cover `expected_response_after` plus the detection time, for
    /// monitors that boot while a peer is down.
    #[serde(default = "default_completeness_within")]
    pub completeness_within: SimDuration,
    /// The false suspicions allowed per detector; absent means accuracy is only reported.
    #[serde(default)]
    pub max_false_suspicions: PerDetector,
    /// Require phi to make fewer false suspicions than the fixed timeout (`fd.phi_vs_heartbeat`).
    #[serde(default)]
    pub phi_fewer_false_suspicions: bool,
    /// `fd.<detector>.trusted_again`: a node suspected while up and reachable must be trusted
    /// again within this bound (default: `completeness_within`).
    #[serde(default)]
    pub trust_within: Option<SimDuration>,
}

impl Default for FdCheckParams {
    fn default() -> Self {
        FdCheckParams {
            completeness_within: default_completeness_within(),
            max_false_suspicions: PerDetector::default(),
            phi_fewer_false_suspicions: false,
            trust_within: None,
        }
    }
}

fn default_completeness_within() -> SimDuration {
    SimDuration::from_secs(10)
}

/// A count per detector: `{ heartbeat = 0, phi = 0 }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerDetector {
    pub heartbeat: Option<u64>,
    pub phi: Option<u64>,
}

/// How long after a failure ends a suspicion is late rather than false: a recovered node is heard
/// at its next heartbeat (up to one interval later), once that heartbeat crossed the network and
/// the monitor's next check ran; two intervals and a check cover any latency below an interval.
fn late_grace(params: &FdParams) -> SimDuration {
    params.heartbeat_interval.saturating_mul(2) + params.check_interval
}

/// `fd.<detector>.trusted_again`'s bound: `trust_within`, positive, or the completeness bound.
fn trust_within(checks: &FdCheckParams) -> Result<SimDuration, SuiteError> {
    match checks.trust_within {
        Some(within) => positive("checks.trust_within", within).map(|()| within),
        None => Ok(checks.completeness_within),
    }
}

impl PerDetector {
    /// The counts indexed by `DetectorKind as usize`.
    fn by_detector(&self) -> [Option<u64>; 2] {
        [self.heartbeat, self.phi]
    }
}

/// The failure-detector suite.
pub struct FdSuite {
    node: NodeConfig,
    checks: CheckConfig,
    /// `fd.<detector>.trusted_again`'s bound.
    trust_within: SimDuration,
    ledgers: Ledgers,
}

impl FdSuite {
    /// The configuration every node runs.
    pub fn node_config(&self) -> &NodeConfig {
        &self.node
    }

    pub fn check_config(&self) -> &CheckConfig {
        &self.checks
    }

    /// `detector`'s tallies from the latest finished run of the checks, if it ran.
    pub fn tally(&self, detector: DetectorKind) -> Option<Tally> {
        self.ledgers.borrow()[detector as usize].clone()
    }
}

fn positive(field: &str, value: SimDuration) -> Result<(), SuiteError> {
    if value == SimDuration::ZERO {
        return Err(SuiteError::new(
            field,
            "expected a duration above zero, found 0s",
        ));
    }
    Ok(())
}

impl Suite for FdSuite {
    type P = FdNode;
    type Params = FdParams;
    type WorkloadParams = FdWorkloadParams;
    type CheckParams = FdCheckParams;

    const NAME: &'static str = "failure-detector";

    fn declaration() -> Declaration {
        Declaration {
            events: vec!["suspect", "restore"],
            checks: CHECK_NAMES.to_vec(),
            ..Declaration::default()
        }
    }

    fn new(
        cluster: &ClusterInfo,
        params: FdParams,
        _workload: FdWorkloadParams,
        checks: FdCheckParams,
    ) -> Result<Self, SuiteError> {
        if cluster.node_count < 2 {
            return Err(SuiteError::new(
                "cluster.nodes",
                format!(
                    "a failure detector needs at least 2 nodes to monitor each other, found {}",
                    cluster.node_count
                ),
            ));
        }
        positive("protocol.heartbeat_interval", params.heartbeat_interval)?;
        positive("protocol.check_interval", params.check_interval)?;
        positive(
            "protocol.expected_response_after",
            params.expected_response_after,
        )?;
        if params.detectors.is_empty() {
            return Err(SuiteError::new(
                "protocol.detectors",
                "expected at least one of \"heartbeat\" and \"phi\"",
            ));
        }
        let mut detectors = params.detectors.clone();
        detectors.sort();
        detectors.dedup();
        if detectors.len() != params.detectors.len() {
            return Err(SuiteError::new(
                "protocol.detectors",
                "a detector is listed twice",
            ));
        }
        let heartbeat_enabled = detectors.contains(&DetectorKind::Heartbeat);
        let phi_enabled = detectors.contains(&DetectorKind::Phi);

        let rule = match (params.heartbeat.timeout, params.heartbeat.missed) {
            (Some(_), Some(_)) => {
                return Err(SuiteError::new(
                    "protocol.heartbeat",
                    "set timeout or missed, not both",
                ));
            }
            (Some(timeout), None) => {
                positive("protocol.heartbeat.timeout", timeout)?;
                HeartbeatRule::Timeout(timeout)
            }
            (None, Some(count)) => {
                if count == 0 {
                    return Err(SuiteError::new(
                        "protocol.heartbeat.missed",
                        "expected at least 1 missed heartbeat, found 0",
                    ));
                }
                HeartbeatRule::Missed {
                    count,
                    interval: params.heartbeat_interval,
                }
            }
            (None, None) => HeartbeatRule::Timeout(DEFAULT_HEARTBEAT_TIMEOUT),
        };

        let phi = &params.phi;
        if !(phi.threshold.is_finite() && phi.threshold > 0.0) {
            return Err(SuiteError::new(
                "protocol.phi.threshold",
                format!(
                    "expected a finite number above zero, found {}",
                    phi.threshold
                ),
            ));
        }
        if phi.max_sample_size == 0 || phi.max_sample_size > MAX_SAMPLE_SIZE_LIMIT {
            return Err(SuiteError::new(
                "protocol.phi.max_sample_size",
                format!(
                    "expected 1 to {MAX_SAMPLE_SIZE_LIMIT}, found {}",
                    phi.max_sample_size
                ),
            ));
        }
        positive("protocol.phi.min_std_deviation", phi.min_std_deviation)?;
        let first_heartbeat_estimate = phi
            .first_heartbeat_estimate
            .unwrap_or(params.heartbeat_interval);
        positive(
            "protocol.phi.first_heartbeat_estimate",
            first_heartbeat_estimate,
        )?;
        let phi_config = PhiConfig {
            threshold: phi.threshold,
            max_sample_size: phi.max_sample_size,
            min_std_deviation: phi.min_std_deviation,
            acceptable_pause: phi.acceptable_pause,
            first_heartbeat_estimate,
        };

        positive("checks.completeness_within", checks.completeness_within)?;
        if checks.max_false_suspicions.heartbeat.is_some() && !heartbeat_enabled {
            return Err(SuiteError::new(
                "checks.max_false_suspicions.heartbeat",
                "the heartbeat detector is not in protocol.detectors",
            ));
        }
        if checks.max_false_suspicions.phi.is_some() && !phi_enabled {
            return Err(SuiteError::new(
                "checks.max_false_suspicions.phi",
                "the phi detector is not in protocol.detectors",
            ));
        }
        if checks.phi_fewer_false_suspicions && !(heartbeat_enabled && phi_enabled) {
            return Err(SuiteError::new(
                "checks.phi_fewer_false_suspicions",
                "compares the two detectors, so protocol.detectors must list both",
            ));
        }

        Ok(FdSuite {
            node: NodeConfig {
                heartbeat_interval: params.heartbeat_interval,
                check_interval: params.check_interval,
                expected_response_after: params.expected_response_after,
                heartbeat: heartbeat_enabled.then_some(rule),
                phi: phi_enabled.then_some(phi_config),
            },
            checks: CheckConfig {
                detectors,
                completeness_within: checks.completeness_within,
                grace: late_grace(&params),
                max_false_suspicions: checks.max_false_suspicions.by_detector(),
                phi_fewer_false_suspicions: checks.phi_fewer_false_suspicions,
            },
            trust_within: trust_within(&checks)?,
            ledgers: Ledgers::default(),
        })
    }

    fn process(&self, _node: NodeId) -> FdNode {
        FdNode::new(self.node.clone())
    }

    fn workload(&self) -> Option<Box<dyn Workload<FdNode>>> {
        None
    }

    fn checks(&self) -> Vec<Box<dyn Check<FdNode>>> {
        *self.ledgers.borrow_mut() = [None, None];
        let mut all = check::checks(&self.checks, &self.ledgers);
        // Per-detector checks first, the comparison of the two last.
        let at = all.len() - usize::from(self.checks.phi_fewer_false_suspicions);
        for (i, &detector) in self.checks.detectors.iter().enumerate() {
            let trust = crate::trust::TrustedAgain::new(detector, self.trust_within);
            all.insert(at + i, Box::new(trust));
        }
        all
    }

    /// Per detector, the moments a campaign's coverage counts: failures that lasted past the
    /// bound, true, late and false suspicions (and false ones of a paused node), restores.
    fn figures(&self, _sim: &Simulation<FdNode>, _run: &RunInfo) -> Vec<(String, u64)> {
        let ledgers = self.ledgers.borrow();
        let mut out = Vec::new();
        for &detector in &self.checks.detectors {
            let Some(t) = ledgers[detector as usize].as_ref() else {
                continue;
            };
            for (name, count) in [
                ("long_failures", t.long_failures),
                ("true_suspicions", t.true_suspicions),
                ("late_suspicions", t.late_suspicions),
                ("false_suspicions", t.false_suspicions),
                ("false_of_paused", t.false_of_paused),
                ("restores", t.restores),
            ] {
                out.push((format!("fd.{detector}.{name}"), count));
            }
        }
        out
    }

    /// Per detector: suspicions (true and false), restores, and detection times.
    fn summary(&self, _sim: &Simulation<FdNode>, _run: &RunInfo) -> Vec<(String, String)> {
        let ledgers = self.ledgers.borrow();
        let mut lines = Vec::new();
        for &detector in &self.checks.detectors {
            let Some(tally) = ledgers[detector as usize].as_ref() else {
                continue;
            };
            let sorted = tally.sorted_detection_times();
            let time =
                |p: u32| percentile(&sorted, p).map_or_else(|| "-".to_string(), format_duration);
            lines.push((
                format!("fd.{detector}"),
                format!(
                    "suspicions {} ({} true, {} late, {} false, {:.4} false per pair-minute), restores {}, detection p50 {} p99 {} max {} over {} detections",
                    tally.true_suspicions + tally.late_suspicions + tally.false_suspicions,
                    tally.true_suspicions,
                    tally.late_suspicions,
                    tally.false_suspicions,
                    tally.false_rate_per_pair_minute(),
                    tally.restores,
                    time(50),
                    time(99),
                    time(100),
                    sorted.len()
                ),
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(node_count: usize) -> ClusterInfo {
        ClusterInfo::uniform(
            node_count,
            SimDuration::from_secs(30),
            SimDuration::from_secs(5),
        )
    }

    fn build(protocol: &str, checks: &str) -> Result<FdSuite, SuiteError> {
        let params: FdParams =
            toml::from_str(protocol).map_err(|e| SuiteError::new("protocol", e.to_string()))?;
        let checks: FdCheckParams =
            toml::from_str(checks).map_err(|e| SuiteError::new("checks", e.to_string()))?;
        FdSuite::new(&cluster(5), params, FdWorkloadParams::default(), checks)
    }

    fn field_of(protocol: &str, checks: &str) -> String {
        match build(protocol, checks) {
            Ok(_) => panic!("{protocol:?} / {checks:?} was accepted"),
            Err(error) => error.field,
        }
    }

    /// Empty tables give both detectors with Akka Cluster's defaults.
    #[test]
    fn empty_tables_give_akka_defaults() {
        let suite = build("", "").expect("defaults are valid");
        let node = suite.node_config();
        assert_eq!(node.heartbeat_interval, SimDuration::from_secs(1));
        assert_eq!(
            node.heartbeat,
            Some(HeartbeatRule::Timeout(DEFAULT_HEARTBEAT_TIMEOUT))
        );
        assert_eq!(node.phi, Some(PhiConfig::default()));
        assert_eq!(suite.check_config().detectors, DetectorKind::ALL.to_vec());
        let names: Vec<String> = suite
            .checks()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        // The defaults run every declared check but the comparison of the two detectors.
        assert_eq!(names, CHECK_NAMES[..10]);
        assert_eq!(CHECK_NAMES[10], "fd.phi_vs_heartbeat");
    }

    /// The default fixed timeout is where phi with its defaults suspects a calm peer, rounded.
    #[test]
    fn default_timeout_matches_phi_defaults() {
        let silence = PhiConfig::default().suspicion_silence(SimDuration::from_secs(1));
        assert!(silence.0.abs_diff(DEFAULT_HEARTBEAT_TIMEOUT.0) < SimDuration::from_millis(50).0);
    }

    #[test]
    fn nested_tables_and_the_comparison_parse() {
        let suite = build(
            "heartbeat_interval = \"100ms\"\n[heartbeat]\nmissed = 3\n[phi]\nthreshold = 10.0\nmax_sample_size = 50",
            "completeness_within = \"2s\"\nmax_false_suspicions = { heartbeat = 4, phi = 1 }\nphi_fewer_false_suspicions = true",
        )
        .expect("valid");
        let node = suite.node_config();
        assert_eq!(
            node.heartbeat.map(|r| r.timeout()),
            Some(SimDuration::from_millis(300))
        );
        let phi = node.phi.expect("phi is enabled");
        assert_eq!(phi.threshold, 10.0);
        assert_eq!(
            phi.first_heartbeat_estimate,
            SimDuration::from_millis(100),
            "defaults to the interval"
        );
        assert_eq!(
            suite.check_config().max_false_suspicions,
            [Some(4), Some(1)]
        );
        assert_eq!(
            suite.checks().last().map(|c| c.name().to_string()),
            Some("fd.phi_vs_heartbeat".to_string())
        );
    }

    #[test]
    fn bad_parameters_name_their_field() {
        assert_eq!(
            field_of("heartbeat_interval = \"0s\"", ""),
            "protocol.heartbeat_interval"
        );
        assert_eq!(
            field_of("check_interval = \"0s\"", ""),
            "protocol.check_interval"
        );
        assert_eq!(field_of("detectors = []", ""), "protocol.detectors");
        assert_eq!(
            field_of("detectors = [\"phi\", \"phi\"]", ""),
            "protocol.detectors"
        );
        assert_eq!(
            field_of("[heartbeat]\ntimeout = \"0s\"", ""),
            "protocol.heartbeat.timeout"
        );
        assert_eq!(
            field_of("[heartbeat]\nmissed = 0", ""),
            "protocol.heartbeat.missed"
        );
        assert_eq!(
            field_of("[heartbeat]\nmissed = 2\ntimeout = \"1s\"", ""),
            "protocol.heartbeat"
        );
        assert_eq!(
            field_of("[phi]\nthreshold = 0.0", ""),
            "protocol.phi.threshold"
        );
        assert_eq!(
            field_of("[phi]\nthreshold = -1.0", ""),
            "protocol.phi.threshold"
        );
        assert_eq!(
            field_of("[phi]\nmax_sample_size = 0", ""),
            "protocol.phi.max_sample_size"
        );
        assert_eq!(
            field_of("[phi]\nmin_std_deviation = \"0s\"", ""),
            "protocol.phi.min_std_deviation"
        );
        assert_eq!(
            field_of("[phi]\nfirst_heartbeat_estimate = \"0s\"", ""),
            "protocol.phi.first_heartbeat_estimate"
        );
        assert_eq!(
            field_of("", "completeness_within = \"0s\""),
            "checks.completeness_within"
        );
        assert_eq!(
            field_of(
                "detectors = [\"heartbeat\"]",
                "max_false_suspicions = { phi = 1 }"
            ),
            "checks.max_false_suspicions.phi"
        );
        assert_eq!(
            field_of("detectors = [\"phi\"]", "phi_fewer_false_suspicions = true"),
            "checks.phi_fewer_false_suspicions"
        );
    }

    #[test]
    fn unknown_fields_and_detectors_are_rejected() {
        assert!(toml::from_str::<FdParams>("heartbeat_intervall = \"1s\"").is_err());
        assert!(toml::from_str::<FdParams>("detectors = [\"swim\"]").is_err());
        assert!(toml::from_str::<FdParams>("[phi]\nwindow = 10").is_err());
        assert!(toml::from_str::<FdCheckParams>("max_false_suspicions = { gossip = 1 }").is_err());
        assert!(toml::from_str::<FdWorkloadParams>("clients = 3").is_err());
        assert!(toml::from_str::<FdWorkloadParams>("").is_ok());
    }

    #[test]
    fn a_single_node_is_rejected() {
        let error = FdSuite::new(
            &cluster(1),
            FdParams::default(),
            FdWorkloadParams::default(),
            FdCheckParams::default(),
        );
        assert_eq!(
            error.err().map(|e| e.field),
            Some("cluster.nodes".to_string())
        );
    }
}
