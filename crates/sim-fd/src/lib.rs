//! Failure detectors, the simulator's first protocols: every node heartbeats to every other and
//! monitors every other with two detectors from the literature, side by side on the same
//! heartbeats, so that one run compares them.
//!
//! - [`detector`]: the detectors as plain structs, testable without a simulator:
//!   [`HeartbeatDetector`] (a fixed timeout, or k missed heartbeats) and [`PhiAccrualDetector`]
//!   (Hayashibara et al.'s phi accrual, computed exactly as Akka's `PhiAccrualFailureDetector`;
//!   its unit tests reproduce Akka's `AccrualFailureDetectorSpec`).
//! - [`node`]: [`FdNode`], the process: heartbeats, checks, and the [`FdEvent`]s `suspect` and
//!   `restore` that scenarios can aim faults at.
//! - [`check`]: completeness, accuracy and detection time against the simulator's ground truth,
//!   and the phi-versus-timeout comparison.
//! - [`suite`]: [`FdSuite`] (`[protocol] name = "failure-detector"`), its parameters with Akka
//!   Cluster's defaults (threshold 8.0, max-sample-size 1000, min-std-deviation 100 ms,
//!   acceptable-heartbeat-pause 3 s, heartbeat-interval 1 s, expected-response-after 1 s), their
//!   validation, and the run summary.
//!
//! The network, crashes, pauses and clocks belong to `sim-core`; scenario files and the fault
//! schedule to the runner.
//!
//! Using the phi-accrual detector directly, on times of your own:
//!
//! ```
//! use sim_core::{SimDuration, SimTime};
//! use sim_fd::{PhiAccrualDetector, PhiConfig};
//!
//! let ms = |t: u64| SimTime(t * 1_000_000);
//! // Akka Cluster's defaults: threshold 8, a 3 s acceptable pause, 100 ms minimum deviation.
//! let mut fd = PhiAccrualDetector::new(PhiConfig::default());
//! for i in 0..60 {
//!     fd.heartbeat(ms(i * 1000)); // a heartbeat every second
//! }
//! let last = 59_000;
//! assert!(fd.phi(ms(last + 1000)) < 1.0); // on time: no suspicion at all
//! assert!(fd.is_available(ms(last + 4000))); // 4 s of silence: within the acceptable pause
//! assert!(!fd.is_available(ms(last + 5000))); // 5 s: phi is far past 8
//! // The silence at which phi reaches its threshold for this regular a peer: about 4.52 s.
//! let silence = fd.config().suspicion_silence(SimDuration::from_secs(1));
//! assert!(silence > SimDuration::from_millis(4500) && silence < SimDuration::from_millis(4550));
//! ```

pub mod check;
pub mod detector;
pub mod node;
pub mod suite;
pub mod trust;

#[cfg(test)]
mod sim_tests;

pub use check::{FdCheck, Tally};
pub use detector::{
    phi, HeartbeatDetector, HeartbeatHistory, HeartbeatRule, PhiAccrualDetector, PhiConfig,
};
pub use node::{DetectorKind, FdEvent, FdMsg, FdNode, FdTimer, NodeConfig};
pub use suite::{
    FdCheckParams, FdParams, FdSuite, FdWorkloadParams, HeartbeatParams, PerDetector, PhiParams,
};
