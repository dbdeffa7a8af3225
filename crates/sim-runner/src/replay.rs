//! Replaying a run and locating where two runs part.
//!
//! [`replay`] runs a [`FailureRecord`] again and says whether it reproduced: the same trace hash
//! and the same failed check. When the hashes differ (the code changed, or the simulator is not
//! deterministic), [`first_difference`] compares the two runs' checkpoints (the running hash every
//! `CHECKPOINT_EVERY` events) to find the window where they part, and [`trace_window`] re-runs a
//! seed keeping only that window's trace lines, so the first differing event can be shown.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use sim_core::trace::Checkpoint;
use sim_core::SimTime;
use sim_scenario::{Scenario, ScenarioError};

use crate::driver::RunOptions;
use crate::family::Families;
use crate::record::FailureRecord;
use crate::report::RunReport;

/// Where two runs that should be equal part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Both runs agree on their first `agree_events` events (0 when they differ from the start).
    pub agree_events: u64,
    /// The time of the last event they agree on.
    pub agree_time: SimTime,
    /// The first difference is at or before this event (1-based), at or before `before_time`
    /// when known.
    pub differ_by_event: u64,
    pub before_time: Option<SimTime>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the runs agree on their first {} events (through t={}); the first difference is among events {}..={}",
            self.agree_events,
            self.agree_time,
            self.agree_events + 1,
            self.differ_by_event
        )?;
        if let Some(t) = self.before_time {
            write!(f, " (by t={t})")?;
        }
        Ok(())
    }
}

/// The window where two runs' checkpoints first disagree, given each run's checkpoints and final
/// `(events, hash)`; `None` when they agree throughout.
pub fn first_difference(
    a: &[Checkpoint],
    a_end: (u64, u64),
    b: &[Checkpoint],
    b_end: (u64, u64),
) -> Option<Divergence> {
    if a_end == b_end && a == b {
        return None;
    }
    let mut agree = (0, SimTime::ZERO);
    // Long runs thin their checkpoints at the same event counts; compare those both kept.
    let b_at = |events: u64| {
        b.binary_search_by_key(&events, |c| c.events)
            .ok()
            .map(|i| &b[i])
    };
    for (x, y) in a.iter().filter_map(|x| b_at(x.events).map(|y| (x, y))) {
        if x != y {
            let before_time = Some(x.time.max(y.time));
            return Some(Divergence {
                agree_events: agree.0,
                agree_time: agree.1,
                differ_by_event: x.events,
                before_time,
            });
        }
        agree = (x.events, x.time);
    }
    // They agree on every common checkpoint: the difference is after the last of them.
    let shorter_end = a_end.0.min(b_end.0).max(agree.0 + 1);
    let next = |c: &[Checkpoint]| c.get(agree_index(c, agree.0)).map(|c| c.time);
    Some(Divergence {
        agree_events: agree.0,
        agree_time: agree.1,
        differ_by_event: shorter_end,
        before_time: next(a).or(next(b)),
    })
}

fn agree_index(c: &[Checkpoint], events: u64) -> usize {
    c.iter().position(|c| c.events > events).unwrap_or(c.len())
}

/// A trace sink that keeps the lines of events `from..=to` (1-based) only.
struct WindowSink {
    from: u64,
    to: u64,
    line: u64,
    kept: Arc<Mutex<Vec<u8>>>,
}

impl Write for WindowSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The trace writes each event as one whole line in one call.
        for part in buf.split_inclusive(|&b| b == b'\n') {
            let number = self.line + 1;
            if number >= self.from && number <= self.to {
                self.kept
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(part);
            }
            if part.ends_with(b"\n") {
                self.line += 1;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The trace lines (JSON) of events `from..=to` (1-based) of a run, and its report.
pub fn trace_window(
    families: &Families,
    scenario: &Scenario,
    mut options: RunOptions,
    from: u64,
    to: u64,
) -> Result<(Vec<String>, RunReport), ScenarioError> {
    let kept = Arc::new(Mutex::new(Vec::new()));
    options.trace = Some(Box::new(WindowSink {
        from,
        to,
        line: 0,
        kept: Arc::clone(&kept),
    }));
    let report = families.run(scenario, options)?;
    let bytes = kept.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let lines = String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_string)
        .collect();
    Ok((lines, report))
}

/// The first differing event: its number (1-based) and each run's trace line there.
pub type FirstDifference = (u64, Option<String>, Option<String>);

/// The first event two runs disagree on, by re-running each with its trace kept for the window
/// `divergence` names: the event number and each run's line (`None` past a run's end).
pub fn first_differing_event(
    families: &Families,
    a: (&Scenario, RunOptions),
    b: (&Scenario, RunOptions),
    divergence: &Divergence,
) -> Result<Option<FirstDifference>, ScenarioError> {
    let from = divergence.agree_events + 1;
    let to = divergence.differ_by_event.max(from);
    let (a_lines, _) = trace_window(families, a.0, a.1, from, to)?;
    let (b_lines, _) = trace_window(families, b.0, b.1, from, to)?;
    let len = a_lines.len().max(b_lines.len());
    for i in 0..len {
        let (x, y) = (a_lines.get(i), b_lines.get(i));
        if x != y {
            return Ok(Some((from + i as u64, x.cloned(), y.cloned())));
        }
    }
    Ok(None)
}

/// What a replay found.
#[derive(Debug)]
pub enum ReplayVerdict {
    /// The same trace hash and the same failed check.
    Reproduced,
    /// The run is not the recorded one: `divergence` says where it parts from the record.
    Diverged {
        divergence: Divergence,
        /// The replay's first event in that window.
        first_replayed: Option<String>,
    },
}

/// A replay's report and verdict.
#[derive(Debug)]
pub struct Replay {
    pub report: RunReport,
    pub verdict: ReplayVerdict,
}

impl Replay {
    /// Whether the replay still fails the recorded check.
    pub fn fails_same_check(&self, record: &FailureRecord) -> bool {
        self.report.failed_check().as_deref() == Some(record.check.as_str())
    }
}

/// Runs `record` again, with its trace streamed to `trace` if given.
pub fn replay(
    families: &Families,
    record: &FailureRecord,
    trace: Option<Box<dyn Write>>,
) -> Result<Replay, ScenarioError> {
    replay_reporting(families, record, trace, None)
}

/// [`replay`], with what an HTML report draws collected into `report` if given.
pub fn replay_reporting(
    families: &Families,
    record: &FailureRecord,
    trace: Option<Box<dyn Write>>,
    report: Option<sim_report::Collector>,
) -> Result<Replay, ScenarioError> {
    let scenario = record.scenario()?;
    let mut options = RunOptions::new(record.seed);
    options.duration = record.duration;
    options.trace = trace;
    options.keep_history = report.is_some();
    options.report = report;
    let report = families.run(&scenario, options)?;
    let recorded = record.trace_checkpoints();
    let recorded_hash = u64::from_str_radix(&record.trace_hash, 16).unwrap_or(0);
    let difference = first_difference(
        &recorded,
        (record.trace_events, recorded_hash),
        &report.trace_checkpoints,
        (report.trace_events, report.trace_hash),
    );
    let verdict = match difference {
        None => ReplayVerdict::Reproduced,
        Some(divergence) => {
            let mut options = RunOptions::new(record.seed);
            options.duration = record.duration;
            let from = divergence.agree_events + 1;
            let (lines, _) = trace_window(families, &scenario, options, from, from)?;
            ReplayVerdict::Diverged {
                divergence,
                first_replayed: lines.into_iter().next(),
            }
        }
    };
    Ok(Replay { report, verdict })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(events: u64, hash: u64) -> Checkpoint {
        Checkpoint {
            events,
            time: SimTime(events * 10),
            hash,
        }
    }

    #[test]
    fn equal_runs_have_no_difference() {
        let a = [cp(1024, 1), cp(2048, 2)];
        assert_eq!(first_difference(&a, (2050, 9), &a, (2050, 9)), None);
    }

    #[test]
    fn the_first_differing_checkpoint_bounds_the_window() {
        let a = [cp(1024, 1), cp(2048, 2), cp(3072, 3)];
        let b = [cp(1024, 1), cp(2048, 7), cp(3072, 8)];
        let d = first_difference(&a, (3100, 4), &b, (3100, 5)).expect("differ");
        assert_eq!(d.agree_events, 1024);
        assert_eq!(d.differ_by_event, 2048);
    }

    #[test]
    fn a_difference_after_the_last_checkpoint_is_placed_after_it() {
        let a = [cp(1024, 1)];
        let d = first_difference(&a, (1500, 4), &a, (1400, 5)).expect("differ");
        assert_eq!(d.agree_events, 1024);
        assert_eq!(d.differ_by_event, 1400);
        let d = first_difference(&[], (10, 4), &[], (10, 5)).expect("differ");
        assert_eq!((d.agree_events, d.differ_by_event), (0, 10));
    }
}
