//! Closed-loop clients: each asks the sequencer for a ticket, waits for the answer (or gives up
//! after a timeout), thinks, and asks again.

use std::any::Any;

use sim_core::{ClientCtx, NodeId, RequestId, SimDuration, Workload};

use crate::node::{Reply, TakeTicket, TicketNode};

/// Client counts the summary reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub granted: u64,
    pub unavailable: u64,
    pub timed_out: u64,
}

/// One client: the request it waits on, if any, and a counter that tells a stale timeout from
/// the current one.
#[derive(Debug, Clone, Default)]
struct Client {
    waiting: Option<RequestId>,
    attempt: u64,
}

/// The clients of a run.
#[derive(Debug)]
pub struct TicketClients {
    sequencer: NodeId,
    think: SimDuration,
    timeout: SimDuration,
    clients: Vec<Client>,
    pub tally: Tally,
}

/// A wake-up token: the client in the high half, the attempt in the low half; the lowest bit
/// tells a timeout (1) from the end of a think time (0).
fn token(client: usize, attempt: u64, timeout: bool) -> u64 {
    ((client as u64) << 32) | ((attempt & 0x7fff_ffff) << 1) | u64::from(timeout)
}

impl TicketClients {
    pub fn new(
        sequencer: NodeId,
        clients: usize,
        think: SimDuration,
        timeout: SimDuration,
    ) -> Self {
        TicketClients {
            sequencer,
            think,
            timeout,
            clients: vec![Client::default(); clients],
            tally: Tally::default(),
        }
    }

    fn ask(&mut self, ctx: &mut ClientCtx<'_, TicketNode>, client: usize) {
        // Client cK lives beside node n((K-1) mod N + 1), on its side of every partition.
        let id = ctx.submit_as(client, self.sequencer, TakeTicket);
        let state = &mut self.clients[client];
        state.waiting = Some(id);
        state.attempt += 1;
        ctx.wake_client_after(client, self.timeout, token(client, state.attempt, true));
    }

    fn think(&mut self, ctx: &mut ClientCtx<'_, TicketNode>, client: usize) {
        let state = &mut self.clients[client];
        state.waiting = None;
        ctx.wake_client_after(client, self.think, token(client, state.attempt, false));
    }
}

impl Workload<TicketNode> for TicketClients {
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, TicketNode>) {
        for client in 0..self.clients.len() {
            self.ask(ctx, client);
        }
    }

    fn on_reply(
        &mut self,
        ctx: &mut ClientCtx<'_, TicketNode>,
        _node: NodeId,
        id: RequestId,
        response: Reply,
    ) {
        let Some(client) = self.clients.iter().position(|c| c.waiting == Some(id)) else {
            return; // the answer to a request the client already gave up on
        };
        match response {
            Reply::Ticket(_) => self.tally.granted += 1,
            Reply::Unavailable => self.tally.unavailable += 1,
        }
        self.think(ctx, client);
    }

    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, TicketNode>, token: u64) {
        let client = (token >> 32) as usize;
        let attempt = (token >> 1) & 0x7fff_ffff;
        let Some(state) = self.clients.get(client) else {
            return;
        };
        if attempt != state.attempt & 0x7fff_ffff {
            return; // a timeout or think time of an earlier request
        }
        let timeout = token & 1 == 1;
        if timeout && state.waiting.is_some() {
            self.tally.timed_out += 1;
            self.think(ctx, client);
        } else if !timeout && state.waiting.is_none() {
            self.ask(ctx, client);
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn client_count(&self) -> Option<usize> {
        Some(self.clients.len())
    }
}
