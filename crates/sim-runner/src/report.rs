//! What a run says at the end: the summary a person reads and the JSON a tool reads.

use std::fmt::Write as _;

use serde_json::{json, Value};
use sim_core::check::CheckKind;
use sim_core::sim::HandlerPanic;
use sim_core::trace::Checkpoint;
use sim_core::{CheckReport, SimDuration, SimTime, Stats, Violation};

/// A fault as it was applied, with its targets resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedFault {
    pub time: SimTime,
    pub text: String,
    /// Its target did not exist when it fired (no leader at that moment, say).
    pub skipped: bool,
}

/// The first dozen applied faults, then each that could not take effect again as a warning,
/// even past the dozen.
fn render_faults(w: &mut String, faults: &[&AppliedFault]) {
    for f in faults.iter().take(12) {
        let _ = writeln!(w, "           t={} {}", f.time, f.text);
    }
    if faults.len() > 12 {
        let _ = writeln!(
            w,
            "           ... and {} more (see --trace)",
            faults.len() - 12
        );
    }
    for f in faults.iter().filter(|f| f.skipped) {
        let _ = writeln!(
            w,
            "warning    t={} {}: the fault did not take effect",
            f.time, f.text
        );
    }
}

/// Everything a finished run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub scenario_name: String,
    pub scenario_file: String,
    pub protocol: String,
    pub node_count: usize,
    pub seed: u64,
    pub duration: SimDuration,
    pub quiet: SimDuration,
    pub duration_override: Option<SimDuration>,
    /// The materialised fault schedule, one line per fault.
    pub schedule: Vec<String>,
    pub time_reached: SimTime,
    pub stats: Stats,
    pub applied: Vec<AppliedFault>,
    pub fault_windows: Vec<(SimTime, SimTime)>,
    pub checks: Vec<CheckReport>,
    /// The protocol's own summary lines.
    pub summary: Vec<(String, String)>,
    /// The protocol's counts by name ([`sim_core::Suite::figures`]).
    pub figures: Vec<(String, u64)>,
    pub trace_hash: u64,
    /// How many events the trace hash covers.
    pub trace_events: u64,
    /// The running trace hash every `CHECKPOINT_EVERY` events, to locate where two runs differ.
    pub trace_checkpoints: Vec<Checkpoint>,
    /// The parameters this seed sampled from the scenario's ranges (`field`, value).
    pub parameters: Vec<(String, String)>,
    pub panic: Option<HandlerPanic>,
    pub limit_reached: bool,
    /// The always-check whose violation stopped the run.
    pub stopped_by: Option<(String, Violation)>,
    pub history: Option<Value>,
    /// Why the `--history` output could not be written, if it could not.
    pub history_error: Option<String>,
    pub trace_error: Option<String>,
}

impl RunReport {
    /// Whether every check held and the run finished normally.
    pub fn passed(&self) -> bool {
        self.panic.is_none() && !self.limit_reached && self.checks.iter().all(|c| c.passed())
    }

    /// The check that explains the run's failure: an always-check that failed (found in
    /// whatever part of the run ran), else any failed check unless the event limit cut the run
    /// short, since a sometimes or eventually check then fails for want of time, and the limit
    /// is the finding.
    fn failed_report(&self) -> Option<&CheckReport> {
        let mut failed = self.checks.iter().filter(|c| !c.passed());
        match failed.clone().find(|c| c.kind == CheckKind::Always) {
            Some(c) => Some(c),
            None if self.limit_reached => None,
            None => failed.next(),
        }
    }

    /// The first failure, in words, if any.
    pub fn failure(&self) -> Option<String> {
        if let Some(p) = &self.panic {
            return Some(format!(
                "{} panicked at t={}: {}",
                panic_place(p),
                p.time,
                p.message
            ));
        }
        if let Some((name, v)) = &self.stopped_by {
            return Some(format!("{name} violated at t={}: {}", v.time, v.message));
        }
        if let Some(c) = self.failed_report() {
            let v = c
                .violation
                .as_ref()
                .expect("a failed check has a violation");
            return Some(format!(
                "{} violated at t={}: {}",
                c.name, v.time, v.message
            ));
        }
        if self.limit_reached {
            return Some(format!(
                "the run reached its event limit ({} events) at t={}",
                self.stats.events, self.time_reached
            ));
        }
        None
    }

    /// The name of the first failed check (or `panic`, `event-limit`), as [`RunReport::failure`]
    /// describes it.
    pub fn failed_check(&self) -> Option<String> {
        if self.panic.is_some() {
            return Some("panic".into());
        }
        if let Some((name, _)) = &self.stopped_by {
            return Some(name.clone());
        }
        if let Some(c) = self.failed_report() {
            return Some(c.name.clone());
        }
        self.limit_reached.then(|| "event-limit".into())
    }

    /// The one command that reproduces this run.
    pub fn reproduce(&self) -> String {
        let mut command = format!(
            "{} run {} --seed {}",
            crate::program_name(),
            self.scenario_file,
            self.seed
        );
        if let Some(d) = self.duration_override {
            let _ = write!(command, " --duration {d}");
        }
        command
    }

    pub fn trace_hash_hex(&self) -> String {
        format!("{:016x}", self.trace_hash)
    }

    /// The `checks` section: one line per check, with its violation or why it was not judged.
    fn render_checks(&self, w: &mut String) {
        let _ = writeln!(w, "checks");
        for c in &self.checks {
            let verdict = match (&c.violation, &c.not_evaluated) {
                (Some(_), _) => "FAIL",
                (None, Some(_)) => "n/a ",
                (None, None) => "ok  ",
            };
            let figures: Vec<String> = c.figures.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let figures = if figures.is_empty() {
                String::new()
            } else {
                format!("  ({})", figures.join(", "))
            };
            let _ = writeln!(w, "  {verdict} {:<10} {}{figures}", c.kind.as_str(), c.name);
            if let Some(v) = &c.violation {
                let _ = writeln!(
                    w,
                    "       at t={}: {}",
                    v.time,
                    v.message.replace('\n', "\n       ")
                );
            } else if let Some(why) = &c.not_evaluated {
                let _ = writeln!(w, "       not evaluated: {why}");
            }
        }
    }

    /// The `verdict` line.
    fn render_verdict(&self, w: &mut String) {
        match self.failure() {
            None => {
                let unjudged = self
                    .checks
                    .iter()
                    .filter(|c| c.not_evaluated.is_some())
                    .count();
                let held = self.checks.len() - unjudged;
                if self.checks.is_empty() {
                    let _ = writeln!(
                        w,
                        "verdict    PASS: the run finished; it has no checks to judge it"
                    );
                } else if unjudged == 0 {
                    let _ = writeln!(w, "verdict    PASS: all {held} checks held");
                } else {
                    let _ = writeln!(
                        w,
                        "verdict    PASS: {held} checks held, {unjudged} not evaluated"
                    );
                }
            }
            Some(failure) => {
                let _ = writeln!(w, "verdict    FAIL: {failure}");
            }
        }
    }

    /// The summary a person reads.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let quiet = if self.quiet > SimDuration::ZERO {
            format!(" + {} quiet", self.quiet)
        } else {
            String::new()
        };
        let _ = writeln!(
            w,
            "scenario   {} ({}): {} nodes, protocol {}, {} of faults{quiet}",
            self.scenario_name, self.scenario_file, self.node_count, self.protocol, self.duration
        );
        let _ = writeln!(w, "seed       {}", self.seed);
        if !self.parameters.is_empty() {
            let sampled: Vec<String> = self
                .parameters
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            let _ = writeln!(w, "sampled    {}", sampled.join(", "));
        }
        if self.schedule.is_empty() {
            let _ = writeln!(w, "schedule   no faults");
        } else {
            for (i, line) in self.schedule.iter().enumerate() {
                let label = if i == 0 { "schedule" } else { "" };
                let _ = writeln!(w, "{label:<10} {line}");
            }
        }
        let s = &self.stats;
        let _ = writeln!(w, "simulated  {} in {} events", self.time_reached, s.events);
        let _ = writeln!(
            w,
            "messages   {} sent, {} delivered, {} dropped ({} lost, {} partitioned, {} to a down node), {} duplicated",
            s.messages_sent,
            s.messages_delivered,
            s.messages_dropped(),
            s.messages_dropped_loss,
            s.messages_dropped_partition,
            s.messages_dropped_node_down,
            s.messages_duplicated
        );
        let faults: Vec<&AppliedFault> = self
            .applied
            .iter()
            .filter(|f| !f.text.starts_with("quiet phase"))
            .collect();
        let skipped = faults.iter().filter(|f| f.skipped).count();
        let skipped = if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        };
        let _ = writeln!(
            w,
            "faults     {} applied{skipped} ({} crashes, {} restarts, {} pauses)",
            faults.len() - faults.iter().filter(|f| f.skipped).count(),
            s.crashes,
            s.restarts,
            s.pauses
        );
        render_faults(w, &faults);
        let width = self
            .summary
            .iter()
            .map(|(k, _)| k.len())
            .filter(|&len| len <= 16)
            .max()
            .unwrap_or(0)
            .max(10);
        for (key, value) in &self.summary {
            let _ = writeln!(w, "{key:<width$} {value}");
        }
        self.render_checks(w);
        if let Some(p) = &self.panic {
            let place = panic_place(p);
            let _ = writeln!(
                w,
                "  FAIL panic      {place} panicked at t={}: {}",
                p.time, p.message
            );
        }
        if self.limit_reached {
            let _ = writeln!(
                w,
                "  FAIL limit      the run reached its event limit at t={}",
                self.time_reached
            );
        }
        if let Some(e) = &self.trace_error {
            let _ = writeln!(
                w,
                "error      the trace file could not be written completely: {e}"
            );
        }
        let _ = writeln!(w, "trace hash {}", self.trace_hash_hex());
        self.render_verdict(w);
        let _ = writeln!(w, "reproduce  {}", self.reproduce());
        out
    }

    /// The same, for tools.
    pub fn to_json(&self) -> Value {
        let s = &self.stats;
        json!({
            "scenario": self.scenario_name,
            "file": self.scenario_file,
            "protocol": self.protocol,
            "nodes": self.node_count,
            "seed": self.seed,
            "sampled": self.parameters.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "duration_ns": self.duration.as_nanos(),
            "quiet_ns": self.quiet.as_nanos(),
            "schedule": self.schedule,
            "time_reached_ns": self.time_reached.as_nanos(),
            "events": s.events,
            "messages": {
                "sent": s.messages_sent,
                "delivered": s.messages_delivered,
                "dropped": s.messages_dropped(),
                "dropped_loss": s.messages_dropped_loss,
                "dropped_partition": s.messages_dropped_partition,
                "dropped_node_down": s.messages_dropped_node_down,
                "duplicated": s.messages_duplicated,
            },
            "faults": self.applied.iter().map(|f| json!({"time_ns": f.time.as_nanos(), "fault": f.text, "skipped": f.skipped})).collect::<Vec<_>>(),
            "summary": self.summary.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "figures": self.figures.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "checks": self.checks.iter().map(|c| json!({
                "name": c.name,
                "kind": c.kind.as_str(),
                "passed": c.passed(),
                "evaluated": c.not_evaluated.is_none(),
                "not_evaluated": c.not_evaluated,
                "violation": c.violation.as_ref().map(|v| json!({"time_ns": v.time.as_nanos(), "message": v.message})),
                "figures": c.figures.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "panic": self.panic.as_ref().map(|p| json!({"node": p.node.map(|n| n.to_string()), "time_ns": p.time.as_nanos(), "message": p.message})),
            "limit_reached": self.limit_reached,
            "passed": self.passed(),
            "failure": self.failure(),
            "trace_error": self.trace_error,
            "trace_hash": self.trace_hash_hex(),
            "reproduce": self.reproduce(),
        })
    }

    /// Counts of checks by kind, for one-line summaries.
    pub fn check_counts(&self) -> [(CheckKind, usize, usize); 3] {
        let count = |kind: CheckKind| {
            let of_kind = self.checks.iter().filter(|c| c.kind == kind);
            let total = of_kind.clone().count();
            let passed = of_kind.filter(|c| c.passed()).count();
            (kind, passed, total)
        };
        [
            count(CheckKind::Always),
            count(CheckKind::Sometimes),
            count(CheckKind::Eventually),
        ]
    }
}

fn panic_place(p: &HandlerPanic) -> String {
    match p.node {
        Some(node) => format!("the protocol handler on {node}"),
        None => "the client workload".to_string(),
    }
}
