//! What the incremental check does with one key at a quiescent moment and at the end of what was
//! recorded: take the moment as a cut, let the segment go on past it, or take every moment the
//! segment went on past as a cut after all.
//!
//! Owns `Context` and the methods of `KeyState` that move its frontier (`quiescent`, `finish`).
//! The rules for going on past a moment, and their bounds, are in `defer`; the search of a
//! segment is `Stretch`. A segment that went on past moments is searched as one, within the trial
//! budget while it may still go on or once it reached a bound; when that search runs out, every
//! moment the segment went on past is taken as a cut, in order (`replay`), which is what the check
//! does when it skips nothing: the verdict and the cost are then those of cutting at every
//! quiescent moment, plus the bounded trials.

use std::collections::BTreeSet;

use crate::defer::{Skipped, DEFER_FRONTIER, DEFER_STATES_MAX};
use crate::history::{describe_key, ModelKind, Operation, Outcome};
use crate::incremental::{explain, KeyState, SegmentFailure, SegmentOp, Status, FRONTIER_MAX};
use crate::model::Model;
use crate::stretch::{Config, Explored, Limits, Stretch};

/// What every key's check shares: the recorder's model and budget, and the key.
pub(crate) struct Context<'a, M: Model> {
    pub(crate) kind: ModelKind,
    pub(crate) model: &'a M,
    pub(crate) partition: &'a Option<String>,
    /// The most configurations one search may explore.
    pub(crate) max_states: u64,
}

/// What one search of a segment comes to.
pub(crate) enum Advance {
    /// The frontier moved past the segment (or, at the end, some linearization exists).
    Ok,
    /// No linearization: not linearizable.
    Empty,
    Unknown(String),
    /// The quiescent moment is not taken as a cut: the segment goes on to the next one.
    Deferred,
    /// The segment, searched as one, was too hard: take every moment it went on past as a cut.
    Replay,
}

/// What a search is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// A quiescent moment the segment may go on past (within the bounds of `defer`).
    Deferrable,
    /// A quiescent moment that is a cut.
    Plain,
    /// A quiescent moment that must be a cut, of a segment that went on past others (a bound
    /// of `defer` is reached): searched as one within the trial budget, else replayed.
    Bound,
    /// The end of what was recorded, on a segment that went on past moments: one linearization
    /// is enough, searched within a trial budget.
    LastTrial,
    /// The end of what was recorded: only whether some linearization exists matters.
    Last,
}

impl<S: Clone + Eq + Sync> KeyState<S> {
    /// No operation on the key is in flight at `time_ns`: the segment is searched, and the
    /// moment taken as a cut or gone on past. Returns the failure when the key is found not
    /// linearizable.
    pub(crate) fn quiescent<M: Model<State = S>>(
        &mut self,
        cx: &Context<'_, M>,
        time_ns: u64,
    ) -> Option<SegmentFailure> {
        let segment = std::mem::take(&mut self.segment);
        let moment = (segment.len(), time_ns);
        let cut = if self.skipped.allows(segment.len()) {
            Cut::Deferrable
        } else if self.skipped.moments.is_empty() {
            Cut::Plain
        } else {
            Cut::Bound
        };
        match self.advance(cx.model, &segment, cx.max_states, cut) {
            Advance::Deferred => {
                self.skipped.moments.push(moment);
                self.segment = segment;
                None
            }
            Advance::Replay => {
                self.skipped.moments.push(moment);
                self.replay(cx, &segment)
            }
            outcome => self.settle(cx, outcome, &segment, time_ns),
        }
    }

    /// The end of what was recorded (call it on a copy): the open segment is searched for one
    /// linearization. Returns the failure when the key is found not linearizable.
    pub(crate) fn finish<M: Model<State = S>>(
        &mut self,
        cx: &Context<'_, M>,
    ) -> Option<SegmentFailure> {
        if self.status != Status::Checking || self.segment.is_empty() {
            return None;
        }
        let segment = std::mem::take(&mut self.segment);
        let to_ns = segment_end(&segment).unwrap_or(self.cut_ns);
        let Some(&(tail_start, _)) = self.skipped.moments.last() else {
            let outcome = self.advance(cx.model, &segment, cx.max_states, Cut::Last);
            return self.settle(cx, outcome, &segment, to_ns);
        };
        let trial = cx.max_states.min(DEFER_STATES_MAX);
        match self.advance(cx.model, &segment, trial, Cut::LastTrial) {
            Advance::Replay => {}
            outcome => return self.settle(cx, outcome, &segment, to_ns),
        }
        // Too hard as one: as if every moment had been a cut, then the rest.
        let failure = self.replay(cx, &segment);
        if self.status != Status::Checking {
            return failure;
        }
        let tail = &segment[tail_start..];
        let outcome = self.advance(cx.model, tail, cx.max_states, Cut::Last);
        self.settle(cx, outcome, tail, to_ns)
    }

    /// Takes every quiescent moment the segment went on past as a cut, in order, as if none had
    /// been skipped; stops at the first that decides the key.
    fn replay<M: Model<State = S>>(
        &mut self,
        cx: &Context<'_, M>,
        segment: &[SegmentOp],
    ) -> Option<SegmentFailure> {
        let moments = std::mem::take(&mut self.skipped).moments;
        let mut start = 0;
        for (end, time_ns) in moments {
            let piece = &segment[start..end];
            let outcome = self.advance(cx.model, piece, cx.max_states, Cut::Plain);
            let failure = self.settle(cx, outcome, piece, time_ns);
            if self.status != Status::Checking {
                return failure;
            }
            start = end;
        }
        None
    }

    /// Records what the search of `segment`, ending at `time_ns`, came to.
    fn settle<M: Model<State = S>>(
        &mut self,
        cx: &Context<'_, M>,
        outcome: Advance,
        segment: &[SegmentOp],
        time_ns: u64,
    ) -> Option<SegmentFailure> {
        let from_ns = self.cut_ns;
        self.cut_ns = time_ns;
        let failure = match outcome {
            Advance::Ok | Advance::Deferred | Advance::Replay => return None,
            Advance::Unknown(reason) => {
                self.status = Status::Unknown(reason);
                None
            }
            Advance::Empty => {
                self.status = Status::NotLinearizable;
                let window = (from_ns, time_ns);
                let (kind, model, partition) = (cx.kind, cx.model, cx.partition);
                Some(explain(
                    kind,
                    model,
                    partition,
                    self,
                    segment,
                    window,
                    cx.max_states,
                ))
            }
        };
        self.frontier.clear();
        self.carried.clear();
        self.skipped = Default::default();
        failure
    }
}

impl<S: Clone + Eq> KeyState<S> {
    /// Searches `segment` from every configuration of the key's frontier (within `budget`
    /// states) and replaces the frontier with the configurations in which all of the segment's
    /// ok operations have taken effect, or, at a deferrable moment, leaves it as it was.
    fn advance<M: Model<State = S>>(
        &mut self,
        model: &M,
        segment: &[SegmentOp],
        budget: u64,
        cut: Cut,
    ) -> Advance {
        // Failed operations never take effect; info operations that change nothing never matter.
        let fresh: Vec<&SegmentOp> = segment
            .iter()
            .filter(|s| s.op.outcome != Outcome::Fail)
            .filter(|s| !(s.op.outcome == Outcome::Info && model.read_only(&s.op)))
            .collect();
        // Positions: the carried info operations first, then the segment's.
        let carried: Vec<&SegmentOp> = self.carried.values().collect();
        let ops: Vec<&Operation> = carried.iter().chain(&fresh).map(|s| &s.op).collect();
        let stretch = Stretch {
            model,
            ops: &ops,
            carried_count: carried.len(),
            last: matches!(cut, Cut::Last | Cut::LastTrial),
        };
        let deferrable = cut == Cut::Deferrable;
        match cut {
            // Searched in vain already: no search until the segment must be cut.
            Cut::Deferrable if self.skipped.hard => return self.skipped.defer(0),
            Cut::Bound if self.skipped.hard => return Advance::Replay,
            _ => {}
        }
        let budget = match cut {
            Cut::Deferrable | Cut::Bound => self.skipped.trial_states(budget),
            _ => budget,
        };
        let (found, explored) = search(&stretch, &self.frontier, budget, deferrable);
        self.states_explored += explored;
        let ends = match found {
            Ok(ends) => ends,
            Err(Stop::Open) => return self.skipped.defer(explored),
            Err(Stop::OutOfStates) => {
                return out_of_states(&mut self.skipped, cut, budget, explored, &ops)
            }
            Err(Stop::Empty) => return Advance::Empty,
            Err(Stop::TooManyEnds) => return too_many(&ops),
        };
        if matches!(cut, Cut::Last | Cut::LastTrial) {
            // Nothing follows: some linearization exists, and the frontier is not needed.
            return Advance::Ok;
        }
        let frontier = prune(ends);
        if deferrable && frontier.len() > DEFER_FRONTIER {
            // Large, though within bounds: the next write usually collapses it again.
            return self.skipped.defer(explored);
        }
        if frontier.len() > FRONTIER_MAX {
            return too_many(&ops);
        }
        let still_open: BTreeSet<usize> = frontier
            .iter()
            .flat_map(|c| c.open.iter().copied())
            .collect();
        self.carried = carried
            .into_iter()
            .chain(fresh)
            .filter(|s| still_open.contains(&s.op.index))
            .map(|s| (s.op.index, s.clone()))
            .collect();
        self.frontier = frontier;
        self.skipped = Default::default();
        Advance::Ok
    }
}

/// What a search that explored `explored` states and ran out of its `budget` comes to.
fn out_of_states(
    skipped: &mut Skipped,
    cut: Cut,
    budget: u64,
    explored: u64,
    ops: &[&Operation],
) -> Advance {
    match cut {
        // A longer segment is harder: as if every moment had been a cut.
        Cut::Deferrable if !skipped.moments.is_empty() => {
            skipped.defer(explored);
            Advance::Replay
        }
        // Too hard to find every end: maybe one linearization at the end will do.
        Cut::Deferrable => {
            skipped.hard = true;
            skipped.defer(explored)
        }
        Cut::Bound | Cut::LastTrial => Advance::Replay,
        Cut::Plain | Cut::Last => Advance::Unknown(format!(
            "the state budget of {budget} states per stretch ran out on key {}",
            key_name(ops)
        )),
    }
}

/// Why a search found no end configurations to make a frontier of.
enum Stop {
    /// Unseen info operations could end the stretch in every order (`Stretch::ends_open`): not
    /// searched.
    Open,
    /// None: not linearizable.
    Empty,
    OutOfStates,
    /// More than [`FRONTIER_MAX`] distinct end states.
    TooManyEnds,
}

/// The end configurations of a search (never none), or why there are none to take.
type Searched<S> = Result<Vec<Config<S>>, Stop>;

/// The end configurations of `stretch` from `frontier` (never none), or why there are none to
/// take (`Stop::Open` only when `deferrable`); and the configurations explored.
fn search<M: Model>(
    stretch: &Stretch<'_, M>,
    frontier: &[Config<M::State>],
    max_states: u64,
    deferrable: bool,
) -> (Searched<M::State>, u64) {
    let unseen = stretch.unseen(frontier);
    if deferrable && stretch.ends_open(&unseen) {
        return (Err(Stop::Open), 0);
    }
    let limits = Limits {
        max_states,
        max_end_states: FRONTIER_MAX,
    };
    let (found, explored) = stretch.explore(frontier, unseen, limits);
    let outcome = match found {
        Explored::Ends(ends) if ends.is_empty() => Err(Stop::Empty),
        Explored::Ends(ends) => Ok(ends),
        Explored::OutOfStates => Err(Stop::OutOfStates),
        Explored::TooManyEnds => Err(Stop::TooManyEnds),
    };
    (outcome, explored)
}

/// The key of a stretch's operations, described.
fn key_name(ops: &[&Operation]) -> String {
    describe_key(ops.first().and_then(|op| op.key.as_deref()))
}

/// The verdict on a key whose frontier would hold more than [`FRONTIER_MAX`] configurations.
fn too_many(ops: &[&Operation]) -> Advance {
    Advance::Unknown(format!(
        "more than {FRONTIER_MAX} configurations of key {} were possible at once",
        key_name(ops)
    ))
}

/// The last time an operation of `segment` was invoked or completed.
fn segment_end(segment: &[SegmentOp]) -> Option<u64> {
    segment
        .iter()
        .filter_map(|s| s.completed_ns.or(Some(s.invoked_ns)))
        .max()
}

/// Drops duplicate configurations and those whose open operations are a strict subset of
/// another's with the same state: everything they allow, the other allows.
fn prune<S: Eq>(configs: Vec<Config<S>>) -> Vec<Config<S>> {
    let mut kept: Vec<Config<S>> = Vec::new();
    for config in configs {
        let covered = kept
            .iter()
            .any(|other| other.state == config.state && is_subset(&config.open, &other.open));
        if covered {
            continue;
        }
        kept.retain(|other| !(other.state == config.state && is_subset(&other.open, &config.open)));
        kept.push(config);
        if kept.len() > FRONTIER_MAX {
            // Too many either way (the caller gives up on the key): stop before the pruning
            // itself, quadratic, costs more than the search did.
            break;
        }
    }
    kept
}

/// Whether sorted `small` is a subset of sorted `large`.
fn is_subset(small: &[usize], large: &[usize]) -> bool {
    small.iter().all(|item| large.binary_search(item).is_ok())
}
