//! The client side of the lock history: what each client asked the service and what it got,
//! reported as events ([`OpRecord`]) so that the linearizability check ([`crate::checks`]) can
//! build a history with true invocation and completion times (a client knows only its own
//! clock; the checks see simulated time).

use serde::Serialize;

use crate::machine::{LockResponse, Mode};

/// An operation on the service, as the history names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum OpKind {
    Acquire { lock: String, mode: Mode },
    Release { lock: String },
    CounterGet,
    CounterCas { expected: u64, new: u64 },
}

/// Where an operation is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// The client sent it (first attempt).
    Invoke,
    /// The service answered.
    Ok(LockResponse),
    /// The client gave up without an answer: it may or may not have taken effect.
    Info,
}

/// One step of one operation of session `session`, numbered `seq` in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpRecord {
    pub session: u64,
    pub seq: u64,
    pub kind: OpKind,
    pub phase: Phase,
}
