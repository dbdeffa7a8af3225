//! The circuit breaker each client wraps around the service.
//!
//! Owns [`Breaker`] and its [`BreakerState`]: closed (requests go through; consecutive failures
//! counted), open (requests refused without being sent, until the cool-down ends), half-open
//! (one probe goes through; its success closes the breaker, its failure opens it again), and
//! [`Transitions`], the counts the summary reports. The engine decides what is a failure
//! (a request timeout, an unavailable answer, an operation given up) and what is a success (an
//! ok or fail answer).

use sim_core::SimTime;

use crate::params::BreakerParams;

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        /// Consecutive failures so far.
        failures: u32,
    },
    Open {
        until: SimTime,
    },
    /// The slot whose operation is the probe, once one has gone through.
    HalfOpen {
        probe: Option<usize>,
    },
}

/// How often a breaker changed state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transitions {
    /// Closed to open.
    pub opened: u64,
    /// Open to half-open.
    pub half_opened: u64,
    /// Half-open to closed.
    pub closed: u64,
    /// Half-open to open: the probe failed.
    pub reopened: u64,
}

impl Transitions {
    pub fn add(&mut self, other: &Transitions) {
        self.opened += other.opened;
        self.half_opened += other.half_opened;
        self.closed += other.closed;
        self.reopened += other.reopened;
    }

    pub fn total(&self) -> u64 {
        self.opened + self.half_opened + self.closed + self.reopened
    }
}

/// One client's breaker; without parameters it admits everything and never changes state.
#[derive(Clone, Debug)]
pub struct Breaker {
    params: Option<BreakerParams>,
    state: BreakerState,
    transitions: Transitions,
}

impl Breaker {
    pub fn new(params: Option<BreakerParams>) -> Self {
        Breaker {
            params,
            state: BreakerState::Closed { failures: 0 },
            transitions: Transitions::default(),
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn transitions(&self) -> Transitions {
        self.transitions
    }

    /// When an open breaker goes half-open.
    pub fn open_until(&self) -> Option<SimTime> {
        match self.state {
            BreakerState::Open { until } => Some(until),
            _ => None,
        }
    }

    /// Whether slot `slot` may send a request at `now`. An open breaker whose cool-down is over
    /// goes half-open and lets this request through as the probe; while the probe is out, only
    /// its slot's requests (its retries and redirects) go through.
    pub fn admit(&mut self, now: SimTime, slot: usize) -> bool {
        if self.params.is_none() {
            return true;
        }
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now < until => false,
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen { probe: Some(slot) };
                self.transitions.half_opened += 1;
                true
            }
            BreakerState::HalfOpen { probe: Some(probe) } => probe == slot,
            BreakerState::HalfOpen { probe: None } => {
                self.state = BreakerState::HalfOpen { probe: Some(slot) };
                true
            }
        }
    }

    /// The service answered (ok or fail).
    pub fn success(&mut self) {
        match self.state {
            BreakerState::Closed { .. } => self.state = BreakerState::Closed { failures: 0 },
            BreakerState::HalfOpen { .. } => {
                self.state = BreakerState::Closed { failures: 0 };
                self.transitions.closed += 1;
            }
            // A late answer to a request sent before the breaker opened does not end the
            // cool-down: the probe decides.
            BreakerState::Open { .. } => {}
        }
    }

    /// A request failed at `now` (timed out, or the answer said unavailable).
    pub fn failure(&mut self, now: SimTime) {
        let Some(params) = self.params else {
            return;
        };
        let until = now.saturating_add(params.cool_down);
        match self.state {
            BreakerState::Closed { failures } if failures + 1 >= params.failures => {
                self.state = BreakerState::Open { until };
                self.transitions.opened += 1;
            }
            BreakerState::Closed { failures } => {
                self.state = BreakerState::Closed {
                    failures: failures + 1,
                };
            }
            BreakerState::HalfOpen { .. } => {
                self.state = BreakerState::Open { until };
                self.transitions.reopened += 1;
            }
            BreakerState::Open { .. } => {}
        }
    }

    /// Slot `slot`'s operation ended; if it was the probe and said nothing either way, the
    /// next request may probe.
    pub fn release(&mut self, slot: usize) {
        if self.state == (BreakerState::HalfOpen { probe: Some(slot) }) {
            self.state = BreakerState::HalfOpen { probe: None };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::SimDuration;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn breaker() -> Breaker {
        Breaker::new(Some(BreakerParams {
            failures: 3,
            cool_down: SimDuration::from_millis(100),
        }))
    }

    /// Closed until N consecutive failures; a success in between starts the count again.
    #[test]
    fn breaker_opens_after_n_consecutive_failures() {
        let mut b = breaker();
        b.failure(at(1));
        b.failure(at(2));
        b.success();
        b.failure(at(3));
        b.failure(at(4));
        assert_eq!(b.state(), BreakerState::Closed { failures: 2 });
        assert!(b.admit(at(4), 0));
        b.failure(at(5));
        assert_eq!(b.state(), BreakerState::Open { until: at(105) });
        assert_eq!(b.transitions().opened, 1);
    }

    /// Open refuses until the cool-down ends, then lets one probe through (and only its slot),
    /// and the probe's success closes it.
    #[test]
    fn breaker_refuses_then_half_opens_then_closes_on_success() {
        let mut b = breaker();
        (0..3).for_each(|i| b.failure(at(i)));
        assert!(!b.admit(at(50), 0));
        assert!(!b.admit(at(101), 1));
        assert!(b.admit(at(102), 0));
        assert_eq!(b.state(), BreakerState::HalfOpen { probe: Some(0) });
        assert!(!b.admit(at(103), 1), "one probe at a time");
        assert!(b.admit(at(104), 0), "the probe's own retries go through");
        b.success();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        assert!(b.admit(at(105), 1));
        let t = b.transitions();
        assert_eq!(
            (t.opened, t.half_opened, t.closed, t.reopened),
            (1, 1, 1, 0)
        );
    }

    /// A failed probe opens the breaker for another cool-down.
    #[test]
    fn breaker_reopens_when_the_probe_fails() {
        let mut b = breaker();
        (0..3).for_each(|i| b.failure(at(i)));
        assert!(b.admit(at(200), 2));
        b.failure(at(210));
        assert_eq!(b.state(), BreakerState::Open { until: at(310) });
        assert_eq!(b.transitions().reopened, 1);
        b.release(2);
        assert!(!b.admit(at(300), 2));
    }

    /// Without parameters the breaker admits everything.
    #[test]
    fn no_breaker_admits_everything() {
        let mut b = Breaker::new(None);
        (0..100).for_each(|i| b.failure(at(i)));
        assert!(b.admit(at(100), 0));
        assert_eq!(b.transitions().total(), 0);
    }
}
