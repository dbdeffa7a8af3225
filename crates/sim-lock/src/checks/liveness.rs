//! `lock.liveness`: after the faults heal, every client that is up holds a lock within
//! `grant_within` (a free lock reaches its waiters: queues move, watches fire, expired sessions
//! make room; with the majority lock, which has no queue, some client does); and the locks a session held when its client crashed, or was paused and stayed
//! paused, are released within the session's ttl plus `release_within`.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim_core::{
    Check, CheckKind, CheckReport, NodeChange, NodeId, NodeStatus, Observation, Phases,
    SimDuration, SimTime, Simulation, Violation,
};

use super::replay::{self, Frontier, Novelty};
use super::CheckParams;
use crate::config::{Config, ServiceMode};
use crate::node::{LockEvent, LockNode};

/// `lock.liveness`.
pub struct Liveness {
    config: Arc<Config>,
    grant_within: SimDuration,
    release_within: SimDuration,
    quiet_start: Option<SimTime>,
    /// Per client, when it first held a lock after the heal.
    held_after_heal: BTreeMap<NodeId, SimTime>,
    /// Per `(lock, session)`, the service's holding: client node and token.
    holdings: BTreeMap<(String, u64), (NodeId, u64)>,
    /// Per paused client, since when (cleared when it resumes: its session may live on).
    paused_since: BTreeMap<NodeId, SimTime>,
    /// Crashed clients: their sessions are dead for good, even after a restart.
    down: BTreeMap<NodeId, SimTime>,
    /// Per `(lock, session)` of a crashed client, the deadline for its release.
    deadlines: BTreeMap<(String, u64), SimTime>,
    /// The first session-release deadline missed: `(deadline, lock, session, client)`.
    missed: Option<(SimTime, String, u64, NodeId)>,
    /// How far each replica applied: what one applies where another has been is a replay
    /// (see [`Liveness::first_report`]).
    frontier: Frontier,
}

impl Liveness {
    pub const NAME: &'static str = "lock.liveness";

    pub fn new(config: Arc<Config>, params: &CheckParams) -> Self {
        Liveness {
            config,
            grant_within: params.grant_within,
            release_within: params.release_within,
            quiet_start: None,
            held_after_heal: BTreeMap::new(),
            holdings: BTreeMap::new(),
            paused_since: BTreeMap::new(),
            down: BTreeMap::new(),
            deadlines: BTreeMap::new(),
            missed: None,
            frontier: Frontier::default(),
        }
    }

    /// Whether the grants and frees `node` just reported are the service's news rather than a
    /// replay: every replica reports the entries it applies, so a follower catching up or a
    /// replica replaying its log after a restart reports grants the service made (and often
    /// undid) long ago, and a snapshot it installs next skips their frees. Taken as holdings,
    /// they would stay held for ever (lock swarm seed 1919). A handler whose entries straddle
    /// the frontier counts as news: its grants and frees come in log order, so a replayed grant
    /// is freed again, or its free was never applied and it is still held. Majority-mode servers
    /// replicate nothing.
    fn first_report(&mut self, sim: &Simulation<LockNode>, node: NodeId) -> bool {
        replay::applied(sim, node).is_none_or(|a| self.frontier.handled(node, a) != Novelty::Replay)
    }

    /// The deadline by which a silent client's sessions must be released.
    fn deadline(&self, since: SimTime) -> SimTime {
        since
            .saturating_add(self.config.ttl)
            .saturating_add(self.release_within)
    }

    fn look_for_missed(&mut self, now: SimTime) {
        if self.missed.is_some() {
            return;
        }
        for (key @ (lock, session), &(client, _)) in &self.holdings {
            let crashed = self.deadlines.get(key).copied();
            let paused = self.paused_since.get(&client).map(|&s| self.deadline(s));
            let Some(deadline) = crashed.into_iter().chain(paused).min() else {
                continue;
            };
            if now > deadline {
                self.missed = Some((deadline, lock.clone(), *session, client));
                return;
            }
        }
    }

    /// The clients that are up and held no lock by `bound`, as the mode requires.
    fn starved(&self, up: &[NodeId], bound: SimTime) -> Vec<String> {
        let in_time = |c: &NodeId| self.held_after_heal.get(c).is_some_and(|&t| t <= bound);
        // The Raft service queues waiters in order, so every client must get its turn; the
        // majority lock has no queue (a client that keeps losing races may starve), so there
        // it is enough that the free lock went to somebody.
        match self.config.mode {
            ServiceMode::Raft => up
                .iter()
                .filter(|c| !in_time(c))
                .map(|c| c.to_string())
                .collect(),
            ServiceMode::Majority if !up.is_empty() && !up.iter().any(in_time) => {
                up.iter().map(|c| c.to_string()).collect()
            }
            ServiceMode::Majority => Vec::new(),
        }
    }

    /// The first silent client's lock not released in time, as a report.
    fn missed_report(&self) -> Option<CheckReport> {
        let (deadline, lock, session, client) = self.missed.clone()?;
        let message = format!(
            "lock {lock} of session {session:x} was still held at t={deadline}, a ttl ({}) plus {} \
             after its client {client} went silent (crashed or paused), and was not released in time",
            self.config.ttl, self.release_within
        );
        Some(CheckReport {
            name: Self::NAME.to_string(),
            kind: CheckKind::Eventually,
            violation: Some(Violation {
                time: deadline,
                message,
            }),
            figures: Vec::new(),
            not_evaluated: None,
        })
    }

    fn went_silent(&mut self, node: NodeId, change: NodeChange, now: SimTime) {
        match change {
            NodeChange::Crashed => {
                self.down.insert(node, now);
                let deadline = self.deadline(now);
                for (key, &(client, _)) in &self.holdings {
                    if client == node {
                        self.deadlines.entry(key.clone()).or_insert(deadline);
                    }
                }
            }
            NodeChange::Paused => {
                self.paused_since.entry(node).or_insert(now);
            }
            NodeChange::Restarted => {
                self.down.remove(&node);
            }
            NodeChange::Resumed => {
                self.paused_since.remove(&node);
            }
            NodeChange::ClockChanged => {}
        }
    }
}

impl Check<LockNode> for Liveness {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn observe(
        &mut self,
        sim: &Simulation<LockNode>,
        obs: &Observation<'_, LockNode>,
    ) -> Option<Violation> {
        let now = sim.now();
        self.look_for_missed(now);
        match *obs {
            Observation::QuietPhase => self.quiet_start = Some(now),
            Observation::Node { node, change } if self.config.clients.contains(&node) => {
                self.went_silent(node, change, now);
            }
            Observation::Node {
                node,
                change: NodeChange::Crashed,
            } => self.frontier.crashed(node),
            Observation::Handled { node, events } => {
                let news = events.is_empty() || self.first_report(sim, node);
                for event in events.iter().filter(|_| news) {
                    match event {
                        LockEvent::Believes { .. } if self.quiet_start.is_some() => {
                            self.held_after_heal.entry(node).or_insert(now);
                        }
                        LockEvent::Granted {
                            lock,
                            session,
                            client,
                            token,
                            ..
                        } => {
                            let key = (lock.clone(), *session);
                            if let Some(&since) = self.down.get(client) {
                                // Granted to a session whose client is down (it waited in the
                                // queue): it must end like the rest of them.
                                let deadline = self.deadline(since.max(now));
                                self.deadlines.entry(key.clone()).or_insert(deadline);
                            }
                            self.holdings.insert(key, (*client, *token));
                        }
                        LockEvent::Freed {
                            lock,
                            session,
                            token,
                        } => {
                            let key = (lock.clone(), *session);
                            if self.holdings.get(&key).is_some_and(|&(_, t)| t == *token) {
                                self.holdings.remove(&key);
                                self.deadlines.remove(&key);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        None
    }

    fn finish(&mut self, sim: &Simulation<LockNode>, phases: &Phases) -> CheckReport {
        self.look_for_missed(phases.end);
        if let Some(report) = self.missed_report() {
            return report;
        }
        let Some(quiet) = self.quiet_start else {
            return CheckReport::not_evaluated(
                Self::NAME,
                CheckKind::Eventually,
                "the run has no quiet phase",
            );
        };
        let bound = quiet.saturating_add(self.grant_within);
        if phases.end < bound {
            return CheckReport::not_evaluated(
                Self::NAME,
                CheckKind::Eventually,
                format!("the run ended at t={} before the bound t={bound} (grant_within after the heal)", phases.end),
            );
        }
        let up: Vec<NodeId> = self
            .config
            .clients
            .iter()
            .copied()
            .filter(|&c| sim.status(c) == NodeStatus::Up)
            .collect();
        let starved = self.starved(&up, bound);
        let slowest = up
            .iter()
            .filter_map(|c| self.held_after_heal.get(c))
            .map(|&t| t.saturating_since(quiet))
            .max();
        let violation = (!starved.is_empty()).then(|| Violation {
            time: bound,
            message: format!(
                "client(s) {} held no lock within {} after the faults healed at t={quiet}{}",
                starved.join(", "),
                self.grant_within,
                if self.config.mode == ServiceMode::Raft {
                    " (a lock held by a session that never ends, or a queue that does not move)"
                } else {
                    ""
                }
            ),
        });
        CheckReport {
            name: Self::NAME.to_string(),
            kind: CheckKind::Eventually,
            violation,
            figures: slowest
                .map(|d| vec![("slowest first hold after heal".to_string(), d.to_string())])
                .unwrap_or_default(),
            not_evaluated: None,
        }
    }
}
