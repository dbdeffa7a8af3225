//! The sans-IO processes: a `sequencer` that grants tickets and `replica`s that store the highest
//! ticket granted, so that a restarted sequencer can recover it.
//!
//! Both kinds are one [`Process`] type, [`TicketNode`], because a simulation runs one process
//! type; the family builds each node by its kind ([`crate::family`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use sim_core::{Ctx, Event, NodeId, Process, RequestId, SimDuration};

use crate::bugs::Bug;

/// How long the sequencer waits before asking again (recovery, unacknowledged stores).
pub const RETRY: SimDuration = SimDuration::from_millis(50);

/// What every node knows about the cluster and the switches it was built with.
#[derive(Debug, Clone)]
pub struct Config {
    pub sequencer: NodeId,
    pub replicas: Vec<NodeId>,
    pub bugs: BTreeSet<Bug>,
}

impl Config {
    /// How many replicas make a majority.
    pub fn majority(&self) -> usize {
        self.replicas.len() / 2 + 1
    }
}

/// Messages between the sequencer and the replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Msg {
    /// Sequencer to replica: remember that `ticket` may have been granted.
    Store { ticket: u64 },
    /// Replica to sequencer: it holds `ticket` or higher, durably.
    Stored { ticket: u64 },
    /// Sequencer to replica, after a restart: what is the highest ticket you hold?
    Recover,
    /// Replica to sequencer: the answer.
    Highest { ticket: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Timer {
    /// The sequencer asks the replicas again (recovery, or stores not yet acknowledged).
    Retry,
}

/// A client's request: one ticket, please.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TakeTicket;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Reply {
    Ticket(u64),
    /// The sequencer is recovering (or the node asked is not the sequencer).
    Unavailable,
}

/// What the processes report, for the checks and for faults aimed at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TicketEvent {
    /// The sequencer granted `ticket` to a client.
    Granted { ticket: u64 },
    /// The sequencer recovered from a majority of replicas and will grant `next` onwards.
    Recovered { next: u64 },
}

impl TicketEvent {
    pub const NAMES: [&'static str; 2] = ["granted", "recovered"];
}

impl Event for TicketEvent {
    fn name(&self) -> &'static str {
        match self {
            TicketEvent::Granted { .. } => "granted",
            TicketEvent::Recovered { .. } => "recovered",
        }
    }
}

/// A node of either kind.
#[derive(Debug)]
pub enum TicketNode {
    Sequencer(Sequencer),
    Replica(Replica),
}

/// The sequencer's state: recovering, or serving with tickets waiting for a majority.
#[derive(Debug)]
pub struct Sequencer {
    config: Arc<Config>,
    /// While recovering: the highest ticket each replica answered.
    answers: BTreeMap<NodeId, u64>,
    /// While serving: the next ticket to hand out.
    next: Option<u64>,
    /// Tickets stored on fewer than a majority: the client to answer, the replicas that hold it.
    pending: BTreeMap<u64, (RequestId, BTreeSet<NodeId>)>,
}

/// A replica: the highest ticket it was asked to store, kept durably.
#[derive(Debug, Default)]
pub struct Replica {
    highest: u64,
}

const HIGHEST: &str = "highest";

impl Sequencer {
    pub fn new(config: Arc<Config>) -> Self {
        Sequencer {
            config,
            answers: BTreeMap::new(),
            next: None,
            pending: BTreeMap::new(),
        }
    }

    /// Whether it is serving (recovered).
    pub fn serving(&self) -> bool {
        self.next.is_some()
    }

    fn send_to_replicas(&self, ctx: &mut Ctx<'_, TicketNode>, msg: &Msg) {
        for &replica in &self.config.replicas {
            ctx.send(replica, msg.clone());
        }
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, TicketNode>) {
        self.send_to_replicas(ctx, &Msg::Recover);
        ctx.set_timer(RETRY, Timer::Retry);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, TicketNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Highest { ticket } if !self.serving() => {
                self.answers.insert(from, ticket);
                if self.answers.len() >= self.config.majority() {
                    let next = self.answers.values().max().copied().unwrap_or(0) + 1;
                    self.next = Some(next);
                    ctx.report(TicketEvent::Recovered { next });
                }
            }
            Msg::Stored { ticket } => self.stored(ctx, from, ticket),
            _ => {}
        }
    }

    /// A replica holds `ticket` or higher: every pending ticket up to it gains that replica.
    fn stored(&mut self, ctx: &mut Ctx<'_, TicketNode>, from: NodeId, ticket: u64) {
        let majority = self.config.majority();
        let mut done = Vec::new();
        for (&t, (id, holders)) in self.pending.range_mut(..=ticket) {
            holders.insert(from);
            if holders.len() >= majority {
                done.push((t, *id));
            }
        }
        for (ticket, id) in done {
            self.pending.remove(&ticket);
            ctx.reply(id, Reply::Ticket(ticket));
            ctx.report(TicketEvent::Granted { ticket });
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, TicketNode>) {
        if !self.serving() {
            self.send_to_replicas(ctx, &Msg::Recover);
        } else if let Some((&highest, _)) = self.pending.last_key_value() {
            self.send_to_replicas(ctx, &Msg::Store { ticket: highest });
        }
        ctx.set_timer(RETRY, Timer::Retry);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, TicketNode>, id: RequestId) {
        let Some(ticket) = self.next else {
            return ctx.reply(id, Reply::Unavailable);
        };
        self.next = Some(ticket + 1);
        self.send_to_replicas(ctx, &Msg::Store { ticket });
        if self.config.bugs.contains(&Bug::GrantBeforeStore) {
            ctx.reply(id, Reply::Ticket(ticket));
            ctx.report(TicketEvent::Granted { ticket });
        } else {
            self.pending.insert(ticket, (id, BTreeSet::new()));
        }
    }
}

impl Replica {
    fn on_start(&mut self, ctx: &mut Ctx<'_, TicketNode>) {
        self.highest = ctx.storage().get(HIGHEST).copied().unwrap_or(0);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, TicketNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Store { ticket } => {
                if ticket > self.highest {
                    self.highest = ticket;
                    // Durable before acknowledged: the acknowledgement is a promise.
                    ctx.storage().put(HIGHEST, ticket);
                    ctx.storage().sync();
                }
                ctx.send(
                    from,
                    Msg::Stored {
                        ticket: self.highest,
                    },
                );
            }
            Msg::Recover => ctx.send(
                from,
                Msg::Highest {
                    ticket: self.highest,
                },
            ),
            _ => {}
        }
    }
}

impl Process for TicketNode {
    type Msg = Msg;
    type Timer = Timer;
    type Request = TakeTicket;
    type Response = Reply;
    type Durable = u64;
    type Event = TicketEvent;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            TicketNode::Sequencer(s) => s.on_start(ctx),
            TicketNode::Replica(r) => r.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            TicketNode::Sequencer(s) => s.on_message(ctx, from, msg),
            TicketNode::Replica(r) => r.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, Timer::Retry: Timer) {
        if let TicketNode::Sequencer(s) = self {
            s.on_timer(ctx);
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, _: TakeTicket) {
        match self {
            TicketNode::Sequencer(s) => s.on_request(ctx, id),
            TicketNode::Replica(_) => ctx.reply(id, Reply::Unavailable),
        }
    }

    fn has_role(&self, role: &str) -> bool {
        match self {
            TicketNode::Sequencer(s) => role == "serving" && s.serving(),
            TicketNode::Replica(_) => false,
        }
    }
}

/// One test per rule, each calling one handler through `sim_core::testing::Harness`.
#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use sim_core::testing::Harness;
    use sim_core::{NodeId, RequestId};

    use super::*;
    use crate::bugs::Bug;

    fn config(bugs: &[Bug]) -> Arc<Config> {
        Arc::new(Config {
            sequencer: NodeId(0),
            replicas: vec![NodeId(1), NodeId(2), NodeId(3)],
            bugs: bugs.iter().copied().collect::<BTreeSet<_>>(),
        })
    }

    /// A sequencer recovered at ticket `next` from replicas n2 and n3.
    fn serving(bugs: &[Bug], highest: u64) -> Harness<TicketNode> {
        let node = TicketNode::Sequencer(Sequencer::new(config(bugs)));
        let mut h = Harness::new(node, NodeId(0), 4, 1);
        h.start();
        h.deliver(NodeId(1), Msg::Highest { ticket: highest });
        h.deliver(
            NodeId(2),
            Msg::Highest {
                ticket: highest - 1,
            },
        );
        h
    }

    /// Recovery: the next ticket follows the highest a majority of replicas holds.
    #[test]
    fn recovery_resumes_after_the_highest_ticket_a_majority_holds() {
        let node = TicketNode::Sequencer(Sequencer::new(config(&[])));
        let mut h = Harness::new(node, NodeId(0), 4, 1);
        h.start();
        let out = h.deliver(NodeId(1), Msg::Highest { ticket: 7 });
        assert!(
            out.events.is_empty(),
            "one answer of three is not a majority"
        );
        let out = h.deliver(NodeId(3), Msg::Highest { ticket: 4 });
        assert_eq!(out.events, vec![TicketEvent::Recovered { next: 8 }]);
    }

    /// A ticket is granted only once a majority of replicas holds it.
    #[test]
    fn a_ticket_is_granted_only_after_a_majority_stored_it() {
        let mut h = serving(&[], 10);
        let out = h.request(RequestId(1), TakeTicket);
        assert!(out.replies.is_empty());
        assert_eq!(out.sends.len(), 3, "the ticket goes to every replica");
        let out = h.deliver(NodeId(1), Msg::Stored { ticket: 11 });
        assert!(out.replies.is_empty(), "one replica of three");
        let out = h.deliver(NodeId(2), Msg::Stored { ticket: 11 });
        assert_eq!(out.replies, vec![(RequestId(1), Reply::Ticket(11))]);
    }

    /// While recovering, the sequencer answers unavailable rather than guess.
    #[test]
    fn a_recovering_sequencer_is_unavailable() {
        let node = TicketNode::Sequencer(Sequencer::new(config(&[])));
        let mut h = Harness::new(node, NodeId(0), 4, 1);
        h.start();
        let out = h.request(RequestId(1), TakeTicket);
        assert_eq!(out.replies, vec![(RequestId(1), Reply::Unavailable)]);
    }

    /// The planted bug grants at once, before any replica stored the ticket.
    #[test]
    fn grant_before_store_answers_before_any_replica_holds_the_ticket() {
        let mut h = serving(&[Bug::GrantBeforeStore], 10);
        let out = h.request(RequestId(1), TakeTicket);
        assert_eq!(out.replies, vec![(RequestId(1), Reply::Ticket(11))]);
    }

    /// A replica acknowledges only what it synced, and never goes back.
    #[test]
    fn a_replica_keeps_the_highest_ticket_durably() {
        let mut h = Harness::new(TicketNode::Replica(Replica::default()), NodeId(1), 4, 1);
        h.start();
        h.deliver(NodeId(0), Msg::Store { ticket: 5 });
        let out = h.deliver(NodeId(0), Msg::Store { ticket: 3 });
        assert_eq!(out.sends, vec![(NodeId(0), Msg::Stored { ticket: 5 })]);
        let out = h.crash_and_restart(|| TicketNode::Replica(Replica::default()));
        assert!(out.sends.is_empty());
        let out = h.deliver(NodeId(0), Msg::Recover);
        assert_eq!(out.sends, vec![(NodeId(0), Msg::Highest { ticket: 5 })]);
    }
}
