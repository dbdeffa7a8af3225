//! Issue 14 (hardening), through the real binary: settings that cannot take effect are refused
//! before anything runs, faults that could not take effect are repeated as warnings, and what
//! a person reads names what differs.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{code, sim, stderr, stdout, temp_file};

const FLAKY: &str = "tests/data/fuzz/flaky.toml";

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hardening")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

const BEAT: &str = "duration = \"10s\"\nquiet = \"1s\"\n[cluster]\nnodes = 5\n[protocol]\n\
                    name = \"beat\"\ninterval = \"100ms\"\n";

#[test]
fn issue_14_a_restart_of_a_node_that_is_up_is_a_warning_the_summary_repeats() {
    // Whether the leader is down is the run's to know; here it never crashed.
    let text =
        "duration = \"3s\"\nquiet = \"2s\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"raft\"\n\
                election_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\n\
                [[faults]]\nat = \"2s\"\nkind = \"restart\"\nnode = \"leader\"\n";
    let file = temp_file("issue14-restart-leader.toml", text);
    let out = sim(&["run", s(&file), "--seed", "1"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(text.contains("1 skipped"), "{text}");
    assert!(
        text.contains("warning    t=2s restart n") && text.contains("not down, nothing to restart"),
        "{text}"
    );
    // A named node the file never crashed is refused before the run.
    let named = format!("{BEAT}[[faults]]\nat = \"2s\"\nkind = \"restart\"\nnode = \"n2\"\n");
    let file = temp_file("issue14-restart-named.toml", &named);
    let out = sim(&["run", s(&file)]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains(":11:") && stderr(&out).contains("faults[0].node"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn issue_14_a_bridge_partition_names_its_bridge() {
    let text = format!("{BEAT}[[faults]]\nat = \"1s\"\nkind = \"partition\"\nshape = \"bridge\"\n");
    let file = temp_file("issue14-bridge.toml", &text);
    let out = sim(&["run", s(&file), "--seed", "3"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    let line = text
        .lines()
        .find(|l| l.contains("partition bridge n"))
        .unwrap_or_else(|| panic!("no bridge line in {text}"));
    // `bridge nB joining nA,nC and nD,nE`: the bridge, then the two halves it joins.
    let rest = line.split("partition bridge ").nth(1).expect("the bridge");
    let (bridge, halves) = rest.split_once(" joining ").expect("joining");
    let (a, b) = halves.split_once(" and ").expect("two halves");
    let mut all: Vec<&str> = a.split(',').chain(b.split(',')).collect();
    all.push(bridge);
    all.sort();
    assert_eq!(all, ["n1", "n2", "n3", "n4", "n5"], "{line}");
}

#[test]
fn issue_14_history_on_a_protocol_without_clients_is_refused_up_front() {
    let dir = fresh_dir("history");
    let history = dir.join("h.json");
    // fd-crash runs 35 s of simulated time; the refusal comes before any of it.
    let out = sim(&["run", "scenarios/fd/crash.toml", "--history", s(&history)]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stderr(&out).contains("runs no clients"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "it ran: {}", stdout(&out));
    assert!(!history.exists());
}

#[test]
fn issue_14_shrink_refuses_flags_that_cannot_work_before_shrinking() {
    let dir = fresh_dir("shrink-flags");
    let record = dir.join("no-record.json");
    std::fs::write(&record, "{}").expect("write");
    for (args, needle) in [
        (vec!["--jobs", "0"], "--jobs"),
        (vec!["--max-runs", "0"], "--max-runs"),
        (vec!["--out", s(&dir)], "is a directory"),
    ] {
        let mut all = vec!["shrink", s(&record)];
        all.extend(args.iter().copied());
        let out = sim(&all);
        assert_eq!(code(&out), 2, "{all:?}: {}", stdout(&out));
        assert!(stderr(&out).contains(needle), "{all:?}: {}", stderr(&out));
    }
}

#[test]
fn issue_14_fuzz_merge_refuses_a_shard_outside_its_count() {
    let dir = fresh_dir("merge");
    let one = dir.join("s0.json");
    let out = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..4",
        "--shard",
        "0/2",
        "--out",
        s(&dir.join("a")),
        "--summary",
        s(&one),
    ]);
    assert!(code(&out) <= 1, "{}{}", stdout(&out), stderr(&out));
    let mut edited: Value = serde_json::from_str(&std::fs::read_to_string(&one).unwrap()).unwrap();
    edited["shards"][0]["index"] = Value::from(5);
    edited["space"]["shard"]["index"] = Value::from(5);
    let five = dir.join("s5.json");
    std::fs::write(&five, edited.to_string()).unwrap();
    let out = sim(&["fuzz-merge", s(&one), s(&five)]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("shard 5/2 is outside its count"),
        "{}",
        stderr(&out)
    );
    // One shard of two is not the whole campaign.
    let merged = dir.join("merged.json");
    let out = sim(&["fuzz-merge", s(&one), "--out", s(&merged)]);
    assert!(code(&out) <= 1, "{}", stderr(&out));
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(merged["complete"], Value::Bool(false), "{merged}");
}

#[test]
fn issue_14_a_replay_of_edited_checkpoints_shows_the_values_that_differ() {
    let dir = fresh_dir("checkpoints");
    let out = sim(&["fuzz", FLAKY, "--seeds", "0..8", "--out", s(&dir)]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let record_path = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("seed-") && name.ends_with(".json")
        })
        .expect("a failure record");
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    let checkpoints = record["checkpoints"].as_array_mut().expect("checkpoints");
    assert!(!checkpoints.is_empty(), "no checkpoints to edit");
    let original = checkpoints[0][2].as_str().unwrap().to_string();
    let edited = if original.starts_with('0') { "1" } else { "0" }.to_string() + &original[1..];
    checkpoints[0][2] = Value::String(edited.clone());
    let changed = dir.join("edited.json");
    std::fs::write(&changed, record.to_string()).unwrap();
    let replay = sim(&["replay", s(&changed)]);
    let text = stdout(&replay);
    assert_eq!(code(&replay), 1, "{text}{}", stderr(&replay));
    let line = text
        .lines()
        .find(|l| l.contains("DIVERGED"))
        .expect("DIVERGED");
    assert!(line.contains(&edited) && line.contains(&original), "{line}");
    assert!(line.contains("checkpoints were changed"), "{line}");
}

#[test]
fn issue_14_recheck_runs_a_sample_of_passing_seeds_twice() {
    let dir = fresh_dir("recheck");
    let out = sim(&["run", "scenarios/beat/heartbeats.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = sim(&[
        "fuzz",
        "scenarios/beat/heartbeats.toml",
        "--count",
        "6",
        "--recheck",
        "1",
        "--out",
        s(&dir),
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(
        text.contains("determinism 6 passing seeds run twice (one in 1), 0 hashed differently"),
        "{text}"
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["rechecked"], Value::from(6));
    let out = sim(&[
        "fuzz",
        "scenarios/beat/heartbeats.toml",
        "--count",
        "2",
        "--recheck",
        "0",
        "--out",
        s(&dir),
        "--overwrite",
    ]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
}

#[test]
fn issue_14_completions_and_a_man_page_come_from_the_flag_definitions() {
    for (shell, marker) in [
        ("bash", "_sim()"),
        ("zsh", "#compdef sim"),
        ("fish", "complete -c sim"),
    ] {
        let out = sim(&["completions", shell]);
        let text = stdout(&out);
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        assert!(text.contains(marker), "{shell}: {text}");
        // Every subcommand and a flag added late are there.
        for word in ["fuzz-merge", "shrink", "recheck", "junit"] {
            assert!(text.contains(word), "{shell} completions lack {word}");
        }
    }
    let out = sim(&["completions", "tcsh"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    let out = sim(&["man"]);
    let page = stdout(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        page.starts_with(".ie") || page.contains(".TH sim 1"),
        "{page}"
    );
    assert!(page.contains(".TH sim 1"), "{page}");
    assert!(
        page.contains("deterministic discrete\\-event cluster simulator"),
        "{page}"
    );
    for section in ["SIM RUN", "SIM FUZZ", "SIM SHRINK", "SIM COMPLETIONS"] {
        assert!(
            page.contains(&format!(".SH \"{section}\"")),
            "no {section} in the page"
        );
    }
    assert!(page.contains("\\-\\-recheck"), "the page lacks --recheck");
}

/// The value of attribute `name` in the first element of `xml` that has it.
fn attribute<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml.find(&format!(" {name}=\"")).expect("the attribute") + name.len() + 3;
    let len = xml[start..].find('"').expect("its end");
    &xml[start..start + len]
}

#[test]
fn issue_14_fuzz_writes_junit_xml_with_a_case_per_check() {
    let dir = fresh_dir("junit");
    let junit = dir.join("junit.xml");
    let out = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..8",
        "--out",
        s(&dir.join("out")),
        "--junit",
        s(&junit),
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file");
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{xml}"
    );
    let suite = &xml[xml.find("<testsuite ").expect("a testsuite")..];
    let tests: usize = attribute(suite, "tests").parse().unwrap();
    let failures: usize = attribute(suite, "failures").parse().unwrap();
    assert_eq!(xml.matches("<testcase ").count(), tests, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), failures, "{xml}");
    assert!(failures >= 1, "{xml}");
    assert!(xml.contains("name=\"fd.heartbeat.accuracy\""), "{xml}");
    assert!(xml.contains("name=\"determinism\""), "{xml}");
    assert!(
        xml.contains("replay: sim replay ")
            && xml.contains("run:    sim run tests/data/fuzz/flaky.toml --seed "),
        "{xml}"
    );
    // Nothing unescaped inside an attribute or a failure's text.
    for piece in xml.split("<failure ").skip(1) {
        let body = &piece[..piece.find("</failure>").expect("closed")];
        let message = attribute(&format!(" {body}"), "message").to_string();
        assert!(
            !message.contains('<') && !message.contains('&')
                || message.contains("&amp;")
                || message.contains("&lt;"),
            "{message}"
        );
        let text = &body[body.find('>').expect("start tag") + 1..];
        assert!(!text.contains('<'), "unescaped text: {text}");
    }
    // A file that cannot be written fails the command.
    let out = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..2",
        "--out",
        s(&dir.join("out2")),
        "--junit",
        s(&dir.join("no/such/dir/j.xml")),
    ]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stderr(&out).contains("--junit"), "{}", stderr(&out));
}

/// The first `cargo sim` builds for minutes on a fresh machine: the alias must not hide cargo's
/// progress (it used `--quiet`, and printed nothing for the whole build).
#[test]
fn issue_14_the_cargo_sim_alias_shows_the_build_progress() {
    let config = std::fs::read_to_string(crate::support::root().join(".cargo/config.toml"))
        .expect("the cargo config");
    let config: toml::Table = toml::from_str(&config).expect("TOML");
    let alias = config["alias"]["sim"].as_str().expect("the sim alias");
    let words: Vec<&str> = alias.split_whitespace().collect();
    assert_eq!(words[..2], ["run", "--release"], "{alias}");
    assert!(
        words.contains(&"--bin") && words.ends_with(&["sim", "--"]),
        "{alias}"
    );
    for quiet in ["--quiet", "-q"] {
        assert!(
            !words.contains(&quiet),
            "{alias} hides the build's progress"
        );
    }
}
