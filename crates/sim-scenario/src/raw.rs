//! The scenario file as written: serde structs that mirror the TOML, with spans kept where a
//! later check must point at a line. Unknown fields are errors everywhere.

use serde::Deserialize;
use sim_core::SimDuration;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub duration: Spanned<SimDuration>,
    pub quiet: Option<Spanned<SimDuration>>,
    pub max_events: Option<Spanned<i64>>,
    pub cluster: Spanned<RawCluster>,
    pub protocol: Spanned<toml::Table>,
    #[serde(default)]
    pub network: Option<Spanned<RawNetwork>>,
    #[serde(default)]
    pub workload: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub checks: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub faults: Vec<Spanned<RawFault>>,
    #[serde(default)]
    pub nemesis: Option<Spanned<RawNemesis>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub nodes: Option<Spanned<i64>>,
    pub names: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub latency: Option<Spanned<RawLatency>>,
    pub drop: Option<Spanned<f64>>,
    pub duplicate: Option<Spanned<f64>>,
    pub client_latency: Option<Spanned<RawLatency>>,
}

#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(untagged)]
pub enum RawLatency {
    Fixed(SimDuration),
    Range(RawLatencyRange),
}

#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawLatencyRange {
    pub min: SimDuration,
    pub max: SimDuration,
    pub tail_probability: Option<f64>,
    pub tail_scale: Option<SimDuration>,
    pub tail_shape: Option<f64>,
    pub tail_max: Option<SimDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub at: Option<Spanned<SimDuration>>,
    pub on_event: Option<Spanned<String>>,
    pub occurrence: Option<Spanned<i64>>,
    pub not_before: Option<Spanned<SimDuration>>,
    pub kind: Spanned<String>,
    pub node: Option<Spanned<String>>,
    pub nodes: Option<Spanned<Vec<Spanned<String>>>>,
    pub restart_after: Option<Spanned<SimDuration>>,
    #[serde(rename = "for")]
    pub for_: Option<Spanned<SimDuration>>,
    pub shape: Option<Spanned<String>>,
    pub groups: Option<Spanned<Vec<Vec<Spanned<String>>>>>,
    pub one_way: Option<bool>,
    pub heal_after: Option<Spanned<SimDuration>>,
    pub offset: Option<Spanned<String>>,
    pub drift_ppm: Option<Spanned<i64>>,
    pub latency: Option<Spanned<RawLatency>>,
    pub drop: Option<Spanned<f64>>,
    pub duplicate: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNemesis {
    pub kinds: Spanned<Vec<Spanned<String>>>,
    pub interval: Spanned<[SimDuration; 2]>,
    pub fault_duration: Spanned<[SimDuration; 2]>,
    pub start_after: Option<Spanned<SimDuration>>,
}
