//! Known verdicts for the history files under the repository's `tests/data/histories/`, and
//! large generated histories in the shape Jepsen produces.
//!
//! The Jepsen-style files are generated: run with `SIM_CHECK_BLESS=1` to rewrite them after a
//! deliberate change to the generator, and explain the diff in the commit.

use std::path::PathBuf;

use sim_check::bench::{corrupt_read, inject_stale_read, jepsen_register};
use sim_check::{check, load_history, render_text, Budget, History, ModelKind, Verdict};

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/histories")
        .join(name)
}

fn verdict_of(name: &str, model: Option<ModelKind>) -> Verdict {
    let history = load_history(&data_path(name), model).expect("a readable history");
    check(&history, &Budget::default()).verdict
}

/// The generated files, by name.
fn generated() -> Vec<(&'static str, History)> {
    let good = jepsen_register(600, 12, 5, 2024);
    let unique_values = jepsen_register(600, 12, 1_000_000, 2025);
    let stale = inject_stale_read(&unique_values).expect("a stale read to inject");
    vec![
        ("etcd-cas-register-ok.json", good),
        ("etcd-cas-register-stale-read.json", stale),
    ]
}

#[test]
fn jepsen_style_files_match_their_generator() {
    let bless = std::env::var_os("SIM_CHECK_BLESS").is_some();
    for (name, history) in generated() {
        let mut text = Vec::new();
        history.write_json(&mut text).expect("writes");
        let path = data_path(name);
        if bless {
            std::fs::write(&path, &text).expect("writes the file");
        }
        let on_disk = std::fs::read(&path).expect("the file exists (run with SIM_CHECK_BLESS=1)");
        assert!(on_disk == text, "{name} differs from its generator");
    }
}

#[test]
fn etcd_like_cas_register_history_is_linearizable() {
    let history = load_history(&data_path("etcd-cas-register-ok.json"), None).expect("readable");
    let ops = history.operations();
    assert!(ops.len() >= 500);
    assert!(
        history.processes().len() >= 20,
        "crashed clients come back as new processes"
    );
    assert!(
        ops.iter()
            .filter(|op| op.outcome == sim_check::Outcome::Info)
            .count()
            >= 50
    );
    assert_eq!(
        check(&history, &Budget::default()).verdict,
        Verdict::Linearizable
    );
}

#[test]
fn etcd_like_cas_register_history_with_a_stale_read_is_not_linearizable() {
    let history =
        load_history(&data_path("etcd-cas-register-stale-read.json"), None).expect("readable");
    let result = check(&history, &Budget::default());
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let text = render_text(&result, &history);
    assert!(text.contains("Cannot place op"), "{text}");
}

#[test]
fn small_files_have_their_known_verdicts() {
    assert_eq!(verdict_of("register-ok.json", None), Verdict::Linearizable);
    assert_eq!(
        verdict_of("register-stale-read.json", None),
        Verdict::NotLinearizable
    );
    assert_eq!(
        verdict_of("kv-ok.jsonl", Some(ModelKind::Kv)),
        Verdict::Linearizable
    );
    assert_eq!(
        verdict_of("mutex-double-grant.json", None),
        Verdict::NotLinearizable
    );
}

#[test]
fn malformed_file_names_line_op_and_field() {
    let error = load_history(&data_path("malformed.json"), None).unwrap_err();
    let text = error.to_string();
    assert!(text.ends_with("malformed.json:6: op 4 field \"type\": expected one of invoke, ok, fail, info, found \"done\""), "{text}");
}

#[test]
fn large_history_with_many_processes_and_crashes_is_checked_quickly() {
    // Thousands of operations, tens of processes, hundreds of info operations.
    let history = jepsen_register(4_000, 30, 5, 7);
    let info_count = history
        .operations()
        .iter()
        .filter(|op| op.outcome == sim_check::Outcome::Info)
        .count();
    assert!(info_count >= 300, "{info_count} info ops");
    let result = check(&history, &Budget::default());
    assert_eq!(result.verdict, Verdict::Linearizable);
    let corrupted = corrupt_read(&history, 7).expect("a read");
    assert_eq!(
        check(&corrupted, &Budget::default()).verdict,
        Verdict::NotLinearizable
    );
    let stale = inject_stale_read(&jepsen_register(4_000, 30, 1_000_000, 8)).expect("a stale read");
    assert_eq!(
        check(&stale, &Budget::default()).verdict,
        Verdict::NotLinearizable
    );
}
