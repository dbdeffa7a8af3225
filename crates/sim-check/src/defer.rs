//! When the incremental check does not take a quiescent moment as a cut, and the bounds on how
//! long a segment may go on past such moments.
//!
//! Owns `Skipped` and the bounds [`DEFER_OPS_MAX`], [`DEFER_CUTS_MAX`] and [`DEFER_STATES_MAX`].
//! Any quiescent moment may be a cut, and none has to be: searching two segments together is the
//! same check with one cut fewer (the real-time order within the longer segment still holds every
//! operation that completed before the moment ahead of every one invoked after it). So skipping a
//! moment never changes a decided verdict; it changes what the check costs, both ways. A moment is
//! skipped when taking it would be expensive or hopeless, and a later one may do better:
//! - unseen info operations could end the segment in every order (`Stretch::ends_open`): a later
//!   read or write sorts them out, and the longer search applies them only after it;
//! - the frontier would hold more than `DEFER_FRONTIER` configurations (but at most
//!   [`FRONTIER_MAX`](crate::FRONTIER_MAX)): the next write usually collapses it again;
//! - the search ran out of its trial budget: every end configuration of the segment is too many to
//!   find, but at the end of the history one linearization is enough.
//!
//! A segment that nothing ever settles (appends no read ever sorts out, a search that stays too
//! hard) must not grow, or be searched again, without end: it goes on past at most
//! [`DEFER_CUTS_MAX`] moments and [`DEFER_OPS_MAX`] operations, its trial searches explore at most
//! [`DEFER_STATES_MAX`] states together, and once a trial ran out no other is tried until the
//! segment must be cut. A segment that reaches a bound is searched as one with what is left of
//! the trial budget; when that, or a trial after the segment skipped a moment, runs out, every
//! moment it skipped is taken as a cut, in order (`cuts`, replay): the check then decides the
//! key, or makes it unknown with the reason, exactly as it does when it skips nothing, at that
//! cost plus the bounded trials.

use crate::cuts::Advance;

/// A frontier larger than this is not made at a quiescent moment while the segment may go on.
pub(crate) const DEFER_FRONTIER: usize = 64;
/// The longest segment (operations) that may go on past a quiescent moment.
pub const DEFER_OPS_MAX: usize = 2048;
/// The most quiescent moments in a row that one segment may go on past.
pub const DEFER_CUTS_MAX: usize = 64;
/// The most states that the searches of one segment at moments it went on past may explore, all
/// together (each also within the check's own budget).
pub const DEFER_STATES_MAX: u64 = 1 << 18;

/// How far the current segment went past quiescent moments not taken as cuts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Skipped {
    /// Each moment gone past: the segment's length then, and its time.
    pub(crate) moments: Vec<(usize, u64)>,
    /// States explored by the searches of the segment at those moments.
    states: u64,
    /// A search of the segment ran out of its budget: none is tried again until it must be cut.
    pub(crate) hard: bool,
}

impl Skipped {
    /// Whether a segment of `len` operations may go on past one more quiescent moment.
    pub(crate) fn allows(&self, len: usize) -> bool {
        len < DEFER_OPS_MAX
            && self.moments.len() < DEFER_CUTS_MAX
            && (self.hard || self.states < DEFER_STATES_MAX)
    }

    /// The states a search at a moment that may be skipped may explore: what is left of
    /// [`DEFER_STATES_MAX`], within the check's `max_states`.
    pub(crate) fn trial_states(&self, max_states: u64) -> u64 {
        max_states.min(DEFER_STATES_MAX.saturating_sub(self.states))
    }

    /// Counts the states of a search whose frontier was not taken (the caller records the
    /// moment).
    pub(crate) fn defer(&mut self, states: u64) -> Advance {
        self.states += states;
        Advance::Deferred
    }
}
