//! `sim check`: the real binary on the history files under `tests/data/histories/`, its output and
//! its exit statuses (0 linearizable, 1 not linearizable, 2 bad input, 3 unknown).

use std::process::{Command, Output};

fn sim_check(args: &[&str]) -> Output {
    let histories = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/histories");
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("check")
        .args(args)
        .current_dir(histories)
        .output()
        .expect("the sim binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_linearizable_history_exits_0() {
    let output = sim_check(&["register-ok.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("linearizable: 6 operations"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_stale_read_exits_1_and_explains_it() {
    let output = sim_check(&["register-stale-read.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("not linearizable"), "{text}");
    assert!(
        text.contains("Longest linearizable prefix found: 3 operations"),
        "{text}"
    );
    assert!(text.contains("Cannot place op 6: p2 read -> 1"), "{text}");
    assert!(text.contains("it read 1, but the value is 2"), "{text}");
    assert!(text.contains("<- cannot be placed"), "{text}");
}

#[test]
fn check_stale_read_as_json_names_the_op_and_candidates() {
    let output = sim_check(&["register-stale-read.json", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON output");
    assert_eq!(json["verdict"], "not_linearizable");
    assert_eq!(json["explanation"]["op"]["index"], 6);
    assert_eq!(json["explanation"]["prefix"], serde_json::json!([0, 2, 3]));
    assert_eq!(json["explanation"]["state"], 2);
    assert_eq!(
        json["explanation"]["candidates"][0]["reason"],
        "it read 1, but the value is 2"
    );
}

#[test]
fn check_etcd_like_history_with_stale_read_exits_1() {
    let output = sim_check(&["etcd-cas-register-stale-read.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let output = sim_check(&["etcd-cas-register-ok.json", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn check_malformed_history_exits_2_naming_line_op_and_field() {
    let output = sim_check(&["malformed.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(
            "malformed.json:6: op 4 field \"type\": expected one of invoke, ok, fail, info, found \"done\""
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_json_lines_without_a_model_read_as_jepsen_ops() {
    // No header and no --model: the ops are read like Jepsen's, and their keys make it kv.
    let output = sim_check(&["kv-ok.jsonl"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("2 keys"), "{}", stdout(&output));
    let output = sim_check(&["kv-ok.jsonl", "--model", "kv"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn check_reads_other_tools_histories_as_they_are() {
    for (file, code) in [
        ("formats/knossos-cas-register-ok.edn", 0),
        ("formats/knossos-cas-register-bad.edn", 1),
        ("formats/jepsen-independent-bad.edn", 1),
        ("formats/maelstrom-lin-kv-ok.edn", 0),
        ("formats/porcupine-kv-bad.edn", 1),
        ("formats/etcd-log-ok.log", 0),
        ("formats/etcd-log-bad.log", 1),
        ("formats/porcupine-kv-ok.json", 0),
        ("formats/porcupine-register-bad.json", 1),
        ("formats/jepsen-register-ok.json", 0),
    ] {
        let output = sim_check(&[file]);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{file}: {}{}",
            stdout(&output),
            stderr(&output)
        );
    }
    let output = sim_check(&[
        "formats/knossos-cas-register-ok.edn",
        "--input-format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("invalid JSON"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_a_file_in_no_known_format_exits_2_naming_the_formats() {
    let output = sim_check(&["formats/README.md"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("cannot tell which format"), "{text}");
    assert!(text.contains("--input-format"), "{text}");
    let output = sim_check(&["register-ok.json", "--input-format", "xml"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_timeout_covers_reading() {
    let output = sim_check(&["etcd-cas-register-ok.json", "--timeout", "1ns"]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("ran out while reading"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_memory_budget_ends_in_unknown() {
    let output = sim_check(&["register-hard.json", "--memory", "1MiB"]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("memory budget"),
        "{}",
        stdout(&output)
    );
    let output = sim_check(&["register-hard.json", "--memory", "0"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_json_lines_with_header_and_lost_append_exits_1() {
    let output = sim_check(&["kv-lost-append.jsonl", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON output");
    assert_eq!(json["explanation"]["key"], "x");
}

#[test]
fn check_unknown_model_exits_2() {
    let output = sim_check(&["register-ok.json", "--model", "queue"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_missing_file_exits_2() {
    let output = sim_check(&["no-such-history.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no-such-history.json"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_hard_history_past_its_timeout_exits_3() {
    let output = sim_check(&["register-hard.json", "--timeout", "500ms"]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert!(
        stdout(&output).starts_with("unknown: the timeout of 500ms ran out"),
        "{}",
        stdout(&output)
    );
}
