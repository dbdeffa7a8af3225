//! [`TxnNode`]: the one process type of the family, a coordinator or a participant by its kind.

use sim_core::{Ctx, NodeId, Process, RequestId};

use crate::coordinator::Coordinator;
use crate::participant::Participant;
use crate::types::{Durable, Msg, Timer, TxnEvent, TxnReply, TxnRequest};

/// A node of either kind.
#[derive(Debug)]
pub enum TxnNode {
    Coordinator(Coordinator),
    Participant(Participant),
}

impl TxnNode {
    pub fn participant(&self) -> Option<&Participant> {
        match self {
            TxnNode::Participant(p) => Some(p),
            TxnNode::Coordinator(_) => None,
        }
    }

    pub fn coordinator(&self) -> Option<&Coordinator> {
        match self {
            TxnNode::Coordinator(c) => Some(c),
            TxnNode::Participant(_) => None,
        }
    }
}

impl Process for TxnNode {
    type Msg = Msg;
    type Timer = Timer;
    type Request = TxnRequest;
    type Response = TxnReply;
    type Durable = Durable;
    type Event = TxnEvent;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            TxnNode::Coordinator(c) => c.on_start(ctx),
            TxnNode::Participant(p) => p.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            TxnNode::Coordinator(c) => c.on_message(ctx, from, msg),
            TxnNode::Participant(p) => p.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match self {
            TxnNode::Coordinator(c) => c.on_timer(ctx, timer),
            TxnNode::Participant(p) => p.on_timer(ctx, timer),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, request: TxnRequest) {
        match self {
            TxnNode::Coordinator(c) => c.on_request(ctx, id, request),
            TxnNode::Participant(p) => {
                let to = p.home(request.session);
                ctx.reply(id, TxnReply::Redirect { to });
            }
        }
    }

    /// `coordinator` (every coordinator that is up), `participant`, and `in_doubt` (a
    /// participant holding a prepared transaction it has no decision for).
    fn has_role(&self, role: &str) -> bool {
        match (self, role) {
            (TxnNode::Coordinator(_), "coordinator") => true,
            (TxnNode::Participant(_), "participant") => true,
            (TxnNode::Participant(p), "in_doubt") => p.in_doubt().next().is_some(),
            _ => false,
        }
    }
}

#[cfg(test)]
impl TxnNode {
    pub(crate) fn has_role_in_doubt(&self) -> bool {
        sim_core::Process::has_role(self, "in_doubt")
    }
}
