//! An independent lock server of the majority lock (the design notes' "lock on a majority of
//! independent servers with a TTL", as Redlock does it): each server grants a lock to one owner
//! until its TTL runs out by the server's own clock, and counts its grants of each lock.
//!
//! Nothing is replicated and nothing is durable: the servers do not know of each other. A
//! client holds the lock when a majority granted it ([`crate::client`]). A server whose clock
//! jumps forward lets a lease run out early, and a second client can then win a majority that
//! shares only that server with the first: the scenario `clock-jump` shows it.

use std::collections::BTreeMap;

use sim_core::{Ctx, NodeId, SimTime};

use crate::node::{LockMsg, LockNode};

/// One lock at one server: its owner and when its TTL runs out (local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Grant {
    owner: u64,
    expires_at: SimTime,
}

/// An independent lock server.
#[derive(Debug, Default)]
pub struct MajorityServer {
    grants: BTreeMap<String, Grant>,
    /// Per lock, a counter that grows with every grant and with every token a winner announces:
    /// a winner's token is the highest counter its answers carried.
    counters: BTreeMap<String, u64>,
}

impl MajorityServer {
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, LockNode>, from: NodeId, msg: LockMsg) {
        let now = ctx.local_time();
        match msg {
            LockMsg::MajorityAcquire {
                attempt,
                lock,
                owner,
                ttl,
            } => {
                let free = self
                    .grants
                    .get(&lock)
                    .is_none_or(|g| g.owner == owner || g.expires_at <= now);
                let counter = self.counters.entry(lock.clone()).or_default();
                if free {
                    *counter += 1;
                    let expires_at = now.saturating_add(ttl);
                    self.grants.insert(lock, Grant { owner, expires_at });
                }
                let reply = LockMsg::MajorityReply {
                    attempt,
                    granted: free,
                    counter: *counter,
                };
                ctx.send(from, reply);
            }
            LockMsg::MajorityFence { lock, token } => {
                let counter = self.counters.entry(lock).or_default();
                *counter = (*counter).max(token);
            }
            LockMsg::MajorityRelease { lock, owner }
                if self.grants.get(&lock).is_some_and(|g| g.owner == owner) =>
            {
                self.grants.remove(&lock);
            }
            _ => {}
        }
    }
}
