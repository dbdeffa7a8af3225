//! Failure records: a failing run written down so that it can be replayed anywhere.
//!
//! A [`FailureRecord`] is self-contained: it carries the scenario's full text (not only its
//! path), the seed and any `--duration` override, the materialised fault schedule, the explicit
//! scenario (sampled parameters and nemesis written out, for editing and shrinking), the failing
//! check and its message, the trace hash with its checkpoints (to locate a divergence), and the
//! version and commit of `sim` that found it. It is JSON; reading and writing files is the CLI's.

use serde::{Deserialize, Serialize};
use sim_core::trace::Checkpoint;
use sim_core::{SimDuration, SimTime};
use sim_scenario::{emit, Scenario, ScenarioError};

use crate::family::Families;
use crate::report::RunReport;

/// The record format's version; a reader refuses a newer one.
pub const RECORD_FORMAT: u32 = 1;

/// Which `sim` found a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub version: String,
    /// The git commit `sim` was built from, `unknown` when it was built outside a checkout.
    pub commit: String,
}

/// One failing run, everything needed to run it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub format: u32,
    pub sim: Provenance,
    /// The path the scenario was read from, for messages only: `scenario_text` is what runs.
    pub scenario_file: String,
    pub scenario_name: String,
    pub scenario_text: String,
    pub seed: u64,
    /// The `--duration` override of the fault phase, if the campaign had one (`"10s"`).
    pub duration: Option<SimDuration>,
    /// The parameters the seed sampled from the scenario's ranges.
    pub sampled: Vec<(String, String)>,
    /// The materialised fault schedule, one line per fault.
    pub schedule: Vec<String>,
    /// The same run as an explicit scenario: no ranges, no nemesis; replays with `seed`.
    pub explicit_scenario: String,
    /// The failed check (or `panic`, `event-limit`).
    pub check: String,
    /// What went wrong, in words, with the simulated time.
    pub message: String,
    pub trace_hash: String,
    pub trace_events: u64,
    /// `[events, time_ns, hash]` every `CHECKPOINT_EVERY` events.
    pub checkpoints: Vec<(u64, u64, String)>,
}

/// A record that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not a failure record: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "record format {found} is newer than this sim reads ({RECORD_FORMAT}); use a newer sim"
    )]
    Format { found: u32 },
    #[error("the record's scenario does not parse: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("field \"{field}\": {message}")]
    Field { field: String, message: String },
}

/// A trace hash as records write it: 16 hex digits.
fn parse_hash(field: String, text: &str) -> Result<u64, RecordError> {
    if text.len() == 16 {
        if let Ok(hash) = u64::from_str_radix(text, 16) {
            return Ok(hash);
        }
    }
    Err(RecordError::Field {
        field,
        message: format!("expected a trace hash of 16 hex digits, found {text:?}"),
    })
}

impl FailureRecord {
    /// The record of a failed run of `scenario` (the scenario as read, ranges and all).
    pub fn new(
        families: &Families,
        scenario: &Scenario,
        report: &RunReport,
        duration: Option<SimDuration>,
        sim: Provenance,
    ) -> Result<FailureRecord, ScenarioError> {
        let explicit = families.explicit(scenario, report.seed, duration)?;
        let header = format!(
            "{} with seed {} made explicit: sampled parameters and the nemesis's faults written out.\n\
             It fails {}. Reproduce: {} run FILE --seed {}",
            scenario.file,
            report.seed,
            report.failed_check().unwrap_or_default(),
            crate::program_name(),
            report.seed
        );
        Ok(FailureRecord {
            format: RECORD_FORMAT,
            sim,
            scenario_file: scenario.file.clone(),
            scenario_name: scenario.name.clone(),
            scenario_text: scenario.text.clone(),
            seed: report.seed,
            duration,
            sampled: report.parameters.clone(),
            schedule: report.schedule.clone(),
            explicit_scenario: emit::to_toml(&explicit, &header),
            check: report.failed_check().unwrap_or_default(),
            message: report.failure().unwrap_or_default(),
            trace_hash: report.trace_hash_hex(),
            trace_events: report.trace_events,
            checkpoints: report
                .trace_checkpoints
                .iter()
                .map(|c| (c.events, c.time.as_nanos(), format!("{:016x}", c.hash)))
                .collect(),
        })
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a record, refusing one whose fields could not have been written by `sim` (an edited
    /// or damaged file): a replay of it would report a divergence that is not one.
    pub fn parse(text: &str) -> Result<FailureRecord, RecordError> {
        let record: FailureRecord = serde_json::from_str(text)?;
        if record.format > RECORD_FORMAT {
            return Err(RecordError::Format {
                found: record.format,
            });
        }
        parse_hash("trace_hash".into(), &record.trace_hash)?;
        let mut previous = 0;
        for (i, (events, _, hash)) in record.checkpoints.iter().enumerate() {
            parse_hash(format!("checkpoints[{i}]"), hash)?;
            if *events <= previous || *events > record.trace_events {
                return Err(RecordError::Field {
                    field: format!("checkpoints[{i}]"),
                    message: format!(
                        "expected event counts rising from 1 to trace_events ({}), found {events} after {previous}",
                        record.trace_events
                    ),
                });
            }
            previous = *events;
        }
        record.scenario()?;
        Ok(record)
    }

    /// The scenario as the campaign read it.
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&self.scenario_file, &self.scenario_text)
    }

    /// The explicit scenario, parsed under `file` (where it is, or will be, written).
    pub fn explicit(&self, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(file, &self.explicit_scenario)
    }

    /// The recorded checkpoints, as the trace has them.
    pub fn trace_checkpoints(&self) -> Vec<Checkpoint> {
        self.checkpoints
            .iter()
            .map(|(events, time_ns, hash)| Checkpoint {
                events: *events,
                time: SimTime(*time_ns),
                hash: u64::from_str_radix(hash, 16).unwrap_or(0),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> FailureRecord {
        FailureRecord {
            format: RECORD_FORMAT,
            sim: Provenance {
                version: "0.1.0".into(),
                commit: "unknown".into(),
            },
            scenario_file: "s.toml".into(),
            scenario_name: "s".into(),
            scenario_text: "duration = \"1s\"\n[cluster]\nnodes = 2\n[protocol]\nname = \"beat\"\n"
                .into(),
            seed: 3,
            duration: None,
            sampled: Vec::new(),
            schedule: Vec::new(),
            explicit_scenario: String::new(),
            check: "event-limit".into(),
            message: "the run reached its event limit".into(),
            trace_hash: "0123456789abcdef".into(),
            trace_events: 3000,
            checkpoints: vec![
                (1024, 10, "00000000000000aa".into()),
                (2048, 20, "00000000000000bb".into()),
            ],
        }
    }

    fn refused(edit: impl FnOnce(&mut FailureRecord)) -> String {
        let mut r = record();
        edit(&mut r);
        match FailureRecord::parse(&r.to_json()) {
            Ok(_) => panic!("the edited record was accepted"),
            Err(e) => e.to_string(),
        }
    }

    /// A record `sim` wrote reads back as it was.
    #[test]
    fn a_record_reads_back() {
        let r = record();
        assert_eq!(FailureRecord::parse(&r.to_json()).expect("valid"), r);
    }

    /// Hashes that are not hex used to read as 0, so the replay of an edited record reported a
    /// divergence (exit 1) instead of a bad record (exit 2).
    #[test]
    fn an_edited_record_is_refused_naming_the_field() {
        let e = refused(|r| r.trace_hash = "zzzz".into());
        assert!(
            e.contains("field \"trace_hash\"") && e.contains("\"zzzz\""),
            "{e}"
        );
        let e = refused(|r| r.checkpoints[1].2 = "not hex at all!!".into());
        assert!(e.contains("field \"checkpoints[1]\""), "{e}");
        let e = refused(|r| r.checkpoints.swap(0, 1));
        assert!(
            e.contains("field \"checkpoints[1]\"") && e.contains("rising"),
            "{e}"
        );
        let e = refused(|r| r.trace_events = 5);
        assert!(e.contains("field \"checkpoints[0]\""), "{e}");
        let e = refused(|r| r.scenario_text = "duration = \"x\"".into());
        assert!(e.contains("the record's scenario does not parse"), "{e}");
    }
}
