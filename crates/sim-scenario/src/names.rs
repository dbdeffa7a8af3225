//! The names a scenario uses, checked against those its protocol family declares
//! ([`sim_core::Declaration`]): events in `on_event`, roles and kinds in node selectors, the
//! kinds of `[cluster] kinds`, `[protocol] bugs` and `[expect] fails`.
//!
//! A misspelt name is an error at its place in the file that lists the known names and suggests
//! the nearest one ([`suggest`]), never a fault that silently does not fire. The syntax of each
//! name was checked when the file was parsed; only the family can say which names exist.

use sim_core::Declaration;

use crate::error::{ScenarioError, Source};
use crate::fault::{Action, Shape, Target, Trigger};
use crate::raw::RawScenario;
use crate::{validate, Scenario};

/// The name in `known` nearest to `name` by edit distance, if near enough to be a plausible
/// misspelling (at most a third of its length, and at least one character in common); ties go
/// to the earlier in `known`.
pub fn suggest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let length = name.chars().count();
    let threshold = (length / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for &candidate in known {
        let distance = edit_distance(name, candidate);
        let nearer = match best {
            Some((d, _)) => distance < d,
            None => true,
        };
        if distance <= threshold && distance < length && nearer {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// A sort of name a family declares, for messages.
#[derive(Clone, Copy)]
struct Sort {
    /// `event`
    name: &'static str,
    /// `reports`: the family reports a, b, c.
    verb: &'static str,
    /// `reports no events`
    none: &'static str,
}

const EVENT: Sort = Sort {
    name: "event",
    verb: "reports",
    none: "reports no events",
};
const ROLE: Sort = Sort {
    name: "role",
    verb: "declares the roles",
    none: "declares no roles",
};
const KIND: Sort = Sort {
    name: "kind",
    verb: "declares the kinds",
    none: "declares no kinds of node",
};
const BUG: Sort = Sort {
    name: "bug",
    verb: "plants the bugs",
    none: "declares no bugs",
};
const CHECK: Sort = Sort {
    name: "check",
    verb: "runs the checks",
    none: "declares no checks",
};

/// One pass over a scenario's names; `raw` is its text read again, for positions.
struct Names<'a> {
    scenario: &'a Scenario,
    declaration: &'a Declaration,
    source: Source<'a>,
    raw: Option<RawScenario>,
}

impl Scenario {
    /// Checks every name this scenario uses against `declaration`, what its protocol family
    /// (`self.protocol`) declares: `on_event` names against its events, role selectors
    /// (`leader`, `role:NAME`) against its roles, `kind:`/`random:` selectors and `[cluster]
    /// kinds` against its kinds (a family with kinds requires them, one without rejects them),
    /// `[protocol] bugs` against its bugs and `[expect] fails` against its checks. The first
    /// unknown name is an error at its place, with the known names and the nearest one.
    pub fn validate_names(&self, declaration: &Declaration) -> Result<(), ScenarioError> {
        let names = Names {
            scenario: self,
            declaration,
            source: Source::new(&self.file, &self.text),
            raw: validate::parse_raw(&self.file, &self.text).ok(),
        };
        names.cluster_kinds()?;
        for (index, fault) in self.faults.iter().enumerate() {
            names.fault(index, &fault.trigger, &fault.action)?;
        }
        names.bugs()?;
        names.expect()
    }
}

impl Names<'_> {
    /// `name` if `known` has it, else the error at `offset`.
    fn known(
        &self,
        sort: Sort,
        name: &str,
        known: &[&str],
        offset: Option<usize>,
        field: &str,
    ) -> Result<(), ScenarioError> {
        if known.contains(&name) {
            return Ok(());
        }
        let family = &self.scenario.protocol;
        let mut message = format!("unknown {} {name:?}; ", sort.name);
        if let Some(nearest) = suggest(name, known) {
            message.push_str(&format!("did you mean {nearest:?}? "));
        }
        if known.is_empty() {
            message.push_str(&format!("the family {family} {}", sort.none));
        } else {
            message.push_str(&format!(
                "the family {family} {} {}",
                sort.verb,
                known.join(", ")
            ));
        }
        Err(self.error(offset, field, message))
    }

    fn error(&self, offset: Option<usize>, field: &str, message: String) -> ScenarioError {
        match offset {
            Some(offset) => self.source.error_at(offset, field, message),
            None => self.source.error(field, message),
        }
    }

    /// The kinds a selector may name: the declared ones, or the one default kind.
    fn kinds(&self) -> Vec<&str> {
        if self.declaration.kinds.is_empty() {
            vec![Declaration::DEFAULT_KIND]
        } else {
            self.declaration.kinds.clone()
        }
    }

    fn cluster_kinds(&self) -> Result<(), ScenarioError> {
        let cluster = self.raw.as_ref().map(|r| &r.cluster);
        let given = cluster.and_then(|c| c.get_ref().kinds.as_ref());
        let declared = &self.declaration.kinds;
        let family = &self.scenario.protocol;
        let Some(given) = given else {
            if declared.is_empty() {
                return Ok(());
            }
            let message = format!(
                "missing: the family {family} has kinds of node ({}); give kinds = {{ {} = <count>, ... }}",
                declared.join(", "),
                declared.first().unwrap_or(&"KIND"),
            );
            let offset = cluster.map(|c| c.span().start);
            return Err(self.error(offset, "cluster.kinds", message));
        };
        if declared.is_empty() {
            let message = format!("the family {family} declares no kinds of node; give nodes = <count> or names = [...]");
            return Err(self.error(Some(given.span().start), "cluster.kinds", message));
        }
        for (kind, count) in &given.get_ref().0 {
            // The key is the offending value; it comes before its count.
            let start = count.span().start;
            let offset = self
                .source
                .text
                .get(..start)
                .and_then(|t| t.rfind(kind.as_str()));
            let field = format!("cluster.kinds.{kind}");
            self.known(KIND, kind, declared, offset.or(Some(start)), &field)?;
        }
        Ok(())
    }

    /// Where fault `index`'s `key` is written: its value's offset, or the fault's line.
    fn fault_offset(&self, index: usize, key: &str) -> Option<usize> {
        let raw = self.raw.as_ref()?;
        let same = raw.faults.len() == self.scenario.faults.len();
        let fault = raw.faults.get(index).filter(|_| same)?;
        let value = match key {
            "on_event" => fault.get_ref().on_event.as_ref().map(|v| v.span().start),
            _ => fault.get_ref().node.as_ref().map(|v| v.span().start),
        };
        value.or(Some(fault.span().start))
    }

    fn fault(&self, index: usize, trigger: &Trigger, action: &Action) -> Result<(), ScenarioError> {
        if let Trigger::OnEvent { event, .. } = trigger {
            let field = format!("faults[{index}].on_event");
            let offset = self.fault_offset(index, "on_event");
            self.known(EVENT, event, &self.declaration.events, offset, &field)?;
        }
        let target = match action {
            Action::Crash { target, .. }
            | Action::Restart { target }
            | Action::Pause { target, .. }
            | Action::Clock { target, .. } => target,
            Action::Partition {
                shape: Shape::Isolate(target),
                ..
            } => target,
            _ => return Ok(()),
        };
        let field = format!("faults[{index}].node");
        let offset = self.fault_offset(index, "node");
        match target {
            Target::Role(role) => self.known(ROLE, role, &self.declaration.roles, offset, &field),
            Target::Kind(kind) | Target::RandomOfKind(kind) => {
                self.known(KIND, kind, &self.kinds(), offset, &field)
            }
            _ => Ok(()),
        }
    }

    fn bugs(&self) -> Result<(), ScenarioError> {
        let Some(toml::Value::Array(bugs)) = self.scenario.protocol_table().get("bugs") else {
            return Ok(());
        };
        let key = self.source.locate_key("protocol", "bugs");
        for (i, bug) in bugs.iter().enumerate() {
            let Some(bug) = bug.as_str() else { continue };
            // The entry itself, quoted, after the key; else the key.
            let quoted = format!("{bug:?}");
            let after = self.source.text.get(key..).and_then(|t| t.find(&quoted));
            let offset = after.map_or(key, |o| key + o);
            let field = format!("protocol.bugs[{i}]");
            self.known(BUG, bug, &self.declaration.bugs, Some(offset), &field)?;
        }
        Ok(())
    }

    fn expect(&self) -> Result<(), ScenarioError> {
        let Some(expect) = &self.scenario.expect else {
            return Ok(());
        };
        let raw = self.raw.as_ref().and_then(|r| r.expect.as_ref());
        let offset = raw.map(|e| match &e.get_ref().fails {
            Some(fails) => fails.span().start,
            None => e.span().start,
        });
        let checks = &self.declaration.checks;
        self.known(CHECK, &expect.fails, checks, offset, "expect.fails")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raft() -> Declaration {
        Declaration {
            kinds: Vec::new(),
            roles: vec!["leader", "follower", "candidate"],
            nemesis_roles: vec!["leader"],
            events: vec!["restored", "became_pre_candidate", "became_leader", "voted"],
            checks: vec!["raft.election_safety", "raft.log_matching"],
            bugs: vec!["ack_before_sync", "forget_persist_vote"],
        }
    }

    fn two_phase() -> Declaration {
        Declaration {
            kinds: vec!["coordinator", "participant"],
            roles: vec!["coordinator"],
            events: vec!["prepared"],
            checks: vec!["2pc.atomicity"],
            ..Declaration::default()
        }
    }

    const RAFT: &str = r#"duration = "30s"
[cluster]
nodes = 3
[protocol]
name = "raft"
bugs = ["ack_before_sync", "forget_persist_vote"]

[[faults]]
at = "1s"
kind = "crash"
node = "leader"

[[faults]]
on_event = "became_leader"
kind = "partition"
node = "role:follower"

[expect]
fails = "raft.log_matching"
within_seeds = 5
"#;

    const TWO_PHASE: &str = r#"duration = "30s"
[cluster]
kinds = { coordinator = 1, participant = 3 }
[protocol]
name = "2pc"

[[faults]]
on_event = "prepared"
kind = "crash"
node = "random:participant"
"#;

    fn names_error(text: &str, declaration: &Declaration) -> ScenarioError {
        let s = Scenario::parse("scenarios/x.toml", text).expect("the file itself is valid");
        s.validate_names(declaration)
            .expect_err("a name should be unknown")
    }

    #[test]
    fn correct_names_pass() {
        let s = Scenario::parse("x.toml", RAFT).expect("valid");
        s.validate_names(&raft()).expect("every name is raft's");
        let s = Scenario::parse("x.toml", TWO_PHASE).expect("valid");
        s.validate_names(&two_phase()).expect("every name is 2pc's");
    }

    #[test]
    fn a_misspelt_event_is_an_error_with_a_suggestion() {
        let e = names_error(
            &RAFT.replace("\"became_leader\"", "\"became_leadr\""),
            &raft(),
        );
        assert_eq!(
            e.to_string(),
            "scenarios/x.toml:14:12: field \"faults[1].on_event\": unknown event \"became_leadr\"; \
             did you mean \"became_leader\"? the family raft reports restored, \
             became_pre_candidate, became_leader, voted"
        );
    }

    #[test]
    fn a_misspelt_role_is_an_error_with_a_suggestion() {
        let e = names_error(&RAFT.replace("role:follower", "role:folower"), &raft());
        assert_eq!(e.field, "faults[1].node");
        assert_eq!((e.line, e.column), (16, 8), "{e}");
        assert!(e.message.contains("did you mean \"follower\"?"), "{e}");
        assert!(e
            .message
            .contains("declares the roles leader, follower, candidate"));
    }

    #[test]
    fn leader_is_a_role_the_family_must_declare() {
        let fd = Declaration {
            events: vec!["suspect", "restore"],
            ..Declaration::default()
        };
        let text = RAFT
            .replace("name = \"raft\"", "name = \"failure-detector\"")
            .replace(
                "bugs = [\"ack_before_sync\", \"forget_persist_vote\"]\n",
                "",
            )
            .replace("on_event = \"became_leader\"", "on_event = \"suspect\"");
        let e = names_error(&text, &fd);
        assert_eq!(e.field, "faults[0].node", "{e}");
        assert!(
            e.message.ends_with(
                "unknown role \"leader\"; the family failure-detector declares no roles"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_misspelt_kind_is_an_error_in_selectors_and_in_the_cluster() {
        let mut declaration = two_phase();
        declaration.kinds = vec!["coordinator", "participant", "observer"];
        let e = names_error(
            &TWO_PHASE.replace("participant", "participnt"),
            &declaration,
        );
        assert_eq!(e.field, "cluster.kinds.participnt");
        assert_eq!((e.line, e.column), (3, 28), "{e}");
        assert!(e.message.contains("did you mean \"participant\"?"), "{e}");
        let s = Scenario::parse("x.toml", TWO_PHASE).expect("valid");
        let mut other = two_phase();
        other.kinds = vec!["coordinator", "participants"];
        let e = s.validate_names(&other).expect_err("unknown kind");
        assert_eq!(e.field, "cluster.kinds.participant", "{e}");
    }

    /// `[cluster.kinds]` as a table of its own: names are checked as in the inline form, at
    /// the line of the kind.
    #[test]
    fn a_misspelt_kind_in_a_kinds_table_is_an_error_at_its_own_line() {
        let table = TWO_PHASE.replace(
            "[cluster]\nkinds = { coordinator = 1, participant = 3 }\n",
            "[cluster.kinds]\ncoordinator = 1\nparticipant = 3\n",
        );
        let e = names_error(&table.replace("participant", "participnt"), &two_phase());
        assert_eq!(e.field, "cluster.kinds.participnt");
        assert_eq!((e.line, e.column), (4, 1), "{e}");
        assert!(e.message.contains("did you mean \"participant\"?"), "{e}");
        let s = Scenario::parse("x.toml", &table).expect("valid");
        s.validate_names(&two_phase()).expect("every name is 2pc's");
        // A family without kinds refuses them at the table, whichever way it is written.
        let e = s.validate_names(&raft()).expect_err("raft has no kinds");
        assert_eq!((e.field.as_str(), e.line), ("cluster.kinds", 2), "{e}");
    }

    #[test]
    fn kinds_are_required_by_a_family_with_kinds_and_rejected_by_one_without() {
        let e = names_error(RAFT, &two_phase());
        assert_eq!(e.field, "cluster.kinds");
        assert!(
            e.message
                .starts_with("missing: the family raft has kinds of node"),
            "{e}"
        );
        let e = names_error(TWO_PHASE, &raft());
        assert_eq!(e.field, "cluster.kinds");
        assert!(e.message.contains("declares no kinds of node"), "{e}");
    }

    #[test]
    fn a_misspelt_bug_is_an_error_at_its_entry() {
        let e = names_error(
            &RAFT.replace("forget_persist_vote", "forget_persist_vot"),
            &raft(),
        );
        assert_eq!(e.field, "protocol.bugs[1]");
        assert_eq!((e.line, e.column), (6, 28), "{e}");
        assert!(
            e.message.contains("did you mean \"forget_persist_vote\"?"),
            "{e}"
        );
        assert!(e
            .message
            .contains("plants the bugs ack_before_sync, forget_persist_vote"));
    }

    #[test]
    fn a_misspelt_check_is_an_error_at_expect_fails() {
        let e = names_error(
            &RAFT.replace("raft.log_matching", "raft.log_machting"),
            &raft(),
        );
        assert_eq!(e.field, "expect.fails");
        assert_eq!((e.line, e.column), (19, 9), "{e}");
        assert!(
            e.message.contains("did you mean \"raft.log_matching\"?"),
            "{e}"
        );
    }

    #[test]
    fn suggestions_are_near_and_ties_go_to_the_first() {
        assert_eq!(suggest("leadr", &["follower", "leader"]), Some("leader"));
        assert_eq!(suggest("xyz", &["leader"]), None);
        assert_eq!(suggest("x", &["y"]), None);
        assert_eq!(suggest("ab", &["ac", "ad"]), Some("ac"));
        assert_eq!(suggest("anything", &[]), None);
    }
}
