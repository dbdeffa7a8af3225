//! The family's checks: `tickets.unique` (always: no ticket is granted twice) and
//! `tickets.granted` (sometimes: a run in which no ticket was granted proves nothing).

use std::collections::BTreeMap;

use sim_core::{
    Check, CheckKind, CheckReport, NodeId, Observation, Phases, SimTime, Simulation, Violation,
};

use crate::node::{TicketEvent, TicketNode};

/// `tickets.unique`: every ticket is granted at most once, across crashes and restarts.
#[derive(Debug, Default)]
pub struct Unique {
    granted: BTreeMap<u64, (SimTime, NodeId)>,
}

impl Unique {
    pub const NAME: &'static str = "tickets.unique";
}

impl Check<TicketNode> for Unique {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn observe(
        &mut self,
        sim: &Simulation<TicketNode>,
        observation: &Observation<'_, TicketNode>,
    ) -> Option<Violation> {
        let Observation::Handled { node, events } = *observation else {
            return None;
        };
        for event in events {
            let TicketEvent::Granted { ticket } = *event else {
                continue;
            };
            if let Some((first, by)) = self.granted.insert(ticket, (sim.now(), node)) {
                return Some(Violation {
                    time: sim.now(),
                    message: format!(
                        "ticket {ticket} granted twice, by {by} at t={first} and by {node} at t={}",
                        sim.now()
                    ),
                });
            }
        }
        None
    }

    fn finish(&mut self, _sim: &Simulation<TicketNode>, _phases: &Phases) -> CheckReport {
        CheckReport {
            name: Self::NAME.to_string(),
            kind: CheckKind::Always,
            violation: None,
            figures: vec![("granted".to_string(), self.granted.len().to_string())],
            not_evaluated: None,
        }
    }
}

/// `tickets.granted`: at least one ticket was granted.
#[derive(Debug, Default)]
pub struct Granted {
    count: u64,
}

impl Granted {
    pub const NAME: &'static str = "tickets.granted";
}

impl Check<TicketNode> for Granted {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn observe(
        &mut self,
        _sim: &Simulation<TicketNode>,
        observation: &Observation<'_, TicketNode>,
    ) -> Option<Violation> {
        if let Observation::Handled { events, .. } = observation {
            self.count += events
                .iter()
                .filter(|e| matches!(e, TicketEvent::Granted { .. }))
                .count() as u64;
        }
        None
    }

    fn finish(&mut self, _sim: &Simulation<TicketNode>, phases: &Phases) -> CheckReport {
        let violation = (self.count == 0).then(|| Violation {
            time: phases.end,
            message: "no ticket was ever granted".to_string(),
        });
        CheckReport {
            name: Self::NAME.to_string(),
            kind: CheckKind::Sometimes,
            violation,
            figures: vec![("granted".to_string(), self.count.to_string())],
            not_evaluated: None,
        }
    }
}
