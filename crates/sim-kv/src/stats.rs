//! What the workload's operations add up to, in words for the run summary.
//!
//! Owns [`KvWorkload::summary`]: operations ok / fail / info (overall and per kind), latency
//! percentiles of ok operations in simulated time, throughput, and availability inside and
//! outside the fault windows the runner reports in [`RunInfo`]: the share of operations invoked
//! there that got a definite answer (ok, or fail for a compare-and-set that found another value)
//! rather than ending in info. The records it reads are kept by
//! `workload`.

use sim_core::check::percentile;
use sim_core::{RunInfo, SimDuration, SimTime};

use crate::workload::{KvWorkload, OpKind, OpRecord, OpStatus};

/// Ok, fail and info counts; an operation still pending at the end counts as info.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Of `info`, those still pending when the run ended.
    pub pending: u64,
}

impl Counts {
    fn add(&mut self, status: OpStatus) {
        match status {
            OpStatus::Ok => self.ok += 1,
            OpStatus::Fail => self.fail += 1,
            OpStatus::Info => self.info += 1,
            OpStatus::Pending => {
                self.info += 1;
                self.pending += 1;
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.ok + self.fail + self.info
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ok, {} fail, {} info", self.ok, self.fail, self.info)?;
        if self.pending > 0 {
            write!(f, " ({} still pending at the end)", self.pending)?;
        }
        Ok(())
    }
}

/// A duration rounded for people: `850us`, `4.2ms`, `210ms`, `1.9s`.
pub fn human_duration(duration: SimDuration) -> String {
    let ns = duration.0 as f64;
    let (value, unit) = if ns < 1e3 {
        return format!("{}ns", duration.0);
    } else if ns < 1e6 {
        (ns / 1e3, "us")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if value < 10.0 {
        let text = format!("{value:.1}");
        format!("{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
    } else {
        format!("{value:.0}{unit}")
    }
}

fn in_windows(time: SimTime, windows: &[(SimTime, SimTime)]) -> bool {
    windows
        .iter()
        .any(|&(start, end)| start <= time && time < end)
}

fn availability(records: &[&OpRecord], which: &str) -> String {
    // A failed compare-and-set is a definite answer too: the store was available for it.
    let ok = records
        .iter()
        .filter(|r| matches!(r.status, OpStatus::Ok | OpStatus::Fail))
        .count();
    let total = records.len();
    if total == 0 {
        return "no operations invoked".to_string();
    }
    let percent = ok as f64 * 100.0 / total as f64;
    format!("{percent:.0}% of operations invoked {which} completed ok or fail ({ok} of {total})")
}

impl KvWorkload {
    /// The operation counts over the whole run.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for record in self.records() {
            counts.add(record.status);
        }
        counts
    }

    /// The latencies of ok operations, sorted.
    pub fn ok_latencies(&self) -> Vec<SimDuration> {
        let mut latencies: Vec<SimDuration> = self
            .records()
            .iter()
            .filter(|r| r.status == OpStatus::Ok)
            .filter_map(|r| r.completed_at.map(|t| t.saturating_since(r.invoked_at)))
            .collect();
        latencies.sort_unstable();
        latencies
    }

    /// Lines for the run summary, in display order.
    pub fn summary(&self, run: &RunInfo) -> Vec<(String, String)> {
        let mut lines = Vec::new();
        let counts = self.counts();
        lines.push(("operations".to_string(), counts.to_string()));
        let by_kind: Vec<String> = OpKind::ALL
            .iter()
            .filter_map(|&kind| {
                let mut counts = Counts::default();
                for record in self.records().iter().filter(|r| r.kind == kind) {
                    counts.add(record.status);
                }
                (counts.total() > 0).then(|| {
                    format!(
                        "{} {}/{}/{}",
                        kind.name(),
                        counts.ok,
                        counts.fail,
                        counts.info
                    )
                })
            })
            .collect();
        if !by_kind.is_empty() {
            lines.push((
                "operations by kind (ok/fail/info)".to_string(),
                by_kind.join(", "),
            ));
        }
        let latencies = self.ok_latencies();
        let latency = match (
            percentile(&latencies, 50),
            percentile(&latencies, 99),
            latencies.last(),
        ) {
            (Some(p50), Some(p99), Some(&max)) => format!(
                "p50 {}, p99 {}, max {}",
                human_duration(p50),
                human_duration(p99),
                human_duration(max)
            ),
            _ => "no operation completed ok".to_string(),
        };
        lines.push(("latency".to_string(), latency));
        let elapsed = run.phases.end.saturating_since(SimTime::ZERO);
        if elapsed > SimDuration::ZERO {
            let rate = counts.ok as f64 / elapsed.as_secs_f64();
            lines.push((
                "throughput".to_string(),
                format!("{rate:.1} ok operations/s"),
            ));
        }
        if run.fault_windows.is_empty() {
            lines.push((
                "availability".to_string(),
                availability(&self.records().iter().collect::<Vec<_>>(), "in the run"),
            ));
        } else {
            let (during, outside): (Vec<&OpRecord>, Vec<&OpRecord>) = self
                .records()
                .iter()
                .partition(|r| in_windows(r.invoked_at, &run.fault_windows));
            lines.push((
                "availability during faults".to_string(),
                availability(&during, "during a fault window"),
            ));
            lines.push((
                "availability outside faults".to_string(),
                availability(&outside, "outside fault windows"),
            ));
        }
        let retried = self.records().iter().filter(|r| r.attempts > 1).count();
        if retried > 0 {
            lines.push((
                "retries".to_string(),
                format!("{retried} operations needed more than one attempt"),
            ));
        }
        let anomalies = self.anomalies();
        if anomalies.mismatched_replies > 0 {
            lines.push((
                "mismatched replies".to_string(),
                format!(
                    "{} replies did not fit their operation (recorded as info)",
                    anomalies.mismatched_replies
                ),
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human_duration(SimDuration::from_micros(850)), "850us");
        assert_eq!(human_duration(SimDuration::from_micros(4_200)), "4.2ms");
        assert_eq!(human_duration(SimDuration::from_millis(4)), "4ms");
        assert_eq!(human_duration(SimDuration::from_millis(210)), "210ms");
        assert_eq!(human_duration(SimDuration::from_millis(1_900)), "1.9s");
        assert_eq!(human_duration(SimDuration::from_nanos(12)), "12ns");
    }

    #[test]
    fn fault_windows_are_half_open() {
        let windows = [(SimTime(10), SimTime(20))];
        assert!(in_windows(SimTime(10), &windows));
        assert!(!in_windows(SimTime(20), &windows));
        assert!(!in_windows(SimTime(5), &windows));
    }
}

#[cfg(test)]
mod summary_tests {
    use sim_core::{Phases, RunInfo, SimDuration, SimTime};

    use crate::toy::{self, Faults};
    use crate::{kv_workload, WorkloadParams};

    /// The summary counts operations, gives latency percentiles, and splits availability by the
    /// fault windows.
    #[test]
    fn summary_reports_operations_latency_and_availability() {
        let faults = Faults {
            silent_after: Some(SimTime(2_000_000_000)),
            ..Faults::default()
        };
        let sim = toy::run(
            WorkloadParams::default(),
            faults,
            1,
            5,
            SimDuration::from_secs(4),
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
