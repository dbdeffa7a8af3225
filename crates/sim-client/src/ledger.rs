//! Where the engine's operation records go: the open ones ride with their slot, the ended ones
//! are added to a [`Tally`] and forgotten, so that memory does not grow with simulated time.
//!
//! Owns [`Ledger`] and [`Open`]. An operation counts as invoked inside a fault window when some
//! fault is in force at the end of the instant it was invoked: the runner says when that changes
//! ([`sim_core::Workload::faults_in_force`]), and a change at the instant of an invoke still
//! reclassifies it, so the count matches the windows the runner reports afterwards (`[start,
//! end)`). Every record is also kept whole when asked ([`Ledger::keep`]: tests, and runs that keep
//! their whole history anyway).

use sim_core::SimTime;

use crate::engine::{OpRecord, OpStatus};
use crate::tally::Tally;

/// An operation not yet ended: its record, and what the ledger needs when it ends.
#[derive(Debug)]
pub(crate) struct Open {
    pub record: OpRecord,
    /// Its place in invoke order.
    seq: u64,
    /// Invoked while some fault was in force (as far as known at this instant).
    in_window: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    tally: Tally,
    /// Every ended record with its place in invoke order, when kept.
    kept: Option<Vec<(u64, OpRecord)>>,
    /// Records that ended at the instant they were invoked: a fault starting or ending later
    /// in that instant still moves them in or out of a window.
    settling: Vec<Open>,
    faulty: bool,
    invoked: u64,
}

impl Ledger {
    /// Keep every record whole from now on (call it before the run).
    pub fn keep(&mut self) {
        self.kept.get_or_insert_with(Vec::new);
    }

    /// Operations invoked so far.
    pub fn invoked(&self) -> u64 {
        self.invoked
    }

    /// A newly invoked operation.
    pub fn open(&mut self, record: OpRecord) -> Open {
        self.invoked += 1;
        Open {
            record,
            seq: self.invoked - 1,
            in_window: self.faulty,
        }
    }

    /// An operation that has ended (its record completed), at `now`.
    pub fn close(&mut self, open: Open, now: SimTime) {
        self.settle(now);
        if let Some(kept) = &mut self.kept {
            kept.push((open.seq, open.record.clone()));
        }
        if open.record.invoked_at == now {
            self.settling.push(open);
        } else {
            self.tally.add(&open.record, open.in_window);
        }
    }

    /// Adds what settled before `now` to the tally.
    fn settle(&mut self, now: SimTime) {
        if self
            .settling
            .first()
            .is_some_and(|o| o.record.invoked_at < now)
        {
            for open in std::mem::take(&mut self.settling) {
                self.tally.add(&open.record, open.in_window);
            }
        }
    }

    /// Some fault is in force from `now` on (`in_force`), or none is: operations invoked at this
    /// instant, `open` ones included, move with it.
    pub fn faults_in_force<'a>(
        &mut self,
        now: SimTime,
        in_force: bool,
        open: impl Iterator<Item = &'a mut Open>,
    ) {
        self.settle(now);
        self.faulty = in_force;
        let invoked_now = |o: &&mut Open| o.record.invoked_at == now;
        for o in self.settling.iter_mut().filter(invoked_now) {
            o.in_window = in_force;
        }
        for o in open.filter(invoked_now) {
            o.in_window = in_force;
        }
    }

    /// The tally of every operation, the `open` ones counted as pending. With `end` (the run's
    /// end), an operation invoked at that instant is outside every window: a window still open
    /// at the end closes there.
    pub fn tally<'a>(&self, open: impl Iterator<Item = &'a Open>, end: Option<SimTime>) -> Tally {
        let mut tally = self.tally.clone();
        let window = |o: &Open| o.in_window && end.is_none_or(|end| o.record.invoked_at < end);
        for o in &self.settling {
            tally.add(&o.record, window(o));
        }
        for o in open {
            debug_assert_eq!(o.record.status, OpStatus::Pending);
            tally.add(&o.record, window(o));
        }
        tally
    }

    /// Every record in invoke order, the `open` ones as pending; `None` unless kept.
    pub fn records<'a>(&self, open: impl Iterator<Item = &'a Open>) -> Option<Vec<OpRecord>> {
        let kept = self.kept.as_ref()?;
        let mut records: Vec<(u64, OpRecord)> = kept.clone();
        records.extend(open.map(|o| (o.seq, o.record.clone())));
        records.sort_by_key(|&(seq, _)| seq);
        Some(records.into_iter().map(|(_, record)| record).collect())
    }
}
