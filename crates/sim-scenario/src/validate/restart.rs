//! A restart that cannot take effect is an error at its field: `kind = "restart"` of a named
//! node that is not down at that moment (never crashed, or already back, by an earlier restart or
//! its crash's `restart_after`).
//!
//! Only what the file fixes can be judged here: restarts and crashes at a time, of named nodes.
//! When a crash could hit a node the file does not fix (a selector such as `leader`, a crash on
//! a protocol event, or a nemesis that crashes), whether a node is down is the run's to know,
//! and the driver reports a restart of a node that is up as a skipped fault, which the run's
//! summary repeats as a warning.

use std::collections::BTreeMap;

use sim_core::{NodeId, SimTime};

use super::Builder;
use crate::error::ScenarioError;
use crate::fault::{Action, Target, Trigger};
use crate::nemesis::NemesisKind;
use crate::raw::RawScenario;
use crate::Scenario;

impl Builder<'_> {
    /// Checks every time-triggered restart of named nodes against the crashes before it, in
    /// time order (file order breaks ties): linear in the faults, after one sort.
    pub(super) fn restarts(
        &self,
        raw: &RawScenario,
        scenario: &Scenario,
    ) -> Result<(), ScenarioError> {
        let crashes_unknown = scenario
            .faults
            .iter()
            .any(|f| match (&f.trigger, &f.action) {
                (Trigger::At(_), Action::Crash { target, .. }) => {
                    !matches!(target, Target::Nodes(_))
                }
                (Trigger::OnEvent { .. }, Action::Crash { .. }) => true,
                _ => false,
            })
            || scenario
                .nemesis
                .as_ref()
                .is_some_and(|n| n.kinds.contains(&NemesisKind::Crash));
        if crashes_unknown {
            return Ok(());
        }
        let mut order: Vec<(SimTime, usize)> = scenario
            .faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f.trigger {
                Trigger::At(t) => Some((t, i)),
                Trigger::OnEvent { .. } => None,
            })
            .collect();
        order.sort();
        // For each node down, when it comes back by itself (`None`: only by a restart).
        let mut down: BTreeMap<NodeId, Option<SimTime>> = BTreeMap::new();
        for (time, index) in order {
            match &scenario.faults[index].action {
                Action::Crash {
                    target: Target::Nodes(nodes),
                    restart_after,
                } => {
                    for &node in nodes {
                        down.insert(node, restart_after.map(|r| time + r));
                    }
                }
                Action::Restart {
                    target: Target::Nodes(nodes),
                } => {
                    for &node in nodes {
                        match down.remove(&node) {
                            Some(None) => {}
                            Some(Some(back)) if time <= back => {}
                            Some(Some(back)) => {
                                return Err(self.restart_error(raw, scenario, index, format!(
                                    "{} is already back at {}: its crash's restart_after restarted it at {}",
                                    scenario.node_name(node),
                                    time.saturating_since(SimTime::ZERO),
                                    back.saturating_since(SimTime::ZERO)
                                )))
                            }
                            None => {
                                return Err(self.restart_error(raw, scenario, index, format!(
                                    "{} is not down at {}: no crash before it (a restart brings back a crashed node)",
                                    scenario.node_name(node),
                                    time.saturating_since(SimTime::ZERO)
                                )))
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn restart_error(
        &self,
        raw: &RawScenario,
        scenario: &Scenario,
        index: usize,
        message: String,
    ) -> ScenarioError {
        let fault = &raw.faults[index];
        let field = format!("faults[{index}].node");
        match fault.get_ref().node.as_ref() {
            Some(node) => self.at(node, &field, message),
            None => self.source.error_at(
                fault.span().start,
                &field,
                format!("{message} (line {})", scenario.faults[index].line),
            ),
        }
    }
}
