//! `lock.mutual_exclusion`: as the service sees it, no two sessions hold a lock at one instant
//! of simulated time, nor a writer beside a reader; and every grant's fencing token is higher
//! than the tokens of the lock's earlier grants (readers granted together share one).
//!
//! The service's view is what its replicas apply: each reports `granted` and `freed` as it
//! applies them. Every replica applies the same entries in the same order, so the first report
//! of each change is the service's moment for it; later reports of the same change (a follower
//! catching up, a replica replaying its log after a restart) are recognised by `(lock, session,
//! token)` and skipped.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim_core::{
    Check, CheckKind, CheckReport, NodeId, Observation, Phases, SimTime, Simulation, Violation,
};

use super::replay::{self, FirstReports};
use super::{with_record, SharedRecord};
use crate::config::{Config, ServiceMode};
use crate::machine::Mode;
use crate::node::{LockEvent, LockNode};

/// One holding as the service granted it.
#[derive(Debug, Clone, Copy)]
struct Held {
    mode: Mode,
    token: u64,
    client: NodeId,
    since: SimTime,
}

/// `lock.mutual_exclusion`.
pub struct MutualExclusion {
    config: Arc<Config>,
    record: SharedRecord,
    /// Per lock, per session, what it holds now.
    holders: BTreeMap<String, BTreeMap<u64, Held>>,
    /// Per lock, the highest token granted so far.
    highest: BTreeMap<String, u64>,
    /// Holdings that ended, `(lock, session, token)`, while a replica may still replay them
    /// ([`FirstReports`]).
    freed: FirstReports<(String, u64, u64)>,
    grants: u64,
}

impl MutualExclusion {
    pub const NAME: &'static str = "lock.mutual_exclusion";

    pub fn new(config: Arc<Config>, record: SharedRecord) -> Self {
        MutualExclusion {
            freed: FirstReports::new(&config.servers),
            config,
            record,
            holders: BTreeMap::new(),
            highest: BTreeMap::new(),
            grants: 0,
        }
    }

    fn granted(
        &mut self,
        now: SimTime,
        reporter: NodeId,
        lock: &str,
        session: u64,
        held: Held,
    ) -> Option<Violation> {
        let key = (lock.to_string(), session, held.token);
        let holders = self.holders.entry(lock.to_string()).or_default();
        let known = holders.get(&session).is_some_and(|h| h.token == held.token);
        if known || self.freed.contains(&key) {
            return None;
        }
        self.grants += 1;
        with_record(&self.record, |r| r.grants += 1);
        let conflict = holders
            .iter()
            .find(|(&s, h)| s != session && (held.mode == Mode::Write || h.mode == Mode::Write));
        let violation = conflict.map(|(&other, h)| Violation {
            time: now,
            message: format!(
                "{reporter} applied a {:?} grant of lock {lock} to session {session:x} ({}) with token {} at t={now}, \
                 while session {other:x} ({}) holds it in {:?} mode with token {} since t={}",
                held.mode, held.client, held.token, h.client, h.mode, h.token, h.since
            ),
        });
        let highest = self.highest.get(lock).copied().unwrap_or(0);
        let lower = held.token < highest || (held.mode == Mode::Write && held.token == highest);
        let violation = violation.or_else(|| {
            lower.then(|| Violation {
                time: now,
                message: format!(
                    "{reporter} applied a {:?} grant of lock {lock} to session {session:x} ({}) with token {} at t={now}, \
                     not above the lock's earlier token {highest}: fencing tokens must only grow",
                    held.mode, held.client, held.token
                ),
            })
        });
        holders.insert(session, held);
        self.highest
            .insert(lock.to_string(), highest.max(held.token));
        violation
    }

    /// The holdings that ended and are remembered, while a replica may still replay them.
    pub fn freed_remembered(&self) -> usize {
        self.freed.len()
    }

    fn freed(&mut self, lock: &str, session: u64, token: u64, upto: u64) {
        let key = (lock.to_string(), session, token);
        if !self.freed.first(key, upto) {
            return;
        }
        with_record(&self.record, |r| r.releases += 1);
        if let Some(holders) = self.holders.get_mut(lock) {
            if holders.get(&session).is_some_and(|h| h.token == token) {
                holders.remove(&session);
            }
        }
    }
}

impl Check<LockNode> for MutualExclusion {
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
        let Observation::Handled { node, events } = *obs else {
            return None;
        };
        let now = sim.now();
        let upto = replay::applied(sim, node).unwrap_or(u64::MAX);
        let mut violation = None;
        for event in events {
            match event {
                LockEvent::Granted {
                    lock,
                    session,
                    client,
                    mode,
                    token,
                } => {
                    let held = Held {
                        mode: *mode,
                        token: *token,
                        client: *client,
                        since: now,
                    };
                    violation = violation.or(self.granted(now, node, lock, *session, held));
                }
                LockEvent::Freed {
                    lock,
                    session,
                    token,
                } => self.freed(lock, *session, *token, upto),
                _ => {}
            }
        }
        if let Some(index) = replay::synced_snapshot(sim, node) {
            self.freed.snapshot(node, index);
        }
        violation
    }

    fn finish(&mut self, _sim: &Simulation<LockNode>, _phases: &Phases) -> CheckReport {
        if self.config.mode == ServiceMode::Majority {
            return CheckReport::not_evaluated(
                Self::NAME,
                CheckKind::Always,
                "the majority lock has no service view: its servers do not know of each other",
            );
        }
        if self.grants == 0 {
            return CheckReport::not_evaluated(
                Self::NAME,
                CheckKind::Always,
                "the service granted no lock",
            );
        }
        CheckReport {
            name: Self::NAME.to_string(),
            kind: CheckKind::Always,
            violation: None,
            figures: vec![("grants".to_string(), self.grants.to_string())],
            not_evaluated: None,
        }
    }
}
