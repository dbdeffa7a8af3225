//! Versions and how replicas merge them: last-write-wins timestamps and vector clocks with
//! siblings.
//!
//! Owns [`VClock`], [`Version`], [`Versioned`] and [`merge`]. A *stamp* is `(ts, node)`: the
//! coordinator's local clock in nanoseconds under last-write-wins (so clock skew decides which
//! write wins, as in Cassandra), or ABD's logical timestamp. A *vector clock* maps actors to
//! counters; here the actor is the client session and the counter its operation's sequence
//! number (client-side clocks, as Riak's first releases), so two writes through one coordinator
//! never overwrite each other, and a retried write carries the same clock and merges as one.
//! Concurrent clocks are kept side by side as siblings (Dynamo, section 4.4).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

/// A vector clock: actor (client session) to counter.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct VClock(pub BTreeMap<u64, u64>);

impl VClock {
    /// Whether `self` has seen everything `other` has.
    pub fn descends(&self, other: &VClock) -> bool {
        other
            .0
            .iter()
            .all(|(actor, &count)| self.0.get(actor).is_some_and(|&mine| mine >= count))
    }

    /// The least clock that descends both.
    pub fn merge(&mut self, other: &VClock) {
        for (&actor, &count) in &other.0 {
            let entry = self.0.entry(actor).or_insert(0);
            *entry = (*entry).max(count);
        }
    }

    /// The sum of the counters (what the `merge_by_clock_sum` bug compares).
    pub fn sum(&self) -> u64 {
        self.0.values().sum()
    }
}

/// A value's version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Version {
    /// Last-write-wins or ABD: higher `(ts, node)` wins.
    Stamp {
        ts: u64,
        node: u32,
    },
    Clock(VClock),
}

/// A value with its version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Versioned {
    pub version: Version,
    pub value: String,
}

impl Versioned {
    pub fn stamp(&self) -> (u64, u32) {
        match self.version {
            Version::Stamp { ts, node } => (ts, node),
            Version::Clock(_) => (0, 0),
        }
    }
}

/// How [`merge`] resolves two concurrent vector clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrent {
    /// Keep both, as siblings (correct).
    Siblings,
    /// Keep the one with the larger counter sum (the `merge_by_clock_sum` bug).
    LargerSum,
}

/// Merges `incoming` into `siblings`; returns whether `siblings` changed. Stamps keep the one
/// highest `(ts, node, value)`; clocks drop every version another strictly descends and keep
/// the rest, sorted, without duplicates.
pub fn merge(
    siblings: &mut Vec<Versioned>,
    incoming: &[Versioned],
    concurrent: Concurrent,
) -> bool {
    let before = siblings.clone();
    for version in incoming {
        match &version.version {
            Version::Stamp { .. } => {
                let newer = siblings
                    .iter()
                    .all(|s| (s.stamp(), &s.value) < (version.stamp(), &version.value));
                if newer {
                    siblings.clear();
                    siblings.push(version.clone());
                }
            }
            Version::Clock(clock) => merge_clock(siblings, version, clock, concurrent),
        }
    }
    siblings.sort();
    siblings.dedup();
    *siblings != before
}

fn merge_clock(
    siblings: &mut Vec<Versioned>,
    version: &Versioned,
    clock: &VClock,
    concurrent: Concurrent,
) {
    let clock_of = |v: &Versioned| match &v.version {
        Version::Clock(c) => c.clone(),
        Version::Stamp { .. } => VClock::default(),
    };
    if siblings.iter().any(|s| {
        let theirs = clock_of(s);
        theirs.descends(clock) && (theirs != *clock || s.value == version.value)
    }) {
        return; // already seen, or superseded
    }
    siblings.retain(|s| !clock.descends(&clock_of(s)));
    if concurrent == Concurrent::LargerSum {
        if let Some(best) = siblings.iter().map(|s| clock_of(s).sum()).max() {
            match best.cmp(&clock.sum()) {
                Ordering::Greater => return,
                Ordering::Less | Ordering::Equal => siblings.clear(),
            }
        }
    }
    siblings.push(version.clone());
}

/// The merged clock of every sibling: the context a read hands the client.
pub fn context(siblings: &[Versioned]) -> Option<VClock> {
    let mut merged: Option<VClock> = None;
    for sibling in siblings {
        if let Version::Clock(clock) = &sibling.version {
            merged.get_or_insert_with(VClock::default).merge(clock);
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(entries: &[(u64, u64)]) -> VClock {
        VClock(entries.iter().copied().collect())
    }

    fn v(entries: &[(u64, u64)], value: &str) -> Versioned {
        Versioned {
            version: Version::Clock(clock(entries)),
            value: value.into(),
        }
    }

    /// Dynamo, section 4.4: concurrent versions are kept as siblings, and a write whose
    /// context saw them both supersedes them.
    #[test]
    fn concurrent_writes_become_siblings_and_a_descendant_replaces_them() {
        let mut s = Vec::new();
        assert!(merge(&mut s, &[v(&[(1, 1)], "a")], Concurrent::Siblings));
        assert!(merge(&mut s, &[v(&[(2, 1)], "b")], Concurrent::Siblings));
        assert_eq!(s.len(), 2);
        assert!(
            !merge(&mut s, &[v(&[(2, 1)], "b")], Concurrent::Siblings),
            "a retry merges as one"
        );
        assert!(merge(
            &mut s,
            &[v(&[(1, 1), (2, 1), (3, 4)], "c")],
            Concurrent::Siblings
        ));
        assert_eq!(s, vec![v(&[(1, 1), (2, 1), (3, 4)], "c")]);
        assert!(
            !merge(&mut s, &[v(&[(1, 1)], "a")], Concurrent::Siblings),
            "an ancestor is ignored"
        );
        assert_eq!(context(&s), Some(clock(&[(1, 1), (2, 1), (3, 4)])));
    }

    #[test]
    fn the_clock_sum_bug_drops_a_concurrent_sibling() {
        let mut s = Vec::new();
        merge(&mut s, &[v(&[(1, 1)], "a")], Concurrent::LargerSum);
        merge(&mut s, &[v(&[(2, 3)], "b")], Concurrent::LargerSum);
        assert_eq!(s, vec![v(&[(2, 3)], "b")]);
    }

    #[test]
    fn the_highest_stamp_wins_whatever_the_order() {
        let stamp = |ts, node, value: &str| Versioned {
            version: Version::Stamp { ts, node },
            value: value.into(),
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        for x in [
            stamp(5, 1, "x"),
            stamp(7, 0, "y"),
            stamp(7, 0, "y"),
            stamp(6, 2, "z"),
        ] {
            merge(&mut a, &[x], Concurrent::Siblings);
        }
        for x in [stamp(6, 2, "z"), stamp(7, 0, "y"), stamp(5, 1, "x")] {
            merge(&mut b, &[x], Concurrent::Siblings);
        }
        assert_eq!(a, vec![stamp(7, 0, "y")]);
        assert_eq!(a, b);
    }
}
