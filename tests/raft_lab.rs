//! The MIT 6.824 / 6.5840 Raft lab tests (Lab 2A election, 2B agreement, 2C persistence, 2D
//! snapshots, `src/raft/test_test.go`), and a few cluster-level cases of etcd raft's
//! `raft_paper_test.go`, ported case by case to our simulator.
//!
//! The harness, [`Cluster`], plays the part of the lab's `config.go`: it owns the runner's
//! `sim_runner::Cluster` of [`RaftSuite`] (the one driver every test and the runner share),
//! connects and disconnects servers
//! (`connect`/`disconnect`, a reachability relation composed from the connected set), crashes
//! and restarts them (`crash`/`restart`, like `crash1`/`start1`: a crashed server comes back
//! disconnected), steps the simulation for a span of simulated time while feeding every
//! `raft.*` check of the suite the observations the runner would (`run_for`; an always-check
//! violation fails the test with the check's message), and offers the lab's helpers:
//! `check_one_leader`, `check_no_leader`, `check_terms`, `one`, `n_committed`, `wait`, and
//! `start` (the lab's `rf.Start`). Like the lab's applier it records what each server applied at
//! each index and fails when two servers (or one server before and after a restart) applied
//! different commands at one index, or a server applied out of order.
//!
//! Clients are the scripted [`LabClient`] workload: the harness queues `KvRequest`s (each
//! command a `Put` of a unique key, under its own client id so that sessions never merge two
//! commands) and the client sends them at its next 1ms tick, following `Redirect` hints where
//! asked. It also runs the lab's background committers (`TestUnreliableAgree2C`) and churn
//! clients (`internalChurn`).
//!
//! Adaptations, said once here and again where they matter: every term starts with a no-op
//! entry (§8), so indices are one or more past the lab's; an RPC is two of our messages (request
//! and reply), so message bounds are the lab's RPC bounds doubled; the lab's real-time bounds
//! (`RaftElectionTimeout` = 1s, "a leader within 5 seconds", `one`'s 10s and 2s) are kept as
//! simulated time; every test runs the lab's full iteration counts, over five seeds.
//! The kv checks of the suite (`kv.*`) are left out: they judge `sim-kv`'s own workload, which
//! these tests replace with the scripted client.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::rc::Rc;

use sim_core::{
    rng, Check, ClientCtx, ClusterInfo, Latency, NetworkConfig, NodeId, Reachability, RequestId,
    SimConfig, SimDuration, SimRng, SimTime, Step, Suite, Trace, TraceEvent, TraceSink, Workload,
};
use sim_kv::{KvOp, KvRequest, KvResponse, WorkloadParams};
use sim_raft::node::LOG;
use sim_raft::{CheckParams, Command, Message, Params, RaftEvent, RaftNode, RaftSuite, Role};

/// The lab's `RaftElectionTimeout`: the unit its tests sleep in.
const RAFT_ELECTION_TIMEOUT: SimDuration = SimDuration::from_secs(1);
/// The lab's `SnapShotInterval`: a snapshot every this many applied entries.
const SNAPSHOT_INTERVAL: u64 = 10;
/// The lab's `MAXLOGSIZE` is 2000 bytes of persisted Raft state; in entries (about 40 bytes
/// each in the lab) that is 50 durable log entries past the snapshot.
const MAX_LOG_ENTRIES: usize = 50;
/// Entries a snapshot covers that stay in the log for followers a little behind
/// (`snapshot_catch_up`; the default 100 would not fit in [`MAX_LOG_ENTRIES`]). A round of
/// `snapcommon` sends up to one and a half snapshot intervals of commands at once, and a
/// follower can miss all of them: when the first append of the burst is overtaken by the
/// others, it rejects every one (TestSnapshotBasic2D seed 3 missed 14).
const SNAPSHOT_CATCH_UP: u64 = 2 * SNAPSHOT_INTERVAL;
/// How often the scripted client looks at what the harness queued.
const CLIENT_TICK: SimDuration = SimDuration::from_millis(1);
/// The event limit of one test run; reaching it fails the test.
const MAX_EVENTS: u64 = 5_000_000;

fn ms(millis: u64) -> SimDuration {
    SimDuration::from_millis(millis)
}

fn n(i: usize) -> NodeId {
    NodeId(i as u32)
}

// ----- The scripted client -----

/// What the harness asks the client to send.
struct Submission {
    node: NodeId,
    request: KvRequest,
    /// How many `Redirect` hints to follow.
    redirects: u32,
}

/// A command retried until some leader answers it (the lab's `go cfg.one(...)` committers).
struct Background {
    request: KvRequest,
    next_node: usize,
    retry_at: SimTime,
}

/// One churn client of `internalChurn`: it offers a fresh value to every server, keeps it if a
/// leader answers within the lab's 380ms of waiting, and backs off when nobody leads.
struct ChurnClient {
    me: u64,
    /// The client id of the value it is waiting on, and since when.
    current: Option<(u64, SimTime)>,
    not_leader: usize,
    next_at: SimTime,
}

/// State shared by the harness and the client workload.
#[derive(Default)]
struct Board {
    outbox: Vec<Submission>,
    /// Request id -> (the request, hints still to follow).
    sent: BTreeMap<RequestId, (KvRequest, u32)>,
    /// Client ids a server answered `Done`.
    done: BTreeSet<u64>,
    background: BTreeMap<u64, Background>,
    churn: Vec<ChurnClient>,
    churn_stopped: bool,
    /// Values a leader acknowledged to a churn client: (client id, value).
    churn_acked: Vec<(u64, String)>,
    next_client: u64,
}

impl Board {
    /// A fresh command: a put of a unique key, under its own client id.
    fn command(&mut self, value: &str) -> KvRequest {
        self.next_client += 1;
        let client = self.next_client;
        KvRequest {
            client,
            seq: 1,
            op: KvOp::Put {
                key: format!("k{client}"),
                value: value.to_string(),
            },
        }
    }
}

/// The client workload: sends what the harness queued, follows hints, runs background
/// committers and churn clients. Everything happens on its 1ms tick or in `on_reply`.
struct LabClient {
    board: Rc<RefCell<Board>>,
}

impl LabClient {
    fn send(board: &mut Board, ctx: &mut ClientCtx<'_, RaftNode>, s: Submission) {
        let id = ctx.submit(s.node, s.request.clone());
        board.sent.insert(id, (s.request, s.redirects));
    }
}

impl Workload<RaftNode> for LabClient {
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, RaftNode>) {
        ctx.wake_after(CLIENT_TICK, 0);
    }

    fn on_reply(
        &mut self,
        ctx: &mut ClientCtx<'_, RaftNode>,
        _: NodeId,
        id: RequestId,
        response: KvResponse,
    ) {
        let mut board = self.board.borrow_mut();
        let Some((request, redirects)) = board.sent.remove(&id) else {
            return;
        };
        let client = request.client;
        match response {
            KvResponse::Done => {
                board.done.insert(client);
                board.background.remove(&client);
                let stopped = board.churn_stopped;
                let now = ctx.now();
                let mut acked = None;
                for c in board.churn.iter_mut() {
                    if c.current.is_some_and(|(k, _)| k == client) {
                        c.current = None;
                        c.next_at = now;
                        acked = Some(client);
                    }
                }
                if let (Some(client), false) = (acked, stopped) {
                    let value = format!("churn-{client}");
                    board.churn_acked.push((client, value));
                }
            }
            KvResponse::Redirect { .. } | KvResponse::Unavailable => {
                let leader = match response {
                    KvResponse::Redirect { to } => Some(to),
                    _ => None,
                };
                if let (Some(leader), true) = (leader, redirects > 0) {
                    let s = Submission {
                        node: leader,
                        request,
                        redirects: redirects - 1,
                    };
                    LabClient::send(&mut board, ctx, s);
                    return;
                }
                let node_count = ctx.node_count();
                let now = ctx.now();
                for c in board.churn.iter_mut() {
                    if c.current.is_some_and(|(k, _)| k == client) {
                        c.not_leader += 1;
                        if c.not_leader == node_count {
                            // Nobody leads: the lab's client sleeps 79 + 17·me ms.
                            c.current = None;
                            c.next_at = now + ms(79 + 17 * c.me);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, RaftNode>, _: u64) {
        let mut board = self.board.borrow_mut();
        let board = &mut *board;
        for s in std::mem::take(&mut board.outbox) {
            LabClient::send(board, ctx, s);
        }
        let now = ctx.now();
        let node_count = ctx.node_count();
        let mut resend = Vec::new();
        for b in board.background.values_mut() {
            if b.retry_at <= now {
                resend.push(Submission {
                    node: n(b.next_node % node_count),
                    request: b.request.clone(),
                    redirects: 1,
                });
                b.next_node += 1;
                b.retry_at = now + ms(500);
            }
        }
        for s in resend {
            LabClient::send(board, ctx, s);
        }
        if !board.churn_stopped {
            for k in 0..board.churn.len() {
                let c = &board.churn[k];
                // The lab waits 10 + 20 + 50 + 100 + 200 ms for a value to commit.
                let expired = c.current.is_some_and(|(_, at)| now >= at + ms(380));
                if expired || (c.current.is_none() && c.next_at <= now) {
                    let value = format!("churn-{}", board.next_client + 1);
                    let request = board.command(&value);
                    let client = request.client;
                    let c = &mut board.churn[k];
                    c.current = Some((client, now));
                    c.not_leader = 0;
                    for node in 0..node_count {
                        let s = Submission {
                            node: n(node),
                            request: request.clone(),
                            redirects: 0,
                        };
                        LabClient::send(board, ctx, s);
                    }
                }
            }
        }
        ctx.wake_after(CLIENT_TICK, 0);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A trace sink that counts the bytes of the messages servers send each other (the lab's
/// `bytesTotal`): the JSON line of every `send` event, which renders the whole message.
struct SendBytes(Rc<Cell<u64>>);

impl Write for SendBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let head = &buf[..buf.len().min(48)];
        if head.windows(11).any(|w| w == b"\"ev\":\"send\"") {
            self.0.set(self.0.get() + buf.len() as u64);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A trace sink that counts the InstallSnapshot messages servers send, matching the typed send
/// events of the trace.
struct InstallSnapshotsSent(Rc<Cell<u64>>);

impl TraceSink<RaftNode> for InstallSnapshotsSent {
    fn record(&mut self, _: SimTime, event: &TraceEvent<'_, RaftNode>) -> std::io::Result<()> {
        if let TraceEvent::Send {
            msg: Message::InstallSnapshot { .. },
            ..
        } = event
        {
            self.0.set(self.0.get() + 1);
        }
        Ok(())
    }
}

// ----- The harness: the lab's config.go -----

/// The network of the lab's `setunreliable(true)`: 10% of messages lost, some duplicated, and
/// delays up to 27ms that reorder them.
fn unreliable_network() -> NetworkConfig {
    NetworkConfig {
        latency: Latency::Uniform {
            min: ms(1),
            max: ms(27),
        },
        drop_probability: 0.1,
        duplicate_probability: 0.05,
    }
}

/// The lab's `setlongreordering(true)`: on top of the unreliable network, two thirds of the
/// messages are held back by 200ms to about 2 seconds.
fn long_reordering_network() -> NetworkConfig {
    NetworkConfig {
        latency: Latency::LongTail {
            min: ms(1),
            max: ms(27),
            tail_probability: 0.66,
            tail_scale: ms(200),
            tail_shape: 1.0,
            tail_max: ms(2000),
        },
        ..unreliable_network()
    }
}

/// A simulated cluster under test, as the lab's `config`.
struct Cluster {
    name: &'static str,
    seed: u64,
    /// The suite's processes with its `raft.*` checks, fed at every step.
    cluster: sim_runner::Cluster<RaftSuite>,
    board: Rc<RefCell<Board>>,
    connected: Vec<bool>,
    /// The test's own random choices (which server to cut, how long to sleep).
    rng: SimRng,
    /// What each server applied, by index (the lab's `cfg.logs`).
    applied: Vec<BTreeMap<u64, Command>>,
    /// The first command anyone applied at each index.
    log: BTreeMap<u64, Command>,
    /// Where each client's command was first applied.
    index_of: BTreeMap<u64, u64>,
    /// Per server, the last index it applied (reset from its state on restart).
    applied_upto: Vec<u64>,
    /// Per server, the end of the latest snapshot it installed from a leader.
    covered: Vec<u64>,
    snapshots_installed: u64,
    snapshots_taken: u64,
    restored_from_snapshot: u64,
    next_token: u64,
}

impl Cluster {
    /// The lab's `make_config(t, n, unreliable, snapshot)`; snapshots every
    /// [`SNAPSHOT_INTERVAL`] entries when `snapshot`, none otherwise (Labs 2A–2C have none).
    fn new(
        name: &'static str,
        seed: u64,
        servers: usize,
        unreliable: bool,
        snapshot: bool,
    ) -> Self {
        Self::with_trace(name, seed, servers, unreliable, snapshot, Trace::new(None))
    }

    fn with_trace(
        name: &'static str,
        seed: u64,
        servers: usize,
        unreliable: bool,
        snapshot: bool,
        trace: Trace<RaftNode>,
    ) -> Self {
        let params = Params {
            snapshot_threshold: if snapshot { SNAPSHOT_INTERVAL } else { 0 },
            snapshot_catch_up: SNAPSHOT_CATCH_UP,
            ..Params::default()
        };
        Self::with_params(name, seed, servers, unreliable, params, trace)
    }

    fn with_params(
        name: &'static str,
        seed: u64,
        servers: usize,
        unreliable: bool,
        params: Params,
        trace: Trace<RaftNode>,
    ) -> Self {
        let cluster = ClusterInfo::uniform(servers, SimDuration::from_secs(60), SimDuration::ZERO);
        let suite = RaftSuite::new(
            &cluster,
            params,
            WorkloadParams::default(),
            CheckParams::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: the suite rejects its parameters: {e}"));
        // The kv checks judge sim-kv's workload, which the scripted client replaces.
        let checks: Vec<Box<dyn Check<RaftNode>>> = suite
            .checks()
            .into_iter()
            .filter(|c| c.name().starts_with("raft."))
            .collect();
        let mut config = SimConfig::new(seed, servers);
        config.network = if unreliable {
            unreliable_network()
        } else {
            NetworkConfig::default()
        };
        config.max_events = MAX_EVENTS;
        let board = Rc::new(RefCell::new(Board::default()));
        let client = Box::new(LabClient {
            board: Rc::clone(&board),
        });
        let mut cluster =
            sim_runner::Cluster::with_parts(suite, config, trace, Some(client), checks);
        let rng = cluster.sim().streams().stream("lab");
        cluster.start();
        Cluster {
            name,
            seed,
            cluster,
            board,
            connected: vec![true; servers],
            rng,
            applied: vec![BTreeMap::new(); servers],
            log: BTreeMap::new(),
            index_of: BTreeMap::new(),
            applied_upto: vec![0; servers],
            covered: vec![0; servers],
            snapshots_installed: 0,
            snapshots_taken: 0,
            restored_from_snapshot: 0,
            next_token: 0,
        }
    }

    fn servers(&self) -> usize {
        self.cluster.sim().node_count()
    }

    fn now(&self) -> SimTime {
        self.cluster.sim().now()
    }

    /// Fails the test, naming it, its seed and the simulated time.
    #[track_caller]
    fn fail(&self, message: impl std::fmt::Display) -> ! {
        panic!(
            "{} (seed {}) at t={}: {message}",
            self.name,
            self.seed,
            self.now()
        )
    }

    /// A uniform draw in `[0, bound)` from the test's own stream.
    fn rand(&mut self, bound: u64) -> u64 {
        rng::between(&mut self.rng, 0, bound.saturating_sub(1))
    }

    fn raft(&self, i: usize) -> Option<&RaftNode> {
        self.cluster.sim().process(n(i))
    }

    /// The lab's `GetState`: (term, is leader), `None` while the server is down.
    fn get_state(&self, i: usize) -> Option<(u64, bool)> {
        self.raft(i).map(|p| (p.term(), p.role() == Role::Leader))
    }

    fn is_up(&self, i: usize) -> bool {
        self.raft(i).is_some()
    }

    // ----- Running and observing -----

    /// Steps the simulation for `duration` of simulated time, feeding the checks.
    fn run_for(&mut self, duration: SimDuration) {
        let deadline = self.now().saturating_add(duration);
        let token = self.next_token;
        self.next_token += 1;
        self.cluster.wake_at(deadline, token);
        loop {
            let Some(step) = self.cluster.step(deadline) else {
                self.fail_if_violated();
                if let Some(p) = self.cluster.sim().panic() {
                    self.fail(format!(
                        "a handler panicked on {:?} at t={}: {}",
                        p.node, p.time, p.message
                    ));
                }
                self.fail("the simulation stopped: event limit reached or queue empty");
            };
            match step {
                Step::Handled { node } => self.observe_handled(node),
                Step::External(t) if t == token => return,
                _ => {}
            }
        }
    }

    /// An always-check's violation fails the test.
    fn fail_if_violated(&self) {
        if let Some((name, v)) = self.cluster.violation() {
            self.fail(format!("{name} violated at t={}: {}", v.time, v.message));
        }
    }

    fn observe_handled(&mut self, node: NodeId) {
        self.fail_if_violated();
        let events = self.cluster.sim().reports().to_vec();
        let Some(p) = self.cluster.process(node) else {
            return;
        };
        let applied: Vec<(u64, Command)> = p
            .applied_now()
            .iter()
            .map(|a| (a.index, a.command.clone()))
            .collect();
        let last_applied = p.last_applied();
        let i = node.index();
        for event in &events {
            match *event {
                RaftEvent::SnapshotInstalled { index, .. } => {
                    self.snapshots_installed += 1;
                    self.check_snapshot_state(node, index);
                    self.covered[i] = self.covered[i].max(index);
                    self.applied_upto[i] = index;
                }
                RaftEvent::SnapshotTaken { .. } => self.snapshots_taken += 1,
                _ => {}
            }
        }
        for (index, command) in applied {
            // The lab's applier: "server %v apply out of order %v".
            if index != self.applied_upto[i] + 1 {
                self.fail(format!(
                    "server {node} apply out of order: index {index} after {}",
                    self.applied_upto[i]
                ));
            }
            self.applied_upto[i] = index;
            self.record_apply(node, index, command);
        }
        if self.applied_upto[i] != last_applied {
            self.fail(format!(
                "server {node} says it applied up to {last_applied}, but the harness saw {}",
                self.applied_upto[i]
            ));
        }
    }

    /// The lab's `checkLogs`: one command per index across servers and restarts.
    fn record_apply(&mut self, node: NodeId, index: u64, command: Command) {
        if let Some(first) = self.log.get(&index) {
            if !first.same(&command) {
                let who = (0..self.servers())
                    .find(|&j| self.applied[j].get(&index).is_some_and(|c| c.same(first)))
                    .map_or("?".to_string(), |j| n(j).to_string());
                self.fail(format!(
                    "commit index={index} server={node} {command:?} != server={who} {first:?}"
                ));
            }
        } else {
            self.log.insert(index, command.clone());
        }
        if let Command::Kv(request) = &command {
            self.index_of.entry(request.client).or_insert(index);
        }
        self.applied[node.index()].insert(index, command);
    }

    /// The lab's `ingestSnap`: an installed snapshot holds every command applied up to its end
    /// (each command put its own key, so the key must be there with its value).
    fn check_snapshot_state(&self, node: NodeId, index: u64) {
        let Some(p) = self.cluster.sim().process(node) else {
            return;
        };
        for (&at, command) in self.log.range(..=index) {
            if let Command::Kv(request) = command {
                if let KvOp::Put { key, value } = &request.op {
                    if p.kv().get(key) != Some(value) {
                        self.fail(format!(
                            "{node} installed a snapshot up to index {index} without the put \
                             applied at index {at} ({key} = {value:?})"
                        ));
                    }
                }
            }
        }
    }

    // ----- Faults -----

    fn set_reachability(&mut self) {
        let count = self.servers();
        let mut reachability = Reachability::full(count);
        for a in 0..count {
            for b in 0..count {
                if !(self.connected[a] && self.connected[b]) {
                    reachability.cut(n(a), n(b));
                }
            }
        }
        self.cluster.replace_partitions(reachability);
        self.fail_if_violated();
    }

    /// The lab's `disconnect(i)`: server `i` neither sends nor receives.
    fn disconnect(&mut self, i: usize) {
        self.connected[i] = false;
        self.set_reachability();
    }

    /// The lab's `connect(i)`: server `i` reaches every other connected server again.
    fn connect(&mut self, i: usize) {
        self.connected[i] = true;
        self.set_reachability();
    }

    /// The lab's `crash1(i)`: disconnected and killed; only its synced storage survives.
    fn crash(&mut self, i: usize) {
        self.disconnect(i);
        if self.is_up(i) {
            self.cluster.crash(n(i));
            self.fail_if_violated();
        }
    }

    /// The lab's `start1(i)`: crash it if it is up, then boot a fresh server from its storage.
    /// It stays disconnected until `connect(i)`.
    fn restart(&mut self, i: usize) {
        self.crash(i);
        self.cluster.restart(n(i));
        self.fail_if_violated();
        let Some(p) = self.raft(i) else {
            self.fail(format!("{} did not come back up", n(i)));
        };
        let (last_applied, snapshot_index) = (p.last_applied(), p.log().snapshot_index());
        if snapshot_index > 0 {
            self.restored_from_snapshot += 1;
        }
        self.applied_upto[i] = last_applied;
    }

    fn set_network(&mut self, network: NetworkConfig) {
        self.cluster.set_network(network);
        self.fail_if_violated();
    }

    /// The lab's `setunreliable(false)`.
    fn set_reliable(&mut self) {
        self.set_network(NetworkConfig::default());
    }

    // ----- The lab's helpers -----

    /// The lab's `checkOneLeader`: up to ten polls about half a second apart; among the connected
    /// servers at most one leader per term, and the leader of the latest term is returned.
    fn check_one_leader(&mut self) -> usize {
        for _ in 0..10 {
            let pause = 450 + self.rand(100);
            self.run_for(ms(pause));
            let mut leaders: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for i in 0..self.servers() {
                if let (true, Some((term, true))) = (self.connected[i], self.get_state(i)) {
                    leaders.entry(term).or_default().push(i);
                }
            }
            for (term, ls) in &leaders {
                if ls.len() > 1 {
                    self.fail(format!("term {term} has {} (>1) leaders", ls.len()));
                }
            }
            if let Some((_, ls)) = leaders.last_key_value() {
                return ls[0];
            }
        }
        self.fail("expected one leader, got none")
    }

    /// The lab's `checkNoLeader`: no connected server thinks it leads.
    fn check_no_leader(&self) {
        for i in 0..self.servers() {
            if let (true, Some((_, true))) = (self.connected[i], self.get_state(i)) {
                self.fail(format!(
                    "expected no leader among connected servers, but {} claims to be leader",
                    n(i)
                ));
            }
        }
    }

    /// The lab's `checkTerms`: every connected server is in the same term, which is returned.
    fn check_terms(&self) -> u64 {
        let mut term = None;
        for i in 0..self.servers() {
            let (true, Some((t, _))) = (self.connected[i], self.get_state(i)) else {
                continue;
            };
            match term {
                None => term = Some(t),
                Some(other) if other != t => {
                    self.fail(format!("servers disagree on term: {other} and {t}"))
                }
                Some(_) => {}
            }
        }
        term.unwrap_or(0)
    }

    /// The lab's `nCommitted(index)`: how many servers applied the entry at `index`, and what it
    /// was; fails if they disagree. A server that installed a snapshot covering `index` counts
    /// (its state was checked against the command when it installed it).
    fn n_committed(&self, index: u64) -> (usize, Option<Command>) {
        let mut count = 0;
        let mut covered = 0;
        let mut command: Option<&Command> = None;
        for i in 0..self.servers() {
            match self.applied[i].get(&index) {
                Some(c) => {
                    if let Some(other) = command {
                        if !other.same(c) {
                            self.fail(format!(
                                "committed values do not match: index {index}, {other:?}, {c:?}"
                            ));
                        }
                    }
                    command = Some(c);
                    count += 1;
                }
                None if self.covered[i] >= index => covered += 1,
                None => {}
            }
        }
        match command {
            Some(c) => (count + covered, Some(c.clone())),
            None => (0, None),
        }
    }

    /// A fresh command carrying `value`.
    fn command(&self, value: &str) -> KvRequest {
        self.board.borrow_mut().command(value)
    }

    /// Queues `request` for server `i`; the client sends it at its next tick.
    fn submit(&self, i: usize, request: KvRequest, redirects: u32) {
        self.board.borrow_mut().outbox.push(Submission {
            node: n(i),
            request,
            redirects,
        });
    }

    /// The lab's `rf.Start(cmd)` for several commands at once: each goes to server `i`, and
    /// after it has arrived the index it got in `i`'s log is returned (`None`: `i` did not take
    /// it, because it is not the leader or is down).
    fn start_many(&mut self, i: usize, values: &[String]) -> Vec<Option<u64>> {
        let requests: Vec<KvRequest> = values.iter().map(|v| self.command(v)).collect();
        for r in &requests {
            self.submit(i, r.clone(), 0);
        }
        // One client tick and the client latency.
        self.run_for(ms(3));
        requests
            .iter()
            .map(|r| self.index_in_log(i, r.client))
            .collect()
    }

    /// The lab's `rf.Start(cmd)`.
    fn start(&mut self, i: usize, value: &str) -> Option<u64> {
        self.start_many(i, &[value.to_string()])[0]
    }

    /// Where server `i` holds the command of `client` in its log.
    fn index_in_log(&self, i: usize, client: u64) -> Option<u64> {
        let log = self.raft(i)?.log();
        (log.snapshot_index() + 1..=log.last_index())
            .rev()
            .find(|&k| {
                log.entry(k)
                    .is_some_and(|e| matches!(&e.command, Command::Kv(r) if r.client == client))
            })
    }

    /// The lab's `one(cmd, expectedServers, retry)`: offer the command to a connected server
    /// that claims to lead, and wait up to 2 seconds for `expected` servers to apply it; retry
    /// (if `retry`) for up to 10 seconds. Returns its index.
    fn one(&mut self, value: &str, expected: usize, retry: bool) -> u64 {
        let request = self.command(value);
        let client = request.client;
        let t0 = self.now();
        let mut starts = 0;
        while self.now().saturating_since(t0) < SimDuration::from_secs(10) {
            let mut submitted = false;
            for _ in 0..self.servers() {
                starts = (starts + 1) % self.servers();
                if let (true, Some((_, true))) = (self.connected[starts], self.get_state(starts)) {
                    self.submit(starts, request.clone(), 2);
                    submitted = true;
                    break;
                }
            }
            if !submitted {
                self.run_for(ms(50));
                continue;
            }
            let t1 = self.now();
            while self.now().saturating_since(t1) < SimDuration::from_secs(2) {
                if let Some(&index) = self.index_of.get(&client) {
                    let (nd, command) = self.n_committed(index);
                    let ours = matches!(&command, Some(Command::Kv(r)) if r.client == client);
                    if nd > 0 && nd >= expected && ours {
                        return index;
                    }
                }
                self.run_for(ms(20));
            }
            if !retry {
                self.fail(format!("one({value}) failed to reach agreement"));
            }
        }
        self.fail(format!("one({value}) failed to reach agreement"))
    }

    /// The lab's `wait(index, n, startTerm)`: until `count` servers applied `index`, backing
    /// off from 10ms to 1s; `None` if some server moved past `start_term` meanwhile.
    fn wait(&mut self, index: u64, count: usize, start_term: Option<u64>) -> Option<Command> {
        let mut to = ms(10);
        for _ in 0..30 {
            if self.n_committed(index).0 >= count {
                break;
            }
            self.run_for(to);
            if to < SimDuration::from_secs(1) {
                to = to.saturating_mul(2);
            }
            if let Some(start) = start_term {
                let moved_on = (0..self.servers())
                    .filter_map(|i| self.get_state(i))
                    .any(|(t, _)| t > start);
                if moved_on {
                    return None;
                }
            }
        }
        let (nd, command) = self.n_committed(index);
        if nd < count {
            self.fail(format!(
                "only {nd} decided for index {index}; wanted {count}"
            ));
        }
        command
    }

    /// Messages sent between servers so far (the lab's `rpcCount` summed; an RPC is two).
    fn messages(&self) -> u64 {
        self.cluster.sim().stats().messages_sent
    }

    /// The longest persisted log past a snapshot (the lab's `LogSize`), in entries.
    fn log_size(&self) -> usize {
        (0..self.servers())
            .map(|i| self.cluster.sim().storage(n(i)).entries(LOG).len())
            .max()
            .unwrap_or(0)
    }

    /// Ends the test: every `raft.*` check's final report must pass.
    fn end(self) {
        let (name, seed) = (self.name, self.seed);
        let finished = self.cluster.finish();
        for report in finished.checks {
            if let Some(v) = report.violation {
                panic!(
                    "{name} seed {seed} at t={}: {}: {}",
                    finished.phases.end, report.name, v.message
                );
            }
        }
    }
}

/// The value of the command at an index, for messages.
fn value_of(command: &Option<Command>) -> Option<String> {
    match command {
        Some(Command::Kv(r)) => match &r.op {
            KvOp::Put { value, .. } => Some(value.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The seeds every test runs: a handful, as the whole file must stay fast in debug builds.
fn seeds() -> std::ops::Range<u64> {
    0..5
}

// ----- 2A: leader election -----

/// 6.824 TestInitialElection2A: a leader is elected, every server agrees on its term, and with
/// no failure the term and the leader stay (the lab only warns on a term change; here it
/// fails: nothing in a reliable simulated network should cause one).
#[test]
fn test_initial_election_2a() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestInitialElection2A", seed, 3, false, false);
        cfg.check_one_leader();
        cfg.run_for(ms(50));
        let term1 = cfg.check_terms();
        if term1 < 1 {
            cfg.fail(format!("term is {term1}, but should be at least 1"));
        }
        cfg.run_for(RAFT_ELECTION_TIMEOUT.saturating_mul(2));
        let term2 = cfg.check_terms();
        if term1 != term2 {
            cfg.fail(format!(
                "term changed from {term1} to {term2} with no failures"
            ));
        }
        cfg.check_one_leader();
        cfg.end();
    }
}

/// 6.824 TestReElection2A: a new leader after the leader is cut off; the old one rejoining does
/// not disturb it; no leader without a quorum; a leader again once a quorum is back.
#[test]
fn test_re_election_2a() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestReElection2A", seed, 3, false, false);
        let servers = cfg.servers();
        let leader1 = cfg.check_one_leader();
        cfg.disconnect(leader1);
        cfg.check_one_leader();
        cfg.connect(leader1);
        let leader2 = cfg.check_one_leader();
        cfg.disconnect(leader2);
        cfg.disconnect((leader2 + 1) % servers);
        cfg.run_for(RAFT_ELECTION_TIMEOUT.saturating_mul(2));
        cfg.check_no_leader();
        cfg.connect((leader2 + 1) % servers);
        cfg.check_one_leader();
        cfg.connect(leader2);
        cfg.check_one_leader();
        cfg.end();
    }
}

/// 6.824 TestManyElections2A: seven servers; nine times three random servers are cut off, and
/// either the leader survives or the remaining four elect one. The lab's 10 iterations.
#[test]
fn test_many_elections_2a() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestManyElections2A", seed, 7, false, false);
        let servers = cfg.servers() as u64;
        cfg.check_one_leader();
        for _ in 1..10 {
            let i1 = cfg.rand(servers) as usize;
            let i2 = cfg.rand(servers) as usize;
            let i3 = cfg.rand(servers) as usize;
            cfg.disconnect(i1);
            cfg.disconnect(i2);
            cfg.disconnect(i3);
            cfg.check_one_leader();
            cfg.connect(i1);
            cfg.connect(i2);
            cfg.connect(i3);
        }
        cfg.check_one_leader();
        cfg.end();
    }
}

// ----- 2B: log agreement -----

/// 6.824 TestBasicAgree2B: three commands agreed in order, none before it was started. Our
/// leader's no-op takes index 1, so the commands land at 2, 3 and 4 (the lab's 1, 2, 3).
#[test]
fn test_basic_agree_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestBasicAgree2B", seed, 3, false, false);
        let servers = cfg.servers();
        for k in 1..=3u64 {
            let index = k + 1;
            let (nd, _) = cfg.n_committed(index);
            if nd > 0 {
                cfg.fail("some have committed before Start()");
            }
            let xindex = cfg.one(&(k * 100).to_string(), servers, false);
            if xindex != index {
                cfg.fail(format!("got index {xindex} but expected {index}"));
            }
        }
        cfg.end();
    }
}

/// 6.824 TestRPCBytes2B: ten 5000-byte commands are each sent to each follower once: the bytes
/// servers send each other stay within the lab's `servers * sent + 50000`. Bytes are those of
/// the messages as the trace renders them (the lab counts gob-encoded RPC arguments).
#[test]
fn test_rpc_bytes_2b() {
    for seed in seeds() {
        let bytes = Rc::new(Cell::new(0));
        let trace = Trace::new(Some(Box::new(SendBytes(Rc::clone(&bytes)))));
        let mut cfg = Cluster::with_trace("TestRPCBytes2B", seed, 3, false, false, trace);
        let servers = cfg.servers();
        cfg.one("99", servers, false);
        let bytes0 = bytes.get();
        let mut sent = 0u64;
        for k in 0..10u64 {
            let value: String = (0..5000)
                .map(|_| char::from(b'a' + cfg.rand(26) as u8))
                .collect();
            let xindex = cfg.one(&value, servers, false);
            let expected = k + 3;
            if xindex != expected {
                cfg.fail(format!("got index {xindex} but expected {expected}"));
            }
            sent += value.len() as u64;
        }
        let got = bytes.get() - bytes0;
        let expected = servers as u64 * sent;
        if got > expected + 50_000 {
            cfg.fail(format!(
                "too many RPC bytes; got {got}, expected {expected}"
            ));
        }
        cfg.end();
    }
}

/// 6.824 TestFollowerFailure2B: agreement survives one follower's loss; with both followers
/// gone the leader takes a command (at the lab's index 4; ours 5, after the no-op) that never
/// commits.
#[test]
fn test_follower_failure_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestFollowerFailure2B", seed, 3, false, false);
        let servers = cfg.servers();
        cfg.one("101", servers, false);
        let leader1 = cfg.check_one_leader();
        cfg.disconnect((leader1 + 1) % servers);
        cfg.one("102", servers - 1, false);
        cfg.run_for(RAFT_ELECTION_TIMEOUT);
        let last = cfg.one("103", servers - 1, false);
        let leader2 = cfg.check_one_leader();
        cfg.disconnect((leader2 + 1) % servers);
        cfg.disconnect((leader2 + 2) % servers);
        let Some(index) = cfg.start(leader2, "104") else {
            cfg.fail("leader rejected Start()");
        };
        if index != last + 1 {
            cfg.fail(format!("expected index {}, got {index}", last + 1));
        }
        cfg.run_for(RAFT_ELECTION_TIMEOUT.saturating_mul(2));
        let (nd, _) = cfg.n_committed(index);
        if nd > 0 {
            cfg.fail(format!("{nd} committed but no majority"));
        }
        cfg.end();
    }
}

/// 6.824 TestLeaderFailure2B: agreement survives the leader's loss; with the second leader gone
/// too, a command offered to every server commits nowhere.
#[test]
fn test_leader_failure_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestLeaderFailure2B", seed, 3, false, false);
        let servers = cfg.servers();
        cfg.one("101", servers, false);
        let leader1 = cfg.check_one_leader();
        cfg.disconnect(leader1);
        cfg.one("102", servers - 1, false);
        cfg.run_for(RAFT_ELECTION_TIMEOUT);
        let last = cfg.one("103", servers - 1, false);
        let leader2 = cfg.check_one_leader();
        cfg.disconnect(leader2);
        let requests: Vec<KvRequest> = (0..servers).map(|_| cfg.command("104")).collect();
        for (i, r) in requests.iter().enumerate() {
            cfg.submit(i, r.clone(), 0);
        }
        cfg.run_for(RAFT_ELECTION_TIMEOUT.saturating_mul(2));
        let (nd, _) = cfg.n_committed(last + 1);
        if nd > 0 {
            cfg.fail(format!("{nd} committed but no majority"));
        }
        if let Some(r) = requests
            .iter()
            .find(|r| cfg.index_of.contains_key(&r.client))
        {
            cfg.fail(format!(
                "104 (client {}) committed but no majority",
                r.client
            ));
        }
        cfg.end();
    }
}

/// 6.824 TestFailAgree2B: a follower cut off while four commands commit catches up when it
/// rejoins, and the full set agrees on new commands.
#[test]
fn test_fail_agree_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestFailAgree2B", seed, 3, false, false);
        let servers = cfg.servers();
        cfg.one("101", servers, false);
        let leader = cfg.check_one_leader();
        cfg.disconnect((leader + 1) % servers);
        cfg.one("102", servers - 1, false);
        cfg.one("103", servers - 1, false);
        cfg.run_for(RAFT_ELECTION_TIMEOUT);
        cfg.one("104", servers - 1, false);
        cfg.one("105", servers - 1, false);
        cfg.connect((leader + 1) % servers);
        cfg.one("106", servers, true);
        cfg.run_for(RAFT_ELECTION_TIMEOUT);
        cfg.one("107", servers, true);
        cfg.end();
    }
}

/// 6.824 TestFailNoAgree2B: with three of five followers cut off the leader's command does not
/// commit; after the repair a leader takes a new command at the next index or one past it (the
/// lab's 2 or 3; here one more may go to a new term's no-op), and all five agree.
#[test]
fn test_fail_no_agree_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestFailNoAgree2B", seed, 5, false, false);
        let servers = cfg.servers();
        let first = cfg.one("10", servers, false);
        let leader = cfg.check_one_leader();
        cfg.disconnect((leader + 1) % servers);
        cfg.disconnect((leader + 2) % servers);
        cfg.disconnect((leader + 3) % servers);
        let Some(index) = cfg.start(leader, "20") else {
            cfg.fail("leader rejected Start()");
        };
        if index != first + 1 {
            cfg.fail(format!("expected index {}, got {index}", first + 1));
        }
        cfg.run_for(RAFT_ELECTION_TIMEOUT.saturating_mul(2));
        let (nd, _) = cfg.n_committed(index);
        if nd > 0 {
            cfg.fail(format!("{nd} committed but no majority"));
        }
        cfg.connect((leader + 1) % servers);
        cfg.connect((leader + 2) % servers);
        cfg.connect((leader + 3) % servers);
        let leader2 = cfg.check_one_leader();
        let Some(index2) = cfg.start(leader2, "30") else {
            cfg.fail("leader2 rejected Start()");
        };
        if index2 < first + 1 || index2 > first + 3 {
            cfg.fail(format!("unexpected index {index2}"));
        }
        cfg.one("1000", servers, true);
        cfg.end();
    }
}

/// 6.824 TestConcurrentStarts2B: five commands started at once at the leader all commit, unless
/// the term changes (then the lab tries again, up to five times).
#[test]
fn test_concurrent_starts_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestConcurrentStarts2B", seed, 3, false, false);
        let servers = cfg.servers();
        let mut success = false;
        'tries: for attempt in 0..5 {
            if attempt > 0 {
                cfg.run_for(SimDuration::from_secs(3));
            }
            let leader = cfg.check_one_leader();
            let Some((term, _)) = cfg.get_state(leader) else {
                continue;
            };
            if cfg.start(leader, "1").is_none() {
                continue;
            }
            let values: Vec<String> = (0..5).map(|i| (100 + i).to_string()).collect();
            let indices = cfg.start_many(leader, &values);
            if (0..servers).any(|j| cfg.get_state(j).map(|s| s.0) != Some(term)) {
                continue;
            }
            let mut committed = Vec::new();
            for index in indices.into_iter().flatten() {
                match cfg.wait(index, servers, Some(term)) {
                    None => continue 'tries,
                    Some(command) => committed.extend(value_of(&Some(command))),
                }
            }
            for x in &values {
                if !committed.contains(x) {
                    cfg.fail(format!("cmd {x} missing in {committed:?}"));
                }
            }
            success = true;
            break;
        }
        if !success {
            cfg.fail("term changed too often");
        }
        cfg.end();
    }
}

/// 6.824 TestRejoin2B: a cut-off leader appends three entries nobody else has; a new leader
/// commits others; when the old leader comes back (while the second is cut off) its entries
/// give way, and all three agree at the end.
#[test]
fn test_rejoin_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestRejoin2B", seed, 3, false, false);
        let servers = cfg.servers();
        cfg.one("101", servers, true);
        let leader1 = cfg.check_one_leader();
        cfg.disconnect(leader1);
        let stale = cfg.start_many(leader1, &["102".into(), "103".into(), "104".into()]);
        if stale.iter().any(Option::is_none) {
            cfg.fail("the old leader rejected Start()");
        }
        cfg.one("103", 2, true);
        let leader2 = cfg.check_one_leader();
        cfg.disconnect(leader2);
        cfg.connect(leader1);
        cfg.one("104", 2, true);
        cfg.connect(leader2);
        cfg.one("105", servers, true);
        cfg.end();
    }
}

/// 6.824 TestBackup2B: a leader and one follower, cut off with the other three, take 50
/// commands that cannot commit; the three commit 50 of their own; then a second leader and one
/// follower take 50 more that cannot commit; the first pair rejoins the third server and must
/// catch up over the long divergent logs (fast backtracking) to commit 50 more; finally all five
/// agree. The lab's full sizes.
#[test]
fn test_backup_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestBackup2B", seed, 5, false, false);
        let servers = cfg.servers();
        let mut value = 0u64;
        let mut next = || {
            value += 1;
            value.to_string()
        };
        cfg.one(&next(), servers, true);
        let leader1 = cfg.check_one_leader();
        cfg.disconnect((leader1 + 2) % servers);
        cfg.disconnect((leader1 + 3) % servers);
        cfg.disconnect((leader1 + 4) % servers);
        let values: Vec<String> = (0..50).map(|_| next()).collect();
        cfg.start_many(leader1, &values);
        cfg.run_for(ms(500));
        cfg.disconnect(leader1 % servers);
        cfg.disconnect((leader1 + 1) % servers);
        cfg.connect((leader1 + 2) % servers);
        cfg.connect((leader1 + 3) % servers);
        cfg.connect((leader1 + 4) % servers);
        for _ in 0..50 {
            cfg.one(&next(), 3, true);
        }
        let leader2 = cfg.check_one_leader();
        let mut other = (leader1 + 2) % servers;
        if leader2 == other {
            other = (leader2 + 1) % servers;
        }
        cfg.disconnect(other);
        let values: Vec<String> = (0..50).map(|_| next()).collect();
        cfg.start_many(leader2, &values);
        cfg.run_for(ms(500));
        for i in 0..servers {
            cfg.disconnect(i);
        }
        cfg.connect(leader1 % servers);
        cfg.connect((leader1 + 1) % servers);
        cfg.connect(other);
        for _ in 0..50 {
            cfg.one(&next(), 3, true);
        }
        for i in 0..servers {
            cfg.connect(i);
        }
        cfg.one(&next(), servers, true);
        cfg.end();
    }
}

/// 6.824 TestCount2B: bounded messages for an election (the lab's 30 RPCs), for eleven
/// agreements ((iters + 1 + 3) * 3 RPCs) and for a second of idleness (3 * 20 RPCs); an RPC is
/// two messages here, so every bound is doubled. Pipelined appends overtake each other on the
/// network; a rejection of one that arrived early must not make the leader resend the suffix.
#[test]
fn test_count_2b() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestCount2B", seed, 3, false, false);
        let servers = cfg.servers();
        cfg.check_one_leader();
        let mut total1 = cfg.messages();
        if !(1..=30 * 2).contains(&total1) {
            cfg.fail(format!(
                "too many or few messages ({total1}) to elect initial leader"
            ));
        }
        let mut total2 = 0;
        let mut success = false;
        let iters = 10u64;
        'tries: for attempt in 0..5 {
            if attempt > 0 {
                cfg.run_for(SimDuration::from_secs(3));
            }
            let leader = cfg.check_one_leader();
            total1 = cfg.messages();
            let Some((term, _)) = cfg.get_state(leader) else {
                continue;
            };
            let values: Vec<String> = (0..iters + 2).map(|k| (1000 + k).to_string()).collect();
            let indices = cfg.start_many(leader, &values);
            let Some(starti) = indices[0] else {
                continue;
            };
            if cfg.get_state(leader).map(|s| s.0) != Some(term) {
                continue;
            }
            for (k, index) in indices.iter().enumerate() {
                if *index != Some(starti + k as u64) {
                    cfg.fail("Start() failed");
                }
            }
            for k in 1..=iters {
                let command = cfg.wait(starti + k, servers, Some(term));
                if command.is_none() {
                    continue 'tries;
                }
                let got = value_of(&command);
                if got.as_deref() != Some(values[k as usize].as_str()) {
                    cfg.fail(format!(
                        "wrong value {got:?} committed for index {}; expected {}",
                        starti + k,
                        values[k as usize]
                    ));
                }
            }
            if (0..servers).any(|j| cfg.get_state(j).map(|s| s.0) != Some(term)) {
                continue;
            }
            total2 = cfg.messages();
            let bound = (iters + 1 + 3) * 3 * 2;
            if total2 - total1 > bound {
                cfg.fail(format!(
                    "too many messages ({}) for {iters} entries (bound {bound})",
                    total2 - total1
                ));
            }
            success = true;
            break;
        }
        if !success {
            cfg.fail("term changed too often");
        }
        cfg.run_for(RAFT_ELECTION_TIMEOUT);
        let total3 = cfg.messages();
        if total3 - total2 > 3 * 20 * 2 {
            cfg.fail(format!(
                "too many messages ({}) for 1 second of idleness",
                total3 - total2
            ));
        }
        cfg.end();
    }
}

// ----- 2C: persistence -----

/// 6.824 TestPersist12C: agreement survives restarting every server, the leader, a cut-off
/// leader, and a follower.
#[test]
fn test_persist1_2c() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestPersist12C", seed, 3, false, false);
        let servers = cfg.servers();
        cfg.one("11", servers, true);
        for i in 0..servers {
            cfg.restart(i);
        }
        for i in 0..servers {
            cfg.disconnect(i);
            cfg.connect(i);
        }
        cfg.one("12", servers, true);
        let leader1 = cfg.check_one_leader();
        cfg.disconnect(leader1);
        cfg.restart(leader1);
        cfg.connect(leader1);
        cfg.one("13", servers, true);
        let leader2 = cfg.check_one_leader();
        cfg.disconnect(leader2);
        let index14 = cfg.one("14", servers - 1, true);
        cfg.restart(leader2);
        cfg.connect(leader2);
        // Wait for leader2 to join before cutting off i3 (the lab's wait(4, servers, -1)).
        cfg.wait(index14, servers, None);
        let i3 = (cfg.check_one_leader() + 1) % servers;
        cfg.disconnect(i3);
        cfg.one("15", servers - 1, true);
        cfg.restart(i3);
        cfg.connect(i3);
        cfg.one("16", servers, true);
        cfg.end();
    }
}

/// 6.824 TestPersist22C: five times, a leader commits with two followers cut off; then the
/// other side restarts and, joined by a restarted third, must carry on from what it persisted.
/// The lab's 5 iterations.
#[test]
fn test_persist2_2c() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestPersist22C", seed, 5, false, false);
        let servers = cfg.servers();
        let mut index = 1;
        for _ in 0..5 {
            cfg.one(&(10 + index).to_string(), servers, true);
            index += 1;
            let leader1 = cfg.check_one_leader();
            cfg.disconnect((leader1 + 1) % servers);
            cfg.disconnect((leader1 + 2) % servers);
            cfg.one(&(10 + index).to_string(), servers - 2, true);
            index += 1;
            cfg.disconnect(leader1 % servers);
            cfg.disconnect((leader1 + 3) % servers);
            cfg.disconnect((leader1 + 4) % servers);
            cfg.restart((leader1 + 1) % servers);
            cfg.restart((leader1 + 2) % servers);
            cfg.connect((leader1 + 1) % servers);
            cfg.connect((leader1 + 2) % servers);
            cfg.run_for(RAFT_ELECTION_TIMEOUT);
            cfg.restart((leader1 + 3) % servers);
            cfg.connect((leader1 + 3) % servers);
            cfg.one(&(10 + index).to_string(), servers - 2, true);
            index += 1;
            cfg.connect((leader1 + 4) % servers);
            cfg.connect(leader1 % servers);
        }
        cfg.one("1000", servers, true);
        cfg.end();
    }
}

/// 6.824 TestPersist32C: a partitioned leader and one follower crash and restart; the entry
/// they committed together must survive into the next leader's log.
#[test]
fn test_persist3_2c() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestPersist32C", seed, 3, false, false);
        let servers = cfg.servers();
        cfg.one("101", 3, true);
        let leader = cfg.check_one_leader();
        cfg.disconnect((leader + 2) % servers);
        cfg.one("102", 2, true);
        cfg.crash(leader % servers);
        cfg.crash((leader + 1) % servers);
        cfg.connect((leader + 2) % servers);
        cfg.restart(leader % servers);
        cfg.connect(leader % servers);
        cfg.one("103", 2, true);
        cfg.restart((leader + 1) % servers);
        cfg.connect((leader + 1) % servers);
        cfg.one("104", servers, true);
        cfg.end();
    }
}

/// The loop of the lab's TestFigure82C and TestFigure8Unreliable2C: commands offered to every
/// server, and after a short (mostly under 13ms, sometimes up to half an election timeout)
/// pause the leader is crashed (reliable) or cut off with probability one half (unreliable);
/// with fewer than three left a random server comes back. Then everyone comes back and must
/// agree.
fn figure8(cfg: &mut Cluster, iterations: usize, unreliable: bool) {
    let servers = cfg.servers();
    cfg.one("1", 1, true);
    let mut nup = servers;
    for iters in 0..iterations {
        if unreliable && iters == iterations / 5 {
            cfg.set_network(long_reordering_network());
        }
        let mut leader = None;
        for i in 0..servers {
            let Some((_, is_leader)) = cfg.get_state(i) else {
                continue;
            };
            let value = cfg.rand(10_000).to_string();
            let request = cfg.command(&value);
            cfg.submit(i, request, 0);
            if is_leader && (!unreliable || cfg.connected[i]) {
                leader = Some(i);
            }
        }
        let pause = if cfg.rand(1000) < 100 {
            cfg.rand(RAFT_ELECTION_TIMEOUT.as_nanos() / 2_000_000)
        } else {
            cfg.rand(13)
        };
        cfg.run_for(ms(pause));
        if let Some(leader) = leader {
            if !unreliable {
                cfg.crash(leader);
                nup -= 1;
            } else if cfg.rand(1000) < 500 {
                cfg.disconnect(leader);
                nup -= 1;
            }
        }
        if nup < 3 {
            let s = cfg.rand(servers as u64) as usize;
            if !unreliable && !cfg.is_up(s) {
                cfg.restart(s);
                cfg.connect(s);
                nup += 1;
            } else if unreliable && !cfg.connected[s] {
                cfg.connect(s);
                nup += 1;
            }
        }
    }
    for i in 0..servers {
        if !cfg.is_up(i) {
            cfg.restart(i);
        }
        if !cfg.connected[i] {
            cfg.connect(i);
        }
    }
    if unreliable {
        // The lab's long reordering holds back replies only, so followers still hear every
        // heartbeat in time; ours holds back any message, and with two thirds of heartbeats
        // late no leader keeps a term under 150-300ms election timeouts. The final agreement
        // runs on the plain unreliable network.
        cfg.set_network(unreliable_network());
    }
    cfg.one("10001", servers, true);
}

/// 6.824 TestFigure82C: leaders crash right after taking commands, over and over (Figure 8's
/// danger: committing an earlier term's entry by counting replicas); then all five agree. The
/// lab's 1000 iterations.
#[test]
fn test_figure8_2c() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestFigure82C", seed, 5, false, false);
        figure8(&mut cfg, 1000, false);
        cfg.end();
    }
}

/// 6.824 TestUnreliableAgree2C: on a lossy, duplicating, reordering network, 49 rounds of four
/// background committers and one foreground `one`, then all five agree once it is reliable.
#[test]
fn test_unreliable_agree_2c() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestUnreliableAgree2C", seed, 5, true, false);
        let servers = cfg.servers();
        let mut background = Vec::new();
        for iters in 1..50u64 {
            for j in 0..4u64 {
                let request = cfg.command(&(100 * iters + j).to_string());
                background.push(request.client);
                let now = cfg.now();
                cfg.board.borrow_mut().background.insert(
                    request.client,
                    Background {
                        request,
                        next_node: (iters + j) as usize,
                        retry_at: now,
                    },
                );
            }
            cfg.one(&iters.to_string(), 1, true);
        }
        cfg.set_reliable();
        // The lab's wg.Wait(): every background committer finishes.
        let deadline = cfg.now() + SimDuration::from_secs(10);
        while cfg.now() < deadline && !cfg.board.borrow().background.is_empty() {
            cfg.run_for(ms(50));
        }
        let left = cfg.board.borrow().background.len();
        if left > 0 {
            cfg.fail(format!("{left} background commands never committed"));
        }
        for client in background {
            if !cfg.index_of.contains_key(&client) {
                cfg.fail(format!(
                    "client {client} was answered but its command not applied"
                ));
            }
        }
        cfg.one("100", servers, true);
        cfg.end();
    }
}

/// 6.824 TestFigure8Unreliable2C: the Figure 8 loop on the unreliable network, leaders cut off
/// rather than crashed, with long reordering (two thirds of messages held back 200ms–2s) from a
/// fifth of the way in: the lab's 1000 iterations, long reordering from the 200th.
#[test]
fn test_figure8_unreliable_2c() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestFigure8Unreliable2C", seed, 5, true, false);
        figure8(&mut cfg, 1000, true);
        cfg.end();
    }
}

/// The lab's `internalChurn`: three clients offer values to every server while servers are cut
/// off, reconnected, crashed and restarted every 0.7 election timeouts for 20 rounds; then
/// everything heals, and every value a leader acknowledged must be in the log every server
/// applied.
fn churn(name: &'static str, seed: u64, unreliable: bool) {
    let mut cfg = Cluster::new(name, seed, 5, unreliable, false);
    let servers = cfg.servers();
    {
        let mut board = cfg.board.borrow_mut();
        for me in 0..3 {
            board.churn.push(ChurnClient {
                me,
                current: None,
                not_leader: 0,
                next_at: SimTime::ZERO,
            });
        }
    }
    for _ in 0..20 {
        if cfg.rand(1000) < 200 {
            let i = cfg.rand(servers as u64) as usize;
            cfg.disconnect(i);
        }
        if cfg.rand(1000) < 500 {
            let i = cfg.rand(servers as u64) as usize;
            if !cfg.is_up(i) {
                cfg.restart(i);
            }
            cfg.connect(i);
        }
        if cfg.rand(1000) < 200 {
            let i = cfg.rand(servers as u64) as usize;
            if cfg.is_up(i) {
                cfg.crash(i);
            }
        }
        cfg.run_for(ms(700));
    }
    cfg.run_for(RAFT_ELECTION_TIMEOUT);
    cfg.set_reliable();
    for i in 0..servers {
        if !cfg.is_up(i) {
            cfg.restart(i);
        }
        cfg.connect(i);
    }
    cfg.board.borrow_mut().churn_stopped = true;
    let acked = cfg.board.borrow().churn_acked.clone();
    cfg.run_for(RAFT_ELECTION_TIMEOUT);
    let last = cfg.one("churn-last", servers, true);
    for index in 1..=last {
        cfg.wait(index, servers, None);
    }
    if acked.is_empty() {
        cfg.fail("no churn value was ever acknowledged");
    }
    for (client, value) in &acked {
        let Some(&index) = cfg.index_of.get(client) else {
            cfg.fail(format!(
                "didn't find a value: {value} was acknowledged, never applied"
            ));
        };
        if index > last {
            cfg.fail(format!(
                "{value} applied at {index}, after the last command ({last})"
            ));
        }
    }
    cfg.end();
}

/// 6.824 TestReliableChurn2C.
#[test]
fn test_reliable_churn_2c() {
    for seed in seeds() {
        churn("TestReliableChurn2C", seed, false);
    }
}

/// 6.824 TestUnreliableChurn2C.
#[test]
fn test_unreliable_churn_2c() {
    for seed in seeds() {
        churn("TestUnreliableChurn2C", seed, true);
    }
}

// ----- 2D: snapshots -----

/// The lab's `snapcommon(name, disconnect, reliable, crash)`: 30 rounds, each cutting off or
/// crashing a victim (a follower, or every third round the leader), sending enough commands to
/// force a snapshot, and bringing the victim back, who may need InstallSnapshot to catch up.
/// The persisted log must stay short throughout. Returns the cluster for the caller's
/// assertions.
///
/// A victim cut off for a round misses as few as seven entries, fewer than the leader keeps
/// behind its snapshot, so with a catch-up allowance it would never need InstallSnapshot, which
/// is what TestSnapshotInstall2D is about. The lab's servers keep nothing behind their
/// snapshots: with `disconnect`, neither do ours (`snapshot_catch_up = 0`).
fn snapcommon(
    name: &'static str,
    seed: u64,
    disconnect: bool,
    reliable: bool,
    crash: bool,
    iters: usize,
) -> Cluster {
    snapcommon_traced(
        name,
        seed,
        disconnect,
        reliable,
        crash,
        iters,
        Trace::new(None),
    )
}

/// [`snapcommon`] with the cluster's trace going to `trace`.
fn snapcommon_traced(
    name: &'static str,
    seed: u64,
    disconnect: bool,
    reliable: bool,
    crash: bool,
    iters: usize,
    trace: Trace<RaftNode>,
) -> Cluster {
    let params = Params {
        snapshot_threshold: SNAPSHOT_INTERVAL,
        snapshot_catch_up: if disconnect { 0 } else { SNAPSHOT_CATCH_UP },
        ..Params::default()
    };
    let mut cfg = Cluster::with_params(name, seed, 3, !reliable, params, trace);
    let servers = cfg.servers();
    let value = cfg.rand(1 << 30).to_string();
    cfg.one(&value, servers, true);
    let mut leader1 = cfg.check_one_leader();
    for i in 0..iters {
        let (mut victim, mut sender) = ((leader1 + 1) % servers, leader1);
        if i % 3 == 1 {
            sender = (leader1 + 1) % servers;
            victim = leader1;
        }
        if disconnect {
            cfg.disconnect(victim);
            let value = cfg.rand(1 << 30).to_string();
            cfg.one(&value, servers - 1, true);
        }
        if crash {
            cfg.crash(victim);
            let value = cfg.rand(1 << 30).to_string();
            cfg.one(&value, servers - 1, true);
        }
        let nn = SNAPSHOT_INTERVAL / 2 + cfg.rand(SNAPSHOT_INTERVAL);
        let values: Vec<String> = (0..nn).map(|_| cfg.rand(1 << 30).to_string()).collect();
        cfg.start_many(sender, &values);
        let value = cfg.rand(1 << 30).to_string();
        if !disconnect && !crash {
            // Every follower catches up, so that TestSnapshotBasic2D needs no InstallSnapshot.
            cfg.one(&value, servers, true);
        } else {
            cfg.one(&value, servers - 1, true);
        }
        let size = cfg.log_size();
        if size >= MAX_LOG_ENTRIES {
            cfg.fail(format!("Log size too large: {size} persisted entries"));
        }
        if disconnect {
            cfg.connect(victim);
            let value = cfg.rand(1 << 30).to_string();
            cfg.one(&value, servers, true);
            leader1 = cfg.check_one_leader();
        }
        if crash {
            cfg.restart(victim);
            cfg.connect(victim);
            let value = cfg.rand(1 << 30).to_string();
            cfg.one(&value, servers, true);
            leader1 = cfg.check_one_leader();
        }
    }
    cfg
}

/// 6.824 TestSnapshotBasic2D: snapshots are taken and the log stays short; nobody needs
/// InstallSnapshot. The lab's 30 rounds.
///
/// The lab only says InstallSnapshot should not be needed; here none may be sent. Random
/// latency reorders pipelined appends, so a follower can reject the only append carrying an
/// entry that the leader then commits with the other follower and compacts; the entries the
/// leader keeps behind its snapshot (`snapshot_catch_up`) let it resend that entry instead of
/// the whole state machine.
#[test]
fn test_snapshot_basic_2d() {
    for seed in seeds() {
        let sent = Rc::new(Cell::new(0));
        let trace = Trace::with_sink(Box::new(InstallSnapshotsSent(Rc::clone(&sent))));
        let cfg = snapcommon_traced("TestSnapshotBasic2D", seed, false, true, false, 30, trace);
        if cfg.snapshots_taken == 0 {
            cfg.fail("no snapshot was taken");
        }
        if sent.get() > 0 || cfg.snapshots_installed > 0 {
            cfg.fail(format!(
                "InstallSnapshot was sent {} times ({} installed) in a failure-free run",
                sent.get(),
                cfg.snapshots_installed
            ));
        }
        cfg.end();
    }
}

/// 6.824 TestSnapshotInstall2D: a cut-off server falls behind the leader's snapshot and catches
/// up by InstallSnapshot (the `snapshot_installed` event must be seen). The lab's 30 rounds.
#[test]
fn test_snapshot_install_2d() {
    for seed in seeds() {
        let cfg = snapcommon("TestSnapshotInstall2D", seed, true, true, false, 30);
        if cfg.snapshots_installed == 0 {
            cfg.fail("no server caught up by InstallSnapshot");
        }
        cfg.end();
    }
}

/// 6.824 TestSnapshotInstallUnreliable2D: the same on the unreliable network. The lab's 30
/// rounds.
#[test]
fn test_snapshot_install_unreliable_2d() {
    for seed in seeds() {
        let cfg = snapcommon(
            "TestSnapshotInstallUnreliable2D",
            seed,
            true,
            false,
            false,
            30,
        );
        if cfg.snapshots_installed == 0 {
            cfg.fail("no server caught up by InstallSnapshot");
        }
        cfg.end();
    }
}

/// 6.824 TestSnapshotInstallCrash2D: the victim crashes instead, and comes back from its
/// persisted snapshot (and InstallSnapshot when it is behind). The lab's 30 rounds.
#[test]
fn test_snapshot_install_crash_2d() {
    for seed in seeds() {
        let cfg = snapcommon("TestSnapshotInstallCrash2D", seed, false, true, true, 30);
        if cfg.restored_from_snapshot == 0 {
            cfg.fail("no server came back from a persisted snapshot");
        }
        cfg.end();
    }
}

/// 6.824 TestSnapshotInstallUnCrash2D: crashes on the unreliable network. The lab's 30 rounds.
#[test]
fn test_snapshot_install_uncrash_2d() {
    for seed in seeds() {
        let cfg = snapcommon("TestSnapshotInstallUnCrash2D", seed, false, false, true, 30);
        cfg.end();
    }
}

/// 6.824 TestSnapshotInit2D: after enough commands for a snapshot, every server crashes and
/// restarts, twice, with one command in between; each must come back from its snapshot and
/// the cluster must keep agreeing.
#[test]
fn test_snapshot_init_2d() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestSnapshotInit2D", seed, 3, false, true);
        let servers = cfg.servers();
        cfg.one("0", servers, true);
        for k in 0..=SNAPSHOT_INTERVAL {
            cfg.one(&(k + 1).to_string(), servers, true);
        }
        for _ in 0..2 {
            let before = cfg.restored_from_snapshot;
            for i in 0..servers {
                cfg.crash(i);
            }
            for i in 0..servers {
                cfg.restart(i);
                cfg.connect(i);
            }
            if cfg.restored_from_snapshot - before != servers as u64 {
                cfg.fail(format!(
                    "{} of {servers} servers came back from a snapshot",
                    cfg.restored_from_snapshot - before
                ));
            }
            cfg.one("after-restart", servers, true);
        }
        cfg.end();
    }
}

// ----- etcd raft_paper_test.go, cluster-level -----

/// etcd TestFollowerElectionTimeoutNonconflict / TestCandidateElectionTimeoutNonconflict
/// (§5.2): randomised election timeouts make split votes rare: after a leader crashes, usually
/// a single server times out and campaigns before the next leader is elected. etcd fails at a
/// conflict rate above 0.3; 20 leader crashes per seed here.
#[test]
fn etcd_test_election_timeout_nonconflict() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestElectionTimeoutNonconflict", seed, 5, false, false);
        let servers = cfg.servers();
        let mut conflicts = 0;
        let rounds = 20;
        for _ in 0..rounds {
            let leader = cfg.check_one_leader();
            let term = cfg.get_state(leader).map_or(0, |s| s.0);
            cfg.crash(leader);
            cfg.check_one_leader();
            // Every term between the old leader's and the new one's was a candidacy; more than
            // one means some server's timeout collided with another's.
            let new_term = (0..servers)
                .filter_map(|i| cfg.get_state(i))
                .map(|s| s.0)
                .max()
                .unwrap_or(0);
            if new_term > term + 1 {
                conflicts += 1;
            }
            cfg.restart(leader);
            cfg.connect(leader);
        }
        let rate = conflicts as f64 / rounds as f64;
        if rate > 0.3 {
            cfg.fail(format!("election conflict rate {rate} > 0.3"));
        }
        cfg.end();
    }
}

/// etcd TestLeaderBcastBeat (§5.2): an idle leader sends every follower a heartbeat each
/// heartbeat interval (50ms by default), and nothing much else: over one idle second of a
/// three-server cluster, about 20 AppendEntries per follower and their replies.
#[test]
fn etcd_test_leader_bcast_beat() {
    for seed in seeds() {
        let mut cfg = Cluster::new("TestLeaderBcastBeat", seed, 3, false, false);
        let servers = cfg.servers() as u64;
        let leader = cfg.check_one_leader();
        let term = cfg.get_state(leader).map(|s| s.0);
        let before = cfg.messages();
        cfg.run_for(SimDuration::from_secs(1));
        let sent = cfg.messages() - before;
        if cfg.get_state(leader).map(|s| s.0) != term {
            cfg.fail("the term changed in an idle second");
        }
        let beats = 1000 / 50;
        let expected = beats * (servers - 1) * 2;
        if sent + 4 < expected || sent > expected + 4 {
            cfg.fail(format!(
                "{sent} messages in an idle second; expected about {expected}"
            ));
        }
        cfg.end();
    }
}
