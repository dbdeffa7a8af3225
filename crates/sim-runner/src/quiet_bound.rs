//! `[checks] converge_within`, in every family that has it (raft, quorum, 2pc, lock), bounds how
//! long after the faults heal the cluster must have converged; Raft's `leader_within` bounds
//! when the first leader must follow the heal. Each bound is judged inside the quiet phase, so
//! one longer than the quiet phase (or given to a scenario without one) could never take
//! effect: it is an error at load, at the bound's line, whichever family reads it.
//!
//! The rule lives here, once, rather than in each family's `Suite::new`, so that the families
//! cannot drift apart; it runs after the family has decoded its `[checks]` (a family without the
//! key has refused it by then as an unknown field).

use serde::Deserialize;
use sim_core::SimDuration;
use sim_scenario::{Scenario, ScenarioError, Section};

/// The field every family names its convergence bound by.
pub const FIELD: &str = "checks.converge_within";

/// The `[checks]` keys bounded by the quiet phase: the convergence bound of every family that
/// has one, and Raft's bound on the first leader after the heal (`raft.leader_after_heal`).
const BOUNDS: [&str; 2] = ["converge_within", "leader_within"];

/// The part of `[checks]` this rule reads; the family reads the rest.
#[derive(Deserialize)]
struct Bounds {
    converge_within: Option<SimDuration>,
    leader_within: Option<SimDuration>,
}

impl Bounds {
    /// The bounds `scenario` sets, each with its key.
    fn of(scenario: &Scenario) -> Result<Vec<(&'static str, SimDuration)>, ScenarioError> {
        let bounds = scenario.decode::<Bounds>(Section::Checks)?;
        let values = [bounds.converge_within, bounds.leader_within];
        Ok(BOUNDS
            .into_iter()
            .zip(values)
            .filter_map(|(key, value)| Some((key, value?)))
            .collect())
    }
}

/// An error if `scenario` sets a bound its quiet phase cannot judge.
pub(crate) fn check(scenario: &Scenario) -> Result<(), ScenarioError> {
    for (key, within) in Bounds::of(scenario)? {
        let field = format!("checks.{key}");
        if scenario.quiet == SimDuration::ZERO {
            return Err(scenario.error_at_field(
                &field,
                format!(
                    "a bound judged after the heal needs a quiet phase, but the scenario has \
                     quiet = \"0s\" ({key} is judged from the heal to the end of the run)"
                ),
            ));
        }
        if within > scenario.quiet {
            return Err(scenario.error_at_field(
                &field,
                format!(
                    "expected at most the quiet phase ({}), found {within}: {key} is judged \
                     from the heal to the end of the run",
                    scenario.quiet
                ),
            ));
        }
    }
    Ok(())
}

/// `scenario` with each bound it sets shortened to fit its quiet phase (removed when there is
/// none): `sim shrink` shortens the quiet phase, and a candidate whose bound no longer fits
/// would be refused at load rather than tried.
pub(crate) fn fit(mut scenario: Scenario) -> Scenario {
    let Ok(bounds) = Bounds::of(&scenario) else {
        return scenario;
    };
    let quiet = scenario.quiet;
    let checks = scenario.table_mut(Section::Checks);
    for (key, within) in bounds {
        if quiet == SimDuration::ZERO {
            checks.remove(key);
        } else if within > quiet {
            checks.insert(key.into(), quiet.to_string().into());
        }
    }
    scenario
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(quiet: &str, within: &str) -> Scenario {
        let text = format!(
            "duration = \"1s\"\nquiet = \"{quiet}\"\n[cluster]\nnodes = 3\n[protocol]\n\
             name = \"any\"\n[checks]\nconverge_within = \"{within}\"\nother = 1\n"
        );
        Scenario::parse("b.toml", &text).expect("a valid file")
    }

    fn within(s: &Scenario) -> Option<&toml::Value> {
        s.checks_table().get("converge_within")
    }

    #[test]
    fn a_bound_longer_than_the_quiet_phase_is_an_error_at_its_line() {
        let e = check(&scenario("2s", "5s")).expect_err("longer than the quiet phase");
        assert_eq!((e.field.as_str(), e.line), (FIELD, 8), "{e}");
        assert!(
            e.message
                .starts_with("expected at most the quiet phase (2s), found 5s"),
            "{e}"
        );
        let e = check(&scenario("0s", "1s")).expect_err("no quiet phase");
        assert!(e.message.contains("needs a quiet phase"), "{e}");
        let leader = "duration = \"1s\"\nquiet = \"2s\"\n[cluster]\nnodes = 3\n[protocol]\n\
                      name = \"any\"\n[checks]\nconverge_within = \"1s\"\nleader_within = \"3s\"\n";
        let e = check(&Scenario::parse("b.toml", leader).expect("valid"))
            .expect_err("a leader bound longer than the quiet phase");
        assert_eq!(
            (e.field.as_str(), e.line),
            ("checks.leader_within", 9),
            "{e}"
        );
        check(&scenario("2s", "2s")).expect("as long as the quiet phase");
        check(&scenario("2s", "500ms")).expect("shorter");
    }

    #[test]
    fn a_shortened_quiet_phase_takes_the_bound_with_it() {
        let mut s = scenario("4s", "3s");
        s.quiet = SimDuration::from_secs(2);
        let s = fit(s);
        assert_eq!(within(&s).and_then(|v| v.as_str()), Some("2s"));
        check(&s).expect("fits");
        let mut s = scenario("4s", "3s");
        s.quiet = SimDuration::ZERO;
        let s = fit(s);
        assert_eq!(within(&s), None);
        assert!(s.checks_table().contains_key("other"), "the rest is kept");
        check(&s).expect("fits");
        let s = fit(scenario("4s", "3s"));
        assert_eq!(
            within(&s).and_then(|v| v.as_str()),
            Some("3s"),
            "a bound that fits stays"
        );
    }
}
