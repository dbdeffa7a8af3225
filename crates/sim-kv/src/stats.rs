//! What the workload's operations add up to, in words for the run summary.
//!
//! Owns [`KvWorkload::summary`] and its helpers, which hand over to the engine's summary
//! (`sim-client`'s `stats`: operations by outcome and kind, latency percentiles, throughput,
//! availability inside and outside fault windows, what the retry, redirect, breaker and
//! open-loop policies did), with the kv plug-in's own lines (mismatched replies) last.

use sim_client::Counts;
use sim_core::RunInfo;

use crate::workload::KvWorkload;

impl KvWorkload {
    /// The operation counts over the whole run.
    pub fn counts(&self) -> Counts {
        self.engine().counts()
    }

    /// Lines for the run summary, in display order.
    pub fn summary(&self, run: &RunInfo) -> Vec<(String, String)> {
        self.engine().summary(run)
    }
}

#[cfg(test)]
mod summary_tests {
    use sim_core::{Phases, RunInfo, SimDuration, SimTime};

    use crate::toy::{self, Faults, Note};
    use crate::{kv_workload, WorkloadParams};

    /// The summary counts operations, gives latency percentiles, and splits availability by the
    /// fault windows.
    #[test]
    fn summary_reports_operations_latency_and_availability() {
        let faults = Faults {
            silent_after: Some(SimTime(2_000_000_000)),
            ..Faults::default()
        };
        // The runner says when a fault window starts, as it does when a fault is applied.
        let window = SimTime(2_000_000_000);
        let notes = [(window, Note::FaultsInForce(true))];
        let sim = toy::run_noted(
            WorkloadParams::default(),
            faults,
            5,
            SimDuration::from_secs(4),
            &notes,
        );
        let run = RunInfo {
            phases: Phases {
                quiet_start: None,
                end: sim.now(),
            },
            fault_windows: vec![(SimTime(2_000_000_000), SimTime(4_000_000_000))],
        };
        let lines = kv_workload(&sim).unwrap().summary(&run);
        let get = |name: &str| {
            lines
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert!(get("operations").contains(" ok, "), "{lines:?}");
        assert!(get("latency").starts_with("p50 "), "{lines:?}");
        assert!(
            get("availability during faults").starts_with(
                "0% of operations invoked during a fault window completed ok or fail (0 of"
            ),
            "{lines:?}"
        );
        assert!(
            get("availability outside faults")
                .starts_with("100% of operations invoked outside fault windows completed"),
            "{lines:?}"
        );
        assert!(get("throughput").ends_with("ok operations/s"), "{lines:?}");
    }
}
