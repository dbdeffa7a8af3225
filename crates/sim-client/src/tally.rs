//! What the clients' operations add up to, kept as the run goes so that memory does not grow
//! with simulated time.
//!
//! Owns [`Tally`] (counts overall and per kind, latencies of ok operations, availability inside
//! and outside fault windows, retries, the `cut.*` sides, the first ok), [`Latencies`] (a
//! log-linear histogram: percentiles within 1/2048 of the exact value, the maximum exact) and
//! [`InstantCount`] (a count that can still say how much of it came before the current instant,
//! which [`QuietCounts`] needs at the instant the quiet phase starts).
//!
//! The engine adds each operation once it has completed (`engine` keeps the open ones); the
//! summary and the figures read a copy with the still-open operations added as pending.

use std::collections::BTreeMap;

use sim_core::{SimDuration, SimTime};

use crate::cut::{CutSide, CUT_FIGURES};
use crate::engine::{OpRecord, OpStatus};
use crate::stats::Counts;

/// Sub-buckets per power of two: a latency is kept to within 1/2048 of its value (exact below
/// 2048 ns).
const SUB_BITS: u32 = 11;

/// Latencies of ok operations: per bucket, the count and the smallest latency seen in it.
///
/// A percentile is the smallest latency seen in the bucket holding the nearest rank, so it is a
/// latency some operation had, within 1/2048 of the exact nearest-rank value. The histogram holds
/// at most 2048 buckets per power of two of the latencies seen, however many operations there
/// were.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Latencies {
    buckets: BTreeMap<u32, (u64, SimDuration)>,
    count: u64,
    max: Option<SimDuration>,
}

impl Latencies {
    fn bucket(latency: SimDuration) -> u32 {
        let v = latency.0;
        if v < 1 << SUB_BITS {
            return v as u32;
        }
        let octave = 63 - v.leading_zeros() - SUB_BITS;
        let mantissa = (v >> octave) as u32 & ((1 << SUB_BITS) - 1);
        ((octave + 1) << SUB_BITS) | mantissa
    }

    pub fn add(&mut self, latency: SimDuration) {
        let entry = self
            .buckets
            .entry(Self::bucket(latency))
            .or_insert((0, latency));
        entry.0 += 1;
        entry.1 = entry.1.min(latency);
        self.count += 1;
        self.max = self.max.max(Some(latency));
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> Option<SimDuration> {
        self.max
    }

    /// Percentile `p` (0..=100) by nearest rank, as [`sim_core::check::percentile`] defines it,
    /// `None` when
    /// empty; see the type's docs for its precision.
    pub fn percentile(&self, p: u32) -> Option<SimDuration> {
        if self.count == 0 {
            return None;
        }
        let rank = (u64::from(p) * self.count)
            .div_ceil(100)
            .clamp(1, self.count);
        let mut seen = 0;
        for &(count, smallest) in self.buckets.values() {
            seen += count;
            if seen >= rank {
                return Some(smallest);
            }
        }
        self.max
    }

    fn merge(&mut self, other: &Latencies) {
        for (&bucket, &(count, smallest)) in &other.buckets {
            let entry = self.buckets.entry(bucket).or_insert((0, smallest));
            entry.0 += count;
            entry.1 = entry.1.min(smallest);
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }
}

/// A count of events, which can still say how many happened before the current instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstantCount {
    total: u64,
    /// The instant of the latest event, and the count before it.
    latest: SimTime,
    before_latest: u64,
}

impl InstantCount {
    pub fn add(&mut self, now: SimTime) {
        if now > self.latest || self.total == 0 {
            self.latest = now;
            self.before_latest = self.total;
        }
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Events strictly before `now` (`now` at or after the latest event).
    pub fn before(&self, now: SimTime) -> u64 {
        if self.total > 0 && self.latest >= now {
            self.before_latest
        } else {
            self.total
        }
    }
}

/// One client's operations as counts over time: what `kv.progress` reads at the start of the
/// quiet phase and at its deadline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCounts {
    pub invoked: InstantCount,
    pub completed: InstantCount,
    pub ok: InstantCount,
}

/// One client's operations in the quiet phase, from its start: what `kv.progress` judges.
/// It holds one time per ok operation of the quiet phase, which is as long as the scenario's
/// `quiet` setting, whatever the run's length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuietCounts {
    /// Operations open at the start of the quiet phase: invoked before it, not ended before it.
    pub open_at_start: u64,
    /// When the client first invoked an operation in the quiet phase.
    pub first_invoke: Option<SimTime>,
    /// When each of its operations completed ok in the quiet phase, in order.
    pub ok_at: Vec<SimTime>,
}

impl QuietCounts {
    /// The counts of a client whose operations so far are `counts`, at the quiet phase's start
    /// `now`: what happened earlier in this instant already belongs to the quiet phase.
    pub fn starting(counts: &ClientCounts, now: SimTime) -> QuietCounts {
        let invoked_before = counts.invoked.before(now);
        let ok_now = counts.ok.total() - counts.ok.before(now);
        QuietCounts {
            open_at_start: invoked_before.saturating_sub(counts.completed.before(now)),
            first_invoke: (counts.invoked.total() > invoked_before).then_some(now),
            ok_at: vec![now; ok_now as usize],
        }
    }
}

/// Availability of the operations invoked inside or outside the fault windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Availability {
    /// Operations invoked there.
    pub invoked: u64,
    /// Of those, the ones that got a definite answer (ok or fail).
    pub answered: u64,
}

/// The run's operations added up; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: Counts,
    /// Per kind name, only the kinds that occurred.
    pub by_kind: BTreeMap<&'static str, Counts>,
    pub latencies: Latencies,
    /// Outside (`[0]`) and inside (`[1]`) a fault window, by the operation's invoke.
    pub availability: [Availability; 2],
    /// Operations that needed more than one attempt, and the attempts after the first.
    pub retried: u64,
    pub extra_attempts: u64,
    /// The `cut.*` counts, in [`CUT_FIGURES`] order.
    pub cut: [u64; 4],
    /// When the first ok operation completed.
    pub first_ok: Option<SimTime>,
}

impl Tally {
    /// Adds an operation that has ended (or is counted as pending at the end); `in_window`:
    /// invoked while some fault was in force.
    pub fn add(&mut self, record: &OpRecord, in_window: bool) {
        self.counts.add(record.status);
        self.by_kind
            .entry(record.kind)
            .or_default()
            .add(record.status);
        let answered = matches!(record.status, OpStatus::Ok | OpStatus::Fail);
        if record.status == OpStatus::Ok {
            if let Some(latency) = record.latency() {
                self.latencies.add(latency);
            }
            self.first_ok = match (self.first_ok, record.completed_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let availability = &mut self.availability[usize::from(in_window)];
        availability.invoked += 1;
        availability.answered += u64::from(answered);
        if record.attempts > 1 {
            self.retried += 1;
        }
        self.extra_attempts += u64::from(record.attempts.saturating_sub(1));
        if let Some(side) = record.cut {
            let index = match (side, answered) {
                (CutSide::Majority, true) => 0,
                (CutSide::Majority, false) => 1,
                (CutSide::Minority, true) => 2,
                (CutSide::Minority, false) => 3,
            };
            self.cut[index] += 1;
        }
    }

    /// Everything in `other` added to this.
    pub fn merge(&mut self, other: &Tally) {
        self.counts.merge(&other.counts);
        for (kind, counts) in &other.by_kind {
            self.by_kind.entry(kind).or_default().merge(counts);
        }
        self.latencies.merge(&other.latencies);
        for (mine, theirs) in self.availability.iter_mut().zip(other.availability) {
            mine.invoked += theirs.invoked;
            mine.answered += theirs.answered;
        }
        self.retried += other.retried;
        self.extra_attempts += other.extra_attempts;
        for (mine, theirs) in self.cut.iter_mut().zip(other.cut) {
            *mine += theirs;
        }
        self.first_ok = match (self.first_ok, other.first_ok) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// The counts of one kind (zero when it never occurred).
    pub fn kind(&self, kind: &str) -> Counts {
        self.by_kind.get(kind).copied().unwrap_or_default()
    }

    /// The `cut.*` figures, every name included.
    pub fn cut_figures(&self) -> Vec<(String, u64)> {
        CUT_FIGURES
            .iter()
            .zip(self.cut)
            .map(|(name, count)| (name.to_string(), count))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sim_core::check::percentile;

    fn exact_percentile(latencies: &mut [SimDuration], p: u32) -> Option<SimDuration> {
        latencies.sort_unstable();
        percentile(latencies, p)
    }

    proptest! {
        /// Every percentile is a latency some operation had, within 1/2048 of the exact
        /// nearest-rank value; the count and the maximum are exact.
        #[test]
        fn percentiles_are_within_their_stated_precision(
            mut latencies in prop::collection::vec(0u64..50_000_000_000, 1..400),
            p in 0u32..=100,
        ) {
            let mut histogram = Latencies::default();
            for &l in &latencies {
                histogram.add(SimDuration(l));
            }
            let mut durations: Vec<SimDuration> = latencies.iter().map(|&l| SimDuration(l)).collect();
            let exact = exact_percentile(&mut durations, p).unwrap();
            let got = histogram.percentile(p).unwrap();
            latencies.sort_unstable();
            prop_assert!(latencies.binary_search(&got.0).is_ok(), "{got:?} was not seen");
            let error = exact.0.abs_diff(got.0);
            prop_assert!(error <= exact.0 >> SUB_BITS, "p{p}: exact {exact:?}, got {got:?}");
            prop_assert_eq!(histogram.count(), latencies.len() as u64);
            prop_assert_eq!(histogram.max(), durations.last().copied());
        }
    }

    #[test]
    fn small_latencies_are_exact() {
        let mut histogram = Latencies::default();
        for l in [5, 1, 2047, 3, 3] {
            histogram.add(SimDuration(l));
        }
        assert_eq!(histogram.percentile(50), Some(SimDuration(3)));
        assert_eq!(histogram.percentile(100), Some(SimDuration(2047)));
        assert_eq!(histogram.percentile(0), Some(SimDuration(1)));
        assert_eq!(Latencies::default().percentile(50), None);
    }

    #[test]
    fn an_instant_count_tells_what_came_before_the_instant() {
        let mut count = InstantCount::default();
        assert_eq!(count.before(SimTime(5)), 0);
        count.add(SimTime(5));
        count.add(SimTime(5));
        assert_eq!((count.before(SimTime(5)), count.total()), (0, 2));
        count.add(SimTime(9));
        assert_eq!(count.before(SimTime(9)), 2);
        assert_eq!(count.before(SimTime(10)), 3);
    }
}
