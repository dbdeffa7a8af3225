//! [`FdNode`]: the process every node runs, heartbeating to every peer and monitoring every peer
//! with each enabled detector side by side, on the same heartbeats.
//!
//! - At boot, and then every `heartbeat_interval` of local time, a node sends
//!   [`FdMsg::Heartbeat`] to every peer, with its incarnation (a random number drawn at boot)
//!   and a sequence number.
//! - A heartbeat from a peer feeds every detector at the monitor's local time
//!   ([`sim_core::Ctx::local_time`]), so clock offsets, drift and jumps reach the detectors as
//!   they would in a real deployment. Duplicates and reordered heartbeats (a sequence number
//!   not above the latest of that incarnation) are ignored: they are older news.
//! - Every `check_interval`, and on each heartbeat for its sender, the node asks each detector
//!   about each peer and reports [`FdEvent::Suspect`] or [`FdEvent::Restore`] on every change.
//! - A peer that never answers is monitored from `expected_response_after` after boot, as if a
//!   heartbeat had arrived then (Akka Cluster's `expected-response-after`), so a node that was
//!   down when its monitor booted is still suspected.
//! - A check that runs much later than scheduled (the node itself was paused, or its clock
//!   jumped forward) judges nothing that time: the silence it would see is its own, not its
//!   peers' (Cassandra skips interpreting after a local pause for the same reason).
//!
//! Nothing is durable: a restarted node starts afresh, trusting everyone. Whether a suspicion
//! was right is for [`crate::check`] to say, from the simulator's ground truth.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sim_core::{Ctx, Event, NodeId, Process, SimDuration, SimTime};

use crate::detector::{HeartbeatDetector, HeartbeatRule, PhiAccrualDetector, PhiConfig};

/// Which detector a suspicion comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// [`HeartbeatDetector`]: a fixed timeout.
    Heartbeat,
    /// [`PhiAccrualDetector`].
    Phi,
}

impl DetectorKind {
    pub const ALL: [DetectorKind; 2] = [DetectorKind::Heartbeat, DetectorKind::Phi];

    /// The name scenarios, events and check names use: `heartbeat` or `phi`.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::Heartbeat => "heartbeat",
            DetectorKind::Phi => "phi",
        }
    }
}

impl fmt::Display for DetectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every node runs with; built by [`crate::FdSuite`] from the scenario, or by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    pub heartbeat_interval: SimDuration,
    pub check_interval: SimDuration,
    /// How long after boot a silent peer starts being monitored.
    pub expected_response_after: SimDuration,
    /// The fixed-timeout detector, if enabled.
    pub heartbeat: Option<HeartbeatRule>,
    /// The phi-accrual detector, if enabled.
    pub phi: Option<PhiConfig>,
}

impl Default for NodeConfig {
    /// Akka Cluster's defaults (1 s heartbeats, 1 s expected first response, its phi settings),
    /// a 50 ms check and a fixed timeout of 4.5 s, which is where phi with those settings
    /// suspects a peer whose heartbeats were regular.
    fn default() -> Self {
        NodeConfig {
            heartbeat_interval: SimDuration::from_secs(1),
            check_interval: SimDuration::from_millis(50),
            expected_response_after: SimDuration::from_secs(1),
            heartbeat: Some(HeartbeatRule::Timeout(SimDuration::from_millis(4500))),
            phi: Some(PhiConfig::default()),
        }
    }
}

/// What nodes send each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FdMsg {
    /// "I am alive": the sender's incarnation and the heartbeat's number within it.
    Heartbeat { incarnation: u64, seq: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FdTimer {
    /// Time to send the next heartbeat.
    SendHeartbeat,
    /// Time to ask the detectors about every peer.
    Check,
    /// Start monitoring the peers that have not been heard from yet.
    ExpectFirstHeartbeat,
}

/// What a node reports: its detectors' changes of mind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FdEvent {
    /// `detector` now suspects `peer`.
    Suspect {
        detector: DetectorKind,
        peer: NodeId,
    },
    /// `detector` trusts `peer` again.
    Restore {
        detector: DetectorKind,
        peer: NodeId,
    },
}

impl Event for FdEvent {
    fn name(&self) -> &'static str {
        match self {
            FdEvent::Suspect { .. } => "suspect",
            FdEvent::Restore { .. } => "restore",
        }
    }
}

/// One peer as seen by its monitor.
#[derive(Debug, Clone)]
struct Peer {
    /// The incarnation of the latest heartbeat accepted, and its sequence number.
    latest: Option<(u64, u64)>,
    heartbeat: Option<Judged<HeartbeatDetector>>,
    phi: Option<Judged<PhiAccrualDetector>>,
}

/// A detector and its latest verdict, so that only changes are reported.
#[derive(Debug, Clone)]
struct Judged<D> {
    detector: D,
    suspected: bool,
}

/// The failure-detector process.
#[derive(Debug, Clone)]
pub struct FdNode {
    config: NodeConfig,
    incarnation: u64,
    next_seq: u64,
    /// Indexed by node; this node's own slot is never used.
    peers: Vec<Peer>,
    /// The local time of the latest check, for noticing that this node was paused.
    last_check: SimTime,
}

impl FdNode {
    pub fn new(config: NodeConfig) -> Self {
        FdNode {
            config,
            incarnation: 0,
            next_seq: 0,
            peers: Vec::new(),
            last_check: SimTime::ZERO,
        }
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Whether `detector` currently suspects `peer` (false for a disabled detector).
    pub fn suspects(&self, detector: DetectorKind, peer: NodeId) -> bool {
        let Some(state) = self.peers.get(peer.index()) else {
            return false;
        };
        match detector {
            DetectorKind::Heartbeat => state.heartbeat.as_ref().is_some_and(|j| j.suspected),
            DetectorKind::Phi => state.phi.as_ref().is_some_and(|j| j.suspected),
        }
    }

    /// The phi of `peer` at local time `now`, if phi is enabled.
    pub fn phi(&self, peer: NodeId, now: SimTime) -> Option<f64> {
        self.peers
            .get(peer.index())?
            .phi
            .as_ref()
            .map(|j| j.detector.phi(now))
    }

    /// Asks each detector about `peer` and reports every change of verdict.
    fn judge(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId, now: SimTime) {
        let state = &mut self.peers[peer.index()];
        if let Some(judged) = state.heartbeat.as_mut() {
            let available = judged.detector.is_available(now);
            if let Some(event) = verdict(judged, available, DetectorKind::Heartbeat, peer) {
                ctx.report(event);
            }
        }
        if let Some(judged) = state.phi.as_mut() {
            let available = judged.detector.is_available(now);
            if let Some(event) = verdict(judged, available, DetectorKind::Phi, peer) {
                ctx.report(event);
            }
        }
    }
}

/// Records a detector's new verdict and returns the event to report if it changed.
fn verdict<D>(
    judged: &mut Judged<D>,
    available: bool,
    detector: DetectorKind,
    peer: NodeId,
) -> Option<FdEvent> {
    if judged.suspected != available {
        return None;
    }
    judged.suspected = !available;
    Some(if available {
        FdEvent::Restore { detector, peer }
    } else {
        FdEvent::Suspect { detector, peer }
    })
}

impl Process for FdNode {
    type Msg = FdMsg;
    type Timer = FdTimer;
    type Request = ();
    type Response = ();
    type Durable = ();
    type Event = FdEvent;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.incarnation = ctx.rng().gen();
        let peer = Peer {
            latest: None,
            heartbeat: self.config.heartbeat.map(|rule| Judged {
                detector: HeartbeatDetector::new(rule),
                suspected: false,
            }),
            phi: self.config.phi.map(|config| Judged {
                detector: PhiAccrualDetector::new(config),
                suspected: false,
            }),
        };
        self.peers = vec![peer; ctx.node_count()];
        self.last_check = ctx.local_time();
        // The first heartbeat goes out at once, so that a restarted node is heard again as soon
        // as the network allows; the next at a random phase, so that the nodes' heartbeats are
        // not in lockstep and a fault at a round time does not always land at the same point
        // of every node's cycle.
        ctx.broadcast(FdMsg::Heartbeat {
            incarnation: self.incarnation,
            seq: 0,
        });
        self.next_seq = 1;
        let phase = ctx.rng().gen_range(1..=self.config.heartbeat_interval.0);
        ctx.set_timer(SimDuration(phase), FdTimer::SendHeartbeat);
        ctx.set_timer(self.config.check_interval, FdTimer::Check);
        ctx.set_timer(
            self.config.expected_response_after,
            FdTimer::ExpectFirstHeartbeat,
        );
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: FdMsg) {
        let FdMsg::Heartbeat { incarnation, seq } = msg;
        let Some(state) = self.peers.get_mut(from.index()) else {
            return;
        };
        let fresh = match state.latest {
            Some((known, latest_seq)) => known != incarnation || seq > latest_seq,
            None => true,
        };
        if !fresh {
            return;
        }
        state.latest = Some((incarnation, seq));
        let now = ctx.local_time();
        if let Some(judged) = state.heartbeat.as_mut() {
            judged.detector.heartbeat(now);
        }
        if let Some(judged) = state.phi.as_mut() {
            judged.detector.heartbeat(now);
        }
        self.judge(ctx, from, now);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: FdTimer) {
        let now = ctx.local_time();
        match timer {
            FdTimer::SendHeartbeat => {
                ctx.broadcast(FdMsg::Heartbeat {
                    incarnation: self.incarnation,
                    seq: self.next_seq,
                });
                self.next_seq += 1;
                ctx.set_timer(self.config.heartbeat_interval, FdTimer::SendHeartbeat);
            }
            FdTimer::Check => {
                ctx.set_timer(self.config.check_interval, FdTimer::Check);
                let late = now.saturating_since(self.last_check)
                    > self.config.check_interval.saturating_mul(2);
                self.last_check = now;
                if late {
                    return;
                }
                let peers: Vec<NodeId> = ctx.peers().collect();
                for peer in peers {
                    self.judge(ctx, peer, now);
                }
            }
            FdTimer::ExpectFirstHeartbeat => {
                let me = ctx.id();
                for (index, state) in self.peers.iter_mut().enumerate() {
                    if index == me.index() {
                        continue;
                    }
                    if let Some(judged) = state
                        .heartbeat
                        .as_mut()
                        .filter(|j| !j.detector.is_monitoring())
                    {
                        judged.detector.heartbeat(now);
                    }
                    if let Some(judged) = state.phi.as_mut().filter(|j| !j.detector.is_monitoring())
                    {
                        judged.detector.heartbeat(now);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sim_core::testing::Harness;
    use sim_core::TimerOp;

    use super::*;

    fn ms(t: u64) -> SimTime {
        SimTime(t * 1_000_000)
    }

    fn config() -> NodeConfig {
        NodeConfig {
            heartbeat_interval: SimDuration::from_millis(100),
            check_interval: SimDuration::from_millis(10),
            expected_response_after: SimDuration::from_millis(100),
            heartbeat: Some(HeartbeatRule::Timeout(SimDuration::from_millis(300))),
            phi: Some(PhiConfig {
                acceptable_pause: SimDuration::ZERO,
                min_std_deviation: SimDuration::from_millis(20),
                first_heartbeat_estimate: SimDuration::from_millis(100),
                ..PhiConfig::default()
            }),
        }
    }

    fn started() -> Harness<FdNode> {
        let mut node = Harness::new(FdNode::new(config()), NodeId(0), 3, 11);
        node.start();
        node
    }

    fn heartbeat(seq: u64) -> FdMsg {
        FdMsg::Heartbeat {
            incarnation: 7,
            seq,
        }
    }

    /// Booting announces the node with a first heartbeat and arms the three timers: heartbeats
    /// (at a random phase within one interval), checks and the expected first response.
    #[test]
    fn on_start_announces_itself_and_sets_the_heartbeat_check_and_first_response_timers() {
        let mut node = Harness::new(FdNode::new(config()), NodeId(0), 3, 11);
        let outputs = node.start();
        let sends: Vec<(NodeId, u64)> = outputs
            .sends
            .iter()
            .map(|(to, FdMsg::Heartbeat { seq, .. })| (*to, *seq))
            .collect();
        assert_eq!(sends, vec![(NodeId(1), 0), (NodeId(2), 0)]);
        assert!(outputs.events.is_empty());
        let mut timers: Vec<(FdTimer, SimDuration)> = outputs
            .timers
            .iter()
            .map(|op| match op {
                TimerOp::Set { after, timer } => (timer.clone(), *after),
                TimerOp::Cancel(timer) => panic!("on_start cancelled {timer:?}"),
            })
            .collect();
        timers.sort();
        assert_eq!(timers.len(), 3);
        assert_eq!(timers[0].0, FdTimer::SendHeartbeat);
        assert!(timers[0].1 <= SimDuration::from_millis(100));
        assert_eq!(timers[1], (FdTimer::Check, SimDuration::from_millis(10)));
        assert_eq!(
            timers[2],
            (FdTimer::ExpectFirstHeartbeat, SimDuration::from_millis(100))
        );
    }

    /// Each heartbeat timer sends one numbered heartbeat to every peer and re-arms itself.
    #[test]
    fn heartbeat_timer_sends_to_every_peer_with_increasing_numbers() {
        let mut node = started();
        let first = node.fire(FdTimer::SendHeartbeat);
        let peers: Vec<NodeId> = first.sends.iter().map(|(to, _)| *to).collect();
        assert_eq!(peers, vec![NodeId(1), NodeId(2)]);
        let FdMsg::Heartbeat { incarnation, seq } = first.sends[0].1.clone();
        assert_eq!(seq, 1, "the boot announcement was number 0");
        assert_eq!(
            first.timers,
            vec![TimerOp::Set {
                after: SimDuration::from_millis(100),
                timer: FdTimer::SendHeartbeat
            }]
        );
        let second = node.fire(FdTimer::SendHeartbeat);
        assert_eq!(
            second.sends[0].1,
            FdMsg::Heartbeat {
                incarnation,
                seq: 2
            }
        );
    }

    /// Fires two checks, 5 ms apart, ending at `t`, so that the second is on time whatever
    /// came before, and returns what both reported.
    fn check_at(node: &mut Harness<FdNode>, t: SimTime) -> Vec<FdEvent> {
        node.set_time(SimTime(t.0 - 5_000_000));
        let mut events = node.fire(FdTimer::Check).events.clone();
        node.set_time(t);
        events.extend(node.fire(FdTimer::Check).events.iter().copied());
        events
    }

    /// Silence past the timeout raises a suspicion from the fixed-timeout detector at the next
    /// check, and a later heartbeat restores the peer.
    #[test]
    fn silence_past_the_timeout_suspects_and_a_heartbeat_restores() {
        let mut node = Harness::new(
            FdNode::new(NodeConfig {
                phi: None,
                ..config()
            }),
            NodeId(0),
            3,
            11,
        );
        node.start();
        node.set_time(ms(0));
        node.deliver(NodeId(1), heartbeat(0));
        node.deliver(NodeId(2), heartbeat(0));
        node.set_time(ms(100));
        node.deliver(NodeId(2), heartbeat(1));
        assert!(
            check_at(&mut node, ms(300)).is_empty(),
            "a silence of exactly the timeout is tolerated"
        );
        let events = check_at(&mut node, ms(306));
        assert_eq!(
            events,
            vec![FdEvent::Suspect {
                detector: DetectorKind::Heartbeat,
                peer: NodeId(1)
            }]
        );
        assert!(node.process.suspects(DetectorKind::Heartbeat, NodeId(1)));
        node.set_time(ms(310));
        let events = node.deliver(NodeId(1), heartbeat(1)).events.clone();
        assert_eq!(
            events,
            vec![FdEvent::Restore {
                detector: DetectorKind::Heartbeat,
                peer: NodeId(1)
            }]
        );
        assert!(!node.process.suspects(DetectorKind::Heartbeat, NodeId(1)));
    }

    /// Phi rises with the silence: past its threshold the phi detector suspects too, and one
    /// heartbeat brings phi back down.
    #[test]
    fn phi_suspects_a_long_silence_and_restores_on_a_heartbeat() {
        let mut node = started();
        for i in 0..20 {
            node.set_time(ms(i * 100));
            node.deliver(NodeId(1), heartbeat(i));
            node.deliver(NodeId(2), heartbeat(i));
        }
        assert!(
            check_at(&mut node, ms(1900 + 150)).is_empty(),
            "phi must tolerate 1.5 intervals"
        );
        let events = check_at(&mut node, ms(1900 + 400));
        assert!(events.contains(&FdEvent::Suspect {
            detector: DetectorKind::Phi,
            peer: NodeId(1)
        }));
        let phi = node
            .process
            .phi(NodeId(1), ms(2300))
            .expect("phi is enabled");
        assert!(phi >= 8.0, "phi is {phi}");
        node.set_time(ms(2310));
        let events = node.deliver(NodeId(1), heartbeat(20)).events.clone();
        assert!(events.contains(&FdEvent::Restore {
            detector: DetectorKind::Phi,
            peer: NodeId(1)
        }));
        assert!(!node.process.suspects(DetectorKind::Phi, NodeId(1)));
    }

    /// A duplicated or overtaken heartbeat is older news: it neither feeds the detectors nor
    /// restores a suspected peer.
    #[test]
    fn stale_heartbeats_are_ignored() {
        let mut node = started();
        node.set_time(ms(0));
        node.deliver(NodeId(1), heartbeat(5));
        check_at(&mut node, ms(400));
        assert!(node.process.suspects(DetectorKind::Heartbeat, NodeId(1)));
        node.set_time(ms(410));
        assert!(node.deliver(NodeId(1), heartbeat(5)).events.is_empty());
        assert!(node.deliver(NodeId(1), heartbeat(3)).events.is_empty());
        assert!(node.process.suspects(DetectorKind::Heartbeat, NodeId(1)));
    }

    /// A restarted peer starts its sequence again under a new incarnation; its first heartbeat
    /// counts.
    #[test]
    fn a_new_incarnation_restarts_the_sequence() {
        let mut node = started();
        node.set_time(ms(0));
        node.deliver(NodeId(1), heartbeat(40));
        check_at(&mut node, ms(400));
        node.set_time(ms(410));
        let events = node
            .deliver(
                NodeId(1),
                FdMsg::Heartbeat {
                    incarnation: 8,
                    seq: 0,
                },
            )
            .events
            .clone();
        assert!(events.contains(&FdEvent::Restore {
            detector: DetectorKind::Heartbeat,
            peer: NodeId(1)
        }));
    }

    /// A peer that never answers is monitored from the expected first response on, so it is
    /// suspected even though no heartbeat ever arrived (Akka Cluster's `expected-response-after`).
    #[test]
    fn a_peer_never_heard_from_is_suspected_after_the_expected_first_response() {
        let mut node = started();
        assert!(check_at(&mut node, ms(90)).is_empty());
        node.set_time(ms(100));
        node.fire(FdTimer::ExpectFirstHeartbeat);
        node.set_time(ms(390));
        node.deliver(NodeId(2), heartbeat(0));
        let early = check_at(&mut node, ms(395));
        assert!(early.iter().all(|e| !matches!(
            e,
            FdEvent::Suspect {
                detector: DetectorKind::Heartbeat,
                ..
            }
        )));
        let events = check_at(&mut node, ms(401));
        assert!(events.contains(&FdEvent::Suspect {
            detector: DetectorKind::Heartbeat,
            peer: NodeId(1)
        }));
        assert!(!node.process.suspects(DetectorKind::Heartbeat, NodeId(2)));
    }

    /// A check that fires long after it was due (this node was paused) judges nobody: the
    /// silence it would see is the monitor's own.
    #[test]
    fn a_late_check_after_a_local_pause_judges_nobody() {
        let mut node = started();
        node.set_time(ms(0));
        node.deliver(NodeId(1), heartbeat(0));
        node.fire(FdTimer::Check);
        node.set_time(ms(10));
        node.fire(FdTimer::Check);
        node.set_time(ms(1000));
        let outputs = node.fire(FdTimer::Check);
        assert!(outputs.events.is_empty());
        assert_eq!(
            outputs.timers,
            vec![TimerOp::Set {
                after: SimDuration::from_millis(10),
                timer: FdTimer::Check
            }]
        );
        node.set_time(ms(1010));
        let events = node.fire(FdTimer::Check).events.clone();
        assert!(events.contains(&FdEvent::Suspect {
            detector: DetectorKind::Heartbeat,
            peer: NodeId(1)
        }));
    }

    /// A disabled detector never reports.
    #[test]
    fn only_enabled_detectors_report() {
        let mut node = Harness::new(
            FdNode::new(NodeConfig {
                phi: None,
                ..config()
            }),
            NodeId(0),
            2,
            3,
        );
        node.start();
        node.set_time(ms(0));
        node.deliver(NodeId(1), heartbeat(0));
        let events = check_at(&mut node, ms(1000));
        assert_eq!(
            events,
            vec![FdEvent::Suspect {
                detector: DetectorKind::Heartbeat,
                peer: NodeId(1)
            }]
        );
    }
}
