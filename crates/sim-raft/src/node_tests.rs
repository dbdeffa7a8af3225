//! Unit tests of single Raft rules on one process, without the simulator (etcd's
//! `raft_paper_test.go` style): each test names its rule and cites the paper's section.

use std::sync::Arc;

use sim_core::testing::Harness;
use sim_core::{NodeId, RequestId, SimTime};
use sim_kv::{KvOp, KvRequest, KvResponse};

use super::*;
use crate::bugs::Bug;
use crate::params::RaftConfig;

fn n(i: u32) -> NodeId {
    NodeId(i)
}

fn node_with(id: u32, node_count: usize, config: RaftConfig) -> Harness<RaftNode> {
    let config = Arc::new(config);
    let mut h = Harness::new(
        RaftNode::new(n(id), node_count, config),
        n(id),
        node_count,
        7,
    );
    h.start();
    h
}

fn node(id: u32, node_count: usize) -> Harness<RaftNode> {
    node_with(id, node_count, RaftConfig::default())
}

fn rebuild(h: &Harness<RaftNode>) -> impl FnOnce() -> RaftNode {
    let (id, count, config) = (
        h.process.id(),
        h.process.node_count,
        Arc::clone(&h.process.config),
    );
    move || RaftNode::new(id, count, config)
}

fn put(client: u64, seq: u64, key: &str, value: &str) -> KvRequest {
    KvRequest {
        client,
        seq,
        op: KvOp::Put {
            key: key.into(),
            value: value.into(),
        },
    }
}

fn entries(terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(i, &term)| Entry {
            term,
            command: Command::Kv(Arc::new(put(1, i as u64 + 1, "k", &format!("v{i}")))),
        })
        .collect()
}

fn append(term: u64, prev: (u64, u64), terms: &[u64], commit: u64) -> Message {
    Message::AppendEntries {
        term,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries: entries(terms),
        leader_commit: commit,
        read_round: 0,
    }
}

fn terms_of(h: &Harness<RaftNode>) -> Vec<u64> {
    let log = h.process.log();
    (log.snapshot_index() + 1..=log.last_index())
        .map(|i| log.term_at(i).unwrap())
        .collect()
}

/// The only message sent by the latest handler, to `to`.
fn reply_to(h: &Harness<RaftNode>, to: NodeId) -> Message {
    let sent: Vec<&Message> = h
        .outputs()
        .sends
        .iter()
        .filter(|(t, _)| *t == to)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(
        sent.len(),
        1,
        "expected one message to {to}, found {sent:?}"
    );
    sent[0].clone()
}

fn granted(m: &Message) -> bool {
    matches!(m, Message::RequestVoteReply { granted: true, .. })
}

/// Lets `h`'s election timeout expire.
fn time_out(h: &mut Harness<RaftNode>) {
    if let Some(deadline) = h.process.election_deadline {
        h.set_time(deadline);
    }
    h.fire(Timer::Election);
}

/// Makes `h` leader of a 5-node cluster in its next term with votes from n2 and n3.
fn elect(h: &mut Harness<RaftNode>) {
    time_out(h);
    let term = h.process.term();
    for voter in [1, 2] {
        h.deliver(
            n(voter),
            Message::RequestVoteReply {
                term,
                granted: true,
                pre_vote: false,
            },
        );
    }
    assert_eq!(h.process.role(), Role::Leader);
}

fn ack(term: u64, match_index: u64) -> Message {
    Message::AppendEntriesReply {
        term,
        success: true,
        match_index,
        rejected_index: 0,
        conflict_index: 0,
        conflict_term: None,
        read_round: 0,
    }
}

/// A rejection of the append whose `prev_log_index` was `rejected`, with the conflict hint.
fn reject(term: u64, rejected: u64, conflict_index: u64, conflict_term: Option<u64>) -> Message {
    Message::AppendEntriesReply {
        term,
        success: false,
        match_index: 0,
        rejected_index: rejected,
        conflict_index,
        conflict_term,
        read_round: 0,
    }
}

/// The `prev_log_index` of every AppendEntries the latest handler sent to `to`.
fn appends_to(h: &Harness<RaftNode>, to: NodeId) -> Vec<u64> {
    h.outputs()
        .sends
        .iter()
        .filter_map(|(t, m)| match m {
            Message::AppendEntries { prev_log_index, .. } if *t == to => Some(*prev_log_index),
            _ => None,
        })
        .collect()
}

/// A leader of a 3-node cluster whose no-op (index 1) n2 and n3 acknowledged, so that it
/// replicates to them (pipelining, no probe), with `writes` client writes sent on top: n2 was sent one
/// append per write, at prev indices 1, 2, ...
fn replicating_leader(writes: u64) -> Harness<RaftNode> {
    let mut h = node(0, 3);
    elect(&mut h);
    let term = h.process.term();
    h.deliver(n(1), ack(term, 1));
    h.deliver(n(2), ack(term, 1));
    for k in 0..writes {
        h.request(RequestId(k + 1), put(k + 1, 1, "k", "v"));
        assert_eq!(
            appends_to(&h, n(1)),
            vec![k + 1],
            "pipelined, one entry each"
        );
    }
    h
}

/// §5.4.1: a voter refuses a candidate whose log is less up-to-date than its own (a lower last
/// term, or the same last term and a shorter log), and grants an up-to-date one.
#[test]
fn vote_refused_to_a_stale_log() {
    let mut h = node(0, 3);
    h.deliver(n(1), append(2, (0, 0), &[1, 2], 0));
    assert_eq!(terms_of(&h), vec![1, 2]);
    let stale_term = Message::RequestVote {
        term: 3,
        last_log_index: 9,
        last_log_term: 1,
        pre_vote: false,
    };
    h.deliver(n(2), stale_term);
    assert!(
        !granted(&reply_to(&h, n(2))),
        "a vote went to a log with an older last term"
    );
    assert_eq!(
        h.process.term(),
        3,
        "the higher term is adopted even when the vote is refused"
    );
    let shorter = Message::RequestVote {
        term: 4,
        last_log_index: 1,
        last_log_term: 2,
        pre_vote: false,
    };
    h.deliver(n(2), shorter);
    assert!(
        !granted(&reply_to(&h, n(2))),
        "a vote went to a shorter log with the same last term"
    );
    let fine = Message::RequestVote {
        term: 5,
        last_log_index: 2,
        last_log_term: 2,
        pre_vote: false,
    };
    h.deliver(n(2), fine);
    assert!(granted(&reply_to(&h, n(2))));
}

/// The planted bug `vote_without_log_check` grants the stale candidate of the test above.
#[test]
fn planted_bug_vote_without_log_check_grants_a_stale_log() {
    let mut h = node_with(
        0,
        3,
        RaftConfig::default().with_bug(Bug::VoteWithoutLogCheck),
    );
    h.deliver(n(1), append(2, (0, 0), &[1, 2], 0));
    h.deliver(
        n(2),
        Message::RequestVote {
            term: 3,
            last_log_index: 9,
            last_log_term: 1,
            pre_vote: false,
        },
    );
    assert!(granted(&reply_to(&h, n(2))));
}

/// §5.2: each node votes for at most one candidate in a term, first come first served; a
/// repeated request from the same candidate is granted again.
#[test]
fn vote_granted_once_per_term() {
    let mut h = node(0, 3);
    let ask = Message::RequestVote {
        term: 1,
        last_log_index: 0,
        last_log_term: 0,
        pre_vote: false,
    };
    h.deliver(n(1), ask.clone());
    assert!(granted(&reply_to(&h, n(1))));
    h.deliver(n(2), ask.clone());
    assert!(!granted(&reply_to(&h, n(2))), "two votes in term 1");
    h.deliver(n(1), ask);
    assert!(
        granted(&reply_to(&h, n(1))),
        "a duplicate request is granted again"
    );
}

/// §5.1 and Figure 2: currentTerm and votedFor are synced before the vote is sent, so a crash
/// right after the grant does not let the node vote again in that term.
#[test]
fn vote_and_term_synced_before_the_grant_is_sent() {
    let mut h = node(0, 3);
    h.deliver(
        n(1),
        Message::RequestVote {
            term: 4,
            last_log_index: 0,
            last_log_term: 0,
            pre_vote: false,
        },
    );
    assert!(granted(&reply_to(&h, n(1))));
    assert!(
        !h.storage.is_dirty(),
        "the grant was sent before the vote was synced"
    );
    let rebuild = rebuild(&h);
    h.crash_and_restart(rebuild);
    assert_eq!(h.process.term(), 4);
    assert_eq!(h.process.voted_for(), Some(n(1)));
    h.deliver(
        n(2),
        Message::RequestVote {
            term: 4,
            last_log_index: 0,
            last_log_term: 0,
            pre_vote: false,
        },
    );
    assert!(
        !granted(&reply_to(&h, n(2))),
        "voted twice in term 4 across a restart"
    );
}

/// The planted bug `forget_persist_vote`: the same crash lets the node vote twice in a term.
#[test]
fn planted_bug_forget_persist_vote_votes_twice_across_a_restart() {
    let mut h = node_with(0, 3, RaftConfig::default().with_bug(Bug::ForgetPersistVote));
    h.deliver(
        n(1),
        Message::RequestVote {
            term: 4,
            last_log_index: 0,
            last_log_term: 0,
            pre_vote: false,
        },
    );
    let rebuild = rebuild(&h);
    h.crash_and_restart(rebuild);
    h.deliver(
        n(2),
        Message::RequestVote {
            term: 4,
            last_log_index: 0,
            last_log_term: 0,
            pre_vote: false,
        },
    );
    assert!(granted(&reply_to(&h, n(2))));
}

/// §5.3: an entry that conflicts with the leader's (same index, different term) is deleted with
/// everything after it, in memory and on disk, and the leader's entries follow.
#[test]
fn conflicting_suffix_truncated() {
    let mut h = node(0, 3);
    h.deliver(n(1), append(1, (0, 0), &[1, 1, 1, 1], 0));
    assert_eq!(terms_of(&h), vec![1, 1, 1, 1]);
    h.deliver(n(2), append(2, (1, 1), &[2], 0));
    assert_eq!(terms_of(&h), vec![1, 2]);
    assert!(matches!(
        reply_to(&h, n(2)),
        Message::AppendEntriesReply {
            success: true,
            match_index: 2,
            ..
        }
    ));
    assert!(
        h.storage.get_entry(LOG, 3).is_none(),
        "the truncated entry is still on disk"
    );
    let rebuild = rebuild(&h);
    h.crash_and_restart(rebuild);
    assert_eq!(
        terms_of(&h),
        vec![1, 2],
        "the log on disk differs from the one in memory"
    );
}

/// The planted bug `no_truncate_conflict` keeps the stale suffix after the rewritten entry.
#[test]
fn planted_bug_no_truncate_conflict_keeps_the_suffix() {
    let mut h = node_with(
        0,
        3,
        RaftConfig::default().with_bug(Bug::NoTruncateConflict),
    );
    h.deliver(n(1), append(1, (0, 0), &[1, 1, 1, 1], 0));
    h.deliver(n(2), append(2, (1, 1), &[2], 0));
    assert_eq!(terms_of(&h), vec![1, 2, 1, 1]);
}

/// §5.3 (fast backtracking): a rejection carries the term of the follower's conflicting entry
/// and the first index of that term, or the follower's log length when it is too short; the
/// leader skips a whole term at once.
#[test]
fn fast_backtracking_hint_values() {
    let mut h = node(0, 5);
    h.deliver(n(1), append(2, (0, 0), &[1, 1, 2, 2, 2], 0));
    h.deliver(n(1), append(3, (5, 3), &[3], 0));
    match reply_to(&h, n(1)) {
        Message::AppendEntriesReply {
            success,
            conflict_term,
            conflict_index,
            ..
        } => {
            assert!(!success);
            assert_eq!((conflict_term, conflict_index), (Some(2), 3));
        }
        other => panic!("unexpected {other:?}"),
    }
    h.deliver(n(1), append(3, (7, 3), &[3], 0));
    match reply_to(&h, n(1)) {
        Message::AppendEntriesReply {
            success,
            conflict_term,
            conflict_index,
            ..
        } => {
            assert!(!success);
            assert_eq!((conflict_term, conflict_index), (None, 6));
        }
        other => panic!("unexpected {other:?}"),
    }

    // The leader's side, elected in term 5 with the log [1, 2, 4] and its no-op at 4: it
    // probes each follower at index 3.
    let mut leader = node(0, 3);
    leader.deliver(n(1), append(4, (0, 0), &[1, 2, 4], 0));
    elect(&mut leader);
    let term = leader.process.term();
    assert_eq!(terms_of(&leader), vec![1, 2, 4, term]);
    // n2 holds term 3 at 3 (from index 2 on), a term the leader does not have: the leader goes
    // back to that term's first index at once.
    leader.deliver(n(2), reject(term, 3, 2, Some(3)));
    match reply_to(&leader, n(2)) {
        Message::AppendEntries { prev_log_index, .. } => assert_eq!(prev_log_index, 1),
        other => panic!("unexpected {other:?}"),
    }
    // n1 holds term 2 at 3 (from index 2 on), which the leader has up to index 2: it resumes
    // after its last entry of term 2.
    leader.deliver(n(1), reject(term, 3, 2, Some(2)));
    match reply_to(&leader, n(1)) {
        Message::AppendEntries { prev_log_index, .. } => assert_eq!(prev_log_index, 2),
        other => panic!("unexpected {other:?}"),
    }
}

/// §5.3 with pipelining (etcd's `maybeDecrTo`): appends overtake each other on the network, and
/// a follower rejects one that arrives before its predecessors ("prev index beyond my log"). Its
/// entries are lost to the follower, and so are those of every later append in flight, so the
/// leader backtracks on the first such rejection and probes; the rest of the old pipeline's
/// rejections do not answer the probe and are ignored, so the suffix goes once.
#[test]
fn an_overtaking_append_rejected_backtracks_once() {
    let mut h = replicating_leader(3);
    let term = h.process.term();
    // n2 holds index 1 only, and got the append at prev 2 before the one at prev 1.
    h.deliver(n(1), reject(term, 2, 2, None));
    assert_eq!(appends_to(&h, n(1)), vec![1], "probe from the hint");
    assert!(h.process.probing[1]);
    // The append at prev 3 overtook too: its rejection answers no probe.
    h.deliver(n(1), reject(term, 3, 2, None));
    assert!(
        appends_to(&h, n(1)).is_empty(),
        "a second resend for the same gap"
    );
    // The append at prev 1 arrives after all, then the probe: replication resumes.
    h.deliver(n(1), ack(term, 2));
    h.deliver(n(1), ack(term, 4));
    assert_eq!(h.process.match_index[1], 4);
    assert!(!h.process.probing[1]);
}

/// A rejection counts however late it comes back, while replicating: a follower whose round
/// trip is longer than the heartbeat interval, and whose every reply comes back after the next
/// heartbeat went out, is still backtracked (it used to be left behind for good).
#[test]
fn a_late_rejection_of_an_older_heartbeat_backtracks() {
    let mut h = replicating_leader(0);
    let term = h.process.term();
    // Entry 2 goes out (and is lost), then the heartbeat at prev 2, which n2 rejects.
    h.request(RequestId(1), put(1, 1, "k", "v"));
    h.set_time(SimTime(50_000_000));
    h.fire(Timer::Heartbeat);
    assert_eq!(appends_to(&h, n(1)), vec![2]);
    // Before that rejection is back, entry 3 and the next heartbeat go out.
    h.request(RequestId(2), put(2, 1, "k", "v"));
    h.set_time(SimTime(100_000_000));
    h.fire(Timer::Heartbeat);
    assert_eq!(appends_to(&h, n(1)), vec![3]);
    h.deliver(n(1), reject(term, 2, 2, None));
    assert_eq!(appends_to(&h, n(1)), vec![1], "probe from the hint");
}

/// §5.3 (fast backtracking): a rejection of the latest append answers the current probe; the
/// leader goes back to the follower's hint, probes from there with everything after it, and
/// sends nothing more to that follower until the probe is answered.
#[test]
fn current_rejection_backtracks_with_the_fast_hint() {
    let mut h = replicating_leader(3);
    let term = h.process.term();
    // The append at prev 3 is the latest; n2 holds index 1 only (its others were lost).
    h.deliver(n(1), reject(term, 3, 2, None));
    assert_eq!(appends_to(&h, n(1)), vec![1], "probe from the hint");
    match reply_to(&h, n(1)) {
        Message::AppendEntries { entries, .. } => assert_eq!(entries.len(), 3),
        other => panic!("unexpected {other:?}"),
    }
    // While the probe is out, a new write does not go to n2.
    h.request(RequestId(9), put(9, 1, "k", "v"));
    assert!(appends_to(&h, n(1)).is_empty(), "a second probe in flight");
    assert_eq!(appends_to(&h, n(2)), vec![4], "n3 still gets it pipelined");
    // The probe succeeds: replication resumes (pipelined) with what waited.
    h.deliver(n(1), ack(term, 4));
    assert!(!h.process.probing[1]);
    h.request(RequestId(10), put(10, 1, "k", "v"));
    assert_eq!(appends_to(&h, n(1)), vec![4]);
    match reply_to(&h, n(1)) {
        Message::AppendEntries { entries, .. } => assert_eq!(entries.len(), 2),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(h.process.next_index[1], 7);
}

/// §5.3: a rejection at or below the follower's match index is stale (the follower matched
/// past it since), even when it is the prev index of the latest append.
#[test]
fn rejection_at_or_below_match_index_ignored() {
    let mut h = replicating_leader(0);
    let term = h.process.term();
    // Idle: the latest heartbeat to n2 went at prev 1, and n2 matched 1.
    h.set_time(SimTime(50_000_000));
    h.fire(Timer::Heartbeat);
    assert_eq!(appends_to(&h, n(1)), vec![1]);
    h.deliver(n(1), reject(term, 1, 1, None));
    assert!(
        appends_to(&h, n(1)).is_empty(),
        "a rejection below the match index made the leader resend"
    );
    assert_eq!(h.process.next_index[1], 2);
    assert!(!h.process.probing[1]);
}

/// §5.4.2 (Figure 8): a leader does not commit an entry of an earlier term by counting the
/// replicas that store it; it commits it together with an entry of its own term.
#[test]
fn previous_term_entry_not_committed_by_count() {
    let mut h = node(0, 5);
    h.deliver(n(1), append(2, (0, 0), &[1, 2], 1));
    assert_eq!(h.process.commit_index(), 1);
    elect(&mut h);
    let term = h.process.term();
    assert_eq!(terms_of(&h), vec![1, 2, term], "the no-op of the new term");
    h.deliver(n(1), ack(term, 2));
    h.deliver(n(2), ack(term, 2));
    assert_eq!(
        h.process.commit_index(),
        1,
        "the term-2 entry was committed by counting replicas"
    );
    h.deliver(n(1), ack(term, 3));
    assert_eq!(h.process.commit_index(), 1);
    h.deliver(n(2), ack(term, 3));
    assert_eq!(
        h.process.commit_index(),
        3,
        "the current-term entry commits, and index 2 with it"
    );
}

/// The planted bug `commit_previous_term_by_count` commits the term-2 entry by count.
#[test]
fn planted_bug_commit_previous_term_by_count_commits_by_count() {
    let mut h = node_with(
        0,
        5,
        RaftConfig::default().with_bug(Bug::CommitPreviousTermByCount),
    );
    h.deliver(n(1), append(2, (0, 0), &[1, 2], 1));
    elect(&mut h);
    let term = h.process.term();
    h.deliver(n(1), ack(term, 2));
    h.deliver(n(2), ack(term, 2));
    assert_eq!(h.process.commit_index(), 2);
}

/// §5.1: a node that sees a higher term becomes a follower in it; a leader steps down.
#[test]
fn step_down_on_a_higher_term() {
    let mut h = node(0, 3);
    elect(&mut h);
    let term = h.process.term();
    h.deliver(
        n(1),
        Message::AppendEntriesReply {
            term: term + 3,
            success: false,
            match_index: 0,
            rejected_index: 0,
            conflict_index: 0,
            conflict_term: None,
            read_round: 0,
        },
    );
    assert_eq!(h.process.role(), Role::Follower);
    assert_eq!(h.process.term(), term + 3);
    assert!(h
        .outputs()
        .events
        .contains(&RaftEvent::SteppedDown { term }));
    assert!(!h.storage.is_dirty(), "the new term was not synced");
}

/// §5.4.2 and §8: a new leader appends a no-op of its term, synced before it counts itself.
#[test]
fn noop_appended_on_election() {
    let mut h = node(0, 3);
    time_out(&mut h);
    assert_eq!(h.process.role(), Role::Candidate);
    assert!(
        !h.storage.is_dirty(),
        "the candidate's term and self-vote were not synced"
    );
    h.deliver(
        n(1),
        Message::RequestVoteReply {
            term: 1,
            granted: true,
            pre_vote: false,
        },
    );
    assert_eq!(h.process.role(), Role::Leader);
    let last = h.process.log().entry(1).cloned().unwrap();
    assert_eq!(
        last,
        Entry {
            term: 1,
            command: Command::Noop
        }
    );
    assert!(!h.storage.is_dirty());
    assert!(h
        .outputs()
        .events
        .contains(&RaftEvent::BecameLeader { term: 1 }));
    let appends = h
        .outputs()
        .sends
        .iter()
        .filter(|(_, m)| matches!(m, Message::AppendEntries { entries, .. } if entries.len() == 1))
        .count();
    assert_eq!(appends, 2, "the no-op goes to both peers at once");
}

/// Figure 2: a follower acknowledges entries only after syncing them, so they survive a crash.
#[test]
fn appended_entries_synced_before_the_ack() {
    let mut h = node(0, 3);
    h.deliver(n(1), append(1, (0, 0), &[1, 1, 1], 0));
    assert!(matches!(
        reply_to(&h, n(1)),
        Message::AppendEntriesReply {
            success: true,
            match_index: 3,
            ..
        }
    ));
    let rebuild = rebuild(&h);
    h.crash_and_restart(rebuild);
    assert_eq!(terms_of(&h), vec![1, 1, 1]);
    assert_eq!(h.process.term(), 1);
    assert_eq!(h.process.commit_index(), 0, "the commit index is volatile");
}

/// §7: InstallSnapshot replaces the log prefix and the state machine; entries after the
/// snapshot are kept only if the log agrees at the snapshot's last index.
#[test]
fn snapshot_install_replaces_the_log_prefix() {
    let mut state = KvStore::new();
    state.apply(&put(9, 1, "x", "from-snapshot"));
    let snapshot = Arc::new(Snapshot {
        last_index: 4,
        last_term: 1,
        state,
    });

    // Nothing kept behind the snapshot, to see the prefix go (see
    // `snapshot_keeps_catch_up_entries_sent_by_append_entries` for what is kept otherwise).
    let no_catch_up = RaftConfig {
        snapshot_catch_up: 0,
        ..RaftConfig::default()
    };
    let mut h = node_with(0, 3, no_catch_up);
    h.deliver(n(1), append(1, (0, 0), &[1, 1, 1, 1, 1, 1], 0));
    h.deliver(
        n(1),
        Message::InstallSnapshot {
            term: 1,
            snapshot: Arc::clone(&snapshot),
            read_round: 0,
        },
    );
    assert_eq!(h.process.log().snapshot_index(), 4);
    assert_eq!(
        h.process.log().last_index(),
        6,
        "the agreeing suffix was dropped"
    );
    assert_eq!(h.process.commit_index(), 4);
    assert_eq!(
        h.process.kv().get("x").map(String::as_str),
        Some("from-snapshot")
    );
    assert!(
        h.storage.get_entry(LOG, 2).is_none(),
        "compacted entries stay on disk"
    );
    assert!(matches!(
        reply_to(&h, n(1)),
        Message::InstallSnapshotReply { match_index: 4, .. }
    ));

    let mut other = node(0, 3);
    other.deliver(n(1), append(2, (0, 0), &[2, 2, 2], 0));
    let newer = Arc::new(Snapshot {
        last_index: 4,
        last_term: 3,
        state: KvStore::new(),
    });
    other.deliver(
        n(2),
        Message::InstallSnapshot {
            term: 3,
            snapshot: newer,
            read_round: 0,
        },
    );
    assert_eq!(
        other.process.log().last_index(),
        4,
        "a conflicting log is discarded"
    );
    assert!(other.process.log().is_empty());
    let rebuild = rebuild(&other);
    other.crash_and_restart(rebuild);
    assert_eq!(
        other.process.log().snapshot_index(),
        4,
        "the snapshot did not survive a restart"
    );
    assert_eq!(other.process.commit_index(), 4);
}

/// §7: a node snapshots its state once `snapshot_threshold` applied entries follow the last
/// snapshot, and drops them from the log and the disk (all of them with `snapshot_catch_up = 0`).
#[test]
fn snapshot_taken_at_the_threshold() {
    let config = RaftConfig {
        snapshot_threshold: 3,
        snapshot_catch_up: 0,
        ..RaftConfig::default()
    };
    let mut h = node_with(0, 3, config);
    h.deliver(n(1), append(1, (0, 0), &[1, 1, 1, 1], 4));
    assert_eq!(h.process.last_applied(), 4);
    assert_eq!(h.process.log().snapshot_index(), 4);
    assert!(h.storage.get_entry(LOG, 1).is_none());
    assert!(h
        .outputs()
        .events
        .contains(&RaftEvent::SnapshotTaken { index: 4, term: 1 }));
}

/// Thesis §6.3: a retried `(client, seq)` whose entry was applied gets the recorded response;
/// nothing new is appended.
#[test]
fn session_dedupe_answers_a_retried_request_without_reappending() {
    let mut h = node(0, 3);
    elect(&mut h);
    let term = h.process.term();
    h.request(RequestId(1), put(5, 1, "k", "v"));
    assert_eq!(h.process.log().last_index(), 2);
    h.deliver(n(1), ack(term, 2));
    assert_eq!(h.outputs().replies, vec![(RequestId(1), KvResponse::Done)]);
    h.request(RequestId(2), put(5, 1, "k", "v"));
    assert_eq!(h.outputs().replies, vec![(RequestId(2), KvResponse::Done)]);
    assert_eq!(
        h.process.log().last_index(),
        2,
        "the retry was appended again"
    );
}

/// Thesis §6.4: a ReadIndex read is answered only after a majority acknowledged a heartbeat
/// round that started after the read arrived.
#[test]
fn read_index_waits_for_a_heartbeat_round() {
    let mut h = node(0, 3);
    elect(&mut h);
    let term = h.process.term();
    h.deliver(n(1), ack(term, 1));
    assert_eq!(h.process.commit_index(), 1, "the no-op commits");
    h.request(
        RequestId(1),
        KvRequest {
            client: 1,
            seq: 1,
            op: KvOp::Get { key: "k".into() },
        },
    );
    assert!(
        h.outputs().replies.is_empty(),
        "answered before confirming leadership"
    );
    let round = h.outputs().sends.iter().find_map(|(_, m)| match m {
        Message::AppendEntries { read_round, .. } => Some(*read_round),
        _ => None,
    });
    assert_eq!(round, Some(1));
    h.deliver(n(2), ack(term, 1));
    assert!(
        h.outputs().replies.is_empty(),
        "an ack of an older round confirmed the read"
    );
    h.deliver(
        n(2),
        Message::AppendEntriesReply {
            term,
            success: true,
            match_index: 1,
            rejected_index: 0,
            conflict_index: 0,
            conflict_term: None,
            read_round: 1,
        },
    );
    assert_eq!(
        h.outputs().replies,
        vec![(RequestId(1), KvResponse::Value(None))]
    );
}

/// Clients that reach a follower are redirected to the leader it knows.
#[test]
fn follower_redirects_clients_to_the_leader() {
    let mut h = node(0, 3);
    h.deliver(n(2), append(1, (0, 0), &[], 0));
    h.request(RequestId(3), put(1, 1, "k", "v"));
    assert_eq!(
        h.outputs().replies,
        vec![(RequestId(3), KvResponse::Redirect { to: n(2) })]
    );
}

/// Thesis §9.6: a pre-candidate asks with its term + 1 but does not raise its term; voters
/// that heard from a leader recently refuse.
#[test]
fn pre_vote_does_not_raise_the_term() {
    let config = RaftConfig {
        pre_vote: true,
        ..RaftConfig::default()
    };
    let mut h = node_with(0, 3, config.clone());
    time_out(&mut h);
    assert_eq!(h.process.role(), Role::PreCandidate);
    assert_eq!(h.process.term(), 0);
    h.deliver(
        n(1),
        Message::RequestVoteReply {
            term: 1,
            granted: true,
            pre_vote: true,
        },
    );
    assert_eq!(
        h.process.role(),
        Role::Candidate,
        "a majority of pre-votes starts the election"
    );
    assert_eq!(h.process.term(), 1);

    let mut voter = node_with(1, 3, config);
    voter.set_time(SimTime(1_000_000));
    voter.deliver(n(0), append(1, (0, 0), &[], 0));
    voter.deliver(
        n(2),
        Message::RequestVote {
            term: 2,
            last_log_index: 0,
            last_log_term: 0,
            pre_vote: true,
        },
    );
    assert!(
        !granted(&reply_to(&voter, n(2))),
        "a pre-vote despite a live leader"
    );
    assert_eq!(voter.process.term(), 1);
}

/// Thesis §6.2: with check-quorum, a leader that heard from no majority within an election
/// timeout steps down.
#[test]
fn check_quorum_leader_steps_down_when_cut_off() {
    let config = RaftConfig {
        check_quorum: true,
        ..RaftConfig::default()
    };
    let mut h = node_with(0, 3, config);
    elect(&mut h);
    h.fire(Timer::CheckQuorum);
    assert_eq!(h.process.role(), Role::Follower);
}

/// §5.2: the election timeout restarts on every AppendEntries without piling up timers; a timer
/// that fires before the deadline re-arms for the remainder, and a remainder under a millisecond
/// counts as expired (a drifting clock can round it to no time at all: raft-pause-skew seed 7).
#[test]
fn election_timer_rearms_for_the_remainder_and_expires_under_a_millisecond() {
    use sim_core::{SimDuration, TimerOp};
    let mut h = node(0, 3);
    let deadline = h.process.election_deadline.expect("a deadline");
    h.set_time(SimTime(deadline.0 - 10_000_000));
    h.fire(Timer::Election);
    assert_eq!(h.process.role(), Role::Follower);
    let rearmed = h.outputs().timers.iter().any(|op| {
        matches!(op, TimerOp::Set { after, timer: Timer::Election } if *after == SimDuration::from_millis(10))
    });
    assert!(rearmed, "{:?}", h.outputs().timers);
    h.set_time(SimTime(deadline.0 - 500_000));
    h.fire(Timer::Election);
    assert_eq!(h.process.role(), Role::Candidate);
}

/// §5.1: RPCs are retried; a candidate asks again, each heartbeat interval, the peers that have
/// not answered its RequestVote in this term.
#[test]
fn candidate_retries_vote_requests_to_silent_peers() {
    let mut h = node(0, 5);
    time_out(&mut h);
    let term = h.process.term();
    h.deliver(
        n(1),
        Message::RequestVoteReply {
            term,
            granted: false,
            pre_vote: false,
        },
    );
    h.fire(Timer::Heartbeat);
    let mut asked: Vec<NodeId> = h
        .outputs()
        .sends
        .iter()
        .filter(|(_, m)| matches!(m, Message::RequestVote { term: t, .. } if *t == term))
        .map(|(to, _)| *to)
        .collect();
    asked.sort();
    assert_eq!(asked, vec![n(2), n(3), n(4)]);
}

/// Snapshots every 5 applied entries, keeping 3 entries behind each.
fn catch_up_config() -> RaftConfig {
    RaftConfig {
        snapshot_threshold: 5,
        snapshot_catch_up: 3,
        ..RaftConfig::default()
    }
}

/// The log indices whose entries are in `h`'s storage.
fn stored_indices(h: &Harness<RaftNode>) -> Vec<u64> {
    h.storage
        .entries(LOG)
        .iter()
        .map(|(index, _)| *index)
        .collect()
}

/// A leader of a 3-node cluster with [`catch_up_config`]: its no-op and seven writes (indices
/// 1 to 8) pipelined to both followers, n2 acknowledged all of them, n3 only the no-op. The
/// commit at 8 made it snapshot there, keeping 6 to 8 in the log (and 5, the base).
fn leader_with_catch_up() -> Harness<RaftNode> {
    let mut h = node_with(0, 3, catch_up_config());
    elect(&mut h);
    let term = h.process.term();
    h.deliver(n(1), ack(term, 1));
    h.deliver(n(2), ack(term, 1));
    for k in 0..7 {
        h.request(RequestId(k + 1), put(k + 1, 1, "k", "v"));
    }
    h.deliver(n(1), ack(term, 8));
    assert!(h
        .outputs()
        .events
        .contains(&RaftEvent::SnapshotTaken { index: 8, term }));
    h
}

/// §7 with etcd's `SnapshotCatchUpEntries`: a snapshot drops the entries it covers except the
/// last `snapshot_catch_up`, in memory and on disk (where the base's entry stays too, for its
/// term). A follower that is short of some of those (here n3 rejected the latest append: it
/// holds up to index 5 only, the others overtook each other and were refused) gets them by
/// AppendEntries, not the whole state machine.
#[test]
fn snapshot_keeps_catch_up_entries_sent_by_append_entries() {
    let mut h = leader_with_catch_up();
    let term = h.process.term();
    let log = h.process.log();
    assert_eq!((log.snapshot_index(), log.base_index()), (8, 5));
    assert_eq!(log.entry(5), None);
    assert!(log.entry(6).is_some());
    assert_eq!(stored_indices(&h), vec![5, 6, 7, 8]);
    h.deliver(n(2), reject(term, 7, 6, None));
    match reply_to(&h, n(2)) {
        Message::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            ..
        } => {
            assert_eq!((prev_log_index, prev_log_term), (5, term));
            assert_eq!(entries.len(), 3, "entries 6 to 8");
        }
        other => panic!("expected AppendEntries from the retained log, found {other:?}"),
    }
}

/// §7: a follower short of an entry before the retained log (here n3 holds up to index 3, and
/// the leader's log starts after 5) gets InstallSnapshot, at the next heartbeat (the appends
/// in flight might have filled the gap by then), and is then sent what follows the snapshot.
#[test]
fn follower_below_the_retained_log_gets_install_snapshot() {
    let mut h = leader_with_catch_up();
    let term = h.process.term();
    h.deliver(n(2), reject(term, 7, 4, None));
    assert!(
        h.outputs().sends.is_empty(),
        "the snapshot waits for the heartbeat"
    );
    h.set_time(SimTime(50_000_000));
    h.fire(Timer::Heartbeat);
    match reply_to(&h, n(2)) {
        Message::InstallSnapshot { snapshot, .. } => assert_eq!(snapshot.last_index, 8),
        other => panic!("expected InstallSnapshot, found {other:?}"),
    }
    assert_eq!(h.process.next_index[2], 9);
}

/// §7 and Figure 2: a restart restores the snapshot and the entries kept behind it, and a
/// later snapshot removes from the disk what it no longer keeps.
#[test]
fn restart_restores_the_snapshot_and_the_retained_entries() {
    let mut h = node_with(0, 3, catch_up_config());
    h.deliver(n(1), append(1, (0, 0), &[1, 1, 1, 1, 1, 1, 1, 1], 8));
    let log = h.process.log().clone();
    assert_eq!((log.snapshot_index(), log.base_index()), (8, 5));
    assert!(!h.storage.is_dirty(), "the snapshot was not synced");
    let rebuild = rebuild(&h);
    h.crash_and_restart(rebuild);
    assert_eq!(h.process.log(), &log, "the log came back different");
    assert_eq!(h.process.commit_index(), 8);
    assert_eq!(h.process.last_applied(), 8);
    assert_eq!(h.process.kv().get("k").map(String::as_str), Some("v7"));
    assert!(h.outputs().events.contains(&RaftEvent::Restored {
        term: 1,
        last_index: 8,
        snapshot_index: 8,
    }));
    // The retained entries still serve the consistency check, and the next snapshot (at 13)
    // moves the base to 10 on disk as in memory.
    h.deliver(n(1), append(1, (6, 1), &[1, 1, 1, 1, 1, 1, 1], 13));
    assert_eq!(h.process.last_applied(), 13);
    let log = h.process.log();
    assert_eq!((log.snapshot_index(), log.base_index()), (13, 10));
    assert_eq!(stored_indices(&h), vec![10, 11, 12, 13]);
}

/// §7: the base kept below a snapshot is always an entry on disk, so a restart finds the same
/// log, even when the allowance reaches back past the end of an installed snapshot (whose entry
/// was never stored) or to index 0.
#[test]
fn retained_base_is_always_a_stored_entry() {
    let config = RaftConfig {
        snapshot_threshold: 5,
        snapshot_catch_up: 10,
        ..RaftConfig::default()
    };
    let mut h = node_with(0, 3, config.clone());
    h.deliver(n(1), append(1, (0, 0), &[1, 1, 1, 1, 1], 5));
    let log = h.process.log().clone();
    assert_eq!((log.snapshot_index(), log.base_index()), (5, 1));
    assert_eq!(stored_indices(&h), vec![1, 2, 3, 4, 5]);
    let rebuild_first = rebuild(&h);
    h.crash_and_restart(rebuild_first);
    assert_eq!(h.process.log(), &log, "the log came back different");

    let mut h = node_with(0, 3, config);
    let snapshot = Arc::new(Snapshot {
        last_index: 4,
        last_term: 1,
        state: KvStore::new(),
    });
    h.deliver(
        n(1),
        Message::InstallSnapshot {
            term: 1,
            snapshot,
            read_round: 0,
        },
    );
    h.deliver(n(1), append(1, (4, 1), &[1, 1, 1, 1, 1], 9));
    let log = h.process.log().clone();
    assert_eq!((log.snapshot_index(), log.base_index()), (9, 5));
    assert_eq!(stored_indices(&h), vec![5, 6, 7, 8, 9]);
    let rebuild = rebuild(&h);
    h.crash_and_restart(rebuild);
    assert_eq!(h.process.log(), &log, "the log came back different");
}
