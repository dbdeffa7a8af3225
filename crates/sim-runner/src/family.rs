//! The protocol families a program offers, and the dispatch from a scenario to its family.
//!
//! A family is a [`Suite`] (from `sim-core`); [`Families`] is the list a program hands to the
//! runner and to the command line (`sim_cli::main`), built one line per family:
//! `Families::new().with::<RaftSuite>().with::<FdSuite>()`. The runner itself depends on no
//! protocol crate: the `sim` binary lists the built-in families, and a user's crate lists its own.
//!
//! Before a run, [`Families::run`] checks every name the scenario uses (events, roles, kinds,
//! planted bugs, expected checks) against the family's [`Declaration`], so that a misspelt name
//! is an error with a suggestion rather than a fault that never fires.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use sim_core::{Declaration, SimDuration, Suite};
use sim_scenario::{emit, Scenario, ScenarioError};

use crate::driver::{run_suite, RunOptions};
use crate::report::RunReport;

/// A protocol family with its suite type erased, so a list can hold families of any type.
pub trait Family: Send + Sync {
    /// The name scenarios give in `[protocol] name = ...`.
    fn name(&self) -> &'static str;
    /// The names the family declares.
    fn declaration(&self) -> Declaration;
    /// Runs `scenario` with this family's suite; the scenario's names are not checked here.
    fn run_unchecked(
        &self,
        scenario: &Scenario,
        options: RunOptions,
    ) -> Result<RunReport, ScenarioError>;
    /// Whether `scenario` runs clients (and so has a client history), known before the run from
    /// the suite its tables build; `true` when a family cannot tell.
    fn has_clients(&self, _scenario: &Scenario) -> Result<bool, ScenarioError> {
        Ok(true)
    }
    /// Checks the tables only the family decodes (`[protocol]`, `[workload]`, `[checks]`) by
    /// building its suite from `scenario`, without running it.
    fn check_tables(&self, _scenario: &Scenario) -> Result<(), ScenarioError> {
        Ok(())
    }
}

/// The [`Family`] of a [`Suite`] type.
struct SuiteFamily<S>(PhantomData<fn() -> S>);

impl<S: Suite> Family for SuiteFamily<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }

    fn declaration(&self) -> Declaration {
        S::declaration()
    }

    fn run_unchecked(
        &self,
        scenario: &Scenario,
        options: RunOptions,
    ) -> Result<RunReport, ScenarioError> {
        run_suite::<S>(scenario, options)
    }

    fn has_clients(&self, scenario: &Scenario) -> Result<bool, ScenarioError> {
        crate::driver::has_clients::<S>(scenario)
    }

    fn check_tables(&self, scenario: &Scenario) -> Result<(), ScenarioError> {
        crate::driver::check_tables::<S>(scenario)
    }
}

/// The families a program offers, in the order they were added. Cheap to clone and shareable
/// between a campaign's worker threads.
#[derive(Clone, Default)]
pub struct Families {
    list: Vec<Arc<dyn Family>>,
}

impl fmt::Debug for Families {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Families {
    /// No family yet.
    pub fn new() -> Self {
        Families::default()
    }

    /// Adds the family of suite `S`.
    ///
    /// # Panics
    /// When a family of the same name is already listed: that is the program's own mistake,
    /// found the first time it starts.
    #[must_use]
    pub fn with<S: Suite>(mut self) -> Self {
        assert!(
            self.get(S::NAME).is_none(),
            "two protocol families are named {:?}",
            S::NAME
        );
        self.list.push(Arc::new(SuiteFamily::<S>(PhantomData)));
        self
    }

    /// The names scenarios may give in `[protocol] name = ...`, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|f| f.name()).collect()
    }

    /// The family named `name`.
    pub fn get(&self, name: &str) -> Option<&dyn Family> {
        self.list
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.as_ref())
    }

    /// The family `scenario` names, or an error at `protocol.name` listing the known ones.
    pub fn family_of(&self, scenario: &Scenario) -> Result<&dyn Family, ScenarioError> {
        self.get(&scenario.protocol).ok_or_else(|| {
            let names = self.names();
            let hint = sim_scenario::suggest(&scenario.protocol, &names)
                .map(|n| format!("did you mean {n:?}? "))
                .unwrap_or_default();
            scenario.error_at_field(
                "protocol.name",
                format!(
                    "unknown protocol {:?}; {hint}the known protocols are {}",
                    scenario.protocol,
                    names.join(", ")
                ),
            )
        })
    }

    /// Checks every name `scenario` uses against its family's declaration, and the tables only
    /// the family decodes by building its suite; for a `[swarm]` file, both for every choice of
    /// every key (see [`Scenario::swarm_choices`] for what that catches), each error placed at
    /// the choice's own line. `sim run`, `sim fuzz` and `sim verify` call it before any seed runs.
    pub fn validate(&self, scenario: &Scenario) -> Result<Declaration, ScenarioError> {
        let family = self.family_of(scenario)?;
        let declaration = family.declaration();
        scenario.validate_names(&declaration)?;
        let choices = scenario.swarm_choices()?;
        if choices.is_empty() {
            family.check_tables(scenario)?;
        }
        for choice in &choices {
            choice
                .member
                .validate_names(&declaration)
                .and_then(|()| family.check_tables(&choice.member))
                .map_err(|e| scenario.swarm_error(choice, e))?;
        }
        Ok(declaration)
    }

    /// `scenario`'s run with `seed` as an explicit scenario: sampled parameters and the nemesis's
    /// faults (aimed at the family's nemesis roles) written out ([`emit::explicit`]).
    pub fn explicit(
        &self,
        scenario: &Scenario,
        seed: u64,
        duration: Option<SimDuration>,
    ) -> Result<Scenario, ScenarioError> {
        let declaration = self.validate(scenario)?;
        emit::explicit(scenario, seed, duration, &declaration.nemesis_roles)
    }

    /// Whether `scenario`'s family runs clients for it, checked before a run that needs them
    /// (`--history`).
    pub fn has_clients(&self, scenario: &Scenario) -> Result<bool, ScenarioError> {
        self.family_of(scenario)?.has_clients(scenario)
    }

    /// Runs `scenario` with the family it names, after checking its names.
    pub fn run(
        &self,
        scenario: &Scenario,
        options: RunOptions,
    ) -> Result<RunReport, ScenarioError> {
        let family = self.family_of(scenario)?;
        scenario.validate_names(&family.declaration())?;
        family.run_unchecked(scenario, options)
    }
}

#[cfg(test)]
#[path = "family_swarm_tests.rs"]
mod swarm_tests;
