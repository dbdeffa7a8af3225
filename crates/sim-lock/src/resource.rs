//! The protected storage resource: holders write to it, and with fencing it refuses a write
//! whose token is lower than the highest it accepted (Kleppmann's fencing tokens; Chubby's
//! sequencers checked by the server).
//!
//! The highest token per lock is durable: a resource that forgot it on a restart would accept a
//! stale holder's write (the planted bug `resource_token_in_memory`); one that refused its own
//! holder's token would lose the holder's work (`fence_refuses_own_token`). Without fencing it
//! accepts every write, which is the unsafe design the scenarios measure.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim_core::{Ctx, NodeId};
use sim_raft::Durable;

use crate::bugs::Bug;
use crate::config::Config;
use crate::node::{LockEvent, LockMsg, LockNode};

/// The resource's state: the highest token accepted per lock.
#[derive(Debug)]
pub struct Resource {
    config: Arc<Config>,
    highest: BTreeMap<String, u64>,
}

/// The storage key of a lock's highest accepted token. The node's durable type is the Raft
/// replicas' (one process type per simulation); its `Term` variant is a plain number, which is
/// what the resource keeps.
fn key(lock: &str) -> String {
    format!("fence/{lock}")
}

impl Resource {
    pub fn new(config: Arc<Config>) -> Self {
        Resource {
            config,
            highest: BTreeMap::new(),
        }
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, LockNode>) {
        for lock in &self.config.locks {
            if let Some(Durable::Term(token)) = ctx.storage().get(&key(lock)) {
                self.highest.insert(lock.clone(), *token);
            }
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, LockNode>, from: NodeId, msg: LockMsg) {
        let LockMsg::Write {
            lock,
            token,
            client,
            value,
        } = msg
        else {
            return;
        };
        let highest = self.highest.get(&lock).copied().unwrap_or(0);
        let stale = if self.config.bugs.has(Bug::FenceRefusesOwnToken) {
            token <= highest
        } else {
            token < highest
        };
        if self.config.fencing && stale {
            ctx.report(LockEvent::Rejected {
                lock,
                token,
                client,
                highest,
            });
            ctx.send(
                from,
                LockMsg::WriteReply {
                    value,
                    accepted: false,
                },
            );
            return;
        }
        if token > highest {
            self.highest.insert(lock.clone(), token);
            if !self.config.bugs.has(Bug::ResourceTokenInMemory) {
                // Durable before the write is acknowledged: the token is a promise to refuse
                // every lower one.
                ctx.storage().put(key(&lock), Durable::Term(token));
                ctx.storage().sync();
            }
        }
        ctx.report(LockEvent::Accepted {
            lock,
            token,
            client,
            value,
        });
        ctx.send(
            from,
            LockMsg::WriteReply {
                value,
                accepted: true,
            },
        );
    }
}
