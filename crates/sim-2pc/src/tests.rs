//! One test per protocol rule, each calling handlers through `sim_core::testing::Harness`:
//! n1 is the coordinator, n2 and n3 the participants (accounts 0, 2 on n2; 1, 3 on n3).

use std::sync::Arc;

use sim_core::testing::Harness;
use sim_core::{NodeId, RequestId, SimTime};

use crate::bugs::Bug;
use crate::config::{Config, Params};
use crate::coordinator::Coordinator;
use crate::node::TxnNode;
use crate::participant::Participant;
use crate::types::{
    Msg, Outcome, Priority, Step, Timer, TxnEvent, TxnId, TxnOp, TxnReply, TxnRequest,
};

pub(crate) const C: NodeId = NodeId(0);
pub(crate) const P2: NodeId = NodeId(1);
pub(crate) const P3: NodeId = NodeId(2);

/// Four accounts on n2 and n3, coordinated by n1, with `bugs` planted.
pub(crate) fn config(bugs: &[Bug]) -> Arc<Config> {
    let params = Params {
        accounts: 4,
        bugs: bugs.to_vec(),
        ..Params::default()
    };
    Arc::new(Config::new(params, vec![C], vec![P2, P3]).expect("valid"))
}

/// Transaction `seq` of n1's first incarnation.
pub(crate) fn txn(seq: u64) -> TxnId {
    TxnId {
        coordinator: C,
        epoch: 1,
        seq,
    }
}

fn prepare(seq: u64, started: u64, steps: Vec<Step>) -> Msg {
    Msg::Prepare {
        txn: txn(seq),
        priority: Priority {
            started: SimTime(started),
            txn: txn(seq),
        },
        steps,
        participants: vec![P2, P3],
    }
}

fn participant(bugs: &[Bug]) -> Harness<TxnNode> {
    let node = TxnNode::Participant(Participant::new(config(bugs)));
    let mut h = Harness::new(node, P2, 3, 1);
    h.start();
    h
}

fn coordinator(bugs: &[Bug]) -> Harness<TxnNode> {
    let node = TxnNode::Coordinator(Coordinator::new(config(bugs)));
    let mut h = Harness::new(node, C, 3, 1);
    h.start();
    h
}

fn debit(account: u32, amount: i64) -> Step {
    Step::Debit { account, amount }
}

fn vote(out: &sim_core::Outputs<TxnNode>) -> Option<bool> {
    out.sends.iter().find_map(|(_, m)| match m {
        Msg::Vote { yes, .. } => Some(*yes),
        _ => None,
    })
}

/// PREPARED is on disk before the yes vote leaves: a crash right after keeps the transaction
/// in doubt, and the restarted participant asks the coordinator and its peer.
#[test]
fn a_yes_vote_survives_a_crash_and_the_participant_asks_on_restart() {
    let mut h = participant(&[]);
    let out = h.deliver(C, prepare(1, 0, vec![debit(0, 30)]));
    assert_eq!(vote(out), Some(true));
    assert!(!h.storage.is_dirty(), "PREPARED forced before the vote");
    let out = h.crash_and_restart(|| TxnNode::Participant(Participant::new(config(&[]))));
    let asked: Vec<NodeId> = out
        .sends
        .iter()
        .filter(|(_, m)| matches!(m, Msg::Inquire { .. }))
        .map(|(to, _)| *to)
        .collect();
    assert_eq!(
        asked,
        vec![C, P3],
        "the coordinator, then the peer (cooperative)"
    );
    assert!(h.process.has_role_in_doubt());
}

/// The planted bug: the yes vote leaves with PREPARED unsynced, and a crash forgets it.
#[test]
fn prepare_not_forced_forgets_the_vote_in_a_crash() {
    let mut h = participant(&[Bug::PrepareNotForced]);
    h.deliver(C, prepare(1, 0, vec![debit(0, 30)]));
    let bugs = [Bug::PrepareNotForced];
    let out = h.crash_and_restart(|| TxnNode::Participant(Participant::new(config(&bugs))));
    assert!(out.sends.is_empty(), "nothing in doubt after the crash");
}

/// A debit the balance cannot cover is voted down.
#[test]
fn a_transfer_without_funds_votes_no() {
    let mut h = participant(&[]);
    let out = h.deliver(C, prepare(1, 0, vec![debit(0, 101)]));
    assert_eq!(vote(out), Some(false));
}

/// Wait-die: a younger transaction that meets a prepared one's lock dies at once; an older one
/// waits, and prepares when the lock is released.
#[test]
fn wait_die_kills_the_younger_and_lets_the_older_wait() {
    let mut h = participant(&[]);
    assert_eq!(
        vote(h.deliver(C, prepare(5, 50, vec![debit(0, 10)]))),
        Some(true)
    );
    let out = h.deliver(C, prepare(6, 60, vec![debit(0, 10)]));
    assert_eq!(vote(out), Some(false), "younger dies");
    let out = h.deliver(C, prepare(4, 40, vec![debit(0, 10)]));
    assert_eq!(vote(out), None, "older waits");
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, TxnEvent::LockWait { .. })));
    let commit = Msg::Decision {
        txn: txn(5),
        outcome: Outcome::Commit,
    };
    let out = h.deliver(C, commit);
    assert!(out.sends.contains(&(C, Msg::Ack { txn: txn(5) })));
    assert_eq!(
        vote(out),
        Some(true),
        "the waiter prepares once the lock is free"
    );
    let p = h.process.participant().expect("participant");
    assert_eq!(p.balance(0), Some(90));
}

/// A participant that voted yes never decides alone, however long it waits.
#[test]
fn an_in_doubt_participant_does_not_abort_on_a_timeout() {
    let mut h = participant(&[]);
    h.deliver(C, prepare(1, 0, vec![debit(0, 30)]));
    for s in 1..20 {
        h.set_time(SimTime(s * 1_000_000_000));
        let out = h.fire(Timer::Inquire);
        assert!(out.events.is_empty(), "{:?}", out.events);
    }
    assert!(h.process.has_role_in_doubt());
}

/// Cooperative termination: a peer that has not voted aborts when asked, says so, and votes
/// no when the prepare arrives later.
#[test]
fn a_peer_that_has_not_voted_aborts_when_asked() {
    let mut h = participant(&[]);
    let out = h.deliver(P3, Msg::Inquire { txn: txn(1) });
    let abort = Msg::Decision {
        txn: txn(1),
        outcome: Outcome::Abort,
    };
    assert_eq!(out.sends, vec![(P3, abort)]);
    assert!(!h.storage.is_dirty(), "the abort is forced");
    let out = h.deliver(C, prepare(1, 0, vec![debit(0, 30)]));
    assert_eq!(vote(out), Some(false));
}

/// The coordinator forces COMMIT, reports it, and sends it only in the next step; after a
/// crash there it resends COMMIT from its log.
#[test]
fn commit_is_forced_before_it_is_sent_and_resent_after_a_restart() {
    let mut h = coordinator(&[]);
    let request = TxnRequest {
        session: 1,
        seq: 1,
        op: TxnOp::Transfer {
            from: 0,
            to: 1,
            amount: 5,
        },
    };
    let out = h.request(RequestId(7), request);
    let Some(TxnEvent::Began { txn: id }) = out.events.first().cloned() else {
        panic!("{:?}", out.events)
    };
    for p in [P2, P3] {
        let yes = Msg::Vote {
            txn: id,
            yes: true,
            reads: Vec::new(),
            reason: "",
        };
        h.deliver(p, yes);
    }
    let out = h.outputs();
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, TxnEvent::CommitLogged { .. })));
    assert!(
        out.sends.is_empty(),
        "not sent in the handler that logged it"
    );
    assert!(!h.storage.is_dirty(), "COMMIT forced");
    let out = h.crash_and_restart(|| TxnNode::Coordinator(Coordinator::new(config(&[]))));
    assert_eq!(out.events, vec![TxnEvent::Recovered { commits: 1 }]);
    let out = h.fire(Timer::SendDecision(id));
    let commit = Msg::Decision {
        txn: id,
        outcome: Outcome::Commit,
    };
    assert_eq!(out.sends, vec![(P2, commit.clone()), (P3, commit)]);
}

/// Presumed abort: asked about a transaction it has no record of, the coordinator says abort.
#[test]
fn no_record_means_abort() {
    let mut h = coordinator(&[]);
    let out = h.deliver(P2, Msg::Inquire { txn: txn(99) });
    let abort = Msg::Decision {
        txn: txn(99),
        outcome: Outcome::Abort,
    };
    assert_eq!(out.sends, vec![(P2, abort)]);
}

/// A participant redirects clients to their session's coordinator.
#[test]
fn a_participant_redirects_to_the_coordinator() {
    let mut h = participant(&[]);
    let request = TxnRequest {
        session: 3,
        seq: 1,
        op: TxnOp::Audit,
    };
    let out = h.request(RequestId(1), request);
    assert_eq!(
        out.replies,
        vec![(RequestId(1), TxnReply::Redirect { to: C })]
    );
}

/// A transfer spans two participants, so a cluster of one participant is refused at its field
/// rather than run: its clients would look forever for an account on another participant (a
/// shrink that dropped participants hung on it).
#[test]
fn one_participant_is_an_error_at_its_field() {
    let params = Params {
        accounts: 4,
        ..Params::default()
    };
    let Err(err) = Config::new(params, vec![C], vec![P2]) else {
        panic!("one participant must be refused");
    };
    assert_eq!(err.field, "cluster.kinds.participant");
    assert!(err.message.contains("at least 2"), "{}", err.message);
}
