//! The nemesis: a random fault schedule, drawn from the run's seed and written out explicitly.
//!
//! Faults follow one another: each starts after a random interval, lasts a random time, and is
//! healed before the next starts. Node targets are resolved here, so the materialised list says
//! exactly what will happen, except roles, which only the running protocol can answer: half the
//! crashes and pauses and a quarter of the partitions aim at one of the roles the caller gives
//! (a family's `nemesis_roles`), or at a random minority when it gives none.

use rand::Rng;
use sim_core::{Latency, NetworkConfig, NodeId, SimDuration, SimRng, SimTime, Streams};
use toml::Spanned;

use crate::error::{ScenarioError, Source};
use crate::fault::{Action, FaultSpec, Shape, Target, Trigger};
use crate::raw::RawNemesis;
use crate::Scenario;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NemesisKind {
    Crash,
    Pause,
    Partition,
    Clock,
    Network,
}

impl NemesisKind {
    const ALL: [(&'static str, NemesisKind); 5] = [
        ("crash", NemesisKind::Crash),
        ("pause", NemesisKind::Pause),
        ("partition", NemesisKind::Partition),
        ("clock", NemesisKind::Clock),
        ("network", NemesisKind::Network),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// What the nemesis may do and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nemesis {
    pub kinds: Vec<NemesisKind>,
    /// Time between the end of one fault and the start of the next: `[min, max]`.
    pub interval: [SimDuration; 2],
    /// How long each fault lasts: `[min, max]`.
    pub fault_duration: [SimDuration; 2],
    pub start_after: SimDuration,
}

/// `start_after` (1s when absent), before the end of the fault phase or the nemesis would never
/// act.
fn start_after(
    raw: Option<&Spanned<SimDuration>>,
    source: &Source<'_>,
    fault_phase: SimDuration,
) -> Result<SimDuration, ScenarioError> {
    let Some(spanned) = raw else {
        return Ok(SimDuration::from_secs(1));
    };
    let start_after = *spanned.get_ref();
    if start_after >= fault_phase {
        return Err(source.error_at(
            spanned.span().start,
            "nemesis.start_after",
            format!(
                "{start_after} is not before the end of the fault phase ({fault_phase}): the \
                 nemesis would never act"
            ),
        ));
    }
    Ok(start_after)
}

impl Nemesis {
    pub(crate) fn from_raw(
        raw: &Spanned<RawNemesis>,
        source: &Source<'_>,
        fault_phase: SimDuration,
    ) -> Result<Nemesis, ScenarioError> {
        let r = raw.get_ref();
        let mut kinds = Vec::new();
        for kind in r.kinds.get_ref() {
            let found = NemesisKind::ALL
                .iter()
                .find(|(n, _)| *n == kind.get_ref().as_str());
            match found {
                Some((_, k)) if !kinds.contains(k) => kinds.push(*k),
                Some(_) => {
                    return Err(source.error_at(
                        kind.span().start,
                        "nemesis.kinds",
                        format!("{:?} is listed twice", kind.get_ref()),
                    ))
                }
                None => {
                    return Err(source.error_at(
                        kind.span().start,
                        "nemesis.kinds",
                        format!(
                            "expected some of crash, pause, partition, clock, network, found {:?}",
                            kind.get_ref()
                        ),
                    ))
                }
            }
        }
        if kinds.is_empty() {
            return Err(source.error_at(
                r.kinds.span().start,
                "nemesis.kinds",
                "expected at least one fault kind",
            ));
        }
        let range = |v: &Spanned<[SimDuration; 2]>,
                     field: &str|
         -> Result<[SimDuration; 2], ScenarioError> {
            let [lo, hi] = *v.get_ref();
            if lo > hi {
                return Err(source.error_at(
                    v.span().start,
                    field,
                    format!("the minimum ({lo}) is above the maximum ({hi})"),
                ));
            }
            if hi == SimDuration::ZERO {
                return Err(source.error_at(v.span().start, field, "expected a positive duration"));
            }
            Ok([lo, hi])
        };
        let start_after = start_after(r.start_after.as_ref(), source, fault_phase)?;
        Ok(Nemesis {
            kinds,
            interval: range(&r.interval, "nemesis.interval")?,
            fault_duration: range(&r.fault_duration, "nemesis.fault_duration")?,
            start_after,
        })
    }

    /// The faults of a run with `seed`, from the seed's `nemesis` stream, aimed at `roles` (the
    /// family's nemesis roles) as well as at random nodes.
    pub fn materialise(&self, seed: u64, scenario: &Scenario, roles: &[&str]) -> Vec<FaultSpec> {
        let mut rng = Streams::new(seed).stream("nemesis");
        let mut faults = Vec::new();
        let mut t = SimTime::ZERO + self.start_after;
        let end = scenario.fault_end();
        // A bound on the schedule's length, so an absurd interval cannot produce millions.
        const FAULTS_MAX: usize = 10_000;
        while faults.len() < FAULTS_MAX {
            t = t.saturating_add(draw(&mut rng, self.interval));
            let lasts = draw(&mut rng, self.fault_duration);
            if t >= end {
                break;
            }
            let kind = self.kinds[rng.gen_range(0..self.kinds.len())];
            let action = Draw {
                rng: &mut rng,
                scenario,
                roles,
                lasts,
            }
            .action(kind);
            faults.push(FaultSpec {
                trigger: Trigger::At(t),
                action,
                line: 0,
            });
            t = t.saturating_add(lasts);
        }
        faults
    }
}

/// The draws of one fault: its action and targets, from the `nemesis` stream.
struct Draw<'a> {
    rng: &'a mut SimRng,
    scenario: &'a Scenario,
    /// The roles faults may aim at; with none, a random minority takes their place.
    roles: &'a [&'a str],
    /// How long the fault lasts.
    lasts: SimDuration,
}

impl Draw<'_> {
    fn action(mut self, kind: NemesisKind) -> Action {
        let lasts = self.lasts;
        match kind {
            NemesisKind::Crash => Action::Crash {
                target: self.target(),
                restart_after: Some(lasts),
            },
            NemesisKind::Pause => Action::Pause {
                target: self.target(),
                duration: lasts,
            },
            NemesisKind::Partition => Action::Partition {
                shape: self.shape(),
                one_way: false,
                heal_after: Some(lasts),
            },
            NemesisKind::Clock => {
                let offset_ms = self.rng.gen_range(-2000i64..=2000);
                let drift_ppm = self.rng.gen_range(-50_000i64..=50_000);
                Action::Clock {
                    target: Target::Nodes(vec![self.random_node()]),
                    offset_ns: offset_ms * 1_000_000,
                    drift_ppm,
                    heal_after: Some(lasts),
                }
            }
            NemesisKind::Network => Action::Network {
                network: self.network(),
                heal_after: Some(lasts),
            },
        }
    }

    fn random_node(&mut self) -> NodeId {
        NodeId(self.rng.gen_range(0..self.scenario.node_count() as u32))
    }

    /// A declared role or a random node, even odds.
    fn target(&mut self) -> Target {
        if self.rng.gen_bool(0.5) {
            self.aimed()
        } else {
            Target::Nodes(vec![self.random_node()])
        }
    }

    /// One of the roles, or a random minority for a family without any. A single role draws
    /// nothing, so a family aimed at `leader` alone gets the schedules it always had.
    fn aimed(&mut self) -> Target {
        match self.roles {
            [] => Target::Minority,
            [role] => Target::Role(role.to_string()),
            roles => Target::Role(roles[self.rng.gen_range(0..roles.len())].to_string()),
        }
    }

    fn shape(&mut self) -> Shape {
        let n = self.scenario.node_count();
        match self.rng.gen_range(0..4) {
            0 => Shape::Isolate(self.aimed()),
            1 => {
                let mut nodes: Vec<NodeId> = (0..n as u32).map(NodeId).collect();
                for i in (1..nodes.len()).rev() {
                    let j = self.rng.gen_range(0..=i);
                    nodes.swap(i, j);
                }
                let mut second = nodes.split_off(n / 2);
                let mut first = nodes;
                first.sort();
                second.sort();
                Shape::Split(vec![first, second])
            }
            2 => Shape::MajorityRing,
            _ => Shape::Bridge,
        }
    }

    /// The scenario's network with a long tail, more loss and more duplication.
    fn network(&mut self) -> NetworkConfig {
        let mut network = self.scenario.network.clone();
        let (min, max) = match network.latency {
            Latency::Fixed(d) => (d, d),
            Latency::Uniform { min, max } | Latency::LongTail { min, max, .. } => (min, max),
        };
        network.latency = Latency::LongTail {
            min,
            max,
            tail_probability: 0.1,
            tail_scale: SimDuration::from_millis(50),
            tail_shape: 1.2,
            tail_max: SimDuration::from_secs(2),
        };
        network.drop_probability =
            rounded((network.drop_probability + self.rng.gen_range(0.0..0.2)).min(1.0));
        network.duplicate_probability =
            rounded((network.duplicate_probability + self.rng.gen_range(0.0..0.1)).min(1.0));
        network
    }
}

/// A duration in `[lo, hi]`, whole milliseconds when the range allows, so that a printed
/// schedule reads `2.317s` rather than a string of nanoseconds.
pub(crate) fn draw(rng: &mut SimRng, [lo, hi]: [SimDuration; 2]) -> SimDuration {
    const MS: u64 = 1_000_000;
    let (lo_ms, hi_ms) = (lo.0.div_ceil(MS), hi.0 / MS);
    if lo_ms <= hi_ms {
        SimDuration::from_millis(sim_core::rng::between(rng, lo_ms, hi_ms))
    } else {
        SimDuration(sim_core::rng::between(rng, lo.0, hi.0))
    }
}

/// A probability rounded to three decimals.
fn rounded(p: f64) -> f64 {
    (p * 1000.0).round() / 1000.0
}
