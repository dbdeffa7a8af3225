//! `sim fuzz`, `sim replay`, `sim shrink`, `sim fuzz-merge` and `sim run --emit-scenario`: the
//! real binary on small campaigns.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{code, root, sim, stderr, stdout, trace_hash};

const FLAKY: &str = "tests/data/fuzz/flaky.toml";

/// A fresh, empty directory for one test.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

/// The journal's seeds, in file order.
fn journal_seeds(dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join("seeds.jsonl"))
        .expect("journal")
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a whole journal line")["seed"]
                .as_u64()
                .expect("seed")
        })
        .collect()
}

/// `(seed, check, hash)` of each failure in a summary.
fn failures(summary: &Value) -> Vec<(u64, String, String)> {
    summary["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| {
            (
                f["seed"].as_u64().unwrap(),
                f["check"].as_str().unwrap().to_string(),
                f["hash"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn jobs_1_and_jobs_2_find_the_same_failing_seeds_with_the_same_hashes() {
    let (one, two) = (fresh_dir("jobs-1"), fresh_dir("jobs-2"));
    for (dir, jobs) in [(&one, "1"), (&two, "2")] {
        let out = sim(&[
            "fuzz",
            FLAKY,
            "--seeds",
            "0..16",
            "--jobs",
            jobs,
            "--out",
            s(dir),
        ]);
        assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    }
    let (a, b) = (
        json(&one.join("summary.json")),
        json(&two.join("summary.json")),
    );
    assert!(!failures(&a).is_empty(), "the campaign found nothing");
    assert!(a["seeds_passed"].as_u64().unwrap() > 0, "every seed failed");
    assert_eq!(failures(&a), failures(&b));
    assert_eq!(a["coverage"], b["coverage"]);
    for (seed, _, hash) in failures(&a) {
        let record = json(&one.join(format!("seed-{seed}.json")));
        assert_eq!(record["trace_hash"].as_str(), Some(hash.as_str()));
        assert_eq!(record, json(&two.join(format!("seed-{seed}.json"))));
    }
}

#[test]
fn a_record_replays_exactly_after_the_scenario_file_is_gone() {
    let dir = fresh_dir("self-contained");
    let copy = dir.join("copy.toml");
    std::fs::copy(root().join(FLAKY), &copy).expect("copy");
    let out = sim(&[
        "fuzz",
        s(&copy),
        "--seeds",
        "0..8",
        "--jobs",
        "2",
        "--out",
        s(&dir.join("out")),
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    std::fs::remove_file(&copy).expect("remove the scenario");
    let (seed, check, hash) = failures(&json(&dir.join("out/summary.json")))[0].clone();
    let record = dir.join(format!("out/seed-{seed}.json"));
    let value = json(&record);
    for key in [
        "scenario_text",
        "schedule",
        "explicit_scenario",
        "check",
        "message",
        "trace_hash",
        "sim",
    ] {
        assert!(!value[key].is_null(), "the record lacks {key}: {value}");
    }
    assert!(value["sim"]["commit"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert!(
        stdout(&out).contains(&format!("sim replay {}", record.display())),
        "the summary names the replay command:\n{}",
        stdout(&out)
    );
    let trace = dir.join("replay.jsonl");
    let replay = sim(&["replay", s(&record), "--trace", s(&trace)]);
    let text = stdout(&replay);
    assert_eq!(code(&replay), 0, "{text}{}", stderr(&replay));
    assert!(text.contains("REPRODUCED"), "{text}");
    assert!(text.contains(&check), "{text}");
    assert_eq!(trace_hash(&replay), hash);
    let lines = std::fs::read_to_string(&trace).expect("the trace was written");
    assert!(lines.lines().count() > 100);
}

#[test]
fn a_replay_that_diverges_says_where() {
    let dir = fresh_dir("diverge");
    let out = sim(&["fuzz", FLAKY, "--seeds", "0..8", "--out", s(&dir)]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let (seed, _, _) = failures(&json(&dir.join("summary.json")))[0].clone();
    let record_path = dir.join(format!("seed-{seed}.json"));
    let mut record = json(&record_path);
    // Another heartbeat interval: the same seed now runs differently from early on.
    let text = record["scenario_text"].as_str().unwrap().replace(
        "heartbeat_interval = \"100ms\"",
        "heartbeat_interval = \"90ms\"",
    );
    record["scenario_text"] = Value::String(text);
    let changed = dir.join("changed.json");
    std::fs::write(&changed, serde_json::to_string(&record).unwrap()).unwrap();
    let replay = sim(&["replay", s(&changed)]);
    let text = stdout(&replay);
    assert_eq!(code(&replay), 1, "{text}{}", stderr(&replay));
    assert!(text.contains("DIVERGED"), "{text}");
    assert!(text.contains("agree on their first"), "{text}");
}

#[test]
fn resume_runs_the_rest_without_repeating_or_skipping_seeds() {
    let dir = fresh_dir("resume");
    let first = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..20",
        "--jobs",
        "2",
        "--stop-after-seeds",
        "7",
        "--out",
        s(&dir),
    ]);
    assert!(stdout(&first).contains("--resume"), "{}", stdout(&first));
    let done = journal_seeds(&dir);
    assert_eq!(done.len(), 7, "{done:?}");
    let second = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..20",
        "--jobs",
        "2",
        "--resume",
        "--out",
        s(&dir),
    ]);
    assert_eq!(code(&second), 1, "{}{}", stdout(&second), stderr(&second));
    let all = journal_seeds(&dir);
    assert_eq!(all.len(), 20, "a seed ran twice or not at all: {all:?}");
    assert_eq!(
        all.iter().copied().collect::<BTreeSet<_>>(),
        (0..20).collect()
    );
    // A longer range extends the campaign by exactly the new seeds.
    let third = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..30",
        "--jobs",
        "2",
        "--resume",
        "--out",
        s(&dir),
    ]);
    assert!(code(&third) <= 1, "{}", stderr(&third));
    let after_twenty = all.clone();
    let all = journal_seeds(&dir);
    assert_eq!(&all[..20], &after_twenty[..], "the journal was rewritten");
    assert_eq!(all.len(), 30);
    assert_eq!(
        all[20..].iter().copied().collect::<BTreeSet<_>>(),
        (20..30).collect()
    );
    assert!(
        stdout(&third).contains("this run   10 seeds"),
        "{}",
        stdout(&third)
    );
    // The whole campaign's summary is the same as a campaign run in one go.
    let whole = fresh_dir("resume-whole");
    sim(&["fuzz", FLAKY, "--seeds", "0..30", "--out", s(&whole)]);
    assert_eq!(
        failures(&json(&dir.join("summary.json"))),
        failures(&json(&whole.join("summary.json")))
    );
}

#[test]
fn a_killed_campaign_leaves_only_whole_records_and_resumes() {
    let dir = fresh_dir("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "fuzz",
            FLAKY,
            "--seeds",
            "0..400",
            "--jobs",
            "2",
            "--out",
            s(&dir),
        ])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim runs");
    // Let it finish some seeds, then kill it without warning (SIGKILL).
    let mut waited = 0;
    while journal_len(&dir) < 12 && waited < 600 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let before = journal_len(&dir);
    assert!(
        (12..400).contains(&before),
        "{before} seeds before the kill"
    );
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("seed-") && name.ends_with(".json") {
            json(&entry.path());
        }
    }
    let resumed = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..400",
        "--jobs",
        "2",
        "--resume",
        "--out",
        s(&dir),
    ]);
    assert!(code(&resumed) <= 1, "{}", stderr(&resumed));
    let all = journal_seeds(&dir);
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(distinct, (0..400).collect(), "a seed was skipped");
    assert_eq!(all.len(), 400, "a seed ran twice");
}

fn journal_len(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("seeds.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn shrink_removes_faults_and_the_result_still_fails_the_same_check() {
    let dir = fresh_dir("shrink");
    let out = sim(&["fuzz", FLAKY, "--seeds", "0..8", "--out", s(&dir)]);
    assert_eq!(code(&out), 1);
    let (seed, check, _) = failures(&json(&dir.join("summary.json")))[0].clone();
    let record = dir.join(format!("seed-{seed}.json"));
    let before = json(&record)["schedule"].as_array().unwrap().len();
    let shrunk = dir.join("small.toml");
    let run = sim(&["shrink", s(&record), "--out", s(&shrunk), "--jobs", "2"]);
    assert_eq!(code(&run), 0, "{}{}", stdout(&run), stderr(&run));
    assert!(stdout(&run).contains("faults"), "{}", stdout(&run));
    let text = std::fs::read_to_string(&shrunk).expect("written");
    let after = text.matches("[[faults]]").count();
    assert!(
        after < before.max(1),
        "{before} faults, still {after}:\n{text}"
    );
    assert!(!text.contains("[nemesis]"));
    let again = sim(&["run", s(&shrunk), "--seed", &seed.to_string()]);
    assert_eq!(code(&again), 1);
    assert!(
        stdout(&again).contains(&format!("verdict    FAIL: {check}")),
        "{}",
        stdout(&again)
    );
    // The result does not depend on how many candidates run at once.
    let shrunk_one = dir.join("small-1.toml");
    sim(&["shrink", s(&record), "--out", s(&shrunk_one), "--jobs", "1"]);
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        body(&text),
        body(&std::fs::read_to_string(&shrunk_one).unwrap())
    );
}

#[test]
fn an_emitted_scenario_replays_with_the_same_trace_hash() {
    let dir = fresh_dir("emit");
    for (scenario, seed) in [(FLAKY, "3"), ("scenarios/beat/heartbeats.toml", "2")] {
        let emitted = dir.join(format!("emitted-{seed}.toml"));
        let original = sim(&[
            "run",
            scenario,
            "--seed",
            seed,
            "--emit-scenario",
            s(&emitted),
        ]);
        let text = std::fs::read_to_string(&emitted).expect("emitted");
        assert!(!text.contains("[nemesis]"), "{text}");
        assert!(!text.contains("nodes = ["), "{text}");
        let replayed = sim(&["run", s(&emitted), "--seed", seed]);
        assert_eq!(
            trace_hash(&original),
            trace_hash(&replayed),
            "{scenario}:\n{text}"
        );
        assert_eq!(code(&original), code(&replayed));
    }
}

#[test]
fn shards_split_the_seeds_exactly_and_merge_back() {
    let dir = fresh_dir("shards");
    let mut summaries = Vec::new();
    let mut seeds = Vec::new();
    for k in 0..3 {
        let out_dir = dir.join(format!("shard-{k}"));
        let summary = dir.join(format!("summary-{k}.json"));
        sim(&[
            "fuzz",
            FLAKY,
            "--seeds",
            "0..14",
            "--shard",
            &format!("{k}/3"),
            "--out",
            s(&out_dir),
            "--summary",
            s(&summary),
        ]);
        seeds.extend(journal_seeds(&out_dir));
        summaries.push(summary);
    }
    seeds.sort();
    assert_eq!(seeds, (0..14).collect::<Vec<_>>());
    let merged_file = dir.join("merged.json");
    let mut args = vec!["fuzz-merge"];
    args.extend(summaries.iter().map(|p| s(p)));
    args.extend(["--out", s(&merged_file)]);
    let merged = sim(&args);
    assert_eq!(code(&merged), 1, "{}{}", stdout(&merged), stderr(&merged));
    let whole = dir.join("whole");
    sim(&["fuzz", FLAKY, "--seeds", "0..14", "--out", s(&whole)]);
    let (m, w) = (json(&merged_file), json(&whole.join("summary.json")));
    assert_eq!(failures(&m), failures(&w));
    assert_eq!(m["seeds_run"], w["seeds_run"]);
    assert_eq!(m["coverage"], w["coverage"]);
    assert_eq!(m["complete"], Value::Bool(true));
    // A shard given twice is refused.
    let twice = sim(&["fuzz-merge", s(&summaries[0]), s(&summaries[0])]);
    assert_eq!(code(&twice), 2, "{}", stdout(&twice));
}

#[test]
fn bad_fuzz_input_exits_2() {
    for args in [
        vec!["fuzz", FLAKY, "--seeds", "5..1"],
        vec!["fuzz", FLAKY, "--seeds", "five"],
        vec!["fuzz", FLAKY, "--shard", "3/3"],
        vec!["fuzz", FLAKY, "--seeds", "0.."],
        vec!["fuzz", "scenarios/no-such.toml"],
        vec!["replay", "tests/data/fuzz/flaky.toml"],
        vec!["shrink", "no-such-record.json"],
        vec!["fuzz-merge", "no-such-summary.json"],
    ] {
        let out = sim(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}{}", stdout(&out), stderr(&out));
    }
}

/// The acceptance test of the issue: a planted Raft bug is found within the seed budget its
/// scenario states (5 seeds), replayed exactly from its record, and shrunk to a scenario with at
/// most a few faults that still fails the same check.
#[test]
fn issue_5_planted_raft_bug_is_found_replayed_and_shrunk() {
    let scenario = "scenarios/raft/bugs/vote_without_log_check.toml";
    let dir = fresh_dir("raft-bug");
    let out = sim(&[
        "fuzz",
        scenario,
        "--seeds",
        "0..5",
        "--jobs",
        "2",
        "--out",
        s(&dir),
    ]);
    assert_eq!(
        code(&out),
        1,
        "not found within 5 seeds:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let (seed, check, hash) = failures(&json(&dir.join("summary.json")))[0].clone();
    assert_eq!(check, "raft.leader_completeness");
    let record = dir.join(format!("seed-{seed}.json"));
    let replay = sim(&["replay", s(&record)]);
    assert_eq!(code(&replay), 0, "{}", stdout(&replay));
    assert_eq!(trace_hash(&replay), hash);
    let shrunk = dir.join("shrunk.toml");
    let run = sim(&["shrink", s(&record), "--out", s(&shrunk), "--jobs", "2"]);
    assert_eq!(code(&run), 0, "{}{}", stdout(&run), stderr(&run));
    let text = std::fs::read_to_string(&shrunk).unwrap();
    assert!(text.matches("[[faults]]").count() <= 3, "{text}");
    let again = sim(&["run", s(&shrunk), "--seed", &seed.to_string()]);
    assert!(
        stdout(&again).contains(&format!("verdict    FAIL: {check}")),
        "{}",
        stdout(&again)
    );
}

/// A failure record's duration is an override of the fault phase like `--duration`, and is held
/// to the same limits: a record edited to `0s` used to replay a run with no fault phase, and one
/// edited to `100000h` ran far past the 24h limit a scenario file has (in effect a hang).
#[test]
fn a_record_with_an_impossible_duration_exits_2() {
    let dir = fresh_dir("record-duration");
    let out = sim(&["fuzz", FLAKY, "--seeds", "0..8", "--out", s(&dir)]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let (seed, _, _) = failures(&json(&dir.join("summary.json")))[0].clone();
    let mut record = json(&dir.join(format!("seed-{seed}.json")));
    for duration in ["0s", "100000h"] {
        record["duration"] = Value::String(duration.into());
        let edited = dir.join(format!("duration-{duration}.json"));
        std::fs::write(&edited, serde_json::to_string(&record).unwrap()).unwrap();
        for command in ["replay", "shrink"] {
            let out = sim(&[command, s(&edited)]);
            let err = stderr(&out);
            assert_eq!(code(&out), 2, "{command} {duration}: {}{err}", stdout(&out));
            assert!(
                err.contains("field \"duration\""),
                "{command} {duration}: {err}"
            );
        }
    }
}

/// A shrink's result does not depend on `--jobs`, even when its run budget runs out: a batch of
/// parallel candidates used to count every candidate it ran, including those after the first
/// that still failed, so more jobs spent the budget sooner and stopped at a larger scenario.
#[test]
fn a_budget_bound_shrink_is_the_same_with_any_jobs() {
    let dir = fresh_dir("shrink-jobs");
    let out = sim(&["fuzz", FLAKY, "--seeds", "0..8", "--out", s(&dir)]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let (seed, _, _) = failures(&json(&dir.join("summary.json")))[0].clone();
    let record = dir.join(format!("seed-{seed}.json"));
    let shrunk = |jobs: &str| {
        let file = dir.join(format!("jobs-{jobs}.toml"));
        let out = sim(&[
            "shrink",
            s(&record),
            "--max-runs",
            "9",
            "--jobs",
            jobs,
            "--out",
            s(&file),
        ]);
        assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
        let runs = stdout(&out).lines().next().unwrap_or_default().to_string();
        let text = std::fs::read_to_string(&file).expect("the shrunk scenario");
        // The header names the output file; the scenario itself must be the same.
        let body: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        (runs, body)
    };
    assert_eq!(shrunk("1"), shrunk("4"));
}

/// The resume line of a stopped campaign is the command that continues that campaign: it used
/// to keep only `--seeds`, so a campaign run with `--count 20 --shard 1/2 --duration 5s` was
/// told to resume with none of them, which runs seeds 0..100 of every shard (or, with the
/// duration gone, is refused); and it keeps `--recheck`, or the rest of a determinism campaign
/// would quietly run no seed twice.
#[test]
fn the_resume_line_keeps_count_shard_duration_and_recheck() {
    let dir = fresh_dir("resume-line");
    let first = sim(&[
        "fuzz",
        FLAKY,
        "--count",
        "20",
        "--shard",
        "1/2",
        "--duration",
        "5s",
        "--recheck",
        "4",
        "--jobs",
        "1",
        "--stop-after-seeds",
        "3",
        "--out",
        s(&dir),
    ]);
    let text = stdout(&first);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("resume     "))
        .unwrap_or_else(|| panic!("no resume line:\n{text}{}", stderr(&first)));
    assert!(
        line.contains("--seeds 0..20 --shard 1/2 --duration 5s --recheck 4"),
        "{line}"
    );
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let second = sim(&args);
    assert!(code(&second) <= 1, "{line}: {}", stderr(&second));
    let seeds: BTreeSet<u64> = journal_seeds(&dir).into_iter().collect();
    assert_eq!(seeds, (1..20).step_by(2).collect(), "{line}");
}

/// An --out directory holding an earlier campaign is never emptied without a word: a new
/// campaign there is refused unless it resumes or asks to overwrite, a resume must keep its
/// shard, and records a killed run left half-written are cleaned (issue 14).
#[test]
fn issue_14_an_earlier_campaign_is_kept_unless_asked_and_temporary_records_are_cleaned() {
    let dir = fresh_dir("kept");
    let first = sim(&["fuzz", FLAKY, "--seeds", "0..6", "--out", s(&dir)]);
    assert_eq!(code(&first), 1, "{}", stderr(&first));
    let records_before = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    let again = sim(&["fuzz", FLAKY, "--seeds", "0..6", "--out", s(&dir)]);
    assert_eq!(code(&again), 2);
    let err = stderr(&again);
    assert!(
        err.contains("--resume") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0),
        records_before,
        "the earlier campaign's files were touched"
    );
    let shard = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..6",
        "--shard",
        "1/2",
        "--resume",
        "--out",
        s(&dir),
    ]);
    assert_eq!(code(&shard), 2);
    assert!(
        stderr(&shard).contains("same --shard"),
        "{}",
        stderr(&shard)
    );
    let stale = dir.join("seed-3.json.tmp-99999");
    std::fs::write(&stale, "half a record").expect("a stale temporary record");
    let resumed = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..6",
        "--resume",
        "--out",
        s(&dir),
    ]);
    assert!(code(&resumed) <= 1, "{}", stderr(&resumed));
    assert!(!stale.exists(), "--resume left a temporary record behind");
    std::fs::write(&stale, "half a record").expect("a stale temporary record");
    let over = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..6",
        "--overwrite",
        "--out",
        s(&dir),
    ]);
    assert_eq!(code(&over), 1, "{}", stderr(&over));
    assert!(
        !stale.exists(),
        "--overwrite left a temporary record behind"
    );
}

/// Issue 15: `--stop-after N` ends a hunt at the N-th failing seed instead of running the whole
/// campaign; an open seed range is allowed then, and the summary says the campaign stopped.
#[test]
fn stop_after_one_failure_ends_an_open_ended_hunt() {
    let dir = fresh_dir("stop-after");
    let out = sim(&[
        "fuzz",
        FLAKY,
        "--seeds",
        "0..",
        "--stop-after",
        "1",
        "--jobs",
        "1",
        "--out",
        s(&dir),
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}{}", stderr(&out));
    assert!(
        text.contains("stopped    at --stop-after 1 failing seeds"),
        "{text}"
    );
    assert!(text.contains("(stopped before the end)"), "{text}");
    let summary = json(&dir.join("summary.json"));
    // One job stops right after the first failing seed: nothing else was in flight.
    assert_eq!(failures(&summary).len(), 1, "{summary}");
    assert_eq!(summary["failures"][0]["seed"], 0, "{summary}");
    assert_eq!(summary["seeds_run"], 1, "{summary}");
    let zero = sim(&["fuzz", FLAKY, "--stop-after", "0", "--out", s(&dir)]);
    assert_eq!(code(&zero), 2, "{}", stderr(&zero));
}

/// Issue 15: a scenario asks for coverage moments (`[checks] sometimes`); a campaign none of
/// whose seeds reached one fails, naming it, while each seed passes (the check is not
/// evaluated in a run that did not reach it). An unknown moment is an error at its field.
#[test]
fn a_campaign_that_never_reaches_a_moment_it_asks_for_fails() {
    let text = r#"
name = "moments"
duration = "2s"
quiet = "1s"
[cluster]
nodes = 3
[protocol]
name = "raft"
snapshot_threshold = 0
[workload]
clients = 1
[checks]
sometimes = ["raft.elections", "raft.snapshots_installed"]
"#;
    let file = crate::support::temp_file("moments.toml", text);
    let dir = fresh_dir("moments");
    let out = sim(&["fuzz", s(&file), "--count", "2", "--out", s(&dir)]);
    let printed = stdout(&out);
    assert_eq!(code(&out), 1, "{printed}{}", stderr(&out));
    assert!(printed.contains("2 passed, 0 failed"), "{printed}");
    assert!(
        printed.contains("coverage   FAILED: raft.snapshots_installed: none of 2 seeds"),
        "{printed}"
    );
    assert!(!printed.contains("FAILED: raft.elections"), "{printed}");
    // A sometimes check not met is counted as such, not again as a check not evaluated.
    assert!(
        printed.contains("unjudged   none: every check judged every seed"),
        "{printed}"
    );

    let reached = text.replace(", \"raft.snapshots_installed\"", "");
    let file = crate::support::temp_file("moments-reached.toml", &reached);
    let dir = fresh_dir("moments-reached");
    let out = sim(&["fuzz", s(&file), "--count", "2", "--out", s(&dir)]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    let typo = text.replace("raft.snapshots_installed", "raft.snapshot_installed");
    let file = crate::support::temp_file("moments-typo.toml", &typo);
    let out = sim(&["run", s(&file)]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    let error = stderr(&out);
    assert!(error.contains(":13:"), "{error}");
    assert!(error.contains("field \"checks.sometimes\""), "{error}");
    assert!(error.contains("raft.snapshots_installed"), "{error}");
}

/// A check that judged nothing in a seed (here: a detector never suspected a node that was up,
/// so "trusted again" had nothing to judge) leaves that seed's pass or failure silent about it;
/// the campaign counts such seeds per check, names the first, and keeps them in `summary.json`.
#[test]
fn a_campaign_counts_the_seeds_that_did_not_evaluate_each_check() {
    let dir = fresh_dir("unjudged");
    let out = sim(&["fuzz", FLAKY, "--seeds", "1..3", "--out", s(&dir)]);
    let printed = stdout(&out);
    assert_eq!(code(&out), 1, "{printed}{}", stderr(&out));
    assert!(
        printed.contains("unjudged   checks not evaluated (neither held nor failed), by seeds:"),
        "{printed}"
    );
    assert!(
        printed.contains("fd.heartbeat.trusted_again: 2 of 2, first at seed 1"),
        "{printed}"
    );
    assert!(
        printed.contains("fd.phi.trusted_again: 1 of 2, first at seed 2"),
        "{printed}"
    );
    let summary = json(&dir.join("summary.json"));
    assert_eq!(
        summary["not_evaluated"]["fd.phi.trusted_again"]["first_seed"], 2,
        "{summary}"
    );
    assert!(summary["not_evaluated"]
        .get("fd.heartbeat.accuracy")
        .is_none());
}
