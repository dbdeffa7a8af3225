//! What quorum nodes send each other, their timers, and the events they report.
//!
//! Owns [`Msg`], [`Timer`] and [`QuorumEvent`]. Coordinators send `Read` and `Write` to
//! replicas (a `Write` with a `hint` goes to a fallback that keeps it for an unreachable home
//! replica); fallbacks send `Handoff` to the home replica after the heal; replicas exchange
//! `Digest` and `Push` for anti-entropy.

use serde::Serialize;
use sim_core::{Event, NodeId};

use crate::version::Versioned;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Msg {
    /// Coordinator to replica: what do you hold for `key`?
    Read {
        op: u64,
        key: String,
    },
    ReadReply {
        op: u64,
        key: String,
        versions: Vec<Versioned>,
    },
    /// Coordinator to replica: merge `versions` into `key` (or keep them for `hint`).
    Write {
        op: u64,
        key: String,
        versions: Vec<Versioned>,
        hint: Option<NodeId>,
    },
    WriteAck {
        op: u64,
        key: String,
    },
    /// Fallback to home replica: a write kept for you while you were unreachable.
    Handoff {
        key: String,
        versions: Vec<Versioned>,
    },
    HandoffAck {
        key: String,
        versions: Vec<Versioned>,
    },
    /// Anti-entropy: a hash per key both nodes replicate; `reply` asks for the peer's digest.
    Digest {
        entries: Vec<(String, u64)>,
        reply: bool,
    },
    /// Anti-entropy: my versions of a key whose digest differed.
    Push {
        key: String,
        versions: Vec<Versioned>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Timer {
    /// A coordinated operation has waited `sloppy_after` for its home replicas.
    Sloppy(u64),
    /// A coordinated operation's deadline.
    Deadline(u64),
    /// Read repair stops listening for late replies of a finished read.
    RepairWindow(u64),
    Handoff,
    AntiEntropy,
}

/// What a node reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum QuorumEvent {
    /// A fallback stored a write for an unreachable home replica.
    HintStored { home: NodeId, key: String },
    /// A fallback handed a hinted write back to its home replica.
    HintDelivered { home: NodeId, key: String },
    /// A coordinator wrote a read's newest versions back to a stale replica.
    ReadRepaired { replica: NodeId, key: String },
    /// Anti-entropy brought a key up to date from a peer.
    AntiEntropyRepaired { peer: NodeId, key: String },
    /// A sloppy quorum reached past the home replicas.
    SloppyQuorum { key: String },
}

impl QuorumEvent {
    pub const NAMES: [&'static str; 5] = [
        "hint_stored",
        "hint_delivered",
        "read_repaired",
        "anti_entropy_repaired",
        "sloppy_quorum",
    ];
}

impl Event for QuorumEvent {
    fn name(&self) -> &'static str {
        match self {
            QuorumEvent::HintStored { .. } => "hint_stored",
            QuorumEvent::HintDelivered { .. } => "hint_delivered",
            QuorumEvent::ReadRepaired { .. } => "read_repaired",
            QuorumEvent::AntiEntropyRepaired { .. } => "anti_entropy_repaired",
            QuorumEvent::SloppyQuorum { .. } => "sloppy_quorum",
        }
    }
}
