//! `sim run`: determinism, the summary, exit statuses and bad input.

use crate::support::{code, root, sim, stderr, stdout, temp_file, trace_hash};

/// Golden trace hashes: `scenario seed hash` per line. A changed hash means the code changed
/// what runs do; regenerate with `SIM_BLESS=1 cargo test --test integration golden` only when the
/// change is meant, and say why in the commit.
const GOLDEN: &str = include_str!("golden/hashes.txt");

#[test]
fn golden_trace_hashes_hold() {
    let bless = std::env::var_os("SIM_BLESS").is_some();
    let mut blessed = String::new();
    let mut mismatches = Vec::new();
    for line in GOLDEN
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [scenario, seed, expected] = fields[..] else {
            panic!("malformed golden line {line:?}")
        };
        let output = sim(&["run", scenario, "--seed", seed]);
        let actual = trace_hash(&output);
        if actual != expected {
            mismatches.push(format!(
                "{scenario} --seed {seed}: expected {expected}, got {actual}"
            ));
        }
        blessed.push_str(&format!("{scenario} {seed} {actual}\n"));
    }
    if bless {
        let header: String = GOLDEN
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(root().join("tests/golden/hashes.txt"), header + &blessed).expect("bless");
        return;
    }
    assert!(
        mismatches.is_empty(),
        "trace hashes changed:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn same_seed_same_hash_with_and_without_a_trace_file() {
    let trace = temp_file("integration-beat-trace.jsonl", "");
    let plain = sim(&["run", "scenarios/beat/heartbeats.toml", "--seed", "11"]);
    let traced = sim(&[
        "run",
        "scenarios/beat/heartbeats.toml",
        "--seed",
        "11",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code(&plain), 0, "{}", stdout(&plain));
    assert_eq!(trace_hash(&plain), trace_hash(&traced));
    let lines = std::fs::read_to_string(&trace).expect("the trace file was written");
    let mut kinds = std::collections::BTreeSet::new();
    for line in lines.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).expect("every trace line is JSON");
        kinds.insert(
            value["ev"]
                .as_str()
                .expect("every event has a kind")
                .to_string(),
        );
    }
    for kind in [
        "send",
        "deliver",
        "drop",
        "duplicate",
        "timer-fire",
        "crash",
        "restart",
        "pause",
        "resume",
        "network",
        "clock",
        "fault",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} event in the trace; saw {kinds:?}"
        );
    }
    let other = sim(&["run", "scenarios/beat/heartbeats.toml", "--seed", "12"]);
    assert_ne!(
        trace_hash(&plain),
        trace_hash(&other),
        "the seed does not matter"
    );
}

#[test]
fn summary_names_the_run_and_how_to_reproduce_it() {
    let output = sim(&["run", "scenarios/beat/heartbeats.toml", "--seed", "5"]);
    let text = stdout(&output);
    for needle in [
        "scenario   beat",
        "seed       5",
        "simulated  25s",
        "messages",
        "faults",
        "trace hash",
        "reproduce  sim run scenarios/beat/heartbeats.toml --seed 5",
    ] {
        assert!(text.contains(needle), "summary lacks {needle:?}:\n{text}");
    }
}

#[test]
fn json_summary_is_json_with_the_same_hash() {
    let text_run = sim(&["run", "scenarios/beat/heartbeats.toml", "--seed", "5"]);
    let json_run = sim(&[
        "run",
        "scenarios/beat/heartbeats.toml",
        "--seed",
        "5",
        "--format",
        "json",
    ]);
    let value: serde_json::Value = serde_json::from_slice(&json_run.stdout).expect("JSON");
    assert_eq!(value["trace_hash"].as_str().unwrap(), trace_hash(&text_run));
    assert_eq!(value["seed"], 5);
    assert_eq!(value["passed"], true);
}

#[test]
fn duration_flag_shortens_the_run() {
    let output = sim(&[
        "run",
        "scenarios/beat/heartbeats.toml",
        "--seed",
        "5",
        "--duration",
        "13s",
    ]);
    let text = stdout(&output);
    assert!(text.contains("simulated  18s"), "{text}");
    assert!(
        text.contains("--duration 13s"),
        "the reproduce line keeps the override:\n{text}"
    );
}

/// Each malformed scenario is rejected with exit status 2 and a message naming file and line.
#[test]
fn malformed_scenarios_exit_2_naming_the_line() {
    let valid = std::fs::read_to_string(root().join("scenarios/beat/heartbeats.toml")).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "empty"),
        ("not-toml", "duration = \n[[[".to_string(), ":1:"),
        (
            "wrong-type",
            valid.replace("nodes = 5", "nodes = \"five\""),
            "field \"cluster.nodes\": expected an integer, found \"five\"",
        ),
        (
            "unknown-key",
            valid.replace("drop = 0.05", "drop = 0.05\nwobble = 1"),
            "unknown field `wobble`",
        ),
        (
            "negative-duration",
            valid.replace("duration = \"20s\"", "duration = \"-20s\""),
            "duration",
        ),
        (
            "absurd-duration",
            valid.replace("duration = \"20s\"", "duration = \"9999999h\""),
            "absurd",
        ),
        (
            "probability",
            valid.replace("drop = 0.05", "drop = 2"),
            "expected a probability in [0, 1]",
        ),
        (
            "missing-node",
            valid.replace("node = \"n2\"", "node = \"n7\""),
            "no node is called \"n7\"",
        ),
        (
            "protocol-param",
            valid.replace("interval = \"100ms\"", "intervl = \"100ms\""),
            "unknown field `intervl`",
        ),
        (
            "unknown-protocol",
            valid.replace("name = \"beat\"\ninterval = \"100ms\"", "name = \"paxos\""),
            "unknown protocol",
        ),
    ];
    for (name, text, needle) in cases {
        let path = temp_file(&format!("{name}.toml"), &text);
        let output = sim(&["run", path.to_str().unwrap(), "--seed", "1"]);
        let err = stderr(&output);
        assert_eq!(
            code(&output),
            2,
            "{name}: expected exit 2, got {}:\n{err}{}",
            code(&output),
            stdout(&output)
        );
        assert!(
            err.contains(needle),
            "{name}: message lacks {needle:?}:\n{err}"
        );
        assert!(
            err.contains(&format!("{name}.toml")),
            "{name}: message lacks the file:\n{err}"
        );
        if name != "empty" {
            assert!(
                err.contains(".toml:")
                    && err
                        .split(".toml:")
                        .nth(1)
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())),
                "{name}: no line number:\n{err}"
            );
        }
    }
}

#[test]
fn bad_flags_and_missing_files_exit_2() {
    assert_eq!(
        code(&sim(&[
            "run",
            "scenarios/beat/heartbeats.toml",
            "--seed",
            "minus-one"
        ])),
        2
    );
    assert_eq!(
        code(&sim(&[
            "run",
            "scenarios/beat/heartbeats.toml",
            "--duration",
            "soon"
        ])),
        2
    );
    assert_eq!(code(&sim(&["run", "scenarios/no-such-file.toml"])), 2);
    // Beyond the 24h a scenario file may ask for: it used to run (for hours).
    let long = sim(&[
        "run",
        "scenarios/beat/heartbeats.toml",
        "--duration",
        "100000h",
    ]);
    assert_eq!(code(&long), 2, "{}", stdout(&long));
    assert!(stderr(&long).contains("at most 24h"), "{}", stderr(&long));
    assert_eq!(code(&sim(&["frobnicate"])), 2);
    assert_eq!(code(&sim(&["--help"])), 0);
}

/// Faults aimed at a moment fire right after the handler that reported the event, on the node
/// that reported it: here, each of the first two leaders is crashed the instant it is elected.
#[test]
fn faults_aimed_at_a_protocol_event_hit_the_reporting_node_at_that_instant() {
    let trace = temp_file("integration-crash-new-leader.jsonl", "");
    let output = sim(&[
        "run",
        "tests/data/scenarios/crash-new-leader.toml",
        "--seed",
        "3",
        "--format",
        "json",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    let crashes: Vec<&serde_json::Value> = report["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fault"].as_str().unwrap().starts_with("crash"))
        .collect();
    assert_eq!(crashes.len(), 2, "{report:#}");
    let trace = std::fs::read_to_string(&trace).unwrap();
    let events: Vec<serde_json::Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for crash in crashes {
        let time = crash["time_ns"].as_u64().unwrap();
        let node = crash["fault"]
            .as_str()
            .unwrap()
            .trim_start_matches("crash ")
            .to_string();
        let elected = events.iter().any(|e| {
            e["ev"] == "report"
                && e["t"].as_u64() == Some(time)
                && e["node"] == node.as_str()
                && e["name"] == "became_leader"
                && e["event"]["BecameLeader"]["term"].is_u64()
        });
        assert!(
            elected,
            "{node} was crashed at t={time}ns without having just become leader"
        );
    }
}

/// A latency or client timeout longer than any run (up to the ~584 years a duration can hold)
/// means the message or wake-up never comes; it used to overflow the simulated clock and panic.
#[test]
fn delays_past_the_end_of_time_run_instead_of_panicking() {
    let beat = std::fs::read_to_string(root().join("scenarios/beat/heartbeats.toml")).unwrap();
    let huge_latency = beat.replace(
        "latency = { min = \"1ms\", max = \"10ms\" }",
        "latency = \"18446744073s\"",
    );
    assert_ne!(huge_latency, beat);
    let kv =
        "duration = \"3s\"\nquiet = \"1s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"raft\"\n\
              [workload]\nrequest_timeout = \"18446744073s\"\n";
    for (name, text) in [
        ("huge-latency", huge_latency.as_str()),
        ("huge-timeout", kv),
    ] {
        let path = temp_file(&format!("{name}.toml"), text);
        let output = sim(&["run", path.to_str().unwrap(), "--seed", "1"]);
        assert!(
            matches!(code(&output), 0 | 1),
            "{name}: exit {}:\n{}{}",
            code(&output),
            stderr(&output),
            stdout(&output)
        );
        assert!(stdout(&output).contains("verdict"), "{name}: no verdict");
    }
}

/// A run cut short by its event limit fails for the limit: the sometimes and eventually checks
/// that then fail for want of time ("no leader was elected in the whole run", after 65ms of a
/// 30s run) used to be named as the failure instead, in the verdict and in campaign records.
#[test]
fn a_run_cut_by_its_event_limit_is_blamed_on_the_limit() {
    let partition = std::fs::read_to_string(root().join("scenarios/partition.toml")).unwrap();
    let limited = partition.replace("quiet = \"10s\"", "quiet = \"10s\"\nmax_events = 50");
    assert_ne!(limited, partition);
    let path = temp_file("event-limit.toml", &limited);
    let output = sim(&["run", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let failure = value["failure"].as_str().unwrap_or_default();
    assert!(
        failure.starts_with("the run reached its event limit (50 events)"),
        "{failure}"
    );
    let text = stdout(&sim(&["run", path.to_str().unwrap()]));
    assert!(
        text.contains("verdict    FAIL: the run reached its event limit"),
        "{text}"
    );
}

/// Issue 8: the client engine's policies from a scenario file. Raft's flagship with open-loop
/// Poisson arrivals, backoff with jitter and a circuit breaker still holds every check, and the
/// summary says what the policies did; a bad policy value is refused naming its field.
#[test]
fn issue_8_client_policies_run_from_a_scenario() {
    let partition = std::fs::read_to_string(root().join("scenarios/partition.toml")).unwrap();
    let policies =
        "keys = 5\nopen_loop = { rate = 40, arrival = \"poisson\", max_outstanding = 2, \
                    max_queued = 2 }\nbackoff_multiplier = 2.0\nbackoff_jitter = 0.5\n\
                    backoff_max = \"200ms\"\nbreaker = { failures = 3, cool_down = \"300ms\" }\n";
    let open = partition.replace("keys = 5\n", policies);
    assert_ne!(open, partition);
    let path = temp_file("client-policies.toml", &open);
    let output = sim(&["run", path.to_str().unwrap(), "--seed", "1"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}{}", stderr(&output));
    for needle in [
        "arrivals",
        "circuit breaker",
        "requests refused",
        "kv.linearizable",
    ] {
        assert!(out.contains(needle), "the summary lacks {needle:?}:\n{out}");
    }
    let bad = partition.replace("keys = 5\n", "keys = 5\nbreaker = { failures = 0 }\n");
    let path = temp_file("client-bad-breaker.toml", &bad);
    let output = sim(&["run", path.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(code(&output), 2, "{}", stdout(&output));
    assert!(
        stderr(&output).contains("workload.breaker.failures"),
        "{}",
        stderr(&output)
    );
}

/// Clients live beside nodes: a client on the side of an isolated, deposed leader reaches only
/// it, its requests to the majority are lost to the partition, its writes to the deposed leader
/// never commit and time out as `info`, and the history stays linearizable (issue 8).
#[test]
fn issue_8_seed_1_clients_beside_a_deposed_leader_are_cut_off_and_linearizability_holds() {
    let trace = temp_file("deposed-leader-clients.jsonl", "");
    let output = sim(&[
        "run",
        "scenarios/raft/deposed-leader-clients.toml",
        "--seed",
        "1",
        "--trace",
        trace.to_str().unwrap_or_default(),
    ]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}");
    assert!(out.contains("partition isolate n1"), "{out}");
    assert!(out.contains("ok   always     kv.linearizable"), "{out}");
    let operations = out
        .lines()
        .find(|l| l.starts_with("operations "))
        .unwrap_or_default();
    assert!(!operations.contains(" 0 info"), "{operations}");
    let lines = std::fs::read_to_string(&trace).unwrap_or_default();
    // c1 lives beside n1: cut off from the majority, and the majority's clients from n1.
    assert!(
        lines.contains(r#""from":"c1","to":"n2","request""#),
        "c1's requests to the majority side should be lost to the partition"
    );
    assert!(lines.contains(r#""to":"n1","request""#) && lines.contains(r#""reason":"partition""#));
}

/// A client can be paused or cut off on its own, like a node: `client:cK` in a pause or an
/// isolating partition; a client the workload does not have, or a fault a client cannot suffer,
/// is an error naming the line (issue 8).
#[test]
fn issue_8_clients_can_be_paused_and_cut_off_and_bad_client_targets_exit_2() {
    let flagship =
        std::fs::read_to_string(root().join("scenarios/partition.toml")).expect("the flagship");
    let faults =
        "\n[[faults]]\nat = \"2s\"\nkind = \"pause\"\nnode = \"client:c2\"\nfor = \"2s\"\n\
                  \n[[faults]]\nat = \"3s\"\nkind = \"partition\"\nshape = \"isolate\"\n\
                  node = \"client:c1\"\nheal_after = \"3s\"\n";
    let file = temp_file("client-faults.toml", &format!("{flagship}{faults}"));
    let output = sim(&["run", file.to_str().unwrap_or_default(), "--seed", "1"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}{}", stderr(&output));
    for line in [
        "t=2s pause client:c2 for 2s",
        "t=3s partition isolate client:c1",
        "t=6s reconnect client:c1",
    ] {
        assert!(out.contains(line), "no {line:?} in\n{out}");
    }
    let cases = [
        ("client:c1", "client:c9", "the workload has 3 clients"),
        (
            "kind = \"pause\"\nnode = \"client:c2\"\nfor = \"2s\"",
            "kind = \"crash\"\nnode = \"client:c2\"",
            "a crash cannot aim at a client",
        ),
    ];
    for (from, to, expected) in cases {
        let text = format!("{flagship}{}", faults.replacen(from, to, 1));
        let file = temp_file("client-faults-bad.toml", &text);
        let output = sim(&["run", file.to_str().unwrap_or_default()]);
        assert_eq!(code(&output), 2, "{to}: {}", stdout(&output));
        let err = stderr(&output);
        assert!(err.contains(expected), "{to}: {err}");
        assert!(err.contains("field \"faults["), "{to}: {err}");
    }
}

/// A requested output that could not be written fails the command (issue 14): the run's
/// summary says so, the JSON carries it, and the exit status is 2.
#[test]
fn issue_14_a_trace_that_cannot_be_written_exits_2() {
    if !std::path::Path::new("/dev/full").exists() {
        return; // not a Linux machine: nothing here fails every write
    }
    let output = sim(&[
        "run",
        "scenarios/beat/heartbeats.toml",
        "--seed",
        "1",
        "--trace",
        "/dev/full",
    ]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("--trace /dev/full"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("the trace file could not be written"));
    let output = sim(&[
        "run",
        "scenarios/beat/heartbeats.toml",
        "--trace",
        "/dev/full",
        "--format",
        "json",
    ]);
    assert_eq!(code(&output), 2);
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON summary");
    assert!(json["trace_error"].is_string(), "{json}");
}

/// A run with no checks says it had nothing to judge rather than "all 0 checks held".
#[test]
fn a_run_without_checks_does_not_claim_they_held() {
    let output = sim(&["run", "scenarios/beat/heartbeats.toml", "--seed", "1"]);
    assert_eq!(code(&output), 0);
    let out = stdout(&output);
    assert!(out.contains("it has no checks to judge it"), "{out}");
    assert!(!out.contains("all 0 checks"), "{out}");
}

/// `--duration` shorter than a fault's time would silently drop the fault; like the same in the
/// file, it is an error naming the fault (issue 14).
#[test]
fn issue_14_a_duration_override_that_would_drop_a_fault_exits_2() {
    let output = sim(&["run", "scenarios/partition.toml", "--duration", "2s"]);
    assert_eq!(code(&output), 2, "{}", stdout(&output));
    let err = stderr(&output);
    assert!(err.contains("scenarios/partition.toml:"), "{err}");
    assert!(err.contains("field \"faults[0].at\""), "{err}");
    assert!(err.contains("--duration"), "{err}");
    let fits = sim(&["run", "scenarios/partition.toml", "--duration", "6s"]);
    assert_eq!(code(&fits), 0, "{}", stdout(&fits));
}

/// Issue 13: `--history` streams the history to its file as the run records it, the run checks
/// the same history as it goes (`kv.linearizable`), and `sim check` on the file agrees: the same
/// verdict over the same operations, info ones included. Writing it changes nothing in the run.
#[test]
fn issue_13_history_streamed_during_the_run_checks_the_same_afterwards() {
    let history = temp_file("issue-13-streamed-history.json", "");
    let path = history.to_str().unwrap_or_default();
    let scenario = "scenarios/raft/deposed-leader-clients.toml";
    let with = sim(&["run", scenario, "--seed", "1", "--history", path]);
    let without = sim(&["run", scenario, "--seed", "1"]);
    let out = stdout(&with);
    assert_eq!(code(&with), 0, "{out}");
    assert_eq!(trace_hash(&with), trace_hash(&without));
    let figures = out
        .lines()
        .find(|l| l.contains("kv.linearizable"))
        .unwrap_or_default()
        .to_string();
    assert!(figures.contains("verdict linearizable"), "{figures}");
    let checked = sim(&["check", path]);
    let verdict = stdout(&checked);
    assert_eq!(code(&checked), 0, "{verdict}{}", stderr(&checked));
    assert!(verdict.starts_with("linearizable: "), "{verdict}");
    let operations = figures
        .split("operations ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default();
    assert!(
        verdict.contains(&format!("{operations} operations")),
        "run: {figures}\ncheck: {verdict}"
    );
    let text = std::fs::read_to_string(&history).unwrap_or_default();
    assert!(
        text.contains("\"type\": \"info\""),
        "the run has info operations"
    );
}

/// Issue 15: a convergence bound (`[checks] converge_within`) longer than the quiet phase could
/// never be judged; every family that has one (raft, quorum, 2pc, lock) refuses it at load with
/// the file, the bound's line and its full path, exit 2, and accepts one as long as the phase.
/// A scenario without a quiet phase cannot take one at all. The failure detectors have no such
/// bound: theirs is an unknown field.
#[test]
fn issue_15_a_convergence_bound_longer_than_the_quiet_phase_exits_2_in_every_family() {
    let families = [
        ("raft", "nodes = 3"),
        ("quorum", "nodes = 3"),
        ("2pc", "kinds = { coordinator = 1, participant = 2 }"),
        ("lock", "kinds = { server = 3, client = 2, resource = 1 }"),
        ("failure-detector", "nodes = 3"),
    ];
    let scenario = |family: &str, cluster: &str, quiet: &str, within: &str| {
        let text = format!(
            "duration = \"1s\"\nquiet = \"{quiet}\"\n\n[cluster]\n{cluster}\n\n[protocol]\n\
             name = \"{family}\"\n\n[checks]\nconverge_within = \"{within}\"\n"
        );
        let name = format!("issue-15-bound-{family}-{quiet}-{within}.toml");
        temp_file(&name, &text).to_string_lossy().into_owned()
    };
    for (family, cluster) in families {
        let long = scenario(family, cluster, "2s", "5s");
        let out = sim(&["run", &long, "--seed", "1"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{family}: {err}");
        assert!(
            err.contains(&format!("{long}:11:"))
                && err.contains("field \"checks.converge_within\""),
            "{family}: {err}"
        );
        if family == "failure-detector" {
            assert!(err.contains("unknown field `converge_within`"), "{err}");
            continue;
        }
        assert!(
            err.contains("expected at most the quiet phase (2s), found 5s"),
            "{family}: {err}"
        );
        let none = sim(&["run", &scenario(family, cluster, "0s", "1s"), "--seed", "1"]);
        assert_eq!(code(&none), 2, "{family}: {}", stderr(&none));
        assert!(
            stderr(&none).contains("needs a quiet phase"),
            "{family}: {}",
            stderr(&none)
        );
        let fits = sim(&["run", &scenario(family, cluster, "2s", "2s"), "--seed", "1"]);
        assert_eq!(
            code(&fits),
            0,
            "{family}: {}{}",
            stdout(&fits),
            stderr(&fits)
        );
    }
}
