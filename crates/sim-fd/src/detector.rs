//! The two detectors as plain state machines over arrival times: no `Ctx`, no simulator.
//!
//! - [`HeartbeatDetector`]: a fixed timeout on the silence since the latest heartbeat, written
//!   either as a duration or as a number of missed heartbeats at a known interval.
//! - [`PhiAccrualDetector`]: Hayashibara et al.'s phi-accrual detector exactly as Akka's
//!   `PhiAccrualFailureDetector` computes it, over a [`HeartbeatHistory`] of inter-arrival
//!   times; [`phi`] is Akka's formula on its own.
//!
//! Both take the monitor's local time as an argument (quinn-proto's `handle_timeout(now)`), so
//! the process decides which clock they see; sending heartbeats, sequence numbers and the events
//! a suspicion raises belong to [`crate::node`].

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use sim_core::{SimDuration, SimTime};

const NANOS_PER_MILLI: f64 = 1e6;

/// When the fixed-timeout detector gives up on a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatRule {
    /// Suspect after a silence longer than this.
    Timeout(SimDuration),
    /// Suspect once `count` heartbeats sent every `interval` are overdue, which is a silence
    /// longer than `count × interval`.
    Missed { count: u64, interval: SimDuration },
}

impl HeartbeatRule {
    /// The silence this rule tolerates.
    pub fn timeout(&self) -> SimDuration {
        match *self {
            HeartbeatRule::Timeout(timeout) => timeout,
            HeartbeatRule::Missed { count, interval } => interval.saturating_mul(count),
        }
    }
}

/// The classic fixed-timeout heartbeat detector (Chandra and Toueg's simplest detector): a peer is
/// suspected once it has been silent for longer than the timeout.
///
/// Before its first heartbeat a peer is not monitored and never suspected, as in Akka; the
/// process starts monitoring peers that never answer with [`HeartbeatDetector::heartbeat`] after
/// an expected first response time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatDetector {
    rule: HeartbeatRule,
    latest: Option<SimTime>,
}

impl HeartbeatDetector {
    pub fn new(rule: HeartbeatRule) -> Self {
        HeartbeatDetector { rule, latest: None }
    }

    pub fn rule(&self) -> HeartbeatRule {
        self.rule
    }

    /// A heartbeat arrived at local time `now`.
    pub fn heartbeat(&mut self, now: SimTime) {
        self.latest = Some(now);
    }

    /// Whether any heartbeat (real or assumed) has been recorded.
    pub fn is_monitoring(&self) -> bool {
        self.latest.is_some()
    }

    /// The silence since the latest heartbeat; zero if the clock went backwards, `None` before
    /// the first heartbeat.
    pub fn silence(&self, now: SimTime) -> Option<SimDuration> {
        self.latest.map(|latest| now.saturating_since(latest))
    }

    /// How many heartbeats sent every `interval` are overdue: those whose due time, counted from
    /// the latest arrival, lies strictly before `now`.
    pub fn missed_heartbeats(&self, now: SimTime, interval: SimDuration) -> u64 {
        match self.silence(now) {
            Some(silence) if silence.0 > 0 && interval.0 > 0 => silence.0.div_ceil(interval.0) - 1,
            _ => 0,
        }
    }

    /// Whether the peer is trusted at `now`: never monitored, or silent for at most the timeout.
    pub fn is_available(&self, now: SimTime) -> bool {
        match self.silence(now) {
            Some(silence) => silence <= self.rule.timeout(),
            None => true,
        }
    }
}

/// The parameters of [`PhiAccrualDetector`], named and defaulted as Akka Cluster's
/// `akka.cluster.failure-detector` section of `reference.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhiConfig {
    /// Suspect once phi reaches this (Akka: `threshold = 8.0`).
    pub threshold: f64,
    /// How many inter-arrival times the window keeps (Akka: `max-sample-size = 1000`).
    pub max_sample_size: usize,
    /// The floor of the standard deviation, so that a perfectly regular history does not make
    /// phi explode at the first small delay (Akka: `min-std-deviation = 100 ms`).
    pub min_std_deviation: SimDuration,
    /// A silence tolerated on top of the mean interval (Akka Cluster:
    /// `acceptable-heartbeat-pause = 3 s`; plain Akka remoting's watch detector uses 10 s).
    pub acceptable_pause: SimDuration,
    /// The assumed interval before any has been measured; the history starts from it with a
    /// standard deviation of a quarter of it (Akka: `heartbeat-interval = 1 s`, which Akka Cluster
    /// passes as the first heartbeat estimate).
    pub first_heartbeat_estimate: SimDuration,
}

impl Default for PhiConfig {
    fn default() -> Self {
        PhiConfig {
            threshold: 8.0,
            max_sample_size: 1000,
            min_std_deviation: SimDuration::from_millis(100),
            acceptable_pause: SimDuration::from_secs(3),
            first_heartbeat_estimate: SimDuration::from_secs(1),
        }
    }
}

impl PhiConfig {
    /// The silence after which this detector suspects a peer whose heartbeats came exactly every
    /// `interval` for long enough that the window holds nothing else: phi reaches the threshold at
    /// `interval + acceptable_pause + y × min_std_deviation`, with `y ≈ 5.2` for a threshold of 8.
    /// This is what a fixed timeout must be to detect a crash as fast on a calm network.
    pub fn suspicion_silence(&self, interval: SimDuration) -> SimDuration {
        let mean_ms = (interval.0 + self.acceptable_pause.0) as f64 / NANOS_PER_MILLI;
        let std_ms = self.min_std_deviation.0 as f64 / NANOS_PER_MILLI;
        if self.threshold.is_nan() || self.threshold <= 0.0 || std_ms <= 0.0 {
            return SimDuration((mean_ms * NANOS_PER_MILLI) as u64);
        }
        // phi is increasing in the silence: bisect between the mean and far past it.
        let (mut low, mut high) = (mean_ms, mean_ms + 64.0 * std_ms);
        for _ in 0..100 {
            let middle = (low + high) / 2.0;
            if phi(middle, mean_ms, std_ms) < self.threshold {
                low = middle;
            } else {
                high = middle;
            }
        }
        SimDuration((high * NANOS_PER_MILLI).round() as u64)
    }
}

/// A sliding window of inter-arrival times with running sums, Akka's `HeartbeatHistory`.
///
/// The sums are exact integers (nanoseconds and nanoseconds squared, in `u128`), so dropping the
/// oldest sample never accumulates rounding error, which is why Akka keeps them as `Long`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatHistory {
    max_sample_size: usize,
    intervals: VecDeque<u64>,
    interval_sum: u128,
    squared_interval_sum: u128,
}

impl HeartbeatHistory {
    /// An empty window of at most `max_sample_size` samples (at least one).
    pub fn new(max_sample_size: usize) -> Self {
        let max_sample_size = max_sample_size.max(1);
        HeartbeatHistory {
            max_sample_size,
            intervals: VecDeque::with_capacity(max_sample_size.min(4096)),
            interval_sum: 0,
            squared_interval_sum: 0,
        }
    }

    /// Appends `interval`, dropping the oldest sample when the window is full.
    pub fn push(&mut self, interval: SimDuration) {
        if self.intervals.len() >= self.max_sample_size {
            if let Some(oldest) = self.intervals.pop_front() {
                self.interval_sum -= oldest as u128;
                self.squared_interval_sum -= (oldest as u128) * (oldest as u128);
            }
        }
        let ns = interval.0;
        self.intervals.push_back(ns);
        self.interval_sum += ns as u128;
        self.squared_interval_sum += (ns as u128) * (ns as u128);
    }

    pub fn len(&self) -> usize {
        self.intervals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    pub fn max_sample_size(&self) -> usize {
        self.max_sample_size
    }

    /// The mean interval in milliseconds (zero when empty).
    pub fn mean_ms(&self) -> f64 {
        if self.intervals.is_empty() {
            return 0.0;
        }
        self.interval_sum as f64 / self.intervals.len() as f64 / NANOS_PER_MILLI
    }

    /// The population variance in milliseconds squared, `E[x²] − E[x]²` as Akka computes it,
    /// clamped at zero against rounding.
    pub fn variance_ms2(&self) -> f64 {
        if self.intervals.is_empty() {
            return 0.0;
        }
        let n = self.intervals.len() as f64;
        let mean_square =
            self.squared_interval_sum as f64 / n / (NANOS_PER_MILLI * NANOS_PER_MILLI);
        let mean = self.mean_ms();
        (mean_square - mean * mean).max(0.0)
    }

    pub fn std_deviation_ms(&self) -> f64 {
        self.variance_ms2().sqrt()
    }
}

/// Akka's phi: `-log10(1 - F(time_diff))` for the normal distribution of mean `mean` and
/// standard deviation `std_deviation`, with F approximated by the logistic function
/// `1 / (1 + e^(-y (1.5976 + 0.070566 y²)))` (Bowling et al. 2009), which keeps full precision
/// in the tail where `1 - F` underflows. All three arguments in the same unit (Akka: ms).
pub fn phi(time_diff: f64, mean: f64, std_deviation: f64) -> f64 {
    let y = (time_diff - mean) / std_deviation;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    if time_diff > mean {
        -(e / (1.0 + e)).log10()
    } else {
        -(1.0 - 1.0 / (1.0 + e)).log10()
    }
}

/// The phi-accrual failure detector (Hayashibara, Défago, Yared, Katayama, "The φ accrual
/// failure detector", SRDS 2004), as Akka's `PhiAccrualFailureDetector` implements it.
///
/// It outputs a suspicion level phi that grows with the silence since the latest heartbeat,
/// scaled by the mean and standard deviation of recent inter-arrival times; the peer is
/// suspected once phi reaches the threshold. As in Akka: phi is 0 before the first heartbeat;
/// the first heartbeat seeds the history with `estimate ± estimate / 4`; an interval that ends
/// while the peer is already suspected is left out of the history, so a long outage does not
/// skew the statistics; the acceptable pause is added to the mean; the standard deviation is
/// floored at `min_std_deviation`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhiAccrualDetector {
    config: PhiConfig,
    history: HeartbeatHistory,
    latest: Option<SimTime>,
}

impl PhiAccrualDetector {
    pub fn new(config: PhiConfig) -> Self {
        PhiAccrualDetector {
            config,
            history: HeartbeatHistory::new(config.max_sample_size),
            latest: None,
        }
    }

    pub fn config(&self) -> &PhiConfig {
        &self.config
    }

    pub fn history(&self) -> &HeartbeatHistory {
        &self.history
    }

    /// Whether any heartbeat (real or assumed) has been recorded.
    pub fn is_monitoring(&self) -> bool {
        self.latest.is_some()
    }

    /// A heartbeat arrived at local time `now`.
    pub fn heartbeat(&mut self, now: SimTime) {
        match self.latest {
            None => {
                // Akka's `firstHeartbeat`: two samples around the estimate, whose mean is the
                // estimate and whose standard deviation is a quarter of it (integer millis in
                // Akka; exact nanoseconds here).
                let mean = self.config.first_heartbeat_estimate.0;
                let std_deviation = mean / 4;
                self.history = HeartbeatHistory::new(self.config.max_sample_size);
                self.history.push(SimDuration(mean - std_deviation));
                self.history.push(SimDuration(mean + std_deviation));
            }
            Some(latest) => {
                // A local clock that went backwards yields a zero interval rather than a
                // negative one; Akka's monotonic clock never does this.
                let interval = now.saturating_since(latest);
                if self.is_available(now) {
                    self.history.push(interval);
                }
            }
        }
        self.latest = Some(now);
    }

    /// The suspicion level at local time `now`: 0 before the first heartbeat.
    pub fn phi(&self, now: SimTime) -> f64 {
        let Some(latest) = self.latest else {
            return 0.0;
        };
        let time_diff_ms = (now.0 as i128 - latest.0 as i128) as f64 / NANOS_PER_MILLI;
        let mean_ms =
            self.history.mean_ms() + self.config.acceptable_pause.0 as f64 / NANOS_PER_MILLI;
        let std_ms = self
            .history
            .std_deviation_ms()
            .max(self.config.min_std_deviation.0 as f64 / NANOS_PER_MILLI);
        phi(time_diff_ms, mean_ms, std_ms)
    }

    /// Whether the peer is trusted at `now`: phi below the threshold.
    pub fn is_available(&self, now: SimTime) -> bool {
        self.phi(now) < self.config.threshold
    }
}

#[cfg(test)]
mod tests {
    //! The phi-accrual tests reproduce Akka's own, case by case and with Akka's expected values
    //! and tolerances: `akka-remote/src/test/scala/akka/remote/AccrualFailureDetectorSpec.scala`
    //! ("An AccrualFailureDetector must ..." and "The Stats must ..."). Akka's fake clock hands
    //! out one timestamp per call to `heartbeat`, `phi` or `isAvailable`, from a list of
    //! intervals; [`FakeClock`] does the same in milliseconds.

    use super::*;

    fn ms(t: u64) -> SimTime {
        SimTime(t * 1_000_000)
    }

    /// Akka's `fakeTimeGenerator`: the first value is a time, the rest are intervals.
    struct FakeClock {
        times: VecDeque<u64>,
    }

    impl FakeClock {
        fn new(intervals: &[u64]) -> Self {
            let mut times = VecDeque::new();
            let mut t = 0;
            for (i, &interval) in intervals.iter().enumerate() {
                t = if i == 0 { interval } else { t + interval };
                times.push_back(t);
            }
            FakeClock { times }
        }
        fn tick(&mut self) -> SimTime {
            ms(self
                .times
                .pop_front()
                .expect("the fake clock ran out of times"))
        }
    }

    /// Akka's `createFailureDetector` defaults: threshold 8, 1000 samples, 100 ms minimum
    /// deviation, no acceptable pause, 1 s first estimate.
    fn akka_spec_config() -> PhiConfig {
        PhiConfig {
            acceptable_pause: SimDuration::ZERO,
            ..PhiConfig::default()
        }
    }

    fn cdf(phi: f64) -> f64 {
        1.0 - 10f64.powf(-phi)
    }

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance + 1e-12,
            "expected {expected} ± {tolerance}, got {actual}"
        );
    }

    /// Akka spec: "use good enough cumulative distribution function".
    #[test]
    fn use_good_enough_cumulative_distribution_function() {
        assert_close(cdf(phi(0.0, 0.0, 10.0)), 0.5, 0.001);
        assert_close(cdf(phi(6.0, 0.0, 10.0)), 0.7257, 0.001);
        assert_close(cdf(phi(15.0, 0.0, 10.0)), 0.9332, 0.001);
        assert_close(cdf(phi(20.0, 0.0, 10.0)), 0.97725, 0.001);
        assert_close(cdf(phi(25.0, 0.0, 10.0)), 0.99379, 0.001);
        assert_close(cdf(phi(35.0, 0.0, 10.0)), 0.99977, 0.001);
        assert_close(cdf(phi(40.0, 0.0, 10.0)), 0.99997, 0.0001);
        for x in 0..40 {
            assert!(
                phi(x as f64, 0.0, 10.0) < phi((x + 1) as f64, 0.0, 10.0),
                "phi is not increasing at {x}"
            );
        }
        assert_close(cdf(phi(22.0, 20.0, 3.0)), 0.7475, 0.001);
    }

    /// Akka spec: "handle outliers without losing precision or hitting exceptions".
    #[test]
    fn handle_outliers_without_losing_precision_or_hitting_exceptions() {
        assert_close(phi(10.0, 0.0, 1.0), 38.0, 1.0);
        assert_eq!(phi(-25.0, 0.0, 1.0), 0.0);
    }

    /// Akka spec: "return realistic phi values".
    #[test]
    fn return_realistic_phi_values() {
        let expectations = [
            (0, 0.0),
            (500, 0.1),
            (1000, 0.3),
            (1200, 1.6),
            (1400, 4.7),
            (1600, 10.8),
            (1700, 15.3),
        ];
        for (time_diff, expected) in expectations {
            assert_close(phi(time_diff as f64, 1000.0, 100.0), expected, 0.1);
        }
        // A larger standard deviation gives a lower phi.
        assert!(phi(1100.0, 1000.0, 500.0) < phi(1100.0, 1000.0, 100.0));
    }

    /// Akka spec: "return phi value of 0.0 on startup for each address, when no heartbeats".
    #[test]
    fn return_phi_value_of_zero_on_startup_when_no_heartbeats() {
        let fd = PhiAccrualDetector::new(akka_spec_config());
        assert_eq!(fd.phi(ms(0)), 0.0);
        assert_eq!(fd.phi(ms(10_000)), 0.0);
        assert!(!fd.is_monitoring());
    }

    /// Akka spec: "return phi based on guess when only one heartbeat".
    #[test]
    fn return_phi_based_on_guess_when_only_one_heartbeat() {
        let mut clock = FakeClock::new(&[0, 1000, 1000, 1000, 1000]);
        let mut fd = PhiAccrualDetector::new(PhiConfig {
            first_heartbeat_estimate: SimDuration::from_secs(1),
            ..akka_spec_config()
        });
        fd.heartbeat(clock.tick());
        assert_close(fd.phi(clock.tick()), 0.3, 0.2);
        assert_close(fd.phi(clock.tick()), 4.5, 0.3);
        assert!(fd.phi(clock.tick()) > 15.0);
    }

    /// Akka spec: "return phi value using first interval after second heartbeat".
    #[test]
    fn return_phi_value_using_first_interval_after_second_heartbeat() {
        let mut clock = FakeClock::new(&[0, 100, 100, 100]);
        let mut fd = PhiAccrualDetector::new(akka_spec_config());
        fd.heartbeat(clock.tick());
        assert!(fd.phi(clock.tick()) > 0.0);
        fd.heartbeat(clock.tick());
        assert!(fd.phi(clock.tick()) > 0.0);
    }

    /// Akka spec: "mark node as available after a series of successful heartbeats".
    #[test]
    fn mark_node_as_available_after_a_series_of_successful_heartbeats() {
        let mut clock = FakeClock::new(&[0, 1000, 100, 100]);
        let mut fd = PhiAccrualDetector::new(akka_spec_config());
        fd.heartbeat(clock.tick());
        fd.heartbeat(clock.tick());
        fd.heartbeat(clock.tick());
        assert!(fd.is_available(clock.tick()));
    }

    /// Akka spec: "mark node as dead if heartbeat are missed".
    #[test]
    fn mark_node_as_dead_if_heartbeat_are_missed() {
        let mut clock = FakeClock::new(&[0, 1000, 100, 100, 7000]);
        let mut fd = PhiAccrualDetector::new(PhiConfig {
            threshold: 3.0,
            ..akka_spec_config()
        });
        fd.heartbeat(clock.tick()); // 0
        fd.heartbeat(clock.tick()); // 1000
        fd.heartbeat(clock.tick()); // 1100
        assert!(fd.is_available(clock.tick())); // 1200
        assert!(!fd.is_available(clock.tick())); // 8200
    }

    /// Akka spec: "mark node as available if it starts heartbeat again after being marked dead
    /// due to detection of failure".
    #[test]
    fn mark_node_as_available_if_it_starts_heartbeat_again_after_being_marked_dead() {
        // 1000 regular intervals, a 5 minute pause, then a short pause that must be noticed.
        let mut intervals = vec![0];
        intervals.extend([1000; 999]);
        intervals.extend([5 * 60 * 1000, 100, 900, 100, 7000, 100, 900, 100, 900]);
        let mut clock = FakeClock::new(&intervals);
        let mut fd = PhiAccrualDetector::new(PhiConfig {
            threshold: 8.0,
            acceptable_pause: SimDuration::from_secs(3),
            ..akka_spec_config()
        });
        for _ in 0..1000 {
            fd.heartbeat(clock.tick());
        }
        assert!(!fd.is_available(clock.tick())); // after the long pause
        fd.heartbeat(clock.tick());
        assert!(fd.is_available(clock.tick()));
        fd.heartbeat(clock.tick());
        assert!(!fd.is_available(clock.tick())); // after the 7 second pause
        fd.heartbeat(clock.tick());
        assert!(fd.is_available(clock.tick()));
        fd.heartbeat(clock.tick());
        assert!(fd.is_available(clock.tick()));
    }

    /// Akka spec: "accept some configured missing heartbeats".
    #[test]
    fn accept_some_configured_missing_heartbeats() {
        let mut clock = FakeClock::new(&[0, 1000, 1000, 1000, 4000, 1000, 1000]);
        let mut fd = PhiAccrualDetector::new(PhiConfig {
            acceptable_pause: SimDuration::from_secs(3),
            ..akka_spec_config()
        });
        fd.heartbeat(clock.tick());
        fd.heartbeat(clock.tick());
        fd.heartbeat(clock.tick());
        fd.heartbeat(clock.tick());
        assert!(fd.is_available(clock.tick()));
        fd.heartbeat(clock.tick());
        assert!(fd.is_available(clock.tick()));
    }

    /// Akka spec: "fail after configured acceptable missing heartbeats".
    #[test]
    fn fail_after_configured_acceptable_missing_heartbeats() {
        let mut clock = FakeClock::new(&[0, 1000, 1000, 1000, 1000, 1000, 500, 500, 5000]);
        let mut fd = PhiAccrualDetector::new(PhiConfig {
            acceptable_pause: SimDuration::from_secs(3),
            ..akka_spec_config()
        });
        for _ in 0..6 {
            fd.heartbeat(clock.tick());
        }
        assert!(fd.is_available(clock.tick()));
        fd.heartbeat(clock.tick());
        assert!(!fd.is_available(clock.tick()));
    }

    /// Akka spec: "use maxSampleSize heartbeats".
    #[test]
    fn use_max_sample_size_heartbeats() {
        let mut clock = FakeClock::new(&[0, 100, 100, 100, 100, 600, 500, 500, 500, 500, 500]);
        let mut fd = PhiAccrualDetector::new(PhiConfig {
            max_sample_size: 3,
            ..akka_spec_config()
        });
        // 100 ms intervals.
        fd.heartbeat(clock.tick()); // 0
        fd.heartbeat(clock.tick()); // 100
        fd.heartbeat(clock.tick()); // 200
        fd.heartbeat(clock.tick()); // 300
        let phi1 = fd.phi(clock.tick()); // 400
                                         // 500 ms intervals: the same phi once the 100 ms intervals have left the window.
        fd.heartbeat(clock.tick()); // 1000
        fd.heartbeat(clock.tick()); // 1500
        fd.heartbeat(clock.tick()); // 2000
        fd.heartbeat(clock.tick()); // 2500
        let phi2 = fd.phi(clock.tick()); // 3000
        assert_close(phi2, phi1, 0.001);
    }

    /// Akka spec, "The Stats must": "should calculate correct mean and variance".
    #[test]
    fn calculate_correct_mean_and_variance() {
        let mut history = HeartbeatHistory::new(20);
        for sample in [100, 200, 125, 340, 130] {
            history.push(SimDuration::from_millis(sample));
        }
        assert_close(history.mean_ms(), 179.0, 0.00001);
        assert_close(history.variance_ms2(), 7584.0, 0.00001);
    }

    /// Akka spec, "The Stats must": "have 0.0 variance for one sample".
    #[test]
    fn have_zero_variance_for_one_sample() {
        let mut history = HeartbeatHistory::new(600);
        history.push(SimDuration::from_millis(1000));
        assert_close(history.variance_ms2(), 0.0, 0.00001);
    }

    /// Akka spec, "The Stats must": "be capped by the specified maxSampleSize".
    #[test]
    fn be_capped_by_the_specified_max_sample_size() {
        let mut history = HeartbeatHistory::new(3);
        for sample in [100, 110, 90] {
            history.push(SimDuration::from_millis(sample));
        }
        assert_close(history.mean_ms(), 100.0, 0.00001);
        assert_close(history.variance_ms2(), 66.6666667, 0.00001);
        history.push(SimDuration::from_millis(140));
        assert_eq!(history.len(), 3);
        assert_close(history.mean_ms(), 113.333333, 0.00001);
        assert_close(history.variance_ms2(), 422.222222, 0.00001);
    }

    /// Akka's `firstHeartbeat`: the seeded history has the estimate as mean and a quarter of it
    /// as standard deviation.
    #[test]
    fn first_heartbeat_seeds_the_history_with_the_estimate() {
        let mut fd = PhiAccrualDetector::new(PhiConfig {
            first_heartbeat_estimate: SimDuration::from_millis(400),
            ..akka_spec_config()
        });
        fd.heartbeat(ms(5));
        assert_eq!(fd.history().len(), 2);
        assert_close(fd.history().mean_ms(), 400.0, 1e-9);
        assert_close(fd.history().std_deviation_ms(), 100.0, 1e-9);
    }

    /// The acceptable pause shifts the mean: with 3 s of it, a 3.5 s silence after regular 1 s
    /// heartbeats is still well below the threshold, and 5 s is far above it.
    #[test]
    fn acceptable_pause_is_added_to_the_mean() {
        let mut fd = PhiAccrualDetector::new(PhiConfig::default());
        for t in 0..30 {
            fd.heartbeat(ms(t * 1000));
        }
        assert!(fd.phi(ms(29_000 + 3_500)) < 1.0);
        assert!(fd.phi(ms(29_000 + 5_000)) > 8.0);
    }

    /// With Akka Cluster's defaults a calm peer is suspected after about 4.52 s of silence:
    /// 1 s mean, 3 s acceptable pause, 5.2 deviations of 100 ms.
    #[test]
    fn suspicion_silence_matches_phi_at_the_threshold() {
        let config = PhiConfig::default();
        let silence = config.suspicion_silence(SimDuration::from_secs(1));
        assert!(
            silence > SimDuration::from_millis(4510) && silence < SimDuration::from_millis(4530),
            "{silence}"
        );
        let mut fd = PhiAccrualDetector::new(PhiConfig {
            first_heartbeat_estimate: SimDuration::from_secs(1),
            ..config
        });
        for t in 0..2000 {
            fd.heartbeat(ms(t * 1000));
        }
        let last = ms(1_999_000);
        assert!(fd.is_available(SimTime(last.0 + silence.0 - 1_000_000)));
        assert!(!fd.is_available(SimTime(last.0 + silence.0 + 1_000_000)));
    }

    /// A local clock that jumps backwards gives a zero interval and a phi of zero, never a
    /// negative sample or a panic.
    #[test]
    fn a_clock_going_backwards_is_harmless() {
        let mut fd = PhiAccrualDetector::new(PhiConfig::default());
        fd.heartbeat(ms(5000));
        fd.heartbeat(ms(6000));
        assert_eq!(fd.phi(ms(1000)), 0.0);
        fd.heartbeat(ms(1000));
        assert!(fd.is_available(ms(1500)));
    }

    /// The fixed timeout: trusted at a silence equal to the timeout, suspected just past it.
    #[test]
    fn heartbeat_timeout_suspects_after_a_silence_longer_than_the_timeout() {
        let mut fd = HeartbeatDetector::new(HeartbeatRule::Timeout(SimDuration::from_millis(500)));
        assert!(
            fd.is_available(ms(100_000)),
            "an unmonitored peer is trusted"
        );
        fd.heartbeat(ms(1000));
        assert!(fd.is_available(ms(1500)));
        assert!(!fd.is_available(SimTime(ms(1500).0 + 1)));
        fd.heartbeat(ms(1600));
        assert!(fd.is_available(ms(1700)), "a heartbeat restores trust");
        assert!(
            fd.is_available(ms(900)),
            "a clock going backwards is no silence"
        );
    }

    /// k missed heartbeats: with a 100 ms interval and k = 3, the third overdue heartbeat (due
    /// 300 ms after the latest arrival) is missed only once that instant has passed.
    #[test]
    fn heartbeat_missed_suspects_once_k_heartbeats_are_overdue() {
        let interval = SimDuration::from_millis(100);
        let mut fd = HeartbeatDetector::new(HeartbeatRule::Missed { count: 3, interval });
        fd.heartbeat(ms(0));
        assert_eq!(fd.missed_heartbeats(ms(100), interval), 0);
        assert_eq!(fd.missed_heartbeats(ms(150), interval), 1);
        assert_eq!(fd.missed_heartbeats(ms(300), interval), 2);
        assert!(fd.is_available(ms(300)));
        assert_eq!(fd.missed_heartbeats(SimTime(ms(300).0 + 1), interval), 3);
        assert!(!fd.is_available(SimTime(ms(300).0 + 1)));
        assert_eq!(fd.rule().timeout(), SimDuration::from_millis(300));
    }
}
