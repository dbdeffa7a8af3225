//! `[network]` and a network fault's settings: latencies, loss and duplication.

use sim_core::{Latency, NetworkConfig, SimDuration};
use toml::Spanned;

use super::Builder;
use crate::error::ScenarioError;
use crate::raw::{Ranged, RawLatency, RawLatencyRange, RawNetwork};
use crate::RUN_MAX;

impl Builder<'_> {
    fn probability(&self, p: &Spanned<Ranged<f64>>, field: &str) -> Result<f64, ScenarioError> {
        self.pick(p, field, |v| {
            if !(0.0..=1.0).contains(&v) || !v.is_finite() {
                Err(format!("expected a probability in [0, 1], found {v}"))
            } else {
                Ok(())
            }
        })
    }

    fn latency(&self, l: &Spanned<RawLatency>, field: &str) -> Result<Latency, ScenarioError> {
        match l.get_ref() {
            RawLatency::Fixed(d) => Ok(Latency::Fixed(*d)),
            RawLatency::Range(r) => self.latency_range(l, r, field),
        }
    }

    fn latency_range(
        &self,
        l: &Spanned<RawLatency>,
        r: &RawLatencyRange,
        field: &str,
    ) -> Result<Latency, ScenarioError> {
        let start = l.span().start;
        let any = |_| Ok(());
        let min = self.pick_at(&r.min, start, &format!("{field}.min"), any)?;
        let mut max = self.pick_at(&r.max, start, &format!("{field}.max"), any)?;
        if self.drawing() && max < min {
            // Independent draws of two ranges may cross; the bound drawn second gives way.
            max = min;
        }
        if min > max {
            return Err(self.at(l, field, format!("min ({min}) is above max ({max})")));
        }
        let tail = (r.tail_probability, r.tail_scale, r.tail_shape, r.tail_max);
        match tail {
            (None, None, None, None) => Ok(Latency::Uniform { min, max }),
            (Some(p), Some(scale), shape, tail_max) => {
                if tail_max.is_some_and(|t| t > RUN_MAX) {
                    return Err(self.at(
                        l,
                        &format!("{field}.tail_max"),
                        format!("expected at most {RUN_MAX}, the longest run"),
                    ));
                }
                if !(0.0..=1.0).contains(&p) {
                    return Err(self.at(
                        l,
                        &format!("{field}.tail_probability"),
                        format!("expected a probability in [0, 1], found {p}"),
                    ));
                }
                let shape = shape.unwrap_or(1.5);
                if !(shape.is_finite() && shape > 0.0) {
                    return Err(self.at(
                        l,
                        &format!("{field}.tail_shape"),
                        format!("expected a positive number, found {shape}"),
                    ));
                }
                Ok(Latency::LongTail {
                    min,
                    max,
                    tail_probability: p,
                    tail_scale: scale,
                    tail_shape: shape,
                    tail_max: tail_max.unwrap_or(SimDuration::from_secs(10)),
                })
            }
            _ => Err(self.at(
                l,
                field,
                "a long tail needs at least tail_probability and tail_scale",
            )),
        }
    }

    /// `n` applied over `base`, and the client latency it sets (1 ms when it sets none).
    pub(super) fn network(
        &self,
        n: &RawNetwork,
        base: &NetworkConfig,
        field: &str,
    ) -> Result<(NetworkConfig, Latency), ScenarioError> {
        let mut network = base.clone();
        if let Some(l) = &n.latency {
            network.latency = self.latency(l, &format!("{field}.latency"))?;
        }
        if let Some(p) = &n.drop {
            network.drop_probability = self.probability(p, &format!("{field}.drop"))?;
        }
        if let Some(p) = &n.duplicate {
            network.duplicate_probability = self.probability(p, &format!("{field}.duplicate"))?;
        }
        let client = match &n.client_latency {
            Some(l) => self.latency(l, &format!("{field}.client_latency"))?,
            None => Latency::Fixed(SimDuration::from_millis(1)),
        };
        Ok((network, client))
    }
}
