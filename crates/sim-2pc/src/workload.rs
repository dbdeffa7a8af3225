//! The clients: bank transfers between accounts on different participants and read-only audits
//! of every account, on `sim-client`'s engine (closed or open loop, retries, timeouts).
//!
//! `[workload]` holds the family's keys, `audit_ratio` (default `0.1`: the share of operations
//! that are audits) and `amount` (default `[1, 50]`: a transfer's amount, uniform), beside the
//! engine's keys with their defaults (`sim-client`'s crate docs): `clients`, `think_time`,
//! `open_loop`, `request_timeout`, `op_timeout`, `backoff`, `backoff_multiplier`,
//! `backoff_max`, `backoff_jitter`, `max_attempts`, `max_redirects`, `routing`, `breaker`,
//! `max_ops`, `start_after`, `stop_at`.

use std::any::Any;

use rand::Rng;
use serde::Deserialize;
use sim_client::{Answer, ClientEngine, ClientPlugin, Invocation, Status};
use sim_core::{ClientCtx, NodeId, RequestId, SimRng, SimTime, SuiteError, Workload};

use crate::node::TxnNode;
use crate::types::{TxnOp, TxnReply, TxnRequest};

sim_client::client_workload! {
    /// `[workload]`; see the module docs.
    #[derive(Clone, Debug, PartialEq, Deserialize)]
    pub struct WorkloadParams {
        /// The share of operations that are audits.
        pub audit_ratio: f64 = 0.1,
        /// A transfer's amount, uniform in `[low, high]`.
        pub amount: [i64; 2] = [1, 50],
    }
}

impl WorkloadParams {
    pub fn validate(&self, node_count: usize) -> Result<(), SuiteError> {
        self.engine().validate(node_count)?;
        if !(0.0..=1.0).contains(&self.audit_ratio) {
            return Err(SuiteError::new(
                "workload.audit_ratio",
                format!("expected a number in [0, 1], found {}", self.audit_ratio),
            ));
        }
        let [low, high] = self.amount;
        if low < 1 || high < low || high > 1_000_000_000 {
            return Err(SuiteError::new(
                "workload.amount",
                format!("expected [low, high] with 1 <= low <= high <= 1e9, found [{low}, {high}]"),
            ));
        }
        Ok(())
    }
}

/// An operation in flight.
#[derive(Debug)]
pub struct TxnCall {
    request: TxnRequest,
    total: Option<i64>,
}

/// What the clients saw: audits and the totals they read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditTally {
    pub audits: u64,
    /// Audits that read a total other than the constant one (money in flight).
    pub wrong_total: u64,
}

/// The plug-in: draws transfers and audits.
#[derive(Debug)]
pub struct TxnClient {
    params: WorkloadParams,
    accounts: u32,
    participants: u32,
    total: i64,
    pub tally: AuditTally,
}

impl TxnClient {
    fn draw(&self, rng: &mut SimRng) -> TxnOp {
        if rng.gen_bool(self.params.audit_ratio) {
            return TxnOp::Audit;
        }
        let from = rng.gen_range(0..self.accounts);
        // Another account on another participant: every transfer spans two participants.
        let to = loop {
            let to = rng.gen_range(0..self.accounts);
            if to % self.participants != from % self.participants {
                break to;
            }
        };
        let [low, high] = self.params.amount;
        let amount = rng.gen_range(low..=high);
        TxnOp::Transfer { from, to, amount }
    }
}

impl ClientPlugin for TxnClient {
    type Request = TxnRequest;
    type Response = TxnReply;
    type Op = TxnCall;

    fn kind_names(&self) -> &'static [&'static str] {
        &["transfer", "audit"]
    }

    fn kind(&self, op: &TxnCall) -> &'static str {
        match op.request.op {
            TxnOp::Transfer { .. } => "transfer",
            TxnOp::Audit => "audit",
        }
    }

    fn invoke(&mut self, rng: &mut SimRng, invocation: &Invocation) -> TxnCall {
        let op = self.draw(rng);
        let request = TxnRequest {
            session: invocation.session,
            seq: invocation.seq,
            op,
        };
        TxnCall {
            request,
            total: None,
        }
    }

    fn request(&self, op: &TxnCall) -> TxnRequest {
        op.request.clone()
    }

    fn classify(&mut self, op: &mut TxnCall, response: TxnReply) -> Answer {
        match response {
            TxnReply::Committed { total } => {
                op.total = total;
                Answer::Ok
            }
            TxnReply::Aborted { .. } => Answer::Fail,
            TxnReply::Redirect { to } => Answer::Redirect { to: Some(to) },
            TxnReply::Unavailable => Answer::Unavailable,
        }
    }

    fn complete(&mut self, op: TxnCall, status: Status, _at: SimTime) {
        if let (Status::Ok, Some(total)) = (status, op.total) {
            self.tally.audits += 1;
            self.tally.wrong_total += u64::from(total != self.total);
        }
    }

    fn summary(&self) -> Vec<(String, String)> {
        vec![(
            "audits".to_string(),
            format!(
                "{} completed, {} saw a total other than {} (money in flight)",
                self.tally.audits, self.tally.wrong_total, self.total
            ),
        )]
    }
}

/// The clients of a run: the engine running [`TxnClient`].
pub struct TxnWorkload {
    pub engine: ClientEngine<TxnClient>,
}

impl TxnWorkload {
    pub fn new(
        params: WorkloadParams,
        accounts: u32,
        participants: u32,
        total: i64,
        nodes: usize,
    ) -> Self {
        let plugin = TxnClient {
            params: params.clone(),
            accounts,
            participants,
            total,
            tally: AuditTally::default(),
        };
        TxnWorkload {
            engine: ClientEngine::new(params.engine(), plugin, nodes),
        }
    }
}

impl Workload<TxnNode> for TxnWorkload {
    fn on_start(&mut self, ctx: &mut ClientCtx<'_, TxnNode>) {
        Workload::<TxnNode>::on_start(&mut self.engine, ctx);
    }

    fn on_reply(
        &mut self,
        ctx: &mut ClientCtx<'_, TxnNode>,
        node: NodeId,
        id: RequestId,
        response: TxnReply,
    ) {
        Workload::<TxnNode>::on_reply(&mut self.engine, ctx, node, id, response);
    }

    fn on_wake(&mut self, ctx: &mut ClientCtx<'_, TxnNode>, token: u64) {
        Workload::<TxnNode>::on_wake(&mut self.engine, ctx, token);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn client_count(&self) -> Option<usize> {
        Some(self.engine.client_count())
    }

    fn faults_in_force(&mut self, now: sim_core::SimTime, in_force: bool) {
        self.engine.faults_in_force(now, in_force);
    }

    fn quiet_phase(&mut self, now: sim_core::SimTime) {
        self.engine.quiet_phase(now);
    }
}

impl std::fmt::Debug for TxnWorkload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnWorkload").finish_non_exhaustive()
    }
}
