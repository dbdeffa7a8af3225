//! `sim verify`: every shipped scenario by its own `[expect]` table, and the names a scenario
//! uses checked against its family's declaration (issue 8).

use crate::support::{code, root, sim, stderr, stdout, temp_file};

/// A passing Raft scenario's text with `extra` appended.
fn leader_crash_with(extra: &str) -> String {
    let text = std::fs::read_to_string(root().join("scenarios/raft/leader-crash.toml"))
        .expect("the shipped scenario");
    format!("{text}\n{extra}")
}

#[test]
fn every_shipped_scenario_meets_its_expect_table() {
    let output = sim(&["verify", "scenarios", "--seeds", "1"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}{}", stderr(&output));
    let files = out.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(files >= 17, "{out}");
    assert!(
        out.contains("raft/bugs/ack_before_sync.toml: expected to fail raft.durability"),
        "{out}"
    );
}

#[test]
fn an_expected_failure_that_never_comes_is_reported_and_exits_1() {
    let text = leader_crash_with("[expect]\nfails = \"raft.election_safety\"\nwithin_seeds = 1\n");
    let file = temp_file("verify-never-fails.toml", &text);
    let output = sim(&["verify", file.to_str().unwrap_or_default()]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stdout(&output).contains("raft.election_safety never failed in seeds 0..1"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_misspelt_check_in_expect_exits_2_with_a_suggestion() {
    let text = leader_crash_with("[expect]\nfails = \"raft.election_safty\"\nwithin_seeds = 1\n");
    let file = temp_file("verify-misspelt-check.toml", &text);
    let output = sim(&["verify", file.to_str().unwrap_or_default()]);
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains("field \"expect.fails\""), "{err}");
    assert!(
        err.contains("did you mean \"raft.election_safety\"?"),
        "{err}"
    );
}

#[test]
fn issue_8_a_misspelt_on_event_exits_2_naming_the_line_and_the_nearest_event() {
    let text = std::fs::read_to_string(root().join("scenarios/raft/leader-crash.toml"))
        .expect("the shipped scenario")
        .replacen(
            "on_event = \"became_leader\"",
            "on_event = \"became_leadr\"",
            1,
        );
    let line = text
        .lines()
        .position(|l| l.contains("became_leadr"))
        .expect("the scenario has an on_event")
        + 1;
    let file = temp_file("misspelt-event.toml", &text);
    let output = sim(&["run", file.to_str().unwrap_or_default()]);
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains(&format!(".toml:{line}:")), "{err}");
    assert!(err.contains("unknown event \"became_leadr\""), "{err}");
    assert!(err.contains("did you mean \"became_leader\"?"), "{err}");
}

#[test]
fn misspelt_roles_bugs_and_protocols_exit_2_with_suggestions() {
    let cases = [
        (
            "node = \"leader\"",
            "node = \"role:leadr\"",
            "did you mean \"leader\"?",
        ),
        (
            "name = \"raft\"",
            "name = \"raft\"\nbugs = [\"forget_persist_vot\"]",
            "did you mean \"forget_persist_vote\"?",
        ),
        (
            "name = \"raft\"",
            "name = \"rafft\"",
            "did you mean \"raft\"?",
        ),
    ];
    for (i, (from, to, hint)) in cases.into_iter().enumerate() {
        let text = std::fs::read_to_string(root().join("scenarios/raft/leader-crash.toml"))
            .expect("the shipped scenario")
            .replacen(from, to, 1);
        assert!(text.contains(to), "case {i}: {from:?} not in the scenario");
        let file = temp_file(&format!("misspelt-name-{i}.toml"), &text);
        let output = sim(&["run", file.to_str().unwrap_or_default()]);
        assert_eq!(code(&output), 2, "case {i}");
        assert!(
            stderr(&output).contains(hint),
            "case {i}: {}",
            stderr(&output)
        );
    }
}
