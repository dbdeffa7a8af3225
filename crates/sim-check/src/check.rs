//! Checking a whole history: split it by object, search each, combine the verdicts.
//!
//! Owns [`check`], [`check_with`], [`Budget`], [`CheckResult`] and the explanation data. Objects
//! (kv keys) are independent (P-compositionality), so each is searched on its own, in parallel
//! where there are several, and the results are combined in key order so output is
//! deterministic: after the first failing key in key order, later keys are reported as not
//! checked whether or not a worker got to them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::history::{describe_key, History, ModelKind, Operation, Outcome};
use crate::model::{Kv, Model, Mutex, Register};
use crate::search::{search, Limits, SearchOutcome, StopReason};

/// How much work a check may do before answering unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The most configurations the search may explore for any one object (kv key). Each costs
    /// about 24 bytes of memory, and at most a few objects are searched at once.
    pub max_states: u64,
    /// A wall-clock limit for the whole check. Leave it `None` for deterministic results.
    pub timeout: Option<Duration>,
    /// The most bytes the searches may hold at once (shared evenly by the threads searching), or
    /// `None` for no limit. Running out is verdict unknown with the reason, never an abort. The
    /// verdict depends on it only through the number of threads, never on their timing.
    pub max_memory: Option<u64>,
    /// When the timeout started counting, if before the check (say, when reading began).
    pub timeout_start: Option<std::time::Instant>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_states: 50_000_000,
            timeout: None,
            max_memory: None,
            timeout_start: None,
        }
    }
}

/// The state budget of the first round of searches; each round multiplies it by
/// [`ROUND_GROWTH`] until it reaches [`Budget::max_states`].
pub const FIRST_ROUND_STATES: u64 = 1 << 14;
/// How much each round's state budget grows.
pub const ROUND_GROWTH: u64 = 8;

/// The answer for a history or one of its objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// A budget ran out first; the reason says which.
    Unknown {
        reason: String,
    },
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not_linearizable",
            Verdict::Unknown { .. } => "unknown",
        }
    }
}

/// The result for one independent object (a kv key; the whole history for other models).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyResult {
    pub key: Option<String>,
    /// Operations on this object, failed ones included.
    pub op_count: usize,
    /// `None` when the object was not checked because an earlier key (in key order) failed.
    pub verdict: Option<Verdict>,
    pub states_explored: u64,
}

/// One step of the linearization found, with the state after it.
#[derive(Clone, Debug, PartialEq)]
pub struct PrefixStep {
    pub op: usize,
    pub state: Value,
}

/// An operation that could have gone next where the search got stuck, and why it did not.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub op: usize,
    pub reason: String,
}

/// Why a history is not linearizable. Operations are named by the index of their invoke event.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub key: Option<String>,
    /// Operations on this key that completed ok, and so had to take effect.
    pub required_count: usize,
    /// The longest linearization the search found, in order.
    pub prefix: Vec<usize>,
    /// The last steps of the prefix (at most [`Explanation::TAIL_LEN`]) with the state after each.
    pub prefix_tail: Vec<PrefixStep>,
    /// The state after the prefix.
    pub state: Value,
    /// The operation that cannot be placed after the prefix: it returned before any remaining
    /// candidate could take effect.
    pub blocking: usize,
    /// Set when the blocking operation can never take effect, whatever the order.
    pub reason: Option<String>,
    /// The operations that could have gone next, the blocking one first, each with why not.
    pub candidates: Vec<Candidate>,
    /// The operations on this key whose real-time interval overlaps the blocking one's.
    pub concurrent: Vec<usize>,
}

impl Explanation {
    pub const TAIL_LEN: usize = 8;
}

/// What [`check`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    pub verdict: Verdict,
    /// Operations in the history.
    pub op_count: usize,
    /// One result per object, in key order.
    pub keys: Vec<KeyResult>,
    /// Configurations explored over all objects.
    pub states_explored: u64,
    /// Present when the verdict is not linearizable: the first failing key in key order.
    pub explanation: Option<Explanation>,
}

/// Checks `history` against its model.
pub fn check(history: &History, budget: &Budget) -> CheckResult {
    match history.model() {
        ModelKind::Register => check_with(history, &Register, budget),
        ModelKind::Kv => check_with(history, &Kv, budget),
        ModelKind::Mutex => check_with(history, &Mutex, budget),
    }
}

/// Checks `history` against a model of your own.
///
/// The objects (kv keys) are searched in rounds of growing state budgets: every undecided key gets
/// [`FIRST_ROUND_STATES`] states, then eight times more, up to [`Budget::max_states`]. As soon as a
/// round proves a key not linearizable the verdict is known: the first failing key in key order
/// among that round's is reported, and no other key is searched further. A key that is hard to
/// decide thus never hides one that is easy to refute, and the verdict and explanation depend on
/// the state budgets only, never on thread timing.
pub fn check_with<M: Model>(history: &History, model: &M, budget: &Budget) -> CheckResult {
    let (partitions, op_count) = partitions_of(history, model);
    let deadline = budget.timeout.map(|timeout| {
        let start = budget.timeout_start.unwrap_or_else(crate::clock::now);
        (start.checked_add(timeout).unwrap_or(start), timeout)
    });
    let worker_count = worker_count(&partitions);
    let max_memory = budget
        .max_memory
        .map(|bytes| bytes / worker_count.max(1) as u64);
    let mut outcomes: Vec<Option<PartitionOutcome>> = (0..partitions.len()).map(|_| None).collect();
    let mut earlier_states = vec![0u64; partitions.len()];
    let mut undecided: Vec<usize> = (0..partitions.len()).collect();
    let mut round_states = FIRST_ROUND_STATES.min(budget.max_states);
    while !undecided.is_empty() {
        let last_round = round_states >= budget.max_states;
        let first_failure = AtomicUsize::new(usize::MAX);
        let context = Context {
            model,
            init: history.init(),
            max_states: round_states,
            max_memory,
            deadline,
            first_failure: &first_failure,
        };
        let finished = context.round(&partitions, &undecided, worker_count);
        let failing = finished
            .iter()
            .filter(|(_, outcome)| outcome.verdict == Verdict::NotLinearizable)
            .map(|(index, _)| *index)
            .min();
        let mut retry = Vec::new();
        for (index, mut outcome) in finished {
            if failing.is_some_and(|failing| index > failing) {
                // Not needed: an earlier key decides the verdict.
                continue;
            }
            outcome.states_explored += earlier_states[index];
            if outcome.out_of_states && !last_round {
                if let Some(failing) = failing {
                    outcome.verdict = Verdict::Unknown {
                        reason: format!(
                            "undecided after {} states when key {} was found not linearizable",
                            outcome.states_explored,
                            describe_key(partitions[failing].0.as_deref())
                        ),
                    };
                } else {
                    earlier_states[index] = outcome.states_explored;
                    retry.push(index);
                    continue;
                }
            }
            outcomes[index] = Some(outcome);
        }
        if failing.is_some() {
            break;
        }
        undecided = retry;
        round_states = round_states
            .saturating_mul(ROUND_GROWTH)
            .min(budget.max_states);
    }
    combine(&partitions, outcomes, op_count)
}

/// The operations of `history` by object, in key order, and how many there are. The operations
/// are moved, not cloned, into their partitions; failed ones leave only their interval behind.
fn partitions_of<M: Model>(
    history: &History,
    model: &M,
) -> (Vec<(Option<String>, Partition)>, usize) {
    let operations = history.operations();
    let op_count = operations.len();
    let mut partitions: BTreeMap<Option<String>, Partition> = BTreeMap::new();
    for op in operations {
        let partition = partitions.entry(model.partition(&op)).or_default();
        partition.spans.push(Span::of(&op));
        if op.outcome != Outcome::Fail {
            partition.relevant.push(op);
        }
    }
    (partitions.into_iter().collect(), op_count)
}

/// How many threads search the partitions. Threads pay off only when there is enough work to
/// share: a thread costs tens of microseconds to start, about what a search of a few thousand
/// operations takes. The verdicts do not depend on it: results are combined in key order.
fn worker_count(partitions: &[(Option<String>, Partition)]) -> usize {
    let total_ops: usize = partitions
        .iter()
        .map(|(_, partition)| partition.relevant.len())
        .sum();
    if partitions.len() < 2 || total_ops < PARALLEL_OPS_MIN {
        return 1;
    }
    let parallelism = std::thread::available_parallelism().map_or(1, |count| count.get());
    parallelism.clamp(1, 4).min(partitions.len())
}

/// The fewest operations (over all objects) worth searching on several threads.
const PARALLEL_OPS_MIN: usize = 2_000;

/// The operations on one object.
#[derive(Default)]
struct Partition {
    /// The real-time interval of every operation, failed ones included, in invoke order.
    spans: Vec<Span>,
    /// The operations that did not fail, in invoke order: what the model and the search see.
    relevant: Vec<Operation>,
}

/// An operation's real-time interval, as indices of its invoke and completion events.
#[derive(Clone, Copy)]
struct Span {
    index: usize,
    complete_index: Option<usize>,
}

impl Span {
    fn of(op: &Operation) -> Self {
        Span {
            index: op.index,
            complete_index: op.complete_index,
        }
    }
}

struct Context<'a, M: Model> {
    model: &'a M,
    init: &'a Value,
    /// The state budget of this round, for each key.
    max_states: u64,
    /// The memory budget of each search.
    max_memory: Option<u64>,
    deadline: Option<(std::time::Instant, Duration)>,
    first_failure: &'a AtomicUsize,
}

struct PartitionOutcome {
    verdict: Verdict,
    states_explored: u64,
    explanation: Option<Explanation>,
    /// The round's state budget ran out: a later round may decide the key.
    out_of_states: bool,
}

impl<M: Model> Context<'_, M> {
    /// Searches the partitions at `indices` with this round's budget, on `worker_count` threads.
    /// A key after one already found not linearizable is cancelled (its outcome is unused).
    fn round(
        &self,
        partitions: &[(Option<String>, Partition)],
        indices: &[usize],
        worker_count: usize,
    ) -> Vec<(usize, PartitionOutcome)> {
        let worker_count = worker_count.min(indices.len()).max(1);
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            while let Some(&index) = indices.get(next.fetch_add(1, Ordering::Relaxed)) {
                if self.first_failure.load(Ordering::Relaxed) < index {
                    continue;
                }
                let (key, partition) = &partitions[index];
                done.push((index, self.check_partition(index, key, partition)));
            }
            done
        };
        if worker_count == 1 {
            return work();
        }
        std::thread::scope(|scope| {
            // The calling thread is one of the workers.
            let workers: Vec<_> = (1..worker_count).map(|_| scope.spawn(work)).collect();
            let mut finished = work();
            for worker in workers {
                match worker.join() {
                    Ok(done) => finished.extend(done),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            finished
        })
    }

    fn check_partition(
        &self,
        index: usize,
        key: &Option<String>,
        partition: &Partition,
    ) -> PartitionOutcome {
        let outcome = self.search_partition(index, key, partition);
        if outcome.verdict == Verdict::NotLinearizable {
            self.first_failure.fetch_min(index, Ordering::Relaxed);
        }
        outcome
    }

    fn search_partition(
        &self,
        index: usize,
        key: &Option<String>,
        partition: &Partition,
    ) -> PartitionOutcome {
        let relevant = &partition.relevant;
        let spans = &partition.spans;
        let required_count = relevant
            .iter()
            .filter(|op| op.outcome == Outcome::Ok)
            .count();
        let impossible = self
            .model
            .impossible(self.init, relevant)
            .and_then(|(position, reason)| Some((relevant.get(position)?, reason)));
        if let Some((blocking, reason)) = impossible {
            let explanation = Explanation {
                key: key.clone(),
                required_count,
                prefix: Vec::new(),
                prefix_tail: Vec::new(),
                state: self.model.replay(self.init, &[], 0, &[]).state,
                blocking: blocking.index,
                reason: Some(reason.clone()),
                candidates: vec![Candidate {
                    op: blocking.index,
                    reason,
                }],
                concurrent: concurrent_with(blocking, spans),
            };
            return PartitionOutcome {
                verdict: Verdict::NotLinearizable,
                states_explored: 0,
                explanation: Some(explanation),
                out_of_states: false,
            };
        }
        let irrelevant = self.model.irrelevant(self.init, relevant);
        let searched: Vec<&Operation> = relevant
            .iter()
            .zip(irrelevant.iter().chain(std::iter::repeat(&false)))
            .filter(|(_, irrelevant)| !**irrelevant)
            .map(|(op, _)| op)
            .collect();
        let limits = Limits {
            max_states: self.max_states,
            max_memory: self.max_memory,
            deadline: self.deadline,
            first_failure: Some((self.first_failure, index)),
        };
        let unobservable = self.model.unobservable(self.init, relevant);
        let report = search(self.model, self.init, &searched, unobservable, &limits);
        let out_of_states = matches!(
            report.outcome,
            SearchOutcome::Unknown(StopReason::StateBudget(_))
        );
        let (verdict, explanation) = match report.outcome {
            SearchOutcome::Linearizable => (Verdict::Linearizable, None),
            SearchOutcome::NotLinearizable(failure) => {
                let explanation = self.explain(key, required_count, &searched, spans, &failure);
                (Verdict::NotLinearizable, Some(explanation))
            }
            SearchOutcome::Unknown(stop) => {
                let reason = unknown_reason(&stop, key);
                (Verdict::Unknown { reason }, None)
            }
        };
        PartitionOutcome {
            verdict,
            states_explored: report.states_explored,
            explanation,
            out_of_states,
        }
    }

    fn explain(
        &self,
        key: &Option<String>,
        required_count: usize,
        searched: &[&Operation],
        spans: &[Span],
        failure: &crate::search::Failure,
    ) -> Explanation {
        // Replay the prefix to know the state after each step; every step was valid in the search.
        let prefix: Vec<&Operation> = failure
            .prefix
            .iter()
            .map(|&position| searched[position])
            .collect();
        let candidate_ops: Vec<&Operation> = failure
            .candidates
            .iter()
            .map(|&position| searched[position])
            .collect();
        let replay = self
            .model
            .replay(self.init, &prefix, Explanation::TAIL_LEN, &candidate_ops);
        let tail_ops = &prefix[prefix.len() - replay.tail.len().min(prefix.len())..];
        let prefix_tail = tail_ops
            .iter()
            .zip(replay.tail)
            .map(|(op, state)| PrefixStep {
                op: op.index,
                state,
            })
            .collect();
        let candidates = candidate_ops
            .iter()
            .zip(replay.reasons)
            .map(|(op, reason)| Candidate {
                op: op.index,
                reason,
            })
            .collect();
        let blocking = searched[failure.blocking];
        Explanation {
            key: key.clone(),
            required_count,
            prefix: failure
                .prefix
                .iter()
                .map(|&position| searched[position].index)
                .collect(),
            prefix_tail,
            state: replay.state,
            blocking: blocking.index,
            reason: None,
            candidates,
            concurrent: concurrent_with(blocking, spans),
        }
    }
}

/// Why a search answered unknown, in words.
fn unknown_reason(stop: &StopReason, key: &Option<String>) -> String {
    match stop {
        StopReason::StateBudget(max_states) => format!(
            "the state budget of {} states ran out{}",
            max_states,
            on_key(key)
        ),
        StopReason::Timeout(timeout) => format!(
            "the timeout of {} ran out{}",
            format_duration(*timeout),
            on_key(key)
        ),
        StopReason::Memory(bytes) => format!(
            "the memory budget of {} per search ran out{} (--memory raises it)",
            format_bytes(*bytes),
            on_key(key)
        ),
        StopReason::Cancelled => "not checked: an earlier key failed".to_string(),
    }
}

fn on_key(key: &Option<String>) -> String {
    match key {
        Some(key) => format!(" on key {}", describe_key(Some(key))),
        None => String::new(),
    }
}

/// The operations whose real-time interval overlaps `op`'s.
fn concurrent_with(op: &Operation, spans: &[Span]) -> Vec<usize> {
    let end = op.complete_index.unwrap_or(usize::MAX);
    spans
        .iter()
        .filter(|other| other.index != op.index)
        .filter(|other| {
            other.index < end && !matches!(other.complete_index, Some(done) if done <= op.index)
        })
        .map(|other| other.index)
        .collect()
}

fn combine(
    partitions: &[(Option<String>, Partition)],
    outcomes: Vec<Option<PartitionOutcome>>,
    op_count: usize,
) -> CheckResult {
    let first_failure = outcomes.iter().position(|outcome| {
        outcome
            .as_ref()
            .is_some_and(|outcome| outcome.verdict == Verdict::NotLinearizable)
    });
    // Keys decided in earlier rounds keep their verdicts; keys not needed are not checked.
    let mut keys = Vec::new();
    let mut states_explored = 0;
    let mut explanation = None;
    let mut unknown_reason: Option<String> = None;
    for ((key, partition), outcome) in partitions.iter().zip(outcomes) {
        let verdict = outcome.map(|outcome| {
            states_explored += outcome.states_explored;
            if outcome.explanation.is_some() && explanation.is_none() {
                explanation = outcome.explanation;
            }
            if let (Verdict::Unknown { reason }, None) = (&outcome.verdict, first_failure) {
                unknown_reason.get_or_insert_with(|| reason.clone());
            }
            (outcome.verdict, outcome.states_explored)
        });
        keys.push(KeyResult {
            key: key.clone(),
            op_count: partition.spans.len(),
            states_explored: verdict.as_ref().map_or(0, |(_, states)| *states),
            verdict: verdict.map(|(verdict, _)| verdict),
        });
    }
    let verdict = if first_failure.is_some() {
        Verdict::NotLinearizable
    } else if let Some(reason) = unknown_reason {
        Verdict::Unknown { reason }
    } else {
        Verdict::Linearizable
    };
    CheckResult {
        verdict,
        op_count,
        keys,
        states_explored,
        explanation,
    }
}

/// The process exit status for a result: 0 linearizable, 1 not linearizable, 3 unknown (2 is for
/// a history that cannot be read).
pub fn exit_code(result: &CheckResult) -> u8 {
    match result.verdict {
        Verdict::Linearizable => 0,
        Verdict::NotLinearizable => 1,
        Verdict::Unknown { .. } => 3,
    }
}

/// Bytes in binary units, for messages.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024 * 10 && unit + 1 < UNITS.len() {
        value /= 1024;
        unit += 1;
    }
    format!("{value} {}", UNITS[unit])
}

pub(crate) fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if duration.subsec_millis() == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}
