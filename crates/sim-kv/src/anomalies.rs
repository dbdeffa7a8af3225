//! Consistency anomalies of a key-value history, measured and named rather than assumed away:
//! stale reads, lost acknowledged writes, and the session guarantees read-your-writes and
//! monotonic reads, judged as the history is recorded in memory that does not grow with it.
//!
//! Owns [`AnomalyTracker`] (fed each operation's invocation and completion, in time order, by a
//! client as it runs, or by [`AnomalyTracker::from_history`] for a `sim-check` kv history), its
//! analyses [`AnomalyTracker::stale_reads`], [`AnomalyTracker::read_your_writes`],
//! [`AnomalyTracker::monotonic_reads`] (each read judged when it completes) and
//! [`AnomalyTracker::lost_writes`] (judged against the converged replicas at the end), and
//! [`Found`], what each reports. The writes a later read may name are kept by `writes`'
//! `WriteLog`, which spills old ones to a temporary file.
//!
//! The definitions. Every written value is unique (the kv clients write `c3-17`), so a value
//! names its write; a value no write wrote (or whose write failed) is never judged, and a read
//! returns only values of writes invoked before it completed. Writes are ordered only by real
//! time: `V` precedes `W` when `V` completed before `W` was invoked. A read is *stale* when some
//! write completed before the read began and every value the read returned precedes that write
//! (or it returned nothing); a write that was never acknowledged precedes nothing. It misses an
//! own write (*read-your-writes*) when that write is its session's. It breaks *monotonic reads*
//! when an earlier read of its session and key, completed before it began, returned a value
//! whose write was invoked after every value it returned completed. An acknowledged write is
//! *lost* when, once replicas have converged, no surviving value is that write or one that does
//! not precede it. These analyses count what the history proves, and leave what it cannot
//! decide to the linearizability checker.
//!
//! How a read is judged when it completes. The newest write a read could have missed is the
//! write invoked last among those acknowledged before the read began; `Newest` keeps it per
//! key (and per key and session) as acknowledgements arrive, and the read takes it when it is
//! invoked. The read is stale exactly when that write was invoked no earlier than the moment
//! after the newest value it returned was acknowledged, and that write is the one its message
//! names.

#[cfg(test)]
mod tests;
mod writes;

use std::collections::BTreeMap;

use serde_json::Value;
use sim_check::{History, OpFn, Outcome};

use writes::{ValueRef, WriteLog, WriteRec};

/// One anomaly: what it is about, for a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub key: String,
    pub session: u64,
    /// When the anomalous read was invoked, or the lost write completed.
    pub at_ns: u64,
    pub message: String,
}

/// The anomalies of one kind: how many, and the first (in the order reads completed; for lost
/// writes, the earliest acknowledged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub count: u64,
    pub first: Option<Anomaly>,
}

impl Found {
    /// Counts one more; `anomaly` is built only for the first.
    fn add(&mut self, anomaly: impl FnOnce() -> Anomaly) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(anomaly());
        }
    }
}

/// A write a read may have missed.
#[derive(Clone, Debug)]
struct Witness {
    value: ValueRef,
    session: u64,
    invoked_ns: u64,
    completed_ns: u64,
}

/// The write invoked last among those acknowledged so far, and among those acknowledged before
/// the latest acknowledgement's moment: so that a read invoked at that same moment takes only
/// writes acknowledged strictly before it.
#[derive(Clone, Debug, Default)]
struct Newest {
    at_ns: u64,
    before: Option<Witness>,
    through: Option<Witness>,
}

impl Newest {
    fn acknowledged(&mut self, write: &Witness) {
        if write.completed_ns > self.at_ns {
            self.before = self.through.clone();
            self.at_ns = write.completed_ns;
        }
        if self
            .through
            .as_ref()
            .is_none_or(|newest| write.invoked_ns > newest.invoked_ns)
        {
            self.through = Some(write.clone());
        }
    }

    /// The newest write acknowledged strictly before `at_ns` (no earlier than the latest
    /// acknowledgement seen).
    fn before(&self, at_ns: u64) -> Option<Witness> {
        if at_ns > self.at_ns {
            self.through.clone()
        } else {
            self.before.clone()
        }
    }
}

/// A write in flight.
#[derive(Clone, Debug)]
struct PendingWrite {
    key: u32,
    value: ValueRef,
    session: u64,
    invoked_ns: u64,
}

/// A read in flight, with the newest writes it could miss, taken when it was invoked.
#[derive(Clone, Debug)]
struct PendingRead {
    key: u32,
    session: u64,
    invoked_ns: u64,
    newest: Option<Witness>,
    own: Option<Witness>,
}

/// A session's last ok read of a key.
#[derive(Clone, Debug)]
struct LastRead {
    invoked_ns: u64,
    completed_ns: u64,
    values: Vec<ValueRef>,
}

/// What is known of the write of a value.
#[derive(Clone, Copy, Debug)]
enum Written {
    /// No write of it was invoked, or it failed.
    Unknown,
    /// In flight, or the client gave up on it: it precedes nothing.
    Unacknowledged {
        invoked_ns: u64,
    },
    Acknowledged {
        invoked_ns: u64,
        completed_ns: u64,
    },
}

/// The anomalies of a kv history, judged as it is recorded; see the module docs. Operations are
/// named by the caller's `op` numbers, unique among those in flight; calls come in time order.
#[derive(Debug, Default)]
pub struct AnomalyTracker {
    keys: BTreeMap<String, u32>,
    key_names: Vec<String>,
    writes: WriteLog,
    pending_writes: BTreeMap<u64, PendingWrite>,
    /// The writes in flight, by key and value.
    pending_values: BTreeMap<(u32, ValueRef), u64>,
    pending_reads: BTreeMap<u64, PendingRead>,
    newest: BTreeMap<u32, Newest>,
    newest_own: BTreeMap<(u32, u64), Newest>,
    last_read: BTreeMap<(u64, u32), LastRead>,
    stale: Found,
    own: Found,
    monotonic: Found,
    /// A spilled write that could not be read back: the analyses judged without it.
    error: Option<String>,
}

impl AnomalyTracker {
    pub fn new() -> Self {
        AnomalyTracker::default()
    }

    /// A tracker whose write log spills `block` writes at a time (tests use tiny blocks).
    #[cfg(test)]
    pub(crate) fn with_block(block: usize) -> Self {
        AnomalyTracker {
            writes: WriteLog::with_block(block),
            ..AnomalyTracker::default()
        }
    }

    /// The judgements of a `sim-check` kv history: its puts, compare-and-sets and reads, each
    /// process taken as a session. Appends are left out: their values are concatenations, not
    /// one write's. Events are taken in time order (a history without times judges nothing
    /// stale: no write completed before anything began).
    pub fn from_history(history: &History) -> Self {
        let events = history.events();
        let time = |index: usize| events.get(index).and_then(|e| e.time_ns).unwrap_or(0);
        let operations = history.operations();
        let mut steps: Vec<(u64, usize, usize)> = Vec::new();
        for (n, op) in operations.iter().enumerate() {
            steps.push((time(op.index), op.index, n));
            if let Some(complete) = op.complete_index {
                steps.push((time(complete), complete, n));
            }
        }
        steps.sort_unstable();
        let mut tracker = AnomalyTracker::new();
        for (at_ns, event, n) in steps {
            let op = &operations[n];
            let Some(key) = op.key.as_deref() else {
                continue;
            };
            let written = match op.f {
                OpFn::Write => Some(&op.input),
                OpFn::Cas => op.input.as_array().and_then(|pair| pair.get(1)),
                _ => None,
            };
            let id = n as u64;
            match (op.f, written, event == op.index) {
                (OpFn::Read, _, true) => tracker.read_invoked(id, key, op.process, at_ns),
                (OpFn::Read, _, false) => {
                    let values = match op.output.as_ref() {
                        Some(Value::Null) | None => Vec::new(),
                        Some(value) => vec![value_ref(value)],
                    };
                    tracker.read_done(id, op.outcome, values, at_ns);
                }
                (_, Some(value), true) => {
                    tracker.write_invoked_ref(id, key, value_ref(value), op.process, at_ns)
                }
                (_, Some(_), false) => tracker.write_completed(id, op.outcome, at_ns),
                (_, None, _) => {}
            }
        }
        tracker
    }

    /// A write of `value` to `key` by `session` was invoked at `at_ns`.
    pub fn write_invoked(&mut self, op: u64, key: &str, value: &str, session: u64, at_ns: u64) {
        self.write_invoked_ref(op, key, ValueRef::of_str(value), session, at_ns);
    }

    fn write_invoked_ref(&mut self, op: u64, key: &str, value: ValueRef, session: u64, at: u64) {
        let key = self.key_id(key);
        self.pending_values.insert((key, value.clone()), op);
        let write = PendingWrite {
            key,
            value,
            session,
            invoked_ns: at,
        };
        self.pending_writes.insert(op, write);
    }

    /// Write `op` ended at `at_ns`: acknowledged (`Ok`), given up on (`Info`: it may yet take
    /// effect) or failed (`Fail`: it took no effect, and its value names no write).
    pub fn write_completed(&mut self, op: u64, outcome: Outcome, at_ns: u64) {
        let Some(write) = self.pending_writes.remove(&op) else {
            return;
        };
        self.pending_values
            .remove(&(write.key, write.value.clone()));
        let completed_ns = match outcome {
            Outcome::Ok => Some(at_ns),
            Outcome::Info => None,
            Outcome::Fail => return,
        };
        if let Some(completed_ns) = completed_ns {
            let witness = Witness {
                value: write.value.clone(),
                session: write.session,
                invoked_ns: write.invoked_ns,
                completed_ns,
            };
            self.newest
                .entry(write.key)
                .or_default()
                .acknowledged(&witness);
            self.newest_own
                .entry((write.key, write.session))
                .or_default()
                .acknowledged(&witness);
        }
        let record = WriteRec {
            key: write.key,
            session: write.session,
            invoked_ns: write.invoked_ns,
            completed_ns,
        };
        self.writes.insert(write.value, record);
    }

    /// A read of `key` by `session` was invoked at `at_ns`.
    pub fn read_invoked(&mut self, op: u64, key: &str, session: u64, at_ns: u64) {
        let key = self.key_id(key);
        let newest = self.newest.get(&key).and_then(|n| n.before(at_ns));
        let own = self
            .newest_own
            .get(&(key, session))
            .and_then(|n| n.before(at_ns));
        let read = PendingRead {
            key,
            session,
            invoked_ns: at_ns,
            newest,
            own,
        };
        self.pending_reads.insert(op, read);
    }

    /// Read `op` ended at `at_ns`; if `Ok`, it returned `values` (none: the key was absent;
    /// several: siblings, all judged). It is judged now.
    pub fn read_completed(&mut self, op: u64, outcome: Outcome, values: &[String], at_ns: u64) {
        let values = values.iter().map(|v| ValueRef::of_str(v)).collect();
        self.read_done(op, outcome, values, at_ns);
    }

    fn read_done(&mut self, op: u64, outcome: Outcome, values: Vec<ValueRef>, at_ns: u64) {
        let Some(read) = self.pending_reads.remove(&op) else {
            return;
        };
        if outcome != Outcome::Ok {
            return;
        }
        if let Err(error) = self.judge_read(&read, &values) {
            self.error.get_or_insert(error);
        }
        let last = LastRead {
            invoked_ns: read.invoked_ns,
            completed_ns: at_ns,
            values,
        };
        self.last_read.insert((read.session, read.key), last);
    }

    /// Judges an ok read that returned `values` against the writes it could have missed and
    /// its session's last read of the key.
    fn judge_read(&mut self, read: &PendingRead, values: &[ValueRef]) -> Result<(), String> {
        let Some(latest) = self.latest_acknowledged(read.key, values)? else {
            return Ok(());
        };
        let key = &self.key_names[read.key as usize];
        let shown = || values.iter().map(ValueRef::render).collect::<Vec<_>>();
        if let Some(missed) = read.newest.as_ref().filter(|w| w.invoked_ns >= latest) {
            self.stale.add(|| Anomaly {
                key: key.clone(),
                session: read.session,
                at_ns: read.invoked_ns,
                message: format!(
                    "a read of {key} by session {} invoked at {}ns returned {:?}, missing {:?} \
                     written by session {} and acknowledged at {}ns",
                    read.session,
                    read.invoked_ns,
                    shown(),
                    missed.value.render(),
                    missed.session,
                    missed.completed_ns
                ),
            });
        }
        if let Some(own) = read.own.as_ref().filter(|w| w.invoked_ns >= latest) {
            self.own.add(|| Anomaly {
                key: key.clone(),
                session: read.session,
                at_ns: read.invoked_ns,
                message: format!(
                    "session {} read {:?} from {key} at {}ns, missing its own write {:?} \
                     acknowledged at {}ns",
                    read.session,
                    shown(),
                    read.invoked_ns,
                    own.value.render(),
                    own.completed_ns
                ),
            });
        }
        self.judge_monotonic(read, values, latest)
    }

    /// Judges an ok read whose values' latest acknowledgement was just before `latest` against
    /// its session's last read of the key.
    fn judge_monotonic(
        &mut self,
        read: &PendingRead,
        values: &[ValueRef],
        latest: u64,
    ) -> Result<(), String> {
        let key = &self.key_names[read.key as usize];
        let Some(earlier) = self.last_read.get(&(read.session, read.key)) else {
            return Ok(());
        };
        if earlier.completed_ns >= read.invoked_ns {
            return Ok(());
        }
        let shown = || values.iter().map(ValueRef::render).collect::<Vec<_>>();
        for value in &earlier.values {
            let invoked = match self.written(read.key, value)? {
                Written::Unknown => continue,
                Written::Unacknowledged { invoked_ns }
                | Written::Acknowledged { invoked_ns, .. } => invoked_ns,
            };
            if invoked >= latest {
                let earlier_ns = earlier.invoked_ns;
                self.monotonic.add(|| Anomaly {
                    key: key.clone(),
                    session: read.session,
                    at_ns: read.invoked_ns,
                    message: format!(
                        "session {} read {:?} from {key} at {}ns after reading the newer {:?} \
                         at {earlier_ns}ns",
                        read.session,
                        shown(),
                        read.invoked_ns,
                        value.render(),
                    ),
                });
                break;
            }
        }
        Ok(())
    }

    /// The moment after the latest acknowledgement among `values`' writes (0 for none), or
    /// `None` when one of them was never acknowledged or is unknown: it precedes nothing.
    fn latest_acknowledged(&self, key: u32, values: &[ValueRef]) -> Result<Option<u64>, String> {
        let mut latest = 0u64;
        for value in values {
            match self.written(key, value)? {
                Written::Acknowledged { completed_ns, .. } => {
                    latest = latest.max(completed_ns.saturating_add(1))
                }
                Written::Unknown | Written::Unacknowledged { .. } => return Ok(None),
            }
        }
        Ok(Some(latest))
    }

    /// What is known of the write of `value` to `key`.
    fn written(&self, key: u32, value: &ValueRef) -> Result<Written, String> {
        if let Some(op) = self.pending_values.get(&(key, value.clone())) {
            let invoked_ns = self.pending_writes[op].invoked_ns;
            return Ok(Written::Unacknowledged { invoked_ns });
        }
        Ok(match self.writes.get(key, value)? {
            None => Written::Unknown,
            Some(WriteRec {
                invoked_ns,
                completed_ns: None,
                ..
            }) => Written::Unacknowledged { invoked_ns },
            Some(WriteRec {
                invoked_ns,
                completed_ns: Some(completed_ns),
                ..
            }) => Written::Acknowledged {
                invoked_ns,
                completed_ns,
            },
        })
    }

    fn key_id(&mut self, key: &str) -> u32 {
        if let Some(id) = self.keys.get(key) {
            return *id;
        }
        let id = self.key_names.len() as u32;
        self.keys.insert(key.to_string(), id);
        self.key_names.push(key.to_string());
        id
    }

    /// Every key an operation named.
    pub fn keys(&self) -> &[String] {
        &self.key_names
    }

    /// Reads that missed a write completed before they began (the write named is the one
    /// invoked last of those).
    pub fn stale_reads(&self) -> Result<Found, String> {
        self.judged(&self.stale)
    }

    /// Reads that missed an acknowledged write of their own session.
    pub fn read_your_writes(&self) -> Result<Found, String> {
        self.judged(&self.own)
    }

    /// Reads that returned only values older than what an earlier read of the same session and
    /// key returned.
    pub fn monotonic_reads(&self) -> Result<Found, String> {
        self.judged(&self.monotonic)
    }

    fn judged(&self, found: &Found) -> Result<Found, String> {
        match &self.error {
            Some(error) => Err(error.clone()),
            None => Ok(found.clone()),
        }
    }

    /// Acknowledged writes that no surviving value (`survivors`: each key's values once the
    /// replicas converged) is, or follows. The one named is the earliest acknowledged.
    pub fn lost_writes(&self, survivors: &BTreeMap<String, Vec<String>>) -> Result<Found, String> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        // Each key's moment after its survivors' latest acknowledgement.
        let mut judged: BTreeMap<u32, (u64, Vec<ValueRef>, &[String])> = BTreeMap::new();
        for (key, surviving) in survivors {
            let Some(&id) = self.keys.get(key) else {
                continue;
            };
            let refs: Vec<ValueRef> = surviving.iter().map(|v| ValueRef::of_str(v)).collect();
            if let Some(latest) = self.latest_acknowledged(id, &refs)? {
                judged.insert(id, (latest, refs, surviving));
            }
        }
        let mut count = 0;
        let mut first: Option<(u64, ValueRef, WriteRec)> = None;
        self.writes.for_each(|value, write| {
            let Some(completed) = write.completed_ns else {
                return;
            };
            let Some((latest, refs, _)) = judged.get(&write.key) else {
                return;
            };
            if write.invoked_ns >= *latest && !refs.contains(value) {
                count += 1;
                if first
                    .as_ref()
                    .is_none_or(|(earliest, ..)| completed < *earliest)
                {
                    first = Some((completed, value.clone(), *write));
                }
            }
        })?;
        let first = first.map(|(completed, value, write)| {
            let key = &self.key_names[write.key as usize];
            let surviving = judged.get(&write.key).map_or(&[][..], |(_, _, s)| s);
            Anomaly {
                key: key.clone(),
                session: write.session,
                at_ns: completed,
                message: format!(
                    "the write of {:?} to {key} by session {}, acknowledged at {completed}ns, is \
                     lost: the replicas converged on {surviving:?}, written before it",
                    value.render(),
                    write.session,
                ),
            }
        });
        Ok(Found { count, first })
    }

    /// The finished writes kept in memory and spilled to disk.
    #[cfg(test)]
    pub(crate) fn write_counts(&self) -> (usize, usize) {
        self.writes.counts()
    }
}

/// A history value as a written value: a string as itself, anything else as its JSON text.
fn value_ref(value: &Value) -> ValueRef {
    match value {
        Value::String(text) => ValueRef::of_str(text),
        other => ValueRef::Json(other.to_string()),
    }
}
