//! `lock.fencing_safety`: the resource never accepts a write whose token is lower than one it
//! has accepted, and never refuses one whose token is not (a holder's writes under the newest
//! grant go through); and the overlap clients believe in, measured.
//!
//! A client believes it holds a lock from its `believes` event until its `doubts` event or its
//! crash (a paused client still believes: nothing ran to tell it otherwise). Two clients
//! believing at once, a writer among them, is an overlap; its total, count and longest go to
//! the summary and the figures. Fencing is what keeps an overlap from reaching the resource.
//!
//! Overlap has two excuses: a paused node (a client stalled past its lease, a server that
//! expired a session late) and a disturbed clock (a lease measured by a clock running slow or
//! jumping). Before the first pause or clock fault of a run, leases alone must keep clients
//! apart: the client measures its lease from when it sent the request that set it, and the
//! service from when it applied it, so the client stops believing first. An overlap that
//! starts then fails the check, naming the clients, their tokens and the stretch.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim_core::{
    Check, CheckKind, CheckReport, NodeChange, NodeId, Observation, Phases, SimDuration, SimTime,
    Simulation, Violation,
};

use super::{with_record, SharedRecord};
use crate::config::Config;
use crate::machine::Mode;
use crate::node::{LockEvent, LockNode};

/// Who believes they hold one lock, and since when the current set has stood.
#[derive(Debug, Default)]
struct Beliefs {
    believers: BTreeMap<NodeId, (Mode, u64)>,
    since: SimTime,
    overlap_started: Option<SimTime>,
    /// Who believed when the current overlap started.
    overlap_between: Vec<(NodeId, Mode, u64)>,
}

impl Beliefs {
    fn conflicting(&self) -> bool {
        self.believers.len() >= 2 && self.believers.values().any(|&(m, _)| m == Mode::Write)
    }
}

/// `lock.fencing_safety`.
pub struct FencingSafety {
    config: Arc<Config>,
    record: SharedRecord,
    /// Per lock, the highest token the resource accepted, with the writer and time.
    accepted: BTreeMap<String, (u64, NodeId, SimTime)>,
    beliefs: BTreeMap<String, Beliefs>,
    /// The first pause or clock fault of the run, if any: before it, leases alone must keep
    /// clients from believing at once.
    disturbed_at: Option<SimTime>,
    /// An overlap that started before any pause or clock fault, once it has closed.
    unexcused: Option<Violation>,
}

impl FencingSafety {
    pub const NAME: &'static str = "lock.fencing_safety";

    pub fn new(config: Arc<Config>, record: SharedRecord) -> Self {
        FencingSafety {
            config,
            record,
            accepted: BTreeMap::new(),
            beliefs: BTreeMap::new(),
            disturbed_at: None,
            unexcused: None,
        }
    }

    /// Changes `client`'s belief about `lock` at `now`, accounting the overlap so far.
    fn believe(&mut self, lock: &str, client: NodeId, belief: Option<(Mode, u64)>, now: SimTime) {
        let beliefs = self.beliefs.entry(lock.to_string()).or_default();
        let before = beliefs.conflicting();
        match belief {
            Some(b) => {
                beliefs.believers.insert(client, b);
            }
            None => {
                beliefs.believers.remove(&client);
            }
        }
        let after = beliefs.conflicting();
        beliefs.since = now;
        match (before, after) {
            (false, true) => {
                beliefs.overlap_started = Some(now);
                beliefs.overlap_between = beliefs
                    .believers
                    .iter()
                    .map(|(&n, &(m, t))| (n, m, t))
                    .collect();
            }
            (true, false) => {
                if let Some(start) = beliefs.overlap_started.take().filter(|&s| now > s) {
                    if self.disturbed_at.is_none_or(|d| start < d) && self.unexcused.is_none() {
                        let who: Vec<String> = beliefs
                            .overlap_between
                            .iter()
                            .map(|(n, m, t)| format!("{n} ({m:?}, token {t})"))
                            .collect();
                        self.unexcused = Some(Violation {
                            time: now,
                            message: format!(
                                "{} all believed they held lock {lock} from t={start} to t={now}, \
                                 and no node had been paused nor any clock disturbed by then: \
                                 leases alone must keep clients from believing at once",
                                who.join(" and ")
                            ),
                        });
                    }
                    let length = now.saturating_since(start);
                    with_record(&self.record, |r| {
                        r.overlap =
                            SimDuration::from_nanos(r.overlap.as_nanos() + length.as_nanos());
                        r.overlaps += 1;
                        r.longest_overlap = r.longest_overlap.max(length);
                    });
                }
            }
            _ => {}
        }
    }

    fn accept(
        &mut self,
        now: SimTime,
        lock: &str,
        token: u64,
        client: NodeId,
    ) -> Option<Violation> {
        with_record(&self.record, |r| r.writes_accepted += 1);
        match self.accepted.get(lock) {
            Some(&(highest, by, at)) if token < highest => {
                with_record(&self.record, |r| r.stale_writes_accepted += 1);
                let fencing = if self.config.fencing { "on" } else { "off" };
                Some(Violation {
                    time: now,
                    message: format!(
                        "the resource accepted a write to lock {lock} by {client} with token {token} at t={now}, \
                         after accepting token {highest} from {by} at t={at} (fencing {fencing})"
                    ),
                })
            }
            Some(&(highest, _, _)) if token == highest => None,
            _ => {
                self.accepted.insert(lock.to_string(), (token, client, now));
                None
            }
        }
    }

    /// The resource refused a write: fencing may refuse only a token lower than one it
    /// accepted, so a holder's writes under the newest grant always go through.
    fn refuse(&self, now: SimTime, lock: &str, token: u64, client: NodeId) -> Option<Violation> {
        let accepted = self.accepted.get(lock).copied();
        let highest = accepted.map_or(0, |(highest, _, _)| highest);
        if token < highest {
            return None;
        }
        let from =
            accepted.map_or_else(String::new, |(_, by, at)| format!(" (from {by} at t={at})"));
        Some(Violation {
            time: now,
            message: format!(
                "the resource refused a write to lock {lock} by {client} with token {token} at t={now}, \
                 though the highest token it had accepted was {highest}{from}: fencing refuses only \
                 lower tokens"
            ),
        })
    }
}

impl Check<LockNode> for FencingSafety {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn observe(
        &mut self,
        sim: &Simulation<LockNode>,
        obs: &Observation<'_, LockNode>,
    ) -> Option<Violation> {
        let now = sim.now();
        match *obs {
            Observation::Handled { node, events } => {
                let mut violation = None;
                for event in events {
                    match event {
                        LockEvent::Believes { lock, mode, token } => {
                            with_record(&self.record, |r| r.holdings += 1);
                            self.believe(lock, node, Some((*mode, *token)), now);
                        }
                        LockEvent::Doubts { lock, .. } => self.believe(lock, node, None, now),
                        LockEvent::Accepted {
                            lock,
                            token,
                            client,
                            ..
                        } => {
                            violation = violation.or(self.accept(now, lock, *token, *client));
                        }
                        LockEvent::Rejected {
                            lock,
                            token,
                            client,
                            ..
                        } => {
                            with_record(&self.record, |r| r.writes_rejected += 1);
                            violation = violation.or(self.refuse(now, lock, *token, *client));
                        }
                        LockEvent::SessionOpened { .. } => {
                            with_record(&self.record, |r| r.sessions_opened += 1)
                        }
                        _ => {}
                    }
                }
                violation.or_else(|| self.unexcused.take())
            }
            Observation::Node {
                node,
                change: NodeChange::Crashed,
            } => {
                let locks: Vec<String> = self
                    .beliefs
                    .iter()
                    .filter(|(_, b)| b.believers.contains_key(&node))
                    .map(|(l, _)| l.clone())
                    .collect();
                for lock in locks {
                    self.believe(&lock, node, None, now);
                }
                self.unexcused.take()
            }
            Observation::Node {
                change: NodeChange::Paused | NodeChange::ClockChanged,
                ..
            } => {
                self.disturbed_at.get_or_insert(now);
                None
            }
            _ => None,
        }
    }

    fn finish(&mut self, _sim: &Simulation<LockNode>, phases: &Phases) -> CheckReport {
        // Close the overlaps still open at the end.
        let open: Vec<(String, NodeId)> = self
            .beliefs
            .iter()
            .flat_map(|(l, b)| b.believers.keys().map(move |&n| (l.clone(), n)))
            .collect();
        for (lock, node) in open {
            self.believe(&lock, node, None, phases.end);
        }
        let record = self
            .record
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        CheckReport {
            name: Self::NAME.to_string(),
            kind: CheckKind::Always,
            // An overlap still open at the end, unexcused.
            violation: self.unexcused.take(),
            figures: vec![
                (
                    "believed overlap".to_string(),
                    format!(
                        "{} in {} episodes",
                        super::millis(record.overlap),
                        record.overlaps
                    ),
                ),
                (
                    "writes accepted".to_string(),
                    record.writes_accepted.to_string(),
                ),
                (
                    "refused by fencing".to_string(),
                    record.writes_rejected.to_string(),
                ),
            ],
            not_evaluated: (record.writes_accepted == 0)
                .then(|| "the resource accepted no write".to_string()),
        }
    }
}
