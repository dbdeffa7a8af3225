//! What the clients' operations add up to, in words for the run summary.
//!
//! Owns [`Counts`] and [`ClientEngine::summary`]: operations ok / fail / info (overall and per
//! kind), latency percentiles of ok operations in simulated time (from arrival, so open-loop
//! queueing shows), throughput, availability inside and outside the fault windows the runner
//! reports in [`RunInfo`] (the share of operations invoked there that got a definite answer, ok
//! or fail, rather than ending in info), and what the policies did: retries, redirects,
//! backoffs, breaker transitions and refusals, open-loop arrivals queued and refused. It reads
//! the run's [`Tally`](crate::Tally), which `ledger` keeps.

use sim_core::{RunInfo, SimDuration, SimTime};

use crate::engine::{ClientEngine, OpStatus};
use crate::plugin::ClientPlugin;
use crate::tally::{Availability, Tally};

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
    pub fn add(&mut self, status: OpStatus) {
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

    pub fn merge(&mut self, other: &Counts) {
        self.ok += other.ok;
        self.fail += other.fail;
        self.info += other.info;
        self.pending += other.pending;
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

fn availability(availability: Availability, which: &str) -> String {
    // A fail is a definite answer too: the service was available for it.
    let Availability {
        invoked: total,
        answered: ok,
    } = availability;
    if total == 0 {
        return "no operations invoked".to_string();
    }
    let percent = ok as f64 * 100.0 / total as f64;
    format!("{percent:.0}% of operations invoked {which} completed ok or fail ({ok} of {total})")
}

fn line(name: &str, value: String) -> (String, String) {
    (name.to_string(), value)
}

fn latency_line(tally: &Tally) -> String {
    let latencies = &tally.latencies;
    match (
        latencies.percentile(50),
        latencies.percentile(99),
        latencies.max(),
    ) {
        (Some(p50), Some(p99), Some(max)) => format!(
            "p50 {}, p99 {}, max {}",
            human_duration(p50),
            human_duration(p99),
            human_duration(max)
        ),
        _ => "no operation completed ok".to_string(),
    }
}

impl<K: ClientPlugin> ClientEngine<K> {
    /// The operation counts over the whole run.
    pub fn counts(&self) -> Counts {
        self.tally().counts
    }

    /// Lines for the run summary, in display order; the plug-in's own lines come last.
    pub fn summary(&self, run: &RunInfo) -> Vec<(String, String)> {
        let tally = self.tally_at_end(run.phases.end);
        let counts = tally.counts;
        let mut lines = vec![line("operations", counts.to_string())];
        if let Some(by_kind) = self.by_kind(&tally) {
            lines.push(line("operations by kind (ok/fail/info)", by_kind));
        }
        lines.push(line("latency", latency_line(&tally)));
        let elapsed = run.phases.end.saturating_since(SimTime::ZERO);
        if elapsed > SimDuration::ZERO {
            let rate = counts.ok as f64 / elapsed.as_secs_f64();
            lines.push(line("throughput", format!("{rate:.1} ok operations/s")));
        }
        let [outside, during] = tally.availability;
        if run.fault_windows.is_empty() {
            let all = Availability {
                invoked: outside.invoked + during.invoked,
                answered: outside.answered + during.answered,
            };
            lines.push(line("availability", availability(all, "in the run")));
        } else {
            let during = availability(during, "during a fault window");
            lines.push(line("availability during faults", during));
            let outside = availability(outside, "outside fault windows");
            lines.push(line("availability outside faults", outside));
        }
        lines.extend(self.policy_lines(&tally));
        lines.extend(self.plugin().summary());
        lines
    }

    fn by_kind(&self, tally: &Tally) -> Option<String> {
        let by_kind: Vec<String> = self
            .plugin()
            .kind_names()
            .iter()
            .filter_map(|&kind| {
                let counts = tally.kind(kind);
                (counts.total() > 0)
                    .then(|| format!("{kind} {}/{}/{}", counts.ok, counts.fail, counts.info))
            })
            .collect();
        (!by_kind.is_empty()).then(|| by_kind.join(", "))
    }

    /// Retries, redirects, backoffs, the breakers and the open-loop arrivals, when they did
    /// anything.
    fn policy_lines(&self, tally: &Tally) -> Vec<(String, String)> {
        let mut lines = Vec::new();
        let counters = self.counters();
        let (retried, extra) = (tally.retried, tally.extra_attempts);
        if retried > 0 {
            lines.push(line(
                "retries",
                format!(
                    "{retried} operations needed more than one attempt ({extra} attempts after \
                     the first: {} redirects followed, {} after a backoff)",
                    counters.redirects, counters.backoffs
                ),
            ));
        }
        if counters.attempts_exhausted > 0 {
            lines.push(line(
                "attempts exhausted",
                format!(
                    "{} operations given up at max_attempts",
                    counters.attempts_exhausted
                ),
            ));
        }
        if self.params().breaker.is_some() {
            let t = self.breaker_transitions();
            lines.push(line(
                "circuit breaker",
                format!(
                    "{} opened, {} half-opened, {} closed, {} reopened; {} requests refused",
                    t.opened, t.half_opened, t.closed, t.reopened, counters.breaker_refused
                ),
            ));
        }
        if let Some(open) = self.params().open_loop {
            lines.push(line(
                "arrivals",
                format!(
                    "{} ({:?} at {}/s per client), {} queued, {} refused with every slot busy",
                    counters.arrivals,
                    open.arrival,
                    open.rate,
                    counters.arrivals_queued,
                    counters.arrivals_refused
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
}
