//! Key-value requests and responses shared by every replicated store in `sim` (Raft now, quorum
//! replication later), and the closed-loop client workload that drives them and records a
//! history for the linearizability checker.

mod types;

pub use types::{KvOp, KvRequest, KvResponse};
