//! `--report FILE.html`: the one-page HTML report of a run (`sim run`, `sim replay`, beside each
//! failure record of `sim fuzz --report`) or of a history (`sim check`), drawn by `sim-report`.
//!
//! This module fills the report's input from a [`RunReport`] (summary, checks, violation, fault
//! windows, the client history and, for a failed linearizability check, the checker's
//! explanation) and writes the file; a report that cannot be written fails the command.

use std::path::Path;

use sim_check::{Budget, CheckResult, History};
use sim_report::{CheckLine, Collector, ReportInput, ViolationInput};
use sim_runner::RunReport;
use sim_scenario::Scenario;

/// The state budget for explaining a failed linearizability check in a report: the run's check
/// already decided; this only finds the explanation again, deterministically.
const EXPLAIN_STATES: u64 = 20_000_000;

/// The report's input for a finished run of `scenario`.
pub fn run_input(scenario: &Scenario, report: &RunReport) -> ReportInput {
    let sampled = scenario.sample(report.seed).ok();
    let scenario = sampled.as_ref().unwrap_or(scenario);
    let history = report
        .history
        .as_ref()
        .and_then(|h| sim_check::parse_history(&h.to_string(), "history", None).ok());
    let failed = report.failed_check();
    let linearizability = match (&history, &failed) {
        (Some(h), Some(check)) if check.contains("linearizab") => Some(explain(h)),
        _ => None,
    };
    ReportInput {
        title: format!("{}, seed {}", report.scenario_name, report.seed),
        command: report.reproduce(),
        summary: summary_lines(&report.render_text()),
        node_names: scenario.node_names.clone(),
        checks: check_lines(report),
        violation: violation(report),
        fault_windows: report
            .fault_windows
            .iter()
            .map(|(a, b)| (a.0, b.0))
            .collect(),
        faults: report
            .applied
            .iter()
            .map(|f| {
                let skipped = if f.skipped { " (skipped)" } else { "" };
                (f.time.0, format!("{}{skipped}", f.text))
            })
            .collect(),
        baseline_network: serde_json::to_string(&scenario.network).ok(),
        quiet_start_ns: (report.quiet.0 > 0).then_some(scenario.fault_end().0),
        end_ns: report.time_reached.0,
        history,
        linearizability,
    }
}

/// The checker's result on `history`, for its explanation.
fn explain(history: &History) -> CheckResult {
    let budget = Budget {
        max_states: EXPLAIN_STATES,
        ..Budget::default()
    };
    sim_check::check(history, &budget)
}

/// The summary's `key   value` lines as pairs, continuation lines joined to their key, without
/// the checks (the page lists them itself).
fn summary_lines(text: &str) -> Vec<(String, String)> {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut in_checks = false;
    for line in text.lines() {
        if line.starts_with(' ') {
            if in_checks {
                continue;
            }
            if let Some(last) = lines.last_mut() {
                last.1.push('\n');
                last.1.push_str(line.trim());
            }
            continue;
        }
        // Keys are padded to ten columns (`trace hash` fills them); a longer key ends at its
        // first space.
        let (key, value) = if line.len() > 10 && line.as_bytes()[10] == b' ' {
            (line[..10].trim(), line[10..].trim())
        } else {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            (key, value.trim())
        };
        in_checks = key == "checks";
        if in_checks {
            continue;
        }
        if key.is_empty() {
            continue;
        }
        lines.push((key.to_string(), value.to_string()));
    }
    lines
}

fn check_lines(report: &RunReport) -> Vec<CheckLine> {
    report
        .checks
        .iter()
        .map(|c| {
            let (status, message, time) = match (&c.violation, &c.not_evaluated) {
                (Some(v), _) => ("FAIL", v.message.clone(), Some(v.time.0)),
                (None, Some(why)) => ("not evaluated", why.clone(), None),
                (None, None) => {
                    let figures: Vec<String> =
                        c.figures.iter().map(|(k, v)| format!("{k} {v}")).collect();
                    ("ok", figures.join(", "), None)
                }
            };
            CheckLine {
                name: c.name.clone(),
                kind: c.kind.as_str().to_string(),
                status: status.to_string(),
                message,
                time_ns: time,
            }
        })
        .collect()
}

/// The failure the page opens on: the failed check's violation, a panic, or the event limit.
fn violation(report: &RunReport) -> Option<ViolationInput> {
    let check = report.failed_check()?;
    if let Some(p) = &report.panic {
        return Some(ViolationInput {
            check,
            time_ns: p.time.0,
            message: report.failure().unwrap_or_default(),
        });
    }
    let found = report
        .stopped_by
        .as_ref()
        .filter(|(name, _)| *name == check)
        .map(|(_, v)| v.clone())
        .or_else(|| {
            report
                .checks
                .iter()
                .find(|c| c.name == check)
                .and_then(|c| c.violation.clone())
        });
    Some(match found {
        Some(v) => ViolationInput {
            check,
            time_ns: v.time.0,
            message: v.message,
        },
        None => ViolationInput {
            check,
            time_ns: report.time_reached.0,
            message: report.failure().unwrap_or_default(),
        },
    })
}

/// Writes the page for `collector`'s run to `path`; the error names the file.
pub fn write(
    path: &Path,
    collector: Option<&Collector>,
    input: &ReportInput,
) -> Result<(), String> {
    let collected = collector.map(|c| c.collected());
    let page = sim_report::render(collected.as_deref(), input);
    std::fs::write(path, page).map_err(|e| format!("--report {}: {e}", path.display()))
}

/// The report of a failure record's replay, written to `path`; its reproduce line replays the
/// record.
pub fn write_for_record(
    path: &Path,
    record: &sim_runner::record::FailureRecord,
    report: &RunReport,
    collector: &Collector,
) -> Result<(), String> {
    let scenario = record
        .scenario()
        .map_err(|e| format!("--report {}: {e}", path.display()))?;
    let mut input = run_input(&scenario, report);
    input.summary.insert(
        0,
        (
            "record".to_string(),
            format!(
                "{} with seed {}, {}",
                record.scenario_file, record.seed, record.check
            ),
        ),
    );
    write(path, Some(collector), &input)
}

/// Replays the failure record at `record_path` and writes its report beside it
/// (`seed-N.json` → `seed-N.html`), for `sim fuzz --report`. Returns the report's path.
pub fn beside_record(
    program: &crate::Program,
    record_path: &Path,
) -> Result<std::path::PathBuf, String> {
    let record = crate::replay::load_record(record_path)?;
    let collector = Collector::new();
    let replayed = sim_runner::replay::replay_reporting(
        &program.families,
        &record,
        None,
        Some(collector.clone()),
    )
    .map_err(|e| format!("{}: {e}", record_path.display()))?;
    let path = record_path.with_extension("html");
    write_for_record(&path, &record, &replayed.report, &collector)?;
    Ok(path)
}

/// The report's input for a history checked on its own (`sim check HISTORY --report`).
pub fn history_input(path: &Path, history: &History, result: &CheckResult) -> ReportInput {
    let verdict = result.verdict.name();
    let mut summary = vec![
        ("history".to_string(), path.display().to_string()),
        ("model".to_string(), history.model().name().to_string()),
        ("operations".to_string(), result.op_count.to_string()),
        ("keys".to_string(), result.keys.len().to_string()),
        ("states".to_string(), result.states_explored.to_string()),
        ("verdict".to_string(), verdict.to_string()),
    ];
    if let sim_check::Verdict::Unknown { reason } = &result.verdict {
        summary.push(("unknown".to_string(), reason.clone()));
    }
    let text = sim_check::render_text(result, history);
    let violation = result.explanation.as_ref().map(|x| {
        let events = history.events();
        let ops = history.operations();
        let blocking = ops.iter().find(|op| op.index == x.blocking);
        let time = blocking
            .and_then(|op| op.complete_index)
            .map(|i| events.get(i).and_then(|e| e.time_ns).unwrap_or(i as u64))
            .unwrap_or(0);
        ViolationInput {
            check: "linearizability".to_string(),
            time_ns: time,
            message: text.clone(),
        }
    });
    let end = history
        .events()
        .iter()
        .enumerate()
        .map(|(i, e)| e.time_ns.unwrap_or(i as u64))
        .max()
        .unwrap_or(0);
    ReportInput {
        title: format!("history {}", path.display()),
        command: format!("{} check {}", sim_runner::program_name(), path.display()),
        summary,
        checks: vec![CheckLine {
            name: "linearizability".to_string(),
            kind: "always".to_string(),
            status: match result.verdict {
                sim_check::Verdict::Linearizable => "ok",
                sim_check::Verdict::NotLinearizable => "FAIL",
                sim_check::Verdict::Unknown { .. } => "not evaluated",
            }
            .to_string(),
            message: verdict.to_string(),
            time_ns: None,
        }],
        violation,
        end_ns: end,
        history: Some(history.clone()),
        linearizability: Some(result.clone()),
        ..ReportInput::default()
    }
}

#[cfg(test)]
mod tests {
    use super::summary_lines;

    #[test]
    fn summary_lines_join_continuations_and_leave_out_the_checks() {
        let text = "scenario   a\nschedule   at 1s: x\n           at 2s: y\nchecks\n  ok   always  c\n       at t=1s: z\ntrace hash 00ff\nverdict    PASS\n";
        let lines = summary_lines(text);
        assert_eq!(
            lines,
            vec![
                ("scenario".to_string(), "a".to_string()),
                ("schedule".to_string(), "at 1s: x\nat 2s: y".to_string()),
                ("trace hash".to_string(), "00ff".to_string()),
                ("verdict".to_string(), "PASS".to_string()),
            ]
        );
    }
}
