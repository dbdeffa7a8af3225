//! The lock service's replicated state machine: sessions with leases, locks with owners
//! (exclusive writers or shared readers), waiters queued in order, and an atomic counter with
//! compare-and-set.
//!
//! [`LockMachine`] implements `sim_raft::StateMachine`, so Raft replicates it in place of the
//! key-value store. It is deterministic: every time it needs (a lease's deadline) arrives inside
//! the request, stamped by the leader that proposed it with its own local clock, so that every
//! replica applying the same entries reaches the same state. A grant's fencing token is the log
//! index of the entry that granted it, so tokens only grow (Chubby's sequencers, etcd's
//! revisions). Expiry is an entry too: the leader proposes [`LockOp::Expire`] for a session whose
//! deadline its clock has passed (etcd's lease revoke), and applying it releases the session's
//! locks and hands them to the waiters.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use sim_core::{NodeId, SimDuration, SimTime};
use sim_raft::{Applied, StateMachine};

use crate::bugs::{Bug, BugSet};

/// The client id the service itself proposes under (expiries); it has no session to dedupe.
pub const SERVICE_CLIENT: u64 = 0;

/// How a lock is held: shared by readers, or by one writer alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Read,
    Write,
}

/// What a client (or the leader, for expiries) asks the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LockOp {
    /// Opens the session `client` with a lease of `ttl`, for the client node `node`.
    OpenSession { node: NodeId, ttl: SimDuration },
    /// Extends the session's lease by its ttl from now (a keep-alive, which renews every lock
    /// the session holds).
    KeepAlive,
    /// Acquires `lock` in `mode`; with `wait`, joins the queue when it is taken.
    Acquire {
        lock: String,
        mode: Mode,
        wait: bool,
    },
    /// Releases `lock` (or leaves its queue).
    Release { lock: String },
    /// Proposed by a leader whose clock passed the session's deadline: ends it, releasing its
    /// locks, unless a keep-alive applied since moved the deadline past `now`.
    Expire { session: u64 },
    /// Reads the counter.
    CounterGet,
    /// Sets the counter to `new` if it holds `expected`.
    CounterCas { expected: u64, new: u64 },
}

/// A request as stored in the log: the client's session, its sequence number, the operation,
/// and the proposing leader's local time (`now`), which leases are measured against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockRequest {
    pub client: u64,
    pub seq: u64,
    pub op: LockOp,
    pub now: SimTime,
}

/// The service's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LockResponse {
    /// The session is open (or alive) until `expires_at` by the service's clock.
    Alive {
        expires_at: SimTime,
    },
    /// The lock is the session's, with this fencing token.
    Granted {
        token: u64,
    },
    /// The lock is taken; the session waits in its queue and is told when it is its turn.
    Queued,
    /// The lock is taken and the session did not ask to wait.
    Busy,
    Released,
    /// The session does not hold the lock it released (nor waits for it).
    NotHeld,
    /// The session is unknown: it expired (or never opened).
    NoSession,
    /// An expiry applied: the session ended, or had been renewed.
    Expired {
        ended: bool,
    },
    Counter {
        value: u64,
    },
    CasFailed {
        current: u64,
    },
    /// This server is not the leader; the leader it follows.
    Redirect {
        to: NodeId,
    },
    /// This server knows no leader.
    Unavailable,
}

/// A session: its client node, lease length and deadline by the service's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub node: NodeId,
    pub ttl: SimDuration,
    pub expires_at: SimTime,
}

/// One lock: who holds it, in which mode, with which token; who waits, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lock {
    pub holders: BTreeMap<u64, (Mode, u64)>,
    pub waiters: VecDeque<(u64, Mode)>,
    /// Grants so far (the planted bug `token_resets_when_free` uses it as the token).
    pub grants: u64,
}

impl Lock {
    fn is_free(&self) -> bool {
        self.holders.is_empty() && self.waiters.is_empty()
    }
}

/// The lock service's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LockMachine {
    sessions: BTreeMap<u64, Session>,
    locks: BTreeMap<String, Lock>,
    counter: u64,
    /// Per client, its latest applied request and the answer (thesis §6.3).
    replies: BTreeMap<u64, (u64, LockResponse)>,
    #[serde(skip)]
    bugs: BugSet,
}

impl LockMachine {
    /// An empty machine built with the planted bugs `bugs`.
    pub fn new(bugs: BugSet) -> Self {
        LockMachine {
            bugs,
            ..Self::default()
        }
    }

    pub fn sessions(&self) -> &BTreeMap<u64, Session> {
        &self.sessions
    }

    pub fn locks(&self) -> &BTreeMap<String, Lock> {
        &self.locks
    }

    /// Whether `session` ended here: the machine applied a request of it (so its opening, which
    /// is each session's first request) and no longer has it. Only an end removes a session,
    /// and a session never comes back (its id is not reused: a late copy of its opening is a
    /// duplicate).
    pub fn has_ended(&self, session: u64) -> bool {
        self.replies.contains_key(&session) && !self.sessions.contains_key(&session)
    }

    /// The latest request of `client` this machine applied (its number) and its answer.
    pub fn last_reply(&self, client: u64) -> Option<(u64, &LockResponse)> {
        self.replies.get(&client).map(|(seq, r)| (*seq, r))
    }

    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// Every `(lock, session, mode, token)` held now, in order.
    pub fn holdings(&self) -> impl Iterator<Item = (&str, u64, Mode, u64)> {
        self.locks.iter().flat_map(|(name, lock)| {
            lock.holders
                .iter()
                .map(move |(&s, &(mode, token))| (name.as_str(), s, mode, token))
        })
    }

    fn execute(&mut self, index: u64, request: &LockRequest) -> LockResponse {
        let now = request.now;
        let client = request.client;
        match &request.op {
            LockOp::OpenSession { node, ttl } => {
                let expires_at = now.saturating_add(*ttl);
                let session = Session {
                    node: *node,
                    ttl: *ttl,
                    expires_at,
                };
                self.sessions.insert(client, session);
                LockResponse::Alive { expires_at }
            }
            LockOp::KeepAlive => match self.sessions.get_mut(&client) {
                Some(session) => {
                    session.expires_at = session.expires_at.max(now.saturating_add(session.ttl));
                    LockResponse::Alive {
                        expires_at: session.expires_at,
                    }
                }
                None => LockResponse::NoSession,
            },
            LockOp::Acquire { lock, mode, wait } => {
                let unchecked = self.bugs.has(Bug::AcquireWithoutSession);
                if !unchecked && !self.sessions.contains_key(&client) {
                    return LockResponse::NoSession;
                }
                self.acquire(index, client, lock, *mode, *wait)
            }
            LockOp::Release { lock } => self.release(index, client, lock),
            LockOp::Expire { session } => {
                let due = self
                    .sessions
                    .get(session)
                    .is_some_and(|s| s.expires_at <= now);
                if due {
                    self.end_session(index, *session);
                }
                LockResponse::Expired { ended: due }
            }
            LockOp::CounterGet => LockResponse::Counter {
                value: self.counter,
            },
            LockOp::CounterCas { expected, new } => {
                if self.counter == *expected {
                    self.counter = *new;
                    LockResponse::Counter { value: *new }
                } else {
                    LockResponse::CasFailed {
                        current: self.counter,
                    }
                }
            }
        }
    }

    /// Whether `mode` may join the current holders of `lock` (readers share; a writer is alone).
    fn compatible(&self, lock: &Lock, mode: Mode) -> bool {
        match mode {
            Mode::Write if self.bugs.has(Bug::WriterIgnoresReaders) => {
                lock.holders.values().all(|&(m, _)| m == Mode::Read)
            }
            Mode::Write => lock.holders.is_empty(),
            Mode::Read => lock.holders.values().all(|&(m, _)| m == Mode::Read),
        }
    }

    fn acquire(
        &mut self,
        index: u64,
        session: u64,
        name: &str,
        mode: Mode,
        wait: bool,
    ) -> LockResponse {
        let lock = self.locks.entry(name.to_string()).or_default();
        if let Some(&(_, token)) = lock.holders.get(&session) {
            return LockResponse::Granted { token };
        }
        if lock.waiters.iter().any(|&(s, _)| s == session) {
            return LockResponse::Queued;
        }
        let lock = &self.locks[name];
        // Waiters are served in order: a newcomer never overtakes the queue.
        if lock.waiters.is_empty() && self.compatible(lock, mode) {
            let token = self.grant(index, session, name, mode);
            return LockResponse::Granted { token };
        }
        if !wait {
            self.drop_if_free(name);
            return LockResponse::Busy;
        }
        if let Some(lock) = self.locks.get_mut(name) {
            lock.waiters.push_back((session, mode));
        }
        LockResponse::Queued
    }

    fn grant(&mut self, index: u64, session: u64, name: &str, mode: Mode) -> u64 {
        let resets = self.bugs.has(Bug::TokenResetsWhenFree);
        let lock = self.locks.entry(name.to_string()).or_default();
        lock.grants += 1;
        let token = if resets { lock.grants } else { index };
        lock.holders.insert(session, (mode, token));
        token
    }

    fn release(&mut self, index: u64, session: u64, name: &str) -> LockResponse {
        let any_owner = self.bugs.has(Bug::ReleaseAnyOwner);
        let Some(lock) = self.locks.get_mut(name) else {
            return LockResponse::NotHeld;
        };
        let response = if lock.holders.remove(&session).is_some() {
            LockResponse::Released
        } else if let Some(at) = lock.waiters.iter().position(|&(s, _)| s == session) {
            lock.waiters.remove(at);
            LockResponse::Released
        } else if any_owner && !lock.holders.is_empty() {
            // The planted bug: the release is not checked against its owner.
            lock.holders.clear();
            LockResponse::Released
        } else {
            LockResponse::NotHeld
        };
        self.grant_waiters(index, name);
        response
    }

    /// Hands a lock that fell (partly) free to the waiters at the head of its queue: one writer,
    /// or every reader up to the next writer.
    fn grant_waiters(&mut self, index: u64, name: &str) {
        loop {
            let Some(lock) = self.locks.get(name) else {
                return;
            };
            let Some(&(session, mode)) = lock.waiters.front() else {
                break;
            };
            if !self.compatible(lock, mode) {
                break;
            }
            if let Some(lock) = self.locks.get_mut(name) {
                lock.waiters.pop_front();
            }
            self.grant(index, session, name, mode);
        }
        self.drop_if_free(name);
    }

    /// Forgets a lock nobody holds or waits for. Its grant count goes with it, which is harmless
    /// because tokens are log indices (and is the planted bug when they are that count).
    fn drop_if_free(&mut self, name: &str) {
        if self.locks.get(name).is_some_and(Lock::is_free) {
            self.locks.remove(name);
        }
    }

    /// Ends `session`: its locks are released, its places in queues given up.
    fn end_session(&mut self, index: u64, session: u64) {
        self.sessions.remove(&session);
        let names: Vec<String> = self.locks.keys().cloned().collect();
        for name in names {
            if let Some(lock) = self.locks.get_mut(&name) {
                lock.holders.remove(&session);
                lock.waiters.retain(|&(s, _)| s != session);
            }
            self.grant_waiters(index, &name);
        }
    }
}

impl StateMachine for LockMachine {
    type Request = LockRequest;
    type Response = LockResponse;

    fn client_seq(request: &LockRequest) -> (u64, u64) {
        (request.client, request.seq)
    }

    fn apply(&mut self, index: u64, request: &LockRequest) -> Applied<LockResponse> {
        if request.client != SERVICE_CLIENT {
            if let Some((seq, response)) = self.replies.get(&request.client) {
                if request.seq == *seq {
                    return Applied::Duplicate(response.clone());
                }
                if request.seq < *seq {
                    return Applied::Stale;
                }
            }
        }
        let response = self.execute(index, request);
        if request.client != SERVICE_CLIENT {
            self.replies
                .insert(request.client, (request.seq, response.clone()));
        }
        Applied::Fresh(response)
    }

    fn session(&self, client: u64) -> Option<(u64, &LockResponse)> {
        if client == SERVICE_CLIENT {
            return None;
        }
        self.replies.get(&client).map(|(seq, r)| (*seq, r))
    }

    fn is_read(request: &LockRequest) -> bool {
        matches!(request.op, LockOp::CounterGet)
    }

    fn read(&self, _request: &LockRequest) -> LockResponse {
        LockResponse::Counter {
            value: self.counter,
        }
    }

    fn not_served(leader: Option<NodeId>) -> LockResponse {
        match leader {
            Some(to) => LockResponse::Redirect { to },
            None => LockResponse::Unavailable,
        }
    }

    fn size(&self) -> usize {
        self.locks.len()
    }
}

/// One test per rule of the machine, applying requests directly.
#[cfg(test)]
mod tests {
    use super::*;

    fn request(client: u64, seq: u64, op: LockOp, now_ms: u64) -> LockRequest {
        LockRequest {
            client,
            seq,
            op,
            now: SimTime(now_ms * 1_000_000),
        }
    }

    fn acquire(mode: Mode) -> LockOp {
        LockOp::Acquire {
            lock: "L".into(),
            mode,
            wait: true,
        }
    }

    /// A machine with sessions 1, 2 and 3 open at t=0 with a 1s ttl; the next index is 4.
    fn machine(bugs: &[Bug]) -> LockMachine {
        let mut m = LockMachine::new(BugSet::new(bugs.iter().copied()));
        for client in 1..=3 {
            let open = LockOp::OpenSession {
                node: NodeId(client as u32),
                ttl: SimDuration::from_secs(1),
            };
            m.apply(client, &request(client, 1, open, 0));
        }
        m
    }

    fn answer(m: &mut LockMachine, index: u64, r: LockRequest) -> LockResponse {
        m.apply(index, &r)
            .response()
            .cloned()
            .expect("a fresh request")
    }

    /// A grant's token is the log index of the entry that granted it, so tokens only grow.
    #[test]
    fn the_fencing_token_is_the_grant_index() {
        let mut m = machine(&[]);
        assert_eq!(
            answer(&mut m, 4, request(1, 2, acquire(Mode::Write), 10)),
            LockResponse::Granted { token: 4 }
        );
        assert_eq!(
            answer(&mut m, 5, request(2, 2, acquire(Mode::Write), 10)),
            LockResponse::Queued
        );
        let release = LockOp::Release { lock: "L".into() };
        assert_eq!(
            answer(&mut m, 6, request(1, 3, release, 20)),
            LockResponse::Released
        );
        let holdings: Vec<_> = m.holdings().collect();
        assert_eq!(
            holdings,
            vec![("L", 2, Mode::Write, 6)],
            "the waiter got it at the release's index"
        );
    }

    /// Readers share; a writer waits for them, and readers behind a queued writer wait too.
    #[test]
    fn readers_share_and_waiters_are_served_in_order() {
        let mut m = machine(&[]);
        assert_eq!(
            answer(&mut m, 4, request(1, 2, acquire(Mode::Read), 0)),
            LockResponse::Granted { token: 4 }
        );
        assert_eq!(
            answer(&mut m, 5, request(2, 2, acquire(Mode::Write), 0)),
            LockResponse::Queued
        );
        assert_eq!(
            answer(&mut m, 6, request(3, 2, acquire(Mode::Read), 0)),
            LockResponse::Queued
        );
    }

    /// The planted bug: a writer is granted beside a reader.
    #[test]
    fn writer_ignores_readers_grants_a_writer_beside_a_reader() {
        let mut m = machine(&[Bug::WriterIgnoresReaders]);
        answer(&mut m, 4, request(1, 2, acquire(Mode::Read), 0));
        assert_eq!(
            answer(&mut m, 5, request(2, 2, acquire(Mode::Write), 0)),
            LockResponse::Granted { token: 5 }
        );
    }

    /// An expiry ends a session only if its deadline passed by the proposer's clock, releases its
    /// locks and hands them on; a keep-alive applied before moves the deadline.
    #[test]
    fn an_expiry_ends_only_a_session_whose_deadline_passed() {
        let mut m = machine(&[]);
        answer(&mut m, 4, request(1, 2, acquire(Mode::Write), 0));
        answer(&mut m, 5, request(2, 2, acquire(Mode::Write), 0));
        answer(&mut m, 6, request(1, 3, LockOp::KeepAlive, 500));
        let early = LockOp::Expire { session: 1 };
        assert_eq!(
            answer(&mut m, 7, request(SERVICE_CLIENT, 1, early, 1200)),
            LockResponse::Expired { ended: false }
        );
        let due = LockOp::Expire { session: 1 };
        assert_eq!(
            answer(&mut m, 8, request(SERVICE_CLIENT, 2, due, 1500)),
            LockResponse::Expired { ended: true }
        );
        assert_eq!(
            m.holdings().collect::<Vec<_>>(),
            vec![("L", 2, Mode::Write, 8)]
        );
        let late = request(1, 4, acquire(Mode::Write), 1600);
        assert_eq!(answer(&mut m, 9, late), LockResponse::NoSession);
    }

    /// A session has ended once the machine applied a request of it and no longer has it; its
    /// latest answer is the one its last applied request got, and a request applied after the end
    /// finds no session (the rule `lock.linearizable` settles given-up operations by).
    #[test]
    fn a_session_has_ended_once_applied_and_gone_and_its_last_answer_is_kept() {
        let mut m = machine(&[]);
        assert!(!m.has_ended(1) && !m.has_ended(9), "open, and never seen");
        answer(&mut m, 4, request(1, 2, acquire(Mode::Write), 0));
        assert_eq!(
            m.last_reply(1),
            Some((2, &LockResponse::Granted { token: 4 }))
        );
        let due = LockOp::Expire { session: 1 };
        answer(&mut m, 5, request(SERVICE_CLIENT, 1, due, 1500));
        assert!(m.has_ended(1) && !m.has_ended(2));
        let late = request(1, 3, LockOp::Release { lock: "L".into() }, 1600);
        assert_eq!(answer(&mut m, 6, late), LockResponse::NotHeld);
        assert_eq!(m.last_reply(1), Some((3, &LockResponse::NotHeld)));
        assert!(m.has_ended(1), "a session never comes back");
        let copy = request(
            1,
            1,
            LockOp::OpenSession {
                node: NodeId(1),
                ttl: SimDuration::from_secs(1),
            },
            1700,
        );
        assert!(
            m.apply(7, &copy).response().is_none(),
            "a late copy of the opening is stale"
        );
        assert!(m.has_ended(1));
    }

    /// Thesis §6.3: a retried `(client, seq)` gets the recorded answer and is not applied twice.
    #[test]
    fn a_retried_request_is_applied_once() {
        let mut m = machine(&[]);
        let r = request(1, 2, acquire(Mode::Write), 0);
        assert_eq!(
            answer(&mut m, 4, r.clone()),
            LockResponse::Granted { token: 4 }
        );
        assert_eq!(
            m.apply(5, &r),
            Applied::Duplicate(LockResponse::Granted { token: 4 })
        );
    }

    /// Only the owner releases; the planted bug lets anyone.
    #[test]
    fn only_the_owner_releases_a_lock() {
        for (bugs, expected) in [
            (vec![], LockResponse::NotHeld),
            (vec![Bug::ReleaseAnyOwner], LockResponse::Released),
        ] {
            let mut m = machine(&bugs);
            answer(&mut m, 4, request(1, 2, acquire(Mode::Write), 0));
            let release = LockOp::Release { lock: "L".into() };
            assert_eq!(answer(&mut m, 5, request(2, 2, release, 0)), expected);
        }
    }

    /// The counter's compare-and-set changes it only on a match.
    #[test]
    fn the_counter_changes_only_on_a_matching_cas() {
        let mut m = machine(&[]);
        let cas = |expected, new| LockOp::CounterCas { expected, new };
        assert_eq!(
            answer(&mut m, 4, request(1, 2, cas(0, 1), 0)),
            LockResponse::Counter { value: 1 }
        );
        assert_eq!(
            answer(&mut m, 5, request(2, 2, cas(0, 2), 0)),
            LockResponse::CasFailed { current: 1 }
        );
    }
}
