//! Raft's parameters as a scenario's `[protocol]` table gives them, and their validation.
//!
//! [`Params`] is what serde reads (unknown fields are rejected); [`RaftConfig`] is the validated
//! form every node shares. Validation errors are [`SuiteError`]s naming the field.

use serde::{Deserialize, Serialize};
use sim_core::{SimDuration, SuiteError};

use crate::bugs::{Bug, BugSet};

/// How reads are made linearizable.
///
/// The default is [`ReadMode::ReadIndex`] (§6.4 of Ongaro's thesis, etcd's default): a read
/// costs one heartbeat round and no disk write, and the log does not grow with reads. It relies on
/// no clock assumption: the leader confirms it is still leader by hearing from a majority after
/// the read arrived. [`ReadMode::Log`] sends reads through the log like writes; it is the simplest
/// to trust and is offered for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Reads are log entries, answered when applied.
    Log,
    /// Reads record the commit index, confirm leadership with a heartbeat round, and are answered
    /// from the state machine once it has applied that index.
    #[default]
    ReadIndex,
}

/// `[protocol]` less `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Election timeouts are drawn uniformly from `[min, max]` (§5.2).
    pub election_timeout: [SimDuration; 2],
    /// How often a leader sends AppendEntries when it has nothing new to send.
    pub heartbeat_interval: SimDuration,
    /// Pre-vote (thesis §9.6): a node first asks whether it could win before raising its term.
    pub pre_vote: bool,
    /// Check-quorum (thesis §6.2): a leader that has not heard from a majority within an election
    /// timeout steps down, and followers that heard from a leader recently ignore vote requests.
    pub check_quorum: bool,
    pub read_mode: ReadMode,
    /// Take a snapshot once this many applied entries follow the last one (§7); 0 disables it.
    pub snapshot_threshold: u64,
    /// How many entries a snapshot covers are kept in the log behind it (etcd's
    /// `SnapshotCatchUpEntries`), so that a follower a little behind gets them by AppendEntries
    /// instead of the whole state machine by InstallSnapshot; 0 keeps none.
    pub snapshot_catch_up: u64,
    /// The most entries one AppendEntries carries.
    pub max_entries_per_append: u64,
    /// Planted bugs by name (see [`Bug`]).
    pub bugs: Vec<String>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            election_timeout: [SimDuration::from_millis(150), SimDuration::from_millis(300)],
            heartbeat_interval: SimDuration::from_millis(50),
            pre_vote: false,
            check_quorum: false,
            read_mode: ReadMode::default(),
            snapshot_threshold: 500,
            snapshot_catch_up: 100,
            max_entries_per_append: 64,
            bugs: Vec::new(),
        }
    }
}

/// Validated parameters, shared by every node of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RaftConfig {
    pub election_timeout_min: SimDuration,
    pub election_timeout_max: SimDuration,
    pub heartbeat_interval: SimDuration,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub read_mode: ReadMode,
    pub snapshot_threshold: u64,
    pub snapshot_catch_up: u64,
    pub max_entries_per_append: u64,
    pub bugs: BugSet,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Params::default()
            .validate()
            .expect("the default parameters are valid")
    }
}

impl RaftConfig {
    /// This configuration with `bug` switched on (for tests).
    pub fn with_bug(mut self, bug: Bug) -> Self {
        let mut bugs: Vec<Bug> = self.bugs.iter().collect();
        bugs.push(bug);
        self.bugs = BugSet::new(&bugs);
        self
    }
}

/// The shortest heartbeat interval: below it a run spends its event budget on heartbeats and
/// looks hung (a nanosecond interval takes hours of wall time to simulate a second).
pub const HEARTBEAT_INTERVAL_MIN: SimDuration = SimDuration::from_micros(100);

impl Params {
    /// Checks the parameters together.
    pub fn validate(&self) -> Result<RaftConfig, SuiteError> {
        let [min, max] = self.election_timeout;
        if min == SimDuration::ZERO {
            return Err(SuiteError::new(
                "protocol.election_timeout",
                "the minimum must be greater than zero",
            ));
        }
        if min > max {
            return Err(SuiteError::new(
                "protocol.election_timeout",
                format!("expected [min, max] with min <= max, found [{min}, {max}]"),
            ));
        }
        if self.heartbeat_interval < HEARTBEAT_INTERVAL_MIN || self.heartbeat_interval >= min {
            return Err(SuiteError::new(
                "protocol.heartbeat_interval",
                format!(
                    "expected a duration of at least {HEARTBEAT_INTERVAL_MIN} and below the \
                     minimum election timeout ({min}), found {}",
                    self.heartbeat_interval
                ),
            ));
        }
        if self.max_entries_per_append == 0 {
            return Err(SuiteError::new(
                "protocol.max_entries_per_append",
                "expected at least 1, found 0",
            ));
        }
        let mut bugs = Vec::new();
        for name in &self.bugs {
            bugs.push(Bug::parse(name, "protocol.bugs")?);
        }
        Ok(RaftConfig {
            election_timeout_min: min,
            election_timeout_max: max,
            heartbeat_interval: self.heartbeat_interval,
            pre_vote: self.pre_vote,
            check_quorum: self.check_quorum,
            read_mode: self.read_mode,
            snapshot_threshold: self.snapshot_threshold,
            snapshot_catch_up: self.snapshot_catch_up,
            max_entries_per_append: self.max_entries_per_append,
            bugs: BugSet::new(&bugs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Params, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn an_empty_table_gives_the_defaults() {
        let params = parse("").unwrap();
        assert_eq!(params, Params::default());
        let config = params.validate().unwrap();
        assert_eq!(config.read_mode, ReadMode::ReadIndex);
        assert!(!config.pre_vote && !config.check_quorum);
    }

    #[test]
    fn fields_read_from_toml() {
        let params = parse(
            r#"
            election_timeout = ["100ms", "200ms"]
            heartbeat_interval = "20ms"
            pre_vote = true
            read_mode = "log"
            snapshot_catch_up = 0
            bugs = ["forget_persist_vote"]
            "#,
        )
        .unwrap();
        let config = params.validate().unwrap();
        assert_eq!(config.election_timeout_min, SimDuration::from_millis(100));
        assert_eq!(config.read_mode, ReadMode::Log);
        assert_eq!(config.snapshot_catch_up, 0);
        assert!(config.bugs.has(Bug::ForgetPersistVote));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = parse("election_timeouts = [\"1s\", \"2s\"]").unwrap_err();
        assert!(err.to_string().contains("election_timeouts"), "{err}");
    }

    #[test]
    fn invalid_values_name_their_field() {
        let mut params = Params {
            election_timeout: [SimDuration::from_millis(300), SimDuration::from_millis(150)],
            ..Params::default()
        };
        assert_eq!(
            params.validate().unwrap_err().field,
            "protocol.election_timeout"
        );
        params.election_timeout = [SimDuration::from_millis(150), SimDuration::from_millis(300)];
        params.heartbeat_interval = SimDuration::from_millis(200);
        assert_eq!(
            params.validate().unwrap_err().field,
            "protocol.heartbeat_interval"
        );
        params.heartbeat_interval = SimDuration::from_millis(50);
        params.bugs = vec!["nope".into()];
        assert_eq!(params.validate().unwrap_err().field, "protocol.bugs");
    }
}
