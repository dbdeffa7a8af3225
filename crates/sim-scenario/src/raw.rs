//! The scenario file as written: serde structs that mirror the TOML, with spans kept where a
//! later check must point at a line. Unknown fields are errors everywhere.
//!
//! A few parameters may be given as a `[low, high]` range ([`Ranged`]) that each seed samples:
//! `cluster.nodes`, the network's `drop` and `duplicate`, and latency bounds.

use std::fmt;

use serde::de::{self, Deserializer, IntoDeserializer, SeqAccess, Visitor};
use serde::Deserialize;
use sim_core::SimDuration;
use toml::Spanned;

use crate::section;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub duration: Spanned<SimDuration>,
    pub quiet: Option<Spanned<SimDuration>>,
    pub max_events: Option<Spanned<i64>>,
    #[serde(deserialize_with = "section::required")]
    pub cluster: Spanned<RawCluster>,
    #[serde(deserialize_with = "section::required")]
    pub protocol: Spanned<toml::Table>,
    #[serde(default, deserialize_with = "section::optional")]
    pub network: Option<Spanned<RawNetwork>>,
    #[serde(default, deserialize_with = "section::optional")]
    pub workload: Option<Spanned<toml::Table>>,
    #[serde(default, deserialize_with = "section::optional")]
    pub checks: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub faults: Vec<Spanned<RawFault>>,
    #[serde(default, deserialize_with = "section::optional")]
    pub nemesis: Option<Spanned<RawNemesis>>,
    #[serde(default, deserialize_with = "section::optional")]
    pub expect: Option<Spanned<RawExpect>>,
    /// `[swarm]`: choices a seed picks from ([`crate::swarm`]).
    #[serde(default, deserialize_with = "section::optional")]
    pub swarm: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub nodes: Option<Spanned<Ranged<i64>>>,
    pub names: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default, deserialize_with = "section::optional")]
    pub kinds: Option<Spanned<RawKinds>>,
}

/// `kinds = { coordinator = 1, participant = 4 }`: each kind with its count, in file order
/// (a TOML table may be read in key order; the counts' spans recover the file's).
#[derive(Debug)]
pub struct RawKinds(pub Vec<(String, Spanned<i64>)>);

impl<'de> Deserialize<'de> for RawKinds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindsVisitor;
        impl<'de> Visitor<'de> for KindsVisitor {
            type Value = RawKinds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a table of node counts by kind, such as { coordinator = 1, participant = 4 }",
                )
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RawKinds, A::Error> {
                let mut kinds = Vec::new();
                while let Some(entry) = map.next_entry::<String, Spanned<i64>>()? {
                    kinds.push(entry);
                }
                kinds.sort_by_key(|(_, count)| count.span().start);
                Ok(RawKinds(kinds))
            }
        }
        deserializer.deserialize_map(KindsVisitor)
    }
}

/// `[expect]`: the check a scenario exists to break, and within how many seeds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub fails: Option<Spanned<String>>,
    pub within_seeds: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub latency: Option<Spanned<RawLatency>>,
    pub drop: Option<Spanned<Ranged<f64>>>,
    pub duplicate: Option<Spanned<Ranged<f64>>>,
    pub client_latency: Option<Spanned<RawLatency>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RawLatency {
    Fixed(SimDuration),
    Range(RawLatencyRange),
}

/// A string is a fixed latency, a table a range; each reports its own errors (an untagged enum
/// would say only "data did not match any variant", whatever was wrong).
impl<'de> Deserialize<'de> for RawLatency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LatencyVisitor;
        impl<'de> Visitor<'de> for LatencyVisitor {
            type Value = RawLatency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a latency: a duration such as \"2ms\", or a table such as { min = \"1ms\", max = \"5ms\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawLatency, E> {
                SimDuration::deserialize(v.into_deserializer()).map(RawLatency::Fixed)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawLatency, E> {
                SimDuration::deserialize(v.into_deserializer()).map(RawLatency::Fixed)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawLatency, E> {
                SimDuration::deserialize(v.into_deserializer()).map(RawLatency::Fixed)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawLatency, A::Error> {
                RawLatencyRange::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawLatency::Range)
            }
        }
        deserializer.deserialize_any(LatencyVisitor)
    }
}

#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawLatencyRange {
    pub min: Ranged<SimDuration>,
    pub max: Ranged<SimDuration>,
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
    pub drop: Option<Spanned<Ranged<f64>>>,
    pub duplicate: Option<Spanned<Ranged<f64>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNemesis {
    pub kinds: Spanned<Vec<Spanned<String>>>,
    pub interval: Spanned<[SimDuration; 2]>,
    pub fault_duration: Spanned<[SimDuration; 2]>,
    pub start_after: Option<Spanned<SimDuration>>,
}

/// A value, or a `[low, high]` range of values that each seed samples from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ranged<T> {
    One(T),
    Range([T; 2]),
}

/// A scalar is read as `T` itself, so its errors stay `T`'s (`invalid type: string "five",
/// expected i64`); an array must hold exactly two `T`s.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ranged<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RangedVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for RangedVisitor<T> {
            type Value = Ranged<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a [low, high] range")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Ranged::One)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Ranged::One)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Ranged::One)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Ranged::One)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Ranged::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let expected = "a [low, high] range of two values";
                let low: T = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &expected))?;
                let high: T = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &expected))?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &expected));
                }
                Ok(Ranged::Range([low, high]))
            }
        }
        deserializer.deserialize_any(RangedVisitor(std::marker::PhantomData))
    }
}
