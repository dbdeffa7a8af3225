//! `lock.converged` (eventually, Raft mode): after the faults heal, the lock service's replicas
//! settle and agree, and no lock is left to a session that is gone.
//!
//! - Within `converge_within` of the quiet phase's start, every live server is in one term and
//!   follows one leader, which leads that term, and every live server has committed and applied
//!   at least the index the leader had committed when it became known to all (a replica that
//!   silently stays behind fails). Throughout the quiet phase, whenever a server has applied
//!   exactly as far as the leader, their lock machines (sessions, lock tables with holders,
//!   waiters and tokens, the counter, the clients' latest answers) must be identical.
//! - At the end of the run, once the leader has led for `release_within`, no lock in its
//!   machine is held by a session that no longer exists, or by one whose deadline passed more
//!   than `release_within` ago by the leader's clock (the deadline is the service's own, so a
//!   lease a skewed clock stretched is not blamed).
//!
//! `not evaluated`: the majority lock (independent servers, nothing replicated), a run without
//! a quiet phase, and a run that ended before the bound with the replicas not yet converged.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim_core::{
    Check, CheckKind, CheckReport, NodeId, NodeStatus, Observation, Phases, SimDuration, SimTime,
    Simulation, Violation,
};
use sim_raft::Role;

use super::CheckParams;
use crate::config::{Config, ServiceMode};
use crate::machine::LockMachine;
use crate::node::LockNode;
use crate::server::RaftServer;

/// The most differing locks or holdings a violation lists.
const LISTED_MAX: usize = 4;

/// `lock.converged`.
pub struct Converged {
    config: Arc<Config>,
    within: SimDuration,
    release_within: SimDuration,
    quiet_start: Option<SimTime>,
    /// The leader (its node) known to all, its term, since when, and its commit index then.
    agreed: Option<(NodeId, u64, SimTime, u64)>,
    /// When every live server first reached that index under that leader.
    converged: Option<(SimTime, NodeId, u64, u64)>,
    /// Per server, the applied index its machine was last compared at.
    compared_at: BTreeMap<NodeId, u64>,
    comparisons: u64,
    mismatch: Option<Violation>,
}

impl Converged {
    pub const NAME: &'static str = "lock.converged";

    pub fn new(config: Arc<Config>, params: &CheckParams) -> Self {
        Converged {
            config,
            within: params.converge_within,
            release_within: params.release_within,
            quiet_start: None,
            agreed: None,
            converged: None,
            compared_at: BTreeMap::new(),
            comparisons: 0,
            mismatch: None,
        }
    }

    /// The live servers' replicas, by node.
    fn live<'a>(
        &self,
        sim: &'a Simulation<LockNode>,
    ) -> impl Iterator<Item = (NodeId, &'a RaftServer)> + 'a {
        let servers = self.config.servers.clone();
        servers.into_iter().filter_map(move |n| {
            let up = sim.status(n) == NodeStatus::Up;
            let server = sim.process(n).and_then(LockNode::raft_server);
            server.filter(|_| up).map(|s| (n, s))
        })
    }

    /// The leader (node) every live server follows in one term, and that term.
    fn common_leader(&self, sim: &Simulation<LockNode>) -> Option<(NodeId, u64)> {
        let mut live = self.live(sim);
        let (first_node, first) = live.next()?;
        let raft = first.raft();
        let term = raft.term();
        let leader = match raft.role() {
            Role::Leader => first_node,
            _ => *self.config.servers.get(raft.leader()?.index())?,
        };
        let agree = |node: NodeId, s: &RaftServer| {
            let r = s.raft();
            r.term() == term
                && match r.role() {
                    Role::Leader => node == leader,
                    _ => {
                        r.leader().and_then(|l| self.config.servers.get(l.index())) == Some(&leader)
                    }
                }
        };
        if !agree(first_node, first) || !live.all(|(n, s)| agree(n, s)) {
            return None;
        }
        let leads = sim.status(leader) == NodeStatus::Up
            && sim
                .process(leader)
                .and_then(LockNode::raft_server)
                .is_some_and(|s| s.raft().role() == Role::Leader);
        leads.then_some((leader, term))
    }

    fn track(&mut self, sim: &Simulation<LockNode>, obs: &Observation<'_, LockNode>) {
        if matches!(obs, Observation::QuietPhase) && self.quiet_start.is_none() {
            self.quiet_start = Some(sim.now());
        }
        if self.quiet_start.is_none() {
            return;
        }
        let Some((leader, term)) = self.common_leader(sim) else {
            self.agreed = None;
            return;
        };
        let leader_raft = sim
            .process(leader)
            .and_then(LockNode::raft_server)
            .map(RaftServer::raft);
        let Some(leader_raft) = leader_raft else {
            return;
        };
        if self
            .agreed
            .is_none_or(|(l, t, ..)| (l, t) != (leader, term))
        {
            self.agreed = Some((leader, term, sim.now(), leader_raft.commit_index()));
        }
        if let Observation::Handled { node, .. } = *obs {
            self.compare(sim, node, leader);
        }
        if self.converged.is_some() {
            return;
        }
        let target = self.agreed.map_or(0, |(.., target)| target);
        let caught_up = self
            .live(sim)
            .all(|(_, s)| s.raft().commit_index() >= target && s.raft().last_applied() >= target);
        if caught_up {
            self.converged = Some((sim.now(), leader, term, target));
        }
    }

    /// Compares `node`'s machine with the leader's when both applied the same prefix.
    fn compare(&mut self, sim: &Simulation<LockNode>, node: NodeId, leader: NodeId) {
        if node == leader || self.mismatch.is_some() {
            return;
        }
        let server = |n: NodeId| sim.process(n).and_then(LockNode::raft_server);
        let (Some(s), Some(l)) = (server(node), server(leader)) else {
            return;
        };
        let index = s.raft().last_applied();
        if index != l.raft().last_applied() || index == 0 {
            return;
        }
        if self.compared_at.insert(node, index) == Some(index) {
            return;
        }
        self.comparisons += 1;
        let (mine, theirs) = (s.raft().kv(), l.raft().kv());
        if mine != theirs {
            self.mismatch = Some(Violation {
                time: sim.now(),
                message: format!(
                    "{node} and the leader {leader} (term {}) both applied up to index {index}, \
                     but their lock machines differ: {}",
                    l.raft().term(),
                    differences(mine, theirs)
                ),
            });
        }
    }

    /// Locks held at the end by sessions that are gone, in the leader's machine.
    fn stale_holdings(&self, sim: &Simulation<LockNode>, end: SimTime) -> Result<u64, Violation> {
        let Some((leader, term, since, _)) = self.agreed else {
            return Ok(0);
        };
        if end.saturating_since(since) < self.release_within {
            return Ok(0);
        }
        let Some(server) = sim.process(leader).and_then(LockNode::raft_server) else {
            return Ok(0);
        };
        let now = sim.clock(leader).local(sim.now());
        let machine = server.raft().kv();
        let mut judged = 0;
        let mut stale = Vec::new();
        for (lock, session, _, token) in machine.holdings() {
            judged += 1;
            match machine.sessions().get(&session) {
                None => stale.push(format!(
                    "{lock} (token {token}) is held by session {session}, which no longer exists"
                )),
                Some(s) if s.expires_at.saturating_add(self.release_within) < now => {
                    stale.push(format!(
                        "{lock} (token {token}) is held by session {session} of client {}, \
                         whose deadline t={} passed {} before, by the leader's clock",
                        s.node,
                        s.expires_at,
                        now.saturating_since(s.expires_at)
                    ))
                }
                Some(_) => {}
            }
        }
        if stale.is_empty() {
            return Ok(judged);
        }
        let more = stale.len().saturating_sub(LISTED_MAX);
        stale.truncate(LISTED_MAX);
        let more = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        Err(Violation {
            time: end,
            message: format!(
                "at the end, the leader {leader} (term {term}, leading since t={since}) still \
                 grants locks to sessions gone for more than release_within = {}: {}{more}",
                self.release_within,
                stale.join("; ")
            ),
        })
    }

    fn never_converged(&self, quiet: SimTime, deadline: SimTime) -> Violation {
        let how = match self.agreed {
            Some((leader, term, since, target)) => format!(
                "every live server follows {leader} in term {term} since t={since}, but some \
                 server has not committed and applied its commit index {target}"
            ),
            None => "the live servers never agreed on one term and one leader".into(),
        };
        Violation {
            time: deadline,
            message: format!(
                "the lock service did not converge within {} of the heal at t={quiet}: {how}",
                self.within
            ),
        }
    }

    fn report(&self, sim: &Simulation<LockNode>, phases: &Phases) -> CheckReport {
        let not_evaluated =
            |why: String| CheckReport::not_evaluated(Self::NAME, CheckKind::Eventually, why);
        if self.config.mode == ServiceMode::Majority {
            return not_evaluated(
                "the majority lock's servers are independent: there is no replicated state to agree on"
                    .into(),
            );
        }
        let Some(quiet) = phases.quiet_start.or(self.quiet_start) else {
            return not_evaluated("the run has no quiet phase to judge it in".into());
        };
        let mut report = CheckReport {
            name: Self::NAME.into(),
            kind: CheckKind::Eventually,
            violation: None,
            figures: vec![("machines compared".into(), self.comparisons.to_string())],
            not_evaluated: None,
        };
        if let Some(mismatch) = &self.mismatch {
            report.violation = Some(mismatch.clone());
            return report;
        }
        let deadline = quiet.saturating_add(self.within);
        match self.converged {
            Some((at, leader, term, target)) if at <= deadline => report.figures.push((
                "converged".into(),
                format!(
                    "under {leader} in term {term} at index {target}, {} after the heal",
                    super::millis(at.saturating_since(quiet))
                ),
            )),
            Some((at, leader, term, target)) => {
                report.violation = Some(Violation {
                    time: at,
                    message: format!(
                        "the live servers first agreed on {leader} in term {term} and reached \
                         its commit index {target} {} after the faults healed at t={quiet}; the \
                         bound is {}",
                        at.saturating_since(quiet),
                        self.within
                    ),
                });
                return report;
            }
            None if phases.end < deadline => {
                return not_evaluated(format!(
                    "the run ended {} after the heal, before the bound of {} and before the \
                     service converged",
                    phases.end.saturating_since(quiet),
                    self.within
                ));
            }
            None => {
                report.violation = Some(self.never_converged(quiet, deadline));
                return report;
            }
        }
        match self.stale_holdings(sim, phases.end) {
            Ok(judged) => report
                .figures
                .push(("holdings judged at the end".into(), judged.to_string())),
            Err(v) => report.violation = Some(v),
        }
        report
    }
}

/// The locks (and other parts) on which two machines differ, in words.
fn differences(a: &LockMachine, b: &LockMachine) -> String {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        a.locks().keys().chain(b.locks().keys()).collect();
    for name in names {
        let (x, y) = (a.locks().get(name), b.locks().get(name));
        if x != y {
            out.push(format!(
                "lock {name}: holders {:?} vs {:?}",
                x.map(|l| &l.holders),
                y.map(|l| &l.holders)
            ));
        }
    }
    if a.sessions() != b.sessions() {
        out.push(format!(
            "{} vs {} sessions",
            a.sessions().len(),
            b.sessions().len()
        ));
    }
    if a.counter() != b.counter() {
        out.push(format!("counter {} vs {}", a.counter(), b.counter()));
    }
    if out.is_empty() {
        out.push("the clients' latest answers".into());
    }
    out.truncate(LISTED_MAX);
    out.join("; ")
}

impl Check<LockNode> for Converged {
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
        if self.config.mode == ServiceMode::Raft {
            self.track(sim, obs);
        }
        None
    }

    fn finish(&mut self, sim: &Simulation<LockNode>, phases: &Phases) -> CheckReport {
        self.report(sim, phases)
    }
}
