//! Writing a scenario back out as a TOML file that a person can read and edit.
//!
//! [`to_toml`] renders any [`Scenario`] as a file that parses back to the same scenario: every
//! parameter explicit (node names, network, latency, the protocol's tables) and every fault in
//! schedule order. [`explicit`] first makes a run's randomness explicit: the parameters a seed
//! sampled from ranges and the faults the nemesis drew, so the file replays that run bit for
//! bit with the same seed, and can then be edited fault by fault (`sim run --emit-scenario`,
//! `sim shrink`). Comments of the original file are not kept; a header says where it came from.

use serde::Serialize;
use sim_core::{Declaration, Latency, NodeId, SimDuration, SimTime};

use crate::fault::{signed_duration, Action, FaultSpec, Shape, Target, Trigger};
use crate::{Scenario, ScenarioError};

/// The member of `scenario`'s family that `seed` runs, with the fault phase replaced by
/// `duration` if given, and its schedule materialised with the nemesis aimed at `roles` (the
/// family's nemesis roles): no ranges, no nemesis, every fault explicit. Run with the same seed,
/// it gives the same run as `scenario` (the same trace hash).
pub fn explicit(
    scenario: &Scenario,
    seed: u64,
    duration: Option<SimDuration>,
    roles: &[&str],
) -> Result<Scenario, ScenarioError> {
    let mut s = scenario.sample(seed)?;
    if let Some(d) = duration {
        s = s.with_duration(d)?;
    }
    let end = s.fault_end();
    let kinds = s.node_kinds.clone();
    let node_count = s.node_count();
    // A time-triggered fault after the fault phase never fires; a file may not even say it. A
    // partition the nemesis drew that this cluster is too small to form (a bridge of two nodes)
    // is no part of the run (the driver skips it, outside the trace), and a file may not say it.
    let formable = |f: &FaultSpec| match &f.action {
        Action::Partition { shape, .. } => shape
            .problem(node_count, |kind| {
                kinds.iter().filter(|k| *k == kind).count()
            })
            .is_none(),
        _ => true,
    };
    s.faults = s
        .schedule(seed, roles)
        .into_iter()
        .filter(|f| !matches!(f.trigger, Trigger::At(t) if t > end))
        .filter(formable)
        .collect();
    s.nemesis = None;
    reparse(&s)
}

/// `scenario` written out and parsed again: the scenario exactly as its file says it, with
/// `text` set to that file. Tools that edit a scenario's fields call this to get a consistent
/// one.
pub fn reparse(scenario: &Scenario) -> Result<Scenario, ScenarioError> {
    Scenario::parse(&scenario.file, &to_toml(scenario, ""))
}

/// `scenario` as a TOML file, `header` (any number of lines) first as comments.
pub fn to_toml(scenario: &Scenario, header: &str) -> String {
    let names = &scenario.node_names;
    let mut protocol = toml::Table::new();
    protocol.insert(
        "name".to_string(),
        toml::Value::String(scenario.protocol.clone()),
    );
    for (k, v) in scenario.protocol_table() {
        protocol.insert(k.clone(), v.clone());
    }
    let doc = Doc {
        name: &scenario.name,
        description: &scenario.description,
        duration: scenario.duration,
        quiet: scenario.quiet,
        max_events: scenario.max_events,
        cluster: cluster(scenario),
        protocol,
        network: Network {
            latency: latency(&scenario.network.latency),
            drop: scenario.network.drop_probability,
            duplicate: scenario.network.duplicate_probability,
            client_latency: latency(&scenario.client_latency),
        },
        workload: scenario.workload_table().clone(),
        checks: scenario.checks_table().clone(),
        faults: scenario.faults.iter().map(|f| fault(f, names)).collect(),
        nemesis: scenario.nemesis.as_ref().map(|n| Nemesis {
            kinds: n.kinds.iter().map(|k| k.name()).collect(),
            interval: n.interval,
            fault_duration: n.fault_duration,
            start_after: n.start_after,
        }),
        expect: scenario.expect.as_ref().map(|e| ExpectOut {
            fails: &e.fails,
            within_seeds: e.within_seeds,
        }),
    };
    let body = toml::to_string(&doc).unwrap_or_else(|e| {
        // Every field above is representable in TOML; this is a bug of this module.
        unreachable!("a scenario always renders as TOML: {e}")
    });
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&body);
    out
}

#[derive(Serialize)]
struct Doc<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    duration: SimDuration,
    quiet: SimDuration,
    max_events: u64,
    cluster: Cluster,
    protocol: toml::Table,
    network: Network,
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    workload: toml::Table,
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    checks: toml::Table,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    faults: Vec<Fault>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nemesis: Option<Nemesis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expect: Option<ExpectOut<'a>>,
}

#[derive(Serialize)]
struct ExpectOut<'a> {
    fails: &'a str,
    within_seeds: u64,
}

#[derive(Serialize)]
struct Cluster {
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kinds: Option<KindCounts>,
}

/// `[cluster]`: a count when the names are the default ones, the names otherwise, and the
/// kinds when any node is of another kind than the default. With kinds the names are always
/// written, so the file says each node's name beside the counts (a `[cluster.kinds]` table
/// alone would read the same: `section.rs`).
fn cluster(scenario: &Scenario) -> Cluster {
    let names = &scenario.node_names;
    let default_names = names
        .iter()
        .enumerate()
        .all(|(i, n)| *n == format!("n{}", i + 1));
    let kinds = scenario
        .node_kinds
        .iter()
        .any(|k| k != Declaration::DEFAULT_KIND)
        .then(|| KindCounts::of(&scenario.node_kinds));
    Cluster {
        nodes: (default_names && kinds.is_none()).then_some(names.len()),
        names: (!default_names || kinds.is_some()).then(|| names.clone()),
        kinds,
    }
}

/// Node counts by kind, in node order (nodes are numbered kind by kind, so a kind's nodes
/// follow one another in any scenario a file described).
struct KindCounts(Vec<(String, usize)>);

impl KindCounts {
    fn of(node_kinds: &[String]) -> KindCounts {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for kind in node_kinds {
            match counts.iter_mut().find(|(k, _)| k == kind) {
                Some((_, count)) => *count += 1,
                None => counts.push((kind.clone(), 1)),
            }
        }
        KindCounts(counts)
    }
}

/// A map in the kinds' order (a `toml::Table` would sort them by name).
impl Serialize for KindCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (kind, count) in &self.0 {
            map.serialize_entry(kind, count)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Network {
    latency: LatencyOut,
    drop: f64,
    duplicate: f64,
    client_latency: LatencyOut,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LatencyOut {
    Fixed(SimDuration),
    Range {
        min: SimDuration,
        max: SimDuration,
        #[serde(skip_serializing_if = "Option::is_none")]
        tail_probability: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tail_scale: Option<SimDuration>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tail_shape: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tail_max: Option<SimDuration>,
    },
}

fn latency(l: &Latency) -> LatencyOut {
    match *l {
        Latency::Fixed(d) => LatencyOut::Fixed(d),
        Latency::Uniform { min, max } => LatencyOut::Range {
            min,
            max,
            tail_probability: None,
            tail_scale: None,
            tail_shape: None,
            tail_max: None,
        },
        Latency::LongTail {
            min,
            max,
            tail_probability,
            tail_scale,
            tail_shape,
            tail_max,
        } => LatencyOut::Range {
            min,
            max,
            tail_probability: Some(tail_probability),
            tail_scale: Some(tail_scale),
            tail_shape: Some(tail_shape),
            tail_max: Some(tail_max),
        },
    }
}

#[derive(Serialize, Default)]
struct Fault {
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<SimDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    occurrence: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<SimDuration>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shape: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    one_way: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_after: Option<SimDuration>,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<SimDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drift_ppm: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    heal_after: Option<SimDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drop: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency: Option<LatencyOut>,
}

#[derive(Serialize)]
struct Nemesis {
    kinds: Vec<&'static str>,
    interval: [SimDuration; 2],
    fault_duration: [SimDuration; 2],
    start_after: SimDuration,
}

fn since_zero(t: SimTime) -> SimDuration {
    SimDuration(t.0)
}

fn name_of(names: &[String], node: NodeId) -> String {
    names
        .get(node.index())
        .cloned()
        .unwrap_or_else(|| node.to_string())
}

/// Sets `node` or `nodes` for a target.
fn target(out: &mut Fault, t: &Target, names: &[String]) {
    match t {
        Target::Nodes(nodes) if nodes.len() == 1 => out.node = Some(name_of(names, nodes[0])),
        Target::Nodes(nodes) => {
            out.nodes = Some(nodes.iter().map(|&n| name_of(names, n)).collect());
        }
        Target::Role(role) if role == "leader" => out.node = Some("leader".into()),
        Target::Role(role) => out.node = Some(format!("role:{role}")),
        Target::Random => out.node = Some("random".into()),
        Target::Kind(_) | Target::RandomOfKind(_) | Target::Client(_) => {
            out.node = Some(t.to_string())
        }
        Target::Minority => out.node = Some("minority".into()),
        Target::Reporter => out.node = Some("reporter".into()),
    }
}

/// Sets `shape` and its `node` or `groups`.
fn partition(out: &mut Fault, shape: &Shape, names: &[String]) {
    match shape {
        Shape::Isolate(t) => {
            out.shape = Some("isolate");
            target(out, t, names);
        }
        Shape::Split(groups) => {
            out.shape = Some("split");
            out.groups = Some(
                groups
                    .iter()
                    .map(|g| g.iter().map(|&n| name_of(names, n)).collect())
                    .collect(),
            );
        }
        Shape::Halves => out.shape = Some("halves"),
        Shape::MajorityRing => out.shape = Some("majority-ring"),
        Shape::Bridge => out.shape = Some("bridge"),
        Shape::RingOf(order) | Shape::BridgeOf(order) => {
            let ring = matches!(shape, Shape::RingOf(_));
            out.shape = Some(if ring { "majority-ring" } else { "bridge" });
            out.nodes = Some(order.iter().map(|&n| name_of(names, n)).collect());
        }
    }
}

fn fault(f: &FaultSpec, names: &[String]) -> Fault {
    let mut out = Fault {
        kind: f.action.kind(),
        ..Fault::default()
    };
    match &f.trigger {
        Trigger::At(t) => out.at = Some(since_zero(*t)),
        Trigger::OnEvent {
            event,
            occurrence,
            not_before,
        } => {
            out.on_event = Some(event.clone());
            out.occurrence = (*occurrence != 1).then_some(*occurrence);
            out.not_before = (*not_before > SimTime::ZERO).then(|| since_zero(*not_before));
        }
    }
    match &f.action {
        Action::Crash {
            target: t,
            restart_after,
        } => {
            target(&mut out, t, names);
            out.restart_after = *restart_after;
        }
        Action::Restart { target: t } => target(&mut out, t, names),
        Action::Pause {
            target: t,
            duration,
        } => {
            target(&mut out, t, names);
            out.for_ = Some(*duration);
        }
        Action::Partition {
            shape,
            one_way,
            heal_after,
        } => {
            partition(&mut out, shape, names);
            out.one_way = one_way.then_some(true);
            out.heal_after = *heal_after;
        }
        Action::Heal => {}
        Action::Clock {
            target: t,
            offset_ns,
            drift_ppm,
            heal_after,
        } => {
            target(&mut out, t, names);
            out.offset = Some(signed_duration(*offset_ns));
            out.drift_ppm = Some(*drift_ppm);
            out.heal_after = *heal_after;
        }
        Action::Network {
            network,
            heal_after,
        } => {
            // All three are written, so the fault does not depend on the base network.
            out.latency = Some(latency(&network.latency));
            out.drop = Some(network.drop_probability);
            out.duplicate = Some(network.duplicate_probability);
            out.heal_after = *heal_after;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RICH: &str = r#"
name = "rich"
description = "every kind of fault"
duration = "30s"
quiet = "5s"
max_events = 1000000

[cluster]
names = ["a", "b", "c", "d", "e"]

[protocol]
name = "failure-detector"
heartbeat_interval = "200ms"
heartbeat = { timeout = "1s" }

[network]
latency = { min = "1ms", max = "3ms", tail_probability = 0.02, tail_scale = "20ms", tail_shape = 1.5, tail_max = "1s" }
drop = 0.0125
duplicate = 0.1
client_latency = "2ms"

[checks]
completeness_within = "4s"
max_false_suspicions = { heartbeat = 3 }

[[faults]]
at = "1s"
kind = "crash"
node = "leader"
restart_after = "2s"

[[faults]]
at = "2.5s"
kind = "partition"
shape = "split"
groups = [["a", "b"], ["c"]]
one_way = true
heal_after = "1s"

[[faults]]
at = "3s"
kind = "clock"
nodes = ["c", "d"]
offset = "-300ms"
drift_ppm = 20000
heal_after = "4s"

[[faults]]
at = "4s"
kind = "network"
latency = "7ms"
drop = 0.3
heal_after = "1s"

[[faults]]
at = "5s"
kind = "pause"
node = "random"
for = "1.5s"

[[faults]]
at = "6s"
kind = "partition"
shape = "majority-ring"

[[faults]]
at = "7s"
kind = "heal"

[[faults]]
on_event = "suspected"
occurrence = 3
not_before = "2s"
kind = "partition"
shape = "isolate"
node = "reporter"
heal_after = "1s"

[nemesis]
kinds = ["crash", "pause", "partition", "clock", "network"]
interval = ["1s", "2s"]
fault_duration = ["500ms", "1s"]
start_after = "8s"
"#;

    fn same(a: &Scenario, b: &Scenario) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.description, b.description);
        assert_eq!(a.node_names, b.node_names);
        assert_eq!(a.node_kinds, b.node_kinds);
        assert_eq!(a.expect, b.expect);
        assert_eq!(a.duration, b.duration);
        assert_eq!(a.quiet, b.quiet);
        assert_eq!(a.max_events, b.max_events);
        assert_eq!(a.protocol, b.protocol);
        assert_eq!(a.network, b.network);
        assert_eq!(a.client_latency, b.client_latency);
        assert_eq!(a.nemesis, b.nemesis);
        assert_eq!(a.protocol_table(), b.protocol_table());
        assert_eq!(a.workload_table(), b.workload_table());
        assert_eq!(a.checks_table(), b.checks_table());
        let strip = |s: &Scenario| -> Vec<(Trigger, Action)> {
            s.faults
                .iter()
                .map(|f| (f.trigger.clone(), f.action.clone()))
                .collect()
        };
        assert_eq!(strip(a), strip(b));
    }

    #[test]
    fn a_scenario_written_out_parses_back_to_itself() {
        let s = Scenario::parse("rich.toml", RICH).expect("valid");
        let text = to_toml(&s, "emitted for a test\nsecond line");
        assert!(
            text.starts_with("# emitted for a test\n# second line\n"),
            "{text}"
        );
        let again = Scenario::parse("again.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        same(&s, &again);
    }

    #[test]
    fn explicit_materialises_the_nemesis_in_schedule_order() {
        let s = Scenario::parse("rich.toml", RICH).expect("valid");
        for seed in [1, 2, 3] {
            let e = explicit(&s, seed, None, &["leader"]).expect("explicit");
            assert!(e.nemesis.is_none());
            let scheduled: Vec<FaultSpec> = s.schedule(seed, &["leader"]);
            let strip = |v: &[FaultSpec]| -> Vec<(Trigger, Action)> {
                v.iter()
                    .map(|f| (f.trigger.clone(), f.action.clone()))
                    .collect()
            };
            assert_eq!(strip(&e.schedule(seed, &["leader"])), strip(&scheduled));
            assert!(e.faults.len() > 8, "the nemesis drew nothing");
        }
    }

    /// A shortened fault phase keeps every explicit fault (one it would drop is an error) and
    /// drops the nemesis's faults past its end.
    #[test]
    fn explicit_keeps_the_faults_of_a_shortened_fault_phase_or_refuses() {
        let s = Scenario::parse("rich.toml", RICH).expect("valid");
        let e = explicit(&s, 1, Some(SimDuration::from_secs(9)), &["leader"]).expect("explicit");
        assert_eq!(e.duration, SimDuration::from_secs(9));
        assert!(
            e.faults.len() >= s.faults.len(),
            "an explicit fault was dropped"
        );
        assert!(e
            .faults
            .iter()
            .all(|f| !matches!(f.trigger, Trigger::At(t) if t > SimTime::ZERO + e.duration)));
        let error = explicit(&s, 1, Some(SimDuration::from_secs(3)), &["leader"])
            .expect_err("the faults at 4s to 7s would be dropped");
        assert_eq!(error.field, "faults[3].at");
    }
}
