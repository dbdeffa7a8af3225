//! Issue 15: every choice of a `[swarm]` file is validated when the file is loaded, the
//! family's own tables included, each error at the choice's own line with the field's path.

use sim_scenario::{Scenario, ScenarioError};

use crate::bench::BeatSuite;
use crate::Families;

const SWARM: &str = r#"duration = "5s"
[cluster]
nodes = 3
[protocol]
name = "beat"
[swarm]
protocol = [
  { interval = "100ms" },
  { interval = "20ms" },
  { interval = "BAD" },
]
"protocol.interval" = ["1s"]
"#;

fn validate(text: &str) -> Result<(), ScenarioError> {
    let scenario = Scenario::parse("swarm.toml", text)?;
    Families::new()
        .with::<BeatSuite>()
        .validate(&scenario)
        .map(|_| ())
}

/// The text with `"protocol.interval"` gone, so the `protocol` key's choices decide.
fn swarm(choice: &str) -> String {
    SWARM
        .replace("\"protocol.interval\" = [\"1s\"]\n", "")
        .replace("{ interval = \"BAD\" }", choice)
}

#[test]
fn a_valid_swarm_file_passes() {
    validate(&swarm("{ interval = \"5ms\" }")).expect("every choice is valid");
}

#[test]
fn a_bad_choice_in_a_family_table_is_an_error_at_its_own_line() {
    // Scenario::parse alone cannot know: beat's [protocol] is the family's to decode.
    let text = swarm("{ interval = 5 }");
    Scenario::parse("swarm.toml", &text).expect("the scenario's own sections are valid");
    let e = validate(&text).expect_err("the third choice");
    assert_eq!(e.field, "swarm.\"protocol\"[2]", "{e}");
    assert_eq!(e.line, 10, "the choice's own line: {e}");
    assert!(
        e.message
            .starts_with("choice 3 of 3, protocol.interval: expected a duration"),
        "{e}"
    );
    // A misspelt field in a choice names the choice and suggests the field.
    let e = validate(&swarm("{ intervall = \"5ms\" }")).expect_err("a typo");
    assert_eq!(
        (e.field.as_str(), e.line),
        ("swarm.\"protocol\"[2]", 10),
        "{e}"
    );
    assert!(e.message.contains("did you mean `interval`"), "{e}");
}

#[test]
fn a_value_choice_and_a_whole_section_choice_are_placed_too() {
    let text = SWARM
        .replace("{ interval = \"BAD\" }", "{ interval = \"1ms\" }")
        .replace("[\"1s\"]", "[\"1s\",\n  \"soon\"]");
    let e = validate(&text).expect_err("the second value");
    assert_eq!(
        (e.field.as_str(), e.line),
        ("swarm.\"protocol.interval\"[1]", 13),
        "{e}"
    );
    let star = "duration = \"5s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"beat\"\n\
                interval = \"1s\"\n[swarm]\n\"*\" = [\n  { cluster = { nodes = 2 } },\n  \
                { protocol = { interval = [1] } },\n]\n";
    let e = validate(star).expect_err("the second section choice");
    assert_eq!((e.field.as_str(), e.line), ("swarm.\"*\"[1]", 10), "{e}");
    assert!(e.message.contains("protocol.interval"), "{e}");
}

#[test]
fn the_files_own_mistake_is_reported_at_its_own_line() {
    let text = "duration = \"5s\"\n[cluster]\n\n[protocol]\nname = \"beat\"\n\
                interval = \"1s\"\nextra = 1\n[swarm]\n\"cluster.nodes\" = [3, 5]\n";
    let e = validate(text).expect_err("extra is no beat parameter");
    assert_eq!((e.field.as_str(), e.line), ("protocol.extra", 7), "{e}");
}

#[test]
fn a_file_without_swarm_has_its_family_tables_checked_at_load() {
    let text = "duration = \"5s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"beat\"\n\
                interval = true\n";
    let e = validate(text).expect_err("a boolean interval");
    assert_eq!((e.field.as_str(), e.line), ("protocol.interval", 6), "{e}");
}
