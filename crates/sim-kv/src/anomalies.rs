//! Consistency anomalies of a key-value history, measured and named rather than assumed away:
//! stale reads, lost acknowledged writes, and the session guarantees read-your-writes and
//! monotonic reads.
//!
//! Owns [`Observations`] (the writes and reads of a run, each read with every value it returned,
//! so a store that returns siblings is judged by all of them), [`Observations::from_history`]
//! for a `sim-check` kv history, and the analyses [`Observations::stale_reads`],
//! [`Observations::lost_writes`], [`Observations::read_your_writes`] and
//! [`Observations::monotonic_reads`].
//!
//! Every written value is unique (the kv clients write `c3-17`), so a value names its write.
//! Writes are ordered only by real time: `V` precedes `W` when `V` completed before `W` was
//! invoked. A read is *stale* when some write completed before the read began and every value
//! the read returned precedes that write (or it returned nothing). An acknowledged write is
//! *lost* when, once replicas have converged, no surviving value is that write or one that does
//! not precede it. A value no write of the history wrote is never judged: these analyses count
//! what the history proves, and leave what it cannot decide to the linearizability checker.

use std::collections::BTreeMap;

use serde_json::Value;
use sim_check::{History, OpFn, Outcome};

/// One write: its key, value, and when it was invoked and (if acknowledged) completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteObs {
    pub key: String,
    pub value: String,
    pub session: u64,
    pub invoked_ns: u64,
    /// `None` unless it completed ok: an unacknowledged write precedes nothing.
    pub completed_ns: Option<u64>,
}

/// One ok read and every value it returned (none: the key was absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadObs {
    pub key: String,
    pub values: Vec<String>,
    pub session: u64,
    pub invoked_ns: u64,
    pub completed_ns: u64,
}

/// One anomaly: what it is about, for a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub key: String,
    pub session: u64,
    /// When the anomalous read was invoked, or the lost write completed.
    pub at_ns: u64,
    pub message: String,
}

/// The writes and reads of a run.
#[derive(Clone, Debug, Default)]
pub struct Observations {
    pub writes: Vec<WriteObs>,
    pub reads: Vec<ReadObs>,
}

impl Observations {
    /// The puts, compare-and-sets and ok reads of a kv history, each process taken as a
    /// session. Appends are left out: their values are concatenations, not one write's.
    pub fn from_history(history: &History) -> Self {
        let events = history.events();
        let time = |index: usize| events.get(index).and_then(|e| e.time_ns).unwrap_or(0);
        let mut observations = Observations::default();
        for op in history.operations() {
            let Some(key) = op.key.clone() else { continue };
            let invoked_ns = time(op.index);
            let completed_ns = match op.outcome {
                Outcome::Ok => op.complete_index.map(time),
                Outcome::Fail | Outcome::Info => None,
            };
            let written = match op.f {
                OpFn::Write => op.input.as_str().map(str::to_string),
                OpFn::Cas => op
                    .input
                    .as_array()
                    .and_then(|pair| pair.get(1))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            };
            if let Some(value) = written {
                if op.outcome != Outcome::Fail {
                    observations.writes.push(WriteObs {
                        key: key.clone(),
                        value,
                        session: op.process,
                        invoked_ns,
                        completed_ns,
                    });
                }
            }
            if let (OpFn::Read, Some(completed_ns), Some(output)) =
                (op.f, completed_ns, op.output.as_ref())
            {
                let values = output
                    .as_str()
                    .map(|v| vec![v.to_string()])
                    .unwrap_or_default();
                observations.reads.push(ReadObs {
                    key,
                    values,
                    session: op.process,
                    invoked_ns,
                    completed_ns,
                });
            }
        }
        observations
    }

    /// Each written value's write.
    fn by_value(&self) -> BTreeMap<(&str, &str), &WriteObs> {
        self.writes
            .iter()
            .map(|w| ((w.key.as_str(), w.value.as_str()), w))
            .collect()
    }

    /// The latest completion among `values`' writes: `Some(None)` when one of them never
    /// completed or is unknown (it precedes nothing), `Some(Some(0))`-like floor for none.
    fn latest_completion(
        by_value: &BTreeMap<(&str, &str), &WriteObs>,
        key: &str,
        values: &[String],
    ) -> Option<u64> {
        let mut latest = 0u64;
        for value in values {
            match by_value
                .get(&(key, value.as_str()))
                .and_then(|w| w.completed_ns)
            {
                Some(completed) => latest = latest.max(completed + 1),
                None => return None,
            }
        }
        Some(latest)
    }

    /// Reads that missed a write completed before they began. The write named is the earliest
    /// completed of those the read missed.
    pub fn stale_reads(&self) -> Vec<Anomaly> {
        self.missed_writes(false)
            .into_iter()
            .map(|(read, missed)| Anomaly {
                key: read.key.clone(),
                session: read.session,
                at_ns: read.invoked_ns,
                message: format!(
                    "a read of {} by session {} invoked at {}ns returned {:?}, missing {:?} \
                     written by session {} and acknowledged at {}ns",
                    read.key,
                    read.session,
                    read.invoked_ns,
                    read.values,
                    missed.value,
                    missed.session,
                    missed.completed_ns.unwrap_or(0)
                ),
            })
            .collect()
    }

    /// Each read that missed a write completed before it began (of its own session only, if
    /// `own_session`), with the earliest completed such write.
    fn missed_writes(&self, own_session: bool) -> Vec<(&ReadObs, &WriteObs)> {
        let by_value = self.by_value();
        let session = |s: u64| if own_session { s } else { 0 };
        let groups = MissedWrites::group(&self.writes, |w| (w.key.as_str(), session(w.session)));
        self.reads
            .iter()
            .filter_map(|read| {
                let latest = Self::latest_completion(&by_value, &read.key, &read.values)?;
                let missed = groups
                    .get(&(read.key.as_str(), session(read.session)))?
                    .earliest_missed(latest, read.invoked_ns)?;
                Some((read, missed))
            })
            .collect()
    }

    /// Acknowledged writes that no surviving value (`survivors`: each key's values once the
    /// replicas converged) is, or follows.
    pub fn lost_writes(&self, survivors: &BTreeMap<String, Vec<String>>) -> Vec<Anomaly> {
        let by_value = self.by_value();
        let mut anomalies = Vec::new();
        for write in &self.writes {
            let Some(completed) = write.completed_ns else {
                continue;
            };
            let surviving = survivors.get(&write.key).map(Vec::as_slice).unwrap_or(&[]);
            if surviving.contains(&write.value) {
                continue;
            }
            let Some(latest) = Self::latest_completion(&by_value, &write.key, surviving) else {
                continue;
            };
            if write.invoked_ns >= latest {
                anomalies.push(Anomaly {
                    key: write.key.clone(),
                    session: write.session,
                    at_ns: completed,
                    message: format!(
                        "the write of {:?} to {} by session {}, acknowledged at {}ns, is lost: \
                         the replicas converged on {:?}, written before it",
                        write.value, write.key, write.session, completed, surviving
                    ),
                });
            }
        }
        anomalies
    }

    /// Reads that missed an acknowledged write of their own session (the earliest completed
    /// of those missed is named).
    pub fn read_your_writes(&self) -> Vec<Anomaly> {
        self.missed_writes(true)
            .into_iter()
            .map(|(read, own)| Anomaly {
                key: read.key.clone(),
                session: read.session,
                at_ns: read.invoked_ns,
                message: format!(
                    "session {} read {:?} from {} at {}ns, missing its own write {:?} \
                     acknowledged at {}ns",
                    read.session,
                    read.values,
                    read.key,
                    read.invoked_ns,
                    own.value,
                    own.completed_ns.unwrap_or(0)
                ),
            })
            .collect()
    }

    /// Reads that returned only values older than what an earlier read of the same session and
    /// key returned.
    pub fn monotonic_reads(&self) -> Vec<Anomaly> {
        let by_value = self.by_value();
        let mut last: BTreeMap<(u64, &str), &ReadObs> = BTreeMap::new();
        let mut reads: Vec<&ReadObs> = self.reads.iter().collect();
        reads.sort_by_key(|r| (r.invoked_ns, r.completed_ns));
        let mut anomalies = Vec::new();
        for read in reads {
            if let Some(earlier) = last.get(&(read.session, read.key.as_str())) {
                if earlier.completed_ns < read.invoked_ns {
                    let latest = Self::latest_completion(&by_value, &read.key, &read.values);
                    let newer_seen = earlier.values.iter().find(|v| {
                        let written = by_value.get(&(read.key.as_str(), v.as_str()));
                        matches!((latest, written), (Some(l), Some(w)) if w.invoked_ns >= l)
                    });
                    if let Some(newer) = newer_seen {
                        anomalies.push(Anomaly {
                            key: read.key.clone(),
                            session: read.session,
                            at_ns: read.invoked_ns,
                            message: format!(
                                "session {} read {:?} from {} at {}ns after reading the newer \
                                 {newer:?} at {}ns",
                                read.session,
                                read.values,
                                read.key,
                                read.invoked_ns,
                                earlier.invoked_ns
                            ),
                        });
                    }
                }
            }
            last.insert((read.session, read.key.as_str()), read);
        }
        anomalies
    }
}

/// One group's writes (a key's, or a key's within one session), indexed so that a read asks in
/// O(log n) which write it missed: [`MissedWrites::earliest_missed`]. Scanning every write for
/// every read made the analyses quadratic (a two-minute quorum run spent 85% of its time there).
struct MissedWrites<'a> {
    /// Sorted by invocation time.
    writes: Vec<&'a WriteObs>,
    /// `suffix[i]`: the index in `writes` of the earliest completion among `writes[i..]`
    /// (ties: the write recorded first), or `None` when none of them completed.
    suffix: Vec<Option<usize>>,
}

impl<'a> MissedWrites<'a> {
    /// `writes` grouped by `group`, each group indexed.
    fn group<K: Ord>(
        writes: &'a [WriteObs],
        group: impl Fn(&'a WriteObs) -> K,
    ) -> BTreeMap<K, MissedWrites<'a>> {
        let mut groups: BTreeMap<K, Vec<(usize, &'a WriteObs)>> = BTreeMap::new();
        for (recorded, write) in writes.iter().enumerate() {
            groups
                .entry(group(write))
                .or_default()
                .push((recorded, write));
        }
        groups
            .into_iter()
            .map(|(key, members)| (key, MissedWrites::new(members)))
            .collect()
    }

    /// Indexes `members` (each with its place in the order writes were recorded).
    fn new(mut members: Vec<(usize, &'a WriteObs)>) -> Self {
        members.sort_by_key(|(recorded, w)| (w.invoked_ns, *recorded));
        let rank = |i: usize| {
            let (recorded, w) = members[i];
            w.completed_ns.map(|completed| (completed, recorded))
        };
        let mut suffix = vec![None; members.len()];
        let mut best: Option<usize> = None;
        for i in (0..members.len()).rev() {
            if let Some(this) = rank(i) {
                if best.and_then(rank).is_none_or(|b| this <= b) {
                    best = Some(i);
                }
            }
            suffix[i] = best;
        }
        MissedWrites {
            writes: members.into_iter().map(|(_, w)| w).collect(),
            suffix,
        }
    }

    /// The earliest completed write invoked at or after `latest` (the moment after the newest
    /// write a read returned completed) that completed before `invoked` (the read's start):
    /// a write the read should have seen.
    fn earliest_missed(&self, latest: u64, invoked: u64) -> Option<&'a WriteObs> {
        let from = self.writes.partition_point(|w| w.invoked_ns < latest);
        let best = self.writes[self.suffix.get(from).copied()??];
        best.completed_ns
            .is_some_and(|completed| completed < invoked)
            .then_some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn write(value: &str, session: u64, invoked: u64, completed: Option<u64>) -> WriteObs {
        WriteObs {
            key: "k".into(),
            value: value.into(),
            session,
            invoked_ns: invoked,
            completed_ns: completed,
        }
    }

    fn read(values: &[&str], session: u64, invoked: u64, completed: u64) -> ReadObs {
        ReadObs {
            key: "k".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            session,
            invoked_ns: invoked,
            completed_ns: completed,
        }
    }

    #[test]
    fn a_read_that_misses_a_completed_write_is_stale_and_a_concurrent_one_is_not() {
        let obs = Observations {
            writes: vec![write("a", 1, 0, Some(10)), write("b", 1, 20, Some(30))],
            reads: vec![
                read(&["a"], 2, 40, 50),      // stale: b completed at 30
                read(&["a"], 2, 25, 35),      // b was concurrent: not stale
                read(&[], 2, 15, 16),         // absent after a completed: stale
                read(&["a", "b"], 2, 60, 61), // siblings including b: not stale
            ],
        };
        let stale = obs.stale_reads();
        assert_eq!(stale.len(), 2, "{stale:?}");
        assert_eq!(stale[0].at_ns, 40);
        assert_eq!(stale[1].at_ns, 15);
    }

    #[test]
    fn an_acknowledged_write_is_lost_when_the_survivor_precedes_it() {
        let obs = Observations {
            writes: vec![
                write("a", 1, 0, Some(10)),
                write("b", 2, 20, Some(30)),
                write("c", 3, 25, None),
            ],
            reads: Vec::new(),
        };
        let survivors = BTreeMap::from([("k".to_string(), vec!["a".to_string()])]);
        let lost = obs.lost_writes(&survivors);
        assert_eq!(lost.len(), 1, "{lost:?}");
        assert!(lost[0].message.contains("\"b\""));
        // b survives: a was overwritten by a later write, nothing is lost.
        let survivors = BTreeMap::from([("k".to_string(), vec!["b".to_string()])]);
        assert!(obs.lost_writes(&survivors).is_empty());
    }

    #[test]
    fn session_guarantees_are_judged_per_session() {
        let obs = Observations {
            writes: vec![write("a", 1, 0, Some(10)), write("b", 1, 20, Some(30))],
            reads: vec![
                read(&["b"], 1, 40, 41),
                read(&["a"], 1, 50, 51),
                read(&["a"], 2, 50, 51),
            ],
        };
        assert_eq!(obs.read_your_writes().len(), 1);
        assert_eq!(obs.monotonic_reads().len(), 1);
        assert_eq!(obs.monotonic_reads()[0].session, 1);
    }

    /// The definitions read literally: every write against every read.
    fn missed_by_definition<'a>(
        obs: &'a Observations,
        read: &ReadObs,
        same_session: bool,
    ) -> Option<&'a WriteObs> {
        let latest = Observations::latest_completion(&obs.by_value(), &read.key, &read.values)?;
        obs.writes
            .iter()
            .filter(|w| {
                w.key == read.key
                    && (!same_session || w.session == read.session)
                    && w.completed_ns.is_some_and(|c| c < read.invoked_ns)
                    && w.invoked_ns >= latest
            })
            .min_by_key(|w| w.completed_ns)
    }

    fn history_strategy() -> impl Strategy<Value = Observations> {
        let write = (0..2u8, 0..3u64, 0..40u64, proptest::option::of(0..20u64));
        let read = (
            0..2u8,
            0..3u64,
            0..60u64,
            0..5u64,
            proptest::collection::vec(0..12usize, 0..3),
        );
        (
            proptest::collection::vec(write, 0..12),
            proptest::collection::vec(read, 0..12),
        )
            .prop_map(|(writes, reads)| {
                let writes: Vec<WriteObs> = writes
                    .into_iter()
                    .enumerate()
                    .map(|(i, (key, session, invoked, length))| WriteObs {
                        key: format!("k{key}"),
                        value: format!("v{i}"),
                        session,
                        invoked_ns: invoked,
                        completed_ns: length.map(|l| invoked + l),
                    })
                    .collect();
                let reads = reads
                    .into_iter()
                    .map(|(key, session, invoked, length, values)| ReadObs {
                        key: format!("k{key}"),
                        // Values of writes to this key, and some no write wrote.
                        values: values.into_iter().map(|v| format!("v{v}")).collect(),
                        session,
                        invoked_ns: invoked,
                        completed_ns: invoked + length,
                    })
                    .collect();
                Observations { writes, reads }
            })
    }

    proptest! {
        /// The indexed analyses find exactly the reads the definitions do, and name the
        /// earliest-completed write each read missed.
        #[test]
        fn indexed_analyses_match_the_definitions(obs in history_strategy()) {
            for own_session in [false, true] {
                let expected: Vec<(*const ReadObs, Option<u64>)> = obs
                    .reads
                    .iter()
                    .filter_map(|read| {
                        let missed = missed_by_definition(&obs, read, own_session)?;
                        Some((read as *const ReadObs, missed.completed_ns))
                    })
                    .collect();
                // Ties in completion time may name either write: compare the completion.
                let got: Vec<(*const ReadObs, Option<u64>)> = obs
                    .missed_writes(own_session)
                    .into_iter()
                    .map(|(read, missed)| (read as *const ReadObs, missed.completed_ns))
                    .collect();
                prop_assert_eq!(got, expected);
            }
            prop_assert_eq!(obs.stale_reads().len(), obs.missed_writes(false).len());
            prop_assert_eq!(obs.read_your_writes().len(), obs.missed_writes(true).len());
        }
    }
}
