//! Unit tests of the scenario crate: parsing, validation errors with positions, schedules.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const VALID: &str = r#"
name = "partition"
description = "isolate the leader"
duration = "30s"
quiet = "10s"

[cluster]
nodes = 5

[protocol]
name = "raft"
election_timeout = ["150ms", "300ms"]

[network]
latency = { min = "1ms", max = "5ms" }
drop = 0.01

[workload]
clients = 3

[[faults]]
at = "10s"
kind = "partition"
shape = "isolate"
node = "leader"
heal_after = "10s"

[[faults]]
on_event = "became_leader"
occurrence = 2
kind = "crash"
node = "reporter"
restart_after = "2s"

[nemesis]
kinds = ["crash", "partition", "clock"]
interval = ["2s", "5s"]
fault_duration = ["1s", "3s"]
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse("s.toml", text)
}

fn error(text: &str) -> ScenarioError {
    parse(text).expect_err("the scenario should be rejected")
}

#[test]
fn a_valid_scenario_parses() {
    let s = parse(VALID).expect("valid");
    assert_eq!(s.name, "partition");
    assert_eq!(s.node_names, vec!["n1", "n2", "n3", "n4", "n5"]);
    assert_eq!(s.duration, SimDuration::from_secs(30));
    assert_eq!(s.protocol, "raft");
    assert_eq!(s.network.drop_probability, 0.01);
    assert_eq!(s.faults.len(), 2);
    assert_eq!(s.faults[0].trigger, Trigger::At(SimTime(10_000_000_000)));
    assert_eq!(
        s.faults[1].trigger,
        Trigger::OnEvent {
            event: "became_leader".into(),
            occurrence: 2,
            not_before: SimTime::ZERO
        }
    );
    assert!(matches!(
        &s.faults[1].action,
        Action::Crash {
            target: Target::Reporter,
            ..
        }
    ));
}

#[test]
fn protocol_tables_decode_into_suite_types() {
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Params {
        #[allow(dead_code)]
        election_timeout: [SimDuration; 2],
    }
    let s = parse(VALID).unwrap();
    let p: Params = s.decode(Section::Protocol).unwrap();
    assert_eq!(p.election_timeout[1], SimDuration::from_millis(300));

    let bad = VALID.replace("election_timeout = [", "election_timout = [");
    let s = parse(&bad).unwrap();
    let e = s.decode::<Params>(Section::Protocol).unwrap_err();
    assert_eq!(e.line, 12, "{e}");
    assert_eq!(e.field, "protocol.election_timout");
}

#[test]
fn schedule_is_deterministic_per_seed_and_varies_across_seeds() {
    let s = parse(VALID).unwrap();
    assert_eq!(s.schedule(7, &["leader"]), s.schedule(7, &["leader"]));
    let differs = (0..10).any(|seed| s.schedule(seed, &["leader"]) != s.schedule(7, &["leader"]));
    assert!(differs, "the nemesis ignores the seed");
    let schedule = s.schedule(7, &["leader"]);
    assert!(
        schedule.len() > 2,
        "the nemesis added nothing: {schedule:?}"
    );
    for f in &schedule {
        if let Trigger::At(t) = f.trigger {
            assert!(t <= s.fault_end());
        }
    }
}

fn assert_error(text: &str, line: usize, field: &str, needle: &str) {
    let e = error(text);
    assert_eq!(e.line, line, "wrong line in: {e}");
    assert_eq!(e.field, field, "wrong field in: {e}");
    assert!(e.message.contains(needle), "{e:?} does not say {needle:?}");
    assert!(e.to_string().starts_with("s.toml:"), "{e}");
}

#[test]
fn an_empty_file_is_rejected() {
    let e = error("  \n");
    assert!(e.message.contains("empty"), "{e}");
}

#[test]
fn text_that_is_not_toml_is_rejected_with_its_line() {
    let e = error("duration = \"1s\"\n[cluster\nnodes = 3\n");
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn wrong_types_are_rejected() {
    assert_error(
        &VALID.replace("nodes = 5", "nodes = \"five\""),
        8,
        "cluster.nodes",
        "expected an integer, found \"five\"",
    );
}

/// A latency is a duration or a table, and a bad one says what is wrong with it: it used to say
/// only "data did not match any variant of untagged enum RawLatency", for a typo in a duration
/// as for a duration too large to hold.
#[test]
fn a_bad_latency_says_what_is_wrong_with_it() {
    let latency = "latency = { min = \"1ms\", max = \"5ms\" }";
    for (bad, needle) in [
        ("latency = \"1h30m\"", "found \"1h30m\" (an unknown unit)"),
        ("latency = \"99999999999h\"", "a duration too large"),
        ("latency = 5", "the bare number 5"),
        (
            "latency = true",
            "expected a latency: a duration such as \"2ms\", or a table",
        ),
        ("latency = { min = \"1ms\", max = \"5x\" }", "found \"5x\""),
        ("latency = { min = \"1ms\" }", "missing field `max`"),
    ] {
        let e = error(&VALID.replace(latency, bad));
        assert_eq!(e.line, 15, "{bad}: {e}");
        assert!(e.message.contains(needle), "{bad}: {e}");
        assert!(!e.message.contains("untagged"), "{bad}: {e}");
    }
    let fixed = parse(&VALID.replace(latency, "latency = \"2ms\"")).expect("a fixed latency");
    assert_eq!(
        fixed.network.latency,
        Latency::Fixed(SimDuration::from_millis(2))
    );
}

/// Serde quotes the value of a wrong type (`invalid type: boolean `true``); that is no field
/// name, and errors used to say `field "true"`, or `field "protocol.true"` placed at the table's
/// header. A value of the wrong type is blamed on its own field, at its own line, in words
/// (issue 14), in the file's own tables as in a family's.
#[test]
fn a_value_of_the_wrong_type_is_blamed_on_its_field_at_its_line() {
    let e = error(&VALID.replace("duration = \"30s\"", "duration = true"));
    assert_eq!((e.line, e.field.as_str()), (4, "duration"), "{e}");
    assert!(e.message.contains("found true"), "{e}");
    let e = error(&VALID.replace("nodes = 5", "nodes = 3.5"));
    assert_eq!((e.line, e.field.as_str()), (8, "cluster.nodes"), "{e}");
    assert_eq!(e.message, "expected an integer, found 3.5", "{e}");
    let s = parse(&VALID.replace("clients = 3", "clients = true")).expect("valid");
    let e = s
        .decode::<BTreeMap<String, u32>>(Section::Workload)
        .expect_err("a boolean is no count");
    assert_eq!(e.field, "workload.clients", "{e}");
    assert_eq!(e.line, 19, "{e}");
    assert!(e.message.contains("found true"), "{e}");
}

#[test]
fn unknown_keys_are_rejected() {
    let e = error(&VALID.replace("drop = 0.01", "drop = 0.01\njitter = 3"));
    assert_eq!(e.line, 17, "{e}");
    assert!(e.message.contains("unknown field `jitter`"), "{e}");
    assert_eq!(e.field, "network.jitter");
}

#[test]
fn probabilities_outside_the_unit_interval_are_rejected() {
    assert_error(
        &VALID.replace("drop = 0.01", "drop = 1.5"),
        16,
        "network.drop",
        "expected a probability in [0, 1], found 1.5",
    );
    assert_error(
        &VALID.replace("drop = 0.01", "drop = -0.1"),
        16,
        "network.drop",
        "probability",
    );
}

#[test]
fn negative_and_absurd_durations_are_rejected() {
    assert_error(
        &VALID.replace("duration = \"30s\"", "duration = \"-5s\""),
        4,
        "duration",
        "duration",
    );
    assert_error(
        &VALID.replace("duration = \"30s\"", "duration = \"0s\""),
        4,
        "duration",
        "positive",
    );
    assert_error(
        &VALID.replace("duration = \"30s\"", "duration = \"400000h\""),
        4,
        "duration",
        "absurd",
    );
    assert_error(
        &VALID.replace("duration = \"30s\"", "duration = 30"),
        4,
        "duration",
        "unit",
    );
}

/// `--duration` (and a failure record's duration) replaces the fault phase; it is held to the
/// limits of the file's own duration, so a flag cannot ask for a run the file could not.
#[test]
fn a_duration_override_is_held_to_the_file_limits() {
    let s = parse(VALID).expect("valid");
    let shorter = s.with_duration(SimDuration::from_secs(12)).expect("12s");
    assert_eq!(shorter.duration, SimDuration::from_secs(12));
    assert_eq!(shorter.end(), SimTime::ZERO + SimDuration::from_secs(22));
    let dropping = s
        .with_duration(SimDuration::from_secs(5))
        .expect_err("the fault at 10s would be dropped");
    assert_eq!(dropping.field, "faults[0].at");
    let zero = s.with_duration(SimDuration::ZERO).expect_err("0s");
    assert_eq!(zero.field, "duration");
    assert!(zero.to_string().contains("positive"), "{zero}");
    let long = s
        .with_duration(SimDuration::from_secs(100_000 * 3600))
        .expect_err("100000h");
    assert_eq!(long.field, "duration");
    assert!(long.to_string().contains("at most 24h"), "{long}");
    assert!(s.with_duration(RUN_MAX).is_err(), "24h plus 10s of quiet");
    assert!(emit::explicit(&s, 1, Some(SimDuration::ZERO), &["leader"]).is_err());
}

#[test]
fn references_to_missing_nodes_are_rejected() {
    let e = error(&VALID.replace("node = \"leader\"", "node = \"n9\""));
    assert_eq!(e.line, 25, "{e}");
    assert_eq!(e.field, "faults[0].node");
    assert!(e.message.contains("no node is called \"n9\""), "{e}");
}

#[test]
fn faults_after_the_fault_phase_are_rejected() {
    assert_error(
        &VALID.replace("at = \"10s\"", "at = \"31s\""),
        22,
        "faults[0].at",
        "after the end",
    );
}

#[test]
fn a_field_of_another_fault_kind_is_rejected() {
    let e = error(&VALID.replace(
        "restart_after = \"2s\"",
        "restart_after = \"2s\"\nfor = \"1s\"",
    ));
    assert_eq!(e.field, "faults[1].for", "{e}");
}

#[test]
fn reporter_needs_an_event() {
    let e = error(&VALID.replace("node = \"leader\"", "node = \"reporter\""));
    assert!(e.message.contains("needs on_event"), "{e}");
}

#[test]
fn unknown_nemesis_kinds_are_rejected() {
    assert_error(
        &VALID.replace("\"clock\"]", "\"meteor\"]"),
        36,
        "nemesis.kinds",
        "meteor",
    );
}

#[test]
fn a_missing_protocol_name_is_rejected() {
    assert_error(
        &VALID.replace("name = \"raft\"", "engine = \"raft\""),
        10,
        "protocol.name",
        "missing",
    );
    // A misspelt name is blamed at its own line, with the key it meant.
    assert_error(
        &VALID.replace("name = \"raft\"", "nme = \"raft\""),
        11,
        "protocol.nme",
        "did you mean `name`?",
    );
}

/// A restart of a named node that is not down then could not take effect: an error at its
/// field (issue 14), whether it never crashed or came back already.
#[test]
fn issue_14_a_restart_of_a_node_that_is_not_down_is_rejected() {
    let base = "duration = \"30s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"raft\"\n";
    let never = format!("{base}[[faults]]\nat = \"5s\"\nkind = \"restart\"\nnode = \"n2\"\n");
    let e = error(&never);
    assert_eq!((e.line, e.field.as_str()), (9, "faults[0].node"), "{e}");
    assert!(e.message.contains("n2 is not down at 5s"), "{e}");
    let back = format!(
        "{base}[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"n2\"\nrestart_after = \"1s\"\n\
         [[faults]]\nat = \"5s\"\nkind = \"restart\"\nnode = \"n2\"\n"
    );
    let e = error(&back);
    assert_eq!((e.line, e.field.as_str()), (14, "faults[1].node"), "{e}");
    assert!(e.message.contains("restarted it at 2s"), "{e}");
    // Crashed and not yet back: a restart is what it needs; twice is once too many.
    let fine = format!(
        "{base}[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"n2\"\n\
         [[faults]]\nat = \"5s\"\nkind = \"restart\"\nnode = \"n2\"\n"
    );
    parse(&fine).expect("a restart of a crashed node");
    let twice = format!("{fine}[[faults]]\nat = \"6s\"\nkind = \"restart\"\nnode = \"n2\"\n");
    assert_eq!(error(&twice).field, "faults[2].node");
    // Whether a leader crashed is the run's to know: no error here.
    let leader = format!(
        "{base}[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"leader\"\n\
         [[faults]]\nat = \"5s\"\nkind = \"restart\"\nnode = \"n2\"\n"
    );
    parse(&leader).expect("the run decides");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the text, the parser answers with a scenario or an error, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    /// Mutations of a valid file: a byte replaced, a range deleted, or a line duplicated.
    #[test]
    fn mutations_of_a_valid_file_never_panic(position in 0usize..VALID.len(), len in 0usize..40, byte in any::<u8>(), op in 0u8..3) {
        let mut bytes = VALID.as_bytes().to_vec();
        match op {
            0 => bytes[position] = byte,
            1 => { let end = (position + len).min(bytes.len()); bytes.drain(position..end); }
            _ => { let end = (position + len).min(bytes.len()); let copy = bytes[position..end].to_vec(); bytes.splice(position..position, copy); }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = parse(&text) {
            prop_assert!(!e.message.is_empty());
        }
        if let Ok(s) = parse(&text) {
            let _ = s.schedule(1, &["leader"]);
        }
    }
}

#[test]
fn a_key_without_a_value_is_rejected_with_a_message() {
    let e = error("duration =\n");
    assert_eq!(e.line, 1, "{e}");
    assert!(!e.message.is_empty(), "{e:?}");
}

const KINDS: &str = r#"
duration = "10s"

[cluster]
kinds = { participant = 3, coordinator = 1 }

[protocol]
name = "2pc"

[[faults]]
at = "1s"
kind = "crash"
node = "kind:participant"

[[faults]]
at = "2s"
kind = "pause"
node = "random:coordinator"
for = "1s"

[expect]
fails = "2pc.atomicity"
within_seeds = 5
"#;

#[test]
fn kinds_number_nodes_in_file_order() {
    let s = parse(KINDS).expect("valid");
    assert_eq!(s.node_names, vec!["n1", "n2", "n3", "n4"]);
    assert_eq!(
        s.node_kinds,
        vec!["participant", "participant", "participant", "coordinator"]
    );
    assert_eq!(
        s.nodes_of_kind("coordinator").collect::<Vec<_>>(),
        vec![NodeId(3)]
    );
    assert_eq!(s.nodes_of_kind("participant").count(), 3);
    assert_eq!(s.kinds(), vec!["participant", "coordinator"]);
}

#[test]
fn without_kinds_every_node_is_of_the_default_kind() {
    let s = parse(VALID).expect("valid");
    assert!(s.node_kinds.iter().all(|k| k == "node"));
    assert_eq!(s.node_kinds.len(), 5);
    assert!(s.expect.is_none());
}

#[test]
fn kinds_go_with_names_when_the_counts_add_up() {
    let text = KINDS.replace(
        "kinds = {",
        "names = [\"a\", \"b\", \"c\", \"d\"]\nkinds = {",
    );
    let s = parse(&text).expect("valid");
    assert_eq!(s.node_names, vec!["a", "b", "c", "d"]);
    assert_eq!(s.node_kinds[3], "coordinator");
    let short = KINDS.replace("kinds = {", "names = [\"a\", \"b\"]\nkinds = {");
    assert_error(
        &short,
        6,
        "cluster.kinds",
        "add up to 4 nodes, but names lists 2",
    );
}

#[test]
fn kinds_and_a_node_count_are_exclusive() {
    let text = KINDS.replace("kinds = {", "nodes = 4\nkinds = {");
    assert_error(&text, 6, "cluster.kinds", "either nodes (a count) or kinds");
}

#[test]
fn bad_kind_counts_are_rejected() {
    let zero = KINDS.replace("coordinator = 1", "coordinator = 0");
    assert_error(
        &zero,
        5,
        "cluster.kinds.coordinator",
        "expected a node count in 1..=64, found 0",
    );
    let many = KINDS.replace("coordinator = 1", "coordinator = 62");
    assert_error(&many, 5, "cluster.kinds.coordinator", "more than 64 nodes");
    let empty = KINDS.replace("participant = 3, coordinator = 1", "");
    assert_error(&empty, 5, "cluster.kinds", "at least one kind");
    let range = KINDS.replace("coordinator = 1", "coordinator = [1, 2]");
    assert!(parse(&range).is_err());
}

#[test]
fn kind_selectors_resolve_to_targets_and_display_back() {
    let s = parse(KINDS).expect("valid");
    let target = |i: usize| match &s.faults[i].action {
        Action::Crash { target, .. } | Action::Pause { target, .. } => target.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(target(0), Target::Kind("participant".into()));
    assert_eq!(target(1), Target::RandomOfKind("coordinator".into()));
    assert_eq!(target(0).to_string(), "kind:participant");
    assert_eq!(target(1).to_string(), "random:coordinator");
}

#[test]
fn a_selector_of_a_kind_the_cluster_lacks_is_rejected() {
    let text = KINDS.replace("kind:participant", "kind:participnt");
    assert_error(
        &text,
        13,
        "faults[0].node",
        "no node is of kind \"participnt\"; did you mean \"participant\"? the cluster's kinds ([cluster] kinds) are participant, coordinator",
    );
    let empty = KINDS.replace("random:coordinator", "random:");
    assert_error(
        &empty,
        18,
        "faults[1].node",
        "no node is called \"random:\"",
    );
}

#[test]
fn selectors_are_not_allowed_in_groups() {
    let text = VALID.replace(
        "shape = \"isolate\"\nnode = \"leader\"",
        "shape = \"split\"\ngroups = [[\"n1\"], [\"kind:node\"]]",
    );
    assert_error(
        &text,
        25,
        "faults[0].groups",
        "selectors are not allowed in groups",
    );
}

#[test]
fn selector_prefixes_cannot_name_nodes() {
    let text = VALID.replace("nodes = 5", "names = [\"a\", \"kind:b\"]");
    assert_error(&text, 8, "cluster.names", "reserved selector");
}

#[test]
fn expect_is_read_and_both_keys_are_required() {
    let s = parse(KINDS).expect("valid");
    assert_eq!(
        s.expect,
        Some(Expect {
            fails: "2pc.atomicity".into(),
            within_seeds: 5
        })
    );
    let no_seeds = KINDS.replace("within_seeds = 5", "");
    assert_error(&no_seeds, 21, "expect.within_seeds", "missing");
    let no_fails = KINDS.replace("fails = \"2pc.atomicity\"", "");
    assert_error(&no_fails, 21, "expect.fails", "missing");
    let zero = KINDS.replace("within_seeds = 5", "within_seeds = 0");
    assert_error(
        &zero,
        23,
        "expect.within_seeds",
        "expected a seed count in 1..=100000, found 0",
    );
    let huge = KINDS.replace("within_seeds = 5", "within_seeds = 100001");
    assert_error(&huge, 23, "expect.within_seeds", "found 100001");
    let unknown = KINDS.replace("within_seeds = 5", "within_seeds = 5\nbudget = 3");
    assert_error(&unknown, 24, "expect.budget", "unknown field");
}

#[test]
fn protocol_bugs_must_be_an_array_of_names() {
    let text = VALID.replace(
        "name = \"raft\"",
        "name = \"raft\"\nbugs = \"ack_before_sync\"",
    );
    assert_error(
        &text,
        12,
        "protocol.bugs",
        "expected an array of bug names, found string",
    );
    let text = VALID.replace("name = \"raft\"", "name = \"raft\"\nbugs = [\"a\", 3]");
    assert_error(
        &text,
        12,
        "protocol.bugs[1]",
        "expected a bug name (a string), found integer",
    );
    let ok = VALID.replace("name = \"raft\"", "name = \"raft\"\nbugs = [\"a\"]");
    assert!(parse(&ok).is_ok());
}

#[test]
fn kinds_and_expect_are_written_back_out() {
    let s = parse(KINDS).expect("valid");
    let text = emit::to_toml(&s, "");
    let again = Scenario::parse("again.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again.node_kinds, s.node_kinds, "{text}");
    assert_eq!(again.node_names, s.node_names, "{text}");
    assert_eq!(again.expect, s.expect, "{text}");
    let actions = |s: &Scenario| {
        s.faults
            .iter()
            .map(|f| f.action.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(actions(&again), actions(&s), "{text}");
    let named = parse(&KINDS.replace(
        "kinds = {",
        "names = [\"a\", \"b\", \"c\", \"d\"]\nkinds = {",
    ))
    .expect("valid");
    let again = Scenario::parse("again.toml", &emit::to_toml(&named, "")).expect("valid");
    assert_eq!(again.node_names, named.node_names);
    assert_eq!(again.node_kinds, named.node_kinds);
}

#[test]
fn the_nemesis_aims_at_the_roles_it_is_given() {
    let s = parse(VALID).unwrap();
    let aimed = |roles: &[&str]| -> Vec<Target> {
        (0..20)
            .flat_map(|seed| s.schedule(seed, roles))
            .filter(|f| f.line == 0)
            .filter_map(|f| match f.action {
                Action::Crash { target, .. } | Action::Pause { target, .. } => Some(target),
                Action::Partition {
                    shape: Shape::Isolate(target),
                    ..
                } => Some(target),
                _ => None,
            })
            .filter(|t| !matches!(t, Target::Nodes(_) | Target::Reporter))
            .collect()
    };
    let none = aimed(&[]);
    assert!(!none.is_empty());
    assert!(none.iter().all(|t| *t == Target::Minority), "{none:?}");
    let two = aimed(&["coordinator", "holder"]);
    assert!(two.contains(&Target::Role("coordinator".into())), "{two:?}");
    assert!(two.contains(&Target::Role("holder".into())), "{two:?}");
    assert!(two.iter().all(|t| matches!(t, Target::Role(_))), "{two:?}");
}

/// A fault that could not take effect as written is an error at its field (issue 14): a split
/// of no group or with an empty group, and a node listed twice.
#[test]
fn empty_split_groups_and_nodes_listed_twice_are_rejected() {
    let with = |fault: &str| format!("{VALID}\n[[faults]]\nat = \"12s\"\n{fault}\n");
    let cases = [
        (
            "kind = \"partition\"\nshape = \"split\"\ngroups = []",
            "faults[2].groups",
            "at least one group",
        ),
        (
            "kind = \"partition\"\nshape = \"split\"\ngroups = [[], []]",
            "faults[2].groups",
            "an empty group",
        ),
        (
            "kind = \"crash\"\nnodes = [\"n1\", \"n2\", \"n1\"]",
            "faults[2].nodes",
            "\"n1\" is listed twice",
        ),
    ];
    for (fault, field, message) in cases {
        let error = parse(&with(fault)).expect_err(fault);
        assert_eq!(error.field, field, "{error}");
        assert!(error.message.contains(message), "{error}");
        assert!(error.line > 0, "{error}");
    }
    let fine =
        with("kind = \"partition\"\nshape = \"split\"\ngroups = [[\"n1\"], [\"n2\", \"n3\"]]");
    assert!(parse(&fine).is_ok());
}

/// Times that could never take effect are errors at their field (issue 14): a `not_before` past
/// the fault phase, a nemesis that would start after it, a latency tail longer than any run.
#[test]
fn absurd_waits_and_tails_are_rejected() {
    let cases = [
        (
            VALID.replace("occurrence = 2", "occurrence = 2\nnot_before = \"1000000h\""),
            "faults[1].not_before",
        ),
        (
            VALID.replace("fault_duration = [\"1s\", \"3s\"]", "fault_duration = [\"1s\", \"3s\"]\nstart_after = \"1000000h\""),
            "nemesis.start_after",
        ),
        (
            VALID.replace(
                "latency = { min = \"1ms\", max = \"5ms\" }",
                "latency = { min = \"1ms\", max = \"5ms\", tail_probability = 0.1, tail_scale = \"1ms\", tail_max = \"1000000h\" }",
            ),
            "network.latency.tail_max",
        ),
    ];
    for (text, field) in cases {
        let error = parse(&text).expect_err(field);
        assert_eq!(error.field, field, "{error}");
        assert!(error.line > 0, "{error}");
    }
    let s = parse(&VALID.replace(
        "fault_duration = [\"1s\", \"3s\"]",
        "fault_duration = [\"1s\", \"3s\"]\nstart_after = \"12s\"",
    ))
    .expect("valid");
    let error = s
        .with_duration(SimDuration::from_secs(11))
        .expect_err("the nemesis would never act");
    assert_eq!(error.field, "nemesis.start_after");
}

/// Every error names the full field path at the field's own line, says what was expected in
/// words, and suggests the nearest key for a typo (issue 14): the cases the audit found.
#[test]
fn issue_14_errors_name_the_full_field_path_at_its_own_line() {
    let fault = "heal_after = \"10s\"";
    let cases = [
        (
            VALID.replace(fault, "heal_after = \"10s\"\none_way = \"yes\""),
            27,
            "faults[0].one_way",
            "expected true or false, found \"yes\"",
        ),
        (
            VALID.replace(fault, "hael_after = \"10s\""),
            26,
            "faults[0].hael_after",
            "did you mean `heal_after`?",
        ),
        (
            VALID.replace(fault, "drift = \"5%\""),
            26,
            "faults[0].drift",
            "unknown field `drift`",
        ),
        (
            VALID.replace("at = \"10s\"", "at = 5"),
            22,
            "faults[0].at",
            "the bare number 5",
        ),
        (
            VALID.replace("drop = 0.01", "drop = \"high\""),
            16,
            "network.drop",
            "found \"high\"",
        ),
        (
            VALID.replace("drop = 0.01", "duplicate = \"20%\""),
            16,
            "network.duplicate",
            "found \"20%\"",
        ),
    ];
    for (text, line, field, needle) in &cases {
        let e = error(text);
        assert_eq!((e.line, e.field.as_str()), (*line, *field), "{e}");
        assert!(e.message.contains(needle), "{e}");
        assert!(
            !e.message.contains("f64") && !e.message.contains("i64"),
            "{e}"
        );
    }
    let e =
        error("faults = 3\nduration = \"1s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"x\"\n");
    assert_eq!((e.line, e.field.as_str()), (1, "faults"), "{e}");
    assert!(e.message.contains("expected an array, found 3"), "{e}");
}

/// A family's own tables, decoded later through serde, are placed the same way: nested tables
/// and keys of a `[table]` are blamed at their own line, not at the table's header.
#[test]
fn issue_14_family_tables_name_nested_fields_at_their_line() {
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Mix {
        get: f64,
        put: f64,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Workload {
        clients: u32,
        keys: Option<u32>,
        mix: Option<Mix>,
    }
    let decode = |workload: &str| {
        let text = VALID.replace("clients = 3", workload);
        parse(&text)
            .expect("valid")
            .decode::<Workload>(Section::Workload)
            .expect_err("a bad workload")
    };
    let e = decode("clients = 3\nkeys = \"x\"");
    assert_eq!((e.line, e.field.as_str()), (20, "workload.keys"), "{e}");
    assert!(e.message.contains("found \"x\""), "{e}");
    let e = decode("clients = 3\n\n[workload.mix]\nget = 1.0\npt = 2.0");
    assert_eq!((e.line, e.field.as_str()), (23, "workload.mix.pt"), "{e}");
    assert!(e.message.contains("did you mean `put`?"), "{e}");
    let e = decode("clients = 3\nmix = { get = 1.0, put = \"lots\" }");
    assert_eq!((e.line, e.field.as_str()), (20, "workload.mix.put"), "{e}");
    let e = decode("keys = 2");
    assert_eq!((e.line, e.field.as_str()), (18, "workload.clients"), "{e}");
    assert!(e.message.contains("missing field `clients`"), "{e}");
}

/// The same cluster of kinds written inline (`kinds = { ... }` under `[cluster]`), as a table
/// under an explicit `[cluster]`, and as a table alone (`[cluster.kinds]` defines `[cluster]`
/// implicitly, as TOML allows).
const KINDS_INLINE: &str = r#"name = "kinds"
duration = "10s"

[cluster]
kinds = { coordinator = 1, participant = 3 }

[protocol]
name = "2pc"

[network]
latency = { min = "1ms", max = "5ms" }
"#;

fn kinds_spellings() -> [(&'static str, String); 3] {
    let inline = "[cluster]\nkinds = { coordinator = 1, participant = 3 }\n";
    let under_header = "[cluster]\n\n[cluster.kinds]\ncoordinator = 1\nparticipant = 3\n";
    let alone = "[cluster.kinds]\ncoordinator = 1\nparticipant = 3\n";
    [
        ("inline", KINDS_INLINE.to_string()),
        (
            "under [cluster]",
            KINDS_INLINE.replace(inline, under_header),
        ),
        ("alone", KINDS_INLINE.replace(inline, alone)),
    ]
}

/// Everything but the text the scenario was read from.
fn meaning(scenario: &Scenario) -> String {
    let mut scenario = scenario.clone();
    scenario.text.clear();
    format!("{scenario:?}")
}

#[test]
fn a_kinds_table_means_what_inline_kinds_mean() {
    let inline = parse(KINDS_INLINE).expect("inline kinds are valid");
    assert_eq!(
        inline.node_kinds,
        ["coordinator", "participant", "participant", "participant"]
    );
    for (spelling, text) in kinds_spellings().into_iter().skip(1) {
        assert_ne!(
            text, KINDS_INLINE,
            "{spelling}: the spelling replaced the inline kinds"
        );
        let table = parse(&text).unwrap_or_else(|e| panic!("{spelling}: {e}"));
        assert_eq!(meaning(&table), meaning(&inline), "{spelling}");
    }
}

#[test]
fn a_section_written_only_through_its_subtables_means_what_the_inline_form_means() {
    let inline = parse(KINDS_INLINE).expect("valid");
    let subtable = KINDS_INLINE.replace(
        "[network]\nlatency = { min = \"1ms\", max = \"5ms\" }\n",
        "[network.latency]\nmin = \"1ms\"\nmax = \"5ms\"\n",
    );
    assert_ne!(subtable, KINDS_INLINE);
    let table = parse(&subtable).expect("[network.latency] alone defines [network]");
    assert_eq!(meaning(&table), meaning(&inline));
}

#[test]
fn errors_in_a_kinds_table_name_the_field_at_its_own_line() {
    let alone = &kinds_spellings()[2].1;
    let at = |from: &str, to: &str| error(&alone.replace(from, to));
    let e = at("participant = 3", "participant = \"three\"");
    assert_eq!(
        (e.field.as_str(), e.line),
        ("cluster.kinds.participant", 6),
        "{e}"
    );
    assert_eq!(e.message, "expected an integer, found \"three\"", "{e}");
    let e = at("participant = 3", "participant = 0");
    assert_eq!(
        (e.field.as_str(), e.line),
        ("cluster.kinds.participant", 6),
        "{e}"
    );
    assert!(e.message.contains("expected a node count in 1..="), "{e}");
    let e = at("coordinator = 1\nparticipant = 3\n", "");
    assert_eq!((e.field.as_str(), e.line), ("cluster.kinds", 4), "{e}");
    assert_eq!(e.message, "expected at least one kind", "{e}");
    // A misspelt key of the implicit [cluster] is its own mistake, at its header.
    let e = at("[cluster.kinds]", "[cluster.kind]");
    assert_eq!((e.field.as_str(), e.line), ("cluster.kind", 4), "{e}");
    assert!(e.message.contains("did you mean `kinds`?"), "{e}");
    // Names and kinds together must agree, written either way.
    let e = at(
        "[cluster.kinds]",
        "[cluster]\nnames = [\"a\", \"b\"]\n[cluster.kinds]",
    );
    assert_eq!(e.field, "cluster.kinds", "{e}");
    assert!(
        e.message.contains("add up to 4 nodes, but names lists 2"),
        "{e}"
    );
}
