//! The checks a key-value run ends with: linearizability of the client history, progress after
//! the faults heal, and that anything completed at all.
//!
//! Owns [`KvCheckParams`] and [`checks`], which builds `kv.linearizable` (always: the recorded
//! history is checked with `sim-check` at the end of the run, within a deterministic state
//! budget), `kv.progress` (eventually: after the quiet phase starts, operations complete ok within
//! a bound) and `kv.some_ok` (sometimes: at least one operation completed ok). They read the
//! [`KvWorkload`] through [`kv_workload`]; they work for any process whose requests and responses
//! are the kv types. Protocol-specific checks (a single leader per term, say) live with the
//! protocol.

use serde::{Deserialize, Serialize};
use sim_check::{IncrementalResult, Verdict};
use sim_core::{
    Check, CheckKind, CheckReport, ClusterInfo, Phases, Process, SimDuration, SimTime, Simulation,
    SuiteError, Violation,
};

use sim_client::{human_duration, QuietCounts};

use crate::types::{KvRequest, KvResponse};
use crate::workload::KvWorkload;

/// The key-value checks' parameters.
///
/// A suite's `[checks]` table can hold these fields itself and build this struct, or nest it as
/// a field (`#[serde(default)] kv: KvCheckParams`, written `[checks.kv]` in a scenario). Do not
/// `#[serde(flatten)]` it into a struct that denies unknown fields: serde does not support the
/// two together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KvCheckParams {
    /// Check the history for linearizability at the end of the run (`kv.linearizable`).
    pub linearizability: bool,
    /// The most search states the checker may explore per key before answering unknown.
    pub state_budget: u64,
    /// `kv.progress`: after the quiet phase starts, operations must complete ok within this
    /// bound; absent, within the whole quiet phase (the check is always on, and says it was not
    /// evaluated in a run without a quiet phase).
    pub ops_within: Option<SimDuration>,
    /// `kv.progress`: how many operations must complete ok within the bound.
    pub progress_ops: u64,
    /// `kv.progress`: every client active in the window must complete an operation ok, not
    /// just `progress_ops` between them.
    pub progress_every_client: bool,
}

impl Default for KvCheckParams {
    fn default() -> Self {
        KvCheckParams {
            linearizability: true,
            state_budget: 10_000_000,
            ops_within: None,
            progress_ops: 1,
            progress_every_client: false,
        }
    }
}

impl KvCheckParams {
    /// Checks the parameters against the run's phases; `prefix` is where the fields live in the
    /// scenario (`checks` or `checks.kv`), for the error's field name.
    pub fn validate(&self, cluster: &ClusterInfo, prefix: &str) -> Result<(), SuiteError> {
        if self.state_budget == 0 {
            return Err(SuiteError::new(
                format!("{prefix}.state_budget"),
                "expected at least 1, found 0",
            ));
        }
        if self.progress_ops == 0 {
            return Err(SuiteError::new(
                format!("{prefix}.progress_ops"),
                "expected at least 1, found 0",
            ));
        }
        if let Some(within) = self.ops_within {
            if within == SimDuration::ZERO {
                return Err(SuiteError::new(
                    format!("{prefix}.ops_within"),
                    "expected a positive duration, found 0s",
                ));
            }
            if cluster.quiet_duration == SimDuration::ZERO {
                return Err(SuiteError::new(
                    format!("{prefix}.ops_within"),
                    "a progress bound needs a quiet phase, but the scenario has quiet = \"0s\"",
                ));
            }
            if within > cluster.quiet_duration {
                return Err(SuiteError::new(
                    format!("{prefix}.ops_within"),
                    format!(
                        "expected at most the quiet phase ({}), found {within}",
                        cluster.quiet_duration
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The kv workload of a simulation, if it has one.
pub fn kv_workload<P: Process>(sim: &Simulation<P>) -> Option<&KvWorkload> {
    sim.workload()
        .and_then(|w| w.as_any().downcast_ref::<KvWorkload>())
}

/// The kv checks `params` ask for, for a suite's `checks()`.
pub fn checks<P>(params: &KvCheckParams) -> Vec<Box<dyn Check<P>>>
where
    P: Process<Request = KvRequest, Response = KvResponse>,
{
    let mut checks: Vec<Box<dyn Check<P>>> = Vec::new();
    if params.linearizability {
        checks.push(Box::new(Linearizable {
            state_budget: params.state_budget,
        }));
    }
    checks.push(Box::new(Progress {
        within: params.ops_within,
        ops: params.progress_ops,
        every_client: params.progress_every_client,
    }));
    checks.push(Box::new(SomeOk));
    checks
}

fn no_workload(name: &str, kind: CheckKind, end: SimTime) -> CheckReport {
    CheckReport {
        name: name.to_string(),
        kind,
        violation: Some(Violation {
            time: end,
            message: "the run has no kv workload, so there is nothing to check".to_string(),
        }),
        figures: Vec::new(),
        not_evaluated: None,
    }
}

/// `kv.linearizable`: the client history is linearizable for a key-value map, key by key.
///
/// The workload checks its history as it records it (stretch by stretch, see
/// [`sim_check::Incremental`]), so the state budget is the workload's: a suite passes
/// `state_budget` to [`KvWorkload::with_state_budget`]. When the two differ the summary says so.
#[derive(Debug, Clone)]
pub struct Linearizable {
    pub state_budget: u64,
}

impl<P: Process> Check<P> for Linearizable {
    fn name(&self) -> &str {
        "kv.linearizable"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn finish(&mut self, sim: &Simulation<P>, phases: &Phases) -> CheckReport {
        let name = Check::<P>::name(self).to_string();
        let Some(workload) = kv_workload(sim) else {
            return no_workload(&name, CheckKind::Always, phases.end);
        };
        // Checked as it was recorded, stretch by stretch, within the state budget the suite
        // gave the workload (`KvWorkload::with_state_budget`); no wall-clock limit, so the
        // verdict depends on nothing but the run.
        let result = workload.linearizability();
        let mut figures = vec![
            ("operations".to_string(), result.op_count.to_string()),
            ("keys".to_string(), result.keys.len().to_string()),
            (
                "states explored".to_string(),
                result.states_explored.to_string(),
            ),
        ];
        if workload.state_budget() != self.state_budget {
            figures.push((
                "state budget".to_string(),
                format!(
                    "{} states per stretch (the workload's; the check asked for {})",
                    workload.state_budget(),
                    self.state_budget
                ),
            ));
        }
        let mut not_evaluated = None;
        let violation = match &result.verdict {
            Verdict::Linearizable => {
                figures.insert(0, ("verdict".to_string(), "linearizable".to_string()));
                None
            }
            Verdict::Unknown { reason } => {
                // Neither held nor failed: a search that gave up judged nothing.
                figures.insert(0, ("verdict".to_string(), "unknown".to_string()));
                not_evaluated = Some(format!("the search gave up: {reason}"));
                None
            }
            Verdict::NotLinearizable => {
                figures.insert(0, ("verdict".to_string(), "not linearizable".to_string()));
                Some(failure_violation(&result, phases.end))
            }
        };
        CheckReport {
            name,
            kind: CheckKind::Always,
            violation,
            figures,
            not_evaluated,
        }
    }
}

/// The violation of `kv.linearizable`: the operation that cannot be placed, with its key, process
/// and times, then the failing stretch of the history explained.
pub fn failure_violation(result: &IncrementalResult, end: SimTime) -> Violation {
    let Some(failure) = &result.failure else {
        return Violation {
            time: end,
            message: "not linearizable".to_string(),
        };
    };
    let mut time = SimTime(failure.to_ns);
    let mut message = String::new();
    if let Some(explanation) = &failure.result.explanation {
        let events = failure.history.events();
        let blocking = failure
            .history
            .operations()
            .into_iter()
            .find(|op| op.index == explanation.blocking);
        let invoked = events.get(explanation.blocking).and_then(|e| e.time_ns);
        let returned = blocking
            .as_ref()
            .and_then(|op| op.complete_index)
            .and_then(|i| events.get(i))
            .and_then(|e| e.time_ns);
        if let Some(returned) = returned {
            time = SimTime(returned);
        }
        let whole = failure
            .whole_index
            .get(&explanation.blocking)
            .copied()
            .unwrap_or(explanation.blocking);
        message.push_str(&format!(
            "key {} op {} (process {}, invoked at t={}, returned at {}) cannot be placed in any \
             legal order\n",
            explanation.key.as_deref().unwrap_or("(none)"),
            whole,
            blocking.as_ref().map_or(0, |op| op.process),
            SimTime(invoked.unwrap_or(0)),
            returned.map_or("(never)".to_string(), |t| format!("t={}", SimTime(t))),
        ));
    }
    message.push_str(&failure.render_text());
    Violation {
        time,
        message: message.trim_end().to_string(),
    }
}

/// `kv.progress`: once every fault has healed, operations complete ok within a bound.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The bound after the quiet phase starts; `None`: the whole quiet phase.
    pub within: Option<SimDuration>,
    pub ops: u64,
    pub every_client: bool,
}

impl<P: Process> Check<P> for Progress {
    fn name(&self) -> &str {
        "kv.progress"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn finish(&mut self, sim: &Simulation<P>, phases: &Phases) -> CheckReport {
        let name = Check::<P>::name(self).to_string();
        let Some(workload) = kv_workload(sim) else {
            return no_workload(&name, CheckKind::Eventually, phases.end);
        };
        let Some(quiet_start) = phases.quiet_start else {
            return CheckReport::not_evaluated(
                &name,
                CheckKind::Eventually,
                "the run has no quiet phase to judge progress in",
            );
        };
        let deadline = self
            .within
            .map_or(phases.end, |within| quiet_start.saturating_add(within));
        let bound = self.within.map_or_else(
            || {
                format!(
                    "the quiet phase ({})",
                    deadline.saturating_since(quiet_start)
                )
            },
            |within| within.to_string(),
        );
        let clients: Option<Vec<&QuietCounts>> = (0..workload.client_count())
            .map(|client| {
                let (started, counts) = workload.quiet_counts(client)?;
                (started == quiet_start).then_some(counts)
            })
            .collect();
        let Some(clients) = clients else {
            return CheckReport::not_evaluated(
                &name,
                CheckKind::Eventually,
                "the workload was not told when the quiet phase started",
            );
        };
        // Per client, its ok operations completed by the deadline (the quiet phase's are in
        // completion order).
        let ok_by_deadline = |q: &QuietCounts| q.ok_at.partition_point(|&t| t <= deadline);
        let ok_count = clients
            .iter()
            .map(|q| ok_by_deadline(q) as u64)
            .sum::<u64>();
        let first_ok = clients
            .iter()
            .filter_map(|q| q.ok_at.first().copied())
            .filter(|&t| t <= deadline)
            .min();
        let mut figures = vec![(
            "ok operations in the window".to_string(),
            format!("{ok_count} by t={deadline}"),
        )];
        if let Some(first) = first_ok {
            figures.push((
                "first ok after healing".to_string(),
                human_duration(first.saturating_since(quiet_start)),
            ));
        }
        let mut problems = Vec::new();
        if ok_count < self.ops {
            problems.push(format!(
                "{ok_count} operations completed ok, expected at least {}",
                self.ops
            ));
        }
        if self.every_client {
            // A client is held to the bound if it had an operation outstanding or invoked one
            // during the window; a client that stopped before it (max_ops, stop_at) is not.
            let stalled: Vec<String> = clients
                .iter()
                .enumerate()
                .filter(|(_, q)| {
                    let active =
                        q.open_at_start > 0 || q.first_invoke.is_some_and(|t| t <= deadline);
                    active && ok_by_deadline(q) == 0
                })
                .map(|(client, _)| format!("c{}", client + 1))
                .collect();
            if !stalled.is_empty() {
                problems.push(format!(
                    "clients {} completed nothing ok",
                    stalled.join(", ")
                ));
            }
        }
        let ran_short = phases.end < deadline;
        let violation = (!problems.is_empty()).then(|| Violation {
            time: deadline.min(phases.end),
            message: format!(
                "the quiet phase started at t={quiet_start}; within {bound} (by t={deadline}) {}{}",
                problems.join("; "),
                if ran_short {
                    format!(" (the run ended early, at t={})", phases.end)
                } else {
                    String::new()
                }
            ),
        });
        CheckReport {
            name,
            kind: CheckKind::Eventually,
            violation,
            figures,
            not_evaluated: None,
        }
    }
}

/// `kv.some_ok`: at least one operation completed ok, so a run where nothing worked cannot pass
/// quietly.
#[derive(Debug, Clone)]
pub struct SomeOk;

impl<P: Process> Check<P> for SomeOk {
    fn name(&self) -> &str {
        "kv.some_ok"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn finish(&mut self, sim: &Simulation<P>, phases: &Phases) -> CheckReport {
        let name = Check::<P>::name(self).to_string();
        let Some(workload) = kv_workload(sim) else {
            return no_workload(&name, CheckKind::Sometimes, phases.end);
        };
        let tally = workload.tally();
        let (counts, first_ok) = (tally.counts, tally.first_ok);
        let violation = (counts.ok == 0).then(|| Violation {
            time: phases.end,
            message: format!("no operation completed ok in the whole run ({counts})"),
        });
        let mut figures = vec![("operations".to_string(), counts.to_string())];
        if let Some(first) = first_ok {
            figures.push(("first ok".to_string(), format!("t={first}")));
        }
        CheckReport {
            name,
            kind: CheckKind::Sometimes,
            violation,
            figures,
            not_evaluated: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::{self, finish, Faults, Note, ToyStore};
    use crate::WorkloadParams;
    use sim_client::OpStatus;

    fn seconds(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    fn at(s: u64) -> Option<SimTime> {
        Some(SimTime::ZERO + seconds(s))
    }

    fn figure<'a>(report: &'a CheckReport, name: &str) -> &'a str {
        report
            .figures
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A correct store passes, and the summary says the verdict.
    #[test]
    fn linearizable_passes_a_correct_store() {
        let sim = toy::run(
            WorkloadParams::default(),
            Faults::default(),
            1,
            21,
            seconds(2),
        );
        let report = finish(
            &mut Linearizable {
                state_budget: 1_000_000,
            },
            &sim,
            None,
        );
        assert!(report.passed(), "{:?}", report.violation);
        assert_eq!(report.kind, CheckKind::Always);
        assert_eq!(figure(&report, "verdict"), "linearizable");
    }

    /// A store that sometimes reads a key's previous value is caught, and the message names the
    /// key, the operation that cannot be placed and when it ran.
    #[test]
    fn linearizable_catches_stale_reads() {
        let faults = Faults {
            stale_read: 0.2,
            ..Faults::default()
        };
        let sim = toy::run(WorkloadParams::default(), faults, 1, 21, seconds(2));
        let report = finish(
            &mut Linearizable {
                state_budget: 1_000_000,
            },
            &sim,
            None,
        );
        let violation = report.violation.expect("stale reads must be caught");
        assert!(
            violation.message.starts_with("key k"),
            "{}",
            violation.message
        );
        assert!(
            violation.message.contains("cannot be placed"),
            "{}",
            violation.message
        );
        assert!(
            violation.message.contains("not linearizable"),
            "{}",
            violation.message
        );
        assert!(violation.time > SimTime::ZERO && violation.time <= sim.now());
    }

    /// When the state budget runs out the check neither holds nor fails: it is not evaluated,
    /// with the reason, and its verdict says unknown.
    #[test]
    fn linearizable_unknown_is_not_evaluated() {
        let params = WorkloadParams {
            clients: 5,
            keys: 1,
            ..WorkloadParams::default()
        };
        let faults = Faults {
            drop_after_apply: 0.3,
            ..Faults::default()
        };
        let workload = KvWorkload::new(params, 1).with_state_budget(1);
        let sim = toy::run_workload(workload, faults, 1, 4, seconds(2), |_| {});
        let report = finish(&mut Linearizable { state_budget: 1 }, &sim, None);
        assert!(report.passed(), "{:?}", report.violation);
        assert!(!report.held(), "{report:?}");
        let why = report.not_evaluated.as_deref().unwrap_or_default();
        assert!(why.contains("state budget"), "{report:?}");
        assert_eq!(figure(&report, "verdict"), "unknown", "{report:?}");
    }

    /// Progress holds when operations complete ok soon after the quiet phase starts, and fails
    /// (saying when the phase started, the bound and the count) when the store has gone silent.
    #[test]
    fn progress_needs_ok_operations_after_healing() {
        let faults = Faults {
            silent_after: at(3),
            ..Faults::default()
        };
        let run = |quiet: Option<SimTime>| {
            let notes: Vec<_> = quiet.into_iter().map(|t| (t, Note::QuietPhase)).collect();
            toy::run_noted(WorkloadParams::default(), faults, 8, seconds(6), &notes)
        };
        let mut progress = Progress {
            within: Some(seconds(1)),
            ops: 10,
            every_client: true,
        };
        let report = finish(&mut progress, &run(at(1)), at(1));
        assert!(report.passed(), "{:?}", report.violation);
        let report = finish(&mut progress, &run(at(4)), at(4));
        let violation = report.violation.expect("a silent store makes no progress");
        assert_eq!(
            violation.message,
            "the quiet phase started at t=4s; within 1s (by t=5s) 0 operations completed ok, \
             expected at least 10; clients c1, c2, c3 completed nothing ok"
        );
        assert_eq!(violation.time, SimTime::ZERO + seconds(5));
        let report = finish(&mut progress, &run(None), None);
        assert!(report.passed());
    }

    /// What progress counts as it goes (the run is not kept) is what the whole record of the
    /// run says: the ok operations completed from the quiet phase's start to its deadline.
    #[test]
    fn progress_counts_what_the_records_show() {
        let params = WorkloadParams {
            clients: 4,
            ..WorkloadParams::default()
        };
        for (seed, quiet_ms, within_ms) in [(1, 1_000, 500), (2, 2_345, 1_000), (3, 10, 3_000)] {
            let quiet = SimTime::ZERO + SimDuration::from_millis(quiet_ms);
            let deadline = quiet + SimDuration::from_millis(within_ms);
            let faults = Faults {
                not_leader: 0.2,
                drop_after_apply: 0.1,
                ..Faults::default()
            };
            let notes = [(quiet, Note::QuietPhase)];
            let sim = toy::run_noted(params.clone(), faults, seed, seconds(5), &notes);
            let records = kv_workload(&sim).unwrap().records();
            let expected = records
                .iter()
                .filter(|r| r.status == OpStatus::Ok)
                .filter(|r| r.completed_at.is_some_and(|t| quiet <= t && t <= deadline))
                .count();
            let mut progress = Progress {
                within: Some(SimDuration::from_millis(within_ms)),
                ops: 1,
                every_client: true,
            };
            // A client is held to the bound if it had an operation open at the start or invoked
            // one by the deadline.
            let stalled: Vec<String> = (0..params.clients)
                .filter(|&client| {
                    let mut mine = records.iter().filter(|r| r.client == client);
                    let active = mine.clone().any(|r| {
                        r.invoked_at <= deadline && r.completed_at.is_none_or(|t| t >= quiet)
                    });
                    let ok = mine.any(|r| {
                        r.status == OpStatus::Ok
                            && r.completed_at.is_some_and(|t| quiet <= t && t <= deadline)
                    });
                    active && !ok
                })
                .map(|client| format!("c{}", client + 1))
                .collect();
            let report = finish(&mut progress, &sim, Some(quiet));
            let figure = &report.figures[0].1;
            assert_eq!(
                figure,
                &format!("{expected} by t={deadline}"),
                "seed {seed}"
            );
            match report.violation {
                None => assert!(
                    stalled.is_empty() && expected > 0,
                    "seed {seed}: {stalled:?}"
                ),
                Some(v) => assert!(
                    v.message.ends_with(&format!(
                        "clients {} completed nothing ok",
                        stalled.join(", ")
                    )),
                    "seed {seed}: {stalled:?} {}",
                    v.message
                ),
            }
        }
    }

    /// A workload never told that the quiet phase started cannot be judged.
    #[test]
    fn progress_without_word_of_the_quiet_phase_is_not_evaluated() {
        let sim = toy::run(
            WorkloadParams::default(),
            Faults::default(),
            1,
            8,
            seconds(2),
        );
        let mut progress = Progress {
            within: None,
            ops: 1,
            every_client: false,
        };
        let report = finish(&mut progress, &sim, at(1));
        assert!(report.not_evaluated.is_some(), "{report:?}");
    }

    /// A run in which nothing completed ok does not pass quietly.
    #[test]
    fn some_ok_fails_when_nothing_completes() {
        let faults = Faults {
            silent_after: Some(SimTime::ZERO),
            ..Faults::default()
        };
        let sim = toy::run(WorkloadParams::default(), faults, 1, 8, seconds(3));
        let report = finish(&mut SomeOk, &sim, None);
        let violation = report.violation.expect("nothing completed");
        assert!(
            violation.message.starts_with("no operation completed ok"),
            "{}",
            violation.message
        );
        let sim = toy::run(
            WorkloadParams::default(),
            Faults::default(),
            1,
            8,
            seconds(1),
        );
        assert!(finish(&mut SomeOk, &sim, None).passed());
    }

    /// The checks a suite gets from its parameters.
    #[test]
    fn checks_follow_the_parameters() {
        let names = |params: &KvCheckParams| {
            checks::<ToyStore>(params)
                .iter()
                .map(|c| c.name().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&KvCheckParams::default()),
            ["kv.linearizable", "kv.progress", "kv.some_ok"]
        );
        let params = KvCheckParams {
            linearizability: false,
            ops_within: Some(seconds(5)),
            ..KvCheckParams::default()
        };
        assert_eq!(names(&params), ["kv.progress", "kv.some_ok"]);
    }

    #[test]
    fn check_params_read_from_toml_and_validate() {
        let params: KvCheckParams = toml::from_str("ops_within = \"5s\"").unwrap();
        assert_eq!(params.ops_within, Some(seconds(5)));
        assert!(toml::from_str::<KvCheckParams>("ops_in = \"5s\"").is_err());
        let cluster = ClusterInfo::uniform(3, seconds(30), seconds(10));
        assert_eq!(params.validate(&cluster, "checks"), Ok(()));
        let long = KvCheckParams {
            ops_within: Some(seconds(11)),
            ..KvCheckParams::default()
        };
        assert_eq!(
            long.validate(&cluster, "checks").unwrap_err().field,
            "checks.ops_within"
        );
        let none = ClusterInfo {
            quiet_duration: SimDuration::ZERO,
            ..cluster
        };
        assert_eq!(
            params.validate(&none, "checks.kv").unwrap_err().field,
            "checks.kv.ops_within"
        );
    }
}
