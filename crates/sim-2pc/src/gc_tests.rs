//! One test per rule by which the family keeps its memory flat (see ARCHITECTURE.md, "Long
//! runs"): each shows that what is forgotten or compacted still gives the right answer to a
//! late question, and the last drives a long faulty run and counts what is retained.

use std::rc::Rc;
use std::sync::Arc;

use sim_core::testing::Harness;
use sim_core::{
    Check, ClusterInfo, NodeChange, NodeId, Observation, RequestId, SimConfig, SimDuration,
    SimTime, Suite, Trace,
};
use sim_runner::Cluster;

use crate::checks::{Tracker, Which};
use crate::config::{Config, Params};
use crate::convergence::Converged;
use crate::coordinator::Coordinator;
use crate::decisions::CHUNK;
use crate::node::TxnNode;
use crate::participant::Participant;
use crate::suite::{CheckParams, TxnSuite};
use crate::tests::{txn, C, P2, P3};
use crate::types::{Msg, Outcome, Priority, Step, TxnEvent, TxnOp, TxnReply, TxnRequest};
use crate::workload::WorkloadParams;

/// The shared configuration, without planted bugs.
fn config() -> Arc<Config> {
    crate::tests::config(&[])
}

fn read_prepare(seq: u64) -> Msg {
    Msg::Prepare {
        txn: txn(seq),
        priority: Priority {
            started: SimTime(seq),
            txn: txn(seq),
        },
        steps: vec![Step::Read { account: 0 }],
        participants: vec![P2, P3],
    }
}

fn vote(h: &Harness<TxnNode>) -> Option<bool> {
    h.outputs().sends.iter().find_map(|(_, m)| match m {
        Msg::Vote { yes, .. } => Some(*yes),
        _ => None,
    })
}

/// The compact decision table: thousands of transactions (over several disk chunks), committed
/// and aborted, a crash; then late prepares and a peer's question about the oldest ones are
/// answered from the decision, as with one record per transaction, and nothing is prepared
/// again. The disk holds one record per chunk.
#[test]
fn late_questions_about_old_decisions_get_the_decision_after_a_crash() {
    let mut h = Harness::new(TxnNode::Participant(Participant::new(config())), P2, 3, 1);
    h.start();
    let n = 2 * CHUNK + 10;
    for seq in 1..=n {
        if seq.is_multiple_of(3) {
            // Asked by a peer before any prepare: aborts, and records it (forced).
            h.deliver(P3, Msg::Inquire { txn: txn(seq) });
        } else {
            h.deliver(C, read_prepare(seq));
            assert_eq!(vote(&h), Some(true), "txn {seq}");
            let outcome = if seq % 3 == 1 {
                Outcome::Commit
            } else {
                Outcome::Abort
            };
            h.deliver(
                C,
                Msg::Decision {
                    txn: txn(seq),
                    outcome,
                },
            );
        }
    }
    h.storage.sync();
    let keys = h.storage.keys();
    let chunks = keys.iter().filter(|k| k.starts_with("d/")).count();
    assert_eq!(chunks as u64, n / CHUNK + 1, "{keys:?}");
    h.crash_and_restart(|| TxnNode::Participant(Participant::new(config())));
    for seq in [1, 2, 3, CHUNK + 1, n] {
        let expected = match seq % 3 {
            1 => Outcome::Commit,
            _ => Outcome::Abort,
        };
        let p = h.process.participant().expect("a participant");
        assert_eq!(p.decided(txn(seq)), Some(expected), "txn {seq}");
        h.deliver(C, read_prepare(seq));
        assert_eq!(vote(&h), Some(expected == Outcome::Commit), "txn {seq}");
        assert!(h.outputs().events.is_empty(), "txn {seq} prepared again");
        h.deliver(P3, Msg::Inquire { txn: txn(seq) });
        let answer = Msg::Decision {
            txn: txn(seq),
            outcome: expected,
        };
        assert_eq!(h.outputs().sends, vec![(P3, answer)], "txn {seq}");
    }
    let p = h.process.participant().expect("a participant");
    assert_eq!(p.decisions().len() as u64, n);
    assert!(p.decisions().bytes() as u64 <= n / 4 + 1);
}

/// The compact answers: a retry of an operation long answered gets the same answer, runs
/// nothing again, and the coordinator keeps no transaction for the answered keys.
#[test]
fn a_retry_long_after_the_answer_gets_the_same_answer() {
    let mut h = Harness::new(TxnNode::Coordinator(Coordinator::new(config())), C, 3, 1);
    h.start();
    let request = |seq: u64| TxnRequest {
        session: 1,
        seq,
        op: if seq.is_multiple_of(2) {
            TxnOp::Audit
        } else {
            TxnOp::Transfer {
                from: 0,
                to: 1,
                amount: 5,
            }
        },
    };
    let mut answers = Vec::new();
    for seq in 1..=200u64 {
        h.request(RequestId(seq), request(seq));
        let Some(TxnEvent::Began { txn: id }) = h.outputs().events.first().cloned() else {
            panic!("{:?}", h.outputs().events)
        };
        let reason = if seq.is_multiple_of(3) { "funds" } else { "" };
        let mut replies = Vec::new();
        for (p, value) in [(P2, 40), (P3, 60)] {
            let vote = Msg::Vote {
                txn: id,
                yes: !seq.is_multiple_of(3),
                reads: vec![(p.0, value)],
                reason,
            };
            replies.extend(h.deliver(p, vote).replies.clone());
        }
        if !seq.is_multiple_of(3) {
            replies.extend(
                h.fire(crate::types::Timer::SendDecision(id))
                    .replies
                    .clone(),
            );
        }
        let [(_, answer)] = <[_; 1]>::try_from(replies).expect("answered once");
        answers.push(answer);
    }
    assert_eq!(answers[1], TxnReply::Committed { total: Some(100) });
    assert_eq!(answers[2], TxnReply::Aborted { reason: "funds" });
    for seq in [1u64, 2, 3, 150] {
        h.request(RequestId(1000 + seq), request(seq));
        let out = h.outputs();
        assert!(
            out.events.is_empty() && out.sends.is_empty(),
            "ran {seq} again"
        );
        let expected = answers[seq as usize - 1].clone();
        assert_eq!(out.replies, vec![(RequestId(1000 + seq), expected)]);
    }
    let c = h.process.coordinator().expect("a coordinator");
    assert_eq!(c.by_key.len(), 0, "answered keys keep no transaction");
    assert!(c.answers.bytes() <= 201);
}

fn observe(t: &mut Tracker, node: NodeId, events: &[TxnEvent]) -> Vec<(Which, String)> {
    t.observe(SimTime(1), node, events)
}

/// The tracker: an aborted transaction is forgotten when its coordinator decides it, and a
/// late learn or a late prepare about it is neither a violation nor kept.
#[test]
fn the_checks_forget_an_abort_and_late_events_about_it_are_not_kept() {
    let mut t = Tracker::new(config());
    let x = txn(1);
    observe(&mut t, C, &[TxnEvent::Began { txn: x }]);
    let prepared = TxnEvent::Prepared {
        txn: x,
        writes: vec![(0, 70)],
    };
    observe(&mut t, P2, std::slice::from_ref(&prepared));
    let aborted = TxnEvent::Aborted {
        txn: x,
        presumed: false,
    };
    observe(&mut t, C, &[aborted]);
    let learned = TxnEvent::Learned {
        txn: x,
        outcome: Outcome::Abort,
        from_peer: false,
    };
    assert!(observe(&mut t, P2, &[learned]).is_empty());
    assert_eq!(t.retained(), 0, "nothing kept about the abort");
    // A late prepare (a delayed message) puts P3 in doubt; only the doubt is kept.
    let late = TxnEvent::Prepared {
        txn: x,
        writes: vec![(1, 30)],
    };
    observe(&mut t, P3, &[late]);
    assert_eq!(t.retained(), 1, "the doubt only");
    let presumed = TxnEvent::Aborted {
        txn: x,
        presumed: true,
    };
    observe(&mut t, C, &[presumed]);
    let learned = TxnEvent::Learned {
        txn: x,
        outcome: Outcome::Abort,
        from_peer: false,
    };
    assert!(observe(&mut t, P3, &[learned]).is_empty());
    assert_eq!(t.retained(), 0);
}

/// The tracker keeps a commit until every participant holds it durably: a participant that
/// later learns abort (its commit lost) is still caught, against the kept decision.
#[test]
fn the_checks_keep_a_commit_a_participant_does_not_hold_durably() {
    let mut t = Tracker::new(config());
    let x = txn(1);
    observe(&mut t, C, &[TxnEvent::Began { txn: x }]);
    for p in [P2, P3] {
        let prepared = TxnEvent::Prepared {
            txn: x,
            writes: Vec::new(),
        };
        observe(&mut t, p, &[prepared]);
    }
    let logged = TxnEvent::CommitLogged {
        txn: x,
        participants: vec![P2, P3],
    };
    assert!(observe(&mut t, C, &[logged]).is_empty());
    let learned = |outcome| TxnEvent::Learned {
        txn: x,
        outcome,
        from_peer: false,
    };
    observe(&mut t, P2, &[learned(Outcome::Commit)]);
    // Ended, then a stale inquiry is answered with a presumed abort: no change.
    observe(&mut t, C, &[TxnEvent::Ended { txn: x }]);
    let presumed = TxnEvent::Aborted {
        txn: x,
        presumed: true,
    };
    assert!(observe(&mut t, C, &[presumed]).is_empty());
    let found = observe(&mut t, P2, &[learned(Outcome::Abort)]);
    assert!(
        found
            .iter()
            .any(|(w, m)| *w == Which::Atomicity && m.contains("having learned Commit")),
        "{found:?}"
    );
}

/// The tracker: a restarted coordinator lost what it had not decided; those transactions are
/// closed, their votes dropped, and a vote that comes later is not kept.
#[test]
fn the_checks_close_what_a_restarted_coordinator_lost() {
    let mut t = Tracker::new(config());
    let x = txn(1);
    observe(&mut t, C, &[TxnEvent::Began { txn: x }]);
    let prepared = |p: NodeId| TxnEvent::Prepared {
        txn: x,
        writes: vec![(p.0, 10)],
    };
    observe(&mut t, P2, &[prepared(P2)]);
    let before = t.retained();
    observe(&mut t, C, &[TxnEvent::Recovered { commits: 0 }]);
    assert_eq!(t.retained(), before - 2, "running and the vote dropped");
    observe(&mut t, P3, &[prepared(P3)]);
    assert_eq!(
        t.retained(),
        before - 1,
        "P3's doubt only: the vote is not kept"
    );
}

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

/// Two coordinators, four participants, 12 accounts, 6 clients.
fn long_run_cluster() -> Cluster<TxnSuite> {
    let mut info = ClusterInfo::uniform(6, SimDuration::from_secs(120), SimDuration::ZERO);
    let kinds = ["coordinator", "coordinator"]
        .into_iter()
        .chain(["participant"; 4]);
    info.node_kinds = kinds.map(String::from).collect();
    let workload: WorkloadParams = toml::from_str("clients = 6").expect("valid");
    let params = Params {
        accounts: 12,
        ..Params::default()
    };
    let suite = TxnSuite::new(&info, params, workload, CheckParams::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cluster = Cluster::new(Rc::new(suite), SimConfig::new(3, 6), Trace::default());
    cluster.start();
    cluster
}

/// The checks' state, fed as the runner feeds its own checks.
struct Probe {
    tracker: Tracker,
    converged: Converged,
    began: u64,
}

impl Probe {
    fn new(config: &Config) -> Self {
        let config = Arc::new(config.clone());
        Probe {
            tracker: Tracker::new(Arc::clone(&config)),
            converged: Converged::new(config, SimDuration::from_secs(5)),
            began: 0,
        }
    }

    fn handled(&mut self, sim: &sim_core::Simulation<TxnNode>, node: NodeId, events: &[TxnEvent]) {
        let began = events
            .iter()
            .filter(|e| matches!(e, TxnEvent::Began { .. }));
        self.began += began.count() as u64;
        self.tracker.observe(sim.now(), node, events);
        self.tracker.confirm(sim, node);
        self.converged
            .observe(sim, &Observation::Handled { node, events });
    }

    fn restarted(&mut self, sim: &sim_core::Simulation<TxnNode>, node: NodeId) {
        if sim.process(node).and_then(TxnNode::coordinator).is_some() {
            self.tracker.coordinator_restarted(node);
        }
        let change = NodeChange::Restarted;
        self.converged
            .observe(sim, &Observation::Node { node, change });
    }

    /// Entries kept now: by the tracker, `2pc.converged`, participants, coordinators.
    fn retained(&self, sim: &sim_core::Simulation<TxnNode>) -> [usize; 4] {
        let nodes: Vec<&TxnNode> = (0..6).filter_map(|n| sim.process(NodeId(n))).collect();
        let participants = nodes.iter().filter_map(|n| n.participant());
        let coordinators = nodes.iter().filter_map(|n| n.coordinator());
        [
            self.tracker.retained(),
            self.converged.kept(),
            participants.map(Participant::in_flight).sum(),
            coordinators.map(Coordinator::in_flight).sum(),
        ]
    }
}

/// One second of the long run: a fault on `node` (a crash, or isolation) for half of it.
fn faulty_second(cluster: &mut Cluster<TxnSuite>, probe: &mut Probe, second: u64, node: NodeId) {
    if second.is_multiple_of(2) {
        cluster.crash(node);
    } else {
        cluster.isolate(node);
    }
    let start = secs(second - 1);
    for half in [500_000_000, 1_000_000_000] {
        let until = SimTime(start.0 + half);
        cluster.run_until_event(until, |sim, node, events| {
            probe.handled(sim, node, events);
            false
        });
        if half == 500_000_000 && cluster.restart(node) {
            probe.restarted(cluster.sim(), node);
        }
        cluster.heal();
    }
}

/// A long run under crashes of every node and partitions: the entries kept about single
/// transactions by the checks, the participants and the coordinators stay bounded by what is
/// in flight, while thousands of transactions run; only the compact tables grow, by their
/// quarter byte (decisions) and byte (answers) per transaction.
#[test]
fn what_is_retained_stays_bounded_over_a_long_run() {
    let mut cluster = long_run_cluster();
    let mut probe = Probe::new(cluster.suite().config());
    let mut peak = [0usize; 4];
    for second in 1..=90u64 {
        faulty_second(
            &mut cluster,
            &mut probe,
            second,
            NodeId((second % 6) as u32),
        );
        if second >= 30 {
            let now = probe.retained(cluster.sim());
            for (p, n) in peak.iter_mut().zip(now) {
                *p = (*p).max(n);
            }
        }
    }
    let began = probe.began;
    assert!(began > 10_000, "only {began} transactions began");
    // Bounded by the transactions in flight (6 clients) and those caught in the latest faults,
    // never by the thousands run.
    let [tracker, converged, participants, coordinators] = peak;
    assert!(
        tracker < 400,
        "the tracker kept {tracker} entries at its peak"
    );
    assert!(
        converged < 400,
        "2pc.converged kept {converged} at its peak"
    );
    assert!(
        participants < 100,
        "participants kept {participants} at their peak"
    );
    assert!(
        coordinators < 100,
        "coordinators kept {coordinators} at their peak"
    );
    let sim = cluster.sim();
    for node in (0..6).filter_map(|n| sim.process(NodeId(n))) {
        if let Some(p) = node.participant() {
            let bytes = p.decisions().bytes() as u64;
            assert!(bytes <= began / 4 + CHUNK, "decisions {bytes} bytes");
        }
        if let Some(c) = node.coordinator() {
            let bytes = c.answers.bytes() as u64;
            assert!(bytes <= began + 6, "answers {bytes} bytes");
        }
    }
}
