//! Raft's convergence checks: after the faults heal, the cluster settles and stays settled.
//!
//! - `raft.converged` (eventually): after the heal, at one instant, every live node is in one
//!   term and follows one leader, which leads that term, every live node has the same commit
//!   index and the same applied index, and their state machines are identical (compared by
//!   value). The instant must come within `converge_within` of the heal; under client load, whose
//!   writes keep the leader's commit index a step ahead of its followers', it may not come until
//!   the clients stop (`workload.stop_at`, or `max_ops`), and then it must come within
//!   `converge_within` of that. Also, within `converge_within` of the heal, every live node must
//!   have caught up: committed and applied at least the index the leader had committed when it
//!   became known to all (so a node that silently stays behind fails even under load).
//!   Throughout the quiet phase, whenever a node has applied exactly as far as the leader, their
//!   state machines must be identical: a snapshot or an apply that lost a write fails. A run
//!   whose nodes caught up under load, but whose clients never stopped early enough to leave
//!   `converge_within` of the run, gives no instant to judge: `not evaluated`, saying so.
//! - `raft.stable_leader` (always): once the cluster has converged in the quiet phase and then
//!   followed one leader for a whole election timeout (so that no timer armed before or by the
//!   heal is left), no node starts an election (pre-vote or vote) while the network is calm: at most
//!   `max_quiet_elections` (default 0; a scenario whose base network drops messages may allow
//!   some).
//! - `raft.elections_bounded` (always): between the moment every fault has healed and the next
//!   fault (a calm stretch, the run's start included), at most `elections_per_fault` elections
//!   (terms some node stood for; split votes among several candidates of a term count once), so a cluster that keeps re-electing fails even when it happens to elect a
//!   leader in the end, and even in the fault phase.
//!
//! - `raft.commit_monotonic` (always): a process's commit index and applied index never go
//!   back (§5.3: commitIndex "increases monotonically"); a restart starts a new process.
//!
//! None of them judges a run that gave it nothing to judge: no quiet phase, or a quiet phase
//! that ended before the bound with the cluster not yet converged, is `not evaluated`.

use sim_core::{
    Check, CheckKind, CheckReport, NodeId, NodeStatus, Observation, Phases, SimDuration, SimTime,
    Simulation, Violation,
};

use crate::coverage::{CoverageTally, SharedCoverage};
use crate::kv::KvStore;
use crate::node::{RaftEvent, RaftNode, Role};

/// Every convergence check's name.
pub const NAMES: [&str; 4] = [
    Converged::NAME,
    StableLeader::NAME,
    ElectionsBounded::NAME,
    CommitMonotonic::NAME,
];

/// The convergence part of a scenario's `[checks]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvergenceParams {
    pub converge_within: SimDuration,
    pub max_quiet_elections: u64,
    pub elections_per_fault: u64,
}

impl Default for ConvergenceParams {
    fn default() -> Self {
        ConvergenceParams {
            converge_within: SimDuration::from_secs(8),
            max_quiet_elections: 0,
            elections_per_fault: 12,
        }
    }
}

/// The convergence checks of one run.
/// `coverage` is filled as the run goes, for the suite's figures.
pub fn checks(
    params: &ConvergenceParams,
    coverage: SharedCoverage,
) -> Vec<Box<dyn Check<RaftNode>>> {
    vec![
        Box::new(Converged::new(params.converge_within)),
        Box::new(StableLeader::new(
            params.max_quiet_elections,
            params.converge_within,
        )),
        Box::new(ElectionsBounded {
            per_fault: params.elections_per_fault,
            base_network: None,
            calm_since: None,
            in_stretch: 0,
            last_term: 0,
            stretches: 0,
            most_in_a_stretch: 0,
            candidacies: 0,
            violation: None,
            coverage: CoverageTally::new(coverage),
        }),
        Box::new(CommitMonotonic {
            last: Vec::new(),
            violation: None,
        }),
    ]
}

/// Every live node (up and running a process) with its process.
fn live(sim: &Simulation<RaftNode>) -> impl Iterator<Item = (NodeId, &RaftNode)> {
    sim.node_ids()
        .filter(|&n| sim.status(n) == NodeStatus::Up)
        .filter_map(|n| sim.process(n).map(|p| (n, p)))
}

/// The leader every live node follows in its term, if there is one.
fn common_leader(sim: &Simulation<RaftNode>) -> Option<(NodeId, u64)> {
    let mut live = live(sim);
    let (_, first) = live.next()?;
    let term = first.term();
    let leader = first
        .leader()
        .or_else(|| (first.role() == Role::Leader).then(|| first.id()))?;
    let agree = |p: &RaftNode| {
        p.term() == term
            && match p.role() {
                Role::Leader => p.id() == leader,
                _ => p.leader() == Some(leader),
            }
    };
    if !agree(first) || !live.all(|(_, p)| agree(p)) {
        return None;
    }
    let led = sim
        .process(leader)
        .is_some_and(|p| sim.status(leader) == NodeStatus::Up && p.role() == Role::Leader);
    led.then_some((leader, term))
}

/// What the convergence check tracks through the quiet phase.
#[derive(Debug, Clone)]
struct Converged {
    within: SimDuration,
    quiet_start: Option<SimTime>,
    /// The leader known to all, its term, since when, and its commit index then: the target.
    agreed: Option<(NodeId, u64, SimTime, u64)>,
    /// When every live node reached the target under that leader.
    converged: Option<(SimTime, NodeId, u64, u64)>,
    /// Until then, as of the latest step within the bound: each live node short of the target,
    /// with its commit and applied index.
    behind: Vec<(NodeId, u64, u64)>,
    /// The first instant of full agreement: one leader and term, one commit index and one
    /// applied index on every live node, identical state machines.
    agreement: Option<Agreement>,
    /// Since when the clients are done (none outstanding, none to come), if they are.
    clients_done: Option<SimTime>,
    /// State machines compared at equal applied indices, and the first that differed.
    comparisons: u64,
    mismatch: Option<Violation>,
}

impl Converged {
    const NAME: &'static str = "raft.converged";

    fn new(within: SimDuration) -> Self {
        Converged {
            within,
            quiet_start: None,
            agreed: None,
            converged: None,
            behind: Vec::new(),
            agreement: None,
            clients_done: None,
            comparisons: 0,
            mismatch: None,
        }
    }

    /// Follows the quiet phase; returns true on the step every live node first caught up.
    fn track(&mut self, sim: &Simulation<RaftNode>, obs: &Observation<'_, RaftNode>) -> bool {
        if matches!(obs, Observation::QuietPhase) && self.quiet_start.is_none() {
            self.quiet_start = Some(sim.now());
        }
        if self.quiet_start.is_none() {
            return false;
        }
        if self.clients_done.is_none() && self.agreement.is_none() {
            let done = sim_kv::kv_workload(sim).is_none_or(|w| w.engine().finished());
            if done {
                self.clients_done = Some(sim.now());
            }
        }
        let Some((leader, term)) = common_leader(sim) else {
            self.agreed = None;
            return false;
        };
        if self
            .agreed
            .is_none_or(|(l, t, ..)| (l, t) != (leader, term))
        {
            let commit = sim.process(leader).map_or(0, |p| p.commit_index());
            self.agreed = Some((leader, term, sim.now(), commit));
        }
        if let Observation::Handled { node, .. } = *obs {
            self.compare(sim, node, leader);
        }
        if self.agreement.is_none() {
            self.agree(sim, leader, term);
        }
        if self.converged.is_some() {
            return false;
        }
        let (_, _, _, target) = self.agreed.unwrap_or((leader, term, sim.now(), 0));
        let caught_up =
            live(sim).all(|(_, p)| p.commit_index() >= target && p.last_applied() >= target);
        if caught_up {
            self.converged = Some((sim.now(), leader, term, target));
        } else if self
            .quiet_start
            .is_some_and(|q| sim.now() <= q.saturating_add(self.within))
        {
            self.behind = live(sim)
                .filter(|(_, p)| p.commit_index() < target || p.last_applied() < target)
                .map(|(n, p)| (n, p.commit_index(), p.last_applied()))
                .collect();
        }
        caught_up
    }

    /// Records the first instant at which every live node has the leader's commit and applied
    /// index and its state machine; one that differs at the same applied index is a violation.
    fn agree(&mut self, sim: &Simulation<RaftNode>, leader: NodeId, term: u64) {
        let Some(l) = sim.process(leader) else {
            return;
        };
        let (commit, applied) = (l.commit_index(), l.last_applied());
        if !live(sim).all(|(_, p)| p.commit_index() == commit && p.last_applied() == applied) {
            return;
        }
        let differs = live(sim).find(|(_, p)| p.kv() != l.kv());
        if let Some((node, p)) = differs {
            if self.mismatch.is_none() {
                self.mismatch = Some(Violation {
                    time: sim.now(),
                    message: format!(
                        "{node} and the leader {leader} (term {term}) both committed {commit} and \
                         applied up to index {applied}, but their state machines differ: {}",
                        differ(node, p.kv(), leader, l.kv())
                    ),
                });
            }
            return;
        }
        self.agreement = Some(Agreement {
            at: sim.now(),
            leader,
            term,
            commit,
            applied,
            nodes: live(sim).count(),
        });
    }

    /// Compares `node`'s state machine with the leader's when both applied the same prefix.
    fn compare(&mut self, sim: &Simulation<RaftNode>, node: NodeId, leader: NodeId) {
        if node == leader || self.mismatch.is_some() {
            return;
        }
        let (Some(p), Some(l)) = (sim.process(node), sim.process(leader)) else {
            return;
        };
        if p.last_applied() != l.last_applied() || p.last_applied() == 0 {
            return;
        }
        self.comparisons += 1;
        if p.kv() != l.kv() {
            let index = p.last_applied();
            self.mismatch = Some(Violation {
                time: sim.now(),
                message: format!(
                    "{node} and the leader {leader} (term {}) both applied up to index {index}, \
                     but their state machines differ: {}",
                    l.term(),
                    differ(node, p.kv(), leader, l.kv())
                ),
            });
        }
    }

    fn report(&self, phases: &Phases) -> CheckReport {
        let Some(quiet) = phases.quiet_start.or(self.quiet_start) else {
            return CheckReport::not_evaluated(
                Self::NAME,
                CheckKind::Eventually,
                "the run has no quiet phase to judge it in",
            );
        };
        let mut report = CheckReport {
            name: Self::NAME.into(),
            kind: CheckKind::Eventually,
            violation: None,
            figures: vec![(
                "state machines compared".into(),
                self.comparisons.to_string(),
            )],
            not_evaluated: None,
        };
        if let Some(mismatch) = &self.mismatch {
            report.violation = Some(mismatch.clone());
            return report;
        }
        let deadline = quiet.saturating_add(self.within);
        match self.converged {
            Some((at, leader, term, target)) if at <= deadline => {
                report.figures.push((
                    "caught up".into(),
                    format!(
                        "under {leader} in term {term} to index {target}, {} after the heal",
                        at.saturating_since(quiet)
                    ),
                ));
                return self.judge_agreement(report, quiet, phases.end);
            }
            Some((at, leader, term, target)) => {
                report.violation = Some(Violation {
                    time: at,
                    message: format!(
                        "the live nodes first agreed on {leader} in term {term} and reached its \
                         commit index {target} {} after the faults healed at t={quiet}; the \
                         bound is {}",
                        at.saturating_since(quiet),
                        self.within
                    ),
                });
            }
            None if phases.end < deadline => {
                return CheckReport::not_evaluated(
                    Self::NAME,
                    CheckKind::Eventually,
                    format!(
                        "the run ended {} after the heal, before the bound of {} and before the \
                         cluster converged",
                        phases.end.saturating_since(quiet),
                        self.within
                    ),
                );
            }
            None => report.violation = Some(self.never_converged(quiet, deadline)),
        }
        report
    }
}

/// Two state machines that differ, told by their digests and sizes.
fn differ(node: NodeId, machine: &KvStore, leader: NodeId, leaders: &KvStore) -> String {
    format!(
        "{node} has digest {} ({} keys), {leader} has digest {} ({} keys)",
        digest(machine),
        machine.len(),
        digest(leaders),
        leaders.len()
    )
}

/// A state machine's digest: its contents folded field by field into the stable hash, as the
/// trace hash folds messages, so machines that differ show different digests.
pub fn digest(machine: &KvStore) -> String {
    let mut hasher = sim_core::hash::StableHasher::default();
    sim_core::hash::hash_value(&mut hasher, machine);
    format!("{:016x}", hasher.finish())
}

/// An instant at which every live node agreed exactly.
#[derive(Debug, Clone, Copy)]
struct Agreement {
    at: SimTime,
    leader: NodeId,
    term: u64,
    commit: u64,
    applied: u64,
    nodes: usize,
}

impl Converged {
    /// Every live node caught up in time; now the instant of exact agreement: within the bound
    /// of the heal, or of the clients' end when they stopped; no such window is not evaluated.
    fn judge_agreement(
        &self,
        mut report: CheckReport,
        quiet: SimTime,
        end: SimTime,
    ) -> CheckReport {
        let from_heal = quiet.saturating_add(self.within);
        let done = self.clients_done.map(|t| t.max(quiet));
        let from_done = done.map(|t| t.saturating_add(self.within));
        match (self.agreement, from_done) {
            (Some(a), bound) if a.at <= from_heal || bound.is_none_or(|b| a.at <= b) => {
                let after = match done {
                    Some(done) if a.at > from_heal => {
                        format!("{} after the clients stopped", a.at.saturating_since(done))
                    }
                    _ => format!("{} after the heal", a.at.saturating_since(quiet)),
                };
                report.figures.push((
                    "converged".into(),
                    format!(
                        "{} live nodes under {} in term {} at commit index {} and applied index \
                         {}, state machines identical, {after}",
                        a.nodes, a.leader, a.term, a.commit, a.applied
                    ),
                ));
                report
            }
            (_, Some(bound)) if bound <= end => {
                let when = self
                    .agreement
                    .map_or("never".into(), |a| format!("first at t={}", a.at));
                report.violation = Some(Violation {
                    time: bound,
                    message: format!(
                        "the clients were done at t={}, but within {} of that the live nodes \
                         never stood at one term, leader, commit index and applied index with \
                         identical state machines ({when})",
                        done.unwrap_or(quiet),
                        self.within
                    ),
                });
                report
            }
            _ => CheckReport::not_evaluated(
                Self::NAME,
                CheckKind::Eventually,
                format!(
                    "every live node caught up after the heal, but no instant with one commit \
                     and applied index on every live node came within {} of the heal, and the \
                     clients {}; stop them earlier (workload.stop_at) to judge it",
                    self.within,
                    match done {
                        Some(done) => format!(
                            "were done only at t={done}, less than {} before the run's end",
                            self.within
                        ),
                        None => "kept submitting to the end".into(),
                    }
                ),
            ),
        }
    }

    /// The violation of a cluster that never converged by `deadline`.
    fn never_converged(&self, quiet: SimTime, deadline: SimTime) -> Violation {
        let how = match self.agreed {
            Some((leader, term, since, target)) => {
                let behind: Vec<String> = self
                    .behind
                    .iter()
                    .map(|(n, commit, applied)| {
                        format!("{n} (commit index {commit}, applied {applied})")
                    })
                    .collect();
                format!(
                    "every live node follows {leader} in term {term} since t={since}, but {} \
                     had not committed and applied {leader}'s commit index of then, {target}, \
                     by t={deadline}",
                    if behind.is_empty() {
                        "some node".to_string()
                    } else {
                        behind.join(" and ")
                    }
                )
            }
            None => "the live nodes never agreed on one term and one leader".into(),
        };
        Violation {
            time: deadline,
            message: format!(
                "the cluster did not converge within {} of the heal at t={quiet}: {how}",
                self.within
            ),
        }
    }
}

impl Check<RaftNode> for Converged {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        self.track(sim, obs);
        None
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, phases: &Phases) -> CheckReport {
        self.report(phases)
    }
}

/// No elections in the quiet phase once the cluster converged.
struct StableLeader {
    allowed: u64,
    converged: Converged,
    /// The leader every live node has followed, in its term, since when; once that has lasted
    /// a whole election timeout (`settled`), the cluster is stable.
    following: Option<(NodeId, u64, SimTime)>,
    settled: Option<(NodeId, u64, SimTime)>,
    /// Elections started once the cluster was stable: time, node, term.
    elections: Vec<(SimTime, NodeId, u64)>,
    violation: Option<Violation>,
}

impl StableLeader {
    const NAME: &'static str = "raft.stable_leader";

    fn new(allowed: u64, within: SimDuration) -> Self {
        StableLeader {
            allowed,
            converged: Converged::new(within),
            following: None,
            settled: None,
            elections: Vec::new(),
            violation: None,
        }
    }

    /// Whether the cluster is stable: converged, then every live node followed one leader in
    /// one term for the longest election timeout of any live node. Until then an election may
    /// still be the heal's own doing (a clock set right at the heal fires a timer at once; a
    /// node unpaused at the heal finds its timer expired), which `raft.elections_bounded`
    /// bounds; after it, every election timer has been reset by that leader at least once.
    fn settle(&mut self, sim: &Simulation<RaftNode>) -> Option<(NodeId, u64, SimTime)> {
        if self.settled.is_some() || self.converged.converged.is_none() {
            return self.settled;
        }
        let Some((leader, term)) = common_leader(sim) else {
            self.following = None;
            return None;
        };
        let now = sim.now();
        let since = match self.following {
            Some((l, t, since)) if (l, t) == (leader, term) => since,
            _ => {
                self.following = Some((leader, term, now));
                now
            }
        };
        let timeout = live(sim)
            .map(|(_, p)| p.config().election_timeout_max)
            .max()
            .unwrap_or(SimDuration::ZERO);
        if now.saturating_since(since) > timeout {
            self.settled = Some((leader, term, since));
        }
        self.settled
    }
}

impl Check<RaftNode> for StableLeader {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        self.converged.track(sim, obs);
        let (leader, term, since) = self.settle(sim)?;
        let Observation::Handled { node, events } = *obs else {
            return None;
        };
        for event in events {
            let started = match *event {
                RaftEvent::BecameCandidate { term } => term,
                RaftEvent::BecamePreCandidate { term } => term,
                _ => continue,
            };
            self.elections.push((sim.now(), node, started));
            if self.elections.len() as u64 > self.allowed && self.violation.is_none() {
                self.violation = Some(Violation {
                    time: sim.now(),
                    message: format!(
                        "{node} started an election from term {started} at t={}, although every \
                         live node had followed {leader} in term {term} since t={since}, for more \
                         than an election timeout, with no fault in force ({} elections since, \
                         {} allowed)",
                        sim.now(),
                        self.elections.len(),
                        self.allowed
                    ),
                });
                return self.violation.clone();
            }
        }
        None
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, phases: &Phases) -> CheckReport {
        if self.converged.converged.is_none() {
            let why = if phases.quiet_start.is_none() {
                "the run has no quiet phase"
            } else {
                "the cluster never converged in the quiet phase (raft.converged judges that)"
            };
            return CheckReport::not_evaluated(Self::NAME, CheckKind::Always, why);
        }
        let Some((leader, term, since)) = self.settled else {
            return CheckReport::not_evaluated(
                Self::NAME,
                CheckKind::Always,
                "after converging, the cluster never kept one leader for a whole election \
                 timeout (raft.elections_bounded judges re-elections)",
            );
        };
        CheckReport {
            name: Self::NAME.into(),
            kind: CheckKind::Always,
            violation: self.violation.clone(),
            figures: vec![
                (
                    "stable under".into(),
                    format!("{leader} in term {term} from t={since}"),
                ),
                (
                    "elections once stable".into(),
                    self.elections.len().to_string(),
                ),
            ],
            not_evaluated: None,
        }
    }
}

/// At most `per_fault` elections in each calm stretch: from a moment every fault is healed (all
/// nodes up and unpaused, every link up, the network and the clocks as the run began) to the next
/// fault. Elections while a fault is in force are the fault's business (a node cut off keeps
/// standing for election without pre-vote); once it heals, the cluster should need only a few.
struct ElectionsBounded {
    per_fault: u64,
    /// The network as the run began, to tell a degraded one.
    base_network: Option<sim_core::NetworkConfig>,
    /// Since when the current calm stretch lasts, and its elections so far: the terms some node
    /// stood for (several candidates of one term are one election).
    calm_since: Option<SimTime>,
    in_stretch: u64,
    last_term: u64,
    stretches: u64,
    most_in_a_stretch: u64,
    candidacies: u64,
    violation: Option<Violation>,
    /// Coverage counts, kept here because this check sees every observation.
    coverage: CoverageTally,
}

impl ElectionsBounded {
    const NAME: &'static str = "raft.elections_bounded";

    fn calm(&mut self, sim: &Simulation<RaftNode>) -> bool {
        let base = self
            .base_network
            .get_or_insert_with(|| sim.network().clone());
        sim.reachability().is_full()
            && sim.network() == base
            && sim.node_ids().all(|n| {
                sim.status(n) == NodeStatus::Up && sim.clock(n) == sim_core::Clock::default()
            })
    }
}

impl Check<RaftNode> for ElectionsBounded {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        self.coverage.observe(sim, obs);
        let Observation::Handled { node, events } = *obs else {
            // A fault or a heal: the calm stretch ends, or a new one begins.
            let calm = self.calm(sim);
            match (calm, self.calm_since) {
                (true, None) => {
                    self.calm_since = Some(sim.now());
                    self.in_stretch = 0;
                    self.last_term = 0;
                    self.stretches += 1;
                }
                (false, Some(_)) => self.calm_since = None,
                _ => {}
            }
            return None;
        };
        if self.base_network.is_none() && self.calm(sim) {
            // The first step of the run: it starts calm.
            self.calm_since = Some(sim.now());
            self.stretches += 1;
        }
        for event in events {
            let RaftEvent::BecameCandidate { term } = *event else {
                continue;
            };
            self.candidacies += 1;
            let Some(since) = self.calm_since else {
                continue;
            };
            if term <= self.last_term {
                continue;
            }
            self.last_term = term;
            self.in_stretch += 1;
            self.most_in_a_stretch = self.most_in_a_stretch.max(self.in_stretch);
            if self.in_stretch > self.per_fault && self.violation.is_none() {
                self.violation = Some(Violation {
                    time: sim.now(),
                    message: format!(
                        "{node} became a candidate in term {term}: election number {} (by term) \
                         since every fault healed at t={since} (no fault in force since), more \
                         than the {} allowed",
                        self.in_stretch, self.per_fault
                    ),
                });
                return self.violation.clone();
            }
        }
        None
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        CheckReport {
            name: Self::NAME.into(),
            kind: CheckKind::Always,
            violation: self.violation.clone(),
            figures: vec![
                ("elections".into(), self.candidacies.to_string()),
                ("calm stretches".into(), self.stretches.to_string()),
                (
                    "most in one stretch".into(),
                    self.most_in_a_stretch.to_string(),
                ),
                ("bound".into(), self.per_fault.to_string()),
            ],
            not_evaluated: None,
        }
    }
}

/// A process's commit and applied indices never decrease.
struct CommitMonotonic {
    /// Per node, the latest (commit index, applied index) of its current process.
    last: Vec<Option<(u64, u64)>>,
    violation: Option<Violation>,
}

impl CommitMonotonic {
    const NAME: &'static str = "raft.commit_monotonic";
}

impl Check<RaftNode> for CommitMonotonic {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }
    fn observe(
        &mut self,
        sim: &Simulation<RaftNode>,
        obs: &Observation<'_, RaftNode>,
    ) -> Option<Violation> {
        if self.last.len() < sim.node_count() {
            self.last.resize(sim.node_count(), None);
        }
        let node = match *obs {
            Observation::Handled { node, .. } => node,
            Observation::Node { node, change } => {
                if matches!(
                    change,
                    sim_core::NodeChange::Crashed | sim_core::NodeChange::Restarted
                ) {
                    self.last[node.index()] = None;
                }
                return None;
            }
            _ => return None,
        };
        let p = sim.process(node)?;
        let now = (p.commit_index(), p.last_applied());
        let before = self.last[node.index()].replace(now);
        if self.violation.is_some() {
            return None;
        }
        let (commit, applied) = before?;
        let what = if now.0 < commit {
            format!("commit index from {commit} to {}", now.0)
        } else if now.1 < applied {
            format!("applied index from {applied} to {}", now.1)
        } else {
            return None;
        };
        self.violation = Some(Violation {
            time: sim.now(),
            message: format!(
                "{node} (term {}) moved its {what} without a restart",
                p.term()
            ),
        });
        self.violation.clone()
    }
    fn finish(&mut self, _: &Simulation<RaftNode>, _: &Phases) -> CheckReport {
        CheckReport {
            name: Self::NAME.into(),
            kind: CheckKind::Always,
            violation: self.violation.clone(),
            figures: Vec::new(),
            not_evaluated: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use sim_core::{CheckReport, NodeId, SimConfig, SimDuration, SimTime, Trace};
    use sim_kv::{KvWorkload, WorkloadParams};
    use sim_runner::Cluster;

    use super::{checks, ConvergenceParams};
    use crate::params::RaftConfig;
    use crate::RaftSuite;

    fn at(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    /// Three nodes with pre-vote and check-quorum, three clients that stop at 4s, and the
    /// convergence checks alone (a bound of 2s); the quiet phase starts at 3s.
    fn cluster(seed: u64) -> Cluster<RaftSuite> {
        let config = RaftConfig {
            pre_vote: true,
            check_quorum: true,
            ..RaftConfig::default()
        };
        let params = WorkloadParams {
            clients: 3,
            stop_at: Some(SimDuration::from_secs(4)),
            ..WorkloadParams::default()
        };
        let convergence = ConvergenceParams {
            converge_within: SimDuration::from_secs(2),
            ..ConvergenceParams::default()
        };
        let mut cluster = Cluster::with_parts(
            RaftSuite::with_config(config, 3),
            SimConfig::new(seed, 3),
            Trace::default(),
            Some(Box::new(KvWorkload::new(params, 3))),
            checks(&convergence, Default::default()),
        );
        cluster.start();
        cluster.run_until(at(3));
        cluster.quiet_phase();
        cluster
    }

    fn converged(reports: &[CheckReport]) -> &CheckReport {
        let found = reports.iter().find(|r| r.name == "raft.converged");
        found.expect("raft.converged reports")
    }

    /// A calm cluster: one instant with every node at one commit and applied index and
    /// identical state machines, named in the figures.
    #[test]
    fn a_calm_cluster_agrees_exactly_on_one_index() {
        for seed in 0..3 {
            let mut cluster = cluster(seed);
            cluster.run_until(at(10));
            let finished = cluster.finish();
            let report = converged(&finished.checks);
            assert!(report.held(), "seed {seed}: {report:?}");
            let figure = report.figures.iter().find(|(name, _)| name == "converged");
            let (_, text) = figure.expect("the instant of agreement");
            let indices: Vec<&str> = text
                .split(' ')
                .skip_while(|w| *w != "commit")
                .map(|w| w.trim_end_matches(','))
                .filter(|w| w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty())
                .collect();
            assert_eq!(indices.len(), 2, "{text}");
            assert_eq!(indices[0], indices[1], "{text}");
            assert!(text.contains("3 live nodes"), "{text}");
        }
    }

    /// The judgement once every node caught up in time: an instant of agreement passes; none,
    /// with the clients done `within` before the end, fails; none, with clients that kept
    /// submitting, is not evaluated.
    #[test]
    fn without_an_instant_of_agreement_the_clients_decide_fail_or_not_evaluated() {
        let phases = sim_core::Phases {
            quiet_start: Some(at(10)),
            end: at(30),
        };
        let mut check = super::Converged::new(SimDuration::from_secs(5));
        check.quiet_start = Some(at(10));
        check.converged = Some((at(11), NodeId(0), 2, 40));
        let report = check.report(&phases);
        let why = report.not_evaluated.as_deref().unwrap_or("");
        assert!(report.violation.is_none(), "{report:?}");
        assert!(why.contains("kept submitting to the end"), "{report:?}");

        check.clients_done = Some(at(20));
        let report = check.report(&phases);
        let violation = report
            .violation
            .expect("no agreement after the clients stopped");
        assert_eq!(violation.time, at(25));
        assert!(violation.message.contains("done at t=20s"), "{violation:?}");

        check.clients_done = Some(at(27));
        let report = check.report(&phases);
        assert!(report.not_evaluated.is_some(), "{report:?}");

        check.agreement = Some(super::Agreement {
            at: at(26),
            leader: NodeId(0),
            term: 2,
            commit: 50,
            applied: 50,
            nodes: 3,
        });
        assert!(check.report(&phases).held());
        check.clients_done = Some(at(20));
        let late = check.report(&phases).violation.expect("agreement too late");
        assert!(late.message.contains("first at t=26s"), "{late:?}");
    }

    /// A follower cut off right after the heal stays behind while the others go on (pre-vote
    /// keeps it from disturbing them): no instant of agreement comes, the clients stop, and the
    /// check fails within its bound rather than passing on the nodes that did agree.
    #[test]
    fn a_node_that_stays_behind_fails_the_check() {
        for seed in 0..3 {
            let mut cluster = cluster(seed);
            let leader = cluster.nodes_with_role("leader");
            let behind = (0..3)
                .map(NodeId)
                .find(|n| !leader.contains(n))
                .expect("a follower");
            cluster.isolate(behind);
            cluster.run_until(at(10));
            let finished = cluster.finish();
            let report = converged(&finished.checks);
            let violation = report.violation.as_ref();
            assert!(violation.is_some(), "seed {seed}: {report:?}");
            let message = &violation.expect("a violation").message;
            assert!(message.contains("within 2s of the heal"), "{message}");
        }
    }
}
