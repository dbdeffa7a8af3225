//! The simulated network: latency, loss, duplication, and reachability (partitions).
//!
//! Reordering is not a separate knob: it arises from each message drawing its own latency.
//! Partitions are a reachability relation between nodes that may be one-way; the named shapes
//! that scenarios use (isolate a node, split into groups, random halves, a majority ring) are
//! constructors of [`Reachability`].

use crate::rng::{self, SimRng};
use crate::time::SimDuration;
use crate::NodeId;
use rand::Rng;
use serde::Serialize;

/// How long a message takes, drawn afresh for each message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Latency {
    Fixed(SimDuration),
    /// Uniform in `[min, max]`.
    Uniform {
        min: SimDuration,
        max: SimDuration,
    },
    /// A long tail: a uniform base in `[min, max]`, plus with probability `tail_probability` an
    /// extra delay from a Pareto distribution with scale `tail_scale` and shape `tail_shape`
    /// (smaller shapes give heavier tails), capped at `tail_max`.
    LongTail {
        min: SimDuration,
        max: SimDuration,
        tail_probability: f64,
        tail_scale: SimDuration,
        tail_shape: f64,
        tail_max: SimDuration,
    },
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Uniform {
            min: SimDuration::from_millis(1),
            max: SimDuration::from_millis(5),
        }
    }
}

impl Latency {
    /// Draws one latency. Every variant consumes a fixed number of draws for its shape.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => SimDuration(rng::between(rng, min.0, max.0)),
            Latency::LongTail {
                min,
                max,
                tail_probability,
                tail_scale,
                tail_shape,
                tail_max,
            } => {
                let base = rng::between(rng, min.0, max.0);
                let u = rng::unit(rng);
                let in_tail = rng::chance(rng, tail_probability);
                if !in_tail {
                    return SimDuration(base);
                }
                // Inverse transform of the Pareto distribution: scale / (1 - u)^(1 / shape).
                let shape = tail_shape.max(0.01);
                let extra = tail_scale.0 as f64 / (1.0 - u).max(1e-12).powf(1.0 / shape);
                let extra = if extra.is_finite() {
                    extra.min(tail_max.0 as f64)
                } else {
                    tail_max.0 as f64
                };
                SimDuration(base.saturating_add(extra as u64))
            }
        }
    }

    /// The largest latency this distribution can produce.
    pub fn max(&self) -> SimDuration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform { max, .. } => max,
            Latency::LongTail { max, tail_max, .. } => max + tail_max,
        }
    }
}

/// The network's behaviour for every message sent between nodes.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NetworkConfig {
    pub latency: Latency,
    /// Probability that a message is lost.
    pub drop_probability: f64,
    /// Probability that a delivered message arrives a second time (with its own latency).
    pub duplicate_probability: f64,
}

/// Which node can reach which: `can_reach(from, to)`. Every node always reaches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachability {
    node_count: usize,
    /// Row-major: `blocked[from * n + to]`.
    blocked: Vec<bool>,
}

impl Reachability {
    /// Every node reaches every node.
    pub fn full(node_count: usize) -> Self {
        Reachability {
            node_count,
            blocked: vec![false; node_count * node_count],
        }
    }

    pub fn node_count(&self) -> usize {
        self.node_count
    }

    pub fn can_reach(&self, from: NodeId, to: NodeId) -> bool {
        from == to || !self.blocked[from.index() * self.node_count + to.index()]
    }

    pub fn is_full(&self) -> bool {
        self.blocked.iter().all(|b| !b)
    }

    /// Cuts the link from `from` to `to` (one way).
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        if from != to {
            self.blocked[from.index() * self.node_count + to.index()] = true;
        }
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut_both(&mut self, a: NodeId, b: NodeId) {
        self.cut(a, b);
        self.cut(b, a);
    }

    /// The union of two cuts: a link is cut if either cuts it.
    pub fn merge(&mut self, other: &Reachability) {
        assert_eq!(
            self.node_count, other.node_count,
            "merged reachabilities of different clusters"
        );
        for (mine, theirs) in self.blocked.iter_mut().zip(&other.blocked) {
            *mine |= *theirs;
        }
    }

    /// `node` cut off from every other node. With `one_way`, only what `node` sends is lost
    /// (it still hears the others).
    pub fn isolate(node_count: usize, node: NodeId, one_way: bool) -> Self {
        let mut r = Self::full(node_count);
        for other in (0..node_count as u32).map(NodeId) {
            r.cut(node, other);
            if !one_way {
                r.cut(other, node);
            }
        }
        r
    }

    /// Nodes in different groups cannot reach each other; nodes in no group form one more group.
    /// With `one_way`, only messages from an earlier group to a later one are lost.
    pub fn split(node_count: usize, groups: &[Vec<NodeId>], one_way: bool) -> Self {
        let mut group_of = vec![groups.len(); node_count];
        for (g, members) in groups.iter().enumerate() {
            for n in members {
                group_of[n.index()] = g;
            }
        }
        let mut r = Self::full(node_count);
        for a in 0..node_count {
            for b in 0..node_count {
                let cut = if one_way {
                    group_of[a] < group_of[b]
                } else {
                    group_of[a] != group_of[b]
                };
                if cut {
                    r.cut(NodeId(a as u32), NodeId(b as u32));
                }
            }
        }
        r
    }

    /// Two random halves (the first with `floor(n / 2)` nodes), drawn from `rng`; returns the
    /// relation and the two groups.
    pub fn random_halves(node_count: usize, rng: &mut SimRng) -> (Self, [Vec<NodeId>; 2]) {
        let mut nodes: Vec<NodeId> = (0..node_count as u32).map(NodeId).collect();
        for i in (1..nodes.len()).rev() {
            let j = rng.gen_range(0..=i);
            nodes.swap(i, j);
        }
        let second = nodes.split_off(node_count / 2);
        let mut first = nodes;
        first.sort();
        let mut second = second;
        second.sort();
        let groups = [first, second];
        (Self::split(node_count, &groups, false), groups)
    }

    /// The majority ring (Jepsen's "majorities ring"): nodes on a ring, each reaching itself and
    /// its nearest `floor(n / 2)` neighbours on the ring, so every node sees a majority but no two
    /// adjacent nodes see the same one. The ring order is `order`.
    pub fn majority_ring(order: &[NodeId]) -> Self {
        let n = order.len();
        let mut r = Self::full(n);
        let reach = n / 2; // itself plus reach/2 each side is a majority for odd and even n
        for (i, &a) in order.iter().enumerate() {
            for (j, &b) in order.iter().enumerate() {
                let d = i.abs_diff(j);
                let ring_distance = d.min(n - d);
                if ring_distance > reach / 2 + reach % 2 && a != b {
                    r.cut(a, b);
                }
            }
        }
        r
    }

    /// The bridge: two halves that cannot reach each other, joined by one node that reaches both.
    pub fn bridge(order: &[NodeId]) -> Self {
        let n = order.len();
        let mut r = Self::full(n);
        let middle = n / 2;
        for (i, &a) in order.iter().enumerate() {
            for (j, &b) in order.iter().enumerate() {
                if i != middle && j != middle && (i < middle) != (j < middle) {
                    r.cut(a, b);
                }
            }
        }
        r
    }

    /// The nodes `node` can reach, itself included.
    pub fn reachable_from(&self, node: NodeId) -> Vec<NodeId> {
        (0..self.node_count as u32)
            .map(NodeId)
            .filter(|&to| self.can_reach(node, to))
            .collect()
    }

    /// A short description for the trace: the cut links as `a->b` pairs.
    pub fn describe(&self) -> String {
        if self.is_full() {
            return "full".to_string();
        }
        let mut cut = Vec::new();
        for a in 0..self.node_count as u32 {
            for b in 0..self.node_count as u32 {
                if !self.can_reach(NodeId(a), NodeId(b)) {
                    cut.push(format!("{}->{}", NodeId(a), NodeId(b)));
                }
            }
        }
        cut.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Streams;

    fn n(i: u32) -> NodeId {
        NodeId(i)
    }

    #[test]
    fn one_way_isolation_lets_the_node_hear_but_not_speak() {
        let r = Reachability::isolate(3, n(0), true);
        assert!(!r.can_reach(n(0), n(1)));
        assert!(r.can_reach(n(1), n(0)));
        assert!(r.can_reach(n(1), n(2)));
    }

    #[test]
    fn split_cuts_between_groups_only() {
        let r = Reachability::split(5, &[vec![n(0), n(1)], vec![n(2), n(3), n(4)]], false);
        assert!(r.can_reach(n(0), n(1)));
        assert!(r.can_reach(n(2), n(4)));
        assert!(!r.can_reach(n(1), n(2)));
        assert!(!r.can_reach(n(4), n(0)));
    }

    #[test]
    fn majority_ring_gives_every_node_a_distinct_majority() {
        let order: Vec<NodeId> = (0..5).map(n).collect();
        let r = Reachability::majority_ring(&order);
        let mut views = Vec::new();
        for node in &order {
            let view = r.reachable_from(*node);
            assert!(view.len() >= 3, "{node} sees {view:?}, not a majority");
            assert!(view.len() < 5, "{node} sees everyone");
            views.push(view);
        }
        views.sort();
        views.dedup();
        assert_eq!(views.len(), 5, "every node sees a different majority");
    }

    #[test]
    fn bridge_node_reaches_both_sides() {
        let order: Vec<NodeId> = (0..5).map(n).collect();
        let r = Reachability::bridge(&order);
        assert_eq!(r.reachable_from(n(2)).len(), 5);
        assert!(!r.can_reach(n(0), n(4)));
        assert!(r.can_reach(n(0), n(1)));
    }

    #[test]
    fn random_halves_cover_the_cluster() {
        let mut rng = Streams::new(3).stream("faults");
        let (r, [a, b]) = Reachability::random_halves(5, &mut rng);
        assert_eq!(a.len(), 2);
        assert_eq!(b.len(), 3);
        assert!(!r.can_reach(a[0], b[0]));
    }

    #[test]
    fn long_tail_stays_within_its_cap() {
        let mut rng = Streams::new(1).stream("network");
        let latency = Latency::LongTail {
            min: SimDuration::from_millis(1),
            max: SimDuration::from_millis(2),
            tail_probability: 0.5,
            tail_scale: SimDuration::from_millis(10),
            tail_shape: 1.0,
            tail_max: SimDuration::from_secs(1),
        };
        let samples: Vec<SimDuration> = (0..2000).map(|_| latency.sample(&mut rng)).collect();
        assert!(samples
            .iter()
            .all(|&d| d >= SimDuration::from_millis(1) && d <= latency.max()));
        assert!(
            samples.iter().any(|&d| d > SimDuration::from_millis(50)),
            "the tail is never reached"
        );
    }
}
