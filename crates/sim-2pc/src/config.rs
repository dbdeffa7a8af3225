//! `[protocol]`: the mode (2PC or Saga), the accounts, the timings and the planted bugs, and the
//! [`Config`] every node is built with.

use std::collections::BTreeSet;

use serde::Deserialize;
use sim_core::{NodeId, SimDuration, SuiteError};

use crate::bugs::Bug;
use crate::types::{Account, TxnId};

/// How transfers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Mode {
    /// Two-phase commit over strict two-phase locking.
    #[default]
    #[serde(rename = "2pc")]
    TwoPc,
    /// A Saga: each step a local transaction, compensated backwards on failure.
    #[serde(rename = "saga")]
    Saga,
}

/// `[protocol]` less its name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub mode: Mode,
    /// Accounts `0 .. accounts`, account `a` on participant `a mod P`.
    pub accounts: u32,
    pub initial_balance: i64,
    /// A credit that would take a balance past this is refused (a business rule, so that a
    /// Saga's second step can fail and be compensated); no cap when absent.
    pub max_balance: Option<i64>,
    /// Coordinator: abort a transaction whose votes are not all in by then.
    pub vote_timeout: SimDuration,
    /// Participant: a prepare waiting for locks this long votes no.
    pub lock_timeout: SimDuration,
    /// Participant: asks about an undecided prepared transaction this often.
    pub inquire_every: SimDuration,
    /// Coordinator: resends unacknowledged decisions and unanswered saga steps this often.
    pub resend_every: SimDuration,
    /// Participants in doubt ask each other too (cooperative termination).
    pub cooperative: bool,
    pub bugs: Vec<Bug>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            mode: Mode::TwoPc,
            accounts: 8,
            initial_balance: 100,
            max_balance: None,
            vote_timeout: SimDuration::from_millis(500),
            lock_timeout: SimDuration::from_millis(200),
            inquire_every: SimDuration::from_millis(200),
            resend_every: SimDuration::from_millis(200),
            cooperative: true,
            bugs: Vec::new(),
        }
    }
}

/// What every node knows: who is who, the accounts, the timings, the bugs.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub coordinators: Vec<NodeId>,
    pub participants: Vec<NodeId>,
    pub accounts: u32,
    pub initial_balance: i64,
    pub max_balance: Option<i64>,
    pub vote_timeout: SimDuration,
    pub lock_timeout: SimDuration,
    pub inquire_every: SimDuration,
    pub resend_every: SimDuration,
    pub cooperative: bool,
    pub bugs: BTreeSet<Bug>,
}

impl Config {
    /// Validates `params` for a cluster with these coordinators and participants.
    pub fn new(
        params: Params,
        coordinators: Vec<NodeId>,
        participants: Vec<NodeId>,
    ) -> Result<Config, SuiteError> {
        if coordinators.is_empty() {
            return Err(SuiteError::new(
                "cluster.kinds.coordinator",
                "expected at least 1 coordinator, found 0",
            ));
        }
        // Every transfer spans two participants (the workload draws its second account on
        // another one), so one participant could never run a transfer.
        if participants.len() < 2 {
            return Err(SuiteError::new(
                "cluster.kinds.participant",
                format!(
                    "expected at least 2 participants (a transfer spans two), found {}",
                    participants.len()
                ),
            ));
        }
        validate(&params, participants.len() as u32)?;
        Ok(Config {
            mode: params.mode,
            coordinators,
            participants,
            accounts: params.accounts,
            initial_balance: params.initial_balance,
            max_balance: params.max_balance,
            vote_timeout: params.vote_timeout,
            lock_timeout: params.lock_timeout,
            inquire_every: params.inquire_every,
            resend_every: params.resend_every,
            cooperative: params.cooperative,
            bugs: params.bugs.into_iter().collect(),
        })
    }

    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The participant that holds `account`.
    pub fn owner(&self, account: Account) -> NodeId {
        self.participants[account as usize % self.participants.len()]
    }

    /// The accounts `participant` holds.
    pub fn accounts_of(&self, participant: NodeId) -> impl Iterator<Item = Account> + '_ {
        (0..self.accounts).filter(move |&a| self.owner(a) == participant)
    }

    /// The coordinator that runs a client session's transactions: always the same one, so a
    /// retried operation meets the coordinator that knows it.
    pub fn home(&self, session: u64) -> NodeId {
        self.coordinators[session as usize % self.coordinators.len()]
    }

    /// The total of every balance, constant in the committed state.
    pub fn total(&self) -> i64 {
        self.initial_balance * i64::from(self.accounts)
    }

    pub fn is_coordinator(&self, node: NodeId) -> bool {
        self.coordinators.contains(&node)
    }

    /// Whether `txn` was run by an earlier incarnation of its coordinator than `epoch`.
    pub fn older(txn: TxnId, epoch: u64) -> bool {
        txn.epoch < epoch
    }
}

/// Checks `params` for a cluster of `p` participants; the error names the field.
fn validate(params: &Params, p: u32) -> Result<(), SuiteError> {
    if params.accounts < 2 * p || params.accounts > 4096 {
        return Err(SuiteError::new(
            "protocol.accounts",
            format!(
                "expected 2 per participant ({}) to 4096, found {}",
                2 * p,
                params.accounts
            ),
        ));
    }
    if !(0..=1_000_000_000).contains(&params.initial_balance) {
        return Err(SuiteError::new(
            "protocol.initial_balance",
            format!("expected 0 to 1e9, found {}", params.initial_balance),
        ));
    }
    if let Some(cap) = params.max_balance {
        if cap < params.initial_balance || cap > 1_000_000_000 {
            return Err(SuiteError::new(
                "protocol.max_balance",
                format!(
                    "expected at least initial_balance ({}) and at most 1e9, found {cap}",
                    params.initial_balance
                ),
            ));
        }
    }
    for (field, value) in [
        ("vote_timeout", params.vote_timeout),
        ("lock_timeout", params.lock_timeout),
        ("inquire_every", params.inquire_every),
        ("resend_every", params.resend_every),
    ] {
        if value == SimDuration::ZERO {
            return Err(SuiteError::new(
                format!("protocol.{field}"),
                "expected a positive duration, found 0s",
            ));
        }
    }
    if params.mode == Mode::Saga && !params.bugs.is_empty() {
        return Err(SuiteError::new(
            "protocol.bugs",
            "the planted bugs are 2PC mistakes; they cannot take effect with mode = \"saga\"",
        ));
    }
    Ok(())
}
